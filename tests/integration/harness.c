/*
 * harness.c - start the real sockd binary, read its log, talk to it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <linux/close_range.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define HARNESS_MAX_DAEMONS 16

static struct daemon *live[HARNESS_MAX_DAEMONS];

static __attribute__((noreturn)) void
die(const char *what)
{
	fprintf(stderr, "harness: %s: %s\n", what, strerror(errno));
	exit(99);	/* a hard error, not a test failure */
}

long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *
harness_sockd(void)
{
	const char *p = getenv("SOCKD");

	if (p == NULL) {
		errno = ENOENT;
		die("SOCKD is not set (run through make check)");
	}
	return p;
}

char *
harness_data(const char *name)
{
	const char *dir = getenv("SOCKD_SRCDIR");
	char *p;

	if (dir == NULL || asprintf(&p, "%s/tests/data/%s", dir, name) < 0)
		die("SOCKD_SRCDIR");
	return p;
}

char *
harness_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char *p;

	if (asprintf(&p, "%s/sockd-test.XXXXXX", base ? base : "/tmp") < 0 || mkdtemp(p) == NULL)
		die("mkdtemp");
	return p;
}

char *
harness_write(const char *dir, const char *name, const char *text)
{
	char *path;
	FILE *fp;

	if (asprintf(&path, "%s/%s", dir, name) < 0)
		die("asprintf");
	fp = fopen(path, "we");
	if (fp == NULL || fputs(text, fp) == EOF || fclose(fp) == EOF)
		die(path);
	return path;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(path);
}

void
harness_rmdir(char *dir)
{
	if (dir != NULL)
		nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	free(dir);
}

/* Read whatever FD has into a growing string until EOF. */
static char *
slurp(int fd)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);
	ssize_t n;

	if (buf == NULL)
		die("malloc");
	while ((n = read(fd, buf + len, cap - len - 1)) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			die("read");
		len += (size_t)n;
		if (cap - len < 2) {
			char *bigger = realloc(buf, cap *= 2);

			if (bigger == NULL)
				die("realloc");
			buf = bigger;
		}
	}
	buf[len] = '\0';
	return buf;
}

/* Fork and exec ARGV with stdout to OUT_FD (-1: /dev/null), stderr to ERR_FD. */
static pid_t
spawn_argv(char *const *argv, int out_fd, int err_fd, const char *notify)
{
	pid_t pid = fork();

	if (pid == -1)
		die("fork");
	if (pid == 0) {
		/* Never the test's own stdout: it is the TAP stream, and a
		 * daemon left behind holding it would hang the test driver. */
		if (out_fd == -1)
			out_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (out_fd == -1 || dup2(out_fd, STDOUT_FILENO) == -1 ||
		    dup2(err_fd, STDERR_FILENO) == -1)
			_exit(127);
		/* Nothing but stdio crosses into the daemon, as under systemd. */
		if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) == -1)
			_exit(127);
		unsetenv("JOURNAL_STREAM");
		unsetenv("LISTEN_FDS");
		unsetenv("LISTEN_PID");
		unsetenv("LISTEN_FDNAMES");
		if (notify != NULL)
			setenv("NOTIFY_SOCKET", notify, 1);
		else
			unsetenv("NOTIFY_SOCKET");
		execvp(argv[0], argv);
		_exit(127);
	}
	return pid;
}

static pid_t
spawn(char *const *args, int out_fd, int err_fd)
{
	char *argv[32] = { (char *)harness_sockd() };
	size_t n = 1;

	for (; args[n - 1] != NULL && n < 31; n++)
		argv[n] = args[n - 1];
	argv[n] = NULL;
	return spawn_argv(argv, out_fd, err_fd, NULL);
}

int
harness_run(char *const *args, char **out_r, char **err_r)
{
	char *out_text, *err_text;
	int out[2], err[2], status;
	pid_t pid;

	if (pipe2(out, O_CLOEXEC) == -1 || pipe2(err, O_CLOEXEC) == -1)
		die("pipe2");
	pid = spawn(args, out[1], err[1]);
	close(out[1]);
	close(err[1]);
	/* sockd -t prints little: stdout then stderr cannot deadlock on a pipe. */
	out_text = slurp(out[0]);
	err_text = slurp(err[0]);
	close(out[0]);
	close(err[0]);
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			die("waitpid");
	if (out_r) *out_r = out_text; else free(out_text);
	if (err_r) *err_r = err_text; else free(err_text);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int
notify_socket(const char *path)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd == -1)
		die("socket");
	snprintf(un.sun_path, sizeof(un.sun_path), "%s", path);
	if (bind(fd, (struct sockaddr *)&un, sizeof(un)) == -1)
		die("bind notify socket");
	return fd;
}

struct daemon *
daemon_launch(const struct launch *l)
{
	struct daemon *d = calloc(1, sizeof(*d));
	char *argv[48], *notify = NULL;
	int err[2], n = 0;

	if (d == NULL)
		die("calloc");
	d->notify_fd = -1;
	d->dir = harness_tmpdir();
	d->conf = harness_write(d->dir, "sockd.conf", l->conf);
	for (size_t i = 0; l->wrapper != NULL && l->wrapper[i] != NULL && n < 20; i++)
		argv[n++] = (char *)l->wrapper[i];
	argv[n++] = (char *)(l->binary != NULL ? l->binary : harness_sockd());
	argv[n++] = "-c";
	argv[n++] = d->conf;
	for (size_t i = 0; l->args != NULL && l->args[i] != NULL && n < 46; i++)
		argv[n++] = (char *)l->args[i];
	argv[n] = NULL;
	if (l->notify) {
		if (asprintf(&notify, "%s/notify.sock", d->dir) < 0)
			die("asprintf");
		d->notify_fd = notify_socket(notify);
	}
	if (pipe2(err, O_CLOEXEC) == -1)
		die("pipe2");
	d->pid = spawn_argv(argv, -1, err[1], notify);
	free(notify);
	close(err[1]);
	d->err_fd = err[0];
	for (size_t i = 0; i < HARNESS_MAX_DAEMONS; i++)
		if (live[i] == NULL) {
			live[i] = d;
			return d;
		}
	errno = EMFILE;
	die("too many daemons at once");
	return NULL;
}

struct daemon *
daemon_start(const char *conf_text, ...)
{
	const char *args[16];
	struct launch l = { .conf = conf_text, .args = args };
	int n = 0;
	va_list ap;

	va_start(ap, conf_text);
	while (n < 15 && (args[n] = va_arg(ap, const char *)) != NULL)
		n++;
	va_end(ap);
	args[n] = NULL;
	return daemon_launch(&l);
}

/* Read every datagram waiting on the notify socket into d->notes. */
void
daemon_read_notes(struct daemon *d)
{
	char buf[4096], cbuf[CMSG_SPACE(sizeof(int) * 16)];

	for (;;) {
		struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) - 1 };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
		ssize_t n = recvmsg(d->notify_fd, &mh, MSG_CMSG_CLOEXEC);

		if (n <= 0)
			return;
		/* Close any descriptors sent along, as systemd would not keep them. */
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
				for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++)
					close(((int *)CMSG_DATA(c))[i]);
		if (d->notes_len + (size_t)n + 2 < sizeof(d->notes)) {
			memcpy(d->notes + d->notes_len, buf, (size_t)n);
			d->notes_len += (size_t)n;
			d->notes[d->notes_len++] = '\n';
			d->notes[d->notes_len] = '\0';
		}
	}
}

bool
daemon_wait_note(struct daemon *d, const char *needle, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;

	for (;;) {
		struct pollfd p = { .fd = d->notify_fd, .events = POLLIN };

		daemon_read_notes(d);
		if (strstr(d->notes, needle) != NULL)
			return true;
		if (now_ms() >= deadline) {
			fprintf(stderr, "harness: \"%s\" not notified; notes so far:\n%s\n", needle, d->notes);
			return false;
		}
		poll(&p, 1, 50);
	}
}

/* The daemon's child processes (its workers), from /proc. */
size_t
daemon_workers(const struct daemon *d, pid_t *pids, size_t max)
{
	return pid_children(d->pid, pids, max);
}

/* PID's child processes (zombies included, until reaped), from /proc. */
size_t
pid_children(pid_t pid, pid_t *pids, size_t max)
{
	char path[64], buf[4096];
	size_t n = 0;
	FILE *fp;
	long v;

	snprintf(path, sizeof(path), "/proc/%ld/task/%ld/children", (long)pid, (long)pid);
	fp = fopen(path, "re");
	if (fp == NULL)
		return 0;
	if (fgets(buf, sizeof(buf), fp) != NULL)
		for (char *p = buf, *end; n < max && (v = strtol(p, &end, 10)) > 0; p = end)
			pids[n++] = (pid_t)v;
	fclose(fp);
	return n;
}

bool
daemon_wait_workers(struct daemon *d, size_t want, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;
	pid_t pids[256];
	size_t n;

	while ((n = daemon_workers(d, pids, 256)) != want) {
		if (now_ms() >= deadline) {
			fprintf(stderr, "harness: %zu workers, wanted %zu; log:\n%s\n", n, want, d->log);
			return false;
		}
		daemon_read_log(d, now_ms() + 20);
	}
	return true;
}

/* Replace the configuration file and send SIGHUP; the number of "reloaded"
 * or "reload failed" lines seen before, to wait for the next one. */
int
daemon_reload(struct daemon *d, const char *conf_text)
{
	char *tmp;
	int count = 0;

	if (asprintf(&tmp, "%s.new", d->conf) < 0)
		die("asprintf");
	free(harness_write(d->dir, "sockd.conf.new", conf_text));
	if (rename(tmp, d->conf) == -1)
		die("rename");
	free(tmp);
	for (const char *p = d->log; (p = strstr(p, "SIGHUP: reloading")) != NULL; p++)
		count++;
	if (kill(d->pid, SIGHUP) == -1)
		die("kill");
	return count;
}

/* Read more of the daemon's log; false at EOF or when the deadline passes. */
bool
daemon_read_log(struct daemon *d, long long deadline)
{
	struct pollfd p = { .fd = d->err_fd, .events = POLLIN };
	long long left = deadline - now_ms();
	ssize_t n;

	/* Like systemd, take every notification as it comes: a full notify
	 * socket holds back READY=1 and drops STATUS updates. */
	if (d->notify_fd != -1)
		daemon_read_notes(d);
	if (d->err_fd == -1 || left <= 0)
		return false;
	if (poll(&p, 1, (int)left) <= 0)
		return false;
	n = read(d->err_fd, d->log + d->log_len, sizeof(d->log) - 1 - d->log_len);
	if (n <= 0) {
		close(d->err_fd);
		d->err_fd = -1;
		return false;
	}
	d->log_len += (size_t)n;
	d->log[d->log_len] = '\0';
	return true;
}

bool
daemon_wait_log(struct daemon *d, const char *needle, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;

	while (strstr(d->log, needle) == NULL)
		if (!daemon_read_log(d, deadline)) {
			fprintf(stderr, "harness: \"%s\" not logged; log so far:\n%s\n", needle, d->log);
			return false;
		}
	return true;
}

/* The port SERVICE logged as "SERVICE: listening on PREFIX:PORT"; -1 if none. */
int
daemon_port(struct daemon *d, const char *service, const char *prefix)
{
	char needle[256];
	const char *p;

	snprintf(needle, sizeof(needle), "%s: listening on %s:", service, prefix);
	if (!daemon_wait_log(d, needle, HARNESS_TIMEOUT_MS))
		return -1;
	p = strstr(d->log, needle) + strlen(needle);
	return atoi(p);
}

/* Send SIG (0: none), wait for exit; the exit status, 128+signal, or -1 on timeout. */
int
daemon_stop(struct daemon *d, int sig, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;
	int status;
	pid_t r;

	if (sig != 0 && kill(d->pid, sig) == -1)
		die("kill");
	while ((r = waitpid(d->pid, &status, WNOHANG)) == 0) {
		if (now_ms() > deadline) {
			pid_t w[64];
			size_t n = daemon_workers(d, w, 64);

			fprintf(stderr, "harness: pid %ld still running after %d ms, %zu children;"
			    " log:\n%s\n", (long)d->pid, timeout_ms, n, d->log);
			return -1;
		}
		if (!daemon_read_log(d, now_ms() + 20))
			usleep(10000);
	}
	if (r == -1)
		die("waitpid");
	while (daemon_read_log(d, now_ms() + 100))
		;
	d->pid = 0;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void
daemon_free(struct daemon *d)
{
	if (d == NULL)
		return;
	for (size_t i = 0; i < HARNESS_MAX_DAEMONS; i++)
		if (live[i] == d)
			live[i] = NULL;
	if (d->pid > 0) {
		kill(d->pid, SIGKILL);
		waitpid(d->pid, NULL, 0);
	}
	if (d->err_fd != -1)
		close(d->err_fd);
	if (d->notify_fd != -1)
		close(d->notify_fd);
	free(d->conf);
	harness_rmdir(d->dir);
	free(d);
}

/* The real id in /proc/PID/status for FIELD ("Uid" or "Gid"); -1 if none. */
long
proc_id(pid_t pid, const char *field)
{
	char path[64], line[256];
	size_t n = strlen(field);
	long id = -1;
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	if ((fp = fopen(path, "re")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), fp) != NULL)
		if (strncmp(line, field, n) == 0 && line[n] == ':') {
			id = strtol(line + n + 1, NULL, 10);
			break;
		}
	fclose(fp);
	return id;
}

/* Whether a socket of FAMILY can bind to any address at PORT. */
static bool
port_bindable(int family, int port)
{
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct sockaddr_in6 in6 = { .sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port) };
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0), on = 1;
	bool ok;

	if (fd == -1)
		die("socket");
	if (family == AF_INET6) {
		if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) == -1)
			die("IPV6_V6ONLY");
		ok = bind(fd, (struct sockaddr *)&in6, sizeof(in6)) == 0;
	} else
		ok = bind(fd, (struct sockaddr *)&in, sizeof(in)) == 0;
	close(fd);
	return ok;
}

int
free_port(bool both)
{
	static bool seeded;
	int lo = 32768, hi = 60999, from, to;
	FILE *fp = fopen("/proc/sys/net/ipv4/ip_local_port_range", "re");

	if (fp != NULL) {
		if (fscanf(fp, "%d %d", &lo, &hi) != 2) {
			lo = 32768;
			hi = 60999;
		}
		fclose(fp);
	}
	if (lo - 10000 >= 2000) {		/* below the range, above the well-known ports */
		from = 10000;
		to = lo - 1;
	} else if (65535 - hi >= 2000) {	/* above it */
		from = hi + 1;
		to = 65535;
	} else {				/* no room outside it: a race is possible */
		from = 1024;
		to = 65535;
	}
	if (!seeded) {
		srandom((unsigned)getpid() ^ (unsigned)now_ms());
		seeded = true;
	}
	for (int tries = 0; tries < 500; tries++) {
		int port = from + (int)(random() % (to - from + 1));

		if (port_bindable(AF_INET, port) && (!both || port_bindable(AF_INET6, port)))
			return port;
	}
	fprintf(stderr, "harness: no free port in %d-%d\n", from, to);
	exit(99);
}

int
tcp_connect(const char *ip, int port)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	socklen_t len;
	int fd;

	if (strchr(ip, ':') != NULL) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		inet_pton(AF_INET6, ip, &in6->sin6_addr);
		len = sizeof(*in6);
	} else {
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		inet_pton(AF_INET, ip, &in->sin_addr);
		len = sizeof(*in);
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		die("socket");
	if (connect(fd, (struct sockaddr *)&ss, len) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

int
unix_connect(const char *path)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd == -1)
		die("socket");
	snprintf(un.sun_path, sizeof(un.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&un, sizeof(un)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

int
send_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Read exactly LEN bytes; returns how many arrived before EOF, error or deadline. */
ssize_t
recv_exact(int fd, void *buf, size_t len, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;
	size_t got = 0;

	while (got < len) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		long long left = deadline - now_ms();
		ssize_t n;

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			break;
		n = recv(fd, (char *)buf + got, len - got, 0);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/* True if the peer closes (EOF or reset) within the deadline. */
bool
recv_eof(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char c;

	if (poll(&p, 1, timeout_ms) <= 0)
		return false;
	return recv(fd, &c, 1, 0) <= 0;
}

int
harness_teardown(void **state)
{
	(void)state;
	for (size_t i = 0; i < HARNESS_MAX_DAEMONS; i++)
		daemon_free(live[i]);
	return 0;
}
