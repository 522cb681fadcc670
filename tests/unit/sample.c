/*
 * sample.c - the rich sample snapshot (see sample.h). Times are fixed
 * (now is 2026-01-01 00:00:00 UTC) so that every age printed is known.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "sample.h"
#include "util.h"

#define NOW 1767225600.0
#define MS 1000000ull

void
sample_snapshot(struct snapshot *s)
{
	struct snapshot_service *svc;
	struct snapshot_worker *w;

	memset(s, 0, sizeof(*s));
	snprintf(s->version, sizeof(s->version), "1.4.0");
	s->pid = 4242;
	s->now = NOW;
	s->started = NOW - (3 * 86400 + 4 * 3600 + 5 * 60);
	s->generation = 3;
	s->reloads = 3;
	s->reloads_ok = 2;
	s->reloads_failed = 1;
	s->last_reload = NOW - (12 * 60 + 5);
	s->last_reload_ok = false;
	snprintf(s->last_reload_error, sizeof(s->last_reload_error),
	    "/etc/sockd.conf:12: unknown model \"forks\"");

	s->n_services = 3;
	s->services = svc = xcalloc(3, sizeof(*svc));
	snprintf(svc[0].name, sizeof(svc[0].name), "echo");
	snprintf(svc[0].model, sizeof(svc[0].model), "prefork");
	svc[0].configured = true;
	svc[0].generation = 3;
	svc[0].desired = 4;
	svc[0].workers[SNAPSHOT_BUSY] = 1;
	svc[0].workers[SNAPSHOT_IDLE] = 3;
	svc[0].accepted = 10234;
	svc[0].closed = 10222;
	svc[0].active = 12;
	svc[0].messages = 56789;
	svc[0].bytes_in = 1048576;
	svc[0].bytes_out = 2097152;
	svc[0].worker_starts = 4;
	svc[0].refused[SNAPSHOT_REFUSED_RATE] = 40;
	svc[0].refused[SNAPSHOT_REFUSED_FULL] = 2;
	svc[0].rate[0] = 340.4;
	svc[0].rate[1] = 301.25;
	svc[0].rate[2] = 280;
	svc[0].duration.bucket[0] = 10;
	svc[0].duration.bucket[3] = 200;
	svc[0].duration.bucket[11] = 2;
	svc[0].duration.count = 212;
	svc[0].duration.sum_ns = 900 * 1000 * MS + 5;

	snprintf(svc[1].name, sizeof(svc[1].name), "web");
	snprintf(svc[1].model, sizeof(svc[1].model), "event");
	svc[1].configured = true;
	svc[1].generation = 2;
	svc[1].desired = 2;
	svc[1].workers[SNAPSHOT_IDLE] = 1;
	svc[1].accepted = 77;
	svc[1].closed = 77;
	svc[1].messages = 80;
	svc[1].bytes_in = 8000;
	svc[1].bytes_out = 64000;
	svc[1].limited_max_connections = 3;
	svc[1].refused[SNAPSHOT_REFUSED_RULE] = 12;
	svc[1].refused[SNAPSHOT_REFUSED_PER_IP] = 3;
	svc[1].refused[SNAPSHOT_REFUSED_PROXY] = 1;
	svc[1].worker_starts = 9;
	svc[1].worker_crashes = 7;
	svc[1].exit_status[1] = 2;
	svc[1].exit_status[70] = 1;
	svc[1].exit_signal[SIGSEGV] = 3;
	svc[1].exit_signal[SIGKILL] = 1;
	svc[1].hung_kills = 1;
	svc[1].recycles = 5;
	svc[1].backoff = true;
	svc[1].backoff_failures = 3;
	svc[1].backoff_seconds = 4.25;
	svc[1].rate[0] = 0.5;
	svc[1].rate[1] = 1.25;
	svc[1].rate[2] = 0.05;
	svc[1].duration.bucket[5] = 77;
	svc[1].duration.count = 77;
	svc[1].duration.sum_ns = 3850 * MS;
	svc[1].http = true;
	svc[1].latency.bucket[1] = 60;
	svc[1].latency.bucket[2] = 20;
	svc[1].latency.count = 80;
	svc[1].latency.sum_ns = 25 * MS;

	snprintf(svc[2].name, sizeof(svc[2].name), "old");
	snprintf(svc[2].model, sizeof(svc[2].model), "fork");
	svc[2].configured = false;
	svc[2].generation = 1;
	svc[2].workers[SNAPSHOT_DRAINING] = 1;
	svc[2].accepted = 5;
	svc[2].closed = 4;
	svc[2].active = 1;
	svc[2].messages = 5;
	svc[2].worker_starts = 1;

	s->n_workers = 6;
	s->workers = w = xcalloc(6, sizeof(*w));
	for (size_t i = 0; i < 4; i++) {
		w[i].pid = 5001 + (pid_t)i;
		w[i].service = 0;
		w[i].generation = 3;
		w[i].state = i == 0 ? SNAPSHOT_BUSY : SNAPSHOT_IDLE;
		w[i].served = 2500 + i;
		w[i].messages = 14000 + i;
		w[i].started = NOW - 3600 * (double)(i + 1);
		w[i].heartbeat_age = 0.25;
	}
	w[0].current = 12;
	w[4] = (struct snapshot_worker){ .pid = 6001, .service = 1, .generation = 2,
	    .state = SNAPSHOT_IDLE, .served = 77, .messages = 80, .started = NOW - 42,
	    .heartbeat_age = 1.5 };
	w[5] = (struct snapshot_worker){ .pid = 3999, .service = 2, .generation = 1,
	    .state = SNAPSHOT_DRAINING, .current = 1, .served = 4, .messages = 5,
	    .started = NOW - 86400 * 2, .heartbeat_age = 12 };
}
