/*
 * clock.c - reading the clocks (clock.h).
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "log.h"

static int64_t
clock_read(clockid_t id, const char *name)
{
	struct timespec ts;

	if (clock_gettime(id, &ts) == -1)
		panic("clock_gettime(%s): %s", name, strerror(errno));
	return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

int64_t
clock_now(void)
{
	return clock_read(CLOCK_MONOTONIC, "CLOCK_MONOTONIC");
}

int64_t
clock_real(void)
{
	return clock_read(CLOCK_REALTIME, "CLOCK_REALTIME");
}

/*
 * How often a worker shows it is alive while it waits: every second, or a
 * quarter of timeouts.heartbeat (HEARTBEAT_MS, 0: none) if that is shorter,
 * but not more often than every 10 ms. Every wait of every model uses it.
 */
int
clock_tick_ms(int heartbeat_ms)
{
	int tick = heartbeat_ms > 0 ? heartbeat_ms / 4 : CLOCK_TICK_MS;

	return tick < 10 ? 10 : tick > CLOCK_TICK_MS ? CLOCK_TICK_MS : tick;
}
