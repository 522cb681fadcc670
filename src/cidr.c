/*
 * cidr.c - networks as written in sockd.conf, and matching clients
 * against them (see cidr.h).
 *
 * The parser is strict on purpose: an allow or deny list is a security
 * boundary, and text that two readers could take two ways ("010.1.2.3" is
 * octal to inet_aton, "192.0.2.1/24" may mean the host or its network)
 * is refused with a message naming what to write instead.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "cidr.h"

/* ::ffff:0:0/96, the IPv4-mapped addresses: the first 12 bytes. */
static const uint8_t mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

static bool
is_space(char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * The prefix length after the '/': decimal, no sign, no leading zero but
 * "0" itself, at most three digits (so "0000000024" is not 24), within
 * MAX. -1 with *WHY_R set otherwise.
 */
static int
parse_prefix(const char *p, unsigned max, const char **why_r)
{
	size_t n = strlen(p);
	unsigned v = 0;

	if (n == 0) {
		*why_r = "prefix length missing after '/'";
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if (!is_digit(p[i])) {
			*why_r = "prefix length must be a decimal number (no sign)";
			return -1;
		}
	if (n > 3) {
		*why_r = "prefix length has more than three digits";
		return -1;
	}
	if (n > 1 && p[0] == '0') {
		*why_r = "prefix length has a leading zero";
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		v = v * 10 + (unsigned)(p[i] - '0');
	if (v > max) {
		*why_r = max == 32 ? "prefix length must be 0..32 for an IPv4 network" :
		    "prefix length must be 0..128 for an IPv6 network";
		return -1;
	}
	return (int)v;
}

/*
 * Dotted-quad text (an IPv4 address, or the tail of an IPv6 one) with an
 * octet written with a leading zero: refused whatever inet_pton does with
 * it, since inet_aton and many tools read "010" as octal 8.
 */
static bool
has_leading_zero_octet(const char *s)
{
	const char *tail = strrchr(s, ':');

	tail = tail != NULL ? tail + 1 : s;
	if (strchr(tail, '.') == NULL)
		return false;
	for (const char *p = tail; *p != '\0'; p++) {
		bool start = p == tail || p[-1] == '.';

		if (start && p[0] == '0' && is_digit(p[1]))
			return true;
	}
	return false;
}

/* Bits of a network address past PREFIX: which must all be zero. */
static bool
host_bits_set(const uint8_t *a, unsigned prefix, unsigned bits)
{
	for (unsigned i = prefix / 8; i < bits / 8; i++) {
		uint8_t keep = 0;

		if (i == prefix / 8 && prefix % 8 != 0)
			keep = (uint8_t)(0xff << (8 - prefix % 8));
		if ((a[i] & (uint8_t)~keep) != 0)
			return true;
	}
	return false;
}

/* A's first PREFIX bits kept, the rest cleared, into OUT. */
static void
apply_mask(const uint8_t *a, unsigned prefix, unsigned bits, uint8_t *out)
{
	for (unsigned i = 0; i < bits / 8; i++) {
		if (i < prefix / 8)
			out[i] = a[i];
		else if (i == prefix / 8 && prefix % 8 != 0)
			out[i] = a[i] & (uint8_t)(0xff << (8 - prefix % 8));
		else
			out[i] = 0;
	}
}

/*
 * The parser shared by cidr_parse and cidr_parse_msg: BUF (SIZE bytes,
 * or NULL) receives the message that needs the network spelled out.
 */
static int
parse(const char *text, struct cidr *out, const char **why_r, char *buf, size_t size)
{
	char addr[CIDR_TEXT_MAX];
	const char *slash, *why = NULL;
	struct cidr c;
	size_t len, alen;
	unsigned bits;
	int prefix;

	if (why_r == NULL)
		why_r = &why;
	if (text == NULL || text[0] == '\0') {
		*why_r = "empty network";
		return -1;
	}
	len = strnlen(text, CIDR_TEXT_MAX);
	if (len >= CIDR_TEXT_MAX) {
		*why_r = "too long for a network";
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		if (is_space(text[i])) {
			*why_r = "spaces are not allowed in a network";
			return -1;
		}
		if (text[i] == '%') {
			*why_r = "a zone (\"%...\") is not allowed in a network";
			return -1;
		}
	}
	slash = strchr(text, '/');
	alen = slash != NULL ? (size_t)(slash - text) : len;
	if (alen == 0) {
		*why_r = "address missing before '/'";
		return -1;
	}
	memcpy(addr, text, alen);
	addr[alen] = '\0';

	memset(&c, 0, sizeof(c));
	if (strchr(addr, ':') != NULL) {
		c.family = AF_INET6;
		bits = 128;
	} else {
		c.family = AF_INET;
		bits = 32;
	}
	if (has_leading_zero_octet(addr)) {
		*why_r = "an IPv4 octet with a leading zero (some read it as octal)";
		return -1;
	}
	if (inet_pton(c.family, addr, c.addr) != 1) {
		if (c.family == AF_INET6)
			*why_r = "not an IPv6 address";
		else if (strspn(addr, "0123456789.") == alen)
			*why_r = "not an IPv4 address (four numbers 0..255: a.b.c.d)";
		else
			*why_r = "not an IPv4 or IPv6 address";
		return -1;
	}
	if (slash != NULL) {
		if ((prefix = parse_prefix(slash + 1, bits, why_r)) == -1)
			return -1;
	} else
		prefix = (int)bits;
	c.prefix = (unsigned)prefix;

	/* Before the host bits: "::ffff:192.0.2.1/96" is wrong for this first. */
	if (c.family == AF_INET6 && c.prefix >= 96 &&
	    memcmp(c.addr, mapped_prefix, sizeof(mapped_prefix)) == 0) {
		*why_r = "an IPv4-mapped IPv6 network: write the IPv4 network instead";
		return -1;
	}
	if (host_bits_set(c.addr, c.prefix, bits)) {
		struct cidr net = c;
		char s[CIDR_TEXT_MAX];

		apply_mask(c.addr, c.prefix, bits, net.addr);
		cidr_format(&net, s, sizeof(s));
		if (buf != NULL && size > 0) {
			snprintf(buf, size, "host bits set: the network is %s", s);
			*why_r = buf;
		} else
			*why_r = "host bits set: write the network address (host part zero)";
		return -1;
	}
	*out = c;
	return 0;
}

int
cidr_parse(const char *text, struct cidr *out, const char **why_r)
{
	return parse(text, out, why_r, NULL, 0);
}

int
cidr_parse_msg(const char *text, struct cidr *out, char *why, size_t size)
{
	const char *msg = NULL;

	if (parse(text, out, &msg, why, size) == 0)
		return 0;
	if (why != NULL && size > 0 && msg != why)
		snprintf(why, size, "%s", msg);
	return -1;
}

void
cidr_format(const struct cidr *c, char *buf, size_t size)
{
	char a[INET6_ADDRSTRLEN];

	if (size == 0)
		return;
	if ((c->family != AF_INET && c->family != AF_INET6) ||
	    inet_ntop(c->family, c->addr, a, sizeof(a)) == NULL) {
		snprintf(buf, size, "?");
		return;
	}
	snprintf(buf, size, "%s/%u", a, c->prefix);
}

/* Do the first PREFIX bits of A and NET agree? (NET has its host bits zero.) */
static bool
prefix_equal(const uint8_t *a, const uint8_t *net, unsigned prefix)
{
	unsigned full = prefix / 8, rest = prefix % 8;

	if (memcmp(a, net, full) != 0)
		return false;
	if (rest == 0)
		return true;
	return (a[full] & (uint8_t)(0xff << (8 - rest))) == net[full];
}

/*
 * The client's address bytes and family as matching sees it: an
 * IPv4-mapped IPv6 address is its IPv4 address. NULL for other families.
 */
static const uint8_t *
client_addr(const struct sockaddr *sa, int *family_r)
{
	if (sa == NULL)
		return NULL;
	if (sa->sa_family == AF_INET) {
		*family_r = AF_INET;
		return (const uint8_t *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	}
	if (sa->sa_family == AF_INET6) {
		const uint8_t *a = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;

		if (memcmp(a, mapped_prefix, sizeof(mapped_prefix)) == 0) {
			*family_r = AF_INET;
			return a + 12;
		}
		*family_r = AF_INET6;
		return a;
	}
	return NULL;
}

bool
cidr_match(const struct cidr *c, const struct sockaddr *sa)
{
	const uint8_t *a;
	int family;

	if ((a = client_addr(sa, &family)) == NULL || family != c->family)
		return false;
	if (c->prefix > (family == AF_INET ? 32u : 128u))
		return false;
	return prefix_equal(a, c->addr, c->prefix);
}

bool
cidr_match_any(const struct cidr *v, size_t n, const struct sockaddr *sa)
{
	for (size_t i = 0; i < n; i++)
		if (cidr_match(&v[i], sa))
			return true;
	return false;
}

bool
cidr_client_key(const struct sockaddr *sa, unsigned v6_prefix, uint8_t key[CIDR_KEY_LEN])
{
	const uint8_t *a;
	int family;

	if ((a = client_addr(sa, &family)) == NULL)
		return false;
	memset(key, 0, CIDR_KEY_LEN);
	key[0] = (uint8_t)family;
	if (family == AF_INET)
		memcpy(key + 1, a, 4);
	else
		apply_mask(a, v6_prefix > 128 ? 128 : v6_prefix, 128, key + 1);
	return true;
}
