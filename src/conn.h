/*
 * conn.h - one client connection as a handler sees it, and the calls that
 * drive it. Bytes read are cut into messages by the service's framing and
 * handed to the handler; the handler answers with conn_reply() (framed like
 * the request) or conn_send() (raw bytes).
 */
#ifndef SOCKD_CONN_H
#define SOCKD_CONN_H

#include <stdbool.h>
#include <stddef.h>

#include "addr.h"
#include "config.h"
#include "framing.h"
#include "handler.h"
#include "scoreboard.h"

struct conn {
	int fd;
	bool closing;			/* conn_close() was called, or the peer went away */
	const struct config_service *svc;
	const struct handler *handler;
	struct scoreboard_slot *slot;	/* counters; NULL in tests */
	_Atomic int64_t *heartbeat;	/* refreshed while waiting; the slot's, or
					 * a thread's own (models with threads) */
	struct sockd_addr peer;
	struct framing framing;
	int64_t last_read_ns;		/* for timeouts.idle */
};

void conn_open(struct conn *c, int fd, const struct config_service *svc,
    struct scoreboard_slot *slot);
int conn_run(struct conn *c, int sig_fd);
void conn_finish(struct conn *c);

int conn_send(struct conn *c, const void *data, size_t len);
int conn_reply(struct conn *c, const void *msg, size_t len);
void conn_close(struct conn *c);

#endif
