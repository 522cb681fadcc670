/*
 * load.h - read a configuration the way the daemon runs it: parsed and
 * checked (config.c), its modules loaded (handler_module.c). The one
 * loader of sockd -t, of the start and of every reload.
 */
#ifndef SOCKD_LOAD_H
#define SOCKD_LOAD_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

/*
 * The configuration at PATH, or NULL after reporting every error: on
 * standard error as bare "FILE:LINE: PATH: MESSAGE" lines when TO_STDERR
 * (sockd -t), else logged. WHY (SIZE bytes, may be NULL) gets the first.
 */
struct sockd_config *load_config(const char *path, bool to_stderr, char *why, size_t size);

#endif
