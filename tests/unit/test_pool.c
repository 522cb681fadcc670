/*
 * test_pool.c - the pool's decisions: spawning, replacing, trimming,
 * killing at deadlines, backoff growth and reset, a simulated crash loop
 * that must stay a handful of forks, workers killed from outside every
 * 100 ms that must not read as a failing service, dynamic growing and
 * shrinking, and the ondemand pool (none until a client waits, back to
 * none when idle, never a decision that would make the master spin on a
 * waiting client).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "pool.h"

#define MS NS_PER_MS
#define S (1000 * MS)

static struct pool_worker
running(int64_t started, bool busy, uint64_t served)
{
	return (struct pool_worker){ .current = true, .busy = busy, .full = busy,
		.served = served, .started_ns = started };
}

static void
test_spawn_to_desired(void **state)
{
	struct pool_state ps;
	struct pool_decision d;
	struct pool_worker w[4];

	(void)state;
	pool_init(&ps, 4, 0);
	pool_decide(&ps, NULL, 0, 100 * S, &d);
	assert_int_equal(d.spawn, 4);
	assert_false(d.backing_off);
	for (int i = 0; i < 3; i++)
		w[i] = running(1 * S, false, 0);
	pool_decide(&ps, w, 3, 100 * S, &d);
	assert_int_equal(d.spawn, 1);	/* one died: replace it */
	w[3] = running(1 * S, false, 0);
	pool_decide(&ps, w, 4, 100 * S, &d);
	assert_int_equal(d.spawn, 0);
	assert_int_equal(d.wake_ns, 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(w[i].action, POOL_KEEP);
}

static void
test_trim_idle_first(void **state)
{
	struct pool_state ps;
	struct pool_decision d;
	struct pool_worker w[6];

	(void)state;
	pool_init(&ps, 3, 0);
	for (int i = 0; i < 6; i++)
		w[i] = running(1 * S, i % 2 == 0, 0);	/* 0, 2, 4 busy */
	pool_decide(&ps, w, 6, 100 * S, &d);
	assert_int_equal(d.spawn, 0);
	assert_int_equal(w[1].action, POOL_STOP);
	assert_int_equal(w[3].action, POOL_STOP);
	assert_int_equal(w[5].action, POOL_STOP);
	assert_int_equal(w[0].action, POOL_KEEP);
	assert_int_equal(w[2].action, POOL_KEEP);
	assert_int_equal(w[4].action, POOL_KEEP);
	/* With too few idle ones, busy ones are asked to stop too. */
	pool_init(&ps, 1, 0);
	pool_decide(&ps, w, 6, 100 * S, &d);
	assert_int_equal(w[1].action + w[3].action + w[5].action, 3 * POOL_STOP);
	assert_int_equal((w[0].action == POOL_STOP) + (w[2].action == POOL_STOP) +
	    (w[4].action == POOL_STOP), 2);
}

static void
test_stopping_and_old_generation(void **state)
{
	struct pool_state ps;
	struct pool_decision d;
	struct pool_worker w[4];

	(void)state;
	pool_init(&ps, 2, 0);
	w[0] = running(1 * S, false, 0);
	w[1] = running(1 * S, false, 0);
	w[1].stopping = true;
	w[1].kill_at_ns = 130 * S;
	w[2] = running(1 * S, true, 0);
	w[2].current = false;		/* old generation, draining */
	w[2].stopping = true;
	w[2].kill_at_ns = 120 * S;
	w[3] = running(1 * S, false, 0);
	w[3].current = false;		/* old generation, not yet told */
	pool_decide(&ps, w, 4, 100 * S, &d);
	assert_int_equal(d.spawn, 1);	/* stopping and old workers do not count */
	assert_int_equal(d.wake_ns, 120 * S);
	assert_int_equal(w[3].action, POOL_KEEP);	/* old ones are the master's to stop */
	pool_decide(&ps, w, 4, 125 * S, &d);
	assert_int_equal(w[2].action, POOL_KILL);
	assert_int_equal(w[1].action, POOL_KEEP);
	assert_int_equal(d.wake_ns, 130 * S);
	pool_decide(&ps, w, 4, 130 * S, &d);
	assert_int_equal(w[1].action, POOL_KILL);
}

static void
test_backoff_growth(void **state)
{
	(void)state;
	assert_int_equal(pool_backoff_ns(1), 10 * MS);
	assert_int_equal(pool_backoff_ns(2), 20 * MS);
	assert_int_equal(pool_backoff_ns(3), 40 * MS);
	assert_int_equal(pool_backoff_ns(9), 2560 * MS);
	assert_int_equal(pool_backoff_ns(10), 5 * S);	/* capped */
	assert_int_equal(pool_backoff_ns(1000), 5 * S);
}

static void
test_what_counts_as_failure(void **state)
{
	struct pool_state ps;

	(void)state;
	pool_init(&ps, 1, 0);
	pool_exited(&ps, false, 0, 0, 10 * S);	/* clean exit */
	assert_int_equal(ps.backoff.failures, 0);
	pool_exited(&ps, true, 500, 0, 10 * S);	/* crashed after serving */
	assert_int_equal(ps.backoff.failures, 0);
	pool_exited(&ps, true, 1, 0, 10 * S);	/* crashed after serving one */
	assert_int_equal(ps.backoff.failures, 0);
	pool_exited(&ps, true, 0, 1 * S, 10 * S);	/* killed after a second alive */
	assert_int_equal(ps.backoff.failures, 0);
	assert_false(pool_failed_start(true, 0, 1 * S));
	assert_true(pool_failed_start(true, 0, 1 * S - 1));
	assert_false(pool_failed_start(false, 0, 0));
	/* crashed young, before finishing a connection: the first starts a backoff */
	assert_true(pool_exited(&ps, true, 0, 0, 10 * S));
	assert_int_equal(ps.backoff.failures, 1);
	assert_int_equal(ps.backoff.next_ns, 10 * S + 10 * MS);
	assert_false(pool_exited(&ps, true, 0, 0, 11 * S));	/* already backing off */
	assert_int_equal(ps.backoff.failures, 2);
	assert_int_equal(ps.backoff.last_failure_ns, 11 * S);
	assert_int_equal(ps.backoff.next_ns, 11 * S + 20 * MS);
}

static void
test_backoff_then_probe(void **state)
{
	struct pool_state ps;
	struct pool_decision d;
	struct pool_worker w[1];

	(void)state;
	pool_init(&ps, 4, 0);
	for (int i = 0; i < 3; i++)
		pool_exited(&ps, true, 0, 0, 100 * S);
	assert_int_equal(ps.backoff.next_ns, 100 * S + 40 * MS);
	pool_decide(&ps, NULL, 0, 100 * S + 1 * MS, &d);
	assert_int_equal(d.spawn, 0);
	assert_true(d.backing_off);
	assert_int_equal(d.wake_ns, 100 * S + 40 * MS);
	pool_decide(&ps, NULL, 0, 100 * S + 40 * MS, &d);
	assert_int_equal(d.spawn, 1);			/* one probe, not four */
	w[0] = running(100 * S + 40 * MS, false, 0);
	pool_decide(&ps, w, 1, 100 * S + 50 * MS, &d);
	assert_int_equal(d.spawn, 0);			/* probe alive, not proven yet */
	assert_true(d.backing_off);
	assert_int_equal(d.wake_ns, 101 * S + 40 * MS);	/* when it settles */
	assert_int_equal(d.recovered, 0);
	w[0].served = 1;				/* probe completed a connection */
	pool_decide(&ps, w, 1, 100 * S + 60 * MS, &d);
	assert_int_equal(ps.backoff.failures, 0);
	assert_int_equal(d.recovered, 3);		/* reported once, then not */
	assert_int_equal(d.spawn, 3);
	assert_false(d.backing_off);
	pool_decide(&ps, w, 1, 100 * S + 70 * MS, &d);
	assert_int_equal(d.recovered, 0);
}

/* A probe that has been running for a second proves the service starts,
 * though its connections (long-lived ones) have not completed. */
static void
test_probe_settles(void **state)
{
	struct pool_state ps;
	struct pool_decision d;
	struct pool_worker w[1] = { running(100 * S + 10 * MS, true, 0) };

	(void)state;
	pool_init(&ps, 4, 0);
	pool_exited(&ps, true, 0, 0, 100 * S);
	pool_decide(&ps, w, 1, 101 * S, &d);
	assert_int_equal(d.spawn, 0);
	assert_int_equal(d.wake_ns, 101 * S + 10 * MS);
	pool_decide(&ps, w, 1, 101 * S + 10 * MS, &d);
	assert_int_equal(d.recovered, 1);
	assert_int_equal(d.spawn, 3);
}

/* Event workers holding long-lived connections, killed from outside one
 * after the other (none completed a connection): never a backoff, each
 * replaced at once. */
static void
test_killed_busy_workers_are_replaced(void **state)
{
	struct pool_state ps;
	struct pool_decision d;
	struct pool_worker w[2] = { running(1 * S, true, 0), running(1 * S, true, 0) };

	(void)state;
	pool_init(&ps, 2, 0);
	for (int64_t now = 10 * S; now < 20 * S; now += 2 * S) {
		assert_false(pool_exited(&ps, true, 0, now - w[0].started_ns, now));
		w[0] = w[1];
		pool_decide(&ps, w, 1, now, &d);
		assert_int_equal(d.spawn, 1);
		assert_false(d.backing_off);
		w[1] = running(now, true, 0);
	}
	assert_int_equal(ps.backoff.failures, 0);
}

/* SIGKILL once a worker is accepting comes from outside: no failed start,
 * however young; a crash (any other signal) or a kill while still starting
 * is one, so a crash loop and a service that cannot start still back off. */
static void
test_killed_ready_worker_did_start(void **state)
{
	struct pool_state ps;

	(void)state;
	pool_init(&ps, 4, 0);
	assert_false(pool_ended(&ps, &(struct pool_end){ .abnormal = true, .killed = true,
	    .ready = true, .alive_ns = 1 * MS }, 10 * S));	/* idle, 1 ms old */
	assert_false(pool_ended(&ps, &(struct pool_end){ .abnormal = true, .killed = true,
	    .ready = true, .alive_ns = 100 * MS }, 11 * S));	/* holding one, 100 ms */
	assert_int_equal(ps.backoff.failures, 0);
	/* abort() on the first connection: a crash, whatever the state */
	assert_true(pool_ended(&ps, &(struct pool_end){ .abnormal = true, .ready = true,
	    .alive_ns = 5 * MS }, 12 * S));
	assert_int_equal(ps.backoff.failures, 1);
	/* SIGKILLed in its setup (the OOM killer): it never started */
	assert_false(pool_ended(&ps, &(struct pool_end){ .abnormal = true, .killed = true,
	    .alive_ns = 5 * MS }, 13 * S));		/* already backing off */
	assert_int_equal(ps.backoff.failures, 2);
	/* clean exits and old workers are no failure, as before */
	assert_false(pool_ended(&ps, &(struct pool_end){ .killed = true, .ready = true },
	    14 * S));
	assert_false(pool_ended(&ps, &(struct pool_end){ .abnormal = true, .killed = true,
	    .alive_ns = 2 * S }, 15 * S));
	assert_int_equal(ps.backoff.failures, 2);
}

/* tests/bench/chaos.sh in small: 4 workers on persistent connections (none
 * ever completes one), a random one SIGKILLed every 100 ms for 30 s, most
 * of them younger than a second. Each is replaced at the next decision,
 * with no backoff: the pool never stays short (as failed starts, these
 * kills held it to one probe at a time, and it went down to no worker). */
static void
test_kill_every_100ms_keeps_pool_whole(void **state)
{
	struct pool_state ps;
	struct pool_decision d;
	struct pool_worker w[4];
	uint32_t rnd = 12345;
	int spawned = 0, young = 0;

	(void)state;
	pool_init(&ps, 4, 0);
	for (int i = 0; i < 4; i++)
		w[i] = running(1 * S, true, 0);
	for (int64_t now = 2 * S; now < 32 * S; now += 100 * MS) {
		size_t v;

		rnd = rnd * 1103515245 + 12345;
		v = (rnd >> 16) % 4;
		young += now - w[v].started_ns < POOL_SETTLED_NS;
		assert_false(pool_ended(&ps, &(struct pool_end){ .abnormal = true,
		    .killed = true, .ready = true, .served = w[v].served,
		    .alive_ns = now - w[v].started_ns }, now));
		w[v] = w[3];
		pool_decide(&ps, w, 3, now, &d);
		assert_int_equal(d.spawn, 1);
		assert_false(d.backing_off);
		spawned += d.spawn;
		w[3] = running(now, true, 0);	/* accepts a waiting client at once */
	}
	assert_int_equal(spawned, 300);
	assert_int_equal(ps.backoff.failures, 0);
	assert_true(young > 200);	/* the case the rule is for */
}

/* Workers killed from outside while others run: the pool is refilled one
 * probe at a time rather than left short until the service is healthy. */
static void
test_refill_while_failing(void **state)
{
	struct pool_state ps;
	struct pool_decision d;
	struct pool_worker w[3] = { running(1 * S, false, 5), running(1 * S, false, 5) };

	(void)state;
	pool_init(&ps, 3, 0);
	pool_exited(&ps, true, 0, 0, 100 * S);		/* the third, killed young */
	pool_decide(&ps, w, 2, 100 * S + 10 * MS, &d);
	assert_int_equal(d.spawn, 1);			/* the older two are no probe */
	w[2] = running(100 * S + 10 * MS, false, 0);
	pool_decide(&ps, w, 3, 100 * S + 20 * MS, &d);
	assert_int_equal(d.spawn, 0);
	assert_false(d.backing_off);			/* nothing missing */
}

static void
test_reset_after_quiet_period(void **state)
{
	struct pool_state ps;
	struct pool_decision d;
	struct pool_worker w[1] = { running(58 * S + 500 * MS, false, 0) };	/* a probe */

	(void)state;
	pool_init(&ps, 2, 0);
	pool_exited(&ps, true, 0, 0, 50 * S);
	pool_decide(&ps, w, 1, 59 * S, &d);
	assert_int_equal(d.spawn, 0);
	assert_int_equal(ps.backoff.failures, 1);
	w[0].started_ns = 59 * S + 500 * MS;		/* another probe, young too */
	pool_decide(&ps, w, 1, 60 * S, &d);
	assert_int_equal(ps.backoff.failures, 0);
	assert_int_equal(d.recovered, 1);
	assert_int_equal(d.spawn, 1);
}

/* A handler that kills its worker on every connection, under a client that
 * connects without pause: simulate 5 s of it in 1 ms steps. */
static void
test_crash_loop_stays_small(void **state)
{
	struct pool_state ps;
	struct pool_decision d;
	int64_t now = 1000 * S, end = now + 5 * S;
	int forks = 0, alive = 0;

	(void)state;
	pool_init(&ps, 8, 0);
	for (; now < end; now += MS) {
		struct pool_worker w[8];

		for (int i = 0; i < alive; i++)		/* each worker dies 1 ms in */
			pool_exited(&ps, true, 0, 0, now);
		alive = 0;
		pool_decide(&ps, w, 0, now, &d);
		forks += d.spawn;
		alive = d.spawn;
	}
	/* 8 at start, then probes at 10, 20, 40 ... 2560 ms: 8 + 9 = 17. */
	assert_in_range(forks, 8, 20);
}

/* A worker recycling itself is on its way out: replace it now, never stop
 * it; but one whose connections stopped its heartbeat is hung all the same. */
static void
test_draining_worker(void **state)
{
	struct pool_state ps;
	struct pool_decision d;
	struct pool_worker w[2] = { running(1 * S, false, 5), running(1 * S, false, 100) };

	(void)state;
	pool_init(&ps, 2, 30 * S);
	w[1].draining = true;
	w[1].heartbeat_ns = 1 * S;			/* stale, but no connection left */
	pool_decide(&ps, w, 2, 100 * S, &d);
	assert_int_equal(d.spawn, 1);
	assert_int_equal(w[1].action, POOL_KEEP);
	w[1].busy = true;				/* still serving, fresh heartbeat */
	w[1].heartbeat_ns = 99 * S;
	pool_decide(&ps, w, 2, 100 * S, &d);
	assert_int_equal(d.spawn, 1);
	assert_int_equal(w[1].action, POOL_KEEP);
	assert_int_equal(d.wake_ns, 129 * S);		/* when it would be hung */
	w[1].heartbeat_ns = 60 * S;			/* a handler stuck while draining */
	pool_decide(&ps, w, 2, 100 * S, &d);
	assert_int_equal(w[1].action, POOL_HUNG);
	assert_int_equal(d.spawn, 1);
}

static void
test_hung_worker(void **state)
{
	struct pool_state ps;
	struct pool_decision d;
	struct pool_worker w[3] = {
		running(1 * S, true, 5), running(1 * S, true, 5), running(1 * S, false, 5),
	};

	(void)state;
	pool_init(&ps, 3, 30 * S);
	w[0].heartbeat_ns = 69 * S;	/* busy, heartbeat 31 s old: hung */
	w[1].heartbeat_ns = 90 * S;	/* busy, fresh */
	w[2].heartbeat_ns = 10 * S;	/* idle: an old heartbeat means nothing */
	pool_decide(&ps, w, 3, 100 * S, &d);
	assert_int_equal(w[0].action, POOL_HUNG);
	assert_int_equal(w[1].action, POOL_KEEP);
	assert_int_equal(w[2].action, POOL_KEEP);
	assert_int_equal(d.spawn, 1);			/* replaced at once */
	assert_int_equal(d.wake_ns, 120 * S);		/* when w[1] would be hung */
	/* Turned off: never hung. */
	pool_init(&ps, 3, 0);
	pool_decide(&ps, w, 3, 100 * S, &d);
	assert_int_equal(w[0].action, POOL_KEEP);
	assert_int_equal(d.spawn, 0);
}

static void
test_max_requests_jitter(void **state)
{
	int seen_low = 0, seen_high = 0;

	(void)state;
	assert_int_equal(pool_max_requests(0, 100, 12345), 0);	/* no limit */
	assert_int_equal(pool_max_requests(1000, 0, 12345), 1000);
	for (uint32_t r = 0; r < 5000; r += 7) {
		int v = pool_max_requests(1000, 100, r * 2654435761u);

		assert_in_range(v, 1000, 1100);
		seen_low |= v == 1000;
		seen_high |= v == 1100;
	}
	assert_true(seen_low && seen_high);		/* both ends reachable */
	assert_int_equal(pool_max_requests(INT32_MAX - 5, 100, 99), INT32_MAX);
}

static struct pool_worker
idle_worker(void)
{
	return running(1 * S, false, 1);
}

/* Apache's rule: 1, 2, 4 ... 32 a second while short of spares. */
static void
test_dynamic_grows(void **state)
{
	struct pool_state ps;
	struct pool_decision d;
	struct pool_worker w[100];
	int expect[] = { 1, 2, 4, 8, 16, 32, 32 }, n = 2;
	int64_t now = 100 * S;

	(void)state;
	pool_init(&ps, 2, 0);
	pool_init_dynamic(&ps, 3, 6, 200);
	w[0] = running(1 * S, true, 1);
	w[1] = running(1 * S, true, 1);			/* both busy: 0 idle */
	for (size_t r = 0; r < sizeof(expect) / sizeof(expect[0]); r++) {
		pool_decide(&ps, w, (size_t)n, now, &d);
		assert_int_equal(d.spawn, expect[r]);
		assert_int_equal(d.wake_ns, now + 1 * S);
		pool_decide(&ps, w, (size_t)n, now + 500 * MS, &d);
		assert_int_equal(d.spawn, 0);		/* once per second */
		for (int i = 0; i < expect[r]; i++)	/* the new ones get busy at once */
			w[n++] = running(now, true, 0);
		now += 1 * S;
	}
	/* Enough idle workers again: the rate starts over at 1. */
	for (int i = 0; i < 3; i++)
		w[n++] = idle_worker();
	pool_decide(&ps, w, (size_t)n, now, &d);
	assert_int_equal(d.spawn, 0);
	assert_int_equal(ps.spawn_rate, 1);
}

static void
test_dynamic_cap_and_shrink(void **state)
{
	struct pool_state ps;
	struct pool_decision d;
	struct pool_worker w[10];

	(void)state;
	pool_init(&ps, 2, 0);
	pool_init_dynamic(&ps, 2, 3, 5);
	for (int i = 0; i < 4; i++)
		w[i] = running(1 * S, true, 1);
	ps.spawn_rate = 8;
	pool_decide(&ps, w, 4, 100 * S, &d);
	assert_int_equal(d.spawn, 1);			/* max_workers 5 */
	/* Six idle, max_spare 3: one a second goes, idle ones only. */
	for (int i = 0; i < 6; i++)
		w[i] = idle_worker();
	w[6] = running(1 * S, true, 1);
	pool_decide(&ps, w, 7, 200 * S, &d);
	assert_int_equal(d.spawn, 0);
	int stops = 0;
	for (int i = 0; i < 7; i++)
		stops += w[i].action == POOL_STOP;
	assert_int_equal(stops, 1);
	assert_int_equal(w[6].action, POOL_KEEP);	/* never the busy one */
	pool_decide(&ps, w, 7, 200 * S + 100 * MS, &d);
	stops = 0;
	for (int i = 0; i < 7; i++)
		stops += w[i].action == POOL_STOP;
	assert_int_equal(stops, 0);			/* next one a second later */
	/* No workers yet: start with pool_init's count. */
	pool_decide(&ps, NULL, 0, 300 * S, &d);
	assert_int_equal(d.spawn, 2);
}

static void
ondemand(struct pool_state *ps, int max_workers)
{
	pool_init(ps, 3, 0);			/* "workers" means nothing here */
	pool_init_ondemand(ps, max_workers, 10 * S);
}

static void
test_ondemand_nothing_until_a_client(void **state)
{
	struct pool_state ps;
	struct pool_decision d;

	(void)state;
	ondemand(&ps, 2);
	assert_int_equal(ps.desired, 0);	/* READY=1 waits for no worker */
	pool_decide(&ps, NULL, 0, 100 * S, &d);
	assert_int_equal(d.spawn, 0);
	assert_true(d.watch);			/* wake me when a client comes */
	assert_int_equal(d.wake_ns, 0);		/* and not before */
	ps.waiting = true;
	pool_decide(&ps, NULL, 0, 100 * S, &d);
	assert_int_equal(d.spawn, 1);		/* one, not max_workers */
	assert_false(d.watch);
	assert_int_equal(d.wake_ns, 100 * S + POOL_RECHECK_NS);
}

/* A free worker (idle or starting) takes the waiting client: no second one;
 * a busy one does not, so one more starts, up to max_workers. */
static void
test_ondemand_one_more_when_none_free(void **state)
{
	struct pool_state ps;
	struct pool_decision d;
	struct pool_worker w[2] = { running(100 * S, false, 0) };

	(void)state;
	ondemand(&ps, 2);
	w[0].last_active_ns = 100 * S;
	ps.waiting = true;
	pool_decide(&ps, w, 1, 100 * S + 5 * MS, &d);	/* starting or idle */
	assert_int_equal(d.spawn, 0);
	assert_false(d.watch);
	assert_int_equal(d.wake_ns, 100 * S + 5 * MS + POOL_RECHECK_NS);
	w[0].busy = w[0].full = true;
	pool_decide(&ps, w, 1, 100 * S + 30 * MS, &d);
	assert_int_equal(d.spawn, 1);
	ps.waiting = false;				/* no client: just watch */
	pool_decide(&ps, w, 1, 100 * S + 30 * MS, &d);
	assert_int_equal(d.spawn, 0);
	assert_true(d.watch);
	w[1] = running(100 * S + 30 * MS, true, 0);	/* both busy, at max_workers */
	w[1].last_active_ns = 100 * S + 30 * MS;
	ps.waiting = true;
	pool_decide(&ps, w, 2, 100 * S + 60 * MS, &d);
	assert_int_equal(d.spawn, 0);			/* the client waits in the backlog */
	assert_false(d.watch);				/* and the master does not spin on it */
	ps.waiting = false;
	pool_decide(&ps, w, 2, 100 * S + 60 * MS, &d);
	assert_false(d.watch);				/* nothing to do at max_workers */
	/* A worker on its way out (recycling, or asked to stop) is no longer
	 * running: a waiting client gets a new one. */
	w[1].draining = true;
	ps.waiting = true;
	pool_decide(&ps, w, 2, 100 * S + 70 * MS, &d);
	assert_int_equal(d.spawn, 1);
}

/* Workers serving many connections at once (event, thread, fork, threads):
 * one with connections but room for more is a spare for the dynamic and
 * ondemand rules, yet never stopped as idle, and still hang-checked. */
static void
test_busy_but_not_full(void **state)
{
	struct pool_state ps;
	struct pool_decision d;
	struct pool_worker w[2] = { running(1 * S, true, 3), running(1 * S, true, 5) };

	(void)state;
	w[0].full = w[1].full = false;
	w[0].last_active_ns = w[1].last_active_ns = 1 * S;
	w[0].heartbeat_ns = w[1].heartbeat_ns = 100 * S;
	ondemand(&ps, 4);
	ps.waiting = true;
	pool_decide(&ps, w, 2, 100 * S, &d);
	assert_int_equal(d.spawn, 0);			/* they can take the client */
	ps.waiting = false;
	pool_decide(&ps, w, 2, 100 * S, &d);
	assert_int_equal(w[0].action, POOL_KEEP);	/* idle 99 s, but not idle */
	assert_int_equal(w[1].action, POOL_KEEP);
	w[0].full = w[1].full = true;
	ps.waiting = true;
	pool_decide(&ps, w, 2, 100 * S, &d);
	assert_int_equal(d.spawn, 1);			/* both full: one more */

	pool_init(&ps, 2, 30 * S);
	pool_init_dynamic(&ps, 1, 1, 8);
	w[0].full = w[1].full = false;
	pool_decide(&ps, w, 2, 100 * S, &d);		/* two spares, max_spare 1 */
	assert_int_equal(d.spawn, 0);
	assert_true(w[0].action == POOL_STOP || w[1].action == POOL_STOP);
	pool_decide(&ps, w, 2, 140 * S, &d);		/* busy: hang-checked as ever */
	assert_int_equal(w[0].action, POOL_HUNG);
	assert_int_equal(w[1].action, POOL_HUNG);
}

/* Idle longer than idle_timeout: stopped; busy or active lately: kept. */
static void
test_ondemand_idle_workers_stop(void **state)
{
	struct pool_state ps;
	struct pool_decision d;
	struct pool_worker w[3] = {
		running(1 * S, false, 4), running(1 * S, true, 9), running(1 * S, false, 7),
	};

	(void)state;
	ondemand(&ps, 4);
	w[0].last_active_ns = 90 * S;		/* idle 10 s */
	w[1].last_active_ns = 50 * S;		/* busy: the master keeps it active anyway */
	w[2].last_active_ns = 95 * S;		/* served something 5 s ago */
	pool_decide(&ps, w, 3, 100 * S, &d);
	assert_int_equal(w[0].action, POOL_STOP);
	assert_int_equal(w[1].action, POOL_KEEP);
	assert_int_equal(w[2].action, POOL_KEEP);
	assert_int_equal(d.spawn, 0);
	assert_int_equal(d.wake_ns, 105 * S);	/* when w[2] would be idle too long */
	assert_true(d.watch);
	/* With a client waiting, an idle worker is about to take it: kept. */
	ps.waiting = true;
	pool_decide(&ps, w, 3, 100 * S, &d);
	assert_int_equal(w[0].action, POOL_KEEP);
	assert_int_equal(d.spawn, 0);
	/* Back to none: the last one goes, and the pool watches again. */
	ps.waiting = false;
	w[1].busy = w[1].full = false;
	w[0].stopping = true;
	w[0].kill_at_ns = 130 * S;
	pool_decide(&ps, w, 3, 106 * S, &d);
	assert_int_equal(w[1].action, POOL_STOP);
	assert_int_equal(w[2].action, POOL_STOP);
	assert_int_equal(d.spawn, 0);
	assert_true(d.watch);
	pool_decide(&ps, NULL, 0, 107 * S, &d);
	assert_int_equal(d.spawn, 0);
	assert_int_equal(d.wake_ns, 0);
}

/* Workers that die before serving hold spawning back, as in a static pool,
 * and a held-back pool does not watch (the client would wake it at once). */
static void
test_ondemand_backoff(void **state)
{
	struct pool_state ps;
	struct pool_decision d;

	(void)state;
	ondemand(&ps, 4);
	pool_exited(&ps, true, 0, 0, 100 * S);
	pool_exited(&ps, true, 0, 0, 100 * S);
	pool_decide(&ps, NULL, 0, 100 * S + 1 * MS, &d);
	assert_true(d.watch);				/* nothing waits: nothing held back */
	ps.waiting = true;
	pool_decide(&ps, NULL, 0, 100 * S + 1 * MS, &d);
	assert_int_equal(d.spawn, 0);
	assert_true(d.backing_off);
	assert_false(d.watch);
	assert_int_equal(d.wake_ns, 100 * S + 20 * MS);
	pool_decide(&ps, NULL, 0, 100 * S + 20 * MS, &d);
	assert_int_equal(d.spawn, 1);			/* the probe */
}

/*
 * The master must not spin: whenever a client waits, the decision neither
 * watches the listeners nor asks to be woken before a later time. Run a
 * client through every state a worker can be seen in.
 */
static void
test_ondemand_never_spins(void **state)
{
	struct pool_state ps;
	struct pool_decision d;
	struct pool_worker w[2];
	int64_t now = 100 * S;

	(void)state;
	ondemand(&ps, 2);
	ps.waiting = true;
	for (int mask = 0; mask < 64; mask++, now += MS) {
		size_t n = (size_t)(mask & 1) + (size_t)((mask >> 1) & 1);

		for (size_t i = 0; i < n; i++) {
			w[i] = running(now - 20 * S, (mask >> (2 + i)) & 1, 0);
			w[i].last_active_ns = now - 20 * S;
			w[i].draining = (mask >> (4 + i)) & 1;
		}
		pool_decide(&ps, w, n, now, &d);
		assert_false(d.watch);
		assert_true(d.wake_ns == 0 || d.wake_ns > now);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spawn_to_desired),
		cmocka_unit_test(test_trim_idle_first),
		cmocka_unit_test(test_stopping_and_old_generation),
		cmocka_unit_test(test_backoff_growth),
		cmocka_unit_test(test_what_counts_as_failure),
		cmocka_unit_test(test_backoff_then_probe),
		cmocka_unit_test(test_probe_settles),
		cmocka_unit_test(test_killed_busy_workers_are_replaced),
		cmocka_unit_test(test_killed_ready_worker_did_start),
		cmocka_unit_test(test_kill_every_100ms_keeps_pool_whole),
		cmocka_unit_test(test_refill_while_failing),
		cmocka_unit_test(test_reset_after_quiet_period),
		cmocka_unit_test(test_crash_loop_stays_small),
		cmocka_unit_test(test_draining_worker),
		cmocka_unit_test(test_hung_worker),
		cmocka_unit_test(test_max_requests_jitter),
		cmocka_unit_test(test_dynamic_grows),
		cmocka_unit_test(test_dynamic_cap_and_shrink),
		cmocka_unit_test(test_ondemand_nothing_until_a_client),
		cmocka_unit_test(test_ondemand_one_more_when_none_free),
		cmocka_unit_test(test_ondemand_idle_workers_stop),
		cmocka_unit_test(test_busy_but_not_full),
		cmocka_unit_test(test_ondemand_backoff),
		cmocka_unit_test(test_ondemand_never_spins),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
