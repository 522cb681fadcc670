/*
 * model_thread.c - the thread model (ThreadingMixIn): one process, a
 * thread per connection. Not written yet.
 */
#include "log.h"
#include "model.h"

void
model_thread_run(const struct worker_args *a, int sig_fd)
{
	(void)sig_fd;
	fatal(EXIT_CONFIG, "%s: model \"thread\" is not written yet", a->svc->name);
}
