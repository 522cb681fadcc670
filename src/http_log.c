/*
 * http_log.c - the access log: one Combined Log Format line per response,
 *
 *   host - - [dd/Mon/yyyy:HH:MM:SS +0000] "request line" status bytes "referer" "user-agent"
 *
 * written with one write() to a file opened O_APPEND, so lines from every
 * worker and thread of the service stay whole and in order of completion.
 * The master opens the file and hands it over (logfile.c), so it may be in
 * a directory the workers' user cannot write, and SIGUSR1 replaces it
 * under the same descriptor without losing a line. Fields that come from the
 * client have control characters, quotes, backslashes and bytes above
 * 0x7e written as \xHH (as nginx does), so a request cannot forge or
 * break lines; long fields are cut so a line fits one buffer.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "http_log.h"
#include "http_time.h"
#include "log.h"
#include "logfile.h"

#define HTTP_LOG_LINE 4096
#define HTTP_LOG_FIELD 1000		/* bytes of one client field at most, escaped */

/* The service's http.access_log is the worker's log file: it was opened
 * by the master (0 when it exists, -1 logged otherwise). */
int
http_log_start(const char *path)
{
	if (logfile_fd() >= 0)
		return 0;
	log_err("http.access_log %s: not opened by the master", path);
	return -1;
}

bool
http_log_enabled(void)
{
	return logfile_fd() >= 0;
}

/* Append S escaped, "-" when empty, at most HTTP_LOG_FIELD bytes. */
static size_t
http_log_field(char *out, struct http_str s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;

	if (s.len == 0)
		out[n++] = '-';
	for (size_t i = 0; i < s.len && n + 4 <= HTTP_LOG_FIELD; i++) {
		unsigned char ch = (unsigned char)s.p[i];

		if (ch < 0x20 || ch > 0x7e || ch == '"' || ch == '\\') {
			out[n++] = '\\';
			out[n++] = 'x';
			out[n++] = hex[ch >> 4];
			out[n++] = hex[ch & 15];
		} else
			out[n++] = (char)ch;
	}
	return n;
}

static void
http_log_host(const struct sockd_addr *peer, char *buf, size_t size)
{
	if (peer->len == 0 || !addr_host(peer, buf, size))
		snprintf(buf, size, "-");	/* a Unix socket has no host */
}

void
http_log_write(const struct http_log_entry *e)
{
	char line[HTTP_LOG_LINE], host[INET6_ADDRSTRLEN];
	size_t n;
	int fd = logfile_fd();
	ssize_t w;

	if (fd < 0)
		return;
	http_log_host(e->peer, host, sizeof(host));
	n = (size_t)snprintf(line, sizeof(line), "%s - - [%s] \"", host, http_time_clf());
	n += http_log_field(line + n, e->request);
	n += (size_t)snprintf(line + n, sizeof(line) - n, "\" %d %" PRIu64 " \"", e->status, e->bytes);
	n += http_log_field(line + n, e->referer);
	memcpy(line + n, "\" \"", 3);
	n += 3;
	n += http_log_field(line + n, e->user_agent);
	memcpy(line + n, "\"\n", 2);
	n += 2;
	do
		w = write(fd, line, n);
	while (w == -1 && errno == EINTR);
	if (w == -1)
		log_warn("http access_log: %s", strerror(errno));	/* XXX: once per line when the disk is full */
}
