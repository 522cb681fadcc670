/*
 * control.c - the master's control socket (the protocol is in control.h).
 *
 * Everything here runs in the master's loop and must never make it wait:
 * the listener and every client are non-blocking, a reply is built whole
 * in memory (bounded by strbuf's ceiling) and written as the socket takes
 * it, and every client has a deadline.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addr.h"
#include "control.h"
#include "ids.h"
#include "listen.h"
#include "log.h"
#include "scoreboard.h"
#include "util.h"

#define CONTROL_BACKLOG 16

void
control_init(struct control *c)
{
	*c = (struct control){ .fd = -1, .gid = -1 };
	for (size_t i = 0; i < CONTROL_CLIENTS; i++)
		c->client[i].fd = -1;
}

/*
 * Bind PATH (a stale socket there is removed, a live one is an error),
 * mode 0600, or 0660 and group GID (>= 0). 0, or -1 after logging why.
 */
int
control_open(struct control *c, const char *path, long gid, control_fn *answer, void *arg)
{
	struct sockd_addr addr;
	const char *why;
	char *text = xasprintf("unix:%s", path);
	int fd;

	if (addr_parse(text, &addr, &why) == -1) {
		log_err("control socket %s: %s", path, why);
		free(text);
		return -1;
	}
	free(text);
	if (listen_open(&addr, CONTROL_BACKLOG, &fd) == -1)
		return -1;	/* logged */
	if ((gid >= 0 && chown(path, (uid_t)-1, (gid_t)gid) == -1) ||
	    chmod(path, gid >= 0 ? 0660 : 0600) == -1) {
		log_err("control socket %s: %s", path, strerror(errno));
		close(fd);
		if (unlink(path) == -1)
			log_warn("unlink %s: %s", path, strerror(errno));
		return -1;
	}
	c->fd = fd;
	c->path = xstrdup(path);
	c->gid = gid;
	c->answer = answer;
	c->arg = arg;
	log_info("control socket %s (mode %s)", path, gid >= 0 ? "0660" : "0600");
	return 0;
}

/* A binary upgrade's new image: the listener the old one handed over. */
void
control_adopt(struct control *c, int fd, const char *path, long gid, control_fn *answer,
    void *arg)
{
	c->fd = fd;
	c->path = xstrdup(path);
	c->gid = gid;
	c->answer = answer;
	c->arg = arg;
}

static void
control_drop(struct control_client *cl)
{
	if (cl->fd != -1)
		close(cl->fd);
	strbuf_free(&cl->out);
	*cl = (struct control_client){ .fd = -1 };
}

static bool
control_peer_ok(const struct control *c, int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1) {
		log_warn("control socket: SO_PEERCRED: %s", strerror(errno));
		return false;
	}
	if (cred.uid == 0 || cred.uid == geteuid())
		return true;
	if (c->gid >= 0 && ids_member(cred.uid, cred.gid, (gid_t)c->gid))
		return true;
	log_notice("control socket: refused pid %ld (uid %ld): not root, the daemon's user "
	    "or in control.group", (long)cred.pid, (long)cred.uid);
	return false;
}

static void
control_accept(struct control *c, int64_t now)
{
	for (size_t i = 0; i < CONTROL_CLIENTS; i++) {
		struct control_client *cl = &c->client[i];
		int fd;

		if (cl->fd != -1)
			continue;
		fd = accept4(c->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				log_warn("control socket: accept: %s", strerror(errno));
			return;
		}
		*cl = (struct control_client){ .fd = fd,
			.deadline_ns = now + (int64_t)CONTROL_DEADLINE_MS * 1000000 };
		cl->denied = !control_peer_ok(c, fd);
	}
}

/* Split the request line into words and have it answered. */
static void
control_request(struct control *c, struct control_client *cl, size_t len)
{
	char *argv[CONTROL_WORDS + 1], *save = NULL, *w;
	int argc = 0;

	cl->req[len] = '\0';
	if (len > 0 && cl->req[len - 1] == '\r')
		cl->req[len - 1] = '\0';
	for (w = strtok_r(cl->req, " \t", &save); w != NULL && argc < CONTROL_WORDS;
	    w = strtok_r(NULL, " \t", &save))
		argv[argc++] = w;
	argv[argc] = NULL;
	if (cl->denied)
		strbuf_puts(&cl->out, "error: permission denied\n");
	else if (w != NULL)
		strbuf_puts(&cl->out, "error: too many words\n");
	else if (argc == 0)
		strbuf_puts(&cl->out, "error: empty request\n");
	else
		c->answer(c->arg, argc, argv, &cl->out);
	if (cl->out.overflow) {
		strbuf_free(&cl->out);
		strbuf_puts(&cl->out, "error: the reply is too large\n");
	}
	cl->replying = true;
}

static void
control_read(struct control *c, struct control_client *cl)
{
	ssize_t n = read(cl->fd, cl->req + cl->req_len, sizeof(cl->req) - 1 - cl->req_len);
	char *nl;

	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		control_drop(cl);	/* gone before it asked */
		return;
	}
	cl->req_len += (size_t)n;
	if ((nl = memchr(cl->req, '\n', cl->req_len)) != NULL)
		control_request(c, cl, (size_t)(nl - cl->req));
	else if (cl->req_len == sizeof(cl->req) - 1) {
		strbuf_puts(&cl->out, "error: request longer than 511 bytes\n");
		cl->replying = true;
	}
}

static void
control_write(struct control_client *cl)
{
	while (cl->out_off < cl->out.len) {
		ssize_t n = send(cl->fd, cl->out.p + cl->out_off, cl->out.len - cl->out_off,
		    MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return;
		if (n == -1) {
			control_drop(cl);	/* the client went away */
			return;
		}
		cl->out_off += (size_t)n;
	}
	control_drop(cl);
}

/* The listener (while a client place is free), then each client. */
size_t
control_pollfds(const struct control *c, struct pollfd *p)
{
	size_t n = 0;
	bool room = false;

	if (c->fd == -1)
		return 0;
	for (size_t i = 0; i < CONTROL_CLIENTS; i++) {
		const struct control_client *cl = &c->client[i];

		if (cl->fd == -1) {
			room = true;
			continue;
		}
		p[n++] = (struct pollfd){ .fd = cl->fd, .events = cl->replying ? POLLOUT : POLLIN };
	}
	if (room)
		p[n++] = (struct pollfd){ .fd = c->fd, .events = POLLIN };
	return n;
}

static struct control_client *
control_find(struct control *c, int fd)
{
	for (size_t i = 0; i < CONTROL_CLIENTS; i++)
		if (c->client[i].fd == fd)
			return &c->client[i];
	return NULL;
}

/* Act on what poll said about the descriptors control_pollfds gave, then
 * on the deadlines. */
void
control_serve(struct control *c, const struct pollfd *p, size_t n, int64_t now)
{
	bool listener = false;

	for (size_t i = 0; i < n; i++) {
		struct control_client *cl;

		if (p[i].revents == 0)
			continue;
		if (p[i].fd == c->fd) {
			listener = true;
			continue;
		}
		if ((cl = control_find(c, p[i].fd)) == NULL)
			continue;
		if (!cl->replying)
			control_read(c, cl);
		if (cl->fd != -1 && cl->replying)
			control_write(cl);
	}
	if (listener)
		control_accept(c, now);
	for (size_t i = 0; i < CONTROL_CLIENTS; i++) {
		struct control_client *cl = &c->client[i];

		if (cl->fd == -1)
			continue;
		if (now >= cl->deadline_ns) {
			log_info("control socket: a client %s within %d ms; disconnected",
			    cl->replying ? "did not read its reply" : "sent no request",
			    CONTROL_DEADLINE_MS);
			control_drop(cl);
		}
	}
}

/* The earliest client deadline (0: none). */
int64_t
control_wake_ns(const struct control *c)
{
	int64_t t = 0;

	for (size_t i = 0; i < CONTROL_CLIENTS; i++)
		if (c->client[i].fd != -1 && (t == 0 || c->client[i].deadline_ns < t))
			t = c->client[i].deadline_ns;
	return t;
}

void
control_close(struct control *c)
{
	for (size_t i = 0; i < CONTROL_CLIENTS; i++)
		if (c->client[i].fd != -1)
			control_drop(&c->client[i]);
	if (c->fd != -1) {
		close(c->fd);
		if (unlink(c->path) == -1 && errno != ENOENT)
			log_warn("unlink %s: %s", c->path, strerror(errno));
	}
	free(c->path);
	control_init(c);
}
