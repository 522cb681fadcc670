/*
 * test_stats.c - the counters that outlive workers: a worker's counts stay
 * in the totals after it dies, recycles or a reload replaces its
 * generation; a service that survives a reload keeps its totals, a removed
 * one leaves the view once no worker holds it and finds its totals again
 * if it comes back; a long random run of claims, counts, deaths and
 * reloads never shows a total going backwards; a reader gives up rather
 * than spin when the master stopped in the middle of a write; the rates;
 * running out of entries.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "stats.h"

#define S 1000000000LL

static struct scoreboard *sb;
static struct stats *st;
static int sb_fd = -1, st_fd = -1;
static uint32_t map[16];
static uint32_t gen;

static struct sockd_config *
load(const char *names)
{
	char text[16384], *p = text;
	struct config_errors errs = { 0 };
	struct sockd_config *cfg;
	char buf[256];
	const char *n = names;

	p += sprintf(p, "services = (");
	for (bool first = true; *n != '\0'; first = false) {
		size_t len = strcspn(n, " ");

		snprintf(buf, sizeof(buf), "%.*s", (int)len, n);
		p += sprintf(p, "%s{ name = \"%s\"; listen = \"127.0.0.1:0\"; handler = \"%s\"; "
		    "workers = 2; }", first ? "" : ", ", buf,
		    strcmp(buf, "web") == 0 ? "http" : "echo");
		n += len;
		n += *n == ' ';
	}
	sprintf(p, ");");
	cfg = config_load_string(text, "test.conf", &errs);
	for (size_t i = 0; i < errs.count; i++)
		print_error("%s\n", errs.msg[i]);
	assert_non_null(cfg);
	config_errors_free(&errs);
	return cfg;
}

/* Make CFG the configuration, as the master's reload does. */
static int
take(struct sockd_config *cfg)
{
	if (stats_bind(st, cfg, map) == -1)
		return -1;
	stats_commit(st, cfg, ++gen, map);
	return 0;
}

static const struct snapshot_service *
find(const struct snapshot *s, const char *name)
{
	for (size_t i = 0; i < s->n_services; i++)
		if (strcmp(s->services[i].name, name) == 0)
			return &s->services[i];
	return NULL;
}

static struct scoreboard_slot *
spawn(size_t service, pid_t pid)
{
	struct scoreboard_slot *sl = scoreboard_claim(sb, 0, gen, (uint32_t)service, map[service],
	    clock_now());

	assert_non_null(sl);
	sl->pid = pid;
	stats_started(st, sl);
	atomic_store(&sl->state, SLOT_IDLE);
	return sl;
}

static void
traffic(struct scoreboard_slot *sl, unsigned conns, unsigned open)
{
	atomic_fetch_add(&sl->accepted, conns + open);
	atomic_fetch_add(&sl->served, conns);
	atomic_fetch_add(&sl->current, open);
	atomic_fetch_add(&sl->messages, 3 * conns);
	atomic_fetch_add(&sl->bytes_in, 100 * conns);
	atomic_fetch_add(&sl->bytes_out, 200 * conns);
	for (unsigned i = 0; i < conns; i++)
		scoreboard_hist_add(&sl->duration, 2000000);	/* 2 ms */
}

static int
setup(void **state)
{
	(void)state;
	sb = scoreboard_create(64, &sb_fd);
	st = stats_create(2, sb, &st_fd);
	gen = 0;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	stats_destroy(st);
	scoreboard_destroy(sb);
	close(st_fd);
	close(sb_fd);
	return 0;
}

static void
test_death_keeps_totals(void **state)
{
	struct sockd_config *cfg = load("echo web");
	struct scoreboard_slot *a, *b;
	struct snapshot s;
	const struct snapshot_service *e;

	(void)state;
	assert_int_equal(take(cfg), 0);
	a = spawn(0, 100);
	b = spawn(0, 101);
	traffic(a, 4, 1);
	traffic(b, 2, 0);
	assert_int_equal(stats_snapshot(st, &s), 0);
	assert_int_equal(s.n_services, 2);
	assert_string_equal(s.services[0].name, "echo");
	assert_string_equal(s.services[1].name, "web");
	assert_true(s.services[1].http);
	e = find(&s, "echo");
	assert_int_equal(e->accepted, 7);
	assert_int_equal(e->closed, 6);
	assert_int_equal(e->active, 1);
	assert_int_equal(e->messages, 18);
	assert_int_equal(e->bytes_out, 1200);
	assert_int_equal(e->workers[SNAPSHOT_IDLE], 2);
	assert_int_equal(e->worker_starts, 2);
	assert_int_equal(e->duration.count, 6);
	assert_int_equal(e->duration.bucket[3], 6);	/* 1 ms < 2 ms <= 5 ms */
	assert_int_equal(s.n_workers, 2);
	assert_int_equal(s.workers[0].pid, 100);
	snapshot_free(&s);

	/* a dies by SIGSEGV holding its open connection; b recycles. */
	stats_reaped(st, a, SIGSEGV, true, false);	/* a wait status: killed by 11 */
	atomic_store(&b->state, SLOT_DRAINING);
	stats_reaped(st, b, 0, false, true);
	assert_int_equal(stats_snapshot(st, &s), 0);
	e = find(&s, "echo");
	assert_int_equal(e->accepted, 7);
	assert_int_equal(e->closed, 6);
	assert_int_equal(e->active, 0);
	assert_int_equal(e->messages, 18);
	assert_int_equal(e->duration.count, 6);
	assert_int_equal(e->worker_crashes, 1);
	assert_int_equal(e->exit_signal[SIGSEGV], 1);
	assert_int_equal(e->recycles, 1);
	assert_int_equal(e->workers[SNAPSHOT_IDLE], 0);
	assert_int_equal(s.n_workers, 0);
	snapshot_free(&s);
	config_free(cfg);
}

static void
test_reload_keeps_totals(void **state)
{
	struct sockd_config *one = load("echo web"), *two = load("web other"), *three;
	struct scoreboard_slot *old_echo, *old_web, *w;
	struct snapshot s;
	const struct snapshot_service *e;

	(void)state;
	assert_int_equal(take(one), 0);
	old_echo = spawn(0, 200);
	old_web = spawn(1, 201);
	traffic(old_echo, 5, 0);
	traffic(old_web, 7, 0);
	assert_int_equal(take(two), 0);		/* echo removed; web now index 0 */
	w = spawn(0, 300);
	traffic(w, 1, 0);
	assert_int_equal(stats_snapshot(st, &s), 0);
	/* web: the old generation's worker and the new one; echo still shown,
	 * as removed, while its old worker is there. */
	assert_int_equal(s.n_services, 3);
	assert_string_equal(s.services[0].name, "web");
	assert_string_equal(s.services[1].name, "other");
	assert_string_equal(s.services[2].name, "echo");
	assert_false(s.services[2].configured);
	assert_int_equal(find(&s, "web")->closed, 8);
	assert_int_equal(find(&s, "web")->generation, gen);
	assert_int_equal(find(&s, "echo")->closed, 5);
	assert_int_equal(find(&s, "other")->closed, 0);
	snapshot_free(&s);

	stats_reaped(st, old_web, 0, false, false);
	stats_reaped(st, old_echo, 0, false, false);
	assert_int_equal(stats_snapshot(st, &s), 0);
	assert_int_equal(s.n_services, 2);		/* echo gone with its last worker */
	assert_null(find(&s, "echo"));
	assert_int_equal(find(&s, "web")->closed, 8);
	snapshot_free(&s);

	/* echo comes back: its totals with it. */
	three = load("echo web");
	assert_int_equal(take(three), 0);
	assert_int_equal(stats_snapshot(st, &s), 0);
	e = find(&s, "echo");
	assert_non_null(e);
	assert_true(e->configured);
	assert_int_equal(e->closed, 5);
	assert_int_equal(find(&s, "web")->closed, 8);
	snapshot_free(&s);
	stats_reaped(st, w, 0, false, false);
	config_free(one);
	config_free(two);
	config_free(three);
}

/* Totals of every service seen twice never decrease. */
static void
check_monotonic(const struct snapshot *prev, const struct snapshot *now)
{
	for (size_t i = 0; i < now->n_services; i++) {
		const struct snapshot_service *n = &now->services[i];
		const struct snapshot_service *p = find(prev, n->name);

		if (p == NULL)
			continue;
		assert_true(n->accepted >= p->accepted);
		assert_true(n->closed >= p->closed);
		assert_true(n->messages >= p->messages);
		assert_true(n->bytes_in >= p->bytes_in);
		assert_true(n->bytes_out >= p->bytes_out);
		assert_true(n->duration.count >= p->duration.count);
		assert_true(n->worker_starts >= p->worker_starts);
		assert_true(n->worker_crashes >= p->worker_crashes);
	}
}

static void
test_never_backwards(void **state)
{
	const char *configs[] = { "a b", "b c", "a b c", "c", "a" };
	struct sockd_config *cfg[5];
	struct scoreboard_slot *live[32] = { 0 };
	struct snapshot prev = { 0 }, now;
	unsigned seed = 12345;
	pid_t pid = 1000;
	size_t cur = 0;

	(void)state;
	for (size_t i = 0; i < 5; i++)
		cfg[i] = load(configs[i]);
	assert_int_equal(take(cfg[0]), 0);
	assert_int_equal(stats_snapshot(st, &prev), 0);
	for (int step = 0; step < 3000; step++) {
		unsigned r = (unsigned)rand_r(&seed), k = r % 32;

		switch ((r >> 8) % 5) {
		case 0:		/* a worker starts */
			if (live[k] == NULL)
				live[k] = spawn((r >> 12) % cfg[cur]->n_services, pid++);
			break;
		case 1:		/* it serves */
		case 2:
			if (live[k] != NULL)
				traffic(live[k], (r >> 12) % 5, 0);
			break;
		case 3:		/* it dies, crashes or recycles */
			if (live[k] != NULL)
				stats_reaped(st, live[k], (r >> 12) % 2 ? 0 : SIGKILL,
				    (r >> 12) % 2 == 0, false);
			live[k] = NULL;
			break;
		default:	/* a reload, now and then */
			if ((r >> 12) % 20 == 0) {
				cur = (r >> 16) % 5;
				assert_int_equal(take(cfg[cur]), 0);
			}
			break;
		}
		assert_int_equal(stats_snapshot(st, &now), 0);
		check_monotonic(&prev, &now);
		snapshot_free(&prev);
		prev = now;
	}
	snapshot_free(&prev);
	for (size_t k = 0; k < 32; k++)
		if (live[k] != NULL)
			stats_reaped(st, live[k], 0, false, false);
	for (size_t i = 0; i < 5; i++)
		config_free(cfg[i]);
}

static void
test_reader_gives_up(void **state)
{
	struct sockd_config *cfg = load("echo");
	struct snapshot s;

	(void)state;
	assert_int_equal(take(cfg), 0);
	stats_write_begin(st);		/* the master stopped mid-write */
	assert_int_equal(stats_snapshot(st, &s), -1);
	assert_null(s.services);
	stats_write_end(st);
	assert_int_equal(stats_snapshot(st, &s), 0);
	snapshot_free(&s);
	config_free(cfg);
}

static void
test_rates(void **state)
{
	struct sockd_config *cfg = load("echo");
	struct scoreboard_slot *w;
	struct snapshot s;
	int64_t t = 5 * S;

	(void)state;
	assert_int_equal(take(cfg), 0);
	w = spawn(0, 400);
	stats_tick(st, t);
	assert_int_equal(stats_snapshot(st, &s), 0);
	assert_true(s.services[0].rate[0] == 0);
	snapshot_free(&s);
	for (int i = 1; i <= 20; i++) {	/* 30 messages a second, 20 s */
		atomic_fetch_add(&w->messages, 30);
		stats_tick(st, t + i * S);
	}
	atomic_fetch_add(&w->messages, 90);	/* then 90 in the last second */
	stats_tick(st, t + 21 * S);
	assert_int_equal(stats_snapshot(st, &s), 0);
	assert_true(s.services[0].rate[0] > 89.9 && s.services[0].rate[0] < 90.1);
	assert_true(s.services[0].rate[1] > 35.9 && s.services[0].rate[1] < 36.1);	/* 360/10 */
	/* Only 21 s of samples: the 60 s rate is over what there is. */
	assert_true(s.services[0].rate[2] > 32.8 && s.services[0].rate[2] < 32.9);	/* 690/21 */
	snapshot_free(&s);
	stats_reaped(st, w, 0, false, false);
	config_free(cfg);
}

static void
test_no_room(void **state)
{
	char names[64 * 8] = "", *p = names;
	struct sockd_config *cfg;

	(void)state;
	for (int i = 0; i < 65; i++)	/* one more than the 64 entries */
		p += sprintf(p, "%ss%d", i ? " " : "", i);
	cfg = load(names);
	assert_int_equal(stats_bind(st, cfg, (uint32_t[65]){ 0 }), -1);
	config_free(cfg);
}

/* A binary upgrade's new image maps the counters again from their memfd:
 * it sees what was counted, and what it counts is the one region. */
static void
test_adopt(void **state)
{
	struct stats *again;

	(void)state;
	stats_reload(st, true, false, NULL);
	again = stats_adopt(st_fd, sb);
	assert_non_null(again);
	assert_ptr_not_equal(again, st);
	assert_ptr_equal(stats_shared(), again);
	assert_ptr_equal(stats_board(), sb);
	assert_int_equal(again->reloads, 1);
	stats_upgrade(again, true, "0.9", NULL);
	stats_upgrade(again, false, NULL, "no");
	assert_int_equal(st->upgrades_ok, 1);
	assert_int_equal(st->upgrades_failed, 1);
	assert_string_equal(st->upgraded_from, "0.9");
	assert_string_equal(st->last_upgrade_error, "no");
	assert_false(st->last_upgrade_ok);
	stats_destroy(again);
	assert_null(stats_adopt(sb_fd, sb));	/* the scoreboard is not the counters */
	assert_null(stats_adopt(-1, sb));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_death_keeps_totals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reload_keeps_totals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_never_backwards, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reader_gives_up, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_room, setup, teardown),
		cmocka_unit_test_setup_teardown(test_adopt, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
