/*
 * test_status.c - seeing inside a running daemon: `sockd status` over the
 * control socket (the table, -w, --json checked with jq, one service, an
 * unknown one, no daemon, a stale socket, the socket's modes, a caller
 * who may not ask), counters that survive a killed worker and a reload,
 * the status handler's /status and /metrics (checked with promtool where
 * it is installed), and a control socket that idle or hostile clients
 * cannot take away from the operator.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testlib.h"

#define CONF \
	"control = { path = \"%s/control\"; %s };\n" \
	"services = (\n" \
	"  { name = \"echo\"; listen = \"127.0.0.1:0\"; handler = \"echo\"; framing = \"line\";\n" \
	"    workers = 2; },\n" \
	"  { name = \"web\"; listen = \"127.0.0.1:0\"; handler = \"http\"; model = \"event\";\n" \
	"    workers = 1; },\n" \
	"  { name = \"status\"; listen = \"127.0.0.1:0\"; handler = \"status\"; model = \"event\";\n" \
	"    workers = 1; }\n" \
	");\n"

static char *dir;
static char sock[512];
static char *conf_text;			/* the daemon's, for a reload */

/* A daemon whose control socket is in a directory of the test's own. */
static struct daemon *
start_status(const char *extra, int *echo_r)
{
	struct daemon *d;

	dir = harness_tmpdir();
	snprintf(sock, sizeof(sock), "%s/control", dir);
	free(conf_text);
	conf_text = strdup(config(CONF, dir, extra));
	d = start(conf_text, echo_r);
	assert_true(daemon_wait_log(d, "control socket ", T_MS));
	return d;
}

static void
done(struct daemon *d)
{
	stop(d);
	harness_rmdir(dir);
	dir = NULL;
}

/* sockd ARGS... as a child; its exit status, with its output. */
static int
status_run(char **out, char **err, ...)
{
	char *args[16] = { "status" };
	size_t n = 1;
	va_list ap;

	va_start(ap, err);
	while (n < 15 && (args[n] = va_arg(ap, char *)) != NULL)
		n++;
	va_end(ap);
	args[n] = NULL;
	return harness_run(args, out, err);
}

/* Is TOOL installed? Under CI (SOCKD_REQUIRE_TOOLS) it must be. */
static bool
have(const char *tool)
{
	char cmd[128];
	bool found;

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", tool);
	found = system(cmd) == 0;
	if (!found && getenv("SOCKD_REQUIRE_TOOLS") != NULL)
		fail_msg("%s is not installed, and SOCKD_REQUIRE_TOOLS is set", tool);
	return found;
}

/* jq -e FILTER on TEXT: does the filter hold? Says why not unless QUIET. */
static bool
jq_check(const char *text, const char *filter, bool quiet)
{
	char path[600], cmd[2048];
	FILE *fp;
	int st;

	snprintf(path, sizeof(path), "%s/doc.json", dir);
	assert_non_null(fp = fopen(path, "w"));
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
	snprintf(cmd, sizeof(cmd), "jq -e '%s' < '%s' >/dev/null", filter, path);
	st = system(cmd);
	if (st != 0 && !quiet)
		print_message("jq -e '%s' failed (%d) on:\n%s\n", filter, st, text);
	return st == 0;
}

static bool
jq(const char *text, const char *filter)
{
	return jq_check(text, filter, false);
}

static void
echo_some(int port, int n)
{
	for (int i = 0; i < n; i++) {
		int fd = tcp_connect("127.0.0.1", port);

		assert_true(fd >= 0);
		echo_line(fd, "ping\n");
		close(fd);
	}
}

/* One HTTP/1.0 request; the whole response in BUF. */
static size_t
http_get(int port, const char *method, const char *target, char *buf, size_t size)
{
	char req[256];
	int fd = tcp_connect("127.0.0.1", port);
	size_t got = 0;

	assert_true(fd >= 0);
	snprintf(req, sizeof(req), "%s %s HTTP/1.0\r\nHost: x\r\n\r\n", method, target);
	assert_int_equal(send_all(fd, req, strlen(req)), 0);
	for (;;) {
		ssize_t n = recv(fd, buf + got, size - 1 - got, 0);

		if (n <= 0)
			break;
		got += (size_t)n;
		assert_true(got < size - 1);
	}
	close(fd);
	buf[got] = '\0';
	return got;
}

/* Until the closed connections of SERVICE reach N (they are counted when
 * each connection's end is seen by its worker). */
static void
wait_closed(const char *service, int n)
{
	char filter[256];
	long long deadline = now_ms() + T_MS;

	snprintf(filter, sizeof(filter),
	    ".services[] | select(.name == \"%s\") | .connections.closed >= %d", service, n);
	for (;;) {
		char *out, *err;
		bool ok;

		assert_int_equal(status_run(&out, &err, "--json", "-s", sock, END), 0);
		ok = jq_check(out, filter, now_ms() < deadline);
		free(out);
		free(err);
		if (ok)
			return;
		assert_true(now_ms() < deadline);
		usleep(20000);
	}
}

static void
test_table(void **state)
{
	struct daemon *d;
	char *out, *err;
	int port;

	(void)state;
	d = start_status("", &port);
	echo_some(port, 3);
	assert_int_equal(status_run(&out, &err, "-s", sock, END), 0);
	assert_string_equal(err, "");
	assert_non_null(strstr(out, "sockd " PACKAGE_VERSION));
	assert_non_null(strstr(out, "generation 1"));
	assert_non_null(strstr(out, "\necho "));
	assert_non_null(strstr(out, "\nweb "));
	assert_non_null(strstr(out, "prefork"));
	assert_non_null(strstr(out, "2 ("));	/* busy or idle: they just served */
	assert_null(strstr(out, "PID"));	/* no worker rows without -w */
	free(out);
	free(err);
	/* -c finds the socket from the configuration file. */
	assert_int_equal(status_run(&out, &err, "-c", d->conf, END), 0);
	assert_non_null(strstr(out, "\necho "));
	free(out);
	free(err);
	done(d);
}

static void
test_workers_and_one_service(void **state)
{
	struct daemon *d;
	pid_t pids[16];
	size_t n;
	char *out, *err, pid[32];
	int port;

	(void)state;
	d = start_status("", &port);
	assert_true(daemon_wait_workers(d, 4, T_MS));
	n = daemon_workers(d, pids, 16);
	assert_int_equal(status_run(&out, &err, "-w", "-s", sock, END), 0);
	assert_non_null(strstr(out, "PID"));
	for (size_t i = 0; i < n; i++) {
		snprintf(pid, sizeof(pid), " %ld ", (long)pids[i]);
		assert_non_null(strstr(out, pid));
	}
	free(out);
	free(err);
	assert_int_equal(status_run(&out, &err, "-w", "-s", sock, "web", END), 0);
	assert_non_null(strstr(out, "\nweb "));
	assert_null(strstr(out, "\necho "));
	free(out);
	free(err);
	assert_int_equal(status_run(&out, &err, "-s", sock, "nope", END), 1);
	assert_non_null(strstr(err, "no service \"nope\""));
	assert_string_equal(out, "");
	free(out);
	free(err);
	assert_int_equal(status_run(&out, &err, "-s", sock, "a b", END), 64);
	free(out);
	free(err);
	done(d);
}

static void
test_json(void **state)
{
	struct daemon *d;
	char *out, *err;
	int port;

	(void)state;
	if (!have("jq"))
		skip();
	d = start_status("", &port);
	echo_some(port, 3);
	wait_closed("echo", 3);
	assert_int_equal(status_run(&out, &err, "--json", "-w", "-s", sock, END), 0);
	assert_true(jq(out, ".schema == 1"));
	assert_true(jq(out, ".version == \"" PACKAGE_VERSION "\""));
	assert_true(jq(out, ".generation == 1 and .reloads.attempted == 0"));
	assert_true(jq(out, "[.services[].name] == [\"echo\", \"web\", \"status\"]"));
	assert_true(jq(out, ".services[0] | .model == \"prefork\" and .workers.desired == 2"));
	assert_true(jq(out, ".services[0].connections | .accepted == 3 and .closed == 3 "
	    "and .active == 0"));
	assert_true(jq(out, ".services[0] | .messages == 3 and .bytes.in == 15 "
	    "and .bytes.out == 15"));
	assert_true(jq(out, ".services[0].duration.count == 3"));
	assert_true(jq(out, "[.workers[] | select(.service == \"echo\")] | length == 2"));
	assert_true(jq(out, "[.workers[] | .pid > 0 and .generation == 1] | all"));
	free(out);
	free(err);
	done(d);
}

/* Counting goes on across a killed worker and a reload, never backwards. */
static void
test_totals_survive(void **state)
{
	struct daemon *d;
	pid_t pids[16];
	char *out, *err;
	int port;

	(void)state;
	if (!have("jq"))
		skip();
	d = start_status("", &port);
	echo_some(port, 4);
	wait_closed("echo", 4);
	assert_true(daemon_wait_workers(d, 4, T_MS));
	assert_true(daemon_workers(d, pids, 16) >= 1);
	assert_int_equal(kill(pids[0], SIGKILL), 0);
	assert_true(daemon_wait_log(d, "killed by signal 9", T_MS));
	assert_true(daemon_wait_workers(d, 4, T_MS));
	assert_int_equal(status_run(&out, &err, "--json", "-s", sock, END), 0);
	assert_true(jq(out, "[.services[].crashes.total] | add == 1"));
	assert_true(jq(out, "[.services[].crashes.by_signal.SIGKILL // 0] | add == 1"));
	assert_true(jq(out, "[.services[].worker_starts] | add == 5"));
	assert_true(jq(out, ".services[0].connections.accepted == 4"));
	free(out);
	free(err);
	assert_int_equal(daemon_reload(d, conf_text), 0);
	assert_true(daemon_wait_log(d, "reloaded: generation 2", T_MS));
	echo_some(port, 1);
	wait_closed("echo", 5);
	assert_int_equal(status_run(&out, &err, "--json", "-s", sock, END), 0);
	assert_true(jq(out, ".generation == 2 and .reloads.attempted == 1"));
	assert_true(jq(out, ".services[0] | .generation == 2 and .connections.accepted == 5"));
	free(out);
	free(err);
	done(d);
}

static void
test_not_running(void **state)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char *out, *err, path[600];
	int fd;

	(void)state;
	dir = harness_tmpdir();
	snprintf(path, sizeof(path), "%s/none", dir);
	assert_int_equal(status_run(&out, &err, "-s", path, END), 69);
	assert_non_null(strstr(err, "sockd is not running: no control socket at"));
	free(out);
	free(err);
	/* A socket file left behind, nobody listening. */
	snprintf(path, sizeof(path), "%s/stale", dir);
	assert_true(strlen(path) < sizeof(sun.sun_path));
	memcpy(sun.sun_path, path, strlen(path) + 1);
	assert_true((fd = socket(AF_UNIX, SOCK_STREAM, 0)) >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd);
	assert_int_equal(status_run(&out, &err, "-s", path, END), 69);
	assert_non_null(strstr(err, "nobody listens on"));
	free(out);
	free(err);
	harness_rmdir(dir);
	dir = NULL;
}

/* As user nobody: run sockd status -s SOCK; the exit status. */
static int
as_nobody(char *err, size_t size)
{
	int p[2], st;
	pid_t pid;
	ssize_t n;

	assert_int_equal(pipe(p), 0);
	assert_true((pid = fork()) >= 0);
	if (pid == 0) {
		dup2(p[1], 2);
		dup2(p[1], 1);
		if (setgroups(0, NULL) == -1 || setgid(65534) == -1 || setuid(65534) == -1)
			_exit(99);
		execl(harness_sockd(), "sockd", "status", "-s", sock, (char *)NULL);
		_exit(98);
	}
	close(p[1]);
	n = read(p[0], err, size - 1);
	err[n > 0 ? n : 0] = '\0';
	close(p[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

static void
test_permissions(void **state)
{
	struct daemon *d;
	struct stat sb;
	char err[1024], extra[64];
	int port;

	(void)state;
	d = start_status("", &port);
	assert_int_equal(stat(sock, &sb), 0);
	assert_true(S_ISSOCK(sb.st_mode));
	assert_int_equal(sb.st_mode & 07777, 0600);
	if (geteuid() == 0) {
		/* The directory must let nobody reach the file for the mode to speak. */
		assert_int_equal(chmod(dir, 0755), 0);
		assert_int_equal(as_nobody(err, sizeof(err)), 77);
		assert_non_null(strstr(err, "permission denied"));
		/* Past the file's mode, SO_PEERCRED still says no. */
		assert_int_equal(chmod(sock, 0666), 0);
		assert_int_equal(as_nobody(err, sizeof(err)), 1);
		assert_non_null(strstr(err, "permission denied"));
		assert_true(daemon_wait_log(d, "control socket: refused pid", T_MS));
	}
	done(d);
	/* control.group: mode 0660 and that group. */
	snprintf(extra, sizeof(extra), "group = \"%s\";", getgrgid(getegid())->gr_name);
	d = start_status(extra, &port);
	assert_int_equal(stat(sock, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0660);
	assert_int_equal(sb.st_gid, getegid());
	done(d);
	assert_int_equal(stat(sock, &sb), -1);	/* removed at exit */
}

/* Idle clients, garbage and oversized requests: the operator still gets in. */
static void
test_control_robust(void **state)
{
	struct daemon *d;
	char *out, *err, big[1024], buf[256];
	int idle[4], fd, port;
	ssize_t n;

	(void)state;
	d = start_status("", &port);
	for (int i = 0; i < 4; i++)
		assert_true((idle[i] = unix_connect(sock)) >= 0);
	assert_int_equal(status_run(&out, &err, "-s", sock, END), 0);
	free(out);
	free(err);
	memset(big, 'x', sizeof(big));
	assert_true((fd = unix_connect(sock)) >= 0);
	assert_int_equal(send_all(fd, big, sizeof(big)), 0);
	assert_true((n = recv_exact(fd, buf, 6, T_MS)) == 6);
	assert_memory_equal(buf, "error:", 6);
	close(fd);
	assert_true((fd = unix_connect(sock)) >= 0);
	assert_int_equal(send_all(fd, "reboot now\n", 11), 0);
	assert_true((n = recv_exact(fd, buf, 6, T_MS)) == 6);
	assert_memory_equal(buf, "error:", 6);
	close(fd);
	/* The idle ones are dropped at their deadline. */
	assert_true(daemon_wait_log(d, "sent no request within", T_MS));
	for (int i = 0; i < 4; i++)
		close(idle[i]);
	assert_true(answers(port));
	done(d);
}

static void
test_endpoint(void **state)
{
	struct daemon *d;
	char buf[262144], path[600], cmd[800];
	const char *body;
	int port, sport;
	FILE *fp;

	(void)state;
	d = start_status("", &port);
	sport = daemon_port(d, "status", "127.0.0.1");
	assert_true(sport > 0);
	echo_some(port, 2);
	http_get(sport, "GET", "/metrics", buf, sizeof(buf));
	assert_non_null(strstr(buf, "HTTP/1.1 200 OK\r\n"));
	assert_non_null(strstr(buf, "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
	assert_non_null(strstr(buf, "Cache-Control: no-store\r\n"));
	assert_non_null(body = strstr(buf, "\r\n\r\n"));
	body += 4;
	assert_non_null(strstr(body, "# TYPE sockd_connections_accepted_total counter\n"));
	/* (Its workers may still be busy with the connections just closed.) */
	assert_non_null(strstr(body, "sockd_workers{service=\"echo\",state=\"idle\"} "));
	assert_non_null(strstr(body, "sockd_workers_desired{service=\"echo\"} 2\n"));
	assert_non_null(strstr(body, "sockd_connection_duration_seconds_bucket{service=\"echo\""));
	assert_non_null(strstr(body, "sockd_http_request_duration_seconds_count{service=\"status\"}"));
	if (have("promtool")) {
		dir = dir != NULL ? dir : harness_tmpdir();
		snprintf(path, sizeof(path), "%s/metrics.txt", dir);
		assert_non_null(fp = fopen(path, "w"));
		fputs(body, fp);
		assert_int_equal(fclose(fp), 0);
		snprintf(cmd, sizeof(cmd), "promtool check metrics < '%s'", path);
		assert_int_equal(system(cmd), 0);
	}
	http_get(sport, "GET", "/status", buf, sizeof(buf));
	assert_non_null(strstr(buf, "Content-Type: application/json\r\n"));
	assert_non_null(body = strstr(buf, "\r\n\r\n"));
	if (have("jq"))
		assert_true(jq(body + 4, ".schema == 1 and (.workers | length) == 4"));
	http_get(sport, "HEAD", "/metrics", buf, sizeof(buf));
	assert_non_null(body = strstr(buf, "\r\n\r\n"));
	assert_string_equal(body, "\r\n\r\n");
	http_get(sport, "GET", "/other", buf, sizeof(buf));
	assert_non_null(strstr(buf, " 404 "));
	done(d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_table, harness_teardown),
		cmocka_unit_test_teardown(test_workers_and_one_service, harness_teardown),
		cmocka_unit_test_teardown(test_json, harness_teardown),
		cmocka_unit_test_teardown(test_totals_survive, harness_teardown),
		cmocka_unit_test_teardown(test_not_running, harness_teardown),
		cmocka_unit_test_teardown(test_permissions, harness_teardown),
		cmocka_unit_test_teardown(test_control_robust, harness_teardown),
		cmocka_unit_test_teardown(test_endpoint, harness_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
