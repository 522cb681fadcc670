/*
 * framing.h - cut a byte stream into messages, and frame replies the same
 * way. Sans-I/O: bytes are fed in, complete messages come out through a
 * callback; nothing here reads or writes a socket.
 *
 *   raw       every chunk fed in is one message; nothing is buffered
 *   line      messages end with '\n' (not part of the message; a '\r'
 *             before it is kept); an empty line is an empty message
 *   length16  2-byte big-endian length, then that many bytes
 *   length32  4-byte big-endian length, then that many bytes
 *
 * Memory is bounded: at most one incomplete message of max_message bytes
 * (plus its header) is ever buffered, and a length header announcing more
 * than max_message is refused before any of its payload is read.
 */
#ifndef SOCKD_FRAMING_H
#define SOCKD_FRAMING_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct framing {
	enum config_framing kind;
	size_t max_message;
	char *buf;			/* an incomplete message (or header) */
	size_t len;
	size_t cap;
	int in_payload;			/* length framings: header read, payload next */
	size_t need;			/* length framings: that payload's length */
	int failed;			/* after a protocol error, nothing more is read */
	char why[96];
};

/* What to put before and after a reply of a given length. */
struct framing_wrap {
	unsigned char prefix[4];
	size_t prefix_len;
	unsigned char suffix[1];
	size_t suffix_len;
};

/* Return non-zero to stop delivering the rest of the current feed. */
typedef int (*framing_cb)(void *arg, const char *msg, size_t len);

void framing_init(struct framing *f, enum config_framing kind, size_t max_message);
void framing_free(struct framing *f);
int framing_feed(struct framing *f, const char *data, size_t len, framing_cb cb,
    void *arg, const char **why_r);
int framing_wrap(const struct framing *f, size_t len, struct framing_wrap *w_r);
size_t framing_pending(const struct framing *f);

#endif
