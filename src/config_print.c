/*
 * config_print.c - write a loaded configuration back as libconfig text
 * (sockd -T), the way nginx -T shows what nginx will run.
 *
 * What is written is the configuration as parsed, not the file: includes
 * are merged in, every default is written out, and a setting that is only
 * allowed with another model, handler or pool mode is left out (written,
 * it would be an error). The text loads back to the same struct, so
 * printing it again gives the same text. Strings are written in plain ASCII: quotes and backslashes escaped,
 * control characters and bytes beyond ASCII as \xHH, so every byte the file
 * gave survives a round trip and nothing the terminal would act on (or a
 * log line would be split by) is written as it is.
 */
#include <grp.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cidr.h"
#include "config_print.h"
#include "log.h"
#include "model.h"
#include "util.h"

/* One byte as libconfig reads it back; its length in OUT (at most 4). */
static size_t
quote_byte(unsigned char c, char out[5])
{
	const char *named = NULL;

	switch (c) {
	case '"':
		named = "\\\"";
		break;
	case '\\':
		named = "\\\\";
		break;
	case '\n':
		named = "\\n";
		break;
	case '\r':
		named = "\\r";
		break;
	case '\t':
		named = "\\t";
		break;
	case '\f':
		named = "\\f";
		break;
	}
	if (named != NULL)
		return (size_t)snprintf(out, 5, "%s", named);
	if (c < 0x20 || c >= 0x7f)
		return (size_t)snprintf(out, 5, "\\x%02x", c);
	out[0] = (char)c;
	out[1] = '\0';
	return 1;
}

void
config_print_quote(char *buf, size_t size, const char *s)
{
	size_t n = 1, need = 2, k;
	char e[5];

	for (const char *p = s; *p != '\0'; p++)
		need += quote_byte((unsigned char)*p, e);
	buf[0] = '"';
	for (; *s != '\0'; s++) {
		k = quote_byte((unsigned char)*s, e);
		if (need >= size && n + k + 5 > size)
			break;		/* keep room for ..." and the NUL */
		memcpy(buf + n, e, k);
		n += k;
	}
	snprintf(buf + n, size - n, "%s", *s != '\0' ? "...\"" : "\"");
}

static void
print_string(FILE *fp, const char *s)
{
	char e[5];

	fputc('"', fp);
	for (; *s != '\0'; s++) {
		quote_byte((unsigned char)*s, e);
		fputs(e, fp);
	}
	fputc('"', fp);
}

static void
print_str(FILE *fp, int indent, const char *name, const char *value)
{
	fprintf(fp, "%*s%s = ", indent, "", name);
	print_string(fp, value);
	fputs(";\n", fp);
}

static void
print_int(FILE *fp, int indent, const char *name, long long value)
{
	fprintf(fp, "%*s%s = %lld;\n", indent, "", name, value);
}

/* Milliseconds as the seconds the file gives: 30, 2.5, 0.001. */
static void
print_seconds(FILE *fp, int indent, const char *name, int ms)
{
	char frac[8] = "";
	size_t n;

	if (ms % 1000 != 0) {
		snprintf(frac, sizeof(frac), ".%03d", ms % 1000);
		for (n = strlen(frac); frac[n - 1] == '0'; n--)
			frac[n - 1] = '\0';
	}
	fprintf(fp, "%*s%s = %d%s;\n", indent, "", name, ms / 1000, frac);
}

static void
print_strings(FILE *fp, int indent, const char *name, char *const *v, size_t n)
{
	fprintf(fp, "%*s%s = [ ", indent, "", name);
	for (size_t i = 0; i < n; i++) {
		fputs(i > 0 ? ", " : "", fp);
		print_string(fp, v[i]);
	}
	fputs(" ];\n", fp);
}

static void
print_open(FILE *fp, int indent, const char *name)
{
	fprintf(fp, "%*s%s = {\n", indent, "", name);
}

static void
print_close(FILE *fp, int indent)
{
	fprintf(fp, "%*s};\n", indent, "");
}

static void
print_listen(FILE *fp, const struct config_service *svc)
{
	char **text;

	if (svc->n_listen == 0) {	/* systemd's sockets, by the service's name */
		fprintf(fp, "    # listen: the sockets systemd passes as \"%s\"\n", svc->name);
		return;
	}
	text = xcalloc(svc->n_listen, sizeof(*text));
	for (size_t i = 0; i < svc->n_listen; i++)
		text[i] = svc->listen[i].text;
	print_strings(fp, 4, "listen", text, svc->n_listen);
	free(text);
}

static void
print_limits(FILE *fp, const struct config_service *svc)
{
	print_open(fp, 4, "limits");
	print_int(fp, 6, "max_message", svc->max_message);
	if (!svc->datagram) {	/* about connections: an error on a datagram service */
		print_int(fp, 6, "max_connections", svc->max_connections);
		print_int(fp, 6, "max_output", svc->max_output);
	}
	print_int(fp, 6, "max_header_bytes", svc->max_header_bytes);
	print_int(fp, 6, "max_request_line", svc->max_request_line);
	if (svc->per_ip > 0)
		print_int(fp, 6, "per_ip", svc->per_ip);
	if (svc->rate > 0) {
		print_int(fp, 6, "rate", svc->rate);
		print_int(fp, 6, "rate_burst", svc->rate_burst);
	}
	print_int(fp, 6, "ipv6_prefix", svc->ipv6_prefix);
	print_close(fp, 4);
}

static void
print_networks(FILE *fp, const char *name, const struct cidr *v, size_t n)
{
	char **text;

	if (n == 0)
		return;
	text = xcalloc(n, sizeof(*text));
	for (size_t i = 0; i < n; i++) {
		text[i] = xcalloc(1, CIDR_TEXT_MAX);
		cidr_format(&v[i], text[i], CIDR_TEXT_MAX);
	}
	print_strings(fp, 4, name, text, n);
	for (size_t i = 0; i < n; i++)
		free(text[i]);
	free(text);
}

static void
print_ids(FILE *fp, const char *name, const unsigned *v, size_t n)
{
	if (n == 0)
		return;
	fprintf(fp, "    %s = [ ", name);
	for (size_t i = 0; i < n; i++)
		fprintf(fp, "%s%u", i > 0 ? ", " : "", v[i]);
	fputs(" ];\n", fp);
}

/* Who may connect: address rules, Unix credentials, the PROXY protocol. */
static void
print_access(FILE *fp, const struct config_service *svc)
{
	print_networks(fp, "allow", svc->allow, svc->n_allow);
	print_networks(fp, "deny", svc->deny, svc->n_deny);
	print_ids(fp, "allow_uid", svc->allow_uid, svc->n_allow_uid);
	print_ids(fp, "allow_gid", svc->allow_gid, svc->n_allow_gid);
	if (svc->proxy_protocol) {
		fputs("    proxy_protocol = true;\n", fp);
		print_networks(fp, "proxy_trusted", svc->proxy_trusted, svc->n_proxy_trusted);
	}
}

static void
print_timeouts(FILE *fp, const struct config_service *svc)
{
	print_open(fp, 4, "timeouts");
	print_seconds(fp, 6, "graceful", svc->graceful_ms);
	if (!svc->datagram)
		print_seconds(fp, 6, "idle", svc->idle_ms);
	print_seconds(fp, 6, "heartbeat", svc->heartbeat_ms);
	print_seconds(fp, 6, "exec", svc->exec_timeout_ms);
	if (!svc->datagram)
		print_seconds(fp, 6, "handshake", svc->handshake_ms);
	print_close(fp, 4);
}

/* Only the settings of the service's mode: the others are errors there. */
static void
print_pool(FILE *fp, const struct config_service *svc)
{
	print_open(fp, 4, "pool");
	print_str(fp, 6, "mode", config_pool_name(svc->pool_mode));
	if (svc->pool_mode == POOL_MODE_DYNAMIC) {
		print_int(fp, 6, "min_spare", svc->min_spare);
		print_int(fp, 6, "max_spare", svc->max_spare);
	}
	if (svc->pool_mode != POOL_MODE_STATIC)
		print_int(fp, 6, "max_workers", svc->max_workers);
	if (svc->pool_mode == POOL_MODE_ONDEMAND)
		print_seconds(fp, 6, "idle_timeout", svc->pool_idle_ms);
	print_close(fp, 4);
}

static void
print_http(FILE *fp, const struct config_service *svc)
{
	print_open(fp, 4, "http");
	if (svc->http_root != NULL) {
		print_str(fp, 6, "root", svc->http_root);
		print_str(fp, 6, "index", svc->http_index);
	} else {
		print_int(fp, 6, "status", svc->http_status);
		print_str(fp, 6, "content_type", svc->http_content_type);
		print_str(fp, 6, "body", svc->http_body);
	}
	if (svc->http_access_log != NULL)
		print_str(fp, 6, "access_log", svc->http_access_log);
	else
		fprintf(fp, "      # access_log: none\n");
	print_close(fp, 4);
}

/* env is kept as "NAME=value": written back as NAME = "value". */
static void
print_exec(FILE *fp, const struct config_service *svc)
{
	size_t n = 0;

	while (svc->exec_argv[n] != NULL)
		n++;
	print_open(fp, 4, "exec");
	print_strings(fp, 6, "argv", svc->exec_argv, n);
	print_open(fp, 6, "env");
	for (size_t i = 0; svc->exec_env != NULL && svc->exec_env[i] != NULL; i++) {
		const char *e = svc->exec_env[i], *eq = strchr(e, '=');

		fprintf(fp, "%*s%.*s = ", 8, "", (int)(eq - e), e);
		print_string(fp, eq + 1);
		fputs(";\n", fp);
	}
	print_close(fp, 6);
	print_close(fp, 4);
}

/* A module sees its settings as text, whatever their type in the file:
 * written as strings, they give it the same text again. */
static void
print_module(FILE *fp, const struct config_service *svc)
{
	print_open(fp, 4, "module");
	print_str(fp, 6, "path", svc->module_path);
	print_open(fp, 6, "config");
	for (size_t i = 0; svc->module_keys != NULL && svc->module_keys[i] != NULL; i++)
		print_str(fp, 8, svc->module_keys[i], svc->module_values[i]);
	print_close(fp, 6);
	print_close(fp, 4);
}

/* Owner and group are kept as ids: written as the names they have now. */
static int
print_unix(FILE *fp, const struct config_service *svc)
{
	struct passwd *pw = NULL;
	struct group *gr = NULL;
	char mode[16];

	if (!config_service_has_unix(svc))
		return 0;
	if ((svc->unix_uid != -1 && (pw = getpwuid((uid_t)svc->unix_uid)) == NULL) ||
	    (svc->unix_gid != -1 && (gr = getgrgid((gid_t)svc->unix_gid)) == NULL)) {
		fprintf(stderr, "sockd: %s: unix: uid %ld or gid %ld has no name\n", svc->name,
		    svc->unix_uid, svc->unix_gid);
		return -1;
	}
	print_open(fp, 4, "unix");
	if (svc->unix_mode != -1) {
		snprintf(mode, sizeof(mode), "%04o", (unsigned)svc->unix_mode);
		print_str(fp, 6, "mode", mode);
	} else
		fprintf(fp, "      # mode: as the umask leaves it\n");
	if (pw != NULL)
		print_str(fp, 6, "owner", pw->pw_name);
	if (gr != NULL)
		print_str(fp, 6, "group", gr->gr_name);
	print_close(fp, 4);
	return 0;
}

static void
print_handler(FILE *fp, const struct config_service *svc)
{
	if (svc->handler == HANDLER_ACK)
		print_str(fp, 4, "reply", svc->reply);
	else if (svc->handler == HANDLER_HTTP)
		print_http(fp, svc);
	else if (svc->handler == HANDLER_EXEC)
		print_exec(fp, svc);
	else if (svc->handler == HANDLER_MODULE)
		print_module(fp, svc);
}

/* Settings that belong to one model (or handler) only are written there. */
static int
print_service(FILE *fp, const struct config_service *svc)
{
	fputs("  {\n", fp);
	print_str(fp, 4, "name", svc->name);
	print_listen(fp, svc);
	print_str(fp, 4, "handler", config_handler_name(svc->handler));
	if (!svc->datagram)	/* a datagram service has neither */
		print_str(fp, 4, "framing", config_framing_name(svc->framing));
	print_str(fp, 4, "model", config_model_name(svc->model));
	print_int(fp, 4, "workers", svc->workers);
	print_int(fp, 4, "threads", svc->threads);
	if (!svc->datagram)
		print_int(fp, 4, "backlog", svc->backlog);
	if (model_has(svc, MODEL_PROCESS_PER_CONN) || svc->handler == HANDLER_EXEC)
		print_int(fp, 4, "max_children", svc->max_children);
	if (model_has(svc, MODEL_THREAD_PER_CONN))
		print_int(fp, 4, "max_threads", svc->max_threads);
	print_int(fp, 4, "max_requests", svc->max_requests);
	print_int(fp, 4, "max_requests_jitter", svc->max_requests_jitter);
	print_pool(fp, svc);
	print_limits(fp, svc);
	print_timeouts(fp, svc);
	print_access(fp, svc);
	print_handler(fp, svc);
	if (print_unix(fp, svc) == -1)
		return -1;
	fputs("  }", fp);
	return 0;
}

static void
print_control(FILE *fp, const struct sockd_config *cfg)
{
	fputs("control = {\n", fp);
	fprintf(fp, "  enabled = %s;\n", cfg->control ? "true" : "false");
	if (cfg->control_path != NULL)
		print_str(fp, 2, "path", cfg->control_path);
	else
		fputs("  # path: not set ($RUNTIME_DIRECTORY/control under systemd, else none)\n", fp);
	if (cfg->control_group != NULL)
		print_str(fp, 2, "group", cfg->control_group);
	print_close(fp, 0);
}

int
config_print(FILE *fp, const struct sockd_config *cfg)
{
	/* No file name: printing the printed file gives the same text again. */
	fputs("# The effective configuration, every default written out (sockd -T).\n", fp);
	print_str(fp, 0, "log_level", log_level_name(cfg->log_level));
	if (cfg->user != NULL)
		print_str(fp, 0, "user", cfg->user);
	else
		fputs("# user: not set (started as root, sockd serves as \"nobody\")\n", fp);
	if (cfg->group != NULL)
		print_str(fp, 0, "group", cfg->group);
	else
		fputs("# group: not set (the user's primary group)\n", fp);
	print_control(fp, cfg);
	fputs("services = (\n", fp);
	for (size_t i = 0; i < cfg->n_services; i++) {
		if (print_service(fp, &cfg->services[i]) == -1)
			return -1;
		fputs(i + 1 < cfg->n_services ? ",\n" : "\n", fp);
	}
	fputs(");\n", fp);
	return 0;
}
