/*
 * strbuf.c - a growable text buffer with a ceiling.
 */
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

/* S as a JSON string, quotes included; control characters escaped. */
void
strbuf_json_string(struct strbuf *b, const char *s)
{
	strbuf_add(b, "\"", 1);
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\') {
			char esc[2] = { '\\', (char)ch };

			strbuf_add(b, esc, 2);
		} else if (ch < 0x20 || ch == 0x7f)
			strbuf_printf(b, "\\u%04x", ch);
		else
			strbuf_add(b, s, 1);
	}
	strbuf_add(b, "\"", 1);
}

void
strbuf_free(struct strbuf *b)
{
	free(b->p);
	*b = (struct strbuf){ .max = b->max };
}
