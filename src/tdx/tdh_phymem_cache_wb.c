/* SPDX-License-Identifier: MIT */
/*
 * TDH.PHYMEM.CACHE.WB (leaf 40): write back and invalidate the caches of the
 * package, between TDH.MNG.VPFLUSHDONE and TDH.MNG.KEY.FREEID, so that no
 * dirty line encrypted with the key being released survives.
 *
 * The model has no caches (host frames hold their content and key directly),
 * so there is nothing to write back: the leaf always succeeds, and it is not
 * interruptible (the real one may return TDX_INTERRUPTED_RESUMABLE and take a
 * resume flag in RCX; the model ignores RCX).
 */
#include "tdx/tdx_internal.h"

uint64_t tdh_phymem_cache_wb(struct tdx_module *m, struct seamcall_regs *r)
{
	(void)m;
	(void)r;
	return TDX_SUCCESS;
}
