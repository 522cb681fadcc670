/*
 * fuzz_cidr.c - libFuzzer target for the network parser: any text is
 * either refused with a message or taken as a network whose canonical text
 * parses back to the same network, that matches its own first and last
 * addresses and not the address just past its end (IPv4-mapped addresses
 * excepted: they are IPv4 clients, which an IPv6 network never matches,
 * "::/80" included). A broken promise aborts.
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cidr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A client address of C's family with C's bytes in it. */
static void
to_sockaddr(const struct cidr *c, const uint8_t *a, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (c->family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, a, 4);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, a, 16);
	}
}

/* Should A, inside C or not as INSIDE says, match C? */
static void
expect(const struct cidr *c, const uint8_t *a, bool inside)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	struct sockaddr_storage ss;

	if (c->family == AF_INET6 && memcmp(a, mapped, sizeof(mapped)) == 0)
		inside = false;
	to_sockaddr(c, a, &ss);
	if (cidr_match(c, (struct sockaddr *)&ss) != inside)
		abort();
}

static void
check_matches(const struct cidr *c)
{
	unsigned bytes = c->family == AF_INET ? 4 : 16, bits = bytes * 8;
	struct sockaddr_storage ss;
	uint8_t last[16], past[16], key[CIDR_KEY_LEN];
	int carry = 1;

	/* The last address: every host bit set. */
	memcpy(last, c->addr, bytes);
	for (unsigned b = c->prefix; b < bits; b++)
		last[b / 8] |= (uint8_t)(0x80 >> (b % 8));
	expect(c, c->addr, true);
	expect(c, last, true);
	to_sockaddr(c, last, &ss);
	if (!cidr_client_key((struct sockaddr *)&ss, c->prefix, key))
		abort();

	/* The next address after the last, unless the network reaches the top. */
	memcpy(past, last, bytes);
	for (unsigned i = bytes; i-- > 0 && carry;) {
		past[i] = (uint8_t)(past[i] + 1);
		carry = past[i] == 0;
	}
	expect(c, past, carry && c->prefix == 0);	/* wrapped to zero */
	to_sockaddr(c, past, &ss);
	/* The other family never matches. */
	ss.ss_family = c->family == AF_INET ? AF_INET6 : AF_INET;
	if (c->family == AF_INET6 && cidr_match(c, (struct sockaddr *)&ss))
		abort();
	if (cidr_match_any(c, 1, NULL))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char text[CIDR_TEXT_MAX * 2], again[CIDR_TEXT_MAX];
	struct cidr c, d;
	const char *why = NULL;

	if (size >= sizeof(text))
		size = sizeof(text) - 1;
	memcpy(text, data, size);
	text[size] = '\0';
	if (cidr_parse(text, &c, &why) != 0) {
		char msg[128];

		if (why == NULL || why[0] == '\0')
			abort();
		if (cidr_parse_msg(text, &d, msg, sizeof(msg)) != -1 || msg[0] == '\0')
			abort();
		return 0;
	}
	if (c.family != AF_INET && c.family != AF_INET6)
		abort();
	if (c.prefix > (c.family == AF_INET ? 32u : 128u))
		abort();
	cidr_format(&c, again, sizeof(again));
	if (strlen(again) >= CIDR_TEXT_MAX - 1)	/* cut: it must fit */
		abort();
	memset(&d, 0, sizeof(d));
	if (cidr_parse(again, &d, &why) != 0)
		abort();
	if (d.family != c.family || d.prefix != c.prefix ||
	    memcmp(d.addr, c.addr, sizeof(c.addr)) != 0)
		abort();
	check_matches(&c);
	return 0;
}
