/*
 * worker.c - the serving loop: wait for any listener to become readable,
 * accept, serve that one connection to its end, and wait again. This is the
 * iterative server; a pool of such workers is the prefork model.
 *
 * Listeners are non-blocking, so a connection another process accepted
 * first costs an EAGAIN, not a hang. Running out of descriptors backs off
 * instead of spinning. Signals arrive on a signalfd that every wait
 * includes, so a stop request is never lost between a check and a wait.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "conn.h"
#include "log.h"
#include "sig.h"
#include "util.h"
#include "worker.h"

/* Accept one connection on L and serve it; 0 if a signal cut it short. */
static int
worker_serve_one(const struct worker_listener *l, int sig_fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct conn c = { .svc = l->svc };
	static const struct timespec pause = { 0, 100000000L };	/* 100 ms */
	int r;

	c.fd = accept4(l->fd, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC);
	if (c.fd == -1) {
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
			log_warn("%s: accept: %s (pausing 100 ms)", l->svc->name, strerror(errno));
			nanosleep(&pause, NULL);
		} else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			log_err("%s: accept: %s", l->svc->name, strerror(errno));
		return 1;
	}
	addr_from_sockaddr((struct sockaddr *)&ss, len, &c.peer);
	r = conn_serve(&c, handler_get(l->svc->handler), sig_fd);
	if (close(c.fd) == -1 && errno != EINTR)
		log_debug("%s: close: %s", l->svc->name, strerror(errno));
	return r;
}

/* Act on pending signals; false once one of them asks to stop. */
static bool
worker_signals(int sig_fd)
{
	int sig;

	while ((sig = sig_next(sig_fd)) != 0) {
		if (sig != SIGHUP) {
			log_notice("%s: stopping", strsignal(sig));
			return false;
		}
		/* XXX: reload arrives with the master process. */
		log_notice("SIGHUP: reload is not implemented yet; configuration unchanged");
	}
	return true;
}

/* Serve on the listeners LS[0..N) until a stop signal arrives on SIG_FD. */
void
worker_run(const struct worker_listener *ls, size_t n, int sig_fd)
{
	struct pollfd *pfd = xcalloc(n + 1, sizeof(*pfd));
	bool running = true;

	for (size_t i = 0; i < n; i++)
		pfd[i] = (struct pollfd){ .fd = ls[i].fd, .events = POLLIN };
	pfd[n] = (struct pollfd){ .fd = sig_fd, .events = POLLIN };
	while (running) {
		if (poll(pfd, n + 1, -1) == -1) {
			if (errno == EINTR)
				continue;
			fatal(EXIT_OSERR, "poll: %s", strerror(errno));
		}
		for (size_t i = 0; i < n; i++)
			if ((pfd[i].revents & (POLLIN | POLLERR | POLLHUP)) &&
			    !worker_serve_one(&ls[i], sig_fd))
				break;	/* a signal is pending: see to it first */
		running = worker_signals(sig_fd);
	}
	free(pfd);
}
