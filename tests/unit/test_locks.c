/* SPDX-License-Identifier: MIT */
/*
 * The model's per-thread-slot locks: the TDX module's sharex_dist
 * (tdx_locks.h) and KVM's mmu_lock (kvm/mmu_rwlock.h). Single-thread tests
 * pin down the answers (who may hold what together, HP); threaded tests
 * check mutual exclusion directly (counters of holders inside, and data
 * written only under the exclusive side that readers must see whole), and
 * under ThreadSanitizer that the lock gives the happens-before edges the
 * data needs. Threads run a fixed number of iterations (no timing).
 */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "host/thread_slot.h"
#include "kvm/mmu_rwlock.h"
#include "tdx/tdx_locks.h"

#define THREADS 4
#define ITERS 100000

/* All workers start together, so that they overlap on 2 cores. */
static pthread_barrier_t start_line;

/* ---- sharex_dist, one thread ---- */

static struct sharex_dist dist_lock;

static void test_dist_shared_excl(void **state)
{
	struct sharex_dist *l = &dist_lock;

	(void)state;
	atomic_store(&l->word, 0);
	/* Shared holds on two slots coexist and are counted apart. */
	assert_int_equal(sharex_dist_try_shared(l, false, 0), LOCK_OK);
	assert_int_equal(sharex_dist_try_shared(l, false, 5), LOCK_OK);
	assert_int_equal(sharex_dist_readers(l), 2);
	/* Any shared holder excludes the exclusive side, which backs out
	 * leaving the word as it was. */
	assert_int_equal(sharex_dist_try_excl(l, false), LOCK_BUSY);
	assert_int_equal(atomic_load(&l->word) & SHAREX_EXCL, 0);
	sharex_dist_release_shared(l, 0);
	assert_int_equal(sharex_dist_try_excl(l, false), LOCK_BUSY);
	sharex_dist_release_shared(l, 5);
	assert_int_equal(sharex_dist_readers(l), 0);
	/* Free: exclusive wins; then shared and exclusive attempts fail. */
	assert_int_equal(sharex_dist_try_excl(l, false), LOCK_OK);
	assert_int_equal(sharex_dist_try_shared(l, false, 3), LOCK_BUSY);
	assert_int_equal(sharex_dist_readers(l), 0); /* the failure undid itself */
	assert_int_equal(sharex_dist_try_excl(l, false), LOCK_BUSY);
	sharex_dist_release_excl(l);
	assert_int_equal(sharex_dist_try_shared(l, false, 3), LOCK_OK);
	sharex_dist_release_shared(l, 3);
	assert_int_equal(atomic_load(&l->word), 0);
}

/* Host priority (tdx_locks.h): a host attempt that fails announces HP; the
 * host's next success clears it. Without hp nothing is announced. */
static void test_dist_host_priority(void **state)
{
	struct sharex_dist *l = &dist_lock;

	(void)state;
	atomic_store(&l->word, 0);
	assert_int_equal(sharex_dist_try_excl(l, false), LOCK_OK);
	assert_int_equal(sharex_dist_try_shared(l, false, 1), LOCK_BUSY);
	assert_int_equal(atomic_load(&l->word) & SHAREX_HP, 0);
	assert_int_equal(sharex_dist_try_shared(l, true, 1), LOCK_BUSY);
	assert_true(atomic_load(&l->word) & SHAREX_HP);
	sharex_dist_release_excl(l);
	assert_true(atomic_load(&l->word) & SHAREX_HP); /* release keeps it */
	assert_int_equal(sharex_dist_try_shared(l, true, 1), LOCK_OK);
	assert_int_equal(atomic_load(&l->word) & SHAREX_HP, 0);
	/* An exclusive attempt that finds a reader announces HP too. */
	assert_int_equal(sharex_dist_try_excl(l, true), LOCK_BUSY);
	assert_true(atomic_load(&l->word) & SHAREX_HP);
	assert_int_equal(atomic_load(&l->word) & SHAREX_EXCL, 0);
	sharex_dist_release_shared(l, 1);
	assert_int_equal(sharex_dist_try_excl(l, true), LOCK_OK);
	assert_int_equal(atomic_load(&l->word), SHAREX_EXCL);
	sharex_dist_release_excl(l);
}

/* ---- what the threaded tests check inside a critical section ---- */

/* Holders inside, and data written only under the exclusive side: a shared
 * holder must see a == b and no exclusive holder; an exclusive holder must
 * be alone. */
struct section_probe {
	_Atomic int readers_in, writers_in;
	_Atomic uint64_t violations;
	uint64_t a, b;
};

static void probe_exclusive(struct section_probe *p)
{
	if (atomic_fetch_add(&p->writers_in, 1) != 0 || atomic_load(&p->readers_in) != 0)
		atomic_fetch_add(&p->violations, 1);
	p->a++;
	p->b++;
	atomic_fetch_sub(&p->writers_in, 1);
}

static void probe_shared(struct section_probe *p)
{
	atomic_fetch_add(&p->readers_in, 1);
	if (atomic_load(&p->writers_in) != 0 || p->a != p->b)
		atomic_fetch_add(&p->violations, 1);
	atomic_fetch_sub(&p->readers_in, 1);
}

/* ---- sharex_dist, threads ---- */

struct dist_shared {
	struct sharex_dist lock;
	struct section_probe probe;
	_Atomic uint64_t excl_ok, shared_ok;
};

static void *dist_worker(void *arg)
{
	struct dist_shared *s = arg;
	unsigned slot = host_thread_slot();

	pthread_barrier_wait(&start_line);
	for (unsigned i = 0; i < ITERS; i++) {
		if (i % 4 == 0) {
			if (sharex_dist_try_excl(&s->lock, false) != LOCK_OK) {
				sched_yield();
				continue;
			}
			probe_exclusive(&s->probe);
			atomic_fetch_add(&s->excl_ok, 1);
			sharex_dist_release_excl(&s->lock);
		} else {
			if (sharex_dist_try_shared(&s->lock, true, slot) != LOCK_OK)
				continue;
			probe_shared(&s->probe);
			atomic_fetch_add(&s->shared_ok, 1);
			sharex_dist_release_shared(&s->lock, slot);
		}
	}
	return NULL;
}

static void test_dist_threads(void **state)
{
	static struct dist_shared s;
	pthread_t t[THREADS];

	(void)state;
	for (unsigned i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, dist_worker, &s), 0);
	for (unsigned i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(atomic_load(&s.probe.violations), 0);
	assert_true(atomic_load(&s.excl_ok) > 0);
	assert_true(atomic_load(&s.shared_ok) > 0);
	assert_int_equal(s.probe.a, atomic_load(&s.excl_ok));
	assert_int_equal(sharex_dist_readers(&s.lock), 0);
	assert_int_equal(atomic_load(&s.lock.word) & SHAREX_EXCL, 0);
}

/* ---- mmu_rwlock ---- */

static void test_rwlock_trylock(void **state)
{
	struct mmu_rwlock l;

	(void)state;
	assert_int_equal(mmu_rwlock_init(&l), 0);
	mmu_rwlock_read_lock(&l);
	assert_false(mmu_rwlock_write_trylock(&l));
	assert_true(mmu_rwlock_read_trylock(&l)); /* readers share */
	mmu_rwlock_read_unlock(&l);
	mmu_rwlock_read_unlock(&l);
	assert_true(mmu_rwlock_write_trylock(&l));
	assert_false(mmu_rwlock_read_trylock(&l));
	assert_false(mmu_rwlock_write_trylock(&l));
	mmu_rwlock_write_unlock(&l);
	mmu_rwlock_write_lock(&l);
	assert_false(mmu_rwlock_read_trylock(&l));
	mmu_rwlock_write_unlock(&l);
	assert_true(mmu_rwlock_read_trylock(&l));
	mmu_rwlock_read_unlock(&l);
	mmu_rwlock_destroy(&l);
}

struct rw_shared {
	struct mmu_rwlock lock;
	struct section_probe probe;
};

static void *rw_reader(void *arg)
{
	struct rw_shared *s = arg;

	pthread_barrier_wait(&start_line);
	for (unsigned i = 0; i < ITERS; i++) {
		mmu_rwlock_read_lock(&s->lock);
		probe_shared(&s->probe);
		mmu_rwlock_read_unlock(&s->lock);
	}
	return NULL;
}

static void *rw_writer(void *arg)
{
	struct rw_shared *s = arg;

	pthread_barrier_wait(&start_line);
	for (unsigned i = 0; i < ITERS / 8; i++) {
		mmu_rwlock_write_lock(&s->lock);
		probe_exclusive(&s->probe);
		mmu_rwlock_write_unlock(&s->lock);
	}
	return NULL;
}

/* Readers and writers together: exclusion holds, every writer gets in (no
 * starvation: the test would hang), and the data stays whole. */
static void test_rwlock_threads(void **state)
{
	static struct rw_shared s;
	pthread_t t[THREADS];

	(void)state;
	assert_int_equal(mmu_rwlock_init(&s.lock), 0);
	for (unsigned i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL,
						i < 2 ? rw_writer : rw_reader, &s), 0);
	for (unsigned i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(atomic_load(&s.probe.violations), 0);
	assert_int_equal(s.probe.a, 2 * (ITERS / 8));
	assert_int_equal(s.probe.a, s.probe.b);
	assert_true(mmu_rwlock_write_trylock(&s.lock));
	mmu_rwlock_write_unlock(&s.lock);
	mmu_rwlock_destroy(&s.lock);
}

int main(void)
{
	int ret;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dist_shared_excl),
		cmocka_unit_test(test_dist_host_priority),
		cmocka_unit_test(test_dist_threads),
		cmocka_unit_test(test_rwlock_trylock),
		cmocka_unit_test(test_rwlock_threads),
	};

	pthread_barrier_init(&start_line, NULL, THREADS);
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	pthread_barrier_destroy(&start_line);
	return ret;
}
