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

/* Environment or configuration failure: log at LOG_ERR and exit(status). */
noreturn void fatal(int status, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Broken invariant: log at LOG_CRIT and abort(). */
noreturn void panic(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

#endif
