/* SPDX-License-Identifier: MIT */
/*
 * TDG.MEM.PAGE.ACCEPT (guest TDCALL leaf 6), tdx-module-sept.md §9 and §10.1
 * ([M] td_dispatcher/vm_exits/tdg_mem_page_accept.c): the guest accepts a
 * page the host added with TDH.MEM.PAGE.AUG. RCX = GPA | level (0: 4K,
 * 1: 2M). Called by the CPU model for a vCPU in guest mode (between
 * TDH.VP.ENTER and tdx_td_exit()); a call for a vCPU that is not is a bug of
 * the caller and aborts.
 *
 * Order:
 *  1. RCX: reserved bits, level 0..1, alignment; then a private GPA of the TD
 *     -> TDX_OPERAND_INVALID + RCX;
 *  2. walk toward the level WITHOUT the tree lock (the guest side never takes
 *     it; the TLB-epoch protocol is what keeps a vCPU in guest mode off
 *     S-EPT pages being removed). Stopped above the level:
 *       at a MAPPED leaf -> TDX_PAGE_ALREADY_ACCEPTED + that level (a
 *       warning: bit 63 clear), at anything else (FREE, NL_BLOCKED, a
 *       PENDING or BLOCKED large leaf) -> EPT-violation TD exit;
 *  3. the entry lock, guest flavour (§11.1): held -> TDX_OPERAND_BUSY + RCX;
 *     acquired with HP set (a host call wants it) -> released, and
 *     TDX_OPERAND_BUSY_HOST_PRIORITY, which the guest sees as
 *     TDX_OPERAND_BUSY + RCX ([M] tdx_td_dispatcher.c);
 *  4. at the level: a non-FREE non-leaf -> TDX_PAGE_SIZE_MISMATCH + level;
 *     MAPPED -> TDX_PAGE_ALREADY_ACCEPTED + level; not PENDING (FREE, BLOCKED,
 *     PENDING_BLOCKED) -> EPT-violation TD exit;
 *  5. PENDING: the page is zeroed with the TD's key (a 2M page: all 512
 *     frames) and the entry becomes MAPPED (RWX).
 *
 * A 2M ACCEPT is done in one step: the real module zeroes in 4K steps and may
 * stop on a pending interrupt, keeping its progress in the entry and
 * re-executing the TDCALL; the model has no interrupts, so the counter in bits
 * 20:12 is never used. The hp_lock_timeout TD exit
 * (TDX_HOST_PRIORITY_BUSY_TIMEOUT) is not modeled either: the guest sees BUSY
 * and retries.
 *
 * Cost: every call counts once in the TDCALL counter and adds the TDCALL cost
 * to the modeled time, whatever its outcome (docs/cost-model.md: "for every
 * guest TDCALL it handles").
 */
#include <stdio.h>
#include <stdlib.h>

#include "tdx/tdx_internal.h"
#include "host/model_abort.h"

enum tdcall_result tdg_mem_page_accept(struct tdx_module *m, hpa_t tdvpr,
				       uint64_t rcx, uint64_t *status)
{
	struct seamcall_regs regs = { .rcx = rcx };
	struct sept_ctx c;
	struct tdx_td *td = NULL;
	struct tdx_vcpu *v = tdx_vcpu_of_tdvpr(m, hpa_to_pfn(tdvpr), &td);
	_Atomic uint64_t *e;
	uint64_t old, val, cur, keep;
	enum tdx_sept_state s;

	if (!v || !atomic_load(&v->in_guest)) {
		fprintf(stderr, "tdx: BUG: TDG.MEM.PAGE.ACCEPT from a vCPU not in guest mode\n");
		model_abort();
	}
	host_slot_counter_add(&tdx_counters_mine(m)->accepts, 1);
	host_slot_counter_add_sat(&tdx_counters_mine(m)->modeled_ns, m->tdcall_cost_ns);
	*status = TDX_SUCCESS;

	/* Only the page-info, GPA and walk steps of the host prologue apply;
	 * the context just carries the TD and the walk result. */
	sept_ctx_init(&c, m, &regs, TDG_MEM_PAGE_ACCEPT);
	c.td = td;
	if ((*status = tdx_check_page_info(&c, rcx, 0, 1)) ||
	    (*status = tdx_check_private_gpa(&c)))
		return TDCALL_RETURNED;
	if (tdx_walk(&c) != TDX_SUCCESS) {
		if (sept_state(c.walk_value) == SEPT_MAPPED) {
			*status = TDX_PAGE_ALREADY_ACCEPTED + c.walk_level;
			return TDCALL_RETURNED;
		}
		*status = TDX_SUCCESS;
		return TDCALL_EXIT_EPT_VIOLATION;
	}

	e = c.walk_entry;
	SCHED_POINT(SCHED_TDX_LOCK, SCHED_W, e, "S-EPT entry lock (guest)");
	old = atomic_fetch_or_explicit(e, SEPT_TDEL, memory_order_acquire);
	if (old & SEPT_TDEL) {
		*status = TDX_OPERAND_BUSY + TDX_OPERAND_ID_RCX;
		return TDCALL_RETURNED;
	}
	if (old & SEPT_HP) {
		SCHED_POINT(SCHED_TDX_UNLOCK, SCHED_W, e, "S-EPT entry lock (guest)");
		atomic_fetch_and_explicit(e, ~SEPT_TDEL, memory_order_release);
		*status = TDX_OPERAND_BUSY + TDX_OPERAND_ID_RCX;
		return TDCALL_RETURNED;
	}
	val = old & ~SEPT_LOCK_BITS;
	s = sept_state(val);
	if (!sept_is_leaf(val) && s != SEPT_FREE) {
		*status = TDX_PAGE_SIZE_MISMATCH + c.level;
		goto unlock;
	}
	if (s == SEPT_MAPPED) {
		*status = TDX_PAGE_ALREADY_ACCEPTED + c.level;
		goto unlock;
	}
	if (s != SEPT_PENDING) {
		SCHED_POINT(SCHED_TDX_UNLOCK, SCHED_W, e, "S-EPT entry lock (guest)");
		atomic_fetch_and_explicit(e, ~SEPT_TDEL, memory_order_release);
		return TDCALL_EXIT_EPT_VIOLATION;
	}

	/* A 2M leaf's bits 20:12 are the ACCEPT counter, not HPA bits. */
	if (c.level > 0)
		val &= ~SEPT_ACCEPT_CNT_MASK;
	/* Zero, then map: the guest must never see the page's old content. */
	host_frame_clear_range(m->hm, hpa_to_pfn(sept_hpa(val)), sept_level_pages(c.level),
			       td->hkid);
	val = (val & ~SEPT_TDP) | SEPT_RWX;
	/* Keep the lock bits (TDEL ours, HP set by a host contender
	 * meanwhile). Outside exploration the lock goes in the same
	 * compare-exchange (tdx_entry_commit_unlock() says why that is the
	 * same to everyone else); exploring, the release stays its own step. */
	SCHED_POINT(SCHED_SEPT_WRITE, SCHED_W, e, "S-EPT entry (accept)");
	keep = sched_enabled() ? SEPT_LOCK_BITS : SEPT_HP;
	cur = atomic_load_explicit(e, memory_order_relaxed);
	while (!atomic_compare_exchange_weak_explicit(
		e, &cur, val | (cur & keep), memory_order_release,
		memory_order_relaxed))
		;
	SCHED_NOTE("S-EPT gpa %#llx L%u: PENDING -> MAPPED (accept)",
		   (unsigned long long)c.gpa, c.level);
	TDX_TRACE_SEPT(m, td, c.gpa, c.level, old & ~SEPT_LOCK_BITS, val);
	if (!sched_enabled())
		return TDCALL_RETURNED;
unlock:
	SCHED_POINT(SCHED_TDX_UNLOCK, SCHED_W, e, "S-EPT entry lock (guest)");
	atomic_fetch_and_explicit(e, ~SEPT_TDEL, memory_order_release);
	return TDCALL_RETURNED;
}
