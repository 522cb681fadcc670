/*
 * uring_echo.c - the io_uring yardstick beside epoll_echo: the least an
 * io_uring echo server can be. Each worker is one process with one ring: a
 * multishot accept on the listener (one-shot accepts when several workers
 * share it, see arm_accept), a multishot receive per connection into
 * buffers the kernel picks from a provided buffer ring, each chunk sent
 * back from the buffer it arrived in, the buffer handed back to the kernel
 * when its send completes. No framing, no limits, no timeouts.
 * sockd's models are measured against it in tests/bench/run.sh.
 *
 * usage: uring_echo PORT [WORKERS]
 *   127.0.0.1 only; 0 picks a port, logged on stderr. WORKERS (1..64,
 *   default 1) processes share the listener, each with its own ring: the
 *   parent is one of them, the others die with it.
 *
 * Exits 69 when this kernel (or its seccomp policy) has no usable io_uring.
 *
 * The load client keeps one small message in flight per connection, so a
 * connection holds at most a buffer or two: running out of the NBUFS of a
 * worker only makes its receive end with ENOBUFS, and it is asked again.
 */
#include <errno.h>
#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "echo_floor.h"

#define ENTRIES		512		/* submission queue; completions: 8 times that */
#define NBUFS		256		/* provided buffers per worker, a power of two */
#define BUF_SIZE	16384
#define BGID		0

/* user_data: what completed, which buffer it holds, on which connection */
enum op { OP_ACCEPT = 1, OP_RECV, OP_SEND };
#define UD(op, bid, fd)	((uint64_t)(op) << 56 | (uint64_t)(bid) << 32 | (uint32_t)(fd))
#define UD_OP(ud)	((enum op)((ud) >> 56))
#define UD_BID(ud)	((unsigned)((ud) >> 32) & 0xffff)
#define UD_FD(ud)	((int)(uint32_t)(ud))

/* A connection stays open until its receive has ended and none of its
 * sends is in flight: closing earlier would let accept reuse the number
 * while a late send completion still refers to the old connection. */
struct conn {
	uint16_t sends;
	bool reading;
};

static struct io_uring ring;
static struct io_uring_buf_ring *br;
static char *bufs;
static struct conn *conns;
static size_t nconns;
static bool accept_multishot;

static void
die(const char *what, int err)
{
	fprintf(stderr, "uring_echo: %s: %s\n", what, strerror(err));
	exit(71);
}

/* The ring with the cheapest way of running completions this kernel has,
 * falling back flag by flag (EINVAL is a flag it lacks). */
static int
ring_init(void)
{
	static const unsigned flags[] = {
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
		IORING_SETUP_COOP_TASKRUN,
		0,
	};
	struct io_uring_params p;
	int r = -EINVAL;

	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		memset(&p, 0, sizeof(p));
		p.flags = flags[i] | IORING_SETUP_CQSIZE;
		p.cq_entries = ENTRIES * 8;
		if ((r = io_uring_queue_init_params(ENTRIES, &ring, &p)) != -EINVAL)
			break;
	}
	return r;
}

/* liburing 2.3 has no io_uring_setup_buf_ring(): map and register it */
static int
bufs_init(void)
{
	struct io_uring_buf_reg reg = { .ring_entries = NBUFS, .bgid = BGID };
	int r;

	br = mmap(NULL, NBUFS * sizeof(struct io_uring_buf), PROT_READ | PROT_WRITE,
	    MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	if (br == MAP_FAILED)
		return -errno;
	reg.ring_addr = (uint64_t)(uintptr_t)br;
	if ((r = io_uring_register_buf_ring(&ring, &reg, 0)) < 0)
		return r;
	if ((bufs = malloc((size_t)NBUFS * BUF_SIZE)) == NULL)
		die("malloc", errno);
	io_uring_buf_ring_init(br);
	for (unsigned i = 0; i < NBUFS; i++)
		io_uring_buf_ring_add(br, bufs + (size_t)i * BUF_SIZE, BUF_SIZE,
		    (unsigned short)i, io_uring_buf_ring_mask(NBUFS), (int)i);
	io_uring_buf_ring_advance(br, NBUFS);
	return 0;
}

/* Before listening, so that the benchmark sees no port when there is no
 * io_uring. Multishot receive needs Linux 6.0; older kernels take the
 * flag and ignore it, so their version is what tells. The probe's ring is
 * gone before the fork: each worker makes its own. */
static void
uring_probe(void)
{
	struct utsname un;
	int major = 0, r;

	if (uname(&un) == -1 || sscanf(un.release, "%d.", &major) != 1 || major < 6) {
		fprintf(stderr, "uring_echo: io_uring unavailable: Linux 6.0 or later is needed\n");
		exit(69);
	}
	if ((r = ring_init()) < 0 || (r = bufs_init()) < 0) {
		fprintf(stderr, "uring_echo: io_uring unavailable: %s\n", strerror(-r));
		exit(69);
	}
	io_uring_queue_exit(&ring);
	if (munmap(br, NBUFS * sizeof(struct io_uring_buf)) == -1)
		die("munmap", errno);
	free(bufs);
}

/* A submission slot; a full queue is submitted to make room. */
static struct io_uring_sqe *
sqe_get(void)
{
	struct io_uring_sqe *sqe;
	int r;

	while ((sqe = io_uring_get_sqe(&ring)) == NULL)
		if ((r = io_uring_submit(&ring)) < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY)
			die("io_uring_submit", -r);
	return sqe;
}

/* A multishot accept stays first in the listener's wait queue and takes
 * every wakeup, busy or not, so of several workers sharing the listener
 * one would accept all connections (the others' were seen idle). A
 * one-shot accept leaves the queue when woken and queues again behind the
 * other workers' when re-armed: they take turns, as under EPOLLEXCLUSIVE.
 * Alone, a worker saves that SQE per connection. */
static void
arm_accept(int lfd)
{
	struct io_uring_sqe *sqe = sqe_get();

	if (accept_multishot)
		io_uring_prep_multishot_accept(sqe, lfd, NULL, NULL, SOCK_CLOEXEC);
	else
		io_uring_prep_accept(sqe, lfd, NULL, NULL, SOCK_CLOEXEC);
	io_uring_sqe_set_data64(sqe, UD(OP_ACCEPT, 0, lfd));
}

static void
arm_recv(int fd)
{
	struct io_uring_sqe *sqe = sqe_get();

	io_uring_prep_recv_multishot(sqe, fd, NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = BGID;
	io_uring_sqe_set_data64(sqe, UD(OP_RECV, 0, fd));
	conns[fd].reading = true;
}

/* MSG_WAITALL: the kernel finishes a short send itself, so a send that
 * completes with less than all of it has failed. */
static void
send_buf(int fd, unsigned bid, int len)
{
	struct io_uring_sqe *sqe = sqe_get();

	io_uring_prep_send(sqe, fd, bufs + (size_t)bid * BUF_SIZE, (size_t)len,
	    MSG_NOSIGNAL | MSG_WAITALL);
	io_uring_sqe_set_data64(sqe, UD(OP_SEND, bid, fd));
	conns[fd].sends++;
}

static void
conn_done(int fd)
{
	if (!conns[fd].reading && conns[fd].sends == 0 && close(fd) == -1 && errno != EINTR)
		die("close", errno);
}

static void
on_accept(int lfd, struct io_uring_cqe *cqe)
{
	int fd = cqe->res;

	if (!(cqe->flags & IORING_CQE_F_MORE))
		arm_accept(lfd);	/* one-shot, or the multishot ended (EMFILE, a full CQ) */
	if (fd < 0)
		return;
	if ((size_t)fd < nconns)
		arm_recv(fd);
	else if (close(fd) == -1 && errno != EINTR)	/* only past conns' 1 << 20 */
		die("close", errno);
}

static void
on_recv(int fd, struct io_uring_cqe *cqe)
{
	if (cqe->res > 0) {
		if (!(cqe->flags & IORING_CQE_F_BUFFER))
			die("recv", EINVAL);
		send_buf(fd, cqe->flags >> IORING_CQE_BUFFER_SHIFT, cqe->res);
	}
	if (cqe->flags & IORING_CQE_F_MORE)
		return;
	conns[fd].reading = false;
	if (cqe->res > 0 || cqe->res == -ENOBUFS)
		arm_recv(fd);		/* still open: ended for a full CQ or no buffer */
	else
		conn_done(fd);		/* EOF or error */
}

static void
on_send(int fd, unsigned bid, struct io_uring_cqe *cqe)
{
	io_uring_buf_ring_add(br, bufs + (size_t)bid * BUF_SIZE, BUF_SIZE,
	    (unsigned short)bid, io_uring_buf_ring_mask(NBUFS), 0);
	io_uring_buf_ring_advance(br, 1);
	conns[fd].sends--;
	/* A failed send: end its receive, which then closes it. ENOTCONN is
	 * a peer gone already, its receive ending anyway. */
	if (cqe->res < 0 && conns[fd].reading && shutdown(fd, SHUT_RDWR) == -1 &&
	    errno != ENOTCONN)
		die("shutdown", errno);
	conn_done(fd);
}

int
main(int argc, char **argv)
{
	struct io_uring_cqe *cqe;
	struct rlimit rl;
	unsigned head, n;
	int lfd, r, workers;

	if ((workers = floor_workers("uring_echo", argc, argv)) == -1)
		return 64;
	uring_probe();
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		die("getrlimit", errno);
	nconns = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > 1 << 20 ? 1 << 20 : rl.rlim_cur;
	lfd = floor_listen("uring_echo", atoi(argv[1]));
	floor_fork(workers);
	accept_multishot = workers == 1;
	if ((conns = calloc(nconns, sizeof(*conns))) == NULL)
		die("calloc", errno);
	if ((r = ring_init()) < 0 || (r = bufs_init()) < 0)
		die("io_uring", -r);
	arm_accept(lfd);
	for (;;) {
		if ((r = io_uring_submit_and_wait(&ring, 1)) < 0 && r != -EINTR &&
		    r != -EAGAIN && r != -EBUSY)
			die("io_uring_submit_and_wait", -r);
		n = 0;
		io_uring_for_each_cqe(&ring, head, cqe) {
			uint64_t ud = io_uring_cqe_get_data64(cqe);

			switch (UD_OP(ud)) {
			case OP_ACCEPT:
				on_accept(UD_FD(ud), cqe);
				break;
			case OP_RECV:
				on_recv(UD_FD(ud), cqe);
				break;
			case OP_SEND:
				on_send(UD_FD(ud), UD_BID(ud), cqe);
				break;
			}
			n++;
		}
		io_uring_cq_advance(&ring, n);
	}
}
