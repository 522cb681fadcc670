/*
 * handler.c - the table of built-in handlers.
 */
#include <stddef.h>

#include "handler.h"
#include "handler_module.h"
#include "handler_exec.h"

const struct handler *
handler_get(const struct config_service *svc)
{
	switch (svc->handler) {
	case HANDLER_ECHO:
		return &handler_echo;
	case HANDLER_DISCARD:
		return &handler_discard;
	case HANDLER_ACK:
		return &handler_ack;
	case HANDLER_HTTP:
	case HANDLER_STATUS:
		return &handler_http;
	case HANDLER_MODULE:
		return &handler_module;
	case HANDLER_EXEC:
		return &handler_exec;
#ifdef SOCKD_TEST_HANDLERS
	case HANDLER_TEST_CRASH:
		return &handler_crash;
	case HANDLER_TEST_HANG:
		return &handler_hang;
#endif
	default:
		return NULL;
	}
}
