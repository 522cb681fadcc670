/*
 * fuzz_http_parse.c - a fuzz target for the HTTP request head parser.
 *
 * Built two ways: with clang -fsanitize=fuzzer as a libFuzzer target
 * (`make fuzz`), and as part of tests/fuzz/fuzz_http_replay, which
 * `make check` runs on a fixed set of mutated requests. Either way every
 * answer of the parser is checked against what http_parse.h promises, fed
 * whole and fed in pieces through http_parse_more(); a broken promise
 * aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct http_limits fuzz_lim = { .max_line = 512, .max_head = 2048, .max_body = 4096 };

static void
fuzz_within(const char *buf, size_t len, struct http_str s)
{
	if (s.len > 0 && (s.p < buf || s.p + s.len > buf + len))
		abort();
}

static void
fuzz_check_request(const char *buf, size_t len, long r, const struct http_request *req)
{
	if ((size_t)r > len || r < 4 || memcmp(buf + r - 4, "\r\n\r\n", 4) != 0)
		abort();
	if (req->method == HTTP_OTHER || req->target.len == 0 || req->target.p[0] != '/')
		abort();
	if (req->minor != 0 && req->minor != 1)
		abort();
	if (req->content_length > fuzz_lim.max_body)
		abort();
	fuzz_within(buf, (size_t)r, req->target);
	fuzz_within(buf, (size_t)r, req->host);
	fuzz_within(buf, (size_t)r, req->if_modified_since);
	if (memchr(buf, '\0', (size_t)r) != NULL || memchr(req->target.p, '#', req->target.len) != NULL)
		abort();	/* no NUL anywhere, no fragment in the target */
}

/* The same bytes fed in pieces (their size from the first byte) through
 * http_parse_more must give the same head, or an error where the whole
 * gave one (the first limit or rule broken may differ). */
static void
fuzz_check_pieces(const char *buf, size_t size, long whole, const struct http_request *req)
{
	struct http_scan scan = { 0 };
	struct http_request inc;
	size_t step = size > 0 ? 1 + (unsigned char)buf[0] % 16 : 1, len = 0;
	long r = 0;

	do {
		len = len + step < size ? len + step : size;
		r = http_parse_more(&scan, buf, len, &fuzz_lim, &inc);
	} while (r == 0 && len < size);
	if ((whole < 0) != (r < 0) || (whole >= 0 && r != whole))
		abort();
	if (r > 0 && (inc.target.p != req->target.p || inc.target.len != req->target.len ||
	    inc.host.p != req->host.p || inc.content_length != req->content_length ||
	    inc.keep_alive != req->keep_alive))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct http_request req;
	long r = http_parse_request(buf, size, &fuzz_lim, &req);

	fuzz_check_pieces(buf, size, r, &req);

	if (r > 0)
		fuzz_check_request(buf, size, r, &req);
	else if (r == 0 && size > fuzz_lim.max_head)
		abort();	/* incomplete beyond the limit: must have been refused */
	else if (r < 0 && r != -400 && r != -405 && r != -411 && r != -413 && r != -414 &&
	    r != -431 && r != -501 && r != -505)
		abort();
	return 0;
}
