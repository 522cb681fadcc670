/*
 * echo_floor.c - the yardsticks' shared start (echo_floor.h).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "echo_floor.h"

void
floor_die(const char *what)
{
	perror(what);
	exit(71);
}

int
floor_workers(const char *name, int argc, char **argv)
{
	int workers = argc == 3 ? atoi(argv[2]) : 1;

	if (argc < 2 || argc > 3 || workers < 1 || workers > FLOOR_MAX_WORKERS) {
		fprintf(stderr, "usage: %s PORT [WORKERS]\n", name);
		return -1;
	}
	return workers;
}

int
floor_listen(const char *name, int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
	    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sin);
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd == -1 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 || listen(fd, 511) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) == -1)
		floor_die("listen");
	fprintf(stderr, "%s: listening on 127.0.0.1:%d\n", name, ntohs(sin.sin_port));
	return fd;
}

/* A child must not outlive the parent (the benchmark stops the parent's
 * pid), and checks getppid() in case the parent died before the prctl. */
void
floor_fork(int workers)
{
	pid_t parent = getpid(), pid;

	for (int i = 1; i < workers; i++) {
		if ((pid = fork()) == -1)
			floor_die("fork");
		if (pid == 0) {
			if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1)
				floor_die("prctl");
			if (getppid() != parent)
				_exit(0);
			return;
		}
	}
}
