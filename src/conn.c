/*
 * conn.c - one client connection: what the connection layer's two engines
 * share. The bytes a connection reads are cut into messages by the
 * service's framing and handed to the handler (conn_input); its answers
 * go to the engine the connection was opened with (conn_engine_sendv,
 * conn_engine_send_file). conn_block.c is the blocking engine (prefork,
 * fork, thread: conn_run), conn_buffer.c the buffered one (the event
 * model: conn_flush and the output queue); conn_priv.h says why the choice
 * is a flag.
 *
 * Here too what every model needs alike: the counts, the PROXY header
 * (read before the handler opens), lingering after an error answer, the
 * drain (conn_drain, conn.h), and one check of timeouts.idle,
 * timeouts.handshake, the linger deadline and a drain's idle grace
 * (conn_timeout_check) that the blocking engine's waits and the event
 * model's loop both use.
 *
 * Whatever decides that a connection ends says why (conn_end(): here, the
 * handler through conn_close(), the models for timeouts and stopping); at
 * log_level debug conn_finish() logs one line with it, the duration and
 * the counts, made only when debug lines go out.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "clock.h"
#include "addr.h"
#include "conn_priv.h"
#include "guard.h"
#include "log.h"
#include "proxy.h"
#include "util.h"

_Thread_local int64_t conn_turn_ns;

/*
 * An event loop (the event and uring models) reads the clock once a turn,
 * after its wait, and hands it here: until the next turn its connections
 * take their times from it (activity, open, linger deadlines) rather than
 * reading the clock for each read. A time is then at most one turn early,
 * which no timeout notices. The blocking engine's threads never set it,
 * and read the clock. What measures a span (a connection's duration, a
 * request's latency) reads the clock at its end.
 */
void
conn_clock_turn(int64_t now_ns)
{
	conn_turn_ns = now_ns;
}

/* N bytes went to the client: the connection's count and the slot's. */
void
conn_count_sent(struct conn *c, size_t n)
{
	c->sent += n;
	if (c->slot != NULL)
		conn_count(&c->slot->bytes_out, n);
}

static void
conn_handler_open(struct conn *c)
{
	c->opened = true;
	if (c->handler->open != NULL)
		c->handler->open(c);
}

static void
conn_init(struct conn *c, int fd, const struct sockd_addr *peer,
    const struct config_service *svc, const struct handler *h, struct scoreboard_slot *slot,
    _Atomic int64_t *heartbeat, bool buffered)
{
	if (heartbeat == NULL && slot != NULL)
		heartbeat = &slot->heartbeat_ns;
	*c = (struct conn){ .fd = fd, .svc = svc, .slot = slot, .heartbeat = heartbeat,
		.handler = h, .buffered = buffered, .file_fd = -1, .peer = *peer,
		.record = GUARD_NONE };
	framing_init(&c->framing, svc->framing, (size_t)svc->max_message);
	c->opened_ns = c->last_read_ns = conn_now();
	if (svc->handshake_ms > 0)
		c->handshake_ns = c->opened_ns + (int64_t)svc->handshake_ms * NS_PER_MS;
}

/* Counted, and the handler's open() runs (after the PROXY header, if one
 * is due): the engine must be ready, as open() may answer at once. */
static void
conn_start(struct conn *c)
{
	if (c->slot != NULL) {
		atomic_fetch_add(&c->slot->current, 1);
		atomic_fetch_add_explicit(&c->slot->accepted, 1, memory_order_relaxed);
	}
	if (c->svc->proxy_protocol)
		c->proxy = xcalloc(1, PROXY_V2_MAX);	/* the handler waits for the header */
	else
		conn_handler_open(c);
}

/* HEARTBEAT: where waits show this connection's server is alive (a
 * thread's or a connection process's own), NULL for the slot's; set before
 * the handler's open() runs, so open() may wait too. */
struct conn *
conn_open(int fd, const struct sockd_addr *peer, const struct config_service *svc,
    const struct handler *h, struct scoreboard_slot *slot, _Atomic int64_t *heartbeat)
{
	struct conn *c = xmalloc(sizeof(*c));	/* conn_init() sets every field */

	conn_init(c, fd, peer, svc, h, slot, heartbeat, false);
	conn_block_open(c);
	conn_start(c);
	return c;
}

/* For a caller's event loop: see conn_input() and conn_flush(). FD must
 * be non-blocking already (accepted with SOCK_NONBLOCK); PEER is the
 * client's address as accept4 gave it. */
struct conn *
conn_open_buffered(int fd, const struct sockd_addr *peer, const struct config_service *svc,
    const struct handler *h, struct scoreboard_slot *slot)
{
	struct conn *c = xmalloc(sizeof(*c));	/* conn_init() sets every field */

	conn_init(c, fd, peer, svc, h, slot, NULL, true);
	conn_start(c);
	return c;
}

/* The buffered engine whose sends the caller makes (the uring model):
 * see conn_ring_take(). */
struct conn *
conn_open_ring(int fd, const struct sockd_addr *peer, const struct config_service *svc,
    const struct handler *h, struct scoreboard_slot *slot)
{
	struct conn *c = xmalloc(sizeof(*c));	/* conn_init() sets every field */

	conn_init(c, fd, peer, svc, h, slot, NULL, true);
	c->ring = true;
	conn_start(c);
	return c;
}

/* Must conn_input() read itself? While the PROXY header is due: it is
 * read exactly, never past it. Otherwise any read will do. */
bool
conn_reads_itself(const struct conn *c)
{
	return c->proxy != NULL;
}

/* "SERVICE: PEER: closed after 1.234 s, 120 bytes in, 340 bytes out,
 * 3 messages (client closed)". */
static void
conn_log_end(const struct conn *c)
{
	char peer[ADDR_TEXT_MAX];
	int64_t ms = (clock_now() - c->opened_ns) / 1000000;

	if (c->peer.len == 0)
		snprintf(peer, sizeof(peer), "(unknown peer)");
	else
		addr_format(&c->peer, peer, sizeof(peer));
	log_debug("%s: %s: closed after %lld.%03lld s, %llu byte%s in, %llu byte%s out, "
	    "%llu message%s (%s)", c->svc->name, peer, (long long)(ms / 1000),
	    (long long)(ms % 1000), (unsigned long long)c->received, c->received == 1 ? "" : "s",
	    (unsigned long long)c->sent, c->sent == 1 ? "" : "s",
	    (unsigned long long)c->messages, c->messages == 1 ? "" : "s", conn_end_name(c->end));
}


void
conn_finish(struct conn *c)
{
	size_t pending = framing_pending(&c->framing);

	if (pending > 0)
		log_info("%s: connection closed inside a message (%zu bytes pending)",
		    c->svc->name, pending);
	if (log_enabled(LOG_DEBUG))
		conn_log_end(c);
	if (c->opened && c->handler->close != NULL)
		c->handler->close(c);
	free(c->proxy);
	c->proxy = NULL;
	guard_release(c->record);
	c->record = GUARD_NONE;
	framing_free(&c->framing);
	conn_buffer_free(c);
	if (c->slot != NULL) {
		/* The duration first: whoever sees it served sees it timed. */
		scoreboard_hist_add(&c->slot->duration, clock_now() - c->opened_ns);
		atomic_fetch_sub(&c->slot->current, 1);
		conn_count(&c->slot->served, 1);
	}
	free(c);
}

/* The one place the engine is chosen for output (see conn_priv.h). */
static int
conn_engine_sendv(struct conn *c, struct iovec *iov, int n, int flags)
{
	if (c->dgram)
		return conn_dgram_sendv(c, iov, n);
	if (c->buffered)
		return conn_buffer_sendv(c, iov, n, flags);
	return conn_block_sendv(c, iov, n, flags);
}

static int
conn_engine_send_file(struct conn *c, const void *head, size_t head_len, int fd, off_t off,
    size_t len)
{
	if (c->dgram) {		/* a file is no datagram; FD is ours to close */
		if (close(fd) == -1 && errno != EINTR)
			log_debug("%s: close: %s", c->svc->name, strerror(errno));
		errno = EOPNOTSUPP;
		return -1;
	}
	if (c->buffered)
		return conn_buffer_send_file(c, head, head_len, fd, off, len);
	return conn_block_send_file(c, head, head_len, fd, off, len);
}

/*
 * Send HEAD (HEAD_LEN bytes, raw) and then LEN bytes of file FD from OFF
 * with sendfile. FD is the connection's from now on: it is closed when
 * sent, or when the connection ends first. Buffered mode queues what does
 * not go out at once; see conn_pending().
 */
int
conn_send_file(struct conn *c, const void *head, size_t head_len, int fd, off_t off,
    size_t len)
{
	return conn_engine_send_file(c, head, head_len, fd, off, len);
}

int
conn_send(struct conn *c, const void *data, size_t len)
{
	struct iovec iov = { .iov_base = (void *)data, .iov_len = len };

	return conn_engine_sendv(c, &iov, 1, 0);
}

/* Raw, gathered: one sendmsg for a head and a body. IOV may be changed. */
int
conn_sendv(struct conn *c, struct iovec *iov, int n)
{
	return conn_engine_sendv(c, iov, n, 0);
}

int
conn_reply(struct conn *c, const void *msg, size_t len)
{
	struct framing_wrap w;
	struct iovec iov[3];
	int n = 0;

	if (framing_wrap(&c->framing, len, &w) == -1) {
		log_warn("%s: reply of %zu bytes does not fit the framing", c->svc->name, len);
		conn_end(c, CONN_END_ERROR);
		return -1;
	}
	if (w.prefix_len > 0)
		iov[n++] = (struct iovec){ .iov_base = w.prefix, .iov_len = w.prefix_len };
	iov[n++] = (struct iovec){ .iov_base = (void *)msg, .iov_len = len };
	if (w.suffix_len > 0)
		iov[n++] = (struct iovec){ .iov_base = w.suffix, .iov_len = w.suffix_len };
	return conn_engine_sendv(c, iov, n, 0);
}

void
conn_close(struct conn *c)
{
	conn_end(c, CONN_END_HANDLER);
}

/* Our side is done (the answer is out): shut it, so the client sees the end. */
void
conn_shut(struct conn *c)
{
	if (c->shut || conn_pending(c))
		return;
	if (shutdown(c->fd, SHUT_WR) == -1 && errno != ENOTCONN)
		log_debug("%s: shutdown: %s", c->svc->name, strerror(errno));
	c->shut = true;
}

void
conn_linger(struct conn *c)
{
	if (c->closing || c->linger_ns != 0)
		return;
	if (c->end == CONN_END_UNSET)
		c->end = CONN_END_HANDLER;
	c->handshake_ns = 0;
	c->linger_ns = conn_now() + CONN_LINGER_MS * NS_PER_MS;
	conn_shut(c);	/* blocking mode: the answer is out already */
}

/* Lingering: N more bytes (0: the client's end, -errno) are dropped; -1
 * once it is done. */
static int
conn_drop(struct conn *c, ssize_t n)
{
	if (n > 0 && (c->lingered += (uint64_t)n) < CONN_LINGER_BYTES)
		return 1;
	c->closing = true;	/* the client's end, an error, or enough: close */
	return -1;
}

static int
conn_drop_input(struct conn *c, char *buf, size_t size)
{
	ssize_t n = read(c->fd, buf, size);

	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return 0;
	return conn_drop(c, n);
}

/* The connection ends, for WHY unless it had a reason already. */
void
conn_end(struct conn *c, enum conn_end why)
{
	if (c->end == CONN_END_UNSET)
		c->end = why;
	c->closing = true;
}

const char *
conn_end_name(enum conn_end why)
{
	static const char *const names[] = {
		[CONN_END_UNSET] = "unknown",
		[CONN_END_CLIENT] = "client closed",
		[CONN_END_HANDLER] = "handler closed",
		[CONN_END_IDLE] = "idle timeout",
		[CONN_END_STALLED] = "client took no output",
		[CONN_END_OUTPUT_LIMIT] = "output limit",
		[CONN_END_PROTOCOL] = "protocol error",
		[CONN_END_ERROR] = "error",
		[CONN_END_STOPPING] = "stopping",
		[CONN_END_HANDSHAKE] = "handshake timeout",
		[CONN_END_REFUSED] = "refused",
		[CONN_END_DRAINED] = "drained while idle",
	};

	if ((unsigned)why >= sizeof(names) / sizeof(names[0]))
		return "unknown";
	return names[why];
}

static int
conn_deliver(void *arg, const char *msg, size_t len)
{
	struct conn *c = arg;

	if (!c->counts_messages)
		conn_count_message(c);
	c->handler->message(c, msg, len);
	return c->closing;
}

/* One message handled: what STATUS's req/s counts. The first one ends
 * the handshake. */
void
conn_count_message(struct conn *c)
{
	c->handshake_ns = 0;
	c->messages++;
	if (c->slot != NULL)
		conn_count(&c->slot->messages, 1);
}

/* ms from NOW until AT, rounded up so a wait does not end just short. */
static int64_t
conn_ms_until(int64_t at, int64_t now)
{
	return at <= now ? 0 : (at - now + NS_PER_MS - 1) / NS_PER_MS;
}

/* Draining, between messages as the handler says, nothing half-read or
 * waiting to go out: a close now loses the client nothing. */
static bool
conn_quiet(const struct conn *c)
{
	return c->draining && c->handler->idle != NULL && c->opened && c->proxy == NULL &&
	    !c->closing && c->linger_ns == 0 && !conn_pending(c) &&
	    framing_pending(&c->framing) == 0 && c->handler->idle(c);
}

enum conn_timeout
conn_timeout_check(const struct conn *c, int64_t now, int64_t *left_ms)
{
	int64_t left = -1;

	/* Lingering once the answer is out; until then, the answer is owed
	 * (a file to a slow client may take long), and timeouts.idle says
	 * when the client has stopped taking it. */
	if (c->linger_ns != 0 && !conn_pending(c)) {
		if (now >= c->linger_ns)
			return CONN_LINGER_OVER;
		*left_ms = conn_ms_until(c->linger_ns, now);
		return CONN_IN_TIME;
	}
	if (c->handshake_ns != 0) {
		if (now >= c->handshake_ns)
			return CONN_HANDSHAKE_OVER;
		left = conn_ms_until(c->handshake_ns, now);
	}
	if (c->svc->idle_ms > 0) {
		int64_t at = c->last_read_ns + (int64_t)c->svc->idle_ms * NS_PER_MS;

		if (now >= at)
			return conn_pending(c) ? CONN_STALL_OVER : CONN_IDLE_OVER;
		if (left == -1 || conn_ms_until(at, now) < left)
			left = conn_ms_until(at, now);
	}
	if (conn_quiet(c)) {
		int64_t at = c->last_read_ns + (int64_t)CONN_DRAIN_IDLE_MS * NS_PER_MS;

		if (now >= at)
			return CONN_DRAIN_OVER;
		if (left == -1 || conn_ms_until(at, now) < left)
			left = conn_ms_until(at, now);
	}
	*left_ms = left;
	return CONN_IN_TIME;
}

/*
 * Draining, and quiet for CONN_DRAIN_IDLE_MS: our side shuts down, and
 * the connection lingers, so that a request crossing the shutdown on its
 * way in is dropped and its client reads the end (and retries, RFC 9112
 * 9.3.1) rather than a reset. Unless a request has come in the meantime,
 * unread yet: then the connection goes on, and is answered with the end.
 * Either way its activity is now (the event model's list stays in order).
 */
static void
conn_drain_over(struct conn *c)
{
	char b;
	ssize_t n = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);

	c->last_read_ns = conn_now();
	if (n == 1)
		return;
	if (c->end == CONN_END_UNSET)
		c->end = CONN_END_DRAINED;
	conn_linger(c);
}

/* A deadline of conn_timeout_check() passed: say so, and end it (http's
 * last word, a 408, first for a handshake); a drain's lingers instead. */
void
conn_timed_out(struct conn *c, enum conn_timeout t)
{
	switch (t) {
	case CONN_HANDSHAKE_OVER:
		log_info("%s: closing connection: no %s within %d ms (timeouts.handshake)",
		    c->svc->name, c->proxy != NULL ? "PROXY header" : "first message",
		    c->svc->handshake_ms);
		if (c->opened && c->handler->late != NULL && !c->closing)
			c->handler->late(c);
		conn_end(c, CONN_END_HANDSHAKE);
		break;
	case CONN_STALL_OVER:
		log_info("%s: closing connection: the client took no output for %d ms",
		    c->svc->name, c->svc->idle_ms);
		conn_end(c, CONN_END_STALLED);
		break;
	case CONN_IDLE_OVER:
		log_info("%s: closing connection: idle for %d ms", c->svc->name, c->svc->idle_ms);
		conn_end(c, CONN_END_IDLE);
		break;
	case CONN_LINGER_OVER:
		conn_end(c, CONN_END_HANDLER);	/* the reason it had stays */
		break;
	case CONN_DRAIN_OVER:
		conn_drain_over(c);
		break;
	default:
		break;
	}
}

/* The PROXY header is whole: the client it names is the peer from now on
 * (unless it is a health check's LOCAL), the guard looks at that client,
 * and the handler opens. */
static int
conn_proxy_done(struct conn *c, const struct proxy_header *h)
{
	free(c->proxy);
	c->proxy = NULL;
	if (!h->local)
		addr_from_sockaddr((const struct sockaddr *)&h->src, h->src_len, &c->peer);
	if (c->slot != NULL && guard_check(c->svc, &c->peer, c->fd, c->slot, &c->record) != GUARD_OK) {
		conn_end(c, CONN_END_REFUSED);
		return -1;
	}
	conn_handler_open(c);
	return 1;
}

/*
 * proxy_protocol: read the PROXY header, and not a byte past it (the
 * client's own bytes stay in the socket, for the handler or for exec's
 * program). Peek at what came; while it is a valid beginning, every byte
 * of it is the header's, so take it; once the header is whole, take
 * exactly its length. 1 on progress, 0 when nothing was there, -1 when
 * the connection ends (a bad header is refused).
 */
static int
conn_proxy_input(struct conn *c)
{
	struct proxy_header h;
	uint8_t *at = c->proxy + c->proxy_len;
	ssize_t n = recv(c->fd, at, PROXY_V2_MAX - c->proxy_len, MSG_PEEK | MSG_DONTWAIT);
	long r;

	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n <= 0) {
		conn_end(c, n == 0 ? CONN_END_CLIENT : conn_errno_end(errno));
		return -1;
	}
	r = proxy_parse(c->proxy, c->proxy_len + (size_t)n, &h);
	if (r < 0) {
		guard_refused(c->svc, &c->peer, c->slot, SNAPSHOT_REFUSED_PROXY, proxy_strerror(r));
		conn_end(c, CONN_END_REFUSED);
		return -1;
	}
	if (r > 0)
		n = (ssize_t)((size_t)r - c->proxy_len);	/* the rest is the client's */
	if (recv(c->fd, at, (size_t)n, MSG_DONTWAIT) != n) {
		log_info("%s: PROXY header: %s", c->svc->name, strerror(errno));
		conn_end(c, CONN_END_ERROR);
		return -1;
	}
	c->proxy_len += (size_t)n;
	c->last_read_ns = conn_now();
	return r > 0 ? conn_proxy_done(c, &h) : 1;
}

/*
 * Read one chunk into BUF and deliver its messages: 1 when bytes came, 0
 * when none were there yet, -1 when the connection ends (the peer closed,
 * an error, a protocol error). The handler may have set c->closing. Both
 * engines read here: the blocking one after its wait, the event model
 * when the socket is readable.
 */
int
conn_input(struct conn *c, char *buf, size_t size)
{
	ssize_t n;

	if (c->proxy != NULL)
		return conn_proxy_input(c);
	if (c->linger_ns != 0)
		return conn_drop_input(c, buf, size);
	n = read(c->fd, buf, size);

	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return 0;
	return conn_received(c, buf, n == -1 ? -errno : n);
}

/*
 * What a read gave: N bytes at BUF, 0 at the client's end, -errno. As
 * conn_input() after its read; the uring model's receives come here
 * (dropped while the connection lingers). Not while the PROXY header is
 * due (conn_reads_itself): then conn_input() reads itself.
 */
int
conn_received(struct conn *c, const char *buf, ssize_t n)
{
	const char *why;

	if (c->linger_ns != 0)
		return conn_drop(c, n);
	if (n < 0)
		log_debug("%s: read: %s", c->svc->name, strerror((int)-n));
	if (n <= 0) {
		conn_end(c, n == 0 ? CONN_END_CLIENT : conn_errno_end((int)-n));
		return -1;
	}
	c->last_read_ns = conn_now();
	c->received += (uint64_t)n;
	if (c->slot != NULL) {
		conn_count(&c->slot->bytes_in, (size_t)n);
	}
	if (c->heartbeat != NULL)
		atomic_store_explicit(c->heartbeat, c->last_read_ns, memory_order_relaxed);
	if (framing_feed(&c->framing, buf, (size_t)n, conn_deliver, c, &why) == -1) {
		log_notice("%s: closing connection: %s", c->svc->name, why);
		conn_end(c, CONN_END_PROTOCOL);
		return -1;
	}
	return 1;
}

/* ---- accessors: struct conn is this layer's own ----------------------- */

void
conn_break(struct conn *c, enum conn_end why)
{
	conn_end(c, why);
	c->broken = true;
}

bool
conn_broken(const struct conn *c)
{
	return c->broken;
}

bool
conn_closing(const struct conn *c)
{
	return c->closing;
}

void
conn_touch(struct conn *c, int64_t now)
{
	c->last_read_ns = now;
}

int64_t
conn_active_ns(const struct conn *c)
{
	return c->last_read_ns;
}

void
conn_drain(struct conn *c)
{
	c->draining = true;
}

bool
conn_draining(const struct conn *c)
{
	return c->draining;
}

bool
conn_in_handshake(const struct conn *c)
{
	return c->handshake_ns != 0;
}

bool
conn_lingering(const struct conn *c)
{
	return c->linger_ns != 0;
}

const struct config_service *
conn_svc(const struct conn *c)
{
	return c->svc;
}

const struct sockd_addr *
conn_peer(const struct conn *c)
{
	return &c->peer;
}

int
conn_fd(const struct conn *c)
{
	return c->fd;
}

_Atomic int64_t *
conn_heartbeat(const struct conn *c)
{
	return c->heartbeat;
}

void *
conn_data(const struct conn *c)
{
	return c->data;
}

void
conn_set_data(struct conn *c, void *data)
{
	c->data = data;
}

uint64_t
conn_sent(const struct conn *c)
{
	return c->sent;
}

void
conn_set_drained(struct conn *c, void (*drained)(struct conn *c))
{
	c->drained = drained;
}

void
conn_set_counts_messages(struct conn *c)
{
	c->counts_messages = true;
}

/* The clock is read now, once the answer is handed over. */
void
conn_record_latency(struct conn *c)
{
	if (c->slot != NULL)
		scoreboard_hist_add(&c->slot->latency, clock_now() - c->last_read_ns);
}
