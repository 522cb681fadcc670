/*
 * conn_buffer.c - the connection layer's buffered engine (the event
 * model): the same framing and handlers, driven from the caller's loop.
 * conn_input() (conn.c) reads once and delivers; conn_reply()/conn_send()
 * send what the socket takes at once and queue the rest; conn_flush()
 * sends the queue when the socket is writable.
 *
 * The queue is one contiguous buffer, allocated only while output waits
 * and never larger than limits.max_output: past that the connection is
 * closed, so a client that does not read costs at most that much memory.
 * The caller stops reading while output waits, which bounds the queue by
 * what one read's messages produce.
 *
 * A file body (conn_send_file) goes out with sendfile, never through the
 * queue: the descriptor, offset and length wait after the queued bytes
 * and conn_flush() sends the file once they are out, then closes it. Only
 * one file waits at a time: a handler holds further answers while
 * conn_pending(), until its drained() hook runs.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "clock.h"
#include "conn_priv.h"
#include "log.h"
#include "util.h"

/* One non-blocking send; bytes sent, 0 when the socket is full, -1 when
 * the connection is broken. One piece (an echo, a fixed answer) goes by
 * send(), which spares the kernel importing a message header and a vector. */
static ssize_t
conn_sendmsg(struct conn *c, struct iovec *iov, int n, int flags)
{
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = (size_t)n };
	ssize_t w;

	flags |= MSG_NOSIGNAL | MSG_DONTWAIT;
	do
		w = n == 1 ? send(c->fd, iov[0].iov_base, iov[0].iov_len, flags) :
		    sendmsg(c->fd, &mh, flags);
	while (w == -1 && errno == EINTR);
	if (w == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (w == -1) {
		log_debug("%s: send: %s", c->svc->name, strerror(errno));
		conn_end(c, conn_errno_end(errno));
		c->broken = true;
		return -1;
	}
	conn_count_sent(c, (size_t)w);
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
	if (c->flight + c->out_len + total > (size_t)c->svc->max_output) {
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

/* Send at once what the socket takes (unless output is queued already:
 * it goes first), queue the rest. */
int
conn_buffer_sendv(struct conn *c, struct iovec *iov, int n, int flags)
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
	if (c->out_len == 0 && !c->ring && (sent = conn_sendmsg(c, iov, n, flags)) == -1)
		return -1;
	return conn_append(c, iov, n, (size_t)sent);
}

/* Sendfile what the socket takes now of the queued file;
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
	conn_count_sent(c, (size_t)w);
	c->file_len -= (size_t)w;
	if (c->file_len == 0) {
		if (close(c->file_fd) == -1 && errno != EINTR)
			log_debug("%s: close: %s", c->svc->name, strerror(errno));
		c->file_fd = -1;
	}
	return w;
}

/*
 * Send queued bytes. 1 when some went out, 0 when none
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


static void conn_flushed(struct conn *c);

/*
 * Send queued output, bytes first, then the file. 1 when
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

	if (c->ring && c->flight > 0)
		return 0;	/* the caller's send goes first */
	if (c->out_len > 0 && (r = conn_flush_bytes(c)) <= 0)
		return r;
	if (c->out_len == 0 && c->file_fd >= 0) {
		if ((w = conn_sendfile_some(c)) == -1)
			return -1;
		r |= w > 0;
	}
	if (r == 1)
		conn_flushed(c);
	return c->broken ? -1 : r;
}

/* Output went out: if that was the last of it, a lingering connection
 * shuts its side now, or the handler may answer what it held back. */
static void
conn_flushed(struct conn *c)
{
	if (conn_pending(c))
		return;
	if (c->linger_ns != 0) {
		conn_shut(c);	/* the last answer is out: now the client sees the end */
		c->linger_ns = conn_now() + CONN_LINGER_MS * NS_PER_MS;	/* from now */
	} else if (c->drained != NULL && !c->closing)
		c->drained(c);
}

bool
conn_pending(const struct conn *c)
{
	return c->out_len > 0 || c->flight > 0 || c->file_fd >= 0;
}

/*
 * The ring engine (conn_open_ring): the caller sends. Take the queued
 * bytes: the buffer is the caller's from now on (free() it once its send
 * completed, whatever became of the connection), *LEN its bytes; NULL
 * when nothing waits or a send is in flight already (one at a time keeps
 * the bytes in order). Appends from now on go to a new buffer.
 */
char *
conn_ring_take(struct conn *c, size_t *len)
{
	char *out;

	if (c->flight > 0 || c->out_len == 0 || c->broken)
		return NULL;	/* c->out may be NULL: no arithmetic on it */
	if (c->out_off > 0)
		memmove(c->out, c->out + c->out_off, c->out_len);
	out = c->out;
	*len = c->flight = c->out_len;
	c->out = NULL;
	c->out_off = c->out_len = c->out_cap = 0;
	return out;
}

/* A file follows the bytes taken: their send says MSG_MORE, so the head
 * and the file's first bytes leave in one segment (without, Nagle holds
 * the file's first partial segment for the client's delayed ACK). */
bool
conn_ring_more(const struct conn *c)
{
	return c->file_fd >= 0;
}

/*
 * RES of a send of what conn_ring_take gave: bytes sent, or -errno. DONE:
 * the caller sends no more of it (all of it went, or it failed, or the
 * connection is past caring). 1 when bytes went, -1 when the connection
 * is broken.
 */
int
conn_ring_sent(struct conn *c, int res, bool done)
{
	if (res < 0) {
		c->flight = 0;
		if (!c->broken) {
			log_debug("%s: send: %s", c->svc->name, strerror(-res));
			conn_end(c, conn_errno_end(-res));
			c->broken = true;
		}
		return -1;
	}
	conn_count_sent(c, (size_t)res);
	c->flight = done ? 0 : c->flight - (size_t)res;
	conn_flushed(c);
	return c->broken ? -1 : 1;
}

/* HEAD, then the file: what the socket takes now, the rest queued (FD is
 * the connection's until its last byte is out, or the connection ends). */
int
conn_buffer_send_file(struct conn *c, const void *head, size_t head_len, int fd, off_t off,
    size_t len)
{
	struct iovec iov = { .iov_base = (void *)head, .iov_len = head_len };
	int r = conn_buffer_sendv(c, &iov, 1, len > 0 ? MSG_MORE : 0);

	if (r == 0 && len > 0) {
		c->file_fd = fd;
		c->file_off = off;
		c->file_len = len;
		if (c->out_len == 0 && c->flight == 0 && conn_sendfile_some(c) == -1)
			return -1;	/* conn_buffer_free() closes the file */
		return 0;
	}
	if (close(fd) == -1 && errno != EINTR)
		log_debug("%s: close: %s", c->svc->name, strerror(errno));
	return r;
}

/* At the connection's end: what still waits goes unsent. */
void
conn_buffer_free(struct conn *c)
{
	free(c->out);
	c->out = NULL;
	if (c->file_fd >= 0 && close(c->file_fd) == -1 && errno != EINTR)
		log_debug("%s: close: %s", c->svc->name, strerror(errno));
	c->file_fd = -1;
}
