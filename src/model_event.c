/*
 * model_event.c - the event model (nginx): each worker process serves many
 * connections at once from one epoll loop, with non-blocking sockets and
 * the same framing and handlers as the other models (the connection
 * layer's buffered engine, conn_buffer.c, does the per-connection I/O;
 * this file owns the loop).
 *
 * Accepting: every worker registers the listeners EPOLLEXCLUSIVE, so a new
 * connection wakes one worker, not all, and accepts a small batch per
 * wakeup. limits.max_connections is taken from the service-wide counter
 * before each accept; at the limit the listeners leave the epoll set and
 * are looked at again on a short timer, so clients wait in the backlog.
 *
 * Fairness and memory: a connection with output queued is not read until
 * the queue drains, so a client that does not read costs only its own
 * queue (at most limits.max_output, then it is closed) and never delays
 * the others. One read buffer serves the whole loop.
 *
 * timeouts.idle: all connections of a service share one timeout, so a list
 * in order of last activity (moved to the tail on every read or write
 * progress) expires from its head in O(1); timeouts.handshake and the
 * lingering after an error answer are fixed spans too, each with a list in
 * order of joining, so of deadline. The loop wakes at least every
 * heartbeat tick and stores the heartbeat each time round: a handler stuck
 * in message() stops it, and the master kills the worker.
 *
 * SIGTERM/SIGINT, or max_requests connections accepted: close our copies
 * of the listeners, serve the open connections to their end (http ones
 * are handed over: conn_drain, event_drain_expire), exit.
 * SIGQUIT: exit now. Other signals (SIGUSR1: the log file): worker_signal().
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "acceptor.h"
#include "clock.h"
#include "conn.h"
#include "log.h"
#include "model.h"
#include "worker_signal.h"
#include "sig.h"
#include "util.h"

#define EVENT_READ_SIZE 65536
#define EVENT_MAX_EVENTS 256
#define EVENT_ACCEPT_BATCH 16

enum event_kind { EVENT_SIGNAL, EVENT_LISTENER, EVENT_CONN };

/* What an epoll event's data.ptr points at. */
struct event_source {
	enum event_kind kind;
	int fd;
};

struct event_list;

struct event_conn {
	struct event_source src;	/* first: epoll's data.ptr */
	struct accepted taken;		/* its place, for the acceptor */
	struct conn *c;			/* conn_open_buffered's */
	struct event_conn *prev, *next;	/* in order of last activity */
	/* In one list of a fixed deadline, in order of joining it (so of
	 * deadline): awaiting its first message, or lingering. */
	struct event_conn *hs_prev, *hs_next;
	struct event_list *in;		/* that list, or NULL */
	uint32_t events;		/* as registered with epoll */
};

struct event_list {
	struct event_conn *head, *tail;
};

struct event {
	const struct worker_args *a;
	int ep;
	struct event_source sig;
	struct event_source lis[WORKER_MAX_LISTENERS];
	struct acceptor ac;
	struct acceptor_watch w;
	struct event_conn *head, *tail;	/* least recently active first */
	struct event_list hs;		/* timeouts.handshake: oldest first */
	struct event_list linger;	/* lingering after an error: oldest first */
	size_t conns;
	bool quit;
};

/* One per process: a worker runs one loop, and reads never keep it. */
static char event_buf[EVENT_READ_SIZE];

static void
event_ctl(struct event *e, int op, int fd, uint32_t events, void *ptr)
{
	struct epoll_event ev = { .events = events, .data.ptr = ptr };

	if (epoll_ctl(e->ep, op, fd, &ev) == -1)
		fatal(EXIT_OSERR, "epoll_ctl: %s", strerror(errno));
}

static void
event_state(struct event *e)
{
	int st = acceptor_draining(&e->ac) ? SLOT_DRAINING : e->conns > 0 ? SLOT_BUSY : SLOT_IDLE;

	atomic_store(&e->a->slot->state, st);
}

/* The deadline lists: connections whose first message is still due, or
 * that linger after an error answer. */
static void
event_dl_unlink(struct event_conn *ec)
{
	struct event_list *l = ec->in;

	if (l == NULL)
		return;
	*(ec->hs_prev != NULL ? &ec->hs_prev->hs_next : &l->head) = ec->hs_next;
	*(ec->hs_next != NULL ? &ec->hs_next->hs_prev : &l->tail) = ec->hs_prev;
	ec->in = NULL;
}

static void
event_dl_append(struct event_list *l, struct event_conn *ec)
{
	event_dl_unlink(ec);
	ec->hs_prev = l->tail;
	ec->hs_next = NULL;
	*(l->tail != NULL ? &l->tail->hs_next : &l->head) = ec;
	l->tail = ec;
	ec->in = l;
}

/* Into the list its deadline belongs to, after the handler had its say.
 * Lingering counts from when its last answer is out (conn_flush): till
 * then it is in no deadline list, and timeouts.idle watches it. */
static void
event_dl_sort(struct event *e, struct event_conn *ec)
{
	bool lingering = conn_lingering(ec->c) && !conn_pending(ec->c);

	if (lingering && ec->in != &e->linger)
		event_dl_append(&e->linger, ec);
	else if (!lingering && !conn_in_handshake(ec->c))
		event_dl_unlink(ec);	/* its first message came, or its answer goes out */
}

static void
event_unlink(struct event *e, struct event_conn *ec)
{
	*(ec->prev != NULL ? &ec->prev->next : &e->head) = ec->next;
	*(ec->next != NULL ? &ec->next->prev : &e->tail) = ec->prev;
	ec->prev = ec->next = NULL;
}

static void
event_append(struct event *e, struct event_conn *ec)
{
	ec->prev = e->tail;
	*(e->tail != NULL ? &e->tail->next : &e->head) = ec;
	e->tail = ec;
}

/* Activity: restart the connection's idle time. */
static void
event_touch(struct event *e, struct event_conn *ec)
{
	conn_touch(ec->c, clock_now());
	event_unlink(e, ec);
	event_append(e, ec);
}

static void
event_close(struct event *e, struct event_conn *ec)
{
	event_unlink(e, ec);
	event_dl_unlink(ec);
	conn_finish(ec->c);
	if (close(ec->src.fd) == -1 && errno != EINTR)
		log_debug("%s: close: %s", e->a->svc->name, strerror(errno));
	acceptor_release(&e->ac, &ec->taken);
	free(ec);
	e->conns--;
	acceptor_room(&e->w);	/* if out at the limit: there is room again */
	event_state(e);
}

/* After I/O: close, or wait for what the connection needs next (output
 * queued: writable only, so nothing more is read until it drains). */
static void
event_update(struct event *e, struct event_conn *ec)
{
	uint32_t want = conn_pending(ec->c) ? EPOLLOUT : EPOLLIN;

	if (conn_broken(ec->c) || (conn_closing(ec->c) && !conn_pending(ec->c))) {
		event_close(e, ec);
		return;
	}
	if (want != ec->events)
		event_ctl(e, EPOLL_CTL_MOD, ec->src.fd, want, ec);
	ec->events = want;
}

static void
event_conn_ready(struct event *e, struct event_conn *ec, uint32_t revents)
{
	int r = 0;

	if (ec->events == EPOLLOUT)
		r = conn_flush(ec->c);
	else if (revents & (EPOLLIN | EPOLLERR | EPOLLHUP))
		r = conn_input(ec->c, event_buf, sizeof(event_buf));
	if (r == -1) {
		event_close(e, ec);
		return;
	}
	if (r == 1)
		event_touch(e, ec);
	event_dl_sort(e, ec);
	event_update(e, ec);
}

/* A new connection: count it, watch it, let the handler open it. */
static void
event_add(struct event *e, const struct accepted *c)
{
	struct event_conn *ec = xcalloc(1, sizeof(*ec));
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = ec };
	int fd = c->fd;

	ec->src = (struct event_source){ .kind = EVENT_CONN, .fd = fd };
	ec->taken = *c;
	ec->events = EPOLLIN;
	e->conns++;
	event_append(e, ec);
	atomic_store(&e->a->slot->heartbeat_ns, clock_now());
	event_state(e);
	ec->c = conn_open_buffered(fd, &c->peer, e->a->svc, e->a->handler, e->a->slot);
	if (conn_in_handshake(ec->c))
		event_dl_append(&e->hs, ec);
	/* Closed at open (handler exec): never watched. Its socket lives on in
	 * another process, and so would its place in our epoll set. */
	if (!conn_closing(ec->c) && epoll_ctl(e->ep, EPOLL_CTL_ADD, fd, &ev) == -1) {
		log_warn("%s: epoll_ctl: %s; connection dropped", e->a->svc->name, strerror(errno));
		conn_break(ec->c, CONN_END_ERROR);
	}
	event_update(e, ec);
}

/* Stop accepting: serve the open connections to their end (an http one
 * is handed over: conn_drain), then exit. */
static void
event_drain(struct event *e)
{
	acceptor_drain(&e->ac);
	for (struct event_conn *ec = e->head; ec != NULL; ec = ec->next)
		conn_drain(ec->c);
	event_state(e);
}

static void
event_accept(struct event *e, int lfd)
{
	for (int i = 0; i < EVENT_ACCEPT_BATCH; i++) {
		struct accepted c;

		/* After the first of a batch, an empty queue is no race lost. */
		enum acceptor_result r = acceptor_take(&e->w, lfd, i == 0, &c);

		if (r == ACCEPTOR_REFUSED)
			continue;
		if (r != ACCEPTOR_CONN)
			return;
		event_add(e, &c);
		if (c.recycle) {
			event_drain(e);	/* max_requests: a fresh worker takes over */
			return;
		}
	}
}

static void
event_signals(struct event *e)
{
	struct sig_info si;

	while (sig_read(e->sig.fd, &si))
		switch (worker_signal(e->a, &si)) {
		case WORKER_QUIT:
			e->quit = true;
			/* FALLTHROUGH */
		case WORKER_DRAIN:
			event_drain(e);
			break;
		default:
			break;
		}
}

/* Past a deadline (conn_timeout_check): end it; an answer it was given
 * (http's 408) goes out if the socket takes it at once. */
static void
event_time_out(struct event *e, struct event_conn *ec, enum conn_timeout t)
{
	conn_timed_out(ec->c, t);
	if (!conn_closing(ec->c)) {	/* a drain's: lingering now, or a request came */
		event_touch(e, ec);
		event_dl_sort(e, ec);
		event_update(e, ec);
		return;
	}
	if (conn_pending(ec->c) && !conn_broken(ec->c))
		conn_flush(ec->c);
	event_close(e, ec);
}

/*
 * Close what is past its deadline, oldest first, from the head of two
 * lists: waiting for a first message (timeouts.handshake: in order of
 * arrival, so of deadline) and by last activity (timeouts.idle). Each
 * stops at its first connection in time, so a thousand slow clients cost
 * this loop nothing until they are due.
 */
/*
 * Draining: close the connections quiet for CONN_DRAIN_IDLE_MS
 * (conn_timeout_check says which). The activity list is in order of that
 * deadline too, but one that is not quiet (half a request in, or its
 * answer going out) must not hold back those behind it: the walk passes
 * it by, to the first connection active too recently. So a drain costs
 * a step per such connection per loop, for as long as the drain lasts.
 * The ms until the next one is due, or -1.
 */
static int64_t
event_drain_expire(struct event *e, int64_t now)
{
	struct event_conn *ec, *next;
	enum conn_timeout t;
	int64_t left;

	if (!acceptor_draining(&e->ac))
		return -1;
	for (ec = e->head; ec != NULL; ec = next) {
		next = ec->next;
		t = conn_timeout_check(ec->c, now, &left);
		if (now - conn_active_ns(ec->c) < (int64_t)CONN_DRAIN_IDLE_MS * NS_PER_MS)
			return t == CONN_IN_TIME ? left : 0;
		if (t != CONN_IN_TIME)
			event_time_out(e, ec, t);	/* may move it to the tail */
	}
	return -1;
}

static int64_t
event_expire(struct event *e, int64_t now)
{
	enum conn_timeout t;
	int64_t left;

	while (e->hs.head != NULL &&
	    (t = conn_timeout_check(e->hs.head->c, now, &left)) == CONN_HANDSHAKE_OVER)
		event_time_out(e, e->hs.head, t);
	while (e->linger.head != NULL &&
	    (t = conn_timeout_check(e->linger.head->c, now, &left)) == CONN_LINGER_OVER)
		event_time_out(e, e->linger.head, t);
	while (e->head != NULL && ((t = conn_timeout_check(e->head->c, now, &left)) ==
	    CONN_IDLE_OVER || t == CONN_STALL_OVER))
		event_time_out(e, e->head, t);
	return event_drain_expire(e, now);
}

/* How long epoll_wait may sleep: the heartbeat tick (as conn_block.c's), the
 * next idle expiry, DRAIN_MS (the next drain's, or -1), the next look at
 * the listeners when at the limit. */
static int
event_timeout(struct event *e, int64_t now, int64_t drain_ms)
{
	int64_t ms = clock_tick_ms(e->a->svc->heartbeat_ms), t;

	if (drain_ms >= 0 && drain_ms < ms)
		ms = drain_ms;
	if (e->head != NULL && conn_timeout_check(e->head->c, now, &t) == CONN_IN_TIME &&
	    t >= 0 && t < ms)
		ms = t;
	if (e->hs.head != NULL && conn_timeout_check(e->hs.head->c, now, &t) == CONN_IN_TIME &&
	    t >= 0 && t < ms)
		ms = t;
	if (e->linger.head != NULL &&
	    conn_timeout_check(e->linger.head->c, now, &t) == CONN_IN_TIME && t >= 0 && t < ms)
		ms = t;
	if ((t = acceptor_update(&e->w, now)) >= 0 && t < ms)
		ms = t;		/* paused at a limit: look again then */
	return (int)ms;
}

static void
event_open(struct event *e, const struct worker_args *a, int sig_fd)
{
	epoll_data_t data[WORKER_MAX_LISTENERS];

	*e = (struct event){ .a = a, .sig = { EVENT_SIGNAL, sig_fd } };
	if ((e->ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		fatal(EXIT_OSERR, "epoll_create1: %s", strerror(errno));
	event_ctl(e, EPOLL_CTL_ADD, sig_fd, EPOLLIN, &e->sig);
	for (size_t i = 0; i < a->n_fds; i++) {
		e->lis[i] = (struct event_source){ EVENT_LISTENER, a->fds[i] };
		data[i].ptr = &e->lis[i];
	}
	acceptor_init(&e->ac, a, SOCK_NONBLOCK, false);
	acceptor_watch_init(&e->w, &e->ac, e->ep, data);
	event_state(e);
}

static void
event_dispatch(struct event *e, const struct epoll_event *ev)
{
	struct event_source *src = ev->data.ptr;

	if (src->kind == EVENT_SIGNAL)
		event_signals(e);
	else if (src->kind == EVENT_LISTENER)
		event_accept(e, src->fd);
	else
		event_conn_ready(e, (struct event_conn *)src, ev->events);
}

void
model_event_run(const struct worker_args *a, int sig_fd)
{
	struct epoll_event ev[EVENT_MAX_EVENTS];
	struct event e;

	event_open(&e, a, sig_fd);
	while (!e.quit && !(acceptor_draining(&e.ac) && e.conns == 0)) {
		int64_t now = clock_now(), drain_ms;
		int n;

		atomic_store(&a->slot->heartbeat_ns, now);
		drain_ms = event_expire(&e, now);
		n = epoll_wait(e.ep, ev, EVENT_MAX_EVENTS, event_timeout(&e, now, drain_ms));
		if (n == -1 && errno != EINTR)
			fatal(EXIT_OSERR, "epoll_wait: %s", strerror(errno));
		/* Only an event's own connection is closed while handling it,
		 * so the later events of the batch stay valid. */
		for (int i = 0; i < n && !e.quit; i++)
			event_dispatch(&e, &ev[i]);
	}
	while (e.head != NULL) {
		conn_end(e.head->c, CONN_END_STOPPING);
		event_close(&e, e.head);
	}
	acceptor_fini(&e.ac);
	close(e.ep);
}
