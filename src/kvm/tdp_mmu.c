/* SPDX-License-Identifier: MIT */
/*
 * KVM's TDP MMU for a TD (see tdp_mmu.h): the E4 two-root design with the
 * private mirror EPT, SPTE_SHARED_MASK at 4K, freezing of private entries
 * while their SEAMCALL runs, and hooks into tdx_hooks.c.
 *
 * Every SPTE change goes through one of two setters, both of which end in
 * handle_changed_spte():
 *  - tdp_mmu_set_spte_atomic(): mmu_lock held for read (faults). cmpxchg
 *    against the iterator's snapshot; private entries frozen meanwhile.
 *  - tdp_mmu_set_spte(): mmu_lock held for write (zaps, teardown, MapGPA).
 *    A plain exchange; nobody else can be changing the tree.
 * There are two exceptions, both MapGPA's and under the write lock: its "raw
 * writes" of SPTE_SHARED_MASK (E4 §6.4, tdp_mmu_write_shared_bit()), which
 * change a software bit only and bypass the handler, and its pre-population,
 * which runs the handler before publishing a table (tdp_mmu_link_sp_locked()).
 * Large pages (E8, hugepages ref Part I; docs/large-pages.md): in a
 * hugepages memslot a fault may map a 2M leaf in either tree; a 2M-level
 * entry with no table under it carries SPTE_SHARED_MASK for its whole 2M
 * range (the alias state of 512 GFNs at once, set only by MapGPA over a whole
 * 2M chunk), so a 2M range whose pages differ always has a 4K table below.
 * Splits (present 2M leaf -> table of 512 4K leaves) run under the write
 * lock only (§4.2) and reach the module through handle_changed_spte() as
 * the split hook (§4.4.4, §8.6: one path).
 * Every change, by whatever path, bumps kvm->mmu_change_seq
 * (kvm_mmu_change_seq_bump()), so that a fault answering RET_PF_RETRY with
 * the sequence unmoved is known to have changed nothing.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>

#include "host/host_rcu.h"
#include "host/shape_count.h"
#include "kvm/kvm_sched.h"
#include "kvm/tdp_iter.h"
#include "kvm/tdp_mmu.h"
#include "kvm/tdx_hooks.h"

/* ---- the trees' shape (fault walk hints, below) ------------------------------ */

/* A write of an SPTE at `level` begins / is done: above 4K it may change a
 * path from a root to a 4K entry, which ends the fault walk hints that go
 * through it (counted in progress before the write, done after). */
static inline void tdp_shape_begin(struct kvm *kvm, int level)
{
	if (level > PG_LEVEL_4K)
		shape_count_begin(&kvm->tdp_shape);
}

static inline void tdp_shape_end(struct kvm *kvm, int level)
{
	if (level > PG_LEVEL_4K)
		shape_count_end(&kvm->tdp_shape);
}

/* ---- page lifetime --------------------------------------------------------- */

/* A page no walker ever saw (its link failed): back to the arena at once. */
static void tdp_mmu_free_sp(struct kvm *kvm, struct kvm_mmu_page *sp)
{
	kvm_mmu_free_page(kvm, sp);
}

/*
 * THE way a page that was reachable from a root is freed (KVM's call_rcu of
 * tdp_mmu_free_sp_rcu_callback): a walker that read the parent entry before
 * it was cleared may still be reading this table. Which walkers: the CPU's
 * hardware walk of the shared EPT (no KVM lock) and KVM's lockless walks
 * (kvm_tdp_mmu_read_4k). Walks under mmu_lock cannot overlap the unlink,
 * which takes the write lock, but run in read-side sections all the same,
 * as KVM's tdp_mmu_for_each_pte requires, so that this rule does not depend
 * on which lock a future caller holds.
 *
 * The TLB flush for the unlinked range is issued before the unlinking thread
 * leaves its own read-side section (kvm_zap.c): the grace period, and so the
 * free, cannot complete before the flush, as in KVM's zaps.
 */
static void tdp_mmu_free_sp_deferred(struct kvm *kvm, struct kvm_mmu_page *sp)
{
	kvm_mmu_free_page_rcu(kvm, sp);
}

/* ---- the atomic SPTE update ------------------------------------------------ */

/*
 * THE compare-and-exchange of an SPTE under the read lock (a fault's
 * install, a freeze): from *old_spte to new_spte, or false with *old_spte
 * refreshed. The guard is the atomicity: two threads that snapshot the same
 * value cannot both succeed, so a lost update is impossible (two vCPUs
 * faulting one GPA both AUG, or both link a table and one table leaks).
 * MUTANT_PLAIN_SPTE_WRITE removes it: read, compare, then a plain store,
 * with a schedule point between the read and the store, so that the
 * explorer can run another thread's update in that window and the second
 * store silently overwrites the first.
 */
static inline __attribute__((always_inline)) bool
tdp_mmu_spte_cmpxchg(_Atomic uint64_t *sptep, bool is_private,
				 uint64_t *old_spte, uint64_t new_spte, bool freeze)
{
	uint64_t cur;

	if (freeze)
		KVM_SPTE_POINT(SCHED_SPTE_FREEZE, SCHED_W, is_private, sptep);
	else
		KVM_SPTE_POINT(SCHED_SPTE_CMPXCHG, SCHED_W, is_private, sptep);
	if (!mutant_on(MUTANT_PLAIN_SPTE_WRITE))
		return atomic_compare_exchange_strong(sptep, old_spte, new_spte);
	cur = atomic_load_explicit(sptep, memory_order_acquire);
	if (cur != *old_spte) {
		*old_spte = cur;
		return false;
	}
	KVM_SPTE_POINT(SCHED_SPTE_WRITE, SCHED_W, is_private, sptep);
	atomic_store_explicit(sptep, new_spte, memory_order_release);
	return true;
}

/* ---- SPTE change handling ------------------------------------------------- */

static void trace_kvm_tdp_mmu_spte_changed(struct kvm *kvm, bool is_private,
					   gfn_t gfn, int level,
					   uint64_t old_spte, uint64_t new_spte)
{
	TRACE_PROBE(kvm_tdp_mmu_spte_changed, (gfn, level, old_spte, new_spte,
					     is_private));
	if (trace_on(kvm, kvm_tdp_mmu_spte_changed))
		kvm_trace_emit(kvm, TRACE_EV_kvm_tdp_mmu_spte_changed,
			       "as id 0 gfn 0x%llx level %d old_spte 0x%llx "
			       "new_spte 0x%llx tree %s", (unsigned long long)gfn, level,
			       (unsigned long long)kvm_trace_spte(old_spte, level),
			       (unsigned long long)kvm_trace_spte(new_spte, level),
			       TRACE_TREE_NAME(is_private ? TRACE_TREE_MIRROR
							      : TRACE_TREE_SHARED));
}

static int handle_changed_spte(struct kvm *kvm, bool is_private, gfn_t gfn,
			       uint64_t old_spte, uint64_t new_spte, int level,
			       bool shared, bool leaf_blocked);

/*
 * A present private leaf goes away. E4 per-entry order (§5.4 table):
 * RANGE.BLOCK, TLB flush (TRACK + kick), PAGE.REMOVE (+ WBINVD, clear).
 * leaf_blocked: the caller already blocked and flushed a whole batch
 * (kvm_tdp_mmu_zap_leafs) or none is needed (before finalize), so only
 * REMOVE remains. Without the HKID, remove_private_spte RECLAIMs instead.
 */
static int tdp_mmu_zap_private_leaf(struct kvm *kvm, gfn_t gfn, int level,
				    pfn_t pfn, bool leaf_blocked)
{
	int ret;

	if (!leaf_blocked && kvm->finalized && kvm->hkid_assigned) {
		ret = tdx_sept_zap_private_spte(kvm, gfn, level);
		/* MUTANT_NO_TRACK: see tdp_mmu_flush_blocked(). */
		if (!ret && !mutant_on(MUTANT_NO_TRACK))
			ret = kvm_flush_remote_tlbs(kvm);
		if (ret) {
			/* Still mapped in the S-EPT: the frame stays the TD's
			 * until teardown reclaims it. */
			kvm_leak_page(kvm, pfn_to_hpa(pfn), KVM_LEAK_GUEST,
				      "block/track failed");
			return ret;
		}
	}
	return tdx_sept_remove_private_spte(kvm, gfn, level, pfn);
}

/**
 * handle_removed_pt() - tear down a table unlinked from its parent entry
 * @kvm: the VM.
 * @pt: the table (no longer reachable through the parent entry).
 * @shared: mmu_lock held for read (else write).
 *
 * Every entry is frozen and its change handled (leaves through the hooks,
 * non-leaves by recursion), so all 512 children of a private table are gone
 * from the S-EPT before free_private_spt reclaims the table's own S-EPT page
 * (S-EPT "requires to remove S-EPT tables after removing children", L6).
 * Then the page is freed, deferred.
 *
 * Return: 0 or the first error of a hook (the walk goes on regardless:
 * every child is disposed of, failures leak).
 */
static int handle_removed_pt_entries(struct kvm *kvm, _Atomic uint64_t *pt, bool shared);

/* The table's entries are written (frozen) as a shape change: they are off
 * every path already (their parent entry's write was one), but a change of
 * shape costs nothing here and needs no argument. */
static int handle_removed_pt(struct kvm *kvm, _Atomic uint64_t *pt, bool shared)
{
	int ret;

	tdp_shape_begin(kvm, PG_LEVEL_2M);
	ret = handle_removed_pt_entries(kvm, pt, shared);
	tdp_shape_end(kvm, PG_LEVEL_2M);
	return ret;
}

static int handle_removed_pt_entries(struct kvm *kvm, _Atomic uint64_t *pt, bool shared)
{
	struct kvm_mmu_page *sp = sptep_to_sp(pt);
	int level = (int)sp->role.level;
	int ret = 0;

	for (unsigned i = 0; i < SPTE_ENT_PER_PAGE; i++) {
		_Atomic uint64_t *sptep = pt + i;
		gfn_t gfn = sp->gfn + i * KVM_PAGES_PER_HPAGE(level);
		uint64_t old_spte, new_spte;
		int r;

		if (shared) {
			/*
			 * Under the read lock another thread may own an entry
			 * (frozen, its SEAMCALL in flight): wait until it lets
			 * go, then freeze it ourselves, so that exactly one
			 * thread disposes of each child. Exploring, the owner
			 * cannot run while we spin: SCHED_WAIT lets it.
			 */
			KVM_SPTE_POINT(SCHED_SPTE_READ, SCHED_R, is_private_sp(sp), sptep);
			old_spte = kvm_tdp_mmu_read_spte(sptep);
			for (;;) {
				if (is_removed_spte(old_spte)) {
					if (SCHED_WAIT(sptep, "frozen SPTE (table teardown)") ==
					    SCHED_WAIT_NONE)
						sched_yield();
					KVM_SPTE_POINT(SCHED_SPTE_READ, SCHED_R,
						       is_private_sp(sp), sptep);
					old_spte = kvm_tdp_mmu_read_spte(sptep);
					continue;
				}
				new_spte = REMOVED_SPTE | (old_spte & SPTE_SHARED_MASK);
				if (tdp_mmu_spte_cmpxchg(sptep, is_private_sp(sp), &old_spte,
							 new_spte, true))
					break;
			}
		} else {
			/* Write-locked: nothing changes the table under us.
			 * Pass eight plain empty entries at once where no read
			 * point decides (teardown of a small TD's tables). */
			if ((i & 7) == 0 && !kvm_read_points_decide()) {
				uint64_t diff = 0;

				for (unsigned k = 0; k < 8; k++)
					diff |= atomic_load_explicit(&pt[i + k],
								     memory_order_relaxed) ^
						SHADOW_NONPRESENT_VALUE;
				if (!diff) {
					i += 7;
					continue;
				}
			}
			KVM_SPTE_POINT(SCHED_SPTE_READ, SCHED_R, is_private_sp(sp), sptep);
			old_spte = kvm_tdp_mmu_read_spte(sptep);
			if (!is_shadow_present_pte(old_spte))
				continue;
			new_spte = REMOVED_SPTE | (old_spte & SPTE_SHARED_MASK);
			KVM_SPTE_POINT(SCHED_SPTE_FREEZE, SCHED_W, is_private_sp(sp), sptep);
			atomic_store_explicit(sptep, new_spte, memory_order_release);
		}
		KVM_SPTE_NOTE(KVM_TDP_TREE(is_private_sp(sp)), gfn, level, old_spte, new_spte);
		kvm_mmu_change_seq_bump(kvm);
		r = handle_changed_spte(kvm, is_private_sp(sp), gfn, old_spte,
					new_spte, level, shared, false);
		if (r && !ret)
			ret = r;
	}

	if (is_private_sp(sp) && sp->private_spt) {
		int r = tdx_sept_free_private_spt(kvm, sp->gfn, level,
						  sp->private_spt);

		/* On failure the hook leaked the S-EPT page on purpose. */
		sp->private_spt = 0;
		if (r && !ret)
			ret = r;
	}
	tdp_mmu_free_sp_deferred(kvm, sp);
	return ret;
}

/*
 * A present private entry becoming a table: a split of a 2M leaf (hugepages
 * ref §4.4.4), only under the write lock (§4.2: the read side cannot force
 * vCPUs out, so a BUSY DEMOTE after BLOCK would need an UNBLOCK that can be
 * BUSY too, hazard §8.1). Anything else (a table replacing a table, a split
 * under the read lock, a 1G leaf) is a KVM bug. Out of line: the fault
 * path's handler never comes here.
 */
static __attribute__((noinline, cold)) int
tdp_mmu_split_changed(struct kvm *kvm, gfn_t gfn, int level, bool was_leaf, bool shared,
		      hpa_t private_spt)
{
	if (!was_leaf || level != PG_LEVEL_2M ||
	    (shared && !mutant_on(MUTANT_SPLIT_READ_LOCK))) {
		kvm_vm_bugged(kvm, "private entry gfn 0x%llx level %d: present -> table%s",
			      (unsigned long long)gfn, level,
			      shared ? " under the read lock" : "");
		return -EIO;
	}
	return tdx_sept_split_private_spte(kvm, gfn, level, private_spt);
}

/**
 * handle_changed_spte() - bookkeeping and hooks for one SPTE change
 * @kvm: the VM.
 * @is_private: the entry is in the private mirror EPT.
 * @gfn: first gfn the entry maps (no shared bit for private entries).
 * @old_spte: the value before the change.
 * @new_spte: the value after it (for a frozen entry: the value it will get).
 * @level: the entry's level.
 * @shared: mmu_lock held for read (the entry is frozen if private).
 * @leaf_blocked: for a private leaf going away, BLOCK and TRACK were done.
 *
 * Order (§5.4): sanity checks; a removed table is torn down first (children
 * before this entry's hook, so S-EPT children go before parents); then, for
 * private entries whose presence, leafness or PFN changed, exactly one hook.
 * Changes of software-only bits (SPTE_SHARED_MASK, writable bits, A/D) never
 * reach the TDX module.
 *
 * Return: 0, or the hook's -EBUSY / -EIO.
 */
/*
 * Whether old -> new, whose S bits differ, is the link of a table below a
 * non-present entry (so the old one had S: a table entry never has it)
 * whose 512 entries all took the bit over (the S bit moved down a level:
 * tdp_mmu_inherit_shared_bit()). Out of line: the fault path's handler
 * only comes here when S differs.
 */
static __attribute__((noinline, cold)) bool
tdp_mmu_link_keeps_shared_bit(uint64_t old_spte, uint64_t new_spte, int level)
{
	_Atomic uint64_t *pt;

	if (is_shadow_present_pte(old_spte) || !is_shadow_present_pte(new_spte) ||
	    is_last_spte(new_spte, level))
		return false;
	pt = spte_to_child_pt(new_spte, level);
	for (unsigned i = 0; i < SPTE_ENT_PER_PAGE; i++)
		if (!(atomic_load_explicit(&pt[i], memory_order_relaxed) & SPTE_SHARED_MASK))
			return false;
	return true;
}

static int handle_changed_spte(struct kvm *kvm, bool is_private, gfn_t gfn,
			       uint64_t old_spte, uint64_t new_spte, int level,
			       bool shared, bool leaf_blocked)
{
	bool was_present = is_shadow_present_pte(old_spte);
	bool is_present = is_shadow_present_pte(new_spte);
	bool was_leaf = was_present && is_last_spte(old_spte, level);
	bool is_leaf = is_present && is_last_spte(new_spte, level);
	bool pfn_changed = spte_to_pfn(old_spte) != spte_to_pfn(new_spte);
	int ret = 0;

	if (level < PG_LEVEL_4K || level > PT64_ROOT_MAX_LEVEL ||
	    (gfn & (KVM_PAGES_PER_HPAGE(level) - 1))) {
		kvm_vm_bugged(kvm, "SPTE change at gfn 0x%llx level %d",
			      (unsigned long long)gfn, level);
		return -EIO;
	}
	if (old_spte == new_spte)
		return 0;

	trace_kvm_tdp_mmu_spte_changed(kvm, is_private, gfn, level, old_spte, new_spte);

	/* Invariant 10 (§11.2, E4 WARN): only MapGPA, under the write lock,
	 * changes SPTE_SHARED_MASK. A table linked below a non-present
	 * 2M-level entry that carries S (a whole 2M chunk converted at 2M,
	 * E8 hugepages ref §7.4) is no change of alias: its 512 entries took
	 * the bit over (tdp_mmu_inherit_shared_bit()), so the fault path may
	 * link it, e.g. once the chunk's memslot was replaced by a 4K one. */
	if (shared && ((old_spte ^ new_spte) & SPTE_SHARED_MASK) &&
	    !tdp_mmu_link_keeps_shared_bit(old_spte, new_spte, level)) {
		kvm_vm_bugged(kvm, "SPTE_SHARED_MASK changed under the read lock at gfn 0x%llx",
			      (unsigned long long)gfn);
		return -EIO;
	}
	/* A present leaf never changes frame while present (invariant 2). */
	if (was_leaf && is_leaf && pfn_changed) {
		kvm_vm_bugged(kvm, "present leaf at gfn 0x%llx changed pfn 0x%llx -> 0x%llx",
			      (unsigned long long)gfn,
			      (unsigned long long)spte_to_pfn(old_spte),
			      (unsigned long long)spte_to_pfn(new_spte));
		return -EIO;
	}
	/* Not present before or after: freezing, unfreezing, S flips. Nothing
	 * the module tracks. */
	if (!was_present && !is_present)
		return 0;

	if (was_present && !was_leaf && (is_leaf || !is_present || pfn_changed))
		ret = handle_removed_pt(kvm, spte_to_child_pt(old_spte, level), shared);

	if (!is_private)
		return ret;
	if (was_present == is_present && was_leaf == is_leaf && !pfn_changed)
		return ret;

	if (is_present && !is_leaf) {
		struct kvm_mmu_page *child;

		child = sptep_to_sp(spte_to_child_pt(new_spte, level));
		if (__builtin_expect(was_present, 0))
			return tdp_mmu_split_changed(kvm, gfn, level, was_leaf, shared,
						     child->private_spt);
		return tdx_sept_link_private_spt(kvm, gfn, level, child->private_spt);
	}
	if (is_present) {
		/* E4 WARNs on present -> present (merge is E6 only). */
		if (was_present) {
			kvm_vm_bugged(kvm, "private entry gfn 0x%llx level %d: present -> leaf",
				      (unsigned long long)gfn, level);
			return -EIO;
		}
		return tdx_sept_set_private_spte(kvm, gfn, level,
						 spte_to_pfn(new_spte));
	}
	if (was_leaf) {
		int r = tdp_mmu_zap_private_leaf(kvm, gfn, level,
						 spte_to_pfn(old_spte), leaf_blocked);

		return r ? r : ret;
	}
	/* A private table unlinked: handle_removed_pt freed its S-EPT page. */
	return ret;
}

/* ---- the two setters ------------------------------------------------------- */

/**
 * tdp_mmu_set_spte_atomic() - change an SPTE under the read lock
 * @kvm: the VM.
 * @iter: stands on the entry; iter->old_spte is the value the caller based
 *	new_spte on.
 * @new_spte: the value to install.
 *
 * Shared entries: one cmpxchg from iter->old_spte to new_spte, then the
 * bookkeeping. Private entries (§5.2, E4 freeze, E6/E7 rollback):
 *  1. cmpxchg old -> REMOVED_SPTE. Losing means another thread changed the
 *     entry since our snapshot (e.g. two vCPUs faulting on one GPA): back
 *     off with nothing done.
 *  2. The hook runs (SEPT.ADD for a table, AUG/ADD for a leaf) while the
 *     entry is frozen. Why freeze on populate: without it, vCPU1 could make
 *     the 2M-level mirror entry present, vCPU2 walk through it and issue
 *     PAGE.AUG at 4K before vCPU1's SEPT.ADD reached the module, and the AUG
 *     fail on a missing S-EPT table. Frozen, the entry is not present:
 *     vCPU2 sees REMOVED_SPTE, gives up its walk and refaults (RET_PF_RETRY)
 *     after vCPU1 stored the final value. The same freeze keeps two AUGs of
 *     one GFN from racing in the module.
 *  3. Hook failed (SEPT busy, or a KVM_BUG): store the old value back, so
 *     the mirror never claims what the S-EPT does not have; the fault
 *     retries. Hook succeeded: store new_spte (a release store, so a walker
 *     that sees it sees the linked table initialised).
 * Only the freezing thread writes a frozen entry, so steps 2-3 need no
 * cmpxchg. The mutant MUTANT_NO_FREEZE (explore/mutant.h) makes private
 * entries take the shared-entry path instead, reopening the race above.
 *
 * Context: mmu_lock held for read.
 *
 * Return: 0 (iter->old_spte = new_spte); -EBUSY if the cmpxchg was lost
 * (iter->old_spte refreshed with what the entry holds), the entry was frozen
 * by another thread, or the hook answered BUSY (rolled back); -EIO (KVM bug).
 */
static int tdp_mmu_set_spte_atomic(struct kvm *kvm, struct tdp_iter *iter,
				   uint64_t new_spte)
{
	uint64_t old_spte = iter->old_spte;
	int ret;

	kvm_lockdep_assert_held_read(kvm);

	/* A frozen entry belongs to the thread that froze it (invariant 1). */
	if (is_removed_spte(old_spte)) {
		kvm_stat_contention(kvm, &kvm_stats_mine(kvm)->retry_frozen);
		return -EBUSY;
	}

	/*
	 * The guard (§5.2): a private entry is frozen while its SEAMCALL runs,
	 * so no other walker goes through it before the S-EPT has what it
	 * claims. MUTANT_NO_FREEZE removes it: the entry goes straight to its
	 * final value and the hook runs after, with no rollback.
	 */
	if (iter->is_private && !is_removed_spte(new_spte) &&
	    !mutant_on(MUTANT_NO_FREEZE)) {
		uint64_t frozen = REMOVED_SPTE | (old_spte & SPTE_SHARED_MASK);

		/* From the freeze to the final store or the rollback. */
		tdp_shape_begin(kvm, iter->level);
		if (!tdp_mmu_spte_cmpxchg(iter->sptep, true, &old_spte, frozen, true)) {
			tdp_shape_end(kvm, iter->level);
			iter->old_spte = old_spte;
			kvm_stat_contention(kvm, &kvm_stats_mine(kvm)->retry_cmpxchg);
			return -EBUSY;
		}
		KVM_SPTE_NOTE("mirror", iter->gfn, iter->level, iter->old_spte, frozen);
		/* The freeze and the final store (or the rollback) are both
		 * changes: a fault that lost to them sees the sequence move. */
		kvm_mmu_change_seq_bump(kvm);
		ret = handle_changed_spte(kvm, true, iter->gfn, iter->old_spte,
					  new_spte, iter->level, true, false);
		if (ret) {
			KVM_SPTE_POINT(SCHED_SPTE_WRITE, SCHED_W, true, iter->sptep);
			atomic_store_explicit(iter->sptep, iter->old_spte,
					      memory_order_release);
			tdp_shape_end(kvm, iter->level);
			KVM_SPTE_NOTE("mirror", iter->gfn, iter->level, frozen,
				      iter->old_spte);
			kvm_mmu_change_seq_bump(kvm);
			if (ret == -EBUSY)
				kvm_stat_contention(kvm, &kvm_stats_mine(kvm)->retry_busy);
			return ret;
		}
		KVM_SPTE_POINT(SCHED_SPTE_WRITE, SCHED_W, true, iter->sptep);
		atomic_store_explicit(iter->sptep, new_spte, memory_order_release);
		tdp_shape_end(kvm, iter->level);
		KVM_SPTE_NOTE("mirror", iter->gfn, iter->level, frozen, new_spte);
		kvm_mmu_change_seq_bump(kvm);
	} else {
		bool won;

		tdp_shape_begin(kvm, iter->level);
		won = tdp_mmu_spte_cmpxchg(iter->sptep, iter->is_private, &old_spte,
					   new_spte, false);
		tdp_shape_end(kvm, iter->level);
		if (!won) {
			iter->old_spte = old_spte;
			kvm_stat_contention(kvm, &kvm_stats_mine(kvm)->retry_cmpxchg);
			return -EBUSY;
		}
		KVM_SPTE_NOTE(KVM_TDP_TREE(iter->is_private), iter->gfn, iter->level,
			      iter->old_spte, new_spte);
		kvm_mmu_change_seq_bump(kvm);
		/*
		 * MUTANT_NO_FREEZE with real threads (test_kvm_freeze_race.c):
		 * a private entry went straight to its final value, so another
		 * walker may go through it before the hook below reaches the
		 * module. Widen that window; there is no rollback either. (An
		 * exploration needs no widening: its schedule points are the
		 * window.)
		 */
		if (iter->is_private && mutant_on(MUTANT_NO_FREEZE) && !sched_enabled())
			sched_yield();
		ret = handle_changed_spte(kvm, iter->is_private, iter->gfn,
					  iter->old_spte, new_spte, iter->level,
					  true, false);
		if (ret)
			return ret;
	}
	iter->old_spte = new_spte;
	return 0;
}

/**
 * tdp_mmu_set_spte() - change an SPTE under the write lock
 * @kvm: the VM.
 * @iter: stands on the entry.
 * @new_spte: the value to install.
 * @leaf_blocked: a private leaf going away was already blocked and tracked
 *	(or needs not be); see tdp_mmu_zap_private_leaf().
 *
 * No other thread changes the tree, but the CPU may still set A/D bits in a
 * shared entry, so the store is an exchange and the bookkeeping sees the
 * real old value. The hooks run after the store; there is no rollback under
 * the write lock: a failed hook is a KVM_BUG and leaks.
 *
 * Context: mmu_lock held for write.
 *
 * Return: 0 or -EIO.
 */
static int tdp_mmu_set_spte(struct kvm *kvm, struct tdp_iter *iter,
			    uint64_t new_spte, bool leaf_blocked)
{
	uint64_t old_spte;

	kvm_lockdep_assert_held_write(kvm);
	KVM_SPTE_POINT(SCHED_SPTE_WRITE, SCHED_W, iter->is_private, iter->sptep);
	tdp_shape_begin(kvm, iter->level);
	old_spte = atomic_exchange(iter->sptep, new_spte);
	tdp_shape_end(kvm, iter->level);
	iter->old_spte = new_spte;
	if (old_spte != new_spte) {
		KVM_SPTE_NOTE(KVM_TDP_TREE(iter->is_private), iter->gfn, iter->level,
			      old_spte, new_spte);
		kvm_mmu_change_seq_bump(kvm);
	}
	/* Freezes live only inside a read-lock section. */
	if (is_removed_spte(old_spte)) {
		kvm_vm_bugged(kvm, "frozen SPTE at gfn 0x%llx under the write lock",
			      (unsigned long long)iter->gfn);
		return -EIO;
	}
	return handle_changed_spte(kvm, iter->is_private, iter->gfn, old_spte,
				   new_spte, iter->level, false, leaf_blocked);
}

/* ---- fault path ------------------------------------------------------------ */

/* A present entry pointing to a table (not a leaf). */
static inline bool is_table_spte(uint64_t spte, int level)
{
	return is_shadow_present_pte(spte) && !is_last_spte(spte, level);
}

/*
 * A table about to be linked below a 2M-level entry that carries
 * SPTE_SHARED_MASK (a whole 2M range converted to shared, hugepages ref
 * §7.4): its 512 4K entries take the S bit over, so that the alias state of
 * each GFN survives the change of granularity (E4 §6.5 keeps it at 4K from
 * then on). The page is not visible yet: plain stores.
 */
static void tdp_mmu_inherit_shared_bit(struct kvm_mmu_page *sp, uint64_t parent_spte)
{
	if (!(parent_spte & SPTE_SHARED_MASK) || is_shadow_present_pte(parent_spte))
		return;
	for (unsigned i = 0; i < SPTE_ENT_PER_PAGE; i++)
		atomic_store_explicit(&sp->spt[i], SHADOW_NONPRESENT_VALUE | SPTE_SHARED_MASK,
				      memory_order_relaxed);
}

/*
 * Whether a fault at gfn may map a 2M leaf (hugepages ref §2.1): the slot is
 * backed by 2M pages (the folio order, §2.1.2) and holds the whole 2M range
 * (a hugepages slot is 2M-aligned, so it always does; the test stays as the
 * disallow word's misalignment rule, §2.1.4), and for a private fault the TD
 * is runnable (the TDX hook, §2.1.3: PAGE.ADD is 4K only, §1.3). The alias
 * rule (no mixed attributes) and no-promotion (§2.1.5) are the walk's: a
 * table under the 2M entry sends the fault to 4K.
 */
static bool tdp_mmu_huge_allowed(const struct kvm *kvm, const struct host_memslot *slot,
				 gfn_t gfn, bool is_private)
{
	gfn_t base = gfn_round_for_level(gfn, PG_LEVEL_2M);

	if (!slot->hugepages || base < slot->base_gfn ||
	    base + KVM_PAGES_PER_HPAGE(PG_LEVEL_2M) > slot->base_gfn + slot->npages)
		return false;
	return !is_private || kvm->finalized;
}

/*
 * Links a new table below the non-present entry the iterator stands on
 * (tdp_mmu_link_sp). A private table takes its S-EPT twin from the vCPU's
 * cache; the atomic set fires SEPT.ADD. If the link fails the page was
 * never visible, so it is freed at once and the twin goes back to the cache
 * (the module did not take it), except after a KVM bug, when nobody knows
 * and it is leaked.
 */
static int tdp_mmu_link_new_sp(struct kvm *kvm, struct tdp_iter *iter,
			       struct kvm_mmu_memory_cache *sept_cache)
{
	struct kvm_mmu_page *sp;
	uint64_t new_spte;
	pfn_t twin = 0;
	int ret;

	sp = kvm_mmu_alloc_page(kvm, iter->level - 1, iter->is_private);
	if (!sp)
		return -ENOMEM;
	sp->gfn = iter->gfn;
	sp->parent = sptep_to_sp(iter->sptep);
	tdp_mmu_inherit_shared_bit(sp, iter->old_spte);
	if (iter->is_private) {
		if (sept_cache)
			twin = kvm_mmu_cache_take(sept_cache);
		if (!twin) {
			/* Callers top the cache up before taking mmu_lock. */
			tdp_mmu_free_sp(kvm, sp);
			return -ENOMEM;
		}
		kvm_mmu_init_private_spt(sp, pfn_to_hpa(twin));
	}

	new_spte = make_nonleaf_spte(kvm_mmu_page_pa(sp));
	ret = tdp_mmu_set_spte_atomic(kvm, iter, new_spte);
	/*
	 * Where the entry has no rollback (a shared entry, or a private one
	 * under MUTANT_NO_FREEZE), a handler that failed after the cmpxchg
	 * won leaves the table linked (the VM is bugged): it is the tree's
	 * now, and the teardown frees it with its S-EPT twin. Freeing it here
	 * freed a reachable page, which the teardown then freed again.
	 */
	if (ret && kvm_tdp_mmu_read_spte(iter->sptep) == new_spte)
		return ret;
	if (ret) {
		if (twin && ret == -EBUSY && sept_cache->nr < KVM_MMU_CACHE_CAP)
			sept_cache->frames[sept_cache->nr++] = twin;
		else if (twin && ret == -EBUSY)
			host_mem_free_frame(kvm->hm, twin);
		else if (twin)
			kvm_leak_page(kvm, pfn_to_hpa(twin), KVM_LEAK_KVM,
				      "S-EPT page of a failed SEPT.ADD");
		tdp_mmu_free_sp(kvm, sp);
	}
	return ret;
}

/*
 * The 4K entry: the §6.5 SPTE_SHARED_MASK rules, then the atomic set (which
 * fires set_private_spte for a private leaf).
 */
static __attribute__((always_inline)) inline int
tdp_mmu_map_handle_target_level(struct kvm *kvm, struct tdp_iter *iter, pfn_t pfn)
{
	uint64_t old_spte = iter->old_spte;
	uint64_t new_spte;
	int ret;

	/*
	 * Wrong alias: a private fault on a GFN converted to shared (NP|S), or
	 * a shared fault on a GFN that is private (no S). Nothing changes; the
	 * vCPU refaults until some vCPU's MapGPA converts the GFN (§6.5).
	 */
	if (iter->is_private == is_shared_spte(old_spte))
		return RET_PF_RETRY;

	if (is_shadow_present_pte(old_spte)) {
		if (spte_to_pfn(old_spte) == pfn)
			return RET_PF_SPURIOUS;
		kvm_vm_bugged(kvm, "gfn 0x%llx mapped to pfn 0x%llx, memslot says 0x%llx",
			      (unsigned long long)iter->gfn,
			      (unsigned long long)spte_to_pfn(old_spte),
			      (unsigned long long)pfn);
		return -EIO;
	}

	new_spte = make_spte(pfn, iter->level, iter->is_private, old_spte);
	if (new_spte == old_spte)
		return RET_PF_SPURIOUS;
	ret = tdp_mmu_set_spte_atomic(kvm, iter, new_spte);
	if (ret == -EBUSY)
		return RET_PF_RETRY;
	if (ret)
		return ret;
	return RET_PF_FIXED;
}

/*
 * Fault walk hints (issue 15, round 3). A leaf fault walks from the root to
 * a 4K entry, and the next fault walks to its neighbour through the same
 * tables: four levels of iterator steps, each re-reading an entry that has
 * not changed. A thread that owns its slot keeps, per VM, the tables of the
 * path its last 4K walk took (kvm->walk_hints), and kvm->tdp_shape as it
 * read it before and after that walk (the same, with no write in progress);
 * a later 4K walk of the same root and 2M range starts at the 4K entry in
 * the kept table while tdp_shape still reads the same.
 *
 * Why that is the walk from the root. Every write of an SPTE above 4K, in
 * either tree and by any path (the freeze, final store and rollback of
 * tdp_mmu_set_spte_atomic(), tdp_mmu_set_spte(), the link of a table, a
 * split, the unlink of an empty shared table, an S-bit write, the entries
 * of a removed table), counts itself in tdp_shape in progress before it and
 * done after (tdp_shape_begin/end). So a walk that reads the same value
 * again, none in progress, would read the entries above 4K the kept walk
 * read: present tables, not frozen, the same children, and its loop would
 * step down through each as that walk did. It starts where that walk ended;
 * what it reads there is what a walk from the root would read with its last
 * load. (The argument of the S-EPT walk hints, tdx/sept.c.)
 *
 * Why the table is still there. A table leaves the tree only by a write of
 * its parent entry (a shape change) and is freed after an RCU grace period;
 * the fault walks inside its read-side section, as a walk from the root
 * does.
 *
 * Not while exploring (a hinted walk has no schedule points for the levels
 * it skips, and the explorations enumerate those), and only for the 4K path
 * (a hugepages memslot walks from the root).
 */
static bool tdp_walk_hinted(struct kvm *kvm, struct kvm_mmu_page *root, gfn_t raw_gfn,
			    struct tdp_iter *iter)
{
	const struct kvm_tdp_walk_hint *h;

	if (!host_thread_slot_owned || sched_enabled())
		return false;
	h = &kvm->walk_hints[host_thread_slot()];
	if (h->root != root || h->gfn_2m != (raw_gfn >> 9) + 1 ||
	    h->shape != atomic_load_explicit(&kvm->tdp_shape, memory_order_acquire))
		return false;
	/* The iterator as the walk from the root leaves it on the 4K entry. */
	iter->next_last_level_gfn = raw_gfn;
	for (int l = 0; l < (int)root->role.level; l++)
		iter->pt_path[l] = h->pt_path[l];
	iter->root = root;
	iter->root_level = (int)root->role.level;
	iter->min_level = PG_LEVEL_4K;
	iter->is_private = is_private_sp(root);
	iter->skip_end = 0;
	iter->level = PG_LEVEL_4K;
	iter->gfn = raw_gfn;
	iter->sptep = iter->pt_path[0] + SPTE_INDEX(raw_gfn, PG_LEVEL_4K);
	iter->old_spte = kvm_tdp_mmu_read_spte(iter->sptep);
	iter->valid = true;
	return true;
}

/* A walk from the root reached the 4K entry, tdp_shape reading `shape`
 * before it: keep its tables if the shape read the same after. */
static void tdp_walk_hint_keep(struct kvm *kvm, const struct tdp_iter *iter, uint64_t shape)
{
	struct kvm_tdp_walk_hint *h;

	/* The seqlock's second read: the walk's loads were acquire loads,
	 * which no later load passes (tdx/sept.c says the same). */
	if (!host_thread_slot_owned || !shape_count_settled(shape) ||
	    atomic_load_explicit(&kvm->tdp_shape, memory_order_acquire) != shape)
		return;
	h = &kvm->walk_hints[host_thread_slot()];
	h->root = iter->root;
	h->gfn_2m = (iter->gfn >> 9) + 1;
	h->shape = shape;
	for (int l = 0; l < iter->root_level; l++)
		h->pt_path[l] = iter->pt_path[l];
}

/*
 * The walk and the target of a fault whose frame is known. `huge` is a
 * constant at each call: false for a 4K memslot (the seeds' path, which the
 * compiler specialises so that large pages cost the 4K fault nothing),
 * true for a hugepages memslot, where `goal` may be PG_LEVEL_2M.
 */
static __attribute__((always_inline)) inline int
tdp_mmu_map_walk(struct kvm *kvm, struct kvm_mmu_memory_cache *sept_cache,
		 struct kvm_mmu_page *root, gfn_t raw_gfn, gfn_t gfn, bool is_private,
		 pfn_t pfn, int goal, const bool huge)
{
	struct tdp_iter iter;
	uint64_t shape = 0;
	bool hints = !huge && !sched_enabled();
	int ret;

	KVM_TRACE(kvm, kvm_mmu_spte_requested, (raw_gfn, pfn, goal),
		  "gfn 0x%llx pfn 0x%llx level %d", (unsigned long long)raw_gfn,
		  (unsigned long long)pfn, goal);
	if (hints) {
		if (tdp_walk_hinted(kvm, root, raw_gfn, &iter)) {
			/* The loop's test at the 4K entry (goal): frozen, or
			 * the target. */
			if (is_removed_spte(iter.old_spte)) {
				kvm_stat_contention(kvm, &kvm_stats_mine(kvm)->retry_frozen);
				goto retry;
			}
			goto target;
		}
		shape = atomic_load_explicit(&kvm->tdp_shape, memory_order_acquire);
	}
	for_each_tdp_pte(iter, root, raw_gfn, raw_gfn + 1) {
		/* Another thread's SEAMCALL is in flight on this entry: its
		 * table (or leaf) is not in the S-EPT yet. Refault. */
		if (is_removed_spte(iter.old_spte)) {
			kvm_stat_contention(kvm, &kvm_stats_mine(kvm)->retry_frozen);
			goto retry;
		}
		if (iter.level == goal) {
			/* No promotion (hugepages ref §5.1): a table under
			 * the 2M entry sends the fault one level down. */
			if (!huge || goal == PG_LEVEL_4K ||
			    !is_table_spte(iter.old_spte, goal))
				break;
			goal = PG_LEVEL_4K;
			continue;
		}
		if (is_shadow_present_pte(iter.old_spte)) {
			if (is_large_pte(iter.old_spte)) {
				/*
				 * A 2M leaf above a 4K goal (a 4K ACCEPT's
				 * fault racing a new 2M map: its split ran
				 * before the fault): it maps this gfn, so
				 * the target is the leaf itself. Splitting
				 * is not for the read side (§4.2.2, §4.2.4).
				 */
				if (huge && iter.level == PG_LEVEL_2M)
					break;
				kvm_vm_bugged(kvm, "large SPTE at gfn 0x%llx level %d",
					      (unsigned long long)iter.gfn, iter.level);
				return -EIO;
			}
			continue; /* tdp_iter_next() steps down */
		}
		ret = tdp_mmu_link_new_sp(kvm, &iter, sept_cache);
		if (ret == -EBUSY)
			goto retry;
		if (ret)
			return ret;
	}
	if (!iter.valid || (iter.level != goal &&
			    !(huge && iter.level == PG_LEVEL_2M &&
			      is_large_pte(iter.old_spte))))
		goto retry;
	if (hints)
		tdp_walk_hint_keep(kvm, &iter, shape);
target:

	/* A 2M leaf maps the 2M-aligned run of frames (the slot is
	 * 2M-aligned in gfn and pfn: hugepages ref §7.1). */
	if (huge && iter.level > PG_LEVEL_4K)
		pfn -= gfn & (KVM_PAGES_PER_HPAGE(iter.level) - 1);
	ret = tdp_mmu_map_handle_target_level(kvm, &iter, pfn);
	if (ret == RET_PF_RETRY)
		goto retry;
	if (ret == RET_PF_SPURIOUS)
		kvm_stat_inc(&kvm_stats_mine(kvm)->fault_spurious);
	if (huge && ret == RET_PF_FIXED && iter.level == PG_LEVEL_2M)
		kvm_stat_inc(is_private ? &kvm_stats_mine(kvm)->leaf2m_private
					: &kvm_stats_mine(kvm)->leaf2m_shared);
	return ret;

retry:
	kvm_stat_inc(&kvm_stats_mine(kvm)->fault_retry);
	return RET_PF_RETRY;
}

/* A fault in a hugepages memslot (out of the 4K path's way). */
static __attribute__((noinline)) int
tdp_mmu_map_huge(struct kvm *kvm, struct kvm_mmu_memory_cache *sept_cache,
		 struct kvm_mmu_page *root, gfn_t raw_gfn, gfn_t gfn, bool is_private,
		 pfn_t pfn, const struct host_memslot *slot, int max_level)
{
	/* E4: tdp_max_page_level is 4K for TDs. E8 (hugepages ref §2.1):
	 * 2M where the slot and the TD allow it, and the exit's ACCEPT level
	 * (max_level) does not ask for less (§2.2). */
	int goal = max_level >= PG_LEVEL_2M &&
		   tdp_mmu_huge_allowed(kvm, slot, gfn, is_private) ?
		   PG_LEVEL_2M : PG_LEVEL_4K;

	return tdp_mmu_map_walk(kvm, sept_cache, root, raw_gfn, gfn, is_private, pfn,
				goal, true);
}

static int __kvm_tdp_mmu_map(struct kvm *kvm, struct kvm_mmu_memory_cache *sept_cache,
			     gpa_t gpa, int max_level)
{
	bool is_private = kvm_is_private_gpa(kvm, gpa);
	struct kvm_mmu_page *root = is_private ? kvm->private_root : kvm->shared_root;
	/* The walk uses the raw gfn (shared bit included, §2.3); the memslot
	 * lookup the gfn without it: both aliases share one memslot. */
	gfn_t raw_gfn = gpa >> PAGE_SHIFT;
	gfn_t gfn = kvm_gfn_private(kvm, raw_gfn);
	struct host_memslot slot;
	pfn_t pfn;

	/* fault.private / fault.shared count EPT-violation exits, so the exit
	 * handler counts them, not this path: KVM_TDX_INIT_MEM_REGION runs it
	 * too without any exit. */
	kvm_lockdep_assert_held_read(kvm);
	if (kvm_is_bugged(kvm))
		return -EIO;
	if (!root || raw_gfn >= tdp_root_gfn_end((int)root->role.level) ||
	    raw_gfn > (kvm->gfn_shared_mask << 1) - 1)
		return -EFAULT;

	if (!host_memslot_find(kvm->slots, gfn, &slot))
		return is_private ? -EFAULT : RET_PF_EMULATE;
	/* Before the walk links anything: -ENOMEM here leaves no trace. */
	if (kvm_faultin_pfn(kvm, &slot, gfn, &pfn))
		return -ENOMEM;
	if (__builtin_expect(slot.hugepages, 0))
		return tdp_mmu_map_huge(kvm, sept_cache, root, raw_gfn, gfn, is_private,
					pfn, &slot, max_level);
	return tdp_mmu_map_walk(kvm, sept_cache, root, raw_gfn, gfn, is_private, pfn,
				PG_LEVEL_4K, false);
}

int kvm_tdp_mmu_map_level(struct kvm *kvm, struct kvm_mmu_memory_cache *sept_cache,
			  gpa_t gpa, int max_level)
{
	int ret;

	/* KVM's kvm_tdp_mmu_map walks inside rcu_read_lock(). */
	host_rcu_read_lock();
	ret = __kvm_tdp_mmu_map(kvm, sept_cache, gpa, max_level);
	host_rcu_read_unlock();
	return ret;
}

int kvm_tdp_mmu_map(struct kvm *kvm, struct kvm_mmu_memory_cache *sept_cache,
		    gpa_t gpa)
{
	return kvm_tdp_mmu_map_level(kvm, sept_cache, gpa, PG_LEVEL_2M);
}

/* ---- zaps ------------------------------------------------------------------ */

static bool is_present_4k_leaf(const struct tdp_iter *iter)
{
	return iter->level == PG_LEVEL_4K && is_shadow_present_pte(iter->old_spte);
}

/* A present leaf at any level: 4K, or a 2M leaf (hugepages ref §6: zaps
 * and teardown remove 2M leaves whole). */
static bool is_present_leaf(const struct tdp_iter *iter)
{
	return is_shadow_present_pte(iter->old_spte) &&
	       is_last_spte(iter->old_spte, iter->level);
}

/*
 * First pass of a private zap, E2 batching (§5.8): RANGE.BLOCK every present
 * 4K leaf of [start, end). Only once finalized and with the HKID assigned:
 * before finalize no vCPU ever ran (PAGE.REMOVE takes a MAPPED page
 * directly), without the HKID the leaves are RECLAIMed. The caller flushes
 * once (kvm_flush_remote_tlbs: TRACK + kick) for everything it blocked, then
 * removes. *nr_blocked is incremented per leaf blocked.
 *
 * Return: 0 (*stop = end), or the BLOCK error with *stop = the gfn that could
 * not be blocked: the leaves before it are blocked, the rest untouched.
 */
static int tdp_mmu_block_private_leafs(struct kvm *kvm, struct kvm_mmu_page *root,
				       gfn_t start, gfn_t end, gfn_t *stop,
				       int *nr_blocked)
{
	struct tdp_iter iter;

	*stop = end;
	if (!kvm->finalized || !kvm->hkid_assigned)
		return 0;
	for_each_tdp_pte_nonempty(iter, root, start, end) {
		int r;

		if (!is_present_leaf(&iter))
			continue;
		/* A 2M leaf reaching past the range was split first
		 * (kvm_tdp_mmu_split_boundaries(), MapGPA's populate): a
		 * private leaf is never over-zapped (hugepages ref §4.1.6). */
		if (iter.gfn < start || iter.gfn + KVM_PAGES_PER_HPAGE(iter.level) > end) {
			kvm_vm_bugged(kvm, "private %s leaf at gfn 0x%llx crosses the zap range [0x%llx, 0x%llx)",
				      iter.level == PG_LEVEL_2M ? "2M" : "large",
				      (unsigned long long)iter.gfn, (unsigned long long)start,
				      (unsigned long long)end);
			*stop = iter.gfn;
			return -EIO;
		}
		r = tdx_sept_zap_private_spte(kvm, iter.gfn, iter.level);
		if (r) {
			*stop = iter.gfn;
			return r;
		}
		(*nr_blocked)++;
	}
	return 0;
}

/*
 * The flush between the two passes. Without the TRACK, REMOVE would fail,
 * so none is tried: the blocked pages stay in the TD and in the mirror (the
 * VM is bugged), and teardown takes them back from there.
 *
 * The guard: TRACK advances the TD epoch after the BLOCKs, and the kick
 * sends every vCPU out, so that when REMOVE runs no vCPU can still hold a
 * translation of a blocked page (the module checks the epoch and answers
 * TDX_TLB_TRACKING_NOT_DONE otherwise). MUTANT_NO_TRACK removes the whole
 * flush (TRACK, its kick, the shared-EPT flush request that rides on it):
 * REMOVE follows BLOCK with no epoch advance, and KVM treats the module's
 * refusal as it treats any unexpected error (KVM_BUG_ON: the VM is bugged).
 */
static int tdp_mmu_flush_blocked(struct kvm *kvm, int nr_blocked)
{
	if (!nr_blocked || mutant_on(MUTANT_NO_TRACK))
		return 0;
	return kvm_flush_remote_tlbs(kvm);
}

/*
 * Private leaves of [start, end), E2 batching (§5.8): BLOCK every present
 * leaf, one flush for all of them, then REMOVE each. Between the passes the
 * write lock keeps the mirror unchanged; the S-EPT holds the leaves BLOCKED
 * (no new TLB entries), and after the TRACK no vCPU holds an old one, which
 * is what PAGE.REMOVE checks.
 */
static int tdp_mmu_zap_private_leafs(struct kvm *kvm, struct kvm_mmu_page *root,
				     gfn_t start, gfn_t end, bool keep_shared_bit)
{
	gfn_t remove_end;
	struct tdp_iter iter;
	int nr_blocked = 0, nr = 0, ret, r;

	/* On a BLOCK failure, remove what was blocked; the rest stays. */
	ret = tdp_mmu_block_private_leafs(kvm, root, start, end, &remove_end,
					  &nr_blocked);
	r = tdp_mmu_flush_blocked(kvm, nr_blocked);
	if (r)
		return r;

	for_each_tdp_pte_nonempty(iter, root, start, remove_end) {
		uint64_t new_spte;

		if (!is_present_leaf(&iter))
			continue;
		new_spte = keep_shared_bit ? shadow_nonpresent_spte(iter.old_spte)
					   : SHADOW_NONPRESENT_VALUE;
		r = tdp_mmu_set_spte(kvm, &iter, new_spte, true);
		nr++;
		if (r && !ret)
			ret = r;
	}
	return ret ? ret : nr;
}

int kvm_tdp_mmu_zap_leafs(struct kvm *kvm, bool private_root, gfn_t start,
			  gfn_t end, bool keep_shared_bit)
{
	struct kvm_mmu_page *root = private_root ? kvm->private_root : kvm->shared_root;
	struct tdp_iter iter;
	int nr = 0, ret = 0;

	kvm_lockdep_assert_held_write(kvm);
	if (!root)
		return 0;
	/* kvm_gfn_for_root (§2.3): ranges arrive without the shared bit. */
	if (end > kvm->gfn_shared_mask)
		end = kvm->gfn_shared_mask;
	if (start >= end)
		return 0;
	if (private_root)
		return tdp_mmu_zap_private_leafs(kvm, root, start, end,
						 keep_shared_bit);

	start += kvm->gfn_shared_mask;
	end += kvm->gfn_shared_mask;
	for_each_tdp_pte_nonempty(iter, root, start, end) {
		uint64_t new_spte;
		int r;

		/* E4 zaps 4K only, so the S bits, which live at 4K, survive.
		 * A shared 2M leaf is zapped whole even where the range
		 * covers part of it (a shared page is refaulted from the
		 * memslot, nothing is lost: KVM zaps huge SPTEs whole), and
		 * keeps the S bit it carries for its 2M range. */
		if (!is_present_leaf(&iter))
			continue;
		new_spte = keep_shared_bit ? shadow_nonpresent_spte(iter.old_spte)
					   : SHADOW_NONPRESENT_VALUE;
		r = tdp_mmu_set_spte(kvm, &iter, new_spte, false);
		nr++;
		if (r && !ret)
			ret = r;
	}
	/* vCPUs may hold the shared translations in their TLBs. */
	if (nr) {
		int r = kvm_flush_remote_tlbs(kvm);

		if (r && !ret)
			ret = r;
	}
	return ret ? ret : nr;
}

/* Every entry plain SHADOW_NONPRESENT_VALUE: nothing mapped, no S bit, no
 * frozen entry. Under the write lock nothing changes it while we look. */
static bool tdp_mmu_table_is_empty(const _Atomic uint64_t *pt)
{
	for (unsigned i = 0; i < SPTE_ENT_PER_PAGE; i++) {
		/* The CPU may be reading (never writing) a non-present entry. */
		KVM_SPTE_POINT(SCHED_SPTE_READ, SCHED_R, false, &pt[i]);
		if (atomic_load_explicit(&pt[i], memory_order_relaxed) !=
		    SHADOW_NONPRESENT_VALUE)
			return false;
	}
	return true;
}

/*
 * Post-order over the part of sp's table inside [start, end): children
 * first, so that a table whose children were all freed is seen empty.
 * Returns 0 or -EIO; *nr += tables unlinked.
 */
static int tdp_mmu_free_empty_tables_in(struct kvm *kvm, struct kvm_mmu_page *sp,
					gfn_t start, gfn_t end, int *nr)
{
	int level = (int)sp->role.level;
	uint64_t span = KVM_PAGES_PER_HPAGE(level);
	gfn_t first = start > sp->gfn ? start : sp->gfn;
	gfn_t table_end = sp->gfn + SPTE_ENT_PER_PAGE * span;
	gfn_t last = end < table_end ? end : table_end;

	if (level == PG_LEVEL_4K || first >= last)
		return 0;
	for (uint64_t i = (first - sp->gfn) / span;
	     i < SPTE_ENT_PER_PAGE && sp->gfn + i * span < last; i++) {
		_Atomic uint64_t *sptep = sp->spt + i;
		uint64_t old_spte;
		gfn_t gfn = sp->gfn + i * span;
		struct kvm_mmu_page *child;
		int r;

		KVM_SPTE_POINT(SCHED_SPTE_READ, SCHED_R, false, sptep);
		old_spte = kvm_tdp_mmu_read_spte(sptep);

		if (!is_shadow_present_pte(old_spte) || is_large_pte(old_spte))
			continue;
		child = sptep_to_sp(spte_to_child_pt(old_spte, level));
		r = tdp_mmu_free_empty_tables_in(kvm, child, start, end, nr);
		if (r)
			return r;
		/* A table that also maps gfns outside the range stays. */
		if (gfn < start || gfn + span > end ||
		    !tdp_mmu_table_is_empty(child->spt))
			continue;
		/*
		 * Unlink, then handle_removed_pt() frees the page after a
		 * grace period: the CPU may be walking through this entry
		 * right now (no KVM lock stops it), and sees either the old
		 * table, still intact, or the non-present entry.
		 */
		KVM_SPTE_POINT(SCHED_SPTE_WRITE, SCHED_W, false, sptep);
		tdp_shape_begin(kvm, level);
		atomic_store_explicit(sptep, SHADOW_NONPRESENT_VALUE,
				      memory_order_release);
		tdp_shape_end(kvm, level);
		KVM_SPTE_NOTE("shared EPT", gfn, level, old_spte, SHADOW_NONPRESENT_VALUE);
		kvm_mmu_change_seq_bump(kvm);
		r = handle_changed_spte(kvm, false, gfn, old_spte,
					SHADOW_NONPRESENT_VALUE, level, false, false);
		if (r)
			return r;
		(*nr)++;
	}
	return 0;
}

int kvm_tdp_mmu_free_empty_shared_tables(struct kvm *kvm, gfn_t start, gfn_t end)
{
	struct kvm_mmu_page *root = kvm->shared_root;
	int nr = 0, ret;

	kvm_lockdep_assert_held_write(kvm);
	if (!root)
		return 0;
	if (end > kvm->gfn_shared_mask)
		end = kvm->gfn_shared_mask;
	if (start >= end)
		return 0;
	ret = tdp_mmu_free_empty_tables_in(kvm, root, start + kvm->gfn_shared_mask,
					   end + kvm->gfn_shared_mask, &nr);
	/* The paging-structure caches of every vCPU may hold the unlinked
	 * tables: flush (TRACK + kick) while the caller's read-side section
	 * still holds the grace period back. */
	if (nr) {
		int r = kvm_flush_remote_tlbs(kvm);

		if (r && !ret)
			ret = r;
	}
	return ret ? ret : nr;
}

int kvm_tdp_mmu_zap_all_private_leaves(struct kvm *kvm)
{
	kvm_lockdep_assert_held_write(kvm);
	return kvm_tdp_mmu_zap_leafs(kvm, true, 0, kvm->gfn_shared_mask, true);
}

/* ---- MapGPA (E4 §6.3, §6.4) ----------------------------------------------- */

/*
 * Links a new table below the non-present entry the iterator stands on, with
 * the write lock held (MapGPA pre-population, E4 kvm_tdp_mmu_populate_nonleaf
 * with the non-atomic set). The hook runs first and the entry is published
 * after it succeeded (as upstream's set_external_spte_present() does), so the
 * mirror never shows a table the S-EPT lacks and a BUSY SEPT.ADD needs no
 * undo: nobody else walks or changes the private tree while we hold the
 * write lock, and the CPU never writes a non-present entry.
 *
 * Return: 0; -EAGAIN: a private table needs an S-EPT page and the cache is
 * empty (nothing done); -EBUSY: SEPT.ADD answered BUSY (nothing done, the
 * twin back in the cache); -ENOMEM; -EIO (KVM bug; the twin leaked, since
 * nobody knows whether the module holds it).
 */
/* Splits and the links they make run under the write side of mmu_lock
 * (hugepages ref §4.2); MUTANT_SPLIT_READ_LOCK runs the ACCEPT-level one
 * under the read side (read_side), and only that one: MapGPA's
 * pre-population and the zap's boundary splits keep the write side, mutant
 * or not. Whether a split is on the read side is its caller's to say
 * (kvm_tdp_mmu_accept_split()), never the mutant's alone: asked of the
 * mutant, a MapGPA under it took the read side's paths while holding the
 * write lock (a lockdep abort in debug builds; otherwise a shared 2M
 * leaf's split killed the VM for an S-bit change "under the read lock"). */
static void tdp_mmu_assert_split_lock(struct kvm *kvm, bool read_side)
{
	if (read_side)
		kvm_lockdep_assert_held_read(kvm);
	else
		kvm_lockdep_assert_held_write(kvm);
}

static int tdp_mmu_link_sp_locked(struct kvm *kvm, struct tdp_iter *iter,
				  struct kvm_mmu_memory_cache *sept_cache)
{
	struct kvm_mmu_page *sp;
	uint64_t new_spte;
	pfn_t twin = 0;
	int ret;

	kvm_lockdep_assert_held_write(kvm);
	if (iter->is_private && (!sept_cache || !sept_cache->nr))
		return -EAGAIN;
	sp = kvm_mmu_alloc_page(kvm, iter->level - 1, iter->is_private);
	if (!sp)
		return -ENOMEM;
	sp->gfn = iter->gfn;
	sp->parent = sptep_to_sp(iter->sptep);
	tdp_mmu_inherit_shared_bit(sp, iter->old_spte);
	if (iter->is_private) {
		twin = kvm_mmu_cache_take(sept_cache);
		kvm_mmu_init_private_spt(sp, pfn_to_hpa(twin));
	}

	new_spte = make_nonleaf_spte(kvm_mmu_page_pa(sp));
	ret = handle_changed_spte(kvm, iter->is_private, iter->gfn, iter->old_spte,
				  new_spte, iter->level, false, false);
	if (ret) {
		if (twin && ret == -EBUSY)
			sept_cache->frames[sept_cache->nr++] = twin;
		else if (twin)
			kvm_leak_page(kvm, pfn_to_hpa(twin), KVM_LEAK_KVM,
				      "S-EPT page of a failed SEPT.ADD");
		tdp_mmu_free_sp(kvm, sp);
		return ret;
	}
	KVM_SPTE_POINT(SCHED_SPTE_WRITE, SCHED_W, iter->is_private, iter->sptep);
	tdp_shape_begin(kvm, iter->level);
	atomic_store_explicit(iter->sptep, new_spte, memory_order_release);
	tdp_shape_end(kvm, iter->level);
	KVM_SPTE_NOTE(KVM_TDP_TREE(iter->is_private), iter->gfn, iter->level,
		      iter->old_spte, new_spte);
	iter->old_spte = new_spte;
	kvm_mmu_change_seq_bump(kvm);
	return 0;
}

/*
 * tdp_mmu_split_2m_locked() - make the 2M-level entry the iterator stands on
 * a table, keeping everything it maps (hugepages ref §4, write lock)
 *
 *  - a table already: nothing to do;
 *  - non-present (with or without the S bit of its whole range): link an
 *    empty table whose entries inherit the S bit (tdp_mmu_link_sp_locked());
 *  - a present private 2M leaf: §4.4 steps 2-4: a new table and its S-EPT
 *    twin from @sept_cache, filled with 512 4K leaves (pfn + i) before it is
 *    linked (these writes bypass the change handler, §4.4.3), then the one
 *    transition leaf -> table through handle_changed_spte(), whose split hook
 *    issues BLOCK, TRACK + kick, DEMOTE (§4.3). The hook runs before the
 *    entry is published, as in tdp_mmu_link_sp_locked(): on failure the
 *    mirror still shows the leaf the S-EPT has (§8.6: restore on failure);
 *  - a present shared 2M leaf: the same table of 4K leaves, each keeping
 *    the S bit, with no SEAMCALL; the translations are unchanged, so no
 *    flush either.
 * Mirror tables are never freed while the TD runs (§4.4.5), and faults do
 * not promote (§5): a split range stays 4K.
 *
 * Return: 0; -EAGAIN: a private table needs an S-EPT page and the cache is
 * empty (nothing done); -EBUSY: SEPT.ADD busy (nothing done); -ENOMEM;
 * -EIO (KVM bug).
 */
static int tdp_mmu_split_2m_locked(struct kvm *kvm, struct tdp_iter *iter,
				   struct kvm_mmu_memory_cache *sept_cache, bool read_side)
{
	uint64_t old_spte = iter->old_spte, new_spte;
	struct kvm_mmu_page *sp;
	pfn_t twin = 0, pfn;
	int ret;

	tdp_mmu_assert_split_lock(kvm, read_side);
	if (iter->level != PG_LEVEL_2M || is_removed_spte(old_spte)) {
		kvm_vm_bugged(kvm, "split: gfn 0x%llx level %d spte 0x%llx",
			      (unsigned long long)iter->gfn, iter->level,
			      (unsigned long long)old_spte);
		return -EIO;
	}
	if (is_table_spte(old_spte, iter->level))
		return 0;
	/* MUTANT_SPLIT_READ_LOCK: the read side's atomic link (a fault may
	 * race it), as a read-lock split would have to. */
	if (!is_shadow_present_pte(old_spte))
		return read_side ? tdp_mmu_link_new_sp(kvm, iter, sept_cache) :
				   tdp_mmu_link_sp_locked(kvm, iter, sept_cache);

	if (iter->is_private && (!sept_cache || !sept_cache->nr))
		return -EAGAIN;
	sp = kvm_mmu_alloc_page(kvm, PG_LEVEL_4K, iter->is_private);
	if (!sp)
		return -ENOMEM;
	sp->gfn = iter->gfn;
	sp->parent = sptep_to_sp(iter->sptep);
	if (iter->is_private) {
		twin = kvm_mmu_cache_take(sept_cache);
		kvm_mmu_init_private_spt(sp, pfn_to_hpa(twin));
	}
	pfn = spte_to_pfn(old_spte);
	for (unsigned i = 0; i < SPTE_ENT_PER_PAGE; i++)
		atomic_store_explicit(&sp->spt[i],
				      make_spte(pfn + i, PG_LEVEL_4K, iter->is_private, old_spte),
				      memory_order_relaxed);

	new_spte = make_nonleaf_spte(kvm_mmu_page_pa(sp));
	/* MUTANT_SPLIT_READ_LOCK: freeze, split hook, store (or restore),
	 * the read side's atomic update. */
	if (read_side)
		ret = tdp_mmu_set_spte_atomic(kvm, iter, new_spte);
	else
		ret = handle_changed_spte(kvm, iter->is_private, iter->gfn, old_spte,
					  new_spte, iter->level, false, false);
	if (ret) {
		/* -EBUSY (MUTANT_SPLIT_READ_LOCK only): DEMOTE did not take
		 * the page and UNBLOCK undid the BLOCK: back to the cache. */
		if (twin && ret == -EBUSY && sept_cache->nr < KVM_MMU_CACHE_CAP) {
			sept_cache->frames[sept_cache->nr++] = twin;
			twin = 0;
		}
		/* The VM is bugged: nobody knows whether DEMOTE took the
		 * page (it answered an error, so it did not, but BLOCK may
		 * have left the leaf blocked): the twin is leaked. */
		if (twin)
			kvm_leak_page(kvm, pfn_to_hpa(twin), KVM_LEAK_KVM,
				      "S-EPT page of a failed DEMOTE");
		tdp_mmu_free_sp(kvm, sp);
		return ret;
	}
	if (!read_side) {
		KVM_SPTE_POINT(SCHED_SPTE_WRITE, SCHED_W, iter->is_private, iter->sptep);
		tdp_shape_begin(kvm, iter->level);
		atomic_store_explicit(iter->sptep, new_spte, memory_order_release);
		tdp_shape_end(kvm, iter->level);
		KVM_SPTE_NOTE(KVM_TDP_TREE(iter->is_private), iter->gfn, iter->level,
			      old_spte, new_spte);
		iter->old_spte = new_spte;
		kvm_mmu_change_seq_bump(kvm);
	}
	if (!iter->is_private)
		kvm_stat_inc(&kvm_stats_mine(kvm)->split_shared);
	return 0;
}

/*
 * The 2M-level entry of @root at @gfn (a gfn of that tree), read under the
 * write lock; SHADOW_NONPRESENT_VALUE when the walk ends above it.
 */
static uint64_t tdp_mmu_read_2m(struct kvm_mmu_page *root, gfn_t gfn)
{
	_Atomic uint64_t *pt = root->spt;
	int level = (int)root->role.level;

	if (gfn >= tdp_root_gfn_end(level))
		return SHADOW_NONPRESENT_VALUE;
	for (;;) {
		uint64_t spte = kvm_tdp_mmu_read_spte(pt + SPTE_INDEX(gfn, level));

		if (level == PG_LEVEL_2M)
			return spte;
		pt = spte_to_child_pt(spte, level);
		if (!pt)
			return SHADOW_NONPRESENT_VALUE;
		level--;
	}
}

/*
 * MapGPA over a whole 2M chunk of a hugepages memslot whose two 2M-level
 * entries have no table below: the conversion is done at 2M, with the S bit
 * of the 2M-level entries (a whole 2M range flips at once, hugepages ref
 * §7.4: the range stays one alias, so a 2M leaf may map it). Otherwise
 * (part of the chunk, a table on either side, a 4K memslot) both trees go to
 * 4K there, splitting what is mapped at 2M (§4.1.1, §4.5 step 2), and the
 * seeds' 4K rules apply. The same answer for both trees, whichever is
 * populated first: a table made on one side makes the chunk 4K for both.
 */
static bool tdp_mmu_chunk_converts_at_2m(struct kvm *kvm, gfn_t gfn, gfn_t start,
					 gfn_t end)
{
	struct host_memslot slot;

	if (gfn < start || gfn + KVM_PAGES_PER_HPAGE(PG_LEVEL_2M) > end)
		return false;
	if (!host_memslot_find(kvm->slots, gfn, &slot) || !slot.hugepages)
		return false;
	return !is_table_spte(tdp_mmu_read_2m(kvm->private_root, gfn), PG_LEVEL_2M) &&
	       !is_table_spte(tdp_mmu_read_2m(kvm->shared_root, gfn | kvm->gfn_shared_mask),
			      PG_LEVEL_2M);
}

/*
 * MapGPA's pre-population (allow_huge) and the ACCEPT-level split (not):
 * every table above 4K over [start, end) (tree gfns), 2M-level entries
 * split or left whole as tdp_mmu_chunk_converts_at_2m() decides. read_side:
 * the ACCEPT-level split under MUTANT_SPLIT_READ_LOCK (mmu_lock held for
 * read), see tdp_mmu_assert_split_lock().
 */
static int tdp_mmu_populate(struct kvm *kvm, struct kvm_mmu_page *root, gfn_t start,
			    gfn_t end, struct kvm_mmu_memory_cache *sept_cache,
			    bool allow_huge, bool read_side)
{
	struct tdp_iter iter;

	/* Down to the entries that point to 4K tables (min level 2M): every
	 * 4K entry of the range then exists for the flip. */
	for_each_tdp_pte_min_level(iter, root, PG_LEVEL_2M, start, end) {
		int ret;

		/* MUTANT_SPLIT_READ_LOCK: under the read side a fault may own
		 * the entry (frozen, its SEAMCALL in flight): back off and
		 * retry, as every read-side path does. */
		if (is_removed_spte(iter.old_spte) && read_side)
			return -EBUSY;
		if (is_removed_spte(iter.old_spte) ||
		    (iter.level > PG_LEVEL_2M && is_shadow_present_pte(iter.old_spte) &&
		     is_large_pte(iter.old_spte))) {
			/* Frozen under the write lock, or a 1G leaf (never
			 * made, hugepages ref §1.1; v7 WARNs and returns
			 * -ENOSYS). */
			kvm_vm_bugged(kvm, "populate (MapGPA, ACCEPT split): gfn 0x%llx level %d spte 0x%llx",
				      (unsigned long long)iter.gfn, iter.level,
				      (unsigned long long)iter.old_spte);
			return -EIO;
		}
		if (is_table_spte(iter.old_spte, iter.level))
			continue;
		if (iter.level == PG_LEVEL_2M) {
			gfn_t gfn = kvm_gfn_private(kvm, iter.gfn);

			if (allow_huge &&
			    tdp_mmu_chunk_converts_at_2m(kvm, gfn, kvm_gfn_private(kvm, start),
							 kvm_gfn_private(kvm, end - 1) + 1))
				continue;
			ret = tdp_mmu_split_2m_locked(kvm, &iter, sept_cache, read_side);
		} else if (read_side) {
			ret = tdp_mmu_link_new_sp(kvm, &iter, sept_cache);
		} else {
			ret = tdp_mmu_link_sp_locked(kvm, &iter, sept_cache);
		}
		if (ret)
			return ret;
	}
	return 0;
}

int kvm_tdp_mmu_populate_nonleaf(struct kvm *kvm, bool private_root, gfn_t start,
				 gfn_t end, struct kvm_mmu_memory_cache *sept_cache)
{
	struct kvm_mmu_page *root = private_root ? kvm->private_root : kvm->shared_root;

	kvm_lockdep_assert_held_write(kvm);
	if (!root)
		return -EINVAL;
	if (end > kvm->gfn_shared_mask)
		end = kvm->gfn_shared_mask;
	if (start >= end)
		return 0;
	if (!private_root) {
		start += kvm->gfn_shared_mask;
		end += kvm->gfn_shared_mask;
	}
	return tdp_mmu_populate(kvm, root, start, end, sept_cache, true, false);
}

/*
 * The 2M chunks holding start and end - 1, where the range cuts them: a
 * private 2M leaf there is split before a zap of [start, end) (hugepages ref
 * §4.1.2, §4.5 step 2: removing accepted private memory destroys it, so a
 * partial zap never over-zaps a private leaf). Shared leaves are zapped whole
 * instead (kvm_tdp_mmu_zap_leafs()).
 */
int kvm_tdp_mmu_split_boundaries(struct kvm *kvm, gfn_t start, gfn_t end,
				 struct kvm_mmu_memory_cache *sept_cache)
{
	const gfn_t huge = KVM_PAGES_PER_HPAGE(PG_LEVEL_2M);
	gfn_t cut[2] = { start, end };

	kvm_lockdep_assert_held_write(kvm);
	if (!kvm->private_root || start >= end)
		return 0;
	for (unsigned i = 0; i < 2; i++) {
		gfn_t gfn = gfn_round_for_level(cut[i], PG_LEVEL_2M);
		struct tdp_iter iter;

		if (cut[i] == gfn || gfn >= kvm->gfn_shared_mask)
			continue;
		for_each_tdp_pte_min_level(iter, kvm->private_root, PG_LEVEL_2M, gfn,
					   gfn + huge) {
			int ret;

			if (iter.level != PG_LEVEL_2M)
				continue;
			if (!is_shadow_present_pte(iter.old_spte) ||
			    !is_large_pte(iter.old_spte))
				break;
			ret = tdp_mmu_split_2m_locked(kvm, &iter, sept_cache, false);
			if (ret == -EAGAIN)
				ret = -ENOMEM;
			if (ret)
				return ret;
			break;
		}
	}
	return 0;
}

bool kvm_tdp_mmu_range_cuts_huge(struct kvm *kvm, gfn_t start, gfn_t end)
{
	const gfn_t mask = KVM_PAGES_PER_HPAGE(PG_LEVEL_2M) - 1;
	struct host_memslot slot;

	if (start >= end)
		return false;
	if ((start & mask) && host_memslot_find(kvm->slots, start, &slot) &&
	    slot.hugepages)
		return true;
	return (end & mask) && host_memslot_find(kvm->slots, end - 1, &slot) &&
	       slot.hugepages;
}

/*
 * The ACCEPT-level split (hugepages ref §2.2.3 step 4): mmu_lock held for
 * write; a private mapping larger than 4K over gpa's 2M range is split, and
 * the range gets its 4K table (the guest-inhibit flag of §2.2.3: in the
 * model the mirror table itself, which is never freed while the TD runs
 * (§4.4.5), so the flag is one-way as §2.2.4 asks, and the fault path's
 * no-promotion rule is what makes later faults there 4K).
 */
int kvm_tdp_mmu_accept_split(struct kvm *kvm, gfn_t gfn,
			     struct kvm_mmu_memory_cache *sept_cache)
{
	gfn_t start = gfn_round_for_level(gfn, PG_LEVEL_2M);
	/* The caller (tdx_exit.c) takes the read side under the mutant. */
	bool read_side = mutant_on(MUTANT_SPLIT_READ_LOCK);

	tdp_mmu_assert_split_lock(kvm, read_side);
	if (!kvm->private_root)
		return -EINVAL;
	return tdp_mmu_populate(kvm, kvm->private_root, start,
				start + KVM_PAGES_PER_HPAGE(PG_LEVEL_2M), sept_cache, false,
				read_side);
}

bool kvm_tdp_mmu_accept_inhibited(struct kvm *kvm, gfn_t gfn)
{
	bool ret;

	/* Lockless (§2.2.3 step 3): a table, once linked, stays while the
	 * TD runs. */
	host_rcu_read_lock();
	ret = kvm->private_root &&
	      is_table_spte(tdp_mmu_read_2m(kvm->private_root, gfn), PG_LEVEL_2M);
	host_rcu_read_unlock();
	return ret;
}

/*
 * E4 raw write: a plain store of the entry with SPTE_SHARED_MASK set or
 * cleared, no handler, no hook (§6.4: "used only for changes to the software
 * bit"). An atomic OR/AND rather than a store of old|S: the CPU may set A/D
 * bits in a present shared leaf meanwhile, and those must not be lost.
 */
static void tdp_mmu_write_shared_bit(struct kvm *kvm, struct tdp_iter *iter,
				     bool set)
{
	uint64_t old_spte;

	KVM_SPTE_POINT(SCHED_SPTE_WRITE, SCHED_W, iter->is_private, iter->sptep);
	tdp_shape_begin(kvm, iter->level);
	if (set) {
		old_spte = atomic_fetch_or(iter->sptep, SPTE_SHARED_MASK);
		iter->old_spte = old_spte | SPTE_SHARED_MASK;
	} else {
		old_spte = atomic_fetch_and(iter->sptep, ~SPTE_SHARED_MASK);
		iter->old_spte = old_spte & ~SPTE_SHARED_MASK;
	}
	tdp_shape_end(kvm, iter->level);
	KVM_SPTE_NOTE(KVM_TDP_TREE(iter->is_private), iter->gfn, iter->level,
		      old_spte, iter->old_spte);
	kvm_mmu_change_seq_bump(kvm);
	trace_kvm_tdp_mmu_spte_changed(kvm, iter->is_private, iter->gfn, iter->level,
				       old_spte, iter->old_spte);
}

/*
 * MapGPA walks only the 4K entries that pre-population guaranteed. A missing
 * table (or a large leaf) above 4K here means the two steps disagreed about
 * the range: a KVM bug, not something to paper over by skipping gfns (their
 * S bits would then differ between the trees, §11.2 invariant 8).
 */
enum map_gpa_step { MAP_GPA_BUG = -1, MAP_GPA_AT_2M, MAP_GPA_DESCEND };

/*
 * Above 4K: a table to descend into, or, at 2M, an entry population left
 * whole because the whole 2M chunk converts at once (populate's
 * tdp_mmu_chunk_converts_at_2m(), hugepages ref §7.4): the caller flips it
 * at 2M. The range arrives in tree gfns.
 */
static enum map_gpa_step tdp_mmu_map_gpa_descend(struct kvm *kvm, const struct tdp_iter *iter,
						 gfn_t start, gfn_t end)
{
	if (is_table_spte(iter->old_spte, iter->level))
		return MAP_GPA_DESCEND;
	if (iter->level == PG_LEVEL_2M && !is_removed_spte(iter->old_spte) &&
	    iter->gfn >= start && iter->gfn + KVM_PAGES_PER_HPAGE(PG_LEVEL_2M) <= end)
		return MAP_GPA_AT_2M;
	kvm_vm_bugged(kvm, "MapGPA: gfn 0x%llx level %d not populated (spte 0x%llx)",
		      (unsigned long long)iter->gfn, iter->level,
		      (unsigned long long)iter->old_spte);
	return MAP_GPA_BUG;
}

/*
 * update_shared_spte (E4 §6.4, shared EPT row) over [start, end) | shared:
 *  - MapGPA(private): set (with handlers) to SHADOW_NONPRESENT_VALUE if
 *    different: a present shared leaf is zapped, S cleared either way;
 *  - MapGPA(shared): raw write old | S; a present shared leaf stays mapped.
 */
static int tdp_mmu_map_gpa_shared(struct kvm *kvm, gfn_t start, gfn_t end,
				  bool to_shared, struct kvm_map_gpa_result *res)
{
	struct tdp_iter iter;

	start += kvm->gfn_shared_mask;
	end += kvm->gfn_shared_mask;
	for_each_tdp_pte(iter, kvm->shared_root, start, end) {
		if (iter.level > PG_LEVEL_4K) {
			enum map_gpa_step step = tdp_mmu_map_gpa_descend(kvm, &iter, start, end);

			if (step == MAP_GPA_BUG)
				return -EIO;
			if (step == MAP_GPA_DESCEND)
				continue;
		}
		/* 4K entries, and whole 2M chunks at their 2M-level entry
		 * (NP, NP|S or a shared 2M leaf, which always has S): the
		 * same rules. */
		if (to_shared) {
			if (is_shared_spte(iter.old_spte))
				continue;
			tdp_mmu_write_shared_bit(kvm, &iter, true);
		} else {
			bool was_present = is_shadow_present_pte(iter.old_spte);
			int r;

			if (iter.old_spte == SHADOW_NONPRESENT_VALUE)
				continue;
			r = tdp_mmu_set_spte(kvm, &iter, SHADOW_NONPRESENT_VALUE, false);
			if (r)
				return r;
			if (was_present)
				res->shared_zapped++;
		}
		res->shared_changed++;
	}
	return 0;
}

/*
 * update_private_spte for MapGPA(private) (E4 §6.4, private EPT row): raw
 * write old & ~S. A present private entry never carries S (§6.5), so this
 * only ever turns NP|S into NP: no SEAMCALL.
 */
static int tdp_mmu_map_gpa_private(struct kvm *kvm, gfn_t start, gfn_t end,
				   struct kvm_map_gpa_result *res)
{
	struct tdp_iter iter;

	for_each_tdp_pte(iter, kvm->private_root, start, end) {
		if (iter.level > PG_LEVEL_4K) {
			enum map_gpa_step step = tdp_mmu_map_gpa_descend(kvm, &iter, start, end);

			if (step == MAP_GPA_BUG)
				return -EIO;
			if (step == MAP_GPA_DESCEND)
				continue;
		}
		if (!is_shared_spte(iter.old_spte))
			continue;
		tdp_mmu_write_shared_bit(kvm, &iter, false);
		res->private_changed++;
	}
	return 0;
}

/*
 * update_private_spte for MapGPA(shared) (E4 §6.4, private EPT row) over all
 * the ranges at once, so that the whole call costs one TRACK:
 *  1. RANGE.BLOCK every present private leaf of every range;
 *  2. one kvm_flush_remote_tlbs() (TRACK + kick) for all of them;
 *  3. per 4K entry: present -> set to SHADOW_NONPRESENT_VALUE | S through
 *     the handlers (PAGE.REMOVE + WBINVD, the frame cleared: the page's
 *     content is lost, §8.1); non-present without S -> raw write old | S.
 * After a BLOCK failure (KVM bug) only what was blocked is removed.
 */
static int tdp_mmu_map_gpa_private_to_shared(struct kvm *kvm,
					     const struct kvm_gfn_range *ranges,
					     unsigned nr, struct kvm_map_gpa_result *res)
{
	struct kvm_mmu_page *root = kvm->private_root;
	unsigned last = nr;
	gfn_t stop = 0;
	int nr_blocked = 0, ret = 0, r;

	for (unsigned i = 0; i < nr; i++) {
		ret = tdp_mmu_block_private_leafs(kvm, root, ranges[i].start,
						  ranges[i].end, &stop, &nr_blocked);
		if (ret) {
			last = i + 1;
			break;
		}
	}
	r = tdp_mmu_flush_blocked(kvm, nr_blocked);
	if (r)
		return r;

	for (unsigned i = 0; i < last; i++) {
		gfn_t end = i + 1 == last && ret ? stop : ranges[i].end;
		struct tdp_iter iter;

		for_each_tdp_pte(iter, root, ranges[i].start, end) {
			if (iter.level > PG_LEVEL_4K) {
				enum map_gpa_step step =
					tdp_mmu_map_gpa_descend(kvm, &iter, ranges[i].start, end);

				if (step == MAP_GPA_BUG)
					return -EIO;
				if (step == MAP_GPA_DESCEND)
					continue;
			}
			/* A private 2M leaf here covers a whole chunk
			 * converting at once: removed whole at 2M (BLOCKed
			 * in the first pass, hugepages ref §6). */
			if (is_shadow_present_pte(iter.old_spte)) {
				r = tdp_mmu_set_spte(kvm, &iter,
						     SHADOW_NONPRESENT_VALUE | SPTE_SHARED_MASK,
						     true);
				if (r && !ret)
					ret = r;
				res->private_removed++;
				res->private_changed++;
			} else if (!is_shared_spte(iter.old_spte)) {
				tdp_mmu_write_shared_bit(kvm, &iter, true);
				res->private_changed++;
			}
		}
	}
	return ret;
}

int kvm_tdp_mmu_map_gpa(struct kvm *kvm, const struct kvm_gfn_range *ranges,
			unsigned nr, bool to_shared, struct kvm_map_gpa_result *res)
{
	int ret = 0;

	kvm_lockdep_assert_held_write(kvm);
	*res = (struct kvm_map_gpa_result){ 0 };
	if (!kvm->private_root || !kvm->shared_root)
		return -EINVAL;
	for (unsigned i = 0; i < nr; i++) {
		if (ranges[i].start >= ranges[i].end ||
		    ranges[i].end > kvm->gfn_shared_mask) {
			kvm_vm_bugged(kvm, "MapGPA: bad gfn range [0x%llx, 0x%llx)",
				      (unsigned long long)ranges[i].start,
				      (unsigned long long)ranges[i].end);
			return -EIO;
		}
	}

	/* E4 order: the shared tree, then the private tree. */
	for (unsigned i = 0; i < nr && !ret; i++)
		ret = tdp_mmu_map_gpa_shared(kvm, ranges[i].start, ranges[i].end,
					     to_shared, res);
	if (ret)
		return ret;
	if (to_shared)
		return tdp_mmu_map_gpa_private_to_shared(kvm, ranges, nr, res);
	for (unsigned i = 0; i < nr && !ret; i++)
		ret = tdp_mmu_map_gpa_private(kvm, ranges[i].start, ranges[i].end, res);
	return ret;
}

/*
 * Clears every root entry; handle_changed_spte() tears each subtree down
 * children first (handle_removed_pt). Then the root itself goes: the private
 * root has no S-EPT page of KVM's (the module reclaims its root with the TD).
 */
static void tdp_mmu_free_root(struct kvm *kvm, struct kvm_mmu_page **rootp)
{
	struct kvm_mmu_page *root = *rootp;
	int level;
	struct tdp_iter iter;

	if (!root)
		return;
	level = (int)root->role.level;
	for_each_tdp_pte_nonempty_min_level(iter, root, level, 0, tdp_root_gfn_end(level)) {
		if (!is_shadow_present_pte(iter.old_spte))
			continue;
		tdp_mmu_set_spte(kvm, &iter, SHADOW_NONPRESENT_VALUE, false);
	}
	*rootp = NULL;
	tdp_mmu_free_sp_deferred(kvm, root);
}

void kvm_tdp_mmu_free_all(struct kvm *kvm)
{
	kvm_lockdep_assert_held_write(kvm);
	tdp_mmu_free_root(kvm, &kvm->shared_root);
	tdp_mmu_free_root(kvm, &kvm->private_root);
}

/* ---- observers ------------------------------------------------------------- */

/*
 * A lockless walk (upstream's kvm_tdp_mmu_get_walk, between
 * kvm_tdp_mmu_walk_lockless_begin/end): no mmu_lock, so a table may be
 * unlinked and freed under it at any moment; the caller's read-side section
 * keeps each table it reaches from going back to the arena until the walk
 * ends. Reading a freed table's poison means that rule was broken: the model
 * itself is broken (kvm->model_broken, TDXMMU_EBUG, exit status 3: a real
 * kernel would have read freed memory) and the VM dead, never silently read
 * as "not present".
 */
static uint64_t tdp_mmu_read_4k(struct kvm *kvm, struct kvm_mmu_page *root, gfn_t gfn)
{
	_Atomic uint64_t *pt;
	int level;

	if (!root)
		return SHADOW_NONPRESENT_VALUE;
	level = (int)root->role.level;
	if (gfn >= tdp_root_gfn_end(level))
		return SHADOW_NONPRESENT_VALUE;
	pt = root->spt;
	for (;;) {
		uint64_t spte;

		KVM_SPTE_POINT(SCHED_SPTE_READ, SCHED_R, is_private_sp(root),
			       pt + SPTE_INDEX(gfn, level));
		spte = kvm_tdp_mmu_read_spte(pt + SPTE_INDEX(gfn, level));

		if (spte == FREED_TABLE_POISON_SPTE) {
			atomic_store(&kvm->model_broken, true);
			kvm_vm_bugged(kvm, "lockless walk read a freed page-table page "
				      "(gfn 0x%llx level %d): freed inside a grace period",
				      (unsigned long long)gfn, level);
			return SHADOW_NONPRESENT_VALUE;
		}
		if (level == PG_LEVEL_4K)
			return spte;
		pt = spte_to_child_pt(spte, level);
		if (!pt)
			return SHADOW_NONPRESENT_VALUE;
		level--;
		if (kvm->debug_lockless_walk_hook)
			kvm->debug_lockless_walk_hook(kvm, level);
	}
}

void kvm_tdp_mmu_read_4k(struct kvm *kvm, gfn_t gfn, uint64_t *private_spte,
			 uint64_t *shared_spte)
{
	gfn = kvm_gfn_private(kvm, gfn);
	host_rcu_read_lock();
	if (private_spte)
		*private_spte = tdp_mmu_read_4k(kvm, kvm->private_root, gfn);
	if (shared_spte)
		*shared_spte = tdp_mmu_read_4k(kvm, kvm->shared_root,
					       kvm_gfn_shared(kvm, gfn));
	host_rcu_read_unlock();
}

void kvm_tdp_mmu_walk(struct kvm *kvm, bool private_root, kvm_mmu_walk_fn fn,
		      void *arg)
{
	struct kvm_mmu_page *root = private_root ? kvm->private_root : kvm->shared_root;
	struct tdp_iter iter;

	if (!root)
		return;
	for_each_tdp_pte_nonempty(iter, root, 0, tdp_root_gfn_end((int)root->role.level)) {
		if (iter.old_spte == SHADOW_NONPRESENT_VALUE)
			continue;
		fn(kvm, iter.is_private, iter.gfn, iter.level, iter.old_spte,
		   sptep_to_sp(iter.sptep), arg);
	}
}

void kvm_tdp_mmu_foreach_private_leaf(struct kvm *kvm,
				      void (*fn)(struct kvm *kvm, gfn_t gfn,
						 uint64_t spte, pfn_t pfn,
						 void *arg),
				      void *arg)
{
	struct kvm_mmu_page *root = kvm->private_root;
	struct tdp_iter iter;

	if (!root)
		return;
	for_each_tdp_pte_nonempty(iter, root, 0, kvm->gfn_shared_mask) {
		if (!is_present_4k_leaf(&iter))
			continue;
		fn(kvm, iter.gfn, iter.old_spte, spte_to_pfn(iter.old_spte), arg);
	}
}
