/*
 * test_threads.c - the threaded models through the real binary: model
 * "thread" (a thread per connection, bounded by max_threads and by
 * limits.max_connections) and model "prefork" with threads > 1 (T threads
 * accepting in each worker). Concurrency and its limits, a hung thread
 * getting its whole worker replaced, graceful stop, max_requests, and
 * every handler under line and length32 framing in both. For "thread":
 * a finished thread waits for the next connection (the same thread serves
 * it), at most 32 wait, they end after their wait or at the drain.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "testlib.h"

#define THREAD "model = \"thread\";"
#define PREFORK4 "model = \"prefork\"; threads = 4;"

static pid_t
the_worker(struct daemon *d)
{
	pid_t w[4];

	assert_true(daemon_wait_workers(d, 1, T_MS));
	assert_int_equal(daemon_workers(d, w, 4), 1);
	return w[0];
}

/* Threads of PID, from /proc/PID/task. */
static int
threads_of(pid_t pid)
{
	char path[64];
	struct dirent *e;
	int n = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%ld/task", (long)pid);
	if ((dir = opendir(path)) == NULL)
		return -1;
	while ((e = readdir(dir)) != NULL)
		n += e->d_name[0] != '.';
	closedir(dir);
	return n;
}

static void
wait_threads(pid_t pid, int n)
{
	for (long long end = now_ms() + T_MS; threads_of(pid) != n; usleep(10000))
		assert_true(now_ms() < end);
}

/* The one thread of PID besides its main thread (there must be one). */
static long
other_thread(pid_t pid)
{
	char path[64];
	struct dirent *e;
	long tid = -1;
	int n = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%ld/task", (long)pid);
	assert_non_null(dir = opendir(path));
	while ((e = readdir(dir)) != NULL)
		if (e->d_name[0] != '.' && atol(e->d_name) != (long)pid) {
			tid = atol(e->d_name);
			n++;
		}
	closedir(dir);
	assert_int_equal(n, 1);
	return tid;
}

/* D's log has said NEEDLE at least N times. */
static void
wait_count(struct daemon *d, const char *needle, int n)
{
	for (long long end = now_ms() + T_MS; count(d->log, needle) < n; )
		assert_true(daemon_read_log(d, end) || now_ms() < end);
}

/* FD gets no answer to what it sent while the others hold their places. */
static void
assert_waits(int fd)
{
	char buf[8];

	assert_true(fd >= 0);		/* queued in the backlog, not refused */
	assert_int_equal(send_all(fd, "wait\n", 5), 0);
	assert_int_equal(recv_exact(fd, buf, 5, 500), 0);
}

static void
assert_answered(int fd)
{
	char buf[8];

	assert_int_equal(recv_exact(fd, buf, 5, T_MS), 5);
	assert_memory_equal(buf, "wait\n", 5);
}

#define ENDS "a connection thread ends: "

/* 50 clients at once on one worker: 50 threads, all answered. Once they
 * are gone, 32 threads wait for more and the other 18 end at once; the
 * 32 end after their wait, and the main thread is alone again. */
static void
test_thread_concurrency(void **state)
{
	struct daemon *d;
	pid_t worker;
	int port, fd[50];

	(void)state;
	d = start(config("log_level = \"debug\";\n"
	    "services = ( { name = \"echo\"; handler = \"echo\"; framing = \"line\";"
	    " listen = \"127.0.0.1:0\"; " THREAD " workers = 1; max_threads = 64; } );\n"), &port);
	worker = the_worker(d);
	wait_threads(worker, 1);
	for (int i = 0; i < 50; i++) {
		fd[i] = tcp_connect("127.0.0.1", port);
		assert_true(fd[i] >= 0);
	}
	for (int i = 0; i < 50; i++)	/* all open at once, all served */
		echo_line(fd[i], "concurrent\n");
	assert_true(threads_of(worker) >= 51);
	for (int i = 0; i < 50; i++)
		close(fd[i]);
	wait_count(d, ENDS "enough threads wait", 18);
	wait_threads(worker, 33);	/* the 18 joined; 32 wait */
	wait_count(d, ENDS "no connection came", 32);
	wait_threads(worker, 1);	/* every thread joined */
	assert_int_equal(daemon_stop(d, SIGTERM, T_MS), 0);
	assert_int_equal(count(d->log, ENDS "enough threads wait"), 18);
	assert_int_equal(count(d->log, ENDS), 50);
	daemon_free(d);
}

/* A connection after another: the thread that served the first waits
 * and serves the second (no new thread), then ends after its wait. */
static void
test_thread_reused(void **state)
{
	struct daemon *d;
	pid_t worker;
	long tid = -1;
	int port, fd;

	(void)state;
	d = start(config("log_level = \"debug\";\n"
	    "services = ( { name = \"echo\"; handler = \"echo\"; framing = \"line\";"
	    " listen = \"127.0.0.1:0\"; " THREAD " workers = 1; } );\n"), &port);
	worker = the_worker(d);
	for (int round = 0; round < 3; round++) {
		fd = tcp_connect("127.0.0.1", port);
		echo_line(fd, "again\n");
		if (round == 0)
			tid = other_thread(worker);
		else
			assert_int_equal(other_thread(worker), tid);	/* the same thread */
		close(fd);
		wait_count(d, ": closed after ", round + 1);
		usleep(100 * 1000);
		assert_int_equal(threads_of(worker), 2);	/* it waits, not gone */
		assert_int_equal(other_thread(worker), tid);
	}
	assert_int_equal(count(d->log, ENDS), 0);
	wait_count(d, ENDS "no connection came", 1);
	wait_threads(worker, 1);
	assert_true(answers(port));	/* and a new thread serves the next */
	assert_int_equal(daemon_stop(d, SIGTERM, T_MS), 0);
	daemon_free(d);
}

/* A drain while threads wait: they end at once, not after their wait. */
static void
test_thread_drain_waiting(void **state)
{
	struct daemon *d;
	pid_t worker;
	long long t0;
	int port, fd[10];

	(void)state;
	d = start(config("log_level = \"debug\";\n"
	    "services = ( { name = \"echo\"; handler = \"echo\"; framing = \"line\";"
	    " listen = \"127.0.0.1:0\"; " THREAD " workers = 1; } );\n"), &port);
	worker = the_worker(d);
	for (int i = 0; i < 10; i++) {
		fd[i] = tcp_connect("127.0.0.1", port);
		echo_line(fd[i], "x\n");
	}
	for (int i = 0; i < 10; i++)
		close(fd[i]);
	wait_count(d, ": closed after ", 10);
	assert_int_equal(threads_of(worker), 11);	/* all ten wait */
	t0 = now_ms();
	/* The thread's wait is 5 s: a stop that waited for it would take that. */
	assert_int_equal(daemon_stop(d, SIGTERM, 3000), 0);
	assert_true(now_ms() - t0 < 3000);
	assert_int_equal(count(d->log, ENDS "the worker drains"), 10);
	assert_int_equal(count(d->log, ENDS), 10);
	assert_true(pid_gone(worker));
	daemon_free(d);
}

/* max_threads = 2: the third client waits in the backlog until one
 * leaves; the same with the two threads waiting for connections, so a
 * waiting thread is not a place for a third; never more than 2 threads. */
static void
test_thread_limit(void **state)
{
	struct daemon *d;
	pid_t worker;
	int port, fd[3];

	(void)state;
	d = start(config("log_level = \"debug\";\n"
	    "services = ( { name = \"echo\"; handler = \"echo\"; framing = \"line\";"
	    " listen = \"127.0.0.1:0\"; " THREAD " workers = 1; max_threads = 2; } );\n"), &port);
	worker = the_worker(d);
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 2; i++) {
			fd[i] = tcp_connect("127.0.0.1", port);
			echo_line(fd[i], "in\n");
		}
		fd[2] = tcp_connect("127.0.0.1", port);
		assert_waits(fd[2]);
		echo_line(fd[1], "still\n");
		assert_true(threads_of(worker) <= 3);
		close(fd[0]);
		assert_answered(fd[2]);
		assert_true(threads_of(worker) <= 3);
		close(fd[1]);
		close(fd[2]);
		wait_count(d, ": closed after ", 3 * (round + 1));
	}
	assert_int_equal(count(d->log, ENDS), 0);	/* two threads served all six */
	assert_int_equal(daemon_stop(d, SIGTERM, T_MS), 0);
	daemon_free(d);
}

/* limits.max_connections holds with room in max_threads, threads or
 * workers (MODEL sets workers itself). */
static void
max_connections(const char *model)
{
	struct daemon *d;
	int port, fd[3];

	d = start(config("services = ( { name = \"echo\"; handler = \"echo\"; framing = \"line\";"
	    " listen = \"127.0.0.1:0\"; %s limits = { max_connections = 2; };"
	    " } );\n", model), &port);
	for (int i = 0; i < 2; i++) {
		fd[i] = tcp_connect("127.0.0.1", port);
		echo_line(fd[i], "in\n");
	}
	fd[2] = tcp_connect("127.0.0.1", port);
	assert_waits(fd[2]);
	close(fd[0]);
	assert_answered(fd[2]);
	close(fd[1]);
	close(fd[2]);
	assert_int_equal(daemon_stop(d, SIGTERM, T_MS), 0);
	daemon_free(d);
}

static void
test_max_connections(void **state)
{
	(void)state;
	max_connections(THREAD " workers = 2;");
	max_connections(PREFORK4 " workers = 2;");
	max_connections("model = \"prefork\"; workers = 4;");	/* one thread each */
	max_connections("model = \"fork\"; workers = 2;");	/* a process each */
}

/* prefork, threads = 4, one worker: four clients at once, the fifth waits. */
static void
test_prefork_threads_limit(void **state)
{
	struct daemon *d;
	pid_t worker;
	int port, fd[5];

	(void)state;
	d = start(config("services = ( { name = \"echo\"; handler = \"echo\"; framing = \"line\";"
	    " listen = \"127.0.0.1:0\"; " PREFORK4 " workers = 1; } );\n"), &port);
	worker = the_worker(d);
	wait_threads(worker, 5);	/* the main thread and four serving ones */
	for (int i = 0; i < 4; i++) {
		fd[i] = tcp_connect("127.0.0.1", port);
		echo_line(fd[i], "in\n");
	}
	fd[4] = tcp_connect("127.0.0.1", port);
	assert_waits(fd[4]);
	for (int i = 1; i < 4; i++)
		echo_line(fd[i], "still\n");
	close(fd[0]);
	assert_answered(fd[4]);
	for (int i = 1; i < 5; i++)
		close(fd[i]);
	assert_int_equal(daemon_stop(d, SIGTERM, T_MS), 0);
	daemon_free(d);
}

static bool
talked(int fd)
{
	char buf[8];

	return send_all(fd, "talk\n", 5) == 0 && recv_exact(fd, buf, 5, T_MS) == 5 &&
	    memcmp(buf, "talk\n", 5) == 0;
}

/*
 * One thread stuck in a handler while another idles and a third talks:
 * the talking one is still served, the worker is found hung and replaced
 * whole (its other connections end too), and the service answers again.
 */
static void
hung_thread(const char *model)
{
	struct daemon *d;
	int port, idle, talk, stuck, talks = 0;
	pid_t before;

	d = start_with(getenv("SOCKD_TEST"), config("services = ( { name = \"echo\"; handler = \"hang\";"
	    " framing = \"line\"; listen = \"127.0.0.1:0\"; %s workers = 1;"
	    " timeouts = { heartbeat = 1; }; } );\n", model), &port);
	before = the_worker(d);
	idle = tcp_connect("127.0.0.1", port);
	echo_line(idle, "idle\n");
	talk = tcp_connect("127.0.0.1", port);
	echo_line(talk, "talk\n");
	stuck = tcp_connect("127.0.0.1", port);
	assert_int_equal(send_all(stuck, "hang\n", 5), 0);
	/* The other threads still serve (a killed worker ends this early). */
	for (long long end = now_ms() + T_MS; talked(talk); talks++) {
		daemon_read_log(d, now_ms() + 100);
		assert_true(now_ms() < end);
	}
	assert_true(talks > 0);
	assert_true(daemon_wait_log(d, "hung: busy with no heartbeat", T_MS));
	assert_true(recv_eof(stuck, T_MS));	/* the whole worker is gone */
	assert_true(recv_eof(idle, T_MS));
	close(stuck);
	close(idle);
	close(talk);
	for (int i = 0; i < 5; i++)
		assert_true(answers(port));
	assert_int_not_equal(the_worker(d), before);
	assert_int_equal(daemon_stop(d, SIGTERM, T_MS), 0);
	daemon_free(d);
}

static void
test_thread_hung(void **state)
{
	(void)state;
	hung_thread(THREAD);
}

static void
test_prefork_threads_hung(void **state)
{
	(void)state;
	hung_thread(PREFORK4);
}

/* SIGTERM: a message in flight is finished, nobody accepts any more. */
static void
graceful_stop(const char *model)
{
	struct daemon *d;
	char buf[16];
	int port, fd, other;

	d = start(config("services = ( { name = \"echo\"; handler = \"echo\"; framing = \"line\";"
	    " listen = \"127.0.0.1:0\"; %s workers = 1; } );\n", model), &port);
	fd = tcp_connect("127.0.0.1", port);
	echo_line(fd, "first\n");
	other = tcp_connect("127.0.0.1", port);
	echo_line(other, "other\n");
	close(other);			/* one ended, one in flight */
	assert_int_equal(send_all(fd, "hal", 3), 0);
	assert_int_equal(kill(d->pid, SIGTERM), 0);
	assert_true(daemon_wait_log(d, "graceful stop", T_MS));
	usleep(200 * 1000);
	assert_int_equal(send_all(fd, "f\n", 2), 0);
	assert_int_equal(recv_exact(fd, buf, 5, T_MS), 5);
	assert_memory_equal(buf, "half\n", 5);
	other = tcp_connect("127.0.0.1", port);
	if (other >= 0) {
		assert_true(recv_eof(other, T_MS));
		close(other);
	}
	close(fd);
	assert_int_equal(daemon_stop(d, 0, T_MS), 0);
	assert_non_null(strstr(d->log, "notice: stopped"));
	assert_null(strstr(d->log, "killed"));
	daemon_free(d);
}

static void
test_thread_graceful_stop(void **state)
{
	(void)state;
	graceful_stop(THREAD);
}

static void
test_prefork_threads_graceful_stop(void **state)
{
	(void)state;
	graceful_stop(PREFORK4);
}

/* SIGQUIT ends the worker at once, open connections and all. */
static void
fast_stop(const char *model)
{
	struct daemon *d;
	int port, fd;

	d = start(config("services = ( { name = \"echo\"; handler = \"echo\"; framing = \"line\";"
	    " listen = \"127.0.0.1:0\"; %s workers = 1; } );\n", model), &port);
	fd = tcp_connect("127.0.0.1", port);
	echo_line(fd, "x\n");
	assert_int_equal(daemon_stop(d, SIGQUIT, 3000), 0);
	assert_true(recv_eof(fd, T_MS));
	close(fd);
	daemon_free(d);
}

static void
test_fast_stop(void **state)
{
	(void)state;
	fast_stop(THREAD);
	fast_stop(PREFORK4);
}

/* max_requests: recycled and replaced, no request failing meanwhile,
 * with clients overlapping so that the drain has connections to finish. */
static void
recycles(const char *model)
{
	struct daemon *d;
	int port, held;

	d = start(config("services = ( { name = \"echo\"; handler = \"echo\"; framing = \"line\";"
	    " listen = \"127.0.0.1:0\"; %s workers = 1; max_requests = 5; } );\n", model), &port);
	held = tcp_connect("127.0.0.1", port);
	echo_line(held, "held\n");
	for (int i = 0; i < 20; i++) {
		assert_true(answers(port));
		if (i == 6) {
			echo_line(held, "still\n");	/* served by a draining worker */
			close(held);
		}
	}
	while (daemon_read_log(d, now_ms() + 200))
		;
	assert_true(count(d->log, "worker recycles after 5 connections") >= 3);
	assert_null(strstr(d->log, "killed"));
	assert_int_equal(daemon_stop(d, SIGTERM, T_MS), 0);
	daemon_free(d);
}

static void
test_thread_recycles(void **state)
{
	(void)state;
	recycles(THREAD);
}

static void
test_prefork_threads_recycles(void **state)
{
	(void)state;
	recycles(PREFORK4);
}

/* MSG framed as FRAMING into BUF; its length. */
static size_t
frame(const char *framing, const char *msg, char *buf)
{
	size_t n = strlen(msg);

	if (strcmp(framing, "line") == 0) {
		memcpy(buf, msg, n);
		buf[n] = '\n';
		return n + 1;
	}
	buf[0] = 0;
	buf[1] = 0;
	buf[2] = (char)(n >> 8);
	buf[3] = (char)n;
	memcpy(buf + 4, msg, n);
	return n + 4;
}

static void
handler_framing(const char *model, const char *handler, const char *framing)
{
	char req[64], want[64], got[64];
	bool ack = strcmp(handler, "ack") == 0;
	size_t rn, wn;
	struct daemon *d;
	int port, fd[3];

	d = start(config("services = ( { name = \"echo\"; handler = \"%s\"; framing = \"%s\";"
	    " listen = \"127.0.0.1:0\"; %s workers = 1;%s } );\n", handler, framing, model,
	    ack ? " reply = \"PONG\";" : ""), &port);
	rn = frame(framing, "hello", req);
	wn = frame(framing, ack ? "PONG" : "hello", want);
	for (int i = 0; i < 3; i++) {	/* three at once */
		fd[i] = tcp_connect("127.0.0.1", port);
		assert_true(fd[i] >= 0);
	}
	for (int i = 0; i < 3; i++) {
		assert_int_equal(send_all(fd[i], req, rn), 0);
		assert_int_equal(send_all(fd[i], req, rn), 0);
		if (strcmp(handler, "discard") != 0) {
			assert_int_equal(recv_exact(fd[i], got, wn, T_MS), (ssize_t)wn);
			assert_memory_equal(got, want, wn);
			assert_int_equal(recv_exact(fd[i], got, wn, T_MS), (ssize_t)wn);
			assert_memory_equal(got, want, wn);
		}
		shutdown(fd[i], SHUT_WR);
		assert_true(recv_eof(fd[i], T_MS));	/* nothing more (discard: nothing) */
		close(fd[i]);
	}
	assert_int_equal(daemon_stop(d, SIGTERM, T_MS), 0);
	daemon_free(d);
}

static void
test_handlers_and_framings(void **state)
{
	static const char *const models[] = { THREAD, PREFORK4 };
	static const char *const handlers[] = { "echo", "ack", "discard" };
	static const char *const framings[] = { "line", "length32" };

	(void)state;
	for (size_t m = 0; m < 2; m++)
		for (size_t h = 0; h < 3; h++)
			for (size_t f = 0; f < 2; f++)
				handler_framing(models[m], handlers[h], framings[f]);
}

int
main(void)
{
#define T(f) cmocka_unit_test_teardown(f, harness_teardown)
	const struct CMUnitTest tests[] = {
		T(test_thread_concurrency),
		T(test_thread_reused),
		T(test_thread_drain_waiting),
		T(test_thread_limit),
		T(test_max_connections),
		T(test_prefork_threads_limit),
		T(test_thread_hung),
		T(test_prefork_threads_hung),
		T(test_thread_graceful_stop),
		T(test_prefork_threads_graceful_stop),
		T(test_fast_stop),
		T(test_thread_recycles),
		T(test_prefork_threads_recycles),
		T(test_handlers_and_framings),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
