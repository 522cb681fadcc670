/*
 * test_cli.c - the sockd command line and a first run of the real daemon:
 * options and exit codes, "sockd -t" on good and bad files, serving echo on
 * IPv4, IPv6 and a Unix socket, and a clean stop on SIGTERM.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

/* As root, name the user explicitly (the default would log a notice). */
static const char *
user_line(void)
{
	return geteuid() == 0 ? "user = \"nobody\";\n" : "";
}

static int
run(char **out, char **err, ...)
{
	char *args[16];
	int n = 0;
	va_list ap;

	va_start(ap, err);
	while (n < 15 && (args[n] = va_arg(ap, char *)) != NULL)
		n++;
	va_end(ap);
	args[n] = NULL;
	return harness_run(args, out, err);
}

/* -V: the version first, then the build facts, each on a line of its own. */
static void
check_version(const char *out)
{
	static const char first[] = "sockd " PACKAGE_VERSION "\n";
	const char *san = getenv("SOCKD_SANITIZERS");
	char want[512];

	assert_true(strncmp(out, first, strlen(first)) == 0);
	assert_non_null(getenv("SOCKD_DEFAULT_CONFIG"));
	snprintf(want, sizeof(want), "\ndefault config: %s\n", getenv("SOCKD_DEFAULT_CONFIG"));
	assert_non_null(strstr(out, want));
	assert_non_null(strstr(out, "\nlibconfig: "));
	assert_non_null(strstr(out, "\nlibsystemd: "));
	/* The loaded library files are found in the process's link map. */
	assert_non_null(strstr(out, "/libconfig.so"));
	assert_non_null(strstr(out, "/libsystemd.so"));
	assert_non_null(strstr(out, san != NULL && san[0] != '\0' ?
	    "\nsanitizers: on (" : "\nsanitizers: off\n"));
	assert_non_null(strstr(out, "\ncompiler: "));
}

static void
test_version_and_help(void **state)
{
	char *out, *err;

	(void)state;
	assert_int_equal(run(&out, &err, "-V", END), 0);
	check_version(out);
	free(out); free(err);
	assert_int_equal(run(&out, &err, "--version", END), 0);
	check_version(out);
	free(out); free(err);
	assert_int_equal(run(&out, &err, "-h", END), 0);
	assert_non_null(strstr(out, "usage: sockd"));
	/* The default configuration is the one under the configured sysconfdir. */
	assert_non_null(getenv("SOCKD_DEFAULT_CONFIG"));
	assert_non_null(strstr(out, getenv("SOCKD_DEFAULT_CONFIG")));
	assert_string_equal(err, "");
	free(out); free(err);
}

static void
test_usage_errors(void **state)
{
	char *out, *err;

	(void)state;
	assert_int_equal(run(&out, &err, "-x", END), 64);
	assert_non_null(strstr(err, "usage: sockd"));
	free(out); free(err);
	assert_int_equal(run(&out, &err, "extra", END), 64);
	assert_non_null(strstr(err, "unexpected argument \"extra\""));
	free(out); free(err);
	assert_int_equal(run(&out, &err, "-l", "loud", END), 64);
	assert_non_null(strstr(err, "unknown log level \"loud\""));
	free(out); free(err);
	assert_int_equal(run(&out, &err, "-c", END), 64);
	free(out); free(err);
}

static void
test_check_good(void **state)
{
	char *path = harness_data("good.conf");
	char *out, *err, *want;

	(void)state;
	assert_int_equal(run(&out, &err, "-t", "-c", path, END), 0);
	assert_true(asprintf(&want,
	    "echo: handler echo, framing raw, model prefork, 2 workers x 1 thread, backlog 511, listen 127.0.0.1:0 [::1]:0\n"
	    "echo-unix: handler echo, framing raw, model prefork, 4 workers x 1 thread, backlog 511, listen unix:/tmp/sockd-test-good.sock\n"
	    "%s: configuration OK\n", path) > 0);
	assert_string_equal(out, want);
	assert_string_equal(err, "");
	free(want); free(out); free(err); free(path);
}

static void
test_check_shipped(void **state)
{
	const char *src = getenv("SOCKD_SRCDIR");
	char *path, *out, *err;

	(void)state;
	assert_true(asprintf(&path, "%s/conf/sockd.conf", src) > 0);
	assert_int_equal(run(&out, &err, "--test", "--config", path, END), 0);
	assert_non_null(strstr(out, "echo: handler echo"));
	free(out); free(err); free(path);
}

static void
test_check_bad(void **state)
{
	char *path = harness_data("bad.conf");
	char *out, *err, *want;

	(void)state;
	assert_int_equal(run(&out, &err, "-t", "-c", path, END), 78);
	assert_true(asprintf(&want,
	    "%1$s:2: log_level: must be one of \"error\", \"warning\", \"notice\", \"info\", \"debug\" (got \"chatty\")\n"
	    "%1$s:7: services.[0].workers: must be an integer between 1 and 4096 (got \"lots\")\n"
	    "%1$s:8: services.[0].colour: unknown setting\n",
	    path) > 0);
	assert_string_equal(err, want);
	assert_string_equal(out, "");
	free(want); free(out); free(err); free(path);
}

static void
test_check_syntax_and_missing(void **state)
{
	char *path = harness_data("syntax.conf");
	char *out, *err, *want;

	(void)state;
	assert_int_equal(run(&out, &err, "-t", "-c", path, END), 78);
	assert_true(asprintf(&want, "%s:3: syntax error\n", path) > 0);
	assert_string_equal(err, want);
	free(want); free(out); free(err); free(path);

	path = harness_data("does-not-exist.conf");
	assert_int_equal(run(&out, &err, "-t", "-c", path, END), 78);
	assert_true(asprintf(&want, "%s: cannot open: No such file or directory\n", path) > 0);
	assert_string_equal(err, want);
	free(want); free(out); free(err); free(path);
}

/* sockd -t on configuration TEXT: the exit status, with stdout and stderr. */
static int
check_text(const char *text, char **out, char **err)
{
	char *dir = harness_tmpdir(), *path = harness_write(dir, "t.conf", text);
	int status = run(out, err, "-t", "-c", path, END);

	free(path);
	harness_rmdir(dir);
	return status;
}

/* A mapped IPv4 address is refused at -t, not at bind (issue 10, item 15). */
static void
test_check_mapped_address(void **state)
{
	char *out, *err;

	(void)state;
	assert_int_equal(check_text("services = ( { name = \"e\"; handler = \"echo\";\n"
	    "  listen = \"[::ffff:127.0.0.1]:7007\"; } );\n", &out, &err), 78);
	assert_non_null(strstr(err, ":2: services.[0].listen: an IPv4-mapped IPv6 address"));
	assert_non_null(strstr(err, "write \"127.0.0.1:7007\""));
	assert_string_equal(out, "");
	free(out); free(err);
}

/* Strings that reach the wire cannot split a header or a line (item 12). */
static void
test_check_wire_strings(void **state)
{
	char *out, *err;

	(void)state;
	assert_int_equal(check_text("services = ( { name = \"h\"; handler = \"http\";\n"
	    "  listen = \"127.0.0.1:0\";\n"
	    "  http = { content_type = \"text/plain\\r\\nSet-Cookie: x=1\\r\\n\"; }; } );\n",
	    &out, &err), 78);
	assert_non_null(strstr(err, ":3: services.[0].http.content_type: an HTTP header value must "
	    "not contain control characters such as CR or LF (got \"text/plain\\r\\nSet-Cookie: x=1\\r\\n\")\n"));
	assert_null(strchr(err, '\r'));
	free(out); free(err);
	assert_int_equal(check_text("services = ( { name = \"a\"; handler = \"ack\"; framing = \"line\";\n"
	    "  listen = \"127.0.0.1:0\";\n  reply = \"ok\\nMORE\"; } );\n", &out, &err), 78);
	assert_non_null(strstr(err, ":3: services.[0].reply: must not contain a newline with framing"));
	free(out); free(err);
}

/* -t checks what a worker would find only when it starts: the http root
 * and the exec program (a directory passes access(X_OK)). */
static void
test_check_paths(void **state)
{
	char *out, *err;

	(void)state;
	assert_int_equal(check_text("services = ( { name = \"x\"; handler = \"exec\";\n"
	    "  listen = \"127.0.0.1:0\";\n  exec = { argv = [ \"/\" ]; }; } );\n", &out, &err), 78);
	assert_non_null(strstr(err, ":3: services.[0].exec.argv.[0]: not an executable file: \"/\" "
	    "(not a regular file)\n"));
	free(out); free(err);
	assert_int_equal(check_text("services = ( { name = \"h\"; handler = \"http\";\n"
	    "  listen = \"127.0.0.1:0\";\n  http = { root = \"/etc/passwd\";\n"
	    "    index = \"../i\"; }; } );\n", &out, &err), 78);
	assert_non_null(strstr(err, ":3: services.[0].http.root: not a directory: \"/etc/passwd\"\n"));
	assert_non_null(strstr(err, ":4: services.[0].http.index: must be a file name"));
	free(out); free(err);
}

/* sockd -T on PATH prints a configuration that -t accepts and that -T
 * prints the same again (a fixed point); the printed text is returned. */
static char *
dump_fixed_point(const char *path)
{
	char *dir = harness_tmpdir(), *out, *err, *again, *copy;
	int status = run(&out, &err, "-T", "-c", path, END);

	if (status != 0)
		print_error("%s: %s", path, err);
	assert_int_equal(status, 0);
	assert_string_equal(err, "");
	free(err);
	copy = harness_write(dir, "x.conf", out);
	assert_int_equal(run(NULL, &err, "-t", "-c", copy, END), 0);
	assert_string_equal(err, "");
	free(err);
	assert_int_equal(run(&again, &err, "-T", "-c", copy, END), 0);
	assert_string_equal(again, out);
	free(again); free(err); free(copy);
	harness_rmdir(dir);
	return out;
}

static void
test_dump_config(void **state)
{
	static const char *const data[] = { "good.conf", "include.conf" };
	const char *src = getenv("SOCKD_SRCDIR"), *build = getenv("SOCKD_BUILDDIR");
	char *path, *out, *err, *dir, *text;

	(void)state;
	assert_true(asprintf(&path, "%s/conf/sockd.conf", src) > 0);
	out = dump_fixed_point(path);
	assert_non_null(strstr(out, "    listen = [ \"127.0.0.1:7007\", \"[::1]:7007\" ];\n"));
	assert_non_null(strstr(out, "      max_message = 65536;\n"));	/* a default, written out */
	free(out); free(path);
	for (size_t i = 0; i < sizeof(data) / sizeof(data[0]); i++) {
		path = harness_data(data[i]);
		free(dump_fixed_point(path));
		free(path);
	}
	/* Quotes, backslashes, control and non-ASCII bytes; a module's own group. */
	dir = harness_tmpdir();
	assert_true(asprintf(&text, "services = (\n"
	    " { name = \"a\"; listen = \"127.0.0.1:0\"; handler = \"ack\";"
	    " reply = \"\\\"q\\\" \\\\ \\xc3\\xa9\\n\\x01\"; },\n"
	    " { name = \"m\"; listen = \"127.0.0.1:0\"; handler = \"module\";"
	    " module = { path = \"%s/tests/modules/hello.so\";"
	    " config = { greeting = \"h\\xc3\\xa9 \\\"you\\\"\"; times = 3; }; }; }\n);\n", build) > 0);
	path = harness_write(dir, "t.conf", text);
	out = dump_fixed_point(path);
	assert_non_null(strstr(out, "    reply = \"\\\"q\\\" \\\\ \\xc3\\xa9\\n\\x01\";\n"));
	assert_non_null(strstr(out, "        greeting = \"h\\xc3\\xa9 \\\"you\\\"\";\n"));
	free(out); free(path); free(text);
	harness_rmdir(dir);
	/* A bad file: the errors of -t, nothing on standard output. */
	path = harness_data("bad.conf");
	assert_int_equal(run(&out, &err, "-T", "-c", path, END), 78);
	assert_string_equal(out, "");
	assert_non_null(strstr(err, ":8: services.[0].colour: unknown setting\n"));
	free(out); free(err); free(path);
	assert_int_equal(run(&out, &err, "-h", END), 0);
	assert_non_null(strstr(out, "-T, --dump-config"));
	free(out); free(err);
}

static void
echo_roundtrip(int fd)
{
	char buf[64];

	assert_true(fd >= 0);
	assert_int_equal(send_all(fd, "hello, sockd\n", 13), 0);
	assert_int_equal(recv_exact(fd, buf, 13, HARNESS_TIMEOUT_MS), 13);
	assert_memory_equal(buf, "hello, sockd\n", 13);
	close(fd);
}

static void
test_serve_echo(void **state)
{
	char conf[1024], sock[256], *dir = harness_tmpdir();
	struct daemon *d;
	int port4, port6;

	(void)state;
	snprintf(sock, sizeof(sock), "%s/echo.sock", dir);
	snprintf(conf, sizeof(conf), "%sservices = ( { name = \"echo\"; handler = \"echo\";\n"
	    "  listen = [ \"127.0.0.1:0\", \"[::1]:0\", \"unix:%s\" ]; } );\n", user_line(), sock);
	d = daemon_start(conf, END);
	port4 = daemon_port(d, "echo", "127.0.0.1");
	port6 = daemon_port(d, "echo", "[::1]");
	assert_true(port4 > 0);
	assert_true(port6 > 0);
	assert_true(daemon_wait_log(d, "notice: sockd " PACKAGE_VERSION " started", HARNESS_TIMEOUT_MS));
	echo_roundtrip(tcp_connect("127.0.0.1", port4));
	echo_roundtrip(tcp_connect("::1", port6));
	echo_roundtrip(unix_connect(sock));
	/* A second connection after the first closed is served too. */
	echo_roundtrip(tcp_connect("127.0.0.1", port4));
	assert_int_equal(daemon_stop(d, SIGTERM, HARNESS_TIMEOUT_MS), 0);
	assert_non_null(strstr(d->log, "notice: graceful stop"));
	assert_non_null(strstr(d->log, "notice: stopped"));
	assert_int_equal(access(sock, F_OK), -1);	/* the socket file is removed */
	daemon_free(d);
	harness_rmdir(dir);
}

static void
test_stop_with_client_connected(void **state)
{
	char conf[512];
	struct daemon *d;
	int port, fd;

	(void)state;
	snprintf(conf, sizeof(conf), "%sservices = ( { name = \"echo\"; handler = \"echo\";"
	    " listen = \"127.0.0.1:0\"; timeouts = { graceful = 0.3; }; } );\n", user_line());
	d = daemon_start(conf, END);
	port = daemon_port(d, "echo", "127.0.0.1");
	assert_true(port > 0);
	fd = tcp_connect("127.0.0.1", port);
	echo_roundtrip(dup(fd));
	/* An idle client holds the stop up only for timeouts.graceful. */
	assert_int_equal(daemon_stop(d, SIGTERM, HARNESS_TIMEOUT_MS), 0);
	assert_true(recv_eof(fd, HARNESS_TIMEOUT_MS));
	close(fd);
	daemon_free(d);
}

static void
test_sighup_reloads(void **state)
{
	char conf[512];
	struct daemon *d;
	int port;

	(void)state;
	snprintf(conf, sizeof(conf), "%sservices = ( { name = \"echo\"; handler = \"echo\";"
	    " listen = \"127.0.0.1:0\"; } );\n", user_line());
	d = daemon_start(conf, END);
	port = daemon_port(d, "echo", "127.0.0.1");
	assert_true(daemon_wait_log(d, "notice: sockd " PACKAGE_VERSION " started", HARNESS_TIMEOUT_MS));
	assert_int_equal(kill(d->pid, SIGHUP), 0);
	assert_true(daemon_wait_log(d, "reloaded: generation 2", HARNESS_TIMEOUT_MS));
	echo_roundtrip(tcp_connect("127.0.0.1", port));
	assert_int_equal(daemon_stop(d, SIGTERM, HARNESS_TIMEOUT_MS), 0);
	daemon_free(d);
}

/* A stop signal that arrives just as a connection ends must not be lost
 * (it was, when the loop checked a flag and then blocked in poll). */
static void
test_stop_right_after_disconnect(void **state)
{
	char conf[512];

	(void)state;
	snprintf(conf, sizeof(conf), "%sservices = ( { name = \"echo\"; handler = \"echo\";"
	    " listen = \"127.0.0.1:0\"; } );\n", user_line());
	for (int i = 0; i < 20; i++) {
		struct daemon *d = daemon_start(conf, END);
		int port = daemon_port(d, "echo", "127.0.0.1");

		assert_true(daemon_wait_log(d, "notice: sockd " PACKAGE_VERSION " started", HARNESS_TIMEOUT_MS));
		echo_roundtrip(tcp_connect("127.0.0.1", port));
		assert_int_equal(daemon_stop(d, i % 2 ? SIGINT : SIGTERM, HARNESS_TIMEOUT_MS), 0);
		daemon_free(d);
	}
}

static void
test_run_bad_config(void **state)
{
	struct daemon *d = daemon_start("services = ( { name = \"echo\"; } );\n", END);

	(void)state;
	assert_int_equal(daemon_stop(d, 0, HARNESS_TIMEOUT_MS), 78);
	assert_non_null(strstr(d->log, "error: "));
	assert_non_null(strstr(d->log, "services.[0]: missing required setting \"handler\""));
	daemon_free(d);
}

static void
test_address_in_use(void **state)
{
	struct sockaddr_in in = { .sin_family = AF_INET };
	socklen_t len = sizeof(in);
	char conf[512];
	struct daemon *d;
	int fd;

	(void)state;
	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&in, sizeof(in)), 0);
	assert_int_equal(listen(fd, 1), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&in, &len), 0);
	snprintf(conf, sizeof(conf), "%sservices = ( { name = \"echo\"; handler = \"echo\";"
	    " listen = \"127.0.0.1:%d\"; } );\n", user_line(), ntohs(in.sin_port));
	d = daemon_start(conf, END);
	assert_int_equal(daemon_stop(d, 0, HARNESS_TIMEOUT_MS), 71);
	assert_non_null(strstr(d->log, "bind: Address already in use"));
	close(fd);
	daemon_free(d);
}

static void
test_log_level_option(void **state)
{
	char conf[512];
	struct daemon *d;

	(void)state;
	snprintf(conf, sizeof(conf), "log_level = \"info\";\n%sservices = ( { name = \"echo\";"
	    " handler = \"echo\"; listen = \"127.0.0.1:0\"; } );\n", user_line());
	/* -l overrides the file: at "notice" the info lines vanish. */
	d = daemon_start(conf, "-l", "notice", END);
	assert_true(daemon_wait_log(d, "notice: sockd " PACKAGE_VERSION " started", HARNESS_TIMEOUT_MS));
	assert_int_equal(daemon_stop(d, SIGTERM, HARNESS_TIMEOUT_MS), 0);
	assert_null(strstr(d->log, "info: "));
	assert_non_null(strstr(d->log, "notice: graceful stop"));
	daemon_free(d);
}

static void
test_root_serves_as_nobody(void **state)
{
	struct passwd *pw = getpwnam("nobody");
	struct daemon *d;
	pid_t w[4];

	(void)state;
	if (geteuid() != 0 || pw == NULL)
		skip();
	d = daemon_start("services = ( { name = \"echo\"; handler = \"echo\"; workers = 2;"
	    " listen = \"127.0.0.1:0\"; } );\n", END);
	assert_true(daemon_wait_log(d, "notice: sockd " PACKAGE_VERSION " started", HARNESS_TIMEOUT_MS));
	assert_non_null(strstr(d->log, "no \"user\" set: serving as \"nobody\""));
	assert_true(daemon_wait_workers(d, 2, HARNESS_TIMEOUT_MS));
	assert_int_equal(daemon_workers(d, w, 4), 2);
	/* The workers serve as nobody; the master keeps root to bind on reload. */
	for (long end = now_ms() + HARNESS_TIMEOUT_MS; now_ms() < end &&
	    (proc_id(w[0], "Uid") != (long)pw->pw_uid || proc_id(w[1], "Uid") != (long)pw->pw_uid);)
		usleep(10000);
	assert_int_equal(proc_id(w[0], "Uid"), (long)pw->pw_uid);
	assert_int_equal(proc_id(w[1], "Uid"), (long)pw->pw_uid);
	assert_int_equal(proc_id(d->pid, "Uid"), 0);
	assert_int_equal(daemon_stop(d, SIGTERM, HARNESS_TIMEOUT_MS), 0);
	daemon_free(d);
}

static void
test_root_explicit_user(void **state)
{
	struct daemon *d;

	(void)state;
	if (geteuid() != 0)
		skip();
	d = daemon_start("user = \"root\";\nservices = ( { name = \"echo\"; handler = \"echo\";"
	    " listen = \"127.0.0.1:0\"; } );\n", NULL);
	assert_true(daemon_wait_log(d, "notice: sockd " PACKAGE_VERSION " started", HARNESS_TIMEOUT_MS));
	assert_true(daemon_wait_workers(d, 4, HARNESS_TIMEOUT_MS));
	assert_int_equal(proc_id(d->pid, "Uid"), 0);
	assert_int_equal(daemon_stop(d, SIGTERM, HARNESS_TIMEOUT_MS), 0);
	daemon_free(d);
}

int
main(void)
{
#define T(f) cmocka_unit_test_teardown(f, harness_teardown)
	const struct CMUnitTest tests[] = {
		T(test_version_and_help),
		T(test_usage_errors),
		T(test_check_good),
		T(test_check_shipped),
		T(test_check_bad),
		T(test_check_syntax_and_missing),
		T(test_check_mapped_address),
		T(test_check_wire_strings),
		T(test_check_paths),
		T(test_dump_config),
		T(test_serve_echo),
		T(test_stop_with_client_connected),
		T(test_sighup_reloads),
		T(test_stop_right_after_disconnect),
		T(test_run_bad_config),
		T(test_address_in_use),
		T(test_log_level_option),
		T(test_root_serves_as_nobody),
		T(test_root_explicit_user),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
