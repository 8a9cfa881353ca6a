/* SPDX-License-Identifier: MIT */
/*
 * The Physical Address Metadata Table (tdx-module-sept.md §2.2): one entry per
 * page per page size over the TDMR. Backed lazily (MAP_NORESERVE), so only
 * the parts covering frames in use cost memory; an untouched entry reads as
 * zero = PT_NDA, unlocked, no owner.
 */
#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>

#include "tdx/tdx_internal.h"

static _Atomic uint64_t *pamt_map(uint64_t nr)
{
	void *p;

	if (nr == 0)
		nr = 1;
	p = mmap(NULL, nr * sizeof(uint64_t), PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	return p == MAP_FAILED ? NULL : (_Atomic uint64_t *)p;
}

static void pamt_unmap(_Atomic uint64_t *a, uint64_t nr)
{
	if (a)
		munmap((void *)(uintptr_t)a, (nr ? nr : 1) * sizeof(uint64_t));
}

int pamt_init(struct pamt *p, pfn_t base, uint64_t nr)
{
	p->base = base;
	p->nr = nr;
	p->e4k = pamt_map(nr);
	p->e2m = pamt_map((nr + 511) / 512);
	p->e1g = pamt_map((nr + 512 * 512 - 1) / (512 * 512));
	/* Rows of whole cache lines (16 counts each); in 8-byte units for
	 * pamt_map, which rounds to pages. */
	p->r1g_stride = ((nr + 512 * 512 - 1) / (512 * 512) + 15) & ~15ULL;
	p->r1g = (_Atomic uint32_t *)pamt_map(HOST_THREAD_SLOTS * p->r1g_stride / 2);
	p->wb = (_Atomic uint32_t *)pamt_map((nr + 1) / 2);
	if (!p->e4k || !p->e2m || !p->e1g || !p->r1g || !p->wb) {
		pamt_fini(p);
		return -ENOMEM;
	}
	return 0;
}

void pamt_fini(struct pamt *p)
{
	pamt_unmap(p->e4k, p->nr);
	pamt_unmap(p->e2m, (p->nr + 511) / 512);
	pamt_unmap(p->e1g, (p->nr + 512 * 512 - 1) / (512 * 512));
	pamt_unmap((_Atomic uint64_t *)p->r1g, HOST_THREAD_SLOTS * p->r1g_stride / 2);
	pamt_unmap((_Atomic uint64_t *)p->wb, (p->nr + 1) / 2);
	p->wb = NULL;
	p->e4k = p->e2m = p->e1g = NULL;
	p->r1g = NULL;
}

bool pamt_covers(const struct pamt *p, pfn_t pfn)
{
	return pfn >= p->base && pfn - p->base < p->nr;
}

_Atomic uint64_t *pamt_entry(struct pamt *p, pfn_t pfn, unsigned size_level)
{
	uint64_t off = pfn - p->base;

	switch (size_level) {
	case 0:
		return &p->e4k[off];
	case 1:
		return &p->e2m[off >> 9];
	default:
		return &p->e1g[off >> 18];
	}
}

_Atomic uint64_t *pamt_walk(struct pamt *p, pfn_t pfn, unsigned *size_level)
{
	_Atomic uint64_t *e;

	e = pamt_entry(p, pfn, 2);
	if (pamt_pt(atomic_load_explicit(e, memory_order_acquire)) == PT_REG) {
		*size_level = 2;
		return e;
	}
	e = pamt_entry(p, pfn, 1);
	if (pamt_pt(atomic_load_explicit(e, memory_order_acquire)) == PT_REG) {
		*size_level = 1;
		return e;
	}
	*size_level = 0;
	return pamt_entry(p, pfn, 0);
}

void pamt_set(_Atomic uint64_t *e, enum tdx_page_type pt, unsigned owner,
	      uint32_t bepoch)
{
	uint64_t old = atomic_load_explicit(e, memory_order_relaxed), new;

	do {
		new = (old & 0xFFFF) | ((uint64_t)pt << PAMT_PT_SHIFT) |
		      ((uint64_t)owner << PAMT_OWNER_SHIFT) |
		      ((uint64_t)bepoch << PAMT_BEPOCH_SHIFT);
	} while (!atomic_compare_exchange_weak_explicit(e, &old, new,
							memory_order_release,
							memory_order_relaxed));
}

void pamt_set_bepoch(_Atomic uint64_t *e, uint32_t bepoch)
{
	uint64_t old = atomic_load_explicit(e, memory_order_relaxed), new;

	do {
		new = (old & 0xFFFFFFFFULL) | ((uint64_t)bepoch << PAMT_BEPOCH_SHIFT);
	} while (!atomic_compare_exchange_weak_explicit(e, &old, new,
							memory_order_release,
							memory_order_relaxed));
}

bool pamt_2m_range_free(struct pamt *p, pfn_t pfn)
{
	_Atomic uint64_t *e = pamt_entry(p, pfn, 0);

	for (unsigned i = 0; i < 512; i++)
		if (pamt_pt(atomic_load_explicit(&e[i], memory_order_acquire)) != PT_NDA)
			return false;
	return true;
}

/* Resident bytes of the three arrays (mincore of their pages): what the PAMT
 * really costs the model, for the benchmarks' memory figures. */
static uint64_t pamt_resident_of(const _Atomic uint64_t *a, uint64_t nr)
{
	enum { CHUNK = 4096 };
	unsigned char vec[CHUNK];
	size_t bytes = (size_t)(nr ? nr : 1) * sizeof(uint64_t);
	size_t pages = (bytes + PAGE_SIZE - 1) / PAGE_SIZE;
	uint64_t resident = 0;

	for (size_t done = 0; done < pages; done += CHUNK) {
		size_t n = pages - done < CHUNK ? pages - done : CHUNK;

		if (mincore((void *)((uintptr_t)a + done * PAGE_SIZE),
			    n * PAGE_SIZE, vec))
			continue;
		for (size_t k = 0; k < n; k++)
			resident += vec[k] & 1;
	}
	return resident * PAGE_SIZE;
}

uint64_t pamt_resident_bytes(const struct pamt *p)
{
	return pamt_resident_of(p->e4k, p->nr) +
	       pamt_resident_of(p->e2m, (p->nr + 511) / 512) +
	       pamt_resident_of(p->e1g, (p->nr + 512 * 512 - 1) / (512 * 512)) +
	       pamt_resident_of((_Atomic uint64_t *)p->r1g,
				HOST_THREAD_SLOTS * p->r1g_stride / 2);
}
