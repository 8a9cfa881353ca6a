/* SPDX-License-Identifier: MIT */
/*
 * KVM's SEAMCALL wrappers, one per leaf (Linux keeps these in
 * arch/x86/virt/vmx/tdx/tdx.c as tdh_*()). They lay operands out as the ABI
 * wants, trace the call, and return the raw 64-bit status; callers decide
 * what a status means. `level` is the TDX module's level (0 = 4K).
 */
#ifndef TDXMMU_KVM_TDX_OPS_H
#define TDXMMU_KVM_TDX_OPS_H

#include <stdbool.h>

#include "explore/sched.h"
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
/* TDH.MEM.PAGE.DEMOTE of the large leaf at gpa/level into the new S-EPT
 * page `page` (hugepages ref §4.3 step 3; no flag in RDX). */
uint64_t kvm_tdh_mem_page_demote(struct kvm *kvm, gpa_t gpa, unsigned level,
				 hpa_t page, struct seamcall_regs *out);
uint64_t kvm_tdh_mem_page_remove(struct kvm *kvm, gpa_t gpa, unsigned level,
				 struct seamcall_regs *out);
uint64_t kvm_tdh_mem_sept_rd(struct kvm *kvm, gpa_t gpa, unsigned level,
			     struct seamcall_regs *out);
uint64_t kvm_tdh_phymem_page_reclaim(struct kvm *kvm, hpa_t page,
				     struct seamcall_regs *out);
uint64_t kvm_tdh_phymem_page_wbinvd(struct kvm *kvm, hpa_t page);
/* WBINVD of the reclaimed TDR: under the TDX global key, the TD's HKID is
 * free by then (upstream tdh_phymem_page_wbinvd_tdr). */
uint64_t kvm_tdh_phymem_page_wbinvd_tdr(struct kvm *kvm);
/* TDH.PHYMEM.CACHE.WB, resumed while the module answers
 * TDX_INTERRUPTED_RESUMABLE (upstream tdh_phymem_cache_wb's loop). */
uint64_t kvm_tdh_phymem_cache_wb(struct kvm *kvm);

/*
 * Retrying a SEAMCALL that answered BUSY (issue 11 item 2.13). On hardware
 * a SEAMCALL is not preemptible, so a lock holder leaves within
 * microseconds; in the model the holder is an OS thread that can be
 * preempted for milliseconds while it holds a module lock. A bound on the
 * number of tries turns such a delay into a failure (the long stress runs
 * met 1000 BUSY VP.ENTERs in a few ms), so retries are bounded by wall
 * time instead, with back-off: sched_yield() for the first tries (the
 * usual holder is one SEAMCALL away from done), then sleeps doubling from
 * 1 us up to TDX_RETRY_MAX_SLEEP_NS, until TDX_RETRY_BUDGET_NS have passed
 * since the first try. Running out means the holder never left: KVM calls
 * that a bug, as before.
 */
#define TDX_RETRY_BUDGET_NS (10ULL * 1000 * 1000 * 1000)
#define TDX_RETRY_YIELDS 16
#define TDX_RETRY_MAX_SLEEP_NS (256ULL * 1000)

struct tdx_retry {
	uint64_t start_ns; /* 0: not started */
	unsigned tries;
	bool stalled;      /* exploring: the last wait was a STALL */
};
#define TDX_RETRY_INIT ((struct tdx_retry){ 0, 0, false })

/*
 * Waits before the next try; false once the budget is spent (no wait).
 * While exploring (explore/sched.h) the lock holder cannot run while this
 * thread sleeps holding the baton, so the wait is a SCHED_WAIT instead,
 * which neither sleeps nor spends the budget: tdx_retry_next() decides.
 */
bool tdx_retry_backoff(struct tdx_retry *rt);

/*
 * The decision after a wait that answered w: NONE, not exploring: the
 * back-off and the time budget. PROGRESS: try again. STALL (every thread
 * waits, none wrote since this wait began): try once more, since what the
 * failed try met may have changed between it and the wait (a kick in
 * between sends the vCPU out before we wait); a second STALL in a row
 * means the BUSY can never clear, the verdict the budget would give.
 */
bool tdx_retry_next(struct tdx_retry *rt, enum sched_wait_result w);

/* tdx_retry_backoff() with the wait's explanation (obj, what) at the
 * caller's source line. */
#define TDX_RETRY_WAIT(rt_, obj_, what_) \
	tdx_retry_next((rt_), SCHED_WAIT((obj_), (what_)))

#endif /* TDXMMU_KVM_TDX_OPS_H */
