/*
 * testlib.h - what the integration tests share on top of the harness:
 * cmocka assertions about talking to a daemon serving an echo service.
 * (harness.c itself stays free of cmocka, so it can say why it failed.)
 */
#ifndef SOCKD_TESTLIB_H
#define SOCKD_TESTLIB_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "harness.h"

#define T_MS HARNESS_TIMEOUT_MS
#define STARTED "notice: sockd " PACKAGE_VERSION " started"

/* A configuration: "user" when root, then FMT. The text lives until the
 * next call. */
const char *config(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Start TEXT (with BINARY, NULL for $SOCKD); *PORT_R: service "echo" on 127.0.0.1. */
struct daemon *start_with(const char *binary, const char *text, int *port_r);
struct daemon *start(const char *text, int *port_r);
/* The same for a service of another name, on 127.0.0.1. */
struct daemon *start_service(const char *text, const char *service, int *port_r);
/* SIGTERM, a clean exit, freed. */
void stop(struct daemon *d);
/* Send MSG and expect ANSWER back, exactly. */
void exchange(int fd, const void *msg, size_t len, const void *answer, size_t alen);
void echo_line(int fd, const char *line);
/* One "ping\n" round trip on a new connection. */
bool answers_on(const char *ip, int port);
bool answers(int port);
int count(const char *hay, const char *needle);
/* A TCP connection to 127.0.0.1:PORT from SRC (any 127.x.y.z is a client
 * of its own); -1 if refused. */
int tcp_connect_from(const char *src, int port);
/* PID has exited: gone, or a zombie its parent (maybe init) has yet to reap. */
bool pid_gone(pid_t pid);

#endif
