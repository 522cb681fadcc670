/*
 * echo_floor.h - what the two yardsticks (epoll_echo.c, uring_echo.c)
 * share: their command line, their listener and their worker processes.
 */
#ifndef SOCKD_ECHO_FLOOR_H
#define SOCKD_ECHO_FLOOR_H

#define FLOOR_MAX_WORKERS 64

/* "NAME PORT [WORKERS]": WORKERS (1..64, default 1), or -1 after usage. */
int floor_workers(const char *name, int argc, char **argv);
/* A non-blocking listener on 127.0.0.1:PORT (0: any), logged as
 * "NAME: listening on 127.0.0.1:N" (the benchmark reads it). */
int floor_listen(const char *name, int port);
/* WORKERS - 1 children; each returns to serve, as does the parent. */
void floor_fork(int workers);
/* perror(WHAT), exit 71. */
void floor_die(const char *what) __attribute__((noreturn));

#endif
