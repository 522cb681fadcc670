/*
 * handler.h - what a protocol implements. Handlers are sans-I/O: they never
 * read or write a socket themselves; the worker loop reads, calls
 * message() with the bytes, and the handler answers through conn_send().
 */
#ifndef SOCKD_HANDLER_H
#define SOCKD_HANDLER_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

struct conn;

/*
 * A worker serves one service, so a handler's per-service state lives in
 * the handler's own file; start() sets it up once per worker process,
 * before the worker gives up root (so it may open files root can), and
 * returns -1 after logging why the worker cannot serve. Per-connection
 * state goes in conn_data() (open() sets it, close() frees it).
 */
struct handler {
	const char *name;
	int (*start)(const struct config_service *svc);	/* may be NULL */
	void (*open)(struct conn *c);			/* may be NULL */
	void (*message)(struct conn *c, const char *data, size_t len);
	void (*close)(struct conn *c);			/* may be NULL */
	/* timeouts.handshake passed before a first message: a last word
	 * (http: 408) before the connection closes. May be NULL. */
	void (*late)(struct conn *c);
	/* The worker drains (conn_drain): true while C is between messages,
	 * nothing of one begun, so that closing it loses the client nothing.
	 * NULL: never - the handler's connections run to their end (or to
	 * timeouts.graceful) on a drain, as echo, ack and exec do. */
	bool (*idle)(const struct conn *c);
};

extern const struct handler handler_echo, handler_discard, handler_ack, handler_http,
    handler_crash, handler_hang;

/* The handler of SVC; NULL if this build has none for it. */
const struct handler *handler_get(const struct config_service *svc);

#endif
