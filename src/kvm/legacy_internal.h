/* SPDX-License-Identifier: MIT */
/*
 * Internals shared by the legacy MMU's files (mmu_legacy.h has the
 * interface): the shadow-page hash and lists (legacy_mmu.c), the rmap
 * (legacy_rmap.c), the SPTE setter. Unit tests include this too.
 *
 * Everything here is changed only with kvm->mmu_lock held for write (seed
 * 000: the legacy MMU is write-protected by mmu_lock). SPTEs are still
 * written with atomic stores, because the CPU model walks the shared EPT
 * and observers read both trees without the lock.
 */
#ifndef TDXMMU_KVM_LEGACY_INTERNAL_H
#define TDXMMU_KVM_LEGACY_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "kvm/kvm.h"
#include "kvm/kvm_sched.h"
#include "kvm/mmu_legacy.h"
#include "kvm/mmu_page.h"
#include "kvm/spte.h"

/* ---- shadow pages (legacy_mmu.c) ---- */

/*
 * What the legacy MMU keeps per shadow page besides the table itself (the
 * arena's struct kvm_mmu_page, whose layout the TDP MMU and the CPU model
 * share): the hash link and the list link of KVM's kvm_mmu_page
 * (hash_link, link). Kept in a side table, allocated in chunks, so that the
 * shared struct stays as it is.
 */
struct legacy_sp {
	struct kvm_mmu_page *sp;
	gfn_t gfn;       /* == sp->gfn (shared bit included in the shared tree) */
	unsigned level;  /* == sp->role.level */
	bool is_private; /* == sp->role.is_private */
	struct legacy_sp *hash_next;
	struct legacy_sp *prev, *next; /* on the private or the shared list */
};

#define LEGACY_HASH_BITS 12
#define LEGACY_HASH_SIZE (1u << LEGACY_HASH_BITS)
#define LEGACY_SP_PER_CHUNK 64

struct legacy_sp_chunk {
	struct legacy_sp sps[LEGACY_SP_PER_CHUNK];
	struct legacy_sp_chunk *next;
};

/* ---- rmap (legacy_rmap.c) ---- */

/*
 * An rmap head is KVM's pte_list: 0 (empty), one SPTE pointer (bit 0 clear),
 * or a pointer to a chain of descriptors (bit 0 set). Heads live in one
 * array per memslot (KVM's kvm_arch_memory_slot.rmap), allocated when the
 * slot is first mapped; descriptors come from a pool grown in chunks. So
 * the fault path never allocates per page.
 */
#define PTE_LIST_EXT 6
struct pte_list_desc {
	_Atomic uint64_t *sptes[PTE_LIST_EXT];
	unsigned nr;
	struct pte_list_desc *more;
};

#define LEGACY_DESCS_PER_CHUNK 256
struct pte_list_chunk {
	struct pte_list_desc descs[LEGACY_DESCS_PER_CHUNK];
	struct pte_list_chunk *next;
};

/*
 * A slot's heads, allocated only where gfns are mapped (issue 11, item 2.8:
 * one head per gfn up front made a 64 TiB slot cost 128 GiB): a directory
 * with one entry per 1G of gfns, each pointing to a table of 512 chunk
 * pointers, each chunk the 512 heads of one 2M range. A chunk is allocated
 * on the first rmap_add in its range and kept until the slot goes.
 */
#define RMAP_CHUNK_SHIFT 9                    /* 512 heads: 2M of gfns */
#define RMAP_TABLE_SHIFT 9                    /* 512 chunks: 1G of gfns */
#define RMAP_CHUNK_HEADS (1u << RMAP_CHUNK_SHIFT)
#define RMAP_TABLE_CHUNKS (1u << RMAP_TABLE_SHIFT)
struct legacy_rmap_chunk {
	uintptr_t heads[RMAP_CHUNK_HEADS];
};
struct legacy_rmap_table {
	struct legacy_rmap_chunk *chunks[RMAP_TABLE_CHUNKS];
};

struct legacy_rmap_slot {
	bool used;
	gfn_t base_gfn;
	uint64_t npages;
	struct legacy_rmap_table **dir; /* one per 1G of the slot, or NULL */
	uint64_t nr_dir;
	uint64_t nr_entries;
};

struct legacy_rmap {
	struct legacy_rmap_slot slots[HOST_MAX_MEMSLOTS];
	struct legacy_rmap_slot *last; /* last slot found */
	struct pte_list_desc *free_descs;
	struct pte_list_chunk *chunks;
	uint64_t nr_allocs; /* calls to the allocator: slot directories, head
			       tables and chunks, desc chunks */
};

struct kvm_legacy_mmu {
	struct legacy_sp *hash[LEGACY_HASH_SIZE];
	struct legacy_sp private_pages; /* list heads (KVM: private_mmu_pages) */
	struct legacy_sp shared_pages;  /* (KVM: active_mmu_pages) */
	uint64_t nr_private_pages, nr_shared_pages;
	struct legacy_sp_chunk *sp_chunks;
	struct legacy_sp *sp_free;
	uint64_t nr_sp_allocs;
	struct legacy_rmap rmap;
};

static inline struct kvm_legacy_mmu *to_legacy(const struct kvm *kvm)
{
	return kvm->legacy_mmu;
}

/* The hash lookup (KVM's for_each_valid_sp on the gfn bucket): the shadow
 * page of this tree whose table at `level` starts at `gfn`, or NULL. */
struct legacy_sp *legacy_sp_lookup(struct kvm *kvm, gfn_t gfn, unsigned level,
				   bool is_private);
/* Registers a new table (hash + list). -ENOMEM. */
int legacy_sp_register(struct kvm *kvm, struct kvm_mmu_page *sp);
/* Unregisters and frees the side entry (not the table). */
void legacy_sp_unregister(struct kvm *kvm, struct legacy_sp *lsp);
/* Bucket index of (gfn, level, is_private): exposed for the unit test of
 * collisions. */
unsigned legacy_sp_hash(gfn_t gfn, unsigned level, bool is_private);

/*
 * The 4K entry for raw gfn (shared bit included for the shared tree) found
 * through the hash (the level-1 table's (gfn, role)), or NULL when that
 * table does not exist. Write lock held.
 */
_Atomic uint64_t *legacy_lookup_4k_sptep(struct kvm *kvm, gfn_t raw_gfn, bool is_private);

/*
 * Walks from the root down to the 4K entry of raw_gfn in one tree, linking
 * every missing table (private: SEPT.ADD with a frame from sept_cache).
 * *sptep = the 4K entry. 0; -EBUSY (SEPT.ADD busy: that table not linked);
 * -EAGAIN (sept_cache empty: tables linked so far stay); -ENOMEM; -EIO.
 */
int legacy_get_4k_sptep(struct kvm *kvm, gfn_t raw_gfn, bool is_private,
			struct kvm_mmu_memory_cache *sept_cache, _Atomic uint64_t **sptep);

/* The gfn (shared bit included in the shared tree) an entry of a table maps. */
gfn_t legacy_sptep_gfn(const _Atomic uint64_t *sptep);

/* THE SPTE setter: atomic store, kvm->mmu_change_seq bumped, traced. */
void legacy_set_spte(struct kvm *kvm, _Atomic uint64_t *sptep, uint64_t new_spte);

static inline uint64_t legacy_read_spte_raw(const _Atomic uint64_t *sptep)
{
	return atomic_load_explicit(sptep, memory_order_acquire);
}

/* An SPTE read, with its schedule point at the caller's line (the tree is
 * looked up only while exploring). */
#define legacy_read_spte(sptep_)                                               \
	({                                                                     \
		const _Atomic uint64_t *legacy_p_ = (sptep_);                  \
		KVM_LEGACY_SPTE_POINT(SCHED_SPTE_READ, SCHED_R,                \
				      sptep_to_sp(legacy_p_)->role.is_private, \
				      legacy_p_);                              \
		legacy_read_spte_raw(legacy_p_);                               \
	})

/* The PRIVATE_ZAPPED value: non-present (suppress-#VE set, as reference
 * §1.2 says a model should, unlike E1), frame kept, no SPTE_SHARED_MASK (a
 * present private entry never has it). */
static inline uint64_t make_private_zapped_spte(uint64_t old_spte)
{
	return SHADOW_NONPRESENT_VALUE | SPTE_PRIVATE_ZAPPED |
	       (old_spte & (SPTE_BASE_ADDR_MASK | PT_PAGE_SIZE_MASK));
}

/* ---- rmap API (legacy_rmap.c); gfns never carry the shared bit ---- */

void legacy_rmap_init(struct legacy_rmap *r);
void legacy_rmap_destroy(struct legacy_rmap *r);
/* Adds sptep to gfn's rmap. 0; -ENOENT (no memslot covers gfn); -ENOMEM. */
int legacy_rmap_add(struct kvm *kvm, gfn_t gfn, _Atomic uint64_t *sptep);
/* 0, or -ENOENT when sptep is not in gfn's rmap. */
int legacy_rmap_remove(struct kvm *kvm, gfn_t gfn, _Atomic uint64_t *sptep);
bool legacy_rmap_contains(struct kvm *kvm, gfn_t gfn, const _Atomic uint64_t *sptep);
unsigned legacy_rmap_count(struct kvm *kvm, gfn_t gfn);
/*
 * Calls fn for every SPTE in the rmaps of the gfns of [start, end) (only the
 * gfns that have an rmap array, i.e. memslot-covered and mapped once). fn
 * returns true to drop the entry from the rmap (KVM's pte_list removal in
 * the walk). The walk stops early when fn sets *stop.
 */
typedef bool (*legacy_rmap_fn)(struct kvm *kvm, gfn_t gfn, _Atomic uint64_t *sptep,
			       void *arg);
void legacy_rmap_walk_range(struct kvm *kvm, gfn_t start, gfn_t end, legacy_rmap_fn fn,
			    void *arg);
/* Frees the rmap array of the slot [base_gfn, +npages) (its memslot is
 * going away). Returns the entries it still held (0 when KVM zapped it all). */
uint64_t legacy_rmap_drop_slot(struct kvm *kvm, gfn_t base_gfn, uint64_t npages);
/* Entries in all rmaps, and allocator calls so far (tests). */
uint64_t legacy_rmap_nr_entries(struct kvm *kvm);
uint64_t legacy_rmap_nr_allocs(struct kvm *kvm);

/* ---- zap helpers (legacy_zap.c), write lock held ---- */

/* What an rmap zap walk did. */
struct legacy_zap_stats {
	unsigned long private_blocked;  /* present -> PRIVATE_ZAPPED */
	unsigned long private_removed;  /* -> non-present, PAGE.REMOVE */
	unsigned long shared_zapped;    /* present -> non-present */
};

/*
 * The rmap zap of [start, end) (gfns without the shared bit) on the chosen
 * aliases: every present private leaf BLOCKed and made PRIVATE_ZAPPED (kept
 * in the rmap), every present shared leaf cleared and dropped from the rmap;
 * then ONE kvm_flush_remote_tlbs() if anything changed. With `remove`, a
 * second rmap walk then removes every PRIVATE_ZAPPED leaf of the range
 * (PAGE.REMOVE: it is blocked and tracked; no second BLOCK) and drops it
 * from the rmap. 0 or -EIO.
 */
int legacy_zap_range(struct kvm *kvm, gfn_t start, gfn_t end, bool private_alias,
		     bool shared_alias, bool remove, struct legacy_zap_stats *st);

#endif /* TDXMMU_KVM_LEGACY_INTERNAL_H */
