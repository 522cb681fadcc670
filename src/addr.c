/*
 * addr.c - listen addresses: parsing, printing, comparing.
 *
 * Parsing is strict on purpose: a listen address is either exactly one of
 * the documented forms or an error whose reason addr_parse() names.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"

#define UNIX_PREFIX "unix:"
#define UNIXGRAM_PREFIX "unixgram:"
#define UDP_PREFIX "udp:"

static int
addr_parse_port(const char *s, in_port_t *port_r, const char **why_r)
{
	unsigned long v = 0;

	if (*s == '\0') {
		*why_r = "missing port after ':'";
		return -1;
	}
	for (const char *p = s; *p != '\0'; p++) {
		if (*p < '0' || *p > '9' || v > 65535) {
			*why_r = "port must be a number from 0 to 65535";
			return -1;
		}
		v = v * 10 + (unsigned long)(*p - '0');
	}
	if (v > 65535) {
		*why_r = "port must be a number from 0 to 65535";
		return -1;
	}
	*port_r = htons((in_port_t)v);
	return 0;
}

static int
addr_parse_unix(const char *path, struct sockd_addr *addr, const char **why_r)
{
	size_t n = strlen(path);

	if (path[0] != '/') {
		*why_r = "a Unix socket path must be absolute";
		return -1;
	}
	if (n >= sizeof(addr->u.un.sun_path)) {
		*why_r = "Unix socket path too long";
		return -1;
	}
	addr->u.un.sun_family = AF_UNIX;
	memcpy(addr->u.un.sun_path, path, n + 1);
	addr->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	return 0;
}

static int
addr_parse_inet6(const char *text, struct sockd_addr *addr, const char **why_r)
{
	const char *close = strchr(text, ']');
	char host[INET6_ADDRSTRLEN];
	size_t n;

	if (close == NULL || close[1] != ':') {
		*why_r = "expected [IPv6-address]:port";
		return -1;
	}
	n = (size_t)(close - text - 1);
	if (n >= sizeof(host)) {
		*why_r = "not an IPv6 address";
		return -1;
	}
	memcpy(host, text + 1, n);
	host[n] = '\0';
	if (inet_pton(AF_INET6, host, &addr->u.in6.sin6_addr) != 1) {
		*why_r = "not an IPv6 address";
		return -1;
	}
	addr->u.in6.sin6_family = AF_INET6;
	addr->len = sizeof(addr->u.in6);
	return addr_parse_port(close + 2, &addr->u.in6.sin6_port, why_r);
}

static int
addr_parse_inet(const char *text, struct sockd_addr *addr, const char **why_r)
{
	const char *colon = strrchr(text, ':');
	char host[INET_ADDRSTRLEN];
	size_t n;

	if (colon == NULL) {
		*why_r = "expected ADDRESS:PORT, [IPv6]:PORT, *:PORT or unix:/PATH "
		    "(udp: or unixgram: before them for datagrams)";
		return -1;
	}
	n = (size_t)(colon - text);
	addr->u.in.sin_family = AF_INET;
	addr->len = sizeof(addr->u.in);
	if (n == 1 && text[0] == '*')
		addr->u.in.sin_addr.s_addr = htonl(INADDR_ANY);
	else if (n >= sizeof(host) || (memcpy(host, text, n), host[n] = '\0',
	    inet_pton(AF_INET, host, &addr->u.in.sin_addr) != 1)) {
		*why_r = "not an IPv4 address (host names are not resolved)";
		return -1;
	}
	return addr_parse_port(colon + 1, &addr->u.in.sin_port, why_r);
}

int
addr_parse(const char *text, struct sockd_addr *addr_r, const char **why_r)
{
	const char *why = NULL;
	int r;

	memset(addr_r, 0, sizeof(*addr_r));
	if (strncmp(text, UNIXGRAM_PREFIX, strlen(UNIXGRAM_PREFIX)) == 0) {
		addr_r->dgram = true;
		text += strlen(UNIXGRAM_PREFIX);
		r = addr_parse_unix(text, addr_r, &why);
	} else if (strncmp(text, UNIX_PREFIX, strlen(UNIX_PREFIX)) == 0)
		r = addr_parse_unix(text + strlen(UNIX_PREFIX), addr_r, &why);
	else if (strncmp(text, UDP_PREFIX, strlen(UDP_PREFIX)) == 0) {
		addr_r->dgram = true;
		text += strlen(UDP_PREFIX);
		r = text[0] == '[' ? addr_parse_inet6(text, addr_r, &why) :
		    addr_parse_inet(text, addr_r, &why);
	} else if (text[0] == '[')
		r = addr_parse_inet6(text, addr_r, &why);
	else
		r = addr_parse_inet(text, addr_r, &why);
	if (r == -1 && why_r != NULL)
		*why_r = why;
	return r;
}

int
addr_from_sockaddr(const struct sockaddr *sa, socklen_t len, struct sockd_addr *addr_r)
{
	memset(addr_r, 0, sizeof(*addr_r));
	if (len > sizeof(addr_r->u)) {
		errno = EINVAL;
		return -1;
	}
	memcpy(&addr_r->u, sa, len);
	addr_r->len = len;
	return 0;
}

int
addr_family(const struct sockd_addr *addr)
{
	return addr->u.sa.sa_family;
}

int
addr_port(const struct sockd_addr *addr)
{
	switch (addr_family(addr)) {
	case AF_INET:
		return ntohs(addr->u.in.sin_port);
	case AF_INET6:
		return ntohs(addr->u.in6.sin6_port);
	default:
		return -1;
	}
}

/*
 * The host part of an IP address as text, IPv6 without brackets (as UCSPI
 * and access logs want it); false for other families (Unix sockets).
 * An IPv4-mapped IPv6 address is shown as the IPv4 address it carries.
 */
bool
addr_host(const struct sockd_addr *addr, char *buf, size_t size)
{
	const struct in6_addr *in6 = &addr->u.in6.sin6_addr;

	switch (addr_family(addr)) {
	case AF_INET:
		return inet_ntop(AF_INET, &addr->u.in.sin_addr, buf, (socklen_t)size) != NULL;
	case AF_INET6:
		if (IN6_IS_ADDR_V4MAPPED(in6))
			return inet_ntop(AF_INET, &in6->s6_addr[12], buf, (socklen_t)size) != NULL;
		return inet_ntop(AF_INET6, in6, buf, (socklen_t)size) != NULL;
	default:
		return false;
	}
}

void
addr_format(const struct sockd_addr *addr, char *buf, size_t size)
{
	char host[INET6_ADDRSTRLEN];
	const char *udp = addr->dgram ? UDP_PREFIX : "";

	switch (addr_family(addr)) {
	case AF_INET:
		addr_host(addr, host, sizeof(host));
		snprintf(buf, size, "%s%s:%d", udp, host, addr_port(addr));
		break;
	case AF_INET6:
		/* Not addr_host(): "[127.0.0.1]:P" would not parse back. */
		inet_ntop(AF_INET6, &addr->u.in6.sin6_addr, host, sizeof(host));
		snprintf(buf, size, "%s[%s]:%d", udp, host, addr_port(addr));
		break;
	case AF_UNIX:
		if (addr->len <= offsetof(struct sockaddr_un, sun_path))
			snprintf(buf, size, "%s(unnamed)",
			    addr->dgram ? UNIXGRAM_PREFIX : UNIX_PREFIX);
		else
			snprintf(buf, size, "%s%.*s", addr->dgram ? UNIXGRAM_PREFIX : UNIX_PREFIX,
			    (int)strnlen(addr->u.un.sun_path,
				addr->len - offsetof(struct sockaddr_un, sun_path)),
			    addr->u.un.sun_path);
		break;
	default:
		snprintf(buf, size, "(family %d)", addr_family(addr));
	}
}

/* ::ffff:a.b.c.d: an IPv4 address in IPv6 form, which an IPv6-only
 * socket (every IPv6 listener of sockd's) cannot bind. */
bool
addr_is_v4mapped(const struct sockd_addr *addr)
{
	return addr_family(addr) == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&addr->u.in6.sin6_addr);
}

bool
addr_equal(const struct sockd_addr *a, const struct sockd_addr *b)
{
	if (addr_family(a) != addr_family(b) || a->dgram != b->dgram)
		return false;
	switch (addr_family(a)) {
	case AF_INET:
		return a->u.in.sin_port == b->u.in.sin_port &&
		    a->u.in.sin_addr.s_addr == b->u.in.sin_addr.s_addr;
	case AF_INET6:
		return a->u.in6.sin6_port == b->u.in6.sin6_port &&
		    memcmp(&a->u.in6.sin6_addr, &b->u.in6.sin6_addr,
			sizeof(struct in6_addr)) == 0;
	case AF_UNIX:
		return strncmp(a->u.un.sun_path, b->u.un.sun_path,
		    sizeof(a->u.un.sun_path)) == 0;
	default:
		return false;
	}
}

static bool
addr_is_wildcard(const struct sockd_addr *a)
{
	if (addr_family(a) == AF_INET)
		return a->u.in.sin_addr.s_addr == htonl(INADDR_ANY);
	if (addr_family(a) == AF_INET6)
		return IN6_IS_ADDR_UNSPECIFIED(&a->u.in6.sin6_addr);
	return false;
}

/*
 * Would binding both fail? Equal addresses do; so does a wildcard and a
 * specific address of the same family on the same fixed port (Linux refuses
 * the second bind of a listening pair even with SO_REUSEADDR).
 */
bool
addr_conflict(const struct sockd_addr *a, const struct sockd_addr *b)
{
	if (addr_family(a) != addr_family(b))
		return false;
	if (addr_family(a) == AF_UNIX)	/* one file, whichever the socket type */
		return strncmp(a->u.un.sun_path, b->u.un.sun_path, sizeof(a->u.un.sun_path)) == 0;
	if (a->dgram != b->dgram || addr_port(a) == 0)
		return false;	/* TCP and UDP ports apart; ephemeral ports never collide */
	if (addr_equal(a, b))
		return true;
	return addr_port(a) == addr_port(b) &&
	    (addr_is_wildcard(a) || addr_is_wildcard(b));
}
