/*
 * version.h - what sockd -V says: the version and the facts of this build.
 */
#ifndef SOCKD_VERSION_H
#define SOCKD_VERSION_H

#include <stdio.h>

void version_print(FILE *out);

#endif
