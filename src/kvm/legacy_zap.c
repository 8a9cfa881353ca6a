/* SPDX-License-Identifier: MIT */
/*
 * The legacy MMU's zaps through the rmap, MapGPA and teardown step 1
 * (mmu_legacy.h). Everything under mmu_lock held for write.
 *
 * The rmap zap (reference §7.4, E1 __kvm_zap_rmapp / kvm_unmap_rmapp), one
 * walk over the rmaps of a gfn range:
 *   - present private leaf: RANGE.BLOCK, the SPTE becomes PRIVATE_ZAPPED
 *     (frame kept), the rmap entry stays;
 *   - PRIVATE_ZAPPED: skipped (already blocked);
 *   - present shared leaf: cleared, dropped from the rmap;
 * then ONE kvm_flush_remote_tlbs() (TDH.MEM.TRACK + kick) for the whole walk:
 * the "rmap-tied" TLB flush that makes PRIVATE_ZAPPED necessary in the
 * legacy MMU (seed 000). A final removal runs a second rmap walk after that
 * flush: every PRIVATE_ZAPPED leaf of the range is PAGE.REMOVEd (already
 * blocked and tracked: no second BLOCK; §5.6 "New value non-present"), then
 * WBINVD and the clear of the frame, and its rmap entry goes (drop_spte ->
 * drop_private_spte).
 *
 * Which cause keeps private memory (reference §8.1; the legacy MMU is the
 * E1 code base, with E2/E6 PRIVATE_ZAPPED semantics):
 *
 *   cause                          shared alias   private alias
 *   MMU notifier (host invalidate) zapped         PRIVATE_ZAPPED, data kept
 *                                                 (E1 kvm_unmap_rmapp walks the
 *                                                 gfn's rmap, both aliases;
 *                                                 E6 plain slots: "private
 *                                                 leaves become PRIVATE_ZAPPED")
 *   kvm_zap_gfn_range (host zap)   as asked       as asked: PRIVATE_ZAPPED, kept
 *                                                 (seed 000 "zap(private GPA)":
 *                                                 present -> non-present,
 *                                                 S kept; v7 keeps private data)
 *   MapGPA(shared)                 nop            removed (seed 000: "zap and set
 *                                                 SPTE_SHARED_MASK"; data lost)
 *   MapGPA(private)                zapped         S cleared
 *   memslot deletion               zapped         removed (data lost)
 *   teardown                       freed          removed, then RECLAIM of tables
 *
 * The TDP MMU differs on the first two rows (E4: the notifier leaves private
 * pages alone; a private host zap removes them): docs/design.md.
 */
#include <errno.h>
#include <sched.h>

#include "kvm/legacy_internal.h"
#include "kvm/tdp_iter.h"
#include "kvm/tdx_hooks.h"

struct zap_walk {
	bool private_alias, shared_alias;
	struct legacy_zap_stats *st;
	int ret;
};

/* Pass 1: block private leaves, clear shared ones. */
static bool zap_one(struct kvm *kvm, gfn_t gfn, _Atomic uint64_t *sptep, void *arg)
{
	struct zap_walk *w = arg;
	struct kvm_mmu_page *sp = sptep_to_sp(sptep);
	uint64_t spte = legacy_read_spte(sptep);

	if (w->ret || !is_shadow_present_pte(spte))
		return false; /* PRIVATE_ZAPPED: already blocked */
	if (sp->role.is_private) {
		if (!w->private_alias)
			return false;
		if (tdx_sept_zap_private_spte(kvm, gfn, PG_LEVEL_4K)) {
			w->ret = -EIO; /* KVM bug: the page stays mapped */
			return false;
		}
		legacy_set_spte(kvm, sptep, make_private_zapped_spte(spte));
		w->st->private_blocked++;
		return false; /* kept in the rmap */
	}
	if (!w->shared_alias)
		return false;
	/* "zap keeps the bit": the shared EPT never has it. */
	legacy_set_spte(kvm, sptep, shadow_nonpresent_spte(spte));
	w->st->shared_zapped++;
	return true;
}

/* Pass 2: remove PRIVATE_ZAPPED leaves (blocked and tracked). */
static bool remove_one(struct kvm *kvm, gfn_t gfn, _Atomic uint64_t *sptep, void *arg)
{
	struct zap_walk *w = arg;
	uint64_t spte = legacy_read_spte(sptep);

	if (w->ret || !sptep_to_sp(sptep)->role.is_private || !is_private_zapped_spte(spte))
		return false;
	if (tdx_sept_remove_private_spte(kvm, gfn, PG_LEVEL_4K, spte_to_pfn(spte))) {
		/* Still in the S-EPT (blocked): the entry stays as it is, the
		 * frame is leaked (counted by the hook). The VM is dead. */
		w->ret = -EIO;
		return false;
	}
	legacy_set_spte(kvm, sptep, shadow_nonpresent_spte(spte & ~SPTE_PRIVATE_ZAPPED));
	w->st->private_removed++;
	return true;
}

static int legacy_zap_ranges(struct kvm *kvm, const struct kvm_gfn_range *ranges,
			     unsigned nr, bool private_alias, bool shared_alias, bool remove,
			     struct legacy_zap_stats *st)
{
	struct zap_walk w = { private_alias, shared_alias, st, 0 };
	int ret;

	kvm_lockdep_assert_held_write(kvm);
	for (unsigned i = 0; i < nr; i++)
		legacy_rmap_walk_range(kvm, ranges[i].start, ranges[i].end, zap_one, &w);
	/*
	 * One TRACK + kick for the whole rmap walk. MUTANT_NO_TRACK (the
	 * guard and what goes: tdp_mmu.c, tdp_mmu_flush_blocked()) drops it
	 * when private leaves were blocked: a REMOVE that follows finds no
	 * epoch advance, and the module refuses it.
	 */
	if ((st->private_blocked || st->shared_zapped) &&
	    !(st->private_blocked && mutant_on(MUTANT_NO_TRACK))) {
		ret = kvm_flush_remote_tlbs(kvm);
		if (ret && !w.ret)
			w.ret = ret;
	}
	if (remove && private_alias && !w.ret)
		for (unsigned i = 0; i < nr; i++)
			legacy_rmap_walk_range(kvm, ranges[i].start, ranges[i].end, remove_one, &w);
	return w.ret;
}

int legacy_zap_range(struct kvm *kvm, gfn_t start, gfn_t end, bool private_alias,
		     bool shared_alias, bool remove, struct legacy_zap_stats *st)
{
	struct kvm_gfn_range r = { start, end };

	return legacy_zap_ranges(kvm, &r, 1, private_alias, shared_alias, remove, st);
}

/* ---- the zaps by cause ---- */

static int legacy_zap_locked(struct kvm *kvm, gfn_t start, gfn_t end, bool private_alias,
			     bool shared_alias, bool unmap)
{
	struct legacy_zap_stats st = { 0 };
	int ret;

	if (start >= end || (!private_alias && !shared_alias))
		return 0;
	kvm_mmu_write_lock(kvm);
	ret = legacy_zap_range(kvm, start, end, private_alias, shared_alias, false, &st);
	kvm_mmu_write_unlock(kvm);
	if (unmap)
		KVM_TRACE(kvm, kvm_unmap_gfn_range,
			  (start, end, st.private_blocked + st.shared_zapped),
			  "start 0x%llx end 0x%llx private zapped %lu shared zapped %lu%s (legacy)",
			  (unsigned long long)start, (unsigned long long)end,
			  st.private_blocked, st.shared_zapped, ret ? " (KVM bug)" : "");
	else
		KVM_TRACE(kvm, kvm_zap_gfn_range,
			  (start, end, st.private_blocked + st.shared_zapped),
			  "start 0x%llx end 0x%llx private zapped %lu shared zapped %lu%s (legacy)",
			  (unsigned long long)start, (unsigned long long)end,
			  st.private_blocked, st.shared_zapped, ret ? " (KVM bug)" : "");
	return ret;
}

int kvm_legacy_mmu_notifier_invalidate(struct kvm *kvm, gfn_t start, gfn_t end)
{
	return legacy_zap_locked(kvm, start, end, true, true, true);
}

int kvm_legacy_zap_gfn_range(struct kvm *kvm, gfn_t start, gfn_t end, bool private_alias,
			     bool shared_alias)
{
	return legacy_zap_locked(kvm, start, end, private_alias, shared_alias,
				 false);
}

int kvm_legacy_delete_memslot(struct kvm *kvm, unsigned id)
{
	struct legacy_zap_stats st = { 0 };
	struct host_memslot slot;
	gfn_t start, end;
	int ret;

	kvm_slots_lock(kvm);
	if (!host_memslot_by_id(kvm->slots, id, &slot)) {
		kvm_slots_unlock(kvm);
		return -ENOENT;
	}
	start = slot.base_gfn;
	end = slot.base_gfn + slot.npages;
	/* As kvm_zap.c: zap and delete under one write-lock section, so no
	 * fault maps a frame of the slot in between. */
	kvm_mmu_write_lock(kvm);
	ret = legacy_zap_range(kvm, start, end, true, true, true, &st);
	if (!ret) {
		if (legacy_rmap_drop_slot(kvm, start, end - start)) {
			kvm_vm_bugged(kvm, "legacy: memslot %u still mapped after its zap", id);
			ret = -EIO;
		} else {
			ret = host_memslot_delete(kvm->slots, id);
		}
	} else {
		ret = -EIO; /* a private page could not go: its frame stays */
	}
	kvm_mmu_write_unlock(kvm);
	kvm_slots_unlock(kvm);
	KVM_TRACE(kvm, kvm_delete_memslot,
		  (id, start, end, st.private_removed + st.shared_zapped),
		  "id %u gfn [0x%llx, 0x%llx) private removed %lu shared zapped %lu -> %d (legacy)",
		  id, (unsigned long long)start, (unsigned long long)end,
		  st.private_removed, st.shared_zapped, ret);
	return ret;
}

/* ---- MapGPA (seed 000 "map_gpa") ---- */

/* Links the private tables down to 4K over the ranges, so that S can be
 * recorded for every gfn (the private EPT is where it lives). 0, -EAGAIN
 * (cache dry), -EBUSY, -ENOMEM, -EIO. */
static int legacy_populate_private(struct kvm *kvm, const struct kvm_gfn_range *ranges,
				   unsigned nr, struct kvm_mmu_memory_cache *sept_cache)
{
	for (unsigned i = 0; i < nr; i++) {
		for (gfn_t gfn = ranges[i].start; gfn < ranges[i].end;
		     gfn = gfn_round_for_level(gfn, PG_LEVEL_2M) + KVM_PAGES_PER_HPAGE(PG_LEVEL_2M)) {
			_Atomic uint64_t *e;
			int ret = legacy_get_4k_sptep(kvm, gfn, true, sept_cache, &e);

			if (ret)
				return ret;
		}
	}
	return 0;
}

/* Sets or clears SPTE_SHARED_MASK in every private 4K entry of the ranges
 * (a raw write of a software bit, no SEAMCALL). */
static int legacy_flip_shared_bit(struct kvm *kvm, const struct kvm_gfn_range *ranges,
				  unsigned nr, bool set)
{
	for (unsigned i = 0; i < nr; i++) {
		for (gfn_t gfn = ranges[i].start; gfn < ranges[i].end; gfn++) {
			_Atomic uint64_t *e = legacy_lookup_4k_sptep(kvm, gfn, true);
			uint64_t spte;

			if (!e) {
				if (!set)
					continue; /* no table: S is clear already */
				kvm_vm_bugged(kvm, "legacy: MapGPA gfn 0x%llx not populated",
					      (unsigned long long)gfn);
				return -EIO;
			}
			spte = legacy_read_spte(e);
			if (is_shadow_present_pte(spte) || is_private_zapped_spte(spte)) {
				if (!set)
					continue; /* "present: nop" */
				kvm_vm_bugged(kvm, "legacy: MapGPA(shared) gfn 0x%llx still mapped",
					      (unsigned long long)gfn);
				return -EIO;
			}
			if (!!(spte & SPTE_SHARED_MASK) != set)
				legacy_set_spte(kvm, e, set ? spte | SPTE_SHARED_MASK
							     : spte & ~SPTE_SHARED_MASK);
		}
	}
	return 0;
}

#define LEGACY_MAP_GPA_MAX_PASSES 10000

int kvm_legacy_mmu_map_gpa(struct kvm_vcpu *vcpu, const struct kvm_gfn_range *ranges,
			   unsigned nr, bool to_shared)
{
	struct kvm *kvm = vcpu->kvm;
	struct legacy_zap_stats st = { 0 };
	bool stalled = false;
	int ret;

	for (unsigned pass = 0;; pass++) {
		ret = kvm_mmu_topup_sept_cache(kvm, &vcpu->sept_cache);
		if (ret)
			return ret;
		kvm_mmu_write_lock(kvm);
		/* map_gpa(private) needs no table: a gfn without one has S
		 * clear already. */
		ret = to_shared ? legacy_populate_private(kvm, ranges, nr, &vcpu->sept_cache) : 0;
		if (!ret)
			break; /* the lock stays held for the flip */
		kvm_mmu_write_unlock(kvm);
		if (ret != -EAGAIN && ret != -EBUSY)
			return ret;
		if (pass == LEGACY_MAP_GPA_MAX_PASSES)
			return -EBUSY;
		if (kvm_map_gpa_pass_wait(kvm, ret, &stalled))
			return -EBUSY;
	}

	if (to_shared) {
		/* Private entry: "zap and set SPTE_SHARED_MASK": present ->
		 * BLOCK (one TRACK for the chunk) -> PAGE.REMOVE; PRIVATE_ZAPPED
		 * -> PAGE.REMOVE; then NP|S. The shared entry: nop. */
		ret = legacy_zap_ranges(kvm, ranges, nr, true, false, true, &st);
		if (!ret)
			ret = legacy_flip_shared_bit(kvm, ranges, nr, true);
	} else {
		/* Private entry: clear S; shared entry: zap (one flush). */
		ret = legacy_flip_shared_bit(kvm, ranges, nr, false);
		if (!ret)
			ret = legacy_zap_ranges(kvm, ranges, nr, false, true, false, &st);
	}
	kvm_mmu_write_unlock(kvm);
	return ret;
}

/* ---- teardown step 1 ---- */

int kvm_legacy_mmu_zap_all_private(struct kvm *kvm)
{
	struct kvm_legacy_mmu *lm = to_legacy(kvm);
	struct legacy_zap_stats st = { 0 };
	struct legacy_sp *lsp;
	int ret = 0;

	kvm_lockdep_assert_held_write(kvm);
	if (!lm)
		return 0;
	/*
	 * kvm_mmu_zap_all_private over the private page list: every private
	 * 4K table's leaves, through the same two passes as a final removal
	 * (BLOCK each present leaf, one TRACK, REMOVE every PRIVATE_ZAPPED
	 * leaf; rmap entries dropped). The private tables stay until the HKID
	 * is released (kvm_legacy_mmu_free_all()).
	 */
	for (lsp = lm->private_pages.next; lsp != &lm->private_pages; lsp = lsp->next) {
		gfn_t start = lsp->gfn;

		if (lsp->level != PG_LEVEL_4K)
			continue;
		for (unsigned i = 0; i < SPTE_ENT_PER_PAGE && !ret; i++) {
			_Atomic uint64_t *e = &lsp->sp->spt[i];
			uint64_t spte = legacy_read_spte(e);

			if (!is_shadow_present_pte(spte))
				continue;
			if (tdx_sept_zap_private_spte(kvm, start + i, PG_LEVEL_4K))
				ret = -EIO;
			else
				legacy_set_spte(kvm, e, make_private_zapped_spte(spte));
			st.private_blocked++;
		}
	}
	if (st.private_blocked && !ret)
		ret = kvm_flush_remote_tlbs(kvm);
	for (lsp = lm->private_pages.next; lsp != &lm->private_pages && !ret; lsp = lsp->next) {
		gfn_t start = lsp->gfn;

		if (lsp->level != PG_LEVEL_4K)
			continue;
		for (unsigned i = 0; i < SPTE_ENT_PER_PAGE && !ret; i++) {
			_Atomic uint64_t *e = &lsp->sp->spt[i];
			uint64_t spte = legacy_read_spte(e);

			if (!is_private_zapped_spte(spte))
				continue;
			if (tdx_sept_remove_private_spte(kvm, start + i, PG_LEVEL_4K,
							 spte_to_pfn(spte))) {
				ret = -EIO;
				break;
			}
			legacy_rmap_remove(kvm, start + i, e);
			legacy_set_spte(kvm, e, shadow_nonpresent_spte(spte & ~SPTE_PRIVATE_ZAPPED));
			st.private_removed++;
		}
	}
	return ret ? ret : (int)st.private_removed;
}
