/*
 * strbuf.h - a growable text buffer with a ceiling, for documents built in
 * memory (status tables, JSON, metrics). Past the ceiling it stops growing
 * and remembers that it overflowed; the writer checks once at the end, so
 * no input can make it grow without bound.
 */
#ifndef SOCKD_STRBUF_H
#define SOCKD_STRBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct strbuf {
	char *p;			/* NUL-terminated once anything was added */
	size_t len;
	size_t cap;
	size_t max;			/* ceiling on len; 0: STRBUF_DEFAULT_MAX */
	bool overflow;			/* something did not fit under max */
};

#define STRBUF_DEFAULT_MAX (16u << 20)

void strbuf_add(struct strbuf *b, const char *s, size_t n);
void strbuf_puts(struct strbuf *b, const char *s);
void strbuf_printf(struct strbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void strbuf_json_string(struct strbuf *b, const char *s);
size_t strbuf_utf8_len(const char *s);
void strbuf_ns_seconds(struct strbuf *b, uint64_t ns);
void strbuf_free(struct strbuf *b);

#endif
