/*
 * snapshot.h - the daemon's state at one instant, as plain numbers: what
 * `sockd status`, the status endpoint (/status, /metrics) and their tests
 * read. stats.c takes it from shared memory (the counters and the
 * scoreboard); status_format.c and metrics.c turn it into text, JSON and
 * the Prometheus exposition format without any I/O, so that each output
 * can be checked byte for byte.
 */
#ifndef SOCKD_SNAPSHOT_H
#define SOCKD_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SNAPSHOT_SCHEMA 1		/* the JSON document's "schema" (sockd(8)) */
#define SNAPSHOT_NAME_MAX 64		/* a service name, NUL included */
#define SNAPSHOT_MODEL_MAX 16
#define SNAPSHOT_ERROR_MAX 160
#define SNAPSHOT_VERSION_MAX 32

/*
 * Histograms (Prometheus "histogram"): per-bucket counts (not cumulative;
 * the writer accumulates), the last bucket for +Inf. Bounds are upper
 * bounds in nanoseconds, shared by both histograms.
 */
#define SNAPSHOT_BUCKETS 12		/* 11 bounds and +Inf */
extern const int64_t snapshot_bounds_ns[SNAPSHOT_BUCKETS - 1];

struct snapshot_hist {
	uint64_t bucket[SNAPSHOT_BUCKETS];
	uint64_t count;
	uint64_t sum_ns;
};

/* Worker states, as the scoreboard's enum slot_state less SLOT_FREE. */
enum snapshot_state {
	SNAPSHOT_STARTING,
	SNAPSHOT_IDLE,
	SNAPSHOT_BUSY,
	SNAPSHOT_DRAINING,
	SNAPSHOT_STATES
};
extern const char *const snapshot_state_name[SNAPSHOT_STATES];	/* "starting", ... */

#define SNAPSHOT_SIGNALS 65		/* exits by signal 1..64 */
#define SNAPSHOT_STATUSES 256		/* exits with status 1..255 */

/* Why a connection was closed at once, before any handler saw it
 * (issue 12's defences, on the accept path); for a datagram service, why
 * a datagram or its reply was dropped. */
enum snapshot_refusal {
	SNAPSHOT_REFUSED_RULE,		/* allow / deny / allow_uid / allow_gid */
	SNAPSHOT_REFUSED_PER_IP,	/* limits.per_ip */
	SNAPSHOT_REFUSED_RATE,		/* limits.rate */
	SNAPSHOT_REFUSED_FULL,		/* the per-client table had no room */
	SNAPSHOT_REFUSED_PROXY,		/* PROXY header missing, malformed, or from an
					 * untrusted address */
	/* Datagram services: what was dropped, a datagram or its reply. */
	SNAPSHOT_REFUSED_TRUNCATED,	/* a datagram over limits.max_message */
	SNAPSHOT_REFUSED_REPLY,		/* a reply over its bound (amplification) */
	SNAPSHOT_REFUSED_NO_PEER,	/* a reply to a Unix client with no address */
	SNAPSHOT_REFUSED_SEND,		/* a reply the socket did not take (EAGAIN) */
	SNAPSHOT_REFUSALS
};
extern const char *const snapshot_refusal_name[SNAPSHOT_REFUSALS];	/* "rule", ... */

struct snapshot_service {
	char name[SNAPSHOT_NAME_MAX];
	char model[SNAPSHOT_MODEL_MAX];		/* "prefork", "event", ... */
	bool configured;			/* in the current configuration (else
						 * removed, old workers still leaving) */
	uint32_t generation;			/* of its configuration */
	int desired;				/* workers it should have now */
	unsigned workers[SNAPSHOT_STATES];	/* its live workers by state */
	/* Totals since the daemon started; they never go backwards. */
	uint64_t accepted;			/* connections accepted */
	uint64_t closed;			/* connections ended */
	uint64_t active;			/* connections open now (a gauge) */
	uint64_t messages;			/* messages, or http requests */
	uint64_t bytes_in;
	uint64_t bytes_out;
	uint64_t limited_max_connections;	/* accepts held back at the limit */
	uint64_t refused[SNAPSHOT_REFUSALS];	/* connections closed at once, by why */
	uint64_t worker_starts;
	uint64_t worker_crashes;		/* abnormal exits, all causes */
	uint64_t exit_status[SNAPSHOT_STATUSES];	/* abnormal exits by status */
	uint64_t exit_signal[SNAPSHOT_SIGNALS];		/* abnormal exits by signal */
	uint64_t hung_kills;
	uint64_t recycles;			/* workers that left at max_requests */
	double backoff_seconds;			/* spent in backoff so far */
	bool backoff;				/* in backoff now */
	unsigned backoff_failures;		/* failed starts behind it */
	double rate[3];				/* messages/s over the last 1, 10, 60 s */
	struct snapshot_hist duration;		/* connection duration */
	bool http;				/* has request latency (handler http) */
	struct snapshot_hist latency;		/* http: request head to response out */
};

struct snapshot_worker {
	pid_t pid;
	size_t service;				/* index into snapshot.services */
	uint32_t generation;
	enum snapshot_state state;
	uint32_t current;			/* connections open now */
	uint64_t served;			/* connections completed */
	uint64_t messages;
	double started;				/* Unix time, seconds */
	double heartbeat_age;			/* seconds since its last sign of life */
};

struct snapshot {
	char version[SNAPSHOT_VERSION_MAX];	/* PACKAGE_VERSION */
	pid_t pid;				/* the master's */
	double now;				/* Unix time of the snapshot */
	double started;				/* Unix time the master started */
	uint32_t generation;			/* of the configuration */
	uint64_t reloads;			/* attempted */
	uint64_t reloads_ok;
	uint64_t reloads_failed;
	double last_reload;			/* Unix time; 0: none yet */
	bool last_reload_ok;
	char last_reload_error[SNAPSHOT_ERROR_MAX];	/* "" unless it failed */
	uint64_t upgrades_ok;			/* binary upgrades in place */
	uint64_t upgrades_failed;		/* refused: the old binary serves on */
	double last_upgrade;			/* Unix time; 0: none yet */
	bool last_upgrade_ok;
	char upgraded_from[SNAPSHOT_VERSION_MAX];	/* the version before the last */
	char last_upgrade_error[SNAPSHOT_ERROR_MAX];	/* "" unless it failed */
	size_t n_services;
	struct snapshot_service *services;	/* configured ones first, in file order */
	size_t n_workers;
	struct snapshot_worker *workers;	/* by service, then pid */
};

void snapshot_free(struct snapshot *s);

#endif
