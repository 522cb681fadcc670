/*
 * listen.c - open listening sockets.
 *
 * Every listener is non-blocking (workers poll and then accept, and another
 * worker may have taken the connection first) and close-on-exec. TCP
 * listeners set SO_REUSEADDR so a restart does not wait out TIME_WAIT; IPv6
 * listeners set IPV6_V6ONLY so "[::]:P" and "*:P" can coexist. A Unix
 * socket's file is removed first only if it is a socket nobody listens on.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "listen.h"
#include "log.h"

/* 0: the path is free (or now is); -1: in use or not ours to remove. */
static int
listen_clear_unix(const struct sockd_addr *addr, const char *text)
{
	const char *path = addr->u.un.sun_path;
	struct stat st;
	int fd, r;

	if (lstat(path, &st) == -1)
		return errno == ENOENT ? 0 : (log_err("%s: %s", text, strerror(errno)), -1);
	if (!S_ISSOCK(st.st_mode)) {
		log_err("%s: file exists and is not a socket", text);
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		log_err("%s: socket: %s", text, strerror(errno));
		return -1;
	}
	r = connect(fd, &addr->u.sa, addr->len);
	close(fd);
	if (r == 0) {
		log_err("%s: another process is listening on it", text);
		return -1;
	}
	if (errno != ECONNREFUSED) {
		log_err("%s: cannot tell whether the socket is in use: %s", text, strerror(errno));
		return -1;
	}
	if (unlink(path) == -1 && errno != ENOENT) {
		log_err("%s: cannot remove stale socket: %s", text, strerror(errno));
		return -1;
	}
	log_info("%s: removed stale socket", text);
	return 0;
}

static int
listen_setopts(int fd, int family, const char *text)
{
	int on = 1;

	if (family == AF_UNIX)
		return 0;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1) {
		log_err("%s: SO_REUSEADDR: %s", text, strerror(errno));
		return -1;
	}
	if (family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) == -1) {
		log_err("%s: IPV6_V6ONLY: %s", text, strerror(errno));
		return -1;
	}
	return 0;
}

int
listen_open(const struct sockd_addr *addr, int backlog, int *fd_r)
{
	char text[ADDR_TEXT_MAX];
	int family = addr_family(addr);
	int fd;

	addr_format(addr, text, sizeof(text));
	if (family == AF_UNIX && listen_clear_unix(addr, text) == -1)
		return -1;
	fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		log_err("%s: socket: %s", text, strerror(errno));
		return -1;
	}
	if (listen_setopts(fd, family, text) == -1)
		goto fail;
	if (bind(fd, &addr->u.sa, addr->len) == -1) {
		log_err("%s: bind: %s", text, strerror(errno));
		goto fail;
	}
	if (listen(fd, backlog) == -1) {
		log_err("%s: listen: %s", text, strerror(errno));
		goto fail;
	}
	*fd_r = fd;
	return 0;
fail:
	close(fd);
	return -1;
}

int
listen_local_addr(int fd, struct sockd_addr *addr_r)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1)
		return -1;
	return addr_from_sockaddr((struct sockaddr *)&ss, len, addr_r);
}
