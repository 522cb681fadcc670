/*
 * worker.h - accept connections on a set of listeners and serve them.
 */
#ifndef SOCKD_WORKER_H
#define SOCKD_WORKER_H

#include <stddef.h>

#include "config.h"

struct worker_listener {
	int fd;
	const struct config_service *svc;
};

void worker_run(const struct worker_listener *ls, size_t n, int sig_fd);

#endif
