/*
 * dgram.c - a test module for datagram services (ABI 1.1): it answers
 * "PEER datagram LEN" (or "stream" on a stream connection), "big N" with
 * N bytes of 'x', to show that a module's reply is bounded by
 * limits.max_message rather than by the request's size, and "sleep N"
 * with "slept" after logging "sleeping" and sleeping N ms: a datagram in
 * hand while the test stops or reloads sockd, or one that hangs.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include <sockd/handler.h>

#if SOCKD_HANDLER_ABI_MINOR < 1
#error "needs sockd_conn_is_datagram (ABI 1.1)"
#endif

static char big[1 << 20];

static void
dgram_message(struct sockd_conn *c, const void *data, size_t len)
{
	char peer[128], line[256], req[32];
	int n;

	if (len > 4 && len < sizeof(req) && memcmp(data, "big ", 4) == 0) {
		unsigned long want;

		memcpy(req, data, len);
		req[len] = '\0';
		want = strtoul(req + 4, NULL, 10);
		if (want > sizeof(big))
			want = sizeof(big);
		memset(big, 'x', want);
		sockd_send(c, big, want);
		return;
	}
	if (len > 6 && len < sizeof(req) && memcmp(data, "sleep ", 6) == 0) {
		struct timespec ts;
		unsigned long ms;

		memcpy(req, data, len);
		req[len] = '\0';
		ms = strtoul(req + 6, NULL, 10);
		ts.tv_sec = (time_t)(ms / 1000);
		ts.tv_nsec = (long)(ms % 1000) * 1000000L;
		sockd_log(LOG_NOTICE, "sleeping %lu ms", ms);
		while (nanosleep(&ts, &ts) != 0)
			;
		sockd_reply(c, "slept", 5);
		return;
	}
	if (sockd_peer(c, peer, sizeof(peer)) < 0)
		strcpy(peer, "unknown");
	n = snprintf(line, sizeof(line), "%s %s %zu", peer,
	    sockd_conn_is_datagram(c) ? "datagram" : "stream", len);
	if (n > 0)
		sockd_reply(c, line, (size_t)n);
}

SOCKD_EXPORT const struct sockd_handler sockd_handler_v1 = {
	.abi = SOCKD_HANDLER_ABI,
	.name = "dgram",
	.message = dgram_message,
};
