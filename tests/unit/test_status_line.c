/*
 * test_status_line.c - the STATUS= line, word for word: singular and
 * plural, a service in backoff or without a worker named, the note of a
 * failed reload in front, many services summed up within STATUS_LINE_MAX
 * (names cut with "..." rather than the line growing), control characters
 * kept out, and buffers too small for anything.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "status_line.h"

static char out[STATUS_LINE_MAX];

static const char *
line(const char *note, const struct status_line_service *svc, size_t n)
{
	size_t len = status_line_format(out, sizeof(out), note, svc, n);

	assert_int_equal(len, strlen(out));
	assert_true(len < STATUS_LINE_MAX);
	return out;
}

static void
test_one_and_many(void **state)
{
	struct status_line_service one = { .name = "web", .busy = 1, .conns = 1, .rate = 1 };
	struct status_line_service two = { .name = "web", .idle = 2, .rate = 12.4 };

	(void)state;
	assert_string_equal(line("", &one, 1), "web: 1 worker (1 busy, 0 idle), 1 conn, 1 req/s");
	assert_string_equal(line(NULL, &two, 1), "web: 2 workers (0 busy, 2 idle), 0 conns, 12 req/s");
	two.conns = 3;
	assert_string_equal(line(NULL, &two, 1), "web: 2 workers (0 busy, 2 idle), 3 conns, 12 req/s");
}

static void
test_backoff(void **state)
{
	struct status_line_service s = { .name = "web", .idle = 1, .failures = 1 };

	(void)state;
	assert_string_equal(line("", &s, 1),
	    "web: 1 worker (0 busy, 1 idle), 0 conns, 0 req/s, backoff after 1 failed start");
	s.failures = 3;
	assert_string_equal(line("", &s, 1),
	    "web: 1 worker (0 busy, 1 idle), 0 conns, 0 req/s, backoff after 3 failed starts");
	s.idle = 0;
	assert_string_equal(line("", &s, 1), "web: no worker (backoff after 3 failed starts)");
	s.failures = 1;
	assert_string_equal(line("", &s, 1), "web: no worker (backoff after 1 failed start)");
}

static void
test_no_worker(void **state)
{
	struct status_line_service s = { .name = "web", .rate = 3 };

	(void)state;
	assert_string_equal(line("", &s, 1), "web: no worker");
	s.ondemand = true;
	assert_string_equal(line("", &s, 1), "web: no worker (on demand)");
	s.idle = 1;
	assert_string_equal(line("", &s, 1), "web: 1 worker (0 busy, 1 idle), 0 conns, 3 req/s");
}

static void
test_services_and_note(void **state)
{
	struct status_line_service s[] = {
		{ .name = "echo", .busy = 1, .idle = 3, .conns = 12, .rate = 340 },
		{ .name = "web", .failures = 2 },
	};

	(void)state;
	assert_string_equal(line("", s, 2),
	    "echo: 4 workers (1 busy, 3 idle), 12 conns, 340 req/s; "
	    "web: no worker (backoff after 2 failed starts)");
	assert_string_equal(line("reload failed: sockd.conf:3: bad", s, 1),
	    "reload failed: sockd.conf:3: bad; echo: 4 workers (1 busy, 3 idle), 12 conns, 340 req/s");
	assert_string_equal(line("", s, 0), "no service");
}

static void
test_summary(void **state)
{
	struct status_line_service s[12];
	char names[12][8];

	(void)state;
	for (int i = 0; i < 12; i++) {
		snprintf(names[i], sizeof(names[i]), "svc%02d", i);
		s[i] = (struct status_line_service){ .name = names[i], .busy = 1, .idle = 1,
			.conns = 2, .rate = 5 };
	}
	s[3] = (struct status_line_service){ .name = names[3], .failures = 2 };
	s[7].failures = 1;
	s[9] = (struct status_line_service){ .name = names[9] };
	s[10] = (struct status_line_service){ .name = names[10], .ondemand = true };
	assert_string_equal(line("", s, 12),
	    "12 services: 18 workers (9 busy, 9 idle), 18 conns, 45 req/s; "
	    "2 in backoff: svc03, svc07; 1 with no worker: svc09");
	assert_string_equal(line("reload failed: why", s, 12),
	    "reload failed: why; 12 services: 18 workers (9 busy, 9 idle), 18 conns, 45 req/s; "
	    "2 in backoff: svc03, svc07; 1 with no worker: svc09");
}

/* Forty services in backoff with long names: the first few, then "...". */
static void
test_summary_cut(void **state)
{
	struct status_line_service s[40];
	char names[40][32];

	(void)state;
	for (int i = 0; i < 40; i++) {
		snprintf(names[i], sizeof(names[i]), "service-with-a-long-name-%02d", i);
		s[i] = (struct status_line_service){ .name = names[i], .failures = 1 };
	}
	assert_string_equal(line("", s, 40),
	    "40 services: 0 workers (0 busy, 0 idle), 0 conns, 0 req/s; 40 in backoff: "
	    "service-with-a-long-name-00, service-with-a-long-name-01, "
	    "service-with-a-long-name-02, service-with-a-long-name-03, "
	    "service-with-a-long-name-04, service-with-a-long-name-05, ...");
}

/* A note too long for anything after it: cut, and marked so. */
static void
test_cut_note(void **state)
{
	struct status_line_service s = { .name = "web", .idle = 1 };
	char note[400];

	(void)state;
	memset(note, 'x', sizeof(note) - 1);
	note[sizeof(note) - 1] = '\0';
	line(note, &s, 1);
	assert_int_equal(strlen(out), STATUS_LINE_MAX - 1);
	assert_memory_equal(out, note, STATUS_LINE_MAX - 4);
	assert_string_equal(out + STATUS_LINE_MAX - 4, "...");
}

static void
test_control_characters(void **state)
{
	struct status_line_service s = { .name = "a\nb", .idle = 1 };

	(void)state;
	assert_string_equal(line("reload failed: x\nREADY=1", &s, 1),
	    "reload failed: x?READY=1; a?b: 1 worker (0 busy, 1 idle), 0 conns, 0 req/s");
}

static void
test_small_buffers(void **state)
{
	struct status_line_service s = { .name = "web", .idle = 1 };
	char buf[12];

	(void)state;
	assert_int_equal(status_line_format(buf, 0, "", &s, 1), 0);
	assert_int_equal(status_line_format(buf, 1, "", &s, 1), 0);
	assert_string_equal(buf, "");
	assert_int_equal(status_line_format(buf, 3, "", &s, 1), 2);
	assert_string_equal(buf, "1 ");
	assert_int_equal(status_line_format(buf, sizeof(buf), "", &s, 1), 11);
	assert_string_equal(buf, "1 servic...");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_and_many),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_no_worker),
		cmocka_unit_test(test_services_and_note),
		cmocka_unit_test(test_summary),
		cmocka_unit_test(test_summary_cut),
		cmocka_unit_test(test_cut_note),
		cmocka_unit_test(test_control_characters),
		cmocka_unit_test(test_small_buffers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
