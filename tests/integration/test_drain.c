/*
 * test_drain.c - a draining worker hands its HTTP clients over (issue 13),
 * under every model. A reload (SIGHUP) with keep-alive clients open: one
 * that goes on asking (single requests, and pipelined pairs) gets a
 * whole answer with "Connection: close" and then a clean end, never a
 * reset nor an empty reply, and nothing after it; one that sits idle is
 * closed cleanly a moment later; the old generation's http workers are
 * gone then, long before timeouts.graceful. An echo connection of the
 * same daemon lives through the reload and echoes until it ends; its old
 * worker stays for it, and goes once it ends. A graceful stop (SIGTERM)
 * with a request in progress: it is answered with "Connection: close",
 * and the daemon exits.
 *
 * timeouts.graceful is 30 s, the waits' bounds a few seconds: without the
 * hand-over every old worker would serve on with keep-alive until killed.
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
#include <unistd.h>

#include "testlib.h"

/* Three web connections at once in each: prefork serves one per process. */
static const char *const models[] = {
	"model = \"prefork\"; workers = 3;",
	"model = \"prefork\"; workers = 1; threads = 3;",
	"model = \"event\"; workers = 1;",
	"model = \"uring\"; workers = 1;",
	"model = \"fork\"; workers = 1;",
	"model = \"thread\"; workers = 1;",
};
#define N_MODELS (sizeof(models) / sizeof(models[0]))

#define GET "GET / HTTP/1.1\r\nHost: t\r\n\r\n"
#define BODY "hello\n"
#define BOUND_MS 6000		/* well past the 1 s idle grace, far short of graceful */

static const char *
both(const char *model)
{
	return config("services = ("
	    " { name = \"web\"; listen = \"127.0.0.1:0\"; handler = \"http\"; %s"
	    "   timeouts = { graceful = 30; }; http = { body = \"hello\\n\"; }; },"
	    " { name = \"echo\"; listen = \"127.0.0.1:0\"; handler = \"echo\"; %.*s"
	    "   workers = 1; timeouts = { graceful = 30; }; } );", model,
	    (int)(strchr(model, ';') - model + 1), model);
}

/* One client connection and what it has read but not used. */
struct client {
	int fd;
	char buf[16384];
	size_t len;
};

static void
client_open(struct client *cl, int port)
{
	cl->fd = tcp_connect("127.0.0.1", port);
	cl->len = 0;
	assert_true(cl->fd >= 0);
}

/* Read more within TIMEOUT_MS: bytes, 0 at a clean end, -1 at a reset or
 * the deadline (-2). */
static ssize_t
client_fill(struct client *cl, int timeout_ms)
{
	struct pollfd p = { .fd = cl->fd, .events = POLLIN };
	ssize_t n;

	if (poll(&p, 1, timeout_ms) <= 0)
		return -2;
	do
		n = recv(cl->fd, cl->buf + cl->len, sizeof(cl->buf) - cl->len, 0);
	while (n == -1 && errno == EINTR);
	if (n > 0)
		cl->len += (size_t)n;
	return n;
}

/* One whole response, "hello\n" with status 200; *CLOSE_R: it said
 * "Connection: close". Fails on anything else (an end or a reset first). */
static void
client_response(struct client *cl, bool *close_r)
{
	long long deadline = now_ms() + T_MS;
	char *end, *cl_hdr;
	size_t head, body;

	while ((end = memmem(cl->buf, cl->len, "\r\n\r\n", 4)) == NULL) {
		ssize_t n = client_fill(cl, (int)(deadline - now_ms()));

		if (n <= 0)
			fail_msg("no whole response head (%s, %zu bytes: %.*s)",
			    n == 0 ? "end" : n == -1 ? strerror(errno) : "timeout", cl->len,
			    (int)cl->len, cl->buf);
	}
	head = (size_t)(end - cl->buf) + 4;
	*end = '\0';
	assert_true(strncmp(cl->buf, "HTTP/1.1 200 ", 13) == 0);
	cl_hdr = strstr(cl->buf, "\r\nContent-Length: ");
	assert_non_null(cl_hdr);
	body = strtoul(cl_hdr + 18, NULL, 10);
	assert_int_equal(body, strlen(BODY));
	*close_r = strstr(cl->buf, "\r\nConnection: close") != NULL;
	while (cl->len < head + body) {
		ssize_t n = client_fill(cl, (int)(deadline - now_ms()));

		if (n <= 0)
			fail_msg("response body cut short");
	}
	assert_memory_equal(cl->buf + head, BODY, body);
	memmove(cl->buf, cl->buf + head + body, cl->len - head - body);
	cl->len -= head + body;
}

/* The server's clean end within TIMEOUT_MS, and not a byte before it. */
static bool
client_clean_end(struct client *cl, int timeout_ms)
{
	ssize_t n = client_fill(cl, timeout_ms);

	if (n != 0 || cl->len != 0) {
		fprintf(stderr, "not a clean end: %zd (%s), %zu bytes unread\n", n,
		    n == -1 ? strerror(errno) : n == -2 ? "timeout" : "", cl->len);
		return false;
	}
	return true;
}

static void
client_close(struct client *cl)
{
	close(cl->fd);
	cl->fd = -1;
}

/* Send REQS requests at once; all but the last answered keep-alive: true
 * if the last was the end (then the end follows, and nothing else). */
static bool
client_ask(struct client *cl, int reqs)
{
	char req[2 * sizeof(GET)];
	bool end = false;
	int i;

	snprintf(req, sizeof(req), "%s%s", GET, reqs > 1 ? GET : "");
	assert_int_equal(send_all(cl->fd, req, strlen(req)), 0);
	for (i = 0; i < reqs && !end; i++)
		client_response(cl, &end);
	if (end)
		assert_true(client_clean_end(cl, T_MS));	/* the pipelined one unanswered */
	return end;
}

/* How many of PIDS are still running. */
static size_t
alive(const pid_t *pids, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		k += !pid_gone(pids[i]);
	return k;
}

static bool
wait_alive(struct daemon *d, const pid_t *pids, size_t n, size_t want, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;

	while (alive(pids, n) != want) {
		if (now_ms() > deadline)
			return false;
		daemon_read_log(d, now_ms() + 20);
	}
	return true;
}

static void
reload_in(const char *model)
{
	struct client one, pair, idle, echo;
	bool one_done = false, pair_done = false;
	pid_t old[16];
	size_t n_old, echo_left;
	int port, echo_port;
	struct daemon *d = start_service(both(model), "web", &port);
	long long deadline;

	echo_port = daemon_port(d, "echo", "127.0.0.1");
	assert_true(echo_port > 0);
	client_open(&one, port);
	client_open(&pair, port);
	client_open(&idle, port);
	client_open(&echo, echo_port);
	/* Before: keep-alive, as asked. */
	assert_false(client_ask(&one, 1));
	assert_false(client_ask(&pair, 2));
	assert_false(client_ask(&idle, 1));
	echo_line(echo.fd, "before\n");
	n_old = daemon_workers(d, old, 16);
	assert_true(n_old >= 2);

	daemon_reload(d, both(model));
	/* Clients that go on asking: each gets the end with a whole answer. */
	for (deadline = now_ms() + T_MS; !one_done || !pair_done; usleep(20000)) {
		if (now_ms() > deadline)
			fail_msg("%s: no \"Connection: close\" after the reload", model);
		if (!one_done)
			one_done = client_ask(&one, 1);
		if (!pair_done)
			pair_done = client_ask(&pair, 2);
	}
	client_close(&one);
	client_close(&pair);
	/* The idle one: a clean end, soon. */
	assert_true(client_clean_end(&idle, BOUND_MS));
	client_close(&idle);
	/* The old http workers go; the old echo worker stays for its client. */
	if (!wait_alive(d, old, n_old, 1, BOUND_MS))
		fail_msg("%s: %zu of %zu old workers still running", model, alive(old, n_old),
		    n_old);
	echo_left = 0;
	for (size_t i = 0; i < n_old; i++)
		if (!pid_gone(old[i]))
			echo_left = i;
	usleep(1200 * 1000);	/* longer than the http idle grace: no matter to echo */
	echo_line(echo.fd, "after\n");
	assert_false(pid_gone(old[echo_left]));
	echo_line(echo.fd, "still\n");
	client_close(&echo);
	assert_true(wait_alive(d, old, n_old, 0, BOUND_MS));
	/* The new generation serves, keep-alive again. */
	client_open(&one, port);
	assert_false(client_ask(&one, 1));
	assert_false(client_ask(&one, 1));
	client_close(&one);
	stop(d);
}

static void
test_reload(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_MODELS; i++)
		reload_in(models[i]);
}

/* SIGTERM while a request is on its way: answered, with the end. */
static void
stop_in(const char *model)
{
	struct client cl;
	bool end;
	int port, fd;
	long long deadline;
	struct daemon *d = start_service(both(model), "web", &port);

	client_open(&cl, port);
	assert_false(client_ask(&cl, 1));
	assert_int_equal(send_all(cl.fd, GET, 10), 0);	/* half a request */
	assert_int_equal(kill(d->pid, SIGTERM), 0);
	/* Every worker has drained once the port refuses (the master closed
	 * its listeners at once). */
	for (deadline = now_ms() + T_MS; (fd = tcp_connect("127.0.0.1", port)) >= 0;
	    usleep(10000)) {
		close(fd);
		if (now_ms() > deadline)
			fail_msg("%s: still accepting after SIGTERM", model);
	}
	usleep(100 * 1000);	/* the drain reaches the connection just after */
	assert_int_equal(send_all(cl.fd, &GET[10], strlen(GET) - 10), 0);
	client_response(&cl, &end);
	assert_true(end);
	assert_true(client_clean_end(&cl, T_MS));
	client_close(&cl);
	assert_int_equal(daemon_stop(d, 0, BOUND_MS), 0);
	daemon_free(d);
}

static void
test_stop(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_MODELS; i++)
		stop_in(models[i]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_reload, harness_teardown),
		cmocka_unit_test_teardown(test_stop, harness_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
