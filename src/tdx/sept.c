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
 * Walk toward c->level from the root. The walk stops early at an entry that is
 * not present (no R/W/X) or is a leaf; reaching the requested level is success
 * whatever the entry there holds (the leaf's state table decides).
 */
uint64_t tdx_walk(struct sept_ctx *c)
{
	struct tdx_td *td = c->td;
	_Atomic uint64_t *table = tdx_sept_page(c->m, td, td->sept_root);
	unsigned level = td->pwl;

	for (;;) {
		_Atomic uint64_t *e = &table[sept_index(c->gpa, level)];
		uint64_t v;

		SCHED_POINT(SCHED_SEPT_READ, SCHED_R, e, "S-EPT entry (walk)");
		v = atomic_load_explicit(e, memory_order_acquire) & ~SEPT_LOCK_BITS;

		if (level == c->level) {
			c->walk_entry = e;
			c->walk_value = v;
			c->walk_level = level;
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
