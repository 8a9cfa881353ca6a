/* SPDX-License-Identifier: MIT */
/*
 * PRIVATE_ZAPPED in the legacy MMU (src/kvm/legacy_zap.c, legacy_fault.c;
 * reference §7.4, §5.6): a zap that keeps private memory issues RANGE.BLOCK
 * per page and one TRACK per rmap walk, keeps the frame in the SPTE and the
 * rmap; a refault issues TRACK then RANGE.UNBLOCK (never PAGE.AUG) and the
 * data is still there; a final removal of a zapped page is PAGE.REMOVE only;
 * teardown with zapped pages is leak-free. BUSY injected by the module is
 * rolled back (the entry stays as it was) and retried.
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
#define NR 16

static void vm_create(struct kvm_fx *vm, uint64_t seed)
{
	static const uint64_t slots[] = { 0, 2 * MB, 4 * MB, 2 * MB, 0, 0 };

	kvm_fx_create_mmu(vm, seed, 48, 1, slots, true, KVM_MMU_LEGACY);
	kvm_fx_count_callbacks(vm);
	assert_int_equal(kvm_tdx_finalize_vm(vm->kvm), 0);
}

static uint64_t delta(struct kvm_fx *vm, int leaf)
{
	return kvm_fx_delta(vm, leaf, false);
}

static int ept(struct kvm_fx *vm, gpa_t gpa)
{
	return kvm_tdx_handle_ept_violation(&vm->kvm->vcpus[0], gpa);
}

static uint64_t priv_spte(struct kvm_fx *vm, gpa_t gpa)
{
	uint64_t p;

	kvm_legacy_mmu_read_4k(vm->kvm, gpa >> PAGE_SHIFT, &p, NULL);
	return p;
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

static bool in_rmap(struct kvm_fx *vm, gpa_t gpa)
{
	bool in;

	kvm_mmu_write_lock(vm->kvm);
	in = legacy_rmap_contains(vm->kvm, gpa >> PAGE_SHIFT,
				  legacy_lookup_4k_sptep(vm->kvm, gpa >> PAGE_SHIFT, true));
	kvm_mmu_write_unlock(vm->kvm);
	return in;
}

/* The guest's data, written straight into the frame with the TD's key (the
 * CPU model is not used here): what survives an unzap. */
static void td_write(struct kvm_fx *vm, gpa_t gpa, uint64_t v)
{
	host_frame_write(vm->hm, kvm_fx_slot_pfn(vm, gpa), 0, &v, sizeof(v), vm->kvm->hkid);
}

static uint64_t td_read(struct kvm_fx *vm, gpa_t gpa)
{
	uint64_t v = 0;

	host_frame_read(vm->hm, kvm_fx_slot_pfn(vm, gpa), 0, &v, sizeof(v), vm->kvm->hkid, NULL);
	return v;
}

static void map_all(struct kvm_fx *vm)
{
	for (int i = 0; i < NR; i++) {
		assert_int_equal(ept(vm, (gpa_t)i * PAGE_SIZE), RET_PF_FIXED);
		td_write(vm, (gpa_t)i * PAGE_SIZE, 0x1000 + (uint64_t)i);
	}
}

/* Zap: N BLOCK, one TRACK, no REMOVE; frames kept in SPTE and rmap. */
static void test_zap_blocks_keeps_frame(void **state)
{
	struct kvm_fx vm;

	(void)state;
	vm_create(&vm, 11);
	map_all(&vm);
	kvm_fx_snap(&vm);
	assert_int_equal(kvm_zap_gfn_range(vm.kvm, 0, NR, true, false), 0);
	assert_int_equal(delta(&vm, TDH_MEM_RANGE_BLOCK), NR);
	assert_int_equal(delta(&vm, TDH_MEM_TRACK), 1);
	assert_int_equal(delta(&vm, TDH_MEM_PAGE_REMOVE), 0);
	assert_int_equal(vm.shared_flushes, 1); /* the one remote flush */
	for (int i = 0; i < NR; i++) {
		gpa_t gpa = (gpa_t)i * PAGE_SIZE;
		uint64_t s = priv_spte(&vm, gpa);

		assert_true(is_private_zapped_spte(s));
		assert_false(s & SPTE_SHARED_MASK);
		assert_true(s & VMX_EPT_SUPPRESS_VE_BIT);
		assert_int_equal(spte_to_pfn(s), kvm_fx_slot_pfn(&vm, gpa));
		assert_int_equal(kvm_fx_sept_state(&vm, gpa, 0), SEPT_PENDING_BLOCKED);
		assert_true(in_rmap(&vm, gpa));
	}
	/* A second zap of zapped pages does nothing at all. */
	kvm_fx_snap(&vm);
	assert_int_equal(kvm_mmu_notifier_invalidate(vm.kvm, 0, NR), 0);
	assert_int_equal(kvm_fx_delta(&vm, -1, false), 0);
	assert_int_equal(kvm_fx_seq_delta(&vm), 0);
	assert_int_equal(audit(&vm), 0);
	kvm_fx_destroy(&vm);
}

/* Refault: TRACK, then UNBLOCK; no AUG; data and frame kept. */
static void test_refault_unblocks(void **state)
{
	struct kvm_fx vm;

	(void)state;
	vm_create(&vm, 12);
	map_all(&vm);
	assert_int_equal(kvm_zap_gfn_range(vm.kvm, 0, NR, true, true), 0);
	for (int i = 0; i < NR; i++) {
		gpa_t gpa = (gpa_t)i * PAGE_SIZE;
		const char *t, *u;

		kvm_fx_snap(&vm);
		assert_int_equal(ept(&vm, gpa), RET_PF_FIXED);
		assert_int_equal(delta(&vm, TDH_MEM_TRACK), 1);
		assert_int_equal(delta(&vm, TDH_MEM_RANGE_UNBLOCK), 1);
		assert_int_equal(delta(&vm, TDH_MEM_PAGE_AUG), 0);
		assert_int_equal(delta(&vm, TDH_MEM_SEPT_ADD), 0);
		assert_int_equal(kvm_fx_sept_state(&vm, gpa, 0), SEPT_PENDING);
		assert_true(is_shadow_present_pte(priv_spte(&vm, gpa)));
		assert_int_equal(spte_to_pfn(priv_spte(&vm, gpa)), kvm_fx_slot_pfn(&vm, gpa));
		assert_int_equal(td_read(&vm, gpa), 0x1000 + (uint64_t)i);
		assert_true(in_rmap(&vm, gpa));
		/* TRACK first, then UNBLOCK (X1 order). */
		fflush(vm.trace_f);
		t = strstr(vm.trace, "TDH.MEM.TRACK");
		u = strstr(vm.trace, "TDH.MEM.RANGE.UNBLOCK");
		assert_non_null(u);
		for (const char *p = t; p && p < u; p = strstr(p + 1, "TDH.MEM.TRACK"))
			t = p;
		assert_true(t && t < u);
		/* Present now: a second fault is spurious. */
		assert_int_equal(ept(&vm, gpa), RET_PF_SPURIOUS);
		/* keep only this page's trace for the next round */
		fclose(vm.trace_f);
		free(vm.trace);
		vm.trace = NULL;
		vm.trace_f = open_memstream(&vm.trace, &vm.trace_len);
		vm.kvm->trace = vm.trace_f;
	}
	assert_int_equal(audit(&vm), 0);
	kvm_fx_destroy(&vm);
}

/* Final removal of zapped pages: PAGE.REMOVE only (memslot deletion, then
 * MapGPA(shared) on the other slot). */
static void test_removal_from_zapped(void **state)
{
	struct kvm_fx vm;
	uint64_t resume;

	(void)state;
	vm_create(&vm, 13);
	map_all(&vm);
	for (int i = 0; i < 4; i++)
		assert_int_equal(ept(&vm, 4 * MB + (gpa_t)i * PAGE_SIZE), RET_PF_FIXED);
	assert_int_equal(kvm_zap_gfn_range(vm.kvm, 0, (6 * MB) >> PAGE_SHIFT, true, true), 0);

	kvm_fx_snap(&vm);
	assert_int_equal(kvm_delete_memslot(vm.kvm, 0), 0);
	assert_int_equal(delta(&vm, TDH_MEM_PAGE_REMOVE), NR);
	assert_int_equal(delta(&vm, TDH_MEM_RANGE_BLOCK), 0);
	assert_int_equal(delta(&vm, TDH_MEM_TRACK), 0);
	assert_false(host_memslot_by_id(vm.slots, 0, NULL));

	kvm_fx_snap(&vm);
	assert_int_equal(kvm_tdx_map_gpa(&vm.kvm->vcpus[0], kvm_fx_shared_gpa(&vm, 4 * MB),
					 4 * PAGE_SIZE, &resume), TDVMCALL_SUCCESS);
	assert_int_equal(delta(&vm, TDH_MEM_PAGE_REMOVE), 4);
	assert_int_equal(delta(&vm, TDH_MEM_RANGE_BLOCK), 0);
	for (int i = 0; i < 4; i++) {
		gpa_t gpa = 4 * MB + (gpa_t)i * PAGE_SIZE;

		assert_int_equal(priv_spte(&vm, gpa), SHADOW_NONPRESENT_VALUE | SPTE_SHARED_MASK);
		assert_int_equal(kvm_fx_sept_state(&vm, gpa, 0), SEPT_FREE);
	}
	assert_int_equal(legacy_rmap_nr_entries(vm.kvm), 0);
	assert_int_equal(audit(&vm), 0);
	kvm_fx_destroy(&vm);
}

/* Teardown with zapped and present pages: zapped ones get REMOVE only,
 * present ones BLOCK + (one) TRACK + REMOVE; nothing leaks (checked by
 * kvm_fx_destroy: frames, page-table pages, module pages). */
static void test_teardown_with_zapped(void **state)
{
	struct kvm_fx vm;

	(void)state;
	vm_create(&vm, 14);
	map_all(&vm);
	assert_int_equal(kvm_zap_gfn_range(vm.kvm, 0, NR / 2, true, true), 0);
	kvm_fx_snap(&vm);
	kvm_fx_teardown(&vm);
	assert_int_equal(delta(&vm, TDH_MEM_RANGE_BLOCK), NR / 2);
	assert_int_equal(delta(&vm, TDH_MEM_TRACK), 1);
	assert_int_equal(delta(&vm, TDH_MEM_PAGE_REMOVE), NR);
	assert_null(vm.kvm->private_root);
	assert_null(vm.kvm->shared_root);
	kvm_fx_destroy(&vm);
}

/* BUSY from the module (injected at 40%): every fault, link and unblock
 * that answers BUSY is undone and retried; at the end every page is mapped
 * or zapped exactly as asked, the rmap and the S-EPT agree. */
static void test_busy_rollback(void **state)
{
	struct kvm_fx vm;
	uint64_t busy0;

	(void)state;
	vm_create(&vm, 15);
	busy0 = kvm_stat_read(vm.kvm, retry_busy);
	tdx_module_inject_busy(vm.m, 400000);
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 64; i++) {
			gpa_t gpa = (gpa_t)i * PAGE_SIZE;
			int ret;

			for (int tries = 0; (ret = ept(&vm, gpa)) == RET_PF_RETRY; tries++) {
				/* a RETRY left the entry as it was */
				uint64_t s = priv_spte(&vm, gpa);

				assert_true(round ? is_private_zapped_spte(s)
						  : s == SHADOW_NONPRESENT_VALUE);
				assert_true(tries < 1000);
			}
			assert_int_equal(ret, RET_PF_FIXED);
			assert_int_equal(kvm_fx_sept_state(&vm, gpa, 0), SEPT_PENDING);
		}
		assert_false(atomic_load(&vm.kvm->bugged));
		assert_int_equal(audit(&vm), 0);
		/* zaps retry BLOCK themselves: never rolled back */
		assert_int_equal(kvm_zap_gfn_range(vm.kvm, 0, 64, true, true), 0);
		for (int i = 0; i < 64; i++)
			assert_int_equal(kvm_fx_sept_state(&vm, (gpa_t)i * PAGE_SIZE, 0),
					 SEPT_PENDING_BLOCKED);
	}
	assert_true(kvm_stat_read(vm.kvm, retry_busy) > busy0);
	assert_true(tdx_module_calls(vm.m, TDH_MEM_RANGE_UNBLOCK) > 128);
	assert_int_equal(legacy_rmap_nr_entries(vm.kvm), 64);
	tdx_module_inject_busy(vm.m, 0);
	kvm_fx_destroy(&vm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_zap_blocks_keeps_frame),
		cmocka_unit_test(test_refault_unblocks),
		cmocka_unit_test(test_removal_from_zapped),
		cmocka_unit_test(test_teardown_with_zapped),
		cmocka_unit_test(test_busy_rollback),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
