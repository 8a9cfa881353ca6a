/* SPDX-License-Identifier: MIT */
/*
 * TDH.MNG.INIT (leaf 21): configure the TD from the host's TD_PARAMS and make
 * it buildable. RCX = TDR HPA (locked exclusively), RDX = HPA of a shared page
 * holding struct tdx_td_params (seamcall.h) at offset 0.
 *
 * Simplified model of the module's handler:
 *  - order: TDR (RCX) -> the common state step (§3 step 3: TD fatal,
 *    TDX_TD_KEYS_NOT_CONFIGURED, fewer than 6 TDCS pages ->
 *    TDX_TDCS_NOT_ALLOCATED) -> OP_STATE UNINITIALIZED else
 *    TDX_OP_STATE_INCORRECT -> the params page (RDX: HPA checks ->
 *    TDX_OPERAND_INVALID / TDX_OPERAND_ADDR_RANGE_ERROR + RDX) -> the params.
 *  - params, any violation -> TDX_OPERAND_INVALID + RDX:
 *    EPTP controls (§2.1): memory type (bits 2:0) WB = 6, page-walk length
 *    (bits 5:3, "levels - 1") 3 or 4, every other bit reserved;
 *    EXEC_CONTROLS: bit 0 GPAW only, and GPAW = 1 (52-bit GPAs) requires a
 *    5-level S-EPT (pwl 4);
 *    ATTRIBUTES: only SEPT_VE_DISABLE (bit 28) is supported by the model
 *    (no debug TDs, no other features);
 *    MAX_VCPUS in 1..TDX_MAX_VCPUS_PER_TD; reserved fields zero.
 *  - effects: pwl, shared bit (47 or 51), PENDING_VE_DISABLE from attributes
 *    bit 28 (§2.1), max_vcpus; TD epoch 1 with both refcounts 0 (§6); the
 *    measurement (MRTD, SHA-384) starts; OP_STATE INITIALIZED.
 */
#include "tdx/tdx_internal.h"

#define EPTP_MT_MASK 0x7ULL
#define EPTP_MT_WB 6ULL
#define EPTP_PWL_SHIFT 3
#define EPTP_PWL_MASK (0x7ULL << EPTP_PWL_SHIFT)

static bool td_params_valid(const struct tdx_td_params *p)
{
	uint64_t pwl = (p->eptp_controls & EPTP_PWL_MASK) >> EPTP_PWL_SHIFT;
	bool gpaw52 = p->exec_controls & TDX_EXEC_CONTROL_MAX_GPAW;

	if ((p->eptp_controls & EPTP_MT_MASK) != EPTP_MT_WB ||
	    (p->eptp_controls & ~(EPTP_MT_MASK | EPTP_PWL_MASK)))
		return false;
	if (pwl != 3 && pwl != 4)
		return false;
	if ((p->exec_controls & ~TDX_EXEC_CONTROL_MAX_GPAW) || (gpaw52 && pwl != 4))
		return false;
	if (p->attributes & ~TDX_TD_ATTR_SEPT_VE_DISABLE)
		return false;
	if (p->max_vcpus < 1 || p->max_vcpus > TDX_MAX_VCPUS_PER_TD)
		return false;
	for (unsigned i = 0; i < sizeof(p->reserved0) / sizeof(p->reserved0[0]); i++)
		if (p->reserved0[i])
			return false;
	return true;
}

uint64_t tdh_mng_init(struct tdx_module *m, struct seamcall_regs *r)
{
	struct sept_ctx c;
	struct tdx_td_params p;
	uint64_t params_hpa = r->rdx, status;
	struct tdx_td *td;

	sept_ctx_init(&c, m, r, TDH_MNG_INIT);
	if ((status = tdx_lock_tdr(&c, r->rcx, TDX_OPERAND_ID_RCX, true)) ||
	    (status = tdx_check_td_keys(&c)))
		goto out;
	td = c.td;
	if (atomic_load(&td->op_state) != OP_UNINITIALIZED) {
		status = TDX_OP_STATE_INCORRECT;
		goto out;
	}
	status = tdx_check_hpa(&c, params_hpa, 0, TDX_OPERAND_ID_RDX);
	if (status != TDX_SUCCESS)
		goto out;
	host_frame_read(m->hm, hpa_to_pfn(params_hpa), 0, &p, sizeof(p),
			HOST_KEYID_SHARED, NULL);
	if (!td_params_valid(&p)) {
		status = TDX_OPERAND_INVALID + TDX_OPERAND_ID_RDX;
		goto out;
	}

	/* Commit point. */
	td->pwl = (unsigned)((p.eptp_controls & EPTP_PWL_MASK) >> EPTP_PWL_SHIFT);
	td->gpaw_bit = (p.exec_controls & TDX_EXEC_CONTROL_MAX_GPAW) ? 51 : 47;
	td->pending_ve_disable = p.attributes & TDX_TD_ATTR_SEPT_VE_DISABLE;
	td->max_vcpus = p.max_vcpus;
	atomic_store(&td->td_epoch, 1);
	for (unsigned i = 0; i < HOST_THREAD_SLOTS; i++) {
		atomic_store(&td->per_slot[i].refcount[0], 0);
		atomic_store(&td->per_slot[i].refcount[1], 0);
	}
	sha384_init(&td->mrtd_ctx);
	td->mrtd_final = false;
	/* Last: OP_STATE is what lets the memory leaves in. */
	atomic_store_explicit(&td->op_state, OP_INITIALIZED, memory_order_release);
out:
	sept_ctx_release(&c);
	return status;
}
