/*
 * test_handshake.c - clients that take their time, and clients behind a
 * load balancer: timeouts.handshake against slowloris under event (a new
 * client is answered at once, the slow ones get 408 at their deadline)
 * and prefork (the slow ones hold a worker only until then); the PROXY
 * protocol v1 and v2 (the client it names is the peer, for exec's
 * TCPREMOTEIP and for per_ip), LOCAL health checks, a header from an
 * untrusted address, a malformed one, a late one, a spoofed one on a
 * service without proxy_protocol; and a real HAProxy in front, with
 * send-proxy and send-proxy-v2, where it is installed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testlib.h"

static int
connect_from(const char *src, int port)
{
	int fd = tcp_connect_from(src, port);

	assert_true(fd >= 0);
	return fd;
}

/* Everything FD sends until it closes (or TIMEOUT_MS passes), in BUF. */
static size_t
read_all(int fd, char *buf, size_t size, int timeout_ms)
{
	long long end = now_ms() + timeout_ms;
	size_t got = 0;

	while (got < size - 1 && now_ms() < end) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, (int)(end - now_ms())) <= 0)
			break;
		if ((n = recv(fd, buf + got, size - 1 - got, 0)) <= 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	return got;
}

static const char GET[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";

/* A whole request on a fresh connection: answered within a generous bound. */
static void
answered_fast(int port)
{
	char buf[1024];
	long long t0 = now_ms();
	int fd = connect_from("127.0.0.1", port);

	assert_int_equal(send_all(fd, GET, sizeof(GET) - 1), 0);
	assert_true(recv_exact(fd, buf, 12, T_MS) == 12);
	assert_memory_equal(buf, "HTTP/1.1 200", 12);
	/* A hang-catching bound, not a benchmark: the slow ones must not
	 * stand in front of it. */
	assert_true(now_ms() - t0 < 2000);
	close(fd);
}

/* N clients that send a head a byte at a time, too slowly. */
static void
slowloris(int *fds, int n, int port)
{
	for (int i = 0; i < n; i++) {
		char src[32];

		snprintf(src, sizeof(src), "127.0.%d.%d", 1 + i / 250, 1 + i % 250);
		fds[i] = connect_from(src, port);
		assert_int_equal(send_all(fds[i], "GET / HTTP/1.1\r\n", 16), 0);
	}
}

static void
all_got_408(int *fds, int n)
{
	char buf[512];

	for (int i = 0; i < n; i++) {
		read_all(fds[i], buf, sizeof(buf), T_MS);
		assert_non_null(strstr(buf, "HTTP/1.1 408 Request Timeout\r\n"));
		close(fds[i]);
	}
}

static void
check_slowloris(const char *model)
{
	int fds[300], port;
	struct daemon *d;

	d = start_service(config("services = ( { name = \"web\"; listen = \"127.0.0.1:0\";"
	    " handler = \"http\"; model = \"%s\"; workers = 1; timeouts = { handshake = 2; }; } );",
	    model), "web", &port);
	slowloris(fds, 300, port);
	for (int round = 0; round < 3; round++) {	/* a byte each, now and then */
		for (int i = 0; i < 300; i++)
			assert_int_equal(send_all(fds[i], "X", 1), 0);
		answered_fast(port);
		usleep(200 * 1000);
	}
	all_got_408(fds, 300);
	assert_true(daemon_wait_log(d, "no first message within 2000 ms (timeouts.handshake)", T_MS));
	answered_fast(port);
	stop(d);
}

static void
test_slowloris_event(void **state)
{
	(void)state;
	check_slowloris("event");
}

static void
test_slowloris_uring(void **state)
{
	(void)state;
	check_slowloris("uring");
}

static void
test_slowloris_prefork(void **state)
{
	char buf[64];
	int fds[2], port, fd;
	struct daemon *d;
	long long t0;

	(void)state;
	d = start_service(config("services = ( { name = \"web\"; listen = \"127.0.0.1:0\";"
	    " handler = \"http\"; workers = 2; timeouts = { handshake = 1; }; } );"), "web", &port);
	slowloris(fds, 2, port);	/* both workers held */
	usleep(100 * 1000);
	t0 = now_ms();
	fd = connect_from("127.0.0.1", port);
	assert_int_equal(send_all(fd, GET, sizeof(GET) - 1), 0);
	assert_true(recv_exact(fd, buf, 12, T_MS) == 12);
	assert_memory_equal(buf, "HTTP/1.1 200", 12);
	assert_true(now_ms() - t0 >= 500);	/* it waited for a worker ... */
	assert_true(now_ms() - t0 < 5000);	/* ... only until the deadline */
	close(fd);
	all_got_408(fds, 2);
	stop(d);
}

/* Not only http: a line service closes a silent client at the deadline,
 * and leaves alone one that spoke in time. */
static void
test_handshake_line(void **state)
{
	char buf[64];
	struct daemon *d;
	int quiet, talker, port;

	(void)state;
	d = start(config("services = ( { name = \"echo\"; listen = \"127.0.0.1:0\";"
	    " handler = \"echo\"; framing = \"line\"; model = \"event\";"
	    " timeouts = { handshake = 1; }; } );"), &port);
	quiet = connect_from("127.0.0.1", port);
	talker = connect_from("127.0.0.1", port);
	echo_line(talker, "hello\n");
	assert_true(recv_eof(quiet, T_MS));
	usleep(300 * 1000);
	echo_line(talker, "still here\n");
	assert_int_equal(read_all(quiet, buf, sizeof(buf), 100), 0);
	close(quiet);
	close(talker);
	stop(d);
}

/* ---- PROXY protocol ------------------------------------------------------ */

#define EXEC_IP \
	"services = ( { name = \"x\"; listen = \"127.0.0.1:0\"; handler = \"exec\";" \
	" exec = { argv = [ \"/bin/sh\", \"-c\", \"echo \\\"$TCPREMOTEIP $TCPREMOTEPORT\\\"; cat\" ]; };" \
	" proxy_protocol = true; proxy_trusted = [ \"%s\" ]; %s } );"

static const char V2_SIG[12] = "\r\n\r\n\0\r\nQUIT\n";

/* A v2 header: PROXY (or LOCAL), TCP over IPv4, from SRC:SPORT. */
static size_t
v2_header(uint8_t *out, bool local, const char *src, uint16_t sport)
{
	struct in_addr a, b;

	memcpy(out, V2_SIG, 12);
	out[12] = local ? 0x20 : 0x21;
	out[13] = 0x11;
	out[14] = 0;
	out[15] = 12;
	inet_pton(AF_INET, src, &a);
	inet_pton(AF_INET, "127.0.0.1", &b);
	memcpy(out + 16, &a, 4);
	memcpy(out + 20, &b, 4);
	out[24] = (uint8_t)(sport >> 8);
	out[25] = (uint8_t)sport;
	out[26] = 0;
	out[27] = 7;
	return 28;
}

/* Connect, send HEAD (LEN bytes) then "ping\n"; the program's first line. */
static void
proxied_line(int port, const void *head, size_t len, char *line, size_t size)
{
	int fd = connect_from("127.0.0.1", port);
	size_t got;

	assert_int_equal(send_all(fd, head, len), 0);
	(void)send_all(fd, "ping\n", 5);	/* a refused header may be closed on already */
	got = read_all(fd, line, size, 2000);
	close(fd);
	line[got] = '\0';
}

/* MODEL: the settings that choose it ("" for prefork). */
static void
check_proxy_headers(const char *model)
{
	struct daemon *d;
	uint8_t v2[64];
	char out[256];
	int port;

	d = start_service(config(EXEC_IP, "127.0.0.0/8", model), "x", &port);
	proxied_line(port, "PROXY TCP4 192.0.2.9 127.0.0.1 5555 7\r\n", 39, out, sizeof(out));
	assert_string_equal(out, "192.0.2.9 5555\nping\n");	/* the program gets ping, not the header */
	proxied_line(port, "PROXY TCP6 2001:db8::7 ::1 4444 7\r\n", 35, out, sizeof(out));
	assert_string_equal(out, "2001:db8::7 4444\nping\n");
	proxied_line(port, v2, v2_header(v2, false, "198.51.100.3", 6000), out, sizeof(out));
	assert_string_equal(out, "198.51.100.3 6000\nping\n");
	/* LOCAL (a health check) and UNKNOWN: the connection's own address. */
	proxied_line(port, v2, v2_header(v2, true, "198.51.100.3", 6000), out, sizeof(out));
	assert_non_null(strstr(out, "127.0.0.1 "));
	proxied_line(port, "PROXY UNKNOWN\r\n", 15, out, sizeof(out));
	assert_non_null(strstr(out, "127.0.0.1 "));
	/* Malformed: closed before any program runs. */
	proxied_line(port, "PROXY TCP4 192.0.2.9 127.0.0.1 99999 7\r\n", 40, out, sizeof(out));
	assert_string_equal(out, "");
	proxied_line(port, "GET / HTTP/1.0\r\n\r\n", 18, out, sizeof(out));
	assert_string_equal(out, "");
	assert_true(daemon_wait_log(d, "refused 127.0.0.1:", T_MS));
	stop(d);
}

static void
test_proxy_headers(void **state)
{
	(void)state;
	check_proxy_headers("");
}

/* The uring model reads the header as the event model does, then its
 * own way: the program still gets ping, not the header. */
static void
test_proxy_headers_uring(void **state)
{
	(void)state;
	check_proxy_headers("model = \"uring\";");
}

static void
test_proxy_untrusted_and_late(void **state)
{
	struct daemon *d;
	char out[256];
	int port, fd;

	(void)state;
	d = start_service(config(EXEC_IP, "127.0.0.99", "timeouts = { handshake = 1; };"), "x",
	    &port);
	proxied_line(port, "PROXY TCP4 192.0.2.9 127.0.0.1 5555 7\r\n", 39, out, sizeof(out));
	assert_string_equal(out, "");
	assert_true(daemon_wait_log(d, "not from an address in proxy_trusted", T_MS));
	stop(d);
	d = start_service(config(EXEC_IP, "127.0.0.1", "timeouts = { handshake = 1; };"), "x", &port);
	fd = connect_from("127.0.0.1", port);
	assert_int_equal(send_all(fd, "PROXY TCP4 ", 11), 0);	/* and then nothing */
	assert_true(recv_eof(fd, T_MS));
	close(fd);
	assert_true(daemon_wait_log(d, "no PROXY header within 1000 ms", T_MS));
	stop(d);
}

/* The client the header names is who per_ip counts. */
static void
test_proxy_per_ip(void **state)
{
	static const char a[] = "PROXY TCP4 192.0.2.20 127.0.0.1 1000 7\r\n";
	static const char b[] = "PROXY TCP4 192.0.2.21 127.0.0.1 1000 7\r\n";
	struct daemon *d;
	char buf[64];
	int port, one, two, three;

	(void)state;
	d = start_service(config("services = ( { name = \"e\"; listen = \"127.0.0.1:0\";"
	    " handler = \"echo\"; framing = \"line\"; model = \"event\"; proxy_protocol = true;"
	    " proxy_trusted = \"127.0.0.1\"; limits = { per_ip = 1; }; } );"), "e", &port);
	one = connect_from("127.0.0.1", port);
	assert_int_equal(send_all(one, a, sizeof(a) - 1), 0);
	echo_line(one, "x\n");
	two = connect_from("127.0.0.1", port);
	assert_int_equal(send_all(two, a, sizeof(a) - 1), 0);
	assert_true(recv_eof(two, T_MS));	/* 192.0.2.20 has its one */
	three = connect_from("127.0.0.1", port);
	assert_int_equal(send_all(three, b, sizeof(b) - 1), 0);
	echo_line(three, "y\n");
	assert_int_equal(read_all(two, buf, sizeof(buf), 10), 0);
	close(one);
	close(two);
	close(three);
	assert_true(daemon_wait_log(d, "refused 192.0.2.20:1000: limits.per_ip reached", T_MS));
	stop(d);
}

/* Without proxy_protocol a PROXY header is just bytes from the client. */
static void
test_proxy_spoofed(void **state)
{
	static const char spoof[] = "PROXY TCP4 203.0.113.1 127.0.0.1 1 7\r\n";
	char *dir = harness_tmpdir(), log[512], buf[512];
	struct daemon *d;
	int fd, port;
	FILE *fp;

	(void)state;
	snprintf(log, sizeof(log), "%s/access.log", dir);
	d = start_service(config("services = ( { name = \"web\"; listen = \"127.0.0.1:0\";"
	    " handler = \"http\"; http = { access_log = \"%s\"; }; } );", log), "web", &port);
	fd = connect_from("127.0.0.1", port);
	assert_int_equal(send_all(fd, spoof, sizeof(spoof) - 1), 0);
	read_all(fd, buf, sizeof(buf), T_MS);
	assert_non_null(strstr(buf, "HTTP/1.1 400 "));
	close(fd);
	stop(d);
	assert_non_null(fp = fopen(log, "r"));
	assert_non_null(fgets(buf, sizeof(buf), fp));
	fclose(fp);
	/* The client is who connected; the header is only its bad request. */
	assert_true(strncmp(buf, "127.0.0.1 ", 10) == 0);
	assert_non_null(strstr(buf, "\"PROXY TCP4 203.0.113.1 127.0.0.1 1 7\" 400 "));
	harness_rmdir(dir);
}

/* ---- lingering close ------------------------------------------------------ */

/* A bad request with more bytes right behind it: the server reads and
 * drops them after its 400 instead of closing on them, so every send of
 * the client succeeds and it reads the 400 and then a clean end, not a
 * reset. */
static void
check_linger(const char *model)
{
	static char junk[48 * 1024];
	static const char bad[] = "GET /a b HTTP/1.1\r\nHost: x\r\n\r\n";
	struct daemon *d;
	char buf[512];
	size_t got = 0;
	int fd, port;
	ssize_t n;

	memset(junk, 'x', sizeof(junk));
	d = start_service(config("services = ( { name = \"web\"; listen = \"127.0.0.1:0\";"
	    " handler = \"http\"; model = \"%s\"; } );", model), "web", &port);
	fd = connect_from("127.0.0.1", port);
	assert_int_equal(send_all(fd, bad, sizeof(bad) - 1), 0);
	usleep(100 * 1000);	/* the answer is out, the server's side shut */
	for (size_t off = 0; off < sizeof(junk); off += 4096) {
		assert_int_equal(send(fd, junk + off, 4096, MSG_NOSIGNAL), 4096);
		usleep(2000);
	}
	assert_int_equal(shutdown(fd, SHUT_WR), 0);
	while ((n = recv(fd, buf + got, sizeof(buf) - 1 - got, 0)) > 0)
		got += (size_t)n;
	assert_int_equal(n, 0);		/* a clean end, not ECONNRESET */
	buf[got] = '\0';
	assert_non_null(strstr(buf, "HTTP/1.1 400 Bad Request\r\n"));
	assert_non_null(strstr(buf, "Connection: close\r\n"));
	close(fd);
	stop(d);
}

static void
test_linger_prefork(void **state)
{
	(void)state;
	check_linger("prefork");
}

static void
test_linger_event(void **state)
{
	(void)state;
	check_linger("event");
}

static void
test_linger_uring(void **state)
{
	(void)state;
	check_linger("uring");
}

/* ---- a real HAProxy in front ---------------------------------------------- */

static pid_t
haproxy_start(const char *dir, int front, int back, const char *send_proxy)
{
	char path[600], text[1024];
	pid_t pid;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/haproxy.cfg", dir);
	snprintf(text, sizeof(text),
	    "global\n  maxconn 100\n"
	    "defaults\n  mode tcp\n  timeout connect 5s\n  timeout client 10s\n"
	    "  timeout server 10s\n"
	    "frontend f\n  bind 127.0.0.1:%d\n  default_backend b\n"
	    "backend b\n  server s 127.0.0.1:%d %s\n", front, back, send_proxy);
	assert_non_null(fp = fopen(path, "w"));
	fputs(text, fp);
	assert_int_equal(fclose(fp), 0);
	assert_true((pid = fork()) >= 0);
	if (pid == 0) {
		int null = open("/dev/null", 0);

		dup2(null, 1);
		execlp("haproxy", "haproxy", "-db", "-f", path, (char *)NULL);
		_exit(127);
	}
	return pid;
}

static void
test_haproxy(void **state)
{
	static const char *const modes[] = { "send-proxy", "send-proxy-v2" };
	char *dir;
	struct daemon *d;
	int port;

	(void)state;
	if (system("command -v haproxy >/dev/null 2>&1") != 0) {
		if (getenv("SOCKD_REQUIRE_TOOLS") != NULL)
			fail_msg("haproxy is not installed, and SOCKD_REQUIRE_TOOLS is set");
		skip();
	}
	dir = harness_tmpdir();
	d = start_service(config(EXEC_IP, "127.0.0.1", ""), "x", &port);
	for (size_t m = 0; m < 2; m++) {
		int front = free_port(false), st;
		pid_t hp = haproxy_start(dir, front, port, modes[m]);
		char out[256] = "";

		for (long long end = now_ms() + T_MS; out[0] == '\0'; usleep(50000)) {
			int fd;

			assert_true(now_ms() < end);
			/* The client HAProxy must name (it may not listen yet). */
			if ((fd = tcp_connect_from("127.0.0.77", front)) < 0)
				continue;
			if (send_all(fd, "ping\n", 5) == 0)
				read_all(fd, out, sizeof(out), 2000);
			close(fd);
		}
		print_message("%s: %s", modes[m], out);
		assert_true(strncmp(out, "127.0.0.77 ", 11) == 0);
		assert_non_null(strstr(out, "\nping\n"));
		kill(hp, SIGTERM);
		waitpid(hp, &st, 0);
	}
	stop(d);
	harness_rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_slowloris_event, harness_teardown),
		cmocka_unit_test_teardown(test_slowloris_uring, harness_teardown),
		cmocka_unit_test_teardown(test_slowloris_prefork, harness_teardown),
		cmocka_unit_test_teardown(test_handshake_line, harness_teardown),
		cmocka_unit_test_teardown(test_proxy_headers, harness_teardown),
		cmocka_unit_test_teardown(test_proxy_headers_uring, harness_teardown),
		cmocka_unit_test_teardown(test_proxy_untrusted_and_late, harness_teardown),
		cmocka_unit_test_teardown(test_proxy_per_ip, harness_teardown),
		cmocka_unit_test_teardown(test_proxy_spoofed, harness_teardown),
		cmocka_unit_test_teardown(test_linger_prefork, harness_teardown),
		cmocka_unit_test_teardown(test_linger_event, harness_teardown),
		cmocka_unit_test_teardown(test_linger_uring, harness_teardown),
		cmocka_unit_test_teardown(test_haproxy, harness_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
