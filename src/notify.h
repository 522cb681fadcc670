/*
 * notify.h - everything sockd tells systemd (sd_notify). Only the master
 * calls these; without NOTIFY_SOCKET they do nothing.
 */
#ifndef SOCKD_NOTIFY_H
#define SOCKD_NOTIFY_H

#include <stdint.h>

void notify_ready(void);
void notify_reloading(void);
void notify_stopping(void);
void notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
uint64_t notify_watchdog_usec(void);
void notify_watchdog(void);

#endif
