/*
 * strbuf.c - a growable text buffer with a ceiling.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"
#include "util.h"

static size_t
strbuf_max(const struct strbuf *b)
{
	return b->max != 0 ? b->max : STRBUF_DEFAULT_MAX;
}

/* Room for N more bytes and a NUL; false (and overflow set) past the ceiling. */
static bool
strbuf_room(struct strbuf *b, size_t n)
{
	size_t cap;

	if (b->overflow)
		return false;
	if (n > strbuf_max(b) - b->len) {
		b->overflow = true;
		return false;
	}
	if (b->len + n + 1 <= b->cap)
		return true;
	cap = b->cap < 256 ? 256 : b->cap;
	while (cap < b->len + n + 1)
		cap *= 2;
	b->p = xreallocarray(b->p, cap, 1);
	b->cap = cap;
	return true;
}

void
strbuf_add(struct strbuf *b, const char *s, size_t n)
{
	if (!strbuf_room(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void
strbuf_puts(struct strbuf *b, const char *s)
{
	strbuf_add(b, s, strlen(s));
}

void
strbuf_printf(struct strbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !strbuf_room(b, (size_t)n)) {
		b->overflow = true;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/*
 * The length of the UTF-8 character at S (1 to 4), or 0 when S does not
 * start a well-formed one (RFC 3629: no overlong forms, no surrogates,
 * nothing past U+10FFFF). JSON and Prometheus both want UTF-8, and a
 * service name or an error message is only bytes.
 */
size_t
strbuf_utf8_len(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n;

	if (u[0] < 0x80)
		return 1;
	if (u[0] >= 0xc2 && u[0] <= 0xdf)
		n = 2;
	else if (u[0] >= 0xe0 && u[0] <= 0xef) {
		n = 3;
		if (u[0] == 0xe0)
			lo = 0xa0;
		else if (u[0] == 0xed)
			hi = 0x9f;
	} else if (u[0] >= 0xf0 && u[0] <= 0xf4) {
		n = 4;
		if (u[0] == 0xf0)
			lo = 0x90;
		else if (u[0] == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (u[1] < lo || u[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (u[i] < 0x80 || u[i] > 0xbf)
			return 0;
	return n;
}

/*
 * S as a JSON string, quotes included: '"', '\\' and control characters
 * escaped, and a byte that is not part of well-formed UTF-8 written as
 * U+FFFD, so that the document always parses.
 */
void
strbuf_json_string(struct strbuf *b, const char *s)
{
	strbuf_add(b, "\"", 1);
	while (*s != '\0') {
		unsigned char ch = (unsigned char)*s;
		size_t n = strbuf_utf8_len(s);

		if (ch == '"' || ch == '\\') {
			char esc[2] = { '\\', (char)ch };

			strbuf_add(b, esc, 2);
		} else if (ch == '\n')
			strbuf_add(b, "\\n", 2);
		else if (ch < 0x20 || ch == 0x7f)
			strbuf_printf(b, "\\u%04x", ch);
		else if (n == 0) {
			strbuf_add(b, "\\ufffd", 6);
			n = 1;
		} else
			strbuf_add(b, s, n);
		s += n == 0 ? 1 : n;
	}
	strbuf_add(b, "\"", 1);
}

/*
 * NS nanoseconds as seconds with as few digits as say it exactly: "0.0001",
 * "1", "2.5". Exact where printf("%g") of a double would round, and the
 * same text for the same bound in every output.
 */
void
strbuf_ns_seconds(struct strbuf *b, uint64_t ns)
{
	uint64_t frac = ns % 1000000000u;
	int digits = 9;

	if (frac == 0) {
		strbuf_printf(b, "%" PRIu64, ns / 1000000000u);
		return;
	}
	while (frac % 10 == 0) {
		frac /= 10;
		digits--;
	}
	strbuf_printf(b, "%" PRIu64 ".%0*" PRIu64, ns / 1000000000u, digits, frac);
}

void
strbuf_free(struct strbuf *b)
{
	free(b->p);
	*b = (struct strbuf){ .max = b->max };
}
