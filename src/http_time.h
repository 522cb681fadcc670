/*
 * http_time.h - the dates of HTTP: IMF-fixdate (RFC 9110 5.6.7) for Date,
 * Last-Modified and If-Modified-Since, and the Common Log Format's
 * timestamp. The current time's strings are cached per thread and per
 * second, so a busy server formats them once a second, not per request.
 */
#ifndef SOCKD_HTTP_TIME_H
#define SOCKD_HTTP_TIME_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define HTTP_DATE_LEN 29		/* "Sun, 06 Nov 1994 08:49:37 GMT" */
#define HTTP_CLF_LEN 26			/* "06/Nov/1994:08:49:37 +0000" */

void http_time_format(time_t t, char buf[HTTP_DATE_LEN + 1]);
bool http_time_parse(const char *s, size_t len, time_t *t_r);
const char *http_time_now(void);
const char *http_time_clf(void);

#endif
