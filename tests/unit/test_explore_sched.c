/* SPDX-License-Identifier: MIT */
/*
 * The scheduler and the search on their own (issue 12), with programs small
 * enough that the right answers can be counted by hand: a lost update that
 * needs exactly one preemption, a lock that prevents it, a lock-order
 * deadlock, a spin that never ends, disjoint threads that need no
 * reordering, replay strings, and shards that split the space exactly.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "explore/sched_internal.h"
#include "tdxmmu/tdxmmu.h"

/* ---- a tiny threaded program ---- */

struct prog {
	unsigned nr;
	void (*thread_fn)(struct prog *p, unsigned i);
	/* shared state */
	int counter;
	int lock_a, lock_b; /* 1: held */
	int flag;
	int slot[8];
};

struct th {
	struct prog *p;
	unsigned i;
	int token;
};

static void *th_main(void *arg)
{
	struct th *t = arg;

	sched_thread_start(t->token);
	t->p->thread_fn(t->p, t->i);
	sched_thread_exit();
	return NULL;
}

static void run_threads(struct prog *p)
{
	pthread_t tid[8];
	/* On the heap, leaked when the schedule is abandoned: its parked
	 * threads may not have read their struct yet. */
	struct th *th = calloc(8, sizeof(*th));

	assert_non_null(th);
	for (unsigned i = 0; i < p->nr; i++) {
		char name[16];

		snprintf(name, sizeof(name), "t%u", i);
		th[i] = (struct th){ p, i, sched_thread_spawn(name) };
		assert_int_equal(pthread_create(&tid[i], NULL, th_main, &th[i]), 0);
	}
	{
		int tokens[8];

		for (unsigned i = 0; i < p->nr; i++)
			tokens[i] = th[i].token;
		sched_thread_join_all(tokens, p->nr);
	}
	for (unsigned i = 0; i < p->nr; i++) {
		if (sched_abandoned())
			pthread_detach(tid[i]);
		else
			pthread_join(tid[i], NULL);
	}
	if (!sched_abandoned())
		free(th);
}

static void lock(int *l)
{
	SCHED_POINT(SCHED_MUTEX_LOCK, SCHED_W, l, "lock");
	while (*l)
		SCHED_WAIT(l, "lock");
	*l = 1;
}

static void unlock(int *l)
{
	SCHED_POINT(SCHED_MUTEX_UNLOCK, SCHED_W, l, "unlock");
	*l = 0;
}

static void racy_increment(struct prog *p, unsigned i)
{
	int v;

	(void)i;
	SCHED_POINT(SCHED_MISC, SCHED_R, &p->counter, "counter");
	v = p->counter;
	SCHED_POINT(SCHED_MISC, SCHED_W, &p->counter, "counter");
	p->counter = v + 1;
	SCHED_NOTE("counter %d -> %d", v, v + 1);
}

/* racy_increment() with a second note on the same step: the trace joins
 * the two with "; " (sched_note()). */
static void racy_increment_two_notes(struct prog *p, unsigned i)
{
	racy_increment(p, i);
	SCHED_NOTE("written by t%u", i);
}

static void locked_increment(struct prog *p, unsigned i)
{
	lock(&p->lock_a);
	racy_increment(p, i);
	unlock(&p->lock_a);
}

static void lock_order(struct prog *p, unsigned i)
{
	int *first = i ? &p->lock_b : &p->lock_a, *second = i ? &p->lock_a : &p->lock_b;

	lock(first);
	lock(second);
	unlock(second);
	unlock(first);
}

static void spin_until_flag(struct prog *p, unsigned i)
{
	if (i == 0) {
		for (;;) {
			SCHED_POINT(SCHED_MISC, SCHED_R, &p->flag, "flag");
			if (p->flag)
				break;
		}
	} else {
		SCHED_POINT(SCHED_MISC, SCHED_W, &p->flag, "flag");
		p->flag = 1;
	}
}

static void disjoint(struct prog *p, unsigned i)
{
	for (int k = 0; k < 5; k++) {
		SCHED_POINT(SCHED_MISC, SCHED_W, &p->slot[i], "slot");
		p->slot[i]++;
	}
}

/* A program that does not repeat itself: it starts two threads in one
 * execution and three in the next (a count that outlives the execution),
 * so the replay of a recorded prefix meets other enabled threads than the
 * recording did. */
static unsigned nondet_execs;

static void nondet_paths(struct prog *p, unsigned i)
{
	(void)i;
	for (unsigned k = 0; k < 2; k++) {
		SCHED_POINT(SCHED_MISC, SCHED_W, &p->counter, "counter");
		p->counter++;
	}
}

static struct prog the_prog;

static int body(void *arg, char *msg, size_t size)
{
	struct prog *tmpl = arg;

	the_prog = *tmpl;
	if (the_prog.thread_fn == nondet_paths)
		the_prog.nr = 2 + nondet_execs++ % 2;
	run_threads(&the_prog);
	if (sched_abandoned())
		return 0; /* the scheduler has recorded why */
	if (the_prog.thread_fn == racy_increment || the_prog.thread_fn == locked_increment ||
	    the_prog.thread_fn == racy_increment_two_notes) {
		if (the_prog.counter != (int)the_prog.nr) {
			snprintf(msg, size, "counter is %d, not %u", the_prog.counter, the_prog.nr);
			return 1;
		}
	}
	return 0;
}

static int explore(struct prog *p, unsigned preemptions, const char *replay,
		   struct tdxmmu_explore_result *r)
{
	struct tdxmmu_explore_options o;

	tdxmmu_explore_options_init(&o);
	o.preemptions = preemptions;
	o.replay = replay;
	o.step_budget = 1000;
	return tdxmmu_explore(body, p, &o, r);
}

static struct tdxmmu_explore_result res;

/* Two racy increments: every schedule without a preemption is correct
 * (one thread runs whole, then the other; two orders), one preemption
 * between a read and a write loses an update. */
static void test_lost_update_needs_one_preemption(void **state)
{
	struct prog p = { .nr = 2, .thread_fn = racy_increment };

	(void)state;
	assert_int_equal(explore(&p, 0, NULL, &res), 0);
	assert_true(res.complete);
	assert_int_equal(res.schedules, 2);
	assert_int_equal(explore(&p, 1, NULL, &res), 1);
	assert_int_equal(res.violation_preemptions, 1);
	assert_non_null(strstr(res.message, "counter is 1"));
	assert_false(res.complete);
	/* The printed schedule replays the violation; the default does not. */
	{
		char sched[sizeof(res.schedule)];

		strcpy(sched, res.schedule);
		assert_int_equal(explore(&p, 0, sched, &res), 1);
		assert_non_null(strstr(res.message, "counter is 1"));
		assert_int_equal(explore(&p, 0, "-", &res), 0);
	}
}

/* The explanation of the lost update shows each write step with both of
 * its notes on one line, joined. */
static void test_explain_joins_notes_of_one_step(void **state)
{
	struct prog p = { .nr = 2, .thread_fn = racy_increment_two_notes };
	struct tdxmmu_explore_options o;
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	(void)state;
	assert_non_null(f);
	tdxmmu_explore_options_init(&o);
	o.preemptions = 1;
	o.step_budget = 1000;
	o.explain = true;
	o.out = f;
	assert_int_equal(tdxmmu_explore(body, &p, &o, &res), 1);
	fclose(f);
	assert_non_null(strstr(res.message, "counter is 1"));
	/* Both threads read 0 and write 1 (the lost update). */
	assert_non_null(strstr(text, "counter 0 -> 1; written by t0\n"));
	assert_non_null(strstr(text, "counter 0 -> 1; written by t1\n"));
	assert_non_null(strstr(text, "then: counter is 1, not 2\n"));
	free(text);
}

/* A thread spawned and then forgotten (its pthread_create() failed, as
 * tdxmmu_run_vcpus() and the lanes do): joining it does not wait, and a
 * cancel of no thread (-1) is nothing. One schedule, no violation. */
static int spawn_cancel_join(void *arg, char *msg, size_t size)
{
	int t = sched_thread_spawn("never");

	(void)arg, (void)msg, (void)size;
	assert_true(t >= 0);
	sched_thread_cancel(t);
	sched_thread_cancel(-1);
	sched_thread_join(t);
	return 0;
}

static void test_join_of_cancelled_thread(void **state)
{
	struct tdxmmu_explore_options o;

	(void)state;
	tdxmmu_explore_options_init(&o);
	assert_int_equal(tdxmmu_explore(spawn_cancel_join, NULL, &o, &res), 0);
	assert_int_equal(res.schedules, 1);
	assert_true(res.complete);
}

static void rcu_cb_count(void *head)
{
	++*(int *)head;
}

/* The scheduler's RCU answers false when not exploring (sched.h: the
 * caller uses liburcu then), and runs nothing. */
static void test_rcu_outside_exploration(void **state)
{
	int ran = 0;

	(void)state;
	assert_false(sched_rcu_read_lock());
	assert_false(sched_rcu_read_unlock());
	assert_false(sched_call_rcu(&ran, rcu_cb_count));
	assert_false(sched_rcu_barrier());
	assert_int_equal(ran, 0);
}

/* The same from a thread the scheduler does not run, while exploring
 * (liburcu's own threads are such): false, nothing queued. */
static void *unscheduled_rcu(void *arg)
{
	bool *any = arg;

	*any = sched_rcu_read_lock() || sched_rcu_read_unlock() ||
	       sched_call_rcu(any, rcu_cb_count) || sched_rcu_barrier();
	return NULL;
}

static int rcu_from_unscheduled_thread(void *arg, char *msg, size_t size)
{
	pthread_t tid;
	bool any = true;

	(void)arg;
	if (pthread_create(&tid, NULL, unscheduled_rcu, &any))
		return 0;
	pthread_join(tid, NULL);
	if (any) {
		snprintf(msg, size, "the scheduler's RCU took a call from a thread it does not run");
		return 1;
	}
	return 0;
}

static void test_rcu_unscheduled_thread_while_exploring(void **state)
{
	struct tdxmmu_explore_options o;

	(void)state;
	tdxmmu_explore_options_init(&o);
	assert_int_equal(tdxmmu_explore(rcu_from_unscheduled_thread, NULL, &o, &res), 0);
	assert_int_equal(res.schedules, 1);
}

/* Two violations in one execution: the first is the one reported. */
static int two_violations(void *arg, char *msg, size_t size)
{
	(void)arg, (void)msg, (void)size;
	sched_violation("first: %d", 1);
	sched_violation("second: %d", 2);
	return 0;
}

static void test_first_violation_wins(void **state)
{
	struct tdxmmu_explore_options o;

	(void)state;
	tdxmmu_explore_options_init(&o);
	assert_int_equal(tdxmmu_explore(two_violations, NULL, &o, &res), 1);
	assert_string_equal(res.message, "first: 1");
	assert_int_equal(res.violations, 1);
}

/* With the lock, no schedule loses an update, and the space of 2
 * preemptions is finite and completed. */
static void test_lock_prevents_it(void **state)
{
	struct prog p = { .nr = 2, .thread_fn = locked_increment };
	uint64_t s1;

	(void)state;
	assert_int_equal(explore(&p, 1, NULL, &res), 0);
	assert_true(res.complete);
	s1 = res.schedules;
	assert_int_equal(explore(&p, 2, NULL, &res), 0);
	assert_true(res.complete);
	assert_true(res.schedules > s1);
	assert_int_equal(res.levels_done, 3);
}

static void test_deadlock_found(void **state)
{
	struct prog p = { .nr = 2, .thread_fn = lock_order };

	(void)state;
	assert_int_equal(explore(&p, 0, NULL, &res), 0);
	assert_int_equal(explore(&p, 1, NULL, &res), 1);
	assert_non_null(strstr(res.message, "deadlock"));
	assert_int_equal(res.violation_preemptions, 1);
}

static void test_livelock_found(void **state)
{
	struct prog p = { .nr = 2, .thread_fn = spin_until_flag };

	(void)state;
	/* The default schedule runs t0 first, which spins for ever. */
	assert_int_equal(explore(&p, 0, NULL, &res), 1);
	assert_non_null(strstr(res.message, "livelock"));
}

/* The explorer's replay check: a program whose executions differ under
 * the same schedule is reported as the model's own bug (exit 3), with the
 * decision where the replay left the recording, not as a violation. */
static void test_nondeterminism_found(void **state)
{
	struct prog p = { .nr = 2, .thread_fn = nondet_paths };

	(void)state;
	nondet_execs = 0;
	assert_int_equal(explore(&p, 1, NULL, &res), 3);
	assert_non_null(strstr(res.message, "the model is not deterministic under the scheduler: decision "));
	assert_non_null(strstr(res.message, "the recorded execution had"));
	assert_int_equal(res.violations, 0);
}

/* More model threads than the scheduler can tell apart (SCHED_MAX_THREADS,
 * the caller's thread included): the spawn that does not fit fails, and
 * the execution is abandoned as a violation that says why, rather than run
 * with a thread the scheduler does not know. */
static unsigned spawned;

static int too_many_threads(void *arg, char *msg, size_t size)
{
	(void)arg, (void)msg, (void)size;
	spawned = 0;
	for (;;) {
		int t = sched_thread_spawn("t");

		if (t < 0)
			break;
		spawned++;
		sched_thread_cancel(t); /* never started: done */
	}
	return 0;
}

static void test_too_many_threads(void **state)
{
	struct tdxmmu_explore_options o;

	(void)state;
	tdxmmu_explore_options_init(&o);
	o.preemptions = 0;
	assert_int_equal(tdxmmu_explore(too_many_threads, NULL, &o, &res), 1);
	assert_non_null(strstr(res.message, "more model threads than the scheduler handles (64)"));
	assert_int_equal(spawned, SCHED_MAX_THREADS - 1);
}

/* Threads that share nothing need one schedule, whatever the bound. */
static void test_disjoint_threads_pruned(void **state)
{
	struct prog p = { .nr = 3, .thread_fn = disjoint };

	(void)state;
	assert_int_equal(explore(&p, 2, NULL, &res), 0);
	assert_true(res.complete);
	assert_int_equal(res.schedules, 1);
}

/* Shards partition the space: their counts add up to the whole. */
static void test_shards_partition(void **state)
{
	struct prog p = { .nr = 3, .thread_fn = locked_increment };
	struct tdxmmu_explore_options o;
	uint64_t whole, sum = 0;

	(void)state;
	tdxmmu_explore_options_init(&o);
	o.preemptions = 2;
	assert_int_equal(tdxmmu_explore(body, &p, &o, &res), 0);
	assert_true(res.complete);
	whole = res.schedules;
	assert_true(whole > 20);
	for (unsigned i = 0; i < 3; i++) {
		o.shard = i;
		o.nr_shards = 3;
		assert_int_equal(tdxmmu_explore(body, &p, &o, &res), 0);
		assert_true(res.complete);
		assert_true(res.schedules > 0);
		sum += res.schedules;
	}
	assert_int_equal(sum, whole);
}

static void test_bad_replay_string(void **state)
{
	struct prog p = { .nr = 2, .thread_fn = racy_increment };

	(void)state;
	assert_int_equal(explore(&p, 0, "3:x", &res), 2);
	assert_non_null(strstr(res.message, "bad schedule"));
	assert_int_equal(explore(&p, 0, "5:1,2:0", &res), 2);
	/* A thread that is not enabled at that decision. */
	assert_int_equal(explore(&p, 0, "0:7", &res), 2);
	assert_non_null(strstr(res.message, "does not fit"));
}

static void test_random_finds_lost_update(void **state)
{
	struct prog p = { .nr = 2, .thread_fn = racy_increment };
	struct tdxmmu_explore_options o;

	(void)state;
	tdxmmu_explore_options_init(&o);
	o.random = 200;
	o.preemptions = 1;
	o.seed = 1;
	assert_int_equal(tdxmmu_explore(body, &p, &o, &res), 1);
	assert_true(res.schedules <= 200);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lost_update_needs_one_preemption),
		cmocka_unit_test(test_explain_joins_notes_of_one_step),
		cmocka_unit_test(test_join_of_cancelled_thread),
		cmocka_unit_test(test_rcu_outside_exploration),
		cmocka_unit_test(test_first_violation_wins),
		cmocka_unit_test(test_rcu_unscheduled_thread_while_exploring),
		cmocka_unit_test(test_lock_prevents_it),
		cmocka_unit_test(test_deadlock_found),
		cmocka_unit_test(test_livelock_found),
		cmocka_unit_test(test_nondeterminism_found),
		cmocka_unit_test(test_too_many_threads),
		cmocka_unit_test(test_disjoint_threads_pruned),
		cmocka_unit_test(test_shards_partition),
		cmocka_unit_test(test_bad_replay_string),
		cmocka_unit_test(test_random_finds_lost_update),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
