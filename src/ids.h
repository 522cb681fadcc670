/*
 * ids.h - user and group names to ids: the one lookup that the
 * configuration check (user, group, unix.owner, unix.group, control.group)
 * and the privilege drop (priv.c) share, so that both say the same thing
 * about the same name.
 */
#ifndef SOCKD_IDS_H
#define SOCKD_IDS_H

#include <stdbool.h>
#include <sys/types.h>

/* 0 with the user's uid and primary gid (either pointer may be NULL), or
 * -1 with *WHY_R "no such user" or the lookup's error. */
int ids_user(const char *name, uid_t *uid_r, gid_t *gid_r, const char **why_r);
/* 0 with the group's gid, or -1 with *WHY_R "no such group" or the error. */
int ids_group(const char *name, gid_t *gid_r, const char **why_r);
/* Is the user UID, primary group GID, a member of group WANT (primary or
 * supplementary)? false when it cannot be told. */
bool ids_member(uid_t uid, gid_t gid, gid_t want);

#endif
