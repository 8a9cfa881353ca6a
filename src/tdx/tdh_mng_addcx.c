/* SPDX-License-Identifier: MIT */
/*
 * TDH.MNG.ADDCX (leaf 1): add one TDCS page to the TD. RCX = the new page (a
 * free 4K page), RDX = TDR HPA, locked exclusively.
 *
 * Simplified model (the reference gives the TDCS only as data, §2.1):
 *  - order: TDR (RDX: HPA checks, BUSY, PT_TDR) -> lifecycle KEYS_CONFIGURED
 *    else TDX_TD_KEYS_NOT_CONFIGURED -> OP_STATE UNINITIALIZED else
 *    TDX_OP_STATE_INCORRECT -> fewer than TDX_NUM_TDCS_PAGES pages so far
 *    else TDX_TDCX_NUM_INCORRECT -> the page (RCX: HPA checks, PAMT lock
 *    exclusive -> BUSY + RCX, PT_NDA at 4K else PAGE_METADATA_INCORRECT + RCX).
 *  - effects: PAMT(page) <- {PT_TDCX, owner}; CHLDCNT += 1 (control pages are
 *    the TD's children until reclaimed, §4.13); the page with index
 *    TDX_TDCS_SEPT_ROOT_INDEX becomes the S-EPT root and is filled with FREE
 *    entries (§2.1: "root = TDCS page index 3, initialised to all-FREE
 *    entries by MNG.ADDCX"); the other pages are cleared with the TD's key.
 */
#include "tdx/tdx_internal.h"

uint64_t tdh_mng_addcx(struct tdx_module *m, struct seamcall_regs *r)
{
	struct sept_ctx c;
	uint64_t page = r->rcx, status;
	_Atomic uint64_t *page_pamt;
	struct tdx_td *td;
	pfn_t pfn = hpa_to_pfn(page);

	sept_ctx_init(&c, m, r, TDH_MNG_ADDCX);
	status = tdx_lock_tdr(&c, r->rdx, TDX_OPERAND_ID_RDX, true);
	if (status != TDX_SUCCESS)
		goto out;
	td = c.td;
	if (atomic_load(&td->lifecycle) != TD_KEYS_CONFIGURED) {
		status = TDX_TD_KEYS_NOT_CONFIGURED;
		goto out;
	}
	if (atomic_load(&td->op_state) != OP_UNINITIALIZED) {
		status = TDX_OP_STATE_INCORRECT;
		goto out;
	}
	if (td->num_tdcx >= TDX_NUM_TDCS_PAGES) {
		status = TDX_TDCX_NUM_INCORRECT;
		goto out;
	}
	status = tdx_lock_page(&c, page, 0, true, PT_NDA, TDX_OPERAND_ID_RCX,
			       &page_pamt);
	if (status != TDX_SUCCESS)
		goto out;

	/* Commit point. The page is initialised before anything can reach it:
	 * the root only becomes walkable once MNG.INIT sets OP_STATE. */
	if (td->num_tdcx == TDX_TDCS_SEPT_ROOT_INDEX) {
		tdx_sept_page_init(m, td, pfn);
		td->sept_root = pfn;
	} else {
		host_frame_clear(m->hm, pfn, td->hkid);
	}
	td->tdcx[td->num_tdcx++] = pfn;
	tdx_chldcnt_add(td, 1);
	pamt_set(page_pamt, PT_TDCX, td->index, 0);
out:
	sept_ctx_release(&c);
	return status;
}
