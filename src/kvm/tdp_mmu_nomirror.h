/* SPDX-License-Identifier: MIT */
/*
 * The no-mirror private fault path (benchmarks only): seed 004's rejected
 * alternative. KVM keeps no private (mirror) EPT; to resolve a private fault
 * it reads the Secure EPT with TDH.MEM.SEPT.RD at every level, adds the
 * missing S-EPT pages (TDH.MEM.SEPT.ADD) and AUGs the leaf. It remembers
 * only what it must give back (the leaves it mapped, the S-EPT pages it
 * added) so that zaps and teardown are leak-free.
 *
 * Limits (docs/performance.md): faults run under mmu_lock held for WRITE
 * (without a tree of its own KVM has no entry to freeze or cmpxchg, so
 * concurrent faults would race on the same S-EPT entries); 4K only; no
 * MapGPA conversion, no build-time pages (KVM_TDX_INIT_MEM_REGION uses the
 * mirror path), no invariant checker support. The bench uses it for the
 * fault workload only.
 */
#ifndef TDXMMU_KVM_TDP_MMU_NOMIRROR_H
#define TDXMMU_KVM_TDP_MMU_NOMIRROR_H

#include "kvm/kvm.h"

int kvm_nomirror_init(struct kvm *kvm);
void kvm_nomirror_destroy(struct kvm *kvm);
/* A private EPT violation at gpa: takes mmu_lock for write. RET_PF_FIXED,
 * RET_PF_SPURIOUS, RET_PF_RETRY (BUSY), -EFAULT (no memslot), -EIO. */
int kvm_nomirror_map(struct kvm_vcpu *vcpu, gpa_t gpa);
/* Removes the private leaves in [start, end) (BLOCK each, one TLB flush,
 * REMOVE each). mmu_lock held for write. 0 or -EIO. */
int kvm_nomirror_zap(struct kvm *kvm, gfn_t start, gfn_t end);
/* After the HKID is released: RECLAIMs every S-EPT page it added. mmu_lock
 * held for write. 0 or -EIO. */
int kvm_nomirror_free_spts(struct kvm *kvm);

#endif
