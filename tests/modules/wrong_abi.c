/*
 * wrong_abi.c - a module built for an ABI this sockd does not speak: it
 * exports the right symbol with the wrong abi number, as a module built
 * against a future header would. sockd must refuse to load it.
 */
#include <sockd/handler.h>

static void
wrong_message(struct sockd_conn *c, const void *data, size_t len)
{
	sockd_reply(c, data, len);
}

SOCKD_EXPORT const struct sockd_handler sockd_handler_v1 = {
	.abi = SOCKD_HANDLER_ABI + 1,
	.name = "wrong_abi",
	.message = wrong_message,
};
