/*
 * stats.c - counters that outlive workers, and snapshots of them (see
 * stats.h for the design: slots folded into entries keyed by name, one
 * writer, readers that copy and check a sequence number).
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "shm.h"
#include "stats.h"
#include "util.h"
#include "version.h"

#define STATS_TRIES 1000		/* copies a reader tries before it gives up */

static struct stats *shared;
static const struct scoreboard *board;	/* mapped before any fork: inherited */

static size_t
stats_size(uint32_t n)
{
	return sizeof(struct stats) + (size_t)n * sizeof(struct stats_service);
}

/*
 * Room for twice the services of the first configuration, at least 64:
 * shared memory cannot grow under the workers that mapped it, and a
 * reload that brings more new names than that fails (stats_bind).
 */
struct stats *
stats_create(uint32_t n_services, const struct scoreboard *sb, int *fd_r)
{
	uint32_t n = n_services * 2 < 64 ? 64 : n_services * 2;
	struct stats *st = shm_create("sockd-stats", stats_size(n), fd_r);

	if (st == NULL)
		fatal(EXIT_OSERR, "stats: %u services in shared memory: %s", n, strerror(errno));
	st->n = n;
	st->pid = getpid();
	st->started_ns = clock_now();
	st->started_real_ns = clock_real();
	st->generation = 1;
	shared = st;
	board = sb;
	return st;
}

/* The counters of the image before a binary upgrade, from their memfd;
 * NULL (logged) if FD does not hold them. */
struct stats *
stats_adopt(int fd, const struct scoreboard *sb)
{
	size_t size;
	struct stats *st = shm_adopt(fd, sizeof(*st), &size);

	if (st == NULL) {
		log_err("upgrade: the counters (fd %d): %s", fd, strerror(errno));
		return NULL;
	}
	if (size != stats_size(st->n) || st->pid != getpid()) {
		log_err("upgrade: the counters (fd %d) are %zu bytes of pid %ld, not %zu of ours: "
		    "another layout", fd, size, (long)st->pid, stats_size(st->n));
		(void)munmap(st, size);
		return NULL;
	}
	shared = st;
	board = sb;
	return st;
}

void
stats_destroy(struct stats *st)
{
	if (st == NULL)
		return;
	if (shared == st)
		shared = NULL;
	if (munmap(st, stats_size(st->n)) == -1)
		log_warn("stats: munmap: %s", strerror(errno));
}

const struct stats *
stats_shared(void)
{
	return shared;
}

const struct scoreboard *
stats_board(void)
{
	return board;
}

void
stats_write_begin(struct stats *st)
{
	atomic_fetch_add_explicit(&st->seq, 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
}

void
stats_write_end(struct stats *st)
{
	atomic_fetch_add_explicit(&st->seq, 1, memory_order_release);
}

/* ---- the master's side -------------------------------------------------- */

static bool
stats_held(uint32_t e)
{
	for (uint32_t i = 0; i < board->n_slots; i++) {
		const struct scoreboard_slot *sl = &board->slots[i];

		if (atomic_load(&sl->state) != SLOT_FREE && sl->stat == e)
			return true;
	}
	return false;
}

static uint32_t
stats_find(const struct stats *st, const char *name)
{
	for (uint32_t e = 0; e < st->n; e++)
		if (st->svc[e].in_use && strcmp(st->svc[e].name, name) == 0)
			return e;
	return STATS_NONE;
}

/* A fresh entry: a free one, else one of a removed service no worker holds. */
static uint32_t
stats_new(const struct stats *st, const bool *claimed)
{
	for (int pass = 0; pass < 2; pass++)
		for (uint32_t e = 0; e < st->n; e++) {
			const struct stats_service *ss = &st->svc[e];

			if (claimed[e] || (pass == 0 && ss->in_use))
				continue;
			if (pass == 1 && (ss->configured || stats_held(e)))
				continue;
			return e;
		}
	return STATS_NONE;
}

int
stats_bind(const struct stats *st, const struct sockd_config *cfg, uint32_t *map)
{
	bool *claimed = xcalloc(st->n, sizeof(*claimed));
	int r = 0;

	for (size_t i = 0; i < cfg->n_services; i++) {
		map[i] = stats_find(st, cfg->services[i].name);
		if (map[i] != STATS_NONE)
			claimed[map[i]] = true;
	}
	for (size_t i = 0; i < cfg->n_services && r == 0; i++) {
		if (map[i] != STATS_NONE)
			continue;
		if ((map[i] = stats_new(st, claimed)) == STATS_NONE)
			r = -1;
		else
			claimed[map[i]] = true;
	}
	free(claimed);
	return r;
}

void
stats_commit(struct stats *st, const struct sockd_config *cfg, uint32_t gen,
    const uint32_t *map)
{
	stats_write_begin(st);
	for (uint32_t e = 0; e < st->n; e++)
		st->svc[e].configured = false;
	for (size_t i = 0; i < cfg->n_services; i++) {
		const struct config_service *svc = &cfg->services[i];
		struct stats_service *ss = &st->svc[map[i]];

		if (!ss->in_use || strcmp(ss->name, svc->name) != 0) {
			*ss = (struct stats_service){ .in_use = true };
			snprintf(ss->name, sizeof(ss->name), "%s", svc->name);
		}
		ss->configured = true;
		ss->order = (uint32_t)i;
		ss->generation = gen;
		ss->http = svc->handler == HANDLER_HTTP || svc->handler == HANDLER_STATUS;
		ss->desired = svc->pool_mode == POOL_MODE_STATIC ? svc->workers : svc->max_workers;
		snprintf(ss->model, sizeof(ss->model), "%s", config_model_name(svc->model));
	}
	st->generation = gen;
	stats_write_end(st);
}

/* The desired number of workers of entry E changed (SIGTTIN, SIGTTOU). */
void
stats_desired(struct stats *st, uint32_t e, int desired)
{
	if (e >= st->n)
		return;
	stats_write_begin(st);
	st->svc[e].desired = desired;
	stats_write_end(st);
}

static void
stats_hist_fold(uint64_t *bucket, uint64_t *sum, const struct scoreboard_hist *h)
{
	for (size_t b = 0; b < SNAPSHOT_BUCKETS; b++)
		bucket[b] += atomic_load_explicit(&h->bucket[b], memory_order_relaxed);
	*sum += atomic_load_explicit(&h->sum_ns, memory_order_relaxed);
}

static void
stats_fold(struct stats_service *ss, const struct scoreboard_slot *sl)
{
	ss->accepted += atomic_load(&sl->accepted);
	ss->closed += atomic_load(&sl->served);
	ss->messages += atomic_load(&sl->messages);
	ss->bytes_in += atomic_load(&sl->bytes_in);
	ss->bytes_out += atomic_load(&sl->bytes_out);
	ss->limited += atomic_load(&sl->limited);
	for (size_t r = 0; r < SNAPSHOT_REFUSALS; r++)
		ss->refused[r] += atomic_load(&sl->refused[r]);
	stats_hist_fold(ss->duration, &ss->duration_sum_ns, &sl->duration);
	stats_hist_fold(ss->latency, &ss->latency_sum_ns, &sl->latency);
}

void
stats_reaped(struct stats *st, struct scoreboard_slot *sl, int status, bool abnormal,
    bool recycled)
{
	struct stats_service *ss = sl->stat < st->n ? &st->svc[sl->stat] : NULL;

	stats_write_begin(st);
	if (ss != NULL) {
		stats_fold(ss, sl);
		ss->recycles += recycled;
		if (abnormal) {
			ss->crashes++;
			if (WIFEXITED(status))
				ss->exit_status[WEXITSTATUS(status)]++;
			else if (WIFSIGNALED(status) && WTERMSIG(status) < SNAPSHOT_SIGNALS)
				ss->exit_signal[WTERMSIG(status)]++;
		}
	}
	scoreboard_release(sl);
	stats_write_end(st);
}

void
stats_started(struct stats *st, const struct scoreboard_slot *sl)
{
	if (sl->stat >= st->n)
		return;
	stats_write_begin(st);
	st->svc[sl->stat].worker_starts++;
	stats_write_end(st);
}

void
stats_hung(struct stats *st, const struct scoreboard_slot *sl)
{
	if (sl->stat >= st->n)
		return;
	stats_write_begin(st);
	st->svc[sl->stat].hung_kills++;
	stats_write_end(st);
}

void
stats_reload(struct stats *st, bool begun, bool ok, const char *why)
{
	stats_write_begin(st);
	if (begun) {
		st->reloads++;
		st->last_reload_real_ns = clock_real();
	} else if (ok) {
		st->reloads_ok++;
		st->last_reload_ok = true;
		st->last_reload_error[0] = '\0';
	} else {
		st->reloads_failed++;
		st->last_reload_ok = false;
		snprintf(st->last_reload_error, sizeof(st->last_reload_error), "%s",
		    why != NULL ? why : "failed");
	}
	stats_write_end(st);
}

void
stats_backoff(struct stats *st, uint32_t e, bool on, unsigned failures, int64_t now_ns)
{
	struct stats_service *ss;

	if (e >= st->n)
		return;
	ss = &st->svc[e];
	stats_write_begin(st);
	ss->backoff_failures = on ? failures : 0;
	if (on && ss->backoff_since_ns == 0)
		ss->backoff_since_ns = now_ns;
	else if (!on && ss->backoff_since_ns != 0) {
		ss->backoff_ns += now_ns - ss->backoff_since_ns;
		ss->backoff_since_ns = 0;
	}
	stats_write_end(st);
}

/* Messages/s between the newest sample and the one BACK ticks before it. */
static double
stats_rate(const struct stats_service *ss, unsigned back)
{
	const unsigned n = sizeof(ss->ring) / sizeof(ss->ring[0]);
	unsigned now = (ss->ring_pos + n - 1) % n, then;
	int64_t dt;

	if (back >= ss->ring_n)
		back = ss->ring_n - 1;
	if (back == 0)
		return 0;
	then = (now + n - back) % n;
	dt = ss->ring_ns[now] - ss->ring_ns[then];
	return dt > 0 ? (double)(ss->ring[now] - ss->ring[then]) * 1e9 / (double)dt : 0;
}

void
stats_tick(struct stats *st, int64_t now_ns)
{
	static const unsigned back[3] = { 1, 10, 60 };
	uint64_t *msgs = xcalloc(st->n, sizeof(*msgs));

	for (uint32_t i = 0; i < board->n_slots; i++) {
		const struct scoreboard_slot *sl = &board->slots[i];

		if (atomic_load(&sl->state) != SLOT_FREE && sl->stat < st->n)
			msgs[sl->stat] += atomic_load_explicit(&sl->messages, memory_order_relaxed);
	}
	stats_write_begin(st);
	for (uint32_t e = 0; e < st->n; e++) {
		struct stats_service *ss = &st->svc[e];
		const unsigned n = sizeof(ss->ring) / sizeof(ss->ring[0]);

		if (!ss->in_use)
			continue;
		ss->ring[ss->ring_pos] = ss->messages + msgs[e];
		ss->ring_ns[ss->ring_pos] = now_ns;
		ss->ring_pos = (ss->ring_pos + 1) % n;
		if (ss->ring_n < n)
			ss->ring_n++;
		for (size_t r = 0; r < 3; r++)
			ss->rate[r] = stats_rate(ss, back[r]);
	}
	stats_write_end(st);
	free(msgs);
}

/* ---- readers -------------------------------------------------------------- */

static void
snap_hist_add(struct snapshot_hist *h, const uint64_t *bucket, uint64_t sum_ns)
{
	for (size_t b = 0; b < SNAPSHOT_BUCKETS; b++) {
		h->bucket[b] += bucket[b];
		h->count += bucket[b];
	}
	h->sum_ns += sum_ns;
}

static void
snap_hist_slot(struct snapshot_hist *h, const struct scoreboard_hist *sh)
{
	uint64_t bucket[SNAPSHOT_BUCKETS];

	for (size_t b = 0; b < SNAPSHOT_BUCKETS; b++)
		bucket[b] = atomic_load_explicit(&sh->bucket[b], memory_order_relaxed);
	snap_hist_add(h, bucket, atomic_load_explicit(&sh->sum_ns, memory_order_relaxed));
}

static void
snap_entry(struct snapshot_service *o, const struct stats_service *ss, int64_t mono)
{
	*o = (struct snapshot_service){ .configured = ss->configured,
		.generation = ss->generation, .desired = ss->desired,
		.accepted = ss->accepted, .closed = ss->closed, .messages = ss->messages,
		.bytes_in = ss->bytes_in, .bytes_out = ss->bytes_out,
		.limited_max_connections = ss->limited, .worker_starts = ss->worker_starts,
		.worker_crashes = ss->crashes, .hung_kills = ss->hung_kills,
		.recycles = ss->recycles, .backoff = ss->backoff_since_ns != 0,
		.backoff_failures = ss->backoff_failures, .http = ss->http };
	memcpy(o->name, ss->name, sizeof(o->name));
	o->name[sizeof(o->name) - 1] = '\0';
	memcpy(o->model, ss->model, sizeof(o->model));
	o->model[sizeof(o->model) - 1] = '\0';
	memcpy(o->exit_status, ss->exit_status, sizeof(o->exit_status));
	memcpy(o->refused, ss->refused, sizeof(o->refused));
	memcpy(o->exit_signal, ss->exit_signal, sizeof(o->exit_signal));
	memcpy(o->rate, ss->rate, sizeof(o->rate));
	o->backoff_seconds = (double)(ss->backoff_ns +
	    (ss->backoff_since_ns != 0 ? mono - ss->backoff_since_ns : 0)) / 1e9;
	snap_hist_add(&o->duration, ss->duration, ss->duration_sum_ns);
	snap_hist_add(&o->latency, ss->latency, ss->latency_sum_ns);
}

static int
snap_cmp_worker(const void *a, const void *b)
{
	const struct snapshot_worker *x = a, *y = b;

	if (x->service != y->service)
		return x->service < y->service ? -1 : 1;
	return (x->pid > y->pid) - (x->pid < y->pid);
}

void
stats_upgrade(struct stats *st, bool ok, const char *from, const char *why)
{
	stats_write_begin(st);
	st->last_upgrade_real_ns = clock_real();
	st->last_upgrade_ok = ok;
	if (ok) {
		st->upgrades_ok++;
		snprintf(st->upgraded_from, sizeof(st->upgraded_from), "%s", from);
		st->last_upgrade_error[0] = '\0';
	} else {
		st->upgrades_failed++;
		snprintf(st->last_upgrade_error, sizeof(st->last_upgrade_error), "%s",
		    why != NULL ? why : "failed");
	}
	stats_write_end(st);
}

/* One copy; the caller checks the sequence number around it. */
static void
snap_copy(const struct stats *st, struct snapshot *out, uint32_t *idx, int64_t mono,
    double real)
{
	const struct scoreboard *sb = board;
	size_t n = 0;

	snapshot_free(out);
	*out = (struct snapshot){ .pid = st->pid, .now = real,
		.started = (double)st->started_real_ns / 1e9, .generation = st->generation,
		.reloads = st->reloads, .reloads_ok = st->reloads_ok,
		.reloads_failed = st->reloads_failed,
		.last_reload = (double)st->last_reload_real_ns / 1e9,
		.last_reload_ok = st->last_reload_ok,
		.upgrades_ok = st->upgrades_ok, .upgrades_failed = st->upgrades_failed,
		.last_upgrade = (double)st->last_upgrade_real_ns / 1e9,
		.last_upgrade_ok = st->last_upgrade_ok };
	snprintf(out->version, sizeof(out->version), "%s", sockd_version);
	memcpy(out->last_reload_error, st->last_reload_error, sizeof(out->last_reload_error));
	out->last_reload_error[sizeof(out->last_reload_error) - 1] = '\0';
	memcpy(out->upgraded_from, st->upgraded_from, sizeof(out->upgraded_from));
	out->upgraded_from[sizeof(out->upgraded_from) - 1] = '\0';
	memcpy(out->last_upgrade_error, st->last_upgrade_error, sizeof(out->last_upgrade_error));
	out->last_upgrade_error[sizeof(out->last_upgrade_error) - 1] = '\0';
	out->services = xcalloc(st->n, sizeof(*out->services));
	out->workers = xcalloc(sb->n_slots, sizeof(*out->workers));
	/* Configured services in file order, then removed ones. */
	for (uint32_t e = 0; e < st->n; e++)
		idx[e] = STATS_NONE;
	for (uint32_t order = 0; order < st->n; order++)
		for (uint32_t e = 0; e < st->n; e++)
			if (st->svc[e].in_use && st->svc[e].configured && st->svc[e].order == order)
				idx[e] = (uint32_t)n++;
	for (uint32_t e = 0; e < st->n; e++)
		if (st->svc[e].in_use && !st->svc[e].configured && stats_held(e))
			idx[e] = (uint32_t)n++;
	for (uint32_t e = 0; e < st->n; e++)
		if (idx[e] != STATS_NONE)
			snap_entry(&out->services[idx[e]], &st->svc[e], mono);
	out->n_services = n;
	for (uint32_t i = 0; i < sb->n_slots; i++) {
		const struct scoreboard_slot *sl = &sb->slots[i];
		int state = atomic_load(&sl->state);
		struct snapshot_service *o;
		struct snapshot_worker *w;

		if (state == SLOT_FREE || sl->pid == 0 || sl->stat >= st->n ||
		    idx[sl->stat] == STATS_NONE || state > SLOT_DRAINING)
			continue;
		o = &out->services[idx[sl->stat]];
		w = &out->workers[out->n_workers++];
		*w = (struct snapshot_worker){ .pid = sl->pid, .service = idx[sl->stat],
			.generation = sl->generation, .state = (enum snapshot_state)(state - 1),
			.current = atomic_load(&sl->current), .served = atomic_load(&sl->served),
			.messages = atomic_load(&sl->messages),
			.started = real - (double)(mono - sl->started_ns) / 1e9,
			.heartbeat_age = (double)(mono - atomic_load(&sl->heartbeat_ns)) / 1e9 };
		if (w->heartbeat_age < 0)
			w->heartbeat_age = 0;
		o->workers[w->state]++;
		o->accepted += atomic_load(&sl->accepted);
		o->closed += w->served;
		o->active += w->current;
		o->messages += w->messages;
		o->bytes_in += atomic_load(&sl->bytes_in);
		o->bytes_out += atomic_load(&sl->bytes_out);
		o->limited_max_connections += atomic_load(&sl->limited);
		for (size_t r = 0; r < SNAPSHOT_REFUSALS; r++)
			o->refused[r] += atomic_load(&sl->refused[r]);
		snap_hist_slot(&o->duration, &sl->duration);
		snap_hist_slot(&o->latency, &sl->latency);
	}
}

int
stats_snapshot(const struct stats *st, struct snapshot *out)
{
	uint32_t *idx = xcalloc(st->n, sizeof(*idx));
	int r = -1;

	*out = (struct snapshot){ 0 };
	for (int tries = 0; tries < STATS_TRIES; tries++) {
		uint32_t seq = atomic_load_explicit(&st->seq, memory_order_acquire);
		int64_t mono = clock_now();
		double real = (double)clock_real() / 1e9;

		if (seq & 1) {
			sched_yield();
			continue;
		}
		snap_copy(st, out, idx, mono, real);
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(&st->seq, memory_order_relaxed) == seq) {
			r = 0;
			break;
		}
	}
	free(idx);
	if (r == -1)
		snapshot_free(out);
	else
		qsort(out->workers, out->n_workers, sizeof(*out->workers), snap_cmp_worker);
	return r;
}
