/*
 * conn_dgram.c - the connection layer's third engine: a connection that
 * lives for one datagram (conn.h). The handler sees what it sees on a
 * stream, open() then message() with the datagram then close(), so echo,
 * discard, ack and ABI 1 modules serve datagrams unchanged.
 *
 * What the handler sends (conn_send, conn_reply, conn_sendv) is gathered
 * into one reply kept in the connection; the caller (dgram.c) sends it to
 * the peer as one datagram, alone or batched with sendmmsg. A file cannot
 * be a datagram: conn_send_file fails with EOPNOTSUPP.
 *
 * UDP echo and ack are reflection and amplification vectors: a spoofed
 * source gets whatever the reply is. So a built-in handler's reply may
 * never be longer than the request, and a module's never longer than
 * limits.max_message; a longer reply is dropped whole (a truncated one
 * would be a lie) and counted as refused, reason "reply".
 *
 * The connection is made once per place in a receive batch and reset for
 * every datagram, so the hot path allocates nothing.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "conn_priv.h"
#include "guard.h"
#include "log.h"
#include "util.h"

struct conn *
conn_dgram_new(const struct config_service *svc, const struct handler *h,
    struct scoreboard_slot *slot, _Atomic int64_t *heartbeat)
{
	struct conn *c = xcalloc(1, sizeof(*c));

	if (heartbeat == NULL && slot != NULL)
		heartbeat = &slot->heartbeat_ns;
	*c = (struct conn){ .fd = -1, .svc = svc, .handler = h, .slot = slot,
		.heartbeat = heartbeat, .file_fd = -1, .record = GUARD_NONE, .dgram = true,
		.reply_cap = (size_t)svc->max_message };
	framing_init(&c->framing, FRAMING_RAW, (size_t)svc->max_message);
	c->reply = xcalloc(1, c->reply_cap);
	return c;
}

void
conn_dgram_free(struct conn *c)
{
	if (c == NULL)
		return;
	free(c->reply);
	free(c);
}

/* Gathered into the reply, whole or not at all. */
int
conn_dgram_sendv(struct conn *c, struct iovec *iov, int n)
{
	size_t len = 0;

	if (c->closing)
		return -1;
	for (int i = 0; i < n; i++)
		len += iov[i].iov_len;
	if (len > c->reply_max - c->reply_len) {
		c->reply_over = true;
		conn_end(c, CONN_END_OUTPUT_LIMIT);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		memcpy(c->reply + c->reply_len, iov[i].iov_base, iov[i].iov_len);
		c->reply_len += iov[i].iov_len;
	}
	c->replied = true;
	return 0;
}

/*
 * Serve the datagram DATA (LEN bytes, at most max_message) that came on
 * FD from PEER, at NOW: the handler's open(), message() and close(). The
 * reply's length, its bytes in *REPLY_R (valid until the next datagram on
 * C), or -1 when there is none to send (the handler sent nothing, or too
 * much: counted). The slot's other counts are the batch's (dgram.c).
 */
ssize_t
conn_datagram(struct conn *c, int fd, const struct sockd_addr *peer, const char *data,
    size_t len, int64_t now, const char **reply_r)
{
	struct scoreboard_slot *slot = c->slot;

	c->fd = fd;
	c->peer = *peer;
	c->closing = false;
	c->end = CONN_END_UNSET;
	c->data = NULL;
	c->opened = true;
	c->opened_ns = c->last_read_ns = now;
	c->received = len;
	c->sent = 0;
	c->messages = 1;
	c->replied = c->reply_over = false;
	c->reply_len = 0;
	c->reply_max = c->svc->handler == HANDLER_MODULE ? c->reply_cap : len;
	if (slot != NULL)
		atomic_fetch_add_explicit(&slot->current, 1, memory_order_relaxed);
	if (c->handler->open != NULL)
		c->handler->open(c);
	if (!c->closing)
		c->handler->message(c, data, len);
	if (c->handler->close != NULL)
		c->handler->close(c);
	if (slot != NULL)
		atomic_fetch_sub_explicit(&slot->current, 1, memory_order_relaxed);
	*reply_r = c->reply;
	if (c->reply_over) {
		guard_refused(c->svc, peer, slot, SNAPSHOT_REFUSED_REPLY,
		    c->svc->handler == HANDLER_MODULE ? "over limits.max_message" :
		    "longer than the request");
		return -1;
	}
	return c->replied ? (ssize_t)c->reply_len : -1;
}

bool
conn_is_datagram(const struct conn *c)
{
	return c->dgram;
}
