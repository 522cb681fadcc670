/*
 * conn_priv.h - what the connection layer's three files share, and only
 * they: conn.c (what both engines do alike), conn_block.c (the blocking
 * engine) and conn_buffer.c (the buffered engine). Nothing else includes
 * this; handlers and models go through conn.h.
 *
 * The engine is chosen once, at open, and never changes, so it is a flag
 * (c->buffered) rather than a table of functions: two engines, three
 * calls that differ (open, gathered send, file send), and conn.c tests
 * the flag in one place for the sends (conn_engine_sendv,
 * conn_engine_send_file). A table would add an indirect call on the hot
 * path and a pointer per connection to say what the flag says.
 */
#ifndef SOCKD_CONN_PRIV_H
#define SOCKD_CONN_PRIV_H

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "conn.h"

#define CONN_SENDFILE_CHUNK (1 << 20)	/* per call: the heartbeat and other clients go on */

static inline void
conn_count(_Atomic uint64_t *counter, size_t n)
{
	atomic_fetch_add_explicit(counter, n, memory_order_relaxed);
}

/* A send or read failed with ERR: the client's doing, or ours? */
static inline enum conn_end
conn_errno_end(int err)
{
	return err == EPIPE || err == ECONNRESET ? CONN_END_CLIENT : CONN_END_ERROR;
}

/* conn.c: shared by both engines. */
void conn_count_sent(struct conn *c, size_t n);
void conn_shut(struct conn *c);

/* conn_block.c: the blocking engine. */
void conn_block_open(struct conn *c);
int conn_block_sendv(struct conn *c, struct iovec *iov, int n, int flags);
int conn_block_send_file(struct conn *c, const void *head, size_t head_len, int fd,
    off_t off, size_t len);

/* conn_buffer.c: the buffered engine. */
int conn_buffer_sendv(struct conn *c, struct iovec *iov, int n, int flags);
int conn_buffer_send_file(struct conn *c, const void *head, size_t head_len, int fd,
    off_t off, size_t len);
void conn_buffer_free(struct conn *c);

#endif
