/* SPDX-License-Identifier: MIT */
/*
 * TDH.MEM.PAGE.PROMOTE (leaf 23), tdx-module-sept.md §4.9 and §8: merge the
 * 512 small leaves of one S-EPT page into a single large leaf. RCX = GPA |
 * level of the PARENT entry (1: the result is a 2M leaf, 2: a 1G leaf); RDX =
 * TDR. Versions 0 and 1 (v1 also returns the freed L2 S-EPT pages in R9..R11;
 * the model has no L2 VMs, so they are NULL_PA).
 *
 * Order (the module's tdh_mem_page_promote.c):
 *  1. §3 prologue: tree lock SHARED, host entry lock on the parent, parent
 *     NL_MAPPED or NL_BLOCKED else EPT_ENTRY_STATE_INCORRECT + RCX;
 *  2. the child S-EPT page's 4K PAMT entry, exclusive (BUSY + RCX);
 *  3. if the OP_STATE requires TLB tracking (RUNNABLE, LIVE_*): the parent
 *     must be NL_BLOCKED (GPA_RANGE_NOT_BLOCKED + RCX + details) and the child
 *     page's bepoch tracked (TLB_TRACKING_NOT_DONE + RCX, no details);
 *  4. child scan, locking each of the 512 child entries host-style as it
 *     goes (a busy one: TDX_OPERAND_BUSY + RCX, with the parent's details):
 *     entry[0] is MAPPED or PENDING and its HPA aligned to the large size,
 *     and entry[i] == entry[0] with HPA + i * small size, bit for bit (the
 *     lock bits and a 2M PENDING leaf's ACCEPT counter aside). Else
 *     TDX_EPT_INVALID_PROMOTE_CONDITIONS + RCX with the parent's details;
 *  5. PAMT promote: the large page's PAMT entry exclusive (BUSY + RCX).
 * Commit: parent <- entry[0] (a large MAPPED or PENDING leaf, unblocked);
 * large PAMT entry <- {PT_REG, owner}; the 512 small PAMT entries and the
 * freed S-EPT page's <- PT_NDA; CHLDCNT -= 1 (the data pages stay counted);
 * RCX = HPA of the freed S-EPT page.
 *
 * The children themselves must not be blocked: it is the parent that is
 * blocked (§4.9 note), which hides the whole range from the CPU.
 *
 * Not modeled: TDX_INTERRUPTED_RESTARTABLE. The real module returns it before
 * committing when a host interrupt is pending; the model has no host
 * interrupts, so a promote that passes its checks always completes.
 */
#include "tdx/tdx_internal.h"

/* A PAMT entry the module finds from a mapping (not an explicit operand):
 * no PAMT walk, the entry of the known size is locked directly ([M-pamt]
 * pamt_implicit_get_and_lock). */
static uint64_t lock_pamt_implicit(struct sept_ctx *c, pfn_t pfn, unsigned size,
				   _Atomic uint64_t **out)
{
	_Atomic uint64_t *e = pamt_entry(&c->m->pamt, pfn, size);

	if (c->nr_pamt_locks == SEPT_CTX_MAX_PAMT_LOCKS ||
	    tdx_pamt_try_lock(c->m, e, true) != LOCK_OK)
		return TDX_OPERAND_BUSY + TDX_OPERAND_ID_RCX;
	c->pamt_locks[c->nr_pamt_locks] = e;
	c->pamt_excl[c->nr_pamt_locks] = true;
	c->nr_pamt_locks++;
	*out = e;
	return TDX_SUCCESS;
}

/* A small leaf as the scan compares it: lock bits out, and a PENDING large
 * leaf's partial-ACCEPT counter out ([M-sm] sept_cleanup_if_pending). */
static uint64_t child_clean(uint64_t e, unsigned child_level)
{
	e &= ~SEPT_LOCK_BITS;
	if (child_level > 0 && sept_state(e) == SEPT_PENDING)
		e &= ~SEPT_ACCEPT_CNT_MASK;
	return e;
}

uint64_t tdh_mem_page_promote(struct tdx_module *m, struct seamcall_regs *r)
{
	struct sept_ctx c;
	unsigned version = (unsigned)((r->rax >> 16) & 0xFF);
	_Atomic uint64_t *child, *child_page_pamt, *large_pamt;
	uint64_t status, parent, child_hpa, small, first = 0;
	unsigned locked = 0, child_level;
	bool mergeable = true;
	pfn_t first_pfn;

	/* On entry, as the module does: RCX/RDX zeroed, and for version 1
	 * R9..R11 NULL_PA; version > 1 is refused here, the registers
	 * written (issue 11 item 2.12). */
	if (version > 0)
		r->r9 = r->r10 = r->r11 = TDX_NULL_PA;
	if (version > 1) {
		r->rcx = r->rdx = 0; /* the prologue zeroes them otherwise */
		return TDX_OPERAND_INVALID + TDX_OPERAND_ID_RAX;
	}
	sept_ctx_init(&c, m, r, TDH_MEM_PAGE_PROMOTE);
	status = tdx_mem_prologue(&c, 1, 2, false, true);
	if (status != TDX_SUCCESS)
		goto out;
	parent = c.walk_value;
	child_hpa = sept_hpa(parent);
	child_level = c.level - 1;
	small = PAGE_SIZE << (9 * child_level);

	status = lock_pamt_implicit(&c, hpa_to_pfn(child_hpa), 0, &child_page_pamt);
	if (status != TDX_SUCCESS)
		goto out;

	if (tdx_op_state_tracking_required((enum td_op_state)atomic_load(&c.td->op_state)) &&
	    tdx_sept_state_tlb_tracking_required(sept_state(parent))) {
		if (!tdx_sept_state_any_blocked(sept_state(parent))) {
			tdx_set_entry_details(&c, parent, c.level);
			status = TDX_GPA_RANGE_NOT_BLOCKED + TDX_OPERAND_ID_RCX;
			goto out;
		}
		if (!tdx_is_tlb_tracked(c.td, pamt_bepoch(atomic_load(child_page_pamt)))) {
			status = TDX_TLB_TRACKING_NOT_DONE + TDX_OPERAND_ID_RCX;
			goto out;
		}
	}

	/* The scan: lock, then compare. Holding all 512 entry locks keeps every
	 * host call off the children until the merge is committed. */
	child = tdx_sept_page(m, c.td, hpa_to_pfn(child_hpa));
	/* One step for the scan; the object is the child page's first entry
	 * (a walk through it names the entry it reads). */
	SCHED_POINT(SCHED_TDX_LOCK, SCHED_W, child, "S-EPT child page (512 entry locks)");
	for (unsigned i = 0; i < 512; i++) {
		uint64_t old = atomic_fetch_or_explicit(&child[i], SEPT_TDEL,
							memory_order_acquire);
		uint64_t v;

		if (old & SEPT_TDEL) {
			atomic_fetch_or_explicit(&child[i], SEPT_HP, memory_order_relaxed);
			tdx_set_entry_details(&c, parent, c.level);
			status = TDX_OPERAND_BUSY + TDX_OPERAND_ID_RCX;
			goto unlock;
		}
		if (old & SEPT_HP)
			atomic_fetch_and_explicit(&child[i], ~SEPT_HP, memory_order_relaxed);
		locked++;
		v = child_clean(old, child_level);
		if (i == 0) {
			enum tdx_sept_state s = sept_state(v);

			if ((sept_hpa(v) & ((small << 9) - 1)) ||
			    (s != SEPT_MAPPED && s != SEPT_PENDING)) {
				mergeable = false;
				break;
			}
			first = v;
		} else if (v != first + i * small) {
			mergeable = false;
			break;
		}
	}
	if (!mergeable) {
		tdx_set_entry_details(&c, parent, c.level);
		status = TDX_EPT_INVALID_PROMOTE_CONDITIONS + TDX_OPERAND_ID_RCX;
		goto unlock;
	}

	/* PAMT promote ([M-pamt] pamt_promote): the large entry, exclusive. */
	first_pfn = hpa_to_pfn(sept_hpa(first));
	status = lock_pamt_implicit(&c, first_pfn, c.level, &large_pamt);
	if (status != TDX_SUCCESS)
		goto unlock;

	/*
	 * Commit point. The large entry becomes PT_REG before the small ones
	 * become PT_NDA: a lookup of a small page that sees it free then also
	 * sees the large page (tdx_lock_page walks top-down).
	 */
	pamt_set(large_pamt, PT_REG, c.td->index, 0);
	for (unsigned i = 0; i < 512; i++) {
		_Atomic uint64_t *e = pamt_entry(&m->pamt, first_pfn + i * (small >> PAGE_SHIFT),
						 child_level);
		uint64_t pe = atomic_load_explicit(e, memory_order_relaxed);

		pamt_set(e, PT_NDA, pamt_owner(pe), pamt_bepoch(pe));
	}
	{
		uint64_t pe = atomic_load_explicit(child_page_pamt, memory_order_relaxed);

		tdx_sept_page_pamt_set(c.td, child_page_pamt, PT_NDA, pamt_owner(pe),
				       pamt_bepoch(pe));
		tdx_page_freed(m, c.td, hpa_to_pfn(child_hpa), 0, false);
	}
	tdx_chldcnt_add(c.td, -1);
	tdx_entry_commit(&c, first);
	r->rcx = child_hpa;
	/*
	 * The freed page's 512 entries stay locked: a host call that walked
	 * through the parent before this commit and reaches one of them now
	 * finds it busy instead of acting on a detached copy. The page is
	 * rewritten whole (SEPT.ADD's init, or the host's clear) before reuse.
	 */
	locked = 0;
unlock:
	if (locked)
		SCHED_POINT(SCHED_TDX_UNLOCK, SCHED_W, child, "S-EPT child page (512 entry locks)");
	for (unsigned i = 0; i < locked; i++)
		atomic_fetch_and_explicit(&child[i], ~SEPT_TDEL, memory_order_release);
out:
	sept_ctx_release(&c);
	return status;
}
