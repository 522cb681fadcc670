/*
 * log.h - leveled logging to standard error.
 *
 * Under systemd (JOURNAL_STREAM names our stderr) every line carries a "<N>"
 * syslog-priority prefix that journald turns into the entry's priority;
 * otherwise it carries an ISO-8601 timestamp, the pid and the level name.
 * Never both. Logging never changes errno.
 */
#ifndef SOCKD_LOG_H
#define SOCKD_LOG_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdnoreturn.h>
#include <syslog.h>

/* Exit statuses (sysexits.h values, spelled here so every caller agrees). */
enum {
	EXIT_USAGE = 64,	/* EX_USAGE: bad command line */
	EXIT_OSERR = 71,	/* EX_OSERR: the operating system refused */
	EXIT_CONFIG = 78,	/* EX_CONFIG: bad configuration */
};

void log_init(const char *ident);
void log_set_level(int priority);
int log_level_parse(const char *name);
const char *log_level_name(int priority);

void log_msg(int priority, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_debug(...)	log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_INFO, __VA_ARGS__)
#define log_notice(...)	log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_warn(...)	log_msg(LOG_WARNING, __VA_ARGS__)
#define log_err(...)	log_msg(LOG_ERR, __VA_ARGS__)

/*
 * A rate limit for a warning that can repeat many times a second (accept
 * out of descriptors, crashing connection processes): the first line goes
 * out; identical lines within the next interval are only counted, and the
 * next line after it says how many there were: "... (repeated 57 times)".
 * A different line goes out at once. One per call site, static, set up
 * with LOG_LIMIT_INIT(interval in ms); safe to share between threads.
 */
struct log_limit {
	pthread_mutex_t lock;
	int64_t interval_ns;
	int64_t quiet_until_ns;		/* lines held back until then */
	uint64_t hash;			/* of the last line that went out */
	unsigned repeated;		/* identical lines held back since */
};
#define LOG_LIMIT_INIT(ms) { .lock = PTHREAD_MUTEX_INITIALIZER, \
	.interval_ns = (int64_t)(ms) * 1000000 }
#define LOG_LIMIT_MS 10000		/* the usual interval */

/* The decision alone, for a line of hash HASH at NOW_NS (monotonic): true
 * if it goes out, with the identical lines held back before it in
 * *REPEATED_R. */
bool log_limit_pass(struct log_limit *l, uint64_t hash, int64_t now_ns,
    unsigned *repeated_r);
/* Log through L: the line, or nothing if it is held back. */
void log_limited(struct log_limit *l, int priority, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Environment or configuration failure: log at LOG_ERR and exit(status). */
noreturn void fatal(int status, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Broken invariant: log at LOG_CRIT and abort(). */
noreturn void panic(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

#endif
