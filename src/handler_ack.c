/*
 * handler_ack.c - answer every message with the service's fixed `reply`
 * (default "OK"), framed like the message: the smallest request/response
 * protocol, for load tests and health checks.
 */
#include <string.h>

#include "conn.h"
#include "handler.h"

static void
ack_message(struct conn *c, const char *data, size_t len)
{
	(void)data;
	(void)len;
	conn_reply(c, conn_svc(c)->reply, strlen(conn_svc(c)->reply));
}

const struct handler handler_ack = {
	.name = "ack",
	.message = ack_message,
};
