/*
 * test_upgrade.c - the binary upgrade's handover, as text: every field
 * there and back again, paths with spaces, and each way a handover can
 * be broken (cut short, unknown lines, a foreign format, descriptors
 * that cannot be ours, a NUL) refused with a reason rather than half
 * taken; and what cannot be written (a line feed in a path) refused too.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "upgrade.h"

static struct upgrade_state
sample(void)
{
	static struct upgrade_listener l[] = {
		{ .fd = 7, .activated = true, .name = "echo", .addr = "127.0.0.1:7007" },
		{ .fd = 8, .remove_file = true, .addr = "unix:/run/sockd/a b.sock" },
	};
	static struct upgrade_kid k[] = {
		{ .pid = 4242, .generation = 3, .slot = 17, .stopping = true,
		  .kill_at_ns = INT64_C(123456789012345), .started_ns = 99, .graceful_ms = 30000,
		  .log_ctl = 12, .log_path = "/var/log/sockd/access log" },
		{ .pid = 4243, .generation = 4, .slot = 0, .kill_at_ns = 0, .started_ns = 1,
		  .graceful_ms = 0, .log_ctl = -1 },
	};
	struct upgrade_state s = { .version = "1.2.3", .layout = "1/2/3/4/5", .generation = 4,
		.sb_fd = 3, .st_fd = 4, .pt_fd = 5, .wake_fd = 6, .ctl_fd = 9, .ctl_gid = 100,
		.ctl_path = "/run/sockd/control", .l = l, .n_l = 2, .k = k, .n_k = 2 };

	return s;
}

static void
test_round_trip(void **state)
{
	struct upgrade_state in = sample(), out;
	struct strbuf b = { 0 };
	char why[160];

	(void)state;
	assert_int_equal(upgrade_format(&in, &b), 0);
	assert_int_equal(upgrade_parse(b.p, b.len, &out, why, sizeof(why)), 0);
	assert_string_equal(out.version, "1.2.3");
	assert_string_equal(out.layout, "1/2/3/4/5");
	assert_int_equal(out.generation, 4);
	assert_int_equal(out.sb_fd, 3);
	assert_int_equal(out.st_fd, 4);
	assert_int_equal(out.pt_fd, 5);
	assert_int_equal(out.wake_fd, 6);
	assert_int_equal(out.ctl_fd, 9);
	assert_int_equal(out.ctl_gid, 100);
	assert_string_equal(out.ctl_path, "/run/sockd/control");
	assert_int_equal(out.n_l, 2);
	assert_int_equal(out.l[0].fd, 7);
	assert_true(out.l[0].activated);
	assert_false(out.l[0].remove_file);
	assert_string_equal(out.l[0].name, "echo");
	assert_string_equal(out.l[0].addr, "127.0.0.1:7007");
	assert_null(out.l[1].name);
	assert_true(out.l[1].remove_file);
	assert_string_equal(out.l[1].addr, "unix:/run/sockd/a b.sock");
	assert_int_equal(out.n_k, 2);
	assert_int_equal(out.k[0].pid, 4242);
	assert_int_equal(out.k[0].generation, 3);
	assert_int_equal(out.k[0].slot, 17);
	assert_true(out.k[0].stopping);
	assert_true(out.k[0].kill_at_ns == INT64_C(123456789012345));
	assert_int_equal(out.k[0].started_ns, 99);
	assert_int_equal(out.k[0].graceful_ms, 30000);
	assert_int_equal(out.k[0].log_ctl, 12);
	assert_string_equal(out.k[0].log_path, "/var/log/sockd/access log");
	assert_false(out.k[1].stopping);
	assert_int_equal(out.k[1].log_ctl, -1);
	assert_null(out.k[1].log_path);
	upgrade_free(&out);
	strbuf_free(&b);
}

/* No control socket, no listener, no worker: still a handover. */
static void
test_minimal(void **state)
{
	const char *t = "sockd-upgrade 1\nversion 1\nlayout x\ngeneration 1\nshm 3 4 5\n"
	    "wake 6\ncontrol -1\nend\n";
	struct upgrade_state out;
	char why[160];

	(void)state;
	assert_int_equal(upgrade_parse(t, strlen(t), &out, why, sizeof(why)), 0);
	assert_int_equal(out.ctl_fd, -1);
	assert_null(out.ctl_path);
	assert_int_equal(out.n_l + out.n_k, 0);
	upgrade_free(&out);
}

static void
broken(const char *text, size_t len, const char *why_part)
{
	struct upgrade_state out;
	char why[160] = "";

	assert_int_equal(upgrade_parse(text, len, &out, why, sizeof(why)), -1);
	if (strstr(why, why_part) == NULL)
		fail_msg("\"%s\" does not say \"%s\"", why, why_part);
	upgrade_free(&out);
}

#define BROKEN(text, why) broken(text, strlen(text), why)
#define HEAD "sockd-upgrade 1\nversion 1\nlayout x\ngeneration 2\nshm 3 4 5\nwake 6\n"

static void
test_broken(void **state)
{
	static const char nul[] = HEAD "control -1\0\nend\n";

	(void)state;
	BROKEN("", "cut short");
	BROKEN(HEAD, "cut short");
	BROKEN("sockd-upgrade 2\nend\n", "not a handover this version reads");
	BROKEN("hello\n", "not a handover");
	BROKEN(HEAD "end\nkid 1 1 1 0 0 0 0 -1 -\n", "text after");
	BROKEN(HEAD "frobnicate 1\nend\n", "unreadable line \"frobnicate 1\"");
	BROKEN(HEAD "listener 1 0 0 - 127.0.0.1:1\nend\n", "unreadable");
	BROKEN(HEAD "listener 9 0 0 -\nend\n", "unreadable");
	BROKEN(HEAD "kid 0 1 1 0 0 0 0 -1 -\nend\n", "unreadable");
	BROKEN(HEAD "kid 5 1 1 0 0 0 0 2 -\nend\n", "unreadable");
	BROKEN(HEAD "control 9 -1\nend\n", "unreadable");
	/* A record with more than its fields is not half read (fuzz_upgrade). */
	BROKEN("sockd-upgrade 1\nversion 1*layout x\ngeneration 1\nshm 3 4 5\nwake 6\nend\n",
	    "unreadable line \"version 1*layout x\"");
	BROKEN("sockd-upgrade 1\nversion 1\ngeneration 1\nshm 3 4 5\nwake 6\nend\n",
	    "the generation, the version or the layout");
	BROKEN(HEAD "shm 3 4 5 6\nend\n", "unreadable line \"shm 3 4 5 6\"");
	BROKEN(HEAD "generation 2x\nend\n", "unreadable line \"generation 2x\"");
	broken(nul, sizeof(nul) - 1, "NUL");
	BROKEN("sockd-upgrade 1\nversion 1\nend\n", "lacks the shared memory");
	BROKEN("sockd-upgrade 1\nshm 3 4 5\nwake 6\nend\n", "generation");
}

static void
test_unwritable(void **state)
{
	struct upgrade_state s = sample();
	struct upgrade_listener l = { .fd = 7, .addr = "unix:/tmp/a\nb" };
	struct upgrade_listener named = { .fd = 7, .name = "a b", .addr = "1.2.3.4:5" };
	struct upgrade_kid k = { .pid = 1, .log_ctl = -1, .log_path = "/x\ny" };
	struct strbuf b = { 0 };

	(void)state;
	s.l = &l;
	s.n_l = 1;
	assert_int_equal(upgrade_format(&s, &b), -1);
	s.l = &named;
	assert_int_equal(upgrade_format(&s, &b), -1);
	s.n_l = 0;
	s.k = &k;
	s.n_k = 1;
	assert_int_equal(upgrade_format(&s, &b), -1);
	s.n_k = 0;
	s.ctl_path = "/run/\n";
	assert_int_equal(upgrade_format(&s, &b), -1);
	strbuf_free(&b);
}

/* What `sockd -V` prints and the old image compares: the same in one build. */
static void
test_layout(void **state)
{
	(void)state;
	assert_ptr_equal(upgrade_layout(), upgrade_layout());
	assert_true(strncmp(upgrade_layout(), "1/", 2) == 0);
	assert_null(strchr(upgrade_layout(), ' '));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_minimal),
		cmocka_unit_test(test_broken),
		cmocka_unit_test(test_unwritable),
		cmocka_unit_test(test_layout),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
