/* SPDX-License-Identifier: MIT */
/*
 * TDH.MEM.PAGE.RELOCATE (leaf 5), tdx-module-sept.md §4.11: move the 4K page
 * mapped at RCX = GPA | level (0 only) to the free page R8; RDX = TDR.
 *
 * Order (the module's tdh_mem_page_relocate.c):
 *  1. §3 prologue: tree lock SHARED, host entry lock, a leaf in MAPPED,
 *     BLOCKED, PENDING or PENDING_BLOCKED else EPT_ENTRY_STATE_INCORRECT + RCX;
 *  2. the mapped HPA equals R8 -> TDX_OPERAND_INVALID + R8;
 *  3. the old page's 4K PAMT entry, exclusive (BUSY + RCX);
 *  4. if the OP_STATE requires TLB tracking: the entry must be BLOCKED or
 *     PENDING_BLOCKED (GPA_RANGE_NOT_BLOCKED + RCX + details) and the old
 *     page's bepoch tracked (TLB_TRACKING_NOT_DONE + RCX, no details);
 *  5. R8: HPA checks, PAMT walk with the 4K entry exclusive, PT_NDA at 4K
 *     (errors + R8).
 * Commit: the content is copied old -> new with the TD's key unless the page
 * is pending (PENDING or PENDING_BLOCKED: its content is not the guest's yet,
 * ACCEPT will zero it); old PAMT <- PT_NDA; new PAMT <- {PT_REG, owner,
 * bepoch 0}; entry <- HPA R8, unblocked (BLOCKED -> MAPPED, PENDING_BLOCKED ->
 * PENDING). CHLDCNT unchanged. RCX = old HPA, RDX = 0. The old page is not
 * cleared: as after PAGE.REMOVE, the host must flush and clear it.
 */
#include "tdx/tdx_internal.h"

uint64_t tdh_mem_page_relocate(struct tdx_module *m, struct seamcall_regs *r)
{
	struct sept_ctx c;
	uint64_t new_hpa = r->r8, status, v, old_hpa;
	_Atomic uint64_t *old_pamt, *new_pamt;
	enum tdx_sept_state s;

	sept_ctx_init(&c, m, r, TDH_MEM_PAGE_RELOCATE);
	status = tdx_mem_prologue(&c, 0, 0, false, true);
	if (status != TDX_SUCCESS)
		goto out;
	v = c.walk_value;
	s = sept_state(v);
	old_hpa = sept_hpa(v);
	if (old_hpa == new_hpa) {
		status = TDX_OPERAND_INVALID + TDX_OPERAND_ID_R8;
		goto out;
	}

	/* The old page is found from the mapping: its 4K entry is locked
	 * directly, without a PAMT walk ([M-pamt] pamt_implicit_get_and_lock). */
	old_pamt = pamt_entry(&m->pamt, hpa_to_pfn(old_hpa), 0);
	if (tdx_busy_injected() || tdx_pamt_try_lock(m, old_pamt, true) != LOCK_OK) {
		status = TDX_OPERAND_BUSY + TDX_OPERAND_ID_RCX;
		goto out;
	}
	c.pamt_locks[c.nr_pamt_locks] = old_pamt;
	c.pamt_excl[c.nr_pamt_locks] = true;
	c.nr_pamt_locks++;

	if (tdx_op_state_tracking_required((enum td_op_state)atomic_load(&c.td->op_state)) &&
	    tdx_sept_state_tlb_tracking_required(s)) {
		if (!tdx_sept_state_any_blocked(s)) {
			tdx_set_entry_details(&c, v, c.level);
			status = TDX_GPA_RANGE_NOT_BLOCKED + TDX_OPERAND_ID_RCX;
			goto out;
		}
		if (!tdx_is_tlb_tracked(c.td, pamt_bepoch(atomic_load(old_pamt)))) {
			status = TDX_TLB_TRACKING_NOT_DONE + TDX_OPERAND_ID_RCX;
			goto out;
		}
	}

	status = tdx_lock_page(&c, new_hpa, 0, true, PT_NDA, TDX_OPERAND_ID_R8,
			       &new_pamt);
	if (status != TDX_SUCCESS)
		goto out;

	/* Commit point. */
	if (s != SEPT_PENDING && s != SEPT_PENDING_BLOCKED)
		host_frame_copy(m->hm, hpa_to_pfn(new_hpa), c.td->hkid,
				hpa_to_pfn(old_hpa), c.td->hkid);
	{
		uint64_t pe = atomic_load_explicit(old_pamt, memory_order_relaxed);

		pamt_set(old_pamt, PT_NDA, pamt_owner(pe), pamt_bepoch(pe));
		tdx_page_freed(m, c.td, hpa_to_pfn(old_hpa), 0, false);
	}
	pamt_set(new_pamt, PT_REG, c.td->index, 0);
	tdx_entry_commit(&c, (sept_unblock(v) & ~SEPT_HPA_MASK) | new_hpa);
	r->rcx = old_hpa;
out:
	sept_ctx_release(&c);
	return status;
}
