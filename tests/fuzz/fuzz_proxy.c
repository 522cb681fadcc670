/*
 * fuzz_proxy.c - a fuzz target for the PROXY protocol header parser.
 *
 * Every answer of proxy_parse is checked against what proxy.h promises:
 * a result within the input and the bound of its version, "need more"
 * only below that bound, *OUT left alone unless a header was found and
 * then consistent with the bytes (the v1 line's fields, the v2 command
 * and family), the same answer for every prefix from the point where the
 * answer is decided and for the input with bytes added after it. A broken
 * promise aborts.
 *
 * Standalone: clang -g -O1 -fsanitize=fuzzer,address,undefined
 * -D_GNU_SOURCE -Isrc tests/fuzz/fuzz_proxy.c src/proxy.c
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "proxy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t fuzz_v2_sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

#define FUZZ_PATTERN 0xa5

static long
fuzz_parse(const uint8_t *buf, size_t len, struct proxy_header *h)
{
	struct proxy_header untouched;
	long r;

	memset(h, FUZZ_PATTERN, sizeof(*h));
	memset(&untouched, FUZZ_PATTERN, sizeof(untouched));
	r = proxy_parse(buf, len, h);
	if (r < PROXY_ELENGTH || (r > 0 && (size_t)r > len))
		abort();
	if (r <= 0 && memcmp(h, &untouched, sizeof(*h)) != 0)
		abort();	/* *OUT written without a header */
	if (r < 0 && (proxy_strerror(r) == NULL || proxy_strerror(r)[0] == '\0'))
		abort();
	return r;
}

/* The bytes a header of this input could take at most, as far as known. */
static size_t
fuzz_bound(const uint8_t *data, size_t size)
{
	if (size > 0 && data[0] == 'P')
		return PROXY_V1_MAX;
	if (size >= 16 && memcmp(data, fuzz_v2_sig, 12) == 0)
		return 16 + ((size_t)data[14] << 8 | data[15]);
	return PROXY_V2_MAX;
}

/* Field I of the v1 line (split at single spaces) into FIELD. */
static void
fuzz_v1_field(const uint8_t *line, size_t len, int i, char *field, size_t size)
{
	size_t start = 0, end;

	while (i-- > 0) {
		const uint8_t *sp = memchr(line + start, ' ', len - start);

		if (sp == NULL)
			abort();
		start = (size_t)(sp - line) + 1;
	}
	for (end = start; end < len && line[end] != ' ' && line[end] != '\r'; end++)
		;
	if (end - start >= size || end == start)
		abort();
	memcpy(field, line + start, end - start);
	field[end - start] = '\0';
}

static void
fuzz_v1_addr(const uint8_t *line, size_t len, int i, const struct sockaddr_storage *ss)
{
	char text[64], port[16];
	uint8_t addr[16];
	unsigned p;

	fuzz_v1_field(line, len, 2 + i, text, sizeof(text));
	fuzz_v1_field(line, len, 4 + i, port, sizeof(port));
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
		char back[INET_ADDRSTRLEN];

		/* A dotted quad has one spelling: it must come back as sent. */
		if (inet_ntop(AF_INET, &sin->sin_addr, back, sizeof(back)) == NULL ||
		    strcmp(back, text) != 0)
			abort();
		p = ntohs(sin->sin_port);
	} else {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;

		if (inet_pton(AF_INET6, text, addr) != 1 || memcmp(addr, &sin6->sin6_addr, 16) != 0)
			abort();
		p = ntohs(sin6->sin6_port);
	}
	snprintf(text, sizeof(text), "%u", p);
	if (strcmp(text, port) != 0)
		abort();
}

static void
fuzz_check_v1(const uint8_t *data, long r, const struct proxy_header *h)
{
	size_t len = (size_t)r;
	sa_family_t fam = h->local ? AF_UNSPEC : h->src.ss_family;

	if (len > PROXY_V1_MAX || len < 8 || memcmp(data, "PROXY ", 6) != 0 ||
	    memcmp(data + len - 2, "\r\n", 2) != 0 || memchr(data, '\n', len - 1) != NULL ||
	    memchr(data, '\r', len - 2) != NULL)
		abort();
	if (h->stream != !h->local)
		abort();
	if (h->local) {
		if (memcmp(data + 6, "UNKNOWN", 7) != 0 || (data[13] != ' ' && data[13] != '\r'))
			abort();
		return;
	}
	if (memcmp(data + 6, fam == AF_INET ? "TCP4 " : "TCP6 ", 5) != 0)
		abort();
	fuzz_v1_addr(data, len, 0, &h->src);
	fuzz_v1_addr(data, len, 1, &h->dst);
}

static void
fuzz_check_v2(const uint8_t *data, long r, const struct proxy_header *h)
{
	size_t len = (size_t)r;
	unsigned cmd = data[12] & 0x0f, fam = data[13];

	if (len < 16 || len > PROXY_V2_MAX || memcmp(data, fuzz_v2_sig, 12) != 0 ||
	    data[12] >> 4 != 2 || cmd > 1 || len != 16 + ((size_t)data[14] << 8 | data[15]))
		abort();
	if (h->local != (cmd == 0 || fam == 0x00))
		abort();
	if (h->stream && (fam & 0x0f) != 1)
		abort();
	if (h->local)
		return;
	switch (fam >> 4) {
	case 1:
		if (h->src.ss_family != AF_INET || len < 16 + 12 ||
		    memcmp(&((const struct sockaddr_in *)&h->src)->sin_addr, data + 16, 4) != 0 ||
		    memcmp(&((const struct sockaddr_in *)&h->dst)->sin_port, data + 26, 2) != 0)
			abort();
		break;
	case 2:
		if (h->src.ss_family != AF_INET6 || len < 16 + 36 ||
		    memcmp(&((const struct sockaddr_in6 *)&h->dst)->sin6_addr, data + 32, 16) != 0 ||
		    memcmp(&((const struct sockaddr_in6 *)&h->src)->sin6_port, data + 48, 2) != 0)
			abort();
		break;
	case 3:
		if (h->src.ss_family != AF_UNIX || len < 16 + 216 ||
		    memcmp(((const struct sockaddr_un *)&h->dst)->sun_path, data + 124, 108) != 0)
			abort();
		break;
	default:
		abort();
	}
	if (h->stream != ((fam & 0x0f) == 1) || (fam & 0x0f) == 0 || (fam & 0x0f) > 2)
		abort();
}

/* The same answer twice (padding aside). */
static bool
fuzz_same(const struct proxy_header *a, const struct proxy_header *b)
{
	return a->len == b->len && a->version == b->version && a->local == b->local &&
	    a->stream == b->stream && a->src_len == b->src_len && a->dst_len == b->dst_len &&
	    memcmp(&a->src, &b->src, sizeof(a->src)) == 0 &&
	    memcmp(&a->dst, &b->dst, sizeof(a->dst)) == 0;
}

static void
fuzz_check_header(const uint8_t *data, long r, const struct proxy_header *h)
{
	if (h->len != (size_t)r || h->version != (data[0] == 'P' ? 1 : 2))
		abort();
	if (h->local) {
		if (h->src.ss_family != AF_UNSPEC || h->dst.ss_family != AF_UNSPEC ||
		    h->src_len != 0 || h->dst_len != 0)
			abort();
	} else {
		socklen_t want = h->src.ss_family == AF_INET ? sizeof(struct sockaddr_in) :
		    h->src.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) :
		    h->src.ss_family == AF_UNIX ? sizeof(struct sockaddr_un) : 0;

		if (want == 0 || h->dst.ss_family != h->src.ss_family ||
		    h->src_len != want || h->dst_len != want)
			abort();
		if (h->version == 1 && h->src.ss_family == AF_UNIX)
			abort();
	}
	if (h->version == 1)
		fuzz_check_v1(data, r, h);
	else
		fuzz_check_v2(data, r, h);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proxy_header h, h2;
	size_t k, decided, bound = fuzz_bound(data, size);
	uint8_t *more;
	long r, rk;

	r = fuzz_parse(data, size, &h);
	if (r == PROXY_NEED_MORE && size >= bound)
		abort();	/* "need more" past the bound */
	if (r > 0)
		fuzz_check_header(data, r, &h);

	/*
	 * The prefixes: "need more" up to some length, then one answer for
	 * every longer one; for a header, decided exactly at its length.
	 */
	decided = size + 1;
	for (k = 0; k <= size && k <= decided + 16; k++) {
		rk = fuzz_parse(data, k, &h2);
		if (rk == PROXY_NEED_MORE) {
			if (decided <= size)
				abort();	/* undecided again after an answer */
			continue;
		}
		if (decided > size) {
			decided = k;
			if (rk > 0 && (size_t)rk != k)
				abort();	/* a header found before its last byte */
		}
		if (rk != r)
			abort();
		if (r > 0 && !fuzz_same(&h, &h2))
			abort();
	}
	if (r != PROXY_NEED_MORE && decided > size)
		abort();

	/* Bytes after it change nothing once the answer is given. */
	if (r != PROXY_NEED_MORE) {
		more = malloc(size * 2 + 8);
		if (more == NULL)
			return 0;
		memcpy(more, data, size);
		memcpy(more + size, data, size);
		memcpy(more + 2 * size, "\r\n\r\n\0\r\n", 8);
		rk = fuzz_parse(more, size * 2 + 8, &h2);
		if (rk != r || (r > 0 && !fuzz_same(&h, &h2)))
			abort();
		free(more);
	}
	return 0;
}
