/*
 * test_proxy.c - the PROXY protocol header parser: v1 lines (TCP4, TCP6,
 * UNKNOWN) and v2 headers (PROXY over INET, INET6, UNIX, LOCAL, UNSPEC,
 * with TLVs), the client's bytes after them left alone; every malformed
 * form with its error; every prefix of a header "need more", and every
 * prefix of a bad one "need more" until the error and that error after;
 * the bounds of both versions, the v2 one decided from 16 bytes.
 *
 * Each parse is of a buffer allocated to its exact length, so that a
 * read past it is an error under ASan, and *OUT is checked to be left
 * alone unless a header was found.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "proxy.h"

#define POISON 0x5a

static const uint8_t sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

/* proxy_parse on a copy of the first LEN bytes of BUF, exactly that long. */
static long
parse(const void *buf, size_t len, struct proxy_header *h)
{
	struct proxy_header poison;
	uint8_t *copy = malloc(len > 0 ? len : 1);
	long r;

	assert_non_null(copy);
	memcpy(copy, buf, len);
	memset(h, POISON, sizeof(*h));
	memset(&poison, POISON, sizeof(poison));
	r = proxy_parse(copy, len, h);
	free(copy);
	if (r <= 0)
		assert_memory_equal(h, &poison, sizeof(*h));
	else
		assert_int_equal(h->len, r);
	return r;
}

/*
 * BUF (LEN bytes) fed as it would arrive, a byte more each time: "need
 * more" up to the point where it is decided, then the answer for the
 * whole, the same header (or error) for every longer prefix. Returns the
 * answer; *H is the header of the whole.
 */
static long
fed(const void *buf, size_t len, struct proxy_header *h)
{
	struct proxy_header part;
	long whole = parse(buf, len, h), r;
	size_t k;
	bool decided = false;

	for (k = 0; k <= len; k++) {
		r = parse(buf, k, &part);
		if (r == PROXY_NEED_MORE) {
			assert_false(decided);
			continue;
		}
		if (!decided && r > 0)
			assert_int_equal(r, k);		/* not before its last byte */
		decided = true;
		assert_int_equal(r, whole);
		if (r > 0) {
			assert_int_equal(part.len, h->len);
			assert_int_equal(part.version, h->version);
			assert_int_equal(part.local, h->local);
			assert_int_equal(part.stream, h->stream);
			assert_int_equal(part.src_len, h->src_len);
			assert_int_equal(part.dst_len, h->dst_len);
			assert_memory_equal(&part.src, &h->src, sizeof(part.src));
			assert_memory_equal(&part.dst, &h->dst, sizeof(part.dst));
		}
	}
	return whole;
}

static long
fed_str(const char *s, struct proxy_header *h)
{
	return fed(s, strlen(s), h);
}

static void
assert_in(const struct sockaddr_storage *ss, socklen_t len, const char *addr, unsigned port)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
	struct in_addr want;

	assert_int_equal(ss->ss_family, AF_INET);
	assert_int_equal(len, sizeof(struct sockaddr_in));
	assert_int_equal(inet_pton(AF_INET, addr, &want), 1);
	assert_int_equal(sin->sin_addr.s_addr, want.s_addr);
	assert_int_equal(ntohs(sin->sin_port), port);
}

static void
assert_in6(const struct sockaddr_storage *ss, socklen_t len, const char *addr, unsigned port)
{
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
	struct in6_addr want;

	assert_int_equal(ss->ss_family, AF_INET6);
	assert_int_equal(len, sizeof(struct sockaddr_in6));
	assert_int_equal(inet_pton(AF_INET6, addr, &want), 1);
	assert_memory_equal(&sin6->sin6_addr, &want, sizeof(want));
	assert_int_equal(ntohs(sin6->sin6_port), port);
}

static void
assert_local(const struct proxy_header *h)
{
	assert_true(h->local);
	assert_int_equal(h->src.ss_family, AF_UNSPEC);
	assert_int_equal(h->dst.ss_family, AF_UNSPEC);
	assert_int_equal(h->src_len, 0);
	assert_int_equal(h->dst_len, 0);
}

/* ---- version 1 ------------------------------------------------------- */

static void
test_v1_tcp4(void **state)
{
	const char *line = "PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n";
	char buf[128];
	struct proxy_header h;

	(void)state;
	assert_int_equal(fed_str(line, &h), strlen(line));
	assert_int_equal(h.version, 1);
	assert_false(h.local);
	assert_true(h.stream);
	assert_in(&h.src, h.src_len, "192.0.2.1", 56324);
	assert_in(&h.dst, h.dst_len, "198.51.100.2", 443);

	/* The client's first bytes follow: not part of the header. */
	strcpy(buf, line);
	strcat(buf, "GET / HTTP/1.1\r\n\r\n");
	assert_int_equal(parse(buf, strlen(buf), &h), strlen(line));
	strcpy(buf, line);
	strcat(buf, "PROXY TCP4 10.0.0.1 10.0.0.2 1 2\r\n");
	assert_int_equal(parse(buf, strlen(buf), &h), strlen(line));
	assert_in(&h.src, h.src_len, "192.0.2.1", 56324);

	/* The ends of the ranges. */
	line = "PROXY TCP4 0.0.0.0 255.255.255.255 0 65535\r\n";
	assert_int_equal(fed_str(line, &h), strlen(line));
	assert_in(&h.src, h.src_len, "0.0.0.0", 0);
	assert_in(&h.dst, h.dst_len, "255.255.255.255", 65535);
}

static void
test_v1_tcp6(void **state)
{
	const char *line = "PROXY TCP6 2001:db8::1 ::ffff:198.51.100.2 1 80\r\n";
	struct proxy_header h;

	(void)state;
	assert_int_equal(fed_str(line, &h), strlen(line));
	assert_int_equal(h.version, 1);
	assert_false(h.local);
	assert_true(h.stream);
	assert_in6(&h.src, h.src_len, "2001:db8::1", 1);
	assert_in6(&h.dst, h.dst_len, "::ffff:198.51.100.2", 80);

	/* The longest addresses: 104 bytes in all. */
	line = "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	    "FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF 65535 65535\r\n";
	assert_int_equal(fed_str(line, &h), 104);
	assert_in6(&h.src, h.src_len, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535);
	assert_in6(&h.dst, h.dst_len, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535);
	line = "PROXY TCP6 :: ::1 0 0\r\nrest";
	assert_int_equal(fed_str(line, &h), strlen(line) - 4);
	assert_in6(&h.src, h.src_len, "::", 0);
}

static void
test_v1_unknown(void **state)
{
	static const char *lines[] = {
		"PROXY UNKNOWN\r\n",
		"PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n",
		"PROXY UNKNOWN 1.2.3.4 5.6.7.8 1 2\r\n",
		"PROXY UNKNOWN \r\n",
		"PROXY UNKNOWN  anything\tat all, even \x01 or \x7f\r\n",
	};
	struct proxy_header h;
	char buf[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		assert_int_equal(fed_str(lines[i], &h), strlen(lines[i]));
		assert_int_equal(h.version, 1);
		assert_false(h.stream);
		assert_local(&h);
		strcpy(buf, lines[i]);
		strcat(buf, "\r\nhello\n");
		assert_int_equal(parse(buf, strlen(buf), &h), strlen(lines[i]));
	}
}

/* The longest line the spec allows, and one byte more. */
static void
test_v1_length(void **state)
{
	char line[PROXY_V1_MAX + 8];
	struct proxy_header h;

	(void)state;
	memset(line, 'x', sizeof(line));
	memcpy(line, "PROXY UNKNOWN ", 14);
	memcpy(line + PROXY_V1_MAX - 2, "\r\n", 2);
	assert_int_equal(fed(line, PROXY_V1_MAX + 8, &h), PROXY_V1_MAX);
	assert_local(&h);

	/* 108 bytes with the CRLF: too long, and known at 107. */
	memset(line, 'x', sizeof(line));
	memcpy(line, "PROXY UNKNOWN ", 14);
	memcpy(line + PROXY_V1_MAX - 1, "\r\n", 2);
	assert_int_equal(fed(line, PROXY_V1_MAX + 1, &h), PROXY_ETOOLONG);
	assert_int_equal(parse(line, PROXY_V1_MAX, &h), PROXY_ETOOLONG);
	assert_int_equal(parse(line, PROXY_V1_MAX - 1, &h), PROXY_NEED_MORE);

	/* No CRLF at all: "need more" up to 106 bytes, too long at 107. */
	memset(line, 'x', sizeof(line));
	memcpy(line, "PROXY UNKNOWN ", 14);
	assert_int_equal(parse(line, PROXY_V1_MAX - 1, &h), PROXY_NEED_MORE);
	assert_int_equal(fed(line, PROXY_V1_MAX, &h), PROXY_ETOOLONG);
	assert_int_equal(parse(line, sizeof(line), &h), PROXY_ETOOLONG);

	/* A TCP4 line padded with a port field never ends: too long too. */
	memset(line, '1', sizeof(line));
	memcpy(line, "PROXY TCP4 1.2.3.4 5.6.7.8 ", 27);
	assert_int_equal(fed(line, sizeof(line), &h), PROXY_EADDRESS);	/* 111111 > 65535 */
}

/* Malformed v1 lines, each with its error: every prefix of one is "need
 * more" or that error, and the error comes at the latest with the line. */
static void
test_v1_malformed(void **state)
{
	static const struct {
		const char *line;
		long err;
	} bad[] = {
		{ "PROXZ TCP4 1.2.3.4 5.6.7.8 1 2\r\n", PROXY_ESIGNATURE },
		{ "proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n", PROXY_ESIGNATURE },
		{ "PROXY\tTCP4 1.2.3.4 5.6.7.8 1 2\r\n", PROXY_ESIGNATURE },
		{ "PROXY\r\n", PROXY_ESIGNATURE },
		{ "GET / HTTP/1.1\r\n", PROXY_ESIGNATURE },
		{ "PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n", PROXY_ESYNTAX },
		{ "PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n", PROXY_ESYNTAX },
		{ "PROXY TCP 1.2.3.4 5.6.7.8 1 2\r\n", PROXY_ESYNTAX },
		{ "PROXY TCP44 1.2.3.4 5.6.7.8 1 2\r\n", PROXY_ESYNTAX },
		{ "PROXY UNKNOWNX\r\n", PROXY_ESYNTAX },
		{ "PROXY UNKNOWN\n", PROXY_ESYNTAX },
		{ "PROXY UNKNOWN foo\rbar\r\n", PROXY_ESYNTAX },
		{ "PROXY UNKNOWN foo\nbar\r\n", PROXY_ESYNTAX },
		{ "PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n", PROXY_ESYNTAX },
		{ "PROXY \r\n", PROXY_ESYNTAX },
		{ "PROXY TCP4\r\n", PROXY_ESYNTAX },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", PROXY_ESYNTAX },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n", PROXY_ESYNTAX },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n", PROXY_ESYNTAX },
		{ "PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n", PROXY_ESYNTAX },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8  1 2\r\n", PROXY_ESYNTAX },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 1  2\r\n", PROXY_ESYNTAX },
		{ "PROXY TCP4  5.6.7.8 1 2\r\n", PROXY_ESYNTAX },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", PROXY_ESYNTAX },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\r\n", PROXY_ESYNTAX },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rx", PROXY_ESYNTAX },
		{ "PROXY TCP4 1.2.3.4\n5.6.7.8 1 2\r\n", PROXY_ESYNTAX },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n\r\n", PROXY_ESYNTAX },
		{ "PROXY TCP4 ::1 5.6.7.8 1 2\r\n", PROXY_EADDRESS },
		{ "PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n", PROXY_EADDRESS },
		{ "PROXY TCP4 1.2.3.4.5 5.6.7.8 1 2\r\n", PROXY_EADDRESS },
		{ "PROXY TCP4 1.2.3. 5.6.7.8 1 2\r\n", PROXY_EADDRESS },
		{ "PROXY TCP4 .1.2.3 5.6.7.8 1 2\r\n", PROXY_EADDRESS },
		{ "PROXY TCP4 1..2.3 5.6.7.8 1 2\r\n", PROXY_EADDRESS },
		{ "PROXY TCP4 256.1.1.1 5.6.7.8 1 2\r\n", PROXY_EADDRESS },
		{ "PROXY TCP4 1.2.3.4 5.6.7.256 1 2\r\n", PROXY_EADDRESS },
		{ "PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n", PROXY_EADDRESS },
		{ "PROXY TCP4 1.2.3.4\t5.6.7.8 1 2\r\n", PROXY_EADDRESS },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8\t1 2\r\n", PROXY_EADDRESS },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n", PROXY_EADDRESS },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n", PROXY_EADDRESS },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n", PROXY_EADDRESS },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n", PROXY_EADDRESS },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n", PROXY_EADDRESS },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 00\r\n", PROXY_EADDRESS },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 0x10\r\n", PROXY_EADDRESS },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\t\r\n", PROXY_EADDRESS },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 2x\r\n", PROXY_EADDRESS },
		{ "PROXY TCP6 1.2.3.4 ::1 1 2\r\n", PROXY_EADDRESS },
		{ "PROXY TCP6 ::1 ::g 1 2\r\n", PROXY_EADDRESS },
		{ "PROXY TCP6 1:2:3:4:5:6:7:8:9 ::1 1 2\r\n", PROXY_EADDRESS },
		{ "PROXY TCP6 1::2::3 ::1 1 2\r\n", PROXY_EADDRESS },
		{ "PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n", PROXY_EADDRESS },
		{ "PROXY TCP6 [::1] ::1 1 2\r\n", PROXY_EADDRESS },
		{ "PROXY TCP6 ::1 ::1 65536 2\r\n", PROXY_EADDRESS },
	};
	struct proxy_header h;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		long r = fed_str(bad[i].line, &h);

		if (r != bad[i].err)
			fail_msg("line %zu: %ld, not %ld", i, r, bad[i].err);
	}
}

/* Errors come as soon as the bytes cannot become a header. */
static void
test_v1_early(void **state)
{
	struct proxy_header h;

	(void)state;
	assert_int_equal(parse("G", 1, &h), PROXY_ESIGNATURE);
	assert_int_equal(parse("PROXZ", 5, &h), PROXY_ESIGNATURE);
	assert_int_equal(parse("PROXY", 5, &h), PROXY_NEED_MORE);
	assert_int_equal(parse("PROXY ", 6, &h), PROXY_NEED_MORE);
	assert_int_equal(parse("PROXY TCP5", 10, &h), PROXY_ESYNTAX);
	assert_int_equal(parse("PROXY TCP", 9, &h), PROXY_NEED_MORE);
	assert_int_equal(parse("PROXY UNK", 9, &h), PROXY_NEED_MORE);
	assert_int_equal(parse("PROXY X", 7, &h), PROXY_ESYNTAX);
	assert_int_equal(parse("PROXY TCP4 256", 14, &h), PROXY_EADDRESS);
	assert_int_equal(parse("PROXY TCP4 25", 13, &h), PROXY_NEED_MORE);
	assert_int_equal(parse("PROXY TCP4 1.2.3.4 5.6.7.8 6553", 31, &h), PROXY_NEED_MORE);
	assert_int_equal(parse("PROXY TCP4 1.2.3.4 5.6.7.8 65536", 32, &h), PROXY_EADDRESS);
	assert_int_equal(parse("PROXY TCP4 1.2.3.4 5.6.7.8 0", 28, &h), PROXY_NEED_MORE);
	assert_int_equal(parse("PROXY TCP4 1.2.3.4 5.6.7.8 00", 29, &h), PROXY_EADDRESS);
	assert_int_equal(parse("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r", 31, &h), PROXY_NEED_MORE);
	assert_int_equal(parse("PROXY TCP6 ::x", 14, &h), PROXY_EADDRESS);
	assert_int_equal(parse("PROXY TCP4 1.2.3.4", 18, &h), PROXY_NEED_MORE);
	assert_int_equal(parse("PROXY TCP4 1.2.3.4.", 19, &h), PROXY_EADDRESS);
	assert_int_equal(parse("PROXY TCP6 fe80::1%", 19, &h), PROXY_EADDRESS);
	assert_int_equal(parse("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 ", 31, &h), PROXY_ESYNTAX);
}

/* An IPv6 text is at most 45 bytes (six groups and a dotted quad). */
static void
test_v1_ipv6_length(void **state)
{
	const char *line = "PROXY TCP6 0000:0000:0000:0000:0000:ffff:255.255.255.255 ::1 1 2\r\n";
	char buf[128];
	struct proxy_header h;

	(void)state;
	assert_int_equal(fed_str(line, &h), strlen(line));
	assert_in6(&h.src, h.src_len, "::ffff:255.255.255.255", 1);

	memcpy(buf, "PROXY TCP6 ", 11);
	memset(buf + 11, '1', 46);
	assert_int_equal(parse(buf, 11 + 45, &h), PROXY_NEED_MORE);
	assert_int_equal(parse(buf, 11 + 46, &h), PROXY_EADDRESS);
	memcpy(buf + 11 + 46, " ::1 1 2\r\n", 10);
	assert_int_equal(fed(buf, 11 + 46 + 10, &h), PROXY_EADDRESS);
	memcpy(buf + 11 + 45, " ::1 1 2\r\n", 10);
	assert_int_equal(fed(buf, 11 + 45 + 10, &h), PROXY_EADDRESS);	/* 45, but not IPv6 */
}

/* ---- version 2 ------------------------------------------------------- */

/* A v2 header into BUF: signature, VER_CMD, FAM, then BODY (LEN bytes). */
static size_t
v2(uint8_t *buf, uint8_t ver_cmd, uint8_t fam, const void *body, size_t len)
{
	memcpy(buf, sig, 12);
	buf[12] = ver_cmd;
	buf[13] = fam;
	buf[14] = (uint8_t)(len >> 8);
	buf[15] = (uint8_t)len;
	if (len > 0)
		memcpy(buf + 16, body, len);
	return 16 + len;
}

static const uint8_t inet_body[12] = {
	192, 0, 2, 1, 198, 51, 100, 2, 0xdc, 0x04, 0x01, 0xbb	/* 56324, 443 */
};

static void
test_v2_inet(void **state)
{
	uint8_t buf[64], body[64];
	struct proxy_header h;
	size_t n;

	(void)state;
	n = v2(buf, 0x21, 0x11, inet_body, sizeof(inet_body));
	assert_int_equal(fed(buf, n, &h), 28);
	assert_int_equal(h.version, 2);
	assert_false(h.local);
	assert_true(h.stream);
	assert_in(&h.src, h.src_len, "192.0.2.1", 56324);
	assert_in(&h.dst, h.dst_len, "198.51.100.2", 443);

	/* The client's data after it is not consumed. */
	memcpy(buf + n, "GET / HTTP/1.1\r\n", 16);
	assert_int_equal(parse(buf, n + 16, &h), 28);

	/* DGRAM: the same addresses, not a stream. */
	n = v2(buf, 0x21, 0x12, inet_body, sizeof(inet_body));
	assert_int_equal(fed(buf, n, &h), 28);
	assert_false(h.stream);
	assert_false(h.local);
	assert_in(&h.dst, h.dst_len, "198.51.100.2", 443);

	/* A longer address block than INET needs, zero-filled: zero TLVs of
	 * type 0 and length 0, each 3 bytes. */
	memset(body, 0, sizeof(body));
	memcpy(body, inet_body, sizeof(inet_body));
	n = v2(buf, 0x21, 0x11, body, 12 + 9);
	assert_int_equal(fed(buf, n, &h), 16 + 21);
	assert_in(&h.src, h.src_len, "192.0.2.1", 56324);
}

static void
test_v2_inet6(void **state)
{
	uint8_t buf[64], body[36];
	struct proxy_header h;
	struct in6_addr a;
	size_t n;

	(void)state;
	assert_int_equal(inet_pton(AF_INET6, "2001:db8::1", &a), 1);
	memcpy(body, &a, 16);
	assert_int_equal(inet_pton(AF_INET6, "2001:db8::2", &a), 1);
	memcpy(body + 16, &a, 16);
	memcpy(body + 32, "\x04\xd2\x00\x50", 4);	/* 1234, 80 */
	n = v2(buf, 0x21, 0x21, body, sizeof(body));
	assert_int_equal(fed(buf, n, &h), 52);
	assert_false(h.local);
	assert_true(h.stream);
	assert_in6(&h.src, h.src_len, "2001:db8::1", 1234);
	assert_in6(&h.dst, h.dst_len, "2001:db8::2", 80);

	n = v2(buf, 0x21, 0x22, body, sizeof(body));
	assert_int_equal(fed(buf, n, &h), 52);
	assert_false(h.stream);
	assert_in6(&h.src, h.src_len, "2001:db8::1", 1234);
}

static void
test_v2_unix(void **state)
{
	uint8_t buf[300], body[216];
	const struct sockaddr_un *src = NULL, *dst = NULL;
	struct proxy_header h;
	size_t n;

	(void)state;
	memset(body, 0, sizeof(body));
	strcpy((char *)body, "/run/client.sock");
	memset(body + 108, 'p', 108);		/* the whole 108, no NUL */
	n = v2(buf, 0x21, 0x31, body, sizeof(body));
	assert_int_equal(fed(buf, n, &h), 16 + 216);
	assert_false(h.local);
	assert_true(h.stream);
	src = (const struct sockaddr_un *)&h.src;
	dst = (const struct sockaddr_un *)&h.dst;
	assert_int_equal(src->sun_family, AF_UNIX);
	assert_int_equal(dst->sun_family, AF_UNIX);
	assert_int_equal(h.src_len, sizeof(struct sockaddr_un));
	assert_int_equal(h.dst_len, sizeof(struct sockaddr_un));
	assert_string_equal(src->sun_path, "/run/client.sock");
	assert_memory_equal(dst->sun_path, body + 108, 108);

	n = v2(buf, 0x21, 0x32, body, sizeof(body));
	assert_int_equal(fed(buf, n, &h), 16 + 216);
	assert_false(h.stream);
}

static void
test_v2_local_unspec(void **state)
{
	uint8_t buf[64];
	struct proxy_header h;
	size_t n;

	(void)state;
	/* LOCAL: a health check; whatever follows is ignored, family too. */
	n = v2(buf, 0x20, 0x00, NULL, 0);
	assert_int_equal(fed(buf, n, &h), 16);
	assert_int_equal(h.version, 2);
	assert_local(&h);
	n = v2(buf, 0x20, 0x11, inet_body, sizeof(inet_body));
	assert_int_equal(fed(buf, n, &h), 28);
	assert_local(&h);
	n = v2(buf, 0x20, 0x11, inet_body, 3);		/* too short for INET: ignored */
	assert_int_equal(fed(buf, n, &h), 19);
	assert_local(&h);
	n = v2(buf, 0x20, 0x44, "\x01\x00\x09", 3);	/* neither family nor TLVs read */
	assert_int_equal(fed(buf, n, &h), 19);
	assert_local(&h);

	/* PROXY with an UNSPEC family: no address, keep the connection's. */
	n = v2(buf, 0x21, 0x00, NULL, 0);
	assert_int_equal(fed(buf, n, &h), 16);
	assert_local(&h);
	n = v2(buf, 0x21, 0x00, "junk", 4);
	assert_int_equal(fed(buf, n, &h), 20);
	assert_local(&h);
	memcpy(buf + n, "data", 4);
	assert_int_equal(parse(buf, n + 4, &h), 20);
}

static void
test_v2_tlvs(void **state)
{
	static const uint8_t tlvs[] = {
		0x04, 0x00, 0x00,				/* NOOP, empty */
		0x01, 0x00, 0x02, 'h', '2',			/* ALPN */
		0x02, 0x00, 0x0b, 'e', 'x', 'a', 'm', 'p', 'l', 'e', '.', 'c', 'o', 'm',
		0x03, 0x00, 0x04, 0xde, 0xad, 0xbe, 0xef,	/* CRC32C, wrong: skipped */
		0x20, 0x00, 0x00,				/* SSL, empty */
		0xee, 0x00, 0x00,				/* a custom one, empty */
	};
	uint8_t buf[128], body[128];
	struct proxy_header h;
	size_t n;

	(void)state;
	memcpy(body, inet_body, 12);
	memcpy(body + 12, tlvs, sizeof(tlvs));
	n = v2(buf, 0x21, 0x11, body, 12 + sizeof(tlvs));
	memcpy(buf + n, "\x01\x00\xffhello", 8);	/* client data that looks like a TLV */
	assert_int_equal(fed(buf, n + 8, &h), (long)n);
	assert_in(&h.src, h.src_len, "192.0.2.1", 56324);

	/* Overrunning: the last TLV's length past the header's, by one. */
	body[12 + sizeof(tlvs) - 1] = 1;
	n = v2(buf, 0x21, 0x11, body, 12 + sizeof(tlvs));
	assert_int_equal(fed(buf, n, &h), PROXY_ELENGTH);
	memset(buf + n, 0, 8);				/* even with bytes after it */
	assert_int_equal(parse(buf, n + 8, &h), PROXY_ELENGTH);

	/* One or two bytes left: not even a TLV's type and length. */
	n = v2(buf, 0x21, 0x11, body, 12 + 1);
	assert_int_equal(fed(buf, n, &h), PROXY_ELENGTH);
	n = v2(buf, 0x21, 0x11, body, 12 + 5);		/* NOOP, then 2 bytes */
	assert_int_equal(fed(buf, n, &h), PROXY_ELENGTH);
	/* A TLV claiming 0xffff bytes. */
	memcpy(body + 12, "\x01\xff\xff", 3);
	n = v2(buf, 0x21, 0x11, body, 12 + 3);
	assert_int_equal(fed(buf, n, &h), PROXY_ELENGTH);
}

/* Every byte of the signature, changed to every other value. */
static void
test_v2_signature(void **state)
{
	uint8_t buf[64];
	struct proxy_header h;
	size_t n, i;
	unsigned v;

	(void)state;
	n = v2(buf, 0x21, 0x11, inet_body, sizeof(inet_body));
	for (i = 0; i < 12; i++) {
		for (v = 0; v < 256; v++) {
			if (v == sig[i])
				continue;
			buf[i] = (uint8_t)v;
			assert_int_equal(parse(buf, n, &h), PROXY_ESIGNATURE);
			if (i > 0 || v != 'P')		/* "P" may still be v1 */
				assert_int_equal(parse(buf, i + 1, &h), PROXY_ESIGNATURE);
		}
		buf[i] = sig[i];
		assert_int_equal(parse(buf, i + 1, &h), PROXY_NEED_MORE);
	}
	assert_int_equal(parse(buf, n, &h), 28);
	/* A v1 line cut into a v2 one and the reverse. */
	assert_int_equal(parse("\r\nPROXY", 7, &h), PROXY_ESIGNATURE);
	assert_int_equal(parse("P\r\n\r\n", 5, &h), PROXY_ESIGNATURE);
}

static void
test_v2_version_command(void **state)
{
	uint8_t buf[64];
	struct proxy_header h;
	unsigned v, c;

	(void)state;
	for (v = 0; v < 16; v++) {
		if (v == 2)
			continue;
		v2(buf, (uint8_t)(v << 4 | 1), 0x11, inet_body, sizeof(inet_body));
		assert_int_equal(fed(buf, 28, &h), PROXY_EVERSION);
		assert_int_equal(parse(buf, 13, &h), PROXY_EVERSION);
	}
	for (c = 2; c < 16; c++) {
		v2(buf, (uint8_t)(0x20 | c), 0x11, inet_body, sizeof(inet_body));
		assert_int_equal(fed(buf, 28, &h), PROXY_ECOMMAND);
		assert_int_equal(parse(buf, 13, &h), PROXY_ECOMMAND);
	}
}

static void
test_v2_family(void **state)
{
	uint8_t buf[300], body[216];
	struct proxy_header h;
	unsigned fam;

	(void)state;
	memset(body, 0, sizeof(body));
	for (fam = 0; fam < 256; fam++) {
		bool known = fam == 0x00 || ((fam >> 4) >= 1 && (fam >> 4) <= 3 &&
		    ((fam & 0x0f) == 1 || (fam & 0x0f) == 2));
		long r;

		v2(buf, 0x21, (uint8_t)fam, body, sizeof(body));
		r = parse(buf, 16 + sizeof(body), &h);
		if (known) {
			assert_int_equal(r, 16 + sizeof(body));
			continue;
		}
		/* 0x4x, 0x13, and the spec's undefined 0x01, 0x10 among them. */
		assert_int_equal(r, PROXY_EFAMILY);
		assert_int_equal(parse(buf, 14, &h), PROXY_EFAMILY);
		/* Under LOCAL the family is ignored. */
		buf[12] = 0x20;
		assert_int_equal(parse(buf, 16 + sizeof(body), &h), 16 + sizeof(body));
		assert_local(&h);
	}
}

/* Each family's address block, one byte short: known from 16 bytes. */
static void
test_v2_short(void **state)
{
	static const struct { uint8_t fam; size_t need; } fams[] = {
		{ 0x11, 12 }, { 0x12, 12 }, { 0x21, 36 }, { 0x22, 36 }, { 0x31, 216 }, { 0x32, 216 },
	};
	uint8_t buf[300], body[216];
	struct proxy_header h;
	size_t i, n;

	(void)state;
	memset(body, 0, sizeof(body));
	for (i = 0; i < sizeof(fams) / sizeof(fams[0]); i++) {
		n = v2(buf, 0x21, fams[i].fam, body, fams[i].need - 1);
		assert_int_equal(fed(buf, n, &h), PROXY_ELENGTH);
		assert_int_equal(parse(buf, 16, &h), PROXY_ELENGTH);
		n = v2(buf, 0x21, fams[i].fam, body, 0);
		assert_int_equal(fed(buf, n, &h), PROXY_ELENGTH);
		n = v2(buf, 0x21, fams[i].fam, body, fams[i].need);
		assert_int_equal(fed(buf, n, &h), (long)n);
	}
}

/* The bound: 16 + length over PROXY_V2_MAX is refused from 16 bytes. */
static void
test_v2_too_long(void **state)
{
	static uint8_t buf[PROXY_V2_MAX + 16];
	struct proxy_header h;
	size_t n, len;

	(void)state;
	memset(buf, 0, sizeof(buf));
	memcpy(buf, sig, 12);
	buf[12] = 0x21;
	buf[13] = 0x11;
	for (len = PROXY_V2_MAX - 16 + 1; len <= 0xffff; len += len < 0x1000 ? 1 : 0x777) {
		buf[14] = (uint8_t)(len >> 8);
		buf[15] = (uint8_t)len;
		assert_int_equal(parse(buf, 16, &h), PROXY_ETOOLONG);
		assert_int_equal(parse(buf, sizeof(buf), &h), PROXY_ETOOLONG);
	}
	buf[14] = buf[15] = 0xff;
	assert_int_equal(fed(buf, 16, &h), PROXY_ETOOLONG);

	/* Exactly PROXY_V2_MAX: the INET addresses, then zero-filled TLVs
	 * (3 bytes each: 4080 - 12 = 1356 of them). */
	n = PROXY_V2_MAX;
	len = n - 16;
	buf[14] = (uint8_t)(len >> 8);
	buf[15] = (uint8_t)len;
	memcpy(buf + 16, inet_body, 12);
	assert_int_equal(parse(buf, n - 1, &h), PROXY_NEED_MORE);
	assert_int_equal(parse(buf, n, &h), PROXY_V2_MAX);
	assert_int_equal(parse(buf, sizeof(buf), &h), PROXY_V2_MAX);
	assert_in(&h.src, h.src_len, "192.0.2.1", 56324);
}

static void
test_strerror(void **state)
{
	long e;

	(void)state;
	for (e = PROXY_ESIGNATURE; e >= PROXY_ELENGTH; e--) {
		assert_non_null(proxy_strerror(e));
		assert_true(strlen(proxy_strerror(e)) > 10);
		if (e < PROXY_ESIGNATURE)
			assert_string_not_equal(proxy_strerror(e), proxy_strerror(e + 1));
	}
	assert_string_equal(proxy_strerror(PROXY_ESIGNATURE), "not a PROXY protocol header");
	assert_string_equal(proxy_strerror(PROXY_ESYNTAX), "PROXY v1 header: syntax error");
	assert_non_null(proxy_strerror(-100));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v1_tcp4),
		cmocka_unit_test(test_v1_tcp6),
		cmocka_unit_test(test_v1_unknown),
		cmocka_unit_test(test_v1_length),
		cmocka_unit_test(test_v1_malformed),
		cmocka_unit_test(test_v1_early),
		cmocka_unit_test(test_v1_ipv6_length),
		cmocka_unit_test(test_v2_inet),
		cmocka_unit_test(test_v2_inet6),
		cmocka_unit_test(test_v2_unix),
		cmocka_unit_test(test_v2_local_unspec),
		cmocka_unit_test(test_v2_tlvs),
		cmocka_unit_test(test_v2_signature),
		cmocka_unit_test(test_v2_version_command),
		cmocka_unit_test(test_v2_family),
		cmocka_unit_test(test_v2_short),
		cmocka_unit_test(test_v2_too_long),
		cmocka_unit_test(test_strerror),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
