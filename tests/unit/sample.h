/*
 * sample.h - a snapshot with something in every field, for the exact-output
 * tests of the status and metrics writers and for the promtool lint.
 */
#ifndef SOCKD_TEST_SAMPLE_H
#define SOCKD_TEST_SAMPLE_H

#include "snapshot.h"

/* Fill S (snapshot_free() it): "echo" (prefork, busy, refusing on
 * limits.rate and a full table), "web" (event, http, in backoff, with
 * crashes, refusing on rules, per_ip and PROXY), "old" (removed, one
 * worker draining, refusing nothing). */
void sample_snapshot(struct snapshot *s);

#endif
