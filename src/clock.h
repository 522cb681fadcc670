/*
 * clock.h - the time every process reads: CLOCK_MONOTONIC for deadlines,
 * heartbeats and durations, CLOCK_REALTIME only for what people read (Unix
 * times in status and metrics), and how often a waiting worker shows it
 * is alive.
 */
#ifndef SOCKD_CLOCK_H
#define SOCKD_CLOCK_H

#include <stdint.h>

#define NS_PER_MS 1000000LL
#define NS_PER_S 1000000000LL

/* Nanoseconds: monotonic, and Unix time. Either aborts if the clock is
 * gone, which only a broken kernel or seccomp filter does. */
int64_t clock_now(void);
int64_t clock_real(void);

#define CLOCK_TICK_MS 1000
int clock_tick_ms(int heartbeat_ms);

#endif
