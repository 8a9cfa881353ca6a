/* SPDX-License-Identifier: MIT */
/*
 * TDH.VP.FLUSH (leaf 18): flush a vCPU's TLB and cached VMCS state and
 * dissociate it from the logical processor, before the TD's key is released.
 * RCX = TDVPR HPA.
 *
 * Simplified model of the module's handler:
 *  - order: the TDVPR page (RCX: HPA checks, PAMT lock exclusive -> BUSY +
 *    RCX, which is also what a vCPU in guest mode gives when TDH.VP.ENTER
 *    holds its TDVPR, §11.2; PT_TDVPR else PAGE_METADATA_INCORRECT + RCX) ->
 *    the owner's TDR, implicit, shared (TDX_OPERAND_BUSY + TDR) -> lifecycle
 *    KEYS_CONFIGURED else TDX_TD_KEYS_NOT_CONFIGURED -> the vCPU must not be
 *    in guest mode, else TDX_VCPU_STATE_INCORRECT.
 *  - effect: the vCPU is no longer associated; its epoch is unchanged.
 * The model has no logical-processor identity, so a vCPU that is not
 * associated flushes successfully (the real module answers
 * TDX_VCPU_NOT_ASSOCIATED when it is not associated with the calling LP).
 * No TLB or cache is modeled here: the flush itself is a no-op.
 */
#include "tdx/tdx_internal.h"

uint64_t tdh_vp_flush(struct tdx_module *m, struct seamcall_regs *r)
{
	struct sept_ctx c;
	struct tdx_vcpu *vcpu;
	uint64_t status;

	sept_ctx_init(&c, m, r, TDH_VP_FLUSH);
	status = tdx_lock_tdvpr(&c, r->rcx, &vcpu);
	if (status != TDX_SUCCESS)
		goto out;
	if (atomic_load(&c.td->lifecycle) != TD_KEYS_CONFIGURED) {
		status = TDX_TD_KEYS_NOT_CONFIGURED;
		goto out;
	}
	if (vcpu->in_guest) {
		status = TDX_VCPU_STATE_INCORRECT;
		goto out;
	}

	/* Commit point. */
	vcpu->associated = false;
out:
	sept_ctx_release(&c);
	return status;
}
