/* SPDX-License-Identifier: MIT */
/*
 * TDH.VP.CREATE (leaf 10): create a vCPU around a free 4K page that becomes
 * its TDVPR. RCX = the TDVPR page, RDX = TDR HPA (locked shared).
 *
 * Simplified model of the module's handler (its order):
 *  - TDR (RDX: HPA checks, BUSY, PT_TDR) -> the common state step (§3 step 3:
 *    TD fatal, TDX_TD_KEYS_NOT_CONFIGURED, TDX_TDCS_NOT_ALLOCATED) -> OP_STATE
 *    lock shared (TDX_OPERAND_BUSY + OP_STATE) and OP_STATE INITIALIZED or
 *    RUNNABLE else TDX_OP_STATE_INCORRECT -> the TDVPR page (RCX: HPA checks,
 *    PAMT lock exclusive -> BUSY + RCX, PT_NDA at 4K else
 *    PAGE_METADATA_INCORRECT + RCX) -> the TD already has MAX_VCPUS vCPUs ->
 *    TDX_OPERAND_INVALID + RCX (the model's choice: the real module counts
 *    vCPUs at TDH.VP.INIT; here the TDVPR operand is the one refused).
 *  - effects: the TDVPR frame is cleared with the TD's key; PAMT(TDVPR) <-
 *    {PT_TDVPR, owner}; CHLDCNT += 1; the vCPU is appended to the TD's table
 *    with the next index, not initialized, not associated.
 * The real TDVPS spans several pages (TDVPR + TDVPX pages added with
 * TDH.VP.ADDCX); the model keeps the vCPU state in the module and has no
 * TDVPX pages.
 */
#include "tdx/tdx_internal.h"

uint64_t tdh_vp_create(struct tdx_module *m, struct seamcall_regs *r)
{
	struct sept_ctx c;
	uint64_t tdvpr = r->rcx, status;
	_Atomic uint64_t *tdvpr_pamt;
	struct tdx_td *td;
	enum td_op_state op;
	unsigned n;

	sept_ctx_init(&c, m, r, TDH_VP_CREATE);
	if ((status = tdx_lock_tdr(&c, r->rdx, TDX_OPERAND_ID_RDX, false)) ||
	    (status = tdx_check_td_keys(&c)))
		goto out;
	td = c.td;
	if (tdx_busy_injected() || tdx_td_try_shared(&c, TD_HOLD_OP_STATE_SHIFT) != LOCK_OK) {
		status = TDX_OPERAND_BUSY + TDX_OPERAND_ID_OP_STATE;
		goto out;
	}
	op = (enum td_op_state)atomic_load(&td->op_state);
	if (op != OP_INITIALIZED && op != OP_RUNNABLE) {
		status = TDX_OP_STATE_INCORRECT;
		goto out;
	}
	status = tdx_lock_page(&c, tdvpr, 0, true, PT_NDA, TDX_OPERAND_ID_RCX,
			       &tdvpr_pamt);
	if (status != TDX_SUCCESS)
		goto out;

	/*
	 * The TDR is only shared, so two VP.CREATEs on one TD may run at once:
	 * the slot is reserved under the TD table lock, and the count is
	 * published with release after the slot is filled, for the lock-free
	 * readers of td->vcpus[] (tdx_vcpu_of_tdvpr).
	 */
	pthread_mutex_lock(&m->td_table_lock);
	n = atomic_load_explicit(&td->nr_vcpus, memory_order_relaxed);
	if (n >= td->max_vcpus || n >= TDX_MAX_VCPUS_PER_TD) {
		pthread_mutex_unlock(&m->td_table_lock);
		status = TDX_OPERAND_INVALID + TDX_OPERAND_ID_RCX;
		goto out;
	}

	/* Commit point. */
	td->vcpus[n] = (struct tdx_vcpu){ .tdvpr = hpa_to_pfn(tdvpr), .index = n };
	td->vcpu_tdvpr[n] = hpa_to_pfn(tdvpr);
	host_frame_clear(m->hm, hpa_to_pfn(tdvpr), td->hkid);
	tdx_chldcnt_add(td, 1);
	atomic_store_explicit(&td->nr_vcpus, n + 1, memory_order_release);
	pthread_mutex_unlock(&m->td_table_lock);
	pamt_set(tdvpr_pamt, PT_TDVPR, td->index, 0);
out:
	sept_ctx_release(&c);
	return status;
}
