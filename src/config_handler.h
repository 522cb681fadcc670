/*
 * config_handler.h - each handler's own settings (config_handler.c): the
 * http, exec and module groups, parsed for config.c.
 */
#ifndef SOCKD_CONFIG_HANDLER_H
#define SOCKD_CONFIG_HANDLER_H

#include <libconfig.h>

#include "config.h"
#include "config_util.h"

void config_parse_handler(struct config_ctx *ctx, const config_setting_t *group,
    struct config_service *svc);
void config_handler_free(struct config_service *svc);

#endif
