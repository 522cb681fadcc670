/*
 * guard.c - address rules and per-client limits on the accept path
 * (guard.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "cidr.h"
#include "clock.h"
#include "guard.h"
#include "log.h"
#include "peertab.h"
#include "stats.h"

/* Room for this many clients and connections counted by per_ip or rate,
 * over every service: about 9 MiB of shared memory, touched as used. */
#define GUARD_CLIENTS 65536
#define GUARD_RECORDS 262144
#define GUARD_LOG_NS NS_PER_S		/* one refusal line a second per worker */

static struct peertab *table;

/* The master's, before the first worker; its memfd in *FD_R. */
void
guard_init(int *fd_r)
{
	if ((table = peertab_create(GUARD_CLIENTS, GUARD_RECORDS, fd_r)) == NULL)
		fatal(EXIT_OSERR, "the per-client table (limits.per_ip, limits.rate) cannot be made");
}

/* After a binary upgrade: the table the workers already use; -1 (logged)
 * if FD does not hold it. */
int
guard_adopt(int fd)
{
	return (table = peertab_adopt(fd)) != NULL ? 0 : -1;
}

static uint32_t
guard_slot_index(const struct scoreboard_slot *slot)
{
	const struct scoreboard *sb = stats_board();

	return sb != NULL ? (uint32_t)(slot - sb->slots) : 0;
}

void
guard_reclaim(const struct scoreboard_slot *slot)
{
	size_t n;

	if (table != NULL && (n = peertab_reclaim(table, guard_slot_index(slot))) > 0)
		log_info("per-client limits: %zu places of a dead worker given back", n);
}

void
guard_release(uint32_t record)
{
	if (record != GUARD_NONE && table != NULL)
		peertab_leave(table, record);
}

static const char *const guard_why[SNAPSHOT_REFUSALS] = {
	[SNAPSHOT_REFUSED_RULE] = "not allowed by the address rules",
	[SNAPSHOT_REFUSED_PER_IP] = "limits.per_ip reached",
	[SNAPSHOT_REFUSED_RATE] = "over limits.rate",
	[SNAPSHOT_REFUSED_FULL] = "the per-client table is full",
	[SNAPSHOT_REFUSED_PROXY] = "PROXY protocol",
	[SNAPSHOT_REFUSED_TRUNCATED] = "datagram over limits.max_message, dropped",
	[SNAPSHOT_REFUSED_REPLY] = "reply longer than allowed, dropped",
	[SNAPSHOT_REFUSED_NO_PEER] = "reply to a client without an address, dropped",
	[SNAPSHOT_REFUSED_SEND] = "reply not taken by the socket, dropped",
};

/* Counted always; logged at most once a second (per worker: a worker
 * serves one service), with how many went unsaid since. */
void
guard_refused(const struct config_service *svc, const struct sockd_addr *peer,
    struct scoreboard_slot *slot, enum snapshot_refusal why, const char *detail)
{
	static _Atomic int64_t next_log_ns;
	static _Atomic uint64_t quiet;
	int64_t now = clock_now(), next = atomic_load(&next_log_ns);
	char who[ADDR_TEXT_MAX];
	uint64_t held;

	if (slot != NULL)
		atomic_fetch_add_explicit(&slot->refused[why], 1, memory_order_relaxed);
	if (now < next || !atomic_compare_exchange_strong(&next_log_ns, &next, now + GUARD_LOG_NS)) {
		atomic_fetch_add(&quiet, 1);
		return;
	}
	held = atomic_exchange(&quiet, 0);
	if (peer->len == 0)
		snprintf(who, sizeof(who), "(unknown peer)");
	else
		addr_format(peer, who, sizeof(who));
	if (held > 0)
		log_svc(LOG_NOTICE, svc->name, "%s: refused %s: %s%s%s (and %llu more refused "
		    "since the last line)", svc->name, who, guard_why[why], detail ? ": " : "",
		    detail ? detail : "", (unsigned long long)held);
	else
		log_svc(LOG_NOTICE, svc->name, "%s: refused %s: %s%s%s", svc->name, who,
		    guard_why[why], detail ? ": " : "", detail ? detail : "");
}

static bool
guard_id_in(unsigned id, const unsigned *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == id)
			return true;
	return false;
}

/* allow_uid / allow_gid: a Unix client's credentials. */
static bool
guard_unix_ok(const struct config_service *svc, int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (svc->n_allow_uid == 0 && svc->n_allow_gid == 0)
		return true;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1) {
		log_warn("%s: SO_PEERCRED: %s", svc->name, strerror(errno));
		return false;
	}
	return guard_id_in(cred.uid, svc->allow_uid, svc->n_allow_uid) ||
	    guard_id_in(cred.gid, svc->allow_gid, svc->n_allow_gid);
}

/* deny first, then allow (when set). */
static bool
guard_rules_ok(const struct config_service *svc, const struct sockd_addr *peer, int fd)
{
	const struct sockaddr *sa = &peer->u.sa;

	if (peer->len == 0)
		return svc->n_allow == 0 && svc->n_deny == 0;
	if (sa->sa_family == AF_UNIX)
		return guard_unix_ok(svc, fd);
	if (svc->n_deny > 0 && cidr_match_any(svc->deny, svc->n_deny, sa))
		return false;
	return svc->n_allow == 0 || cidr_match_any(svc->allow, svc->n_allow, sa);
}

bool
guard_proxy_trusted(const struct config_service *svc, const struct sockd_addr *peer)
{
	return peer->len > 0 && cidr_match_any(svc->proxy_trusted, svc->n_proxy_trusted,
	    &peer->u.sa);
}

int
guard_check(const struct config_service *svc, const struct sockd_addr *peer, int fd,
    struct scoreboard_slot *slot, uint32_t *record_r)
{
	struct peertab_limits lim = { .per_ip = (unsigned)svc->per_ip, .rate = (unsigned)svc->rate,
		.burst = (unsigned)svc->rate_burst };
	uint8_t key[CIDR_KEY_LEN];
	enum snapshot_refusal why;

	*record_r = GUARD_NONE;
	if (!guard_rules_ok(svc, peer, fd)) {
		guard_refused(svc, peer, slot, SNAPSHOT_REFUSED_RULE, NULL);
		return SNAPSHOT_REFUSED_RULE;
	}
	if ((lim.per_ip == 0 && lim.rate == 0) || table == NULL || peer->len == 0 ||
	    !cidr_client_key(&peer->u.sa, (unsigned)svc->ipv6_prefix, key))
		return GUARD_OK;	/* no limit, or a Unix client: nothing to count */
	switch (peertab_enter(table, slot->stat, key, &lim, guard_slot_index(slot), clock_now(),
	    record_r)) {
	case PEERTAB_OK:
		return GUARD_OK;
	case PEERTAB_PER_IP:
		why = SNAPSHOT_REFUSED_PER_IP;
		break;
	case PEERTAB_RATE:
		why = SNAPSHOT_REFUSED_RATE;
		break;
	default:
		why = SNAPSHOT_REFUSED_FULL;
		break;
	}
	*record_r = GUARD_NONE;
	guard_refused(svc, peer, slot, why, NULL);
	return (int)why;
}
