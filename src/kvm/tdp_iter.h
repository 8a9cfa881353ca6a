/* SPDX-License-Identifier: MIT */
/*
 * The TDP iterator: a pre-order walk of one tree (the private mirror EPT or
 * the shared EPT) over the gfns [start, end), from the root down to a minimum
 * level. At each step the iterator stands on one entry: `sptep`, its `level`,
 * the first gfn it maps (`gfn`), and `old_spte`, a snapshot of its value read
 * when the iterator arrived. Code that changes the entry compares against the
 * snapshot (cmpxchg) and refreshes it when the entry changed underneath.
 *
 * Order: an entry is visited before the entries of the table it points to
 * (pre-order); the iterator steps down into a present non-leaf entry when it
 * is above min_level, else to the next entry of the same table, else up.
 * Before stepping down it re-reads the entry, so it never descends into a
 * table that was unlinked after the snapshot was taken.
 *
 * gfns in the shared tree include the shared bit (reference kvm-tdx-mmu.md
 * §2.3: tdp_iter.gfn "includes shared bits"); the caller picks the range in
 * the root's gfn space (kvm_gfn_shared() for the shared root).
 *
 * Concurrency: the walk itself takes no lock; it reads entries atomically
 * (acquire, pairing with the release of the cmpxchg that linked a table, so a
 * walker that sees a non-leaf entry sees the new table's initial contents).
 * Tables stay valid memory while the caller holds mmu_lock in any mode: they
 * are freed under the write lock only (and, with the concurrency work, after
 * an RCU grace period, tdp_mmu_free_sp_deferred()).
 */
#ifndef TDXMMU_KVM_TDP_ITER_H
#define TDXMMU_KVM_TDP_ITER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "kvm/kvm.h"
#include "kvm/mmu_page.h"
#include "kvm/spte.h"

#define PT64_ROOT_MAX_LEVEL PG_LEVEL_256T
#define SPTE_LEVEL_BITS 9
#define SPTE_LEVEL_SHIFT(level) (((level) - 1) * SPTE_LEVEL_BITS)
/* Number of 4K pages an entry at `level` maps. */
#define KVM_PAGES_PER_HPAGE(level) (1ULL << SPTE_LEVEL_SHIFT(level))
/* Index of gfn's entry in a table of `level`. */
#define SPTE_INDEX(gfn, level) \
	((unsigned)(((gfn) >> SPTE_LEVEL_SHIFT(level)) & (SPTE_ENT_PER_PAGE - 1)))

static inline gfn_t gfn_round_for_level(gfn_t gfn, int level)
{
	return gfn & ~(KVM_PAGES_PER_HPAGE(level) - 1);
}

/* One past the last gfn a root of `root_level` maps. */
static inline gfn_t tdp_root_gfn_end(int root_level)
{
	return 1ULL << (SPTE_LEVEL_SHIFT(root_level) + SPTE_LEVEL_BITS);
}

static inline uint64_t kvm_tdp_mmu_read_spte(_Atomic uint64_t *sptep)
{
	return atomic_load_explicit(sptep, memory_order_acquire);
}

/*
 * The table a present non-leaf SPTE at `level` points to, or NULL. In this
 * model the PFN field of a non-leaf entry holds the address of KVM's table in
 * the process (KVM stores the table's physical address and reaches it with
 * __va(); the CPU model walks the shared EPT through this helper).
 */
static inline _Atomic uint64_t *spte_to_child_pt(uint64_t spte, int level)
{
	if (!is_shadow_present_pte(spte) || is_last_spte(spte, level))
		return NULL;
	return (_Atomic uint64_t *)(uintptr_t)(spte & SPTE_BASE_ADDR_MASK);
}

struct tdp_iter {
	/* The gfn the walk is heading for: the next 4K gfn it has not yet
	 * passed (KVM: next_last_level_gfn). Restarts resume from it. */
	gfn_t next_last_level_gfn;
	/* The table of each level on the path from the root, [level - 1]. */
	_Atomic uint64_t *pt_path[PT64_ROOT_MAX_LEVEL];
	/* The entry the iterator stands on. */
	_Atomic uint64_t *sptep;
	/* First gfn mapped by *sptep (with the shared bit in the shared tree). */
	gfn_t gfn;
	/* The root page and its level. */
	struct kvm_mmu_page *root;
	int root_level;
	/* The iterator does not step down below this level. */
	int min_level;
	/* Level of *sptep. */
	int level;
	/* Snapshot of *sptep. */
	uint64_t old_spte;
	/* The tree is the private mirror EPT (copied from the root, E4
	 * iter->is_private). */
	bool is_private;
	/* False once the walk has left the root. */
	bool valid;
	/* Nonzero: the caller ignores plain empty entries
	 * (SHADOW_NONPRESENT_VALUE) below this gfn, so a side step may pass
	 * over them without stopping (for_each_tdp_pte_nonempty). */
	gfn_t skip_end;
};

/* Positions the iterator on the root entry that maps `next_last_level_gfn`. */
void tdp_iter_start(struct tdp_iter *iter, struct kvm_mmu_page *root,
		    int min_level, gfn_t next_last_level_gfn);
/* The same for a walk that ignores empty entries below @end (see skip_end). */
void tdp_iter_start_nonempty(struct tdp_iter *iter, struct kvm_mmu_page *root,
			     int min_level, gfn_t next_last_level_gfn, gfn_t end);
/* Advances in pre-order (down, else side, else up then side). */
void tdp_iter_next(struct tdp_iter *iter);
/* Restarts from the root toward next_last_level_gfn (after the tables on
 * the path may have changed, e.g. after a lock was dropped). */
void tdp_iter_restart(struct tdp_iter *iter);

/*
 * Whether the walk is still inside [.., end): on the tree, at an entry that
 * starts below end (the second test only matters for an empty range, whose
 * first entry's gfn is rounded down below end). A function, not the loop
 * macros' condition, so that it reads once and coverage counts it once.
 */
static inline bool tdp_iter_in_range(const struct tdp_iter *iter, gfn_t end)
{
	return iter->valid && iter->gfn < end && iter->next_last_level_gfn < end;
}

/* Visits, in pre-order, every entry that maps part of [start, end) at
 * levels root_level..min_level. */
#define for_each_tdp_pte_min_level(iter, root_sp, min_lvl, start, end)       \
	for (tdp_iter_start(&(iter), (root_sp), (min_lvl), (start));        \
	     tdp_iter_in_range(&(iter), (end));                              \
	     tdp_iter_next(&(iter)))

#define for_each_tdp_pte(iter, root_sp, start, end) \
	for_each_tdp_pte_min_level(iter, root_sp, PG_LEVEL_4K, start, end)

/*
 * The same walk for a body that ignores every entry equal to
 * SHADOW_NONPRESENT_VALUE (`continue` and nothing else): such entries may or
 * may not be visited. Teardown, zaps and check walk whole trees of which a
 * TD uses a few entries per table; passing the empty ones in a tight loop
 * keeps those walks proportional to what the TD mapped. While an explored
 * block decides schedule points every entry is still visited, with its
 * point: another thread may fill an entry between two reads.
 */
#define for_each_tdp_pte_nonempty_min_level(iter, root_sp, min_lvl, start, end) \
	for (tdp_iter_start_nonempty(&(iter), (root_sp), (min_lvl), (start), \
				     (end));                                 \
	     tdp_iter_in_range(&(iter), (end));                              \
	     tdp_iter_next(&(iter)))

#define for_each_tdp_pte_nonempty(iter, root_sp, start, end) \
	for_each_tdp_pte_nonempty_min_level(iter, root_sp, PG_LEVEL_4K, start, end)

#endif /* TDXMMU_KVM_TDP_ITER_H */
