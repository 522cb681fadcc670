/*
 * pool.c - the pool's decisions, as a pure function.
 *
 * Rules (after Apache's prefork and Postfix's master throttling):
 * - Static: keep `desired` workers of the current generation that are not
 *   stopping; start the missing ones, ask the extra ones (idle first) to stop.
 * - Dynamic (Apache prefork's spare-server rule): while fewer than
 *   min_spare workers are idle, start 1, 2, 4 ... up to 32 a second (never
 *   beyond max_workers); while more than max_spare are idle, ask one idle
 *   worker a second to stop. A starting worker counts as idle.
 * - Ondemand (php-fpm's): no worker until a client waits in a listener's
 *   backlog; then one more, when no worker is free (idle or starting) to
 *   take it, up to max_workers. A worker without a connection for idle_ns
 *   is asked to stop, so the pool goes back to none. The master watches the
 *   listeners only while no client waits there (a level-triggered wait
 *   would return at once, again and again): with a client waiting, it
 *   decides again after a start or 20 ms later, by when a free worker has
 *   taken the client or has shown it will not.
 * - A worker that dies abnormally (not asked to stop) within 1 s of its
 *   start without having completed a connection is a failed start. One
 *   that lived longer did start, and so did one SIGKILLed once it was
 *   accepting: a worker killed while it holds long-lived connections is
 *   replaced at once, whatever it had completed. Failed
 *   starts hold spawning back: 10 ms after the first, doubling up to 5 s;
 *   while the service is failing, one worker at a time is started as a
 *   probe (when no worker started since the last failure is alive), so a
 *   handler that crashes on every connection costs a few forks, not a fork
 *   bomb, and a pool that lost workers is still refilled one by one.
 * - The service is healthy again when a worker started after the last
 *   failure completes a connection or has been running for 1 s, or after
 *   10 s without a failure. Entering and leaving backoff are reported
 *   (pool_ended()'s result, pool_decision.recovered): one log line each.
 * - The same backoff (struct pool_backoff) holds a fork acceptor's
 *   connection processes back when they crash.
 * - A busy worker whose heartbeat is older than the service's heartbeat
 *   timeout is hung: it is asked to stop, killed a second later, and
 *   replaced at once (it no longer counts as running).
 * - A worker asked to stop that is still there at its deadline is killed.
 * - Each worker recycles after max_requests plus a random 0..jitter
 *   connections, so a pool does not recycle all at once.
 */
#include <limits.h>

#include "pool.h"

void
pool_init(struct pool_state *ps, int desired, int64_t heartbeat_ns)
{
	*ps = (struct pool_state){ .desired = desired, .heartbeat_ns = heartbeat_ns,
		.spawn_rate = 1 };
}

/* After pool_init(): make the pool dynamic (pool_init's DESIRED is then
 * only how many start). */
void
pool_init_dynamic(struct pool_state *ps, int min_spare, int max_spare, int max_workers)
{
	ps->mode = POOL_DYNAMIC;
	ps->min_spare = min_spare;
	ps->max_spare = max_spare;
	ps->max_workers = max_workers;
}

/* After pool_init(): make the pool ondemand, starting from no worker. */
void
pool_init_ondemand(struct pool_state *ps, int max_workers, int64_t idle_ns)
{
	ps->mode = POOL_ONDEMAND;
	ps->desired = 0;
	ps->max_workers = max_workers;
	ps->idle_ns = idle_ns;
}

/* The connection limit of one worker; RANDOM is any random number. */
int
pool_max_requests(int base, int jitter, uint32_t random)
{
	if (base == 0)
		return 0;
	if (jitter <= 0)
		return base;
	jitter = (int)(random % ((uint32_t)jitter + 1));
	return base > INT_MAX - jitter ? INT_MAX : base + jitter;
}

int64_t
pool_backoff_ns(unsigned failures)
{
	int64_t d = POOL_BACKOFF_MIN_NS;

	for (unsigned i = 1; i < failures && d < POOL_BACKOFF_MAX_NS; i++)
		d *= 2;
	return d < POOL_BACKOFF_MAX_NS ? d : POOL_BACKOFF_MAX_NS;
}

static void
wake_by(struct pool_decision *d, int64_t t)
{
	if (d->wake_ns == 0 || t < d->wake_ns)
		d->wake_ns = t;
}

/*
 * Does a worker's end count as a failed start? Only an abnormal end
 * (ABNORMAL: not a clean exit and not asked to stop) after less than
 * POOL_SETTLED_NS alive (ALIVE_NS) with no connection completed (SERVED).
 */
bool
pool_failed_start(bool abnormal, uint64_t served, int64_t alive_ns)
{
	return abnormal && served == 0 && alive_ns < POOL_SETTLED_NS;
}

/* One more failure at NOW_NS; true when it starts a backoff. */
bool
pool_backoff_fail(struct pool_backoff *b, int64_t now_ns)
{
	b->failures++;
	b->last_failure_ns = now_ns;
	b->next_ns = now_ns + pool_backoff_ns(b->failures);
	return b->failures == 1;
}

/* A healthy sign: the failures it ends (0: there were none). */
unsigned
pool_backoff_clear(struct pool_backoff *b)
{
	unsigned n = b->failures;

	b->failures = 0;
	return n;
}

/* No failure for POOL_HEALTHY_NS: cleared, and the failures it ends. */
unsigned
pool_backoff_quiet(struct pool_backoff *b, int64_t now_ns)
{
	if (b->failures == 0 || now_ns - b->last_failure_ns < POOL_HEALTHY_NS)
		return 0;
	return pool_backoff_clear(b);
}

/*
 * A worker of the current generation ended; true when this failed start
 * puts the service into backoff (it was not failing before). One killed
 * by SIGKILL once it was ready (accepting, or serving) did start, however
 * young and whatever it completed: no worker raises SIGKILL itself (a
 * crash is SIGSEGV or SIGABRT, sockd's own kills follow a request to
 * stop), so it came from outside (an operator, a supervisor, the OOM
 * killer) after the worker's start had worked. Persistent clients complete
 * no connection, and kills coming faster than POOL_SETTLED_NS would
 * otherwise read as a failing service and hold the pool back, down to
 * one worker. A worker killed while still starting is a failed start: the
 * OOM killer ending every worker in its setup is a service that cannot start.
 */
bool
pool_ended(struct pool_state *ps, const struct pool_end *e, int64_t now_ns)
{
	if (e->killed && e->ready)
		return false;
	if (!pool_failed_start(e->abnormal, e->served, e->alive_ns))
		return false;
	return pool_backoff_fail(&ps->backoff, now_ns);
}

/* pool_ended() without the signal and the worker's last state. */
bool
pool_exited(struct pool_state *ps, bool abnormal, uint64_t served, int64_t alive_ns,
    int64_t now_ns)
{
	return pool_ended(ps, &(struct pool_end){ .abnormal = abnormal, .served = served,
		.alive_ns = alive_ns }, now_ns);
}

/* Healthy again? A worker started after the last failure that completed
 * a connection or settled, or a quiet period; the failures it ends. If
 * not yet, wake when the youngest such worker would settle. */
static unsigned
pool_check_health(struct pool_state *ps, const struct pool_worker *w, size_t n,
    int64_t now_ns, struct pool_decision *d)
{
	struct pool_backoff *b = &ps->backoff;
	unsigned quiet = pool_backoff_quiet(b, now_ns);

	if (b->failures == 0)
		return quiet;
	for (size_t i = 0; i < n; i++) {
		if (!w[i].current || w[i].stopping || w[i].started_ns <= b->last_failure_ns)
			continue;
		if (w[i].served > 0 || now_ns - w[i].started_ns >= POOL_SETTLED_NS)
			return pool_backoff_clear(b);
		wake_by(d, w[i].started_ns + POOL_SETTLED_NS);
	}
	return 0;
}

/* Is a worker started since the last failure still running? */
static bool
pool_probing(const struct pool_state *ps, const struct pool_worker *w, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (w[i].current && !w[i].stopping && !w[i].draining &&
		    w[i].started_ns > ps->backoff.last_failure_ns)
			return true;
	return false;
}

/* Busy with no heartbeat for too long? If not, wake when it would be. */
static bool
pool_hung(const struct pool_state *ps, const struct pool_worker *w, int64_t now_ns,
    struct pool_decision *d)
{
	if (ps->heartbeat_ns == 0 || !w->busy)
		return false;
	if (now_ns - w->heartbeat_ns >= ps->heartbeat_ns)
		return true;
	wake_by(d, w->heartbeat_ns + ps->heartbeat_ns);
	return false;
}

/* Ask EXTRA of the running current workers to stop, idle ones first. */
static void
pool_trim(struct pool_worker *w, size_t n, int extra)
{
	for (int pass = 0; pass < 2 && extra > 0; pass++)
		for (size_t i = n; i-- > 0 && extra > 0;)
			if (w[i].current && !w[i].stopping && !w[i].draining &&
			    w[i].action == POOL_KEEP && w[i].busy == (pass == 1)) {
				w[i].action = POOL_STOP;
				extra--;
			}
}

/*
 * Dynamic: how many workers to add (> 0) or retire (< 0) this round,
 * counting the idle ones among the RUNNING current workers.
 */
static int
pool_dynamic(struct pool_state *ps, const struct pool_worker *w, size_t n, int running,
    int64_t now_ns, struct pool_decision *d)
{
	int idle = 0, add;

	for (size_t i = 0; i < n; i++)
		if (w[i].current && !w[i].stopping && !w[i].draining && w[i].action == POOL_KEEP &&
		    !w[i].full)
			idle++;
	if (idle >= ps->min_spare && idle <= ps->max_spare) {
		ps->spawn_rate = 1;
		return 0;
	}
	if (now_ns < ps->next_round_ns) {
		wake_by(d, ps->next_round_ns);
		return 0;
	}
	ps->next_round_ns = now_ns + POOL_ROUND_NS;
	wake_by(d, ps->next_round_ns);
	if (idle > ps->max_spare)
		return -1;
	add = ps->spawn_rate;
	if (add > ps->max_workers - running)
		add = ps->max_workers - running;
	if (ps->spawn_rate < POOL_SPAWN_RATE_MAX)
		ps->spawn_rate *= 2;
	return add;
}

/*
 * Ondemand: stop the workers idle for idle_ns and say whether a worker is
 * missing: a client waits, no worker is free to take it, and fewer than
 * max_workers run. *RUNNING_R loses the workers stopped here.
 */
static int
pool_ondemand(struct pool_state *ps, struct pool_worker *w, size_t n, int *running_r,
    int64_t now_ns, struct pool_decision *d)
{
	int free = 0;

	for (size_t i = 0; i < n; i++) {
		if (!w[i].current || w[i].stopping || w[i].draining || w[i].action != POOL_KEEP)
			continue;
		if (w[i].busy) {	/* never stopped; free if it has room */
			free += !w[i].full;
			continue;
		}
		if (now_ns - w[i].last_active_ns < ps->idle_ns)
			wake_by(d, w[i].last_active_ns + ps->idle_ns);
		else if (!ps->waiting) {	/* else it is about to take the client */
			w[i].action = POOL_STOP;
			(*running_r)--;
			continue;
		}
		free++;
	}
	d->watch = !ps->waiting && *running_r < ps->max_workers;
	if (!ps->waiting || *running_r >= ps->max_workers)
		return 0;
	if (free > 0) {
		wake_by(d, now_ns + POOL_RECHECK_NS);	/* taken by then, or one more */
		return 0;
	}
	return 1;
}

/* MISSING workers short: start them, or one probe at a time while failing. */
static void
pool_spawn(struct pool_state *ps, const struct pool_worker *w, size_t n, int missing,
    int64_t now_ns, struct pool_decision *d)
{
	if (ps->backoff.failures == 0) {
		d->spawn = missing;
		return;
	}
	d->backing_off = true;
	wake_by(d, ps->backoff.last_failure_ns + POOL_HEALTHY_NS);
	if (now_ns < ps->backoff.next_ns)
		wake_by(d, ps->backoff.next_ns);
	else if (!pool_probing(ps, w, n))
		d->spawn = 1;	/* one probe at a time while failing */
}

void
pool_decide(struct pool_state *ps, struct pool_worker *w, size_t n,
    int64_t now_ns, struct pool_decision *d)
{
	int running = 0, missing;

	*d = (struct pool_decision){ 0 };
	d->recovered = pool_check_health(ps, w, n, now_ns, d);
	for (size_t i = 0; i < n; i++) {
		w[i].action = POOL_KEEP;
		if (w[i].stopping && now_ns >= w[i].kill_at_ns)
			w[i].action = POOL_KILL;
		else if (w[i].stopping)
			wake_by(d, w[i].kill_at_ns);
		else if (pool_hung(ps, &w[i], now_ns, d))	/* draining ones too */
			w[i].action = POOL_HUNG;
		else if (w[i].draining)
			continue;	/* on its way out: a replacement may start */
		else if (w[i].current)
			running++;
	}
	if (ps->mode == POOL_ONDEMAND)
		missing = pool_ondemand(ps, w, n, &running, now_ns, d);
	else if (ps->mode == POOL_DYNAMIC && running > 0)
		missing = pool_dynamic(ps, w, n, running, now_ns, d);
	else
		missing = ps->desired - running;	/* static, or a dynamic start */
	if (missing < 0)
		pool_trim(w, n, -missing);
	if (missing > 0)
		pool_spawn(ps, w, n, missing, now_ns, d);
	if (ps->mode == POOL_ONDEMAND && d->spawn > 0)
		wake_by(d, now_ns + POOL_RECHECK_NS);	/* did it take the client? */
}
