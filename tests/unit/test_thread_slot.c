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
 * a thread's slot as soon as it has it. Threads on the shared slot must
 * also count saturating adds exactly, and their SEAMCALLs must leave no
 * module lock hold behind (the module counts shared holds per slot:
 * tdx_locks.h).
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
#include "tdxmmu/tdxmmu.h"

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


/* A thread on the shared slot: its saturating adds are atomic ones and
 * still stop at UINT64_MAX. */
struct sat_worker {
	struct worker w;
	_Atomic uint64_t *c;
};

static void *sat_worker_main(void *arg)
{
	struct sat_worker *sw = arg;

	sw->w.slot = host_thread_slot();
	sw->w.owned = host_thread_slot_owned;
	if (!sw->w.owned) {
		host_slot_counter_add_sat(sw->c, 5);
		host_slot_counter_add_sat(sw->c, UINT64_MAX - 1);
	}
	pthread_barrier_wait(sw->w.claimed);
	return NULL;
}

static void test_shared_add_saturates(void **state)
{
	static struct sat_worker sw[MANY];
	static _Atomic uint64_t c;
	pthread_t t[MANY];
	pthread_barrier_t all;
	unsigned shared = 0;

	(void)state;
	atomic_store(&c, 0);
	assert_int_equal(pthread_barrier_init(&all, NULL, MANY), 0);
	for (unsigned i = 0; i < MANY; i++) {
		sw[i] = (struct sat_worker){ .w = { .claimed = &all }, .c = &c };
		assert_int_equal(pthread_create(&t[i], NULL, sat_worker_main, &sw[i]), 0);
	}
	for (unsigned i = 0; i < MANY; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	pthread_barrier_destroy(&all);
	for (unsigned i = 0; i < MANY; i++)
		shared += !sw[i].w.owned;
	/* The barrier keeps all of them alive together: some share. */
	assert_true(shared > 0);
	assert_int_equal(atomic_load(&c), UINT64_MAX);
}

/* MANY threads alive at once issue raw SEAMCALLs on one TD, so several of
 * them run on the shared slot: every call is counted, each answers what
 * it may (the entry lock can be BUSY under real contention), and once they
 * are done no module lock is held (the checker's lock rule) and destroy is
 * clean. */
#define READS 50

struct rd_worker {
	struct worker w;
	tdxmmu_td *td;
	unsigned ok, busy, bad;
};

static void *rd_worker_main(void *arg)
{
	struct rd_worker *rw = arg;
	struct tdxmmu_seamcall_req req = {
		.leaf = tdxmmu_leaf_from_name("TDH.MEM.SEPT.RD"), .gpa = 0x1000, .level = 0,
	};
	struct tdxmmu_seamcall_out out;

	rw->w.slot = host_thread_slot();
	rw->w.owned = host_thread_slot_owned;
	pthread_barrier_wait(rw->w.claimed);
	for (unsigned i = 0; i < READS; i++) {
		if (tdxmmu_seamcall(rw->td, &req, &out))
			rw->bad++;
		else if (out.rax == 0)
			rw->ok++;
		else if (out.rax == 0x8000020000000001ULL) /* BUSY, RCX: the entry lock */
			rw->busy++;
		else
			rw->bad++;
	}
	pthread_barrier_wait(rw->w.done);
	return NULL;
}

static void test_shared_slot_seamcalls(void **state)
{
	static struct rd_worker rw[MANY];
	struct tdxmmu_td_config cfg;
	struct tdxmmu_destroy_report rep;
	enum tdxmmu_outcome o;
	pthread_barrier_t claimed, done;
	pthread_t t[MANY];
	char report[512];
	uint64_t calls, ok = 0, busy = 0;
	unsigned shared = 0;
	tdxmmu_td *td;

	(void)state;
	tdxmmu_td_config_init(&cfg);
	assert_int_equal(tdxmmu_td_create(&cfg, &td), TDXMMU_OK);
	assert_int_equal(tdxmmu_memslot_add(td, 0, 0, 4 << 20), TDXMMU_OK);
	assert_int_equal(tdxmmu_td_finalize(td), TDXMMU_OK);
	assert_int_equal(tdxmmu_vcpu_write(td, 0, 0x1000, 1, &o), TDXMMU_OK);
	assert_int_equal(o, TDXMMU_OUTCOME_OK);
	assert_int_equal(tdxmmu_counter(td, "seamcall.TDH.MEM.SEPT.RD", &calls), TDXMMU_OK);
	assert_int_equal(calls, 0);
	assert_int_equal(pthread_barrier_init(&claimed, NULL, MANY), 0);
	assert_int_equal(pthread_barrier_init(&done, NULL, MANY), 0);
	for (unsigned i = 0; i < MANY; i++) {
		rw[i] = (struct rd_worker){ .w = { .claimed = &claimed, .done = &done }, .td = td };
		assert_int_equal(pthread_create(&t[i], NULL, rd_worker_main, &rw[i]), 0);
	}
	for (unsigned i = 0; i < MANY; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	pthread_barrier_destroy(&claimed);
	pthread_barrier_destroy(&done);
	for (unsigned i = 0; i < MANY; i++) {
		shared += !rw[i].w.owned;
		assert_int_equal(rw[i].bad, 0);
		ok += rw[i].ok;
		busy += rw[i].busy;
	}
	/* At least MANY - (OWNED - 1) - 1 share the last slot: the library's
	 * own threads (the RCU reclaimer) may hold one owned slot. */
	assert_true(shared >= MANY - OWNED);
	assert_int_equal(ok + busy, (uint64_t)MANY * READS);
	assert_true(ok > 0);
	assert_int_equal(tdxmmu_counter(td, "seamcall.TDH.MEM.SEPT.RD", &calls), TDXMMU_OK);
	assert_int_equal(calls, (uint64_t)MANY * READS);
	if (tdxmmu_check(td, report, sizeof(report)))
		fail_msg("check: %s", report);
	assert_int_equal(tdxmmu_td_destroy(td, &rep), TDXMMU_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_live_threads_own_distinct_slots),
		cmocka_unit_test(test_exited_slot_is_reused),
		cmocka_unit_test(test_overflow_shares_last_slot),
		cmocka_unit_test(test_owned_add_saturates),
		cmocka_unit_test(test_shared_add_saturates),
		cmocka_unit_test(test_shared_slot_seamcalls),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
