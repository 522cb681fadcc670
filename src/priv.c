/*
 * priv.c - give up root before serving clients.
 *
 * The ids are looked up while the configuration is loaded (NSS may need
 * files a chroot or sandbox hides later) and applied just before the first
 * accept. The supplementary groups too: initgroups() in each worker ran
 * NSS there (the group file read through stdio, libnss_systemd's state),
 * about 64 kB of pages each worker dirtied for itself, where setgroups()
 * of the master's list dirties none. sockd never serves as root unless user = "root" is written
 * explicitly: without a user it serves as "nobody" (as nginx does). After
 * setuid() it checks that root cannot be regained.
 */
#include <errno.h>
#include <grp.h>		/* getgrouplist, setgroups */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ids.h"
#include "log.h"
#include "priv.h"
#include "util.h"

#define PRIV_DEFAULT_USER "nobody"

/* The supplementary groups of IDS's user, as initgroups() would set them. */
static int
priv_groups(struct priv_ids *ids)
{
	int n = 16;

	for (int tries = 0; tries < 8; tries++) {
		int want = n;

		ids->groups = xreallocarray(ids->groups, (size_t)n, sizeof(*ids->groups));
		if (getgrouplist(ids->user, ids->gid, ids->groups, &want) != -1) {
			ids->n_groups = want;
			return 0;
		}
		if (want <= n)		/* glibc says how many; anything else: grow */
			want = n * 2;
		n = want;
	}
	log_err("user \"%s\": cannot read its groups", ids->user);
	return -1;
}

int
priv_resolve(const char *user, const char *group, struct priv_ids *ids_r)
{
	const char *why;

	memset(ids_r, 0, sizeof(*ids_r));
	if (geteuid() != 0) {
		if (user != NULL)
			log_notice("not started as root: \"user\" and \"group\" are ignored");
		return 0;
	}
	if (user == NULL) {
		user = PRIV_DEFAULT_USER;
		log_notice("started as root and no \"user\" set: serving as \"%s\"", user);
	}
	if (ids_user(user, &ids_r->uid, &ids_r->gid, &why) == -1) {
		log_err("user \"%s\": %s", user, why);
		return -1;
	}
	if (group != NULL && ids_group(group, &ids_r->gid, &why) == -1) {
		log_err("group \"%s\": %s", group, why);
		return -1;
	}
	ids_r->drop = ids_r->uid != 0 || ids_r->gid != 0;
	ids_r->user = xstrdup(user);
	if (ids_r->drop && priv_groups(ids_r) == -1) {
		priv_ids_free(ids_r);
		return -1;
	}
	return 0;
}

int
priv_drop(const struct priv_ids *ids)
{
	if (!ids->drop)
		return 0;
	if (setgroups((size_t)ids->n_groups, ids->groups) == -1) {
		log_err("setgroups(%s): %s", ids->user, strerror(errno));
		return -1;
	}
	if (setresgid(ids->gid, ids->gid, ids->gid) == -1) {
		log_err("setresgid(%ld): %s", (long)ids->gid, strerror(errno));
		return -1;
	}
	if (setresuid(ids->uid, ids->uid, ids->uid) == -1) {
		log_err("setresuid(%ld): %s", (long)ids->uid, strerror(errno));
		return -1;
	}
	if (ids->uid != 0 && (setuid(0) == 0 || getuid() != ids->uid ||
	    geteuid() != ids->uid || getgid() != ids->gid || getegid() != ids->gid))
		panic("privileges not dropped as asked (uid %ld)", (long)ids->uid);
	return 0;
}

void
priv_ids_free(struct priv_ids *ids)
{
	free(ids->user);
	free(ids->groups);
	memset(ids, 0, sizeof(*ids));
}
