/* SPDX-License-Identifier: MIT */
/*
 * KVM's page-table pages (struct kvm_mmu_page, reference kvm-tdx-mmu.md §3)
 * and the allocator that owns them.
 *
 * A page is a header plus a 4K table of 512 atomic SPTEs. A private page
 * (role.is_private) belongs to the private mirror EPT and is paired with a
 * Secure-EPT page, its "twin" (private_spt, E6 name; E4 private_sp): a host
 * frame KVM handed to TDH.MEM.SEPT.ADD and never reads (seed 004). The
 * private root has no twin of KVM's: the module's S-EPT root lives in a TDCS
 * page, so its private_spt is 0 and is_private_sp() reads the role bit (E5+
 * role.is_private; E4 used a sentinel pointer for the same purpose).
 *
 * Allocation: headers and tables come from an arena owned by kvm->mmu_pages,
 * grown in chunks of MMU_PAGES_PER_CHUNK pages and recycled through a free
 * list under a mutex. A table is allocated only when a table is created (a
 * fault that links a missing level, MapGPA's pre-population), never per leaf,
 * so the mutex is off the leaf-fault path. Chunks are aligned to their table
 * area so that a table (or an SPTE pointer into it) finds its header with
 * arithmetic, as KVM finds it through the struct page (sptep_to_sp()).
 */
#ifndef TDXMMU_KVM_MMU_PAGE_H
#define TDXMMU_KVM_MMU_PAGE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "kvm/kvm.h"

#define SPTE_ENT_PER_PAGE 512
#define MMU_PAGES_PER_CHUNK 64

struct kvm_mmu_page_role {
	unsigned level : 4;      /* KVM level of the entries in spt */
	unsigned is_private : 1; /* in the private mirror EPT */
};

struct kvm_mmu_page {
	/* 512 entries; 4K aligned, stays at one address while the page lives. */
	_Atomic uint64_t *spt;
	/* First gfn mapped by spt[0]. In the shared tree it includes the
	 * shared bit (reference §2.3: tdp_iter gfns "include shared bits"). */
	gfn_t gfn;
	struct kvm_mmu_page_role role;
	/* HPA of the Secure-EPT twin (private, non-root pages only), else 0.
	 * Set to 0 when the twin is leaked on purpose (§3.2). */
	hpa_t private_spt;
	/* The page holding the entry that points here; NULL for a root. */
	struct kvm_mmu_page *parent;
	/* Live list (every allocated page) / free list of the arena. */
	struct kvm_mmu_page *prev, *next;
	bool live;
};

static inline bool is_private_sp(const struct kvm_mmu_page *sp)
{
	return sp->role.is_private;
}

/* Records the Secure-EPT twin of a private non-root page (E6
 * kvm_mmu_init_private_spt; E4 kvm_mmu_init_private_sp). */
static inline void kvm_mmu_init_private_spt(struct kvm_mmu_page *sp, hpa_t hpa)
{
	sp->private_spt = hpa;
}

/* The "physical address" a non-leaf SPTE stores for this page's table: in
 * this model the table's address in the process (tdp_iter.h). */
static inline uint64_t kvm_mmu_page_pa(const struct kvm_mmu_page *sp)
{
	return (uint64_t)(uintptr_t)sp->spt;
}

/* Creates / destroys the arena in kvm->mmu_pages. init: 0 or -ENOMEM.
 * destroy frees every chunk, live pages included (their Secure-EPT twins,
 * if any, stay leaked: only the tdp_mmu teardown may return those). */
int kvm_mmu_pages_init(struct kvm *kvm);
void kvm_mmu_pages_destroy(struct kvm *kvm);

/*
 * A page with every entry SHADOW_NONPRESENT_VALUE, role set, gfn/private_spt/
 * parent cleared (the caller fills them in before publishing the page).
 * Counts it in kvm->stats.pages_{private,shared}_spt. NULL on -ENOMEM.
 * Takes the arena mutex: call only where a table is being created.
 */
struct kvm_mmu_page *kvm_mmu_alloc_page(struct kvm *kvm, int level,
					bool is_private);
/*
 * Returns the page to the arena at once. Only for pages no walker can reach
 * (never linked, or unlinked and past any grace period): pages that were
 * reachable from a root go through tdp_mmu_free_sp_deferred() (tdp_mmu.c).
 * Does not touch private_spt: the caller disposed of the twin.
 */
void kvm_mmu_free_page(struct kvm *kvm, struct kvm_mmu_page *sp);

/* The page whose table contains sptep (or starts at it). */
struct kvm_mmu_page *sptep_to_sp(const _Atomic uint64_t *sptep);

/* Pages currently allocated (roots included): the leak check. */
uint64_t kvm_mmu_pages_live(const struct kvm *kvm);

#endif /* TDXMMU_KVM_MMU_PAGE_H */
