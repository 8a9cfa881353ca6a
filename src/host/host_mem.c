/* SPDX-License-Identifier: MIT */
/*
 * Host frame pool: lazily backed frame contents, a 32-bit metadata word per
 * frame (key id and state flags), and a two-level allocator (free ranges for
 * contiguous allocations, a free stack for single frames).
 *
 * Cost follows the frames used (issue 11, item 2.8; contract 1.1 "memory
 * cost is lazy"). The pool is a virtual range of frames; what exists is
 * made per 2M chunk on first use:
 *  - a chunk's 512 metadata words, found through a two-level radix (a
 *    directory with one entry per 1G of the pool, each a table of 512
 *    chunk pointers). Lookups are lock-free (acquire loads of pointers that
 *    never change once set); making a chunk takes the pool's mutex, once
 *    per 2M, so the fault path takes no global lock in the steady state;
 *  - a chunk's 2M of frame contents, carved from large MAP_NORESERVE slabs
 *    the first time a frame of the chunk is written (a ZERO frame needs no
 *    backing at all).
 * Chunks stay until the pool goes. Before, every frame of a memslot had its
 * metadata word written at allocation and at free (a 1 TiB memslot: 1 GiB
 * and 3.5 s; 62 TiB exhausted the machine), and the contents were one
 * mapping of the pool's whole size (which valgrind and the sanitizers
 * cannot take for a pool of many TiB).
 *
 * A chunk made after its frames were allocated or freed takes its initial
 * words from the allocator (a frame in no free range is allocated), under
 * the pool's mutex, which every allocator change holds too: so the range
 * allocator never writes a word per frame of a chunk that does not exist.
 * Frames on the free stack always have their chunk made (carving makes it).
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "host/host_mem.h"
#include "explore/sched.h"
#include "host/model_abort.h"

/*
 * Metadata word layout. The key lives in the low bits so that it can be read
 * with a mask; the flags above it. A zero word (as the fresh mapping reads)
 * is a frame that was never allocated and whose backing was never written.
 */
#define META_KEY_MASK	0xffu
#define META_ZERO	(1u << 8)
#define META_POISON	(1u << 9)
#define META_ALLOCATED	(1u << 10)

/* Frames carved from the free ranges at a time to refill the free stack:
 * one 2M page worth, so single frames stay clustered. */
#define CARVE_FRAMES	512

/* Granule of the pool size: a 2M page, so memslot ranges can be 2M-aligned. */
#define POOL_GRANULE	(2ULL << 20)

/* The radix: 512 frames per chunk, 512 chunks per table (1G). */
#define CHUNK_SHIFT	9
#define CHUNK_FRAMES	(1u << CHUNK_SHIFT)
#define TABLE_SHIFT	9
#define TABLE_CHUNKS	(1u << TABLE_SHIFT)
#define CHUNK_BYTES	((size_t)CHUNK_FRAMES * PAGE_SIZE)
/* The pool is a whole number of granules, each a whole number of chunks:
 * every chunk's frames are all inside the pool (chunk_make()). And the
 * largest pool is a whole number of granules, so rounding a size that fits
 * up to the granule still fits (host_mem_create()). */
_Static_assert(POOL_GRANULE % CHUNK_BYTES == 0, "POOL_CHUNKS_WHOLE");
_Static_assert((HOST_PA_MASK + 1 - HOST_MEM_BASE_HPA) % POOL_GRANULE == 0, "POOL_LIMIT_WHOLE");
/* Contents are carved from slabs of this many chunks. */
#define SLAB_CHUNKS	32

struct chunk {
	_Atomic uint32_t meta[CHUNK_FRAMES];
	/* 2M of contents, or NULL until a frame of the chunk is written.
	 * Set once, under the pool's mutex; read with acquire. */
	_Atomic(uint8_t *) data;
};

struct chunk_table {
	_Atomic(struct chunk *) chunks[TABLE_CHUNKS];
	struct chunk_table *next; /* made before this one (host_mem.tables) */
	uint64_t dir_index;       /* its slot in host_mem.dir */
};

struct slab {
	struct slab *next;
	uint8_t *base;
	unsigned used; /* chunks handed out */
};

struct free_range {
	pfn_t first;
	uint64_t nr;
};

struct host_mem {
	/* nr_frames / 2^18 rounded up; mapped demand-zero (dir_bytes). */
	_Atomic(struct chunk_table *) *dir;
	uint64_t nr_dir;
	size_t dir_bytes;
	pfn_t first_pfn;
	uint64_t nr_frames;

	/* Everything below is protected by lock, except that in_use is also
	 * read without it (it is only ever modified under the lock). */
	pthread_mutex_t lock;
	/* Sorted by first, never adjacent or overlapping (always coalesced). */
	struct free_range *ranges;
	size_t nr_ranges;
	size_t cap_ranges;
	/* Single free frames. They are given back to the ranges (and coalesce
	 * there) only when a range allocation would otherwise fail, so the
	 * common alloc/free cycle of page-table frames stays O(1). */
	pfn_t *stack;
	size_t stack_len;
	size_t stack_cap;
	_Atomic uint64_t in_use;
	/* Under lock: content slabs, and what the radix holds (stats). */
	struct slab *slabs;
	/* Every table made, newest first, so that teardown and the stats walk
	 * what was used rather than the directory (2^17 entries for the
	 * default 128 TiB pool, re-made per scenario run in issue 12). */
	struct chunk_table *tables;
	_Atomic uint64_t nr_tables, nr_chunks, nr_data_chunks;
};

__attribute__((noreturn, format(printf, 1, 2)))
static void host_bug(const char *fmt, ...)
{
	va_list ap;

	fputs("host_mem: BUG: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
	model_abort();
}

/*
 * The scheduler's name for a frame (explore/sched.h): one object per frame
 * for its key, owner and content, since a key change is also a content
 * change. Frame metadata is made lazily, so its address is no stable name;
 * this is a tagged number outside every user-space address instead.
 */
static const void *frame_obj(pfn_t pfn)
{
	return (const void *)(uintptr_t)(0xF000000000000000ULL | pfn);
}

static uint64_t frame_index(const struct host_mem *hm, pfn_t pfn)
{
	if (!host_mem_pfn_valid(hm, pfn))
		host_bug("pfn %#llx outside the pool [%#llx, %#llx)",
			 (unsigned long long)pfn,
			 (unsigned long long)hm->first_pfn,
			 (unsigned long long)(hm->first_pfn + hm->nr_frames));
	return pfn - hm->first_pfn;
}

static void check_keyid(unsigned keyid)
{
	if (keyid > HOST_MAX_KEYID)
		host_bug("key id %u out of range", keyid);
}

static bool key_is_private(unsigned keyid)
{
	return keyid >= HOST_FIRST_PRIVATE_KEYID;
}

/* ---- the radix ---- */

static inline struct chunk *chunk_peek(const struct host_mem *hm, uint64_t idx)
{
	struct chunk_table *t = atomic_load_explicit(
		&hm->dir[idx >> (CHUNK_SHIFT + TABLE_SHIFT)], memory_order_acquire);

	if (!t)
		return NULL;
	return atomic_load_explicit(&t->chunks[(idx >> CHUNK_SHIFT) & (TABLE_CHUNKS - 1)],
				    memory_order_acquire);
}

static size_t ranges_upper_bound(const struct host_mem *hm, pfn_t pfn);

/*
 * The chunk holding frame idx, made if it does not exist yet. Under
 * hm->lock (`locked`) or taking it: a chunk is published only with its
 * words written, from the allocator's state (see the top of this file).
 * Running out of memory for 2 KiB of bookkeeping is not something the model
 * models: like a failed free-range insert, it is reported and aborts.
 */
static __attribute__((noinline)) struct chunk *chunk_make(struct host_mem *hm, uint64_t idx,
							   bool locked)
{
	_Atomic(struct chunk_table *) *slot = &hm->dir[idx >> (CHUNK_SHIFT + TABLE_SHIFT)];
	struct chunk_table *t;
	struct chunk *c;
	unsigned ci = (unsigned)(idx >> CHUNK_SHIFT) & (TABLE_CHUNKS - 1);
	uint64_t base = idx & ~(uint64_t)(CHUNK_FRAMES - 1);

	if (!locked)
		pthread_mutex_lock(&hm->lock);
	t = atomic_load_explicit(slot, memory_order_relaxed);
	if (!t) {
		t = calloc(1, sizeof(*t));
		if (!t)
			host_bug("out of memory for the frame metadata radix");
		t->dir_index = idx >> (CHUNK_SHIFT + TABLE_SHIFT);
		t->next = hm->tables;
		hm->tables = t;
		atomic_store_explicit(slot, t, memory_order_release);
		atomic_fetch_add_explicit(&hm->nr_tables, 1, memory_order_relaxed);
	}
	c = atomic_load_explicit(&t->chunks[ci], memory_order_relaxed);
	if (!c) {
		c = malloc(sizeof(*c));
		if (!c)
			host_bug("out of memory for frame metadata");
		/* One search, then runs of frames between range bounds (512
		 * searches were 8% of an explored scenario's run). r: the
		 * first range that starts after frame k; r - 1 may hold it. */
		pfn_t first = hm->first_pfn + base;
		size_t r = ranges_upper_bound(hm, first);
		unsigned k = 0;

		while (k < CHUNK_FRAMES) {
			uint32_t m = META_ZERO | HOST_KEYID_SHARED;
			unsigned run_end = CHUNK_FRAMES;
			pfn_t pfn = first + k;

			if (r && pfn - hm->ranges[r - 1].first < hm->ranges[r - 1].nr) {
				/* Free up to the range's end. */
				pfn_t end = hm->ranges[r - 1].first + hm->ranges[r - 1].nr;

				if (end - first < run_end)
					run_end = (unsigned)(end - first);
			} else {
				/* Allocated up to the next range (the chunk
				 * lies inside the pool: POOL_CHUNKS_WHOLE). */
				m |= META_ALLOCATED;
				if (r < hm->nr_ranges && hm->ranges[r].first - first < run_end) {
					run_end = (unsigned)(hm->ranges[r].first - first);
					r++;
				}
			}
			for (; k < run_end; k++)
				atomic_init(&c->meta[k], m);
		}
		atomic_init(&c->data, NULL);
		atomic_store_explicit(&t->chunks[ci], c, memory_order_release);
		atomic_fetch_add_explicit(&hm->nr_chunks, 1, memory_order_relaxed);
	}
	if (!locked)
		pthread_mutex_unlock(&hm->lock);
	return c;
}

/* Inline: every frame access of the fault path comes here (the frame's
 * metadata, then its contents); a chunk is made once. */
static inline __attribute__((always_inline)) struct chunk *
chunk_get(struct host_mem *hm, uint64_t idx, bool locked)
{
	struct chunk *c = chunk_peek(hm, idx);

	return c ? c : chunk_make(hm, idx, locked);
}

/*
 * Spares kept across pools: `tdxmmu explore` makes and destroys a pool per
 * schedule, thousands a second, and every fresh mapping costs an mmap, a
 * munmap and a page fault per page touched (~1-2 us each, kernel zeroing
 * included). So the last pool's directory (parked all zero: destroy clears
 * the slots of the tables it made) and one little-used content slab are
 * kept for the next pool. A slab's contents need no clearing: a frame's
 * contents are read only once written, and its first write clears the
 * frame (materialise()). Slabs that held more than SPARE_SLAB_MAX_CHUNKS
 * chunks are unmapped rather than kept, so that the spare never pins more
 * than a few MiB.
 */
#define SPARE_SLAB_MAX_CHUNKS 4

static pthread_mutex_t spare_lock = PTHREAD_MUTEX_INITIALIZER;
static void *spare_dir;
static size_t spare_dir_bytes;
static void *spare_slab;

static void *spare_take(void **spare, size_t *spare_bytes, size_t bytes)
{
	void *p = NULL;

	pthread_mutex_lock(&spare_lock);
	if (*spare && (!spare_bytes || *spare_bytes == bytes)) {
		p = *spare;
		*spare = NULL;
	}
	pthread_mutex_unlock(&spare_lock);
	return p;
}

/* Parks p as the spare, or unmaps it if there is one already. */
static void spare_put(void **spare, size_t *spare_bytes, void *p, size_t bytes)
{
	pthread_mutex_lock(&spare_lock);
	if (!*spare) {
		*spare = p;
		if (spare_bytes)
			*spare_bytes = bytes;
		p = NULL;
	}
	pthread_mutex_unlock(&spare_lock);
	if (p)
		munmap(p, bytes);
}

/* The chunk's contents, made on first use from a slab. */
static uint8_t *chunk_data(struct host_mem *hm, struct chunk *c)
{
	uint8_t *d = atomic_load_explicit(&c->data, memory_order_acquire);
	struct slab *s;

	if (d)
		return d;
	pthread_mutex_lock(&hm->lock);
	d = atomic_load_explicit(&c->data, memory_order_relaxed);
	if (!d) {
		s = hm->slabs;
		if (!s || s->used == SLAB_CHUNKS) {
			void *p;

			s = malloc(sizeof(*s));
			if (!s)
				host_bug("out of memory for a slab record");
			p = spare_take(&spare_slab, NULL, SLAB_CHUNKS * CHUNK_BYTES);
			/* NORESERVE: a slab costs memory only where written. */
			if (!p) {
				p = mmap(NULL, SLAB_CHUNKS * CHUNK_BYTES, PROT_READ | PROT_WRITE,
					 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
				if (p == MAP_FAILED)
					host_bug("cannot map host frame contents");
				/* With THP "always", the first write to a
				 * frame would back a whole 2M page: sparse
				 * use must cost per 4K. */
				madvise(p, SLAB_CHUNKS * CHUNK_BYTES, MADV_NOHUGEPAGE);
			}
			s->base = p;
			s->used = 0;
			s->next = hm->slabs;
			hm->slabs = s;
		}
		d = s->base + (size_t)s->used++ * CHUNK_BYTES;
		atomic_store_explicit(&c->data, d, memory_order_release);
		atomic_fetch_add_explicit(&hm->nr_data_chunks, 1, memory_order_relaxed);
	}
	pthread_mutex_unlock(&hm->lock);
	return d;
}

static uint8_t *frame_data(struct host_mem *hm, uint64_t idx)
{
	return chunk_data(hm, chunk_get(hm, idx, false)) +
	       (idx & (CHUNK_FRAMES - 1)) * PAGE_SIZE;
}

static inline __attribute__((always_inline)) _Atomic uint32_t *
frame_meta(struct host_mem *hm, uint64_t idx)
{
	return &chunk_get(hm, idx, false)->meta[idx & (CHUNK_FRAMES - 1)];
}

/* Under hm->lock (the allocator's paths). */
static _Atomic uint32_t *frame_meta_locked(struct host_mem *hm, uint64_t idx)
{
	return &chunk_get(hm, idx, true)->meta[idx & (CHUNK_FRAMES - 1)];
}

/* Metadata of a frame whose content is about to be accessed (it must be in
 * the pool). */
static uint32_t meta_for_access(struct host_mem *hm, pfn_t pfn,
				uint64_t *idx)
{
	uint32_t m;

	*idx = frame_index(hm, pfn);
	/*
	 * A free frame is still physical memory: the TDX module may be handed
	 * any page of its TDMR (a raw SEAMCALL can name one the host allocator
	 * never gave out), so content access is allowed. Freeing resets the
	 * frame to ZERO and allocation resets it again, so nothing written to
	 * a free frame ever reaches its next owner.
	 */
	m = atomic_load_explicit(frame_meta(hm, *idx), memory_order_acquire);
	return m;
}

static void meta_set(struct host_mem *hm, uint64_t idx, uint32_t m)
{
	atomic_store_explicit(frame_meta(hm, idx), m, memory_order_release);
}

static void meta_set_locked(struct host_mem *hm, uint64_t idx, uint32_t m)
{
	atomic_store_explicit(frame_meta_locked(hm, idx), m, memory_order_release);
}

/*
 * Calls fn for each existing chunk overlapping frames [start, end) (indices
 * into the pool), with the overlap as chunk offsets [lo, hi). Absent
 * tables are skipped 1G at a time, so a 64 TiB range with a few chunks
 * costs the directory's 64K entries, not a step per frame.
 */
static void for_each_chunk(struct host_mem *hm, uint64_t start, uint64_t end,
			   void (*fn)(struct host_mem *hm, struct chunk *c,
				      uint64_t base, unsigned lo, unsigned hi,
				      void *arg),
			   void *arg)
{
	const uint64_t table_frames = 1ULL << (CHUNK_SHIFT + TABLE_SHIFT);
	uint64_t idx = start;

	while (idx < end) {
		struct chunk_table *t = atomic_load_explicit(
			&hm->dir[idx >> (CHUNK_SHIFT + TABLE_SHIFT)], memory_order_acquire);
		uint64_t base = idx & ~(uint64_t)(CHUNK_FRAMES - 1);
		struct chunk *c;

		if (!t) {
			idx = (idx | (table_frames - 1)) + 1;
			continue;
		}
		c = atomic_load_explicit(&t->chunks[(idx >> CHUNK_SHIFT) & (TABLE_CHUNKS - 1)],
					 memory_order_acquire);
		if (c)
			fn(hm, c, base, (unsigned)(idx - base),
			   (unsigned)((end - base < CHUNK_FRAMES ? end - base : CHUNK_FRAMES)),
			   arg);
		idx = base + CHUNK_FRAMES;
	}
}

struct host_mem *host_mem_create(uint64_t bytes)
{
	struct host_mem *hm;
	uint64_t nr;

	/* Rounding up to the granule cannot pass the limit: the limit is a
	 * multiple of the granule (POOL_LIMIT_WHOLE). */
	if (bytes == 0 || bytes > HOST_PA_MASK + 1 - HOST_MEM_BASE_HPA)
		return NULL;
	bytes = (bytes + POOL_GRANULE - 1) & ~(POOL_GRANULE - 1);
	nr = bytes >> PAGE_SHIFT;

	hm = calloc(1, sizeof(*hm));
	if (!hm)
		return NULL;
	hm->first_pfn = HOST_MEM_BASE_HPA >> PAGE_SHIFT;
	hm->nr_frames = nr;
	/* The directory: 8 bytes per 1G of pool (1 MiB for 128 TiB),
	 * demand-zero: mapped rather than calloc'd, which clears it all
	 * once malloc serves that size from its heap. Everything below it
	 * is made on first use. */
	hm->nr_dir = (nr + (1ULL << (CHUNK_SHIFT + TABLE_SHIFT)) - 1) >>
		     (CHUNK_SHIFT + TABLE_SHIFT);
	hm->dir_bytes = (hm->nr_dir * sizeof(*hm->dir) + PAGE_SIZE - 1) &
			~(size_t)(PAGE_SIZE - 1);
	hm->dir = spare_take(&spare_dir, &spare_dir_bytes, hm->dir_bytes);
	if (!hm->dir)
		hm->dir = mmap(NULL, hm->dir_bytes, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (hm->dir == MAP_FAILED)
		goto err_free;

	hm->cap_ranges = 16;
	hm->ranges = malloc(hm->cap_ranges * sizeof(*hm->ranges));
	if (!hm->ranges)
		goto err_dir;
	hm->ranges[0] = (struct free_range){ .first = hm->first_pfn, .nr = nr };
	hm->nr_ranges = 1;
	if (pthread_mutex_init(&hm->lock, NULL))
		goto err_ranges;
	atomic_init(&hm->in_use, 0);
	return hm;

err_ranges:
	free(hm->ranges);
err_dir:
	munmap(hm->dir, hm->dir_bytes);
err_free:
	free(hm);
	return NULL;
}

void host_mem_destroy(struct host_mem *hm)
{
	if (!hm)
		return;
	while (hm->tables) {
		struct chunk_table *t = hm->tables;

		hm->tables = t->next;
		for (unsigned c = 0; c < TABLE_CHUNKS; c++) {
			struct chunk *ch = atomic_load_explicit(&t->chunks[c],
								memory_order_relaxed);

			if (ch)
				free(ch);
		}
		/* The directory goes back all zero (spare_put). */
		atomic_store_explicit(&hm->dir[t->dir_index], NULL, memory_order_relaxed);
		free(t);
	}
	while (hm->slabs) {
		struct slab *s = hm->slabs;

		hm->slabs = s->next;
		if (s->used <= SPARE_SLAB_MAX_CHUNKS)
			spare_put(&spare_slab, NULL, s->base,
				  SLAB_CHUNKS * CHUNK_BYTES);
		else
			munmap(s->base, SLAB_CHUNKS * CHUNK_BYTES);
		free(s);
	}
	spare_put(&spare_dir, &spare_dir_bytes, hm->dir, hm->dir_bytes);
	pthread_mutex_destroy(&hm->lock);
	free(hm->stack);
	free(hm->ranges);
	free(hm);
}

pfn_t host_mem_first_pfn(const struct host_mem *hm)
{
	return hm->first_pfn;
}

pfn_t host_mem_end_pfn(const struct host_mem *hm)
{
	return hm->first_pfn + hm->nr_frames;
}

bool host_mem_pfn_valid(const struct host_mem *hm, pfn_t pfn)
{
	return pfn >= hm->first_pfn && pfn - hm->first_pfn < hm->nr_frames;
}

/* ---- allocator (all of it under hm->lock) ---- */

static bool ranges_reserve(struct host_mem *hm, size_t extra)
{
	struct free_range *r;
	size_t cap;

	if (hm->nr_ranges + extra <= hm->cap_ranges)
		return true;
	cap = hm->cap_ranges * 2;
	while (cap < hm->nr_ranges + extra)
		cap *= 2;
	r = realloc(hm->ranges, cap * sizeof(*r));
	if (!r)
		return false;
	hm->ranges = r;
	hm->cap_ranges = cap;
	return true;
}

/* Index of the first range starting after pfn. */
static size_t ranges_upper_bound(const struct host_mem *hm, pfn_t pfn)
{
	size_t lo = 0, hi = hm->nr_ranges;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (hm->ranges[mid].first <= pfn)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Returns [first, first + nr) to the free ranges, coalescing with its
 * neighbours. The frames' metadata has already been reset. */
static void ranges_insert(struct host_mem *hm, pfn_t first, uint64_t nr)
{
	size_t i = ranges_upper_bound(hm, first);
	struct free_range *r = hm->ranges;
	bool has_prev = i > 0, has_next = i < hm->nr_ranges;
	bool join_prev, join_next;

	/* The metadata check in the callers makes overlap impossible unless
	 * the allocator itself is broken. */
	if ((has_prev && r[i - 1].first + r[i - 1].nr > first) ||
	    (has_next && first + nr > r[i].first))
		host_bug("free range [%#llx, +%llu) overlaps a free range",
			 (unsigned long long)first, (unsigned long long)nr);
	join_prev = has_prev && r[i - 1].first + r[i - 1].nr == first;
	join_next = has_next && first + nr == r[i].first;

	if (join_prev && join_next) {
		r[i - 1].nr += nr + r[i].nr;
		memmove(&r[i], &r[i + 1], (hm->nr_ranges - i - 1) * sizeof(*r));
		hm->nr_ranges--;
	} else if (join_prev) {
		r[i - 1].nr += nr;
	} else if (join_next) {
		r[i].first = first;
		r[i].nr += nr;
	} else {
		/* Freeing must not fail: running out of memory for a few
		 * bytes of bookkeeping is not something to model. */
		if (!ranges_reserve(hm, 1))
			host_bug("out of memory for the free-range list");
		r = hm->ranges;
		memmove(&r[i + 1], &r[i], (hm->nr_ranges - i) * sizeof(*r));
		r[i] = (struct free_range){ .first = first, .nr = nr };
		hm->nr_ranges++;
	}
}

/* Takes [first, first + nr) out of range i, which contains it. */
static int ranges_take(struct host_mem *hm, size_t i, pfn_t first, uint64_t nr)
{
	struct free_range *r = &hm->ranges[i];
	uint64_t head = first - r->first;
	uint64_t tail = r->first + r->nr - (first + nr);

	if (head && tail) {
		if (!ranges_reserve(hm, 1))
			return -ENOMEM;
		r = &hm->ranges[i];
		memmove(&hm->ranges[i + 2], &hm->ranges[i + 1],
			(hm->nr_ranges - i - 1) * sizeof(*r));
		r->nr = head;
		hm->ranges[i + 1] = (struct free_range){
			.first = first + nr, .nr = tail };
		hm->nr_ranges++;
	} else if (head) {
		r->nr = head;
	} else if (tail) {
		r->first = first + nr;
		r->nr = tail;
	} else {
		memmove(r, r + 1, (hm->nr_ranges - i - 1) * sizeof(*r));
		hm->nr_ranges--;
	}
	return 0;
}

static bool stack_push(struct host_mem *hm, pfn_t pfn)
{
	if (hm->stack_len == hm->stack_cap) {
		size_t cap = hm->stack_cap ? hm->stack_cap * 2 : CARVE_FRAMES;
		pfn_t *s = realloc(hm->stack, cap * sizeof(*s));

		if (!s)
			return false;
		hm->stack = s;
		hm->stack_cap = cap;
	}
	hm->stack[hm->stack_len++] = pfn;
	return true;
}

static int cmp_pfn(const void *a, const void *b)
{
	pfn_t x = *(const pfn_t *)a, y = *(const pfn_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Gives every frame on the free stack back to the free ranges: sort the
 * stack, turn runs into ranges and merge both sorted lists in one pass, so
 * that freeing everything really does let the whole pool coalesce again.
 */
static int drain_stack(struct host_mem *hm)
{
	struct free_range *out;
	size_t cap = hm->nr_ranges + hm->stack_len;
	size_t n = 0, i = 0, j = 0;

	if (!hm->stack_len)
		return 0;
	out = malloc(cap * sizeof(*out));
	if (!out)
		return -ENOMEM;
	qsort(hm->stack, hm->stack_len, sizeof(*hm->stack), cmp_pfn);

	while (i < hm->nr_ranges || j < hm->stack_len) {
		struct free_range r;

		if (j == hm->stack_len ||
		    (i < hm->nr_ranges && hm->ranges[i].first < hm->stack[j])) {
			r = hm->ranges[i++];
		} else {
			r.first = hm->stack[j++];
			r.nr = 1;
			while (j < hm->stack_len &&
			       hm->stack[j] == r.first + r.nr) {
				r.nr++;
				j++;
			}
		}
		if (n && out[n - 1].first + out[n - 1].nr > r.first)
			host_bug("pfn %#llx free twice (stack and range)",
				 (unsigned long long)r.first);
		if (n && out[n - 1].first + out[n - 1].nr == r.first)
			out[n - 1].nr += r.nr;
		else
			out[n++] = r;
	}
	free(hm->ranges);
	hm->ranges = out;
	hm->nr_ranges = n;
	hm->cap_ranges = cap;
	hm->stack_len = 0;
	return 0;
}

/*
 * Moves up to CARVE_FRAMES frames from the top of the highest free range to
 * the stack. Single frames come from the top of the pool and memslot ranges
 * (first fit) from the bottom, which keeps the two from fragmenting each
 * other.
 */
static bool carve_chunk(struct host_mem *hm)
{
	struct free_range *r;
	uint64_t n;

	if (!hm->nr_ranges)
		return false;
	r = &hm->ranges[hm->nr_ranges - 1];
	n = r->nr < CARVE_FRAMES ? r->nr : CARVE_FRAMES;
	if (hm->stack_cap - hm->stack_len < n) {
		size_t cap = hm->stack_cap ? hm->stack_cap : CARVE_FRAMES;
		pfn_t *s;

		while (cap - hm->stack_len < n)
			cap *= 2;
		s = realloc(hm->stack, cap * sizeof(*s));
		if (!s)
			return false;
		hm->stack = s;
		hm->stack_cap = cap;
	}
	/* Their chunks exist from here on (made while the frames are still
	 * in a free range, so they start free): a frame on the stack always
	 * has a metadata word of its own. */
	chunk_get(hm, r->first + r->nr - n - hm->first_pfn, true);
	chunk_get(hm, r->first + r->nr - 1 - hm->first_pfn, true);
	r->nr -= n;
	/* Pushed top-down so that they pop in ascending order. */
	for (uint64_t k = 0; k < n; k++)
		hm->stack[hm->stack_len++] = r->first + r->nr + n - 1 - k;
	if (!r->nr)
		hm->nr_ranges--;
	return true;
}

static void claim_frame(struct host_mem *hm, uint64_t idx)
{
	meta_set_locked(hm, idx, META_ALLOCATED | META_ZERO | HOST_KEYID_SHARED);
}

static void claim_in_chunk(struct host_mem *hm, struct chunk *c, uint64_t base,
			   unsigned lo, unsigned hi, void *arg)
{
	(void)hm;
	(void)base;
	(void)arg;
	for (unsigned k = lo; k < hi; k++)
		atomic_store_explicit(&c->meta[k], META_ALLOCATED | META_ZERO | HOST_KEYID_SHARED,
				      memory_order_release);
}

int host_mem_alloc_frame(struct host_mem *hm, pfn_t *pfn)
{
	pfn_t p;

	pthread_mutex_lock(&hm->lock);
	if (!hm->stack_len && !carve_chunk(hm)) {
		pthread_mutex_unlock(&hm->lock);
		return -ENOMEM;
	}
	p = hm->stack[--hm->stack_len];
	claim_frame(hm, p - hm->first_pfn);
	atomic_fetch_add_explicit(&hm->in_use, 1, memory_order_relaxed);
	pthread_mutex_unlock(&hm->lock);
	*pfn = p;
	return 0;
}

/* First fit: index of the lowest range holding an aligned run of nr frames,
 * with the run's first frame in *first; nr_ranges if none. */
static size_t find_fit(const struct host_mem *hm, uint64_t nr, uint64_t align,
		       pfn_t *first)
{
	for (size_t i = 0; i < hm->nr_ranges; i++) {
		const struct free_range *r = &hm->ranges[i];
		pfn_t a = (r->first + align - 1) & ~(align - 1);

		if (a - r->first < r->nr && r->nr - (a - r->first) >= nr) {
			*first = a;
			return i;
		}
	}
	return hm->nr_ranges;
}

int host_mem_alloc_range(struct host_mem *hm, uint64_t nr, uint64_t align,
			 pfn_t *first)
{
	size_t i;
	pfn_t p = 0;
	int ret;

	if (!nr || !align || (align & (align - 1)))
		return -EINVAL;
	if (nr > hm->nr_frames)
		return -ENOMEM;

	pthread_mutex_lock(&hm->lock);
	i = find_fit(hm, nr, align, &p);
	if (i == hm->nr_ranges) {
		ret = drain_stack(hm);
		if (ret)
			goto out;
		i = find_fit(hm, nr, align, &p);
		if (i == hm->nr_ranges) {
			ret = -ENOMEM;
			goto out;
		}
	}
	ret = ranges_take(hm, i, p, nr);
	if (ret)
		goto out;
	/* Only chunks that exist have words to write; one made later reads
	 * the frames as allocated from the free ranges. */
	for_each_chunk(hm, p - hm->first_pfn, p - hm->first_pfn + nr, claim_in_chunk, NULL);
	atomic_fetch_add_explicit(&hm->in_use, nr, memory_order_relaxed);
	*first = p;
out:
	pthread_mutex_unlock(&hm->lock);
	return ret;
}

/*
 * Marks a frame free. It drops to ZERO under the shared key here, and again
 * at allocation: a TD's private content and poison end with the free, so
 * neither a query on the stale pfn nor the frame's next owner sees them.
 */
static void release_frame(struct host_mem *hm, pfn_t pfn)
{
	uint64_t idx = frame_index(hm, pfn);
	uint32_t m = atomic_load_explicit(frame_meta_locked(hm, idx),
					  memory_order_relaxed);

	if (!(m & META_ALLOCATED))
		host_bug("double free of pfn %#llx", (unsigned long long)pfn);
	meta_set_locked(hm, idx, META_ZERO | HOST_KEYID_SHARED);
}

struct free_check {
	pfn_t bad;
	bool found;
};

static void check_allocated_in_chunk(struct host_mem *hm, struct chunk *c,
				     uint64_t base, unsigned lo, unsigned hi,
				     void *arg)
{
	struct free_check *fc = arg;

	for (unsigned k = lo; k < hi && !fc->found; k++) {
		if (!(atomic_load_explicit(&c->meta[k], memory_order_relaxed) &
		      META_ALLOCATED)) {
			fc->bad = hm->first_pfn + base + k;
			fc->found = true;
		}
	}
}

static void release_in_chunk(struct host_mem *hm, struct chunk *c,
			     uint64_t base, unsigned lo, unsigned hi, void *arg)
{
	uint8_t *d = atomic_load_explicit(&c->data, memory_order_acquire);

	(void)hm;
	(void)base;
	(void)arg;
	for (unsigned k = lo; k < hi; k++)
		atomic_store_explicit(&c->meta[k], META_ZERO | HOST_KEYID_SHARED,
				      memory_order_release);
	/* The frames are ZERO now, so their backing is dead weight; one
	 * madvise per chunk (not per frame) hands it back to the kernel.
	 * Not while exploring: an exploration re-creates the same small TD
	 * thousands of times, the backing is reused by the next execution,
	 * and each madvise costs a TLB shootdown IPI to every CPU the
	 * process ran on (a tenth of an execution's time). */
	if (d && !sched_enabled())
		madvise(d + (size_t)lo * PAGE_SIZE, (size_t)(hi - lo) * PAGE_SIZE,
			MADV_DONTNEED);
}

/* The first frame of [first, first + nr) that a free range holds, in
 * *pfn; false if none does. Under hm->lock. */
static bool first_free_in(const struct host_mem *hm, pfn_t first, uint64_t nr,
			  pfn_t *pfn)
{
	size_t i = ranges_upper_bound(hm, first);

	if (i && first - hm->ranges[i - 1].first < hm->ranges[i - 1].nr) {
		*pfn = first;
		return true;
	}
	if (i < hm->nr_ranges && hm->ranges[i].first < first + nr) {
		*pfn = hm->ranges[i].first;
		return true;
	}
	return false;
}

void host_mem_free_frame(struct host_mem *hm, pfn_t pfn)
{
	/* Before hm->lock, never under it. */
	SCHED_POINT(SCHED_FRAME_KEY, SCHED_W, frame_obj(pfn), "host frame owner (free)");
	pthread_mutex_lock(&hm->lock);
	release_frame(hm, pfn);
	if (!stack_push(hm, pfn))
		ranges_insert(hm, pfn, 1);
	atomic_fetch_sub_explicit(&hm->in_use, 1, memory_order_relaxed);
	pthread_mutex_unlock(&hm->lock);
}

void host_mem_free_range(struct host_mem *hm, pfn_t first, uint64_t nr)
{
	if (!nr)
		return;
	if (!host_mem_pfn_valid(hm, first) ||
	    !host_mem_pfn_valid(hm, first + nr - 1) || first + nr < first)
		host_bug("free of range [%#llx, +%llu) outside the pool",
			 (unsigned long long)first, (unsigned long long)nr);

	/* One point for the range, before hm->lock: named by its first
	 * frame. */
	SCHED_POINT(SCHED_FRAME_KEY, SCHED_W, frame_obj(first), "host frames owner (free range)");
	pthread_mutex_lock(&hm->lock);
	/* Check the whole range before changing anything, so the report names
	 * the first offending frame of an otherwise untouched pool: frames
	 * with a word must have it say allocated; frames without one are
	 * allocated unless a free range holds them. */
	{
		struct free_check fc = { 0 };
		pfn_t bad;

		for_each_chunk(hm, first - hm->first_pfn, first - hm->first_pfn + nr,
			       check_allocated_in_chunk, &fc);
		if (first_free_in(hm, first, nr, &bad) && (!fc.found || bad < fc.bad)) {
			fc.bad = bad;
			fc.found = true;
		}
		if (fc.found)
			host_bug("double free of pfn %#llx", (unsigned long long)fc.bad);
	}
	for_each_chunk(hm, first - hm->first_pfn, first - hm->first_pfn + nr,
		       release_in_chunk, NULL);
	ranges_insert(hm, first, nr);
	atomic_fetch_sub_explicit(&hm->in_use, nr, memory_order_relaxed);
	pthread_mutex_unlock(&hm->lock);
}

uint64_t host_mem_frames_in_use(const struct host_mem *hm)
{
	return atomic_load_explicit(&hm->in_use, memory_order_relaxed);
}

bool host_mem_frame_allocated(struct host_mem *hm, pfn_t pfn)
{
	if (!host_mem_pfn_valid(hm, pfn))
		return false;
	SCHED_POINT(SCHED_FRAME_KEY, SCHED_R, frame_obj(pfn), "host frame owner (allocated)");
	return atomic_load_explicit(frame_meta(hm, pfn - hm->first_pfn),
				    memory_order_acquire) & META_ALLOCATED;
}

/* ---- content ---- */

static void check_span(pfn_t pfn, size_t off, size_t len)
{
	if (off > PAGE_SIZE || len > PAGE_SIZE - off)
		host_bug("access [%#zx, +%#zx) crosses the end of pfn %#llx",
			 off, len, (unsigned long long)pfn);
}

void host_frame_read(struct host_mem *hm, pfn_t pfn, size_t off, void *buf,
		     size_t len, unsigned keyid, bool *poisoned)
{
	uint64_t idx;
	uint32_t m;
	bool poison = false;

	SCHED_POINT(SCHED_FRAME_DATA, SCHED_R, frame_obj(pfn), "host frame (read)");
	m = meta_for_access(hm, pfn, &idx);

	check_keyid(keyid);
	check_span(pfn, off, len);
	if (!len) {
		/* nothing to copy */
	} else if ((m & META_KEY_MASK) != keyid) {
		/* Another key's ciphertext decrypts to nothing useful; the
		 * model shows it as zeros, as TDX shows a TD-owned line. */
		memset(buf, 0, len);
	} else if (m & META_POISON) {
		/* Checked before ZERO: a ZERO frame can be poisoned by a
		 * partial foreign write without ever being materialised. */
		poison = true;
		memset(buf, 0, len);
	} else if (m & META_ZERO) {
		memset(buf, 0, len);
	} else {
		memcpy(buf, frame_data(hm, idx) + off, len);
	}
	if (poisoned)
		*poisoned = poison;
}

/* Gives the frame real backing: the first write to a ZERO frame must not
 * expose whatever an earlier owner left in it. */
static void materialise(struct host_mem *hm, uint64_t idx, uint32_t m)
{
	if (m & META_ZERO)
		memset(frame_data(hm, idx), 0, PAGE_SIZE);
}

void host_frame_write(struct host_mem *hm, pfn_t pfn, size_t off,
		      const void *buf, size_t len, unsigned keyid)
{
	uint64_t idx;
	uint32_t m;
	unsigned old;
	bool whole = off == 0 && len == PAGE_SIZE;

	SCHED_POINT(SCHED_FRAME_DATA, SCHED_W, frame_obj(pfn), "host frame (write)");
	m = meta_for_access(hm, pfn, &idx);
	old = m & META_KEY_MASK;

	check_keyid(keyid);
	check_span(pfn, off, len);
	if (!len)
		return;
	if (old != keyid && key_is_private(old) && !whole) {
		/* A partial write under the wrong key: on TDX the lines
		 * written fail their integrity check under the TD's key. The
		 * frame stays the TD's; its content is now unspecified, so
		 * the backing is left as it was. */
		meta_set(hm, idx, m | META_POISON);
		return;
	}
	if (old != keyid)
		/* The other key's content is gone for the writer, and a
		 * shared-key frame simply changes hands. */
		memset(frame_data(hm, idx), 0, PAGE_SIZE);
	else
		materialise(hm, idx, m);
	memcpy(frame_data(hm, idx) + off, buf, len);
	/* A partial write under the right key leaves broken lines broken; a
	 * whole-frame write replaces them all. */
	meta_set(hm, idx, META_ALLOCATED | keyid |
		 (old == keyid && !whole ? m & META_POISON : 0));
}

/* The one body of host_frame_clear() and host_frame_clear_range(), inline
 * so that the one-frame call (every AUG, ACCEPT, REMOVE) folds the loop. */
static inline __attribute__((always_inline)) void
frames_clear(struct host_mem *hm, pfn_t pfn, uint64_t n, unsigned keyid)
{
	struct chunk *c = NULL;
	uint64_t idx;

	if (!n)
		return;
	check_keyid(keyid);
	if (n > 1)
		frame_index(hm, pfn + n - 1); /* the whole range in the pool */
	idx = frame_index(hm, pfn);
	for (uint64_t i = 0; i < n; i++, idx++) {
		SCHED_POINT(SCHED_FRAME_KEY, SCHED_W, frame_obj(pfn + i),
			    "host frame (clear, key)");
		/* One chunk lookup per chunk, not per frame: a 1 TiB TD's
		 * teardown clears 2^28 frames. */
		if (!c || !(idx & (CHUNK_FRAMES - 1)))
			c = chunk_get(hm, idx, false);
		atomic_store_explicit(&c->meta[idx & (CHUNK_FRAMES - 1)],
				      META_ALLOCATED | META_ZERO | keyid,
				      memory_order_release);
	}
}

void host_frame_clear_range(struct host_mem *hm, pfn_t pfn, uint64_t n,
			    unsigned keyid)
{
	frames_clear(hm, pfn, n, keyid);
}

void host_frame_clear(struct host_mem *hm, pfn_t pfn, unsigned keyid)
{
	frames_clear(hm, pfn, 1, keyid);
}

void host_frame_fill(struct host_mem *hm, pfn_t pfn, uint8_t byte,
		     unsigned keyid)
{
	uint64_t idx;

	if (!byte) {
		host_frame_clear(hm, pfn, keyid);
		return;
	}
	SCHED_POINT(SCHED_FRAME_DATA, SCHED_W, frame_obj(pfn), "host frame (fill)");
	meta_for_access(hm, pfn, &idx);
	check_keyid(keyid);
	memset(frame_data(hm, idx), byte, PAGE_SIZE);
	meta_set(hm, idx, META_ALLOCATED | keyid);
}

/*
 * A poisoned source is copied as poison (the data TDH.MEM.PAGE.RELOCATE or a
 * host copy would move is garbage under the destination key too); otherwise
 * the destination takes what a read of the source shows, with its integrity
 * restored.
 */
void host_frame_copy(struct host_mem *hm, pfn_t dst, unsigned dst_keyid,
		     pfn_t src, unsigned src_keyid)
{
	uint64_t sidx, didx;
	uint32_t sm;

	/* Two frames: the source's read, then the destination's write (no
	 * point in between would change what the model can do). */
	SCHED_POINT(SCHED_FRAME_DATA, SCHED_R, frame_obj(src), "host frame (copy source)");
	SCHED_POINT(SCHED_FRAME_DATA, SCHED_W, frame_obj(dst), "host frame (copy destination)");
	sm = meta_for_access(hm, src, &sidx);

	meta_for_access(hm, dst, &didx);
	check_keyid(dst_keyid);
	check_keyid(src_keyid);
	if ((sm & META_KEY_MASK) != src_keyid) {
		meta_set(hm, didx, META_ALLOCATED | META_ZERO | dst_keyid);
		return;
	}
	if (sm & META_POISON) {
		meta_set(hm, didx, META_ALLOCATED | META_POISON | dst_keyid);
		return;
	}
	if (sm & META_ZERO) {
		meta_set(hm, didx, META_ALLOCATED | META_ZERO | dst_keyid);
		return;
	}
	if (sidx != didx)
		memcpy(frame_data(hm, didx), frame_data(hm, sidx), PAGE_SIZE);
	meta_set(hm, didx, META_ALLOCATED | dst_keyid);
}

unsigned host_frame_keyid(struct host_mem *hm, pfn_t pfn)
{
	uint64_t idx = frame_index(hm, pfn);

	SCHED_POINT(SCHED_FRAME_KEY, SCHED_R, frame_obj(pfn), "host frame key");

	return atomic_load_explicit(frame_meta(hm, idx), memory_order_acquire) &
	       META_KEY_MASK;
}

bool host_frame_poisoned(struct host_mem *hm, pfn_t pfn)
{
	uint64_t idx = frame_index(hm, pfn);

	SCHED_POINT(SCHED_FRAME_KEY, SCHED_R, frame_obj(pfn), "host frame integrity");

	return atomic_load_explicit(frame_meta(hm, idx), memory_order_acquire) &
	       META_POISON;
}

bool host_frame_is_zero(struct host_mem *hm, pfn_t pfn)
{
	uint64_t idx = frame_index(hm, pfn);

	return atomic_load_explicit(frame_meta(hm, idx), memory_order_acquire) &
	       META_ZERO;
}

/*
 * The module's structures are read far more often than they are created, so
 * the common case (already materialised under this key) stores nothing: many
 * threads may call this on one S-EPT page at once.
 */
void *host_frame_raw(struct host_mem *hm, pfn_t pfn, unsigned keyid)
{
	uint64_t idx = frame_index(hm, pfn);
	struct chunk *c = chunk_peek(hm, idx);
	uint32_t m;

	check_keyid(keyid);
	/*
	 * The common case, one radix lookup: every walk of the S-EPT (the
	 * CPU's, the module's in AUG and in ACCEPT) comes here once per
	 * level, two dozen times per private fault, and the general path
	 * below looks the chunk up twice (metadata, then contents).
	 */
	if (c) {
		uint8_t *d = atomic_load_explicit(&c->data, memory_order_acquire);

		m = atomic_load_explicit(&c->meta[idx & (CHUNK_FRAMES - 1)],
					 memory_order_acquire);
		if (d && (m & (META_KEY_MASK | META_ZERO)) == keyid)
			return d + (idx & (CHUNK_FRAMES - 1)) * PAGE_SIZE;
	}
	m = meta_for_access(hm, pfn, &idx);
	if ((m & META_KEY_MASK) != keyid) {
		memset(frame_data(hm, idx), 0, PAGE_SIZE);
		meta_set(hm, idx, META_ALLOCATED | keyid);
	} else if (m & META_ZERO) {
		materialise(hm, idx, m);
		meta_set(hm, idx, (m & ~META_ZERO));
	}
	return frame_data(hm, idx);
}

void *host_frame_raw_keep(struct host_mem *hm, pfn_t pfn, unsigned keyid,
			  const _Atomic uint32_t **meta)
{
	void *d = host_frame_raw(hm, pfn, keyid);
	uint64_t idx = frame_index(hm, pfn);

	/* host_frame_raw() made the chunk if it was missing. */
	*meta = &chunk_peek(hm, idx)->meta[idx & (CHUNK_FRAMES - 1)];
	return d;
}

_Static_assert(HOST_FRAME_RAW_MASK == (META_KEY_MASK | META_ZERO),
	       "host_frame_raw_kept() tests what host_frame_raw() tests");

/* ---- accounting ---- */

static uint64_t resident_of(const void *addr, size_t bytes)
{
	unsigned char vec[CHUNK_FRAMES];
	size_t n = (bytes + PAGE_SIZE - 1) / PAGE_SIZE;
	uint64_t pages = 0;

	/* mincore() takes a non-const pointer but only inspects the page
	 * tables. */
	if (n > CHUNK_FRAMES || mincore((void *)(uintptr_t)addr, bytes, vec))
		return 0;
	for (size_t k = 0; k < n; k++)
		pages += vec[k] & 1;
	return pages * PAGE_SIZE;
}

/*
 * What the pool costs now: the radix (directory, tables, chunks' words) as
 * allocated, plus the contents' pages the kernel backs (mincore of each
 * chunk that has contents). Linear in the chunks made, not in the pool.
 */
uint64_t host_mem_resident_bytes(struct host_mem *hm)
{
	uint64_t bytes = hm->nr_dir * sizeof(*hm->dir);

	pthread_mutex_lock(&hm->lock);
	bytes += atomic_load(&hm->nr_tables) * sizeof(struct chunk_table) +
		 atomic_load(&hm->nr_chunks) * sizeof(struct chunk);
	for (struct chunk_table *t = hm->tables; t; t = t->next) {
		for (unsigned c = 0; c < TABLE_CHUNKS; c++) {
			struct chunk *ch = atomic_load_explicit(&t->chunks[c],
								memory_order_relaxed);
			uint8_t *data = ch ? atomic_load_explicit(&ch->data,
								  memory_order_relaxed) : NULL;

			if (data)
				bytes += resident_of(data, CHUNK_BYTES);
		}
	}
	pthread_mutex_unlock(&hm->lock);
	return bytes;
}
