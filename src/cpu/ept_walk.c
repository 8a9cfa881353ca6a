/* SPDX-License-Identifier: MIT */
/*
 * The CPU's page walker for the shared EPT (the table whose root KVM writes
 * into SHARED_EPT_POINTER, kvm-tdx-mmu.md §2.4): it reads KVM's table memory
 * as hardware does, without any of KVM's locks, and never calls into KVM.
 * The Secure EPT is walked by the TDX module's tdx_hw_walk() instead
 * (guest.c); KVM's private mirror EPT is never walked by the CPU.
 *
 * Hardware rules followed (Intel SDM "EPT translation mechanism"):
 *  - an entry is present iff any of R/W/X is set; a not-present entry, at
 *    any level, is an EPT violation. KVM's non-present values
 *    (SHADOW_NONPRESENT_VALUE, the frozen REMOVED_SPTE, both possibly with
 *    SPTE_SHARED_MASK) have R/W/X clear, so the software bits KVM keeps in
 *    them never reach the walker; REMOVED_SPTE is also tested by name, so
 *    that a layout change cannot make a frozen entry walkable;
 *  - bit 7 (PS) in a level above 4K ends the walk at a large page;
 *  - a read needs R in the leaf, a write needs W (the model's guest only
 *    reads and writes data; X is never asked for).
 * The accessed/dirty flags are not set (EPT A/D is not modeled): the walker
 * only loads.
 *
 * Memory ordering: each entry is loaded with acquire, pairing with the
 * release (cmpxchg or store) that linked a table, so the walker sees a new
 * table's initialised entries (tdp_iter.h).
 *
 * Lifetime of the tables walked: KVM may unlink a table at any time (memslot
 * deletion frees the shared tables it left empty) and frees it only after an
 * RCU grace period; the walk is a read-side section, so every table it
 * reaches stays a table until it ends. Independently, the unlink is followed
 * by a remote TLB flush whose kick waits until every vCPU that was in guest
 * mode has left it (cpu.c, cpu_kick_all()), which ends any walk in flight:
 * the hardware rule "no paging-structure memory is reused before the TLB
 * shootdown" (kvm-tdx-mmu.md §4.2 item 4). The model keeps both, so that
 * neither hides a bug in the other.
 *
 * The paging-structure caches (tlb.h) break that second guarantee on
 * purpose, as on hardware: a cached PDE outlives the walk that read it and
 * stays until INVEPT, so the flush is what keeps the walker out of a freed
 * table. A walk that reads FREED_TABLE_POISON_SPTE (mmu_page.c poisons a
 * table when it goes back to the arena) walked into a freed table: KVM
 * freed a table the CPU could still reach (a missing flush, or a free
 * inside a grace period). guest.c reports that as tdp_mmu.c reports its
 * own lockless walk reading poison: kvm->model_broken (TDXMMU_EBUG, exit
 * status 3) and the VM dead, never read silently as "not present".
 */
#include <stdatomic.h>
#include <stdint.h>

#include "cpu/cpu_internal.h"
#include "explore/sched.h"
#include "host/host_rcu.h"
#include "kvm/mmu_page.h"
#include "kvm/spte.h"
#include "kvm/tdp_iter.h"

static bool ept_entry_present(uint64_t spte)
{
	return (spte & VMX_EPT_RWX_MASK) && !is_removed_spte(spte);
}

static enum cpu_walk_result walk_shared_ept(struct cpu_vcpu *v, uint64_t gpa,
					    bool write, pfn_t *pfn, bool *writable)
{
	struct kvm *kvm = v->cpu->kvm;
	struct kvm_mmu_page *root = kvm->shared_root;
	struct tlb *tlb = &v->tlb;
	/* The shared tree is indexed by the raw gfn, shared bit included
	 * (kvm-tdx-mmu.md §2.3). */
	gfn_t gfn = gpa >> PAGE_SHIFT;
	_Atomic uint64_t *table;
	uint64_t eptp, cached;
	int level, top;

	if (!root)
		return CPU_WALK_VIOLATION;
	top = (int)root->role.level;
	if (gfn >= tdp_root_gfn_end(top))
		return CPU_WALK_VIOLATION;
	eptp = (uint64_t)(uintptr_t)root->spt;
	table = root->spt;
	level = top;
	/* Start below the deepest cached non-leaf entry, if any. */
	if ((level = tlb_psc_lookup(tlb, gpa & PAGE_MASK, false, eptp, top, &cached)))
		table = (_Atomic uint64_t *)(uintptr_t)cached;
	else
		level = top;
	for (;; level--) {
		_Atomic uint64_t *sptep = &table[SPTE_INDEX(gfn, level)];
		uint64_t spte;

		SCHED_POINT(SCHED_SPTE_READ, SCHED_R, sptep, "shared EPT SPTE (CPU walk)");
		spte = atomic_load_explicit(sptep, memory_order_acquire);
		tlb->walk_reads++;
		/* guest.c reports it (guest_walked_freed_table). */
		if (spte == FREED_TABLE_POISON_SPTE)
			return CPU_WALK_FREED_TABLE;
		if (!ept_entry_present(spte))
			return CPU_WALK_VIOLATION;
		if (is_last_spte(spte, level)) {
			if (!(spte & PT64_EPT_READABLE_MASK) ||
			    (write && !(spte & PT_WRITABLE_MASK)))
				return CPU_WALK_VIOLATION;
			/* A large leaf maps a run of frames; pick ours. */
			*pfn = spte_to_pfn(spte) +
			       (gfn & (KVM_PAGES_PER_HPAGE(level) - 1));
			*writable = spte & PT_WRITABLE_MASK;
			return CPU_WALK_OK;
		}
		table = spte_to_child_pt(spte, level);
		if (!table)
			return CPU_WALK_VIOLATION;
		/* A present non-leaf entry: hardware may cache it. */
		tlb_psc_fill(tlb, gpa & PAGE_MASK, false, eptp, level,
			     (uint64_t)(uintptr_t)table);
	}
}

enum cpu_walk_result cpu_walk_shared_ept(struct cpu_vcpu *v, uint64_t gpa, bool write,
					 pfn_t *pfn, bool *writable)
{
	enum cpu_walk_result r;

	host_rcu_read_lock();
	r = walk_shared_ept(v, gpa, write, pfn, writable);
	host_rcu_read_unlock();
	return r;
}
