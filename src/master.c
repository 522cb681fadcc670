/*
 * master.c - the master process: owns the configuration, the listeners and
 * the scoreboard, keeps every service's pool of workers whole, and tells
 * systemd how things stand. It never reads or writes client data.
 *
 * One loop: wait (signals, the next timed decision, or a client waiting
 * for an ondemand service) -> act on signals -> reap children -> apply the
 * pool decisions -> STATUS and watchdog. The waiting happens in exactly one
 * place, on a signalfd (plus the listeners of the ondemand services that
 * asked for it), so no signal is lost between a check and a wait. The
 * master only looks at whether a listener is readable; it never accepts.
 *
 * Signal -> action (the whole table, workers too, is in sockd(8)):
 *   SIGTERM, SIGINT   graceful stop: workers finish their connections
 *                     (up to timeouts.graceful), then are killed; exit 0
 *   SIGQUIT           fast stop: workers are killed at once; exit 0
 *   SIGHUP            reload (see master_reload)
 *   SIGUSR1           reopen the log files, pass them on (master_reopen_logs)
 *   SIGUSR2           binary upgrade in place (see master_upgrade)
 *   SIGTTIN, SIGTTOU  one worker more / fewer in every static service
 *   SIGCHLD           reap
 *   the rest of sig.c's set (SIGALRM, ...): logged, ignored
 */
#include <errno.h>
#include <signal.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "control.h"
#include "guard.h"
#include "handler.h"
#include "listen.h"
#include "load.h"
#include "log.h"
#include "logfile.h"
#include "master.h"
#include "model.h"
#include "notify.h"
#include "pool.h"
#include "priv.h"
#include "scoreboard.h"
#include "sig.h"
#include "stats.h"
#include "status_format.h"
#include "status_line.h"
#include "upgrade.h"
#include "util.h"
#include "version.h"
#include "worker.h"

#define MASTER_TICK_MS 1000		/* STATUS refresh and housekeeping */
#define MASTER_READY_POLL_MS 20		/* while waiting for workers to accept */
#define MASTER_READY_MAX_NS (5000 * NS_PER_MS)	/* drain old workers by then anyway */
#define MAX_WORKERS 4096
/* Generations alive at once: the current one and three draining. A reload
 * that would make a fifth ends the oldest draining one's connections. */
#define MASTER_GENERATIONS 4

struct master_child {
	pid_t pid;
	uint32_t generation;
	size_t service;			/* in the current config, if current */
	struct scoreboard_slot *slot;
	int64_t started_ns;
	int graceful_ms;
	bool stopping;
	int64_t kill_at_ns;
	int64_t last_active_ns;		/* last seen busy or with more served */
	uint64_t last_served;
	int log_ctl;			/* its log file channel (logfile.c), or -1 */
	char *log_path;			/* the file it writes, or NULL */
	bool first;			/* of its generation's first round */
	bool cut;			/* ended early: past MASTER_GENERATIONS */
};

struct master_service {
	struct pool_state pool;
	uint32_t stat;			/* its counters' entry (stats.c) */
	bool warned_full;
	bool watch;			/* ondemand: poll its listeners for a waiting client */
	/* The generation's first round of workers (see master_first_exit): */
	int first_unspawned;		/* still to be started */
	int first_pending;		/* started, not yet ended */
	int first_failed;		/* ended before accepting anything */
};

struct master {
	const char *path;
	bool log_level_fixed;		/* -l given: log_level in the file is ignored */
	struct sockd_config *cfg;
	struct priv_ids ids;
	struct listen_set listeners;
	struct master_service *svc;	/* one per cfg service */
	_Atomic uint32_t *conns;	/* per cfg service, shared: open connections */
	int *log_fds;			/* per cfg service: its access log, or -1 */
	uint32_t generation;
	struct scoreboard *sb;
	struct stats *st;		/* counters that outlive workers */
	int sb_fd, st_fd, pt_fd;	/* their memfds (and the per-client table's) */
	struct control ctl;		/* the control socket (sockd status) */
	bool reload_pending;		/* its outcome is known once READY=1 goes */
	struct master_child *kids;
	size_t n_kids;
	int sig_fd;
	int wake_fd;			/* eventfd workers write when they start draining */
	bool stopping;
	bool waiting_ready;		/* READY=1 (and draining old workers) pending */
	bool ready_once;		/* READY=1 sent for the first time */
	bool keep_old;			/* a reload's workers fail: the old ones serve on */
	int exit_status;		/* of master_run */
	int64_t ready_since_ns;
	int64_t next_tick_ns;
	int64_t wake_ns;		/* earliest timed decision */
	uint64_t watchdog_usec;
	int64_t next_watchdog_ns;
	char reload_error[160];
	char status[1024];
};

static void master_stop(struct master *m, bool fast, int64_t now);

/* ---- children ---------------------------------------------------------- */

static struct master_child *
master_find_kid(struct master *m, pid_t pid)
{
	for (size_t i = 0; i < m->n_kids; i++)
		if (m->kids[i].pid == pid)
			return &m->kids[i];
	return NULL;
}

static void
master_close_channel(int ctl[2])
{
	for (int i = 0; i < 2; i++)
		if (ctl[i] != -1)
			close(ctl[i]);
}

static bool
master_spawn(struct master *m, size_t s, int64_t now)
{
	const struct config_service *svc = &m->cfg->services[s];
	struct worker_args a = { .svc = svc, .handler = handler_get(svc), .master = getpid(),
		.ids = &m->ids,
		.wake_fd = m->wake_fd, .log_fd = m->log_fds[s], .log_ctl = -1,
		.conns = &m->conns[s] };
	struct master_child *k;
	int ctl[2] = { -1, -1 };
	pid_t pid;

	a.slot = scoreboard_claim(m->sb, 0, m->generation, (uint32_t)s, m->svc[s].stat, now);
	if (a.slot == NULL) {
		if (!m->svc[s].warned_full)
			log_err("%s: no free scoreboard slot (%u in all): restart sockd to make room",
			    svc->name, m->sb->n_slots);
		m->svc[s].warned_full = true;
		return false;
	}
	a.n_fds = listen_service_fds(&m->listeners, s, a.fds, WORKER_MAX_LISTENERS);
	a.max_requests = pool_max_requests(svc->max_requests, svc->max_requests_jitter,
	    arc4random());
	if (a.log_fd != -1 && logfile_channel(ctl) == 0)
		a.log_ctl = ctl[1];	/* else it keeps writing one file until it ends */
	pid = fork();
	if (pid == -1) {
		log_err("%s: fork: %s", svc->name, strerror(errno));
		scoreboard_release(a.slot);
		master_close_channel(ctl);
		return false;
	}
	if (pid == 0)
		worker_main(&a);
	if (ctl[1] != -1)
		close(ctl[1]);
	a.slot->pid = pid;
	stats_started(m->st, a.slot);
	m->kids = xreallocarray(m->kids, m->n_kids + 1, sizeof(*m->kids));
	k = &m->kids[m->n_kids++];
	*k = (struct master_child){ .pid = pid, .generation = m->generation, .service = s,
		.slot = a.slot, .started_ns = now, .graceful_ms = svc->graceful_ms,
		.last_active_ns = now, .log_ctl = ctl[0],
		.log_path = ctl[0] != -1 ? xstrdup(svc->http_access_log) : NULL,
		.first = m->svc[s].first_unspawned > 0 };
	if (k->first) {
		m->svc[s].first_unspawned--;
		m->svc[s].first_pending++;
	}
	log_svc(LOG_DEBUG, svc->name, "%s: started worker %ld", svc->name, (long)pid);
	return true;
}

static void
master_signal_kid(struct master_child *k, int sig, int64_t now)
{
	if (kill(k->pid, sig) == -1 && errno != ESRCH)
		log_warn("kill(%ld, %d): %s", (long)k->pid, sig, strerror(errno));
	if (sig == SIGTERM && !k->stopping) {
		k->stopping = true;
		k->kill_at_ns = now + (int64_t)k->graceful_ms * NS_PER_MS;
	}
}

/* A worker busy without a heartbeat: say what it was doing, then stop it
 * with a short grace (it is probably not reading its signals). */
static void
master_stop_hung(const struct master *m, struct master_child *k, int64_t now)
{
	const struct scoreboard_slot *sl = k->slot;

	log_event(LOG_MSGID_WORKER_HUNG, m->cfg->services[k->service].name, LOG_WARNING,
	    "%s: worker %ld hung: busy with no heartbeat for %.1f s "
	    "(%u connections open, %llu served, %llu messages, %llu bytes in); killing it",
	    m->cfg->services[k->service].name, (long)k->pid,
	    (double)(now - atomic_load(&sl->heartbeat_ns)) / 1e9, atomic_load(&sl->current),
	    (unsigned long long)atomic_load(&sl->served),
	    (unsigned long long)atomic_load(&sl->messages),
	    (unsigned long long)atomic_load(&sl->bytes_in));
	master_signal_kid(k, SIGTERM, now);
	k->kill_at_ns = now + POOL_HUNG_GRACE_NS;
	stats_hung(m->st, k->slot);
}

static void
master_log_exit(const struct master *m, const struct master_child *k, int status)
{
	/* An old generation's service is known by its counters' entry. */
	const char *name = k->generation == m->generation ? m->cfg->services[k->service].name :
	    k->slot->stat < m->st->n ? m->st->svc[k->slot->stat].name : "?";
	char who[SNAPSHOT_NAME_MAX + 32];

	if (k->generation == m->generation)
		snprintf(who, sizeof(who), "%s", name);
	else
		snprintf(who, sizeof(who), "%s (generation %u)", name, k->generation);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		log_svc(LOG_INFO, name, "%s: worker %ld exited", who, (long)k->pid);
	else if (WIFEXITED(status))
		log_event(LOG_MSGID_WORKER_CRASHED, name, LOG_WARNING,
		    "%s: worker %ld exited with status %d", who, (long)k->pid, WEXITSTATUS(status));
	else if (WIFSIGNALED(status) && k->stopping && WTERMSIG(status) == SIGKILL)
		log_svc(LOG_WARNING, name, "%s: worker %ld killed: it had been asked to stop", who,
		    (long)k->pid);
	else
		log_event(LOG_MSGID_WORKER_CRASHED, name, LOG_WARNING,
		    "%s: worker %ld killed by signal %d (%s)", who, (long)k->pid,
		    WTERMSIG(status), strsignal(WTERMSIG(status)));
}

/* A worker that died holding connections (killed, crashed) never gave
 * them back to the service's max_connections count: do it for it.
 * XXX a worker killed between reserving and accepting leaks one. */
static void
master_return_conns(struct master *m, const struct master_child *k)
{
	uint32_t held = atomic_load(&k->slot->current), have;

	if (held == 0 || m->cfg->services[k->service].max_connections == 0)
		return;
	have = atomic_load(&m->conns[k->service]);
	while (!atomic_compare_exchange_weak(&m->conns[k->service], &have,
	    have > held ? have - held : 0))
		;
}

/* "status 78" or "signal 6 (Aborted)": how a worker ended, for a log line. */
static void
master_describe_exit(int status, char *buf, size_t size)
{
	if (WIFEXITED(status))
		snprintf(buf, size, "status %d", WEXITSTATUS(status));
	else
		snprintf(buf, size, "signal %d (%s)", WTERMSIG(status),
		    strsignal(WTERMSIG(status)));
}

/*
 * Readiness: the first round of a generation (its first `workers`
 * workers) shows whether the service can serve at all. When every one of
 * them ended abnormally before accepting a connection, it cannot: at
 * start (before the first READY=1) sockd stops and exits 78 if the last
 * one exited 78 (a resource the configuration names), 71 otherwise; after
 * a reload the previous generation keeps serving (see master_keep_old).
 */
static void
master_first_exit(struct master *m, struct master_child *k, int status, bool abnormal)
{
	struct master_service *ms = &m->svc[k->service];
	const char *name = m->cfg->services[k->service].name;
	char how[64];

	ms->first_pending--;
	if (m->stopping)
		return;	/* a fast stop kills workers that may not have accepted yet */
	if (!abnormal || atomic_load(&k->slot->served) > 0 || atomic_load(&k->slot->current) > 0)
		return;
	if (++ms->first_failed < m->cfg->services[k->service].workers || ms->first_unspawned > 0)
		return;
	master_describe_exit(status, how, sizeof(how));
	if (m->ready_once && m->generation == 1) {	/* READY=1 went out after 5 s */
		log_svc(LOG_ERR, name, "%s: workers fail at start: all %d ended before accepting a "
		    "connection (the last by %s); trying again with backoff", name, ms->first_failed,
		    how);
		snprintf(m->reload_error, sizeof(m->reload_error), "%s: workers fail at start",
		    name);
		m->keep_old = true;	/* until it serves: the note stays in STATUS */
		return;
	}
	if (m->ready_once) {
		log_event(LOG_MSGID_RELOAD_FAILED, name, LOG_ERR,
		    "%s: workers of generation %u fail at start: all %d ended before "
		    "accepting a connection (the last by %s); the previous generation keeps serving",
		    name, m->generation, ms->first_failed, how);
		snprintf(m->reload_error, sizeof(m->reload_error),
		    "reload: %s: workers fail at start; previous generation serving", name);
		m->keep_old = true;
		return;
	}
	log_svc(LOG_ERR, name, "%s: workers fail at start: all %d ended before accepting a "
	    "connection (the last by %s); exiting", name, ms->first_failed, how);
	m->exit_status = WIFEXITED(status) && WEXITSTATUS(status) == EXIT_CONFIG ?
	    EXIT_CONFIG : EXIT_OSERR;	/* master_reap stops */
}

/* A worker of the current generation ended: its counts back to the
 * service, the pool told, backoff logged when it starts. */
static void
master_current_exit(struct master *m, struct master_child *k, int status, int64_t now)
{
	struct master_service *ms = &m->svc[k->service];
	bool abnormal = !(WIFEXITED(status) && WEXITSTATUS(status) == 0) && !k->stopping;
	int st = atomic_load(&k->slot->state);	/* its last word: it cannot change now */
	struct pool_end end = { .abnormal = abnormal,
		.killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
		.ready = st == SLOT_IDLE || st == SLOT_BUSY, .served = atomic_load(&k->slot->served),
		.alive_ns = now - k->started_ns };

	master_return_conns(m, k);
	if (pool_ended(&ms->pool, &end, now)) {
		stats_backoff(m->st, ms->stat, true, ms->pool.backoff.failures, now);
		log_event(LOG_MSGID_BACKOFF_ENTERED, m->cfg->services[k->service].name, LOG_WARNING,
		    "%s: worker %ld failed at start: backing off (one worker at a time, "
		    "%lld ms to %lld s apart)", m->cfg->services[k->service].name, (long)k->pid,
		    (long long)(POOL_BACKOFF_MIN_NS / NS_PER_MS),
		    (long long)(POOL_BACKOFF_MAX_NS / NS_PER_MS / 1000));
	} else if (ms->pool.backoff.failures > 0)
		stats_backoff(m->st, ms->stat, true, ms->pool.backoff.failures, now);
	if (k->first)
		master_first_exit(m, k, status, abnormal);
}

/* Reap every child that has exited; no zombie survives a pass. */
static void
master_reap(struct master *m, int64_t now)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		struct master_child *k = master_find_kid(m, pid);

		if (k == NULL)
			continue;
		bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;

		master_log_exit(m, k, status);
		if (k->generation == m->generation)
			master_current_exit(m, k, status, now);
		/* Leaving on its own, not told to: it recycled (max_requests). */
		guard_reclaim(k->slot);	/* its per-client places */
		stats_reaped(m->st, k->slot, status, !clean && !k->stopping, clean && !k->stopping &&
		    atomic_load(&k->slot->state) == SLOT_DRAINING);
		if (k->log_ctl != -1)
			close(k->log_ctl);
		free(k->log_path);
		*k = m->kids[--m->n_kids];
	}
	if (pid == -1 && errno != ECHILD)
		log_err("waitpid: %s", strerror(errno));
	if (m->exit_status != 0 && !m->stopping)
		master_stop(m, true, now);	/* a service failed at start */
}

/* ---- decisions --------------------------------------------------------- */

static void
master_wake_by(struct master *m, int64_t t)
{
	if (t != 0 && (m->wake_ns == 0 || t < m->wake_ns))
		m->wake_ns = t;
}

/* Is a client waiting on one of service S's listeners? Asked after the
 * workers were looked at, so a client a worker took meanwhile is gone. */
static bool
master_client_waiting(const struct master *m, size_t s)
{
	struct pollfd p[WORKER_MAX_LISTENERS];
	int fds[WORKER_MAX_LISTENERS];
	size_t n = listen_service_fds(&m->listeners, s, fds, WORKER_MAX_LISTENERS);
	int r;

	for (size_t i = 0; i < n; i++)
		p[i] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
	if ((r = poll(p, n, 0)) == -1 && errno != EINTR)
		log_warn("poll: %s", strerror(errno));
	/* Any event counts (an error too): it must not be watched again at once. */
	return r > 0;
}

/* The worker as the decision sees it; notes when it was last active. */
static struct pool_worker
master_observe(const struct master *m, struct master_child *k, int64_t now)
{
	int st = atomic_load(&k->slot->state);
	uint64_t served = atomic_load(&k->slot->served);
	bool current = k->generation == m->generation;
	uint32_t cap = current ? model_get(m->cfg->services[k->service].model)->capacity(
	    &m->cfg->services[k->service]) : 1;

	if (st == SLOT_BUSY || served != k->last_served) {
		k->last_active_ns = now;
		k->last_served = served;
	}
	return (struct pool_worker){ .current = current,
		.stopping = k->stopping, .kill_at_ns = k->kill_at_ns,
		.busy = st == SLOT_BUSY || (st == SLOT_DRAINING && atomic_load(&k->slot->current) > 0),
		.draining = st == SLOT_DRAINING,
		.full = st == SLOT_BUSY && atomic_load(&k->slot->current) >= cap,
		.heartbeat_ns = atomic_load(&k->slot->heartbeat_ns), .served = served,
		.started_ns = k->started_ns, .last_active_ns = k->last_active_ns };
}

/* Run the pool decision over the kids for which MATCH is true. */
static void
master_apply(struct master *m, struct pool_state *ps, bool (*match)(const struct master *,
    const struct master_child *, size_t), size_t s, int64_t now, struct pool_decision *d)
{
	struct pool_worker *w = xcalloc(m->n_kids, sizeof(*w));
	size_t *idx = xcalloc(m->n_kids, sizeof(*idx));
	size_t n = 0;

	for (size_t i = 0; i < m->n_kids; i++) {
		if (!match(m, &m->kids[i], s))
			continue;
		idx[n] = i;
		w[n++] = master_observe(m, &m->kids[i], now);
	}
	if (ps->mode == POOL_ONDEMAND)
		ps->waiting = master_client_waiting(m, s);
	pool_decide(ps, w, n, now, d);
	for (size_t i = 0; i < n; i++)
		if (w[i].action == POOL_HUNG)
			master_stop_hung(m, &m->kids[idx[i]], now);
		else if (w[i].action != POOL_KEEP)
			master_signal_kid(&m->kids[idx[i]],
			    w[i].action == POOL_KILL ? SIGKILL : SIGTERM, now);
	master_wake_by(m, d->wake_ns);
	free(idx);
	free(w);
}

static bool
match_service(const struct master *m, const struct master_child *k, size_t s)
{
	return k->generation == m->generation && k->service == s;
}

static bool
match_retired(const struct master *m, const struct master_child *k, size_t s)
{
	(void)s;
	return k->generation != m->generation || m->stopping;
}

static void
master_maintain(struct master *m, int64_t now)
{
	struct pool_state retired = { 0 };
	struct pool_decision d;

	m->wake_ns = 0;
	if (!m->stopping)
		for (size_t s = 0; s < m->cfg->n_services; s++) {
			struct master_service *ms = &m->svc[s];

			master_apply(m, &ms->pool, match_service, s, now, &d);
			if (d.recovered > 0)
				stats_backoff(m->st, ms->stat, false, 0, now);
			if (d.recovered > 0)
				log_event(LOG_MSGID_BACKOFF_LEFT, m->cfg->services[s].name, LOG_NOTICE,
				    "%s: workers start again: backoff over after %u failed starts",
				    m->cfg->services[s].name, d.recovered);
			ms->watch = d.watch;
			for (int i = 0; i < d.spawn; i++)
				if (!master_spawn(m, s, clock_now()))
					ms->watch = false;	/* retried at the tick, not in a spin */
		}
	master_apply(m, &retired, match_retired, 0, now, &d);	/* overdue stops */
}

/*
 * Is every worker of service S that should be there accepting? A failing
 * service is ready with one worker accepting, or once its first round has
 * ended (READY must not wait for workers that may never come), but not
 * before: the first round decides whether it can serve at all.
 */
static bool
master_service_ready(const struct master *m, size_t s)
{
	const struct master_service *ms = &m->svc[s];
	int accepting = 0;

	for (size_t i = 0; i < m->n_kids; i++) {
		const struct master_child *k = &m->kids[i];
		int st = atomic_load(&k->slot->state);

		if (match_service(m, k, s) && !k->stopping && (st == SLOT_IDLE || st == SLOT_BUSY))
			accepting++;
	}
	if (accepting >= ms->pool.desired)
		return true;
	return ms->pool.backoff.failures > 0 &&
	    (accepting > 0 || (ms->first_pending == 0 && ms->first_unspawned == 0));
}

/* Ask the previous generations to finish their connections and exit. */
static void
master_retire_old(struct master *m, int64_t now)
{
	for (size_t i = 0; i < m->n_kids; i++)
		if (m->kids[i].generation != m->generation && !m->kids[i].stopping)
			master_signal_kid(&m->kids[i], SIGTERM, now);
}

/*
 * After a reload whose workers failed at start, the previous generation
 * serves on: retire it once every service of the new one is accepting
 * and none is failing.
 */
static void
master_keep_old(struct master *m, int64_t now)
{
	for (size_t s = 0; s < m->cfg->n_services; s++)
		if (m->svc[s].pool.backoff.failures > 0 || !master_service_ready(m, s))
			return;
	log_notice("generation %u serves: the previous one leaves", m->generation);
	m->keep_old = false;
	m->reload_error[0] = '\0';
	master_retire_old(m, now);
}

/* Every current worker accepting (or 5 s gone by)? Then say READY=1 and
 * let the previous generation go. */
static void
master_check_ready(struct master *m, int64_t now)
{
	bool all = true;

	for (size_t s = 0; s < m->cfg->n_services && all; s++)
		all = master_service_ready(m, s);
	if (!all && now - m->ready_since_ns < MASTER_READY_MAX_NS)
		return;
	if (!m->keep_old)
		master_retire_old(m, now);
	if (m->reload_pending)
		stats_reload(m->st, false, !m->keep_old, m->reload_error);
	m->reload_pending = false;
	m->waiting_ready = false;
	m->ready_once = true;
	notify_ready();
}

/* ---- status ------------------------------------------------------------ */

/* The numbers STATUS= shows for service S (its rate from stats_tick). */
static void
master_status_service(struct master *m, size_t s, struct status_line_service *out)
{
	struct master_service *ms = &m->svc[s];

	*out = (struct status_line_service){ .name = m->cfg->services[s].name,
		.failures = ms->pool.backoff.failures, .ondemand = ms->pool.mode == POOL_ONDEMAND,
		.rate = m->st->svc[ms->stat].rate[0] };
	for (size_t i = 0; i < m->n_kids; i++) {
		const struct master_child *k = &m->kids[i];
		int st = atomic_load(&k->slot->state);

		if (!match_service(m, k, s))
			continue;
		out->busy += st == SLOT_BUSY;
		out->idle += st == SLOT_IDLE;
		out->conns += atomic_load(&k->slot->current);
	}
}

/* STATUS=, sent only when its text changes (status_line.c writes it). */
static void
master_status(struct master *m)
{
	struct status_line_service *svc = xcalloc(m->cfg->n_services, sizeof(*svc));
	char buf[STATUS_LINE_MAX];

	for (size_t s = 0; s < m->cfg->n_services; s++)
		master_status_service(m, s, &svc[s]);
	status_line_format(buf, sizeof(buf), m->reload_error, svc, m->cfg->n_services);
	free(svc);
	if (strcmp(buf, m->status) != 0) {
		snprintf(m->status, sizeof(m->status), "%s", buf);
		notify_status("%s", m->status);
	}
}

/* ---- the control socket ------------------------------------------------- */

/* "status [--json] [-w] [SERVICE]": what sockd status prints. */
static void
master_answer_status(struct master *m, int argc, char **argv, struct strbuf *out)
{
	struct status_opts o = { 0 };
	bool json = false;
	struct snapshot s;
	struct strbuf body = { 0 };

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = true;
		else if (strcmp(argv[i], "-w") == 0)
			o.workers = true;
		else if (argv[i][0] != '-' && o.service == NULL)
			o.service = argv[i];
		else {
			strbuf_printf(out, "error: status: unexpected \"%.64s\"\n", argv[i]);
			return;
		}
	}
	if (stats_snapshot(m->st, &s) == -1) {
		strbuf_puts(out, "error: the counters are being written; try again\n");
		return;
	}
	if (o.service != NULL && !status_format_find(&s, o.service))
		strbuf_printf(out, "error: no service \"%.64s\"\n", o.service);
	else {
		if (json)
			status_format_json(&body, &s, &o);
		else
			status_format_text(&body, &s, &o);
		strbuf_puts(out, "ok\n");
		strbuf_add(out, body.p != NULL ? body.p : "", body.len);
		out->overflow = out->overflow || body.overflow;
	}
	strbuf_free(&body);
	snapshot_free(&s);
}

static void
master_answer(void *arg, int argc, char **argv, struct strbuf *out)
{
	struct master *m = arg;

	if (strcmp(argv[0], "status") == 0)
		master_answer_status(m, argc, argv, out);
	else
		strbuf_printf(out, "error: unknown command \"%.64s\" (known: status)\n", argv[0]);
}

/*
 * The control socket's path: control.path, else RUNTIME_DIRECTORY's first
 * directory (systemd's RuntimeDirectory=) with "control"; NULL: none.
 */
static char *
master_control_path(const struct sockd_config *cfg)
{
	const char *rt = getenv("RUNTIME_DIRECTORY");

	if (!cfg->control)
		return NULL;
	if (cfg->control_path != NULL)
		return xstrdup(cfg->control_path);
	if (rt == NULL || rt[0] != '/')
		return NULL;
	return xasprintf("%.*s/control", (int)strcspn(rt, ":"), rt);
}

static int
master_open_control(struct master *m)
{
	char *path = master_control_path(m->cfg);
	int r = 0;

	if (path == NULL)
		log_info("no control socket (sockd status): %s", m->cfg->control ?
		    "set control.path, or run under systemd with RuntimeDirectory=" :
		    "control.enabled is false");
	else
		r = control_open(&m->ctl, path, m->cfg->control_gid, master_answer, m);
	free(path);
	return r;
}

/* A reload does not move the control socket: say so if it asked to. */
static void
master_control_reloaded(const struct master *m)
{
	char *path = master_control_path(m->cfg);

	if ((path == NULL) != (m->ctl.path == NULL) ||
	    (path != NULL && strcmp(path, m->ctl.path) != 0) ||
	    (path != NULL && m->cfg->control_gid != m->ctl.gid))
		log_warn("reload: the control socket stays %s%s; restart sockd to change it",
		    m->ctl.path != NULL ? "at " : "", m->ctl.path != NULL ? m->ctl.path : "off");
	free(path);
}

/* ---- log files ---------------------------------------------------------- */

static void
master_close_logs(int *fds, size_t n)
{
	for (size_t s = 0; s < n && fds != NULL; s++)
		if (fds[s] != -1)
			close(fds[s]);
	free(fds);
}

/* Open every service's access log, as root, before a worker needs it: the
 * descriptors per service (-1: none), or NULL when one cannot be opened
 * (logged, and said in WHY; the start or the reload fails). */
static int *
master_open_logs(const struct sockd_config *cfg, char *why, size_t size)
{
	int *fds = xcalloc(cfg->n_services ? cfg->n_services : 1, sizeof(*fds));

	for (size_t s = 0; s < cfg->n_services; s++)
		fds[s] = -1;
	for (size_t s = 0; s < cfg->n_services; s++) {
		const char *path = cfg->services[s].http_access_log;

		if (path == NULL)
			continue;
		if ((fds[s] = logfile_open(path)) == -1) {
			snprintf(why, size, "%s: http.access_log %s: %s", cfg->services[s].name, path,
			    strerror(errno));
			log_err("%s", why);
			master_close_logs(fds, cfg->n_services);
			return NULL;
		}
	}
	return fds;
}

/* The new descriptor of K's log file: the service's for a current worker
 * (-1 if it could not be reopened: FRESH says which were), else (an old
 * generation's) its path opened again, to be closed after the send. */
static int
master_log_for(const struct master *m, const struct master_child *k, const bool *fresh,
    bool *opened_r)
{
	*opened_r = false;
	if (k->generation == m->generation)
		return fresh[k->service] ? m->log_fds[k->service] : -1;
	*opened_r = true;
	return logfile_open(k->log_path);
}

/*
 * SIGUSR1 (logrotate has renamed the files): open every log file again,
 * and give each worker that writes one the new descriptor, then the
 * signal. The descriptor goes first, so the worker finds it waiting when
 * it reads the signal; it replaces its old one under the same number
 * (logfile.c), so every line goes to the old file or the new one. A file
 * that cannot be opened stays as it was.
 */
static void
master_reopen_logs(struct master *m, int64_t now)
{
	bool *fresh = xcalloc(m->cfg->n_services + 1, sizeof(*fresh));
	size_t files = 0, told = 0;

	for (size_t s = 0; s < m->cfg->n_services; s++) {
		int fd;

		if (m->log_fds[s] == -1)
			continue;
		if ((fd = logfile_open(m->cfg->services[s].http_access_log)) == -1) {
			log_err("%s: SIGUSR1: http.access_log %s: %s; still writing the old file",
			    m->cfg->services[s].name, m->cfg->services[s].http_access_log,
			    strerror(errno));
			continue;
		}
		close(m->log_fds[s]);
		m->log_fds[s] = fd;
		fresh[s] = true;
		files++;
	}
	for (size_t i = 0; i < m->n_kids; i++) {
		struct master_child *k = &m->kids[i];
		bool opened;
		int fd;

		if (k->log_ctl == -1)
			continue;
		if ((fd = master_log_for(m, k, fresh, &opened)) == -1) {
			if (opened)	/* a current worker's was logged above */
				log_err("worker %ld: SIGUSR1: %s: %s; still writing the old file",
				    (long)k->pid, k->log_path, strerror(errno));
			continue;
		}
		if (logfile_send(k->log_ctl, fd) == 0) {
			master_signal_kid(k, SIGUSR1, now);
			told++;
		} else
			log_warn("worker %ld: cannot hand over its new log file: %s; "
			    "it keeps writing the old one", (long)k->pid, strerror(errno));
		if (opened)
			close(fd);
	}
	log_notice("SIGUSR1: reopened %zu log file%s, handed to %zu worker%s", files,
	    files == 1 ? "" : "s", told, told == 1 ? "" : "s");
	free(fresh);
}

/* ---- reload ------------------------------------------------------------ */

static void
master_reload_failed(struct master *m, const char *why)
{
	log_event(LOG_MSGID_RELOAD_FAILED, NULL, LOG_ERR,
	    "reload failed: %s; still serving the previous configuration", why);
	snprintf(m->reload_error, sizeof(m->reload_error), "reload failed: %s", why);
	stats_reload(m->st, false, false, why);
	notify_ready();
}

/* The pools of a new configuration, and its services' counters (MAP, from
 * stats_bind). */
static void
master_set_pools(struct master *m, const uint32_t *map)
{
	m->svc = xcalloc(m->cfg->n_services, sizeof(*m->svc));
	m->conns = scoreboard_counters(m->cfg->n_services);
	for (size_t s = 0; s < m->cfg->n_services; s++) {
		const struct config_service *svc = &m->cfg->services[s];

		m->svc[s].stat = map[s];
		pool_init(&m->svc[s].pool, svc->workers, (int64_t)svc->heartbeat_ms * NS_PER_MS);
		m->svc[s].first_unspawned = svc->pool_mode == POOL_MODE_ONDEMAND ? 0 : svc->workers;
		if (svc->pool_mode == POOL_MODE_DYNAMIC)
			pool_init_dynamic(&m->svc[s].pool, svc->min_spare, svc->max_spare,
			    svc->max_workers);
		else if (svc->pool_mode == POOL_MODE_ONDEMAND)
			pool_init_ondemand(&m->svc[s].pool, svc->max_workers,
			    (int64_t)svc->pool_idle_ms * NS_PER_MS);
	}
}

/*
 * At most MASTER_GENERATIONS generations at once. Persistent clients that
 * never close (HTTP ones are handed over at a request boundary) keep a
 * draining generation alive until its timeouts.graceful; reloads faster
 * than that would stack generations without end. Past the bound the
 * oldest draining generation is ended now, as its graceful timeout would.
 */
static void
master_bound_generations(struct master *m, int64_t now)
{
	for (;;) {
		uint32_t oldest = m->generation;
		size_t gens = 0, workers = 0, conns = 0;

		/* The draining generations not yet ended, and the oldest of them. */
		for (size_t i = 0; i < m->n_kids; i++) {
			const struct master_child *k = &m->kids[i];
			bool seen = false;

			if (k->generation == m->generation || k->cut)
				continue;
			for (size_t j = 0; j < i && !seen; j++)
				seen = !m->kids[j].cut && m->kids[j].generation == k->generation;
			gens += !seen;
			if (k->generation < oldest)
				oldest = k->generation;
		}
		if (gens < MASTER_GENERATIONS)
			return;
		for (size_t i = 0; i < m->n_kids; i++) {
			struct master_child *k = &m->kids[i];

			if (k->generation != oldest || k->cut)
				continue;
			workers++;
			conns += atomic_load(&k->slot->current);
			if (!k->stopping)
				master_signal_kid(k, SIGTERM, now);
			k->kill_at_ns = now;	/* SIGKILL at the next decision */
			k->cut = true;
		}
		log_warn("reload: %d generations would run at once: generation %u ends now "
		    "(%zu worker%s, %zu connection%s cut)", MASTER_GENERATIONS + 1, oldest, workers,
		    workers == 1 ? "" : "s", conns, conns == 1 ? "" : "s");
	}
}

/*
 * SIGHUP, in nginx's order: read and check the new configuration in full;
 * on any error keep everything as it is. Otherwise open the new listeners
 * (unchanged addresses keep their sockets), start the new generation, and
 * once it accepts, ask the old one to finish its connections and exit.
 */
static void
master_reload(struct master *m)
{
	struct sockd_config *cfg;
	struct listen_set set;
	struct priv_ids ids;
	char why[sizeof(m->reload_error) - 16];
	int *log_fds;
	uint32_t *map;

	notify_reloading();
	log_notice("SIGHUP: reloading %s", m->path);
	if (m->reload_pending)	/* the one before is over as far as it got */
		stats_reload(m->st, false, !m->keep_old, m->reload_error);
	m->reload_pending = false;
	stats_reload(m->st, true, false, NULL);
	if ((cfg = load_config(m->path, false, why, sizeof(why))) == NULL)
		return master_reload_failed(m, why);
	model_settle(cfg);
	map = xcalloc(cfg->n_services ? cfg->n_services : 1, sizeof(*map));
	if (stats_bind(m->st, cfg, map) == -1) {
		snprintf(why, sizeof(why), "no room for the counters of so many new services "
		    "(restart sockd)");
		goto fail_cfg;
	}
	if (priv_resolve(cfg->user, cfg->group, &ids) == -1) {
		snprintf(why, sizeof(why), "cannot resolve user/group");
		goto fail_cfg;
	}
	if ((log_fds = master_open_logs(cfg, why, sizeof(why))) == NULL)
		goto fail_ids;
	if (listen_set_open(cfg, &m->listeners, &set) != 0) {
		master_close_logs(log_fds, cfg->n_services);
		snprintf(why, sizeof(why), "cannot open the new listeners");
		goto fail_ids;
	}
	master_close_logs(m->log_fds, m->cfg->n_services);	/* old workers have theirs */
	m->log_fds = log_fds;
	listen_set_close(&m->listeners);	/* what the new config no longer has */
	m->listeners = set;
	scoreboard_counters_free(m->conns, m->cfg->n_services);	/* workers keep theirs */
	priv_ids_free(&m->ids);
	m->ids = ids;
	config_free(m->cfg);
	m->cfg = cfg;
	if (!m->log_level_fixed)
		log_set_level(cfg->log_level);
	free(m->svc);
	m->generation++;
	master_bound_generations(m, clock_now());
	stats_commit(m->st, cfg, m->generation, map);
	master_set_pools(m, map);
	free(map);
	m->reload_pending = true;
	m->reload_error[0] = '\0';
	m->keep_old = false;	/* this generation retires every older one when ready */
	m->waiting_ready = true;
	m->ready_since_ns = clock_now();
	listen_log(&m->listeners, m->cfg);
	listen_store(&m->listeners, m->cfg);
	master_control_reloaded(m);
	log_event(LOG_MSGID_RELOADED, NULL, LOG_NOTICE, "reloaded: generation %u", m->generation);
	return;
fail_ids:
	priv_ids_free(&ids);
fail_cfg:
	free(map);
	config_free(cfg);
	master_reload_failed(m, why);
}

/* ---- binary upgrade ----------------------------------------------------- */

static void
master_upgrade_failed(struct master *m, const char *why)
{
	log_event(LOG_MSGID_RELOAD_FAILED, NULL, LOG_ERR,
	    "upgrade failed: %s; sockd %s serves on", why, sockd_version);
	snprintf(m->reload_error, sizeof(m->reload_error), "upgrade failed: %s", why);
	stats_upgrade(m->st, false, NULL, why);
	notify_ready();
}

/* What the new image needs of us (upgrade.h); pointers into M. */
static void
master_handover(const struct master *m, struct upgrade_state *s)
{
	*s = (struct upgrade_state){ .generation = m->generation, .sb_fd = m->sb_fd,
		.st_fd = m->st_fd, .pt_fd = m->pt_fd, .wake_fd = m->wake_fd, .ctl_fd = m->ctl.fd,
		.ctl_gid = m->ctl.gid, .ctl_path = m->ctl.path };
	snprintf(s->version, sizeof(s->version), "%s", sockd_version);
	snprintf(s->layout, sizeof(s->layout), "%s", upgrade_layout());
	s->l = xcalloc(m->listeners.n + 1, sizeof(*s->l));
	for (size_t i = 0; i < m->listeners.n; i++) {
		const struct listener *l = &m->listeners.l[i];
		char text[ADDR_TEXT_MAX];

		if (l->fd == -1)
			continue;
		addr_format(&l->addr, text, sizeof(text));
		s->l[s->n_l++] = (struct upgrade_listener){ .fd = l->fd, .activated = l->activated,
			.remove_file = l->remove_file, .name = l->name, .addr = xstrdup(text) };
	}
	s->k = xcalloc(m->n_kids + 1, sizeof(*s->k));
	for (size_t i = 0; i < m->n_kids; i++) {
		const struct master_child *k = &m->kids[i];

		s->k[s->n_k++] = (struct upgrade_kid){ .pid = k->pid, .generation = k->generation,
			.slot = (uint32_t)(k->slot - m->sb->slots), .stopping = k->stopping,
			.kill_at_ns = k->kill_at_ns, .started_ns = k->started_ns,
			.graceful_ms = k->graceful_ms, .log_ctl = k->log_ctl, .log_path = k->log_path };
	}
}

static void
master_handover_free(struct upgrade_state *s)
{
	for (size_t i = 0; i < s->n_l; i++)
		free(s->l[i].addr);
	free(s->l);
	free(s->k);
}

/*
 * SIGUSR2: become the binary at our own path, in this process. It must
 * say it is a sockd sharing our memory layout and pass -t on the running
 * configuration, or nothing happens but a log line. Then the exec: the
 * new image (master_init with the handover) adopts the workers as an
 * older generation, starts its own, and lets them drain as after a reload.
 */
static void
master_upgrade(struct master *m)
{
	char newver[SNAPSHOT_VERSION_MAX], why[sizeof(m->reload_error) - 24];
	struct upgrade_state s;

	notify_reloading();
	log_notice("SIGUSR2: upgrading sockd %s in place; checking the binary", sockd_version);
	if (upgrade_check(m->path, newver, sizeof(newver), why, sizeof(why)) == -1)
		return master_upgrade_failed(m, why);
	/* A reload still waiting for READY=1 is over: its generation is
	 * handed over, and the counters must not keep it open forever. */
	if (m->reload_pending)
		stats_reload(m->st, false, !m->keep_old, m->reload_error);
	m->reload_pending = false;
	master_handover(m, &s);
	log_notice("upgrading from sockd %s to sockd %s: pid %ld stays, %zu worker%s handed over",
	    sockd_version, newver, (long)getpid(), m->n_kids, m->n_kids == 1 ? "" : "s");
	notify_flush();
	upgrade_exec(&s, why, sizeof(why));
	master_handover_free(&s);
	master_upgrade_failed(m, why);
}

/* ---- signals and stopping ---------------------------------------------- */

static void
master_stop(struct master *m, bool fast, int64_t now)
{
	if (m->stopping && !fast)
		return;
	if (!m->stopping) {
		notify_stopping();
		log_event(LOG_MSGID_STOPPING, NULL, LOG_NOTICE, "%s stop: %zu workers",
		    fast ? "fast" : "graceful", m->n_kids);
	}
	m->stopping = true;
	for (size_t i = 0; i < m->n_kids; i++)
		master_signal_kid(&m->kids[i], fast ? SIGKILL : SIGTERM, now);
	listen_set_close(&m->listeners);	/* the workers hold their own copies */
}

static void
master_resize(struct master *m, int delta)
{
	for (size_t s = 0; s < m->cfg->n_services; s++) {
		struct pool_state *ps = &m->svc[s].pool;
		int want = ps->desired + delta;

		if (ps->mode != POOL_STATIC) {
			log_notice("%s: a%s pool sizes itself; SIGTTIN/SIGTTOU ignored",
			    m->cfg->services[s].name,
			    ps->mode == POOL_DYNAMIC ? " dynamic" : "n ondemand");
			continue;
		}
		if (want < 1 || want > MAX_WORKERS) {
			log_notice("%s: staying at %d workers", m->cfg->services[s].name, ps->desired);
			continue;
		}
		ps->desired = want;
		stats_desired(m->st, m->svc[s].stat, want);
		log_notice("%s: now %d workers", m->cfg->services[s].name, want);
	}
}

static void
master_signals(struct master *m, int64_t now)
{
	struct sig_info si;

	while (sig_read(m->sig_fd, &si)) {
		int sig = si.signo;

		switch (sig) {
		case SIGTERM:
		case SIGINT:
		case SIGQUIT:
			master_stop(m, sig == SIGQUIT, now);
			break;
		case SIGHUP:
			if (!m->stopping)
				master_reload(m);
			break;
		case SIGTTIN:
		case SIGTTOU:
			if (!m->stopping)
				master_resize(m, sig == SIGTTIN ? 1 : -1);
			break;
		case SIGUSR1:
			master_reopen_logs(m, now);	/* while stopping too: workers still write */
			break;
		case SIGUSR2:
			if (!m->stopping)
				master_upgrade(m);
			break;
		case SIGCHLD:
			break;	/* the reap below */
		default:
			sig_log_ignored(NULL, &si);
			break;
		}
	}
}

/* ---- the loop ---------------------------------------------------------- */

static int
master_timeout_ms(const struct master *m, int64_t now)
{
	int64_t next = m->next_tick_ns;

	if (m->wake_ns != 0 && m->wake_ns < next)
		next = m->wake_ns;
	if (m->watchdog_usec != 0 && m->next_watchdog_ns < next)
		next = m->next_watchdog_ns;
	if (m->waiting_ready && now + MASTER_READY_POLL_MS * NS_PER_MS < next)
		next = now + MASTER_READY_POLL_MS * NS_PER_MS;
	if (control_wake_ns(&m->ctl) != 0 && control_wake_ns(&m->ctl) < next)
		next = control_wake_ns(&m->ctl);
	return next <= now ? 0 : (int)((next - now + NS_PER_MS - 1) / NS_PER_MS);
}

/* The signalfd, the workers' wake eventfd, the control socket and its
 * clients (*N_CTL of them), then the listeners of the ondemand services
 * that watch them; read anew every time, as a reload replaces the
 * listener set. */
static size_t
master_poll_set(const struct master *m, struct pollfd *p, size_t *n_ctl)
{
	int fds[WORKER_MAX_LISTENERS];
	size_t n = 0;

	p[n++] = (struct pollfd){ .fd = m->sig_fd, .events = POLLIN };
	p[n++] = (struct pollfd){ .fd = m->wake_fd, .events = POLLIN };
	*n_ctl = control_pollfds(&m->ctl, p + n);
	n += *n_ctl;
	for (size_t s = 0; s < m->cfg->n_services && !m->stopping; s++) {
		size_t k;

		if (!m->svc[s].watch)
			continue;
		k = listen_service_fds(&m->listeners, s, fds, WORKER_MAX_LISTENERS);
		for (size_t i = 0; i < k; i++)
			p[n++] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
	}
	return n;
}

static void
master_wait(struct master *m)
{
	struct pollfd *p = xcalloc(m->listeners.n + 2 + CONTROL_POLLFDS, sizeof(*p));
	size_t n_ctl, n = master_poll_set(m, p, &n_ctl);
	int64_t now = clock_now();
	uint64_t wakes;
	int r;

	if ((r = poll(p, n, master_timeout_ms(m, now))) == -1 && errno != EINTR)
		fatal(EXIT_OSERR, "poll: %s", strerror(errno));
	if (r > 0 && p[1].revents != 0 && read(m->wake_fd, &wakes, sizeof(wakes)) == -1 &&
	    errno != EAGAIN && errno != EINTR)
		fatal(EXIT_OSERR, "eventfd read: %s", strerror(errno));
	if (r == -1)
		n_ctl = 0;	/* revents are not set: look at the deadlines only */
	control_serve(&m->ctl, p + 2, n_ctl, clock_now());
	free(p);
}

static void
master_housekeeping(struct master *m, int64_t now)
{
	bool tick = now >= m->next_tick_ns;

	if (m->waiting_ready && !m->stopping)
		master_check_ready(m, now);
	else if (m->keep_old && !m->stopping)
		master_keep_old(m, now);
	if (tick)
		m->next_tick_ns = now + MASTER_TICK_MS * NS_PER_MS;
	if (tick)
		stats_tick(m->st, now);
	if (!m->stopping)
		master_status(m);
	if (m->watchdog_usec != 0 && now >= m->next_watchdog_ns) {
		notify_watchdog();
		m->next_watchdog_ns = now + (int64_t)m->watchdog_usec * 1000 / 2;
	}
	notify_flush();		/* what a full notify socket held back */
}

static uint32_t
master_slots(const struct sockd_config *cfg)
{
	uint64_t n = 0;

	for (size_t s = 0; s < cfg->n_services; s++) {
		const struct config_service *svc = &cfg->services[s];

		n += (uint64_t)(svc->pool_mode == POOL_MODE_STATIC || svc->max_workers < svc->workers ?
		    svc->workers : svc->max_workers);
	}
	n *= 4;
	return n < 64 ? 64 : n > 65536 ? 65536 : (uint32_t)n;
}

/* The old image's listeners: their descriptors, as its set was. */
static int
master_take_listeners(const struct upgrade_state *up, struct listen_set *set)
{
	for (size_t i = 0; i < up->n_l; i++) {
		const struct upgrade_listener *l = &up->l[i];

		if (listen_take_handed(set, l->fd, l->name, l->activated, l->remove_file,
		    l->addr) == -1)
			return -1;
	}
	return 0;
}

/* The old image's workers, as an older generation than ours. */
static int
master_take_kids(struct master *m, const struct upgrade_state *up, int64_t now)
{
	m->kids = xcalloc(up->n_k + 1, sizeof(*m->kids));
	for (size_t i = 0; i < up->n_k; i++) {
		const struct upgrade_kid *u = &up->k[i];

		if (u->slot >= m->sb->n_slots || m->sb->slots[u->slot].pid != u->pid ||
		    u->generation >= m->generation) {
			log_err("upgrade: worker %ld does not hold scoreboard slot %u", (long)u->pid,
			    u->slot);
			return -1;
		}
		m->kids[m->n_kids++] = (struct master_child){ .pid = u->pid,
			.generation = u->generation, .slot = &m->sb->slots[u->slot],
			.started_ns = u->started_ns, .graceful_ms = u->graceful_ms,
			.stopping = u->stopping, .kill_at_ns = u->kill_at_ns, .last_active_ns = now,
			.last_served = atomic_load(&m->sb->slots[u->slot].served),
			.log_ctl = u->log_ctl,
			.log_path = u->log_path != NULL ? xstrdup(u->log_path) : NULL };
	}
	return 0;
}

/*
 * The shared memory and the descriptors of the image before us, and its
 * workers; our generation comes after its last one and starts as after
 * a reload: READY=1 once it accepts, and then the old workers drain.
 */
static int
master_take_over(struct master *m, const struct upgrade_state *up)
{
	m->generation = up->generation + 1;
	if ((m->sb = scoreboard_adopt(up->sb_fd)) == NULL ||
	    (m->st = stats_adopt(up->st_fd, m->sb)) == NULL || guard_adopt(up->pt_fd) == -1)
		return -1;
	m->sb_fd = up->sb_fd;
	m->st_fd = up->st_fd;
	m->pt_fd = up->pt_fd;
	m->wake_fd = up->wake_fd;
	if (up->ctl_fd != -1) {
		control_adopt(&m->ctl, up->ctl_fd, up->ctl_path, up->ctl_gid, master_answer, m);
		master_control_reloaded(m);	/* it stays where it was */
	} else if (master_open_control(m) == -1)
		return -1;
	if (master_take_kids(m, up, clock_now()) == -1)
		return -1;
	m->ready_once = true;	/* the old image said READY=1: failing workers are a reload's */
	stats_upgrade(m->st, true, up->version, NULL);
	log_event(LOG_MSGID_RELOADED, NULL, LOG_NOTICE, "upgraded from sockd %s to sockd %s: "
	    "generation %u, %zu worker%s of the previous image drain", up->version, sockd_version,
	    m->generation, m->n_kids, m->n_kids == 1 ? "" : "s");
	return 0;
}

static int
master_init(struct master *m, struct sockd_config *cfg, const char *path,
    const struct upgrade_state *up)
{
	struct listen_set old = { 0 };
	char why[256];
	uint32_t *map;
	int r = 0;

	*m = (struct master){ .path = path, .cfg = cfg, .generation = 1, .sig_fd = -1,
		.wake_fd = -1, .sb_fd = -1, .st_fd = -1, .pt_fd = -1 };
	control_init(&m->ctl);
	model_settle(cfg);
	if (priv_resolve(cfg->user, cfg->group, &m->ids) == -1)
		return EXIT_CONFIG;
	if ((m->log_fds = master_open_logs(cfg, why, sizeof(why))) == NULL)
		return EXIT_CONFIG;
	if ((up != NULL ? master_take_listeners(up, &old) : listen_activated(&old)) == -1 ||
	    (r = listen_set_open(cfg, &old, &m->listeners)) != 0) {
		listen_set_close(&old);
		return r == LISTEN_ECONFIG ? EXIT_CONFIG : EXIT_OSERR;
	}
	listen_set_close(&old);	/* after an upgrade: what the configuration dropped */
	listen_log(&m->listeners, cfg);
	listen_store(&m->listeners, cfg);
	if (up != NULL && master_take_over(m, up) == -1)
		return EXIT_OSERR;
	if (up == NULL) {
		m->sb = scoreboard_create(master_slots(cfg), &m->sb_fd);
		m->st = stats_create((uint32_t)cfg->n_services, m->sb, &m->st_fd);
	}
	map = xcalloc(cfg->n_services ? cfg->n_services : 1, sizeof(*map));
	if (stats_bind(m->st, cfg, map) == -1) {
		log_err("stats: no room for the counters of %zu services", cfg->n_services);
		free(map);
		return EXIT_OSERR;
	}
	stats_commit(m->st, cfg, m->generation, map);
	master_set_pools(m, map);
	free(map);
	if (up == NULL) {
		guard_init(&m->pt_fd);
		if (master_open_control(m) == -1)
			return EXIT_OSERR;
		m->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (m->wake_fd == -1)
			fatal(EXIT_OSERR, "eventfd: %s", strerror(errno));
	}
	m->sig_fd = sig_open();
	m->watchdog_usec = notify_watchdog_usec();
	m->waiting_ready = true;
	m->ready_since_ns = clock_now();
	/* Workers hold our pid as their parent; refuse ptrace from them. */
	if (prctl(PR_SET_DUMPABLE, 0) == -1)
		log_warn("prctl(PR_SET_DUMPABLE): %s", strerror(errno));
	return 0;
}

static void
master_fini(struct master *m)
{
	listen_set_close(&m->listeners);
	control_close(&m->ctl);
	stats_destroy(m->st);
	scoreboard_destroy(m->sb);
	sig_close(m->sig_fd);
	if (m->wake_fd != -1)
		close(m->wake_fd);
	priv_ids_free(&m->ids);
	if (m->conns != NULL)
		scoreboard_counters_free(m->conns, m->cfg->n_services);
	master_close_logs(m->log_fds, m->cfg->n_services);
	for (size_t i = 0; i < m->n_kids; i++) {
		if (m->kids[i].log_ctl != -1)
			close(m->kids[i].log_ctl);
		free(m->kids[i].log_path);
	}
	free(m->kids);
	free(m->svc);
	config_free(m->cfg);
}

/* Run the master until it is told to stop; returns the exit status.
 * Takes CFG over (a reload replaces it). */
int
master_run(struct sockd_config *cfg, const char *path, bool log_level_fixed,
    const struct upgrade_state *up)
{
	struct master m;
	int r = master_init(&m, cfg, path, up);

	m.log_level_fixed = log_level_fixed;

	if (r != 0) {
		if (up != NULL)	/* the old image's workers finish what they hold */
			upgrade_abandon(up);
		master_fini(&m);
		return r;
	}
	if (up == NULL)
		log_event(LOG_MSGID_STARTED, NULL, LOG_NOTICE,
		    "sockd %s started: %zu service%s", sockd_version, cfg->n_services,
		    cfg->n_services == 1 ? "" : "s");
	while (!m.stopping || m.n_kids > 0) {
		int64_t now;

		master_wait(&m);
		now = clock_now();
		master_signals(&m, now);
		master_reap(&m, now);
		master_maintain(&m, now);
		master_housekeeping(&m, now);
	}
	notify_flush();		/* STOPPING=1, if it had to wait: one last try */
	log_event(LOG_MSGID_STOPPED, NULL, LOG_NOTICE, "stopped");
	master_fini(&m);
	return m.exit_status;
}
