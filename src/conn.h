/*
 * conn.h - one client connection as a handler sees it.
 */
#ifndef SOCKD_CONN_H
#define SOCKD_CONN_H

#include <stdbool.h>
#include <stddef.h>

#include "addr.h"
#include "config.h"
#include "handler.h"

struct conn {
	int fd;
	bool closing;			/* conn_close() was called, or the peer went away */
	const struct config_service *svc;
	struct sockd_addr peer;
};

int conn_send(struct conn *c, const void *data, size_t len);
void conn_close(struct conn *c);
int conn_serve(struct conn *c, const struct handler *h, int sig_fd);

#endif
