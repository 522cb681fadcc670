/*
 * model.c - the table of server models (model.h).
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "model.h"
#include "util.h"

static uint32_t
capacity_threads(const struct config_service *svc)
{
	return (uint32_t)svc->threads;
}

static uint32_t
capacity_children(const struct config_service *svc)
{
	return (uint32_t)svc->max_children;
}

static uint32_t
capacity_max_threads(const struct config_service *svc)
{
	return (uint32_t)svc->max_threads;
}

static uint32_t
capacity_unbounded(const struct config_service *svc)
{
	(void)svc;
	return UINT32_MAX;
}

/* In enum config_model's order; the first is the default. */
static const struct model models[] = {
	[MODEL_PREFORK] = { "prefork", model_prefork_run, dgram_loop_run, MODEL_THREADS,
		capacity_threads },
	[MODEL_EVENT] = { "event", model_event_run, dgram_loop_run, MODEL_NONBLOCKING,
		capacity_unbounded },
	[MODEL_FORK] = { "fork", model_fork_run, dgram_fork_run, MODEL_PROCESS_PER_CONN,
		capacity_children },
	[MODEL_THREAD] = { "thread", model_thread_run, dgram_thread_run, MODEL_THREAD_PER_CONN,
		capacity_max_threads },
	/* The event model over io_uring; a datagram service's loop is
	 * recvmmsg's already (dgram_loop.c), which the ring would not beat. */
	[MODEL_URING] = { "uring", model_uring_run, dgram_loop_run, MODEL_NONBLOCKING,
		capacity_unbounded },
};

const struct model *
model_get(enum config_model m)
{
	return (size_t)m < ARRAY_SIZE(models) ? &models[m] : &models[MODEL_PREFORK];
}

const struct model *
model_find(const char *name, enum config_model *m_r)
{
	for (size_t i = 0; i < ARRAY_SIZE(models); i++)
		if (strcmp(models[i].name, name) == 0) {
			*m_r = (enum config_model)i;
			return &models[i];
		}
	return NULL;
}

void
model_names(char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(models) && len < size; i++) {
		int n = snprintf(buf + len, size - len, "%s\"%s\"", i > 0 ? ", " : "",
		    models[i].name);

		len += n > 0 ? (size_t)n : 0;
	}
}

/*
 * The models this machine can run: a uring service where io_uring cannot
 * be had (kernel.io_uring_disabled, a seccomp filter, an old kernel, a
 * build without liburing) runs as event, said once per start or reload.
 * Asked once, here in the master, rather than by every worker.
 */
void
model_settle(struct sockd_config *cfg)
{
	char why[160];
	int usable = -1;	/* not asked yet */

	for (size_t i = 0; i < cfg->n_services; i++) {
		struct config_service *svc = &cfg->services[i];

		if (svc->model != MODEL_URING)
			continue;
		if (usable == -1)
			usable = uring_usable(why, sizeof(why));
		if (usable)
			continue;
		log_notice("%s: io_uring cannot be used (%s): model \"uring\" runs as \"event\"",
		    svc->name, why);
		svc->model = MODEL_EVENT;
	}
}
