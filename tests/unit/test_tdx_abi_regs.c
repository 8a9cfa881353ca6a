/* SPDX-License-Identifier: MIT */
/*
 * The registers the module reads and writes, where the model differed from
 * the TDX module 1.5.01 (issue 11 item 2.12), and where an injected BUSY is
 * answered: at the SEAMCALL's first try-lock, after the checks before it.
 * Each case below failed before its fix.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "tdx_fixture.h"

#define V(n) ((uint64_t)(n) << 16)
#define BIT63 (1ULL << 63)
#define G 0x40000000ULL /* 1G: its 1G-level entry is FREE in a fresh TD */

static struct seamcall_regs regs(uint64_t rax, uint64_t rcx, uint64_t rdx,
				 uint64_t r8, uint64_t r9, uint64_t r10,
				 uint64_t r11)
{
	return (struct seamcall_regs){ .rax = rax, .rcx = rcx, .rdx = rdx,
				       .r8 = r8, .r9 = r9, .r10 = r10, .r11 = r11 };
}

/* The 1G-level entry of G: SEPT.ADD's page info for the table under it
 * (level 2 names the entry that maps 1G). */
#define PI_1G tdx_page_info(G, 2)

static void test_sept_add_r8_bit63_ignored_v0(void **state)
{
	struct fx f;
	hpa_t page;
	struct seamcall_regs r;

	(void)state;
	fx_init(&f, 48, 1);
	fx_sept_path(&f, G, 2);
	page = fx_new_page(&f);
	/* Bit 63 of R8 is ignored in every version (it was only in v1). */
	r = regs(TDH_MEM_SEPT_ADD, PI_1G, f.tdr, page | BIT63, 0, 0, 0);
	FX_OK(seamcall(f.m, &r));
	assert_int_equal(fx_state(&f, G, 2), SEPT_NL_MAPPED);
	fx_fini(&f);
}

static void test_sept_add_v1_rules(void **state)
{
	struct fx f;
	hpa_t page, page2;
	struct seamcall_regs r;

	(void)state;
	fx_init(&f, 48, 1);
	fx_sept_path(&f, G, 2);
	page = fx_new_page(&f);
	page2 = fx_new_page(&f);

	/* NULL_PA on a FREE entry: there is no table to keep. Details in
	 * RCX/RDX; R8..R11 written back on the error exit. */
	r = regs(TDH_MEM_SEPT_ADD | V(1), PI_1G, f.tdr, TDX_NULL_PA, TDX_NULL_PA,
		 TDX_NULL_PA, TDX_NULL_PA);
	FX_STATUS(seamcall(f.m, &r), TDX_EPT_ENTRY_STATE_INCORRECT + TDX_OPERAND_ID_RCX);
	assert_int_equal(r.rdx, 2); /* level 2, state FREE */
	assert_int_equal(r.r8, TDX_NULL_PA);
	assert_int_equal(r.r11, TDX_NULL_PA);

	/* An L2 page where the TD has no L2 VM: OPERAND_INVALID + R9; R8 is
	 * written back with bit 63 cleared, and nothing is added. */
	r = regs(TDH_MEM_SEPT_ADD | V(1), PI_1G, f.tdr, page | BIT63, 0, TDX_NULL_PA,
		 TDX_NULL_PA);
	FX_STATUS(seamcall(f.m, &r), TDX_OPERAND_INVALID + TDX_OPERAND_ID_R9);
	assert_int_equal(r.r8, page);
	assert_int_equal(r.r9, 0);
	assert_int_equal(fx_state(&f, G, 2), SEPT_FREE);
	/* R10 likewise. */
	r = regs(TDH_MEM_SEPT_ADD | V(1), PI_1G, f.tdr, page, TDX_NULL_PA, 0x5000,
		 TDX_NULL_PA);
	FX_STATUS(seamcall(f.m, &r), TDX_OPERAND_INVALID + TDX_OPERAND_ID_R10);

	/* A refused RDX (reserved bit): still an exit after the version
	 * check, so R8..R11 come back. */
	r = regs(TDH_MEM_SEPT_ADD | V(1), PI_1G, f.tdr | 2, page | BIT63, TDX_NULL_PA,
		 TDX_NULL_PA, TDX_NULL_PA);
	FX_STATUS(seamcall(f.m, &r), TDX_OPERAND_INVALID + TDX_OPERAND_ID_RDX);
	assert_int_equal(r.r8, page);

	/* The page consumed: R8 = NULL_PA. */
	r = regs(TDH_MEM_SEPT_ADD | V(1), PI_1G, f.tdr, page, TDX_NULL_PA, TDX_NULL_PA,
		 TDX_NULL_PA);
	FX_OK(seamcall(f.m, &r));
	assert_int_equal(r.r8, TDX_NULL_PA);
	assert_int_equal(fx_state(&f, G, 2), SEPT_NL_MAPPED);

	/* NULL_PA on an NL_MAPPED entry: "no new page", a success without
	 * ALLOW_EXISTING. */
	r = regs(TDH_MEM_SEPT_ADD | V(1), PI_1G, f.tdr, TDX_NULL_PA, TDX_NULL_PA,
		 TDX_NULL_PA, TDX_NULL_PA);
	FX_OK(seamcall(f.m, &r));
	assert_int_equal(r.r8, TDX_NULL_PA);

	/* A page for an NL_MAPPED entry: refused without ALLOW_EXISTING,
	 * reported unused (bit 63) with it. */
	r = regs(TDH_MEM_SEPT_ADD | V(1), PI_1G, f.tdr, page2, TDX_NULL_PA, TDX_NULL_PA,
		 TDX_NULL_PA);
	FX_STATUS(seamcall(f.m, &r), TDX_EPT_ENTRY_STATE_INCORRECT + TDX_OPERAND_ID_RCX);
	assert_int_equal(r.r8, page2);
	r = regs(TDH_MEM_SEPT_ADD | V(1), PI_1G, f.tdr | TDX_SEPT_ADD_ALLOW_EXISTING, page2,
		 TDX_NULL_PA, TDX_NULL_PA, TDX_NULL_PA);
	FX_OK(seamcall(f.m, &r));
	assert_int_equal(r.r8, page2 | BIT63);

	/* Version 0: NULL_PA is an R8 error even on an NL_MAPPED entry with
	 * ALLOW_EXISTING; R9..R11 are not outputs. */
	r = regs(TDH_MEM_SEPT_ADD, PI_1G, f.tdr | TDX_SEPT_ADD_ALLOW_EXISTING,
		 TDX_NULL_PA, 0x11, 0x22, 0x33);
	FX_STATUS(seamcall(f.m, &r), TDX_OPERAND_INVALID + TDX_OPERAND_ID_R8);
	assert_int_equal(r.r9, 0x11);
	assert_int_equal(r.r11, 0x33);
	fx_fini(&f);
}

/* A version above 1 of SEPT.ADD, SEPT.REMOVE and PROMOTE is refused by the
 * leaf itself: RCX/RDX zeroed, and R9..R11 = NULL_PA for REMOVE and PROMOTE
 * (SEPT.ADD writes none of R8..R11 then). */
static void test_refused_versions(void **state)
{
	static const int leaves[] = { TDH_MEM_SEPT_REMOVE, TDH_MEM_PAGE_PROMOTE };
	struct fx f;
	struct seamcall_regs r;

	(void)state;
	fx_init(&f, 48, 1);
	r = regs(TDH_MEM_SEPT_ADD | V(2), PI_1G, f.tdr, 0x1000, 0x11, 0x22, 0x33);
	FX_STATUS(seamcall(f.m, &r), TDX_OPERAND_INVALID + TDX_OPERAND_ID_RAX);
	assert_int_equal(r.rcx, 0);
	assert_int_equal(r.rdx, 0);
	assert_int_equal(r.r8, 0x1000);
	assert_int_equal(r.r9, 0x11);
	for (unsigned i = 0; i < 2; i++) {
		r = regs((uint64_t)leaves[i] | V(2), PI_1G, f.tdr, 0x1000, 0x11, 0x22, 0x33);
		FX_STATUS(seamcall(f.m, &r), TDX_OPERAND_INVALID + TDX_OPERAND_ID_RAX);
		assert_int_equal(r.rcx, 0);
		assert_int_equal(r.rdx, 0);
		assert_int_equal(r.r9, TDX_NULL_PA);
		assert_int_equal(r.r10, TDX_NULL_PA);
		assert_int_equal(r.r11, TDX_NULL_PA);
	}
	/* Any other leaf with a version: the dispatcher refuses it and
	 * touches nothing. */
	r = regs(TDH_MEM_PAGE_AUG | V(1), PI_1G, f.tdr, 0x1000, 0x11, 0x22, 0x33);
	FX_STATUS(seamcall(f.m, &r), TDX_OPERAND_INVALID + TDX_OPERAND_ID_RAX);
	assert_int_equal(r.rcx, PI_1G);
	fx_fini(&f);
}

/* SEPT.REMOVE version 1 sets R9..R11 on entry, so an error exit has them
 * too. */
static void test_sept_remove_v1_r9_r11_on_entry(void **state)
{
	struct fx f;
	struct seamcall_regs r;

	(void)state;
	fx_init(&f, 48, 1);
	/* Nothing there: the walk stops above G's 1G entry. */
	r = regs(TDH_MEM_SEPT_REMOVE | V(1), PI_1G, f.tdr, 0, 0x11, 0x22, 0x33);
	FX_STATUS(seamcall(f.m, &r), TDX_EPT_WALK_FAILED + TDX_OPERAND_ID_RCX);
	assert_int_equal(r.r9, TDX_NULL_PA);
	assert_int_equal(r.r10, TDX_NULL_PA);
	assert_int_equal(r.r11, TDX_NULL_PA);
	/* Version 0 leaves them alone. */
	r = regs(TDH_MEM_SEPT_REMOVE, PI_1G, f.tdr, 0, 0x11, 0x22, 0x33);
	FX_STATUS(seamcall(f.m, &r), TDX_EPT_WALK_FAILED + TDX_OPERAND_ID_RCX);
	assert_int_equal(r.r9, 0x11);
	fx_fini(&f);
}

/* TRACK writes no output register: RCX/RDX stay as the caller left them. */
static void test_track_keeps_rcx_rdx(void **state)
{
	struct fx f;
	struct seamcall_regs r;

	(void)state;
	fx_init(&f, 48, 1);
	fx_finalize(&f);
	r = regs(TDH_MEM_TRACK, f.tdr, 0x1234, 0, 0, 0, 0);
	FX_OK(seamcall(f.m, &r));
	assert_int_equal(r.rcx, f.tdr);
	assert_int_equal(r.rdx, 0x1234);
	fx_fini(&f);
}

/* RECLAIM zeroes its reserved outputs R9..R11 along with RCX/RDX/R8. */
static void test_reclaim_zeroes_r9_r11(void **state)
{
	struct fx f;
	struct seamcall_regs r;

	(void)state;
	fx_init(&f, 48, 1);
	r = regs(TDH_PHYMEM_PAGE_RECLAIM, fx_new_page(&f), 0x1, 0x2, 0x11, 0x22, 0x33);
	FX_STATUS(seamcall(f.m, &r), TDX_PAGE_METADATA_INCORRECT + TDX_OPERAND_ID_RCX);
	assert_int_equal(r.rcx, 0);
	assert_int_equal(r.rdx, 0);
	assert_int_equal(r.r8, 0);
	assert_int_equal(r.r9, 0);
	assert_int_equal(r.r10, 0);
	assert_int_equal(r.r11, 0);
	fx_fini(&f);
}

static void lock_held(const char *what, uint64_t found, uint64_t want, void *arg)
{
	(void)arg;
	print_error("still held: %s: %#llx, want %#llx\n", what,
		    (unsigned long long)found, (unsigned long long)want);
}

/*
 * Injected BUSY comes where the real one can: at the first try-lock. With
 * every call drawn BUSY, what is checked before that lock still answers,
 * the BUSY names the lock's operand, and a call that takes no lock never
 * answers BUSY. Per leaf: other leaves are untouched.
 */
static void test_injected_busy_at_first_lock(void **state)
{
	struct fx f;
	struct seamcall_regs r;
	hpa_t page;

	(void)state;
	fx_init(&f, 48, 1);
	fx_sept_path(&f, G, 2);
	page = fx_new_page(&f);
	tdx_module_inject_busy(f.m, 1000000);

	/* Before the TDR lock: RDX's reserved bits, then the TDR's HPA. */
	r = regs(TDH_MEM_SEPT_ADD, PI_1G, f.tdr | 2, page, 0, 0, 0);
	FX_STATUS(seamcall(f.m, &r), TDX_OPERAND_INVALID + TDX_OPERAND_ID_RDX);
	r = regs(TDH_MEM_SEPT_ADD, PI_1G, f.tdr + 0x1000000000000ULL, page, 0, 0, 0);
	FX_STATUS(seamcall(f.m, &r), TDX_OPERAND_INVALID + TDX_OPERAND_ID_RDX);
	/* A refused version takes no lock. */
	r = regs(TDH_MEM_SEPT_ADD | V(2), PI_1G, f.tdr, page, 0, 0, 0);
	FX_STATUS(seamcall(f.m, &r), TDX_OPERAND_INVALID + TDX_OPERAND_ID_RAX);
	/* The TDR lock is the first: BUSY names RDX, the TDR's operand. */
	r = regs(TDH_MEM_SEPT_ADD, PI_1G, f.tdr, page, 0, 0, 0);
	FX_STATUS(seamcall(f.m, &r), TDX_OPERAND_BUSY + TDX_OPERAND_ID_RDX);
	/* RECLAIM's first lock is the page's PAMT entry (RCX), after the HPA
	 * checks. */
	r = regs(TDH_PHYMEM_PAGE_RECLAIM, page + 8, 0, 0, 0, 0, 0);
	FX_STATUS(seamcall(f.m, &r), TDX_OPERAND_INVALID + TDX_OPERAND_ID_RCX);
	r = regs(TDH_PHYMEM_PAGE_RECLAIM, page, 0, 0, 0, 0, 0);
	FX_STATUS(seamcall(f.m, &r), TDX_OPERAND_BUSY + TDX_OPERAND_ID_RCX);
	/* VP.ENTER's first lock is its TDVPR (RCX). */
	r = regs(TDH_VP_ENTER, f.tdvpr[0], 0, 0, 0, 0, 0);
	FX_STATUS(seamcall(f.m, &r), TDX_OPERAND_BUSY + TDX_OPERAND_ID_RCX);
	/* Nothing was held or changed by the injected failures. */
	assert_int_equal(fx_state(&f, G, 2), SEPT_FREE);
	assert_int_equal(tdx_debug_locks_held(f.m, f.tdr, lock_held, NULL), 0);

	/* One leaf only: AUG stays BUSY, SEPT.ADD goes through. */
	tdx_module_inject_busy(f.m, 0);
	tdx_module_inject_busy_leaf(f.m, TDH_MEM_PAGE_AUG, 1000000);
	r = regs(TDH_MEM_SEPT_ADD, PI_1G, f.tdr, page, 0, 0, 0);
	FX_OK(seamcall(f.m, &r));
	fx_sept_path(&f, G, 0);
	r = regs(TDH_MEM_PAGE_ADD, tdx_page_info(G, 0), f.tdr, fx_new_page(&f),
		 fx_new_page(&f), 0, 0);
	FX_OK(seamcall(f.m, &r)); /* PAGE.ADD is another leaf */
	r = regs(TDH_MEM_PAGE_AUG, tdx_page_info(G + 0x1000, 0), f.tdr, fx_new_page(&f), 0,
		 0, 0);
	FX_STATUS(seamcall(f.m, &r), TDX_OPERAND_BUSY + TDX_OPERAND_ID_RDX);
	/* 0 turns it off. */
	tdx_module_inject_busy_leaf(f.m, TDH_MEM_PAGE_AUG, 0);
	fx_finalize(&f);
	r = regs(TDH_MEM_PAGE_AUG, tdx_page_info(G + 0x1000, 0), f.tdr, fx_new_page(&f), 0,
		 0, 0);
	FX_OK(seamcall(f.m, &r));
	fx_fini(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sept_add_r8_bit63_ignored_v0),
		cmocka_unit_test(test_sept_add_v1_rules),
		cmocka_unit_test(test_refused_versions),
		cmocka_unit_test(test_sept_remove_v1_r9_r11_on_entry),
		cmocka_unit_test(test_track_keeps_rcx_rdx),
		cmocka_unit_test(test_reclaim_zeroes_r9_r11),
		cmocka_unit_test(test_injected_busy_at_first_lock),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
