/* SPDX-License-Identifier: MIT */
/*
 * TDH.MEM.PAGE.AUG (leaf 6), tdx-module-sept.md §4.3: add a page at run time.
 * RCX = GPA | level (0: 4K, 1: 2M; no 1G AUG), R8 = the page. The entry
 * becomes a PENDING leaf: the guest cannot use it until TDG.MEM.PAGE.ACCEPT,
 * which zeroes it. AUG itself does not initialise the content.
 */
#include "tdx/tdx_internal.h"

uint64_t tdh_mem_page_aug(struct tdx_module *m, struct seamcall_regs *r)
{
	struct sept_ctx c;
	uint64_t hpa = r->r8, status;
	_Atomic uint64_t *page_pamt;

	sept_ctx_init(&c, m, r, TDH_MEM_PAGE_AUG);
	status = tdx_mem_prologue(&c, 0, 1, false, true);
	if (status != TDX_SUCCESS)
		goto out;
	/* A 2M AUG needs a 2M-aligned HPA whose 2M entry and all 512 4K entries
	 * are PT_NDA (tdx_lock_page checks both). */
	status = tdx_lock_page(&c, hpa, c.level, true, PT_NDA, TDX_OPERAND_ID_R8,
			       &page_pamt);
	if (status != TDX_SUCCESS)
		goto out;

	/* Commit point. */
	pamt_set(page_pamt, PT_REG, c.td->index, 0);
	tdx_chldcnt_add(c.td, (int64_t)(sept_level_pages(c.level)));
	tdx_entry_commit_unlock(&c, sept_make_leaf(hpa, true));
out:
	sept_ctx_release(&c);
	return status;
}
