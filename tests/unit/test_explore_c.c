/* SPDX-License-Identifier: MIT */
/*
 * Exploring a C guest program (issue 12 item 8) through the public API
 * only: tdxmmu_explore() runs the program once per schedule, and the
 * program's own checks are the oracle.
 *
 * The program is the freeze race of kvm-tdx-mmu.md §5.2: two vCPUs write
 * two 4K pages of one 2M region that has no page-table page yet, so both
 * faults want to link the same table (mirror cmpxchg + TDH.MEM.SEPT.ADD).
 * With the guard (the entry frozen while the SEAMCALL runs) every schedule
 * is right; with the no-freeze mutant some schedule is not, found within
 * one preemption, and its printed schedule replays the same violation.
 *
 * This replaces a test that ran real threads for up to four seconds and
 * asserted that the race had been hit at least once: it depended on the
 * machine's timing, and valgrind (one thread at a time) never hit it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "tdxmmu/tdxmmu.h"

#define MB (1ULL << 20)

static const uint64_t gpas[2] = { 0x1000, 0x2000 };

struct guest_result {
	int rc;
	enum tdxmmu_outcome outcome;
};

static struct guest_result results[2];

/* The most CPUs a guest thread of any execution was allowed to run on. */
static atomic_int guest_cpus_max;

static int guest_write(tdxmmu_td *td, unsigned vcpu, void *arg)
{
	struct guest_result *r = arg;
	cpu_set_t set;

	if (!pthread_getaffinity_np(pthread_self(), sizeof(set), &set)) {
		int n = CPU_COUNT(&set), m = atomic_load(&guest_cpus_max);

		while (n > m && !atomic_compare_exchange_weak(&guest_cpus_max, &m, n))
			;
	}

	r->rc = tdxmmu_vcpu_write(td, vcpu, gpas[vcpu], 0x11 * (vcpu + 1), &r->outcome);
	return r->rc;
}

/* One execution: returns non-zero, with @msg, when something did not hold. */
static int freeze_race(void *arg, char *msg, size_t size)
{
	static const tdxmmu_guest_fn fns[2] = { guest_write, guest_write };
	void *args[2] = { &results[0], &results[1] };
	struct tdxmmu_td_config cfg;
	struct tdxmmu_destroy_report rep;
	enum tdxmmu_outcome o;
	char report[512] = "";
	uint64_t val;
	tdxmmu_td *td;
	int bad = 0;

	(void)arg;
	tdxmmu_td_config_init(&cfg);
	cfg.nr_vcpus = 2;
	if (tdxmmu_td_create(&cfg, &td) || tdxmmu_memslot_add(td, 0, 0, 4 * MB) ||
	    tdxmmu_td_finalize(td)) {
		snprintf(msg, size, "set-up failed");
		return 1;
	}
	/* The 512G and 1G tables exist already: the race is the 2M one. */
	if (tdxmmu_vcpu_write(td, 0, 2 * MB, 1, &o) || o != TDXMMU_OUTCOME_OK) {
		snprintf(msg, size, "prefault failed");
		bad = 1;
		goto out;
	}
	memset(results, 0, sizeof(results));
	tdxmmu_run_vcpus(td, 2, fns, args, NULL);
	for (unsigned i = 0; i < 2 && !bad; i++)
		if (results[i].rc || results[i].outcome != TDXMMU_OUTCOME_OK) {
			snprintf(msg, size, "vCPU %u's write: rc %d, outcome %s", i, results[i].rc,
				 tdxmmu_outcome_name(results[i].outcome));
			bad = 1;
		}
	if (!bad && tdxmmu_check(td, report, sizeof(report))) {
		snprintf(msg, size, "check: %s", report);
		bad = 1;
	}
	for (unsigned i = 0; i < 2 && !bad; i++)
		if (tdxmmu_vcpu_read(td, 1 - i, gpas[i], &val, &o) || o != TDXMMU_OUTCOME_OK ||
		    val != 0x11 * (i + 1)) {
			snprintf(msg, size, "vCPU %u reads 0x%" PRIx64 " (%s) at 0x%" PRIx64, 1 - i,
				 val, tdxmmu_outcome_name(o), gpas[i]);
			bad = 1;
		}
out:
	if (tdxmmu_td_destroy(td, &rep) && !bad) {
		snprintf(msg, size, "destroy: %s", rep.message);
		bad = 1;
	}
	return bad;
}

static struct tdxmmu_explore_result res;

static void test_guards_on_every_schedule_holds(void **state)
{
	struct tdxmmu_explore_options o;

	(void)state;
	tdxmmu_explore_options_init(&o);
	o.preemptions = 1;
	assert_int_equal(tdxmmu_explore(freeze_race, NULL, &o, &res), 0);
	assert_true(res.complete);
	assert_int_equal(res.violations, 0);
	/* Two vCPUs racing through a fault each: many decisions, so many
	 * one-preemption schedules (a count this small would mean the
	 * schedule points are missing). */
	assert_true(res.schedules > 50);
}

static void test_no_freeze_caught_and_replayed(void **state)
{
	struct tdxmmu_explore_options o;
	char schedule[sizeof(res.schedule)];
	char message[sizeof(res.message)];

	(void)state;
	tdxmmu_explore_options_init(&o);
	o.preemptions = 1;
	o.mutant = "no-freeze";
	/* Without a preemption, one fault runs whole before the other: fine. */
	o.preemptions = 0;
	assert_int_equal(tdxmmu_explore(freeze_race, NULL, &o, &res), 0);
	o.preemptions = 1;
	assert_int_equal(tdxmmu_explore(freeze_race, NULL, &o, &res), 1);
	assert_int_equal(res.violation_preemptions, 1);
	strcpy(schedule, res.schedule);
	strcpy(message, res.message);
	fprintf(stderr, "no-freeze: after %" PRIu64 " schedules: %s\n  schedule %s\n",
		res.schedules, message, schedule);
	/* The printed schedule replays it: the same message, every time. */
	o.replay = schedule;
	for (int i = 0; i < 3; i++) {
		assert_int_equal(tdxmmu_explore(freeze_race, NULL, &o, &res), 1);
		assert_string_equal(res.message, message);
	}
	/* And with the guard back, that schedule is harmless. */
	o.mutant = NULL;
	assert_int_equal(tdxmmu_explore(freeze_race, NULL, &o, &res), 0);
}

static void test_unknown_mutant(void **state)
{
	struct tdxmmu_explore_options o;

	(void)state;
	tdxmmu_explore_options_init(&o);
	o.mutant = "no-such-guard";
	assert_int_equal(tdxmmu_explore(freeze_race, NULL, &o, &res), 2);
	assert_non_null(strstr(res.message, "unknown mutant"));
	for (unsigned i = 0; tdxmmu_mutant_name(i); i++)
		assert_non_null(tdxmmu_mutant_help(i));
	/* Eight guards, the last split-read-lock (large pages). */
	assert_string_equal(tdxmmu_mutant_name(7), "split-read-lock");
	assert_null(tdxmmu_mutant_name(8));
}

/* The search runs on one CPU (its threads run one at a time) unless told
 * otherwise, and gives the caller its affinity back. */
static void test_pinning(void **state)
{
	struct tdxmmu_explore_options o;
	cpu_set_t before, after;
	int first = -1;

	(void)state;
	assert_int_equal(pthread_getaffinity_np(pthread_self(), sizeof(before), &before), 0);
	tdxmmu_explore_options_init(&o);
	o.preemptions = 0;
	atomic_store(&guest_cpus_max, 0);
	assert_int_equal(tdxmmu_explore(freeze_race, NULL, &o, &res), 0);
	assert_int_equal(atomic_load(&guest_cpus_max), 1);
	assert_int_equal(pthread_getaffinity_np(pthread_self(), sizeof(after), &after), 0);
	assert_true(CPU_EQUAL(&before, &after));

	o.cpu = TDXMMU_EXPLORE_CPU_ANY;
	atomic_store(&guest_cpus_max, 0);
	assert_int_equal(tdxmmu_explore(freeze_race, NULL, &o, &res), 0);
	assert_int_equal(atomic_load(&guest_cpus_max), CPU_COUNT(&before));

	for (int c = 0; c < CPU_SETSIZE && first < 0; c++)
		if (CPU_ISSET(c, &before))
			first = c;
	o.cpu = TDXMMU_EXPLORE_CPU(first);
	atomic_store(&guest_cpus_max, 0);
	assert_int_equal(tdxmmu_explore(freeze_race, NULL, &o, &res), 0);
	assert_int_equal(atomic_load(&guest_cpus_max), 1);

	o.cpu = TDXMMU_EXPLORE_CPU(CPU_SETSIZE + 5);
	assert_int_equal(tdxmmu_explore(freeze_race, NULL, &o, &res), 2);
	assert_non_null(strstr(res.message, "not a CPU this process may run on"));
	assert_int_equal(pthread_getaffinity_np(pthread_self(), sizeof(after), &after), 0);
	assert_true(CPU_EQUAL(&before, &after));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_guards_on_every_schedule_holds),
		cmocka_unit_test(test_no_freeze_caught_and_replayed),
		cmocka_unit_test(test_unknown_mutant),
		cmocka_unit_test(test_pinning),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
