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
 */
#include <stdatomic.h>

#include "cpu/cpu_internal.h"
#include "host/host_rcu.h"
#include "kvm/mmu_page.h"
#include "kvm/spte.h"
#include "kvm/tdp_iter.h"

static bool ept_entry_present(uint64_t spte)
{
	return (spte & VMX_EPT_RWX_MASK) && !is_removed_spte(spte);
}

static bool walk_shared_ept(struct kvm *kvm, uint64_t gpa, bool write, pfn_t *pfn,
			    bool *writable)
{
	struct kvm_mmu_page *root = kvm->shared_root;
	/* The shared tree is indexed by the raw gfn, shared bit included
	 * (kvm-tdx-mmu.md §2.3). */
	gfn_t gfn = gpa >> PAGE_SHIFT;
	_Atomic uint64_t *table;
	int level;

	if (!root)
		return false;
	level = (int)root->role.level;
	if (gfn >= tdp_root_gfn_end(level))
		return false;
	table = root->spt;
	for (;; level--) {
		uint64_t spte = atomic_load_explicit(&table[SPTE_INDEX(gfn, level)],
						     memory_order_acquire);

		if (!ept_entry_present(spte))
			return false;
		if (is_last_spte(spte, level)) {
			if (!(spte & PT64_EPT_READABLE_MASK) ||
			    (write && !(spte & PT_WRITABLE_MASK)))
				return false;
			/* A large leaf maps a run of frames; pick ours. */
			*pfn = spte_to_pfn(spte) +
			       (gfn & (KVM_PAGES_PER_HPAGE(level) - 1));
			*writable = spte & PT_WRITABLE_MASK;
			return true;
		}
		table = spte_to_child_pt(spte, level);
		if (!table)
			return false;
	}
}

bool cpu_walk_shared_ept(struct kvm *kvm, uint64_t gpa, bool write, pfn_t *pfn,
			 bool *writable)
{
	bool ok;

	host_rcu_read_lock();
	ok = walk_shared_ept(kvm, gpa, write, pfn, writable);
	host_rcu_read_unlock();
	return ok;
}
