/*
 * status_line.c - the STATUS= line: one line per daemon, in words
 * ("1 worker", "2 conns"), that names every service in backoff or without
 * a worker. While the services fit in the line each has its own part
 * ("web: 2 workers (1 busy, 1 idle), 3 conns, 12 req/s"); past that the
 * line sums them up and names only the ones in trouble, so that a daemon
 * with many services still shows something readable, and the line never
 * breaks the notify protocol (no control characters).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "status_line.h"

/* BUF filled so far; FULL once something did not fit (and was cut). */
struct status_line_out {
	char *buf;
	size_t size;
	size_t len;
	bool full;
};

static void status_line_add(struct status_line_out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
status_line_add(struct status_line_out *o, const char *fmt, ...)
{
	size_t room = o->size - o->len;
	va_list ap;
	int r;

	if (o->full)
		return;
	va_start(ap, fmt);
	r = vsnprintf(o->buf + o->len, room, fmt, ap);
	va_end(ap);
	if (r < 0)
		r = 0;
	if ((size_t)r >= room) {
		o->full = true;
		o->len = o->size - 1;
	} else {
		o->len += (size_t)r;
	}
	o->buf[o->len] = '\0';
}

static const char *
status_line_s(unsigned long n)
{
	return n == 1 ? "" : "s";
}

/* "web: 2 workers (1 busy, 1 idle), 3 conns, 12 req/s" or "web: no worker ..." */
static void
status_line_service(struct status_line_out *o, const struct status_line_service *s)
{
	unsigned workers = s->busy + s->idle;

	status_line_add(o, "%s: ", s->name);
	if (workers == 0) {
		status_line_add(o, "no worker");
		if (s->failures > 0)
			status_line_add(o, " (backoff after %u failed start%s)", s->failures,
			    status_line_s(s->failures));
		else if (s->ondemand)
			status_line_add(o, " (on demand)");
		return;
	}
	status_line_add(o, "%u worker%s (%u busy, %u idle), %u conn%s, %.0f req/s", workers,
	    status_line_s(workers), s->busy, s->idle, s->conns, status_line_s(s->conns), s->rate);
	if (s->failures > 0)
		status_line_add(o, ", backoff after %u failed start%s", s->failures,
		    status_line_s(s->failures));
}

static bool
status_line_in_backoff(const struct status_line_service *s)
{
	return s->failures > 0;
}

/* No worker, and not because it is an idle ondemand service or backs off. */
static bool
status_line_workerless(const struct status_line_service *s)
{
	return s->busy + s->idle == 0 && s->failures == 0 && !s->ondemand;
}

/* "; 2 in backoff: a, b": as many names as fit, then "...". */
static void
status_line_names(struct status_line_out *o, const struct status_line_service *svc, size_t n,
    bool (*pick)(const struct status_line_service *), const char *what)
{
	static const char more[] = ", ...";
	const char *sep = ": ";
	size_t count = 0, shown = 0;

	for (size_t i = 0; i < n; i++)
		count += pick(&svc[i]);
	if (count == 0)
		return;
	status_line_add(o, "; %zu %s", count, what);
	for (size_t i = 0; i < n; i++) {
		size_t need;

		if (!pick(&svc[i]))
			continue;
		need = strlen(sep) + strlen(svc[i].name) + (++shown < count ? strlen(more) : 0);
		if (o->len + need >= o->size) {
			status_line_add(o, "%s...", sep);
			return;
		}
		status_line_add(o, "%s%s", sep, svc[i].name);
		sep = ", ";
	}
}

/* "12 services: 30 workers (...), 5 conns, 40 req/s; 2 in backoff: a, b" */
static void
status_line_summary(struct status_line_out *o, const struct status_line_service *svc, size_t n)
{
	unsigned long busy = 0, idle = 0, conns = 0;
	double rate = 0;

	for (size_t i = 0; i < n; i++) {
		busy += svc[i].busy;
		idle += svc[i].idle;
		conns += svc[i].conns;
		rate += svc[i].rate;
	}
	status_line_add(o, "%zu service%s: %lu worker%s (%lu busy, %lu idle), %lu conn%s, %.0f req/s",
	    n, status_line_s(n), busy + idle, status_line_s(busy + idle), busy, idle, conns,
	    status_line_s(conns), rate);
	status_line_names(o, svc, n, status_line_in_backoff, "in backoff");
	status_line_names(o, svc, n, status_line_workerless, "with no worker");
}

static void
status_line_start(struct status_line_out *o, const char *note)
{
	o->len = 0;
	o->full = false;
	o->buf[0] = '\0';
	if (note != NULL && note[0] != '\0')
		status_line_add(o, "%s; ", note);
}

/* A newline would end STATUS= and start another assignment. */
static void
status_line_clean(char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
			buf[i] = '?';
}

size_t
status_line_format(char *buf, size_t size, const char *note,
    const struct status_line_service *svc, size_t n)
{
	struct status_line_out o = { .buf = buf, .size = size };

	if (size == 0)
		return 0;
	status_line_start(&o, note);
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			status_line_add(&o, "; ");
		status_line_service(&o, &svc[i]);
	}
	if (n == 0)
		status_line_add(&o, "no service");
	if (o.full && n > 0) {
		status_line_start(&o, note);
		status_line_summary(&o, svc, n);
	}
	if (o.full && o.len >= 3)
		memcpy(o.buf + o.len - 3, "...", 3);
	status_line_clean(buf, o.len);
	return o.len;
}
