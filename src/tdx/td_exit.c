/* SPDX-License-Identifier: MIT */
/*
 * The TD exit path (tdx-module-sept.md §6, [M] td_exit.c): the vCPU leaves
 * guest mode, for any reason (EPT violation, TDVMCALL, an interrupt or a kick
 * from the host). Its entry epoch's refcount drops, which is what lets a
 * pending TDH.MEM.TRACK / is_tlb_tracked() complete, and the TDVPR and TDR
 * PAMT locks that TDH.VP.ENTER took shared for the time in guest are released
 * (in reverse order of acquisition).
 *
 * Not a SEAMCALL: nothing to check and nothing that can fail. An exit of a
 * vCPU that is not in guest mode is a bug of the caller (the CPU model), not
 * a state the module answers: it aborts.
 */
#include <stdio.h>
#include <stdlib.h>

#include "tdx/tdx_internal.h"
#include "host/model_abort.h"

void tdx_td_exit(struct tdx_module *m, hpa_t tdvpr)
{
	struct tdx_td *td = NULL;
	struct tdx_vcpu *v = tdx_vcpu_of_tdvpr(m, hpa_to_pfn(tdvpr), &td);

	if (!v || !atomic_load(&v->in_guest)) {
		fprintf(stderr, "tdx: BUG: TD exit of a vCPU not in guest mode\n");
		model_abort();
	}
	/* Cost model: the exit is accounted, never spent (module.c). */
	host_slot_counter_add(&tdx_counters_mine(m)->exits, 1);
	host_slot_counter_add_sat(&tdx_counters_mine(m)->modeled_ns, m->exit_cost_ns);
	/* Release: TRACK reads the refcount with acquire. On this thread's
	 * slot, which need not be the one VP.ENTER counted on: only the sum
	 * means anything (tdx_td_slot_add()). */
	SCHED_POINT(SCHED_REFCOUNT, SCHED_W, &td->per_slot[0].refcount[v->vcpu_epoch & 1],
		    "epoch REFCOUNT");
	tdx_td_slot_add(td, refcount[v->vcpu_epoch & 1], (uint32_t)-1);
	SCHED_NOTE("REFCOUNT[%u]-- (vCPU leaves epoch %llu)",
		   (unsigned)(v->vcpu_epoch & 1), (unsigned long long)v->vcpu_epoch);
	SCHED_POINT(SCHED_KICK, SCHED_W, &v->in_guest, "vCPU in_guest (module)");
	/* Release, not seq_cst (a locked XCHG): the next VP.ENTER claims it
	 * with a compare-exchange, the rest only read it; no Dekker pair. */
	atomic_store_explicit(&v->in_guest, false, memory_order_release);
	lockword_release(pamt_entry(&m->pamt, hpa_to_pfn(tdvpr), 0), false);
	/* Last: once the TDR is unlocked the TD may be torn down. */
	SCHED_POINT(SCHED_TDX_UNLOCK, SCHED_W, pamt_entry(&m->pamt, td->tdr, 0),
		    "TDR lock (shared)");
	tdx_tdr_release_shared(m, td->index);
}
