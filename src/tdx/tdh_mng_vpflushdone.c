/* SPDX-License-Identifier: MIT */
/*
 * TDH.MNG.VPFLUSHDONE (leaf 19): confirm that every vCPU of the TD has been
 * flushed (TDH.VP.FLUSH) and block the TD for teardown. RCX = TDR HPA, locked
 * exclusively (so a vCPU still in guest mode, whose TDH.VP.ENTER holds the
 * TDR shared, makes it TDX_OPERAND_BUSY + RCX, §11.2).
 *
 * Order (1.5.01's tdh_mng_vpflushdone.c, reduced to what the model has): the
 * TDR -> the key ownership table, exclusive (TDX_OPERAND_BUSY + KOT) ->
 * lifecycle HKID_ASSIGNED or KEYS_CONFIGURED else
 * TDX_LIFECYCLE_STATE_INCORRECT -> with the TDCS allocated and initialized,
 * any vCPU still associated -> TDX_FLUSHVP_NOT_DONE.
 * Effects: the key's write-back becomes pending (TDH.MNG.KEY.FREEID waits
 * for a TDH.PHYMEM.CACHE.WB that starts after this), its KOT entry FLUSHED,
 * lifecycle TD_BLOCKED. From here on every S-EPT SEAMCALL answers
 * TDX_TD_KEYS_NOT_CONFIGURED (§4.13), so the TD's pages come back only
 * through TDH.PHYMEM.PAGE.RECLAIM after TDH.MNG.KEY.FREEID.
 */
#include "tdx/tdx_internal.h"

uint64_t tdh_mng_vpflushdone(struct tdx_module *m, struct seamcall_regs *r)
{
	struct sept_ctx c;
	uint64_t status;
	struct tdx_td *td;
	bool kot_locked = false;
	int lc;

	sept_ctx_init(&c, m, r, TDH_MNG_VPFLUSHDONE);
	status = tdx_lock_tdr(&c, r->rcx, TDX_OPERAND_ID_RCX, true);
	if (status != TDX_SUCCESS)
		goto out;
	td = c.td;
	if (tdx_busy_injected() || lockword_try(&m->kot_lock, true, false, LOCK_HOST) != LOCK_OK) {
		status = TDX_OPERAND_BUSY + TDX_OPERAND_ID_KOT;
		goto out;
	}
	kot_locked = true;
	lc = atomic_load(&td->lifecycle);
	if (lc != TD_KEYS_CONFIGURED && lc != TD_HKID_ASSIGNED) {
		status = TDX_LIFECYCLE_STATE_INCORRECT;
		goto out;
	}
	if (td->num_tdcx >= TDX_NUM_TDCS_PAGES &&
	    atomic_load(&td->op_state) != OP_UNINITIALIZED) {
		for (unsigned i = 0; i < atomic_load(&td->nr_vcpus); i++) {
			if (td->vcpus[i].associated) {
				status = TDX_FLUSHVP_NOT_DONE;
				goto out;
			}
		}
	}

	/* Commit point. */
	pthread_mutex_lock(&m->td_table_lock);
	m->kot_wb_pending[td->hkid] = true;
	m->kot_state[td->hkid] = KOT_HKID_FLUSHED;
	pthread_mutex_unlock(&m->td_table_lock);
	atomic_store(&td->lifecycle, TD_BLOCKED);
out:
	if (kot_locked)
		lockword_release(&m->kot_lock, true);
	sept_ctx_release(&c);
	return status;
}
