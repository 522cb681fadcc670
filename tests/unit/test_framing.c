/*
 * test_framing.c - every framing, with the stream split at every byte,
 * coalesced, oversized, zero-length, stopped early; the memory bound; and
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

#define MAX_MSGS 64

/* What the callback saw. */
struct seen {
	char msg[MAX_MSGS][128];
	size_t len[MAX_MSGS];
	size_t n;
	const char *lo, *hi;		/* the buffer fed, for the zero-copy check */
	size_t in_place;		/* messages passed as pointers into it */
	size_t stop_after;		/* 0: never stop */
};

static int
collect(void *arg, const char *msg, size_t len)
{
	struct seen *s = arg;

	assert_true(s->n < MAX_MSGS);
	assert_true(len < sizeof(s->msg[0]));
	memcpy(s->msg[s->n], msg, len);
	s->len[s->n++] = len;
	if (len > 0 && msg >= s->lo && msg + len <= s->hi)
		s->in_place++;
	return s->stop_after != 0 && s->n >= s->stop_after;
}

static int
feed(struct framing *f, struct seen *s, const char *data, size_t len)
{
	const char *why;

	s->lo = data;
	s->hi = data + len;
	return framing_feed(f, data, len, collect, s, &why);
}

/* Feed STREAM in two pieces split at every position, and one byte at a
 * time; each way must give exactly the WANT messages (NULL-ended). */
static void
check_splits(enum config_framing kind, const char *stream, size_t len, ...)
{
	const char *want[MAX_MSGS];
	size_t wlen[MAX_MSGS], nwant = 0;
	va_list ap;

	va_start(ap, len);
	while ((want[nwant] = va_arg(ap, const char *)) != NULL) {
		wlen[nwant] = va_arg(ap, size_t);
		nwant++;
	}
	va_end(ap);
	for (size_t cut = 0; cut <= len + 1; cut++) {
		struct framing f;
		struct seen s = { 0 };

		framing_init(&f, kind, 100);
		if (cut <= len) {
			assert_int_equal(feed(&f, &s, stream, cut), 0);
			assert_int_equal(feed(&f, &s, stream + cut, len - cut), 0);
		} else
			for (size_t i = 0; i < len; i++)	/* one byte at a time */
				assert_int_equal(feed(&f, &s, stream + i, 1), 0);
		assert_int_equal(s.n, nwant);
		for (size_t i = 0; i < nwant; i++) {
			assert_int_equal(s.len[i], wlen[i]);
			assert_memory_equal(s.msg[i], want[i], wlen[i]);
		}
		assert_int_equal(framing_pending(&f), 0);
		framing_free(&f);
	}
}

static void
test_line(void **state)
{
	(void)state;
	check_splits(FRAMING_LINE, "hello\nworld\r\n\nend\n", 18,
	    "hello", (size_t)5, "world\r", (size_t)6, "", (size_t)0, "end", (size_t)3, NULL);
}

static void
test_length16(void **state)
{
	static const char stream[] = "\0\5hello\0\0\0\1x\1\0";	/* last: 256 announced, 0 sent */
	char big[2 + 100];

	(void)state;
	check_splits(FRAMING_LENGTH16, stream, 12,
	    "hello", (size_t)5, "", (size_t)0, "x", (size_t)1, NULL);
	/* The last header is incomplete data: pending, not delivered. */
	memset(big, 'b', sizeof(big));
	big[0] = 0;
	big[1] = 100;
	check_splits(FRAMING_LENGTH16, big, sizeof(big), big + 2, (size_t)100, NULL);
}

static void
test_length32(void **state)
{
	static const char stream[] = "\0\0\0\3abc\0\0\0\0\0\0\0\2de";

	(void)state;
	check_splits(FRAMING_LENGTH32, stream, 17,
	    "abc", (size_t)3, "", (size_t)0, "de", (size_t)2, NULL);
}

static void
test_raw(void **state)
{
	struct framing f;
	struct seen s = { 0 };

	(void)state;
	framing_init(&f, FRAMING_RAW, 4);
	assert_int_equal(feed(&f, &s, "any bytes\n\0at all", 17), 0);
	assert_int_equal(feed(&f, &s, "x", 1), 0);
	assert_int_equal(feed(&f, &s, "", 0), 0);	/* nothing read: no message */
	assert_int_equal(s.n, 2);
	assert_int_equal(s.len[0], 17);	/* max_message does not apply to raw */
	assert_int_equal(s.in_place, 2);
	assert_int_equal(framing_pending(&f), 0);
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
	framing_free(&f);
	framing_init(&f, FRAMING_LENGTH32, 100);
	assert_int_equal(feed(&f, &s, "\0\0", 2), 0);
	assert_int_equal(framing_pending(&f), 2);	/* half a header */
	assert_int_equal(feed(&f, &s, "\0\5ab", 4), 0);
	assert_int_equal(framing_pending(&f), 6);	/* header and 2 of 5 */
	framing_free(&f);
}

static void
test_oversized(void **state)
{
	struct framing f;
	struct seen s = { 0 };
	const char *why = NULL;

	(void)state;
	/* Exactly max_message is fine; one more is refused, and stays refused. */
	framing_init(&f, FRAMING_LINE, 5);
	assert_int_equal(feed(&f, &s, "12345\n", 6), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(framing_feed(&f, "123", 3, collect, &s, &why), 0);
	assert_int_equal(framing_feed(&f, "456", 3, collect, &s, &why), -1);
	assert_string_equal(why, "line longer than max_message (5 bytes)");
	assert_int_equal(framing_feed(&f, "\n", 1, collect, &s, &why), -1);
	assert_int_equal(s.n, 1);
	framing_free(&f);

	framing_init(&f, FRAMING_LENGTH16, 5);
	assert_int_equal(feed(&f, &s, "\0\5abcde", 7), 0);
	assert_int_equal(framing_feed(&f, "\0", 1, collect, &s, &why), 0);
	/* Refused as soon as the header is complete, before any payload. */
	assert_int_equal(framing_feed(&f, "\6", 1, collect, &s, &why), -1);
	assert_string_equal(why, "frame of 6 bytes exceeds max_message (5)");
	assert_true(f.cap <= 256);
	framing_free(&f);

	framing_init(&f, FRAMING_LENGTH32, 1000);
	assert_int_equal(framing_feed(&f, "\xff\xff\xff\xff", 4, collect, &s, &why), -1);
	assert_string_equal(why, "frame of 4294967295 bytes exceeds max_message (1000)");
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
	s = (struct seen){ .stop_after = 1 };
	framing_init(&f, FRAMING_LENGTH16, 100);
	assert_int_equal(feed(&f, &s, "\0\1a\0\1b", 6), 0);
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
	assert_string_equal(s.msg[2], "three");
	framing_free(&f);
	s = (struct seen){ 0 };
	framing_init(&f, FRAMING_LENGTH32, 100);
	assert_int_equal(feed(&f, &s, "\0\0\0\2hi\0\0\0\2yo", 12), 0);
	assert_int_equal(s.in_place, 2);
	framing_free(&f);
}

/* 10 MB of small messages in odd-sized chunks: the buffer stays small. */
static void
test_memory_bound(void **state)
{
	enum config_framing kinds[] = { FRAMING_LINE, FRAMING_LENGTH16, FRAMING_LENGTH32 };
	static char stream[1 << 16];

	(void)state;
	for (size_t k = 0; k < 3; k++) {
		struct framing f;
		struct seen s;
		size_t len = 0, fed = 0, msgs = 0;

		/* Messages of 0..99 bytes, then cut the stream in 97-byte chunks. */
		while (len + 110 < sizeof(stream)) {
			size_t m = msgs++ % 100;

			if (kinds[k] == FRAMING_LENGTH16)
				stream[len++] = 0, stream[len++] = (char)m;
			else if (kinds[k] == FRAMING_LENGTH32)
				memset(stream + len, 0, 3), len += 3, stream[len++] = (char)m;
			memset(stream + len, 'm', m);
			len += m;
			if (kinds[k] == FRAMING_LINE)
				stream[len++] = '\n';
		}
		framing_init(&f, kinds[k], 100);
		while (fed < 10 * 1000 * 1000) {
			for (size_t off = 0; off < len; off += 97) {
				s = (struct seen){ 0 };
				s.stop_after = 0;
				if (feed(&f, &s, stream + off, off + 97 < len ? 97 : len - off) != 0)
					fail_msg("feed failed");
			}
			fed += len;
		}
		assert_true(f.cap <= 100 + 4 + 256);
		assert_int_equal(framing_pending(&f), 0);
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
	assert_int_equal(framing_wrap(&f, 0x1234, &w), 0);
	assert_int_equal(w.prefix_len, 2);
	assert_memory_equal(w.prefix, "\x12\x34", 2);
	assert_int_equal(framing_wrap(&f, 65535, &w), 0);
	assert_int_equal(framing_wrap(&f, 65536, &w), -1);
	framing_init(&f, FRAMING_LENGTH32, 10);
	assert_int_equal(framing_wrap(&f, 0x01020304, &w), 0);
	assert_int_equal(w.prefix_len, 4);
	assert_memory_equal(w.prefix, "\1\2\3\4", 4);
	assert_int_equal(w.suffix_len, 0);
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
		cmocka_unit_test(test_oversized),
		cmocka_unit_test(test_callback_stops),
		cmocka_unit_test(test_zero_copy),
		cmocka_unit_test(test_memory_bound),
		cmocka_unit_test(test_wrap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
