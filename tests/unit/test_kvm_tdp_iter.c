/* SPDX-License-Identifier: MIT */
/*
 * The TDP iterator (src/kvm/tdp_iter.c) on tables built by hand from the
 * mmu_page arena (src/kvm/mmu_page.c): visit order, bounds, levels, stepping
 * down into present tables, the shared bit in gfns, walks that pass over
 * empty entries; and the arena itself.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>

#include "kvm/kvm.h"
#include "kvm/mmu_page.h"
#include "kvm/spte.h"
#include "kvm/tdp_iter.h"

struct visit {
	int level;
	gfn_t gfn;
	_Atomic uint64_t *sptep;
};

#define MAX_VISITS 4096

static struct kvm *new_kvm(void)
{
	struct kvm *kvm = calloc(1, sizeof(*kvm));

	assert_non_null(kvm);
	kvm->root_level = PG_LEVEL_512G;
	kvm->gfn_shared_mask = 1ULL << 35;
	assert_int_equal(kvm_mmu_pages_init(kvm), 0);
	return kvm;
}

static void free_kvm(struct kvm *kvm)
{
	kvm_mmu_pages_destroy(kvm);
	free(kvm);
}

/* Links a new table of level parent->level - 1 at parent->spt[index]. */
static struct kvm_mmu_page *link_table(struct kvm *kvm, struct kvm_mmu_page *parent,
				       unsigned index)
{
	int level = (int)parent->role.level;
	struct kvm_mmu_page *sp = kvm_mmu_alloc_page(kvm, level - 1,
						     parent->role.is_private);

	assert_non_null(sp);
	sp->gfn = parent->gfn + index * KVM_PAGES_PER_HPAGE(level);
	sp->parent = parent;
	atomic_store(&parent->spt[index], make_nonleaf_spte(kvm_mmu_page_pa(sp)));
	return sp;
}

static size_t walk(struct kvm_mmu_page *root, int min_level, gfn_t start,
		   gfn_t end, struct visit *v)
{
	struct tdp_iter iter;
	size_t n = 0;

	for_each_tdp_pte_min_level(iter, root, min_level, start, end) {
		assert_true(n < MAX_VISITS);
		assert_int_equal(iter.old_spte, atomic_load(iter.sptep));
		assert_int_equal(iter.is_private, root->role.is_private);
		assert_int_equal(iter.gfn & (KVM_PAGES_PER_HPAGE(iter.level) - 1), 0);
		v[n].level = iter.level;
		v[n].gfn = iter.gfn;
		v[n].sptep = iter.sptep;
		n++;
	}
	return n;
}

static void test_empty_root(void **state)
{
	struct kvm *kvm = new_kvm();
	struct kvm_mmu_page *root = kvm_mmu_alloc_page(kvm, PG_LEVEL_512G, true);
	struct visit *v = calloc(MAX_VISITS, sizeof(*v));
	size_t n;

	(void)state;
	assert_non_null(v);
	n = walk(root, PG_LEVEL_4K, 0, tdp_root_gfn_end(PG_LEVEL_512G), v);
	assert_int_equal(n, 512);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(v[i].level, PG_LEVEL_512G);
		assert_int_equal(v[i].gfn, (gfn_t)i << 27);
		assert_ptr_equal(v[i].sptep, &root->spt[i]);
		assert_ptr_equal(sptep_to_sp(v[i].sptep), root);
	}
	/* Bounds at the root: [5 entries, 7 entries), and a start in the
	 * middle of an entry (the root entry is rounded down). */
	n = walk(root, PG_LEVEL_4K, 5ULL << 27, 7ULL << 27, v);
	assert_int_equal(n, 2);
	assert_int_equal(v[0].gfn, 5ULL << 27);
	assert_int_equal(v[1].gfn, 6ULL << 27);
	n = walk(root, PG_LEVEL_4K, (5ULL << 27) + 3, (6ULL << 27) + 1, v);
	assert_int_equal(n, 2);
	assert_int_equal(v[0].gfn, 5ULL << 27);
	/* Empty range, and a start beyond the root: nothing. */
	assert_int_equal(walk(root, PG_LEVEL_4K, 9, 9, v), 0);
	assert_int_equal(walk(root, PG_LEVEL_4K, tdp_root_gfn_end(PG_LEVEL_512G),
			      ~0ULL, v), 0);
	kvm_mmu_free_page(kvm, root);
	free(v);
	free_kvm(kvm);
}

/*
 * root[1] -> L3 (index 2) -> L2 (index 3) -> L1; a full walk visits, in
 * pre-order: root[0..1], L3[0..2], L2[0..3], L1[0..511], L2[4..511],
 * L3[3..511], root[2..511].
 */
static void test_preorder(void **state)
{
	struct kvm *kvm = new_kvm();
	struct kvm_mmu_page *root = kvm_mmu_alloc_page(kvm, PG_LEVEL_512G, true);
	struct kvm_mmu_page *l3 = link_table(kvm, root, 1);
	struct kvm_mmu_page *l2 = link_table(kvm, l3, 2);
	struct kvm_mmu_page *l1 = link_table(kvm, l2, 3);
	struct visit *v = calloc(MAX_VISITS, sizeof(*v));
	struct visit *want = calloc(MAX_VISITS, sizeof(*want));
	size_t n, w = 0;

	(void)state;
	assert_non_null(v);
	assert_non_null(want);
	/* A leaf in L1 does not change the shape of the walk. */
	atomic_store(&l1->spt[4], make_spte(0x1000, PG_LEVEL_4K, true,
					    SHADOW_NONPRESENT_VALUE));
	assert_int_equal(l3->gfn, 1ULL << 27);
	assert_int_equal(l2->gfn, (1ULL << 27) + (2ULL << 18));
	assert_int_equal(l1->gfn, (1ULL << 27) + (2ULL << 18) + (3ULL << 9));

#define WANT(sp_, first, last)                                               \
	for (unsigned i_ = (first); i_ <= (last); i_++) {                    \
		want[w].level = (int)(sp_)->role.level;                      \
		want[w].gfn = (sp_)->gfn +                                   \
			      i_ * KVM_PAGES_PER_HPAGE((sp_)->role.level);   \
		want[w].sptep = &(sp_)->spt[i_];                             \
		w++;                                                         \
	}
	WANT(root, 0, 1);
	WANT(l3, 0, 2);
	WANT(l2, 0, 3);
	WANT(l1, 0, 511);
	WANT(l2, 4, 511);
	WANT(l3, 3, 511);
	WANT(root, 2, 511);

	n = walk(root, PG_LEVEL_4K, 0, tdp_root_gfn_end(PG_LEVEL_512G), v);
	assert_int_equal(n, w);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(v[i].level, want[i].level);
		assert_int_equal(v[i].gfn, want[i].gfn);
		assert_ptr_equal(v[i].sptep, want[i].sptep);
	}
	assert_ptr_equal(sptep_to_sp(&l1->spt[511]), l1);
	assert_ptr_equal(sptep_to_sp(&l2->spt[0]), l2);

	/* min_level 2M: L1 is not entered. */
	n = walk(root, PG_LEVEL_2M, 0, tdp_root_gfn_end(PG_LEVEL_512G), v);
	assert_int_equal(n, w - 512);
	for (size_t i = 0; i < n; i++)
		assert_true(v[i].level >= PG_LEVEL_2M);

	/* A start inside L1 and a 5-gfn range: root[1], L3[2], L2[3],
	 * L1[10..14]. */
	n = walk(root, PG_LEVEL_4K, l1->gfn + 10, l1->gfn + 15, v);
	assert_int_equal(n, 3 + 5);
	assert_int_equal(v[0].level, 4);
	assert_int_equal(v[0].gfn, 1ULL << 27);
	assert_int_equal(v[1].level, 3);
	assert_int_equal(v[1].gfn, l2->gfn);
	assert_int_equal(v[2].level, 2);
	assert_int_equal(v[2].gfn, l1->gfn);
	for (unsigned i = 0; i < 5; i++) {
		assert_int_equal(v[3 + i].level, 1);
		assert_int_equal(v[3 + i].gfn, l1->gfn + 10 + i);
		assert_ptr_equal(v[3 + i].sptep, &l1->spt[10 + i]);
	}

	/* A one-gfn walk (the fault path's) ends at the 4K entry. */
	n = walk(root, PG_LEVEL_4K, l1->gfn + 4, l1->gfn + 5, v);
	assert_int_equal(n, 4);
	assert_int_equal(v[3].level, PG_LEVEL_4K);
	assert_ptr_equal(v[3].sptep, &l1->spt[4]);

	/* The same walk where the tables stop: it ends at the non-present
	 * entry above (no table to enter). */
	n = walk(root, PG_LEVEL_4K, (7ULL << 27) + 12345, (7ULL << 27) + 12346, v);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].level, 4);

	free(want);
	free(v);
	free_kvm(kvm);
#undef WANT
}

/* The iterator re-reads an entry before stepping down: a table linked
 * after the snapshot was taken is entered. */
static void test_step_down_rereads(void **state)
{
	struct kvm *kvm = new_kvm();
	struct kvm_mmu_page *root = kvm_mmu_alloc_page(kvm, PG_LEVEL_512G, false);
	struct kvm_mmu_page *l3;
	struct tdp_iter iter;

	(void)state;
	tdp_iter_start(&iter, root, PG_LEVEL_4K, 0);
	assert_true(iter.valid);
	assert_int_equal(iter.level, 4);
	assert_int_equal(iter.old_spte, SHADOW_NONPRESENT_VALUE);
	l3 = link_table(kvm, root, 0);
	tdp_iter_next(&iter);
	assert_true(iter.valid);
	assert_int_equal(iter.level, 3);
	assert_ptr_equal(iter.sptep, &l3->spt[0]);
	assert_ptr_equal(iter.pt_path[3], root->spt);
	assert_ptr_equal(iter.pt_path[2], l3->spt);

	/* Unlinked after the snapshot: not entered, the walk goes side. */
	tdp_iter_start(&iter, root, PG_LEVEL_4K, 0);
	atomic_store(&root->spt[0], SHADOW_NONPRESENT_VALUE);
	tdp_iter_next(&iter);
	assert_int_equal(iter.level, 4);
	assert_ptr_equal(iter.sptep, &root->spt[1]);

	/* A frozen entry is not a table. */
	atomic_store(&root->spt[1], REMOVED_SPTE);
	tdp_iter_next(&iter);
	assert_ptr_equal(iter.sptep, &root->spt[2]);

	/* Restart goes back to the root toward next_last_level_gfn. */
	tdp_iter_restart(&iter);
	assert_int_equal(iter.level, 4);
	assert_ptr_equal(iter.sptep, &root->spt[2]);

	kvm_mmu_free_page(kvm, l3);
	kvm_mmu_free_page(kvm, root);
	free_kvm(kvm);
}

/* The shared tree: gfns include the shared bit (gfn bit 35 with a 4-level
 * root is the top bit of the root index). A 5-level root too. */
static void test_shared_bit_and_5_level(void **state)
{
	struct kvm *kvm = new_kvm();
	gfn_t mask = kvm->gfn_shared_mask;
	struct kvm_mmu_page *root = kvm_mmu_alloc_page(kvm, PG_LEVEL_512G, false);
	struct kvm_mmu_page *l3 = link_table(kvm, root, 256);
	struct kvm_mmu_page *root5;
	struct visit v[8];
	size_t n;

	(void)state;
	assert_int_equal(SPTE_INDEX(mask, PG_LEVEL_512G), 256);
	assert_int_equal(l3->gfn, mask);
	n = walk(root, PG_LEVEL_1G, mask | 5, (mask | 5) + 1, v);
	assert_int_equal(n, 2);
	assert_int_equal(v[0].gfn, mask);
	assert_ptr_equal(v[0].sptep, &root->spt[256]);
	assert_int_equal(v[1].level, PG_LEVEL_1G);
	assert_int_equal(v[1].gfn, mask);
	assert_false(root->role.is_private);

	/* 5 levels: gfn bit 39 (GPAW 52) is bit 3 of the level-5 index. */
	root5 = kvm_mmu_alloc_page(kvm, PG_LEVEL_256T, true);
	assert_int_equal(tdp_root_gfn_end(PG_LEVEL_256T), 1ULL << 45);
	n = walk(root5, PG_LEVEL_4K, 1ULL << 39, (1ULL << 39) + 1, v);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].level, PG_LEVEL_256T);
	assert_ptr_equal(v[0].sptep, &root5->spt[8]);

	kvm_mmu_free_page(kvm, root5);
	kvm_mmu_free_page(kvm, l3);
	kvm_mmu_free_page(kvm, root);
	free_kvm(kvm);
}

/* The arena: chunks, recycling, counters, header lookup across chunks. */
/* The visits of a for_each_tdp_pte_nonempty walk that its body sees: every
 * entry other than SHADOW_NONPRESENT_VALUE, in order. */
static size_t walk_nonempty(struct kvm_mmu_page *root, int min_level,
			    gfn_t start, gfn_t end, struct visit *v)
{
	struct tdp_iter iter;
	size_t n = 0;

	for_each_tdp_pte_nonempty_min_level(iter, root, min_level, start, end) {
		assert_int_equal(iter.old_spte, atomic_load(iter.sptep));
		if (iter.old_spte == SHADOW_NONPRESENT_VALUE)
			continue;
		assert_true(n < MAX_VISITS);
		v[n].level = iter.level;
		v[n].gfn = iter.gfn;
		v[n].sptep = iter.sptep;
		n++;
	}
	return n;
}

/* for_each_tdp_pte_nonempty shows its body exactly the non-empty entries a
 * plain walk shows, over whole trees and ranges that start and end inside
 * runs of empty entries, next to the groups of eight the skip reads, at a
 * table's last entry, and with non-present entries that are not empty. */
static void test_nonempty(void **state)
{
	struct kvm *kvm = new_kvm();
	struct kvm_mmu_page *root = kvm_mmu_alloc_page(kvm, PG_LEVEL_512G, true);
	struct kvm_mmu_page *l3 = link_table(kvm, root, 1);
	struct kvm_mmu_page *l2 = link_table(kvm, l3, 2);
	struct kvm_mmu_page *l1 = link_table(kvm, l2, 3);
	struct kvm_mmu_page *l1b = link_table(kvm, l2, 511);
	struct visit *v = calloc(MAX_VISITS, sizeof(*v));
	struct visit *want = calloc(MAX_VISITS, sizeof(*want));
	static const unsigned leaves[] = { 0, 7, 8, 9, 16, 100, 255, 504, 510, 511 };
	gfn_t bounds[16];
	unsigned nb = 0;

	(void)state;
	assert_non_null(v);
	assert_non_null(want);
	for (unsigned i = 0; i < sizeof(leaves) / sizeof(leaves[0]); i++)
		atomic_store(&l1->spt[leaves[i]],
			     make_spte(0x1000 + i, PG_LEVEL_4K, true,
				       SHADOW_NONPRESENT_VALUE));
	/* Not present, yet not empty: an S bit, a frozen entry. */
	atomic_store(&l1->spt[300], SHADOW_NONPRESENT_VALUE | SPTE_SHARED_MASK);
	atomic_store(&l1b->spt[40], REMOVED_SPTE);
	atomic_store(&l1b->spt[511], make_spte(0x2000, PG_LEVEL_4K, true,
					       SHADOW_NONPRESENT_VALUE));

	bounds[nb++] = 0;
	bounds[nb++] = l1->gfn;
	bounds[nb++] = l1->gfn + 1;
	bounds[nb++] = l1->gfn + 8;
	bounds[nb++] = l1->gfn + 10;
	bounds[nb++] = l1->gfn + 101;
	bounds[nb++] = l1->gfn + 300;
	bounds[nb++] = l1->gfn + 505;
	bounds[nb++] = l1->gfn + 511;
	bounds[nb++] = l1b->gfn + 40;
	bounds[nb++] = l1b->gfn + 41;
	bounds[nb++] = l1b->gfn + 512;
	bounds[nb++] = tdp_root_gfn_end(PG_LEVEL_512G);
	for (int min_level = PG_LEVEL_4K; min_level <= PG_LEVEL_512G; min_level++) {
		for (unsigned a = 0; a < nb; a++) {
			for (unsigned b = a + 1; b < nb; b++) {
				size_t n, w = 0, all;

				all = walk(root, min_level, bounds[a], bounds[b], v);
				for (size_t i = 0; i < all; i++)
					if (atomic_load(v[i].sptep) != SHADOW_NONPRESENT_VALUE)
						want[w++] = v[i];
				n = walk_nonempty(root, min_level, bounds[a], bounds[b], v);
				assert_int_equal(n, w);
				for (size_t i = 0; i < n; i++) {
					assert_int_equal(v[i].level, want[i].level);
					assert_int_equal(v[i].gfn, want[i].gfn);
					assert_ptr_equal(v[i].sptep, want[i].sptep);
				}
			}
		}
	}
	/* The whole tree: 4 links to tables, 11 entries in L1 (10 leaves, the
	 * S bit), 2 in L1b. */
	assert_int_equal(walk_nonempty(root, PG_LEVEL_4K, 0,
				       tdp_root_gfn_end(PG_LEVEL_512G), v),
			 4 + 11 + 2);

	free(want);
	free(v);
	free_kvm(kvm);
}

static void test_arena(void **state)
{
	struct kvm *kvm = new_kvm();
	enum { N = 3 * MMU_PAGES_PER_CHUNK + 5 };
	struct kvm_mmu_page *sp[N];
	struct kvm_mmu_page *again;

	(void)state;
	assert_int_equal(kvm_mmu_pages_live(kvm), 0);
	for (int i = 0; i < N; i++) {
		sp[i] = kvm_mmu_alloc_page(kvm, 1 + i % 4, i & 1);
		assert_non_null(sp[i]);
		assert_int_equal((uintptr_t)sp[i]->spt & (PAGE_SIZE - 1), 0);
		assert_int_equal((uintptr_t)sp[i]->spt & ~SPTE_BASE_ADDR_MASK, 0);
		assert_ptr_equal(sptep_to_sp(sp[i]->spt), sp[i]);
		assert_ptr_equal(sptep_to_sp(&sp[i]->spt[511]), sp[i]);
		assert_int_equal(sp[i]->role.level, 1 + i % 4);
		assert_int_equal(sp[i]->role.is_private, i & 1);
		assert_int_equal(is_private_sp(sp[i]), i & 1);
		assert_int_equal(sp[i]->private_spt, 0);
		for (int j = 0; j < SPTE_ENT_PER_PAGE; j++)
			assert_int_equal(atomic_load(&sp[i]->spt[j]),
					 SHADOW_NONPRESENT_VALUE);
		for (int j = 0; j < i; j++)
			assert_ptr_not_equal(sp[i]->spt, sp[j]->spt);
	}
	assert_int_equal(kvm_mmu_pages_live(kvm), N);
	assert_int_equal(kvm_stat_read(kvm, pages_private_spt), N / 2);
	assert_int_equal(kvm_stat_read(kvm, pages_shared_spt), N - N / 2);

	/* A freed page comes back with its table reset. */
	atomic_store(&sp[7]->spt[3], REMOVED_SPTE);
	kvm_mmu_init_private_spt(sp[7], 0x1234000);
	kvm_mmu_free_page(kvm, sp[7]);
	assert_int_equal(kvm_mmu_pages_live(kvm), N - 1);
	again = kvm_mmu_alloc_page(kvm, PG_LEVEL_4K, false);
	assert_ptr_equal(again, sp[7]);
	assert_int_equal(atomic_load(&again->spt[3]), SHADOW_NONPRESENT_VALUE);
	assert_int_equal(again->private_spt, 0);
	assert_int_equal(kvm_stat_read(kvm, pages_private_spt), N / 2 - 1);

	for (int i = 0; i < N; i++)
		kvm_mmu_free_page(kvm, sp[i]);
	assert_int_equal(kvm_mmu_pages_live(kvm), 0);
	assert_int_equal(kvm_stat_read(kvm, pages_private_spt), 0);
	assert_int_equal(kvm_stat_read(kvm, pages_shared_spt), 0);

	/* Destroying the arena with live pages frees them too. */
	assert_non_null(kvm_mmu_alloc_page(kvm, 2, true));
	free_kvm(kvm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_root),
		cmocka_unit_test(test_preorder),
		cmocka_unit_test(test_step_down_rereads),
		cmocka_unit_test(test_shared_bit_and_5_level),
		cmocka_unit_test(test_nonempty),
		cmocka_unit_test(test_arena),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
