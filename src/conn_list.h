/*
 * conn_list.h - the connections of one event loop (models event and
 * uring), kept so that every timeout costs O(1) until it is due.
 *
 * timeouts.idle: all connections of a service share one timeout, so a
 * list in order of last activity (moved to the tail on every read or
 * write progress) expires from its head. timeouts.handshake and the
 * lingering after an error answer are fixed spans too, each with a list
 * in order of joining, so of deadline. The drain walks the activity list
 * (conn_list_expire says how). A model embeds a struct conn_entry in its
 * own per-connection record and is called back for each connection past
 * a deadline.
 */
#ifndef SOCKD_CONN_LIST_H
#define SOCKD_CONN_LIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conn.h"

struct conn_dlist;

struct conn_entry {
	struct conn *c;
	struct conn_entry *prev, *next;		/* in order of last activity */
	struct conn_entry *dl_prev, *dl_next;	/* in a list of a fixed deadline */
	struct conn_dlist *in;			/* that list, or NULL */
};

struct conn_dlist {
	struct conn_entry *head, *tail;
};

struct conn_list {
	struct conn_entry *head, *tail;	/* least recently active first */
	struct conn_dlist hs;		/* timeouts.handshake: oldest first */
	struct conn_dlist linger;	/* lingering after an error: oldest first */
};

/* E (its C just opened) joins: at the activity list's tail, and while its
 * first message is due, the handshake list. */
void conn_list_add(struct conn_list *l, struct conn_entry *e);
void conn_list_remove(struct conn_list *l, struct conn_entry *e);
/* Activity at NOW: its idle time starts again. */
void conn_list_touch(struct conn_list *l, struct conn_entry *e, int64_t now);
/* Into the deadline list it belongs to, after the handler had its say.
 * Lingering counts from when its last answer is out: till then it is in
 * no deadline list, and timeouts.idle watches it. */
void conn_list_sort(struct conn_list *l, struct conn_entry *e);

/*
 * Call TIME_OUT(ARG, E, T) for each connection past a deadline at NOW,
 * oldest first; it may remove E. When DRAINING, also those quiet for
 * CONN_DRAIN_IDLE_MS. The ms until the next drain deadline, or -1.
 */
typedef void conn_list_timeout_fn(void *arg, struct conn_entry *e, enum conn_timeout t);
int64_t conn_list_expire(struct conn_list *l, int64_t now, bool draining,
    conn_list_timeout_fn *time_out, void *arg);
/* MS, or less if a head's deadline comes sooner. */
int64_t conn_list_wait(const struct conn_list *l, int64_t now, int64_t ms);

#endif
