/*
 * http_file.c - static files for the http handler: the request-target
 * becomes a path below the root, opened so that nothing outside the root
 * can be reached.
 *
 * Three fences, each enough on its own for the common attacks: the target
 * is percent-decoded once and refused (400) if it has an invalid escape,
 * a NUL or a ".." segment; the root is a directory descriptor opened once
 * in start(), and every lookup is relative to it; and the lookup is
 * openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS), so the kernel refuses
 * any resolution (a symlink, say) that would leave the root. Kernels
 * before 5.6 lack openat2: there the path is walked one component at a
 * time with O_NOFOLLOW, so no symlink is followed at all.
 *
 * Files are opened O_NONBLOCK so a FIFO under the root cannot block the
 * worker; anything but a regular file or a directory is 403.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "http_file.h"
#include "log.h"

#define HTTP_FILE_FLAGS (O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)

static int root_fd = -1;
static bool have_openat2;

static const struct { const char *ext, *type; } types[] = {
	{ "html", "text/html; charset=utf-8" }, { "htm", "text/html; charset=utf-8" },
	{ "css", "text/css; charset=utf-8" }, { "js", "text/javascript; charset=utf-8" },
	{ "json", "application/json" }, { "txt", "text/plain; charset=utf-8" },
	{ "png", "image/png" }, { "jpg", "image/jpeg" }, { "jpeg", "image/jpeg" },
	{ "gif", "image/gif" }, { "svg", "image/svg+xml" }, { "ico", "image/vnd.microsoft.icon" },
	{ "pdf", "application/pdf" }, { "wasm", "application/wasm" },
	{ "xml", "application/xml" }, { "woff2", "font/woff2" },
};

const char *
http_file_type(const char *name)
{
	const char *slash = strrchr(name, '/'), *dot = strrchr(slash ? slash : name, '.');

	if (dot != NULL)
		for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
			if (strcasecmp(dot + 1, types[i].ext) == 0)
				return types[i].type;
	return "application/octet-stream";
}

static int
http_file_openat2(int dir, const char *path, int flags)
{
	struct open_how how = { .flags = (unsigned long long)flags,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS };
	long fd;

	/* EAGAIN: a rename raced with the lookup; the kernel asks to retry. */
	for (int i = 0; i < 4; i++)
		if ((fd = syscall(SYS_openat2, dir, path, &how, sizeof(how))) != -1 ||
		    errno != EAGAIN)
			break;
	return (int)fd;
}

/* Open the root; learn whether this kernel has openat2. Before privileges
 * are dropped, so a root only root can search still works. */
int
http_file_start(const char *root)
{
	int fd;

	if ((root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC)) == -1) {
		log_err("http root %s: %s", root, strerror(errno));
		return -1;
	}
	fd = http_file_openat2(root_fd, ".", O_PATH | O_CLOEXEC);
	have_openat2 = fd >= 0 || errno != ENOSYS;
	if (fd >= 0)
		close(fd);
	if (!have_openat2)
		log_notice("http: no openat2 (Linux < 5.6): symlinks under %s are not followed", root);
	return 0;
}

/* Without openat2: one component at a time, following no symlink. */
static int
http_file_walk(const char *path, int flags)
{
	char buf[HTTP_PATH_MAX], *seg, *next;
	int dir = root_fd, fd = -1;

	strcpy(buf, path);	/* the caller's is at most HTTP_PATH_MAX */
	for (seg = buf; seg != NULL; seg = next) {
		if ((next = strchr(seg, '/')) != NULL)
			*next++ = '\0';
		fd = openat(dir, seg, next != NULL ? O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC :
		    flags | O_NOFOLLOW);
		if (dir != root_fd)
			close(dir);
		if (fd == -1)
			return -1;
		dir = fd;
	}
	return fd;
}

static int
http_file_lookup(const char *path)
{
	return have_openat2 ? http_file_openat2(root_fd, path, HTTP_FILE_FLAGS) :
	    http_file_walk(path, HTTP_FILE_FLAGS);
}

static int
http_file_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
		return (c | 0x20) - 'a' + 10;
	return -1;
}

/* The target's path (query dropped; the parser refused a fragment),
 * percent-decoded into BUF; 0, or a status: 400 (invalid escape, NUL),
 * 414 (too long). */
static int
http_file_decode(const char *t, size_t len, char *buf, size_t size, size_t *len_r)
{
	size_t n = 0;

	for (size_t i = 0; i < len && t[i] != '?'; i++) {
		char ch = t[i];

		if (ch == '%') {
			int hi = i + 2 < len ? http_file_hex(t[i + 1]) : -1;
			int lo = hi >= 0 ? http_file_hex(t[i + 2]) : -1;

			if (lo < 0 || (hi == 0 && lo == 0))
				return 400;
			ch = (char)(hi << 4 | lo);
			i += 2;
		}
		if (n + 1 >= size)
			return 414;
		buf[n++] = ch;
	}
	buf[n] = '\0';
	*len_r = n;
	return 0;
}

/* "/a//./b/" → "a/b" ("." for the root); 400 for a ".." segment. */
static int
http_file_relative(const char *path, char *rel, size_t size)
{
	const char *p = path, *end = path + strlen(path);
	size_t n = 0;

	while (p < end) {
		const char *slash = memchr(p, '/', (size_t)(end - p)), *e = slash ? slash : end;
		size_t seg = (size_t)(e - p);

		if (seg == 2 && p[0] == '.' && p[1] == '.')
			return 400;
		if (seg > 0 && !(seg == 1 && p[0] == '.')) {
			if (n + seg + 2 > size)
				return 414;
			if (n > 0)
				rel[n++] = '/';
			memcpy(rel + n, p, seg);
			n += seg;
		}
		p = e + 1;
	}
	if (n == 0)
		rel[n++] = '.';
	rel[n] = '\0';
	return 0;
}

/* An open() error as a status: missing is 404, forbidden or outside is 403. */
static int
http_file_errno(const char *path)
{
	switch (errno) {
	case ENOENT:
	case ENOTDIR:
	case ENAMETOOLONG:
		return 404;
	case EXDEV:		/* RESOLVE_BENEATH: the lookup would leave the root */
	case ELOOP:		/* a symlink, without openat2 */
	case EACCES:
	case EPERM:
	case ENXIO:		/* a FIFO with no writer, a socket */
		return 403;
	default:
		log_warn("http: open %s: %s", path, strerror(errno));
		return 500;
	}
}

/* Open PATH below the root; a directory yields its index file. */
static int
http_file_resolve(char *path, size_t size, bool slash, const char *index, struct stat *st,
    int *fd_r)
{
	int fd = http_file_lookup(path);

	if (fd == -1)
		return http_file_errno(path);
	if (fstat(fd, st) == -1 || (!S_ISDIR(st->st_mode) && !S_ISREG(st->st_mode))) {
		close(fd);
		return 403;
	}
	if (S_ISREG(st->st_mode)) {
		*fd_r = fd;
		return 200;
	}
	close(fd);
	if (!slash)
		return 301;	/* relative links in the index need the slash */
	if (strlen(path) + strlen(index) + 2 > size)
		return 404;
	strcat(strcat(path, "/"), index);
	if ((fd = http_file_lookup(path)) == -1)
		return errno == ENOENT ? 403 : http_file_errno(path);	/* no listing */
	if (fstat(fd, st) == -1 || !S_ISREG(st->st_mode)) {
		close(fd);
		return 403;
	}
	*fd_r = fd;
	return 200;
}

/*
 * Find the file for request-target TARGET (LEN bytes; the query is
 * ignored). 200 with *F_R filled in (its fd is the caller's to close), or
 * the status to answer: 301 (a directory named without its trailing
 * slash), 400, 403, 404, 414, 500.
 */
int
http_file_open(const char *target, size_t len, const char *index, struct http_file *f_r)
{
	char path[HTTP_PATH_MAX], rel[HTTP_PATH_MAX];
	struct stat st;
	size_t n;
	int status;

	if ((status = http_file_decode(target, len, path, sizeof(path), &n)) != 0 ||
	    (status = http_file_relative(path, rel, sizeof(rel))) != 0)
		return status;
	status = http_file_resolve(rel, sizeof(rel), n > 0 && path[n - 1] == '/', index, &st,
	    &f_r->fd);
	if (status != 200)
		return status;
	f_r->size = st.st_size;
	f_r->mtime = st.st_mtime;
	f_r->type = http_file_type(rel);
	return 200;
}
