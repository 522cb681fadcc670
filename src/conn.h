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
 * The layer is four files: conn.c (what every way shares), conn_block.c
 * and conn_buffer.c (the two stream engines), conn_dgram.c (a connection
 * per datagram, for datagram services: its reply is one datagram). struct conn is theirs alone
 * (conn_priv.h): models and handlers see it through the calls below.
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
#include <stdint.h>

#include "addr.h"
#include "config.h"
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
	CONN_END_DRAINED,		/* the worker drained and it was idle (conn_drain) */
};

struct conn;

/* ---- for models ------------------------------------------------------- */

/* Open a connection on FD (blocking engine) and run the handler's open().
 * The connection is allocated here and freed by conn_finish(). */
struct conn *conn_open(int fd, const struct sockd_addr *peer,
    const struct config_service *svc, const struct handler *h, struct scoreboard_slot *slot,
    _Atomic int64_t *heartbeat);
int conn_run(struct conn *c, int sig_fd);
/* The connection ends: the handler's close(), the counts, the debug line;
 * C is freed. FD stays open: it is the caller's. */
void conn_finish(struct conn *c);

/* The buffered engine, as conn_open() otherwise. */
struct conn *conn_open_buffered(int fd, const struct sockd_addr *peer,
    const struct config_service *svc, const struct handler *h, struct scoreboard_slot *slot);
int conn_input(struct conn *c, char *buf, size_t size);
int conn_flush(struct conn *c);
/* The loop's clock, read once a turn after its wait (conn.c says why). */
void conn_clock_turn(int64_t now_ns);

/*
 * The ring engine (the uring model): buffered, but the caller reads and
 * sends. Bytes it received (or 0 at the client's end, or -errno) go to
 * conn_received(), except while conn_reads_itself(), when the caller
 * waits for readability and calls conn_input(). Answers are queued; the
 * caller takes them with conn_ring_take() (the buffer is then its own,
 * to free once the send completed) and reports each send's result with
 * conn_ring_sent() (DONE: no more of that buffer is sent). A file body
 * goes out by conn_flush() once no bytes wait.
 */
struct conn *conn_open_ring(int fd, const struct sockd_addr *peer,
    const struct config_service *svc, const struct handler *h, struct scoreboard_slot *slot);
int conn_received(struct conn *c, const char *buf, ssize_t n);
bool conn_reads_itself(const struct conn *c);
char *conn_ring_take(struct conn *c, size_t *len);
bool conn_ring_more(const struct conn *c);
int conn_ring_sent(struct conn *c, int res, bool done);

/*
 * The datagram engine (conn_dgram.c): a connection made once and reused,
 * each conn_datagram() one datagram's whole life, open() to close(), at
 * NOW (the batch's time: one clock read per batch, not two a datagram).
 * The reply (at most one datagram) is the caller's to send; -1: none to
 * send. The slot's counts of datagrams, bytes and messages are the
 * caller's too, once per batch (dgram.c): only "current" moves here.
 */
struct conn *conn_dgram_new(const struct config_service *svc, const struct handler *h,
    struct scoreboard_slot *slot, _Atomic int64_t *heartbeat);
ssize_t conn_datagram(struct conn *c, int fd, const struct sockd_addr *peer, const char *data,
    size_t len, int64_t now, const char **reply_r);
void conn_dgram_free(struct conn *c);
/* Is C a datagram's (sockd_conn_is_datagram)? */
bool conn_is_datagram(const struct conn *c);

/* conn_end() and it goes now, without a flush: what waits is dropped. */
void conn_break(struct conn *c, enum conn_end why);
/* Broken: close without flushing (a send failed, the queue would pass
 * max_output, conn_break). */
bool conn_broken(const struct conn *c);
/* Activity at NOW (output taken, too): timeouts.idle starts again. */
void conn_touch(struct conn *c, int64_t now);
/* Its first message is still due by timeouts.handshake. */
bool conn_in_handshake(const struct conn *c);
/* After conn_linger(): reading to drop, until its deadline. */
bool conn_lingering(const struct conn *c);

/* timeouts.idle and timeouts.handshake for every model: how C stands at
 * NOW, and the ms to its next deadline in *LEFT_MS (-1: none). */
enum conn_timeout { CONN_IN_TIME, CONN_IDLE_OVER, CONN_STALL_OVER, CONN_HANDSHAKE_OVER,
	CONN_LINGER_OVER, CONN_DRAIN_OVER };
enum conn_timeout conn_timeout_check(const struct conn *c, int64_t now, int64_t *left_ms);
/* Act on T: the connection ends (conn_closing), except for CONN_DRAIN_OVER,
 * after which it lingers, or goes on if a request has just come. */
void conn_timed_out(struct conn *c, enum conn_timeout t);
/* When it last read, or (blocking engine: after a send that had to wait;
 * event model: conn_touch) sent. */
int64_t conn_active_ns(const struct conn *c);

/*
 * The worker drains (reload, graceful stop, max_requests): the model
 * calls conn_drain() on every connection it serves, at once or as soon
 * as it wakes. A handler that can hand its client over says so with its
 * idle() hook; it then answers what is asked from now on with the end of
 * the connection (http: "Connection: close", then conn_linger), and a
 * connection idle() says is between messages closes once it has been
 * quiet CONN_DRAIN_IDLE_MS since it last read or sent (at once if it has
 * been quiet that long already): conn_timeout_check() says
 * CONN_DRAIN_OVER. A client that reuses its connection at once (wrk,
 * curl, a browser on a page) has sent its next request within
 * milliseconds of the last answer, and is answered with the end; one
 * second is far beyond that even on a loaded machine, yet short against
 * timeouts.graceful (default 30 s), so the old generation is gone about a
 * second after the reload instead of at the kill. Connections of other
 * handlers (no idle hook) run to their end, or to timeouts.graceful.
 */
#define CONN_DRAIN_IDLE_MS 1000
void conn_drain(struct conn *c);
bool conn_draining(const struct conn *c);

/* ---- for handlers (and models: conn_end, conn_closing, conn_pending) ---- */

int conn_send(struct conn *c, const void *data, size_t len);
int conn_sendv(struct conn *c, struct iovec *iov, int n);
int conn_reply(struct conn *c, const void *msg, size_t len);
int conn_send_file(struct conn *c, const void *head, size_t head_len, int fd, off_t off,
    size_t len);
/* Output waits in the buffered engine's queue (never in the blocking one). */
bool conn_pending(const struct conn *c);
void conn_close(struct conn *c);
void conn_end(struct conn *c, enum conn_end why);
const char *conn_end_name(enum conn_end why);
/* It ends once the current call returns (conn_close, conn_end, the peer). */
bool conn_closing(const struct conn *c);
/* End the connection gracefully after an error answer (RFC 9112 9.6): the
 * answer goes out, our side shuts down, and what the client still sends is
 * read and dropped (at most CONN_LINGER_BYTES, CONN_LINGER_MS) so that it
 * reads the answer rather than a reset. */
#define CONN_LINGER_MS 2000
#define CONN_LINGER_BYTES (64 * 1024)
void conn_linger(struct conn *c);

const struct config_service *conn_svc(const struct conn *c);
/* The client: from accept, or from the PROXY header. len 0 if unknown. */
const struct sockd_addr *conn_peer(const struct conn *c);
/* The socket, for a handler that hands it on (exec); never read it. */
int conn_fd(const struct conn *c);
/* Where a handler that waits itself shows it is alive (exec); may be NULL. */
_Atomic int64_t *conn_heartbeat(const struct conn *c);
/* The handler's per-connection state: set in open(), freed in close(). */
void *conn_data(const struct conn *c);
void conn_set_data(struct conn *c, void *data);
/* Bytes written to the client so far: how much of an answer went out. */
uint64_t conn_sent(const struct conn *c);
/* Buffered engine: DRAINED runs whenever all queued output went out. */
void conn_set_drained(struct conn *c, void (*drained)(struct conn *c));
/* A handler whose messages are not the framing's (http on raw framing:
 * requests, not reads) counts them itself with conn_count_message(). */
void conn_set_counts_messages(struct conn *c);
void conn_count_message(struct conn *c);
/* A request answered: its latency from the read that brought it, into
 * the slot's histogram. */
void conn_record_latency(struct conn *c);

#endif
