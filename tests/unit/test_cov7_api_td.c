/* SPDX-License-Identifier: MIT */
/*
 * A raw SEAMCALL with a negative leaf number (coverage round 7, issue 14):
 * the leaf is an int in the C API, and a negative one must be refused as
 * unknown before it is used as an index (tdx_leaf_name() and the module's
 * tables are indexed by it), as a leaf past the last one is
 * (test_cov5_api_td.c): TDXMMU_EINVAL with the leaf named, nothing written
 * to the answer, no SEAMCALL issued, the TD `check` clean and destroyed
 * leak-free.
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seamcall_negative_leaf),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
