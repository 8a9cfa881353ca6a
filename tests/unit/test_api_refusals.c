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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unknown_vcpu),
		cmocka_unit_test(test_accept_v1_errors),
		cmocka_unit_test(test_show_pages_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
