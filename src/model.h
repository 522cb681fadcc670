/*
 * model.h - the server models a worker can run. Each serves the listeners
 * in its worker_args until a stop signal arrives on SIG_FD.
 */
#ifndef SOCKD_MODEL_H
#define SOCKD_MODEL_H

#include "worker.h"

void model_prefork_run(const struct worker_args *a, int sig_fd);
void model_fork_run(const struct worker_args *a, int sig_fd);
void model_event_run(const struct worker_args *a, int sig_fd);
void model_thread_run(const struct worker_args *a, int sig_fd);

#endif
