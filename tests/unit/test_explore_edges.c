/* SPDX-License-Identifier: MIT */
/*
 * The exploration's options at their edges (tdxmmu_explore_string): a shard
 * that does not exist, a CPU that is not one, a schedule budget that stops
 * the bounded search and the random one, random schedules split over
 * shards, a scenario whose run stops on a usage error, missing arguments,
 * a missing file, a parse error, replay schedules that are not schedules or
 * do not fit (a decision or thread beyond 64 bits, a thread beyond the
 * scheduler's 64: a usage error naming the column), a C program that fails
 * without a message, a FAIL line after other output (the violation is the
 * FAIL line), an empty mutant name, missing pointers, options never
 * initialised. Each answers its documented status (0, 1, 2) with a message
 * saying why; none crashes.
 * Small scenarios and budgets: the whole program takes about a second.
 */
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <tdxmmu/tdxmmu.h>

/* Two vCPUs fault in their own private pages at once: many schedules, no
 * violation. */
static const char two_faults[] =
	"td vcpus=2\n"
	"memslot 0 0 4M\n"
	"finalize\n"
	"parallel\n"
	"vcpu 0 write private:0x1000 1\n"
	"vcpu 1 write private:0x200000 2\n"
	"end\n"
	"vcpu 0 read private:0x200000 expect=2\n"
	"destroy\n";

static int explore(const char *text, struct tdxmmu_explore_options *o,
		   struct tdxmmu_explore_result *r)
{
	memset(r, 0, sizeof(*r));
	return tdxmmu_explore_string("edge.tds", text, o, r);
}

static void test_shard_out_of_range(void **state)
{
	struct tdxmmu_explore_options o;
	struct tdxmmu_explore_result r;

	(void)state;
	tdxmmu_explore_options_init(&o);
	o.nr_shards = 2;
	o.shard = 2;
	assert_int_equal(explore(two_faults, &o, &r), 2);
	assert_string_equal(r.message, "shard 2 of 2 does not exist");
	assert_int_equal(r.schedules, 0);
}

static void test_cpu_not_a_cpu(void **state)
{
	struct tdxmmu_explore_options o;
	struct tdxmmu_explore_result r;

	(void)state;
	tdxmmu_explore_options_init(&o);
	o.cpu = TDXMMU_EXPLORE_CPU_ANY - 1;
	assert_int_equal(explore(two_faults, &o, &r), 2);
	assert_non_null(strstr(r.message, "not a CPU"));
	assert_int_equal(r.schedules, 0);
	/* A CPU number beyond any set of CPUs. */
	o.cpu = TDXMMU_EXPLORE_CPU(CPU_SETSIZE + 1);
	assert_int_equal(explore(two_faults, &o, &r), 2);
	assert_true(strstr(r.message, "cpu") != NULL);
	assert_int_equal(r.schedules, 0);
}

static void test_budget_stops_bounded_search(void **state)
{
	struct tdxmmu_explore_options o;
	struct tdxmmu_explore_result r;

	(void)state;
	tdxmmu_explore_options_init(&o);
	o.cpu = TDXMMU_EXPLORE_CPU_ANY;
	o.max_schedules = 3;
	assert_int_equal(explore(two_faults, &o, &r), 0);
	assert_int_equal(r.schedules, 3);
	assert_false(r.complete);
	assert_int_equal(r.violations, 0);
}

static void test_random_sharded_with_budget(void **state)
{
	struct tdxmmu_explore_options o;
	struct tdxmmu_explore_result r;

	(void)state;
	tdxmmu_explore_options_init(&o);
	o.cpu = TDXMMU_EXPLORE_CPU_ANY;
	o.random = 10;
	o.seed = 7;
	o.nr_shards = 2;
	o.shard = 1;
	/* Shard 1 takes the odd ones of the 10: 5 schedules. */
	assert_int_equal(explore(two_faults, &o, &r), 0);
	assert_int_equal(r.schedules, 5);
	assert_int_equal(r.shard, 1);
	assert_int_equal(r.nr_shards, 2);
	/* With a budget of 2 it stops there. */
	o.max_schedules = 2;
	assert_int_equal(explore(two_faults, &o, &r), 0);
	assert_int_equal(r.schedules, 2);
}

static void test_usage_error_in_the_run(void **state)
{
	static const char dup_memslot[] =
		"td vcpus=2\n"
		"memslot 0 0 4M\n"
		"memslot 0 0x400000 4M\n"
		"finalize\n"
		"parallel\n"
		"vcpu 0 write private:0x1000 1\n"
		"vcpu 1 write private:0x2000 2\n"
		"end\n"
		"destroy\n";
	struct tdxmmu_explore_options o;
	struct tdxmmu_explore_result r;

	(void)state;
	tdxmmu_explore_options_init(&o);
	o.cpu = TDXMMU_EXPLORE_CPU_ANY;
	assert_int_equal(explore(dup_memslot, &o, &r), 2);
	/* The runner's error line, as `tdxmmu run` prints it. */
	assert_non_null(strstr(r.message, "memslot"));
	assert_int_equal(r.violations, 0);
	/* The same with random schedules. */
	o.random = 3;
	assert_int_equal(explore(dup_memslot, &o, &r), 2);
	assert_non_null(strstr(r.message, "memslot"));
}

/* Missing arguments, a file that is not there and a scenario that does not
 * parse: status 2, nothing explored, the message saying why (the parse
 * error as `tdxmmu run` prints it: name, line, column). */
static void test_bad_arguments(void **state)
{
	struct tdxmmu_explore_options o;
	struct tdxmmu_explore_result r;

	(void)state;
	tdxmmu_explore_options_init(&o);
	o.cpu = TDXMMU_EXPLORE_CPU_ANY;
	memset(&r, 0, sizeof(r));
	assert_int_equal(tdxmmu_explore(NULL, NULL, &o, &r), 2);
	assert_int_equal(tdxmmu_explore_string(NULL, two_faults, &o, &r), 2);
	assert_int_equal(tdxmmu_explore_string("edge.tds", NULL, &o, &r), 2);
	assert_int_equal(tdxmmu_explore_string("edge.tds", two_faults, NULL, &r), 2);
	assert_int_equal(tdxmmu_explore_file(NULL, &o, &r), 2);
	assert_int_equal(tdxmmu_explore_file("/nonexistent/edge.tds", &o, &r), 2);
	assert_string_equal(r.message, "/nonexistent/edge.tds: No such file or directory");
	assert_int_equal(r.schedules, 0);
	assert_int_equal(explore("td\nmemslot 0 0 4M\nbogus 1\n", &o, &r), 2);
	assert_string_equal(r.message, "edge.tds:3:1: error: unknown command 'bogus'");
	assert_int_equal(r.schedules, 0);
}

/* A no-op C program that fails without saying why: the violation is still
 * named. */
static int fail_silently(void *arg, char *msg, size_t msg_size)
{
	(void)arg;
	(void)msg_size;
	msg[0] = '\0';
	return 1;
}

static void test_program_fails_without_message(void **state)
{
	struct tdxmmu_explore_options o;
	struct tdxmmu_explore_result r;

	(void)state;
	tdxmmu_explore_options_init(&o);
	o.cpu = TDXMMU_EXPLORE_CPU_ANY;
	memset(&r, 0, sizeof(r));
	assert_int_equal(tdxmmu_explore(fail_silently, NULL, &o, &r), 1);
	assert_int_equal(r.violations, 1);
	assert_non_null(strstr(r.message, "the program reported a failure"));
}

/*
 * A step budget too small for the work of one block: the first schedule's
 * first lane passes it inside the block and the search reports a livelock
 * (exit 1, the thread and the budget named), with the schedule to replay.
 * The block's threads stay parked for good (the schedule is abandoned), so
 * the run of that execution must stop there: a parallel block reports the
 * model's own failure and runs no further line; tdxmmu_run_vcpus() hands
 * back TDXMMU_EBUSY for every vCPU and does not join the parked threads.
 */
static int run_vcpus_rc, run_vcpus_results[2];

static int guest_write_one(tdxmmu_td *td, unsigned vcpu, void *arg)
{
	enum tdxmmu_outcome o;

	(void)arg;
	return tdxmmu_vcpu_write(td, vcpu, 0x1000 + vcpu * 0x200000ULL, 1, &o);
}

static int two_writers(void *arg, char *msg, size_t size)
{
	static const tdxmmu_guest_fn fns[2] = { guest_write_one, guest_write_one };
	struct tdxmmu_td_config cfg;
	tdxmmu_td *td;

	(void)arg;
	tdxmmu_td_config_init(&cfg);
	cfg.nr_vcpus = 2;
	if (tdxmmu_td_create(&cfg, &td) || tdxmmu_memslot_add(td, 0, 0, 4 << 20) ||
	    tdxmmu_td_finalize(td)) {
		snprintf(msg, size, "set-up failed");
		return 1;
	}
	run_vcpus_results[0] = run_vcpus_results[1] = 12345;
	run_vcpus_rc = tdxmmu_run_vcpus(td, 2, fns, NULL, run_vcpus_results);
	/* Abandoned: the TD's locks may be held by the parked threads, so the
	 * TD is left as it is (leaked on purpose, tdxmmu.h). */
	return 0;
}

static void test_step_budget_livelock(void **state)
{
	struct tdxmmu_explore_options o;
	struct tdxmmu_explore_result r;

	(void)state;
	tdxmmu_explore_options_init(&o);
	o.cpu = TDXMMU_EXPLORE_CPU_ANY;
	o.step_budget = 20;
	assert_int_equal(explore(two_faults, &o, &r), 1);
	assert_int_equal(r.violations, 1);
	assert_non_null(strstr(r.message, "livelock: vcpu0 took 20 steps in one block"));
	assert_true(r.schedule[0] != '\0');

	memset(&r, 0, sizeof(r));
	assert_int_equal(tdxmmu_explore(two_writers, NULL, &o, &r), 1);
	assert_non_null(strstr(r.message, "livelock: vcpu0 took 20 steps in one block"));
	assert_int_equal(run_vcpus_rc, TDXMMU_EBUSY);
	assert_int_equal(run_vcpus_results[0], TDXMMU_EBUSY);
	assert_int_equal(run_vcpus_results[1], TDXMMU_EBUSY);
}

/*
 * --replay's schedule: text that is not a schedule (not DECISION:THREAD,
 * or decisions not increasing) is a usage error that says at which column;
 * a schedule that runs a thread not enabled at its decision does not fit
 * the program: a usage error naming the decision. The default schedule
 * ("-") replayed with explain prints its interleaving and says there was
 * no violation.
 */
static void test_replay_schedules(void **state)
{
	struct tdxmmu_explore_options o;
	struct tdxmmu_explore_result r;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	tdxmmu_explore_options_init(&o);
	o.cpu = TDXMMU_EXPLORE_CPU_ANY;
	o.replay = "garbage";
	assert_int_equal(explore(two_faults, &o, &r), 2);
	assert_string_equal(r.message, "bad schedule at column 1: expected DECISION:THREAD[,DECISION:THREAD...] with increasing decisions, or '-'");
	o.replay = "1:1,1:0";
	assert_int_equal(explore(two_faults, &o, &r), 2);
	assert_non_null(strstr(r.message, "bad schedule at column 7"));
	o.replay = "1:x";
	assert_int_equal(explore(two_faults, &o, &r), 2);
	assert_non_null(strstr(r.message, "bad schedule at column 3"));
	o.replay = "1:1;2:0";
	assert_int_equal(explore(two_faults, &o, &r), 2);
	assert_non_null(strstr(r.message, "bad schedule at column 4"));
	o.replay = "0:7";
	assert_int_equal(explore(two_faults, &o, &r), 2);
	assert_string_equal(r.message, "the schedule does not fit this program: decision 0: the schedule runs thread 7, which is not enabled there (enabled 0x6)");
	f = open_memstream(&buf, &len);
	assert_non_null(f);
	o.replay = "-";
	o.explain = true;
	o.out = f;
	assert_int_equal(explore(two_faults, &o, &r), 0);
	assert_int_equal(r.violations, 0);
	fclose(f);
	assert_non_null(strstr(buf, "interleaving (every step inside the explored blocks"));
	assert_non_null(strstr(buf, "then: no violation\n"));
	free(buf);
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
	assert_string_equal(r.message, "edge.tds:4: FAIL: expect-sept 0 MAPPED (actual FREE)");
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
	assert_int_equal(tdxmmu_explore_string("edge.tds", two_faults, &o, NULL), 2);
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
		cmocka_unit_test(test_shard_out_of_range),
		cmocka_unit_test(test_cpu_not_a_cpu),
		cmocka_unit_test(test_budget_stops_bounded_search),
		cmocka_unit_test(test_random_sharded_with_budget),
		cmocka_unit_test(test_usage_error_in_the_run),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_program_fails_without_message),
		cmocka_unit_test(test_replay_schedules),
		cmocka_unit_test(test_step_budget_livelock),
		cmocka_unit_test(test_replay_numbers_out_of_range),
		cmocka_unit_test(test_fail_line_after_other_output),
		cmocka_unit_test(test_empty_mutant_name),
		cmocka_unit_test(test_missing_pointers),
		cmocka_unit_test(test_zeroed_options),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
