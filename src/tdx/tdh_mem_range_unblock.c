/* SPDX-License-Identifier: MIT */
/*
 * TDH.MEM.RANGE.UNBLOCK (leaf 39), tdx-module-sept.md §4.6: undo a
 * RANGE.BLOCK. RCX = GPA | level (0..pwl), RDX = TDR HPA.
 *
 * Locks as RANGE.BLOCK: TDR shared, OP_STATE shared, tree EXCLUSIVE, the
 * entry's host lock.
 * Order: the common prologue (§3; allowed NL_BLOCKED, BLOCKED,
 * PENDING_BLOCKED) -> if OP_STATE requires TLB tracking (§3.1): the bepoch of
 * the blocked object -- the child S-EPT page (4K) for a non-leaf, the mapped
 * page at its leaf size for a leaf, as RANGE.BLOCK recorded it -- must be
 * tracked (§6), else TDX_TLB_TRACKING_NOT_DONE + SEPT_TREE (0x92), with no
 * RCX/RDX details. Before finalization no tracking is needed.
 * Effects: NL_BLOCKED -> NL_MAPPED, BLOCKED -> MAPPED (RWX back),
 * PENDING_BLOCKED -> PENDING. Output RCX/RDX = 0.
 */
#include "tdx/tdx_internal.h"

uint64_t tdh_mem_range_unblock(struct tdx_module *m, struct seamcall_regs *r)
{
	struct sept_ctx c;
	uint64_t status, v;
	unsigned pamt_size;

	sept_ctx_init(&c, m, r, TDH_MEM_RANGE_UNBLOCK);
	status = tdx_mem_prologue(&c, 0, 4, true, true);
	if (status != TDX_SUCCESS)
		goto out;
	v = c.walk_value;
	if (tdx_op_state_tracking_required((enum td_op_state)atomic_load(&c.td->op_state))) {
		pamt_size = sept_is_leaf(v) ? c.level : 0;
		if (!tdx_is_tlb_tracked(c.td, pamt_bepoch(atomic_load_explicit(
				pamt_entry(&m->pamt, hpa_to_pfn(sept_hpa(v)), pamt_size),
				memory_order_acquire)))) {
			status = TDX_TLB_TRACKING_NOT_DONE + TDX_OPERAND_ID_SEPT;
			goto out;
		}
	}

	/* Commit point. */
	tdx_entry_commit(&c, sept_unblock(v));
out:
	sept_ctx_release(&c);
	return status;
}
