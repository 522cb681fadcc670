/*
 * fuzz_framing.c - a fuzz target for the framings of src/framing.c.
 *
 * The first byte of the input picks max_message (1..64 bytes, small so
 * that limits are met often), the rest is the byte stream. The stream goes
 * through each framing (raw, line, length16, length32) three ways: whole,
 * one byte at a time, and in pieces whose sizes (zero included) come from
 * a hash of the input. Every way must deliver exactly the messages, and
 * end in exactly the error or incomplete tail, that a plain reference
 * reading of framing.h computes here; raw must hand back its chunks. Along
 * the way: no message is longer than max_message, the buffer never grows
 * past it, an error is final (the next feed fails at once without a
 * callback), a callback that stops gets no more messages from that chunk,
 * and framing_wrap() frames each message's length back to a header that
 * reads as that length. A broken promise aborts.
 *
 * Built with clang -fsanitize=fuzzer by `make fuzz`, and linked with
 * tests/fuzz/replay.c into tests/fuzz/fuzz_framing_replay for make check.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "framing.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_INPUT_MAX 8192

/* The messages of one run, end to end, and how it ended. */
struct fuzz_run {
	const struct framing *f;
	char *bytes;
	size_t used;
	size_t *len;
	size_t n, cap;
	size_t stop_at;			/* stop after this many messages; 0: never */
	int result;			/* 0, or -1 after an error */
	size_t pending;
};

static void
fuzz_run_init(struct fuzz_run *run, size_t size)
{
	/* Every message but raw's costs at least one byte of input (line: its
	 * '\n'; length: its header); raw's are the chunks, at most one a byte. */
	*run = (struct fuzz_run){ .cap = size + 2 };
	run->bytes = malloc(size + 1);
	run->len = malloc(run->cap * sizeof(*run->len));
	if (run->bytes == NULL || run->len == NULL)
		abort();
}

static void
fuzz_run_free(struct fuzz_run *run)
{
	free(run->bytes);
	free(run->len);
}

static void
fuzz_run_add(struct fuzz_run *run, const char *msg, size_t len)
{
	if (run->n == run->cap)
		abort();
	memcpy(run->bytes + run->used, msg, len);
	run->used += len;
	run->len[run->n++] = len;
}

/* framing_wrap()'s header for LEN must read back as LEN. */
static void
fuzz_check_wrap(const struct framing *f, size_t len)
{
	struct framing_wrap w;
	size_t got = 0;

	if (framing_wrap(f, len, &w) != 0)
		abort();
	switch (f->kind) {
	case FRAMING_RAW:
		if (w.prefix_len != 0 || w.suffix_len != 0)
			abort();
		break;
	case FRAMING_LINE:
		if (w.prefix_len != 0 || w.suffix_len != 1 || w.suffix[0] != '\n')
			abort();
		break;
	case FRAMING_LENGTH16:
	case FRAMING_LENGTH32:
		if (w.prefix_len != (f->kind == FRAMING_LENGTH16 ? 2 : 4) || w.suffix_len != 0)
			abort();
		for (size_t i = 0; i < w.prefix_len; i++)
			got = got << 8 | w.prefix[i];
		if (got != len)
			abort();
		break;
	}
}

static int
fuzz_collect(void *arg, const char *msg, size_t len)
{
	struct fuzz_run *run = arg;
	const struct framing *f = run->f;

	if (f->kind != FRAMING_RAW && len > f->max_message)
		abort();
	if (f->kind == FRAMING_RAW && len == 0)
		abort();	/* raw: an empty feed is no message */
	if (f->kind == FRAMING_LINE && memchr(msg, '\n', len) != NULL)
		abort();
	if (run->stop_at != 0 && run->n >= run->stop_at)
		abort();	/* a message after the callback said stop */
	fuzz_run_add(run, msg, len);
	fuzz_check_wrap(f, len);
	return run->stop_at != 0 && run->n == run->stop_at;
}

/* What framing.h says the stream DATA gives, computed the plain way. */
static void
fuzz_reference(enum config_framing kind, size_t max, const char *data, size_t size,
    struct fuzz_run *want)
{
	size_t pos = 0, hs = kind == FRAMING_LENGTH16 ? 2 : 4, need;
	const char *nl;

	if (kind == FRAMING_RAW) {
		if (size > 0)
			fuzz_run_add(want, data, size);
		return;
	}
	for (;;) {
		if (kind == FRAMING_LINE) {
			nl = memchr(data + pos, '\n', size - pos);
			need = nl != NULL ? (size_t)(nl - (data + pos)) : size - pos;
			if (need > max) {
				want->result = -1;
				return;
			}
			if (nl == NULL) {
				want->pending = size - pos;
				return;
			}
			fuzz_run_add(want, data + pos, need);
			pos += need + 1;
			continue;
		}
		if (size - pos < hs) {
			want->pending = size - pos;
			return;
		}
		need = 0;
		for (size_t i = 0; i < hs; i++)
			need = need << 8 | (unsigned char)data[pos + i];
		if (need > max) {
			want->result = -1;
			return;
		}
		if (size - pos - hs < need) {
			want->pending = size - pos;
			return;
		}
		fuzz_run_add(want, data + pos + hs, need);
		pos += hs + need;
	}
}

/* A small xorshift generator, seeded from the input: the same input is
 * always cut in the same places. */
static uint64_t
fuzz_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static uint64_t
fuzz_hash(const char *data, size_t size)
{
	uint64_t h = 0xcbf29ce484222325ULL;	/* FNV-1a */

	for (size_t i = 0; i < size; i++)
		h = (h ^ (unsigned char)data[i]) * 0x100000001b3ULL;
	return h | 1;
}

/* The size of the next piece: STEP for a fixed size, else from the hash. */
static size_t
fuzz_piece(uint64_t *rng, size_t step, size_t left)
{
	size_t n;

	if (step != 0)
		n = step;
	else
		switch (fuzz_next(rng) % 4) {
		case 0:
			n = 0;
			break;
		case 1:
			n = 1;
			break;
		case 2:
			n = fuzz_next(rng) % 8;
			break;
		default:
			n = fuzz_next(rng) % 100;
			break;
		}
	return n < left ? n : left;
}

/*
 * Feed DATA into a fresh framing in pieces (STEP bytes each, or sizes from
 * the hash if STEP is 0, or all at once if STEP is SIZE) and record what
 * comes out in RUN.
 */
static void
fuzz_feed(enum config_framing kind, size_t max, const char *data, size_t size, size_t step,
    struct fuzz_run *run)
{
	struct framing f;
	uint64_t rng = fuzz_hash(data, size);
	const char *why = NULL, *why2 = NULL;
	size_t pos = 0, n, before;
	int r;

	framing_init(&f, kind, max);
	run->f = &f;
	do {
		n = fuzz_piece(&rng, step, size - pos);
		r = framing_feed(&f, data + pos, n, fuzz_collect, run, &why);
		if (f.len > f.cap || f.cap > max || framing_pending(&f) > max + 4)
			abort();
		pos += n;
		if (r != 0)
			break;
	} while (pos < size);
	if (r != 0 && r != -1)
		abort();
	if (r == -1) {
		/* An error is final, its reason kept, and no message comes after. */
		if (why == NULL || why[0] == '\0' || kind == FRAMING_RAW)
			abort();
		before = run->n;
		if (framing_feed(&f, "\n\0\0\0\0", 5, fuzz_collect, run, &why2) != -1 ||
		    why2 != why || run->n != before)
			abort();
	}
	run->result = r;
	run->pending = r == 0 ? framing_pending(&f) : 0;
	framing_free(&f);
	run->f = NULL;
}

static void
fuzz_same(const struct fuzz_run *a, const struct fuzz_run *b)
{
	if (a->n != b->n || a->used != b->used || a->result != b->result ||
	    a->pending != b->pending || memcmp(a->len, b->len, a->n * sizeof(*a->len)) != 0 ||
	    memcmp(a->bytes, b->bytes, a->used) != 0)
		abort();
}

/* Raw: the chunks themselves, end to end, are the stream. */
static void
fuzz_check_raw(const char *data, size_t size, const struct fuzz_run *run)
{
	if (run->result != 0 || run->pending != 0 || run->used != size ||
	    memcmp(run->bytes, data, size) != 0)
		abort();
}

/* Stopped after message K, a whole feed gives exactly the first K
 * messages of the reference, and no error even if one was to come. */
static void
fuzz_check_stop(enum config_framing kind, size_t max, const char *data, size_t size,
    const struct fuzz_run *want, size_t k)
{
	struct fuzz_run run;

	if (k == 0 || k > want->n)
		return;
	fuzz_run_init(&run, size);
	run.stop_at = k;
	fuzz_feed(kind, max, data, size, size, &run);
	if (run.n != k || run.result != 0 || memcmp(run.len, want->len, k * sizeof(*run.len)) != 0 ||
	    memcmp(run.bytes, want->bytes, run.used) != 0)
		abort();
	fuzz_run_free(&run);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum config_framing kinds[] = { FRAMING_RAW, FRAMING_LINE,
		FRAMING_LENGTH16, FRAMING_LENGTH32 };
	const char *buf = (const char *)data + 1;
	struct fuzz_run want, whole, bytes, pieces;
	size_t max;

	if (size == 0 || size > FUZZ_INPUT_MAX)
		return 0;
	max = 1 + data[0] % 64;
	size--;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		fuzz_run_init(&want, size);
		fuzz_run_init(&whole, size);
		fuzz_run_init(&bytes, size);
		fuzz_run_init(&pieces, size);
		fuzz_reference(kinds[i], max, buf, size, &want);
		fuzz_feed(kinds[i], max, buf, size, size, &whole);
		fuzz_feed(kinds[i], max, buf, size, 1, &bytes);
		fuzz_feed(kinds[i], max, buf, size, 0, &pieces);
		if (kinds[i] == FRAMING_RAW) {
			fuzz_check_raw(buf, size, &whole);
			fuzz_check_raw(buf, size, &bytes);
			fuzz_check_raw(buf, size, &pieces);
		} else {
			fuzz_same(&want, &whole);
			fuzz_same(&want, &bytes);
			fuzz_same(&want, &pieces);
			fuzz_check_stop(kinds[i], max, buf, size, &want, 1 + max % 8);
		}
		fuzz_run_free(&want);
		fuzz_run_free(&whole);
		fuzz_run_free(&bytes);
		fuzz_run_free(&pieces);
	}
	return 0;
}
