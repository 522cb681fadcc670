/*
 * test_config_file.c - hostile configuration files cannot hurt sockd: a
 * corpus of them (includes of directories, FIFOs, devices, "", ".", loops;
 * huge files and strings, deep nesting, large groups, binary garbage, NUL
 * bytes, error floods), made at run time, each through "sockd -t", which
 * must exit 78 with a FILE:LINE message in a bounded time, and each through
 * a SIGHUP reload of a running daemon, which must fail the reload and keep
 * serving. Built with the sanitizers, make check runs it under ASan too.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testlib.h"

/* Generous: a hang or a quadratic parse, not a slow sanitizer build. Under
 * ASan, libconfig's string buffer is quadratic: it grows a long string 64
 * bytes at a time, and ASan's realloc always copies (glibc's moves the
 * pages), so "a long string of escapes" alone takes 10-25 s there. */
#define CHECK_MS 20000
#define CHECK_SANITIZED_MS 90000

static long long
check_ms(void)
{
	const char *san = getenv("SOCKD_SANITIZERS");

	return san != NULL && san[0] != '\0' ? CHECK_SANITIZED_MS : CHECK_MS;
}
#define GOOD "services = ( { name = \"echo\"; listen = \"127.0.0.1:0\"; handler = \"echo\"; } );\n"

/* A growing text, NUL bytes allowed. */
struct text {
	char *p;
	size_t len, cap;
};

static void
add(struct text *t, const void *p, size_t n)
{
	if (t->len + n + 1 > t->cap) {
		while (t->len + n + 1 > t->cap)
			t->cap = t->cap ? t->cap * 2 : 4096;
		t->p = realloc(t->p, t->cap);
		assert_non_null(t->p);
	}
	memcpy(t->p + t->len, p, n);
	t->len += n;
	t->p[t->len] = '\0';
}

static void
adds(struct text *t, const char *s)
{
	add(t, s, strlen(s));
}

static void
repeat(struct text *t, const char *s, size_t times)
{
	for (size_t i = 0; i < times; i++)
		adds(t, s);
}

/* ---- the corpus -------------------------------------------------------- */

static void big_file(struct text *t) { repeat(t, "# a comment line\n", 200000); adds(t, GOOD); }
static void big_string(struct text *t) { adds(t, "x = \""); repeat(t, "aaaaaaaaaaaaaaaa", 262144); adds(t, "\";\n" GOOD); }
static void long_string(struct text *t) { adds(t, "x = \""); repeat(t, "a\\n", 400000); adds(t, "\";\n" GOOD); }
static void concat_string(struct text *t) { adds(t, "x = "); repeat(t, "\"aaaaaaaaaaaaaaa\" ", 80000); adds(t, ";\n" GOOD); }
static void deep(struct text *t) { adds(t, "x = "); repeat(t, "(", 20000); repeat(t, ")", 20000); adds(t, ";\n" GOOD); }
static void deep_groups(struct text *t) { repeat(t, "a = {", 5000); repeat(t, "}", 5000); adds(t, "\n" GOOD); }
static void many_values(struct text *t) { adds(t, "x = ["); repeat(t, "1,", 200000); adds(t, "1];\n" GOOD); }
static void empty_services(struct text *t) { adds(t, "services = ("); repeat(t, "{},", 300000); adds(t, "{});\n"); }
static void long_name(struct text *t) { repeat(t, "a", 1500000); adds(t, " = 1;\n" GOOD); }
static void includes(struct text *t) { repeat(t, "@include \"empty.conf\"\n", 1000); adds(t, GOOD); }

static void
big_group(struct text *t)
{
	char line[64];

	for (int i = 0; i < 70000; i++) {
		snprintf(line, sizeof(line), "a%d = 1;\n", i);
		adds(t, line);
	}
	adds(t, GOOD);
}

static void
same_names(struct text *t)
{
	adds(t, "services = (\n");
	for (int i = 0; i < 1900; i++)
		adds(t, "{ name = \"s\"; handler = \"echo\"; },\n");
	adds(t, "{ name = \"s\"; });\n");
}

static void
garbage(struct text *t)
{
	unsigned x = 12345;

	adds(t, GOOD);
	for (int i = 0; i < 65536; i++) {
		char c;

		x = x * 1103515245 + 12345;
		c = (char)(1 + (x >> 16) % 255);	/* every byte but NUL */
		add(t, &c, 1);
	}
}

static void nul(struct text *t) { adds(t, GOOD); add(t, "x = 1;\0\n", 8); }
static void nul_string(struct text *t) { adds(t, GOOD "x = \""); add(t, "a\0b", 3); adds(t, "\";\n"); }

struct hostile {
	const char *what;
	const char *text;		/* the file; @DIR@ is the test's directory */
	void (*make)(struct text *);	/* or this makes it */
};

static const struct hostile corpus[] = {
	{ "include of .", "@include \".\"\n" GOOD, NULL },
	{ "include of \"\"", "@include \"\"\n" GOOD, NULL },
	{ "include of a directory", "@include \"subdir\"\n" GOOD, NULL },
	{ "include of a directory, absolute", "@include \"@DIR@\"\n" GOOD, NULL },
	{ "include of a directory with /", "@include \"subdir/\"\n" GOOD, NULL },
	{ "include of a FIFO", GOOD "@include \"fifo\"\n", NULL },
	{ "include of a FIFO, absolute", "@include \"@DIR@/fifo\"\n" GOOD, NULL },
	{ "include of /dev/zero", "@include \"/dev/zero\"\n" GOOD, NULL },
	{ "include of /dev/null", "@include \"/dev/null\"\n" GOOD, NULL },
	{ "include of a missing file", "@include \"missing.conf\"\n" GOOD, NULL },
	{ "include of itself", "@include \"sockd.conf\"\n" GOOD, NULL },
	{ "include loop", "@include \"loop-a.conf\"\n" GOOD, NULL },
	{ "includes too deep", "@include \"deep-1.conf\"\n" GOOD, NULL },
	{ "an included huge file", "@include \"big.conf\"\n" GOOD, NULL },
	{ "an included file with a FIFO", "@include \"has-fifo.conf\"\n" GOOD, NULL },
	{ "include with text after it", "@include \"empty.conf\" x = 1;\n" GOOD, NULL },
	{ "include name not closed", "@include \"empty.conf\n" GOOD, NULL },
	{ "include with a bad escape", "@include \"a\\qb\"\n" GOOD, NULL },
	{ "a module that is a FIFO", "services = ( { name = \"m\"; listen = \"127.0.0.1:0\";"
	    " handler = \"module\"; module = { path = \"@DIR@/fifo\"; }; } );\n", NULL },
	{ "string not closed", GOOD "x = \"abc;\n", NULL },
	{ "comment not closed", GOOD "/* abc;\n", NULL },
	{ "a syntax error after a string", GOOD "x = 1 \"abc\";\n", NULL },
	{ "a syntax error in a list of strings", GOOD "x = ( \"a\" \"b\" = );\n", NULL },
	{ "a huge number", GOOD "x = 999999999999999999999999999999999;\n", NULL },
	{ "a huge file", NULL, big_file },
	{ "a huge string", NULL, big_string },
	{ "a long string of escapes", NULL, long_string },
	{ "a long concatenated string", NULL, concat_string },
	{ "deep nesting of lists", NULL, deep },
	{ "deep nesting of groups", NULL, deep_groups },
	{ "a group of 70000 settings", NULL, big_group },
	{ "an array of 200000 values", NULL, many_values },
	{ "300000 empty services", NULL, empty_services },
	{ "1900 services of one name", NULL, same_names },
	{ "a setting name of 1.5 MB", NULL, long_name },
	{ "1000 includes", NULL, includes },
	{ "binary garbage", NULL, garbage },
	{ "a NUL byte", NULL, nul },
	{ "a NUL byte in a string", NULL, nul_string },
};

static void
write_file(const char *dir, const char *name, const void *p, size_t len)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, p, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

/* The files the corpus includes, in DIR. */
static void
corpus_setup(const char *dir)
{
	char path[4096], name[32], text[64];
	struct text big = { 0 };

	snprintf(path, sizeof(path), "%s/fifo", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	snprintf(path, sizeof(path), "%s/subdir", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	write_file(dir, "empty.conf", "", 0);
	write_file(dir, "loop-a.conf", "@include \"loop-b.conf\"\n", 23);
	write_file(dir, "loop-b.conf", "@include \"loop-a.conf\"\n", 23);
	write_file(dir, "has-fifo.conf", "\n\n@include \"fifo\"\n", 18);
	for (int i = 1; i <= 20; i++) {
		snprintf(name, sizeof(name), "deep-%d.conf", i);
		snprintf(text, sizeof(text), "@include \"deep-%d.conf\"\n", i + 1);
		write_file(dir, name, text, strlen(text));
	}
	big_file(&big);
	write_file(dir, "big.conf", big.p, big.len);
	free(big.p);
}

/* Case C's file, @DIR@ replaced by DIR. */
static void
corpus_text(const struct hostile *c, const char *dir, struct text *t)
{
	const char *p, *at;

	if (c->make != NULL) {
		c->make(t);
		return;
	}
	for (p = c->text; (at = strstr(p, "@DIR@")) != NULL; p = at + 5) {
		add(t, p, (size_t)(at - p));
		adds(t, dir);
	}
	adds(t, p);
}

/* ---- sockd -t ------------------------------------------------------------ */

/* Run "sockd -t -c CONF" with a deadline: its exit status, or -1 if it
 * was still running at the deadline (then killed). Its stderr in ERR. */
static int
check_file(const char *conf, char *err, size_t size)
{
	long long end = now_ms() + check_ms();
	int fd[2], status;
	size_t len = 0;
	ssize_t n;
	pid_t pid;

	assert_int_equal(pipe2(fd, O_CLOEXEC | O_NONBLOCK), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (dup2(fd[1], STDERR_FILENO) == -1 || dup2(open("/dev/null", O_WRONLY | O_CLOEXEC), STDOUT_FILENO) == -1)
			_exit(127);
		execl(harness_sockd(), harness_sockd(), "-t", "-c", conf, (char *)NULL);
		_exit(127);
	}
	close(fd[1]);
	for (;;) {
		n = read(fd[0], err + len, size - 1 - len);
		if (n > 0)
			len += (size_t)n;
		if (n == 0 || len == size - 1 || now_ms() > end)
			break;
		if (n == -1)
			usleep(10000);
	}
	err[len] = '\0';
	close(fd[0]);
	while (waitpid(pid, &status, WNOHANG) == 0 && now_ms() < end)
		usleep(10000);
	if (waitpid(pid, &status, WNOHANG) == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		return -1;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Some line of TEXT is "FILE:LINE: MESSAGE". */
static bool
has_file_line(const char *text)
{
	regex_t re;
	bool found;

	assert_int_equal(regcomp(&re, "^[^: ]+:[0-9]+: [^ ]", REG_EXTENDED | REG_NOSUB | REG_NEWLINE), 0);
	found = regexec(&re, text, 0, NULL, 0) == 0;
	regfree(&re);
	return found;
}

static void
test_check_corpus(void **state)
{
	char *dir = harness_tmpdir(), conf[4096], err[8192];
	int failed = 0;

	(void)state;
	corpus_setup(dir);
	snprintf(conf, sizeof(conf), "%s/sockd.conf", dir);
	for (size_t i = 0; i < sizeof(corpus) / sizeof(corpus[0]); i++) {
		struct text t = { 0 };
		long long t0 = now_ms();
		int status;

		corpus_text(&corpus[i], dir, &t);
		write_file(dir, "sockd.conf", t.p, t.len);
		free(t.p);
		status = check_file(conf, err, sizeof(err));
		if (status == 78 && has_file_line(err))
			continue;
		failed++;
		print_error("%s: sockd -t exited %d after %lld ms (78 and FILE:LINE wanted):\n%.600s\n",
		    corpus[i].what, status, now_ms() - t0, err);
	}
	harness_rmdir(dir);
	assert_int_equal(failed, 0);
}

/* ---- reload ------------------------------------------------------------ */

/* Put TEXT in place of D's configuration, as an editor would, and SIGHUP. */
static void
reload_with(struct daemon *d, const struct text *t)
{
	char tmp[4096];

	write_file(d->dir, "sockd.conf.new", t->p, t->len);
	snprintf(tmp, sizeof(tmp), "%s/sockd.conf.new", d->dir);
	assert_int_equal(rename(tmp, d->conf), 0);
	assert_int_equal(kill(d->pid, SIGHUP), 0);
}

/* Until "reload failed" has been logged N times, or the deadline. */
static bool
wait_failures(struct daemon *d, int n)
{
	long long end = now_ms() + check_ms();

	while (count(d->log, "reload failed") < n)
		if (!daemon_read_log(d, end))
			return false;
	return true;
}

static void
test_reload_corpus(void **state)
{
	struct daemon *d;
	int port, failed = 0, n = 0;

	(void)state;
	d = start(config("services = ( { name = \"echo\"; handler = \"echo\";"
	    " listen = \"127.0.0.1:0\"; workers = 1; } );\n"), &port);
	corpus_setup(d->dir);
	for (size_t i = 0; i < sizeof(corpus) / sizeof(corpus[0]); i++) {
		struct text t = { 0 };

		corpus_text(&corpus[i], d->dir, &t);
		reload_with(d, &t);
		free(t.p);
		/* The log is bounded: keep what is needed to count. */
		if (!wait_failures(d, ++n) || !answers(port)) {
			failed++;
			print_error("%s: no \"reload failed\", or no echo after the reload; log:\n%s\n",
			    corpus[i].what, d->log);
			break;
		}
		d->log_len = 0;
		d->log[0] = '\0';
		n = 0;
	}
	assert_int_equal(failed, 0);
	stop(d);
}

int
main(void)
{
#define T(f) cmocka_unit_test_teardown(f, harness_teardown)
	const struct CMUnitTest tests[] = {
		T(test_check_corpus),
		T(test_reload_corpus),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
