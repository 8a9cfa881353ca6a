/* SPDX-License-Identifier: MIT */
/*
 * TDH.MEM.SEPT.ADD (leaf 3), tdx-module-sept.md §4.1: link a new S-EPT page
 * below the entry at RCX = GPA | level (1..pwl), the new page in R8.
 * RDX bit 0 ALLOW_EXISTING: an entry that is already NL_MAPPED is a success
 * that does not consume the page. Version 1 reports in R8 whether the page was
 * consumed (NULL_PA) or not (its HPA with bit 63 set).
 */
#include "tdx/tdx_internal.h"

uint64_t tdh_mem_sept_add(struct tdx_module *m, struct seamcall_regs *r)
{
	struct sept_ctx c;
	unsigned version = (unsigned)((r->rax >> 16) & 0xFF);
	bool allow_existing = r->rdx & TDX_SEPT_ADD_ALLOW_EXISTING;
	uint64_t new_hpa = r->r8;
	_Atomic uint64_t *page_pamt;
	uint64_t status;

	if (version == 1 && new_hpa != TDX_NULL_PA)
		new_hpa &= ~(1ULL << 63);
	sept_ctx_init(&c, m, r, TDH_MEM_SEPT_ADD);
	status = tdx_mem_prologue(&c, 1, 4, false, true);
	if (status != TDX_SUCCESS)
		goto out;

	if (sept_state(c.walk_value) == SEPT_NL_MAPPED) {
		if (!allow_existing) {
			tdx_set_entry_details(&c, c.walk_value, c.walk_level);
			status = TDX_EPT_ENTRY_STATE_INCORRECT + TDX_OPERAND_ID_RCX;
			goto out;
		}
		if (version == 1)
			r->r8 = new_hpa | (1ULL << 63);
		goto out;
	}

	/* The entry is FREE: the new page must be a free 4K page. A v0 NULL_PA
	 * fails the alignment check as OPERAND_INVALID+R8. */
	status = tdx_lock_page(&c, new_hpa, 0, true, PT_NDA, TDX_OPERAND_ID_R8,
			       &page_pamt);
	if (status != TDX_SUCCESS)
		goto out;

	/* Commit point: nothing below can fail. The page is initialised before
	 * it becomes reachable through the parent entry. */
	tdx_sept_page_init(m, c.td, hpa_to_pfn(new_hpa));
	pamt_set(page_pamt, PT_EPT, c.td->index, 0);
	tdx_chldcnt_add(c.td, 1);
	tdx_entry_commit(&c, sept_make_nl_mapped(new_hpa));
	if (version == 1)
		r->r8 = TDX_NULL_PA;
out:
	sept_ctx_release(&c);
	return status;
}
