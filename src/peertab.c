/*
 * peertab.c - the per-client limit table in shared memory (see peertab.h).
 *
 * One mapping holds, after a header with the lock: the client entries,
 * the hash buckets (one per entry, a power of two) and the per-connection
 * records. Entries and records never move, so a record names its client
 * by index, and the hash is chained through the entries themselves. No
 * allocation after peertab_create().
 *
 * Death while holding the lock. A worker can be killed at any instruction,
 * mid-operation. Only two things are primary: an entry's state (with the
 * key written before it) and a record's used flag (with its client and
 * slot written before it). Everything else - the hash chains, both free
 * lists, each client's count of open connections - is derived, and
 * repair() rebuilds it all from the primary fields by a scan. Each
 * operation sets `busy` after taking the lock and clears it before
 * releasing, so the next taker knows whether a holder died mid-way;
 * repair() is idempotent, so a taker that dies while repairing only
 * leaves the same repair to the next. A record a dying worker had just
 * taken is counted as open; the master's peertab_reclaim() for the dead
 * worker's slot gives it back, as it does the worker's other records.
 * A token bucket torn mid-update is off by at most one refill, which a
 * limit can bear.
 *
 * The lists are made by the first taker of the lock, not at creation: the
 * table starts as PT_UNBUILT, which repair() turns into a whole table as
 * it would after a death. Until a service counts per_ip or rate, none of
 * its pages is touched (about 9 MiB in sockd, which every process would
 * count in its PSS once the master had written the free lists through
 * them).
 *
 * Rate: a token bucket per client, full (BURST tokens) when first seen,
 * RATE tokens a second back in. Every attempt that finds a token takes it,
 * also when per_ip or a full table then refuses the connection, as
 * HAProxy's conn_rate counts attempts: a client that keeps knocking at its
 * per_ip limit does not get a burst in the moment a place frees. An
 * attempt that finds none is refused and takes nothing, so the bucket
 * never goes into debt and a flooding client still gets RATE a second.
 *
 * A client with no connection open is kept while its bucket is not full
 * again (else connecting and closing quickly would reset its rate); it is
 * evictable once full, or at once when it has no rate. Evictable entries
 * are swept when a new client finds no free entry; sweep_ns, the earliest
 * moment an idle entry can be full again, keeps a full table of active
 * clients from being scanned on every refused attempt.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "peertab.h"
#include "shm.h"

#define NIL		UINT32_MAX
#define TOKEN		INT64_C(1000000000)	/* a token in nanotokens: ns x tokens/s */
#define MIN_ENTRIES	64u
#define MAX_CLIENTS	(1u << 20)
#define MAX_RECORDS	(1u << 22)

#ifdef PEERTAB_TESTING
int peertab_test_crash_at;
/* A worker killed here, with the lock held and the table half changed. */
#define CRASH_POINT(n) do { if (peertab_test_crash_at == (n)) _exit(PEERTAB_TEST_CRASHED); } while (0)
#else
#define CRASH_POINT(n) do { } while (0)
#endif

/*
 * Keeps the compiler from moving stores across it: a process killed
 * between two statements has made exactly the stores before it. (The
 * lock orders them for the other processes.)
 */
#define ORDER() atomic_signal_fence(memory_order_seq_cst)

enum { ENTRY_FREE = 0, ENTRY_USED = 1 };
enum { PT_BUSY = 1, PT_UNBUILT = 2 };	/* peertab.busy besides 0 */

struct pt_client {
	uint32_t state;			/* primary; ENTRY_USED only with the key set */
	uint32_t next;			/* the hash chain, or the free list */
	uint32_t service;
	uint32_t open;			/* derived: records naming this entry */
	uint32_t rate, burst;		/* the bucket's, as of the last attempt; rate 0: none */
	int64_t tokens;			/* nanotokens, 0..burst * TOKEN */
	int64_t last_ns;		/* when tokens were last refilled */
	uint8_t key[CIDR_KEY_LEN];
};

struct pt_record {
	uint32_t used;			/* primary; set only with client and slot */
	uint32_t client;
	uint32_t slot;
	uint32_t next;			/* the free list */
};

struct peertab {
	pthread_mutex_t lock;
	_Atomic uint32_t busy;		/* PT_BUSY: a holder is changing the table;
					 * PT_UNBUILT: no list made yet */
	uint32_t n_clients;		/* a power of two: the buckets too */
	uint32_t n_records;
	uint32_t client_free, record_free;
	uint32_t seed;
	int64_t sweep_ns;		/* no idle entry is evictable before then */
	size_t size;			/* of the mapping */
	/* Offsets from the header, not pointers: a binary upgrade's new image
	 * maps the table at another address than the workers that use it. */
	size_t off_clients, off_buckets, off_records;
};

#define CLIENTS(t) ((struct pt_client *)(void *)((char *)(t) + (t)->off_clients))
#define BUCKETS(t) ((uint32_t *)(void *)((char *)(t) + (t)->off_buckets))
#define RECORDS(t) ((struct pt_record *)(void *)((char *)(t) + (t)->off_records))

static size_t
align8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

static int64_t
cap_of(const struct pt_client *c)
{
	return (int64_t)c->burst * TOKEN;
}

static uint32_t
hash(const struct peertab *t, uint32_t service, const uint8_t key[CIDR_KEY_LEN])
{
	uint32_t h = 2166136261u ^ t->seed;

	for (int i = 0; i < 4; i++)
		h = (h ^ ((service >> (8 * i)) & 0xff)) * 16777619u;
	for (size_t i = 0; i < CIDR_KEY_LEN; i++)
		h = (h ^ key[i]) * 16777619u;
	h ^= h >> 15;
	h *= 0x2c1b3c6du;
	h ^= h >> 12;
	return h & (t->n_clients - 1);
}

static uint32_t
find(const struct peertab *t, uint32_t service, const uint8_t key[CIDR_KEY_LEN])
{
	uint32_t i = BUCKETS(t)[hash(t, service, key)];

	for (uint32_t steps = 0; i != NIL && steps < t->n_clients; steps++) {
		const struct pt_client *c = &CLIENTS(t)[i];

		if (c->service == service && memcmp(c->key, key, CIDR_KEY_LEN) == 0)
			return i;
		i = c->next;
	}
	return NIL;
}

/* Tokens back in for the time since the last refill, up to the bucket's size. */
static void
refill(struct pt_client *c, int64_t now_ns)
{
	int64_t room;
	uint64_t elapsed;

	if (c->rate == 0 || now_ns <= c->last_ns)
		return;
	elapsed = (uint64_t)now_ns - (uint64_t)c->last_ns;
	room = cap_of(c) - c->tokens;
	/* elapsed * rate only when it stays within room: no overflow. */
	if (elapsed > (uint64_t)room / c->rate)
		c->tokens = cap_of(c);
	else
		c->tokens += (int64_t)elapsed * c->rate;
	c->last_ns = now_ns;
}

/* When C's bucket is full again, if nothing takes from it. */
static int64_t
full_at(const struct pt_client *c)
{
	int64_t room = cap_of(c) - c->tokens, wait;

	if (c->rate == 0 || room <= 0)
		return c->last_ns;
	wait = (room + c->rate - 1) / c->rate;
	return c->last_ns > INT64_MAX - wait ? INT64_MAX : c->last_ns + wait;
}

/* Refill by the old limits, then take the new ones (a reload may change them). */
static void
bucket_update(struct pt_client *c, const struct peertab_limits *lim, int64_t now_ns)
{
	uint32_t rate = lim->rate, burst = lim->rate == 0 ? 0 : lim->burst > 0 ? lim->burst : 1;

	refill(c, now_ns);
	if (rate == c->rate && burst == c->burst)
		return;
	if (c->rate == 0) {
		c->burst = burst;
		c->tokens = cap_of(c);	/* a limit just set starts full */
		c->last_ns = now_ns;
	} else {
		c->burst = burst;
		if (c->tokens > cap_of(c))
			c->tokens = cap_of(c);
	}
	c->rate = rate;
	if (rate == 0)
		c->tokens = 0;
}

/* Take entry I out of its chain and back onto the free list. */
static void
client_release(struct peertab *t, uint32_t i)
{
	struct pt_client *c = &CLIENTS(t)[i];
	uint32_t *p = &BUCKETS(t)[hash(t, c->service, c->key)];

	for (uint32_t steps = 0; *p != NIL && steps < t->n_clients; steps++) {
		if (*p == i) {
			*p = c->next;
			break;
		}
		p = &CLIENTS(t)[*p].next;
	}
	ORDER();
	CRASH_POINT(9);
	c->state = ENTRY_FREE;
	ORDER();
	c->next = t->client_free;
	t->client_free = i;
}

/* Entry I may have no connection open now: free it, or note when it can be. */
static void
client_idle(struct peertab *t, uint32_t i)
{
	struct pt_client *c = &CLIENTS(t)[i];
	int64_t at;

	if (c->open > 0)
		return;
	if (c->rate == 0) {
		client_release(t, i);
		return;
	}
	if ((at = full_at(c)) < t->sweep_ns)
		t->sweep_ns = at;
}

/* Free every idle entry whose bucket is full again at NOW_NS. */
static void
sweep(struct peertab *t, int64_t now_ns)
{
	int64_t next = INT64_MAX;

	if (now_ns < t->sweep_ns)
		return;
	for (uint32_t i = 0; i < t->n_clients; i++) {
		struct pt_client *c = &CLIENTS(t)[i];

		if (c->state != ENTRY_USED || c->open > 0)
			continue;
		refill(c, now_ns);
		if (c->rate == 0 || c->tokens >= cap_of(c))
			client_release(t, i);
		else if (full_at(c) < next)
			next = full_at(c);
	}
	t->sweep_ns = next;
}

static uint32_t
client_new(struct peertab *t, uint32_t service, const uint8_t key[CIDR_KEY_LEN],
    const struct peertab_limits *lim, int64_t now_ns)
{
	struct pt_client *c;
	uint32_t i, b;

	if (t->client_free == NIL)
		sweep(t, now_ns);
	if ((i = t->client_free) == NIL)
		return NIL;
	c = &CLIENTS(t)[i];
	t->client_free = c->next;
	ORDER();
	CRASH_POINT(1);
	c->service = service;
	memcpy(c->key, key, CIDR_KEY_LEN);
	c->open = 0;
	c->rate = lim->rate;
	c->burst = lim->rate == 0 ? 0 : lim->burst > 0 ? lim->burst : 1;
	c->tokens = cap_of(c);
	c->last_ns = now_ns;
	ORDER();
	CRASH_POINT(2);
	c->state = ENTRY_USED;
	ORDER();
	CRASH_POINT(3);
	b = hash(t, service, key);
	c->next = BUCKETS(t)[b];
	ORDER();
	BUCKETS(t)[b] = i;
	return i;
}

/* Record R back, and its client's place with it. */
static void
record_release(struct peertab *t, uint32_t r)
{
	struct pt_record *rec = &RECORDS(t)[r];
	uint32_t i = rec->client;
	bool valid = i < t->n_clients && CLIENTS(t)[i].state == ENTRY_USED;

	if (valid && CLIENTS(t)[i].open > 0)
		CLIENTS(t)[i].open--;
	ORDER();
	CRASH_POINT(7);
	rec->used = 0;
	ORDER();
	CRASH_POINT(8);
	rec->next = t->record_free;
	t->record_free = r;
	if (valid)
		client_idle(t, i);
}

/*
 * Rebuild everything derived from the entries' states and the records'
 * used flags. Safe to run again if its runner dies part way. FIRST: the
 * table was never used (PT_UNBUILT), nobody died: this makes its lists.
 */
static void
repair(struct peertab *t, bool first)
{
	uint32_t freed = 0, dropped = 0;

	for (uint32_t b = 0; b < t->n_clients; b++)
		BUCKETS(t)[b] = NIL;
	for (uint32_t i = 0; i < t->n_clients; i++) {
		if (CLIENTS(t)[i].state != ENTRY_USED)
			CLIENTS(t)[i].state = ENTRY_FREE;
		CLIENTS(t)[i].open = 0;
	}
	CRASH_POINT(11);
	t->record_free = NIL;
	for (uint32_t r = t->n_records; r-- > 0;) {
		struct pt_record *rec = &RECORDS(t)[r];

		if (rec->used != 0 && rec->client < t->n_clients &&
		    CLIENTS(t)[rec->client].state == ENTRY_USED) {
			CLIENTS(t)[rec->client].open++;
			continue;
		}
		if (rec->used != 0)
			dropped++;
		rec->used = 0;
		rec->next = t->record_free;
		t->record_free = r;
	}
	t->client_free = NIL;
	for (uint32_t i = t->n_clients; i-- > 0;) {
		struct pt_client *c = &CLIENTS(t)[i];

		if (c->state == ENTRY_USED && c->open == 0 && c->rate == 0) {
			c->state = ENTRY_FREE;
			freed++;
		}
		if (c->state == ENTRY_USED) {
			uint32_t b = hash(t, c->service, c->key);

			if (c->rate != 0 && c->burst == 0)
				c->burst = 1;
			if (c->tokens < 0)
				c->tokens = 0;
			if (c->tokens > cap_of(c))
				c->tokens = cap_of(c);
			c->next = BUCKETS(t)[b];
			BUCKETS(t)[b] = i;
		} else {
			c->next = t->client_free;
			t->client_free = i;
		}
	}
	t->sweep_ns = INT64_MIN;
	if (!first)
		log_warn("peertab: client table repaired after a process died changing it "
	    "(%u idle clients freed, %u records dropped)", freed, dropped);
}

static void
pt_lock(struct peertab *t)
{
	int r = pthread_mutex_lock(&t->lock);
	uint32_t busy;

	if (r == EOWNERDEAD) {
		/* busy first: if this process dies before the repair ends, the next repairs. */
		atomic_store(&t->busy, PT_BUSY);
		if ((r = pthread_mutex_consistent(&t->lock)) != 0)
			panic("peertab: pthread_mutex_consistent: %s", strerror(r));
	} else if (r != 0)
		panic("peertab: pthread_mutex_lock: %s", strerror(r));
	/* (A first build cut short by a death stays PT_UNBUILT: built again.) */
	if ((busy = atomic_load(&t->busy)) != 0)
		repair(t, busy == PT_UNBUILT);
	atomic_store(&t->busy, PT_BUSY);
}

static void
pt_unlock(struct peertab *t)
{
	int r;

	atomic_store(&t->busy, 0);
	if ((r = pthread_mutex_unlock(&t->lock)) != 0)
		panic("peertab: pthread_mutex_unlock: %s", strerror(r));
}

static uint32_t
round_pow2(size_t n)
{
	uint32_t p = MIN_ENTRIES;

	while (p < n)
		p <<= 1;
	return p;
}

static uint32_t
make_seed(void)
{
	uint32_t seed;
	struct timespec ts;

	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) == (ssize_t)sizeof(seed))
		return seed;
	/* Early boot without entropy: the seed only spreads chains, a clock will do. */
	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint32_t)ts.tv_nsec ^ (uint32_t)getpid();
}

static int
init_lock(pthread_mutex_t *m)
{
	pthread_mutexattr_t a;
	int r;

	if ((r = pthread_mutexattr_init(&a)) != 0)
		return r;
	if ((r = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED)) == 0 &&
	    (r = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST)) == 0)
		r = pthread_mutex_init(m, &a);
	(void)pthread_mutexattr_destroy(&a);
	return r;
}

struct peertab *
peertab_create(size_t clients, size_t records, int *fd_r)
{
	struct peertab *t;
	uint32_t nc, nr;
	size_t off_c, off_b, off_r, size;
	char *base;
	int r;

	if (clients > MAX_CLIENTS || records > MAX_RECORDS) {
		log_err("peertab: room for %zu clients and %zu connections asked; "
		    "at most %u and %u", clients, records, MAX_CLIENTS, MAX_RECORDS);
		return NULL;
	}
	nc = round_pow2(clients);
	nr = records < MIN_ENTRIES ? MIN_ENTRIES : (uint32_t)records;
	off_c = align8(sizeof(*t));
	off_b = off_c + align8((size_t)nc * sizeof(struct pt_client));
	off_r = off_b + align8((size_t)nc * sizeof(uint32_t));
	size = off_r + (size_t)nr * sizeof(struct pt_record);

	if ((base = shm_create("sockd-peertab", size, fd_r)) == NULL) {
		log_err("peertab: %zu bytes of shared memory: %s", size, strerror(errno));
		return NULL;
	}
	t = (struct peertab *)(void *)base;
	if ((r = init_lock(&t->lock)) != 0) {
		log_err("peertab: a process-shared robust mutex: %s", strerror(r));
		(void)munmap(base, size);
		close(*fd_r);
		return NULL;
	}
	t->n_clients = nc;
	t->n_records = nr;
	t->seed = make_seed();
	t->sweep_ns = INT64_MIN;
	t->size = size;
	t->off_clients = off_c;
	t->off_buckets = off_b;
	t->off_records = off_r;
	/* mmap memory is zero: every entry ENTRY_FREE, every record unused;
	 * the first lock makes the lists (repair), touching the pages then. */
	t->client_free = NIL;
	t->record_free = NIL;
	atomic_store(&t->busy, PT_UNBUILT);
	return t;
}

/* The sizes a binary upgrade's new image must share (upgrade_layout). */
size_t
peertab_layout(void)
{
	return sizeof(struct peertab) * 1000000 + sizeof(struct pt_client) * 1000 +
	    sizeof(struct pt_record);
}

/* The table of the image before a binary upgrade, from its memfd; NULL
 * (logged) if FD does not hold one. */
struct peertab *
peertab_adopt(int fd)
{
	size_t size;
	struct peertab *t = shm_adopt(fd, sizeof(*t), &size);

	if (t == NULL) {
		log_err("upgrade: the per-client table (fd %d): %s", fd, strerror(errno));
		return NULL;
	}
	if (t->size != size || t->off_records + (size_t)t->n_records * sizeof(struct pt_record) !=
	    size) {
		log_err("upgrade: the per-client table (fd %d) is %zu bytes, not %zu: "
		    "another layout", fd, size, t->size);
		(void)munmap(t, size);
		return NULL;
	}
	return t;
}

/*
 * The mutex is not destroyed: workers of an older generation may still
 * have the table mapped and use it; their mapping outlives ours.
 */
void
peertab_destroy(struct peertab *t)
{
	if (t != NULL && munmap(t, t->size) == -1)
		log_warn("peertab: munmap: %s", strerror(errno));
}

enum peertab_verdict
peertab_enter(struct peertab *t, uint32_t service, const uint8_t key[CIDR_KEY_LEN],
    const struct peertab_limits *lim, uint32_t slot, int64_t now_ns, uint32_t *record_r)
{
	enum peertab_verdict v;
	struct pt_client *c;
	struct pt_record *rec;
	uint32_t i, r;

	pt_lock(t);
	if ((i = find(t, service, key)) == NIL &&
	    (i = client_new(t, service, key, lim, now_ns)) == NIL) {
		v = PEERTAB_FULL;
		goto out;
	}
	c = &CLIENTS(t)[i];
	bucket_update(c, lim, now_ns);
	if (c->rate != 0) {
		if (c->tokens < TOKEN) {
			v = PEERTAB_RATE;
			goto idle;
		}
		c->tokens -= TOKEN;
		CRASH_POINT(4);
	}
	if (lim->per_ip != 0 && c->open >= lim->per_ip) {
		v = PEERTAB_PER_IP;
		goto idle;
	}
	if ((r = t->record_free) == NIL) {
		v = PEERTAB_FULL;
		goto idle;
	}
	rec = &RECORDS(t)[r];
	t->record_free = rec->next;
	ORDER();
	CRASH_POINT(5);
	rec->client = i;
	rec->slot = slot;
	rec->next = NIL;
	ORDER();
	rec->used = 1;
	ORDER();
	CRASH_POINT(6);
	c->open++;
	*record_r = r;
	v = PEERTAB_OK;
	goto out;
idle:
	client_idle(t, i);
out:
	pt_unlock(t);
	return v;
}

void
peertab_leave(struct peertab *t, uint32_t record)
{
	if (record >= t->n_records) {
		log_warn("peertab: leave of record %u, of %u", record, t->n_records);
		return;
	}
	pt_lock(t);
	if (RECORDS(t)[record].used != 0)
		record_release(t, record);
	pt_unlock(t);
}

size_t
peertab_reclaim(struct peertab *t, uint32_t slot)
{
	size_t n = 0;

	/* Never used, so no record (PT_UNBUILT gives way to PT_BUSY before
	 * one is made): no need to build it, or read its pages in, to find none. */
	if (atomic_load(&t->busy) == PT_UNBUILT)
		return 0;
	pt_lock(t);
	for (uint32_t r = 0; r < t->n_records; r++) {
		if (RECORDS(t)[r].used == 0 || RECORDS(t)[r].slot != slot)
			continue;
		record_release(t, r);
		n++;
		if (n == 2)
			CRASH_POINT(10);
	}
	pt_unlock(t);
	return n;
}

unsigned
peertab_count(struct peertab *t, uint32_t service, const uint8_t key[CIDR_KEY_LEN])
{
	unsigned open;
	uint32_t i;

	pt_lock(t);
	CRASH_POINT(12);
	i = find(t, service, key);
	open = i == NIL ? 0 : CLIENTS(t)[i].open;
	pt_unlock(t);
	return open;
}

#ifdef PEERTAB_TESTING
/* Follow a list from HEAD; NIL-terminated within MAX steps, or -1. */
static long
list_len(const struct peertab *t, uint32_t head, uint32_t max, bool records)
{
	long n = 0;

	for (uint32_t i = head; i != NIL; n++) {
		if (i >= max || n > (long)max)
			return -1;
		i = records ? RECORDS(t)[i].next : CLIENTS(t)[i].next;
	}
	return n;
}

const char *
peertab_test_check(struct peertab *t)
{
	const char *why = NULL;
	uint32_t used = 0, chained = 0, rec_used = 0;
	long n;

	pt_lock(t);
	for (uint32_t i = 0; i < t->n_clients; i++) {
		const struct pt_client *c = &CLIENTS(t)[i];
		uint32_t open = 0;

		if (c->state != ENTRY_USED)
			continue;
		used++;
		for (uint32_t r = 0; r < t->n_records; r++)
			if (RECORDS(t)[r].used != 0 && RECORDS(t)[r].client == i)
				open++;
		if (open != c->open)
			why = "a client's count is not its records";
		else if (open == 0 && c->rate == 0)
			why = "an idle client without a rate is kept";
		else if (find(t, c->service, c->key) != i)
			why = "a client is not found by its key";
		else if (c->tokens < 0 || c->tokens > cap_of(c))
			why = "a bucket holds more than it can";
		if (why != NULL)
			goto out;
	}
	for (uint32_t b = 0; b < t->n_clients; b++) {
		if ((n = list_len(t, BUCKETS(t)[b], t->n_clients, false)) < 0) {
			why = "a broken hash chain";
			goto out;
		}
		for (uint32_t i = BUCKETS(t)[b]; i != NIL; i = CLIENTS(t)[i].next)
			if (CLIENTS(t)[i].state != ENTRY_USED || hash(t, CLIENTS(t)[i].service,
			    CLIENTS(t)[i].key) != b) {
				why = "a free or misplaced entry in a hash chain";
				goto out;
			}
		chained += (uint32_t)n;
	}
	if (chained != used) {
		why = "entries in use and entries chained differ";
		goto out;
	}
	n = list_len(t, t->client_free, t->n_clients, false);
	if (n < 0 || (uint32_t)n + used != t->n_clients) {
		why = "the free list of entries is broken";
		goto out;
	}
	for (uint32_t i = t->client_free; i != NIL; i = CLIENTS(t)[i].next)
		if (CLIENTS(t)[i].state != ENTRY_FREE) {
			why = "an entry in use on the free list";
			goto out;
		}
	for (uint32_t r = 0; r < t->n_records; r++)
		rec_used += RECORDS(t)[r].used != 0;
	n = list_len(t, t->record_free, t->n_records, true);
	if (n < 0 || (uint32_t)n + rec_used != t->n_records) {
		why = "the free list of records is broken";
		goto out;
	}
	for (uint32_t r = t->record_free; r != NIL; r = RECORDS(t)[r].next)
		if (RECORDS(t)[r].used != 0) {
			why = "a record in use on the free list";
			goto out;
		}
out:
	pt_unlock(t);
	return why;
}

size_t
peertab_test_clients(struct peertab *t)
{
	size_t n = 0;

	pt_lock(t);
	for (uint32_t i = 0; i < t->n_clients; i++)
		n += CLIENTS(t)[i].state == ENTRY_USED;
	pt_unlock(t);
	return n;
}
#endif
