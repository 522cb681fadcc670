/*
 * sig.h - signals as file descriptor events (signalfd), so that every wait
 * in sockd can include them and none is ever lost between a check and a
 * blocking call; and the one set of signals every sockd process takes.
 */
#ifndef SOCKD_SIG_H
#define SOCKD_SIG_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct sig_info {
	int signo;
	pid_t pid;			/* the sender, 0: the kernel */
};

int sig_open(void);
void sig_close(int fd);
bool sig_read(int fd, struct sig_info *si_r);
int sig_next(int fd);
const char *sig_name(int sig, char *buf, size_t size);
void sig_log_ignored(const char *who, const struct sig_info *si);

#endif
