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

#include "conn.h"
#include "log.h"
#include "model.h"
#include "sig.h"
#include "util.h"


struct forker {
	const struct worker_args *a;
	int sig_fd;
	int ep;
	pid_t *kids;			/* max_children slots; 0: free */
	_Atomic int64_t *beats;		/* per slot, shared: the child's heartbeat */
	int children;
	uint64_t accepted;
	int64_t limited_until;		/* at max_connections: look again then (0: not) */
	bool watching;			/* listeners in the epoll set */
	bool draining;
	bool quit;
};

static void
fork_watch(struct forker *f, bool on)
{
	if (f->watching == on || (on && f->draining))
		return;
	worker_watch(f->a, f->ep, on);
	f->watching = on;
}

/* In the child: serve the one connection and exit. */
static noreturn void
fork_child(const struct forker *f, int fd, pid_t acceptor, int kid)
{
	struct conn c;
	bool quit = false;
	int sig;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 || getppid() != acceptor)
		_exit(0);
	for (size_t i = 0; i < f->a->n_fds; i++)
		close(f->a->fds[i]);
	close(f->ep);
	if (f->a->log_ctl != -1)
		close(f->a->log_ctl);	/* the acceptor's: its log files are not ours to take */
	conn_open(&c, fd, f->a->svc, f->a->slot, &f->beats[kid]);
	/* TERM: finish; QUIT: go; the rest are the acceptor's business. */
	while (!quit && conn_run(&c, f->sig_fd) == 0)
		while ((sig = sig_next(f->sig_fd)) != 0)
			quit |= sig == SIGQUIT;
	conn_finish(&c);
	exit(0);
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
	}
}

/* Stop accepting; every child finishes its connection. */
static void
fork_drain(struct forker *f)
{
	fork_watch(f, false);
	f->draining = true;
	for (size_t i = 0; i < f->a->n_fds; i++)
		close(f->a->fds[i]);
	for (int i = 0; i < f->a->svc->max_children; i++)
		if (f->kids[i] != 0 && kill(f->kids[i], SIGTERM) == -1 && errno != ESRCH)
			log_warn("kill(%ld): %s", (long)f->kids[i], strerror(errno));
	worker_draining(f->a);
}

/* At max_connections or out of descriptors: the backlog holds them a moment. */
static void
fork_pause(struct forker *f)
{
	fork_watch(f, false);
	f->limited_until = scoreboard_now() + (int64_t)WORKER_LIMIT_PAUSE_MS * 1000000;
}

static void
fork_accept(struct forker *f, int lfd)
{
	pid_t self = getpid(), pid;
	int kid = fork_find_child(f, 0), fd;

	if (kid == -1)
		return;		/* at max_children: not watching; a stale event */
	if (!worker_conn_reserve(f->a))
		return fork_pause(f);
	if ((fd = worker_accept(f->a, lfd, 0, NULL, true)) < 0) {
		worker_conn_release(f->a);
		if (fd == WORKER_ACCEPT_PAUSE)
			fork_pause(f);
		return;
	}
	atomic_store(&f->beats[kid], scoreboard_now());
	pid = fork();
	if (pid == 0)
		fork_child(f, fd, self, kid);
	if (pid == -1) {
		log_err("%s: fork: %s; connection dropped", f->a->svc->name, strerror(errno));
		worker_conn_release(f->a);
	} else {
		f->kids[kid] = pid;
		f->children++;
	}
	if (f->children >= f->a->svc->max_children)
		fork_watch(f, false);	/* at the limit: the backlog holds the rest */
	close(fd);
	if (pid > 0 && worker_recycle_due(f->a, ++f->accepted)) {
		fork_drain(f);	/* its children finish; a fresh acceptor takes over */
		return;
	}
	if (f->children > 0)
		atomic_store(&f->a->slot->state, SLOT_BUSY);
}

static void
fork_reap(struct forker *f)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		int kid = fork_find_child(f, pid);

		if (kid != -1) {
			f->kids[kid] = 0;
			f->children--;
			worker_conn_release(f->a);	/* its place in max_connections */
		}
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			log_warn("%s: connection process %ld ended by %s %d", f->a->svc->name,
			    (long)pid, WIFSIGNALED(status) ? "signal" : "status",
			    WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
	}
	if (f->children < f->a->svc->max_children && f->limited_until == 0)
		fork_watch(f, true);
	if (f->children == 0 && !f->draining)
		atomic_store(&f->a->slot->state, SLOT_IDLE);
}

static void
fork_signals(struct forker *f)
{
	struct sig_info si;

	while (sig_read(f->sig_fd, &si)) {
		if (si.signo == SIGCHLD)
			fork_reap(f);
		else if (si.signo == SIGQUIT)
			f->quit = true;
		else if (si.signo == SIGTERM || si.signo == SIGINT) {
			if (!f->draining)
				fork_drain(f);
		} else
			worker_signal(f->a, &si);
	}
}

void
model_fork_run(const struct worker_args *a, int sig_fd)
{
	struct forker f = { .a = a, .sig_fd = sig_fd,
		.kids = xcalloc((size_t)a->svc->max_children, sizeof(pid_t)) };
	size_t beats_size = (size_t)a->svc->max_children * sizeof(*f.beats);
	struct epoll_event ev[WORKER_MAX_LISTENERS + 1];

	f.beats = mmap(NULL, beats_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (f.beats == MAP_FAILED)
		fatal(EXIT_OSERR, "mmap: %s", strerror(errno));
	f.ep = epoll_create1(EPOLL_CLOEXEC);
	ev[0] = (struct epoll_event){ .events = EPOLLIN, .data.fd = sig_fd };
	if (f.ep == -1 || epoll_ctl(f.ep, EPOLL_CTL_ADD, sig_fd, &ev[0]) == -1)
		fatal(EXIT_OSERR, "epoll: %s", strerror(errno));
	fork_watch(&f, true);
	atomic_store(&a->slot->state, SLOT_IDLE);
	while (!f.quit && !(f.draining && f.children == 0)) {
		/* A tick keeps the heartbeat: children block, the acceptor does not. */
		int n = epoll_wait(f.ep, ev, (int)(a->n_fds + 1),
		    f.limited_until != 0 ? WORKER_LIMIT_PAUSE_MS : scoreboard_tick_ms(a->svc->heartbeat_ms));
		int64_t now = scoreboard_now();

		atomic_store(&a->slot->heartbeat_ns, now);
		fork_check_hung(&f, now);
		if (f.limited_until != 0 && now >= f.limited_until) {
			f.limited_until = 0;
			if (f.children < a->svc->max_children)
				fork_watch(&f, true);
		}
		if (n == -1 && errno != EINTR)
			fatal(EXIT_OSERR, "epoll_wait: %s", strerror(errno));
		for (int i = 0; i < n && !f.quit; i++) {
			if (ev[i].data.fd == sig_fd)
				fork_signals(&f);
			else if (!f.draining && f.watching)
				fork_accept(&f, ev[i].data.fd);
		}
	}
	close(f.ep);
	free(f.kids);
	if (munmap((void *)f.beats, beats_size) == -1)
		log_warn("munmap: %s", strerror(errno));
}
