/*
 * http_file.h - map a request-target to a file below the service's root,
 * and never to anything outside it.
 */
#ifndef SOCKD_HTTP_FILE_H
#define SOCKD_HTTP_FILE_H

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#define HTTP_PATH_MAX 4096

struct http_file {
	int fd;				/* a regular file, open for reading */
	off_t size;
	time_t mtime;
	const char *type;		/* its media type, from the extension */
};

int http_file_start(const char *root);
int http_file_open(const char *target, size_t len, const char *index, struct http_file *f_r);
const char *http_file_type(const char *name);

#endif
