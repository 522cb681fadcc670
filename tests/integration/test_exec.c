/*
 * test_exec.c - the exec handler through the real binary: the program's
 * environment over TCP (IPv4, IPv6) and a Unix socket, its descriptors and
 * signal state, a /bin/cat round trip under every model, max_children
 * (waiting in the blocking models, refused in the event model),
 * timeouts.exec (SIGTERM to the process group, then SIGKILL), exit status
 * in the log, and a long program kept alive past timeouts.heartbeat.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "testlib.h"


static char exec_conf[8192];

/* A daemon serving TEXT; *PORT_R: service "exec" on 127.0.0.1. */
static struct daemon *
start_exec(const char *text, int *port_r)
{
	return start_service(text, "exec", port_r);
}

/* A configuration: "user" when root, then one exec service named "exec"
 * on 127.0.0.1 with the settings of the format. */
static const char * __attribute__((format(printf, 1, 2)))
exec_config(const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(exec_conf, sizeof(exec_conf), "%sservices = ( { name = \"exec\"; handler = \"exec\";"
	    " workers = 1; ", geteuid() == 0 ? "user = \"nobody\";\n" : "");

	va_start(ap, fmt);
	n += vsnprintf(exec_conf + n, sizeof(exec_conf) - (size_t)n, fmt, ap);
	va_end(ap);
	snprintf(exec_conf + n, sizeof(exec_conf) - (size_t)n, " } );\n");
	return exec_conf;
}

/* Everything FD sends until it closes, NUL-terminated; fails on timeout. */
static size_t
slurp(int fd, char *buf, size_t size)
{
	long long deadline = now_ms() + T_MS;
	size_t got = 0;

	assert_true(fd >= 0);
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		assert_true(now_ms() < deadline);
		if (poll(&p, 1, 100) <= 0)
			continue;
		n = recv(fd, buf + got, size - 1 - got, 0);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
		assert_true(got < size - 1);
	}
	buf[got] = '\0';
	return got;
}

static int
count_lines(const char *text)
{
	int n = 0;

	for (; *text != '\0'; text++)
		n += *text == '\n';
	return n;
}

/* TEXT has LINE as a whole line. */
static bool
has_line(const char *text, const char *line)
{
	size_t len = strlen(line);

	for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
		if ((p == text || p[-1] == '\n') && p[len] == '\n')
			return true;
	return false;
}

static int
local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	return ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port :
	    ((struct sockaddr_in *)&ss)->sin_port);
}

/* The environment /usr/bin/env prints for a TCP client of IP:PORT. */
static void
check_tcp_env(const char *ip, int port)
{
	char out[4096], want[128];
	int fd = tcp_connect(ip, port);

	assert_true(fd >= 0);
	slurp(fd, out, sizeof(out));
	assert_int_equal(count_lines(out), 7);
	assert_true(has_line(out, "PATH=/usr/local/bin:/usr/bin:/bin"));
	assert_true(has_line(out, "PROTO=TCP"));
	snprintf(want, sizeof(want), "TCPREMOTEIP=%s", ip);
	assert_true(has_line(out, want));
	snprintf(want, sizeof(want), "TCPREMOTEPORT=%d", local_port(fd));
	assert_true(has_line(out, want));
	snprintf(want, sizeof(want), "TCPLOCALIP=%s", ip);
	assert_true(has_line(out, want));
	snprintf(want, sizeof(want), "TCPLOCALPORT=%d", port);
	assert_true(has_line(out, want));
	assert_true(has_line(out, "GREETING=hello world"));
	close(fd);
}

static void
test_environment(void **state)
{
	char *dir = harness_tmpdir(), sock[256], out[4096], want[64];
	struct daemon *d;
	int port, port6, fd;

	(void)state;
	snprintf(sock, sizeof(sock), "%s/exec.sock", dir);
	d = start_exec(exec_config("listen = [ \"127.0.0.1:0\", \"[::1]:0\", \"unix:%s\" ];"
	    " exec = { argv = [ \"/usr/bin/env\" ]; env = { GREETING = \"hello world\"; }; };",
	    sock), &port);
	check_tcp_env("127.0.0.1", port);
	port6 = daemon_port(d, "exec", "[::1]");
	if (port6 > 0)
		check_tcp_env("::1", port6);	/* without brackets */
	fd = unix_connect(sock);
	slurp(fd, out, sizeof(out));
	close(fd);
	assert_int_equal(count_lines(out), 6);
	assert_true(has_line(out, "PATH=/usr/local/bin:/usr/bin:/bin"));
	assert_true(has_line(out, "PROTO=UNIX"));
	snprintf(want, sizeof(want), "UNIXREMOTEPID=%ld", (long)getpid());
	assert_true(has_line(out, want));
	snprintf(want, sizeof(want), "UNIXREMOTEUID=%ld", (long)geteuid());
	assert_true(has_line(out, want));
	snprintf(want, sizeof(want), "UNIXREMOTEGID=%ld", (long)getegid());
	assert_true(has_line(out, want));
	assert_true(has_line(out, "GREETING=hello world"));
	assert_true(daemon_wait_log(d, "(/usr/bin/env) exited with status 0", T_MS));
	stop(d);
	harness_rmdir(dir);
}

/* exec.env replaces a variable of ours of the same name. */
static void
test_env_overrides(void **state)
{
	char out[4096];
	struct daemon *d;
	int port;

	(void)state;
	d = start_exec(exec_config("listen = \"127.0.0.1:0\"; exec = { argv = [ \"/usr/bin/env\" ];"
	    " env = { PATH = \"/bin\"; PROTO = \"mine\"; }; };"), &port);
	slurp(tcp_connect("127.0.0.1", port), out, sizeof(out));
	assert_int_equal(count_lines(out), 6);
	assert_true(has_line(out, "PATH=/bin"));
	assert_true(has_line(out, "PROTO=mine"));
	assert_null(strstr(out, "PATH=/usr"));
	stop(d);
}

/* Only descriptors 0, 1, 2; no signal blocked or ignored (the worker
 * blocks several for its signalfd and ignores SIGPIPE). */
static void
test_fds_and_signal_state(void **state)
{
	static const char *const models[] = { "prefork", "event", "uring", "fork", "thread" };
	char out[4096];

	(void)state;
	for (size_t i = 0; i < sizeof(models) / sizeof(models[0]); i++) {
		struct daemon *d;
		int port;

		d = start_exec(exec_config("listen = \"127.0.0.1:0\"; model = \"%s\"; exec = { argv = ["
		    " \"/bin/sh\", \"-c\", \"ls /proc/$$/fd; exec /bin/grep -E '^Sig(Blk|Ign)'"
		    " /proc/self/status\" ]; };", models[i]), &port);
		slurp(tcp_connect("127.0.0.1", port), out, sizeof(out));
		assert_string_equal(out, "0\n1\n2\nSigBlk:\t0000000000000000\n"
		    "SigIgn:\t0000000000000000\n");
		stop(d);
	}
}

/* Signals reach the program: a script that sends itself SIGTERM ends. */
static void
test_program_signals_itself(void **state)
{
	char out[256];
	struct daemon *d;
	int port;

	(void)state;
	d = start_exec(exec_config("listen = \"127.0.0.1:0\"; model = \"event\"; exec = { argv = ["
	    " \"/bin/sh\", \"-c\", \"echo before; kill -TERM $$; echo after\" ]; };"), &port);
	slurp(tcp_connect("127.0.0.1", port), out, sizeof(out));
	assert_string_equal(out, "before\n");
	assert_true(daemon_wait_log(d, "warning: exec: program", T_MS));
	assert_true(daemon_wait_log(d, "(/bin/sh) killed by signal 15\n", T_MS));
	stop(d);
}

/* /bin/cat: lines come back; our end of writing ends the program. */
static void
cat_round_trip(int port)
{
	char buf[256];
	int fd = tcp_connect("127.0.0.1", port);

	assert_true(fd >= 0);
	for (int i = 0; i < 5; i++) {
		char line[32];
		int n = snprintf(line, sizeof(line), "line %d\n", i);

		assert_int_equal(send_all(fd, line, (size_t)n), 0);
		assert_int_equal(recv_exact(fd, buf, (size_t)n, T_MS), n);
		assert_memory_equal(buf, line, (size_t)n);
	}
	assert_int_equal(shutdown(fd, SHUT_WR), 0);
	assert_true(recv_eof(fd, T_MS));
	close(fd);
}

static void
test_cat_every_model(void **state)
{
	static const char *const models[] = { "model = \"prefork\"",
		"model = \"prefork\"; threads = 2", "model = \"event\"", "model = \"fork\"",
		"model = \"thread\"" };

	(void)state;
	for (size_t i = 0; i < sizeof(models) / sizeof(models[0]); i++) {
		struct daemon *d;
		int port;

		d = start_exec(exec_config("listen = \"127.0.0.1:0\"; %s; exec = { argv = [ \"/bin/cat\" ]; };",
		    models[i]), &port);
		cat_round_trip(port);
		cat_round_trip(port);
		assert_true(daemon_wait_log(d, "info: exec: program", T_MS));
		assert_true(daemon_wait_log(d, "(/bin/cat) exited with status 0", T_MS));
		stop(d);
	}
}

/* A /bin/cat connection that has answered "LABEL\n". */
static int
cat_client(int port, const char *label)
{
	char buf[32], line[32];
	int fd = tcp_connect("127.0.0.1", port), n = snprintf(line, sizeof(line), "%s\n", label);

	assert_true(fd >= 0);
	assert_int_equal(send_all(fd, line, (size_t)n), 0);
	assert_int_equal(recv_exact(fd, buf, (size_t)n, T_MS), n);
	assert_memory_equal(buf, line, (size_t)n);
	return fd;
}

/* max_children = 2: a third client is served only once a program ends. */
static void
test_max_children_waits(void **state)
{
	static const char *const models[] = { "prefork", "thread", "fork" };

	(void)state;
	for (size_t i = 0; i < sizeof(models) / sizeof(models[0]); i++) {
		struct daemon *d;
		char buf[16];
		int port, a, b, c;

		d = start_exec(exec_config("listen = \"127.0.0.1:0\"; model = \"%s\"; max_children = 2;"
		    " exec = { argv = [ \"/bin/cat\" ]; };", models[i]), &port);
		a = cat_client(port, "a");
		b = cat_client(port, "b");
		c = tcp_connect("127.0.0.1", port);
		assert_true(c >= 0);
		assert_int_equal(send_all(c, "c\n", 2), 0);
		if (strcmp(models[i], "fork") != 0)	/* there: the backlog holds it */
			assert_true(daemon_wait_log(d, "2 programs running (max_children):"
			    " waiting for one to end", T_MS));
		assert_int_equal(recv_exact(c, buf, 2, 300), 0);	/* not served yet */
		assert_int_equal(shutdown(a, SHUT_WR), 0);
		assert_true(recv_eof(a, T_MS));
		assert_int_equal(recv_exact(c, buf, 2, T_MS), 2);
		assert_memory_equal(buf, "c\n", 2);
		close(a);
		close(b);
		close(c);
		stop(d);
	}
}

/* The event model cannot wait: the third client is closed, and logged. */
static void
test_max_children_event(void **state)
{
	struct daemon *d;
	int port, a, b, c;

	(void)state;
	d = start_exec(exec_config("listen = \"127.0.0.1:0\"; model = \"event\"; max_children = 2;"
	    " exec = { argv = [ \"/bin/cat\" ]; };"), &port);
	a = cat_client(port, "a");
	b = cat_client(port, "b");
	c = tcp_connect("127.0.0.1", port);
	assert_true(c >= 0);
	assert_true(recv_eof(c, T_MS));
	assert_true(daemon_wait_log(d, "warning: exec: 2 programs running (max_children):"
	    " connection closed", T_MS));
	close(c);
	close(b);	/* a place again, given back before the end is logged */
	assert_true(daemon_wait_log(d, "(/bin/cat) exited with status 0", T_MS));
	cat_round_trip(port);
	close(a);
	stop(d);
}

/* Past timeouts.exec: SIGTERM to the program's process group (the sleep
 * the shell started holds the socket too, and goes with it). */
static void
test_timeout_term(void **state)
{
	static const char *const models[] = { "event", "uring", "fork" };
	char out[64];

	(void)state;
	for (size_t i = 0; i < sizeof(models) / sizeof(models[0]); i++) {
		struct daemon *d;
		int port;

		d = start_exec(exec_config("listen = \"127.0.0.1:0\"; model = \"%s\"; timeouts = { exec = 0.5; };"
		    " exec = { argv = [ \"/bin/sh\", \"-c\", \"echo ready; /bin/sleep 60; echo never\" ]; };",
		    models[i]), &port);
		slurp(tcp_connect("127.0.0.1", port), out, sizeof(out));
		assert_string_equal(out, "ready\n");
		assert_true(daemon_wait_log(d, "ran past timeouts.exec (500 ms): SIGTERM", T_MS));
		assert_true(daemon_wait_log(d, "(/bin/sh) killed by signal 15 after timeouts.exec",
		    T_MS));
		stop(d);
	}
}

/* A program that ignores SIGTERM gets SIGKILL a second later. */
static void
test_timeout_kill(void **state)
{
	char out[64];
	struct daemon *d;
	int port;

	(void)state;
	d = start_exec(exec_config("listen = \"127.0.0.1:0\"; model = \"prefork\"; timeouts = { exec = 0.5; };"
	    " exec = { argv = [ \"/bin/sh\", \"-c\", \"trap '' TERM; echo ready; /bin/sleep 60\" ]; };"),
	    &port);
	slurp(tcp_connect("127.0.0.1", port), out, sizeof(out));
	assert_string_equal(out, "ready\n");
	assert_true(daemon_wait_log(d, "(/bin/sh) killed by signal 9 after timeouts.exec", T_MS));
	stop(d);
}

/* The exit status is logged, and the program's standard error goes to
 * sockd's log, not to the client. */
static void
test_exit_status(void **state)
{
	char out[64];
	struct daemon *d;
	int port;

	(void)state;
	d = start_exec(exec_config("listen = \"127.0.0.1:0\"; exec = { argv = [ \"/bin/sh\", \"-c\","
	    " \"echo oops-on-stderr >&2; echo bye; exit 3\" ]; };"), &port);
	slurp(tcp_connect("127.0.0.1", port), out, sizeof(out));
	assert_string_equal(out, "bye\n");	/* stderr is not the client's */
	assert_true(daemon_wait_log(d, "oops-on-stderr", T_MS));	/* it is sockd's log */
	assert_true(daemon_wait_log(d, "warning: exec: program", T_MS));
	assert_true(daemon_wait_log(d, "(/bin/sh) exited with status 3\n", T_MS));
	stop(d);
}

/* A program running longer than timeouts.heartbeat, and a client waiting
 * as long for a place, hang nothing: the waits keep the heartbeat. (1.5 s,
 * not less: under ASan a fork from a big address space can take a good
 * part of a second, and the forking thread does not tick meanwhile.) */
static void
test_long_program_heartbeat(void **state)
{
	static const char *const models[] = { "model = \"fork\"", "model = \"thread\"",
		"model = \"prefork\"; threads = 2" };
	char out[64];

	(void)state;
	for (size_t i = 0; i < sizeof(models) / sizeof(models[0]); i++) {
		struct daemon *d;
		int port, a, b;

		d = start_exec(exec_config("listen = \"127.0.0.1:0\"; %s; max_children = 1;"
		    " timeouts = { heartbeat = 1.5; }; exec = { argv = [ \"/bin/sh\", \"-c\","
		    " \"/bin/sleep 2; echo done\" ]; };", models[i]), &port);
		a = tcp_connect("127.0.0.1", port);
		b = tcp_connect("127.0.0.1", port);
		slurp(a, out, sizeof(out));
		assert_string_equal(out, "done\n");
		slurp(b, out, sizeof(out));
		assert_string_equal(out, "done\n");
		close(a);
		close(b);
		assert_true(daemon_wait_log(d, "(/bin/sh) exited with status 0", T_MS));
		assert_null(strstr(d->log, "hung"));
		stop(d);
	}
}

#define T(f) cmocka_unit_test_teardown(f, harness_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_environment),
		T(test_env_overrides),
		T(test_fds_and_signal_state),
		T(test_program_signals_itself),
		T(test_cat_every_model),
		T(test_max_children_waits),
		T(test_max_children_event),
		T(test_timeout_term),
		T(test_timeout_kill),
		T(test_exit_status),
		T(test_long_program_heartbeat),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
