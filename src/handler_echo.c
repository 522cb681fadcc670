/*
 * handler_echo.c - the Echo Protocol (RFC 862): every message is sent back
 * unchanged (with raw framing, every byte; otherwise framed as it came).
 */
#include "conn.h"
#include "handler.h"

static void
echo_message(struct conn *c, const char *data, size_t len)
{
	conn_reply(c, data, len);
}

const struct handler handler_echo = {
	.name = "echo",
	.message = echo_message,
};
