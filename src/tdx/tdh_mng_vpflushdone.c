/* SPDX-License-Identifier: MIT */
/*
 * TDH.MNG.VPFLUSHDONE (leaf 19): confirm that every vCPU of the TD has been
 * flushed (TDH.VP.FLUSH) and block the TD for teardown. RCX = TDR HPA, locked
 * exclusively (so a vCPU still in guest mode, whose TDH.VP.ENTER holds the
 * TDR shared, makes it TDX_OPERAND_BUSY + RCX, §11.2).
 *
 * Simplified model: lifecycle KEYS_CONFIGURED else
 * TDX_LIFECYCLE_STATE_INCORRECT; any vCPU still associated ->
 * TDX_FLUSHVP_NOT_DONE. Effect: lifecycle TD_BLOCKED. From here on every
 * S-EPT SEAMCALL answers TDX_TD_KEYS_NOT_CONFIGURED (§4.13), so the TD's
 * pages come back only through TDH.PHYMEM.PAGE.RECLAIM after
 * TDH.MNG.KEY.FREEID.
 */
#include "tdx/tdx_internal.h"

uint64_t tdh_mng_vpflushdone(struct tdx_module *m, struct seamcall_regs *r)
{
	struct sept_ctx c;
	uint64_t status;
	struct tdx_td *td;

	sept_ctx_init(&c, m, r, TDH_MNG_VPFLUSHDONE);
	status = tdx_lock_tdr(&c, r->rcx, TDX_OPERAND_ID_RCX, true);
	if (status != TDX_SUCCESS)
		goto out;
	td = c.td;
	if (atomic_load(&td->lifecycle) != TD_KEYS_CONFIGURED) {
		status = TDX_LIFECYCLE_STATE_INCORRECT;
		goto out;
	}
	for (unsigned i = 0; i < atomic_load(&td->nr_vcpus); i++) {
		if (td->vcpus[i].associated) {
			status = TDX_FLUSHVP_NOT_DONE;
			goto out;
		}
	}

	/* Commit point. */
	atomic_store(&td->lifecycle, TD_BLOCKED);
out:
	sept_ctx_release(&c);
	return status;
}
