/*
 * worker.h - a worker process: its entry point, given what the master
 * hands it when it forks it (worker_args.h).
 */
#ifndef SOCKD_WORKER_H
#define SOCKD_WORKER_H

#include <stdnoreturn.h>

#include "worker_args.h"

noreturn void worker_main(const struct worker_args *a);

#endif
