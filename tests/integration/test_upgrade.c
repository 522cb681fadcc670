/*
 * test_upgrade.c - change without loss, in the master: the binary upgrade
 * in place (SIGUSR2) and the bound on overlapping generations.
 *
 * The daemon runs from a copy of the binary in a directory of the test's
 * own, so the test can put another binary at that path: tests/sockd-b
 * (the same daemon under version PACKAGE_VERSION "+b"), or scripts that
 * fail the checks the master makes before it commits to the exec.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testlib.h"

#define VERSION_B PACKAGE_VERSION "+b"

static char *bindir;			/* the test's: the binary the daemon runs */

static char *
path_in(const char *name)
{
	char *p;

	assert_true(asprintf(&p, "%s/%s", bindir, name) > 0);
	return p;
}

/* Put FROM (a file) at the daemon's binary path, as a package would:
 * a new file renamed over the old one. */
static void
install_binary(const char *from)
{
	char *tmp = path_in("sockd.new"), *dst = path_in("sockd");
	FILE *in = fopen(from, "rb"), *out = fopen(tmp, "wb");
	char buf[65536];
	size_t n;

	assert_non_null(in);
	assert_non_null(out);
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		assert_int_equal(fwrite(buf, 1, n, out), n);
	assert_int_equal(ferror(in), 0);
	fclose(in);
	assert_int_equal(fclose(out), 0);
	assert_int_equal(chmod(tmp, 0755), 0);
	assert_int_equal(rename(tmp, dst), 0);
	free(tmp);
	free(dst);
}

static void
install_script(const char *text)
{
	char *p = harness_write(bindir, "script", text);

	install_binary(p);
	free(p);
}

static char *
sockd_b(void)
{
	const char *dir = getenv("SOCKD_BUILDDIR");
	char *p;

	assert_non_null(dir);
	assert_true(asprintf(&p, "%s/tests/sockd-b", dir) > 0);
	return p;
}

static int
setup(void **state)
{
	(void)state;
	bindir = harness_tmpdir();
	install_binary(harness_sockd());
	return 0;
}

static int
teardown(void **state)
{
	harness_rmdir(bindir);
	bindir = NULL;
	return harness_teardown(state);
}

static struct daemon *
launch(const char *conf, int *port_r)
{
	char *bin = path_in("sockd");
	struct launch l = { .binary = bin, .conf = conf, .notify = true };
	struct daemon *d = daemon_launch(&l);

	*port_r = daemon_port(d, "echo", "127.0.0.1");
	assert_true(*port_r > 0);
	assert_true(daemon_wait_note(d, "READY=1", T_MS));
	free(bin);
	return d;
}

static const char *
conf_with_control(void)
{
	return config("control = { path = \"%s/control\"; };\n"
	    "services = (\n"
	    "  { name = \"echo\"; handler = \"echo\"; framing = \"line\"; listen = \"127.0.0.1:0\";"
	    "    workers = 2; timeouts = { graceful = 20.0; }; },\n"
	    "  { name = \"web\"; handler = \"http\"; model = \"event\"; workers = 1;"
	    "    listen = \"unix:%s/web.sock\"; }\n);\n", bindir, bindir);
}

/* `sockd status` through the control socket, with the binary at PATH. */
static char *
status_of(const char *bin)
{
	char *ctl = path_in("control"), *cmd, *out = calloc(1, 65536);
	size_t len = 0, n;
	FILE *p;

	assert_non_null(out);
	assert_true(asprintf(&cmd, "'%s' status -s '%s'", bin, ctl) > 0);
	p = popen(cmd, "r");
	assert_non_null(p);
	while (len < 65535 && (n = fread(out + len, 1, 65535 - len, p)) > 0)
		len += n;
	assert_int_equal(pclose(p), 0);
	free(cmd);
	free(ctl);
	return out;
}

/*
 * The upgrade to version B under a held connection: same pid, RELOADING=1
 * with MONOTONIC_USEC then READY=1, the new version answers (status says
 * which, and from which), the held connection still echoes and, once it
 * closes, the old workers are gone. Then back to A: a handover made by the
 * new image works as well as the first.
 */
static void
test_upgrade_in_place(void **state)
{
	char *b = sockd_b(), *out;
	struct daemon *d;
	pid_t before[16], after[16];
	size_t n_before, n_after;
	int port, held, web;

	(void)state;
	d = launch(conf_with_control(), &port);
	held = tcp_connect("127.0.0.1", port);
	assert_true(held >= 0);
	echo_line(held, "before\n");
	n_before = daemon_workers(d, before, 16);
	assert_int_equal(n_before, 3);
	install_binary(b);
	d->notes_len = 0;
	d->notes[0] = '\0';
	assert_int_equal(kill(d->pid, SIGUSR2), 0);
	assert_true(daemon_wait_log(d, "notice: upgraded from sockd " PACKAGE_VERSION
	    " to sockd " VERSION_B ": generation 2, 3 workers of the previous image drain", T_MS));
	assert_true(daemon_wait_note(d, "READY=1", T_MS));
	assert_non_null(strstr(d->notes, "RELOADING=1\nMONOTONIC_USEC="));
	assert_true(strstr(d->notes, "RELOADING=1") < strstr(d->notes, "READY=1"));
	assert_int_equal(kill(d->pid, 0), 0);	/* the same process, still ours */
	assert_true(answers(port));
	echo_line(held, "during\n");	/* the old worker serves what it holds */
	out = status_of(b);
	assert_non_null(strstr(out, "sockd " VERSION_B " (pid "));
	assert_non_null(strstr(out, "upgrades: 1 ok, 0 failed; last "));
	assert_non_null(strstr(out, "from " PACKAGE_VERSION "\n"));
	free(out);
	/* The old generation's idle workers go; the busy one goes with its client. */
	for (long long end = now_ms() + T_MS; now_ms() < end; usleep(10000))
		if (pid_gone(before[0]) + pid_gone(before[1]) + pid_gone(before[2]) == 2)
			break;
	assert_int_equal(pid_gone(before[0]) + pid_gone(before[1]) + pid_gone(before[2]), 2);
	echo_line(held, "after\n");
	close(held);
	for (size_t i = 0; i < n_before; i++) {
		long long end = now_ms() + T_MS;

		while (!pid_gone(before[i]) && now_ms() < end)
			usleep(10000);
		assert_true(pid_gone(before[i]));
	}
	assert_true(daemon_wait_workers(d, 3, T_MS));
	n_after = daemon_workers(d, after, 16);
	assert_int_equal(n_after, 3);
	/* And back again: the handover of an image that was handed over. */
	web = tcp_connect("127.0.0.1", port);
	assert_true(web >= 0);
	install_binary(harness_sockd());
	assert_int_equal(kill(d->pid, SIGUSR2), 0);
	assert_true(daemon_wait_log(d, "notice: upgraded from sockd " VERSION_B
	    " to sockd " PACKAGE_VERSION ": generation 3", T_MS));
	echo_line(web, "still\n");
	close(web);
	assert_true(answers(port));
	assert_true(daemon_wait_workers(d, 3, T_MS));
	assert_int_equal(count(d->log, "killed"), 0);
	assert_int_equal(count(d->log, "exited with status"), 0);
	stop(d);
	free(b);
}

/* Every check before the exec that fails leaves the running image as it
 * was: same workers, still answering, READY=1 again, the reason logged. */
static void
refused(struct daemon *d, int port, const char *why)
{
	pid_t before[16], after[16];
	size_t n = daemon_workers(d, before, 16);

	d->notes_len = 0;
	d->notes[0] = '\0';
	assert_int_equal(kill(d->pid, SIGUSR2), 0);
	assert_true(daemon_wait_log(d, why, 2 * T_MS));	/* a hang is cut at 10 s */
	assert_true(daemon_wait_log(d, "; sockd " PACKAGE_VERSION " serves on", T_MS));
	assert_true(daemon_wait_note(d, "READY=1", T_MS));
	assert_non_null(strstr(d->notes, "RELOADING=1"));
	assert_true(answers(port));
	assert_int_equal(daemon_workers(d, after, 16), n);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(before[i], after[i]);
}

static void
test_upgrade_refused(void **state)
{
	struct daemon *d;
	char *bin = path_in("sockd"), *out;
	int port, held;

	(void)state;
	d = launch(conf_with_control(), &port);
	held = tcp_connect("127.0.0.1", port);
	assert_true(held >= 0);
	echo_line(held, "held\n");
	install_script("#!/bin/sh\nexit 1\n");
	refused(d, port, "error: upgrade failed: ");
	assert_true(daemon_wait_log(d, "sockd -V: exit status 1", T_MS));
	install_script("#!/bin/sh\necho 'sockd 9.9'\necho 'state layout: 0/0'\n");
	refused(d, port, "shares memory in another layout (0/0, ours ");
	install_script("#!/bin/sh\necho 'sockd 9.9'\n");
	refused(d, port, "cannot take over a running master (no state layout in -V)");
	install_script("#!/bin/sh\nsleep 30\n");
	refused(d, port, "-V did not finish within 10 s");
	/* The real binary, but the file on disk no longer passes -t. */
	install_binary(harness_sockd());
	{
		FILE *f = fopen(d->conf, "w");

		assert_non_null(f);
		fputs("services = ( { name = \"echo\"; } );\n", f);
		assert_int_equal(fclose(f), 0);
	}
	refused(d, port, "-t -c ");
	echo_line(held, "still held\n");
	close(held);
	unlink(bin);
	refused(d, port, "sockd: No such file or directory");
	install_binary(harness_sockd());
	out = status_of(bin);
	assert_non_null(strstr(out, "upgrades: 0 ok, 6 failed; last "));
	free(out);
	assert_int_equal(count(d->log, "upgraded from"), 0);
	stop(d);
	free(bin);
}

/*
 * A new image that passes the checks and then cannot take over (here: a
 * wrapper runs the real binary on a configuration that does not load)
 * lets the adopted workers finish what they hold and exits with a failure
 * status: the held connection echoes on until its client closes it, and
 * only then does the process end - with 78, which systemd sees.
 */
static void
test_upgrade_new_image_fails(void **state)
{
	struct daemon *d;
	char *script, *bad = path_in("bad.conf"), *bin = path_in("sockd"), *real = path_in("real");
	int port, held;

	(void)state;
	d = launch(conf_with_control(), &port);
	held = tcp_connect("127.0.0.1", port);
	assert_true(held >= 0);
	echo_line(held, "held\n");
	free(harness_write(bindir, "bad.conf", "services = ( { name = \"echo\"; } );\n"));
	install_binary(harness_sockd());
	assert_int_equal(rename(bin, real), 0);
	assert_true(asprintf(&script, "#!/bin/sh\ncase \"$1\" in -V|-t) exec %s/real \"$@\";; esac\n"
	    "exec %s/real -c %s\n", bindir, bindir, bad) > 0);
	install_script(script);
	assert_int_equal(kill(d->pid, SIGUSR2), 0);
	assert_true(daemon_wait_log(d, "notice: upgrade abandoned: 3 workers of the previous "
	    "image finish their connections", T_MS));
	echo_line(held, "still\n");	/* nothing accepted is dropped */
	usleep(300 * 1000);
	assert_int_equal(kill(d->pid, 0), 0);	/* waits for the held connection */
	close(held);
	assert_int_equal(daemon_stop(d, 0, T_MS), 78);
	daemon_free(d);
	free(script);
	free(bad);
	free(bin);
	free(real);
}

/*
 * Clients that never close hold a draining generation until its
 * graceful timeout; reloads faster than that stop at four generations:
 * a fifth ends the oldest one's connections, and says so.
 */
static void
test_generations_bounded(void **state)
{
	struct daemon *d;
	int port, held[5];

	(void)state;
	d = start(config("services = ( { name = \"echo\"; handler = \"echo\"; framing = \"line\";"
	    " listen = \"127.0.0.1:0\"; workers = 1; timeouts = { graceful = 60.0; }; } );\n"),
	    &port);
	/* Connection I is held by generation I + 1. */
	for (int i = 0; i < 5; i++) {
		char want[64];

		held[i] = tcp_connect("127.0.0.1", port);
		assert_true(held[i] >= 0);
		echo_line(held[i], "hold\n");
		assert_int_equal(kill(d->pid, SIGHUP), 0);
		snprintf(want, sizeof(want), "reloaded: generation %d", i + 2);
		assert_true(daemon_wait_log(d, want, T_MS));
		assert_true(answers(port));
		if (i == 3)	/* generations 1 to 4 draining, 5 serving */
			assert_true(daemon_wait_log(d, "warning: reload: 5 generations would run "
			    "at once: generation 1 ends now (1 worker, 1 connection cut)", T_MS));
	}
	assert_true(daemon_wait_log(d, "generation 2 ends now (1 worker, 1 connection cut)",
	    T_MS));
	assert_true(recv_eof(held[0], T_MS));
	assert_true(recv_eof(held[1], T_MS));
	assert_true(daemon_wait_workers(d, 4, T_MS));	/* generations 3 to 6 */
	for (int i = 2; i < 5; i++)
		echo_line(held[i], "still\n");
	for (int i = 0; i < 5; i++)
		close(held[i]);
	assert_true(daemon_wait_workers(d, 1, T_MS));
	assert_int_equal(count(d->log, "ends now"), 2);
	stop(d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_upgrade_in_place, setup, teardown),
		cmocka_unit_test_setup_teardown(test_upgrade_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_upgrade_new_image_fails, setup, teardown),
		cmocka_unit_test_teardown(test_generations_bounded, harness_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
