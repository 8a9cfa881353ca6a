/* SPDX-License-Identifier: MIT */
/*
 * TDH.MNG.KEY.FREEID (leaf 20): release the TD's private key id. RCX = TDR
 * HPA, locked exclusively.
 *
 * Simplified model: lifecycle TD_BLOCKED (after TDH.MNG.VPFLUSHDONE) else
 * TDX_LIFECYCLE_STATE_INCORRECT. Effects: lifecycle TD_TEARDOWN, in which
 * TDH.PHYMEM.PAGE.RECLAIM gives back the TD's pages (§4.13); the key id is
 * free for another TDH.MNG.CREATE. (The real module also requires the caches
 * written back, TDH.PHYMEM.CACHE.WB; the model has no caches, see
 * tdh_phymem_cache_wb.c.)
 */
#include "tdx/tdx_internal.h"

uint64_t tdh_mng_key_freeid(struct tdx_module *m, struct seamcall_regs *r)
{
	struct sept_ctx c;
	uint64_t status;
	struct tdx_td *td;

	sept_ctx_init(&c, m, r, TDH_MNG_KEY_FREEID);
	status = tdx_lock_tdr(&c, r->rcx, TDX_OPERAND_ID_RCX, true);
	if (status != TDX_SUCCESS)
		goto out;
	td = c.td;
	if (atomic_load(&td->lifecycle) != TD_BLOCKED) {
		status = TDX_LIFECYCLE_STATE_INCORRECT;
		goto out;
	}

	/* Commit point. */
	atomic_store(&td->lifecycle, TD_TEARDOWN);
	pthread_mutex_lock(&m->td_table_lock);
	m->hkid_used[td->hkid] = false;
	pthread_mutex_unlock(&m->td_table_lock);
out:
	sept_ctx_release(&c);
	return status;
}
