/*
 * status_client.c - `sockd status`: ask the running daemon over its control
 * socket (control.h has the protocol) and print what it says.
 *
 * The daemon formats the table and the JSON itself, so this side stays a
 * small pipe: find the socket, send one line, copy the reply out, and turn
 * every way it can fail into a sentence and an exit status:
 *   0 printed; 1 the daemon refused the request (no such service);
 *   64 usage; 69 not running; 77 not allowed; 71 anything else.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "build.h"		/* SOCKD_CONFIG_PATH, SOCKD_CONTROL_PATH */
#include "config.h"
#include "log.h"
#include "status_client.h"
#include "strbuf.h"

#define EXIT_UNAVAILABLE 69
#define EXIT_NOPERM 77
#define CLIENT_TIMEOUT_S 10
#define CLIENT_REPLY_MAX (64u << 20)

struct client_opts {
	const char *config_path;
	bool config_given;
	const char *socket;
	bool workers;
	bool json;
	const char *service;
};

static void
client_usage(FILE *out)
{
	fprintf(out,
	    "usage: sockd status [-w] [--json] [-c FILE | -s SOCKET] [SERVICE]\n"
	    "  -w, --workers         a row per worker too\n"
	    "  -j, --json            one JSON document (schema in sockd(8))\n"
	    "  -c, --config FILE     find the control socket from FILE (default %s)\n"
	    "  -s, --socket SOCKET   the control socket (default: control.path, else %s)\n",
	    SOCKD_CONFIG_PATH, SOCKD_CONTROL_PATH);
}

static int
client_options(int argc, char **argv, struct client_opts *o)
{
	static const struct option longopts[] = {
		{ "workers", no_argument, NULL, 'w' },
		{ "json", no_argument, NULL, 'j' },
		{ "config", required_argument, NULL, 'c' },
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	*o = (struct client_opts){ .config_path = SOCKD_CONFIG_PATH };
	optind = 1;
	while ((ch = getopt_long(argc, argv, "wjc:s:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'w':
			o->workers = true;
			break;
		case 'j':
			o->json = true;
			break;
		case 'c':
			o->config_path = optarg;
			o->config_given = true;
			break;
		case 's':
			o->socket = optarg;
			break;
		case 'h':
			client_usage(stdout);
			exit(0);
		default:
			client_usage(stderr);
			return -1;
		}
	}
	if (optind < argc)
		o->service = argv[optind++];
	if (optind < argc) {
		fprintf(stderr, "sockd status: unexpected argument \"%s\"\n", argv[optind]);
		return -1;
	}
	/* A service name never has spaces or control characters (sockd.conf(5)):
	 * refusing them here keeps the request one line of words. */
	if (o->service != NULL && (o->service[0] == '\0' || o->service[0] == '-' ||
	    strlen(o->service) > 128 || o->service[strcspn(o->service, " \t\r\n")] != '\0')) {
		fprintf(stderr, "sockd status: \"%s\" is not a service name\n", o->service);
		return -1;
	}
	return 0;
}

/* The socket: -s, else control.path of the configuration, else the default. */
static char *
client_socket(const struct client_opts *o)
{
	struct config_errors errs = { 0 };
	struct sockd_config *cfg;
	char *path = NULL;

	if (o->socket != NULL)
		return strdup(o->socket);
	cfg = config_load_file(o->config_path, &errs);
	if (cfg == NULL && o->config_given)
		fprintf(stderr, "sockd status: %s: %s; trying %s\n", o->config_path,
		    errs.count > 0 ? errs.msg[0] : "cannot be read", SOCKD_CONTROL_PATH);
	config_errors_free(&errs);
	if (cfg != NULL && !cfg->control) {
		fprintf(stderr, "sockd status: %s: control.enabled is false: the daemon has no "
		    "control socket\n", o->config_path);
		config_free(cfg);
		return NULL;
	}
	if (cfg != NULL && cfg->control_path != NULL)
		path = strdup(cfg->control_path);
	config_free(cfg);
	return path != NULL ? path : strdup(SOCKD_CONTROL_PATH);
}

static int
client_connect(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = CLIENT_TIMEOUT_S };
	int fd, e;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "sockd status: %s: too long for a Unix socket path\n", path);
		return -EXIT_USAGE;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		fprintf(stderr, "sockd status: socket: %s\n", strerror(errno));
		return -EXIT_OSERR;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1) {
		fprintf(stderr, "sockd status: setsockopt: %s\n", strerror(errno));
		close(fd);
		return -EXIT_OSERR;
	}
	while (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		if (errno == EINTR)
			continue;
		e = errno;
		close(fd);
		if (e == ENOENT || e == ECONNREFUSED || e == ENOTDIR) {
			fprintf(stderr, "sockd status: sockd is not running: %s %s\n",
			    e == ECONNREFUSED ? "nobody listens on" : "no control socket at", path);
			return -EXIT_UNAVAILABLE;
		}
		if (e == EACCES || e == EPERM) {
			fprintf(stderr, "sockd status: %s: permission denied: run it as root, as "
			    "sockd's user, or as a member of control.group\n", path);
			return -EXIT_NOPERM;
		}
		fprintf(stderr, "sockd status: connect %s: %s\n", path, strerror(e));
		return -EXIT_OSERR;
	}
	return fd;
}

static int
client_send(int fd, const char *line, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, line, len, MSG_NOSIGNAL);

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		line += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
client_read(int fd, struct strbuf *b)
{
	char buf[65536];

	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		if (n == 0)
			return 0;
		strbuf_add(b, buf, (size_t)n);
		if (b->overflow) {
			errno = EFBIG;
			return -1;
		}
	}
}

/* Print the reply in B: its body on stdout, or the daemon's error. */
static int
client_print(const struct strbuf *b)
{
	const char *nl = b->p != NULL ? memchr(b->p, '\n', b->len) : NULL;
	size_t head = nl != NULL ? (size_t)(nl - b->p) : 0;

	if (nl == NULL) {
		fprintf(stderr, "sockd status: the daemon closed the connection without an answer\n");
		return EXIT_OSERR;
	}
	if (head > 7 && strncmp(b->p, "error: ", 7) == 0) {
		fprintf(stderr, "sockd status: %.*s\n", (int)(head - 7), b->p + 7);
		return 1;
	}
	if (head != 2 || strncmp(b->p, "ok", 2) != 0) {
		fprintf(stderr, "sockd status: unexpected answer \"%.*s\"\n",
		    (int)(head < 80 ? head : 80), b->p);
		return EXIT_OSERR;
	}
	if (fwrite(nl + 1, 1, b->len - head - 1, stdout) != b->len - head - 1 ||
	    fflush(stdout) == EOF) {
		fprintf(stderr, "sockd status: standard output: %s\n", strerror(errno));
		return EXIT_OSERR;
	}
	return 0;
}

int
status_client_main(int argc, char **argv)
{
	struct client_opts o;
	struct strbuf reply = { .max = CLIENT_REPLY_MAX };
	char line[256], *path;
	int fd, n, r;

	if (client_options(argc, argv, &o) == -1)
		return EXIT_USAGE;
	if ((path = client_socket(&o)) == NULL)
		return EXIT_UNAVAILABLE;
	if ((fd = client_connect(path)) < 0) {
		free(path);
		return -fd;
	}
	n = snprintf(line, sizeof(line), "status%s%s%s%s\n", o.json ? " --json" : "",
	    o.workers ? " -w" : "", o.service != NULL ? " " : "",
	    o.service != NULL ? o.service : "");
	if (client_send(fd, line, (size_t)n) == -1 || client_read(fd, &reply) == -1) {
		fprintf(stderr, "sockd status: %s: %s\n", path,
		    errno == EAGAIN ? "no answer within 10 s" : strerror(errno));
		r = EXIT_OSERR;
	} else
		r = client_print(&reply);
	close(fd);
	strbuf_free(&reply);
	free(path);
	return r;
}
