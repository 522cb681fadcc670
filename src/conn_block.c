/*
 * conn_block.c - the connection layer's blocking engine (prefork, fork,
 * thread): read, cut into messages, hand each to the handler, write what
 * it answers, until either side ends.
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
 * pin a worker. A file body (conn_send_file) goes out with sendfile, in a
 * loop until it is sent.
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>

#include "clock.h"
#include "conn_priv.h"
#include "log.h"

#define CONN_READ_SIZE 16384

enum conn_wake { CONN_READABLE, CONN_SIGNAL, CONN_END };

static int
conn_tick_ms(const struct conn *c)
{
	return clock_tick_ms(c->svc->heartbeat_ms);
}

/* A blocked send wakes every tick, to keep the heartbeat and to apply
 * timeouts.idle to a client that takes no output. Set at open, before the
 * handler's open() may send. */
void
conn_block_open(struct conn *c)
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

/* A send made no progress for a tick; false when it is time to give up.
 * *SINCE_NS is when progress stopped (0: it had not). */
static bool
conn_blocked(struct conn *c, int64_t *since_ns)
{
	if (*since_ns == 0)
		*since_ns = clock_now() - (int64_t)conn_tick_ms(c) * 1000000;
	return conn_send_stalled(c, *since_ns);
}

/* What a send's result W (of WHAT) means: 1 try again (EINTR, or a tick
 * without progress but still in time), 0 bytes went out, -1 the
 * connection ends. */
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
	conn_count_sent(c, (size_t)w);
	return 0;
}

/* sendmsg all of IOV, retrying partial writes and EINTR. */
int
conn_block_sendv(struct conn *c, struct iovec *iov, int n, int flags)
{
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = (size_t)n };
	int64_t progress = 0;
	int calls = 0;

	while (mh.msg_iovlen > 0 && !c->closing) {
		ssize_t w = sendmsg(c->fd, &mh, MSG_NOSIGNAL | flags);
		int r = conn_block_step(c, w, &progress, "send");

		calls++;
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
	/* A send that took more than one call took time: the connection was
	 * active until now (a drain's idle grace counts from here). One call,
	 * the common case, reads no clock. */
	if (calls > 1 && !c->closing)
		c->last_read_ns = clock_now();
	return c->closing ? -1 : 0;
}

/* sendfile all LEN bytes of FD from OFF, as conn_block_sendv. */
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
		c->last_read_ns = clock_now();	/* the client takes output: active */
		if (c->heartbeat != NULL)	/* a long file to a slow client is not a hang */
			atomic_store_explicit(c->heartbeat, c->last_read_ns, memory_order_relaxed);
		len -= (size_t)w;
	}
	return c->closing ? -1 : 0;
}

/* HEAD, then all of the file; FD is closed either way. */
int
conn_block_send_file(struct conn *c, const void *head, size_t head_len, int fd, off_t off,
    size_t len)
{
	struct iovec iov = { .iov_base = (void *)head, .iov_len = head_len };
	int r = conn_block_sendv(c, &iov, 1, len > 0 ? MSG_MORE : 0);

	if (r == 0 && len > 0)
		r = conn_sendfile_all(c, fd, off, len);
	if (close(fd) == -1 && errno != EINTR)
		log_debug("%s: close: %s", c->svc->name, strerror(errno));
	return r;
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
			if (c->closing)
				return CONN_END;
			continue;	/* a drain's: lingering now, or a request came */
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

/* Read and deliver one chunk; false when the connection ends. */
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
