/*
 * testlib.c - assertions shared by the integration tests (testlib.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "testlib.h"

static char conf[32768];

const char *
config(const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(conf, sizeof(conf), "%s", geteuid() == 0 ? "user = \"nobody\";\n" : "");

	va_start(ap, fmt);
	vsnprintf(conf + n, sizeof(conf) - (size_t)n, fmt, ap);
	va_end(ap);
	return conf;
}

static struct daemon *
start_at(const char *binary, const char *text, const char *service, int *port_r)
{
	struct launch l = { .binary = binary, .conf = text };
	struct daemon *d = daemon_launch(&l);

	*port_r = daemon_port(d, service, "127.0.0.1");
	assert_true(*port_r > 0);
	assert_true(daemon_wait_log(d, STARTED, T_MS));
	return d;
}

struct daemon *
start_with(const char *binary, const char *text, int *port_r)
{
	return start_at(binary, text, "echo", port_r);
}

struct daemon *
start_service(const char *text, const char *service, int *port_r)
{
	return start_at(NULL, text, service, port_r);
}

struct daemon *
start(const char *text, int *port_r)
{
	return start_with(NULL, text, port_r);
}

void
stop(struct daemon *d)
{
	assert_int_equal(daemon_stop(d, SIGTERM, T_MS), 0);
	daemon_free(d);
}

void
exchange(int fd, const void *msg, size_t len, const void *answer, size_t alen)
{
	char buf[256];

	assert_true(fd >= 0 && alen <= sizeof(buf));
	assert_int_equal(send_all(fd, msg, len), 0);
	assert_int_equal(recv_exact(fd, buf, alen, T_MS), (ssize_t)alen);
	assert_memory_equal(buf, answer, alen);
}

void
echo_line(int fd, const char *line)
{
	exchange(fd, line, strlen(line), line, strlen(line));
}

bool
answers_on(const char *ip, int port)
{
	int fd = tcp_connect(ip, port);
	char buf[6];
	bool ok;

	if (fd < 0)
		return false;
	ok = send_all(fd, "ping\n", 5) == 0 && recv_exact(fd, buf, 5, T_MS) == 5 &&
	    memcmp(buf, "ping\n", 5) == 0;
	close(fd);
	return ok;
}

bool
answers(int port)
{
	return answers_on("127.0.0.1", port);
}

int
count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

bool
pid_gone(pid_t pid)
{
	char path[64], state = 0;
	FILE *fp;

	if (kill(pid, 0) == -1 && errno == ESRCH)
		return true;
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((fp = fopen(path, "re")) == NULL)
		return true;
	if (fscanf(fp, "%*d (%*[^)]) %c", &state) != 1)
		state = 0;
	fclose(fp);
	return state == 'Z';
}

int
tcp_connect_from(const char *src, int port)
{
	struct sockaddr_in from = { .sin_family = AF_INET }, to = { .sin_family = AF_INET,
		.sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(inet_pton(AF_INET, src, &from.sin_addr), 1);
	assert_int_equal(inet_pton(AF_INET, "127.0.0.1", &to.sin_addr), 1);
	assert_int_equal(bind(fd, (struct sockaddr *)&from, sizeof(from)), 0);
	if (connect(fd, (struct sockaddr *)&to, sizeof(to)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}
