/*
 * dgram.h - the receive path of datagram services, shared by every model:
 * a batch of datagrams taken with one recvmmsg, each checked (size, the
 * address rules, limits.rate) and served by the handler through the
 * datagram engine (conn_dgram.c), the replies sent with one sendmmsg.
 *
 * What is dropped is counted in the worker's slot as refused, by reason
 * (snapshot.h), and logged at most once a second (guard.c): a datagram
 * over limits.max_message ("truncated"), one the address rules or
 * limits.rate refuse ("rule", "rate", "full"), a reply over its bound
 * ("reply"), a reply to a Unix client that has no address ("no_peer"),
 * and replies the socket did not take ("send": its buffer full, the rest
 * of the batch's replies are dropped rather than waited for).
 *
 * A model keeps only how it runs the steps: all in one loop (dgram_loop.c:
 * prefork, prefork with threads, event), or one datagram per child process
 * or per thread (dgram_spawn.c: fork, thread).
 */
#ifndef SOCKD_DGRAM_H
#define SOCKD_DGRAM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "addr.h"
#include "conn.h"
#include "worker_args.h"

#define DGRAM_BATCH 32			/* datagrams per recvmmsg at most */
#define DGRAM_BATCH_BYTES (4 << 20)	/* and their buffers at most this */

struct dgram_batch {
	const struct worker_args *a;
	size_t size;			/* a buffer: limits.max_message + 1 */
	unsigned cap;			/* datagrams a batch holds */
	int fd;				/* the socket they came on */
	unsigned n;			/* taken by the last dgram_receive() */
	char *bufs;			/* cap buffers of size bytes */
	struct mmsghdr *in;
	struct iovec *iov;
	struct sockaddr_storage *from;
	struct sockd_addr *peer;
	bool *ok;			/* admitted: the handler is to see it */
	struct conn **conns;		/* one per place, reused */
	struct mmsghdr *out;		/* replies to send */
	struct iovec *oiov;
	unsigned *out_of;		/* each reply's place in the batch */
	unsigned n_out;
	/* Counted here, into the slot once per batch (dgram_flush): an atomic
	 * add per counter a batch rather than a datagram. */
	_Atomic int64_t *heartbeat;
	bool wait;			/* recvmmsg blocks for the first datagram (up to
					 * the socket's SO_RCVTIMEO) instead of MSG_DONTWAIT */
	int64_t now;			/* when the batch came: its datagrams' time */
	unsigned served;
	uint64_t bytes_in, bytes_out;
};

/* CAP: at most this many a batch (0: DGRAM_BATCH), fewer for large
 * buffers. HEARTBEAT: the conn's (NULL: the slot's). */
void dgram_batch_init(struct dgram_batch *b, const struct worker_args *a,
    _Atomic int64_t *heartbeat, unsigned cap);
void dgram_batch_fini(struct dgram_batch *b);
/* Take up to MAX datagrams from FD (non-blocking), check each: how many
 * came (admitted or not), 0 when none was waiting. COUNT_MISS: an empty
 * socket is a race lost to another worker. */
unsigned dgram_receive(struct dgram_batch *b, int fd, unsigned max, bool count_miss);
/* Datagram I of the batch, if admitted: served, its reply queued. */
void dgram_serve(struct dgram_batch *b, unsigned i);
/* The queued replies out, on the socket they came on. */
void dgram_flush(struct dgram_batch *b);
/* All three: the datagrams admitted (served). */
unsigned dgram_run(struct dgram_batch *b, int fd, unsigned max, bool count_miss);

#endif
