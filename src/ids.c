/*
 * ids.c - user and group lookups (ids.h).
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>

#include "ids.h"

int
ids_user(const char *name, uid_t *uid_r, gid_t *gid_r, const char **why_r)
{
	struct passwd *pw;

	errno = 0;
	if ((pw = getpwnam(name)) == NULL) {
		*why_r = errno != 0 && errno != ENOENT && errno != ESRCH ? strerror(errno) :
		    "no such user";
		return -1;
	}
	if (uid_r != NULL)
		*uid_r = pw->pw_uid;
	if (gid_r != NULL)
		*gid_r = pw->pw_gid;
	return 0;
}

int
ids_group(const char *name, gid_t *gid_r, const char **why_r)
{
	struct group *gr;

	errno = 0;
	if ((gr = getgrnam(name)) == NULL) {
		*why_r = errno != 0 && errno != ENOENT && errno != ESRCH ? strerror(errno) :
		    "no such group";
		return -1;
	}
	*gid_r = gr->gr_gid;
	return 0;
}

#define IDS_GROUPS_MAX 256

bool
ids_member(uid_t uid, gid_t gid, gid_t want)
{
	gid_t groups[IDS_GROUPS_MAX];
	int n = IDS_GROUPS_MAX;
	struct passwd *pw;

	if (gid == want)
		return true;
	if ((pw = getpwuid(uid)) == NULL)
		return false;
	if (getgrouplist(pw->pw_name, gid, groups, &n) == -1)
		return false;	/* more groups than we look at: not a member */
	for (int i = 0; i < n; i++)
		if (groups[i] == want)
			return true;
	return false;
}
