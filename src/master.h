/*
 * master.h - the master process.
 */
#ifndef SOCKD_MASTER_H
#define SOCKD_MASTER_H

#include "config.h"
#include "upgrade.h"

#include <stdbool.h>

/* UP: the handover of the image before, after a binary upgrade; or NULL. */
int master_run(struct sockd_config *cfg, const char *path, bool log_level_fixed,
    const struct upgrade_state *up);

#endif
