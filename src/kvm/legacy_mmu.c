/* SPDX-License-Identifier: MIT */
/*
 * The legacy MMU's shadow pages (mmu_legacy.h): the (gfn, role) hash, the
 * private and shared page lists, the two roots, walking down to a 4K entry
 * with tables linked on the way, teardown of both trees, the observers and
 * the audit behind `check`.
 *
 * Structures (reference kvm-tdx-mmu.md §7.2, E1 [L1, L2]):
 *  - a shadow page is found by (gfn, role) in a hash (v3 keys on
 *    role.private; the gfn of a shared table carries the shared bit, as
 *    v2's gfn|stolen-bits key did), so the private and the shared table of
 *    the same range are distinct entries of the same bucket;
 *  - private pages sit on their own list (kvm->arch.private_mmu_pages), so a
 *    broad zap of the shared pages never touches them; shared pages on the
 *    other (active_mmu_pages);
 *  - two direct roots, private first (mmu_alloc_direct_roots with a
 *    gfn_shared_mask); PAE roots do not exist for a TD;
 *  - no prefetch of private entries (mmu->no_prefetch, X1 tdx_vcpu_create):
 *    the model prefetches nothing at all, shared included.
 * Tables are never unlinked while the TD lives (as in the TDP MMU here, and
 * v7: no private table is freed before the HKID is released), so a hash hit
 * is always a linked table; pages go at teardown only.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "kvm/legacy_internal.h"
#include "kvm/tdp_iter.h"
#include "kvm/tdx_hooks.h"

/* ---- the side table of shadow pages ---- */

static uint64_t legacy_mix64(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	k *= 0xc4ceb9fe1a85ec53ULL;
	k ^= k >> 33;
	return k;
}

unsigned legacy_sp_hash(gfn_t gfn, unsigned level, bool is_private)
{
	return (unsigned)(legacy_mix64((gfn << 4) | ((uint64_t)level << 1) | is_private) &
			  (LEGACY_HASH_SIZE - 1));
}

/* Makes sure one side entry is free, so that registering a table that the
 * S-EPT already links cannot fail. */
static int legacy_sp_reserve(struct kvm *kvm)
{
	struct kvm_legacy_mmu *lm = to_legacy(kvm);
	struct legacy_sp_chunk *c;

	if (lm->sp_free)
		return 0;
	if (kvm_alloc_fails(kvm, KVM_ALLOC_SHADOW))
		return -ENOMEM;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	lm->nr_sp_allocs++;
	for (unsigned i = 0; i < LEGACY_SP_PER_CHUNK; i++) {
		c->sps[i].next = lm->sp_free;
		lm->sp_free = &c->sps[i];
	}
	c->next = lm->sp_chunks;
	lm->sp_chunks = c;
	return 0;
}

static void list_add(struct legacy_sp *head, struct legacy_sp *e)
{
	e->next = head->next;
	e->prev = head;
	head->next->prev = e;
	head->next = e;
}

static void list_del(struct legacy_sp *e)
{
	e->prev->next = e->next;
	e->next->prev = e->prev;
	e->prev = e->next = NULL;
}

struct legacy_sp *legacy_sp_lookup(struct kvm *kvm, gfn_t gfn, unsigned level,
				   bool is_private)
{
	struct kvm_legacy_mmu *lm = to_legacy(kvm);
	struct legacy_sp *lsp;

	for (lsp = lm->hash[legacy_sp_hash(gfn, level, is_private)]; lsp; lsp = lsp->hash_next)
		if (lsp->gfn == gfn && lsp->level == level && lsp->is_private == is_private)
			return lsp;
	return NULL;
}

int legacy_sp_register(struct kvm *kvm, struct kvm_mmu_page *sp)
{
	struct kvm_legacy_mmu *lm = to_legacy(kvm);
	struct legacy_sp *lsp;
	unsigned b;

	if (legacy_sp_reserve(kvm))
		return -ENOMEM;
	lsp = lm->sp_free;
	lm->sp_free = lsp->next;
	*lsp = (struct legacy_sp){
		.sp = sp, .gfn = sp->gfn, .level = sp->role.level,
		.is_private = sp->role.is_private,
	};
	b = legacy_sp_hash(lsp->gfn, lsp->level, lsp->is_private);
	lsp->hash_next = lm->hash[b];
	lm->hash[b] = lsp;
	if (lsp->is_private) {
		list_add(&lm->private_pages, lsp);
		lm->nr_private_pages++;
	} else {
		list_add(&lm->shared_pages, lsp);
		lm->nr_shared_pages++;
	}
	return 0;
}

void legacy_sp_unregister(struct kvm *kvm, struct legacy_sp *lsp)
{
	struct kvm_legacy_mmu *lm = to_legacy(kvm);
	struct legacy_sp **pp = &lm->hash[legacy_sp_hash(lsp->gfn, lsp->level, lsp->is_private)];

	while (*pp && *pp != lsp)
		pp = &(*pp)->hash_next;
	if (*pp)
		*pp = lsp->hash_next;
	list_del(lsp);
	if (lsp->is_private)
		lm->nr_private_pages--;
	else
		lm->nr_shared_pages--;
	lsp->sp = NULL;
	lsp->next = lm->sp_free;
	lm->sp_free = lsp;
}

/* ---- lifetime ---- */

int kvm_legacy_mmu_init(struct kvm *kvm)
{
	struct kvm_legacy_mmu *lm = calloc(1, sizeof(*lm));

	if (!lm)
		return -ENOMEM;
	lm->private_pages.prev = lm->private_pages.next = &lm->private_pages;
	lm->shared_pages.prev = lm->shared_pages.next = &lm->shared_pages;
	legacy_rmap_init(&lm->rmap);
	kvm->legacy_mmu = lm;
	/* The roots kvm_mmu_init() made: private first (§7.2). gfn 0 of the
	 * private root; the shared root's entries carry the shared bit in
	 * their index, its own first gfn is 0 as well. */
	if (!kvm->private_root || !kvm->shared_root ||
	    legacy_sp_register(kvm, kvm->private_root) ||
	    legacy_sp_register(kvm, kvm->shared_root)) {
		kvm_legacy_mmu_uninit(kvm);
		return -ENOMEM;
	}
	return 0;
}

void kvm_legacy_mmu_uninit(struct kvm *kvm)
{
	struct kvm_legacy_mmu *lm = to_legacy(kvm);

	if (!lm)
		return;
	legacy_rmap_destroy(&lm->rmap);
	while (lm->sp_chunks) {
		struct legacy_sp_chunk *c = lm->sp_chunks;

		lm->sp_chunks = c->next;
		free(c);
	}
	free(lm);
	kvm->legacy_mmu = NULL;
}

/* ---- SPTEs ---- */

gfn_t legacy_sptep_gfn(const _Atomic uint64_t *sptep)
{
	struct kvm_mmu_page *sp = sptep_to_sp(sptep);
	uint64_t idx = (uint64_t)(sptep - sp->spt);

	return sp->gfn + idx * KVM_PAGES_PER_HPAGE((int)sp->role.level);
}

void legacy_set_spte(struct kvm *kvm, _Atomic uint64_t *sptep, uint64_t new_spte)
{
	struct kvm_mmu_page *sp = sptep_to_sp(sptep);
	uint64_t old;

	KVM_LEGACY_SPTE_POINT(SCHED_SPTE_WRITE, SCHED_W, sp->role.is_private, sptep);
	old = atomic_exchange_explicit(sptep, new_spte, memory_order_acq_rel);
	KVM_SPTE_NOTE(KVM_LEGACY_TREE(sp->role.is_private), legacy_sptep_gfn(sptep),
		      (int)sp->role.level, old, new_spte);
	kvm_mmu_change_seq_bump(kvm);
	TRACE_PROBE(kvm_mmu_set_spte, (legacy_sptep_gfn(sptep), (int)sp->role.level, old,
				     new_spte, (int)sp->role.is_private));
	if (trace_on(kvm, kvm_mmu_set_spte)) {
		int level = (int)sp->role.level;

		kvm_trace_emit(kvm, TRACE_EV_kvm_mmu_set_spte,
			       "gfn 0x%llx level %d old_spte 0x%llx new_spte 0x%llx tree %s",
			       (unsigned long long)legacy_sptep_gfn(sptep), level,
			       (unsigned long long)kvm_trace_spte(old, level),
			       (unsigned long long)kvm_trace_spte(new_spte, level),
			       TRACE_TREE_NAME(sp->role.is_private ? TRACE_TREE_MIRROR
								      : TRACE_TREE_SHARED));
	}
}

_Atomic uint64_t *legacy_lookup_4k_sptep(struct kvm *kvm, gfn_t raw_gfn, bool is_private)
{
	struct legacy_sp *lsp = legacy_sp_lookup(kvm, gfn_round_for_level(raw_gfn, PG_LEVEL_2M),
						 PG_LEVEL_4K, is_private);

	return lsp ? &lsp->sp->spt[SPTE_INDEX(raw_gfn, PG_LEVEL_4K)] : NULL;
}

/*
 * Links a new table below the non-present entry *sptep at `level`
 * (link_shadow_page + kvm_mmu_link_private_sp, §7.3 step 3). The private
 * one takes its S-EPT page from the cache and is SEPT.ADDed before the
 * entry is written (top-down, reference §11.2 item 4). A failed link leaves
 * nothing behind: the page goes back to the arena, the frame to the cache
 * (BUSY) or is leaked (KVM bug: the module's view is unknown).
 */
static int legacy_link_new_sp(struct kvm *kvm, _Atomic uint64_t *sptep, gfn_t gfn,
			      int level, bool is_private,
			      struct kvm_mmu_memory_cache *sept_cache)
{
	struct kvm_mmu_page *sp;
	pfn_t twin = 0;
	int ret;

	if (legacy_sp_lookup(kvm, gfn, (unsigned)level - 1, is_private)) {
		/* Tables are never unlinked while the TD lives. */
		kvm_vm_bugged(kvm, "legacy: unlinked shadow page gfn 0x%llx level %d in the hash",
			      (unsigned long long)gfn, level - 1);
		return -EIO;
	}
	if (legacy_sp_reserve(kvm))
		return -ENOMEM;
	sp = kvm_mmu_alloc_page(kvm, level - 1, is_private);
	if (!sp)
		return -ENOMEM;
	sp->gfn = gfn;
	sp->parent = sptep_to_sp(sptep);
	if (is_private) {
		if (sept_cache)
			twin = kvm_mmu_cache_take(sept_cache);
		if (!twin) {
			kvm_mmu_free_page(kvm, sp);
			return -EAGAIN;
		}
		kvm_mmu_init_private_spt(sp, pfn_to_hpa(twin));
		ret = tdx_sept_link_private_spt(kvm, gfn, level, pfn_to_hpa(twin));
		if (ret) {
			if (ret == -EBUSY)
				sept_cache->frames[sept_cache->nr++] = twin;
			else
				kvm_leak_page(kvm, pfn_to_hpa(twin), KVM_LEAK_KVM,
					      "S-EPT page of a failed SEPT.ADD");
			kvm_mmu_free_page(kvm, sp);
			return ret;
		}
	}
	/* Reserved above: cannot fail. */
	(void)legacy_sp_register(kvm, sp);
	legacy_set_spte(kvm, sptep, make_nonleaf_spte(kvm_mmu_page_pa(sp)));
	return 0;
}

int legacy_get_4k_sptep(struct kvm *kvm, gfn_t raw_gfn, bool is_private,
			struct kvm_mmu_memory_cache *sept_cache, _Atomic uint64_t **sptep)
{
	struct kvm_mmu_page *root = is_private ? kvm->private_root : kvm->shared_root;
	_Atomic uint64_t *pt;
	int level, ret;

	kvm_lockdep_assert_held_write(kvm);
	if (!root)
		return -EIO;
	level = (int)root->role.level;
	pt = root->spt;
	for (; level > PG_LEVEL_4K; level--) {
		_Atomic uint64_t *e = &pt[SPTE_INDEX(raw_gfn, level)];
		uint64_t spte = legacy_read_spte(e);

		if (!is_shadow_present_pte(spte)) {
			ret = legacy_link_new_sp(kvm, e, gfn_round_for_level(raw_gfn, level),
						 level, is_private, sept_cache);
			if (ret)
				return ret;
			spte = legacy_read_spte(e);
		} else if (is_large_pte(spte)) {
			kvm_vm_bugged(kvm, "legacy: large SPTE at gfn 0x%llx level %d",
				      (unsigned long long)raw_gfn, level);
			return -EIO;
		}
		pt = spte_to_child_pt(spte, level);
	}
	*sptep = &pt[SPTE_INDEX(raw_gfn, PG_LEVEL_4K)];
	return 0;
}

/* ---- teardown step 3 ---- */

/* A leaf left in a table being freed (step 1 removes every private leaf;
 * one that is still there failed then): RECLAIM it, drop it from the rmap. */
static void legacy_free_leaf(struct kvm *kvm, struct kvm_mmu_page *sp, _Atomic uint64_t *e)
{
	uint64_t spte = legacy_read_spte(e);
	gfn_t gfn = kvm_gfn_private(kvm, legacy_sptep_gfn(e));

	if (!is_shadow_present_pte(spte) && !is_private_zapped_spte(spte))
		return;
	if (sp->role.is_private)
		tdx_sept_remove_private_spte(kvm, gfn, PG_LEVEL_4K, spte_to_pfn(spte));
	legacy_rmap_remove(kvm, gfn, e);
	legacy_set_spte(kvm, e, SHADOW_NONPRESENT_VALUE);
}

static void legacy_free_level(struct kvm *kvm, struct legacy_sp *head, unsigned level)
{
	struct legacy_sp *lsp, *next;

	for (lsp = head->next; lsp != head; lsp = next) {
		struct kvm_mmu_page *sp = lsp->sp;

		next = lsp->next;
		if (lsp->level != level || !sp->parent)
			continue;
		if (level == PG_LEVEL_4K)
			for (unsigned i = 0; i < SPTE_ENT_PER_PAGE; i++)
				legacy_free_leaf(kvm, sp, &sp->spt[i]);
		/* Unlink from the parent (its own parent entry is a plain write:
		 * no vCPU runs, the S-EPT page goes with RECLAIM). */
		legacy_set_spte(kvm, &sp->parent->spt[SPTE_INDEX(sp->gfn, (int)level + 1)],
				SHADOW_NONPRESENT_VALUE);
		if (sp->private_spt)
			tdx_sept_free_private_spt(kvm, sp->gfn, (int)level, sp->private_spt);
		legacy_sp_unregister(kvm, lsp);
		kvm_mmu_free_page_rcu(kvm, sp);
	}
}

void kvm_legacy_mmu_free_all(struct kvm *kvm)
{
	struct kvm_legacy_mmu *lm = to_legacy(kvm);
	struct legacy_sp *lsp;

	kvm_lockdep_assert_held_write(kvm);
	if (!lm)
		return;
	/* Children before parents (§5.5, the module refuses a parent whose
	 * children remain); shared first, then private (kvm_mmu_zap_all, then
	 * kvm_mmu_zap_all_private). */
	for (unsigned level = PG_LEVEL_4K; level < kvm->root_level; level++)
		legacy_free_level(kvm, &lm->shared_pages, level);
	for (unsigned level = PG_LEVEL_4K; level < kvm->root_level; level++)
		legacy_free_level(kvm, &lm->private_pages, level);
	if (kvm->shared_root && (lsp = legacy_sp_lookup(kvm, 0, kvm->root_level, false))) {
		legacy_sp_unregister(kvm, lsp);
		kvm_mmu_free_page_rcu(kvm, kvm->shared_root);
		kvm->shared_root = NULL;
	}
	if (kvm->private_root && (lsp = legacy_sp_lookup(kvm, 0, kvm->root_level, true))) {
		legacy_sp_unregister(kvm, lsp);
		kvm_mmu_free_page_rcu(kvm, kvm->private_root);
		kvm->private_root = NULL;
	}
}

/* ---- observers ---- */

void kvm_legacy_mmu_read_4k(struct kvm *kvm, gfn_t gfn, uint64_t *private_spte,
			    uint64_t *shared_spte)
{
	/* A lock-free walk from the root with acquire loads, as the CPU's
	 * (tables are never freed while the TD lives). */
	struct kvm_mmu_page *roots[2] = { kvm->private_root, kvm->shared_root };
	uint64_t *outs[2] = { private_spte, shared_spte };

	gfn = kvm_gfn_private(kvm, gfn);
	for (int t = 0; t < 2; t++) {
		gfn_t raw = t ? kvm_gfn_shared(kvm, gfn) : gfn;
		uint64_t spte = SHADOW_NONPRESENT_VALUE;
		_Atomic uint64_t *pt;
		int level;

		if (!outs[t])
			continue;
		if (roots[t] && raw < tdp_root_gfn_end((int)roots[t]->role.level)) {
			level = (int)roots[t]->role.level;
			pt = roots[t]->spt;
			for (;; level--) {
				spte = legacy_read_spte(&pt[SPTE_INDEX(raw, level)]);
				if (level == PG_LEVEL_4K)
					break;
				pt = spte_to_child_pt(spte, level);
				if (!pt) {
					spte = SHADOW_NONPRESENT_VALUE;
					break;
				}
			}
		}
		*outs[t] = spte;
	}
}

static void legacy_walk_table(struct kvm *kvm, struct kvm_mmu_page *sp,
			      kvm_mmu_walk_fn fn, void *arg)
{
	int level = (int)sp->role.level;

	for (unsigned i = 0; i < SPTE_ENT_PER_PAGE; i++) {
		uint64_t spte = legacy_read_spte(&sp->spt[i]);
		_Atomic uint64_t *child;

		if (spte == SHADOW_NONPRESENT_VALUE)
			continue;
		fn(kvm, sp->role.is_private, sp->gfn + i * KVM_PAGES_PER_HPAGE(level), level,
		   spte, sp, arg);
		child = spte_to_child_pt(spte, level);
		if (child)
			legacy_walk_table(kvm, sptep_to_sp(child), fn, arg);
	}
}

void kvm_legacy_mmu_walk(struct kvm *kvm, bool private_root, kvm_mmu_walk_fn fn,
			 void *arg)
{
	struct kvm_mmu_page *root = private_root ? kvm->private_root : kvm->shared_root;

	if (root)
		legacy_walk_table(kvm, root, fn, arg);
}

/* ---- audit ---- */

struct legacy_audit {
	void (*report)(void *arg, const char *line);
	void *arg;
	int nr;
	uint64_t tables[2]; /* reached, [is_private] */
	gfn_t last_gfn;
	unsigned per_gfn[2];
};

static void __attribute__((format(printf, 2, 3)))
audit_fail(struct legacy_audit *a, const char *fmt, ...)
{
	char line[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	a->nr++;
	a->report(a->arg, line);
}

typedef unsigned long long ull;

static void audit_table(struct kvm *kvm, struct kvm_mmu_page *sp, struct legacy_audit *a)
{
	struct legacy_sp *lsp = legacy_sp_lookup(kvm, sp->gfn, sp->role.level,
						 sp->role.is_private);
	const char *tree = sp->role.is_private ? "private" : "shared";
	int level = (int)sp->role.level;

	a->tables[sp->role.is_private]++;
	if (!lsp || lsp->sp != sp)
		audit_fail(a, "legacy: %s table gfn %#llx level %d is not in the (gfn, role) hash",
			   tree, (ull)sp->gfn, level);
	for (unsigned i = 0; i < SPTE_ENT_PER_PAGE; i++) {
		_Atomic uint64_t *e = &sp->spt[i];
		uint64_t spte = legacy_read_spte(e);
		gfn_t gfn = kvm_gfn_private(kvm, sp->gfn + i * KVM_PAGES_PER_HPAGE(level));
		bool present = is_shadow_present_pte(spte);
		_Atomic uint64_t *child;

		if (spte == SHADOW_NONPRESENT_VALUE)
			continue;
		if (!sp->role.is_private && (spte & (SPTE_SHARED_MASK | SPTE_PRIVATE_ZAPPED)))
			audit_fail(a, "legacy: shared EPT entry gfn %#llx level %d = %#llx carries a private-EPT-only bit (the legacy MMU keeps SPTE_SHARED_MASK in the private EPT only)",
				   (ull)gfn, level, (ull)spte);
		if (sp->role.is_private && (spte & SPTE_SHARED_MASK) &&
		    (present || is_private_zapped_spte(spte)))
			audit_fail(a, "legacy: private EPT entry gfn %#llx level %d = %#llx is mapped with SPTE_SHARED_MASK",
				   (ull)gfn, level, (ull)spte);
		child = spte_to_child_pt(spte, level);
		if (child) {
			audit_table(kvm, sptep_to_sp(child), a);
			continue;
		}
		if ((present || is_private_zapped_spte(spte)) && !legacy_rmap_contains(kvm, gfn, e))
			audit_fail(a, "legacy: %s %s leaf gfn %#llx (pfn %#llx) is not in the rmap of its gfn",
				   tree, present ? "present" : "PRIVATE_ZAPPED", (ull)gfn,
				   (ull)spte_to_pfn(spte));
	}
}

static bool audit_rmap_one(struct kvm *kvm, gfn_t gfn, _Atomic uint64_t *sptep, void *arg)
{
	struct legacy_audit *a = arg;
	struct kvm_mmu_page *sp = sptep_to_sp(sptep);
	uint64_t spte;
	bool priv;

	if (!sp->live || !sp->spt) {
		audit_fail(a, "legacy: rmap of gfn %#llx holds an entry of a freed table", (ull)gfn);
		return false;
	}
	priv = sp->role.is_private;
	spte = legacy_read_spte(sptep);
	if (gfn != a->last_gfn) {
		a->last_gfn = gfn;
		a->per_gfn[0] = a->per_gfn[1] = 0;
	}
	if (++a->per_gfn[priv] == 2)
		audit_fail(a, "legacy: rmap of gfn %#llx holds more than one %s SPTE",
			   (ull)gfn, priv ? "private" : "shared");
	if (sp->role.level != PG_LEVEL_4K ||
	    kvm_gfn_private(kvm, legacy_sptep_gfn(sptep)) != gfn)
		audit_fail(a, "legacy: rmap of gfn %#llx holds the entry of gfn %#llx level %u",
			   (ull)gfn, (ull)kvm_gfn_private(kvm, legacy_sptep_gfn(sptep)),
			   (unsigned)sp->role.level);
	else if (!is_shadow_present_pte(spte) && !(priv && is_private_zapped_spte(spte)))
		audit_fail(a, "legacy: rmap of gfn %#llx holds a %s entry that maps nothing (%#llx)",
			   (ull)gfn, priv ? "private" : "shared", (ull)spte);
	return false;
}

int kvm_legacy_mmu_audit(struct kvm *kvm, void (*report)(void *arg, const char *line),
			 void *arg)
{
	struct kvm_legacy_mmu *lm = to_legacy(kvm);
	struct legacy_audit a = { .report = report, .arg = arg, .last_gfn = ~0ULL };

	if (!lm)
		return 0;
	if (kvm->private_root)
		audit_table(kvm, kvm->private_root, &a);
	if (kvm->shared_root)
		audit_table(kvm, kvm->shared_root, &a);
	if (a.tables[1] != lm->nr_private_pages || a.tables[0] != lm->nr_shared_pages)
		audit_fail(&a, "legacy: the page lists hold %llu private and %llu shared tables, the trees link %llu and %llu",
			   (ull)lm->nr_private_pages, (ull)lm->nr_shared_pages,
			   (ull)a.tables[1], (ull)a.tables[0]);
	legacy_rmap_walk_range(kvm, 0, ~0ULL, audit_rmap_one, &a);
	return a.nr;
}
