/*
 * config_file.c - read sockd.conf and every file it includes, and check
 * them, before libconfig sees a byte.
 *
 * libconfig 1.5 cannot be given a file as it stands: its scanner calls
 * exit(2) when an @include names a directory, blocks for ever on a FIFO,
 * re-scans a long token each time it refills its buffer (a 4 MB string
 * takes seconds), and its check for duplicate settings makes a group of
 * 65,000 settings take a minute. A master doing that during a reload
 * stops serving, or dies. So sockd reads each file itself (regular files
 * only, opened so that nothing can block), expands each @include in place
 * and bounds whatever costs libconfig or the checks after it more than
 * linear time: the size of everything read, the length of a string, the
 * nesting depth, the settings of one group, the number of values, the
 * includes. libconfig then parses that one buffer from memory, so what was
 * checked is what is parsed, and it never opens a file of its own. A table
 * maps each line of the buffer back to its file and line, for messages.
 *
 * The lexing here follows libconfig's own scanner (scanner.l) closely
 * enough to tell strings, comments and @include lines apart; anything else
 * it skips, and libconfig reports it as a syntax error.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config_file.h"
#include "util.h"

#define READ_EINTR_MAX 100
#define WHY_MAX (PATH_MAX + 128)

/* Lines [line, next segment's line) of the buffer are lines file_line...
 * of file NAMES[FILE]. */
struct config_file_seg {
	unsigned line;
	size_t file;
	unsigned file_line;
};

struct config_file {
	char *text;			/* NUL-terminated */
	size_t len, cap;
	unsigned lines;			/* newlines in text */
	struct config_file_seg *segs;
	size_t n_segs;
	char **names;			/* each file, as messages name it */
	size_t n_names;
};

/* One file being scanned; PARENT is the file that includes it. */
struct source {
	const char *name;
	size_t name_index;
	const char *text;
	size_t len, pos;
	size_t copied;			/* text[0, copied) is in the buffer */
	unsigned line;
	dev_t dev;
	ino_t ino;
	const struct source *parent;
};

/* The lexer's state. It runs on across files: libconfig sees one stream. */
struct scanner {
	struct config_file *f;
	struct config_errors *errs;
	const char *dir;		/* relative includes: NULL for the cwd */
	size_t bytes;			/* read so far, every file */
	unsigned includes;
	int include_depth;
	int depth;			/* 0: the top level, a group */
	char open[CONFIG_FILE_DEPTH_MAX + 1];	/* '{', '(' or '[' at each depth */
	unsigned members[CONFIG_FILE_DEPTH_MAX + 1];
	unsigned values;
	size_t string_len;		/* of the string being concatenated */
	char prev;			/* the last token: '=', ',', 's'tring, 'n'ame, ... */
};

/* ---- the buffer ------------------------------------------------------ */

static void
buffer_add(struct config_file *f, const char *p, size_t n)
{
	if (f->len + n + 1 > f->cap) {
		while (f->len + n + 1 > f->cap)
			f->cap = f->cap ? f->cap * 2 : 4096;
		f->text = xreallocarray(f->text, f->cap, 1);
	}
	memcpy(f->text + f->len, p, n);
	f->len += n;
	f->text[f->len] = '\0';
	for (const char *e = p + n; (p = memchr(p, '\n', (size_t)(e - p))) != NULL; p++)
		f->lines++;
}

/* From the next line of the buffer on, the lines are S's from FILE_LINE. */
static void
segment_add(struct config_file *f, const struct source *s, unsigned file_line)
{
	f->segs = xreallocarray(f->segs, f->n_segs + 1, sizeof(*f->segs));
	f->segs[f->n_segs++] = (struct config_file_seg){ .line = f->lines + 1,
		.file = s->name_index, .file_line = file_line };
}

static size_t
names_add(struct config_file *f, const char *name)
{
	f->names = xreallocarray(f->names, f->n_names + 1, sizeof(*f->names));
	f->names[f->n_names] = xstrdup(name);
	return f->n_names++;
}

/* Copy S's text up to offset TO into the buffer. */
static void
source_copy(struct config_file *f, struct source *s, size_t to)
{
	buffer_add(f, s->text + s->copied, to - s->copied);
	s->copied = to;
}

const char *
config_file_buffer(const struct config_file *f)
{
	return f->text != NULL ? f->text : "";
}

const char *
config_file_where(const struct config_file *f, unsigned line, unsigned *line_r)
{
	for (size_t i = f->n_segs; i-- > 0;)
		if (f->segs[i].line <= line) {
			*line_r = f->segs[i].file_line + (line - f->segs[i].line);
			return f->names[f->segs[i].file];
		}
	*line_r = line;
	return f->names[0];
}

void
config_file_free(struct config_file *f)
{
	if (f == NULL)
		return;
	for (size_t i = 0; i < f->n_names; i++)
		free(f->names[i]);
	free(f->names);
	free(f->segs);
	free(f->text);
	free(f);
}

/* ---- errors ---------------------------------------------------------- */

static int
scan_error(struct scanner *sc, const struct source *s, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* "FILE:LINE: MESSAGE"; always -1, for a return. */
static int
scan_error(struct scanner *sc, const struct source *s, unsigned line, const char *fmt, ...)
{
	char *what;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&what, fmt, ap) < 0)
		what = NULL;
	va_end(ap);
	config_errors_add(sc->errs, xasprintf("%s:%u: %s", s->name, line, what ? what : fmt));
	free(what);
	return -1;
}

/* ---- reading a file -------------------------------------------------- */

static const char *
file_kind(mode_t mode)
{
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISCHR(mode) || S_ISBLK(mode))
		return "a device";
	if (S_ISSOCK(mode))
		return "a socket";
	return "not a regular file";
}

/* Open PATH for reading; a fd, or -1 with WHY. O_NONBLOCK: a FIFO opens
 * at once (and is refused by fstat), a file in /proc that would block on
 * read fails instead. O_NOCTTY: a terminal never becomes ours. */
static int
file_open(const char *path, struct stat *st, char *why, size_t size)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);

	if (fd == -1) {
		snprintf(why, size, "cannot open: %s", strerror(errno));
		return -1;
	}
	if (fstat(fd, st) == -1)
		snprintf(why, size, "cannot read: %s", strerror(errno));
	else if (!S_ISREG(st->st_mode))
		snprintf(why, size, "cannot read: %s, not a regular file", file_kind(st->st_mode));
	else
		return fd;
	close(fd);
	return -1;
}

/* Read FD whole into *TEXT_R, NUL-terminated: 0; 1 if it has more than MAX
 * bytes (*LEN_R is then MAX + 1); -1 with WHY. */
static int
file_slurp(int fd, size_t max, char **text_r, size_t *len_r, char *why, size_t size)
{
	size_t len = 0, cap = 0;
	char *buf = NULL;
	int eintr = 0;
	ssize_t n;

	for (;;) {
		if (len == cap) {
			cap = cap ? cap * 2 : 4096;
			cap = cap > max + 1 ? max + 1 : cap;
			buf = xreallocarray(buf, cap + 1, 1);
		}
		n = read(fd, buf + len, cap - len);
		if (n == -1 && errno == EINTR && ++eintr < READ_EINTR_MAX)
			continue;
		if (n == -1) {
			snprintf(why, size, "cannot read: %s", strerror(errno));
			free(buf);
			return -1;
		}
		len += (size_t)n;
		if (n == 0 || len > max)
			break;
	}
	buf[len] = '\0';
	*text_r = buf;
	*len_r = len;
	return len > max;
}

/* Open and read PATH into S (at most MAX bytes): 0, 1 if too large, or -1
 * with WHY. */
static int
source_read(struct source *s, const char *path, size_t max, char *why, size_t size)
{
	struct stat st;
	char *text;
	int fd = file_open(path, &st, why, size), r;

	if (fd == -1)
		return -1;
	r = file_slurp(fd, max, &text, &s->len, why, size);
	close(fd);
	if (r == -1)
		return -1;
	s->text = text;
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	return r;
}

static unsigned
line_at(const char *text, size_t pos)
{
	unsigned line = 1;

	for (const char *p = text, *e = text + pos; (p = memchr(p, '\n', (size_t)(e - p))) != NULL;
	    p++)
		line++;
	return line;
}

static int
source_too_large(struct scanner *sc, const struct source *s, size_t max)
{
	return scan_error(sc, s, line_at(s->text, max),
	    "the configuration is larger than %d bytes, with all it includes",
	    CONFIG_FILE_SIZE_MAX);
}

/* ---- tokens ---------------------------------------------------------- */

static int
scan_value(struct scanner *sc, const struct source *s, unsigned line)
{
	if (++sc->values > CONFIG_FILE_VALUES_MAX)
		return scan_error(sc, s, line, "more than %d settings and values in the configuration",
		    CONFIG_FILE_VALUES_MAX);
	return 0;
}

/* A string, its escapes as libconfig reads them. Adjacent strings are one
 * value, concatenated: their lengths add up. */
static int
scan_string(struct scanner *sc, struct source *s)
{
	unsigned line = s->line;
	size_t n = 0, i = s->pos + 1;

	while (i < s->len && s->text[i] != '"') {
		if (s->text[i] == '\n')
			s->line++;
		if (s->text[i] == '\\' && i + 1 < s->len && s->text[i + 1] != '\0' &&
		    strchr("nrtf\\\"", s->text[i + 1]) != NULL)
			i++;
		else if (s->text[i] == '\\' && i + 3 < s->len && (s->text[i + 1] | 0x20) == 'x' &&
		    isxdigit((unsigned char)s->text[i + 2]) && isxdigit((unsigned char)s->text[i + 3]))
			i += 3;
		i++;		/* else a lone '\': libconfig keeps it, and what follows */
		n++;
	}
	if (i >= s->len)
		return scan_error(sc, s, line, "string not closed");
	s->pos = i + 1;
	sc->string_len = sc->prev == 's' ? sc->string_len + n : n;
	if (sc->string_len > CONFIG_FILE_STRING_MAX)
		return scan_error(sc, s, line, "string longer than %d bytes", CONFIG_FILE_STRING_MAX);
	if (sc->prev != 's' && scan_value(sc, s, line) == -1)
		return -1;
	sc->prev = 's';
	return 0;
}

static int
scan_comment(struct scanner *sc, struct source *s)
{
	const char *p = s->text + s->pos + 2;
	const char *end = memmem(p, s->len - s->pos - 2, "*/", 2);

	if (end == NULL)
		return scan_error(sc, s, s->line, "comment /* not closed");
	s->line += line_at(p, (size_t)(end - p)) - 1;
	s->pos = (size_t)(end - s->text) + 2;
	return 0;
}

static void
scan_line_comment(struct source *s)
{
	const char *nl = memchr(s->text + s->pos, '\n', s->len - s->pos);

	s->pos = nl != NULL ? (size_t)(nl - s->text) : s->len;
}

static int
scan_open(struct scanner *sc, struct source *s, char c)
{
	if (sc->depth >= CONFIG_FILE_DEPTH_MAX)
		return scan_error(sc, s, s->line, "nested deeper than %d levels",
		    CONFIG_FILE_DEPTH_MAX);
	sc->depth++;
	sc->open[sc->depth] = c;
	sc->members[sc->depth] = 0;
	sc->prev = ',';
	s->pos++;
	return scan_value(sc, s, s->line);
}

static bool
is_name_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	    c == '-' || c == '_' || c == '*' || c == '+' || c == '.';
}

/* A name (a setting's, or true/false after '='), or a number. A setting
 * name counts against its group's size: libconfig checks each new member
 * against every other, so a group's cost is quadratic. */
static int
scan_word(struct scanner *sc, struct source *s)
{
	bool name = (s->text[s->pos] | 0x20) >= 'a' && (s->text[s->pos] | 0x20) <= 'z';

	name = name || s->text[s->pos] == '*';
	while (s->pos < s->len && is_name_char(s->text[s->pos]))
		s->pos++;
	if (name && sc->prev != '=' && sc->open[sc->depth] == '{' &&
	    ++sc->members[sc->depth] > CONFIG_FILE_MEMBERS_MAX)
		return scan_error(sc, s, s->line, "more than %d settings in one group",
		    CONFIG_FILE_MEMBERS_MAX);
	sc->prev = name ? 'n' : 'v';
	return scan_value(sc, s, s->line);
}

static int
scan_punct(struct scanner *sc, struct source *s, char c)
{
	s->pos++;
	if (c == '}' || c == ')' || c == ']') {
		if (sc->depth > 0)
			sc->depth--;
		sc->prev = ')';
	} else if (c == '=' || c == ':') {
		sc->prev = '=';
	} else if (c == ',' || c == ';') {
		sc->prev = ',';
	} else {
		sc->prev = '?';	/* libconfig: "syntax error" */
	}
	return 0;
}

static int
scan_token(struct scanner *sc, struct source *s)
{
	char c = s->text[s->pos], next = s->pos + 1 < s->len ? s->text[s->pos + 1] : '\0';

	switch (c) {
	case '\n':
		s->line++;
		/* FALLTHROUGH */
	case ' ': case '\t': case '\r': case '\f':
		s->pos++;
		return 0;
	case '"':
		return scan_string(sc, s);
	case '{': case '(': case '[':
		return scan_open(sc, s, c);
	case '#':
		scan_line_comment(s);
		return 0;
	case '/':
		if (next == '*')
			return scan_comment(sc, s);
		if (next == '/') {
			scan_line_comment(s);
			return 0;
		}
		break;
	}
	if (is_name_char(c))
		return scan_word(sc, s);
	return scan_punct(sc, s, c);
}

/* ---- @include -------------------------------------------------------- */

/* At a line's start: does it open an @include, as libconfig's scanner has
 * it (^[ \t]*@include[ \t]+\")? The offset past the '"', or 0. */
static size_t
include_at(const struct source *s)
{
	size_t i = s->pos;

	while (i < s->len && (s->text[i] == ' ' || s->text[i] == '\t'))
		i++;
	if (s->len - i < 9 || memcmp(s->text + i, "@include", 8) != 0 ||
	    (s->text[i + 8] != ' ' && s->text[i + 8] != '\t'))
		return 0;
	for (i += 8; i < s->len && (s->text[i] == ' ' || s->text[i] == '\t'); i++)
		continue;
	return i < s->len && s->text[i] == '"' ? i + 1 : 0;
}

/* The file name from offset *I (past the '"') into NAME: libconfig knows
 * the escapes \\ and \" there, nothing else. *I ends past the closing '"'. */
static int
include_name(struct scanner *sc, struct source *s, size_t *i, char *name, size_t size)
{
	size_t n = 0;

	name[0] = '\0';	/* an error leaves it empty, not unset */
	for (; *i < s->len && s->text[*i] != '"'; (*i)++) {
		char c = s->text[*i];

		if (c == '\\' && *i + 1 < s->len && (s->text[*i + 1] == '\\' || s->text[*i + 1] == '"'))
			c = s->text[++*i];
		else if (c == '\\')
			return scan_error(sc, s, s->line, "@include: in a file name, '\\' escapes only '\\' or '\"'");
		if ((unsigned char)c < 0x20)
			return scan_error(sc, s, s->line, "@include: file name not closed on its line");
		if (n + 1 >= size)
			return scan_error(sc, s, s->line, "@include: file name too long");
		name[n++] = c;
	}
	if (*i >= s->len)
		return scan_error(sc, s, s->line, "@include: file name not closed");
	name[n] = '\0';
	(*i)++;
	return 0;
}

/* After the name: blanks and a comment at most, to the end of the line
 * (which is consumed, so the next line starts at *I). */
static int
include_rest(struct scanner *sc, struct source *s, size_t *i, const char *name)
{
	while (*i < s->len && strchr(" \t\r\f", s->text[*i]) != NULL && s->text[*i] != '\0')
		(*i)++;
	if (*i < s->len && (s->text[*i] == '#' ||
	    (s->text[*i] == '/' && *i + 1 < s->len && s->text[*i + 1] == '/'))) {
		const char *nl = memchr(s->text + *i, '\n', s->len - *i);

		*i = nl != NULL ? (size_t)(nl - s->text) : s->len;
	}
	if (*i < s->len && s->text[*i] != '\n')
		return scan_error(sc, s, s->line, "@include \"%s\": more on the line after it", name);
	if (*i < s->len)
		(*i)++;
	return 0;
}

static int scan_source(struct scanner *sc, struct source *s);

static bool
include_loops(const struct source *parent, const struct source *child)
{
	for (const struct source *p = parent; p != NULL; p = p->parent)
		if (p->dev == child->dev && p->ino == child->ino)
			return true;
	return false;
}

/* Read and scan the file NAME, included by S at LINE. */
static int
include_file(struct scanner *sc, struct source *s, const char *name, unsigned line)
{
	struct source child = { .line = 1, .parent = s };
	char why[WHY_MAX], *path;
	int r;

	if (name[0] == '\0')
		return scan_error(sc, s, line, "@include \"\": no file name");
	if (++sc->includes > CONFIG_FILE_INCLUDES_MAX)
		return scan_error(sc, s, line, "more than %d @include in all",
		    CONFIG_FILE_INCLUDES_MAX);
	if (sc->include_depth >= CONFIG_FILE_INCLUDE_DEPTH_MAX)
		return scan_error(sc, s, line, "@include \"%s\": files include each other"
		    " deeper than %d", name, CONFIG_FILE_INCLUDE_DEPTH_MAX);
	path = name[0] == '/' || sc->dir == NULL ? xstrdup(name) : xasprintf("%s/%s", sc->dir, name);
	r = source_read(&child, path, CONFIG_FILE_SIZE_MAX - sc->bytes, why, sizeof(why));
	if (r == -1)
		scan_error(sc, s, line, "@include \"%s\": %s: %s", name, path, why);
	else if (r == 1)
		scan_error(sc, s, line, "@include \"%s\": the configuration is larger than %d bytes,"
		    " with all it includes", name, CONFIG_FILE_SIZE_MAX);
	else if (include_loops(s, &child))
		r = scan_error(sc, s, line, "@include \"%s\": %s includes itself", name, path);
	if (r == 0) {
		sc->bytes += child.len;
		child.name = path;
		child.name_index = names_add(sc->f, path);
		sc->include_depth++;
		r = scan_source(sc, &child);
		sc->include_depth--;
	}
	free((char *)child.text);
	free(path);
	return r == 0 ? 0 : -1;
}

/* The @include line at S's position: replaced in the buffer by the file. */
static int
scan_include(struct scanner *sc, struct source *s, size_t i)
{
	unsigned line = s->line;
	char name[PATH_MAX];

	if (include_name(sc, s, &i, name, sizeof(name)) == -1 ||
	    include_rest(sc, s, &i, name) == -1)
		return -1;
	source_copy(sc->f, s, s->pos);
	s->pos = s->copied = i;
	s->line++;
	if (include_file(sc, s, name, line) == -1)
		return -1;
	segment_add(sc->f, s, s->line);
	return 0;
}

/* ---- a file ---------------------------------------------------------- */

static int
scan_source(struct scanner *sc, struct source *s)
{
	const char *nul = memchr(s->text, '\0', s->len);
	size_t inc;

	if (nul != NULL)
		return scan_error(sc, s, line_at(s->text, (size_t)(nul - s->text)),
		    "a NUL byte: not a text file");
	segment_add(sc->f, s, 1);
	while (s->pos < s->len) {
		bool bol = s->pos == 0 || s->text[s->pos - 1] == '\n';

		if (bol && (inc = include_at(s)) != 0) {
			if (scan_include(sc, s, inc) == -1)
				return -1;
		} else if (scan_token(sc, s) == -1) {
			return -1;
		}
	}
	source_copy(sc->f, s, s->len);
	/* An included file's last line ends there, not in the next file. */
	if (s->parent != NULL && s->len > 0 && s->text[s->len - 1] != '\n')
		buffer_add(sc->f, "\n", 1);
	return 0;
}

static struct config_file *
scan(struct source *s, const char *dir, struct config_errors *errs)
{
	struct config_file *f = xcalloc(1, sizeof(*f));
	struct scanner sc = { .f = f, .errs = errs, .dir = dir, .bytes = s->len,
		.open = { '{' } };

	s->name_index = names_add(f, s->name);
	if (scan_source(&sc, s) == -1) {
		config_file_free(f);
		return NULL;
	}
	return f;
}

struct config_file *
config_file_text(const char *text, const char *name, struct config_errors *errs)
{
	struct source s = { .name = name, .text = text, .len = strlen(text), .line = 1 };
	struct scanner sc = { .errs = errs };

	if (s.len > CONFIG_FILE_SIZE_MAX)
		return source_too_large(&sc, &s, CONFIG_FILE_SIZE_MAX), NULL;
	return scan(&s, NULL, errs);
}

struct config_file *
config_file_read(const char *path, struct config_errors *errs)
{
	struct source s = { .name = path, .line = 1 };
	struct scanner sc = { .errs = errs };
	struct config_file *f = NULL;
	char why[WHY_MAX], *dir;
	int r = source_read(&s, path, CONFIG_FILE_SIZE_MAX, why, sizeof(why));

	if (r == -1) {
		config_errors_add(errs, xasprintf("%s: %s", path, why));
		return NULL;
	}
	if (r == 1) {
		source_too_large(&sc, &s, CONFIG_FILE_SIZE_MAX);
	} else {
		/* @include names are relative to the main file's directory,
		 * in included files too, as with libconfig itself. */
		dir = xstrdup(path);
		f = scan(&s, dirname(dir), errs);
		free(dir);
	}
	free((char *)s.text);
	return f;
}
