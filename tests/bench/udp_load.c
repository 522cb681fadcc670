/*
 * udp_load.c - the datagram load client of tests/bench/dgram.sh.
 *
 * N client sockets, each keeping W datagrams of S bytes in flight to one
 * echo server: every echo that comes back sends the next. A socket that
 * hears nothing for 100 ms (its datagrams or their echoes were dropped,
 * as UDP may) sends its window again, so a lossy server is measured, not
 * stalled. One epoll loop, non-blocking sockets.
 *
 * It is for measuring one's own servers: 127.0.0.1 and ::1 only, at most
 * 60 s, at most 1000 sockets.
 *
 *   udp_load -p PORT [-a ADDR] [-c SOCKETS] [-w WINDOW] [-s SIZE] [-d SECONDS]
 * prints "sent N received N seconds X".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_SOCKETS 1000
#define MAX_SECONDS 60
#define QUIET_NS (100 * 1000 * 1000LL)

struct client {
	int fd;
	int64_t last_ns;		/* last echo, or the last (re)send */
};

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void
usage(void)
{
	fprintf(stderr, "usage: udp_load -p PORT [-a 127.0.0.1|::1] [-c SOCKETS] [-w WINDOW] "
	    "[-s SIZE] [-d SECONDS]\n");
	exit(64);
}

int
main(int argc, char **argv)
{
	const char *host = "127.0.0.1";
	int port = 0, n = 16, window = 4, size = 64, seconds = 10, ch, ep;
	struct sockaddr_storage ss = { 0 };
	socklen_t len;
	struct client *c;
	unsigned long long sent = 0, received = 0;
	char buf[65536];
	int64_t start, end;

	while ((ch = getopt(argc, argv, "a:p:c:w:s:d:")) != -1) {
		switch (ch) {
		case 'a': host = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 'c': n = atoi(optarg); break;
		case 'w': window = atoi(optarg); break;
		case 's': size = atoi(optarg); break;
		case 'd': seconds = atoi(optarg); break;
		default: usage();
		}
	}
	if (port <= 0 || port > 65535 || n < 1 || n > MAX_SOCKETS || window < 1 ||
	    window > 64 || size < 1 || size > (int)sizeof(buf) || seconds < 1 ||
	    seconds > MAX_SECONDS)
		usage();
	if (strchr(host, ':') == NULL) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;

		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, host, &in->sin_addr) != 1 ||
		    in->sin_addr.s_addr != htonl(INADDR_LOOPBACK))
			usage();
		len = sizeof(*in);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1 ||
		    !IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
			usage();
		len = sizeof(*in6);
	}
	memset(buf, 'x', sizeof(buf));
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1 || (c = calloc((size_t)n, sizeof(*c))) == NULL)
		return 71;
	start = now_ns();
	for (int i = 0; i < n; i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)i };

		c[i].fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (c[i].fd == -1 || connect(c[i].fd, (struct sockaddr *)&ss, len) == -1 ||
		    epoll_ctl(ep, EPOLL_CTL_ADD, c[i].fd, &ev) == -1) {
			fprintf(stderr, "udp_load: socket %d: %s\n", i, strerror(errno));
			return 71;
		}
		for (int w = 0; w < window; w++)
			sent += send(c[i].fd, buf, (size_t)size, 0) == size;
		c[i].last_ns = start;
	}
	end = start + (int64_t)seconds * 1000000000LL;
	for (int64_t now = start; now < end; now = now_ns()) {
		struct epoll_event evs[64];
		int k = epoll_wait(ep, evs, 64, 20);

		for (int e = 0; e < k; e++) {
			struct client *cl = &c[evs[e].data.u32];

			while (recv(cl->fd, buf, sizeof(buf), 0) > 0) {
				received++;
				sent += send(cl->fd, buf, (size_t)size, 0) == size;
				cl->last_ns = now;
			}
		}
		for (int i = 0; i < n; i++)
			if (now - c[i].last_ns > QUIET_NS) {	/* lost: the window again */
				for (int w = 0; w < window; w++)
					sent += send(c[i].fd, buf, (size_t)size, 0) == size;
				c[i].last_ns = now;
			}
	}
	printf("sent %llu received %llu seconds %.3f\n", sent, received,
	    (double)(now_ns() - start) / 1e9);
	return 0;
}
