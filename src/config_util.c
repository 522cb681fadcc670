/*
 * config_util.c - what every part of the configuration parser shares:
 * collecting errors in file order as "FILE:LINE: PATH: MESSAGE", and the
 * typed getters that check a setting's type and range. config.c (the
 * general settings) and config_handler.c (each handler's own) both stand on
 * it, and neither on the other's internals.
 */
#include <libconfig.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "config_print.h"
#include "config_util.h"
#include "log.h"
#include "util.h"

#define PATH_TEXT_MAX 256

/* ---- errors ---------------------------------------------------------- */

#define ERROR_KEY(included, line) (((unsigned long long)(included) << 32) | (line))

/* Take MSG (allocated) into ERRS, sorted by KEY (config_errors_add: last). */
static void
errors_add_at(struct config_errors *errs, unsigned long long key, char *msg)
{
	if (errs->count >= CONFIG_ERRORS_MAX) {
		errs->dropped++;
		free(msg);
		return;
	}
	errs->msg = xreallocarray(errs->msg, errs->count + 1, sizeof(*errs->msg));
	errs->key = xreallocarray(errs->key, errs->count + 1, sizeof(*errs->key));
	errs->msg[errs->count] = msg;
	errs->key[errs->count++] = key;
}

/* An error with no line of its own (MSG taken over): first. */
void
config_errors_first(struct config_errors *errs, char *msg)
{
	errors_add_at(errs, ERROR_KEY(0, 0), msg);
}

/* An error found after parsing (a module that does not load): it comes
 * after every error of the file itself. MSG is taken over. */
void
config_errors_add(struct config_errors *errs, char *msg)
{
	errors_add_at(errs, ~0ULL, msg);
}

/* Stable insertion sort by key, from index FROM on (at most
 * CONFIG_ERRORS_MAX entries, so quadratic is fine). */
void
config_errors_sort(struct config_errors *errs, size_t from)
{
	for (size_t i = from + 1; i < errs->count; i++)
		for (size_t j = i; j > from && errs->key[j - 1] > errs->key[j]; j--) {
			unsigned long long k = errs->key[j];
			char *m = errs->msg[j];

			errs->key[j] = errs->key[j - 1];
			errs->msg[j] = errs->msg[j - 1];
			errs->key[j - 1] = k;
			errs->msg[j - 1] = m;
		}
}

void
config_errors_free(struct config_errors *errs)
{
	for (size_t i = 0; i < errs->count; i++)
		free(errs->msg[i]);
	free(errs->msg);
	free(errs->key);
	memset(errs, 0, sizeof(*errs));
}

/* libconfig path of a setting: "services.[1].listen.[0]". */
static void
config_path(const config_setting_t *s, char *buf, size_t size)
{
	const config_setting_t *parent = config_setting_parent(s);
	size_t n;

	buf[0] = '\0';
	if (parent == NULL)
		return;
	config_path(parent, buf, size);
	n = strlen(buf);
	if (config_setting_name(s) != NULL)
		snprintf(buf + n, size - n, "%s%s", n ? "." : "", config_setting_name(s));
	else
		snprintf(buf + n, size - n, "%s[%d]", n ? "." : "", config_setting_index(s));
}

/* S's line in its own file (a line of the main file or of an included one). */
unsigned
config_line(const struct config_ctx *ctx, const config_setting_t *s)
{
	unsigned line;

	config_file_where(ctx->source, config_setting_source_line(s), &line);
	return line;
}

/* "FILE:LINE: PATH" of setting S (an allocated string), file as the
 * operator wrote it: included files relative to the main file's directory. */
char *
config_where(const struct config_ctx *ctx, const config_setting_t *s)
{
	char path[PATH_TEXT_MAX];
	unsigned line;
	const char *file = config_file_where(ctx->source, config_setting_source_line(s), &line);

	config_path(s, path, sizeof(path));
	return xasprintf("%s:%u%s%s", file, line, path[0] ? ": " : "", path);
}

/* Errors sort by their line in the parsed text: the order they stand in,
 * an included file's at the place of its @include. */
void
config_error(struct config_ctx *ctx, const config_setting_t *s, const char *fmt, ...)
{
	char *what, *where;
	va_list ap;

	/* Past the limit only counted: a file can hold millions of errors
	 * (every pair of 3000 services of one name), each formatted in vain. */
	if (ctx->errs->count >= CONFIG_ERRORS_MAX) {
		ctx->errs->dropped++;
		return;
	}
	where = config_where(ctx, s);
	va_start(ap, fmt);
	if (vasprintf(&what, fmt, ap) < 0)
		fatal(EXIT_OSERR, "out of memory");
	va_end(ap);
	errors_add_at(ctx->errs, ERROR_KEY(0, config_setting_source_line(s)),
	    xasprintf("%s: %s", where, what));
	free(where);
	free(what);
}

/* The "(got ...)" part of a message: what the file actually says. */
void
config_value_text(const config_setting_t *s, char *buf, size_t size)
{
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		snprintf(buf, size, "%lld", config_setting_get_int64(s));
		break;
	case CONFIG_TYPE_FLOAT:
		snprintf(buf, size, "%g", config_setting_get_float(s));
		break;
	case CONFIG_TYPE_BOOL:
		snprintf(buf, size, "%s", config_setting_get_bool(s) ? "true" : "false");
		break;
	case CONFIG_TYPE_STRING:
		/* Escaped: a CR or LF in the file must not split the message. */
		config_print_quote(buf, size, config_setting_get_string(s));
		break;
	case CONFIG_TYPE_GROUP:
		snprintf(buf, size, "a group");
		break;
	default:
		snprintf(buf, size, "a list");
	}
}

/* ---- typed getters --------------------------------------------------- */

static bool
name_in(const char *name, const char *const *names)
{
	for (; *names != NULL; names++)
		if (strcmp(name, *names) == 0)
			return true;
	return false;
}

void
config_check_members(struct config_ctx *ctx, const config_setting_t *group,
    const char *const *known, const char *const *reserved)
{
	if (known == NULL)
		return;		/* any name goes: env = { ... }, a module's config */
	for (int i = 0; i < config_setting_length(group); i++) {
		config_setting_t *m = config_setting_get_elem(group, (unsigned)i);
		const char *name = config_setting_name(m);

		if (name_in(name, known))
			continue;
		if (name_in(name, reserved))
			config_error(ctx, m, "setting not supported by this version of sockd");
		else
			config_error(ctx, m, "unknown setting");
	}
}

/* 1 and *out_r set: present and valid; 0: absent; -1: present, invalid. */
int
config_get_int(struct config_ctx *ctx, const config_setting_t *group,
    const char *name, long long min, long long max, int *out_r)
{
	config_setting_t *s = config_setting_get_member(group, name);
	char got[VALUE_TEXT_MAX];
	long long v;

	if (s == NULL)
		return 0;
	if (config_setting_type(s) == CONFIG_TYPE_INT ||
	    config_setting_type(s) == CONFIG_TYPE_INT64) {
		v = config_setting_get_int64(s);
		if (v >= min && v <= max) {
			*out_r = (int)v;
			return 1;
		}
	}
	config_value_text(s, got, sizeof(got));
	config_error(ctx, s, "must be an integer between %lld and %lld (got %s)", min, max, got);
	return -1;
}

int
config_get_string(struct config_ctx *ctx, const config_setting_t *group,
    const char *name, const char **out_r)
{
	config_setting_t *s = config_setting_get_member(group, name);
	char got[VALUE_TEXT_MAX];

	if (s == NULL)
		return 0;
	if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		*out_r = config_setting_get_string(s);
		return 1;
	}
	config_value_text(s, got, sizeof(got));
	config_error(ctx, s, "must be a string (got %s)", got);
	return -1;
}

/* A duration in seconds, integer or decimal, stored as milliseconds. */
int
config_get_seconds(struct config_ctx *ctx, const config_setting_t *group,
    const char *name, int max_s, int *ms_r)
{
	config_setting_t *s = config_setting_get_member(group, name);
	char got[VALUE_TEXT_MAX];
	double v = -1;

	if (s == NULL)
		return 0;
	if (config_setting_type(s) == CONFIG_TYPE_INT || config_setting_type(s) == CONFIG_TYPE_INT64)
		v = (double)config_setting_get_int64(s);
	else if (config_setting_type(s) == CONFIG_TYPE_FLOAT)
		v = config_setting_get_float(s);
	if (v >= 0 && v <= max_s) {
		*ms_r = (int)(v * 1000 + 0.5);
		return 1;
	}
	config_value_text(s, got, sizeof(got));
	config_error(ctx, s, "must be a number of seconds from 0 to %d (got %s)", max_s, got);
	return -1;
}

/* A sub-group such as limits = { ... }: checked for unknown members. */
config_setting_t *
config_get_group(struct config_ctx *ctx, const config_setting_t *parent,
    const char *name, const char *const *known, const char *const *reserved)
{
	config_setting_t *g = config_setting_get_member(parent, name);
	char got[VALUE_TEXT_MAX];

	if (g == NULL)
		return NULL;
	if (!config_setting_is_group(g)) {
		config_value_text(g, got, sizeof(got));
		config_error(ctx, g, "must be a group { ... } (got %s)", got);
		return NULL;
	}
	config_check_members(ctx, g, known, reserved);
	return g;
}
