/*
 * test_module.c - the "module" handler through the real binary: the example
 * module tests/modules/hello.so under every model (its configuration read,
 * the client's address seen, per-connection data kept, init and fini run),
 * a module turning clients away in open(),
 * and modules that must be refused, by sockd -t, at startup and at reload,
 * with the file and line of module.path.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

#define T_MS HARNESS_TIMEOUT_MS
#define STARTED "notice: sockd " PACKAGE_VERSION " started"

static char conf[4096];

/* A service "hi" of module MODULE (in tests/modules) with EXTRA settings,
 * framing "line" unless they say otherwise. module.path stands alone on
 * line 4, for the error messages. */
static const char *
config(const char *module, const char *extra)
{
	const char *dir = getenv("SOCKD_BUILDDIR");

	snprintf(conf, sizeof(conf),
	    "%s\n"
	    "services = ( { name = \"hi\"; listen = \"127.0.0.1:0\"; %s\n"
	    "  handler = \"module\"; module = {\n"
	    "    path = \"%s/tests/modules/%s\";\n"
	    "    config = { greeting = \"hi there\"; }; };\n"
	    "  %s } );\n",
	    geteuid() == 0 ? "user = \"nobody\";" : "",
	    strstr(extra, "framing") != NULL ? "" : "framing = \"line\";",
	    dir != NULL ? dir : ".", module, extra);
	return conf;
}

static struct daemon *
start(const char *text, int *port_r)
{
	struct daemon *d = daemon_start(text, "-l", "debug", END);

	*port_r = daemon_port(d, "hi", "127.0.0.1");
	assert_true(*port_r > 0);
	assert_true(daemon_wait_log(d, STARTED, T_MS));
	return d;
}

static void
expect(int fd, const char *text)
{
	char buf[256];
	size_t n = strlen(text);

	assert_int_equal(recv_exact(fd, buf, n, T_MS), (ssize_t)n);
	buf[n] = '\0';
	assert_string_equal(buf, text);
}

/* The greeting names the configured text and this client's own address. */
static int
greeted(int port)
{
	struct sockaddr_in me;
	socklen_t len = sizeof(me);
	char want[128];
	int fd = tcp_connect("127.0.0.1", port);

	assert_true(fd >= 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&me, &len), 0);
	snprintf(want, sizeof(want), "hi there, 127.0.0.1:%d\n", ntohs(me.sin_port));
	expect(fd, want);
	return fd;
}

/* Two clients at once (so threads and the event loop interleave them),
 * each answered, each told goodbye and closed on "bye". */
static void
round_trip(const char *extra)
{
	struct daemon *d;
	int port, a, b;

	d = start(config("hello.so", extra), &port);
	assert_true(daemon_wait_log(d, "hi: greeting \"hi there\"", T_MS));	/* init() */
	a = greeted(port);
	b = greeted(port);
	assert_int_equal(send_all(a, "world\n", 6), 0);
	assert_int_equal(send_all(b, "moon\n", 5), 0);
	expect(b, "hello, moon\n");
	expect(a, "hello, world\n");
	assert_int_equal(send_all(a, "again\nbye\n", 10), 0);
	expect(a, "hello, again\ngoodbye\n");
	assert_true(recv_eof(a, T_MS));
	assert_true(daemon_wait_log(d, "hi: connection closed after 3 messages", T_MS));
	assert_int_equal(send_all(b, "bye\n", 4), 0);
	expect(b, "goodbye\n");
	assert_true(recv_eof(b, T_MS));
	assert_true(daemon_wait_log(d, "hi: connection closed after 2 messages", T_MS));
	close(a);
	close(b);
	assert_int_equal(daemon_stop(d, SIGTERM, T_MS), 0);
	assert_non_null(strstr(d->log, "hi: worker done"));	/* fini() */
	daemon_free(d);
}

static void
test_prefork(void **state)
{
	(void)state;
	round_trip("workers = 2;");
}

static void
test_prefork_threads(void **state)
{
	(void)state;
	round_trip("workers = 1; threads = 2;");
}

static void
test_event(void **state)
{
	(void)state;
	round_trip("model = \"event\"; workers = 1;");
}

static void
test_fork(void **state)
{
	(void)state;
	round_trip("model = \"fork\"; workers = 1;");
}

static void
test_thread(void **state)
{
	(void)state;
	round_trip("model = \"thread\"; workers = 1;");
}

/* Length-prefixed framing: the module's replies are framed like requests. */
static void
test_replies_follow_framing(void **state)
{
	struct daemon *d;
	char buf[64], want[64];
	size_t n;
	int port, fd;

	(void)state;
	d = start(config("hello.so", "workers = 1; framing = \"length16\";"), &port);
	fd = tcp_connect("127.0.0.1", port);
	assert_true(fd >= 0);
	assert_int_equal(recv_exact(fd, buf, 2, T_MS), 2);	/* the greeting, framed */
	n = (size_t)((unsigned char)buf[0] << 8 | (unsigned char)buf[1]);
	assert_in_range(n, strlen("hi there, 127.0.0.1:1"), sizeof(buf));
	assert_int_equal(recv_exact(fd, buf, n, T_MS), (ssize_t)n);
	assert_memory_equal(buf, "hi there, 127.0.0.1:", 20);
	assert_int_equal(send_all(fd, "\0\x02yo", 4), 0);
	memcpy(want, "\0\x09hello, yo", 11);
	assert_int_equal(recv_exact(fd, buf, 11, T_MS), 11);
	assert_memory_equal(buf, want, 11);
	close(fd);
	assert_int_equal(daemon_stop(d, SIGTERM, T_MS), 0);
	daemon_free(d);
}

/* open() returning -1 turns the client away after what it sent; close()
 * still runs and message() never does, blocking or buffered. */
static void
refuse(const char *extra)
{
	struct daemon *d;
	int port, fd;

	d = start(config("refuse.so", extra), &port);
	fd = tcp_connect("127.0.0.1", port);
	assert_true(fd >= 0);
	(void)send_all(fd, "hello?\n", 7);	/* may meet a closed socket already */
	expect(fd, "busy\n");
	assert_true(recv_eof(fd, T_MS));
	close(fd);
	assert_true(daemon_wait_log(d, "hi: refused a client", T_MS));
	assert_int_equal(daemon_stop(d, SIGTERM, T_MS), 0);
	assert_null(strstr(d->log, "message() after open()"));
	daemon_free(d);
}

static void
test_open_refuses(void **state)
{
	(void)state;
	refuse("workers = 1;");
	refuse("model = \"event\"; workers = 1;");
}

/* sockd -t, and a plain start, refuse MODULE with WHY, naming file and line. */
static void
refused(const char *module, const char *why)
{
	char *dir = harness_tmpdir(), *file = harness_write(dir, "bad.conf", config(module, ""));
	char *test[] = { "-t", "-c", file, NULL }, *serve[] = { "-c", file, NULL };
	char *out, *err, want[1024];

	snprintf(want, sizeof(want),
	    "%s:4: services.[0].module.path: cannot load \"%s/tests/modules/%s\": %s",
	    file, getenv("SOCKD_BUILDDIR"), module, why);
	assert_int_equal(harness_run(test, &out, &err), 78);
	if (strstr(err, want) == NULL)
		fail_msg("wanted \"%s\", got \"%s\"", want, err);
	assert_null(strstr(out, "configuration OK"));
	free(out);
	free(err);
	assert_int_equal(harness_run(serve, &out, &err), 78);
	if (strstr(err, want) == NULL)
		fail_msg("wanted \"%s\", got \"%s\"", want, err);
	free(out);
	free(err);
	free(file);
	harness_rmdir(dir);
}

static void
test_wrong_abi(void **state)
{
	(void)state;
	refused("wrong_abi.so", "built for handler ABI 2, this sockd has ABI 1");
}

static void
test_missing_symbol(void **state)
{
	(void)state;
	refused("no_symbol.so", "no symbol \"sockd_handler_v1\"");
}

static void
test_no_such_file(void **state)
{
	(void)state;
	refused("nonexistent.so", "cannot open shared object file");
}

/* A reload naming a bad module fails whole: the old module goes on serving. */
static void
test_reload_refuses_bad_module(void **state)
{
	struct daemon *d;
	char good[4096];
	int port, fd;

	(void)state;
	snprintf(good, sizeof(good), "%s", config("hello.so", "workers = 1;"));
	d = start(good, &port);
	daemon_reload(d, config("wrong_abi.so", "workers = 1;"));
	assert_true(daemon_wait_log(d, "reload failed", T_MS));
	assert_non_null(strstr(d->log, "services.[0].module.path: cannot load"));
	fd = greeted(port);
	assert_int_equal(send_all(fd, "still\n", 6), 0);
	expect(fd, "hello, still\n");
	close(fd);
	assert_int_equal(daemon_stop(d, SIGTERM, T_MS), 0);
	daemon_free(d);
}

/* Behind a load balancer the module API's peer is the client the PROXY
 * header names, not the balancer. */
static void
test_peer_behind_proxy(void **state)
{
	static const char head[] = "PROXY TCP4 192.0.2.44 127.0.0.1 4321 7\r\n";
	struct daemon *d;
	int port, fd;

	(void)state;
	d = start(config("hello.so", "proxy_protocol = true; proxy_trusted = \"127.0.0.1\";"),
	    &port);
	assert_true((fd = tcp_connect("127.0.0.1", port)) >= 0);
	assert_int_equal(send_all(fd, head, sizeof(head) - 1), 0);
	expect(fd, "hi there, 192.0.2.44:4321\n");
	close(fd);
	assert_int_equal(daemon_stop(d, SIGTERM, T_MS), 0);
	daemon_free(d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_peer_behind_proxy, harness_teardown),
		cmocka_unit_test_teardown(test_prefork, harness_teardown),
		cmocka_unit_test_teardown(test_prefork_threads, harness_teardown),
		cmocka_unit_test_teardown(test_event, harness_teardown),
		cmocka_unit_test_teardown(test_fork, harness_teardown),
		cmocka_unit_test_teardown(test_thread, harness_teardown),
		cmocka_unit_test_teardown(test_replies_follow_framing, harness_teardown),
		cmocka_unit_test_teardown(test_open_refuses, harness_teardown),
		cmocka_unit_test(test_wrong_abi),
		cmocka_unit_test(test_missing_symbol),
		cmocka_unit_test(test_no_such_file),
		cmocka_unit_test_teardown(test_reload_refuses_bad_module, harness_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
