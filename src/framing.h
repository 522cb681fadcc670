/*
 * framing.h - cut a byte stream into messages, and frame replies the same
 * way. Sans-I/O: bytes are fed in, complete messages come out through a
 * callback; nothing here reads or writes a socket.
 *
 *   raw       every chunk fed in is one message, whatever its size;
 *             nothing is buffered and max_message does not apply
 *   line      messages end with '\n', which is not part of the message;
 *             a '\r' before it is kept (CRLF peers see "...\r"); an empty
 *             line is an empty message
 *   length16  2-byte big-endian length, then that many bytes
 *   length32  4-byte big-endian length, then that many bytes
 *
 * The messages delivered do not depend on how the stream was split into
 * chunks. Memory is bounded: the buffer holds at most one incomplete
 * message and never grows past max_message bytes; a line that outgrows
 * max_message, or a header announcing more, is a protocol error as soon as
 * it is seen, before any more of it is kept.
 */
#ifndef SOCKD_FRAMING_H
#define SOCKD_FRAMING_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

/* Embeddable; the fields are framing.c's (tests read cap). */
struct framing {
	enum config_framing kind;
	size_t max_message;
	char *buf;			/* an incomplete message; NULL until needed */
	size_t len;			/* bytes of it in buf */
	size_t cap;			/* buf's size, never above max_message */
	unsigned char hdr[4];		/* length framings: the header so far */
	size_t hdr_len;
	size_t need;			/* payload length of a complete header */
	bool failed;			/* after a protocol error nothing more is read */
	char why[96];
};

/*
 * What to send before and after a reply of a given length, so a caller can
 * writev(prefix, payload, suffix) without copying the payload.
 */
struct framing_wrap {
	unsigned char prefix[4];
	size_t prefix_len;
	unsigned char suffix[1];
	size_t suffix_len;
};

/*
 * Called once per complete message. MSG is not NUL-terminated and is valid
 * only during the call: it points into the caller's chunk or into the
 * framing's buffer. Return non-zero to stop: the rest of the chunk is then
 * dropped, so stopping is for ending the connection (feeding the framing
 * again would cut the stream in the wrong places). The callback may call
 * framing_wrap() but must not feed or free the framing it came from.
 */
typedef int (*framing_cb)(void *arg, const char *msg, size_t len);

void framing_init(struct framing *f, enum config_framing kind, size_t max_message);
void framing_free(struct framing *f);

/*
 * Feed LEN bytes of DATA: 0 when they were all taken (or the callback
 * stopped), -1 on a protocol error with *WHY_R (if not NULL) set to a
 * message that lives as long as F. An error is final: every later feed
 * returns it again without calling CB.
 */
int framing_feed(struct framing *f, const char *data, size_t len, framing_cb cb,
    void *arg, const char **why_r);

/* Bytes of an incomplete message held, header included; non-zero at EOF
 * means the peer closed inside a message. */
size_t framing_pending(const struct framing *f);

/*
 * Frame a reply of LEN bytes: -1 when a length header cannot express LEN.
 * Replies are not limited by max_message. For "line" the payload must not
 * contain '\n' (it is not seen here), or the peer reads several messages.
 */
int framing_wrap(const struct framing *f, size_t len, struct framing_wrap *w_r);

#endif
