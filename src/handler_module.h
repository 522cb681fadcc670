/*
 * handler_module.h - loading protocol modules (shared objects written
 * against the public include/sockd/handler.h) for the "module" handler.
 */
#ifndef SOCKD_HANDLER_MODULE_H
#define SOCKD_HANDLER_MODULE_H

#include "config.h"
#include "handler.h"

extern const struct handler handler_module;

/*
 * Load the module of every service of CFG that has one, checking its ABI,
 * so that workers forked later share it. Returns 0, or -1 with one message
 * per module that failed added to ERRS ("FILE:LINE: services.[N].module.path:
 * cannot load ..."). The handles are closed by config_free(CFG).
 */
int handler_module_load(struct sockd_config *cfg, struct config_errors *errs);

#endif
