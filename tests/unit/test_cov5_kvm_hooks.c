/* SPDX-License-Identifier: MIT */
/*
 * The TDX hooks' own guards (src/kvm/tdx_hooks.c) and a few KVM entry
 * points at their edges (coverage round 5, issue 14). The MMUs call each
 * hook only with what the design allows (a table link above 4K with its
 * S-EPT page, a leaf at 4K or, once the TD runs, 2M, a split of a 2M leaf
 * of a running TD); each hook checks it all the same, as KVM's KVM_BUG_ONs
 * do (X1, L7), and a caller that breaks the rule gets the VM killed with
 * the reason traced and nothing issued to the module. These tests are that
 * caller. Also: the flushes with nothing to flush, MapGPA's RETRY chunk of
 * less than a page, the MMU's refusal of a root level it cannot build.
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

#include "host/host_mem.h"
#include "host/host_rcu.h"
#include "kvm/kvm.h"
#include "kvm/mmu.h"
#include "kvm/mmu_page.h"
#include "kvm/spte.h"
#include "kvm/tdp_iter.h"
#include "kvm/tdp_mmu.h"
#include "kvm/tdx_hooks.h"
#include "tdx/tdx_module.h"

#include "kvm_fixture.h"

#define MB (1ULL << 20)

static void vm_create(struct kvm_fx *vm, bool finalize)
{
	static const uint64_t slot[] = { 0, 4 * MB, 0, 0 };

	kvm_fx_create(vm, 2, 48, 1, slot, true);
	if (finalize)
		assert_int_equal(kvm_tdx_finalize_vm(vm->kvm), 0);
}

/* A frame for an S-EPT page, as the MMUs take them from the cache. */
static hpa_t new_spt(struct kvm_fx *vm)
{
	pfn_t pfn;

	assert_int_equal(host_mem_alloc_frame(vm->hm, &pfn), 0);
	return pfn_to_hpa(pfn);
}

/* ---- the hooks' guards ---- */

/* SEPT.ADD links a table: above 4K, with its S-EPT page. */
static void test_link_needs_a_table_level_and_page(void **state)
{
	struct kvm_fx vm;
	hpa_t spt;

	(void)state;
	vm_create(&vm, true);
	spt = new_spt(&vm);
	kvm_fx_snap(&vm);
	assert_int_equal(tdx_sept_link_private_spt(vm.kvm, 0, PG_LEVEL_4K, spt), -EIO);
	kvm_fx_assert_bugged(&vm, "kvm_vm_bugged: link_private_spt: gfn 0x0 level 1 without a page");
	assert_int_equal(tdx_sept_link_private_spt(vm.kvm, 0x200, PG_LEVEL_2M, 0), -EIO);
	assert_true(kvm_fx_trace_has(&vm, "link_private_spt: gfn 0x200 level 2 without a page"));
	assert_int_equal(kvm_fx_delta(&vm, -1, false), 0);
	host_mem_free_frame(vm.hm, hpa_to_pfn(spt));
	kvm_fx_destroy_dead(&vm);
}

/* A leaf is 4K, or 2M once the TD runs (PAGE.ADD is 4K-only, hugepages
 * ref §1.3): a 2M leaf before finalize, or a 1G leaf, is a bug. */
static void test_leaf_levels(void **state)
{
	struct kvm_fx vm;
	pfn_t pfn;

	(void)state;
	vm_create(&vm, false);
	pfn = kvm_fx_slot_pfn(&vm, 0x200000);
	kvm_fx_snap(&vm);
	assert_int_equal(tdx_sept_set_private_spte(vm.kvm, 0x200, PG_LEVEL_2M, pfn), -EIO);
	kvm_fx_assert_bugged(&vm, "kvm_vm_bugged: set_private_spte: level 2");
	assert_int_equal(kvm_fx_delta(&vm, -1, false), 0);
	kvm_fx_destroy_dead(&vm);

	vm_create(&vm, true);
	kvm_fx_snap(&vm);
	assert_int_equal(tdx_sept_set_private_spte(vm.kvm, 0, PG_LEVEL_1G, pfn), -EIO);
	kvm_fx_assert_bugged(&vm, "kvm_vm_bugged: set_private_spte: level 3");
	assert_int_equal(kvm_fx_delta(&vm, -1, false), 0);
	kvm_fx_destroy_dead(&vm);
}

/*
 * A removal is of a 4K or a 2M leaf, a 2M one at a 2M-aligned frame. A 1G
 * leaf (never made) is a bug, and KVM gives its frame up (leaked, as for
 * any removal it cannot do: the teardown takes it back); a 2M leaf at an
 * unaligned frame is a bug before any SEAMCALL.
 */
static void test_remove_levels_and_alignment(void **state)
{
	struct kvm_fx vm;
	pfn_t pfn;

	(void)state;
	vm_create(&vm, true);
	pfn = kvm_fx_slot_pfn(&vm, 0x200000);
	kvm_fx_snap(&vm);
	assert_int_equal(tdx_sept_remove_private_spte(vm.kvm, 0x200, PG_LEVEL_2M, pfn + 1), -EIO);
	kvm_fx_assert_bugged(&vm, "kvm_vm_bugged: remove_private_spte: 2M leaf gpa 0x200000 at "
			   "unaligned pfn");
	assert_int_equal(atomic_load(&vm.kvm->frames_leaked), 0);
	assert_int_equal(tdx_sept_remove_private_spte(vm.kvm, 0, PG_LEVEL_1G, pfn), -EIO);
	assert_true(kvm_fx_trace_has(&vm, "kvm_vm_bugged: remove_private_spte: level 3"));
	assert_true(kvm_fx_trace_has(&vm, "(large private page)"));
	assert_int_equal(atomic_load(&vm.kvm->frames_leaked), 1);
	assert_int_equal(kvm_fx_delta(&vm, -1, false), 0);
	/* The teardown's RECLAIM finds the frame the host's: it is cleared
	 * and no longer counted. */
	kvm_fx_destroy_dead(&vm);
}

/* DEMOTE splits a 2M leaf of a running TD into a new S-EPT page: any
 * other level, no page, a TD not finalized or without its HKID is a bug. */
static void test_split_guards(void **state)
{
	struct kvm_fx vm;
	hpa_t spt;

	(void)state;
	vm_create(&vm, false);
	spt = new_spt(&vm);
	kvm_fx_snap(&vm);
	assert_int_equal(tdx_sept_split_private_spte(vm.kvm, 0x200, PG_LEVEL_2M, spt), -EIO);
	kvm_fx_assert_bugged(&vm, "kvm_vm_bugged: split_private_spte: gfn 0x200 level 2");
	assert_int_equal(kvm_fx_delta(&vm, -1, false), 0);
	host_mem_free_frame(vm.hm, hpa_to_pfn(spt));
	kvm_fx_destroy_dead(&vm);

	vm_create(&vm, true);
	spt = new_spt(&vm);
	kvm_fx_snap(&vm);
	assert_int_equal(tdx_sept_split_private_spte(vm.kvm, 0, PG_LEVEL_4K, spt), -EIO);
	kvm_fx_assert_bugged(&vm, "kvm_vm_bugged: split_private_spte: gfn 0x0 level 1");
	assert_int_equal(tdx_sept_split_private_spte(vm.kvm, 0x200, PG_LEVEL_2M, 0), -EIO);
	assert_int_equal(kvm_fx_delta(&vm, -1, false), 0);
	/* The HKID released (the memory teardown): a split is a bug too. */
	assert_int_equal(kvm_tdx_teardown_memory(vm.kvm), 0);
	assert_int_equal(tdx_sept_split_private_spte(vm.kvm, 0x200, PG_LEVEL_2M, spt), -EIO);
	host_mem_free_frame(vm.hm, hpa_to_pfn(spt));
	kvm_fx_destroy_dead(&vm);
}

/* ---- flushes with nothing to flush ---- */

/*
 * Without the CPU model's callback no vCPU can hold a shared translation:
 * the shared flush does nothing. Without the HKID no vCPU can run: the
 * remote flush issues no TRACK.
 */
static void test_flushes_with_nothing_to_flush(void **state)
{
	struct kvm_fx vm;
	uint64_t kicks;

	(void)state;
	vm_create(&vm, true);
	assert_null(vm.kvm->flush_shared_tlbs);
	kicks = kvm_stat_read(vm.kvm, tlb_kick);
	kvm_flush_shared_tlbs(vm.kvm);
	assert_int_equal(kvm_stat_read(vm.kvm, tlb_kick), kicks);
	kvm_fx_teardown(&vm);
	assert_false(vm.kvm->hkid_assigned);
	kvm_fx_snap(&vm);
	assert_int_equal(kvm_flush_remote_tlbs(vm.kvm), 0);
	assert_int_equal(kvm_fx_delta(&vm, TDH_MEM_TRACK, false), 0);
	kvm_fx_destroy(&vm);
}

/* ---- MapGPA's chunk, the MMU's root level ---- */

/*
 * The upstream MapGPA answers RETRY after each chunk (kvm->mapgpa_chunk);
 * a chunk of less than a page is one page, never zero (which would make
 * no progress at all).
 */
static void test_map_gpa_chunk_below_a_page(void **state)
{
	struct kvm_fx vm;
	uint64_t resume = 0;
	gpa_t shared;

	(void)state;
	vm_create(&vm, true);
	vm.kvm->mapgpa_chunk = 0x800;
	shared = kvm_fx_shared_gpa(&vm, 0x10000);
	assert_int_equal(kvm_tdx_map_gpa(&vm.kvm->vcpus[0], shared, 4 * PAGE_SIZE, &resume),
			 TDVMCALL_RETRY);
	assert_int_equal(resume, shared + PAGE_SIZE);
	assert_int_equal(kvm_tdx_map_gpa(&vm.kvm->vcpus[0], resume, 3 * PAGE_SIZE, &resume),
			 TDVMCALL_RETRY);
	assert_int_equal(resume, shared + 2 * PAGE_SIZE);
	kvm_fx_destroy(&vm);
}

/* The MMU builds 4- and 5-level roots only; anything else is -EINVAL
 * before anything is allocated. */
static void test_mmu_init_refuses_root_level(void **state)
{
	struct kvm *kvm = calloc(1, sizeof(*kvm));

	(void)state;
	assert_non_null(kvm);
	kvm->root_level = PT64_ROOT_MAX_LEVEL + 1;
	assert_int_equal(kvm_mmu_init(kvm), -EINVAL);
	kvm->root_level = 0;
	assert_int_equal(kvm_mmu_init(kvm), -EINVAL);
	assert_null(kvm->private_root);
	assert_null(kvm->shared_root);
	/* No arena was made: nothing to wait for, nothing live. */
	kvm_mmu_pages_quiesce(kvm);
	assert_int_equal(kvm_mmu_pages_live(kvm), 0);
	free(kvm);
}

/* No allocation of this VM failed on this thread: an -ENOMEM it meets is
 * not an injected one that every retry would meet. */
static void test_enomem_not_hopeless_without_injection(void **state)
{
	struct kvm_fx vm;

	(void)state;
	vm_create(&vm, true);
	assert_false(kvm_enomem_hopeless(vm.kvm));
	kvm_fx_destroy(&vm);
}

/*
 * A page-table page freed twice (at once, or while its deferred free waits
 * for the grace period) is the model's own breakage, which only a mutant
 * or a bug of the model reaches: reported as such (model_broken, the VM
 * killed, exit status 3 through the API), never a crash or a corrupted
 * free list: the second free is dropped.
 */
static void test_double_free_is_model_breakage(void **state)
{
	struct kvm_fx vm;
	struct kvm_mmu_page *sp;
	uint64_t live;

	(void)state;
	vm_create(&vm, false);
	live = kvm_mmu_pages_live(vm.kvm);
	sp = kvm_mmu_alloc_page(vm.kvm, PG_LEVEL_4K, false);
	assert_non_null(sp);
	assert_int_equal(kvm_mmu_pages_live(vm.kvm), live + 1);
	kvm_mmu_free_page(vm.kvm, sp);
	assert_int_equal(kvm_mmu_pages_live(vm.kvm), live);
	assert_false(atomic_load(&vm.kvm->model_broken));
	kvm_mmu_free_page(vm.kvm, sp);
	assert_true(atomic_load(&vm.kvm->model_broken));
	kvm_fx_assert_bugged(&vm, "kvm_vm_bugged: double free of KVM page-table page");
	assert_int_equal(kvm_mmu_pages_live(vm.kvm), live);
	/* The deferred free of a freed page: dropped the same way. */
	kvm_mmu_free_page_rcu(vm.kvm, sp);
	kvm_mmu_pages_quiesce(vm.kvm);
	assert_int_equal(kvm_mmu_pages_live(vm.kvm), live);

	/* Freed again while its grace period runs: dropped too; the deferred
	 * free still happens, once. */
	sp = kvm_mmu_alloc_page(vm.kvm, PG_LEVEL_4K, true);
	assert_non_null(sp);
	host_rcu_read_lock();
	kvm_mmu_free_page_rcu(vm.kvm, sp);
	kvm_mmu_free_page(vm.kvm, sp);
	host_rcu_read_unlock();
	assert_true(kvm_fx_trace_has(&vm, "(level 1, mirror tree)"));
	kvm_mmu_pages_quiesce(vm.kvm);
	assert_int_equal(kvm_mmu_pages_live(vm.kvm), live);
	kvm_fx_destroy_dead(&vm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_link_needs_a_table_level_and_page),
		cmocka_unit_test(test_leaf_levels),
		cmocka_unit_test(test_remove_levels_and_alignment),
		cmocka_unit_test(test_split_guards),
		cmocka_unit_test(test_flushes_with_nothing_to_flush),
		cmocka_unit_test(test_map_gpa_chunk_below_a_page),
		cmocka_unit_test(test_mmu_init_refuses_root_level),
		cmocka_unit_test(test_enomem_not_hopeless_without_injection),
		cmocka_unit_test(test_double_free_is_model_breakage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
