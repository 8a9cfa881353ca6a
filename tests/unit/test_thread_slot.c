/* SPDX-License-Identifier: MIT */
/*
 * Thread slots (host/thread_slot.h): live threads own distinct slots, an
 * exited thread's slot is handed out again, threads beyond the owned slots
 * share the last one, and counters added through host_slot_counter_add*()
 * sum exactly whichever kind of slot each thread has. The counters' plain
 * stores are correct only if no two live threads own one slot; under
 * ThreadSanitizer these tests also check the claim and release give the
 * happens-before edges between one owner's counts and the next's. The
 * bound of used slots (host_thread_slots_used(), which sums stop at) covers
 * a thread's slot as soon as it has it.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "host/thread_slot.h"

#define OWNED (HOST_THREAD_SLOTS - 1)
#define MANY (HOST_THREAD_SLOTS + 8)
#define ADDS 20000

/* One counter per slot, each on its own line, as the model keeps them. */
static struct {
	_Atomic uint64_t n;
} __attribute__((aligned(HOST_CACHELINE))) counters[HOST_THREAD_SLOTS];

static uint64_t counters_sum(void)
{
	return host_thread_slots_sum(&counters[0].n, sizeof(counters[0]));
}

struct worker {
	pthread_barrier_t *claimed, *done;
	unsigned slot;
	unsigned used; /* host_thread_slots_used() right after the claim */
	bool owned;
	unsigned adds;
};

/* Claims a slot, reports it, adds, and stays alive until every worker
 * has claimed one (so that all of them are live at once). */
static void *worker_main(void *arg)
{
	struct worker *w = arg;

	w->slot = host_thread_slot();
	w->used = host_thread_slots_used();
	w->owned = host_thread_slot_owned;
	if (w->claimed)
		pthread_barrier_wait(w->claimed);
	for (unsigned i = 0; i < w->adds; i++)
		host_slot_counter_add(&counters[host_thread_slot()].n, 1);
	if (w->done)
		pthread_barrier_wait(w->done);
	return NULL;
}

static void run(struct worker *w, unsigned n, bool together)
{
	pthread_t t[MANY];
	pthread_barrier_t claimed, done;

	if (together) {
		assert_int_equal(pthread_barrier_init(&claimed, NULL, n), 0);
		assert_int_equal(pthread_barrier_init(&done, NULL, n), 0);
	}
	for (unsigned i = 0; i < n; i++) {
		w[i].claimed = together ? &claimed : NULL;
		w[i].done = together ? &done : NULL;
		assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
	}
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	if (together) {
		pthread_barrier_destroy(&claimed);
		pthread_barrier_destroy(&done);
	}
}

/* Live threads never share an owned slot; the main thread has one too. */
static void test_live_threads_own_distinct_slots(void **state)
{
	struct worker w[4] = { { 0 } };
	unsigned main_slot = host_thread_slot();

	(void)state;
	assert_true(host_thread_slot_owned);
	assert_true(main_slot < HOST_THREAD_SLOT_SHARED);
	run(w, 4, true);
	for (unsigned i = 0; i < 4; i++) {
		assert_true(w[i].owned);
		assert_true(w[i].slot < HOST_THREAD_SLOT_SHARED);
		assert_int_not_equal(w[i].slot, main_slot);
		assert_true(w[i].slot < w[i].used);
		for (unsigned j = 0; j < i; j++)
			assert_int_not_equal(w[i].slot, w[j].slot);
	}
}

/* A slot given back at exit is the next one handed out (lowest free). */
static void test_exited_slot_is_reused(void **state)
{
	struct worker a = { 0 }, b = { 0 };

	(void)state;
	run(&a, 1, false);
	run(&b, 1, false);
	assert_true(a.owned && b.owned);
	assert_int_equal(a.slot, b.slot);
}

/* With every owned slot held by a live thread, the rest share the last
 * slot, and every add still counts: sum exact over owners and sharers. */
static void test_overflow_shares_last_slot(void **state)
{
	static struct worker w[MANY];
	uint64_t before = counters_sum();
	unsigned owned = 0, shared = 0;

	(void)state;
	for (unsigned i = 0; i < MANY; i++)
		w[i] = (struct worker){ .adds = ADDS };
	run(w, MANY, true);
	for (unsigned i = 0; i < MANY; i++) {
		if (w[i].owned) {
			owned++;
			assert_true(w[i].slot < HOST_THREAD_SLOT_SHARED);
		} else {
			shared++;
			assert_int_equal(w[i].slot, HOST_THREAD_SLOT_SHARED);
		}
	}
	for (unsigned i = 0; i < MANY; i++)
		assert_true(w[i].slot < w[i].used);
	assert_int_equal(host_thread_slots_used(), HOST_THREAD_SLOTS);
	/* The main thread holds one owned slot. */
	assert_int_equal(owned, OWNED - 1);
	assert_int_equal(shared, MANY - (OWNED - 1));
	assert_int_equal(counters_sum() - before, (uint64_t)MANY * ADDS);
}

/* The saturating add stops at UINT64_MAX on an owned slot too. */
static void test_owned_add_saturates(void **state)
{
	_Atomic uint64_t *c = &counters[host_thread_slot()].n;
	uint64_t old = atomic_load(c);

	(void)state;
	assert_true(host_thread_slot_owned);
	host_slot_counter_add_sat(c, UINT64_MAX - 1);
	host_slot_counter_add_sat(c, UINT64_MAX);
	assert_int_equal(atomic_load(c), UINT64_MAX);
	atomic_store(c, old);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_live_threads_own_distinct_slots),
		cmocka_unit_test(test_exited_slot_is_reused),
		cmocka_unit_test(test_overflow_shares_last_slot),
		cmocka_unit_test(test_owned_add_saturates),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
