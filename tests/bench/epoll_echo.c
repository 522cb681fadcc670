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
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "echo_floor.h"

static void
echo_accept(int ep, int lfd)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int fd;

	while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) != -1) {
		ev.data.fd = fd;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == -1)
			floor_die("epoll_ctl");
	}
	if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED && errno != EMFILE)
		floor_die("accept4");
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
	int ep, lfd, n, workers;

	if ((workers = floor_workers("epoll_echo", argc, argv)) == -1)
		return 64;
	lfd = floor_listen("epoll_echo", atoi(argv[1]));
	floor_fork(workers);
	ev.data.fd = lfd;
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) == -1)
		floor_die("epoll");
	for (;;) {
		if ((n = epoll_wait(ep, evs, 256, -1)) == -1 && errno != EINTR)
			floor_die("epoll_wait");
		for (int i = 0; i < n; i++) {
			if (evs[i].data.fd == lfd)
				echo_accept(ep, lfd);
			else
				echo_serve(evs[i].data.fd);
		}
	}
}
