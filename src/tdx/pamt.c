/* SPDX-License-Identifier: MIT */
/*
 * The Physical Address Metadata Table (tdx-module-sept.md §2.2): one entry per
 * page per page size over the TDMR. Backed lazily, so only the parts
 * covering frames in use cost memory; an untouched entry reads as zero =
 * PT_NDA, unlocked, no owner. The 4K entries are a sparse radix whose
 * leaves (4 KiB: the entries of one 2M range) are made on first use and
 * published with a compare-exchange, so lookups never lock; the 2M and 1G
 * entries are flat MAP_NORESERVE arrays.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
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
	p->nr_dir = (nr + (1ULL << 18) - 1) >> 18;
	p->e4k_dir = calloc(p->nr_dir ? p->nr_dir : 1, sizeof(*p->e4k_dir));
	atomic_init(&p->nr_leaves, 0);
	atomic_init(&p->nr_tables, 0);
	p->e2m = pamt_map((nr + 511) / 512);
	p->e1g = pamt_map((nr + 512 * 512 - 1) / (512 * 512));
	/* Rows of whole cache lines (16 counts each); in 8-byte units for
	 * pamt_map, which rounds to pages. */
	p->r1g_stride = ((nr + 512 * 512 - 1) / (512 * 512) + 15) & ~15ULL;
	p->r1g = (_Atomic uint32_t *)pamt_map(HOST_THREAD_SLOTS * p->r1g_stride / 2);
	if (!p->e4k_dir || !p->e2m || !p->e1g || !p->r1g) {
		pamt_fini(p);
		return -ENOMEM;
	}
	return 0;
}

void pamt_fini(struct pamt *p)
{
	for (uint64_t d = 0; p->e4k_dir && d < p->nr_dir; d++) {
		_Atomic(void *) *t = atomic_load(&p->e4k_dir[d]);

		for (unsigned i = 0; t && i < 512; i++)
			free(atomic_load(&t[i]));
		free((void *)(uintptr_t)t);
	}
	free((void *)(uintptr_t)p->e4k_dir);
	p->e4k_dir = NULL;
	pamt_unmap(p->e2m, (p->nr + 511) / 512);
	pamt_unmap(p->e1g, (p->nr + 512 * 512 - 1) / (512 * 512));
	pamt_unmap((_Atomic uint64_t *)p->r1g, HOST_THREAD_SLOTS * p->r1g_stride / 2);
	p->e2m = p->e1g = NULL;
	p->r1g = NULL;
}

bool pamt_covers(const struct pamt *p, pfn_t pfn)
{
	return pfn >= p->base && pfn - p->base < p->nr;
}

/* Publishes a zeroed block of n words in *slot unless another thread did
 * first; the block in the slot either way. Out of memory for the module's
 * own metadata is not modeled: it aborts. */
static void *pamt_install(_Atomic(void *) *slot, size_t bytes, _Atomic uint64_t *count)
{
	void *cur = atomic_load_explicit(slot, memory_order_acquire);
	void *mine;

	if (cur)
		return cur;
	mine = calloc(1, bytes);
	if (!mine) {
		fprintf(stderr, "tdx: out of memory for the PAMT\n");
		abort();
	}
	if (atomic_compare_exchange_strong_explicit(slot, &cur, mine,
						    memory_order_acq_rel,
						    memory_order_acquire)) {
		atomic_fetch_add_explicit(count, 1, memory_order_relaxed);
		return mine;
	}
	free(mine);
	return cur;
}

static struct pamt_leaf *pamt_leaf_of(struct pamt *p, uint64_t off)
{
	_Atomic(void *) *t;

	t = pamt_install(&p->e4k_dir[off >> 18], 512 * sizeof(*t), &p->nr_tables);
	return pamt_install(&t[(off >> 9) & 511], sizeof(struct pamt_leaf),
			    &p->nr_leaves);
}

static _Atomic uint64_t *pamt_4k(struct pamt *p, uint64_t off)
{
	return &pamt_leaf_of(p, off)->e4k[off & 511];
}

_Atomic uint32_t *pamt_wb(struct pamt *p, pfn_t pfn)
{
	uint64_t off = pfn - p->base;

	return &pamt_leaf_of(p, off)->wb[off & 511];
}

uint64_t pamt_wb_foreach(const struct pamt *p,
			 uint64_t (*fn)(pfn_t pfn, uint32_t rec, void *arg),
			 void *arg)
{
	uint64_t sum = 0;

	for (uint64_t d = 0; d < p->nr_dir; d++) {
		_Atomic(void *) *t = atomic_load_explicit(&p->e4k_dir[d],
							   memory_order_acquire);

		for (unsigned i = 0; t && i < 512; i++) {
			struct pamt_leaf *leaf =
				atomic_load_explicit(&t[i], memory_order_acquire);

			for (unsigned j = 0; leaf && j < 512; j++) {
				uint32_t rec = atomic_load_explicit(&leaf->wb[j],
								    memory_order_relaxed);

				if (rec)
					sum += fn(p->base + (d << 18) + (i << 9) + j,
						  rec, arg);
			}
		}
	}
	return sum;
}

bool pamt_4k_present(const struct pamt *p, pfn_t pfn)
{
	uint64_t off = pfn - p->base;
	_Atomic(void *) *t = atomic_load_explicit(&p->e4k_dir[off >> 18],
						   memory_order_acquire);

	return t && atomic_load_explicit(&t[(off >> 9) & 511], memory_order_acquire);
}

_Atomic uint64_t *pamt_entry(struct pamt *p, pfn_t pfn, unsigned size_level)
{
	uint64_t off = pfn - p->base;

	switch (size_level) {
	case 0:
		return pamt_4k(p, off);
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
	SCHED_POINT(SCHED_PAMT_READ, SCHED_R, e, "PAMT entry (1G)");
	if (pamt_pt(atomic_load_explicit(e, memory_order_acquire)) == PT_REG) {
		*size_level = 2;
		return e;
	}
	e = pamt_entry(p, pfn, 1);
	SCHED_POINT(SCHED_PAMT_READ, SCHED_R, e, "PAMT entry (2M)");
	if (pamt_pt(atomic_load_explicit(e, memory_order_acquire)) == PT_REG) {
		*size_level = 1;
		return e;
	}
	*size_level = 0;
	e = pamt_entry(p, pfn, 0);
	/* The caller reads it next. */
	SCHED_POINT(SCHED_PAMT_READ, SCHED_R, e, "PAMT entry (4K)");
	return e;
}

void pamt_set(_Atomic uint64_t *e, enum tdx_page_type pt, unsigned owner,
	      uint32_t bepoch)
{
	uint64_t old, new;

	SCHED_POINT(SCHED_PAMT_WRITE, SCHED_W, e, "PAMT entry");
	old = atomic_load_explicit(e, memory_order_relaxed);
	SCHED_NOTE("PAMT entry %p: type %u owner %u -> type %u owner %u", (void *)(uintptr_t)e,
		   (unsigned)pamt_pt(old), pamt_owner(old), (unsigned)pt, owner);

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
	uint64_t old, new;

	SCHED_POINT(SCHED_PAMT_WRITE, SCHED_W, e, "PAMT entry (bepoch)");
	old = atomic_load_explicit(e, memory_order_relaxed);

	do {
		new = (old & 0xFFFFFFFFULL) | ((uint64_t)bepoch << PAMT_BEPOCH_SHIFT);
	} while (!atomic_compare_exchange_weak_explicit(e, &old, new,
							memory_order_release,
							memory_order_relaxed));
}

bool pamt_2m_range_free(struct pamt *p, pfn_t pfn)
{
	_Atomic uint64_t *e = pamt_entry(p, pfn, 0);

	SCHED_POINT(SCHED_PAMT_READ, SCHED_R, e, "PAMT entries (2M range)");
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
	return (uint64_t)p->nr_dir * sizeof(*p->e4k_dir) +
	       atomic_load(&p->nr_tables) * 512 * sizeof(void *) +
	       atomic_load(&p->nr_leaves) * sizeof(struct pamt_leaf) +
	       pamt_resident_of(p->e2m, (p->nr + 511) / 512) +
	       pamt_resident_of(p->e1g, (p->nr + 512 * 512 - 1) / (512 * 512)) +
	       pamt_resident_of((_Atomic uint64_t *)p->r1g,
				HOST_THREAD_SLOTS * p->r1g_stride / 2);
}
