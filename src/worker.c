/*
 * worker.c - a worker process, from fork to exit.
 *
 * In the child: die with the master (PR_SET_PDEATHSIG, then make sure the
 * master did not already die before that was set), keep only the
 * descriptors this service needs, take signals from a signalfd of its own,
 * give up root, and run the service's model until told to stop.
 *
 * Then the model (model.c's table) serves; it takes connections through
 * the acceptor (acceptor.c) and reads signals through the one policy of
 * every worker (worker_signal.c).
 */
#include <errno.h>
#include <linux/close_range.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "handler.h"
#include "log.h"
#include "logfile.h"
#include "model.h"
#include "sig.h"
#include "worker.h"

static int
int_cmp(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* Close every descriptor above stderr except those in FDS. */
static void
worker_close_others(const int *fds, size_t n)
{
	int keep[WORKER_MAX_LISTENERS + 3];
	unsigned from = 3;

	memcpy(keep, fds, n * sizeof(*fds));
	qsort(keep, n, sizeof(*keep), int_cmp);
	for (size_t i = 0; i <= n; i++) {
		unsigned to = i < n ? (unsigned)keep[i] - 1 : ~0U;

		if (to >= from && close_range(from, to, 0) == -1)
			fatal(EXIT_OSERR, "close_range: %s", strerror(errno));
		if (i < n)
			from = (unsigned)keep[i] + 1;
	}
}

/* Die with the master. The kernel clears this setting whenever the
 * credentials change, so it is set again after dropping root. */
static void
worker_follow_master(pid_t master)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1)
		fatal(EXIT_OSERR, "prctl(PR_SET_PDEATHSIG): %s", strerror(errno));
	if (getppid() != master)
		_exit(0);	/* the master died before we could ask to follow it */
}

/* The handler's per-worker setup, still as root if sockd was started so. */
static void
worker_start_handler(const struct config_service *svc)
{
	const struct handler *h = handler_get(svc);

	if (h == NULL)
		fatal(EXIT_CONFIG, "%s: handler \"%s\" is not in this build", svc->name,
		    config_handler_name(svc->handler));
	else if (h->start != NULL && h->start(svc) == -1)
		exit(EXIT_CONFIG);
}

noreturn void
worker_main(const struct worker_args *a)
{
	int keep[WORKER_MAX_LISTENERS + 3], sig_fd;
	size_t n = a->n_fds;

	log_set_service(a->svc->name);	/* journald: SOCKD_SERVICE, SOCKD_WORKER */
	worker_follow_master(a->master);
	memcpy(keep, a->fds, a->n_fds * sizeof(*keep));
	keep[n++] = a->wake_fd;
	if (a->log_fd != -1)
		keep[n++] = a->log_fd;
	if (a->log_ctl != -1)
		keep[n++] = a->log_ctl;
	worker_close_others(keep, n);	/* the master's signalfd too */
	/* The master's signal mask is inherited: no signal is lost in between. */
	sig_fd = sig_open();
	logfile_adopt(a->log_fd, a->log_ctl);
	worker_start_handler(a->svc);
	if (priv_drop(a->ids) == -1)
		exit(EXIT_OSERR);
	worker_follow_master(a->master);
	if (a->svc->datagram)
		model_get(a->svc->model)->run_dgram(a, sig_fd);
	else
		model_get(a->svc->model)->run(a, sig_fd);
	log_debug("%s: worker exits after %llu connections (%llu accept races lost)",
	    a->svc->name, (unsigned long long)atomic_load(&a->slot->served),
	    (unsigned long long)atomic_load(&a->slot->accept_miss));
	exit(0);
}
