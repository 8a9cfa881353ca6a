/* SPDX-License-Identifier: MIT */
/*
 * The API's refusals that no other test asks for (issue 14 item 5,
 * coverage): a vCPU the TD does not have for every guest action (EINVAL,
 * nothing run), the version-1 accept's error for each outcome that stops
 * its TDCALL (no memslot: ENOENT; a dead VM: EIO), destroy of no TD, and
 * show's list form with a bad GPA.
 * Each leaves the TD as it was: `check` clean, `destroy` leak-free.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "api_fixture.h"

#include <tdxmmu/tdxmmu.h>

static void check_clean(tdxmmu_td *td)
{
	char report[2048];
	int n = tdxmmu_check(td, report, sizeof(report));

	if (n)
		fail_msg("check: %d violations:\n%s", n, report);
}

static void test_unknown_vcpu(void **state)
{
	tdxmmu_td *td = api_fx_small_td(TDXMMU_MMU_TDP);
	enum tdxmmu_outcome o = TDXMMU_OUTCOME_OK;
	uint64_t v = 0, status = 0, mismatch = 0;
	uint64_t faults = 0;

	(void)state;
	/* The small TD has one vCPU: vCPU 1 is not one. */
	assert_int_equal(tdxmmu_vcpu_read(td, 1, 0x1000, &v, &o), TDXMMU_EINVAL);
	assert_int_equal(tdxmmu_vcpu_write(td, 1, 0x1000, 1, &o), TDXMMU_EINVAL);
	assert_int_equal(tdxmmu_vcpu_fill(td, 1, 0x1000, 4096, 1, &o), TDXMMU_EINVAL);
	assert_int_equal(tdxmmu_vcpu_verify(td, 1, 0x1000, 4096, 1, &mismatch, &o),
			 TDXMMU_EINVAL);
	assert_int_equal(tdxmmu_vcpu_accept_outcome(td, 1, 0x1000, 0, &status, &o),
			 TDXMMU_EINVAL);
	assert_int_equal(tdxmmu_vcpu_mapgpa(td, 1, 0x1000, 4096, &o), TDXMMU_EINVAL);
	assert_int_equal(tdxmmu_vcpu_touch(td, 1, 0x1000, 4096, true, &o), TDXMMU_EINVAL);
	assert_int_equal(tdxmmu_vcpu_accept_memory(td, 1, 0x1000, 4096,
						   &(struct tdxmmu_accept_memory_result){ 0 }, &o),
			 TDXMMU_EINVAL);
	/* Nothing ran: no fault, no page mapped. */
	assert_int_equal(tdxmmu_counter(td, "fault.private", &faults), TDXMMU_OK);
	assert_int_equal(faults, 0);
	check_clean(td);
	api_fx_destroy_clean(td);
	/* Destroy of no TD: nothing to do. */
	assert_int_equal(tdxmmu_td_destroy(NULL, NULL), TDXMMU_OK);
}

static void test_accept_v1_errors(void **state)
{
	struct tdxmmu_td_config cfg;
	tdxmmu_td *td = NULL;
	uint64_t status = 0, invalid;

	(void)state;
	tdxmmu_td_config_init(&cfg);
	cfg.accept = TDXMMU_ACCEPT_EXPLICIT;
	assert_int_equal(tdxmmu_td_create(&cfg, &td), TDXMMU_OK);
	assert_int_equal(tdxmmu_memslot_add(td, 0, 0, 4 << 20), TDXMMU_OK);
	assert_int_equal(tdxmmu_td_finalize(td), TDXMMU_OK);
	/* No memslot: the accept's EPT violation is MMIO. */
	assert_int_equal(tdxmmu_vcpu_accept(td, 0, 64 << 20, 0, &status), TDXMMU_ENOENT);
	/* A page accepted: success. */
	assert_int_equal(tdxmmu_vcpu_accept(td, 0, 0x1000, 0, &status), TDXMMU_OK);
	assert_int_equal(status, 0);
	check_clean(td);
	/* Every frame allocation failing: the fault behind the accept can
	 * never complete (outcome error), which the version-1 call says as
	 * ENOMEM; with the injection off the same page is accepted. */
	assert_int_equal(tdxmmu_inject_enomem(td, TDXMMU_SITE_FRAME, 1000000), TDXMMU_OK);
	assert_int_equal(tdxmmu_vcpu_accept(td, 0, 0x5000, 0, &status), TDXMMU_ENOMEM);
	assert_string_equal(tdxmmu_last_error(),
			    "accept 0x5000: outcome error (tdxmmu_vcpu_accept_outcome() reports it)");
	assert_int_equal(tdxmmu_inject_off(td), TDXMMU_OK);
	assert_int_equal(tdxmmu_vcpu_accept(td, 0, 0x5000, 0, &status), TDXMMU_OK);
	assert_int_equal(status, 0);
	check_clean(td);
	/* The next accept's AUG refused by the module: KVM kills the VM and
	 * the version-1 call says EIO. */
	assert_true(tdxmmu_status_from_name("TDX_OPERAND_INVALID", &invalid));
	assert_int_equal(tdxmmu_inject_status_nth(td, tdxmmu_leaf_from_name("TDH.MEM.PAGE.AUG"),
						  invalid, 1, false),
			 TDXMMU_OK);
	assert_int_equal(tdxmmu_vcpu_accept(td, 0, 0x2000, 0, &status), TDXMMU_EIO);
	assert_true(tdxmmu_vm_dead(td));
	/* Dead: every later accept is EIO too (outcome dead). */
	assert_int_equal(tdxmmu_vcpu_accept(td, 0, 0x3000, 0, &status), TDXMMU_EIO);
	check_clean(td);
	api_fx_destroy_clean(td);
}

/* show's list form refuses a GPA that is not 4K-aligned (EINVAL) or is
 * outside the GPA width (ERANGE), with no view made; an empty list is an
 * empty view; a page listed on both aliases is shown once. */
static void test_show_pages_refusals(void **state)
{
	tdxmmu_td *td = api_fx_small_td(TDXMMU_MMU_TDP);
	uint64_t sh = tdxmmu_td_shared_bit(td);
	struct tdxmmu_view *v = (struct tdxmmu_view *)&sh;
	enum tdxmmu_outcome o = TDXMMU_OUTCOME_OK;
	const uint64_t unaligned[] = { 0x1000, 0x1800 };
	const uint64_t too_wide[] = { 1ULL << 48 };
	const uint64_t both[] = { sh | 0x1000, 0x1000 };

	(void)state;
	assert_int_equal(tdxmmu_vcpu_write(td, 0, 0x1000, 5, &o), TDXMMU_OK);
	assert_int_equal(tdxmmu_show_collect_pages(td, unaligned, 2, &v), TDXMMU_EINVAL);
	assert_null(v);
	v = (struct tdxmmu_view *)&sh;
	assert_int_equal(tdxmmu_show_collect_pages(td, too_wide, 1, &v), TDXMMU_ERANGE);
	assert_null(v);
	assert_int_equal(tdxmmu_show_collect_pages(td, NULL, 0, &v), TDXMMU_OK);
	assert_non_null(v);
	assert_int_equal(v->nr_pages, 0);
	tdxmmu_view_free(v);
	assert_int_equal(tdxmmu_show_collect_pages(td, both, 2, &v), TDXMMU_OK);
	assert_int_equal(v->nr_pages, 1);
	tdxmmu_view_free(v);
	api_fx_destroy_clean(td);
}

/* A NULL where the API needs an object or an out-pointer: EINVAL with the
 * call named in the last error, nothing made, the TD unchanged. */
static void test_null_arguments(void **state)
{
	tdxmmu_td *td = api_fx_small_td(TDXMMU_MMU_TDP);
	enum tdxmmu_spte_state ps, ss;
	struct tdxmmu_view *v = NULL;
	uint64_t total = 0, ns = 0;
	char report[64] = "x";

	(void)state;
	/* check of no TD also empties the report it was given. */
	assert_int_equal(tdxmmu_check(NULL, report, sizeof(report)), TDXMMU_EINVAL);
	assert_string_equal(report, "");
	assert_string_equal(tdxmmu_last_error(), "check: no TD");
	assert_int_equal(tdxmmu_show_collect(NULL, 0, 4096, &v), TDXMMU_EINVAL);
	assert_string_equal(tdxmmu_last_error(), "show: NULL argument");
	assert_int_equal(tdxmmu_show_collect(td, 0, 4096, NULL), TDXMMU_EINVAL);
	/* A non-empty list with no array. */
	assert_int_equal(tdxmmu_show_collect_pages(td, NULL, 1, &v), TDXMMU_EINVAL);
	assert_null(v);
	assert_int_equal(tdxmmu_show(td, 0, 4096, NULL), TDXMMU_EINVAL);
	assert_int_equal(tdxmmu_show(NULL, 0, 4096, stdout), TDXMMU_EINVAL);
	assert_int_equal(tdxmmu_view_print(NULL, stdout), TDXMMU_EINVAL);
	assert_int_equal(tdxmmu_show_collect(td, 0, 4096, &v), TDXMMU_OK);
	assert_int_equal(tdxmmu_view_print(v, NULL), TDXMMU_EINVAL);
	assert_string_equal(tdxmmu_last_error(), "show: NULL argument");
	tdxmmu_view_free(v);
	assert_int_equal(tdxmmu_spte_state_level(td, 0x1000, 0, &ps, NULL), TDXMMU_EINVAL);
	assert_int_equal(tdxmmu_spte_state_level(td, 0x1000, 0, NULL, &ss), TDXMMU_EINVAL);
	assert_string_equal(tdxmmu_last_error(), "spte state: NULL argument");
	/* mapped_pages: room for 4 GPAs but no array; no total. */
	assert_int_equal(tdxmmu_mapped_pages(td, NULL, 4, &total), TDXMMU_EINVAL);
	assert_int_equal(tdxmmu_mapped_pages(td, NULL, 0, NULL), TDXMMU_EINVAL);
	assert_string_equal(tdxmmu_last_error(), "mapped pages: NULL argument");
	/* With no array and no room it only counts. */
	assert_int_equal(tdxmmu_mapped_pages(td, NULL, 0, &total), TDXMMU_OK);
	assert_int_equal(total, 0);
	assert_int_equal(tdxmmu_cost_get_named(td, "TDH.MEM.PAGE.AUG", NULL), TDXMMU_EINVAL);
	assert_string_equal(tdxmmu_last_error(), "cost: NULL argument");
	assert_int_equal(tdxmmu_cost_get_named(td, "TDH.MEM.PAGE.AUG", &ns), TDXMMU_OK);
	check_clean(td);
	api_fx_destroy_clean(td);
}

/* Out-of-range requests the API refuses before anything runs: a memslot
 * larger than the model's physical address space (128T less the 4G below
 * the pool; a GPAW-52 TD's GPA space is larger) is ENOMEM and names that
 * space, not the host's memory; an injection for a leaf that does not
 * exist is EINVAL; accept-memory of a range across the shared bit is
 * ERANGE, and of a range with no memslot stops with the MMIO outcome. */
static void test_range_refusals(void **state)
{
	struct tdxmmu_td_config cfg;
	struct tdxmmu_accept_memory_result res;
	enum tdxmmu_outcome o = TDXMMU_OUTCOME_OK;
	tdxmmu_td *td = NULL;
	uint64_t sh;

	(void)state;
	tdxmmu_td_config_init(&cfg);
	cfg.gpaw = 52;
	cfg.accept = TDXMMU_ACCEPT_EXPLICIT;
	assert_int_equal(tdxmmu_td_create(&cfg, &td), TDXMMU_OK);
	sh = tdxmmu_td_shared_bit(td);
	assert_int_equal(sh, 1ULL << 51);
	assert_int_equal(tdxmmu_memslot_add(td, 1, 0, 1ULL << 47), TDXMMU_ENOMEM);
	assert_non_null(strstr(tdxmmu_last_error(), "the model's physical address space (127T)"));
	/* Nothing was added: the range is free for a small slot. */
	assert_int_equal(tdxmmu_memslot_add(td, 0, 0, 4 << 20), TDXMMU_OK);
	assert_int_equal(tdxmmu_td_finalize(td), TDXMMU_OK);

	assert_int_equal(tdxmmu_inject_status(td, 1000, 0xC000010000000000ULL, 1000000),
			 TDXMMU_EINVAL);
	assert_string_equal(tdxmmu_last_error(), "unknown SEAMCALL leaf 1000");
	assert_int_equal(tdxmmu_inject_status(td, -2, 0xC000010000000000ULL, 1000000),
			 TDXMMU_EINVAL);

	assert_int_equal(tdxmmu_vcpu_accept_memory(td, 0, sh - 4096, 8192, &res, &o),
			 TDXMMU_ERANGE);
	assert_non_null(strstr(tdxmmu_last_error(), "accept-memory: [0x7fffffffff000, +0x2000) is not inside one alias"));
	/* 8M is past the memslot: the first 4K accept's EPT violation is
	 * MMIO, and nothing was accepted. */
	assert_int_equal(tdxmmu_vcpu_accept_memory(td, 0, 8 << 20, 4096, &res, &o), TDXMMU_OK);
	assert_int_equal(o, TDXMMU_OUTCOME_MMIO);
	assert_int_equal(res.nr_2m, 0);
	assert_int_equal(res.fallbacks, 0);
	check_clean(td);
	api_fx_destroy_clean(td);
}

/* The S-EPT state of a 4K page inside a 2M leaf: the walk ends above the
 * level asked at a leaf, so there is no 4K entry: ENOENT, the message
 * saying where the walk ended and in which state; the 2M level answers. */
static void test_sept_state_inside_2m(void **state)
{
	struct tdxmmu_td_config cfg;
	enum tdxmmu_outcome o = TDXMMU_OUTCOME_OK;
	enum tdxmmu_sept_state s = TDXMMU_SEPT_FREE;
	tdxmmu_td *td = NULL;

	(void)state;
	tdxmmu_td_config_init(&cfg);
	assert_int_equal(tdxmmu_td_create(&cfg, &td), TDXMMU_OK);
	assert_int_equal(tdxmmu_memslot_add_flags(td, 0, 0, 4 << 20, TDXMMU_MEMSLOT_HUGEPAGES),
			 TDXMMU_OK);
	assert_int_equal(tdxmmu_td_finalize(td), TDXMMU_OK);
	assert_int_equal(tdxmmu_vcpu_fill(td, 0, 2 << 20, 2 << 20, 0x5a, &o), TDXMMU_OK);
	assert_int_equal(o, TDXMMU_OUTCOME_OK);
	assert_int_equal(tdxmmu_sept_state(td, (2 << 20) + 0x3000, 1, &s), TDXMMU_OK);
	assert_int_equal(s, TDXMMU_SEPT_MAPPED);
	assert_int_equal(tdxmmu_sept_state(td, (2 << 20) + 0x3000, 0, &s), TDXMMU_ENOENT);
	assert_string_equal(tdxmmu_last_error(),
			    "the S-EPT walk for 0x203000 ends at level 1 in state MAPPED");
	check_clean(td);
	api_fx_destroy_clean(td);
}

/* A countdown past INT64_MAX (the module and KVM count down in a signed
 * word) is held at INT64_MAX: it never fires, rather than wrapping
 * negative and firing at the next call. BUSY and an error status on every
 * leaf, and ENOMEM at every allocation site, persistent: the guest's
 * accesses, a conversion and raw SEAMCALLs all succeed, and nothing counts
 * as injected. */
static void test_countdown_past_int64(void **state)
{
	tdxmmu_td *td = api_fx_small_td(TDXMMU_MMU_TDP);
	struct tdxmmu_inject_counts n = { 1, 1, 1 };
	enum tdxmmu_outcome o = TDXMMU_OUTCOME_OK;
	uint64_t invalid, v = 0;

	(void)state;
	assert_true(tdxmmu_status_from_name("TDX_OPERAND_INVALID", &invalid));
	assert_int_equal(tdxmmu_inject_busy_nth(td, -1, UINT64_MAX, true), TDXMMU_OK);
	assert_int_equal(tdxmmu_inject_status_nth(td, -1, invalid, UINT64_MAX, true), TDXMMU_OK);
	assert_int_equal(tdxmmu_inject_busy_nth(td, tdxmmu_leaf_from_name("TDH.MEM.PAGE.AUG"),
					       (uint64_t)INT64_MAX + 1, true),
			 TDXMMU_OK);
	assert_int_equal(tdxmmu_inject_enomem_nth(td, TDXMMU_SITE_ALL, UINT64_MAX, true), TDXMMU_OK);
	assert_int_equal(tdxmmu_vcpu_write(td, 0, 0x1000, 0x42, &o), TDXMMU_OK);
	assert_int_equal(o, TDXMMU_OUTCOME_OK);
	assert_int_equal(tdxmmu_vcpu_mapgpa(td, 0, tdxmmu_td_shared_bit(td) | 0x2000, 4096, &o),
			 TDXMMU_OK);
	assert_int_equal(o, TDXMMU_OUTCOME_OK);
	assert_int_equal(tdxmmu_vcpu_read(td, 0, 0x1000, &v, &o), TDXMMU_OK);
	assert_int_equal(v, 0x42);
	assert_int_equal(api_fx_raw(td, "TDH.MEM.TRACK", 0, 0, 0), 0);
	assert_int_equal(tdxmmu_inject_counts(td, &n), TDXMMU_OK);
	assert_int_equal(n.busy, 0);
	assert_int_equal(n.status, 0);
	assert_int_equal(n.enomem, 0);
	assert_false(tdxmmu_vm_dead(td));
	assert_int_equal(tdxmmu_inject_off(td), TDXMMU_OK);
	check_clean(td);
	api_fx_destroy_clean(td);
}

/*
 * Build time under a SEAMCALL that is BUSY every time (inject busy=100 on
 * the leaf), both MMUs. TDH.MEM.PAGE.ADD: KVM's fault path retries and
 * gives up with RETRY, which the add must report as EBUSY with nothing
 * added; it reported EEXIST ("already mapped") because the RETRY also met
 * the "source page not consumed" test (regression). TDH.MR.FINALIZE: KVM
 * gives up with -EBUSY, the TD not finalized. Once the injection stops
 * both succeed, and the added page holds its content.
 */
static void test_build_busy_hopeless(void **state)
{
	static const enum tdxmmu_mmu_kind mmus[] = { TDXMMU_MMU_TDP, TDXMMU_MMU_LEGACY };

	(void)state;
	for (unsigned i = 0; i < 2; i++) {
		struct tdxmmu_td_config cfg;
		enum tdxmmu_outcome o = TDXMMU_OUTCOME_OK;
		enum tdxmmu_sept_state st = TDXMMU_SEPT_MAPPED;
		tdxmmu_td *td = NULL;
		uint64_t v = 0;

		tdxmmu_td_config_init(&cfg);
		cfg.mmu = mmus[i];
		assert_int_equal(tdxmmu_td_create(&cfg, &td), TDXMMU_OK);
		assert_int_equal(tdxmmu_memslot_add(td, 0, 0, 4 << 20), TDXMMU_OK);
		assert_int_equal(tdxmmu_inject_busy_leaf(td, tdxmmu_leaf_from_name("TDH.MEM.PAGE.ADD"),
							 1000000),
				 TDXMMU_OK);
		assert_int_equal(tdxmmu_td_add_page(td, 0x1000, 0x5a), TDXMMU_EBUSY);
		assert_string_equal(tdxmmu_last_error(),
				    "add: 0x1000 failed (Device or resource busy)");
		assert_int_equal(tdxmmu_sept_state(td, 0x1000, 0, &st), TDXMMU_OK);
		assert_int_equal(st, TDXMMU_SEPT_FREE);
		check_clean(td);
		assert_int_equal(tdxmmu_inject_busy_leaf(td, tdxmmu_leaf_from_name("TDH.MR.FINALIZE"),
							 1000000),
				 TDXMMU_OK);
		assert_int_equal(tdxmmu_td_finalize(td), TDXMMU_EBUSY);
		assert_int_equal(tdxmmu_inject_off(td), TDXMMU_OK);
		assert_int_equal(tdxmmu_td_add_page(td, 0x1000, 0x5a), TDXMMU_OK);
		assert_int_equal(tdxmmu_td_finalize(td), TDXMMU_OK);
		assert_int_equal(tdxmmu_vcpu_read(td, 0, 0x1000, &v, &o), TDXMMU_OK);
		assert_int_equal(o, TDXMMU_OUTCOME_OK);
		assert_int_equal(v, 0x5a5a5a5a5a5a5a5aULL);
		check_clean(td);
		api_fx_destroy_clean(td);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unknown_vcpu),
		cmocka_unit_test(test_accept_v1_errors),
		cmocka_unit_test(test_show_pages_refusals),
		cmocka_unit_test(test_null_arguments),
		cmocka_unit_test(test_range_refusals),
		cmocka_unit_test(test_sept_state_inside_2m),
		cmocka_unit_test(test_countdown_past_int64),
		cmocka_unit_test(test_build_busy_hopeless),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
