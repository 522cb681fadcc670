/*
 * handler_echo.c - the Echo Protocol (RFC 862): every byte received is sent
 * back unchanged. Also the table of built-in handlers.
 */
#include <stddef.h>

#include "conn.h"
#include "handler.h"

static void
echo_message(struct conn *c, const char *data, size_t len)
{
	conn_send(c, data, len);
}

static const struct handler handler_echo = {
	.name = "echo",
	.message = echo_message,
};

const struct handler *
handler_get(enum config_handler kind)
{
	switch (kind) {
	case HANDLER_ECHO:
		return &handler_echo;
	default:
		return NULL;
	}
}
