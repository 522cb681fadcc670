/*
 * status_line.h - the one line sockd shows as STATUS= in systemctl status,
 * made from plain numbers so that its every word can be tested.
 */
#ifndef SOCKD_STATUS_LINE_H
#define SOCKD_STATUS_LINE_H

#include <stdbool.h>
#include <stddef.h>

/* A line systemctl status shows without wrapping much: past this, the
 * services are summed up instead of listed (bytes, with the NUL). */
#define STATUS_LINE_MAX 256

/* One service as the line describes it. */
struct status_line_service {
	const char *name;
	unsigned busy;			/* workers accepting, by state */
	unsigned idle;
	unsigned conns;			/* connections open now */
	double rate;			/* requests (messages) per second */
	unsigned failures;		/* failed starts holding it back; 0: no backoff */
	bool ondemand;			/* no worker is its normal idle state */
};

/* Write the line for the N services in SVC into BUF (SIZE bytes), after
 * NOTE ("reload failed: ..."; "" for none); returns its length. */
size_t status_line_format(char *buf, size_t size, const char *note,
    const struct status_line_service *svc, size_t n);

#endif
