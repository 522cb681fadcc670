/*
 * metrics.c - a snapshot as Prometheus metrics (text format 0.0.4).
 *
 * Every family has its # HELP and # TYPE lines once, even when it has no
 * series yet (no service, no http service, no crash), so that the list of
 * families does not change with the daemon's luck and promtool's lint is
 * clean. Each family keeps one label set: per-service ones are labelled
 * "service" and nothing that varies more than the configuration does.
 * Values are in base units (seconds, bytes); counters end in _total.
 */
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "metrics.h"
#include "sig.h"
#include "util.h"

static void
metrics_family(struct strbuf *b, const char *name, const char *type, const char *help)
{
	strbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value: '\\', '"' and newline escaped as the format wants, and
 * bytes that are not UTF-8 written as U+FFFD (label values are UTF-8). */
static void
metrics_label_value(struct strbuf *b, const char *s)
{
	while (*s != '\0') {
		size_t n = strbuf_utf8_len(s);

		if (*s == '\\')
			strbuf_add(b, "\\\\", 2);
		else if (*s == '"')
			strbuf_add(b, "\\\"", 2);
		else if (*s == '\n')
			strbuf_add(b, "\\n", 2);
		else if (n == 0)
			strbuf_add(b, "\xef\xbf\xbd", 3);
		else
			strbuf_add(b, s, n);
		s += n == 0 ? 1 : n;
	}
}

/* NAME{service="..." (the caller adds any other label and the value). */
static void
metrics_start(struct strbuf *b, const char *name, const struct snapshot_service *svc)
{
	strbuf_printf(b, "%s{service=\"", name);
	metrics_label_value(b, svc->name);
	strbuf_add(b, "\"", 1);
}

static void
metrics_end_u64(struct strbuf *b, uint64_t v)
{
	strbuf_printf(b, "} %" PRIu64 "\n", v);
}

/* A double in Prometheus' float syntax; never NaN or Inf. */
static void
metrics_double(struct strbuf *b, double v)
{
	strbuf_printf(b, "%.3f", isfinite(v) ? v : 0.0);
}

/*
 * Per-service families that are one uint64_t field of the service, read
 * through its offset; U64 refuses to compile for a field of another type.
 */
#define U64(field) (offsetof(struct snapshot_service, field) + 0 * sizeof(char[ \
	_Generic(((struct snapshot_service *)0)->field, uint64_t: 1)]))

struct metrics_field {
	const char *name;
	const char *type;
	const char *labels;		/* more labels, or "" */
	const char *help;
	size_t offset;
};

/* The connections' families; sockd_connections_refused_total follows them. */
static const struct metrics_field metrics_conn_fields[] = {
	{ "sockd_connections_accepted_total", "counter", "",
	  "Connections accepted.", U64(accepted) },
	{ "sockd_connections_closed_total", "counter", "",
	  "Connections ended.", U64(closed) },
	{ "sockd_connections_active", "gauge", "",
	  "Connections open now.", U64(active) },
	{ "sockd_connections_limited_total", "counter", ",limit=\"max_connections\"",
	  "Accepts held back by a limit (the clients wait), by limit.",
	  U64(limited_max_connections) },
};

static const struct metrics_field metrics_fields[] = {
	{ "sockd_messages_total", "counter", "",
	  "Messages handled (http: requests).", U64(messages) },
	{ "sockd_received_bytes_total", "counter", "",
	  "Bytes read from clients.", U64(bytes_in) },
	{ "sockd_sent_bytes_total", "counter", "",
	  "Bytes written to clients.", U64(bytes_out) },
	{ "sockd_worker_starts_total", "counter", "",
	  "Workers started.", U64(worker_starts) },
	{ "sockd_worker_crashes_total", "counter", "",
	  "Workers that exited abnormally, all causes.",
	  U64(worker_crashes) },
	{ "sockd_hung_workers_killed_total", "counter", "",
	  "Workers killed for missing their heartbeat.",
	  U64(hung_kills) },
	{ "sockd_worker_recycles_total", "counter", "",
	  "Workers that left after max_requests.", U64(recycles) },
};

static void
metrics_daemon(struct strbuf *b, const struct snapshot *s)
{
	metrics_family(b, "sockd_build_info", "gauge", "Always 1; the version as a label.");
	strbuf_puts(b, "sockd_build_info{version=\"");
	metrics_label_value(b, s->version);
	strbuf_puts(b, "\"} 1\n");
	metrics_family(b, "sockd_start_time_seconds", "gauge",
	    "When the master process started, in Unix time.");
	strbuf_puts(b, "sockd_start_time_seconds ");
	metrics_double(b, s->started);
	strbuf_add(b, "\n", 1);
	metrics_family(b, "sockd_generation", "gauge",
	    "The configuration's generation: 1 at start, one more per successful reload.");
	strbuf_printf(b, "sockd_generation %" PRIu32 "\n", s->generation);
	metrics_family(b, "sockd_reloads_total", "counter", "Reloads attempted, by result.");
	strbuf_printf(b, "sockd_reloads_total{result=\"ok\"} %" PRIu64 "\n", s->reloads_ok);
	strbuf_printf(b, "sockd_reloads_total{result=\"failed\"} %" PRIu64 "\n",
	    s->reloads_failed);
	metrics_family(b, "sockd_upgrades_total", "counter",
	    "Binary upgrades in place (SIGUSR2), by result.");
	strbuf_printf(b, "sockd_upgrades_total{result=\"ok\"} %" PRIu64 "\n", s->upgrades_ok);
	strbuf_printf(b, "sockd_upgrades_total{result=\"failed\"} %" PRIu64 "\n",
	    s->upgrades_failed);
	metrics_family(b, "sockd_last_reload_timestamp_seconds", "gauge",
	    "When the last reload was attempted, in Unix time; 0: none yet.");
	strbuf_puts(b, "sockd_last_reload_timestamp_seconds ");
	metrics_double(b, s->last_reload > 0 ? s->last_reload : 0);
	strbuf_add(b, "\n", 1);
	metrics_family(b, "sockd_last_reload_success", "gauge",
	    "0 if the last reload failed (the old configuration still runs), else 1.");
	strbuf_printf(b, "sockd_last_reload_success %d\n",
	    s->last_reload > 0 && !s->last_reload_ok ? 0 : 1);
}

static void
metrics_workers(struct strbuf *b, const struct snapshot *s)
{
	metrics_family(b, "sockd_service_configured", "gauge",
	    "1 if the service is in the configuration, 0 if removed (its workers leaving).");
	for (size_t i = 0; i < s->n_services; i++) {
		metrics_start(b, "sockd_service_configured", &s->services[i]);
		metrics_end_u64(b, s->services[i].configured);
	}
	metrics_family(b, "sockd_workers", "gauge", "Live workers, by state.");
	for (size_t i = 0; i < s->n_services; i++)
		for (int st = 0; st < SNAPSHOT_STATES; st++) {
			metrics_start(b, "sockd_workers", &s->services[i]);
			strbuf_printf(b, ",state=\"%s\"", snapshot_state_name[st]);
			metrics_end_u64(b, s->services[i].workers[st]);
		}
	metrics_family(b, "sockd_workers_desired", "gauge", "Workers the service should have now.");
	for (size_t i = 0; i < s->n_services; i++) {
		metrics_start(b, "sockd_workers_desired", &s->services[i]);
		strbuf_printf(b, "} %d\n", s->services[i].desired);
	}
}

static void
metrics_counters(struct strbuf *b, const struct snapshot *s,
    const struct metrics_field *fields, size_t n)
{
	for (size_t f = 0; f < n; f++) {
		const struct metrics_field *m = &fields[f];

		metrics_family(b, m->name, m->type, m->help);
		for (size_t i = 0; i < s->n_services; i++) {
			uint64_t v;

			memcpy(&v, (const char *)&s->services[i] + m->offset, sizeof(v));
			metrics_start(b, m->name, &s->services[i]);
			strbuf_puts(b, m->labels);
			metrics_end_u64(b, v);
		}
	}
}

/*
 * Connections closed at once, apart from the limited ones (which wait).
 * Every reason of every service is there from the first scrape, 0 or not:
 * a series that appeared only with its first refusal would not show it in
 * increase().
 */
static void
metrics_refused(struct strbuf *b, const struct snapshot *s)
{
	static const char name[] = "sockd_connections_refused_total";

	metrics_family(b, name, "counter",
	    "Connections closed at once, before any handler saw them, by reason.");
	for (size_t i = 0; i < s->n_services; i++)
		for (int r = 0; r < SNAPSHOT_REFUSALS; r++) {
			metrics_start(b, name, &s->services[i]);
			strbuf_printf(b, ",reason=\"%s\"", snapshot_refusal_name[r]);
			metrics_end_u64(b, s->services[i].refused[r]);
		}
}

/* One family for both causes, so its label set stays {service,reason,code}. */
static void
metrics_exits(struct strbuf *b, const struct snapshot *s)
{
	static const char name[] = "sockd_worker_abnormal_exits_total";
	char sig[32];

	metrics_family(b, name, "counter",
	    "Abnormal worker exits, by exit status or by signal (only causes seen).");
	for (size_t i = 0; i < s->n_services; i++) {
		const struct snapshot_service *svc = &s->services[i];

		for (int st = 1; st < SNAPSHOT_STATUSES; st++) {
			if (svc->exit_status[st] == 0)
				continue;
			metrics_start(b, name, svc);
			strbuf_printf(b, ",reason=\"status\",code=\"%d\"", st);
			metrics_end_u64(b, svc->exit_status[st]);
		}
		for (int sn = 1; sn < SNAPSHOT_SIGNALS; sn++) {
			if (svc->exit_signal[sn] == 0)
				continue;
			metrics_start(b, name, svc);
			strbuf_puts(b, ",reason=\"signal\",code=\"");
			metrics_label_value(b, sig_name(sn, sig, sizeof(sig)));
			strbuf_add(b, "\"", 1);
			metrics_end_u64(b, svc->exit_signal[sn]);
		}
	}
}

static void
metrics_backoff(struct strbuf *b, const struct snapshot *s)
{
	metrics_family(b, "sockd_backoff", "gauge",
	    "1 while the service waits before starting workers again after failed starts.");
	for (size_t i = 0; i < s->n_services; i++) {
		metrics_start(b, "sockd_backoff", &s->services[i]);
		metrics_end_u64(b, s->services[i].backoff);
	}
	metrics_family(b, "sockd_backoff_failed_starts", "gauge",
	    "Failed worker starts behind the current backoff; 0 when none.");
	for (size_t i = 0; i < s->n_services; i++) {
		metrics_start(b, "sockd_backoff_failed_starts", &s->services[i]);
		metrics_end_u64(b, s->services[i].backoff ? s->services[i].backoff_failures : 0);
	}
	metrics_family(b, "sockd_backoff_seconds_total", "counter",
	    "Time spent in backoff.");
	for (size_t i = 0; i < s->n_services; i++) {
		metrics_start(b, "sockd_backoff_seconds_total", &s->services[i]);
		strbuf_puts(b, "} ");
		metrics_double(b, s->services[i].backoff_seconds);
		strbuf_add(b, "\n", 1);
	}
}

/* _bucket (cumulative), _sum and _count; _count is the +Inf bucket. */
static void
metrics_hist(struct strbuf *b, const char *name, const struct snapshot_service *svc,
    const struct snapshot_hist *h)
{
	char series[64];
	uint64_t cum = 0;

	snprintf(series, sizeof(series), "%s_bucket", name);
	for (size_t i = 0; i < SNAPSHOT_BUCKETS; i++) {
		cum += h->bucket[i];
		metrics_start(b, series, svc);
		strbuf_puts(b, ",le=\"");
		if (i < SNAPSHOT_BUCKETS - 1)
			strbuf_ns_seconds(b, (uint64_t)snapshot_bounds_ns[i]);
		else
			strbuf_puts(b, "+Inf");
		strbuf_add(b, "\"", 1);
		metrics_end_u64(b, cum);
	}
	snprintf(series, sizeof(series), "%s_sum", name);
	metrics_start(b, series, svc);
	strbuf_puts(b, "} ");
	strbuf_ns_seconds(b, h->sum_ns);
	strbuf_add(b, "\n", 1);
	snprintf(series, sizeof(series), "%s_count", name);
	metrics_start(b, series, svc);
	metrics_end_u64(b, cum);
}

static void
metrics_histograms(struct strbuf *b, const struct snapshot *s)
{
	static const char conn[] = "sockd_connection_duration_seconds";
	static const char http[] = "sockd_http_request_duration_seconds";

	metrics_family(b, conn, "histogram", "How long connections stayed open.");
	for (size_t i = 0; i < s->n_services; i++)
		metrics_hist(b, conn, &s->services[i], &s->services[i].duration);
	metrics_family(b, http, "histogram",
	    "HTTP services: from a request's head read to its response written.");
	for (size_t i = 0; i < s->n_services; i++)
		if (s->services[i].http)
			metrics_hist(b, http, &s->services[i], &s->services[i].latency);
}

void
metrics_format(struct strbuf *b, const struct snapshot *s)
{
	metrics_daemon(b, s);
	metrics_workers(b, s);
	metrics_counters(b, s, metrics_conn_fields, ARRAY_SIZE(metrics_conn_fields));
	metrics_refused(b, s);
	metrics_counters(b, s, metrics_fields, ARRAY_SIZE(metrics_fields));
	metrics_exits(b, s);
	metrics_backoff(b, s);
	metrics_histograms(b, s);
}
