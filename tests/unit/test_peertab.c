/*
 * test_peertab.c - the per-client limit table: per_ip reached and freed
 * again, services apart, the token bucket's burst, refusal and refill
 * (time passed in, never slept), a client that connects and closes keeping
 * its bucket, a full table and the eviction of refilled idle clients,
 * reclaiming a dead worker's places and only its, running out of records;
 * then with processes: a worker killed with the lock held at every crash
 * point of the code (the next taker repairs, nothing leaks), workers
 * SIGKILLed at random moments, and four workers at once. A new table's
 * pages stay untouched until it is first used.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "peertab.h"

#define SEC INT64_C(1000000000)
#define T0 (1000 * SEC)
#define DEADLINE_S 120		/* any test with processes that takes longer hangs */

static const struct peertab_limits no_limit = { 0, 0, 0 };
static int fd = -1;			/* the last table's memfd */

/* The key of IPv4 client 10.0.N/256.N%256. */
static const uint8_t *
key(unsigned n)
{
	static uint8_t keys[8][CIDR_KEY_LEN];
	static unsigned next;
	uint8_t *k = keys[next++ % 8];
	struct sockaddr_in sin = { .sin_family = AF_INET };

	sin.sin_addr.s_addr = htonl(0x0a000000u | n);
	assert_true(cidr_client_key((struct sockaddr *)&sin, 64, k));
	return k;
}

static struct peertab *
table(size_t clients, size_t records)
{
	struct peertab *t;

	if (fd != -1)
		close(fd);
	t = peertab_create(clients, records, &fd);
	assert_non_null(t);
	return t;
}

static enum peertab_verdict
enter(struct peertab *t, uint32_t service, unsigned client, const struct peertab_limits *lim,
    uint32_t slot, int64_t now, uint32_t *rec)
{
	uint32_t scratch;

	return peertab_enter(t, service, key(client), lim, slot, now, rec != NULL ? rec : &scratch);
}

static void
consistent(struct peertab *t)
{
	const char *why = peertab_test_check(t);

	if (why != NULL)
		fail_msg("table: %s", why);
}

/* Pages of the first BYTES of T in memory. */
static size_t
resident(const struct peertab *t, size_t bytes)
{
	unsigned char vec[512];
	size_t page = (size_t)sysconf(_SC_PAGESIZE), n = bytes / page, in = 0;

	assert_true(n <= sizeof(vec));
	assert_int_equal(mincore((void *)t, bytes, vec), 0);
	for (size_t i = 0; i < n; i++)
		in += vec[i] & 1;
	return in;
}

/* sockd's size: nothing but the header is touched until the first use
 * (a reclaim, as the master does for every worker that exits, is none);
 * then the lists are whole. */
static void
test_untouched_until_used(void **state)
{
	struct peertab *t = table(65536, 262144);
	size_t bytes = 256 * (size_t)sysconf(_SC_PAGESIZE);	/* of about 9 MiB */

	(void)state;
	assert_true(resident(t, bytes) <= 1);
	assert_int_equal(peertab_reclaim(t, 1), 0);
	assert_true(resident(t, bytes) <= 1);
	assert_int_equal(enter(t, 1, 1, &no_limit, 1, T0, NULL), PEERTAB_OK);
	assert_int_equal(resident(t, bytes), 256);
	consistent(t);
	assert_int_equal(peertab_reclaim(t, 1), 1);
	assert_int_equal(peertab_count(t, 1, key(1)), 0);
	consistent(t);
	peertab_destroy(t);
}

static void
test_per_ip(void **state)
{
	struct peertab *t = table(100, 100);
	struct peertab_limits lim = { .per_ip = 2 };
	uint32_t r[3];

	(void)state;
	assert_int_equal(enter(t, 1, 1, &lim, 0, T0, &r[0]), PEERTAB_OK);
	assert_int_equal(enter(t, 1, 1, &lim, 0, T0, &r[1]), PEERTAB_OK);
	assert_int_not_equal(r[0], r[1]);
	assert_int_equal(peertab_count(t, 1, key(1)), 2);
	assert_int_equal(enter(t, 1, 1, &lim, 0, T0, &r[2]), PEERTAB_PER_IP);
	assert_int_equal(peertab_count(t, 1, key(1)), 2);
	/* Another client is not held back by this one. */
	assert_int_equal(enter(t, 1, 2, &lim, 0, T0, &r[2]), PEERTAB_OK);
	peertab_leave(t, r[2]);
	peertab_leave(t, r[0]);
	assert_int_equal(peertab_count(t, 1, key(1)), 1);
	assert_int_equal(enter(t, 1, 1, &lim, 0, T0, &r[0]), PEERTAB_OK);
	assert_int_equal(enter(t, 1, 1, &lim, 0, T0, &r[2]), PEERTAB_PER_IP);
	peertab_leave(t, r[0]);
	peertab_leave(t, r[1]);
	peertab_leave(t, r[1]);		/* twice: nothing more */
	assert_int_equal(peertab_count(t, 1, key(1)), 0);
	/* Without a rate nothing is remembered of a client gone. */
	assert_int_equal(peertab_test_clients(t), 0);
	consistent(t);
	peertab_destroy(t);
}

static void
test_services_apart(void **state)
{
	struct peertab *t = table(100, 100);
	struct peertab_limits lim = { .per_ip = 1 };

	(void)state;
	assert_int_equal(enter(t, 1, 7, &lim, 0, T0, NULL), PEERTAB_OK);
	assert_int_equal(enter(t, 1, 7, &lim, 0, T0, NULL), PEERTAB_PER_IP);
	assert_int_equal(enter(t, 2, 7, &lim, 0, T0, NULL), PEERTAB_OK);
	assert_int_equal(enter(t, 2, 7, &lim, 0, T0, NULL), PEERTAB_PER_IP);
	assert_int_equal(peertab_count(t, 1, key(7)), 1);
	assert_int_equal(peertab_count(t, 2, key(7)), 1);
	assert_int_equal(peertab_count(t, 3, key(7)), 0);
	consistent(t);
	peertab_destroy(t);
}

static void
test_rate(void **state)
{
	struct peertab *t = table(100, 100);
	struct peertab_limits lim = { .rate = 2, .burst = 3 };
	uint32_t r;

	(void)state;
	for (int i = 0; i < 3; i++) {
		assert_int_equal(enter(t, 1, 1, &lim, 0, T0, &r), PEERTAB_OK);
		peertab_leave(t, r);
	}
	assert_int_equal(enter(t, 1, 1, &lim, 0, T0, &r), PEERTAB_RATE);
	assert_int_equal(enter(t, 1, 1, &lim, 0, T0 + SEC / 2 - 1, &r), PEERTAB_RATE);
	/* Half a second at 2/s: one token; a refused attempt took none. */
	assert_int_equal(enter(t, 1, 1, &lim, 0, T0 + SEC / 2, &r), PEERTAB_OK);
	assert_int_equal(enter(t, 1, 1, &lim, 0, T0 + SEC / 2, &r), PEERTAB_RATE);
	/* Another client has its own bucket. */
	assert_int_equal(enter(t, 1, 2, &lim, 0, T0 + SEC / 2, NULL), PEERTAB_OK);
	/* A long pause fills the bucket, but no more than the burst. */
	for (int i = 0; i < 3; i++)
		assert_int_equal(enter(t, 1, 1, &lim, 0, T0 + 3600 * SEC, NULL), PEERTAB_OK);
	assert_int_equal(enter(t, 1, 1, &lim, 0, T0 + 3600 * SEC, NULL), PEERTAB_RATE);
	/* A clock that goes back gives nothing. */
	assert_int_equal(enter(t, 1, 1, &lim, 0, T0, NULL), PEERTAB_RATE);
	/* A high rate: 1000/s is a token a millisecond. */
	lim = (struct peertab_limits){ .rate = 1000, .burst = 1 };
	assert_int_equal(enter(t, 1, 3, &lim, 0, T0, NULL), PEERTAB_OK);
	assert_int_equal(enter(t, 1, 3, &lim, 0, T0 + 999999, NULL), PEERTAB_RATE);
	assert_int_equal(enter(t, 1, 3, &lim, 0, T0 + 1000000, NULL), PEERTAB_OK);
	/* The largest rate and burst overflow nothing. */
	lim = (struct peertab_limits){ .rate = UINT32_MAX, .burst = UINT32_MAX };
	assert_int_equal(enter(t, 1, 4, &lim, 0, T0, NULL), PEERTAB_OK);
	assert_int_equal(enter(t, 1, 4, &lim, 0, INT64_MAX, NULL), PEERTAB_OK);
	consistent(t);
	peertab_destroy(t);
}

/* Refused attempts count too (a flood at its per_ip limit stays limited). */
static void
test_rate_counts_refused(void **state)
{
	struct peertab *t = table(100, 100);
	struct peertab_limits lim = { .per_ip = 1, .rate = 1, .burst = 2 };
	uint32_t r;

	(void)state;
	assert_int_equal(enter(t, 1, 1, &lim, 0, T0, &r), PEERTAB_OK);
	assert_int_equal(enter(t, 1, 1, &lim, 0, T0, NULL), PEERTAB_PER_IP);
	peertab_leave(t, r);
	/* A place is free, but the refused attempt took the last token. */
	assert_int_equal(enter(t, 1, 1, &lim, 0, T0, NULL), PEERTAB_RATE);
	assert_int_equal(enter(t, 1, 1, &lim, 0, T0 + SEC, &r), PEERTAB_OK);
	/* Rate is checked first: an empty bucket says RATE, not PER_IP. */
	assert_int_equal(enter(t, 1, 1, &lim, 0, T0 + SEC, NULL), PEERTAB_RATE);
	consistent(t);
	peertab_destroy(t);
}

static void
test_bucket_kept(void **state)
{
	struct peertab *t = table(100, 100);
	struct peertab_limits lim = { .rate = 1, .burst = 1 };
	uint32_t r;

	(void)state;
	assert_int_equal(enter(t, 1, 1, &lim, 0, T0, &r), PEERTAB_OK);
	peertab_leave(t, r);
	assert_int_equal(peertab_count(t, 1, key(1)), 0);
	assert_int_equal(peertab_test_clients(t), 1);
	assert_int_equal(enter(t, 1, 1, &lim, 0, T0 + SEC / 10, NULL), PEERTAB_RATE);
	assert_int_equal(enter(t, 1, 1, &lim, 0, T0 + SEC, &r), PEERTAB_OK);
	peertab_leave(t, r);
	/* The limit taken off by a reload: a rate-less client is forgotten when idle. */
	assert_int_equal(enter(t, 1, 1, &no_limit, 0, T0 + SEC, &r), PEERTAB_OK);
	peertab_leave(t, r);
	assert_int_equal(peertab_test_clients(t), 0);
	consistent(t);
	peertab_destroy(t);
}

static void
test_full_and_eviction(void **state)
{
	struct peertab *t = table(64, 1000);
	struct peertab_limits lim = { .rate = 1, .burst = 1 };
	uint32_t r, recs[64];

	(void)state;
	/* 64 clients come and go; their empty buckets keep them all. */
	for (unsigned i = 0; i < 64; i++) {
		assert_int_equal(enter(t, 1, i, &lim, 0, T0 + i, &r), PEERTAB_OK);
		peertab_leave(t, r);
	}
	assert_int_equal(peertab_test_clients(t), 64);
	assert_int_equal(enter(t, 1, 100, &lim, 0, T0 + 100, NULL), PEERTAB_FULL);
	assert_int_equal(enter(t, 1, 100, &lim, 0, T0 + SEC / 2, NULL), PEERTAB_FULL);
	/* A known client is no new entry. */
	assert_int_equal(enter(t, 1, 5, &lim, 0, T0 + SEC / 2, NULL), PEERTAB_RATE);
	/* Client 0's bucket is full again a second after: room for one. */
	assert_int_equal(enter(t, 1, 100, &lim, 0, T0 + SEC, &r), PEERTAB_OK);
	peertab_leave(t, r);
	assert_int_equal(enter(t, 1, 101, &lim, 0, T0 + SEC, NULL), PEERTAB_FULL);
	/* All refilled: the sweep makes room for many. */
	assert_int_equal(enter(t, 1, 101, &lim, 0, T0 + 10 * SEC, NULL), PEERTAB_OK);
	assert_int_equal(peertab_test_clients(t), 1);
	consistent(t);
	peertab_destroy(t);

	/* Clients with connections open are never evicted, however long. */
	t = table(64, 1000);
	for (unsigned i = 0; i < 64; i++)
		assert_int_equal(enter(t, 1, i, &lim, 0, T0, &recs[i]), PEERTAB_OK);
	assert_int_equal(enter(t, 1, 100, &lim, 0, T0 + 3600 * SEC, NULL), PEERTAB_FULL);
	assert_int_equal(enter(t, 1, 100, &no_limit, 0, T0 + 3600 * SEC, NULL), PEERTAB_FULL);
	peertab_leave(t, recs[10]);
	assert_int_equal(enter(t, 1, 100, &lim, 0, T0 + 3600 * SEC, NULL), PEERTAB_OK);
	for (unsigned i = 0; i < 64; i++)
		assert_int_equal(peertab_count(t, 1, key(i)), i == 10 ? 0 : 1);
	consistent(t);
	peertab_destroy(t);
}

static void
test_reclaim(void **state)
{
	struct peertab *t = table(100, 100);
	uint32_t r;

	(void)state;
	assert_int_equal(enter(t, 1, 1, &no_limit, 1, T0, NULL), PEERTAB_OK);
	assert_int_equal(enter(t, 1, 1, &no_limit, 1, T0, NULL), PEERTAB_OK);
	assert_int_equal(enter(t, 1, 2, &no_limit, 1, T0, NULL), PEERTAB_OK);
	assert_int_equal(enter(t, 2, 1, &no_limit, 1, T0, NULL), PEERTAB_OK);
	assert_int_equal(enter(t, 1, 1, &no_limit, 2, T0, &r), PEERTAB_OK);
	assert_int_equal(enter(t, 1, 3, &no_limit, 2, T0, NULL), PEERTAB_OK);
	assert_int_equal(peertab_count(t, 1, key(1)), 3);

	assert_int_equal(peertab_reclaim(t, 1), 4);
	assert_int_equal(peertab_count(t, 1, key(1)), 1);
	assert_int_equal(peertab_count(t, 1, key(2)), 0);
	assert_int_equal(peertab_count(t, 2, key(1)), 0);
	assert_int_equal(peertab_count(t, 1, key(3)), 1);
	assert_int_equal(peertab_reclaim(t, 1), 0);
	assert_int_equal(peertab_reclaim(t, 7), 0);
	consistent(t);
	peertab_leave(t, r);
	assert_int_equal(peertab_reclaim(t, 2), 1);
	assert_int_equal(peertab_test_clients(t), 0);
	consistent(t);
	peertab_destroy(t);
}

static void
test_records_exhausted(void **state)
{
	struct peertab *t = table(64, 64);
	struct peertab_limits lim = { .per_ip = 100 };
	uint32_t recs[64], r;

	(void)state;
	for (unsigned i = 0; i < 64; i++)
		assert_int_equal(enter(t, 1, i % 3, &lim, 0, T0, &recs[i]), PEERTAB_OK);
	assert_int_equal(enter(t, 1, 0, &lim, 0, T0, NULL), PEERTAB_FULL);
	/* A new client is refused too, and not kept: it has nothing open, no rate. */
	assert_int_equal(enter(t, 1, 50, &lim, 0, T0, NULL), PEERTAB_FULL);
	assert_int_equal(peertab_test_clients(t), 3);
	/* per_ip before room: a client at its limit hears PER_IP. */
	lim.per_ip = 22;
	assert_int_equal(enter(t, 1, 0, &lim, 0, T0, NULL), PEERTAB_PER_IP);
	assert_int_equal(enter(t, 1, 2, &lim, 0, T0, NULL), PEERTAB_FULL);
	peertab_leave(t, recs[5]);
	assert_int_equal(enter(t, 1, 50, &lim, 0, T0, &r), PEERTAB_OK);
	assert_int_equal(r, recs[5]);
	consistent(t);
	peertab_destroy(t);
}

static void
test_sizes(void **state)
{
	struct peertab *t;

	(void)state;
	t = table(0, 0);		/* the minimums: 64 of each */
	for (unsigned i = 0; i < 64; i++)
		assert_int_equal(enter(t, 1, i, &no_limit, 0, T0, NULL), PEERTAB_OK);
	assert_int_equal(enter(t, 1, 64, &no_limit, 0, T0, NULL), PEERTAB_FULL);
	peertab_destroy(t);
	t = table(65, 0);		/* rounded up to 128 */
	for (unsigned i = 0; i < 64; i++)
		assert_int_equal(enter(t, 1, i, &no_limit, 0, T0, NULL), PEERTAB_OK);
	peertab_destroy(t);
	assert_null(peertab_create((size_t)1 << 40, 100, &fd));
	assert_null(peertab_create(100, SIZE_MAX, &fd));
	peertab_destroy(NULL);
}

/* ---- processes ----------------------------------------------------------- */

static void
on_alarm(int sig)
{
	static const char msg[] = "test_peertab: a test with processes hung\n";

	(void)sig;
	(void)!write(2, msg, sizeof(msg) - 1);
	_exit(99);
}

static void
deadline(void)
{
	signal(SIGALRM, on_alarm);
	alarm(DEADLINE_S);
}

/* Wait for PID; its exit status, or 128 + the signal that ended it. */
static int
reap(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) == -1)
		assert_int_equal(errno, EINTR);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/*
 * What a worker in slot 2 does in the crash test: something of every
 * operation, so that each crash point is on its way. Reaching the end
 * means the crash point was not.
 */
static void
worker_ops(struct peertab *t, int crash_at, uint32_t rec_b)
{
	struct peertab_limits rate = { .rate = 100, .burst = 100 };
	uint32_t r;

	peertab_test_crash_at = crash_at;
	(void)enter(t, 1, 3, &no_limit, 2, T0 + SEC, &r);	/* new: C */
	(void)enter(t, 1, 1, &no_limit, 2, T0 + SEC, &r);	/* known: A */
	(void)enter(t, 1, 4, &rate, 2, T0 + SEC, &r);		/* a bucket: D */
	peertab_leave(t, rec_b);				/* B's last */
	(void)peertab_reclaim(t, 3);				/* E's three */
	(void)peertab_count(t, 1, key(1));
	_exit(0);
}

static void
crash_at(int point)
{
	struct peertab *t = table(64, 64);
	struct peertab_limits rate = { .rate = 100, .burst = 100 };
	uint32_t a[2], rec_b, r;
	unsigned n;
	pid_t pid;

	assert_int_equal(enter(t, 1, 1, &no_limit, 1, T0, &a[0]), PEERTAB_OK);
	assert_int_equal(enter(t, 1, 1, &no_limit, 1, T0, &a[1]), PEERTAB_OK);
	assert_int_equal(enter(t, 1, 2, &no_limit, 1, T0, &rec_b), PEERTAB_OK);
	assert_int_equal(enter(t, 1, 4, &rate, 1, T0, &r), PEERTAB_OK);
	peertab_leave(t, r);
	for (int i = 0; i < 3; i++)
		assert_int_equal(enter(t, 1, 5, &no_limit, 3, T0, NULL), PEERTAB_OK);

	if (point == 11) {
		/* A repairer dying: first a death to repair, then one in the repair. */
		if ((pid = fork()) == 0)
			worker_ops(t, 6, rec_b);
		assert_int_not_equal(pid, -1);
		assert_int_equal(reap(pid), PEERTAB_TEST_CRASHED);
	}
	if ((pid = fork()) == 0)
		worker_ops(t, point, rec_b);
	assert_int_not_equal(pid, -1);
	if (reap(pid) != PEERTAB_TEST_CRASHED)
		fail_msg("crash point %d: the child did not die there", point);

	/* The next call takes the lock, repairs, and finds the table whole. */
	consistent(t);
	n = peertab_count(t, 1, key(1));
	assert_true(n == 2 || n == 3);
	/* The master reclaims the dead worker's places, and E's go on going. */
	(void)peertab_reclaim(t, 2);
	(void)peertab_reclaim(t, 3);
	assert_int_equal(peertab_count(t, 1, key(1)), 2);
	assert_int_equal(peertab_count(t, 1, key(3)), 0);
	assert_int_equal(peertab_count(t, 1, key(5)), 0);
	peertab_leave(t, rec_b);
	peertab_leave(t, a[0]);
	peertab_leave(t, a[1]);
	assert_int_equal(peertab_count(t, 1, key(1)), 0);
	assert_int_equal(peertab_count(t, 1, key(2)), 0);
	consistent(t);
	/* Nothing leaked: D (a bucket) is kept, and all 64 records are there. */
	assert_int_equal(peertab_test_clients(t), 1);
	for (unsigned i = 0; i < 64; i++)
		assert_int_equal(enter(t, 1, 10 + i % 50, &no_limit, 0, T0, NULL), PEERTAB_OK);
	assert_int_equal(enter(t, 1, 10, &no_limit, 0, T0, NULL), PEERTAB_FULL);
	consistent(t);
	peertab_destroy(t);
}

static void
test_death_holding_lock(void **state)
{
	(void)state;
	deadline();
	for (int point = 1; point <= 12; point++)
		crash_at(point);
	alarm(0);
}

/* Workers killed at random moments of a loop of enters and leaves. */
static void
test_killed_anywhere(void **state)
{
	struct peertab *t = table(64, 256);
	struct peertab_limits lim = { .per_ip = 3, .rate = 1000000, .burst = 1000 };

	(void)state;
	deadline();
	srand(12345);
	for (int round = 0; round < 20; round++) {
		pid_t pids[4];

		for (uint32_t w = 0; w < 4; w++) {
			if ((pids[w] = fork()) == 0) {
				uint32_t held = UINT32_MAX;

				/* Every third connection is held until the next third. */
				for (int64_t i = 0;; i++) {
					uint32_t r;

					if (enter(t, 1, (unsigned)(i % 5), &lim, w, T0 + i * 1000, &r) !=
					    PEERTAB_OK)
						continue;
					if (i % 3 != 0) {
						peertab_leave(t, r);
						continue;
					}
					if (held != UINT32_MAX)
						peertab_leave(t, held);
					held = r;
				}
			}
			assert_int_not_equal(pids[w], -1);
		}
		usleep(2000 + (useconds_t)(rand() % 20000));
		for (uint32_t w = 0; w < 4; w++) {
			assert_int_equal(kill(pids[w], SIGKILL), 0);
			assert_int_equal(reap(pids[w]), 128 + SIGKILL);
		}
		consistent(t);
		for (uint32_t w = 0; w < 4; w++)
			(void)peertab_reclaim(t, w);
		for (unsigned k = 0; k < 5; k++)
			assert_int_equal(peertab_count(t, 1, key(k)), 0);
		consistent(t);
	}
	alarm(0);
	peertab_destroy(t);
}

static void
test_processes_at_once(void **state)
{
	struct peertab *t = table(64, 256);
	struct peertab_limits lim = { .per_ip = 2 };
	pid_t pids[4];

	(void)state;
	deadline();
	for (uint32_t w = 0; w < 4; w++) {
		if ((pids[w] = fork()) == 0) {
			int bad = 0;

			for (int i = 0; i < 5000; i++) {
				uint32_t r;
				unsigned k = (unsigned)(i % 3);
				enum peertab_verdict v = enter(t, 1, k, &lim, w, T0, &r);

				if (v == PEERTAB_OK) {
					bad |= peertab_count(t, 1, key(k)) > 2;
					peertab_leave(t, r);
				} else
					bad |= v != PEERTAB_PER_IP;
			}
			_exit(bad);
		}
		assert_int_not_equal(pids[w], -1);
	}
	for (uint32_t w = 0; w < 4; w++)
		assert_int_equal(reap(pids[w]), 0);
	alarm(0);
	for (unsigned k = 0; k < 3; k++)
		assert_int_equal(peertab_count(t, 1, key(k)), 0);
	assert_int_equal(peertab_test_clients(t), 0);
	consistent(t);
	peertab_destroy(t);
}

/* A binary upgrade maps the table again from its memfd, elsewhere: the
 * new mapping sees what the old one holds and changes what it sees. */
static void
test_adopt(void **state)
{
	struct peertab *t = table(64, 64), *u;
	const struct peertab_limits lim = { 2, 0, 0 };
	uint32_t rec;

	(void)state;
	assert_int_equal(enter(t, 1, 7, &lim, 3, T0, &rec), PEERTAB_OK);
	u = peertab_adopt(fd);
	assert_non_null(u);
	assert_ptr_not_equal(u, t);
	assert_int_equal(peertab_count(u, 1, key(7)), 1);
	assert_int_equal(enter(u, 1, 7, &lim, 3, T0, NULL), PEERTAB_OK);
	assert_int_equal(enter(t, 1, 7, &lim, 3, T0, NULL), PEERTAB_PER_IP);
	assert_int_equal(peertab_reclaim(u, 3), 2);
	assert_int_equal(peertab_count(t, 1, key(7)), 0);
	consistent(u);
	peertab_destroy(u);
	peertab_destroy(t);
	assert_null(peertab_adopt(-1));
	assert_null(peertab_adopt(STDIN_FILENO));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_untouched_until_used),
		cmocka_unit_test(test_per_ip),
		cmocka_unit_test(test_services_apart),
		cmocka_unit_test(test_rate),
		cmocka_unit_test(test_rate_counts_refused),
		cmocka_unit_test(test_bucket_kept),
		cmocka_unit_test(test_full_and_eviction),
		cmocka_unit_test(test_reclaim),
		cmocka_unit_test(test_records_exhausted),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_death_holding_lock),
		cmocka_unit_test(test_killed_anywhere),
		cmocka_unit_test(test_processes_at_once),
		cmocka_unit_test(test_adopt),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
