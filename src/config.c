/*
 * config.c - read sockd.conf (libconfig syntax) into a struct sockd_config.
 *
 * Every setting is checked against a schema: unknown names, wrong types,
 * values out of range, duplicate service names and colliding listen
 * addresses are all errors. Checking does not stop at the first error: the
 * operator sees every problem of the file at once, each as
 * "FILE:LINE: PATH: MESSAGE" (PATH in libconfig's own notation, e.g.
 * "services.[1].workers"). Settings start unset and get their defaults
 * after parsing, so a default never hides a type error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <libconfig.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "config.h"
#include "config_file.h"
#include "config_access.h"
#include "config_handler.h"
#include "config_util.h"
#include "config_print.h"
#include "ids.h"
#include "log.h"
#include "model.h"
#include "util.h"


#define DEFAULT_WORKERS 4
#define DEFAULT_THREADS 1
#define DEFAULT_BACKLOG 511
#define DEFAULT_MAX_MESSAGE 65536
#define DEFAULT_GRACEFUL_MS 30000
#define DEFAULT_IDLE_MS 60000
#define DEFAULT_HANDSHAKE_MS 30000
#define DEFAULT_IPV6_PREFIX 64
#define DEFAULT_HEARTBEAT_MS 30000
#define DEFAULT_REPLY "OK"
#define DEFAULT_MAX_CHILDREN 256
#define DEFAULT_MAX_THREADS 256
#define DEFAULT_MAX_OUTPUT (1024 * 1024)
#define DEFAULT_POOL_IDLE_MS 10000
#define DEFAULT_MAX_HEADER_BYTES 8192
#define DEFAULT_MAX_REQUEST_LINE 8192
#define REPLY_MAX 4096
/* Every framing can carry the longest reply: length16's header is the
 * smallest, and a reply longer than it announces would not be a frame. */
_Static_assert(REPLY_MAX <= UINT16_MAX, "reply longer than a length16 frame");


/* A value of an enumerated setting; "available" is false for values that are
 * designed (and documented as coming) but not implemented yet. */
struct config_choice {
	const char *name;
	int value;
	bool available;
};

static const struct config_choice handler_choices[] = {
	{ "echo", HANDLER_ECHO, true },
	{ "discard", HANDLER_DISCARD, true },
	{ "ack", HANDLER_ACK, true },
	{ "http", HANDLER_HTTP, true },
	{ "status", HANDLER_STATUS, true },
	{ "exec", HANDLER_EXEC, true },
	{ "module", HANDLER_MODULE, true },
#ifdef SOCKD_TEST_HANDLERS
	{ "crash", HANDLER_TEST_CRASH, true },
	{ "hang", HANDLER_TEST_HANG, true },
#endif
	{ NULL, 0, false },
};

static const struct config_choice framing_choices[] = {
	{ "raw", FRAMING_RAW, true },
	{ "line", FRAMING_LINE, true },
	{ "length16", FRAMING_LENGTH16, true },
	{ "length32", FRAMING_LENGTH32, true },
	{ NULL, 0, false },
};

static const struct config_choice pool_choices[] = {
	{ "static", POOL_MODE_STATIC, true },
	{ "dynamic", POOL_MODE_DYNAMIC, true },
	{ "ondemand", POOL_MODE_ONDEMAND, true },
	{ NULL, 0, false },
};

static const struct config_choice level_choices[] = {
	{ "error", LOG_ERR, true },
	{ "warning", LOG_WARNING, true },
	{ "notice", LOG_NOTICE, true },
	{ "info", LOG_INFO, true },
	{ "debug", LOG_DEBUG, true },
	{ NULL, 0, false },
};

static const char *const global_settings[] = {
	"log_level", "user", "group", "control", "services", NULL,
};
static const char *const service_settings[] = {
	"name", "listen", "handler", "framing", "model", "workers", "threads",
	"backlog", "limits", "timeouts", "reply", "unix", "max_requests",
	"max_requests_jitter", "pool", "max_children", "max_threads", "http", "exec",
	"module", "allow", "deny", "allow_uid", "allow_gid", "proxy_protocol",
	"proxy_trusted", NULL,
};
static const char *const limits_settings[] = { "max_message", "max_connections",
	"max_output", "max_header_bytes", "max_request_line", "per_ip", "rate", "rate_burst",
	"ipv6_prefix", NULL };
static const char *const timeouts_settings[] = { "graceful", "idle", "heartbeat", "exec",
	"handshake", NULL };
static const char *const unix_settings[] = { "mode", "owner", "group", NULL };
static const char *const pool_settings[] = { "mode", "min_spare", "max_spare", "max_workers",
	"idle_timeout", NULL };
static const char *const none[] = { NULL };
static const char *const control_settings[] = { "enabled", "path", "group", NULL };
/* Designed in sockd.conf(5) but not implemented yet: a clearer error than
 * "unknown setting" for someone following the design ahead of the code. */
static const char *const global_reserved[] = { NULL };
static const char *const service_reserved[] = { NULL };

static void
choices_list(const struct config_choice *c, bool available, char *buf, size_t size)
{
	size_t n = 0;

	buf[0] = '\0';
	for (; c->name != NULL; c++) {
		if (available && !c->available)
			continue;
		snprintf(buf + n, size - n, "%s\"%s\"", n ? ", " : "", c->name);
		n = strlen(buf);
	}
}

static int
config_get_choice(struct config_ctx *ctx, const config_setting_t *group,
    const char *name, const struct config_choice *choices, int *out_r)
{
	config_setting_t *s = config_setting_get_member(group, name);
	char got[VALUE_TEXT_MAX], list[160];
	const struct config_choice *c;

	if (s == NULL)
		return 0;
	if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		for (c = choices; c->name != NULL; c++) {
			if (strcmp(c->name, config_setting_get_string(s)) != 0)
				continue;
			if (c->available) {
				*out_r = c->value;
				return 1;
			}
			choices_list(choices, true, list, sizeof(list));
			config_error(ctx, s, "\"%s\" is not available in this version of sockd (available: %s)",
			    c->name, list);
			return -1;
		}
	}
	config_value_text(s, got, sizeof(got));
	choices_list(choices, false, list, sizeof(list));
	config_error(ctx, s, "must be one of %s (got %s)", list, got);
	return -1;
}

static const char *
choice_name(const struct config_choice *c, int value)
{
	for (; c->name != NULL; c++)
		if (c->value == value)
			return c->name;
	return "?";
}

const char *
config_handler_name(enum config_handler h)
{
	return choice_name(handler_choices, (int)h);
}

const char *
config_framing_name(enum config_framing f)
{
	return choice_name(framing_choices, (int)f);
}

const char *
config_model_name(enum config_model m)
{
	return model_get(m)->name;
}

/* model = "...": a name from the model table (model.c). */
static void
config_get_model(struct config_ctx *ctx, const config_setting_t *group,
    struct config_service *svc)
{
	config_setting_t *s = config_setting_get_member(group, "model");
	char got[VALUE_TEXT_MAX], list[160];

	if (s == NULL)
		return;
	if (config_setting_type(s) == CONFIG_TYPE_STRING &&
	    model_find(config_setting_get_string(s), &svc->model) != NULL)
		return;
	config_value_text(s, got, sizeof(got));
	model_names(list, sizeof(list));
	config_error(ctx, s, "must be one of %s (got %s)", list, got);
}

const char *
config_pool_name(enum config_pool p)
{
	return choice_name(pool_choices, (int)p);
}

/* ---- global settings ------------------------------------------------- */

/* A user name that must exist: 1 with its uid, 0 absent, -1 invalid. */
static int
config_get_uid(struct config_ctx *ctx, const config_setting_t *group,
    const char *key, const char **name_r, long *uid_r)
{
	char got[QUOTED_MAX];
	const char *why;
	uid_t uid;

	if (config_get_string(ctx, group, key, name_r) != 1)
		return 0;
	if (ids_user(*name_r, &uid, NULL, &why) == -1) {
		config_value_text(config_setting_get_member(group, key), got, sizeof(got));
		config_error(ctx, config_setting_get_member(group, key), "%s%s %s",
		    strcmp(why, "no such user") == 0 ? "" : "cannot look up user: ", why, got);
		return -1;
	}
	*uid_r = uid;
	return 1;
}

/* A group name that must exist: 1 with its gid, 0 absent, -1 invalid. */
static int
config_get_gid(struct config_ctx *ctx, const config_setting_t *group,
    const char *key, const char **name_r, long *gid_r)
{
	char got[QUOTED_MAX];
	const char *why;
	gid_t gid;

	if (config_get_string(ctx, group, key, name_r) != 1)
		return 0;
	if (ids_group(*name_r, &gid, &why) == -1) {
		config_value_text(config_setting_get_member(group, key), got, sizeof(got));
		config_error(ctx, config_setting_get_member(group, key), "%s%s %s",
		    strcmp(why, "no such group") == 0 ? "" : "cannot look up group: ", why, got);
		return -1;
	}
	*gid_r = gid;
	return 1;
}

static void
config_parse_user(struct config_ctx *ctx, const config_setting_t *root,
    struct sockd_config *cfg)
{
	const char *name;
	long id;

	if (config_get_uid(ctx, root, "user", &name, &id) == 1)
		cfg->user = xstrdup(name);
	if (config_get_gid(ctx, root, "group", &name, &id) == 1)
		cfg->group = xstrdup(name);
}

/* control = { enabled = true; path = "/run/sockd/control"; group = "adm"; } */
static void
config_parse_control(struct config_ctx *ctx, const config_setting_t *root,
    struct sockd_config *cfg)
{
	config_setting_t *g = config_get_group(ctx, root, "control", control_settings, none);
	config_setting_t *on;
	const char *s;

	if (g == NULL)
		return;
	if ((on = config_setting_get_member(g, "enabled")) != NULL) {
		if (config_setting_type(on) != CONFIG_TYPE_BOOL)
			config_error(ctx, on, "must be true or false");
		else
			cfg->control = config_setting_get_bool(on);
	}
	if (config_get_string(ctx, g, "path", &s) == 1) {
		config_setting_t *p = config_setting_get_member(g, "path");

		if (s[0] != '/')
			config_error(ctx, p, "must be an absolute path");
		else if (strlen(s) >= sizeof(((struct sockaddr_un *)0)->sun_path))
			config_error(ctx, p, "longer than a Unix socket path can be (%zu bytes)",
			    sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
		else
			cfg->control_path = xstrdup(s);
	}
	if (config_get_gid(ctx, g, "group", &s, &cfg->control_gid) == 1)
		cfg->control_group = xstrdup(s);
}

static void
config_parse_globals(struct config_ctx *ctx, const config_setting_t *root,
    struct sockd_config *cfg)
{
	int level;

	config_check_members(ctx, root, global_settings, global_reserved);
	if (config_get_choice(ctx, root, "log_level", level_choices, &level) == 1)
		cfg->log_level = level;
	config_parse_user(ctx, root, cfg);
	config_parse_control(ctx, root, cfg);
}

/* ---- services -------------------------------------------------------- */

static bool
service_name_valid(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > CONFIG_NAME_MAX)
		return false;
	for (const char *p = name; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.'))
			return false;
	return true;
}

static void
config_parse_name(struct config_ctx *ctx, const config_setting_t *group,
    struct config_service *svc)
{
	const char *name;
	int r = config_get_string(ctx, group, "name", &name);
	char got[QUOTED_MAX];

	if (r == 0)
		config_error(ctx, group, "missing required setting \"name\"");
	if (r != 1)
		return;
	if (!service_name_valid(name)) {
		config_value_text(config_setting_get_member(group, "name"), got, sizeof(got));
		config_error(ctx, config_setting_get_member(group, "name"),
		    "must be 1 to %d characters from A-Z a-z 0-9 - _ . (got %s)", CONFIG_NAME_MAX, got);
		return;
	}
	svc->name = xstrdup(name);
}

/* IPv6 listeners are IPv6-only (so "[::]:P" and "*:P" can coexist): bind
 * would refuse a mapped address with EINVAL, and the collision check would
 * not see it against the same IPv4 address. Say so now, with the fix. */
static bool
config_listen_mapped(struct config_ctx *ctx, const config_setting_t *s,
    const struct sockd_addr *addr)
{
	char host[INET6_ADDRSTRLEN], got[QUOTED_MAX];

	if (!addr_is_v4mapped(addr))
		return false;
	addr_host(addr, host, sizeof(host));
	config_value_text(s, got, sizeof(got));
	config_error(ctx, s, "an IPv4-mapped IPv6 address cannot be bound by sockd's IPv6-only "
	    "sockets: write \"%s:%d\" (got %s)", host, addr_port(addr), got);
	return true;
}

static void
config_add_listen(struct config_ctx *ctx, const config_setting_t *s,
    struct config_service *svc)
{
	char got[QUOTED_MAX];
	struct config_listen *l;
	struct sockd_addr addr;
	const char *why;

	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		config_value_text(s, got, sizeof(got));
		config_error(ctx, s, "must be a string (got %s)", got);
		return;
	}
	if (addr_parse(config_setting_get_string(s), &addr, &why) == -1) {
		config_value_text(s, got, sizeof(got));
		config_error(ctx, s, "%s (got %s)", why, got);
		return;
	}
	if (config_listen_mapped(ctx, s, &addr))
		return;
	svc->listen = xreallocarray(svc->listen, svc->n_listen + 1, sizeof(*svc->listen));
	l = &svc->listen[svc->n_listen++];
	l->text = xstrdup(config_setting_get_string(s));
	l->addr = addr;
	l->line = config_line(ctx, s);
	l->index = config_setting_is_aggregate(config_setting_parent(s)) &&
	    !config_setting_is_group(config_setting_parent(s)) ? config_setting_index(s) : -1;
}

static void
config_parse_listen(struct config_ctx *ctx, const config_setting_t *group,
    struct config_service *svc)
{
	config_setting_t *s = config_setting_get_member(group, "listen");
	int n;

	if (s == NULL)
		return;	/* its sockets come from systemd, by its name (listen.c) */
	if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		config_add_listen(ctx, s, svc);
		return;
	}
	n = config_setting_is_array(s) || config_setting_is_list(s) ?
	    config_setting_length(s) : -1;
	if (n <= 0) {
		config_error(ctx, s, "must be an address or a non-empty list of addresses");
		return;
	}
	if (n > CONFIG_LISTEN_MAX) {
		config_error(ctx, s, "at most %d addresses per service (got %d)", CONFIG_LISTEN_MAX, n);
		return;
	}
	for (int i = 0; i < n; i++)
		config_add_listen(ctx, config_setting_get_elem(s, (unsigned)i), svc);
}

static void
config_parse_limits(struct config_ctx *ctx, const config_setting_t *group,
    struct config_service *svc)
{
	config_setting_t *g = config_get_group(ctx, group, "limits", limits_settings, none);

	if (g == NULL)
		return;
	config_get_int(ctx, g, "max_message", 1, 16 * 1024 * 1024, &svc->max_message);
	config_get_int(ctx, g, "max_connections", 0, 1 << 20, &svc->max_connections);
	config_get_int(ctx, g, "max_output", 1024, 256 * 1024 * 1024, &svc->max_output);
	config_get_int(ctx, g, "max_header_bytes", 256, 1024 * 1024, &svc->max_header_bytes);
	config_get_int(ctx, g, "max_request_line", 64, 1024 * 1024, &svc->max_request_line);
	config_get_int(ctx, g, "per_ip", 1, 1 << 20, &svc->per_ip);
	config_get_int(ctx, g, "rate", 1, 1 << 20, &svc->rate);
	config_get_int(ctx, g, "rate_burst", 1, 1 << 20, &svc->rate_burst);
	config_get_int(ctx, g, "ipv6_prefix", 1, 128, &svc->ipv6_prefix);
}

static void
config_parse_timeouts(struct config_ctx *ctx, const config_setting_t *group,
    struct config_service *svc)
{
	config_setting_t *g = config_get_group(ctx, group, "timeouts", timeouts_settings, none);

	if (g == NULL)
		return;
	config_get_seconds(ctx, g, "graceful", 3600, &svc->graceful_ms);
	config_get_seconds(ctx, g, "idle", 86400, &svc->idle_ms);
	config_get_seconds(ctx, g, "heartbeat", 86400, &svc->heartbeat_ms);
	config_get_seconds(ctx, g, "exec", 86400, &svc->exec_timeout_ms);
	config_get_seconds(ctx, g, "handshake", 3600, &svc->handshake_ms);
}

/* The dynamic pool's numbers, with defaults that fit the given ones. */
static void
config_parse_spares(struct config_ctx *ctx, const config_setting_t *g,
    struct config_service *svc)
{
	int r;

	svc->min_spare = 1;
	r = config_get_int(ctx, g, "min_spare", 1, 4096, &svc->min_spare);
	svc->max_spare = svc->min_spare > 4 ? svc->min_spare : 4;
	r |= config_get_int(ctx, g, "max_spare", 1, 4096, &svc->max_spare);
	svc->max_workers = svc->workers > 256 ? svc->workers : 256;
	r |= config_get_int(ctx, g, "max_workers", 1, 4096, &svc->max_workers);
	if (r < 0)
		return;
	if (svc->max_spare < svc->min_spare)
		config_error(ctx, g, "max_spare (%d) must be at least min_spare (%d)",
		    svc->max_spare, svc->min_spare);
	if (svc->max_workers < svc->workers || svc->max_workers < svc->min_spare)
		config_error(ctx, g, "max_workers (%d) must be at least workers (%d) and min_spare (%d)",
		    svc->max_workers, svc->workers, svc->min_spare);
}

/* ondemand: no worker until a connection waits; up to max_workers; a
 * worker idle for idle_timeout exits. */
static void
config_parse_ondemand(struct config_ctx *ctx, const config_setting_t *g,
    struct config_service *svc)
{
	svc->max_workers = svc->workers;
	config_get_int(ctx, g, "max_workers", 1, 4096, &svc->max_workers);
	config_get_seconds(ctx, g, "idle_timeout", 86400, &svc->pool_idle_ms);
	if (svc->pool_idle_ms == 0)
		config_error(ctx, config_setting_get_member(g, "idle_timeout"),
		    "must be more than 0 seconds");
}

/* A pool setting the mode does not use: the same message whichever mode
 * the service has, naming the modes that do use it. */
static void
config_check_pool_mode(struct config_ctx *ctx, const config_setting_t *g, enum config_pool mode)
{
	static const struct {
		const char *name;
		unsigned modes;		/* 1 << enum config_pool */
		const char *used;
	} uses[] = {
		{ "min_spare", 1 << POOL_MODE_DYNAMIC, "mode = \"dynamic\"" },
		{ "max_spare", 1 << POOL_MODE_DYNAMIC, "mode = \"dynamic\"" },
		{ "max_workers", 1 << POOL_MODE_DYNAMIC | 1 << POOL_MODE_ONDEMAND,
		    "mode = \"dynamic\" or \"ondemand\"" },
		{ "idle_timeout", 1 << POOL_MODE_ONDEMAND, "mode = \"ondemand\"" },
	};

	for (size_t i = 0; i < sizeof(uses) / sizeof(uses[0]); i++)
		if (!(uses[i].modes & 1U << mode) && config_setting_get_member(g, uses[i].name) != NULL)
			config_error(ctx, config_setting_get_member(g, uses[i].name),
			    "only used with %s", uses[i].used);
}

static void
config_parse_pool(struct config_ctx *ctx, const config_setting_t *group,
    struct config_service *svc)
{
	config_setting_t *g = config_get_group(ctx, group, "pool", pool_settings, none);
	int v = POOL_MODE_STATIC;

	if (g == NULL)
		return;
	config_get_choice(ctx, g, "mode", pool_choices, &v);
	svc->pool_mode = (enum config_pool)v;
	if (svc->pool_mode == POOL_MODE_ONDEMAND)
		config_parse_ondemand(ctx, g, svc);
	else if (svc->pool_mode == POOL_MODE_DYNAMIC)
		config_parse_spares(ctx, g, svc);
	config_check_pool_mode(ctx, g, svc->pool_mode);
}

/* Settings that belong to one model only. */
static void
config_parse_model(struct config_ctx *ctx, const config_setting_t *group,
    struct config_service *svc)
{
	if (config_get_int(ctx, group, "max_children", 1, 65535, &svc->max_children) == 1 &&
	    !model_has(svc, MODEL_PROCESS_PER_CONN) && svc->handler != HANDLER_EXEC)
		config_error(ctx, config_setting_get_member(group, "max_children"),
		    "only used with model = \"fork\" or handler = \"exec\"");
	if (config_get_int(ctx, group, "max_threads", 1, 65535, &svc->max_threads) == 1 &&
	    !model_has(svc, MODEL_THREAD_PER_CONN))
		config_error(ctx, config_setting_get_member(group, "max_threads"),
		    "only used with model = \"thread\"");
	if (config_get_int(ctx, group, "threads", 1, 1024, &svc->threads) == 1 &&
	    svc->threads > 1 && !model_has(svc, MODEL_THREADS))
		config_error(ctx, config_setting_get_member(group, "threads"),
		    "more than one thread per worker is only used with model = \"prefork\" (got %d)",
		    svc->threads);
}

static void
config_parse_recycling(struct config_ctx *ctx, const config_setting_t *group,
    struct config_service *svc)
{
	config_get_int(ctx, group, "max_requests", 0, INT_MAX, &svc->max_requests);
	if (config_get_int(ctx, group, "max_requests_jitter", 0, INT_MAX,
	    &svc->max_requests_jitter) == 1 && svc->max_requests_jitter > 0 && svc->max_requests == 0)
		config_error(ctx, config_setting_get_member(group, "max_requests_jitter"),
		    "needs max_requests");
}

static void
config_parse_reply(struct config_ctx *ctx, const config_setting_t *group,
    struct config_service *svc)
{
	const char *reply = DEFAULT_REPLY;
	config_setting_t *s = config_setting_get_member(group, "reply");
	char got[QUOTED_MAX];

	if (config_get_string(ctx, group, "reply", &reply) == -1)
		return;
	if (s == NULL && svc->handler != HANDLER_ACK)
		return;
	if (svc->handler != HANDLER_ACK) {
		config_error(ctx, s, "only used by handler \"ack\"");
		return;
	}
	if (strlen(reply) > REPLY_MAX) {
		config_error(ctx, s, "must be at most %d bytes", REPLY_MAX);
		return;
	}
	/* The delimiter inside a line reply would make it two messages. */
	if (svc->framing == FRAMING_LINE && strchr(reply, '\n') != NULL) {
		config_value_text(s, got, sizeof(got));
		config_error(ctx, s, "must not contain a newline with framing = \"line\": the client "
		    "would read it as more than one message (got %s)", got);
		return;
	}
	svc->reply = xstrdup(reply);
}

/* Does SVC listen on a Unix socket (so that its unix group applies)? */
bool
config_service_has_unix(const struct config_service *svc)
{
	for (size_t i = 0; i < svc->n_listen; i++)
		if (addr_family(&svc->listen[i].addr) == AF_UNIX)
			return true;
	return false;
}

static void
config_parse_unix_mode(struct config_ctx *ctx, const config_setting_t *g,
    struct config_service *svc)
{
	char *end, got[VALUE_TEXT_MAX];
	const char *mode;
	long v;

	if (config_get_string(ctx, g, "mode", &mode) != 1)
		return;
	v = strtol(mode, &end, 8);
	if (mode[0] < '0' || mode[0] > '7' || *end != '\0' || v < 0 || v > 0777) {
		config_value_text(config_setting_get_member(g, "mode"), got, sizeof(got));
		config_error(ctx, config_setting_get_member(g, "mode"),
		    "must be an octal mode from \"0000\" to \"0777\" (got %s)", got);
		return;
	}
	svc->unix_mode = (int)v;
}

static void
config_parse_unix(struct config_ctx *ctx, const config_setting_t *group,
    struct config_service *svc)
{
	config_setting_t *g = config_get_group(ctx, group, "unix", unix_settings, none);
	const char *name;

	if (g == NULL)
		return;
	if (!config_service_has_unix(svc)) {
		config_error(ctx, g, "the service has no unix: listener");
		return;
	}
	config_parse_unix_mode(ctx, g, svc);
	config_get_uid(ctx, g, "owner", &name, &svc->unix_uid);
	config_get_gid(ctx, g, "group", &name, &svc->unix_gid);
}

/*
 * Datagram services (udp:, unixgram:): a service is one kind or the other.
 * One datagram is one message, so there is no framing; handlers that need
 * a byte stream (http, exec, status) and settings about connections
 * (proxy_protocol, limits.per_ip) do not apply, nor allow_uid and
 * allow_gid (SO_PEERCRED needs a connection).
 */
/* What a datagram service cannot be, as one line, or NULL: for a service
 * that learns it serves datagrams only from systemd's sockets (no listen). */
const char *
config_datagram_conflict(const struct config_service *svc)
{
	if (svc->handler != HANDLER_ECHO && svc->handler != HANDLER_DISCARD &&
	    svc->handler != HANDLER_ACK && svc->handler != HANDLER_MODULE)
		return "its handler needs a byte stream (a datagram service takes echo, discard, "
		    "ack or module)";
	if (svc->framing != FRAMING_RAW)
		return "framing does not apply to datagrams";
	if (svc->proxy_protocol)
		return "the PROXY protocol is for streams";
	if (svc->per_ip > 0)
		return "limits.per_ip counts connections, and a datagram service has none";
	if (svc->n_allow_uid > 0 || svc->n_allow_gid > 0)
		return "allow_uid and allow_gid need a connected client's credentials";
	return NULL;
}

static const char *const conn_only[][2] = {
	{ "limits", "max_connections" }, { "limits", "max_output" },
	{ "timeouts", "idle" }, { "timeouts", "handshake" },
};

static void
config_parse_datagram(struct config_ctx *ctx, const config_setting_t *group,
    struct config_service *svc)
{
	const config_setting_t *listen = config_setting_get_member(group, "listen");
	const config_setting_t *s;
	size_t dgram = 0;

	for (size_t i = 0; i < svc->n_listen; i++)
		dgram += svc->listen[i].addr.dgram;
	if (dgram == 0)
		return;
	if (dgram < svc->n_listen) {
		/* Both kinds are there, so the loop sets each. */
		const struct config_listen *d = &svc->listen[0], *st = &svc->listen[0];

		for (size_t i = 0; i < svc->n_listen; i++)
			*(svc->listen[i].addr.dgram ? &d : &st) = &svc->listen[i];
		config_error(ctx, listen, "a service serves streams or datagrams, not both: "
		    "\"%s\" is a datagram address, \"%s\" a stream one (make two services)",
		    d->text, st->text);
		return;
	}
	svc->datagram = true;
	if (svc->handler != HANDLER_ECHO && svc->handler != HANDLER_DISCARD &&
	    svc->handler != HANDLER_ACK && svc->handler != HANDLER_MODULE)
		config_error(ctx, config_setting_get_member(group, "handler"),
		    "handler \"%s\" needs a byte stream; a datagram service takes \"echo\", "
		    "\"discard\", \"ack\" or \"module\"", config_handler_name(svc->handler));
	if ((s = config_setting_get_member(group, "framing")) != NULL)
		config_error(ctx, s, "framing does not apply to datagrams: one datagram is one "
		    "message (limits.max_message bounds its size)");
	if (svc->proxy_protocol)
		config_error(ctx, config_setting_get_member(group, "proxy_protocol"),
		    "the PROXY protocol is for streams; a datagram service cannot take it");
	if (svc->per_ip > 0) {
		s = config_setting_get_member(group, "limits");
		config_error(ctx, s != NULL ? config_setting_get_member(s, "per_ip") : group,
		    "limits.per_ip counts connections; a datagram service has none (limits.rate "
		    "bounds each source)");
	}
	if (svc->n_allow_uid > 0 || svc->n_allow_gid > 0)
		config_error(ctx, config_setting_get_member(group, svc->n_allow_uid > 0 ?
		    "allow_uid" : "allow_gid"), "allow_uid and allow_gid need a connected client's "
		    "credentials; a datagram carries none (use file permissions on the socket)");
	/* Settings about connections would do nothing: refused, not ignored. */
	if ((s = config_setting_get_member(group, "backlog")) != NULL)
		config_error(ctx, s, "backlog is the queue of connections; a datagram service has "
		    "none (the socket's receive buffer holds datagrams)");
	for (size_t i = 0; i < ARRAY_SIZE(conn_only); i++) {
		const config_setting_t *g = config_setting_get_member(group, conn_only[i][0]);

		if (g != NULL && (s = config_setting_get_member(g, conn_only[i][1])) != NULL)
			config_error(ctx, s, "%s.%s is about connections; a datagram service has "
			    "none", conn_only[i][0], conn_only[i][1]);
	}
}

static void
config_parse_service(struct config_ctx *ctx, const config_setting_t *group,
    struct config_service *svc)
{
	int v;

	svc->line = config_line(ctx, group);
	svc->workers = DEFAULT_WORKERS;
	svc->threads = DEFAULT_THREADS;
	svc->backlog = DEFAULT_BACKLOG;
	svc->max_message = DEFAULT_MAX_MESSAGE;
	svc->graceful_ms = DEFAULT_GRACEFUL_MS;
	svc->idle_ms = DEFAULT_IDLE_MS;
	svc->handshake_ms = DEFAULT_HANDSHAKE_MS;
	svc->ipv6_prefix = DEFAULT_IPV6_PREFIX;
	svc->max_children = DEFAULT_MAX_CHILDREN;
	svc->max_threads = DEFAULT_MAX_THREADS;
	svc->max_output = DEFAULT_MAX_OUTPUT;
	svc->pool_idle_ms = DEFAULT_POOL_IDLE_MS;
	svc->heartbeat_ms = DEFAULT_HEARTBEAT_MS;
	svc->max_header_bytes = DEFAULT_MAX_HEADER_BYTES;
	svc->max_request_line = DEFAULT_MAX_REQUEST_LINE;
	svc->unix_mode = -1;
	svc->unix_uid = -1;
	svc->unix_gid = -1;
	config_check_members(ctx, group, service_settings, service_reserved);
	config_parse_name(ctx, group, svc);
	config_parse_listen(ctx, group, svc);
	v = 0;
	if (config_get_choice(ctx, group, "handler", handler_choices, &v) == 0)
		config_error(ctx, group, "missing required setting \"handler\"");
	svc->handler = (enum config_handler)v;
	v = FRAMING_RAW;
	config_get_choice(ctx, group, "framing", framing_choices, &v);
	svc->framing = (enum config_framing)v;
	svc->model = MODEL_PREFORK;
	config_get_model(ctx, group, svc);
	config_get_int(ctx, group, "workers", 1, 4096, &svc->workers);
	config_get_int(ctx, group, "backlog", 1, 65535, &svc->backlog);
	config_parse_limits(ctx, group, svc);
	config_parse_timeouts(ctx, group, svc);
	config_parse_recycling(ctx, group, svc);
	config_parse_pool(ctx, group, svc);
	config_parse_model(ctx, group, svc);
	config_parse_reply(ctx, group, svc);
	config_parse_handler(ctx, group, svc);
	config_parse_unix(ctx, group, svc);
	config_parse_access(ctx, group, svc);
	config_parse_datagram(ctx, group, svc);
}

/* Does L (of the service in group GA) collide with B's first N addresses? */
static void
config_check_collisions(struct config_ctx *ctx, const config_setting_t *ga,
    const struct config_listen *l, const struct config_service *b, size_t n)
{
	config_setting_t *s = config_setting_get_member(ga, "listen");
	char a[QUOTED_MAX], other[QUOTED_MAX];

	if (l->index >= 0)
		s = config_setting_get_elem(s, (unsigned)l->index);
	for (size_t m = 0; m < n; m++) {
		if (!addr_conflict(&l->addr, &b->listen[m].addr))
			continue;
		config_print_quote(a, sizeof(a), l->text);
		config_print_quote(other, sizeof(other), b->listen[m].text);
		config_error(ctx, s, "%s collides with %s of service \"%s\" (line %u)",
		    a, other, b->name ? b->name : "?", b->listen[m].line);
	}
}

/* Names and addresses are unique across the whole file. */
static void
config_check_unique(struct config_ctx *ctx, const config_setting_t *list,
    const struct sockd_config *cfg)
{
	for (size_t i = 0; i < cfg->n_services; i++) {
		const struct config_service *a = &cfg->services[i];
		config_setting_t *ga = config_setting_get_elem(list, (unsigned)i);

		for (size_t j = 0; j < i; j++) {
			const struct config_service *b = &cfg->services[j];

			if (a->name && b->name && strcmp(a->name, b->name) == 0)
				config_error(ctx, config_setting_get_member(ga, "name"),
				    "duplicate service name \"%s\" (first at line %u)",
				    a->name, b->line);
		}
		for (size_t k = 0; k < a->n_listen; k++)
			for (size_t j = 0; j <= i; j++)
				config_check_collisions(ctx, ga, &a->listen[k], &cfg->services[j],
				    j == i ? k : cfg->services[j].n_listen);
	}
}

static void
config_parse_services(struct config_ctx *ctx, const config_setting_t *root,
    struct sockd_config *cfg)
{
	config_setting_t *list = config_setting_get_member(root, "services");
	int n;

	if (list == NULL) {
		config_errors_first(ctx->errs, xasprintf("%s: missing required setting \"services\"", ctx->file));
		return;
	}
	if (!config_setting_is_list(list) || config_setting_length(list) == 0) {
		config_error(ctx, list, "must be a non-empty list of groups: services = ( { ... } );");
		return;
	}
	n = config_setting_length(list);
	cfg->services = xcalloc((size_t)n, sizeof(*cfg->services));
	cfg->n_services = (size_t)n;
	for (int i = 0; i < n; i++) {
		config_setting_t *g = config_setting_get_elem(list, (unsigned)i);

		if (!config_setting_is_group(g))
			config_error(ctx, g, "must be a group { ... }");
		else
			config_parse_service(ctx, g, &cfg->services[i]);
	}
	config_check_unique(ctx, list, cfg);
}

/* ---- loading --------------------------------------------------------- */

static struct sockd_config *
config_build(config_t *lc, const struct config_file *source, const char *name,
    struct config_errors *errs)
{
	struct config_ctx ctx = { .file = name, .source = source, .errs = errs };
	struct sockd_config *cfg = xcalloc(1, sizeof(*cfg));
	size_t before = errs->count + errs->dropped;

	cfg->path = xstrdup(name);
	cfg->log_level = LOG_INFO;
	cfg->control = true;
	cfg->control_gid = -1;
	config_parse_globals(&ctx, config_root_setting(lc), cfg);
	config_parse_services(&ctx, config_root_setting(lc), cfg);
	config_errors_sort(errs, before < errs->count ? before : errs->count);
	if (errs->count + errs->dropped != before) {
		config_free(cfg);
		return NULL;
	}
	return cfg;
}

static void
config_syntax_error(const config_t *lc, const struct config_file *source,
    struct config_errors *errs)
{
	unsigned line;
	const char *file = config_file_where(source, (unsigned)config_error_line(lc), &line);

	config_errors_first(errs, xasprintf("%s:%u: %s", file, line, config_error_text(lc)));
}

/* Parse SOURCE, checked and expanded by config_file.c, from memory: libconfig
 * opens no file. Should it still meet an @include, its directory is one that
 * cannot hold a file, and it fails with "cannot open include file". */
static struct sockd_config *
config_parse(struct config_file *source, const char *name, struct config_errors *errs)
{
	struct sockd_config *cfg = NULL;
	config_t lc;

	if (source == NULL)
		return NULL;
	config_init(&lc);
	config_set_include_dir(&lc, "/dev/null");
	if (config_read_string(&lc, config_file_buffer(source)) == CONFIG_TRUE)
		cfg = config_build(&lc, source, name, errs);
	else
		config_syntax_error(&lc, source, errs);
	config_destroy(&lc);
	config_file_free(source);
	return cfg;
}

struct sockd_config *
config_load_string(const char *text, const char *name, struct config_errors *errs)
{
	return config_parse(config_file_text(text, name, errs), name, errs);
}

struct sockd_config *
config_load_file(const char *path, struct config_errors *errs)
{
	return config_parse(config_file_read(path, errs), path, errs);
}

void
config_free(struct sockd_config *cfg)
{
	if (cfg == NULL)
		return;
	for (size_t i = 0; i < cfg->n_services; i++) {
		struct config_service *svc = &cfg->services[i];

		for (size_t j = 0; j < svc->n_listen; j++)
			free(svc->listen[j].text);
		free(svc->listen);
		free(svc->name);
		free(svc->reply);
		config_handler_free(svc);
		config_access_free(svc);
	}
	free(cfg->services);
	free(cfg->user);
	free(cfg->group);
	free(cfg->control_path);
	free(cfg->control_group);
	free(cfg->path);
	free(cfg);
}

void
config_describe_service(const struct config_service *svc, char *buf, size_t size)
{
	char pool[96] = "", kind[48] = "datagrams", backlog[32] = "";
	size_t n;

	if (svc->pool_mode == POOL_MODE_DYNAMIC)
		snprintf(pool, sizeof(pool), " (dynamic: %d-%d idle, at most %d)",
		    svc->min_spare, svc->max_spare, svc->max_workers);
	else if (svc->pool_mode == POOL_MODE_ONDEMAND)
		snprintf(pool, sizeof(pool), " (ondemand: 0-%d, idle exit after %d ms)",
		    svc->max_workers, svc->pool_idle_ms);
	if (!svc->datagram) {	/* a datagram service has neither */
		snprintf(kind, sizeof(kind), "framing %s", config_framing_name(svc->framing));
		snprintf(backlog, sizeof(backlog), ", backlog %d", svc->backlog);
	}
	snprintf(buf, size, "%s: handler %s, %s, model %s, %d worker%s%s x %d thread%s%s, listen",
	    svc->name, config_handler_name(svc->handler), kind, config_model_name(svc->model),
	    svc->workers, svc->workers == 1 ? "" : "s", pool, svc->threads,
	    svc->threads == 1 ? "" : "s", backlog);
	for (size_t i = 0; i < svc->n_listen; i++) {
		n = strlen(buf);
		snprintf(buf + n, size - n, " %s", svc->listen[i].text);
	}
	n = strlen(buf);
	if (svc->n_listen == 0)
		snprintf(buf + n, size - n, ": expects sockets from systemd "
		    "(FileDescriptorName=%s)", svc->name);
}
