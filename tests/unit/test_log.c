/*
 * test_log.c - the two line formats, level filtering, one line per call,
 * errno preserved, the rate limit for repeated warnings. Standard error is
 * redirected into a pipe and read back. Native journald entries go to a
 * datagram socket of the test's own (log_set_journal_socket), read back
 * too: their fields, a service name that cannot forge a field, a worker's
 * fields, the stderr line when journald is gone, and a log socket whose
 * descriptor the process closed and reused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"

struct capture {
	int saved_stderr;
	int rd;
};

static int
setup(void **state)
{
	struct capture *c = calloc(1, sizeof(*c));
	int p[2];

	if (c == NULL || pipe2(p, O_CLOEXEC | O_NONBLOCK) == -1) {
		free(c);
		return -1;
	}
	c->saved_stderr = dup(STDERR_FILENO);
	if (c->saved_stderr == -1 || dup2(p[1], STDERR_FILENO) == -1) {
		free(c);
		return -1;
	}
	close(p[1]);
	c->rd = p[0];
	unsetenv("JOURNAL_STREAM");
	log_init("sockd-test");
	log_set_level(LOG_INFO);
	*state = c;
	return 0;
}

static int
teardown(void **state)
{
	struct capture *c = *state;

	dup2(c->saved_stderr, STDERR_FILENO);
	close(c->saved_stderr);
	close(c->rd);
	free(c);
	return 0;
}

/* Everything written since the last call, NUL-terminated. */
static const char *
captured(struct capture *c)
{
	static char buf[8192];
	ssize_t n = read(c->rd, buf, sizeof(buf) - 1);

	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static void
assert_matches(const char *text, const char *pattern)
{
	regex_t re;
	int r;

	assert_int_equal(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0);
	r = regexec(&re, text, 0, NULL, 0);
	regfree(&re);
	if (r != 0)
		fail_msg("\"%s\" does not match /%s/", text, pattern);
}

static void
test_plain_format(void **state)
{
	struct capture *c = *state;

	log_info("hello %d", 42);
	assert_matches(captured(c),
	    "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}[+-][0-9]{4} "
	    "sockd-test\\[[0-9]+\\]: info: hello 42\n$");
	log_warn("w");
	assert_matches(captured(c), " warning: w\n$");
	log_err("e");
	assert_matches(captured(c), " error: e\n$");
}

/* JOURNAL_STREAM naming our stderr (the pipe), as systemd would set it. */
static void
journal_stream(void)
{
	struct stat st;
	char env[64];

	assert_int_equal(fstat(STDERR_FILENO, &st), 0);
	snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)st.st_dev,
	    (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", env, 1);
	log_init(NULL);
}

static void
test_journal_format(void **state)
{
	struct capture *c = *state;

	/* No journald socket: the "<N>" line on stderr. */
	log_set_journal_socket("/nonexistent/sockd-test/journal.socket");
	journal_stream();
	errno = ENOTTY;
	log_notice("to the journal");
	assert_int_equal(errno, ENOTTY);
	assert_string_equal(captured(c), "<5>to the journal\n");
	log_err("bad");
	assert_string_equal(captured(c), "<3>bad\n");
	/* A JOURNAL_STREAM naming another file is not trusted. */
	setenv("JOURNAL_STREAM", "1:1", 1);
	log_init(NULL);
	log_notice("plain again");
	assert_matches(captured(c), "^[0-9]{4}-.* notice: plain again\n$");
	unsetenv("JOURNAL_STREAM");
	log_init(NULL);
	log_set_journal_socket(NULL);
}

/* A stand-in for journald: a datagram socket bound in a fresh directory. */
struct journald {
	char dir[64];
	char path[96];
	int fd;
};

static void
journald_open(struct journald *j)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	snprintf(j->dir, sizeof(j->dir), "/tmp/sockd-test-log.XXXXXX");
	assert_non_null(mkdtemp(j->dir));
	snprintf(j->path, sizeof(j->path), "%s/socket", j->dir);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", j->path);
	j->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	assert_true(j->fd >= 0);
	assert_int_equal(bind(j->fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	log_set_journal_socket(j->path);
	journal_stream();
}

static void
journald_close(struct journald *j)
{
	close(j->fd);
	unlink(j->path);
	rmdir(j->dir);
	unsetenv("JOURNAL_STREAM");
	log_init(NULL);
	log_set_journal_socket(NULL);
}

/* The next entry (the send was synchronous: it is there or it never
 * came), NUL-terminated; "" if none. */
static const char *
journald_entry(struct journald *j)
{
	static char buf[8192];
	ssize_t n = recv(j->fd, buf, sizeof(buf) - 1, 0);

	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static void
assert_has(const char *entry, const char *field)
{
	if (strstr(entry, field) == NULL)
		fail_msg("no \"%s\" in entry:\n%s", field, entry);
}

/* Every field is KEY=VALUE on a line of its own, KEY in capitals. */
static void
assert_fields(const char *entry)
{
	assert_matches(entry, "^([A-Z_]+=[^\n]*\n)+$");
}

static void
test_journal_native(void **state)
{
	struct capture *c = *state;
	struct journald j;
	const char *e;
	char line[32];
	int at;

	journald_open(&j);
	errno = EAGAIN;
	at = __LINE__, log_notice("hello %s", "journal");
	assert_int_equal(errno, EAGAIN);
	e = journald_entry(&j);
	assert_fields(e);
	assert_matches(e, "^MESSAGE=hello journal\n");
	assert_has(e, "\nPRIORITY=5\n");
	assert_has(e, "\nSYSLOG_IDENTIFIER=sockd-test\n");
	assert_has(e, "\nCODE_FILE=");
	assert_has(e, "test_log.c\n");
	snprintf(line, sizeof(line), "\nCODE_LINE=%d\n", at);
	assert_has(e, line);
	assert_has(e, "\nCODE_FUNC=test_journal_native\n");
	assert_null(strstr(e, "SOCKD_SERVICE="));	/* the master's own line */
	assert_null(strstr(e, "SOCKD_WORKER="));
	assert_null(strstr(e, "MESSAGE_ID="));
	assert_string_equal(captured(c), "");		/* and nothing on stderr */

	log_event(LOG_MSGID_RELOAD_FAILED, "web", LOG_ERR, "reload failed: %s", "x");
	e = journald_entry(&j);
	assert_fields(e);
	assert_matches(e, "^MESSAGE=reload failed: x\n");
	assert_has(e, "\nPRIORITY=3\n");
	assert_has(e, "\nSOCKD_SERVICE=web\n");
	assert_has(e, "\nMESSAGE_ID=" LOG_MSGID_RELOAD_FAILED "\n");
	assert_int_equal(strlen(LOG_MSGID_RELOAD_FAILED), 32);

	/* Neither a message nor a service name can end a field early and
	 * forge another. */
	log_svc(LOG_WARNING, "we\nPRIORITY=0", "a\nMESSAGE_ID=%s", LOG_MSGID_STARTED);
	e = journald_entry(&j);
	assert_fields(e);
	assert_has(e, "MESSAGE=a?MESSAGE_ID=" LOG_MSGID_STARTED "\n");
	assert_has(e, "\nSOCKD_SERVICE=we?PRIORITY=0\n");
	assert_null(strstr(e, "\nMESSAGE_ID="));
	assert_null(strstr(e, "\nPRIORITY=0"));

	log_debug("filtered");
	assert_string_equal(journald_entry(&j), "");
	assert_string_equal(captured(c), "");
	journald_close(&j);
}

/* A worker's lines (and those of the processes it forks) name its service
 * and pid; a line about another service says so. */
static void
test_journal_worker(void **state)
{
	struct journald j;
	const char *e;
	char pid[32];
	pid_t kid;
	int st;

	(void)state;
	journald_open(&j);
	if ((kid = fork()) == 0) {
		log_set_service("echo");
		log_info("echo: serving");
		log_svc(LOG_INFO, "other", "about another");
		if (fork() == 0) {
			log_info("from a connection process");
			_exit(0);
		}
		wait(NULL);
		_exit(0);
	}
	assert_true(kid > 0);
	assert_int_equal(waitpid(kid, &st, 0), kid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	snprintf(pid, sizeof(pid), "\nSOCKD_WORKER=%ld\n", (long)kid);
	e = journald_entry(&j);
	assert_matches(e, "^MESSAGE=echo: serving\n");
	assert_has(e, "\nSOCKD_SERVICE=echo\n");
	assert_has(e, pid);
	e = journald_entry(&j);
	assert_matches(e, "^MESSAGE=about another\n");
	assert_has(e, "\nSOCKD_SERVICE=other\n");
	e = journald_entry(&j);
	assert_matches(e, "^MESSAGE=from a connection process\n");
	assert_has(e, "\nSOCKD_SERVICE=echo\n");
	assert_has(e, pid);
	journald_close(&j);
}

/* journald gone between two lines: the second is on stderr, as a "<N>"
 * line, and errno is kept. */
static void
test_journal_gone(void **state)
{
	struct capture *c = *state;
	struct journald j;

	journald_open(&j);
	log_warn("first");
	assert_matches(journald_entry(&j), "^MESSAGE=first\n");
	close(j.fd);
	unlink(j.path);
	errno = EINTR;
	log_warn("second");
	assert_int_equal(errno, EINTR);
	assert_string_equal(captured(c), "<4>second\n");
	rmdir(j.dir);
	unsetenv("JOURNAL_STREAM");
	log_init(NULL);
	log_set_journal_socket(NULL);
}

/* The logger's socket: an unbound datagram socket (the stand-in's is bound). */
static int
log_socket_fd(void)
{
	for (int fd = 3; fd < 1024; fd++) {
		struct sockaddr_un sun;
		socklen_t len = sizeof(sun);
		int type;
		socklen_t tlen = sizeof(type);

		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) == 0 && type == SOCK_DGRAM &&
		    getsockname(fd, (struct sockaddr *)&sun, &len) == 0 &&
		    len == sizeof(sa_family_t) && sun.sun_family == AF_UNIX)
			return fd;
	}
	return -1;
}

/* A process that closed the logger's descriptor and got the number back
 * for a connection (a worker's close_range, the exec handler's dup3):
 * nothing goes to that connection, the line still reaches journald. */
static void
test_journal_socket_reused(void **state)
{
	struct capture *c = *state;
	struct journald j;
	char buf[64];
	int fd, sp[2];

	journald_open(&j);
	log_info("once");
	assert_matches(journald_entry(&j), "^MESSAGE=once\n");
	assert_true((fd = log_socket_fd()) >= 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
	assert_int_equal(close(fd), 0);
	assert_int_equal(dup2(sp[0], fd), fd);	/* "the client's connection" */
	log_info("after reuse");
	assert_matches(journald_entry(&j), "^MESSAGE=after reuse\n");
	assert_int_equal(recv(sp[1], buf, sizeof(buf), MSG_DONTWAIT), -1);
	assert_int_equal(errno, EAGAIN);
	assert_string_equal(captured(c), "");
	/* And closed outright: a new socket is made. */
	assert_int_equal(close(fd), 0);
	log_info("after close");
	assert_matches(journald_entry(&j), "^MESSAGE=after close\n");
	assert_int_equal(recv(sp[1], buf, sizeof(buf), MSG_DONTWAIT), -1);
	close(sp[0]);
	close(sp[1]);
	journald_close(&j);
}

static void
test_enabled(void **state)
{
	(void)state;
	assert_true(log_enabled(LOG_INFO));
	assert_true(log_enabled(LOG_ERR));
	assert_false(log_enabled(LOG_DEBUG));
	log_set_level(LOG_DEBUG);
	assert_true(log_enabled(LOG_DEBUG));
	log_set_level(LOG_WARNING);
	assert_false(log_enabled(LOG_NOTICE));
	log_set_level(LOG_INFO);
}

static void
test_level_filter(void **state)
{
	struct capture *c = *state;

	log_set_level(LOG_WARNING);
	log_info("hidden");
	log_debug("hidden");
	assert_string_equal(captured(c), "");
	log_warn("shown");
	assert_matches(captured(c), "warning: shown\n$");
	log_set_level(LOG_INFO);
}

static void
test_one_line_per_call(void **state)
{
	struct capture *c = *state;
	char big[4000];

	log_info("a\nb\tc");
	assert_matches(captured(c), "info: a\\?b\\?c\n$");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	log_info("%s", big);
	assert_matches(captured(c), "^[^\n]*xxx\\.\\.\\.\n$");
}

static void
test_errno_preserved(void **state)
{
	struct capture *c = *state;

	errno = ENOENT;
	log_info("x");
	assert_int_equal(errno, ENOENT);
	errno = EBADF;
	log_debug("filtered");
	assert_int_equal(errno, EBADF);
	captured(c);
}

static void
test_level_names(void **state)
{
	(void)state;
	assert_int_equal(log_level_parse("error"), LOG_ERR);
	assert_int_equal(log_level_parse("warning"), LOG_WARNING);
	assert_int_equal(log_level_parse("notice"), LOG_NOTICE);
	assert_int_equal(log_level_parse("info"), LOG_INFO);
	assert_int_equal(log_level_parse("debug"), LOG_DEBUG);
	assert_int_equal(log_level_parse("emerg"), -1);
	assert_int_equal(log_level_parse("INFO"), -1);
	assert_int_equal(log_level_parse(""), -1);
	assert_string_equal(log_level_name(LOG_NOTICE), "notice");
	assert_string_equal(log_level_name(42), "?");
}

/* The rate limit's decision: first line out, identical ones counted for
 * an interval, the next one out with the count; a different line at once. */
static void
test_limit_decision(void **state)
{
	struct log_limit l = LOG_LIMIT_INIT(10000);
	const int64_t s = 1000000000;
	unsigned rep = 99;

	(void)state;
	assert_true(log_limit_pass(&l, 7, 100 * s, &rep));
	assert_int_equal(rep, 0);
	for (int i = 0; i < 57; i++)
		assert_false(log_limit_pass(&l, 7, 100 * s + i * (s / 10), &rep));
	assert_true(log_limit_pass(&l, 8, 105 * s, &rep));	/* another line */
	assert_int_equal(rep, 0);
	assert_false(log_limit_pass(&l, 8, 106 * s, &rep));
	assert_false(log_limit_pass(&l, 8, 115 * s - 1, &rep));
	assert_true(log_limit_pass(&l, 8, 115 * s, &rep));
	assert_int_equal(rep, 2);
	assert_true(log_limit_pass(&l, 8, 200 * s, &rep));	/* quiet since */
	assert_int_equal(rep, 0);
}

/* Through the logger: 100 identical warnings make one line, the next one
 * after the interval says how many were held back. */
static void
test_limited_lines(void **state)
{
	struct capture *c = *state;
	static struct log_limit l = LOG_LIMIT_INIT(200);
	const char *out;

	for (int i = 0; i < 100; i++)
		log_limited(&l, LOG_WARNING, "accept: %s", "Too many open files");
	out = captured(c);
	assert_matches(out, "^[^\n]* warning: accept: Too many open files\n$");
	usleep(250 * 1000);
	errno = EIO;
	log_limited(&l, LOG_WARNING, "accept: %s", "Too many open files");
	assert_int_equal(errno, EIO);
	assert_matches(captured(c),
	    "^[^\n]* warning: accept: Too many open files \\(repeated 99 times\\)\n$");
	log_limited(&l, LOG_DEBUG, "filtered");
	assert_string_equal(captured(c), "");
}

/* sockd@NAME's identifier comes from the environment, when it is fit. */
static void
test_ident_from_env(void **state)
{
	static const char *const bad[] = { "", "a b", "x\ny", "sockd;rm",
		"123456789012345678901234567890123" };

	(void)state;
	assert_int_equal(unsetenv("SOCKD_LOG_IDENT"), 0);
	assert_string_equal(log_ident_from_env(), "sockd");
	assert_int_equal(setenv("SOCKD_LOG_IDENT", "sockd-a.b_c@d", 1), 0);
	assert_string_equal(log_ident_from_env(), "sockd-a.b_c@d");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(setenv("SOCKD_LOG_IDENT", bad[i], 1), 0);
		assert_string_equal(log_ident_from_env(), "sockd");
	}
	assert_int_equal(unsetenv("SOCKD_LOG_IDENT"), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_format),
		cmocka_unit_test(test_ident_from_env),
		cmocka_unit_test(test_journal_format),
		cmocka_unit_test(test_journal_native),
		cmocka_unit_test(test_journal_worker),
		cmocka_unit_test(test_journal_gone),
		cmocka_unit_test(test_journal_socket_reused),
		cmocka_unit_test(test_enabled),
		cmocka_unit_test(test_level_filter),
		cmocka_unit_test(test_one_line_per_call),
		cmocka_unit_test(test_errno_preserved),
		cmocka_unit_test(test_level_names),
		cmocka_unit_test(test_limit_decision),
		cmocka_unit_test(test_limited_lines),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
