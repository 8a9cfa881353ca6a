/* SPDX-License-Identifier: MIT */
/*
 * The per-vCPU TLB (see tlb.h): a small set-associative array, no allocation.
 */
#include <string.h>

#include "cpu/tlb.h"

static unsigned tlb_set_of(uint64_t page_gpa)
{
	return (unsigned)(page_gpa >> PAGE_SHIFT) & (TLB_SETS - 1);
}

void tlb_init(struct tlb *tlb)
{
	memset(tlb, 0, sizeof(*tlb));
}

static struct tlb_entry *tlb_find(struct tlb *tlb, uint64_t page_gpa)
{
	struct tlb_entry *set = tlb->set[tlb_set_of(page_gpa)];

	for (unsigned w = 0; w < TLB_WAYS; w++)
		if (set[w].valid && set[w].gpa == page_gpa)
			return &set[w];
	return NULL;
}

const struct tlb_entry *tlb_lookup(struct tlb *tlb, uint64_t page_gpa)
{
	const struct tlb_entry *e = tlb_find(tlb, page_gpa & PAGE_MASK);

	if (e)
		tlb->hits++;
	else
		tlb->misses++;
	return e;
}

void tlb_fill(struct tlb *tlb, uint64_t page_gpa, pfn_t pfn, bool is_private,
	      bool writable)
{
	unsigned s;
	struct tlb_entry *e;

	page_gpa &= PAGE_MASK;
	e = tlb_find(tlb, page_gpa);
	if (!e) {
		s = tlb_set_of(page_gpa);
		/* A free way first, else round robin. */
		for (unsigned w = 0; w < TLB_WAYS && !e; w++)
			if (!tlb->set[s][w].valid)
				e = &tlb->set[s][w];
		if (!e) {
			e = &tlb->set[s][tlb->victim[s]];
			tlb->victim[s] = (unsigned char)((tlb->victim[s] + 1) % TLB_WAYS);
		}
	}
	*e = (struct tlb_entry){ .gpa = page_gpa, .pfn = pfn, .valid = true,
				 .is_private = is_private, .writable = writable };
}

void tlb_invalidate(struct tlb *tlb, uint64_t page_gpa)
{
	struct tlb_entry *e = tlb_find(tlb, page_gpa & PAGE_MASK);

	if (e)
		e->valid = false;
}

/* Drops the entries whose privateness is `which` (both if all). */
static void tlb_flush_some(struct tlb *tlb, bool all, bool is_private)
{
	for (unsigned s = 0; s < TLB_SETS; s++)
		for (unsigned w = 0; w < TLB_WAYS; w++)
			if (all || tlb->set[s][w].is_private == is_private)
				tlb->set[s][w].valid = false;
	tlb->flushes++;
}

void tlb_flush_all(struct tlb *tlb)
{
	tlb_flush_some(tlb, true, false);
}

void tlb_flush_shared(struct tlb *tlb)
{
	tlb_flush_some(tlb, false, false);
}

void tlb_flush_private(struct tlb *tlb)
{
	tlb_flush_some(tlb, false, true);
}

unsigned tlb_nr_valid(const struct tlb *tlb)
{
	unsigned n = 0;

	for (unsigned s = 0; s < TLB_SETS; s++)
		for (unsigned w = 0; w < TLB_WAYS; w++)
			n += tlb->set[s][w].valid;
	return n;
}

void tlb_foreach(const struct tlb *tlb,
		 void (*fn)(const struct tlb_entry *e, void *arg), void *arg)
{
	for (unsigned s = 0; s < TLB_SETS; s++)
		for (unsigned w = 0; w < TLB_WAYS; w++)
			if (tlb->set[s][w].valid)
				fn(&tlb->set[s][w], arg);
}
