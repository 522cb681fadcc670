/*
 * sig.h - signals as file descriptor events (signalfd), so that every wait
 * in sockd can include them and none is ever lost between a check and a
 * blocking call.
 */
#ifndef SOCKD_SIG_H
#define SOCKD_SIG_H

int sig_open(void);
int sig_next(int fd);

#endif
