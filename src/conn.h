/*
 * conn.h - one client connection as a handler sees it, and the calls that
 * drive it. Bytes read are cut into messages by the service's framing and
 * handed to the handler; the handler answers with conn_reply() (framed like
 * the request) or conn_send() (raw bytes).
 *
 * Two ways to drive it. Blocking (prefork, fork, thread): conn_run() serves
 * the connection to its end, and every answer is written before the next
 * read. Buffered (event): the socket is non-blocking, the caller's loop
 * calls conn_input() when it is readable and conn_flush() when writable;
 * answers that do not go out at once wait in a per-connection queue of at
 * most limits.max_output bytes.
 *
 * File bodies go out with sendfile (conn_send_file). Blocking mode sends
 * the whole file before returning. Buffered mode sends what the socket
 * takes and queues the rest after the queued bytes: the file's descriptor
 * (not its bytes, so it counts against nothing) stays open until the last
 * byte is out. At most one file waits at a time: a handler that has more
 * to say checks conn_pending() and waits for its drained() hook, which
 * conn_flush() calls whenever the whole queue has gone out.
 */
#include <sys/types.h>
#include <sys/uio.h>

#ifndef SOCKD_CONN_H
#define SOCKD_CONN_H

#include <stdbool.h>
#include <stddef.h>

#include "addr.h"
#include "config.h"
#include "framing.h"
#include "handler.h"
#include "scoreboard.h"

/* Why a connection ended, for its debug line; the first reason set wins. */
enum conn_end {
	CONN_END_UNSET,
	CONN_END_CLIENT,		/* the client closed (or reset) it */
	CONN_END_HANDLER,		/* the handler closed it (conn_close) */
	CONN_END_IDLE,			/* timeouts.idle: the client said nothing */
	CONN_END_STALLED,		/* timeouts.idle: the client took no output */
	CONN_END_OUTPUT_LIMIT,		/* limits.max_output passed */
	CONN_END_PROTOCOL,		/* the framing refused the client's bytes */
	CONN_END_ERROR,			/* a failed read, send, sendfile or poll */
	CONN_END_STOPPING,		/* the worker stopped or drained with it open */
	CONN_END_HANDSHAKE,		/* timeouts.handshake: no first message in time */
	CONN_END_REFUSED,		/* the guard, once a PROXY header named the client */
};

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
};

void conn_open(struct conn *c, int fd, const struct sockd_addr *peer,
    const struct config_service *svc, const struct handler *h, struct scoreboard_slot *slot,
    _Atomic int64_t *heartbeat);
int conn_run(struct conn *c, int sig_fd);
void conn_finish(struct conn *c);

void conn_open_buffered(struct conn *c, int fd, const struct sockd_addr *peer,
    const struct config_service *svc, const struct handler *h, struct scoreboard_slot *slot);
int conn_input(struct conn *c, char *buf, size_t size);
int conn_flush(struct conn *c);
bool conn_pending(const struct conn *c);

int conn_send(struct conn *c, const void *data, size_t len);
int conn_sendv(struct conn *c, struct iovec *iov, int n);
int conn_reply(struct conn *c, const void *msg, size_t len);
int conn_send_file(struct conn *c, const void *head, size_t head_len, int fd, off_t off,
    size_t len);
void conn_close(struct conn *c);
void conn_end(struct conn *c, enum conn_end why);
const char *conn_end_name(enum conn_end why);
void conn_count_message(struct conn *c);
/* timeouts.idle and timeouts.handshake for every model: how C stands at
 * NOW, and the ms to its next deadline in *LEFT_MS (-1: none). */
enum conn_timeout { CONN_IN_TIME, CONN_IDLE_OVER, CONN_STALL_OVER, CONN_HANDSHAKE_OVER,
	CONN_LINGER_OVER };
/* End the connection gracefully after an error answer (RFC 9112 9.6): the
 * answer goes out, our side shuts down, and what the client still sends is
 * read and dropped (at most CONN_LINGER_BYTES, CONN_LINGER_MS) so that it
 * reads the answer rather than a reset. */
#define CONN_LINGER_MS 2000
#define CONN_LINGER_BYTES (64 * 1024)
void conn_linger(struct conn *c);
enum conn_timeout conn_timeout_check(const struct conn *c, int64_t now, int64_t *left_ms);
void conn_timed_out(struct conn *c, enum conn_timeout t);

#endif
