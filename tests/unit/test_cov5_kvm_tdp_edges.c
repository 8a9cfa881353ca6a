/* SPDX-License-Identifier: MIT */
/*
 * The TDP MMU's edges (src/kvm/tdp_mmu.c) that the scenario suite does not
 * reach (coverage round 5, issue 14):
 *  - the internal API's answers to empty ranges, ranges past the roots and
 *    a VM whose roots are gone (after kvm_tdp_mmu_free_all());
 *  - the fault path's answers where another thread's work shows (a frozen
 *    4K entry met through the walk hints, a 2M leaf above a 4K ACCEPT) or
 *    where its caller broke the contract (no S-EPT page in the cache);
 *  - the defensive checks (KVM_BUG_ON in KVM, kvm_vm_bugged() here) of a
 *    tree in a state the design never makes: a large SPTE on the 4K path,
 *    a leaf whose frame is not the memslot's, a frozen entry under the
 *    write lock, MapGPA's walk over a range that was not pre-populated, a
 *    private 2M leaf that crosses a zap range, a private table freed with
 *    the HKID assigned, SEAMCALL errors in the middle of a teardown.
 * Each such test puts the tree in that state by hand (what a buggy KVM
 * path would have left) and asserts what KVM answers: the VM killed with
 * the reason in its trace, the error code, what was leaked, and that the
 * dead VM's destroy is still complete (kvm_fx_destroy_dead()).
 * The states and rules are E4's (the 2022 SPTE_SHARED_MASK series, §5-§6)
 * and, for 2M leaves, the hugepages series (E8, docs/large-pages.md).
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
#include "kvm/tdp_mmu_nomirror.h"
#include "kvm/tdx_hooks.h"
#include "kvm/tdx_ops.h"
#include "tdx/tdx_module.h"
#include "tdx/tdx_status.h"

#include "kvm_fixture.h"

#define MB (1ULL << 20)
#define SLOT_PAGES 1024 /* gfn 0..1023: two 2M ranges of 4K pages */

static void vm_create(struct kvm_fx *vm, unsigned gpaw, bool finalize)
{
	static const uint64_t slot[] = { 0, (uint64_t)SLOT_PAGES << PAGE_SHIFT, 0, 0 };

	kvm_fx_create(vm, 1, gpaw, 1, slot, true);
	if (finalize)
		assert_int_equal(kvm_tdx_finalize_vm(vm->kvm), 0);
}

static int fault(struct kvm_fx *vm, gpa_t gpa)
{
	return kvm_fx_fault_level(vm, gpa, PG_LEVEL_2M);
}

static uint64_t sbit_gfn(struct kvm_fx *vm)
{
	return vm->kvm->gfn_shared_mask;
}

/* ---- the internal API's edges ---- */

/*
 * Empty ranges and ranges past what the roots map answer "nothing to do"
 * (or "not mapped") without walking; a VM whose roots were freed answers
 * each call as the VM without roots it now is (-EINVAL where a caller
 * needs a root, 0 or "not present" where there is nothing to see). None
 * of it changes the TD or kills the VM.
 */
static void test_empty_ranges_and_no_roots(void **state)
{
	struct kvm_fx vm;
	struct kvm *kvm;
	struct kvm_map_gpa_result res;
	struct kvm_gfn_range r = { 0, 16 };
	uint64_t priv = 0, shared = 0;
	gfn_t mask, far;
	int nr_calls = 0;

	(void)state;
	vm_create(&vm, 48, true);
	kvm = vm.kvm;
	mask = sbit_gfn(&vm);
	far = 1ULL << 40; /* past the 4-level roots' 2^36 gfns */

	/* Lockless readers past the roots: not present, not inhibited. */
	kvm_tdp_mmu_read_4k(kvm, far, &priv, &shared);
	assert_int_equal(priv, SHADOW_NONPRESENT_VALUE);
	assert_int_equal(shared, SHADOW_NONPRESENT_VALUE);
	assert_false(kvm_tdp_mmu_accept_inhibited(kvm, far));
	assert_false(kvm_tdp_mmu_range_cuts_huge(kvm, 7, 7));

	kvm_fx_snap(&vm);
	kvm_mmu_write_lock(kvm);
	/* Empty, or empty once clamped to the shared bit (ranges arrive
	 * without it, E4 kvm_gfn_for_root). */
	assert_int_equal(kvm_tdp_mmu_zap_leafs(kvm, false, 9, 9, false), 0);
	assert_int_equal(kvm_tdp_mmu_free_empty_shared_tables(kvm, mask + 1, mask + 9), 0);
	assert_int_equal(kvm_tdp_mmu_populate_nonleaf(kvm, true, 9, 9, NULL), 0);
	assert_int_equal(kvm_tdp_mmu_populate_nonleaf(kvm, true, mask + 1, mask + 9, NULL), 0);
	assert_int_equal(kvm_tdp_mmu_split_boundaries(kvm, 9, 9, NULL), 0);
	/* Cuts at and past the shared bit are not private gfns: no split. */
	assert_int_equal(kvm_tdp_mmu_split_boundaries(kvm, mask + 3, mask + 5, NULL), 0);

	/* The roots go (as at teardown, here with the HKID still assigned:
	 * the TD has no private table yet, so nothing reaches the module). */
	kvm_tdp_mmu_free_all(kvm);
	assert_null(kvm->private_root);
	assert_null(kvm->shared_root);
	kvm_mmu_pages_quiesce(kvm); /* the roots go after a grace period */
	assert_int_equal(kvm_mmu_pages_live(kvm), 0);
	assert_int_equal(kvm_tdp_mmu_zap_leafs(kvm, true, 0, 16, true), 0);
	assert_int_equal(kvm_tdp_mmu_zap_leafs(kvm, false, 0, 16, true), 0);
	assert_int_equal(kvm_tdp_mmu_free_empty_shared_tables(kvm, 0, 16), 0);
	assert_int_equal(kvm_tdp_mmu_populate_nonleaf(kvm, true, 0, 16, NULL), -EINVAL);
	assert_int_equal(kvm_tdp_mmu_split_boundaries(kvm, 1, 16, NULL), 0);
	assert_int_equal(kvm_tdp_mmu_accept_split(kvm, 1, NULL), -EINVAL);
	assert_int_equal(kvm_tdp_mmu_map_gpa(kvm, &r, 1, true, &res), -EINVAL);
	kvm_tdp_mmu_free_all(kvm); /* twice: nothing left to free */
	kvm_mmu_write_unlock(kvm);

	/* No root: a fault is outside the guest's physical space. */
	kvm_mmu_read_lock(kvm);
	assert_int_equal(kvm_tdp_mmu_map(kvm, &kvm->vcpus[0].sept_cache, 0x1000), -EFAULT);
	kvm_mmu_read_unlock(kvm);
	priv = shared = 0;
	kvm_tdp_mmu_read_4k(kvm, 1, &priv, &shared);
	assert_int_equal(priv, SHADOW_NONPRESENT_VALUE);
	assert_int_equal(shared, SHADOW_NONPRESENT_VALUE);
	assert_false(kvm_tdp_mmu_accept_inhibited(kvm, 1));
	kvm_tdp_mmu_foreach_private_leaf(kvm, NULL, &nr_calls); /* fn never called */
	kvm_tdp_mmu_walk(kvm, true, NULL, &nr_calls);
	kvm_tdp_mmu_walk(kvm, false, NULL, &nr_calls);

	assert_int_equal(kvm_fx_delta(&vm, -1, false), 0);
	assert_int_equal(kvm_mmu_pages_live(kvm), 0);
	kvm_fx_destroy(&vm);
}

/*
 * GPAW 52 (5-level roots, 2^45 gfns): the shared bit is gfn bit 39, so a
 * gfn at or above bit 40 is inside the root but outside the guest's
 * physical space (neither alias): -EFAULT before any walk.
 */
static void test_fault_past_gpaw(void **state)
{
	struct kvm_fx vm;
	gpa_t gpa;

	(void)state;
	vm_create(&vm, 52, true);
	assert_int_equal(vm.kvm->private_root->role.level, 5);
	gpa = (gpa_t)(sbit_gfn(&vm) << 1) << PAGE_SHIFT;
	kvm_fx_snap(&vm);
	assert_int_equal(fault(&vm, gpa), -EFAULT);
	assert_int_equal(fault(&vm, gpa | sbit_gfn(&vm) << PAGE_SHIFT), -EFAULT);
	assert_int_equal(kvm_fx_delta(&vm, -1, false), 0);
	assert_int_equal(kvm_mmu_pages_live(vm.kvm), 2); /* the roots only */
	kvm_fx_destroy(&vm);
}

/* ---- the fault path ---- */

/*
 * A caller that did not top the S-EPT page cache up (every fault path
 * does, before taking mmu_lock): the private table the walk needs cannot
 * be linked, the fault answers -ENOMEM, and the page-table page it
 * allocated is freed at once: nothing was linked, nothing issued.
 */
static void test_fault_without_sept_page(void **state)
{
	struct kvm_fx vm;
	struct kvm_mmu_memory_cache empty = { 0 };

	(void)state;
	vm_create(&vm, 48, true);
	kvm_fx_snap(&vm);
	kvm_mmu_read_lock(vm.kvm);
	assert_int_equal(kvm_tdp_mmu_map(vm.kvm, &empty, 0x1000), -ENOMEM);
	assert_int_equal(kvm_tdp_mmu_map(vm.kvm, NULL, 0x1000), -ENOMEM);
	kvm_mmu_read_unlock(vm.kvm);
	assert_int_equal(kvm_fx_delta(&vm, -1, false), 0);
	assert_int_equal(kvm_mmu_pages_live(vm.kvm), 2);
	assert_int_equal(kvm_fx_seq_delta(&vm), 0);
	/* With the cache topped up, the same fault maps the page. */
	assert_int_equal(fault(&vm, 0x1000), RET_PF_FIXED);
	kvm_fx_destroy(&vm);
}

/*
 * The walk hints (tdp_walk_hinted()) start a fault at the 4K entry of the
 * previous walk's table. There, as on the walk from the root, a frozen
 * entry is another vCPU's SEAMCALL in flight (its AUG): the fault must
 * refault (RET_PF_RETRY, counted as retry.frozen) without issuing
 * anything, and map the page once the entry is let go.
 */
static void test_hinted_walk_meets_frozen_entry(void **state)
{
	struct kvm_fx vm;
	_Atomic uint64_t *sptep;
	uint64_t frozen_before, priv;

	(void)state;
	vm_create(&vm, 48, true);
	/* The walk from the root links the tables: the trees' shape moved
	 * during that walk, so it leaves no hint (tdp_walk_hint_keep()). */
	assert_int_equal(fault(&vm, 0x1000), RET_PF_FIXED);
	/* A second walk from the root through the same tables, with the
	 * shape unchanged: its tables become this thread's hint. (Without
	 * it, the fault below walked from the root and met the frozen entry
	 * there, never through the hint.) */
	assert_int_equal(fault(&vm, 0x3000), RET_PF_FIXED);
	sptep = kvm_fx_sptep_at(vm.kvm->private_root, 2, PG_LEVEL_4K);
	assert_non_null(sptep);
	/* "Another vCPU" froze gfn 2's entry (a 4K write: the trees' shape,
	 * and so the hint, stay valid). */
	atomic_store(sptep, REMOVED_SPTE);
	frozen_before = kvm_stat_read(vm.kvm, retry_frozen);
	kvm_fx_snap(&vm);
	assert_int_equal(fault(&vm, 0x2000), RET_PF_RETRY);
	assert_int_equal(kvm_stat_read(vm.kvm, retry_frozen), frozen_before + 1);
	assert_int_equal(kvm_fx_delta(&vm, -1, false), 0);
	assert_int_equal(atomic_load(sptep), REMOVED_SPTE);
	/* Its owner stores the entry back (its SEAMCALL failed): mapped. */
	atomic_store(sptep, SHADOW_NONPRESENT_VALUE);
	assert_int_equal(fault(&vm, 0x2000), RET_PF_FIXED);
	assert_int_equal(kvm_fx_delta(&vm, TDH_MEM_PAGE_AUG, false), 1);
	kvm_tdp_mmu_read_4k(vm.kvm, 2, &priv, NULL);
	assert_int_equal(spte_to_pfn(priv), kvm_fx_slot_pfn(&vm, 0x2000));
	kvm_fx_destroy(&vm);
}

/*
 * A 4K ACCEPT's fault (max level 4K) in a hugepages memslot where a 2M
 * leaf already maps the gfn (it raced a 2M fault, hugepages ref §2.2: the
 * split belongs to the write side): the leaf is the target, the fault is
 * spurious and issues nothing; the 2M leaf stays.
 */
static void test_4k_fault_under_2m_leaf_is_spurious(void **state)
{
	struct kvm_fx vm;
	uint64_t spurious, priv;

	(void)state;
	kvm_fx_create_huge(&vm);
	assert_int_equal(fault(&vm, 0x200000), RET_PF_FIXED);
	assert_int_equal(kvm_stat_read(vm.kvm, leaf2m_private), 1);
	spurious = kvm_stat_read(vm.kvm, fault_spurious);
	kvm_fx_snap(&vm);
	assert_int_equal(kvm_fx_fault_level(&vm, 0x203000, PG_LEVEL_4K), RET_PF_SPURIOUS);
	assert_int_equal(kvm_stat_read(vm.kvm, fault_spurious), spurious + 1);
	assert_int_equal(kvm_fx_delta(&vm, -1, false), 0);
	assert_true(is_large_pte(atomic_load(kvm_fx_sptep_at(vm.kvm->private_root, 0x200,
							 PG_LEVEL_2M))));
	kvm_tdp_mmu_read_4k(vm.kvm, 0x203, &priv, NULL);
	assert_int_equal(priv, SHADOW_NONPRESENT_VALUE); /* no 4K table below */
	kvm_fx_destroy(&vm);
}

/*
 * The caller of kvm_tdp_mmu_split_boundaries() must have topped up the
 * S-EPT page cache: with an empty one, the private 2M leaf that the range
 * cuts cannot be split; -ENOMEM (the caller's "top up and retry"), and the
 * leaf is untouched in the mirror and the S-EPT.
 */
static void test_split_boundaries_without_sept_page(void **state)
{
	struct kvm_fx vm;
	struct kvm_mmu_memory_cache empty = { 0 };

	(void)state;
	kvm_fx_create_huge(&vm);
	assert_int_equal(fault(&vm, 0x200000), RET_PF_FIXED);
	kvm_fx_snap(&vm);
	kvm_mmu_write_lock(vm.kvm);
	assert_int_equal(kvm_tdp_mmu_split_boundaries(vm.kvm, 0x201, 0x400, &empty), -ENOMEM);
	assert_int_equal(kvm_tdp_mmu_split_boundaries(vm.kvm, 0x200, 0x3ff, NULL), -ENOMEM);
	kvm_mmu_write_unlock(vm.kvm);
	assert_int_equal(kvm_fx_delta(&vm, -1, false), 0);
	assert_true(is_large_pte(atomic_load(kvm_fx_sptep_at(vm.kvm->private_root, 0x200,
							 PG_LEVEL_2M))));
	assert_int_equal(kvm_fx_sept_state(&vm, 0x200000, 1), SEPT_PENDING);
	assert_false(atomic_load(&vm.kvm->bugged));
	kvm_fx_destroy(&vm);
}

/* ---- defensive checks: a tree in a state the design never makes ---- */

/*
 * A 2M leaf on the 4K fault path (a 4K memslot never has one): E4 maps 4K
 * only (tdp_max_page_level), so KVM kills the VM rather than map below or
 * through a leaf it did not make.
 */
static void test_large_spte_on_4k_path(void **state)
{
	struct kvm_fx vm;
	_Atomic uint64_t *sptep;
	gfn_t s = 0;

	(void)state;
	vm_create(&vm, 48, true);
	s = sbit_gfn(&vm);
	/* A shared fault on a private gfn links the shared tables, then
	 * refaults (wrong alias, §6.5). */
	assert_int_equal(fault(&vm, (s | 0) << PAGE_SHIFT), RET_PF_RETRY);
	sptep = kvm_fx_sptep_at(vm.kvm->shared_root, s | 0x200, PG_LEVEL_2M);
	assert_non_null(sptep);
	assert_int_equal(atomic_load(sptep), SHADOW_NONPRESENT_VALUE);
	atomic_store(sptep, make_spte(kvm_fx_slot_pfn(&vm, 0x200000), PG_LEVEL_2M, false,
				      SHADOW_NONPRESENT_VALUE | SPTE_SHARED_MASK));
	assert_int_equal(fault(&vm, (s | 0x201) << PAGE_SHIFT), -EIO);
	kvm_fx_assert_bugged(&vm, "kvm_vm_bugged: large SPTE at gfn 0x800000200 level 2");
	/* A killed VM refuses every later fault. */
	assert_int_equal(fault(&vm, 0x1000), -EIO);
	kvm_fx_destroy_dead(&vm);
}

/*
 * A present leaf never changes frame while present (invariant 2): a fault
 * that finds its gfn mapped to another frame than the memslot's kills the
 * VM instead of calling it spurious.
 */
static void test_leaf_with_wrong_pfn(void **state)
{
	struct kvm_fx vm;
	_Atomic uint64_t *sptep;
	gfn_t s;

	(void)state;
	vm_create(&vm, 48, true);
	s = sbit_gfn(&vm);
	assert_int_equal(fault(&vm, s << PAGE_SHIFT), RET_PF_RETRY);
	sptep = kvm_fx_sptep_at(vm.kvm->shared_root, s | 1, PG_LEVEL_4K);
	assert_non_null(sptep);
	atomic_store(sptep, make_spte(kvm_fx_slot_pfn(&vm, 0x2000), PG_LEVEL_4K, false,
				      SHADOW_NONPRESENT_VALUE | SPTE_SHARED_MASK));
	assert_int_equal(fault(&vm, (s | 1) << PAGE_SHIFT), -EIO);
	kvm_fx_assert_bugged(&vm, "kvm_vm_bugged: gfn 0x800000001 mapped to pfn");
	kvm_fx_destroy_dead(&vm);
}

/*
 * Freezes live only inside a read-lock section (invariant 1): a frozen
 * entry that MapGPA's write-locked walk meets (here in the shared tree,
 * where MapGPA(private) zaps every entry that is not plain non-present) is
 * a KVM bug, reported as one; MapGPA answers -EIO.
 */
static void test_frozen_entry_under_write_lock(void **state)
{
	struct kvm_fx vm;
	struct kvm_gfn_range r = { 0, 512 };
	struct kvm_map_gpa_result res;
	struct kvm_mmu_memory_cache *mc;
	_Atomic uint64_t *sptep;
	gfn_t s;

	(void)state;
	vm_create(&vm, 48, true);
	mc = &vm.kvm->vcpus[0].sept_cache;
	s = sbit_gfn(&vm);
	assert_int_equal(fault(&vm, s << PAGE_SHIFT), RET_PF_RETRY);
	sptep = kvm_fx_sptep_at(vm.kvm->shared_root, s | 5, PG_LEVEL_4K);
	assert_non_null(sptep);
	atomic_store(sptep, REMOVED_SPTE);
	assert_int_equal(kvm_mmu_topup_sept_cache(vm.kvm, mc), 0);
	kvm_mmu_write_lock(vm.kvm);
	assert_int_equal(kvm_tdp_mmu_populate_nonleaf(vm.kvm, false, 0, 512, mc), 0);
	assert_int_equal(kvm_tdp_mmu_populate_nonleaf(vm.kvm, true, 0, 512, mc), 0);
	assert_int_equal(kvm_tdp_mmu_map_gpa(vm.kvm, &r, 1, false, &res), -EIO);
	kvm_mmu_write_unlock(vm.kvm);
	kvm_fx_assert_bugged(&vm, "kvm_vm_bugged: frozen SPTE at gfn 0x800000005 under the write lock");
	kvm_fx_destroy_dead(&vm);
}

/*
 * MapGPA's walk (kvm_tdp_mmu_map_gpa()) relies on its pre-population
 * (kvm_tdp_mmu_populate_nonleaf()) for every table above 4K. Called over a
 * range that was not pre-populated (the two steps disagreeing), it skips
 * no gfn silently (the trees' S bits would then differ, §11.2 invariant 8):
 * the VM is killed, -EIO, whichever tree's walk finds the hole: the shared
 * tree first, the private tree in either direction once the shared one is
 * populated. Bad ranges are a KVM bug too.
 */
static void test_map_gpa_without_population(void **state)
{
	struct kvm_fx vm;
	struct kvm_gfn_range r = { 0, 512 };
	struct kvm_gfn_range bad[2] = { { 0, 512 }, { 600, 600 } };
	struct kvm_map_gpa_result res;
	struct kvm_mmu_memory_cache *mc;

	(void)state;
	vm_create(&vm, 48, true);
	mc = &vm.kvm->vcpus[0].sept_cache;
	assert_int_equal(kvm_mmu_topup_sept_cache(vm.kvm, mc), 0);
	kvm_fx_snap(&vm);
	kvm_mmu_write_lock(vm.kvm);
	assert_int_equal(kvm_tdp_mmu_map_gpa(vm.kvm, &r, 1, true, &res), -EIO);
	assert_int_equal(res.shared_changed + res.private_changed, 0);
	kvm_fx_assert_bugged(&vm, "kvm_vm_bugged: MapGPA: gfn 0x800000000 level 4 not populated");

	/* The shared tree populated, the private one not. */
	assert_int_equal(kvm_tdp_mmu_populate_nonleaf(vm.kvm, false, 0, 512, mc), 0);
	assert_int_equal(kvm_tdp_mmu_map_gpa(vm.kvm, &r, 1, true, &res), -EIO);
	assert_int_equal(res.shared_changed, 512); /* the S bits went on first */
	assert_int_equal(res.private_changed, 0);
	assert_true(kvm_fx_trace_has(&vm, "kvm_vm_bugged: MapGPA: gfn 0x0 level 4 not populated"));
	assert_int_equal(kvm_tdp_mmu_map_gpa(vm.kvm, &r, 1, false, &res), -EIO);
	assert_int_equal(res.shared_changed, 512);
	assert_int_equal(res.private_changed, 0);

	/* A range that is empty, or past the shared bit. */
	assert_int_equal(kvm_tdp_mmu_map_gpa(vm.kvm, bad, 2, true, &res), -EIO);
	assert_true(kvm_fx_trace_has(&vm, "kvm_vm_bugged: MapGPA: bad gfn range [0x258, 0x258)"));
	bad[1].end = sbit_gfn(&vm) + 1;
	assert_int_equal(kvm_tdp_mmu_map_gpa(vm.kvm, bad, 2, false, &res), -EIO);
	kvm_mmu_write_unlock(vm.kvm);
	/* Nothing reached the module: no private leaf was in the range. */
	assert_int_equal(kvm_fx_delta(&vm, -1, false), 0);
	kvm_fx_destroy_dead(&vm);
}

/*
 * A zap never removes part of a private 2M leaf (hugepages ref §4.1.6:
 * removing accepted private memory destroys it, so callers split the
 * range's boundaries first, kvm_tdp_mmu_split_boundaries()). A zap range
 * that starts or ends inside a private 2M leaf without that split is a KVM
 * bug: the VM is killed before anything is blocked, and the leaf stays for
 * the teardown.
 */
static void test_zap_cutting_private_2m_leaf(void **state)
{
	static const struct { gfn_t start, end; const char *why; } cuts[] = {
		{ 0x201, 0x400, "kvm_vm_bugged: private 2M leaf at gfn 0x200 crosses the zap range "
				"[0x201, 0x400)" },
		{ 0x200, 0x201, "kvm_vm_bugged: private 2M leaf at gfn 0x200 crosses the zap range "
				"[0x200, 0x201)" },
	};

	(void)state;
	for (unsigned i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		struct kvm_fx vm;

		kvm_fx_create_huge(&vm);
		assert_int_equal(fault(&vm, 0x200000), RET_PF_FIXED);
		kvm_fx_snap(&vm);
		kvm_mmu_write_lock(vm.kvm);
		assert_int_equal(kvm_tdp_mmu_zap_leafs(vm.kvm, true, cuts[i].start, cuts[i].end,
						       true), -EIO);
		kvm_mmu_write_unlock(vm.kvm);
		kvm_fx_assert_bugged(&vm, cuts[i].why);
		assert_int_equal(kvm_fx_delta(&vm, -1, false), 0);
		assert_int_equal(kvm_fx_sept_state(&vm, 0x200000, 1), SEPT_PENDING);
		kvm_fx_destroy_dead(&vm);
	}
}

/*
 * The roots freed while the TD runs (finalized, HKID assigned) with its
 * private leaves still mapped. Each leaf leaves the E4 way one at a time
 * (tdp_mmu_zap_private_leaf(), not batched): RANGE.BLOCK, TRACK, then
 * PAGE.REMOVE + WBINVD. Then the private tables: v7 and upstream free
 * S-EPT pages only after the HKID's release, so KVM kills the VM and
 * leaks each one; the destroy still gets all of them back.
 */
static void test_free_roots_while_td_runs(void **state)
{
	struct kvm_fx vm;

	(void)state;
	vm_create(&vm, 48, true);
	assert_int_equal(fault(&vm, 0x1000), RET_PF_FIXED);
	assert_int_equal(fault(&vm, 0x2000), RET_PF_FIXED);
	kvm_fx_snap(&vm);
	kvm_mmu_write_lock(vm.kvm);
	kvm_tdp_mmu_free_all(vm.kvm);
	kvm_mmu_write_unlock(vm.kvm);
	assert_int_equal(kvm_fx_delta(&vm, TDH_MEM_RANGE_BLOCK, false), 2);
	assert_int_equal(kvm_fx_delta(&vm, TDH_MEM_TRACK, false), 2);
	assert_int_equal(kvm_fx_delta(&vm, TDH_MEM_PAGE_REMOVE, false), 2);
	assert_int_equal(kvm_fx_delta(&vm, TDH_PHYMEM_PAGE_WBINVD, false), 2);
	assert_int_equal(kvm_fx_sept_state(&vm, 0x1000, 0), SEPT_FREE);
	assert_int_equal(kvm_fx_sept_state(&vm, 0x2000, 0), SEPT_FREE);
	kvm_fx_assert_bugged(&vm, "with the HKID assigned");
	/* The three S-EPT tables of the path (levels 3, 2, 1). */
	assert_int_equal(atomic_load(&vm.kvm->frames_leaked), 3);
	kvm_fx_destroy_dead(&vm);
}

/*
 * The same, with RANGE.BLOCK failing (an error, not BUSY) for the second
 * leaf: the page is still mapped in the S-EPT, so KVM kills the VM and
 * leaks it ("block/track failed") rather than REMOVE it; the first leaf
 * left normally. The teardown reclaims the leaked page with the S-EPT's.
 */
static void test_free_roots_block_fails(void **state)
{
	struct kvm_fx vm;

	(void)state;
	vm_create(&vm, 48, true);
	assert_int_equal(fault(&vm, 0x1000), RET_PF_FIXED);
	assert_int_equal(fault(&vm, 0x2000), RET_PF_FIXED);
	tdx_module_inject_status_nth(vm.m, TDH_MEM_RANGE_BLOCK, TDX_OPERAND_INVALID, 2, false);
	kvm_fx_snap(&vm);
	kvm_mmu_write_lock(vm.kvm);
	kvm_tdp_mmu_free_all(vm.kvm);
	kvm_mmu_write_unlock(vm.kvm);
	assert_int_equal(tdx_module_status_hits(vm.m), 1);
	assert_int_equal(kvm_fx_delta(&vm, TDH_MEM_PAGE_REMOVE, false), 1);
	assert_int_equal(kvm_fx_sept_state(&vm, 0x1000, 0), SEPT_FREE);
	assert_int_equal(kvm_fx_sept_state(&vm, 0x2000, 0), SEPT_PENDING);
	kvm_fx_assert_bugged(&vm, "kvm_vm_bugged: TDH.MEM.RANGE.BLOCK gpa 0x2000 level 1: 0xc000010000000000");
	assert_true(kvm_fx_trace_has(&vm, "(block/track failed)"));
	assert_int_equal(atomic_load(&vm.kvm->frames_leaked), 1 + 3);
	kvm_fx_destroy_dead(&vm);
}

/*
 * MapGPA's pre-population links a private table under the write lock with
 * the hook first (tdp_mmu_link_sp_locked()). A SEPT.ADD that answers an
 * error (not BUSY) kills the VM; nobody knows whether the module kept the
 * S-EPT page, so it is leaked, and the mirror shows no table.
 */
static void test_populate_sept_add_error(void **state)
{
	struct kvm_fx vm;
	struct kvm_mmu_memory_cache *mc;
	unsigned nr;

	(void)state;
	vm_create(&vm, 48, true);
	mc = &vm.kvm->vcpus[0].sept_cache;
	assert_int_equal(kvm_mmu_topup_sept_cache(vm.kvm, mc), 0);
	nr = mc->nr;
	tdx_module_inject_status_nth(vm.m, TDH_MEM_SEPT_ADD, TDX_OPERAND_INVALID, 1, false);
	kvm_mmu_write_lock(vm.kvm);
	assert_int_equal(kvm_tdp_mmu_populate_nonleaf(vm.kvm, true, 0, 512, mc), -EIO);
	kvm_mmu_write_unlock(vm.kvm);
	kvm_fx_assert_bugged(&vm, "kvm_vm_bugged: TDH.MEM.SEPT.ADD gpa 0x0 level 4: 0xc000010000000000");
	assert_true(kvm_fx_trace_has(&vm, "(S-EPT page of a failed SEPT.ADD)"));
	assert_int_equal(mc->nr, nr - 1);
	assert_int_equal(atomic_load(&vm.kvm->frames_leaked), 1);
	assert_null(kvm_fx_sptep_at(vm.kvm->private_root, 0, PG_LEVEL_2M));
	assert_int_equal(kvm_mmu_pages_live(vm.kvm), 2);
	kvm_fx_destroy_dead(&vm);
}

/* ---- MUTANT_SPLIT_READ_LOCK: the split the series does not make ---- */

/*
 * The ACCEPT-level split under the read side of mmu_lock (hugepages ref
 * §4.2.3, hazard §8.1; explore/mutant.h MUTANT_SPLIT_READ_LOCK): KVM cannot
 * keep vCPUs out meanwhile, so each SEAMCALL's answer is taken as it comes.
 * What a single thread sees of each answer (the race itself is
 * tests/races/split_two_2m.tds's): `how` picks the failing SEAMCALL.
 */
enum split_fail { SPLIT_DEMOTE_BUSY, SPLIT_DEMOTE_ERROR, SPLIT_BLOCK_ERROR, SPLIT_TRACK_ERROR };

/* The S-EPT page cache's fill when the split began. */
static unsigned split_cache_nr;

static int split_read_lock(struct kvm_fx *vm, enum split_fail how)
{
	struct kvm_mmu_memory_cache *mc = &vm->kvm->vcpus[0].sept_cache;
	int ret;

	assert_int_equal(fault(vm, 0x200000), RET_PF_FIXED);
	assert_int_equal(kvm_mmu_topup_sept_cache(vm->kvm, mc), 0);
	switch (how) {
	case SPLIT_DEMOTE_BUSY:
		tdx_module_inject_busy_nth(vm->m, TDH_MEM_PAGE_DEMOTE, 1, false);
		break;
	case SPLIT_DEMOTE_ERROR:
		tdx_module_inject_status_nth(vm->m, TDH_MEM_PAGE_DEMOTE, TDX_OPERAND_INVALID, 1,
					     false);
		break;
	case SPLIT_BLOCK_ERROR:
		tdx_module_inject_status_nth(vm->m, TDH_MEM_RANGE_BLOCK, TDX_OPERAND_INVALID, 1,
					     false);
		break;
	case SPLIT_TRACK_ERROR:
		tdx_module_inject_status_nth(vm->m, TDH_MEM_TRACK, TDX_OPERAND_INVALID, 1, false);
		break;
	}
	kvm_fx_snap(vm);
	split_cache_nr = mc->nr;
	atomic_store(&mutant_mask, 1u << MUTANT_SPLIT_READ_LOCK);
	kvm_mmu_read_lock(vm->kvm);
	ret = kvm_tdp_mmu_accept_split(vm->kvm, 0x203, mc);
	kvm_mmu_read_unlock(vm->kvm);
	atomic_store(&mutant_mask, 0u);
	return ret;
}

static int mutant_teardown(void **state)
{
	(void)state;
	atomic_store(&mutant_mask, 0u);
	return 0;
}

/*
 * A BUSY DEMOTE (a vCPU holds the entry): KVM undoes its BLOCK with
 * RANGE.UNBLOCK and answers -EBUSY; the mirror gets its 2M leaf back and
 * the S-EPT page goes back to the vCPU's cache, so a retry splits.
 */
static void test_split_read_lock_demote_busy(void **state)
{
	struct kvm_fx vm;
	struct kvm_mmu_memory_cache *mc;
	unsigned nr;

	(void)state;
	kvm_fx_create_huge(&vm);
	mc = &vm.kvm->vcpus[0].sept_cache;
	assert_int_equal(split_read_lock(&vm, SPLIT_DEMOTE_BUSY), -EBUSY);
	assert_int_equal(kvm_fx_delta(&vm, TDH_MEM_PAGE_DEMOTE, false), 1);
	assert_int_equal(kvm_fx_delta(&vm, TDH_MEM_RANGE_UNBLOCK, false), 1);
	assert_true(is_large_pte(atomic_load(kvm_fx_sptep_at(vm.kvm->private_root, 0x200,
							 PG_LEVEL_2M))));
	assert_int_equal(kvm_fx_sept_state(&vm, 0x200000, 1), SEPT_PENDING);
	assert_false(atomic_load(&vm.kvm->bugged));
	nr = mc->nr;
	assert_int_equal(nr, split_cache_nr); /* the twin came back */
	/* Nothing in the way: the split happens. */
	atomic_store(&mutant_mask, 1u << MUTANT_SPLIT_READ_LOCK);
	kvm_mmu_read_lock(vm.kvm);
	assert_int_equal(kvm_tdp_mmu_accept_split(vm.kvm, 0x203, mc), 0);
	kvm_mmu_read_unlock(vm.kvm);
	atomic_store(&mutant_mask, 0u);
	assert_int_equal(kvm_stat_read(vm.kvm, split_private), 1);
	assert_int_equal(kvm_fx_sept_state(&vm, 0x203000, 0), SEPT_PENDING);
	kvm_fx_destroy(&vm);
}

/* A DEMOTE, BLOCK or TRACK that answers an error: the VM is killed with
 * that SEAMCALL named; the destroy is complete. */
static void test_split_read_lock_errors(void **state)
{
	static const struct {
		enum split_fail how;
		const char *why;
	} cases[] = {
		{ SPLIT_DEMOTE_ERROR, "kvm_vm_bugged: TDH.MEM.PAGE.DEMOTE gpa 0x200000 level 2: "
				      "0xc000010000000000" },
		{ SPLIT_BLOCK_ERROR, "kvm_vm_bugged: TDH.MEM.RANGE.BLOCK gpa 0x200000 level 2: "
				     "0xc000010000000000" },
		{ SPLIT_TRACK_ERROR, "kvm_vm_bugged: TDH.MEM.TRACK: 0xc000010000000000" },
	};

	(void)state;
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct kvm_fx vm;

		kvm_fx_create_huge(&vm);
		assert_int_equal(split_read_lock(&vm, cases[i].how), -EIO);
		kvm_fx_assert_bugged(&vm, cases[i].why);
		assert_int_equal(kvm_stat_read(vm.kvm, split_private), 0);
		kvm_fx_destroy_dead(&vm);
	}
}

/*
 * Regression: a table link whose handler fails after the cmpxchg won, on a
 * path with no rollback (a private entry under MUTANT_NO_FREEZE here; a
 * shared entry the same way). The table stays linked (the VM is bugged)
 * and is the tree's: tdp_mmu_link_new_sp() used to free it anyway, and the
 * teardown then freed it a second time (the model broken, host frames
 * leaked). Now it is freed once, by the teardown, and nothing leaks.
 */
static void test_failed_link_without_rollback_stays_linked(void **state)
{
	struct kvm_fx vm;
	_Atomic uint64_t *sptep;

	(void)state;
	vm_create(&vm, 48, true);
	tdx_module_inject_status_nth(vm.m, TDH_MEM_SEPT_ADD, TDX_OPERAND_INVALID, 1, false);
	atomic_store(&mutant_mask, 1u << MUTANT_NO_FREEZE);
	assert_int_equal(fault(&vm, 0x1000), -EIO);
	atomic_store(&mutant_mask, 0u);
	kvm_fx_assert_bugged(&vm, "kvm_vm_bugged: TDH.MEM.SEPT.ADD gpa 0x0 level 4");
	/* The level-3 table is linked below the private root, and live. */
	sptep = kvm_fx_sptep_at(vm.kvm->private_root, 0, PG_LEVEL_512G);
	assert_non_null(sptep);
	assert_true(is_shadow_present_pte(atomic_load(sptep)));
	kvm_mmu_pages_quiesce(vm.kvm);
	assert_int_equal(kvm_mmu_pages_live(vm.kvm), 3);
	assert_false(atomic_load(&vm.kvm->model_broken));
	kvm_fx_destroy_dead(&vm);
	/* kvm_fx_destroy_dead() checked: no page left live, no frame leaked. */
}

/* ---- creation, the iterator, build time ---- */

/*
 * kvm_create_vm() refuses a configuration KVM cannot build (the API checks
 * the same before; this is KVM's own answer): a GPAW other than 48 or 52,
 * no vCPU or too many, an unknown trace event. Nothing is created.
 */
static void test_create_refuses_bad_config(void **state)
{
	struct host_mem *hm = host_mem_create(KVM_FX_POOL_BYTES);
	struct tdx_module *m;
	struct host_memslots *slots;
	struct kvm *kvm = NULL;
	struct kvm_config cfg[] = {
		{ .gpaw = 50, .nr_vcpus = 1 },
		{ .gpaw = 48, .nr_vcpus = 0 },
		{ .gpaw = 52, .nr_vcpus = KVM_MAX_VCPUS + 1 },
		{ .gpaw = 48, .nr_vcpus = 1, .trace_events = "no_such_event" },
	};
	uint64_t frames;

	(void)state;
	assert_non_null(hm);
	m = tdx_module_create(hm, 1);
	assert_non_null(m);
	slots = host_memslots_create(hm);
	assert_non_null(slots);
	frames = host_mem_frames_in_use(hm);
	for (unsigned i = 0; i < sizeof(cfg) / sizeof(cfg[0]); i++) {
		assert_int_equal(kvm_create_vm(hm, slots, m, &cfg[i], &kvm), -EINVAL);
		assert_null(kvm);
	}
	assert_int_equal(host_mem_frames_in_use(hm), frames);
	assert_int_equal(tdx_debug_nr_tds(m), 0);
	host_memslots_destroy(slots);
	tdx_module_destroy(m);
	host_mem_destroy(hm);
}

/* The iterator refuses a start it cannot walk: no root, or a minimum
 * level below 4K or above the root's. */
static void test_iter_refuses_bad_start(void **state)
{
	struct kvm_fx vm;
	struct tdp_iter iter;
	struct kvm_mmu_page *root;

	(void)state;
	vm_create(&vm, 48, false);
	root = vm.kvm->shared_root;
	tdp_iter_start(&iter, NULL, PG_LEVEL_4K, 0);
	assert_false(iter.valid);
	tdp_iter_start(&iter, root, PG_LEVEL_4K - 1, 0);
	assert_false(iter.valid);
	tdp_iter_start(&iter, root, (int)root->role.level + 1, 0);
	assert_false(iter.valid);
	tdp_iter_start(&iter, root, (int)root->role.level, 0);
	assert_true(iter.valid);
	assert_int_equal(iter.level, root->role.level);
	kvm_fx_destroy(&vm);
}

/*
 * Before finalize, a private fault maps only through
 * KVM_TDX_INIT_MEM_REGION (kvm_tdx_init_mem_page(), which sets the source
 * page): no vCPU can have run. A private fault without a source is a KVM
 * bug (X1 KVM_BUG_ON): the VM is killed, its ioctls answer -EIO.
 */
static void test_private_fault_before_finalize(void **state)
{
	struct kvm_fx vm;

	(void)state;
	vm_create(&vm, 48, false);
	kvm_fx_snap(&vm);
	assert_int_equal(fault(&vm, 0x1000), -EIO);
	kvm_fx_assert_bugged(&vm, "kvm_vm_bugged: private fault at 0x1000 before finalize without a source");
	assert_int_equal(kvm_fx_delta(&vm, TDH_MEM_PAGE_ADD, false), 0);
	/* The dead VM refuses KVM_TDX_INIT_MEM_REGION. */
	assert_int_equal(kvm_tdx_init_mem_page(vm.kvm, 0x2000, 0), -EIO);
	kvm_fx_destroy_dead(&vm);
}

/* ---- the no-mirror path (tdp_mmu_nomirror.c) ---- */

static void vm_create_nomirror(struct kvm_fx *vm)
{
	struct kvm_config cfg = { .gpaw = 48, .nr_vcpus = 1, .no_mirror = true };

	memset(vm, 0, sizeof(*vm));
	vm->hm = host_mem_create(KVM_FX_POOL_BYTES);
	assert_non_null(vm->hm);
	vm->m = tdx_module_create(vm->hm, 1);
	assert_non_null(vm->m);
	vm->slots = host_memslots_create(vm->hm);
	assert_non_null(vm->slots);
	vm->frames_before = host_mem_frames_in_use(vm->hm);
	assert_int_equal(host_memslot_add(vm->slots, 0, 0, SLOT_PAGES), 0);
	vm->trace_f = open_memstream(&vm->trace, &vm->trace_len);
	assert_non_null(vm->trace_f);
	cfg.trace = vm->trace_f;
	assert_int_equal(kvm_create_vm(vm->hm, vm->slots, vm->m, &cfg, &vm->kvm), 0);
	assert_int_equal(kvm_tdx_finalize_vm(vm->kvm), 0);
}

static int nomirror_map(struct kvm_fx *vm, gpa_t gpa)
{
	assert_int_equal(kvm_mmu_topup_sept_cache(vm->kvm, &vm->kvm->vcpus[0].sept_cache), 0);
	return kvm_nomirror_map(&vm->kvm->vcpus[0], gpa);
}

/*
 * Without the mirror, KVM reads the S-EPT (SEPT.RD) to know what is
 * mapped: a second fault on a mapped gfn is spurious, a gfn without a
 * memslot is -EFAULT, and a zap removes only its range's leaves.
 */
static void test_nomirror_spurious_efault_and_partial_zap(void **state)
{
	struct kvm_fx vm;

	(void)state;
	vm_create_nomirror(&vm);
	assert_int_equal(nomirror_map(&vm, 0x1000), RET_PF_FIXED);
	assert_int_equal(nomirror_map(&vm, 0x5000), RET_PF_FIXED);
	kvm_fx_snap(&vm);
	assert_int_equal(nomirror_map(&vm, 0x1000), RET_PF_SPURIOUS);
	assert_int_equal(kvm_fx_delta(&vm, TDH_MEM_PAGE_AUG, false), 0);
	assert_int_equal(nomirror_map(&vm, (gpa_t)SLOT_PAGES << PAGE_SHIFT), -EFAULT);
	/* [0, 3): gfn 1 goes, gfn 5 stays. */
	kvm_mmu_write_lock(vm.kvm);
	assert_int_equal(kvm_nomirror_zap(vm.kvm, 0, 3), 0);
	assert_int_equal(kvm_nomirror_zap(vm.kvm, 2, 5), 0); /* nothing there */
	kvm_mmu_write_unlock(vm.kvm);
	assert_int_equal(kvm_fx_delta(&vm, TDH_MEM_PAGE_REMOVE, false), 1);
	assert_int_equal(kvm_fx_sept_state(&vm, 0x1000, 0), SEPT_FREE);
	assert_int_equal(kvm_fx_sept_state(&vm, 0x5000, 0), SEPT_PENDING);
	kvm_fx_destroy(&vm);
}

/*
 * The no-mirror walk links a table wherever SEPT.RD says FREE and steps
 * down where it says NL_MAPPED; any other state of a non-leaf entry (here
 * one the host blocked behind KVM's back with a raw RANGE.BLOCK) is not
 * one KVM made: the VM is killed.
 */
static void test_nomirror_unexpected_state(void **state)
{
	struct kvm_fx vm;

	(void)state;
	vm_create_nomirror(&vm);
	assert_int_equal(nomirror_map(&vm, 0x1000), RET_PF_FIXED);
	/* Block the level-2 entry over gfns 0..511 (TDX level 1). */
	assert_false(tdx_status_is_error(kvm_tdh_mem_range_block(vm.kvm, 0, 1, NULL)));
	assert_int_equal(kvm_fx_sept_state(&vm, 0, 1), SEPT_NL_BLOCKED);
	assert_int_equal(nomirror_map(&vm, 0x2000), -EIO);
	kvm_fx_assert_bugged(&vm, "kvm_vm_bugged: no-mirror: entry for gfn 0x2 level 2 in public state");
	kvm_fx_destroy_dead(&vm);
}

/* A VM with the mirror has no no-mirror state: its entry points have
 * nothing to zap or free. */
static void test_nomirror_calls_on_mirror_vm(void **state)
{
	struct kvm_fx vm;

	(void)state;
	vm_create(&vm, 48, true);
	assert_int_equal(fault(&vm, 0x1000), RET_PF_FIXED);
	kvm_fx_snap(&vm);
	kvm_mmu_write_lock(vm.kvm);
	assert_int_equal(kvm_nomirror_zap(vm.kvm, 0, ~0ULL), 0);
	assert_int_equal(kvm_nomirror_free_spts(vm.kvm), 0);
	kvm_mmu_write_unlock(vm.kvm);
	assert_int_equal(kvm_fx_delta(&vm, -1, false), 0);
	assert_int_equal(kvm_fx_sept_state(&vm, 0x1000, 0), SEPT_PENDING);
	kvm_fx_destroy(&vm);
}

/*
 * MapGPA's pre-population and the ACCEPT-level split walk down to the
 * 2M-level entries under the write lock: there a frozen entry (freezes
 * live only inside a read-lock section) or a 1G leaf (never made,
 * hugepages ref §1.1; v7 WARNs) is a KVM bug: the VM is killed, -EIO.
 */
static void test_populate_meets_frozen_or_1g(void **state)
{
	struct kvm_fx vm;
	struct kvm_mmu_memory_cache *mc;
	_Atomic uint64_t *e1g, *e2m;
	gfn_t s;

	(void)state;
	vm_create(&vm, 48, true);
	mc = &vm.kvm->vcpus[0].sept_cache;
	s = sbit_gfn(&vm);
	assert_int_equal(fault(&vm, 0x1000), RET_PF_FIXED);
	assert_int_equal(fault(&vm, s << PAGE_SHIFT), RET_PF_RETRY);
	/* A 1G leaf in the shared tree next to the path the fault made. */
	e1g = kvm_fx_sptep_at(vm.kvm->shared_root, s | 0x40000, PG_LEVEL_1G);
	assert_non_null(e1g);
	assert_int_equal(atomic_load(e1g), SHADOW_NONPRESENT_VALUE);
	atomic_store(e1g, make_spte(kvm_fx_slot_pfn(&vm, 0), PG_LEVEL_1G, false,
				    SHADOW_NONPRESENT_VALUE | SPTE_SHARED_MASK));
	/* A frozen 2M-level entry in the private tree. */
	e2m = kvm_fx_sptep_at(vm.kvm->private_root, 0x200, PG_LEVEL_2M);
	assert_non_null(e2m);
	assert_int_equal(atomic_load(e2m), SHADOW_NONPRESENT_VALUE);
	atomic_store(e2m, REMOVED_SPTE);
	assert_int_equal(kvm_mmu_topup_sept_cache(vm.kvm, mc), 0);
	kvm_fx_snap(&vm);
	kvm_mmu_write_lock(vm.kvm);
	assert_int_equal(kvm_tdp_mmu_populate_nonleaf(vm.kvm, false, 0x40000, 0x40200, mc), -EIO);
	kvm_fx_assert_bugged(&vm, "kvm_vm_bugged: populate (MapGPA, ACCEPT split): gfn 0x800040000 level 3");
	assert_int_equal(kvm_tdp_mmu_populate_nonleaf(vm.kvm, true, 0x200, 0x400, mc), -EIO);
	assert_true(kvm_fx_trace_has(&vm, "kvm_vm_bugged: populate (MapGPA, ACCEPT split): "
					  "gfn 0x200 level 2 spte 0x80000000000005a0"));
	/* Undone, so that the teardown sees the trees KVM made. */
	atomic_store(e1g, SHADOW_NONPRESENT_VALUE);
	atomic_store(e2m, SHADOW_NONPRESENT_VALUE);
	kvm_mmu_write_unlock(vm.kvm);
	assert_int_equal(kvm_fx_delta(&vm, -1, false), 0);
	kvm_fx_destroy_dead(&vm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_ranges_and_no_roots),
		cmocka_unit_test(test_fault_past_gpaw),
		cmocka_unit_test(test_fault_without_sept_page),
		cmocka_unit_test(test_hinted_walk_meets_frozen_entry),
		cmocka_unit_test(test_4k_fault_under_2m_leaf_is_spurious),
		cmocka_unit_test(test_split_boundaries_without_sept_page),
		cmocka_unit_test(test_large_spte_on_4k_path),
		cmocka_unit_test(test_leaf_with_wrong_pfn),
		cmocka_unit_test(test_frozen_entry_under_write_lock),
		cmocka_unit_test(test_map_gpa_without_population),
		cmocka_unit_test(test_zap_cutting_private_2m_leaf),
		cmocka_unit_test(test_free_roots_while_td_runs),
		cmocka_unit_test(test_free_roots_block_fails),
		cmocka_unit_test(test_populate_sept_add_error),
		cmocka_unit_test(test_populate_meets_frozen_or_1g),
		cmocka_unit_test_teardown(test_split_read_lock_demote_busy, mutant_teardown),
		cmocka_unit_test_teardown(test_split_read_lock_errors, mutant_teardown),
		cmocka_unit_test_teardown(test_failed_link_without_rollback_stays_linked,
					  mutant_teardown),
		cmocka_unit_test(test_create_refuses_bad_config),
		cmocka_unit_test(test_iter_refuses_bad_start),
		cmocka_unit_test(test_private_fault_before_finalize),
		cmocka_unit_test(test_nomirror_spurious_efault_and_partial_zap),
		cmocka_unit_test(test_nomirror_unexpected_state),
		cmocka_unit_test(test_nomirror_calls_on_mirror_vm),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
