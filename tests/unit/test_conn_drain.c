/*
 * test_conn_drain.c - the hand-over of a draining worker's connections
 * (conn_drain), on the real connection layer and handlers over a
 * socketpair, with the clock given: the http handler answers keep-alive
 * until the drain and "Connection: close" after it, then lingers and
 * answers nothing pipelined behind; an idle http connection is due
 * CONN_DRAIN_IDLE_MS after its last activity, not before, and never while
 * half a request is in, or without a drain; a request that came but is
 * not read yet keeps it open; an echo connection is never due; a last
 * answer that waits to go out is owed in full before lingering starts.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "conn.h"
#include "handler.h"

#define GET "GET / HTTP/1.1\r\nHost: t\r\n\r\n"
#define MS (int64_t)NS_PER_MS

struct pair {
	struct sockd_config *cfg;
	struct conn *c;
	int fd[2];			/* [0] the connection's, [1] the client's */
};

static char rbuf[65536];
static bool http_started;

static void
open_pair_with(struct pair *p, const char *handler, const char *http)
{
	char text[1024];
	struct config_errors errs = { 0 };
	struct sockd_addr peer = { 0 };
	const struct config_service *svc;
	const struct handler *h;

	snprintf(text, sizeof(text), "services = ( { name = \"s\"; listen = \"127.0.0.1:0\";"
	    " handler = \"%s\"; timeouts = { idle = 60; }; %s } );", handler, http);
	p->cfg = config_load_string(text, "test.conf", &errs);
	assert_non_null(p->cfg);
	svc = &p->cfg->services[0];
	h = handler_get(svc);
	assert_non_null(h);
	/* Once per handler, as a worker does: start() keeps its state in
	 * statics, and a second call would lose the first's. */
	if (h->start != NULL && strcmp(handler, "http") == 0 && !http_started) {
		assert_int_equal(h->start(svc), 0);
		http_started = true;
	}
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    p->fd), 0);
	p->c = conn_open_buffered(p->fd[0], &peer, svc, h, NULL);
	assert_non_null(p->c);
}

static void
open_pair(struct pair *p, const char *handler)
{
	open_pair_with(p, handler, strcmp(handler, "http") == 0 ? "http = { body = \"hi\\n\"; };" :
	    "");
}

static void
close_pair(struct pair *p)
{
	conn_finish(p->c);
	close(p->fd[0]);
	close(p->fd[1]);
	config_free(p->cfg);
}

/* The client sends TEXT; the connection reads it (once). */
static void
client_says(struct pair *p, const char *text, bool read)
{
	assert_int_equal(send(p->fd[1], text, strlen(text), 0), (ssize_t)strlen(text));
	if (read)
		assert_int_equal(conn_input(p->c, rbuf, sizeof(rbuf)), 1);
}

/* All the client has to read now, as a string; *EOF_R: then the end. */
static const char *
client_reads(struct pair *p, bool *eof_r)
{
	static char buf[8192];
	size_t len = 0;
	ssize_t n;

	while ((n = recv(p->fd[1], buf + len, sizeof(buf) - 1 - len, 0)) > 0)
		len += (size_t)n;
	*eof_r = n == 0;
	if (n == -1)
		assert_true(errno == EAGAIN);
	buf[len] = '\0';
	return buf;
}

static int
count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

static void
test_http_answers_close_once_draining(void **state)
{
	struct pair p;
	const char *got;
	bool eof;

	(void)state;
	open_pair(&p, "http");
	client_says(&p, GET, true);
	got = client_reads(&p, &eof);
	assert_int_equal(count(got, "HTTP/1.1 200"), 1);
	assert_null(strstr(got, "Connection: close"));
	assert_false(eof);
	assert_false(conn_lingering(p.c));

	conn_drain(p.c);
	assert_true(conn_draining(p.c));
	client_says(&p, GET GET, true);	/* pipelined: only the first is answered */
	got = client_reads(&p, &eof);
	assert_int_equal(count(got, "HTTP/1.1 200"), 1);
	assert_non_null(strstr(got, "\r\nConnection: close\r\n"));
	assert_true(eof);		/* shut after the answer ... */
	assert_true(conn_lingering(p.c));	/* ... and what follows is dropped */
	assert_false(conn_closing(p.c));
	close_pair(&p);
}

/* HTTP/1.0 keep-alive too. */
static void
test_http10_answers_close_once_draining(void **state)
{
	struct pair p;
	const char *got;
	bool eof;

	(void)state;
	open_pair(&p, "http");
	client_says(&p, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true);
	got = client_reads(&p, &eof);
	assert_non_null(strstr(got, "Connection: keep-alive"));
	conn_drain(p.c);
	client_says(&p, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true);
	got = client_reads(&p, &eof);
	assert_non_null(strstr(got, "\r\nConnection: close\r\n"));
	assert_true(eof);
	close_pair(&p);
}

static void
test_http_idle_due_after_grace(void **state)
{
	struct pair p;
	int64_t at, left;
	bool eof;

	(void)state;
	open_pair(&p, "http");
	client_says(&p, GET, true);
	client_reads(&p, &eof);
	at = conn_active_ns(p.c);
	/* Not draining: only timeouts.idle. */
	assert_int_equal(conn_timeout_check(p.c, at + 5000 * MS, &left), CONN_IN_TIME);
	assert_int_equal(left, 55000);

	conn_drain(p.c);
	assert_int_equal(conn_timeout_check(p.c, at, &left), CONN_IN_TIME);
	assert_int_equal(left, CONN_DRAIN_IDLE_MS);
	assert_int_equal(conn_timeout_check(p.c, at + (CONN_DRAIN_IDLE_MS - 1) * MS, &left),
	    CONN_IN_TIME);
	assert_int_equal(left, 1);
	assert_int_equal(conn_timeout_check(p.c, at + CONN_DRAIN_IDLE_MS * MS, &left),
	    CONN_DRAIN_OVER);
	assert_int_equal(conn_timeout_check(p.c, at + 30000 * MS, &left), CONN_DRAIN_OVER);

	conn_timed_out(p.c, CONN_DRAIN_OVER);
	assert_false(conn_closing(p.c));
	assert_true(conn_lingering(p.c));	/* shut, reading to drop */
	assert_string_equal(client_reads(&p, &eof), "");
	assert_true(eof);
	close_pair(&p);
}

/* Half a request in: it is awaited, and answered with the end. */
static void
test_http_partial_not_due(void **state)
{
	struct pair p;
	int64_t at, left;
	const char *got;
	bool eof;

	(void)state;
	open_pair(&p, "http");
	client_says(&p, GET, true);	/* past timeouts.handshake */
	client_reads(&p, &eof);
	conn_drain(p.c);
	client_says(&p, "GET / HTTP/1.1\r\nHo", true);
	at = conn_active_ns(p.c);
	assert_int_equal(conn_timeout_check(p.c, at + 5000 * MS, &left), CONN_IN_TIME);
	assert_int_equal(left, 55000);
	client_says(&p, "st: t\r\n\r\n", true);
	got = client_reads(&p, &eof);
	assert_int_equal(count(got, "HTTP/1.1 200"), 1);
	assert_non_null(strstr(got, "\r\nConnection: close\r\n"));
	assert_true(eof);
	close_pair(&p);
}

/* Due, but a request has come meanwhile, unread: it is read and answered. */
static void
test_http_request_waiting_not_closed(void **state)
{
	struct pair p;
	int64_t left;
	const char *got;
	bool eof;

	(void)state;
	open_pair(&p, "http");
	conn_drain(p.c);
	client_says(&p, GET, false);
	assert_int_equal(conn_timeout_check(p.c, conn_active_ns(p.c) + CONN_DRAIN_IDLE_MS * MS,
	    &left), CONN_DRAIN_OVER);
	conn_timed_out(p.c, CONN_DRAIN_OVER);
	assert_false(conn_closing(p.c));
	assert_false(conn_lingering(p.c));
	assert_int_equal(conn_input(p.c, rbuf, sizeof(rbuf)), 1);
	got = client_reads(&p, &eof);
	assert_int_equal(count(got, "HTTP/1.1 200"), 1);
	assert_non_null(strstr(got, "\r\nConnection: close\r\n"));
	assert_true(eof);
	close_pair(&p);
}

/* A handler without idle(): the drain changes nothing. */
static void
test_echo_never_due(void **state)
{
	struct pair p;
	int64_t at, left;
	const char *got;
	bool eof;

	(void)state;
	open_pair(&p, "echo");
	conn_drain(p.c);
	client_says(&p, "one\n", true);
	got = client_reads(&p, &eof);
	assert_string_equal(got, "one\n");
	at = conn_active_ns(p.c);
	assert_int_equal(conn_timeout_check(p.c, at + 30000 * MS, &left), CONN_IN_TIME);
	assert_int_equal(left, 30000);
	client_says(&p, "two\n", true);
	assert_string_equal(client_reads(&p, &eof), "two\n");
	assert_false(eof);
	assert_false(conn_lingering(p.c));
	close_pair(&p);
}

/*
 * Event model: an answer that does not go out at once (a file larger than
 * the socket takes) is owed in full; lingering, and its deadline, start
 * once it is out. Last: it starts the http handler again, on files.
 */
static void
test_http_linger_after_queued_answer(void **state)
{
	char dir[] = "/tmp/test_conn_drain.XXXXXX", path[64], http[128];
	static char big[4 << 20];
	struct pair p;
	size_t got = 0;
	int64_t left;
	ssize_t n;
	FILE *fp;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/big", dir);
	memset(big, 'x', sizeof(big));
	assert_non_null(fp = fopen(path, "w"));
	assert_int_equal(fwrite(big, 1, sizeof(big), fp), sizeof(big));
	assert_int_equal(fclose(fp), 0);
	snprintf(http, sizeof(http), "http = { root = \"%s\"; };", dir);
	open_pair_with(&p, "http", http);
	assert_int_equal(handler_get(&p.cfg->services[0])->start(&p.cfg->services[0]), 0);

	conn_drain(p.c);
	client_says(&p, "GET /big HTTP/1.1\r\nHost: t\r\n\r\n", true);
	assert_true(conn_pending(p.c));
	assert_true(conn_lingering(p.c));
	/* Long past the linger's span: still owed, so not over. */
	assert_int_equal(conn_timeout_check(p.c, conn_active_ns(p.c) + (CONN_LINGER_MS + 1000) * MS,
	    &left), CONN_IN_TIME);
	while (conn_pending(p.c)) {
		while ((n = recv(p.fd[1], big, sizeof(big), 0)) > 0)
			got += (size_t)n;
		assert_true(conn_flush(p.c) >= 0);
	}
	while ((n = recv(p.fd[1], big, sizeof(big), 0)) > 0)
		got += (size_t)n;
	assert_int_equal(n, 0);		/* the end, after all of it */
	assert_true(got > sizeof(big));
	assert_int_equal(conn_timeout_check(p.c, clock_now() + (CONN_LINGER_MS - 100) * MS, &left),
	    CONN_IN_TIME);
	assert_int_equal(conn_timeout_check(p.c, clock_now() + CONN_LINGER_MS * MS, &left),
	    CONN_LINGER_OVER);
	close_pair(&p);
	unlink(path);
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_http_answers_close_once_draining),
		cmocka_unit_test(test_http10_answers_close_once_draining),
		cmocka_unit_test(test_http_idle_due_after_grace),
		cmocka_unit_test(test_http_partial_not_due),
		cmocka_unit_test(test_http_request_waiting_not_closed),
		cmocka_unit_test(test_echo_never_due),
		cmocka_unit_test(test_http_linger_after_queued_answer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
