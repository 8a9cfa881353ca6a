/* SPDX-License-Identifier: MIT */
/*
 * TDH.MNG.KEY.CONFIG (leaf 8): program the TD's private key into the memory
 * controller. RCX = TDR HPA, locked exclusively (TDX_OPERAND_BUSY + RCX while
 * any other SEAMCALL holds the TD).
 *
 * Simplified model (tdx-module-sept.md details only the memory leaves): the
 * platform has a single package, so one call configures the key everywhere.
 * The lifecycle must be HKID_ASSIGNED, else TDX_LIFECYCLE_STATE_INCORRECT (the
 * real module answers a repeated call on an already configured package with
 * its own key-state statuses; the model has one package and one answer).
 * Effect: lifecycle KEYS_CONFIGURED, after which the TD's memory leaves pass
 * the "keys configured" step of the common prologue (§3 step 3).
 */
#include "tdx/tdx_internal.h"

uint64_t tdh_mng_key_config(struct tdx_module *m, struct seamcall_regs *r)
{
	struct sept_ctx c;
	uint64_t status;

	sept_ctx_init(&c, m, r, TDH_MNG_KEY_CONFIG);
	status = tdx_lock_tdr(&c, r->rcx, TDX_OPERAND_ID_RCX, true);
	if (status != TDX_SUCCESS)
		goto out;
	if (atomic_load(&c.td->lifecycle) != TD_HKID_ASSIGNED) {
		status = TDX_LIFECYCLE_STATE_INCORRECT;
		goto out;
	}

	/* Commit point. */
	atomic_store(&c.td->lifecycle, TD_KEYS_CONFIGURED);
out:
	sept_ctx_release(&c);
	return status;
}
