/*
 * test_status_format.c - `sockd status` as text and as JSON, byte for
 * byte: one service, several with a removed one and one in backoff, the
 * SERVICE filter (found and not), -w rows, no service at all, refusals
 * (their column, the line of reasons, a total that saturates), names with
 * quotes, backslashes, newlines and bytes that are not UTF-8, numbers that
 * are not finite, and a buffer ceiling too low for the document.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sample.h"
#include "status_format.h"
#include "util.h"

#define NOW 1767225600.0		/* as in sample.c */

/* A snapshot of one service, "echo", one idle worker; no reload yet. */
static void
one_service(struct snapshot *s)
{
	struct snapshot_service *svc;

	memset(s, 0, sizeof(*s));
	snprintf(s->version, sizeof(s->version), "1.4.0");
	s->pid = 100;
	s->now = NOW;
	s->started = NOW - (12 * 60 + 5);
	s->generation = 1;
	s->n_services = 1;
	s->services = svc = xcalloc(1, sizeof(*svc));
	snprintf(svc->name, sizeof(svc->name), "echo");
	snprintf(svc->model, sizeof(svc->model), "prefork");
	svc->configured = true;
	svc->generation = 1;
	svc->desired = 1;
	svc->workers[SNAPSHOT_IDLE] = 1;
	svc->accepted = 3;
	svc->closed = 3;
	svc->messages = 3;
	svc->bytes_in = 10;
	svc->bytes_out = 12;
	svc->worker_starts = 1;
	svc->rate[0] = 1;
	svc->rate[1] = 0.25;
	svc->duration.bucket[0] = 2;
	svc->duration.bucket[2] = 1;
	svc->duration.count = 3;
	svc->duration.sum_ns = 1150000;
	s->n_workers = 1;
	s->workers = xcalloc(1, sizeof(*s->workers));
	s->workers[0] = (struct snapshot_worker){ .pid = 101, .generation = 1,
	    .state = SNAPSHOT_IDLE, .served = 3, .messages = 3, .started = NOW - 725,
	    .heartbeat_age = 0.5 };
}

static struct strbuf out;

static const char *
text(const struct snapshot *s, bool workers, const char *service, int want)
{
	const struct status_opts o = { .workers = workers, .service = service };

	strbuf_free(&out);
	assert_int_equal(status_format_text(&out, s, &o), want);
	assert_false(out.overflow);
	return out.p != NULL ? out.p : "";
}

static const char *
json(const struct snapshot *s, bool workers, const char *service)
{
	const struct status_opts o = { .workers = workers, .service = service };

	strbuf_free(&out);
	status_format_json(&out, s, &o);
	assert_false(out.overflow);
	return out.p;
}

static void
test_text_one(void **state)
{
	struct snapshot s;

	(void)state;
	one_service(&s);
	assert_string_equal(text(&s, true, NULL, 0),
	    "sockd 1.4.0 (pid 100), up 12m 5s, generation 1\n"
	    "reloads: none\n"
	    "\n"
	    "SERVICE  MODEL    WORKERS             CONNS  ACCEPTED  REQ/S 1/10/60\n"
	    "echo     prefork  1 (0 busy, 1 idle)      0         3    1.0/0.2/0.0\n"
	    "\n"
	    "SERVICE  GEN  LIMITED  REFUSED  STARTS  CRASHES  BACKOFF\n"
	    "echo       1        0        0       1        0  -\n"
	    "\n"
	    "SERVICE  PID  GEN  STATE  CONNS  SERVED     STARTED  HEARTBEAT\n"
	    "echo     101    1  idle       0       3  12m 5s ago   0.5s ago\n");
	/* Without -w no worker table; in backoff with no worker left. */
	s.services[0].workers[SNAPSHOT_IDLE] = 0;
	s.services[0].backoff = true;
	s.services[0].backoff_failures = 1;
	s.services[0].backoff_seconds = 4.29;
	s.now += 3 * 3600 + 7 * 60;
	assert_string_equal(text(&s, false, NULL, 0),
	    "sockd 1.4.0 (pid 100), up 3h 19m, generation 1\n"
	    "reloads: none\n"
	    "\n"
	    "SERVICE  MODEL    WORKERS  CONNS  ACCEPTED  REQ/S 1/10/60\n"
	    "echo     prefork  0 of 1       0         3    1.0/0.2/0.0\n"
	    "\n"
	    "SERVICE  GEN  LIMITED  REFUSED  STARTS  CRASHES  BACKOFF\n"
	    "echo       1        0        0       1        0  1 failed start, 4.2s\n");
	snapshot_free(&s);
}

static void
test_text_sample(void **state)
{
	struct snapshot s;

	(void)state;
	sample_snapshot(&s);
	assert_string_equal(text(&s, true, NULL, 0),
	    "sockd 1.4.0 (pid 4242), up 3d 4h, generation 3\n"
	    "reloads: 2 ok, 1 failed; last 12m 5s ago, failed: /etc/sockd.conf:12: unknown model \"forks\"\n"
	    "\n"
	    "SERVICE        MODEL    WORKERS                  CONNS  ACCEPTED  REQ/S 1/10/60\n"
	    "echo           prefork  4 (1 busy, 3 idle)          12     10234    340/301/280\n"
	    "web            event    1 of 2 (0 busy, 1 idle)      0        77    0.5/1.2/0.1\n"
	    "old (removed)  fork     1 (1 draining)               1         5    0.0/0.0/0.0\n"
	    "\n"
	    "SERVICE        GEN  LIMITED  REFUSED  STARTS  CRASHES  BACKOFF\n"
	    "echo             3        0       42       4        0  -\n"
	    "web              2        3       16       9        7  3 failed starts, 4.2s\n"
	    "old (removed)    1        0        0       1        0  -\n"
	    "\n"
	    "echo refused: 40 rate, 2 full\n"
	    "web refused: 12 rule, 3 per_ip, 1 proxy\n"
	    "\n"
	    "SERVICE         PID  GEN  STATE     CONNS  SERVED    STARTED  HEARTBEAT\n"
	    "echo           5001    3  busy         12    2500  1h 0m ago   0.2s ago\n"
	    "echo           5002    3  idle          0    2501  2h 0m ago   0.2s ago\n"
	    "echo           5003    3  idle          0    2502  3h 0m ago   0.2s ago\n"
	    "echo           5004    3  idle          0    2503  4h 0m ago   0.2s ago\n"
	    "web            6001    2  idle          0      77    42s ago   1.5s ago\n"
	    "old (removed)  3999    1  draining      1       4  2d 0h ago    12s ago\n");
	snapshot_free(&s);
}

/* The header stays; only the one service's rows and workers. */
static void
test_text_filter(void **state)
{
	struct snapshot s;

	(void)state;
	sample_snapshot(&s);
	assert_string_equal(text(&s, true, "web", 0),
	    "sockd 1.4.0 (pid 4242), up 3d 4h, generation 3\n"
	    "reloads: 2 ok, 1 failed; last 12m 5s ago, failed: /etc/sockd.conf:12: unknown model \"forks\"\n"
	    "\n"
	    "SERVICE  MODEL  WORKERS                  CONNS  ACCEPTED  REQ/S 1/10/60\n"
	    "web      event  1 of 2 (0 busy, 1 idle)      0        77    0.5/1.2/0.1\n"
	    "\n"
	    "SERVICE  GEN  LIMITED  REFUSED  STARTS  CRASHES  BACKOFF\n"
	    "web        2        3       16       9        7  3 failed starts, 4.2s\n"
	    "\n"
	    "web refused: 12 rule, 3 per_ip, 1 proxy\n"
	    "\n"
	    "SERVICE   PID  GEN  STATE  CONNS  SERVED  STARTED  HEARTBEAT\n"
	    "web      6001    2  idle       0      77  42s ago   1.5s ago\n");
	strbuf_free(&out);
	assert_int_equal(status_format_text(&out, &s, &(struct status_opts){ .service = "ech" }), -1);
	assert_int_equal(out.len, 0);
	assert_true(status_format_find(&s, "old"));
	assert_false(status_format_find(&s, "web "));
	snapshot_free(&s);
}

static void
test_text_zero(void **state)
{
	struct snapshot s;

	(void)state;
	one_service(&s);
	s.n_services = 0;
	s.n_workers = 0;
	assert_string_equal(text(&s, true, NULL, 0),
	    "sockd 1.4.0 (pid 100), up 12m 5s, generation 1\n"
	    "reloads: none\n"
	    "\n"
	    "no service\n");
	assert_int_equal(status_format_text(&out, &s, &(struct status_opts){ .service = "echo" }), -1);
	snapshot_free(&s);
}

/* Reloads: none, one ok, one failed without a message; a worker of a
 * service with no worker table row filtered out says "no worker". */
static void
test_text_reloads(void **state)
{
	struct snapshot s;

	(void)state;
	one_service(&s);
	s.reloads = s.reloads_ok = 1;
	s.last_reload = NOW - 4.25;
	s.last_reload_ok = true;
	s.n_workers = 0;
	assert_string_equal(text(&s, true, NULL, 0),
	    "sockd 1.4.0 (pid 100), up 12m 5s, generation 1\n"
	    "reloads: 1 ok, 0 failed; last 4.2s ago, ok\n"
	    "\n"
	    "SERVICE  MODEL    WORKERS             CONNS  ACCEPTED  REQ/S 1/10/60\n"
	    "echo     prefork  1 (0 busy, 1 idle)      0         3    1.0/0.2/0.0\n"
	    "\n"
	    "SERVICE  GEN  LIMITED  REFUSED  STARTS  CRASHES  BACKOFF\n"
	    "echo       1        0        0       1        0  -\n"
	    "\n"
	    "no worker\n");
	s.reloads = 2;
	s.reloads_failed = 1;
	s.last_reload_ok = false;
	s.last_reload = NOW - 86400 * 9 - 3600 * 23 - 59;
	assert_non_null(strstr(text(&s, false, NULL, 0),
	    "\nreloads: 1 ok, 1 failed; last 9d 23h ago, failed\n\n"));
	snapshot_free(&s);
}

/* The upgrades line, once one was tried: done (from which version), then
 * refused (why); and in JSON. */
static void
test_upgrades(void **state)
{
	struct snapshot s;
	const char *j;

	(void)state;
	one_service(&s);
	s.upgrades_ok = 1;
	s.last_upgrade = NOW - 125;
	s.last_upgrade_ok = true;
	snprintf(s.upgraded_from, sizeof(s.upgraded_from), "1.3.9");
	assert_non_null(strstr(text(&s, false, NULL, 0),
	    "\nupgrades: 1 ok, 0 failed; last 2m 5s ago, from 1.3.9\nreloads: none\n"));
	j = json(&s, false, NULL);
	assert_non_null(strstr(j, "  \"upgrades\": {\n    \"ok\": 1,\n    \"failed\": 0,\n"));
	assert_non_null(strstr(j, "    \"last_ok\": true,\n    \"from\": \"1.3.9\",\n"
	    "    \"last_error\": null\n"));
	s.upgrades_failed = 1;
	s.last_upgrade_ok = false;
	snprintf(s.last_upgrade_error, sizeof(s.last_upgrade_error), "bad\001binary");
	assert_non_null(strstr(text(&s, false, NULL, 0),
	    "\nupgrades: 1 ok, 1 failed; last 2m 5s ago, failed: bad?binary\n"));
	j = json(&s, false, NULL);
	assert_non_null(strstr(j, "    \"from\": null,\n    \"last_error\": \"bad\\u0001binary\"\n"));
	snapshot_free(&s);
}

/* A name cannot move the cursor: control characters and stray bytes are
 * '?', the columns still line up (UTF-8 counted as one column). */
static void
test_text_escape(void **state)
{
	struct snapshot s;

	(void)state;
	one_service(&s);
	snprintf(s.services[0].name, sizeof(s.services[0].name), "a\"b\\c\nd\xff\xc3\xa9");
	s.services[0].rate[0] = NAN;
	s.services[0].rate[1] = -INFINITY;
	s.services[0].rate[2] = 1e300;
	s.services[0].refused[SNAPSHOT_REFUSED_PER_IP] = 1;
	s.started = NAN;
	assert_string_equal(text(&s, false, NULL, 0),
	    "sockd 1.4.0 (pid 100), up 0.0s, generation 1\n"
	    "reloads: none\n"
	    "\n"
	    "SERVICE    MODEL    WORKERS             CONNS  ACCEPTED             REQ/S 1/10/60\n"
	    "a\"b\\c?d?\xc3\xa9  prefork  1 (0 busy, 1 idle)      0         3  0.0/0.0/1000000000000000\n"
	    "\n"
	    "SERVICE    GEN  LIMITED  REFUSED  STARTS  CRASHES  BACKOFF\n"
	    "a\"b\\c?d?\xc3\xa9    1        0        1       1        0  -\n"
	    "\n"
	    "a\"b\\c?d?\xc3\xa9 refused: 1 per_ip\n");
	snapshot_free(&s);
}

/*
 * REFUSED and "total" saturate rather than wrap past UINT64_MAX; the line
 * and the JSON keep each reason's own count, and only a removed service's
 * label says "(removed)".
 */
static void
test_refused_saturate(void **state)
{
	struct snapshot s;

	(void)state;
	one_service(&s);
	s.services[0].refused[SNAPSHOT_REFUSED_RULE] = UINT64_MAX;
	s.services[0].refused[SNAPSHOT_REFUSED_PROXY] = 5;
	s.services[0].configured = false;
	assert_non_null(strstr(text(&s, false, NULL, 0),
	    "\n"
	    "SERVICE         GEN  LIMITED               REFUSED  STARTS  CRASHES  BACKOFF\n"
	    "echo (removed)    1        0  18446744073709551615       1        0  -\n"
	    "\n"
	    "echo (removed) refused: 18446744073709551615 rule, 5 proxy\n"));
	assert_non_null(strstr(json(&s, false, NULL),
	    "      \"refused\": {\n"
	    "        \"rule\": 18446744073709551615,\n"
	    "        \"per_ip\": 0,\n"
	    "        \"rate\": 0,\n"
	    "        \"full\": 0,\n"
	    "        \"proxy\": 5,\n"
	    "        \"truncated\": 0,\n"
	    "        \"reply\": 0,\n"
	    "        \"no_peer\": 0,\n"
	    "        \"send\": 0,\n"
	    "        \"total\": 18446744073709551615\n"
	    "      },\n"));
	/* One short of the ceiling adds up exactly. */
	s.services[0].refused[SNAPSHOT_REFUSED_RULE] = UINT64_MAX - 6;
	assert_non_null(strstr(json(&s, false, NULL),
	    "        \"total\": 18446744073709551614\n"));
	snapshot_free(&s);
}

static void
test_json_one(void **state)
{
	struct snapshot s;

	(void)state;
	one_service(&s);
	assert_string_equal(json(&s, true, NULL),
	    "{\n"
	    "  \"schema\": 1,\n"
	    "  \"version\": \"1.4.0\",\n"
	    "  \"pid\": 100,\n"
	    "  \"now\": 1767225600.000,\n"
	    "  \"started\": 1767224875.000,\n"
	    "  \"uptime\": 725.000,\n"
	    "  \"generation\": 1,\n"
	    "  \"reloads\": {\n"
	    "    \"attempted\": 0,\n"
	    "    \"ok\": 0,\n"
	    "    \"failed\": 0,\n"
	    "    \"last\": null,\n"
	    "    \"last_ok\": null,\n"
	    "    \"last_error\": null\n"
	    "  },\n"
	    "  \"upgrades\": {\n"
	    "    \"ok\": 0,\n"
	    "    \"failed\": 0,\n"
	    "    \"last\": null,\n"
	    "    \"last_ok\": null,\n"
	    "    \"from\": null,\n"
	    "    \"last_error\": null\n"
	    "  },\n"
	    "  \"services\": [\n"
	    "    {\n"
	    "      \"name\": \"echo\",\n"
	    "      \"model\": \"prefork\",\n"
	    "      \"configured\": true,\n"
	    "      \"generation\": 1,\n"
	    "      \"workers\": {\n"
	    "        \"desired\": 1,\n"
	    "        \"starting\": 0,\n"
	    "        \"idle\": 1,\n"
	    "        \"busy\": 0,\n"
	    "        \"draining\": 0\n"
	    "      },\n"
	    "      \"connections\": {\n"
	    "        \"active\": 0,\n"
	    "        \"accepted\": 3,\n"
	    "        \"closed\": 3\n"
	    "      },\n"
	    "      \"messages\": 3,\n"
	    "      \"rate\": {\n"
	    "        \"1s\": 1.000,\n"
	    "        \"10s\": 0.250,\n"
	    "        \"60s\": 0.000\n"
	    "      },\n"
	    "      \"bytes\": {\n"
	    "        \"in\": 10,\n"
	    "        \"out\": 12\n"
	    "      },\n"
	    "      \"limited\": {\n"
	    "        \"max_connections\": 0\n"
	    "      },\n"
	    "      \"refused\": {\n"
	    "        \"rule\": 0,\n"
	    "        \"per_ip\": 0,\n"
	    "        \"rate\": 0,\n"
	    "        \"full\": 0,\n"
	    "        \"proxy\": 0,\n"
	    "        \"truncated\": 0,\n"
	    "        \"reply\": 0,\n"
	    "        \"no_peer\": 0,\n"
	    "        \"send\": 0,\n"
	    "        \"total\": 0\n"
	    "      },\n"
	    "      \"worker_starts\": 1,\n"
	    "      \"crashes\": {\n"
	    "        \"total\": 0,\n"
	    "        \"by_status\": {},\n"
	    "        \"by_signal\": {}\n"
	    "      },\n"
	    "      \"hung_kills\": 0,\n"
	    "      \"recycles\": 0,\n"
	    "      \"backoff\": {\n"
	    "        \"active\": false,\n"
	    "        \"failures\": 0,\n"
	    "        \"seconds\": 0.000\n"
	    "      },\n"
	    "      \"duration\": {\n"
	    "        \"count\": 3,\n"
	    "        \"sum\": 0.00115,\n"
	    "        \"bounds\": [0.0001, 0.0005, 0.001, 0.005, 0.025, 0.1, 0.5, 1, 5, 30, 300],\n"
	    "        \"buckets\": [2, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]\n"
	    "      },\n"
	    "      \"latency\": null\n"
	    "    }\n"
	    "  ],\n"
	    "  \"workers\": [\n"
	    "    {\n"
	    "      \"pid\": 101,\n"
	    "      \"service\": \"echo\",\n"
	    "      \"generation\": 1,\n"
	    "      \"state\": \"idle\",\n"
	    "      \"connections\": 0,\n"
	    "      \"served\": 3,\n"
	    "      \"messages\": 3,\n"
	    "      \"started\": 1767224875.000,\n"
	    "      \"heartbeat_age\": 0.500\n"
	    "    }\n"
	    "  ]\n"
	    "}\n");
	snapshot_free(&s);
}

static void
test_json_zero(void **state)
{
	struct snapshot s;

	(void)state;
	one_service(&s);
	s.n_services = 0;
	s.n_workers = 0;
	assert_string_equal(json(&s, true, NULL),
	    "{\n"
	    "  \"schema\": 1,\n"
	    "  \"version\": \"1.4.0\",\n"
	    "  \"pid\": 100,\n"
	    "  \"now\": 1767225600.000,\n"
	    "  \"started\": 1767224875.000,\n"
	    "  \"uptime\": 725.000,\n"
	    "  \"generation\": 1,\n"
	    "  \"reloads\": {\n"
	    "    \"attempted\": 0,\n"
	    "    \"ok\": 0,\n"
	    "    \"failed\": 0,\n"
	    "    \"last\": null,\n"
	    "    \"last_ok\": null,\n"
	    "    \"last_error\": null\n"
	    "  },\n"
	    "  \"upgrades\": {\n"
	    "    \"ok\": 0,\n"
	    "    \"failed\": 0,\n"
	    "    \"last\": null,\n"
	    "    \"last_ok\": null,\n"
	    "    \"from\": null,\n"
	    "    \"last_error\": null\n"
	    "  },\n"
	    "  \"services\": [],\n"
	    "  \"workers\": []\n"
	    "}\n");
	/* Without -w there is no "workers" at all. */
	assert_null(strstr(json(&s, false, NULL), "workers"));
	snapshot_free(&s);
}

/* The parts of the sample one service lacks: a failed reload, exits by
 * status and signal, the http latency, a removed service, the filter. */
static void
test_json_sample(void **state)
{
	struct snapshot s;
	const char *j;

	(void)state;
	sample_snapshot(&s);
	j = json(&s, true, NULL);
	assert_non_null(strstr(j,
	    "    \"last\": 1767224875.000,\n"
	    "    \"last_ok\": false,\n"
	    "    \"last_error\": \"/etc/sockd.conf:12: unknown model \\\"forks\\\"\"\n"
	    "  },\n"));
	/* Every reason, 0 or not, then the total; after "limited" (web). */
	assert_non_null(strstr(j,
	    "      \"limited\": {\n"
	    "        \"max_connections\": 3\n"
	    "      },\n"
	    "      \"refused\": {\n"
	    "        \"rule\": 12,\n"
	    "        \"per_ip\": 3,\n"
	    "        \"rate\": 0,\n"
	    "        \"full\": 0,\n"
	    "        \"proxy\": 1,\n"
	    "        \"truncated\": 0,\n"
	    "        \"reply\": 0,\n"
	    "        \"no_peer\": 0,\n"
	    "        \"send\": 0,\n"
	    "        \"total\": 16\n"
	    "      },\n"
	    "      \"worker_starts\": 9,\n"));
	assert_non_null(strstr(j,
	    "      \"refused\": {\n"
	    "        \"rule\": 0,\n"
	    "        \"per_ip\": 0,\n"
	    "        \"rate\": 40,\n"
	    "        \"full\": 2,\n"
	    "        \"proxy\": 0,\n"
	    "        \"truncated\": 0,\n"
	    "        \"reply\": 0,\n"
	    "        \"no_peer\": 0,\n"
	    "        \"send\": 0,\n"
	    "        \"total\": 42\n"
	    "      },\n"
	    "      \"worker_starts\": 4,\n"));
	assert_non_null(strstr(j,
	    "      \"crashes\": {\n"
	    "        \"total\": 7,\n"
	    "        \"by_status\": {\n"
	    "          \"1\": 2,\n"
	    "          \"70\": 1\n"
	    "        },\n"
	    "        \"by_signal\": {\n"
	    "          \"SIGKILL\": 1,\n"
	    "          \"SIGSEGV\": 3\n"
	    "        }\n"
	    "      },\n"
	    "      \"hung_kills\": 1,\n"
	    "      \"recycles\": 5,\n"
	    "      \"backoff\": {\n"
	    "        \"active\": true,\n"
	    "        \"failures\": 3,\n"
	    "        \"seconds\": 4.250\n"
	    "      },\n"));
	assert_non_null(strstr(j,
	    "      \"latency\": {\n"
	    "        \"count\": 80,\n"
	    "        \"sum\": 0.025,\n"
	    "        \"bounds\": [0.0001, 0.0005, 0.001, 0.005, 0.025, 0.1, 0.5, 1, 5, 30, 300],\n"
	    "        \"buckets\": [0, 60, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0]\n"
	    "      }\n"
	    "    },\n"));
	assert_non_null(strstr(j, "      \"name\": \"old\",\n"
	    "      \"model\": \"fork\",\n"
	    "      \"configured\": false,\n"));
	/* "latency" is null for the two services that are not http. */
	assert_non_null(strstr(strstr(j, "\"latency\": null"), "\"latency\": {"));
	assert_non_null(strstr(strstr(j, "\"latency\": {"), "\"latency\": null"));

	j = json(&s, true, "old");
	assert_null(strstr(j, "\"echo\""));
	assert_null(strstr(j, "\"web\""));
	assert_non_null(strstr(j, "  \"services\": [\n    {\n      \"name\": \"old\",\n"));
	assert_non_null(strstr(j, "  \"workers\": [\n    {\n      \"pid\": 3999,\n"));
	assert_non_null(strstr(j, "\"state\": \"draining\""));
	j = json(&s, true, "nothere");
	assert_non_null(strstr(j, "  \"services\": [],\n  \"workers\": []\n}\n"));
	snapshot_free(&s);
}

static void
test_json_escape(void **state)
{
	struct snapshot s;
	const char *j;

	(void)state;
	one_service(&s);
	snprintf(s.services[0].name, sizeof(s.services[0].name),
	    "a\"b\\c\nd\x01\x7f\xff\xc3\xa9\xed\xa0\x80");
	s.services[0].rate[0] = NAN;
	s.services[0].rate[1] = INFINITY;
	s.services[0].backoff_seconds = -INFINITY;
	j = json(&s, true, NULL);
	assert_non_null(strstr(j,
	    "      \"name\": \"a\\\"b\\\\c\\nd\\u0001\\u007f\\ufffd\xc3\xa9\\ufffd\\ufffd\\ufffd\",\n"));
	assert_non_null(strstr(j,
	    "        \"1s\": 0.000,\n        \"10s\": 0.000,\n"));
	assert_non_null(strstr(j, "        \"seconds\": 0.000\n"));
	assert_non_null(strstr(j,
	    "      \"service\": \"a\\\"b\\\\c\\nd\\u0001\\u007f\\ufffd\xc3\xa9\\ufffd\\ufffd\\ufffd\",\n"));
	assert_null(strstr(j, "nan"));
	assert_null(strstr(j, "inf"));
	snapshot_free(&s);
}

/*
 * Past the ceiling the writers stop, set overflow and stay within it; a
 * ceiling of exactly the document's length is enough.
 */
static void
overflow_at(const struct snapshot *s, bool text)
{
	const struct status_opts o = { .workers = true };
	struct strbuf full = { 0 };
	size_t len;

	if (text)
		assert_int_equal(status_format_text(&full, s, &o), 0);
	else
		status_format_json(&full, s, &o);
	assert_false(full.overflow);
	len = full.len;
	for (size_t max = 1; max <= len; max += max < 64 ? 1 : 61) {
		struct strbuf b = { .max = max };

		if (text)
			assert_int_equal(status_format_text(&b, s, &o), 0);
		else
			status_format_json(&b, s, &o);
		assert_true(b.overflow);
		assert_true(b.len <= max);
		assert_true(b.len == 0 || memcmp(b.p, full.p, b.len) == 0);
		strbuf_free(&b);
		if (max + 61 > len && max < len - 1)
			max = len - 1 - 61;	/* and the last byte short */
	}
	{
		struct strbuf b = { .max = len };

		if (text)
			assert_int_equal(status_format_text(&b, s, &o), 0);
		else
			status_format_json(&b, s, &o);
		assert_false(b.overflow);
		assert_string_equal(b.p, full.p);
		strbuf_free(&b);
	}
	strbuf_free(&full);
}

static void
test_overflow(void **state)
{
	struct snapshot s;

	(void)state;
	sample_snapshot(&s);
	overflow_at(&s, true);
	overflow_at(&s, false);
	snapshot_free(&s);
}

static int
teardown(void **state)
{
	(void)state;
	strbuf_free(&out);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_text_one, teardown),
		cmocka_unit_test_teardown(test_text_sample, teardown),
		cmocka_unit_test_teardown(test_text_filter, teardown),
		cmocka_unit_test_teardown(test_text_zero, teardown),
		cmocka_unit_test_teardown(test_text_reloads, teardown),
		cmocka_unit_test_teardown(test_upgrades, teardown),
		cmocka_unit_test_teardown(test_text_escape, teardown),
		cmocka_unit_test_teardown(test_refused_saturate, teardown),
		cmocka_unit_test_teardown(test_json_one, teardown),
		cmocka_unit_test_teardown(test_json_zero, teardown),
		cmocka_unit_test_teardown(test_json_sample, teardown),
		cmocka_unit_test_teardown(test_json_escape, teardown),
		cmocka_unit_test_teardown(test_overflow, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
