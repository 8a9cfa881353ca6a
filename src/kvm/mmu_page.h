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
 * Lifetime: a page that was reachable from a root is freed with
 * kvm_mmu_free_page_rcu(): it leaves the statistics at once but goes back to
 * the arena only after an RCU grace period (host_rcu.h), because a walker
 * that read the parent entry before it was cleared may still be reading the
 * table. Back in the arena its entries are FREED_TABLE_POISON_SPTE.
 *
 * Allocation: headers and tables come from an arena owned by kvm->mmu_pages,
 * grown in chunks of MMU_PAGES_PER_CHUNK pages and recycled through a free
 * list under a mutex. A table is allocated only when a table is created (a
 * fault that links a missing level, MapGPA's pre-population), never per leaf,
 * so the mutex is off the leaf-fault path. Chunks are aligned to their table
 * area so that a table (or an SPTE pointer into it) finds its header with
 * arithmetic, as KVM finds it through the struct page (sptep_to_sp()).
 * A destroyed arena's chunks are kept (a few, process-wide) for the next
 * VM's arena: exploration makes a VM per schedule.
 */
#ifndef TDXMMU_KVM_MMU_PAGE_H
#define TDXMMU_KVM_MMU_PAGE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "host/host_rcu.h"
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
	/* Unlinked, waiting for its grace period (kvm_mmu_free_page_rcu). */
	bool rcu_pending;
	struct host_rcu_head rcu_head;
	struct kvm *kvm; /* the VM whose arena it returns to (RCU callback) */
	/* Its place in the VM's arena, from 0 in allocation order of the
	 * chunks: the trace prints it instead of the table's address, which
	 * depends on malloc (trace.h, kvm_trace_spte). */
	uint32_t number;
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
 * Counts it in kvm_stat_read(kvm, pages_){private,shared}_spt. NULL on -ENOMEM.
 * Takes the arena mutex: call only where a table is being created.
 */
struct kvm_mmu_page *kvm_mmu_alloc_page(struct kvm *kvm, int level,
					bool is_private);
/*
 * Returns the page to the arena at once. Only for pages no walker can reach
 * (never linked, or the VM's last reference going with no thread left):
 * pages that were reachable from a root go through kvm_mmu_free_page_rcu().
 * Does not touch private_spt: the caller disposed of the twin.
 */
void kvm_mmu_free_page(struct kvm *kvm, struct kvm_mmu_page *sp);
/*
 * Frees a page that was reachable from a root and has been unlinked: it
 * leaves mmu.pages.{private,shared} now and returns to the arena after an
 * RCU grace period (counted in mmu.pages.rcu_freed when queued). The caller has
 * flushed the TLBs for its range, or does so before leaving its own
 * read-side section (which holds the grace period back, as KVM's zaps flush
 * before rcu_read_unlock). The mutant MUTANT_NO_RCU (explore/mutant.h), or for
 * one VM the TEST ONLY kvm->debug_free_immediately, skips the grace period.
 */
void kvm_mmu_free_page_rcu(struct kvm *kvm, struct kvm_mmu_page *sp);

/* The page whose table contains sptep (or starts at it). */
struct kvm_mmu_page *sptep_to_sp(const _Atomic uint64_t *sptep);

/* Pages currently allocated (roots included, pages waiting for their grace
 * period too): the leak check, after kvm_mmu_pages_quiesce(). */
uint64_t kvm_mmu_pages_live(const struct kvm *kvm);
/* Waits until every page freed with kvm_mmu_free_page_rcu() so far is back
 * in the arena (their callbacks have run). Not inside a
 * read-side section. */
void kvm_mmu_pages_quiesce(struct kvm *kvm);

#endif /* TDXMMU_KVM_MMU_PAGE_H */
