/* SPDX-License-Identifier: MIT */
/*
 * TDH.PHYMEM.PAGE.WBINVD (leaf 41): write back and invalidate the cache lines
 * of one page, through the key id the host names (KVM passes the TD's key id
 * after TDH.MEM.PAGE.REMOVE or TDH.PHYMEM.PAGE.RECLAIM, before clearing the
 * page for reuse, §4.7). RCX = HPA with the key id in bits HOST_KEYID_SHIFT
 * and up.
 *
 * Model of the module's checks, in its order: the key-id bits are stripped;
 * what remains must be 4K aligned and below MAX_PA (and RCX must not reach
 * beyond the key-id bits) -> else TDX_OPERAND_INVALID + RCX; inside the TDMR
 * -> else TDX_OPERAND_ADDR_RANGE_ERROR + RCX; then, as the module does, the
 * page's PAMT entry is locked shared (TDX_OPERAND_BUSY + RCX) and must be
 * PT_NDA at 4K (no longer assigned, so no TD can write it again) -> else
 * TDX_PAGE_METADATA_INCORRECT + RCX. The key id itself is not checked (as
 * in 1.5.01): a wrong key is a silent no-op for the lines that matter. The
 * module's record of the page's dirty lines (tdx_page_freed()) is cleared
 * when the key matches it.
 */
#include "tdx/tdx_internal.h"

/* Key-id bits of an HPA: HOST_KEYID_SHIFT up to the bits that can name
 * HOST_MAX_KEYID. */
#define KEYID_BITS 6
#define HPA_KEYID_MASK (((1ULL << KEYID_BITS) - 1) << HOST_KEYID_SHIFT)

_Static_assert(HOST_MAX_KEYID < (1 << KEYID_BITS), "key ids fit the HPA field");

uint64_t tdh_phymem_page_wbinvd(struct tdx_module *m, struct seamcall_regs *r)
{
	struct sept_ctx c;
	uint64_t hpa = r->rcx, status;

	sept_ctx_init(&c, m, r, TDH_PHYMEM_PAGE_WBINVD);
	if (hpa >> (HOST_KEYID_SHIFT + KEYID_BITS)) {
		status = TDX_OPERAND_INVALID + TDX_OPERAND_ID_RCX;
		goto out;
	}
	status = tdx_lock_page(&c, hpa & ~HPA_KEYID_MASK, 0, false, PT_NDA,
			       TDX_OPERAND_ID_RCX, NULL);
	if (status == TDX_SUCCESS)
		tdx_page_written_back(m, hpa_to_pfn(hpa & ~HPA_KEYID_MASK),
				      (unsigned)((hpa & HPA_KEYID_MASK) >> HOST_KEYID_SHIFT));
out:
	sept_ctx_release(&c);
	return status;
}
