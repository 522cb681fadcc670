/*
 * version.c - sockd -V: the version, then one "name: value" line per build
 * fact, for bug reports and for checking what a package really contains.
 *
 * The facts come from build.h (made by make from configure's findings), so a
 * rebuild after a new configure never reports the old ones. The libraries'
 * versions are those built against; the files actually loaded are named from
 * the process's own link map, since neither library reports its version.
 */
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build.h"
#include "upgrade.h"
#include "model.h"
#include "version.h"

__attribute__((weak)) const char sockd_version[] = PACKAGE_VERSION;

struct version_lib {
	const char *prefix;	/* "libsystemd.so" */
	const char *path;	/* the loaded file's name, or NULL */
};

static int
version_find_lib(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct version_lib *lib = arg;
	const char *base = strrchr(info->dlpi_name, '/');

	(void)size;
	base = base != NULL ? base + 1 : info->dlpi_name;
	if (strncmp(base, lib->prefix, strlen(lib->prefix)) != 0)
		return 0;
	lib->path = info->dlpi_name;
	return 1;
}

/* "1.5, loaded from /usr/lib/.../libconfig.so.9.2.0" (symlinks resolved). */
static void
version_print_lib(FILE *out, const char *name, const char *built)
{
	char prefix[64];
	struct version_lib lib = { .prefix = prefix };
	char *real = NULL;

	snprintf(prefix, sizeof(prefix), "%s.so", name);
	dl_iterate_phdr(version_find_lib, &lib);
	if (lib.path != NULL)
		real = realpath(lib.path, NULL);
	fprintf(out, "%s: %s at build time, loaded from %s\n", name, built,
	    real != NULL ? real : lib.path != NULL ? lib.path : "(not found)");
	free(real);
}

static const char *
version_compiler(void)
{
#if defined(__clang__)
	return "clang " __clang_version__;
#elif defined(__GNUC__)
	return "gcc " __VERSION__;
#else
	return "unknown";
#endif
}

/* "io_uring: yes (liburing 2.3)", or no and why: model "uring" runs as
 * event then. */
static void
version_print_uring(FILE *out)
{
	char why[160];

	if (uring_usable(why, sizeof(why)))
		fprintf(out, "io_uring: yes (liburing %s)\n", SOCKD_LIBURING_VERSION);
	else
		fprintf(out, "io_uring: no (%s): model \"uring\" runs as \"event\"\n", why);
}

void
version_print(FILE *out)
{
	fprintf(out, "sockd %s\n", sockd_version);
	fprintf(out, "default config: %s\n", SOCKD_CONFIG_PATH);
	version_print_lib(out, "libconfig", SOCKD_LIBCONFIG_VERSION);
	version_print_lib(out, "libsystemd", SOCKD_LIBSYSTEMD_VERSION);
	fprintf(out, "sanitizers: %s\n", SOCKD_SANITIZE_FLAGS[0] != '\0' ?
	    "on (" SOCKD_SANITIZE_FLAGS ")" : "off");
	fprintf(out, "compiler: %s\n", version_compiler());
	version_print_uring(out);
	/* What a running master checks before it becomes this binary (SIGUSR2). */
	fprintf(out, "state layout: %s\n", upgrade_layout());
}
