/*
 * model.h - the server models, as one table: what each is called, how a
 * worker runs it, how many connections one worker serves at once, and the
 * facts the rest of sockd asks about it instead of naming models. Each
 * model's run() serves the listeners in its worker_args until a stop
 * signal arrives on SIG_FD; run_dgram() does the same for a datagram
 * service.
 */
#ifndef SOCKD_MODEL_H
#define SOCKD_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct worker_args;

enum model_flag {
	MODEL_THREADS = 1 << 0,		/* honours threads > 1 (prefork) */
	MODEL_PROCESS_PER_CONN = 1 << 1,	/* a child process per connection,
					 * max_children of them (fork); exec's
					 * program runs in that child */
	MODEL_THREAD_PER_CONN = 1 << 2,	/* a thread per connection, max_threads */
	MODEL_NONBLOCKING = 1 << 3,	/* many connections in one loop: a
					 * handler call must not wait (event) */
};

struct model {
	const char *name;
	void (*run)(const struct worker_args *a, int sig_fd);
	/* The same for a datagram service (dgram_loop.c, dgram_spawn.c). */
	void (*run_dgram)(const struct worker_args *a, int sig_fd);
	unsigned flags;
	/* Connections one worker of SVC serves at once (UINT32_MAX: no bound). */
	uint32_t (*capacity)(const struct config_service *svc);
};

/* The model M; never NULL for a value config.c produced. */
const struct model *model_get(enum config_model m);
/* The model named NAME, with its enum in *M_R; NULL if none. */
const struct model *model_find(const char *name, enum config_model *m_r);
/* The names, for a message: "\"prefork\", \"event\", ...". */
void model_names(char *buf, size_t size);
static inline bool
model_has(const struct config_service *svc, enum model_flag f)
{
	return (model_get(svc->model)->flags & f) != 0;
}

void model_prefork_run(const struct worker_args *a, int sig_fd);
void model_fork_run(const struct worker_args *a, int sig_fd);
void model_event_run(const struct worker_args *a, int sig_fd);
void model_thread_run(const struct worker_args *a, int sig_fd);
void model_uring_run(const struct worker_args *a, int sig_fd);
/* Can this process run the uring model? If not, why (for the notice). */
bool uring_usable(char *why, size_t size);
/* A model this machine cannot run becomes the one it falls back to. */
void model_settle(struct sockd_config *cfg);
void dgram_loop_run(const struct worker_args *a, int sig_fd);
void dgram_fork_run(const struct worker_args *a, int sig_fd);
void dgram_thread_run(const struct worker_args *a, int sig_fd);

#endif
