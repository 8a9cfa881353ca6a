/* SPDX-License-Identifier: MIT */
/*
 * TDH.MEM.TRACK (leaf 38), tdx-module-sept.md §4.5 and §6: advance the TD's
 * TLB epoch. It succeeds only when no vCPU that entered the guest during the
 * previous epoch is still inside (refcount of that parity is zero); then every
 * vCPU that could cache a translation from before a RANGE.BLOCK in epoch N has
 * exited once the epoch is N+1 and the N parity drains, which is what
 * is_tlb_tracked() asks before a removal. TRACK flushes nothing itself: each
 * vCPU flushes at its next TDH.VP.ENTER when its epoch is stale.
 *
 * Order (1.5.01's tdh_mem_track.c): the TDR shared (BUSY + RCX), keys and
 * OP_STATE (§3), the epoch lock exclusive (BUSY + TD_EPOCH), then the
 * previous parity's refcount (TDX_PREVIOUS_TLB_EPOCH_BUSY). No output
 * register is written: RCX/RDX stay as the caller left them.
 *
 * The epoch lock is a plain sharex: TRACK's exclusive attempt succeeds only
 * on a free lock, VP.ENTER's shared one fails only while TRACK holds it. On
 * hardware the hold is a few instructions of a SEAMCALL nothing preempts,
 * so an entry always gets in between two TRACKs. In the model TRACK's
 * thread can be preempted while it holds the lock, and a stream of TRACKs
 * from other threads can keep it held whenever the entry looks (issue 11
 * item 2.13). To keep the hardware's forward progress, a VP.ENTER that finds
 * the lock taken records the time, and TRACK yields to it, answering BUSY +
 * TD_EPOCH as if the entry held the lock, for TDX_ENTRY_WAIT_WINDOW_NS: the
 * entry's next attempt finds the lock free. KVM retries a BUSY TRACK anyway
 * (an entry holding the lock makes it BUSY too). A model device, not the
 * module's code.
 */
#include <time.h>

#include "tdx/tdx_internal.h"

uint64_t tdh_mem_track(struct tdx_module *m, struct seamcall_regs *r)
{
	struct sept_ctx c;
	uint64_t tdr = r->rcx, status, hold;
	uint64_t epoch;
	struct sharex_counted epoch_lock;

	sept_ctx_init(&c, m, r, TDH_MEM_TRACK);
	/* The OP_STATE hold goes out with the TDR's (tdx_mem_prologue()). */
	if (!sched_enabled())
		c.ahead = TD_HOLD_OP_STATE;
	if ((status = tdx_lock_tdr(&c, tdr, TDX_OPERAND_ID_RCX, false)) ||
	    (status = tdx_check_td_keys(&c)) ||
	    (status = tdx_check_op_state(&c, true)))
		goto out;
	epoch_lock = tdx_td_lock(m, c.td, TD_HOLD_EPOCH_SHIFT);
	/* The yield window is wall-clock time; while exploring, the scheduler
	 * decides who runs (the waiting VP.ENTER's retry is a SCHED_WAIT), and
	 * a decision by the clock would make a schedule unrepeatable. */
	if (tdx_busy_injected() ||
	    (!sched_enabled() &&
	     tdx_now_ns() - atomic_load_explicit(&c.td->entry_wait_ns, memory_order_relaxed) <
		     TDX_ENTRY_WAIT_WINDOW_NS) ||
	    sharex_counted_try_excl(&epoch_lock) != LOCK_OK) {
		status = TDX_OPERAND_BUSY + TDX_OPERAND_ID_TD_EPOCH;
		goto out;
	}
	hold = atomic_load_explicit(&m->track_hold_ns, memory_order_relaxed);
	if (hold) {
		struct timespec ts = { .tv_sec = (time_t)(hold / 1000000000ULL),
				       .tv_nsec = (long)(hold % 1000000000ULL) };

		nanosleep(&ts, NULL);
	}
	SCHED_POINT(SCHED_EPOCH, SCHED_R, &c.td->td_epoch, "TD epoch");
	epoch = atomic_load(&c.td->td_epoch);
	SCHED_POINT(SCHED_REFCOUNT, SCHED_R,
		    &c.td->per_slot[0].refcount[(unsigned)(epoch - 1) & 1],
		    "epoch REFCOUNT");
	if (tdx_epoch_refcount(c.td, (unsigned)(epoch - 1) & 1) != 0) {
		status = TDX_PREVIOUS_TLB_EPOCH_BUSY;
	} else {
		SCHED_POINT(SCHED_EPOCH, SCHED_W, &c.td->td_epoch, "TD epoch");
		atomic_store_explicit(&c.td->td_epoch, epoch + 1, memory_order_release);
		SCHED_NOTE("TD epoch: %llu -> %llu", (unsigned long long)epoch,
			   (unsigned long long)epoch + 1);
	}
	sharex_counted_release_excl(&epoch_lock);
out:
	sept_ctx_release(&c);
	return status;
}
