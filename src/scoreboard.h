/*
 * scoreboard.h - one shared-memory slot per worker process.
 *
 * The master maps the scoreboard before the first fork; each worker writes
 * only its own slot (state, counters, heartbeat) and the master reads them
 * all for STATUS, the pool decisions and hung-worker detection. Fields a
 * worker updates are atomics, read without locks: a reader may see a
 * counter a moment old, never a torn one.
 */
#ifndef SOCKD_SCOREBOARD_H
#define SOCKD_SCOREBOARD_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "clock.h"
#include "snapshot.h"

enum slot_state {
	SLOT_FREE = 0,		/* no process */
	SLOT_STARTING,		/* forked, not accepting yet */
	SLOT_IDLE,		/* waiting for a connection */
	SLOT_BUSY,		/* serving at least one connection */
	SLOT_DRAINING,		/* told to stop: finishing its connections */
};

/* A histogram a worker adds to (per-bucket counts, as in snapshot.h). */
struct scoreboard_hist {
	_Atomic uint64_t bucket[SNAPSHOT_BUCKETS];
	_Atomic uint64_t sum_ns;
};

struct scoreboard_slot {
	/* Written by the master when it forks or reaps the worker. */
	pid_t pid;
	uint32_t generation;
	uint32_t service;		/* index into the generation's config */
	uint32_t stat;			/* its service's counters (stats.c): stable
					 * across generations, unlike SERVICE */
	int64_t started_ns;		/* CLOCK_MONOTONIC */
	/* Written by the worker. */
	_Atomic int state;		/* enum slot_state */
	_Atomic int64_t heartbeat_ns;	/* CLOCK_MONOTONIC */
	_Atomic uint64_t served;	/* connections completed */
	_Atomic uint32_t current;	/* connections open now */
	_Atomic uint64_t messages;	/* messages handled */
	_Atomic uint64_t bytes_in;
	_Atomic uint64_t bytes_out;
	_Atomic uint64_t accept_miss;	/* woken for a connection another worker took */
	_Atomic uint64_t accepted;	/* connections taken */
	_Atomic uint64_t limited;	/* times accepting stopped at max_connections */
	_Atomic uint64_t refused[SNAPSHOT_REFUSALS];	/* closed at once, by why (guard.c) */
	struct scoreboard_hist duration;	/* of its connections */
	struct scoreboard_hist latency;	/* of its http requests */
};

struct scoreboard {
	uint32_t n_slots;
	struct scoreboard_slot slots[];
};

struct scoreboard *scoreboard_create(uint32_t n_slots, int *fd_r);
struct scoreboard *scoreboard_adopt(int fd);
void scoreboard_destroy(struct scoreboard *sb);
struct scoreboard_slot *scoreboard_claim(struct scoreboard *sb, pid_t pid,
    uint32_t generation, uint32_t service, uint32_t stat, int64_t now_ns);
void scoreboard_hist_add(struct scoreboard_hist *h, int64_t ns);
void scoreboard_hist_add_n(struct scoreboard_hist *h, int64_t ns, uint64_t n);
void scoreboard_release(struct scoreboard_slot *slot);
_Atomic uint32_t *scoreboard_counters(size_t n);
void scoreboard_counters_free(_Atomic uint32_t *c, size_t n);

#endif
