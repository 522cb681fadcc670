/*
 * config_print.c - write a loaded configuration back as libconfig text.
 *
 * Strings are written in plain ASCII: quotes and backslashes escaped,
 * control characters and bytes beyond ASCII as \xHH, so every byte the file
 * gave survives a round trip and nothing the terminal would act on (or a
 * log line would be split by) is written as it is.
 */
#include <string.h>

#include "config_print.h"

/* One byte as libconfig reads it back; its length in OUT (at most 4). */
static size_t
quote_byte(unsigned char c, char out[5])
{
	const char *named = NULL;

	switch (c) {
	case '"':
		named = "\\\"";
		break;
	case '\\':
		named = "\\\\";
		break;
	case '\n':
		named = "\\n";
		break;
	case '\r':
		named = "\\r";
		break;
	case '\t':
		named = "\\t";
		break;
	case '\f':
		named = "\\f";
		break;
	}
	if (named != NULL)
		return (size_t)snprintf(out, 5, "%s", named);
	if (c < 0x20 || c >= 0x7f)
		return (size_t)snprintf(out, 5, "\\x%02x", c);
	out[0] = (char)c;
	out[1] = '\0';
	return 1;
}

void
config_print_quote(char *buf, size_t size, const char *s)
{
	size_t n = 1, need = 2, k;
	char e[5];

	for (const char *p = s; *p != '\0'; p++)
		need += quote_byte((unsigned char)*p, e);
	buf[0] = '"';
	for (; *s != '\0'; s++) {
		k = quote_byte((unsigned char)*s, e);
		if (need >= size && n + k + 5 > size)
			break;		/* keep room for ..." and the NUL */
		memcpy(buf + n, e, k);
		n += k;
	}
	snprintf(buf + n, size - n, "%s", *s != '\0' ? "...\"" : "\"");
}
