/*
 * listen.h - listening sockets: open them from configured addresses.
 */
#ifndef SOCKD_LISTEN_H
#define SOCKD_LISTEN_H

#include "addr.h"

int listen_open(const struct sockd_addr *addr, int backlog, int *fd_r);
int listen_local_addr(int fd, struct sockd_addr *addr_r);

#endif
