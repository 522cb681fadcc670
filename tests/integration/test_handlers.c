/*
 * test_handlers.c - echo, discard and ack under every framing and every
 * model, over IPv4, IPv6 and a Unix socket, through the real daemon; and
 * what happens to a message over max_message, under every model.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

#define T_MS HARNESS_TIMEOUT_MS

static const char *const handlers[] = { "echo", "discard", "ack" };
static const char *const framings[] = { "raw", "line", "length16", "length32" };
/* A model as a service name part and its settings. */
static const struct model {
	const char *name;
	const char *conf;
} models[] = {
	{ "prefork", "model = \"prefork\";" },
	{ "threads", "model = \"prefork\"; threads = 2;" },
	{ "event", "model = \"event\";" },
	{ "uring", "model = \"uring\";" },
	{ "fork", "model = \"fork\";" },
	{ "thread", "model = \"thread\";" },
};
#define N_MODELS (sizeof(models) / sizeof(models[0]))
static const char *const messages[] = { "hello", "", "a somewhat longer message" };
#define N_MSG 3

static struct daemon *d;
static char *dir;

/* Append MSG framed as FRAMING to BUF at *LEN. */
static void
frame(const char *framing, const char *msg, char *buf, size_t *len)
{
	size_t n = strlen(msg);

	if (strcmp(framing, "length16") == 0) {
		buf[(*len)++] = (char)(n >> 8);
		buf[(*len)++] = (char)n;
	} else if (strcmp(framing, "length32") == 0) {
		memset(buf + *len, 0, 3);
		*len += 3;
		buf[(*len)++] = (char)n;
	}
	memcpy(buf + *len, msg, n);
	*len += n;
	if (strcmp(framing, "line") == 0)
		buf[(*len)++] = '\n';
}

static int
setup(void **state)
{
	static char conf[131072];
	size_t n = 0;

	(void)state;
	dir = harness_tmpdir();
	if (geteuid() == 0)
		n += (size_t)snprintf(conf + n, sizeof(conf) - n, "user = \"nobody\";\n");
	n += (size_t)snprintf(conf + n, sizeof(conf) - n, "services = (\n");
	for (size_t m = 0; m < N_MODELS; m++) {
		for (size_t h = 0; h < 3; h++)
			for (size_t f = 0; f < 4; f++)
				n += (size_t)snprintf(conf + n, sizeof(conf) - n,
				    "  { name = \"%s-%s-%s\"; handler = \"%s\"; framing = \"%s\";"
				    " %s workers = 1;\n"
				    "    listen = [ \"127.0.0.1:0\", \"[::1]:0\", \"unix:%s/%s-%s-%s.sock\" ]; },\n",
				    handlers[h], framings[f], models[m].name, handlers[h], framings[f],
				    models[m].conf, dir, handlers[h], framings[f], models[m].name);
		n += (size_t)snprintf(conf + n, sizeof(conf) - n,
		    "  { name = \"small-%s\"; handler = \"echo\"; framing = \"line\"; %s workers = 1;\n"
		    "    listen = \"127.0.0.1:0\"; limits = { max_message = 64; }; }%s\n",
		    models[m].name, models[m].conf, m + 1 < N_MODELS ? "," : "");
	}
	snprintf(conf + n, sizeof(conf) - n, ");\n");
	d = daemon_start(conf, END);
	return daemon_wait_log(d, "notice: sockd " PACKAGE_VERSION " started", T_MS) ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	if (d != NULL && d->pid > 0)
		daemon_stop(d, SIGTERM, T_MS);
	daemon_free(d);
	harness_rmdir(dir);
	return 0;
}

static int
connect_to(const char *service, int family)
{
	char path[512];
	int port;

	if (family == 0) {
		snprintf(path, sizeof(path), "%s/%s.sock", dir, service);
		return unix_connect(path);
	}
	port = daemon_port(d, service, family == 4 ? "127.0.0.1" : "[::1]");
	assert_true(port > 0);
	return tcp_connect(family == 4 ? "127.0.0.1" : "::1", port);
}

/* What the service must answer to the messages: echo them, ack each, or nothing. */
static size_t
expected(const char *handler, const char *framing, char *buf)
{
	size_t len = 0;

	for (int i = 0; i < N_MSG; i++)
		if (strcmp(handler, "echo") == 0)
			frame(framing, messages[i], buf, &len);
		else if (strcmp(handler, "ack") == 0)
			frame(framing, "OK", buf, &len);
	return len;
}

/* Framed: all messages coalesced in one write but the last, which is split. */
static void
exchange_framed(int fd, const char *handler, const char *framing)
{
	char out[512], want[512], got[512];
	size_t len = 0, wlen = expected(handler, framing, want), cut;

	for (int i = 0; i < N_MSG; i++)
		frame(framing, messages[i], out, &len);
	cut = len - 4;
	assert_int_equal(send_all(fd, out, cut), 0);
	usleep(20000);
	assert_int_equal(send_all(fd, out + cut, len - cut), 0);
	assert_int_equal(recv_exact(fd, got, wlen, T_MS), (ssize_t)wlen);
	assert_memory_equal(got, want, wlen);
}

/* Raw: a message is whatever one read returns, so one at a time. */
static void
exchange_raw(int fd, const char *handler)
{
	char got[64];

	for (int i = 0; i < N_MSG; i++) {
		const char *m = messages[i][0] ? messages[i] : "x";
		size_t n = strlen(m);

		assert_int_equal(send_all(fd, m, n), 0);
		if (strcmp(handler, "echo") == 0) {
			assert_int_equal(recv_exact(fd, got, n, T_MS), (ssize_t)n);
			assert_memory_equal(got, m, n);
		} else if (strcmp(handler, "ack") == 0) {
			assert_int_equal(recv_exact(fd, got, 2, T_MS), 2);
			assert_memory_equal(got, "OK", 2);
		}
	}
}

static void
test_matrix(void **state)
{
	static const int families[] = { 4, 6, 0 };
	char service[64], c;

	(void)state;
	for (size_t m = 0; m < N_MODELS; m++)
	for (size_t h = 0; h < 3; h++)
		for (size_t f = 0; f < 4; f++)
			for (size_t a = 0; a < 3; a++) {
				int fd;

				snprintf(service, sizeof(service), "%s-%s-%s", handlers[h], framings[f],
				    models[m].name);
				fd = connect_to(service, families[a]);
				assert_true(fd >= 0);
				if (strcmp(framings[f], "raw") == 0)
					exchange_raw(fd, handlers[h]);
				else
					exchange_framed(fd, handlers[h], framings[f]);
				/* Then the server sends nothing more and closes after us. */
				assert_int_equal(shutdown(fd, SHUT_WR), 0);
				assert_true(recv_eof(fd, T_MS));
				assert_int_equal(recv(fd, &c, 1, 0), 0);
				close(fd);
			}
}

static void
test_oversized_message(void **state)
{
	char big[100], buf[8], name[32], line[128];
	int fd;

	(void)state;
	memset(big, 'x', sizeof(big));
	for (size_t m = 0; m < N_MODELS; m++) {
		snprintf(name, sizeof(name), "small-%s", models[m].name);
		fd = connect_to(name, 4);
		assert_int_equal(send_all(fd, big, sizeof(big)), 0);
		assert_true(recv_eof(fd, T_MS));
		close(fd);
		snprintf(line, sizeof(line),
		    "%s: closing connection: line longer than max_message (64 bytes)", name);
		assert_true(daemon_wait_log(d, line, T_MS));
		/* The service carries on. */
		fd = connect_to(name, 4);
		assert_int_equal(send_all(fd, "fits\n", 5), 0);
		assert_int_equal(recv_exact(fd, buf, 5, T_MS), 5);
		assert_memory_equal(buf, "fits\n", 5);
		close(fd);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matrix),
		cmocka_unit_test(test_oversized_message),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, setup, teardown);
}
