/*
 * priv.h - give up root before serving clients.
 */
#ifndef SOCKD_PRIV_H
#define SOCKD_PRIV_H

#include <stdbool.h>
#include <sys/types.h>

struct priv_ids {
	bool drop;			/* false: keep the current ids */
	uid_t uid;
	gid_t gid;
	char *user;
	gid_t *groups;			/* the user's supplementary groups, gid among them */
	int n_groups;
};

int priv_resolve(const char *user, const char *group, struct priv_ids *ids_r);
int priv_drop(const struct priv_ids *ids);
void priv_ids_free(struct priv_ids *ids);

#endif
