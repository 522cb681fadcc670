/*
 * handler_test.c - handlers that misbehave on purpose, for the test suite
 * only: they exist in the tests' build of the daemon (sockd-test, compiled
 * with SOCKD_TEST_HANDLERS), never in the installed sockd.
 *
 *   crash   abort()s the worker on the first message
 */
#include <stdlib.h>

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
