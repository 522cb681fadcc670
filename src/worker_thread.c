/*
 * worker_thread.c - what the threaded models (model_thread.c, and
 * model_prefork.c with threads > 1) share: serving one connection in a
 * thread, and the main thread's report of all its threads into the
 * worker's scoreboard slot.
 *
 * The master knows processes, not threads. Each thread keeps a heartbeat
 * of its own; every tick the main thread writes the oldest heartbeat among
 * the busy threads (or now, if none is busy) into the slot, and marks the
 * slot BUSY while any thread serves a connection. So one thread stuck in a
 * handler makes the whole worker look hung, and the master kills and
 * replaces it whole: a process that lost a thread is not worth keeping.
 *
 * BUSY means "serving at least one connection" in every model
 * (scoreboard.h), because the pool's hung detection only looks at BUSY
 * workers. The price is in pool.mode = "dynamic": a worker counts as idle
 * only while all its threads are, so spare capacity is counted in whole
 * idle workers (min_spare idle workers are at least min_spare * threads
 * idle threads): more spare threads than Apache's worker MPM keeps, never
 * fewer. A draining worker keeps reporting, so the master's hung rule
 * applies to it too (pool.c).
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "conn.h"
#include "log.h"
#include "worker_thread.h"

#define WORKER_THREAD_STACK (512 * 1024)	/* a conn needs ~20 KiB; the rest is margin */

/* Attributes for every serving thread: joinable, with a modest stack so
 * that hundreds of threads do not reserve 8 MiB of address space each. */
pthread_attr_t *
worker_thread_attr(void)
{
	static pthread_attr_t attr;
	static bool ready;
	int e;

	if (ready)
		return &attr;
	if ((e = pthread_attr_init(&attr)) != 0 ||
	    (e = pthread_attr_setstacksize(&attr, WORKER_THREAD_STACK)) != 0)
		fatal(EXIT_OSERR, "pthread_attr: %s", strerror(e));
	ready = true;
	return &attr;
}

/*
 * Serve AC's connection to its end on the calling thread, with T's own
 * heartbeat, then close it (the caller gives its place back to the
 * acceptor). Only the main thread reads signals; DRAIN_FD is the model's
 * eventfd, written once when the worker drains and never read, so it
 * stays readable: the connection's wait wakes on it (at any time, before
 * the wait too), hears of the drain (conn_drain), and waits on without it.
 */
void
worker_thread_serve(const struct worker_args *a, struct worker_thread *t,
    const struct accepted *ac, int drain_fd)
{
	struct conn *c;
	int fd = ac->fd;

	atomic_store(&t->heartbeat_ns, clock_now());
	atomic_store(&t->busy, true);
	c = conn_open(fd, &ac->peer, a->svc, a->handler, a->slot, &t->heartbeat_ns);
	if (conn_run(c, drain_fd) == 0) {
		conn_drain(c);
		conn_run(c, -1);	/* poll ignores fd -1: returns only at the end */
	}
	conn_finish(c);
	if (close(fd) == -1 && errno != EINTR)
		log_debug("%s: close: %s", a->svc->name, strerror(errno));
	atomic_store(&t->busy, false);
}

/* The main thread, every tick: the N threads in T summed up in the slot. */
void
worker_thread_report(const struct worker_args *a, struct worker_thread *t, size_t n,
    bool draining)
{
	int64_t now = clock_now(), oldest = now;
	bool busy = false;

	for (size_t i = 0; i < n; i++) {
		if (!atomic_load(&t[i].busy))
			continue;
		int64_t hb = atomic_load(&t[i].heartbeat_ns);

		busy = true;
		if (hb < oldest)
			oldest = hb;
	}
	atomic_store(&a->slot->heartbeat_ns, oldest);
	/* DRAINING again, in case a thread started the drain after we looked. */
	atomic_store(&a->slot->state, draining ? SLOT_DRAINING : busy ? SLOT_BUSY : SLOT_IDLE);
}
