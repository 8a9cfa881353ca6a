/* SPDX-License-Identifier: MIT */
/*
 * A small per-thread number, for data that many threads write often and that
 * is read (summed) rarely: counters, and the reader side of the model's
 * distributed reader/writer locks (tdx_locks.h, kvm/mmu_rwlock.h).
 *
 * Why: on the 2-core machines this model runs on, a locked read-modify-write
 * on a cache line the other core wrote last costs 100-150 ns, a fifth of a
 * whole modeled fault. Two vCPU threads faulting disjoint memory must not
 * write the same lines, or the second thread makes both slower (the
 * measurement that motivated this, docs/performance.md).
 *
 * A thread claims a slot of its own on first use, the lowest free one of
 * the first HOST_THREAD_SLOTS - 1, and gives it back when it exits. While
 * all of those are held by live threads, further threads share the last
 * slot, HOST_THREAD_SLOT_SHARED, which is correct (every per-slot datum is
 * atomic) and only slower. A datum taken on one slot may be released on
 * another (a vCPU's state moved between threads): users that need the same
 * slot record it (see tdx_vcpu).
 *
 * Counters (host_slot_counter_add*() below) are the one use that counts on
 * a slot's being the thread's own: only its owner writes a counter of an
 * owned slot, so an increment is a load and a store, not a locked
 * read-modify-write (a dozen of those per modeled fault, each as dear as a
 * lock's; docs/performance.md). Lock counts stay read-modify-writes: a
 * hold can be released from another thread's slot.
 */
#ifndef TDXMMU_HOST_THREAD_SLOT_H
#define TDXMMU_HOST_THREAD_SLOT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define HOST_THREAD_SLOTS 16u
#define HOST_CACHELINE 64

#define HOST_THREAD_SLOT_SHARED (HOST_THREAD_SLOTS - 1)

extern _Thread_local unsigned host_thread_slot_plus1;
/*
 * One more than the highest slot any thread has been given (issue 15,
 * round 3): it only grows, and a thread raises it (seq_cst) before it has
 * its slot, so before it writes any per-slot datum. Every datum of a slot
 * at or above it is still as made (0), and a sum needs only the slots
 * below: host_thread_slots_used(). For the locks' Dekker pairs (a shared
 * holder publishes on its slot, then reads the lock word; the exclusive
 * side claims the word, then sums the slots) the bound is read seq_cst
 * after the claim: a holder the claim must see published its hold after
 * raising the bound, so the bound read covers its slot.
 */
extern _Atomic unsigned host_thread_slots_hwm;
static inline unsigned host_thread_slots_used(void)
{
	return atomic_load_explicit(&host_thread_slots_hwm, memory_order_seq_cst);
}
/* The thread's slot is its own (not HOST_THREAD_SLOT_SHARED). */
extern _Thread_local _Bool host_thread_slot_owned;
unsigned host_thread_slot_assign(void);

static inline unsigned host_thread_slot(void)
{
	unsigned s = host_thread_slot_plus1;

	return s ? s - 1 : host_thread_slot_assign();
}

/* A 64-bit counter kept per slot, summed: slot i's copy is at
 * (const char *)slot0 + i * stride. Relaxed loads: a snapshot, for counters
 * (KVM's stats, the module's call counts), not for lock state. */
static inline uint64_t host_thread_slots_sum(const void *slot0, size_t stride)
{
	uint64_t sum = 0;

	/* Modular: a count taken on one slot and dropped on another leaves
	 * one slot "negative", and only the sum is meaningful. */
	for (unsigned i = 0, n = host_thread_slots_used(); i < n; i++)
		sum += atomic_load_explicit((const _Atomic uint64_t *)
					    ((const char *)slot0 + i * stride),
					    memory_order_relaxed);
	return sum;
}

/* The sum of counters that only grow through host_counter_add_sat(): it
 * saturates too. */
static inline uint64_t host_thread_slots_sum_sat(const void *slot0, size_t stride)
{
	uint64_t sum = 0;

	for (unsigned i = 0, n = host_thread_slots_used(); i < n; i++) {
		uint64_t v = atomic_load_explicit((const _Atomic uint64_t *)
						  ((const char *)slot0 + i * stride),
						  memory_order_relaxed);

		sum = v > UINT64_MAX - sum ? UINT64_MAX : sum + v;
	}
	return sum;
}

/*
 * Adds v to a counter of this thread's slot (c must be in the slot
 * host_thread_slot() names). A slot of its own has no other writer: a
 * relaxed load and store; the shared slot takes the read-modify-write.
 * Readers sum with relaxed loads (host_thread_slots_sum()) and see each
 * count whole, as before.
 */
static inline void host_slot_counter_add(_Atomic uint64_t *c, uint64_t v)
{
	(void)host_thread_slot();
	if (host_thread_slot_owned)
		atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v,
				      memory_order_relaxed);
	else
		atomic_fetch_add_explicit(c, v, memory_order_relaxed);
}

static inline void host_counter_add_sat(_Atomic uint64_t *c, uint64_t v);

/* host_counter_add_sat() on a counter of this thread's slot, as above. */
static inline void host_slot_counter_add_sat(_Atomic uint64_t *c, uint64_t v)
{
	(void)host_thread_slot();
	if (host_thread_slot_owned) {
		uint64_t old = atomic_load_explicit(c, memory_order_relaxed);

		atomic_store_explicit(c, old > UINT64_MAX - v ? UINT64_MAX : old + v,
				      memory_order_relaxed);
	} else {
		host_counter_add_sat(c, v);
	}
}

/*
 * Adds v to a per-slot counter, stopping at UINT64_MAX instead of wrapping.
 * For accumulated quantities a user can make huge, the modeled time above
 * all: a cost override of UINT64_MAX ns must read as "at least that much",
 * never wrap to a small number or print as -1 (issue 11, item 2.11). The
 * compare-exchange costs what the fetch-add did on a line the slot owns.
 */
static inline void host_counter_add_sat(_Atomic uint64_t *c, uint64_t v)
{
	uint64_t old = atomic_load_explicit(c, memory_order_relaxed);

	while (!atomic_compare_exchange_weak_explicit(
		       c, &old, old > UINT64_MAX - v ? UINT64_MAX : old + v,
		       memory_order_relaxed, memory_order_relaxed))
		;
}

#endif /* TDXMMU_HOST_THREAD_SLOT_H */
