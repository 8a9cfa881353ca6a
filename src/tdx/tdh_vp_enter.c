/* SPDX-License-Identifier: MIT */
/*
 * TDH.VP.ENTER (leaf 0), tdx-module-sept.md §6 and §11.2: the vCPU whose
 * TDVPR is at RCX enters guest mode. The model does not run guest code inside
 * the SEAMCALL: a successful VP.ENTER puts the vCPU "in guest" and returns,
 * the CPU model runs the guest (hardware walks, TDCALLs), and tdx_td_exit()
 * (td_exit.c) ends guest mode. Between the two the vCPU counts in the TD's
 * epoch refcount, which is what TDH.MEM.TRACK and is_tlb_tracked() look at.
 *
 * Check order (the module's tdh_vp_enter.c, reduced to what the model has):
 *  1. RCX: HPA checks (OPERAND_INVALID / OPERAND_ADDR_RANGE_ERROR + RCX),
 *     the TDVPR's PAMT entry locked shared (TDX_OPERAND_BUSY + RCX), page
 *     type PT_TDVPR of a live vCPU (TDX_PAGE_METADATA_INCORRECT + RCX);
 *  2. the owner TD's TDR PAMT entry locked shared; it is an implicit operand,
 *     so contention names it: TDX_OPERAND_BUSY + TDX_OPERAND_ID_TDR;
 *  3. TD fatal / keys configured / TDCS allocated (§3 step 3);
 *  4. OP_STATE lock shared (BUSY + OP_STATE) and OP_STATE one of RUNNABLE,
 *     LIVE_EXPORT, LIVE_IMPORT (§3.1) else TDX_OP_STATE_INCORRECT;
 *  5. vCPU initialized (TDH.VP.INIT done) else TDX_VCPU_STATE_INCORRECT;
 *  6. vCPU not already in guest mode else TDX_VCPU_STATE_INCORRECT (the
 *     real module refuses a second entry through the vCPU's state and its
 *     LP association; the model claims in_guest with a compare-exchange);
 *  7. the epoch lock shared (TDX_OPERAND_BUSY + TD_EPOCH: only a concurrent
 *     TDH.MEM.TRACK holds it exclusively), E = td_epoch sampled and
 *     refcount[E & 1] incremented under it, lock released.
 * Then the TLB flush decision (§6): a vCPU that was already associated and
 * last entered in another epoch flushes its private translations (INVEPT of
 * the S-EPT); a newly associated vCPU needs none. vcpu_epoch = E.
 *
 * Locks held while the vCPU is in guest mode (§11.2): the TDVPR's and the
 * TDR's PAMT entries, shared. So PAGE.ADD, MR.EXTEND, MR.FINALIZE (TDR
 * exclusive) answer BUSY, and neither page can be reclaimed, until
 * tdx_td_exit() releases them. The OP_STATE lock is released before entry.
 * On failure nothing stays held and nothing changes.
 *
 * Output (model-specific, see seamcall.h): on success R8 = 1 if the module
 * flushed the vCPU's private translations at this entry, else 0; RCX = RDX =
 * 0. The real VP.ENTER returns the TD-exit register image instead; here the
 * exit is a separate call and carries no registers.
 *
 * Not modeled: the 0-step mitigation (EPF filter, which can take the S-EPT
 * tree lock exclusively and answer BUSY + SEPT_TREE; the dispatcher's BUSY
 * injection stands for it), interrupts, L2 VMs, LP association (every entry
 * runs on "the" LP, so switching vCPUs never forces a flush).
 */
#include "tdx/tdx_internal.h"

uint64_t tdh_vp_enter(struct tdx_module *m, struct seamcall_regs *r)
{
	struct sept_ctx c;
	uint64_t tdvpr = r->rcx, status, epoch;
	_Atomic uint64_t *tdvpr_pamt, *tdr_pamt;
	struct tdx_td *td = NULL;
	struct tdx_vcpu *v;
	bool was_out = false, flush;

	r->rcx = r->rdx = r->r8 = 0;
	sept_ctx_init(&c, m, r, TDH_VP_ENTER);

	/* 1. The TDVPR. Locked at its 4K PAMT entry: a control page is never
	 * part of a large page, so no PAMT walk is needed to find it. */
	status = tdx_check_hpa(&c, tdvpr, 0, TDX_OPERAND_ID_RCX);
	if (status != TDX_SUCCESS)
		goto out;
	tdvpr_pamt = pamt_entry(&m->pamt, hpa_to_pfn(tdvpr), 0);
	if (tdx_busy_injected() ||
	    lockword_try(tdvpr_pamt, false, true, LOCK_HOST) != LOCK_OK) {
		status = TDX_OPERAND_BUSY + TDX_OPERAND_ID_RCX;
		goto out;
	}
	c.pamt_locks[c.nr_pamt_locks] = tdvpr_pamt;
	c.pamt_excl[c.nr_pamt_locks] = false;
	c.nr_pamt_locks++;
	SCHED_POINT(SCHED_PAMT_READ, SCHED_R, tdvpr_pamt, "TDVPR's PAMT entry");
	v = pamt_pt(atomic_load_explicit(tdvpr_pamt, memory_order_acquire)) == PT_TDVPR
		    ? tdx_vcpu_of_tdvpr(m, hpa_to_pfn(tdvpr), &td)
		    : NULL;
	if (!v) {
		status = TDX_PAGE_METADATA_INCORRECT + TDX_OPERAND_ID_RCX;
		goto out;
	}

	/* 2. The TDR, implicit: named TDR when busy. */
	c.td = td;
	tdr_pamt = pamt_entry(&m->pamt, td->tdr, 0);
	/* The OP_STATE and epoch holds go out with the TDR's: one store, one
	 * fence (tdx_locks.h); not while exploring. */
	if (!sched_enabled())
		c.ahead = TD_HOLD_OP_STATE + TD_HOLD_EPOCH;
	if (tdx_busy_injected() ||
	    tdx_tdr_try_shared(m, tdr_pamt, c.ahead, &c.tdr_reader) != LOCK_OK) {
		status = TDX_OPERAND_BUSY + TDX_OPERAND_ID_TDR;
		goto out;
	}
	c.tdr_lock = tdr_pamt;
	c.tdr_excl = false;
	c.holds = c.tdr_reader ? TD_HOLD_TDR + c.ahead : 0;
	if (!c.tdr_reader)
		c.ahead = 0;
	if (c.tdr_reader != td->index) {
		/* Cannot happen: the TDVPR we hold is counted in the TD's
		 * CHLDCNT, so its TDR cannot have been reclaimed. */
		status = TDX_PAGE_METADATA_INCORRECT + TDX_OPERAND_ID_TDR;
		goto out;
	}

	/* 3, 4. */
	if ((status = tdx_check_td_keys(&c)) || (status = tdx_check_op_state(&c, true)))
		goto out;

	/* 5, 6. VP.INIT and VP.FLUSH change the vCPU under its TDVPR lock taken
	 * exclusively, which our shared hold excludes. */
	SCHED_POINT(SCHED_KICK, SCHED_W, &v->in_guest, "vCPU in_guest (module)");
	if (!v->initialized ||
	    !atomic_compare_exchange_strong(&v->in_guest, &was_out, true)) {
		status = TDX_VCPU_STATE_INCORRECT;
		goto out;
	}

	/* 7. Join the current epoch. TRACK increments td_epoch under the epoch
	 * lock held exclusively, so E and refcount[E & 1]++ are one step for
	 * it: a TRACK either sees this vCPU counted in E or runs before and
	 * this vCPU enters in E + 1. */
	if (tdx_td_try_shared(&c, TD_HOLD_EPOCH_SHIFT) != LOCK_OK) {
		/* A TRACK holds it: TRACKs yield to this entry for a while
		 * (tdh_mem_track.c says why). */
		atomic_store_explicit(&td->entry_wait_ns, tdx_now_ns(), memory_order_relaxed);
		SCHED_POINT(SCHED_KICK, SCHED_W, &v->in_guest, "vCPU in_guest (module)");
		atomic_store(&v->in_guest, false);
		status = TDX_OPERAND_BUSY + TDX_OPERAND_ID_TD_EPOCH;
		goto out;
	}
	SCHED_POINT(SCHED_EPOCH, SCHED_R, &td->td_epoch, "TD epoch");
	epoch = atomic_load_explicit(&td->td_epoch, memory_order_acquire);
	/* One object per parity for every slot's count: TRACK sums them. */
	SCHED_POINT(SCHED_REFCOUNT, SCHED_W, &td->per_slot[0].refcount[epoch & 1],
		    "epoch REFCOUNT");
	tdx_td_slot_add(td, refcount[epoch & 1], 1);
	SCHED_NOTE("REFCOUNT[%u]++ (vCPU enters epoch %llu)", (unsigned)(epoch & 1),
		   (unsigned long long)epoch);
	tdx_td_release_shared(&c, TD_HOLD_EPOCH_SHIFT);

	/* Commit point. A vCPU that ran before and whose epoch is stale may
	 * hold translations a RANGE.BLOCK has since removed: flush (§6). */
	SCHED_POINT(SCHED_EPOCH, SCHED_W, &v->vcpu_epoch, "vCPU epoch");
	flush = v->associated && v->vcpu_epoch != epoch;
	v->vcpu_epoch = epoch;
	if (flush)
		SCHED_NOTE("vCPU epoch -> %llu: private TLB flush (R8 = 1)",
			   (unsigned long long)epoch);
	v->associated = true;
	r->r8 = flush;

	/* The TDVPR and TDR locks stay held until tdx_td_exit(): take them out
	 * of the context so that the release below keeps them. */
	c.nr_pamt_locks = 0;
	c.holds -= TD_HOLD_TDR;
out:
	sept_ctx_release(&c);
	return status;
}
