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

struct tlb {
	struct tlb_entry set[TLB_SETS][TLB_WAYS];
	unsigned char victim[TLB_SETS]; /* next way to replace */
	uint64_t hits, misses, flushes;
};

void tlb_init(struct tlb *tlb);

/* The entry for the page at page_gpa (shared bit included), or NULL. Counts a
 * hit or a miss. */
const struct tlb_entry *tlb_lookup(struct tlb *tlb, uint64_t page_gpa);

/* Caches a translation, replacing the page's old entry if there is one. */
void tlb_fill(struct tlb *tlb, uint64_t page_gpa, pfn_t pfn, bool is_private,
	      bool writable);

/* Drops one page's entry (a permission miss refills it from the walk). */
void tlb_invalidate(struct tlb *tlb, uint64_t page_gpa);

void tlb_flush_all(struct tlb *tlb);
void tlb_flush_shared(struct tlb *tlb);
void tlb_flush_private(struct tlb *tlb);

/* Number of valid entries (tests). */
unsigned tlb_nr_valid(const struct tlb *tlb);

void tlb_foreach(const struct tlb *tlb,
		 void (*fn)(const struct tlb_entry *e, void *arg), void *arg);

#endif /* TDXMMU_CPU_TLB_H */
