/* SPDX-License-Identifier: MIT */
/*
 * TDH.PHYMEM.CACHE.WB (leaf 40): write back the package's caches, between
 * TDH.MNG.VPFLUSHDONE and TDH.MNG.KEY.FREEID, so that no dirty line
 * encrypted with a key being released survives. RCX: TDX_CACHE_WB_START (0)
 * or TDX_CACHE_WB_RESUME (1).
 *
 * As 1.5.01's tdh_phymem_cache_wb.c does it (one package in the model;
 * issue 11 items 2.5 and 2.12):
 *  - RCX above 1 -> TDX_OPERAND_INVALID + RCX;
 *  - the package's WBT entry, a mutex (TDX_OPERAND_BUSY + WBCACHE), then
 *    the key ownership table, shared (TDX_OPERAND_BUSY + KOT);
 *  - START: forgets any interrupted write-back and snapshots the keys that
 *    are FLUSHED (VPFLUSHDONE done, not yet freed); none ->
 *    TDX_NO_HKID_READY_TO_WBCACHE, a warning, nothing written back.
 *    RESUME: an interrupted write-back must exist, else
 *    TDX_WBCACHE_RESUME_ERROR;
 *  - the caches are written back one sub-block at a time; between two, a
 *    pending host interrupt (tdx_module_pend_host_interrupts: the model
 *    has no interrupts of its own) saves where it got to and answers
 *    TDX_INTERRUPTED_RESUMABLE;
 *  - on completion the snapshot's keys have their write-back done, which
 *    TDH.MNG.KEY.FREEID waits for, and the dirty lines the module recorded
 *    for pages freed under those keys are gone (tdx_page_freed()).
 */
#include "tdx/tdx_internal.h"

uint64_t tdh_phymem_cache_wb(struct tdx_module *m, struct seamcall_regs *r)
{
	uint64_t cmd = r->rcx, status;
	bool kot_locked = false;
	unsigned point, key;

	if (cmd > TDX_CACHE_WB_RESUME)
		return TDX_OPERAND_INVALID + TDX_OPERAND_ID_RCX;
	if (tdx_busy_injected() || lockword_try(&m->wbt_lock, true, false, LOCK_HOST) != LOCK_OK)
		return TDX_OPERAND_BUSY + TDX_OPERAND_ID_WBCACHE;
	if (lockword_try(&m->kot_lock, false, false, LOCK_HOST) != LOCK_OK) {
		status = TDX_OPERAND_BUSY + TDX_OPERAND_ID_KOT;
		goto out;
	}
	kot_locked = true;

	/* The WBT entry is ours (its mutex); the KOT's fields are read under
	 * the module's table lock. */
	if (cmd == TDX_CACHE_WB_START) {
		bool any = false;

		m->wbt_intr_point = 0;
		pthread_mutex_lock(&m->td_table_lock);
		for (key = HOST_FIRST_PRIVATE_KEYID; key <= HOST_MAX_KEYID; key++) {
			m->wbt_hkid_flushed[key] = m->kot_state[key] == KOT_HKID_FLUSHED;
			any |= m->wbt_hkid_flushed[key];
		}
		pthread_mutex_unlock(&m->td_table_lock);
		if (!any) {
			status = TDX_NO_HKID_READY_TO_WBCACHE;
			goto out;
		}
	} else if (m->wbt_intr_point == 0) {
		status = TDX_WBCACHE_RESUME_ERROR;
		goto out;
	}

	point = m->wbt_intr_point;
	do {
		point++; /* one sub-block written back */
		if (point < TDX_CACHE_WB_SUB_BLOCKS) {
			unsigned n = atomic_load(&m->wbt_pending_interrupts);

			while (n && !atomic_compare_exchange_weak(&m->wbt_pending_interrupts,
								  &n, n - 1))
				;
			if (n) {
				m->wbt_intr_point = point;
				status = TDX_INTERRUPTED_RESUMABLE;
				goto out;
			}
		}
	} while (point < TDX_CACHE_WB_SUB_BLOCKS);
	m->wbt_intr_point = 0;

	/* Completed: every key of the snapshot is written back. */
	pthread_mutex_lock(&m->td_table_lock);
	for (key = HOST_FIRST_PRIVATE_KEYID; key <= HOST_MAX_KEYID; key++) {
		if (m->wbt_hkid_flushed[key]) {
			m->kot_wb_pending[key] = false;
			atomic_fetch_add(&m->kot_wb_gen[key], 1);
		}
	}
	pthread_mutex_unlock(&m->td_table_lock);
	status = TDX_SUCCESS;
out:
	if (kot_locked)
		lockword_release(&m->kot_lock, false);
	lockword_release(&m->wbt_lock, true);
	return status;
}
