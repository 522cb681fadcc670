/*
 * model_uring.c - the uring model: the event model's semantics (many
 * connections in one loop per worker, the same handlers, framing, limits,
 * drain, recycling, heartbeat and counters) with io_uring in place of
 * epoll and of most system calls.
 *
 * One ring per worker. Each loop turn submits everything queued since
 * the last one and reaps every completion in a single io_uring_enter:
 *  - accepts: URING_ACCEPTS armed per listener, each holding the
 *    max_connections place its connection will take (acceptor_arm), with
 *    its own address buffer, so the client's address comes with the
 *    descriptor;
 *  - receives: multishot, into a ring of provided buffers shared by all
 *    connections, so an idle connection holds no read buffer, and a
 *    receive re-arms itself;
 *  - sends: the connection layer queues answers (conn_open_ring) and the
 *    loop sends each connection's queue as one SQE, one in flight at a
 *    time, so many connections' answers leave in one system call;
 *  - closes: a cancel of the connection's operations and the close,
 *    through the ring;
 *  - the signalfd: a multishot poll.
 * Timeouts (idle, handshake, lingering, the drain's) are the event
 * model's lists (conn_list.c) and bound the wait of
 * io_uring_submit_and_wait_timeout.
 *
 * Where the ring cannot do a thing the way the connection layer needs, the
 * loop waits for readiness through the ring and the layer does the system
 * call as under epoll: the PROXY header (read exactly, never past it,
 * conn_input), and file bodies (sendfile, conn_flush).
 *
 * Fairness and memory, as in the event model: a connection with output
 * queued is not read until the queue drains. A multishot receive cannot be
 * held, so bytes it brings while output waits are kept aside (a copy,
 * bounded by what one enter reads: about one socket buffer), its receive
 * is cancelled, and both resume once the output is out.
 *
 * Each connection's operations in flight are counted; its memory goes
 * once the last completion came, so no completion names freed memory.
 *
 * Without io_uring (kernel.io_uring_disabled, a seccomp filter, an old
 * kernel, or a build without liburing) the master finds out once
 * (uring_usable) and the service runs as event, with one notice.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "log.h"

#ifdef HAVE_LIBURING

#include <liburing.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "acceptor.h"
#include "clock.h"
#include "conn.h"
#include "conn_list.h"
#include "sig.h"
#include "util.h"
#include "worker_signal.h"

#define URING_ENTRIES 256		/* SQ entries; the CQ has four times as many */
#define URING_BUFS 256			/* provided receive buffers (a power of 2) */
#define URING_BUF_SIZE 8192
#define URING_BGID 1
#define URING_READ_SIZE 65536		/* conn_input's, for the PROXY header */
#define URING_ACCEPTS 4			/* armed per listener: a burst is taken four
					 * a turn (event takes 16 a wakeup) */

/* What a completion is for: the low bits of its user_data. */
enum uring_op { OP_SIGNAL, OP_ACCEPT, OP_RECV, OP_SEND, OP_POLL, OP_CLOSE, OP_CANCEL };
#define OP_BITS 7

struct uring_conn {
	struct conn_entry le;		/* first: le.c is NULL once it ended */
	struct accepted taken;		/* its place, for the acceptor */
	int fd;
	unsigned ops;			/* operations in flight */
	bool recv_on;			/* a multishot receive is armed */
	bool recv_cancel;		/* ... and its cancel was asked */
	short poll;			/* the poll armed (POLLIN, POLLOUT), or 0 */
	char *send;			/* in flight: conn_ring_take's buffer */
	size_t send_len, send_off;
	int send_flags;
	char *kept;			/* received while output waited */
	size_t kept_len;
	bool ended;			/* ... and then the client's end */
	bool dead;			/* closed: goes with its last completion */
};

/* An accept armed on a listener, with the client's address buffer. */
struct uring_accept {
	int fd;				/* the listener */
	bool armed;
	bool cancel;			/* its cancel was asked */
	struct sockaddr_storage ss;
	socklen_t len;
};

struct uring {
	const struct worker_args *a;
	struct io_uring ring;
	struct io_uring_buf_ring *br;
	char *bufs;
	size_t br_size;
	int sig_fd;
	struct uring_accept acc[WORKER_MAX_LISTENERS * URING_ACCEPTS];
	size_t n_acc;
	struct acceptor ac;
	struct acceptor_watch w;
	struct conn_list list;		/* the connections, by activity and deadline */
	int64_t now;			/* the clock, read once a turn (conn_clock_turn) */
	size_t conns;
	size_t dead;			/* closed, their last completions due */
	bool quit;
	bool sig_on;			/* the signalfd's poll is armed */
};

/* One per process: the PROXY header's reads. */
static char uring_buf[URING_READ_SIZE];

static uint64_t
uring_tag(void *p, enum uring_op op)
{
	return (uint64_t)(uintptr_t)p | (uint64_t)op;
}

/* A free SQE: when the queue is full, what is in it goes now. */
static struct io_uring_sqe *
uring_sqe(struct uring *u)
{
	struct io_uring_sqe *sqe;
	int r;

	while ((sqe = io_uring_get_sqe(&u->ring)) == NULL)
		if ((r = io_uring_submit(&u->ring)) < 0 && r != -EINTR && r != -EAGAIN &&
		    r != -EBUSY)
			fatal(EXIT_OSERR, "io_uring_submit: %s", strerror(-r));
	return sqe;
}

/* An operation of UC's: counted till its last completion. */
static struct io_uring_sqe *
uring_conn_sqe(struct uring *u, struct uring_conn *uc, enum uring_op op)
{
	struct io_uring_sqe *sqe = uring_sqe(u);

	uc->ops++;
	io_uring_sqe_set_data64(sqe, uring_tag(uc, op));
	return sqe;
}

static void
uring_state(struct uring *u)
{
	int st = acceptor_draining(&u->ac) ? SLOT_DRAINING : u->conns > 0 ? SLOT_BUSY : SLOT_IDLE;

	atomic_store(&u->a->slot->state, st);
}

static void
uring_touch(struct uring *u, struct uring_conn *uc)
{
	conn_list_touch(&u->list, &uc->le, u->now);
}

/* ---- connections -------------------------------------------------------- */

/* An operation of UC's completed for good: the last one frees a dead one. */
static void
uring_op_done(struct uring *u, struct uring_conn *uc)
{
	if (--uc->ops > 0 || !uc->dead)
		return;
	free(uc->send);
	free(uc->kept);
	free(uc);
	u->dead--;
}

/* The connection ends: the handler's close(), its place back; then its
 * operations are cancelled and the socket closed, through the ring. */
static void
uring_close(struct uring *u, struct uring_conn *uc)
{
	struct io_uring_sqe *sqe;

	conn_list_remove(&u->list, &uc->le);
	conn_finish(uc->le.c);
	uc->le.c = NULL;
	acceptor_release(&u->ac, &uc->taken);
	u->conns--;
	acceptor_room(&u->w);
	uring_state(u);
	uc->dead = true;
	u->dead++;
	if (uc->ops > 0) {
		/* Before the close, which would leave them holding the socket. */
		sqe = uring_conn_sqe(u, uc, OP_CANCEL);
		io_uring_prep_cancel_fd(sqe, uc->fd, IORING_ASYNC_CANCEL_ALL);
		sqe->flags |= IOSQE_IO_HARDLINK;
	}
	io_uring_prep_close(uring_conn_sqe(u, uc, OP_CLOSE), uc->fd);
}

/* After conn_flush() or conn_input() said R (-1, 0, 1): closed (false),
 * or its times and lists as the progress made says. */
static bool
uring_progress(struct uring *u, struct uring_conn *uc, int r)
{
	if (r == -1) {
		uring_close(u, uc);
		return false;
	}
	if (r == 1)
		uring_touch(u, uc);
	conn_list_sort(&u->list, &uc->le);
	return true;
}

/*
 * After the handler or a completion had its say: close, or ask for what
 * the connection needs next - its queued answer sent, its file sent, its
 * next bytes (not while output waits), and the bytes kept aside delivered
 * once it is out.
 */
static void
uring_update(struct uring *u, struct uring_conn *uc)
{
	struct conn *c = uc->le.c;
	struct io_uring_sqe *sqe;
	short poll = 0;

	for (;;) {
		if (conn_broken(c) || (conn_closing(c) && !conn_pending(c))) {
			uring_close(u, uc);
			return;
		}
		if ((uc->kept == NULL && !uc->ended) || conn_pending(c))
			break;
		/* Output is out: now what came meanwhile, then the end. */
		char *kept = uc->kept;
		size_t n = uc->kept_len;
		int r;

		uc->kept = NULL;
		uc->kept_len = 0;
		if (kept != NULL) {
			r = conn_received(c, kept, (ssize_t)n);
			free(kept);
		} else {
			uc->ended = false;
			r = conn_received(c, NULL, 0);
		}
		if (r == -1) {
			uring_close(u, uc);
			return;
		}
		conn_list_sort(&u->list, &uc->le);
	}
	if (uc->send == NULL && (uc->send = conn_ring_take(c, &uc->send_len)) != NULL) {
		uc->send_off = 0;
		uc->send_flags = MSG_NOSIGNAL | (conn_ring_more(c) ? MSG_MORE : 0);
		sqe = uring_conn_sqe(u, uc, OP_SEND);
		io_uring_prep_send(sqe, uc->fd, uc->send, uc->send_len, uc->send_flags);
	} else if (uc->send == NULL && conn_pending(c)) {
		/* A file: sendfile, as under epoll; a full socket waits for room. */
		if (!uring_progress(u, uc, conn_flush(c)))
			return;
		if (conn_closing(c) && !conn_pending(c)) {
			uring_close(u, uc);
			return;
		}
		if (conn_pending(c))
			poll = POLLOUT;
	}
	if (!conn_pending(c) && !conn_closing(c)) {
		if (conn_reads_itself(c))
			poll = POLLIN;
		else if (!uc->recv_on) {
			sqe = uring_conn_sqe(u, uc, OP_RECV);
			io_uring_prep_recv_multishot(sqe, uc->fd, NULL, 0, 0);
			sqe->flags |= IOSQE_BUFFER_SELECT;
			sqe->buf_group = URING_BGID;
			uc->recv_on = true;
			uc->recv_cancel = false;
		}
	}
	if (poll != 0 && uc->poll == 0) {
		io_uring_prep_poll_add(uring_conn_sqe(u, uc, OP_POLL), uc->fd, (unsigned)poll);
		uc->poll = poll;
	}
}

/* Bytes of a receive (or its end): delivered, or kept aside while output
 * waits, with the receive cancelled. */
static void
uring_received(struct uring *u, struct uring_conn *uc, const char *data, int res)
{
	struct io_uring_sqe *sqe;

	if (res >= 0 && (conn_pending(uc->le.c) || uc->kept != NULL)) {
		if (res == 0)
			uc->ended = true;	/* after what it sent before */
		else {
			uc->kept = xreallocarray(uc->kept, uc->kept_len + (size_t)res, 1);
			memcpy(uc->kept + uc->kept_len, data, (size_t)res);
			uc->kept_len += (size_t)res;
		}
		if (uc->recv_on && !uc->recv_cancel) {
			sqe = uring_conn_sqe(u, uc, OP_CANCEL);
			io_uring_prep_cancel64(sqe, uring_tag(uc, OP_RECV), 0);
			uc->recv_cancel = true;
		}
		return;
	}
	if (conn_received(uc->le.c, data, res) == -1) {
		uring_close(u, uc);
		return;
	}
	uring_touch(u, uc);
	conn_list_sort(&u->list, &uc->le);
	uring_update(u, uc);
}

static void
uring_recv_done(struct uring *u, struct uring_conn *uc, const struct io_uring_cqe *cqe)
{
	unsigned bid;
	bool more = (cqe->flags & IORING_CQE_F_MORE) != 0;

	if (!more)
		uc->recv_on = false;
	if (cqe->flags & IORING_CQE_F_BUFFER) {
		bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
		if (!uc->dead && cqe->res > 0)
			uring_received(u, uc, u->bufs + (size_t)bid * URING_BUF_SIZE, cqe->res);
		io_uring_buf_ring_add(u->br, u->bufs + (size_t)bid * URING_BUF_SIZE,
		    URING_BUF_SIZE, (unsigned short)bid, io_uring_buf_ring_mask(URING_BUFS), 0);
		io_uring_buf_ring_advance(u->br, 1);
	} else if (!uc->dead && (cqe->res == 0 || (cqe->res < 0 && cqe->res != -ENOBUFS &&
	    cqe->res != -ECANCELED)))
		uring_received(u, uc, NULL, cqe->res);	/* the client's end, or an error */
	else if (!uc->dead && !more)
		uring_update(u, uc);	/* out of buffers, or cancelled: again when due */
	if (!more)
		uring_op_done(u, uc);
}

static void
uring_send_done(struct uring *u, struct uring_conn *uc, int res)
{
	bool done;

	if (uc->dead) {
		uring_op_done(u, uc);
		return;
	}
	done = res < 0 || uc->send_off + (size_t)res >= uc->send_len;
	if (res > 0)
		uc->send_off += (size_t)res;
	uring_op_done(u, uc);
	if (conn_ring_sent(uc->le.c, res, done) == -1) {
		uring_close(u, uc);
		return;
	}
	if (!done) {		/* the rest of it */
		io_uring_prep_send(uring_conn_sqe(u, uc, OP_SEND), uc->fd, uc->send + uc->send_off,
		    uc->send_len - uc->send_off, uc->send_flags);
		return;
	}
	free(uc->send);
	uc->send = NULL;
	if (res > 0)
		uring_touch(u, uc);
	conn_list_sort(&u->list, &uc->le);
	uring_update(u, uc);
}

/* The poll armed: readable (the PROXY header's reads) or writable (a file). */
static void
uring_poll_done(struct uring *u, struct uring_conn *uc, int res)
{
	short was = uc->poll;
	int r = 0;

	uc->poll = 0;
	if (uc->dead) {
		uring_op_done(u, uc);
		return;
	}
	uring_op_done(u, uc);
	if (was == POLLIN && res >= 0)
		r = conn_input(uc->le.c, uring_buf, sizeof(uring_buf));
	if (uring_progress(u, uc, r))
		uring_update(u, uc);
}

/* A new connection: count it, let the handler open it, start its I/O. */
static void
uring_add(struct uring *u, const struct accepted *c)
{
	struct uring_conn *uc = xcalloc(1, sizeof(*uc));

	uc->taken = *c;
	uc->fd = c->fd;
	u->conns++;
	uring_state(u);
	uc->le.c = conn_open_ring(uc->fd, &c->peer, u->a->svc, u->a->handler, u->a->slot);
	conn_list_add(&u->list, &uc->le);
	uring_update(u, uc);
}

/* ---- accepting, signals, the drain ------------------------------------- */

/* Accepts armed on every listener, URING_ACCEPTS each, each with its
 * place. */
static void
uring_arm_accepts(struct uring *u)
{
	struct io_uring_sqe *sqe;

	for (size_t i = 0; i < u->n_acc; i++) {
		struct uring_accept *l = &u->acc[i];

		if (l->armed || !acceptor_arm(&u->w))
			continue;
		l->len = sizeof(l->ss);
		sqe = uring_sqe(u);
		io_uring_prep_accept(sqe, l->fd, (struct sockaddr *)&l->ss, &l->len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		io_uring_sqe_set_data64(sqe, uring_tag(l, OP_ACCEPT));
		l->armed = true;
		l->cancel = false;
	}
}

static void
uring_cancel_accepts(struct uring *u)
{
	struct io_uring_sqe *sqe;

	for (size_t i = 0; i < u->n_acc; i++) {
		if (!u->acc[i].armed || u->acc[i].cancel)
			continue;
		sqe = uring_sqe(u);
		io_uring_prep_cancel64(sqe, uring_tag(&u->acc[i], OP_ACCEPT), 0);
		io_uring_sqe_set_data64(sqe, uring_tag(NULL, OP_CANCEL));
		u->acc[i].cancel = true;
	}
}

static void uring_drain(struct uring *u);

static void
uring_accept_done(struct uring *u, struct uring_accept *l, int res)
{
	struct accepted c;
	enum acceptor_result r;

	l->armed = false;
	r = acceptor_armed(&u->w, res, (struct sockaddr *)&l->ss, l->len, &c);
	if (r != ACCEPTOR_CONN)
		return;
	if (u->quit) {		/* took one as the worker ends: it goes */
		if (close(c.fd) == -1 && errno != EINTR)
			log_debug("%s: close: %s", u->a->svc->name, strerror(errno));
		acceptor_release(&u->ac, &c);
		return;
	}
	uring_add(u, &c);
	if (c.recycle)
		uring_drain(u);	/* max_requests: a fresh worker takes over */
}

/* Stop accepting: the armed accepts are cancelled before the listeners
 * close (a connection one took meanwhile is served); the open
 * connections are served to their end (an http one is handed over). */
static void
uring_drain(struct uring *u)
{
	int r;

	uring_cancel_accepts(u);
	if ((r = io_uring_submit(&u->ring)) < 0 && r != -EINTR)
		log_warn("%s: io_uring_submit: %s", u->a->svc->name, strerror(-r));
	acceptor_drain(&u->ac);
	for (struct conn_entry *e = u->list.head; e != NULL; e = e->next)
		conn_drain(e->c);
	uring_state(u);
}

static void
uring_signals(struct uring *u)
{
	struct sig_info si;

	while (sig_read(u->sig_fd, &si))
		switch (worker_signal(u->a, &si)) {
		case WORKER_QUIT:
			u->quit = true;
			/* FALLTHROUGH */
		case WORKER_DRAIN:
			uring_drain(u);
			break;
		default:
			break;
		}
}

static void
uring_arm_signals(struct uring *u)
{
	struct io_uring_sqe *sqe;

	if (u->sig_on)
		return;
	sqe = uring_sqe(u);
	io_uring_prep_poll_multishot(sqe, u->sig_fd, POLLIN);
	io_uring_sqe_set_data64(sqe, uring_tag(NULL, OP_SIGNAL));
	u->sig_on = true;
}

static void
uring_complete(struct uring *u, const struct io_uring_cqe *cqe)
{
	void *p = (void *)(uintptr_t)(cqe->user_data & ~(uint64_t)OP_BITS);
	struct uring_conn *uc = p;

	switch ((enum uring_op)(cqe->user_data & OP_BITS)) {
	case OP_SIGNAL:
		if (!(cqe->flags & IORING_CQE_F_MORE))
			u->sig_on = false;	/* re-armed at the turn's end */
		uring_signals(u);
		break;
	case OP_ACCEPT:
		uring_accept_done(u, p, cqe->res);
		break;
	case OP_RECV:
		uring_recv_done(u, uc, cqe);
		break;
	case OP_SEND:
		uring_send_done(u, uc, cqe->res);
		break;
	case OP_POLL:
		uring_poll_done(u, uc, cqe->res);
		break;
	case OP_CLOSE:
		if (cqe->res < 0 && cqe->res != -EINTR)
			log_debug("%s: close: %s", u->a->svc->name, strerror(-cqe->res));
		uring_op_done(u, uc);
		break;
	case OP_CANCEL:
		if (uc != NULL)
			uring_op_done(u, uc);
		break;
	}
}

/* ---- timeouts (conn_list.c) ---------------------------------------------- */

/* Past a deadline (conn_timeout_check): end it; an answer it was given
 * (http's 408) goes out if the socket takes it at once. */
static void
uring_time_out(void *arg, struct conn_entry *e, enum conn_timeout t)
{
	struct uring *u = arg;
	struct uring_conn *uc = (struct uring_conn *)e;

	conn_timed_out(e->c, t);
	if (!conn_closing(e->c)) {	/* a drain's: lingering now, or a request came */
		uring_touch(u, uc);
		conn_list_sort(&u->list, e);
		uring_update(u, uc);
		return;
	}
	if (uc->send == NULL && conn_pending(e->c) && !conn_broken(e->c))
		conn_flush(e->c);
	conn_break(e->c, CONN_END_STOPPING);
	uring_close(u, uc);
}

/* How long the ring may wait: the heartbeat tick (as conn_block.c's),
 * the next deadline, DRAIN_MS (the next drain's, or -1), the next look at
 * the listeners when at the limit. */
static int64_t
uring_timeout(struct uring *u, int64_t now, int64_t drain_ms)
{
	int64_t ms = clock_tick_ms(u->a->svc->heartbeat_ms), t;

	if (drain_ms >= 0 && drain_ms < ms)
		ms = drain_ms;
	ms = conn_list_wait(&u->list, now, ms);
	if ((t = acceptor_update(&u->w, now)) >= 0 && t < ms)
		ms = t;
	return ms;
}

/* ---- the ring ----------------------------------------------------------- */

/* The ring with the cheapest way of running completions this kernel has
 * (completions run in our io_uring_enter, not by interrupting us). */
static int
uring_init_ring(struct io_uring *ring)
{
	static const unsigned flags[] = {
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
		IORING_SETUP_COOP_TASKRUN,
		0,
	};
	struct io_uring_params p;
	int r = -EINVAL;

	for (size_t i = 0; i < ARRAY_SIZE(flags); i++) {
		memset(&p, 0, sizeof(p));
		p.flags = flags[i] | IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL;
		p.cq_entries = URING_ENTRIES * 4;
		if ((r = io_uring_queue_init_params(URING_ENTRIES, ring, &p)) == 0)
			break;
		if (r != -EINVAL)
			return r;	/* not a flag this kernel lacks: io_uring itself */
	}
	if (r == 0 && !(p.features & IORING_FEAT_EXT_ARG)) {
		io_uring_queue_exit(ring);
		return -EOPNOTSUPP;
	}
	return r;
}

/* The provided buffers: URING_BUFS of URING_BUF_SIZE, one group. */
static int
uring_init_bufs(struct uring *u)
{
	struct io_uring_buf_reg reg = { .ring_entries = URING_BUFS, .bgid = URING_BGID };
	int r;

	u->br_size = URING_BUFS * sizeof(struct io_uring_buf);
	u->br = mmap(NULL, u->br_size, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	if (u->br == MAP_FAILED)
		return -errno;
	reg.ring_addr = (uint64_t)(uintptr_t)u->br;
	if ((r = io_uring_register_buf_ring(&u->ring, &reg, 0)) < 0) {
		munmap(u->br, u->br_size);
		return r;
	}
	u->bufs = xreallocarray(NULL, URING_BUFS, URING_BUF_SIZE);
	io_uring_buf_ring_init(u->br);
	for (unsigned i = 0; i < URING_BUFS; i++)
		io_uring_buf_ring_add(u->br, u->bufs + (size_t)i * URING_BUF_SIZE, URING_BUF_SIZE,
		    (unsigned short)i, io_uring_buf_ring_mask(URING_BUFS), (int)i);
	io_uring_buf_ring_advance(u->br, URING_BUFS);
	return 0;
}

/* Multishot receive needs Linux 6.0 (and the buffer ring 5.19): older
 * kernels accept the flag and ignore it, so ask the kernel's version. */
static bool
uring_kernel_new_enough(void)
{
	struct utsname un;
	int major = 0, minor = 0;

	return uname(&un) == 0 && sscanf(un.release, "%d.%d", &major, &minor) == 2 &&
	    major >= 6;
}

bool
uring_usable(char *why, size_t size)
{
	struct io_uring ring;
	struct uring u = { 0 };
	int r;

	if (!uring_kernel_new_enough()) {
		snprintf(why, size, "Linux 6.0 or later is needed");
		return false;
	}
	if ((r = uring_init_ring(&ring)) < 0) {
		snprintf(why, size, "io_uring_setup: %s", strerror(-r));
		return false;
	}
	u.ring = ring;
	if ((r = uring_init_bufs(&u)) < 0) {
		snprintf(why, size, "provided buffers: %s", strerror(-r));
		io_uring_queue_exit(&ring);
		return false;
	}
	munmap(u.br, u.br_size);
	free(u.bufs);
	io_uring_queue_exit(&u.ring);
	return true;
}

static int
uring_open(struct uring *u, const struct worker_args *a, int sig_fd)
{
	int r;

	*u = (struct uring){ .a = a, .sig_fd = sig_fd };
	if ((r = uring_init_ring(&u->ring)) < 0)
		return r;
	if ((r = uring_init_bufs(u)) < 0) {
		io_uring_queue_exit(&u->ring);
		return r;
	}
	for (size_t i = 0; i < a->n_fds; i++)
		for (size_t k = 0; k < URING_ACCEPTS; k++)
			u->acc[u->n_acc++].fd = a->fds[i];
	acceptor_init(&u->ac, a, SOCK_NONBLOCK, false);
	acceptor_watch_init(&u->w, &u->ac, -1, NULL);
	uring_state(u);
	return 0;
}

/* Till every operation in flight has completed (bounded): none then
 * names memory about to go. A connection an accept took at the very end
 * is closed. */
static void
uring_close_ring(struct uring *u)
{
	struct io_uring_cqe *cqe;
	struct __kernel_timespec ts = { .tv_nsec = 100 * 1000000 };

	u->quit = true;
	uring_cancel_accepts(u);
	for (int turns = 0; turns < 50; turns++) {
		bool armed = false;
		unsigned head, n = 0;

		for (size_t i = 0; i < u->n_acc; i++)
			armed |= u->acc[i].armed;
		if (!armed && u->dead == 0)
			break;
		if (io_uring_submit_and_wait_timeout(&u->ring, &cqe, 1, &ts, NULL) < 0)
			continue;
		io_uring_for_each_cqe(&u->ring, head, cqe) {
			n++;
			uring_complete(u, cqe);
		}
		io_uring_cq_advance(&u->ring, n);
	}
	io_uring_queue_exit(&u->ring);
	munmap(u->br, u->br_size);
	free(u->bufs);
}

static void
uring_run(struct uring *u)
{
	const struct worker_args *a = u->a;

	u->now = clock_now();
	conn_clock_turn(u->now);
	while (!u->quit && !(acceptor_draining(&u->ac) && u->conns == 0)) {
		int64_t drain_ms, ms;
		struct __kernel_timespec ts;
		struct io_uring_cqe *cqe;
		unsigned head, n = 0;
		int r;

		/* One clock read a turn, after the wait (as the event model). */
		atomic_store(&a->slot->heartbeat_ns, u->now);
		drain_ms = conn_list_expire(&u->list, u->now, acceptor_draining(&u->ac),
		    uring_time_out, u);
		uring_arm_signals(u);
		ms = uring_timeout(u, u->now, drain_ms);	/* also ends a pause that is due */
		uring_arm_accepts(u);
		ts.tv_sec = ms / 1000;
		ts.tv_nsec = (ms % 1000) * 1000000;
		r = io_uring_submit_and_wait_timeout(&u->ring, &cqe, 1, &ts, NULL);
		if (r < 0 && r != -ETIME && r != -EINTR && r != -EAGAIN && r != -EBUSY)
			fatal(EXIT_OSERR, "io_uring_submit_and_wait_timeout: %s", strerror(-r));
		u->now = clock_now();
		conn_clock_turn(u->now);
		io_uring_for_each_cqe(&u->ring, head, cqe) {
			n++;
			uring_complete(u, cqe);
		}
		io_uring_cq_advance(&u->ring, n);
	}
	while (u->list.head != NULL) {
		conn_end(u->list.head->c, CONN_END_STOPPING);
		uring_close(u, (struct uring_conn *)u->list.head);
	}
}

void
model_uring_run(const struct worker_args *a, int sig_fd)
{
	struct uring u;
	int r;

	if ((r = uring_open(&u, a, sig_fd)) < 0) {
		/* The master found io_uring usable; this worker (another uid,
		 * another filter) does not. */
		log_warn("%s: io_uring: %s; serving as event", a->svc->name, strerror(-r));
		model_event_run(a, sig_fd);
		return;
	}
	uring_run(&u);
	acceptor_fini(&u.ac);
	uring_close_ring(&u);
}

#else /* !HAVE_LIBURING */

bool
uring_usable(char *why, size_t size)
{
	snprintf(why, size, "this sockd was built without liburing");
	return false;
}

void
model_uring_run(const struct worker_args *a, int sig_fd)
{
	model_event_run(a, sig_fd);
}

#endif
