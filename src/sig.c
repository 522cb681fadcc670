/*
 * sig.c - signals as file descriptor events, and the one set of signals
 * every sockd process (master and workers) takes that way.
 *
 * The signals in sig_caught are blocked and read from a signalfd, so the
 * loops see them as one more readable descriptor: no handler runs, nothing
 * is done in signal context, and a signal that arrives while the process is
 * busy is still pending when it next waits. The set holds those sockd acts
 * on and every other one whose default action would end the process
 * without a word (USR2, ALRM, XCPU, IO, SYS, the real-time signals, ...):
 * those are logged and ignored (sig_log_ignored), so a signal sent by habit
 * or by mistake never takes a process down silently. SIGPIPE is ignored: a
 * write to a closed connection must fail with EPIPE, not kill the process.
 *
 * Left alone on purpose: the fault signals (SEGV, BUS, FPE, ILL, ABRT) keep
 * their default action, core dump. The kernel delivers a real fault even
 * when it is blocked, resetting its handler to the default on the way, so
 * blocking buys nothing against real faults and would disable ASan's
 * report of them; and kill -ABRT is the way to get a core of a stuck
 * process, which reads no signalfd. WINCH, URG and CONT are ignored (or
 * continue) by default; TSTP and STOP stop, as at a terminal; 32 and 33
 * are the C library's own.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "log.h"
#include "sig.h"

static const int sig_caught[] = {
	SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGALRM, SIGCHLD, SIGTTIN, SIGTTOU,
	SIGXCPU, SIGXFSZ, SIGVTALRM, SIGPROF, SIGIO, SIGPWR, SIGSYS, SIGSTKFLT, SIGTRAP,
};

/* Block every signal of the set and return a signalfd that reads them. */
int
sig_open(void)
{
	struct sigaction ign = { .sa_handler = SIG_IGN };
	sigset_t set;
	int fd;

	sigemptyset(&set);
	for (size_t i = 0; i < sizeof(sig_caught) / sizeof(sig_caught[0]); i++)
		sigaddset(&set, sig_caught[i]);
	for (int s = SIGRTMIN; s <= SIGRTMAX; s++)
		sigaddset(&set, s);
	if (sigprocmask(SIG_BLOCK, &set, NULL) == -1)
		fatal(EXIT_OSERR, "sigprocmask: %s", strerror(errno));
	fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd == -1)
		fatal(EXIT_OSERR, "signalfd: %s", strerror(errno));
	sigemptyset(&ign.sa_mask);
	if (sigaction(SIGPIPE, &ign, NULL) == -1)
		fatal(EXIT_OSERR, "sigaction(SIGPIPE): %s", strerror(errno));
	return fd;
}

/* The next pending signal in *SI_R: true, or false when none is pending. */
bool
sig_read(int fd, struct sig_info *si_r)
{
	struct signalfd_siginfo si;
	ssize_t n;

	do
		n = read(fd, &si, sizeof(si));
	while (n == -1 && errno == EINTR);
	if (n == -1 && errno == EAGAIN)
		return false;
	if (n != (ssize_t)sizeof(si))
		fatal(EXIT_OSERR, "signalfd read: %s", n == -1 ? strerror(errno) : "short read");
	/* Only a process that sent it (kill, sigqueue, tgkill) has a pid to name. */
	*si_r = (struct sig_info){ .signo = (int)si.ssi_signo,
		.pid = si.ssi_code <= 0 ? (pid_t)si.ssi_pid : 0 };
	return true;
}

/* The next pending signal's number, or 0 when none is pending. */
int
sig_next(int fd)
{
	struct sig_info si;

	return sig_read(fd, &si) ? si.signo : 0;
}

/* "SIGUSR1", or "SIGRTMIN+3" for a real-time signal (SIGIO is "SIGPOLL"). */
const char *
sig_name(int sig, char *buf, size_t size)
{
	const char *abbrev = sig >= SIGRTMIN && sig <= SIGRTMAX ? NULL : sigabbrev_np(sig);

	if (abbrev != NULL)
		snprintf(buf, size, "SIG%s", abbrev);
	else if (sig == SIGRTMIN)
		snprintf(buf, size, "SIGRTMIN");
	else if (sig > SIGRTMIN && sig <= SIGRTMAX)
		snprintf(buf, size, "SIGRTMIN+%d", sig - SIGRTMIN);
	else
		snprintf(buf, size, "signal %d", sig);
	return buf;
}

/*
 * A signal of the set that WHO (a service name, or NULL for the master)
 * does nothing with: say so, once per signal received. SIGCHLD, which
 * only means "reap", is not worth a line.
 */
void
sig_log_ignored(const char *who, const struct sig_info *si)
{
	char name[32], from[32] = "";

	if (si->signo == SIGCHLD)
		return;
	sig_name(si->signo, name, sizeof(name));
	if (si->pid > 0)
		snprintf(from, sizeof(from), " from pid %ld", (long)si->pid);
	if (si->signo == SIGUSR2)
		log_notice("%s%s%s%s: ignored (the master's binary upgrade signal)",
		    who ? who : "", who ? ": " : "", name, from);
	else if (si->signo == SIGXCPU || si->signo == SIGXFSZ)
		log_warn("%s%s%s%s: ignored (the kernel sends it past %s)", who ? who : "",
		    who ? ": " : "", name, from, si->signo == SIGXCPU ? "RLIMIT_CPU" : "RLIMIT_FSIZE");
	else
		log_notice("%s%s%s%s: ignored", who ? who : "", who ? ": " : "", name, from);
}

/* Close the signalfd and unblock every signal again (before an exec, or in
 * a new process that sets up its own). */
void
sig_close(int fd)
{
	sigset_t all;

	if (fd != -1 && close(fd) == -1 && errno != EINTR)
		log_warn("close(signalfd): %s", strerror(errno));
	sigfillset(&all);
	if (sigprocmask(SIG_UNBLOCK, &all, NULL) == -1)
		fatal(EXIT_OSERR, "sigprocmask: %s", strerror(errno));
}
