/*
 * model_prefork.c - the prefork model: each worker process waits for a
 * connection on any of its service's listeners, accepts it, serves it to
 * its end, and waits again (Apache's prefork; with one worker, the
 * iterative server).
 *
 * Several workers wait on the same listeners. Each worker has its own
 * epoll instance and registers the listeners with EPOLLEXCLUSIVE, so a
 * new connection wakes one waiting worker rather than all of them; the
 * listeners are non-blocking, so a worker that still loses the race gets
 * EAGAIN (counted in its slot as accept_miss) instead of blocking.
 *
 * SIGTERM or SIGINT: stop accepting, finish the connection in hand, exit.
 * SIGQUIT: drop the connection and exit now. After max_requests
 * connections (the master adds the jitter) a worker exits the same way and
 * the master starts a fresh one.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "log.h"
#include "model.h"
#include "sig.h"

struct prefork {
	const struct worker_args *a;
	int sig_fd;
	bool draining;			/* stop after the current connection */
	bool quit;			/* stop now */
	bool closed;			/* listeners closed */
};

/* Stop accepting: finish what is in hand, then exit. */
static void
prefork_drain(struct prefork *p)
{
	p->draining = true;
	if (p->closed)
		return;
	/* Our copies of the listeners go now: once the master's and every
	 * draining worker's are closed, new clients are refused at once
	 * instead of waiting in a backlog nobody will accept from. (On a
	 * recycle the master's copy stays open and the next worker takes over.) */
	for (size_t i = 0; i < p->a->n_fds; i++)
		close(p->a->fds[i]);
	p->closed = true;
	atomic_store(&p->a->slot->state, SLOT_DRAINING);
}

/* Read pending signals; what they ask for is noted in P. */
static void
prefork_signals(struct prefork *p)
{
	int sig;

	while ((sig = sig_next(p->sig_fd)) != 0) {
		if (sig == SIGQUIT)
			p->quit = true;
		if (sig == SIGQUIT || sig == SIGTERM || sig == SIGINT)
			prefork_drain(p);
	}
}

/* max_requests reached: exit so the master starts a fresh worker. */
static void
prefork_recycle(struct prefork *p)
{
	uint64_t served = atomic_load(&p->a->slot->served);

	if (p->a->max_requests == 0 || served < (uint64_t)p->a->max_requests || p->draining)
		return;
	log_info("%s: worker recycles after %llu connections", p->a->svc->name,
	    (unsigned long long)served);
	prefork_drain(p);
}

static void
prefork_serve(struct prefork *p, int fd)
{
	struct conn c;

	atomic_store(&p->a->slot->heartbeat_ns, scoreboard_now());
	atomic_store(&p->a->slot->state, SLOT_BUSY);
	conn_open(&c, fd, p->a->svc, p->a->slot);
	while (conn_run(&c, p->sig_fd) == 0) {
		prefork_signals(p);
		if (p->quit)
			break;
	}
	conn_finish(&c);
	if (close(fd) == -1 && errno != EINTR)
		log_debug("%s: close: %s", p->a->svc->name, strerror(errno));
	if (!p->draining && !p->quit)
		atomic_store(&p->a->slot->state, SLOT_IDLE);
	prefork_recycle(p);
}

static void
prefork_accept(struct prefork *p, int lfd)
{
	int fd = worker_accept(p->a, lfd);

	if (fd != -1)
		prefork_serve(p, fd);
}

static int
prefork_epoll(const struct worker_args *a, int sig_fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = sig_fd };
	int ep = epoll_create1(EPOLL_CLOEXEC);

	if (ep == -1 || epoll_ctl(ep, EPOLL_CTL_ADD, sig_fd, &ev) == -1)
		fatal(EXIT_OSERR, "epoll: %s", strerror(errno));
	for (size_t i = 0; i < a->n_fds; i++) {
		ev = (struct epoll_event){ .events = EPOLLIN | EPOLLEXCLUSIVE, .data.fd = a->fds[i] };
		if (epoll_ctl(ep, EPOLL_CTL_ADD, a->fds[i], &ev) == -1)
			fatal(EXIT_OSERR, "epoll_ctl: %s", strerror(errno));
	}
	return ep;
}

void
model_prefork_run(const struct worker_args *a, int sig_fd)
{
	struct prefork p = { .a = a, .sig_fd = sig_fd };
	struct epoll_event ev[WORKER_MAX_LISTENERS + 1];
	int ep = prefork_epoll(a, sig_fd);

	atomic_store(&a->slot->state, SLOT_IDLE);
	while (!p.draining && !p.quit) {
		int n = epoll_wait(ep, ev, (int)(a->n_fds + 1), -1);

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			fatal(EXIT_OSERR, "epoll_wait: %s", strerror(errno));
		for (int i = 0; i < n && !p.draining && !p.quit; i++) {
			if (ev[i].data.fd == sig_fd)
				prefork_signals(&p);
			else
				prefork_accept(&p, ev[i].data.fd);
		}
	}
	close(ep);
	log_debug("%s: worker exits after %llu connections (%llu accept races lost)",
	    a->svc->name, (unsigned long long)atomic_load(&a->slot->served),
	    (unsigned long long)atomic_load(&a->slot->accept_miss));
}
