/* SPDX-License-Identifier: MIT */
/*
 * The legacy MMU's structures (src/kvm/legacy_mmu.c, legacy_rmap.c): the
 * (gfn, role) hash of shadow pages (roots, private/shared separation,
 * collisions in one bucket), the rmap (add/remove/walk over many gfns with
 * several SPTEs per gfn, a bounded number of allocations, removal during a
 * walk), the rmap as faults and MapGPA keep it, and the audit behind
 * `check` catching an rmap that lost an entry.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "kvm/legacy_internal.h"
#include "kvm/spte.h"
#include "kvm/tdp_iter.h"
#include "kvm/tdx_hooks.h"

#include "kvm_fixture.h"

#define MB (1ULL << 20)

static void vm_create(struct kvm_fx *vm)
{
	static const uint64_t slots[] = { 0, 8 * MB, 16 * MB, 2 * MB, 0, 0 };

	kvm_fx_create_mmu(vm, 3, 48, 1, slots, false, KVM_MMU_LEGACY);
	kvm_fx_count_callbacks(vm);
	assert_int_equal(kvm_tdx_finalize_vm(vm->kvm), 0);
}

static int ept(struct kvm_fx *vm, gpa_t gpa)
{
	return kvm_tdx_handle_ept_violation(&vm->kvm->vcpus[0], gpa);
}

static gfn_t gfn(gpa_t gpa)
{
	return gpa >> PAGE_SHIFT;
}

static void audit_line(void *arg, const char *line)
{
	(void)arg;
	print_message("audit: %s\n", line);
}

static int audit(struct kvm_fx *vm)
{
	return kvm_legacy_mmu_audit(vm->kvm, audit_line, NULL);
}

/* Both roots are in the hash under (0, root level), each with its role. */
static void test_hash_roots(void **state)
{
	struct kvm_fx vm;
	struct legacy_sp *p, *s;

	(void)state;
	vm_create(&vm);
	p = legacy_sp_lookup(vm.kvm, 0, vm.kvm->root_level, true);
	s = legacy_sp_lookup(vm.kvm, 0, vm.kvm->root_level, false);
	assert_non_null(p);
	assert_non_null(s);
	assert_ptr_equal(p->sp, vm.kvm->private_root);
	assert_ptr_equal(s->sp, vm.kvm->shared_root);
	assert_null(legacy_sp_lookup(vm.kvm, 0, vm.kvm->root_level - 1, true));
	assert_int_equal(to_legacy(vm.kvm)->nr_private_pages, 1);
	assert_int_equal(to_legacy(vm.kvm)->nr_shared_pages, 1);
	kvm_fx_destroy(&vm);
}

/* A private and a shared table over the same gfns are two entries, each
 * found only under its own role, each on its own list. */
static void test_hash_private_shared_separate(void **state)
{
	struct kvm_fx vm;
	struct legacy_sp *p, *s;
	uint64_t resume;
	gfn_t sg;

	(void)state;
	vm_create(&vm);
	assert_int_equal(ept(&vm, 0x1000), RET_PF_FIXED);
	assert_int_equal(kvm_tdx_map_gpa(&vm.kvm->vcpus[0], kvm_fx_shared_gpa(&vm, 0x2000),
					 PAGE_SIZE, &resume), TDVMCALL_SUCCESS);
	assert_int_equal(ept(&vm, kvm_fx_shared_gpa(&vm, 0x2000)), RET_PF_FIXED);

	sg = kvm_gfn_shared(vm.kvm, 0);
	p = legacy_sp_lookup(vm.kvm, 0, PG_LEVEL_4K, true);
	s = legacy_sp_lookup(vm.kvm, sg, PG_LEVEL_4K, false);
	assert_non_null(p);
	assert_non_null(s);
	assert_ptr_not_equal(p->sp, s->sp);
	assert_true(p->sp->role.is_private);
	assert_false(s->sp->role.is_private);
	assert_true(p->sp->private_spt != 0);
	assert_int_equal(s->sp->private_spt, 0);
	/* The wrong role finds nothing. */
	assert_null(legacy_sp_lookup(vm.kvm, 0, PG_LEVEL_4K, false));
	assert_null(legacy_sp_lookup(vm.kvm, sg, PG_LEVEL_4K, true));
	/* root + 3 levels in each tree */
	assert_int_equal(to_legacy(vm.kvm)->nr_private_pages, 4);
	assert_int_equal(to_legacy(vm.kvm)->nr_shared_pages, 4);
	/* The 4K entry found through the hash is the one the tree walk finds. */
	{
		uint64_t ps, ss;

		kvm_legacy_mmu_read_4k(vm.kvm, gfn(0x2000), &ps, &ss);
		assert_int_equal(legacy_read_spte(legacy_lookup_4k_sptep(vm.kvm, gfn(0x2000), true)), ps);
		assert_int_equal(legacy_read_spte(legacy_lookup_4k_sptep(vm.kvm,
						  kvm_gfn_shared(vm.kvm, gfn(0x2000)), false)), ss);
		assert_true(is_shadow_present_pte(ss));
		assert_false(ss & SPTE_SHARED_MASK); /* S only in the private EPT */
		assert_int_equal(ps, SHADOW_NONPRESENT_VALUE | SPTE_SHARED_MASK);
	}
	assert_int_equal(audit(&vm), 0);
	kvm_fx_destroy(&vm);
}

/* Keys that share a bucket are told apart; unregistering one keeps the
 * others reachable. */
static void test_hash_collisions(void **state)
{
	struct kvm_fx vm;
	struct kvm_mmu_page *sps[3];
	gfn_t gfns[3];
	unsigned b, n = 1;

	(void)state;
	vm_create(&vm);
	gfns[0] = 0x1000000;
	b = legacy_sp_hash(gfns[0], PG_LEVEL_2M, true);
	for (gfn_t g = gfns[0] + KVM_PAGES_PER_HPAGE(PG_LEVEL_1G); n < 3;
	     g += KVM_PAGES_PER_HPAGE(PG_LEVEL_1G))
		if (legacy_sp_hash(g, PG_LEVEL_2M, true) == b)
			gfns[n++] = g;
	kvm_mmu_write_lock(vm.kvm);
	for (int i = 0; i < 3; i++) {
		sps[i] = kvm_mmu_alloc_page(vm.kvm, PG_LEVEL_2M, true);
		assert_non_null(sps[i]);
		sps[i]->gfn = gfns[i];
		assert_int_equal(legacy_sp_register(vm.kvm, sps[i]), 0);
	}
	for (int i = 0; i < 3; i++) {
		struct legacy_sp *l = legacy_sp_lookup(vm.kvm, gfns[i], PG_LEVEL_2M, true);

		assert_non_null(l);
		assert_ptr_equal(l->sp, sps[i]);
		/* same gfn, other level or other tree: not it */
		assert_null(legacy_sp_lookup(vm.kvm, gfns[i], PG_LEVEL_4K, true));
		assert_null(legacy_sp_lookup(vm.kvm, gfns[i], PG_LEVEL_2M, false));
	}
	legacy_sp_unregister(vm.kvm, legacy_sp_lookup(vm.kvm, gfns[1], PG_LEVEL_2M, true));
	assert_null(legacy_sp_lookup(vm.kvm, gfns[1], PG_LEVEL_2M, true));
	assert_ptr_equal(legacy_sp_lookup(vm.kvm, gfns[0], PG_LEVEL_2M, true)->sp, sps[0]);
	assert_ptr_equal(legacy_sp_lookup(vm.kvm, gfns[2], PG_LEVEL_2M, true)->sp, sps[2]);
	legacy_sp_unregister(vm.kvm, legacy_sp_lookup(vm.kvm, gfns[0], PG_LEVEL_2M, true));
	legacy_sp_unregister(vm.kvm, legacy_sp_lookup(vm.kvm, gfns[2], PG_LEVEL_2M, true));
	for (int i = 0; i < 3; i++)
		kvm_mmu_free_page(vm.kvm, sps[i]);
	kvm_mmu_write_unlock(vm.kvm);
	kvm_fx_destroy(&vm);
}

#define NR_GFNS 2048 /* the 8M slot */
#define PER_GFN 8    /* more than one descriptor's worth */

static _Atomic uint64_t fake[PER_GFN][NR_GFNS];

struct walk_count {
	uint64_t seen;
	unsigned drop_mod; /* drop entries of fake[i] with i % drop_mod == 0 */
};

static bool count_and_drop(struct kvm *kvm, gfn_t g, _Atomic uint64_t *sptep, void *arg)
{
	struct walk_count *w = arg;
	size_t row = (size_t)((const _Atomic uint64_t *)sptep - &fake[0][0]) / NR_GFNS;

	(void)kvm;
	assert_ptr_equal(sptep, &fake[row][g]);
	w->seen++;
	return w->drop_mod && row % w->drop_mod == 0;
}

/* Many gfns, several SPTEs each: adds, membership, removal, walks that
 * drop entries; storage comes in chunks (a handful of allocations for
 * 16K entries). */
static void test_rmap_many_gfns(void **state)
{
	struct kvm_fx vm;
	struct walk_count w = { 0 };
	uint64_t allocs;

	(void)state;
	vm_create(&vm);
	kvm_mmu_write_lock(vm.kvm);
	allocs = legacy_rmap_nr_allocs(vm.kvm);
	for (gfn_t g = 0; g < NR_GFNS; g++)
		for (int i = 0; i < PER_GFN; i++)
			assert_int_equal(legacy_rmap_add(vm.kvm, g, &fake[i][g]), 0);
	assert_int_equal(legacy_rmap_nr_entries(vm.kvm), NR_GFNS * PER_GFN);
	/* the slot's directory, one table of chunks, one chunk of heads per
	 * 512 gfns, and ceil(2048 * 2 descriptors / 256) desc chunks */
	assert_true(legacy_rmap_nr_allocs(vm.kvm) - allocs <=
		    2 + NR_GFNS / RMAP_CHUNK_HEADS + (NR_GFNS * 2) / LEGACY_DESCS_PER_CHUNK);
	for (gfn_t g = 0; g < NR_GFNS; g += 97) {
		assert_int_equal(legacy_rmap_count(vm.kvm, g), PER_GFN);
		for (int i = 0; i < PER_GFN; i++)
			assert_true(legacy_rmap_contains(vm.kvm, g, &fake[i][g]));
		assert_false(legacy_rmap_contains(vm.kvm, g + 1, &fake[0][g]));
	}
	/* No memslot at 10M: nothing to hang an rmap on. */
	assert_int_equal(legacy_rmap_add(vm.kvm, gfn(10 * MB), &fake[0][0]), -ENOENT);
	/* Remove one entry per gfn explicitly, then a missing one. */
	for (gfn_t g = 0; g < NR_GFNS; g++)
		assert_int_equal(legacy_rmap_remove(vm.kvm, g, &fake[3][g]), 0);
	assert_int_equal(legacy_rmap_remove(vm.kvm, 5, &fake[3][5]), -ENOENT);
	assert_int_equal(legacy_rmap_count(vm.kvm, 5), PER_GFN - 1);
	/* A walk over part of the range drops every even row there. */
	w.drop_mod = 2;
	legacy_rmap_walk_range(vm.kvm, 100, 200, count_and_drop, &w);
	assert_int_equal(w.seen, 100 * (PER_GFN - 1));
	assert_int_equal(legacy_rmap_count(vm.kvm, 150), 3); /* rows 1, 5, 7 */
	assert_int_equal(legacy_rmap_count(vm.kvm, 99), PER_GFN - 1);
	assert_true(legacy_rmap_contains(vm.kvm, 150, &fake[7][150]));
	assert_false(legacy_rmap_contains(vm.kvm, 150, &fake[6][150]));
	/* Drop everything; the walk sees each remaining entry once. */
	w = (struct walk_count){ .drop_mod = 1 };
	legacy_rmap_walk_range(vm.kvm, 0, ~0ULL, count_and_drop, &w);
	assert_int_equal(w.seen, NR_GFNS * (PER_GFN - 1) - 100 * 4);
	assert_int_equal(legacy_rmap_nr_entries(vm.kvm), 0);
	assert_int_equal(legacy_rmap_count(vm.kvm, 150), 0);
	/* Re-adding reuses the pooled descriptors: no new allocation. */
	allocs = legacy_rmap_nr_allocs(vm.kvm);
	for (gfn_t g = 0; g < NR_GFNS; g++)
		assert_int_equal(legacy_rmap_add(vm.kvm, g, &fake[0][g]), 0);
	for (gfn_t g = 0; g < NR_GFNS; g++)
		assert_int_equal(legacy_rmap_add(vm.kvm, g, &fake[1][g]), 0);
	assert_int_equal(legacy_rmap_nr_allocs(vm.kvm), allocs);
	for (gfn_t g = 0; g < NR_GFNS; g++) {
		assert_int_equal(legacy_rmap_remove(vm.kvm, g, &fake[0][g]), 0);
		assert_int_equal(legacy_rmap_remove(vm.kvm, g, &fake[1][g]), 0);
	}
	assert_int_equal(legacy_rmap_nr_entries(vm.kvm), 0);
	kvm_mmu_write_unlock(vm.kvm);
	kvm_fx_destroy(&vm);
}

/* Faults, MapGPA and zaps keep the rmap equal to the SPTEs; a fault path
 * allocates nothing per page; the audit catches a lost rmap entry. */
static void test_rmap_follows_mappings(void **state)
{
	struct kvm_fx vm;
	_Atomic uint64_t *e;
	uint64_t allocs, resume;

	(void)state;
	vm_create(&vm);
	assert_int_equal(ept(&vm, 0), RET_PF_FIXED);
	allocs = legacy_rmap_nr_allocs(vm.kvm);
	for (gpa_t gpa = PAGE_SIZE; gpa < 2 * MB; gpa += PAGE_SIZE)
		assert_int_equal(ept(&vm, gpa), RET_PF_FIXED);
	assert_int_equal(legacy_rmap_nr_allocs(vm.kvm), allocs);
	assert_int_equal(legacy_rmap_nr_entries(vm.kvm), 512);
	kvm_mmu_write_lock(vm.kvm);
	e = legacy_lookup_4k_sptep(vm.kvm, gfn(0x3000), true);
	assert_true(legacy_rmap_contains(vm.kvm, gfn(0x3000), e));
	assert_int_equal(legacy_rmap_count(vm.kvm, gfn(0x3000)), 1);
	kvm_mmu_write_unlock(vm.kvm);
	assert_int_equal(audit(&vm), 0);

	/* Convert 16K to shared: private entries leave the rmap; shared
	 * faults add the shared entries. */
	assert_int_equal(kvm_tdx_map_gpa(&vm.kvm->vcpus[0], kvm_fx_shared_gpa(&vm, 0x2000),
					 4 * PAGE_SIZE, &resume), TDVMCALL_SUCCESS);
	assert_int_equal(legacy_rmap_nr_entries(vm.kvm), 508);
	assert_int_equal(ept(&vm, kvm_fx_shared_gpa(&vm, 0x3000)), RET_PF_FIXED);
	kvm_mmu_write_lock(vm.kvm);
	assert_int_equal(legacy_rmap_count(vm.kvm, gfn(0x3000)), 1);
	assert_false(legacy_rmap_contains(vm.kvm, gfn(0x3000), e));
	assert_true(legacy_rmap_contains(vm.kvm, gfn(0x3000),
		    legacy_lookup_4k_sptep(vm.kvm, kvm_gfn_shared(vm.kvm, gfn(0x3000)), false)));
	kvm_mmu_write_unlock(vm.kvm);
	assert_int_equal(audit(&vm), 0);

	/* The audit notices an rmap that lost a present leaf. */
	kvm_mmu_write_lock(vm.kvm);
	e = legacy_lookup_4k_sptep(vm.kvm, gfn(0x8000), true);
	assert_int_equal(legacy_rmap_remove(vm.kvm, gfn(0x8000), e), 0);
	kvm_mmu_write_unlock(vm.kvm);
	assert_int_equal(audit(&vm), 1);
	kvm_mmu_write_lock(vm.kvm);
	assert_int_equal(legacy_rmap_add(vm.kvm, gfn(0x8000), e), 0);
	kvm_mmu_write_unlock(vm.kvm);
	assert_int_equal(audit(&vm), 0);

	/* Memslot deletion empties and frees the slot's rmap. */
	assert_int_equal(kvm_delete_memslot(vm.kvm, 0), 0);
	assert_int_equal(legacy_rmap_nr_entries(vm.kvm), 0);
	assert_int_equal(audit(&vm), 0);
	kvm_fx_destroy(&vm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash_roots),
		cmocka_unit_test(test_hash_private_shared_separate),
		cmocka_unit_test(test_hash_collisions),
		cmocka_unit_test(test_rmap_many_gfns),
		cmocka_unit_test(test_rmap_follows_mappings),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
