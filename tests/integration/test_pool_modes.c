/*
 * test_pool_modes.c - pool modes and recycling through the real binary:
 * an ondemand pool starts with no worker, starts them as clients wait (up
 * to max_workers, the rest wait in the backlog), goes back to none when
 * idle, and its master does not spin on a waiting client; reload and
 * SIGTTIN with it; workers recycled by max_requests under load without a
 * single failed request, in a static and an ondemand pool. (A dynamic pool
 * growing and shrinking is test_master.c's test_dynamic_pool.)
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
#include <sys/wait.h>
#include <unistd.h>

#include "testlib.h"

#define ONDEMAND(max, idle) \
	"services = ( { name = \"echo\"; handler = \"echo\"; framing = \"line\";" \
	" listen = \"127.0.0.1:0\"; workers = 1;" \
	" pool = { mode = \"ondemand\"; max_workers = " #max "; idle_timeout = " #idle "; }; } );\n"

static size_t
workers(const struct daemon *d)
{
	pid_t w[64];

	return daemon_workers(d, w, 64);
}

/* The daemon started with a NOTIFY_SOCKET, READY=1 said; its echo port. */
static struct daemon *
start_notify(const char *text, int *port_r)
{
	struct launch l = { .conf = text, .notify = true };
	struct daemon *d = daemon_launch(&l);

	*port_r = daemon_port(d, "echo", "127.0.0.1");
	assert_true(*port_r > 0);
	assert_true(daemon_wait_note(d, "READY=1", T_MS));
	return d;
}

/* CPU time (user + system) PID has used, in clock ticks. */
static long
cpu_ticks(pid_t pid)
{
	char path[64];
	unsigned long utime = 0, stime = 0;
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((fp = fopen(path, "re")) == NULL)
		return -1;
	/* pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime */
	if (fscanf(fp, "%*d (%*[^)]) %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
	    &utime, &stime) != 2)
		utime = stime = 0;
	fclose(fp);
	return (long)(utime + stime);
}

/* No worker until a client comes; back to none after idle_timeout, but
 * never while a (quiet) client holds its worker. */
static void
test_ondemand_zero_one_zero(void **state)
{
	struct daemon *d;
	int port, fd;

	(void)state;
	d = start_notify(config(ONDEMAND(2, 0.5)), &port);
	assert_true(daemon_wait_note(d, "echo: no worker (on demand)", T_MS));
	usleep(300 * 1000);				/* nothing starts on its own */
	assert_int_equal(workers(d), 0);
	fd = tcp_connect("127.0.0.1", port);
	echo_line(fd, "hello\n");
	assert_true(daemon_wait_workers(d, 1, T_MS));
	usleep(1200 * 1000);				/* quiet, longer than idle_timeout */
	echo_line(fd, "still here\n");			/* its worker was kept */
	close(fd);
	assert_true(daemon_wait_workers(d, 0, T_MS));	/* idle 0.5 s: gone */
	assert_true(daemon_wait_log(d, "echo: worker", T_MS));
	assert_null(strstr(d->log, "killed"));
	assert_true(answers(port));			/* and on demand again */
	assert_true(daemon_wait_workers(d, 0, T_MS));
	assert_int_equal(daemon_stop(d, SIGTERM, T_MS), 0);
	daemon_free(d);
}

/* Two clients holding connections get two workers (max_workers 2); a
 * third waits in the backlog, with the master asleep, until one leaves. */
static void
test_ondemand_max_workers(void **state)
{
	struct daemon *d;
	int port, fd[3];
	long before, used, hz = sysconf(_SC_CLK_TCK);
	char buf[16];

	(void)state;
	d = start_notify(config(ONDEMAND(2, 10)), &port);
	for (int i = 0; i < 2; i++) {
		fd[i] = tcp_connect("127.0.0.1", port);
		echo_line(fd[i], "mine\n");
	}
	assert_int_equal(workers(d), 2);
	fd[2] = tcp_connect("127.0.0.1", port);		/* the kernel completes it */
	assert_true(fd[2] >= 0);
	assert_int_equal(send_all(fd[2], "third\n", 6), 0);
	before = cpu_ticks(d->pid);
	assert_true(before >= 0);
	/* 2 s with a client waiting: no answer, no third worker, and the
	 * master no busier than a few wakeups (a spinning poll takes ~2 s). */
	assert_int_equal(recv_exact(fd[2], buf, 6, 2000), 0);
	used = cpu_ticks(d->pid) - before;
	print_message("master CPU while a client waited 2 s: %ld ms\n", used * 1000 / hz);
	assert_true(used * 2 < hz);			/* under 0.5 s */
	assert_int_equal(workers(d), 2);
	close(fd[0]);					/* a worker frees up: it takes the third */
	assert_int_equal(recv_exact(fd[2], buf, 6, T_MS), 6);
	assert_memory_equal(buf, "third\n", 6);
	echo_line(fd[1], "still mine\n");
	close(fd[1]);
	close(fd[2]);
	assert_int_equal(workers(d), 2);
	assert_int_equal(daemon_stop(d, SIGTERM, T_MS), 0);
	daemon_free(d);
}

/* Models that serve many connections per worker: a worker with room is
 * not "busy" for the pool, so three clients need one worker, not three. */
static void
test_ondemand_many_per_worker(void **state)
{
	static const char *const models[] = { "event", "uring", "thread", "fork" };
	struct daemon *d;
	int port, fd[3];

	(void)state;
	for (size_t m = 0; m < 3; m++) {
		d = start_notify(config("services = ( { name = \"echo\"; handler = \"echo\";"
		    " framing = \"line\"; listen = \"127.0.0.1:0\"; model = \"%s\"; workers = 1;"
		    " pool = { mode = \"ondemand\"; max_workers = 3; idle_timeout = 10; }; } );\n",
		    models[m]), &port);
		for (int i = 0; i < 3; i++) {
			fd[i] = tcp_connect("127.0.0.1", port);
			echo_line(fd[i], "held\n");
			usleep(100 * 1000);	/* the master has looked again */
		}
		usleep(300 * 1000);
		assert_int_equal(workers(d), 1);
		for (int i = 0; i < 3; i++)
			close(fd[i]);
		assert_int_equal(daemon_stop(d, SIGTERM, T_MS), 0);
		daemon_free(d);
	}
}

/* Several clients at once: workers start one after another for them. */
static void
test_ondemand_burst(void **state)
{
	struct daemon *d;
	int port, fd[4];

	(void)state;
	d = start_notify(config(ONDEMAND(4, 0.5)), &port);
	for (int i = 0; i < 4; i++) {
		fd[i] = tcp_connect("127.0.0.1", port);
		assert_true(fd[i] >= 0);
		assert_int_equal(send_all(fd[i], "burst\n", 6), 0);
	}
	for (int i = 0; i < 4; i++) {
		char buf[6];

		assert_int_equal(recv_exact(fd[i], buf, 6, T_MS), 6);
		assert_memory_equal(buf, "burst\n", 6);
	}
	assert_int_equal(workers(d), 4);
	for (int i = 0; i < 4; i++)
		close(fd[i]);
	assert_true(daemon_wait_workers(d, 0, T_MS));
	assert_int_equal(daemon_stop(d, SIGTERM, T_MS), 0);
	daemon_free(d);
}

/* SIGTTIN is refused with a notice; a reload (new listener set, new
 * generation) serves on demand again, on the kept and on a new port. */
static void
test_ondemand_signals_and_reload(void **state)
{
	struct daemon *d;
	int port, port2, fd;

	(void)state;
	d = start_notify(config(ONDEMAND(2, 0.5)), &port);
	assert_int_equal(kill(d->pid, SIGTTIN), 0);
	assert_true(daemon_wait_log(d, "echo: an ondemand pool sizes itself", T_MS));
	usleep(200 * 1000);
	assert_int_equal(workers(d), 0);
	fd = tcp_connect("127.0.0.1", port);
	echo_line(fd, "before\n");
	(void)daemon_reload(d, config("services = ( { name = \"echo\"; handler = \"echo\";"
	    " framing = \"line\"; listen = ( \"127.0.0.1:0\", \"127.0.0.2:0\" ); workers = 1;"
	    " pool = { mode = \"ondemand\"; max_workers = 2; idle_timeout = 0.5; }; } );\n"));
	assert_true(daemon_wait_log(d, "reloaded: generation 2", T_MS));
	echo_line(fd, "old worker finishes\n");	/* it drains, serving this one */
	close(fd);
	for (int i = 0; i < 3; i++)
		assert_true(answers(port));
	assert_true(daemon_wait_workers(d, 0, T_MS));
	port2 = daemon_port(d, "echo", "127.0.0.2");	/* the new listener */
	assert_true(port2 > 0);
	assert_true(answers_on("127.0.0.2", port2));
	assert_true(daemon_wait_workers(d, 0, T_MS));
	assert_int_equal(daemon_stop(d, SIGTERM, T_MS), 0);
	daemon_free(d);
}

/* CLIENTS processes at once, each ROUNDS round trips on new connections;
 * how many failed. */
static int
load(int port, int clients, int rounds)
{
	pid_t pids[16];
	int failed = 0, status;

	for (int c = 0; c < clients; c++) {
		if ((pids[c] = fork()) == 0) {
			int bad = 0;

			for (int i = 0; i < rounds; i++)
				bad += !answers(port);
			_exit(bad > 255 ? 255 : bad);
		}
		assert_true(pids[c] > 0);
	}
	for (int c = 0; c < clients; c++) {
		assert_int_equal(waitpid(pids[c], &status, 0), pids[c]);
		failed += WIFEXITED(status) ? WEXITSTATUS(status) : rounds;
	}
	return failed;
}

/* Workers that reach max_requests are replaced without a failed request:
 * 200 sequential round trips, then 4 clients at once. */
static void
recycle_under_load(const char *text)
{
	struct daemon *d;
	int port, failed = 0;

	/* Without a NOTIFY_SOCKET: nobody would read the STATUS lines meanwhile. */
	d = daemon_start(text, END);
	port = daemon_port(d, "echo", "127.0.0.1");
	assert_true(port > 0);
	assert_true(daemon_wait_log(d, "started", T_MS));
	for (int i = 0; i < 200; i++)
		failed += !answers(port);
	assert_int_equal(failed, 0);
	assert_int_equal(load(port, 4, 100), 0);
	while (daemon_read_log(d, now_ms() + 200))
		;
	/* 600 connections, 5 to 8 per worker. */
	assert_true(count(d->log, "worker recycles after") >= 600 / 8 - 4);
	assert_null(strstr(d->log, "killed"));
	assert_null(strstr(d->log, "exited with status"));
	assert_int_equal(daemon_stop(d, SIGTERM, T_MS), 0);
	daemon_free(d);
}

static void
test_recycle_under_load_static(void **state)
{
	(void)state;
	recycle_under_load(config("services = ( { name = \"echo\"; handler = \"echo\";"
	    " framing = \"line\"; listen = \"127.0.0.1:0\"; workers = 2;"
	    " max_requests = 5; max_requests_jitter = 3; } );\n"));
}

static void
test_recycle_under_load_ondemand(void **state)
{
	(void)state;
	recycle_under_load(config("services = ( { name = \"echo\"; handler = \"echo\";"
	    " framing = \"line\"; listen = \"127.0.0.1:0\"; workers = 2;"
	    " max_requests = 5; max_requests_jitter = 3;"
	    " pool = { mode = \"ondemand\"; max_workers = 2; idle_timeout = 1; }; } );\n"));
}

int
main(void)
{
#define T(f) cmocka_unit_test_teardown(f, harness_teardown)
	const struct CMUnitTest tests[] = {
		T(test_ondemand_zero_one_zero),
		T(test_ondemand_max_workers),
		T(test_ondemand_burst),
		T(test_ondemand_many_per_worker),
		T(test_ondemand_signals_and_reload),
		T(test_recycle_under_load_static),
		T(test_recycle_under_load_ondemand),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
