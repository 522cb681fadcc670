/*
 * init_fails.c - a module whose init() fails, so that every worker of its
 * service exits at start (status 78) before accepting anything: the case
 * in which sockd must not say READY=1. With config = { while = "PATH"; }
 * it fails only while PATH exists, so a test can let the service heal.
 * Otherwise it echoes.
 */
#define _POSIX_C_SOURCE 200809L

#include <syslog.h>
#include <unistd.h>

#include <sockd/handler.h>

static int
init_fails_init(const struct sockd_config_view *cfg, void **state_r)
{
	const char *path = sockd_config_get(cfg, "while");

	(void)state_r;
	if (path != NULL && access(path, F_OK) != 0)
		return 0;
	sockd_log(LOG_ERR, "init refused on purpose");
	return -1;
}

static void
init_fails_message(struct sockd_conn *c, const void *data, size_t len)
{
	sockd_reply(c, data, len);
}

SOCKD_EXPORT const struct sockd_handler sockd_handler_v1 = {
	.abi = SOCKD_HANDLER_ABI,
	.name = "init_fails",
	.init = init_fails_init,
	.message = init_fails_message,
};
