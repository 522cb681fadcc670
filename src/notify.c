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

void
notify_stopping(void)
{
	notify_send("STOPPING=1");
}

void
notify_status(const char *fmt, ...)
{
	char msg[256] = "STATUS=";
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg + strlen(msg), sizeof(msg) - strlen(msg), fmt, ap);
	va_end(ap);
	notify_send(msg);
}
