/* SPDX-License-Identifier: MIT */
/*
 * The TDX back end of KVM's MMU: the hooks through which changes to the
 * private mirror EPT reach the TDX module's Secure EPT (reference
 * kvm-tdx-mmu.md §4.2; E6 hook names, with the tdx_sept_ prefix the TDX back
 * end gives them), and the TD's remote TLB flush. tdx_hooks.c is the only
 * place in KVM that issues memory SEAMCALLs.
 *
 * Levels are KVM's (PG_LEVEL_4K = 1); gfns never carry the shared bit (hooks
 * run only for private SPTEs). Return values: 0; -EBUSY when the module
 * answered TDX_OPERAND_BUSY and the caller can undo and retry (fault path:
 * RET_PF_RETRY); -EIO after a KVM_BUG (kvm->bugged set: the VM is dead).
 * Whatever a hook could not give back to the host is leaked on purpose
 * (kvm_leak_page()): a page that may hold TD-encrypted content is never
 * returned to the host allocator while the TD may still use it. Teardown
 * RECLAIMs every such page once the HKID is released
 * (tdx_reclaim_leaked_pages()), so a dead VM still gives everything back.
 */
#ifndef TDXMMU_KVM_TDX_HOOKS_H
#define TDXMMU_KVM_TDX_HOOKS_H

#include <stdatomic.h>
#include <stdbool.h>

#include "kvm/kvm.h"

/*
 * link_private_spt: a private entry at `level` (the parent entry of a new
 * table; its first gfn is `gfn`) becomes present non-leaf. TDH.MEM.SEPT.ADD
 * with TDX level = level - 1 (the entry's level as the module counts it) and
 * the twin page `private_spt`. Called with mmu_lock held for read (fault,
 * entry frozen) or write (MapGPA pre-population).
 */
int tdx_sept_link_private_spt(struct kvm *kvm, gfn_t gfn, int level,
			      hpa_t private_spt);

/*
 * set_private_spte: a private 4K leaf (or, once finalized, a 2M leaf:
 * PAGE.AUG at TDX level 1, hugepages ref §2, §7.2) becomes present. Before finalize
 * (kvm->source_pa set by KVM_TDX_INIT_MEM_REGION): TDH.MEM.PAGE.ADD from
 * source_pa, TDH.MR.EXTEND over the page in 256-byte chunks, source_pa = 0.
 * After finalize: TDH.MEM.PAGE.AUG (the page is PENDING until the guest
 * accepts it). mmu_lock held for read, entry frozen.
 */
int tdx_sept_set_private_spte(struct kvm *kvm, gfn_t gfn, int level, pfn_t pfn);

/*
 * split_private_spte: a present private 2M leaf becomes a table of 512 4K
 * leaves held by `private_spt` (hugepages ref §4.3, E8): RANGE.BLOCK at 2M,
 * kvm_flush_remote_tlbs() (TRACK + kick), TDH.MEM.PAGE.DEMOTE with the new
 * S-EPT page; no UNBLOCK (the 512 children come out unblocked, in the
 * leaf's PENDING or MAPPED state). BUSY is retried with a kick, as for the
 * other write-lock calls (§4.3 "retry with no vCPUs"). mmu_lock held for
 * write: a split under the read lock is refused (§4.2). 0; -EIO (KVM bug,
 * the VM dead: the leaf may be left blocked, which teardown handles).
 */
int tdx_sept_split_private_spte(struct kvm *kvm, gfn_t gfn, int level,
				hpa_t private_spt);

/*
 * zap_private_spte: TDH.MEM.RANGE.BLOCK of a present private leaf; the
 * caller flushes (kvm_flush_remote_tlbs) before removing it. mmu_lock held
 * for write. BUSY is retried here (kicking vCPUs out of the guest, E7).
 */
int tdx_sept_zap_private_spte(struct kvm *kvm, gfn_t gfn, int level);

/*
 * remove_private_spte: the private leaf for `pfn` leaves the TD. With the
 * HKID assigned: TDH.MEM.PAGE.REMOVE (after BLOCK + TRACK once finalized;
 * before finalize the module removes a mapped page directly), then
 * TDH.PHYMEM.PAGE.WBINVD, then the frame is cleared with the host's key.
 * With the HKID released (E4 teardown order): TDH.PHYMEM.PAGE.RECLAIM, then
 * the clear. mmu_lock held for write.
 */
int tdx_sept_remove_private_spte(struct kvm *kvm, gfn_t gfn, int level,
				 pfn_t pfn);

/*
 * unzap_private_spte: a PRIVATE_ZAPPED private leaf (blocked in the S-EPT,
 * frame kept; legacy MMU) becomes present again with the same frame. X1
 * order (reference §4.2 item 6, §5.6): kvm_flush_remote_tlbs() first (TRACK
 * + kick, so the block is tracked whatever happened since), then
 * TDH.MEM.RANGE.UNBLOCK. The page's content and accept state survive. 0;
 * -EBUSY when UNBLOCK answered BUSY (the entry stays blocked: the fault
 * answers RET_PF_RETRY and runs both again); -EIO (KVM_BUG). mmu_lock held
 * for write (the legacy MMU's faults).
 */
int tdx_sept_unzap_private_spte(struct kvm *kvm, gfn_t gfn, int level);

/*
 * free_private_spt: the Secure-EPT twin of a private table whose 512
 * entries were all removed goes back to the host: TDH.PHYMEM.PAGE.RECLAIM,
 * clear, free. Only with the HKID released (v7 and upstream): with the HKID
 * still assigned it is a KVM_BUG and the frame is leaked. mmu_lock held for
 * write.
 */
int tdx_sept_free_private_spt(struct kvm *kvm, gfn_t gfn, int level,
			      hpa_t private_spt);

/*
 * The TD's remote TLB flush (tdx_track, reference §4.2 item 4, upstream
 * order): TDH.MEM.TRACK, retried while BUSY (and, while a vCPU is still in
 * the guest since the previous epoch, after kicking the vCPUs), then every
 * vCPU in the guest is sent out: through kvm->flush_shared_tlbs when the
 * CPU model installed it (KVM_REQ_TLB_FLUSH, as E4's tdx_track: the shared
 * EPT's translations go too), else kvm->kick_all_vcpus. The module flushes
 * the private translations on re-entry (stale epoch). A no-op before
 * finalize or without the HKID: no vCPU has run. Counts stats.tlb_flush
 * (and tlb_kick). 0 or -EIO (KVM_BUG).
 */
int kvm_flush_remote_tlbs(struct kvm *kvm);

/*
 * Flush of the shared EPT's translations only (KVM_REQ_TLB_FLUSH to every
 * vCPU, then a kick), with no SEAMCALL: for changes that concern the shared
 * EPT alone. Calls kvm->flush_shared_tlbs if installed (counts tlb_kick);
 * nothing otherwise (no vCPU can run).
 */
void kvm_flush_shared_tlbs(struct kvm *kvm);

/*
 * kvm_leak_page(): KVM gives up on a frame it cannot take back from the TD
 * now (its SEAMCALL failed, or the VM is dead): counted in
 * kvm->frames_leaked and remembered for teardown. kind: a memslot's frame
 * (cleared when reclaimed, stays the memslot's) or KVM's own (an S-EPT
 * page: cleared and freed). Any context; takes kvm->leak_lock, a leaf of
 * the lock order (taken under either mmu_lock mode, nothing taken under
 * it).
 *
 * tdx_reclaim_leaked_pages(): teardown, HKID released, no vCPU: RECLAIMs
 * each remembered frame (a frame the module no longer counts as the TD's
 * needs none), clears it with the host's key, frees KVM's own. 0, or -EIO
 * when a frame could not be reclaimed (it stays leaked and counted).
 */
void kvm_leak_page(struct kvm *kvm, hpa_t hpa, enum kvm_leak_kind kind,
		   const char *why);
int tdx_reclaim_leaked_pages(struct kvm *kvm);

/* KVM_BUG: marks the VM dead (kvm->bugged) and traces why. */
void kvm_vm_bugged(struct kvm *kvm, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static inline bool kvm_is_bugged(struct kvm *kvm)
{
	return atomic_load_explicit(&kvm->bugged, memory_order_relaxed);
}

#endif /* TDXMMU_KVM_TDX_HOOKS_H */
