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

uint64_t tdh_vp_init(struct tdx_module *m, struct seamcall_regs *r)
{
	struct sept_ctx c;
	struct tdx_vcpu *vcpu;
	uint64_t status;

	sept_ctx_init(&c, m, r, TDH_VP_INIT);
	if ((status = lock_tdvpr(&c, r->rcx, &vcpu)) ||
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
