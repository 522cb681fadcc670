/*
 * master.h - the master process.
 */
#ifndef SOCKD_MASTER_H
#define SOCKD_MASTER_H

#include "config.h"

#include <stdbool.h>

int master_run(struct sockd_config *cfg, const char *path, bool log_level_fixed);

#endif
