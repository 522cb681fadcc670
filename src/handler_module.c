/*
 * handler_module.c - the "module" handler: a protocol in a shared object
 * written against the public interface, include/sockd/handler.h, and the
 * calls that interface offers modules (sockd_send(), sockd_log(), ...).
 *
 * The master loads each service's module with its configuration (sockd -t,
 * startup, every reload: handler_module_load), so a module that cannot load
 * is a configuration error with file and line, and every worker inherits
 * the mapping through fork. The handle belongs to the configuration and is
 * closed with it. A worker finds the module's struct in its start hook,
 * runs init() there (still root, if sockd started as root) and fini() when
 * it exits; one worker serves one service, so one module per process.
 *
 * The opaque types of the interface are sockd's own: struct sockd_conn is
 * struct conn, struct sockd_config_view is the service's config_service.
 *
 * XXX dlopen of a path already loaded returns the object in memory: a
 * reload does not pick up a module file changed at the same path (a new
 * path does). Documented in sockd-handler(3): restart, or install under a
 * new name and change module.path.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sockd/handler.h"

#include "conn.h"
#include "handler.h"
#include "handler_module.h"
#include "log.h"
#include "util.h"

#define MODULE_SYMBOL "sockd_handler_v1"
#define MODULE_WHY_MAX 512

/* This worker's module, from its start hook on. */
static const struct sockd_handler *module;
static void *module_state;
static const char *module_service;	/* for sockd_log() */
static pid_t module_pid;		/* ran init(): fini() runs there only */

/* ---- loading, in the master ---------------------------------------------- */

/* dlerror() text without the path in front: the message names it already. */
static const char *
module_dlerror(const char *path)
{
	const char *e = dlerror();
	size_t n = strlen(path);

	if (e == NULL)
		return "unknown error";
	if (strncmp(e, path, n) == 0 && e[n] == ':' && e[n + 1] == ' ')
		return e + n + 2;
	return e;
}

/* dlopen() of a FIFO blocks the master for ever (sockd -t, a reload): a
 * path that opens, without blocking, as anything but a regular file is
 * refused first. What does not open is left to dlopen() to report. */
static int
module_regular(const char *path, char *why, size_t size)
{
	struct stat st;
	int fd, r = 0;

	if (strchr(path, '/') == NULL)
		return 0;	/* for the dynamic linker to search, not a path */
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd == -1)
		return 0;
	if (fstat(fd, &st) == 0 && !S_ISREG(st.st_mode)) {
		snprintf(why, size, "not a regular file");
		r = -1;
	}
	close(fd);
	return r;
}

/* Open SVC's module and check what it exports; 0, or -1 with WHY. */
static int
module_open(struct config_service *svc, char *why, size_t size)
{
	const struct sockd_handler *h;
	void *dl;

	if (module_regular(svc->module_path, why, size) == -1)
		return -1;
	dl = dlopen(svc->module_path, RTLD_NOW | RTLD_LOCAL);
	if (dl == NULL) {
		snprintf(why, size, "%s", module_dlerror(svc->module_path));
		return -1;
	}
	if ((h = dlsym(dl, MODULE_SYMBOL)) == NULL)
		snprintf(why, size, "no symbol \"%s\" (not a sockd module, or built for"
		    " another ABI)", MODULE_SYMBOL);
	else if (h->abi != SOCKD_HANDLER_ABI)
		snprintf(why, size, "built for handler ABI %u, this sockd has ABI %d", h->abi,
		    SOCKD_HANDLER_ABI);
	else if (h->message == NULL)
		snprintf(why, size, "%s.message is NULL (it is required)", MODULE_SYMBOL);
	else {
		svc->module_dl = dl;
		return 0;
	}
	if (dlclose(dl) != 0)
		log_warn("%s: dlclose: %s", svc->module_path, dlerror());
	return -1;
}

int
handler_module_load(struct sockd_config *cfg, struct config_errors *errs)
{
	char why[MODULE_WHY_MAX];
	int r = 0;

	for (size_t i = 0; i < cfg->n_services; i++) {
		struct config_service *svc = &cfg->services[i];

		if (svc->handler != HANDLER_MODULE || svc->module_dl != NULL)
			continue;
		if (module_open(svc, why, sizeof(why)) == -1) {
			config_errors_add(errs, xasprintf("%s: cannot load \"%s\": %s", svc->module_where,
			    svc->module_path, why));
			r = -1;
		}
	}
	return r;
}

/* ---- the handler, in a worker -------------------------------------------- */

static void
module_fini(void)
{
	if (getpid() == module_pid && module->fini != NULL)
		module->fini(module_state);
}

static int
module_start(const struct config_service *svc)
{
	if (svc->module_dl == NULL || (module = dlsym(svc->module_dl, MODULE_SYMBOL)) == NULL)
		panic("%s: module \"%s\" not loaded by the master", svc->name, svc->module_path);
	module_service = svc->name;
	if (module->init != NULL &&
	    module->init((const struct sockd_config_view *)svc, &module_state) == -1) {
		log_err("%s: module \"%s\": init failed", svc->name, svc->module_path);
		return -1;
	}
	module_pid = getpid();
	if (atexit(module_fini) != 0)
		log_warn("%s: atexit: the module's fini() will not run", svc->name);
	return 0;
}

static void
module_conn_open(struct conn *c)
{
	if (module->open != NULL && module->open((struct sockd_conn *)c) == -1)
		conn_close(c);
}

static void
module_conn_message(struct conn *c, const char *data, size_t len)
{
	module->message((struct sockd_conn *)c, data, len);
}

static void
module_conn_close(struct conn *c)
{
	if (module->close != NULL)
		module->close((struct sockd_conn *)c);
}

const struct handler handler_module = {
	.name = "module",
	.start = module_start,
	.open = module_conn_open,
	.message = module_conn_message,
	.close = module_conn_close,
};

/* ---- the calls a module makes (exported: see src/sockd.dynamic) ----------- */

int
sockd_send(struct sockd_conn *c, const void *data, size_t len)
{
	return conn_send((struct conn *)c, data, len);
}

int
sockd_reply(struct sockd_conn *c, const void *data, size_t len)
{
	return conn_reply((struct conn *)c, data, len);
}

void
sockd_close(struct sockd_conn *c)
{
	conn_close((struct conn *)c);
}

int
sockd_peer(struct sockd_conn *c, char *buf, size_t size)
{
	const struct sockd_addr *peer = conn_peer((const struct conn *)c);
	char text[ADDR_TEXT_MAX];

	if (peer->len == 0) {
		if (size > 0)
			buf[0] = '\0';
		return -1;
	}
	addr_format(peer, text, sizeof(text));
	return snprintf(buf, size, "%s", text);
}

int
sockd_conn_is_datagram(struct sockd_conn *c)
{
	return conn_is_datagram((const struct conn *)c);
}

void
sockd_set_data(struct sockd_conn *c, void *data)
{
	conn_set_data((struct conn *)c, data);
}

void *
sockd_get_data(struct sockd_conn *c)
{
	return conn_data((const struct conn *)c);
}

void *
sockd_state(struct sockd_conn *c)
{
	(void)c;
	return module_state;
}

void
sockd_log(int priority, const char *fmt, ...)
{
	char text[2048];
	va_list ap;

	if (priority < LOG_EMERG || priority > LOG_DEBUG)
		priority = LOG_ERR;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	log_msg(priority, "%s: %s", module_service != NULL ? module_service : "module", text);
}

const char *
sockd_config_get(const struct sockd_config_view *cfg, const char *name)
{
	const struct config_service *svc = (const struct config_service *)cfg;

	if (svc == NULL || name == NULL || svc->module_keys == NULL)
		return NULL;
	for (size_t i = 0; svc->module_keys[i] != NULL; i++)
		if (strcmp(svc->module_keys[i], name) == 0)
			return svc->module_values[i];
	return NULL;
}
