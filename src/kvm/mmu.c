/* SPDX-License-Identifier: MIT */
/*
 * KVM's MMU core (mmu.h): mmu_lock with lock-mode tracking, the MMU change
 * sequence, the memory caches, and the MMU-independent part of creation and
 * teardown (the page-table arena and the two roots). Both MMUs of a TD,
 * tdp_mmu.c and legacy_*.c, sit on top of it, as KVM's tdp_mmu.c sits on
 * mmu.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "kvm/kvm_sched.h"
#include "kvm/mmu.h"
#include "kvm/mmu_page.h"
#include "host/model_abort.h"
#include "kvm/tdp_iter.h" /* PT64_ROOT_MAX_LEVEL */

/* ---- slots_lock ----------------------------------------------------------- */

/*
 * kvm->slots_lock is held across schedule points (MapGPA's whole call,
 * memslot deletion's zap), so while exploring it is the scheduler's: a
 * schedule point, then try-locks with SCHED_WAIT between them instead of
 * sleeping in pthread_mutex_lock (the holder cannot run to release it while
 * the waiter holds the baton). A lock never gives up: a STALL answer is
 * waited through, and a second one is the scheduler's deadlock report.
 */
void kvm_slots_lock(struct kvm *kvm)
{
	if (kvm_exploring()) {
		SCHED_POINT_EXPLORING(SCHED_MUTEX_LOCK, SCHED_W, &kvm->slots_lock, "slots_lock");
		while (pthread_mutex_trylock(&kvm->slots_lock))
			(void)SCHED_WAIT_EXPLORING(&kvm->slots_lock, "slots_lock");
		return;
	}
	pthread_mutex_lock(&kvm->slots_lock);
}

void kvm_slots_unlock(struct kvm *kvm)
{
	SCHED_POINT(SCHED_MUTEX_UNLOCK, SCHED_W, &kvm->slots_lock, "slots_lock");
	pthread_mutex_unlock(&kvm->slots_lock);
}

/* ---- mmu_lock with lock-mode tracking ------------------------------------ */

enum { MMU_LOCK_NONE, MMU_LOCK_READ, MMU_LOCK_WRITE };

/* Which VM's mmu_lock this thread holds through the wrappers, and how. A
 * thread holds at most one mmu_lock at a time. */
static _Thread_local const struct kvm *mmu_lock_held_kvm;
static _Thread_local int mmu_lock_held_mode;

void kvm_mmu_read_lock(struct kvm *kvm)
{
	mmu_rwlock_read_lock(&kvm->mmu_lock);
	mmu_lock_held_kvm = kvm;
	mmu_lock_held_mode = MMU_LOCK_READ;
}

void kvm_mmu_read_unlock(struct kvm *kvm)
{
	mmu_lock_held_kvm = NULL;
	mmu_lock_held_mode = MMU_LOCK_NONE;
	mmu_rwlock_read_unlock(&kvm->mmu_lock);
}

void kvm_mmu_write_lock(struct kvm *kvm)
{
	mmu_rwlock_write_lock(&kvm->mmu_lock);
	mmu_lock_held_kvm = kvm;
	mmu_lock_held_mode = MMU_LOCK_WRITE;
}

void kvm_mmu_write_unlock(struct kvm *kvm)
{
	mmu_lock_held_kvm = NULL;
	mmu_lock_held_mode = MMU_LOCK_NONE;
	mmu_rwlock_write_unlock(&kvm->mmu_lock);
}

bool kvm_sched_spte_read_is_point(void)
{
	return mmu_lock_held_mode != MMU_LOCK_WRITE;
}

/* SPTE changes this thread made under a read lock (mmu.h). */
static _Thread_local uint64_t mmu_changes_under_read_lock;

void kvm_mmu_change_seq_bump(struct kvm *kvm)
{
	if (mmu_lock_held_kvm == kvm && mmu_lock_held_mode == MMU_LOCK_READ) {
		mmu_changes_under_read_lock++;
		return;
	}
	atomic_fetch_add_explicit(&kvm->mmu_change_seq, 1, memory_order_release);
}

uint64_t kvm_mmu_change_seq(struct kvm *kvm)
{
	return atomic_load_explicit(&kvm->mmu_change_seq, memory_order_acquire) +
	       mmu_changes_under_read_lock;
}

static void lockdep_fail(const char *func, const char *what)
{
	fprintf(stderr, "tdxmmu: %s: mmu_lock %s\n", func, what);
	model_abort();
}

void __kvm_lockdep_assert_held(struct kvm *kvm, bool write, const char *func)
{
	if (mmu_lock_held_kvm == kvm) {
		/*
		 * The two lock mutants (explore/mutant.h) take the read side
		 * where the write side belongs, on purpose: the wrong state
		 * that follows is what exploration must find downstream
		 * (`check`, the scenario's checks), not an abort here.
		 */
		if (write && mmu_lock_held_mode == MMU_LOCK_READ &&
		    (mutant_on(MUTANT_MAPGPA_READ_LOCK) ||
		     mutant_on(MUTANT_LEGACY_READ_LOCK)))
			return;
		if (mmu_lock_held_mode != (write ? MMU_LOCK_WRITE : MMU_LOCK_READ))
			lockdep_fail(func, write ? "not held for write (held for read)"
						 : "not held for read (held for write)");
		return;
	}
	/*
	 * Not taken through the wrappers: probe. A try-lock that succeeds
	 * proves the assertion false (and is undone at once); one that fails
	 * proves only that somebody holds the lock.
	 */
	if (write) {
		if (mmu_rwlock_read_trylock(&kvm->mmu_lock)) {
			mmu_rwlock_read_unlock(&kvm->mmu_lock);
			lockdep_fail(func, "not held for write");
		}
	} else {
		if (mmu_rwlock_write_trylock(&kvm->mmu_lock)) {
			mmu_rwlock_write_unlock(&kvm->mmu_lock);
			lockdep_fail(func, "not held");
		}
	}
}

/* ---- explanation notes ------------------------------------------------------ */

/* A short name for an SPTE value, for a person reading a schedule. */
static void spte_describe(uint64_t spte, char *buf, size_t len)
{
	const char *s = (spte & SPTE_SHARED_MASK) ? "|S" : "";

	if (is_removed_spte(spte))
		snprintf(buf, len, "FROZEN%s", s);
	else if (spte == FREED_TABLE_POISON_SPTE)
		snprintf(buf, len, "POISON");
	else if (is_private_zapped_spte(spte))
		snprintf(buf, len, "ZAPPED pfn %#llx", (unsigned long long)spte_to_pfn(spte));
	else if (!is_shadow_present_pte(spte))
		snprintf(buf, len, "NP%s", s);
	else
		snprintf(buf, len, "%#llx", (unsigned long long)spte);
}

void kvm_sched_note_spte(const char *tree, uint64_t gfn, int level,
			 uint64_t old_spte, uint64_t new_spte)
{
	char o[48], n[48];

	spte_describe(old_spte, o, sizeof(o));
	spte_describe(new_spte, n, sizeof(n));
	sched_note("%s SPTE gpa %#llx L%d: %s -> %s", tree,
		   (unsigned long long)(gfn << PAGE_SHIFT), level, o, n);
}

/* ---- memory caches -------------------------------------------------------- */

int kvm_mmu_topup_sept_cache(struct kvm *kvm, struct kvm_mmu_memory_cache *mc)
{
	while (mc->nr < KVM_MMU_CACHE_MIN) {
		pfn_t pfn;

		/* The frames already taken stay in the cache for next time. */
		if (kvm_alloc_fails(kvm, KVM_ALLOC_SEPT) ||
		    host_mem_alloc_frame(kvm->hm, &pfn))
			return -ENOMEM;
		mc->frames[mc->nr++] = pfn;
	}
	return 0;
}

pfn_t kvm_mmu_cache_take(struct kvm_mmu_memory_cache *mc)
{
	/* Callers topped the cache up to one frame per level of the deepest
	 * walk before taking mmu_lock, so running dry here is a KVM bug. */
	if (mc->nr == 0)
		return 0;
	return mc->frames[--mc->nr];
}

void kvm_mmu_cache_free(struct kvm *kvm, struct kvm_mmu_memory_cache *mc)
{
	/* A broken model (kvm->model_broken: a page-table page freed twice,
	 * say) may have handed a cached frame out as well: it is left to the
	 * pool's teardown rather than freed a second time. */
	if (atomic_load(&kvm->model_broken)) {
		mc->nr = 0;
		return;
	}
	while (mc->nr > 0)
		host_mem_free_frame(kvm->hm, mc->frames[--mc->nr]);
}

int kvm_page_new(struct kvm *kvm, hpa_t *hpa)
{
	pfn_t pfn;

	if (host_mem_alloc_frame(kvm->hm, &pfn))
		return -ENOMEM;
	*hpa = pfn_to_hpa(pfn);
	return 0;
}

/* ---- ENOMEM injection ------------------------------------------------------ */

/* splitmix64: one well-mixed 64-bit value per draw index. */
static uint64_t enomem_mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* This thread's injected failures (mmu.h): how many, and the last one's VM
 * and site, and whether it came from a persistent countdown. */
static _Thread_local uint64_t enomem_injected;
static _Thread_local const struct kvm *enomem_last_kvm;
static _Thread_local enum kvm_alloc_site enomem_last_site;
static _Thread_local bool enomem_last_persist;

/* Recomputes the fast path's mask after a change of shares or countdowns.
 * Only the VMM's control calls get here, never a fault. */
static void enomem_rearm(struct kvm *kvm)
{
	bool any = atomic_load_explicit(&kvm->enomem_nth_mode[KVM_ALLOC_NR_SITES],
					memory_order_relaxed) != KVM_NTH_OFF;
	uint32_t mask = 0;

	for (int s = 0; s < KVM_ALLOC_NR_SITES; s++)
		if (any ||
		    atomic_load_explicit(&kvm->enomem_ppm[s], memory_order_relaxed) ||
		    atomic_load_explicit(&kvm->enomem_nth_mode[s], memory_order_relaxed))
			mask |= 1u << s;
	atomic_store_explicit(&kvm->enomem_armed, mask, memory_order_relaxed);
}

/* One step of countdown @i: true when this allocation is the n-th (or, in
 * persistent mode, any after it). */
static bool enomem_nth_step(struct kvm *kvm, unsigned i, bool *persist)
{
	int mode = atomic_load_explicit(&kvm->enomem_nth_mode[i], memory_order_relaxed);
	int64_t left;

	if (mode == KVM_NTH_OFF)
		return false;
	left = atomic_fetch_sub_explicit(&kvm->enomem_countdown[i], 1, memory_order_relaxed);
	if (left == 1)
		return *persist = mode == KVM_NTH_PERSIST, true;
	return left < 1 && mode == KVM_NTH_PERSIST && (*persist = true);
}

/* Kept out of line: an allocation pays only kvm_alloc_fails()'s load and
 * branch while nothing is injected. */
__attribute__((noinline, cold)) static bool alloc_fails_draw(struct kvm *kvm,
							 enum kvm_alloc_site site)
{
	uint32_t ppm;
	bool persist = false;
	uint64_t n;

	/* Both countdowns step on every allocation at the site (one may be
	 * the site's own, the other every site's). */
	if (enomem_nth_step(kvm, (unsigned)site, &persist) |
	    enomem_nth_step(kvm, KVM_ALLOC_NR_SITES, &persist))
		goto fail;
	ppm = atomic_load_explicit(&kvm->enomem_ppm[site], memory_order_relaxed);
	if (!ppm)
		return false;
	/* One draw index per allocation, in the order the VM's threads make
	 * them: a one-thread run fails the same allocations every time. */
	n = atomic_fetch_add_explicit(&kvm->enomem_draws, 1, memory_order_relaxed);
	if (ppm < 1000000 &&
	    enomem_mix(kvm->enomem_seed ^ (n * 0xd1342543de82ef95ULL)) % 1000000 >= ppm)
		return false;
fail:
	enomem_injected++;
	/* Per VM, for soak runs that report how many failures they met. */
	kvm_stat_inc(&kvm_stats_mine(kvm)->enomem_injected);
	enomem_last_kvm = kvm;
	enomem_last_site = site;
	enomem_last_persist = persist;
	atomic_fetch_add_explicit(&kvm->enomem_hits, 1, memory_order_relaxed);
	KVM_TRACE(kvm, kvm_mmu_enomem, ((int)site), "site %d (injected)", (int)site);
	return true;
}

bool kvm_alloc_fails(struct kvm *kvm, enum kvm_alloc_site site)
{
	if (!(atomic_load_explicit(&kvm->enomem_armed, memory_order_relaxed) & (1u << site)))
		return false;
	return alloc_fails_draw(kvm, site);
}

void kvm_inject_enomem(struct kvm *kvm, enum kvm_alloc_site site, uint32_t ppm)
{
	atomic_store_explicit(&kvm->enomem_ppm[site], ppm > 1000000 ? 1000000 : ppm,
			      memory_order_relaxed);
	enomem_rearm(kvm);
}

void kvm_inject_enomem_nth(struct kvm *kvm, int site, uint64_t n, bool persistent)
{
	unsigned i = site < 0 ? KVM_ALLOC_NR_SITES : (unsigned)site;

	/* Mode off first: no allocation may count down a stale target. */
	atomic_store_explicit(&kvm->enomem_nth_mode[i], KVM_NTH_OFF, memory_order_relaxed);
	atomic_store_explicit(&kvm->enomem_countdown[i],
			      n > INT64_MAX ? INT64_MAX : (int64_t)n, memory_order_relaxed);
	if (n)
		atomic_store_explicit(&kvm->enomem_nth_mode[i],
				      persistent ? KVM_NTH_PERSIST : KVM_NTH_ONCE,
				      memory_order_relaxed);
	enomem_rearm(kvm);
}

uint64_t kvm_enomem_hits(const struct kvm *kvm)
{
	return atomic_load_explicit(&kvm->enomem_hits, memory_order_relaxed);
}

uint64_t kvm_enomem_injected(void)
{
	return enomem_injected;
}

bool kvm_enomem_hopeless(struct kvm *kvm)
{
	if (enomem_last_kvm != kvm)
		return false;
	/* A persistent countdown fails every later allocation until it is
	 * switched off (its mode read again: the VMM may have done so). */
	if (enomem_last_persist &&
	    (atomic_load_explicit(&kvm->enomem_nth_mode[enomem_last_site],
				  memory_order_relaxed) == KVM_NTH_PERSIST ||
	     atomic_load_explicit(&kvm->enomem_nth_mode[KVM_ALLOC_NR_SITES],
				  memory_order_relaxed) == KVM_NTH_PERSIST))
		return true;
	return atomic_load_explicit(&kvm->enomem_ppm[enomem_last_site],
				    memory_order_relaxed) >= 1000000;
}

/* kvm_faultin_pfn() with an injection armed at the frame site. */
__attribute__((noinline, cold)) static int faultin_pfn_armed(struct kvm *kvm,
							     const struct host_memslot *slot,
							     gfn_t gfn, pfn_t *pfn)
{
	if (alloc_fails_draw(kvm, KVM_ALLOC_FRAME))
		return -ENOMEM;
	*pfn = host_memslot_gfn_to_pfn(slot, gfn);
	return 0;
}

int kvm_faultin_pfn(struct kvm *kvm, const struct host_memslot *slot, gfn_t gfn,
		    pfn_t *pfn)
{
	/* Once per fault: the armed case is a tail call, so that the fast
	 * path saves no register (kvm_alloc_fails() inlined here did). */
	if (atomic_load_explicit(&kvm->enomem_armed, memory_order_relaxed) &
	    (1u << KVM_ALLOC_FRAME))
		return faultin_pfn_armed(kvm, slot, gfn, pfn);
	*pfn = host_memslot_gfn_to_pfn(slot, gfn);
	return 0;
}

/* ---- lifetime -------------------------------------------------------------- */

int kvm_mmu_init(struct kvm *kvm)
{
	int level = (int)kvm->root_level;
	int ret;

	if (level < PG_LEVEL_4K || level > PT64_ROOT_MAX_LEVEL)
		return -EINVAL;
	ret = kvm_mmu_pages_init(kvm);
	if (ret)
		return ret;
	/* The private root: private, but its S-EPT twin is the module's root
	 * (a TDCS page), so private_spt stays 0 and no SEPT.ADD is issued. */
	kvm->private_root = kvm_mmu_alloc_page(kvm, level, true);
	kvm->shared_root = kvm_mmu_alloc_page(kvm, level, false);
	if (!kvm->private_root || !kvm->shared_root) {
		kvm_mmu_uninit(kvm);
		return -ENOMEM;
	}
	return 0;
}

void kvm_mmu_uninit(struct kvm *kvm)
{
	if (kvm->private_root)
		kvm_mmu_free_page(kvm, kvm->private_root);
	if (kvm->shared_root)
		kvm_mmu_free_page(kvm, kvm->shared_root);
	kvm->private_root = NULL;
	kvm->shared_root = NULL;
	kvm_mmu_pages_destroy(kvm);
}
