/*
 * refuse.c - a module that turns every client away: open() sends "busy"
 * and returns -1. The client must get "busy" and then the end of the
 * connection, message() must never run, and close() still must.
 */
#include <syslog.h>

#include <sockd/handler.h>

static int
refuse_open(struct sockd_conn *c)
{
	sockd_reply(c, "busy", 4);
	return -1;
}

static void
refuse_message(struct sockd_conn *c, const void *data, size_t len)
{
	(void)data;
	sockd_log(LOG_ERR, "message() after open() returned -1");
	sockd_reply(c, "unexpected", 10);
	(void)len;
}

static void
refuse_close(struct sockd_conn *c)
{
	(void)c;
	sockd_log(LOG_INFO, "refused a client");
}

SOCKD_EXPORT const struct sockd_handler sockd_handler_v1 = {
	.abi = SOCKD_HANDLER_ABI,
	.name = "refuse",
	.open = refuse_open,
	.message = refuse_message,
	.close = refuse_close,
};
