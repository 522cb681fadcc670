/*
 * shm.h - shared memory that survives an execve: a memfd, mapped shared.
 *
 * The scoreboard, the counters and the per-client table are shared with
 * workers by fork. A binary upgrade (SIGUSR2) re-executes the master in
 * place; the workers keep their mappings, and the new image maps the same
 * memfds again from the descriptors it is handed (upgrade.c). Nothing in
 * such a region may hold a pointer: the new image maps it elsewhere.
 */
#ifndef SOCKD_SHM_H
#define SOCKD_SHM_H

#include <stddef.h>

void *shm_create(const char *name, size_t size, int *fd_r);
void *shm_adopt(int fd, size_t min, size_t *size_r);

#endif
