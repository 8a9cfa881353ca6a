/* SPDX-License-Identifier: MIT */
/*
 * A 1G leaf made with raw SEAMCALLs (coverage round 5, issue 14). KVM never
 * maps 1G (docs/large-pages.md), but the module's PROMOTE takes a parent at
 * level 2 (tdx-module-sept.md §4.9: "level of the PARENT entry (1: 2M leaf,
 * 2: 1G leaf)") and PAGE.REMOVE levels 0..2, so a host driving the module
 * directly can make one, and the module's 1G paths must hold:
 *  - PROMOTE of 512 PENDING 2M leaves (contiguous, 1G-aligned HPA) into one
 *    PENDING 1G leaf; a partially-accepted child's ACCEPT counter is not
 *    part of the comparison (§4.9, [M-sm] sept_cleanup_if_pending);
 *  - the PAMT then has the page at 1G (PT_REG), so a 4K page inside it
 *    handed out as a new page is TDX_PAGE_METADATA_INCORRECT on its operand
 *    (§1.5: "PAMT page type (and PAMT leaf size) must equal the expected
 *    one"); the module's PAMT walk upgrades its shared hold of the 1G entry
 *    to exclusive to find that out, and every lock is free afterwards;
 *  - with the 1G entry contended (its word held, or a second counted
 *    holder) that upgrade fails and the call is TDX_OPERAND_BUSY on the
 *    operand (§11); the lock audit names the held 1G entry by its page;
 *  - REMOVE of the 1G leaf gives the whole 1G back (CHLDCNT -= 2^18).
 * Before finalization, so no blocking or tracking is needed (§3.1).
 */
#define FX_POOL_BYTES (3ULL << 30) /* a 1G-aligned 1G run besides the TD's pages */
#include "tdx_fixture.h"
#include "tdx/tdx_internal.h"

#define GPA_1G (1ULL << 30)
#define SZ_2M (2ULL << 20)
#define FRAMES_1G (1ULL << 18)

static void no_report(const char *what, uint64_t found, uint64_t want, void *arg)
{
	(void)arg;
	fail_msg("lock reported held: %s (found %#llx, want %#llx)", what,
		 (unsigned long long)found, (unsigned long long)want);
}

struct report {
	unsigned n;
	char what[160];
	uint64_t found;
};

static void record_report(const char *what, uint64_t found, uint64_t want, void *arg)
{
	struct report *r = arg;

	(void)want;
	if (!r->n++) {
		snprintf(r->what, sizeof(r->what), "%s", what);
		r->found = found;
	}
}

static void test_promote_1g_pending(void **state)
{
	struct fx f;
	struct seamcall_regs out;
	enum tdx_page_type pt;
	hpa_t owner, base, pd;
	unsigned size;
	uint64_t chld, entry[5];
	hpa_t table[5];
	pfn_t first;
	struct tdx_td *td;
	struct sharex_counted l1g;
	_Atomic uint64_t *e1g;
	uint64_t i1g, pages;
	struct report r;
	char want[160];

	(void)state;
	fx_init(&f, 48, 1);
	td = tdx_td_of_tdr_pfn(f.m, hpa_to_pfn(f.tdr));
	assert_non_null(td);
	fx_sept_path(&f, GPA_1G, 1);
	assert_int_equal(host_mem_alloc_range(f.hm, FRAMES_1G, FRAMES_1G, &first), 0);
	base = pfn_to_hpa(first);
	for (unsigned i = 0; i < 512; i++)
		FX_OK(fx_call(&f, TDH_MEM_PAGE_AUG, tdx_page_info(GPA_1G + i * SZ_2M, 1), f.tdr,
			      base + i * SZ_2M, 0, NULL));
	/* A partial ACCEPT count on one child (white-box: the guest's 2M
	 * ACCEPT, interrupted, leaves it in the entry's bits 20:12). */
	/* The walk stops at the 2M leaf: level 1, in the PD page. */
	assert_int_equal(tdx_debug_sept_path(f.m, f.tdr, GPA_1G + 7 * SZ_2M, entry, table), 1);
	pd = table[1];
	{
		_Atomic uint64_t *pdt = tdx_sept_page(f.m, td, hpa_to_pfn(pd));

		atomic_fetch_or(&pdt[7], 5ULL << 12);
		assert_int_equal(sept_state(atomic_load(&pdt[7])), SEPT_PENDING);
	}
	chld = tdx_debug_chldcnt(f.m, f.tdr);

	FX_OK(fx_call(&f, TDH_MEM_PAGE_PROMOTE, tdx_page_info(GPA_1G, 2), f.tdr, 0, 0, &out));
	assert_int_equal(out.rcx, pd); /* the freed S-EPT page */
	assert_int_equal(fx_state(&f, GPA_1G, 2), SEPT_PENDING);
	assert_int_equal(tdx_debug_chldcnt(f.m, f.tdr), chld - 1);
	tdx_debug_pamt(f.m, first + 12345, &pt, &owner, &size);
	assert_int_equal(pt, PT_REG);
	assert_int_equal(owner, f.tdr);
	assert_int_equal(size, 2);
	tdx_debug_pamt(f.m, hpa_to_pfn(pd), &pt, &owner, &size);
	assert_int_equal(pt, PT_NDA);

	/* A 4K page inside the 1G page as a new S-EPT page (R8), and as a
	 * new TDVPR (RCX): the PAMT says 1G, not a free 4K page. */
	FX_STATUS(fx_call(&f, TDH_MEM_SEPT_ADD, tdx_page_info(1ULL << 39, 3),
			  f.tdr, base + 5 * PAGE_SIZE, 0, NULL),
		  TDX_PAGE_METADATA_INCORRECT + TDX_OPERAND_ID_R8);
	FX_STATUS(fx_call(&f, TDH_VP_CREATE, base + 77 * PAGE_SIZE, f.tdr, 0, 0, NULL),
		  TDX_PAGE_METADATA_INCORRECT + TDX_OPERAND_ID_RCX);
	assert_int_equal(tdx_debug_locks_held(f.m, f.tdr, no_report, NULL), 0);
	assert_int_equal(tdx_debug_chldcnt(f.m, f.tdr), chld - 1);

	/* The 1G entry contended (white-box holders standing for concurrent
	 * SEAMCALLs, §11): the PAMT walk cannot make its shared hold
	 * exclusive, so the call is BUSY on its operand, not a metadata
	 * error, and leaves nothing held of its own. First a holder of the
	 * entry's word itself, which the lock audit names by the 1G page. */
	e1g = pamt_entry(&f.m->pamt, first, 2);
	i1g = (uint64_t)pamt_1g_index(&f.m->pamt, e1g);
	assert_int_equal(lockword_try(e1g, false, true, LOCK_HOST), LOCK_OK);
	FX_STATUS(fx_call(&f, TDH_MEM_SEPT_ADD, tdx_page_info(1ULL << 39, 3), f.tdr,
			  base + 5 * PAGE_SIZE, 0, NULL),
		  TDX_OPERAND_BUSY + TDX_OPERAND_ID_R8);
	memset(&r, 0, sizeof(r));
	assert_int_equal(tdx_debug_locks_held(f.m, f.tdr, record_report, &r), 1);
	snprintf(want, sizeof(want),
		 "1G PAMT entry of hpa %#llx lock (EXCL | readers | counted | 4K without leaf)",
		 (unsigned long long)base);
	assert_string_equal(r.what, want);
	assert_int_equal(r.found, 1);
	lockword_release(e1g, false);
	/* Then a second counted shared holder: the upgrade waits its bounded
	 * while for it to go, then backs out. */
	l1g = pamt_1g_lock(&f.m->pamt, e1g, i1g);
	assert_int_equal(sharex_counted_try_shared(&l1g), LOCK_OK);
	FX_STATUS(fx_call(&f, TDH_MEM_SEPT_ADD, tdx_page_info(1ULL << 39, 3), f.tdr,
			  base + 5 * PAGE_SIZE, 0, NULL),
		  TDX_OPERAND_BUSY + TDX_OPERAND_ID_R8);
	assert_int_equal(pamt_1g_shared_holders(&f.m->pamt, i1g), 1);
	assert_false(atomic_load(e1g) & SHAREX_EXCL);
	sharex_counted_release_shared(&l1g);
	/* Uncontended again: the metadata error, and nothing held. */
	FX_STATUS(fx_call(&f, TDH_MEM_SEPT_ADD, tdx_page_info(1ULL << 39, 3), f.tdr,
			  base + 5 * PAGE_SIZE, 0, NULL),
		  TDX_PAGE_METADATA_INCORRECT + TDX_OPERAND_ID_R8);
	assert_int_equal(tdx_debug_locks_held(f.m, f.tdr, no_report, NULL), 0);
	assert_int_equal(tdx_debug_chldcnt(f.m, f.tdr), chld - 1);
	pages = tdx_debug_td_pages(f.m, f.tdr);

	/* REMOVE at 1G (RCX = the page's HPA, §15.6): the TD no longer
	 * counts it, and the PAMT gives it back. */
	FX_OK(fx_call(&f, TDH_MEM_PAGE_REMOVE, tdx_page_info(GPA_1G, 2), f.tdr, 0, 0, &out));
	assert_int_equal(out.rcx, base);
	assert_int_equal(fx_state(&f, GPA_1G, 2), SEPT_FREE);
	assert_int_equal(tdx_debug_chldcnt(f.m, f.tdr), chld - 1 - FRAMES_1G);
	assert_int_equal(tdx_debug_td_pages(f.m, f.tdr), pages - FRAMES_1G);
	tdx_debug_pamt(f.m, first + 12345, &pt, &owner, &size);
	assert_int_equal(pt, PT_NDA);
	assert_int_equal(tdx_debug_locks_held(f.m, f.tdr, no_report, NULL), 0);
	fx_fini(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_promote_1g_pending),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
