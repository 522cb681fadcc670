/*
 * test_log.c - the two line formats, level filtering, one line per call,
 * errno preserved. Standard error is redirected into a pipe and read back.
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
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
