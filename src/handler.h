/*
 * handler.h - what a protocol implements. Handlers are sans-I/O: they never
 * read or write a socket themselves; the worker loop reads, calls
 * message() with the bytes, and the handler answers through conn_send().
 */
#ifndef SOCKD_HANDLER_H
#define SOCKD_HANDLER_H

#include <stddef.h>

#include "config.h"

struct conn;

struct handler {
	const char *name;
	void (*open)(struct conn *c);			/* may be NULL */
	void (*message)(struct conn *c, const char *data, size_t len);
	void (*close)(struct conn *c);			/* may be NULL */
};

extern const struct handler handler_echo, handler_discard, handler_ack, handler_crash,
    handler_hang;

const struct handler *handler_get(enum config_handler kind);

#endif
