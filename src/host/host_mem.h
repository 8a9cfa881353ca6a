/* SPDX-License-Identifier: MIT */
/*
 * Host physical memory: a pool of 4K frames with per-frame metadata, and the
 * memory controller's view of a frame (which key last wrote it, whether its
 * integrity holds). It knows frames and keys, nothing about EPTs or TDs.
 *
 * Frames are backed lazily, per 2M chunk of the pool made on first use (its
 * metadata words; its contents only once written), so the pool is virtual:
 * a 64 TiB memslot with a few pages touched costs a few MB and no time per
 * frame, and a frame in the ZERO state reads as zeros without touching any
 * backing. No per-frame allocation ever happens (host_mem.c).
 *
 * Memory encryption and integrity follow TDX's MKTME-with-integrity model, at
 * frame granularity: every write records the key id it used. A read with a key
 * other than the frame's (the host reading a TD-private frame) sees zeros, as
 * a TD-owned line reads on TDX hardware; a write with another key breaks the
 * frame's integrity (host_frame_poisoned()), and a later read with the TD's
 * key reports poison. A full-frame clear with any key restores integrity.
 *
 * Thread safety: allocation takes the pool's mutex (callers cache frames, as
 * KVM tops up its caches before taking mmu_lock). Frame content accessors are
 * safe for concurrent use on different frames; concurrent use of one frame is
 * the caller's to serialise, except that the metadata word is atomic.
 */
#ifndef TDXMMU_HOST_MEM_H
#define TDXMMU_HOST_MEM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PAGE_SHIFT 12
#define PAGE_SIZE (1ULL << PAGE_SHIFT)
#define PAGE_MASK (~(PAGE_SIZE - 1))

typedef uint64_t hpa_t; /* host physical address */
typedef uint64_t pfn_t; /* host frame number = hpa >> PAGE_SHIFT */

/* Key id 0 is the host's (shared, TDX's "private HKID < first" range); TDs
 * get key ids from HOST_FIRST_PRIVATE_KEYID on. */
#define HOST_KEYID_SHARED 0
#define HOST_FIRST_PRIVATE_KEYID 32
#define HOST_MAX_KEYID 63

/* Physical address width of the modeled platform, and where key-id bits sit
 * in an HPA (MKTME puts them at the top of the physical address). An HPA
 * handed to the TDX module must have none of them set. 47 bits (128 TiB) so
 * that a TD may have a 64 TiB memslot besides its control pages (contract
 * 1.1, "memory cost is lazy"); the six key-id bits sit at 47..52 above
 * them, never in an SPTE or S-EPT entry (both hold the frame only). */
#define HOST_MAX_PA_BITS 47
#define HOST_KEYID_SHIFT HOST_MAX_PA_BITS
#define HOST_PA_MASK ((1ULL << HOST_MAX_PA_BITS) - 1)

/* The pool's frames start here, so that small HPAs lie outside every TDMR. */
#define HOST_MEM_BASE_HPA (1ULL << 32)

struct host_mem;

/* Creates a pool of `bytes` (rounded up to 2M) of frames; NULL on failure. */
struct host_mem *host_mem_create(uint64_t bytes);
void host_mem_destroy(struct host_mem *hm);

/* First and one-past-last frame of the pool (the TDMR the module covers). */
pfn_t host_mem_first_pfn(const struct host_mem *hm);
pfn_t host_mem_end_pfn(const struct host_mem *hm);
static inline hpa_t pfn_to_hpa(pfn_t pfn) { return pfn << PAGE_SHIFT; }
static inline pfn_t hpa_to_pfn(hpa_t hpa) { return (hpa & HOST_PA_MASK) >> PAGE_SHIFT; }
bool host_mem_pfn_valid(const struct host_mem *hm, pfn_t pfn);

/*
 * Allocation. A single frame comes back in the ZERO state (reads as zeros,
 * key HOST_KEYID_SHARED, integrity intact). A range is `nr` contiguous
 * frames aligned to `align` frames (a power of two), for memslot backing.
 * Return 0 or -ENOMEM (-EINVAL for nr == 0 or an align that is not a power
 * of two). Freeing a frame that is not allocated (double free) is a bug of
 * the caller: it is reported on stderr and aborts.
 */
int host_mem_alloc_frame(struct host_mem *hm, pfn_t *pfn);
int host_mem_alloc_range(struct host_mem *hm, uint64_t nr, uint64_t align,
			 pfn_t *first);
void host_mem_free_frame(struct host_mem *hm, pfn_t pfn);
void host_mem_free_range(struct host_mem *hm, pfn_t first, uint64_t nr);
/* Frames currently allocated (pool bookkeeping; for leak checks). */
uint64_t host_mem_frames_in_use(const struct host_mem *hm);
bool host_mem_frame_allocated(struct host_mem *hm, pfn_t pfn);

/*
 * Content, as seen through key `keyid`. Offsets and lengths stay inside one
 * frame, and the frame must be allocated (else: abort). read: fills zeros if
 * the frame's content was written with another key (*poisoned = false then);
 * sets *poisoned (buffer zero-filled) when reading with the frame's own key a
 * frame whose integrity is broken. `poisoned` may be NULL. write: a partial
 * write with another key to a frame holding a private key poisons it (the
 * frame keeps its key); any other write with another key makes the frame the
 * writer's, the old content lost.
 */
void host_frame_read(struct host_mem *hm, pfn_t pfn, size_t off, void *buf,
		     size_t len, unsigned keyid, bool *poisoned);
void host_frame_write(struct host_mem *hm, pfn_t pfn, size_t off,
		      const void *buf, size_t len, unsigned keyid);
/* Whole-frame operations, O(1) in memory: clear marks the frame ZERO under
 * `keyid` (MOVDIR64B-style: integrity restored, no backing touched). */
void host_frame_clear(struct host_mem *hm, pfn_t pfn, unsigned keyid);
/* host_frame_clear() of frames [pfn, pfn + n), with one metadata lookup per
 * chunk rather than per frame. */
void host_frame_clear_range(struct host_mem *hm, pfn_t pfn, uint64_t n,
			    unsigned keyid);
void host_frame_fill(struct host_mem *hm, pfn_t pfn, uint8_t byte,
		     unsigned keyid);
/* Copies a whole frame's content (read with src_keyid) to dst (written with
 * dst_keyid), as TDH.MEM.PAGE.ADD copies a source page in. */
void host_frame_copy(struct host_mem *hm, pfn_t dst, unsigned dst_keyid,
		     pfn_t src, unsigned src_keyid);

unsigned host_frame_keyid(struct host_mem *hm, pfn_t pfn);
bool host_frame_poisoned(struct host_mem *hm, pfn_t pfn);
bool host_frame_is_zero(struct host_mem *hm, pfn_t pfn);

/*
 * Raw access for the TDX module's own structures stored in frames (S-EPT
 * pages: 512 atomic 64-bit entries). Materialises the frame (drops the ZERO
 * state, zero-filling the backing) and tags it with `keyid`. Never used by
 * KVM or the CPU model.
 */
void *host_frame_raw(struct host_mem *hm, pfn_t pfn, unsigned keyid);

/*
 * host_frame_raw() for a caller that keeps the pointer (the CPU's walk
 * hint, tdx/module.c): also gives the frame's metadata word. While
 * host_frame_raw_kept() reads true of it, host_frame_raw(pfn, keyid) would
 * return the same pointer without storing anything (its common case: a
 * frame's contents never move once made, and the word says the frame is
 * still materialised under keyid).
 */
void *host_frame_raw_keep(struct host_mem *hm, pfn_t pfn, unsigned keyid,
			  const _Atomic uint32_t **meta);
#define HOST_FRAME_RAW_MASK 0x1ffu /* host_mem.c: META_KEY_MASK | META_ZERO */
static inline bool host_frame_raw_kept(const _Atomic uint32_t *meta, unsigned keyid)
{
	return (atomic_load_explicit(meta, memory_order_acquire) & HOST_FRAME_RAW_MASK) ==
	       keyid;
}

/* Memory the pool costs now, bytes: its metadata as allocated and the
 * resident pages of frame contents (mincore). Linear in the 2M chunks the
 * pool has made, never in its size. */
uint64_t host_mem_resident_bytes(struct host_mem *hm);

/*
 * Memslots: guest memory [base_gfn, base_gfn + npages) backed by a contiguous
 * range of frames. GFNs here never carry the shared bit: both aliases of a
 * page resolve to the same memslot (as in KVM).
 */
struct host_memslot {
	unsigned id;
	uint64_t base_gfn;
	uint64_t npages;
	pfn_t first_pfn;
	/* Backed by 2M host pages (contract 1.1 `hugepages=on`, the model's
	 * stand-in for huge guest_memfd folios, hugepages ref §1.2, §2.1.2):
	 * base_gfn, npages and first_pfn are multiples of 512, so every
	 * 2M-aligned gfn run of the slot is one 2M-aligned run of frames. */
	bool hugepages;
};

/* Frames of a 2M host page. */
#define HOST_HUGE_FRAMES 512ULL

/* How many memslots may exist at once (ids are any 32-bit number). KVM
 * allows 32764 per address space; the model's users need a few, and the
 * fixed bound keeps MapGPA's per-slot ranges on the stack (mapgpa.c). */
#define HOST_MAX_MEMSLOTS 64

struct host_memslots;
struct host_memslots *host_memslots_create(struct host_mem *hm);
void host_memslots_destroy(struct host_memslots *ms);
/* Waits until the arrays replaced so far are freed (outside any read-side
 * section); how many have been, for tests. */
void host_memslots_quiesce(struct host_memslots *ms);
uint64_t host_memslots_arrays_freed(struct host_memslots *ms);
/* 0, -EEXIST (id in use or range overlaps), -ENOSPC (HOST_MAX_MEMSLOTS
 * slots exist), -EINVAL (npages 0 or the range wraps), -ENOMEM. */
int host_memslot_add(struct host_memslots *ms, unsigned id, uint64_t base_gfn,
		     uint64_t npages);
/* The same, backed by 2M pages when `hugepages`: then base_gfn and npages
 * must be multiples of HOST_HUGE_FRAMES (else -EINVAL). */
int host_memslot_add_huge(struct host_memslots *ms, unsigned id, uint64_t base_gfn,
			  uint64_t npages, bool hugepages);
/* Frees the backing frames; the caller must have unmapped them first.
 * 0, -ENOENT (no slot with that id), -ENOMEM. */
int host_memslot_delete(struct host_memslots *ms, unsigned id);
/*
 * Lookups copy the slot to *out (may be NULL: only whether it exists) and
 * return whether one was found. Lock-free: the array is read in an RCU
 * read-side section and freed through call_rcu when a change replaces it,
 * so no caller ever holds a pointer into it (memslot.c). A copy is a
 * snapshot: a caller that needs the slot to stay holds what excludes its
 * deletion (KVM: mmu_lock, as kvm_delete_memslot deletes under it).
 */
bool host_memslot_find(struct host_memslots *ms, uint64_t gfn,
		       struct host_memslot *out);
bool host_memslot_by_id(struct host_memslots *ms, unsigned id,
			struct host_memslot *out);
static inline pfn_t host_memslot_gfn_to_pfn(const struct host_memslot *s,
					    uint64_t gfn)
{
	return s->first_pfn + (gfn - s->base_gfn);
}
/* Calls fn for every slot in ascending gfn order, inside an RCU read-side
 * section: fn copies what it needs and must not wait for a grace period. */
void host_memslots_foreach(struct host_memslots *ms,
			   void (*fn)(const struct host_memslot *s, void *arg),
			   void *arg);

#endif /* TDXMMU_HOST_MEM_H */
