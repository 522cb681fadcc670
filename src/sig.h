/*
 * sig.h - signals as file descriptor events (signalfd), so that every wait
 * in sockd can include them and none is ever lost between a check and a
 * blocking call.
 */
#ifndef SOCKD_SIG_H
#define SOCKD_SIG_H

#include <stddef.h>

int sig_open(const int *sigs, size_t n);
void sig_close(int fd);
int sig_next(int fd);

#endif
