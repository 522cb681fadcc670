/*
 * config_util.h - what the parts of the configuration parser share
 * (config_util.c): the parsing context, errors, typed getters. Not for the
 * rest of sockd: they see struct sockd_config only.
 */
#ifndef SOCKD_CONFIG_UTIL_H
#define SOCKD_CONFIG_UTIL_H

#include <libconfig.h>
#include <stddef.h>

#include "config.h"
#include "config_file.h"

struct config_ctx {
	const char *file;		/* name for messages when libconfig has none */
	const struct config_file *source;	/* the text parsed: each line's file and line */
	struct config_errors *errs;
};

#define VALUE_TEXT_MAX 48
/* A path or address quoted in a message (config_print_quote()). */
#define QUOTED_MAX 320

void config_error(struct config_ctx *ctx, const config_setting_t *s, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
unsigned config_line(const struct config_ctx *ctx, const config_setting_t *s);
char *config_where(const struct config_ctx *ctx, const config_setting_t *s);
void config_value_text(const config_setting_t *s, char *buf, size_t size);
void config_check_members(struct config_ctx *ctx, const config_setting_t *group,
    const char *const *known, const char *const *reserved);
/* 1 and *out_r set: present and valid; 0: absent; -1: present, invalid. */
int config_get_int(struct config_ctx *ctx, const config_setting_t *group,
    const char *name, long long min, long long max, int *out_r);
int config_get_string(struct config_ctx *ctx, const config_setting_t *group,
    const char *name, const char **out_r);
int config_get_seconds(struct config_ctx *ctx, const config_setting_t *group,
    const char *name, int max_s, int *ms_r);
config_setting_t *config_get_group(struct config_ctx *ctx, const config_setting_t *parent,
    const char *name, const char *const *known, const char *const *reserved);

void config_errors_first(struct config_errors *errs, char *msg);
void config_errors_sort(struct config_errors *errs, size_t from);

#endif
