/* SPDX-License-Identifier: MIT */
/*
 * The Physical Address Metadata Table (tdx-module-sept.md §2.2): one entry per
 * page per page size over the TDMR. Backed lazily, so only the parts
 * covering frames in use cost memory; an untouched entry reads as zero =
 * PT_NDA, unlocked, no owner. The 4K entries are a sparse radix: a table
 * per 1G range, made on first use of any entry in the range and listed, and
 * in it the leaves (4 KiB: the entries of one 2M range), made on first use
 * and published with a compare-exchange; lookups never lock. The 2M and 1G
 * entries are flat MAP_NORESERVE arrays. Whatever walks the PAMT as a
 * whole walks the list of tables, so it costs what was used.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "tdx/tdx_internal.h"
#include "host/model_abort.h"


static size_t page_round(size_t bytes)
{
	return (bytes + PAGE_SIZE - 1) & ~(size_t)(PAGE_SIZE - 1);
}

/*
 * The directory and the flat 2M, 1G and r1g arrays are sized by the TDMR
 * (1 MiB, 512 MiB, 1 MiB and 128 MiB for the default 128 TiB), so they are
 * one MAP_NORESERVE mapping: the kernel backs and zeroes only the pages
 * written. A calloc of the directory was a 1 MiB memset per TD once
 * malloc's threshold had moved past it.
 *
 * One mapping is kept for the next PAMT of the same size (the spare):
 * `tdxmmu explore` makes and destroys a TD per schedule, thousands a
 * second, and a fresh mapping costs the mmap, the munmap and a page fault
 * (kernel zeroing included) per page written, ~20 us a run. The spare is
 * parked all zero: pamt_fini() clears what its tables say may be non-zero
 * (struct pamt's `tables`), which is what the run touched.
 */
static pthread_mutex_t spare_lock = PTHREAD_MUTEX_INITIALIZER;
static void *spare_map;
static size_t spare_bytes;

static void *pamt_map(size_t bytes)
{
	void *map = NULL;

	pthread_mutex_lock(&spare_lock);
	if (spare_map && spare_bytes == bytes) {
		map = spare_map;
		spare_map = NULL;
	}
	pthread_mutex_unlock(&spare_lock);
	if (map)
		return map;
	map = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	return map == MAP_FAILED ? NULL : map;
}

/* Parks an all-zero mapping as the spare, or unmaps it. */
static void pamt_unmap(void *map, size_t bytes)
{
	pthread_mutex_lock(&spare_lock);
	if (!spare_map) {
		spare_map = map;
		spare_bytes = bytes;
		map = NULL;
	}
	pthread_mutex_unlock(&spare_lock);
	if (map)
		munmap(map, bytes);
}

/* Zeroes the words of a[0, n) that are not: a page only ever read (the
 * zero page) is not written, so not faulted in. */
static void clear_words(_Atomic uint64_t *a, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (atomic_load_explicit(&a[i], memory_order_relaxed))
			atomic_store_explicit(&a[i], 0, memory_order_relaxed);
}

int pamt_init(struct pamt *p, pfn_t base, uint64_t nr)
{
	uint64_t n2m = (nr + 511) / 512, n1g = (nr + 512 * 512 - 1) / (512 * 512);
	size_t dir_bytes, e2m_bytes, e1g_bytes;
	char *map;

	p->base = base;
	p->nr = nr;
	p->nr_dir = (nr + (1ULL << 18) - 1) >> 18;
	atomic_init(&p->nr_leaves, 0);
	atomic_init(&p->nr_tables, 0);
	atomic_init(&p->tables, NULL);
	dir_bytes = page_round((p->nr_dir ? p->nr_dir : 1) * sizeof(*p->dir));
	e2m_bytes = page_round((n2m ? n2m : 1) * sizeof(uint64_t));
	e1g_bytes = page_round((n1g ? n1g : 1) * sizeof(uint64_t));
	p->map_bytes = dir_bytes + e2m_bytes + e1g_bytes +
		       page_round((n1g ? n1g : 1) * PAMT_R1G_WORDS * sizeof(uint64_t));
	map = pamt_map(p->map_bytes);
	p->map = map;
	if (!map)
		return -ENOMEM;
	p->dir = (_Atomic(struct pamt_table *) *)(void *)map;
	p->e2m = (_Atomic uint64_t *)(void *)(map + dir_bytes);
	p->e1g = (_Atomic uint64_t *)(void *)(map + dir_bytes + e2m_bytes);
	p->r1g = (_Atomic uint64_t *)(void *)(map + dir_bytes + e2m_bytes + e1g_bytes);
	pthread_mutex_init(&p->table_lock, NULL);
	for (unsigned i = 0; i < PAMT_WB_LOCKS; i++)
		pthread_mutex_init(&p->wb_lock[i], NULL);
	return 0;
}

/* Walks the tables made, not the directory: teardown costs what was used,
 * and leaves the mapping all zero for the next PAMT. */
void pamt_fini(struct pamt *p)
{
	uint64_t n2m = (p->nr + 511) / 512;
	struct pamt_table *t, *next;

	if (!p->map)
		return;
	for (t = atomic_load(&p->tables); t; t = next) {
		uint64_t i = t->index, e2m_first = i << 9;

		next = t->next;
		for (unsigned k = 0; k < 512; k++) {
			struct pamt_leaf *leaf =
				atomic_load_explicit(&t->leaf[k], memory_order_relaxed);

			if (leaf)
				free(leaf);
		}
		free(t);
		atomic_store_explicit(&p->dir[i], NULL, memory_order_relaxed);
		clear_words(&p->e2m[e2m_first],
			    n2m - e2m_first < 512 ? n2m - e2m_first : 512);
		clear_words(&p->e1g[i], 1);
		for (unsigned k = 0; k < PAMT_R1G_WORDS; k++)
			if (atomic_load_explicit(&p->r1g[i * PAMT_R1G_WORDS + k],
						 memory_order_relaxed))
				atomic_store_explicit(&p->r1g[i * PAMT_R1G_WORDS + k], 0,
						      memory_order_relaxed);
	}
	atomic_store(&p->tables, NULL);
	pamt_unmap(p->map, p->map_bytes);
	p->map = NULL;
	p->dir = NULL;
	p->e2m = p->e1g = NULL;
	p->r1g = NULL;
	pthread_mutex_destroy(&p->table_lock);
	for (unsigned i = 0; i < PAMT_WB_LOCKS; i++)
		pthread_mutex_destroy(&p->wb_lock[i]);
}

void pamt_foreach_1g(const struct pamt *p, void (*fn)(uint64_t index, void *arg),
		     void *arg)
{
	for (struct pamt_table *t = atomic_load_explicit(&p->tables, memory_order_acquire);
	     t; t = t->next)
		fn(t->index, arg);
}

/* Out of memory for the module's own metadata is not modeled: it aborts. */
static void *pamt_zalloc(size_t bytes)
{
	void *p = calloc(1, bytes);

	if (!p) {
		fprintf(stderr, "tdx: out of memory for the PAMT\n");
		model_abort();
	}
	return p;
}

/*
 * The table of the 1G range at off, made on first use. Lookups take no lock
 * (an acquire load of a pointer that never changes once set); making one,
 * once per 1G, takes table_lock, so that the table is on the list (struct
 * pamt says why) before any thread can find it in the directory.
 */
struct pamt_table *pamt_table_make(struct pamt *p, uint64_t off)
{
	_Atomic(struct pamt_table *) *slot = &p->dir[off >> 18];
	struct pamt_table *t;

	pthread_mutex_lock(&p->table_lock);
	t = atomic_load_explicit(slot, memory_order_relaxed);
	if (!t) {
		t = pamt_zalloc(sizeof(*t));
		t->index = off >> 18;
		t->next = atomic_load_explicit(&p->tables, memory_order_relaxed);
		atomic_store_explicit(&p->tables, t, memory_order_release);
		atomic_store_explicit(slot, t, memory_order_release);
		atomic_fetch_add_explicit(&p->nr_tables, 1, memory_order_relaxed);
	}
	pthread_mutex_unlock(&p->table_lock);
	return t;
}


/* The leaf of the 2M range at off, made on first use and published with a
 * compare-exchange (the loser frees its copy). */
struct pamt_leaf *pamt_leaf_make(struct pamt *p, uint64_t off)
{
	_Atomic(struct pamt_leaf *) *slot = &pamt_table_of(p, off)->leaf[(off >> 9) & 511];
	struct pamt_leaf *cur = atomic_load_explicit(slot, memory_order_acquire);
	struct pamt_leaf *mine;

	if (cur)
		return cur;
	mine = pamt_zalloc(sizeof(*mine));
	/* seq_cst: one side of the handshake with pamt_4k_try_shared_absent()
	 * (that function says why). */
	if (atomic_compare_exchange_strong_explicit(slot, &cur, mine,
						    memory_order_seq_cst,
						    memory_order_acquire)) {
		atomic_fetch_add_explicit(&p->nr_leaves, 1, memory_order_relaxed);
		return mine;
	}
	free(mine);
	return cur;
}


_Atomic uint32_t *pamt_wb(struct pamt *p, pfn_t pfn)
{
	uint64_t off = pfn - p->base;

	return &pamt_leaf_of(p, off)->wb[off & 511];
}

_Atomic uint32_t *pamt_wb_if_present(const struct pamt *p, pfn_t pfn)
{
	uint64_t off = pfn - p->base;
	struct pamt_leaf *leaf = pamt_leaf_present(p, off);

	return leaf ? &leaf->wb[off & 511] : NULL;
}

_Atomic uint64_t *pamt_wb2m(struct pamt *p, pfn_t pfn)
{
	uint64_t off = pfn - p->base;

	return &pamt_table_of(p, off)->wb2m[(off >> 9) & 511];
}

uint64_t pamt_wb2m_if_present(const struct pamt *p, pfn_t pfn)
{
	uint64_t off = pfn - p->base;
	struct pamt_table *t = atomic_load_explicit(&p->dir[off >> 18],
						    memory_order_acquire);

	return t ? atomic_load_explicit(&t->wb2m[(off >> 9) & 511], memory_order_acquire)
		 : 0;
}

pthread_mutex_t *pamt_wb_lock(struct pamt *p, pfn_t pfn)
{
	return &p->wb_lock[((pfn - p->base) >> 9) % PAMT_WB_LOCKS];
}

uint32_t pamt_wb_effective(uint64_t wb2m, const _Atomic uint32_t *wb4k, unsigned j)
{
	if (wb2m && j >= pamt_wb2m_next(wb2m))
		return (uint32_t)wb2m;
	return wb4k ? atomic_load_explicit(wb4k, memory_order_relaxed) : 0;
}

uint64_t pamt_wb_foreach(struct pamt *p,
			 uint64_t (*fn)(pfn_t pfn, uint32_t rec, void *arg),
			 void *arg)
{
	uint64_t sum = 0;

	for (struct pamt_table *t = atomic_load_explicit(&p->tables, memory_order_acquire);
	     t; t = t->next) {
		for (unsigned i = 0; i < 512; i++) {
			struct pamt_leaf *leaf =
				atomic_load_explicit(&t->leaf[i], memory_order_acquire);
			pfn_t first = p->base + (t->index << 18) + (i << 9);
			pthread_mutex_t *lock = NULL;
			uint64_t w2;

			if (!leaf && !atomic_load_explicit(&t->wb2m[i], memory_order_relaxed))
				continue;
			/* A 2M record is split into 4K ones under its lock
			 * (module.c): read the pair as one. */
			if (atomic_load_explicit(&t->wb2m[i], memory_order_relaxed)) {
				lock = pamt_wb_lock(p, first);
				pthread_mutex_lock(lock);
				leaf = atomic_load_explicit(&t->leaf[i], memory_order_acquire);
			}
			w2 = atomic_load_explicit(&t->wb2m[i], memory_order_acquire);
			for (unsigned j = 0; j < 512; j++) {
				uint32_t rec = pamt_wb_effective(w2, leaf ? &leaf->wb[j] : NULL, j);

				if (rec)
					sum += fn(first + j, rec, arg);
			}
			if (lock)
				pthread_mutex_unlock(lock);
		}
	}
	return sum;
}

/*
 * A shared hold of a 4K entry whose leaf does not exist, without making the
 * leaf: such an entry reads zero (PT_NDA, unlocked), so the hold is only a
 * count beside the leaf pointer that every exclusive locker of a 4K entry in
 * the range reads once it holds its entry (tdx_lock_page(), RECLAIM), backing
 * off with BUSY as it would from a shared holder of the entry itself. Which
 * 4K entry of the range is held is not recorded: an exclusive attempt on any
 * entry of the range meanwhile answers BUSY, more than the module would,
 * only while a 4K page of a freed 2M page is being written back.
 *
 * The handshake with an exclusive locker: we count ourselves, then look for
 * the leaf; it makes (or finds) the leaf, takes its entry, then reads the
 * count; all four seq_cst (or ordered after the seq_cst publication of the
 * leaf). So either we see the leaf and go the ordinary way (and meet its
 * lock in the entry), or it sees our count: never both holding.
 */
bool pamt_4k_try_shared_absent(struct pamt *p, pfn_t pfn, _Atomic uint32_t *readers)
{
	uint64_t off = pfn - p->base;
	_Atomic(struct pamt_leaf *) *slot =
		&pamt_table_of(p, off)->leaf[(off >> 9) & 511];

	if (atomic_load_explicit(slot, memory_order_relaxed))
		return false;
	atomic_fetch_add_explicit(readers, 1, memory_order_seq_cst);
	if (!atomic_load_explicit(slot, memory_order_seq_cst))
		return true;
	atomic_fetch_sub_explicit(readers, 1, memory_order_relaxed);
	return false;
}

uint64_t pamt_1g_absent_readers(const struct pamt *p, uint64_t index)
{
	struct pamt_table *t = atomic_load_explicit(&p->dir[index], memory_order_acquire);
	uint64_t n = 0;

	for (unsigned i = 0; t && i < 512; i++)
		n += atomic_load_explicit(&t->absent_readers[i], memory_order_relaxed);
	return n;
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
	SCHED_NOTE("PAMT entry: %s owner %u -> %s owner %u", tdx_page_type_name(pamt_pt(old)),
		   pamt_owner(old), tdx_page_type_name(pt), owner);

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
	_Atomic uint64_t *e;

	/* No leaf: all 512 entries read PT_NDA. Looking must not make one
	 * (4 KiB per 2M AUG: 2 GiB of a 1 TiB TD populated at 2M). */
	if (!pamt_4k_present(p, pfn))
		return true;
	e = pamt_entry(p, pfn, 0);

	SCHED_POINT(SCHED_PAMT_READ, SCHED_R, e, "PAMT entries (2M range)");
	for (unsigned i = 0; i < 512; i++)
		if (pamt_pt(atomic_load_explicit(&e[i], memory_order_acquire)) != PT_NDA)
			return false;
	return true;
}

/* Resident bytes of the flat arrays' mapping (mincore of its pages), with
 * the tables and leaves: what the PAMT really costs the model, for the
 * benchmarks' memory figures. */
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
	return atomic_load(&p->nr_tables) * sizeof(struct pamt_table) +
	       atomic_load(&p->nr_leaves) * sizeof(struct pamt_leaf) +
	       pamt_resident_of(p->map, p->map_bytes / sizeof(uint64_t));
}
