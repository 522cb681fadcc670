/*
 * stats.h - the counters that outlive workers and generations, in shared
 * memory the master owns, and the snapshot taken from them.
 *
 * Workers count into their own scoreboard slot (relaxed atomics, no
 * sharing between processes on the hot path). When the master reaps a
 * worker it folds the slot's final counts into the service's entry here,
 * then frees the slot. A service's total is its entry plus its live
 * slots, so it never goes backwards: not when a worker dies or recycles,
 * nor when a reload replaces the generation. Entries are keyed by service
 * name, so a service that survives a reload keeps its totals.
 *
 * The master is the only writer of this region. It brackets each change
 * that moves counts between a slot and an entry (the fold, a claim) with
 * a sequence number, odd while it writes; a reader in any process (the
 * master for `sockd status`, a worker serving /metrics) copies, then
 * checks the number did not move. A reader never blocks the master.
 */
#ifndef SOCKD_STATS_H
#define SOCKD_STATS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "scoreboard.h"
#include "snapshot.h"

#define STATS_NONE UINT32_MAX		/* no entry */

struct stats_service {
	bool in_use;
	bool configured;		/* in the current configuration */
	bool http;
	uint32_t order;			/* its index in that configuration */
	uint32_t generation;		/* of that configuration */
	int desired;
	char name[SNAPSHOT_NAME_MAX];
	char model[SNAPSHOT_MODEL_MAX];
	/* Folded from reaped workers' slots. */
	uint64_t accepted;
	uint64_t closed;
	uint64_t messages;
	uint64_t bytes_in;
	uint64_t bytes_out;
	uint64_t limited;
	uint64_t refused[SNAPSHOT_REFUSALS];
	uint64_t duration[SNAPSHOT_BUCKETS];
	uint64_t duration_sum_ns;
	uint64_t latency[SNAPSHOT_BUCKETS];
	uint64_t latency_sum_ns;
	/* Kept by the master. */
	uint64_t worker_starts;
	uint64_t crashes;
	uint64_t exit_status[SNAPSHOT_STATUSES];
	uint64_t exit_signal[SNAPSHOT_SIGNALS];
	uint64_t hung_kills;
	uint64_t recycles;
	int64_t backoff_ns;		/* in backoff periods that ended */
	int64_t backoff_since_ns;	/* CLOCK_MONOTONIC; 0: not in backoff */
	unsigned backoff_failures;
	double rate[3];			/* messages/s over 1, 10, 60 s */
	/* The master's samples for the rates: messages at each tick. */
	uint64_t ring[61];
	int64_t ring_ns[61];
	unsigned ring_pos;
	unsigned ring_n;
};

struct stats {
	_Atomic uint32_t seq;		/* odd while the master writes */
	uint32_t n;			/* entries */
	pid_t pid;
	int64_t started_real_ns;	/* CLOCK_REALTIME */
	int64_t started_ns;		/* CLOCK_MONOTONIC */
	uint32_t generation;
	uint64_t reloads;
	uint64_t reloads_ok;
	uint64_t reloads_failed;
	int64_t last_reload_real_ns;	/* 0: none */
	bool last_reload_ok;
	char last_reload_error[SNAPSHOT_ERROR_MAX];
	uint64_t upgrades_ok;		/* binary upgrades in place (SIGUSR2) */
	uint64_t upgrades_failed;
	int64_t last_upgrade_real_ns;	/* 0: none */
	bool last_upgrade_ok;
	char upgraded_from[SNAPSHOT_VERSION_MAX];	/* the version before the last one */
	char last_upgrade_error[SNAPSHOT_ERROR_MAX];
	struct stats_service svc[];
};

/* The master's: made once, before the first worker. */
struct stats *stats_create(uint32_t n_services, const struct scoreboard *sb, int *fd_r);
/* After a binary upgrade: the region the image before made (upgrade.c). */
struct stats *stats_adopt(int fd, const struct scoreboard *sb);
/* The scoreboard this process counts with. */
const struct scoreboard *stats_board(void);
void stats_destroy(struct stats *st);
/* The region this process inherited (NULL before stats_create). */
const struct stats *stats_shared(void);

void stats_write_begin(struct stats *st);
void stats_write_end(struct stats *st);

/* Each service of CFG to its entry (by name; new names get fresh entries,
 * after unused ones those of removed services that no worker holds):
 * MAP[i] for cfg->services[i]; -1 when there is no room. Changes nothing:
 * stats_commit() makes it so, once the configuration is taken. */
int stats_bind(const struct stats *st, const struct sockd_config *cfg, uint32_t *map);
void stats_commit(struct stats *st, const struct sockd_config *cfg, uint32_t gen,
    const uint32_t *map);
void stats_desired(struct stats *st, uint32_t e, int desired);
/* A worker was forked into slot SL. */
void stats_started(struct stats *st, const struct scoreboard_slot *sl);
/* A busy worker without a heartbeat is being killed. */
void stats_hung(struct stats *st, const struct scoreboard_slot *sl);
/* A worker was reaped with wait STATUS: fold its slot into its entry,
 * count how it ended (ABNORMAL: a crash; RECYCLED: it left at
 * max_requests), and release the slot, in one step a reader sees whole. */
void stats_reaped(struct stats *st, struct scoreboard_slot *sl, int status, bool abnormal,
    bool recycled);
/* A reload began (BEGUN), or ended: OK, or failed with WHY. */
void stats_reload(struct stats *st, bool begun, bool ok, const char *why);
/* A binary upgrade: done (OK; FROM the version before), or refused (WHY). */
void stats_upgrade(struct stats *st, bool ok, const char *from, const char *why);
/* Enter (true) or leave backoff. */
void stats_backoff(struct stats *st, uint32_t e, bool on, unsigned failures, int64_t now_ns);
/* Every tick: sample messages for the rates. */
void stats_tick(struct stats *st, int64_t now_ns);

/* Copy the state out; -1 if the master kept writing (stopped mid-write). */
int stats_snapshot(const struct stats *st, struct snapshot *out);

#endif
