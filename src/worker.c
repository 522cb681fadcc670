/*
 * worker.c - the serving loop: wait for any listener to become readable,
 * accept, serve that one connection to its end, and wait again. This is the
 * iterative server; a pool of such workers is the prefork model.
 *
 * Listeners are non-blocking, so a connection another process accepted
 * first costs an EAGAIN, not a hang. Running out of descriptors backs off
 * instead of spinning.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "conn.h"
#include "log.h"
#include "util.h"
#include "worker.h"

static void
worker_serve_one(const struct worker_listener *l, volatile sig_atomic_t *stop)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct conn c = { .svc = l->svc };
	static const struct timespec pause = { 0, 100 * 1000 * 1000 };

	c.fd = accept4(l->fd, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC);
	if (c.fd == -1) {
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
			log_warn("%s: accept: %s (pausing 100 ms)", l->svc->name, strerror(errno));
			nanosleep(&pause, NULL);
		} else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			log_err("%s: accept: %s", l->svc->name, strerror(errno));
		return;
	}
	addr_from_sockaddr((struct sockaddr *)&ss, len, &c.peer);
	conn_serve(&c, handler_get(l->svc->handler), stop);
	if (close(c.fd) == -1 && errno != EINTR)
		log_debug("%s: close: %s", l->svc->name, strerror(errno));
}

void
worker_run(const struct worker_listener *ls, size_t n, volatile sig_atomic_t *stop)
{
	struct pollfd *pfd = xcalloc(n, sizeof(*pfd));

	for (size_t i = 0; i < n; i++)
		pfd[i] = (struct pollfd){ .fd = ls[i].fd, .events = POLLIN };
	while (!*stop) {
		int r = poll(pfd, n, -1);

		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			fatal(EXIT_OSERR, "poll: %s", strerror(errno));
		for (size_t i = 0; i < n && !*stop; i++)
			if (pfd[i].revents & (POLLIN | POLLERR | POLLHUP))
				worker_serve_one(&ls[i], stop);
	}
	free(pfd);
}
