/*
 * status_format.h - what `sockd status` prints, as a table for people and
 * as one JSON document (schema 1, docs/MONITORING.md) for programs, made
 * from a snapshot without any I/O.
 */
#ifndef SOCKD_STATUS_FORMAT_H
#define SOCKD_STATUS_FORMAT_H

#include <stdbool.h>

#include "snapshot.h"
#include "strbuf.h"

struct status_opts {
	bool workers;			/* -w: a row per worker too */
	const char *service;		/* only this service; NULL: all */
};

/* Append the table to B; -1 (and nothing appended) when O->service names
 * no service in S, else 0. Past B's ceiling B->overflow is set. */
int status_format_text(struct strbuf *b, const struct snapshot *s,
    const struct status_opts *o);

/* Append the JSON document. An unknown O->service gives an empty
 * "services" list: callers that must refuse it check with the text
 * writer's answer or status_format_find(). */
void status_format_json(struct strbuf *b, const struct snapshot *s,
    const struct status_opts *o);

/* Whether NAME (NULL: any) names a service of S. */
bool status_format_find(const struct snapshot *s, const char *name);

#endif
