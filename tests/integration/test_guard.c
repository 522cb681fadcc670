/*
 * test_guard.c - the defences on the accept path, against hostile clients
 * on loopback (any 127.x.y.z is a client of its own): a denied address, an
 * address outside allow, Unix clients by uid, per-IP exhaustion and
 * recovery under each model, a connection flood against limits.rate, a
 * dead worker's places given back, and every refusal counted by reason.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "testlib.h"

#define LINE "  framing = \"line\"; "

static int
connect_from(const char *src, int port)
{
	int fd = tcp_connect_from(src, port);

	assert_true(fd >= 0);
	return fd;
}

/* Is FD served (an echo comes back), or closed at once (refused)? */
static bool
served(int fd)
{
	char buf[8];

	if (send_all(fd, "ping\n", 5) != 0)
		return false;
	return recv_exact(fd, buf, 5, T_MS) == 5 && memcmp(buf, "ping\n", 5) == 0;
}

static bool
served_from(const char *src, int port)
{
	int fd = connect_from(src, port);
	bool ok = served(fd);

	close(fd);
	return ok;
}

static struct daemon *
start_guarded(const char *model, const char *extra, int *port_r)
{
	return start(config("services = ( { name = \"echo\"; listen = \"127.0.0.1:0\";"
	    " handler = \"echo\";" LINE "model = \"%s\"; workers = 2; %s } );", model, extra),
	    port_r);
}

static void
test_allow_deny(void **state)
{
	struct daemon *d;
	int port;

	(void)state;
	d = start_guarded("prefork", "allow = [ \"127.0.0.0/8\" ]; deny = [ \"127.0.0.2\", "
	    "\"127.0.9.0/24\" ];", &port);
	assert_true(served_from("127.0.0.1", port));
	assert_false(served_from("127.0.0.2", port));
	assert_true(served_from("127.0.0.3", port));
	assert_false(served_from("127.0.9.200", port));
	assert_true(daemon_wait_log(d, "echo: refused 127.0.0.2:", T_MS));
	assert_true(daemon_wait_log(d, "not allowed by the address rules", T_MS));
	stop(d);
	/* allow alone: everything outside it is refused. */
	d = start_guarded("event", "allow = \"127.0.0.64/26\";", &port);
	assert_true(served_from("127.0.0.100", port));
	assert_false(served_from("127.0.0.1", port));
	stop(d);
}

/* Two at once per client; the third is refused, another client is not;
 * a closed one makes room again. */
static void
check_per_ip(const char *model)
{
	struct daemon *d;
	int a, b, c, port;
	/* Room for more than two connections at once in every model. */
	const char *room = strcmp(model, "thread") == 0 ? "max_threads = 8;" :
	    strcmp(model, "fork") == 0 ? "max_children = 8;" :
	    strcmp(model, "prefork") == 0 ? "threads = 4;" : "";
	char extra[128];

	snprintf(extra, sizeof(extra), "limits = { per_ip = 2; }; %s", room);
	d = start_guarded(model, extra, &port);
	a = connect_from("127.0.0.20", port);
	b = connect_from("127.0.0.20", port);
	assert_true(served(a));
	assert_true(served(b));
	c = connect_from("127.0.0.20", port);
	assert_false(served(c));
	close(c);
	assert_true(served_from("127.0.0.21", port));
	close(a);
	for (long long end = now_ms() + T_MS; ; usleep(10000)) {
		if (served_from("127.0.0.20", port))
			break;	/* a's place came back once its end was seen */
		assert_true(now_ms() < end);
	}
	assert_true(served(b));
	close(b);
	assert_true(daemon_wait_log(d, "limits.per_ip reached", T_MS));
	stop(d);
}

static void
test_per_ip_prefork(void **state)
{
	(void)state;
	check_per_ip("prefork");
}

static void
test_per_ip_event(void **state)
{
	(void)state;
	check_per_ip("event");
}

static void
test_per_ip_uring(void **state)
{
	(void)state;
	check_per_ip("uring");
}

static void
test_per_ip_thread(void **state)
{
	(void)state;
	check_per_ip("thread");
}

static void
test_per_ip_fork(void **state)
{
	(void)state;
	check_per_ip("fork");
}

/* A flood from one client: about the burst gets through, the rest are
 * refused; a second later the bucket has refilled. */
static void
test_rate_flood(void **state)
{
	struct daemon *d;
	int port, ok = 0;

	(void)state;
	d = start_guarded("event", "limits = { rate = 3; rate_burst = 3; };", &port);
	for (int i = 0; i < 30; i++)
		ok += served_from("127.0.0.30", port);
	assert_true(ok >= 3);
	assert_true(ok < 30);
	assert_true(served_from("127.0.0.31", port));	/* another client is not held back */
	usleep(1100 * 1000);
	assert_true(served_from("127.0.0.30", port));
	assert_true(daemon_wait_log(d, "over limits.rate", T_MS));
	/* Refusals are logged at most once a second per worker (2 workers,
	 * about 2 s of run): a flood cannot flood the log. */
	assert_true(count(d->log, "refused 127.0.0.30:") <= 6);
	assert_true(count(d->log, "refused 127.0.0.30:") < 30 - ok);
	/* The refusals a worker kept quiet are told with its next line, a
	 * second on. Which worker takes a connection is the kernel's choice,
	 * so go on until one that has kept some refuses again. */
	for (long long end = now_ms() + T_MS; !strstr(d->log, "more refused since the last line)");
	    usleep(20000)) {
		assert_true(now_ms() < end);
		served_from("127.0.0.30", port);
		daemon_read_log(d, now_ms() + 1);
	}
	stop(d);
}

/* A worker killed holding connections: the master gives its places back. */
static void
test_dead_worker_gives_back(void **state)
{
	struct daemon *d;
	pid_t pids[8];
	int fd, port;

	(void)state;
	d = start(config("services = ( { name = \"echo\"; listen = \"127.0.0.1:0\";"
	    " handler = \"echo\";" LINE "model = \"event\"; workers = 1;"
	    " limits = { per_ip = 1; }; } );"), &port);
	fd = connect_from("127.0.0.40", port);
	assert_true(served(fd));
	assert_int_equal(daemon_workers(d, pids, 8), 1);
	assert_int_equal(kill(pids[0], SIGKILL), 0);
	close(fd);
	assert_true(daemon_wait_log(d, "places of a dead worker given back", T_MS));
	for (long long end = now_ms() + T_MS; !served_from("127.0.0.40", port); usleep(20000))
		assert_true(now_ms() < end);
	stop(d);
}

/* allow_uid / allow_gid: a Unix client with this test's uid, or its gid,
 * is let in; with neither, it is not. */
static void
test_unix_uid(void **state)
{
	char *dir = harness_tmpdir(), path[512], extra[96];
	struct daemon *d;
	int fd, port;

	(void)state;
	snprintf(path, sizeof(path), "%s/s.sock", dir);
	for (int pass = 0; pass < 3; pass++) {
		if (pass < 2)
			snprintf(extra, sizeof(extra), "allow_uid = [ %u ];",
			    (unsigned)getuid() + (pass == 0 ? 0 : 1));
		else
			snprintf(extra, sizeof(extra), "allow_uid = [ %u ]; allow_gid = [ %u ];",
			    (unsigned)getuid() + 1, (unsigned)getgid());
		d = start_service(config("services = ( { name = \"u\"; listen = [ \"unix:%s\","
		    " \"127.0.0.1:0\" ]; handler = \"echo\";" LINE "%s } );", path, extra), "u", &port);
		assert_true(daemon_wait_log(d, "u: listening on unix:", T_MS));
		assert_true((fd = unix_connect(path)) >= 0);
		assert_true(served(fd) == (pass != 1));
		close(fd);
		stop(d);
	}
	harness_rmdir(dir);
}

/* Every refusal is counted, by reason, in the counters that outlive workers. */
static void
test_refusals_counted(void **state)
{
	char *dir = harness_tmpdir(), *out, *err, sock[512];
	char *args[] = { "status", "--json", "-s", sock, NULL };
	struct daemon *d;
	int port;

	(void)state;
	snprintf(sock, sizeof(sock), "%s/control", dir);
	d = start(config("control = { path = \"%s\"; };\n"
	    "services = ( { name = \"echo\"; listen = \"127.0.0.1:0\"; handler = \"echo\";" LINE
	    " deny = \"127.0.0.50\"; limits = { per_ip = 1; }; } );", sock), &port);
	assert_false(served_from("127.0.0.50", port));
	{
		int a = connect_from("127.0.0.51", port), b;

		assert_true(served(a));
		b = connect_from("127.0.0.51", port);
		assert_false(served(b));
		close(b);
		close(a);
	}
	assert_int_equal(harness_run(args, &out, &err), 0);
	assert_non_null(strstr(out, "\"refused\": {"));
	assert_non_null(strstr(out, "\"rule\": 1,"));
	assert_non_null(strstr(out, "\"per_ip\": 1,"));
	free(out);
	free(err);
	stop(d);
	harness_rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_allow_deny, harness_teardown),
		cmocka_unit_test_teardown(test_per_ip_prefork, harness_teardown),
		cmocka_unit_test_teardown(test_per_ip_event, harness_teardown),
		cmocka_unit_test_teardown(test_per_ip_uring, harness_teardown),
		cmocka_unit_test_teardown(test_per_ip_thread, harness_teardown),
		cmocka_unit_test_teardown(test_per_ip_fork, harness_teardown),
		cmocka_unit_test_teardown(test_rate_flood, harness_teardown),
		cmocka_unit_test_teardown(test_dead_worker_gives_back, harness_teardown),
		cmocka_unit_test_teardown(test_unix_uid, harness_teardown),
		cmocka_unit_test_teardown(test_refusals_counted, harness_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
