/*
 * dgram_spawn.c - datagram services under the models that give each
 * request a server of its own: fork (a child process per datagram, as
 * Python's ForkingUDPServer) and thread (a thread per datagram, as its
 * ThreadingUDPServer). The worker receives (dgram.c: the size check, the
 * address rules, limits.rate) and hands each admitted datagram over; the
 * child or thread runs the handler and sends the reply itself.
 *
 * At most max_children children (max_threads threads) run at once: at the
 * bound the worker stops reading, and datagrams wait in the socket's
 * buffer (the kernel drops what does not fit, as for any UDP server).
 *
 * fork: children are reaped on SIGCHLD; each has a heartbeat in memory
 * shared with the worker, set when it starts its datagram, and one that
 * runs past timeouts.heartbeat is killed and logged, as a stream
 * connection process is (model_fork.c); the worker keeps its own
 * heartbeat. A child that dies abnormally is logged (at most once every
 * 10 s); the crash backoff of the stream fork model is not repeated here:
 * a child serves one datagram, so a crash costs that datagram only.
 *
 * thread: each thread has its own heartbeat; the worker reports the
 * oldest busy one into its slot (worker_thread.c), so a thread stuck in
 * a handler makes the worker look hung and the master replaces it.
 *
 * SIGTERM/SIGINT, and max_requests datagrams: drain - stop reading, let
 * the children (threads) in hand finish, exit 0. SIGQUIT: exit now (the
 * children follow through their death signal).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "dgram.h"
#include "log.h"
#include "model.h"
#include "sig.h"
#include "worker_signal.h"
#include "worker_thread.h"
#include "util.h"

static struct log_limit crash_limit = LOG_LIMIT_INIT(LOG_LIMIT_MS);

struct spawner {
	const struct worker_args *a;
	int sig_fd;
	bool threads;			/* model thread, else fork */
	int max;			/* max_children or max_threads */
	int running;
	bool draining;
	bool quit;
	uint64_t taken;			/* datagrams handed over, for max_requests */
	/* fork */
	struct dgram_batch b;
	pid_t *kids;			/* max slots; 0: free */
	_Atomic int64_t *beats;		/* per slot, shared with the child */
	bool *killed;			/* per slot: killed by us (hung) */
	/* thread */
	struct worker_thread *t;	/* max slots; tid valid while used[] */
	struct dgram_batch *tb;		/* per slot, made at its first use */
	bool *used;
	_Atomic bool *done;		/* the thread has finished: join it */
	int done_fd;			/* eventfd: a thread finished */
};

static void
spawn_drain(struct spawner *s)
{
	uint64_t one = 1;

	if (s->draining)
		return;
	s->draining = true;
	atomic_store(&s->a->slot->state, SLOT_DRAINING);
	if (write(s->a->wake_fd, &one, sizeof(one)) == -1 && errno != EAGAIN && errno != EINTR)
		log_warn("%s: waking the master: %s", s->a->svc->name, strerror(errno));
}

static void
spawn_count(struct spawner *s)
{
	if (++s->taken == (uint64_t)s->a->max_requests) {
		log_info("%s: worker recycles after %llu datagrams", s->a->svc->name,
		    (unsigned long long)s->taken);
		spawn_drain(s);
	}
}

static int
spawn_free_slot(const struct spawner *s)
{
	for (int i = 0; i < s->max; i++)
		if (s->threads ? !s->used[i] : s->kids[i] == 0)
			return i;
	return -1;
}

/* ---- fork ------------------------------------------------------------ */

static noreturn void
spawn_child(struct spawner *s, unsigned i, pid_t worker)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 || getppid() != worker)
		_exit(0);
	if (s->a->log_ctl != -1)
		close(s->a->log_ctl);	/* the worker's: its log files are not ours */
	dgram_serve(&s->b, i);
	dgram_flush(&s->b);
	_exit(0);
}

static void
spawn_fork(struct spawner *s, int fd)
{
	pid_t self = getpid();
	unsigned n = dgram_receive(&s->b, fd, (unsigned)(s->max - s->running), true);

	for (unsigned i = 0; i < n; i++) {
		int kid;
		pid_t pid;

		if (!s->b.ok[i] || (kid = spawn_free_slot(s)) == -1)
			continue;
		atomic_store(&s->beats[kid], clock_now());
		pid = fork();
		if (pid == 0)
			spawn_child(s, i, self);
		if (pid == -1) {
			log_err("%s: fork: %s; datagram dropped", s->a->svc->name, strerror(errno));
			continue;
		}
		s->kids[kid] = pid;
		s->killed[kid] = false;
		s->running++;
		spawn_count(s);
	}
}

static void
spawn_reap(struct spawner *s)
{
	_Atomic uint32_t *cur = &s->a->slot->current;
	uint32_t have;
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		int kid = -1;

		for (int i = 0; i < s->max && kid == -1; i++)
			if (s->kids[i] == pid)
				kid = i;
		if (kid == -1)
			continue;
		s->kids[kid] = 0;
		s->running--;
		if (!s->killed[kid] && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
			log_limited(&crash_limit, LOG_WARNING, "%s: datagram process %ld ended by "
			    "%s %d", s->a->svc->name, (long)pid, WIFSIGNALED(status) ? "signal" :
			    "status", WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
	}
	/* A child killed in its handler never gave back its open count. */
	have = atomic_load(cur);
	while (have > (uint32_t)s->running &&
	    !atomic_compare_exchange_weak(cur, &have, (uint32_t)s->running))
		;
}

static void
spawn_check_hung(struct spawner *s, int64_t now)
{
	int64_t limit = (int64_t)s->a->svc->heartbeat_ms * NS_PER_MS;

	if (limit == 0)
		return;
	for (int i = 0; i < s->max; i++) {
		int64_t beat = atomic_load(&s->beats[i]);

		if (s->kids[i] == 0 || s->killed[i] || now - beat < limit)
			continue;
		log_warn("%s: datagram process %ld hung: no heartbeat for %.1f s; killing it",
		    s->a->svc->name, (long)s->kids[i], (double)(now - beat) / 1e9);
		if (kill(s->kids[i], SIGKILL) == -1 && errno != ESRCH)
			log_warn("kill(%ld): %s", (long)s->kids[i], strerror(errno));
		s->killed[i] = true;
	}
}

/* ---- thread ---------------------------------------------------------- */

static void *
spawn_thread_main(void *arg)
{
	struct worker_thread *t = arg;
	struct spawner *s = t->model;
	uint64_t one = 1;

	dgram_serve(&s->tb[t->index], 0);
	dgram_flush(&s->tb[t->index]);
	atomic_store(&t->busy, false);
	atomic_store(&s->done[t->index], true);
	if (write(s->done_fd, &one, sizeof(one)) == -1 && errno != EAGAIN)
		log_warn("%s: eventfd: %s", s->a->svc->name, strerror(errno));
	return NULL;
}

static void
spawn_thread(struct spawner *s, int fd)
{
	int i = spawn_free_slot(s), e;
	struct worker_thread *t;

	if (i == -1)
		return;
	t = &s->t[i];
	if (s->tb[i].cap == 0) {
		*t = (struct worker_thread){ .model = s, .index = (size_t)i };
		dgram_batch_init(&s->tb[i], s->a, &t->heartbeat_ns, 1);
	}
	if (dgram_receive(&s->tb[i], fd, 1, true) == 0 || !s->tb[i].ok[0])
		return;
	atomic_store(&t->heartbeat_ns, clock_now());
	atomic_store(&t->busy, true);
	atomic_store(&s->done[i], false);
	if ((e = pthread_create(&t->tid, worker_thread_attr(), spawn_thread_main, t)) != 0) {
		log_err("%s: pthread_create: %s; datagram dropped", s->a->svc->name, strerror(e));
		atomic_store(&t->busy, false);
		return;
	}
	s->used[i] = true;
	s->running++;
	spawn_count(s);
}

static void
spawn_join(struct spawner *s)
{
	uint64_t v;
	int e;

	if (read(s->done_fd, &v, sizeof(v)) == -1 && errno != EAGAIN)
		log_warn("%s: eventfd: %s", s->a->svc->name, strerror(errno));
	for (int i = 0; i < s->max; i++) {
		if (!s->used[i] || !atomic_load(&s->done[i]))
			continue;
		if ((e = pthread_join(s->t[i].tid, NULL)) != 0)
			panic("pthread_join: %s", strerror(e));
		s->used[i] = false;
		s->running--;
	}
}

/* ---- the worker's loop ----------------------------------------------- */

static void
spawn_signals(struct spawner *s)
{
	struct sig_info si;

	while (sig_read(s->sig_fd, &si))
		switch (worker_signal(s->a, &si)) {
		case WORKER_DRAIN:
			spawn_drain(s);
			break;
		case WORKER_QUIT:
			s->quit = true;
			break;
		case WORKER_REAP:
			if (!s->threads)
				spawn_reap(s);
			break;
		default:
			break;
		}
}

/* A tick: heartbeats, hung children, the slot's state. */
static void
spawn_tick(struct spawner *s)
{
	int64_t now = clock_now();

	if (s->threads) {
		worker_thread_report(s->a, s->t, (size_t)s->max, s->draining);
		return;
	}
	atomic_store(&s->a->slot->heartbeat_ns, now);
	spawn_check_hung(s, now);
	if (!s->draining)
		atomic_store(&s->a->slot->state, s->running > 0 ? SLOT_BUSY : SLOT_IDLE);
}

static void
spawn_loop(struct spawner *s)
{
	const struct worker_args *a = s->a;
	struct pollfd pfd[WORKER_MAX_LISTENERS + 2];
	size_t base = s->threads ? 2 : 1;

	pfd[0] = (struct pollfd){ .fd = s->sig_fd, .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = s->done_fd, .events = POLLIN };
	while (!s->quit && !(s->draining && s->running == 0)) {
		bool reading = !s->draining && s->running < s->max;
		int n;

		for (size_t i = 0; i < a->n_fds; i++)
			pfd[base + i] = (struct pollfd){ .fd = reading ? a->fds[i] : -1,
				.events = POLLIN };
		n = poll(pfd, base + a->n_fds, clock_tick_ms(a->svc->heartbeat_ms));
		if (n == -1 && errno != EINTR)
			fatal(EXIT_OSERR, "poll: %s", strerror(errno));
		if (n > 0 && (pfd[0].revents & POLLIN))
			spawn_signals(s);
		if (n > 0 && s->threads && (pfd[1].revents & POLLIN))
			spawn_join(s);
		for (size_t i = 0; n > 0 && i < a->n_fds && !s->quit; i++) {
			if (!(pfd[base + i].revents & POLLIN) || s->draining || s->running >= s->max)
				continue;
			if (s->threads)
				spawn_thread(s, a->fds[i]);
			else
				spawn_fork(s, a->fds[i]);
		}
		spawn_tick(s);
	}
}

void
dgram_fork_run(const struct worker_args *a, int sig_fd)
{
	struct spawner s = { .a = a, .sig_fd = sig_fd, .max = a->svc->max_children,
		.done_fd = -1 };
	size_t beats_size = (size_t)s.max * sizeof(*s.beats);

	s.kids = xcalloc((size_t)s.max, sizeof(*s.kids));
	s.killed = xcalloc((size_t)s.max, sizeof(*s.killed));
	s.beats = mmap(NULL, beats_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (s.beats == MAP_FAILED)
		fatal(EXIT_OSERR, "mmap: %s", strerror(errno));
	dgram_batch_init(&s.b, a, NULL, 0);
	atomic_store(&a->slot->heartbeat_ns, clock_now());
	atomic_store(&a->slot->state, SLOT_IDLE);
	spawn_loop(&s);
	dgram_batch_fini(&s.b);
	if (munmap((void *)s.beats, beats_size) == -1)
		log_warn("munmap: %s", strerror(errno));
	free(s.kids);
	free(s.killed);
}

void
dgram_thread_run(const struct worker_args *a, int sig_fd)
{
	struct spawner s = { .a = a, .sig_fd = sig_fd, .threads = true, .max = a->svc->max_threads,
		.done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK) };

	if (s.done_fd == -1)
		fatal(EXIT_OSERR, "eventfd: %s", strerror(errno));
	s.t = xcalloc((size_t)s.max, sizeof(*s.t));
	s.tb = xcalloc((size_t)s.max, sizeof(*s.tb));
	s.used = xcalloc((size_t)s.max, sizeof(*s.used));
	s.done = xcalloc((size_t)s.max, sizeof(*s.done));
	atomic_store(&a->slot->heartbeat_ns, clock_now());
	atomic_store(&a->slot->state, SLOT_IDLE);
	spawn_loop(&s);
	if (s.quit)
		_exit(0);	/* threads in hand go with the process */
	for (int i = 0; i < s.max; i++)
		if (s.tb[i].cap != 0)
			dgram_batch_fini(&s.tb[i]);
	free(s.t);
	free(s.tb);
	free(s.used);
	free(s.done);
	close(s.done_fd);
}
