/*
 * dgram_loop.c - datagram services under the models that serve in a loop:
 * prefork (threads = 1: the classic iterative UDP server with workers = 1),
 * prefork with threads > 1 (that many loops in the worker), and event (one
 * loop, batched). Each loop waits on the service's sockets with epoll
 * (EPOLLEXCLUSIVE: one waiter is woken per datagram, not every worker),
 * then takes batches with recvmmsg and answers with sendmmsg (dgram.c).
 *
 * A service of one socket waits in recvmmsg itself instead (MSG_WAITFORONE,
 * with SO_RCVTIMEO of DLOOP_WAIT_MS so that the loop looks at its signals,
 * the drain and its heartbeat that often): a socket in an epoll set has a
 * waiter on its queue all the time, so every datagram queued and every
 * reply freed runs epoll's wakeup callback, even while the loop is busy;
 * a blocked recvmmsg waits on the queue only while there is nothing to
 * take, and the kernel wakes one blocked reader (exclusively) per
 * datagram. Measured: 1.10-1.13 of the floor's CPU per datagram with
 * epoll, about 1.0 without (docs/BENCHMARKS.md).
 *
 * The sockets are the master's, shared by every worker of the service and
 * inherited through fork: what waits in a socket's buffer when a worker
 * leaves (recycled, reloaded, killed) is taken by the next, nothing is
 * lost to a respawn. (Per-worker SO_REUSEPORT sockets would spread the
 * load in the kernel instead, but a datagram queued on the socket of a
 * worker that leaves is lost with it; not measured here.)
 *
 * The slot says BUSY while a loop serves a batch, IDLE while it waits, so
 * the master's hung rule (a BUSY worker whose heartbeat is older than
 * timeouts.heartbeat) applies as to streams. With threads, each loop has
 * its own heartbeat and the main thread reports them (worker_thread.c);
 * only the main thread reads signals.
 *
 * SIGTERM/SIGINT (and max_requests datagrams served): drain - stop
 * reading, answer the batch in hand, exit 0; the slot says DRAINING and
 * the master is woken to start a replacement. SIGQUIT: exit now.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "clock.h"
#include "dgram.h"
#include "log.h"
#include "model.h"
#include "worker_signal.h"
#include "worker_thread.h"
#include "util.h"

#define DLOOP_SIG UINT32_MAX		/* epoll data: the signal descriptor */
#define DLOOP_STOP (UINT32_MAX - 1)	/* epoll data: the stop eventfd */
#define DLOOP_ROUNDS 8			/* batches from one socket before looking again */
#define DLOOP_WAIT_MS 100		/* a loop blocked in recvmmsg looks up this often */
#define DLOOP_LOOK_MS 20		/* and a busy one at its signals this often */

struct dloop {
	const struct worker_args *a;
	int sig_fd;			/* only the main thread's loop watches it */
	int stop_fd;			/* readable from the drain on: every loop ends */
	_Atomic bool draining;
	bool quit;
	_Atomic uint64_t taken;		/* datagrams served, for max_requests */
	size_t n_threads;		/* 0: the main thread is the only loop */
	struct worker_thread *t;
};

/* Stop reading: every loop ends after its batch; the master is told. */
static void
dloop_drain(struct dloop *d)
{
	uint64_t one = 1;

	if (atomic_exchange(&d->draining, true))
		return;
	atomic_store(&d->a->slot->state, SLOT_DRAINING);
	if (write(d->stop_fd, &one, sizeof(one)) == -1 && errno != EAGAIN)
		log_warn("%s: eventfd: %s", d->a->svc->name, strerror(errno));
	if (write(d->a->wake_fd, &one, sizeof(one)) == -1 && errno != EAGAIN && errno != EINTR)
		log_warn("%s: waking the master: %s", d->a->svc->name, strerror(errno));
}

static void
dloop_signals(struct dloop *d)
{
	struct sig_info si;

	while (sig_read(d->sig_fd, &si))
		switch (worker_signal(d->a, &si)) {
		case WORKER_DRAIN:
			dloop_drain(d);
			break;
		case WORKER_QUIT:
			d->quit = true;
			break;
		default:
			break;
		}
}

static int
dloop_epoll(struct dloop *d, bool signals)
{
	const struct worker_args *a = d->a;
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = DLOOP_STOP };
	int ep = epoll_create1(EPOLL_CLOEXEC);

	if (ep == -1 || epoll_ctl(ep, EPOLL_CTL_ADD, d->stop_fd, &ev) == -1)
		fatal(EXIT_OSERR, "epoll: %s", strerror(errno));
	ev.data.u32 = DLOOP_SIG;
	if (signals && epoll_ctl(ep, EPOLL_CTL_ADD, d->sig_fd, &ev) == -1)
		fatal(EXIT_OSERR, "epoll_ctl: %s", strerror(errno));
	for (size_t i = 0; i < a->n_fds; i++) {
		ev = (struct epoll_event){ .events = EPOLLIN | EPOLLEXCLUSIVE, .data.u32 = (uint32_t)i };
		if (epoll_ctl(ep, EPOLL_CTL_ADD, a->fds[i], &ev) == -1)
			fatal(EXIT_OSERR, "epoll_ctl: %s", strerror(errno));
	}
	return ep;
}

/* Datagrams served: max_requests counts them. */
static void
dloop_taken(struct dloop *d, unsigned n)
{
	const struct worker_args *a = d->a;
	uint64_t was = atomic_fetch_add(&d->taken, n);

	if (a->max_requests != 0 && was < (uint64_t)a->max_requests &&
	    was + n >= (uint64_t)a->max_requests) {
		log_info("%s: worker recycles after %llu datagrams", a->svc->name,
		    (unsigned long long)(was + n));
		dloop_drain(d);
	}
}

/* Serve what waits on socket FD, a few batches at most (the other
 * sockets, and the signals, get their turn). */
static void
dloop_serve(struct dloop *d, struct dgram_batch *b, int fd)
{
	for (int round = 0; round < DLOOP_ROUNDS && !atomic_load(&d->draining); round++) {
		unsigned n = dgram_run(b, fd, 0, round == 0);

		if (n > 0)
			dloop_taken(d, n);
		if (b->n < b->cap)
			break;	/* the socket is empty */
	}
}

/*
 * One socket: block in recvmmsg (see the top of the file). False when the
 * socket takes no receive timeout: then the epoll loop serves it.
 */
static bool
dloop_run_blocking(struct dloop *d, struct worker_thread *t, _Atomic int64_t *beat)
{
	const struct worker_args *a = d->a;
	struct timeval tv = { .tv_sec = 0, .tv_usec = DLOOP_WAIT_MS * 1000 };
	struct dgram_batch b;
	int fd = a->fds[0];

	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1) {
		log_warn("%s: SO_RCVTIMEO: %s; waiting with epoll", a->svc->name, strerror(errno));
		return false;
	}
	dgram_batch_init(&b, a, beat, 0);
	b.wait = true;
	for (int64_t looked = 0; !d->quit && !atomic_load(&d->draining);) {
		unsigned n;

		/* The signals at least every DLOOP_LOOK_MS of batches, and after
		 * every quiet wait: not a read of the signalfd per batch. */
		if (t == NULL && (looked == 0 || b.now - looked >= DLOOP_LOOK_MS * NS_PER_MS)) {
			dloop_signals(d);
			looked = b.now;
		}
		if (d->quit || atomic_load(&d->draining))
			break;
		n = dgram_receive(&b, fd, 0, false);
		if (n == 0) {
			atomic_store(beat, clock_now());	/* a quiet wait is alive too */
			looked = 0;
			continue;
		}
		if (t != NULL)
			atomic_store(&t->busy, true);
		else
			atomic_store(&a->slot->state, SLOT_BUSY);
		for (unsigned i = 0; i < n; i++)
			dgram_serve(&b, i);
		dgram_flush(&b);
		dloop_taken(d, n);
		if (t != NULL)
			atomic_store(&t->busy, false);
		else if (!atomic_load(&d->draining))
			atomic_store(&a->slot->state, SLOT_IDLE);
	}
	dgram_batch_fini(&b);
	return true;
}

/* One loop: the main thread's (T NULL, signals too) or a thread's. */
static void
dloop_run(struct dloop *d, struct worker_thread *t)
{
	const struct worker_args *a = d->a;
	_Atomic int64_t *beat = t != NULL ? &t->heartbeat_ns : &a->slot->heartbeat_ns;
	struct epoll_event ev[WORKER_MAX_LISTENERS + 2];
	struct dgram_batch b;
	int ep;

	if (a->n_fds == 1 && dloop_run_blocking(d, t, beat))
		return;
	ep = dloop_epoll(d, t == NULL);
	dgram_batch_init(&b, a, beat, 0);
	while (!d->quit && !atomic_load(&d->draining)) {
		int n = epoll_wait(ep, ev, (int)(a->n_fds + 2), clock_tick_ms(a->svc->heartbeat_ms));

		atomic_store(beat, clock_now());
		if (n == -1 && errno != EINTR)
			fatal(EXIT_OSERR, "epoll_wait: %s", strerror(errno));
		for (int i = 0; i < n && !d->quit && !atomic_load(&d->draining); i++) {
			uint32_t what = ev[i].data.u32;

			if (what == DLOOP_SIG) {
				dloop_signals(d);
				continue;
			}
			if (what == DLOOP_STOP)
				break;
			if (t != NULL)
				atomic_store(&t->busy, true);
			else
				atomic_store(&a->slot->state, SLOT_BUSY);
			dloop_serve(d, &b, a->fds[what]);
			if (t != NULL)
				atomic_store(&t->busy, false);
			else if (!atomic_load(&d->draining))
				atomic_store(&a->slot->state, SLOT_IDLE);
		}
	}
	dgram_batch_fini(&b);
	close(ep);
}

static void *
dloop_thread(void *arg)
{
	struct worker_thread *t = arg;

	dloop_run(t->model, t);
	return NULL;
}

/* prefork with threads > 1: the main thread reads signals and reports. */
static void
dloop_threads(struct dloop *d)
{
	const struct worker_args *a = d->a;
	struct epoll_event ev;
	int ep = epoll_create1(EPOLL_CLOEXEC), e;

	ev = (struct epoll_event){ .events = EPOLLIN, .data.u32 = DLOOP_SIG };
	if (ep == -1 || epoll_ctl(ep, EPOLL_CTL_ADD, d->sig_fd, &ev) == -1)
		fatal(EXIT_OSERR, "epoll: %s", strerror(errno));
	d->t = xcalloc(d->n_threads, sizeof(*d->t));
	for (size_t i = 0; i < d->n_threads; i++) {
		d->t[i] = (struct worker_thread){ .model = d, .index = i };
		atomic_store(&d->t[i].heartbeat_ns, clock_now());
		if ((e = pthread_create(&d->t[i].tid, worker_thread_attr(), dloop_thread, &d->t[i])) != 0)
			fatal(EXIT_OSERR, "pthread_create: %s", strerror(e));
	}
	while (!atomic_load(&d->draining)) {
		int n = epoll_wait(ep, &ev, 1, clock_tick_ms(a->svc->heartbeat_ms));

		if (n == -1 && errno != EINTR)
			fatal(EXIT_OSERR, "epoll_wait: %s", strerror(errno));
		if (n == 1)
			dloop_signals(d);
		if (d->quit)
			_exit(0);	/* the datagrams in hand go with the process */
		worker_thread_report(a, d->t, d->n_threads, atomic_load(&d->draining));
	}
	/* Draining: the loops finish their batches. The report goes on, so a
	 * loop stuck in a handler still shows as hung; SIGQUIT still works. */
	for (size_t i = 0; i < d->n_threads; i++) {
		while ((e = pthread_tryjoin_np(d->t[i].tid, NULL)) == EBUSY) {
			int n = epoll_wait(ep, &ev, 1, 20);

			if (n == 1)
				dloop_signals(d);
			if (d->quit)
				_exit(0);
			worker_thread_report(a, d->t, d->n_threads, true);
		}
		if (e != 0)
			panic("pthread_join: %s", strerror(e));
	}
	free(d->t);
	close(ep);
}

void
dgram_loop_run(const struct worker_args *a, int sig_fd)
{
	struct dloop d = { .a = a, .sig_fd = sig_fd,
		.stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK) };

	if (d.stop_fd == -1)
		fatal(EXIT_OSERR, "eventfd: %s", strerror(errno));
	if (a->svc->model == MODEL_PREFORK && a->svc->threads > 1)
		d.n_threads = (size_t)a->svc->threads;
	atomic_store(&a->slot->heartbeat_ns, clock_now());
	atomic_store(&a->slot->state, SLOT_IDLE);
	if (d.n_threads > 0)
		dloop_threads(&d);
	else
		dloop_run(&d, NULL);
	close(d.stop_fd);
}
