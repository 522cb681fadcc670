/*
 * no_symbol.c - a shared object that is not a sockd module: it exports no
 * sockd_handler_v1 (here a misspelt one). sockd must refuse to load it.
 */
#include <sockd/handler.h>

SOCKD_EXPORT int sockd_handler_vl = 1;
