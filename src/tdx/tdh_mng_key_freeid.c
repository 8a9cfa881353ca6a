/* SPDX-License-Identifier: MIT */
/*
 * TDH.MNG.KEY.FREEID (leaf 20): release the TD's private key id. RCX = TDR
 * HPA, locked exclusively.
 *
 * Order (1.5.01's tdh_mng_key_freeid.c): the TDR -> lifecycle TD_BLOCKED
 * (after TDH.MNG.VPFLUSHDONE) else TDX_LIFECYCLE_STATE_INCORRECT -> the key
 * ownership table, exclusive (TDX_OPERAND_BUSY + KOT) -> the key's
 * write-back must be done: a TDH.PHYMEM.CACHE.WB that started after
 * VPFLUSHDONE has completed, else TDX_WBCACHE_NOT_COMPLETE (issue 11 item
 * 2.5: the model used to check the lifecycle only, so a VMM that skipped
 * CACHE.WB went unseen).
 * Effects: the key id is FREE (another TDH.MNG.CREATE may take it);
 * lifecycle TD_TEARDOWN, in which TDH.PHYMEM.PAGE.RECLAIM gives back the
 * TD's pages (§4.13).
 */
#include "tdx/tdx_internal.h"

uint64_t tdh_mng_key_freeid(struct tdx_module *m, struct seamcall_regs *r)
{
	struct sept_ctx c;
	uint64_t status;
	struct tdx_td *td;
	bool kot_locked = false;

	sept_ctx_init(&c, m, r, TDH_MNG_KEY_FREEID);
	status = tdx_lock_tdr(&c, r->rcx, TDX_OPERAND_ID_RCX, true);
	if (status != TDX_SUCCESS)
		goto out;
	td = c.td;
	if (atomic_load(&td->lifecycle) != TD_BLOCKED) {
		status = TDX_LIFECYCLE_STATE_INCORRECT;
		goto out;
	}
	if (tdx_busy_injected() || lockword_try(&m->kot_lock, true, false, LOCK_HOST) != LOCK_OK) {
		status = TDX_OPERAND_BUSY + TDX_OPERAND_ID_KOT;
		goto out;
	}
	kot_locked = true;
	pthread_mutex_lock(&m->td_table_lock);
	if (m->kot_wb_pending[td->hkid]) {
		pthread_mutex_unlock(&m->td_table_lock);
		status = TDX_WBCACHE_NOT_COMPLETE;
		goto out;
	}

	/* Commit point. */
	m->kot_state[td->hkid] = KOT_HKID_FREE;
	pthread_mutex_unlock(&m->td_table_lock);
	atomic_store(&td->lifecycle, TD_TEARDOWN);
out:
	if (kot_locked)
		lockword_release(&m->kot_lock, true);
	sept_ctx_release(&c);
	return status;
}
