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
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>

#include "conn.h"
#include "log.h"

#define CONN_READ_SIZE 16384
#define CONN_TICK_MS 1000

enum conn_wake { CONN_READABLE, CONN_SIGNAL, CONN_END };

static void
conn_count(_Atomic uint64_t *counter, size_t n)
{
	atomic_fetch_add_explicit(counter, n, memory_order_relaxed);
}

static int conn_tick_ms(const struct conn *c);

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
	int64_t now = scoreboard_now();

	if (c->heartbeat != NULL)
		atomic_store_explicit(c->heartbeat, now, memory_order_relaxed);
	if (c->svc->idle_ms == 0 || now - since_ns < (int64_t)c->svc->idle_ms * 1000000)
		return true;
	log_info("%s: closing connection: the client took no output for %d ms",
	    c->svc->name, c->svc->idle_ms);
	c->closing = true;
	return false;
}

void
conn_open(struct conn *c, int fd, const struct config_service *svc,
    struct scoreboard_slot *slot)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	*c = (struct conn){ .fd = fd, .svc = svc, .slot = slot,
		.heartbeat = slot != NULL ? &slot->heartbeat_ns : NULL,
		.handler = handler_get(svc->handler) };
	if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0)
		addr_from_sockaddr((struct sockaddr *)&ss, len, &c->peer);
	framing_init(&c->framing, svc->framing, (size_t)svc->max_message);
	c->last_read_ns = scoreboard_now();
	conn_send_timeout(c);
	if (slot != NULL)
		atomic_fetch_add(&slot->current, 1);
	if (c->handler->open != NULL)
		c->handler->open(c);
}

void
conn_finish(struct conn *c)
{
	size_t pending = framing_pending(&c->framing);

	if (pending > 0)
		log_info("%s: connection closed inside a message (%zu bytes pending)",
		    c->svc->name, pending);
	if (c->handler->close != NULL)
		c->handler->close(c);
	framing_free(&c->framing);
	if (c->slot != NULL) {
		atomic_fetch_sub(&c->slot->current, 1);
		conn_count(&c->slot->served, 1);
	}
}

/* sendmsg all of IOV, retrying partial writes and EINTR. */
static int
conn_writev(struct conn *c, struct iovec *iov, int n)
{
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = (size_t)n };
	int64_t progress = 0;

	while (mh.msg_iovlen > 0 && !c->closing) {
		ssize_t w = sendmsg(c->fd, &mh, MSG_NOSIGNAL);

		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (progress == 0)
				progress = scoreboard_now() - (int64_t)conn_tick_ms(c) * 1000000;
			if (!conn_send_stalled(c, progress))
				return -1;
			continue;
		}
		progress = 0;
		if (w == -1) {
			log_debug("%s: send: %s", c->svc->name, strerror(errno));
			c->closing = true;
			return -1;
		}
		if (c->slot != NULL)
			conn_count(&c->slot->bytes_out, (size_t)w);
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

int
conn_send(struct conn *c, const void *data, size_t len)
{
	struct iovec iov = { .iov_base = (void *)data, .iov_len = len };

	return conn_writev(c, &iov, 1);
}

int
conn_reply(struct conn *c, const void *msg, size_t len)
{
	struct framing_wrap w;
	struct iovec iov[3];
	int n = 0;

	if (framing_wrap(&c->framing, len, &w) == -1) {
		log_warn("%s: reply of %zu bytes does not fit the framing", c->svc->name, len);
		c->closing = true;
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
	c->closing = true;
}

static int
conn_deliver(void *arg, const char *msg, size_t len)
{
	struct conn *c = arg;

	if (c->slot != NULL)
		conn_count(&c->slot->messages, 1);
	c->handler->message(c, msg, len);
	return c->closing;
}

static int
conn_tick_ms(const struct conn *c)
{
	int tick = c->svc->heartbeat_ms > 0 ? c->svc->heartbeat_ms / 4 : CONN_TICK_MS;

	return tick < 10 ? 10 : tick > CONN_TICK_MS ? CONN_TICK_MS : tick;
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
		int64_t now = scoreboard_now(), left_ms = conn_tick_ms(c);
		int r;

		if (c->heartbeat != NULL)
			atomic_store_explicit(c->heartbeat, now, memory_order_relaxed);
		if (c->svc->idle_ms > 0) {
			int64_t idle_left = (c->last_read_ns - now) / 1000000 + c->svc->idle_ms;

			if (idle_left <= 0) {
				log_info("%s: closing connection: idle for %d ms", c->svc->name,
				    c->svc->idle_ms);
				return CONN_END;
			}
			if (idle_left < left_ms)
				left_ms = idle_left;
		}
		r = poll(p, 2, (int)left_ms);
		if (r == -1 && errno != EINTR) {
			log_err("%s: poll: %s", c->svc->name, strerror(errno));
			return CONN_END;
		}
		if (r > 0)
			return p[1].revents != 0 ? CONN_SIGNAL : CONN_READABLE;
	}
}

/* Read one chunk and deliver its messages; false when the connection ends. */
static bool
conn_read(struct conn *c)
{
	char buf[CONN_READ_SIZE];
	const char *why;
	ssize_t n = read(c->fd, buf, sizeof(buf));

	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return true;
	if (n == -1)
		log_debug("%s: read: %s", c->svc->name, strerror(errno));
	if (n <= 0)
		return false;
	c->last_read_ns = scoreboard_now();
	if (c->slot != NULL) {
		conn_count(&c->slot->bytes_in, (size_t)n);
	}
	if (c->heartbeat != NULL)
		atomic_store_explicit(c->heartbeat, c->last_read_ns, memory_order_relaxed);
	if (framing_feed(&c->framing, buf, (size_t)n, conn_deliver, c, &why) == -1) {
		log_notice("%s: closing connection: %s", c->svc->name, why);
		return false;
	}
	return !c->closing;
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
