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

/* The TDVPR operand, then the owner TD's TDR as an implicit operand. */
static uint64_t lock_tdvpr(struct sept_ctx *c, uint64_t hpa,
			   struct tdx_vcpu **vcpu)
{
	_Atomic uint64_t *e;
	struct tdx_td *td;
	uint64_t status;

	status = tdx_lock_page(c, hpa, 0, true, PT_TDVPR, TDX_OPERAND_ID_RCX, &e);
	if (status != TDX_SUCCESS)
		return status;
	/* The owner cannot go away: its CHLDCNT counts this TDVPR, which we
	 * hold, so its TDR cannot be reclaimed. */
	td = tdx_td_by_index(c->m, pamt_owner(atomic_load(e)));
	*vcpu = NULL;
	for (unsigned i = 0; td && i < atomic_load(&td->nr_vcpus); i++)
		if (td->vcpus[i].tdvpr == hpa_to_pfn(hpa))
			*vcpu = &td->vcpus[i];
	if (!*vcpu)
		return TDX_PAGE_METADATA_INCORRECT + TDX_OPERAND_ID_RCX;
	return tdx_lock_tdr(c, pfn_to_hpa(td->tdr), TDX_OPERAND_ID_TDR, false);
}

uint64_t tdh_vp_flush(struct tdx_module *m, struct seamcall_regs *r)
{
	struct sept_ctx c;
	struct tdx_vcpu *vcpu;
	uint64_t status;

	sept_ctx_init(&c, m, r, TDH_VP_FLUSH);
	status = lock_tdvpr(&c, r->rcx, &vcpu);
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
