/*
 * epoll_echo.c - the benchmark's yardstick: the least an event-driven echo
 * server can be. Each worker is one process with one level-triggered epoll
 * loop; every byte read is written straight back (no framing, no limits, no
 * timeouts). sockd's models are measured against it in tests/bench/run.sh.
 *
 * usage: epoll_echo PORT [WORKERS]
 *   127.0.0.1 only; 0 picks a port, logged on stderr. WORKERS (1..64,
 *   default 1) processes share the listener, each with its own epoll: the
 *   parent is one of them, the others die with it.
 *
 * A write that would block drops the rest of that chunk and the connection:
 * the load client keeps one small message in flight, so it never happens in
 * the benchmark, and buffering for it would make the yardstick less minimal.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_WORKERS	64

static void
die(const char *what)
{
	perror(what);
	exit(71);
}

static int
echo_listen(int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
	    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sin);
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd == -1 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 || listen(fd, 511) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) == -1)
		die("listen");
	fprintf(stderr, "epoll_echo: listening on 127.0.0.1:%d\n", ntohs(sin.sin_port));
	return fd;
}

/* WORKERS - 1 children; each returns to serve, as does the parent. A child
 * must not outlive the parent (the benchmark stops the parent's pid), and
 * checks getppid() in case the parent died before the prctl. */
static void
echo_fork(int workers)
{
	pid_t parent = getpid(), pid;

	for (int i = 1; i < workers; i++) {
		if ((pid = fork()) == -1)
			die("fork");
		if (pid == 0) {
			if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1)
				die("prctl");
			if (getppid() != parent)
				_exit(0);
			return;
		}
	}
}

static void
echo_accept(int ep, int lfd)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int fd;

	while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) != -1) {
		ev.data.fd = fd;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == -1)
			die("epoll_ctl");
	}
	if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED && errno != EMFILE)
		die("accept4");
}

static void
echo_serve(int fd)
{
	char buf[16384];
	ssize_t n = read(fd, buf, sizeof(buf));

	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0 && send(fd, buf, (size_t)n, MSG_NOSIGNAL) == n)
		return;
	close(fd);		/* EOF, error or a short write; closing drops it from epoll */
}

int
main(int argc, char **argv)
{
	/* EPOLLEXCLUSIVE: a connection wakes one worker, not all of them */
	struct epoll_event ev = { .events = EPOLLIN | EPOLLEXCLUSIVE }, evs[256];
	int ep, lfd, n, workers = 1;

	if (argc == 3)
		workers = atoi(argv[2]);
	if (argc < 2 || argc > 3 || workers < 1 || workers > MAX_WORKERS)
		return fprintf(stderr, "usage: epoll_echo PORT [WORKERS]\n"), 64;
	lfd = echo_listen(atoi(argv[1]));
	echo_fork(workers);
	ev.data.fd = lfd;
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) == -1)
		die("epoll");
	for (;;) {
		if ((n = epoll_wait(ep, evs, 256, -1)) == -1 && errno != EINTR)
			die("epoll_wait");
		for (int i = 0; i < n; i++) {
			if (evs[i].data.fd == lfd)
				echo_accept(ep, lfd);
			else
				echo_serve(evs[i].data.fd);
		}
	}
}
