/*
 * acceptor.h - the one accept step of every model.
 *
 * A worker has one acceptor: its service's listeners, the reservation of a
 * limits.max_connections place before each accept4 (given back when the
 * connection ends, or at once when the accept found nothing), the count
 * of connections taken for max_requests, and the drain (listeners out of
 * every epoll set, closed, the slot marked draining, the master woken).
 * Each epoll set that watches the listeners is an acceptor_watch: whether
 * the listeners are in it, and the one pause mechanism - at the
 * connection limit or out of descriptors the listeners leave the set
 * until a deadline WORKER_LIMIT_PAUSE_MS away (or until a connection of
 * this worker ends), and clients wait in the backlog; a model at its own
 * capacity (max_children, max_threads) holds the watch off the same way.
 * A model keeps only how it serves what acceptor_take() returns: inline,
 * per thread, per child process, or in its loop.
 *
 * With threads (prefork with threads > 1), several watches share one
 * acceptor: taking and watching hold a read lock, the drain the write
 * lock, so no thread accepts on a listener the drain has just closed.
 */
#ifndef SOCKD_ACCEPTOR_H
#define SOCKD_ACCEPTOR_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "addr.h"
#include "worker_args.h"

#define ACCEPTOR_WATCHES 1024		/* epoll sets at most (threads per worker) */

struct acceptor;

struct acceptor_watch {
	struct acceptor *ac;
	int ep;
	epoll_data_t data[WORKER_MAX_LISTENERS];	/* what the listeners' events carry */
	bool on;			/* the listeners are in EP */
	bool held;			/* the model is full: leave them out */
	int64_t paused_until;		/* at a limit: out until then (0: not paused) */
};

struct acceptor {
	const struct worker_args *a;
	int flags;			/* accept4 flags besides SOCK_CLOEXEC */
	bool threaded;			/* watches in several threads: lock */
	pthread_rwlock_t lock;		/* read: take, watch; write: drain */
	bool closed;			/* the listeners are closed */
	_Atomic bool draining;
	_Atomic uint64_t taken;		/* connections taken, for max_requests */
	struct acceptor_watch *watch[ACCEPTOR_WATCHES];
	size_t n_watch;
};

/* A connection acceptor_take() handed over. */
struct accepted {
	int fd;
	struct sockd_addr peer;		/* the client, as accept4 gave it */
	bool reserved;			/* holds a max_connections place */
	uint32_t record;		/* its per-client place (guard.h), or GUARD_NONE */
	bool recycle;			/* the worker's last: drain once it is in hand */
};

enum acceptor_result {
	ACCEPTOR_CONN,			/* *out is a connection */
	ACCEPTOR_NONE,			/* nothing to take (another worker was first) */
	ACCEPTOR_REFUSED,		/* one was taken, and refused (guard.c): try again */
	ACCEPTOR_PAUSED,		/* at a limit: the watch is paused */
};

/* FLAGS: SOCK_NONBLOCK for the event model. THREADED: watches are used
 * from several threads. */
void acceptor_init(struct acceptor *ac, const struct worker_args *a, int flags, bool threaded);
void acceptor_fini(struct acceptor *ac);
/* Watch the listeners in EP; DATA: per listener, what its events carry
 * (NULL: data.fd = the listener). Starts on. */
void acceptor_watch_init(struct acceptor_watch *w, struct acceptor *ac, int ep,
    const epoll_data_t *data);

/*
 * Take a connection from LFD: reserve a place, accept4 with the client's
 * address, let the guard look at it (address rules and per-client limits,
 * or for a proxy_protocol service whether it comes from proxy_trusted),
 * count it. COUNT_MISS: an empty queue is a race lost to another
 * worker (not after the first of a batch).
 */
enum acceptor_result acceptor_take(struct acceptor_watch *w, int lfd, bool count_miss,
    struct accepted *out);
/* The connection taken ended (or was never served): its place back. */
void acceptor_release(struct acceptor *ac, struct accepted *c);

/* Put the listeners in or out of the watch's set as things stand at NOW;
 * the ms until a pause ends (the caller's longest wait), or -1. */
int acceptor_update(struct acceptor_watch *w, int64_t now);
/* The model is full (true) or has room again: out, or back in. */
void acceptor_hold(struct acceptor_watch *w, bool full);
/* A connection ended: a pause at the limit ends now. */
void acceptor_room(struct acceptor_watch *w);

/*
 * The uring model accepts through io_uring, in a watch made with EP -1
 * (no epoll set: "in" is only W->on). Before it arms an accept on a
 * listener, acceptor_arm() takes the place the connection will hold
 * (false: not now - the watch is off, or paused at the limit); the
 * accept's result RES (a descriptor, or -errno) and the client's address
 * go to acceptor_armed(), which does what acceptor_take() does after its
 * accept4; an accept cancelled unanswered gives its place back with
 * acceptor_unarm().
 */
bool acceptor_arm(struct acceptor_watch *w);
enum acceptor_result acceptor_armed(struct acceptor_watch *w, int res,
    const struct sockaddr *sa, socklen_t len, struct accepted *out);
void acceptor_unarm(struct acceptor_watch *w);

/* Stop accepting (signal, recycle): once; true the first time. */
bool acceptor_drain(struct acceptor *ac);
bool acceptor_draining(const struct acceptor *ac);

#endif
