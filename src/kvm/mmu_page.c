/* SPDX-License-Identifier: MIT */
/* KVM's page-table pages and their arena (see mmu_page.h). */
#include <errno.h>
#include <stddef.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvm/kvm_sched.h"
#include "kvm/mmu.h"
#include "kvm/mmu_page.h"
#include "kvm/spte.h"
#include "kvm/tdx_hooks.h"

#define MMU_TABLE_BYTES (SPTE_ENT_PER_PAGE * sizeof(uint64_t))
#define MMU_CHUNK_TABLE_BYTES (MMU_PAGES_PER_CHUNK * MMU_TABLE_BYTES)

static_assert(MMU_TABLE_BYTES == PAGE_SIZE, "a table is one 4K page");
static_assert(sizeof(_Atomic uint64_t) == sizeof(uint64_t),
	      "SPTEs are plain 64-bit words");
static_assert((MMU_CHUNK_TABLE_BYTES & (MMU_CHUNK_TABLE_BYTES - 1)) == 0,
	      "the chunk's table area must be a power of two (alignment)");

/*
 * A chunk: the tables first, aligned to the size of the table area, so that
 * an SPTE pointer finds its chunk by masking and its page by dividing; the
 * headers after them.
 */
struct mmu_chunk {
	_Atomic uint64_t spt[MMU_PAGES_PER_CHUNK][SPTE_ENT_PER_PAGE];
	struct kvm_mmu_page sp[MMU_PAGES_PER_CHUNK];
	struct mmu_chunk *next;
};

struct mmu_arena {
	pthread_mutex_t lock;
	struct mmu_chunk *chunks;
	struct kvm_mmu_page *free_list; /* singly linked through ->next */
	struct kvm_mmu_page live;       /* list head of live pages */
	_Atomic uint64_t nr_live;
	uint64_t nr_chunks;
	/* Pages handed to call_rcu whose callback has not finished (under
	 * lock); rcu_idle is signalled when it drops to 0. */
	uint64_t nr_rcu_pending;
	pthread_cond_t rcu_idle;
};

/*
 * Chunks of destroyed arenas, kept for the next VM's: `tdxmmu explore`
 * makes and destroys a VM per schedule, thousands a second, and a fresh
 * chunk cost its allocation (an mmap at this size), a page fault with
 * kernel zeroing per table used, and a munmap, some 15% of a run. A few
 * chunks cover a small VM's tables; more are freed. The tables' content
 * does not matter: kvm_mmu_alloc_page() writes every entry.
 */
#define MMU_SPARE_CHUNKS 4
static pthread_mutex_t spare_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mmu_chunk *spare_chunks; /* linked through ->next */
static unsigned nr_spare_chunks;

static struct mmu_chunk *chunk_take_spare(void)
{
	struct mmu_chunk *c;

	pthread_mutex_lock(&spare_lock);
	c = spare_chunks;
	if (c) {
		spare_chunks = c->next;
		nr_spare_chunks--;
	}
	pthread_mutex_unlock(&spare_lock);
	return c;
}

/* Parks the chunk as a spare, or frees it when enough are parked. */
static void chunk_put(struct mmu_chunk *c)
{
	pthread_mutex_lock(&spare_lock);
	if (nr_spare_chunks < MMU_SPARE_CHUNKS) {
		c->next = spare_chunks;
		spare_chunks = c;
		nr_spare_chunks++;
		c = NULL;
	}
	pthread_mutex_unlock(&spare_lock);
	free(c);
}

/* At exit, so that leak checkers see every chunk returned. */
__attribute__((destructor)) static void free_spare_chunks(void)
{
	struct mmu_chunk *c;

	while ((c = chunk_take_spare()))
		free(c);
}

static struct mmu_arena *arena(const struct kvm *kvm)
{
	return kvm->mmu_pages;
}

int kvm_mmu_pages_init(struct kvm *kvm)
{
	struct mmu_arena *a = calloc(1, sizeof(*a));

	if (!a)
		return -ENOMEM;
	pthread_mutex_init(&a->lock, NULL);
	a->live.prev = a->live.next = &a->live;
	atomic_init(&a->nr_live, 0);
	pthread_cond_init(&a->rcu_idle, NULL);
	kvm->mmu_pages = a;
	return 0;
}

void kvm_mmu_pages_destroy(struct kvm *kvm)
{
	struct mmu_arena *a = arena(kvm);

	if (!a)
		return;
	/* No callback may run on memory about to go. */
	kvm_mmu_pages_quiesce(kvm);
	while (a->chunks) {
		struct mmu_chunk *c = a->chunks;

		a->chunks = c->next;
		chunk_put(c);
	}
	pthread_cond_destroy(&a->rcu_idle);
	pthread_mutex_destroy(&a->lock);
	free(a);
	kvm->mmu_pages = NULL;
}

/* Called with the arena lock held. */
static int arena_grow(struct kvm *kvm, struct mmu_arena *a)
{
	struct mmu_chunk *c;
	void *mem;

	/* Before a spare is taken: whether one is parked depends on the VMs
	 * that went before, and the injected failure must not. */
	if (kvm_alloc_fails(kvm, KVM_ALLOC_ARENA))
		return -ENOMEM;
	c = chunk_take_spare();
	if (c)
		goto ready;
	if (posix_memalign(&mem, MMU_CHUNK_TABLE_BYTES, sizeof(*c)))
		return -ENOMEM;
	c = mem;
	/*
	 * Non-leaf SPTEs hold a table's address in the PFN field, so tables
	 * must lie below 2^52 (user-space addresses on x86-64 and arm64 with
	 * 4- or 5-level paging do unless mmap is asked for more).
	 */
	if ((uintptr_t)c & ~SPTE_BASE_ADDR_MASK) {
		free(c);
		fprintf(stderr, "tdxmmu: page-table memory above 2^52\n");
		return -ENOMEM;
	}
ready:
	/* Pushed last to first, so that tables are handed out (and numbered
	 * in the trace) in address order. */
	for (unsigned i = MMU_PAGES_PER_CHUNK; i-- > 0;) {
		struct kvm_mmu_page *sp = &c->sp[i];

		memset(sp, 0, sizeof(*sp));
		sp->spt = c->spt[i];
		sp->number = (uint32_t)(a->nr_chunks * MMU_PAGES_PER_CHUNK + i);
		sp->next = a->free_list;
		a->free_list = sp;
	}
	c->next = a->chunks;
	a->chunks = c;
	a->nr_chunks++;
	return 0;
}

struct kvm_mmu_page *kvm_mmu_alloc_page(struct kvm *kvm, int level,
					bool is_private)
{
	struct mmu_arena *a = arena(kvm);
	struct kvm_mmu_page *sp;
	_Atomic uint64_t *spt;

	/* KVM's shadow-page cache can run dry too (mmu.h, injection). */
	if (kvm_alloc_fails(kvm, KVM_ALLOC_PT))
		return NULL;
	pthread_mutex_lock(&a->lock);
	if (!a->free_list && arena_grow(kvm, a)) {
		pthread_mutex_unlock(&a->lock);
		return NULL;
	}
	sp = a->free_list;
	a->free_list = sp->next;
	sp->next = a->live.next;
	sp->prev = &a->live;
	a->live.next->prev = sp;
	a->live.next = sp;
	sp->live = true;
	pthread_mutex_unlock(&a->lock);

	/* The page is ours alone until it is published by a cmpxchg (or a
	 * store under the write lock), which orders these stores before it. */
	spt = sp->spt;
	for (unsigned i = 0; i < SPTE_ENT_PER_PAGE; i++)
		atomic_store_explicit(&spt[i], SHADOW_NONPRESENT_VALUE,
				      memory_order_relaxed);
	sp->gfn = 0;
	sp->role.level = (unsigned)level;
	sp->role.is_private = is_private;
	sp->private_spt = 0;
	sp->parent = NULL;
	atomic_fetch_add_explicit(&a->nr_live, 1, memory_order_relaxed);
	kvm_stat_inc(is_private ? &kvm_stats_mine(kvm)->pages_private_spt
				: &kvm_stats_mine(kvm)->pages_shared_spt);
	return sp;
}

/*
 * Leaves the statistics: the page no longer belongs to a tree. False for a
 * page freed already: only a broken model (a mutant that removes a guard,
 * two threads both unlinking one table) gets there. That is the model's
 * own breakage, reported as such (exit status 3, a violation while
 * exploring), not a crash: the second free is dropped and the VM killed.
 */
static bool mmu_page_unaccount(struct kvm *kvm, struct kvm_mmu_page *sp)
{
	if (!sp->live || sp->rcu_pending) {
		atomic_store(&kvm->model_broken, true);
		kvm_vm_bugged(kvm, "double free of KVM page-table page %llu (level %u, %s tree)",
			      (unsigned long long)sp->number, (unsigned)sp->role.level,
			      sp->role.is_private ? "mirror" : "shared");
		return false;
	}
	atomic_fetch_sub_explicit(sp->role.is_private ? &kvm_stats_mine(kvm)->pages_private_spt
						      : &kvm_stats_mine(kvm)->pages_shared_spt,
				  1, memory_order_relaxed);
	return true;
}

/* Back to the free list, every entry poisoned. */
static void mmu_page_release(struct mmu_arena *a, struct kvm_mmu_page *sp)
{
	for (unsigned i = 0; i < SPTE_ENT_PER_PAGE; i++)
		atomic_store_explicit(&sp->spt[i], FREED_TABLE_POISON_SPTE,
				      memory_order_relaxed);
	pthread_mutex_lock(&a->lock);
	sp->live = false;
	sp->rcu_pending = false;
	sp->prev->next = sp->next;
	sp->next->prev = sp->prev;
	sp->prev = NULL;
	sp->next = a->free_list;
	a->free_list = sp;
	pthread_mutex_unlock(&a->lock);
	atomic_fetch_sub_explicit(&a->nr_live, 1, memory_order_relaxed);
}

void kvm_mmu_free_page(struct kvm *kvm, struct kvm_mmu_page *sp)
{
	if (mmu_page_unaccount(kvm, sp))
		mmu_page_release(arena(kvm), sp);
}

/* The RCU reclaimer thread (host_rcu.c), after the grace period. */
static void mmu_page_rcu_callback(struct host_rcu_head *h)
{
	struct kvm_mmu_page *sp = (struct kvm_mmu_page *)
		((char *)h - offsetof(struct kvm_mmu_page, rcu_head));
	struct mmu_arena *a = arena(sp->kvm);

	mmu_page_release(a, sp);
	/* Last touch of the arena: kvm_mmu_pages_quiesce() may free it as
	 * soon as it sees the count reach 0 (under the lock). */
	pthread_mutex_lock(&a->lock);
	if (--a->nr_rcu_pending == 0)
		pthread_cond_broadcast(&a->rcu_idle);
	pthread_mutex_unlock(&a->lock);
}

void kvm_mmu_free_page_rcu(struct kvm *kvm, struct kvm_mmu_page *sp)
{
	struct mmu_arena *a = arena(kvm);

	if (!mmu_page_unaccount(kvm, sp))
		return;
	kvm_stat_inc(&kvm_stats_mine(kvm)->pages_rcu_freed);
	KVM_TRACE(kvm, kvm_mmu_prepare_zap_page,
		  (sp->gfn, (int)sp->role.level, (int)sp->role.is_private, sp->number),
		  "sp gfn 0x%llx level %u tree %s pfn 0x%llx",
		  (unsigned long long)sp->gfn, (unsigned)sp->role.level,
		  TRACE_TREE_NAME(sp->role.is_private ? TRACE_TREE_MIRROR
							  : TRACE_TREE_SHARED),
		  KVM_TRACE_PT_PFN_BASE + sp->number);
	/*
	 * The guard: a walker that read the parent entry before the unlink
	 * (the CPU's walk of the shared EPT, KVM's lockless walks) may still
	 * be reading this table, so it goes back to the arena only after a
	 * grace period. MUTANT_NO_RCU removes it: the page is poisoned and
	 * reusable at once, and such a walker reads the poison (reported as a
	 * broken RCU rule) or a table reused for another gfn. The TEST ONLY
	 * kvm->debug_free_immediately does the same for one VM.
	 */
	if (mutant_on(MUTANT_NO_RCU) || kvm->debug_free_immediately) {
		SCHED_POINT(SCHED_RCU_FREE, SCHED_W, sp->spt, "page-table page (freed at once)");
		mmu_page_release(a, sp);
		return;
	}
	sp->rcu_pending = true;
	sp->kvm = kvm;
	pthread_mutex_lock(&a->lock);
	a->nr_rcu_pending++;
	pthread_mutex_unlock(&a->lock);
	host_call_rcu(&sp->rcu_head, mmu_page_rcu_callback);
}

/*
 * Waits on the arena's own count rather than urcu_memb_barrier(): the count
 * is exact for this VM, and its mutex and condition variable are visible to
 * ThreadSanitizer (and the callbacks run on the model's own reclaimer
 * thread, host_rcu.c, not on liburcu's, whose queue a barrier would wait
 * for).
 */
void kvm_mmu_pages_quiesce(struct kvm *kvm)
{
	struct mmu_arena *a = arena(kvm);

	if (!a)
		return;
	/* Exploring: the scheduler runs its queued callbacks now, on this
	 * thread; nobody else would while we wait (host_rcu.c). */
	(void)sched_rcu_barrier();
	pthread_mutex_lock(&a->lock);
	while (a->nr_rcu_pending)
		pthread_cond_wait(&a->rcu_idle, &a->lock);
	pthread_mutex_unlock(&a->lock);
}

struct kvm_mmu_page *sptep_to_sp(const _Atomic uint64_t *sptep)
{
	uintptr_t addr = (uintptr_t)sptep;
	struct mmu_chunk *c = (struct mmu_chunk *)(addr & ~(uintptr_t)(MMU_CHUNK_TABLE_BYTES - 1));
	size_t idx = (addr & (MMU_CHUNK_TABLE_BYTES - 1)) / MMU_TABLE_BYTES;

	return &c->sp[idx];
}

uint64_t kvm_mmu_pages_live(const struct kvm *kvm)
{
	const struct mmu_arena *a = arena(kvm);

	return a ? atomic_load_explicit(&a->nr_live, memory_order_relaxed) : 0;
}
