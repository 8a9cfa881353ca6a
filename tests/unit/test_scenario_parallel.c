/* SPDX-License-Identifier: MIT */
/*
 * Parallel blocks through tdxmmu_run_string(), on the real model: lanes run
 * on their own threads, the passed/failed counts stay exact, the blocked
 * rule gives the final outcome, and a usage error in a lane stops the run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tdxmmu/tdxmmu.h"

/* Runs @text quietly; *out gets the output (caller frees). */
static int run(const char *text, char **out)
{
	struct tdxmmu_run_options opts = { .quiet = true };
	size_t len = 0;
	FILE *f = open_memstream(out, &len);
	int rc;

	assert_non_null(f);
	opts.out = f;
	opts.err = f;
	rc = tdxmmu_run_string("t.tds", text, &opts);
	fclose(f);
	return rc;
}

#define HEAD "td vcpus=4\nmemslot 0 0 16M\nfinalize\n"

static void test_counts_all_pass(void **state)
{
	char *out = NULL;
	int rc;

	(void)state;
	/* 4 vCPU lanes of 5 checks each plus a host lane, 3 times over. */
	rc = run(HEAD
		 "parallel\n"
		 "  vcpu 0 fill private:0 1M 0x10 outcome=ok\n"
		 "  vcpu 0 verify private:0 1M 0x10 outcome=ok\n"
		 "  vcpu 0 write private:0 1 outcome=ok\n"
		 "  vcpu 0 read private:0 expect=1 outcome=ok\n"
		 "  vcpu 1 fill private:1M 1M 0x11 outcome=ok\n"
		 "  vcpu 1 verify private:1M 1M 0x11 outcome=ok\n"
		 "  vcpu 1 write private:1M 2 outcome=ok\n"
		 "  vcpu 1 read private:1M expect=2 outcome=ok\n"
		 "  vcpu 2 fill private:2M 1M 0x12 outcome=ok\n"
		 "  vcpu 2 verify private:2M 1M 0x12 outcome=ok\n"
		 "  vcpu 2 write private:2M 3 outcome=ok\n"
		 "  vcpu 2 read private:2M expect=3 outcome=ok\n"
		 "  vcpu 3 fill private:3M 1M 0x13 outcome=ok\n"
		 "  vcpu 3 verify private:3M 1M 0x13 outcome=ok\n"
		 "  vcpu 3 write private:3M 4 outcome=ok\n"
		 "  vcpu 3 read private:3M expect=4 outcome=ok\n"
		 "  host invalidate 0 16M\n"
		 "  host zap 4M 4M\n"
		 "end\n"
		 "check\n"
		 "destroy\n",
		 &out);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(out, "22 passed, 0 failed\n"));
	free(out);
}

static void test_counts_failures(void **state)
{
	char *out = NULL;
	int rc;

	(void)state;
	/* Every lane fails checks: each failure is counted once. Shared
	 * aliases of private pages are blocked (final after the retry). */
	rc = run(HEAD
		 "parallel\n"
		 "  vcpu 0 read shared:0x1000\n"
		 "  vcpu 0 read shared:0x2000 outcome=blocked\n"
		 "  vcpu 1 read shared:0x3000 outcome=ok\n"
		 "  vcpu 1 read private:0x3000 expect=5\n"
		 "  vcpu 2 write private:0x4000 9 outcome=ok\n"
		 "  vcpu 2 read private:0x4000 expect=9\n"
		 "  vcpu 3 fill shared:1M 64K 0x1 outcome=blocked\n"
		 "  vcpu 3 verify private:1M 64K 0x1\n"
		 "end\n"
		 "destroy\n",
		 &out);
	assert_int_equal(rc, 1);
	/* passed: blocked, ok+expect on vcpu 2 (2), blocked on vcpu 3,
	 * destroy; failed: vcpu 0 line 1, vcpu 1 both, vcpu 3 verify. */
	assert_non_null(strstr(out, "5 passed, 4 failed\n"));
	assert_non_null(strstr(out, "t.tds:5: FAIL: vcpu 0 read shared:0x1000 "
				    "outcome=ok (actual blocked)\n"));
	assert_non_null(strstr(out, "t.tds:7: FAIL: vcpu 1 read shared:0x3000 "
				    "outcome=ok (actual blocked)\n"));
	free(out);
}

static void test_blocked_until_mapgpa(void **state)
{
	char *out = NULL;
	int rc;

	(void)state;
	for (int i = 0; i < 20; i++) {
		rc = run(HEAD
			 "parallel\n"
			 "  vcpu 0 read shared:0x5000 expect=0 outcome=ok\n"
			 "  vcpu 0 write shared:0x5000 0x42 outcome=ok\n"
			 "  vcpu 1 mapgpa shared:0x5000 4K outcome=ok\n"
			 "end\n"
			 "vcpu 3 read shared:0x5000 expect=0x42\n"
			 "check\n"
			 "destroy\n",
			 &out);
		assert_int_equal(rc, 0);
		assert_non_null(strstr(out, "7 passed, 0 failed\n"));
		free(out);
	}
}

/*
 * The deterministic blocked rule (contract 1.1, issue 11 item 2.10): when
 * every unfinished lane retries a blocked access, only the lowest-numbered
 * one gives up and goes on; the others keep retrying and see what it does
 * next. Each script's result used to change from run to run (both lanes
 * gave up at once), so each is run many times and must give the same exact
 * output every time.
 */
static void test_blocked_tie_break(void **state)
{
	static const char *const lowest_unblocks =
		HEAD
		"parallel\n"
		"  vcpu 0 read shared:0x5000 outcome=blocked\n"
		"  vcpu 1 read shared:0x6000 outcome=ok\n"
		"  vcpu 0 mapgpa shared:0x6000 4K outcome=ok\n"
		"end\n"
		"check\n";
	/* Lanes 0..3 all blocked; vCPU 0 gives up, then 1 (which unblocks
	 * 2 and 3 with its MapGPA), and the host lane's line runs first. */
	static const char *const chain =
		HEAD
		"parallel\n"
		"  vcpu 0 read shared:0x1000 outcome=blocked\n"
		"  vcpu 1 read shared:0x2000 outcome=blocked\n"
		"  vcpu 1 mapgpa shared:0x3000 8K outcome=ok\n"
		"  vcpu 2 read shared:0x3000 outcome=ok\n"
		"  vcpu 3 read shared:0x4000 outcome=ok\n"
		"  host read 0x1000 expect=0\n"
		"end\n"
		"check\n";
	/* The higher lane holds the unblocking line: the lower one gives up
	 * first and stays blocked, every time. */
	static const char *const highest_unblocks =
		HEAD
		"parallel\n"
		"  vcpu 2 read shared:0x8000 outcome=blocked\n"
		"  vcpu 2 mapgpa shared:0x9000 4K outcome=ok\n"
		"  vcpu 1 read shared:0x9000 outcome=blocked\n"
		"end\n"
		"vcpu 1 read shared:0x9000 expect=0\n"
		"check\n";
	char *out = NULL;

	(void)state;
	for (int i = 0; i < 50; i++) {
		assert_int_equal(run(lowest_unblocks, &out), 0);
		assert_string_equal(out, "4 passed, 0 failed\n");
		free(out);
		assert_int_equal(run(chain, &out), 0);
		assert_string_equal(out, "7 passed, 0 failed\n");
		free(out);
		assert_int_equal(run(highest_unblocks, &out), 0);
		assert_string_equal(out, "5 passed, 0 failed\n");
		free(out);
	}
}

/* seamcall lines inside a parallel block run on the host lane, in order
 * with the host actions (contract 1.1). */
static void test_seamcall_in_parallel(void **state)
{
	char *out = NULL;

	(void)state;
	/* The page is mapped before the block: a fault inside it would hold
	 * S-EPT entry locks that SEPT.RD's walk may meet (TDX_OPERAND_BUSY,
	 * found by `tdxmmu explore`), and this test is about ordering. */
	assert_int_equal(run(HEAD
			     "vcpu 0 write private:0x1000 1\n"
			     "parallel\n"
			     "  vcpu 0 write private:0x1000 7\n"
			     "  seamcall TDH.MEM.TRACK\n"
			     "  seamcall TDH.MEM.SEPT.RD gpa=private:0 level=512G\n"
			     "  host read private:0x200000 expect=0\n"
			     "end\n"
			     "vcpu 0 read private:0x1000 expect=7\n"
			     "expect-count seamcall.TDH.MEM.SEPT.RD=1\n"
			     "check\n"
			     "destroy\n",
			     &out),
			 0);
	assert_string_equal(out, "5 passed, 0 failed\n");
	free(out);
}

static void test_usage_error_stops(void **state)
{
	char *out = NULL;
	int rc;

	(void)state;
	/* Deleting a memslot that does not exist is a usage error: the run
	 * stops with status 2 after the block's threads are joined, and no
	 * closing line is printed. */
	rc = run(HEAD
		 "parallel\n"
		 "  vcpu 0 fill private:0 1M 0x1\n"
		 "  host delete-memslot 7\n"
		 "end\n"
		 "check\n",
		 &out);
	assert_int_equal(rc, 2);
	assert_non_null(strstr(out, "t.tds:6: error:"));
	assert_null(strstr(out, "passed,"));
	free(out);
}

static int guest_rw(tdxmmu_td *td, unsigned vcpu, void *arg)
{
	enum tdxmmu_outcome o = TDXMMU_OUTCOME_OK;
	uint64_t gpa = (uint64_t)vcpu << 20, val = 0;
	int rc;

	(void)arg;
	rc = tdxmmu_vcpu_write(td, vcpu, gpa, 100 + vcpu, &o);
	if (rc < 0 || o != TDXMMU_OUTCOME_OK)
		return -100;
	rc = tdxmmu_vcpu_read(td, vcpu, gpa, &val, &o);
	if (rc < 0 || o != TDXMMU_OUTCOME_OK)
		return -101;
	return (int)val;
}

static void test_run_vcpus(void **state)
{
	struct tdxmmu_td_config cfg;
	struct tdxmmu_destroy_report rep;
	tdxmmu_guest_fn fns[3] = { guest_rw, guest_rw, guest_rw };
	int results[3] = { 0 };
	tdxmmu_td *td = NULL;

	(void)state;
	tdxmmu_td_config_init(&cfg);
	cfg.nr_vcpus = 3;
	assert_int_equal(tdxmmu_td_create(&cfg, &td), 0);
	assert_int_equal(tdxmmu_memslot_add(td, 0, 0, 4 << 20), 0);
	assert_int_equal(tdxmmu_td_finalize(td), 0);
	assert_int_equal(tdxmmu_run_vcpus(td, 3, fns, NULL, results), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(results[i], 100 + i);
	assert_int_equal(tdxmmu_run_vcpus(td, 4, fns, NULL, results),
			 TDXMMU_EINVAL);
	assert_int_equal(tdxmmu_run_vcpus(td, 0, fns, NULL, results),
			 TDXMMU_EINVAL);
	assert_int_equal(tdxmmu_check(td, NULL, 0), 0);
	assert_int_equal(tdxmmu_td_destroy(td, &rep), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counts_all_pass),
		cmocka_unit_test(test_counts_failures),
		cmocka_unit_test(test_blocked_until_mapgpa),
		cmocka_unit_test(test_blocked_tie_break),
		cmocka_unit_test(test_seamcall_in_parallel),
		cmocka_unit_test(test_usage_error_stops),
		cmocka_unit_test(test_run_vcpus),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
