/*
 * test_event.c - the event model through the real binary: many clients on
 * one worker at once, the handlers under two framings, a client that does
 * not read delaying nobody else, limits.max_output, timeouts.idle, a hung
 * handler, limits.max_connections, max_requests and a graceful stop.
 *
 * Built twice: as test_event, and with MODEL "uring" as test_uring (the
 * same semantics over io_uring), which also checks that the uring
 * workers really run on a ring where this machine has io_uring.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <dirent.h>
#include <unistd.h>

#include "testlib.h"

#ifndef MODEL
#define MODEL "event"
#endif

#define LINE_LEN 100			/* test_blocked_reader's lines */

/* 50 clients hold a connection each to one worker, and their messages
 * interleave: prefork would serve only the first. */
static void
test_many_clients_one_worker(void **state)
{
	struct daemon *d;
	int port, fd[50];
	char msg[32];

	(void)state;
	d = start(config("services = ( { name = \"echo\"; handler = \"echo\"; framing = \"line\";"
	    " listen = \"127.0.0.1:0\"; model = \"" MODEL "\"; workers = 1; } );\n"), &port);
	for (int i = 0; i < 50; i++)
		assert_true((fd[i] = tcp_connect("127.0.0.1", port)) >= 0);
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 50; i++) {	/* all sent before any is read */
			snprintf(msg, sizeof(msg), "client %d round %d\n", i, round);
			assert_int_equal(send_all(fd[i], msg, strlen(msg)), 0);
		}
		for (int i = 49; i >= 0; i--) {
			char buf[32];

			snprintf(msg, sizeof(msg), "client %d round %d\n", i, round);
			assert_int_equal(recv_exact(fd[i], buf, strlen(msg), T_MS), (ssize_t)strlen(msg));
			assert_memory_equal(buf, msg, strlen(msg));
		}
	}
	for (int i = 0; i < 50; i++)
		close(fd[i]);
	stop(d);
}

/* Echo, ack and discard, line and length16 framing. */
static void
test_handlers(void **state)
{
	static const char *const framings[] = { "line", "length16" };
	struct daemon *d;

	(void)state;
	for (size_t f = 0; f < 2; f++) {
		bool line = f == 0;
		int echo, ack, discard, port;

		d = start(config("services = ("
		    " { name = \"echo\"; handler = \"echo\"; framing = \"%s\"; listen = \"127.0.0.1:0\";"
		    " model = \"" MODEL "\"; workers = 1; },"
		    " { name = \"ack\"; handler = \"ack\"; framing = \"%s\"; listen = \"127.0.0.1:0\";"
		    " model = \"" MODEL "\"; workers = 1; reply = \"got it\"; },"
		    " { name = \"discard\"; handler = \"discard\"; framing = \"%s\";"
		    " listen = \"127.0.0.1:0\"; model = \"" MODEL "\"; workers = 1; } );\n",
		    framings[f], framings[f], framings[f]), &port);
		echo = tcp_connect("127.0.0.1", port);
		ack = tcp_connect("127.0.0.1", daemon_port(d, "ack", "127.0.0.1"));
		discard = tcp_connect("127.0.0.1", daemon_port(d, "discard", "127.0.0.1"));
		if (line) {
			exchange(echo, "one\ntwo\n", 8, "one\ntwo\n", 8);
			exchange(ack, "a\nb\n", 4, "got it\ngot it\n", 14);
			assert_int_equal(send_all(discard, "gone\n", 5), 0);
		} else {
			exchange(echo, "\0\3one\0\0", 7, "\0\3one\0\0", 7);
			exchange(ack, "\0\1a", 3, "\0\6got it", 8);
			assert_int_equal(send_all(discard, "\0\4gone", 6), 0);
		}
		exchange(echo, line ? "x\n" : "\0\1x", line ? 2 : 3, line ? "x\n" : "\0\1x",
		    line ? 2 : 3);
		assert_false(recv_eof(discard, 300));	/* nothing back, still open */
		close(echo);
		close(ack);
		close(discard);
		stop(d);
	}
}

/* Push LINE_LEN-byte lines without reading, for at least 1.5 s and until
 * the socket has taken nothing for half a second: every buffer on the way
 * is full and the server has stopped reading (a slow build may still be
 * catching up after 1.5 s). Within T_MS, or the server never stopped. The
 * bytes sent. */
static size_t
push_unread(int fd)
{
	static char chunk[65536 + LINE_LEN];
	size_t total = 0;
	long long t0 = now_ms(), took = t0;

	for (size_t i = 0; i < sizeof(chunk); i++)
		chunk[i] = i % LINE_LEN == LINE_LEN - 1 ? '\n' : (char)('a' + i % LINE_LEN % 26);
	while (now_ms() - t0 < 1500 || now_ms() - took < 500) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		ssize_t n;

		assert_true(now_ms() - t0 < T_MS);
		if (poll(&p, 1, 100) <= 0)
			continue;
		n = send(fd, chunk + total % LINE_LEN, 65536, MSG_DONTWAIT | MSG_NOSIGNAL);
		assert_true(n > 0 || (n == -1 && errno == EAGAIN));
		if (n > 0) {
			total += (size_t)n;
			took = now_ms();
		}
	}
	return total;
}

/* Read to EOF: the echo of every complete line pushed, in order. (With
 * the default buffer sizes: a small SO_RCVBUF would make this crawl.) */
static void
read_back(int fd, size_t total)
{
	static char buf[65536];
	size_t want = total - total % LINE_LEN, got = 0;
	ssize_t n;

	while ((n = recv_exact(fd, buf, sizeof(buf), T_MS)) > 0) {
		for (ssize_t i = 0; i < n; i++, got++) {
			char c = got % LINE_LEN == LINE_LEN - 1 ? '\n' : (char)('a' + got % LINE_LEN % 26);

			assert_int_equal(buf[i], c);
		}
		if (n < (ssize_t)sizeof(buf))
			break;
	}
	assert_int_equal(got, want);
}

/* A client that sends a lot and never reads fills its own queue; another
 * client on the same single worker is answered meanwhile. When it reads
 * at last, it gets every echo, in order. */
static void
test_blocked_reader(void **state)
{
	struct daemon *d;
	int port, blocked, other;
	size_t total;

	(void)state;
	d = start(config("services = ( { name = \"echo\"; handler = \"echo\"; framing = \"line\";"
	    " listen = \"127.0.0.1:0\"; model = \"" MODEL "\"; workers = 1; } );\n"), &port);
	blocked = tcp_connect("127.0.0.1", port);
	other = tcp_connect("127.0.0.1", port);
	echo_line(other, "before\n");
	total = push_unread(blocked);
	assert_int_equal(poll(&(struct pollfd){ .fd = blocked, .events = POLLOUT }, 1, 200), 0);
	echo_line(other, "meanwhile\n");
	assert_int_equal(shutdown(blocked, SHUT_WR), 0);
	read_back(blocked, total);
	echo_line(other, "after\n");
	close(blocked);
	close(other);
	assert_null(strstr(d->log, "closing connection"));
	stop(d);
}

/* A reply larger than the kernel buffers plus max_output closes that
 * connection, and only that one. */
static void
test_max_output(void **state)
{
	static char msg[4 + 12 * 1024 * 1024];
	uint32_t len = 12 * 1024 * 1024;
	struct daemon *d;
	int port, big, other, rcv = 4096;

	(void)state;
	d = start(config("services = ( { name = \"echo\"; handler = \"echo\"; framing = \"length32\";"
	    " listen = \"127.0.0.1:0\"; model = \"" MODEL "\"; workers = 1;"
	    " limits = { max_message = 16777216; max_output = 65536; }; } );\n"), &port);
	other = tcp_connect("127.0.0.1", port);
	big = tcp_connect("127.0.0.1", port);
	assert_int_equal(setsockopt(big, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv)), 0);
	exchange(other, "\0\0\0\2hi", 6, "\0\0\0\2hi", 6);
	msg[0] = (char)(len >> 24), msg[1] = (char)(len >> 16), msg[2] = (char)(len >> 8);
	msg[3] = (char)len;
	assert_int_equal(send_all(big, msg, sizeof(msg)), 0);
	assert_true(daemon_wait_log(d, "echo: closing connection: more than 65536 bytes of output queued", T_MS));
	exchange(other, "\0\0\0\2ok", 6, "\0\0\0\2ok", 6);
	close(big);
	close(other);
	stop(d);
}

/* A quiet client is closed after timeouts.idle while a talking one on the
 * same worker stays; neither looks like a hung worker. */
static void
test_idle_timeout(void **state)
{
	struct daemon *d;
	int port, quiet, talking;

	(void)state;
	d = start(config("services = ( { name = \"echo\"; handler = \"echo\"; framing = \"line\";"
	    " listen = \"127.0.0.1:0\"; model = \"" MODEL "\"; workers = 1;"
	    " timeouts = { idle = 1.5; heartbeat = 0.4; }; } );\n"), &port);
	quiet = tcp_connect("127.0.0.1", port);
	talking = tcp_connect("127.0.0.1", port);
	echo_line(quiet, "hello\n");
	for (int i = 0; i < 12; i++) {	/* 2.4 s in all, never 1.5 s quiet */
		echo_line(talking, "still here\n");
		usleep(200 * 1000);
	}
	assert_true(recv_eof(quiet, T_MS));
	echo_line(talking, "and now\n");
	assert_true(recv_eof(talking, T_MS));
	close(quiet);
	close(talking);
	while (daemon_read_log(d, now_ms() + 100))
		;
	assert_int_equal(count(d->log, "echo: closing connection: idle for 1500 ms"), 2);
	assert_null(strstr(d->log, "hung"));
	assert_true(answers(port));
	stop(d);
}

/* A handler stuck in a message stops the loop's heartbeat: the master kills
 * the worker (and its other connections with it) and the service goes on. */
static void
test_hung_handler(void **state)
{
	struct daemon *d;
	int port, fd, other;

	(void)state;
	d = start_with(getenv("SOCKD_TEST"),
	    config("services = ( { name = \"echo\"; handler = \"hang\"; framing = \"line\";"
	    " listen = \"127.0.0.1:0\"; model = \"" MODEL "\"; workers = 1;"
	    " timeouts = { heartbeat = 1; }; } );\n"), &port);
	other = tcp_connect("127.0.0.1", port);
	echo_line(other, "fine\n");
	fd = tcp_connect("127.0.0.1", port);
	assert_int_equal(send_all(fd, "hang\n", 5), 0);
	assert_true(daemon_wait_log(d, "hung: busy with no heartbeat", T_MS));
	assert_non_null(strstr(d->log, "2 connections open"));
	assert_true(recv_eof(fd, T_MS));
	assert_true(recv_eof(other, T_MS));
	close(fd);
	close(other);
	for (int i = 0; i < 5; i++)
		assert_true(answers(port));
	stop(d);
}

/* A handler that hangs while its worker drains (recycling, connections
 * still open) is caught by the heartbeat all the same. */
static void
test_hung_while_draining(void **state)
{
	struct daemon *d;
	int port, fd, other;

	(void)state;
	d = start_with(getenv("SOCKD_TEST"),
	    config("services = ( { name = \"echo\"; handler = \"hang\"; framing = \"line\";"
	    " listen = \"127.0.0.1:0\"; model = \"" MODEL "\"; workers = 1; max_requests = 2;"
	    " timeouts = { heartbeat = 1; }; } );\n"), &port);
	other = tcp_connect("127.0.0.1", port);
	echo_line(other, "one\n");
	fd = tcp_connect("127.0.0.1", port);
	echo_line(fd, "two\n");		/* the second: the worker recycles */
	assert_true(daemon_wait_log(d, "worker recycles after 2 connections", T_MS));
	assert_int_equal(send_all(fd, "hang\n", 5), 0);
	assert_true(daemon_wait_log(d, "hung: busy with no heartbeat", T_MS));
	assert_true(recv_eof(other, T_MS));
	close(fd);
	close(other);
	assert_true(answers(port));
	stop(d);
}

/* Out of descriptors (a worker limited to 24): the worker pauses its
 * listeners, as at max_connections, serves the connections it has, and
 * takes the waiting clients as places free up; none is lost. */
static void
test_out_of_descriptors(void **state)
{
	const char *const wrapper[] = { "prlimit", "--nofile=24:24", "--", NULL };
	struct launch l = { .wrapper = wrapper };
	struct daemon *d;
	char line[32], buf[32];
	int port, fd[40];

	(void)state;
	if (system("command -v prlimit >/dev/null 2>&1") != 0)
		skip();
	l.conf = config("services = ( { name = \"echo\"; handler = \"echo\"; framing = \"line\";"
	    " listen = \"127.0.0.1:0\"; model = \"" MODEL "\"; workers = 1; } );\n");
	d = daemon_launch(&l);
	port = daemon_port(d, "echo", "127.0.0.1");
	assert_true(daemon_wait_log(d, STARTED, T_MS));
	for (int i = 0; i < 40; i++) {
		fd[i] = tcp_connect("127.0.0.1", port);
		assert_true(fd[i] >= 0);
		snprintf(line, sizeof(line), "client %d\n", i);
		assert_int_equal(send_all(fd[i], line, strlen(line)), 0);
	}
	/* Forty waiting and none closed: the worker reaches its limit. */
	assert_true(daemon_wait_log(d, "accept: Too many open files (pausing 50 ms)", T_MS));
	for (int i = 0; i < 40; i++) {
		snprintf(line, sizeof(line), "client %d\n", i);
		assert_int_equal(recv_exact(fd[i], buf, strlen(line), T_MS), (ssize_t)strlen(line));
		assert_memory_equal(buf, line, strlen(line));
		close(fd[i]);
	}
	stop(d);
}

/* max_connections = 3 over two workers: a fourth client waits in the
 * backlog until one of the three leaves. */
static void
test_max_connections(void **state)
{
	struct daemon *d;
	char buf[8];
	int port, fd[4];

	(void)state;
	d = start(config("services = ( { name = \"echo\"; handler = \"echo\"; framing = \"line\";"
	    " listen = \"127.0.0.1:0\"; model = \"" MODEL "\"; workers = 2;"
	    " limits = { max_connections = 3; }; } );\n"), &port);
	assert_true(daemon_wait_workers(d, 2, T_MS));
	for (int i = 0; i < 3; i++) {
		fd[i] = tcp_connect("127.0.0.1", port);
		echo_line(fd[i], "in\n");
	}
	fd[3] = tcp_connect("127.0.0.1", port);		/* queued, not refused */
	assert_true(fd[3] >= 0);
	assert_int_equal(send_all(fd[3], "wait\n", 5), 0);
	assert_int_equal(recv_exact(fd[3], buf, 5, 500), 0);	/* nobody serves it yet */
	echo_line(fd[1], "others still served\n");
	close(fd[0]);
	assert_int_equal(recv_exact(fd[3], buf, 5, T_MS), 5);	/* now it is */
	assert_memory_equal(buf, "wait\n", 5);
	for (int i = 1; i < 4; i++)
		close(fd[i]);
	stop(d);
}

/* Recycled after max_requests connections, and no request fails. */
static void
test_max_requests(void **state)
{
	struct daemon *d;
	int port;

	(void)state;
	d = start(config("services = ( { name = \"echo\"; handler = \"echo\"; framing = \"line\";"
	    " listen = \"127.0.0.1:0\"; model = \"" MODEL "\"; workers = 1; max_requests = 5; } );\n"),
	    &port);
	for (int i = 0; i < 20; i++)
		assert_true(answers(port));
	while (daemon_read_log(d, now_ms() + 200))
		;
	assert_true(count(d->log, "worker recycles after 5 connections") >= 3);
	assert_null(strstr(d->log, "killed"));
	stop(d);
}

/* SIGTERM: no new connections, but an open one is served until the
 * client closes it; then the daemon exits. */
static void
test_sigterm_drains(void **state)
{
	struct daemon *d;
	int port, fd, other;

	(void)state;
	d = start(config("services = ( { name = \"echo\"; handler = \"echo\"; framing = \"line\";"
	    " listen = \"127.0.0.1:0\"; model = \"" MODEL "\"; workers = 1; } );\n"), &port);
	fd = tcp_connect("127.0.0.1", port);
	echo_line(fd, "first\n");
	assert_int_equal(kill(d->pid, SIGTERM), 0);
	assert_true(daemon_wait_log(d, "graceful stop", T_MS));
	usleep(200 * 1000);
	echo_line(fd, "still served\n");
	other = tcp_connect("127.0.0.1", port);
	if (other >= 0) {
		assert_true(recv_eof(other, T_MS));
		close(other);
	}
	echo_line(fd, "and again\n");
	close(fd);
	assert_int_equal(daemon_stop(d, 0, T_MS), 0);
	assert_non_null(strstr(d->log, "notice: stopped"));
	daemon_free(d);
}

/* Where io_uring can be had (Linux 6 or later, not disabled), a uring
 * worker holds a ring, and no fallback is said; elsewhere it serves as
 * event after one notice. The event build checks the reverse: no ring. */
static bool
io_uring_here(void)
{
	FILE *f = fopen("/proc/sys/kernel/io_uring_disabled", "r");
	struct utsname un;
	int disabled = 0;

	if (f != NULL) {
		if (fscanf(f, "%d", &disabled) != 1)
			disabled = 0;
		fclose(f);
	}
	return disabled == 0 && uname(&un) == 0 && atoi(un.release) >= 6;
}

static bool
holds_ring(pid_t pid)
{
	char path[64], link[64];
	bool found = false;
	DIR *dir;
	struct dirent *e;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	if ((dir = opendir(path)) == NULL)
		return false;
	while (!found && (e = readdir(dir)) != NULL) {
		char fd_path[384];
		ssize_t n;

		snprintf(fd_path, sizeof(fd_path), "%s/%s", path, e->d_name);
		if ((n = readlink(fd_path, link, sizeof(link) - 1)) > 0) {
			link[n] = '\0';
			found = strcmp(link, "anon_inode:[io_uring]") == 0;
		}
	}
	closedir(dir);
	return found;
}

static void
test_runs_on_ring(void **state)
{
	struct daemon *d;
	pid_t w[2];
	int port, fd;
	bool uring = strcmp(MODEL, "uring") == 0;

	(void)state;
	d = start(config("services = ( { name = \"echo\"; handler = \"echo\"; framing = \"line\";"
	    " listen = \"127.0.0.1:0\"; model = \"" MODEL "\"; workers = 2; } );\n"), &port);
	assert_true(daemon_wait_workers(d, 2, T_MS));
	assert_true((fd = tcp_connect("127.0.0.1", port)) >= 0);
	echo_line(fd, "on the ring?\n");
	assert_int_equal(daemon_workers(d, w, 2), 2);
	if (uring && io_uring_here()) {
		/* The worker that did not answer may still be setting up. */
		for (long long end = now_ms() + T_MS; now_ms() < end; usleep(10 * 1000))
			if (holds_ring(w[0]) && holds_ring(w[1]))
				break;
		assert_true(holds_ring(w[0]) && holds_ring(w[1]));
		assert_null(strstr(d->log, "runs as"));
	} else if (uring) {
		assert_true(daemon_wait_log(d, "model \"uring\" runs as \"event\"", T_MS));
		assert_false(holds_ring(w[0]) || holds_ring(w[1]));
	} else
		assert_false(holds_ring(w[0]) || holds_ring(w[1]));
	close(fd);
	stop(d);
}

#define T(f) cmocka_unit_test_teardown(f, harness_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_many_clients_one_worker),
		T(test_handlers),
		T(test_blocked_reader),
		T(test_max_output),
		T(test_idle_timeout),
		T(test_hung_handler),
		T(test_hung_while_draining),
		T(test_out_of_descriptors),
		T(test_max_connections),
		T(test_max_requests),
		T(test_sigterm_drains),
		T(test_runs_on_ring),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
