/* SPDX-License-Identifier: MIT */
/*
 * TDH.MR.FINALIZE (leaf 17), tdx-module-sept.md §4.2: end the TD build. RCX =
 * TDR HPA, locked exclusively (§11.2).
 *
 * Order: TDR (RCX: HPA checks, BUSY, PT_TDR) -> the common state step (§3
 * step 3) -> OP_STATE INITIALIZED only (§3.1), checked without the OP_STATE
 * lock since the exclusive TDR lock excludes every other SEAMCALL -> at least
 * one vCPU, else TDX_NO_VCPUS.
 * Effects: the measurement is finalised (MRTD = SHA-384 over the blocks
 * TDH.MEM.PAGE.ADD and TDH.MR.EXTEND fed in); OP_STATE RUNNABLE, from which
 * on removals need BLOCK + TRACK (§3.1) and PAGE.ADD / MR.EXTEND are refused.
 */
#include "tdx/tdx_internal.h"

uint64_t tdh_mr_finalize(struct tdx_module *m, struct seamcall_regs *r)
{
	struct sept_ctx c;
	uint64_t status;
	struct tdx_td *td;

	sept_ctx_init(&c, m, r, TDH_MR_FINALIZE);
	if ((status = tdx_lock_tdr(&c, r->rcx, TDX_OPERAND_ID_RCX, true)) ||
	    (status = tdx_check_td_keys(&c)) ||
	    (status = tdx_check_op_state(&c, false)))
		goto out;
	td = c.td;
	if (atomic_load(&td->nr_vcpus) == 0) {
		status = TDX_NO_VCPUS;
		goto out;
	}

	/* Commit point. */
	sha384_digest(&td->mrtd_ctx, sizeof(td->mrtd), td->mrtd);
	td->mrtd_final = true;
	atomic_store_explicit(&td->op_state, OP_RUNNABLE, memory_order_release);
out:
	sept_ctx_release(&c);
	return status;
}
