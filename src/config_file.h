/*
 * config_file.h - the text of sockd.conf as libconfig gets it: the main
 * file with every @include expanded in place, read and checked by sockd
 * itself (regular files only, bounded in size, strings, nesting and count),
 * and a map from each line of that text back to its file and line.
 */
#ifndef SOCKD_CONFIG_FILE_H
#define SOCKD_CONFIG_FILE_H

#include "config.h"

/* The bounds, documented in sockd.conf(5) (FILE LIMITS). */
#define CONFIG_FILE_SIZE_MAX (2 * 1024 * 1024)	/* bytes read, all files together */
#define CONFIG_FILE_STRING_MAX (1024 * 1024)	/* bytes of one string value */
#define CONFIG_FILE_DEPTH_MAX 32		/* groups, lists and arrays inside each other */
#define CONFIG_FILE_MEMBERS_MAX 1024		/* settings of one group */
#define CONFIG_FILE_VALUES_MAX 10000		/* settings, values and aggregates in all */
#define CONFIG_FILE_INCLUDES_MAX 64		/* @include directives followed, in all */
#define CONFIG_FILE_INCLUDE_DEPTH_MAX 10	/* files including each other */

struct config_file;

/* Read PATH and what it includes; NULL with one error added to ERRS. */
struct config_file *config_file_read(const char *path, struct config_errors *errs);
/* The same for TEXT, named NAME in messages; its includes are relative
 * to the current directory. */
struct config_file *config_file_text(const char *text, const char *name,
    struct config_errors *errs);
/* The expanded text, NUL-terminated, for config_read_string(). */
const char *config_file_buffer(const struct config_file *f);
/* Line LINE of the buffer: the file it came from, and *LINE_R there. */
const char *config_file_where(const struct config_file *f, unsigned line, unsigned *line_r);
void config_file_free(struct config_file *f);

#endif
