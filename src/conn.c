/*
 * conn.c - drive one connection with blocking I/O: read, cut into messages,
 * hand each to the handler, write what it answers, until either side ends.
 *
 * Output is written before the next read, so a client that never reads
 * holds up only its own connection and no buffer grows without bound; the
 * framing buffers at most one incomplete message of max_message bytes.
 * Every wait also watches the signal descriptor: conn_run() returns as soon
 * as a signal is pending, and the caller decides whether to go on.
 *
 * Waits wake at least once a second (or a quarter of timeouts.heartbeat) to
 * refresh the worker's heartbeat, so the master can tell a worker waiting
 * on a quiet client from one stuck in a handler; blocked sends too (their
 * SO_SNDTIMEO is that tick). A client silent for timeouts.idle is closed;
 * so is one that takes none of our output for as long, so no client can
 * pin a worker.
 *
 * Buffered mode (the event model) drives the same framing and handlers
 * from the caller's loop instead: conn_input() reads once and delivers,
 * conn_reply()/conn_send() send what the socket takes at once and queue
 * the rest, conn_flush() sends the queue when the socket is writable. The
 * queue is one contiguous buffer, allocated only while output waits and
 * never larger than limits.max_output: past that the connection is
 * closed, so a client that does not read costs at most that much memory.
 * The caller stops reading while output waits, which bounds the queue by
 * what one read's messages produce.
 *
 * A file body (conn_send_file) goes out with sendfile, never through the
 * queue: blocking mode loops until it is sent; buffered mode keeps the
 * descriptor, offset and length after the queued bytes and conn_flush()
 * sends it once they are out, then closes it. Only one file waits at a
 * time: a handler holds further answers while conn_pending(), until its
 * drained() hook runs.
 *
 * Whatever decides that a connection ends says why (conn_end(): here, the
 * handler through conn_close(), the models for timeouts and stopping); at
 * log_level debug conn_finish() logs one line with it, the duration and
 * the counts, made only when debug lines go out.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/sendfile.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>

#include "clock.h"
#include "addr.h"
#include "conn.h"
#include "guard.h"
#include "log.h"
#include "proxy.h"
#include "util.h"

#define CONN_READ_SIZE 16384
#define CONN_SENDFILE_CHUNK (1 << 20)	/* per call: the heartbeat and other clients go on */

enum conn_wake { CONN_READABLE, CONN_SIGNAL, CONN_END };

static void
conn_count(_Atomic uint64_t *counter, size_t n)
{
	atomic_fetch_add_explicit(counter, n, memory_order_relaxed);
}

/* A send or read failed with ERR: the client's doing, or ours? */
static enum conn_end
conn_errno_end(int err)
{
	return err == EPIPE || err == ECONNRESET ? CONN_END_CLIENT : CONN_END_ERROR;
}

/* N bytes went to the client: the connection's count and the slot's. */
static void
conn_sent(struct conn *c, size_t n)
{
	c->sent += n;
	if (c->slot != NULL)
		conn_count(&c->slot->bytes_out, n);
}

static int conn_tick_ms(const struct conn *c);
static void conn_shut(struct conn *c);

/* A blocked send wakes every tick, to keep the heartbeat and to apply
 * timeouts.idle to a client that takes no output. */
static void
conn_send_timeout(const struct conn *c)
{
	int ms = conn_tick_ms(c);
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

	if (setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1)
		log_warn("%s: SO_SNDTIMEO: %s", c->svc->name, strerror(errno));
}

/* A send made no progress for a tick: false once it is time to give up. */
static bool
conn_send_stalled(struct conn *c, int64_t since_ns)
{
	int64_t now = clock_now();

	if (c->heartbeat != NULL)
		atomic_store_explicit(c->heartbeat, now, memory_order_relaxed);
	if (c->svc->idle_ms == 0 || now - since_ns < (int64_t)c->svc->idle_ms * 1000000)
		return true;
	log_info("%s: closing connection: the client took no output for %d ms",
	    c->svc->name, c->svc->idle_ms);
	conn_end(c, CONN_END_STALLED);
	return false;
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
	c->opened_ns = c->last_read_ns = clock_now();
	if (svc->handshake_ms > 0)
		c->handshake_ns = c->opened_ns + (int64_t)svc->handshake_ms * NS_PER_MS;
	if (!buffered)
		conn_send_timeout(c);
	if (slot != NULL) {
		atomic_fetch_add(&slot->current, 1);
		atomic_fetch_add_explicit(&slot->accepted, 1, memory_order_relaxed);
	}
	if (svc->proxy_protocol)
		c->proxy = xcalloc(1, PROXY_V2_MAX);	/* the handler waits for the header */
	else
		conn_handler_open(c);
}

/* HEARTBEAT: where waits show this connection's server is alive (a
 * thread's or a connection process's own), NULL for the slot's; set before
 * the handler's open() runs, so open() may wait too. */
void
conn_open(struct conn *c, int fd, const struct sockd_addr *peer,
    const struct config_service *svc, const struct handler *h, struct scoreboard_slot *slot,
    _Atomic int64_t *heartbeat)
{
	conn_init(c, fd, peer, svc, h, slot, heartbeat, false);
}

/* For a caller's event loop: see conn_input() and conn_flush(). FD must
 * be non-blocking already (accepted with SOCK_NONBLOCK); PEER is the
 * client's address as accept4 gave it. */
void
conn_open_buffered(struct conn *c, int fd, const struct sockd_addr *peer,
    const struct config_service *svc, const struct handler *h, struct scoreboard_slot *slot)
{
	conn_init(c, fd, peer, svc, h, slot, NULL, true);
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
	free(c->out);
	c->out = NULL;
	if (c->file_fd >= 0 && close(c->file_fd) == -1 && errno != EINTR)
		log_debug("%s: close: %s", c->svc->name, strerror(errno));
	c->file_fd = -1;
	if (c->slot != NULL) {
		/* The duration first: whoever sees it served sees it timed. */
		scoreboard_hist_add(&c->slot->duration, clock_now() - c->opened_ns);
		atomic_fetch_sub(&c->slot->current, 1);
		conn_count(&c->slot->served, 1);
	}
}

/* Buffered mode: one non-blocking sendmsg; bytes sent, 0 when the socket
 * is full, -1 when the connection is broken. */
static ssize_t
conn_sendmsg(struct conn *c, struct iovec *iov, int n, int flags)
{
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = (size_t)n };
	ssize_t w;

	do
		w = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT | flags);
	while (w == -1 && errno == EINTR);
	if (w == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (w == -1) {
		log_debug("%s: send: %s", c->svc->name, strerror(errno));
		conn_end(c, conn_errno_end(errno));
		c->broken = true;
		return -1;
	}
	conn_sent(c, (size_t)w);
	return w;
}

/* Make room in the queue for NEED more bytes; the caller checked max_output. */
static void
conn_room(struct conn *c, size_t need)
{
	size_t cap = c->out_cap > 0 ? c->out_cap : 4096;

	if (c->out_off + c->out_len + need <= c->out_cap)
		return;
	if (c->out_off > 0 && c->out_len > 0)
		memmove(c->out, c->out + c->out_off, c->out_len);
	c->out_off = 0;
	if (c->out_len + need <= c->out_cap)
		return;
	while (cap < c->out_len + need)
		cap *= 2;
	if (cap > (size_t)c->svc->max_output)
		cap = (size_t)c->svc->max_output;
	c->out = xreallocarray(c->out, cap, 1);
	c->out_cap = cap;
}

/* Queue IOV but its first SKIP bytes (sent already), within max_output. */
static int
conn_append(struct conn *c, const struct iovec *iov, int n, size_t skip)
{
	size_t total = 0;

	for (int i = 0; i < n; i++)
		total += iov[i].iov_len;
	total -= skip;
	if (total == 0)
		return 0;
	if (c->out_len + total > (size_t)c->svc->max_output) {
		log_notice("%s: closing connection: more than %d bytes of output queued",
		    c->svc->name, c->svc->max_output);
		conn_end(c, CONN_END_OUTPUT_LIMIT);
		c->broken = true;
		return -1;
	}
	conn_room(c, total);
	for (int i = 0; i < n; i++) {
		size_t off = skip < iov[i].iov_len ? skip : iov[i].iov_len;

		if (iov[i].iov_len == 0)
			continue;	/* its base may be NULL: no arithmetic on it */
		memcpy(c->out + c->out_off + c->out_len, (char *)iov[i].iov_base + off,
		    iov[i].iov_len - off);
		c->out_len += iov[i].iov_len - off;
		skip -= off;
	}
	return 0;
}

/* Buffered mode: send at once what the socket takes (unless output is
 * queued already: it goes first), queue the rest. */
static int
conn_queue(struct conn *c, struct iovec *iov, int n, int flags)
{
	ssize_t sent = 0;

	if (c->closing)
		return -1;
	if (c->file_fd >= 0) {
		/* Bytes cannot pass a queued file: the handler should have
		 * waited for drained(). */
		log_err("%s: output behind a queued file; closing", c->svc->name);
		conn_end(c, CONN_END_ERROR);
		c->broken = true;
		return -1;
	}
	if (c->out_len == 0 && (sent = conn_sendmsg(c, iov, n, flags)) == -1)
		return -1;
	return conn_append(c, iov, n, (size_t)sent);
}

/* Buffered mode: sendfile what the socket takes now of the queued file;
 * bytes sent, 0 when the socket is full, -1 when the connection broke. */
static ssize_t
conn_sendfile_some(struct conn *c)
{
	size_t n = c->file_len < CONN_SENDFILE_CHUNK ? c->file_len : CONN_SENDFILE_CHUNK;
	ssize_t w;

	do
		w = sendfile(c->fd, c->file_fd, &c->file_off, n);
	while (w == -1 && errno == EINTR);
	if (w == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (w <= 0) {
		/* 0: the file shrank under us; the length we promised is a lie now. */
		log_info("%s: sendfile: %s", c->svc->name, w == 0 ? "file truncated" : strerror(errno));
		conn_end(c, w == 0 ? CONN_END_ERROR : conn_errno_end(errno));
		c->broken = true;
		return -1;
	}
	conn_sent(c, (size_t)w);
	c->file_len -= (size_t)w;
	if (c->file_len == 0) {
		if (close(c->file_fd) == -1 && errno != EINTR)
			log_debug("%s: close: %s", c->svc->name, strerror(errno));
		c->file_fd = -1;
	}
	return w;
}

/*
 * Buffered mode: send queued output. 1 when some went out, 0 when none
 * could (or none waits), -1 when the connection is broken. The buffer is
 * freed once empty, so a quiet connection holds no output memory.
 */
static int
conn_flush_bytes(struct conn *c)
{
	struct iovec iov = { .iov_base = c->out + c->out_off, .iov_len = c->out_len };
	ssize_t w;

	if ((w = conn_sendmsg(c, &iov, 1, c->file_fd >= 0 ? MSG_MORE : 0)) <= 0)
		return (int)w;
	c->out_off += (size_t)w;
	c->out_len -= (size_t)w;
	if (c->out_len == 0) {
		free(c->out);
		c->out = NULL;
		c->out_off = c->out_cap = 0;
	}
	return 1;
}

/*
 * Buffered mode: send queued output, bytes first, then the file. 1 when
 * some went out, 0 when none could (or none waits), -1 when the
 * connection is broken. The buffer is freed once empty, so a quiet
 * connection holds no output memory. When the last byte is out, the
 * handler's drained() hook may answer what it held back.
 */
int
conn_flush(struct conn *c)
{
	int r = 0;
	ssize_t w;

	if (c->out_len > 0 && (r = conn_flush_bytes(c)) <= 0)
		return r;
	if (c->out_len == 0 && c->file_fd >= 0) {
		if ((w = conn_sendfile_some(c)) == -1)
			return -1;
		r |= w > 0;
	}
	if (r == 1 && !conn_pending(c) && c->linger_ns != 0)
		conn_shut(c);	/* the error answer is out: now the client sees the end */
	else if (r == 1 && !conn_pending(c) && c->drained != NULL && !c->closing)
		c->drained(c);
	return c->broken ? -1 : r;
}

bool
conn_pending(const struct conn *c)
{
	return c->out_len > 0 || c->file_fd >= 0;
}

/* Blocking mode: a send made no progress for a tick; false when it is time
 * to give up. *SINCE_NS is when progress stopped (0: it had not). */
static bool
conn_blocked(struct conn *c, int64_t *since_ns)
{
	if (*since_ns == 0)
		*since_ns = clock_now() - (int64_t)conn_tick_ms(c) * 1000000;
	return conn_send_stalled(c, *since_ns);
}

/* Blocking mode: what a send's result W (of WHAT) means: 1 try again
 * (EINTR, or a tick without progress but still in time), 0 bytes went
 * out, -1 the connection ends. */
static int
conn_block_step(struct conn *c, ssize_t w, int64_t *progress, const char *what)
{
	if (w == -1 && errno == EINTR)
		return 1;
	if (w == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return conn_blocked(c, progress) ? 1 : -1;
	*progress = 0;
	if (w == -1) {
		log_debug("%s: %s: %s", c->svc->name, what, strerror(errno));
		conn_end(c, conn_errno_end(errno));
		return -1;
	}
	conn_sent(c, (size_t)w);
	return 0;
}

/* sendmsg all of IOV, retrying partial writes and EINTR. */
static int
conn_writev_flags(struct conn *c, struct iovec *iov, int n, int flags)
{
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = (size_t)n };
	int64_t progress = 0;

	if (c->buffered)
		return conn_queue(c, iov, n, flags);

	while (mh.msg_iovlen > 0 && !c->closing) {
		ssize_t w = sendmsg(c->fd, &mh, MSG_NOSIGNAL | flags);
		int r = conn_block_step(c, w, &progress, "send");

		if (r != 0) {
			if (r == -1)
				return -1;
			continue;
		}
		while (mh.msg_iovlen > 0 && (size_t)w >= mh.msg_iov->iov_len) {
			w -= (ssize_t)mh.msg_iov->iov_len;
			mh.msg_iov++;
			mh.msg_iovlen--;
		}
		if (mh.msg_iovlen > 0) {
			mh.msg_iov->iov_base = (char *)mh.msg_iov->iov_base + w;
			mh.msg_iov->iov_len -= (size_t)w;
		}
	}
	return c->closing ? -1 : 0;
}

static int
conn_writev(struct conn *c, struct iovec *iov, int n)
{
	return conn_writev_flags(c, iov, n, 0);
}

/* Blocking mode: sendfile all LEN bytes of FD from OFF, as conn_writev. */
static int
conn_sendfile_all(struct conn *c, int fd, off_t off, size_t len)
{
	int64_t progress = 0;

	while (len > 0 && !c->closing) {
		ssize_t w = sendfile(c->fd, fd, &off, len < CONN_SENDFILE_CHUNK ? len :
		    CONN_SENDFILE_CHUNK);
		int r;

		if (w == 0) {	/* the file shrank under us */
			log_info("%s: sendfile: file truncated", c->svc->name);
			conn_end(c, CONN_END_ERROR);
			return -1;
		}
		if ((r = conn_block_step(c, w, &progress, "sendfile")) != 0) {
			if (r == -1)
				return -1;
			continue;
		}
		if (c->heartbeat != NULL)	/* a long file to a slow client is not a hang */
			atomic_store_explicit(c->heartbeat, clock_now(), memory_order_relaxed);
		len -= (size_t)w;
	}
	return c->closing ? -1 : 0;
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
	struct iovec iov = { .iov_base = (void *)head, .iov_len = head_len };
	int r = conn_writev_flags(c, &iov, 1, len > 0 ? MSG_MORE : 0);

	if (r == 0 && c->buffered && len > 0) {
		c->file_fd = fd;
		c->file_off = off;
		c->file_len = len;
		if (c->out_len == 0 && conn_sendfile_some(c) == -1)
			return -1;	/* conn_finish() closes the file */
		return 0;
	}
	if (r == 0 && len > 0)
		r = conn_sendfile_all(c, fd, off, len);
	if (close(fd) == -1 && errno != EINTR)
		log_debug("%s: close: %s", c->svc->name, strerror(errno));
	return r;
}

int
conn_send(struct conn *c, const void *data, size_t len)
{
	struct iovec iov = { .iov_base = (void *)data, .iov_len = len };

	return conn_writev(c, &iov, 1);
}

/* Raw, gathered: one sendmsg for a head and a body. IOV may be changed. */
int
conn_sendv(struct conn *c, struct iovec *iov, int n)
{
	return conn_writev(c, iov, n);
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
	return conn_writev(c, iov, n);
}

void
conn_close(struct conn *c)
{
	conn_end(c, CONN_END_HANDLER);
}

/* Our side is done (the answer is out): shut it, so the client sees the end. */
static void
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
	c->linger_ns = clock_now() + CONN_LINGER_MS * NS_PER_MS;
	conn_shut(c);	/* blocking mode: the answer is out already */
}

/* Lingering: drop what the client still sends; -1 once it is done. */
static int
conn_drop_input(struct conn *c, char *buf, size_t size)
{
	ssize_t n = read(c->fd, buf, size);

	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n > 0 && (c->lingered += (uint64_t)n) < CONN_LINGER_BYTES)
		return 1;
	c->closing = true;	/* the client's end, an error, or enough: close */
	return -1;
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

static int
conn_tick_ms(const struct conn *c)
{
	return clock_tick_ms(c->svc->heartbeat_ms);
}

/* ms from NOW until AT, rounded up so a wait does not end just short. */
static int64_t
conn_ms_until(int64_t at, int64_t now)
{
	return at <= now ? 0 : (at - now + NS_PER_MS - 1) / NS_PER_MS;
}

enum conn_timeout
conn_timeout_check(const struct conn *c, int64_t now, int64_t *left_ms)
{
	int64_t left = -1;

	if (c->linger_ns != 0) {
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
	*left_ms = left;
	return CONN_IN_TIME;
}

/* A deadline of conn_timeout_check() passed: say so, and end it (http's
 * last word, a 408, first for a handshake). */
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
	default:
		break;
	}
}

/* Wait for the client or a signal, keeping the heartbeat and the idle
 * timeout on the way. */
static enum conn_wake
conn_wait(struct conn *c, int sig_fd)
{
	struct pollfd p[2] = {
		{ .fd = c->fd, .events = POLLIN },
		{ .fd = sig_fd, .events = POLLIN },
	};

	for (;;) {
		int64_t now = clock_now(), left_ms = conn_tick_ms(c), due_ms;
		enum conn_timeout t;
		int r;

		if (c->heartbeat != NULL)
			atomic_store_explicit(c->heartbeat, now, memory_order_relaxed);
		if ((t = conn_timeout_check(c, now, &due_ms)) != CONN_IN_TIME) {
			conn_timed_out(c, t);
			return CONN_END;
		}
		if (due_ms >= 0 && due_ms < left_ms)
			left_ms = due_ms;
		r = poll(p, 2, (int)left_ms);
		if (r == -1 && errno != EINTR) {
			log_err("%s: poll: %s", c->svc->name, strerror(errno));
			conn_end(c, CONN_END_ERROR);
			return CONN_END;
		}
		if (r > 0)
			return p[1].revents != 0 ? CONN_SIGNAL : CONN_READABLE;
	}
}

/*
 * Read one chunk into BUF and deliver its messages: 1 when bytes came, 0
 * when none were there yet, -1 when the connection ends (the peer closed,
 * an error, a protocol error). The handler may have set c->closing.
 */
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
	c->last_read_ns = clock_now();
	return r > 0 ? conn_proxy_done(c, &h) : 1;
}

int
conn_input(struct conn *c, char *buf, size_t size)
{
	const char *why;
	ssize_t n;

	if (c->proxy != NULL)
		return conn_proxy_input(c);
	if (c->linger_ns != 0)
		return conn_drop_input(c, buf, size);
	n = read(c->fd, buf, size);

	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n == -1)
		log_debug("%s: read: %s", c->svc->name, strerror(errno));
	if (n <= 0) {
		conn_end(c, n == 0 ? CONN_END_CLIENT : conn_errno_end(errno));
		return -1;
	}
	c->last_read_ns = clock_now();
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

/* Blocking mode: read and deliver one chunk; false when the connection ends. */
static bool
conn_read(struct conn *c)
{
	char buf[CONN_READ_SIZE];

	return conn_input(c, buf, sizeof(buf)) >= 0 && !c->closing;
}

/*
 * Serve C until it ends: 1 when it did, 0 when a signal is pending (left
 * unread for the caller, who may call conn_run() again to go on).
 */
int
conn_run(struct conn *c, int sig_fd)
{
	while (!c->closing) {
		enum conn_wake w = conn_wait(c, sig_fd);

		if (w == CONN_SIGNAL)
			return 0;
		if (w == CONN_END || !conn_read(c))
			break;
	}
	return 1;
}
