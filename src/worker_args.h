/*
 * worker_args.h - what the master hands a worker when it forks it: read by
 * the worker's process setup (worker.c), its model and its acceptor.
 */
#ifndef SOCKD_WORKER_ARGS_H
#define SOCKD_WORKER_ARGS_H

#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "handler.h"
#include "priv.h"
#include "scoreboard.h"

#define WORKER_MAX_LISTENERS 64
/* limits.max_connections reached, or descriptors ran out: look again this
 * often (another worker may free a place; nothing tells us when). */
#define WORKER_LIMIT_PAUSE_MS 50

struct worker_args {
	const struct config_service *svc;
	const struct handler *handler;	/* the service's (handler_get) */
	int fds[WORKER_MAX_LISTENERS];	/* the service's listeners */
	size_t n_fds;
	struct scoreboard_slot *slot;
	_Atomic uint32_t *conns;	/* the service's open connections, all workers
					 * (shared memory), for limits.max_connections */
	int max_requests;		/* recycle after this many connections; 0: never */
	int wake_fd;			/* the master's eventfd: "look at the scoreboard" */
	int log_fd;			/* the service's log file (logfile.c), or -1 */
	int log_ctl;			/* our end of the master's log file channel, or -1 */
	pid_t master;
	const struct priv_ids *ids;
};

#endif
