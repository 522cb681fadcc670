/*
 * addr.h - listen addresses: parse the text forms of sockd.conf, print them
 * back canonically, and compare them.
 *
 *   127.0.0.1:7007   IPv4 address and port
 *   [::1]:7007       IPv6 address and port (brackets required)
 *   *:7007           every IPv4 address (0.0.0.0)
 *   unix:/run/x.sock Unix stream socket at an absolute path
 *   udp:127.0.0.1:7007, udp:[::1]:7007, udp:*:7007
 *                    the same, datagrams (UDP)
 *   unixgram:/run/x.sock  a Unix datagram socket
 *
 * Port 0 asks the kernel for an ephemeral port. Host names are not resolved.
 * An IPv4-mapped IPv6 address ([::ffff:127.0.0.1]:P) parses, and prints
 * back as such; the configuration refuses it (addr_is_v4mapped()).
 */
#ifndef SOCKD_ADDR_H
#define SOCKD_ADDR_H

#include <stdbool.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

/* Long enough for "unixgram:" + the longest sun_path, or "udp:[v6]:port". */
#define ADDR_TEXT_MAX (sizeof(((struct sockaddr_un *)0)->sun_path) + 12)

struct sockd_addr {
	bool dgram;			/* a datagram socket's (udp:, unixgram:) */
	socklen_t len;
	union {
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
		struct sockaddr_un un;
		struct sockaddr_storage ss;
	} u;
};

int addr_parse(const char *text, struct sockd_addr *addr_r, const char **why_r);
int addr_from_sockaddr(const struct sockaddr *sa, socklen_t len, struct sockd_addr *addr_r);
void addr_format(const struct sockd_addr *addr, char *buf, size_t size);
bool addr_host(const struct sockd_addr *addr, char *buf, size_t size);
int addr_family(const struct sockd_addr *addr);
int addr_port(const struct sockd_addr *addr);
bool addr_is_v4mapped(const struct sockd_addr *addr);
bool addr_equal(const struct sockd_addr *a, const struct sockd_addr *b);
bool addr_conflict(const struct sockd_addr *a, const struct sockd_addr *b);

#endif
