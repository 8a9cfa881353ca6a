/* SPDX-License-Identifier: MIT */
/*
 * TDH.MEM.PAGE.ADD (leaf 2), tdx-module-sept.md §4.2 and §9: add a page to a
 * TD being built, with content copied from a host page, and measure its GPA.
 * RCX = GPA | level (level 0 only), RDX = TDR HPA, R8 = the target page (a
 * free 4K page), R9 = the source page (a shared HPA).
 *
 * Locks: the TDR exclusively and nothing else (no OP_STATE, tree or entry
 * lock): the exclusive TDR lock excludes every other SEAMCALL on the TD and
 * any vCPU in guest mode (§3, §11.2).
 *
 * Order (§4.2): TDR (RDX) -> the common state step (§3 step 3) -> OP_STATE
 * INITIALIZED (§3.1, unlocked) -> page info, level 0 (TDX_OPERAND_INVALID +
 * RCX) -> private GPA (TDX_OPERAND_INVALID + RCX) -> walk to level 0 without
 * locks (TDX_EPT_WALK_FAILED + RCX with details) -> entry FREE
 * (TDX_EPT_ENTRY_STATE_INCORRECT + RCX with details) -> R9, a shared HPA:
 * 4K aligned, below MAX_PA (RCX may carry key-id bits, not beyond them), a
 * key id below the first private one, and, in the model, inside the host
 * pool since no memory exists elsewhere (TDX_OPERAND_INVALID + R9) -> R8
 * (HPA checks, PAMT lock exclusive, PT_NDA at 4K; errors + R8).
 *
 * Effects: the source is copied to the target, read with the key id R9
 * names (0 = the host's shared key) and written with the TD's key; the entry
 * becomes a MAPPED 4K leaf; CHLDCNT += 1; PAMT(R8) <- {PT_REG, owner, bepoch
 * 0}; the MRTD is extended by one 128-byte SHA-384 block: bytes 0..15 the
 * ASCII string "MEM.PAGE.ADD" zero-padded, bytes 16..23 the GPA
 * little-endian, bytes 24..127 zero. The content is not measured here (that
 * is TDH.MR.EXTEND's job).
 */
#include "tdx/tdx_internal.h"

#define KEYID_BITS 6

static void put_le64(uint8_t *p, uint64_t v)
{
	for (unsigned i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* A shared HPA (the source): HOST_KEYID_SHARED-range key id allowed. */
static uint64_t check_shared_hpa(struct sept_ctx *c, uint64_t hpa,
				 unsigned *keyid)
{
	*keyid = (unsigned)(hpa >> HOST_KEYID_SHIFT);
	if ((hpa & (PAGE_SIZE - 1)) || (hpa >> (HOST_KEYID_SHIFT + KEYID_BITS)) ||
	    *keyid >= HOST_FIRST_PRIVATE_KEYID ||
	    !pamt_covers(&c->m->pamt, hpa_to_pfn(hpa)))
		return TDX_OPERAND_INVALID + TDX_OPERAND_ID_R9;
	return TDX_SUCCESS;
}

/* No entry lock is taken (the exclusive TDR lock stands for it), so the
 * value is written around whatever lock bits the entry carries. */
static void entry_store(_Atomic uint64_t *e, uint64_t value)
{
	uint64_t old;

	SCHED_POINT(SCHED_SEPT_WRITE, SCHED_W, e, "S-EPT entry");
	old = atomic_load_explicit(e, memory_order_relaxed);
	while (!atomic_compare_exchange_weak_explicit(
		e, &old, (value & ~SEPT_LOCK_BITS) | (old & SEPT_LOCK_BITS),
		memory_order_release, memory_order_relaxed))
		;
}

uint64_t tdh_mem_page_add(struct tdx_module *m, struct seamcall_regs *r)
{
	struct sept_ctx c;
	uint64_t rcx = r->rcx, rdx = r->rdx, target = r->r8, source = r->r9;
	uint64_t status;
	uint8_t block[128] = "MEM.PAGE.ADD";
	_Atomic uint64_t *page_pamt;
	struct tdx_td *td;
	unsigned src_keyid;

	r->rcx = r->rdx = 0;
	sept_ctx_init(&c, m, r, TDH_MEM_PAGE_ADD);
	if ((status = tdx_lock_tdr(&c, rdx, TDX_OPERAND_ID_RDX, true)) ||
	    (status = tdx_check_td_keys(&c)) ||
	    (status = tdx_check_op_state(&c, false)) ||
	    (status = tdx_check_page_info(&c, rcx, 0, 0)) ||
	    (status = tdx_check_private_gpa(&c)) ||
	    (status = tdx_walk(&c)))
		goto out;
	td = c.td;
	if (!tdx_sept_state_allowed(TDH_MEM_PAGE_ADD, sept_state(c.walk_value))) {
		tdx_set_entry_details(&c, c.walk_value, c.walk_level);
		status = TDX_EPT_ENTRY_STATE_INCORRECT + TDX_OPERAND_ID_RCX;
		goto out;
	}
	if ((status = check_shared_hpa(&c, source, &src_keyid)) ||
	    (status = tdx_lock_page(&c, target, 0, true, PT_NDA, TDX_OPERAND_ID_R8,
				    &page_pamt)))
		goto out;

	/* Commit point. The content is in place before the entry maps it. */
	host_frame_copy(m->hm, hpa_to_pfn(target), td->hkid, hpa_to_pfn(source),
			src_keyid);
	entry_store(c.walk_entry, sept_make_leaf(target, false));
	TDX_TRACE_SEPT(m, td, c.gpa, c.walk_level, c.walk_value,
		       sept_make_leaf(target, false));
	put_le64(&block[16], c.gpa);
	sha384_update(&td->mrtd_ctx, sizeof(block), block);
	tdx_chldcnt_add(td, 1);
	pamt_set(page_pamt, PT_REG, td->index, 0);
out:
	sept_ctx_release(&c);
	return status;
}
