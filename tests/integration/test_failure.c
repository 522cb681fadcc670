/*
 * test_failure.c - what sockd does when its children fail: a service whose
 * workers all fail at start stops sockd (no READY=1); after a reload the
 * previous generation serves on; backoff is entered and left with one log
 * line each; workers killed while they hold connections are replaced at
 * once; the fork model's crashing connection processes are backed off and
 * summed up, and its connection count survives children killed by a
 * signal; a worker out of descriptors does not flood the log.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testlib.h"

static char text[8192];

/* Service "echo" on 127.0.0.1 served by the module that fails in init()
 * (while the file WHILE exists, if not NULL), with EXTRA settings. */
static const char *
failing(const char *extra, const char *while_path)
{
	char cfg[600] = "";

	if (while_path != NULL)
		snprintf(cfg, sizeof(cfg), " config = { while = \"%s\"; };", while_path);
	snprintf(text, sizeof(text), "%s%sservices = ( { name = \"echo\"; listen = \"127.0.0.1:0\";"
	    " framing = \"line\"; handler = \"module\"; module = {"
	    " path = \"%s/tests/modules/init_fails.so\";%s }; %s } );\n",
	    geteuid() == 0 ? "user = \"nobody\";\n" : "", "log_level = \"info\";\n",
	    getenv("SOCKD_BUILDDIR"), cfg,
	    extra);
	return text;
}

/* The last STATUS= the daemon sent. */
static const char *
last_status(struct daemon *d)
{
	static char buf[1100];
	const char *p = NULL, *q;
	size_t len;

	daemon_read_notes(d);
	for (q = d->notes; (q = strstr(q, "STATUS=")) != NULL; q++)
		p = q;
	if (p == NULL)
		return "";
	len = strcspn(p, "\n");
	snprintf(buf, sizeof(buf), "%.*s", (int)(len < 1099 ? len : 1099), p);
	return buf;
}

static bool
wait_status(struct daemon *d, const char *needle, int timeout_ms)
{
	for (long long end = now_ms() + timeout_ms; now_ms() < end; usleep(20000)) {
		if (strstr(last_status(d), needle) != NULL)
			return true;
		daemon_read_log(d, now_ms() + 20);
	}
	fprintf(stderr, "status \"%s\" not seen; last: %s\nlog:\n%s\n", needle, last_status(d),
	    d->log);
	return false;
}

/* Every worker fails at start: sockd says so, exits 78, never READY=1. */
static void
test_start_failure_exits(void **state)
{
	struct launch l = { .notify = true };
	struct daemon *d;

	(void)state;
	l.conf = failing("workers = 3;", NULL);
	d = daemon_launch(&l);
	assert_int_equal(daemon_stop(d, 0, T_MS), 78);
	daemon_read_notes(d);
	assert_null(strstr(d->notes, "READY=1"));
	assert_non_null(strstr(d->log, "error: echo: workers fail at start: all 3 ended before"
	    " accepting a connection (the last by status 78); exiting"));
	/* Each of the three is logged; a replacement started after the
	 * first failure (10 ms of backoff) may fail too before the round's
	 * last one does, on a slow machine. */
	assert_true(count(d->log, "exited with status 78") >= 3);
	daemon_free(d);
}

/* A service that cannot serve beside one that can: sockd exits all the
 * same, and says which. */
static void
test_start_failure_beside_fine_service(void **state)
{
	struct launch l = { .notify = true };
	struct daemon *d;

	(void)state;
	l.conf = failing("workers = 2; }, { name = \"fine\"; listen = \"127.0.0.1:0\";"
	    " handler = \"echo\"; workers = 1;", NULL);
	d = daemon_launch(&l);
	assert_int_equal(daemon_stop(d, 0, T_MS), 78);
	daemon_read_notes(d);
	assert_null(strstr(d->notes, "READY=1"));
	assert_non_null(strstr(d->log, "echo: workers fail at start: all 2 ended"));
	assert_null(strstr(d->log, "fine: workers fail"));
	daemon_free(d);
}

/* A reload to workers that fail at start: the master stays, the previous
 * generation serves on, STATUS says so; once the new one can start, it
 * takes over and the old one leaves. */
static void
test_reload_failure_keeps_old(void **state)
{
	struct launch l = { .notify = true };
	char *dir = harness_tmpdir(), flag[512];
	struct daemon *d;
	int port;

	(void)state;
	snprintf(flag, sizeof(flag), "%s/fail", dir);
	free(harness_write(dir, "fail", ""));
	l.conf = config("services = ( { name = \"echo\"; listen = \"127.0.0.1:0\";"
	    " framing = \"line\"; handler = \"echo\"; workers = 2; } );\n");
	d = daemon_launch(&l);
	port = daemon_port(d, "echo", "127.0.0.1");
	assert_true(port > 0);
	assert_true(daemon_wait_note(d, "READY=1", T_MS));
	assert_int_equal(daemon_reload(d, failing("workers = 2;", flag)), 0);
	assert_true(daemon_wait_log(d, "echo: workers of generation 2 fail at start", T_MS));
	assert_true(wait_status(d, "workers fail at start; previous generation serving", T_MS));
	for (int i = 0; i < 5; i++)
		assert_true(answers(port));
	assert_int_equal(kill(d->pid, 0), 0);
	assert_int_equal(unlink(flag), 0);	/* the next probe starts */
	assert_true(daemon_wait_log(d, "generation 2 serves: the previous one leaves", T_MS));
	assert_true(answers(port));
	assert_true(wait_status(d, "echo: 2 workers", T_MS));
	assert_null(strstr(last_status(d), "previous generation"));
	assert_int_equal(daemon_stop(d, SIGTERM, T_MS), 0);
	daemon_free(d);
	harness_rmdir(dir);
}

/* Workers crashing on the first message: backoff entered with one
 * warning, left with one notice once the clients stop and a probe has
 * run for a second. */
static void
test_backoff_logged_once(void **state)
{
	struct daemon *d;
	int port;

	(void)state;
	d = start_with(getenv("SOCKD_TEST"), config("services = ( { name = \"echo\";"
	    " handler = \"crash\"; framing = \"line\"; listen = \"127.0.0.1:0\"; workers = 2; } );\n"),
	    &port);
	for (int i = 0; i < 6; i++) {	/* each accepted by the next probe */
		int fd = tcp_connect("127.0.0.1", port);

		assert_true(fd >= 0);
		assert_int_equal(send_all(fd, "boom\n", 5), 0);
		assert_true(recv_eof(fd, T_MS));
		close(fd);
	}
	assert_true(daemon_wait_log(d, "notice: echo: workers start again: backoff over after", T_MS));
	assert_int_equal(count(d->log, "failed at start: backing off"), 1);
	assert_non_null(strstr(d->log, "warning: echo: worker "));
	assert_int_equal(count(d->log, "backoff over"), 1);
	assert_true(daemon_wait_workers(d, 2, T_MS));
	assert_int_equal(daemon_stop(d, SIGTERM, T_MS), 0);
	daemon_free(d);
}

/* Event workers holding long-lived connections, all killed at once after
 * they have run a while: no backoff, the pool is whole again at once. */
static void
test_killed_busy_workers_replaced(void **state)
{
	pid_t w[8];
	struct daemon *d;
	int port, fds[6];

	(void)state;
	d = start(config("services = ( { name = \"echo\"; handler = \"echo\"; framing = \"line\";"
	    " listen = \"127.0.0.1:0\"; model = \"event\"; workers = 2; } );\n"), &port);
	for (int round = 0; round < 3; round++) {
		assert_true(daemon_wait_workers(d, 2, T_MS));
		for (int i = 0; i < 6; i++) {
			fds[i] = tcp_connect("127.0.0.1", port);
			echo_line(fds[i], "held\n");
		}
		usleep(1200 * 1000);	/* alive for more than a second */
		assert_int_equal(daemon_workers(d, w, 8), 2);
		kill(w[0], SIGKILL);
		kill(w[1], SIGKILL);
		for (int i = 0; i < 6; i++) {
			assert_true(recv_eof(fds[i], T_MS));
			close(fds[i]);
		}
		/* Both replaced at once (main: one probe, the other after 10 s). */
		assert_true(daemon_wait_workers(d, 2, 3000));
		for (int i = 0; i < 4; i++)
			assert_true(answers(port));
	}
	assert_null(strstr(d->log, "backing off"));
	assert_int_equal(daemon_stop(d, SIGTERM, T_MS), 0);
	daemon_free(d);
}

/* Fork model, a handler that crashes on every connection, clients without
 * pause: a few crashes, summed up in one line, not one line each. */
static void
test_fork_crash_backoff(void **state)
{
	struct daemon *d;
	int port, lines, crashes = 1;

	(void)state;
	d = start_with(getenv("SOCKD_TEST"), config("services = ( { name = \"echo\";"
	    " handler = \"crash\"; framing = \"line\"; listen = \"127.0.0.1:0\";"
	    " model = \"fork\"; workers = 1; max_children = 8; } );\n"), &port);
	for (long long end = now_ms() + 3000; now_ms() < end;) {
		int fd = tcp_connect("127.0.0.1", port);

		if (fd >= 0) {
			send_all(fd, "boom\n", 5);
			recv_eof(fd, 100);
			close(fd);
		}
	}
	assert_true(daemon_wait_log(d, "connection processes crashed in the last", 12000));
	for (const char *p = d->log; (p = strstr(p, "warning: echo: ")) != NULL; p++)
		if (sscanf(p, "warning: echo: %d connection processes crashed", &lines) == 1)
			crashes += lines;
	assert_int_equal(count(d->log, "ended by signal 6"), 1);
	assert_int_equal(count(d->log, "connection processes crash: backing off"), 1);
	/* 10 ms doubling: about 9 probes in 3 s (hundreds without backoff). */
	assert_in_range(crashes, 2, 30);
	assert_null(strstr(d->log, "killed by signal"));	/* the acceptor lives on */
	assert_int_equal(daemon_stop(d, SIGTERM, T_MS), 0);
	daemon_free(d);
}

/* Fork model: connection processes killed by a signal give their place in
 * the count back (STATUS said "3 conns" with none open). */
static void
test_fork_counts_after_kill(void **state)
{
	struct launch l = { .notify = true, .binary = getenv("SOCKD_TEST") };
	pid_t acceptor[2], kids[8];
	struct daemon *d;
	int port, fds[3];
	size_t n;

	(void)state;
	l.conf = config("services = ( { name = \"echo\"; handler = \"hang\"; framing = \"line\";"
	    " listen = \"127.0.0.1:0\"; model = \"fork\"; workers = 1; } );\n");
	d = daemon_launch(&l);
	port = daemon_port(d, "echo", "127.0.0.1");
	assert_true(port > 0);
	for (int i = 0; i < 3; i++) {
		fds[i] = tcp_connect("127.0.0.1", port);
		echo_line(fds[i], "x\n");
	}
	assert_true(wait_status(d, "3 conns", T_MS));
	assert_int_equal(daemon_workers(d, acceptor, 2), 1);
	n = pid_children(acceptor[0], kids, 8);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(kill(kids[i], SIGKILL), 0);
	for (int i = 0; i < 3; i++) {
		assert_true(recv_eof(fds[i], T_MS));
		close(fds[i]);
	}
	assert_true(wait_status(d, "echo: 1 worker (0 busy, 1 idle), 0 conns", T_MS));
	assert_int_equal(daemon_stop(d, SIGTERM, T_MS), 0);
	daemon_free(d);
}

/* Out of descriptors (RLIMIT_NOFILE 24), an event worker says so once,
 * then with a count, not 20 times a second. */
static void
test_emfile_rate_limited(void **state)
{
	static const char *const wrapper[] = { "prlimit", "--nofile=24", END };
	struct launch l = { .wrapper = wrapper };
	struct daemon *d;
	int port, fds[40], n = 0;

	(void)state;
	if (access("/usr/bin/prlimit", X_OK) != 0)
		skip();
	l.conf = config("services = ( { name = \"echo\"; handler = \"echo\"; framing = \"line\";"
	    " listen = \"127.0.0.1:0\"; model = \"event\"; workers = 1; } );\n");
	d = daemon_launch(&l);
	port = daemon_port(d, "echo", "127.0.0.1");
	assert_true(port > 0);
	assert_true(daemon_wait_workers(d, 1, T_MS));
	for (int i = 0; i < 40; i++)
		if ((fds[n] = tcp_connect("127.0.0.1", port)) >= 0)
			n++;
	assert_true(daemon_wait_log(d, "accept: Too many open files", T_MS));
	for (long long end = now_ms() + 11000; now_ms() < end;)
		daemon_read_log(d, now_ms() + 100);
	/* 11 s at 20 a second: 220 lines before; now the first and one with the count. */
	assert_in_range(count(d->log, "accept: Too many open files"), 2, 3);
	for (int i = 0; i < n; i++)
		close(fds[i]);
	usleep(200 * 1000);
	fds[0] = tcp_connect("127.0.0.1", port);	/* descriptors back: it serves */
	echo_line(fds[0], "again\n");
	close(fds[0]);
	assert_non_null(strstr(d->log, "Too many open files (pausing 50 ms) (repeated"));
	assert_int_equal(daemon_stop(d, SIGTERM, T_MS), 0);
	daemon_free(d);
}

#define T(f) cmocka_unit_test_teardown(f, harness_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_start_failure_exits),
		T(test_start_failure_beside_fine_service),
		T(test_reload_failure_keeps_old),
		T(test_backoff_logged_once),
		T(test_killed_busy_workers_replaced),
		T(test_fork_crash_backoff),
		T(test_fork_counts_after_kill),
		T(test_emfile_rate_limited),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
