/* SPDX-License-Identifier: MIT */
/*
 * TDH.VP.INIT (leaf 22): initialise a created vCPU so that it can enter the
 * guest. RCX = TDVPR HPA.
 *
 * Simplified model of the module's handler:
 *  - order: the TDVPR page (RCX: HPA checks, PAMT lock exclusive -> BUSY +
 *    RCX, PT_TDVPR else PAGE_METADATA_INCORRECT + RCX) -> its owner's TDR as
 *    an implicit operand, locked shared (TDX_OPERAND_BUSY + TDR) -> the
 *    common state step (§3 step 3: TD fatal, TDX_TD_KEYS_NOT_CONFIGURED,
 *    TDX_TDCS_NOT_ALLOCATED) -> the vCPU must not be initialized yet, else
 *    TDX_VCPU_STATE_INCORRECT.
 *  - effect: the vCPU is initialized. The guest register state the real
 *    leaf sets up (RCX = initial RCX value, VMCS) is not modeled.
 */
#include "tdx/tdx_internal.h"

uint64_t tdh_vp_init(struct tdx_module *m, struct seamcall_regs *r)
{
	struct sept_ctx c;
	struct tdx_vcpu *vcpu;
	uint64_t status;

	sept_ctx_init(&c, m, r, TDH_VP_INIT);
	if ((status = tdx_lock_tdvpr(&c, r->rcx, &vcpu)) ||
	    (status = tdx_check_td_keys(&c)))
		goto out;
	if (vcpu->initialized) {
		status = TDX_VCPU_STATE_INCORRECT;
		goto out;
	}

	/* Commit point. */
	vcpu->initialized = true;
out:
	sept_ctx_release(&c);
	return status;
}
