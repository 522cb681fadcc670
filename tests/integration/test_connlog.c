/*
 * test_connlog.c - the debug line at every connection's end, through the
 * real binary at log_level debug: its service, peer, duration, bytes in
 * and out, messages, and why the connection ended (the client closed it,
 * the handler did, timeouts.idle, limits.max_output, a protocol error, a
 * worker told to go now) under the blocking models and the event model; and no such
 * line below debug.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "testlib.h"

static const char *const models[] = { "prefork", "thread", "fork", "event", "uring" };

/* A debug echo service of MODEL with EXTRA settings, and its port. */
static struct daemon *
start_echo(const char *model, const char *framing, const char *extra, int *port_r)
{
	return start(config("log_level = \"debug\";\n"
	    "services = ( { name = \"echo\"; handler = \"echo\"; framing = \"%s\";"
	    " listen = \"127.0.0.1:0\"; model = \"%s\"; workers = 1; %s } );\n",
	    framing, model, extra), port_r);
}

/* The client's end of FD, as sockd names its peer. */
static int
local_port(int fd)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	return ntohs(sin.sin_port);
}

/*
 * Wait for the end line of the connection from 127.0.0.1:PORT of service
 * SVC and check it against PATTERN (what follows "closed after", an
 * extended regex); returns it for more checks.
 */
static const char *
end_line(struct daemon *d, const char *svc, int port, const char *pattern)
{
	static char line[1024];
	char head[128], full[1024];
	const char *at = NULL, *eol;
	long long end = now_ms() + T_MS;
	regex_t re;
	int r;

	snprintf(head, sizeof(head), "debug: %s: 127.0.0.1:%d: closed after ", svc, port);
	while ((at = strstr(d->log, head)) == NULL || strchr(at, '\n') == NULL)
		if (!daemon_read_log(d, end))
			fail_msg("no \"%s\" line in:\n%s", head, d->log);
	eol = strchr(at, '\n');
	snprintf(line, sizeof(line), "%.*s", (int)(eol - at), at);
	snprintf(full, sizeof(full), "^debug: %s: 127\\.0\\.0\\.1:%d: closed after "
	    "[0-9]+\\.[0-9]{3} s, %s$", svc, port, pattern);
	assert_int_equal(regcomp(&re, full, REG_EXTENDED | REG_NOSUB), 0);
	r = regexec(&re, line, 0, NULL, 0);
	regfree(&re);
	if (r != 0)
		fail_msg("\"%s\" does not match /%s/", line, full);
	return line;
}

/* Two messages, then the client closes: every model. */
static void
test_client_closed(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(models) / sizeof(models[0]); i++) {
		struct daemon *d;
		int port, fd, me;

		d = start_echo(models[i], "line", "", &port);
		assert_true((fd = tcp_connect("127.0.0.1", port)) >= 0);
		me = local_port(fd);
		echo_line(fd, "a\n");
		echo_line(fd, "bb\n");
		close(fd);
		end_line(d, "echo", me,
		    "5 bytes in, 5 bytes out, 2 messages \\(client closed\\)");
		stop(d);
	}
}

/* timeouts.idle, under a blocking model and the event model; the
 * duration is at least the timeout. */
static void
test_idle_timeout(void **state)
{
	static const char *const idle_models[] = { "prefork", "event", "uring" };

	(void)state;
	for (size_t i = 0; i < sizeof(idle_models) / sizeof(idle_models[0]); i++) {
		struct daemon *d;
		const char *line;
		int port, fd, me;

		d = start_echo(idle_models[i], "line",
		    "timeouts = { idle = 1; heartbeat = 0.4; };", &port);
		assert_true((fd = tcp_connect("127.0.0.1", port)) >= 0);
		me = local_port(fd);
		echo_line(fd, "hi\n");
		assert_true(recv_eof(fd, T_MS));
		close(fd);
		line = end_line(d, "echo", me,
		    "3 bytes in, 3 bytes out, 1 message \\(idle timeout\\)");
		if (strstr(line, "closed after 0.") != NULL)
			fail_msg("%s: closed before the idle timeout: %s", idle_models[i], line);
		stop(d);
	}
}

/* The event model closes a client that lets more than max_output of
 * answers pile up (test_event.c's setting): the whole request was read,
 * part of its echo went out. */
static void
test_output_limit(void **state)
{
	static char msg[4 + 12 * 1024 * 1024];
	uint32_t len = 12 * 1024 * 1024;
	struct daemon *d;
	int port, fd, me, rcv = 4096;

	(void)state;
	d = start_echo("event", "length32",
	    "limits = { max_message = 16777216; max_output = 65536; };", &port);
	assert_true((fd = tcp_connect("127.0.0.1", port)) >= 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv)), 0);
	me = local_port(fd);
	msg[0] = (char)(len >> 24), msg[1] = (char)(len >> 16), msg[2] = (char)(len >> 8);
	msg[3] = (char)len;
	assert_int_equal(send_all(fd, msg, sizeof(msg)), 0);
	end_line(d, "echo", me, "12582916 bytes in, [0-9]+ bytes out, 1 message \\(output limit\\)");
	close(fd);
	stop(d);
}

/* http answers "Connection: close" and closes: the handler's doing. */
static void
test_handler_closed(void **state)
{
	static const char req[] = "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	struct daemon *d;
	char buf[256];
	int port, fd, me;

	(void)state;
	d = start_service(config("log_level = \"debug\";\n"
	    "services = ( { name = \"web\"; handler = \"http\"; listen = \"127.0.0.1:0\";"
	    " workers = 1; http = { body = \"ok\\n\"; }; } );\n"), "web", &port);
	assert_true((fd = tcp_connect("127.0.0.1", port)) >= 0);
	me = local_port(fd);
	assert_int_equal(send_all(fd, req, sizeof(req) - 1), 0);
	assert_true(recv_exact(fd, buf, 12, T_MS) == 12);
	assert_memory_equal(buf, "HTTP/1.1 200", 12);
	end_line(d, "web", me, "[0-9]+ bytes in, [0-9]+ bytes out, 1 message \\(handler closed\\)");
	close(fd);
	stop(d);
}

/* A message longer than max_message: the framing refuses it. */
static void
test_protocol_error(void **state)
{
	struct daemon *d;
	char big[300];
	int port, fd, me;

	(void)state;
	d = start_echo("prefork", "line", "limits = { max_message = 256; };", &port);
	assert_true((fd = tcp_connect("127.0.0.1", port)) >= 0);
	me = local_port(fd);
	memset(big, 'x', sizeof(big));
	assert_int_equal(send_all(fd, big, sizeof(big)), 0);
	assert_true(recv_eof(fd, T_MS));
	end_line(d, "echo", me, "300 bytes in, 0 bytes out, 0 messages \\(protocol error\\)");
	close(fd);
	stop(d);
}

/* A worker told to go now (SIGQUIT, as from systemctl kill) with a client
 * connected. */
static void
test_stopping(void **state)
{
	static const char *const stop_models[] = { "prefork", "event", "uring" };

	(void)state;
	for (size_t i = 0; i < sizeof(stop_models) / sizeof(stop_models[0]); i++) {
		struct daemon *d;
		pid_t worker;
		int port, fd, me;

		d = start_echo(stop_models[i], "line", "", &port);
		assert_true((fd = tcp_connect("127.0.0.1", port)) >= 0);
		me = local_port(fd);
		echo_line(fd, "x\n");
		assert_int_equal(daemon_workers(d, &worker, 1), 1);
		assert_int_equal(kill(worker, SIGQUIT), 0);
		end_line(d, "echo", me, "2 bytes in, 2 bytes out, 1 message \\(stopping\\)");
		close(fd);
		stop(d);
	}
}

/* Below debug: no end line (and none is made). */
static void
test_not_at_info(void **state)
{
	struct daemon *d;
	int port, fd;

	(void)state;
	d = start(config("log_level = \"info\";\n"
	    "services = ( { name = \"echo\"; handler = \"echo\"; framing = \"line\";"
	    " listen = \"127.0.0.1:0\"; workers = 1; } );\n"), &port);
	assert_true((fd = tcp_connect("127.0.0.1", port)) >= 0);
	echo_line(fd, "a\n");
	close(fd);
	assert_true(answers(port));	/* the first one has ended by now */
	assert_int_equal(daemon_stop(d, SIGTERM, T_MS), 0);
	assert_null(strstr(d->log, "closed after"));
	daemon_free(d);
}

#define T(f) cmocka_unit_test_teardown(f, harness_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_client_closed),
		T(test_idle_timeout),
		T(test_output_limit),
		T(test_handler_closed),
		T(test_protocol_error),
		T(test_stopping),
		T(test_not_at_info),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
