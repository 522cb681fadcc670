/*
 * http_status.h - what the status handler serves: GET /status (the JSON
 * document of `sockd status --json`, workers included) and GET /metrics
 * (the Prometheus text format), read from the counters in shared memory.
 * A worker reads them; the master is never asked, and never waits.
 */
#ifndef SOCKD_HTTP_STATUS_H
#define SOCKD_HTTP_STATUS_H

#include <stddef.h>

#include "strbuf.h"

/* The body for request-target TARGET (LEN bytes) in BODY, at most MAX
 * bytes, and its Content-Type in *TYPE_R: the HTTP status (200; 404 for
 * another path; 503 when the counters cannot be read; 500 past MAX). */
int http_status_body(const char *target, size_t len, size_t max, struct strbuf *body,
    const char **type_r);

#endif
