/*
 * http_log.h - the http handler's access log, in the Combined Log Format.
 */
#ifndef SOCKD_HTTP_LOG_H
#define SOCKD_HTTP_LOG_H

#include <stdbool.h>
#include <stdint.h>

#include "addr.h"
#include "http_parse.h"

struct http_log_entry {
	const struct sockd_addr *peer;
	struct http_str request;	/* the request line as received */
	int status;
	uint64_t bytes;			/* body bytes sent */
	struct http_str referer;
	struct http_str user_agent;
};

int http_log_start(const char *path);
bool http_log_enabled(void);
void http_log_write(const struct http_log_entry *e);

#endif
