/*
 * test_log.c - the two line formats, level filtering, one line per call,
 * errno preserved, the rate limit for repeated warnings. Standard error is
 * redirected into a pipe and read back.
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
#include <sys/stat.h>
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
	if (c->saved_stderr == -1 || dup2(p[1], STDERR_FILENO) == -1)
		return -1;
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

static void
test_journal_format(void **state)
{
	struct capture *c = *state;
	struct stat st;
	char env[64];

	assert_int_equal(fstat(STDERR_FILENO, &st), 0);
	snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)st.st_dev,
	    (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", env, 1);
	log_init(NULL);
	log_notice("to the journal");
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_format),
		cmocka_unit_test(test_journal_format),
		cmocka_unit_test(test_level_filter),
		cmocka_unit_test(test_one_line_per_call),
		cmocka_unit_test(test_errno_preserved),
		cmocka_unit_test(test_level_names),
		cmocka_unit_test(test_limit_decision),
		cmocka_unit_test(test_limited_lines),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
