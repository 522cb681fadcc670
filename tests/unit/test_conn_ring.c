/*
 * test_conn_ring.c - the connection layer's ring engine (the uring
 * model's: conn_open_ring, conn_received, conn_ring_take, conn_ring_sent)
 * and the event loops' connection lists (conn_list.c), on the real layer
 * and handlers over a socketpair, with the clock given where it matters.
 *
 * The ring engine never sends by itself: answers wait until taken, one
 * buffer in flight at a time, in order; a partial send keeps the rest
 * pending; a failed one breaks the connection; limits.max_output counts
 * what is in flight; the http handler's next answer waits for drained();
 * a lingering connection drops what it receives. The lists expire the
 * handshake, lingering and idle deadlines from their heads, oldest first,
 * and pass a connection that is not quiet during a drain.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "conn.h"
#include "conn_list.h"
#include "handler.h"

#define GET "GET / HTTP/1.1\r\nHost: t\r\n\r\n"
#define MS (int64_t)NS_PER_MS

struct pair {
	struct sockd_config *cfg;
	struct conn *c;
	int fd[2];			/* [0] the connection's, [1] the client's */
};

static bool http_started;

/* A connection of HANDLER with SETTINGS, on the ring engine. */
static void
open_ring(struct pair *p, const char *handler, const char *settings)
{
	char text[1024];
	struct config_errors errs = { 0 };
	struct sockd_addr peer = { 0 };
	const struct config_service *svc;
	const struct handler *h;

	snprintf(text, sizeof(text), "services = ( { name = \"s\"; listen = \"127.0.0.1:0\";"
	    " handler = \"%s\"; framing = \"%s\"; %s } );", handler,
	    strcmp(handler, "http") == 0 ? "raw" : "line", settings);
	p->cfg = config_load_string(text, "test.conf", &errs);
	assert_non_null(p->cfg);
	svc = &p->cfg->services[0];
	h = handler_get(svc);
	assert_non_null(h);
	if (h->start != NULL && strcmp(handler, "http") == 0 && !http_started) {
		assert_int_equal(h->start(svc), 0);
		http_started = true;
	}
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    p->fd), 0);
	p->c = conn_open_ring(p->fd[0], &peer, svc, h, NULL);
	assert_non_null(p->c);
}

static void
close_pair(struct pair *p)
{
	conn_finish(p->c);
	close(p->fd[0]);
	close(p->fd[1]);
	config_free(p->cfg);
}

static void
received(struct pair *p, const char *text)
{
	assert_int_equal(conn_received(p->c, text, (ssize_t)strlen(text)), 1);
}

/* Take what is queued; it must be EXPECT. The buffer is the caller's. */
static char *
take(struct pair *p, const char *expect)
{
	size_t len = 0;
	char *buf = conn_ring_take(p->c, &len);

	assert_non_null(buf);
	assert_int_equal(len, strlen(expect));
	assert_memory_equal(buf, expect, len);
	return buf;
}

/* Nothing goes out until taken; taken, one buffer at a time, in order. */
static void
test_answers_wait_to_be_taken(void **state)
{
	struct pair p;
	char *first, *second, buf[64];
	size_t len;

	(void)state;
	open_ring(&p, "echo", "");
	received(&p, "one\ntwo\n");
	assert_true(conn_pending(p.c));
	assert_int_equal(recv(p.fd[1], buf, sizeof(buf), 0), -1);	/* nothing sent */
	assert_int_equal(errno, EAGAIN);
	first = take(&p, "one\ntwo\n");
	received(&p, "three\n");	/* while the first is in flight */
	assert_null(conn_ring_take(p.c, &len));	/* one in flight at a time */
	assert_int_equal(conn_ring_sent(p.c, 3, false), 1);	/* part of it */
	assert_true(conn_pending(p.c));
	assert_int_equal(conn_ring_sent(p.c, 5, true), 1);	/* the rest */
	free(first);
	assert_true(conn_pending(p.c));	/* "three" still waits */
	second = take(&p, "three\n");
	assert_int_equal(conn_ring_sent(p.c, 6, true), 1);
	free(second);
	assert_false(conn_pending(p.c));
	assert_int_equal(conn_sent(p.c), 14);
	close_pair(&p);
}

/* A send that failed breaks the connection; the client's reset is its end. */
static void
test_failed_send_breaks(void **state)
{
	struct pair p;

	(void)state;
	open_ring(&p, "echo", "");
	received(&p, "x\n");
	free(take(&p, "x\n"));
	assert_int_equal(conn_ring_sent(p.c, -ECONNRESET, true), -1);
	assert_true(conn_broken(p.c));
	assert_true(conn_closing(p.c));
	assert_false(conn_pending(p.c));
	close_pair(&p);
}

/* limits.max_output counts the bytes in flight too. */
static void
test_max_output_counts_flight(void **state)
{
	struct pair p;
	char line[700];
	char *buf;
	size_t len;

	(void)state;
	open_ring(&p, "echo", "limits = { max_output = 1024; };");
	memset(line, 'a', sizeof(line) - 1);
	line[sizeof(line) - 2] = '\n';
	line[sizeof(line) - 1] = '\0';
	received(&p, line);
	assert_non_null(buf = conn_ring_take(p.c, &len));
	assert_int_equal(len, strlen(line));
	/* 699 in flight + 699 more > 1024: closed, though the queue is empty. */
	assert_int_equal(conn_received(p.c, line, (ssize_t)strlen(line)), 1);
	assert_true(conn_broken(p.c));
	free(buf);
	close_pair(&p);
}

/* http answers one request while its answer is out of hand; drained()
 * answers the next when the send completes. */
static void
test_http_next_after_sent(void **state)
{
	struct pair p;
	char *buf;
	size_t len;

	(void)state;
	open_ring(&p, "http", "http = { body = \"hi\\n\"; };");
	received(&p, GET GET);
	assert_non_null(buf = conn_ring_take(p.c, &len));
	assert_non_null(memmem(buf, len, "HTTP/1.1 200", 12));
	assert_null(memmem(buf + 1, len - 1, "HTTP/1.1 200", 12));	/* one answer, not two */
	assert_int_equal(conn_ring_sent(p.c, (int)len, true), 1);
	free(buf);
	assert_true(conn_pending(p.c));	/* the second, answered by drained() */
	assert_non_null(buf = conn_ring_take(p.c, &len));
	assert_non_null(memmem(buf, len, "HTTP/1.1 200", 12));
	assert_int_equal(conn_ring_sent(p.c, (int)len, true), 1);
	free(buf);
	assert_false(conn_pending(p.c));
	close_pair(&p);
}

/* Lingering after an error answer: the answer goes once taken, then our
 * side shuts, and what the client still sends is dropped. */
static void
test_linger_drops(void **state)
{
	struct pair p;
	char *buf, got[256];
	size_t len;
	ssize_t n;

	(void)state;
	open_ring(&p, "http", "http = { body = \"hi\\n\"; };");
	received(&p, "BAD\r\n\r\n");
	assert_true(conn_lingering(p.c));
	assert_non_null(buf = conn_ring_take(p.c, &len));
	assert_non_null(memmem(buf, len, "HTTP/1.1 400", 12));
	assert_int_equal(send(p.fd[0], buf, len, 0), (ssize_t)len);	/* as the ring would */
	assert_int_equal(conn_ring_sent(p.c, (int)len, true), 1);
	free(buf);
	assert_int_equal(conn_received(p.c, GET, (ssize_t)strlen(GET)), 1);	/* dropped */
	assert_false(conn_pending(p.c));
	n = recv(p.fd[1], got, sizeof(got) - 1, 0);
	assert_true(n > 0);
	got[n] = '\0';
	assert_non_null(strstr(got, "HTTP/1.1 400"));
	assert_int_equal(recv(p.fd[1], got, sizeof(got), 0), 0);	/* shut: the end */
	assert_int_equal(conn_received(p.c, NULL, 0), -1);	/* the client's end */
	close_pair(&p);
}

/* A file body: the head is taken with "more follows" (MSG_MORE, so Nagle
 * does not hold the file's first segment for the client's delayed ACK),
 * and the file goes by conn_flush once the head is out. */
static void
test_file_after_head(void **state)
{
	struct pair p;
	char path[] = "/tmp/test_conn_ring.XXXXXX", got[64], *buf;
	int fd = mkstemp(path);
	size_t len;
	ssize_t n;

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(write(fd, "the body", 8), 8);
	open_ring(&p, "echo", "");
	assert_int_equal(conn_send_file(p.c, "HEAD ", 5, fd, 0, 8), 0);
	assert_int_equal(recv(p.fd[1], got, sizeof(got), 0), -1);	/* nothing yet */
	assert_non_null(buf = conn_ring_take(p.c, &len));
	assert_true(conn_ring_more(p.c));
	assert_int_equal(send(p.fd[0], buf, len, 0), (ssize_t)len);	/* as the ring would */
	assert_int_equal(conn_ring_sent(p.c, (int)len, true), 1);
	free(buf);
	assert_true(conn_pending(p.c));	/* the file */
	assert_null(conn_ring_take(p.c, &len));	/* no bytes: the file is flush's */
	assert_int_equal(conn_flush(p.c), 1);
	assert_false(conn_pending(p.c));
	assert_false(conn_ring_more(p.c));
	n = recv(p.fd[1], got, sizeof(got) - 1, 0);
	assert_int_equal(n, 13);
	got[n] = '\0';
	assert_string_equal(got, "HEAD the body");
	close_pair(&p);
}

/* ---- conn_list ---------------------------------------------------------- */

struct expired {
	struct conn_list *l;
	struct conn_entry *seen[8];
	enum conn_timeout why[8];
	int n;
};

static void
on_timeout(void *arg, struct conn_entry *e, enum conn_timeout t)
{
	struct expired *x = arg;

	assert_true(x->n < 8);
	x->seen[x->n] = e;
	x->why[x->n++] = t;
	conn_timed_out(e->c, t);
	conn_list_remove(x->l, e);
}

/* Idle connections expire from the head, oldest first; a touch moves one
 * to the tail; the wait is the head's deadline. */
static void
test_list_idle_order(void **state)
{
	struct pair p[3];
	struct conn_list l = { 0 };
	struct conn_entry e[3] = { 0 };
	struct expired x = { .l = &l };
	int64_t t0 = clock_now();

	(void)state;
	for (int i = 0; i < 3; i++) {
		open_ring(&p[i], "echo", "timeouts = { idle = 1; handshake = 0; };");
		e[i].c = p[i].c;
		conn_list_add(&l, &e[i]);
	}
	conn_list_touch(&l, &e[0], t0 + 500 * MS);	/* now 1, 2, 0 */
	assert_ptr_equal(l.head, &e[1]);
	assert_ptr_equal(l.tail, &e[0]);
	assert_true(conn_list_wait(&l, t0, 5000) <= 1100);	/* opened just after t0 */
	assert_int_equal(conn_list_wait(&l, t0, 300), 300);
	assert_int_equal(conn_list_expire(&l, t0 + 1200 * MS, false, on_timeout, &x), -1);
	assert_int_equal(x.n, 2);
	assert_ptr_equal(x.seen[0], &e[1]);
	assert_ptr_equal(x.seen[1], &e[2]);
	assert_int_equal(x.why[0], CONN_IDLE_OVER);
	assert_ptr_equal(l.head, &e[0]);	/* touched: in time still */
	assert_int_equal(conn_list_expire(&l, t0 + 1600 * MS, false, on_timeout, &x), -1);
	assert_int_equal(x.n, 3);
	assert_null(l.head);
	for (int i = 0; i < 3; i++)
		close_pair(&p[i]);
}

/* timeouts.handshake: a connection whose first message is due is in the
 * handshake list until the message comes; then it leaves it. */
static void
test_list_handshake(void **state)
{
	struct pair p[2];
	struct conn_list l = { 0 };
	struct conn_entry e[2] = { 0 };
	struct expired x = { .l = &l };
	int64_t t0 = clock_now();

	(void)state;
	for (int i = 0; i < 2; i++) {
		open_ring(&p[i], "echo", "timeouts = { idle = 60; handshake = 1; };");
		e[i].c = p[i].c;
		conn_list_add(&l, &e[i]);
	}
	assert_ptr_equal(l.hs.head, &e[0]);
	received(&p[0], "hello\n");	/* its first message */
	conn_list_sort(&l, &e[0]);
	assert_ptr_equal(l.hs.head, &e[1]);
	conn_list_expire(&l, t0 + 1500 * MS, false, on_timeout, &x);
	assert_int_equal(x.n, 1);
	assert_ptr_equal(x.seen[0], &e[1]);
	assert_int_equal(x.why[0], CONN_HANDSHAKE_OVER);
	assert_null(l.hs.head);
	assert_ptr_equal(l.head, &e[0]);
	conn_list_remove(&l, &e[0]);
	for (int i = 0; i < 2; i++)
		close_pair(&p[i]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_answers_wait_to_be_taken),
		cmocka_unit_test(test_failed_send_breaks),
		cmocka_unit_test(test_max_output_counts_flight),
		cmocka_unit_test(test_http_next_after_sent),
		cmocka_unit_test(test_linger_drops),
		cmocka_unit_test(test_file_after_head),
		cmocka_unit_test(test_list_idle_order),
		cmocka_unit_test(test_list_handshake),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
