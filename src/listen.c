/*
 * listen.c - open listening sockets, take them from systemd, keep them
 * across reloads.
 *
 * Every stream listener is non-blocking (workers poll and then accept, and
 * another worker may have taken the connection first); a datagram socket
 * blocks, and its readers say MSG_DONTWAIT where they must not wait
 * (dgram.c). Every one is close-on-exec. TCP
 * listeners set SO_REUSEADDR so a restart does not wait out TIME_WAIT; IPv6
 * listeners set IPV6_V6ONLY so "[::]:P" and "*:P" can coexist. A Unix
 * socket's file is removed first only if it is a socket nobody listens on.
 *
 * Under systemd, the TCP listeners sockd opened itself also go to systemd's
 * file descriptor store (listen_store, after every start and reload), named
 * FDSTORE_PREFIX + service. A restart that systemd keeps the store over
 * passes them back like socket activation; they are then taken like an
 * old generation's sockets at a reload: by address, and what the
 * configuration no longer has is closed and removed from the store. Unix
 * sockets are not stored: the old master removes their file at exit, and
 * a socket without its file reaches nobody.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fcntl.h>
#include <stdlib.h>
#include <systemd/sd-daemon.h>

#include "fdstore.h"
#include "listen.h"
#include "log.h"
#include "notify.h"
#include "util.h"

/* What this process put in (or got back from) systemd's fd store. */
static struct fdstore_entry *stored;
static size_t n_stored;

/* 0: the path is free (or now is); -1: in use or not ours to remove. */
static int
listen_clear_unix(const struct sockd_addr *addr, const char *text)
{
	const char *path = addr->u.un.sun_path;
	struct stat st;
	int fd, r;

	if (lstat(path, &st) == -1)
		return errno == ENOENT ? 0 : (log_err("%s: %s", text, strerror(errno)), -1);
	if (!S_ISSOCK(st.st_mode)) {
		log_err("%s: file exists and is not a socket", text);
		return -1;
	}
	fd = socket(AF_UNIX, (addr->dgram ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		log_err("%s: socket: %s", text, strerror(errno));
		return -1;
	}
	r = connect(fd, &addr->u.sa, addr->len);
	close(fd);
	if (r == 0) {
		log_err("%s: another process is listening on it", text);
		return -1;
	}
	if (errno != ECONNREFUSED) {
		log_err("%s: cannot tell whether the socket is in use: %s", text, strerror(errno));
		return -1;
	}
	if (unlink(path) == -1 && errno != ENOENT) {
		log_err("%s: cannot remove stale socket: %s", text, strerror(errno));
		return -1;
	}
	log_info("%s: removed stale socket", text);
	return 0;
}

static int
listen_setopts(int fd, int family, const char *text)
{
	int on = 1;

	if (family == AF_UNIX)
		return 0;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1) {
		log_err("%s: SO_REUSEADDR: %s", text, strerror(errno));
		return -1;
	}
	if (family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) == -1) {
		log_err("%s: IPV6_V6ONLY: %s", text, strerror(errno));
		return -1;
	}
	return 0;
}

int
listen_open(const struct sockd_addr *addr, int backlog, int *fd_r)
{
	char text[ADDR_TEXT_MAX];
	int family = addr_family(addr);
	int fd;

	addr_format(addr, text, sizeof(text));
	if (family == AF_UNIX && listen_clear_unix(addr, text) == -1)
		return -1;
	/* A datagram socket blocks: a loop of one socket waits in recvmmsg
	 * (dgram_loop.c), and every other read or send says MSG_DONTWAIT. */
	fd = socket(family, (addr->dgram ? SOCK_DGRAM : SOCK_STREAM | SOCK_NONBLOCK) | SOCK_CLOEXEC,
	    0);
	if (fd == -1) {
		log_err("%s: socket: %s", text, strerror(errno));
		return -1;
	}
	if (listen_setopts(fd, family, text) == -1)
		goto fail;
	if (bind(fd, &addr->u.sa, addr->len) == -1) {
		log_err("%s: bind: %s", text, strerror(errno));
		goto fail;
	}
	if (!addr->dgram && listen(fd, backlog) == -1) {
		log_err("%s: listen: %s", text, strerror(errno));
		goto fail;
	}
	*fd_r = fd;
	return 0;
fail:
	close(fd);
	return -1;
}

/* The address FD is bound to, with its socket type (udp:, unixgram:). */
int
listen_local_addr(int fd, struct sockd_addr *addr_r)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss), tlen = sizeof(int);
	int type;

	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1 ||
	    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) == -1 ||
	    addr_from_sockaddr((struct sockaddr *)&ss, len, addr_r) == -1)
		return -1;
	addr_r->dgram = type == SOCK_DGRAM;
	return 0;
}

/* ---- sets of listeners ------------------------------------------------ */

static struct listener *
listen_set_add(struct listen_set *set)
{
	set->l = xreallocarray(set->l, set->n + 1, sizeof(*set->l));
	set->l[set->n] = (struct listener){ .fd = -1 };
	return &set->l[set->n++];
}

static void
listener_close(struct listener *l)
{
	if (l->fd != -1 && close(l->fd) == -1 && errno != EINTR)
		log_warn("close: %s", strerror(errno));
	if (l->remove_file && unlink(l->addr.u.un.sun_path) == -1 && errno != ENOENT)
		log_warn("unlink %s: %s", l->addr.u.un.sun_path, strerror(errno));
	free(l->name);
	l->fd = -1;
	l->name = NULL;
}

void
listen_set_close(struct listen_set *set)
{
	for (size_t i = 0; i < set->n; i++)
		listener_close(&set->l[i]);
	free(set->l);
	set->l = NULL;
	set->n = 0;
}

/* Make a socket systemd passed us ours: non-blocking, close-on-exec,
 * checked. STORE: from the fd store (taken by address, not by name). */
static int
listen_adopt(int fd, const char *name, bool store, struct listen_set *set)
{
	struct listener *l;
	int fl;

	if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) <= 0 &&
	    sd_is_socket(fd, AF_UNSPEC, SOCK_DGRAM, -1) <= 0) {
		log_err("socket activation: fd %d (%s) is neither a listening stream socket nor a "
		    "datagram socket", fd, name);
		return -1;
	}
	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, sd_is_socket(fd, AF_UNSPEC, SOCK_DGRAM, -1) > 0 ?
	    fl & ~O_NONBLOCK : fl | O_NONBLOCK) == -1 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) == -1) {
		log_err("socket activation: fd %d: fcntl: %s", fd, strerror(errno));
		return -1;
	}
	l = listen_set_add(set);
	l->fd = fd;
	l->name = xstrdup(name);
	l->activated = !store;
	l->from_store = store;
	if (listen_local_addr(fd, &l->addr) == -1) {
		log_err("socket activation: fd %d: getsockname: %s", fd, strerror(errno));
		return -1;
	}
	if (store) {
		struct fdstore_entry *e;

		stored = xreallocarray(stored, n_stored + 1, sizeof(*stored));
		e = &stored[n_stored++];
		*e = (struct fdstore_entry){ .fd = fd };
		snprintf(e->name, sizeof(e->name), "%s", name);
		addr_format(&l->addr, e->text, sizeof(e->text));
	}
	return 0;
}

/*
 * Collect the sockets systemd passed (LISTEN_FDS/LISTEN_FDNAMES) into SET,
 * each with its FileDescriptorName=. Their services are matched later, by
 * listen_set_open(). The environment is cleared so children never see it.
 */
int
listen_activated(struct listen_set *set)
{
	char **names = NULL;
	int n = sd_listen_fds_with_names(1, &names), r = 0;

	if (n < 0) {
		log_err("socket activation: %s", strerror(-n));
		return -1;
	}
	for (int i = 0; i < n; i++) {
		if (r == 0 && listen_adopt(SD_LISTEN_FDS_START + i, names[i],
		    fdstore_service(names[i]) != NULL, set) == -1)
			r = -1;
		free(names[i]);
	}
	free(names);
	return r;
}

/*
 * A binary upgrade's new image: the listener FD the old one handed over
 * (upgrade.c), into SET as it was there. Systemd's keep their name and
 * take their address from the socket; the master's own keep the address
 * they were configured with (ADDR), so listen_set_open() finds them by it.
 */
int
listen_take_handed(struct listen_set *set, int fd, const char *name, bool activated,
    bool remove_file, const char *addr)
{
	struct listener *l;
	const char *why;

	if (activated)
		return listen_adopt(fd, name != NULL ? name : "", false, set);
	if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) <= 0 &&
	    sd_is_socket(fd, AF_UNSPEC, SOCK_DGRAM, -1) <= 0) {
		log_err("upgrade: fd %d (%s) is not a socket sockd listens on", fd, addr);
		return -1;
	}
	l = listen_set_add(set);
	l->fd = fd;
	l->remove_file = remove_file;
	if (addr_parse(addr, &l->addr, &why) == -1) {
		log_err("upgrade: fd %d: address \"%s\": %s", fd, addr, why);
		return -1;
	}
	return 0;
}

static int
listen_unix_perms(const struct listener *l, const struct config_service *svc)
{
	const char *path = l->addr.u.un.sun_path;

	if (svc->unix_mode != -1 && chmod(path, (mode_t)svc->unix_mode) == -1) {
		log_err("unix:%s: chmod: %s", path, strerror(errno));
		return -1;
	}
	if ((svc->unix_uid != -1 || svc->unix_gid != -1) &&
	    chown(path, (uid_t)svc->unix_uid, (gid_t)svc->unix_gid) == -1) {
		log_err("unix:%s: chown: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Building a new set: which old listeners it reuses, so a failure can
 * leave the old set exactly as it was. */
struct listen_build {
	struct sockd_config *cfg;
	struct listen_set *old;
	bool *taken;			/* per old listener */
	struct listen_set set;
};

static ssize_t
listen_find(struct listen_build *b, const struct sockd_addr *addr)
{
	for (size_t i = 0; i < b->old->n; i++) {
		const struct listener *o = &b->old->l[i];

		if (!b->taken[i] && o->fd != -1 && !o->activated && addr_equal(&o->addr, addr))
			return (ssize_t)i;
	}
	return -1;
}

/* Give systemd's sockets to their services by name; every one must match. */
/*
 * A service without listen serves what systemd passes under its name, and
 * is of the kind of those sockets: datagrams if the first one is (the rest
 * must agree, as for any service). Then what a datagram service cannot be
 * is checked here, since the file could not say.
 */
static int
listen_kind_from_systemd(struct listen_build *b)
{
	for (size_t s = 0; s < b->cfg->n_services; s++) {
		struct config_service *svc = &b->cfg->services[s];
		const char *why;

		if (svc->n_listen > 0)
			continue;
		for (size_t i = 0; i < b->old->n; i++) {
			const struct listener *o = &b->old->l[i];

			if (o->activated && o->fd != -1 && strcmp(o->name, svc->name) == 0) {
				svc->datagram = o->addr.dgram;
				break;
			}
		}
		if (svc->datagram && (why = config_datagram_conflict(svc)) != NULL) {
			log_err("%s: systemd passes it datagram sockets, but %s", svc->name, why);
			return -1;
		}
	}
	return 0;
}

/* Every service has a listener: one without listen needs systemd's. */
static int
listen_every_service(const struct listen_build *b)
{
	for (size_t s = 0; s < b->cfg->n_services; s++) {
		size_t k = 0;

		if (b->cfg->services[s].n_listen > 0)
			continue;
		while (k < b->set.n && b->set.l[k].service != s)
			k++;
		if (k == b->set.n) {
			log_err("%s: no listen in the configuration, and systemd passed no socket "
			    "named \"%s\" (FileDescriptorName=%s in a .socket unit)",
			    b->cfg->services[s].name, b->cfg->services[s].name,
			    b->cfg->services[s].name);
			return -1;
		}
	}
	return 0;
}

static int
listen_take_activated(struct listen_build *b)
{
	if (listen_kind_from_systemd(b) == -1)
		return -1;
	for (size_t i = 0; i < b->old->n; i++) {
		const struct listener *o = &b->old->l[i];
		struct listener *l;
		size_t s;

		if (!o->activated || o->fd == -1)
			continue;
		for (s = 0; s < b->cfg->n_services; s++)
			if (strcmp(b->cfg->services[s].name, o->name) == 0)
				break;
		if (s == b->cfg->n_services) {
			log_err("socket from systemd named \"%s\" matches no service "
			    "(set FileDescriptorName= to a service name)", o->name);
			return -1;
		}
		if (o->addr.dgram != b->cfg->services[s].datagram) {
			log_err("socket from systemd named \"%s\" is a %s socket, but service \"%s\" "
			    "serves %s (%s= in its .socket unit)", o->name,
			    o->addr.dgram ? "datagram" : "stream", o->name,
			    b->cfg->services[s].datagram ? "datagrams" : "streams",
			    b->cfg->services[s].datagram ? "ListenDatagram" : "ListenStream");
			return -1;
		}
		l = listen_set_add(&b->set);
		*l = *o;
		l->name = xstrdup(o->name);
		l->service = s;
		b->taken[i] = true;
	}
	return 0;
}

static bool
listen_activated_has(const struct listen_build *b, size_t s, const struct sockd_addr *addr)
{
	for (size_t k = 0; k < b->set.n; k++)
		if (b->set.l[k].activated && b->set.l[k].service == s &&
		    addr_equal(&b->set.l[k].addr, addr))
			return true;
	return false;
}

/* The listener for one configured address: the old one, or a new one. */
static int
listen_one(struct listen_build *b, size_t s, const struct config_listen *cl)
{
	const struct config_service *svc = &b->cfg->services[s];
	struct listener *l;
	ssize_t i;

	if (listen_activated_has(b, s, &cl->addr))
		return 0;	/* systemd bound it: not again */
	l = listen_set_add(&b->set);
	l->service = s;
	l->addr = cl->addr;
	if ((i = listen_find(b, &cl->addr)) != -1) {
		b->taken[i] = true;
		l->fd = b->old->l[i].fd;
		l->remove_file = b->old->l[i].remove_file;
		l->from_store = b->old->l[i].from_store;
		/* The backlog may have changed (a datagram socket has none). */
		if (!cl->addr.dgram && listen(l->fd, svc->backlog) == -1)
			log_warn("%s: listen: %s", cl->text, strerror(errno));
	} else if (listen_open(&cl->addr, svc->backlog, &l->fd) == -1) {
		log_err("%s: cannot listen on %s", svc->name, cl->text);
		return -1;
	} else
		l->remove_file = addr_family(&cl->addr) == AF_UNIX;
	if (addr_family(&l->addr) == AF_UNIX)
		return listen_unix_perms(l, svc);
	return 0;
}

/* Undo a failed build: close what it opened, leave what it took. */
static void
listen_build_abort(struct listen_build *b)
{
	for (size_t i = 0; i < b->set.n; i++) {
		struct listener *l = &b->set.l[i];
		bool reused = l->activated;

		for (size_t k = 0; k < b->old->n && !reused; k++)
			reused = b->taken[k] && b->old->l[k].fd == l->fd;
		if (reused) {
			free(l->name);
			l->name = NULL;
			l->fd = -1;
			l->remove_file = false;
		}
	}
	listen_set_close(&b->set);
}

/*
 * Build the listeners of CFG into SET_R, keeping from OLD what can be kept:
 * systemd's sockets (matched to services by name) and every socket whose
 * address is still configured (same fd, so its backlog survives). What is
 * kept is removed from OLD; the caller closes what is left there once no
 * worker uses it. On failure OLD is untouched and nothing new stays open;
 * the result is LISTEN_ECONFIG when a socket from systemd matches no
 * service, -1 when the system refused something.
 */
int
listen_set_open(struct sockd_config *cfg, struct listen_set *old,
    struct listen_set *set_r)
{
	struct listen_build b = { .cfg = cfg, .old = old,
		.taken = xcalloc(old->n, sizeof(bool)) };

	if (listen_take_activated(&b) == -1) {
		listen_build_abort(&b);
		free(b.taken);
		return LISTEN_ECONFIG;
	}
	if (listen_every_service(&b) == -1) {
		listen_build_abort(&b);
		free(b.taken);
		return LISTEN_ECONFIG;
	}
	for (size_t s = 0; s < cfg->n_services; s++)
		for (size_t k = 0; k < cfg->services[s].n_listen; k++)
			if (listen_one(&b, s, &cfg->services[s].listen[k]) == -1)
				goto fail;
	for (size_t i = 0; i < old->n; i++)
		if (b.taken[i]) {
			free(old->l[i].name);
			old->l[i] = (struct listener){ .fd = -1 };
		}
	free(b.taken);
	*set_r = b.set;
	return 0;
fail:
	listen_build_abort(&b);
	free(b.taken);
	return -1;
}

size_t
listen_service_fds(const struct listen_set *set, size_t service, int *fds, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < set->n && n < max; i++)
		if (set->l[i].service == service && set->l[i].fd != -1)
			fds[n++] = set->l[i].fd;
	return n;
}

void
listen_log(const struct listen_set *set, const struct sockd_config *cfg)
{
	char text[ADDR_TEXT_MAX];
	struct sockd_addr bound;

	for (size_t i = 0; i < set->n; i++) {
		const struct listener *l = &set->l[i];

		if (listen_local_addr(l->fd, &bound) == -1)
			bound = l->addr;
		addr_format(&bound, text, sizeof(text));
		log_info("%s: listening on %s%s", cfg->services[l->service].name, text,
		    l->activated ? " (from systemd)" : l->from_store ? " (from the fd store)" : "");
	}
}

/* The sockets of SET systemd's fd store should hold, into WANT (room for
 * SET->n): the TCP ones sockd opened (a socket unit's are systemd's). */
static size_t
listen_store_wanted(const struct listen_set *set, const struct sockd_config *cfg,
    struct fdstore_entry *want)
{
	size_t n = 0;

	for (size_t i = 0; i < set->n; i++) {
		const struct listener *l = &set->l[i];
		int family = addr_family(&l->addr);

		if (l->activated || l->fd == -1 || (family != AF_INET && family != AF_INET6))
			continue;
		want[n] = (struct fdstore_entry){ .fd = l->fd };
		if (fdstore_name(want[n].name, sizeof(want[n].name),
		    cfg->services[l->service].name) == -1)
			continue;	/* cannot happen: service names are short and plain */
		addr_format(&l->addr, want[n].text, sizeof(want[n].text));
		n++;
	}
	return n;
}

/*
 * Make systemd's fd store hold SET's own TCP listeners and nothing else of
 * ours: after a start (what came back from the store and the configuration
 * no longer has is closed by now) and after a reload (what it closed). Only
 * under systemd (NOTIFY_SOCKET); a failed send is retried at the next call.
 */
void
listen_store(struct listen_set *set, const struct sockd_config *cfg)
{
	struct fdstore_entry *want = xcalloc(set->n + n_stored + 1, sizeof(*want));
	struct fdstore_action *act;
	size_t n_want = listen_store_wanted(set, cfg, want), n_act;

	for (size_t i = 0; i < set->n; i++)
		set->l[i].from_store = false;	/* listen_log has said it */
	act = xcalloc(n_stored + n_want + 1, sizeof(*act));
	n_act = fdstore_plan(stored, n_stored, want, n_want, act);
	for (size_t i = 0; i < n_act; i++) {
		const struct fdstore_entry *e = act[i].e;
		int r = notify_fdstore(act[i].op, e->name, e->fd);

		if (r == 0) {	/* nobody to tell: nothing is stored */
			n_want = 0;
			break;
		}
		if (act[i].op == FDSTORE_ADD) {
			if (r == -1)	/* not stored: retried (the name removed, all added) */
				want[e - want].fd = -1;
			continue;
		}
		for (size_t k = 0; k < n_stored; k++) {
			const struct fdstore_entry *c = &stored[k];
			bool kept = false;

			if (strcmp(c->name, e->name) != 0)
				continue;
			for (size_t j = 0; j < n_want && !kept; j++)	/* by address: c->fd may be -1 */
				kept = strcmp(want[j].name, c->name) == 0 &&
				    strcmp(want[j].text, c->text) == 0;
			if (kept)
				continue;
			if (r == 1)
				log_info("fd store: %s (%s) removed: no longer listened on",
				    c->text, c->name);
			else {	/* still in the store: try again next time */
				want[n_want] = *c;
				want[n_want++].fd = -1;
			}
		}
	}
	free(act);
	free(stored);
	stored = want;
	n_stored = n_want;
}
