/*
 * listen.h - the listening sockets of a configuration: opened from the
 * configured addresses or taken from systemd socket activation, and carried
 * over a reload so that an unchanged address keeps its socket (and with it
 * every connection waiting in its backlog). Under systemd the TCP sockets
 * sockd opened itself are also kept in systemd's file descriptor store
 * (listen_store), so a restart finds them again.
 */
#ifndef SOCKD_LISTEN_H
#define SOCKD_LISTEN_H

#include <stdbool.h>
#include <stddef.h>

#include "addr.h"
#include "config.h"

struct listener {
	int fd;
	size_t service;			/* index into the configuration's services */
	struct sockd_addr addr;		/* as configured (or as systemd bound it) */
	char *name;			/* systemd FileDescriptorName=, or NULL */
	bool activated;			/* from systemd: never closed by a reload */
	bool remove_file;		/* a Unix socket file we created */
	bool from_store;		/* back from systemd's fd store, not yet logged */
};

struct listen_set {
	struct listener *l;
	size_t n;
};

int listen_open(const struct sockd_addr *addr, int backlog, int *fd_r);
int listen_local_addr(int fd, struct sockd_addr *addr_r);

#define LISTEN_ECONFIG (-2)		/* listen_set_open: a socket matches no service */

int listen_activated(struct listen_set *set);
int listen_take_handed(struct listen_set *set, int fd, const char *name, bool activated,
    bool remove_file, const char *addr);
int listen_set_open(struct sockd_config *cfg, struct listen_set *old,
    struct listen_set *set_r);
void listen_set_close(struct listen_set *set);
size_t listen_service_fds(const struct listen_set *set, size_t service, int *fds, size_t max);
void listen_log(const struct listen_set *set, const struct sockd_config *cfg);
void listen_store(struct listen_set *set, const struct sockd_config *cfg);

#endif
