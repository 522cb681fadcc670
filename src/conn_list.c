/*
 * conn_list.c - the connections of one event loop, by activity and by
 * deadline (conn_list.h).
 */
#include "clock.h"
#include "conn_list.h"

static void
conn_dl_unlink(struct conn_entry *e)
{
	struct conn_dlist *l = e->in;

	if (l == NULL)
		return;
	*(e->dl_prev != NULL ? &e->dl_prev->dl_next : &l->head) = e->dl_next;
	*(e->dl_next != NULL ? &e->dl_next->dl_prev : &l->tail) = e->dl_prev;
	e->in = NULL;
}

static void
conn_dl_append(struct conn_dlist *l, struct conn_entry *e)
{
	conn_dl_unlink(e);
	e->dl_prev = l->tail;
	e->dl_next = NULL;
	*(l->tail != NULL ? &l->tail->dl_next : &l->head) = e;
	l->tail = e;
	e->in = l;
}

static void
conn_list_unlink(struct conn_list *l, struct conn_entry *e)
{
	*(e->prev != NULL ? &e->prev->next : &l->head) = e->next;
	*(e->next != NULL ? &e->next->prev : &l->tail) = e->prev;
	e->prev = e->next = NULL;
}

static void
conn_list_append(struct conn_list *l, struct conn_entry *e)
{
	e->prev = l->tail;
	e->next = NULL;
	*(l->tail != NULL ? &l->tail->next : &l->head) = e;
	l->tail = e;
}

void
conn_list_add(struct conn_list *l, struct conn_entry *e)
{
	e->in = NULL;
	conn_list_append(l, e);
	if (conn_in_handshake(e->c))
		conn_dl_append(&l->hs, e);
}

void
conn_list_remove(struct conn_list *l, struct conn_entry *e)
{
	conn_list_unlink(l, e);
	conn_dl_unlink(e);
}

void
conn_list_touch(struct conn_list *l, struct conn_entry *e, int64_t now)
{
	conn_touch(e->c, now);
	if (l->tail == e)
		return;
	conn_list_unlink(l, e);
	conn_list_append(l, e);
}

void
conn_list_sort(struct conn_list *l, struct conn_entry *e)
{
	bool lingering = conn_lingering(e->c) && !conn_pending(e->c);

	if (lingering && e->in != &l->linger)
		conn_dl_append(&l->linger, e);
	else if (!lingering && !conn_in_handshake(e->c))
		conn_dl_unlink(e);	/* its first message came, or its answer goes out */
}

/*
 * Draining: the connections quiet for CONN_DRAIN_IDLE_MS are due
 * (conn_timeout_check says which). The activity list is in order of that
 * deadline too, but one that is not quiet (half a request in, or its
 * answer going out) must not hold back those behind it: the walk passes
 * it by, to the first connection active too recently. So a drain costs
 * a step per such connection per loop, for as long as the drain lasts.
 */
static int64_t
conn_list_drain_expire(struct conn_list *l, int64_t now, conn_list_timeout_fn *time_out,
    void *arg)
{
	struct conn_entry *e, *next;
	enum conn_timeout t;
	int64_t left;

	for (e = l->head; e != NULL; e = next) {
		next = e->next;
		t = conn_timeout_check(e->c, now, &left);
		if (now - conn_active_ns(e->c) < (int64_t)CONN_DRAIN_IDLE_MS * NS_PER_MS)
			return t == CONN_IN_TIME ? left : 0;
		if (t != CONN_IN_TIME)
			time_out(arg, e, t);	/* may move it to the tail */
	}
	return -1;
}

/* Each list from its head, and each stops at its first connection in
 * time, so a thousand slow clients cost the loop nothing until due. */
int64_t
conn_list_expire(struct conn_list *l, int64_t now, bool draining,
    conn_list_timeout_fn *time_out, void *arg)
{
	enum conn_timeout t;
	int64_t left;

	while (l->hs.head != NULL &&
	    (t = conn_timeout_check(l->hs.head->c, now, &left)) == CONN_HANDSHAKE_OVER)
		time_out(arg, l->hs.head, t);
	while (l->linger.head != NULL &&
	    (t = conn_timeout_check(l->linger.head->c, now, &left)) == CONN_LINGER_OVER)
		time_out(arg, l->linger.head, t);
	while (l->head != NULL && ((t = conn_timeout_check(l->head->c, now, &left)) ==
	    CONN_IDLE_OVER || t == CONN_STALL_OVER))
		time_out(arg, l->head, t);
	return draining ? conn_list_drain_expire(l, now, time_out, arg) : -1;
}

static int64_t
conn_head_wait(const struct conn_entry *e, int64_t now, int64_t ms)
{
	int64_t t;

	if (e != NULL && conn_timeout_check(e->c, now, &t) == CONN_IN_TIME && t >= 0 && t < ms)
		return t;
	return ms;
}

int64_t
conn_list_wait(const struct conn_list *l, int64_t now, int64_t ms)
{
	ms = conn_head_wait(l->head, now, ms);
	ms = conn_head_wait(l->hs.head, now, ms);
	return conn_head_wait(l->linger.head, now, ms);
}
