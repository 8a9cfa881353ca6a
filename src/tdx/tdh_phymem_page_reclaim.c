/* SPDX-License-Identifier: MIT */
/*
 * TDH.PHYMEM.PAGE.RECLAIM (leaf 28), tdx-module-sept.md §4.13: give a page of
 * a TD in teardown back to the host. RCX = HPA.
 *
 * Order:
 *  - RCX: 4K aligned, no key-id bits, below MAX_PA -> TDX_OPERAND_INVALID +
 *    RCX; inside the TDMR -> else TDX_OPERAND_ADDR_RANGE_ERROR + RCX.
 *  - PAMT walk to the page's own size (1G, 2M, then 4K) and lock that entry
 *    exclusively (TDX_OPERAND_BUSY + RCX); PT_NDA or PT_RSVD ->
 *    TDX_PAGE_METADATA_INCORRECT + RCX.
 *  - The outputs are set from here on, as the module does: RCX = page type,
 *    RDX = owner TDR HPA (0 for a TDR itself, whose PAMT owner the module
 *    leaves 0), R8 = size (0 4K, 1 2M, 2 1G).
 *  - A large page whose HPA is not aligned to its size ->
 *    TDX_OPERAND_INVALID + RCX (the outputs above stay).
 *  - Not a TDR: the owner's TDR is locked shared as an implicit operand
 *    (TDX_OPERAND_BUSY + TDR); lifecycle TD_TEARDOWN else
 *    TDX_LIFECYCLE_STATE_INCORRECT; CHLDCNT -= 512^size.
 *  - A TDR: lifecycle TD_TEARDOWN else TDX_LIFECYCLE_STATE_INCORRECT;
 *    CHLDCNT == 0 else TDX_TD_ASSOCIATED_PAGES_EXIST. The module then forgets
 *    the TD (its TDR was the TD).
 * Effect: PAMT entry <- PT_NDA (owner and bepoch left stale, §2.2). The 4K
 * entries under a large page are PT_NDA already (§2.2). The content is not
 * cleared: the host must clear the page before reusing it.
 */
#include <stdlib.h>

#include "tdx/tdx_internal.h"

uint64_t tdh_phymem_page_reclaim(struct tdx_module *m, struct seamcall_regs *r)
{
	struct sept_ctx c;
	uint64_t hpa = r->rcx, v, status;
	_Atomic uint64_t *e;
	enum tdx_page_type pt;
	struct tdx_td *td;
	unsigned size;

	/* Outputs zeroed first, R9..R11 (reserved) included, as the module
	 * does (issue 11 item 2.12). */
	r->rcx = r->rdx = r->r8 = r->r9 = r->r10 = r->r11 = 0;
	sept_ctx_init(&c, m, r, TDH_PHYMEM_PAGE_RECLAIM);
	status = tdx_check_hpa(&c, hpa, 0, TDX_OPERAND_ID_RCX);
	if (status != TDX_SUCCESS)
		goto out;
	e = pamt_walk(&m->pamt, hpa_to_pfn(hpa), &size);
	if (tdx_busy_injected() || tdx_pamt_try_lock(m, e, true) != LOCK_OK) {
		status = TDX_OPERAND_BUSY + TDX_OPERAND_ID_RCX;
		goto out;
	}
	c.pamt_locks[c.nr_pamt_locks] = e;
	c.pamt_excl[c.nr_pamt_locks] = true;
	c.nr_pamt_locks++;
	/* A WBINVD holding a 4K entry of the range shared without its leaf
	 * (pamt.c) holds this one as far as we can tell. */
	if (size == 0 && pamt_4k_absent_held(&m->pamt, hpa_to_pfn(hpa))) {
		status = TDX_OPERAND_BUSY + TDX_OPERAND_ID_RCX;
		goto out;
	}
	v = atomic_load_explicit(e, memory_order_acquire);
	pt = pamt_pt(v);
	td = tdx_td_by_index(m, pamt_owner(v));
	if (pt == PT_NDA || pt == PT_RSVD || !td) {
		/* !td cannot happen: the PAMT names live TDs only. */
		status = TDX_PAGE_METADATA_INCORRECT + TDX_OPERAND_ID_RCX;
		goto out;
	}
	r->rcx = pt;
	r->rdx = pt == PT_TDR ? 0 : pfn_to_hpa(td->tdr);
	r->r8 = size;
	if (hpa & ((PAGE_SIZE << (9 * size)) - 1)) {
		status = TDX_OPERAND_INVALID + TDX_OPERAND_ID_RCX;
		goto out;
	}

	if (pt != PT_TDR) {
		/* The owner cannot be reclaimed meanwhile: its CHLDCNT counts
		 * this page, which we hold. */
		status = tdx_lock_tdr(&c, pfn_to_hpa(td->tdr), TDX_OPERAND_ID_TDR, false);
		if (status != TDX_SUCCESS)
			goto out;
		if (atomic_load(&td->lifecycle) != TD_TEARDOWN) {
			status = TDX_LIFECYCLE_STATE_INCORRECT;
			goto out;
		}

		/* Commit point. */
		tdx_chldcnt_add(td, -(int64_t)(sept_level_pages(size)));
		/* Nothing may walk a root that is no longer the TD's. */
		if (pt == PT_TDCX && td->sept_root == hpa_to_pfn(hpa))
			td->sept_root = 0;
		/* A TDVPR no longer names its vCPU (module.c, vcpu_seen). */
		if (pt == PT_TDVPR)
			atomic_fetch_add_explicit(&tdx_vcpu_map_gen, 1, memory_order_seq_cst);
		if (pt == PT_EPT)
			tdx_sept_page_pamt_set(td, e, PT_NDA, pamt_owner(v), pamt_bepoch(v));
		else
			pamt_set(e, PT_NDA, pamt_owner(v), pamt_bepoch(v));
		tdx_page_freed(m, td, hpa_to_pfn(hpa), size, false);
		goto out;
	}

	if (atomic_load(&td->lifecycle) != TD_TEARDOWN) {
		status = TDX_LIFECYCLE_STATE_INCORRECT;
		goto out;
	}
	if (tdx_chldcnt(td) != 0) {
		status = TDX_TD_ASSOCIATED_PAGES_EXIST;
		goto out;
	}

	/* Commit point. The TDR's PAMT entry is ours (exclusive) until the
	 * release below: any SEAMCALL naming this TDR sees BUSY, then PT_NDA,
	 * and never reaches the freed TD. Nor does a vCPU kept by
	 * tdx_vcpu_of_tdvpr() (module.c). */
	atomic_fetch_add_explicit(&tdx_vcpu_map_gen, 1, memory_order_seq_cst);
	pamt_set(e, PT_NDA, pamt_owner(v), pamt_bepoch(v));
	/* The module wrote the TDR under the global key: its lines need a
	 * WBINVD under that key (the TD's HKID is free by now). */
	tdx_page_freed(m, td, hpa_to_pfn(hpa), 0, true);
	pthread_mutex_lock(&m->td_table_lock);
	atomic_store_explicit(&m->tds[td->index], NULL, memory_order_release);
	pthread_mutex_unlock(&m->td_table_lock);
	free(td);
out:
	sept_ctx_release(&c);
	return status;
}
