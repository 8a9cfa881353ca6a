/* SPDX-License-Identifier: MIT */
/*
 * KVM's zaps by cause (reference kvm-tdx-mmu.md §8.1, E4/v7 column), host
 * side. Which alias a cause drops decides whether private data survives:
 *
 *   cause                       shared alias   private alias (data)
 *   MMU notifier invalidate     zapped         kept: pinned (E4 drop_private
 *                                              = false)
 *   memslot delete              zapped         removed (BLOCK, TRACK,
 *                                              REMOVE: lost)
 *   kvm_zap_gfn_range           as asked       as asked: v7 keeps private,
 *                                              v10 zaps both; the caller
 *                                              chooses
 *
 * Large pages (hugepages ref §4.5, §6): a private 2M leaf that a zap range
 * cuts is split first (kvm_zap_gfn_range()); one that it covers is removed
 * whole at 2M; a shared 2M leaf is zapped whole either way. Memslot deletion
 * and teardown never split: huge pages never span memslots (§4.1.5).
 *
 * Every zap touches present 4K leaves only and keeps SPTE_SHARED_MASK on
 * the entries it zaps (shadow_nonpresent_spte(), the zap rows of §6.5): a
 * zap changes what is mapped, never which alias the guest chose. Private
 * leaves go in one E2 batch per call (BLOCK all, one TRACK + kick, REMOVE
 * each); shared leaves need no SEAMCALL, and one remote flush at the end
 * (kvm_flush_remote_tlbs(): TRACK, and every vCPU flushes its shared-EPT
 * translations). All of it happens under mmu_lock held for write
 * (kvm_tdp_mmu_zap_leafs()).
 *
 * Memslot deletion also frees the shared-EPT tables it left empty (no leaf,
 * no S bit), after an RCU grace period: the only tables freed while vCPUs
 * run (kvm_tdp_mmu_free_empty_shared_tables(), docs/locking.md).
 *
 * Lock order: kvm->slots_lock, then kvm->mmu_lock (docs/locking.md); taken
 * here, so the callers hold neither.
 */
#include <errno.h>

#include "host/host_rcu.h"
#include "kvm/kvm.h"
#include "kvm/mmu_legacy.h"
#include "kvm/tdp_mmu.h"
#include "kvm/tdp_mmu_nomirror.h"
#include "kvm/tdx_hooks.h"

/* Zaps the chosen aliases of [start, end) (gfns without the shared bit).
 * mmu_lock held for write. 0 or -EIO; *nr (if given) += leaves zapped. */
static int kvm_tdp_mmu_zap_aliases(struct kvm *kvm, gfn_t start, gfn_t end,
				   bool private_alias, bool shared_alias, int *nr)
{
	int ret = 0, r;

	kvm_lockdep_assert_held_write(kvm);
	if (private_alias && kvm->no_mirror) {
		/* Benchmarks' no-mirror path: its leaves are in no tree. */
		r = kvm_nomirror_zap(kvm, start, end);
		if (r < 0)
			ret = r;
	}
	if (private_alias) {
		r = kvm_tdp_mmu_zap_leafs(kvm, true, start, end, true);
		if (r < 0)
			ret = r;
		else if (nr)
			*nr += r;
	}
	if (shared_alias) {
		r = kvm_tdp_mmu_zap_leafs(kvm, false, start, end, true);
		if (r < 0 && !ret)
			ret = r;
		else if (r > 0 && nr)
			*nr += r;
	}
	return ret;
}

int kvm_mmu_notifier_invalidate(struct kvm *kvm, gfn_t start, gfn_t end)
{
	int nr = 0, ret;

	/* A dead VM (kvm_vm_dead) answers -EIO and touches nothing: its
	 * trees are only torn down (the model's host cannot move a dead TD's
	 * pages anyway: they stay in the memslot until destroy). */
	if (kvm_is_bugged(kvm))
		return -EIO;
	if (kvm_is_legacy_mmu(kvm))
		return kvm_legacy_mmu_notifier_invalidate(kvm, start, end);
	if (start >= end)
		return 0;
	/*
	 * kvm_unmap_gfn_range(..., drop_private = false) [L6]: the host
	 * pages behind the range move or go, but private frames are pinned
	 * (pin_user_pages at fault, get_page in AUG), so the mm cannot really
	 * take them; only the shared mappings, which the host may re-fault
	 * from the new frame, are dropped. No memslot is read.
	 */
	kvm_mmu_write_lock(kvm);
	ret = kvm_tdp_mmu_zap_aliases(kvm, start, end, false, true, &nr);
	kvm_mmu_write_unlock(kvm);
	KVM_TRACE(kvm, kvm_unmap_gfn_range, (start, end, nr),
		  "start 0x%llx end 0x%llx shared zapped %d%s",
		  (unsigned long long)start, (unsigned long long)end, nr,
		  ret ? " (KVM bug)" : "");
	return ret;
}

int kvm_delete_memslot(struct kvm *kvm, unsigned id)
{
	struct host_memslot slot;
	gfn_t start, end;
	int nr = 0, tables = 0, ret;

	/* KVM_SET_USER_MEMORY_REGION on a dead VM: -EIO, the slot stays (its
	 * frames may still be the TD's; destroy takes them back). */
	if (kvm_is_bugged(kvm))
		return -EIO;
	if (kvm_is_legacy_mmu(kvm))
		return kvm_legacy_delete_memslot(kvm, id);
	kvm_slots_lock(kvm);
	if (!host_memslot_by_id(kvm->slots, id, &slot)) {
		kvm_slots_unlock(kvm);
		return -ENOENT;
	}
	start = slot.base_gfn;
	end = slot.base_gfn + slot.npages;

	/*
	 * kvm_mmu_zap_memslot (v7, for TDs instead of zap_all_fast: the
	 * private root is never invalidated): both aliases, private pages
	 * removed (drop_private = true). Then the slot goes, with mmu_lock
	 * still held for write: a fault (read lock) that ran between the zap
	 * and the deletion could map a frame of the slot again, and that
	 * frame would then be freed while mapped. Deleting a memslot takes
	 * only the memslot writers' mutex and the frame allocator's, both
	 * leaves of the lock order.
	 */
	kvm_mmu_write_lock(kvm);
	/* The read-side section holds back the grace period of the tables
	 * freed below until their TLB flush is done (tdp_mmu.c). */
	host_rcu_read_lock();
	ret = kvm_tdp_mmu_zap_aliases(kvm, start, end, true, true, &nr);
	if (!ret)
		ret = tables = kvm_tdp_mmu_free_empty_shared_tables(kvm, start, end);
	host_rcu_read_unlock();
	if (ret >= 0) {
		ret = host_memslot_delete(kvm->slots, id);
	} else {
		/*
		 * A private page that could not be removed (KVM_BUG) is
		 * still the TD's: the host must not free its frame, so the
		 * slot, whose deletion frees the backing, stays. The VM is
		 * dead; the frame is leaked on purpose (frames_leaked).
		 */
		ret = -EIO;
	}
	kvm_mmu_write_unlock(kvm);
	kvm_slots_unlock(kvm);
	KVM_TRACE(kvm, kvm_delete_memslot, (id, start, end, nr),
		  "id %u gfn [0x%llx, 0x%llx) zapped %d shared tables freed %d -> %d",
		  id, (unsigned long long)start, (unsigned long long)end, nr,
		  tables < 0 ? 0 : tables, ret);
	return ret;
}

int kvm_zap_gfn_range(struct kvm *kvm, gfn_t start, gfn_t end, bool private_alias,
		      bool shared_alias)
{
	int nr = 0, ret;

	if (kvm_is_bugged(kvm))
		return -EIO;
	if (kvm_is_legacy_mmu(kvm))
		return kvm_legacy_zap_gfn_range(kvm, start, end, private_alias, shared_alias);
	if (start >= end || (!private_alias && !shared_alias))
		return 0;
	/*
	 * A range that cuts a 2M chunk of a hugepages memslot may have to
	 * split a private 2M leaf first (hugepages ref §4.5 steps 2-3, under
	 * the same write lock as the zap): its S-EPT page comes from a cache
	 * filled before mmu_lock is taken (the per-VM cache of §4.4.2; here
	 * the caller's own, so that no two zaps share it). Nothing is
	 * allocated for a range of 4K memslots.
	 */
	if (private_alias && kvm->finalized && kvm->hkid_assigned &&
	    kvm_tdp_mmu_range_cuts_huge(kvm, start, end)) {
		struct kvm_mmu_memory_cache cache = { 0 };

		ret = kvm_mmu_topup_sept_cache(kvm, &cache);
		if (!ret) {
			kvm_mmu_write_lock(kvm);
			ret = kvm_tdp_mmu_split_boundaries(kvm, start, end, &cache);
			if (!ret)
				ret = kvm_tdp_mmu_zap_aliases(kvm, start, end, private_alias,
							      shared_alias, &nr);
			kvm_mmu_write_unlock(kvm);
		}
		kvm_mmu_cache_free(kvm, &cache);
	} else {
		/* The TDP MMU zaps by gfn whatever the memslots: no slots_lock. */
		kvm_mmu_write_lock(kvm);
		ret = kvm_tdp_mmu_zap_aliases(kvm, start, end, private_alias, shared_alias, &nr);
		kvm_mmu_write_unlock(kvm);
	}
	KVM_TRACE(kvm, kvm_zap_gfn_range, (start, end, nr),
		  "start 0x%llx end 0x%llx private %d shared %d zapped %d%s",
		  (unsigned long long)start, (unsigned long long)end, private_alias,
		  shared_alias, nr, ret ? " (KVM bug)" : "");
	return ret;
}
