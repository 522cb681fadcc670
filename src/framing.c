/*
 * framing.c - cut a byte stream into messages, frame replies.
 *
 * A complete message that lies inside the chunk being fed is handed to the
 * callback in place (no copy); only the incomplete tail of a chunk is
 * copied into the framing's buffer, which grows to at most max_message
 * plus a header.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "framing.h"
#include "util.h"

static size_t
header_size(const struct framing *f)
{
	return f->kind == FRAMING_LENGTH16 ? 2 : 4;
}

void
framing_init(struct framing *f, enum config_framing kind, size_t max_message)
{
	*f = (struct framing){ .kind = kind, .max_message = max_message };
}

void
framing_free(struct framing *f)
{
	free(f->buf);
	f->buf = NULL;
	f->len = f->cap = 0;
}

/* Bytes of an incomplete message received so far (header included). */
size_t
framing_pending(const struct framing *f)
{
	return f->len + (f->in_payload ? header_size(f) : 0);
}

static int
framing_fail(struct framing *f, const char **why_r)
{
	f->failed = 1;
	*why_r = f->why;
	return -1;
}

static void
framing_keep(struct framing *f, const char *data, size_t n)
{
	if (n == 0)
		return;
	if (f->len + n > f->cap) {
		f->cap = f->len + n < 256 ? 256 : f->len + n;
		f->buf = xreallocarray(f->buf, f->cap, 1);
	}
	memcpy(f->buf + f->len, data, n);
	f->len += n;
}

/* line: deliver every complete line; keep the rest. */
static int
framing_lines(struct framing *f, const char *p, size_t n, framing_cb cb, void *arg,
    const char **why_r)
{
	const char *nl;

	while (n > 0 && (nl = memchr(p, '\n', n)) != NULL) {
		size_t part = (size_t)(nl - p);
		int stop;

		if (f->len + part > f->max_message)
			goto toolong;
		if (f->len == 0)
			stop = cb(arg, p, part);
		else {
			framing_keep(f, p, part);
			stop = cb(arg, f->buf, f->len);
			f->len = 0;
		}
		p += part + 1;
		n -= part + 1;
		if (stop)
			return 0;
	}
	if (f->len + n > f->max_message)
		goto toolong;
	framing_keep(f, p, n);
	return 0;
toolong:
	snprintf(f->why, sizeof(f->why), "line longer than max_message (%zu bytes)", f->max_message);
	return framing_fail(f, why_r);
}

static size_t
decode_length(const struct framing *f, const unsigned char *h)
{
	if (f->kind == FRAMING_LENGTH16)
		return (size_t)h[0] << 8 | h[1];
	return (size_t)h[0] << 24 | (size_t)h[1] << 16 | (size_t)h[2] << 8 | h[3];
}

/* Take header bytes from *P; 1 once the header is complete, 0 if more
 * are needed, -1 if it announces too much. */
static int
framing_header(struct framing *f, const char **p, size_t *n, const char **why_r)
{
	size_t hs = header_size(f), take = hs - f->len < *n ? hs - f->len : *n;

	framing_keep(f, *p, take);
	*p += take;
	*n -= take;
	if (f->len < hs)
		return 0;
	f->need = decode_length(f, (const unsigned char *)f->buf);
	f->len = 0;
	if (f->need > f->max_message) {
		snprintf(f->why, sizeof(f->why), "frame of %zu bytes exceeds max_message (%zu)",
		    f->need, f->max_message);
		return framing_fail(f, why_r);
	}
	f->in_payload = 1;
	return 1;
}

/* length16/length32: header, then payload, repeatedly. */
static int
framing_lengths(struct framing *f, const char *p, size_t n, framing_cb cb, void *arg,
    const char **why_r)
{
	for (;;) {
		const char *msg;
		size_t need;
		int r;

		if (!f->in_payload) {
			if (n == 0)
				return 0;
			if ((r = framing_header(f, &p, &n, why_r)) != 1)
				return r;
		}
		need = f->need;
		if (f->len == 0 && n >= need) {		/* all of it here: no copy */
			msg = p;
			p += need;
			n -= need;
		} else {
			size_t take = need - f->len < n ? need - f->len : n;

			framing_keep(f, p, take);
			p += take;
			n -= take;
			if (f->len < need)
				return 0;
			msg = f->buf;
		}
		f->in_payload = 0;
		r = cb(arg, msg, need);
		f->len = 0;
		if (r != 0)
			return 0;
	}
}

int
framing_feed(struct framing *f, const char *data, size_t len, framing_cb cb, void *arg,
    const char **why_r)
{
	if (f->failed) {
		*why_r = f->why;
		return -1;
	}
	switch (f->kind) {
	case FRAMING_RAW:
		if (len > 0)
			cb(arg, data, len);
		return 0;
	case FRAMING_LINE:
		return framing_lines(f, data, len, cb, arg, why_r);
	default:
		return framing_lengths(f, data, len, cb, arg, why_r);
	}
}

int
framing_wrap(const struct framing *f, size_t len, struct framing_wrap *w_r)
{
	*w_r = (struct framing_wrap){ 0 };
	switch (f->kind) {
	case FRAMING_RAW:
		return 0;
	case FRAMING_LINE:
		w_r->suffix[0] = '\n';
		w_r->suffix_len = 1;
		return 0;
	case FRAMING_LENGTH16:
		if (len > 0xffff)
			return -1;
		w_r->prefix[0] = (unsigned char)(len >> 8);
		w_r->prefix[1] = (unsigned char)len;
		w_r->prefix_len = 2;
		return 0;
	default:
		if (len > 0xffffffffUL)
			return -1;
		for (int i = 0; i < 4; i++)
			w_r->prefix[i] = (unsigned char)(len >> (24 - 8 * i));
		w_r->prefix_len = 4;
		return 0;
	}
}
