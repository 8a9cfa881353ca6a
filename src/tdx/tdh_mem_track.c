/* SPDX-License-Identifier: MIT */
/*
 * TDH.MEM.TRACK (leaf 38), tdx-module-sept.md §4.5 and §6: advance the TD's
 * TLB epoch. It succeeds only when no vCPU that entered the guest during the
 * previous epoch is still inside (refcount of that parity is zero); then every
 * vCPU that could cache a translation from before a RANGE.BLOCK in epoch N has
 * exited once the epoch is N+1 and the N parity drains, which is what
 * is_tlb_tracked() asks before a removal. TRACK flushes nothing itself: each
 * vCPU flushes at its next TDH.VP.ENTER when its epoch is stale.
 */
#include "tdx/tdx_internal.h"

uint64_t tdh_mem_track(struct tdx_module *m, struct seamcall_regs *r)
{
	struct sept_ctx c;
	uint64_t tdr = r->rcx, status;
	uint64_t epoch;

	/* RCX and RDX are left as they were (the module's TRACK writes no
	 * output register; issue 11 item 2.12). */
	sept_ctx_init(&c, m, r, TDH_MEM_TRACK);
	if ((status = tdx_lock_tdr(&c, tdr, TDX_OPERAND_ID_RCX, false)) ||
	    (status = tdx_check_td_keys(&c)) ||
	    (status = tdx_check_op_state(&c, true)))
		goto out;
	if (tdx_busy_injected() || sharex_dist_try_excl(&c.td->epoch_lock, false) != LOCK_OK) {
		status = TDX_OPERAND_BUSY + TDX_OPERAND_ID_TD_EPOCH;
		goto out;
	}
	epoch = atomic_load(&c.td->td_epoch);
	if (tdx_epoch_refcount(c.td, (unsigned)(epoch - 1) & 1) != 0)
		status = TDX_PREVIOUS_TLB_EPOCH_BUSY;
	else
		atomic_store_explicit(&c.td->td_epoch, epoch + 1, memory_order_release);
	sharex_dist_release_excl(&c.td->epoch_lock);
out:
	sept_ctx_release(&c);
	return status;
}
