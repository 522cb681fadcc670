/*
 * harness.h - start the real sockd binary, read its log, talk to it.
 *
 * Every wait has a deadline, so a broken daemon fails a test instead of
 * hanging it. The binary is $SOCKD; test data lives in $SOCKD_SRCDIR.
 */
#ifndef SOCKD_HARNESS_H
#define SOCKD_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define HARNESS_TIMEOUT_MS 10000
/* Ends a variadic argument list: a bare NULL may be an int there. */
#define END ((char *)NULL)

/* How to start a daemon; daemon_start() fills in the common case. */
struct launch {
	const char *conf;		/* configuration text */
	const char *binary;		/* NULL: $SOCKD */
	const char *const *wrapper;	/* argv run in front of sockd (NULL-ended), or NULL */
	const char *const *args;	/* extra sockd arguments (NULL-ended), or NULL */
	bool notify;			/* give it a NOTIFY_SOCKET and record what it says */
};

struct daemon {
	pid_t pid;
	int notify_fd;			/* -1 unless launched with notify */
	char notes[16384];		/* every sd_notify datagram, "\n"-separated */
	size_t notes_len;
	int err_fd;			/* read end of the daemon's stderr */
	char log[65536];		/* everything it logged so far */
	size_t log_len;
	char *dir;			/* a private temporary directory */
	char *conf;			/* the configuration file in dir */
};

char *harness_tmpdir(void);
char *harness_write(const char *dir, const char *name, const char *text);
void harness_rmdir(char *dir);
const char *harness_sockd(void);
char *harness_data(const char *name);

/* Run sockd with ARGV (NULL-terminated, without argv[0]) to completion. */
int harness_run(char *const *args, char **out_r, char **err_r);

struct daemon *daemon_start(const char *conf_text, ...);
struct daemon *daemon_launch(const struct launch *l);
bool daemon_wait_note(struct daemon *d, const char *needle, int timeout_ms);
void daemon_read_notes(struct daemon *d);
size_t daemon_workers(const struct daemon *d, pid_t *pids, size_t max);
size_t pid_children(pid_t pid, pid_t *pids, size_t max);
bool daemon_wait_workers(struct daemon *d, size_t n, int timeout_ms);
int daemon_reload(struct daemon *d, const char *conf_text);
bool daemon_wait_log(struct daemon *d, const char *needle, int timeout_ms);
bool daemon_read_log(struct daemon *d, long long deadline_ms);
long long now_ms(void);
int daemon_port(struct daemon *d, const char *service, const char *prefix);
int daemon_stop(struct daemon *d, int sig, int timeout_ms);
void daemon_free(struct daemon *d);
/* cmocka teardown: kill and free every daemon a failed test left behind. */
int harness_teardown(void **state);

long proc_id(pid_t pid, const char *field);
/* A TCP port free on 0.0.0.0 (and on [::] too, if BOTH) below the kernel's
 * ephemeral range, so that no port 0 nor outgoing connection of a test
 * running in parallel takes it between this check and its use. */
int free_port(bool both);
int tcp_connect(const char *ip, int port);
int unix_connect(const char *path);
int send_all(int fd, const void *buf, size_t len);
ssize_t recv_exact(int fd, void *buf, size_t len, int timeout_ms);
bool recv_eof(int fd, int timeout_ms);

#endif
