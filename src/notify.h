/*
 * notify.h - everything sockd tells systemd (the sd_notify protocol). Only
 * the master calls these; without NOTIFY_SOCKET they do nothing. None of
 * them ever waits for systemd: what cannot be sent now is kept (STATUS=
 * only its latest text) and sent by notify_flush(), every loop turn.
 */
#ifndef SOCKD_NOTIFY_H
#define SOCKD_NOTIFY_H

#include <stdint.h>

#include "fdstore.h"

void notify_ready(void);
void notify_reloading(void);
void notify_stopping(void);
void notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
uint64_t notify_watchdog_usec(void);
void notify_watchdog(void);
void notify_flush(void);
int notify_fdstore(enum fdstore_op op, const char *name, int fd);

#endif
