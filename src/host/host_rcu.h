/* SPDX-License-Identifier: MIT */
/*
 * RCU for the model's lock-free readers, as the kernel gives KVM: liburcu's
 * memb flavour (readers pay a TLS store and a compiler barrier; the grace
 * period uses sys_membarrier, or full barriers where the kernel lacks it).
 *
 * Who reads under RCU (docs/locking.md, "RCU rules"):
 *  - KVM's walks of its page tables (the TDP MMU's fault path under the read
 *    side of mmu_lock, its zaps under the write side, and its lockless walks,
 *    kvm_tdp_mmu_walk_lockless_begin/end as upstream names them);
 *  - the CPU's hardware walk of the shared EPT (src/cpu/ept_walk.c), which
 *    takes no KVM lock at all.
 * What is freed through it: KVM page-table pages once unlinked
 * (kvm_mmu_free_page_rcu(), as KVM's tdp_mmu_free_sp_rcu_callback), and
 * replaced memslot arrays (memslot.c). The callbacks run on a reclaimer
 * thread of the model's own, not liburcu's call_rcu thread (host_rcu.c says
 * why: liburcu's waits 10 ms per batch, which every TD destroy paid).
 *
 * Threads register themselves on their first read-side section and
 * unregister when they exit (a pthread key destructor), so vCPU threads,
 * host threads and a library user's own threads need no set-up. A thread
 * must not wait for a callback (kvm_mmu_pages_quiesce()) inside a read-side
 * section, nor hold a read-side section across a wait for a thread that
 * waits for one: the grace period would never end.
 *
 * ThreadSanitizer: liburcu is not instrumented, so TSan cannot see that a
 * callback runs after every reader that could reach the object has left its
 * section. The wrapper tells it, precisely that and nothing more: each
 * read-side unlock releases a sync object that every callback acquires
 * before it runs, and call_rcu releases the head that its callback acquires
 * (host_rcu.c). No TSan suppression is needed for the frees themselves.
 */
#ifndef TDXMMU_HOST_RCU_H
#define TDXMMU_HOST_RCU_H

#include <urcu/urcu-memb.h>

struct host_rcu_head {
	struct host_rcu_head *next; /* the reclaimer's queue (host_rcu.c) */
	void (*func)(struct host_rcu_head *h);
};

/* Read-side critical section; nests. Registers the thread on first use. */
void host_rcu_read_lock(void);
void host_rcu_read_unlock(void);

/* Runs func(h) on the model's reclaimer thread (host_rcu.c) after a grace
 * period: once every read-side section that began before this call has
 * ended. Never waits for a grace period; may be called inside a read-side
 * section. */
void host_call_rcu(struct host_rcu_head *h, void (*func)(struct host_rcu_head *h));

#endif /* TDXMMU_HOST_RCU_H */
