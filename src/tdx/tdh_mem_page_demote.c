/* SPDX-License-Identifier: MIT */
/*
 * TDH.MEM.PAGE.DEMOTE (leaf 15), tdx-module-sept.md §4.10 and §8: split one
 * large leaf into 512 small leaves held by a new S-EPT page. RCX = GPA |
 * level of the large leaf (1: 2M -> 512 x 4K, 2: 1G -> 512 x 2M); RDX = TD
 * handle (bit 0 L2_SEPT_ADD_MODE; the prologue checks the reserved bits and
 * strips the flag, which means nothing without L2 VMs); R8 = the new S-EPT
 * page (a free 4K page). R9..R11 (L2 pages) are ignored and returned as given.
 *
 * Order (the module's tdh_mem_page_demote.c):
 *  1. §3 prologue: tree lock SHARED, host entry lock, state MAPPED, BLOCKED,
 *     PENDING or PENDING_BLOCKED else EPT_ENTRY_STATE_INCORRECT + RCX;
 *  2. if the OP_STATE requires TLB tracking: the leaf must be BLOCKED or
 *     PENDING_BLOCKED (GPA_RANGE_NOT_BLOCKED + RCX + details) and the large
 *     page's bepoch tracked (TLB_TRACKING_NOT_DONE + RCX, no details);
 *  3. R8: HPA checks, PAMT walk with the 4K entry exclusive, PT_NDA at 4K
 *     (errors + R8);
 *  4. PAMT demote: the large page's PAMT entry exclusive (BUSY + RCX).
 * Commit: the new page gets 512 entries equal to the large entry unblocked
 * (BLOCKED -> MAPPED, PENDING_BLOCKED -> PENDING, ACCEPT counter dropped) with
 * HPA stride of the small size; parent <- NL_MAPPED pointing at the new page;
 * new page PAMT <- {PT_EPT, owner}; the 512 small PAMT entries <- {PT_REG,
 * owner, bepoch 0}, the large one <- PT_NDA; CHLDCNT += 1. RCX = RDX = 0.
 *
 * Not modeled: TDX_INTERRUPTED_RESTARTABLE (no host interrupts), L2 VMs.
 */
#include "tdx/tdx_internal.h"

uint64_t tdh_mem_page_demote(struct tdx_module *m, struct seamcall_regs *r)
{
	struct sept_ctx c;
	uint64_t new_hpa = r->r8, status, v, child, large_hpa, small;
	_Atomic uint64_t *large_pamt, *new_pamt, *page;
	enum tdx_sept_state s;
	unsigned child_level;
	pfn_t large_pfn;

	sept_ctx_init(&c, m, r, TDH_MEM_PAGE_DEMOTE);
	status = tdx_mem_prologue(&c, 1, 2, false, true);
	if (status != TDX_SUCCESS)
		goto out;
	v = c.walk_value;
	s = sept_state(v);
	if (s == SEPT_PENDING || s == SEPT_PENDING_BLOCKED)
		v &= ~SEPT_ACCEPT_CNT_MASK;
	large_hpa = sept_hpa(v);
	large_pfn = hpa_to_pfn(large_hpa);
	child_level = c.level - 1;
	small = PAGE_SIZE << (9 * child_level);
	/* Found from the mapping, not locked for the tracking check (the
	 * module's pamt_implicit_get): RANGE.BLOCK, its only writer, cannot run
	 * while we hold the entry lock. */
	large_pamt = pamt_entry(&m->pamt, large_pfn, c.level);

	if (tdx_op_state_tracking_required((enum td_op_state)atomic_load(&c.td->op_state)) &&
	    tdx_sept_state_tlb_tracking_required(s)) {
		if (!tdx_sept_state_any_blocked(s)) {
			tdx_set_entry_details(&c, c.walk_value, c.level);
			status = TDX_GPA_RANGE_NOT_BLOCKED + TDX_OPERAND_ID_RCX;
			goto out;
		}
		if (!tdx_is_tlb_tracked(c.td, pamt_bepoch(atomic_load(large_pamt)))) {
			status = TDX_TLB_TRACKING_NOT_DONE + TDX_OPERAND_ID_RCX;
			goto out;
		}
	}

	status = tdx_lock_page(&c, new_hpa, 0, true, PT_NDA, TDX_OPERAND_ID_R8,
			       &new_pamt);
	if (status != TDX_SUCCESS)
		goto out;

	/* PAMT demote ([M-pamt] pamt_demote): the large entry, exclusive, so
	 * that no PAMT walk holds it (tdx_lock_page keeps the entries above a
	 * looked-up page shared) while the page changes size. */
	if (c.nr_pamt_locks == SEPT_CTX_MAX_PAMT_LOCKS ||
	    tdx_pamt_try_lock(m, large_pamt, true) != LOCK_OK) {
		status = TDX_OPERAND_BUSY + TDX_OPERAND_ID_RCX;
		goto out;
	}
	c.pamt_locks[c.nr_pamt_locks] = large_pamt;
	c.pamt_excl[c.nr_pamt_locks] = true;
	c.nr_pamt_locks++;

	/* Commit point. The new page is filled before the parent points at it,
	 * so a lock-free walker (the CPU, a guest ACCEPT) never sees it
	 * half-built. */
	child = sept_unblock(v) & ~SEPT_HPA_MASK;
	page = tdx_sept_page(m, c.td, hpa_to_pfn(new_hpa));
	/* One step for the unreachable new page's 512 entries. */
	SCHED_POINT(SCHED_SEPT_WRITE, SCHED_W, page, "new S-EPT page");
	for (unsigned i = 0; i < 512; i++)
		atomic_store_explicit(&page[i], child | (large_hpa + i * small),
				      memory_order_relaxed);
	atomic_thread_fence(memory_order_release);

	/* The small entries become PT_REG before the large one becomes PT_NDA:
	 * a walk that sees the large entry free then sees them assigned. */
	for (unsigned i = 0; i < 512; i++)
		pamt_set(pamt_entry(&m->pamt, large_pfn + i * (small >> PAGE_SHIFT),
				    child_level),
			 PT_REG, c.td->index, 0);
	{
		uint64_t pe = atomic_load_explicit(large_pamt, memory_order_relaxed);

		pamt_set(large_pamt, PT_NDA, pamt_owner(pe), pamt_bepoch(pe));
	}
	pamt_set(new_pamt, PT_EPT, c.td->index, 0);
	tdx_chldcnt_add(c.td, 1);
	tdx_entry_commit(&c, sept_make_nl_mapped(new_hpa));
out:
	sept_ctx_release(&c);
	return status;
}
