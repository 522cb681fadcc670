/*
 * load.c - the one configuration loader (load.h).
 */
#include <stdio.h>

#include "handler_module.h"
#include "load.h"
#include "log.h"

struct sockd_config *
load_config(const char *path, bool to_stderr, char *why, size_t size)
{
	struct config_errors errs = { 0 };
	struct sockd_config *cfg = config_load_file(path, &errs);

	if (cfg != NULL && handler_module_load(cfg, &errs) == -1) {
		config_free(cfg);	/* a module that cannot load is a config error */
		cfg = NULL;
	}
	for (size_t i = 0; i < errs.count; i++) {
		if (to_stderr)
			fprintf(stderr, "%s\n", errs.msg[i]);
		else
			log_err("%s", errs.msg[i]);
	}
	if (errs.dropped > 0)
		log_err("%s: %zu more errors not shown", path, errs.dropped);
	if (cfg == NULL && why != NULL)
		snprintf(why, size, "%s", errs.count > 0 ? errs.msg[0] : "configuration error");
	config_errors_free(&errs);
	return cfg;
}
