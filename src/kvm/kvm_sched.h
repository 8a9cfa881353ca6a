/* SPDX-License-Identifier: MIT */
/*
 * KVM's side of the schedule-point seam (explore/sched.h): the SPTE points
 * and notes both MMUs use, so that every site names its tree the same way
 * ("mirror SPTE", "shared EPT SPTE", "legacy private SPTE", "legacy shared
 * SPTE") and a violation's explanation says which tree a step touched.
 *
 * Each macro expands at its caller, so the explanation prints the caller's
 * file:line; outside exploration a point is sched_enabled()'s one relaxed
 * load and a branch not taken, and a note is sched_tracing()'s.
 */
#ifndef TDXMMU_KVM_KVM_SCHED_H
#define TDXMMU_KVM_KVM_SCHED_H

#include <stdbool.h>
#include <stdint.h>

#include "explore/mutant.h"
#include "explore/sched.h"

/*
 * False for an SPTE read by a thread that holds the write side of this
 * VM's mmu_lock: not a schedule point. Every writer of KVM's SPTEs holds
 * mmu_lock (faults the read side, zaps and MapGPA the write side), so no
 * other thread can change the value meanwhile, and the reads that may run
 * concurrently (the CPU's hardware walks, lockless walkers) do not change
 * it either: the read commutes with everything that can happen beside it,
 * and a preemption just before it is the same as one at the thread's next
 * point (docs/exploration.md, "What is pruned"). A memslot deletion reads
 * each of a table's 512 entries three times under the write side: with
 * these as points its race could not be explored to two preemptions.
 * Dynamic, so the lock mutants (mapgpa-read-lock, legacy-read-lock), which
 * take the read side, keep every read a point.
 */
bool kvm_sched_spte_read_is_point(void);

/*
 * A point before an access to an SPTE of one of KVM's trees. @sites holds
 * the caller's two sites, [0] for the shared tree and [1] for the private
 * one (a site's `what` must be a constant, and it names the tree). A read
 * is a point only where kvm_sched_spte_read_is_point() says so. A function
 * for the same reasons as sched_point_here().
 */
static inline void kvm_spte_point(const struct sched_site sites[2], bool is_private,
				  const void *sptep)
{
	const struct sched_site *site = &sites[is_private];

	if (site->access == SCHED_R && !kvm_sched_spte_read_is_point())
		return;
	sched_point_here(site, sptep);
}

#define KVM_SPTE_POINT_(op_, access_, is_private_, sptep_, shared_, private_)  \
	do {                                                                   \
		if (sched_enabled()) {                                         \
			static const struct sched_site kvm_spte_sites_[2] = {  \
				{ (op_), (access_), __FILE__, __LINE__,        \
				  __func__, (shared_) },                       \
				{ (op_), (access_), __FILE__, __LINE__,        \
				  __func__, (private_) } };                    \
			kvm_spte_point(kvm_spte_sites_, (is_private_),         \
				       (sptep_));                              \
		}                                                              \
	} while (0)

/* A point before an access to the TDP MMU's SPTE *sptep_. */
#define KVM_SPTE_POINT(op_, access_, is_private_, sptep_)                      \
	KVM_SPTE_POINT_(op_, access_, is_private_, sptep_, "shared EPT SPTE",  \
			"mirror SPTE")

/* The same for the legacy MMU's trees. */
#define KVM_LEGACY_SPTE_POINT(op_, access_, is_private_, sptep_)               \
	KVM_SPTE_POINT_(op_, access_, is_private_, sptep_, "legacy shared SPTE", \
			"legacy private SPTE")

/*
 * After an SPTE changed: "mirror SPTE gpa 0x1000 L1: NONPRESENT -> FROZEN"
 * in the explanation of a violation. tree: "mirror", "shared EPT", "legacy
 * private", "legacy shared". gfn as the tree indexes it (the shared tree's
 * carries the shared bit).
 */
void kvm_sched_note_spte(const char *tree, uint64_t gfn, int level,
			 uint64_t old_spte, uint64_t new_spte);

#define KVM_SPTE_NOTE(tree_, gfn_, level_, old_, new_)                         \
	do {                                                                   \
		if (sched_tracing())                                           \
			kvm_sched_note_spte((tree_), (gfn_), (level_), (old_), \
					    (new_));                           \
	} while (0)

#define KVM_TDP_TREE(is_private_) ((is_private_) ? "mirror" : "shared EPT")
#define KVM_LEGACY_TREE(is_private_) ((is_private_) ? "legacy private" : "legacy shared")

/*
 * A model thread of an exploration must not block on what another model
 * thread releases (explore/sched.h): true when this thread's waits go
 * through SCHED_WAIT. The global test first, so that outside exploration
 * this is one relaxed load and no call.
 */
static inline bool kvm_exploring(void)
{
	return sched_enabled() && sched_self_active();
}

/*
 * Whether a read point decides anything: only inside an explored block.
 * Outside one (and outside exploration) a read point is a no-op
 * (explore/sched.h: outside blocks only writes are counted), so a walk may
 * pass over empty entries without their points and change no schedule.
 */
static inline bool kvm_read_points_decide(void)
{
	return sched_enabled() &&
	       atomic_load_explicit(&sched_block_on, memory_order_relaxed);
}

#endif /* TDXMMU_KVM_KVM_SCHED_H */
