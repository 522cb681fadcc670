/*
 * log.c - leveled logging to standard error, or natively to journald.
 *
 * One write(2) per line, so lines from several processes sharing stderr do
 * not interleave. Control characters in a message (a client's bytes may end
 * up in one) are replaced, so one call is always exactly one line.
 * log_limited() keeps a warning that repeats from flooding the log.
 *
 * Under journald each line is one datagram of the native protocol
 * (KEY=value lines) on journald's socket, so the entry is the sending
 * process's (_PID, the worker's own) and carries our fields. It is spoken
 * here rather than through sd_journal_sendv() because libsystemd caches
 * its socket's descriptor for the life of the process: a worker's
 * close_range() and the exec handler's dup3() onto descriptor 3 close or
 * reuse that number, and a cached send could then go into a client's TCP
 * connection. Our socket is known by its inode too, and checked before
 * each send; one that is no longer ours is forgotten (never closed: the
 * number is someone else's now) and a new one made. No lock: a fork in
 * another thread can never leave one held.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define LOG_LINE_MAX 2048		/* a message, without prefix or fields */
#define LOG_PREFIX_MAX 128
#define LOG_ENTRY_MAX (LOG_LINE_MAX + 1024)	/* a native entry, all fields */
#define LOG_JOURNAL_SOCKET "/run/systemd/journal/socket"

static const char *log_ident = "sockd";
static int log_level = LOG_INFO;
static bool log_journal;
static const char *log_service;		/* this process's (a worker's), or NULL */
static long log_worker;			/* that worker's pid */
static struct sockaddr_un log_journal_addr = {
	.sun_family = AF_UNIX, .sun_path = LOG_JOURNAL_SOCKET,
};
/* Our datagram socket: (inode << 32) | (descriptor + 1); 0 when none. */
static _Atomic uint64_t log_sock;

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

const char *
log_ident_from_env(void)
{
	const char *e = getenv("SOCKD_LOG_IDENT");
	size_t n;

	if (e == NULL || (n = strlen(e)) == 0 || n > 32 ||
	    strspn(e, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.@-") != n)
		return "sockd";
	return e;
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

bool
log_enabled(int priority)
{
	return priority <= log_level;
}

void
log_set_service(const char *name)
{
	log_service = name;
	log_worker = (long)getpid();
}

void
log_set_journal_socket(const char *path)
{
	snprintf(log_journal_addr.sun_path, sizeof(log_journal_addr.sun_path), "%s",
	    path != NULL ? path : LOG_JOURNAL_SOCKET);
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

/* Replace control characters: one line, and no field of a native entry
 * can end early or start another. */
static void
log_clean(char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			s[i] = '?';
}

/* FMT into BUF (LOG_LINE_MAX bytes): its length, marked "..." if cut. */
static size_t __attribute__((format(printf, 2, 0)))
log_format(char *buf, const char *fmt, va_list ap)
{
	int n = vsnprintf(buf, LOG_LINE_MAX, fmt, ap);
	size_t len = n < 0 ? 0 : (size_t)n;

	if (len > LOG_LINE_MAX - 1) {
		len = LOG_LINE_MAX - 1;
		memcpy(buf + len - 3, "...", 3);
	}
	log_clean(buf, len);
	return len;
}

static uint64_t
log_sock_make(int fd, const struct stat *st)
{
	return (uint64_t)(uint32_t)st->st_ino << 32 | (uint32_t)(fd + 1);
}

/* Our socket to journald, or -1. See the head of the file. */
static int
log_socket(void)
{
	uint64_t cur = atomic_load_explicit(&log_sock, memory_order_acquire), want;
	struct stat st;
	int fd;

	if (cur != 0) {
		fd = (int)(uint32_t)cur - 1;
		if (fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode) && log_sock_make(fd, &st) == cur)
			return fd;
	}
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (fstat(fd, &st) == -1) {
		close(fd);
		return -1;
	}
	want = log_sock_make(fd, &st);
	if (atomic_compare_exchange_strong(&log_sock, &cur, want))
		return fd;
	close(fd);	/* another thread made one first: use that */
	return (int)(uint32_t)cur - 1;
}

/* Append "KEY=VALUE\n" to the entry in BUF; false if it does not fit. */
static bool __attribute__((format(printf, 4, 5)))
log_field(char *buf, size_t size, size_t *len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf + *len, size - *len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size - *len)
		return false;
	*len += (size_t)n;
	return true;
}

/* One native entry: 0 when journald took it, -1 when not. */
static int
log_journal_send(const struct log_where *w, const char *msgid, const char *service,
    int priority, const char *text, size_t text_len)
{
	char entry[LOG_ENTRY_MAX], svc[128];
	size_t len = 0, svc_len;
	bool fit;
	ssize_t n;
	int fd;

	if (service == NULL)
		service = log_service;
	fit = log_field(entry, sizeof(entry), &len, "MESSAGE=%.*s\nPRIORITY=%d\n"
	    "SYSLOG_IDENTIFIER=%s\n", (int)text_len, text, priority, log_ident);
	if (fit && service != NULL) {
		svc_len = strlen(service);
		if (svc_len >= sizeof(svc))
			svc_len = sizeof(svc) - 1;
		memcpy(svc, service, svc_len);
		log_clean(svc, svc_len);
		fit = log_field(entry, sizeof(entry), &len, "SOCKD_SERVICE=%.*s\n",
		    (int)svc_len, svc);
	}
	if (fit && log_worker != 0)
		fit = log_field(entry, sizeof(entry), &len, "SOCKD_WORKER=%ld\n", log_worker);
	if (fit && msgid != NULL)
		fit = log_field(entry, sizeof(entry), &len, "MESSAGE_ID=%s\n", msgid);
	if (fit && w != NULL)
		fit = log_field(entry, sizeof(entry), &len, "CODE_FILE=%s\nCODE_LINE=%d\n"
		    "CODE_FUNC=%s\n", w->file, w->line, w->func);
	if (!fit || (fd = log_socket()) == -1)
		return -1;
	do
		n = sendto(fd, entry, len, MSG_NOSIGNAL, (struct sockaddr *)&log_journal_addr,
		    sizeof(log_journal_addr));
	while (n == -1 && errno == EINTR);
	return n == (ssize_t)len ? 0 : -1;
}

static void
log_stderr(int priority, const char *text, size_t text_len)
{
	char line[LOG_PREFIX_MAX + LOG_LINE_MAX + 1];
	size_t len = log_prefix(line, LOG_PREFIX_MAX, priority);

	memcpy(line + len, text, text_len);
	len += text_len;
	line[len++] = '\n';
	log_write(line, len);
}

static void __attribute__((format(printf, 5, 0)))
log_vmsg(const struct log_where *w, const char *msgid, const char *service, int priority,
    const char *fmt, va_list ap)
{
	char text[LOG_LINE_MAX];
	size_t len = log_format(text, fmt, ap);

	if (log_journal && log_journal_send(w, msgid, service, priority, text, len) == 0)
		return;
	log_stderr(priority, text, len);	/* journald gone: nothing is lost */
}

void
log_msg_at(const struct log_where *w, int priority, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	if (priority > log_level)
		return;
	va_start(ap, fmt);
	log_vmsg(w, NULL, NULL, priority, fmt, ap);
	va_end(ap);
	errno = saved;
}

void
log_event_at(const struct log_where *w, const char *msgid, const char *service, int priority,
    const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	if (priority > log_level)
		return;
	va_start(ap, fmt);
	log_vmsg(w, msgid, service, priority, fmt, ap);
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
log_limited_at(const struct log_where *w, struct log_limit *l, int priority,
    const char *fmt, ...)
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
			log_msg_at(w, priority, "%s (repeated %u times)", text, repeated);
		else
			log_msg_at(w, priority, "%s", text);
	}
	errno = saved;
}

void
fatal_at(const struct log_where *w, int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(w, NULL, NULL, LOG_ERR, fmt, ap);
	va_end(ap);
	exit(status);
}

void
panic_at(const struct log_where *w, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(w, NULL, NULL, LOG_CRIT, fmt, ap);
	va_end(ap);
	abort();
}
