/*
 * control.h - the master's control socket: a Unix stream socket on which
 * `sockd status` (and, later, other commands) asks the running daemon.
 *
 * The protocol, whole (sockd(8), CONTROL SOCKET):
 *   request  one line of at most CONTROL_REQUEST_MAX bytes: words
 *            separated by spaces, the first the command ("status").
 *   reply    "ok\n" or "error: MESSAGE\n", then the command's output, then
 *            the daemon closes the connection.
 * A client that has not sent its line, or not read its reply, within
 * CONTROL_DEADLINE_MS is disconnected; at most CONTROL_CLIENTS are served
 * at once (the rest wait in the backlog). The master never blocks on one:
 * every socket is non-blocking and driven from the master's poll loop.
 * Only root, the daemon's own user and (with control.group) members of
 * that group may ask: the socket file's mode says so (0600, or 0660 with
 * the group) and SO_PEERCRED checks again.
 */
#ifndef SOCKD_CONTROL_H
#define SOCKD_CONTROL_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "strbuf.h"

#define CONTROL_CLIENTS 16
#define CONTROL_REQUEST_MAX 512
#define CONTROL_DEADLINE_MS 5000
#define CONTROL_WORDS 16
#define CONTROL_POLLFDS (1 + CONTROL_CLIENTS)

/* Answer the request ARGV (ARGC words, argv[0] the command) into OUT,
 * which must start with "ok\n" or "error: ...\n". */
typedef void control_fn(void *arg, int argc, char **argv, struct strbuf *out);

struct control_client {
	int fd;				/* -1: free */
	char req[CONTROL_REQUEST_MAX];
	size_t req_len;
	struct strbuf out;
	size_t out_off;
	bool replying;
	bool denied;			/* SO_PEERCRED said no: refused once it asked */
	int64_t deadline_ns;
};

struct control {
	int fd;				/* the listener; -1: none */
	char *path;
	long gid;			/* control.group, or -1 */
	control_fn *answer;
	void *arg;
	struct control_client client[CONTROL_CLIENTS];
};

void control_init(struct control *c);
int control_open(struct control *c, const char *path, long gid, control_fn *answer,
    void *arg);
void control_adopt(struct control *c, int fd, const char *path, long gid, control_fn *answer,
    void *arg);
size_t control_pollfds(const struct control *c, struct pollfd *p);
void control_serve(struct control *c, const struct pollfd *p, size_t n, int64_t now_ns);
int64_t control_wake_ns(const struct control *c);
void control_close(struct control *c);

#endif
