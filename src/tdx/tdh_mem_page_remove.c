/* SPDX-License-Identifier: MIT */
/*
 * TDH.MEM.PAGE.REMOVE (leaf 29), tdx-module-sept.md §4.7: take a private page
 * out of the TD. RCX = GPA | level (0..2: 4K, 2M, 1G), RDX = TDR HPA. On
 * success RCX = HPA of the removed page, RDX = 0.
 *
 * Locks: TDR shared, OP_STATE shared, tree shared, the entry's host lock, the
 * removed page's PAMT entry at its leaf size exclusive.
 * Order: the common prologue (§3) with allowed states MAPPED, BLOCKED,
 * PENDING, PENDING_BLOCKED -- all leaves, so a non-leaf at that level is
 * TDX_EPT_ENTRY_STATE_INCORRECT + RCX with details -> the page's PAMT lock
 * (TDX_OPERAND_BUSY + RCX) -> if OP_STATE requires TLB tracking (RUNNABLE,
 * LIVE_*; §3.1): the entry must be blocked (TDX_GPA_RANGE_NOT_BLOCKED + RCX
 * with details) and the page's bepoch tracked (§6;
 * TDX_TLB_TRACKING_NOT_DONE + RCX, no details). Before finalization
 * (INITIALIZED) a MAPPED or PENDING page is removed directly.
 * Effects: entry <- FREE (the model has no import, so never REMOVED);
 * CHLDCNT -= 512^level; PAMT(page) <- PT_NDA (owner, bepoch left stale,
 * §2.2). The content is not cleared: the host must write it back
 * (TDH.PHYMEM.PAGE.WBINVD) and clear it before reuse.
 */
#include "tdx/tdx_internal.h"

uint64_t tdh_mem_page_remove(struct tdx_module *m, struct seamcall_regs *r)
{
	struct sept_ctx c;
	_Atomic uint64_t *page_pamt;
	uint64_t status, v, hpa, pv;
	enum tdx_sept_state s;

	sept_ctx_init(&c, m, r, TDH_MEM_PAGE_REMOVE);
	status = tdx_mem_prologue(&c, 0, 2, false, true);
	if (status != TDX_SUCCESS)
		goto out;
	v = c.walk_value;
	s = sept_state(v);
	hpa = sept_hpa(v);
	page_pamt = pamt_entry(&m->pamt, hpa_to_pfn(hpa), c.level);
	if (tdx_busy_injected() || tdx_pamt_try_lock(m, page_pamt, true) != LOCK_OK) {
		status = TDX_OPERAND_BUSY + TDX_OPERAND_ID_RCX;
		goto out;
	}
	c.pamt_locks[c.nr_pamt_locks] = page_pamt;
	c.pamt_excl[c.nr_pamt_locks] = true;
	c.nr_pamt_locks++;
	pv = atomic_load_explicit(page_pamt, memory_order_acquire);
	if (tdx_op_state_tracking_required((enum td_op_state)atomic_load(&c.td->op_state))) {
		if (!tdx_sept_state_any_blocked(s)) {
			tdx_set_entry_details(&c, v, c.walk_level);
			status = TDX_GPA_RANGE_NOT_BLOCKED + TDX_OPERAND_ID_RCX;
			goto out;
		}
		if (!tdx_is_tlb_tracked(c.td, pamt_bepoch(pv))) {
			status = TDX_TLB_TRACKING_NOT_DONE + TDX_OPERAND_ID_RCX;
			goto out;
		}
	}

	/* Commit point. The entry goes first: once the PAMT says PT_NDA the
	 * page may be handed out again, and nothing may map it by then. */
	tdx_entry_commit(&c, SEPT_FREE_VALUE);
	tdx_chldcnt_add(c.td, -(int64_t)(sept_level_pages(c.level)));
	pamt_set(page_pamt, PT_NDA, pamt_owner(pv), pamt_bepoch(pv));
	tdx_page_freed(m, c.td, hpa_to_pfn(hpa), c.level, false);
	r->rcx = hpa;
out:
	sept_ctx_release(&c);
	return status;
}
