/* SPDX-License-Identifier: MIT */
/*
 * TDH.MEM.SEPT.ADD (leaf 3), tdx-module-sept.md §4.1: link a new S-EPT page
 * below the entry at RCX = GPA | level (1..pwl), the new page in R8.
 * RDX bit 0 ALLOW_EXISTING: an entry that is already NL_MAPPED is a success
 * that does not consume the page.
 *
 * Versions, as the TDX module 1.5.01 handles them (its tdh_mem_sept_add.c,
 * read for behaviour; issue 11 item 2.12):
 *  - RCX and RDX are zeroed on entry (they carry entry details on errors).
 *  - version > 1: TDX_OPERAND_INVALID + RAX, no other register written.
 *  - R8 (and for version 1 R9..R11, the L2 VMs' pages) has bit 63 ignored
 *    in every version unless it is NULL_PA (all ones).
 *  - R8 = NULL_PA: version 0 -> TDX_OPERAND_INVALID + R8; version 1 means
 *    "no new L1 page": success if the entry is NL_MAPPED already (whatever
 *    ALLOW_EXISTING says), else TDX_EPT_ENTRY_STATE_INCORRECT + RCX with
 *    the entry's details. Checked after the entry's state.
 *  - a page given for an entry that is NL_MAPPED: ALLOW_EXISTING makes it
 *    a success that reports the page unused (its HPA with bit 63 set);
 *    without it, TDX_EPT_ENTRY_STATE_INCORRECT + RCX with details.
 *  - version 1, R9..R11 not NULL_PA: the model's TDs have no L2 VM, so
 *    TDX_OPERAND_INVALID + R9/R10/R11 (the module's "VM does not exist").
 *  - version 1 writes R8..R11 back on every exit after the version check,
 *    errors included: NULL_PA for a page consumed, the page with bit 63 set
 *    for one not used, else the page as given (bit 63 cleared).
 */
#include "tdx/tdx_internal.h"

uint64_t tdh_mem_sept_add(struct tdx_module *m, struct seamcall_regs *r)
{
	struct sept_ctx c;
	unsigned version = (unsigned)((r->rax >> 16) & 0xFF);
	bool allow_existing = r->rdx & TDX_SEPT_ADD_ALLOW_EXISTING;
	/* [0] the L1 page (R8), [1..3] the L2 VMs' pages (R9..R11, v1). */
	uint64_t pa[4] = { r->r8, r->r9, r->r10, r->r11 };
	_Atomic uint64_t *page_pamt;
	uint64_t status;

	sept_ctx_init(&c, m, r, TDH_MEM_SEPT_ADD);
	if (version > 1) {
		r->rcx = r->rdx = 0;
		return TDX_OPERAND_INVALID + TDX_OPERAND_ID_RAX;
	}
	for (unsigned i = 0; i < 4; i++)
		if (pa[i] != TDX_NULL_PA)
			pa[i] &= ~(1ULL << 63);
	if (version == 0)
		pa[1] = pa[2] = pa[3] = TDX_NULL_PA;
	status = tdx_mem_prologue(&c, 1, 4, false, true);
	if (status != TDX_SUCCESS)
		goto out;

	if (pa[0] == TDX_NULL_PA) {
		if (version == 0) {
			status = TDX_OPERAND_INVALID + TDX_OPERAND_ID_R8;
			goto out;
		}
		if (sept_state(c.walk_value) != SEPT_NL_MAPPED) {
			tdx_set_entry_details(&c, c.walk_value, c.walk_level);
			status = TDX_EPT_ENTRY_STATE_INCORRECT + TDX_OPERAND_ID_RCX;
			goto out;
		}
	} else if (sept_state(c.walk_value) == SEPT_NL_MAPPED) {
		if (!allow_existing) {
			tdx_set_entry_details(&c, c.walk_value, c.walk_level);
			status = TDX_EPT_ENTRY_STATE_INCORRECT + TDX_OPERAND_ID_RCX;
			goto out;
		}
		pa[0] |= 1ULL << 63; /* not used */
	} else {
		/* The entry is FREE: the new page must be a free 4K page. */
		status = tdx_lock_page(&c, pa[0], 0, true, PT_NDA, TDX_OPERAND_ID_R8,
				       &page_pamt);
		if (status != TDX_SUCCESS)
			goto out;
	}
	/* The L2 VMs' pages: none exists in the model. */
	for (unsigned i = 1; i < 4; i++) {
		if (pa[i] != TDX_NULL_PA) {
			status = TDX_OPERAND_INVALID + TDX_OPERAND_ID_R8 + i;
			goto out;
		}
	}

	if (!(pa[0] & (1ULL << 63))) {
		/* Commit point: nothing below can fail. The page is
		 * initialised before it becomes reachable through the parent
		 * entry. */
		tdx_sept_page_init(m, c.td, hpa_to_pfn(pa[0]));
		pamt_set(page_pamt, PT_EPT, c.td->index, 0);
		tdx_chldcnt_add(c.td, 1);
		tdx_entry_commit(&c, sept_make_nl_mapped(pa[0]));
		pa[0] = TDX_NULL_PA;
	}
out:
	if (version == 1) {
		r->r8 = pa[0];
		r->r9 = pa[1];
		r->r10 = pa[2];
		r->r11 = pa[3];
	}
	sept_ctx_release(&c);
	return status;
}
