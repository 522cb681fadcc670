/*
 * config_print.h - a loaded configuration back as libconfig text (sockd -T),
 * and strings quoted the way libconfig reads them (for messages too).
 */
#ifndef SOCKD_CONFIG_PRINT_H
#define SOCKD_CONFIG_PRINT_H

#include <stddef.h>
#include <stdio.h>

#include "config.h"

/* CFG as libconfig text that loads back to the same configuration, every
 * default written out; 0, or -1 when something cannot be written (a uid
 * without a name), said on standard error. Output errors are FP's. */
int config_print(FILE *fp, const struct sockd_config *cfg);

/* S as a libconfig string literal, quotes included, into BUF (SIZE of at
 * least 8): a literal too long for BUF is cut and ends in ...". */
void config_print_quote(char *buf, size_t size, const char *s);

#endif
