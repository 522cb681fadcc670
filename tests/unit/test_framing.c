/*
 * test_framing.c - every framing, with the stream split at every byte (in
 * two and in three pieces, and one byte at a time), coalesced, oversized,
 * zero-length, stopped early; zero copy; the memory bound over 10 MB; and
 * the framing of replies.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "framing.h"
#include "util.h"

#define MAX_MSGS 64

/* An expected message; M("text") spares counting its length. */
struct msg {
	const char *data;
	size_t len;
};
#define M(s) { (s), sizeof(s) - 1 }

/* What the callback saw. */
struct seen {
	char data[4096];		/* the messages end to end */
	size_t used;
	size_t len[MAX_MSGS];
	size_t n;
	const char *lo, *hi;		/* the chunk being fed, for the zero-copy check */
	size_t in_place;		/* messages passed as pointers into it */
	size_t stop_after;		/* 0: never stop */
};

static int
collect(void *arg, const char *msg, size_t len)
{
	struct seen *s = arg;

	assert_true(s->n < MAX_MSGS);
	assert_true(s->used + len <= sizeof(s->data));
	if (len > 0)
		memcpy(s->data + s->used, msg, len);
	s->used += len;
	s->len[s->n++] = len;
	if (len > 0 && msg >= s->lo && msg + len <= s->hi)
		s->in_place++;
	return s->stop_after != 0 && s->n >= s->stop_after;
}

static int
feed(struct framing *f, struct seen *s, const char *data, size_t len)
{
	const char *why = NULL;
	int r;

	s->lo = data;
	s->hi = data + len;
	r = framing_feed(f, data, len, collect, s, &why);
	assert_true(r == 0 ? why == NULL : why != NULL);
	return r;
}

static void
expect_msgs(const struct seen *s, const struct msg *want, size_t nwant)
{
	size_t off = 0;

	assert_int_equal(s->n, nwant);
	for (size_t i = 0; i < nwant; i++) {
		assert_int_equal(s->len[i], want[i].len);
		assert_memory_equal(s->data + off, want[i].data, want[i].len);
		off += want[i].len;
	}
}

/* Feed STREAM in the pieces between the NCUTS positions of CUTS (which
 * may repeat: a zero-byte feed is a feed too) and check what came out. */
static void
feed_cut(enum config_framing kind, size_t max, const char *stream, size_t len,
    const size_t *cuts, size_t ncuts, const struct msg *want, size_t nwant)
{
	struct framing f;
	struct seen s = { 0 };
	size_t from = 0;

	framing_init(&f, kind, max);
	for (size_t i = 0; i <= ncuts; i++) {
		size_t to = i < ncuts ? cuts[i] : len;

		assert_int_equal(feed(&f, &s, stream + from, to - from), 0);
		assert_true(f.cap <= max);
		from = to;
	}
	expect_msgs(&s, want, nwant);
	assert_int_equal(framing_pending(&f), 0);
	framing_free(&f);
}

/* Every split of STREAM in two and in three, and byte by byte, must give
 * exactly the messages of WANT. */
static void
check_splits(enum config_framing kind, size_t max, const char *stream, size_t len,
    const struct msg *want, size_t nwant)
{
	size_t cuts[256];

	assert_true(len <= ARRAY_SIZE(cuts));
	for (size_t a = 0; a <= len; a++) {
		cuts[0] = a;
		feed_cut(kind, max, stream, len, cuts, 1, want, nwant);
		for (size_t b = a; b <= len; b++) {
			cuts[1] = b;
			feed_cut(kind, max, stream, len, cuts, 2, want, nwant);
		}
	}
	for (size_t i = 0; i < len; i++)
		cuts[i] = i + 1;
	feed_cut(kind, max, stream, len, cuts, len, want, nwant);
}

static void
test_line(void **state)
{
	static const char stream[] = "hello\nworld\r\n\n\nend\n123456\n";
	static const struct msg want[] = {
		M("hello"), M("world\r"), M(""), M(""), M("end"), M("123456"),
	};

	(void)state;
	check_splits(FRAMING_LINE, 6, stream, sizeof(stream) - 1, want, ARRAY_SIZE(want));
}

static void
test_length16(void **state)
{
	/* The last message is exactly max_message (6) bytes. */
	static const char stream[] = "\0\5hello\0\0\0\1x\0\0\0\6\n\0\r\xff\1z";
	static const struct msg want[] = {
		M("hello"), M(""), M("x"), M(""), M("\n\0\r\xff\1z"),
	};

	(void)state;
	check_splits(FRAMING_LENGTH16, 6, stream, sizeof(stream) - 1, want, ARRAY_SIZE(want));
}

static void
test_length32(void **state)
{
	static const char stream[] = "\0\0\0\3abc\0\0\0\0\0\0\0\2de\0\0\0\6\0\0\0\6\0\0";
	static const struct msg want[] = {
		M("abc"), M(""), M("de"), M("\0\0\0\6\0\0"),
	};

	(void)state;
	check_splits(FRAMING_LENGTH32, 6, stream, sizeof(stream) - 1, want, ARRAY_SIZE(want));
}

static void
test_raw(void **state)
{
	struct framing f;
	struct seen s = { .stop_after = 1 };

	(void)state;
	framing_init(&f, FRAMING_RAW, 4);
	assert_int_equal(feed(&f, &s, "any bytes\n\0at all", 17), 0);
	assert_int_equal(feed(&f, &s, "x", 1), 0);
	assert_int_equal(feed(&f, &s, "", 0), 0);	/* nothing read: no message */
	assert_int_equal(s.n, 2);
	assert_int_equal(s.len[0], 17);	/* max_message does not apply to raw */
	assert_int_equal(s.in_place, 2);
	assert_int_equal(framing_pending(&f), 0);
	assert_null(f.buf);
	framing_free(&f);
}

static void
test_pending(void **state)
{
	struct framing f;
	struct seen s = { 0 };

	(void)state;
	framing_init(&f, FRAMING_LINE, 100);
	assert_int_equal(feed(&f, &s, "abc\nhal", 7), 0);
	assert_int_equal(framing_pending(&f), 3);
	assert_int_equal(feed(&f, &s, "f\n", 2), 0);
	assert_int_equal(framing_pending(&f), 0);
	framing_free(&f);
	framing_init(&f, FRAMING_LENGTH32, 100);
	assert_int_equal(feed(&f, &s, "\0\0", 2), 0);
	assert_int_equal(framing_pending(&f), 2);	/* half a header */
	assert_int_equal(feed(&f, &s, "\0\5", 2), 0);
	assert_int_equal(framing_pending(&f), 4);	/* a header, no payload */
	assert_int_equal(feed(&f, &s, "ab", 2), 0);
	assert_int_equal(framing_pending(&f), 6);	/* header and 2 of 5 */
	assert_int_equal(feed(&f, &s, "cde", 3), 0);
	assert_int_equal(framing_pending(&f), 0);
	framing_free(&f);
	framing_free(&f);				/* twice is harmless */
}

/* Once refused, always refused: same message, no callback. */
static void
expect_dead(struct framing *f, struct seen *s, const char *want_why)
{
	const char *why = NULL;
	size_t n = s->n;

	assert_int_equal(framing_feed(f, "\0\0\n", 3, collect, s, &why), -1);
	assert_string_equal(why, want_why);
	assert_int_equal(framing_feed(f, "", 0, collect, s, NULL), -1);
	assert_int_equal(s->n, n);
}

static void
test_line_too_long(void **state)
{
	static const char *why_5 = "line longer than max_message (5 bytes)";
	struct framing f;
	struct seen s = { 0 };
	const char *why = NULL;

	(void)state;
	/* Exactly max_message is fine, whole or pieced together ... */
	framing_init(&f, FRAMING_LINE, 5);
	assert_int_equal(feed(&f, &s, "12345\n12", 8), 0);
	assert_int_equal(feed(&f, &s, "345\n", 4), 0);
	assert_int_equal(s.n, 2);
	/* ... one more is refused as soon as it is there, without a '\n'. */
	for (int i = 0; i < 5; i++)
		assert_int_equal(feed(&f, &s, "x", 1), 0);
	assert_int_equal(framing_feed(&f, "x", 1, collect, &s, &why), -1);
	assert_string_equal(why, why_5);
	assert_true(f.cap <= 5);
	expect_dead(&f, &s, why_5);
	framing_free(&f);

	/* A complete long line in one chunk: the lines before it still count. */
	s = (struct seen){ 0 };
	framing_init(&f, FRAMING_LINE, 5);
	assert_int_equal(feed(&f, &s, "ok\n123456\nnever\n", 16), -1);
	assert_int_equal(s.n, 1);
	expect_dead(&f, &s, why_5);
	framing_free(&f);
}

static void
test_frame_too_long(void **state)
{
	static const char *why_6 = "frame of 6 bytes exceeds max_message (5)";
	struct framing f;
	struct seen s = { 0 };
	const char *why = NULL;

	(void)state;
	framing_init(&f, FRAMING_LENGTH16, 5);
	assert_int_equal(feed(&f, &s, "\0\5abcde\0\1z", 10), 0);
	assert_int_equal(s.n, 2);
	/* Refused as soon as the header is complete, before any payload. */
	assert_int_equal(framing_feed(&f, "\0", 1, collect, &s, &why), 0);
	assert_int_equal(framing_feed(&f, "\6", 1, collect, &s, &why), -1);
	assert_string_equal(why, why_6);
	assert_int_equal(f.cap, 0);			/* whole messages were never copied */
	expect_dead(&f, &s, why_6);
	framing_free(&f);

	/* In the middle of a coalesced chunk. */
	s = (struct seen){ 0 };
	framing_init(&f, FRAMING_LENGTH16, 5);
	assert_int_equal(feed(&f, &s, "\0\1a\0\6abcdef\0\1b", 14), -1);
	assert_int_equal(s.n, 1);
	expect_dead(&f, &s, why_6);
	framing_free(&f);

	framing_init(&f, FRAMING_LENGTH32, 1000);
	assert_int_equal(framing_feed(&f, "\xff\xff\xff\xff", 4, collect, &s, &why), -1);
	assert_string_equal(why, "frame of 4294967295 bytes exceeds max_message (1000)");
	framing_free(&f);
}

static int
note_len(void *arg, const char *msg, size_t len)
{
	size_t *len_r = arg;

	(void)msg;
	*len_r = len;
	return 0;
}

/* The largest length16 frame, when max_message allows it. */
static void
test_length16_largest(void **state)
{
	static char stream[2 + 65535];
	struct framing f;
	size_t got = 0;

	(void)state;
	stream[0] = stream[1] = '\xff';
	framing_init(&f, FRAMING_LENGTH16, 1 << 20);
	assert_int_equal(framing_feed(&f, stream, 1000, note_len, &got, NULL), 0);
	assert_int_equal(framing_pending(&f), 1000);
	assert_int_equal(framing_feed(&f, stream + 1000, sizeof(stream) - 1000, note_len,
	    &got, NULL), 0);
	assert_int_equal(got, 65535);
	assert_int_equal(framing_pending(&f), 0);
	framing_free(&f);
}

static void
test_callback_stops(void **state)
{
	struct framing f;
	struct seen s = { .stop_after = 2 };

	(void)state;
	framing_init(&f, FRAMING_LINE, 100);
	assert_int_equal(feed(&f, &s, "a\nb\nc\nd\n", 8), 0);
	assert_int_equal(s.n, 2);
	framing_free(&f);

	/* Stopping on a message pieced together in the buffer. */
	s = (struct seen){ .stop_after = 1 };
	framing_init(&f, FRAMING_LINE, 100);
	assert_int_equal(feed(&f, &s, "ab", 2), 0);
	assert_int_equal(feed(&f, &s, "c\nd\n", 4), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.len[0], 3);
	framing_free(&f);

	s = (struct seen){ .stop_after = 1 };
	framing_init(&f, FRAMING_LENGTH16, 100);
	assert_int_equal(feed(&f, &s, "\0\1a\0\1b", 6), 0);
	assert_int_equal(s.n, 1);
	framing_free(&f);

	s = (struct seen){ .stop_after = 1 };
	framing_init(&f, FRAMING_LENGTH32, 100);
	assert_int_equal(feed(&f, &s, "\0\0\0\0\0\0\0\0", 8), 0);	/* empty ones too */
	assert_int_equal(s.n, 1);
	framing_free(&f);
}

static void
test_zero_copy(void **state)
{
	struct framing f;
	struct seen s = { 0 };

	(void)state;
	framing_init(&f, FRAMING_LINE, 100);
	assert_int_equal(feed(&f, &s, "one\ntwo\nthr", 11), 0);
	assert_int_equal(s.in_place, 2);	/* whole lines: no copy */
	assert_int_equal(feed(&f, &s, "ee\n", 3), 0);
	assert_int_equal(s.in_place, 2);	/* the joined one came from the buffer */
	assert_int_equal(s.len[2], 5);
	assert_memory_equal(s.data + 6, "three", 5);
	framing_free(&f);

	s = (struct seen){ 0 };
	framing_init(&f, FRAMING_LENGTH32, 100);
	assert_int_equal(feed(&f, &s, "\0\0\0\2hi\0\0\0\2yo\0\0", 14), 0);
	assert_int_equal(s.in_place, 2);
	assert_null(f.buf);			/* a split header needs no buffer */
	assert_int_equal(feed(&f, &s, "\0\2h", 3), 0);
	assert_int_equal(feed(&f, &s, "i", 1), 0);
	assert_int_equal(s.in_place, 2);	/* split payload: from the buffer */
	assert_int_equal(s.n, 3);
	framing_free(&f);
}

/*
 * The memory bound: 10 MB of messages of every size from 0 to max_message
 * fed in chunks of odd sizes. Every message must come out whole and in
 * order, and the buffer must never outgrow max_message.
 */
#define BOUND_MAX 1000

struct bound {
	size_t next;			/* index of the message expected next */
	size_t msgs;
};

static size_t
bound_size(size_t i)
{
	return i * 37 % (BOUND_MAX + 1);	/* visits every size 0..BOUND_MAX */
}

static int
bound_check(void *arg, const char *msg, size_t len)
{
	struct bound *b = arg;
	size_t want = bound_size(b->next);

	assert_int_equal(len, want);
	for (size_t i = 0; i < len; i++)
		if (msg[i] != (char)('a' + want % 26))
			fail_msg("message %zu: byte %zu is wrong", b->next, i);
	b->next = (b->next + 1) % (BOUND_MAX + 1);
	b->msgs++;
	return 0;
}

/* One message of every size, framed as KIND. */
static size_t
bound_stream(enum config_framing kind, char *stream)
{
	size_t len = 0;

	for (size_t i = 0; i <= BOUND_MAX; i++) {
		size_t m = bound_size(i);

		if (kind == FRAMING_LENGTH32)
			stream[len++] = 0, stream[len++] = 0;
		if (kind != FRAMING_LINE)
			stream[len++] = (char)(m >> 8), stream[len++] = (char)m;
		memset(stream + len, 'a' + (int)(m % 26), m);
		len += m;
		if (kind == FRAMING_LINE)
			stream[len++] = '\n';
	}
	return len;
}

static void
test_memory_bound(void **state)
{
	static const enum config_framing kinds[] = {
		FRAMING_LINE, FRAMING_LENGTH16, FRAMING_LENGTH32,
	};
	static const size_t chunks[] = { 1, 2, 3, 5, 97, 1000, 1001, 4093, 16384, 65537 };
	static char stream[(BOUND_MAX + 1) * (BOUND_MAX / 2 + 5)];

	(void)state;
	for (size_t k = 0; k < ARRAY_SIZE(kinds); k++) {
		struct framing f;
		struct bound b = { 0 };
		size_t len = bound_stream(kinds[k], stream), fed = 0, off = 0, c = 0;

		framing_init(&f, kinds[k], BOUND_MAX);
		while (fed < 10 * 1000 * 1000) {
			size_t n = chunks[c++ % ARRAY_SIZE(chunks)];

			if (n > len - off)
				n = len - off;
			assert_int_equal(framing_feed(&f, stream + off, n, bound_check, &b, NULL), 0);
			assert_true(f.cap <= BOUND_MAX);
			fed += n;
			if ((off += n) == len)
				off = 0;
		}
		assert_true(b.msgs >= fed / len * (BOUND_MAX + 1));
		framing_free(&f);
	}
}

static void
test_wrap(void **state)
{
	struct framing f;
	struct framing_wrap w;

	(void)state;
	framing_init(&f, FRAMING_RAW, 10);
	assert_int_equal(framing_wrap(&f, 5, &w), 0);
	assert_int_equal(w.prefix_len + w.suffix_len, 0);

	framing_init(&f, FRAMING_LINE, 10);
	assert_int_equal(framing_wrap(&f, 5, &w), 0);
	assert_int_equal(w.prefix_len, 0);
	assert_int_equal(w.suffix_len, 1);
	assert_int_equal(w.suffix[0], '\n');

	framing_init(&f, FRAMING_LENGTH16, 10);
	assert_int_equal(framing_wrap(&f, 0x1234, &w), 0);	/* beyond max_message: fine */
	assert_int_equal(w.prefix_len, 2);
	assert_memory_equal(w.prefix, "\x12\x34", 2);
	assert_int_equal(w.suffix_len, 0);
	assert_int_equal(framing_wrap(&f, 0, &w), 0);
	assert_memory_equal(w.prefix, "\0\0", 2);
	assert_int_equal(framing_wrap(&f, 65535, &w), 0);
	assert_memory_equal(w.prefix, "\xff\xff", 2);
	assert_int_equal(framing_wrap(&f, 65536, &w), -1);

	framing_init(&f, FRAMING_LENGTH32, 10);
	assert_int_equal(framing_wrap(&f, 0x01020304, &w), 0);
	assert_int_equal(w.prefix_len, 4);
	assert_memory_equal(w.prefix, "\1\2\3\4", 4);
	assert_int_equal(w.suffix_len, 0);
	assert_int_equal(framing_wrap(&f, UINT32_MAX, &w), 0);
	assert_memory_equal(w.prefix, "\xff\xff\xff\xff", 4);
#if SIZE_MAX > UINT32_MAX
	assert_int_equal(framing_wrap(&f, (size_t)UINT32_MAX + 1, &w), -1);
#endif
}

/* A reply framed by framing_wrap() reads back as the same message. */
static void
test_wrap_roundtrip(void **state)
{
	static const enum config_framing kinds[] = {
		FRAMING_LINE, FRAMING_LENGTH16, FRAMING_LENGTH32,
	};

	(void)state;
	for (size_t k = 0; k < ARRAY_SIZE(kinds); k++) {
		static const struct msg want[] = { M("reply"), M("") };
		struct framing f;
		struct framing_wrap w;
		struct seen s = { 0 };
		char out[64];
		size_t len = 0;

		framing_init(&f, kinds[k], 100);
		for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
			assert_int_equal(framing_wrap(&f, want[i].len, &w), 0);
			memcpy(out + len, w.prefix, w.prefix_len);
			memcpy(out + len + w.prefix_len, want[i].data, want[i].len);
			memcpy(out + len + w.prefix_len + want[i].len, w.suffix, w.suffix_len);
			len += w.prefix_len + want[i].len + w.suffix_len;
		}
		assert_int_equal(feed(&f, &s, out, len), 0);
		expect_msgs(&s, want, ARRAY_SIZE(want));
		framing_free(&f);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_line),
		cmocka_unit_test(test_length16),
		cmocka_unit_test(test_length32),
		cmocka_unit_test(test_raw),
		cmocka_unit_test(test_pending),
		cmocka_unit_test(test_line_too_long),
		cmocka_unit_test(test_frame_too_long),
		cmocka_unit_test(test_length16_largest),
		cmocka_unit_test(test_callback_stops),
		cmocka_unit_test(test_zero_copy),
		cmocka_unit_test(test_memory_bound),
		cmocka_unit_test(test_wrap),
		cmocka_unit_test(test_wrap_roundtrip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
