/*
 * notify.c - the systemd notification protocol, in one place, and never
 * in the way of the master.
 *
 * libsystemd's sd_notify() sends on a blocking socket: once the receiver's
 * queue is full (a manager that does not read, net.unix.max_dgram_qlen
 * datagrams behind), it waits for as long as that lasts, and a master
 * waiting there reaps and replaces no worker. So the datagrams are sent
 * here, from a non-blocking socket, to the AF_UNIX address in $NOTIFY_SOCKET
 * ("@" for the abstract namespace), one "KEY=VALUE" message each; the
 * kernel adds our credentials, which is how systemd knows the sender.
 *
 * What cannot go now waits, and the master retries it every loop turn
 * (notify_flush): READY=1, RELOADING=1 and STOPPING=1 in the order they
 * happened, at most one of each (a later one replaces the queue from an
 * earlier one of its kind on, as systemd would end in the same state);
 * WATCHDOG=1 once; STATUS= only its latest text, the ones in between are
 * dropped. Any other error drops the message with a warning, as
 * sd_notify() failing did.
 *
 * FDSTORE= and FDSTOREREMOVE= (notify_fdstore) are not queued: a socket
 * the store missed only costs the next restart its backlog, so a full
 * notify socket drops them with a warning rather than keep fds waiting.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <systemd/sd-daemon.h>

#include "fdstore.h"
#include "log.h"
#include "notify.h"

enum notify_state { NOTIFY_READY, NOTIFY_RELOADING, NOTIFY_STOPPING };
#define NOTIFY_STATES 3

static struct {
	bool opened;			/* NOTIFY_SOCKET looked at */
	int fd;				/* -1: nobody to tell */
	struct sockaddr_un addr;
	socklen_t addr_len;
	struct {
		enum notify_state state;
		unsigned long long usec;	/* RELOADING: CLOCK_MONOTONIC then */
	} queue[NOTIFY_STATES];		/* oldest first */
	size_t queued;
	bool watchdog;			/* WATCHDOG=1 to send */
	bool status_pending;
	char status[1100];		/* "STATUS=..." */
	unsigned long dropped;		/* STATUS texts replaced while waiting */
	bool blocked;			/* the socket was full: said so once */
	int last_errno;			/* last error warned about; 0 after a send */
} notify = { .fd = -1 };

/* Where NOTIFY_SOCKET points, into notify.addr; -1 if it is not for us. */
static int
notify_address(const char *env)
{
	size_t len = strlen(env);

	if ((env[0] != '/' && env[0] != '@') || len < 2 || len >= sizeof(notify.addr.sun_path)) {
		log_warn("NOTIFY_SOCKET=%s: not an AF_UNIX socket path; not notifying systemd", env);
		return -1;
	}
	notify.addr.sun_family = AF_UNIX;
	memcpy(notify.addr.sun_path, env, len);
	if (env[0] == '@')
		notify.addr.sun_path[0] = '\0';	/* abstract: the length says where it ends */
	notify.addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len +
	    (env[0] == '/'));
	return 0;
}

/* The socket, at the first message. Not connected: a systemd that
 * re-executes binds its notify socket anew at the same address. */
static void
notify_open(void)
{
	const char *env = getenv("NOTIFY_SOCKET");

	notify.opened = true;
	if (env == NULL || env[0] == '\0' || notify_address(env) == -1)
		return;
	notify.fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (notify.fd == -1)
		log_warn("NOTIFY_SOCKET: socket: %s; not notifying systemd", strerror(errno));
}

/* Send MSG: 1 sent (or dropped for good), 0 the socket is full: try again later. */
static int
notify_send(const char *msg)
{
	ssize_t r;

	do
		r = sendto(notify.fd, msg, strlen(msg), MSG_DONTWAIT | MSG_NOSIGNAL,
		    (const struct sockaddr *)&notify.addr, notify.addr_len);
	while (r == -1 && errno == EINTR);
	if (r >= 0) {
		notify.last_errno = 0;
		return 1;
	}
	if (errno == EAGAIN || errno == ENOBUFS || errno == ENOMEM) {
		if (!notify.blocked)
			log_warn("the notify socket is full (systemd is not reading it): "
			    "state changes wait, STATUS updates are dropped");
		notify.blocked = true;
		return 0;
	}
	if (errno != notify.last_errno)	/* once, not at every STATUS */
		log_warn("notify \"%.40s\": %s", msg, strerror(errno));
	notify.last_errno = errno;
	return 1;
}

static int
notify_send_state(enum notify_state state, unsigned long long usec)
{
	char msg[64];

	if (state == NOTIFY_READY)
		return notify_send("READY=1");
	if (state == NOTIFY_STOPPING)
		return notify_send("STOPPING=1");
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu", usec);
	return notify_send(msg);
}

/* Send what waits, oldest first; stop at the first that cannot go. */
void
notify_flush(void)
{
	size_t sent = 0;

	if (notify.fd == -1)
		return;
	while (sent < notify.queued &&
	    notify_send_state(notify.queue[sent].state, notify.queue[sent].usec))
		sent++;
	memmove(notify.queue, notify.queue + sent, (notify.queued - sent) * sizeof(notify.queue[0]));
	notify.queued -= sent;
	if (notify.queued > 0)
		return;
	if (notify.watchdog && notify_send("WATCHDOG=1"))
		notify.watchdog = false;
	if (notify.status_pending && notify_send(notify.status))
		notify.status_pending = false;
	if (notify.blocked && !notify.watchdog && !notify.status_pending) {
		log_notice("the notify socket drains again (%lu STATUS update%s dropped)",
		    notify.dropped, notify.dropped == 1 ? "" : "s");
		notify.blocked = false;
		notify.dropped = 0;
	}
}

/* Queue STATE (see the top of the file for why at most one of each). */
static void
notify_state(enum notify_state state, unsigned long long usec)
{
	size_t i = 0;

	if (!notify.opened)
		notify_open();
	if (notify.fd == -1)
		return;
	while (i < notify.queued && notify.queue[i].state != state)
		i++;
	notify.queue[i].state = state;
	notify.queue[i].usec = usec;
	notify.queued = i + 1;
	notify_flush();
}

void
notify_ready(void)
{
	notify_state(NOTIFY_READY, 0);
}

/* RELOADING=1 with the CLOCK_MONOTONIC time systemd (253+) wants beside it. */
void
notify_reloading(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	notify_state(NOTIFY_RELOADING,
	    (unsigned long long)ts.tv_sec * 1000000 + (unsigned long long)ts.tv_nsec / 1000);
}

void
notify_stopping(void)
{
	notify_state(NOTIFY_STOPPING, 0);
}

void
notify_status(const char *fmt, ...)
{
	va_list ap;

	if (!notify.opened)
		notify_open();
	if (notify.fd == -1)
		return;
	notify.dropped += notify.status_pending;
	snprintf(notify.status, sizeof(notify.status), "STATUS=");
	va_start(ap, fmt);
	vsnprintf(notify.status + strlen("STATUS="), sizeof(notify.status) - strlen("STATUS="),
	    fmt, ap);
	va_end(ap);
	notify.status_pending = true;
	notify_flush();
}

/* The watchdog interval systemd expects pings within, or 0 if none
 * (sd_watchdog_enabled only reads the environment). */
uint64_t
notify_watchdog_usec(void)
{
	uint64_t usec = 0;
	int r = sd_watchdog_enabled(0, &usec);

	if (r < 0)
		log_warn("sd_watchdog_enabled: %s", strerror(-r));
	return r > 0 ? usec : 0;
}

void
notify_watchdog(void)
{
	if (!notify.opened)
		notify_open();
	notify.watchdog = notify.fd != -1;
	notify_flush();
}

/*
 * Put FD in systemd's file descriptor store under NAME (FDSTORE_ADD, with
 * the fd as SCM_RIGHTS), or drop every fd stored under NAME
 * (FDSTORE_REMOVE; FD is not used). 1 sent, 0 nobody to tell (no
 * NOTIFY_SOCKET: a terminal, a test), -1 not sent (warned about). systemd
 * does not answer: a store it refuses (FileDescriptorStoreMax=0) costs
 * only the line it logs.
 */
int
notify_fdstore(enum fdstore_op op, const char *name, int fd)
{
	char msg[FDSTORE_MSG_MAX];
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} c;
	struct iovec iov;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	int len;
	ssize_t r;

	if (!notify.opened)
		notify_open();
	if (notify.fd == -1)
		return 0;
	if ((len = fdstore_message(msg, sizeof(msg), op, name)) == -1) {
		log_warn("fd store: \"%.40s\" is not a name systemd takes", name);
		return -1;
	}
	iov = (struct iovec){ .iov_base = msg, .iov_len = (size_t)len };
	mh.msg_name = &notify.addr;
	mh.msg_namelen = notify.addr_len;
	if (op == FDSTORE_ADD) {
		memset(&c, 0, sizeof(c));
		mh.msg_control = c.buf;
		mh.msg_controllen = sizeof(c.buf);
		c.h.cmsg_level = SOL_SOCKET;
		c.h.cmsg_type = SCM_RIGHTS;
		c.h.cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(&c.h), &fd, sizeof(int));
	}
	do
		r = sendmsg(notify.fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
	while (r == -1 && errno == EINTR);
	if (r == -1) {
		log_warn("fd store: %s %s: %s", op == FDSTORE_ADD ? "FDSTORE" : "FDSTOREREMOVE",
		    name, strerror(errno));
		return -1;
	}
	return 1;
}
