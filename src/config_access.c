/*
 * config_access.c - who may connect to a service: allow and deny
 * networks, allow_uid and allow_gid for Unix clients, the PROXY protocol
 * and who may send it, and the per-client limits' cross-checks. What is
 * parsed here is enforced on the accept path (guard.c).
 */
#include <libconfig.h>
#include <stdlib.h>
#include <string.h>

#include "cidr.h"
#include "config_access.h"
#include "config_util.h"
#include "ids.h"
#include "util.h"

/* NAME = "NETWORK" or [ "NETWORK", ... ]: the networks in *V_R, *N_R. */
static void
access_networks(struct config_ctx *ctx, const config_setting_t *group, const char *name,
    struct cidr **v_r, size_t *n_r)
{
	config_setting_t *s = config_setting_get_member(group, name);
	bool list;
	int n;

	if (s == NULL)
		return;
	list = config_setting_is_array(s) || config_setting_is_list(s);
	n = list ? config_setting_length(s) : 1;
	if (list && n == 0) {
		config_error(ctx, s, "must name at least one network");
		return;
	}
	*v_r = xcalloc((size_t)n, sizeof(**v_r));
	for (int i = 0; i < n; i++) {
		config_setting_t *e = list ? config_setting_get_elem(s, (unsigned)i) : s;
		char why[160], got[VALUE_TEXT_MAX];

		if (config_setting_type(e) != CONFIG_TYPE_STRING) {
			config_value_text(e, got, sizeof(got));
			config_error(ctx, e, "must be a network such as \"192.0.2.0/24\" (got %s)",
			    got);
			continue;
		}
		if (cidr_parse_msg(config_setting_get_string(e), &(*v_r)[*n_r], why,
		    sizeof(why)) == -1) {
			config_value_text(e, got, sizeof(got));
			config_error(ctx, e, "%s (got %s)", why, got);
			continue;
		}
		(*n_r)++;
	}
}

/* NAME = [ 0, "www-data", ... ]: ids, by number or by name (user or group). */
static void
access_ids(struct config_ctx *ctx, const config_setting_t *group, const char *name,
    bool users, unsigned **v_r, size_t *n_r)
{
	config_setting_t *s = config_setting_get_member(group, name);
	int n;

	if (s == NULL)
		return;
	if (!config_setting_is_array(s) && !config_setting_is_list(s)) {
		config_error(ctx, s, "must be a list [ ... ] of %s names or numbers",
		    users ? "user" : "group");
		return;
	}
	if ((n = config_setting_length(s)) == 0) {
		config_error(ctx, s, "must name at least one %s", users ? "user" : "group");
		return;
	}
	*v_r = xcalloc((size_t)n, sizeof(**v_r));
	for (int i = 0; i < n; i++) {
		config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		char got[VALUE_TEXT_MAX];
		const char *why;
		uid_t uid;
		gid_t gid;

		if (config_setting_type(e) == CONFIG_TYPE_INT && config_setting_get_int(e) >= 0) {
			(*v_r)[(*n_r)++] = (unsigned)config_setting_get_int(e);
			continue;
		}
		config_value_text(e, got, sizeof(got));
		if (config_setting_type(e) != CONFIG_TYPE_STRING) {
			config_error(ctx, e, "must be a %s name or a number >= 0 (got %s)",
			    users ? "user" : "group", got);
			continue;
		}
		if (users ? ids_user(config_setting_get_string(e), &uid, NULL, &why) :
		    ids_group(config_setting_get_string(e), &gid, &why)) {
			config_error(ctx, e, "%s %s", why, got);
			continue;
		}
		(*v_r)[(*n_r)++] = users ? (unsigned)uid : (unsigned)gid;
	}
}

static bool
access_has_ip(const struct config_service *svc)
{
	for (size_t i = 0; i < svc->n_listen; i++)
		if (svc->listen[i].addr.u.sa.sa_family != AF_UNIX)
			return true;
	return false;
}

void
config_parse_access(struct config_ctx *ctx, const config_setting_t *group,
    struct config_service *svc)
{
	config_setting_t *s;

	access_networks(ctx, group, "allow", &svc->allow, &svc->n_allow);
	access_networks(ctx, group, "deny", &svc->deny, &svc->n_deny);
	access_networks(ctx, group, "proxy_trusted", &svc->proxy_trusted, &svc->n_proxy_trusted);
	access_ids(ctx, group, "allow_uid", true, (unsigned **)&svc->allow_uid, &svc->n_allow_uid);
	access_ids(ctx, group, "allow_gid", false, (unsigned **)&svc->allow_gid,
	    &svc->n_allow_gid);
	if ((svc->n_allow_uid > 0 || svc->n_allow_gid > 0) && !config_service_has_unix(svc))
		config_error(ctx, config_setting_get_member(group,
		    svc->n_allow_uid > 0 ? "allow_uid" : "allow_gid"),
		    "the service has no unix: listener");
	if ((svc->n_allow > 0 || svc->n_deny > 0) && !access_has_ip(svc))
		config_error(ctx, config_setting_get_member(group, svc->n_allow > 0 ? "allow" : "deny"),
		    "the service has no TCP listener (for Unix clients: allow_uid, allow_gid)");
	if ((s = config_setting_get_member(group, "proxy_protocol")) != NULL) {
		if (config_setting_type(s) != CONFIG_TYPE_BOOL)
			config_error(ctx, s, "must be true or false");
		else
			svc->proxy_protocol = config_setting_get_bool(s);
	}
	if (svc->proxy_protocol && svc->n_proxy_trusted == 0 &&
	    config_setting_get_member(group, "proxy_trusted") == NULL)
		config_error(ctx, s, "needs proxy_trusted: the networks of the load balancers "
		    "that may send the header");
	if (!svc->proxy_protocol && (s = config_setting_get_member(group, "proxy_trusted")) != NULL)
		config_error(ctx, s, "only used with proxy_protocol = true");
	if (svc->rate_burst > 0 && svc->rate == 0 &&
	    (s = config_setting_get_member(group, "limits")) != NULL)
		config_error(ctx, config_setting_get_member(s, "rate_burst"),
		    "only used with limits.rate");
	if (svc->rate > 0 && svc->rate_burst == 0)
		svc->rate_burst = svc->rate;
}

void
config_access_free(struct config_service *svc)
{
	free(svc->allow);
	free(svc->deny);
	free(svc->allow_uid);
	free(svc->allow_gid);
	free(svc->proxy_trusted);
}
