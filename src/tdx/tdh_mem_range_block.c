/* SPDX-License-Identifier: MIT */
/*
 * TDH.MEM.RANGE.BLOCK (leaf 7), tdx-module-sept.md §4.4: make the entry at
 * RCX = GPA | level non-present for the CPU while keeping what it maps, so the
 * page (or the whole table below a non-leaf) can be removed once the TLBs are
 * tracked. Takes the S-EPT tree lock exclusively, so it conflicts with every
 * other S-EPT operation on the TD. Records the current TD epoch as the
 * blocked object's bepoch: the mapped page for a leaf, the child S-EPT page
 * for a non-leaf. Blocking an already blocked entry is a warning.
 */
#include "tdx/tdx_internal.h"

uint64_t tdh_mem_range_block(struct tdx_module *m, struct seamcall_regs *r)
{
	struct sept_ctx c;
	enum tdx_sept_state s;
	uint64_t status, v;
	unsigned pamt_size;

	sept_ctx_init(&c, m, r, TDH_MEM_RANGE_BLOCK);
	status = tdx_mem_prologue(&c, 0, 4, true, false);
	if (status != TDX_SUCCESS)
		goto out;
	v = c.walk_value;
	s = sept_state(v);
	if (!tdx_sept_state_allowed(TDH_MEM_RANGE_BLOCK, s)) {
		tdx_set_entry_details(&c, v, c.walk_level);
		status = tdx_sept_state_any_blocked(s)
				 ? TDX_GPA_RANGE_ALREADY_BLOCKED + TDX_OPERAND_ID_RCX
				 : TDX_EPT_ENTRY_STATE_INCORRECT + TDX_OPERAND_ID_RCX;
		goto out;
	}

	/* Commit point. */
	pamt_size = s == SEPT_NL_MAPPED ? 0 : c.level;
	pamt_set_bepoch(pamt_entry(&m->pamt, hpa_to_pfn(sept_hpa(v)), pamt_size),
			tdx_current_epoch(c.td));
	tdx_entry_commit_unlock(&c, sept_block(v, c.level));
out:
	sept_ctx_release(&c);
	return status;
}
