/*
 * worker.c - a worker process, from fork to exit.
 *
 * In the child: die with the master (PR_SET_PDEATHSIG, then make sure the
 * master did not already die before that was set), keep only the
 * descriptors this service needs, take signals from a signalfd of its own,
 * give up root, and run the service's model until told to stop.
 *
 * Signals: the model acts on SIGTERM, SIGINT, SIGQUIT (and SIGCHLD in the
 * fork model); every other signal of the set (sig.c) comes to
 * worker_signal(): SIGUSR1 puts in place the log file the master has just
 * sent, the rest are logged and ignored.
 */
#include <errno.h>
#include <linux/close_range.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
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
	model_get(a->svc->model)->run(a, sig_fd);
	log_debug("%s: worker exits after %llu connections (%llu accept races lost)",
	    a->svc->name, (unsigned long long)atomic_load(&a->slot->served),
	    (unsigned long long)atomic_load(&a->slot->accept_miss));
	exit(0);
}

/* Out of descriptors, a worker would say so every pause (20 times a second). */
static struct log_limit accept_limit = LOG_LIMIT_INIT(LOG_LIMIT_MS);

/*
 * A signal the model itself does nothing with (every model's signal loop
 * ends here). SIGUSR1: the log file the master sent replaces ours; sent by
 * anyone else (systemctl kill to the whole unit), it finds nothing.
 */
void
worker_signal(const struct worker_args *a, const struct sig_info *si)
{
	int n;

	if (si->signo != SIGUSR1) {
		sig_log_ignored(a->svc->name, si);
		return;
	}
	if ((n = logfile_reopen()) > 0)
		log_info("%s: SIGUSR1: log file reopened", a->svc->name);
	else if (n == 0)
		log_notice("%s: SIGUSR1: no new log file from the master (send SIGUSR1 to the "
		    "master, pid %ld)", a->svc->name, (long)a->master);
	else
		log_notice("%s: SIGUSR1: no log file to reopen", a->svc->name);
}

/*
 * Accept a connection on LFD for any model, with accept4 FLAGS besides
 * SOCK_CLOEXEC (SOCK_NONBLOCK for the event model), and the client's
 * address in *PEER_R if not NULL. Returns the new fd; WORKER_ACCEPT_NONE
 * when there was none to take (connections that died in the queue are
 * skipped quietly; an empty queue counts as a race lost to another worker
 * when COUNT_MISS, i.e. unless the caller is emptying the queue in a
 * batch); WORKER_ACCEPT_PAUSE when descriptors or memory ran out: the
 * caller leaves its listeners alone for WORKER_LIMIT_PAUSE_MS, as at
 * limits.max_connections, rather than spin or sleep in its loop. Its
 * warnings are rate-limited (log_limited).
 */
int
worker_accept(const struct worker_args *a, int lfd, int flags, struct sockd_addr *peer_r,
    bool count_miss)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int fd = accept4(lfd, peer_r != NULL ? (struct sockaddr *)&ss : NULL,
	    peer_r != NULL ? &len : NULL, SOCK_CLOEXEC | flags);

	if (fd != -1) {
		if (peer_r != NULL)
			addr_from_sockaddr((struct sockaddr *)&ss, len, peer_r);
		return fd;
	}
	if (errno == EAGAIN && count_miss)
		atomic_fetch_add_explicit(&a->slot->accept_miss, 1, memory_order_relaxed);
	else if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
		log_limited(&accept_limit, LOG_WARNING, "%s: accept: %s (pausing %d ms)",
		    a->svc->name, strerror(errno), WORKER_LIMIT_PAUSE_MS);
		return WORKER_ACCEPT_PAUSE;
	} else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED && errno != EPROTO)
		log_limited(&accept_limit, LOG_ERR, "%s: accept: %s", a->svc->name,
		    strerror(errno));
	return WORKER_ACCEPT_NONE;
}

/*
 * limits.max_connections: take one of the service's connections before
 * accepting (false at the limit: leave the client in the backlog), give it
 * back when the connection ends or the accept found nothing. The counter is
 * shared by every worker of the service's generation; the master takes back
 * what a worker that died still held.
 */
bool
worker_conn_reserve(const struct worker_args *a)
{
	if (a->svc->max_connections == 0 || a->conns == NULL)
		return true;
	static _Atomic bool at_limit;

	if (atomic_fetch_add(a->conns, 1) < (uint32_t)a->svc->max_connections) {
		atomic_store_explicit(&at_limit, false, memory_order_relaxed);
		return true;
	}
	atomic_fetch_sub(a->conns, 1);
	/* Counted once each time this worker reaches the limit, not at every
	 * look while it stays there. */
	if (!atomic_exchange_explicit(&at_limit, true, memory_order_relaxed))
		atomic_fetch_add_explicit(&a->slot->limited, 1, memory_order_relaxed);
	return false;
}

void
worker_conn_release(const struct worker_args *a)
{
	if (a->svc->max_connections != 0 && a->conns != NULL)
		atomic_fetch_sub(a->conns, 1);
}

/*
 * The worker is leaving on its own (recycling) or was told to: say so in
 * its slot, and wake the master so that a replacement starts now rather
 * than at its next tick (clients wait in the backlog meanwhile).
 */
void
worker_draining(const struct worker_args *a)
{
	uint64_t one = 1;

	atomic_store(&a->slot->state, SLOT_DRAINING);
	if (write(a->wake_fd, &one, sizeof(one)) == -1 && errno != EAGAIN && errno != EINTR)
		log_warn("%s: waking the master: %s", a->svc->name, strerror(errno));
}

/*
 * Put the worker's listeners in epoll set EP (EPOLLEXCLUSIVE, data.fd set)
 * or take them out. Taking out one that is not there is no error: a model
 * may pause at a limit and drain in the same turn.
 */
void
worker_watch(const struct worker_args *a, int ep, bool on)
{
	for (size_t i = 0; i < a->n_fds; i++) {
		struct epoll_event ev = { .events = EPOLLIN | EPOLLEXCLUSIVE, .data.fd = a->fds[i] };

		if (epoll_ctl(ep, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, a->fds[i], &ev) == -1 &&
		    !(errno == ENOENT && !on))
			fatal(EXIT_OSERR, "epoll_ctl: %s", strerror(errno));
	}
}

/*
 * max_requests: true, once, when COUNT (connections taken, or completed
 * for prefork) reaches the worker's limit; the caller then drains and the
 * master starts a fresh worker.
 */
bool
worker_recycle_due(const struct worker_args *a, uint64_t count)
{
	if (a->max_requests == 0 || count != (uint64_t)a->max_requests)
		return false;
	log_info("%s: worker recycles after %llu connections", a->svc->name,
	    (unsigned long long)count);
	return true;
}
