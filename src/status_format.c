/*
 * status_format.c - `sockd status` as text and as JSON, from a snapshot.
 *
 * The text is for a terminal 80 columns wide: a two-line header about the
 * daemon, then two tables of services (how it serves; its generation and
 * how it fails or turns clients away: one table would not fit), a line per
 * service that refused connections saying why (a column per reason would
 * not fit either) and, with -w, a table of workers. Column widths come from the content, so a
 * long name widens its column rather than breaking the alignment, and
 * control characters in names or errors are shown as '?' so that no
 * configured name can move the cursor or forge a row.
 *
 * The JSON document is schema 1 of docs/MONITORING.md: pretty-printed
 * with a 2-space indent (operators read it too), the same keys in every
 * document, integers as integers, other numbers with 3 decimals and never
 * NaN or Inf, so that any JSON parser takes it.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sig.h"
#include "util.h"
#include "status_format.h"

#define CELL_MAX 112			/* a name (63), " (removed)" and room */
#define COLS_MAX 8
#define JSON_DEPTH 8

static bool
status_want_service(const struct snapshot *s, const struct status_opts *o, size_t i)
{
	return o->service == NULL || strcmp(s->services[i].name, o->service) == 0;
}

bool
status_format_find(const struct snapshot *s, const char *name)
{
	const struct status_opts o = { .service = name };

	for (size_t i = 0; i < s->n_services; i++)
		if (status_want_service(s, &o, i))
			return true;
	return false;
}

static bool
status_want_worker(const struct snapshot *s, const struct status_opts *o, size_t i)
{
	size_t svc = s->workers[i].service;

	return svc < s->n_services && status_want_service(s, o, svc);
}

/* A finite, non-negative number of seconds, small enough to convert. */
static double
status_clamp(double v)
{
	if (!isfinite(v) || v < 0)
		return 0;
	return v < 1e15 ? v : 1e15;
}

/* "4.2s", "42s", "12m 5s", "3h 7m", "3d 4h": two units at most, cut down. */
static void
status_age(char *buf, size_t size, double secs)
{
	double c = status_clamp(secs);
	long long t = (long long)c;

	if (c < 10) {
		long long tenths = (long long)(c * 10);

		snprintf(buf, size, "%lld.%llds", tenths / 10, tenths % 10);
	} else if (t < 60)
		snprintf(buf, size, "%llds", t);
	else if (t < 3600)
		snprintf(buf, size, "%lldm %llds", t / 60, t % 60);
	else if (t < 86400)
		snprintf(buf, size, "%lldh %lldm", t / 3600, t % 3600 / 60);
	else
		snprintf(buf, size, "%lldd %lldh", t / 86400, t % 86400 / 3600);
}

/* A rate as a person reads it: "0.5", "12.4", "340". */
static int
status_rate(char *buf, size_t size, double r)
{
	r = status_clamp(r);
	return snprintf(buf, size, r < 100 ? "%.1f" : "%.0f", r);
}

/* Connections it closed at once, all reasons; a sum of counters saturates
 * rather than wrap, so that it never reads as fewer than one of them. */
static uint64_t
status_refused_total(const struct snapshot_service *svc)
{
	uint64_t t = 0;

	for (int r = 0; r < SNAPSHOT_REFUSALS; r++)
		t = svc->refused[r] > UINT64_MAX - t ? UINT64_MAX : t + svc->refused[r];
	return t;
}

static const char *
status_s(unsigned long long n)
{
	return n == 1 ? "" : "s";
}

/*
 * SRC for a terminal: control characters and bytes that are not UTF-8
 * become '?'. Returns the width in characters (each UTF-8 sequence one).
 */
static size_t
status_clean(char *dst, size_t size, const char *src)
{
	size_t len = 0, width = 0;

	while (*src != '\0') {
		size_t n = strbuf_utf8_len(src);
		unsigned char ch = (unsigned char)*src;

		if (n == 0 || ch < 0x20 || ch == 0x7f) {
			if (len + 1 >= size)
				break;
			dst[len++] = '?';
			src++;
		} else {
			if (len + n >= size)
				break;
			memcpy(dst + len, src, n);
			len += n;
			src += n;
		}
		width++;
	}
	dst[len] = '\0';
	return width;
}

static void
status_service_label(char *buf, size_t size, const struct snapshot_service *svc)
{
	char name[SNAPSHOT_NAME_MAX];

	status_clean(name, sizeof(name), svc->name);
	snprintf(buf, size, "%s%s", name, svc->configured ? "" : " (removed)");
}

/* ---- text tables ------------------------------------------------------- */

struct status_col {
	const char *head;
	bool right;			/* numbers: aligned on the right */
};

typedef void status_fill_fn(const struct snapshot *, size_t, char cell[][CELL_MAX]);
typedef bool status_want_fn(const struct snapshot *, const struct status_opts *, size_t);

static size_t
status_width(const char *s)
{
	size_t w = 0;

	for (; *s != '\0'; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
}

static void
status_pad(struct strbuf *b, size_t n)
{
	static const char spaces[] = "                                ";

	while (n > 0) {
		size_t k = n < sizeof(spaces) - 1 ? n : sizeof(spaces) - 1;

		strbuf_add(b, spaces, k);
		n -= k;
	}
}

/* One row: columns two spaces apart, no trailing blanks. */
static void
status_row(struct strbuf *b, const struct status_col *cols, size_t ncols,
    const size_t *width, char cell[][CELL_MAX])
{
	for (size_t c = 0; c < ncols; c++) {
		size_t w = status_width(cell[c]);
		size_t pad = width[c] > w ? width[c] - w : 0;

		if (c > 0)
			strbuf_add(b, "  ", 2);
		if (cols[c].right)
			status_pad(b, pad);
		strbuf_puts(b, cell[c]);
		if (!cols[c].right && c + 1 < ncols)
			status_pad(b, pad);
	}
	strbuf_add(b, "\n", 1);
}

/* The rows WANT picks of the COUNT items, FILL making their cells. */
static void
status_table(struct strbuf *b, const struct snapshot *s, const struct status_opts *o,
    const struct status_col *cols, size_t ncols, size_t count, status_want_fn *want,
    status_fill_fn *fill)
{
	char cell[COLS_MAX][CELL_MAX];
	size_t width[COLS_MAX];

	for (size_t c = 0; c < ncols; c++) {
		snprintf(cell[c], CELL_MAX, "%s", cols[c].head);
		width[c] = status_width(cell[c]);
	}
	for (size_t i = 0; i < count; i++) {
		if (!want(s, o, i))
			continue;
		fill(s, i, cell);
		for (size_t c = 0; c < ncols; c++) {
			size_t w = status_width(cell[c]);

			if (w > width[c])
				width[c] = w;
		}
	}
	for (size_t c = 0; c < ncols; c++)
		snprintf(cell[c], CELL_MAX, "%s", cols[c].head);
	status_row(b, cols, ncols, width, cell);
	for (size_t i = 0; i < count; i++) {
		if (!want(s, o, i))
			continue;
		fill(s, i, cell);
		status_row(b, cols, ncols, width, cell);
	}
}

static const struct status_col status_serve_cols[] = {
	{ "SERVICE", false }, { "MODEL", false }, { "WORKERS", false }, { "CONNS", true },
	{ "ACCEPTED", true }, { "REQ/S 1/10/60", true },
};

/*
 * "4 (1 busy, 3 idle)", "3 of 4 (1 busy, 1 idle, 1 starting)", "0 of 2",
 * "1 (1 draining)": how many live (and, when that is not all, how many it
 * should have), then by state; busy and idle always unless both are 0.
 */
static void
status_workers_cell(char *buf, size_t size, const struct snapshot_service *svc)
{
	const unsigned *w = svc->workers;
	unsigned long long live = 0;
	const char *sep = " (";
	size_t len;

	for (int st = 0; st < SNAPSHOT_STATES; st++)
		live += w[st];
	if (svc->configured && svc->desired >= 0 && live != (unsigned long long)svc->desired)
		snprintf(buf, size, "%llu of %d", live, svc->desired);
	else
		snprintf(buf, size, "%llu", live);
	if (live == 0)
		return;
	for (int i = 0; i < SNAPSHOT_STATES; i++) {
		static const int order[] = { SNAPSHOT_BUSY, SNAPSHOT_IDLE, SNAPSHOT_STARTING,
			SNAPSHOT_DRAINING };
		int st = order[i];
		bool always = i < 2 && w[SNAPSHOT_BUSY] + w[SNAPSHOT_IDLE] > 0;

		if (w[st] == 0 && !always)
			continue;
		len = strlen(buf);
		snprintf(buf + len, size - len, "%s%u %s", sep, w[st], snapshot_state_name[st]);
		sep = ", ";
	}
	len = strlen(buf);
	snprintf(buf + len, size - len, ")");
}

static void
status_serve_fill(const struct snapshot *s, size_t i, char cell[][CELL_MAX])
{
	const struct snapshot_service *svc = &s->services[i];
	int n;

	status_service_label(cell[0], CELL_MAX, svc);
	status_clean(cell[1], CELL_MAX, svc->model);
	status_workers_cell(cell[2], CELL_MAX, svc);
	snprintf(cell[3], CELL_MAX, "%" PRIu64, svc->active);
	snprintf(cell[4], CELL_MAX, "%" PRIu64, svc->accepted);
	n = 0;
	for (int r = 0; r < 3; r++) {
		if (r > 0)
			cell[5][n++] = '/';
		n += status_rate(cell[5] + n, (size_t)(CELL_MAX - n), svc->rate[r]);
	}
}

static const struct status_col status_fail_cols[] = {
	{ "SERVICE", false }, { "GEN", true }, { "LIMITED", true }, { "REFUSED", true },
	{ "STARTS", true }, { "CRASHES", true }, { "BACKOFF", false },
};

/* BACKOFF is "3 failed starts, 4.2s" (the time in backoff so far): with
 * REFUSED, a longer cell would take a typical row past 80 columns. */

static void
status_fail_fill(const struct snapshot *s, size_t i, char cell[][CELL_MAX])
{
	const struct snapshot_service *svc = &s->services[i];
	char age[32];

	status_service_label(cell[0], CELL_MAX, svc);
	snprintf(cell[1], CELL_MAX, "%" PRIu32, svc->generation);
	snprintf(cell[2], CELL_MAX, "%" PRIu64, svc->limited_max_connections);
	snprintf(cell[3], CELL_MAX, "%" PRIu64, status_refused_total(svc));
	snprintf(cell[4], CELL_MAX, "%" PRIu64, svc->worker_starts);
	snprintf(cell[5], CELL_MAX, "%" PRIu64, svc->worker_crashes);
	if (!svc->backoff) {
		snprintf(cell[6], CELL_MAX, "-");
		return;
	}
	status_age(age, sizeof(age), svc->backoff_seconds);
	snprintf(cell[6], CELL_MAX, "%u failed start%s, %s", svc->backoff_failures,
	    status_s(svc->backoff_failures), age);
}

/*
 * "web refused: 12 rule, 3 per_ip": why, for each service whose REFUSED is
 * not 0, the reasons seen in snapshot.h's order; nothing when none refused,
 * so that a quiet daemon's status stays as short as it was.
 */
static void
status_refusals(struct strbuf *b, const struct snapshot *s, const struct status_opts *o)
{
	char label[CELL_MAX];
	bool any = false;

	for (size_t i = 0; i < s->n_services; i++) {
		const struct snapshot_service *svc = &s->services[i];
		const char *sep = ": ";

		if (!status_want_service(s, o, i) || status_refused_total(svc) == 0)
			continue;
		if (!any)
			strbuf_add(b, "\n", 1);
		any = true;
		status_service_label(label, sizeof(label), svc);
		strbuf_printf(b, "%s refused", label);
		for (int r = 0; r < SNAPSHOT_REFUSALS; r++) {
			if (svc->refused[r] == 0)
				continue;
			strbuf_printf(b, "%s%" PRIu64 " %s", sep, svc->refused[r],
			    snapshot_refusal_name[r]);
			sep = ", ";
		}
		strbuf_add(b, "\n", 1);
	}
}

static const struct status_col status_worker_cols[] = {
	{ "SERVICE", false }, { "PID", true }, { "GEN", true }, { "STATE", false },
	{ "CONNS", true }, { "SERVED", true }, { "STARTED", true }, { "HEARTBEAT", true },
};

static void
status_worker_fill(const struct snapshot *s, size_t i, char cell[][CELL_MAX])
{
	const struct snapshot_worker *w = &s->workers[i];
	char age[32];

	status_service_label(cell[0], CELL_MAX, &s->services[w->service]);
	snprintf(cell[1], CELL_MAX, "%ld", (long)w->pid);
	snprintf(cell[2], CELL_MAX, "%" PRIu32, w->generation);
	snprintf(cell[3], CELL_MAX, "%s",
	    (unsigned)w->state < SNAPSHOT_STATES ? snapshot_state_name[w->state] : "?");
	snprintf(cell[4], CELL_MAX, "%" PRIu32, w->current);
	snprintf(cell[5], CELL_MAX, "%" PRIu64, w->served);
	status_age(age, sizeof(age), s->now - w->started);
	snprintf(cell[6], CELL_MAX, "%s ago", age);
	status_age(age, sizeof(age), w->heartbeat_age);
	snprintf(cell[7], CELL_MAX, "%s ago", age);
}

/* "upgrades: 1 ok, 0 failed; last 2m ago, from 1.1": only once one was tried. */
static void
status_upgrades(struct strbuf *b, const struct snapshot *s)
{
	char text[SNAPSHOT_ERROR_MAX], age[32];

	if (s->upgrades_ok + s->upgrades_failed == 0)
		return;
	strbuf_printf(b, "upgrades: %" PRIu64 " ok, %" PRIu64 " failed", s->upgrades_ok,
	    s->upgrades_failed);
	status_age(age, sizeof(age), s->now - s->last_upgrade);
	if (s->last_upgrade_ok) {
		status_clean(text, sizeof(text), s->upgraded_from);
		strbuf_printf(b, "; last %s ago, from %s\n", age, text);
	} else {
		status_clean(text, sizeof(text), s->last_upgrade_error);
		strbuf_printf(b, "; last %s ago, failed: %s\n", age, text);
	}
}

/* "sockd 1.2 (pid 42), up 3d 4h, generation 7", the upgrades and the reloads. */
static void
status_header(struct strbuf *b, const struct snapshot *s)
{
	char version[sizeof(s->version)], err[SNAPSHOT_ERROR_MAX], age[32];

	status_clean(version, sizeof(version), s->version);
	status_age(age, sizeof(age), s->now - s->started);
	strbuf_printf(b, "sockd %s (pid %ld), up %s, generation %" PRIu32 "\n", version,
	    (long)s->pid, age, s->generation);
	status_upgrades(b, s);
	if (s->reloads == 0) {
		strbuf_puts(b, "reloads: none\n");
		return;
	}
	strbuf_printf(b, "reloads: %" PRIu64 " ok, %" PRIu64 " failed", s->reloads_ok,
	    s->reloads_failed);
	if (s->last_reload > 0) {
		status_age(age, sizeof(age), s->now - s->last_reload);
		strbuf_printf(b, "; last %s ago, ", age);
		if (s->last_reload_ok)
			strbuf_puts(b, "ok");
		else {
			status_clean(err, sizeof(err), s->last_reload_error);
			strbuf_printf(b, "failed%s%s", err[0] != '\0' ? ": " : "", err);
		}
	}
	strbuf_add(b, "\n", 1);
}

int
status_format_text(struct strbuf *b, const struct snapshot *s, const struct status_opts *o)
{
	bool any = false;

	if (o->service != NULL && !status_format_find(s, o->service))
		return -1;
	status_header(b, s);
	strbuf_add(b, "\n", 1);
	if (s->n_services == 0) {
		strbuf_puts(b, "no service\n");
		return 0;
	}
	status_table(b, s, o, status_serve_cols, ARRAY_SIZE(status_serve_cols), s->n_services,
	    status_want_service, status_serve_fill);
	strbuf_add(b, "\n", 1);
	status_table(b, s, o, status_fail_cols, ARRAY_SIZE(status_fail_cols), s->n_services,
	    status_want_service, status_fail_fill);
	status_refusals(b, s, o);
	if (!o->workers)
		return 0;
	strbuf_add(b, "\n", 1);
	for (size_t i = 0; i < s->n_workers; i++)
		any |= status_want_worker(s, o, i);
	if (any)
		status_table(b, s, o, status_worker_cols, ARRAY_SIZE(status_worker_cols),
		    s->n_workers, status_want_worker, status_worker_fill);
	else
		strbuf_puts(b, "no worker\n");
	return 0;
}

/* ---- JSON -------------------------------------------------------------- */

/* Where the writer is: MORE[d] once depth d has an element (a comma next). */
struct status_json {
	struct strbuf *b;
	int depth;
	bool more[JSON_DEPTH];
};

/* The separator, the newline and indent, and "KEY": (none in an array). */
static void
json_item(struct status_json *j, const char *key)
{
	if (j->more[j->depth])
		strbuf_add(j->b, ",", 1);
	j->more[j->depth] = true;
	strbuf_add(j->b, "\n", 1);
	status_pad(j->b, 2 * (size_t)j->depth);
	if (key != NULL) {
		strbuf_json_string(j->b, key);
		strbuf_add(j->b, ": ", 2);
	}
}

static void
json_open(struct status_json *j, const char *key, char bracket)
{
	if (j->depth > 0)
		json_item(j, key);
	strbuf_add(j->b, &bracket, 1);
	if (j->depth + 1 < JSON_DEPTH)
		j->depth++;
	j->more[j->depth] = false;
}

static void
json_close(struct status_json *j, char bracket)
{
	bool had = j->more[j->depth];

	if (j->depth > 0)
		j->depth--;
	if (had) {
		strbuf_add(j->b, "\n", 1);
		status_pad(j->b, 2 * (size_t)j->depth);
	}
	strbuf_add(j->b, &bracket, 1);
}

static void
json_u64(struct status_json *j, const char *key, uint64_t v)
{
	json_item(j, key);
	strbuf_printf(j->b, "%" PRIu64, v);
}

static void
json_i64(struct status_json *j, const char *key, int64_t v)
{
	json_item(j, key);
	strbuf_printf(j->b, "%" PRId64, v);
}

static void
json_double(struct status_json *j, const char *key, double v)
{
	json_item(j, key);
	strbuf_printf(j->b, "%.3f", isfinite(v) ? v : 0.0);
}

static void
json_bool(struct status_json *j, const char *key, bool v)
{
	json_item(j, key);
	strbuf_puts(j->b, v ? "true" : "false");
}

static void
json_str(struct status_json *j, const char *key, const char *v)
{
	json_item(j, key);
	strbuf_json_string(j->b, v);
}

static void
json_null(struct status_json *j, const char *key)
{
	json_item(j, key);
	strbuf_puts(j->b, "null");
}

/* {"count", "sum" (s), "bounds" (s, upper), "buckets" (per bucket, not
 * cumulative; one more than bounds: the last is past the last bound)} */
static void
json_hist(struct status_json *j, const char *key, const struct snapshot_hist *h)
{
	json_open(j, key, '{');
	json_u64(j, "count", h->count);
	json_item(j, "sum");
	strbuf_ns_seconds(j->b, h->sum_ns);
	json_item(j, "bounds");
	strbuf_add(j->b, "[", 1);
	for (size_t i = 0; i < SNAPSHOT_BUCKETS - 1; i++) {
		if (i > 0)
			strbuf_add(j->b, ", ", 2);
		strbuf_ns_seconds(j->b, (uint64_t)snapshot_bounds_ns[i]);
	}
	strbuf_add(j->b, "]", 1);
	json_item(j, "buckets");
	strbuf_add(j->b, "[", 1);
	for (size_t i = 0; i < SNAPSHOT_BUCKETS; i++)
		strbuf_printf(j->b, "%s%" PRIu64, i > 0 ? ", " : "", h->bucket[i]);
	strbuf_add(j->b, "]", 1);
	json_close(j, '}');
}

static void
json_crashes(struct status_json *j, const struct snapshot_service *svc)
{
	char key[32];

	json_open(j, "crashes", '{');
	json_u64(j, "total", svc->worker_crashes);
	json_open(j, "by_status", '{');
	for (int i = 1; i < SNAPSHOT_STATUSES; i++) {
		if (svc->exit_status[i] == 0)
			continue;
		snprintf(key, sizeof(key), "%d", i);
		json_u64(j, key, svc->exit_status[i]);
	}
	json_close(j, '}');
	json_open(j, "by_signal", '{');
	for (int i = 1; i < SNAPSHOT_SIGNALS; i++)
		if (svc->exit_signal[i] != 0)
			json_u64(j, sig_name(i, key, sizeof(key)), svc->exit_signal[i]);
	json_close(j, '}');
	json_close(j, '}');
}

/* Every reason always, 0 or not, and their total. */
static void
json_refused(struct status_json *j, const struct snapshot_service *svc)
{
	json_open(j, "refused", '{');
	for (int r = 0; r < SNAPSHOT_REFUSALS; r++)
		json_u64(j, snapshot_refusal_name[r], svc->refused[r]);
	json_u64(j, "total", status_refused_total(svc));
	json_close(j, '}');
}

static void
json_service(struct status_json *j, const struct snapshot_service *svc)
{
	json_open(j, NULL, '{');
	json_str(j, "name", svc->name);
	json_str(j, "model", svc->model);
	json_bool(j, "configured", svc->configured);
	json_u64(j, "generation", svc->generation);
	json_open(j, "workers", '{');
	json_i64(j, "desired", svc->desired);
	for (int st = 0; st < SNAPSHOT_STATES; st++)
		json_u64(j, snapshot_state_name[st], svc->workers[st]);
	json_close(j, '}');
	json_open(j, "connections", '{');
	json_u64(j, "active", svc->active);
	json_u64(j, "accepted", svc->accepted);
	json_u64(j, "closed", svc->closed);
	json_close(j, '}');
	json_u64(j, "messages", svc->messages);
	json_open(j, "rate", '{');
	json_double(j, "1s", svc->rate[0]);
	json_double(j, "10s", svc->rate[1]);
	json_double(j, "60s", svc->rate[2]);
	json_close(j, '}');
	json_open(j, "bytes", '{');
	json_u64(j, "in", svc->bytes_in);
	json_u64(j, "out", svc->bytes_out);
	json_close(j, '}');
	json_open(j, "limited", '{');
	json_u64(j, "max_connections", svc->limited_max_connections);
	json_close(j, '}');
	json_refused(j, svc);
	json_u64(j, "worker_starts", svc->worker_starts);
	json_crashes(j, svc);
	json_u64(j, "hung_kills", svc->hung_kills);
	json_u64(j, "recycles", svc->recycles);
	json_open(j, "backoff", '{');
	json_bool(j, "active", svc->backoff);
	json_u64(j, "failures", svc->backoff_failures);
	json_double(j, "seconds", svc->backoff_seconds);
	json_close(j, '}');
	json_hist(j, "duration", &svc->duration);
	if (svc->http)
		json_hist(j, "latency", &svc->latency);
	else
		json_null(j, "latency");
	json_close(j, '}');
}

static void
json_worker(struct status_json *j, const struct snapshot *s, const struct snapshot_worker *w)
{
	json_open(j, NULL, '{');
	json_i64(j, "pid", w->pid);
	json_str(j, "service", s->services[w->service].name);
	json_u64(j, "generation", w->generation);
	json_str(j, "state",
	    (unsigned)w->state < SNAPSHOT_STATES ? snapshot_state_name[w->state] : "unknown");
	json_u64(j, "connections", w->current);
	json_u64(j, "served", w->served);
	json_u64(j, "messages", w->messages);
	json_double(j, "started", w->started);
	json_double(j, "heartbeat_age", w->heartbeat_age);
	json_close(j, '}');
}

void
status_format_json(struct strbuf *b, const struct snapshot *s, const struct status_opts *o)
{
	struct status_json j = { .b = b };

	json_open(&j, NULL, '{');
	json_u64(&j, "schema", SNAPSHOT_SCHEMA);
	json_str(&j, "version", s->version);
	json_i64(&j, "pid", s->pid);
	json_double(&j, "now", s->now);
	json_double(&j, "started", s->started);
	json_double(&j, "uptime", status_clamp(s->now - s->started));
	json_u64(&j, "generation", s->generation);
	json_open(&j, "reloads", '{');
	json_u64(&j, "attempted", s->reloads);
	json_u64(&j, "ok", s->reloads_ok);
	json_u64(&j, "failed", s->reloads_failed);
	if (s->last_reload > 0) {
		json_double(&j, "last", s->last_reload);
		json_bool(&j, "last_ok", s->last_reload_ok);
	} else {
		json_null(&j, "last");
		json_null(&j, "last_ok");
	}
	if (s->last_reload > 0 && !s->last_reload_ok)
		json_str(&j, "last_error", s->last_reload_error);
	else
		json_null(&j, "last_error");
	json_close(&j, '}');
	json_open(&j, "upgrades", '{');
	json_u64(&j, "ok", s->upgrades_ok);
	json_u64(&j, "failed", s->upgrades_failed);
	if (s->last_upgrade > 0) {
		json_double(&j, "last", s->last_upgrade);
		json_bool(&j, "last_ok", s->last_upgrade_ok);
	} else {
		json_null(&j, "last");
		json_null(&j, "last_ok");
	}
	if (s->last_upgrade > 0 && s->last_upgrade_ok)
		json_str(&j, "from", s->upgraded_from);
	else
		json_null(&j, "from");
	if (s->last_upgrade > 0 && !s->last_upgrade_ok)
		json_str(&j, "last_error", s->last_upgrade_error);
	else
		json_null(&j, "last_error");
	json_close(&j, '}');
	json_open(&j, "services", '[');
	for (size_t i = 0; i < s->n_services; i++)
		if (status_want_service(s, o, i))
			json_service(&j, &s->services[i]);
	json_close(&j, ']');
	if (o->workers) {
		json_open(&j, "workers", '[');
		for (size_t i = 0; i < s->n_workers; i++)
			if (status_want_worker(s, o, i))
				json_worker(&j, s, &s->workers[i]);
		json_close(&j, ']');
	}
	json_close(&j, '}');
	strbuf_add(b, "\n", 1);
}
