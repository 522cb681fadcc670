/*
 * pool.h - how many workers a service should have, and which to stop or
 * kill: a pure function of numbers (no clock, no syscalls), so every rule
 * can be unit-tested alone. The master gathers the inputs, calls
 * pool_decide() and carries the actions out.
 */
#ifndef SOCKD_POOL_H
#define SOCKD_POOL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "clock.h"			/* NS_PER_MS */
#define POOL_BACKOFF_MIN_NS (10 * NS_PER_MS)
#define POOL_BACKOFF_MAX_NS (5000 * NS_PER_MS)
#define POOL_HEALTHY_NS (10000 * NS_PER_MS)	/* no failure this long: reset */
#define POOL_SETTLED_NS (1000 * NS_PER_MS)	/* alive this long: it did start */
#define POOL_HUNG_GRACE_NS (1000 * NS_PER_MS)	/* SIGTERM to SIGKILL for a hung worker */

enum pool_mode { POOL_STATIC, POOL_DYNAMIC, POOL_ONDEMAND };

#define POOL_SPAWN_RATE_MAX 32		/* dynamic: most new workers per second */
#define POOL_ROUND_NS (1000 * NS_PER_MS)	/* dynamic: one growing or shrinking step */
#define POOL_RECHECK_NS (20 * NS_PER_MS)	/* ondemand: look again at a free worker's client */

/*
 * Failures that hold new processes back: a service's failed starts, or a
 * fork acceptor's crashing connection processes. Nothing new before
 * next_ns; 10 ms after the first failure, doubling up to 5 s.
 */
struct pool_backoff {
	unsigned failures;		/* since the last healthy sign */
	int64_t last_failure_ns;
	int64_t next_ns;
};

/* Per service, kept by the master across decisions. */
struct pool_state {
	enum pool_mode mode;
	int desired;			/* static: workers wanted (config +/- TTIN/TTOU) */
	int min_spare;			/* dynamic: grow while fewer idle workers */
	int max_spare;			/* dynamic: shrink while more idle workers */
	int max_workers;		/* dynamic, ondemand: never more */
	int64_t idle_ns;		/* ondemand: stop a worker without a connection this long */
	int spawn_rate;			/* dynamic: 1, 2, 4 ... 32 per round while short */
	int64_t next_round_ns;		/* dynamic: no growing or shrinking before */
	struct pool_backoff backoff;	/* failed starts */
	int64_t heartbeat_ns;		/* busy without a heartbeat this long: hung (0: never) */
	/* Input, set by the caller before each pool_decide(): */
	bool waiting;			/* ondemand: a client waits in a listener's backlog */
};

enum pool_action { POOL_KEEP, POOL_STOP, POOL_KILL, POOL_HUNG };

/* One worker of the service as the decision sees it. */
struct pool_worker {
	bool current;			/* of the current generation */
	bool stopping;			/* already asked to stop */
	bool draining;			/* leaving on its own (recycling): not running */
	bool busy;			/* serving a connection (from the scoreboard) */
	bool full;			/* cannot take another connection: busy, for
					 * one connection at a time; at max_children,
					 * max_threads or threads for the others */
	uint64_t served;		/* connections completed */
	int64_t started_ns;
	int64_t heartbeat_ns;		/* last sign of life (from the scoreboard) */
	int64_t last_active_ns;		/* last seen busy or with more served (ondemand) */
	int64_t kill_at_ns;		/* stopping: SIGKILL from then on */
	enum pool_action action;	/* out */
};

struct pool_decision {
	int spawn;			/* new workers to start now */
	bool backing_off;		/* spawns held back by failures */
	unsigned recovered;		/* healthy again after this many failures (0: no) */
	int64_t wake_ns;		/* decide again by then (0: no need) */
	bool watch;			/* ondemand: decide again as soon as a client waits */
};

/* How a worker of the current generation ended, for pool_ended(). */
struct pool_end {
	bool abnormal;			/* not a clean exit and not asked to stop */
	bool killed;			/* by SIGKILL */
	bool ready;			/* had reached its accept loop (idle or busy) */
	uint64_t served;		/* connections completed */
	int64_t alive_ns;
};

void pool_init(struct pool_state *ps, int desired, int64_t heartbeat_ns);
void pool_init_dynamic(struct pool_state *ps, int min_spare, int max_spare, int max_workers);
void pool_init_ondemand(struct pool_state *ps, int max_workers, int64_t idle_ns);
bool pool_failed_start(bool abnormal, uint64_t served, int64_t alive_ns);
bool pool_ended(struct pool_state *ps, const struct pool_end *e, int64_t now_ns);
bool pool_exited(struct pool_state *ps, bool abnormal, uint64_t served, int64_t alive_ns,
    int64_t now_ns);
bool pool_backoff_fail(struct pool_backoff *b, int64_t now_ns);
unsigned pool_backoff_clear(struct pool_backoff *b);
unsigned pool_backoff_quiet(struct pool_backoff *b, int64_t now_ns);
void pool_decide(struct pool_state *ps, struct pool_worker *w, size_t n,
    int64_t now_ns, struct pool_decision *d);
int64_t pool_backoff_ns(unsigned failures);
int pool_max_requests(int base, int jitter, uint32_t random);

#endif
