/*
 * handler_discard.c - the Discard Protocol (RFC 863): everything received
 * is thrown away and nothing is ever sent.
 */
#include "conn.h"
#include "handler.h"

static void
discard_message(struct conn *c, const char *data, size_t len)
{
	(void)c;
	(void)data;
	(void)len;
}

const struct handler handler_discard = {
	.name = "discard",
	.message = discard_message,
};
