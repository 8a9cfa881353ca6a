/* SPDX-License-Identifier: MIT */
/*
 * Inside the emulated TDX module: its data (PAMT, TDR/TDCS control state, vCPU
 * state, epochs) and the steps every SEAMCALL handler is built from. One file
 * per SEAMCALL (tdh_*.c, tdg_*.c), as in the TDX module's source layout; each
 * handler runs the common prologue of tdx-module-sept.md §3 in its order, so
 * that when several preconditions fail the same error wins as on hardware.
 *
 * Lock discipline (§11): every lock is a try-lock; a handler records what it
 * holds in its struct sept_ctx and releases everything at one exit point
 * (sept_ctx_release), in reverse order. Nothing is committed before every
 * check has passed: the commit part of a handler cannot fail.
 */
#ifndef TDXMMU_TDX_INTERNAL_H
#define TDXMMU_TDX_INTERNAL_H

#include <nettle/sha2.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "host/host_mem.h"
#include "host/shape_count.h"
#include "host/trace.h"
#include "tdx/sept.h"
#include "tdx/seamcall.h"
#include "tdx/tdx_locks.h"
#include "tdx/tdx_module.h"
#include "tdx/tdx_status.h"

/* ---- PAMT (§2.2) ------------------------------------------------------- */

/*
 * One 64-bit word per page per page size (the real entry is 16 bytes; the
 * model packs it into 8 to stay within its memory budget):
 *   bits 15:0  host-priority sharex lock (tdx_locks.h)
 *   bits 19:16 page type (enum tdx_page_type)
 *   bits 31:20 owner: index of the TD in the module's TD table (0 = none),
 *              standing for the real entry's TDR PA
 *   bits 63:32 bepoch: the TD epoch at RANGE.BLOCK time (the real field is
 *              64 bits with a migration flag; the model never migrates)
 */
#define PAMT_PT_SHIFT 16
#define PAMT_PT_MASK (0xFULL << PAMT_PT_SHIFT)
#define PAMT_OWNER_SHIFT 20
#define PAMT_OWNER_MASK (0xFFFULL << PAMT_OWNER_SHIFT)
#define PAMT_BEPOCH_SHIFT 32
#define TDX_MAX_TDS 4095

struct pamt_table;

#define PAMT_WB_LOCKS 16

/* pamt.r1g: one cache line per thread slot per 1G entry, its first word
 * the slot's hold word (tdx_locks.h; field 0, the entry's lock). */
#define PAMT_R1G_LINE_WORDS (HOST_CACHELINE / sizeof(uint64_t))
#define PAMT_R1G_WORDS (HOST_THREAD_SLOTS * PAMT_R1G_LINE_WORDS)

struct pamt {
	pfn_t base;        /* first frame of the TDMR */
	uint64_t nr;       /* frames covered */
	/*
	 * 4K entries, sparse (issue 11, item 2.8: a flat array was 8 bytes
	 * per frame of the TDMR, 128 GiB of address space for a 64 TiB
	 * pool): a directory with one table per 1G of frames, each table 512
	 * leaves of the 512 entries of a 2M range, made on first use
	 * (pamt.c). The 2M and 1G arrays stay flat (1/512 of that).
	 */
	_Atomic(struct pamt_table *) *dir;
	uint64_t nr_dir;
	_Atomic uint64_t nr_leaves, nr_tables;
	_Atomic uint64_t *e2m, *e1g;
	/*
	 * Shared holders of each 1G entry's lock, per thread slot, each on a
	 * cache line of its own: the counts of 1G entry i are the
	 * HOST_THREAD_SLOTS lines from r1g + i * PAMT_R1G_WORDS (1 KiB per
	 * entry, mapped demand-zero). Every AUG's PAMT walk takes the 1G
	 * entry above its page shared (§2.2), so with the count in the entry
	 * every private fault of every vCPU would write the same few lines
	 * (tdx_locks.h says why that matters here). Grouped by entry rather
	 * than by slot, so that reading all the counts of one entry (the
	 * exclusive side, the check) touches one page, not one per slot.
	 * The entry word keeps EXCL and HP; an exclusive attempt on a 1G
	 * entry also needs its counts here at zero (tdx_pamt_try_lock()).
	 */
	_Atomic uint64_t *r1g;
	/*
	 * What was touched, so that the walks over the PAMT (the check's
	 * lock scan, the debug counts, teardown) cost what the TDs used, not
	 * the TDMR's size (the default TDMR is 128 TiB: 2^17 1G entries,
	 * each with 16 lines of counts; issue 12 re-runs whole scenarios
	 * thousands of times a second). pamt_entry() at any level makes the 1G range's
	 * table, and every table is on this list, newest first, pushed
	 * before the directory publishes it: so a 1G, 2M or 4K entry (and
	 * the 1G entry's r1g counts) can be other than zero only in a 1G
	 * range on the list. The list only grows, under table_lock;
	 * readers walk it without the lock.
	 */
	_Atomic(struct pamt_table *) tables;
	pthread_mutex_t table_lock;
	/* Serialise the changes of a 2M dirty-line record with the 4K
	 * records it splits into (module.c, tdx_page_written_back()); by 2M
	 * range, striped. */
	pthread_mutex_t wb_lock[PAMT_WB_LOCKS];
	/* dir, e2m, e1g and r1g: one demand-zero mapping (pamt_init). */
	void *map;
	size_t map_bytes;
};

/*
 * One 2M range's 4K entries and, beside them, the dirty cache lines of each
 * freed page: key id (bits 7:0, 0 = none) and that key's write-back count
 * (bits 31:8); see tdx_page_freed(). Made together on first use, so that
 * the dirty-line record costs nothing for frames never used (a flat array
 * was 4 bytes per frame: 128 GiB of address space for the default pool,
 * more than valgrind can map).
 */
struct pamt_leaf {
	_Atomic uint64_t e4k[512];
	_Atomic uint32_t wb[512];
};

/* The index of e among the 1G entries, or -1 if e is not one. */
static inline int64_t pamt_1g_index(const struct pamt *p, const _Atomic uint64_t *e)
{
	uint64_t n = (p->nr + 512 * 512 - 1) / (512 * 512);

	return e >= p->e1g && e < p->e1g + n ? (int64_t)(e - p->e1g) : -1;
}

/* The counts of the 1G entry at index. The index must be that of an entry
 * pamt_entry() or pamt_walk() gave out: only those ranges are scanned by
 * tdx_debug_locks_held() (see struct pamt's `tables`). */
static inline _Atomic uint64_t *pamt_1g_readers(struct pamt *p, uint64_t index,
						unsigned slot)
{
	return &p->r1g[index * PAMT_R1G_WORDS + slot * PAMT_R1G_LINE_WORDS];
}

/* The 1G entry e at index as a lock with counted shared holders. */
static inline struct sharex_counted pamt_1g_lock(struct pamt *p, _Atomic uint64_t *e,
						 uint64_t index)
{
	return (struct sharex_counted){ .word = e, .holds0 = pamt_1g_readers(p, index, 0),
					.stride = PAMT_R1G_LINE_WORDS * sizeof(uint64_t),
					.shift = 0, .hp = true };
}

/* Counted shared holders of the 1G entry at index, summed (seq_cst: the
 * exclusive side's read of tdx_locks.h's protocol). */
static inline uint64_t pamt_1g_shared_holders(struct pamt *p, uint64_t index)
{
	return holds_sum(pamt_1g_readers(p, index, 0), PAMT_R1G_LINE_WORDS * sizeof(uint64_t)) &
	       HOLDS_FIELD_MASK;
}

static inline enum tdx_page_type pamt_pt(uint64_t e)
{
	return (enum tdx_page_type)((e & PAMT_PT_MASK) >> PAMT_PT_SHIFT);
}
static inline unsigned pamt_owner(uint64_t e)
{
	return (unsigned)((e & PAMT_OWNER_MASK) >> PAMT_OWNER_SHIFT);
}
static inline uint32_t pamt_bepoch(uint64_t e)
{
	return (uint32_t)(e >> PAMT_BEPOCH_SHIFT);
}

int pamt_init(struct pamt *p, pfn_t base, uint64_t nr);
void pamt_fini(struct pamt *p);
uint64_t pamt_resident_bytes(const struct pamt *p);
/* Inline: every SEAMCALL's HPA checks and each lookup of a vCPU by its
 * TDVPR ask, about a dozen times per private fault. */
static inline bool pamt_covers(const struct pamt *p, pfn_t pfn)
{
	return pfn >= p->base && pfn - p->base < p->nr;
}
/* Calls fn(index, arg) for every 1G range of the TDMR (index from 0 at
 * base) that the PAMT has handed out an entry in: the only ranges whose
 * entries, at any size, and 1G counts can be other than zero. */
void pamt_foreach_1g(const struct pamt *p, void (*fn)(uint64_t index, void *arg),
		     void *arg);
/* pfn's dirty-line record (struct pamt_leaf), made on first use. */
_Atomic uint32_t *pamt_wb(struct pamt *p, pfn_t pfn);
/* The same, or NULL if pfn's leaf was never made (the record reads 0). */
_Atomic uint32_t *pamt_wb_if_present(const struct pamt *p, pfn_t pfn);
/*
 * The dirty-line record of a 2M page freed whole (tdx_page_freed()): bits
 * 31:0 a 4K record's value, bits 41:32 the first 4K page of the range it
 * still stands for (the pages below were written back, in order, by
 * TDH.PHYMEM.PAGE.WBINVD, as KVM goes through them after a 2M REMOVE,
 * hugepages ref §6.3); 0 none. Where it stands it hides the 4K record.
 * Changed under pamt_wb_lock().
 */
#define PAMT_WB2M_NEXT_SHIFT 32
static inline unsigned pamt_wb2m_next(uint64_t w)
{
	return (unsigned)(w >> PAMT_WB2M_NEXT_SHIFT) & 0x3FF;
}
_Atomic uint64_t *pamt_wb2m(struct pamt *p, pfn_t pfn);
/* Its value, 0 if pfn's 1G table was never made. */
uint64_t pamt_wb2m_if_present(const struct pamt *p, pfn_t pfn);
pthread_mutex_t *pamt_wb_lock(struct pamt *p, pfn_t pfn);
/* The record in force for 4K page j of a 2M range, from the range's 2M
 * record and the page's 4K one (NULL: no leaf). */
uint32_t pamt_wb_effective(uint64_t wb2m, const _Atomic uint32_t *wb4k, unsigned j);
/* Calls fn for every frame whose dirty-line record in force is not 0,
 * without making any leaf; returns the sum of what fn returned. */
uint64_t pamt_wb_foreach(struct pamt *p,
			 uint64_t (*fn)(pfn_t pfn, uint32_t rec, void *arg),
			 void *arg);
/* The count of shared holds of 4K entries of pfn's 2M range taken while the
 * range's leaf did not exist, and the attempt at one (pamt.c says how it
 * keeps out exclusive holders): true = held, release by decrementing. */
bool pamt_4k_try_shared_absent(struct pamt *p, pfn_t pfn, _Atomic uint32_t *readers);
/* All such holds in one 1G range (the check's lock scan). */
uint64_t pamt_1g_absent_readers(const struct pamt *p, uint64_t index);
/*
 * The 4K entries of a 1G range: a leaf per 2M range, made on first use.
 * Beside each leaf pointer, two words for its 2M range that must exist
 * whether or not the leaf does (a 1 TiB TD mapped at 2M makes no leaf; its
 * teardown must not make 524,288 of them, 3 GiB):
 *  - absent_readers: shared holds of 4K entries of the range taken while
 *    its leaf did not exist (pamt_4k_try_shared_absent());
 *  - wb2m: the dirty-line record of a 2M page freed whole (module.c,
 *    tdx_page_freed()), standing for the records of its 4K pages from
 *    pamt_wb2m_next() up.
 */
struct pamt_table {
	_Atomic(struct pamt_leaf *) leaf[512];
	_Atomic uint32_t absent_readers[512];
	_Atomic uint64_t wb2m[512];
	struct pamt_table *next; /* made before this one */
	uint64_t index;          /* the 1G range: (pfn - base) >> 18 */
};
/* The first uses (pamt.c): the 1G range's table, the 2M range's leaf. */
struct pamt_table *pamt_table_make(struct pamt *p, uint64_t off);
struct pamt_leaf *pamt_leaf_make(struct pamt *p, uint64_t off);

/* Inline, the lookups that succeed (all but once per 1G or 2M range): about
 * twenty PAMT lookups per private fault come through here. */
static inline struct pamt_table *pamt_table_of(struct pamt *p, uint64_t off)
{
	struct pamt_table *t = atomic_load_explicit(&p->dir[off >> 18],
						    memory_order_acquire);

	return t ? t : pamt_table_make(p, off);
}

/* The 2M range's leaf if it has been made, else NULL (nothing is made). */
static inline struct pamt_leaf *pamt_leaf_present(const struct pamt *p, uint64_t off)
{
	struct pamt_table *t = atomic_load_explicit(&p->dir[off >> 18],
						    memory_order_acquire);

	return t ? atomic_load_explicit(&t->leaf[(off >> 9) & 511], memory_order_acquire) : NULL;
}

static inline struct pamt_leaf *pamt_leaf_of(struct pamt *p, uint64_t off)
{
	struct pamt_leaf *cur = pamt_leaf_present(p, off);

	return cur ? cur : pamt_leaf_make(p, off);
}

/* Whether pfn's 4K entry has been made (an absent one reads as PT_NDA):
 * for walks over the whole TDMR that must not make every leaf. */
static inline bool pamt_4k_present(const struct pamt *p, pfn_t pfn)
{
	return pamt_leaf_present(p, pfn - p->base);
}

/* pamt_4k_try_shared_absent()'s count for pfn's 2M range. */
static inline _Atomic uint32_t *pamt_4k_absent_readers(struct pamt *p, pfn_t pfn)
{
	uint64_t off = pfn - p->base;

	return &pamt_table_of(p, off)->absent_readers[(off >> 9) & 511];
}

/* Whether such a hold stands in pfn's 2M range: an exclusive locker of a
 * 4K entry asks once it holds the entry, and backs off with BUSY. Inline:
 * every 4K AUG asks. */
static inline bool pamt_4k_absent_held(struct pamt *p, pfn_t pfn)
{
	_Atomic uint32_t *readers = pamt_4k_absent_readers(p, pfn);

	SCHED_POINT(SCHED_TDX_LOCK, SCHED_R, readers,
		    "PAMT 4K entry lock, no leaf (shared holds?)");
	return atomic_load_explicit(readers, memory_order_seq_cst) != 0;
}

/* The entry of pfn's page at `size_level` (0 4K, 1 2M, 2 1G). */
static inline _Atomic uint64_t *pamt_entry(struct pamt *p, pfn_t pfn, unsigned size_level)
{
	uint64_t off = pfn - p->base;

	if (size_level == 0)
		return &pamt_leaf_of(p, off)->e4k[off & 511];
	/* The 1G range goes on the list of those touched (struct pamt);
	 * after the first time, one load of a cached pointer. */
	pamt_table_of(p, off);
	return size_level == 1 ? &p->e2m[off >> 9] : &p->e1g[off >> 18];
}
/* The PAMT walk: 1G, then 2M, then 4K, stopping at the first PT_REG entry;
 * returns that entry and its size level. */
_Atomic uint64_t *pamt_walk(struct pamt *p, pfn_t pfn, unsigned *size_level);
/* Rewrites the fields of an entry the caller holds locked, keeping the lock
 * bits (other threads may set the HP bit at any time). */
void pamt_set(_Atomic uint64_t *e, enum tdx_page_type pt, unsigned owner,
	      uint32_t bepoch);
void pamt_set_bepoch(_Atomic uint64_t *e, uint32_t bepoch);
/* All 512 4K entries of the 2M range at pfn (2M aligned) are PT_NDA. */
bool pamt_2m_range_free(struct pamt *p, pfn_t pfn);

/* ---- keys and caches ------------------------------------------------------ */

struct tdx_td;

enum tdx_kot_state {
	KOT_HKID_FREE = 0,
	KOT_HKID_ASSIGNED,
	KOT_HKID_FLUSHED,
};
/* Sub-blocks of the package's caches CACHE.WB writes back one at a time,
 * checking for a pending host interrupt between them. */
#define TDX_CACHE_WB_SUB_BLOCKS 4

/*
 * The module's record of cache lines a freed page may still hold dirty
 * (one word per 4K frame, in struct pamt): the key they were written under
 * and the key's write-back count then. A page the module hands back (REMOVE,
 * SEPT.REMOVE, PROMOTE's S-EPT page, RELOCATE's old page, RECLAIM) has lines
 * under the TD's key until TDH.PHYMEM.PAGE.WBINVD names the page with that
 * key or a CACHE.WB covering the key completes; the TDR's are under
 * TDX_GLOBAL_KEYID, which no CACHE.WB covers. Pages reclaimed once the TD's
 * key is free were covered by its CACHE.WB already. The real module keeps no
 * such record (it has caches); the model keeps it so that a VMM that skips
 * or misaims a write-back is seen (tdx_debug_frame_dirty).
 */
void tdx_page_freed(struct tdx_module *m, struct tdx_td *td, pfn_t pfn,
		    unsigned size_level, bool is_tdr);
/* TDH.PHYMEM.PAGE.WBINVD of the 4K page pfn under key (the caller holds its
 * PAMT entry shared): a record of dirty lines under that key goes; under
 * another key it stays. */
void tdx_page_written_back(struct tdx_module *m, pfn_t pfn, unsigned key);

/* ---- TD control state (TDR + TDCS, §2.1) --------------------------------- */

enum td_lifecycle {
	TD_HKID_ASSIGNED = 0,
	TD_KEYS_CONFIGURED = 1,
	TD_BLOCKED = 2,
	TD_TEARDOWN = 3,
};

enum td_op_state {
	OP_UNINITIALIZED = 0,
	OP_INITIALIZED = 1,
	OP_RUNNABLE = 2,
	OP_LIVE_EXPORT = 3,
	OP_PAUSED_EXPORT = 4,
	OP_POST_EXPORT = 5,
	OP_MEMORY_IMPORT = 6,
	OP_STATE_IMPORT = 7,
	OP_POST_IMPORT = 8,
	OP_LIVE_IMPORT = 9,
	OP_FAILED_IMPORT = 10,
	OP_NR_STATES,
};

#define TDX_MAX_VCPUS_PER_TD 64

struct tdx_vcpu {
	pfn_t tdvpr;
	unsigned index;
	bool initialized;   /* TDH.VP.INIT done */
	bool associated;    /* has run on an LP since the last VP.FLUSH */
	/* Guest-mode bookkeeping for TLB tracking (§6). Written by the vCPU's
	 * own thread (VP.ENTER / TD exit) only. in_guest is claimed with a
	 * compare-exchange by TDH.VP.ENTER, so that two entries of one vCPU
	 * racing on two threads (a caller bug the module must still answer,
	 * as the real module's LP association does) cannot both succeed. */
	_Atomic bool in_guest;
	uint64_t vcpu_epoch;
} __attribute__((aligned(HOST_CACHELINE))); /* one line per vCPU: entries
					       * and exits write it */

struct tdx_td {
	unsigned index;              /* owner id in the PAMT */
	pfn_t tdr;
	_Atomic int lifecycle;       /* enum td_lifecycle */
	bool fatal;
	unsigned hkid;
	unsigned num_tdcx;
	pfn_t tdcx[TDX_NUM_TDCS_PAGES];
	/* CHLDCNT, 4K-equivalents owned by the TD: tdx_chldcnt(). */

	/* TDCS */
	_Atomic int op_state;        /* enum td_op_state */
	/* Taken shared by every memory SEAMCALL and VP.ENTER. The words keep
	 * EXCL and HP; the shared holders are counted in the module's
	 * td_holds (tdx_td_lock()), each word on a line of its own. */
	_Atomic uint64_t op_state_lock  /* host-priority sharex */
		__attribute__((aligned(HOST_CACHELINE)));
	_Atomic uint64_t sept_lock      /* the S-EPT tree lock */
		__attribute__((aligned(HOST_CACHELINE)));
	unsigned pwl;                /* 3: 4-level S-EPT, 4: 5-level */
	unsigned gpaw_bit;           /* 47 or 51: the shared bit */
	bool pending_ve_disable;     /* ATTRIBUTES.SEPT_VE_DISABLE */
	pfn_t sept_root;             /* TDCS page TDX_TDCS_SEPT_ROOT_INDEX */
	uint16_t max_vcpus;

	/* TLB tracking (§6). The module's REFCOUNT[2] is kept per thread slot
	 * (a vCPU counts on the slot of the thread that enters it and is taken
	 * off on that of the thread its exit runs on: tdx_td_slot_add()); its
	 * value is the sum, tdx_epoch_refcount(). */
	_Atomic uint64_t epoch_lock __attribute__((aligned(HOST_CACHELINE)));
	_Atomic uint64_t td_epoch __attribute__((aligned(HOST_CACHELINE)));
	/* When (tdx_now_ns) a TDH.VP.ENTER last found the epoch lock held by
	 * a TRACK; TRACK yields to it for TDX_ENTRY_WAIT_WINDOW_NS (see
	 * tdh_mem_track.c). */
	_Atomic uint64_t entry_wait_ns;

	/* Written by every fault, so kept per thread slot (tdx_locks.h says
	 * why) and read as sums: the epoch REFCOUNTs and CHLDCNT. */
	struct {
		_Atomic uint32_t refcount[2];
		_Atomic uint64_t chldcnt; /* may wrap below 0 on one slot */
		/* The walk hint of the thread that owns the slot (sept.c,
		 * tdx_walk()): the 4K-leaf table its last walk to a 4K entry
		 * went through, for the 2M range hint_2m - 1, valid while
		 * sept_shape reads hint_shape. Only the owner touches it. */
		uint64_t hint_2m;
		_Atomic uint64_t *hint_table;
		uint64_t hint_shape;
	} __attribute__((aligned(HOST_CACHELINE))) per_slot[HOST_THREAD_SLOTS];
	/*
	 * The S-EPT's shape, for the walk hints (sept.c): bits 15:0 count the
	 * commits in progress that change an entry above 4K, bits 63:16 how
	 * many have completed. A path read while it stays the same, with no
	 * commit in progress, is the path a walk from the root reads.
	 */
	_Atomic uint64_t sept_shape __attribute__((aligned(HOST_CACHELINE)));

	/* Measurement: protected by the TDR lock taken exclusively by PAGE.ADD,
	 * MR.EXTEND and MR.FINALIZE. */
	struct sha512_ctx mrtd_ctx;
	uint8_t mrtd[48];
	bool mrtd_final;

	_Atomic unsigned nr_vcpus;     /* published with release by VP.CREATE */
	/* vcpus[i].tdvpr again, read-only once published: the lookup by TDVPR
	 * (every VP.ENTER, TD exit and hardware walk) scans these lines, not
	 * the vCPUs' own, which their threads write on every entry. */
	pfn_t vcpu_tdvpr[TDX_MAX_VCPUS_PER_TD];
	struct tdx_vcpu vcpus[TDX_MAX_VCPUS_PER_TD];
};

/* ---- the module -------------------------------------------------------- */

struct tdx_module {
	struct host_mem *hm;
	struct pamt pamt;
	/* The trace of the S-EPT's changes (host/trace.h): the stream and
	 * mask of the KVM that drives this module, or NULL. */
	FILE *trace;
	uint64_t trace_mask;

	pthread_mutex_t td_table_lock; /* TD table changes (create/reclaim),
					* and the KOT and WBT fields below */
	/* The state of the next TD TDH.MNG.CREATE makes, allocated with the
	 * module (under td_table_lock). The real module keeps a TD's state in
	 * the TDR page the host gives it and allocates nothing, so CREATE
	 * never fails for memory; the model's struct tdx_td stands for that
	 * page's contents, and having it ready keeps the same promise for
	 * the first TD of a module (every API TD has a module of its own).
	 * Later TDs of the same module (unit tests) allocate theirs. */
	struct tdx_td *spare_td;
	struct tdx_td *_Atomic tds[TDX_MAX_TDS + 1]; /* by owner index */
	/* One past the highest index ever given a TD (under td_table_lock):
	 * what scans of tds[] need to look at. A process makes one TD at a
	 * time in nearly every use, and exploration thousands a second. */
	_Atomic unsigned tds_end;

	/*
	 * The key ownership table (KOT) and the package's CACHE.WB state
	 * (WBT), as the module keeps them (1.5.01; issue 11 item 2.5). The
	 * model has one package. A key goes ASSIGNED (MNG.CREATE) ->
	 * FLUSHED (VPFLUSHDONE, which also marks its write-back pending) ->
	 * FREE (KEY.FREEID, refused with TDX_WBCACHE_NOT_COMPLETE while the
	 * write-back is pending). CACHE.WB snapshots the FLUSHED keys when it
	 * starts and clears their pending write-back when it completes, so a
	 * CACHE.WB issued before VPFLUSHDONE does not count. The lock words
	 * give the try-lock answers (BUSY + KOT / WBCACHE); the fields are
	 * read and written under td_table_lock.
	 */
	_Atomic uint64_t kot_lock;
	uint8_t kot_state[HOST_MAX_KEYID + 1];   /* enum tdx_kot_state */
	bool kot_wb_pending[HOST_MAX_KEYID + 1];
	/* Completed write-backs per key: a freed page's dirty lines under a
	 * key are gone once this moved past the count recorded with them. */
	_Atomic uint32_t kot_wb_gen[HOST_MAX_KEYID + 2];
	_Atomic uint64_t wbt_lock;
	unsigned wbt_intr_point;                 /* 0: nothing to resume */
	bool wbt_hkid_flushed[HOST_MAX_KEYID + 1];
	/* Host interrupts the model delivers during the next CACHE.WB
	 * sub-blocks (tdx_module_pend_host_interrupts): each makes one call
	 * stop with TDX_INTERRUPTED_RESUMABLE. */
	_Atomic unsigned wbt_pending_interrupts;

	/* Test hook: TDH.MEM.TRACK sleeps this long holding the epoch lock
	 * (an OS preemption of the holder, which hardware never sees). */
	_Atomic uint64_t track_hold_ns;

	/* Fault injection: a share (ppm) of each leaf's SEAMCALLs answers
	 * TDX_OPERAND_BUSY at its first try-lock (tdx_busy_injected()). One
	 * draw per SEAMCALL of a leaf with a non-zero share, from the seed. */
	_Atomic uint32_t busy_ppm[TDX_NR_LEAVES];
	uint64_t seed;
	_Atomic uint64_t busy_draws;
	/* Countdowns (tdx_module_inject_busy_nth()): per leaf and one for
	 * every leaf (index TDX_NR_LEAVES), the calls left before the one
	 * that meets BUSY, and the mode (0 off, 1 once, 2 persistent).
	 * busy_armed[leaf] is non-zero while a share or a countdown may pick
	 * the leaf: the only load a SEAMCALL makes when nothing is injected.
	 * busy_hits counts the calls picked. */
	_Atomic int64_t busy_countdown[TDX_NR_LEAVES + 1];
	_Atomic int busy_nth_mode[TDX_NR_LEAVES + 1];
	_Atomic uint32_t busy_armed[TDX_NR_LEAVES];
	_Atomic uint64_t busy_hits;
	/* Error injection (tdx_module_inject_status*()): the picked call of
	 * a leaf answers err_status[] at once, before its handler runs, as a
	 * real module refusing it would: nothing changes but RAX. The same
	 * shapes as BUSY's: a share per leaf (one draw per call, from the
	 * seed), and countdowns per leaf plus one for every leaf (index
	 * TDX_NR_LEAVES), each with its own status. busy_armed[leaf] covers
	 * these too (the one load of the fast path). */
	_Atomic uint64_t err_status[TDX_NR_LEAVES + 1];   /* for the countdowns */
	_Atomic int64_t err_countdown[TDX_NR_LEAVES + 1];
	_Atomic int err_nth_mode[TDX_NR_LEAVES + 1];
	_Atomic uint32_t err_ppm[TDX_NR_LEAVES];
	_Atomic uint64_t err_ppm_status[TDX_NR_LEAVES];   /* for the shares */
	_Atomic uint64_t err_draws;
	_Atomic uint64_t err_hits;
	/* Retry loops that gave up on a hopeless injected BUSY
	 * (tdx_last_busy_hopeless()). */
	_Atomic uint64_t busy_gave_up;

	/* cost model */
	uint64_t cost_ns[TDX_NR_LEAVES];
	uint64_t tdcall_cost_ns;
	/* The modeled cost of a TD exit: the VM exit plus the module's exit
	 * path (docs/cost-model.md). */
	uint64_t exit_cost_ns;

	/* Counters, per thread slot; read as sums (tdx_module_calls() etc.). */
	struct tdx_module_counters {
		_Atomic uint64_t calls[TDX_NR_LEAVES];
		_Atomic uint64_t accepts;
		_Atomic uint64_t modeled_ns;
		_Atomic uint64_t exits; /* TD exits, any reason */
		_Atomic uint64_t busy_injected; /* injected BUSYs answered */
	} __attribute__((aligned(HOST_CACHELINE))) counters[HOST_THREAD_SLOTS];

	/*
	 * The shared holds of each TD's per-TD locks, by thread slot and TD
	 * index: one hold word (tdx_locks.h) per slot per TD, with a field
	 * for each of the TDR, OP_STATE, S-EPT tree and epoch locks
	 * (TD_HOLD_*), so that a SEAMCALL publishes the holds it takes on its
	 * TD with one write. The locks' exclusive bits and HP stay in their
	 * words (the TDR's in the TDR page's PAMT entry, where the module
	 * keeps the lock; the others in struct tdx_td); an exclusive attempt
	 * also needs its field of the sum at zero. Indexed by TD index rather
	 * than kept in struct tdx_td so that a shared attempt never touches a
	 * TD that RECLAIM may be freeing: it counts itself here first, then
	 * checks that the page is still that TD's TDR.
	 */
	struct {
		_Atomic uint64_t w[TDX_MAX_TDS + 1];
	} __attribute__((aligned(HOST_CACHELINE))) td_holds[HOST_THREAD_SLOTS];
};


/*
 * An S-EPT page of td stops being one: its PAMT entry e leaves PT_EPT
 * (SEPT.REMOVE, PROMOTE, the reclaim of the page at teardown). Counted in
 * td->sept_shape as a change in progress before the store and done after,
 * so that the CPU's walk hints (module.c, hw_walk), which keep the answer
 * of a table's PAMT check while the shape reads the same, see it.
 */
static inline void tdx_sept_page_pamt_set(struct tdx_td *td, _Atomic uint64_t *e,
					  enum tdx_page_type pt, unsigned owner,
					  uint32_t bepoch)
{
	shape_count_begin(&td->sept_shape);
	pamt_set(e, pt, owner, bepoch);
	shape_count_end(&td->sept_shape);
}

/* The fields of a td_holds word. */
#define TD_HOLD_TDR_SHIFT 0
#define TD_HOLD_OP_STATE_SHIFT 16
#define TD_HOLD_SEPT_SHIFT 32
#define TD_HOLD_EPOCH_SHIFT 48
#define TD_HOLD_TDR (1ull << TD_HOLD_TDR_SHIFT)
#define TD_HOLD_OP_STATE (1ull << TD_HOLD_OP_STATE_SHIFT)
#define TD_HOLD_SEPT (1ull << TD_HOLD_SEPT_SHIFT)
#define TD_HOLD_EPOCH (1ull << TD_HOLD_EPOCH_SHIFT)

/* This thread's hold word for the TD at index. */
static inline _Atomic uint64_t *tdx_td_holds_mine(struct tdx_module *m, unsigned index)
{
	return &m->td_holds[host_thread_slot()].w[index];
}

/* Holders of the field at shift of the TD at index, summed (seq_cst: the
 * exclusive side's read of tdx_locks.h's protocol). */
static inline uint64_t tdx_td_holders(struct tdx_module *m, unsigned index,
				      unsigned shift)
{
	return (holds_sum(&m->td_holds[0].w[index], sizeof(m->td_holds[0])) >> shift) &
	       HOLDS_FIELD_MASK;
}

/*
 * Injected contention. seamcall() arms this thread's flag when the draw
 * says the call is to meet a BUSY; the first try-lock the handler reaches
 * consumes it and fails as if another holder had the lock, naming that
 * lock's operand. So every check that comes before the leaf's first lock
 * still answers as it would (issue 11 item 2.12: the module's real BUSY
 * comes only where the lock is taken), and a leaf that takes no lock never
 * answers BUSY. Disarmed when the handler returns.
 */
extern _Thread_local bool tdx_busy_armed;
static inline bool tdx_busy_injected(void)
{
	if (!tdx_busy_armed)
		return false;
	tdx_busy_armed = false;
	return true;
}

static inline struct tdx_module_counters *tdx_counters_mine(struct tdx_module *m)
{
	return &m->counters[host_thread_slot()];
}

/* REFCOUNT[parity] of the TD's epochs: vCPUs in guest mode that entered in
 * an epoch of that parity. */
/* Adds delta to a count of td->per_slot on this thread's slot (`field` is
 * the count's offset in per_slot[0]): a plain store when the thread owns
 * the slot (its only writer: host/thread_slot.h), else a read-modify-write.
 * Release: TRACK and the check read the sums with acquire. A count taken on
 * one thread and dropped on another leaves each slot off by one and the
 * sum right (modular). */
#define tdx_td_slot_add(td_, field_, delta_)                                      \
	do {                                                                     \
		__typeof__(&(td_)->per_slot[0].field_) c_ =                      \
			&(td_)->per_slot[host_thread_slot()].field_;             \
		if (host_thread_slot_owned)                                      \
			atomic_store_explicit(c_,                                \
					      atomic_load_explicit(c_, memory_order_relaxed) + \
						      (delta_),                  \
					      memory_order_release);             \
		else                                                             \
			atomic_fetch_add_explicit(c_, (delta_), memory_order_release); \
	} while (0)

static inline uint32_t tdx_epoch_refcount(struct tdx_td *td, unsigned parity)
{
	uint32_t n = 0;

	for (unsigned i = 0, slots = host_thread_slots_used(); i < slots; i++)
		n += atomic_load_explicit(&td->per_slot[i].refcount[parity & 1],
					  memory_order_acquire);
	return n;
}

/* CHLDCNT. Exact while the TDR is held exclusively (every call that changes
 * it holds the TDR shared); a snapshot otherwise. */
static inline uint64_t tdx_chldcnt(struct tdx_td *td)
{
	uint64_t n = 0;

	for (unsigned i = 0, slots = host_thread_slots_used(); i < slots; i++)
		n += atomic_load_explicit(&td->per_slot[i].chldcnt, memory_order_acquire);
	return n;
}

static inline void tdx_chldcnt_add(struct tdx_td *td, int64_t delta)
{
	tdx_td_slot_add(td, chldcnt, (uint64_t)delta);
}

/* Locks a PAMT entry: the host-priority sharex of tdx_locks.h, where an
 * exclusive attempt on a TDR's entry also fails while the TDR is held shared
 * (td_holds). Every PAMT lock goes through here or tdx_lock_tdr(). */
enum lock_result tdx_pamt_try_lock(struct tdx_module *m, _Atomic uint64_t *e,
				   bool excl);
/* A shared hold of the lock of the PAMT entry e of a page named as a TDR.
 * If the page is a TDR, the hold is counted in this thread's td_holds word
 * of its TD, together with the holds in `ahead` (TD_HOLD_* units of locks
 * of that TD the caller will take next, published ahead: tdx_locks.h), and
 * *reader_index is the TD's index; on failure nothing stays published.
 * Otherwise (the caller will answer PAGE_METADATA_INCORRECT) it is an
 * ordinary hold in the word and *reader_index is 0. */
enum lock_result tdx_tdr_try_shared(struct tdx_module *m, _Atomic uint64_t *e,
				    uint64_t ahead, unsigned *reader_index);
/* Shared holders of the TDR lock of the TD at index (a snapshot). */
static inline uint64_t tdx_tdr_shared_holders(struct tdx_module *m, unsigned index)
{
	return tdx_td_holders(m, index, TD_HOLD_TDR_SHIFT);
}
/* Ends a shared TDR hold counted on any thread (VP.ENTER's, at the exit). */
static inline void tdx_tdr_release_shared(struct tdx_module *m, unsigned index)
{
	holds_withdraw(tdx_td_holds_mine(m, index), TD_HOLD_TDR);
}

/* The TD lock of field `shift` (OP_STATE, S-EPT tree, epoch) as a lock
 * with counted shared holders. */
static inline _Atomic uint64_t *tdx_td_lock_word(struct tdx_td *td, unsigned shift)
{
	return shift == TD_HOLD_OP_STATE_SHIFT ? &td->op_state_lock
	       : shift == TD_HOLD_SEPT_SHIFT   ? &td->sept_lock
					       : &td->epoch_lock;
}

static inline struct sharex_counted tdx_td_lock(struct tdx_module *m, struct tdx_td *td,
						unsigned shift)
{
	_Atomic uint64_t *w = tdx_td_lock_word(td, shift);

	return (struct sharex_counted){ .word = w, .holds0 = &m->td_holds[0].w[td->index],
					.stride = sizeof(m->td_holds[0]), .shift = shift,
					.hp = shift == TD_HOLD_OP_STATE_SHIFT };
}

/* TD lookups. By TDR: the PAMT entry must be PT_TDR owned by a live TD. */
static inline struct tdx_td *tdx_td_by_index(struct tdx_module *m, unsigned index)
{
	if (index == 0 || index > TDX_MAX_TDS)
		return NULL;
	return atomic_load_explicit(&m->tds[index], memory_order_acquire);
}
struct tdx_td *tdx_td_of_tdr_pfn(struct tdx_module *m, pfn_t tdr);
/* Moved by every reclaim of a TDVPR or TDR and by the module's end: what
 * tdx_vcpu_of_tdvpr() kept is valid while it stays the same. */
extern _Atomic uint64_t tdx_vcpu_map_gen;
/* The vCPU whose TDVPR is tdvpr (and its TD), or NULL. */
struct tdx_vcpu *tdx_vcpu_of_tdvpr_slow(struct tdx_module *m, pfn_t tdvpr,
					struct tdx_td **td);
/* The last answer this thread's lookup gave (module.c says when it holds). */
struct tdx_vcpu_seen {
	struct tdx_module *m;
	pfn_t tdvpr;
	uint64_t gen;
	struct tdx_td *td;
	struct tdx_vcpu *v;
};
extern _Thread_local struct tdx_vcpu_seen tdx_vcpu_seen;
static inline struct tdx_vcpu *tdx_vcpu_of_tdvpr(struct tdx_module *m, pfn_t tdvpr,
						 struct tdx_td **td)
{
	uint64_t gen = atomic_load_explicit(&tdx_vcpu_map_gen, memory_order_acquire);

	if (tdx_vcpu_seen.v && tdx_vcpu_seen.m == m && tdx_vcpu_seen.tdvpr == tdvpr &&
	    tdx_vcpu_seen.gen == gen) {
		if (td)
			*td = tdx_vcpu_seen.td;
		return tdx_vcpu_seen.v;
	}
	return tdx_vcpu_of_tdvpr_slow(m, tdvpr, td);
}

/* Allowed OP_STATEs per leaf (§3.1), allowed entry states per leaf (§3.2):
 * the tables are data (sept_state_table.c), the lookups inline (every
 * SEAMCALL's prologue makes them). */
extern const uint16_t tdx_op_state_table[TDX_NR_LEAVES];
extern const uint16_t tdx_sept_state_table[TDX_NR_LEAVES];
static inline bool tdx_op_state_allowed(int leaf, enum td_op_state s)
{
	if (leaf < 0 || leaf >= TDX_NR_LEAVES || (unsigned)s >= OP_NR_STATES)
		return false;
	return tdx_op_state_table[leaf] & (1u << s);
}
bool tdx_op_state_tracking_required(enum td_op_state s);
static inline bool tdx_sept_state_allowed(int leaf, enum tdx_sept_state s)
{
	if (leaf < 0 || leaf >= TDX_NR_LEAVES || (unsigned)s >= SEPT_NR_STATES)
		return false;
	return tdx_sept_state_table[leaf] & (1u << s);
}
bool tdx_sept_state_tlb_tracking_required(enum tdx_sept_state s);
bool tdx_sept_state_any_blocked(enum tdx_sept_state s);

/* ---- a SEAMCALL in flight: held locks and walk result -------------------- */

#define SEPT_CTX_MAX_PAMT_LOCKS 8

/* sept_ctx_init() sets each field by name (it does not clear the whole
 * context, prologue.c says why): a new field needs its line there. */
struct sept_ctx {
	struct tdx_module *m;
	struct seamcall_regs *regs;
	int leaf;
	struct tdx_td *td;

	/* held locks, released in reverse by sept_ctx_release() */
	unsigned slot;               /* this thread's slot for shared holds */
	_Atomic uint64_t *tdr_lock;
	bool tdr_excl;
	unsigned tdr_reader;         /* shared holds counted in td_holds at
				      * this TD index, or 0: in the word */
	uint64_t holds;              /* TD_HOLD_* units published on our word
				      * at tdr_reader: taken or ahead */
	uint64_t ahead;              /* of those, published ahead, not taken */
	bool tree_excl;              /* the S-EPT tree lock held exclusive */
	_Atomic uint64_t *pamt_locks[SEPT_CTX_MAX_PAMT_LOCKS];
	bool pamt_excl[SEPT_CTX_MAX_PAMT_LOCKS];
	/* A shared hold of a 1G entry counted in pamt.r1g on `slot`. */
	bool pamt_counted[SEPT_CTX_MAX_PAMT_LOCKS];
	unsigned nr_pamt_locks;
	/* A shared hold of a 4K entry whose leaf was never made
	 * (pamt_4k_try_shared_absent()): its range's count, or NULL. */
	_Atomic uint32_t *absent_hold;
	_Atomic uint64_t *entry;     /* locked S-EPT entry, or NULL */

	/* page info from RCX and walk result */
	uint64_t gpa;
	unsigned level;
	_Atomic uint64_t *walk_entry; /* entry at the requested level */
	uint64_t walk_value;          /* its value (lock bits clear) */
	unsigned walk_level;          /* level where the walk stopped */
};

/* Inline: three contexts per private fault. */
static inline void sept_ctx_init(struct sept_ctx *c, struct tdx_module *m,
		   struct seamcall_regs *regs, int leaf)
{
	/*
	 * Every field but pamt_locks[] and pamt_excl[], which are written
	 * when a lock is pushed and read only below nr_pamt_locks. Clearing
	 * the whole ~250-byte context was a `rep stos`, 6% of a private leaf
	 * fault's time (three contexts per fault; docs/performance.md).
	 * pamt_counted[] stays cleared: the pushes outside tdx_lock_page()
	 * leave it as they find it, false.
	 */
	c->m = m;
	c->regs = regs;
	c->leaf = leaf;
	c->td = NULL;
	c->slot = host_thread_slot();
	c->tdr_lock = NULL;
	c->tdr_excl = false;
	c->tdr_reader = 0;
	c->holds = 0;
	c->ahead = 0;
	c->tree_excl = false;
	memset(c->pamt_counted, 0, sizeof(c->pamt_counted));
	c->nr_pamt_locks = 0;
	c->absent_hold = NULL;
	c->entry = NULL;
	c->gpa = 0;
	c->level = 0;
	c->walk_entry = NULL;
	c->walk_value = 0;
	c->walk_level = 0;
}
void sept_ctx_release(struct sept_ctx *c);

/* The prologue steps of §3, each returning TDX_SUCCESS or the status that
 * ends the call. */
/* Step 2: the TDR operand (HPA checks, PAMT lock, PT_TDR). */
uint64_t tdx_lock_tdr(struct sept_ctx *c, uint64_t tdr_hpa, unsigned operand,
		      bool excl);
/* The TDVPR operand of the vCPU leaves (locked exclusive, PT_TDVPR, a vCPU
 * of a live TD), then its TD's TDR locked shared as an implicit operand. */
uint64_t tdx_lock_tdvpr(struct sept_ctx *c, uint64_t hpa, struct tdx_vcpu **vcpu);
/* Step 3: TD fatal / keys configured / TDCS allocated. */
uint64_t tdx_check_td_keys(struct sept_ctx *c);
/* Step 4: OP_STATE lock (shared, host) and the leaf's allowed OP_STATEs.
 * `lock` false checks without locking (PAGE.ADD, MR.*: the exclusive TDR lock
 * already excludes every other SEAMCALL). */
uint64_t tdx_check_op_state(struct sept_ctx *c, bool lock);
/* A shared hold of the OP_STATE, S-EPT tree or epoch lock (TD_HOLD_*_SHIFT)
 * of c->td, whose TDR the call holds shared: counted on the TDR hold's
 * word, taken from the holds published ahead or published now. */
enum lock_result tdx_td_try_shared_slow(struct sept_ctx *c, unsigned shift);
static inline enum lock_result tdx_td_try_shared(struct sept_ctx *c, unsigned shift)
{
	uint64_t unit = holds_unit(shift);

	/* Published ahead (never while exploring, so no schedule point is
	 * skipped) and the word neither held nor claimed: the look of
	 * sharex_counted_seen() that succeeds without writing, inline (four
	 * of these per private fault); the rest in prologue.c. */
	if (c->tdr_reader && (c->ahead & unit) &&
	    !(atomic_load_explicit(tdx_td_lock_word(c->td, shift), memory_order_seq_cst) &
	      (SHAREX_EXCL | SHAREX_HP))) {
		c->ahead -= unit;
		return LOCK_OK;
	}
	return tdx_td_try_shared_slow(c, shift);
}
/* Ends such a hold before the call does (VP.ENTER's epoch hold). */
void tdx_td_release_shared(struct sept_ctx *c, unsigned shift);
/* Step 5: page info in RCX: reserved bits, level in [min, max], alignment. */
uint64_t tdx_check_page_info(struct sept_ctx *c, uint64_t rcx,
			     unsigned min_level, unsigned max_level);
/* Step 6a: the GPA is a valid private GPA of this TD. */
uint64_t tdx_check_private_gpa(struct sept_ctx *c);
/* Step 6b: the S-EPT tree lock. */
uint64_t tdx_lock_sept_tree(struct sept_ctx *c, bool excl);
/* Step 6c: walk to c->level; failure fills RCX/RDX with the stopping entry. */
uint64_t tdx_walk(struct sept_ctx *c);
/* Walk toward level 0, stopping at the first non-present or leaf entry;
 * success only at a present leaf (TDH.MR.EXTEND). Failure fills RCX/RDX. */
uint64_t tdx_walk_to_leaf(struct sept_ctx *c);
/* Step 7: the entry lock (host flavour). */
uint64_t tdx_lock_entry(struct sept_ctx *c);
/* Step 8: re-read the entry; its state must be allowed for the leaf. */
uint64_t tdx_check_entry_state(struct sept_ctx *c);
/* Steps 2-8 for the memory leaves that share them exactly (AUG, SEPT.ADD,
 * BLOCK, UNBLOCK, REMOVE, SEPT.REMOVE, PROMOTE, DEMOTE, RELOCATE). RANGE.BLOCK
 * answers ALREADY_BLOCKED itself, so it passes check_state = false. */
uint64_t tdx_mem_prologue(struct sept_ctx *c, unsigned min_level,
			  unsigned max_level, bool tree_excl, bool check_state);

/* Fills RCX/RDX with the architectural entry and its level/state (§1.6). */
void tdx_set_entry_details(struct sept_ctx *c, uint64_t entry, unsigned level);
/* An explicit page operand: HPA checks, PAMT lock at `size_level`, and the
 * expected page type. */
uint64_t tdx_lock_page(struct sept_ctx *c, uint64_t hpa, unsigned size_level,
		       bool excl, enum tdx_page_type expected, unsigned operand,
		       _Atomic uint64_t **entry_out);
/* HPA operand checks only: alignment to size_level, key-id bits, MAX_PA
 * (OPERAND_INVALID), inside the TDMR (OPERAND_ADDR_RANGE_ERROR). */
static inline uint64_t tdx_check_hpa(struct sept_ctx *c, uint64_t hpa, unsigned size_level,
		       unsigned operand)
{
	uint64_t align = PAGE_SIZE << (9 * size_level);

	/* Key-id bits sit at and above HOST_MAX_PA_BITS: an HPA handed to the
	 * module must carry none, and must be below MAX_PA. */
	if ((hpa & (align - 1)) || (hpa >> HOST_MAX_PA_BITS))
		return TDX_OPERAND_INVALID + operand;
	if (!pamt_covers(&c->m->pamt, hpa_to_pfn(hpa)) ||
	    !pamt_covers(&c->m->pamt, hpa_to_pfn(hpa) + (align >> PAGE_SHIFT) - 1))
		return TDX_OPERAND_ADDR_RANGE_ERROR + operand;
	return TDX_SUCCESS;
}

/* Writes a new value into the entry the context holds locked; the entry
 * stays locked until sept_ctx_release(). */
void tdx_entry_commit(struct sept_ctx *c, uint64_t value);
/* The same and the entry lock released with it (one compare-exchange), for
 * a call that commits last and releases nothing before the entry. */
void tdx_entry_commit_unlock(struct sept_ctx *c, uint64_t value);

/* The S-EPT page at pfn as an array of 512 entries (module access). */
_Atomic uint64_t *tdx_sept_page(struct tdx_module *m, struct tdx_td *td,
				pfn_t pfn);
/* Fills a new S-EPT page with FREE entries. */
void tdx_sept_page_init(struct tdx_module *m, struct tdx_td *td, pfn_t pfn);

/* ---- TLB tracking (§6) --------------------------------------------------- */

/* Monotonic wall time in ns (the model's stand-in for what hardware gets
 * from SEAMCALLs being non-preemptible: see tdh_mem_track.c). */
uint64_t tdx_now_ns(void);
/* How long TDH.MEM.TRACK yields to a TDH.VP.ENTER that found the epoch lock
 * taken: longer than KVM's longest back-off sleep between two entry
 * attempts (TDX_RETRY_MAX_SLEEP_NS, kvm/tdx_ops.h). */
#define TDX_ENTRY_WAIT_WINDOW_NS (2ULL * 1000 * 1000)

/* bepoch tracked: every vCPU that could hold translations from before the
 * block has exited since a TRACK. */
bool tdx_is_tlb_tracked(struct tdx_td *td, uint32_t bepoch);
static inline uint32_t tdx_current_epoch(struct tdx_td *td)
{
	return (uint32_t)atomic_load_explicit(&td->td_epoch, memory_order_acquire);
}

/* ---- SEAMCALL handlers, one per file ------------------------------------- */

typedef uint64_t seamcall_fn(struct tdx_module *m, struct seamcall_regs *r);

seamcall_fn tdh_vp_enter;
seamcall_fn tdh_mng_addcx;
seamcall_fn tdh_mem_page_add;
seamcall_fn tdh_mem_sept_add;
seamcall_fn tdh_mem_page_relocate;
seamcall_fn tdh_mem_page_aug;
seamcall_fn tdh_mem_range_block;
seamcall_fn tdh_mng_key_config;
seamcall_fn tdh_mng_create;
seamcall_fn tdh_vp_create;
seamcall_fn tdh_mem_page_demote;
seamcall_fn tdh_mr_extend;
seamcall_fn tdh_mr_finalize;
seamcall_fn tdh_vp_flush;
seamcall_fn tdh_mng_vpflushdone;
seamcall_fn tdh_mng_key_freeid;
seamcall_fn tdh_mng_init;
seamcall_fn tdh_vp_init;
seamcall_fn tdh_mem_page_promote;
seamcall_fn tdh_mem_sept_rd;
seamcall_fn tdh_phymem_page_reclaim;
seamcall_fn tdh_mem_page_remove;
seamcall_fn tdh_mem_sept_remove;
seamcall_fn tdh_mem_track;
seamcall_fn tdh_mem_range_unblock;
seamcall_fn tdh_phymem_cache_wb;
seamcall_fn tdh_phymem_page_wbinvd;

/*
 * An S-EPT entry of td changed at gpa (the module's level: 0 = 4K) from old
 * to new (lock bits clear): its probe, and its trace line if traced, with
 * KVM's level as every trace field has it.
 */
void tdx_trace_sept(struct tdx_module *m, const struct tdx_td *td, uint64_t gpa,
		    unsigned level, uint64_t old, uint64_t new_value);
#define TDX_TRACE_SEPT(m_, td_, gpa_, level_, old_, new_)                      \
	do {                                                                   \
		TRACE_PROBE(tdx_sept_entry_changed,                            \
			    ((gpa_), (level_) + 1, (old_), (new_)));           \
		if (trace_on((m_), tdx_sept_entry_changed))                    \
			tdx_trace_sept((m_), (td_), (gpa_), (level_), (old_),  \
				       (new_));                                \
	} while (0)

#endif /* TDXMMU_TDX_INTERNAL_H */
