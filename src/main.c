/*
 * main.c - the sockd command line: parse options, load the configuration,
 * then either report on it (-t) or serve it in the foreground.
 *
 * sockd never daemonizes: systemd (or a terminal) is its parent. Exit
 * statuses follow sysexits: 64 usage, 71 operating system, 78 configuration.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "listen.h"
#include "log.h"
#include "notify.h"
#include "priv.h"
#include "sig.h"
#include "util.h"
#include "worker.h"

#ifndef SOCKD_CONFIG_PATH
#define SOCKD_CONFIG_PATH "/etc/sockd.conf"
#endif

struct options {
	const char *config_path;
	bool test;
	int log_level;			/* -1: from the configuration */
};

static noreturn void
usage(int status)
{
	FILE *out = status == 0 ? stdout : stderr;

	fprintf(out,
	    "usage: sockd [-t] [-c FILE] [-l LEVEL]\n"
	    "       sockd -V | -h\n"
	    "  -c, --config FILE     configuration file (default %s)\n"
	    "  -t, --test            check the configuration, print a summary, exit\n"
	    "  -l, --log-level LEVEL error, warning, notice, info or debug\n"
	    "  -V, --version         print the version and exit\n"
	    "  -h, --help            print this help and exit\n",
	    SOCKD_CONFIG_PATH);
	exit(status);
}

static void
parse_options(int argc, char **argv, struct options *opt)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "test", no_argument, NULL, 't' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	*opt = (struct options){ .config_path = SOCKD_CONFIG_PATH, .log_level = -1 };
	while ((ch = getopt_long(argc, argv, "c:tl:Vh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			opt->config_path = optarg;
			break;
		case 't':
			opt->test = true;
			break;
		case 'l':
			opt->log_level = log_level_parse(optarg);
			if (opt->log_level == -1) {
				fprintf(stderr, "sockd: unknown log level \"%s\"\n", optarg);
				usage(EXIT_USAGE);
			}
			break;
		case 'V':
			printf("sockd %s\n", PACKAGE_VERSION);
			exit(0);
		case 'h':
			usage(0);
		default:
			usage(EXIT_USAGE);
		}
	}
	if (optind != argc) {
		fprintf(stderr, "sockd: unexpected argument \"%s\"\n", argv[optind]);
		usage(EXIT_USAGE);
	}
}

static struct sockd_config *
load_config(const struct options *opt)
{
	struct config_errors errs = { 0 };
	struct sockd_config *cfg = config_load_file(opt->config_path, &errs);

	for (size_t i = 0; i < errs.count; i++) {
		if (opt->test)
			fprintf(stderr, "%s\n", errs.msg[i]);
		else
			log_err("%s", errs.msg[i]);
	}
	if (errs.dropped > 0)
		log_err("%s: %zu more errors not shown", opt->config_path, errs.dropped);
	config_errors_free(&errs);
	return cfg;
}

static int
test_config(const struct sockd_config *cfg)
{
	char line[1024];

	for (size_t i = 0; i < cfg->n_services; i++) {
		config_describe_service(&cfg->services[i], line, sizeof(line));
		printf("%s\n", line);
	}
	printf("%s: configuration OK\n", cfg->path);
	return 0;
}

static size_t
open_listeners(const struct sockd_config *cfg, struct worker_listener **ls_r)
{
	struct worker_listener *ls = NULL;
	char text[ADDR_TEXT_MAX];
	struct sockd_addr bound;
	size_t n = 0;

	for (size_t i = 0; i < cfg->n_services; i++) {
		const struct config_service *svc = &cfg->services[i];

		for (size_t j = 0; j < svc->n_listen; j++) {
			ls = xreallocarray(ls, n + 1, sizeof(*ls));
			ls[n].svc = svc;
			if (listen_open(&svc->listen[j].addr, svc->backlog, &ls[n].fd) == -1)
				fatal(EXIT_OSERR, "%s: cannot listen on %s", svc->name, svc->listen[j].text);
			if (listen_local_addr(ls[n].fd, &bound) == -1)
				fatal(EXIT_OSERR, "getsockname: %s", strerror(errno));
			addr_format(&bound, text, sizeof(text));
			log_info("%s: listening on %s", svc->name, text);
			n++;
		}
	}
	*ls_r = ls;
	return n;
}

static void
close_listeners(struct worker_listener *ls, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (close(ls[i].fd) == -1 && errno != EINTR)
			log_warn("close: %s", strerror(errno));
	free(ls);
}

static int
serve(const struct sockd_config *cfg)
{
	struct worker_listener *ls;
	struct priv_ids ids;
	int sig_fd;
	size_t n;

	if (priv_resolve(cfg->user, cfg->group, &ids) == -1)
		return EXIT_CONFIG;
	sig_fd = sig_open();
	n = open_listeners(cfg, &ls);
	if (priv_drop(&ids) == -1)
		fatal(EXIT_OSERR, "cannot drop privileges");
	priv_ids_free(&ids);
	notify_ready();
	notify_status("serving %zu service%s in one process", cfg->n_services,
	    cfg->n_services == 1 ? "" : "s");
	log_notice("sockd %s started: %zu service%s, %zu listener%s", PACKAGE_VERSION,
	    cfg->n_services, cfg->n_services == 1 ? "" : "s", n, n == 1 ? "" : "s");
	worker_run(ls, n, sig_fd);
	notify_stopping();
	close_listeners(ls, n);
	close(sig_fd);
	return 0;
}

int
main(int argc, char **argv)
{
	struct sockd_config *cfg;
	struct options opt;
	int status;

	log_init("sockd");
	parse_options(argc, argv, &opt);
	if (opt.log_level != -1)
		log_set_level(opt.log_level);
	cfg = load_config(&opt);
	if (cfg == NULL)
		return EXIT_CONFIG;
	if (opt.log_level == -1)
		log_set_level(cfg->log_level);
	status = opt.test ? test_config(cfg) : serve(cfg);
	config_free(cfg);
	return status;
}
