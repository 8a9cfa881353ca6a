/* SPDX-License-Identifier: MIT */
/* KVM's page-table pages and their arena (see mmu_page.h). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvm/mmu_page.h"
#include "kvm/spte.h"

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
};

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
	kvm->mmu_pages = a;
	return 0;
}

void kvm_mmu_pages_destroy(struct kvm *kvm)
{
	struct mmu_arena *a = arena(kvm);

	if (!a)
		return;
	while (a->chunks) {
		struct mmu_chunk *c = a->chunks;

		a->chunks = c->next;
		free(c);
	}
	pthread_mutex_destroy(&a->lock);
	free(a);
	kvm->mmu_pages = NULL;
}

/* Called with the arena lock held. */
static int arena_grow(struct mmu_arena *a)
{
	struct mmu_chunk *c;
	void *mem;

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
	for (unsigned i = 0; i < MMU_PAGES_PER_CHUNK; i++) {
		struct kvm_mmu_page *sp = &c->sp[i];

		memset(sp, 0, sizeof(*sp));
		sp->spt = c->spt[i];
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

	pthread_mutex_lock(&a->lock);
	if (!a->free_list && arena_grow(a)) {
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
	kvm_stat_inc(is_private ? &kvm->stats.pages_private_spt
				: &kvm->stats.pages_shared_spt);
	return sp;
}

void kvm_mmu_free_page(struct kvm *kvm, struct kvm_mmu_page *sp)
{
	struct mmu_arena *a = arena(kvm);

	if (!sp->live) {
		fprintf(stderr, "tdxmmu: double free of a KVM page-table page\n");
		abort();
	}
	atomic_fetch_sub_explicit(sp->role.is_private ? &kvm->stats.pages_private_spt
						      : &kvm->stats.pages_shared_spt,
				  1, memory_order_relaxed);
	atomic_fetch_sub_explicit(&a->nr_live, 1, memory_order_relaxed);

	pthread_mutex_lock(&a->lock);
	sp->live = false;
	sp->prev->next = sp->next;
	sp->next->prev = sp->prev;
	sp->prev = NULL;
	sp->next = a->free_list;
	a->free_list = sp;
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
