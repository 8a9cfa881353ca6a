/* SPDX-License-Identifier: MIT */
/*
 * The per-vCPU TLB (see tlb.h): a small set-associative array, no allocation.
 */
#include <string.h>

#include "cpu/tlb.h"


void tlb_init(struct tlb *tlb)
{
	memset(tlb, 0, sizeof(*tlb));
}


void tlb_fill(struct tlb *tlb, uint64_t page_gpa, pfn_t pfn, bool is_private,
	      bool writable)
{
	unsigned s;
	struct tlb_entry *e;

	page_gpa &= PAGE_MASK;
	e = tlb_find_inl(tlb, page_gpa);
	if (!e) {
		s = tlb_set_of_inl(page_gpa);
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
	struct tlb_entry *e = tlb_find_inl(tlb, page_gpa & PAGE_MASK);

	if (e)
		e->valid = false;
}

/* ---- paging-structure caches ---- */

static uint64_t psc_tag(uint64_t page_gpa, int level)
{
	/* An entry at `level` covers 4K << 9 * (level - 1) bytes. */
	return page_gpa >> (PAGE_SHIFT + 9 * (level - 1));
}

int tlb_psc_lookup(struct tlb *tlb, uint64_t page_gpa, bool is_private,
		   uint64_t eptp, int top_level, uint64_t *table)
{
	const struct psc_entry *last = &tlb->psc[0][tlb->psc_last % PSC_WAYS];

	/* The scan below tries level 2 first, where at most one entry
	 * matches (a fill reuses the matching entry): if the last one found
	 * matches, it is the one the scan would return. */
	if (top_level >= 2 && last->tag == psc_tag(page_gpa, 2) && last->valid &&
	    last->eptp == eptp && last->is_private == is_private) {
		*table = last->table;
		tlb->psc_hits++;
		return 1;
	}
	for (int level = 2; level <= top_level && level <= PSC_LEVELS + 1; level++) {
		const struct psc_entry *way = tlb->psc[level - 2];
		uint64_t tag = psc_tag(page_gpa, level);

		for (unsigned w = 0; w < PSC_WAYS; w++) {
			if (way[w].tag == tag && way[w].valid && way[w].eptp == eptp &&
			    way[w].is_private == is_private) {
				*table = way[w].table;
				tlb->psc_hits++;
				if (level == 2)
					tlb->psc_last = (unsigned char)w;
				return level - 1;
			}
		}
	}
	return 0;
}

void tlb_psc_fill(struct tlb *tlb, uint64_t page_gpa, bool is_private,
		  uint64_t eptp, int level, uint64_t table)
{
	struct psc_entry *way, *e = NULL;
	uint64_t tag = psc_tag(page_gpa, level);
	unsigned char *victim;

	if (level < 2 || level > PSC_LEVELS + 1)
		return;
	way = tlb->psc[level - 2];
	victim = &tlb->psc_victim[level - 2];
	for (unsigned w = 0; w < PSC_WAYS && !e; w++)
		if (way[w].valid && way[w].tag == tag && way[w].eptp == eptp &&
		    way[w].is_private == is_private)
			e = &way[w];
	for (unsigned w = 0; w < PSC_WAYS && !e; w++)
		if (!way[w].valid)
			e = &way[w];
	if (!e) {
		e = &way[*victim];
		*victim = (unsigned char)((*victim + 1) % PSC_WAYS);
	}
	*e = (struct psc_entry){ .tag = tag, .eptp = eptp, .table = table,
				 .valid = true, .is_private = is_private };
}

unsigned tlb_psc_nr_valid(const struct tlb *tlb)
{
	unsigned n = 0;

	for (unsigned l = 0; l < PSC_LEVELS; l++)
		for (unsigned w = 0; w < PSC_WAYS; w++)
			n += tlb->psc[l][w].valid;
	return n;
}

/* Drops the entries whose privateness is `which` (both if all), cached
 * non-leaf entries included: INVEPT drops both (tlb.h). */
static void tlb_flush_some(struct tlb *tlb, bool all, bool is_private)
{
	for (unsigned s = 0; s < TLB_SETS; s++)
		for (unsigned w = 0; w < TLB_WAYS; w++)
			if (all || tlb->set[s][w].is_private == is_private)
				tlb->set[s][w].valid = false;
	for (unsigned l = 0; l < PSC_LEVELS; l++)
		for (unsigned w = 0; w < PSC_WAYS; w++)
			if (all || tlb->psc[l][w].is_private == is_private)
				tlb->psc[l][w].valid = false;
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
