/*
 * udp_echo.c - the floor for datagram services: the least a UDP echo
 * server can do on Linux, for tests/bench/dgram.sh to put sockd beside.
 *
 * One socket, one thread, blocking recvmmsg of up to 32 datagrams and one
 * sendmmsg of their echoes, nothing else: no rules, no counters, no
 * handler. It binds 127.0.0.1 or ::1 only and runs until SIGTERM (or at
 * most 300 s).
 *
 * With PROCS > 1 it forks that many such loops, either on the one socket
 * (shared: the kernel wakes whichever waits) or each on its own socket of
 * the same port (reuseport: SO_REUSEPORT spreads the datagrams by a hash
 * of the source): how a datagram service could spread over its workers,
 * measured on the floor.
 *
 *   udp_echo PORT [ADDRESS [PROCS [shared|reuseport]]]
 * prints "listening PORT" once bound.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define BATCH 32
#define SIZE 2048
#define MAX_SECONDS 300

static volatile sig_atomic_t done;

static void
on_signal(int sig)
{
	(void)sig;
	done = 1;
}

static int
bind_socket(const char *host, int port, bool reuse)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	socklen_t len;
	int fd, family = strchr(host, ':') != NULL ? AF_INET6 : AF_INET;

	if (family == AF_INET) {
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, host, &in->sin_addr) != 1 ||
		    in->sin_addr.s_addr != htonl(INADDR_LOOPBACK))
			return -1;
		len = sizeof(*in);
	} else {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1 ||
		    !IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
			return -1;
		len = sizeof(*in6);
	}
	if ((fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (reuse && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &(int){ 1 }, sizeof(int)) == -1) {
		close(fd);
		return -1;
	}
	if (bind(fd, (struct sockaddr *)&ss, len) == -1 ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

static int
bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1)
		return -1;
	return ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port :
	    ((struct sockaddr_in6 *)&ss)->sin6_port);
}

static int serve(int fd);

int
main(int argc, char **argv)
{
	const char *host = argc >= 3 ? argv[2] : "127.0.0.1";
	int procs = argc >= 4 ? atoi(argv[3]) : 1;
	bool reuse = argc >= 5 && strcmp(argv[4], "reuseport") == 0;
	struct sigaction sa = { .sa_handler = on_signal };
	pid_t kids[64];
	int fd, port;

	if (argc < 2 || argc > 5 || procs < 1 || procs > 64 ||
	    (argc == 5 && !reuse && strcmp(argv[4], "shared") != 0)) {
		fprintf(stderr, "usage: udp_echo PORT [127.0.0.1 | ::1 [PROCS [shared | reuseport]]]\n");
		return 64;
	}
	if ((fd = bind_socket(host, atoi(argv[1]), reuse)) == -1 || (port = bound_port(fd)) == -1) {
		fprintf(stderr, "udp_echo: cannot bind a loopback address: %s\n", strerror(errno));
		return 71;
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGALRM, &sa, NULL);
	alarm(MAX_SECONDS);
	for (int i = 1; i < procs; i++) {
		int own = reuse ? bind_socket(host, port, true) : fd;

		if (own == -1 || (kids[i] = fork()) == -1) {
			fprintf(stderr, "udp_echo: worker %d: %s\n", i, strerror(errno));
			return 71;
		}
		if (kids[i] == 0)
			return serve(own);
		if (reuse)
			close(own);
	}
	printf("listening %d\n", port);
	fflush(stdout);
	serve(fd);
	for (int i = 1; i < procs; i++) {
		kill(kids[i], SIGTERM);
		waitpid(kids[i], NULL, 0);
	}
	return 0;
}

/* The loop, until a signal. */
static int
serve(int fd)
{
	static char buf[BATCH][SIZE];
	struct sockaddr_storage from[BATCH];
	struct mmsghdr in[BATCH], out[BATCH];
	struct iovec iov[BATCH], oiov[BATCH];

	while (!done) {
		int n, k = 0;

		for (int i = 0; i < BATCH; i++) {
			iov[i] = (struct iovec){ .iov_base = buf[i], .iov_len = SIZE };
			in[i].msg_hdr = (struct msghdr){ .msg_name = &from[i],
				.msg_namelen = sizeof(from[i]), .msg_iov = &iov[i], .msg_iovlen = 1 };
		}
		n = recvmmsg(fd, in, BATCH, MSG_WAITFORONE, NULL);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "udp_echo: recvmmsg: %s\n", strerror(errno));
			return 71;
		}
		for (int i = 0; i < n; i++) {
			oiov[k] = (struct iovec){ .iov_base = buf[i], .iov_len = in[i].msg_len };
			out[k].msg_hdr = (struct msghdr){ .msg_name = &from[i],
				.msg_namelen = in[i].msg_hdr.msg_namelen, .msg_iov = &oiov[k],
				.msg_iovlen = 1 };
			k++;
		}
		if (k > 0 && sendmmsg(fd, out, (unsigned)k, 0) == -1 && errno != EINTR &&
		    errno != EAGAIN && errno != ENOBUFS) {
			fprintf(stderr, "udp_echo: sendmmsg: %s\n", strerror(errno));
			return 71;
		}
	}
	return 0;
}
