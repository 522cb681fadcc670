/*
 * replay.c - run a libFuzzer target without libFuzzer, deterministically,
 * so that make check exercises every fuzz target on every build (the
 * sanitizer builds included) and a crash found once stays found.
 *
 *   fuzz_NAME_replay [-n MUTATIONS] [-t SECONDS] [PATH...]
 *
 * Each PATH is a file or a directory of files (not descended into; names
 * starting with '.' skipped). Without one, the corpus is
 * $SOCKD_SRCDIR/tests/fuzz/corpus/NAME, NAME being this program's name
 * between "fuzz_" and the next '_' (fuzz_http_parse_replay: "http"). Every
 * file is run as it is, in strcmp order of its name, then MUTATIONS
 * (default 3000) mutations of each: bits flipped, bytes replaced, inserted
 * and deleted, the input cut, a part of it repeated, a part of another
 * file spliced in, from a fixed seed. The same corpus gives the same
 * inputs in the same order on every run. A run that takes more than
 * SECONDS (default 120) stops mutating, says so and still passes: the
 * inputs run are then a prefix of the same sequence, and a slow machine
 * is not a failure.
 *
 * A target that breaks a promise aborts, or a sanitizer stops it: this
 * program then saves the input to ./crash-replay-NAME and names it, with
 * the file and the mutation it came from, on standard error. Prints TAP.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* In the sanitizer runtimes only; NULL without them. */
void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));

#define REPLAY_FILE_MAX (1024 * 1024)
#define REPLAY_INPUT_MAX (64 * 1024)	/* mutations grow no input past this */

struct replay_file {
	char *path;
	unsigned char *data;
	size_t len;
};

static struct replay_file *files;
static size_t n_files;

/* The input being run, for the crash report. */
static const unsigned char *cur_data;
static size_t cur_len;
static const char *cur_path;
static long cur_mutation = -1;		/* -1: the file as it is */
static char crash_name[128];

static void
die(const char *what, const char *path)
{
	fprintf(stderr, "replay: %s: %s: %s\n", what, path, strerror(errno));
	exit(1);
}

/* Async-signal-safe: write() and open() only. */
static void
put(int fd, const char *s)
{
	size_t len = strlen(s);
	ssize_t n;

	while (len > 0 && ((n = write(fd, s, len)) > 0 || (n == -1 && errno == EINTR)))
		if (n > 0) {
			s += n;
			len -= (size_t)n;
		}
}

static void
save_crash(void)
{
	char num[24], *p = num + sizeof(num);
	unsigned long m = cur_mutation < 0 ? 0 : (unsigned long)cur_mutation;
	int fd;

	if (cur_data == NULL)
		return;
	*--p = '\0';
	do
		*--p = (char)('0' + m % 10);
	while ((m /= 10) != 0);
	put(2, "replay: the target failed on ");
	put(2, cur_path);
	if (cur_mutation >= 0) {
		put(2, ", mutation ");
		put(2, p);
	}
	fd = open(crash_name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd != -1) {
		for (size_t off = 0; off < cur_len;) {
			ssize_t n = write(fd, cur_data + off, cur_len - off);

			if (n <= 0 && errno != EINTR)
				break;
			off += n > 0 ? (size_t)n : 0;
		}
		close(fd);
		put(2, "; the input is in ");
		put(2, crash_name);
	}
	put(2, "\n");
	cur_data = NULL;
}

static void
on_signal(int sig)
{
	save_crash();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* ---- the corpus ------------------------------------------------------ */

static void
add_file(const char *path)
{
	struct replay_file *f;
	struct stat st;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		die("cannot open", path);
	if (fstat(fd, &st) == -1)
		die("cannot stat", path);
	if (!S_ISREG(st.st_mode) || st.st_size > REPLAY_FILE_MAX) {
		fprintf(stderr, "replay: %s: not a regular file of at most %d bytes\n", path,
		    REPLAY_FILE_MAX);
		exit(1);
	}
	if ((files = realloc(files, (n_files + 1) * sizeof(*files))) == NULL)
		die("out of memory", path);
	f = &files[n_files++];
	f->path = strdup(path);
	f->data = malloc((size_t)st.st_size + 1);
	if (f->path == NULL || f->data == NULL)
		die("out of memory", path);
	f->len = 0;
	while (f->len < (size_t)st.st_size) {
		n = read(fd, f->data + f->len, (size_t)st.st_size - f->len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			die("cannot read", path);
		if (n == 0)
			break;
		f->len += (size_t)n;
	}
	close(fd);
}

static int
by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
add_path(const char *path)
{
	struct dirent *e;
	struct stat st;
	char **names = NULL, *full;
	size_t n = 0;
	DIR *d;

	if (stat(path, &st) == -1)
		die("cannot stat", path);
	if (!S_ISDIR(st.st_mode)) {
		add_file(path);
		return;
	}
	if ((d = opendir(path)) == NULL)
		die("cannot open", path);
	errno = 0;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if ((names = realloc(names, (n + 1) * sizeof(*names))) == NULL ||
		    (names[n++] = strdup(e->d_name)) == NULL)
			die("out of memory", path);
	}
	if (errno != 0)
		die("cannot read", path);
	closedir(d);
	qsort(names, n, sizeof(*names), by_name);
	for (size_t i = 0; i < n; i++) {
		if (asprintf(&full, "%s/%s", path, names[i]) == -1)
			die("out of memory", path);
		if (stat(full, &st) == -1)
			die("cannot stat", full);
		if (S_ISREG(st.st_mode))
			add_file(full);
		free(full);
		free(names[i]);
	}
	free(names);
}

/* ---- mutations --------------------------------------------------------- */

static uint64_t rng = 0x2545f4914f6cdd1dULL;

static uint32_t
next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 32);
}

/* Bytes that mean something to one parser or another. */
static const unsigned char special[] = { 0, 1, 0x7f, 0x80, 0xff, '\n', '\r', ' ', '\t',
	'"', '\\', '{', '}', '(', ')', '[', ']', ';', ',', '=', ':', '/', '.', '#', '*', '0',
	'9', '-' };

/* Apply one to four mutations to BUF (LEN bytes, room for
 * REPLAY_INPUT_MAX); the new length. */
static size_t
mutate(unsigned char *buf, size_t len)
{
	for (int k = 1 + (int)(next() % 4); k > 0; k--) {
		size_t at = len > 0 ? next() % len : 0, n;
		const struct replay_file *o;

		switch (next() % 8) {
		case 0:	/* flip a bit */
			if (len > 0)
				buf[at] ^= (unsigned char)(1u << (next() % 8));
			break;
		case 1:	/* a byte replaced by a special one */
			if (len > 0)
				buf[at] = special[next() % sizeof(special)];
			break;
		case 2:	/* a byte inserted */
			if (len < REPLAY_INPUT_MAX) {
				memmove(buf + at + 1, buf + at, len - at);
				buf[at] = next() % 2 ? special[next() % sizeof(special)] :
				    (unsigned char)next();
				len++;
			}
			break;
		case 3:	/* a run of bytes deleted */
			n = len - at > 0 ? 1 + next() % (len - at < 16 ? len - at : 16) : 0;
			memmove(buf + at, buf + at + n, len - at - n);
			len -= n;
			break;
		case 4:	/* cut */
			len = at;
			break;
		case 5:	/* a part repeated in place */
			n = len - at > 0 ? 1 + next() % (len - at < 64 ? len - at : 64) : 0;
			if (len + n <= REPLAY_INPUT_MAX) {
				memmove(buf + at + n, buf + at, len - at);
				len += n;
			}
			break;
		case 6:	/* a byte set to a random value */
			if (len > 0)
				buf[at] = (unsigned char)next();
			break;
		default:	/* a part of another file spliced in */
			o = &files[next() % n_files];
			if (o->len == 0)
				break;
			{
				size_t from = next() % o->len;

				n = 1 + next() % (o->len - from);
				if (at + n > REPLAY_INPUT_MAX)
					n = REPLAY_INPUT_MAX - at;
				memcpy(buf + at, o->data + from, n);
				if (at + n > len)
					len = at + n;
			}
			break;
		}
	}
	return len;
}

/* ---- main ---------------------------------------------------------------- */

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* NAME from the program's: "fuzz_http_parse_replay" gives "http". */
static void
target_name(const char *argv0, char *name, size_t size)
{
	const char *base = strrchr(argv0, '/') ? strrchr(argv0, '/') + 1 : argv0;
	size_t n;

	if (strncmp(base, "fuzz_", 5) == 0)
		base += 5;
	n = strcspn(base, "_");
	snprintf(name, size, "%.*s", (int)n, base);
}

int
main(int argc, char **argv)
{
	static unsigned char buf[REPLAY_INPUT_MAX];
	long mutations = 3000, done = 0;
	double budget = 120, start;
	const char *srcdir;
	char name[64], *corpus, *end;
	int c, stopped = 0;

	while ((c = getopt(argc, argv, "n:t:")) != -1) {
		if (c == 'n' && (mutations = strtol(optarg, &end, 10)) >= 0 && *end == '\0')
			continue;
		if (c == 't' && (budget = strtod(optarg, &end)) > 0 && *end == '\0')
			continue;
		fprintf(stderr, "usage: %s [-n MUTATIONS] [-t SECONDS] [PATH...]\n", argv[0]);
		return 2;
	}
	target_name(argv[0], name, sizeof(name));
	snprintf(crash_name, sizeof(crash_name), "crash-replay-%s", name);
	if (optind == argc) {
		srcdir = getenv("SOCKD_SRCDIR");
		if (asprintf(&corpus, "%s/tests/fuzz/corpus/%s", srcdir != NULL ? srcdir : ".",
		    name) == -1)
			die("out of memory", name);
		add_path(corpus);
		free(corpus);
	}
	for (int i = optind; i < argc; i++)
		add_path(argv[i]);
	if (n_files == 0) {
		fprintf(stderr, "replay: no input files\n");
		return 1;
	}

	signal(SIGABRT, on_signal);
	signal(SIGSEGV, on_signal);
	signal(SIGBUS, on_signal);
	signal(SIGFPE, on_signal);
	if (__sanitizer_set_death_callback != NULL)
		__sanitizer_set_death_callback(save_crash);

	start = now();
	for (size_t i = 0; i < n_files; i++) {
		cur_path = files[i].path;
		cur_mutation = -1;
		cur_data = files[i].data;
		cur_len = files[i].len;
		LLVMFuzzerTestOneInput(files[i].data, files[i].len);
	}
	for (long m = 0; m < mutations && !stopped; m++)
		for (size_t i = 0; i < n_files; i++) {
			size_t len = files[i].len < REPLAY_INPUT_MAX ? files[i].len : REPLAY_INPUT_MAX;

			if ((done & 63) == 0 && now() - start > budget) {
				stopped = 1;
				break;
			}
			memcpy(buf, files[i].data, len);
			len = mutate(buf, len);
			cur_path = files[i].path;
			cur_mutation = m;
			cur_data = buf;
			cur_len = len;
			LLVMFuzzerTestOneInput(buf, len);
			done++;
		}
	cur_data = NULL;
	printf("1..1\nok 1 - %s: %zu files and %ld mutations kept every promise (%.1f s)%s\n",
	    name, n_files, done, now() - start, stopped ? ", stopped at the time limit" : "");
	return 0;
}
