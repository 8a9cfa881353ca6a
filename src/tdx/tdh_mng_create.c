/* SPDX-License-Identifier: MIT */
/*
 * TDH.MNG.CREATE (leaf 9): create a TD around a free 4K page that becomes its
 * TDR, and bind it to a private key id. RCX = TDR HPA, RDX = HKID.
 *
 * tdx-module-sept.md does not detail the lifecycle leaves; this is a
 * simplified, honest model of the module's handler:
 *  - RDX must name a private key id, HOST_FIRST_PRIVATE_KEYID..HOST_MAX_KEYID
 *    (bits above them are reserved) -> else TDX_OPERAND_INVALID + RDX. The
 *    module checks the HKID before the TDR page, so that error wins.
 *  - RCX: HPA checks (TDX_OPERAND_INVALID / TDX_OPERAND_ADDR_RANGE_ERROR + RCX),
 *    PAMT lock exclusive (TDX_OPERAND_BUSY + RCX), PT_NDA at 4K
 *    (TDX_PAGE_METADATA_INCORRECT + RCX).
 *  - A key id already bound to another TD (not yet released by
 *    TDH.MNG.KEY.FREEID) -> TDX_HKID_NOT_FREE, without an operand, which is
 *    what the module's key-ownership table check returns.
 *  - The module's table of TDs is the model's stand-in for TDR contents; if
 *    it is full (TDX_MAX_TDS TDs not yet reclaimed), or the host is out of
 *    memory for a TD's state after the module's first TD (whose state the
 *    module allocated with itself, struct tdx_module.spare_td)
 *    -> TDX_SYS_BUSY (a model limit, not an architectural error).
 * Effects: the TDR frame is cleared with the TDX global private key
 * (TDX_GLOBAL_KEYID: the TDR is the module's, not the TD's); lifecycle HKID_ASSIGNED, OP_STATE UNINITIALIZED; PAMT(TDR) <-
 * {PT_TDR, owner = the TD's index}; the key id is marked used. The TDR is not
 * counted in CHLDCNT (it is the TD itself).
 */
#include <stdlib.h>
#include <string.h>

#include "tdx/tdx_internal.h"

uint64_t tdh_mng_create(struct tdx_module *m, struct seamcall_regs *r)
{
	struct sept_ctx c;
	uint64_t tdr_hpa = r->rcx, hkid = r->rdx, status;
	_Atomic uint64_t *tdr_pamt;
	struct tdx_td *td = NULL;
	unsigned index = 0;

	sept_ctx_init(&c, m, r, TDH_MNG_CREATE);
	if (hkid < HOST_FIRST_PRIVATE_KEYID || hkid > HOST_MAX_KEYID) {
		status = TDX_OPERAND_INVALID + TDX_OPERAND_ID_RDX;
		goto out;
	}
	status = tdx_lock_page(&c, tdr_hpa, 0, true, PT_NDA, TDX_OPERAND_ID_RCX,
			       &tdr_pamt);
	if (status != TDX_SUCCESS)
		goto out;

	/* The TD table lock stands for the module's key-ownership table lock:
	 * key allocation and slot allocation happen under it. */
	pthread_mutex_lock(&m->td_table_lock);
	if (m->kot_state[hkid] != KOT_HKID_FREE) {
		pthread_mutex_unlock(&m->td_table_lock);
		status = TDX_HKID_NOT_FREE;
		goto out;
	}
	for (unsigned i = 1; i <= TDX_MAX_TDS; i++) {
		if (!atomic_load_explicit(&m->tds[i], memory_order_relaxed)) {
			index = i;
			break;
		}
	}
	/* The TD's state: the one the module keeps ready (its first TD never
	 * meets the host's memory running out, as the real module, which
	 * allocates nothing, never does), else a new one. Over-aligned
	 * (per-slot lock lines): aligned_alloc, then cleared. */
	if (index && m->spare_td) {
		td = m->spare_td;
		m->spare_td = NULL;
	} else if (index && (td = aligned_alloc(HOST_CACHELINE, sizeof(*td)))) {
		memset(td, 0, sizeof(*td));
	}
	if (!td) {
		pthread_mutex_unlock(&m->td_table_lock);
		status = TDX_SYS_BUSY;
		goto out;
	}

	/* Commit point: nothing below can fail. */
	td->index = index;
	td->tdr = hpa_to_pfn(tdr_hpa);
	td->hkid = (unsigned)hkid;
	atomic_init(&td->lifecycle, TD_HKID_ASSIGNED);
	atomic_init(&td->op_state, OP_UNINITIALIZED);
	host_frame_clear(m->hm, td->tdr, TDX_GLOBAL_KEYID);
	m->kot_state[hkid] = KOT_HKID_ASSIGNED;
	/* Publish the TD before its TDR's PAMT entry names it: a SEAMCALL that
	 * finds PT_TDR (once our exclusive lock is gone) must find the TD. */
	atomic_store_explicit(&m->tds[index], td, memory_order_release);
	if (index >= atomic_load_explicit(&m->tds_end, memory_order_relaxed))
		atomic_store_explicit(&m->tds_end, index + 1, memory_order_release);
	pthread_mutex_unlock(&m->td_table_lock);
	pamt_set(tdr_pamt, PT_TDR, index, 0);
out:
	sept_ctx_release(&c);
	return status;
}
