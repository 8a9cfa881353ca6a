/* SPDX-License-Identifier: MIT */
/*
 * KVM's VM for a TD: the host's side of the model. KVM owns two EPTs per TD,
 * the shared EPT that the CPU walks and the private (mirror) EPT that only KVM
 * walks and that it propagates to the TDX module's Secure EPT through hooks
 * issuing SEAMCALLs (seed 004). It reaches the module only through seamcall()
 * (tdx_ops.h); it never reads the Secure EPT or the PAMT.
 *
 * Levels in src/kvm follow KVM: PG_LEVEL_4K = 1, 2M = 2, 1G = 3, 512G = 4,
 * 256T = 5. The TDX module's levels are one less (pg_level_to_tdx_level).
 *
 * Lock order (docs/locking.md has the full story):
 *   kvm->slots_lock (mutex)  ->  kvm->mmu_lock (rwlock)  ->  kvm->pages_lock
 * SEAMCALLs are issued with mmu_lock held for read (faults) or write (zaps,
 * MapGPA, teardown); the module's own try-locks never wait, so they cannot
 * join a cycle.
 */
#ifndef TDXMMU_KVM_KVM_H
#define TDXMMU_KVM_KVM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "host/host_mem.h"
#include "host/thread_slot.h"
#include "kvm/mmu_rwlock.h"
#include "kvm/trace.h"

struct tdx_module;
struct kvm_mmu_page;

typedef uint64_t gpa_t;
typedef uint64_t gfn_t;

#define PG_LEVEL_4K 1
#define PG_LEVEL_2M 2
#define PG_LEVEL_1G 3
#define PG_LEVEL_512G 4
#define PG_LEVEL_256T 5
#define KVM_MAX_VCPUS 64

static inline unsigned pg_level_to_tdx_level(unsigned level) { return level - 1; }

enum kvm_mmu_kind { KVM_MMU_TDP, KVM_MMU_LEGACY };

/* KVM's allocation sites, for ENOMEM injection (mmu.h kvm_alloc_fails()). */
enum kvm_alloc_site {
	KVM_ALLOC_PT,    /* KVM's page-table pages, both EPTs (mmu_page.c) */
	KVM_ALLOC_SEPT,  /* S-EPT pages for the SEAMCALL cache (topup) */
	KVM_ALLOC_FRAME, /* the guest frame a fault maps (kvm_faultin_pfn) */
	KVM_ALLOC_RMAP,  /* legacy MMU: rmap directories, head chunks and
			    pte_list_desc pools (legacy_rmap.c) */
	KVM_ALLOC_SHADOW, /* legacy MMU: chunks of the shadow-page side table
			     (legacy_mmu.c legacy_sp_reserve) */
	KVM_ALLOC_ARENA, /* a new chunk of the page-table arena (mmu_page.c) */
	KVM_ALLOC_NOMIRROR, /* no-mirror mode's bookkeeping arrays */
	KVM_ALLOC_NR_SITES,
};

/* Countdown injection (kvm_inject_enomem_nth(), mmu.h): off, only the n-th
 * allocation fails, or the n-th and every later one (SQLite's transient and
 * persistent out-of-memory faults). */
enum kvm_nth_mode { KVM_NTH_OFF, KVM_NTH_ONCE, KVM_NTH_PERSIST };

/* A frame KVM had to give up on, for teardown to RECLAIM (mmu.h). */
enum kvm_leak_kind {
	KVM_LEAK_GUEST, /* a memslot's frame: cleared, stays with the memslot */
	KVM_LEAK_KVM,   /* KVM's own frame (an S-EPT page): cleared and freed */
};
struct kvm_leaked_page {
	hpa_t hpa;
	enum kvm_leak_kind kind;
};

/* Event counters, named as the scenario language's expect-count reads them.
 * X(field, "name") */
#define KVM_STATS_LIST(X)                                \
	X(fault_private, "fault.private")                \
	X(fault_shared, "fault.shared")                  \
	X(fault_retry, "fault.retry")                    \
	X(fault_spurious, "fault.spurious")              \
	X(retry_cmpxchg, "retry.cmpxchg")                \
	X(retry_frozen, "retry.frozen")                  \
	X(retry_busy, "retry.busy")                      \
	X(tlb_flush, "tlb.flush")                        \
	X(tlb_kick, "tlb.kick")                          \
	X(mapgpa, "mapgpa")                              \
	X(mapgpa_retry, "mapgpa.retry")                  \
	X(exit_ept_violation, "exit.ept_violation")      \
	X(exit_ve, "exit.ve")                            \
	X(exit_vmcall, "exit.vmcall")                    \
	X(pages_private_spt, "mmu.pages.private")        \
	X(pages_shared_spt, "mmu.pages.shared")          \
	X(pages_rcu_freed, "mmu.pages.rcu_freed")        \
	X(enomem_injected, "inject.enomem")              \
	X(leaf2m_private, "mmu.leaf2m.private")          \
	X(leaf2m_shared, "mmu.leaf2m.shared")            \
	X(split_private, "mmu.split.private")            \
	X(split_shared, "mmu.split.shared")

/*
 * One shard of the counters. KVM keeps most of these per vCPU (vcpu->stat)
 * and sums them for user space; the model shards them per thread instead, so
 * that two vCPU threads faulting in parallel never write the same cache line
 * for bookkeeping. Gauges (mmu.pages.*) may go up in one shard and down in
 * another: the sum, modulo 2^64, is right.
 */
struct kvm_stats {
#define KVM_STAT_FIELD(f, n) _Atomic uint64_t f;
	KVM_STATS_LIST(KVM_STAT_FIELD)
#undef KVM_STAT_FIELD
} __attribute__((aligned(64)));

#define KVM_STAT_SHARDS HOST_THREAD_SLOTS

static inline void kvm_stat_inc(_Atomic uint64_t *c)
{
	atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

/* A counter of kvm_stats_mine(): no locked read-modify-write while the
 * slot is the thread's own (host/thread_slot.h). The fault path's. */
static inline void kvm_stat_inc_mine(_Atomic uint64_t *c)
{
	host_slot_counter_add(c, 1);
}

/* This thread's shard: its host thread slot (host/thread_slot.h). */
static inline unsigned kvm_stat_shard(void)
{
	return host_thread_slot();
}

/*
 * Pages KVM keeps ready so that nothing is allocated with mmu_lock held:
 * host frames for Secure-EPT pages (handed to TDH.MEM.SEPT.ADD) and KVM's own
 * page-table pages. Topped up before taking mmu_lock, as KVM's per-vCPU
 * kvm_mmu_memory_cache is (mmu_topup_memory_caches; the functions are the
 * MMU core's, mmu.h).
 */
#define KVM_MMU_CACHE_MIN 5 /* one per level of a 5-level walk */
#define KVM_MMU_CACHE_CAP 16
struct kvm_mmu_memory_cache {
	unsigned nr;
	pfn_t frames[KVM_MMU_CACHE_CAP];
};

/* Cache-line aligned: each vCPU's thread writes its own caches. */
struct kvm_vcpu {
	struct kvm *kvm;
	unsigned index;
	hpa_t tdvpr;
	struct kvm_mmu_memory_cache sept_cache; /* frames for S-EPT pages */
	/* The last TD exit's extended exit qualification (upstream's
	 * tdx->ext_exit_qualification, from VP.ENTER's output registers; the
	 * CPU model sets it before an EPT-violation exit). */
	uint64_t ext_exit_qual;
} __attribute__((aligned(64)));

struct kvm {
	struct host_mem *hm;
	struct host_memslots *slots;
	struct tdx_module *tdx;  /* opaque: only passed to seamcall() */
	enum kvm_mmu_kind mmu_kind;

	/* TD identity and state, as KVM's kvm_tdx keeps it */
	hpa_t tdr;
	unsigned hkid;
	bool td_created;          /* TDH.MNG.CREATE succeeded: the TDR is the TD's */
	bool hkid_assigned;
	bool finalized;
	hpa_t tdcx[6];
	unsigned gpaw;            /* 48 or 52 */
	uint64_t gfn_shared_mask; /* gfn bit 35 or 39 */
	unsigned root_level;      /* PG_LEVEL_512G (4-level) or PG_LEVEL_256T */

	/* build time: the source page of TDH.MEM.PAGE.ADD (KVM_TDX_INIT_MEM_REGION
	 * sets it around the fault it runs; E1-E6 source_pa) */
	hpa_t source_pa;

	pthread_mutex_t slots_lock;
	/* Its own cache line: every fault writes it (read side), and the
	 * read-mostly fields around must not move with it. */
	struct mmu_rwlock mmu_lock; /* mmu_rwlock.h */
	/* The two roots. The private root's Secure-EPT twin is the module's
	 * root (a TDCS page), so it has no S-EPT page of KVM's own. */
	struct kvm_mmu_page *private_root __attribute__((aligned(64)));
	struct kvm_mmu_page *shared_root;
	/* Allocator of KVM's own page-table pages (mmu_page.c). */
	void *mmu_pages;

	unsigned nr_vcpus;
	struct kvm_vcpu vcpus[KVM_MAX_VCPUS];

	/* Counters, sharded per thread: write through kvm_stats_mine(), read
	 * with kvm_stat_read(). */
	struct kvm_stats stats_shards[KVM_STAT_SHARDS];
	/* Bumped with every retry.* event (a frozen entry met, a lost cmpxchg,
	 * a BUSY SEAMCALL): rare, so one word that faults read cheaply to
	 * tell a transient RETRY from a final one. */
	_Atomic uint64_t contention_seq __attribute__((aligned(64)));
	FILE *trace;              /* --trace lines, or NULL */
	uint64_t trace_mask;      /* the events traced (trace.h) */
	/* The trace's time stamps: the platform's modeled time (NULL: 0). */
	uint64_t (*trace_clock)(const struct tdx_module *m);

	/* KVM_BUG_ON / kvm_vm_dead: KVM met a state it cannot handle (say its
	 * own SEAMCALL failed because the host tampered with the S-EPT behind
	 * its back). The VM is dead: every ioctl answers -EIO, no vCPU enters,
	 * only teardown still runs. A modeled outcome (the API's TDXMMU_EIO,
	 * outcomes bugged/dead), never the model's own breakage. */
	_Atomic bool bugged;
	/* The model itself broke a rule it relies on (not something KVM can
	 * meet on hardware: a walker read a page-table page freed inside its
	 * grace period). The VM is dead too; the API reports TDXMMU_EBUG. */
	_Atomic bool model_broken;
	/* Sends every vCPU in guest mode out and waits until each has left
	 * (the CPU model installs it; NULL while no vCPU can run). */
	void (*kick_all_vcpus)(struct kvm *kvm);
	/* Host frames KVM gave up on (a Secure-EPT page or guest page that
	 * could not be removed/reclaimed): never returned to the host while
	 * they may hold TD-encrypted content (tdx_hooks.c). Counted here, and
	 * remembered in `leaked` so that teardown can RECLAIM them once the
	 * HKID is released (kvm_leak_page(), mmu.h). */
	_Atomic uint64_t frames_leaked;
	pthread_mutex_t leak_lock; /* leaked, nr_leaked, cap_leaked */
	struct kvm_leaked_page *leaked;
	size_t nr_leaked, cap_leaked;
	/* ENOMEM injection (kvm_alloc_fails(), mmu.h): per allocation site,
	 * the share of allocations that fail, in parts per million; the draws
	 * come from enomem_seed and a counter, so a run is reproducible.
	 * Countdowns (kvm_inject_enomem_nth()): per site and one for every
	 * site (index KVM_ALLOC_NR_SITES), the allocations left before the
	 * one that fails, and the mode (enum kvm_nth_mode). enomem_armed has
	 * bit `site` set while anything may fail there: the only load the
	 * fast path makes. enomem_hits counts the failures injected. */
	_Atomic uint32_t enomem_ppm[KVM_ALLOC_NR_SITES];
	_Atomic int64_t enomem_countdown[KVM_ALLOC_NR_SITES + 1];
	_Atomic int enomem_nth_mode[KVM_ALLOC_NR_SITES + 1];
	_Atomic uint32_t enomem_armed;
	_Atomic uint64_t enomem_hits;
	_Atomic uint64_t enomem_draws;
	uint64_t enomem_seed;
	/* Asks every vCPU to flush its shared-EPT translations before it next
	 * runs guest code (KVM_REQ_TLB_FLUSH), then kicks. Installed by the CPU
	 * model with kick_all_vcpus; NULL while no vCPU can run. */
	void (*flush_shared_tlbs)(struct kvm *kvm);
	void *cpu;                /* the CPU model, for the callbacks above */
	/* Bumped on every SPTE change in either tree. A fault that returns
	 * RET_PF_RETRY without moving it changed nothing: the vCPU would loop
	 * on EPT violations (the scenario's `blocked`). */
	_Atomic uint64_t mmu_change_seq;
	/*
	 * The TDP trees' shape, for the fault walk's hints (tdp_mmu.c,
	 * "Fault walk hints"): bits 15:0 count the writes of an SPTE above
	 * 4K in progress, bits 63:16 those done. Its own line: written only
	 * when a table is linked, unlinked or split, or an entry above 4K
	 * changes, read by every fault.
	 */
	_Atomic uint64_t tdp_shape __attribute__((aligned(64)));
	/* Each thread slot's hint, used by the slot's owner only: the tables
	 * of the path its last fault walk took to a 4K entry of the 2M range
	 * gfn_2m - 1 of `root`, valid while tdp_shape reads `shape`. */
	struct kvm_tdp_walk_hint {
		const struct kvm_mmu_page *root;
		gfn_t gfn_2m;
		uint64_t shape;
		_Atomic uint64_t *pt_path[PG_LEVEL_256T];
	} __attribute__((aligned(64))) walk_hints[HOST_THREAD_SLOTS];
	/* MapGPA processes at most this many bytes per TDG.VP.VMCALL and
	 * answers TDVMCALL_RETRY with the next GPA when more remains
	 * (upstream's chunking, TDX_MAP_GPA_MAX_LEN). 0 (as kvm_create_vm
	 * leaves it) means TDX_MAP_GPA_MAX_LEN; rounded down to 4K, at least
	 * 4K. Set before vCPUs run. */
	uint64_t mapgpa_chunk;
	/* The legacy MMU's structures (mmu=legacy: the shadow-page hash and
	 * lists, the rmap; legacy_internal.h), NULL for the TDP MMU. */
	void *legacy_mmu;
	/* TEST ONLY: kvm_mmu_free_page_rcu() frees at once, without waiting
	 * for a grace period, for this VM alone (the mutant MUTANT_NO_RCU does
	 * the same process-wide, for `tdxmmu explore`), so that a test can
	 * show a walker then reads a freed table (mmu_page.c). */
	bool debug_free_immediately;
	/* TEST ONLY: called by the lockless walk (kvm_tdp_mmu_read_4k) after it
	 * read a table pointer and before it reads the table, inside its
	 * read-side section, so a test can free the table at that moment. */
	void (*debug_lockless_walk_hook)(struct kvm *kvm, int level);
	/* Benchmarks only: private faults keep no mirror and walk the S-EPT
	 * with TDH.MEM.SEPT.RD (tdp_mmu_nomirror.h); set at creation. */
	bool no_mirror;
	void *nomirror;
};

static inline struct kvm_stats *kvm_stats_mine(struct kvm *kvm)
{
	return &kvm->stats_shards[kvm_stat_shard()];
}

uint64_t kvm_stat_sum(const struct kvm *kvm, size_t offset);
/* The sum of a counter over the shards (a snapshot per shard). */
#define kvm_stat_read(kvm, field) \
	kvm_stat_sum((kvm), offsetof(struct kvm_stats, field))

/* A retry.* event: counted, and contention_seq moved (kvm_contention()). */
static inline void kvm_stat_contention(struct kvm *kvm, _Atomic uint64_t *c)
{
	kvm_stat_inc(c);
	atomic_fetch_add_explicit(&kvm->contention_seq, 1, memory_order_release);
}

static inline uint64_t kvm_contention(struct kvm *kvm)
{
	return atomic_load_explicit(&kvm->contention_seq, memory_order_acquire);
}

static inline bool kvm_is_private_gpa(const struct kvm *kvm, gpa_t gpa)
{
	return !((gpa >> PAGE_SHIFT) & kvm->gfn_shared_mask);
}
static inline gfn_t kvm_gfn_private(const struct kvm *kvm, gfn_t gfn)
{
	return gfn & ~kvm->gfn_shared_mask;
}
static inline gfn_t kvm_gfn_shared(const struct kvm *kvm, gfn_t gfn)
{
	return gfn | kvm->gfn_shared_mask;
}

struct kvm_config {
	unsigned gpaw;
	unsigned nr_vcpus;
	enum kvm_mmu_kind mmu;
	bool sept_ve_disable;
	bool no_mirror; /* tdp_mmu_nomirror.h */
	FILE *trace;
	const char *trace_events; /* filter (trace.h); NULL: every event */
	uint64_t (*trace_clock)(const struct tdx_module *m); /* or NULL */
	uint64_t seed; /* seeds ENOMEM injection */
};

/* kvm_main.c: creates the TD (TDH.MNG.CREATE, KEY.CONFIG, ADDCX, INIT, then
 * VP.CREATE + VP.INIT per vCPU) and KVM's MMU. 0 or -errno. */
int kvm_create_vm(struct host_mem *hm, struct host_memslots *slots,
		  struct tdx_module *tdx, const struct kvm_config *cfg,
		  struct kvm **out);
/* KVM_TDX_INIT_MEM_REGION for one page: maps gpa (private) through the
 * private fault path with source_pa set, so the set_private_spte hook issues
 * TDH.MEM.PAGE.ADD and TDH.MR.EXTEND. Only before finalize. 0, -EPERM
 * (finalized), -EINVAL, -ENOENT (no memslot), -EEXIST, -EBUSY, -ENOMEM
 * (nothing half-made), -EIO (the VM is dead, or this call killed it: say
 * the host finalized the TD behind KVM's back, and PAGE.ADD failed). */
int kvm_tdx_init_mem_page(struct kvm *kvm, gpa_t gpa, pfn_t source);
/* KVM_TDX_FINALIZE_VM: TDH.MR.FINALIZE (then one TRACK). 0, -EPERM
 * (already), -EBUSY, -EIO (dead; or the module refused: KVM_BUG_ON). */
int kvm_tdx_finalize_vm(struct kvm *kvm);
/*
 * Teardown, in two steps so that the host can reclaim, between them, pages it
 * gave the TD behind KVM's back (raw SEAMCALLs):
 * kvm_tdx_teardown_memory(): private leaves removed while the HKID is still
 * assigned (BLOCK/TRACK/REMOVE, or REMOVE before finalize), then the HKID
 * released (VP.FLUSH, VPFLUSHDONE, CACHE.WB, KEY.FREEID), then both trees
 * freed, each Secure-EPT page RECLAIMed, then every page KVM had to give up
 * on while the TD lived RECLAIMed too (kvm_leak_page(), tdx_hooks.h). Also
 * on a dead VM (kvm->bugged), whose teardown is as complete: 0 when nothing
 * is left leaked, else -EIO.
 * kvm_destroy_vm(): (runs the first step if not done) reclaims TDVPR, TDCS
 * and finally the TDR, and frees the VM. Returns 0, or -EIO if a step
 * failed: pages are then leaked on purpose, never reused.
 */
int kvm_tdx_teardown_memory(struct kvm *kvm);
/* *pages_leaked: KVM page-table pages still live before the arena went. */
int kvm_destroy_vm(struct kvm *kvm, uint64_t *pages_leaked);

/*
 * TD exits KVM handles (tdx_exit.c, mapgpa.c), called by the CPU model on
 * the exiting vCPU's thread:
 *
 * kvm_tdx_handle_ept_violation(): an EPT violation at gpa (raw, shared bit
 * included). Counts fault.private / fault.shared, tops up the vCPU's caches,
 * takes mmu_lock for read and runs the TDP MMU fault path, retrying locally
 * on BUSY a bounded number of times (upstream's local retry). Returns
 * RET_PF_FIXED, RET_PF_SPURIOUS, RET_PF_RETRY, RET_PF_EMULATE (shared GPA,
 * no memslot: MMIO), or -EFAULT (private GPA without memslot) / -EIO (VM
 * bugged) / -ENOMEM (an allocation failed, mmu.h: nothing was left
 * half-made; the VMM runs the vCPU again).
 *
 * kvm_tdx_map_gpa(): TDG.VP.VMCALL<MapGPA> (GHCI 0x10001). Returns the
 * TDVMCALL status (TDVMCALL_SUCCESS, TDVMCALL_RETRY with *resume_gpa the GPA
 * to re-issue from, shared bit as in the request, or
 * TDVMCALL_INVALID_OPERAND with *resume_gpa = gpa). Counts mapgpa.
 */
#define TDX_MAP_GPA_MAX_LEN (2ULL << 20)
/* kvm->mapgpa_chunk for the seeds' era (E4): the whole range in one call. */
#define KVM_MAPGPA_WHOLE UINT64_MAX
#define TDVMCALL_SUCCESS 0ULL
#define TDVMCALL_RETRY 1ULL
#define TDVMCALL_INVALID_OPERAND 0x8000000000000000ULL
int kvm_tdx_handle_ept_violation(struct kvm_vcpu *vcpu, gpa_t gpa);
/*
 * The EPT-violation exit as the CPU model takes it: kvm_tdx_handle_ept_violation()
 * plus what the vCPU needs to know of KVM's answer, so that the CPU never
 * reads KVM's internals (architecture.md: the CPU sees only exits and their
 * answers). *idle is true when the fault changed no SPTE of either tree and
 * met no contention: re-entering will fault the same way, forever unless
 * some other party changes the tables (the guest loops on EPT violations).
 */
int kvm_tdx_ept_violation_exit(struct kvm_vcpu *vcpu, gpa_t gpa, bool *idle);
uint64_t kvm_tdx_map_gpa(struct kvm_vcpu *vcpu, gpa_t gpa, uint64_t size,
			 uint64_t *resume_gpa);

/*
 * Zaps by cause (kvm_zap.c), host side, each taking the locks it needs:
 * kvm_mmu_notifier_invalidate(): the host range behind [start, end) gfns was
 * invalidated (migration, swap): zap the SHARED alias only; private frames
 * are pinned and stay (E4 drop_private=false).
 * kvm_delete_memslot(): zap both aliases of the slot (private pages are
 * removed: their content is lost), then delete it from the host.
 * kvm_zap_gfn_range(): KVM's zap of a gfn range on the chosen aliases
 * (private pages removed with BLOCK/TRACK/REMOVE, one TRACK per batch).
 * Return 0 or -errno; -EIO when the VM is dead, or this zap killed it (a
 * dead VM changes nothing). None of them allocates, except a
 * kvm_zap_gfn_range() that cuts a private 2M leaf (its split's S-EPT page,
 * before mmu_lock; -ENOMEM then, nothing done).
 */
int kvm_mmu_notifier_invalidate(struct kvm *kvm, gfn_t start, gfn_t end);
int kvm_delete_memslot(struct kvm *kvm, unsigned id);
int kvm_zap_gfn_range(struct kvm *kvm, gfn_t start, gfn_t end, bool private_alias,
		      bool shared_alias);

/*
 * kvm->slots_lock: every taker goes through these (mmu.c), because while
 * `tdxmmu explore` runs, a thread must not sleep on a lock another model
 * thread holds (explore/sched.h): the exploring acquire is a schedule point
 * plus try-locks with SCHED_WAIT. Outside exploration a plain mutex.
 */
void kvm_slots_lock(struct kvm *kvm);
void kvm_slots_unlock(struct kvm *kvm);


#endif /* TDXMMU_KVM_KVM_H */
