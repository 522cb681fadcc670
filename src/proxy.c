/*
 * proxy.c - the PROXY protocol header, versions 1 and 2, as HAProxy's
 * proxy-protocol.txt defines them; see proxy.h.
 *
 * Both versions are read left to right, and every byte is judged as soon
 * as it is there: a field cut short by the end of the buffer is checked
 * for whether it can still become valid. So a buffer gets an error as
 * soon as it cannot be the start of a header, and every longer buffer
 * with the same start gets the same error; until then it gets
 * PROXY_NEED_MORE, and never reads past the bound of its version. The
 * caller keeps no state between calls: the header is at most
 * PROXY_V2_MAX bytes, so parsing it again from the start costs little.
 *
 * Nothing here allocates, does I/O or depends on the locale (digits are
 * parsed by hand; inet_pton only sees a copied, checked IPv6 field).
 * *OUT is written only when a whole header is there.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <string.h>
#include <sys/un.h>

#include "proxy.h"

static const uint8_t proxy_v2_sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

#define PROXY_V2_HEAD	16		/* signature, ver_cmd, fam, length */
#define PROXY_V1_SIGLEN	6		/* "PROXY " */
#define PROXY_IP6_TEXT	45		/* ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255 */

/* ---- version 1 ------------------------------------------------------- */

/* The line as far as it may go: END is the buffer's end or the bound, and
 * running into it means "need more" while the buffer is shorter than the
 * bound, "too long" once it is not. */
struct proxy_v1 {
	const uint8_t *p, *end;
	bool more;
};

static long
proxy_v1_end(const struct proxy_v1 *c)
{
	return c->more ? PROXY_NEED_MORE : PROXY_ETOOLONG;
}

/* The field at C->p, up to a space, CR or LF (or the end); C->p moves past it. */
static size_t
proxy_v1_field(struct proxy_v1 *c, const uint8_t **field_r)
{
	const uint8_t *f = c->p;

	while (c->p < c->end && *c->p != ' ' && *c->p != '\r' && *c->p != '\n')
		c->p++;
	*field_r = f;
	return (size_t)(c->p - f);
}

/* The protocol word, or a beginning of one when not COMPLETE: 4 or 6 for
 * TCP4 and TCP6, 0 for UNKNOWN, -1 for none (case matters). */
static int
proxy_v1_word(const uint8_t *f, size_t n, bool complete)
{
	static const struct { const char *word; int family; } words[] = {
		{ "TCP4", 4 }, { "TCP6", 6 }, { "UNKNOWN", 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		size_t wlen = strlen(words[i].word);

		if ((complete ? n == wlen : n <= wlen) && memcmp(f, words[i].word, n) == 0)
			return words[i].family;
	}
	return -1;
}

/* A dotted quad as inet_pton(AF_INET) takes it: four decimal octets of at
 * most 255, no leading zeros, nothing else. When not COMPLETE, whether F
 * can still become one. */
static bool
proxy_v1_ipv4(const uint8_t *f, size_t n, bool complete, struct in_addr *addr)
{
	uint32_t a = 0, octet = 0;
	int dots = 0, digits = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (f[i] >= '0' && f[i] <= '9') {
			if (digits > 0 && octet == 0)
				return false;	/* a leading zero */
			octet = octet * 10 + (uint32_t)(f[i] - '0');
			if (octet > 255)
				return false;
			digits++;
		} else if (f[i] == '.') {
			if (digits == 0 || ++dots > 3)
				return false;
			a = a << 8 | octet;
			octet = 0;
			digits = 0;
		} else
			return false;
	}
	if (!complete)
		return true;
	if (digits == 0 || dots != 3)
		return false;
	addr->s_addr = htonl(a << 8 | octet);
	return true;
}

/* An IPv6 address as inet_pton(AF_INET6) takes it. When not COMPLETE only
 * its characters and length are checked, which no longer text can mend. */
static bool
proxy_v1_ipv6(const uint8_t *f, size_t n, bool complete, struct in6_addr *addr)
{
	char text[PROXY_IP6_TEXT + 1];
	size_t i;

	if (n > PROXY_IP6_TEXT)
		return false;
	for (i = 0; i < n; i++) {
		uint8_t c = f[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
		    c == ':' || c == '.'))
			return false;
	}
	if (!complete)
		return true;
	memcpy(text, f, n);
	text[n] = '\0';
	return inet_pton(AF_INET6, text, addr) == 1;
}

/* A port: 0..65535 in decimal, no sign, no leading zero. */
static bool
proxy_v1_port(const uint8_t *f, size_t n, bool complete, uint16_t *port)
{
	uint32_t v = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (f[i] < '0' || f[i] > '9' || (i > 0 && v == 0))
			return false;
		v = v * 10 + (uint32_t)(f[i] - '0');
		if (v > 65535)
			return false;
	}
	if (complete) {
		if (n == 0)
			return false;
		*port = htons((uint16_t)v);
	}
	return true;
}

/* Field I (0 source address, 1 destination, 2 source port, 3 destination
 * port) of a TCP4 (FAMILY 4) or TCP6 line into H. */
static bool
proxy_v1_addr(int family, int i, const uint8_t *f, size_t n, bool complete,
    struct proxy_header *h)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)(i % 2 == 0 ? &h->src : &h->dst);
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)(i % 2 == 0 ? &h->src : &h->dst);

	if (i >= 2)
		return proxy_v1_port(f, n, complete,
		    family == 4 ? &sin->sin_port : &sin6->sin6_port);
	if (family == 4)
		return proxy_v1_ipv4(f, n, complete, &sin->sin_addr);
	return proxy_v1_ipv6(f, n, complete, &sin6->sin6_addr);
}

/* The CRLF at C->p that ends the line: the header's length, or why not. */
static long
proxy_v1_crlf(const struct proxy_v1 *c, const uint8_t *buf)
{
	if (c->p == c->end)
		return proxy_v1_end(c);
	if (*c->p != '\r')
		return PROXY_ESYNTAX;	/* a bare LF, or a field too many */
	if (c->p + 1 == c->end)
		return proxy_v1_end(c);
	if (c->p[1] != '\n')
		return PROXY_ESYNTAX;
	return (long)(c->p + 2 - buf);
}

static long
proxy_parse_v1(const uint8_t *buf, size_t len, struct proxy_header *out)
{
	struct proxy_v1 c = {
		.p = buf,
		.end = buf + (len < PROXY_V1_MAX ? len : PROXY_V1_MAX),
		.more = len < PROXY_V1_MAX,
	};
	struct proxy_header h;
	const uint8_t *f;
	size_t i, n;
	int family;
	long r;

	for (i = 0; i < PROXY_V1_SIGLEN; i++) {
		if (i == len)
			return PROXY_NEED_MORE;
		if (buf[i] != (uint8_t)"PROXY "[i])
			return PROXY_ESIGNATURE;
	}
	c.p = buf + PROXY_V1_SIGLEN;
	memset(&h, 0, sizeof(h));
	h.version = 1;

	n = proxy_v1_field(&c, &f);
	if (c.p == c.end)
		return proxy_v1_word(f, n, false) < 0 ? PROXY_ESYNTAX : proxy_v1_end(&c);
	family = proxy_v1_word(f, n, true);
	if (family < 0)
		return PROXY_ESYNTAX;

	if (family == 0) {
		/* UNKNOWN: whatever comes before the CRLF is to be ignored. */
		while (c.p < c.end && *c.p != '\r' && *c.p != '\n')
			c.p++;
		if ((r = proxy_v1_crlf(&c, buf)) <= 0)
			return r;
		h.local = true;
		goto done;
	}

	for (i = 0; i < 4; i++) {
		if (*c.p != ' ')
			return PROXY_ESYNTAX;	/* the line ends a field short */
		c.p++;
		n = proxy_v1_field(&c, &f);
		if (c.p == c.end) {
			if (!proxy_v1_addr(family, (int)i, f, n, false, &h))
				return PROXY_EADDRESS;
			return proxy_v1_end(&c);
		}
		if (n == 0)
			return PROXY_ESYNTAX;	/* two spaces, or a space before the CRLF */
		if (!proxy_v1_addr(family, (int)i, f, n, true, &h))
			return PROXY_EADDRESS;
	}
	if ((r = proxy_v1_crlf(&c, buf)) <= 0)
		return r;
	h.stream = true;
	if (family == 4) {
		h.src.ss_family = h.dst.ss_family = AF_INET;
		h.src_len = h.dst_len = sizeof(struct sockaddr_in);
	} else {
		h.src.ss_family = h.dst.ss_family = AF_INET6;
		h.src_len = h.dst_len = sizeof(struct sockaddr_in6);
	}
done:
	h.len = (size_t)r;
	*out = h;
	return r;
}

/* ---- version 2 ------------------------------------------------------- */

static uint16_t
proxy_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* A 108-byte path from the header, NUL-terminated within it or not. */
static void
proxy_v2_unix(struct sockaddr_storage *ss, socklen_t *len_r, const uint8_t *path)
{
	struct sockaddr_un *sun = (struct sockaddr_un *)ss;

	_Static_assert(sizeof(sun->sun_path) >= 108, "sun_path holds a PROXY v2 path");
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, path, 108);
	*len_r = sizeof(struct sockaddr_un);
}

static long
proxy_parse_v2(const uint8_t *buf, size_t len, struct proxy_header *out)
{
	struct proxy_header h;
	const uint8_t *a = buf + PROXY_V2_HEAD;
	size_t i, total, need, off;
	unsigned cmd, fam;
	bool known = true;

	for (i = 0; i < sizeof(proxy_v2_sig); i++) {
		if (i == len)
			return PROXY_NEED_MORE;
		if (buf[i] != proxy_v2_sig[i])
			return PROXY_ESIGNATURE;
	}
	if (len < 13)
		return PROXY_NEED_MORE;
	if (buf[12] >> 4 != 2)
		return PROXY_EVERSION;
	cmd = buf[12] & 0x0f;
	if (cmd > 1)
		return PROXY_ECOMMAND;
	if (len < 14)
		return PROXY_NEED_MORE;
	fam = buf[13];
	/*
	 * Only the seven combinations the specification defines; it says the
	 * others must be refused. Under LOCAL the family is to be ignored,
	 * whatever it is, and so is the whole address block.
	 */
	switch (fam) {
	case 0x00: need = 0; break;
	case 0x11: case 0x12: need = 12; break;
	case 0x21: case 0x22: need = 36; break;
	case 0x31: case 0x32: need = 216; break;
	default:
		if (cmd == 1)
			return PROXY_EFAMILY;
		need = 0;
		known = false;
		break;
	}
	if (len < PROXY_V2_HEAD)
		return PROXY_NEED_MORE;
	total = PROXY_V2_HEAD + (size_t)proxy_be16(buf + 14);
	if (total > PROXY_V2_MAX)
		return PROXY_ETOOLONG;
	if (cmd == 1 && total - PROXY_V2_HEAD < need)
		return PROXY_ELENGTH;
	if (len < total)
		return PROXY_NEED_MORE;

	memset(&h, 0, sizeof(h));
	h.version = 2;
	h.len = total;
	h.stream = known && (fam & 0x0f) == 1;
	if (cmd == 0 || fam == 0x00) {
		/* LOCAL (a health check of the balancer's own) or an UNSPEC
		 * family: no address, and no telling where TLVs would start. */
		h.local = true;
		goto done;
	}

	switch (fam >> 4) {
	case 1: {
		struct sockaddr_in *src = (struct sockaddr_in *)&h.src;
		struct sockaddr_in *dst = (struct sockaddr_in *)&h.dst;

		src->sin_family = dst->sin_family = AF_INET;
		memcpy(&src->sin_addr, a, 4);
		memcpy(&dst->sin_addr, a + 4, 4);
		memcpy(&src->sin_port, a + 8, 2);	/* network order already */
		memcpy(&dst->sin_port, a + 10, 2);
		h.src_len = h.dst_len = sizeof(struct sockaddr_in);
		break;
	}
	case 2: {
		struct sockaddr_in6 *src = (struct sockaddr_in6 *)&h.src;
		struct sockaddr_in6 *dst = (struct sockaddr_in6 *)&h.dst;

		src->sin6_family = dst->sin6_family = AF_INET6;
		memcpy(&src->sin6_addr, a, 16);
		memcpy(&dst->sin6_addr, a + 16, 16);
		memcpy(&src->sin6_port, a + 32, 2);
		memcpy(&dst->sin6_port, a + 34, 2);
		h.src_len = h.dst_len = sizeof(struct sockaddr_in6);
		break;
	}
	default:
		proxy_v2_unix(&h.src, &h.src_len, a);
		proxy_v2_unix(&h.dst, &h.dst_len, a + 108);
		break;
	}

	/*
	 * The TLVs that fill the rest: each must lie within the header. None
	 * is interpreted, so all are skipped, PP2_TYPE_NOOP and
	 * PP2_TYPE_CRC32C included: the checksum guards against corruption
	 * on the way, which TCP already does, and a balancer that lies about
	 * the client can as well compute it.
	 */
	for (off = PROXY_V2_HEAD + need; off < total;) {
		if (total - off < 3)
			return PROXY_ELENGTH;
		off += 3 + (size_t)proxy_be16(buf + off + 1);
		if (off > total)
			return PROXY_ELENGTH;
	}
done:
	*out = h;
	return (long)total;
}

long
proxy_parse(const uint8_t *buf, size_t len, struct proxy_header *out)
{
	if (len == 0)
		return PROXY_NEED_MORE;
	if (buf[0] == 'P')
		return proxy_parse_v1(buf, len, out);
	if (buf[0] == proxy_v2_sig[0])
		return proxy_parse_v2(buf, len, out);
	return PROXY_ESIGNATURE;
}

const char *
proxy_strerror(long err)
{
	switch (err) {
	case PROXY_NEED_MORE:
		return "PROXY protocol header incomplete";
	case PROXY_ESIGNATURE:
		return "not a PROXY protocol header";
	case PROXY_ESYNTAX:
		return "PROXY v1 header: syntax error";
	case PROXY_EADDRESS:
		return "PROXY v1 header: bad address or port";
	case PROXY_ETOOLONG:
		return "PROXY protocol header too long";
	case PROXY_EVERSION:
		return "PROXY v2 header: unsupported version";
	case PROXY_ECOMMAND:
		return "PROXY v2 header: unknown command";
	case PROXY_EFAMILY:
		return "PROXY v2 header: unknown address family or protocol";
	case PROXY_ELENGTH:
		return "PROXY v2 header: length too short for its addresses or TLVs";
	default:
		return "PROXY protocol header: unknown error";
	}
}
