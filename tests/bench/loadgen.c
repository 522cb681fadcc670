/*
 * loadgen.c - sockd's echo load client, for the benchmark (tests/bench/run.sh).
 *
 * One process, one epoll loop, non-blocking sockets, two modes:
 *   persist  N connections, each with one message in flight: send it, wait
 *            for the whole echo, send the next, until the time is up;
 *   close    N slots, each repeating connect, send, read the echo, close.
 * The latency of a message is from send (persist) or from connect (close)
 * until its last echoed byte is read. Latencies go into a log-linear
 * histogram (exact below 64 us, then 32 buckets per power of two, about 3%),
 * so memory does not grow with the run.
 *
 * It is a tool for measuring one's own servers, so it refuses every address
 * but 127.0.0.1 and ::1, runs at most 60 s and opens at most 1000
 * connections at once.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdnoreturn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS	1000
#define MAX_SECONDS	60
#define MAX_SIZE	4096
#define STALL_NS	1000000000ULL	/* in flight this long at the end: a timeout */
#define RETRY_NS	10000000ULL	/* a failed slot waits 10 ms: no spin on a dead port */

#define HIST_SUB_BITS	5
#define HIST_SUB	(1 << HIST_SUB_BITS)
#define HIST_EXACT	(2 * HIST_SUB)		/* values below are their own bucket */
#define HIST_MAX_EXP	40			/* ~12 days in us: more than enough */
#define HIST_N		(HIST_EXACT + (HIST_MAX_EXP - HIST_SUB_BITS - 1) * HIST_SUB)

enum mode { MODE_PERSIST, MODE_CLOSE };
enum cstate { C_IDLE, C_CONNECTING, C_SENDING, C_READING };

struct client {
	int fd;
	enum cstate state;
	uint32_t events;		/* what epoll is asked for now */
	size_t sent;
	size_t got;
	uint64_t t0;			/* ns: start of the message in flight */
	uint64_t retry;			/* ns: no new connection before, after a failure */
};

struct options {
	struct sockaddr_storage addr;
	socklen_t addrlen;
	const char *host;
	int port;
	int conns;
	int seconds;
	enum mode mode;
	size_t size;
	bool machine;
};

struct stats {
	uint64_t requests;
	uint64_t errors;		/* refused, reset, short or wrong echo */
	uint64_t timeouts;		/* still unanswered after STALL_NS at the end */
	uint64_t max_us;
	uint64_t hist[HIST_N];
};

struct loadgen {
	struct options o;
	struct client *c;
	int ep;
	char *msg;
	char *buf;
	uint64_t start;
	uint64_t deadline;
	struct stats st;
};

static void client_begin(struct loadgen *lg, struct client *c, uint64_t now);

static void
die(const char *what)
{
	fprintf(stderr, "loadgen: %s: %s\n", what, strerror(errno));
	exit(71);
}

static noreturn void
usage(void)
{
	fprintf(stderr,
	    "usage: loadgen -p PORT [-a 127.0.0.1|::1] [-c CONNS] [-d SECONDS]\n"
	    "               [-m persist|close] [-s BYTES] [-o]\n"
	    "  -c  connections at once, 1..%d (default 10)\n"
	    "  -d  seconds to run, 1..%d (default 5)\n"
	    "  -m  persist: one message in flight per connection (default);\n"
	    "      close: a new connection per message\n"
	    "  -s  message size, 1..%d bytes (default 16)\n"
	    "  -o  print one machine-readable key=value line\n",
	    MAX_CONNS, MAX_SECONDS, MAX_SIZE);
	exit(64);
}

static uint64_t
now_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		die("clock_gettime");
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* ---- histogram --------------------------------------------------------- */

static size_t
hist_index(uint64_t v)
{
	int e;

	if (v < HIST_EXACT)
		return (size_t)v;
	if (v >= (1ULL << HIST_MAX_EXP))
		v = (1ULL << HIST_MAX_EXP) - 1;
	e = 63 - __builtin_clzll(v);
	return HIST_EXACT + (size_t)(e - HIST_SUB_BITS - 1) * HIST_SUB +
	    (size_t)((v >> (e - HIST_SUB_BITS)) - HIST_SUB);
}

/* The middle of bucket i. */
static uint64_t
hist_value(size_t i)
{
	size_t e, sub;

	if (i < HIST_EXACT)
		return i;
	e = (i - HIST_EXACT) / HIST_SUB + HIST_SUB_BITS + 1;
	sub = (i - HIST_EXACT) % HIST_SUB;
	return ((uint64_t)(HIST_SUB + sub) << (e - HIST_SUB_BITS)) +
	    (1ULL << (e - HIST_SUB_BITS)) / 2;
}

static uint64_t
hist_percentile(const struct stats *st, double p)
{
	uint64_t rank, seen = 0;

	if (st->requests == 0)
		return 0;
	rank = (uint64_t)(p * (double)st->requests + 0.999999);
	if (rank < 1)
		rank = 1;
	for (size_t i = 0; i < HIST_N; i++) {
		seen += st->hist[i];
		if (seen >= rank)
			return hist_value(i);
	}
	return st->max_us;
}

static void
stats_record(struct stats *st, uint64_t ns)
{
	uint64_t us = ns / 1000;

	st->requests++;
	st->hist[hist_index(us)]++;
	if (us > st->max_us)
		st->max_us = us;
}

/* ---- options ----------------------------------------------------------- */

static int
number(const char *s, long lo, long hi)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *s == '\0' || *end != '\0' || v < lo || v > hi) {
		fprintf(stderr, "loadgen: \"%s\" is not a number in %ld..%ld\n", s, lo, hi);
		exit(64);
	}
	return (int)v;
}

/* Only the loopback addresses themselves: this tool must not load anyone else. */
static void
options_addr(struct options *o)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&o->addr;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&o->addr;

	memset(&o->addr, 0, sizeof(o->addr));
	if (inet_pton(AF_INET, o->host, &sin->sin_addr) == 1 &&
	    sin->sin_addr.s_addr == htonl(INADDR_LOOPBACK)) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)o->port);
		o->addrlen = sizeof(*sin);
	} else if (inet_pton(AF_INET6, o->host, &sin6->sin6_addr) == 1 &&
	    IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr)) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)o->port);
		o->addrlen = sizeof(*sin6);
	} else {
		fprintf(stderr, "loadgen: refusing \"%s\": only 127.0.0.1 or ::1\n", o->host);
		exit(64);
	}
}

static void
options_parse(int argc, char **argv, struct options *o)
{
	int ch;

	*o = (struct options){ .host = "127.0.0.1", .conns = 10, .seconds = 5,
	    .mode = MODE_PERSIST, .size = 16 };
	while ((ch = getopt(argc, argv, "a:c:d:m:op:s:")) != -1) {
		switch (ch) {
		case 'a': o->host = optarg; break;
		case 'c': o->conns = number(optarg, 1, MAX_CONNS); break;
		case 'd': o->seconds = number(optarg, 1, MAX_SECONDS); break;
		case 'o': o->machine = true; break;
		case 'p': o->port = number(optarg, 1, 65535); break;
		case 's': o->size = (size_t)number(optarg, 1, MAX_SIZE); break;
		case 'm':
			if (strcmp(optarg, "persist") == 0)
				o->mode = MODE_PERSIST;
			else if (strcmp(optarg, "close") == 0)
				o->mode = MODE_CLOSE;
			else
				usage();
			break;
		default: usage();
		}
	}
	if (optind != argc || o->port == 0)
		usage();
	options_addr(o);
}

/* ---- one client -------------------------------------------------------- */

static void
client_watch(struct loadgen *lg, struct client *c, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.u32 = (uint32_t)(c - lg->c) };

	if (c->events == events)
		return;
	if (epoll_ctl(lg->ep, c->events == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, c->fd, &ev) == -1)
		die("epoll_ctl");
	c->events = events;
}

static void
client_close(struct client *c)
{
	if (c->fd != -1 && close(c->fd) == -1 && errno != EINTR)
		die("close");
	c->fd = -1;
	c->events = 0;
	c->state = C_IDLE;
}

/* A failed connection counts once; loadgen_idle() replaces it a little
 * later, so one reset does not take a slot out of the run. */
static void
client_fail(struct loadgen *lg, struct client *c)
{
	lg->st.errors++;
	client_close(c);
	c->retry = now_ns() + RETRY_NS;
}

static void
client_send(struct loadgen *lg, struct client *c)
{
	while (c->sent < lg->o.size) {
		ssize_t n = send(c->fd, lg->msg + c->sent, lg->o.size - c->sent, MSG_NOSIGNAL);

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			client_watch(lg, c, EPOLLOUT);
			return;
		}
		if (n == -1) {
			client_fail(lg, c);
			return;
		}
		c->sent += (size_t)n;
	}
	c->state = C_READING;
	client_watch(lg, c, EPOLLIN);
}

static void
client_message(struct loadgen *lg, struct client *c, uint64_t now)
{
	c->sent = 0;
	c->got = 0;
	c->state = C_SENDING;
	if (lg->o.mode == MODE_PERSIST)
		c->t0 = now;
	client_send(lg, c);
}

static void
client_connect(struct loadgen *lg, struct client *c, uint64_t now)
{
	int one = 1;

	c->fd = socket(lg->o.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd == -1)
		die("socket");
	if (setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == -1)
		die("setsockopt TCP_NODELAY");
	c->t0 = now;
	if (connect(c->fd, (struct sockaddr *)&lg->o.addr, lg->o.addrlen) == 0) {
		client_message(lg, c, now);
	} else if (errno == EINPROGRESS) {
		c->state = C_CONNECTING;
		client_watch(lg, c, EPOLLOUT);
	} else {
		client_fail(lg, c);	/* e.g. refused */
	}
}

static void
client_begin(struct loadgen *lg, struct client *c, uint64_t now)
{
	if (now >= lg->deadline)
		return;
	if (c->fd == -1)
		client_connect(lg, c, now);
	else
		client_message(lg, c, now);
}

static void
client_connected(struct loadgen *lg, struct client *c, uint64_t now)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		die("getsockopt SO_ERROR");
	if (err != 0)
		client_fail(lg, c);
	else
		client_message(lg, c, now);
}

static void
client_done(struct loadgen *lg, struct client *c, uint64_t now)
{
	stats_record(&lg->st, now - c->t0);
	if (lg->o.mode == MODE_CLOSE)
		client_close(c);
	client_begin(lg, c, now);
}

static void
client_read(struct loadgen *lg, struct client *c, uint64_t now)
{
	for (;;) {
		ssize_t n = read(c->fd, lg->buf, lg->o.size - c->got);

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0 || memcmp(lg->buf, lg->msg + c->got, (size_t)n) != 0) {
			client_fail(lg, c);
			return;
		}
		c->got += (size_t)n;
		if (c->got == lg->o.size) {
			client_done(lg, c, now);
			return;
		}
	}
}

static void
client_event(struct loadgen *lg, struct client *c, uint32_t events, uint64_t now)
{
	switch (c->state) {
	case C_CONNECTING:
		client_connected(lg, c, now);
		break;
	case C_SENDING:
		client_send(lg, c);
		break;
	case C_READING:
		if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
			client_read(lg, c, now);
		break;
	case C_IDLE:
		break;
	}
}

/* ---- the run ----------------------------------------------------------- */

/* Slots without a connection (at the start, after a failure) connect again. */
static void
loadgen_idle(struct loadgen *lg, uint64_t now)
{
	for (int i = 0; i < lg->o.conns; i++)
		if (lg->c[i].state == C_IDLE && now >= lg->c[i].retry)
			client_begin(lg, &lg->c[i], now);
}

static void
loadgen_loop(struct loadgen *lg)
{
	struct epoll_event ev[256];
	uint64_t now = now_ns();

	while (now < lg->deadline) {
		int ms = (int)((lg->deadline - now) / 1000000) + 1;
		int n = epoll_wait(lg->ep, ev, 256, ms > 100 ? 100 : ms);

		if (n == -1 && errno != EINTR)
			die("epoll_wait");
		now = now_ns();
		for (int i = 0; i < n && now < lg->deadline; i++)
			client_event(lg, &lg->c[ev[i].data.u32], ev[i].events, now);
		loadgen_idle(lg, now);
	}
}

static void
loadgen_finish(struct loadgen *lg)
{
	uint64_t now = now_ns();

	for (int i = 0; i < lg->o.conns; i++) {
		struct client *c = &lg->c[i];

		if (c->state != C_IDLE && now - c->t0 >= STALL_NS)
			lg->st.timeouts++;
		client_close(c);
	}
}

static void
loadgen_init(struct loadgen *lg)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		die("getrlimit");
	if (rl.rlim_cur < (rlim_t)lg->o.conns + 16 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			die("setrlimit");
	}
	lg->ep = epoll_create1(EPOLL_CLOEXEC);
	if (lg->ep == -1)
		die("epoll_create1");
	lg->c = calloc((size_t)lg->o.conns, sizeof(*lg->c));
	lg->msg = malloc(lg->o.size);
	lg->buf = malloc(lg->o.size);
	if (lg->c == NULL || lg->msg == NULL || lg->buf == NULL)
		die("malloc");
	for (size_t i = 0; i < lg->o.size; i++)
		lg->msg[i] = (char)('a' + i % 26);
	lg->msg[lg->o.size - 1] = '\n';		/* a line, for line framing too */
	for (int i = 0; i < lg->o.conns; i++)
		lg->c[i] = (struct client){ .fd = -1, .state = C_IDLE };
}

static void
loadgen_report(const struct loadgen *lg, double secs)
{
	const struct options *o = &lg->o;
	const struct stats *st = &lg->st;
	const char *mode = o->mode == MODE_PERSIST ? "persist" : "close";
	double rps = secs > 0 ? (double)st->requests / secs : 0;

	if (o->machine) {
		printf("mode=%s conns=%d seconds=%.2f size=%zu requests=%" PRIu64
		    " rps=%.0f p50_us=%" PRIu64 " p99_us=%" PRIu64 " max_us=%" PRIu64
		    " errors=%" PRIu64 " timeouts=%" PRIu64 "\n", mode, o->conns, secs,
		    o->size, st->requests, rps, hist_percentile(st, 0.50),
		    hist_percentile(st, 0.99), st->max_us, st->errors, st->timeouts);
		return;
	}
	printf("%s port %d, %s, %d connections, %.2f s, %zu-byte messages\n"
	    "  requests %" PRIu64 ", %.0f req/s\n"
	    "  latency p50 %" PRIu64 " us, p99 %" PRIu64 " us, max %" PRIu64 " us\n"
	    "  errors %" PRIu64 ", timeouts %" PRIu64 "\n",
	    o->host, o->port, mode, o->conns, secs, o->size, st->requests, rps,
	    hist_percentile(st, 0.50), hist_percentile(st, 0.99), st->max_us,
	    st->errors, st->timeouts);
}

int
main(int argc, char **argv)
{
	static struct loadgen lg;

	options_parse(argc, argv, &lg.o);
	loadgen_init(&lg);
	lg.start = now_ns();
	lg.deadline = lg.start + (uint64_t)lg.o.seconds * 1000000000ULL;
	loadgen_idle(&lg, lg.start);
	loadgen_loop(&lg);
	loadgen_finish(&lg);
	loadgen_report(&lg, (double)(lg.deadline - lg.start) / 1e9);
	if (fflush(stdout) == EOF)
		die("stdout");
	return 0;
}
