/*
 * util.h - allocation that cannot fail quietly, and small helpers.
 *
 * Running out of memory is an environment failure: the x* functions log it
 * and exit with EXIT_OSERR rather than leave every caller to handle NULL.
 */
#ifndef SOCKD_UTIL_H
#define SOCKD_UTIL_H

#include <stddef.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xreallocarray(void *p, size_t n, size_t size);
char *xstrdup(const char *s);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
