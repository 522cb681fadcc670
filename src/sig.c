/*
 * sig.c - signals as file descriptor events.
 *
 * The signals sockd acts on are blocked and read from a signalfd, so the
 * loops see them as one more readable descriptor: no handler runs, nothing
 * is done in signal context, and a signal that arrives while the process is
 * busy is still pending when it next waits. SIGPIPE is ignored: a write to
 * a closed connection must fail with EPIPE, not kill the process.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "log.h"
#include "sig.h"

/* Block SIGS and return a signalfd that reads them. */
int
sig_open(const int *sigs, size_t n)
{
	struct sigaction ign = { .sa_handler = SIG_IGN };
	sigset_t set;
	int fd;

	sigemptyset(&set);
	for (size_t i = 0; i < n; i++)
		sigaddset(&set, sigs[i]);
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

/* The next pending signal's number, or 0 when none is pending. */
int
sig_next(int fd)
{
	struct signalfd_siginfo si;
	ssize_t n;

	do
		n = read(fd, &si, sizeof(si));
	while (n == -1 && errno == EINTR);
	if (n == -1 && errno == EAGAIN)
		return 0;
	if (n != (ssize_t)sizeof(si))
		fatal(EXIT_OSERR, "signalfd read: %s", n == -1 ? strerror(errno) : "short read");
	return (int)si.ssi_signo;
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
