/*
 * handler_test.c - handlers that misbehave on purpose, for the test suite
 * only: they exist in the tests' build of the daemon (sockd-test, compiled
 * with SOCKD_TEST_HANDLERS), never in the installed sockd.
 *
 *   crash   abort()s the worker on the first message
 *   hang    echoes, except that the message "hang" blocks it for good
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn.h"
#include "handler.h"

static void
crash_message(struct conn *c, const char *data, size_t len)
{
	(void)c;
	(void)data;
	(void)len;
	abort();
}

const struct handler handler_crash = {
	.name = "crash",
	.message = crash_message,
};

static void
hang_message(struct conn *c, const char *data, size_t len)
{
	if (len == 4 && memcmp(data, "hang", 4) == 0)
		for (;;)
			pause();	/* its signals are blocked: nothing wakes it */
	conn_reply(c, data, len);
}

const struct handler handler_hang = {
	.name = "hang",
	.message = hang_message,
};
