/*
 * fuzz_http_replay.c - run the HTTP parser's fuzz target without
 * libFuzzer: seed requests, then a fixed number of deterministic random
 * mutations of them (bytes flipped, inserted, deleted, cut, spliced), so
 * `make check` exercises the target on every build, sanitizers included.
 * Prints one TAP line.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ROUNDS 200000
#define MAX_INPUT 4096

static const char *const seeds[] = {
	"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
	"HEAD /x/y.html?z HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
	"GET /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
	"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
	"\r\nGET / HTTP/1.1\r\nHost: a\r\nIf-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nX: y\r\n z\r\n\r\n",
	"GET /dir#frag HTTP/1.1\r\nHost: a\r\n\r\n",
};
#define N_SEEDS (sizeof(seeds) / sizeof(seeds[0]))

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint32_t
next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 16);
}

static const char alphabet[] = "\r\n :,/\t\0GETHOSTchunked0123456789-#?\x7f\x80\xff";

static size_t
mutate(char *buf, size_t len)
{
	for (int k = 1 + (int)(next() % 4); k > 0; k--) {
		size_t at = len > 0 ? next() % len : 0;

		switch (next() % 5) {
		case 0:	/* replace */
			if (len > 0)
				buf[at] = alphabet[next() % (sizeof(alphabet) - 1)];
			break;
		case 1:	/* insert */
			if (len < MAX_INPUT) {
				memmove(buf + at + 1, buf + at, len - at);
				buf[at] = alphabet[next() % (sizeof(alphabet) - 1)];
				len++;
			}
			break;
		case 2:	/* delete */
			if (len > 0) {
				memmove(buf + at, buf + at + 1, len - at - 1);
				len--;
			}
			break;
		case 3:	/* cut */
			len = at;
			break;
		default: {	/* splice another seed in */
			const char *s = seeds[next() % N_SEEDS];
			size_t n = strlen(s);

			if (at + n <= MAX_INPUT) {
				memcpy(buf + at, s, n);
				len = at + n > len ? at + n : len;
			}
		}
		}
	}
	return len;
}

int
main(void)
{
	static char buf[MAX_INPUT];

	for (size_t i = 0; i < N_SEEDS; i++)
		LLVMFuzzerTestOneInput((const uint8_t *)seeds[i], strlen(seeds[i]));
	for (int i = 0; i < ROUNDS; i++) {
		const char *s = seeds[next() % N_SEEDS];
		size_t len = strlen(s);

		memcpy(buf, s, len);
		len = mutate(buf, len);
		LLVMFuzzerTestOneInput((const uint8_t *)buf, len);
	}
	printf("1..1\nok 1 - http parser: %zu seeds and %d mutations kept every promise\n",
	    N_SEEDS, ROUNDS);
	return 0;
}
