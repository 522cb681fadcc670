/*
 * http_status.c - the status handler's two documents (http_status.h).
 */
#include <string.h>

#include "http_status.h"
#include "metrics.h"
#include "snapshot.h"
#include "stats.h"
#include "status_format.h"

#define TYPE_JSON "application/json"
#define TYPE_METRICS "text/plain; version=0.0.4; charset=utf-8"

static bool
path_is(const char *target, size_t len, const char *path)
{
	const char *q = memchr(target, '?', len);
	size_t n = q != NULL ? (size_t)(q - target) : len;

	return n == strlen(path) && memcmp(target, path, n) == 0;
}

int
http_status_body(const char *target, size_t len, size_t max, struct strbuf *body,
    const char **type_r)
{
	const struct status_opts all = { .workers = true };
	const struct stats *st = stats_shared();
	bool json = path_is(target, len, "/status");
	struct snapshot s;

	*type_r = NULL;
	if (!json && !path_is(target, len, "/metrics"))
		return 404;
	if (st == NULL || stats_snapshot(st, &s) == -1)
		return 503;
	body->max = max;
	if (json)
		status_format_json(body, &s, &all);
	else
		metrics_format(body, &s);
	snapshot_free(&s);
	if (body->overflow)
		return 500;
	*type_r = json ? TYPE_JSON : TYPE_METRICS;
	return 200;
}
