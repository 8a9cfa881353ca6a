/* SPDX-License-Identifier: MIT */
/*
 * SPTE encoding: the bits of an entry of KVM's EPTs (the shared EPT the CPU
 * walks and the private mirror EPT only KVM walks), the special non-present
 * values, predicates and constructors. Pure bit manipulation: nothing here
 * knows about tables, locks or the TDX module.
 *
 * Layout (EPT flavour, reference kvm-tdx-mmu.md §1.1, E4 with the E2/E6
 * PRIVATE_ZAPPED bit moved to its own position as §1.3 asks):
 *
 *   63  VMX_EPT_SUPPRESS_VE_BIT   set in every non-present SPTE (and in
 *                                 present ones, as shadow_present_mask)
 *   62  SPTE_SHARED_MASK          E4: "this GFN is shared" (§6.5), kept in
 *                                 both trees at 4K, present or not
 *   61  SPTE_PRIVATE_ZAPPED       E2/E6/E1 "blocked but kept" (legacy MMU)
 *   58  EPT_SPTE_MMU_WRITABLE
 *   57  EPT_SPTE_HOST_WRITABLE
 *   51:12 PFN                     host frame (leaf) or KVM's table (non-leaf)
 *   11  SPTE_MMU_PRESENT_MASK     "shadow present": the only bit
 *                                 is_shadow_present_pte() tests
 *   9   D, 8 A, 7 PS, 6 IPAT, 5:3 memory type, 2 X, 1 W, 0 R
 *
 * The MMIO generation that upstream keeps in 3..10 and 52..62 is not
 * modeled: a TD's MMIO SPTE is the value 0 with RWX clear (§1.2), and this
 * model installs none.
 */
#ifndef TDXMMU_KVM_SPTE_H
#define TDXMMU_KVM_SPTE_H

#include <assert.h>
#include <stdbool.h>
#include <stdint.h>

#include "kvm/kvm.h"

#define SPTE_BIT(n) (1ULL << (n))
/* Bits h..l inclusive. */
#define SPTE_GENMASK(h, l) ((~0ULL >> (63 - (h))) & ~((1ULL << (l)) - 1))

#define PT64_EPT_READABLE_MASK SPTE_BIT(0)
#define PT_WRITABLE_MASK SPTE_BIT(1)
#define PT64_EPT_EXECUTABLE_MASK SPTE_BIT(2)
#define VMX_EPT_RWX_MASK (PT64_EPT_READABLE_MASK | PT_WRITABLE_MASK | \
			  PT64_EPT_EXECUTABLE_MASK)
#define VMX_EPT_MT_EPTE_SHIFT 3
#define VMX_EPT_MT_MASK SPTE_GENMASK(5, 3)
#define MTRR_TYPE_WRBACK 6ULL
#define VMX_EPT_IPAT_BIT SPTE_BIT(6)
#define PT_PAGE_SIZE_MASK SPTE_BIT(7)
#define VMX_EPT_ACCESS_BIT SPTE_BIT(8)
#define VMX_EPT_DIRTY_BIT SPTE_BIT(9)
#define SPTE_MMU_PRESENT_MASK SPTE_BIT(11)
#define SPTE_BASE_ADDR_MASK SPTE_GENMASK(51, 12)
#define EPT_SPTE_HOST_WRITABLE SPTE_BIT(57)
#define EPT_SPTE_MMU_WRITABLE SPTE_BIT(58)
#define SPTE_PRIVATE_ZAPPED SPTE_BIT(61)
#define SPTE_SHARED_MASK SPTE_BIT(62)
#define VMX_EPT_SUPPRESS_VE_BIT SPTE_BIT(63)

/*
 * Every entry of a new table, and every zapped entry, holds this value: the
 * TDX module enables EPT-violation #VE for both EPTs, and an entry without
 * suppress-#VE would hand the guest a #VE instead of exiting to KVM (§1.2,
 * L17). In E4 a zap ORs SPTE_SHARED_MASK back in (shadow_nonpresent_spte()).
 */
#define SHADOW_NONPRESENT_VALUE VMX_EPT_SUPPRESS_VE_BIT

/*
 * The frozen value (E4 REMOVED_SPTE, E7 FROZEN_SPTE): a thread that owns an
 * entry while a SEAMCALL runs (populate, §5.2) or while a table is torn down
 * (§5.5) parks it here. Not present, so no walker descends through it; other
 * writers see it and back off. A frozen entry may carry SPTE_SHARED_MASK
 * (L8), so is_removed_spte() masks it out.
 */
#define REMOVED_SPTE (SHADOW_NONPRESENT_VALUE | 0x5a0ULL)

/*
 * Every entry of a page-table page is set to this when the page goes back to
 * the arena (mmu_page.c), after its RCU grace period. Not present for KVM
 * (bit 11 clear) nor for the CPU (RWX clear), so a walker that reads a freed
 * table stops instead of following a stale pointer; the lockless walks test
 * for it by name and report a page-table page read after it was freed (the
 * broken RCU rule, not a guest-visible state).
 */
#define FREED_TABLE_POISON_SPTE (SHADOW_NONPRESENT_VALUE | 0x6b0ULL)

/* What a present SPTE always carries (shadow_present_mask on EPT, L18:
 * suppress-#VE too, "needed for W or X violation"). */
#define SHADOW_PRESENT_MASK (SPTE_MMU_PRESENT_MASK | VMX_EPT_SUPPRESS_VE_BIT)

/* ---- compile-time checks on the layout ---- */

static_assert(!(REMOVED_SPTE & SPTE_MMU_PRESENT_MASK),
	      "a frozen SPTE must not look present");
static_assert(!(REMOVED_SPTE & SPTE_SHARED_MASK),
	      "a frozen SPTE must be able to carry SPTE_SHARED_MASK");
static_assert(!(REMOVED_SPTE & SPTE_PRIVATE_ZAPPED),
	      "REMOVED_SPTE must not look PRIVATE_ZAPPED");
static_assert((REMOVED_SPTE & SHADOW_NONPRESENT_VALUE) == SHADOW_NONPRESENT_VALUE,
	      "a frozen SPTE keeps suppress-#VE");
static_assert(REMOVED_SPTE != SHADOW_NONPRESENT_VALUE,
	      "frozen and non-present must differ");
static_assert(!(FREED_TABLE_POISON_SPTE & (SPTE_MMU_PRESENT_MASK | VMX_EPT_RWX_MASK |
					  SPTE_SHARED_MASK | SPTE_PRIVATE_ZAPPED)),
	      "a freed table's entries must look non-present to every walker");
static_assert((FREED_TABLE_POISON_SPTE & ~SPTE_SHARED_MASK) != REMOVED_SPTE &&
	      FREED_TABLE_POISON_SPTE != SHADOW_NONPRESENT_VALUE,
	      "the freed-table poison must differ from every live value");
static_assert(!(SHADOW_NONPRESENT_VALUE & SPTE_MMU_PRESENT_MASK),
	      "the non-present value must not look present");
static_assert(!(SHADOW_NONPRESENT_VALUE & (SPTE_SHARED_MASK | SPTE_PRIVATE_ZAPPED)),
	      "the non-present value carries no software state bit");
static_assert(SPTE_SHARED_MASK != SPTE_PRIVATE_ZAPPED,
	      "SHARED and PRIVATE_ZAPPED need distinct bits (reference §1.3)");
static_assert(!((SPTE_SHARED_MASK | SPTE_PRIVATE_ZAPPED) & SPTE_BASE_ADDR_MASK),
	      "software bits must lie outside the PFN field");
static_assert(!((EPT_SPTE_HOST_WRITABLE | EPT_SPTE_MMU_WRITABLE) &
		(SPTE_BASE_ADDR_MASK | SPTE_SHARED_MASK | SPTE_PRIVATE_ZAPPED |
		 VMX_EPT_SUPPRESS_VE_BIT)),
	      "host/MMU-writable overlap another field");
static_assert(!(SPTE_MMU_PRESENT_MASK &
		(SPTE_BASE_ADDR_MASK | VMX_EPT_RWX_MASK | VMX_EPT_MT_MASK |
		 VMX_EPT_IPAT_BIT | PT_PAGE_SIZE_MASK | VMX_EPT_ACCESS_BIT |
		 VMX_EPT_DIRTY_BIT)),
	      "the present bit overlaps a hardware field");
static_assert(((VMX_EPT_RWX_MASK | VMX_EPT_MT_MASK | VMX_EPT_IPAT_BIT |
		PT_PAGE_SIZE_MASK | VMX_EPT_ACCESS_BIT | VMX_EPT_DIRTY_BIT) &
	       SPTE_BASE_ADDR_MASK) == 0,
	      "low attribute bits overlap the PFN field");
static_assert(SPTE_BASE_ADDR_MASK == 0x000FFFFFFFFFF000ULL, "PFN is bits 12..51");
static_assert(HOST_MAX_PA_BITS <= 52, "host physical addresses must fit the PFN field");

/* ---- predicates ---- */

static inline bool is_shadow_present_pte(uint64_t spte)
{
	return spte & SPTE_MMU_PRESENT_MASK;
}

static inline bool is_large_pte(uint64_t spte)
{
	return spte & PT_PAGE_SIZE_MASK;
}

/* Meaningful for a present SPTE: does it map memory (rather than point to
 * a table)? */
static inline bool is_last_spte(uint64_t spte, int level)
{
	return level == PG_LEVEL_4K || is_large_pte(spte);
}

static inline bool is_removed_spte(uint64_t spte)
{
	return (spte & ~SPTE_SHARED_MASK) == REMOVED_SPTE;
}

static inline bool is_shared_spte(uint64_t spte)
{
	return spte & SPTE_SHARED_MASK;
}

static inline bool is_private_zapped_spte(uint64_t spte)
{
	return !is_shadow_present_pte(spte) && (spte & SPTE_PRIVATE_ZAPPED);
}

static inline pfn_t spte_to_pfn(uint64_t spte)
{
	return (spte & SPTE_BASE_ADDR_MASK) >> PAGE_SHIFT;
}

/* ---- constructors ---- */

/*
 * A leaf. Private leaves are always RWX: the TDX module maps private pages
 * RWX in the Secure EPT whatever KVM asks, and KVM forces private faults to
 * writes (§1.1, §2.4). Shared leaves of a TD drop X (`pte_access &=
 * ~ACC_EXEC_MASK`, L6). SPTE_SHARED_MASK is inherited from the entry being
 * replaced: the fault path never changes it, only MapGPA does (§5.4 item 7).
 * Normal RAM is write-back with IPAT; A is set because a fault is an access.
 */
static inline uint64_t make_spte(pfn_t pfn, int level, bool is_private,
				 uint64_t old_spte)
{
	uint64_t spte = SHADOW_PRESENT_MASK | PT64_EPT_READABLE_MASK |
			PT_WRITABLE_MASK | (MTRR_TYPE_WRBACK << VMX_EPT_MT_EPTE_SHIFT) |
			VMX_EPT_IPAT_BIT | VMX_EPT_ACCESS_BIT |
			EPT_SPTE_HOST_WRITABLE | EPT_SPTE_MMU_WRITABLE;

	if (is_private)
		spte |= PT64_EPT_EXECUTABLE_MASK;
	if (level > PG_LEVEL_4K)
		spte |= PT_PAGE_SIZE_MASK;
	spte |= ((uint64_t)pfn << PAGE_SHIFT) & SPTE_BASE_ADDR_MASK;
	spte |= old_spte & SPTE_SHARED_MASK;
	return spte;
}

/*
 * A non-leaf entry pointing to KVM's own table at `table_pa` (4K aligned; in
 * this model the table's address in the process, see tdp_iter.h
 * spte_to_child_pt()). Full permissions: the leaf decides.
 */
static inline uint64_t make_nonleaf_spte(uint64_t table_pa)
{
	return SHADOW_PRESENT_MASK | VMX_EPT_RWX_MASK | VMX_EPT_ACCESS_BIT |
	       (table_pa & SPTE_BASE_ADDR_MASK);
}

/* The value a zap writes: non-present, keeping the E4 shared bit (L8). */
static inline uint64_t shadow_nonpresent_spte(uint64_t old_spte)
{
	return SHADOW_NONPRESENT_VALUE | (old_spte & SPTE_SHARED_MASK);
}

#endif /* TDXMMU_KVM_SPTE_H */
