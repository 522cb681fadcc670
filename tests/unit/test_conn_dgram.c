/*
 * test_conn_dgram.c - the datagram engine (conn_dgram.c) and the receive
 * path (dgram.c), without a daemon: each built-in handler's answer to a
 * datagram (echo: the datagram; discard: nothing; ack: its reply, dropped
 * and counted when longer than the request), the connection reused from
 * one datagram to the next, a file refused, and a datagram of exactly
 * limits.max_message served while one byte more, or far more, is dropped
 * and counted; a reply to a Unix client with no address counted too.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cidr.h"
#include "config.h"
#include "conn.h"
#include "dgram.h"
#include "handler.h"
#include "scoreboard.h"
#include "worker_args.h"

#define MAX 64				/* limits.max_message in these tests */

static struct config_service svc;
static struct scoreboard_slot slot;
static const struct sockd_addr nobody;	/* len 0: no address */

static void
setup_svc(enum config_handler h)
{
	svc = (struct config_service){ .name = "t", .handler = h, .max_message = MAX,
		.reply = "OK", .datagram = true };
	memset(&slot, 0, sizeof(slot));
}

/* Serve DATA on a fresh connection of handler H: the reply's length. */
static ssize_t
serve(const struct handler *h, const char *data, size_t len, const char **reply_r)
{
	struct conn *c = conn_dgram_new(&svc, h, &slot, NULL);
	ssize_t n = conn_datagram(c, -1, &nobody, data, len, 1, reply_r);
	static char copy[MAX];

	if (n > 0)
		memcpy(copy, *reply_r, (size_t)n);
	*reply_r = copy;
	conn_dgram_free(c);
	return n;
}

static void
test_echo(void **state)
{
	const char *r;

	(void)state;
	setup_svc(HANDLER_ECHO);
	assert_int_equal(serve(&handler_echo, "hello", 5, &r), 5);
	assert_memory_equal(r, "hello", 5);
	assert_int_equal(serve(&handler_echo, "", 0, &r), 0);	/* an empty one, echoed */
	/* The counts are the batch's (dgram.c, test_whole_path): none here. */
	assert_int_equal(atomic_load(&slot.accepted), 0);
	assert_int_equal(atomic_load(&slot.messages), 0);
	assert_int_equal(atomic_load(&slot.current), 0);
}

static void
test_discard(void **state)
{
	const char *r;

	(void)state;
	setup_svc(HANDLER_DISCARD);
	assert_int_equal(serve(&handler_discard, "hello", 5, &r), -1);
	assert_int_equal(atomic_load(&slot.refused[SNAPSHOT_REFUSED_REPLY]), 0);
}

/* ack's "OK" is as long as a 2-byte request; longer than a 1-byte or an
 * empty one, and then it is dropped: no amplification. */
static void
test_ack(void **state)
{
	const char *r;

	(void)state;
	setup_svc(HANDLER_ACK);
	assert_int_equal(serve(&handler_ack, "hi", 2, &r), 2);
	assert_memory_equal(r, "OK", 2);
	assert_int_equal(serve(&handler_ack, "a longer request", 16, &r), 2);
	assert_int_equal(atomic_load(&slot.refused[SNAPSHOT_REFUSED_REPLY]), 0);
	assert_int_equal(serve(&handler_ack, "h", 1, &r), -1);
	assert_int_equal(serve(&handler_ack, "", 0, &r), -1);
	assert_int_equal(atomic_load(&slot.refused[SNAPSHOT_REFUSED_REPLY]), 2);
}

/* One connection, reused: nothing of one datagram's reply stays. */
static void
test_reuse(void **state)
{
	struct conn *c;
	const char *r;

	(void)state;
	setup_svc(HANDLER_ECHO);
	c = conn_dgram_new(&svc, &handler_echo, &slot, NULL);
	assert_int_equal(conn_datagram(c, -1, &nobody, "first one", 9, 1, &r), 9);
	assert_memory_equal(r, "first one", 9);
	assert_int_equal(conn_datagram(c, -1, &nobody, "2nd", 3, 1, &r), 3);
	assert_memory_equal(r, "2nd", 3);
	assert_true(conn_is_datagram(c));
	assert_false(conn_pending(c));
	conn_dgram_free(c);
}

static int file_result, file_errno;

static void
file_message(struct conn *c, const char *data, size_t len)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	(void)data;
	(void)len;
	file_result = conn_send_file(c, "h", 1, fd, 0, 1);
	file_errno = errno;
}

static void
test_no_file(void **state)
{
	const struct handler h = { .name = "file", .message = file_message };
	const char *r;

	(void)state;
	setup_svc(HANDLER_ECHO);
	assert_int_equal(serve(&h, "x", 1, &r), -1);
	assert_int_equal(file_result, -1);
	assert_int_equal(file_errno, EOPNOTSUPP);
}

/* A UDP socket on loopback and a client of it. */
static void
udp_pair(int *srv_r, int *cli_r, struct sockaddr_in *at)
{
	socklen_t len = sizeof(*at);

	*at = (struct sockaddr_in){ .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	*srv_r = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	*cli_r = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(*srv_r >= 0 && *cli_r >= 0);
	assert_int_equal(bind(*srv_r, (struct sockaddr *)at, sizeof(*at)), 0);
	assert_int_equal(getsockname(*srv_r, (struct sockaddr *)at, &len), 0);
}

static bool
readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms) == 1;
}

static ssize_t
recv_within(int fd, char *buf, size_t size, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	if (poll(&p, 1, ms) != 1)
		return -1;
	return recv(fd, buf, size, MSG_DONTWAIT);
}

/* The whole path over UDP: max_message bytes served; one more, or far
 * more (MSG_TRUNC), dropped and counted; the batch takes them all. */
static void
test_receive_sizes(void **state)
{
	struct worker_args a = { .svc = &svc, .handler = &handler_echo, .slot = &slot };
	static char big[4 * MAX], buf[4 * MAX];
	struct dgram_batch b;
	struct sockaddr_in at;
	int srv, cli;

	(void)state;
	setup_svc(HANDLER_ECHO);
	memset(big, 'm', sizeof(big));
	udp_pair(&srv, &cli, &at);
	dgram_batch_init(&b, &a, NULL, 0);
	assert_int_equal(dgram_run(&b, srv, 0, false), 0);	/* nothing waits */
	assert_int_equal(sendto(cli, big, MAX, 0, (struct sockaddr *)&at, sizeof(at)), MAX);
	assert_int_equal(sendto(cli, big, MAX + 1, 0, (struct sockaddr *)&at, sizeof(at)), MAX + 1);
	assert_int_equal(sendto(cli, big, sizeof(big), 0, (struct sockaddr *)&at, sizeof(at)),
	    (ssize_t)sizeof(big));
	assert_int_equal(sendto(cli, "end", 3, 0, (struct sockaddr *)&at, sizeof(at)), 3);
	assert_int_equal(dgram_receive(&b, srv, 0, false), 4);
	for (unsigned i = 0; i < b.n; i++)
		dgram_serve(&b, i);
	dgram_flush(&b);
	assert_int_equal(atomic_load(&slot.refused[SNAPSHOT_REFUSED_TRUNCATED]), 2);
	assert_int_equal(recv_within(cli, buf, sizeof(buf), 5000), MAX);
	assert_int_equal(recv_within(cli, buf, sizeof(buf), 5000), 3);
	assert_memory_equal(buf, "end", 3);
	assert_int_equal(recv_within(cli, buf, sizeof(buf), 100), -1);	/* nothing else */
	assert_int_equal(atomic_load(&slot.bytes_out), MAX + 3);
	/* Counted once for the batch: the two served, as connections and messages. */
	assert_int_equal(atomic_load(&slot.served), 2);
	assert_int_equal(atomic_load(&slot.accepted), 2);
	assert_int_equal(atomic_load(&slot.messages), 2);
	assert_int_equal(atomic_load(&slot.bytes_in), MAX + 3);
	assert_int_equal(atomic_load(&slot.current), 0);
	{
		uint64_t in_hist = 0;

		for (int k = 0; k < SNAPSHOT_BUCKETS; k++)
			in_hist += atomic_load(&slot.duration.bucket[k]);
		assert_int_equal(in_hist, 2);
	}
	dgram_batch_fini(&b);
	close(srv);
	close(cli);
}

/* A Unix datagram client that did not bind: served, its reply dropped
 * and counted (it has nowhere to go). */
static void
test_unix_no_address(void **state)
{
	struct worker_args a = { .svc = &svc, .handler = &handler_echo, .slot = &slot };
	struct dgram_batch b;
	int sv[2];

	(void)state;
	setup_svc(HANDLER_ECHO);
	assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(send(sv[1], "hi", 2, 0), 2);
	dgram_batch_init(&b, &a, NULL, 1);
	assert_int_equal(dgram_run(&b, sv[0], 0, false), 1);
	assert_int_equal(atomic_load(&slot.refused[SNAPSHOT_REFUSED_NO_PEER]), 1);
	assert_int_equal(atomic_load(&slot.bytes_out), 0);
	dgram_batch_fini(&b);
	close(sv[0]);
	close(sv[1]);
}

/* The address rules apply per datagram. */
static void
test_rules(void **state)
{
	struct worker_args a = { .svc = &svc, .handler = &handler_echo, .slot = &slot };
	struct cidr deny;
	const char *why;
	struct dgram_batch b;
	struct sockaddr_in at;
	int srv, cli;

	(void)state;
	setup_svc(HANDLER_ECHO);
	assert_int_equal(cidr_parse("127.0.0.0/8", &deny, &why), 0);
	svc.deny = &deny;
	svc.n_deny = 1;
	udp_pair(&srv, &cli, &at);
	dgram_batch_init(&b, &a, NULL, 0);
	assert_int_equal(sendto(cli, "x", 1, 0, (struct sockaddr *)&at, sizeof(at)), 1);
	assert_true(readable(srv, 5000));
	assert_int_equal(dgram_run(&b, srv, 0, false), 0);
	assert_int_equal(atomic_load(&slot.refused[SNAPSHOT_REFUSED_RULE]), 1);
	assert_int_equal(atomic_load(&slot.served), 0);
	dgram_batch_fini(&b);
	close(srv);
	close(cli);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_echo),
		cmocka_unit_test(test_discard),
		cmocka_unit_test(test_ack),
		cmocka_unit_test(test_reuse),
		cmocka_unit_test(test_no_file),
		cmocka_unit_test(test_receive_sizes),
		cmocka_unit_test(test_unix_no_address),
		cmocka_unit_test(test_rules),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
