/*
 * guard.h - the defences a connection meets before any handler sees it:
 * the service's address rules (deny, then allow; allow_uid and allow_gid
 * for Unix clients), then its per-client limits (limits.rate, a token
 * bucket; limits.per_ip, connections at once), counted across every
 * worker in the shared table (peertab.c). Run by the acceptor right after
 * accept4, or, for a service behind a load balancer (proxy_protocol), by
 * the connection layer once the PROXY header has said who the client is.
 * A refused connection is closed at once, counted in the worker's slot by
 * reason, and logged at most once a second per worker.
 */
#ifndef SOCKD_GUARD_H
#define SOCKD_GUARD_H

#include <stdbool.h>
#include <stdint.h>

#include "addr.h"
#include "config.h"
#include "scoreboard.h"
#include "snapshot.h"

#define GUARD_NONE UINT32_MAX		/* no per-client record held */
#define GUARD_OK (-1)			/* guard_check: admitted */

/* The master, before the first fork: the shared table every worker uses. */
void guard_init(int *fd_r);
int guard_adopt(int fd);
/* The master: the worker in slot SLOT died; give back what it held. */
void guard_reclaim(const struct scoreboard_slot *slot);

/*
 * May the client at PEER (its socket FD, for SO_PEERCRED) connect to SVC,
 * served by the worker of SLOT? GUARD_OK with *RECORD_R (GUARD_NONE when no
 * limit counts it) to give back with guard_release() when the connection
 * ends, or the enum snapshot_refusal saying why not (counted and logged;
 * the caller closes FD).
 */
int guard_check(const struct config_service *svc, const struct sockd_addr *peer, int fd,
    struct scoreboard_slot *slot, uint32_t *record_r);
void guard_release(uint32_t record);
/* Count and log a refusal the caller decided (a bad PROXY header). */
void guard_refused(const struct config_service *svc, const struct sockd_addr *peer,
    struct scoreboard_slot *slot, enum snapshot_refusal why, const char *detail);
/* Is PEER allowed to send a PROXY header to SVC (proxy_trusted)? */
bool guard_proxy_trusted(const struct config_service *svc, const struct sockd_addr *peer);

#endif
