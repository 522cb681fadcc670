/*
 * hello.c - an example sockd protocol module, complete and small.
 *
 * On connect it greets the client with the configured greeting and the
 * client's address; it answers each message with "hello, MESSAGE", and
 * "bye" with "goodbye" before closing. Each answer is one message framed
 * like the service's requests (a line with framing = "line").
 *
 *	services = ( { name = "hello"; listen = "127.0.0.1:7010";
 *	    framing = "line"; handler = "module";
 *	    module = { path = "/usr/local/lib/sockd/hello.so";
 *	        config = { greeting = "welcome"; }; }; } );
 *
 * Build: cc -shared -fPIC $(pkg-config --cflags sockd) -o hello.so hello.c
 */
#define _POSIX_C_SOURCE 200809L	/* strdup */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <sockd/handler.h>

/* Per worker: what init() read from the configuration. */
struct hello {
	char *greeting;
};

/* Per connection: counted for the log line at close. */
struct hello_conn {
	unsigned long messages;
};

/* The config view lasts only during init(): keep a copy of what we need. */
static int
hello_init(const struct sockd_config_view *cfg, void **state_r)
{
	const char *greeting = sockd_config_get(cfg, "greeting");
	struct hello *h = calloc(1, sizeof(*h));

	if (h == NULL || (h->greeting = strdup(greeting != NULL ? greeting : "hello")) == NULL) {
		free(h);
		sockd_log(LOG_ERR, "out of memory");
		return -1;
	}
	*state_r = h;
	sockd_log(LOG_DEBUG, "greeting \"%s\"", h->greeting);	/* prefixed by the service name */
	return 0;
}

static void
hello_fini(void *state)
{
	struct hello *h = state;

	sockd_log(LOG_DEBUG, "worker done");
	free(h->greeting);
	free(h);
}

/* Greet with "GREETING, ADDRESS"; -1 (the client is turned away) without memory. */
static int
hello_open(struct sockd_conn *c)
{
	const struct hello *h = sockd_state(c);
	struct hello_conn *hc = calloc(1, sizeof(*hc));
	char peer[128], line[512];
	int n;

	if (hc == NULL)
		return -1;
	sockd_set_data(c, hc);		/* freed in hello_close(), which always runs */
	if (sockd_peer(c, peer, sizeof(peer)) < 0)
		strcpy(peer, "stranger");
	n = snprintf(line, sizeof(line), "%s, %s", h->greeting, peer);
	if (n < 0 || (size_t)n >= sizeof(line))
		n = (int)strlen(line);	/* truncated: still a greeting */
	sockd_reply(c, line, (size_t)n);
	return 0;
}

static void
hello_message(struct sockd_conn *c, const void *data, size_t len)
{
	static const char prefix[] = "hello, ";
	struct hello_conn *hc = sockd_get_data(c);
	char *answer;

	hc->messages++;
	if (len == 3 && memcmp(data, "bye", 3) == 0) {
		sockd_reply(c, "goodbye", 7);
		sockd_close(c);		/* after "goodbye" has gone out */
		return;
	}
	if ((answer = malloc(sizeof(prefix) - 1 + len)) == NULL) {
		sockd_log(LOG_WARNING, "out of memory; closing the connection");
		sockd_close(c);
		return;
	}
	memcpy(answer, prefix, sizeof(prefix) - 1);
	memcpy(answer + sizeof(prefix) - 1, data, len);
	sockd_reply(c, answer, sizeof(prefix) - 1 + len);
	free(answer);
}

static void
hello_close(struct sockd_conn *c)
{
	struct hello_conn *hc = sockd_get_data(c);

	if (hc == NULL)
		return;
	sockd_log(LOG_DEBUG, "connection closed after %lu messages", hc->messages);
	free(hc);
}

/* The one symbol sockd looks for; the name carries the ABI major. */
SOCKD_EXPORT const struct sockd_handler sockd_handler_v1 = {
	.abi = SOCKD_HANDLER_ABI,
	.name = "hello",
	.init = hello_init,
	.fini = hello_fini,
	.open = hello_open,
	.message = hello_message,
	.close = hello_close,
};
