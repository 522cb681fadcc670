/*
 * model_thread.c - the thread model (Python's ThreadingMixIn): a worker is
 * an acceptor that gives every connection a thread of its own, and each
 * thread serves its connection with the blocking connection layer. Cheaper
 * than a process per connection; a handler that crashes takes the worker
 * with it.
 *
 * A thread whose connection has ended does not exit at once: it waits up
 * to THREAD_IDLE_MS for the acceptor to hand it the next connection, and
 * serves that one for its whole life in turn. Starting a thread costs a
 * clone, its stack's guard page and madvise, the signal mask dance and
 * the join, about as much CPU as serving a short connection; a waiting
 * thread costs one wakeup. At most THREAD_IDLE_MAX threads (and never more
 * than max_threads) wait at once, the latest to finish first in line, so
 * after a burst the extra threads end and the rest end after their wait.
 *
 * At most max_threads connections are served at once: at the limit the
 * acceptor takes its listeners out of its epoll set, so new clients wait in
 * the backlog (as model_fork.c does with max_children). A thread that ends
 * leaves its index on a done list, and a thread that leaves the limit
 * says so, through an eventfd; the acceptor joins the first and watches the
 * listeners again for the second. limits.max_connections works the same
 * way, except that the acceptor cannot be told when another worker frees a
 * place, so it looks again every WORKER_LIMIT_PAUSE_MS.
 *
 * Only the main thread reads signals and writes the slot; hung detection
 * and the slot's state are as worker_thread.c explains (a waiting thread is
 * not busy).
 *
 * SIGTERM/SIGINT: stop accepting, end the waiting threads, let every open
 * connection finish (an http one is handed over: each thread wakes on
 * drain_fd), exit. SIGQUIT: exit now. Other signals (SIGUSR1: the log
 * file): worker_signal(). After max_requests connections the acceptor
 * drains the same way and the master starts a fresh one.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "model.h"
#include "acceptor.h"
#include "worker_signal.h"
#include "sig.h"
#include "util.h"
#include "worker_thread.h"

#define THREAD_IDLE_MS 5000	/* a finished thread waits this long for another connection */
#define THREAD_IDLE_MAX 32	/* and at most this many wait at once */

enum thread_state {
	THREAD_NONE,			/* no thread in this place (or one that has ended) */
	THREAD_SERVING,			/* serving t->conn */
	THREAD_WAITING,			/* on the idle stack */
};

/* What a place's thread shares with the acceptor, under the lock. */
struct thread_place {
	sem_t wake;			/* posted: a connection was handed to it, or the drain */
	enum thread_state state;
};

struct threader {
	const struct worker_args *a;
	int sig_fd;
	int ep;
	int done_fd;			/* eventfd: a thread ended, or left the limit */
	int drain_fd;			/* eventfd: the drain; written once, never read */
	struct worker_thread *t;	/* max_threads of them */
	struct thread_place *p;		/* the same places */
	size_t *unused;			/* acceptor only: places with no thread, a stack */
	size_t n_unused;
	int alive;			/* acceptor only: threads started, not joined */
	int idle_max;			/* waiting threads at most */
	pthread_mutex_t lock;		/* guards what follows, and p[].state */
	size_t *idle;			/* waiting threads, the latest last */
	size_t n_idle;
	size_t *done;			/* ended, not joined yet */
	size_t n_done;
	_Atomic int serving;		/* connections in hand (changed under the lock) */
	bool stopping;			/* the drain: no thread waits any more */
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

static void
thread_tell(struct threader *f)
{
	uint64_t one = 1;

	while (write(f->done_fd, &one, sizeof(one)) == -1)
		if (errno != EINTR)
			fatal(EXIT_OSERR, "eventfd write: %s", strerror(errno));
}

/* Watch the listeners while another connection may be taken. */
static void
thread_watch(struct threader *f)
{
	acceptor_hold(&f->w, atomic_load(&f->serving) >= f->a->svc->max_threads);
}

/* T's place is off the idle stack, in order: the latest to finish stays
 * first in line. Under the lock. */
static void
thread_unidle(struct threader *f, struct worker_thread *t)
{
	for (size_t i = 0; i < f->n_idle; i++)
		if (f->idle[i] == t->index) {
			memmove(&f->idle[i], &f->idle[i + 1], (f->n_idle - i - 1) * sizeof(*f->idle));
			f->n_idle--;
			return;
		}
}

/* Wait for P's semaphore until UNTIL: 0, or ETIMEDOUT / EINTR. */
static int
thread_sleep(struct thread_place *p, const struct timespec *until)
{
	if (until == NULL ? sem_wait(&p->wake) == 0 :
	    sem_clockwait(&p->wake, CLOCK_MONOTONIC, until) == 0)
		return 0;
	if (errno != ETIMEDOUT && errno != EINTR)
		panic("sem_wait: %s", strerror(errno));
	return errno;
}

/*
 * Under the lock, after T's connection: wait for the next one, out of the
 * lock (the acceptor posts P's semaphore once it has handed one over and
 * let go of the lock, so the woken thread does not run into it). True:
 * serve t->conn. False: T ends, its reason in *WHY; it is off the idle
 * stack and still holds the lock.
 */
static bool
thread_wait(struct threader *f, struct worker_thread *t, const char **why)
{
	struct thread_place *p = &f->p[t->index];
	struct timespec until;
	int e;

	*why = "the worker drains";
	if (f->stopping)
		return false;
	*why = "enough threads wait";
	if (f->n_idle >= (size_t)f->idle_max)
		return false;
	if (clock_gettime(CLOCK_MONOTONIC, &until) == -1)
		fatal(EXIT_OSERR, "clock_gettime: %s", strerror(errno));
	until.tv_sec += THREAD_IDLE_MS / 1000;
	until.tv_nsec += (THREAD_IDLE_MS % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	p->state = THREAD_WAITING;
	f->idle[f->n_idle++] = t->index;
	for (;;) {
		thread_lock(&f->lock, false);
		e = thread_sleep(p, &until);
		thread_lock(&f->lock, true);
		if (p->state == THREAD_SERVING) {
			thread_lock(&f->lock, false);
			/* Handed one as the wait ran out: take its post too,
			 * or the next wait would wake for nothing. */
			while (e != 0)
				e = thread_sleep(p, NULL);
			return true;
		}
		if (f->stopping || e == ETIMEDOUT)
			break;
		/* EINTR: wait on. (Only a hand-over or the drain posts.) */
	}
	thread_unidle(f, t);
	*why = f->stopping ? "the worker drains" : "no connection came";
	return false;
}

/* A serving thread: its connection, then the next ones handed to it while
 * it waits, then the done list and the eventfd. */
static void *
thread_main(void *arg)
{
	struct worker_thread *t = arg;
	struct threader *f = t->model;
	const char *why;

	do {
		worker_thread_serve(f->a, t, &t->conn, f->drain_fd);
		acceptor_release(&f->ac, &t->conn);
		thread_lock(&f->lock, true);
		/* At the limit the acceptor holds its listeners off: tell it.
		 * (Under the lock, so that every place is always serving,
		 * waiting, done or free for the acceptor: rare, a write.) */
		if (atomic_fetch_sub(&f->serving, 1) == f->a->svc->max_threads)
			thread_tell(f);
	} while (thread_wait(f, t, &why));
	f->p[t->index].state = THREAD_NONE;
	f->done[f->n_done++] = t->index;
	thread_lock(&f->lock, false);
	log_debug("%s: a connection thread ends: %s", f->a->svc->name, why);
	thread_tell(f);
	return NULL;
}

/* Join the threads that ended, and make their places free. */
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
		f->alive--;
	}
}

/* T is about to serve C: the main thread's report sees it busy at once. */
static void
thread_assign(struct worker_thread *t, const struct accepted *c)
{
	t->conn = *c;
	atomic_store(&t->heartbeat_ns, clock_now());
	atomic_store(&t->busy, true);
}

/* Serve C on a thread of its own: a waiting one, else a new one; if none
 * can be had, drop it. */
static void
thread_start(struct threader *f, const struct accepted *c)
{
	struct worker_thread *t;
	int e;

	thread_lock(&f->lock, true);
	atomic_fetch_add(&f->serving, 1);
	if (f->n_idle > 0) {
		size_t i = f->idle[--f->n_idle];

		thread_assign(&f->t[i], c);
		f->p[i].state = THREAD_SERVING;
		thread_lock(&f->lock, false);
		if (sem_post(&f->p[i].wake) == -1)
			panic("sem_post: %s", strerror(errno));
		atomic_store(&f->a->slot->state, SLOT_BUSY);
		return;
	}
	thread_lock(&f->lock, false);
	/* Fewer than max_threads serve and none waits, so a place has no
	 * thread, or its thread has ended (on the done list): join it. */
	if (f->n_unused == 0)
		thread_reap(f);
	if (f->n_unused == 0)
		panic("thread model: no free place with %d serving", atomic_load(&f->serving));
	t = &f->t[f->unused[--f->n_unused]];
	thread_assign(t, c);
	f->p[t->index].state = THREAD_SERVING;	/* no thread there to race with */
	e = pthread_create(&t->tid, worker_thread_attr(), thread_main, t);
	if (e == 0) {
		f->alive++;
		atomic_store(&f->a->slot->state, SLOT_BUSY);
		return;
	}
	log_err("%s: pthread_create: %s; connection dropped", f->a->svc->name, strerror(e));
	atomic_store(&t->busy, false);
	thread_lock(&f->lock, true);
	f->p[t->index].state = THREAD_NONE;
	atomic_fetch_sub(&f->serving, 1);
	thread_lock(&f->lock, false);
	f->unused[f->n_unused++] = t->index;
	close(c->fd);
	acceptor_release(&f->ac, &t->conn);
}

/* No thread waits from now on: those waiting end. */
static void
thread_stop_waiting(struct threader *f)
{
	thread_lock(&f->lock, true);
	f->stopping = true;
	for (size_t i = 0; i < f->n_idle; i++)
		if (sem_post(&f->p[f->idle[i]].wake) == -1)
			panic("sem_post: %s", strerror(errno));
	thread_lock(&f->lock, false);
}

/* Stop accepting; waiting threads end, and every serving thread hears of
 * it in its connection's wait and finishes (or hands over: conn_drain)
 * its connection. */
static void
thread_drain(struct threader *f)
{
	uint64_t one = 1;

	if (!acceptor_drain(&f->ac))
		return;
	thread_stop_waiting(f);
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
	f->p = xcalloc(n, sizeof(*f->p));
	f->unused = xcalloc(n, sizeof(*f->unused));
	f->done = xcalloc(n, sizeof(*f->done));
	f->idle_max = f->a->svc->max_threads < THREAD_IDLE_MAX ? f->a->svc->max_threads :
	    THREAD_IDLE_MAX;
	f->idle = xcalloc((size_t)f->idle_max, sizeof(*f->idle));
	for (size_t i = 0; i < n; i++) {
		f->t[i] = (struct worker_thread){ .model = f, .conn = { .fd = -1 }, .ep = -1,
			.index = i };
		if (sem_init(&f->p[i].wake, 0, 0) == -1)
			fatal(EXIT_OSERR, "sem_init: %s", strerror(errno));
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

/* The loop is over (drained, or SIGQUIT with no connection in hand): end
 * the waiting threads and join every thread, so the process exits whole. */
static void
thread_end_all(struct threader *f)
{
	thread_stop_waiting(f);
	while (f->alive > 0) {
		struct pollfd p = { .fd = f->done_fd, .events = POLLIN };

		if (poll(&p, 1, -1) == -1 && errno != EINTR)
			fatal(EXIT_OSERR, "poll: %s", strerror(errno));
		thread_reap(f);
	}
}

void
model_thread_run(const struct worker_args *a, int sig_fd)
{
	struct threader f = { .a = a, .sig_fd = sig_fd };
	struct epoll_event ev[WORKER_MAX_LISTENERS + 2];
	int tick = clock_tick_ms(a->svc->heartbeat_ms);

	thread_setup(&f);
	atomic_store(&a->slot->state, SLOT_IDLE);
	while (!f.quit && !(acceptor_draining(&f.ac) && f.alive == 0)) {
		int n = epoll_wait(f.ep, ev, (int)(a->n_fds + 2), thread_timeout(&f, tick));

		if (n == -1 && errno != EINTR)
			fatal(EXIT_OSERR, "epoll_wait: %s", strerror(errno));
		thread_events(&f, ev, n);
		thread_watch(&f);
		worker_thread_report(a, f.t, (size_t)a->svc->max_threads,
		    acceptor_draining(&f.ac));
	}
	if (f.quit && atomic_load(&f.serving) > 0)
		_exit(0);	/* threads still serve: end them with the process */
	thread_end_all(&f);
	acceptor_fini(&f.ac);
	close(f.done_fd);
	close(f.drain_fd);
	close(f.ep);
	pthread_mutex_destroy(&f.lock);
	for (int i = 0; i < a->svc->max_threads; i++)
		sem_destroy(&f.p[i].wake);
	free(f.t);
	free(f.p);
	free(f.unused);
	free(f.idle);
	free(f.done);
}
