/*
 * config_access.h - who may connect to a service (config_access.c).
 */
#ifndef SOCKD_CONFIG_ACCESS_H
#define SOCKD_CONFIG_ACCESS_H

#include <libconfig.h>

#include "config.h"
#include "config_util.h"

void config_parse_access(struct config_ctx *ctx, const config_setting_t *group,
    struct config_service *svc);
void config_access_free(struct config_service *svc);

#endif
