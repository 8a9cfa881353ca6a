/* SPDX-License-Identifier: MIT */
/*
 * One vCPU's TLB: the translations of GPA pages to host frames that the
 * vCPU's page walker found (shared EPT) or the TDX module's walk of the
 * Secure EPT returned, cached until something flushes them.
 *
 * Hardware tags translations with the VPID/EPTP and does not drop them on a
 * VM exit, so this TLB keeps its entries across TD exits and between guest
 * actions. Only three things remove entries, as on TDX hardware:
 *  - a shared-EPT flush (KVM_REQ_TLB_FLUSH -> INVEPT on the shared EPTP,
 *    kvm-tdx-mmu.md §4.2 item 4): tlb_flush_shared();
 *  - the TDX module's flush of private translations at TDH.VP.ENTER when the
 *    TD epoch moved since the vCPU's last entry (tdx-module-sept.md §6;
 *    VP.ENTER returns R8 = 1): tlb_flush_private();
 *  - replacement when a set is full.
 * So a translation KVM forgot to flush stays usable: that is the point (the
 * invariant checker looks for TLB entries to frames the TD no longer owns).
 *
 * Paging-structure caches (Intel SDM "Paging-structure caches", for EPT):
 * beside the translations, the walks cache non-leaf entries (PDE, PDPTE,
 * PML4E: each names the table the walk goes on with), tagged like the TLB
 * by the EPTP. A walk starts from the deepest cached entry for its GPA and
 * fills the cache as it passes non-leaf entries. The same three things
 * flush them with the translations (single-context INVEPT drops both); so
 * a table KVM unlinks and frees without a flush is still walked into, and
 * the walk reads the freed table (ept_walk.c reports that). PSC_WAYS
 * entries per level, round robin, no allocation.
 *
 * Geometry: TLB_SETS x TLB_WAYS entries, set-associative, indexed by the low
 * bits of the gfn (shared bit included in the tag, so the two aliases of a
 * page are two entries), round-robin replacement per set. Fixed size, no
 * allocation per access.
 *
 * Threading: a TLB belongs to its vCPU and is touched only by the thread
 * running that vCPU (flush requests from other threads go through the vCPU's
 * request word, cpu.c). Observers (cpu_tlb_foreach) read it while the vCPU
 * does not run.
 */
#ifndef TDXMMU_CPU_TLB_H
#define TDXMMU_CPU_TLB_H

#include <stdbool.h>
#include <stdint.h>

#include "host/host_mem.h"

#define TLB_SETS 16
#define TLB_WAYS 4
#define TLB_ENTRIES (TLB_SETS * TLB_WAYS)

struct tlb_entry {
	uint64_t gpa;   /* page GPA, shared bit included (the tag) */
	pfn_t pfn;      /* the 4K frame */
	bool valid;
	bool is_private;
	bool writable;
};

/*
 * Cached non-leaf entries, by the level of the entry: [0] PDEs (KVM level
 * 2: they point at 4K-leaf tables), [1] PDPTEs, [2] PML4Es, [3] PML5Es.
 */
#define PSC_LEVELS 4
#define PSC_WAYS 4

struct psc_entry {
	uint64_t tag;    /* page GPA >> the bits the entry's table resolves */
	uint64_t eptp;   /* the root it was walked from (the EPTP tag) */
	uint64_t table;  /* what the entry points at: the table's address
			    (shared EPT) or frame (Secure EPT) */
	bool valid;
	bool is_private;
};

struct tlb {
	struct tlb_entry set[TLB_SETS][TLB_WAYS];
	unsigned char victim[TLB_SETS]; /* next way to replace */
	uint64_t hits, misses, flushes;
	struct psc_entry psc[PSC_LEVELS][PSC_WAYS];
	unsigned char psc_victim[PSC_LEVELS];
	/* The way of the level-2 entry (the 4K-leaf table's) the last lookup
	 * found, to be tried first: a run of faults in one 2M range finds it
	 * each time. Only a hint: the entry is checked as the scan would. */
	unsigned char psc_last;
	/* Walks (tests and benchmarks): entries read, cached entries used. */
	uint64_t walk_reads, psc_hits;
};

void tlb_init(struct tlb *tlb);

/* The entry for the page at page_gpa (shared bit included), or NULL. Counts a
 * hit or a miss. */
static inline unsigned tlb_set_of_inl(uint64_t page_gpa)
{
	return (unsigned)(page_gpa >> PAGE_SHIFT) & (TLB_SETS - 1);
}

static inline struct tlb_entry *tlb_find_inl(struct tlb *tlb, uint64_t page_gpa)
{
	struct tlb_entry *set = tlb->set[tlb_set_of_inl(page_gpa)];

	/* The tag first: on a miss (every fault) it is the one test per way. */
	for (unsigned w = 0; w < TLB_WAYS; w++)
		if (set[w].gpa == page_gpa && set[w].valid)
			return &set[w];
	return NULL;
}

/* Inline: every page access of the guest loop looks up first. */
static inline const struct tlb_entry *tlb_lookup(struct tlb *tlb, uint64_t page_gpa)
{
	const struct tlb_entry *e = tlb_find_inl(tlb, page_gpa & PAGE_MASK);

	if (e)
		tlb->hits++;
	else
		tlb->misses++;
	return e;
}

/* Caches a translation, replacing the page's old entry if there is one. */
void tlb_fill(struct tlb *tlb, uint64_t page_gpa, pfn_t pfn, bool is_private,
	      bool writable);

/* Drops one page's entry (a permission miss refills it from the walk). */
void tlb_invalidate(struct tlb *tlb, uint64_t page_gpa);

void tlb_flush_all(struct tlb *tlb);
void tlb_flush_shared(struct tlb *tlb);
void tlb_flush_private(struct tlb *tlb);

/*
 * The deepest cached non-leaf entry on page_gpa's path under root `eptp`,
 * looked for from entry level 2 up to top_level (the root table's entries).
 * Returns the level of the table it points to (1 = the 4K-leaf table; KVM
 * levels) with *table, or 0 when nothing is cached.
 */
int tlb_psc_lookup(struct tlb *tlb, uint64_t page_gpa, bool is_private,
		   uint64_t eptp, int top_level, uint64_t *table);
/* Caches the non-leaf entry at `level` (2..PSC_LEVELS + 1) of page_gpa's
 * path, pointing at `table`. */
void tlb_psc_fill(struct tlb *tlb, uint64_t page_gpa, bool is_private,
		  uint64_t eptp, int level, uint64_t table);
/* Valid cached non-leaf entries (tests). */
unsigned tlb_psc_nr_valid(const struct tlb *tlb);

/* Number of valid entries (tests). */
unsigned tlb_nr_valid(const struct tlb *tlb);

void tlb_foreach(const struct tlb *tlb,
		 void (*fn)(const struct tlb_entry *e, void *arg), void *arg);

#endif /* TDXMMU_CPU_TLB_H */
