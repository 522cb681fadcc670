/*
 * test_addr.c - listen address parsing, printing and collision rules.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "addr.h"

/* Parse TEXT, expect success, and expect it to print back as WANT. */
static void
roundtrip(const char *text, const char *want)
{
	struct sockd_addr a;
	char buf[ADDR_TEXT_MAX];
	const char *why = NULL;

	assert_int_equal(addr_parse(text, &a, &why), 0);
	assert_null(why);
	addr_format(&a, buf, sizeof(buf));
	assert_string_equal(buf, want);
}

static void
rejects(const char *text, const char *want_why)
{
	struct sockd_addr a;
	const char *why = NULL;

	assert_int_equal(addr_parse(text, &a, &why), -1);
	assert_non_null(why);
	assert_string_equal(why, want_why);
}

static void
test_ipv4(void **state)
{
	(void)state;
	roundtrip("127.0.0.1:7007", "127.0.0.1:7007");
	roundtrip("0.0.0.0:1", "0.0.0.0:1");
	roundtrip("10.1.2.3:65535", "10.1.2.3:65535");
	roundtrip("127.0.0.1:0", "127.0.0.1:0");
}

static void
test_wildcard(void **state)
{
	struct sockd_addr a;

	(void)state;
	roundtrip("*:8080", "0.0.0.0:8080");
	assert_int_equal(addr_parse("*:8080", &a, NULL), 0);
	assert_int_equal(addr_family(&a), AF_INET);
	assert_int_equal(addr_port(&a), 8080);
}

static void
test_ipv6(void **state)
{
	(void)state;
	roundtrip("[::1]:7007", "[::1]:7007");
	roundtrip("[::]:80", "[::]:80");
	roundtrip("[2001:DB8:0:0::1]:443", "[2001:db8::1]:443");
}

/* A mapped address prints as it was written (not as "[127.0.0.1]:P", which
 * does not parse), and is told apart for the configuration to refuse. */
static void
test_ipv4_mapped(void **state)
{
	struct sockd_addr a;
	char host[64];

	(void)state;
	roundtrip("[::ffff:127.0.0.1]:7007", "[::ffff:127.0.0.1]:7007");
	assert_int_equal(addr_parse("[::ffff:127.0.0.1]:7007", &a, NULL), 0);
	assert_true(addr_is_v4mapped(&a));
	assert_true(addr_host(&a, host, sizeof(host)));
	assert_string_equal(host, "127.0.0.1");	/* as a client's address is logged */
	assert_int_equal(addr_parse("[::1]:7007", &a, NULL), 0);
	assert_false(addr_is_v4mapped(&a));
	assert_int_equal(addr_parse("127.0.0.1:7007", &a, NULL), 0);
	assert_false(addr_is_v4mapped(&a));
}

static void
test_unix(void **state)
{
	struct sockd_addr a;
	char longpath[200];

	(void)state;
	roundtrip("unix:/run/sockd/echo.sock", "unix:/run/sockd/echo.sock");
	assert_int_equal(addr_parse("unix:/tmp/x", &a, NULL), 0);
	assert_int_equal(addr_family(&a), AF_UNIX);
	assert_int_equal(addr_port(&a), -1);
	rejects("unix:relative.sock", "a Unix socket path must be absolute");
	rejects("unix:", "a Unix socket path must be absolute");
	memset(longpath, 'a', sizeof(longpath));
	memcpy(longpath, "unix:/", 6);
	longpath[sizeof(longpath) - 1] = '\0';
	rejects(longpath, "Unix socket path too long");
}

static void
test_bad_forms(void **state)
{
	(void)state;
	rejects("localhost:80", "not an IPv4 address (host names are not resolved)");
	rejects("127.0.0.1", "expected ADDRESS:PORT, [IPv6]:PORT, *:PORT or unix:/PATH "
	    "(udp: or unixgram: before them for datagrams)");
	rejects("", "expected ADDRESS:PORT, [IPv6]:PORT, *:PORT or unix:/PATH "
	    "(udp: or unixgram: before them for datagrams)");
	rejects("127.0.0.1:", "missing port after ':'");
	rejects("127.0.0.1:65536", "port must be a number from 0 to 65535");
	rejects("127.0.0.1:99999999999999999999", "port must be a number from 0 to 65535");
	rejects("127.0.0.1:-1", "port must be a number from 0 to 65535");
	rejects("127.0.0.1:80x", "port must be a number from 0 to 65535");
	rejects("256.0.0.1:80", "not an IPv4 address (host names are not resolved)");
	rejects("::1:80", "not an IPv4 address (host names are not resolved)");
	rejects("[::1]80", "expected [IPv6-address]:port");
	rejects("[::1:80", "expected [IPv6-address]:port");
	rejects("[1.2.3.4]:80", "not an IPv6 address");
	rejects("[::g]:80", "not an IPv6 address");
	rejects("[::1]:", "missing port after ':'");
}

static int
parse(const char *text, struct sockd_addr *a)
{
	return addr_parse(text, a, NULL);
}

static void
test_equal_and_conflict(void **state)
{
	struct sockd_addr a, b, c, d, e, u1, u2, z1, z2;

	(void)state;
	assert_int_equal(parse("127.0.0.1:7007", &a), 0);
	assert_int_equal(parse("127.0.0.1:7007", &b), 0);
	assert_int_equal(parse("*:7007", &c), 0);
	assert_int_equal(parse("[::1]:7007", &d), 0);
	assert_int_equal(parse("127.0.0.1:7008", &e), 0);
	assert_true(addr_equal(&a, &b));
	assert_true(addr_conflict(&a, &b));
	assert_false(addr_equal(&a, &c));
	assert_true(addr_conflict(&a, &c));	/* wildcard + specific, same port */
	assert_true(addr_conflict(&c, &a));
	assert_false(addr_conflict(&a, &d));	/* other family */
	assert_false(addr_conflict(&a, &e));	/* other port */
	assert_int_equal(parse("unix:/tmp/a", &u1), 0);
	assert_int_equal(parse("unix:/tmp/a", &u2), 0);
	assert_true(addr_conflict(&u1, &u2));
	assert_int_equal(parse("unix:/tmp/b", &u2), 0);
	assert_false(addr_conflict(&u1, &u2));
	assert_int_equal(parse("127.0.0.1:0", &z1), 0);
	assert_int_equal(parse("127.0.0.1:0", &z2), 0);
	assert_false(addr_conflict(&z1, &z2));	/* two ephemeral ports */
}

/* Datagram addresses: udp: before every IP form, unixgram: for a path;
 * they print back with their prefix, and never equal a stream address. */
static void
test_datagram(void **state)
{
	struct sockd_addr a, b, c, u1, u2;

	(void)state;
	roundtrip("udp:127.0.0.1:7007", "udp:127.0.0.1:7007");
	roundtrip("udp:*:53", "udp:0.0.0.0:53");
	roundtrip("udp:[::1]:7007", "udp:[::1]:7007");
	roundtrip("unixgram:/run/sockd/x.sock", "unixgram:/run/sockd/x.sock");
	rejects("udp:", "expected ADDRESS:PORT, [IPv6]:PORT, *:PORT or unix:/PATH "
	    "(udp: or unixgram: before them for datagrams)");
	rejects("udp:[::1]", "expected [IPv6-address]:port");
	rejects("udp:unix:/x", "not an IPv4 address (host names are not resolved)");
	rejects("unixgram:x.sock", "a Unix socket path must be absolute");
	assert_int_equal(parse("udp:127.0.0.1:7007", &a), 0);
	assert_true(a.dgram);
	assert_int_equal(addr_family(&a), AF_INET);
	assert_int_equal(addr_port(&a), 7007);
	assert_int_equal(parse("127.0.0.1:7007", &b), 0);
	assert_false(b.dgram);
	assert_false(addr_equal(&a, &b));
	assert_false(addr_conflict(&a, &b));	/* TCP and UDP ports are apart */
	assert_int_equal(parse("udp:*:7007", &c), 0);
	assert_true(addr_conflict(&a, &c));
	assert_int_equal(parse("unix:/tmp/a", &u1), 0);
	assert_int_equal(parse("unixgram:/tmp/a", &u2), 0);
	assert_true(u2.dgram);
	assert_false(addr_equal(&u1, &u2));
	assert_true(addr_conflict(&u1, &u2));	/* one file */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipv4),
		cmocka_unit_test(test_wildcard),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_ipv4_mapped),
		cmocka_unit_test(test_unix),
		cmocka_unit_test(test_bad_forms),
		cmocka_unit_test(test_equal_and_conflict),
		cmocka_unit_test(test_datagram),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
