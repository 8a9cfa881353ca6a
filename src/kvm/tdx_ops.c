/* SPDX-License-Identifier: MIT */
/* KVM's SEAMCALL wrappers (see tdx_ops.h). */
#include <sched.h>
#include <time.h>

#include "host/host_mem.h"
#include "kvm/tdx_ops.h"
#include "tdx/tdx_module.h"

uint64_t kvm_seamcall(struct kvm *kvm, struct seamcall_regs *r)
{
	uint64_t rcx = r->rcx, rdx = r->rdx, r8 = r->r8;
	int leaf = (int)(r->rax & 0xFFFF);
	uint64_t status = seamcall(kvm->tdx, r);

	TRACE_PROBE(kvm_tdx_seamcall, (leaf, rcx, rdx, r8, status));
	if (trace_on(kvm, kvm_tdx_seamcall)) {
		const char *name = tdx_status_name(status);

		kvm_trace_emit(kvm, TRACE_EV_kvm_tdx_seamcall,
			       "%s rcx 0x%llx rdx 0x%llx r8 0x%llx -> %s 0x%llx",
			       tdx_leaf_name(leaf) ? tdx_leaf_name(leaf) : "?",
			       (unsigned long long)rcx, (unsigned long long)rdx,
			       (unsigned long long)r8, name ? name : "?",
			       (unsigned long long)status);
	}
	return status;
}

static uint64_t call(struct kvm *kvm, int leaf, uint64_t rcx, uint64_t rdx,
		     uint64_t r8, uint64_t r9, struct seamcall_regs *out)
{
	struct seamcall_regs r = { .rax = (uint64_t)leaf, .rcx = rcx, .rdx = rdx,
				   .r8 = r8, .r9 = r9 };
	uint64_t status = kvm_seamcall(kvm, &r);

	if (out)
		*out = r;
	return status;
}

uint64_t kvm_tdh_mem_sept_add(struct kvm *kvm, gpa_t gpa, unsigned level,
			      hpa_t page, struct seamcall_regs *out)
{
	return call(kvm, TDH_MEM_SEPT_ADD, tdx_page_info(gpa, level), kvm->tdr,
		    page, 0, out);
}

uint64_t kvm_tdh_mem_page_add(struct kvm *kvm, gpa_t gpa, hpa_t page,
			      hpa_t source, struct seamcall_regs *out)
{
	return call(kvm, TDH_MEM_PAGE_ADD, tdx_page_info(gpa, 0), kvm->tdr, page,
		    source, out);
}

uint64_t kvm_tdh_mr_extend(struct kvm *kvm, gpa_t gpa, struct seamcall_regs *out)
{
	return call(kvm, TDH_MR_EXTEND, gpa, kvm->tdr, 0, 0, out);
}

uint64_t kvm_tdh_mem_page_aug(struct kvm *kvm, gpa_t gpa, unsigned level,
			      hpa_t page, struct seamcall_regs *out)
{
	return call(kvm, TDH_MEM_PAGE_AUG, tdx_page_info(gpa, level), kvm->tdr,
		    page, 0, out);
}

uint64_t kvm_tdh_mem_range_block(struct kvm *kvm, gpa_t gpa, unsigned level,
				 struct seamcall_regs *out)
{
	return call(kvm, TDH_MEM_RANGE_BLOCK, tdx_page_info(gpa, level), kvm->tdr,
		    0, 0, out);
}

uint64_t kvm_tdh_mem_range_unblock(struct kvm *kvm, gpa_t gpa, unsigned level,
				   struct seamcall_regs *out)
{
	return call(kvm, TDH_MEM_RANGE_UNBLOCK, tdx_page_info(gpa, level), kvm->tdr,
		    0, 0, out);
}

uint64_t kvm_tdh_mem_page_demote(struct kvm *kvm, gpa_t gpa, unsigned level,
				 hpa_t page, struct seamcall_regs *out)
{
	return call(kvm, TDH_MEM_PAGE_DEMOTE, tdx_page_info(gpa, level), kvm->tdr,
		    page, 0, out);
}

uint64_t kvm_tdh_mem_track(struct kvm *kvm)
{
	return call(kvm, TDH_MEM_TRACK, kvm->tdr, 0, 0, 0, NULL);
}

uint64_t kvm_tdh_mem_page_remove(struct kvm *kvm, gpa_t gpa, unsigned level,
				 struct seamcall_regs *out)
{
	return call(kvm, TDH_MEM_PAGE_REMOVE, tdx_page_info(gpa, level), kvm->tdr,
		    0, 0, out);
}

uint64_t kvm_tdh_mem_sept_rd(struct kvm *kvm, gpa_t gpa, unsigned level,
			     struct seamcall_regs *out)
{
	return call(kvm, TDH_MEM_SEPT_RD, tdx_page_info(gpa, level), kvm->tdr, 0,
		    0, out);
}

uint64_t kvm_tdh_phymem_page_reclaim(struct kvm *kvm, hpa_t page,
				     struct seamcall_regs *out)
{
	return call(kvm, TDH_PHYMEM_PAGE_RECLAIM, page, 0, 0, 0, out);
}

uint64_t kvm_tdh_phymem_page_wbinvd(struct kvm *kvm, hpa_t page)
{
	return call(kvm, TDH_PHYMEM_PAGE_WBINVD,
		    page | ((uint64_t)kvm->hkid << HOST_KEYID_SHIFT), 0, 0, 0, NULL);
}

uint64_t kvm_tdh_phymem_page_wbinvd_tdr(struct kvm *kvm)
{
	return call(kvm, TDH_PHYMEM_PAGE_WBINVD,
		    kvm->tdr | ((uint64_t)TDX_GLOBAL_KEYID << HOST_KEYID_SHIFT), 0, 0, 0,
		    NULL);
}

uint64_t kvm_tdh_phymem_cache_wb(struct kvm *kvm)
{
	uint64_t s = call(kvm, TDH_PHYMEM_CACHE_WB, TDX_CACHE_WB_START, 0, 0, 0, NULL);

	/* Each resumed call makes progress (the module saved how far it got),
	 * so this ends. */
	while (s == TDX_INTERRUPTED_RESUMABLE)
		s = call(kvm, TDH_PHYMEM_CACHE_WB, TDX_CACHE_WB_RESUME, 0, 0, 0, NULL);
	return s;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

bool tdx_retry_backoff(struct tdx_retry *rt)
{
	/* Callers that do not go through TDX_RETRY_WAIT still must not sleep
	 * while exploring (tdx_ops.h). */
	return tdx_retry_next(rt, SCHED_WAIT(rt, "SEAMCALL BUSY retry"));
}

bool tdx_retry_next(struct tdx_retry *rt, enum sched_wait_result w)
{
	uint64_t now;

	/* The BUSY just answered was injected, and the injection now picks
	 * every call of that leaf: no retry can succeed, and spending the
	 * budget (10 s a loop; teardown has several) would only delay the
	 * verdict it gives, with no other thread's progress to wait for. */
	if (tdx_last_busy_hopeless())
		return false;
	if (w == SCHED_WAIT_PROGRESS) {
		rt->stalled = false;
		return true;
	}
	if (w == SCHED_WAIT_STALL) {
		if (rt->stalled)
			return false;
		rt->stalled = true;
		return true;
	}
	now = now_ns();

	if (!rt->start_ns)
		rt->start_ns = now ? now : 1;
	else if (now - rt->start_ns >= TDX_RETRY_BUDGET_NS)
		return false;
	if (rt->tries < TDX_RETRY_YIELDS) {
		sched_yield();
	} else {
		unsigned shift = rt->tries - TDX_RETRY_YIELDS;
		uint64_t ns = shift >= 9 ? TDX_RETRY_MAX_SLEEP_NS : 1000ULL << shift;
		struct timespec ts = { .tv_nsec = (long)(ns < TDX_RETRY_MAX_SLEEP_NS ?
							  ns : TDX_RETRY_MAX_SLEEP_NS) };

		nanosleep(&ts, NULL);
	}
	rt->tries++;
	return true;
}
