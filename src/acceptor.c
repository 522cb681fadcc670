/*
 * acceptor.c - the one accept step of every model (acceptor.h).
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "acceptor.h"
#include "clock.h"
#include "guard.h"
#include "log.h"

static struct log_limit accept_limit = LOG_LIMIT_INIT(LOG_LIMIT_MS);

static void
acceptor_lock(struct acceptor *ac, int how)	/* 'r', 'w' or 0: unlock */
{
	int e;

	if (!ac->threaded)
		return;
	e = how == 'r' ? pthread_rwlock_rdlock(&ac->lock) :
	    how == 'w' ? pthread_rwlock_wrlock(&ac->lock) : pthread_rwlock_unlock(&ac->lock);
	if (e != 0)
		panic("pthread_rwlock: %s", strerror(e));
}

void
acceptor_init(struct acceptor *ac, const struct worker_args *a, int flags, bool threaded)
{
	pthread_rwlockattr_t ra;
	int e;

	*ac = (struct acceptor){ .a = a, .flags = flags, .threaded = threaded };
	if (!threaded)
		return;
	/* Writers first: a drain must not wait behind a stream of accepts. */
	if ((e = pthread_rwlockattr_init(&ra)) != 0 ||
	    (e = pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP)) != 0 ||
	    (e = pthread_rwlock_init(&ac->lock, &ra)) != 0)
		fatal(EXIT_OSERR, "pthread_rwlock_init: %s", strerror(e));
	pthread_rwlockattr_destroy(&ra);
}

void
acceptor_fini(struct acceptor *ac)
{
	if (ac->threaded)
		pthread_rwlock_destroy(&ac->lock);
}

/* The listeners in or out of W's set (EPOLLEXCLUSIVE cannot be MODded).
 * Taking out one that is not there is no error. Under the read lock. */
static void
acceptor_set(struct acceptor_watch *w, bool on)
{
	const struct worker_args *a = w->ac->a;

	if (w->on == on || (on && w->ac->closed))
		return;
	for (size_t i = 0; w->ep >= 0 && i < a->n_fds; i++) {
		struct epoll_event ev = { .events = EPOLLIN | EPOLLEXCLUSIVE, .data = w->data[i] };

		if (epoll_ctl(w->ep, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, a->fds[i], &ev) == -1 &&
		    !(errno == ENOENT && !on))
			fatal(EXIT_OSERR, "epoll_ctl: %s", strerror(errno));
	}
	w->on = on;
}

/* What the watch should be at NOW: in, unless draining, held or paused. */
static void
acceptor_settle(struct acceptor_watch *w, int64_t now)
{
	if (w->paused_until != 0 && now >= w->paused_until)
		w->paused_until = 0;
	acceptor_set(w, !w->held && w->paused_until == 0 && !atomic_load(&w->ac->draining));
}

void
acceptor_watch_init(struct acceptor_watch *w, struct acceptor *ac, int ep,
    const epoll_data_t *data)
{
	*w = (struct acceptor_watch){ .ac = ac, .ep = ep };
	for (size_t i = 0; i < ac->a->n_fds; i++)
		if (data != NULL)
			w->data[i] = data[i];
		else
			w->data[i].fd = ac->a->fds[i];
	acceptor_lock(ac, 'w');
	if (ac->n_watch >= ACCEPTOR_WATCHES)
		panic("acceptor: more than %d epoll sets", ACCEPTOR_WATCHES);
	ac->watch[ac->n_watch++] = w;
	acceptor_set(w, true);
	acceptor_lock(ac, 0);
}

int
acceptor_update(struct acceptor_watch *w, int64_t now)
{
	int64_t left;

	acceptor_lock(w->ac, 'r');
	acceptor_settle(w, now);
	acceptor_lock(w->ac, 0);
	if (w->paused_until == 0)
		return -1;
	left = (w->paused_until - now + NS_PER_MS - 1) / NS_PER_MS;
	return left < 0 ? 0 : left > WORKER_LIMIT_PAUSE_MS ? WORKER_LIMIT_PAUSE_MS : (int)left;
}

void
acceptor_hold(struct acceptor_watch *w, bool full)
{
	w->held = full;
	acceptor_update(w, clock_now());
}

void
acceptor_room(struct acceptor_watch *w)
{
	if (w->paused_until == 0)
		return;
	w->paused_until = 0;
	acceptor_update(w, clock_now());
}

/* At the limit, or out of descriptors: the backlog holds them a moment. */
static enum acceptor_result
acceptor_pause(struct acceptor_watch *w)
{
	w->paused_until = clock_now() + WORKER_LIMIT_PAUSE_MS * NS_PER_MS;
	acceptor_set(w, false);
	return ACCEPTOR_PAUSED;
}

/*
 * limits.max_connections: take one of the service's places before
 * accepting (false at the limit: leave the client in the backlog). The
 * counter is shared by every worker of the service's generation; the
 * master takes back what a worker that died still held.
 */
static bool
acceptor_reserve(const struct worker_args *a)
{
	static _Atomic bool at_limit;

	if (a->svc->max_connections == 0 || a->conns == NULL)
		return true;
	if (atomic_fetch_add(a->conns, 1) < (uint32_t)a->svc->max_connections) {
		atomic_store_explicit(&at_limit, false, memory_order_relaxed);
		return true;
	}
	atomic_fetch_sub(a->conns, 1);
	/* Counted once each time this worker reaches the limit, not at every
	 * look while it stays there. */
	if (!atomic_exchange_explicit(&at_limit, true, memory_order_relaxed))
		atomic_fetch_add_explicit(&a->slot->limited, 1, memory_order_relaxed);
	return false;
}

static void
acceptor_unreserve(const struct worker_args *a)
{
	if (a->svc->max_connections != 0 && a->conns != NULL)
		atomic_fetch_sub(a->conns, 1);
}

void
acceptor_release(struct acceptor *ac, struct accepted *c)
{
	if (c->reserved)
		acceptor_unreserve(ac->a);
	c->reserved = false;
	guard_release(c->record);
	c->record = GUARD_NONE;
}

/* The guard's word on the connection just accepted: false when refused
 * (it is closed, its places given back). */
static bool
acceptor_guard(struct acceptor *ac, struct accepted *c)
{
	const struct worker_args *a = ac->a;

	if (a->svc->proxy_protocol) {
		if (guard_proxy_trusted(a->svc, &c->peer))
			return true;	/* the rest once its header says who the client is */
		guard_refused(a->svc, &c->peer, a->slot, SNAPSHOT_REFUSED_PROXY,
		    "not from an address in proxy_trusted");
	} else if (guard_check(a->svc, &c->peer, c->fd, a->slot, &c->record) == GUARD_OK)
		return true;
	if (close(c->fd) == -1 && errno != EINTR)
		log_debug("%s: close: %s", a->svc->name, strerror(errno));
	c->fd = -1;
	acceptor_release(ac, c);
	return false;
}

/* An accept failed with ERR: counted, logged (rate-limited); true when
 * the watch should pause (out of descriptors or memory) rather than spin. */
static bool
acceptor_failed(const struct worker_args *a, int err, bool count_miss)
{
	if (err == EAGAIN && count_miss)
		atomic_fetch_add_explicit(&a->slot->accept_miss, 1, memory_order_relaxed);
	else if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
		log_limited(&accept_limit, LOG_WARNING, "%s: accept: %s (pausing %d ms)",
		    a->svc->name, strerror(err), WORKER_LIMIT_PAUSE_MS);
		return true;
	} else if (err != EAGAIN && err != EINTR && err != ECONNABORTED && err != EPROTO &&
	    err != ECANCELED)
		log_limited(&accept_limit, LOG_ERR, "%s: accept: %s", a->svc->name, strerror(err));
	return false;
}

/*
 * accept4 on LFD. Connections that died in the queue are skipped quietly;
 * an empty queue counts as a race lost to another worker when COUNT_MISS;
 * out of descriptors or memory pauses, as at the limit, rather than spin.
 * Warnings are rate-limited (log_limited).
 */
static int
acceptor_accept(struct acceptor *ac, int lfd, struct sockd_addr *peer_r, bool count_miss,
    bool *pause_r)
{
	const struct worker_args *a = ac->a;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int fd = accept4(lfd, peer_r != NULL ? (struct sockaddr *)&ss : NULL,
	    peer_r != NULL ? &len : NULL, SOCK_CLOEXEC | ac->flags);

	if (fd != -1) {
		*pause_r = false;
		if (peer_r != NULL)
			addr_from_sockaddr((struct sockaddr *)&ss, len, peer_r);
		return fd;
	}
	*pause_r = acceptor_failed(a, errno, count_miss);
	return -1;
}

static enum acceptor_result acceptor_took(struct acceptor *ac, struct accepted *out);

enum acceptor_result
acceptor_take(struct acceptor_watch *w, int lfd, bool count_miss, struct accepted *out)
{
	struct acceptor *ac = w->ac;
	bool pause;

	*out = (struct accepted){ .fd = -1, .record = GUARD_NONE };
	acceptor_lock(ac, 'r');
	if (ac->closed || !w->on) {
		acceptor_lock(ac, 0);
		return ACCEPTOR_NONE;	/* a stale event */
	}
	if (!acceptor_reserve(ac->a)) {
		acceptor_pause(w);
		acceptor_lock(ac, 0);
		return ACCEPTOR_PAUSED;
	}
	out->reserved = true;
	out->fd = acceptor_accept(ac, lfd, &out->peer, count_miss, &pause);
	if (out->fd == -1) {
		acceptor_release(ac, out);
		if (pause)
			acceptor_pause(w);
		acceptor_lock(ac, 0);
		return pause ? ACCEPTOR_PAUSED : ACCEPTOR_NONE;
	}
	acceptor_lock(ac, 0);
	return acceptor_took(ac, out);
}

/* OUT holds a connection just accepted (and its place): the guard's word,
 * then it counts for max_requests. */
static enum acceptor_result
acceptor_took(struct acceptor *ac, struct accepted *out)
{
	uint64_t n;

	if (!acceptor_guard(ac, out))
		return ACCEPTOR_REFUSED;
	n = atomic_fetch_add(&ac->taken, 1) + 1;
	if (ac->a->max_requests != 0 && n == (uint64_t)ac->a->max_requests) {
		log_info("%s: worker recycles after %llu connections", ac->a->svc->name,
		    (unsigned long long)n);
		out->recycle = true;
	}
	return ACCEPTOR_CONN;
}

bool
acceptor_arm(struct acceptor_watch *w)
{
	struct acceptor *ac = w->ac;
	bool ok = false;

	acceptor_lock(ac, 'r');
	if (!ac->closed && w->on) {
		ok = acceptor_reserve(ac->a);
		if (!ok)
			acceptor_pause(w);
	}
	acceptor_lock(ac, 0);
	return ok;
}

enum acceptor_result
acceptor_armed(struct acceptor_watch *w, int res, const struct sockaddr *sa, socklen_t len,
    struct accepted *out)
{
	struct acceptor *ac = w->ac;

	*out = (struct accepted){ .fd = res, .record = GUARD_NONE, .reserved = true };
	if (res < 0) {
		out->fd = -1;
		acceptor_release(ac, out);
		if (!acceptor_failed(ac->a, -res, false))
			return ACCEPTOR_NONE;
		acceptor_lock(ac, 'r');
		acceptor_pause(w);
		acceptor_lock(ac, 0);
		return ACCEPTOR_PAUSED;
	}
	addr_from_sockaddr(sa, len, &out->peer);
	return acceptor_took(ac, out);
}

void
acceptor_unarm(struct acceptor_watch *w)
{
	struct accepted c = { .fd = -1, .reserved = true, .record = GUARD_NONE };

	acceptor_release(w->ac, &c);
}

/*
 * Stop accepting: the listeners leave every watch, then our copies close.
 * Once the master's and every draining worker's are closed, new clients
 * are refused at once instead of waiting in a backlog nobody will accept
 * from (on a recycle the master's copy stays open and the next worker
 * takes over). The slot says draining, and the master is woken so a
 * replacement starts now rather than at its next tick.
 */
bool
acceptor_drain(struct acceptor *ac)
{
	const struct worker_args *a = ac->a;
	uint64_t one = 1;

	if (atomic_exchange(&ac->draining, true))
		return false;
	acceptor_lock(ac, 'w');
	for (size_t i = 0; i < ac->n_watch; i++)
		acceptor_set(ac->watch[i], false);
	for (size_t i = 0; i < a->n_fds; i++)
		close(a->fds[i]);
	ac->closed = true;
	acceptor_lock(ac, 0);
	atomic_store(&a->slot->state, SLOT_DRAINING);
	if (write(a->wake_fd, &one, sizeof(one)) == -1 && errno != EAGAIN && errno != EINTR)
		log_warn("%s: waking the master: %s", a->svc->name, strerror(errno));
	return true;
}

bool
acceptor_draining(const struct acceptor *ac)
{
	return atomic_load(&ac->draining);
}
