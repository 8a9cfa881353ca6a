/* SPDX-License-Identifier: MIT */
/*
 * The legacy MMU's fault path (mmu_legacy.h), under mmu_lock held for write
 * (seed 000 "Race condition": no concurrent populate, so no freezing), and
 * its EPT-violation handler.
 *
 * Seed 000, "The state machine of EPT entry", per 4K gfn:
 *
 *  map(private GPA)  private entry present: nop (RET_PF_SPURIOUS);
 *                    non-present -> present (PAGE.AUG, or PAGE.ADD +
 *                    MR.EXTEND before finalize);
 *                    non-present|SPTE_SHARED_MASK: nop, the vCPU loops on
 *                    EPT violations (RET_PF_RETRY, nothing changed).
 *                    Shared entry: nop. (The seed notes that a present shared
 *                    entry implies the private S bit, so the loop case covers
 *                    it; a present shared entry here is a KVM bug.)
 *  map(shared GPA)   the private entry is consulted: without
 *                    SPTE_SHARED_MASK the vCPU loops (RET_PF_RETRY, nothing
 *                    changed, and no table is created either); with it the
 *                    shared entry goes non-present -> present. SPTE_SHARED_MASK
 *                    is never written into the shared EPT.
 *
 * PRIVATE_ZAPPED (reference §7.3 step 4-5, §5.6, E1/E2/E6): a private fault
 * on a PRIVATE_ZAPPED entry with the same frame is an unzap: TRACK first,
 * then RANGE.UNBLOCK (X1 order; hook tdx_sept_unzap_private_spte), the
 * entry becomes present with the frame it kept; the rmap already holds it.
 * No PAGE.AUG: the contents survive and the guest does not accept again. A
 * different frame is a KVM bug (private pages are pinned; §5.6 WARN).
 *
 * Order inside a private fault (E1 __direct_map): tables first (SEPT.ADD
 * top-down), then the rmap entry, then the leaf hook, then the SPTE. A
 * BUSY SEAMCALL undoes what belongs to the leaf (rmap entry) and answers
 * RET_PF_RETRY; tables already linked stay (they are consistent in both
 * trees). Prefetch of neighbouring entries is never done (§7.2).
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>

#include "kvm/legacy_internal.h"
#include "kvm/tdp_iter.h"
#include "kvm/tdx_hooks.h"
#include "tdx/tdx_module.h"

static int legacy_retry(struct kvm *kvm, bool busy)
{
	if (busy)
		kvm_stat_contention(kvm, &kvm_stats_mine(kvm)->retry_busy);
	kvm_stat_inc(&kvm_stats_mine(kvm)->fault_retry);
	return RET_PF_RETRY;
}

static uint64_t legacy_read_4k(struct kvm *kvm, gfn_t raw_gfn, bool is_private,
			       _Atomic uint64_t **sptep)
{
	_Atomic uint64_t *e = legacy_lookup_4k_sptep(kvm, raw_gfn, is_private);

	if (sptep)
		*sptep = e;
	return e ? legacy_read_spte(e) : SHADOW_NONPRESENT_VALUE;
}

static int legacy_fault_private(struct kvm *kvm, struct kvm_mmu_memory_cache *sept_cache,
				gfn_t gfn, pfn_t pfn)
{
	_Atomic uint64_t *e;
	uint64_t spte = legacy_read_4k(kvm, gfn, true, &e);
	int ret;

	if (is_shadow_present_pte(spte)) {
		kvm_stat_inc(&kvm_stats_mine(kvm)->fault_spurious);
		return RET_PF_SPURIOUS;
	}
	/* Seed 000: non-present | SPTE_SHARED_MASK -> loop on EPT violation. */
	if (spte & SPTE_SHARED_MASK)
		return legacy_retry(kvm, false);
	/* (present, present) never occurs: without the private S bit there is
	 * no shared mapping. */
	if (is_shadow_present_pte(legacy_read_4k(kvm, kvm_gfn_shared(kvm, gfn), false, NULL))) {
		kvm_vm_bugged(kvm, "legacy: gfn 0x%llx mapped shared without SPTE_SHARED_MASK",
			      (unsigned long long)gfn);
		return -EIO;
	}

	if (is_private_zapped_spte(spte)) {
		if (spte_to_pfn(spte) != pfn) {
			kvm_vm_bugged(kvm, "legacy: PRIVATE_ZAPPED gfn 0x%llx keeps pfn 0x%llx, the memslot gives 0x%llx",
				      (unsigned long long)gfn,
				      (unsigned long long)spte_to_pfn(spte),
				      (unsigned long long)pfn);
			return -EIO;
		}
		ret = tdx_sept_unzap_private_spte(kvm, gfn, PG_LEVEL_4K);
		if (ret == -EBUSY)
			return legacy_retry(kvm, true); /* still zapped: nothing changed */
		if (ret)
			return ret;
		legacy_set_spte(kvm, e, make_spte(pfn, PG_LEVEL_4K, true, spte));
		return RET_PF_FIXED;
	}

	ret = legacy_get_4k_sptep(kvm, gfn, true, sept_cache, &e);
	if (ret == -EBUSY)
		return legacy_retry(kvm, true);
	if (ret)
		return ret == -EAGAIN ? -ENOMEM : ret;
	spte = legacy_read_spte(e);

	ret = legacy_rmap_add(kvm, gfn, e);
	if (ret)
		return ret;
	ret = tdx_sept_set_private_spte(kvm, gfn, PG_LEVEL_4K, pfn);
	if (ret) {
		legacy_rmap_remove(kvm, gfn, e);
		return ret == -EBUSY ? legacy_retry(kvm, true) : ret;
	}
	legacy_set_spte(kvm, e, make_spte(pfn, PG_LEVEL_4K, true, spte));
	return RET_PF_FIXED;
}

static int legacy_fault_shared(struct kvm *kvm, gfn_t gfn, pfn_t pfn)
{
	gfn_t raw = kvm_gfn_shared(kvm, gfn);
	_Atomic uint64_t *e;
	int ret;

	/* Seed 000: the private EPT is consulted; S clear -> loop. */
	if (!(legacy_read_4k(kvm, gfn, true, NULL) & SPTE_SHARED_MASK))
		return legacy_retry(kvm, false);
	if (is_shadow_present_pte(legacy_read_4k(kvm, raw, false, NULL))) {
		kvm_stat_inc(&kvm_stats_mine(kvm)->fault_spurious);
		return RET_PF_SPURIOUS;
	}
	ret = legacy_get_4k_sptep(kvm, raw, false, NULL, &e);
	if (ret)
		return ret == -EAGAIN ? -ENOMEM : ret;
	ret = legacy_rmap_add(kvm, gfn, e);
	if (ret)
		return ret;
	/* No SPTE_SHARED_MASK in the shared EPT (old value 0); X dropped. */
	legacy_set_spte(kvm, e, make_spte(pfn, PG_LEVEL_4K, false, 0));
	return RET_PF_FIXED;
}

int kvm_legacy_mmu_page_fault(struct kvm *kvm, struct kvm_mmu_memory_cache *sept_cache,
			      gpa_t gpa)
{
	bool is_private = kvm_is_private_gpa(kvm, gpa);
	gfn_t raw_gfn = gpa >> PAGE_SHIFT;
	gfn_t gfn = kvm_gfn_private(kvm, raw_gfn);
	struct host_memslot slot;
	pfn_t pfn;

	kvm_lockdep_assert_held_write(kvm);
	if (kvm_is_bugged(kvm))
		return -EIO;
	if (!kvm->private_root || !kvm->shared_root ||
	    raw_gfn >= tdp_root_gfn_end((int)kvm->root_level) ||
	    raw_gfn > (kvm->gfn_shared_mask << 1) - 1)
		return -EFAULT;
	if (!host_memslot_find(kvm->slots, gfn, &slot))
		return is_private ? -EFAULT : RET_PF_EMULATE;
	/* Before any entry changes: an injected -ENOMEM leaves nothing. */
	if (kvm_faultin_pfn(kvm, &slot, gfn, &pfn))
		return -ENOMEM;
	if (is_private)
		return legacy_fault_private(kvm, sept_cache, gfn, pfn);
	return legacy_fault_shared(kvm, gfn, pfn);
}

/*
 * The guard (seed 000's "race condition"): the legacy MMU has no freezing
 * and no cmpxchg, and its shadow-page hash, page lists and rmap are plain
 * structures, so every fault takes mmu_lock for write. MUTANT_LEGACY_READ_LOCK
 * removes it: faults take the read side and run concurrently (two faults
 * both link a table for one gfn, both AUG one page, one overwrites the
 * other's SPTE). The lock-mode assertions let it through (mmu.c); the wrong
 * state is for `check`, the module's answers and the scenario to find. Meant
 * for `tdxmmu explore`, which runs one thread at a time: with real threads
 * the unlocked hash and rmap would be a C data race.
 */
static void legacy_fault_lock(struct kvm *kvm)
{
	if (mutant_on(MUTANT_LEGACY_READ_LOCK))
		kvm_mmu_read_lock(kvm);
	else
		kvm_mmu_write_lock(kvm);
}

static void legacy_fault_unlock(struct kvm *kvm)
{
	if (mutant_on(MUTANT_LEGACY_READ_LOCK))
		kvm_mmu_read_unlock(kvm);
	else
		kvm_mmu_write_unlock(kvm);
}

int kvm_legacy_mmu_map_init_page(struct kvm *kvm, struct kvm_mmu_memory_cache *sept_cache,
				 gpa_t gpa)
{
	int ret;

	legacy_fault_lock(kvm);
	ret = kvm_legacy_mmu_page_fault(kvm, sept_cache, gpa);
	legacy_fault_unlock(kvm);
	return ret;
}

/* The local retry of tdx_exit.c, for the same reasons (BUSY rolled back):
 * only a fault that met a BUSY SEAMCALL is retried here; the wrong alias is
 * answered at once. */
#define LEGACY_EPT_VIOLATION_LOCAL_RETRIES 8

int kvm_legacy_handle_ept_violation(struct kvm_vcpu *vcpu, gpa_t gpa)
{
	struct kvm *kvm = vcpu->kvm;
	bool is_private = kvm_is_private_gpa(kvm, gpa);
	int ret;

	bool stalled = false;

	gpa &= PAGE_MASK;
	kvm_stat_inc(is_private ? &kvm_stats_mine(kvm)->fault_private : &kvm_stats_mine(kvm)->fault_shared);
	for (int tries = 0;; tries++) {
		uint64_t busy;

		/* Outside mmu_lock (mmu_topup_memory_caches). */
		if (is_private && kvm_mmu_topup_sept_cache(kvm, &vcpu->sept_cache)) {
			ret = -ENOMEM;
			break;
		}
		busy = kvm_contention(kvm);
		legacy_fault_lock(kvm);
		ret = kvm_legacy_mmu_page_fault(kvm, is_private ? &vcpu->sept_cache : NULL, gpa);
		legacy_fault_unlock(kvm);
		if (ret != RET_PF_RETRY ||
		    kvm_contention(kvm) == busy)
			break;
		/* An injected BUSY that every call meets: as in tdx_exit.c. */
		if (tdx_last_busy_hopeless())
			break;
		if (tries == LEGACY_EPT_VIOLATION_LOCAL_RETRIES) {
			/* Still BUSY: re-enter and refault; this RETRY is not
			 * "nothing can change" (the scenario's `blocked`). */
			kvm_mmu_change_seq_bump(kvm);
			break;
		}
		/* The BUSY holder is another thread: let it run (exploring,
		 * it cannot while this one keeps the baton). Two STALLs in a
		 * row (tdx_retry_next() says why two): the BUSY stays,
		 * re-enter. */
		enum sched_wait_result w = SCHED_WAIT(kvm, "legacy fault: SEAMCALL BUSY");

		if (w == SCHED_WAIT_STALL && stalled)
			break;
		stalled = w == SCHED_WAIT_STALL;
		if (w == SCHED_WAIT_NONE)
			sched_yield();
	}
	KVM_TRACE(kvm, kvm_page_fault, (vcpu->index, gpa, is_private, ret),
		  "vcpu %u address 0x%llx private %d -> %d (legacy)", vcpu->index,
		  (unsigned long long)gpa, is_private, ret);
	return ret;
}
