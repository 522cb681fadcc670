/*
 * framing.c - cut a byte stream into messages, frame replies.
 *
 * A complete message that lies inside the chunk being fed is handed to the
 * callback in place (no copy); only the incomplete tail of a chunk is
 * copied into the framing's buffer. Length headers are collected apart, in
 * struct framing itself, so a stream of messages that each arrive whole
 * never allocates at all. Every append is checked against max_message
 * before it is made, which is what keeps the buffer within that bound.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "framing.h"
#include "log.h"
#include "util.h"

#define FRAMING_BUF_MIN 256

static size_t
framing_header_size(const struct framing *f)
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

size_t
framing_pending(const struct framing *f)
{
	return f->hdr_len + f->len;
}

static int
framing_fail(struct framing *f, const char **why_r)
{
	f->failed = true;
	if (why_r != NULL)
		*why_r = f->why;
	return -1;
}

/* Append to the buffer. It doubles, so a message arriving a byte at a time
 * is not a realloc per byte, but stops at max_message: callers refuse
 * anything longer before keeping it, and the memory bound rests on that. */
static void
framing_keep(struct framing *f, const char *data, size_t n)
{
	size_t cap;

	if (n == 0)
		return;
	if (f->len + n > f->max_message)
		panic("framing: %zu bytes kept past max_message %zu", f->len + n,
		    f->max_message);
	if (f->len + n > f->cap) {
		cap = f->cap < FRAMING_BUF_MIN / 2 ? FRAMING_BUF_MIN : f->cap * 2;
		if (cap < f->len + n)
			cap = f->len + n;
		if (cap > f->max_message)
			cap = f->max_message;
		f->buf = xreallocarray(f->buf, cap, 1);
		f->cap = cap;
	}
	memcpy(f->buf + f->len, data, n);
	f->len += n;
}

static int
framing_line_too_long(struct framing *f, const char **why_r)
{
	snprintf(f->why, sizeof(f->why), "line longer than max_message (%zu bytes)",
	    f->max_message);
	return framing_fail(f, why_r);
}

/* line: deliver every complete line; keep the rest. */
static int
framing_lines(struct framing *f, const char *p, size_t n, framing_cb cb, void *arg,
    const char **why_r)
{
	const char *nl;
	size_t part;
	int stop;

	while (n > 0 && (nl = memchr(p, '\n', n)) != NULL) {
		part = (size_t)(nl - p);
		if (f->len + part > f->max_message)
			return framing_line_too_long(f, why_r);
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
		return framing_line_too_long(f, why_r);
	framing_keep(f, p, n);
	return 0;
}

/* Take header bytes from *P: 1 once the header is complete and acceptable,
 * 0 if more are needed, -1 if it announces more than max_message. */
static int
framing_header(struct framing *f, const char **p, size_t *n, const char **why_r)
{
	size_t size = framing_header_size(f), take = size - f->hdr_len;
	const unsigned char *h = f->hdr;

	if (take > *n)
		take = *n;
	memcpy(f->hdr + f->hdr_len, *p, take);
	f->hdr_len += take;
	*p += take;
	*n -= take;
	if (f->hdr_len < size)
		return 0;
	if (size == 2)
		f->need = (size_t)h[0] << 8 | h[1];
	else
		f->need = (size_t)((uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 |
		    (uint32_t)h[2] << 8 | h[3]);
	if (f->need > f->max_message) {
		snprintf(f->why, sizeof(f->why), "frame of %zu bytes exceeds max_message (%zu)",
		    f->need, f->max_message);
		return framing_fail(f, why_r);
	}
	return 1;
}

/* length16/length32: header, then payload, repeatedly. */
static int
framing_lengths(struct framing *f, const char *p, size_t n, framing_cb cb, void *arg,
    const char **why_r)
{
	const char *msg;
	size_t take;
	int r;

	for (;;) {
		if (f->hdr_len < framing_header_size(f) &&
		    (r = framing_header(f, &p, &n, why_r)) != 1)
			return r;
		if (f->len == 0 && n >= f->need) {	/* all of it here: no copy */
			msg = p;
			p += f->need;
			n -= f->need;
		} else {
			take = f->need - f->len < n ? f->need - f->len : n;
			framing_keep(f, p, take);
			p += take;
			n -= take;
			if (f->len < f->need)
				return 0;
			msg = f->buf;
		}
		f->hdr_len = f->len = 0;
		if (cb(arg, msg, f->need) != 0)
			return 0;
	}
}

int
framing_feed(struct framing *f, const char *data, size_t len, framing_cb cb, void *arg,
    const char **why_r)
{
	if (f->failed)
		return framing_fail(f, why_r);
	if (len == 0)
		return 0;
	switch (f->kind) {
	case FRAMING_RAW:
		cb(arg, data, len);	/* one message: nothing left to stop */
		return 0;
	case FRAMING_LINE:
		return framing_lines(f, data, len, cb, arg, why_r);
	case FRAMING_LENGTH16:
	case FRAMING_LENGTH32:
		return framing_lengths(f, data, len, cb, arg, why_r);
	}
	panic("framing: unknown kind %d", (int)f->kind);
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
		if (len > UINT16_MAX)
			return -1;
		break;
	case FRAMING_LENGTH32:
		if ((uint64_t)len > UINT32_MAX)
			return -1;
		break;
	default:
		panic("framing: unknown kind %d", (int)f->kind);
	}
	w_r->prefix_len = framing_header_size(f);
	for (size_t i = 0; i < w_r->prefix_len; i++)
		w_r->prefix[i] = (unsigned char)(len >> 8 * (w_r->prefix_len - 1 - i));
	return 0;
}
