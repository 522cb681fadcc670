/*
 * config.h - sockd.conf: parsed into a fresh struct, validated completely,
 * and only then handed over.
 *
 * A load either returns a whole, valid configuration or NULL with every
 * problem found recorded in a struct config_errors as
 * "FILE:LINE: PATH: MESSAGE" lines. Nothing of a failed load is kept, so a
 * caller that is serving an older configuration can simply go on with it.
 */
#ifndef SOCKD_CONFIG_H
#define SOCKD_CONFIG_H

#include <stdbool.h>
#include <sys/types.h>
#include <stddef.h>

#include "addr.h"

#define CONFIG_NAME_MAX 64
#define CONFIG_ERRORS_MAX 50
#define CONFIG_LISTEN_MAX 64		/* = WORKER_MAX_LISTENERS */

enum config_handler { HANDLER_ECHO, HANDLER_DISCARD, HANDLER_ACK, HANDLER_HTTP,
	HANDLER_EXEC, HANDLER_MODULE, HANDLER_STATUS, HANDLER_TEST_CRASH, HANDLER_TEST_HANG };
enum config_framing { FRAMING_RAW, FRAMING_LINE, FRAMING_LENGTH16, FRAMING_LENGTH32 };
enum config_model { MODEL_PREFORK, MODEL_EVENT, MODEL_FORK, MODEL_THREAD, MODEL_URING };
enum config_pool { POOL_MODE_STATIC, POOL_MODE_DYNAMIC, POOL_MODE_ONDEMAND };

struct cidr;

struct config_listen {
	char *text;			/* as written in the file */
	struct sockd_addr addr;
	unsigned line;
	int index;			/* in the listen list, or -1 for a lone string */
};

struct config_service {
	char *name;
	unsigned line;
	struct config_listen *listen;
	size_t n_listen;
	bool datagram;			/* listens on udp: / unixgram: (all or none);
					 * with no listen, set from systemd's sockets */
	enum config_handler handler;
	enum config_framing framing;
	enum config_model model;
	int workers;
	int threads;
	int backlog;
	int max_message;		/* limits.max_message, bytes */
	int max_connections;		/* limits.max_connections, whole service; 0: none */
	int max_output;			/* limits.max_output: bytes queued per connection */
	int graceful_ms;		/* timeouts.graceful */
	int idle_ms;			/* timeouts.idle; 0: none */
	int heartbeat_ms;		/* timeouts.heartbeat; 0: none */
	enum config_pool pool_mode;
	int min_spare;			/* pool.min_spare (dynamic) */
	int max_spare;			/* pool.max_spare (dynamic) */
	int max_workers;		/* pool.max_workers (dynamic, ondemand) */
	int pool_idle_ms;		/* pool.idle_timeout (ondemand) */
	int max_requests;		/* connections per worker; 0: no limit */
	int max_children;		/* model "fork": connections at once per worker */
	int max_threads;		/* model "thread": connections at once per worker */
	int max_requests_jitter;	/* plus 0..jitter, per worker */
	char *reply;			/* handler "ack" */
	int max_header_bytes;		/* limits.max_header_bytes (http) */
	int max_request_line;		/* limits.max_request_line (http) */
	/* handler "http": a fixed response, or files from root */
	int http_status;
	char *http_content_type;
	char *http_body;		/* NULL when serving root */
	size_t http_body_len;
	char *http_root;		/* NULL for the fixed response */
	char *http_index;
	char *http_access_log;		/* a file, or NULL: none */
	/* handler "exec" */
	char **exec_argv;		/* NULL-terminated */
	char **exec_env;		/* "NAME=value", NULL-terminated */
	int exec_timeout_ms;		/* timeouts.exec; 0: none */
	/* handler "module" */
	char *module_path;
	char **module_keys;		/* its config group, flattened: name and */
	char **module_values;		/* value as text, NULL-terminated */
	char *module_where;		/* "FILE:LINE: services.[N].module.path" */
	void *module_dl;		/* its dlopen handle, once loaded (handler_module.c) */
	/* The defences on the accept path (config_access.c, guard.c). */
	struct cidr *allow;		/* clients allowed (none: any) */
	size_t n_allow;
	struct cidr *deny;		/* clients refused, before allow */
	size_t n_deny;
	uid_t *allow_uid;		/* Unix clients allowed by uid or gid (none: any) */
	size_t n_allow_uid;
	gid_t *allow_gid;
	size_t n_allow_gid;
	int per_ip;			/* limits.per_ip; 0: none */
	int rate;			/* limits.rate, connections/s per client; 0: none */
	int rate_burst;			/* limits.rate_burst; default rate */
	int ipv6_prefix;		/* limits.ipv6_prefix: one client per /N */
	bool proxy_protocol;		/* a PROXY header comes first */
	struct cidr *proxy_trusted;	/* who may send it */
	size_t n_proxy_trusted;
	int handshake_ms;		/* timeouts.handshake; 0: none */
	int unix_mode;			/* -1: as umask leaves it */
	long unix_uid;			/* -1: unchanged */
	long unix_gid;			/* -1: unchanged */
};

struct sockd_config {
	char *path;
	int log_level;			/* syslog priority */
	char *user;			/* NULL: not set */
	char *group;			/* NULL: the user's primary group */
	bool control;			/* control.enabled */
	char *control_path;		/* NULL: $RUNTIME_DIRECTORY/control, if set */
	char *control_group;		/* NULL: none (mode 0600) */
	long control_gid;		/* its gid, or -1 */
	struct config_service *services;
	size_t n_services;
};

/* Errors in the order they stand in the file(s), not the order found. */
struct config_errors {
	char **msg;
	unsigned long long *key;	/* sort key: included-file flag, line */
	size_t count;
	size_t dropped;			/* found beyond CONFIG_ERRORS_MAX */
};

struct sockd_config *config_load_file(const char *path, struct config_errors *errs);
const char *config_datagram_conflict(const struct config_service *svc);
struct sockd_config *config_load_string(const char *text, const char *name,
    struct config_errors *errs);
void config_free(struct sockd_config *cfg);
void config_errors_free(struct config_errors *errs);
void config_errors_add(struct config_errors *errs, char *msg);

const char *config_handler_name(enum config_handler h);
const char *config_framing_name(enum config_framing f);
const char *config_model_name(enum config_model m);
const char *config_pool_name(enum config_pool p);
bool config_service_has_unix(const struct config_service *svc);
void config_describe_service(const struct config_service *svc, char *buf, size_t size);

#endif
