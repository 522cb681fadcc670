/*
 * scoreboard.c - one shared-memory slot per worker process.
 *
 * Its size is fixed when the master starts (MAP_SHARED memory cannot be
 * grown under processes that already mapped it): four slots per configured
 * worker, at least 64, so that a reload can run two generations side by
 * side and SIGTTIN has room. A reload or SIGTTIN that needs more fails with
 * a message saying so.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "log.h"
#include "scoreboard.h"
#include "shm.h"

static size_t
scoreboard_size(uint32_t n_slots)
{
	return sizeof(struct scoreboard) + (size_t)n_slots * sizeof(struct scoreboard_slot);
}

/* A new scoreboard, and its memfd (for a binary upgrade) in *FD_R. */
struct scoreboard *
scoreboard_create(uint32_t n_slots, int *fd_r)
{
	struct scoreboard *sb = shm_create("sockd-scoreboard", scoreboard_size(n_slots), fd_r);

	if (sb == NULL)
		fatal(EXIT_OSERR, "scoreboard: %u slots in shared memory: %s", n_slots,
		    strerror(errno));
	sb->n_slots = n_slots;	/* the memory is zeroed: every slot is SLOT_FREE */
	return sb;
}

/* The scoreboard of the image before a binary upgrade, from its memfd;
 * NULL (logged) if FD does not hold one. */
struct scoreboard *
scoreboard_adopt(int fd)
{
	size_t size;
	struct scoreboard *sb = shm_adopt(fd, sizeof(*sb), &size);

	if (sb == NULL) {
		log_err("upgrade: the scoreboard (fd %d): %s", fd, strerror(errno));
		return NULL;
	}
	if (size != scoreboard_size(sb->n_slots)) {
		log_err("upgrade: the scoreboard (fd %d) is %zu bytes, not %zu: another layout",
		    fd, size, scoreboard_size(sb->n_slots));
		(void)munmap(sb, size);
		return NULL;
	}
	return sb;
}

void
scoreboard_destroy(struct scoreboard *sb)
{
	if (sb != NULL && munmap(sb, scoreboard_size(sb->n_slots)) == -1)
		log_warn("scoreboard: munmap: %s", strerror(errno));
}

/* Take a free slot for a new worker; NULL when all are in use. */
struct scoreboard_slot *
scoreboard_claim(struct scoreboard *sb, pid_t pid, uint32_t generation,
    uint32_t service, uint32_t stat, int64_t now_ns)
{
	for (uint32_t i = 0; i < sb->n_slots; i++) {
		struct scoreboard_slot *s = &sb->slots[i];

		if (atomic_load(&s->state) != SLOT_FREE)
			continue;
		s->pid = pid;
		s->generation = generation;
		s->service = service;
		s->stat = stat;
		s->started_ns = now_ns;
		atomic_store(&s->heartbeat_ns, now_ns);
		atomic_store(&s->served, 0);
		atomic_store(&s->current, 0);
		atomic_store(&s->messages, 0);
		atomic_store(&s->bytes_in, 0);
		atomic_store(&s->bytes_out, 0);
		atomic_store(&s->accept_miss, 0);
		atomic_store(&s->accepted, 0);
		atomic_store(&s->limited, 0);
		for (size_t r = 0; r < SNAPSHOT_REFUSALS; r++)
			atomic_store(&s->refused[r], 0);
		for (size_t b = 0; b < SNAPSHOT_BUCKETS; b++) {
			atomic_store(&s->duration.bucket[b], 0);
			atomic_store(&s->latency.bucket[b], 0);
		}
		atomic_store(&s->duration.sum_ns, 0);
		atomic_store(&s->latency.sum_ns, 0);
		atomic_store(&s->state, SLOT_STARTING);
		return s;
	}
	return NULL;
}

/* One observation of NS nanoseconds: two relaxed additions. */
void
scoreboard_hist_add(struct scoreboard_hist *h, int64_t ns)
{
	scoreboard_hist_add_n(h, ns, 1);
}

/* N observations of NS each (a batch's, amortized). */
void
scoreboard_hist_add_n(struct scoreboard_hist *h, int64_t ns, uint64_t n)
{
	size_t b = 0;

	if (ns < 0)
		ns = 0;
	while (b < SNAPSHOT_BUCKETS - 1 && ns > snapshot_bounds_ns[b])
		b++;
	atomic_fetch_add_explicit(&h->bucket[b], n, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum_ns, (uint64_t)ns * n, memory_order_relaxed);
}

void
scoreboard_release(struct scoreboard_slot *slot)
{
	slot->pid = 0;
	atomic_store(&slot->state, SLOT_FREE);
}

/*
 * N counters in shared memory (one per service of a generation: open
 * connections, for limits.max_connections). Workers forked afterwards
 * share them; the master's munmap at a reload leaves theirs mapped.
 */
_Atomic uint32_t *
scoreboard_counters(size_t n)
{
	void *p = mmap(NULL, (n > 0 ? n : 1) * sizeof(_Atomic uint32_t), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		fatal(EXIT_OSERR, "scoreboard: mmap of %zu counters: %s", n, strerror(errno));
	return p;
}

void
scoreboard_counters_free(_Atomic uint32_t *c, size_t n)
{
	if (c != NULL && munmap((void *)c, (n > 0 ? n : 1) * sizeof(*c)) == -1)
		log_warn("scoreboard: munmap: %s", strerror(errno));
}
