/* SPDX-License-Identifier: MIT */
/*
 * The model's per-thread-slot locks: the TDX module's counted sharex
 * locks (sharex_counted, tdx_locks.h) and KVM's mmu_lock (kvm/mmu_rwlock.h). Single-thread tests
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

/* ---- counted sharex locks (sharex_counted), one thread ---- */

/*
 * Two locks whose shared holders are counted in one array of per-slot hold
 * words, in fields 0 and 16, as the module's per-TD locks are (td_holds):
 * A and B.
 */
struct two_locks {
	_Atomic uint64_t word_a __attribute__((aligned(HOST_CACHELINE)));
	_Atomic uint64_t word_b __attribute__((aligned(HOST_CACHELINE)));
	struct {
		_Atomic uint64_t w;
	} __attribute__((aligned(HOST_CACHELINE))) holds[HOST_THREAD_SLOTS];
};

#define SHIFT_A 0
#define SHIFT_B 16

static struct sharex_counted lock_of(struct two_locks *t, bool b, bool hp)
{
	return (struct sharex_counted){ .word = b ? &t->word_b : &t->word_a,
					.holds0 = &t->holds[0].w,
					.stride = sizeof(t->holds[0]),
					.shift = b ? SHIFT_B : SHIFT_A, .hp = hp };
}

static struct two_locks one;

static void reset_one(void)
{
	atomic_store(&one.word_a, 0);
	atomic_store(&one.word_b, 0);
	for (unsigned i = 0; i < HOST_THREAD_SLOTS; i++)
		atomic_store(&one.holds[i].w, 0);
}

static void test_counted_shared_excl(void **state)
{
	struct sharex_counted a = lock_of(&one, false, false), b = lock_of(&one, true, false);

	(void)state;
	reset_one();
	/* Two shared holds of A; B's field is apart. */
	assert_int_equal(sharex_counted_try_shared(&a), LOCK_OK);
	assert_int_equal(sharex_counted_try_shared(&a), LOCK_OK);
	assert_int_equal(sharex_counted_readers(&a), 2);
	assert_int_equal(sharex_counted_readers(&b), 0);
	/* Any shared holder excludes the exclusive side, which backs out
	 * leaving the word as it was; B is free. */
	assert_int_equal(sharex_counted_try_excl(&a), LOCK_BUSY);
	assert_int_equal(atomic_load(a.word) & SHAREX_EXCL, 0);
	assert_int_equal(sharex_counted_try_excl(&b), LOCK_OK);
	/* B held exclusive: a shared attempt fails and undoes itself. */
	assert_int_equal(sharex_counted_try_shared(&b), LOCK_BUSY);
	assert_int_equal(sharex_counted_readers(&b), 0);
	assert_int_equal(sharex_counted_readers(&a), 2);
	assert_int_equal(sharex_counted_try_excl(&b), LOCK_BUSY);
	sharex_counted_release_excl(&b);
	sharex_counted_release_shared(&a);
	assert_int_equal(sharex_counted_try_excl(&a), LOCK_BUSY);
	sharex_counted_release_shared(&a);
	assert_int_equal(sharex_counted_readers(&a), 0);
	assert_int_equal(sharex_counted_try_excl(&a), LOCK_OK);
	sharex_counted_release_excl(&a);
	assert_int_equal(atomic_load(a.word), 0);
	assert_int_equal(atomic_load(b.word), 0);
}

/* Holds published ahead (one store for A and B, tdx_locks.h): each is then
 * taken by a look at its word; one found held exclusive is taken back,
 * the other stays. */
static void test_counted_published_ahead(void **state)
{
	struct sharex_counted a = lock_of(&one, false, false), b = lock_of(&one, true, true);

	(void)state;
	reset_one();
	assert_int_equal(sharex_counted_try_excl(&b), LOCK_OK);
	holds_publish(sharex_counted_mine(&a), holds_unit(SHIFT_A) + holds_unit(SHIFT_B));
	/* Published, not yet taken: an exclusive attempt on A sees the hold
	 * already (the transient the settle loop waits through, here for
	 * good: BUSY). */
	assert_int_equal(sharex_counted_readers(&a), 1);
	assert_int_equal(sharex_counted_try_excl(&a), LOCK_BUSY);
	assert_int_equal(sharex_counted_take_published(&a), LOCK_OK);
	assert_int_equal(sharex_counted_take_published(&b), LOCK_BUSY);
	assert_true(atomic_load(b.word) & SHAREX_HP); /* host priority announced */
	assert_int_equal(sharex_counted_readers(&b), 0);
	assert_int_equal(sharex_counted_readers(&a), 1);
	sharex_counted_release_excl(&b);
	sharex_counted_release_shared(&a);
	assert_int_equal(sharex_counted_readers(&a), 0);
	assert_int_equal(sharex_counted_readers(&b), 0);
}

static void *take_shared_a_and_exit(void *arg)
{
	struct sharex_counted a = lock_of(arg, false, false);

	return (void *)(uintptr_t)sharex_counted_try_shared(&a);
}

/*
 * A hold taken on one thread and released on another (VP.ENTER's TDR hold
 * at a TD exit on another thread): each thread writes only its own slot's
 * word, so one word counts +1 and the other -1 in A's field, with a borrow
 * into B's field of that word. The sums are exact: A free, B's holders
 * counted right.
 */
static void test_counted_release_elsewhere(void **state)
{
	struct sharex_counted a = lock_of(&one, false, false), b = lock_of(&one, true, false);
	pthread_t t;
	void *ret;

	(void)state;
	reset_one();
	assert_int_equal(pthread_create(&t, NULL, take_shared_a_and_exit, &one), 0);
	pthread_join(t, &ret);
	assert_int_equal((uintptr_t)ret, LOCK_OK);
	assert_int_equal(sharex_counted_readers(&a), 1);
	assert_int_equal(sharex_counted_try_excl(&a), LOCK_BUSY);
	sharex_counted_release_shared(&a);
	/* This thread's word reads -1 in A's field, all ones as a word. */
	assert_int_equal(atomic_load(sharex_counted_mine(&a)), UINT64_MAX);
	assert_int_equal(sharex_counted_readers(&a), 0);
	assert_int_equal(sharex_counted_readers(&b), 0);
	assert_int_equal(sharex_counted_try_shared(&b), LOCK_OK);
	assert_int_equal(sharex_counted_readers(&b), 1);
	assert_int_equal(sharex_counted_readers(&a), 0);
	assert_int_equal(sharex_counted_try_excl(&b), LOCK_BUSY);
	assert_int_equal(sharex_counted_try_excl(&a), LOCK_OK);
	sharex_counted_release_excl(&a);
	sharex_counted_release_shared(&b);
	assert_int_equal(sharex_counted_try_excl(&b), LOCK_OK);
	sharex_counted_release_excl(&b);
}

/* Host priority (tdx_locks.h): a host attempt that fails announces HP; the
 * host's next success clears it. Without hp nothing is announced. */
static void test_counted_host_priority(void **state)
{
	struct sharex_counted plain = lock_of(&one, false, false), hp = lock_of(&one, false, true);

	(void)state;
	reset_one();
	assert_int_equal(sharex_counted_try_excl(&plain), LOCK_OK);
	assert_int_equal(sharex_counted_try_shared(&plain), LOCK_BUSY);
	assert_int_equal(atomic_load(plain.word) & SHAREX_HP, 0);
	assert_int_equal(sharex_counted_try_shared(&hp), LOCK_BUSY);
	assert_true(atomic_load(hp.word) & SHAREX_HP);
	sharex_counted_release_excl(&plain);
	assert_true(atomic_load(hp.word) & SHAREX_HP); /* release keeps it */
	assert_int_equal(sharex_counted_try_shared(&hp), LOCK_OK);
	assert_int_equal(atomic_load(hp.word) & SHAREX_HP, 0);
	/* An exclusive attempt that finds a reader announces HP too. */
	assert_int_equal(sharex_counted_try_excl(&hp), LOCK_BUSY);
	assert_true(atomic_load(hp.word) & SHAREX_HP);
	assert_int_equal(atomic_load(hp.word) & SHAREX_EXCL, 0);
	sharex_counted_release_shared(&hp);
	assert_int_equal(sharex_counted_try_excl(&hp), LOCK_OK);
	assert_int_equal(atomic_load(hp.word), SHAREX_EXCL);
	sharex_counted_release_excl(&hp);
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

/* ---- counted sharex locks, threads ---- */

/*
 * Each worker, in turn: takes A or B exclusive; or publishes shared holds
 * of both with one store and takes them in order (the module's prologue
 * with its holds published ahead); or takes A alone. Threads own their
 * slots, so the holds are plain stores and fences: exclusion must still
 * hold for each lock, and every hold must be gone at the end.
 */
struct counted_shared {
	struct two_locks locks;
	struct section_probe probe[2];
	_Atomic uint64_t excl_ok, shared_ok, ahead_busy;
};

static void *counted_worker(void *arg)
{
	struct counted_shared *s = arg;
	struct sharex_counted l[2] = { lock_of(&s->locks, false, true),
				       lock_of(&s->locks, true, false) };

	pthread_barrier_wait(&start_line);
	for (unsigned i = 0; i < ITERS; i++) {
		unsigned k = (i / 4) & 1;

		if (i % 4 == 0) {
			if (sharex_counted_try_excl(&l[k]) != LOCK_OK) {
				sched_yield();
				continue;
			}
			probe_exclusive(&s->probe[k]);
			atomic_fetch_add(&s->excl_ok, 1);
			sharex_counted_release_excl(&l[k]);
		} else if (i % 4 == 1) {
			holds_publish(sharex_counted_mine(&l[0]),
				      holds_unit(SHIFT_A) + holds_unit(SHIFT_B));
			if (sharex_counted_take_published(&l[0]) != LOCK_OK) {
				/* B's hold was published too: withdraw it,
				 * as the module's release of the rest does. */
				holds_withdraw(sharex_counted_mine(&l[1]), holds_unit(SHIFT_B));
				atomic_fetch_add(&s->ahead_busy, 1);
				continue;
			}
			if (sharex_counted_take_published(&l[1]) != LOCK_OK) {
				atomic_fetch_add(&s->ahead_busy, 1);
				sharex_counted_release_shared(&l[0]);
				continue;
			}
			probe_shared(&s->probe[0]);
			probe_shared(&s->probe[1]);
			atomic_fetch_add(&s->shared_ok, 1);
			sharex_counted_release_shared(&l[1]);
			sharex_counted_release_shared(&l[0]);
		} else {
			if (sharex_counted_try_shared(&l[0]) != LOCK_OK)
				continue;
			probe_shared(&s->probe[0]);
			atomic_fetch_add(&s->shared_ok, 1);
			sharex_counted_release_shared(&l[0]);
		}
	}
	return NULL;
}

static void test_counted_threads(void **state)
{
	static struct counted_shared s;
	pthread_t t[THREADS];

	(void)state;
	for (unsigned i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, counted_worker, &s), 0);
	for (unsigned i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	for (unsigned k = 0; k < 2; k++)
		assert_int_equal(atomic_load(&s.probe[k].violations), 0);
	assert_true(atomic_load(&s.excl_ok) > 0);
	assert_true(atomic_load(&s.shared_ok) > 0);
	assert_int_equal(s.probe[0].a + s.probe[1].a, atomic_load(&s.excl_ok));
	assert_int_equal(sharex_counted_readers(&(struct sharex_counted){
				 .holds0 = &s.locks.holds[0].w, .stride = sizeof(s.locks.holds[0]),
				 .shift = SHIFT_A }),
			 0);
	assert_int_equal(holds_sum(&s.locks.holds[0].w, sizeof(s.locks.holds[0])), 0);
	assert_int_equal(atomic_load(&s.locks.word_a) & SHAREX_EXCL, 0);
	assert_int_equal(atomic_load(&s.locks.word_b) & SHAREX_EXCL, 0);
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
		cmocka_unit_test(test_counted_shared_excl),
		cmocka_unit_test(test_counted_published_ahead),
		cmocka_unit_test(test_counted_release_elsewhere),
		cmocka_unit_test(test_counted_host_priority),
		cmocka_unit_test(test_counted_threads),
		cmocka_unit_test(test_rwlock_trylock),
		cmocka_unit_test(test_rwlock_threads),
	};

	pthread_barrier_init(&start_line, NULL, THREADS);
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	pthread_barrier_destroy(&start_line);
	return ret;
}
