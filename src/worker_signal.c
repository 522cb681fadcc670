/*
 * worker_signal.c - the workers' signal policy (worker_signal.h). The
 * table of every process's signals is in sockd(8).
 */
#include <signal.h>

#include "log.h"
#include "logfile.h"
#include "worker_signal.h"

/* SIGUSR1: the master has sent the reopened log file first; put it in
 * place. Sent to a worker by anyone else (systemctl kill to the whole
 * unit), it finds nothing. */
static void
worker_reopen_logs(const struct worker_args *a)
{
	int n = logfile_reopen();

	if (n > 0)
		log_info("%s: SIGUSR1: log file reopened", a->svc->name);
	else if (n == 0)
		log_notice("%s: SIGUSR1: no new log file from the master (send SIGUSR1 to the "
		    "master, pid %ld)", a->svc->name, (long)a->master);
	else
		log_notice("%s: SIGUSR1: no log file to reopen", a->svc->name);
}

enum worker_action
worker_signal(const struct worker_args *a, const struct sig_info *si)
{
	switch (si->signo) {
	case SIGTERM:
	case SIGINT:
		return WORKER_DRAIN;
	case SIGQUIT:
		return WORKER_QUIT;
	case SIGCHLD:
		return WORKER_REAP;
	case SIGUSR1:
		worker_reopen_logs(a);
		return WORKER_NONE;
	default:
		sig_log_ignored(a->svc->name, si);
		return WORKER_NONE;
	}
}
