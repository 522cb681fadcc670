/*
 * test_signals.c - every signal of sockd(8)'s table, sent to the master, to
 * a worker of every model and to a fork model's connection process: each
 * does what the table says (serving on, with its log line, or its action),
 * and none kills a process silently. Then the access log under SIGUSR1:
 * rename the file, signal the master, and every line is in the old file or
 * the new one, the new lines in the new one, under every model; a log
 * file that cannot be opened fails the start and the reload, and a reload
 * to another file moves the lines there. An exec supervisor ignores them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testlib.h"

static const char *const models[] = {
	"model = \"prefork\"; workers = 1;",
	"model = \"prefork\"; workers = 1; threads = 2;",
	"model = \"event\"; workers = 1;",
	"model = \"uring\"; workers = 1;",
	"model = \"fork\"; workers = 1;",
	"model = \"thread\"; workers = 1;",
};
#define N_MODELS (sizeof(models) / sizeof(models[0]))

/* Logged and ignored by workers, and but for SIGUSR2 by the master; [1] is the level. */
static const struct {
	int sig;
	const char *level;
} ignored[] = {
	{ SIGUSR2, "notice" }, { SIGALRM, "notice" }, { SIGVTALRM, "notice" },
	{ SIGPROF, "notice" }, { SIGIO, "notice" }, { SIGPWR, "notice" }, { SIGSYS, "notice" },
	{ SIGSTKFLT, "notice" }, { SIGTRAP, "notice" }, { SIGXCPU, "warning" },
	{ SIGXFSZ, "warning" }, { 0, "notice" } /* SIGRTMIN */, { 0, "notice" } /* +1 */,
	{ 0, "notice" } /* SIGRTMAX */,
};
#define N_IGNORED (sizeof(ignored) / sizeof(ignored[0]))

/* Ignored without a word (their default, or nothing to say). */
static const int silent[] = { SIGCHLD, SIGWINCH, SIGURG, SIGCONT };

static int
ignored_sig(size_t i)
{
	return i == N_IGNORED - 3 ? SIGRTMIN : i == N_IGNORED - 2 ? SIGRTMIN + 1 :
	    i == N_IGNORED - 1 ? SIGRTMAX : ignored[i].sig;
}

/* The name sockd logs for SIG. */
static const char *
name(int sig)
{
	static char buf[32];

	if (sig == SIGRTMIN)
		return "SIGRTMIN";
	if (sig > SIGRTMIN && sig <= SIGRTMAX)
		snprintf(buf, sizeof(buf), "SIGRTMIN+%d", sig - SIGRTMIN);
	else
		snprintf(buf, sizeof(buf), "SIG%s", sigabbrev_np(sig));
	return buf;
}

/* Send SIG to PID and wait for process PID's line "LEVEL: WHO...TEXT". */
static void
expect_line(struct daemon *d, pid_t pid, int sig, const char *level, const char *who,
    const char *text)
{
	char needle[256];

	assert_int_equal(kill(pid, sig), 0);
	snprintf(needle, sizeof(needle), "sockd[%ld]: %s: %s%s", (long)pid, level, who, text);
	if (!daemon_wait_log(d, needle, T_MS))
		fail_msg("%s to %ld: no \"%s\"", name(sig), (long)pid, needle);
}

static void
expect_ignored(struct daemon *d, pid_t pid, int sig, const char *level, const char *who)
{
	char text[128];

	snprintf(text, sizeof(text), "%s from pid %ld: ignored", name(sig), (long)getpid());
	expect_line(d, pid, sig, level, who, text);
}

/* SIGTSTP stops PID as at a terminal (the kernel discards it in an
 * orphaned process group, as under systemd: whether it stops depends on
 * how the test was started), SIGCONT lets it go on: serving either way. */
static void
stop_and_continue(pid_t pid, int port)
{
	assert_int_equal(kill(pid, SIGTSTP), 0);
	assert_int_equal(kill(pid, SIGCONT), 0);
	assert_true(answers(port));
	assert_int_equal(kill(pid, 0), 0);
}

static void
send_silent(pid_t pid)
{
	for (size_t i = 0; i < sizeof(silent) / sizeof(silent[0]); i++)
		assert_int_equal(kill(pid, silent[i]), 0);
}

/* The one worker, once there is exactly one. */
static pid_t
one_worker(struct daemon *d)
{
	pid_t w[4];

	assert_true(daemon_wait_workers(d, 1, T_MS));
	assert_int_equal(daemon_workers(d, w, 4), 1);
	return w[0];
}

/* Every signal of the table to the worker W; it serves on throughout. */
static void
worker_signals(struct daemon *d, pid_t w, int port)
{
	send_silent(w);
	for (size_t i = 0; i < N_IGNORED; i++) {
		expect_ignored(d, w, ignored_sig(i), ignored[i].level, "echo: ");
		assert_true(answers(port));
	}
	expect_ignored(d, w, SIGHUP, "notice", "echo: ");
	expect_ignored(d, w, SIGTTIN, "notice", "echo: ");
	expect_ignored(d, w, SIGTTOU, "notice", "echo: ");
	expect_line(d, w, SIGUSR1, "notice", "echo: ", "SIGUSR1: no log file to reopen");
	stop_and_continue(w, port);
	assert_int_equal(kill(w, 0), 0);
	assert_int_equal(one_worker(d), w);
}

static void
master_signals(struct daemon *d, int port)
{
	send_silent(d->pid);
	for (size_t i = 0; i < N_IGNORED; i++) {
		if (ignored_sig(i) == SIGUSR2)
			continue;	/* the master's binary upgrade: test_upgrade.c */
		expect_ignored(d, d->pid, ignored_sig(i), ignored[i].level, "");
		assert_true(answers(port));
	}
	expect_line(d, d->pid, SIGUSR1, "notice", "",
	    "SIGUSR1: reopened 0 log files, handed to 0 workers");
	expect_line(d, d->pid, SIGTTIN, "notice", "", "echo: now 2 workers");
	assert_true(daemon_wait_workers(d, 2, T_MS));
	expect_line(d, d->pid, SIGTTOU, "notice", "", "echo: now 1 workers");
	assert_true(daemon_wait_workers(d, 1, T_MS));
	stop_and_continue(d->pid, port);
	assert_true(answers(port));
}

/* PARENT's one live child, from every process's PPid (the children file
 * of a non-dumpable process may read empty); 0 unless there is exactly
 * one (the connection processes of earlier clients may still be ending). */
static pid_t
child_of(pid_t parent)
{
	DIR *dir = opendir("/proc");
	struct dirent *e;
	pid_t kid = 0;
	int n = 0;

	assert_non_null(dir);
	while ((e = readdir(dir)) != NULL) {
		long pid = strtol(e->d_name, NULL, 10);

		if (pid > 0 && proc_id((pid_t)pid, "PPid") == parent && !pid_gone((pid_t)pid)) {
			kid = (pid_t)pid;
			n++;
		}
	}
	closedir(dir);
	return n == 1 ? kid : 0;
}

/* A fork model connection process: only SIGTERM and SIGQUIT are its own. */
static void
connection_signals(struct daemon *d, pid_t w, int port)
{
	int fd = tcp_connect("127.0.0.1", port);
	pid_t kid[1];

	echo_line(fd, "one\n");
	for (long long end = now_ms() + T_MS; (kid[0] = child_of(w)) == 0; usleep(5000))
		if (now_ms() > end) {
			while (daemon_read_log(d, now_ms() + 100))
				;
			fprintf(stderr, "%s\n", d->log);
			fail_msg("no child of %ld", (long)w);
		}
	send_silent(kid[0]);
	for (size_t i = 0; i < N_IGNORED; i++)
		assert_int_equal(kill(kid[0], ignored_sig(i)), 0);
	assert_int_equal(kill(kid[0], SIGUSR1), 0);
	assert_int_equal(kill(kid[0], SIGHUP), 0);
	echo_line(fd, "two\n");
	assert_int_equal(kill(kid[0], 0), 0);
	close(fd);
}

/* A worker stopped by SIGINT, SIGTERM, SIGQUIT or killed by SIGABRT is
 * replaced; the master says how each ended. */
static pid_t
worker_stops(struct daemon *d, pid_t w, int port)
{
	static const int stops[] = { SIGINT, SIGTERM, SIGQUIT, SIGABRT };
	char needle[128];

	for (size_t i = 0; i < sizeof(stops) / sizeof(stops[0]); i++) {
		assert_int_equal(kill(w, stops[i]), 0);
		if (stops[i] == SIGABRT)
			snprintf(needle, sizeof(needle), "worker %ld killed by signal %d", (long)w,
			    SIGABRT);
		else
			snprintf(needle, sizeof(needle), "worker %ld exited\n", (long)w);
		assert_true(daemon_wait_log(d, needle, T_MS));
		for (long long end = now_ms() + T_MS;; usleep(5000)) {
			pid_t now[4];

			if (daemon_workers(d, now, 4) == 1 && now[0] != w) {
				w = now[0];
				break;
			}
			assert_true(now_ms() < end);
		}
		assert_true(answers(port));
	}
	return w;
}

static void
test_every_signal_every_model(void **state)
{
	(void)state;
	for (size_t m = 0; m < N_MODELS; m++) {
		struct daemon *d;
		pid_t w;
		int port;

		d = start(config("services = ( { name = \"echo\"; handler = \"echo\";"
		    " framing = \"line\"; listen = \"127.0.0.1:0\"; %s } );\n", models[m]), &port);
		w = one_worker(d);
		assert_true(answers(port));
		worker_signals(d, w, port);
		if (strstr(models[m], "\"fork\"") != NULL)
			connection_signals(d, w, port);
		master_signals(d, port);
		w = worker_stops(d, one_worker(d), port);
		expect_line(d, d->pid, SIGHUP, "notice", "", "reloaded: generation 2");
		assert_true(answers(port));
		assert_int_equal(count(d->log, "SIGWINCH") + count(d->log, "SIGURG") +
		    count(d->log, "SIGCONT") + count(d->log, "SIGCHLD"), 0);
		assert_int_equal(count(d->log, "killed by signal"), 1);	/* the SIGABRT */
		stop(d);
	}
}

/* An exec supervisor keeps every signal of the set blocked: sent to it
 * alone, none ends it or its program. */
static void
test_exec_supervisor_ignores(void **state)
{
	struct daemon *d;
	pid_t w, sup;
	int port, fd;

	(void)state;
	d = start_service(config("services = ( { name = \"exec\"; handler = \"exec\";"
	    " listen = \"127.0.0.1:0\"; workers = 1; exec = { argv = [ \"/bin/cat\" ]; }; } );\n"),
	    "exec", &port);
	w = one_worker(d);
	fd = tcp_connect("127.0.0.1", port);
	echo_line(fd, "one\n");
	for (long long end = now_ms() + T_MS; (sup = child_of(w)) == 0; usleep(5000))
		assert_true(now_ms() < end);
	send_silent(sup);
	for (size_t i = 0; i < N_IGNORED; i++)
		assert_int_equal(kill(sup, ignored_sig(i)), 0);
	assert_int_equal(kill(sup, SIGUSR1), 0);
	assert_int_equal(kill(sup, SIGHUP), 0);
	assert_int_equal(kill(sup, SIGTTIN), 0);
	echo_line(fd, "two\n");
	assert_false(pid_gone(sup));
	close(fd);
	assert_int_equal(daemon_stop(d, SIGTERM, T_MS), 0);
	assert_int_equal(count(d->log, "killed by signal"), 0);
	daemon_free(d);
}

static void
test_master_stops(void **state)
{
	static const struct {
		int sig;
		const char *line;
	} stops[] = { { SIGINT, "notice: graceful stop" }, { SIGTERM, "notice: graceful stop" },
		{ SIGQUIT, "notice: fast stop" } };

	(void)state;
	for (size_t i = 0; i < sizeof(stops) / sizeof(stops[0]); i++) {
		struct daemon *d;
		int port;

		d = start(config("services = ( { name = \"echo\"; handler = \"echo\";"
		    " listen = \"127.0.0.1:0\"; workers = 2; } );\n"), &port);
		assert_true(daemon_wait_workers(d, 2, T_MS));
		assert_int_equal(daemon_stop(d, stops[i].sig, T_MS), 0);
		assert_non_null(strstr(d->log, stops[i].line));
		assert_non_null(strstr(d->log, "notice: stopped"));
		daemon_free(d);
	}
}

/* ---- the access log under SIGUSR1 -------------------------------------- */

#define BEFORE 10
#define DURING 20
#define AFTER 10

/* "GET PATH" answered on a connection of its own. */
static void
get(int port, const char *path)
{
	char req[256], buf[512];
	int fd = tcp_connect("127.0.0.1", port);
	size_t len = 0;
	ssize_t n;

	assert_true(fd >= 0);
	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", path);
	assert_int_equal(send_all(fd, req, strlen(req)), 0);
	while ((n = recv_exact(fd, buf + len, 1, T_MS)) == 1 && len < sizeof(buf) - 1)
		len++;
	buf[len] = '\0';
	assert_non_null(strstr(buf, "200 OK"));
	close(fd);
}

/* One keep-alive request on FD, answered. */
static void
get_on(int fd, const char *path)
{
	static const char tail[] = "ok\n";
	char req[256], buf[1024];
	size_t len = 0;

	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", path);
	assert_int_equal(send_all(fd, req, strlen(req)), 0);
	while (len < sizeof(buf) - 1 && recv_exact(fd, buf + len, 1, T_MS) == 1) {
		len++;
		if (len >= 7 && memcmp(buf + len - 7, "\r\n\r\nok\n", 7) == 0)
			break;
	}
	buf[len] = '\0';
	if (strstr(buf, tail) == NULL)
		fail_msg("GET %s: %s", path, buf);
}

static char *
slurp(const char *path)
{
	FILE *fp = fopen(path, "re");
	char *text = calloc(1, 1 << 20);
	size_t n;

	assert_non_null(fp);
	assert_non_null(text);
	n = fread(text, 1, (1 << 20) - 1, fp);
	text[n] = '\0';
	fclose(fp);
	return text;
}

/* Lines of FILE for "GET /WHAT-" requests. */
static int
lines_of(const char *text, const char *what)
{
	char needle[64];

	snprintf(needle, sizeof(needle), "\"GET /%s-", what);
	return count(text, needle);
}

static const char *
logged_config(const char *model, const char *logpath)
{
	return config("services = ( { name = \"web\"; listen = \"127.0.0.1:0\";"
	    " handler = \"http\"; %s http = { body = \"ok\\n\"; access_log = \"%s\"; }; } );",
	    model, logpath);
}

static struct daemon *
start_logged(const char *model, const char *logpath, int *port_r)
{
	return start_service(logged_config(model, logpath), "web", port_r);
}

/* Rename, SIGUSR1, and requests all along: each line is in one file, the
 * ones after the workers took the new file are in it. A keep-alive
 * connection open across it goes on in the new file too - except in the
 * fork model, whose connection process keeps the file it started with. */
static void
rotate_once(const char *model, int n_workers, const char *dir)
{
	char *logpath, *old, path[64], *a, *b;
	struct daemon *d;
	int port, keep;
	bool fork_model = strstr(model, "\"fork\"") != NULL;

	assert_true(asprintf(&logpath, "%s/access.log", dir) > 0);
	assert_true(asprintf(&old, "%s/access.log.1", dir) > 0);
	d = start_logged(model, logpath, &port);
	assert_true(daemon_wait_log(d, "notice: sockd", T_MS));
	assert_true(daemon_wait_workers(d, (size_t)n_workers, T_MS));
	keep = tcp_connect("127.0.0.1", port);
	assert_true(keep >= 0);
	get_on(keep, "/keep-before");
	for (int i = 0; i < BEFORE; i++) {
		snprintf(path, sizeof(path), "/before-%d", i);
		get(port, path);
	}
	assert_int_equal(rename(logpath, old), 0);
	assert_int_equal(kill(d->pid, SIGUSR1), 0);
	for (int i = 0; i < DURING; i++) {
		snprintf(path, sizeof(path), "/during-%d", i);
		get(port, path);
	}
	assert_true(daemon_wait_log(d, "SIGUSR1: reopened 1 log file", T_MS));
	for (long long end = now_ms() + T_MS; count(d->log, "SIGUSR1: log file reopened") <
	    n_workers;)
		if (!daemon_read_log(d, end))
			fail_msg("%s: not every worker reopened:\n%s", model, d->log);
	for (int i = 0; i < AFTER; i++) {
		snprintf(path, sizeof(path), "/after-%d", i);
		get(port, path);
	}
	get_on(keep, "/keep-after");
	close(keep);
	stop(d);
	a = slurp(old);
	b = slurp(logpath);
	assert_int_equal(lines_of(a, "before"), BEFORE);
	assert_int_equal(lines_of(b, "before"), 0);
	assert_int_equal(lines_of(a, "during") + lines_of(b, "during"), DURING);
	assert_int_equal(lines_of(a, "after"), 0);
	assert_int_equal(lines_of(b, "after"), AFTER);
	assert_int_equal(lines_of(a, "keep"), fork_model ? 2 : 1);
	assert_int_equal(lines_of(b, "keep"), fork_model ? 0 : 1);
	assert_int_equal(unlink(old), 0);
	assert_int_equal(unlink(logpath), 0);
	free(a);
	free(b);
	free(old);
	free(logpath);
}

static void
test_usr1_rotates_access_log(void **state)
{
	static const struct {
		const char *model;
		int workers;
	} logged[] = {
		{ "model = \"prefork\"; workers = 2;", 2 },
		{ "model = \"prefork\"; workers = 1; threads = 2;", 1 },
		{ "model = \"event\"; workers = 2;", 2 },
		{ "model = \"fork\"; workers = 1;", 1 },
		{ "model = \"thread\"; workers = 1;", 1 },
	};
	char *dir = harness_tmpdir();

	(void)state;
	for (size_t m = 0; m < sizeof(logged) / sizeof(logged[0]); m++)
		rotate_once(logged[m].model, logged[m].workers, dir);
	harness_rmdir(dir);
}

/* The master opens the access log: a path it cannot open stops the start
 * at once (exit 78, before READY=1) and fails a reload, naming it. */
static void
test_access_log_opened_by_master(void **state)
{
	char *dir = harness_tmpdir(), *good, *bad, *other, *text;
	struct daemon *d;
	int port;

	(void)state;
	assert_true(asprintf(&good, "%s/a.log", dir) > 0);
	assert_true(asprintf(&bad, "%s/no/such/dir/a.log", dir) > 0);
	assert_true(asprintf(&other, "%s/b.log", dir) > 0);
	{
		struct launch l = { .conf = logged_config("workers = 2;", bad), .notify = true };

		d = daemon_launch(&l);
	}
	assert_int_equal(daemon_stop(d, 0, T_MS), 78);
	assert_non_null(strstr(d->log, "web: http.access_log "));
	assert_non_null(strstr(d->log, "No such file or directory"));
	daemon_read_notes(d);
	assert_null(strstr(d->notes, "READY=1"));
	daemon_free(d);

	d = start_logged("workers = 2;", good, &port);
	get(port, "/one-1");
	daemon_reload(d, logged_config("workers = 2;", bad));
	assert_true(daemon_wait_log(d, "reload failed: web: http.access_log", T_MS));
	get(port, "/two-1");
	/* A good reload: the new generation writes the new configuration's file. */
	daemon_reload(d, logged_config("workers = 2;", other));
	assert_true(daemon_wait_log(d, "reloaded: generation 2", T_MS));
	for (long long end = now_ms() + T_MS; count(d->log, "web (generation 1): worker") < 2;)
		if (!daemon_read_log(d, end))
			fail_msg("the old generation did not stop:\n%s", d->log);
	get(port, "/three-1");
	stop(d);
	text = slurp(good);
	assert_int_equal(lines_of(text, "one") + lines_of(text, "two"), 2);
	assert_int_equal(lines_of(text, "three"), 0);
	free(text);
	text = slurp(other);
	assert_int_equal(lines_of(text, "three"), 1);
	free(text);
	free(other);
	free(good);
	free(bad);
	harness_rmdir(dir);
}

/* SIGUSR1 when the file cannot be opened again (its directory is gone):
 * logged, and the workers go on writing the file they have. */
static void
test_reopen_failure_keeps_old_file(void **state)
{
	char *dir = harness_tmpdir(), *sub, *moved, *logpath, *text;
	struct daemon *d;
	int port;

	(void)state;
	assert_true(asprintf(&sub, "%s/logs", dir) > 0);
	assert_true(asprintf(&moved, "%s/moved", dir) > 0);
	assert_true(asprintf(&logpath, "%s/logs/a.log", dir) > 0);
	assert_int_equal(mkdir(sub, 0755), 0);
	d = start_logged("workers = 2;", logpath, &port);
	get(port, "/one-1");
	assert_int_equal(rename(sub, moved), 0);
	assert_int_equal(kill(d->pid, SIGUSR1), 0);
	assert_true(daemon_wait_log(d, "a.log: No such file or directory; still writing the old file",
	    T_MS));
	assert_true(daemon_wait_log(d, "SIGUSR1: reopened 0 log files, handed to 0 workers", T_MS));
	get(port, "/two-1");
	stop(d);
	free(logpath);
	assert_true(asprintf(&logpath, "%s/a.log", moved) > 0);
	text = slurp(logpath);
	assert_int_equal(lines_of(text, "one") + lines_of(text, "two"), 2);
	free(text);
	free(logpath);
	free(moved);
	free(sub);
	harness_rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_every_signal_every_model, harness_teardown),
		cmocka_unit_test_teardown(test_exec_supervisor_ignores, harness_teardown),
		cmocka_unit_test_teardown(test_master_stops, harness_teardown),
		cmocka_unit_test_teardown(test_usr1_rotates_access_log, harness_teardown),
		cmocka_unit_test_teardown(test_access_log_opened_by_master, harness_teardown),
		cmocka_unit_test_teardown(test_reopen_failure_keeps_old_file, harness_teardown),
	};
	struct rlimit no_core = { 0, 0 };

	setrlimit(RLIMIT_CORE, &no_core);	/* the SIGABRT case dumps none */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
