/* SPDX-License-Identifier: MIT */
/*
 * KVM's TDP MMU for a TD, E4 design (reference kvm-tdx-mmu.md §5, with the
 * E6 hook names of §4.2): two roots per VM, the private mirror EPT (KVM's
 * copy of the TDX module's Secure EPT, propagated through tdx_hooks.c) and the
 * shared EPT the CPU walks; the per-GFN SPTE_SHARED_MASK state machine of §6.5
 * at the 4K level; faults under mmu_lock held for read with atomic SPTE
 * updates (private entries frozen while their SEAMCALL runs, §5.2); zaps and
 * teardown under the write lock.
 *
 * It sits on KVM's MMU core (mmu.h: mmu_lock and its assertions, the
 * memory caches, RET_PF_*, gfn ranges, the change sequence, the arena and
 * the roots), as the legacy MMU (mmu_legacy.h) does; the two never call
 * each other.
 */
#ifndef TDXMMU_KVM_TDP_MMU_H
#define TDXMMU_KVM_TDP_MMU_H

#include <stdbool.h>
#include <stdint.h>

#include "kvm/kvm.h"
#include "kvm/mmu.h"
#include "kvm/mmu_page.h"

/* ---- fault path ---- */

/**
 * kvm_tdp_mmu_map() - resolve an EPT violation at one GPA (4K; 2M in a
 *	hugepages memslot, kvm_tdp_mmu_map_level())
 * @kvm: the VM.
 * @sept_cache: the faulting vCPU's cache of host frames for Secure-EPT pages,
 *	topped up (kvm_mmu_topup_sept_cache) before taking mmu_lock; one frame
 *	is taken per private table created. May be NULL for a shared GPA.
 * @gpa: the faulting GPA as the CPU reported it, shared bit included.
 *
 * Context: mmu_lock held for read. Picks the root from the shared bit, finds
 * the frame in the memslot (gfn without the shared bit), walks down linking
 * missing tables (private: TDH.MEM.SEPT.ADD each, top-down), then applies the
 * §6.5 rules at 4K:
 *  - private fault, entry NP -> P: TDH.MEM.PAGE.AUG (after finalize) or
 *    PAGE.ADD + MR.EXTEND from kvm->source_pa (before);
 *  - shared fault, entry NP|S -> P|S (S kept, X dropped);
 *  - private fault on NP|S, or shared fault on an entry without S:
 *    RET_PF_RETRY, nothing changed (the vCPU loops until MapGPA converts);
 *  - the mapping already present: RET_PF_SPURIOUS.
 * A frozen entry on the way (another thread's SEAMCALL in flight), a lost
 * cmpxchg, or a BUSY SEAMCALL (whose change is rolled back) give
 * RET_PF_RETRY. Counts fault.retry (fault.private/shared are the exit handler's),
 * fault.spurious and the retry.* causes in kvm->stats.
 *
 * Return: RET_PF_FIXED, RET_PF_SPURIOUS, RET_PF_RETRY, RET_PF_EMULATE
 * (shared GPA, no memslot); -EFAULT (private GPA without a memslot, or a GPA
 * beyond the GPAW); -ENOMEM (sept_cache empty, or no memory for a table);
 * -EIO (the VM is bugged, possibly by this fault).
 */
int kvm_tdp_mmu_map(struct kvm *kvm, struct kvm_mmu_memory_cache *sept_cache,
		    gpa_t gpa);
/*
 * The same with the largest level the fault may map (PG_LEVEL_4K for an
 * EPT violation of a 4K ACCEPT, hugepages ref §2.2; kvm_tdp_mmu_map() is
 * PG_LEVEL_2M). In a hugepages memslot, where the TD allows it
 * (tdp_mmu_huge_allowed()), the fault maps a 2M leaf at the 2M-level entry
 * if no table is below it (no promotion, §5): a private one with
 * TDH.MEM.PAGE.AUG at 2M; a 2M leaf already there answers RET_PF_SPURIOUS.
 */
int kvm_tdp_mmu_map_level(struct kvm *kvm, struct kvm_mmu_memory_cache *sept_cache,
			  gpa_t gpa, int max_level);

/* ---- large pages (E8, hugepages ref Part I; write lock unless said) ---- */

/* Splits the private 2M leaves that [start, end) cuts (hugepages ref
 * §4.1.2), before a zap of that range; an S-EPT page each from sept_cache.
 * 0, -ENOMEM (cache empty), -EIO. */
int kvm_tdp_mmu_split_boundaries(struct kvm *kvm, gfn_t start, gfn_t end,
				 struct kvm_mmu_memory_cache *sept_cache);
/* Whether [start, end) cuts a 2M chunk of a hugepages memslot (then a zap
 * may have to split: its caller tops up an S-EPT cache first). Any lock. */
bool kvm_tdp_mmu_range_cuts_huge(struct kvm *kvm, gfn_t start, gfn_t end);
/* The ACCEPT-level split at 4K (§2.2.3 step 4) for gfn's 2M range: any
 * private 2M leaf there split, the 4K table made. 0, -EAGAIN (cache empty:
 * top up and call again), -EBUSY, -ENOMEM, -EIO. */
int kvm_tdp_mmu_accept_split(struct kvm *kvm, gfn_t gfn,
			     struct kvm_mmu_memory_cache *sept_cache);
/* §2.2.3 step 3, without mmu_lock: gfn's 2M range already has its 4K
 * table in the mirror (the model's guest-inhibit flag). */
bool kvm_tdp_mmu_accept_inhibited(struct kvm *kvm, gfn_t gfn);

/* ---- zaps (write lock) ---- */

/**
 * kvm_tdp_mmu_zap_leafs() - zap the present leaves of a gfn range (4K, and
 *	2M leaves whole: a private one the range cuts must have been split
 *	first, kvm_tdp_mmu_split_boundaries(); a shared one is zapped whole)
 * @kvm: the VM.
 * @private_root: zap in the private mirror EPT (else the shared EPT).
 * @start: first gfn, without the shared bit.
 * @end: one past the last gfn, without the shared bit (clamped to the
 *	private half of the GPA space; the shared root is walked at
 *	[start, end) | shared bit).
 * @keep_shared_bit: the zapped entries keep SPTE_SHARED_MASK
 *	(shadow_nonpresent_spte(), every zap of §6.5); false writes plain
 *	SHADOW_NONPRESENT_VALUE (MapGPA(private) on the shared EPT).
 *
 * Context: mmu_lock held for write. Only present leaves change; tables and
 * non-present entries (and their S bits) stay. Private, after finalize:
 * TDH.MEM.RANGE.BLOCK every leaf first, then ONE kvm_flush_remote_tlbs()
 * (TRACK + kick) for the whole range, then TDH.MEM.PAGE.REMOVE + WBINVD +
 * clear for each (E2 batching). Private, before finalize: REMOVE only. With
 * the HKID already released: RECLAIM per leaf. Shared: no SEAMCALL per leaf,
 * one flush at the end if anything was zapped.
 *
 * Return: the number of leaves zapped, or -EIO (KVM_BUG: the VM is dead;
 * leaves that could not be removed are leaked and counted).
 */
int kvm_tdp_mmu_zap_leafs(struct kvm *kvm, bool private_root, gfn_t start,
			  gfn_t end, bool keep_shared_bit);

/**
 * kvm_tdp_mmu_free_empty_shared_tables() - free shared tables left empty
 * @kvm: the VM.
 * @start: first gfn, without the shared bit.
 * @end: one past the last gfn, without the shared bit.
 *
 * Unlinks every shared-EPT table whose whole range lies in [start, end) and
 * whose entries are all plain SHADOW_NONPRESENT_VALUE (nothing mapped, no
 * SPTE_SHARED_MASK), bottom-up, and frees it after an RCU grace period;
 * flushes the TLBs (kvm_flush_remote_tlbs) if any was unlinked. Such a
 * table carries no state, so the §6.5 table reads the same with it gone.
 *
 * Model choice, documented in docs/locking.md: E4 v7's memslot zap skipped
 * every entry above 4K for TDs, to keep the S bits that live at 4K; the
 * non-TDX zap_gfn_range of the same era freed whole subtrees. Freeing only
 * the tables with no S bit keeps v7's rule and gives the shared EPT what a
 * deleted memslot gives a normal VM. Private tables are never freed while
 * the HKID is assigned (KVM issues no TDH.MEM.SEPT.REMOVE).
 *
 * Context: mmu_lock held for write, inside the caller's read-side section
 * (host_rcu_read_lock), which it leaves only after this returns, so that the
 * grace period cannot end before the flush.
 *
 * Return: the number of tables unlinked, or -EIO.
 */
int kvm_tdp_mmu_free_empty_shared_tables(struct kvm *kvm, gfn_t start, gfn_t end);

/**
 * kvm_tdp_mmu_zap_all_private_leaves() - teardown step 1 (E7 order)
 * @kvm: the VM, HKID still assigned.
 *
 * Context: mmu_lock held for write. Removes every private leaf while the HKID
 * is assigned: BLOCK all, one TRACK, REMOVE + WBINVD each after finalize;
 * REMOVE + WBINVD before. Private tables stay (they are freed after the HKID
 * is released, kvm_tdp_mmu_free_all()).
 *
 * Return: the number of leaves removed, or -EIO.
 */
int kvm_tdp_mmu_zap_all_private_leaves(struct kvm *kvm);

/**
 * kvm_tdp_mmu_free_all() - teardown step 3: free both trees
 * @kvm: the VM, HKID released.
 *
 * Context: mmu_lock held for write; no vCPU runs. Frees both trees bottom-up
 * (every table's children before the table, §5.5): shared leaves are simply
 * dropped; a private leaf still present is RECLAIMed (E4 path); each private
 * table's Secure-EPT page is RECLAIMed, cleared and returned to the host
 * (free_private_spt); the roots last. Afterwards kvm->private_root and
 * kvm->shared_root are NULL and kvm_mmu_pages_live() is 0. Failures leak
 * frames on purpose and mark the VM bugged.
 */
void kvm_tdp_mmu_free_all(struct kvm *kvm);

/* ---- MapGPA (write lock), E4 §6.3 / §6.4 ---- */

/**
 * kvm_tdp_mmu_populate_nonleaf() - MapGPA step 1: link the tables
 * @kvm: the VM.
 * @private_root: populate the private mirror EPT (else the shared EPT).
 * @start: first gfn, without the shared bit.
 * @end: one past the last gfn, without the shared bit (clamped to the
 *	private half; the shared root is walked at [start, end) | shared bit).
 * @sept_cache: S-EPT pages for new private tables (one each); unused for the
 *	shared tree.
 *
 * Context: mmu_lock held for write. Links every missing table above 4K over
 * the range, top-down, so that MapGPA's flip (kvm_tdp_mmu_map_gpa()) finds
 * every 4K entry and allocates nothing (E4 kvm_tdp_mmu_populate_nonleaf).
 * Private tables: TDH.MEM.SEPT.ADD each, issued before the entry is
 * published. Leaves are not touched.
 *
 * Return: 0; -EAGAIN when the cache ran dry (the tables linked so far stay:
 * drop the locks, top the cache up, call again, E4 §6.3 step 2); -EBUSY
 * when SEPT.ADD answered BUSY (that table not linked; drop the locks and
 * call again); -ENOMEM; -EIO (KVM bug: a large or frozen entry).
 */
int kvm_tdp_mmu_populate_nonleaf(struct kvm *kvm, bool private_root, gfn_t start,
				 gfn_t end, struct kvm_mmu_memory_cache *sept_cache);

/* What kvm_tdp_mmu_map_gpa() changed, for the caller's flush decision. */
struct kvm_map_gpa_result {
	unsigned long shared_changed;  /* shared 4K entries changed */
	unsigned long shared_zapped;   /* of which present leaves zapped */
	unsigned long private_changed; /* private 4K entries changed */
	unsigned long private_removed; /* of which present pages removed */
};

/**
 * kvm_tdp_mmu_map_gpa() - MapGPA step 2: the per-4K flip (E4 §6.4)
 * @kvm: the VM.
 * @ranges: gfn ranges without the shared bit, each inside the private half
 *	and pre-populated in both trees (kvm_tdp_mmu_populate_nonleaf()).
 * @nr: number of ranges.
 * @to_shared: the direction (the shared bit of the MapGPA GPA).
 * @res: out: what changed.
 *
 * Context: mmu_lock held for write. The shared tree first, then the private
 * tree, per 4K entry:
 *
 *   entry        MapGPA(private)              MapGPA(shared)
 *   shared EPT   set SHADOW_NONPRESENT_VALUE   raw write old | S (a present
 *                if different (zaps P|S)       shared leaf stays mapped)
 *   private EPT  raw write old & ~S            present: set NP | S through the
 *                                              zap path (BLOCK all, one
 *                                              TRACK, REMOVE each: content
 *                                              lost); else raw write old | S
 *
 * Raw writes issue no SEAMCALL. The shared side is not flushed here: the
 * caller flushes once for the whole call, with the lock still held.
 *
 * Return: 0, -EINVAL (no roots), or -EIO (KVM bug: a range not populated,
 * a SEAMCALL failed; the VM is dead).
 */
int kvm_tdp_mmu_map_gpa(struct kvm *kvm, const struct kvm_gfn_range *ranges,
			unsigned nr, bool to_shared, struct kvm_map_gpa_result *res);

/* ---- observers (checks, tests): change nothing, count nothing ---- */

/**
 * kvm_tdp_mmu_read_4k() - the 4K entries of a gfn in both trees
 * @kvm: the VM.
 * @gfn: the gfn, without the shared bit.
 * @private_spte: out: the private mirror EPT's 4K entry for gfn.
 * @shared_spte: out: the shared EPT's 4K entry for gfn | shared bit.
 *
 * SHADOW_NONPRESENT_VALUE where a table on the way is missing. Context: any
 * mmu_lock mode, or no thread changing the trees; an atomic snapshot of each
 * entry, not of the pair.
 */
void kvm_tdp_mmu_read_4k(struct kvm *kvm, gfn_t gfn, uint64_t *private_spte,
			 uint64_t *shared_spte);

/**
 * kvm_tdp_mmu_walk() - visit one tree for an invariant checker
 * @kvm: the VM.
 * @private_root: walk the private mirror EPT (else the shared EPT).
 * @fn: called as described at kvm_mmu_walk_fn (mmu.h).
 * @arg: passed to fn.
 *
 * Context: mmu_lock held (any mode) or the trees quiescent; fn must not
 * change the tree.
 */
void kvm_tdp_mmu_walk(struct kvm *kvm, bool private_root, kvm_mmu_walk_fn fn,
		      void *arg);

/**
 * kvm_tdp_mmu_foreach_private_leaf() - visit every present private 4K leaf
 * @kvm: the VM.
 * @fn: called with the gfn (no shared bit), the SPTE and its frame.
 * @arg: passed to fn.
 *
 * Context: as kvm_tdp_mmu_walk().
 */
void kvm_tdp_mmu_foreach_private_leaf(struct kvm *kvm,
				      void (*fn)(struct kvm *kvm, gfn_t gfn,
						 uint64_t spte, pfn_t pfn,
						 void *arg),
				      void *arg);

#endif /* TDXMMU_KVM_TDP_MMU_H */
