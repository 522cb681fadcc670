/*
 * log.h - leveled logging to standard error, or natively to journald.
 *
 * Under systemd (JOURNAL_STREAM names our stderr) every line goes to
 * journald as a native entry of its own process, with structured fields:
 * PRIORITY, SYSLOG_IDENTIFIER, SOCKD_SERVICE (the service the line is
 * about), SOCKD_WORKER (in a worker: its pid), MESSAGE_ID (for the events
 * below) and CODE_FILE/CODE_LINE/CODE_FUNC. Should journald not take it,
 * the line goes to stderr with a "<N>" syslog-priority prefix instead.
 * Otherwise every line carries an ISO-8601 timestamp, the pid and the
 * level name. The text of a line is the same either way. Logging never
 * changes errno, and every line may come from any thread.
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

/*
 * MESSAGE_IDs of the events operators filter on (journalctl MESSAGE_ID=...),
 * made once with /proc/sys/kernel/random/uuid; never change one. The table
 * is in sockd(8).
 */
#define LOG_MSGID_STARTED		"3f981e0502794132907ae4549d727820"
#define LOG_MSGID_STOPPING		"99e9db84812e42588621a4c78dcc9a30"
#define LOG_MSGID_STOPPED		"8e8641aeb12c41fea0e724e0b3e6d419"
#define LOG_MSGID_RELOADED		"6e042517363b420eab54f79aed3ac671"
#define LOG_MSGID_RELOAD_FAILED		"25904561165a4ee89e35f6429e691c6c"
#define LOG_MSGID_WORKER_CRASHED	"c0f1979b575c48dfbd0ee80ec1349e6b"
#define LOG_MSGID_BACKOFF_ENTERED	"a5adef9ee637404b90a09a816cbf9ad5"
#define LOG_MSGID_BACKOFF_LEFT		"de79f0ee16b446409f6be0d04e5ea0c0"
#define LOG_MSGID_WORKER_HUNG		"dd4a18da139c47a0beacb826cdd3acf8"

void log_init(const char *ident);
/* $SOCKD_LOG_IDENT when it is a fit identifier (1 to 32 of [A-Za-z0-9_.@-]:
 * sockd@NAME's unit sets sockd-NAME), else "sockd". */
const char *log_ident_from_env(void);
void log_set_level(int priority);
int log_level_parse(const char *name);
const char *log_level_name(int priority);
/* Would a line at PRIORITY go out? For lines costly to make. */
bool log_enabled(int priority);
/*
 * This process serves service NAME (a worker, from its start): its every
 * line carries SOCKD_SERVICE=NAME and SOCKD_WORKER=<this pid>, also in the
 * processes it forks. Call it once, before any thread starts; NAME must
 * outlive the process's logging.
 */
void log_set_service(const char *name);
/* Tests: send native entries to the socket at PATH, not journald's. */
void log_set_journal_socket(const char *path);

/* Where a line was made: CODE_FILE, CODE_LINE and CODE_FUNC. */
struct log_where {
	const char *file;
	const char *func;
	int line;
};
#define LOG_HERE (&(const struct log_where){ __FILE__, __func__, __LINE__ })

void log_msg_at(const struct log_where *w, int priority, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* A line about SERVICE (NULL: none) that is event MSGID (NULL: none). */
void log_event_at(const struct log_where *w, const char *msgid, const char *service,
    int priority, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

#define log_msg(...)	log_msg_at(LOG_HERE, __VA_ARGS__)
/* The master's lines about a service, and its events: see sockd(8). */
#define log_svc(priority, service, ...) \
	log_event_at(LOG_HERE, NULL, (service), (priority), __VA_ARGS__)
#define log_event(msgid, service, priority, ...) \
	log_event_at(LOG_HERE, (msgid), (service), (priority), __VA_ARGS__)

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
void log_limited_at(const struct log_where *w, struct log_limit *l, int priority,
    const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
#define log_limited(...)	log_limited_at(LOG_HERE, __VA_ARGS__)

/* Environment or configuration failure: log at LOG_ERR and exit(status). */
noreturn void fatal_at(const struct log_where *w, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Broken invariant: log at LOG_CRIT and abort(). */
noreturn void panic_at(const struct log_where *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
#define fatal(...)	fatal_at(LOG_HERE, __VA_ARGS__)
#define panic(...)	panic_at(LOG_HERE, __VA_ARGS__)

#endif
