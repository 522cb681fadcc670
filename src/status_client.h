/*
 * status_client.h - `sockd status`, the command-line side of the control
 * socket.
 */
#ifndef SOCKD_STATUS_CLIENT_H
#define SOCKD_STATUS_CLIENT_H

/* ARGV[0] is "status"; returns the exit status. */
int status_client_main(int argc, char **argv);

#endif
