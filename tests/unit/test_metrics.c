/*
 * test_metrics.c - the Prometheus text, byte for byte for one service and
 * for none; on the rich sample: every family's HELP and TYPE once and its
 * series right under them, exits by status and by signal (only the ones
 * seen), refusals by every reason (0 included), the http histogram for
 * http services only, cumulative buckets; label values escaped; NaN kept
 * out; and a ceiling too low.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "metrics.h"
#include "sample.h"
#include "util.h"

#define NOW 1767225600.0		/* as in sample.c */

/* A snapshot of one service, "echo", one idle worker; no reload yet. */
static void
one_service(struct snapshot *s)
{
	struct snapshot_service *svc;

	memset(s, 0, sizeof(*s));
	snprintf(s->version, sizeof(s->version), "1.4.0");
	s->pid = 100;
	s->now = NOW;
	s->started = NOW - (12 * 60 + 5);
	s->generation = 1;
	s->n_services = 1;
	s->services = svc = xcalloc(1, sizeof(*svc));
	snprintf(svc->name, sizeof(svc->name), "echo");
	snprintf(svc->model, sizeof(svc->model), "prefork");
	svc->configured = true;
	svc->generation = 1;
	svc->desired = 1;
	svc->workers[SNAPSHOT_IDLE] = 1;
	svc->accepted = 3;
	svc->closed = 3;
	svc->messages = 3;
	svc->bytes_in = 10;
	svc->bytes_out = 12;
	svc->worker_starts = 1;
	svc->rate[0] = 1;
	svc->rate[1] = 0.25;
	svc->duration.bucket[0] = 2;
	svc->duration.bucket[2] = 1;
	svc->duration.count = 3;
	svc->duration.sum_ns = 1150000;
	s->n_workers = 1;
	s->workers = xcalloc(1, sizeof(*s->workers));
	s->workers[0] = (struct snapshot_worker){ .pid = 101, .generation = 1,
	    .state = SNAPSHOT_IDLE, .served = 3, .messages = 3, .started = NOW - 725,
	    .heartbeat_age = 0.5 };
}

static struct strbuf out;

static const char *
metrics(const struct snapshot *s)
{
	strbuf_free(&out);
	metrics_format(&out, s);
	assert_false(out.overflow);
	return out.p;
}

static void
test_one(void **state)
{
	struct snapshot s;

	(void)state;
	one_service(&s);
	assert_string_equal(metrics(&s),
	    "# HELP sockd_build_info Always 1; the version as a label.\n"
	    "# TYPE sockd_build_info gauge\n"
	    "sockd_build_info{version=\"1.4.0\"} 1\n"
	    "# HELP sockd_start_time_seconds When the master process started, in Unix time.\n"
	    "# TYPE sockd_start_time_seconds gauge\n"
	    "sockd_start_time_seconds 1767224875.000\n"
	    "# HELP sockd_generation The configuration's generation: 1 at start, one more per successful reload.\n"
	    "# TYPE sockd_generation gauge\n"
	    "sockd_generation 1\n"
	    "# HELP sockd_reloads_total Reloads attempted, by result.\n"
	    "# TYPE sockd_reloads_total counter\n"
	    "sockd_reloads_total{result=\"ok\"} 0\n"
	    "sockd_reloads_total{result=\"failed\"} 0\n"
	    "# HELP sockd_upgrades_total Binary upgrades in place (SIGUSR2), by result.\n"
	    "# TYPE sockd_upgrades_total counter\n"
	    "sockd_upgrades_total{result=\"ok\"} 0\n"
	    "sockd_upgrades_total{result=\"failed\"} 0\n"
	    "# HELP sockd_last_reload_timestamp_seconds When the last reload was attempted, in Unix time; 0: none yet.\n"
	    "# TYPE sockd_last_reload_timestamp_seconds gauge\n"
	    "sockd_last_reload_timestamp_seconds 0.000\n"
	    "# HELP sockd_last_reload_success 0 if the last reload failed (the old configuration still runs), else 1.\n"
	    "# TYPE sockd_last_reload_success gauge\n"
	    "sockd_last_reload_success 1\n"
	    "# HELP sockd_service_configured 1 if the service is in the configuration, 0 if removed (its workers leaving).\n"
	    "# TYPE sockd_service_configured gauge\n"
	    "sockd_service_configured{service=\"echo\"} 1\n"
	    "# HELP sockd_workers Live workers, by state.\n"
	    "# TYPE sockd_workers gauge\n"
	    "sockd_workers{service=\"echo\",state=\"starting\"} 0\n"
	    "sockd_workers{service=\"echo\",state=\"idle\"} 1\n"
	    "sockd_workers{service=\"echo\",state=\"busy\"} 0\n"
	    "sockd_workers{service=\"echo\",state=\"draining\"} 0\n"
	    "# HELP sockd_workers_desired Workers the service should have now.\n"
	    "# TYPE sockd_workers_desired gauge\n"
	    "sockd_workers_desired{service=\"echo\"} 1\n"
	    "# HELP sockd_connections_accepted_total Connections accepted.\n"
	    "# TYPE sockd_connections_accepted_total counter\n"
	    "sockd_connections_accepted_total{service=\"echo\"} 3\n"
	    "# HELP sockd_connections_closed_total Connections ended.\n"
	    "# TYPE sockd_connections_closed_total counter\n"
	    "sockd_connections_closed_total{service=\"echo\"} 3\n"
	    "# HELP sockd_connections_active Connections open now.\n"
	    "# TYPE sockd_connections_active gauge\n"
	    "sockd_connections_active{service=\"echo\"} 0\n"
	    "# HELP sockd_connections_limited_total Accepts held back by a limit (the clients wait), by limit.\n"
	    "# TYPE sockd_connections_limited_total counter\n"
	    "sockd_connections_limited_total{service=\"echo\",limit=\"max_connections\"} 0\n"
	    "# HELP sockd_connections_refused_total Connections closed at once, before any handler saw them, by reason.\n"
	    "# TYPE sockd_connections_refused_total counter\n"
	    "sockd_connections_refused_total{service=\"echo\",reason=\"rule\"} 0\n"
	    "sockd_connections_refused_total{service=\"echo\",reason=\"per_ip\"} 0\n"
	    "sockd_connections_refused_total{service=\"echo\",reason=\"rate\"} 0\n"
	    "sockd_connections_refused_total{service=\"echo\",reason=\"full\"} 0\n"
	    "sockd_connections_refused_total{service=\"echo\",reason=\"proxy\"} 0\n"
	    "sockd_connections_refused_total{service=\"echo\",reason=\"truncated\"} 0\n"
	    "sockd_connections_refused_total{service=\"echo\",reason=\"reply\"} 0\n"
	    "sockd_connections_refused_total{service=\"echo\",reason=\"no_peer\"} 0\n"
	    "sockd_connections_refused_total{service=\"echo\",reason=\"send\"} 0\n"
	    "# HELP sockd_messages_total Messages handled (http: requests).\n"
	    "# TYPE sockd_messages_total counter\n"
	    "sockd_messages_total{service=\"echo\"} 3\n"
	    "# HELP sockd_received_bytes_total Bytes read from clients.\n"
	    "# TYPE sockd_received_bytes_total counter\n"
	    "sockd_received_bytes_total{service=\"echo\"} 10\n"
	    "# HELP sockd_sent_bytes_total Bytes written to clients.\n"
	    "# TYPE sockd_sent_bytes_total counter\n"
	    "sockd_sent_bytes_total{service=\"echo\"} 12\n"
	    "# HELP sockd_worker_starts_total Workers started.\n"
	    "# TYPE sockd_worker_starts_total counter\n"
	    "sockd_worker_starts_total{service=\"echo\"} 1\n"
	    "# HELP sockd_worker_crashes_total Workers that exited abnormally, all causes.\n"
	    "# TYPE sockd_worker_crashes_total counter\n"
	    "sockd_worker_crashes_total{service=\"echo\"} 0\n"
	    "# HELP sockd_hung_workers_killed_total Workers killed for missing their heartbeat.\n"
	    "# TYPE sockd_hung_workers_killed_total counter\n"
	    "sockd_hung_workers_killed_total{service=\"echo\"} 0\n"
	    "# HELP sockd_worker_recycles_total Workers that left after max_requests.\n"
	    "# TYPE sockd_worker_recycles_total counter\n"
	    "sockd_worker_recycles_total{service=\"echo\"} 0\n"
	    "# HELP sockd_worker_abnormal_exits_total Abnormal worker exits, by exit status or by signal (only causes seen).\n"
	    "# TYPE sockd_worker_abnormal_exits_total counter\n"
	    "# HELP sockd_backoff 1 while the service waits before starting workers again after failed starts.\n"
	    "# TYPE sockd_backoff gauge\n"
	    "sockd_backoff{service=\"echo\"} 0\n"
	    "# HELP sockd_backoff_failed_starts Failed worker starts behind the current backoff; 0 when none.\n"
	    "# TYPE sockd_backoff_failed_starts gauge\n"
	    "sockd_backoff_failed_starts{service=\"echo\"} 0\n"
	    "# HELP sockd_backoff_seconds_total Time spent in backoff.\n"
	    "# TYPE sockd_backoff_seconds_total counter\n"
	    "sockd_backoff_seconds_total{service=\"echo\"} 0.000\n"
	    "# HELP sockd_connection_duration_seconds How long connections stayed open.\n"
	    "# TYPE sockd_connection_duration_seconds histogram\n"
	    "sockd_connection_duration_seconds_bucket{service=\"echo\",le=\"0.0001\"} 2\n"
	    "sockd_connection_duration_seconds_bucket{service=\"echo\",le=\"0.0005\"} 2\n"
	    "sockd_connection_duration_seconds_bucket{service=\"echo\",le=\"0.001\"} 3\n"
	    "sockd_connection_duration_seconds_bucket{service=\"echo\",le=\"0.005\"} 3\n"
	    "sockd_connection_duration_seconds_bucket{service=\"echo\",le=\"0.025\"} 3\n"
	    "sockd_connection_duration_seconds_bucket{service=\"echo\",le=\"0.1\"} 3\n"
	    "sockd_connection_duration_seconds_bucket{service=\"echo\",le=\"0.5\"} 3\n"
	    "sockd_connection_duration_seconds_bucket{service=\"echo\",le=\"1\"} 3\n"
	    "sockd_connection_duration_seconds_bucket{service=\"echo\",le=\"5\"} 3\n"
	    "sockd_connection_duration_seconds_bucket{service=\"echo\",le=\"30\"} 3\n"
	    "sockd_connection_duration_seconds_bucket{service=\"echo\",le=\"300\"} 3\n"
	    "sockd_connection_duration_seconds_bucket{service=\"echo\",le=\"+Inf\"} 3\n"
	    "sockd_connection_duration_seconds_sum{service=\"echo\"} 0.00115\n"
	    "sockd_connection_duration_seconds_count{service=\"echo\"} 3\n"
	    "# HELP sockd_http_request_duration_seconds HTTP services: from a request's head read to its response written.\n"
	    "# TYPE sockd_http_request_duration_seconds histogram\n");
	snapshot_free(&s);
}

/* No service: the families are all there, with no series. */
static void
test_zero(void **state)
{
	struct snapshot s;

	(void)state;
	one_service(&s);
	s.n_services = 0;
	s.n_workers = 0;
	assert_string_equal(metrics(&s),
	    "# HELP sockd_build_info Always 1; the version as a label.\n"
	    "# TYPE sockd_build_info gauge\n"
	    "sockd_build_info{version=\"1.4.0\"} 1\n"
	    "# HELP sockd_start_time_seconds When the master process started, in Unix time.\n"
	    "# TYPE sockd_start_time_seconds gauge\n"
	    "sockd_start_time_seconds 1767224875.000\n"
	    "# HELP sockd_generation The configuration's generation: 1 at start, one more per successful reload.\n"
	    "# TYPE sockd_generation gauge\n"
	    "sockd_generation 1\n"
	    "# HELP sockd_reloads_total Reloads attempted, by result.\n"
	    "# TYPE sockd_reloads_total counter\n"
	    "sockd_reloads_total{result=\"ok\"} 0\n"
	    "sockd_reloads_total{result=\"failed\"} 0\n"
	    "# HELP sockd_upgrades_total Binary upgrades in place (SIGUSR2), by result.\n"
	    "# TYPE sockd_upgrades_total counter\n"
	    "sockd_upgrades_total{result=\"ok\"} 0\n"
	    "sockd_upgrades_total{result=\"failed\"} 0\n"
	    "# HELP sockd_last_reload_timestamp_seconds When the last reload was attempted, in Unix time; 0: none yet.\n"
	    "# TYPE sockd_last_reload_timestamp_seconds gauge\n"
	    "sockd_last_reload_timestamp_seconds 0.000\n"
	    "# HELP sockd_last_reload_success 0 if the last reload failed (the old configuration still runs), else 1.\n"
	    "# TYPE sockd_last_reload_success gauge\n"
	    "sockd_last_reload_success 1\n"
	    "# HELP sockd_service_configured 1 if the service is in the configuration, 0 if removed (its workers leaving).\n"
	    "# TYPE sockd_service_configured gauge\n"
	    "# HELP sockd_workers Live workers, by state.\n"
	    "# TYPE sockd_workers gauge\n"
	    "# HELP sockd_workers_desired Workers the service should have now.\n"
	    "# TYPE sockd_workers_desired gauge\n"
	    "# HELP sockd_connections_accepted_total Connections accepted.\n"
	    "# TYPE sockd_connections_accepted_total counter\n"
	    "# HELP sockd_connections_closed_total Connections ended.\n"
	    "# TYPE sockd_connections_closed_total counter\n"
	    "# HELP sockd_connections_active Connections open now.\n"
	    "# TYPE sockd_connections_active gauge\n"
	    "# HELP sockd_connections_limited_total Accepts held back by a limit (the clients wait), by limit.\n"
	    "# TYPE sockd_connections_limited_total counter\n"
	    "# HELP sockd_connections_refused_total Connections closed at once, before any handler saw them, by reason.\n"
	    "# TYPE sockd_connections_refused_total counter\n"
	    "# HELP sockd_messages_total Messages handled (http: requests).\n"
	    "# TYPE sockd_messages_total counter\n"
	    "# HELP sockd_received_bytes_total Bytes read from clients.\n"
	    "# TYPE sockd_received_bytes_total counter\n"
	    "# HELP sockd_sent_bytes_total Bytes written to clients.\n"
	    "# TYPE sockd_sent_bytes_total counter\n"
	    "# HELP sockd_worker_starts_total Workers started.\n"
	    "# TYPE sockd_worker_starts_total counter\n"
	    "# HELP sockd_worker_crashes_total Workers that exited abnormally, all causes.\n"
	    "# TYPE sockd_worker_crashes_total counter\n"
	    "# HELP sockd_hung_workers_killed_total Workers killed for missing their heartbeat.\n"
	    "# TYPE sockd_hung_workers_killed_total counter\n"
	    "# HELP sockd_worker_recycles_total Workers that left after max_requests.\n"
	    "# TYPE sockd_worker_recycles_total counter\n"
	    "# HELP sockd_worker_abnormal_exits_total Abnormal worker exits, by exit status or by signal (only causes seen).\n"
	    "# TYPE sockd_worker_abnormal_exits_total counter\n"
	    "# HELP sockd_backoff 1 while the service waits before starting workers again after failed starts.\n"
	    "# TYPE sockd_backoff gauge\n"
	    "# HELP sockd_backoff_failed_starts Failed worker starts behind the current backoff; 0 when none.\n"
	    "# TYPE sockd_backoff_failed_starts gauge\n"
	    "# HELP sockd_backoff_seconds_total Time spent in backoff.\n"
	    "# TYPE sockd_backoff_seconds_total counter\n"
	    "# HELP sockd_connection_duration_seconds How long connections stayed open.\n"
	    "# TYPE sockd_connection_duration_seconds histogram\n"
	    "# HELP sockd_http_request_duration_seconds HTTP services: from a request's head read to its response written.\n"
	    "# TYPE sockd_http_request_duration_seconds histogram\n");
	snapshot_free(&s);
}

/*
 * The exposition's structure: each "# HELP name" is followed by "# TYPE
 * name", no family twice, and every series line belongs to the family
 * above it (a histogram's by _bucket, _sum and _count). Returns the number
 * of families.
 */
static size_t
check_structure(const char *text)
{
	char family[128] = "", seen[64][128];
	size_t nseen = 0;

	for (const char *line = text; *line != '\0';) {
		const char *end = strchr(line, '\n');
		char name[128];
		int n;

		assert_non_null(end);
		if (sscanf(line, "# HELP %127s %n", name, &n) == 1) {
			for (size_t i = 0; i < nseen; i++)
				assert_string_not_equal(seen[i], name);
			assert_true(nseen < 64);
			snprintf(seen[nseen++], sizeof(seen[0]), "%s", name);
			snprintf(family, sizeof(family), "%s", name);
			line = end + 1;
			assert_int_equal(strncmp(line, "# TYPE ", 7), 0);
			assert_int_equal(strncmp(line + 7, family, strlen(family)), 0);
			assert_int_equal(line[7 + strlen(family)], ' ');
			end = strchr(line, '\n');
			assert_non_null(end);
		} else {
			size_t len = strcspn(line, "{ ");
			size_t flen = strlen(family);

			assert_true(len >= flen);
			assert_int_equal(strncmp(line, family, flen), 0);
			assert_true(len == flen || strncmp(line + flen, "_bucket{", 8) == 0 ||
			    strncmp(line + flen, "_sum{", 5) == 0 ||
			    strncmp(line + flen, "_count{", 7) == 0);
		}
		line = end + 1;
	}
	return nseen;
}

static void
test_sample(void **state)
{
	struct snapshot s;
	const char *m;

	(void)state;
	sample_snapshot(&s);
	m = metrics(&s);
	assert_int_equal(check_structure(m), 28);	/* families */
	assert_non_null(strstr(m,
	    "# TYPE sockd_worker_abnormal_exits_total counter\n"
	    "sockd_worker_abnormal_exits_total{service=\"web\",reason=\"status\",code=\"1\"} 2\n"
	    "sockd_worker_abnormal_exits_total{service=\"web\",reason=\"status\",code=\"70\"} 1\n"
	    "sockd_worker_abnormal_exits_total{service=\"web\",reason=\"signal\",code=\"SIGKILL\"} 1\n"
	    "sockd_worker_abnormal_exits_total{service=\"web\",reason=\"signal\",code=\"SIGSEGV\"} 3\n"
	    "# HELP sockd_backoff "));
	assert_non_null(strstr(m,
	    "sockd_last_reload_timestamp_seconds 1767224875.000\n"));
	assert_non_null(strstr(m, "sockd_last_reload_success 0\n"));
	assert_non_null(strstr(m, "sockd_reloads_total{result=\"failed\"} 1\n"));
	assert_non_null(strstr(m, "sockd_service_configured{service=\"old\"} 0\n"));
	assert_non_null(strstr(m, "sockd_workers{service=\"old\",state=\"draining\"} 1\n"));
	assert_non_null(strstr(m, "sockd_backoff{service=\"web\"} 1\n"
	    "sockd_backoff{service=\"old\"} 0\n"));
	assert_non_null(strstr(m, "sockd_backoff_failed_starts{service=\"web\"} 3\n"));
	assert_non_null(strstr(m, "sockd_backoff_seconds_total{service=\"web\"} 4.250\n"));
	assert_non_null(strstr(m,
	    "sockd_connections_limited_total{service=\"web\",limit=\"max_connections\"} 3\n"));
	/* Every reason for every service, 0 or not, removed ones too. */
	assert_non_null(strstr(m,
	    "# TYPE sockd_connections_refused_total counter\n"
	    "sockd_connections_refused_total{service=\"echo\",reason=\"rule\"} 0\n"
	    "sockd_connections_refused_total{service=\"echo\",reason=\"per_ip\"} 0\n"
	    "sockd_connections_refused_total{service=\"echo\",reason=\"rate\"} 40\n"
	    "sockd_connections_refused_total{service=\"echo\",reason=\"full\"} 2\n"
	    "sockd_connections_refused_total{service=\"echo\",reason=\"proxy\"} 0\n"
	    "sockd_connections_refused_total{service=\"echo\",reason=\"truncated\"} 0\n"
	    "sockd_connections_refused_total{service=\"echo\",reason=\"reply\"} 0\n"
	    "sockd_connections_refused_total{service=\"echo\",reason=\"no_peer\"} 0\n"
	    "sockd_connections_refused_total{service=\"echo\",reason=\"send\"} 0\n"
	    "sockd_connections_refused_total{service=\"web\",reason=\"rule\"} 12\n"
	    "sockd_connections_refused_total{service=\"web\",reason=\"per_ip\"} 3\n"
	    "sockd_connections_refused_total{service=\"web\",reason=\"rate\"} 0\n"
	    "sockd_connections_refused_total{service=\"web\",reason=\"full\"} 0\n"
	    "sockd_connections_refused_total{service=\"web\",reason=\"proxy\"} 1\n"
	    "sockd_connections_refused_total{service=\"web\",reason=\"truncated\"} 0\n"
	    "sockd_connections_refused_total{service=\"web\",reason=\"reply\"} 0\n"
	    "sockd_connections_refused_total{service=\"web\",reason=\"no_peer\"} 0\n"
	    "sockd_connections_refused_total{service=\"web\",reason=\"send\"} 0\n"
	    "sockd_connections_refused_total{service=\"old\",reason=\"rule\"} 0\n"
	    "sockd_connections_refused_total{service=\"old\",reason=\"per_ip\"} 0\n"
	    "sockd_connections_refused_total{service=\"old\",reason=\"rate\"} 0\n"
	    "sockd_connections_refused_total{service=\"old\",reason=\"full\"} 0\n"
	    "sockd_connections_refused_total{service=\"old\",reason=\"proxy\"} 0\n"
	    "sockd_connections_refused_total{service=\"old\",reason=\"truncated\"} 0\n"
	    "sockd_connections_refused_total{service=\"old\",reason=\"reply\"} 0\n"
	    "sockd_connections_refused_total{service=\"old\",reason=\"no_peer\"} 0\n"
	    "sockd_connections_refused_total{service=\"old\",reason=\"send\"} 0\n"
	    "# HELP sockd_messages_total "));
	/* Cumulative buckets; the count is the +Inf bucket. */
	assert_non_null(strstr(m,
	    "sockd_connection_duration_seconds_bucket{service=\"echo\",le=\"0.001\"} 10\n"
	    "sockd_connection_duration_seconds_bucket{service=\"echo\",le=\"0.005\"} 210\n"));
	assert_non_null(strstr(m,
	    "sockd_connection_duration_seconds_bucket{service=\"echo\",le=\"300\"} 210\n"
	    "sockd_connection_duration_seconds_bucket{service=\"echo\",le=\"+Inf\"} 212\n"
	    "sockd_connection_duration_seconds_sum{service=\"echo\"} 900.000000005\n"
	    "sockd_connection_duration_seconds_count{service=\"echo\"} 212\n"));
	/* The http histogram: web only, and all of it at the end. */
	assert_non_null(strstr(m,
	    "# TYPE sockd_http_request_duration_seconds histogram\n"
	    "sockd_http_request_duration_seconds_bucket{service=\"web\",le=\"0.0001\"} 0\n"
	    "sockd_http_request_duration_seconds_bucket{service=\"web\",le=\"0.0005\"} 60\n"
	    "sockd_http_request_duration_seconds_bucket{service=\"web\",le=\"0.001\"} 80\n"));
	assert_non_null(strstr(m,
	    "sockd_http_request_duration_seconds_bucket{service=\"web\",le=\"+Inf\"} 80\n"
	    "sockd_http_request_duration_seconds_sum{service=\"web\"} 0.025\n"
	    "sockd_http_request_duration_seconds_count{service=\"web\"} 80\n"));
	assert_int_equal(strlen(strstr(m, "sockd_http_request_duration_seconds_count")),
	    strlen("sockd_http_request_duration_seconds_count{service=\"web\"} 80\n"));
	assert_null(strstr(m, "sockd_http_request_duration_seconds_bucket{service=\"echo\""));
	assert_null(strstr(m, "sockd_http_request_duration_seconds_bucket{service=\"old\""));
	/* No exit cause that did not happen, for any service. */
	assert_null(strstr(m, "abnormal_exits_total{service=\"echo\""));
	assert_null(strstr(m, "code=\"0\""));
	snapshot_free(&s);
}

/* Label values: backslash, quote and newline escaped; stray bytes U+FFFD. */
static void
test_escape(void **state)
{
	struct snapshot s;
	const char *m;

	(void)state;
	one_service(&s);
	snprintf(s.services[0].name, sizeof(s.services[0].name), "a\"b\\c\nd\xff\xc3\xa9");
	snprintf(s.version, sizeof(s.version), "1.4\"\\");
	s.started = NAN;
	s.services[0].backoff_seconds = INFINITY;
	s.services[0].exit_signal[SIGABRT] = 1;
	m = metrics(&s);
	check_structure(m);
	assert_non_null(strstr(m, "sockd_build_info{version=\"1.4\\\"\\\\\"} 1\n"));
	assert_non_null(strstr(m, "sockd_start_time_seconds 0.000\n"));
	assert_non_null(strstr(m,
	    "sockd_connections_accepted_total{service=\"a\\\"b\\\\c\\nd\xef\xbf\xbd\xc3\xa9\"} 3\n"));
	assert_non_null(strstr(m,
	    "sockd_backoff_seconds_total{service=\"a\\\"b\\\\c\\nd\xef\xbf\xbd\xc3\xa9\"} 0.000\n"));
	assert_non_null(strstr(m, "sockd_worker_abnormal_exits_total{service=\"a\\\"b\\\\c\\nd"
	    "\xef\xbf\xbd\xc3\xa9\",reason=\"signal\",code=\"SIGABRT\"} 1\n"));
	assert_non_null(strstr(m,
	    "sockd_connection_duration_seconds_bucket{service=\"a\\\"b\\\\c\\nd\xef\xbf\xbd\xc3\xa9\",le=\"+Inf\"} 3\n"));
	assert_null(strstr(m, "nan"));
	assert_null(strstr(m, "inf\n"));
	snapshot_free(&s);
}

/* Past the ceiling: overflow set, the text a prefix of the whole, in bounds. */
static void
test_overflow(void **state)
{
	struct snapshot s;
	struct strbuf full = { 0 };

	(void)state;
	sample_snapshot(&s);
	metrics_format(&full, &s);
	assert_false(full.overflow);
	for (size_t max = 1; max < full.len; max = max < 64 ? max + 1 : max + 97) {
		struct strbuf b = { .max = max };

		metrics_format(&b, &s);
		assert_true(b.overflow);
		assert_true(b.len <= max);
		assert_true(b.len == 0 || memcmp(b.p, full.p, b.len) == 0);
		strbuf_free(&b);
	}
	{
		struct strbuf b = { .max = full.len - 1 };

		metrics_format(&b, &s);
		assert_true(b.overflow);
		strbuf_free(&b);
		b.max = full.len;
		metrics_format(&b, &s);
		assert_false(b.overflow);
		assert_string_equal(b.p, full.p);
		strbuf_free(&b);
	}
	strbuf_free(&full);
	snapshot_free(&s);
}

static int
teardown(void **state)
{
	(void)state;
	strbuf_free(&out);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_one, teardown),
		cmocka_unit_test_teardown(test_zero, teardown),
		cmocka_unit_test_teardown(test_sample, teardown),
		cmocka_unit_test_teardown(test_escape, teardown),
		cmocka_unit_test_teardown(test_overflow, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
