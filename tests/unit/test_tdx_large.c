/* SPDX-License-Identifier: MIT */
/*
 * Large pages (tdx-module-sept.md §4.9-§4.11, §8): PAGE.PROMOTE, PAGE.DEMOTE,
 * PAGE.RELOCATE, 2M AUG against the PAMT, and walks that meet a 2M leaf.
 */
#include "tdx_fixture.h"
#include "tdx/tdx_internal.h" /* entry lock bits, for the BUSY test */

#define G 0x400000ULL       /* a 2M-aligned GPA */
#define G2 0x800000ULL

static const uint64_t INVALID_PROMOTE = 0xC0000B0900000001ULL;
static const uint64_t NOT_BLOCKED = 0xC0000B0600000001ULL;
static const uint64_t NOT_TRACKED = 0xC0000B0800000001ULL;
static const uint64_t WALK_FAILED = 0xC0000B0000000001ULL;
static const uint64_t META_R8 = 0xC000030000000008ULL;
/* §1.6: RCX/RDX details of an NL_MAPPED / NL_BLOCKED entry at level 1. */
static const uint64_t NL_MAPPED_RCX = 0x7, NL_MAPPED_RDX = 0x8401;
static const uint64_t NL_BLOCKED_RDX = 0x8101;

static int setup_init(void **state)
{
	struct fx *f = malloc(sizeof(*f));

	fx_init(f, 48, 1);
	*state = f;
	return 0;
}

static int setup_runnable(void **state)
{
	setup_init(state);
	fx_finalize(*state);
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	fx_fini(f);
	free(f);
	return 0;
}

static uint64_t call(struct fx *f, int leaf, uint64_t gpa, unsigned level,
		     uint64_t r8, struct seamcall_regs *out)
{
	return fx_call(f, leaf, tdx_page_info(gpa, level), f->tdr, r8, 0, out);
}

static hpa_t sept_hpa_at(struct fx *f, uint64_t gpa, unsigned level)
{
	enum tdx_sept_state s;
	hpa_t hpa = 0;

	assert_true(tdx_debug_sept_state(f->m, f->tdr, gpa, level, &s, &hpa, NULL));
	return hpa;
}

static void expect_pamt(struct fx *f, hpa_t hpa, enum tdx_page_type pt,
			hpa_t owner, unsigned size)
{
	enum tdx_page_type got_pt;
	hpa_t got_owner;
	unsigned got_size;

	tdx_debug_pamt(f->m, hpa_to_pfn(hpa), &got_pt, &got_owner, &got_size);
	assert_int_equal(got_pt, pt);
	assert_int_equal(got_owner, owner);
	assert_int_equal(got_size, size);
}

/* 512 4K pages at g..g+2M backed by hpa[i] (AUG: PENDING). */
static void aug_512(struct fx *f, uint64_t g, const hpa_t *hpa)
{
	fx_sept_path(f, g, 0);
	for (unsigned i = 0; i < 512; i++)
		FX_OK(call(f, TDH_MEM_PAGE_AUG, g + i * PAGE_SIZE, 0, hpa[i], NULL));
}

static void contiguous(hpa_t base, hpa_t *hpa)
{
	for (unsigned i = 0; i < 512; i++)
		hpa[i] = base + i * PAGE_SIZE;
}

static void accept_512(struct fx *f, uint64_t g)
{
	uint64_t st;

	FX_OK(fx_call(f, TDH_VP_ENTER, f->tdvpr[0], 0, 0, 0, NULL));
	for (unsigned i = 0; i < 512; i++) {
		assert_int_equal(tdg_mem_page_accept(f->m, f->tdvpr[0],
						     tdx_page_info(g + i * PAGE_SIZE, 0), &st),
				 TDCALL_RETURNED);
		FX_STATUS(st, TDX_SUCCESS);
	}
	tdx_td_exit(f->m, f->tdvpr[0]);
}

/* PROMOTE of 512 MAPPED leaves (AUG + ACCEPT) in a running TD: the parent
 * must be blocked and tracked; then the exact PAMT effects. */
static void test_promote_runnable(void **state)
{
	struct fx *f = *state;
	hpa_t base = fx_new_2m(f), hpa[512], pt;
	struct seamcall_regs out;
	uint64_t chld;
	struct tdx_hw_walk w;

	contiguous(base, hpa);
	aug_512(f, G, hpa);
	accept_512(f, G);
	pt = sept_hpa_at(f, G, 1);
	chld = tdx_debug_chldcnt(f->m, f->tdr);

	FX_STATUS(call(f, TDH_MEM_PAGE_PROMOTE, G, 1, 0, &out), NOT_BLOCKED);
	assert_int_equal(out.rcx, NL_MAPPED_RCX);
	assert_int_equal(out.rdx, NL_MAPPED_RDX);
	FX_OK(call(f, TDH_MEM_RANGE_BLOCK, G, 1, 0, NULL));
	FX_STATUS(call(f, TDH_MEM_PAGE_PROMOTE, G, 1, 0, &out), NOT_TRACKED);
	assert_int_equal(out.rcx, 0);
	assert_int_equal(out.rdx, 0);
	FX_OK(fx_call(f, TDH_MEM_TRACK, f->tdr, 0, 0, 0, NULL));

	FX_OK(call(f, TDH_MEM_PAGE_PROMOTE, G, 1, 0, &out));
	assert_int_equal(out.rcx, pt);
	assert_int_equal(out.rdx, 0);
	/* The parent is a MAPPED 2M leaf, unblocked. */
	assert_int_equal(fx_state(f, G, 1), SEPT_MAPPED);
	assert_int_equal(sept_hpa_at(f, G, 1), base);
	/* PAMT: one 2M PT_REG page owned by the TD; the freed S-EPT page NDA. */
	for (unsigned i = 0; i < 512; i++)
		expect_pamt(f, base + i * PAGE_SIZE, PT_REG, f->tdr, 1);
	expect_pamt(f, pt, PT_NDA, 0, 0);
	assert_int_equal(tdx_debug_chldcnt(f->m, f->tdr), chld - 1);
	/* The CPU sees it as a 2M mapping. */
	FX_OK(fx_call(f, TDH_VP_ENTER, f->tdvpr[0], 0, 0, 0, NULL));
	tdx_hw_walk(f->m, f->tdvpr[0], G + 0x3000, &w);
	assert_int_equal(w.kind, TDX_HW_MAPPED);
	assert_int_equal(w.level, 1);
	assert_int_equal(w.hpa, base + 0x3000);
	tdx_td_exit(f->m, f->tdvpr[0]);
	/* The freed page can be a new S-EPT page again. */
	FX_OK(call(f, TDH_MEM_SEPT_ADD, G2, 1, pt, NULL));

	/* Blocked and tracked, but the children do not qualify (the last one
	 * breaks the stride): the details are the parent's (NL_BLOCKED: RCX
	 * 0). */
	contiguous(fx_new_2m(f), hpa);
	hpa[511] = fx_new_page(f);
	aug_512(f, G2, hpa);
	FX_OK(call(f, TDH_MEM_RANGE_BLOCK, G2, 1, 0, NULL));
	FX_OK(fx_call(f, TDH_MEM_TRACK, f->tdr, 0, 0, 0, NULL));
	FX_STATUS(call(f, TDH_MEM_PAGE_PROMOTE, G2, 1, 0, &out), INVALID_PROMOTE);
	assert_int_equal(out.rcx, 0);
	assert_int_equal(out.rdx, NL_BLOCKED_RDX);
	assert_int_equal(fx_state(f, G2, 1), SEPT_NL_BLOCKED);
}

/* Before finalize (PAGE.ADD builds MAPPED leaves; no blocking needed). */
static void test_promote_page_add(void **state)
{
	struct fx *f = *state;
	hpa_t base = fx_new_2m(f), src = fx_new_page(f), pt;
	uint64_t chld0 = tdx_debug_chldcnt(f->m, f->tdr);
	struct seamcall_regs out;

	fx_sept_path(f, G, 0);
	for (unsigned i = 0; i < 512; i++)
		FX_OK(fx_call(f, TDH_MEM_PAGE_ADD, tdx_page_info(G + i * PAGE_SIZE, 0), f->tdr,
			      base + i * PAGE_SIZE, src, NULL));
	pt = sept_hpa_at(f, G, 1);
	/* 512 data pages and 3 S-EPT pages (PDPT, PD, PT) on top of the TDCS
	 * and TDVPR pages. */
	assert_int_equal(tdx_debug_chldcnt(f->m, f->tdr), chld0 + 512 + 3);
	FX_OK(call(f, TDH_MEM_PAGE_PROMOTE, G, 1, 0, &out));
	assert_int_equal(out.rcx, pt);
	assert_int_equal(fx_state(f, G, 1), SEPT_MAPPED);
	expect_pamt(f, base, PT_REG, f->tdr, 1);
	expect_pamt(f, base + 511 * PAGE_SIZE, PT_REG, f->tdr, 1);
	expect_pamt(f, pt, PT_NDA, 0, 0);
	/* The data pages stay counted; one S-EPT page less. */
	assert_int_equal(tdx_debug_chldcnt(f->m, f->tdr), chld0 + 512 + 2);
}

/* 512 PENDING leaves promote to a 2M PENDING leaf that the guest accepts. */
static void test_promote_pending(void **state)
{
	struct fx *f = *state;
	hpa_t base = fx_new_2m(f), hpa[512];
	uint64_t st;

	contiguous(base, hpa);
	aug_512(f, G, hpa);
	FX_OK(call(f, TDH_MEM_PAGE_PROMOTE, G, 1, 0, NULL));
	assert_int_equal(fx_state(f, G, 1), SEPT_PENDING);
	fx_finalize(f);
	FX_OK(fx_call(f, TDH_VP_ENTER, f->tdvpr[0], 0, 0, 0, NULL));
	assert_int_equal(tdg_mem_page_accept(f->m, f->tdvpr[0], tdx_page_info(G, 1), &st),
			 TDCALL_RETURNED);
	FX_STATUS(st, TDX_SUCCESS);
	assert_int_equal(fx_state(f, G, 1), SEPT_MAPPED);
	tdx_td_exit(f->m, f->tdvpr[0]);
}

/* The child scan's conditions, each alone. */
static void test_promote_conditions(void **state)
{
	struct fx *f = *state;
	hpa_t base = fx_new_2m(f), src = fx_new_page(f), hpa[512], t;
	struct seamcall_regs out;
	pfn_t run;
	uint64_t chld;

	/* Mixed: 256 MAPPED (PAGE.ADD), 256 PENDING (AUG). */
	fx_sept_path(f, G, 0);
	for (unsigned i = 0; i < 512; i++) {
		if (i < 256)
			FX_OK(fx_call(f, TDH_MEM_PAGE_ADD, tdx_page_info(G + i * PAGE_SIZE, 0),
				      f->tdr, base + i * PAGE_SIZE, src, NULL));
		else
			FX_OK(call(f, TDH_MEM_PAGE_AUG, G + i * PAGE_SIZE, 0,
				   base + i * PAGE_SIZE, NULL));
	}
	chld = tdx_debug_chldcnt(f->m, f->tdr);
	FX_STATUS(call(f, TDH_MEM_PAGE_PROMOTE, G, 1, 0, &out), INVALID_PROMOTE);
	assert_int_equal(out.rcx, NL_MAPPED_RCX);
	assert_int_equal(out.rdx, NL_MAPPED_RDX);
	/* Nothing changed, and no child entry stayed locked: SEPT.RD of each
	 * child takes its lock. */
	assert_int_equal(fx_state(f, G, 1), SEPT_NL_MAPPED);
	assert_int_equal(tdx_debug_chldcnt(f->m, f->tdr), chld);
	expect_pamt(f, base, PT_REG, f->tdr, 0);
	for (unsigned i = 0; i < 512; i++)
		FX_OK(call(f, TDH_MEM_SEPT_RD, G + i * PAGE_SIZE, 0, 0, NULL));

	/* Non-contiguous: two HPAs swapped. */
	contiguous(fx_new_2m(f), hpa);
	t = hpa[7], hpa[7] = hpa[8], hpa[8] = t;
	aug_512(f, G2, hpa);
	FX_STATUS(call(f, TDH_MEM_PAGE_PROMOTE, G2, 1, 0, &out), INVALID_PROMOTE);
	assert_int_equal(out.rdx, NL_MAPPED_RDX);

	/* Contiguous but not 2M aligned. */
	assert_int_equal(host_mem_alloc_range(f->hm, 1024, 512, &run), 0);
	contiguous(pfn_to_hpa(run + 1), hpa);
	aug_512(f, 2 * G2, hpa);
	FX_STATUS(call(f, TDH_MEM_PAGE_PROMOTE, 2 * G2, 1, 0, NULL), INVALID_PROMOTE);

	/* A blocked child (entry[0] BLOCKED is not MAPPED/PENDING). */
	contiguous(fx_new_2m(f), hpa);
	aug_512(f, 3 * G2, hpa);
	FX_OK(call(f, TDH_MEM_RANGE_BLOCK, 3 * G2, 0, 0, NULL));
	FX_STATUS(call(f, TDH_MEM_PAGE_PROMOTE, 3 * G2, 1, 0, NULL), INVALID_PROMOTE);
	/* Once unblocked it promotes. */
	FX_OK(call(f, TDH_MEM_RANGE_UNBLOCK, 3 * G2, 0, 0, NULL));
	FX_OK(call(f, TDH_MEM_PAGE_PROMOTE, 3 * G2, 1, 0, NULL));

	/* Operands and states: level 0, a FREE parent, a leaf parent. */
	FX_STATUS(call(f, TDH_MEM_PAGE_PROMOTE, G, 0, 0, NULL),
		  TDX_OPERAND_INVALID + TDX_OPERAND_ID_RCX);
	FX_STATUS(call(f, TDH_MEM_PAGE_PROMOTE, 4 * G2, 1, 0, &out),
		  TDX_EPT_ENTRY_STATE_INCORRECT + TDX_OPERAND_ID_RCX);
	assert_int_equal(out.rcx, 0x8000000000000000ULL);
	assert_int_equal(out.rdx, 1);
	FX_STATUS(call(f, TDH_MEM_PAGE_PROMOTE, 3 * G2, 1, 0, NULL),
		  TDX_EPT_ENTRY_STATE_INCORRECT + TDX_OPERAND_ID_RCX);
}

/* A child entry held by another call: BUSY + RCX, nothing left held. */
static void test_promote_busy_child(void **state)
{
	struct fx *f = *state;
	hpa_t hpa[512];
	struct seamcall_regs out, regs = { 0 };
	struct sept_ctx c;
	_Atomic uint64_t *e;
	contiguous(fx_new_2m(f), hpa);
	aug_512(f, G, hpa);
	sept_ctx_init(&c, f->m, &regs, TDH_MEM_SEPT_RD);
	c.td = tdx_td_of_tdr_pfn(f->m, hpa_to_pfn(f->tdr));
	c.gpa = G + 300 * PAGE_SIZE;
	c.level = 0;
	assert_int_equal(tdx_walk(&c), TDX_SUCCESS);
	e = c.walk_entry;

	atomic_fetch_or(e, SEPT_TDEL);
	FX_STATUS(call(f, TDH_MEM_PAGE_PROMOTE, G, 1, 0, &out),
		  TDX_OPERAND_BUSY + TDX_OPERAND_ID_RCX);
	assert_int_equal(out.rcx, NL_MAPPED_RCX);
	assert_int_equal(out.rdx, NL_MAPPED_RDX);
	assert_true(atomic_load(e) & SEPT_HP); /* host priority claimed */
	assert_int_equal(fx_state(f, G, 1), SEPT_NL_MAPPED);
	atomic_fetch_and(e, ~SEPT_TDEL);
	/* Version 1 answers NULL_PA in R9..R11 (no L2 VMs). */
	FX_OK(fx_call(f, TDH_MEM_PAGE_PROMOTE | (1 << 16), tdx_page_info(G, 1), f->tdr,
		      0, 0, &out));
	assert_int_equal(out.r9, TDX_NULL_PA);
	assert_int_equal(out.r10, TDX_NULL_PA);
	assert_int_equal(out.r11, TDX_NULL_PA);
	assert_int_equal(fx_state(f, G, 1), SEPT_PENDING);
}

/* The PAMT locks of PROMOTE, DEMOTE and RELOCATE, held by "another call". */
static void test_pamt_busy(void **state)
{
	struct fx *f = *state;
	hpa_t base = fx_new_2m(f), np = fx_new_page(f), hpa[512], pt, p4k = fx_new_page(f);
	_Atomic uint64_t *large = pamt_entry(&f->m->pamt, hpa_to_pfn(base), 1);
	_Atomic uint64_t *pt_lk, *p4k_lk = pamt_entry(&f->m->pamt, hpa_to_pfn(p4k), 0);
	_Atomic uint64_t *np_lk = pamt_entry(&f->m->pamt, hpa_to_pfn(np), 0);
	struct seamcall_regs out;

	contiguous(base, hpa);
	aug_512(f, G, hpa);
	pt = sept_hpa_at(f, G, 1);
	pt_lk = pamt_entry(&f->m->pamt, hpa_to_pfn(pt), 0);

	/* PROMOTE: the child S-EPT page's entry, then the large entry (a PAMT
	 * walk of a frame in the range holds it shared). */
	assert_int_equal(lockword_try(pt_lk, false, true, LOCK_HOST), LOCK_OK);
	FX_STATUS(call(f, TDH_MEM_PAGE_PROMOTE, G, 1, 0, &out), TDX_OPERAND_BUSY + TDX_OPERAND_ID_RCX);
	assert_int_equal(out.rcx, 0); /* no details for PAMT contention */
	lockword_release(pt_lk, false);
	assert_int_equal(lockword_try(large, false, true, LOCK_HOST), LOCK_OK);
	FX_STATUS(call(f, TDH_MEM_PAGE_PROMOTE, G, 1, 0, NULL), TDX_OPERAND_BUSY + TDX_OPERAND_ID_RCX);
	/* The failed scan released every child entry. */
	for (unsigned i = 0; i < 512; i += 97)
		FX_OK(call(f, TDH_MEM_SEPT_RD, G + i * PAGE_SIZE, 0, 0, NULL));
	lockword_release(large, false);
	FX_OK(call(f, TDH_MEM_PAGE_PROMOTE, G, 1, 0, NULL));

	/* DEMOTE: the new page (R8), then the large entry. */
	assert_int_equal(lockword_try(np_lk, false, true, LOCK_HOST), LOCK_OK);
	FX_STATUS(call(f, TDH_MEM_PAGE_DEMOTE, G, 1, np, NULL), TDX_OPERAND_BUSY + TDX_OPERAND_ID_R8);
	lockword_release(np_lk, false);
	assert_int_equal(lockword_try(large, false, true, LOCK_HOST), LOCK_OK);
	FX_STATUS(call(f, TDH_MEM_PAGE_DEMOTE, G, 1, np, NULL), TDX_OPERAND_BUSY + TDX_OPERAND_ID_RCX);
	lockword_release(large, false);
	/* The new page's lock was released by the failure. */
	assert_int_equal(atomic_load(np_lk) & (SHAREX_EXCL | SHAREX_READERS), 0);
	FX_OK(call(f, TDH_MEM_PAGE_DEMOTE, G, 1, np, NULL));

	/* RELOCATE: the old page's entry (RCX), then the new one (R8). */
	assert_int_equal(lockword_try(pamt_entry(&f->m->pamt, hpa_to_pfn(base), 0), false, true,
				      LOCK_HOST), LOCK_OK);
	FX_STATUS(call(f, TDH_MEM_PAGE_RELOCATE, G, 0, p4k, NULL),
		  TDX_OPERAND_BUSY + TDX_OPERAND_ID_RCX);
	lockword_release(pamt_entry(&f->m->pamt, hpa_to_pfn(base), 0), false);
	assert_int_equal(lockword_try(p4k_lk, false, true, LOCK_HOST), LOCK_OK);
	FX_STATUS(call(f, TDH_MEM_PAGE_RELOCATE, G, 0, p4k, NULL),
		  TDX_OPERAND_BUSY + TDX_OPERAND_ID_R8);
	lockword_release(p4k_lk, false);
	FX_OK(call(f, TDH_MEM_PAGE_RELOCATE, G, 0, p4k, &out));
	assert_int_equal(out.rcx, base);
}

/*
 * The 1G PAMT entry above a page: every PAMT walk holds it shared, counted
 * per thread slot outside the entry word (tdx_internal.h, struct pamt). A
 * walk in flight must still exclude an exclusive hold of the 1G entry, and
 * an exclusive holder must still make the walk answer BUSY.
 */
static void test_pamt_1g_counted(void **state)
{
	struct fx *f = *state;
	hpa_t page = fx_new_page(f), other = fx_new_page(f);
	_Atomic uint64_t *e1g = pamt_entry(&f->m->pamt, hpa_to_pfn(page), 2);
	struct seamcall_regs regs = { 0 };
	struct sept_ctx c;

	fx_sept_path(f, G, 0);
	/* A call in flight: its PAMT walk of `page` (as AUG's, for a free
	 * 4K page taken exclusively) holds the 1G entry shared. */
	sept_ctx_init(&c, f->m, &regs, TDH_MEM_PAGE_AUG);
	assert_int_equal(tdx_lock_page(&c, page, 0, true, PT_NDA, TDX_OPERAND_ID_R8, NULL),
			 TDX_SUCCESS);
	assert_int_equal(atomic_load(e1g) & (SHAREX_EXCL | SHAREX_READERS), 0);
	assert_int_equal(tdx_pamt_try_lock(f->m, e1g, true), LOCK_BUSY);
	assert_int_equal(atomic_load(e1g) & SHAREX_EXCL, 0); /* backed out */
	/* Another walk under the same 1G entry shares it. */
	FX_OK(call(f, TDH_MEM_PAGE_AUG, G, 0, other, NULL));
	sept_ctx_release(&c);
	/* Released: now the exclusive side gets it, and a walk is BUSY. */
	assert_int_equal(tdx_pamt_try_lock(f->m, e1g, true), LOCK_OK);
	FX_STATUS(call(f, TDH_MEM_PAGE_AUG, G + PAGE_SIZE, 0, page, NULL),
		  TDX_OPERAND_BUSY + TDX_OPERAND_ID_R8);
	lockword_release(e1g, true);
	FX_OK(call(f, TDH_MEM_PAGE_AUG, G + PAGE_SIZE, 0, page, NULL));
	/* Nothing left counted: the exclusive side gets it again. */
	assert_int_equal(tdx_pamt_try_lock(f->m, e1g, true), LOCK_OK);
	lockword_release(e1g, true);
}

/* DEMOTE of a 2M PENDING page before finalize: NL_MAPPED + 512 PENDING
 * leaves with a 4K stride; then PROMOTE brings it back. */
static void test_demote_pending(void **state)
{
	struct fx *f = *state;
	hpa_t base = fx_new_2m(f), np = fx_new_page(f);
	struct seamcall_regs out;
	enum tdx_sept_state s;
	uint64_t chld;
	hpa_t hpa;

	fx_sept_path(f, G, 1);
	FX_OK(call(f, TDH_MEM_PAGE_AUG, G, 1, base, NULL));
	chld = tdx_debug_chldcnt(f->m, f->tdr);

	/* RDX reserved bits; the bit-0 flag is accepted. */
	FX_STATUS(fx_call(f, TDH_MEM_PAGE_DEMOTE, tdx_page_info(G, 1), f->tdr | 0x10, np, 0, NULL),
		  TDX_OPERAND_INVALID + TDX_OPERAND_ID_RDX);
	/* R8 inside the 2M page itself: the PAMT walk finds the 2M entry. */
	FX_STATUS(call(f, TDH_MEM_PAGE_DEMOTE, G, 1, base + 5 * PAGE_SIZE, NULL), META_R8);
	/* R8 an assigned page (a TDVPR). */
	FX_STATUS(call(f, TDH_MEM_PAGE_DEMOTE, G, 1, f->tdvpr[0], NULL), META_R8);
	/* R8 the TDR, which this very call holds shared: busy, as on the
	 * module, where the explicit-page lookup also finds it locked. */
	FX_STATUS(call(f, TDH_MEM_PAGE_DEMOTE, G, 1, f->tdr, NULL),
		  TDX_OPERAND_BUSY + TDX_OPERAND_ID_R8);
	FX_STATUS(call(f, TDH_MEM_PAGE_DEMOTE, G, 1, np + 1, NULL),
		  TDX_OPERAND_INVALID + TDX_OPERAND_ID_R8);
	/* Level 0 and a non-leaf. */
	FX_STATUS(call(f, TDH_MEM_PAGE_DEMOTE, G, 0, np, NULL),
		  TDX_OPERAND_INVALID + TDX_OPERAND_ID_RCX);
	FX_STATUS(call(f, TDH_MEM_PAGE_DEMOTE, 0, 2, np, &out),
		  TDX_EPT_ENTRY_STATE_INCORRECT + TDX_OPERAND_ID_RCX);
	assert_int_equal(out.rdx, 0x8402);

	FX_OK(fx_call(f, TDH_MEM_PAGE_DEMOTE, tdx_page_info(G, 1), f->tdr | 1, np, 0, &out));
	assert_int_equal(out.rcx, 0);
	assert_int_equal(out.rdx, 0);
	assert_true(tdx_debug_sept_state(f->m, f->tdr, G, 1, &s, &hpa, NULL));
	assert_int_equal(s, SEPT_NL_MAPPED);
	assert_int_equal(hpa, np);
	for (unsigned i = 0; i < 512; i++) {
		assert_true(tdx_debug_sept_state(f->m, f->tdr, G + i * PAGE_SIZE, 0, &s, &hpa, NULL));
		assert_int_equal(s, SEPT_PENDING);
		assert_int_equal(hpa, base + i * PAGE_SIZE);
		expect_pamt(f, base + i * PAGE_SIZE, PT_REG, f->tdr, 0);
	}
	expect_pamt(f, np, PT_EPT, f->tdr, 0);
	assert_int_equal(tdx_debug_chldcnt(f->m, f->tdr), chld + 1);

	/* Round trip. */
	FX_OK(call(f, TDH_MEM_PAGE_PROMOTE, G, 1, 0, &out));
	assert_int_equal(out.rcx, np);
	assert_int_equal(fx_state(f, G, 1), SEPT_PENDING);
	expect_pamt(f, base + 77 * PAGE_SIZE, PT_REG, f->tdr, 1);
	assert_int_equal(tdx_debug_chldcnt(f->m, f->tdr), chld);
}

/* DEMOTE in a running TD: blocked + tracked; the children come out
 * unblocked (MAPPED). */
static void test_demote_runnable(void **state)
{
	struct fx *f = *state;
	hpa_t base = fx_new_2m(f), np = fx_new_page(f);
	struct seamcall_regs out;
	struct tdx_hw_walk w;
	uint64_t st;

	fx_sept_path(f, G, 1);
	FX_OK(call(f, TDH_MEM_PAGE_AUG, G, 1, base, NULL));
	FX_OK(fx_call(f, TDH_VP_ENTER, f->tdvpr[0], 0, 0, 0, NULL));
	assert_int_equal(tdg_mem_page_accept(f->m, f->tdvpr[0], tdx_page_info(G, 1), &st),
			 TDCALL_RETURNED);
	FX_STATUS(st, TDX_SUCCESS);

	FX_STATUS(call(f, TDH_MEM_PAGE_DEMOTE, G, 1, np, &out), NOT_BLOCKED);
	assert_int_equal(out.rcx, base | 0x80000000000000F7ULL);
	assert_int_equal(out.rdx, 0x401);
	FX_OK(call(f, TDH_MEM_RANGE_BLOCK, G, 1, 0, NULL));
	FX_STATUS(call(f, TDH_MEM_PAGE_DEMOTE, G, 1, np, &out), NOT_TRACKED);
	FX_OK(fx_call(f, TDH_MEM_TRACK, f->tdr, 0, 0, 0, NULL));
	/* The vCPU that entered before the TRACK is still inside. */
	FX_STATUS(call(f, TDH_MEM_PAGE_DEMOTE, G, 1, np, &out), NOT_TRACKED);
	tdx_td_exit(f->m, f->tdvpr[0]);
	FX_OK(call(f, TDH_MEM_PAGE_DEMOTE, G, 1, np, &out));
	assert_int_equal(fx_state(f, G, 1), SEPT_NL_MAPPED);
	assert_int_equal(fx_state(f, G, 0), SEPT_MAPPED);
	assert_int_equal(fx_state(f, G + 511 * PAGE_SIZE, 0), SEPT_MAPPED);
	assert_int_equal(sept_hpa_at(f, G + 511 * PAGE_SIZE, 0), base + 511 * PAGE_SIZE);
	FX_OK(fx_call(f, TDH_VP_ENTER, f->tdvpr[0], 0, 0, 0, NULL));
	tdx_hw_walk(f->m, f->tdvpr[0], G + 0x9000, &w);
	assert_int_equal(w.kind, TDX_HW_MAPPED);
	assert_int_equal(w.level, 0);
	assert_int_equal(w.hpa, base + 0x9000);
	tdx_td_exit(f->m, f->tdvpr[0]);
}

static void guest_write(struct fx *f, hpa_t hpa, uint8_t byte)
{
	uint8_t buf[64];

	memset(buf, byte, sizeof(buf));
	host_frame_write(f->hm, hpa_to_pfn(hpa), 128, buf, sizeof(buf), f->hkid);
}

static bool frame_has(struct fx *f, hpa_t hpa, size_t off, uint8_t byte)
{
	uint8_t buf[64];
	bool poisoned;

	host_frame_read(f->hm, hpa_to_pfn(hpa), off, buf, sizeof(buf), f->hkid, &poisoned);
	for (size_t i = 0; i < sizeof(buf); i++)
		if (buf[i] != byte)
			return false;
	return !poisoned;
}

/* RELOCATE of a MAPPED page in a running TD: the content moves. */
static void test_relocate_mapped(void **state)
{
	struct fx *f = *state;
	hpa_t old = fx_new_page(f), new = fx_new_page(f);
	struct seamcall_regs out;
	uint64_t st, chld;

	fx_sept_path(f, G, 0);
	FX_OK(call(f, TDH_MEM_PAGE_AUG, G, 0, old, NULL));
	FX_OK(fx_call(f, TDH_VP_ENTER, f->tdvpr[0], 0, 0, 0, NULL));
	assert_int_equal(tdg_mem_page_accept(f->m, f->tdvpr[0], tdx_page_info(G, 0), &st),
			 TDCALL_RETURNED);
	guest_write(f, old, 0x5A);
	tdx_td_exit(f->m, f->tdvpr[0]);
	chld = tdx_debug_chldcnt(f->m, f->tdr);

	/* old == new is refused before the blocking rules. */
	FX_STATUS(call(f, TDH_MEM_PAGE_RELOCATE, G, 0, old, NULL),
		  TDX_OPERAND_INVALID + TDX_OPERAND_ID_R8);
	FX_STATUS(call(f, TDH_MEM_PAGE_RELOCATE, G, 0, new, &out), NOT_BLOCKED);
	assert_int_equal(out.rcx, old | 0x80000000000000F7ULL);
	assert_int_equal(out.rdx, 0x400);
	FX_OK(call(f, TDH_MEM_RANGE_BLOCK, G, 0, 0, NULL));
	FX_STATUS(call(f, TDH_MEM_PAGE_RELOCATE, G, 0, new, NULL), NOT_TRACKED);
	FX_OK(fx_call(f, TDH_MEM_TRACK, f->tdr, 0, 0, 0, NULL));
	FX_STATUS(call(f, TDH_MEM_PAGE_RELOCATE, G, 0, f->tdvpr[0], NULL), META_R8);
	FX_STATUS(call(f, TDH_MEM_PAGE_RELOCATE, G, 1, new, NULL),
		  TDX_OPERAND_INVALID + TDX_OPERAND_ID_RCX);

	FX_OK(call(f, TDH_MEM_PAGE_RELOCATE, G, 0, new, &out));
	assert_int_equal(out.rcx, old);
	assert_int_equal(out.rdx, 0);
	assert_int_equal(fx_state(f, G, 0), SEPT_MAPPED); /* unblocked */
	assert_int_equal(sept_hpa_at(f, G, 0), new);
	assert_true(frame_has(f, new, 128, 0x5A));
	assert_true(frame_has(f, new, 0, 0));
	expect_pamt(f, old, PT_NDA, 0, 0);
	expect_pamt(f, new, PT_REG, f->tdr, 0);
	assert_int_equal(tdx_debug_chldcnt(f->m, f->tdr), chld);
}

/* RELOCATE of a PENDING page before finalize: nothing to copy. */
static void test_relocate_pending(void **state)
{
	struct fx *f = *state;
	hpa_t old = fx_new_page(f), new = fx_new_page(f);
	struct seamcall_regs out;

	fx_sept_path(f, G, 0);
	FX_OK(call(f, TDH_MEM_PAGE_AUG, G, 0, old, NULL));
	host_frame_fill(f->hm, hpa_to_pfn(old), 0xAB, f->hkid);
	host_frame_fill(f->hm, hpa_to_pfn(new), 0xCD, f->hkid);
	FX_OK(call(f, TDH_MEM_PAGE_RELOCATE, G, 0, new, &out));
	assert_int_equal(out.rcx, old);
	assert_int_equal(fx_state(f, G, 0), SEPT_PENDING);
	assert_int_equal(sept_hpa_at(f, G, 0), new);
	assert_true(frame_has(f, new, 0, 0xCD));
	/* PENDING_BLOCKED: not copied either, and comes out PENDING. */
	FX_OK(call(f, TDH_MEM_RANGE_BLOCK, G, 0, 0, NULL));
	FX_OK(call(f, TDH_MEM_PAGE_RELOCATE, G, 0, old, &out));
	assert_int_equal(out.rcx, new);
	assert_int_equal(fx_state(f, G, 0), SEPT_PENDING);
	assert_true(frame_has(f, old, 0, 0xAB));
}

/* The PAMT side of 2M pages. */
static void test_aug_2m_pamt(void **state)
{
	struct fx *f = *state;
	hpa_t base = fx_new_2m(f), other = fx_new_2m(f);
	struct seamcall_regs out;

	fx_sept_path(f, G, 1);
	fx_sept_path(f, G2, 0);
	/* One 4K child owned: no 2M AUG of that range. */
	FX_OK(call(f, TDH_MEM_PAGE_AUG, G2, 0, base + 5 * PAGE_SIZE, NULL));
	FX_STATUS(call(f, TDH_MEM_PAGE_AUG, G, 1, base, &out), META_R8);
	assert_int_equal(fx_state(f, G, 1), SEPT_FREE);
	/* A 2M page owned: no 4K AUG of a frame inside it. */
	FX_OK(call(f, TDH_MEM_PAGE_AUG, G, 1, other, NULL));
	FX_STATUS(call(f, TDH_MEM_PAGE_AUG, G2 + PAGE_SIZE, 0, other + 3 * PAGE_SIZE, NULL),
		  META_R8);
	FX_STATUS(call(f, TDH_MEM_SEPT_ADD, 2 * G2, 1, other + PAGE_SIZE, NULL), META_R8);
	/* 2M HPA misaligned. */
	FX_STATUS(call(f, TDH_MEM_PAGE_AUG, 2 * G2, 1, base + PAGE_SIZE, NULL),
		  TDX_OPERAND_INVALID + TDX_OPERAND_ID_R8);
	expect_pamt(f, other + 3 * PAGE_SIZE, PT_REG, f->tdr, 1);
}

/* A level-0 operation under a 2M leaf: the walk stops at level 1. */
static void test_walk_under_2m_leaf(void **state)
{
	struct fx *f = *state;
	hpa_t base = fx_new_2m(f);
	struct seamcall_regs out;
	const uint64_t rcx = base | 0x80000000000000F0ULL, rdx = 0x201; /* PENDING @1 */

	fx_sept_path(f, G, 1);
	FX_OK(call(f, TDH_MEM_PAGE_AUG, G, 1, base, NULL));
	FX_STATUS(call(f, TDH_MEM_PAGE_AUG, G + PAGE_SIZE, 0, fx_new_page(f), &out), WALK_FAILED);
	assert_int_equal(out.rcx, rcx);
	assert_int_equal(out.rdx, rdx);
	FX_STATUS(call(f, TDH_MEM_PAGE_RELOCATE, G, 0, fx_new_page(f), &out), WALK_FAILED);
	assert_int_equal(out.rdx, rdx);
	FX_STATUS(call(f, TDH_MEM_PAGE_REMOVE, G + 0x10000, 0, 0, &out), WALK_FAILED);
	assert_int_equal(out.rcx, rcx);
	assert_int_equal(out.rdx, rdx);
	FX_STATUS(call(f, TDH_MEM_PAGE_PROMOTE, G, 1, 0, &out),
		  TDX_EPT_ENTRY_STATE_INCORRECT + TDX_OPERAND_ID_RCX);
	assert_int_equal(out.rdx, rdx);
	/* And a level-1 leaf op where a 4K table exists sees NL_MAPPED. */
	fx_sept_path(f, G2, 0);
	FX_STATUS(call(f, TDH_MEM_PAGE_DEMOTE, G2, 1, fx_new_page(f), &out),
		  TDX_EPT_ENTRY_STATE_INCORRECT + TDX_OPERAND_ID_RCX);
	assert_int_equal(out.rcx, NL_MAPPED_RCX);
	assert_int_equal(out.rdx, NL_MAPPED_RDX);
}

#define KEYID_BIT(k) ((uint64_t)(k) << HOST_KEYID_SHIFT)

static uint64_t wbinvd(struct fx *f, hpa_t hpa, unsigned key)
{
	return fx_call(f, TDH_PHYMEM_PAGE_WBINVD, hpa | KEYID_BIT(key), 0, 0, 0, NULL);
}

/* Frames of [base, base + 2M) the module records dirty, as a count, with
 * `clean` (if not -1) the one frame that must not be. */
static unsigned dirty_in_2m(struct fx *f, hpa_t base, int clean)
{
	unsigned n = 0, key;

	for (unsigned j = 0; j < 512; j++)
		if (tdx_debug_frame_dirty(f->m, hpa_to_pfn(base) + j, &key)) {
			assert_int_equal(key, f->hkid);
			assert_int_not_equal((int)j, clean);
			n++;
		}
	return n;
}

/*
 * A 2M page REMOVEd: its 512 pages hold the TD's lines until KVM writes each
 * back (hugepages ref §6.3). The module's record of them is one per 2M range
 * (no 4K PAMT entries made: a 1 TiB TD's teardown made 3 GiB of them), moved
 * on as KVM goes through the pages in order, and split into 4K records when
 * a page is written back out of order or freed again at 4K.
 */
static void test_wbinvd_2m_records(void **state)
{
	struct fx *f = *state;
	hpa_t base = fx_new_2m(f), other = fx_new_2m(f);
	pfn_t pfn = hpa_to_pfn(base);
	uint64_t leaves = atomic_load(&f->m->pamt.nr_leaves);

	fx_sept_path(f, G, 1);
	FX_OK(call(f, TDH_MEM_PAGE_AUG, G, 1, base, NULL));
	FX_OK(call(f, TDH_MEM_PAGE_REMOVE, G, 1, 0, NULL));
	assert_int_equal(tdx_debug_dirty_frames(f->m), 512);
	assert_int_equal(dirty_in_2m(f, base, -1), 512);
	/* In KVM's order, under the TD's key: one record moved on, no leaf. */
	FX_OK(wbinvd(f, base, f->hkid));
	assert_int_equal(dirty_in_2m(f, base, 0), 511);
	/* Another key writes back nothing of it. */
	FX_OK(wbinvd(f, base + PAGE_SIZE, f->hkid + 1));
	assert_int_equal(dirty_in_2m(f, base, 0), 511);
	for (unsigned j = 1; j < 10; j++)
		FX_OK(wbinvd(f, base + j * PAGE_SIZE, f->hkid));
	assert_int_equal(tdx_debug_dirty_frames(f->m), 502);
	assert_false(pamt_4k_present(&f->m->pamt, pfn));
	assert_int_equal(atomic_load(&f->m->pamt.nr_leaves), leaves);
	/* Out of order: the record splits into the 4K ones. */
	FX_OK(wbinvd(f, base + 300 * PAGE_SIZE, f->hkid));
	assert_true(pamt_4k_present(&f->m->pamt, pfn));
	assert_int_equal(dirty_in_2m(f, base, 300), 501);
	assert_true(tdx_debug_frame_dirty(f->m, pfn + 299, NULL));
	assert_true(tdx_debug_frame_dirty(f->m, pfn + 301, NULL));
	assert_false(tdx_debug_frame_dirty(f->m, pfn + 9, NULL));
	for (unsigned j = 10; j < 512; j++)
		FX_OK(wbinvd(f, base + j * PAGE_SIZE, f->hkid));
	assert_int_equal(tdx_debug_dirty_frames(f->m), 0);

	/* Written back to the last page in order: the record is gone whole. */
	FX_OK(call(f, TDH_MEM_PAGE_AUG, G, 1, other, NULL));
	FX_OK(call(f, TDH_MEM_PAGE_REMOVE, G, 1, 0, NULL));
	for (unsigned j = 0; j < 512; j++)
		FX_OK(wbinvd(f, other + j * PAGE_SIZE, f->hkid));
	assert_int_equal(tdx_debug_dirty_frames(f->m), 0);
	assert_int_equal(pamt_wb2m_if_present(&f->m->pamt, hpa_to_pfn(other)), 0);

	/* A page of a freed 2M page given back at 4K before its write-back,
	 * then freed again at 4K: its own record, the others' still the 2M
	 * page's; and a 2M free over old 4K records replaces them. */
	FX_OK(call(f, TDH_MEM_PAGE_AUG, G, 1, other, NULL));
	FX_OK(call(f, TDH_MEM_PAGE_REMOVE, G, 1, 0, NULL));
	fx_sept_path(f, G2, 0);
	FX_OK(call(f, TDH_MEM_PAGE_AUG, G2, 0, other + 7 * PAGE_SIZE, NULL));
	FX_OK(call(f, TDH_MEM_PAGE_REMOVE, G2, 0, 0, NULL));
	assert_int_equal(dirty_in_2m(f, other, -1), 512);
	FX_OK(wbinvd(f, other + 7 * PAGE_SIZE, f->hkid));
	assert_int_equal(dirty_in_2m(f, other, 7), 511);
	FX_OK(call(f, TDH_MEM_PAGE_AUG, G, 1, other, NULL));
	FX_OK(call(f, TDH_MEM_PAGE_REMOVE, G, 1, 0, NULL));
	assert_int_equal(dirty_in_2m(f, other, -1), 512);
	for (unsigned j = 0; j < 512; j++)
		FX_OK(wbinvd(f, other + j * PAGE_SIZE, f->hkid));
	assert_int_equal(tdx_debug_dirty_frames(f->m), 0);
}

/*
 * WBINVD holds the 4K PAMT entry of its page shared. For a page of a 2M range
 * whose 4K entries were never made the hold is a count beside the range's
 * leaf pointer (pamt.c): exclusive lockers of any 4K entry of the range
 * answer BUSY while it stands, as they would meet the shared entry, and the
 * check's lock scan sees it.
 */
static void test_wbinvd_absent_leaf_hold(void **state)
{
	struct fx *f = *state;
	hpa_t base = fx_new_2m(f);
	pfn_t pfn = hpa_to_pfn(base);
	struct seamcall_regs regs = { .rcx = base | KEYID_BIT(f->hkid) };
	struct sept_ctx c;

	fx_sept_path(f, G, 0);
	sept_ctx_init(&c, f->m, &regs, TDH_PHYMEM_PAGE_WBINVD);
	assert_int_equal(tdx_lock_page(&c, base + 3 * PAGE_SIZE, 0, false, PT_NDA,
				       TDX_OPERAND_ID_RCX, NULL), TDX_SUCCESS);
	assert_non_null(c.absent_hold);
	assert_false(pamt_4k_present(&f->m->pamt, pfn));
	assert_int_equal(pamt_1g_absent_readers(&f->m->pamt, (pfn - f->m->pamt.base) >> 18), 1);
	/* Shared with another write-back of the range. */
	FX_OK(wbinvd(f, base + 5 * PAGE_SIZE, f->hkid));
	/* Exclusive: BUSY, leaving nothing behind. */
	FX_STATUS(call(f, TDH_MEM_PAGE_AUG, G, 0, base + 3 * PAGE_SIZE, NULL),
		  TDX_OPERAND_BUSY + TDX_OPERAND_ID_R8);
	FX_STATUS(call(f, TDH_MEM_PAGE_AUG, G, 0, base + 9 * PAGE_SIZE, NULL),
		  TDX_OPERAND_BUSY + TDX_OPERAND_ID_R8);
	FX_STATUS(fx_call(f, TDH_PHYMEM_PAGE_RECLAIM, base + 4 * PAGE_SIZE, 0, 0, 0, NULL),
		  TDX_OPERAND_BUSY + TDX_OPERAND_ID_RCX);
	assert_int_equal(atomic_load(pamt_entry(&f->m->pamt, pfn + 3, 0)) &
				 (SHAREX_EXCL | SHAREX_READERS), 0);
	sept_ctx_release(&c);
	assert_null(c.absent_hold);
	assert_int_equal(pamt_1g_absent_readers(&f->m->pamt, (pfn - f->m->pamt.base) >> 18), 0);
	FX_OK(call(f, TDH_MEM_PAGE_AUG, G, 0, base + 3 * PAGE_SIZE, NULL));
	/* The leaf exists now: a write-back of the range takes its entry. */
	sept_ctx_init(&c, f->m, &regs, TDH_PHYMEM_PAGE_WBINVD);
	assert_int_equal(tdx_lock_page(&c, base + 4 * PAGE_SIZE, 0, false, PT_NDA,
				       TDX_OPERAND_ID_RCX, NULL), TDX_SUCCESS);
	assert_null(c.absent_hold);
	assert_int_equal(atomic_load(pamt_entry(&f->m->pamt, pfn + 4, 0)) & SHAREX_READERS, 1);
	sept_ctx_release(&c);
	/* A free page in it answers METADATA_INCORRECT, not BUSY. */
	FX_STATUS(fx_call(f, TDH_PHYMEM_PAGE_RECLAIM, base + 4 * PAGE_SIZE, 0, 0, 0, NULL),
		  TDX_PAGE_METADATA_INCORRECT + TDX_OPERAND_ID_RCX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_promote_runnable, setup_runnable, teardown),
		cmocka_unit_test_setup_teardown(test_promote_page_add, setup_init, teardown),
		cmocka_unit_test_setup_teardown(test_promote_pending, setup_init, teardown),
		cmocka_unit_test_setup_teardown(test_promote_conditions, setup_init, teardown),
		cmocka_unit_test_setup_teardown(test_promote_busy_child, setup_init, teardown),
		cmocka_unit_test_setup_teardown(test_pamt_busy, setup_init, teardown),
		cmocka_unit_test_setup_teardown(test_demote_pending, setup_init, teardown),
		cmocka_unit_test_setup_teardown(test_demote_runnable, setup_runnable, teardown),
		cmocka_unit_test_setup_teardown(test_relocate_mapped, setup_runnable, teardown),
		cmocka_unit_test_setup_teardown(test_relocate_pending, setup_init, teardown),
		cmocka_unit_test_setup_teardown(test_aug_2m_pamt, setup_init, teardown),
		cmocka_unit_test_setup_teardown(test_walk_under_2m_leaf, setup_init, teardown),
		cmocka_unit_test_setup_teardown(test_pamt_1g_counted, setup_init, teardown),
		cmocka_unit_test_setup_teardown(test_wbinvd_2m_records, setup_init, teardown),
		cmocka_unit_test_setup_teardown(test_wbinvd_absent_leaf_hold, setup_init, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
