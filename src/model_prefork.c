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
 * SIGTERM or SIGINT: stop accepting, finish the connection in hand (an
 * http one is handed over: conn_drain), exit.
 * SIGQUIT: drop the connection and exit now. Any other signal (SIGUSR1:
 * the log file) goes to worker_signal(), also in the middle of a
 * connection, which then goes on. After max_requests
 * connections (the master adds the jitter) a worker exits the same way and
 * the master starts a fresh one.
 *
 * threads = T > 1 (Apache's worker MPM): each worker runs T threads that
 * each do what a single-threaded worker does - wait on an epoll instance
 * of their own (listeners EPOLLEXCLUSIVE, so a connection wakes one thread
 * of one worker), accept, serve one connection at a time - while the main
 * thread reads the signalfd and reports the threads into the slot (see
 * worker_thread.c: BUSY while any thread serves, the oldest busy thread's
 * heartbeat). A shared eventfd, written once and never read, wakes every
 * thread to stop. The listeners are closed under a write lock that every
 * accept holds for reading, after they left every thread's epoll set, so
 * no thread accepts on a descriptor number that was just closed (and maybe
 * reused). limits.max_connections is honoured there (a thread at the limit
 * stops watching for WORKER_LIMIT_PAUSE_MS); threads = 1 is the path above, as it
 * always was. A worker that cannot start all its threads exits EXIT_OSERR
 * and the master replaces it whole.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "acceptor.h"
#include "conn.h"
#include "log.h"
#include "model.h"
#include "sig.h"
#include "util.h"
#include "worker_signal.h"
#include "worker_thread.h"

struct prefork {
	const struct worker_args *a;
	int sig_fd;
	struct acceptor ac;
	struct acceptor_watch w;
	bool quit;			/* stop now */
};

/* Read pending signals; what they ask for is noted in P. */
static void
prefork_signals(struct prefork *p)
{
	struct sig_info si;

	while (sig_read(p->sig_fd, &si))
		switch (worker_signal(p->a, &si)) {
		case WORKER_QUIT:
			p->quit = true;
			/* FALLTHROUGH */
		case WORKER_DRAIN:
			acceptor_drain(&p->ac);
			break;
		default:
			break;
		}
}

static void
prefork_serve(struct prefork *p, struct accepted *ac)
{
	struct conn *c;

	if (ac->recycle)
		acceptor_drain(&p->ac);	/* max_requests: a fresh worker takes over */
	atomic_store(&p->a->slot->heartbeat_ns, clock_now());
	if (!acceptor_draining(&p->ac))
		atomic_store(&p->a->slot->state, SLOT_BUSY);
	c = conn_open(ac->fd, &ac->peer, p->a->svc, p->a->handler, p->a->slot, NULL);
	if (acceptor_draining(&p->ac))
		conn_drain(c);
	/* A signal wakes the wait: on a drain the connection hears of it, and
	 * goes on (http: to the end of its next answer, or of its idleness). */
	while (conn_run(c, p->sig_fd) == 0) {
		prefork_signals(p);
		if (p->quit)
			break;
		if (acceptor_draining(&p->ac))
			conn_drain(c);
	}
	if (p->quit)
		conn_end(c, CONN_END_STOPPING);
	conn_finish(c);
	if (close(ac->fd) == -1 && errno != EINTR)
		log_debug("%s: close: %s", p->a->svc->name, strerror(errno));
	acceptor_release(&p->ac, ac);
	if (!acceptor_draining(&p->ac) && !p->quit)
		atomic_store(&p->a->slot->state, SLOT_IDLE);
}

static void
prefork_accept(struct prefork *p, int lfd)
{
	struct accepted c;

	if (acceptor_take(&p->w, lfd, true, &c) == ACCEPTOR_CONN)
		prefork_serve(p, &c);
}

/* An epoll instance with WAKE_FD, which says to stop (the signalfd, or
 * with threads the shared stop eventfd); the acceptor adds the listeners. */
static int
prefork_epoll(int wake_fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = wake_fd };
	int ep = epoll_create1(EPOLL_CLOEXEC);

	if (ep == -1 || epoll_ctl(ep, EPOLL_CTL_ADD, wake_fd, &ev) == -1)
		fatal(EXIT_OSERR, "epoll: %s", strerror(errno));
	return ep;
}

/* ---- threads > 1 ---------------------------------------------------- */

struct prefork_crew {
	const struct worker_args *a;
	struct acceptor ac;		/* shared: one watch per thread */
	int stop_fd;			/* eventfd: written once, never read */
	int done_fd;			/* eventfd: a thread has ended */
	_Atomic int ended;		/* threads that have returned */
	struct worker_thread *t;
	struct acceptor_watch *w;	/* per thread */
	int n;
};

/* Stop accepting, from the main thread (signal) or a serving one
 * (max_requests): wake every thread, in its epoll wait or in its
 * connection's (worker_thread_serve); the acceptor takes the listeners
 * out of every epoll set and closes them. Connections in hand finish,
 * or are handed over (conn_drain). */
static void
prefork_crew_stop(struct prefork_crew *crew)
{
	uint64_t one = 1;

	if (!acceptor_drain(&crew->ac))
		return;
	while (write(crew->stop_fd, &one, sizeof(one)) == -1)
		if (errno != EINTR)
			fatal(EXIT_OSERR, "eventfd write: %s", strerror(errno));
}

static void
prefork_thread_accept(struct prefork_crew *crew, struct worker_thread *t,
    struct acceptor_watch *w, int lfd)
{
	struct accepted c;

	if (acceptor_take(w, lfd, true, &c) != ACCEPTOR_CONN)
		return;
	if (c.recycle)
		prefork_crew_stop(crew);	/* this one is still served */
	worker_thread_serve(crew->a, t, &c, crew->stop_fd);
	acceptor_release(&crew->ac, &c);
}

/* A serving thread: wait, accept, serve, until the crew stops. */
static void *
prefork_thread_main(void *arg)
{
	struct worker_thread *t = arg;
	struct prefork_crew *crew = t->model;
	struct acceptor_watch *w = &crew->w[t->index];
	struct epoll_event ev[WORKER_MAX_LISTENERS + 1];
	uint64_t one = 1;

	while (!acceptor_draining(&crew->ac)) {
		int n = epoll_wait(t->ep, ev, (int)(crew->a->n_fds + 1),
		    acceptor_update(w, clock_now()));

		if (n == -1 && errno != EINTR)
			fatal(EXIT_OSERR, "epoll_wait: %s", strerror(errno));
		for (int i = 0; i < n && !acceptor_draining(&crew->ac); i++)
			if (ev[i].data.fd != crew->stop_fd)
				prefork_thread_accept(crew, t, w, ev[i].data.fd);
	}
	atomic_fetch_add(&crew->ended, 1);
	while (write(crew->done_fd, &one, sizeof(one)) == -1)
		if (errno != EINTR)
			fatal(EXIT_OSERR, "eventfd write: %s", strerror(errno));
	return NULL;
}

static void
prefork_crew_start(struct prefork_crew *crew)
{
	int e;

	crew->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	crew->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (crew->stop_fd == -1 || crew->done_fd == -1)
		fatal(EXIT_OSERR, "eventfd: %s", strerror(errno));
	acceptor_init(&crew->ac, crew->a, 0, true);
	/* Every epoll set first: a thread that drains (max_requests) goes
	 * through all of them, and may do so before the last thread starts. */
	crew->t = xcalloc((size_t)crew->n, sizeof(*crew->t));
	crew->w = xcalloc((size_t)crew->n, sizeof(*crew->w));
	for (int i = 0; i < crew->n; i++) {
		crew->t[i] = (struct worker_thread){ .model = crew, .conn = { .fd = -1 }, .index = (size_t)i,
			.ep = prefork_epoll(crew->stop_fd) };
		acceptor_watch_init(&crew->w[i], &crew->ac, crew->t[i].ep, NULL);
	}
	for (int i = 0; i < crew->n; i++) {
		e = pthread_create(&crew->t[i].tid, worker_thread_attr(), prefork_thread_main, &crew->t[i]);
		if (e != 0)
			fatal(EXIT_OSERR, "%s: pthread_create: %s", crew->a->svc->name, strerror(e));
	}
}

/* The main thread until every serving thread has ended. */
static void
prefork_crew_wait(struct prefork_crew *crew, int sig_fd)
{
	int tick = clock_tick_ms(crew->a->svc->heartbeat_ms);
	struct sig_info si;
	uint64_t n;

	while (atomic_load(&crew->ended) < crew->n) {
		struct pollfd p[2] = { { .fd = sig_fd, .events = POLLIN },
			{ .fd = crew->done_fd, .events = POLLIN } };

		if (poll(p, 2, tick) == -1 && errno != EINTR)
			fatal(EXIT_OSERR, "poll: %s", strerror(errno));
		/* (SIGUSR1: the threads write the new log file at once.) */
		while (p[0].revents != 0 && sig_read(sig_fd, &si))
			switch (worker_signal(crew->a, &si)) {
			case WORKER_QUIT:
				_exit(0);	/* connections in hand go with the process */
			case WORKER_DRAIN:
				prefork_crew_stop(crew);
				break;
			default:
				break;
			}
		if (p[1].revents != 0 && read(crew->done_fd, &n, sizeof(n)) == -1 &&
		    errno != EAGAIN && errno != EINTR)
			fatal(EXIT_OSERR, "eventfd read: %s", strerror(errno));
		worker_thread_report(crew->a, crew->t, (size_t)crew->n,
		    acceptor_draining(&crew->ac));
	}
}

static void
prefork_crew_run(const struct worker_args *a, int sig_fd)
{
	struct prefork_crew crew = { .a = a, .n = a->svc->threads };

	prefork_crew_start(&crew);
	atomic_store(&a->slot->state, SLOT_IDLE);
	prefork_crew_wait(&crew, sig_fd);
	for (int i = 0; i < crew.n; i++) {
		int e = pthread_join(crew.t[i].tid, NULL);

		if (e != 0)
			panic("pthread_join: %s", strerror(e));
		close(crew.t[i].ep);
	}
	close(crew.stop_fd);
	close(crew.done_fd);
	acceptor_fini(&crew.ac);
	free(crew.t);
	free(crew.w);
}

void
model_prefork_run(const struct worker_args *a, int sig_fd)
{
	struct prefork p = { .a = a, .sig_fd = sig_fd };
	struct epoll_event ev[WORKER_MAX_LISTENERS + 1];
	int ep;

	if (a->svc->threads > 1) {
		prefork_crew_run(a, sig_fd);
		return;
	}
	ep = prefork_epoll(sig_fd);
	acceptor_init(&p.ac, a, 0, false);
	acceptor_watch_init(&p.w, &p.ac, ep, NULL);
	atomic_store(&a->slot->state, SLOT_IDLE);
	while (!acceptor_draining(&p.ac) && !p.quit) {
		int n = epoll_wait(ep, ev, (int)(a->n_fds + 1), acceptor_update(&p.w, clock_now()));

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			fatal(EXIT_OSERR, "epoll_wait: %s", strerror(errno));
		for (int i = 0; i < n && !acceptor_draining(&p.ac) && !p.quit; i++) {
			if (ev[i].data.fd == sig_fd)
				prefork_signals(&p);
			else
				prefork_accept(&p, ev[i].data.fd);
		}
	}
	acceptor_fini(&p.ac);
	close(ep);
}
