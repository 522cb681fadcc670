/*
 * test_http_parse.c - the HTTP/1.1 request head parser: what it accepts,
 * every status it refuses with, that a head split anywhere parses the
 * same as whole, and that a head fed a byte at a time through
 * http_parse_more() has each byte searched once, not once per call.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_parse.h"

static const struct http_limits lim = { .max_line = 64, .max_head = 256, .max_body = 1000 };

static long
parse(const char *text, struct http_request *req)
{
	return http_parse_request(text, strlen(text), &lim, req);
}

/* TEXT must be refused with STATUS. */
static void
refused(const char *text, long status)
{
	struct http_request req;
	long r = parse(text, &req);

	if (r != -status)
		fail_msg("%ld instead of -%ld for \"%s\"", r, status, text);
}

static bool
str_is(struct http_str s, const char *want)
{
	return s.len == strlen(want) && memcmp(s.p, want, s.len) == 0;
}

static void
test_simple_get(void **state)
{
	const char *text = "GET /index.html?q=1 HTTP/1.1\r\nHost: example.org\r\n"
	    "User-Agent: curl/7.88\r\nIf-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\nrest";
	struct http_request req;

	(void)state;
	assert_int_equal(parse(text, &req), (long)(strlen(text) - 4));
	assert_int_equal(req.method, HTTP_GET);
	assert_true(str_is(req.target, "/index.html?q=1"));
	assert_true(str_is(req.host, "example.org"));
	assert_true(str_is(req.user_agent, "curl/7.88"));
	assert_true(str_is(req.if_modified_since, "Sun, 06 Nov 1994 08:49:37 GMT"));
	assert_int_equal(req.minor, 1);
	assert_true(req.keep_alive);
	assert_int_equal(req.content_length, 0);
}

static void
test_keep_alive_rules(void **state)
{
	struct http_request req;

	(void)state;
	assert_true(parse("HEAD / HTTP/1.0\r\n\r\n", &req) > 0);
	assert_int_equal(req.method, HTTP_HEAD);
	assert_false(req.keep_alive);
	assert_true(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &req) > 0);
	assert_true(req.keep_alive);
	assert_true(parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, close\r\n\r\n", &req) > 0);
	assert_false(req.keep_alive);
	assert_true(parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\n\r\n", &req) > 0);
	assert_true(req.keep_alive);
}

static void
test_bodies(void **state)
{
	struct http_request req;

	(void)state;
	assert_true(parse("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\n\r\n", &req) > 0);
	assert_int_equal(req.content_length, 12);
	assert_true(parse("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
	    &req) > 0);
	assert_int_equal(req.content_length, 5);
	refused("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400);
	refused("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n", 400);
	refused("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400);
	refused("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n", 400);
	refused("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1001\r\n\r\n", 413);
	refused("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", 411);
	refused("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 501);
	refused("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", 400);
	refused("GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400);
}

static void
test_smuggling_vectors(void **state)
{
	(void)state;
	refused("GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400);		/* space before colon */
	refused("GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n  folded\r\n\r\n", 400);
	refused("GET / HTTP/1.1\nHost: a\n\n", 400);			/* bare LF */
	refused("GET / HTTP/1.1\r\nHost: a\n\r\n", 400);
	refused("GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n", 400);	/* bare CR */
	refused("GET / HTTP/1.1\r\n\r\n", 400);			/* no Host */
	refused("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400);
	refused("GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", 400);
	refused("GET / HTTP/1.1\r\nHost: a\r\n: empty name\r\n\r\n", 400);
	{
		static const char nul[] = "GET / HTTP/1.1\r\nHost: a\r\nX-Nul: a\0b\r\n\r\n";
		struct http_request req;

		assert_int_equal(http_parse_request(nul, sizeof(nul) - 1, &lim, &req), -400);
	}
}

static void
test_request_line(void **state)
{
	struct http_request req;

	(void)state;
	refused("GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
	refused("GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400);
	refused("GET /\r\n\r\n", 400);					/* HTTP/0.9 */
	refused("GET index.html HTTP/1.1\r\nHost: a\r\n\r\n", 400);
	refused("GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n", 400);
	refused("GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n", 400);
	refused("GET /\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", 400);
	refused("G@T / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
	refused("GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505);
	refused("GET / HTTP/1.2\r\nHost: a\r\n\r\n", 505);
	refused("GET / HTTP/1.10\r\nHost: a\r\n\r\n", 400);
	refused("GET / http/1.1\r\nHost: a\r\n\r\n", 400);
	refused("POST / HTTP/1.1\r\nHost: a\r\n\r\n", 405);
	refused("DELETE / HTTP/1.1\r\nHost: a\r\n\r\n", 405);
	refused("BREW / HTTP/1.1\r\nHost: a\r\n\r\n", 501);
	refused("get / HTTP/1.1\r\nHost: a\r\n\r\n", 501);		/* methods are case-sensitive */
	refused("GET /dir#frag HTTP/1.1\r\nHost: a\r\n\r\n", 400);	/* no fragment (RFC 9112 3.2) */
	refused("GET /# HTTP/1.1\r\nHost: a\r\n\r\n", 400);
	refused("GET /a?q=1#x HTTP/1.1\r\nHost: a\r\n\r\n", 400);
	refused("GET /dir#frag HTTP/1.1\r\n", 400);		/* as soon as the line is in */
	assert_true(parse("GET /a%23b HTTP/1.1\r\nHost: a\r\nX-A: b#c\r\n\r\n", &req) > 0);
	assert_true(parse("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", &req) > 0);
}

static void
test_limits(void **state)
{
	char text[1024];
	struct http_request req;

	(void)state;
	snprintf(text, sizeof(text), "GET /%0*d HTTP/1.1\r\nHost: a\r\n\r\n", 60, 0);
	refused(text, 414);
	snprintf(text, sizeof(text), "GET /%0*d", 70, 0);		/* incomplete, already too long */
	refused(text, 414);
	snprintf(text, sizeof(text), "GET /%0*d", 50, 0);		/* incomplete, still fine */
	assert_int_equal(parse(text, &req), 0);
	snprintf(text, sizeof(text), "GET / HTTP/1.1\r\nHost: a\r\nX: %0*d\r\n\r\n", 250, 0);
	refused(text, 431);
	snprintf(text, sizeof(text), "GET / HTTP/1.1\r\nHost: a\r\nX: %0*d", 250, 0);
	refused(text, 431);
	assert_int_equal(parse("GET / HTTP/1.1\r\nHost: a\r\n", &req), 0);
	assert_int_equal(parse("", &req), 0);
}

/* Every split point of a pipelined stream gives "incomplete" then the
 * same head; the second request starts right after the first. */
static void
test_split_anywhere(void **state)
{
	const char *two = "GET /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
	    "HEAD /b HTTP/1.1\r\nHost: x\r\n\r\n";
	size_t len = strlen(two), first = (size_t)(strstr(two, "abc") - two);
	struct http_request req;

	(void)state;
	for (size_t cut = 0; cut < first; cut++)
		assert_int_equal(http_parse_request(two, cut, &lim, &req), 0);
	assert_int_equal(http_parse_request(two, first, &lim, &req), (long)first);
	assert_int_equal(http_parse_request(two, len, &lim, &req), (long)first);
	assert_int_equal(req.content_length, 3);
	assert_int_equal(http_parse_request(two + first + 3, len - first - 3, &lim, &req),
	    (long)(len - first - 3));
	assert_int_equal(req.method, HTTP_HEAD);
	assert_true(str_is(req.target, "/b"));
}

/* Feed TEXT a byte at a time, copied each time to a fresh buffer (as the
 * handler's buffer may move): 0 until the last byte, and every call
 * starts searching where the previous stopped. The last answer. */
static long
feed_bytewise(const char *text, struct http_request *req)
{
	size_t len = strlen(text);
	struct http_scan scan = { 0 };
	static char copy[2][1024];
	long r = 0;

	assert_true(len < sizeof(copy[0]));
	for (size_t n = 1; n <= len && r == 0; n++) {
		size_t before = scan.done + scan.scanned;

		memcpy(copy[n % 2], text, n);
		r = http_parse_more(&scan, copy[n % 2], n, &lim, req);
		if (r == 0) {
			assert_true(scan.done + scan.scanned == n);	/* all of it seen ... */
			assert_true(before == n - 1);		/* ... and only the new byte searched */
		}
		if (r != 0 && n < len)
			return r;
	}
	return r;
}

static void
test_incremental(void **state)
{
	const char *text = "\r\nGET /x?y HTTP/1.1\r\nHost: example.org\r\n"
	    "Content-Length: 7\r\nConnection: close\r\n\r\n";
	struct http_request req;

	(void)state;
	assert_int_equal(feed_bytewise(text, &req), (long)strlen(text));
	assert_true(str_is(req.target, "/x?y"));
	assert_true(str_is(req.host, "example.org"));
	assert_int_equal(req.content_length, 7);
	assert_false(req.keep_alive);
	/* A line's error shows when the line is in, not only at the end. */
	assert_int_equal(feed_bytewise("GET / HTTP/1.1\r\nHost: a\nX: y\r\n\r\n", &req), -400);
	assert_int_equal(feed_bytewise("GET / HTTP/1.1\r\nHost : a\r\nX: y\r\n\r\n", &req), -400);
	assert_int_equal(feed_bytewise("GET / HTTP/3.0\r\nHost: a\r\n\r\n", &req), -505);
	/* The rules across fields, at the end. */
	assert_int_equal(feed_bytewise("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", &req), -400);
	assert_int_equal(feed_bytewise("GET / HTTP/1.1\r\nHost: a\r\n"
	    "Content-Length: 1\r\nContent-Length: 2\r\n\r\n", &req), -400);
}

/* A header line of max_head bytes fed in slices: the limit holds, and a
 * line's search never starts over. */
static void
test_incremental_limits(void **state)
{
	static char text[1024];
	struct http_scan scan = { 0 };
	struct http_request req;
	long r = 0;
	size_t n;

	(void)state;
	snprintf(text, sizeof(text), "GET / HTTP/1.1\r\nHost: a\r\nX: %0*d\r\n\r\n", 600, 0);
	for (n = 1; n <= strlen(text) && (r = http_parse_more(&scan, text, n, &lim, &req)) == 0; n++)
		assert_int_equal(scan.done + scan.scanned, n);
	assert_int_equal(r, -431);
	assert_int_equal(n, lim.max_head + 1);
	memset(&scan, 0, sizeof(scan));
	snprintf(text, sizeof(text), "GET /%0*d HTTP/1.1\r\n", 100, 0);
	for (n = 1; n <= strlen(text) && (r = http_parse_more(&scan, text, n, &lim, &req)) == 0; n++)
		;
	assert_int_equal(r, -414);
}

static void
test_reasons(void **state)
{
	(void)state;
	assert_string_equal(http_reason(404), "Not Found");
	assert_string_equal(http_reason(431), "Request Header Fields Too Large");
	assert_string_equal(http_reason(299), "Unknown");
}

/* The statuses the http handler answers besides errors. */
static void
test_reasons_of_answers(void **state)
{
	(void)state;
	assert_string_equal(http_reason(204), "No Content");
	assert_string_equal(http_reason(301), "Moved Permanently");
	assert_string_equal(http_reason(304), "Not Modified");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simple_get),
		cmocka_unit_test(test_keep_alive_rules),
		cmocka_unit_test(test_bodies),
		cmocka_unit_test(test_smuggling_vectors),
		cmocka_unit_test(test_request_line),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_split_anywhere),
		cmocka_unit_test(test_incremental),
		cmocka_unit_test(test_incremental_limits),
		cmocka_unit_test(test_reasons),
		cmocka_unit_test(test_reasons_of_answers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
