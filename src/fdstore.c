/*
 * fdstore.c - what to tell systemd so that its file descriptor store holds
 * exactly the listening sockets sockd wants it to keep.
 *
 * FDSTOREREMOVE=1 drops every fd stored under a name, not one of them. So
 * when a name loses one of its sockets (a reload closed that address), the
 * name is removed and its remaining sockets are stored again; a name that
 * only gains sockets gets just the new ones. Removals go first: systemd
 * ignores an fd it already holds (under any name), so a socket moved to
 * another service must leave its old name before it can get the new one.
 * Nothing here sends or keeps state, which is why it can be tested alone.
 */
#include <stdio.h>
#include <string.h>

#include "fdstore.h"

/* The name SERVICE's sockets are stored under; -1 if it does not fit. */
int
fdstore_name(char *buf, size_t size, const char *service)
{
	int n = snprintf(buf, size, "%s%s", FDSTORE_PREFIX, service);

	if (n < 0 || (size_t)n >= size || !fdstore_name_valid(buf))
		return -1;
	return 0;
}

/* The service a stored socket's FDNAME belongs to, or NULL if it is not
 * one sockd stored (a socket unit's, say). */
const char *
fdstore_service(const char *fdname)
{
	size_t n = strlen(FDSTORE_PREFIX);

	if (fdname == NULL || strncmp(fdname, FDSTORE_PREFIX, n) != 0 || fdname[n] == '\0')
		return NULL;
	return fdname + n;
}

/* What systemd accepts as FDNAME= (and passes in LISTEN_FDNAMES, where ':'
 * separates the names): 1 to 255 printable ASCII characters, no ':'. */
bool
fdstore_name_valid(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > FDSTORE_NAME_MAX)
		return false;
	for (const char *p = name; *p != '\0'; p++)
		if (*p < 0x21 || *p > 0x7e || *p == ':')
			return false;
	return true;
}

/* The notify message for OP on NAME into BUF: its length, or -1 (invalid
 * name, or BUF too small). */
int
fdstore_message(char *buf, size_t size, enum fdstore_op op, const char *name)
{
	int n;

	if (!fdstore_name_valid(name))
		return -1;
	n = snprintf(buf, size, "%s\nFDNAME=%s",
	    op == FDSTORE_ADD ? "FDSTORE=1" : "FDSTOREREMOVE=1", name);
	if (n < 0 || (size_t)n >= size)
		return -1;
	return n;
}

static bool
fdstore_has(const struct fdstore_entry *set, size_t n, const struct fdstore_entry *e)
{
	for (size_t i = 0; i < n; i++)
		if (set[i].fd == e->fd && e->fd != -1 && strcmp(set[i].name, e->name) == 0)
			return true;
	return false;
}

/* Whether NAME loses a socket going from CUR to WANT. */
static bool
fdstore_name_loses(const struct fdstore_entry *cur, size_t n_cur,
    const struct fdstore_entry *want, size_t n_want, const char *name)
{
	for (size_t i = 0; i < n_cur; i++)
		if (strcmp(cur[i].name, name) == 0 && !fdstore_has(want, n_want, &cur[i]))
			return true;
	return false;
}

static bool
fdstore_removed(const struct fdstore_action *out, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (out[i].op == FDSTORE_REMOVE && strcmp(out[i].e->name, name) == 0)
			return true;
	return false;
}

/*
 * The actions that turn a store holding CUR into one holding WANT, into
 * OUT (room for n_cur + n_want): one REMOVE per name that loses a socket,
 * then an ADD for every wanted socket the store lacks or that a REMOVE
 * took along. Returns how many.
 */
size_t
fdstore_plan(const struct fdstore_entry *cur, size_t n_cur,
    const struct fdstore_entry *want, size_t n_want, struct fdstore_action *out)
{
	size_t n = 0;

	for (size_t i = 0; i < n_cur; i++)
		if (!fdstore_removed(out, n, cur[i].name) &&
		    fdstore_name_loses(cur, n_cur, want, n_want, cur[i].name))
			out[n++] = (struct fdstore_action){ FDSTORE_REMOVE, &cur[i] };
	for (size_t i = 0; i < n_want; i++)
		if (want[i].fd != -1 && (fdstore_removed(out, n, want[i].name) ||
		    !fdstore_has(cur, n_cur, &want[i])))
			out[n++] = (struct fdstore_action){ FDSTORE_ADD, &want[i] };
	return n;
}
