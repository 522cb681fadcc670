/*
 * sockd/handler.h - the interface between sockd and a protocol module.
 *
 * A module is a shared object that exports one symbol,
 *
 *	SOCKD_EXPORT const struct sockd_handler sockd_handler_v1 = { ... };
 *
 * and is named by a service's module.path in sockd.conf. sockd does all
 * I/O (accepting, reading, framing, writing, timeouts, limits); the module
 * sees messages and answers them, like sockd's own handlers. See
 * sockd-handler(3) for the whole contract and an example.
 *
 * ABI rule: the number in the symbol's name and in SOCKD_HANDLER_ABI is the
 * ABI major. Within one major, struct sockd_handler and the meaning of every
 * call stay as they are; new calls may be added, each raising
 * SOCKD_HANDLER_ABI_MINOR (a module that uses a call its sockd lacks fails
 * to load, naming the symbol). Any incompatible change
 * raises the major, and with it the symbol's name, so an old module is
 * refused rather than misread.
 *
 * Plain C11; usable from C++.
 */
#ifndef SOCKD_HANDLER_API_H
#define SOCKD_HANDLER_API_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SOCKD_HANDLER_ABI 1
/* The calls added within ABI 1: 0 the first set, 1 sockd_conn_is_datagram(). */
#define SOCKD_HANDLER_ABI_MINOR 1

/* SOCKD_EXPORT marks sockd_handler_v1 visible even when the module is
 * built with -fvisibility=hidden (which keeps all its other names its own). */
#if defined(__GNUC__) || defined(__clang__)
#define SOCKD_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define SOCKD_EXPORT __attribute__((visibility("default")))
#else
#define SOCKD_PRINTF(f, a)
#define SOCKD_EXPORT
#endif

/* One client connection. Valid from open() until close() returns. */
struct sockd_conn;
/* The module's config = { ... } group. Valid only during init(). */
struct sockd_config_view;

/*
 * What a module exports as sockd_handler_v1. Callbacks for different
 * connections may run at the same time in different threads (model
 * "thread", or "prefork" with threads > 1): state shared between
 * connections needs the module's own locking. Callbacks of one connection
 * never overlap. No callback may block for long: a worker whose callback
 * runs past timeouts.heartbeat is killed by the master.
 */
struct sockd_handler {
	/* SOCKD_HANDLER_ABI as the module was built; any other value is refused. */
	unsigned abi;
	/* Short name for log messages, e.g. "hello"; may be NULL. */
	const char *name;
	/*
	 * Once per worker process, before it starts serving and while it may
	 * still run as root (to open files only root can). CFG is the
	 * service's module.config, readable with sockd_config_get() during
	 * this call only. Store what the connections will need in *STATE_R
	 * (sockd_state() returns it). Return 0, or -1 after sockd_log()ging
	 * why: the worker then exits and the master backs off. May be NULL.
	 */
	int (*init)(const struct sockd_config_view *cfg, void **state_r);
	/* When the worker process exits normally, with init()'s state. May be NULL. */
	void (*fini)(void *state);
	/*
	 * A client connected. May send (a greeting) and sockd_set_data().
	 * Return 0, or -1 to close the connection at once; close() is still
	 * called. May be NULL.
	 */
	int (*open)(struct sockd_conn *c);
	/*
	 * One message, cut by the service's framing (without the framing
	 * bytes: no newline for "line", no length prefix for "length16" and
	 * "length32"; with "raw", whatever one read returned). DATA is valid
	 * during the call only. Required.
	 */
	void (*message)(struct sockd_conn *c, const void *data, size_t len);
	/* The connection ended, whoever ended it: free what open() set. May be NULL. */
	void (*close)(struct sockd_conn *c);
};

/*
 * Calls a module may make; sockd itself provides them. The sending calls
 * return 0, or -1 when the connection is broken or closing (the module
 * need not check: close() follows either way).
 */

/* DATA as it is, without framing. */
int sockd_send(struct sockd_conn *c, const void *data, size_t len);
/* One message, framed like the requests (a newline added for "line", a
 * length prefix for "length16" and "length32", nothing for "raw"). */
int sockd_reply(struct sockd_conn *c, const void *data, size_t len);
/* Close once what was sent has gone out; no more messages are delivered. */
void sockd_close(struct sockd_conn *c);
/* The client's address as text ("192.0.2.1:5000", "[2001:db8::1]:5000"),
 * truncated to fit SIZE bytes with its NUL; the length it needed
 * (as snprintf), or -1 when unknown (BUF is then ""). A Unix socket
 * client is usually "unix:(unnamed)". */
int sockd_peer(struct sockd_conn *c, char *buf, size_t size);
/* ABI 1.1: 1 when C is one datagram's (a udp: or unixgram: service), 0
 * for a stream. A datagram's connection lives from open() to close()
 * around its one message(); what is sent in them goes back to the peer
 * as one datagram, at most limits.max_message bytes (more: no reply at
 * all), and nothing goes back when sockd_peer() says -1 (a Unix client
 * that did not bind). */
int sockd_conn_is_datagram(struct sockd_conn *c);
/* The module's own pointer for this connection (NULL until set). */
void sockd_set_data(struct sockd_conn *c, void *data);
void *sockd_get_data(struct sockd_conn *c);
/* What init() stored in *state_r (NULL without init()). */
void *sockd_state(struct sockd_conn *c);
/* Log a line through sockd's log, prefixed with the service's name.
 * PRIORITY is a syslog(3) level: LOG_ERR, LOG_WARNING, LOG_INFO, ... */
void sockd_log(int priority, const char *fmt, ...) SOCKD_PRINTF(2, 3);
/* The value of NAME in module.config, as text ("3", "true", "hello"), or
 * NULL when absent. Only during init(). */
const char *sockd_config_get(const struct sockd_config_view *cfg, const char *name);

#ifdef __cplusplus
}
#endif

#endif
