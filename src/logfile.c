/*
 * logfile.c - the files sockd appends to (today: the http handler's access
 * logs), opened by the master and reopened on SIGUSR1.
 *
 * The master opens every log file of a configuration itself, as root and
 * before any worker exists, so a path that cannot be opened fails the
 * start (or the reload) with one clear message instead of every worker
 * exiting, and the workers, which run unprivileged, need no right to the
 * directory (a root-owned /var/log/sockd, ProtectSystem=strict). A worker
 * inherits the descriptor at fork.
 *
 * Reopening (logrotate renamed the file, then sent SIGUSR1): the master
 * opens the path again, sends the new descriptor to each worker that writes
 * the file over that worker's own AF_UNIX SOCK_SEQPACKET socketpair
 * (SCM_RIGHTS), and only then signals it. The worker takes every
 * descriptor waiting on its end and dup3()s it onto the number it writes
 * to, which replaces the open file atomically: a write running in another
 * thread at that moment lands whole in the old file or in the new one, so
 * no line is lost or split, and nothing in the worker holds the number
 * across the change.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "logfile.h"

/* In a worker: the file it writes, and its end of the master's channel. */
static int logfile_cur = -1;
static int logfile_ctl = -1;

/* PATH for appending, created 0640 if missing: its descriptor, or -1 with
 * errno set (the caller knows what the file is for). */
int
logfile_open(const char *path)
{
	int fd;

	do
		fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
	while (fd == -1 && errno == EINTR);
	return fd;
}

/* A channel for one worker: [0] the master keeps, [1] goes to the worker. */
int
logfile_channel(int fds_r[2])
{
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds_r) == 0)
		return 0;
	log_err("socketpair: %s", strerror(errno));
	return -1;
}

/* Send FD down CTL: 0, or -1 with errno set (the caller names the worker). */
int
logfile_send(int ctl, int fd)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u = { 0 };
	char byte = 'L';
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	ssize_t n;

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	do
		n = sendmsg(ctl, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (n == -1 && errno == EINTR);
	return n == 1 ? 0 : -1;
}

void
logfile_adopt(int fd, int ctl)
{
	logfile_cur = fd;
	logfile_ctl = ctl;
}

int
logfile_fd(void)
{
	return logfile_cur;
}

/* One descriptor from the channel: >= 0, -1 when none is waiting (or on
 * an error, logged). */
static int
logfile_receive(void)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	char byte;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *c;
	ssize_t n;
	int fd;

	do
		n = recvmsg(logfile_ctl, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	while (n == -1 && errno == EINTR);
	if (n <= 0) {
		if (n == -1 && errno != EAGAIN)
			log_warn("log file channel: %s", strerror(errno));
		return -1;
	}
	c = CMSG_FIRSTHDR(&mh);
	if (c == NULL || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
	    c->cmsg_len != CMSG_LEN(sizeof(int)) || (mh.msg_flags & MSG_CTRUNC)) {
		log_warn("log file channel: a message without its descriptor (out of descriptors?)");
		return -2;
	}
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

/*
 * SIGUSR1 in a worker: put every descriptor the master sent in place of
 * the log file, in order (the last one wins). The number of files
 * replaced, or -1 when the worker has no log file to reopen.
 */
int
logfile_reopen(void)
{
	int n = 0, fd;

	if (logfile_ctl == -1 || logfile_cur == -1)
		return -1;
	while ((fd = logfile_receive()) != -1) {
		if (fd < 0)
			continue;
		if (dup3(fd, logfile_cur, O_CLOEXEC) == -1)
			log_err("reopening the log file: dup3: %s", strerror(errno));
		else
			n++;
		close(fd);
	}
	return n;
}
