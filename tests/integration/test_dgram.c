/*
 * test_dgram.c - datagram services (udp:, unixgram:) on the real daemon:
 * echo over UDP v4 and v6 and a Unix datagram socket under every model
 * (prefork, prefork with threads, event, fork, thread), 50 clients at
 * once, a datagram of exactly limits.max_message and one over it; the
 * counters (sockd status); the address rules and limits.rate per
 * datagram; a module's reply bounded by max_message, not by the request;
 * a graceful stop and a reload with a datagram in hand (answered); a
 * worker recycled after max_requests datagrams; a hung one replaced;
 * STATUS= while one serves; and socket activation with a datagram socket.
 *
 * UDP may lose a datagram even on loopback, so a client that expects an
 * answer asks again (ASK_TRIES times, ASK_MS apart), as real UDP clients
 * do; one that expects none waits QUIET_MS for it.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "testlib.h"

#define ASK_TRIES 10
#define ASK_MS 500
#define QUIET_MS 300
#define MAXMSG 512
#define CLIENTS 50

struct peer {
	struct sockaddr_storage ss;
	socklen_t len;
};

static struct peer
v4(int port)
{
	struct peer p = { .len = sizeof(struct sockaddr_in) };
	struct sockaddr_in *in = (struct sockaddr_in *)&p.ss;

	in->sin_family = AF_INET;
	in->sin_port = htons((uint16_t)port);
	in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return p;
}

static struct peer
v6(int port)
{
	struct peer p = { .len = sizeof(struct sockaddr_in6) };
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&p.ss;

	in6->sin6_family = AF_INET6;
	in6->sin6_port = htons((uint16_t)port);
	in6->sin6_addr = in6addr_loopback;
	return p;
}

static struct peer
unix_peer(const char *path)
{
	struct peer p = { .len = sizeof(struct sockaddr_un) };
	struct sockaddr_un *un = (struct sockaddr_un *)&p.ss;

	un->sun_family = AF_UNIX;
	assert_true(strlen(path) < sizeof(un->sun_path));
	memcpy(un->sun_path, path, strlen(path) + 1);
	return p;
}

/* A UDP client of FAMILY, bound to SRC (an IPv4 address) when not NULL. */
static int
udp_client(int family, const char *src)
{
	int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	if (src != NULL) {
		struct sockaddr_in in = { .sin_family = AF_INET };

		assert_int_equal(inet_pton(AF_INET, src, &in.sin_addr), 1);
		assert_int_equal(bind(fd, (struct sockaddr *)&in, sizeof(in)), 0);
	}
	return fd;
}

/* A Unix datagram client bound to PATH, which the workers (nobody, when
 * the tests run as root) may write to. */
static int
unix_client(const char *path)
{
	struct peer p = unix_peer(path);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&p.ss, p.len), 0);
	assert_int_equal(chmod(path, 0777), 0);
	return fd;
}

static ssize_t
recv_wait(int fd, char *buf, size_t size, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	if (poll(&p, 1, ms) != 1)
		return -1;
	return recv(fd, buf, size, MSG_DONTWAIT);
}

/* Send MSG to TO until an answer comes: its length in BUF, or -1. */
static ssize_t
ask(int fd, const struct peer *to, const void *msg, size_t len, char *buf, size_t size)
{
	for (int i = 0; i < ASK_TRIES; i++) {
		ssize_t n;

		assert_int_equal(sendto(fd, msg, len, 0, (const struct sockaddr *)&to->ss, to->len),
		    (ssize_t)len);
		if ((n = recv_wait(fd, buf, size, ASK_MS)) >= 0)
			return n;
	}
	return -1;
}

/* MSG is echoed back exactly. */
static void
echoes(int fd, const struct peer *to, const void *msg, size_t len)
{
	static char buf[65536];

	assert_int_equal(ask(fd, to, msg, len, buf, sizeof(buf)), (ssize_t)len);
	assert_memory_equal(buf, msg, len);
}

/* MSG gets no answer. */
static bool
silent(int fd, const struct peer *to, const void *msg, size_t len)
{
	char buf[64];

	assert_int_equal(sendto(fd, msg, len, 0, (const struct sockaddr *)&to->ss, to->len),
	    (ssize_t)len);
	return recv_wait(fd, buf, sizeof(buf), QUIET_MS) < 0;
}

/* CLIENTS clients send at once, each its own text; every one is answered. */
static void
many_clients(const struct peer *to)
{
	int fd[CLIENTS];
	char msg[32], buf[64];

	for (int i = 0; i < CLIENTS; i++) {
		fd[i] = udp_client(AF_INET, NULL);
		snprintf(msg, sizeof(msg), "client %d", i);
		assert_true(sendto(fd[i], msg, strlen(msg), 0, (const struct sockaddr *)&to->ss,
		    to->len) > 0);
	}
	for (int i = 0; i < CLIENTS; i++) {
		ssize_t n = recv_wait(fd[i], buf, sizeof(buf), ASK_MS);

		snprintf(msg, sizeof(msg), "client %d", i);
		if (n < 0)	/* lost on the way: ask again, as a client would */
			n = ask(fd[i], to, msg, strlen(msg), buf, sizeof(buf));
		assert_int_equal(n, (ssize_t)strlen(msg));
		assert_memory_equal(buf, msg, (size_t)n);
		close(fd[i]);
	}
}

static const char *const models[] = {
	"model = \"prefork\"; workers = 2;",
	"model = \"prefork\"; workers = 2; threads = 2;",
	"model = \"event\"; workers = 2;",
	"model = \"uring\"; workers = 2;",
	"model = \"fork\"; workers = 1; max_children = 8;",
	"model = \"thread\"; workers = 1; max_threads = 8;",
};

static void
test_echo_every_model(void **state)
{
	static char big[MAXMSG + 1];
	char *dir = harness_tmpdir(), path[512], cpath[512];
	struct peer p4, p6, pu;
	struct daemon *d;
	int port, port6, fd;

	(void)state;
	assert_int_equal(chmod(dir, 0755), 0);
	snprintf(path, sizeof(path), "%s/echo.sock", dir);
	snprintf(cpath, sizeof(cpath), "%s/client.sock", dir);
	memset(big, 'b', sizeof(big));
	for (size_t m = 0; m < sizeof(models) / sizeof(models[0]); m++) {
		d = daemon_start(config("services = ( { name = \"echo\"; handler = \"echo\";"
		    " listen = [ \"udp:127.0.0.1:0\", \"udp:[::1]:0\", \"unixgram:%s\" ]; %s"
		    " limits = { max_message = %d; }; } );\n", path, models[m], MAXMSG), END);
		port = daemon_port(d, "echo", "udp:127.0.0.1");
		port6 = daemon_port(d, "echo", "udp:[::1]");
		assert_true(port > 0 && port6 > 0);
		assert_true(daemon_wait_log(d, STARTED, T_MS));
		p4 = v4(port);
		p6 = v6(port6);
		pu = unix_peer(path);

		fd = udp_client(AF_INET, NULL);
		echoes(fd, &p4, "over UDP", 8);
		echoes(fd, &p4, big, MAXMSG);	/* exactly max_message */
		assert_true(silent(fd, &p4, big, MAXMSG + 1));	/* one over: dropped */
		assert_true(daemon_wait_log(d, "datagram over limits.max_message, dropped", T_MS));
		close(fd);
		fd = udp_client(AF_INET6, NULL);
		echoes(fd, &p6, "over UDP v6", 11);
		close(fd);
		fd = unix_client(cpath);
		echoes(fd, &pu, "over unixgram", 13);
		close(fd);
		unlink(cpath);
		many_clients(&p4);
		stop(d);
	}
	harness_rmdir(dir);
}

/* What was dropped is counted, by reason, in sockd status. */
static void
test_counters(void **state)
{
	char *dir = harness_tmpdir(), *out, *err, sock[512], buf[64];
	char *args[] = { "status", "--json", "-s", sock, NULL };
	static char big[MAXMSG + 1];
	struct daemon *d;
	struct peer pe, pa;
	int fd;

	(void)state;
	snprintf(sock, sizeof(sock), "%s/control", dir);
	d = daemon_start(config("control = { path = \"%s\"; };\n"
	    "services = ( { name = \"echo\"; handler = \"echo\"; listen = \"udp:127.0.0.1:0\";"
	    " workers = 1; limits = { max_message = %d; }; },\n"
	    " { name = \"ack\"; handler = \"ack\"; listen = \"udp:127.0.0.1:0\"; model = \"event\";"
	    " workers = 1; } );\n", sock, MAXMSG), END);
	pe = v4(daemon_port(d, "echo", "udp:127.0.0.1"));
	pa = v4(daemon_port(d, "ack", "udp:127.0.0.1"));
	assert_true(daemon_wait_log(d, STARTED, T_MS));
	fd = udp_client(AF_INET, NULL);
	echoes(fd, &pe, "one", 3);
	assert_true(silent(fd, &pe, big, sizeof(big)));
	assert_int_equal(ask(fd, &pa, "hi", 2, buf, sizeof(buf)), 2);
	assert_memory_equal(buf, "OK", 2);
	/* A 1-byte request: "OK" would be longer, so no answer (amplification). */
	assert_true(silent(fd, &pa, "h", 1));
	assert_true(daemon_wait_log(d, "reply longer than allowed, dropped", T_MS));
	close(fd);
	assert_int_equal(harness_run(args, &out, &err), 0);
	assert_non_null(strstr(out, "\"truncated\": 1,"));
	assert_non_null(strstr(out, "\"reply\": 1,"));
	free(out);
	free(err);
	args[1] = "-s";
	args[2] = sock;
	args[3] = NULL;
	assert_int_equal(harness_run(args, &out, &err), 0);
	assert_non_null(strstr(out, "echo refused: 1 truncated"));
	assert_non_null(strstr(out, "ack refused: 1 reply"));
	free(out);
	free(err);
	stop(d);
	harness_rmdir(dir);
}

/* deny, and limits.rate, per datagram, on the source address. */
static void
test_rules_and_rate(void **state)
{
	char msg[16], buf[64];
	struct daemon *d;
	struct peer p;
	int fd, answered = 0;

	(void)state;
	d = daemon_start(config("services = ( { name = \"echo\"; handler = \"echo\";"
	    " listen = \"udp:127.0.0.1:0\"; workers = 1; deny = \"127.0.0.2\";"
	    " limits = { rate = 3; rate_burst = 3; }; } );\n"), END);
	p = v4(daemon_port(d, "echo", "udp:127.0.0.1"));
	assert_true(daemon_wait_log(d, STARTED, T_MS));
	fd = udp_client(AF_INET, "127.0.0.2");
	assert_true(silent(fd, &p, "denied", 6));
	assert_true(daemon_wait_log(d, "echo: refused 127.0.0.2:", T_MS));
	close(fd);
	fd = udp_client(AF_INET, "127.0.0.30");
	for (int i = 0; i < 30; i++) {
		snprintf(msg, sizeof(msg), "%d", i);
		assert_true(sendto(fd, msg, strlen(msg), 0, (struct sockaddr *)&p.ss, p.len) > 0);
	}
	while (recv_wait(fd, buf, sizeof(buf), QUIET_MS) >= 0)
		answered++;
	assert_true(answered >= 3);
	assert_true(answered < 30);	/* (logged at most once a second: not waited for) */
	close(fd);
	fd = udp_client(AF_INET, "127.0.0.31");	/* another client is not held back */
	echoes(fd, &p, "other", 5);
	close(fd);
	stop(d);
}

static char *
module_path(void)
{
	const char *dir = getenv("SOCKD_BUILDDIR");
	char *p;

	assert_non_null(dir);
	assert_true(asprintf(&p, "%s/tests/modules/dgram.so", dir) > 0);
	return p;
}

static struct daemon *
start_module(const char *extra, struct peer *p)
{
	char *so = module_path();
	struct daemon *d = daemon_start(config("services = ( { name = \"m\"; handler = \"module\";"
	    " module = { path = \"%s\"; }; listen = \"udp:127.0.0.1:0\"; %s"
	    " limits = { max_message = %d; }; } );\n", so, extra, MAXMSG), END);

	free(so);
	*p = v4(daemon_port(d, "m", "udp:127.0.0.1"));
	assert_true(daemon_wait_log(d, STARTED, T_MS));
	return d;
}

/* A module sees a datagram (sockd_conn_is_datagram, sockd_peer); its reply
 * may be longer than the request, up to max_message. */
static void
test_module(void **state)
{
	struct sockaddr_in me;
	socklen_t len = sizeof(me);
	char buf[1024], want[64];
	struct daemon *d;
	struct peer p;
	int fd;

	(void)state;
	d = start_module("workers = 1;", &p);
	fd = udp_client(AF_INET, "127.0.0.1");
	assert_int_equal(getsockname(fd, (struct sockaddr *)&me, &len), 0);
	snprintf(want, sizeof(want), "127.0.0.1:%d datagram 5", ntohs(me.sin_port));
	assert_int_equal(ask(fd, &p, "hello", 5, buf, sizeof(buf)), (ssize_t)strlen(want));
	assert_memory_equal(buf, want, strlen(want));
	assert_int_equal(ask(fd, &p, "big 500", 7, buf, sizeof(buf)), 500);
	assert_true(silent(fd, &p, "big 513", 7));
	assert_true(daemon_wait_log(d, "reply longer than allowed, dropped: over limits.max_message",
	    T_MS));
	close(fd);
	stop(d);
}

/* A datagram in hand when the stop (or, RELOAD, a reload) comes is
 * answered; after a reload the service answers on. */
static void
in_flight(const char *model, bool reload)
{
	char buf[64], extra[160];
	struct daemon *d;
	struct peer p;
	int fd;

	snprintf(extra, sizeof(extra), "%s", model);
	d = start_module(extra, &p);
	fd = udp_client(AF_INET, NULL);
	assert_int_equal(sendto(fd, "sleep 400", 9, 0, (struct sockaddr *)&p.ss, p.len), 9);
	assert_true(daemon_wait_log(d, "sleeping 400 ms", T_MS));
	if (reload) {
		char *so = module_path();

		daemon_reload(d, config("services = ( { name = \"m\"; handler = \"module\";"
		    " module = { path = \"%s\"; }; listen = \"udp:127.0.0.1:%d\"; %s"
		    " limits = { max_message = %d; }; max_requests = 1000; } );\n", so,
		    ntohs(((struct sockaddr_in *)&p.ss)->sin_port), extra, MAXMSG));
		free(so);
	} else
		assert_int_equal(kill(d->pid, SIGTERM), 0);
	assert_int_equal(recv_wait(fd, buf, sizeof(buf), T_MS), 5);
	assert_memory_equal(buf, "slept", 5);
	if (reload) {
		assert_true(daemon_wait_log(d, "reloaded: generation 2", T_MS));
		assert_true(ask(fd, &p, "again", 5, buf, sizeof(buf)) > 0);
		/* The kept socket is not listen()ed again: a datagram has no backlog. */
		assert_int_equal(count(d->log, "listen: Operation not supported"), 0);
		stop(d);
	} else {
		assert_int_equal(daemon_stop(d, 0, T_MS), 0);
		daemon_free(d);
	}
	close(fd);
}

static void
test_stop_in_flight(void **state)
{
	(void)state;
	for (size_t m = 0; m < sizeof(models) / sizeof(models[0]); m++)
		in_flight(models[m], false);
}

static void
test_reload_in_flight(void **state)
{
	(void)state;
	for (size_t m = 0; m < sizeof(models) / sizeof(models[0]); m++)
		in_flight(models[m], true);
}

/* max_requests counts datagrams; the worker recycles, nothing is lost:
 * the socket is the master's. */
static void
test_recycle(void **state)
{
	struct daemon *d;
	struct peer p;
	char msg[16];
	int fd;

	(void)state;
	for (size_t m = 0; m < sizeof(models) / sizeof(models[0]); m++) {
		d = daemon_start(config("services = ( { name = \"echo\"; handler = \"echo\";"
		    " listen = \"udp:127.0.0.1:0\"; %s max_requests = 5; } );\n", models[m]), END);
		p = v4(daemon_port(d, "echo", "udp:127.0.0.1"));
		assert_true(daemon_wait_log(d, STARTED, T_MS));
		fd = udp_client(AF_INET, NULL);
		for (int i = 0; i < 12; i++) {
			snprintf(msg, sizeof(msg), "n%d", i);
			echoes(fd, &p, msg, strlen(msg));
		}
		assert_true(daemon_wait_log(d, "worker recycles after 5 datagrams", T_MS));
		close(fd);
		stop(d);
	}
}

/* A handler stuck on a datagram: the master kills the worker as hung, and
 * a fresh one answers. Under fork, the worker kills the child. */
static void
test_hung(void **state)
{
	const char *const hung[] = { "model = \"prefork\"; workers = 1;",
		"model = \"event\"; workers = 1;", "model = \"fork\"; workers = 1;" };
	char buf[64], extra[160];
	struct daemon *d;
	struct peer p;
	int fd;

	(void)state;
	for (size_t m = 0; m < sizeof(hung) / sizeof(hung[0]); m++) {
		snprintf(extra, sizeof(extra), "%s timeouts = { heartbeat = 1; };", hung[m]);
		d = start_module(extra, &p);
		fd = udp_client(AF_INET, NULL);
		assert_int_equal(sendto(fd, "sleep 60000", 11, 0, (struct sockaddr *)&p.ss, p.len),
		    11);
		assert_true(daemon_wait_log(d, m == 2 ? "hung: no heartbeat for" :
		    "hung: busy with no heartbeat", T_MS));
		assert_true(ask(fd, &p, "after", 5, buf, sizeof(buf)) > 0);
		close(fd);
		stop(d);
	}
}

/* STATUS= counts a datagram worker busy while it serves a datagram, idle
 * otherwise, as for streams. */
static void
test_notify_status(void **state)
{
	char *so = module_path(), buf[16];
	struct launch l = { .notify = true };
	struct daemon *d;
	struct peer p;
	int fd;

	(void)state;
	l.conf = config("services = ( { name = \"m\"; handler = \"module\";"
	    " module = { path = \"%s\"; }; listen = \"udp:127.0.0.1:0\"; workers = 2; } );\n", so);
	free(so);
	d = daemon_launch(&l);
	p = v4(daemon_port(d, "m", "udp:127.0.0.1"));
	assert_true(daemon_wait_note(d, "READY=1", T_MS));
	assert_true(daemon_wait_note(d, "STATUS=m: 2 workers (0 busy, 2 idle)", T_MS));
	fd = udp_client(AF_INET, NULL);
	assert_int_equal(sendto(fd, "sleep 2500", 10, 0, (struct sockaddr *)&p.ss, p.len), 10);
	assert_true(daemon_wait_note(d, "STATUS=m: 2 workers (1 busy, 1 idle)", T_MS));
	assert_int_equal(recv_wait(fd, buf, sizeof(buf), T_MS), 5);
	close(fd);
	assert_int_equal(daemon_stop(d, SIGTERM, T_MS), 0);
	assert_true(daemon_wait_note(d, "STOPPING=1", T_MS));
	daemon_free(d);
}

/* A UDP port on 127.0.0.1 that was free a moment ago. */
static int
free_udp_port(void)
{
	struct sockaddr_in in = { .sin_family = AF_INET };
	socklen_t len = sizeof(in);
	int fd = udp_client(AF_INET, NULL), port;

	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&in, sizeof(in)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&in, &len), 0);
	port = ntohs(in.sin_port);
	close(fd);
	return port;
}

/* systemd-socket-activate --datagram: the socket is taken by its name, and
 * the datagram that started sockd is answered; with LISTEN, the address is
 * in the file too, else the service is a datagram one by systemd's word. */
static void
activation(bool listen)
{
	const char *wrapper[] = { "systemd-socket-activate", "--datagram", "-l", NULL,
		"--fdname=echo", NULL };
	struct launch l = { .wrapper = wrapper };
	char addr[32];
	struct daemon *d;
	struct peer p;
	int fd, port;

	if (access("/usr/bin/systemd-socket-activate", X_OK) != 0)
		skip();
	port = free_udp_port();
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	wrapper[3] = addr;
	if (listen)
		l.conf = config("services = ( { name = \"echo\"; handler = \"echo\";"
		    " listen = \"udp:%s\"; workers = 2; } );\n", addr);
	else
		l.conf = config("services = ( { name = \"echo\"; handler = \"echo\";"
		    " workers = 2; } );\n");
	d = daemon_launch(&l);
	assert_true(daemon_wait_log(d, "Listening on", T_MS));
	p = v4(port);
	fd = udp_client(AF_INET, NULL);
	echoes(fd, &p, "activated", 9);	/* the first datagram starts sockd */
	assert_true(daemon_wait_log(d, "(from systemd)", T_MS));
	echoes(fd, &p, "again", 5);
	close(fd);
	assert_int_equal(daemon_stop(d, SIGTERM, T_MS), 0);
	daemon_free(d);
}

static void
test_activation(void **state)
{
	(void)state;
	activation(true);
}

/* No listen: systemd's datagram socket makes it a datagram service. */
static void
test_activation_without_listen(void **state)
{
	(void)state;
	activation(false);
}

/* No listen, and systemd passes datagrams to a handler that needs a byte
 * stream: refused at start (78), saying why. */
static void
test_activation_kind_refused(void **state)
{
	const char *wrapper[] = { "systemd-socket-activate", "--datagram", "-l", "127.0.0.1:0",
		"--fdname=web", NULL };
	struct launch l = { .wrapper = wrapper, .conf = NULL };
	struct daemon *d;
	char addr[32];
	int fd, port;

	(void)state;
	if (access("/usr/bin/systemd-socket-activate", X_OK) != 0)
		skip();
	port = free_udp_port();
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	wrapper[3] = addr;
	l.conf = config("services = ( { name = \"web\"; handler = \"http\"; } );\n");
	d = daemon_launch(&l);
	assert_true(daemon_wait_log(d, "Listening on", T_MS));
	{
		struct peer p = v4(port);

		fd = udp_client(AF_INET, NULL);
		assert_int_equal(sendto(fd, "x", 1, 0, (struct sockaddr *)&p.ss, p.len), 1);
		close(fd);
	}
	assert_true(daemon_wait_log(d, "error: web: systemd passes it datagram sockets, but its "
	    "handler needs a byte stream", T_MS));
	assert_int_equal(daemon_stop(d, 0, T_MS), 78);
	daemon_free(d);
}

int
main(void)
{
#define T(f) cmocka_unit_test_teardown(f, harness_teardown)
	const struct CMUnitTest tests[] = {
		T(test_echo_every_model),
		T(test_counters),
		T(test_rules_and_rate),
		T(test_module),
		T(test_stop_in_flight),
		T(test_reload_in_flight),
		T(test_recycle),
		T(test_hung),
		T(test_notify_status),
		T(test_activation),
		T(test_activation_without_listen),
		T(test_activation_kind_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
