/* SPDX-License-Identifier: MIT */
/*
 * tdxmmu_explore_string() at edges no other test reaches (issue 14,
 * coverage round 5): replay schedules whose numbers do not fit (a decision
 * or thread beyond 64 bits, a thread beyond the scheduler's 64), each a
 * usage error naming the column; a failing scenario whose FAIL line comes
 * after other output (the violation is the FAIL line, not the first line);
 * an empty mutant name (no mutant); missing pointers; options never
 * initialised. Small scenarios: well under a second.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <tdxmmu/tdxmmu.h>

static const char two_faults[] =
	"td vcpus=2\n"
	"memslot 0 0 4M\n"
	"finalize\n"
	"parallel\n"
	"vcpu 0 write private:0x1000 1\n"
	"vcpu 1 write private:0x200000 2\n"
	"end\n"
	"destroy\n";

static int explore(const char *text, struct tdxmmu_explore_options *o,
		   struct tdxmmu_explore_result *r)
{
	memset(r, 0, sizeof(*r));
	return tdxmmu_explore_string("t.tds", text, o, r);
}

#define BAD "bad schedule at column "

static void test_replay_numbers_out_of_range(void **state)
{
	struct tdxmmu_explore_options o;
	struct tdxmmu_explore_result r;
	static const struct {
		const char *replay, *column;
	} cases[] = {
		{ "99999999999999999999:0", "1" },  /* the decision: ERANGE */
		{ "1:99999999999999999999", "3" },  /* the thread: ERANGE */
		{ "1:64", "3" },                    /* thread 64: no such thread */
		{ "3:1,4", "5" },                   /* no ':' after the decision 4 */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char want[64];

		tdxmmu_explore_options_init(&o);
		o.replay = cases[i].replay;
		assert_int_equal(explore(two_faults, &o, &r), 2);
		snprintf(want, sizeof(want), BAD "%s:", cases[i].column);
		if (strncmp(r.message, want, strlen(want)))
			fail_msg("replay %s: \"%s\", want \"%s...\"", cases[i].replay, r.message, want);
		assert_int_equal(r.executions, 0);
	}
}

/* The violation of a scenario that fails is its FAIL line, found among
 * the other lines the run printed (here `counters`' before it). */
static void test_fail_line_after_other_output(void **state)
{
	struct tdxmmu_explore_options o;
	struct tdxmmu_explore_result r;

	(void)state;
	tdxmmu_explore_options_init(&o);
	/* Asked to explain with nowhere to write: explained nowhere. */
	o.explain = true;
	o.out = NULL;
	assert_int_equal(explore("td\nmemslot 0 0 4M\ncounters\nexpect-sept 0 MAPPED\ndestroy\n",
				 &o, &r), 1);
	assert_string_equal(r.message, "t.tds:4: FAIL: expect-sept 0 MAPPED (actual FREE)");
	assert_int_equal(r.violations, 1);
}

/* An empty mutant name is no mutant: the guarded program explores clean. */
static void test_empty_mutant_name(void **state)
{
	struct tdxmmu_explore_options o;
	struct tdxmmu_explore_result r;

	(void)state;
	tdxmmu_explore_options_init(&o);
	o.mutant = "";
	o.preemptions = 1;
	assert_int_equal(explore(two_faults, &o, &r), 0);
	assert_int_equal(r.violations, 0);
	assert_true(r.complete);
	assert_true(r.schedules > 1);
}

static int no_threads(void *arg, char *msg, size_t size)
{
	(void)arg, (void)msg, (void)size;
	return 0;
}

/* Each entry point refuses each missing pointer it needs with the usage
 * status 2 and touches nothing (the other halves of these conditions are
 * test_explore_edges.c's). */
static void test_missing_pointers(void **state)
{
	struct tdxmmu_explore_options o;
	struct tdxmmu_explore_result r;

	(void)state;
	tdxmmu_explore_options_init(&o);
	memset(&r, 0x5a, sizeof(r));
	assert_int_equal(tdxmmu_explore(no_threads, NULL, NULL, &r), 2);
	assert_int_equal(tdxmmu_explore(no_threads, NULL, &o, NULL), 2);
	assert_int_equal(tdxmmu_explore_string("t.tds", two_faults, &o, NULL), 2);
	assert_int_equal(tdxmmu_explore_file("t.tds", NULL, &r), 2);
	assert_int_equal(tdxmmu_explore_file("t.tds", &o, NULL), 2);
	assert_int_equal(r.schedules, 0x5a5a5a5a5a5a5a5aULL);
}

/* Options never initialised (all zero: no shards given, no preemptions):
 * one unsharded shard, and the schedules without preemption only. */
static void test_zeroed_options(void **state)
{
	struct tdxmmu_explore_options o;
	struct tdxmmu_explore_result r;

	(void)state;
	memset(&o, 0, sizeof(o));
	assert_int_equal(explore(two_faults, &o, &r), 0);
	assert_int_equal(r.nr_shards, 1);
	assert_int_equal(r.shard, 0);
	assert_int_equal(r.preemption_bound, 0);
	assert_true(r.complete);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_replay_numbers_out_of_range),
		cmocka_unit_test(test_fail_line_after_other_output),
		cmocka_unit_test(test_empty_mutant_name),
		cmocka_unit_test(test_missing_pointers),
		cmocka_unit_test(test_zeroed_options),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
