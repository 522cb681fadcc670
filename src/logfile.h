/*
 * logfile.h - the files sockd appends to (today: the http handler's access
 * logs). The master opens them, as root, and hands them to its workers;
 * SIGUSR1 makes it open them again and pass the new descriptors on.
 */
#ifndef SOCKD_LOGFILE_H
#define SOCKD_LOGFILE_H

/* The master's side. */
int logfile_open(const char *path);
int logfile_channel(int fds_r[2]);
int logfile_send(int ctl, int fd);

/* A worker's side. */
void logfile_adopt(int fd, int ctl);
int logfile_fd(void);
int logfile_reopen(void);

#endif
