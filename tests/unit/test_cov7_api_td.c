/* SPDX-License-Identifier: MIT */
/*
 * C API refusals of src/api/td.c that no other test asks for (coverage
 * round 7, issue 14), each with its code and message, nothing done, the TD
 * `check` clean and destroyed leak-free:
 *  - a raw SEAMCALL with a negative leaf number: the leaf is an int in the
 *    C API, and a negative one must be refused as unknown before it is used
 *    as an index (tdx_leaf_name() and the module's tables are indexed by
 *    it), as a leaf past the last one is (test_cov5_api_td.c): EINVAL with
 *    the leaf named, nothing written to the answer, no SEAMCALL issued;
 *  - Linux's accept_memory (tdxmmu_vcpu_accept_memory) on a vCPU held in
 *    the TD (`vcpu N enter`): its first ACCEPT, at 2M or at 4K, is refused
 *    (EBUSY, as for any guest action on a held vCPU) and the call stops
 *    there with nothing counted; after `leave` the same call accepts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <limits.h>
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

/* The SEAMCALLs issued so far, every leaf's counter summed. */
static void add_seamcalls(const char *name, uint64_t val, void *arg)
{
	if (!strncmp(name, "seamcall.", 9))
		*(uint64_t *)arg += val;
}

static uint64_t seamcalls(tdxmmu_td *td)
{
	uint64_t n = 0;

	tdxmmu_counters_foreach(td, add_seamcalls, &n);
	return n;
}

static void test_seamcall_negative_leaf(void **state)
{
	static const int leaves[] = { -1, INT_MIN };
	tdxmmu_td *td = api_fx_small_td(TDXMMU_MMU_TDP);
	uint64_t before;
	char want[64];

	(void)state;
	before = seamcalls(td);
	assert_true(before > 0); /* the TD's creation issued some */
	for (unsigned i = 0; i < sizeof(leaves) / sizeof(leaves[0]); i++) {
		struct tdxmmu_seamcall_req req = { .leaf = leaves[i] };
		struct tdxmmu_seamcall_out out = { .rax = 7 };

		assert_int_equal(tdxmmu_seamcall(td, &req, &out), TDXMMU_EINVAL);
		snprintf(want, sizeof(want), "unknown SEAMCALL leaf %d", leaves[i]);
		assert_string_equal(tdxmmu_last_error(), want);
		assert_int_equal(out.rax, 7);
	}
	assert_int_equal(seamcalls(td), before);
	check_clean(td);
	api_fx_destroy_clean(td);
}

static void test_accept_memory_on_held_vcpu(void **state)
{
	static const struct {
		uint64_t gpa, size;
	} ranges[] = {
		{ 0, 2ULL << 20 },      /* a 2M ACCEPT first */
		{ 0x201000, 0x3000 },   /* 4K ACCEPTs only */
	};
	tdxmmu_td *td = api_fx_small_td(TDXMMU_MMU_TDP);
	struct tdxmmu_accept_memory_result res;
	enum tdxmmu_outcome o;

	(void)state;
	assert_int_equal(tdxmmu_vcpu_enter(td, 0), TDXMMU_OK);
	for (unsigned i = 0; i < 2; i++) {
		o = TDXMMU_OUTCOME_DEAD;
		assert_int_equal(tdxmmu_vcpu_accept_memory(td, 0, ranges[i].gpa, ranges[i].size,
							   &res, &o),
				 TDXMMU_EBUSY);
		assert_non_null(strstr(tdxmmu_last_error(), "vcpu 0 is held in the TD"));
		assert_int_equal(res.nr_2m + res.nr_4k + res.fallbacks, 0);
	}
	assert_int_equal(tdxmmu_vcpu_leave(td, 0), TDXMMU_OK);
	for (unsigned i = 0; i < 2; i++) {
		assert_int_equal(tdxmmu_vcpu_accept_memory(td, 0, ranges[i].gpa, ranges[i].size,
							   &res, &o),
				 TDXMMU_OK);
		assert_int_equal(o, TDXMMU_OUTCOME_OK);
		assert_int_equal(res.nr_4k + 512 * res.nr_2m, ranges[i].size >> 12);
	}
	check_clean(td);
	api_fx_destroy_clean(td);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seamcall_negative_leaf),
		cmocka_unit_test(test_accept_memory_on_held_vcpu),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
