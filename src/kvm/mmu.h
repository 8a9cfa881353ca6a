/* SPDX-License-Identifier: MIT */
/*
 * KVM's MMU core, shared by both MMUs of a TD (KVM's mmu.c is to its
 * tdp_mmu.c what this is to tdp_mmu.c and legacy_*.c): mmu_lock and its
 * lock-mode assertions, the memory caches filled before mmu_lock is taken,
 * the page-fault results, gfn ranges, the MMU change sequence, the walk
 * callback type of the observers, and the part of MMU creation and teardown
 * that does not depend on the MMU (the page-table arena and the two roots).
 *
 * Layering: kvm_main.c (VM lifecycle), tdx_exit.c, mapgpa.c and kvm_zap.c
 * (the entry points) dispatch to tdp_mmu.c, tdp_mmu_nomirror.c or the
 * legacy_*.c files; those three are siblings over this core and
 * mmu_page.c/tdx_hooks.c, and none of them calls into kvm_main.c or into
 * another sibling.
 *
 * Locking: kvm->mmu_lock (an rwlock, mmu_rwlock.h). Take it through
 * kvm_mmu_{read,write}_{lock,unlock}() so that the debug-build assertions
 * (kvm_lockdep_assert_held_read/write) know which mode this thread holds;
 * a lock taken with raw mmu_rwlock calls is only probed (held or not).
 * Lock order: kvm->slots_lock -> kvm->mmu_lock -> kvm->pages_lock (kvm.h).
 */
#ifndef TDXMMU_KVM_MMU_H
#define TDXMMU_KVM_MMU_H

#include <stdbool.h>
#include <stdint.h>

#include "kvm/kvm.h"

struct kvm_mmu_page;

/* Page-fault results (KVM's RET_PF_*). Negative values are -errno. */
enum {
	RET_PF_CONTINUE = 0, /* internal: keep going */
	RET_PF_RETRY,        /* nothing done; re-enter, the guest refaults */
	RET_PF_EMULATE,      /* shared GPA without a memslot: MMIO, nothing
				installed (the model has no device emulation) */
	RET_PF_INVALID,
	RET_PF_FIXED,        /* the mapping was installed */
	RET_PF_SPURIOUS,     /* the mapping was already there */
};

/*
 * The MMU change sequence: moves after every change of an SPTE in either
 * tree (both setters, table teardown, MapGPA's raw S writes). The CPU model
 * reads it on the faulting vCPU's thread around an EPT-violation exit:
 * RET_PF_RETRY with the sequence unmoved (and no contention,
 * kvm_contention()) means the fault changed nothing and would recur forever.
 *
 * Changes made under the write lock (MapGPA, zaps, memslot deletion,
 * teardown, the legacy MMU) move kvm->mmu_change_seq, release order, so a
 * reader that sees the new count (acquire) sees the change. Changes made
 * under the read lock are faults installing tables and leaves: they move a
 * count private to the thread that made them, which its own
 * kvm_mmu_change_seq() adds in. Another vCPU's fault can never turn this
 * vCPU's final RETRY into a transient one, except by contending on the same
 * entry (a frozen entry, a lost cmpxchg, a BUSY rollback), which
 * kvm_contention() reports; so the two vCPUs need not share a cache line
 * per fault to know it.
 */
void kvm_mmu_change_seq_bump(struct kvm *kvm);
uint64_t kvm_mmu_change_seq(struct kvm *kvm);

/*
 * MapGPA (both MMUs) between two pre-population passes, mmu_lock dropped,
 * after a pass ended with ret (-EAGAIN: the S-EPT page cache ran dry;
 * -EBUSY: SEPT.ADD met another thread's module lock). Waits as fits (a
 * yield, or SCHED_WAIT while exploring); true when waiting is hopeless
 * (exploring: two STALLs in a row, *stalled carrying the first; see
 * tdx_retry_next()): answer RETRY.
 */
bool kvm_map_gpa_pass_wait(struct kvm *kvm, int ret, bool *stalled);

/* A gfn range [start, end), without the shared bit. */
struct kvm_gfn_range {
	gfn_t start;
	gfn_t end;
};

/* ---- mmu_lock with lock-mode tracking ---- */

void kvm_mmu_read_lock(struct kvm *kvm);
void kvm_mmu_read_unlock(struct kvm *kvm);
void kvm_mmu_write_lock(struct kvm *kvm);
void kvm_mmu_write_unlock(struct kvm *kvm);

/* Aborts with a message unless this thread holds kvm->mmu_lock in the given
 * mode (exact when taken through the wrappers above; otherwise a probe that
 * only catches "not held at all" / "no writer"). */
void __kvm_lockdep_assert_held(struct kvm *kvm, bool write, const char *func);
#ifdef NDEBUG
#define kvm_lockdep_assert_held_read(kvm) ((void)(kvm))
#define kvm_lockdep_assert_held_write(kvm) ((void)(kvm))
#else
#define kvm_lockdep_assert_held_read(kvm) \
	__kvm_lockdep_assert_held((kvm), false, __func__)
#define kvm_lockdep_assert_held_write(kvm) \
	__kvm_lockdep_assert_held((kvm), true, __func__)
#endif

/* ---- lifetime ---- */

/**
 * kvm_mmu_init() - create KVM's MMU for a VM
 * @kvm: the VM; kvm->root_level (PG_LEVEL_512G or PG_LEVEL_256T) set.
 *
 * Creates the page-table arena (kvm->mmu_pages) and both roots: the private
 * root (private, no Secure-EPT page of its own: the module's S-EPT root lives
 * in a TDCS page) and the shared root. No SEAMCALL. No lock needed (the VM is
 * not visible yet).
 *
 * Return: 0 or -ENOMEM (nothing left allocated).
 */
int kvm_mmu_init(struct kvm *kvm);

/**
 * kvm_mmu_uninit() - free KVM's MMU memory
 * @kvm: the VM, no longer used by any thread.
 *
 * Frees the arena with every page still in it. Call after the MMU's own
 * teardown (kvm_tdp_mmu_free_all(), kvm_legacy_mmu_free_all() then
 * kvm_legacy_mmu_uninit()); pages still live then (kvm_mmu_pages_live()) are
 * freed without SEAMCALLs, their Secure-EPT twins left to the module (leaked
 * on purpose). No SEAMCALL.
 */
void kvm_mmu_uninit(struct kvm *kvm);

/* ---- memory caches (allocated outside mmu_lock) ---- */

/*
 * Host frames KVM keeps ready for S-EPT pages, topped up before mmu_lock is
 * taken (KVM's mmu_topup_memory_caches), so that nothing under the lock
 * allocates. kvm_mmu_topup_sept_cache(): 0 or -ENOMEM (the frames already
 * in the cache stay). kvm_mmu_cache_take(): one frame, or 0 when the cache
 * is empty (a caller that did not top up: a KVM bug for its caller to
 * report). kvm_mmu_cache_free(): every frame back to the host.
 */
int kvm_mmu_topup_sept_cache(struct kvm *kvm, struct kvm_mmu_memory_cache *mc);
pfn_t kvm_mmu_cache_take(struct kvm_mmu_memory_cache *mc);
void kvm_mmu_cache_free(struct kvm *kvm, struct kvm_mmu_memory_cache *mc);

/* One host frame for KVM's own use (TDR, TDCS, TD_PARAMS): 0 or -ENOMEM. */
int kvm_page_new(struct kvm *kvm, hpa_t *hpa);

/* ---- ENOMEM injection ---- */

/*
 * Every allocation KVM makes for the MMU can fail, as GFP_KERNEL_ACCOUNT
 * allocations do under memory pressure (and the memcg limit): page-table
 * pages (KVM_ALLOC_PT), S-EPT pages for the cache (KVM_ALLOC_SEPT), the
 * guest frame a fault maps (KVM_ALLOC_FRAME, kvm_faultin_pfn), the legacy
 * MMU's rmap and shadow-page side table (KVM_ALLOC_RMAP, KVM_ALLOC_SHADOW),
 * a new chunk of the page-table arena (KVM_ALLOC_ARENA) and the no-mirror
 * mode's arrays (KVM_ALLOC_NOMIRROR). Each caller fails its operation
 * cleanly on -ENOMEM: nothing half-made is left (no linked table without
 * its S-EPT twin, no frozen entry, no frame lost), so the operation can
 * simply be issued again (tests/unit/test_inject_sites.c tries each at
 * every N). Not injected: what the VM's creation allocates (TDR, TDCS,
 * TD_PARAMS, vCPU pages, the arena's and legacy MMU's roots): the VMM can
 * arm nothing before the VM exists; and kvm_leak_page()'s list, met only on
 * a KVM-bug path, where a failure keeps the page leaked and destroy says
 * so.
 *
 * kvm_alloc_fails(): true when this allocation at @site is to fail
 * (probability kvm->enomem_ppm[site] / 10^6, drawn from the VM's seed;
 * never draws while the site's share is 0; or its countdown ran out). Any
 * thread, any lock; with no injection set, one relaxed load and a branch.
 * kvm_inject_enomem(): sets a site's share (ppm <= 10^6).
 *
 * For the VMM's retry (the API), per calling thread, since a vCPU's fault
 * runs on the thread that drives the vCPU: kvm_enomem_injected() counts
 * the injected failures this thread has met (an -ENOMEM with the count
 * unmoved was a real one: the host is out of frames, and retrying would
 * spin); kvm_enomem_hopeless() says the last of them, for @kvm, was at a
 * site that fails every allocation, so no retry can succeed.
 */
bool kvm_alloc_fails(struct kvm *kvm, enum kvm_alloc_site site);
void kvm_inject_enomem(struct kvm *kvm, enum kvm_alloc_site site, uint32_t ppm);
/*
 * kvm_inject_enomem_nth(): the countdown mode (SQLite's "fail the N-th
 * allocation"): the @n-th allocation at @site from now fails (@site < 0:
 * the n-th allocation at any site); with @persistent every later one fails
 * too, until the countdown is set again (n = 0 switches it off). Beside the
 * share of kvm_inject_enomem(), not instead of it.
 * kvm_enomem_hits(): the failures injected into @kvm so far, by share or
 * countdown.
 */
void kvm_inject_enomem_nth(struct kvm *kvm, int site, uint64_t n, bool persistent);
uint64_t kvm_enomem_hits(const struct kvm *kvm);
uint64_t kvm_enomem_injected(void);
bool kvm_enomem_hopeless(struct kvm *kvm);

/*
 * kvm_faultin_pfn(): the host frame behind @gfn (no shared bit) of @slot,
 * as KVM's kvm_faultin_pfn gets it from the backing store (which may have
 * to allocate it). The model's memslot frames are reserved with the slot,
 * so only the injected KVM_ALLOC_FRAME failure can fail it: -ENOMEM, and
 * the fault changes nothing. Called before the fault changes any entry.
 */
struct host_memslot;
int kvm_faultin_pfn(struct kvm *kvm, const struct host_memslot *slot, gfn_t gfn,
		    pfn_t *pfn);

/* ---- observers ---- */

/*
 * Called in pre-order for every entry of a tree that is not plain
 * SHADOW_NONPRESENT_VALUE (present, frozen, or carrying a software bit):
 * gfn is the first gfn the entry maps (shared bit included in the shared
 * tree), sp the page whose table holds the entry. Used by both MMUs' walks
 * (kvm_tdp_mmu_walk(), kvm_legacy_mmu_walk()).
 */
typedef void (*kvm_mmu_walk_fn)(struct kvm *kvm, bool is_private, gfn_t gfn,
				int level, uint64_t spte,
				struct kvm_mmu_page *sp, void *arg);

#endif /* TDXMMU_KVM_MMU_H */
