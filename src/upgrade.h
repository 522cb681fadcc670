/*
 * upgrade.h - a binary upgrade in place (SIGUSR2): what the running master
 * hands the new image of itself across execve, in the same process.
 *
 * Same pid, so systemd's MainPID stays right and the workers stay its
 * children. The listeners, the shared memory (scoreboard, counters,
 * per-client table), the workers' wake eventfd, the control socket and
 * the workers' log channels pass as descriptors; their numbers and the
 * list of live workers pass in a memfd named by $SOCKD_UPGRADE, as text
 * (upgrade_format / upgrade_parse). The new image adopts the workers as
 * an older generation and lets them drain exactly as after a reload.
 */
#ifndef SOCKD_UPGRADE_H
#define SOCKD_UPGRADE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "strbuf.h"

#define UPGRADE_ENV "SOCKD_UPGRADE"
#define UPGRADE_CHECK_MS 10000		/* the new binary's -V and -t, each */

struct upgrade_listener {
	int fd;
	bool activated;			/* from systemd: named, address from the socket */
	bool remove_file;		/* a Unix socket file the master made */
	char *name;			/* FileDescriptorName=, or NULL */
	char *addr;			/* as configured (sockd.conf spelling) */
};

struct upgrade_kid {
	pid_t pid;
	uint32_t generation;
	uint32_t slot;			/* index into the scoreboard */
	bool stopping;
	int64_t kill_at_ns;		/* CLOCK_MONOTONIC: survives the exec */
	int64_t started_ns;
	int graceful_ms;
	int log_ctl;			/* its log file channel, or -1 */
	char *log_path;			/* with it: the file it writes */
};

struct upgrade_state {
	char version[32];		/* of the image that handed over */
	char layout[64];		/* of its shared memory (upgrade_layout) */
	uint32_t generation;		/* its last */
	int sb_fd, st_fd, pt_fd;	/* scoreboard, counters, per-client table */
	int wake_fd;
	int ctl_fd;			/* the control socket's listener, or -1 */
	long ctl_gid;
	char *ctl_path;
	struct upgrade_listener *l;
	size_t n_l;
	struct upgrade_kid *k;
	size_t n_k;
};

/* main(): this binary's path (resolved now, before a package replaces
 * the file) and the command line, to run again. */
void upgrade_remember(int argc, char **argv);
/* This build's shared-memory layout, as `sockd -V` prints it. */
const char *upgrade_layout(void);

/* The old image: is the binary at our path one we can become? Runs it
 * with -V (its version into NEWVER, its layout checked) and with -t on
 * CONFIG; 0, or -1 with the reason in WHY. */
int upgrade_check(const char *config, char *newver, size_t newver_size, char *why,
    size_t why_size);
/* Become the new image; returns only when execve failed (WHY says why),
 * with every descriptor as it was. */
int upgrade_exec(const struct upgrade_state *s, char *why, size_t why_size);

/* The new image: 1 and *S filled when this start is an upgrade (the
 * environment is cleared), 0 when it is not, -1 when the handover is
 * broken (logged; *S holds what could be read, for upgrade_abandon). */
int upgrade_take(struct upgrade_state *s);
/* The new image cannot go on: let the adopted workers finish their
 * connections (up to their graceful timeouts) and reap them. */
void upgrade_abandon(const struct upgrade_state *s);
void upgrade_free(struct upgrade_state *s);

/* The text form (pure; for the unit tests). */
int upgrade_format(const struct upgrade_state *s, struct strbuf *out);
int upgrade_parse(const char *text, size_t len, struct upgrade_state *s, char *why,
    size_t why_size);

#endif
