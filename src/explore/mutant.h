/* SPDX-License-Identifier: MIT */
/*
 * Mutants: each guard of the design has a knob that removes it, so that
 * `tdxmmu explore --mutant=NAME` can show the race the guard exists for
 * (docs/exploration.md has the table). Process-wide, set only while no
 * model thread runs (the explorer sets it before an execution and clears it
 * after); read with one relaxed load where the guard is.
 */
#ifndef TDXMMU_EXPLORE_MUTANT_H
#define TDXMMU_EXPLORE_MUTANT_H

#include <stdatomic.h>
#include <stdbool.h>

enum mutant {
	/* tdp_mmu_set_spte_atomic installs private entries without freezing
	 * them while the SEAMCALL runs (kvm-tdx-mmu.md §5.2's race). */
	MUTANT_NO_FREEZE,
	/* The TDP MMU's atomic SPTE update becomes read, then store. */
	MUTANT_PLAIN_SPTE_WRITE,
	/* The private zap's TLB flush skips TDH.MEM.TRACK: REMOVE follows
	 * BLOCK with no epoch advance. */
	MUTANT_NO_TRACK,
	/* TDH.MEM.TRACK (and the shared flush) without kicking the vCPUs. */
	MUTANT_NO_KICK,
	/* Page-table pages freed at once instead of after a grace period. */
	MUTANT_NO_RCU,
	/* MapGPA under the read side of mmu_lock instead of the write side. */
	MUTANT_MAPGPA_READ_LOCK,
	/* The legacy MMU's faults under the read side of mmu_lock (seed 000's
	 * "race condition"). */
	MUTANT_LEGACY_READ_LOCK,
	/* The ACCEPT-level split of a private 2M leaf under the read side of
	 * mmu_lock, as the E8 series refuses to (hugepages ref §4.2): no
	 * kick-and-retry, so a BUSY DEMOTE is undone with UNBLOCK, which can
	 * itself be BUSY (hazard §8.1). */
	MUTANT_SPLIT_READ_LOCK,
	MUTANT_NR
};

extern _Atomic unsigned mutant_mask;

static inline bool mutant_on(enum mutant m)
{
	return __builtin_expect(atomic_load_explicit(&mutant_mask, memory_order_relaxed) &
					(1u << m),
				0);
}

/* "no-freeze" ... ; NULL past the end. */
const char *mutant_name(enum mutant m);
/* One line: the guard removed. */
const char *mutant_help(enum mutant m);
/* -1 when unknown. */
int mutant_by_name(const char *name);

#endif /* TDXMMU_EXPLORE_MUTANT_H */
