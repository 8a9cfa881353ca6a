/* SPDX-License-Identifier: MIT */
/*
 * KVM's SEAMCALL wrappers, one per leaf (Linux keeps these in
 * arch/x86/virt/vmx/tdx/tdx.c as tdh_*()). They lay operands out as the ABI
 * wants, trace the call, and return the raw 64-bit status; callers decide
 * what a status means. `level` is the TDX module's level (0 = 4K).
 */
#ifndef TDXMMU_KVM_TDX_OPS_H
#define TDXMMU_KVM_TDX_OPS_H

#include "kvm/kvm.h"
#include "tdx/seamcall.h"

/* Issues one SEAMCALL for this VM and traces it. */
uint64_t kvm_seamcall(struct kvm *kvm, struct seamcall_regs *r);

uint64_t kvm_tdh_mem_sept_add(struct kvm *kvm, gpa_t gpa, unsigned level,
			      hpa_t page, struct seamcall_regs *out);
uint64_t kvm_tdh_mem_page_add(struct kvm *kvm, gpa_t gpa, hpa_t page,
			      hpa_t source, struct seamcall_regs *out);
uint64_t kvm_tdh_mr_extend(struct kvm *kvm, gpa_t gpa, struct seamcall_regs *out);
uint64_t kvm_tdh_mem_page_aug(struct kvm *kvm, gpa_t gpa, unsigned level,
			      hpa_t page, struct seamcall_regs *out);
uint64_t kvm_tdh_mem_range_block(struct kvm *kvm, gpa_t gpa, unsigned level,
				 struct seamcall_regs *out);
uint64_t kvm_tdh_mem_range_unblock(struct kvm *kvm, gpa_t gpa, unsigned level,
				   struct seamcall_regs *out);
uint64_t kvm_tdh_mem_track(struct kvm *kvm);
uint64_t kvm_tdh_mem_page_remove(struct kvm *kvm, gpa_t gpa, unsigned level,
				 struct seamcall_regs *out);
uint64_t kvm_tdh_mem_sept_remove(struct kvm *kvm, gpa_t gpa, unsigned level,
				 struct seamcall_regs *out);
uint64_t kvm_tdh_mem_sept_rd(struct kvm *kvm, gpa_t gpa, unsigned level,
			     struct seamcall_regs *out);
uint64_t kvm_tdh_mr_finalize(struct kvm *kvm);
uint64_t kvm_tdh_phymem_page_reclaim(struct kvm *kvm, hpa_t page,
				     struct seamcall_regs *out);
uint64_t kvm_tdh_phymem_page_wbinvd(struct kvm *kvm, hpa_t page);

#endif /* TDXMMU_KVM_TDX_OPS_H */
