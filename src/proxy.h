/*
 * proxy.h - the PROXY protocol header (HAProxy's proxy-protocol.txt,
 * versions 1 and 2) that a load balancer sends before the client's bytes,
 * saying who the client is. Pure and incremental: give it what has arrived
 * so far; it says "need more", "here is the header, N bytes long", or why
 * the bytes are not a valid header. It never reads past the header, so
 * the bytes after it are the client's first message.
 */
#ifndef SOCKD_PROXY_H
#define SOCKD_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define PROXY_V1_MAX 107		/* a v1 line, CRLF included (the spec's bound) */
#define PROXY_V2_MAX 4096		/* a v2 header we accept, TLVs included */

enum proxy_error {
	PROXY_NEED_MORE = 0,		/* a valid prefix: read more (up to the bound) */
	PROXY_ESIGNATURE = -1,		/* neither "PROXY " nor the v2 signature */
	PROXY_ESYNTAX = -2,		/* v1: not "PROXY TCP4|TCP6|UNKNOWN a b p q\r\n" */
	PROXY_EADDRESS = -3,		/* an address or port that does not parse */
	PROXY_ETOOLONG = -4,		/* past PROXY_V1_MAX / PROXY_V2_MAX */
	PROXY_EVERSION = -5,		/* v2: version not 2 */
	PROXY_ECOMMAND = -6,		/* v2: command not LOCAL or PROXY */
	PROXY_EFAMILY = -7,		/* v2: unknown address family or protocol */
	PROXY_ELENGTH = -8,		/* v2: length too short for its family, or TLVs
					 * that overrun the header */
};

struct proxy_header {
	size_t len;			/* bytes of the header: the client's data follows */
	int version;			/* 1 or 2 */
	bool local;			/* v2 LOCAL (a health check), v1 UNKNOWN, or v2
					 * AF_UNSPEC: no client address, keep the
					 * connection's own */
	bool stream;			/* TCP / SOCK_STREAM (v2 DGRAM: false) */
	struct sockaddr_storage src;	/* the client, unless local */
	socklen_t src_len;
	struct sockaddr_storage dst;	/* the address it connected to, unless local */
	socklen_t dst_len;
};

/*
 * Parse the header at the start of BUF (LEN bytes). Returns the header's
 * length (> 0) with *OUT filled, PROXY_NEED_MORE (0) when BUF is a valid
 * beginning, or a negative enum proxy_error.
 */
long proxy_parse(const uint8_t *buf, size_t len, struct proxy_header *out);
/* A sentence for a negative result of proxy_parse. */
const char *proxy_strerror(long err);

#endif
