/*
 * fdstore.h - the pure part of keeping listening sockets in systemd's file
 * descriptor store: the names they are stored under, the notify messages,
 * and what to send to turn the store's content into the one wanted. The
 * sending is notify.c's, the bookkeeping listen.c's.
 */
#ifndef SOCKD_FDSTORE_H
#define SOCKD_FDSTORE_H

#include <stdbool.h>
#include <stddef.h>

/*
 * A socket sockd stored is named FDSTORE_PREFIX + its service's name. The
 * prefix keeps it apart from a socket unit's FileDescriptorName= (a
 * service name, which never has a '/'): at start both arrive the same way,
 * but a socket unit's socket is systemd's to keep, a stored one sockd's to
 * drop when the configuration no longer has its address.
 */
#define FDSTORE_PREFIX "store/"
#define FDSTORE_NAME_MAX 255		/* systemd's limit for FDNAME= */
#define FDSTORE_MSG_MAX (sizeof("FDSTOREREMOVE=1\nFDNAME=") + FDSTORE_NAME_MAX)

struct fdstore_entry {
	int fd;				/* -1: no longer ours (closed), only the name is left */
	char name[FDSTORE_NAME_MAX + 1];
	char text[128];			/* the address, for the logs */
};

enum fdstore_op { FDSTORE_REMOVE, FDSTORE_ADD };

struct fdstore_action {
	enum fdstore_op op;
	const struct fdstore_entry *e;	/* REMOVE: only e->name counts */
};

int fdstore_name(char *buf, size_t size, const char *service);
const char *fdstore_service(const char *fdname);
bool fdstore_name_valid(const char *name);
int fdstore_message(char *buf, size_t size, enum fdstore_op op, const char *name);
size_t fdstore_plan(const struct fdstore_entry *cur, size_t n_cur,
    const struct fdstore_entry *want, size_t n_want, struct fdstore_action *out);

#endif
