/*
 * peertab.h - per-client limits shared by every worker of every service:
 * connections open now per client (limits.per_ip) and new connections per
 * second per client (limits.rate, a token bucket), in one bounded table in
 * shared memory the master maps before the first fork.
 *
 * A client is a key from cidr_client_key() (IPv4 address, or IPv6 cut to
 * a prefix) within a service. Each open connection holds a record naming
 * the scoreboard slot of the worker that holds it, so when a worker dies
 * holding connections the master gives its places back
 * (peertab_reclaim), as it does for limits.max_connections. Every
 * operation takes one lock, a process-shared robust mutex: a worker killed
 * while holding it does not stop the others (the next taker repairs the
 * table). When the table is full a new client is refused rather than let
 * in uncounted (as nginx's limit_conn does when its zone is full).
 */
#ifndef SOCKD_PEERTAB_H
#define SOCKD_PEERTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cidr.h"

struct peertab;

enum peertab_verdict {
	PEERTAB_OK = 0,			/* counted: call peertab_leave() at its end */
	PEERTAB_PER_IP,			/* the client has per_ip connections open */
	PEERTAB_RATE,			/* the client is over its rate */
	PEERTAB_FULL,			/* no room for another client or connection */
};

struct peertab_limits {
	unsigned per_ip;		/* connections at once per client; 0: no limit */
	unsigned rate;			/* new connections per second per client; 0: none */
	unsigned burst;			/* the bucket's size (>= 1 when rate is set) */
};

/* Room for CLIENTS clients and RECORDS open counted connections. */
struct peertab *peertab_create(size_t clients, size_t records, int *fd_r);
struct peertab *peertab_adopt(int fd);
size_t peertab_layout(void);
void peertab_destroy(struct peertab *t);

/*
 * A connection from KEY for service SERVICE (a stable id: the counters'
 * entry, stats.h), held by the worker in scoreboard slot SLOT, at NOW_NS
 * (CLOCK_MONOTONIC). On PEERTAB_OK, *RECORD_R is what peertab_leave()
 * takes back. Checked in this order: rate, per_ip, room. Every attempt
 * that finds a token takes it, also one per_ip or a full table then
 * refuses (a client knocking at its per_ip limit stays rate limited); one
 * that finds the bucket empty takes nothing (no debt: a flood still gets
 * RATE a second).
 */
enum peertab_verdict peertab_enter(struct peertab *t, uint32_t service,
    const uint8_t key[CIDR_KEY_LEN], const struct peertab_limits *lim, uint32_t slot,
    int64_t now_ns, uint32_t *record_r);
void peertab_leave(struct peertab *t, uint32_t record);
/* The master: the worker in SLOT died; give back every place it held.
 * Returns how many. */
size_t peertab_reclaim(struct peertab *t, uint32_t slot);
/* Connections KEY has open now in SERVICE (for tests and status). */
unsigned peertab_count(struct peertab *t, uint32_t service, const uint8_t key[CIDR_KEY_LEN]);

#ifdef PEERTAB_TESTING
/* For tests/unit/test_peertab.c only: _exit(PEERTAB_TEST_CRASHED) with the
 * lock held at crash point N (peertab.c) when peertab_test_crash_at is N. */
#define PEERTAB_TEST_CRASHED 77
extern int peertab_test_crash_at;
/* NULL if every invariant holds, else which one does not. */
const char *peertab_test_check(struct peertab *t);
/* Client entries in use. */
size_t peertab_test_clients(struct peertab *t);
#endif

#endif
