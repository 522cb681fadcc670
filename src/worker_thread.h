/*
 * worker_thread.h - a serving thread inside a worker process (models
 * "thread" and "prefork" with threads > 1), as its main thread watches it.
 */
#ifndef SOCKD_WORKER_THREAD_H
#define SOCKD_WORKER_THREAD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "acceptor.h"
#include "worker_args.h"

struct worker_thread {
	pthread_t tid;
	_Atomic int64_t heartbeat_ns;	/* this thread's, refreshed while busy */
	_Atomic bool busy;		/* serving a connection */
	void *model;			/* the model's shared state */
	struct accepted conn;		/* model "thread": the connection to serve */
	int ep;				/* model "prefork": this thread's epoll instance */
	size_t index;			/* in the model's array */
};

pthread_attr_t *worker_thread_attr(void);
void worker_thread_serve(const struct worker_args *a, struct worker_thread *t,
    const struct accepted *c, int drain_fd);
void worker_thread_report(const struct worker_args *a, struct worker_thread *t, size_t n,
    bool draining);

#endif
