/*
 * conn.c - drive one connection with blocking I/O: read, hand the bytes to
 * the handler, write what it sends, until either side closes.
 *
 * Output is written before the next read, so a client that never reads
 * holds up only its own connection and no buffer grows without bound.
 */
#include <errno.h>
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

void
conn_serve(struct conn *c, const struct handler *h, volatile sig_atomic_t *stop)
{
	char buf[CONN_READ_SIZE];

	if (h->open != NULL)
		h->open(c);
	while (!c->closing && !*stop) {
		ssize_t n = read(c->fd, buf, sizeof(buf));

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			log_debug("%s: read: %s", c->svc->name, strerror(errno));
			break;
		}
		if (n == 0)
			break;
		h->message(c, buf, (size_t)n);
	}
	if (h->close != NULL)
		h->close(c);
}
