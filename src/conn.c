/*
 * conn.c - drive one connection with blocking I/O: read, hand the bytes to
 * the handler, write what it sends, until either side closes.
 *
 * Output is written before the next read, so a client that never reads
 * holds up only its own connection and no buffer grows without bound.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "log.h"

#define CONN_READ_SIZE 16384

int
conn_send(struct conn *c, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0 && !c->closing) {
		ssize_t w = send(c->fd, p, len, MSG_NOSIGNAL);

		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1) {
			log_debug("%s: send: %s", c->svc->name, strerror(errno));
			c->closing = true;
			return -1;
		}
		p += w;
		len -= (size_t)w;
	}
	return c->closing ? -1 : 0;
}

void
conn_close(struct conn *c)
{
	c->closing = true;
}

/* Wait until the client sent something (1) or a signal is pending (0). */
static int
conn_wait(struct conn *c, int sig_fd)
{
	struct pollfd p[2] = {
		{ .fd = c->fd, .events = POLLIN },
		{ .fd = sig_fd, .events = POLLIN },
	};

	for (;;) {
		if (poll(p, 2, -1) == -1) {
			if (errno == EINTR)
				continue;
			log_err("%s: poll: %s", c->svc->name, strerror(errno));
			return 0;
		}
		if (p[1].revents != 0)
			return 0;
		return 1;
	}
}

/*
 * Serve C until it ends. Returns 1 when the connection ended, 0 when a
 * signal is pending (it is left unread for the caller to act on).
 */
int
conn_serve(struct conn *c, const struct handler *h, int sig_fd)
{
	char buf[CONN_READ_SIZE];
	int r = 1;

	if (h->open != NULL)
		h->open(c);
	while (!c->closing) {
		ssize_t n;

		if (!conn_wait(c, sig_fd)) {
			r = 0;
			break;
		}
		n = read(c->fd, buf, sizeof(buf));
		if (n == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n == -1)
			log_debug("%s: read: %s", c->svc->name, strerror(errno));
		if (n <= 0)
			break;
		h->message(c, buf, (size_t)n);
	}
	if (h->close != NULL)
		h->close(c);
	return r;
}
