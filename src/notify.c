/*
 * notify.c - the systemd notification protocol, in one place.
 *
 * sd_notify() returns a negative errno on failure, 0 when NOTIFY_SOCKET is
 * unset and a positive number when sent; a failure is worth a warning, never
 * worth stopping the service for.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <systemd/sd-daemon.h>

#include "log.h"
#include "notify.h"

static void
notify_send(const char *msg)
{
	int r = sd_notify(0, msg);

	if (r < 0)
		log_warn("sd_notify(\"%s\"): %s", msg, strerror(-r));
}

void
notify_ready(void)
{
	notify_send("READY=1");
}

/* RELOADING=1 with the CLOCK_MONOTONIC time systemd (253+) wants beside it. */
void
notify_reloading(void)
{
	struct timespec ts;
	char msg[64];

	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)ts.tv_sec * 1000000 + (unsigned long long)ts.tv_nsec / 1000);
	notify_send(msg);
}

void
notify_stopping(void)
{
	notify_send("STOPPING=1");
}

void
notify_status(const char *fmt, ...)
{
	char msg[1100] = "STATUS=";
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg + strlen(msg), sizeof(msg) - strlen(msg), fmt, ap);
	va_end(ap);
	notify_send(msg);
}

/* The watchdog interval systemd expects pings within, or 0 if none. */
uint64_t
notify_watchdog_usec(void)
{
	uint64_t usec = 0;
	int r = sd_watchdog_enabled(0, &usec);

	if (r < 0)
		log_warn("sd_watchdog_enabled: %s", strerror(-r));
	return r > 0 ? usec : 0;
}

void
notify_watchdog(void)
{
	notify_send("WATCHDOG=1");
}
