/*
 * snapshot.c - what every snapshot shares: the histogram bounds, the
 * state names, and freeing one.
 */
#include <stdlib.h>

#include "snapshot.h"

#define US 1000LL

/* Connection durations and request latencies alike: 100 us to 5 min. */
const int64_t snapshot_bounds_ns[SNAPSHOT_BUCKETS - 1] = {
	100 * US, 500 * US, 1000 * US, 5000 * US, 25000 * US, 100000 * US,
	500000 * US, 1000000 * US, 5000000 * US, 30000000 * US, 300000000 * US,
};

const char *const snapshot_state_name[SNAPSHOT_STATES] = {
	"starting", "idle", "busy", "draining",
};

const char *const snapshot_refusal_name[SNAPSHOT_REFUSALS] = {
	"rule", "per_ip", "rate", "full", "proxy", "truncated", "reply", "no_peer", "send",
};

void
snapshot_free(struct snapshot *s)
{
	free(s->services);
	free(s->workers);
	s->services = NULL;
	s->workers = NULL;
	s->n_services = s->n_workers = 0;
}
