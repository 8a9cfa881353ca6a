/* SPDX-License-Identifier: MIT */
/*
 * The legacy MMU's rmap (reference kvm-tdx-mmu.md §7.4): for every gfn the
 * SPTEs that map it. Zaps walk it (__kvm_zap_rmapp / kvm_unmap_rmapp), the
 * TLB flush that follows is tied to that walk, and frames leave the TD
 * through it (drop_spte -> rmap_remove -> drop_private_spte).
 *
 * What is in an rmap (E1 [L1, L2]): present leaves of both trees, and
 * PRIVATE_ZAPPED private leaves, which keep their rmap entry until their
 * final removal. Non-present entries (with or without SPTE_SHARED_MASK) are
 * not. The rmap is keyed by the gfn without the shared bit, so both aliases
 * of a page share one rmap (E1: "rmap does not distinguish aliases"); seed
 * 000's table keeps it at one private or one shared entry, never both
 * present.
 *
 * Storage, with no allocation per page on the fault path:
 *  - per memslot (KVM's kvm_arch_memory_slot.rmap), a sparse array of
 *    heads: a directory made the first time a gfn of the slot is mapped
 *    (KVM allocates its array when the slot is created; the host here
 *    creates memslots without telling KVM), and 2M chunks of heads made on
 *    the first mapping in their range (legacy_internal.h), all freed when
 *    KVM deletes the slot or the VM goes. Cost follows the gfns mapped: a
 *    64 TiB slot with a few pages mapped costs a few KiB (issue 11, item
 *    2.8; a flat array was 8 bytes per gfn of the slot);
 *  - a head holds one SPTE pointer directly; a second entry moves them to a
 *    pte_list_desc taken from a pool grown LEGACY_DESCS_PER_CHUNK at a time.
 * Only with mmu_lock held for write (the observers of `check` read it with
 * the lock held for read, when no writer can run).
 */
#include <errno.h>
#include <stdlib.h>

#include "kvm/legacy_internal.h"

#define RMAP_DESC_BIT 1UL

void legacy_rmap_init(struct legacy_rmap *r)
{
	*r = (struct legacy_rmap){ 0 };
}

static void slot_free(struct legacy_rmap_slot *s)
{
	for (uint64_t d = 0; s->dir && d < s->nr_dir; d++) {
		struct legacy_rmap_table *t = s->dir[d];

		if (!t)
			continue;
		for (unsigned c = 0; c < RMAP_TABLE_CHUNKS; c++)
			free(t->chunks[c]);
		free(t);
	}
	free(s->dir);
	*s = (struct legacy_rmap_slot){ 0 };
}

void legacy_rmap_destroy(struct legacy_rmap *r)
{
	for (unsigned i = 0; i < HOST_MAX_MEMSLOTS; i++)
		slot_free(&r->slots[i]);
	while (r->chunks) {
		struct pte_list_chunk *c = r->chunks;

		r->chunks = c->next;
		free(c);
	}
	*r = (struct legacy_rmap){ 0 };
}

static struct legacy_rmap *rmap_of(struct kvm *kvm)
{
	return &to_legacy(kvm)->rmap;
}

/* Every allocation of the rmap, so that ENOMEM injection reaches each
 * (site KVM_ALLOC_RMAP). */
static void *rmap_calloc(struct kvm *kvm, size_t n, size_t size)
{
	if (kvm_alloc_fails(kvm, KVM_ALLOC_RMAP))
		return NULL;
	return calloc(n, size);
}

/* The slot array holding gfn. `remember` (write paths only: `check` looks
 * rmaps up with mmu_lock held for read) caches it for the next lookup. */
static struct legacy_rmap_slot *rmap_find_slot(struct legacy_rmap *r, gfn_t gfn,
					       bool remember)
{
	struct legacy_rmap_slot *last = r->last;

	if (last && gfn - last->base_gfn < last->npages)
		return last;
	for (unsigned i = 0; i < HOST_MAX_MEMSLOTS; i++) {
		struct legacy_rmap_slot *s = &r->slots[i];

		if (s->used && gfn - s->base_gfn < s->npages) {
			if (remember)
				r->last = s;
			return s;
		}
	}
	return NULL;
}

/* The head of gfn (an offset into slot s), or NULL if its chunk was never
 * made; with `create` the chunk (and its table) is made. */
static uintptr_t *slot_head(struct kvm *kvm, struct legacy_rmap *r,
			    struct legacy_rmap_slot *s, uint64_t off, bool create)
{
	uint64_t d = off >> (RMAP_CHUNK_SHIFT + RMAP_TABLE_SHIFT);
	unsigned c = (unsigned)(off >> RMAP_CHUNK_SHIFT) & (RMAP_TABLE_CHUNKS - 1);
	struct legacy_rmap_table *t = s->dir[d];

	if (!t) {
		if (!create)
			return NULL;
		t = rmap_calloc(kvm, 1, sizeof(*t));
		if (!t)
			return NULL;
		r->nr_allocs++;
		s->dir[d] = t;
	}
	if (!t->chunks[c]) {
		if (!create)
			return NULL;
		t->chunks[c] = rmap_calloc(kvm, 1, sizeof(*t->chunks[c]));
		if (!t->chunks[c])
			return NULL;
		r->nr_allocs++;
	}
	return &t->chunks[c]->heads[off & (RMAP_CHUNK_HEADS - 1)];
}

/* The head of gfn's rmap and the slot it is in; with `create`, the slot's
 * directory and the head's chunk are made from the memslot that covers
 * gfn. NULL: no memslot (or no memory; *err says which), or, without
 * `create`, nothing ever mapped there. */
static uintptr_t *rmap_head(struct kvm *kvm, gfn_t gfn, bool create, int *err,
			    struct legacy_rmap_slot **slotp)
{
	struct legacy_rmap *r = rmap_of(kvm);
	struct legacy_rmap_slot *s = rmap_find_slot(r, gfn, create);
	struct host_memslot ms;
	uintptr_t *head;

	if (!s) {
		if (!create)
			return NULL;
		if (!host_memslot_find(kvm->slots, gfn, &ms)) {
			*err = -ENOENT;
			return NULL;
		}
		for (unsigned i = 0; i < HOST_MAX_MEMSLOTS && !s; i++)
			if (!r->slots[i].used)
				s = &r->slots[i];
		if (!s) {
			*err = -ENOMEM;
			return NULL;
		}
		s->nr_dir = (ms.npages + (1ULL << (RMAP_CHUNK_SHIFT + RMAP_TABLE_SHIFT)) - 1) >>
			    (RMAP_CHUNK_SHIFT + RMAP_TABLE_SHIFT);
		s->dir = rmap_calloc(kvm, s->nr_dir, sizeof(*s->dir));
		if (!s->dir) {
			*err = -ENOMEM;
			return NULL;
		}
		r->nr_allocs++;
		s->used = true;
		s->base_gfn = ms.base_gfn;
		s->npages = ms.npages;
		s->nr_entries = 0;
		r->last = s;
	}
	head = slot_head(kvm, r, s, gfn - s->base_gfn, create);
	if (!head && create)
		*err = -ENOMEM;
	if (head && slotp)
		*slotp = s;
	return head;
}

static struct pte_list_desc *desc_alloc(struct kvm *kvm, struct legacy_rmap *r)
{
	struct pte_list_desc *d;

	if (!r->free_descs) {
		struct pte_list_chunk *c = rmap_calloc(kvm, 1, sizeof(*c));

		if (!c)
			return NULL;
		r->nr_allocs++;
		for (unsigned i = 0; i < LEGACY_DESCS_PER_CHUNK; i++) {
			c->descs[i].more = r->free_descs;
			r->free_descs = &c->descs[i];
		}
		c->next = r->chunks;
		r->chunks = c;
	}
	d = r->free_descs;
	r->free_descs = d->more;
	*d = (struct pte_list_desc){ 0 };
	return d;
}

static void desc_free(struct legacy_rmap *r, struct pte_list_desc *d)
{
	d->more = r->free_descs;
	r->free_descs = d;
}

static struct pte_list_desc *head_desc(uintptr_t head)
{
	return (struct pte_list_desc *)(head & ~RMAP_DESC_BIT);
}

int legacy_rmap_add(struct kvm *kvm, gfn_t gfn, _Atomic uint64_t *sptep)
{
	struct legacy_rmap *r = rmap_of(kvm);
	struct legacy_rmap_slot *s = NULL;
	int err = 0;
	uintptr_t *head = rmap_head(kvm, gfn, true, &err, &s);
	struct pte_list_desc *d;

	if (!head)
		return err;
	if (!*head) {
		*head = (uintptr_t)sptep;
	} else if (!(*head & RMAP_DESC_BIT)) {
		d = desc_alloc(kvm, r);
		if (!d)
			return -ENOMEM;
		d->sptes[0] = (_Atomic uint64_t *)*head;
		d->sptes[1] = sptep;
		d->nr = 2;
		*head = (uintptr_t)d | RMAP_DESC_BIT;
	} else {
		d = head_desc(*head);
		if (d->nr == PTE_LIST_EXT) {
			struct pte_list_desc *n = desc_alloc(kvm, r);

			if (!n)
				return -ENOMEM;
			n->more = d;
			d = n;
			*head = (uintptr_t)d | RMAP_DESC_BIT;
		}
		d->sptes[d->nr++] = sptep;
	}
	/* The slot rmap_head() found: looking it up again here could answer
	 * NULL as far as the compiler knows (-Wnull-dereference in release
	 * builds, issue 11 item 2.15). */
	s->nr_entries++;
	return 0;
}

/* Back to the single-pointer form when one entry is left, to empty when
 * none is. */
static void rmap_normalize(struct legacy_rmap *r, uintptr_t *head)
{
	struct pte_list_desc *d = head_desc(*head);

	if (!(*head & RMAP_DESC_BIT))
		return;
	if (!d) {
		*head = 0;
	} else if (d->nr == 1 && !d->more) {
		*head = (uintptr_t)d->sptes[0];
		desc_free(r, d);
	}
}

/*
 * Calls fn on every entry of one head; drops the entries fn asks to drop.
 * Returns the number dropped.
 */
static unsigned rmap_head_walk(struct kvm *kvm, gfn_t gfn, uintptr_t *head,
			       legacy_rmap_fn fn, void *arg)
{
	struct legacy_rmap *r = rmap_of(kvm);
	struct pte_list_desc *d, *prev = NULL;
	unsigned dropped = 0;

	if (!*head)
		return 0;
	if (!(*head & RMAP_DESC_BIT)) {
		if (fn(kvm, gfn, (_Atomic uint64_t *)*head, arg)) {
			*head = 0;
			dropped++;
		}
		return dropped;
	}
	for (d = head_desc(*head); d;) {
		struct pte_list_desc *next = d->more;

		for (unsigned i = 0; i < d->nr;) {
			if (fn(kvm, gfn, d->sptes[i], arg)) {
				d->sptes[i] = d->sptes[--d->nr];
				dropped++;
			} else {
				i++;
			}
		}
		if (!d->nr) {
			if (prev)
				prev->more = next;
			else
				*head = next ? ((uintptr_t)next | RMAP_DESC_BIT) : 0;
			desc_free(r, d);
		} else {
			prev = d;
		}
		d = next;
	}
	if (dropped)
		rmap_normalize(r, head);
	return dropped;
}

struct rmap_match {
	const _Atomic uint64_t *sptep;
	bool found;
	bool drop;
	unsigned count;
};

static bool rmap_match_one(struct kvm *kvm, gfn_t gfn, _Atomic uint64_t *sptep, void *arg)
{
	struct rmap_match *m = arg;

	(void)kvm;
	(void)gfn;
	m->count++;
	if (sptep != m->sptep || m->found)
		return false;
	m->found = true;
	return m->drop;
}

int legacy_rmap_remove(struct kvm *kvm, gfn_t gfn, _Atomic uint64_t *sptep)
{
	struct legacy_rmap_slot *s = NULL;
	uintptr_t *head = rmap_head(kvm, gfn, false, NULL, &s);
	struct rmap_match m = { .sptep = sptep, .drop = true };

	if (!head)
		return -ENOENT;
	if (!rmap_head_walk(kvm, gfn, head, rmap_match_one, &m))
		return -ENOENT;
	s->nr_entries--;
	return 0;
}

bool legacy_rmap_contains(struct kvm *kvm, gfn_t gfn, const _Atomic uint64_t *sptep)
{
	uintptr_t *head = rmap_head(kvm, gfn, false, NULL, NULL);
	struct rmap_match m = { .sptep = sptep };

	if (head)
		rmap_head_walk(kvm, gfn, head, rmap_match_one, &m);
	return m.found;
}

unsigned legacy_rmap_count(struct kvm *kvm, gfn_t gfn)
{
	uintptr_t *head = rmap_head(kvm, gfn, false, NULL, NULL);
	struct rmap_match m = { 0 };

	if (head)
		rmap_head_walk(kvm, gfn, head, rmap_match_one, &m);
	return m.count;
}

void legacy_rmap_walk_range(struct kvm *kvm, gfn_t start, gfn_t end, legacy_rmap_fn fn,
			    void *arg)
{
	struct legacy_rmap *r = rmap_of(kvm);

	/* Slot by slot (slot_handle_level); a slot with no entry is skipped
	 * whole, and a 2M range with no chunk (nothing ever mapped there) in
	 * one step, so a zap of a big idle range costs nothing per page. */
	for (unsigned i = 0; i < HOST_MAX_MEMSLOTS; i++) {
		struct legacy_rmap_slot *s = &r->slots[i];
		gfn_t lo, hi;

		if (!s->used || !s->nr_entries)
			continue;
		lo = s->base_gfn > start ? s->base_gfn : start;
		hi = s->base_gfn + s->npages < end ? s->base_gfn + s->npages : end;
		for (gfn_t gfn = lo; gfn < hi && s->nr_entries;) {
			uintptr_t *head = slot_head(kvm, r, s, gfn - s->base_gfn, false);
			unsigned dropped;

			if (!head) {
				/* Next chunk boundary in slot offsets, or the
				 * next table's if this 1G has no table. */
				uint64_t off = gfn - s->base_gfn;
				uint64_t span = s->dir[off >> (RMAP_CHUNK_SHIFT + RMAP_TABLE_SHIFT)] ?
						RMAP_CHUNK_HEADS :
						(uint64_t)RMAP_CHUNK_HEADS * RMAP_TABLE_CHUNKS;

				gfn = s->base_gfn + ((off | (span - 1)) + 1);
				continue;
			}
			dropped = rmap_head_walk(kvm, gfn, head, fn, arg);
			/* Nothing is written unless fn drops something: the
			 * audit walks with mmu_lock held for read. */
			if (dropped)
				s->nr_entries -= dropped;
			gfn++;
		}
	}
}

uint64_t legacy_rmap_drop_slot(struct kvm *kvm, gfn_t base_gfn, uint64_t npages)
{
	struct legacy_rmap *r = rmap_of(kvm);
	uint64_t left = 0;

	for (unsigned i = 0; i < HOST_MAX_MEMSLOTS; i++) {
		struct legacy_rmap_slot *s = &r->slots[i];

		if (!s->used || s->base_gfn != base_gfn || s->npages != npages)
			continue;
		left = s->nr_entries;
		slot_free(s);
		if (r->last == s)
			r->last = NULL;
	}
	return left;
}

uint64_t legacy_rmap_nr_entries(struct kvm *kvm)
{
	struct legacy_rmap *r = rmap_of(kvm);
	uint64_t n = 0;

	for (unsigned i = 0; i < HOST_MAX_MEMSLOTS; i++)
		n += r->slots[i].nr_entries;
	return n;
}

uint64_t legacy_rmap_nr_allocs(struct kvm *kvm)
{
	return rmap_of(kvm)->nr_allocs;
}
