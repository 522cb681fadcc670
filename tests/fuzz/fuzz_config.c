/*
 * fuzz_config.c - a fuzz target for the configuration loader: the input,
 * as text, through config_load_string() (src/config.c, config_file.c,
 * config_handler.c and libconfig underneath).
 *
 * Promises checked: a load returns a configuration and no error, or NULL
 * and at least one error, each "NAME:LINE: ..." and at most
 * CONFIG_ERRORS_MAX of them kept. A configuration loaded prints (sockd -T,
 * src/config_print.c), and the printed text loads again and prints the
 * same text: -T is a fixed point. And config_print_quote(), which -T writes
 * every string with, on the start of the input as one string: quoted whole
 * it reads back through libconfig as the same bytes; quoted into a small
 * buffer it fits, is still a literal, and is cut only with ...". Every
 * service's one-line description fits its buffer. Everything is freed; under LeakSanitizer
 * a leak fails. libconfig's own leak after a syntax error is suppressed by
 * src/lsan.c, linked in as into every sockd binary.
 *
 * What a load touches outside memory, and why this target is safe to run
 * anywhere:
 *  - @include reads the named file (relative to the working directory for
 *    a string). Inputs that contain "@include" are skipped: reading
 *    whatever file the fuzzer names would make results depend on the
 *    machine, and the include machinery has its own tests with real files
 *    (tests/unit/test_config.c, tests/data/include*.conf). libconfig's own
 *    @include is pointed at /dev/null, so it cannot open a file either.
 *  - http.root and exec.argv[0] are checked with stat() and access();
 *    user, group, unix.owner, unix.group and control.group are looked up
 *    with getpwnam()/getgrnam(), and printing looks their ids up again.
 *    These only read metadata, so they are left in: an answer may differ
 *    between machines, but within a run the two loads see the same one.
 *  - Nothing is opened for writing, no socket is made, no module loaded,
 *    no program run: access_log and module.path are only checked to be
 *    absolute paths here.
 * Inputs are cut at CONFIG_FUZZ_MAX bytes (NUL-terminated copies; the text
 * ends at a NUL in it, as a C string does).
 */
#include <libconfig.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "config_print.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CONFIG_FUZZ_MAX (64 * 1024)
#define CONFIG_FUZZ_NAME "fuzz.conf"
#define CONFIG_FUZZ_QUOTE_MAX 256	/* bytes of the input quoted as a string */

static void
fuzz_check_errors(const struct sockd_config *cfg, const struct config_errors *errs)
{
	size_t n = strlen(CONFIG_FUZZ_NAME);

	if (cfg != NULL && (errs->count != 0 || errs->dropped != 0))
		abort();
	if (cfg == NULL && errs->count == 0)
		abort();
	if (errs->count > CONFIG_ERRORS_MAX)
		abort();
	for (size_t i = 0; i < errs->count; i++)
		if (errs->msg[i] == NULL || strncmp(errs->msg[i], CONFIG_FUZZ_NAME, n) != 0 ||
		    errs->msg[i][n] != ':')
			abort();
}

/* CFG as sockd -T prints it, in a malloc'd string; NULL when it cannot be
 * printed (an id without a name, said on standard error). */
static char *
fuzz_print(const struct sockd_config *cfg)
{
	char *text = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&text, &len);
	int r;

	if (fp == NULL)
		abort();
	r = config_print(fp, cfg);
	if (fclose(fp) != 0 || text == NULL)
		abort();
	if (r == -1) {
		free(text);
		return NULL;
	}
	if (strlen(text) != len)
		abort();
	return text;
}

/* S quoted into SIZE bytes: a literal that fits, cut only when the whole
 * one (WHOLE) does not. */
static void
fuzz_check_quote_cut(const char *s, const char *whole, size_t size)
{
	char *q = malloc(size);
	size_t n;

	if (q == NULL)
		abort();
	config_print_quote(q, size, s);
	n = strlen(q);
	if (n >= size || n < 2 || q[0] != '"' || q[n - 1] != '"')
		abort();
	if (strlen(whole) < size ? strcmp(q, whole) != 0 :
	    n < 5 || strcmp(q + n - 4, "...\"") != 0)
		abort();
	free(q);
}

/* The input's first bytes as one string: quoted, read back by libconfig. */
static void
fuzz_check_quote(const char *text)
{
	size_t len = strnlen(text, CONFIG_FUZZ_QUOTE_MAX), big = 4 * len + 8;
	char *s = strndup(text, len), *q = malloc(big), *doc;
	const char *back;
	config_t lc;

	if (s == NULL || q == NULL)
		abort();
	config_print_quote(q, big, s);
	if (asprintf(&doc, "x = %s;", q) == -1)
		abort();
	config_init(&lc);
	config_set_include_dir(&lc, "/dev/null");
	if (config_read_string(&lc, doc) != CONFIG_TRUE) {
		fprintf(stderr, "fuzz_config: quoted, libconfig cannot read it: %s: %s\n", doc,
		    config_error_text(&lc));
		abort();
	}
	if (config_lookup_string(&lc, "x", &back) != CONFIG_TRUE || strcmp(back, s) != 0) {
		fprintf(stderr, "fuzz_config: quoted and read back, not the same: %s\n", doc);
		abort();
	}
	config_destroy(&lc);
	fuzz_check_quote_cut(s, q, 8 + len % 32);
	fuzz_check_quote_cut(s, q, 8);
	free(doc);
	free(q);
	free(s);
}

static void
fuzz_check_describe(const struct sockd_config *cfg)
{
	char buf[256];

	for (size_t i = 0; i < cfg->n_services; i++) {
		memset(buf, 'x', sizeof(buf));
		config_describe_service(&cfg->services[i], buf, sizeof(buf));
		if (memchr(buf, '\0', sizeof(buf)) == NULL)
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config_errors errs = { 0 };
	struct sockd_config *cfg, *again;
	char *text, *printed, *reprinted;

	if (size > CONFIG_FUZZ_MAX)
		size = CONFIG_FUZZ_MAX;
	if (memmem(data, size, "@include", 8) != NULL)
		return 0;
	if ((text = malloc(size + 1)) == NULL)
		abort();
	memcpy(text, data, size);
	text[size] = '\0';

	fuzz_check_quote(text);
	cfg = config_load_string(text, CONFIG_FUZZ_NAME, &errs);
	fuzz_check_errors(cfg, &errs);
	config_errors_free(&errs);
	free(text);
	if (cfg == NULL)
		return 0;
	fuzz_check_describe(cfg);

	printed = fuzz_print(cfg);
	config_free(cfg);
	if (printed == NULL)
		return 0;
	again = config_load_string(printed, CONFIG_FUZZ_NAME, &errs);
	if (again == NULL) {
		for (size_t i = 0; i < errs.count; i++)
			fprintf(stderr, "fuzz_config: the printed text fails: %s\n", errs.msg[i]);
		abort();
	}
	fuzz_check_errors(again, &errs);
	config_errors_free(&errs);
	reprinted = fuzz_print(again);
	if (reprinted == NULL || strcmp(printed, reprinted) != 0) {
		fprintf(stderr, "fuzz_config: printed twice, two texts:\n%s\n----\n%s\n", printed,
		    reprinted != NULL ? reprinted : "(none)");
		abort();
	}
	free(printed);
	free(reprinted);
	config_free(again);
	return 0;
}
