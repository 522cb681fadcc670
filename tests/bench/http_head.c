/*
 * http_head.c - what an HTTP request head that arrives a byte at a time
 * costs the parser: every prefix parsed from its start (how the http
 * handler parsed an incomplete head before http_parse_more), then the
 * same bytes fed to http_parse_more, which goes on where it stopped.
 * Prints the CPU time of each; see docs/BENCHMARKS.md. Measures, judges
 * nothing.
 *
 *   tests/bench/http_head [BYTES]     (a head of about BYTES, default 65536)
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "http_parse.h"

#define HEAD_MAX (1 << 20)

static double
cpu_seconds(void)
{
	struct timespec t;

	if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t) == -1) {
		perror("clock_gettime");
		exit(1);
	}
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	static char head[HEAD_MAX];
	const struct http_limits lim = { .max_line = HEAD_MAX, .max_head = HEAD_MAX,
		.max_body = 0 };
	long size = argc > 1 ? atol(argv[1]) : 65536;
	struct http_request req;
	struct http_scan scan = { 0 };
	size_t n;
	long whole = 0, more = 0;
	double t0, t1, t2;

	if (size < 64 || size > HEAD_MAX - 128) {
		fprintf(stderr, "usage: http_head [BYTES], 64 to %d\n", HEAD_MAX - 128);
		return 64;
	}
	n = (size_t)snprintf(head, sizeof(head), "GET / HTTP/1.1\r\nHost: t\r\n");
	while (n + 100 < (size_t)size)
		n += (size_t)snprintf(head + n, sizeof(head) - n, "X-Pad: %090d\r\n", 0);
	n += (size_t)snprintf(head + n, sizeof(head) - n, "\r\n");
	t0 = cpu_seconds();
	for (size_t k = 1; k <= n; k++)
		whole = http_parse_request(head, k, &lim, &req);
	t1 = cpu_seconds();
	for (size_t k = 1; k <= n; k++)
		more = http_parse_more(&scan, head, k, &lim, &req);
	t2 = cpu_seconds();
	if (whole != (long)n || more != (long)n) {
		fprintf(stderr, "http_head: parsed %ld and %ld bytes of %zu\n", whole, more, n);
		return 1;
	}
	printf("head of %zu bytes, a byte per call: from its start each time %.3f s, "
	    "going on %.4f s\n", n, t1 - t0, t2 - t1);
	return 0;
}
