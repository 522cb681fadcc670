/*
 * main.c - the sockd command line: parse options, load the configuration,
 * then either report on it (-t), print it (-T) or serve it in the foreground.
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

#include "build.h"		/* SOCKD_CONFIG_PATH */
#include "config.h"
#include "config_print.h"
#include "load.h"
#include "log.h"
#include "master.h"
#include "status_client.h"
#include "upgrade.h"
#include "version.h"

struct options {
	const char *config_path;
	bool test;
	bool dump;			/* -T: test, then print the configuration */
	int log_level;			/* -1: from the configuration */
};

static noreturn void
usage(int status)
{
	FILE *out = status == 0 ? stdout : stderr;

	fprintf(out,
	    "usage: sockd [-t | -T] [-c FILE] [-l LEVEL]\n"
	    "       sockd status [-w] [--json] [-c FILE | -s SOCKET] [SERVICE]\n"
	    "       sockd -V | -h\n"
	    "  -c, --config FILE     configuration file (default %s)\n"
	    "  -t, --test            check the configuration, print a summary, exit\n"
	    "  -T, --dump-config     check it, print it with every default filled in, exit\n"
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
		{ "dump-config", no_argument, NULL, 'T' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	*opt = (struct options){ .config_path = SOCKD_CONFIG_PATH, .log_level = -1 };
	while ((ch = getopt_long(argc, argv, "c:tTl:Vh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			opt->config_path = optarg;
			break;
		case 't':
			opt->test = true;
			break;
		case 'T':
			opt->test = opt->dump = true;
			break;
		case 'l':
			opt->log_level = log_level_parse(optarg);
			if (opt->log_level == -1) {
				fprintf(stderr, "sockd: unknown log level \"%s\"\n", optarg);
				usage(EXIT_USAGE);
			}
			break;
		case 'V':
			version_print(stdout);
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

/* The configuration on standard output, nothing else there: sockd -T > x.conf. */
static int
dump_config(const struct sockd_config *cfg)
{
	if (config_print(stdout, cfg) == -1)
		return EXIT_CONFIG;
	if (fflush(stdout) == EOF || ferror(stdout)) {
		fprintf(stderr, "sockd: standard output: %s\n", strerror(errno));
		return EXIT_OSERR;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct sockd_config *cfg;
	struct upgrade_state up = { 0 };
	struct options opt;
	int status, handed;

	log_init(log_ident_from_env());
	if (argc > 1 && strcmp(argv[1], "status") == 0)
		return status_client_main(argc - 1, argv + 1);
	parse_options(argc, argv, &opt);
	if (opt.log_level != -1)
		log_set_level(opt.log_level);
	/* A binary upgrade: the image before handed over (upgrade.h). */
	handed = opt.test ? 0 : upgrade_take(&up);
	if (handed == -1) {
		upgrade_abandon(&up);
		upgrade_free(&up);
		return EXIT_OSERR;
	}
	upgrade_remember(argc, argv);
	cfg = load_config(opt.config_path, opt.test, NULL, 0);
	if (cfg == NULL) {
		if (handed == 1)
			upgrade_abandon(&up);
		upgrade_free(&up);
		return EXIT_CONFIG;
	}
	if (opt.log_level == -1)
		log_set_level(cfg->log_level);
	if (opt.test) {
		status = opt.dump ? dump_config(cfg) : test_config(cfg);
		config_free(cfg);
		return status;
	}
	status = master_run(cfg, opt.config_path, opt.log_level != -1, handed == 1 ? &up : NULL);
	upgrade_free(&up);
	return status;
}
