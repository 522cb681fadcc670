/*
 * model_fork.c - the fork model: a worker is an acceptor that forks a child
 * for every connection (inetd, tcpserver, Python's ForkingMixIn). Each
 * connection gets a process of its own, so a handler may block or crash
 * without touching the others.
 *
 * limits.max_connections is reserved before each accept and given back
 * when the child is reaped; at that limit the listeners leave the epoll
 * set for WORKER_LIMIT_PAUSE_MS.
 *
 * At most max_children children run at once: at the limit the acceptor
 * stops watching its listeners, and new connections wait in the backlog
 * instead of being accepted and dropped. Children are reaped on SIGCHLD
 * (read from the signalfd), so none stays a zombie. Children die with the
 * acceptor (PR_SET_PDEATHSIG), and update the acceptor's scoreboard slot
 * (shared memory) through the connection layer.
 *
 * Each child keeps a heartbeat of its own in memory shared with the
 * acceptor (one per child slot); the acceptor, which ticks the worker's
 * heartbeat itself, kills a child whose heartbeat is older than
 * timeouts.heartbeat and logs it: a handler stuck in one connection costs
 * that connection, not the acceptor and its other children.
 *
 * Connection processes that crash (killed by a signal other than ours, or
 * a non-zero exit) within a second of their start hold accepting back
 * with the workers' backoff (pool.c): 10 ms after the first, doubling up
 * to 5 s, one connection at a time meanwhile; a probe that ends cleanly
 * or runs for a second ends it. The first crash is logged with its pid,
 * the rest as one line per 10 s: "N connection processes crashed in the
 * last 10 s". A process that dies by a signal cannot give back its place
 * in the slot's count of open connections: the acceptor clamps that count
 * to its number of children (each holds at most one) after each reap.
 *
 * SIGTERM/SIGINT: stop accepting, pass SIGTERM on (each child finishes its
 * connection), exit when the last child has. SIGQUIT: exit now; the
 * children follow through their death signal. After max_requests
 * connections the acceptor drains the same way and the master replaces it.
 * Other signals (SIGUSR1: the log file): worker_signal(), in the acceptor.
 * A connection process keeps the log file it was forked with until its
 * connection ends, and ignores every signal but SIGTERM and SIGQUIT.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "acceptor.h"
#include "clock.h"
#include "conn.h"
#include "log.h"
#include "model.h"
#include "worker_signal.h"
#include "pool.h"
#include "sig.h"
#include "util.h"


struct forker {
	const struct worker_args *a;
	int sig_fd;
	int ep;
	pid_t *kids;			/* max_children slots; 0: free */
	_Atomic int64_t *beats;		/* per slot, shared: the child's heartbeat */
	int64_t *born;			/* per slot: when the child was forked */
	bool *killed;			/* per slot: killed by us (hung), no crash */
	struct pool_backoff crash;	/* crashing connection processes */
	pid_t probe;			/* while crashing: the one connection allowed */
	int64_t crash_log_ns;		/* crashes counted, not logged, since then (0: none) */
	unsigned crashes;		/* counted since crash_log_ns */
	int children;
	struct accepted *taken;		/* per slot: the child's place, for the acceptor */
	struct acceptor ac;
	struct acceptor_watch w;	/* held at max_children and while probing */
	bool quit;
};

/* In the child: serve the one connection and exit. */
static noreturn void
fork_child(const struct forker *f, const struct accepted *ac, pid_t acceptor, int kid)
{
	struct conn *c;
	bool quit = false;
	int sig;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 || getppid() != acceptor)
		_exit(0);
	for (size_t i = 0; i < f->a->n_fds && !acceptor_draining(&f->ac); i++)
		close(f->a->fds[i]);
	close(f->ep);
	if (f->a->log_ctl != -1)
		close(f->a->log_ctl);	/* the acceptor's: its log files are not ours to take */
	c = conn_open(ac->fd, &ac->peer, f->a->svc, f->a->handler, f->a->slot, &f->beats[kid]);
	/* TERM: finish (http: hand over, conn_drain); QUIT: go; the rest are
	 * the acceptor's business. */
	while (!quit && conn_run(c, f->sig_fd) == 0)
		while ((sig = sig_next(f->sig_fd)) != 0) {
			quit |= sig == SIGQUIT;
			if (sig == SIGTERM)
				conn_drain(c);
		}
	if (quit)
		conn_end(c, CONN_END_STOPPING);
	conn_finish(c);
	/* _exit: exit() would run every library's destructors (libsystemd's
	 * dozen dependencies, ld.so's fini walk), faulting in their pages
	 * copy-on-write only to throw them away: most of the CPU a
	 * connection cost. The log is unbuffered, a module's fini() is its
	 * worker's (handler_module.c), and the rest is the kernel's to free. */
	_exit(0);
}

/* The slot of child PID (0: a free one), or -1. */
static int
fork_find_child(const struct forker *f, pid_t pid)
{
	for (int i = 0; i < f->a->svc->max_children; i++)
		if (f->kids[i] == pid)
			return i;
	return -1;
}

/* Kill the children whose heartbeat is older than timeouts.heartbeat. */
static void
fork_check_hung(struct forker *f, int64_t now)
{
	int64_t limit = (int64_t)f->a->svc->heartbeat_ms * 1000000;

	if (limit == 0)
		return;
	for (int i = 0; i < f->a->svc->max_children; i++) {
		int64_t beat = atomic_load(&f->beats[i]);

		if (f->kids[i] == 0 || now - beat < limit)
			continue;
		log_warn("%s: connection process %ld hung: no heartbeat for %.1f s; killing it",
		    f->a->svc->name, (long)f->kids[i], (double)(now - beat) / 1e9);
		if (kill(f->kids[i], SIGKILL) == -1 && errno != ESRCH)
			log_warn("kill(%ld): %s", (long)f->kids[i], strerror(errno));
		atomic_store(&f->beats[i], now);	/* once; reaped on SIGCHLD */
		f->killed[i] = true;
	}
}

/* Stop accepting; every child finishes its connection. */
static void
fork_drain(struct forker *f)
{
	if (!acceptor_drain(&f->ac))
		return;
	for (int i = 0; i < f->a->svc->max_children; i++)
		if (f->kids[i] != 0 && kill(f->kids[i], SIGTERM) == -1 && errno != ESRCH)
			log_warn("kill(%ld): %s", (long)f->kids[i], strerror(errno));
}

static void
fork_accept(struct forker *f, int lfd)
{
	pid_t self = getpid(), pid;
	int kid = fork_find_child(f, 0), fd;
	struct accepted c;

	if (kid == -1)
		return;		/* at max_children: not watching; a stale event */
	if (acceptor_take(&f->w, lfd, true, &c) != ACCEPTOR_CONN)
		return;
	fd = c.fd;
	atomic_store(&f->beats[kid], clock_now());
	pid = fork();
	if (pid == 0)
		fork_child(f, &c, self, kid);
	if (pid == -1) {
		log_err("%s: fork: %s; connection dropped", f->a->svc->name, strerror(errno));
		acceptor_release(&f->ac, &c);
	} else {
		f->kids[kid] = pid;
		f->taken[kid] = c;
		f->born[kid] = clock_now();
		f->killed[kid] = false;
		f->children++;
		if (f->crash.failures > 0)
			f->probe = pid;
	}
	if (f->children >= f->a->svc->max_children || f->probe != 0)
		acceptor_hold(&f->w, true);	/* at the limit, or probing: the backlog holds the rest */
	close(fd);
	if (c.recycle) {
		fork_drain(f);	/* its children finish; a fresh acceptor takes over */
		return;
	}
	if (f->children > 0)
		atomic_store(&f->a->slot->state, SLOT_BUSY);
}

/* The summary of the crashes counted since the last line, once 10 s on. */
static void
fork_crash_summary(struct forker *f, int64_t now)
{
	int64_t span = now - f->crash_log_ns;

	if (f->crash_log_ns == 0 || span < (int64_t)LOG_LIMIT_MS * 1000000)
		return;
	if (f->crashes > 0)
		log_warn("%s: %u connection processes crashed in the last %.0f s",
		    f->a->svc->name, f->crashes, (double)span / 1e9);
	f->crash_log_ns = f->crashes > 0 ? now : 0;
	f->crashes = 0;
}

static void
fork_backoff_over(struct forker *f, unsigned failures)
{
	if (failures > 0)
		log_notice("%s: connection processes run again: backoff over after %u crashes",
		    f->a->svc->name, failures);
}

/* Child KID ended with STATUS: a crash? Counted, logged, backed off. */
static void
fork_child_ended(struct forker *f, int kid, pid_t pid, int status, int64_t now)
{
	bool crashed = !f->killed[kid] && !(WIFEXITED(status) && WEXITSTATUS(status) == 0) &&
	    !(WIFSIGNALED(status) && acceptor_draining(&f->ac) && WTERMSIG(status) == SIGTERM);

	if (pid == f->probe)
		f->probe = 0;
	if (!crashed) {
		if (f->crash.failures > 0 && WIFEXITED(status) && f->born[kid] > f->crash.last_failure_ns)
			fork_backoff_over(f, pool_backoff_clear(&f->crash));
		return;
	}
	if (pool_failed_start(true, 0, now - f->born[kid]) && pool_backoff_fail(&f->crash, now))
		log_warn("%s: connection processes crash: backing off (one connection at a time, "
		    "%lld ms to %lld s apart)", f->a->svc->name,
		    (long long)(POOL_BACKOFF_MIN_NS / NS_PER_MS),
		    (long long)(POOL_BACKOFF_MAX_NS / NS_PER_MS / 1000));
	if (f->crash_log_ns == 0) {
		log_warn("%s: connection process %ld ended by %s %d", f->a->svc->name,
		    (long)pid, WIFSIGNALED(status) ? "signal" : "status",
		    WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
		f->crash_log_ns = now;
	} else
		f->crashes++;
}

/* Each child holds at most one of the slot's open connections: one that
 * died by a signal never gave its back. */
static void
fork_clamp_current(struct forker *f)
{
	_Atomic uint32_t *cur = &f->a->slot->current;
	uint32_t have = atomic_load(cur);

	while (have > (uint32_t)f->children &&
	    !atomic_compare_exchange_weak(cur, &have, (uint32_t)f->children))
		;
}

/* May the acceptor take a connection now, as far as crashes go? At a
 * tick: the quiet period, a probe that settled, the summary line. */
static bool
fork_crash_allows(struct forker *f, int64_t now)
{
	int kid = f->probe != 0 ? fork_find_child(f, f->probe) : -1;

	fork_crash_summary(f, now);
	fork_backoff_over(f, pool_backoff_quiet(&f->crash, now));
	if (kid != -1 && now - f->born[kid] >= POOL_SETTLED_NS) {
		fork_backoff_over(f, pool_backoff_clear(&f->crash));
		f->probe = 0;
	}
	return f->crash.failures == 0 || (f->probe == 0 && now >= f->crash.next_ns);
}

static void
fork_reap(struct forker *f)
{
	int64_t now = clock_now();
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		int kid = fork_find_child(f, pid);

		if (kid == -1)
			continue;
		f->kids[kid] = 0;
		f->children--;
		acceptor_release(&f->ac, &f->taken[kid]);	/* its place in max_connections */
		fork_child_ended(f, kid, pid, status, now);
	}
	fork_clamp_current(f);
	acceptor_hold(&f->w, f->children >= f->a->svc->max_children || !fork_crash_allows(f, now));
	if (f->children == 0 && !acceptor_draining(&f->ac))
		atomic_store(&f->a->slot->state, SLOT_IDLE);
}

static void
fork_signals(struct forker *f)
{
	struct sig_info si;

	while (sig_read(f->sig_fd, &si))
		switch (worker_signal(f->a, &si)) {
		case WORKER_REAP:
			fork_reap(f);
			break;
		case WORKER_QUIT:
			f->quit = true;
			break;
		case WORKER_DRAIN:
			fork_drain(f);
			break;
		default:
			break;
		}
}

/* A tick keeps the heartbeat: children block, the acceptor does not.
 * Sooner at a pause or a backoff's end. */
static int
fork_wait_ms(struct forker *f)
{
	int ms = clock_tick_ms(f->a->svc->heartbeat_ms), paused = acceptor_update(&f->w, clock_now());
	int64_t left;

	if (paused >= 0 && paused < ms)
		ms = paused;

	if (f->crash.failures > 0 && f->probe == 0) {
		left = (f->crash.next_ns - clock_now() + 999999) / 1000000;
		if (left < ms)
			ms = left < 0 ? 0 : (int)left;
	}
	return ms;
}

void
model_fork_run(const struct worker_args *a, int sig_fd)
{
	struct forker f = { .a = a, .sig_fd = sig_fd,
		.kids = xcalloc((size_t)a->svc->max_children, sizeof(pid_t)),
		.born = xcalloc((size_t)a->svc->max_children, sizeof(int64_t)),
		.killed = xcalloc((size_t)a->svc->max_children, sizeof(bool)),
		.taken = xcalloc((size_t)a->svc->max_children, sizeof(struct accepted)) };
	size_t beats_size = (size_t)a->svc->max_children * sizeof(*f.beats);
	struct epoll_event ev[WORKER_MAX_LISTENERS + 1];

	f.beats = mmap(NULL, beats_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (f.beats == MAP_FAILED)
		fatal(EXIT_OSERR, "mmap: %s", strerror(errno));
	f.ep = epoll_create1(EPOLL_CLOEXEC);
	ev[0] = (struct epoll_event){ .events = EPOLLIN, .data.fd = sig_fd };
	if (f.ep == -1 || epoll_ctl(f.ep, EPOLL_CTL_ADD, sig_fd, &ev[0]) == -1)
		fatal(EXIT_OSERR, "epoll: %s", strerror(errno));
	acceptor_init(&f.ac, a, 0, false);
	acceptor_watch_init(&f.w, &f.ac, f.ep, NULL);
	atomic_store(&a->slot->state, SLOT_IDLE);
	while (!f.quit && !(acceptor_draining(&f.ac) && f.children == 0)) {
		int n = epoll_wait(f.ep, ev, (int)(a->n_fds + 1), fork_wait_ms(&f));
		int64_t now = clock_now();
		bool allowed;

		atomic_store(&a->slot->heartbeat_ns, now);
		fork_check_hung(&f, now);
		allowed = fork_crash_allows(&f, now);
		acceptor_hold(&f.w, f.children >= a->svc->max_children || !allowed);
		if (n == -1 && errno != EINTR)
			fatal(EXIT_OSERR, "epoll_wait: %s", strerror(errno));
		for (int i = 0; i < n && !f.quit; i++) {
			if (ev[i].data.fd == sig_fd)
				fork_signals(&f);
			else
				fork_accept(&f, ev[i].data.fd);
		}
	}
	acceptor_fini(&f.ac);
	close(f.ep);
	free(f.taken);
	free(f.kids);
	free(f.born);
	free(f.killed);
	if (munmap((void *)f.beats, beats_size) == -1)
		log_warn("munmap: %s", strerror(errno));
}
