/* SPDX-License-Identifier: MIT */
/*
 * kvm->mmu_lock: a reader/writer lock whose readers are counted per thread
 * slot (host/thread_slot.h), each slot on its own cache line.
 *
 * Why not pthread_rwlock_t, or one word as KVM's qrwlock: every fault takes
 * the read side, and on one word two vCPU threads faulting disjoint memory
 * trade that line twice per fault. On hardware that is ~50 ns against a
 * ~8 us TDX fault; in the model a fault is ~0.5 us and the transfer costs
 * 100-150 ns on the 2-core VMs it runs on, enough to make two vCPUs slower
 * than one (docs/performance.md). The semantics KVM relies on are kept:
 * readers share, a writer excludes everyone, a thread never holds it twice
 * (the kernel's rwlock_t does not nest readers under a waiting writer
 * either). Writers have priority: a reader that arrives while a writer holds
 * or waits backs out and sleeps until the writer is done, so zaps and
 * memslot changes are not starved by a stream of faults (qrwlock queues
 * fairly; priority is the simpler guarantee of the same property).
 *
 * The protocol (Dekker, every step seq_cst): a reader increments its slot,
 * then reads `writer`; a writer sets `writer`, then sums the slots. At least
 * one of a racing pair sees the other. Sleeping is on one mutex + condvar,
 * touched only when a reader and a writer actually meet, so the read side in
 * the common case is one atomic on the reader's own line and one load of a
 * line nobody writes, and an uncontended writer (the legacy MMU takes the
 * write side for every fault) pays one mutex, one store and the scan.
 */
#ifndef TDXMMU_KVM_MMU_RWLOCK_H
#define TDXMMU_KVM_MMU_RWLOCK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "host/thread_slot.h"

struct mmu_rwlock {
	/* 1 while a writer holds the lock or is waiting for readers to
	 * leave. Written only by writers: readers find it in their cache. */
	_Atomic uint32_t writer __attribute__((aligned(HOST_CACHELINE)));
	/* Threads asleep on wait_cond or about to be (changed under
	 * wait_lock): lets the uncontended unlock skip the wakeup. */
	_Atomic uint32_t sleepers;
	pthread_mutex_t writer_mutex; /* one writer at a time */
	pthread_mutex_t wait_lock;    /* sleepers on either side */
	pthread_cond_t wait_cond;
	struct {
		_Atomic uint64_t n;
	} __attribute__((aligned(HOST_CACHELINE))) readers[HOST_THREAD_SLOTS];
};

int mmu_rwlock_init(struct mmu_rwlock *l);
void mmu_rwlock_destroy(struct mmu_rwlock *l);

void mmu_rwlock_read_lock(struct mmu_rwlock *l);
void mmu_rwlock_read_unlock(struct mmu_rwlock *l);
bool mmu_rwlock_read_trylock(struct mmu_rwlock *l);
void mmu_rwlock_write_lock(struct mmu_rwlock *l);
void mmu_rwlock_write_unlock(struct mmu_rwlock *l);
bool mmu_rwlock_write_trylock(struct mmu_rwlock *l);

#endif /* TDXMMU_KVM_MMU_RWLOCK_H */
