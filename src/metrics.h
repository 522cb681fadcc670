/*
 * metrics.h - a snapshot in the Prometheus text exposition format 0.0.4,
 * for the status endpoint's /metrics. The families are listed in
 * docs/MONITORING.md.
 */
#ifndef SOCKD_METRICS_H
#define SOCKD_METRICS_H

#include "snapshot.h"
#include "strbuf.h"

/* The content type a scrape answer carries. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Append every family of S to B; past B's ceiling B->overflow is set. */
void metrics_format(struct strbuf *b, const struct snapshot *s);

#endif
