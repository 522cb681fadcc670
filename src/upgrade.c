/*
 * upgrade.c - the binary upgrade in place (upgrade.h).
 *
 * The old image checks the new binary before it commits to anything: the
 * binary at the path this process was started from runs with -V (it must
 * print our shared-memory layout, or its workers and ours could not share
 * a scoreboard) and with -t on the running configuration. Only then does
 * the master write the handover, clear close-on-exec on exactly the
 * descriptors it names, and execve. If execve itself fails, every flag is
 * put back and the old image serves on as if nothing had been tried.
 *
 * The handover is text, one record per line, so a version that adds a
 * field can still read an older one's and a human can read it in a bug
 * report:
 *   sockd-upgrade 1
 *   version 0.5.0
 *   layout 1/224/...
 *   generation 3
 *   shm SCOREBOARD_FD STATS_FD PEERTAB_FD
 *   wake FD
 *   control FD GID PATH            (or "control -1")
 *   listener FD ACTIVATED REMOVE_FILE NAME ADDR    (NAME "-": none)
 *   kid PID GEN SLOT STOPPING KILL_AT STARTED GRACEFUL_MS LOG_FD LOG_PATH
 *   end
 * PATH, ADDR and LOG_PATH run to the end of the line (a line feed in one
 * refuses the upgrade); NAME is a FileDescriptorName=, which has no spaces.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "peertab.h"
#include "scoreboard.h"
#include "stats.h"
#include "upgrade.h"
#include "util.h"

#define UPGRADE_FORMAT 1
#define UPGRADE_MAX (4u << 20)		/* the handover's text, at most */
#define UPGRADE_OUT_MAX 4096		/* of a check's output, kept */
#define UPGRADE_ABANDON_MAX_NS (300 * NS_PER_S)

static char *self_path;
static char **self_argv;

void
upgrade_remember(int argc, char **argv)
{
	self_path = realpath("/proc/self/exe", NULL);
	self_argv = xcalloc((size_t)argc + 1, sizeof(*self_argv));
	for (int i = 0; i < argc; i++)
		self_argv[i] = xstrdup(argv[i]);
}

const char *
upgrade_layout(void)
{
	static char buf[64];

	if (buf[0] == '\0')
		snprintf(buf, sizeof(buf), "%d/%zu/%zu/%zu/%zu", UPGRADE_FORMAT,
		    sizeof(struct scoreboard_slot), sizeof(struct stats),
		    sizeof(struct stats_service), peertab_layout());
	return buf;
}

/* ---- the checks before the exec ---------------------------------------- */

/*
 * The check runs with the master's signals still blocked: `systemctl kill
 * -s USR2 sockd` signals every process of the unit, and may reach the
 * check just forked for that very signal. It needs none (the deadline
 * ends it with SIGKILL).
 */
static void
upgrade_child(const char *const *argv, int out)
{
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

	if (null == -1 || dup2(null, STDIN_FILENO) == -1 || dup2(out, STDOUT_FILENO) == -1 ||
	    dup2(out, STDERR_FILENO) == -1)
		_exit(126);
	execv(argv[0], (char *const *)argv);
	dprintf(out, "%s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

/* Read what the child says until it closes its end or the deadline. */
static bool
upgrade_collect(int fd, char *out, size_t size, int64_t deadline)
{
	size_t len = 0;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int64_t left = deadline - clock_now();
		char scratch[512];
		ssize_t n;
		int r;

		if (left <= 0)
			return false;
		if ((r = poll(&p, 1, (int)(left / NS_PER_MS) + 1)) == -1 && errno != EINTR)
			return false;
		if (r <= 0)
			continue;
		n = read(fd, len + 1 < size ? out + len : scratch,
		    len + 1 < size ? size - 1 - len : sizeof(scratch));
		if (n == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			break;
		if (len + 1 < size)
			len += (size_t)n;
	}
	out[len] = '\0';
	return true;
}

/*
 * Run ARGV with its output (both streams) into OUT, for at most
 * UPGRADE_CHECK_MS; its wait status in *STATUS_R. -1 (WHY set) when it
 * could not be run or took too long (then it is killed).
 */
static int
upgrade_run(const char *const *argv, char *out, size_t size, int *status_r, char *why,
    size_t why_size)
{
	int p[2];
	pid_t pid;
	bool done;

	out[0] = '\0';
	if (pipe2(p, O_CLOEXEC) == -1) {
		snprintf(why, why_size, "pipe: %s", strerror(errno));
		return -1;
	}
	if ((pid = fork()) == -1) {
		snprintf(why, why_size, "fork: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0)
		upgrade_child(argv, p[1]);
	close(p[1]);
	done = upgrade_collect(p[0], out, size, clock_now() + UPGRADE_CHECK_MS * NS_PER_MS);
	close(p[0]);
	if (!done && kill(pid, SIGKILL) == -1 && errno != ESRCH)
		log_warn("upgrade: kill(%ld): %s", (long)pid, strerror(errno));
	while (waitpid(pid, status_r, 0) == -1)
		if (errno != EINTR) {
			snprintf(why, why_size, "waitpid: %s", strerror(errno));
			return -1;
		}
	if (!done) {
		snprintf(why, why_size, "%s %s did not finish within %d s", argv[0], argv[1],
		    UPGRADE_CHECK_MS / 1000);
		return -1;
	}
	return 0;
}

/* The last non-empty line of OUT, for a one-line reason. */
static const char *
upgrade_last_line(char *out)
{
	size_t n = strlen(out);
	char *nl;

	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' '))
		out[--n] = '\0';
	nl = strrchr(out, '\n');
	return nl != NULL ? nl + 1 : out;
}

static void
upgrade_describe(int status, char *buf, size_t size)
{
	if (WIFEXITED(status))
		snprintf(buf, size, "exit status %d", WEXITSTATUS(status));
	else
		snprintf(buf, size, "signal %d", WTERMSIG(status));
}

/* sockd -V: "sockd VERSION" first, and our layout among the facts. */
static int
upgrade_check_version(char *newver, size_t newver_size, char *why, size_t why_size)
{
	const char *argv[] = { self_path, "-V", NULL };
	char out[UPGRADE_OUT_MAX], how[32], *layout;
	const char *last;
	int status;

	if (upgrade_run(argv, out, sizeof(out), &status, why, why_size) == -1)
		return -1;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		upgrade_describe(status, how, sizeof(how));
		last = upgrade_last_line(out);
		snprintf(why, why_size, "%s -V: %s%s%.120s", self_path, how, last[0] ? ": " : "",
		    last);
		return -1;
	}
	if (strncmp(out, "sockd ", 6) != 0) {
		snprintf(why, why_size, "%s -V does not say it is sockd", self_path);
		return -1;
	}
	snprintf(newver, newver_size, "%.*s", (int)strcspn(out + 6, "\n"), out + 6);
	layout = strstr(out, "\nstate layout: ");
	if (layout == NULL) {
		snprintf(why, why_size, "%s (sockd %s) cannot take over a running master "
		    "(no state layout in -V): restart sockd instead", self_path, newver);
		return -1;
	}
	layout += strlen("\nstate layout: ");
	layout[strcspn(layout, "\n")] = '\0';
	if (strcmp(layout, upgrade_layout()) != 0) {
		snprintf(why, why_size, "%s (sockd %s) shares memory in another layout (%s, ours "
		    "%s): restart sockd instead", self_path, newver, layout, upgrade_layout());
		return -1;
	}
	return 0;
}

int
upgrade_check(const char *config, char *newver, size_t newver_size, char *why,
    size_t why_size)
{
	const char *argv[] = { self_path, "-t", "-c", config, NULL };
	char out[UPGRADE_OUT_MAX], how[32];
	const char *last;
	int status;

	if (self_path == NULL || self_argv == NULL) {
		snprintf(why, why_size, "the path of the running binary is not known");
		return -1;
	}
	if (access(self_path, X_OK) == -1) {
		snprintf(why, why_size, "%s: %s", self_path, strerror(errno));
		return -1;
	}
	if (upgrade_check_version(newver, newver_size, why, why_size) == -1)
		return -1;
	if (upgrade_run(argv, out, sizeof(out), &status, why, why_size) == -1)
		return -1;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		upgrade_describe(status, how, sizeof(how));
		last = upgrade_last_line(out);
		snprintf(why, why_size, "%s -t -c %s: %s%s%.120s", self_path, config, how,
		    last[0] ? ": " : "", last);
		return -1;
	}
	return 0;
}

/* ---- the text form ------------------------------------------------------ */

static bool
upgrade_one_line(const char *s)
{
	return s == NULL || strchr(s, '\n') == NULL;
}

int
upgrade_format(const struct upgrade_state *s, struct strbuf *out)
{
	if (!upgrade_one_line(s->version) || !upgrade_one_line(s->ctl_path))
		return -1;
	strbuf_printf(out, "sockd-upgrade %d\nversion %s\nlayout %s\ngeneration %" PRIu32 "\n"
	    "shm %d %d %d\nwake %d\n", UPGRADE_FORMAT, s->version, s->layout, s->generation,
	    s->sb_fd, s->st_fd, s->pt_fd, s->wake_fd);
	if (s->ctl_fd != -1)
		strbuf_printf(out, "control %d %ld %s\n", s->ctl_fd, s->ctl_gid, s->ctl_path);
	else
		strbuf_puts(out, "control -1\n");
	for (size_t i = 0; i < s->n_l; i++) {
		const struct upgrade_listener *l = &s->l[i];

		if (!upgrade_one_line(l->addr) || (l->name != NULL && (l->name[0] == '\0' ||
		    strpbrk(l->name, " \n") != NULL)))
			return -1;
		strbuf_printf(out, "listener %d %d %d %s %s\n", l->fd, l->activated, l->remove_file,
		    l->name != NULL ? l->name : "-", l->addr);
	}
	for (size_t i = 0; i < s->n_k; i++) {
		const struct upgrade_kid *k = &s->k[i];

		if (!upgrade_one_line(k->log_path))
			return -1;
		strbuf_printf(out, "kid %ld %" PRIu32 " %" PRIu32 " %d %" PRId64 " %" PRId64
		    " %d %d %s\n", (long)k->pid, k->generation, k->slot, k->stopping, k->kill_at_ns,
		    k->started_ns, k->graceful_ms, k->log_ctl,
		    k->log_path != NULL ? k->log_path : "-");
	}
	strbuf_puts(out, "end\n");
	return out->overflow ? -1 : 0;
}

/* The rest of the line after N fields were read (sscanf's %n). */
static char *
upgrade_rest(const char *line, int n)
{
	const char *p = line + n;

	while (*p == ' ')
		p++;
	return *p != '\0' ? xstrdup(p) : NULL;
}

static bool
upgrade_fd_ok(int fd)
{
	return fd > STDERR_FILENO;
}

static int
upgrade_line(struct upgrade_state *s, const char *line, char *why, size_t why_size)
{
	int n = -1, a, b, c, d;
	long pid, gid;
	unsigned ug, us;

	/* Each record whole: nothing after its last field (%n says where). */
	if (sscanf(line, "version %31s%n", s->version, &n) == 1 && n > 0 && line[n] == '\0')
		return 0;
	if (sscanf(line, "layout %63s%n", s->layout, &n) == 1 && n > 0 && line[n] == '\0')
		return 0;
	if (sscanf(line, "generation %u%n", &ug, &n) == 1 && n > 0 && line[n] == '\0') {
		s->generation = ug;
		return 0;
	}
	if (sscanf(line, "shm %d %d %d%n", &a, &b, &c, &n) == 3 && n > 0 && line[n] == '\0' &&
	    upgrade_fd_ok(a) && upgrade_fd_ok(b) && upgrade_fd_ok(c)) {
		s->sb_fd = a, s->st_fd = b, s->pt_fd = c;
		return 0;
	}
	if (sscanf(line, "wake %d%n", &a, &n) == 1 && n > 0 && line[n] == '\0' && upgrade_fd_ok(a)) {
		s->wake_fd = a;
		return 0;
	}
	if (strcmp(line, "control -1") == 0)
		return 0;
	if (sscanf(line, "control %d %ld%n", &a, &gid, &n) == 2 && n > 0 && upgrade_fd_ok(a) &&
	    s->ctl_path == NULL && (s->ctl_path = upgrade_rest(line, n)) != NULL) {
		s->ctl_fd = a;
		s->ctl_gid = gid;
		return 0;
	}
	if (strncmp(line, "listener ", 9) == 0) {
		struct upgrade_listener l = { 0 };
		char name[256];

		if (sscanf(line, "listener %d %d %d %255s%n", &l.fd, &a, &b, name, &n) == 4 &&
		    n > 0 && upgrade_fd_ok(l.fd) && (l.addr = upgrade_rest(line, n)) != NULL) {
			l.activated = a != 0;
			l.remove_file = b != 0;
			l.name = strcmp(name, "-") != 0 ? xstrdup(name) : NULL;
			s->l = xreallocarray(s->l, s->n_l + 1, sizeof(*s->l));
			s->l[s->n_l++] = l;
			return 0;
		}
	}
	if (strncmp(line, "kid ", 4) == 0) {
		struct upgrade_kid k = { 0 };
		long long kill_at, started;

		if (sscanf(line, "kid %ld %u %u %d %lld %lld %d %d%n", &pid, &ug, &us, &a, &kill_at,
		    &started, &c, &d, &n) == 8 && n > 0 && pid > 0 && pid <= INT_MAX &&
		    (d == -1 || upgrade_fd_ok(d))) {
			k = (struct upgrade_kid){ .pid = (pid_t)pid, .generation = ug, .slot = us,
				.stopping = a != 0, .kill_at_ns = kill_at, .started_ns = started,
				.graceful_ms = c, .log_ctl = d, .log_path = upgrade_rest(line, n) };
			if (k.log_path != NULL && strcmp(k.log_path, "-") == 0) {
				free(k.log_path);
				k.log_path = NULL;
			}
			s->k = xreallocarray(s->k, s->n_k + 1, sizeof(*s->k));
			s->k[s->n_k++] = k;
			return 0;
		}
	}
	snprintf(why, why_size, "unreadable line \"%.80s\"", line);
	return -1;
}

int
upgrade_parse(const char *text, size_t len, struct upgrade_state *s, char *why,
    size_t why_size)
{
	char *copy = xcalloc(len + 1, 1), *line, *save = NULL;
	bool first = true, end = false;
	int r = 0;

	*s = (struct upgrade_state){ .sb_fd = -1, .st_fd = -1, .pt_fd = -1, .wake_fd = -1,
		.ctl_fd = -1, .ctl_gid = -1 };
	memcpy(copy, text, len);
	if (memchr(text, '\0', len) != NULL) {
		snprintf(why, why_size, "a NUL byte in the handover");
		r = -1;
	}
	for (line = strtok_r(copy, "\n", &save); r == 0 && line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (end) {
			snprintf(why, why_size, "text after \"end\"");
			r = -1;
		} else if (first) {
			if (strcmp(line, "sockd-upgrade 1") != 0) {
				snprintf(why, why_size, "not a handover this version reads "
				    "(\"%.40s\")", line);
				r = -1;
			}
			first = false;
		} else if (strcmp(line, "end") == 0)
			end = true;
		else
			r = upgrade_line(s, line, why, why_size);
	}
	free(copy);
	if (r == 0 && !end) {
		snprintf(why, why_size, "the handover is cut short (no \"end\")");
		r = -1;
	}
	if (r == 0 && (s->sb_fd == -1 || s->wake_fd == -1 || s->generation == 0 ||
	    s->version[0] == '\0' || s->layout[0] == '\0')) {
		snprintf(why, why_size, "the handover lacks the shared memory, the wake "
		    "descriptor, the generation, the version or the layout");
		r = -1;
	}
	return r;
}

/* ---- the exec ----------------------------------------------------------- */

/* Every descriptor the handover names, plus the handover itself. */
static size_t
upgrade_fds(const struct upgrade_state *s, int memfd, int *fds)
{
	size_t n = 0;

	fds[n++] = memfd;
	fds[n++] = s->sb_fd;
	fds[n++] = s->st_fd;
	fds[n++] = s->pt_fd;
	fds[n++] = s->wake_fd;
	if (s->ctl_fd != -1)
		fds[n++] = s->ctl_fd;
	for (size_t i = 0; i < s->n_l; i++)
		fds[n++] = s->l[i].fd;
	for (size_t i = 0; i < s->n_k; i++)
		if (s->k[i].log_ctl != -1)
			fds[n++] = s->k[i].log_ctl;
	return n;
}

static int
upgrade_cloexec(const int *fds, size_t n, bool on)
{
	int r = 0;

	for (size_t i = 0; i < n; i++)
		if (fds[i] != -1 && fcntl(fds[i], F_SETFD, on ? FD_CLOEXEC : 0) == -1)
			r = -1;
	return r;
}

static int
upgrade_write(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
upgrade_exec(const struct upgrade_state *s, char *why, size_t why_size)
{
	struct strbuf text = { .max = UPGRADE_MAX };
	size_t n = 6 + s->n_l + s->n_k;
	int *fds = xcalloc(n, sizeof(*fds)), memfd = -1, e;
	char env[16];

	if (upgrade_format(s, &text) == -1) {
		snprintf(why, why_size, "a path or name cannot be handed over (a line feed in it?)");
		goto fail;
	}
	if ((memfd = memfd_create("sockd-upgrade", MFD_CLOEXEC)) == -1 ||
	    upgrade_write(memfd, text.p, text.len) == -1) {
		snprintf(why, why_size, "the handover: %s", strerror(errno));
		goto fail;
	}
	n = upgrade_fds(s, memfd, fds);
	snprintf(env, sizeof(env), "%d", memfd);
	if (upgrade_cloexec(fds, n, false) == -1 || setenv(UPGRADE_ENV, env, 1) == -1) {
		snprintf(why, why_size, "the descriptors to hand over: %s", strerror(errno));
		goto restore;
	}
	execv(self_path, self_argv);
	e = errno;
	snprintf(why, why_size, "execve %s: %s", self_path, strerror(e));
restore:
	if (upgrade_cloexec(fds, n, true) == -1)
		log_warn("upgrade: close-on-exec back on: %s", strerror(errno));
	(void)unsetenv(UPGRADE_ENV);
fail:
	if (memfd != -1)
		close(memfd);
	strbuf_free(&text);
	free(fds);
	return -1;
}

/* ---- the new image ------------------------------------------------------ */

static char *
upgrade_read(int fd, size_t *len_r)
{
	struct stat st;
	char *p;
	size_t len = 0;

	if (fstat(fd, &st) == -1 || st.st_size < 0 || (size_t)st.st_size > UPGRADE_MAX)
		return NULL;
	p = xcalloc((size_t)st.st_size + 1, 1);
	while (len < (size_t)st.st_size) {
		ssize_t n = pread(fd, p + len, (size_t)st.st_size - len, (off_t)len);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			free(p);
			return NULL;
		}
		len += (size_t)n;
	}
	*len_r = len;
	return p;
}

int
upgrade_take(struct upgrade_state *s)
{
	const char *env = getenv(UPGRADE_ENV);
	char why[160], *end, *text;
	size_t len;
	long fd;
	int r;

	*s = (struct upgrade_state){ .sb_fd = -1, .st_fd = -1, .pt_fd = -1, .wake_fd = -1,
		.ctl_fd = -1, .ctl_gid = -1 };
	if (env == NULL)
		return 0;
	errno = 0;
	fd = strtol(env, &end, 10);
	(void)unsetenv(UPGRADE_ENV);
	if (errno != 0 || *end != '\0' || fd <= STDERR_FILENO || fd > INT_MAX) {
		log_err("upgrade: %s is not a descriptor; not taking over", UPGRADE_ENV);
		return -1;
	}
	text = upgrade_read((int)fd, &len);
	close((int)fd);
	if (text == NULL) {
		log_err("upgrade: the handover (fd %ld) cannot be read", fd);
		return -1;
	}
	r = upgrade_parse(text, len, s, why, sizeof(why));
	free(text);
	{
		int *fds = xcalloc(6 + s->n_l + s->n_k, sizeof(*fds));
		size_t n = upgrade_fds(s, -1, fds);

		(void)upgrade_cloexec(fds, n, true);	/* ours again, never a child's */
		free(fds);
	}
	if (r == -1) {
		log_err("upgrade: the handover: %s", why);
		return -1;
	}
	return 1;
}

static bool
upgrade_is_kid(const struct upgrade_state *s, pid_t pid)
{
	for (size_t i = 0; i < s->n_k; i++)
		if (s->k[i].pid == pid)
			return true;
	return false;
}

void
upgrade_abandon(const struct upgrade_state *s)
{
	int64_t deadline = clock_now() + NS_PER_S, now;
	size_t left = s->n_k;
	bool killed = false;

	for (size_t i = 0; i < s->n_k; i++) {
		int64_t grace = (int64_t)s->k[i].graceful_ms * NS_PER_MS;

		if (kill(s->k[i].pid, SIGTERM) == -1 && errno != ESRCH)
			log_warn("upgrade: kill(%ld): %s", (long)s->k[i].pid, strerror(errno));
		if (grace > UPGRADE_ABANDON_MAX_NS)
			grace = UPGRADE_ABANDON_MAX_NS;
		if (clock_now() + grace > deadline)
			deadline = clock_now() + grace;
	}
	log_notice("upgrade abandoned: %zu worker%s of the previous image finish their "
	    "connections", left, left == 1 ? "" : "s");
	while (left > 0) {
		struct timespec ts = { 0, 20 * 1000 * 1000 };
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);

		if (pid > 0) {
			left -= upgrade_is_kid(s, pid);
			continue;
		}
		if (pid == -1 && errno != EINTR)
			break;	/* ECHILD: none left */
		if ((now = clock_now()) >= deadline && !killed) {
			for (size_t i = 0; i < s->n_k; i++)
				(void)kill(s->k[i].pid, SIGKILL);
			killed = true;
			deadline = now + 5 * NS_PER_S;
		} else if (now >= deadline)
			break;
		(void)nanosleep(&ts, NULL);
	}
}

void
upgrade_free(struct upgrade_state *s)
{
	for (size_t i = 0; i < s->n_l; i++) {
		free(s->l[i].name);
		free(s->l[i].addr);
	}
	for (size_t i = 0; i < s->n_k; i++)
		free(s->k[i].log_path);
	free(s->l);
	free(s->k);
	free(s->ctl_path);
	*s = (struct upgrade_state){ .sb_fd = -1, .st_fd = -1, .pt_fd = -1, .wake_fd = -1,
		.ctl_fd = -1, .ctl_gid = -1 };
}
