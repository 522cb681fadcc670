/*
 * model_event.c - the event model (nginx): each worker serves many
 * connections at once from one epoll loop. Not written yet.
 */
#include "log.h"
#include "model.h"

void
model_event_run(const struct worker_args *a, int sig_fd)
{
	(void)sig_fd;
	fatal(EXIT_CONFIG, "%s: model \"event\" is not written yet", a->svc->name);
}
