/* SPDX-License-Identifier: MIT */
/* S-EPT pages, entry reporting (§1.6) and the module's walk (§2.4). */
#include "tdx/tdx_internal.h"

unsigned sept_public_state(enum tdx_sept_state s)
{
	switch (s) {
	case SEPT_FREE: return 0;
	case SEPT_BLOCKED: return 1;
	case SEPT_PENDING: return 2;
	case SEPT_PENDING_BLOCKED: return 3;
	case SEPT_MAPPED: return 4;
	case SEPT_REMOVED: return 5;
	case SEPT_NL_MAPPED: return 0x84;
	case SEPT_NL_BLOCKED: return 0x81;
	default: return 0xFF;
	}
}

uint64_t sept_arch_entry(uint64_t e)
{
	enum tdx_sept_state s = sept_state(e);

	if (s == SEPT_FREE)
		return SEPT_SVE;
	if (sept_is_leaf(e))
		return e & (SEPT_RWX | SEPT_MT_MASK | SEPT_IPAT | SEPT_PS |
			    SEPT_HPA_MASK | SEPT_SVE);
	return e & (SEPT_RWX | SEPT_PS);
}

const char *tdx_page_type_name(unsigned pt)
{
	switch (pt) {
	case PT_NDA: return "PT_NDA";
	case PT_RSVD: return "PT_RSVD";
	case PT_REG: return "PT_REG";
	case PT_TDR: return "PT_TDR";
	case PT_TDCX: return "PT_TDCX";
	case PT_TDVPR: return "PT_TDVPR";
	case PT_EPT: return "PT_EPT";
	}
	return "PT_?";
}

const char *tdx_sept_state_name(enum tdx_sept_state s)
{
	static const char *const names[] = {
		[SEPT_FREE] = "FREE",           [SEPT_NL_MAPPED] = "NL_MAPPED",
		[SEPT_NL_BLOCKED] = "NL_BLOCKED", [SEPT_MAPPED] = "MAPPED",
		[SEPT_BLOCKED] = "BLOCKED",     [SEPT_PENDING] = "PENDING",
		[SEPT_PENDING_BLOCKED] = "PENDING_BLOCKED",
		[SEPT_REMOVED] = "REMOVED",
	};

	return (unsigned)s < SEPT_NR_STATES ? names[s] : "MISCONFIGURED";
}

_Atomic uint64_t *tdx_sept_page(struct tdx_module *m, struct tdx_td *td,
				pfn_t pfn)
{
	return (_Atomic uint64_t *)host_frame_raw(m->hm, pfn, td->hkid);
}

void tdx_sept_page_init(struct tdx_module *m, struct tdx_td *td, pfn_t pfn)
{
	_Atomic uint64_t *page = tdx_sept_page(m, td, pfn);

	for (unsigned i = 0; i < 512; i++)
		atomic_store_explicit(&page[i], SEPT_FREE_VALUE, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
}

/*
 * Walk hints (issue 15). A private fault walks to one 4K entry three
 * times in the module (AUG, then the guest's ACCEPT, on the same thread in
 * the common case), and the next fault walks to its neighbour: each walk
 * from the root reads pwl + 1 entries, each through the frame lookup of
 * its table. A thread that owns its slot keeps, per TD, the 4K-leaf table
 * its last walk to a 4K entry passed through, and the S-EPT's shape
 * (td->sept_shape) as it was over that walk. A walk to a 4K entry of the
 * same 2M range starts in that table when the shape still reads the same
 * with no change in progress.
 *
 * Why that is the walk from the root. Every change of an entry above 4K
 * (the only entries a path to a 4K entry passes: SEPT.ADD, SEPT.REMOVE,
 * BLOCK/UNBLOCK of a large or non-leaf entry, PROMOTE, DEMOTE, REMOVE of
 * a large page; all through tdx_entry_commit()) counts itself in progress
 * in sept_shape before its store and done after. The hint is recorded
 * only if sept_shape was the same, with none in progress, before and after
 * the walk (with an acquire fence between the walk's loads and the second
 * read), so no change of the path overlapped it; a later walk that reads
 * the same value (acquire) again, none in progress, follows a path no
 * change has touched since: the path from the root at that instant. What
 * it reads in the table after that is what a walk from the root, whose
 * loads are not one atomic snapshot either, would read with its last load
 * there.
 *
 * Why the table is still there. As for a walk from the root: a table is
 * freed only by SEPT.REMOVE (the tree lock exclusive, which the host
 * callers' shared hold excludes; its own BLOCK before it changed the shape
 * already) or at teardown; the guest's ACCEPT takes no tree lock, and is
 * kept off a table being removed by the TLB-epoch protocol (BLOCK, TRACK,
 * the vCPU's exit), which holds for the hinted walk as for the full one,
 * a removal being a shape change the hint sees. S-EPT pages stay mapped,
 * so the kept pointer reads the frame, never unmapped memory.
 *
 * Not while exploring: a hinted walk has none of the schedule points of
 * the levels it skips, and the explorations enumerate those.
 */
static bool walk_hinted(struct sept_ctx *c)
{
	struct tdx_td *td = c->td;
	unsigned slot = host_thread_slot();
	_Atomic uint64_t *e;
	uint64_t shape;

	if (!host_thread_slot_owned || td->per_slot[slot].hint_2m != (c->gpa >> 21) + 1)
		return false;
	shape = atomic_load_explicit(&td->sept_shape, memory_order_acquire);
	if (shape != td->per_slot[slot].hint_shape)
		return false;
	e = &td->per_slot[slot].hint_table[sept_index(c->gpa, 0)];
	c->walk_entry = e;
	c->walk_value = atomic_load_explicit(e, memory_order_acquire) & ~SEPT_LOCK_BITS;
	c->walk_level = 0;
	return true;
}

/* A walk from the root reached the 4K entry in table, the shape reading
 * `shape` before it: keep the table if the shape read the same after. */
static void walk_hint_keep(struct sept_ctx *c, _Atomic uint64_t *table, uint64_t shape)
{
	struct tdx_td *td = c->td;
	unsigned slot = host_thread_slot();

	/* The seqlock reader's second read needs no fence: every entry the
	 * walk read was an acquire load, and no later load (this one) can be
	 * reordered before an acquire load. (A fence here also breaks the
	 * ThreadSanitizer build: GCC rejects atomic_thread_fence with -Wtsan.) */
	if (!host_thread_slot_owned || !shape_count_settled(shape) ||
	    atomic_load_explicit(&td->sept_shape, memory_order_acquire) != shape)
		return;
	td->per_slot[slot].hint_2m = (c->gpa >> 21) + 1;
	td->per_slot[slot].hint_table = table;
	td->per_slot[slot].hint_shape = shape;
}

/*
 * Walk toward c->level from the root. The walk stops early at an entry that is
 * not present (no R/W/X) or is a leaf; reaching the requested level is success
 * whatever the entry there holds (the leaf's state table decides). A walk to
 * a 4K entry may start at the 4K-leaf table instead (the walk hints above).
 */
uint64_t tdx_walk(struct sept_ctx *c)
{
	struct tdx_td *td = c->td;
	bool hints = c->level == 0 && !sched_enabled();
	uint64_t shape = 0;
	_Atomic uint64_t *table;
	unsigned level = td->pwl;

	if (hints) {
		if (walk_hinted(c))
			return TDX_SUCCESS;
		shape = atomic_load_explicit(&td->sept_shape, memory_order_acquire);
	}
	table = tdx_sept_page(c->m, td, td->sept_root);
	for (;;) {
		_Atomic uint64_t *e = &table[sept_index(c->gpa, level)];
		uint64_t v;

		SCHED_POINT(SCHED_SEPT_READ, SCHED_R, e, "S-EPT entry (walk)");
		v = atomic_load_explicit(e, memory_order_acquire) & ~SEPT_LOCK_BITS;

		if (level == c->level) {
			c->walk_entry = e;
			c->walk_value = v;
			c->walk_level = level;
			if (hints)
				walk_hint_keep(c, table, shape);
			return TDX_SUCCESS;
		}
		if (!sept_is_present(v) || sept_is_leaf(v)) {
			c->walk_entry = e;
			c->walk_value = v;
			c->walk_level = level;
			tdx_set_entry_details(c, v, level);
			return TDX_EPT_WALK_FAILED + TDX_OPERAND_ID_RCX;
		}
		table = tdx_sept_page(c->m, td, hpa_to_pfn(sept_hpa(v)));
		level--;
	}
}

/*
 * Walk toward level 0 and stop at the first entry that is not present or is a
 * leaf, as the module's "walk to leaf" does (TDH.MR.EXTEND). Success needs a
 * present leaf: stopping at a FREE or NL_BLOCKED entry fails the walk, and so
 * does stopping at a non-present leaf (BLOCKED, PENDING, PENDING_BLOCKED);
 * the stopping entry's details go to RCX/RDX (§1.6). Takes no lock: the
 * caller's exclusive TDR lock keeps the tree still.
 */
uint64_t tdx_walk_to_leaf(struct sept_ctx *c)
{
	struct tdx_td *td = c->td;
	_Atomic uint64_t *table = tdx_sept_page(c->m, td, td->sept_root);
	unsigned level = td->pwl;

	for (;;) {
		_Atomic uint64_t *e = &table[sept_index(c->gpa, level)];
		uint64_t v;

		SCHED_POINT(SCHED_SEPT_READ, SCHED_R, e, "S-EPT entry (walk)");
		v = atomic_load_explicit(e, memory_order_acquire) & ~SEPT_LOCK_BITS;

		if (level == 0 || !sept_is_present(v) || sept_is_leaf(v)) {
			c->walk_entry = e;
			c->walk_value = v;
			c->walk_level = level;
			if (sept_is_leaf(v) && sept_is_present(v))
				return TDX_SUCCESS;
			tdx_set_entry_details(c, v, level);
			return TDX_EPT_WALK_FAILED + TDX_OPERAND_ID_RCX;
		}
		table = tdx_sept_page(c->m, td, hpa_to_pfn(sept_hpa(v)));
		level--;
	}
}

void tdx_set_entry_details(struct sept_ctx *c, uint64_t entry, unsigned level)
{
	c->regs->rcx = sept_arch_entry(entry);
	c->regs->rdx = (uint64_t)level | ((uint64_t)sept_public_state(sept_state(entry)) << 8);
}
