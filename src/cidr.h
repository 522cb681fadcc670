/*
 * cidr.h - networks as written in sockd.conf ("192.0.2.0/24",
 * "2001:db8::/32", a bare address for one host) and matching a client's
 * address against them. An IPv4-mapped IPv6 client (::ffff:192.0.2.1, as a
 * dual-stack listener sees IPv4 clients) is matched as the IPv4 address
 * it is; an IPv6 network never matches an IPv4 client, nor the reverse.
 * Pure: no allocation, no I/O, no locale.
 */
#ifndef SOCKD_CIDR_H
#define SOCKD_CIDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define CIDR_TEXT_MAX 64		/* the longest network text accepted, NUL included */

struct cidr {
	int family;			/* AF_INET or AF_INET6 */
	uint8_t addr[16];		/* network order; host bits zero */
	unsigned prefix;		/* 0..32 or 0..128 */
};

/*
 * Parse TEXT. 0 with *OUT set, or -1 with *WHY_R a static message for
 * "FILE:LINE: PATH: MESSAGE" (e.g. "prefix length must be 0..32 for an
 * IPv4 network", "not an IPv4 or IPv6 address"). Refused: empty text,
 * spaces, a zone ("fe80::1%eth0"), a prefix with a sign, leading zeros or
 * more than three digits, host bits set, IPv4 octets with leading zeros,
 * IPv4-mapped networks ("::ffff:1.2.3.4/128": write the IPv4 network),
 * text of CIDR_TEXT_MAX bytes or more, and anything inet_pton would not
 * take.
 */
int cidr_parse(const char *text, struct cidr *out, const char **why_r);
/*
 * The same, with the message written into WHY (SIZE bytes) instead: only
 * this one can name the network in "host bits set: the network is
 * 192.0.2.0/24" (cidr_parse says "host bits set" without it).
 */
int cidr_parse_msg(const char *text, struct cidr *out, char *why, size_t size);
/* The canonical text of C ("192.0.2.0/24"), at most CIDR_TEXT_MAX bytes. */
void cidr_format(const struct cidr *c, char *buf, size_t size);

/* Does the client at SA (AF_INET or AF_INET6; anything else: no) fall in C? */
bool cidr_match(const struct cidr *c, const struct sockaddr *sa);
/* In any of the N networks? */
bool cidr_match_any(const struct cidr *v, size_t n, const struct sockaddr *sa);

/*
 * The key a per-client limit counts SA under: the IPv4 address (a mapped
 * one unmapped), or the IPv6 address cut to V6_PREFIX bits (0..128; one
 * /64 is one client by default). KEY gets 17 bytes: family byte, 16
 * address bytes (IPv4 in the first 4, the rest zero). false for a family
 * that has no address (AF_UNIX).
 */
#define CIDR_KEY_LEN 17
bool cidr_client_key(const struct sockaddr *sa, unsigned v6_prefix, uint8_t key[CIDR_KEY_LEN]);

#endif
