/* SPDX-License-Identifier: MIT */
/*
 * The emulated TDX module as the rest of the platform sees it, apart from
 * SEAMCALLs (seamcall.h):
 *  - creation, configuration (fault injection, cost model) and counters, for
 *    the platform that owns the module;
 *  - the CPU's side: the hardware walk of the Secure EPT (read-only, never a
 *    SEAMCALL), the TD-exit path, and the guest's TDCALLs;
 *  - an observer's view for checks (expect-sept, the invariant checker),
 *    which changes nothing and counts nothing.
 * KVM code must not include this header: it reaches the module only through
 * seamcall.h.
 */
#ifndef TDXMMU_TDX_MODULE_H
#define TDXMMU_TDX_MODULE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "host/host_mem.h"
#include "tdx/seamcall.h"

struct tdx_module;

/* The module covers the whole host pool with one TDMR and its PAMT. */
struct tdx_module *tdx_module_create(struct host_mem *hm, uint64_t seed);
void tdx_module_destroy(struct tdx_module *m);

/* ---- configuration --------------------------------------------------- */

/* A share (parts per million) of SEAMCALLs answers TDX_OPERAND_BUSY where
 * the real module can: at the call's first try-lock, after the checks that
 * precede it, naming that lock's operand (a leaf that takes no lock never
 * does). Seeded; deterministic on one thread. 0 turns it off. The _leaf
 * form sets one leaf's share (leaf -1: every leaf). */
void tdx_module_inject_busy(struct tdx_module *m, uint32_t ppm);
void tdx_module_inject_busy_leaf(struct tdx_module *m, int leaf, uint32_t ppm);
/* The countdown form (SQLite's "fail the N-th"): the n-th call of @leaf
 * from now (leaf -1: of any leaf) is picked to meet BUSY as above; with
 * @persistent every later one too; n = 0 switches the countdown off.
 * tdx_module_busy_hits(): calls picked so far, by share or countdown (a
 * picked leaf that takes no lock still answers as it would). */
void tdx_module_inject_busy_nth(struct tdx_module *m, int leaf, uint64_t n, bool persistent);
/* Error injection: the n-th call of @leaf (-1: of any leaf) from now (and,
 * @persistent, every later one) answers @status without running (n = 0:
 * off); or a share of @leaf's calls (ppm, -1: every leaf) does. The caller
 * passes an error status (bit 63 set). */
void tdx_module_inject_status_nth(struct tdx_module *m, int leaf, uint64_t status,
				  uint64_t n, bool persistent);
void tdx_module_inject_status_leaf(struct tdx_module *m, int leaf, uint64_t status,
				   uint32_t ppm);
/* Every injection of this module off at once (`inject off`): shares,
 * countdowns and error statuses, for every leaf. */
void tdx_module_inject_clear(struct tdx_module *m);
/* SEAMCALLs that answered an injected error status. */
uint64_t tdx_module_status_hits(const struct tdx_module *m);
uint64_t tdx_module_busy_hits(const struct tdx_module *m);
/*
 * For a caller that retries BUSY and must tell injected contention that can
 * never clear from real contention, which always does (cpu_vcpu_enter()).
 * tdx_busy_injected_here(): the injected BUSYs the calling thread's
 * SEAMCALLs have answered so far (a count, compared around one call).
 * tdx_module_busy_hopeless(): every later call of @leaf is picked too:
 * its share is 100%, or a persistent countdown for it or for every leaf
 * has fired. The injection is read now, so `inject off` ends it.
 */
uint64_t tdx_busy_injected_here(void);
bool tdx_module_busy_hopeless(struct tdx_module *m, int leaf);
/* Whether the calling thread's last SEAMCALL answered an injected BUSY that
 * every retry of it would answer too, as the injection stands now
 * (tdx_module_busy_hopeless(), or `inject status=` of a BUSY status at
 * 100%): a retry loop's verdict without spending its time budget. */
bool tdx_last_busy_hopeless(void);
/* How many times tdx_last_busy_hopeless() said so: retry loops that gave up
 * on an injection (a leak then is KVM's answer to it, as after `inject
 * status=`). */
uint64_t tdx_module_busy_gave_up(const struct tdx_module *m);
/* The same, counted on the calling thread only: compared around one call,
 * whether a retry loop under it gave up (a guest action then knows that its
 * re-issues can never succeed). */
uint64_t tdx_busy_gave_up_here(void);
void tdx_module_set_cost(struct tdx_module *m, int leaf, uint64_t ns);
uint64_t tdx_module_cost(const struct tdx_module *m, int leaf);
/* Test hook: every TDH.MEM.TRACK sleeps ns while it holds the TD's epoch
 * lock exclusively, as an OS preemption of its thread would make it (0: no
 * sleep). */
void tdx_module_set_track_hold_ns(struct tdx_module *m, uint64_t ns);
/* The next n CACHE.WB sub-block boundaries find a host interrupt pending,
 * so CACHE.WB answers TDX_INTERRUPTED_RESUMABLE there and must be resumed
 * (RCX = TDX_CACHE_WB_RESUME). Test hook: the model has no interrupts. */
void tdx_module_pend_host_interrupts(struct tdx_module *m, unsigned n);
/* Cost of one guest TDCALL (TDG.MEM.PAGE.ACCEPT) in ns. */
void tdx_module_set_tdcall_cost(struct tdx_module *m, uint64_t ns);
uint64_t tdx_module_tdcall_cost(const struct tdx_module *m);
/* Cost of one TD exit (any reason: the VM exit and the module's exit path);
 * accounted by tdx_td_exit(). */
void tdx_module_set_exit_cost(struct tdx_module *m, uint64_t ns);
uint64_t tdx_module_exit_cost(const struct tdx_module *m);

/* ---- counters -------------------------------------------------------- */

uint64_t tdx_module_calls(const struct tdx_module *m, int leaf);
uint64_t tdx_module_accepts(const struct tdx_module *m);
/* SEAMCALLs that answered an injected TDX_OPERAND_BUSY (tdxmmu_inject_busy). */
uint64_t tdx_module_busy_injected(const struct tdx_module *m);
/* TD exits so far, any reason. */
uint64_t tdx_module_exits(const struct tdx_module *m);
/* Resident bytes of the PAMT (benchmarks' memory figures). */
uint64_t tdx_module_pamt_resident_bytes(const struct tdx_module *m);
/* Modeled TDX hardware time: sum of per-leaf latencies of every call. */
uint64_t tdx_module_modeled_ns(const struct tdx_module *m);
/* Where the module traces its S-EPT changes (host/trace.h): f NULL for
 * nowhere, mask the events kept. */
void tdx_module_set_trace(struct tdx_module *m, FILE *f, uint64_t mask);

/* ---- the CPU's side ---------------------------------------------------- */

/* What a hardware walk of the Secure EPT found for one GPA. */
enum tdx_hw_walk_kind {
	TDX_HW_MAPPED,    /* leaf MAPPED: access allowed */
	TDX_HW_PENDING,   /* leaf PENDING: #VE to the guest */
	TDX_HW_VIOLATION, /* anything else, or PENDING with SEPT_VE_DISABLE:
			     EPT violation, TD exit to the VMM */
	TDX_HW_STALE_TABLE, /* the walk started in a table that is no longer an
			       S-EPT page of the TD (a cached entry that
			       outlived its table: a flush was missed) */
};
#define TDX_HW_WALK_MAX_LEVELS 5
/* hw_walk() (module.c) sets each field but nl_table[] by name: a new field
 * needs its line there. */
struct tdx_hw_walk {
	enum tdx_hw_walk_kind kind;
	hpa_t hpa;       /* frame of the 4K page that contains gpa (MAPPED,
			    PENDING, and VIOLATION on a PENDING leaf) */
	unsigned level;  /* level of the leaf, or where the walk stopped */
	unsigned keyid;  /* the TD's private key id */
	uint64_t ext_exit_qual; /* with VIOLATION: the TD exit's extended
				   exit qualification */
	/* For the CPU's paging-structure caches: the root's frame (the EPTP
	 * tag), the root's level (S-EPT levels: 0 is the 4K leaf), the frame
	 * each present non-leaf entry passed points to, by the entry's level
	 * (bit l of nl_mask set when nl_table[l] is), and the entries read. */
	pfn_t root;
	unsigned top_level;
	unsigned nl_mask;
	pfn_t nl_table[TDX_HW_WALK_MAX_LEVELS];
	unsigned reads;
};
/* Walks the S-EPT of the TD whose vCPU is `tdvpr` for a private gpa. A
 * read-only walk, as the CPU's page walker does: takes no module lock. */
void tdx_hw_walk(struct tdx_module *m, hpa_t tdvpr, uint64_t gpa,
		 struct tdx_hw_walk *out);
/* The same, starting in the S-EPT page `table` whose entries are at
 * `level` (a non-leaf entry the CPU cached, tagged by `root`). A table
 * that is no longer an S-EPT page of the TD, or a root that changed,
 * answers TDX_HW_STALE_TABLE. */
struct tdx_hw_walk_hint;
void tdx_hw_walk_from(struct tdx_module *m, hpa_t tdvpr, uint64_t gpa,
		      pfn_t root, unsigned level, pfn_t table,
		      struct tdx_hw_walk_hint *hint, struct tdx_hw_walk *out);
/*
 * What a walk from a cached table keeps for the next walk from the same
 * table (module.c, hw_walk): the checks of the table that need lookups,
 * done once while nothing they depend on changes. Owned by one walker (a
 * vCPU, used by the thread running it), zeroed before its first use,
 * read and written only by tdx_hw_walk_from().
 */
struct tdx_td;
struct tdx_vcpu;
struct tdx_hw_walk_hint {
	struct tdx_module *m;
	hpa_t tdvpr;
	pfn_t table;
	uint64_t gen;   /* tdx_vcpu_map_gen */
	uint64_t shape; /* td->sept_shape */
	struct tdx_td *td;
	_Atomic uint64_t *entries;
	const _Atomic uint32_t *meta; /* the table frame's (host_frame_raw_keep) */
};

/* The TD exit path: the vCPU leaves guest mode (epoch refcount drops, the
 * locks TDH.VP.ENTER held while the guest ran are released). */
void tdx_td_exit(struct tdx_module *m, hpa_t tdvpr);

/* Result of a guest TDCALL that can exit to the VMM instead of returning. */
enum tdcall_result {
	TDCALL_RETURNED,          /* status in *status */
	TDCALL_EXIT_EPT_VIOLATION, /* TD exit: EPT violation at gpa (ACCEPT) */
};
/* TDG.MEM.PAGE.ACCEPT from the guest on vCPU tdvpr: RCX = gpa | level. */
enum tdcall_result tdg_mem_page_accept(struct tdx_module *m, hpa_t tdvpr,
				       uint64_t rcx, uint64_t *status);

/* ---- observer's view (checks, tests) ----------------------------------- */

enum tdx_sept_state {
	SEPT_FREE,
	SEPT_NL_MAPPED,
	SEPT_NL_BLOCKED,
	SEPT_MAPPED,
	SEPT_BLOCKED,
	SEPT_PENDING,
	SEPT_PENDING_BLOCKED,
	SEPT_REMOVED,
	SEPT_NR_STATES,
};
const char *tdx_sept_state_name(enum tdx_sept_state s);

/* State of the entry for private gpa at `level` in the TD whose TDR is at
 * tdr; FREE when the walk ends above the level at a FREE entry. Returns false
 * if tdr names no TD, the gpa is not a valid private GPA, or the walk ends
 * above the level at a non-FREE entry (*stopped_level says where). */
bool tdx_debug_sept_state(struct tdx_module *m, hpa_t tdr, uint64_t gpa,
			  unsigned level, enum tdx_sept_state *state,
			  hpa_t *hpa, unsigned *stopped_level);

/* The S-EPT entries on the walk to private gpa, top level first, as the
 * read-only walk above finds them: for each level l from the top down to
 * the one where the walk ends (a leaf, or an entry that is not present),
 * entry[l] is the entry (lock bits clear) and table[l] the HPA of the S-EPT
 * page holding it (the root's is the TDCS page that holds it). Returns
 * that last level, or -1 if tdr names no TD, the TD has no S-EPT root or
 * gpa is outside its GPA width. An observer: no lock, no count. */
int tdx_debug_sept_path(struct tdx_module *m, hpa_t tdr, uint64_t gpa,
			uint64_t entry[5], hpa_t table[5]);

/* PAMT page types (tdx-module-sept.md §2.2). */
enum tdx_page_type {
	PT_NDA = 0,
	PT_RSVD = 1,
	PT_REG = 3,
	PT_TDR = 4,
	PT_TDCX = 5,
	PT_TDVPR = 6,
	PT_EPT = 8,
};
/* "PT_REG" and so on; "PT_?" for a value that is none of them. */
const char *tdx_page_type_name(unsigned pt);
/* The PAMT's view of a 4K frame: its type, the TDR it belongs to (0 if none)
 * and the size of the page that contains it (0 = 4K, 1 = 2M, 2 = 1G). */
void tdx_debug_pamt(struct tdx_module *m, pfn_t pfn, enum tdx_page_type *pt,
		    hpa_t *owner_tdr, unsigned *size_level);
/* Number of frames the PAMT assigns to the TD at tdr (any type), counted in
 * 4K pages; and the TD's CHLDCNT. */
uint64_t tdx_debug_td_pages(struct tdx_module *m, hpa_t tdr);
uint64_t tdx_debug_chldcnt(struct tdx_module *m, hpa_t tdr);
/* The module's record of dirty cache lines left in freed pages
 * (tdx_internal.h, tdx_page_freed): true if the frame may still hold lines
 * under a key (then *keyid says which) that no WBINVD or CACHE.WB has
 * written back. A VMM must leave none before it reuses a page. */
bool tdx_debug_frame_dirty(struct tdx_module *m, pfn_t pfn, unsigned *keyid);
/* How many frames of the pool are so (a scan; tests). */
uint64_t tdx_debug_dirty_frames(struct tdx_module *m);
/* Number of TDs the module still knows (a TD is forgotten when its TDR is
 * reclaimed). */
unsigned tdx_debug_nr_tds(struct tdx_module *m);
/* True when the vCPU at tdvpr will have its private (S-EPT) translations
 * flushed by its next TDH.VP.ENTER: it has run, and the TD epoch moved since
 * it last entered (§6). */
bool tdx_debug_vcpu_flush_pending(struct tdx_module *m, hpa_t tdvpr);
/* The TD measurement after TDH.MR.FINALIZE (false before). */
bool tdx_debug_mrtd(struct tdx_module *m, hpa_t tdr, uint8_t mrtd[48]);

/*
 * The module's locks of the TD at tdr that are held beyond what its vCPUs in
 * guest mode hold (each holds its TDVPR's PAMT entry and the TDR shared, and
 * one epoch reference): fn is called once per such lock with what it is
 * and the count or word found. Meant for quiesce points (no SEAMCALL in
 * flight); also looks at the lock word and counted shared holds of every
 * 1G PAMT entry that can be held (those of the 1G ranges the PAMT ever
 * handed an entry of, struct pamt's `tables`), which belong to no TD, and
 * names each by its HPA, in address order. Returns the number of calls.
 */
unsigned tdx_debug_locks_held(struct tdx_module *m, hpa_t tdr,
			      void (*fn)(const char *what, uint64_t found,
					 uint64_t want, void *arg),
			      void *arg);

/* Calls fn for every non-FREE S-EPT entry of the TD, in pre-order (parent
 * before children, ascending GPA), with its level and state. */
void tdx_debug_sept_foreach(struct tdx_module *m, hpa_t tdr,
			    void (*fn)(uint64_t gpa, unsigned level,
				       enum tdx_sept_state state, hpa_t hpa,
				       void *arg),
			    void *arg);

#endif /* TDXMMU_TDX_MODULE_H */
