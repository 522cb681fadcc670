/*
 * log.c - leveled logging to standard error.
 *
 * One write(2) per line, so lines from several processes sharing stderr do
 * not interleave. Control characters in a message (a client's bytes may end
 * up in one) are replaced, so one call is always exactly one line.
 * log_limited() keeps a warning that repeats from flooding the log.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define LOG_LINE_MAX 2048

static const char *log_ident = "sockd";
static int log_level = LOG_INFO;
static bool log_journal;

static const char *const log_names[] = {
	[LOG_EMERG] = "emerg", [LOG_ALERT] = "alert", [LOG_CRIT] = "crit",
	[LOG_ERR] = "error", [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
	[LOG_INFO] = "info", [LOG_DEBUG] = "debug",
};

/* JOURNAL_STREAM is "DEV:INO" of the stream journald gave us; trust it only
 * if stderr is still that stream (a child may have redirected it). */
static bool
log_stderr_is_journal(void)
{
	const char *env = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (env == NULL || sscanf(env, "%llu:%llu", &dev, &ino) != 2)
		return false;
	if (fstat(STDERR_FILENO, &st) == -1)
		return false;
	return st.st_dev == (dev_t)dev && st.st_ino == (ino_t)ino;
}

void
log_init(const char *ident)
{
	if (ident != NULL)
		log_ident = ident;
	log_journal = log_stderr_is_journal();
}

void
log_set_level(int priority)
{
	log_level = priority;
}

/* The names accepted by -l and log_level: the levels sockd uses. */
int
log_level_parse(const char *name)
{
	static const int levels[] = { LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG };

	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		if (strcmp(name, log_names[levels[i]]) == 0)
			return levels[i];
	return -1;
}

const char *
log_level_name(int priority)
{
	if (priority < LOG_EMERG || priority > LOG_DEBUG)
		return "?";
	return log_names[priority];
}

static size_t
log_prefix(char *buf, size_t size, int priority)
{
	struct timespec ts;
	struct tm tm;
	char stamp[40], zone[8];
	int n;

	if (log_journal)
		n = snprintf(buf, size, "<%d>", priority);
	else {
		if (clock_gettime(CLOCK_REALTIME, &ts) == -1 ||
		    localtime_r(&ts.tv_sec, &tm) == NULL ||
		    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm) == 0 ||
		    strftime(zone, sizeof(zone), "%z", &tm) == 0)
			stamp[0] = zone[0] = '\0';
		n = snprintf(buf, size, "%s.%03ld%s %s[%ld]: %s: ", stamp,
		    ts.tv_nsec / 1000000, zone, log_ident, (long)getpid(),
		    log_level_name(priority));
	}
	return n < 0 ? 0 : (size_t)n < size ? (size_t)n : size - 1;
}

static void
log_write(const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t w = write(STDERR_FILENO, buf, len);

		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			return;	/* nowhere left to report it */
		buf += w;
		len -= (size_t)w;
	}
}

static void __attribute__((format(printf, 2, 0)))
log_vmsg(int priority, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX];
	size_t len, start;
	int n;

	start = log_prefix(line, sizeof(line) - 1, priority);
	n = vsnprintf(line + start, sizeof(line) - 1 - start, fmt, ap);
	if (n < 0)
		n = 0;
	len = start + (size_t)n;
	if (len > sizeof(line) - 2) {
		len = sizeof(line) - 2;
		memcpy(line + len - 3, "...", 3);
	}
	for (size_t i = start; i < len; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			line[i] = '?';
	line[len++] = '\n';
	log_write(line, len);
}

void
log_msg(int priority, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	if (priority > log_level)
		return;
	va_start(ap, fmt);
	log_vmsg(priority, fmt, ap);
	va_end(ap);
	errno = saved;
}

/* FNV-1a: lines are told apart by this, not kept. */
static uint64_t
log_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

bool
log_limit_pass(struct log_limit *l, uint64_t hash, int64_t now_ns, unsigned *repeated_r)
{
	bool pass;

	pthread_mutex_lock(&l->lock);
	pass = hash != l->hash || l->quiet_until_ns == 0 || now_ns >= l->quiet_until_ns;
	if (pass) {
		*repeated_r = hash == l->hash ? l->repeated : 0;
		l->hash = hash;
		l->repeated = 0;
		l->quiet_until_ns = now_ns + l->interval_ns;
	} else
		l->repeated++;
	pthread_mutex_unlock(&l->lock);
	return pass;
}

void
log_limited(struct log_limit *l, int priority, const char *fmt, ...)
{
	int saved = errno;
	char text[LOG_LINE_MAX];
	struct timespec ts;
	unsigned repeated;
	va_list ap;

	if (priority > log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		ts = (struct timespec){ 0 };
	if (log_limit_pass(l, log_hash(text), (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec,
	    &repeated)) {
		if (repeated > 0)
			log_msg(priority, "%s (repeated %u times)", text, repeated);
		else
			log_msg(priority, "%s", text);
	}
	errno = saved;
}

void
fatal(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_ERR, fmt, ap);
	va_end(ap);
	exit(status);
}

void
panic(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_CRIT, fmt, ap);
	va_end(ap);
	abort();
}
