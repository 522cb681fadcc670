/*
 * handler_exec.h - the exec handler: a program per connection, with the
 * socket as its standard input and output (inetd, tcpserver, UCSPI).
 */
#ifndef SOCKD_HANDLER_EXEC_H
#define SOCKD_HANDLER_EXEC_H

#include "handler.h"

extern const struct handler handler_exec;

#endif
