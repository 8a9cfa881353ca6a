/* SPDX-License-Identifier: MIT */
/*
 * Memslots. Lookups run on KVM's fault path, concurrently with each other and
 * with slot changes, so readers never lock: the slots live in an immutable
 * array sorted by gfn, and a change publishes a whole new array (KVM's
 * install_new_memslots with its two memslot sets, simplified to copies).
 *
 * Lifetime of a replaced array: readers look it up inside an RCU read-side
 * section (host_rcu.h) and copy the slot out before leaving it, so nothing
 * outside memslot.c holds a pointer into an array. A writer publishes the
 * new array and hands the old one to call_rcu: it is freed once every
 * reader that could have loaded it has left its section (as KVM frees old
 * memslot sets after synchronize_srcu). Issue 11, item 2.15: the arrays
 * were kept until destroy, 80 bytes per change, which the stress test's
 * slot churn grew by megabytes a second.
 *
 * Lock order: the writers' mutex is a leaf (docs/locking.md). call_rcu
 * never blocks, but it is a schedule point of `tdxmmu explore`, and no
 * schedule point may run with a plain mutex held (explore/sched.h): so the
 * old array is handed to call_rcu after the mutex is dropped.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "explore/sched.h"
#include "host/host_mem.h"
#include "host/host_rcu.h"

/* Memslots large enough for a 2M mapping get a 2M-aligned backing, so that
 * gfn and pfn agree modulo 512 whenever base_gfn does. */
#define MEMSLOT_HUGE_FRAMES 512

struct memslot_array {
	struct host_rcu_head rcu;
	struct host_memslots *owner; /* for the callback's count */
	unsigned nr;
	struct host_memslot slots[];
};

struct host_memslots {
	struct host_mem *hm;
	_Atomic(struct memslot_array *) cur;
	/* Writers only. */
	pthread_mutex_t lock;
	/*
	 * Replaced arrays whose RCU callback has not run yet, and what destroy
	 * waits on: the callbacks touch `owner`, so it must outlive them
	 * (the same scheme as kvm_mmu_pages_quiesce(), visible to TSan).
	 */
	pthread_mutex_t pending_lock;
	pthread_cond_t pending_idle;
	unsigned long nr_pending;
	_Atomic uint64_t nr_freed; /* arrays freed by callbacks (tests) */
};

static struct memslot_array *array_alloc(unsigned nr)
{
	struct memslot_array *a;

	a = malloc(sizeof(*a) + (size_t)nr * sizeof(a->slots[0]));
	if (a) {
		a->owner = NULL;
		a->nr = nr;
	}
	return a;
}

static struct memslot_array *array_get(struct host_memslots *ms)
{
	SCHED_POINT(SCHED_MISC, SCHED_R, &ms->cur, "memslot array");
	return atomic_load_explicit(&ms->cur, memory_order_acquire);
}

struct host_memslots *host_memslots_create(struct host_mem *hm)
{
	struct host_memslots *ms = calloc(1, sizeof(*ms));
	struct memslot_array *a;

	if (!ms)
		return NULL;
	a = array_alloc(0);
	if (!a || pthread_mutex_init(&ms->lock, NULL)) {
		free(a);
		free(ms);
		return NULL;
	}
	if (pthread_mutex_init(&ms->pending_lock, NULL) ||
	    pthread_cond_init(&ms->pending_idle, NULL)) {
		pthread_mutex_destroy(&ms->lock);
		free(a);
		free(ms);
		return NULL;
	}
	ms->hm = hm;
	atomic_init(&ms->cur, a);
	return ms;
}

/* Waits until every replaced array has been freed. Must not be called
 * inside a read-side section (the grace period would never end). */
void host_memslots_quiesce(struct host_memslots *ms)
{
	/* Exploring: the scheduler's queued callbacks run now, on this
	 * thread; nobody else would run them while we wait (host_rcu.c). */
	(void)sched_rcu_barrier();
	pthread_mutex_lock(&ms->pending_lock);
	while (ms->nr_pending)
		pthread_cond_wait(&ms->pending_idle, &ms->pending_lock);
	pthread_mutex_unlock(&ms->pending_lock);
}

uint64_t host_memslots_arrays_freed(struct host_memslots *ms)
{
	return atomic_load_explicit(&ms->nr_freed, memory_order_relaxed);
}

void host_memslots_destroy(struct host_memslots *ms)
{
	struct memslot_array *a;

	if (!ms)
		return;
	host_memslots_quiesce(ms);
	a = atomic_load_explicit(&ms->cur, memory_order_relaxed);
	for (unsigned i = 0; i < a->nr; i++)
		host_mem_free_range(ms->hm, a->slots[i].first_pfn,
				    a->slots[i].npages);
	free(a);
	pthread_cond_destroy(&ms->pending_idle);
	pthread_mutex_destroy(&ms->pending_lock);
	pthread_mutex_destroy(&ms->lock);
	free(ms);
}

/* The RCU reclaimer thread (host_rcu.c), after the grace period: no reader
 * can still be looking at the array. */
static void array_free_rcu(struct host_rcu_head *h)
{
	struct memslot_array *a = (struct memslot_array *)
		((char *)h - offsetof(struct memslot_array, rcu));
	struct host_memslots *ms = a->owner;

	free(a);
	atomic_fetch_add_explicit(&ms->nr_freed, 1, memory_order_relaxed);
	/* Last touch of ms: destroy may free it once the count is 0. */
	pthread_mutex_lock(&ms->pending_lock);
	if (--ms->nr_pending == 0)
		pthread_cond_broadcast(&ms->pending_idle);
	pthread_mutex_unlock(&ms->pending_lock);
}

/*
 * Called with ms->lock held, after the new array is fully written. Returns
 * the replaced array, for retire() once the lock is dropped. The schedule
 * point of the store is the caller's, before it took ms->lock (no point
 * may run under a plain mutex; nothing between the two is one).
 */
static struct memslot_array *publish(struct host_memslots *ms, struct memslot_array *a)
{
	struct memslot_array *old;

	old = atomic_load_explicit(&ms->cur, memory_order_relaxed);
	atomic_store_explicit(&ms->cur, a, memory_order_release);
	old->owner = ms;
	pthread_mutex_lock(&ms->pending_lock);
	ms->nr_pending++;
	pthread_mutex_unlock(&ms->pending_lock);
	return old;
}

/* The replaced array goes after a grace period (ms->lock not held). */
static void retire(struct memslot_array *old)
{
	if (old)
		host_call_rcu(&old->rcu, array_free_rcu);
}

int host_memslot_add(struct host_memslots *ms, unsigned id, uint64_t base_gfn,
		     uint64_t npages)
{
	return host_memslot_add_huge(ms, id, base_gfn, npages, false);
}

int host_memslot_add_huge(struct host_memslots *ms, unsigned id, uint64_t base_gfn,
			  uint64_t npages, bool hugepages)
{
	struct memslot_array *old, *a, *gone = NULL;
	unsigned pos = 0;
	pfn_t first;
	int ret;

	/* Any 32-bit id names a slot (contract 1.1, as KVM's slot ids); only
	 * how many exist at once is limited. */
	if (!npages)
		return -EINVAL;
	if (base_gfn + npages < base_gfn)
		return -EINVAL;
	if (hugepages && ((base_gfn | npages) & (HOST_HUGE_FRAMES - 1)))
		return -EINVAL;

	SCHED_POINT(SCHED_MISC, SCHED_W, &ms->cur, "memslot array");
	pthread_mutex_lock(&ms->lock);
	old = atomic_load_explicit(&ms->cur, memory_order_relaxed);
	for (unsigned i = 0; i < old->nr; i++) {
		const struct host_memslot *s = &old->slots[i];

		if (s->id == id ||
		    (base_gfn < s->base_gfn + s->npages &&
		     s->base_gfn < base_gfn + npages)) {
			ret = -EEXIST;
			goto out;
		}
		if (s->base_gfn < base_gfn)
			pos = i + 1;
	}
	if (old->nr == HOST_MAX_MEMSLOTS) {
		ret = -ENOSPC;
		goto out;
	}

	a = array_alloc(old->nr + 1);
	if (!a) {
		ret = -ENOMEM;
		goto out;
	}
	/* 2M host pages: 2M-aligned contiguous frames (a hugepages slot's
	 * npages is a multiple of 512, so this is always the case there). */
	ret = host_mem_alloc_range(ms->hm, npages,
				   hugepages || npages >= MEMSLOT_HUGE_FRAMES ?
				   MEMSLOT_HUGE_FRAMES : 1, &first);
	if (ret) {
		free(a);
		goto out;
	}
	memcpy(a->slots, old->slots, pos * sizeof(a->slots[0]));
	a->slots[pos] = (struct host_memslot){
		.id = id, .base_gfn = base_gfn, .npages = npages,
		.first_pfn = first, .hugepages = hugepages,
	};
	memcpy(&a->slots[pos + 1], &old->slots[pos],
	       (old->nr - pos) * sizeof(a->slots[0]));
	gone = publish(ms, a);
out:
	pthread_mutex_unlock(&ms->lock);
	retire(gone);
	return ret;
}

int host_memslot_delete(struct host_memslots *ms, unsigned id)
{
	struct memslot_array *old, *a;
	struct host_memslot gone;
	unsigned pos;

	SCHED_POINT(SCHED_MISC, SCHED_W, &ms->cur, "memslot array");
	pthread_mutex_lock(&ms->lock);
	old = atomic_load_explicit(&ms->cur, memory_order_relaxed);
	for (pos = 0; pos < old->nr; pos++)
		if (old->slots[pos].id == id)
			break;
	if (pos == old->nr) {
		pthread_mutex_unlock(&ms->lock);
		return -ENOENT;
	}
	a = array_alloc(old->nr - 1);
	if (!a) {
		pthread_mutex_unlock(&ms->lock);
		return -ENOMEM;
	}
	gone = old->slots[pos];
	memcpy(a->slots, old->slots, pos * sizeof(a->slots[0]));
	memcpy(&a->slots[pos], &old->slots[pos + 1],
	       (old->nr - pos - 1) * sizeof(a->slots[0]));
	old = publish(ms, a);
	pthread_mutex_unlock(&ms->lock);
	retire(old);

	host_mem_free_range(ms->hm, gone.first_pfn, gone.npages);
	return 0;
}

bool host_memslot_find(struct host_memslots *ms, uint64_t gfn,
		       struct host_memslot *out)
{
	const struct memslot_array *a;
	unsigned lo, hi;
	bool found = false;

	host_rcu_read_lock();
	a = array_get(ms);
	lo = 0;
	hi = a->nr;

	/* The last slot starting at or below gfn is the only candidate. */
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;

		if (a->slots[mid].base_gfn <= gfn)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo && gfn - a->slots[lo - 1].base_gfn < a->slots[lo - 1].npages) {
		if (out)
			*out = a->slots[lo - 1];
		found = true;
	}
	host_rcu_read_unlock();
	return found;
}

bool host_memslot_by_id(struct host_memslots *ms, unsigned id,
			struct host_memslot *out)
{
	const struct memslot_array *a;
	bool found = false;

	host_rcu_read_lock();
	a = array_get(ms);
	for (unsigned i = 0; i < a->nr; i++) {
		if (a->slots[i].id == id) {
			if (out)
				*out = a->slots[i];
			found = true;
			break;
		}
	}
	host_rcu_read_unlock();
	return found;
}

void host_memslots_foreach(struct host_memslots *ms,
			   void (*fn)(const struct host_memslot *s, void *arg),
			   void *arg)
{
	const struct memslot_array *a;

	host_rcu_read_lock();
	a = array_get(ms);
	for (unsigned i = 0; i < a->nr; i++)
		fn(&a->slots[i], arg);
	host_rcu_read_unlock();
}
