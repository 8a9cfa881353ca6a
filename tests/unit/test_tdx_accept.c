/* SPDX-License-Identifier: MIT */
/*
 * TDG.MEM.PAGE.ACCEPT (tdx-module-sept.md §9) and the CPU's hardware walk of
 * the S-EPT (tdx_hw_walk). The guest side runs for a vCPU in guest mode,
 * between TDH.VP.ENTER and tdx_td_exit().
 */
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fx_abort.h"
#include "tdx/tdx_internal.h" /* entry lock bits, for the BUSY tests */

#define GPA 0x200000ULL     /* 2M aligned */
#define GPA2M 0x400000ULL

static const uint64_t ALREADY_ACCEPTED = 0x00000B0A00000000ULL;
static const uint64_t SIZE_MISMATCH = 0xC0000B0B00000000ULL;

static int setup(void **state)
{
	struct fx *f = malloc(sizeof(*f));

	fx_init(f, 48, 1);
	fx_finalize(f);
	FX_OK(fx_call(f, TDH_VP_ENTER, f->tdvpr[0], 0, 0, 0, NULL));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	tdx_td_exit(f->m, f->tdvpr[0]);
	fx_fini(f);
	free(f);
	return 0;
}

static hpa_t aug(struct fx *f, uint64_t gpa, unsigned level, hpa_t page)
{
	fx_sept_path(f, gpa, level);
	FX_OK(fx_call(f, TDH_MEM_PAGE_AUG, tdx_page_info(gpa, level), f->tdr, page, 0, NULL));
	return page;
}

static enum tdcall_result accept(struct fx *f, uint64_t gpa, unsigned level,
				 uint64_t *status)
{
	return tdg_mem_page_accept(f->m, f->tdvpr[0], tdx_page_info(gpa, level), status);
}

static void accept_ok(struct fx *f, uint64_t gpa, unsigned level)
{
	uint64_t st = ~0ULL;

	assert_int_equal(accept(f, gpa, level, &st), TDCALL_RETURNED);
	FX_STATUS(st, TDX_SUCCESS);
}

static bool frame_reads_zero(struct fx *f, hpa_t hpa)
{
	uint8_t buf[PAGE_SIZE];
	bool poisoned = true;

	host_frame_read(f->hm, hpa_to_pfn(hpa), 0, buf, sizeof(buf), f->hkid, &poisoned);
	if (poisoned)
		return false;
	for (size_t i = 0; i < sizeof(buf); i++)
		if (buf[i])
			return false;
	return true;
}

/* The S-EPT entry itself (internal), to hold its lock as another party. */
static _Atomic uint64_t *entry_of(struct fx *f, uint64_t gpa, unsigned level)
{
	struct seamcall_regs regs = { 0 };
	struct sept_ctx c;

	sept_ctx_init(&c, f->m, &regs, TDH_MEM_SEPT_RD);
	c.td = tdx_td_of_tdr_pfn(f->m, hpa_to_pfn(f->tdr));
	c.gpa = gpa;
	c.level = level;
	assert_int_equal(tdx_walk(&c), TDX_SUCCESS);
	return c.walk_entry;
}

static void test_accept_pending(void **state)
{
	struct fx *f = *state;
	hpa_t page = aug(f, GPA, 0, fx_new_page(f));
	uint64_t st, calls, ns;
	enum tdx_sept_state s;
	hpa_t hpa;

	/* Stale data under the TD's key, as a previous owner could leave it. */
	host_frame_fill(f->hm, hpa_to_pfn(page), 0xAB, f->hkid);
	assert_false(frame_reads_zero(f, page));

	tdx_module_set_tdcall_cost(f->m, 1234);
	calls = tdx_module_accepts(f->m);
	ns = tdx_module_modeled_ns(f->m);
	accept_ok(f, GPA, 0);
	assert_true(tdx_debug_sept_state(f->m, f->tdr, GPA, 0, &s, &hpa, NULL));
	assert_int_equal(s, SEPT_MAPPED);
	assert_int_equal(hpa, page);
	assert_true(frame_reads_zero(f, page));
	assert_int_equal(host_frame_keyid(f->hm, hpa_to_pfn(page)), f->hkid);

	/* Again: a warning (bit 63 clear) naming the level. */
	assert_int_equal(accept(f, GPA, 0, &st), TDCALL_RETURNED);
	FX_STATUS(st, ALREADY_ACCEPTED + 0);
	assert_false(tdx_status_is_error(st));

	/* Every TDCALL counts, whatever its outcome. */
	assert_int_equal(tdx_module_accepts(f->m), calls + 2);
	assert_int_equal(tdx_module_modeled_ns(f->m), ns + 2 * 1234);
}

static void test_accept_exits(void **state)
{
	struct fx *f = *state;
	uint64_t st;

	/* Nothing mapped at all: the walk stops at the root. */
	assert_int_equal(accept(f, GPA, 0, &st), TDCALL_EXIT_EPT_VIOLATION);
	/* FREE at the level. */
	fx_sept_path(f, GPA, 0);
	assert_int_equal(accept(f, GPA, 0, &st), TDCALL_EXIT_EPT_VIOLATION);
	/* PENDING_BLOCKED. */
	aug(f, GPA, 0, fx_new_page(f));
	FX_OK(fx_call(f, TDH_MEM_RANGE_BLOCK, tdx_page_info(GPA, 0), f->tdr, 0, 0, NULL));
	assert_int_equal(accept(f, GPA, 0, &st), TDCALL_EXIT_EPT_VIOLATION);
	assert_int_equal(fx_state(f, GPA, 0), SEPT_PENDING_BLOCKED);
	/* BLOCKED (MAPPED, then blocked). */
	aug(f, GPA + 0x1000, 0, fx_new_page(f));
	accept_ok(f, GPA + 0x1000, 0);
	FX_OK(fx_call(f, TDH_MEM_RANGE_BLOCK, tdx_page_info(GPA + 0x1000, 0), f->tdr, 0, 0, NULL));
	assert_int_equal(accept(f, GPA + 0x1000, 0, &st), TDCALL_EXIT_EPT_VIOLATION);
	/* Under a blocked non-leaf: the walk stops above. */
	aug(f, GPA + 0x2000, 0, fx_new_page(f));
	FX_OK(fx_call(f, TDH_MEM_RANGE_BLOCK, tdx_page_info(GPA, 1), f->tdr, 0, 0, NULL));
	assert_int_equal(accept(f, GPA + 0x2000, 0, &st), TDCALL_EXIT_EPT_VIOLATION);
	/* The entry lock was released on each exit path. */
	assert_int_equal(atomic_load(entry_of(f, GPA, 1)) & SEPT_TDEL, 0);
}

static void test_accept_size_mismatch(void **state)
{
	struct fx *f = *state;
	uint64_t st;

	aug(f, GPA, 0, fx_new_page(f));
	/* A 4K table exists below the PDE: a 2M accept is the wrong size. */
	assert_int_equal(accept(f, GPA, 1, &st), TDCALL_RETURNED);
	FX_STATUS(st, SIZE_MISMATCH + 1);
	assert_int_equal(fx_state(f, GPA, 1), SEPT_NL_MAPPED);
	assert_int_equal(fx_state(f, GPA, 0), SEPT_PENDING);
	/* Also when the table is empty. */
	fx_sept_path(f, GPA2M, 0);
	assert_int_equal(accept(f, GPA2M, 1, &st), TDCALL_RETURNED);
	FX_STATUS(st, SIZE_MISMATCH + 1);
}

static void test_accept_2m(void **state)
{
	struct fx *f = *state;
	hpa_t base = fx_new_2m(f);
	enum tdx_sept_state s;
	hpa_t hpa;
	uint64_t st;

	aug(f, GPA2M, 1, base);
	host_frame_fill(f->hm, hpa_to_pfn(base), 0x11, f->hkid);
	host_frame_fill(f->hm, hpa_to_pfn(base) + 511, 0x22, f->hkid);
	/* A 4K accept inside a 2M PENDING leaf: the walk stops above at a
	 * leaf that is not MAPPED. */
	assert_int_equal(accept(f, GPA2M + 0x3000, 0, &st), TDCALL_EXIT_EPT_VIOLATION);

	accept_ok(f, GPA2M, 1);
	assert_true(tdx_debug_sept_state(f->m, f->tdr, GPA2M, 1, &s, &hpa, NULL));
	assert_int_equal(s, SEPT_MAPPED);
	assert_int_equal(hpa, base);
	for (unsigned i = 0; i < 512; i++)
		assert_true(frame_reads_zero(f, base + i * PAGE_SIZE));

	/* A 4K accept inside it now: already accepted, at level 1. */
	assert_int_equal(accept(f, GPA2M + 0x5000, 0, &st), TDCALL_RETURNED);
	FX_STATUS(st, ALREADY_ACCEPTED + 1);
	assert_int_equal(accept(f, GPA2M, 1, &st), TDCALL_RETURNED);
	FX_STATUS(st, ALREADY_ACCEPTED + 1);
}

static void test_accept_bad_operands(void **state)
{
	struct fx *f = *state;
	const uint64_t inv = TDX_OPERAND_INVALID + TDX_OPERAND_ID_RCX;
	uint64_t st;

	aug(f, GPA, 0, fx_new_page(f));
	/* Level 2 (no 1G accept). */
	assert_int_equal(tdg_mem_page_accept(f->m, f->tdvpr[0], 0 | 2, &st), TDCALL_RETURNED);
	FX_STATUS(st, inv);
	/* Misaligned for 2M. */
	assert_int_equal(tdg_mem_page_accept(f->m, f->tdvpr[0], (GPA + 0x1000) | 1, &st),
			 TDCALL_RETURNED);
	FX_STATUS(st, inv);
	/* Reserved bits 11:3 and 63:52. */
	assert_int_equal(tdg_mem_page_accept(f->m, f->tdvpr[0], GPA | 0x8, &st), TDCALL_RETURNED);
	FX_STATUS(st, inv);
	assert_int_equal(tdg_mem_page_accept(f->m, f->tdvpr[0], GPA | (1ULL << 52), &st),
			 TDCALL_RETURNED);
	FX_STATUS(st, inv);
	/* A shared GPA (bit 47 with GPAW 48). */
	assert_int_equal(tdg_mem_page_accept(f->m, f->tdvpr[0], GPA | (1ULL << 47), &st),
			 TDCALL_RETURNED);
	FX_STATUS(st, inv);
	/* None of them touched the page. */
	assert_int_equal(fx_state(f, GPA, 0), SEPT_PENDING);
}

/* The guest flavour of the entry lock (§11.1). */
static void test_accept_entry_busy(void **state)
{
	struct fx *f = *state;
	_Atomic uint64_t *e;
	uint64_t st;

	aug(f, GPA, 0, fx_new_page(f));
	e = entry_of(f, GPA, 0);

	/* Held (by a host call): BUSY, the HP flag is not the guest's to set. */
	atomic_fetch_or(e, SEPT_TDEL);
	assert_int_equal(accept(f, GPA, 0, &st), TDCALL_RETURNED);
	FX_STATUS(st, TDX_OPERAND_BUSY + TDX_OPERAND_ID_RCX);
	assert_int_equal(atomic_load(e) & SEPT_HP, 0);
	atomic_fetch_and(e, ~SEPT_TDEL);

	/* Free but a host call claimed priority: released, BUSY to the guest. */
	atomic_fetch_or(e, SEPT_HP);
	assert_int_equal(accept(f, GPA, 0, &st), TDCALL_RETURNED);
	FX_STATUS(st, TDX_OPERAND_BUSY + TDX_OPERAND_ID_RCX);
	assert_int_equal(atomic_load(e) & SEPT_TDEL, 0);
	assert_int_equal(fx_state(f, GPA, 0), SEPT_PENDING);

	/* The host's next successful lock clears HP (SEPT.RD takes it). */
	FX_OK(fx_call(f, TDH_MEM_SEPT_RD, tdx_page_info(GPA, 0), f->tdr, 0, 0, NULL));
	assert_int_equal(atomic_load(e) & SEPT_LOCK_BITS, 0);
	accept_ok(f, GPA, 0);
}

/* The CPU's walk. */
static void test_hw_walk(void **state)
{
	struct fx *f = *state;
	hpa_t p0 = fx_new_page(f), p1 = fx_new_page(f), base = fx_new_2m(f);
	struct tdx_hw_walk w;

	aug(f, GPA, 0, p0);
	aug(f, GPA + 0x1000, 0, p1);

	/* PENDING */
	tdx_hw_walk(f->m, f->tdvpr[0], GPA + 0x10, &w);
	assert_int_equal(w.kind, TDX_HW_PENDING);
	assert_int_equal(w.hpa, p0);
	assert_int_equal(w.level, 0);
	assert_int_equal(w.keyid, f->hkid);

	/* MAPPED */
	accept_ok(f, GPA, 0);
	tdx_hw_walk(f->m, f->tdvpr[0], GPA + 0xFFF, &w);
	assert_int_equal(w.kind, TDX_HW_MAPPED);
	assert_int_equal(w.hpa, p0);
	assert_int_equal(w.level, 0);

	/* FREE at level 0, and nothing mapped (stops at the PML4E) */
	tdx_hw_walk(f->m, f->tdvpr[0], GPA + 0x2000, &w);
	assert_int_equal(w.kind, TDX_HW_VIOLATION);
	assert_int_equal(w.level, 0);
	tdx_hw_walk(f->m, f->tdvpr[0], 1ULL << 40, &w);
	assert_int_equal(w.kind, TDX_HW_VIOLATION);
	assert_int_equal(w.level, 3);

	/* BLOCKED */
	accept_ok(f, GPA + 0x1000, 0);
	FX_OK(fx_call(f, TDH_MEM_RANGE_BLOCK, tdx_page_info(GPA + 0x1000, 0), f->tdr, 0, 0, NULL));
	tdx_hw_walk(f->m, f->tdvpr[0], GPA + 0x1000, &w);
	assert_int_equal(w.kind, TDX_HW_VIOLATION);
	assert_int_equal(w.level, 0);

	/* A 4K page inside a 2M leaf: the frame at the GPA's offset. */
	aug(f, GPA2M, 1, base);
	tdx_hw_walk(f->m, f->tdvpr[0], GPA2M + 0x7123, &w);
	assert_int_equal(w.kind, TDX_HW_PENDING);
	assert_int_equal(w.hpa, base + 0x7000);
	assert_int_equal(w.level, 1);
	accept_ok(f, GPA2M, 1);
	tdx_hw_walk(f->m, f->tdvpr[0], GPA2M + 0x1FF000, &w);
	assert_int_equal(w.kind, TDX_HW_MAPPED);
	assert_int_equal(w.hpa, base + 0x1FF000);
	assert_int_equal(w.level, 1);

	/* A shared GPA is not the S-EPT's. */
	tdx_hw_walk(f->m, f->tdvpr[0], GPA | (1ULL << 47), &w);
	assert_int_equal(w.kind, TDX_HW_VIOLATION);
}

/* An ACCEPT from a vCPU outside guest mode is a caller bug: abort. */
static void accept_outside_guest(struct fx *f)
{
	uint64_t st;

	tdx_td_exit(f->m, f->tdvpr[0]);
	tdg_mem_page_accept(f->m, f->tdvpr[0], GPA, &st);
}

static void test_accept_not_in_guest_aborts(void **state)
{
	fx_expect_abort(*state, accept_outside_guest,
			"tdx: BUG: TDG.MEM.PAGE.ACCEPT from a vCPU not in guest mode");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_accept_pending, setup, teardown),
		cmocka_unit_test_setup_teardown(test_accept_exits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_accept_size_mismatch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_accept_2m, setup, teardown),
		cmocka_unit_test_setup_teardown(test_accept_bad_operands, setup, teardown),
		cmocka_unit_test_setup_teardown(test_accept_entry_busy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hw_walk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_accept_not_in_guest_aborts, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
