/*
 * config_handler.c - the settings that belong to one handler: the groups
 * http = { ... }, exec = { ... } and module = { ... } of a service.
 *
 * Each group is an error unless the service uses that handler, and the
 * handler's required settings are an error when missing. Paths are checked
 * as far as can be without serving: absolute, and for exec an executable
 * file; root a directory. A module is loaded and its ABI checked later, by
 * the module handler (handler_module.c), with errors reported the same way;
 * its handle belongs to the configuration and is closed with it.
 */
#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config_handler.h"
#include "config_util.h"
#include "util.h"

#define DEFAULT_HTTP_STATUS 200
#define DEFAULT_HTTP_TYPE "text/plain; charset=utf-8"
#define DEFAULT_HTTP_BODY "Hello world!\n"
#define DEFAULT_HTTP_INDEX "index.html"
#define HTTP_BODY_MAX (1024 * 1024)

static const char *const http_settings[] = { "status", "content_type", "body", "root", "index",
	"access_log", NULL };
static const char *const http_fixed_only[] = { "status", "content_type", "body", NULL };
static const char *const exec_settings[] = { "argv", "env", NULL };
static const char *const module_settings[] = { "path", "config", NULL };
static const char *const none[] = { NULL };

static bool
config_absolute(struct config_ctx *ctx, const config_setting_t *g, const char *name,
    const char *path)
{
	char got[QUOTED_MAX];

	if (path[0] == '/')
		return true;
	config_value_text(config_setting_get_member(g, name), got, sizeof(got));
	config_error(ctx, config_setting_get_member(g, name), "must be an absolute path (got %s)",
	    got);
	return false;
}

/* A string setting copied into *OUT_R (DEF when absent). */
static void
config_copy_string(struct config_ctx *ctx, const config_setting_t *g, const char *name,
    const char *def, char **out_r)
{
	const char *v = def;

	if ((g == NULL || config_get_string(ctx, g, name, &v) >= 0) && v != NULL)
		*out_r = xstrdup(v);
}

/* A directory that the checking user can list and read: sockd -t finds a
 * wrong root before a worker does. */
static bool
config_http_root_dir(struct config_ctx *ctx, const config_setting_t *s, const char *root)
{
	char got[QUOTED_MAX];
	struct stat st;

	config_value_text(s, got, sizeof(got));
	if (stat(root, &st) == -1)
		config_error(ctx, s, "not a directory: %s (%s)", got, strerror(errno));
	else if (!S_ISDIR(st.st_mode))
		config_error(ctx, s, "not a directory: %s", got);
	else if (access(root, R_OK | X_OK) == -1)
		config_error(ctx, s, "cannot read the directory %s: %s", got, strerror(errno));
	else
		return true;
	return false;
}

/* root: an absolute path to a directory; files are served from below it.
 * A bad root does not end the check: index and the settings that exclude
 * root have their own errors to report. */
static void
config_http_root(struct config_ctx *ctx, const config_setting_t *g, struct config_service *svc)
{
	char got[QUOTED_MAX];
	const char *root;

	if (config_get_string(ctx, g, "root", &root) == 1 && config_absolute(ctx, g, "root", root) &&
	    config_http_root_dir(ctx, config_setting_get_member(g, "root"), root))
		svc->http_root = xstrdup(root);
	config_copy_string(ctx, g, "index", DEFAULT_HTTP_INDEX, &svc->http_index);
	if (svc->http_index != NULL &&	/* NULL: not a string, said so */
	    (strchr(svc->http_index, '/') != NULL || svc->http_index[0] == '.' ||
	    svc->http_index[0] == '\0')) {
		config_value_text(config_setting_get_member(g, "index"), got, sizeof(got));
		config_error(ctx, config_setting_get_member(g, "index"),
		    "must be a file name, without '/' or a leading '.' (got %s)", got);
	}
	for (const char *const *k = http_fixed_only; *k != NULL; k++)
		if (config_setting_get_member(g, *k) != NULL)
			config_error(ctx, config_setting_get_member(g, *k),
			    "a fixed response and root exclude each other");
}

/* A header value goes out between CRLFs: a CR or LF in it would end the
 * header and start one the operator never wrote (response splitting), and
 * RFC 9110 allows no other control character but tab in a field value. */
static void
config_header_value(struct config_ctx *ctx, const config_setting_t *g, const char *name,
    const char *value)
{
	const config_setting_t *s = config_setting_get_member(g, name);
	char got[QUOTED_MAX];

	for (const unsigned char *p = (const unsigned char *)value; *p != '\0'; p++)
		if ((*p < 0x20 && *p != '\t') || *p == 0x7f) {
			config_value_text(s, got, sizeof(got));
			config_error(ctx, s, "an HTTP header value must not contain control characters "
			    "such as CR or LF (got %s)", got);
			return;
		}
	if (value[0] == '\0')
		config_error(ctx, s, "must not be empty");
}

static void
config_http_fixed(struct config_ctx *ctx, const config_setting_t *g, struct config_service *svc)
{
	svc->http_status = DEFAULT_HTTP_STATUS;
	if (g != NULL)
		config_get_int(ctx, g, "status", 200, 599, &svc->http_status);
	config_copy_string(ctx, g, "content_type", DEFAULT_HTTP_TYPE, &svc->http_content_type);
	if (g != NULL && svc->http_content_type != NULL &&
	    config_setting_get_member(g, "content_type") != NULL)
		config_header_value(ctx, g, "content_type", svc->http_content_type);
	config_copy_string(ctx, g, "body", DEFAULT_HTTP_BODY, &svc->http_body);
	if (svc->http_body == NULL)
		return;
	svc->http_body_len = strlen(svc->http_body);
	if (svc->http_body_len > HTTP_BODY_MAX)
		config_error(ctx, config_setting_get_member(g, "body"), "must be at most %d bytes",
		    HTTP_BODY_MAX);
	if (g != NULL && config_setting_get_member(g, "index") != NULL)
		config_error(ctx, config_setting_get_member(g, "index"), "only used with root");
}

/* HTTP finds its own message boundaries: it needs every byte as it came. */
static void
config_http_framing(struct config_ctx *ctx, const config_setting_t *group,
    struct config_service *svc)
{
	if (svc->framing != FRAMING_RAW)
		config_error(ctx, config_setting_get_member(group, "framing"),
		    "handler \"%s\" needs framing = \"raw\" (got \"%s\")",
		    config_handler_name(svc->handler), config_framing_name(svc->framing));
}

static void
config_http(struct config_ctx *ctx, const config_setting_t *g, struct config_service *svc)
{
	const char *log;

	if (g != NULL && config_setting_get_member(g, "root") != NULL)
		config_http_root(ctx, g, svc);
	else
		config_http_fixed(ctx, g, svc);
	if (g != NULL && config_get_string(ctx, g, "access_log", &log) == 1 &&
	    config_absolute(ctx, g, "access_log", log))
		svc->http_access_log = xstrdup(log);
}

/* A list of strings, as a NULL-terminated vector; NULL after an error. */
static char **
config_string_list(struct config_ctx *ctx, const config_setting_t *s)
{
	int n = config_setting_is_array(s) || config_setting_is_list(s) ? config_setting_length(s) : -1;
	char **v, got[VALUE_TEXT_MAX];
	bool bad = false;

	if (n <= 0) {
		config_value_text(s, got, sizeof(got));
		config_error(ctx, s, "must be a non-empty list of strings (got %s)", got);
		return NULL;
	}
	v = xcalloc((size_t)n + 1, sizeof(*v));
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);

		if (config_setting_type(e) == CONFIG_TYPE_STRING) {
			v[i] = xstrdup(config_setting_get_string(e));
			continue;
		}
		config_value_text(e, got, sizeof(got));
		config_error(ctx, e, "must be a string (got %s)", got);
		bad = true;
	}
	if (!bad)
		return v;
	for (int i = 0; i < n; i++)
		free(v[i]);	/* every slot: the vector has holes */
	free(v);
	return NULL;
}

static bool
config_env_name(const char *name)
{
	if (!isalpha((unsigned char)name[0]) && name[0] != '_')
		return false;
	for (; *name != '\0'; name++)
		if (!isalnum((unsigned char)*name) && *name != '_')
			return false;
	return true;
}

/* env = { NAME = "value"; ... }: each as "NAME=value". */
static void
config_exec_env(struct config_ctx *ctx, const config_setting_t *g, struct config_service *svc)
{
	const config_setting_t *env = config_get_group(ctx, g, "env", NULL, none);
	int n = env != NULL ? config_setting_length(env) : 0;

	svc->exec_env = xcalloc((size_t)n + 1, sizeof(char *));
	for (int i = 0, k = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(env, (unsigned)i);
		const char *name = config_setting_name(e);
		char got[VALUE_TEXT_MAX];

		if (config_setting_type(e) != CONFIG_TYPE_STRING) {
			config_value_text(e, got, sizeof(got));
			config_error(ctx, e, "must be a string (got %s)", got);
		} else if (!config_env_name(name))
			config_error(ctx, e, "not a valid environment variable name");
		else
			svc->exec_env[k++] = xasprintf("%s=%s", name, config_setting_get_string(e));
	}
}

/* argv[0] as execve() will take it (no PATH search): absolute, a regular
 * file, executable by the checking user. */
static void
config_exec_program(struct config_ctx *ctx, const config_setting_t *s, const char *path)
{
	char got[QUOTED_MAX];
	struct stat st;

	config_value_text(s, got, sizeof(got));
	if (path[0] != '/')
		config_error(ctx, s, "the program must be an absolute path (got %s)", got);
	else if (stat(path, &st) == -1)
		config_error(ctx, s, "not an executable file: %s (%s)", got, strerror(errno));
	else if (!S_ISREG(st.st_mode))
		config_error(ctx, s, "not an executable file: %s (not a regular file)", got);
	else if (access(path, X_OK) == -1)
		config_error(ctx, s, "not an executable file: %s (%s)", got, strerror(errno));
}

static void
config_exec(struct config_ctx *ctx, const config_setting_t *group, const config_setting_t *g,
    struct config_service *svc)
{
	const config_setting_t *argv = g != NULL ? config_setting_get_member(g, "argv") : NULL;

	if (argv == NULL) {
		config_error(ctx, g != NULL ? g : group, "missing required setting \"%s\"",
		    g != NULL ? "argv" : "exec");
		return;
	}
	if ((svc->exec_argv = config_string_list(ctx, argv)) == NULL || svc->exec_argv[0] == NULL)
		return;
	config_exec_program(ctx, config_setting_get_elem(argv, 0), svc->exec_argv[0]);
	config_exec_env(ctx, g, svc);
}

/* config = { name = value; ... }: scalars only, kept as text for the module. */
static void
config_module_group(struct config_ctx *ctx, const config_setting_t *g, struct config_service *svc)
{
	const config_setting_t *c = config_get_group(ctx, g, "config", NULL, none);
	int n = c != NULL ? config_setting_length(c) : 0, k = 0;

	svc->module_keys = xcalloc((size_t)n + 1, sizeof(char *));
	svc->module_values = xcalloc((size_t)n + 1, sizeof(char *));
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(c, (unsigned)i);
		char text[VALUE_TEXT_MAX];

		if (config_setting_is_aggregate(e)) {
			config_error(ctx, e, "must be a string, number or boolean");
			continue;
		}
		svc->module_keys[k] = xstrdup(config_setting_name(e));
		if (config_setting_type(e) == CONFIG_TYPE_STRING)
			svc->module_values[k++] = xstrdup(config_setting_get_string(e));
		else {
			config_value_text(e, text, sizeof(text));
			svc->module_values[k++] = xstrdup(text);
		}
	}
}

static void
config_module(struct config_ctx *ctx, const config_setting_t *group, const config_setting_t *g,
    struct config_service *svc)
{
	const char *path;

	if (g == NULL || config_setting_get_member(g, "path") == NULL) {
		config_error(ctx, g != NULL ? g : group, "missing required setting \"%s\"",
		    g != NULL ? "path" : "module");
		return;
	}
	if (config_get_string(ctx, g, "path", &path) == 1 && config_absolute(ctx, g, "path", path)) {
		svc->module_path = xstrdup(path);
		svc->module_where = config_where(ctx, config_setting_get_member(g, "path"));
	}
	config_module_group(ctx, g, svc);
}

/* A handler's group given to a service that uses another handler. */
static const config_setting_t *
config_handler_group(struct config_ctx *ctx, const config_setting_t *group, const char *name,
    const char *const *known, bool used)
{
	const config_setting_t *g = config_get_group(ctx, group, name, known, none);

	if (g != NULL && !used) {
		config_error(ctx, g, "only used with handler = \"%s\"", name);
		return NULL;
	}
	return g;
}

void
config_parse_handler(struct config_ctx *ctx, const config_setting_t *group,
    struct config_service *svc)
{
	const config_setting_t *http, *exec, *module;

	http = config_handler_group(ctx, group, "http", http_settings, svc->handler == HANDLER_HTTP);
	exec = config_handler_group(ctx, group, "exec", exec_settings, svc->handler == HANDLER_EXEC);
	module = config_handler_group(ctx, group, "module", module_settings,
	    svc->handler == HANDLER_MODULE);
	if (svc->handler == HANDLER_HTTP) {
		config_http_framing(ctx, group, svc);
		config_http(ctx, http, svc);
	}
	else if (svc->handler == HANDLER_STATUS)
		config_http_framing(ctx, group, svc);
	else if (svc->handler == HANDLER_EXEC)
		config_exec(ctx, group, exec, svc);
	else if (svc->handler == HANDLER_MODULE)
		config_module(ctx, group, module, svc);
}

static void
config_free_vector(char **v)
{
	for (size_t i = 0; v != NULL && v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

void
config_handler_free(struct config_service *svc)
{
	free(svc->http_content_type);
	free(svc->http_body);
	free(svc->http_root);
	free(svc->http_index);
	free(svc->http_access_log);
	config_free_vector(svc->exec_argv);
	config_free_vector(svc->exec_env);
	if (svc->module_dl != NULL)
		dlclose(svc->module_dl);	/* the module goes with the configuration */
	free(svc->module_path);
	free(svc->module_where);
	config_free_vector(svc->module_keys);
	config_free_vector(svc->module_values);
}
