/*
 * model_thread.c - the thread model (Python's ThreadingMixIn): a worker is
 * an acceptor that starts a thread for every connection, and each thread
 * serves its connection with the blocking connection layer. Cheaper than a
 * process per connection; a handler that crashes takes the worker with it.
 *
 * At most max_threads connections are served at once: at the limit the
 * acceptor takes its listeners out of its epoll set, so new clients wait in
 * the backlog (as model_fork.c does with max_children). A finished thread
 * leaves its index on a done list and says so through an eventfd; the
 * acceptor joins it and watches the listeners again. limits.max_connections
 * works the same way, except that the acceptor cannot be told when another
 * worker frees a place, so it looks again every WORKER_LIMIT_PAUSE_MS.
 *
 * Only the main thread reads signals and writes the slot; hung detection
 * and the slot's state are as worker_thread.c explains.
 *
 * SIGTERM/SIGINT: stop accepting, let every open connection finish (an
 * http one is handed over: each thread wakes on drain_fd), exit.
 * SIGQUIT: exit now. Other signals (SIGUSR1: the log file): worker_signal().
 * After max_requests connections the acceptor drains the
 * same way and the master starts a fresh one.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "model.h"
#include "acceptor.h"
#include "worker_signal.h"
#include "sig.h"
#include "util.h"
#include "worker_thread.h"


struct threader {
	const struct worker_args *a;
	int sig_fd;
	int ep;
	int done_fd;			/* eventfd: a thread finished */
	int drain_fd;			/* eventfd: the drain; written once, never read */
	struct worker_thread *t;	/* max_threads of them */
	size_t *unused;			/* indices of unused t[], a stack */
	size_t n_unused;
	pthread_mutex_t lock;		/* guards done, n_done */
	size_t *done;			/* finished, not joined yet */
	size_t n_done;
	int running;
	struct acceptor ac;
	struct acceptor_watch w;	/* held while max_threads serve */
	bool quit;
};

static void
thread_lock(pthread_mutex_t *m, bool on)
{
	int e = on ? pthread_mutex_lock(m) : pthread_mutex_unlock(m);

	if (e != 0)
		panic("pthread_mutex: %s", strerror(e));
}

/* Watch the listeners while another connection may be taken. */
static void
thread_watch(struct threader *f)
{
	acceptor_hold(&f->w, f->running >= f->a->svc->max_threads);
}

/* A serving thread: the connection, then the done list and the eventfd. */
static void *
thread_main(void *arg)
{
	struct worker_thread *t = arg;
	struct threader *f = t->model;
	uint64_t one = 1;

	worker_thread_serve(f->a, t, &t->conn, f->drain_fd);
	acceptor_release(&f->ac, &t->conn);
	thread_lock(&f->lock, true);
	f->done[f->n_done++] = t->index;
	thread_lock(&f->lock, false);
	while (write(f->done_fd, &one, sizeof(one)) == -1)
		if (errno != EINTR)
			fatal(EXIT_OSERR, "eventfd write: %s", strerror(errno));
	return NULL;
}

/* Join the threads that finished, and make their places free. */
static void
thread_reap(struct threader *f)
{
	uint64_t n;

	if (read(f->done_fd, &n, sizeof(n)) == -1 && errno != EAGAIN && errno != EINTR)
		fatal(EXIT_OSERR, "eventfd read: %s", strerror(errno));
	for (;;) {
		size_t i;
		int e;

		thread_lock(&f->lock, true);
		if (f->n_done == 0) {
			thread_lock(&f->lock, false);
			return;
		}
		i = f->done[--f->n_done];
		thread_lock(&f->lock, false);
		if ((e = pthread_join(f->t[i].tid, NULL)) != 0)
			panic("pthread_join: %s", strerror(e));
		f->unused[f->n_unused++] = i;
		f->running--;
	}
}

/* Serve C on a thread of its own; if none can be had, drop it. */
static void
thread_start(struct threader *f, const struct accepted *c)
{
	struct worker_thread *t = &f->t[f->unused[--f->n_unused]];
	int e;

	t->conn = *c;
	atomic_store(&t->heartbeat_ns, clock_now());
	atomic_store(&t->busy, true);	/* busy from now: the report sees it at once */
	e = pthread_create(&t->tid, worker_thread_attr(), thread_main, t);
	if (e == 0) {
		f->running++;
		atomic_store(&f->a->slot->state, SLOT_BUSY);
		return;
	}
	log_err("%s: pthread_create: %s; connection dropped", f->a->svc->name, strerror(e));
	atomic_store(&t->busy, false);
	f->unused[f->n_unused++] = t->index;
	close(c->fd);
	acceptor_release(&f->ac, &t->conn);
}

/* Stop accepting; every thread hears of it in its connection's wait, and
 * finishes (or hands over: conn_drain) its connection. */
static void
thread_drain(struct threader *f)
{
	uint64_t one = 1;

	if (!acceptor_drain(&f->ac))
		return;
	while (write(f->drain_fd, &one, sizeof(one)) == -1)
		if (errno != EINTR)
			fatal(EXIT_OSERR, "eventfd write: %s", strerror(errno));
}

static void
thread_accept(struct threader *f, int lfd)
{
	struct accepted c;

	if (acceptor_take(&f->w, lfd, true, &c) != ACCEPTOR_CONN)
		return;		/* at a limit: the backlog holds it a moment */
	thread_start(f, &c);
	if (c.recycle)
		thread_drain(f);	/* its threads finish; a fresh worker takes over */
}

static void
thread_signals(struct threader *f)
{
	struct sig_info si;

	/* (SIGUSR1: every thread writes the new log file at once.) */
	while (sig_read(f->sig_fd, &si))
		switch (worker_signal(f->a, &si)) {
		case WORKER_QUIT:
			f->quit = true;
			break;
		case WORKER_DRAIN:
			thread_drain(f);
			break;
		default:
			break;
		}
}

static void
thread_setup(struct threader *f)
{
	size_t n = (size_t)f->a->svc->max_threads;
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = f->sig_fd };
	int e;

	f->t = xcalloc(n, sizeof(*f->t));
	f->unused = xcalloc(n, sizeof(*f->unused));
	f->done = xcalloc(n, sizeof(*f->done));
	for (size_t i = 0; i < n; i++) {
		f->t[i] = (struct worker_thread){ .model = f, .conn = { .fd = -1 }, .ep = -1,
			.index = i };
		f->unused[f->n_unused++] = n - 1 - i;
	}
	if ((e = pthread_mutex_init(&f->lock, NULL)) != 0)
		fatal(EXIT_OSERR, "pthread_mutex_init: %s", strerror(e));
	f->ep = epoll_create1(EPOLL_CLOEXEC);
	f->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	f->drain_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (f->ep == -1 || f->done_fd == -1 || f->drain_fd == -1 || epoll_ctl(f->ep, EPOLL_CTL_ADD, f->sig_fd, &ev) == -1)
		fatal(EXIT_OSERR, "epoll: %s", strerror(errno));
	ev = (struct epoll_event){ .events = EPOLLIN, .data.fd = f->done_fd };
	if (epoll_ctl(f->ep, EPOLL_CTL_ADD, f->done_fd, &ev) == -1)
		fatal(EXIT_OSERR, "epoll_ctl: %s", strerror(errno));
	acceptor_init(&f->ac, f->a, 0, false);
	acceptor_watch_init(&f->w, &f->ac, f->ep, NULL);
}

static void
thread_events(struct threader *f, const struct epoll_event *ev, int n)
{
	for (int i = 0; i < n && !f->quit; i++) {
		if (ev[i].data.fd == f->sig_fd)
			thread_signals(f);
		else if (ev[i].data.fd == f->done_fd)
			thread_reap(f);
		else
			thread_accept(f, ev[i].data.fd);
		thread_watch(f);
	}
}

/* A tick, or sooner while a pause keeps the listeners unwatched. */
static int
thread_timeout(struct threader *f, int tick)
{
	int ms = acceptor_update(&f->w, clock_now());

	return ms >= 0 && ms < tick ? ms : tick;
}

void
model_thread_run(const struct worker_args *a, int sig_fd)
{
	struct threader f = { .a = a, .sig_fd = sig_fd };
	struct epoll_event ev[WORKER_MAX_LISTENERS + 2];
	int tick = clock_tick_ms(a->svc->heartbeat_ms);

	thread_setup(&f);
	atomic_store(&a->slot->state, SLOT_IDLE);
	while (!f.quit && !(acceptor_draining(&f.ac) && f.running == 0)) {
		int n = epoll_wait(f.ep, ev, (int)(a->n_fds + 2), thread_timeout(&f, tick));

		if (n == -1 && errno != EINTR)
			fatal(EXIT_OSERR, "epoll_wait: %s", strerror(errno));
		thread_events(&f, ev, n);
		thread_watch(&f);
		worker_thread_report(a, f.t, (size_t)a->svc->max_threads,
		    acceptor_draining(&f.ac));
	}
	if (f.quit && f.running > 0)
		_exit(0);	/* threads still serve: end them with the process */
	acceptor_fini(&f.ac);
	close(f.done_fd);
	close(f.drain_fd);
	close(f.ep);
	pthread_mutex_destroy(&f.lock);
	free(f.t);
	free(f.unused);
	free(f.done);
}
