/*
 * conn_priv.h - what the connection layer's three files share, and only
 * they: conn.c (what both engines do alike), conn_block.c (the blocking
 * engine) and conn_buffer.c (the buffered engine). Nothing else includes
 * this; handlers and models go through conn.h. conn_dgram.c, the datagram
 * engine, includes it too.
 *
 * The engine is chosen once, at open, and never changes, so it is a flag
 * (c->buffered, c->dgram) rather than a table of functions: three
 * engines (conn_dgram.c, the third, keeps a reply for one datagram), three
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

#include "addr.h"
#include "clock.h"
#include "config.h"
#include "conn.h"
#include "framing.h"
#include "handler.h"
#include "scoreboard.h"

/* One connection; conn.h has it opaque. */
struct conn {
	int fd;
	bool closing;			/* conn_close() was called, or the peer went away */
	const struct config_service *svc;
	const struct handler *handler;
	void *data;			/* the handler's, per connection */
	struct scoreboard_slot *slot;	/* counters; NULL in tests */
	_Atomic int64_t *heartbeat;	/* refreshed while waiting; the slot's, or
					 * a thread's own (models with threads) */
	struct sockd_addr peer;
	struct framing framing;
	int64_t opened_ns;		/* for the debug line at its end */
	int64_t last_read_ns;		/* for timeouts.idle */
	uint64_t received;		/* bytes read from the client so far */
	uint64_t messages;		/* messages handled so far */
	enum conn_end end;		/* why it ends, once known */
	int64_t handshake_ns;		/* the first message is due by then; 0: it came,
					 * or no timeouts.handshake */
	uint8_t *proxy;			/* proxy_protocol: the header so far, until it
					 * is whole (NULL after) */
	size_t proxy_len;
	uint32_t record;		/* its per-client place, taken once the PROXY
					 * header said who the client is (guard.h) */
	bool opened;			/* the handler's open() ran (after the header) */
	int64_t linger_ns;		/* conn_linger(): reading to drop until then (0: no) */
	uint64_t lingered;		/* bytes dropped so far */
	bool shut;			/* our side is shut down (lingering) */
	uint64_t sent;			/* bytes written to the client so far: a
					 * handler tells from it how much of an
					 * answer went out */
	bool draining;			/* conn_drain(): the worker drains */
	bool counts_messages;		/* set by a handler whose messages are not
					 * the framing's (http on raw framing:
					 * requests, not reads); it calls
					 * conn_count_message() itself */
	/* Buffered mode only (conn_open_buffered). */
	bool buffered;
	bool broken;			/* close now, without flushing: a send failed
					 * or the queue would pass max_output */
	char *out;			/* queued output: out[out_off .. out_off + out_len) */
	size_t out_off;
	size_t out_len;
	size_t out_cap;			/* never above max_output */
	int file_fd;			/* queued after out: a file, or -1 */
	off_t file_off;
	size_t file_len;		/* bytes of it still to send */
	void (*drained)(struct conn *c);	/* the handler's: all output is out */
	/* The ring (uring model): sends are the caller's SQEs, never made
	 * here; what one carries is the caller's buffer until it completes. */
	bool ring;
	size_t flight;			/* bytes taken by conn_ring_take, not yet sent */
	/* Datagram mode only (conn_dgram.c): one datagram in, at most one out. */
	bool dgram;
	bool replied;			/* a send call made the reply (maybe empty) */
	bool reply_over;		/* it would have passed reply_max: dropped */
	char *reply;			/* reply_cap bytes, kept across datagrams */
	size_t reply_len;
	size_t reply_max;		/* this datagram's bound (amplification rule) */
	size_t reply_cap;
};

/* This thread's event loop's clock, set once a turn (conn_clock_turn); 0
 * in a thread without one. */
extern _Thread_local int64_t conn_turn_ns;

static inline int64_t
conn_now(void)
{
	return conn_turn_ns != 0 ? conn_turn_ns : clock_now();
}

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

/* conn_dgram.c: the datagram engine. */
int conn_dgram_sendv(struct conn *c, struct iovec *iov, int n);

/* conn_buffer.c: the buffered engine. */
int conn_buffer_sendv(struct conn *c, struct iovec *iov, int n, int flags);
int conn_buffer_send_file(struct conn *c, const void *head, size_t head_len, int fd,
    off_t off, size_t len);
void conn_buffer_free(struct conn *c);

#endif
