/*
 * worker_signal.h - the one signal policy of every worker, whatever its
 * model: what a signal read from the worker's signalfd asks the model to
 * do. The policy does itself what needs no model (SIGUSR1: put in place
 * the log file the master has just sent; the rest of sig.c's set: one
 * line saying it is ignored) and returns what only the model can do.
 */
#ifndef SOCKD_WORKER_SIGNAL_H
#define SOCKD_WORKER_SIGNAL_H

#include "sig.h"
#include "worker_args.h"

enum worker_action {
	WORKER_NONE,			/* done here, or nothing to do */
	WORKER_DRAIN,			/* SIGTERM, SIGINT: stop accepting, finish */
	WORKER_QUIT,			/* SIGQUIT: go now */
	WORKER_REAP,			/* SIGCHLD: reap (models with children) */
};

enum worker_action worker_signal(const struct worker_args *a, const struct sig_info *si);

#endif
