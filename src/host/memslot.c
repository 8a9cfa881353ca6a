/* SPDX-License-Identifier: MIT */
/*
 * Memslots. Lookups run on KVM's fault path, concurrently with each other and
 * with slot changes, so readers never lock: the slots live in an immutable
 * array sorted by gfn, and a change publishes a whole new array.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "host/host_mem.h"

/* Memslots large enough for a 2M mapping get a 2M-aligned backing, so that
 * gfn and pfn agree modulo 512 whenever base_gfn does. */
#define MEMSLOT_HUGE_FRAMES 512

struct memslot_array {
	struct memslot_array *retired_next;
	unsigned nr;
	struct host_memslot slots[];
};

struct host_memslots {
	struct host_mem *hm;
	_Atomic(struct memslot_array *) cur;
	/* Writers only. */
	pthread_mutex_t lock;
	/*
	 * Arrays replaced by a change, still possibly in a reader's hands.
	 * Readers are not registered anywhere yet, so there is no grace period
	 * to wait for and these are freed only at destroy; a later issue moves
	 * this to liburcu's call_rcu() once readers are RCU readers. Memslot
	 * changes are rare, so the list stays bounded by the number of changes
	 * (at most 64 slots of 32 bytes each per array).
	 */
	struct memslot_array *retired;
};

static struct memslot_array *array_alloc(unsigned nr)
{
	struct memslot_array *a;

	a = malloc(sizeof(*a) + (size_t)nr * sizeof(a->slots[0]));
	if (a) {
		a->retired_next = NULL;
		a->nr = nr;
	}
	return a;
}

static struct memslot_array *array_get(struct host_memslots *ms)
{
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
	ms->hm = hm;
	atomic_init(&ms->cur, a);
	return ms;
}

void host_memslots_destroy(struct host_memslots *ms)
{
	struct memslot_array *a, *next;

	if (!ms)
		return;
	a = atomic_load_explicit(&ms->cur, memory_order_relaxed);
	for (unsigned i = 0; i < a->nr; i++)
		host_mem_free_range(ms->hm, a->slots[i].first_pfn,
				    a->slots[i].npages);
	free(a);
	for (a = ms->retired; a; a = next) {
		next = a->retired_next;
		free(a);
	}
	pthread_mutex_destroy(&ms->lock);
	free(ms);
}

/* Called with ms->lock held, after the new array is fully written. */
static void publish(struct host_memslots *ms, struct memslot_array *a)
{
	struct memslot_array *old;

	old = atomic_load_explicit(&ms->cur, memory_order_relaxed);
	atomic_store_explicit(&ms->cur, a, memory_order_release);
	old->retired_next = ms->retired;
	ms->retired = old;
}

int host_memslot_add(struct host_memslots *ms, unsigned id, uint64_t base_gfn,
		     uint64_t npages)
{
	struct memslot_array *old, *a;
	unsigned pos = 0;
	pfn_t first;
	int ret;

	if (!npages || id >= HOST_MAX_MEMSLOTS)
		return -EINVAL;
	if (base_gfn + npages < base_gfn)
		return -EINVAL;

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

	a = array_alloc(old->nr + 1);
	if (!a) {
		ret = -ENOMEM;
		goto out;
	}
	ret = host_mem_alloc_range(ms->hm, npages,
				   npages >= MEMSLOT_HUGE_FRAMES ?
				   MEMSLOT_HUGE_FRAMES : 1, &first);
	if (ret) {
		free(a);
		goto out;
	}
	memcpy(a->slots, old->slots, pos * sizeof(a->slots[0]));
	a->slots[pos] = (struct host_memslot){
		.id = id, .base_gfn = base_gfn, .npages = npages,
		.first_pfn = first,
	};
	memcpy(&a->slots[pos + 1], &old->slots[pos],
	       (old->nr - pos) * sizeof(a->slots[0]));
	publish(ms, a);
out:
	pthread_mutex_unlock(&ms->lock);
	return ret;
}

int host_memslot_delete(struct host_memslots *ms, unsigned id)
{
	struct memslot_array *old, *a;
	struct host_memslot gone;
	unsigned pos;

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
	publish(ms, a);
	pthread_mutex_unlock(&ms->lock);

	host_mem_free_range(ms->hm, gone.first_pfn, gone.npages);
	return 0;
}

const struct host_memslot *host_memslot_find(struct host_memslots *ms,
					     uint64_t gfn)
{
	const struct memslot_array *a = array_get(ms);
	unsigned lo = 0, hi = a->nr;

	/* The last slot starting at or below gfn is the only candidate. */
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;

		if (a->slots[mid].base_gfn <= gfn)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo && gfn - a->slots[lo - 1].base_gfn < a->slots[lo - 1].npages)
		return &a->slots[lo - 1];
	return NULL;
}

const struct host_memslot *host_memslot_by_id(struct host_memslots *ms,
					      unsigned id)
{
	const struct memslot_array *a = array_get(ms);

	for (unsigned i = 0; i < a->nr; i++)
		if (a->slots[i].id == id)
			return &a->slots[i];
	return NULL;
}

void host_memslots_foreach(struct host_memslots *ms,
			   void (*fn)(const struct host_memslot *s, void *arg),
			   void *arg)
{
	const struct memslot_array *a = array_get(ms);

	for (unsigned i = 0; i < a->nr; i++)
		fn(&a->slots[i], arg);
}
