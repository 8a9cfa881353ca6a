/* SPDX-License-Identifier: MIT */
/*
 * The TDP MMU's range operations (src/kvm/tdp_mmu.c) at the edges the
 * scenario suite and test_cov5_kvm_tdp_edges.c do not reach (coverage
 * round 6, issue 14):
 *  - MapGPA's pre-population and its 2M rule (E8 hugepages ref §7.4): a
 *    chunk converts at 2M only where both trees have no table, and only
 *    inside a hugepages memslot; a private table needs an S-EPT page;
 *  - which ranges cut a 2M page (kvm_tdp_mmu_range_cuts_huge()) and what
 *    kvm_tdp_mmu_split_boundaries() leaves alone;
 *  - the zaps' and MapGPA's answers when a SEAMCALL fails in their middle
 *    (PAGE.REMOVE, TRACK): the first error is the answer, every leaf is
 *    still disposed of, the VM is killed and its destroy is complete;
 *  - MapGPA over several ranges stops at the first range it cannot walk.
 * The rules are E4's (the 2022 SPTE_SHARED_MASK series, §5-§6) and, for
 * 2M, the hugepages series' (E8, docs/large-pages.md).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "explore/mutant.h"
#include "host/host_mem.h"
#include "kvm/kvm.h"
#include "kvm/mmu.h"
#include "kvm/spte.h"
#include "kvm/tdp_iter.h"
#include "kvm/tdp_mmu.h"
#include "kvm/tdx_hooks.h"
#include "tdx/tdx_module.h"
#include "tdx/tdx_status.h"

#include "kvm_fixture.h"

#define MB (1ULL << 20)
#define SLOT_PAGES 1024 /* gfn 0..1023 */

/* A finalized TD whose only memslot is 4K pages over gfn 0..1023. */
static void vm_create(struct kvm_fx *vm)
{
	static const uint64_t slot[] = { 0, (uint64_t)SLOT_PAGES << PAGE_SHIFT, 0, 0 };

	kvm_fx_create(vm, 1, 48, 1, slot, true);
	assert_int_equal(kvm_tdx_finalize_vm(vm->kvm), 0);
}

static struct kvm_mmu_memory_cache *topped_up(struct kvm_fx *vm)
{
	struct kvm_mmu_memory_cache *mc = &vm->kvm->vcpus[0].sept_cache;

	assert_int_equal(kvm_mmu_topup_sept_cache(vm->kvm, mc), 0);
	return mc;
}

static int fault(struct kvm_fx *vm, gpa_t gpa)
{
	return kvm_fx_fault_level(vm, gpa, PG_LEVEL_2M);
}

/* MapGPA's two steps (E4 §6.3-§6.4) over [start, end) under the write
 * lock, as mapgpa.c runs them: pre-population of both trees, then the
 * flip. */
static int map_gpa(struct kvm_fx *vm, gfn_t start, gfn_t end, bool to_shared,
		   struct kvm_map_gpa_result *res)
{
	struct kvm_mmu_memory_cache *mc = topped_up(vm);
	struct kvm_gfn_range r = { start, end };
	int ret;

	kvm_mmu_write_lock(vm->kvm);
	ret = kvm_tdp_mmu_populate_nonleaf(vm->kvm, false, start, end, mc);
	if (!ret)
		ret = kvm_tdp_mmu_populate_nonleaf(vm->kvm, true, start, end, mc);
	if (!ret)
		ret = kvm_tdp_mmu_map_gpa(vm->kvm, &r, 1, to_shared, res);
	kvm_mmu_write_unlock(vm->kvm);
	return ret;
}

static int populate(struct kvm_fx *vm, bool private_root, gfn_t start, gfn_t end,
		    struct kvm_mmu_memory_cache *mc)
{
	int ret;

	kvm_mmu_write_lock(vm->kvm);
	ret = kvm_tdp_mmu_populate_nonleaf(vm->kvm, private_root, start, end, mc);
	kvm_mmu_write_unlock(vm->kvm);
	return ret;
}

static uint64_t spte_at(struct kvm_mmu_page *root, gfn_t raw_gfn, int level)
{
	_Atomic uint64_t *sptep = kvm_fx_sptep_at(root, raw_gfn, level);

	return sptep ? atomic_load(sptep) : SHADOW_NONPRESENT_VALUE;
}

static bool is_table(uint64_t spte)
{
	return is_shadow_present_pte(spte) && !is_large_pte(spte);
}

/* ---- pre-population ---- */

/*
 * A private table needs its S-EPT twin from the caller's cache, which the
 * caller tops up before taking mmu_lock (E4 kvm_mmu_topup_memory_cache):
 * without a cache, or with an empty one, pre-population answers -EAGAIN
 * ("top up and call again") before anything is allocated, linked or issued.
 * The shared tree needs no twin and is populated all the same.
 */
static void test_populate_private_needs_cache(void **state)
{
	struct kvm_fx vm;
	struct kvm_mmu_memory_cache empty = { 0 };

	(void)state;
	vm_create(&vm);
	kvm_fx_snap(&vm);
	assert_int_equal(populate(&vm, true, 0, 512, NULL), -EAGAIN);
	assert_int_equal(populate(&vm, true, 0, 512, &empty), -EAGAIN);
	assert_int_equal(kvm_fx_delta(&vm, -1, false), 0);
	assert_int_equal(kvm_fx_seq_delta(&vm), 0);
	assert_int_equal(kvm_mmu_pages_live(vm.kvm), 2); /* the roots only */
	/* The shared tree: levels 3, 2 and the 4K table, no SEAMCALL. */
	assert_int_equal(populate(&vm, false, 0, 512, NULL), 0);
	assert_int_equal(kvm_mmu_pages_live(vm.kvm), 5);
	assert_int_equal(kvm_fx_delta(&vm, -1, false), 0);
	/* Topped up, the private tree too (three SEPT.ADDs). */
	assert_int_equal(populate(&vm, true, 0, 512, topped_up(&vm)), 0);
	assert_int_equal(kvm_fx_delta(&vm, TDH_MEM_SEPT_ADD, false), 3);
	assert_true(kvm_tdp_mmu_accept_inhibited(vm.kvm, 0));
	assert_false(atomic_load(&vm.kvm->bugged));
	kvm_fx_destroy(&vm);
}

/*
 * Hugepages ref §7.4: a whole 2M chunk converts at 2M only if it is in a
 * hugepages memslot and neither tree has a table below its 2M-level entry
 * ("the same answer for both trees, whichever is populated first"):
 *  - chunk 0, untouched: stays whole in both trees (no 4K table);
 *  - chunk 1, whose shared side got a 4K table from a partial range: the
 *    private side goes to 4K as well, although its own entry is empty;
 *  - chunk 2 (gfn 0x400..0x5ff), past the memslot: 4K in both trees.
 */
static void test_chunk_converts_at_2m_only_if_both_trees_agree(void **state)
{
	struct kvm_fx vm;
	struct kvm_mmu_memory_cache *mc;
	gfn_t s;

	(void)state;
	kvm_fx_create_huge(&vm);
	s = vm.kvm->gfn_shared_mask;
	mc = topped_up(&vm);

	/* Chunk 1: a range that covers part of it gives the shared tree a
	 * table there. */
	assert_int_equal(populate(&vm, false, 0x200, 0x201, mc), 0);
	assert_true(is_table(spte_at(vm.kvm->shared_root, s | 0x200, PG_LEVEL_2M)));
	assert_false(is_table(spte_at(vm.kvm->private_root, 0x200, PG_LEVEL_2M)));

	kvm_fx_snap(&vm);
	assert_int_equal(populate(&vm, true, 0, 0x600, topped_up(&vm)), 0);
	assert_int_equal(populate(&vm, false, 0, 0x600, topped_up(&vm)), 0);
	/* Chunk 0: whole in both trees. */
	assert_false(is_table(spte_at(vm.kvm->private_root, 0, PG_LEVEL_2M)));
	assert_false(is_table(spte_at(vm.kvm->shared_root, s, PG_LEVEL_2M)));
	assert_false(kvm_tdp_mmu_accept_inhibited(vm.kvm, 0));
	/* Chunk 1: the shared table sent the private side to 4K. */
	assert_true(is_table(spte_at(vm.kvm->private_root, 0x200, PG_LEVEL_2M)));
	assert_true(kvm_tdp_mmu_accept_inhibited(vm.kvm, 0x200));
	/* Chunk 2: no memslot, no 2M conversion, in either tree. */
	assert_true(is_table(spte_at(vm.kvm->private_root, 0x400, PG_LEVEL_2M)));
	assert_true(is_table(spte_at(vm.kvm->shared_root, s | 0x400, PG_LEVEL_2M)));
	/* Private S-EPT tables: the level-3 and level-2 tables of the path,
	 * and the 4K tables of chunks 1 and 2 (none for chunk 0). */
	assert_int_equal(kvm_fx_delta(&vm, TDH_MEM_SEPT_ADD, false), 4);
	assert_false(atomic_load(&vm.kvm->bugged));
	kvm_fx_destroy(&vm);
}

/* ---- 2M boundaries ---- */

/*
 * A range cuts a 2M page where one of its ends is not 2M-aligned and falls
 * into a hugepages memslot; an unaligned end in a 4K memslot or in no
 * memslot cuts nothing (hugepages ref §4.1.2).
 */
static void test_range_cuts_huge(void **state)
{
	static const uint64_t slot[] = { 0, (uint64_t)SLOT_PAGES << PAGE_SHIFT, 0, 0 };
	struct kvm_fx vm;
	const gfn_t huge = 0x800; /* the hugepages memslot: gfn 0x800..0xbff */

	(void)state;
	kvm_fx_create(&vm, 1, 48, 1, slot, false);
	assert_int_equal(host_memslot_add_huge(vm.slots, 1, huge, 0x400, true), 0);

	assert_false(kvm_tdp_mmu_range_cuts_huge(vm.kvm, 0x3, 0x5));          /* 4K slot */
	assert_false(kvm_tdp_mmu_range_cuts_huge(vm.kvm, 0x403, 0x600));      /* 4K slot */
	assert_false(kvm_tdp_mmu_range_cuts_huge(vm.kvm, 0x603, 0x7ff));      /* no slot */
	assert_false(kvm_tdp_mmu_range_cuts_huge(vm.kvm, 0x200, huge + 0x200)); /* aligned */
	assert_true(kvm_tdp_mmu_range_cuts_huge(vm.kvm, huge + 1, huge + 0x200)); /* start */
	assert_true(kvm_tdp_mmu_range_cuts_huge(vm.kvm, 0x200, huge + 0x201));  /* end */
	assert_true(kvm_tdp_mmu_range_cuts_huge(vm.kvm, 0x3, huge + 0x3));     /* end only */
	assert_false(kvm_tdp_mmu_range_cuts_huge(vm.kvm, huge + 0x5, huge + 0x5)); /* empty */
	kvm_fx_destroy(&vm);
}

/*
 * kvm_tdp_mmu_split_boundaries() splits only a present private 2M leaf
 * that the range cuts: where the cut chunk already has a 4K table (a 4K
 * ACCEPT made it) or nothing at 2M, it does nothing, issues nothing and
 * needs no S-EPT page.
 */
static void test_split_boundaries_leaves_tables_alone(void **state)
{
	struct kvm_fx vm;
	struct kvm_mmu_memory_cache empty = { 0 };
	uint64_t spte;

	(void)state;
	kvm_fx_create_huge(&vm);
	/* Chunk 1 mapped at 4K (a 4K ACCEPT's fault), chunk 0 mapped at
	 * 2M; chunk 0's neighbour gfn 0x1ff and chunk 1 are then cut. */
	assert_int_equal(kvm_fx_fault_level(&vm, 0x203000, PG_LEVEL_4K), RET_PF_FIXED);
	assert_true(is_table(spte_at(vm.kvm->private_root, 0x200, PG_LEVEL_2M)));
	kvm_fx_snap(&vm);
	kvm_mmu_write_lock(vm.kvm);
	/* Cuts in chunk 1 (a table) and chunk 2 (nothing at 2M): with an
	 * empty cache, since nothing is split. */
	assert_int_equal(kvm_tdp_mmu_split_boundaries(vm.kvm, 0x201, 0x403, &empty), 0);
	kvm_mmu_write_unlock(vm.kvm);
	assert_int_equal(kvm_fx_delta(&vm, -1, false), 0);
	assert_int_equal(kvm_fx_seq_delta(&vm), 0);
	spte = spte_at(vm.kvm->private_root, 0x203, PG_LEVEL_4K);
	assert_true(is_shadow_present_pte(spte));
	assert_int_equal(kvm_fx_sept_state(&vm, 0x203000, 0), SEPT_PENDING);
	assert_false(atomic_load(&vm.kvm->bugged));
	kvm_fx_destroy(&vm);
}

/* ---- SEAMCALL failures in the middle of a zap or a MapGPA ---- */

/*
 * A private zap (E2 batching: BLOCK all, one TRACK, REMOVE each) whose
 * PAGE.REMOVE fails for both leaves (an error, not BUSY): KVM kills the VM
 * at the first, still goes through the second (every leaf of the range is
 * disposed of: it leaves the mirror, its frame is leaked for the teardown's
 * RECLAIM), and answers the first error. Without keep_shared_bit the
 * entries end plain non-present (no S bit).
 */
static void test_private_zap_remove_fails(void **state)
{
	struct kvm_fx vm;

	(void)state;
	vm_create(&vm);
	assert_int_equal(fault(&vm, 0x1000), RET_PF_FIXED);
	assert_int_equal(fault(&vm, 0x2000), RET_PF_FIXED);
	tdx_module_inject_status_nth(vm.m, TDH_MEM_PAGE_REMOVE, TDX_OPERAND_INVALID, 1, true);
	kvm_fx_snap(&vm);
	kvm_mmu_write_lock(vm.kvm);
	assert_int_equal(kvm_tdp_mmu_zap_leafs(vm.kvm, true, 0, 16, false), -EIO);
	kvm_mmu_write_unlock(vm.kvm);
	tdx_module_inject_clear(vm.m);
	assert_int_equal(kvm_fx_delta(&vm, TDH_MEM_RANGE_BLOCK, false), 2);
	assert_int_equal(kvm_fx_delta(&vm, TDH_MEM_TRACK, false), 1);
	assert_int_equal(kvm_fx_delta(&vm, TDH_MEM_PAGE_REMOVE, false), 2);
	assert_int_equal(tdx_module_status_hits(vm.m), 2);
	kvm_fx_assert_bugged(&vm, "gpa 0x1000");
	kvm_fx_assert_bugged(&vm, "gpa 0x2000");
	assert_int_equal(spte_at(vm.kvm->private_root, 1, PG_LEVEL_4K), SHADOW_NONPRESENT_VALUE);
	assert_int_equal(spte_at(vm.kvm->private_root, 2, PG_LEVEL_4K), SHADOW_NONPRESENT_VALUE);
	/* Still in the S-EPT (blocked), leaked until the teardown reclaims
	 * them ("remove failed"). */
	assert_int_equal(kvm_fx_sept_state(&vm, 0x1000, 0), SEPT_PENDING_BLOCKED);
	assert_int_equal(atomic_load(&vm.kvm->frames_leaked), 2);
	assert_true(kvm_fx_trace_has(&vm, "(remove failed)"));
	kvm_fx_destroy_dead(&vm);
}

/*
 * MapGPA(shared) over private pages (E4 §6.4): BLOCK both, one TRACK, then
 * each REMOVE, which fails here for both: the first error is the answer,
 * both entries still become NP|S in the mirror (the guest asked for shared;
 * the frames are leaked until the teardown), the VM is killed.
 */
static void test_map_gpa_to_shared_remove_fails(void **state)
{
	struct kvm_fx vm;
	struct kvm_map_gpa_result res;

	(void)state;
	vm_create(&vm);
	assert_int_equal(fault(&vm, 0x1000), RET_PF_FIXED);
	assert_int_equal(fault(&vm, 0x2000), RET_PF_FIXED);
	tdx_module_inject_status_nth(vm.m, TDH_MEM_PAGE_REMOVE, TDX_OPERAND_INVALID, 1, true);
	kvm_fx_snap(&vm);
	assert_int_equal(map_gpa(&vm, 0, 512, true, &res), -EIO);
	tdx_module_inject_clear(vm.m);
	assert_int_equal(kvm_fx_delta(&vm, TDH_MEM_PAGE_REMOVE, false), 2);
	assert_int_equal(res.private_removed, 2);
	assert_int_equal(res.private_changed, 512);
	assert_int_equal(res.shared_changed, 512);
	kvm_fx_assert_bugged(&vm, "gpa 0x2000");
	assert_int_equal(spte_at(vm.kvm->private_root, 2, PG_LEVEL_4K),
			 SHADOW_NONPRESENT_VALUE | SPTE_SHARED_MASK);
	assert_int_equal(atomic_load(&vm.kvm->frames_leaked), 2);
	kvm_fx_destroy_dead(&vm);
}

/*
 * The shared tree's zaps end with one remote TLB flush (TRACK + kick: vCPUs
 * may hold the shared translations, and the unlinked tables in their
 * paging-structure caches). A TRACK that answers an error kills the VM and
 * is the answer, although the zap itself was done.
 */
static void test_shared_zap_track_fails(void **state)
{
	struct kvm_fx vm;
	struct kvm_map_gpa_result res;
	gfn_t s;

	(void)state;
	vm_create(&vm);
	s = vm.kvm->gfn_shared_mask;
	assert_int_equal(map_gpa(&vm, 0, 512, true, &res), 0);
	assert_int_equal(res.shared_changed, 512);
	assert_int_equal(fault(&vm, (s | 3) << PAGE_SHIFT), RET_PF_FIXED);
	assert_true(is_shadow_present_pte(spte_at(vm.kvm->shared_root, s | 3, PG_LEVEL_4K)));
	tdx_module_inject_status_nth(vm.m, TDH_MEM_TRACK, TDX_OPERAND_INVALID, 1, false);
	kvm_mmu_write_lock(vm.kvm);
	assert_int_equal(kvm_tdp_mmu_zap_leafs(vm.kvm, false, 0, 512, true), -EIO);
	kvm_mmu_write_unlock(vm.kvm);
	kvm_fx_assert_bugged(&vm, "kvm_vm_bugged: TDH.MEM.TRACK: 0xc000010000000000");
	/* The leaf is gone, its S bit kept. */
	assert_int_equal(spte_at(vm.kvm->shared_root, s | 3, PG_LEVEL_4K),
			 SHADOW_NONPRESENT_VALUE | SPTE_SHARED_MASK);
	kvm_fx_destroy_dead(&vm);
}

/* The same for the unlink of empty shared tables: they are unlinked (and
 * freed after the grace period), the flush's error is the answer. */
static void test_free_empty_shared_tables_track_fails(void **state)
{
	struct kvm_fx vm;
	gfn_t s;

	(void)state;
	vm_create(&vm);
	s = vm.kvm->gfn_shared_mask;
	/* A shared fault on a private gfn links the shared tables (all
	 * entries plain non-present), then refaults (wrong alias, §6.5). */
	assert_int_equal(fault(&vm, (s | 7) << PAGE_SHIFT), RET_PF_RETRY);
	assert_non_null(kvm_fx_sptep_at(vm.kvm->shared_root, s | 7, PG_LEVEL_4K));
	tdx_module_inject_status_nth(vm.m, TDH_MEM_TRACK, TDX_OPERAND_INVALID, 1, false);
	kvm_mmu_write_lock(vm.kvm);
	assert_int_equal(kvm_tdp_mmu_free_empty_shared_tables(vm.kvm, 0, s), -EIO);
	kvm_mmu_write_unlock(vm.kvm);
	kvm_fx_assert_bugged(&vm, "kvm_vm_bugged: TDH.MEM.TRACK: 0xc000010000000000");
	/* Unlinked all the same: only the roots stay (the shared fault
	 * walked the shared tree only), once the grace period is over. */
	assert_null(kvm_fx_sptep_at(vm.kvm->shared_root, s | 7, PG_LEVEL_2M));
	kvm_mmu_pages_quiesce(vm.kvm);
	assert_int_equal(kvm_mmu_pages_live(vm.kvm), 2);
	kvm_fx_destroy_dead(&vm);
}

/*
 * Shared 2M leaves (a whole chunk converted at 2M, then a shared fault):
 * the unlink of empty shared tables steps over them (a leaf is no table),
 * and leaves the table that holds them.
 */
static void test_free_empty_shared_tables_keeps_2m_leaf(void **state)
{
	struct kvm_fx vm;
	struct kvm_map_gpa_result res;
	uint64_t spte;
	gfn_t s;

	(void)state;
	kvm_fx_create_huge(&vm);
	s = vm.kvm->gfn_shared_mask;
	assert_int_equal(map_gpa(&vm, 0, 0x200, true, &res), 0);
	assert_int_equal(res.shared_changed, 1); /* the 2M-level entry */
	assert_int_equal(fault(&vm, (s | 0x10) << PAGE_SHIFT), RET_PF_FIXED);
	assert_int_equal(kvm_stat_read(vm.kvm, leaf2m_shared), 1);
	kvm_fx_snap(&vm);
	kvm_mmu_write_lock(vm.kvm);
	assert_int_equal(kvm_tdp_mmu_free_empty_shared_tables(vm.kvm, 0, s), 0);
	kvm_mmu_write_unlock(vm.kvm);
	assert_int_equal(kvm_fx_seq_delta(&vm), 0);
	assert_int_equal(kvm_fx_delta(&vm, -1, false), 0);
	spte = spte_at(vm.kvm->shared_root, s, PG_LEVEL_2M);
	assert_true(is_shadow_present_pte(spte) && is_large_pte(spte));
	assert_false(atomic_load(&vm.kvm->bugged));
	kvm_fx_destroy(&vm);
}

/* ---- MapGPA's walk over several ranges ---- */

/*
 * MapGPA's walk (kvm_tdp_mmu_map_gpa()) over two ranges that were not
 * pre-populated: the walk stops at the first range it cannot walk (the VM
 * is killed there) and does not go on to the second; the same for the
 * private tree's walk once the shared tree was populated.
 */
static void test_map_gpa_stops_at_first_bad_range(void **state)
{
	struct kvm_fx vm;
	struct kvm_gfn_range r[2] = { { 0, 512 }, { 0x40000, 0x40200 } };
	struct kvm_map_gpa_result res;

	(void)state;
	vm_create(&vm);
	kvm_mmu_write_lock(vm.kvm);
	assert_int_equal(kvm_tdp_mmu_map_gpa(vm.kvm, r, 2, false, &res), -EIO);
	kvm_fx_assert_bugged(&vm, "kvm_vm_bugged: MapGPA: gfn 0x800000000 level 4 not populated");
	assert_false(kvm_fx_trace_has(&vm, "gfn 0x800040000"));

	assert_int_equal(kvm_tdp_mmu_populate_nonleaf(vm.kvm, false, 0, 0x40200, NULL), 0);
	assert_int_equal(kvm_tdp_mmu_map_gpa(vm.kvm, r, 2, false, &res), -EIO);
	kvm_mmu_write_unlock(vm.kvm);
	assert_int_equal(res.private_changed, 0);
	assert_true(kvm_fx_trace_has(&vm, "kvm_vm_bugged: MapGPA: gfn 0x0 level 4 not populated"));
	assert_false(kvm_fx_trace_has(&vm, "gfn 0x40000 level"));
	kvm_fx_destroy_dead(&vm);
}

/*
 * A 2M-level entry left whole by pre-population (a whole chunk converts at
 * 2M) may only be flipped by a MapGPA whose range covers the whole chunk:
 * a range that covers part of it means the two steps disagreed (E8 §7.4),
 * and so does a frozen 2M-level entry (freezes live only under the read
 * lock): the VM is killed, nothing is flipped.
 */
static void test_map_gpa_partial_or_frozen_2m_entry(void **state)
{
	struct kvm_fx vm;
	struct kvm_gfn_range part = { 0x200, 0x300 }, whole = { 0x400, 0x600 };
	struct kvm_map_gpa_result res;
	struct kvm_mmu_memory_cache *mc;
	_Atomic uint64_t *e2m;

	(void)state;
	kvm_fx_create_huge(&vm);
	mc = topped_up(&vm);
	kvm_mmu_write_lock(vm.kvm);
	assert_int_equal(kvm_tdp_mmu_populate_nonleaf(vm.kvm, false, 0x200, 0x600, mc), 0);
	assert_int_equal(kvm_tdp_mmu_populate_nonleaf(vm.kvm, true, 0x200, 0x600, mc), 0);
	assert_false(is_table(spte_at(vm.kvm->private_root, 0x200, PG_LEVEL_2M)));
	assert_int_equal(kvm_tdp_mmu_map_gpa(vm.kvm, &part, 1, true, &res), -EIO);
	assert_int_equal(res.shared_changed, 0);
	kvm_fx_assert_bugged(&vm, "kvm_vm_bugged: MapGPA: gfn 0x800000200 level 2 not populated");
	/* The same for a range that starts inside the chunk. */
	part.start = 0x300;
	part.end = 0x400;
	assert_int_equal(kvm_tdp_mmu_map_gpa(vm.kvm, &part, 1, false, &res), -EIO);
	assert_int_equal(res.shared_changed, 0);
	/* Chunk 2 is outside the memslot: 4K tables, but its private
	 * 2M-level entry frozen by hand. */
	e2m = kvm_fx_sptep_at(vm.kvm->private_root, 0x400, PG_LEVEL_2M);
	assert_true(is_table(atomic_load(e2m)));
	e2m = kvm_fx_sptep_at(vm.kvm->private_root, 0x200, PG_LEVEL_2M);
	atomic_store(e2m, REMOVED_SPTE);
	whole.start = 0x200;
	whole.end = 0x400;
	assert_int_equal(kvm_tdp_mmu_map_gpa(vm.kvm, &whole, 1, false, &res), -EIO);
	assert_true(kvm_fx_trace_has(&vm, "kvm_vm_bugged: MapGPA: gfn 0x200 level 2 not populated "
					  "(spte 0x80000000000005a0)"));
	atomic_store(e2m, SHADOW_NONPRESENT_VALUE);
	kvm_mmu_write_unlock(vm.kvm);
	kvm_fx_destroy_dead(&vm);
}


/*
 * Pre-population's SEPT.ADD answered BUSY (the module's S-EPT lock, E7):
 * -EBUSY with nothing done: the table was never published (the hook runs
 * first under the write lock), its S-EPT twin is back in the cache, the VM
 * lives; the caller's retry links it.
 */
static void test_populate_sept_add_busy(void **state)
{
	struct kvm_fx vm;
	struct kvm_mmu_memory_cache *mc;
	unsigned nr;

	(void)state;
	vm_create(&vm);
	mc = topped_up(&vm);
	nr = mc->nr;
	tdx_module_inject_busy_nth(vm.m, TDH_MEM_SEPT_ADD, 1, false);
	assert_int_equal(populate(&vm, true, 0, 512, mc), -EBUSY);
	assert_int_equal(tdx_module_busy_hits(vm.m), 1);
	assert_int_equal(mc->nr, nr);
	assert_null(kvm_fx_sptep_at(vm.kvm->private_root, 0, PG_LEVEL_1G));
	kvm_mmu_pages_quiesce(vm.kvm);
	assert_int_equal(kvm_mmu_pages_live(vm.kvm), 2);
	assert_false(atomic_load(&vm.kvm->bugged));
	assert_int_equal(populate(&vm, true, 0, 512, mc), 0);
	assert_true(kvm_tdp_mmu_accept_inhibited(vm.kvm, 0));
	kvm_fx_destroy(&vm);
}

/*
 * A 1G leaf (never made: hugepages ref §1.1) on a hugepages memslot's
 * fault path: only a 2M leaf may be the target above a 4K goal; KVM kills
 * the VM rather than map through a leaf it did not make.
 */
static void test_1g_leaf_on_huge_fault_path(void **state)
{
	struct kvm_fx vm;
	_Atomic uint64_t *e1g;
	uint64_t table;
	gfn_t s;

	(void)state;
	kvm_fx_create_huge(&vm);
	s = vm.kvm->gfn_shared_mask;
	/* A shared fault on a private gfn links the shared tables down to
	 * the 2M level, then refaults (wrong alias). */
	assert_int_equal(fault(&vm, s << PAGE_SHIFT), RET_PF_RETRY);
	e1g = kvm_fx_sptep_at(vm.kvm->shared_root, s, PG_LEVEL_1G);
	assert_non_null(e1g);
	table = atomic_load(e1g);
	assert_true(is_table(table));
	/* The 1G-level entry made a leaf by hand (its table put back after,
	 * for the teardown). */
	atomic_store(e1g, make_spte(kvm_fx_slot_pfn(&vm, 0), PG_LEVEL_1G, false,
				    SHADOW_NONPRESENT_VALUE | SPTE_SHARED_MASK));
	assert_int_equal(fault(&vm, (s | 0x10) << PAGE_SHIFT), -EIO);
	kvm_fx_assert_bugged(&vm, "kvm_vm_bugged: large SPTE at gfn 0x800000000 level 3");
	atomic_store(e1g, table);
	kvm_fx_destroy_dead(&vm);
}

/*
 * The roots freed before finalize with a page that KVM_TDX_INIT_MEM_REGION
 * added (PAGE.ADD): no vCPU has ever run, so the leaf leaves without BLOCK
 * or TRACK, with PAGE.REMOVE of the MAPPED page directly
 * (tdx-module-sept.md §4.7; tdp_mmu_zap_private_leaf()). The S-EPT tables
 * then meet the rule that they go only after the HKID's release (v7,
 * upstream): the VM is killed and they are leaked, as for a running TD
 * (test_cov5_kvm_tdp_edges.c); the destroy gets them back.
 */
static void test_free_roots_before_finalize(void **state)
{
	static const uint64_t slot[] = { 0, (uint64_t)SLOT_PAGES << PAGE_SHIFT, 0, 0 };
	struct kvm_fx vm;
	pfn_t source;

	(void)state;
	kvm_fx_create(&vm, 1, 48, 1, slot, true);
	assert_int_equal(host_mem_alloc_frame(vm.hm, &source), 0);
	assert_int_equal(kvm_tdx_init_mem_page(vm.kvm, 0x1000, source), 0);
	assert_int_equal(kvm_fx_sept_state(&vm, 0x1000, 0), SEPT_MAPPED);
	kvm_fx_snap(&vm);
	kvm_mmu_write_lock(vm.kvm);
	kvm_tdp_mmu_free_all(vm.kvm);
	kvm_mmu_write_unlock(vm.kvm);
	assert_int_equal(kvm_fx_delta(&vm, TDH_MEM_RANGE_BLOCK, false), 0);
	assert_int_equal(kvm_fx_delta(&vm, TDH_MEM_TRACK, false), 0);
	assert_int_equal(kvm_fx_delta(&vm, TDH_MEM_PAGE_REMOVE, false), 1);
	assert_int_equal(kvm_fx_sept_state(&vm, 0x1000, 0), SEPT_FREE);
	kvm_fx_assert_bugged(&vm, "with the HKID assigned");
	assert_int_equal(atomic_load(&vm.kvm->frames_leaked), 3);
	host_mem_free_frame(vm.hm, source);
	kvm_fx_destroy_dead(&vm);
}

/* ---- MUTANT_SPLIT_READ_LOCK is the ACCEPT-level split's only ---- */

static int mutant_teardown(void **state)
{
	(void)state;
	atomic_store(&mutant_mask, 0u);
	return 0;
}

/*
 * Regression: MUTANT_SPLIT_READ_LOCK (explore/mutant.h) moves the
 * ACCEPT-level split to the read side of mmu_lock, and nothing else. The
 * populate and split code asked the mutant itself which side it was on, so
 * under it MapGPA's pre-population and the zap's boundary split, which hold
 * the write lock, took the read side's paths: a lockdep abort ("mmu_lock
 * not held for read (held for write)") in debug builds, and without
 * lockdep a shared 2M leaf's split went through the read-side handler,
 * which killed the VM for an S-bit change "under the read lock". Now the
 * caller says: with the mutant on, those write-locked paths split and link
 * as without it (hugepages ref §4.2, §4.4).
 */
static void test_split_mutant_leaves_write_side_alone(void **state)
{
	struct kvm_fx vm;
	struct kvm_map_gpa_result res;
	struct kvm_mmu_memory_cache *mc;
	uint64_t spte;
	gfn_t s;

	(void)state;
	kvm_fx_create_huge(&vm);
	s = vm.kvm->gfn_shared_mask;
	/* Chunk 0: a shared 2M leaf. Chunk 1: a private 2M leaf. */
	assert_int_equal(map_gpa(&vm, 0, 0x200, true, &res), 0);
	assert_int_equal(fault(&vm, (s | 0x10) << PAGE_SHIFT), RET_PF_FIXED);
	assert_int_equal(fault(&vm, 0x200000), RET_PF_FIXED);
	assert_int_equal(kvm_stat_read(vm.kvm, leaf2m_shared), 1);
	assert_int_equal(kvm_stat_read(vm.kvm, leaf2m_private), 1);

	mc = topped_up(&vm);
	kvm_fx_snap(&vm);
	atomic_store(&mutant_mask, 1u << MUTANT_SPLIT_READ_LOCK);
	kvm_mmu_write_lock(vm.kvm);
	/* MapGPA over part of chunk 0: its shared 2M leaf is split, each 4K
	 * leaf keeping S; no SEAMCALL. */
	assert_int_equal(kvm_tdp_mmu_populate_nonleaf(vm.kvm, false, 0, 0x100, mc), 0);
	assert_int_equal(kvm_tdp_mmu_populate_nonleaf(vm.kvm, true, 0, 0x100, mc), 0);
	/* A zap's boundary split of chunk 1's private 2M leaf. */
	assert_int_equal(kvm_tdp_mmu_split_boundaries(vm.kvm, 0x280, 0x300, mc), 0);
	kvm_mmu_write_unlock(vm.kvm);
	atomic_store(&mutant_mask, 0u);

	assert_false(atomic_load(&vm.kvm->bugged));
	assert_int_equal(kvm_stat_read(vm.kvm, split_shared), 1);
	assert_int_equal(kvm_stat_read(vm.kvm, split_private), 1);
	spte = spte_at(vm.kvm->shared_root, s | 0x10, PG_LEVEL_4K);
	assert_true(is_shadow_present_pte(spte));
	assert_true(spte & SPTE_SHARED_MASK);
	assert_true(is_table(spte_at(vm.kvm->private_root, 0, PG_LEVEL_2M)));
	/* The private split, the write side's way: one DEMOTE, no UNBLOCK. */
	assert_int_equal(kvm_fx_delta(&vm, TDH_MEM_PAGE_DEMOTE, false), 1);
	assert_int_equal(kvm_fx_delta(&vm, TDH_MEM_RANGE_UNBLOCK, false), 0);
	assert_int_equal(kvm_fx_sept_state(&vm, 0x280000, 0), SEPT_PENDING);
	kvm_fx_destroy(&vm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_populate_private_needs_cache),
		cmocka_unit_test(test_chunk_converts_at_2m_only_if_both_trees_agree),
		cmocka_unit_test(test_range_cuts_huge),
		cmocka_unit_test(test_split_boundaries_leaves_tables_alone),
		cmocka_unit_test(test_private_zap_remove_fails),
		cmocka_unit_test(test_map_gpa_to_shared_remove_fails),
		cmocka_unit_test(test_shared_zap_track_fails),
		cmocka_unit_test(test_free_empty_shared_tables_track_fails),
		cmocka_unit_test(test_free_empty_shared_tables_keeps_2m_leaf),
		cmocka_unit_test(test_map_gpa_stops_at_first_bad_range),
		cmocka_unit_test(test_map_gpa_partial_or_frozen_2m_entry),
		cmocka_unit_test(test_populate_sept_add_busy),
		cmocka_unit_test(test_1g_leaf_on_huge_fault_path),
		cmocka_unit_test(test_free_roots_before_finalize),
		cmocka_unit_test_teardown(test_split_mutant_leaves_write_side_alone, mutant_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
