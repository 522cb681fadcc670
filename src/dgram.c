/*
 * dgram.c - the receive path of datagram services (dgram.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "clock.h"
#include "dgram.h"
#include "guard.h"
#include "log.h"
#include "util.h"

static struct log_limit dgram_limit = LOG_LIMIT_INIT(LOG_LIMIT_MS);

void
dgram_batch_init(struct dgram_batch *b, const struct worker_args *a,
    _Atomic int64_t *heartbeat, unsigned cap)
{
	size_t size = (size_t)a->svc->max_message + 1;	/* one more: a longer one shows */
	size_t fit = DGRAM_BATCH_BYTES / size;

	if (cap == 0 || cap > DGRAM_BATCH)
		cap = DGRAM_BATCH;
	if (cap > fit)
		cap = fit > 0 ? (unsigned)fit : 1;
	*b = (struct dgram_batch){ .a = a, .size = size, .cap = cap, .fd = -1,
		.heartbeat = heartbeat != NULL ? heartbeat : &a->slot->heartbeat_ns };
	b->bufs = xcalloc(cap, size);
	b->in = xcalloc(cap, sizeof(*b->in));
	b->iov = xcalloc(cap, sizeof(*b->iov));
	b->from = xcalloc(cap, sizeof(*b->from));
	b->peer = xcalloc(cap, sizeof(*b->peer));
	b->ok = xcalloc(cap, sizeof(*b->ok));
	b->conns = xcalloc(cap, sizeof(*b->conns));
	b->out = xcalloc(cap, sizeof(*b->out));
	b->oiov = xcalloc(cap, sizeof(*b->oiov));
	b->out_of = xcalloc(cap, sizeof(*b->out_of));
	for (unsigned i = 0; i < cap; i++)
		b->conns[i] = conn_dgram_new(a->svc, a->handler, a->slot, heartbeat);
}

void
dgram_batch_fini(struct dgram_batch *b)
{
	for (unsigned i = 0; i < b->cap; i++)
		conn_dgram_free(b->conns[i]);
	free(b->bufs);
	free(b->in);
	free(b->iov);
	free(b->from);
	free(b->peer);
	free(b->ok);
	free(b->conns);
	free(b->out);
	free(b->oiov);
	free(b->out_of);
	*b = (struct dgram_batch){ .fd = -1 };
}

/* Datagram I as it came: its size, then the guard's word (the rules and
 * limits.rate; nothing is held per datagram, so no record is kept). */
static bool
dgram_admit(struct dgram_batch *b, unsigned i)
{
	const struct worker_args *a = b->a;
	struct msghdr *h = &b->in[i].msg_hdr;
	struct sockd_addr *peer = &b->peer[i];
	uint32_t record;

	if (addr_from_sockaddr((struct sockaddr *)&b->from[i], h->msg_namelen, peer) == -1 ||
	    h->msg_namelen <= sizeof(sa_family_t))
		peer->len = 0;	/* a Unix client that did not bind: no address */
	if ((h->msg_flags & MSG_TRUNC) || b->in[i].msg_len > (unsigned)a->svc->max_message) {
		guard_refused(a->svc, peer, a->slot, SNAPSHOT_REFUSED_TRUNCATED, NULL);
		return false;
	}
	if (guard_check(a->svc, peer, b->fd, a->slot, &record) != GUARD_OK)
		return false;
	guard_release(record);
	return true;
}

unsigned
dgram_receive(struct dgram_batch *b, int fd, unsigned max, bool count_miss)
{
	const struct worker_args *a = b->a;
	int n;

	if (max == 0 || max > b->cap)
		max = b->cap;
	b->fd = fd;
	b->n = b->n_out = 0;
	for (unsigned i = 0; i < max; i++) {
		b->iov[i] = (struct iovec){ .iov_base = b->bufs + i * b->size, .iov_len = b->size };
		b->in[i].msg_hdr = (struct msghdr){ .msg_name = &b->from[i],
			.msg_namelen = sizeof(b->from[i]), .msg_iov = &b->iov[i], .msg_iovlen = 1 };
	}
	n = recvmmsg(fd, b->in, max, b->wait ? MSG_WAITFORONE : MSG_DONTWAIT, NULL);
	if (n == -1) {
		if (errno == EAGAIN && count_miss)
			atomic_fetch_add_explicit(&a->slot->accept_miss, 1, memory_order_relaxed);
		else if (errno != EAGAIN && errno != EINTR)
			log_limited(&dgram_limit, LOG_ERR, "%s: recvmmsg: %s", a->svc->name,
			    strerror(errno));
		return 0;
	}
	b->n = (unsigned)n;
	b->now = clock_now();
	atomic_store_explicit(b->heartbeat, b->now, memory_order_relaxed);
	for (unsigned i = 0; i < b->n; i++)
		b->ok[i] = dgram_admit(b, i);
	return b->n;
}

void
dgram_serve(struct dgram_batch *b, unsigned i)
{
	const char *reply;
	ssize_t len;
	struct mmsghdr *o;

	if (i >= b->n || !b->ok[i])
		return;
	len = conn_datagram(b->conns[i], b->fd, &b->peer[i], b->bufs + i * b->size,
	    b->in[i].msg_len, b->now, &reply);
	b->served++;
	b->bytes_in += b->in[i].msg_len;
	if (len < 0)
		return;
	if (b->peer[i].len == 0) {
		guard_refused(b->a->svc, &b->peer[i], b->a->slot, SNAPSHOT_REFUSED_NO_PEER, NULL);
		return;
	}
	b->oiov[b->n_out] = (struct iovec){ .iov_base = (void *)reply, .iov_len = (size_t)len };
	o = &b->out[b->n_out];
	*o = (struct mmsghdr){ .msg_hdr = { .msg_name = &b->from[i],
		.msg_namelen = b->in[i].msg_hdr.msg_namelen, .msg_iov = &b->oiov[b->n_out],
		.msg_iovlen = 1 } };
	b->out_of[b->n_out++] = i;
}

/* The batch's counts into the slot: a datagram is a connection of one
 * message; its duration the batch's time shared out evenly. */
static void
dgram_count(struct dgram_batch *b)
{
	struct scoreboard_slot *slot = b->a->slot;

	if (b->served == 0)
		return;
	if (slot != NULL) {
		atomic_fetch_add_explicit(&slot->accepted, b->served, memory_order_relaxed);
		atomic_fetch_add_explicit(&slot->served, b->served, memory_order_relaxed);
		atomic_fetch_add_explicit(&slot->messages, b->served, memory_order_relaxed);
		atomic_fetch_add_explicit(&slot->bytes_in, b->bytes_in, memory_order_relaxed);
		atomic_fetch_add_explicit(&slot->bytes_out, b->bytes_out, memory_order_relaxed);
		scoreboard_hist_add_n(&slot->duration, (clock_now() - b->now) / b->served,
		    b->served);
	}
	b->served = 0;
	b->bytes_in = b->bytes_out = 0;
}

/* Reply K was not sent: counted, and said at most once a second. */
static void
dgram_unsent(struct dgram_batch *b, unsigned k, int err)
{
	const char *why = strerror(err);

	guard_refused(b->a->svc, &b->peer[b->out_of[k]], b->a->slot, SNAPSHOT_REFUSED_SEND, why);
}

/*
 * sendmmsg the replies. A full socket buffer (EAGAIN, ENOBUFS) drops the
 * rest: waiting for room would stop this loop from reading, and a client
 * that needs its answer asks again. Any other error (a Unix client gone)
 * costs that one reply only.
 */
void
dgram_flush(struct dgram_batch *b)
{
	unsigned done = 0;

	while (done < b->n_out) {
		int n = sendmmsg(b->fd, b->out + done, b->n_out - done, MSG_DONTWAIT);

		if (n > 0) {
			for (unsigned k = done; k < done + (unsigned)n; k++)
				b->bytes_out += b->out[k].msg_len;
			done += (unsigned)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == ENOBUFS)) {
			int err = errno;

			while (done < b->n_out)
				dgram_unsent(b, done++, err);
			break;
		}
		dgram_unsent(b, done++, n == -1 ? errno : EIO);
	}
	b->n_out = 0;
	dgram_count(b);
}

unsigned
dgram_run(struct dgram_batch *b, int fd, unsigned max, bool count_miss)
{
	unsigned n = dgram_receive(b, fd, max, count_miss), served = 0;

	for (unsigned i = 0; i < n; i++)
		if (b->ok[i]) {
			dgram_serve(b, i);
			served++;
		}
	dgram_flush(b);
	return served;
}
