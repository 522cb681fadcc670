/*
 * handler_exec.c - the exec handler (inetd, tcpserver, UCSPI): every
 * connection runs exec.argv with the socket as standard input and output,
 * standard error = sockd's log, and a clean environment describing the
 * connection (PROTO, TCPREMOTEIP, ... or UNIXREMOTEPID, ...) plus exec.env.
 *
 * The worker's part ends at once: open() closes the connection as far as
 * the model is concerned, and close() starts the program, which holds a
 * copy of the socket of its own, so the connection lives as long as the
 * program does and every model works unchanged.
 *
 * Model "fork": the connection already has a process of its own, and
 * close() runs the program from it and waits, as tcpserver's child would.
 * Every other model: close() forks a supervisor S that does the same and
 * exits, so the worker never waits for a program. In those workers SIGCHLD
 * is ignored (SA_NOCLDWAIT) from start() on, so supervisors are reaped by
 * the kernel; the fork model's acceptor reaps its own children and is left
 * alone. Waiting means: poll a pidfd, keep the heartbeat, and past
 * timeouts.exec send SIGTERM to the program's process group, SIGKILL a
 * second later; the end is logged with pid, argv[0] and status.
 *
 * max_children bounds the programs of one worker at once (outside the fork
 * model, whose acceptor bounds its connection processes already): a counter
 * in shared memory, taken by the worker before forking S (so two quick
 * connections cannot both see the last place) and given back by S when
 * the program has ended. At the limit the blocking models wait up to
 * timeouts.idle for a place; the event model cannot wait, and closes.
 *
 * Lifetimes: S does not die with its worker (a program finishes its client
 * across a reload or a recycle) but with the master: it watches a pidfd
 * of the master, and when the master is gone (killed, even by SIGKILL) it
 * sends SIGTERM to the program's process group, SIGKILL half a second
 * later, and exits. PR_SET_PDEATHSIG could not do it: it follows the
 * thread that forked (a connection's thread, in the thread model), and a
 * SIGKILLed supervisor could not clean up after its program. In the fork
 * model the connection process is the supervisor and is set free of its
 * acceptor's death signal for the same reason. The program dies with S
 * (PR_SET_PDEATHSIG), so no program runs unsupervised and uncounted.
 * XXX What a program moves out of its process group (setsid, setpgid) is
 * beyond reach.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdnoreturn.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "conn.h"
#include "handler.h"
#include "handler_exec.h"
#include "log.h"
#include "model.h"
#include "util.h"

#define EXEC_KILL_MS 1000		/* SIGTERM, then SIGKILL this much later */
#define EXEC_ORPHAN_KILL_MS 500		/* the same, once the master is gone */
#define EXEC_SLOT_PAUSE_MS 50		/* at max_children: look again */
#define EXEC_VARS 8			/* PATH, PROTO and at most 4 more */
#define EXEC_VAR_MAX 80

/* The programs this worker runs, shared with its supervisors; NULL in the
 * fork model. */
static _Atomic int *exec_running;
/* The master, as the worker's parent at start. */
static pid_t exec_master;

/* How a program ended. */
struct exec_end {
	pid_t pid;
	int status;			/* from waitpid */
	bool timed_out;			/* killed for timeouts.exec */
	bool orphaned;			/* killed because the master was gone */
};

struct exec_vars {
	char text[EXEC_VARS][EXEC_VAR_MAX];
	size_t n;
};

static void
exec_var(struct exec_vars *v, const char *name, const char *value)
{
	snprintf(v->text[v->n++], EXEC_VAR_MAX, "%s=%s", name, value);
}

/* NAMEIP and NAMEPORT of the address in SS. */
static void
exec_ip_vars(struct exec_vars *v, const char *name, const struct sockaddr_storage *ss,
    socklen_t len)
{
	struct sockd_addr addr;
	char ip[INET6_ADDRSTRLEN] = "", var[32], num[16];

	addr_from_sockaddr((const struct sockaddr *)ss, len, &addr);
	addr_host(&addr, ip, sizeof(ip));
	snprintf(var, sizeof(var), "%sIP", name);
	exec_var(v, var, ip);
	snprintf(var, sizeof(var), "%sPORT", name);
	snprintf(num, sizeof(num), "%d", addr_port(&addr));
	exec_var(v, var, num);
}

/* The UCSPI variables of the connection on FD from PEER (the client, as
 * a PROXY header may have named it); -1 if it is gone already. */
static int
exec_conn_vars(const struct config_service *svc, int fd, const struct sockd_addr *peer,
    struct exec_vars *v)
{
	/* local zeroed: scan-build cannot see getsockname() write it */
	struct sockaddr_storage local = { 0 }, remote;
	socklen_t llen = sizeof(local), rlen = sizeof(remote), clen;
	struct ucred cred;
	char num[24];

	if (getsockname(fd, (struct sockaddr *)&local, &llen) == -1 ||
	    getpeername(fd, (struct sockaddr *)&remote, &rlen) == -1) {
		log_info("%s: client gone before the program started: %s", svc->name,
		    strerror(errno));
		return -1;
	}
	if (local.ss_family == AF_UNIX) {
		clen = sizeof(cred);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == -1) {
			log_warn("%s: SO_PEERCRED: %s", svc->name, strerror(errno));
			return -1;
		}
		exec_var(v, "PROTO", "UNIX");
		snprintf(num, sizeof(num), "%ld", (long)cred.pid);
		exec_var(v, "UNIXREMOTEPID", num);
		snprintf(num, sizeof(num), "%lu", (unsigned long)cred.uid);
		exec_var(v, "UNIXREMOTEUID", num);
		snprintf(num, sizeof(num), "%lu", (unsigned long)cred.gid);
		exec_var(v, "UNIXREMOTEGID", num);
		return 0;
	}
	exec_var(v, "PROTO", "TCP");
	exec_ip_vars(v, "TCPLOCAL", &local, llen);
	if (peer->len > 0 && peer->u.sa.sa_family != AF_UNIX)
		exec_ip_vars(v, "TCPREMOTE", &peer->u.ss, peer->len);
	else
		exec_ip_vars(v, "TCPREMOTE", &remote, rlen);
	return 0;
}

/* The program's environment: ours, then exec.env, whose entries replace
 * ours of the same name. Pointers into V and the configuration. */
static char **
exec_environ(const struct config_service *svc, struct exec_vars *v)
{
	size_t n_cfg = 0, n = 0;
	char **env;

	while (svc->exec_env != NULL && svc->exec_env[n_cfg] != NULL)
		n_cfg++;
	env = xcalloc(v->n + n_cfg + 1, sizeof(*env));
	for (size_t i = 0; i < v->n; i++)
		env[n++] = v->text[i];
	for (size_t i = 0; i < n_cfg; i++) {
		const char *e = svc->exec_env[i];
		size_t name_len = strcspn(e, "=") + 1, k = 0;

		while (k < n && strncmp(env[k], e, name_len) != 0)
			k++;
		env[k] = svc->exec_env[i];
		n += k == n;
	}
	return env;
}

/* Default dispositions and nothing blocked: a program must not inherit
 * the worker's ignored SIGPIPE or its signalfd's blocked signals. */
static void
exec_reset_signals(void)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigset_t none;

	sigemptyset(&dfl.sa_mask);
	for (int sig = 1; sig < NSIG; sig++) {
		unsigned long k_dfl[8] = { 0 };	/* a kernel sigaction: SIG_DFL */

		if (sig == SIGKILL || sig == SIGSTOP || sigaction(sig, &dfl, NULL) == 0)
			continue;
		/* libc refuses the signals it keeps for itself (32, 33), but an
		 * ignored one is inherited across execve all the same. */
		(void)syscall(SYS_rt_sigaction, sig, k_dfl, NULL, (NSIG - 1) / 8);
	}
	sigemptyset(&none);
	if (sigprocmask(SIG_SETMASK, &none, NULL) == -1)
		_exit(127);
}

/* In the program's process: die with the supervisor, own process group
 * (so a timeout reaches what it starts), socket on 0 and 1 and blocking
 * (the event model's is not), nothing else open, then exec. */
static noreturn void
exec_child(const struct config_service *svc, int fd, char **env, pid_t supervisor)
{
	int flags;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 || getppid() != supervisor)
		_exit(127);
	if (setpgid(0, 0) == -1)
		log_warn("%s: setpgid: %s", svc->name, strerror(errno));
	exec_reset_signals();
	if ((flags = fcntl(fd, F_GETFL)) == -1 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) == -1 ||
	    dup2(fd, STDIN_FILENO) == -1 || dup2(fd, STDOUT_FILENO) == -1 ||
	    fcntl(STDIN_FILENO, F_SETFD, 0) == -1 || fcntl(STDOUT_FILENO, F_SETFD, 0) == -1 ||
	    fcntl(STDERR_FILENO, F_SETFD, 0) == -1 || close_range(3, ~0U, 0) == -1) {
		log_err("%s: preparing descriptors: %s", svc->name, strerror(errno));
		_exit(127);
	}
	execve(svc->exec_argv[0], svc->exec_argv, env);
	log_err("%s: execve %s: %s", svc->name, svc->exec_argv[0], strerror(errno));
	_exit(127);
}

/* Start the program on FD: its pid, or -1 (logged). */
static pid_t
exec_spawn(const struct config_service *svc, int fd, const struct sockd_addr *peer)
{
	struct exec_vars v = { .n = 0 };
	pid_t self = getpid(), pid;
	char **env;

	exec_var(&v, "PATH", "/usr/local/bin:/usr/bin:/bin");
	if (exec_conn_vars(svc, fd, peer, &v) == -1)
		return -1;
	env = exec_environ(svc, &v);
	if ((pid = fork()) == 0)
		exec_child(svc, fd, env, self);
	if (pid == -1)
		log_err("%s: fork: %s; connection dropped", svc->name, strerror(errno));
	free(env);
	return pid;
}

/* SIGTERM (or SIGKILL) to the program's process group; to the program
 * alone if it has none (setpgid failed, or it left it). */
static void
exec_kill(const struct config_service *svc, pid_t pid, int sig)
{
	if (kill(-pid, sig) == 0 || kill(pid, sig) == 0 || errno == ESRCH)
		return;
	log_warn("%s: kill(%ld): %s", svc->name, (long)pid, strerror(errno));
}

static void
exec_log(const struct config_service *svc, const struct exec_end *e)
{
	const char *why = e->timed_out ? " after timeouts.exec" : "";

	if (WIFEXITED(e->status) && WEXITSTATUS(e->status) == 0)
		log_info("%s: program %ld (%s) exited with status 0", svc->name, (long)e->pid,
		    svc->exec_argv[0]);
	else if (WIFEXITED(e->status))
		log_warn("%s: program %ld (%s) exited with status %d%s", svc->name,
		    (long)e->pid, svc->exec_argv[0], WEXITSTATUS(e->status), why);
	else
		log_warn("%s: program %ld (%s) killed by signal %d%s", svc->name, (long)e->pid,
		    svc->exec_argv[0], WTERMSIG(e->status),
		    e->orphaned ? " after the master was gone" : why);
}

/* How long to sleep: a heartbeat tick (as conn_block.c's: a second, or a
 * quarter of timeouts.heartbeat), or less if the next kill is due sooner
 * (rounded up, so the wait does not end just short of it). */
static int
exec_wait_ms(const struct config_service *svc, int64_t kill_at, int64_t now)
{
	int64_t ms = clock_tick_ms(svc->heartbeat_ms);
	int64_t left = (kill_at - now + NS_PER_MS - 1) / NS_PER_MS;

	if (kill_at != 0 && left < ms)
		ms = left < 0 ? 0 : left;
	return (int)ms;
}

/* Is the master gone? Its pidfd readable, or (without one) no such pid. */
static bool
exec_orphaned(const struct pollfd *master)
{
	if (master->fd != -1)
		return master->revents != 0;
	return kill(exec_master, 0) == -1 && errno == ESRCH;
}

/* The master is gone: end the program's process group, SIGTERM then
 * SIGKILL EXEC_ORPHAN_KILL_MS later (sooner if the program is timing out). */
static void
exec_orphan(const struct config_service *svc, struct exec_end *e, int64_t now,
    int64_t *kill_at_r, int *sig_r)
{
	if (e->orphaned)
		return;
	log_warn("%s: program %ld (%s): the master is gone; ending its process group",
	    svc->name, (long)e->pid, svc->exec_argv[0]);
	e->orphaned = true;
	if (*sig_r == SIGTERM)
		*kill_at_r = now;
	else if (*kill_at_r == 0 || *kill_at_r > now + EXEC_ORPHAN_KILL_MS * NS_PER_MS)
		*kill_at_r = now + EXEC_ORPHAN_KILL_MS * NS_PER_MS;
}

/* Wait up to MS for the program (P[0]) or the master (P[1]) to end; 100 ms
 * at most without both pidfds (poll() skips a descriptor of -1). */
static void
exec_poll(const struct config_service *svc, struct pollfd *p, int ms)
{
	p[0].revents = p[1].revents = 0;
	if ((p[0].fd == -1 || p[1].fd == -1) && ms > 100)
		ms = 100;
	if (poll(p, 2, ms) == -1 && errno != EINTR)
		log_warn("%s: poll: %s", svc->name, strerror(errno));
}

/*
 * Wait for program E->pid to end, refreshing HEARTBEAT (may be NULL) every
 * tick, enforcing timeouts.exec, and ending the program's group when the
 * master is gone: 0 with E filled in, or -1 (logged). The group is sent
 * SIGKILL once more after the program ended on a kill, before it is
 * reaped (its pid, the group's id, cannot be reused until then), for what
 * the program had started. Without a pidfd (kernels before 5.3) it looks
 * every 100 ms instead.
 */
static int
exec_wait(const struct config_service *svc, struct exec_end *e, _Atomic int64_t *heartbeat)
{
	int64_t kill_at = svc->exec_timeout_ms > 0 ?
	    clock_now() + svc->exec_timeout_ms * NS_PER_MS : 0;
	struct pollfd p[2] = { { .fd = -1, .events = POLLIN }, { .fd = -1, .events = POLLIN } };
	int sig = SIGTERM;
	siginfo_t si;
	pid_t r;

	p[0].fd = (int)syscall(SYS_pidfd_open, e->pid, 0);
	/* Without it (-1), exec_orphaned() asks kill() instead. */
	p[1].fd = (int)syscall(SYS_pidfd_open, exec_master, 0);
	for (;;) {
		int64_t now = clock_now();
		int ms = exec_wait_ms(svc, kill_at, now);

		si.si_pid = 0;
		if (waitid(P_PID, (id_t)e->pid, &si, WEXITED | WNOHANG | WNOWAIT) == -1 ?
		    errno != EINTR : si.si_pid != 0)
			break;	/* ended (or not ours to wait for); reaped below */
		if (heartbeat != NULL)
			atomic_store_explicit(heartbeat, now, memory_order_relaxed);
		if (exec_orphaned(&p[1]))
			exec_orphan(svc, e, now, &kill_at, &sig);
		if (kill_at != 0 && now >= kill_at) {
			if (!e->timed_out && !e->orphaned)
				log_warn("%s: program %ld (%s) ran past timeouts.exec (%d ms): "
				    "SIGTERM", svc->name, (long)e->pid, svc->exec_argv[0],
				    svc->exec_timeout_ms);
			exec_kill(svc, e->pid, sig);
			kill_at = sig == SIGTERM ? now + (e->orphaned ? EXEC_ORPHAN_KILL_MS :
			    EXEC_KILL_MS) * NS_PER_MS : 0;
			e->timed_out |= !e->orphaned;
			sig = SIGKILL;
			continue;
		}
		exec_poll(svc, p, ms);
	}
	if (sig == SIGKILL)
		exec_kill(svc, e->pid, SIGKILL);	/* what it left in its group */
	while ((r = waitpid(e->pid, &e->status, 0)) == -1 && errno == EINTR)
		;
	for (int i = 0; i < 2; i++)
		if (p[i].fd != -1)
			close(p[i].fd);
	if (r == -1)
		log_err("%s: waitpid(%ld): %s", svc->name, (long)e->pid, strerror(errno));
	return r == -1 ? -1 : 0;
}

/* Run the program on FD and wait for it: 0 with how it ended in *E, or -1
 * (logged). Our copy of the socket becomes /dev/null once the program has
 * its own (the caller may still close the descriptor number), so the
 * client sees the end when the program closes its standard input and
 * output, not when we return. */
static int
exec_run(const struct config_service *svc, int fd, const struct sockd_addr *peer,
    _Atomic int64_t *heartbeat, struct exec_end *e)
{
	int null;

	*e = (struct exec_end){ .pid = exec_spawn(svc, fd, peer) };
	if (e->pid == -1)
		return -1;
	if ((null = open("/dev/null", O_RDWR | O_CLOEXEC)) == -1 ||
	    dup3(null, fd, O_CLOEXEC) == -1)
		log_debug("%s: /dev/null: %s", svc->name, strerror(errno));
	if (null != -1)
		close(null);
	return exec_wait(svc, e, heartbeat);
}

/*
 * The supervisor, in a process of its own: the worker's descriptors go
 * (listeners above all: a draining worker's must close), SIGCHLD back to
 * the default so that waitpid sees the program, and the worker's place
 * for it given back at the end. No heartbeat: the worker's is not ours
 * to keep. Its signals stay blocked, so a SIGTERM sent to the whole
 * group (systemd) ends the program, and the supervisor logs it.
 *
 * XXX Forked from a threaded worker (thread model, prefork threads), the
 * child has only the forking thread; glibc makes malloc and stdio safe
 * there, not the time zone lock that log_*() may take in localtime_r.
 * Should another thread hold it at that instant, this supervisor hangs at
 * its first log line and its max_children place is never given back. A
 * supervisor re-executed from a binary of its own would close the gap.
 */
static noreturn void
exec_supervise(const struct conn *c)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	const struct config_service *svc = conn_svc(c);
	struct exec_end e;
	int fd = conn_fd(c), r = -1;

	sigemptyset(&dfl.sa_mask);
	if (sigaction(SIGCHLD, &dfl, NULL) == -1)
		log_err("%s: sigaction(SIGCHLD): %s", svc->name, strerror(errno));
	else if ((fd == 3 || dup3(fd, 3, O_CLOEXEC) != -1) && close_range(4, ~0U, 0) == 0)
		r = exec_run(svc, 3, conn_peer(c), NULL, &e);
	else
		log_err("%s: supervisor descriptors: %s", svc->name, strerror(errno));
	atomic_fetch_sub(exec_running, 1);	/* before the log line says it ended */
	if (r == 0)
		exec_log(svc, &e);
	_exit(0);
}

/* A client per connection attempt may meet a full worker: one line per 10 s. */
static struct log_limit exec_full_limit = LOG_LIMIT_INIT(LOG_LIMIT_MS);

/*
 * A place for one more program, within max_children. The event model
 * cannot wait and refuses at once; the others wait for a program to end,
 * at most timeouts.idle, keeping the heartbeat.
 */
static bool
exec_reserve(struct conn *c)
{
	const struct config_service *svc = conn_svc(c);
	int64_t start = clock_now();
	bool told = false;

	while (atomic_fetch_add(exec_running, 1) >= svc->max_children) {
		int64_t now = clock_now();

		atomic_fetch_sub(exec_running, 1);
		if (model_has(svc, MODEL_NONBLOCKING) || (svc->idle_ms > 0 &&
		    now - start >= svc->idle_ms * NS_PER_MS)) {
			log_limited(&exec_full_limit, LOG_WARNING,
			    "%s: %d programs running (max_children): connection closed",
			    svc->name, svc->max_children);
			return false;
		}
		if (!told)
			log_info("%s: %d programs running (max_children): waiting for one to end",
			    svc->name, svc->max_children);
		told = true;
		if (conn_heartbeat(c) != NULL)
			atomic_store_explicit(conn_heartbeat(c), now, memory_order_relaxed);
		poll(NULL, 0, EXEC_SLOT_PAUSE_MS);
	}
	return true;
}

/* Once per worker, before it drops root. */
static int
exec_start(const struct config_service *svc)
{
	struct sigaction ign = { .sa_handler = SIG_IGN, .sa_flags = SA_NOCLDWAIT };
	void *p;

	exec_master = getppid();
	if (model_has(svc, MODEL_PROCESS_PER_CONN))
		return 0;	/* its acceptor reaps and bounds its children */
	p = mmap(NULL, sizeof(*exec_running), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		fatal(EXIT_OSERR, "%s: mmap: %s", svc->name, strerror(errno));
	exec_running = p;
	atomic_init(exec_running, 0);
	sigemptyset(&ign.sa_mask);
	if (sigaction(SIGCHLD, &ign, NULL) == -1)
		fatal(EXIT_OSERR, "%s: sigaction(SIGCHLD): %s", svc->name, strerror(errno));
	return 0;
}

/* The model's part ends here; close() starts the program (see above). */
static void
exec_open(struct conn *c)
{
	conn_close(c);
}

static void
exec_message(struct conn *c, const char *data, size_t len)
{
	(void)data;
	(void)len;
	conn_close(c);	/* not reached: the connection is closed at open */
}

static void
exec_close(struct conn *c)
{
	const struct config_service *svc = conn_svc(c);
	struct exec_end e;
	pid_t pid;

	if (model_has(svc, MODEL_PROCESS_PER_CONN)) {
		/* Free of the acceptor's SIGKILL, to end the program's group
		 * itself when the master is gone (see above). */
		pid_t acceptor = getppid();

		if (prctl(PR_SET_PDEATHSIG, 0) == -1)
			log_warn("%s: prctl(PR_SET_PDEATHSIG): %s", svc->name, strerror(errno));
		if (exec_run(svc, conn_fd(c), conn_peer(c), conn_heartbeat(c), &e) == 0)
			exec_log(svc, &e);
		/* An acceptor gone meanwhile had its scoreboard slot released,
		 * maybe to another worker: leave its counts alone. */
		if (getppid() != acceptor)
			_exit(0);
		return;
	}
	if (!exec_reserve(c))
		return;
	if ((pid = fork()) == 0)
		exec_supervise(c);
	if (pid == -1) {
		log_err("%s: fork: %s; connection dropped", svc->name, strerror(errno));
		atomic_fetch_sub(exec_running, 1);
	}
}

const struct handler handler_exec = {
	.name = "exec",
	.start = exec_start,
	.open = exec_open,
	.message = exec_message,
	.close = exec_close,
};
