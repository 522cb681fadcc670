/*
 * worker.h - a worker process: what the master hands it when it forks it,
 * and its entry point.
 */
#ifndef SOCKD_WORKER_H
#define SOCKD_WORKER_H

#include <stdbool.h>
#include <stdnoreturn.h>
#include <sys/types.h>

#include "addr.h"
#include "config.h"
#include "priv.h"
#include "scoreboard.h"

#define WORKER_MAX_LISTENERS 64
/* limits.max_connections reached, or descriptors ran out: look again this
 * often (another worker may free a place; nothing tells us when). */
#define WORKER_LIMIT_PAUSE_MS 50

struct worker_args {
	const struct config_service *svc;
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

noreturn void worker_main(const struct worker_args *a);
#define WORKER_ACCEPT_NONE (-1)	/* worker_accept(): nothing to take */
#define WORKER_ACCEPT_PAUSE (-2)	/* out of descriptors: pause, as at the limit */
int worker_accept(const struct worker_args *a, int lfd, int flags, struct sockd_addr *peer_r,
    bool count_miss);
void worker_draining(const struct worker_args *a);
bool worker_recycle_due(const struct worker_args *a, uint64_t count);
void worker_watch(const struct worker_args *a, int ep, bool on);
bool worker_conn_reserve(const struct worker_args *a);
void worker_conn_release(const struct worker_args *a);
struct sig_info;
void worker_signal(const struct worker_args *a, const struct sig_info *si);

#endif
