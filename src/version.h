/*
 * version.h - what sockd -V says: the version and the facts of this build.
 */
#ifndef SOCKD_VERSION_H
#define SOCKD_VERSION_H

#include <stdio.h>

/* PACKAGE_VERSION; a test build links another in (tests/version_b.c), to
 * have a second version to upgrade to. */
extern const char sockd_version[];

void version_print(FILE *out);

#endif
