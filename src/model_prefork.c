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
#include "conn.h"
#include "log.h"
#include "model.h"
#include "worker.h"
#include "sig.h"
#include "util.h"
#include "worker_thread.h"


struct prefork {
	const struct worker_args *a;
	int sig_fd;
	bool draining;			/* stop after the current connection */
	bool quit;			/* stop now */
	bool closed;			/* listeners closed */
	bool limited;			/* at limits.max_connections: pause */
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
	worker_draining(p->a);
}

/* Read pending signals; what they ask for is noted in P. */
static void
prefork_signals(struct prefork *p)
{
	struct sig_info si;

	while (sig_read(p->sig_fd, &si)) {
		if (si.signo == SIGQUIT)
			p->quit = true;
		if (si.signo == SIGQUIT || si.signo == SIGTERM || si.signo == SIGINT)
			prefork_drain(p);
		else
			worker_signal(p->a, &si);
	}
}

/* max_requests reached: exit so the master starts a fresh worker. */
static void
prefork_recycle(struct prefork *p)
{
	if (!p->draining && worker_recycle_due(p->a, atomic_load(&p->a->slot->served)))
		prefork_drain(p);
}

static void
prefork_serve(struct prefork *p, int fd)
{
	struct conn c;

	atomic_store(&p->a->slot->heartbeat_ns, clock_now());
	atomic_store(&p->a->slot->state, SLOT_BUSY);
	conn_open(&c, fd, p->a->svc, p->a->slot, NULL);
	while (conn_run(&c, p->sig_fd) == 0) {
		prefork_signals(p);
		if (p->quit)
			break;
	}
	if (p->quit)
		conn_end(&c, CONN_END_STOPPING);
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
	int fd;

	if (!worker_conn_reserve(p->a)) {
		p->limited = true;
		return;
	}
	if ((fd = worker_accept(p->a, lfd, 0, NULL, true)) >= 0)
		prefork_serve(p, fd);
	p->limited = fd == WORKER_ACCEPT_PAUSE;
	worker_conn_release(p->a);
}

/* At limits.max_connections or out of descriptors: leave new clients in
 * the backlog for a moment, listening only for signals. */
static void
prefork_pause(struct prefork *p, int ep)
{
	struct epoll_event ev;

	worker_watch(p->a, ep, false);
	if (epoll_wait(ep, &ev, 1, WORKER_LIMIT_PAUSE_MS) == -1 && errno != EINTR)
		fatal(EXIT_OSERR, "epoll_wait: %s", strerror(errno));
	worker_watch(p->a, ep, true);
	p->limited = false;
}

/* An epoll instance with the listeners (EPOLLEXCLUSIVE) and WAKE_FD, which
 * says to stop (the signalfd, or with threads the shared stop eventfd). */
static int
prefork_epoll(const struct worker_args *a, int wake_fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = wake_fd };
	int ep = epoll_create1(EPOLL_CLOEXEC);

	if (ep == -1 || epoll_ctl(ep, EPOLL_CTL_ADD, wake_fd, &ev) == -1)
		fatal(EXIT_OSERR, "epoll: %s", strerror(errno));
	worker_watch(a, ep, true);
	return ep;
}

/* ---- threads > 1 ---------------------------------------------------- */

struct prefork_crew {
	const struct worker_args *a;
	int stop_fd;			/* eventfd: written once, never read */
	int done_fd;			/* eventfd: a thread has ended */
	pthread_rwlock_t lock;		/* read: accepting; write: closing listeners */
	bool closed;			/* listeners closed (under lock) */
	_Atomic bool stop;		/* draining: accept no more */
	_Atomic uint64_t accepted;
	_Atomic int ended;		/* threads that have returned */
	struct worker_thread *t;
	int n;
};

static void
prefork_lock(struct prefork_crew *crew, int how)	/* 'r', 'w' or 0: unlock */
{
	int e = how == 'r' ? pthread_rwlock_rdlock(&crew->lock) :
	    how == 'w' ? pthread_rwlock_wrlock(&crew->lock) : pthread_rwlock_unlock(&crew->lock);

	if (e != 0)
		panic("pthread_rwlock: %s", strerror(e));
}

/* Stop accepting, from the main thread (signal) or a serving one
 * (max_requests): wake every thread, take the listeners out of every
 * epoll set, close them. Connections in hand finish. */
static void
prefork_crew_stop(struct prefork_crew *crew)
{
	uint64_t one = 1;

	if (atomic_exchange(&crew->stop, true))
		return;
	worker_draining(crew->a);
	while (write(crew->stop_fd, &one, sizeof(one)) == -1)
		if (errno != EINTR)
			fatal(EXIT_OSERR, "eventfd write: %s", strerror(errno));
	prefork_lock(crew, 'w');
	for (int i = 0; i < crew->n; i++)
		worker_watch(crew->a, crew->t[i].ep, false);
	for (size_t i = 0; i < crew->a->n_fds; i++)
		close(crew->a->fds[i]);
	crew->closed = true;
	prefork_lock(crew, 0);
}

/* limits.max_connections reached: let the backlog hold new clients for a
 * moment (another worker may free a place; nothing tells us when). */
static void
prefork_thread_pause(struct prefork_crew *crew, struct worker_thread *t)
{
	struct epoll_event ev;

	prefork_lock(crew, 'r');
	if (!crew->closed)
		worker_watch(crew->a, t->ep, false);
	prefork_lock(crew, 0);
	if (epoll_wait(t->ep, &ev, 1, WORKER_LIMIT_PAUSE_MS) == -1 && errno != EINTR)
		fatal(EXIT_OSERR, "epoll_wait: %s", strerror(errno));
	prefork_lock(crew, 'r');
	if (!crew->closed)
		worker_watch(crew->a, t->ep, true);
	prefork_lock(crew, 0);
}

static void
prefork_thread_accept(struct prefork_crew *crew, struct worker_thread *t, int lfd)
{
	const struct worker_args *a = crew->a;
	uint64_t n;
	int fd;

	if (!worker_conn_reserve(a)) {
		prefork_thread_pause(crew, t);
		return;
	}
	prefork_lock(crew, 'r');
	fd = crew->closed ? WORKER_ACCEPT_NONE : worker_accept(a, lfd, 0, NULL, true);
	prefork_lock(crew, 0);
	if (fd < 0) {
		worker_conn_release(a);
		if (fd == WORKER_ACCEPT_PAUSE)
			prefork_thread_pause(crew, t);
		return;
	}
	n = atomic_fetch_add(&crew->accepted, 1) + 1;
	if (worker_recycle_due(a, n))
		prefork_crew_stop(crew);	/* this one is still served */
	worker_thread_serve(a, t, fd);
}

/* A serving thread: wait, accept, serve, until the crew stops. */
static void *
prefork_thread_main(void *arg)
{
	struct worker_thread *t = arg;
	struct prefork_crew *crew = t->model;
	struct epoll_event ev[WORKER_MAX_LISTENERS + 1];
	uint64_t one = 1;

	while (!atomic_load(&crew->stop)) {
		int n = epoll_wait(t->ep, ev, (int)(crew->a->n_fds + 1), -1);

		if (n == -1 && errno != EINTR)
			fatal(EXIT_OSERR, "epoll_wait: %s", strerror(errno));
		for (int i = 0; i < n && !atomic_load(&crew->stop); i++)
			if (ev[i].data.fd != crew->stop_fd)
				prefork_thread_accept(crew, t, ev[i].data.fd);
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
	pthread_rwlockattr_t ra;
	int e;

	crew->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	crew->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (crew->stop_fd == -1 || crew->done_fd == -1)
		fatal(EXIT_OSERR, "eventfd: %s", strerror(errno));
	/* Writers first: a drain must not wait behind a stream of accepts. */
	if ((e = pthread_rwlockattr_init(&ra)) != 0 ||
	    (e = pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP)) != 0 ||
	    (e = pthread_rwlock_init(&crew->lock, &ra)) != 0)
		fatal(EXIT_OSERR, "pthread_rwlock_init: %s", strerror(e));
	pthread_rwlockattr_destroy(&ra);
	/* Every epoll set first: a thread that drains (max_requests) goes
	 * through all of them, and may do so before the last thread starts. */
	crew->t = xcalloc((size_t)crew->n, sizeof(*crew->t));
	for (int i = 0; i < crew->n; i++)
		crew->t[i] = (struct worker_thread){ .model = crew, .fd = -1, .index = (size_t)i,
			.ep = prefork_epoll(crew->a, crew->stop_fd) };
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
		while (p[0].revents != 0 && sig_read(sig_fd, &si)) {
			if (si.signo == SIGQUIT)
				_exit(0);	/* connections in hand go with the process */
			if (si.signo == SIGTERM || si.signo == SIGINT)
				prefork_crew_stop(crew);
			else
				worker_signal(crew->a, &si);	/* the threads write the new log file at once */
		}
		if (p[1].revents != 0 && read(crew->done_fd, &n, sizeof(n)) == -1 &&
		    errno != EAGAIN && errno != EINTR)
			fatal(EXIT_OSERR, "eventfd read: %s", strerror(errno));
		worker_thread_report(crew->a, crew->t, (size_t)crew->n, atomic_load(&crew->stop));
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
	pthread_rwlock_destroy(&crew.lock);
	free(crew.t);
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
	ep = prefork_epoll(a, sig_fd);

	atomic_store(&a->slot->state, SLOT_IDLE);
	while (!p.draining && !p.quit) {
		int n;

		if (p.limited)
			prefork_pause(&p, ep);
		n = epoll_wait(ep, ev, (int)(a->n_fds + 1), -1);

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
}
