/* SPDX-License-Identifier: MIT */
/*
 * KVM's legacy (shadow/direct) MMU for a TD: `td mmu=legacy`. The design of
 * seed 000 (kvm-tdx-mmu.md §7): the same two trees as the TDP MMU (a private
 * mirror EPT propagated to the Secure EPT through the hooks of tdx_hooks.c,
 * and the shared EPT the CPU walks), built on the legacy MMU's structures:
 *
 *  - shadow pages looked up by (gfn, role) in a hash, private and shared
 *    pages on separate lists, one private and one shared root (§7.2;
 *    legacy_mmu.c). The tables are the pages of mmu_page.c's arena with the
 *    SPTE format of spte.h, so the CPU's walk of the shared EPT
 *    (cpu/ept_walk.c, from kvm->shared_root) works unchanged;
 *  - the rmap: for every gfn the SPTEs that map it; zaps, TLB flushes and the
 *    release of frames go through it (§7.4; legacy_rmap.c);
 *  - everything under mmu_lock held for WRITE (seed 000 "Race condition":
 *    no concurrent populate or zap, no freezing): faults, MapGPA, zaps and
 *    teardown serialise;
 *  - SPTE_SHARED_MASK only in the private EPT, with seed 000's state machine
 *    (legacy_fault.c, legacy_zap.c):
 *
 *      (private, shared)   meaning
 *      (NP,   NP)          private allowed
 *      (P,    NP)          private mapped
 *      (NP|S, NP)          shared allowed
 *      (NP|S, P)           shared mapped
 *      (ZAP,  NP)          private mapped, PRIVATE_ZAPPED (blocked, kept)
 *      (P,    P)           never
 *
 *  - PRIVATE_ZAPPED (E1 legacy, E2/E6; reference §7.4, §5.6): a zap that
 *    keeps private memory blocks the page in the S-EPT (RANGE.BLOCK) and
 *    keeps the frame in the SPTE and the rmap; one TRACK + kick per rmap
 *    walk; a refault on the same gfn and frame unblocks it (TRACK, then
 *    RANGE.UNBLOCK: the data survives, no re-ACCEPT); a final removal
 *    (MapGPA(shared), memslot deletion, teardown) issues PAGE.REMOVE only.
 *
 * The entry points of kvm.h (EPT violation, MapGPA, the zaps by cause,
 * init_mem_page, teardown) dispatch here at their top when
 * kvm->mmu_kind == KVM_MMU_LEGACY.
 */
#ifndef TDXMMU_KVM_MMU_LEGACY_H
#define TDXMMU_KVM_MMU_LEGACY_H

#include <stdbool.h>
#include <stdint.h>

#include "kvm/kvm.h"
#include "kvm/mmu.h"

static inline bool kvm_is_legacy_mmu(const struct kvm *kvm)
{
	return kvm->mmu_kind == KVM_MMU_LEGACY;
}

/* ---- lifetime (legacy_mmu.c) ---- */

/* After kvm_mmu_init() (arena and both roots): the hash, the page lists
 * with the roots on them, the rmap. 0 or -ENOMEM. */
int kvm_legacy_mmu_init(struct kvm *kvm);
/* Frees the legacy structures (before kvm_mmu_uninit()). */
void kvm_legacy_mmu_uninit(struct kvm *kvm);

/* ---- entry points (dispatched to from tdx_exit.c, mapgpa.c, kvm_zap.c,
 * kvm_main.c) ---- */

/* kvm_tdx_handle_ept_violation() for the legacy MMU (legacy_fault.c). */
int kvm_legacy_handle_ept_violation(struct kvm_vcpu *vcpu, gpa_t gpa);

/**
 * kvm_legacy_mmu_page_fault() - resolve a fault at one GPA (4K)
 * @kvm: the VM.
 * @sept_cache: frames for new Secure-EPT pages (topped up before the lock);
 *	may be NULL for a shared GPA.
 * @gpa: raw GPA, shared bit included.
 *
 * Context: mmu_lock held for write. Seed 000 "map(private GPA)" and
 * "map(shared GPA)". Returns RET_PF_FIXED, RET_PF_SPURIOUS, RET_PF_RETRY
 * (the wrong alias, nothing changed; or a BUSY SEAMCALL rolled back),
 * RET_PF_EMULATE, -EFAULT, -ENOMEM, -EIO.
 */
int kvm_legacy_mmu_page_fault(struct kvm *kvm, struct kvm_mmu_memory_cache *sept_cache,
			      gpa_t gpa);

/* KVM_TDX_INIT_MEM_REGION's fault (write lock taken here). RET_PF_* or -errno. */
int kvm_legacy_mmu_map_init_page(struct kvm *kvm, struct kvm_mmu_memory_cache *sept_cache,
				 gpa_t gpa);

/* mapgpa.c's kvm_mmu_map_gpa() for the legacy MMU (legacy_zap.c): one chunk,
 * slots_lock held. 0, -EBUSY, -ENOMEM, -EIO. */
int kvm_legacy_mmu_map_gpa(struct kvm_vcpu *vcpu, const struct kvm_gfn_range *ranges,
			   unsigned nr, bool to_shared);

/* The zaps by cause (legacy_zap.c); each takes its locks. 0 or -errno. */
int kvm_legacy_mmu_notifier_invalidate(struct kvm *kvm, gfn_t start, gfn_t end);
int kvm_legacy_delete_memslot(struct kvm *kvm, unsigned id);
int kvm_legacy_zap_gfn_range(struct kvm *kvm, gfn_t start, gfn_t end,
			     bool private_alias, bool shared_alias);

/* Teardown step 1 (HKID assigned; write lock held): every private leaf
 * removed (present: BLOCK, one TRACK, REMOVE; PRIVATE_ZAPPED: REMOVE).
 * Returns the number removed or -EIO. */
int kvm_legacy_mmu_zap_all_private(struct kvm *kvm);
/* Teardown step 3 (HKID released; write lock held): both trees freed,
 * S-EPT pages RECLAIMed, roots gone (kvm->*_root NULL). */
void kvm_legacy_mmu_free_all(struct kvm *kvm);

/* ---- observers (same contracts as the kvm_tdp_mmu_ ones, tdp_mmu.h) ---- */

void kvm_legacy_mmu_read_4k(struct kvm *kvm, gfn_t gfn, uint64_t *private_spte,
			    uint64_t *shared_spte);
void kvm_legacy_mmu_walk(struct kvm *kvm, bool private_root, kvm_mmu_walk_fn fn,
			 void *arg);

/**
 * kvm_legacy_mmu_audit() - the legacy MMU's own consistency (for `check`)
 * @kvm: the VM; mmu_lock held (any mode) or the VM quiescent.
 * @report: called with one line per violation.
 * @arg: passed to report.
 *
 * rmap <-> SPTEs both ways (every present leaf and every PRIVATE_ZAPPED
 * leaf is in the rmap of its gfn, every rmap entry is such a leaf of that
 * gfn, at most one private and one shared entry per gfn); every table is in
 * the hash under its (gfn, role) and on the list of its tree; the shared
 * EPT carries neither SPTE_SHARED_MASK nor PRIVATE_ZAPPED; no present or
 * PRIVATE_ZAPPED private entry carries SPTE_SHARED_MASK.
 *
 * Return: the number of violations.
 */
int kvm_legacy_mmu_audit(struct kvm *kvm, void (*report)(void *arg, const char *line),
			 void *arg);

#endif /* TDXMMU_KVM_MMU_LEGACY_H */
