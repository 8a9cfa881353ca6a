/* SPDX-License-Identifier: MIT */
/*
 * The common prologue of the host memory SEAMCALLs (tdx-module-sept.md §3),
 * split into its steps so each handler runs them in the module's order, and
 * the release of everything a call holds. Which error wins when several
 * preconditions fail is decided here by that order alone.
 */
#include <string.h>

#include "tdx/tdx_internal.h"


/* 1G entries (pamt.r1g) and TDRs (td_holds) count their shared holders
 * outside the word w of entry e. */
static uint64_t pamt_counted_readers(struct tdx_module *m, _Atomic uint64_t *e,
				     uint64_t w)
{
	int64_t i1g = pamt_1g_index(&m->pamt, e);

	if (i1g >= 0)
		return pamt_1g_shared_holders(&m->pamt, (uint64_t)i1g);
	if (pamt_pt(w) == PT_TDR && pamt_owner(w))
		return tdx_tdr_shared_holders(m, pamt_owner(w));
	return 0;
}

/* With EXCL set: the counted shared attempts in flight have backed out and
 * `want` holds are left (ours, for an upgrade). tdx_locks.h says why the
 * exclusive side gives them a short, bounded while. */
static bool pamt_counted_settled(struct tdx_module *m, _Atomic uint64_t *e,
				 uint64_t want)
{
	uint64_t w = atomic_load_explicit(e, memory_order_relaxed);

	for (unsigned i = 0; i < SHAREX_SETTLE_READS; i++) {
		if (pamt_counted_readers(m, e, w) == want)
			return true;
		if (sharex_settle_now())
			return false;
		sharex_cpu_relax();
	}
	return false;
}

enum lock_result tdx_pamt_try_lock(struct tdx_module *m, _Atomic uint64_t *e,
				   bool excl)
{
	enum lock_result r = lockword_try(e, excl, true, LOCK_HOST);

	if (r != LOCK_OK || !excl)
		return r;
	if (pamt_counted_settled(m, e, 0))
		return LOCK_OK;
	lockword_back_out_excl(e, true);
	return LOCK_BUSY;
}

/* A shared hold of a 1G entry, counted on this thread's slot. */
static enum lock_result pamt_1g_try_shared(struct tdx_module *m, _Atomic uint64_t *e,
					   uint64_t index)
{
	struct sharex_counted l = pamt_1g_lock(&m->pamt, e, index);

	return sharex_counted_try_shared(&l);
}

/* Our counted shared hold of a 1G entry made exclusive, if it is the only
 * hold (the module's promote_sharex_lock_hp). */
static bool pamt_1g_upgrade(struct tdx_module *m, _Atomic uint64_t *e,
			    uint64_t index)
{
	if (lockword_try(e, true, true, LOCK_HOST) != LOCK_OK)
		return false;
	if (!pamt_counted_settled(m, e, 1)) {
		lockword_back_out_excl(e, true);
		return false;
	}
	holds_withdraw(pamt_1g_readers(&m->pamt, index, host_thread_slot()), 1);
	return true;
}

enum lock_result tdx_tdr_try_shared(struct tdx_module *m, _Atomic uint64_t *e,
				    uint64_t ahead, unsigned *reader_index)
{
	for (;;) {
		uint64_t w, all = TD_HOLD_TDR + ahead;
		unsigned index;
		_Atomic uint64_t *mine;

		SCHED_POINT(SCHED_PAMT_READ, SCHED_R, e, "TDR's PAMT entry");
		w = atomic_load_explicit(e, memory_order_acquire);
		index = pamt_pt(w) == PT_TDR ? pamt_owner(w) : 0;

		*reader_index = 0;
		if (!index)
			return lockword_try(e, false, true, LOCK_HOST);
		/* The protocol of tdx_locks.h: publish (our TDR hold and the
		 * holds published ahead, one store), then look at the word. */
		mine = tdx_td_holds_mine(m, index);
		SCHED_POINT(SCHED_TDX_LOCK, SCHED_W, e, "module lock (shared)");
		holds_publish(mine, all);
		w = atomic_load_explicit(e, memory_order_seq_cst);
		if (w & SHAREX_EXCL) {
			holds_withdraw(mine, all);
			if (!(w & SHAREX_HP))
				atomic_fetch_or_explicit(e, SHAREX_HP, memory_order_relaxed);
			return LOCK_BUSY;
		}
		if (pamt_pt(w) == PT_TDR && pamt_owner(w) == index) {
			if (w & SHAREX_HP)
				atomic_fetch_and_explicit(e, ~(uint64_t)SHAREX_HP,
							  memory_order_relaxed);
			*reader_index = index;
			return LOCK_OK;
		}
		/* RECLAIM freed that TD between our two reads (its index may
		 * already name another TD): look at the page again. */
		SCHED_POINT(SCHED_TDX_UNLOCK, SCHED_W, e, "TDR lock (shared)");
		holds_withdraw(mine, all);
	}
}

/* The holds of our TD's word published ahead and not taken, and those of
 * tree/OP_STATE taken, given back (one store outside exploration; one
 * schedule point each while exploring, as separate releases). */
static void release_td_holds(struct sept_ctx *c)
{
	_Atomic uint64_t *mine = tdx_td_holds_mine(c->m, c->tdr_reader);

	if (sched_enabled()) {
		/* In the order of separate releases, each on its lock. */
		static const unsigned order[] = { TD_HOLD_SEPT_SHIFT, TD_HOLD_OP_STATE_SHIFT,
						  TD_HOLD_EPOCH_SHIFT };

		for (unsigned i = 0; i < 3; i++) {
			uint64_t n = (c->holds >> order[i]) & HOLDS_FIELD_MASK;
			struct sharex_counted l;

			if (!n)
				continue;
			l = tdx_td_lock(c->m, c->td, order[i]);
			SCHED_POINT_EXPLORING(SCHED_TDX_UNLOCK, SCHED_W, l.word, "module lock (shared)");
			holds_withdraw(mine, n << order[i]);
		}
		if (c->holds & (HOLDS_FIELD_MASK << TD_HOLD_TDR_SHIFT)) {
			SCHED_POINT_EXPLORING(SCHED_TDX_UNLOCK, SCHED_W, c->tdr_lock, "TDR lock (shared)");
			holds_withdraw(mine, c->holds & (HOLDS_FIELD_MASK << TD_HOLD_TDR_SHIFT));
		}
	} else {
		holds_withdraw(mine, c->holds);
	}
	c->holds = 0;
	c->ahead = 0;
}

void sept_ctx_release(struct sept_ctx *c)
{
	if (c->entry) {
		SCHED_POINT(SCHED_TDX_UNLOCK, SCHED_W, c->entry, "S-EPT entry lock");
		atomic_fetch_and_explicit(c->entry, ~SEPT_TDEL, memory_order_release);
		c->entry = NULL;
	}
	while (c->nr_pamt_locks > 0) {
		unsigned i = --c->nr_pamt_locks;

		if (c->pamt_counted[i]) {
			SCHED_POINT(SCHED_TDX_UNLOCK, SCHED_W, c->pamt_locks[i],
				    "PAMT 1G entry lock (shared)");
			holds_withdraw(pamt_1g_readers(&c->m->pamt,
						       (uint64_t)pamt_1g_index(&c->m->pamt,
									       c->pamt_locks[i]),
						       c->slot),
				       1);
		} else {
			lockword_release(c->pamt_locks[i], c->pamt_excl[i]);
		}
		c->pamt_counted[i] = false;
	}
	if (c->absent_hold) {
		SCHED_POINT(SCHED_TDX_UNLOCK, SCHED_W, c->absent_hold,
			    "PAMT 4K entry lock, no leaf (shared)");
		atomic_fetch_sub_explicit(c->absent_hold, 1, memory_order_release);
		c->absent_hold = NULL;
	}
	if (c->tree_excl) {
		struct sharex_counted l = tdx_td_lock(c->m, c->td, TD_HOLD_SEPT_SHIFT);

		sharex_counted_release_excl(&l);
		c->tree_excl = false;
	}
	if (c->tdr_lock) {
		if (c->tdr_reader) {
			release_td_holds(c);
		} else {
			lockword_release(c->tdr_lock, c->tdr_excl);
		}
		c->tdr_lock = NULL;
		c->tdr_reader = 0;
	}
}


/*
 * Upgrades a shared hold of a PAMT lock word to exclusive, if the caller is
 * its only reader (the module's promote_sharex_lock_hp).
 */
static bool lockword_upgrade(_Atomic uint64_t *w)
{
	uint64_t old;

	SCHED_POINT(SCHED_TDX_LOCK, SCHED_W, w, "PAMT entry lock (upgrade)");
	old = atomic_load_explicit(w, memory_order_relaxed);

	for (;;) {
		uint64_t lk = old & 0xFFFF;

		if ((lk & SHAREX_EXCL) || (lk & SHAREX_READERS) != 1) {
			if (!(lk & SHAREX_HP))
				atomic_compare_exchange_weak_explicit(
					w, &old, old | SHAREX_HP,
					memory_order_relaxed, memory_order_relaxed);
			return false;
		}
		if (atomic_compare_exchange_weak_explicit(
			    w, &old, ((old - 1) | SHAREX_EXCL) & ~(uint64_t)SHAREX_HP,
			    memory_order_acquire, memory_order_relaxed))
			return true;
	}
}

uint64_t tdx_lock_page(struct sept_ctx *c, uint64_t hpa, unsigned size_level,
		       bool excl, enum tdx_page_type expected, unsigned operand,
		       _Atomic uint64_t **entry_out)
{
	_Atomic uint64_t *e;
	pfn_t pfn = hpa_to_pfn(hpa);
	unsigned target, level;
	uint64_t status = tdx_check_hpa(c, hpa, size_level, operand);

	if (status != TDX_SUCCESS)
		return status;
	if (c->nr_pamt_locks + 3 > SEPT_CTX_MAX_PAMT_LOCKS)
		return TDX_OPERAND_BUSY + operand; /* cannot happen: fixed per leaf */
	if (tdx_busy_injected())
		return TDX_OPERAND_BUSY + operand;
	/*
	 * The module's PAMT walk ([M-pamt] pamt_walk, §2.2): 1G, then 2M, then
	 * 4K, taking each entry above the one returned shared and keeping it
	 * until the call ends, and stopping at the first entry that is not
	 * PT_NDA (a large page). A free (PT_NDA) page is walked to the size
	 * asked for; an assigned one to its leaf. So asking for a 4K page
	 * inside a 2M page finds the 2M entry, a size mismatch, whatever the
	 * 4K entry (left PT_NDA by a 2M AUG or PROMOTE) holds; and PROMOTE and
	 * DEMOTE, which take the large entry exclusively, cannot change a
	 * page's size under a call that looked it up.
	 */
	target = expected == PT_NDA ? size_level : 0;
	for (level = 2;; level--) {
		bool last = level == target, counted = level == 2 && !(last && excl);
		uint64_t i1g = (pfn - c->m->pamt.base) >> 18;

		if (level == 0 && !excl && !entry_out && expected == PT_NDA &&
		    !pamt_4k_present(&c->m->pamt, pfn)) {
			/* A free 4K page of a 2M range whose 4K entries were
			 * never made (a 2M page's, after its REMOVE: KVM then
			 * writes back each of its 512 pages, hugepages ref
			 * §6.3): held shared without making the entries
			 * (pamt.c, pamt_4k_try_shared_absent()). The entry
			 * reads PT_NDA: the checks below pass. */
			_Atomic uint32_t *readers = pamt_4k_absent_readers(&c->m->pamt, pfn);

			SCHED_POINT(SCHED_TDX_LOCK, SCHED_W, readers,
				    "PAMT 4K entry lock, no leaf (shared)");
			if (pamt_4k_try_shared_absent(&c->m->pamt, pfn, readers)) {
				c->absent_hold = readers;
				return TDX_SUCCESS;
			}
		}
		e = pamt_entry(&c->m->pamt, pfn, level);
		if ((counted ? pamt_1g_try_shared(c->m, e, i1g)
			     : tdx_pamt_try_lock(c->m, e, last && excl)) != LOCK_OK)
			return TDX_OPERAND_BUSY + operand;
		c->pamt_locks[c->nr_pamt_locks] = e;
		c->pamt_excl[c->nr_pamt_locks] = last && excl;
		c->pamt_counted[c->nr_pamt_locks] = counted;
		c->nr_pamt_locks++;
		if (level == 0 && excl && pamt_4k_absent_held(&c->m->pamt, pfn))
			return TDX_OPERAND_BUSY + operand;
		if (last)
			break;
		SCHED_POINT(SCHED_PAMT_READ, SCHED_R, e, "PAMT entry");
		if (pamt_pt(atomic_load_explicit(e, memory_order_acquire)) != PT_NDA) {
			if (excl) {
				if (counted ? !pamt_1g_upgrade(c->m, e, i1g)
					    : !lockword_upgrade(e))
					return TDX_OPERAND_BUSY + operand;
				c->pamt_excl[c->nr_pamt_locks - 1] = true;
				c->pamt_counted[c->nr_pamt_locks - 1] = false;
			}
			break;
		}
	}
	SCHED_POINT(SCHED_PAMT_READ, SCHED_R, e, "PAMT entry");
	if (pamt_pt(atomic_load_explicit(e, memory_order_acquire)) != expected ||
	    level != size_level)
		return TDX_PAGE_METADATA_INCORRECT + operand;
	if (expected == PT_NDA && size_level == 1 &&
	    !pamt_2m_range_free(&c->m->pamt, pfn))
		return TDX_PAGE_METADATA_INCORRECT + operand;
	if (entry_out)
		*entry_out = e;
	return TDX_SUCCESS;
}

uint64_t tdx_lock_tdr(struct sept_ctx *c, uint64_t tdr_hpa, unsigned operand,
		      bool excl)
{
	_Atomic uint64_t *e;
	uint64_t status = tdx_check_hpa(c, tdr_hpa, 0, operand);

	if (status != TDX_SUCCESS)
		return status;
	e = pamt_entry(&c->m->pamt, hpa_to_pfn(tdr_hpa), 0);
	if (tdx_busy_injected())
		return TDX_OPERAND_BUSY + operand;
	if ((excl ? tdx_pamt_try_lock(c->m, e, true)
		  : tdx_tdr_try_shared(c->m, e, c->ahead, &c->tdr_reader)) != LOCK_OK) {
		c->ahead = 0;
		return TDX_OPERAND_BUSY + operand;
	}
	c->tdr_lock = e;
	c->tdr_excl = excl;
	if (c->tdr_reader)
		c->holds = TD_HOLD_TDR + c->ahead;
	else
		c->ahead = 0;
	SCHED_POINT(SCHED_PAMT_READ, SCHED_R, e, "TDR's PAMT entry");
	if (pamt_pt(atomic_load_explicit(e, memory_order_acquire)) != PT_TDR)
		return TDX_PAGE_METADATA_INCORRECT + operand;
	c->td = tdx_td_by_index(c->m, pamt_owner(atomic_load_explicit(e, memory_order_acquire)));
	if (!c->td || c->td->tdr != hpa_to_pfn(tdr_hpa))
		return TDX_PAGE_METADATA_INCORRECT + operand;
	return TDX_SUCCESS;
}

uint64_t tdx_lock_tdvpr(struct sept_ctx *c, uint64_t hpa,
			   struct tdx_vcpu **vcpu)
{
	_Atomic uint64_t *e;
	struct tdx_td *td;
	uint64_t status;

	status = tdx_lock_page(c, hpa, 0, true, PT_TDVPR, TDX_OPERAND_ID_RCX, &e);
	if (status != TDX_SUCCESS)
		return status;
	/* The owner cannot go away: its CHLDCNT counts this TDVPR, which we
	 * hold, so its TDR cannot be reclaimed. */
	td = tdx_td_by_index(c->m, pamt_owner(atomic_load(e)));
	*vcpu = NULL;
	for (unsigned i = 0; td && i < atomic_load(&td->nr_vcpus); i++)
		if (td->vcpu_tdvpr[i] == hpa_to_pfn(hpa))
			*vcpu = &td->vcpus[i];
	if (!*vcpu)
		return TDX_PAGE_METADATA_INCORRECT + TDX_OPERAND_ID_RCX;
	return tdx_lock_tdr(c, pfn_to_hpa(td->tdr), TDX_OPERAND_ID_TDR, false);
}

uint64_t tdx_check_td_keys(struct sept_ctx *c)
{
	if (c->td->fatal)
		return TDX_TD_FATAL;
	if (atomic_load(&c->td->lifecycle) != TD_KEYS_CONFIGURED)
		return TDX_TD_KEYS_NOT_CONFIGURED;
	if (c->td->num_tdcx < TDX_NUM_TDCS_PAGES)
		return TDX_TDCS_NOT_ALLOCATED;
	return TDX_SUCCESS;
}

/*
 * A shared hold of one of our TD's locks (OP_STATE, S-EPT tree, epoch),
 * counted in the word the TDR hold is on: taken from those published ahead,
 * or published now (tdx_locks.h). On failure nothing of it stays counted.
 */
enum lock_result tdx_td_try_shared_slow(struct sept_ctx *c, unsigned shift)
{
	struct sharex_counted l = tdx_td_lock(c->m, c->td, shift);
	uint64_t unit = holds_unit(shift);
	enum lock_result r;

	if (!c->tdr_reader) /* cannot happen: every caller holds its TDR shared */
		return LOCK_BUSY;
	/* The fast path (tdx_td_try_shared(), tdx_internal.h) did not apply:
	 * a hold published ahead on a word held or claimed, or none. */
	if (c->ahead & unit) {
		c->ahead -= unit;
		r = sharex_counted_take_published(&l);
	} else {
		r = sharex_counted_try_shared(&l);
		if (r == LOCK_OK)
			c->holds += unit;
		return r;
	}
	if (r != LOCK_OK)
		c->holds -= unit; /* sharex_counted_seen() took it back */
	return r;
}

/* Ends a shared hold tdx_td_try_shared() took, before the call ends. */
void tdx_td_release_shared(struct sept_ctx *c, unsigned shift)
{
	SCHED_POINT(SCHED_TDX_UNLOCK, SCHED_W, tdx_td_lock_word(c->td, shift),
		    "module lock (shared)");
	holds_withdraw(&c->m->td_holds[c->slot].w[c->tdr_reader], holds_unit(shift));
	c->holds -= holds_unit(shift);
}

uint64_t tdx_check_op_state(struct sept_ctx *c, bool lock)
{
	if (lock) {
		if (tdx_busy_injected() ||
		    tdx_td_try_shared(c, TD_HOLD_OP_STATE_SHIFT) != LOCK_OK)
			return TDX_OPERAND_BUSY + TDX_OPERAND_ID_OP_STATE;
	}
	if (!tdx_op_state_allowed(c->leaf, (enum td_op_state)atomic_load(&c->td->op_state)))
		return TDX_OP_STATE_INCORRECT;
	return TDX_SUCCESS;
}

uint64_t tdx_check_page_info(struct sept_ctx *c, uint64_t rcx,
			     unsigned min_level, unsigned max_level)
{
	unsigned level = (unsigned)(rcx & 7);
	uint64_t gpa = rcx & ~0xFFFULL;

	/* bits 11:3 and 63:52 are reserved */
	if ((rcx & 0xFF8ULL) || (rcx >> 52))
		return TDX_OPERAND_INVALID + TDX_OPERAND_ID_RCX;
	if (level < min_level || level > max_level)
		return TDX_OPERAND_INVALID + TDX_OPERAND_ID_RCX;
	if (gpa & ((PAGE_SIZE << (9 * level)) - 1))
		return TDX_OPERAND_INVALID + TDX_OPERAND_ID_RCX;
	c->gpa = gpa;
	c->level = level;
	return TDX_SUCCESS;
}

uint64_t tdx_check_private_gpa(struct sept_ctx *c)
{
	/* The shared bit must be clear; with GPAW 48, bits 51:48 must be 0. */
	if (c->gpa >> c->td->gpaw_bit)
		return TDX_OPERAND_INVALID + TDX_OPERAND_ID_RCX;
	return TDX_SUCCESS;
}

uint64_t tdx_lock_sept_tree(struct sept_ctx *c, bool excl)
{
	if (tdx_busy_injected())
		return TDX_OPERAND_BUSY + TDX_OPERAND_ID_SEPT;
	if (excl) {
		struct sharex_counted l = tdx_td_lock(c->m, c->td, TD_HOLD_SEPT_SHIFT);

		if (sharex_counted_try_excl(&l) != LOCK_OK)
			return TDX_OPERAND_BUSY + TDX_OPERAND_ID_SEPT;
		c->tree_excl = true;
		return TDX_SUCCESS;
	}
	if (tdx_td_try_shared(c, TD_HOLD_SEPT_SHIFT) != LOCK_OK)
		return TDX_OPERAND_BUSY + TDX_OPERAND_ID_SEPT;
	return TDX_SUCCESS;
}

uint64_t tdx_lock_entry(struct sept_ctx *c)
{
	uint64_t old;

	if (tdx_busy_injected()) {
		tdx_set_entry_details(c, c->walk_value, c->walk_level);
		return TDX_OPERAND_BUSY + TDX_OPERAND_ID_RCX;
	}
	SCHED_POINT(SCHED_TDX_LOCK, SCHED_W, c->walk_entry, "S-EPT entry lock");
	old = atomic_fetch_or_explicit(c->walk_entry, SEPT_TDEL, memory_order_acquire);

	if (old & SEPT_TDEL) {
		/* Held by another host call or by a guest ACCEPT: claim host
		 * priority so the guest backs off (§11.1), report the cached
		 * entry. */
		atomic_fetch_or_explicit(c->walk_entry, SEPT_HP, memory_order_relaxed);
		tdx_set_entry_details(c, c->walk_value, c->walk_level);
		return TDX_OPERAND_BUSY + TDX_OPERAND_ID_RCX;
	}
	if (old & SEPT_HP)
		atomic_fetch_and_explicit(c->walk_entry, ~SEPT_HP, memory_order_relaxed);
	c->entry = c->walk_entry;
	return TDX_SUCCESS;
}

uint64_t tdx_check_entry_state(struct sept_ctx *c)
{
	SCHED_POINT(SCHED_SEPT_READ, SCHED_R, c->walk_entry, "S-EPT entry");
	c->walk_value = atomic_load_explicit(c->walk_entry, memory_order_acquire) &
			~SEPT_LOCK_BITS;
	if (!tdx_sept_state_allowed(c->leaf, sept_state(c->walk_value))) {
		tdx_set_entry_details(c, c->walk_value, c->walk_level);
		return TDX_EPT_ENTRY_STATE_INCORRECT + TDX_OPERAND_ID_RCX;
	}
	return TDX_SUCCESS;
}

uint64_t tdx_mem_prologue(struct sept_ctx *c, unsigned min_level,
			  unsigned max_level, bool tree_excl, bool check_state)
{
	struct seamcall_regs *r = c->regs;
	uint64_t rcx = r->rcx, rdx = r->rdx, status;

	r->rcx = r->rdx = 0;
	/* The OP_STATE and (shared) tree holds go out with the TDR's, one
	 * store and one fence for the three; not while exploring, where each
	 * lock keeps its own step (tdx_locks.h). */
	if (!sched_enabled())
		c->ahead = TD_HOLD_OP_STATE + (tree_excl ? 0 : TD_HOLD_SEPT);
	if (c->leaf == TDH_MEM_SEPT_ADD || c->leaf == TDH_MEM_PAGE_DEMOTE) {
		/* RDX is a handle with flags: bit 0 flag, 11:1 and 63:52
		 * reserved. */
		if ((rdx & 0xFFEULL) || (rdx >> 52))
			return TDX_OPERAND_INVALID + TDX_OPERAND_ID_RDX;
		rdx &= ~0xFFFULL;
	}
	if ((status = tdx_lock_tdr(c, rdx, TDX_OPERAND_ID_RDX, false)) ||
	    (status = tdx_check_td_keys(c)) ||
	    (status = tdx_check_op_state(c, true)) ||
	    (status = tdx_check_page_info(c, rcx, min_level,
					  max_level > c->td->pwl ? c->td->pwl : max_level)) ||
	    (status = tdx_check_private_gpa(c)) ||
	    (status = tdx_lock_sept_tree(c, tree_excl)) ||
	    (status = tdx_walk(c)) ||
	    (status = tdx_lock_entry(c)))
		return status;
	if (check_state)
		return tdx_check_entry_state(c);
	SCHED_POINT(SCHED_SEPT_READ, SCHED_R, c->walk_entry, "S-EPT entry");
	c->walk_value = atomic_load_explicit(c->walk_entry, memory_order_acquire) &
			~SEPT_LOCK_BITS;
	return TDX_SUCCESS;
}

/*
 * The new value and the entry lock's release in one compare-exchange, for a
 * call whose commit is its last step (AUG): the release comes first in
 * sept_ctx_release() anyway, so nothing is reordered, and no one can tell
 * the entry's "new value, still locked" moment from a slightly shorter one.
 * While exploring, the two stay two steps, as they were.
 */
void tdx_entry_commit_unlock(struct sept_ctx *c, uint64_t value)
{
	_Atomic uint64_t *e = c->entry;
	uint64_t old;

	if (sched_enabled() || c->walk_level > 0) {
		tdx_entry_commit(c, value);
		return;
	}
	old = atomic_load_explicit(e, memory_order_relaxed);
	/* Keep HP (set by a contender at any time); TDEL goes. */
	while (!atomic_compare_exchange_weak_explicit(
		e, &old, (value & ~SEPT_LOCK_BITS) | (old & SEPT_HP),
		memory_order_release, memory_order_relaxed))
		;
	c->entry = NULL;
	TDX_TRACE_SEPT(c->m, c->td, c->gpa, c->walk_level, c->walk_value,
		       value & ~SEPT_LOCK_BITS);
	c->walk_value = value & ~SEPT_LOCK_BITS;
}

void tdx_entry_commit(struct sept_ctx *c, uint64_t value)
{
	uint64_t old;

	SCHED_POINT(SCHED_SEPT_WRITE, SCHED_W, c->entry, "S-EPT entry");
	/* An entry above 4K: the shape may change, which ends the walk hints
	 * (sept.c). Counted in progress before the store, done after. */
	if (c->walk_level > 0)
		shape_count_begin(&c->td->sept_shape);
	old = atomic_load_explicit(c->entry, memory_order_relaxed);
	/* Keep TDEL (still ours) and HP (set by a contender at any time). */
	while (!atomic_compare_exchange_weak_explicit(
		c->entry, &old, (value & ~SEPT_LOCK_BITS) | (old & SEPT_LOCK_BITS),
		memory_order_release, memory_order_relaxed))
		;
	if (c->walk_level > 0)
		shape_count_end(&c->td->sept_shape);
	SCHED_NOTE("S-EPT gpa %#llx L%u: %s -> %s", (unsigned long long)c->gpa,
		   c->walk_level, tdx_sept_state_name(sept_state(c->walk_value)),
		   tdx_sept_state_name(sept_state(value & ~SEPT_LOCK_BITS)));
	TDX_TRACE_SEPT(c->m, c->td, c->gpa, c->walk_level, c->walk_value,
		       value & ~SEPT_LOCK_BITS);
	c->walk_value = value & ~SEPT_LOCK_BITS;
}

bool tdx_is_tlb_tracked(struct tdx_td *td, uint32_t bepoch)
{
	uint32_t e;

	SCHED_POINT(SCHED_EPOCH, SCHED_R, &td->td_epoch, "TD epoch");
	e = tdx_current_epoch(td);
	if (bepoch + 1 == e) {
		SCHED_POINT(SCHED_REFCOUNT, SCHED_R, &td->per_slot[0].refcount[bepoch & 1],
			    "epoch REFCOUNT");
		return tdx_epoch_refcount(td, bepoch & 1) == 0;
	}
	return bepoch + 1 < e;
}
