/* SPDX-License-Identifier: MIT */
/*
 * TDH.MEM.SEPT.REMOVE (leaf 30), tdx-module-sept.md §4.8 and §7: unlink an
 * empty S-EPT page. RCX = GPA | level (1..pwl) of the parent entry that points
 * at the page, RDX = TDR HPA. On success RCX = HPA of the removed page.
 * Version 1 also reports the L2 S-EPT pages removed in R9..R11: the model
 * has no L2 VMs, so they are all NULL_PA, written on entry as the module
 * does (so on every exit, errors included).
 *
 * Locks: TDR shared, OP_STATE shared, tree EXCLUSIVE, the parent entry's host
 * lock, the child page's PAMT entry (4K) exclusive.
 * Order: the common prologue (§3; allowed NL_MAPPED, NL_BLOCKED) -> the child
 * page's PAMT lock (TDX_OPERAND_BUSY + RCX) -> if OP_STATE requires TLB
 * tracking: the parent must be NL_BLOCKED (TDX_GPA_RANGE_NOT_BLOCKED + RCX
 * with details) and the child page's bepoch tracked
 * (TDX_TLB_TRACKING_NOT_DONE + RCX, no details) -> every one of the 512
 * entries of the child page FREE (REMOVED is not free), else
 * TDX_EPT_PAGE_NOT_FREE + RCX with the parent's details.
 * Effects: parent <- FREE; CHLDCNT -= 1; child PAMT <- PT_NDA. The page is
 * not scrubbed.
 */
#include "tdx/tdx_internal.h"

uint64_t tdh_mem_sept_remove(struct tdx_module *m, struct seamcall_regs *r)
{
	struct sept_ctx c;
	unsigned version = (unsigned)((r->rax >> 16) & 0xFF);
	_Atomic uint64_t *child_pamt, *child;
	uint64_t status, v, child_hpa, pv;

	/* On entry, as the module does: RCX/RDX zeroed and, for version 1,
	 * R9..R11 NULL_PA whatever happens next; version > 1 is refused here,
	 * the registers written (issue 11 item 2.12). */
	if (version > 0)
		r->r9 = r->r10 = r->r11 = TDX_NULL_PA;
	if (version > 1) {
		r->rcx = r->rdx = 0; /* the prologue zeroes them otherwise */
		return TDX_OPERAND_INVALID + TDX_OPERAND_ID_RAX;
	}
	sept_ctx_init(&c, m, r, TDH_MEM_SEPT_REMOVE);
	status = tdx_mem_prologue(&c, 1, 4, true, true);
	if (status != TDX_SUCCESS)
		goto out;
	v = c.walk_value;
	child_hpa = sept_hpa(v);
	child_pamt = pamt_entry(&m->pamt, hpa_to_pfn(child_hpa), 0);
	if (tdx_busy_injected() || tdx_pamt_try_lock(m, child_pamt, true) != LOCK_OK) {
		status = TDX_OPERAND_BUSY + TDX_OPERAND_ID_RCX;
		goto out;
	}
	c.pamt_locks[c.nr_pamt_locks] = child_pamt;
	c.pamt_excl[c.nr_pamt_locks] = true;
	c.nr_pamt_locks++;
	pv = atomic_load_explicit(child_pamt, memory_order_acquire);
	if (tdx_op_state_tracking_required((enum td_op_state)atomic_load(&c.td->op_state))) {
		if (sept_state(v) != SEPT_NL_BLOCKED) {
			tdx_set_entry_details(&c, v, c.walk_level);
			status = TDX_GPA_RANGE_NOT_BLOCKED + TDX_OPERAND_ID_RCX;
			goto out;
		}
		if (!tdx_is_tlb_tracked(c.td, pamt_bepoch(pv))) {
			status = TDX_TLB_TRACKING_NOT_DONE + TDX_OPERAND_ID_RCX;
			goto out;
		}
	}
	/* The exclusive tree lock keeps host SEAMCALLs out of the child page;
	 * a guest ACCEPT may hold an entry's lock bits, which are not part of
	 * its state. */
	child = tdx_sept_page(m, c.td, hpa_to_pfn(child_hpa));
	SCHED_POINT(SCHED_SEPT_READ, SCHED_R, child, "S-EPT child page (512 entries)");
	for (unsigned i = 0; i < 512; i++) {
		uint64_t e = atomic_load_explicit(&child[i], memory_order_acquire);

		if (sept_state(e & ~SEPT_LOCK_BITS) != SEPT_FREE) {
			tdx_set_entry_details(&c, v, c.walk_level);
			status = TDX_EPT_PAGE_NOT_FREE + TDX_OPERAND_ID_RCX;
			goto out;
		}
	}

	/* Commit point. Unlinked first, then the page is given up. */
	tdx_entry_commit(&c, SEPT_FREE_VALUE);
	tdx_chldcnt_add(c.td, -1);
	tdx_sept_page_pamt_set(c.td, child_pamt, PT_NDA, pamt_owner(pv), pamt_bepoch(pv));
	tdx_page_freed(m, c.td, hpa_to_pfn(child_hpa), 0, false);
	r->rcx = child_hpa;
out:
	sept_ctx_release(&c);
	return status;
}
