/* SPDX-License-Identifier: MIT */
/*
 * TDH.MEM.SEPT.RD (leaf 25), tdx-module-sept.md §4.12: read one S-EPT entry.
 * RCX = GPA | level (0..pwl), RDX = TDR HPA with bit 0 = "also read the L2
 * attributes". Works in any entry state.
 *
 * Order (the module's): TDR (RDX with bit 0 masked off) -> the common state
 * step and the OP_STATE lock, shared (§3 steps 3-4; every OP_STATE but
 * UNINITIALIZED, §3.1) -> bit 0 set: TDX_OPERAND_INVALID + RDX, since reading
 * L2 attributes needs a debug TD and the model has none -> page info -> private
 * GPA -> tree lock shared -> walk to the level (TDX_EPT_WALK_FAILED + RCX with
 * the stopping entry in RCX/RDX) -> the entry's host lock, taken briefly
 * (TDX_OPERAND_BUSY + RCX with details; a failed attempt sets the entry's HP
 * flag, §11.1).
 * Output: RCX = the architectural entry, RDX = level | public state << 8
 * (§1.6), of the entry at the requested level.
 */
#include "tdx/tdx_internal.h"

#define SEPT_RD_L2_ATTRIBUTES 1ULL

uint64_t tdh_mem_sept_rd(struct tdx_module *m, struct seamcall_regs *r)
{
	struct sept_ctx c;
	uint64_t rcx = r->rcx, rdx = r->rdx, status;

	r->rcx = r->rdx = 0;
	sept_ctx_init(&c, m, r, TDH_MEM_SEPT_RD);
	if ((status = tdx_lock_tdr(&c, rdx & ~SEPT_RD_L2_ATTRIBUTES,
				   TDX_OPERAND_ID_RDX, false)) ||
	    (status = tdx_check_td_keys(&c)) ||
	    (status = tdx_check_op_state(&c, true)))
		goto out;
	if (rdx & SEPT_RD_L2_ATTRIBUTES) {
		status = TDX_OPERAND_INVALID + TDX_OPERAND_ID_RDX;
		goto out;
	}
	if ((status = tdx_check_page_info(&c, rcx, 0, c.td->pwl)) ||
	    (status = tdx_check_private_gpa(&c)) ||
	    (status = tdx_lock_sept_tree(&c, false)) ||
	    (status = tdx_walk(&c)) ||
	    (status = tdx_lock_entry(&c)))
		goto out;

	/* Re-read under the entry lock; the lock bits are not the entry's. */
	SCHED_POINT(SCHED_SEPT_READ, SCHED_R, c.walk_entry, "S-EPT entry");
	c.walk_value = atomic_load_explicit(c.walk_entry, memory_order_acquire) &
		       ~SEPT_LOCK_BITS;
	tdx_set_entry_details(&c, c.walk_value, c.walk_level);
out:
	sept_ctx_release(&c);
	return status;
}
