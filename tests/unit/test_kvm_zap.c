/* SPDX-License-Identifier: MIT */
/*
 * KVM's zaps by cause (src/kvm/kvm_zap.c, kvm-tdx-mmu.md §8.1 E4 column) on
 * a real TD: the MMU notifier keeps private pages and zaps shared ones, a
 * memslot delete removes both aliases and frees the slot (or, when a private
 * page cannot be removed, keeps it), kvm_zap_gfn_range batches private
 * removals (N BLOCK, 1 TRACK, N REMOVE), every zap keeps SPTE_SHARED_MASK and
 * touches present leaves only, and a zap of nothing costs nothing. The CPU
 * model's callbacks are replaced by counters (kvm->cpu points to the
 * fixture: kvm_fx_count_callbacks()).
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
#include "kvm/kvm.h"
#include "kvm/spte.h"
#include "kvm/tdp_mmu.h"
#include "tdx/tdx_module.h"

#include "kvm_fixture.h"

#define MB (1ULL << 20)

/* Memslot i = (base, size) bytes from `slots`, ended by size 0. */
static void vm_create_slots(struct kvm_fx *vm, bool finalize, const uint64_t *slots)
{
	kvm_fx_create(vm, 7, 48, 1, slots, true);
	kvm_fx_count_callbacks(vm);
	if (finalize)
		assert_int_equal(kvm_tdx_finalize_vm(vm->kvm), 0);
}

static uint64_t delta(struct kvm_fx *vm, int leaf)
{
	return kvm_fx_delta(vm, leaf, false);
}

static gfn_t gfn(gpa_t gpa)
{
	return gpa >> PAGE_SHIFT;
}

static int ept(struct kvm_fx *vm, gpa_t gpa)
{
	return kvm_tdx_handle_ept_violation(&vm->kvm->vcpus[0], gpa);
}

static void to_shared(struct kvm_fx *vm, gpa_t gpa, uint64_t size)
{
	uint64_t resume;

	assert_int_equal(kvm_tdx_map_gpa(&vm->kvm->vcpus[0], kvm_fx_shared_gpa(vm, gpa), size,
					 &resume), TDVMCALL_SUCCESS);
}

static uint64_t priv_spte(struct kvm_fx *vm, gpa_t gpa)
{
	uint64_t p;

	kvm_tdp_mmu_read_4k(vm->kvm, gfn(gpa), &p, NULL);
	return p;
}

static uint64_t shared_spte(struct kvm_fx *vm, gpa_t gpa)
{
	uint64_t s;

	kvm_tdp_mmu_read_4k(vm->kvm, gfn(gpa), NULL, &s);
	return s;
}

/* A private page with guest data (P, NP), PENDING in the S-EPT. */
static void map_private(struct kvm_fx *vm, gpa_t gpa)
{
	assert_int_equal(ept(vm, gpa), RET_PF_FIXED);
	host_frame_fill(vm->hm, kvm_fx_slot_pfn(vm, gpa), 0xaa, vm->kvm->hkid);
	assert_int_equal(kvm_fx_sept_state(vm, gpa, 0), SEPT_PENDING);
}

/* A shared page mapped (NP|S, P|S) with host-visible data. */
static void map_shared(struct kvm_fx *vm, gpa_t gpa)
{
	to_shared(vm, gpa, PAGE_SIZE);
	assert_int_equal(ept(vm, kvm_fx_shared_gpa(vm, gpa)), RET_PF_FIXED);
	host_frame_fill(vm->hm, kvm_fx_slot_pfn(vm, gpa), 0x55, HOST_KEYID_SHARED);
}

static void expect_private_present(struct kvm_fx *vm, gpa_t gpa)
{
	uint64_t p = priv_spte(vm, gpa);

	assert_true(is_shadow_present_pte(p));
	assert_int_equal(spte_to_pfn(p), kvm_fx_slot_pfn(vm, gpa));
	assert_int_equal(kvm_fx_sept_state(vm, gpa, 0), SEPT_PENDING);
	assert_int_equal(host_frame_keyid(vm->hm, kvm_fx_slot_pfn(vm, gpa)), vm->kvm->hkid);
}

/* Removed: NP in the mirror, FREE in the S-EPT, the frame cleared. */
static void expect_private_removed(struct kvm_fx *vm, gpa_t gpa, pfn_t pfn)
{
	assert_int_equal(priv_spte(vm, gpa), SHADOW_NONPRESENT_VALUE);
	assert_int_equal(kvm_fx_sept_state(vm, gpa, 0), SEPT_FREE);
	assert_int_equal(host_frame_keyid(vm->hm, pfn), HOST_KEYID_SHARED);
	assert_true(host_frame_is_zero(vm->hm, pfn));
}

/* ---- MMU notifier: shared zapped (S kept), private kept ---- */

static void test_notifier_keeps_private(void **state)
{
	static const uint64_t slot[] = { 0, 4 * MB, 0, 0 };
	struct kvm_fx vm;

	(void)state;
	vm_create_slots(&vm, true, slot);
	for (gpa_t g = 0x10000; g < 0x14000; g += PAGE_SIZE)
		map_private(&vm, g);
	for (gpa_t g = 0x20000; g < 0x24000; g += PAGE_SIZE)
		map_shared(&vm, g);
	to_shared(&vm, 0x30000, PAGE_SIZE); /* NP|S, NP|S */

	kvm_fx_snap(&vm);
	assert_int_equal(kvm_mmu_notifier_invalidate(vm.kvm, 0, gfn(4 * MB)), 0);
	/* No private SEAMCALL; one remote flush for the shared zap, which
	 * asks every vCPU to flush its shared translations. */
	assert_int_equal(delta(&vm, TDH_MEM_RANGE_BLOCK), 0);
	assert_int_equal(delta(&vm, TDH_MEM_PAGE_REMOVE), 0);
	assert_int_equal(delta(&vm, TDH_MEM_TRACK), 1);
	assert_int_equal(delta(&vm, -1), 1);
	assert_int_equal(vm.shared_flushes, 1);
	assert_int_equal(kvm_fx_seq_delta(&vm), 4);
	for (gpa_t g = 0x10000; g < 0x14000; g += PAGE_SIZE)
		expect_private_present(&vm, g);
	for (gpa_t g = 0x20000; g < 0x24000; g += PAGE_SIZE) {
		assert_int_equal(shared_spte(&vm, g), SHADOW_NONPRESENT_VALUE | SPTE_SHARED_MASK);
		assert_int_equal(priv_spte(&vm, g), SHADOW_NONPRESENT_VALUE | SPTE_SHARED_MASK);
		/* The host's page is the host's: the data is still there and a
		 * shared refault maps it again. */
		assert_false(host_frame_is_zero(vm.hm, kvm_fx_slot_pfn(&vm, g)));
	}
	assert_int_equal(shared_spte(&vm, 0x30000), SHADOW_NONPRESENT_VALUE | SPTE_SHARED_MASK);
	assert_int_equal(ept(&vm, kvm_fx_shared_gpa(&vm, 0x20000)), RET_PF_FIXED);

	/* Nothing present in the range (private pages only, or nothing): no
	 * SEAMCALL, no flush, no change. */
	kvm_fx_snap(&vm);
	assert_int_equal(kvm_mmu_notifier_invalidate(vm.kvm, gfn(0x10000), gfn(0x14000)), 0);
	assert_int_equal(kvm_mmu_notifier_invalidate(vm.kvm, gfn(0x21000), gfn(0x24000)), 0);
	assert_int_equal(kvm_mmu_notifier_invalidate(vm.kvm, gfn(64 * MB), gfn(65 * MB)), 0);
	assert_int_equal(kvm_mmu_notifier_invalidate(vm.kvm, 5, 5), 0);
	assert_int_equal(delta(&vm, -1), 0);
	assert_int_equal(kvm_fx_seq_delta(&vm), 0);
	assert_int_equal(vm.shared_flushes + vm.kicks, 0);
	fflush(vm.trace_f);
	assert_non_null(strstr(vm.trace, "kvm_unmap_gfn_range: start 0x0 end 0x400 shared zapped 4"));
	kvm_fx_destroy(&vm);
}

/* ---- kvm_zap_gfn_range: batching, S kept, aliases ---- */

static void test_zap_range_batching(void **state)
{
	enum { N = 8 };
	static const uint64_t slot[] = { 0, 4 * MB, 0, 0 };
	struct kvm_fx vm;
	pfn_t pfn[N];

	(void)state;
	vm_create_slots(&vm, true, slot);
	for (int i = 0; i < N; i++) {
		map_private(&vm, 0x40000 + (gpa_t)i * 3 * PAGE_SIZE);
		pfn[i] = kvm_fx_slot_pfn(&vm, 0x40000 + (gpa_t)i * 3 * PAGE_SIZE);
	}
	map_shared(&vm, 0x41000);

	/* Private alias only: N BLOCK, 1 TRACK, N REMOVE (+ N WBINVD); the
	 * shared page in the middle of the range stays. */
	kvm_fx_snap(&vm);
	assert_int_equal(kvm_zap_gfn_range(vm.kvm, gfn(0x40000), gfn(0x80000), true, false), 0);
	assert_int_equal(delta(&vm, TDH_MEM_RANGE_BLOCK), N);
	assert_int_equal(delta(&vm, TDH_MEM_TRACK), 1);
	assert_int_equal(delta(&vm, TDH_MEM_PAGE_REMOVE), N);
	assert_int_equal(delta(&vm, TDH_PHYMEM_PAGE_WBINVD), N);
	assert_int_equal(delta(&vm, -1), 3 * N + 1);
	assert_int_equal(kvm_fx_seq_delta(&vm), N);
	assert_int_equal(vm.shared_flushes, 1);
	for (int i = 0; i < N; i++)
		expect_private_removed(&vm, 0x40000 + (gpa_t)i * 3 * PAGE_SIZE, pfn[i]);
	assert_true(is_shadow_present_pte(shared_spte(&vm, 0x41000)));
	/* Zap keeps S: the private NP|S entry of the shared page untouched. */
	assert_int_equal(priv_spte(&vm, 0x41000), SHADOW_NONPRESENT_VALUE | SPTE_SHARED_MASK);

	/* Shared alias: P|S -> NP|S, no per-leaf SEAMCALL, one flush. */
	kvm_fx_snap(&vm);
	assert_int_equal(kvm_zap_gfn_range(vm.kvm, gfn(0x40000), gfn(0x80000), false, true), 0);
	assert_int_equal(delta(&vm, TDH_MEM_TRACK), 1);
	assert_int_equal(delta(&vm, -1), 1);
	assert_int_equal(shared_spte(&vm, 0x41000), SHADOW_NONPRESENT_VALUE | SPTE_SHARED_MASK);
	assert_int_equal(priv_spte(&vm, 0x41000), SHADOW_NONPRESENT_VALUE | SPTE_SHARED_MASK);

	/* Refault: a new AUG (the old content is gone), and the shared alias
	 * maps the host frame again. */
	kvm_fx_snap(&vm);
	assert_int_equal(ept(&vm, 0x40000), RET_PF_FIXED);
	assert_int_equal(delta(&vm, TDH_MEM_PAGE_AUG), 1);
	assert_int_equal(ept(&vm, kvm_fx_shared_gpa(&vm, 0x41000)), RET_PF_FIXED);
	assert_int_equal(ept(&vm, 0x41000), RET_PF_RETRY); /* still shared */

	/* Both aliases in one call. */
	kvm_fx_snap(&vm);
	assert_int_equal(kvm_zap_gfn_range(vm.kvm, gfn(0x40000), gfn(0x42000), true, true), 0);
	assert_int_equal(delta(&vm, TDH_MEM_RANGE_BLOCK), 1);
	assert_int_equal(delta(&vm, TDH_MEM_PAGE_REMOVE), 1);
	assert_int_equal(priv_spte(&vm, 0x40000), SHADOW_NONPRESENT_VALUE);
	assert_int_equal(shared_spte(&vm, 0x41000), SHADOW_NONPRESENT_VALUE | SPTE_SHARED_MASK);
	assert_false(atomic_load(&vm.kvm->bugged));
	kvm_fx_destroy(&vm);
}

/* ---- ranges partially covering slots ---- */

static void test_zap_partial_slots(void **state)
{
	static const uint64_t slots[] = { 0, 1 * MB, 2 * MB, 1 * MB, 0, 0 };
	static const gpa_t pages[] = { 0xfc000, 0xfd000, 0xfe000, 0xff000,
				       0x200000, 0x201000, 0x202000, 0x203000 };
	struct kvm_fx vm;
	pfn_t pfn[8];

	(void)state;
	vm_create_slots(&vm, true, slots);
	for (int i = 0; i < 8; i++) {
		map_private(&vm, pages[i]);
		pfn[i] = kvm_fx_slot_pfn(&vm, pages[i]);
	}
	/* [1M - 8K, 2M + 8K): the last two pages of slot 0, the hole, the
	 * first two of slot 1. */
	kvm_fx_snap(&vm);
	assert_int_equal(kvm_zap_gfn_range(vm.kvm, gfn(0xfe000), gfn(0x202000), true, true), 0);
	assert_int_equal(delta(&vm, TDH_MEM_RANGE_BLOCK), 4);
	assert_int_equal(delta(&vm, TDH_MEM_TRACK), 1);
	assert_int_equal(delta(&vm, TDH_MEM_PAGE_REMOVE), 4);
	for (int i = 0; i < 8; i++) {
		if (pages[i] >= 0xfe000 && pages[i] < 0x202000)
			expect_private_removed(&vm, pages[i], pfn[i]);
		else
			expect_private_present(&vm, pages[i]);
	}
	/* The notifier on a range reaching past the GPA width's private
	 * half: clamped, nothing to do. */
	kvm_fx_snap(&vm);
	assert_int_equal(kvm_mmu_notifier_invalidate(vm.kvm, 0, ~0ULL), 0);
	assert_int_equal(delta(&vm, -1), 0);
	kvm_fx_destroy(&vm);
}

/* ---- zap of nothing ---- */

static void test_zap_nothing(void **state)
{
	static const uint64_t slot[] = { 0, 2 * MB, 0, 0 };
	struct kvm_fx vm;

	(void)state;
	vm_create_slots(&vm, true, slot);
	map_private(&vm, 0x5000);
	to_shared(&vm, 0x6000, PAGE_SIZE);
	kvm_fx_snap(&vm);
	/* Empty range, no alias, nothing present, no memslot at all; the
	 * private entry of a shared gfn (NP|S) and the shared entry of a
	 * private page (NP) are non-present: untouched. */
	assert_int_equal(kvm_zap_gfn_range(vm.kvm, 9, 9, true, true), 0);
	assert_int_equal(kvm_zap_gfn_range(vm.kvm, 9, 3, true, true), 0);
	assert_int_equal(kvm_zap_gfn_range(vm.kvm, 0, gfn(2 * MB), false, false), 0);
	assert_int_equal(kvm_zap_gfn_range(vm.kvm, gfn(0x6000), gfn(0x7000), true, true), 0);
	assert_int_equal(kvm_zap_gfn_range(vm.kvm, gfn(0x5000), gfn(0x6000), false, true), 0);
	assert_int_equal(kvm_zap_gfn_range(vm.kvm, gfn(32 * MB), gfn(48 * MB), true, true), 0);
	assert_int_equal(delta(&vm, -1), 0);
	assert_int_equal(kvm_fx_seq_delta(&vm), 0);
	assert_int_equal(vm.shared_flushes + vm.kicks, 0);
	expect_private_present(&vm, 0x5000);
	assert_int_equal(priv_spte(&vm, 0x6000), SHADOW_NONPRESENT_VALUE | SPTE_SHARED_MASK);
	assert_int_equal(shared_spte(&vm, 0x6000), SHADOW_NONPRESENT_VALUE | SPTE_SHARED_MASK);
	kvm_fx_destroy(&vm);
}

/* ---- memslot delete: both aliases, then the slot ---- */

static void test_delete_memslot(void **state)
{
	static const uint64_t slots[] = { 0, 1 * MB, 1 * MB, 1 * MB, 0, 0 };
	struct kvm_fx vm;
	uint64_t frames;

	(void)state;
	vm_create_slots(&vm, true, slots);
	map_private(&vm, 0x10000);            /* slot 0: stays */
	for (int i = 0; i < 4; i++)
		map_private(&vm, 0x100000 + (gpa_t)i * PAGE_SIZE);
	map_shared(&vm, 0x110000);
	map_shared(&vm, 0x111000);
	to_shared(&vm, 0x120000, PAGE_SIZE);   /* NP|S, NP|S */
	map_shared(&vm, 0x20000);             /* slot 0: stays */

	assert_int_equal(kvm_delete_memslot(vm.kvm, 7), -ENOENT);
	frames = host_mem_frames_in_use(vm.hm);
	kvm_fx_snap(&vm);
	assert_int_equal(kvm_delete_memslot(vm.kvm, 1), 0);
	/* Private: 4 BLOCK, 1 TRACK, 4 REMOVE; shared: one more flush. */
	assert_int_equal(delta(&vm, TDH_MEM_RANGE_BLOCK), 4);
	assert_int_equal(delta(&vm, TDH_MEM_PAGE_REMOVE), 4);
	assert_int_equal(delta(&vm, TDH_MEM_TRACK), 2);
	assert_false(host_memslot_by_id(vm.slots, 1, NULL));
	assert_false(host_memslot_find(vm.slots, gfn(0x100000), NULL));
	assert_int_equal(host_mem_frames_in_use(vm.hm), frames - gfn(1 * MB));
	for (int i = 0; i < 4; i++) {
		assert_int_equal(priv_spte(&vm, 0x100000 + (gpa_t)i * PAGE_SIZE),
				 SHADOW_NONPRESENT_VALUE);
		assert_int_equal(kvm_fx_sept_state(&vm, 0x100000 + (gpa_t)i * PAGE_SIZE, 0), SEPT_FREE);
	}
	/* S kept on both trees' entries of the shared gfns. */
	assert_int_equal(shared_spte(&vm, 0x110000), SHADOW_NONPRESENT_VALUE | SPTE_SHARED_MASK);
	assert_int_equal(priv_spte(&vm, 0x111000), SHADOW_NONPRESENT_VALUE | SPTE_SHARED_MASK);
	assert_int_equal(shared_spte(&vm, 0x120000), SHADOW_NONPRESENT_VALUE | SPTE_SHARED_MASK);
	/* Slot 0 untouched. */
	expect_private_present(&vm, 0x10000);
	assert_true(is_shadow_present_pte(shared_spte(&vm, 0x20000)));
	/* No memslot any more: private -EFAULT, shared MMIO. */
	assert_int_equal(ept(&vm, 0x100000), -EFAULT);
	assert_int_equal(ept(&vm, kvm_fx_shared_gpa(&vm, 0x110000)), RET_PF_EMULATE);
	assert_int_equal(kvm_delete_memslot(vm.kvm, 1), -ENOENT);
	fflush(vm.trace_f);
	assert_non_null(strstr(vm.trace, "kvm_delete_memslot: id 1 gfn [0x100, 0x200) zapped 6 shared tables freed 0 -> 0"));

	/* Re-added: fresh memory, the S bits still recorded. */
	assert_int_equal(host_memslot_add(vm.slots, 1, gfn(1 * MB), gfn(1 * MB)), 0);
	assert_int_equal(ept(&vm, 0x100000), RET_PF_FIXED);
	assert_int_equal(ept(&vm, kvm_fx_shared_gpa(&vm, 0x110000)), RET_PF_FIXED);
	assert_int_equal(ept(&vm, 0x110000), RET_PF_RETRY);
	kvm_fx_destroy(&vm);
}

/* Before finalize (no vCPU ever ran): REMOVE only, no BLOCK, no TRACK. */
static void test_delete_memslot_before_finalize(void **state)
{
	static const uint64_t slots[] = { 0, 1 * MB, 0, 0 };
	struct kvm_fx vm;
	pfn_t src;

	(void)state;
	vm_create_slots(&vm, false, slots);
	assert_int_equal(host_mem_alloc_frame(vm.hm, &src), 0);
	host_frame_fill(vm.hm, src, 3, HOST_KEYID_SHARED);
	assert_int_equal(kvm_tdx_init_mem_page(vm.kvm, 0x3000, src), 0);
	assert_int_equal(kvm_tdx_init_mem_page(vm.kvm, 0x4000, src), 0);
	kvm_fx_snap(&vm);
	assert_int_equal(kvm_delete_memslot(vm.kvm, 0), 0);
	assert_int_equal(delta(&vm, TDH_MEM_PAGE_REMOVE), 2);
	assert_int_equal(delta(&vm, TDH_PHYMEM_PAGE_WBINVD), 2);
	assert_int_equal(delta(&vm, -1), 4);
	assert_false(host_memslot_by_id(vm.slots, 0, NULL));
	host_mem_free_frame(vm.hm, src);
	kvm_fx_destroy(&vm);
}

/*
 * A private page that cannot be removed is still the TD's: the slot (whose
 * deletion frees its frames) stays, -EIO, the VM bugged. Made here by a vCPU
 * that entered the TD before the BLOCK and never exits: TRACK succeeds, but
 * PAGE.REMOVE finds the block epoch not tracked (the vCPU may still hold the
 * translation).
 */
static void test_delete_memslot_remove_fails(void **state)
{
	static const uint64_t slots[] = { 0, 1 * MB, 0, 0 };
	struct seamcall_regs r = { .rax = TDH_VP_ENTER };
	struct kvm_fx vm;
	uint64_t frames;
	pfn_t pfn;

	(void)state;
	vm_create_slots(&vm, true, slots);
	map_private(&vm, 0x8000);
	pfn = kvm_fx_slot_pfn(&vm, 0x8000);
	r.rcx = vm.kvm->vcpus[0].tdvpr;
	assert_int_equal(seamcall(vm.m, &r), TDX_SUCCESS);

	frames = host_mem_frames_in_use(vm.hm);
	assert_int_equal(kvm_delete_memslot(vm.kvm, 0), -EIO);
	assert_true(atomic_load(&vm.kvm->bugged));
	assert_int_equal(atomic_load(&vm.kvm->frames_leaked), 1);
	/* The slot and its frames stay; the page is still in the TD. */
	assert_true(host_memslot_by_id(vm.slots, 0, NULL));
	assert_int_equal(host_mem_frames_in_use(vm.hm), frames);
	assert_true(host_mem_frame_allocated(vm.hm, pfn));
	assert_int_equal(kvm_fx_sept_state(&vm, 0x8000, 0), SEPT_PENDING_BLOCKED);
	assert_int_equal(host_frame_keyid(vm.hm, pfn), vm.kvm->hkid);

	/* The dead VM: a dead VM refuses further zaps and memslot changes;
	 * its teardown still takes everything back, the page KVM had to give
	 * up on included (RECLAIM once the HKID is released). */
	assert_int_equal(kvm_delete_memslot(vm.kvm, 0), -EIO);
	assert_int_equal(kvm_zap_gfn_range(vm.kvm, 0, 0x100, true, true), -EIO);
	assert_int_equal(kvm_mmu_notifier_invalidate(vm.kvm, 0, 0x100), -EIO);
	tdx_td_exit(vm.m, vm.kvm->vcpus[0].tdvpr);
	kvm_fx_destroy_dead(&vm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_notifier_keeps_private),
		cmocka_unit_test(test_zap_range_batching),
		cmocka_unit_test(test_zap_partial_slots),
		cmocka_unit_test(test_zap_nothing),
		cmocka_unit_test(test_delete_memslot),
		cmocka_unit_test(test_delete_memslot_before_finalize),
		cmocka_unit_test(test_delete_memslot_remove_fails),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
