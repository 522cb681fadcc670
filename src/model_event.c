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
 * Timeouts (idle, handshake, lingering, the drain's) cost O(1) until due:
 * the connections are kept in order of activity and of deadline
 * (conn_list.c, shared with the uring model). The loop wakes at least every
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
#include <stddef.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "acceptor.h"
#include "clock.h"
#include "conn.h"
#include "conn_list.h"
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

struct event_conn {
	struct event_source src;	/* first: epoll's data.ptr */
	struct accepted taken;		/* its place, for the acceptor */
	struct conn_entry le;		/* le.c: conn_open_buffered's */
	uint32_t events;		/* as registered with epoll */
};

#define EVENT_CONN(e) ((struct event_conn *)((char *)(e) - offsetof(struct event_conn, le)))

struct event {
	const struct worker_args *a;
	int ep;
	struct event_source sig;
	struct event_source lis[WORKER_MAX_LISTENERS];
	struct acceptor ac;
	struct acceptor_watch w;
	struct conn_list list;		/* the connections, by activity and deadline */
	int64_t now;			/* the clock, read once a turn (conn_clock_turn) */
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

/* Activity: restart the connection's idle time. */
static void
event_touch(struct event *e, struct event_conn *ec)
{
	conn_list_touch(&e->list, &ec->le, e->now);
}

static void
event_close(struct event *e, struct event_conn *ec)
{
	conn_list_remove(&e->list, &ec->le);
	conn_finish(ec->le.c);
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
	uint32_t want = conn_pending(ec->le.c) ? EPOLLOUT : EPOLLIN;

	if (conn_broken(ec->le.c) || (conn_closing(ec->le.c) && !conn_pending(ec->le.c))) {
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
		r = conn_flush(ec->le.c);
	else if (revents & (EPOLLIN | EPOLLERR | EPOLLHUP))
		r = conn_input(ec->le.c, event_buf, sizeof(event_buf));
	if (r == -1) {
		event_close(e, ec);
		return;
	}
	if (r == 1)
		event_touch(e, ec);
	conn_list_sort(&e->list, &ec->le);
	event_update(e, ec);
}

/* A new connection: count it, watch it, let the handler open it. */
static void
event_add(struct event *e, const struct accepted *c)
{
	struct event_conn *ec = xmalloc(sizeof(*ec));
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = ec };
	int fd = c->fd;

	*ec = (struct event_conn){ .src = { .kind = EVENT_CONN, .fd = fd }, .taken = *c,
		.events = EPOLLIN };
	e->conns++;
	event_state(e);
	ec->le.c = conn_open_buffered(fd, &c->peer, e->a->svc, e->a->handler, e->a->slot);
	conn_list_add(&e->list, &ec->le);
	/* Closed at open (handler exec): never watched. Its socket lives on in
	 * another process, and so would its place in our epoll set. */
	if (!conn_closing(ec->le.c) && epoll_ctl(e->ep, EPOLL_CTL_ADD, fd, &ev) == -1) {
		log_warn("%s: epoll_ctl: %s; connection dropped", e->a->svc->name, strerror(errno));
		conn_break(ec->le.c, CONN_END_ERROR);
	}
	event_update(e, ec);
}

/* Stop accepting: serve the open connections to their end (an http one
 * is handed over: conn_drain), then exit. */
static void
event_drain(struct event *e)
{
	acceptor_drain(&e->ac);
	for (struct conn_entry *le = e->list.head; le != NULL; le = le->next)
		conn_drain(le->c);
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
event_time_out(void *arg, struct conn_entry *le, enum conn_timeout t)
{
	struct event *e = arg;
	struct event_conn *ec = EVENT_CONN(le);

	conn_timed_out(le->c, t);
	if (!conn_closing(le->c)) {	/* a drain's: lingering now, or a request came */
		event_touch(e, ec);
		conn_list_sort(&e->list, le);
		event_update(e, ec);
		return;
	}
	if (conn_pending(le->c) && !conn_broken(le->c))
		conn_flush(le->c);
	event_close(e, ec);
}

/* How long epoll_wait may sleep: the heartbeat tick (as conn_block.c's), the
 * next deadline (conn_list.c), DRAIN_MS (the next drain's, or -1), the
 * next look at the listeners when at the limit. */
static int
event_timeout(struct event *e, int64_t now, int64_t drain_ms)
{
	int64_t ms = clock_tick_ms(e->a->svc->heartbeat_ms), t;

	if (drain_ms >= 0 && drain_ms < ms)
		ms = drain_ms;
	ms = conn_list_wait(&e->list, now, ms);
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
	e.now = clock_now();
	conn_clock_turn(e.now);
	while (!e.quit && !(acceptor_draining(&e.ac) && e.conns == 0)) {
		int64_t drain_ms;
		int n;

		/* One clock read a turn, after the wait: for the events it
		 * returned, and for the next turn's deadlines. */
		atomic_store(&a->slot->heartbeat_ns, e.now);
		drain_ms = conn_list_expire(&e.list, e.now, acceptor_draining(&e.ac), event_time_out, &e);
		n = epoll_wait(e.ep, ev, EVENT_MAX_EVENTS, event_timeout(&e, e.now, drain_ms));
		if (n == -1 && errno != EINTR)
			fatal(EXIT_OSERR, "epoll_wait: %s", strerror(errno));
		e.now = clock_now();
		conn_clock_turn(e.now);
		/* Only an event's own connection is closed while handling it,
		 * so the later events of the batch stay valid. */
		for (int i = 0; i < n && !e.quit; i++)
			event_dispatch(&e, &ev[i]);
	}
	while (e.list.head != NULL) {
		conn_end(e.list.head->c, CONN_END_STOPPING);
		event_close(&e, EVENT_CONN(e.list.head));
	}
	acceptor_fini(&e.ac);
	close(e.ep);
}
