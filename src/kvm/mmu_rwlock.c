/* SPDX-License-Identifier: MIT */
/*
 * kvm->mmu_lock (mmu_rwlock.h has the design and why). Lock and unlock of
 * the read side run on the same thread (as for any rwlock), so both find the
 * reader's count at host_thread_slot().
 */
#include "kvm/mmu_rwlock.h"
#include "kvm/kvm_sched.h"

int mmu_rwlock_init(struct mmu_rwlock *l)
{
	atomic_init(&l->writer, 0);
	atomic_init(&l->sleepers, 0);
	for (unsigned i = 0; i < HOST_THREAD_SLOTS; i++)
		atomic_init(&l->readers[i].n, 0);
	if (pthread_mutex_init(&l->writer_mutex, NULL))
		return -1;
	if (pthread_mutex_init(&l->wait_lock, NULL)) {
		pthread_mutex_destroy(&l->writer_mutex);
		return -1;
	}
	if (pthread_cond_init(&l->wait_cond, NULL)) {
		pthread_mutex_destroy(&l->wait_lock);
		pthread_mutex_destroy(&l->writer_mutex);
		return -1;
	}
	return 0;
}

void mmu_rwlock_destroy(struct mmu_rwlock *l)
{
	pthread_cond_destroy(&l->wait_cond);
	pthread_mutex_destroy(&l->wait_lock);
	pthread_mutex_destroy(&l->writer_mutex);
}

static uint64_t readers_sum(struct mmu_rwlock *l)
{
	uint64_t n = 0;

	for (unsigned i = 0, slots = host_thread_slots_used(); i < slots; i++)
		n += atomic_load_explicit(&l->readers[i].n, memory_order_seq_cst);
	return n;
}

/*
 * Wakes the sleepers, if any. A sleeper counts itself in `sleepers` under
 * wait_lock before it re-checks its condition and sleeps; the waker changes
 * the condition (a store or a decrement, seq_cst) before reading `sleepers`.
 * So either the waker sees the sleeper and broadcasts under wait_lock (which
 * the sleeper holds until it is inside pthread_cond_wait), or the sleeper's
 * re-check sees the new condition and does not sleep.
 */
static void wake_waiters(struct mmu_rwlock *l)
{
	if (!atomic_load_explicit(&l->sleepers, memory_order_seq_cst))
		return;
	pthread_mutex_lock(&l->wait_lock);
	pthread_cond_broadcast(&l->wait_cond);
	pthread_mutex_unlock(&l->wait_lock);
}

static bool read_enter(struct mmu_rwlock *l, unsigned slot)
{
	atomic_fetch_add_explicit(&l->readers[slot].n, 1, memory_order_seq_cst);
	if (!atomic_load_explicit(&l->writer, memory_order_seq_cst))
		return true;
	atomic_fetch_sub_explicit(&l->readers[slot].n, 1, memory_order_seq_cst);
	wake_waiters(l);
	return false;
}

/*
 * While exploring (explore/sched.h) a thread must not sleep on the condvar:
 * the thread that would wake it cannot run while it holds the baton. So
 * acquiring is a schedule point (W on the lock: an acquire orders against
 * every other acquire and release), then try-locks with SCHED_WAIT in
 * between. Writers keep their priority: the writer raises its flag first
 * and then waits for the readers to drain, readers back off the flag. A
 * lock can never give up, so a STALL answer is waited through; a second
 * one is the scheduler's deadlock report.
 */
static void explore_read_lock(struct mmu_rwlock *l)
{
	unsigned slot = host_thread_slot();

	SCHED_POINT_EXPLORING(SCHED_MMU_LOCK, SCHED_W, l, "mmu_lock (read)");
	while (!read_enter(l, slot))
		(void)SCHED_WAIT_EXPLORING(l, "mmu_lock (read)");
}

static void explore_write_lock(struct mmu_rwlock *l)
{
	SCHED_POINT_EXPLORING(SCHED_MMU_LOCK, SCHED_W, l, "mmu_lock (write)");
	while (pthread_mutex_trylock(&l->writer_mutex))
		(void)SCHED_WAIT_EXPLORING(l, "mmu_lock (write)");
	atomic_store_explicit(&l->writer, 1, memory_order_seq_cst);
	while (readers_sum(l) != 0)
		(void)SCHED_WAIT_EXPLORING(l, "mmu_lock (write): readers to leave");
}

void mmu_rwlock_read_lock(struct mmu_rwlock *l)
{
	unsigned slot;

	if (kvm_exploring()) {
		explore_read_lock(l);
		return;
	}
	slot = host_thread_slot();
	while (!read_enter(l, slot)) {
		pthread_mutex_lock(&l->wait_lock);
		atomic_fetch_add_explicit(&l->sleepers, 1, memory_order_seq_cst);
		while (atomic_load_explicit(&l->writer, memory_order_seq_cst))
			pthread_cond_wait(&l->wait_cond, &l->wait_lock);
		atomic_fetch_sub_explicit(&l->sleepers, 1, memory_order_seq_cst);
		pthread_mutex_unlock(&l->wait_lock);
	}
}

bool mmu_rwlock_read_trylock(struct mmu_rwlock *l)
{
	SCHED_POINT(SCHED_MMU_LOCK, SCHED_W, l, "mmu_lock (read, try)");
	return read_enter(l, host_thread_slot());
}

void mmu_rwlock_read_unlock(struct mmu_rwlock *l)
{
	SCHED_POINT(SCHED_MMU_UNLOCK, SCHED_W, l, "mmu_lock (read)");
	atomic_fetch_sub_explicit(&l->readers[host_thread_slot()].n, 1,
				  memory_order_seq_cst);
	if (atomic_load_explicit(&l->writer, memory_order_seq_cst))
		wake_waiters(l);
}

void mmu_rwlock_write_lock(struct mmu_rwlock *l)
{
	if (kvm_exploring()) {
		explore_write_lock(l);
		return;
	}
	pthread_mutex_lock(&l->writer_mutex);
	atomic_store_explicit(&l->writer, 1, memory_order_seq_cst);
	if (readers_sum(l) == 0)
		return;
	pthread_mutex_lock(&l->wait_lock);
	atomic_fetch_add_explicit(&l->sleepers, 1, memory_order_seq_cst);
	while (readers_sum(l) != 0)
		pthread_cond_wait(&l->wait_cond, &l->wait_lock);
	atomic_fetch_sub_explicit(&l->sleepers, 1, memory_order_seq_cst);
	pthread_mutex_unlock(&l->wait_lock);
}

bool mmu_rwlock_write_trylock(struct mmu_rwlock *l)
{
	SCHED_POINT(SCHED_MMU_LOCK, SCHED_W, l, "mmu_lock (write, try)");
	if (pthread_mutex_trylock(&l->writer_mutex))
		return false;
	atomic_store_explicit(&l->writer, 1, memory_order_seq_cst);
	if (readers_sum(l) == 0)
		return true;
	/* Readers inside: give up, and let any reader that backed out off
	 * our flag in. */
	atomic_store_explicit(&l->writer, 0, memory_order_seq_cst);
	wake_waiters(l);
	pthread_mutex_unlock(&l->writer_mutex);
	return false;
}

void mmu_rwlock_write_unlock(struct mmu_rwlock *l)
{
	SCHED_POINT(SCHED_MMU_UNLOCK, SCHED_W, l, "mmu_lock (write)");
	atomic_store_explicit(&l->writer, 0, memory_order_seq_cst);
	wake_waiters(l);
	pthread_mutex_unlock(&l->writer_mutex);
}
