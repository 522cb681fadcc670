/*
 * test_master.c - the master and its prefork pool, through the real binary:
 * workers kept whole, crash-loop backoff, dying with the master, graceful
 * and fast stop, reload (workers, listeners, broken config, no refused
 * connection), sd_notify, socket activation, every handler under every
 * framing on IPv4, IPv6 and Unix sockets.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "testlib.h"

static void
test_pool_is_kept_whole(void **state)
{
	pid_t before[8], after[8];
	struct daemon *d;
	int port;

	(void)state;
	d = start(config("services = ( { name = \"echo\"; handler = \"echo\"; framing = \"line\";"
	    " listen = \"127.0.0.1:0\"; workers = 3; } );\n"), &port);
	assert_true(daemon_wait_workers(d, 3, T_MS));
	assert_int_equal(daemon_workers(d, before, 8), 3);
	assert_true(answers(port));
	assert_int_equal(kill(before[1], SIGKILL), 0);
	assert_true(daemon_wait_log(d, "killed by signal 9", T_MS));
	/* Three again, the killed one not among them (until reaped it is listed). */
	for (long long end = now_ms() + T_MS;; usleep(10000)) {
		size_t n = daemon_workers(d, after, 8), other = 0;

		for (size_t i = 0; i < n; i++)
			other += after[i] != before[1];
		if (n == 3 && other == 3)
			break;
		assert_true(now_ms() < end);
	}
	for (int i = 0; i < 10; i++)
		assert_true(answers(port));
	assert_int_equal(daemon_stop(d, SIGTERM, T_MS), 0);
	daemon_free(d);
}

static void
test_workers_die_with_master(void **state)
{
	struct daemon *d;
	pid_t w[8];
	size_t n;
	int port;

	(void)state;
	d = start(config("services = ( { name = \"echo\"; handler = \"echo\";"
	    " listen = \"127.0.0.1:0\"; workers = 3; } );\n"), &port);
	assert_true(daemon_wait_workers(d, 3, T_MS));
	n = daemon_workers(d, w, 8);
	assert_int_equal(daemon_stop(d, SIGKILL, T_MS), 128 + SIGKILL);
	for (long long end = now_ms() + 2000; now_ms() < end;) {
		size_t alive = 0;

		for (size_t i = 0; i < n; i++)
			alive += !pid_gone(w[i]);
		if (alive == 0)
			break;
		usleep(20000);
	}
	for (size_t i = 0; i < n; i++)
		assert_true(pid_gone(w[i]));
	daemon_free(d);
}

static void
test_crash_loop_backs_off(void **state)
{
	struct launch l = { .binary = getenv("SOCKD_TEST"), .notify = true };
	struct daemon *d;
	int port, kills = 0;

	(void)state;
	assert_non_null(l.binary);
	l.conf = config("services = ( { name = \"echo\"; handler = \"crash\"; framing = \"line\";"
	    " listen = \"127.0.0.1:0\"; workers = 4; } );\n");
	d = daemon_launch(&l);
	port = daemon_port(d, "echo", "127.0.0.1");
	assert_true(port > 0);
	assert_true(daemon_wait_note(d, "READY=1", T_MS));
	/* A client that connects without pause for 5 s; every message kills a worker. */
	for (long long end = now_ms() + 5000; now_ms() < end;) {
		int fd = tcp_connect("127.0.0.1", port);

		if (fd >= 0) {
			send_all(fd, "boom\n", 5);
			recv_eof(fd, 500);
			close(fd);
		}
	}
	assert_true(daemon_wait_note(d, "backoff after", T_MS));
	while (daemon_read_log(d, now_ms() + 200))
		;
	for (const char *p = d->log; (p = strstr(p, "killed by signal 6")) != NULL; p++)
		kills++;
	/* 4 at start, then one probe per backoff step: 10 ms doubling, ~9 in 5 s. */
	assert_in_range(kills, 2, 25);
	assert_int_equal(daemon_stop(d, SIGTERM, T_MS), 0);
	daemon_free(d);
}

static void
test_graceful_stop_finishes_connection(void **state)
{
	struct daemon *d;
	char buf[16];
	int port, fd, other;

	(void)state;
	d = start(config("services = ( { name = \"echo\"; handler = \"echo\"; framing = \"line\";"
	    " listen = \"127.0.0.1:0\"; workers = 2; } );\n"), &port);
	assert_true(daemon_wait_workers(d, 2, T_MS));
	fd = tcp_connect("127.0.0.1", port);
	echo_line(fd, "first\n");
	assert_int_equal(send_all(fd, "hal", 3), 0);	/* a message in flight */
	assert_int_equal(kill(d->pid, SIGTERM), 0);
	assert_true(daemon_wait_log(d, "graceful stop", T_MS));
	usleep(200 * 1000);
	assert_int_equal(send_all(fd, "f\n", 2), 0);
	assert_int_equal(recv_exact(fd, buf, 5, T_MS), 5);
	assert_memory_equal(buf, "half\n", 5);
	/* Nobody accepts new connections any more. */
	other = tcp_connect("127.0.0.1", port);
	if (other >= 0) {
		assert_true(recv_eof(other, T_MS));
		close(other);
	}
	close(fd);
	assert_int_equal(daemon_stop(d, 0, T_MS), 0);
	assert_non_null(strstr(d->log, "notice: stopped"));
	daemon_free(d);
}

static void
test_graceful_timeout_then_kill(void **state)
{
	struct daemon *d;
	long long t0;
	int port, fd;

	(void)state;
	d = start(config("services = ( { name = \"echo\"; handler = \"echo\";"
	    " listen = \"127.0.0.1:0\"; workers = 1; timeouts = { graceful = 0.5; }; } );\n"), &port);
	fd = tcp_connect("127.0.0.1", port);
	echo_line(fd, "idle\n");
	t0 = now_ms();
	assert_int_equal(daemon_stop(d, SIGTERM, T_MS), 0);
	assert_true(now_ms() - t0 >= 400);
	assert_non_null(strstr(d->log, "killed: it had been asked to stop"));
	assert_true(recv_eof(fd, T_MS));
	close(fd);
	daemon_free(d);
}

static void
test_fast_stop(void **state)
{
	struct daemon *d;
	int port, fd;

	(void)state;
	d = start(config("services = ( { name = \"echo\"; handler = \"echo\";"
	    " listen = \"127.0.0.1:0\"; workers = 2; } );\n"), &port);
	fd = tcp_connect("127.0.0.1", port);
	echo_line(fd, "x\n");
	assert_int_equal(daemon_stop(d, SIGQUIT, 3000), 0);
	assert_non_null(strstr(d->log, "fast stop"));
	assert_true(recv_eof(fd, T_MS));
	close(fd);
	daemon_free(d);
}

static void
test_ttin_ttou(void **state)
{
	struct daemon *d;
	int port;

	(void)state;
	d = start(config("services = ( { name = \"echo\"; handler = \"echo\";"
	    " listen = \"127.0.0.1:0\"; workers = 2; } );\n"), &port);
	assert_true(daemon_wait_workers(d, 2, T_MS));
	assert_int_equal(kill(d->pid, SIGTTIN), 0);
	assert_true(daemon_wait_workers(d, 3, T_MS));
	assert_int_equal(kill(d->pid, SIGTTOU), 0);
	assert_true(daemon_wait_workers(d, 2, T_MS));
	assert_int_equal(kill(d->pid, SIGTTOU), 0);
	assert_true(daemon_wait_workers(d, 1, T_MS));
	assert_int_equal(kill(d->pid, SIGTTOU), 0);	/* never below one */
	assert_true(daemon_wait_log(d, "staying at 1 workers", T_MS));
	assert_true(answers(port));
	assert_int_equal(daemon_stop(d, SIGTERM, T_MS), 0);
	daemon_free(d);
}

static void
wait_reloaded(struct daemon *d, int generation)
{
	char needle[64];

	snprintf(needle, sizeof(needle), "reloaded: generation %d", generation);
	assert_true(daemon_wait_log(d, needle, T_MS));
}

static void
test_reload_workers_and_listeners(void **state)
{
	struct launch l = { .notify = true };
	char sock[512], text[1024];
	pid_t old[8], now_pids[8];
	struct daemon *d;
	int port, port6, fd;

	(void)state;
	l.conf = config("services = ( { name = \"echo\"; handler = \"echo\"; framing = \"line\";"
	    " listen = [ \"127.0.0.1:0\" ]; workers = 2; } );\n");
	d = daemon_launch(&l);
	port = daemon_port(d, "echo", "127.0.0.1");
	assert_true(daemon_wait_note(d, "READY=1", T_MS));
	assert_true(daemon_wait_workers(d, 2, T_MS));
	assert_int_equal(daemon_workers(d, old, 8), 2);
	/* Three workers, the same TCP listener, plus IPv6 and a Unix socket. */
	snprintf(sock, sizeof(sock), "%s/echo.sock", d->dir);
	snprintf(text, sizeof(text), "services = ( { name = \"echo\"; handler = \"echo\"; framing = \"line\";"
	    " listen = [ \"127.0.0.1:0\", \"[::1]:0\", \"unix:%s\" ]; workers = 3; } );\n", sock);
	daemon_reload(d, config("%s", text));
	wait_reloaded(d, 2);
	assert_true(daemon_wait_note(d, "RELOADING=1\nMONOTONIC_USEC=", T_MS));
	port6 = daemon_port(d, "echo", "[::1]");
	assert_true(port6 > 0);
	/* Three workers, none of the old generation (old and new overlap briefly). */
	for (long long end = now_ms() + T_MS;; usleep(10000)) {
		size_t n = daemon_workers(d, now_pids, 8), fresh = 0;

		for (size_t i = 0; i < n; i++)
			fresh += now_pids[i] != old[0] && now_pids[i] != old[1];
		if (n == 3 && fresh == 3)
			break;
		assert_true(now_ms() < end);
	}
	assert_true(answers(port));		/* same socket, same port */
	fd = tcp_connect("::1", port6);
	echo_line(fd, "six\n");
	close(fd);
	fd = unix_connect(sock);
	echo_line(fd, "unix\n");
	close(fd);
	/* Remove the IPv6 and Unix listeners again. */
	daemon_reload(d, config("services = ( { name = \"echo\"; handler = \"echo\"; framing = \"line\";"
	    " listen = [ \"127.0.0.1:0\" ]; workers = 1; } );\n"));
	wait_reloaded(d, 3);
	assert_true(daemon_wait_workers(d, 1, T_MS));
	assert_true(tcp_connect("::1", port6) < 0);
	assert_true(unix_connect(sock) < 0);
	assert_int_equal(access(sock, F_OK), -1);	/* the socket file is gone */
	assert_true(answers(port));
	assert_int_equal(daemon_stop(d, SIGTERM, T_MS), 0);
	daemon_free(d);
}

static void
test_reload_broken_config(void **state)
{
	struct launch l = { .notify = true };
	struct daemon *d;
	int port;

	(void)state;
	l.conf = config("services = ( { name = \"echo\"; handler = \"echo\"; framing = \"line\";"
	    " listen = \"127.0.0.1:0\"; workers = 2; } );\n");
	d = daemon_launch(&l);
	port = daemon_port(d, "echo", "127.0.0.1");
	assert_true(daemon_wait_note(d, "READY=1", T_MS));
	daemon_reload(d, "services = ( { name = \"echo\"; workers = \"lots\"; } );\n");
	assert_true(daemon_wait_log(d, "reload failed", T_MS));
	assert_non_null(strstr(d->log, "services.[0].workers: must be an integer"));
	assert_true(daemon_wait_note(d, "STATUS=reload failed: ", T_MS));
	/* RELOADING=1 first, and READY=1 again after the failed reload too. */
	{
		const char *r = strstr(d->notes, "RELOADING=1");

		assert_non_null(r);
		assert_true(daemon_wait_note(d, "READY=1", T_MS));
		for (long long end = now_ms() + T_MS; strstr(r, "READY=1") == NULL && now_ms() < end;) {
			daemon_wait_note(d, "STATUS=", 50);
			r = strstr(d->notes, "RELOADING=1");
		}
		assert_non_null(strstr(r, "READY=1"));
	}
	assert_true(answers(port));
	assert_true(daemon_wait_workers(d, 2, T_MS));
	/* A good reload clears the failure from STATUS. */
	daemon_reload(d, config("services = ( { name = \"echo\"; handler = \"echo\"; framing = \"line\";"
	    " listen = \"127.0.0.1:0\"; workers = 2; } );\n"));
	wait_reloaded(d, 2);
	assert_true(daemon_wait_note(d, "STATUS=echo: 2 workers", T_MS));
	assert_int_equal(daemon_stop(d, SIGTERM, T_MS), 0);
	daemon_free(d);
}

/* A client connecting without pause through 10 reloads is never refused. */
static void
test_reload_refuses_nobody(void **state)
{
	struct daemon *d;
	int port, served = 0, failed = 0;

	(void)state;
	d = start(config("services = ( { name = \"echo\"; handler = \"echo\"; framing = \"line\";"
	    " listen = \"127.0.0.1:0\"; workers = 2; } );\n"), &port);
	for (int r = 2; r <= 11; r++) {
		char needle[64];

		assert_int_equal(kill(d->pid, SIGHUP), 0);
		snprintf(needle, sizeof(needle), "reloaded: generation %d", r);
		for (long long end = now_ms() + T_MS; now_ms() < end;) {
			if (answers(port))
				served++;
			else
				failed++;
			daemon_read_log(d, now_ms() + 1);
			if (strstr(d->log, needle) != NULL && served > r * 20)
				break;
		}
	}
	assert_int_equal(failed, 0);
	assert_true(served >= 200);
	assert_int_equal(daemon_stop(d, SIGTERM, T_MS), 0);
	daemon_free(d);
}

static void
test_notify_protocol(void **state)
{
	struct launch l = { .notify = true };
	struct daemon *d;

	(void)state;
	l.conf = config("services = ( { name = \"echo\"; handler = \"echo\";"
	    " listen = \"127.0.0.1:0\"; workers = 2; } );\n");
	d = daemon_launch(&l);
	assert_true(daemon_wait_note(d, "READY=1", T_MS));
	assert_true(daemon_wait_note(d, "STATUS=echo: 2 workers (0 busy, 2 idle), 0 conns, 0 req/s", T_MS));
	assert_int_equal(daemon_stop(d, SIGTERM, T_MS), 0);
	daemon_read_log(d, now_ms() + 1);
	assert_true(daemon_wait_note(d, "STOPPING=1", T_MS));
	daemon_free(d);
}

static void
test_socket_activation(void **state)
{
	const char *wrapper[] = { "systemd-socket-activate", "-l", NULL, "--fdname=echo", NULL };
	struct launch l = { .wrapper = wrapper };
	char addr[32];
	struct daemon *d;
	int port = free_port(false), fd;

	(void)state;
	if (access("/usr/bin/systemd-socket-activate", X_OK) != 0)
		skip();
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	wrapper[2] = addr;
	/* The same address configured: taken from systemd, not bound again. */
	l.conf = config("services = ( { name = \"echo\"; handler = \"echo\"; framing = \"line\";"
	    " listen = [ \"%s\", \"127.0.0.1:0\" ]; workers = 2; } );\n", addr);
	d = daemon_launch(&l);
	assert_true(daemon_wait_log(d, "Listening on", T_MS));
	fd = tcp_connect("127.0.0.1", port);	/* systemd-socket-activate starts sockd now */
	echo_line(fd, "activated\n");
	close(fd);
	assert_true(daemon_wait_log(d, "(from systemd)", T_MS));
	assert_int_equal(daemon_stop(d, SIGTERM, T_MS), 0);
	daemon_free(d);

	/* A socket whose name matches no service is an error, named in the log. */
	wrapper[3] = "--fdname=nobody-here";
	port = free_port(false);
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	d = daemon_launch(&l);
	assert_true(daemon_wait_log(d, "Listening on", T_MS));
	fd = tcp_connect("127.0.0.1", port);
	assert_true(daemon_wait_log(d, "socket from systemd named \"nobody-here\" matches no service", T_MS));
	assert_int_equal(daemon_stop(d, 0, T_MS), 78);	/* a configuration error */
	if (fd >= 0)
		close(fd);
	daemon_free(d);
}

static void
test_workers_drop_root(void **state)
{
	struct passwd *pw = getpwnam("nobody");
	struct group *gr = getgrnam("nogroup");
	struct daemon *d;
	pid_t w[4];
	int port;

	(void)state;
	if (geteuid() != 0 || pw == NULL || gr == NULL)
		skip();
	d = start("user = \"nobody\"; group = \"nogroup\";\nservices = ( { name = \"echo\";"
	    " handler = \"echo\"; listen = \"127.0.0.1:0\"; workers = 1; } );\n", &port);
	assert_true(daemon_wait_workers(d, 1, T_MS));
	assert_int_equal(daemon_workers(d, w, 4), 1);
	assert_true(answers(port));	/* it serves only after dropping root */
	assert_int_equal(proc_id(w[0], "Uid"), (long)pw->pw_uid);
	assert_int_equal(proc_id(w[0], "Gid"), (long)gr->gr_gid);
	{	/* root's supplementary groups are gone too (initgroups) */
		char path[64], line[256];
		FILE *fp;

		snprintf(path, sizeof(path), "/proc/%ld/status", (long)w[0]);
		assert_non_null(fp = fopen(path, "re"));
		while (fgets(line, sizeof(line), fp) != NULL)
			if (strncmp(line, "Groups:", 7) == 0) {
				assert_null(strstr(line, "\t0 "));
				assert_null(strstr(line, " 0 "));
			}
		fclose(fp);
	}
	assert_int_equal(daemon_stop(d, SIGTERM, T_MS), 0);
	daemon_free(d);
}

static void
test_unix_socket_files(void **state)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	char stale[100], live[100], text[2048];
	struct passwd *pw = getpwnam("nobody");
	char *dir = harness_tmpdir();
	struct stat st;
	int fd, lfd;

	(void)state;
	/* A socket file nobody listens on is stale: sockd replaces it. */
	snprintf(stale, sizeof(stale), "%s/stale.sock", dir);
	snprintf(un.sun_path, sizeof(un.sun_path), "%s", stale);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&un, sizeof(un)), 0);
	close(fd);
	snprintf(text, sizeof(text), "%sservices = ( { name = \"echo\"; handler = \"echo\";"
	    " framing = \"line\"; listen = \"unix:%s\"; unix = { mode = \"0640\";%s }; } );\n",
	    geteuid() == 0 ? "user = \"nobody\";\n" : "", stale,
	    geteuid() == 0 && pw != NULL ? " owner = \"nobody\";" : "");
	{
		struct daemon *e = daemon_start(text, END);

		assert_true(daemon_wait_log(e, STARTED, T_MS));
		assert_non_null(strstr(e->log, "removed stale socket"));
		assert_int_equal(stat(stale, &st), 0);
		assert_true(S_ISSOCK(st.st_mode));
		assert_int_equal(st.st_mode & 0777, 0640);
		if (geteuid() == 0 && pw != NULL)
			assert_int_equal(st.st_uid, pw->pw_uid);
		fd = unix_connect(stale);
		echo_line(fd, "unix\n");
		close(fd);
		assert_int_equal(daemon_stop(e, SIGTERM, T_MS), 0);
		assert_int_equal(access(stale, F_OK), -1);	/* removed on stop */
		daemon_free(e);
	}
	/* A socket somebody listens on is not taken over. */
	snprintf(live, sizeof(live), "%s/live.sock", dir);
	snprintf(un.sun_path, sizeof(un.sun_path), "%s", live);
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&un, sizeof(un)), 0);
	assert_int_equal(listen(lfd, 1), 0);
	snprintf(text, sizeof(text), "%sservices = ( { name = \"echo\"; handler = \"echo\";"
	    " listen = \"unix:%s\"; } );\n", geteuid() == 0 ? "user = \"nobody\";\n" : "", live);
	{
		struct daemon *e = daemon_start(text, END);

		assert_int_equal(daemon_stop(e, 0, T_MS), 71);
		assert_non_null(strstr(e->log, "another process is listening on it"));
		daemon_free(e);
	}
	assert_int_equal(access(live, F_OK), 0);
	close(lfd);
	harness_rmdir(dir);
}

/* As root: a port below 1024 is bound before the workers drop to nobody. */
static void
test_privileged_port(void **state)
{
	struct sockaddr_in in = { .sin_family = AF_INET };
	struct daemon *d;
	int port = 0, fd;

	(void)state;
	if (geteuid() != 0)
		skip();
	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (int p = 1023; p > 900 && port == 0; p--) {	/* a free one */
		fd = socket(AF_INET, SOCK_STREAM, 0);
		in.sin_port = htons((uint16_t)p);
		if (bind(fd, (struct sockaddr *)&in, sizeof(in)) == 0)
			port = p;
		close(fd);
	}
	assert_true(port > 0);
	d = daemon_start(config("services = ( { name = \"echo\"; handler = \"echo\"; framing = \"line\";"
	    " listen = \"127.0.0.1:%d\"; workers = 2; } );\n", port), END);
	assert_true(daemon_wait_log(d, STARTED, T_MS));
	assert_true(answers(port));
	assert_int_equal(daemon_stop(d, SIGTERM, T_MS), 0);
	daemon_free(d);
}

/* Recycled after max_requests, replaced, and no request fails meanwhile. */
static void
test_max_requests(void **state)
{
	struct daemon *d;
	int port;

	(void)state;
	d = start(config("services = ( { name = \"echo\"; handler = \"echo\"; framing = \"line\";"
	    " listen = \"127.0.0.1:0\"; workers = 1; max_requests = 5; } );\n"), &port);
	for (int i = 0; i < 20; i++)
		assert_true(answers(port));
	while (daemon_read_log(d, now_ms() + 200))
		;
	assert_true(count(d->log, "worker recycles after 5 connections") >= 3);
	assert_null(strstr(d->log, "killed"));
	assert_int_equal(daemon_stop(d, SIGTERM, T_MS), 0);
	daemon_free(d);
}

/* A worker that recycles while it still has a connection wakes the master,
 * so its replacement starts at once, not at the master's next 1 s tick:
 * ten rounds of it take well under the five seconds ticks would cost. */
static void
test_recycle_wakes_master(void **state)
{
	struct launch l = { .notify = true };
	struct daemon *d;
	long long t0;
	int port, held[10];

	(void)state;
	l.conf = config("services = ( { name = \"echo\"; handler = \"echo\"; framing = \"line\";"
	    " listen = \"127.0.0.1:0\"; model = \"event\"; workers = 1; max_requests = 2; } );\n");
	d = daemon_launch(&l);
	port = daemon_port(d, "echo", "127.0.0.1");
	/* After READY=1 the master no longer polls every 20 ms for it. */
	assert_true(daemon_wait_note(d, "READY=1", T_MS));
	t0 = now_ms();
	for (int i = 0; i < 10; i++) {
		held[i] = tcp_connect("127.0.0.1", port);	/* keeps its worker draining */
		echo_line(held[i], "held\n");
		assert_true(answers(port));	/* the second: the worker recycles */
		daemon_read_notes(d);	/* a full notify socket would block the master */
	}
	assert_true(answers(port));		/* served by the eleventh worker */
	print_message("10 recycles with a connection held: %lld ms\n", now_ms() - t0);
	assert_true(now_ms() - t0 < 3000);
	for (int i = 0; i < 10; i++)
		close(held[i]);
	assert_int_equal(daemon_stop(d, SIGTERM, T_MS), 0);
	daemon_free(d);
}

/* A handler stuck in a message is killed by the heartbeat; the rest goes on. */
static void
test_hung_worker_killed(void **state)
{
	struct daemon *d;
	int port, fd;

	(void)state;
	d = start_with(getenv("SOCKD_TEST"),
	    config("services = ( { name = \"echo\"; handler = \"hang\"; framing = \"line\";"
	    " listen = \"127.0.0.1:0\"; workers = 2; timeouts = { heartbeat = 1; }; } );\n"), &port);
	fd = tcp_connect("127.0.0.1", port);
	assert_int_equal(send_all(fd, "hang\n", 5), 0);
	assert_true(daemon_wait_log(d, "hung: busy with no heartbeat", T_MS));
	assert_non_null(strstr(d->log, "1 connections open"));
	assert_true(recv_eof(fd, T_MS));	/* its worker is gone */
	close(fd);
	for (int i = 0; i < 5; i++)
		assert_true(answers(port));
	assert_true(daemon_wait_workers(d, 2, T_MS));
	assert_int_equal(daemon_stop(d, SIGTERM, T_MS), 0);
	daemon_free(d);
}

/* A quiet client is not a hung worker (the heartbeat ticks while waiting),
 * and it is closed after timeouts.idle; talking keeps it open. */
static void
test_idle_timeout(void **state)
{
	struct daemon *d;
	long long t0;
	int port, fd;

	(void)state;
	d = start(config("services = ( { name = \"echo\"; handler = \"echo\"; framing = \"line\";"
	    " listen = \"127.0.0.1:0\"; workers = 2;"
	    " timeouts = { idle = 1.5; heartbeat = 0.4; }; } );\n"), &port);
	fd = tcp_connect("127.0.0.1", port);
	for (int i = 0; i < 12; i++) {	/* 2.4 s in all, never 1.5 s quiet */
		echo_line(fd, "still here\n");
		usleep(200 * 1000);
	}
	usleep(1000 * 1000);		/* quiet longer than the heartbeat, shorter than idle */
	echo_line(fd, "and now\n");
	t0 = now_ms();
	assert_true(recv_eof(fd, T_MS));
	assert_true(now_ms() - t0 >= 1000);
	close(fd);
	while (daemon_read_log(d, now_ms() + 100))
		;
	assert_non_null(strstr(d->log, "echo: closing connection: idle for 1500 ms"));
	assert_null(strstr(d->log, "hung"));
	assert_true(answers(port));
	assert_int_equal(daemon_stop(d, SIGTERM, T_MS), 0);
	daemon_free(d);
}

/* Dynamic pool: 6 clients holding a connection each (one worker each in
 * prefork) make it grow past them; when they leave it shrinks back to at
 * most max_spare idle workers, one a second. */
static void
test_dynamic_pool(void **state)
{
	struct launch l = { .notify = true };
	struct daemon *d;
	int port, fd[6];
	size_t n;
	pid_t w[32];

	(void)state;
	l.conf = config("services = ( { name = \"echo\"; handler = \"echo\"; framing = \"line\";"
	    " listen = \"127.0.0.1:0\"; workers = 1;"
	    " pool = { mode = \"dynamic\"; min_spare = 1; max_spare = 2; max_workers = 10; }; } );\n");
	d = daemon_launch(&l);
	port = daemon_port(d, "echo", "127.0.0.1");
	assert_true(daemon_wait_note(d, "READY=1", T_MS));
	assert_true(daemon_wait_workers(d, 1, T_MS));
	for (int i = 0; i < 6; i++) {	/* each waits until a worker is free for it */
		fd[i] = tcp_connect("127.0.0.1", port);
		echo_line(fd[i], "busy\n");
	}
	/* 6 busy and between min_spare and max_spare idle (the doubling may
	 * overshoot by a few; extra idle ones then go one a second). */
	for (long long end = now_ms() + T_MS; strstr(d->notes, "(6 busy, 1 idle)") == NULL &&
	    strstr(d->notes, "(6 busy, 2 idle)") == NULL; usleep(20000)) {
		assert_true(now_ms() < end);
		daemon_read_notes(d);
	}
	assert_non_null(strstr(d->notes, "idle), 6 conns"));	/* counted in the scoreboard */
	for (int i = 0; i < 6; i++)
		close(fd[i]);
	/* Back down to max_spare (2) idle, one worker a second. */
	assert_true(daemon_wait_workers(d, 2, T_MS));
	n = daemon_workers(d, w, 32);
	assert_int_equal(n, 2);
	assert_true(answers(port));
	assert_int_equal(daemon_stop(d, SIGTERM, T_MS), 0);
	daemon_free(d);
}

static pid_t
the_acceptor(struct daemon *d)
{
	pid_t w[4];

	assert_true(daemon_wait_workers(d, 1, T_MS));
	assert_int_equal(daemon_workers(d, w, 4), 1);
	return w[0];
}

/* Fork model: 50 clients at once, each with a process of its own, and no
 * zombie left once they are gone. */
static void
test_fork_model_concurrency(void **state)
{
	struct daemon *d;
	pid_t acceptor, kids[64];
	int port, fd[50];

	(void)state;
	d = start(config("services = ( { name = \"echo\"; handler = \"echo\"; framing = \"line\";"
	    " listen = \"127.0.0.1:0\"; model = \"fork\"; workers = 1; max_children = 64; } );\n"), &port);
	acceptor = the_acceptor(d);
	for (int i = 0; i < 50; i++) {
		fd[i] = tcp_connect("127.0.0.1", port);
		assert_true(fd[i] >= 0);
	}
	for (int i = 0; i < 50; i++)	/* all 50 open at once, all served */
		echo_line(fd[i], "concurrent\n");
	assert_int_equal(pid_children(acceptor, kids, 64), 50);
	for (int i = 0; i < 50; i++)
		close(fd[i]);
	for (long long end = now_ms() + T_MS; pid_children(acceptor, kids, 64) != 0; usleep(10000))
		assert_true(now_ms() < end);	/* every child reaped */
	assert_int_equal(daemon_stop(d, SIGTERM, T_MS), 0);
	daemon_free(d);
}

/* Every model serves 50 clients that arrive at once, with fewer workers
 * (or threads) than clients where a worker holds one connection: the rest
 * wait in the backlog and are served in turn, none lost. */
static void
test_fifty_clients_every_model(void **state)
{
	static const char *const models[] = {
		"model = \"prefork\"; workers = 4;",
		"model = \"prefork\"; workers = 2; threads = 3;",
		"model = \"event\"; workers = 2;",
		"model = \"fork\"; workers = 1; max_children = 8;",
		"model = \"thread\"; workers = 1; max_threads = 8;",
	};
	char line[32];
	int port, fd[50];

	(void)state;
	for (size_t m = 0; m < sizeof(models) / sizeof(models[0]); m++) {
		struct daemon *d = start(config("services = ( { name = \"echo\"; handler = \"echo\";"
		    " framing = \"line\"; listen = \"127.0.0.1:0\"; %s backlog = 128; } );\n",
		    models[m]), &port);

		for (int i = 0; i < 50; i++) {
			fd[i] = tcp_connect("127.0.0.1", port);
			assert_true(fd[i] >= 0);
		}
		for (int i = 0; i < 50; i++) {
			snprintf(line, sizeof(line), "client %d\n", i);
			assert_int_equal(send_all(fd[i], line, strlen(line)), 0);
		}
		for (int i = 0; i < 50; i++) {	/* each answer frees a place for the next */
			char buf[32];

			snprintf(line, sizeof(line), "client %d\n", i);
			assert_int_equal(recv_exact(fd[i], buf, strlen(line), T_MS), (ssize_t)strlen(line));
			assert_memory_equal(buf, line, strlen(line));
			close(fd[i]);
		}
		stop(d);
	}
}

/* max_children: the next client waits in the backlog, then is served. */
static void
test_fork_model_limit(void **state)
{
	struct daemon *d;
	char buf[8];
	int port, fd[4];

	(void)state;
	d = start(config("services = ( { name = \"echo\"; handler = \"echo\"; framing = \"line\";"
	    " listen = \"127.0.0.1:0\"; model = \"fork\"; workers = 1; max_children = 3; } );\n"), &port);
	for (int i = 0; i < 3; i++) {
		fd[i] = tcp_connect("127.0.0.1", port);
		echo_line(fd[i], "in\n");
	}
	fd[3] = tcp_connect("127.0.0.1", port);		/* queued, not refused */
	assert_true(fd[3] >= 0);
	assert_int_equal(send_all(fd[3], "wait\n", 5), 0);
	assert_int_equal(recv_exact(fd[3], buf, 5, 500), 0);	/* nobody serves it yet */
	close(fd[0]);
	assert_int_equal(recv_exact(fd[3], buf, 5, T_MS), 5);	/* now it is */
	assert_memory_equal(buf, "wait\n", 5);
	for (int i = 1; i < 4; i++)
		close(fd[i]);
	assert_int_equal(daemon_stop(d, SIGTERM, T_MS), 0);
	daemon_free(d);
}

/* Graceful stop finishes a connection in flight; a crash stays in its process. */
static void
test_fork_model_stop_and_crash(void **state)
{
	struct daemon *d;
	char buf[8];
	int port, fd, other;

	(void)state;
	d = start_with(getenv("SOCKD_TEST"),
	    config("services = ( { name = \"echo\"; handler = \"hang\"; framing = \"line\";"
	    " listen = \"127.0.0.1:0\"; model = \"fork\"; workers = 1; } );\n"), &port);
	fd = tcp_connect("127.0.0.1", port);
	echo_line(fd, "one\n");
	other = tcp_connect("127.0.0.1", port);
	echo_line(other, "two\n");
	assert_int_equal(send_all(fd, "ha", 2), 0);	/* a message in flight */
	assert_int_equal(kill(d->pid, SIGTERM), 0);
	assert_true(daemon_wait_log(d, "graceful stop", T_MS));
	usleep(200 * 1000);
	assert_int_equal(send_all(fd, "lf\n", 3), 0);
	assert_int_equal(recv_exact(fd, buf, 5, T_MS), 5);
	assert_memory_equal(buf, "half\n", 5);
	close(fd);
	close(other);
	assert_int_equal(daemon_stop(d, 0, T_MS), 0);
	daemon_free(d);

	d = start_with(getenv("SOCKD_TEST"),
	    config("services = ( { name = \"echo\"; handler = \"crash\"; framing = \"line\";"
	    " listen = \"127.0.0.1:0\"; model = \"fork\"; workers = 1; } );\n"), &port);
	for (int i = 0; i < 3; i++) {
		fd = tcp_connect("127.0.0.1", port);
		assert_int_equal(send_all(fd, "boom\n", 5), 0);
		assert_true(recv_eof(fd, T_MS));
		close(fd);
	}
	assert_true(daemon_wait_log(d, "connection process", T_MS));
	assert_null(strstr(d->log, "killed by signal"));	/* the acceptor lives on */
	assert_int_equal(daemon_stop(d, SIGTERM, T_MS), 0);
	daemon_free(d);
}

/* Fork model: a handler stuck in one connection process is killed by the
 * acceptor after timeouts.heartbeat; the acceptor and the other
 * connections carry on. */
static void
test_fork_model_hung_child(void **state)
{
	struct daemon *d;
	pid_t acceptor;
	int port, fd, other;

	(void)state;
	d = start_with(getenv("SOCKD_TEST"),
	    config("services = ( { name = \"echo\"; handler = \"hang\"; framing = \"line\";"
	    " listen = \"127.0.0.1:0\"; model = \"fork\"; workers = 1;"
	    " timeouts = { heartbeat = 1; }; } );\n"), &port);
	acceptor = the_acceptor(d);
	other = tcp_connect("127.0.0.1", port);
	echo_line(other, "before\n");
	fd = tcp_connect("127.0.0.1", port);
	assert_int_equal(send_all(fd, "hang\n", 5), 0);
	assert_true(daemon_wait_log(d, "hung: no heartbeat for", T_MS));
	assert_true(recv_eof(fd, T_MS));
	close(fd);
	echo_line(other, "after\n");	/* quiet for longer than the timeout, yet kept */
	close(other);
	assert_true(answers(port));
	assert_int_equal(the_acceptor(d), acceptor);	/* not replaced */
	assert_null(strstr(d->log, "hung: busy"));	/* the master saw nothing amiss */
	assert_int_equal(daemon_stop(d, SIGTERM, T_MS), 0);
	daemon_free(d);
}

/* A client that sends but never reads: its worker blocks in send, yet
 * keeps its heartbeat, and the connection is closed after timeouts.idle. */
static void
test_client_not_reading(void **state)
{
	static char chunk[65536];
	struct daemon *d;
	int port, fd, rcv = 4096;
	long long t0;

	(void)state;
	d = start(config("services = ( { name = \"echo\"; handler = \"echo\";"
	    " listen = \"127.0.0.1:0\"; workers = 2;"
	    " timeouts = { idle = 2; heartbeat = 0.5; }; } );\n"), &port);
	fd = tcp_connect("127.0.0.1", port);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv)), 0);
	memset(chunk, 'x', sizeof(chunk));
	t0 = now_ms();
	/* For 1.5 s push whatever fits: the echoes pile up unread until every
	 * buffer on the way is full and the worker blocks in send. */
	while (now_ms() - t0 < 1500) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };

		if (poll(&p, 1, 100) > 0 && send(fd, chunk, sizeof(chunk), MSG_DONTWAIT) == -1 &&
		    errno != EAGAIN)
			break;
	}
	assert_true(daemon_wait_log(d, "closing connection: the client took no output for 2000 ms", T_MS));
	assert_null(strstr(d->log, "hung"));
	assert_true(answers(port));
	close(fd);
	assert_int_equal(daemon_stop(d, SIGTERM, T_MS), 0);
	daemon_free(d);
}

/* A reload applies the new log_level (unless -l fixed it). */
static void
test_reload_log_level(void **state)
{
	struct daemon *d;
	int port;

	(void)state;
	d = start(config("log_level = \"info\";\nservices = ( { name = \"echo\"; handler = \"echo\";"
	    " listen = \"127.0.0.1:0\"; workers = 1; } );\n"), &port);
	assert_null(strstr(d->log, "debug:"));
	daemon_reload(d, config("log_level = \"debug\";\nservices = ( { name = \"echo\";"
	    " handler = \"echo\"; listen = \"127.0.0.1:0\"; workers = 1; } );\n"));
	assert_true(daemon_wait_log(d, "debug: echo: started worker", T_MS));
	assert_int_equal(daemon_stop(d, SIGTERM, T_MS), 0);
	daemon_free(d);
}

/* max_requests under the fork model: the acceptor recycles, nothing fails. */
static void
test_fork_model_recycles(void **state)
{
	struct daemon *d;
	int port;

	(void)state;
	d = start(config("services = ( { name = \"echo\"; handler = \"echo\"; framing = \"line\";"
	    " listen = \"127.0.0.1:0\"; model = \"fork\"; workers = 1; max_requests = 3; } );\n"), &port);
	for (int i = 0; i < 10; i++)
		assert_true(answers(port));
	assert_true(daemon_wait_log(d, "worker recycles after 3 connections", T_MS));
	while (daemon_read_log(d, now_ms() + 200))
		;
	assert_true(count(d->log, "worker recycles after 3 connections") >= 2);
	assert_int_equal(daemon_stop(d, SIGTERM, T_MS), 0);
	daemon_free(d);
}

/* Every descriptor of PID above stderr is close-on-exec. Only root can
 * look: sockd makes itself non-dumpable, which hides /proc/PID/fdinfo. */
static void
assert_all_cloexec(pid_t pid)
{
	char path[64], line[128];
	size_t checked = 0;

	if (geteuid() != 0) {
		print_message("not root: close-on-exec of pid %ld not checked\n", (long)pid);
		return;
	}
	for (int fd = 3; fd < 1024; fd++) {
		unsigned long flags = 0;
		FILE *fp;

		snprintf(path, sizeof(path), "/proc/%ld/fdinfo/%d", (long)pid, fd);
		if ((fp = fopen(path, "re")) == NULL)
			continue;
		while (fgets(line, sizeof(line), fp) != NULL)
			sscanf(line, "flags: %lo", &flags);
		fclose(fp);
		if (!(flags & 02000000))
			fail_msg("pid %ld fd %d is not close-on-exec", (long)pid, fd);
		checked++;
	}
	assert_true(checked > 0);
}

/* [::]:P and *:P together (IPV6_V6ONLY), the backlog as configured,
 * close-on-exec everywhere, and a restart on the same port at once even
 * with connections in TIME_WAIT (SO_REUSEADDR). */
static void
test_listener_options(void **state)
{
	char cmd[128], line[256];
	struct daemon *d;
	pid_t w[4];
	int port = free_port(true), fd;
	FILE *ss;
	const char *text;

	(void)state;
	text = config("services = ( { name = \"echo\"; handler = \"echo\";"
	    " framing = \"line\"; listen = [ \"*:%d\", \"[::]:%d\" ]; workers = 1; backlog = 77;"
	    " timeouts = { graceful = 0; }; } );\n", port, port);
	d = daemon_start(text, END);
	assert_true(daemon_wait_log(d, STARTED, T_MS));
	assert_true(answers(port));
	fd = tcp_connect("::1", port);
	echo_line(fd, "six\n");
	assert_true(daemon_wait_workers(d, 1, T_MS));
	assert_int_equal(daemon_workers(d, w, 4), 1);
	assert_all_cloexec(d->pid);
	assert_all_cloexec(w[0]);
	snprintf(cmd, sizeof(cmd), "ss -Hltn 'sport = :%d' 2>/dev/null", port);
	if ((ss = popen(cmd, "r")) != NULL) {	/* Send-Q of a listener is its backlog */
		int lines = 0, backlog;

		while (fgets(line, sizeof(line), ss) != NULL)
			if (sscanf(line, "LISTEN %*d %d", &backlog) == 1) {
				assert_int_equal(backlog, 77);
				lines++;
			}
		pclose(ss);
		assert_true(lines == 0 || lines == 2);	/* 0: no ss on this machine */
	}
	/* Stop while the client is connected: sockd closes first (TIME_WAIT). */
	assert_int_equal(daemon_stop(d, SIGTERM, T_MS), 0);
	close(fd);
	daemon_free(d);
	d = daemon_start(text, END);	/* the same port at once */
	assert_true(daemon_wait_log(d, STARTED, T_MS));
	assert_true(answers(port));
	assert_int_equal(daemon_stop(d, SIGTERM, T_MS), 0);
	daemon_free(d);
}

/* A datagram socket from systemd is refused by its type (sd_is_socket). */
static void
test_activation_wrong_socket_type(void **state)
{
	const char *wrapper[] = { "systemd-socket-activate", "-d", "-l", NULL, "--fdname=echo", NULL };
	struct launch l = { .wrapper = wrapper };
	struct sockaddr_in in = { .sin_family = AF_INET };
	char addr[32];
	struct daemon *d;
	int port = free_port(false), fd;

	(void)state;
	if (access("/usr/bin/systemd-socket-activate", X_OK) != 0)
		skip();
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	wrapper[3] = addr;
	l.conf = config("services = ( { name = \"echo\"; handler = \"echo\";"
	    " listen = \"127.0.0.1:0\"; } );\n");
	d = daemon_launch(&l);
	assert_true(daemon_wait_log(d, "Listening on", T_MS));
	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	in.sin_port = htons((uint16_t)port);
	fd = socket(AF_INET, SOCK_DGRAM, 0);	/* a datagram starts sockd */
	assert_int_equal(sendto(fd, "x", 1, 0, (struct sockaddr *)&in, sizeof(in)), 1);
	close(fd);
	assert_true(daemon_wait_log(d, "socket from systemd named \"echo\" is a datagram socket, "
	    "but service \"echo\" serves streams (ListenStream= in its .socket unit)", T_MS));
	assert_int_not_equal(daemon_stop(d, 0, T_MS), 0);
	daemon_free(d);
}

/* A service without listen serves what systemd passes under its name; one
 * without listen that systemd passes nothing is refused at start (78). */
static void
test_activation_without_listen(void **state)
{
	const char *wrapper[] = { "systemd-socket-activate", "-l", NULL, "--fdname=echo", NULL };
	struct launch l = { .wrapper = wrapper };
	char addr[32];
	struct daemon *d;
	int port = free_port(false), fd;

	(void)state;
	if (access("/usr/bin/systemd-socket-activate", X_OK) != 0)
		skip();
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	wrapper[2] = addr;
	l.conf = config("services = ( { name = \"echo\"; handler = \"echo\";"
	    " framing = \"line\"; workers = 1; } );\n");
	d = daemon_launch(&l);
	assert_true(daemon_wait_log(d, "Listening on", T_MS));
	fd = tcp_connect("127.0.0.1", port);	/* the first client starts sockd */
	assert_true(fd >= 0);
	echo_line(fd, "from systemd\n");
	close(fd);
	assert_true(daemon_wait_log(d, "echo: listening on 127.0.0.1:", T_MS));
	assert_true(daemon_wait_log(d, "(from systemd)", T_MS));
	assert_int_equal(daemon_stop(d, SIGTERM, T_MS), 0);
	daemon_free(d);
	d = daemon_start(config("services = ( { name = \"echo\"; handler = \"echo\"; },\n"
	    "  { name = \"web\"; handler = \"http\"; listen = \"127.0.0.1:0\"; } );\n"), END);
	assert_true(daemon_wait_log(d, "error: echo: no listen in the configuration, and systemd "
	    "passed no socket named \"echo\" (FileDescriptorName=echo in a .socket unit)", T_MS));
	assert_int_equal(daemon_stop(d, 0, T_MS), 78);
	daemon_free(d);
}

int
main(void)
{
#define T(f) cmocka_unit_test_teardown(f, harness_teardown)
	const struct CMUnitTest tests[] = {
		T(test_pool_is_kept_whole),
		T(test_workers_die_with_master),
		T(test_crash_loop_backs_off),
		T(test_graceful_stop_finishes_connection),
		T(test_graceful_timeout_then_kill),
		T(test_fast_stop),
		T(test_ttin_ttou),
		T(test_reload_workers_and_listeners),
		T(test_reload_broken_config),
		T(test_reload_refuses_nobody),
		T(test_notify_protocol),
		T(test_socket_activation),
		T(test_workers_drop_root),
		T(test_unix_socket_files),
		T(test_privileged_port),
		T(test_max_requests),
		T(test_recycle_wakes_master),
		T(test_hung_worker_killed),
		T(test_idle_timeout),
		T(test_dynamic_pool),
		T(test_fork_model_concurrency),
		T(test_fork_model_limit),
		T(test_fifty_clients_every_model),
		T(test_fork_model_stop_and_crash),
		T(test_fork_model_hung_child),
		T(test_client_not_reading),
		T(test_reload_log_level),
		T(test_fork_model_recycles),
		T(test_listener_options),
		T(test_activation_wrong_socket_type),
		T(test_activation_without_listen),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
