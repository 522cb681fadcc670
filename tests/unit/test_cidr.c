/*
 * test_cidr.c - networks from sockd.conf: what is taken and its canonical
 * text, every refusal with its message, matching IPv4, IPv6 and
 * IPv4-mapped clients at the edge prefixes (0, 1, 7, 9, 127, 32, 128), and
 * the keys per-client limits count under.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/un.h>

#include "cidr.h"

static struct cidr
net(const char *text)
{
	struct cidr c;
	const char *why = NULL;

	if (cidr_parse(text, &c, &why) != 0)
		fail_msg("%s: %s", text, why);
	return c;
}

static const char *
refusal(const char *text)
{
	struct cidr c;
	const char *why = NULL;

	memset(&c, 0x5a, sizeof(c));
	assert_int_equal(cidr_parse(text, &c, &why), -1);
	assert_non_null(why);
	return why;
}

static const char *
canonical(const char *text)
{
	static char buf[CIDR_TEXT_MAX];
	struct cidr c = net(text);

	cidr_format(&c, buf, sizeof(buf));
	return buf;
}

static struct sockaddr_storage ss;

static const struct sockaddr *
v4(const char *a)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

	memset(&ss, 0, sizeof(ss));
	sin->sin_family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, a, &sin->sin_addr), 1);
	return (const struct sockaddr *)&ss;
}

static const struct sockaddr *
v6(const char *a)
{
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	sin6->sin6_family = AF_INET6;
	assert_int_equal(inet_pton(AF_INET6, a, &sin6->sin6_addr), 1);
	return (const struct sockaddr *)&ss;
}

static bool
match(const char *network, const struct sockaddr *sa)
{
	struct cidr c = net(network);

	return cidr_match(&c, sa);
}

static void
test_parse_valid(void **state)
{
	struct cidr c;

	(void)state;
	c = net("192.0.2.0/24");
	assert_int_equal(c.family, AF_INET);
	assert_int_equal(c.prefix, 24);
	assert_memory_equal(c.addr, "\xc0\x00\x02\x00", 4);
	c = net("192.0.2.7");
	assert_int_equal(c.prefix, 32);
	c = net("2001:db8::/32");
	assert_int_equal(c.family, AF_INET6);
	assert_int_equal(c.prefix, 32);
	c = net("2001:db8::1");
	assert_int_equal(c.prefix, 128);
	assert_int_equal(c.addr[15], 1);
	c = net("0.0.0.0/0");
	assert_int_equal(c.prefix, 0);
	c = net("::/0");
	assert_int_equal(c.prefix, 0);
	c = net("10.0.0.0/7");
	assert_int_equal(c.addr[0], 10);
	net("128.0.0.0/1");
	net("255.255.255.255/32");
	net("0.0.0.0/32");
	net("::1/128");
	net("::fffe:0:0/96");	/* next to the mapped range, not in it */
	assert_int_equal(net("::/80").prefix, 80);
	net("::192.0.2.1");	/* IPv4-compatible, not mapped */
}

static void
test_format(void **state)
{
	(void)state;
	assert_string_equal(canonical("192.0.2.0/24"), "192.0.2.0/24");
	assert_string_equal(canonical("192.0.2.1"), "192.0.2.1/32");
	assert_string_equal(canonical("2001:DB8:0:0::/64"), "2001:db8::/64");
	assert_string_equal(canonical("2001:0db8:0000:0000:0000:0000:0000:0001"),
	    "2001:db8::1/128");
	assert_string_equal(canonical("::/0"), "::/0");
	assert_string_equal(canonical("0.0.0.0/0"), "0.0.0.0/0");
	assert_string_equal(canonical("fe80::/10"), "fe80::/10");

	/* The canonical text parses back to the same network. */
	const char *texts[] = { "10.0.0.0/8", "2001:db8:ffff::/48", "::1", "fc00::/7",
		"8000::/1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/127" };
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		struct cidr a = net(texts[i]), b;
		char buf[CIDR_TEXT_MAX];

		cidr_format(&a, buf, sizeof(buf));
		b = net(buf);
		assert_int_equal(a.family, b.family);
		assert_int_equal(a.prefix, b.prefix);
		assert_memory_equal(a.addr, b.addr, sizeof(a.addr));
	}

	/* A short buffer is cut, still terminated. */
	struct cidr c = net("192.0.2.0/24");
	char small[6];
	cidr_format(&c, small, sizeof(small));
	assert_string_equal(small, "192.0");
}

static void
test_refusals(void **state)
{
	char buf[CIDR_TEXT_MAX + 8];

	(void)state;
	assert_string_equal(refusal(""), "empty network");
	assert_string_equal(refusal(" 192.0.2.0/24"), "spaces are not allowed in a network");
	assert_string_equal(refusal("192.0.2.0/24 "), "spaces are not allowed in a network");
	assert_string_equal(refusal("192.0.2.0 /24"), "spaces are not allowed in a network");
	assert_string_equal(refusal("192.0.2.0/\t24"), "spaces are not allowed in a network");
	assert_string_equal(refusal("fe80::1%eth0"), "a zone (\"%...\") is not allowed in a network");
	assert_string_equal(refusal("fe80::%1/64"), "a zone (\"%...\") is not allowed in a network");
	assert_string_equal(refusal("192.0.2.0/"), "prefix length missing after '/'");
	assert_string_equal(refusal("/24"), "address missing before '/'");
	assert_string_equal(refusal("192.0.2.0/+24"), "prefix length must be a decimal number (no sign)");
	assert_string_equal(refusal("192.0.2.0/-1"), "prefix length must be a decimal number (no sign)");
	assert_string_equal(refusal("192.0.2.0/0x18"), "prefix length must be a decimal number (no sign)");
	assert_string_equal(refusal("192.0.2.0/24/8"), "prefix length must be a decimal number (no sign)");
	assert_string_equal(refusal("192.0.2.0/024"), "prefix length has a leading zero");
	assert_string_equal(refusal("192.0.2.0/00"), "prefix length has a leading zero");
	assert_string_equal(refusal("192.0.2.0/0024"), "prefix length has more than three digits");
	assert_string_equal(refusal("::/0128"), "prefix length has more than three digits");
	assert_string_equal(refusal("192.0.2.0/33"), "prefix length must be 0..32 for an IPv4 network");
	assert_string_equal(refusal("192.0.2.0/999"), "prefix length must be 0..32 for an IPv4 network");
	assert_string_equal(refusal("2001:db8::/129"), "prefix length must be 0..128 for an IPv6 network");
	assert_string_equal(refusal("01.2.3.4"), "an IPv4 octet with a leading zero (some read it as octal)");
	assert_string_equal(refusal("1.2.3.00/32"), "an IPv4 octet with a leading zero (some read it as octal)");
	assert_string_equal(refusal("::ffff:010.0.0.1"), "an IPv4 octet with a leading zero (some read it as octal)");
	assert_string_equal(refusal("1.2.3"), "not an IPv4 address (four numbers 0..255: a.b.c.d)");
	assert_string_equal(refusal("1.2.3.256"), "not an IPv4 address (four numbers 0..255: a.b.c.d)");
	assert_string_equal(refusal("1.2.3.4.5"), "not an IPv4 address (four numbers 0..255: a.b.c.d)");
	assert_string_equal(refusal("localhost"), "not an IPv4 or IPv6 address");
	assert_string_equal(refusal("0x7f.0.0.1"), "not an IPv4 or IPv6 address");
	assert_string_equal(refusal("2001:db8:::1"), "not an IPv6 address");
	assert_string_equal(refusal("2001:db8::g"), "not an IPv6 address");
	assert_string_equal(refusal("::ffff:0:0/96"),
	    "an IPv4-mapped IPv6 network: write the IPv4 network instead");
	assert_string_equal(refusal("::ffff:192.0.2.1"),
	    "an IPv4-mapped IPv6 network: write the IPv4 network instead");
	assert_string_equal(refusal("::ffff:192.0.2.0/120"),
	    "an IPv4-mapped IPv6 network: write the IPv4 network instead");
	assert_string_equal(refusal("::ffff:192.0.2.1/96"),
	    "an IPv4-mapped IPv6 network: write the IPv4 network instead");
	assert_string_equal(refusal("192.0.2.1/24"),
	    "host bits set: write the network address (host part zero)");
	assert_string_equal(refusal("11.0.0.0/7"), "host bits set: write the network address (host part zero)");
	assert_string_equal(refusal("2001:db8::1/64"),
	    "host bits set: write the network address (host part zero)");
	assert_string_equal(refusal("::1/0"), "host bits set: write the network address (host part zero)");

	/* CIDR_TEXT_MAX - 1 characters is the most; a valid prefix does not save it. */
	memset(buf, '0', sizeof(buf));
	memcpy(buf, "::", 2);
	buf[CIDR_TEXT_MAX - 1] = '\0';
	assert_string_equal(refusal(buf), "not an IPv6 address");
	buf[CIDR_TEXT_MAX - 1] = '0';
	buf[CIDR_TEXT_MAX] = '\0';
	assert_string_equal(refusal(buf), "too long for a network");
	assert_string_equal(refusal(NULL), "empty network");
}

static void
test_parse_msg(void **state)
{
	struct cidr c;
	char why[80], tiny[12];

	(void)state;
	assert_int_equal(cidr_parse_msg("192.0.2.1/24", &c, why, sizeof(why)), -1);
	assert_string_equal(why, "host bits set: the network is 192.0.2.0/24");
	assert_int_equal(cidr_parse_msg("10.1.2.3/7", &c, why, sizeof(why)), -1);
	assert_string_equal(why, "host bits set: the network is 10.0.0.0/7");
	assert_int_equal(cidr_parse_msg("2001:db8::1/64", &c, why, sizeof(why)), -1);
	assert_string_equal(why, "host bits set: the network is 2001:db8::/64");
	assert_int_equal(cidr_parse_msg("::1/0", &c, why, sizeof(why)), -1);
	assert_string_equal(why, "host bits set: the network is ::/0");
	assert_int_equal(cidr_parse_msg("1.2.3.4/33", &c, why, sizeof(why)), -1);
	assert_string_equal(why, "prefix length must be 0..32 for an IPv4 network");
	assert_int_equal(cidr_parse_msg("1.2.3.4/33", &c, tiny, sizeof(tiny)), -1);
	assert_string_equal(tiny, "prefix leng");
	assert_int_equal(cidr_parse_msg("192.0.2.0/24", &c, why, sizeof(why)), 0);
	assert_int_equal(c.prefix, 24);
}

static void
test_match_v4(void **state)
{
	(void)state;
	assert_true(match("192.0.2.0/24", v4("192.0.2.0")));
	assert_true(match("192.0.2.0/24", v4("192.0.2.255")));
	assert_false(match("192.0.2.0/24", v4("192.0.3.0")));
	assert_false(match("192.0.2.0/24", v4("192.0.1.255")));
	assert_true(match("192.0.2.7", v4("192.0.2.7")));
	assert_false(match("192.0.2.7", v4("192.0.2.6")));
	assert_true(match("0.0.0.0/0", v4("255.255.255.255")));
	assert_true(match("0.0.0.0/0", v4("0.0.0.0")));
	assert_true(match("128.0.0.0/1", v4("200.1.1.1")));
	assert_false(match("128.0.0.0/1", v4("127.255.255.255")));
	assert_true(match("10.0.0.0/7", v4("11.255.0.1")));
	assert_false(match("10.0.0.0/7", v4("12.0.0.0")));
	assert_false(match("10.0.0.0/7", v4("9.255.255.255")));
	assert_true(match("10.0.0.0/9", v4("10.127.255.255")));
	assert_false(match("10.0.0.0/9", v4("10.128.0.0")));
	/* An IPv6 network never matches an IPv4 client, even ::/0. */
	assert_false(match("::/0", v4("192.0.2.1")));
	assert_false(match("::192.0.2.1", v4("192.0.2.1")));
}

static void
test_match_v6(void **state)
{
	(void)state;
	assert_true(match("2001:db8::/32", v6("2001:db8:ffff::1")));
	assert_false(match("2001:db8::/32", v6("2001:db9::")));
	assert_true(match("::/0", v6("ffff::1")));
	assert_true(match("::/0", v6("::")));
	assert_true(match("8000::/1", v6("ffff::")));
	assert_false(match("8000::/1", v6("7fff:ffff::")));
	assert_true(match("fe00::/7", v6("ff02::1")));
	assert_false(match("fe00::/7", v6("fc00::1")));
	assert_true(match("fe80::/9", v6("fe80::1")));
	assert_true(match("fe80::/9", v6("feff::1")));
	assert_false(match("fe80::/9", v6("fe7f::1")));
	assert_true(match("2001:db8::/127", v6("2001:db8::1")));
	assert_false(match("2001:db8::/127", v6("2001:db8::2")));
	assert_true(match("2001:db8::1", v6("2001:db8::1")));
	assert_false(match("2001:db8::1", v6("2001:db8::")));
	/* An IPv4 network never matches a native IPv6 client. */
	assert_false(match("0.0.0.0/0", v6("2001:db8::1")));
	assert_false(match("0.0.0.0/0", v6("::192.0.2.1")));
}

static void
test_match_mapped(void **state)
{
	(void)state;
	/* A dual-stack listener's IPv4 client is its IPv4 address. */
	assert_true(match("192.0.2.0/24", v6("::ffff:192.0.2.9")));
	assert_false(match("192.0.2.0/24", v6("::ffff:192.0.3.9")));
	assert_true(match("0.0.0.0/0", v6("::ffff:10.0.0.1")));
	assert_true(match("192.0.2.9", v6("::ffff:192.0.2.9")));
	/* ... and not an IPv6 client, so IPv6 networks do not take it. */
	assert_false(match("::/0", v6("::ffff:192.0.2.9")));
	assert_false(match("::/64", v6("::ffff:192.0.2.9")));
	assert_false(match("::/80", v6("::ffff:192.0.2.9")));
}

static void
test_match_other(void **state)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct cidr all4 = net("0.0.0.0/0"), all6 = net("::/0");

	(void)state;
	assert_false(cidr_match(&all4, (const struct sockaddr *)&sun));
	assert_false(cidr_match(&all6, (const struct sockaddr *)&sun));
	assert_false(cidr_match(&all4, NULL));
}

static void
test_match_any(void **state)
{
	struct cidr v[3];

	(void)state;
	v[0] = net("10.0.0.0/8");
	v[1] = net("2001:db8::/32");
	v[2] = net("192.0.2.1");
	assert_true(cidr_match_any(v, 3, v4("10.9.9.9")));
	assert_true(cidr_match_any(v, 3, v4("192.0.2.1")));
	assert_true(cidr_match_any(v, 3, v6("::ffff:192.0.2.1")));
	assert_true(cidr_match_any(v, 3, v6("2001:db8::5")));
	assert_false(cidr_match_any(v, 3, v4("192.0.2.2")));
	assert_false(cidr_match_any(v, 3, v6("2001:db9::5")));
	assert_false(cidr_match_any(v, 2, v4("192.0.2.1")));
	assert_false(cidr_match_any(v, 0, v4("10.9.9.9")));
	assert_false(cidr_match_any(NULL, 0, v4("10.9.9.9")));
}

static void
key_of(const struct sockaddr *sa, unsigned prefix, uint8_t key[CIDR_KEY_LEN])
{
	memset(key, 0xa5, CIDR_KEY_LEN);
	assert_true(cidr_client_key(sa, prefix, key));
}

static void
test_client_key(void **state)
{
	uint8_t a[CIDR_KEY_LEN], b[CIDR_KEY_LEN];
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	(void)state;
	key_of(v4("192.0.2.1"), 64, a);
	assert_int_equal(a[0], AF_INET);
	assert_memory_equal(a + 1, "\xc0\x00\x02\x01", 4);
	for (size_t i = 5; i < CIDR_KEY_LEN; i++)
		assert_int_equal(a[i], 0);
	/* A mapped IPv4 client is the same client as the plain one. */
	key_of(v6("::ffff:192.0.2.1"), 64, b);
	assert_memory_equal(a, b, CIDR_KEY_LEN);
	/* IPv4 is never cut, whatever the IPv6 prefix. */
	key_of(v4("192.0.2.2"), 0, b);
	assert_memory_not_equal(a, b, CIDR_KEY_LEN);

	/* One /64 is one client; the next /64 another. */
	key_of(v6("2001:db8:1:2:aaaa::1"), 64, a);
	key_of(v6("2001:db8:1:2:bbbb::2"), 64, b);
	assert_int_equal(a[0], AF_INET6);
	assert_memory_equal(a, b, CIDR_KEY_LEN);
	key_of(v6("2001:db8:1:3:aaaa::1"), 64, b);
	assert_memory_not_equal(a, b, CIDR_KEY_LEN);
	/* Not an IPv4 key that happens to have the same bytes. */
	key_of(v6("c000:201::"), 128, a);
	key_of(v4("192.0.2.1"), 128, b);
	assert_memory_not_equal(a, b, CIDR_KEY_LEN);

	/* /128: every address its own; /0: all of IPv6 one client. */
	key_of(v6("2001:db8::1"), 128, a);
	key_of(v6("2001:db8::2"), 128, b);
	assert_memory_not_equal(a, b, CIDR_KEY_LEN);
	assert_int_equal(a[16], 1);
	key_of(v6("2001:db8::1"), 0, a);
	key_of(v6("ffff::2"), 0, b);
	assert_memory_equal(a, b, CIDR_KEY_LEN);
	/* An odd prefix cuts within a byte; more than 128 is 128. */
	key_of(v6("2001:db8::ff"), 121, a);
	assert_int_equal(a[16], 0x80);
	key_of(v6("2001:db8::ff"), 200, a);
	assert_int_equal(a[16], 0xff);

	assert_false(cidr_client_key((const struct sockaddr *)&sun, 64, a));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_valid),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_parse_msg),
		cmocka_unit_test(test_match_v4),
		cmocka_unit_test(test_match_v6),
		cmocka_unit_test(test_match_mapped),
		cmocka_unit_test(test_match_other),
		cmocka_unit_test(test_match_any),
		cmocka_unit_test(test_client_key),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
