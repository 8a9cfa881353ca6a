/* SPDX-License-Identifier: MIT */
/*
 * KVM's mutants (explore/mutant.h) where one thread can show them: each
 * knob removes a guard of the design, and `tdxmmu explore --mutant=NAME`
 * finds the race the guard exists for. Here, what a single thread sees:
 *
 *  - no-track: a private zap of a finalized TD issues BLOCK and REMOVE with
 *    no TRACK between them; the module refuses the REMOVE and KVM bugs the
 *    VM (with the guard: test_kvm_zap.c, 1 TRACK and no bug);
 *  - no-kick: TRACK is issued, but KVM kicks no vCPU; the shared-EPT flush
 *    request still reaches the CPU model's callback (which, under the
 *    mutant, only sets the request);
 *  - mapgpa-read-lock, legacy-read-lock, plain-spte-write: alone, a thread
 *    meets no race, so the result must be exactly the guarded one, and
 *    nothing may abort (the lock-mode assertions, live in Debug builds,
 *    let the mutants through; the race itself is exploration's to find).
 *
 * no-freeze and no-rcu have tests of their own with real threads
 * (test_kvm_freeze_race.c, test_kvm_rcu.c). The mutant mask is
 * process-wide: each test clears it before it returns.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>

#include "explore/mutant.h"
#include "kvm/kvm.h"
#include "kvm/spte.h"
#include "kvm/tdp_mmu.h"
#include "kvm/mmu_legacy.h"
#include "tdx/tdx_module.h"

#include "kvm_fixture.h"

#define MB (1ULL << 20)

static const uint64_t one_slot[] = { 0, 4 * MB, 0, 0 };

static void mutant_set(enum mutant m)
{
	atomic_store(&mutant_mask, 1u << m);
}

static int mutant_teardown(void **state)
{
	(void)state;
	atomic_store(&mutant_mask, 0u);
	return 0;
}

static int ept(struct kvm_fx *vm, gpa_t gpa)
{
	return kvm_tdx_handle_ept_violation(&vm->kvm->vcpus[0], gpa);
}

static uint64_t map_gpa(struct kvm_fx *vm, gpa_t gpa, uint64_t size)
{
	uint64_t resume;

	return kvm_tdx_map_gpa(&vm->kvm->vcpus[0], gpa, size, &resume);
}

static void spte_4k(struct kvm_fx *vm, gpa_t gpa, uint64_t *p, uint64_t *s)
{
	if (kvm_is_legacy_mmu(vm->kvm))
		kvm_legacy_mmu_read_4k(vm->kvm, gpa >> PAGE_SHIFT, p, s);
	else
		kvm_tdp_mmu_read_4k(vm->kvm, gpa >> PAGE_SHIFT, p, s);
}

/* ---- no-track ---- */

static void test_no_track_bugs_the_vm(void **state)
{
	struct kvm_fx vm;

	(void)state;
	kvm_fx_create(&vm, 7, 48, 1, one_slot, false);
	kvm_fx_count_callbacks(&vm);
	assert_int_equal(kvm_tdx_finalize_vm(vm.kvm), 0);
	assert_int_equal(ept(&vm, 0x40000), RET_PF_FIXED);

	mutant_set(MUTANT_NO_TRACK);
	kvm_fx_snap(&vm);
	assert_int_equal(kvm_zap_gfn_range(vm.kvm, 0x40, 0x41, true, false), -EIO);
	assert_int_equal(kvm_fx_delta(&vm, TDH_MEM_RANGE_BLOCK, false), 1);
	assert_int_equal(kvm_fx_delta(&vm, TDH_MEM_TRACK, false), 0);
	assert_int_equal(kvm_fx_delta(&vm, TDH_MEM_PAGE_REMOVE, false), 1);
	assert_int_equal(vm.kicks + vm.shared_flushes, 0);
	/* REMOVE refused: KVM_BUG_ON, the page stays the TD's (leaked until
	 * teardown reclaims it). */
	assert_true(atomic_load(&vm.kvm->bugged));
	assert_int_equal(kvm_fx_sept_state(&vm, 0x40000, 0), SEPT_PENDING_BLOCKED);
	atomic_store(&mutant_mask, 0u);
	kvm_fx_destroy_dead(&vm);
}

/* The same zap with the guard on: one TRACK, the page removed. */
static void test_track_guard(void **state)
{
	struct kvm_fx vm;

	(void)state;
	kvm_fx_create(&vm, 7, 48, 1, one_slot, false);
	kvm_fx_count_callbacks(&vm);
	assert_int_equal(kvm_tdx_finalize_vm(vm.kvm), 0);
	assert_int_equal(ept(&vm, 0x40000), RET_PF_FIXED);
	kvm_fx_snap(&vm);
	assert_int_equal(kvm_zap_gfn_range(vm.kvm, 0x40, 0x41, true, false), 0);
	assert_int_equal(kvm_fx_delta(&vm, TDH_MEM_TRACK, false), 1);
	assert_false(atomic_load(&vm.kvm->bugged));
	kvm_fx_destroy(&vm);
}

/* ---- no-kick ---- */

static void test_no_kick(void **state)
{
	struct kvm_fx vm;

	(void)state;
	kvm_fx_create(&vm, 7, 48, 1, one_slot, false);
	kvm_fx_count_callbacks(&vm);
	assert_int_equal(kvm_tdx_finalize_vm(vm.kvm), 0);
	assert_int_equal(ept(&vm, 0x40000), RET_PF_FIXED);
	assert_int_equal(ept(&vm, 0x41000), RET_PF_FIXED);

	/* With the shared-flush callback: the request goes (the CPU model
	 * drops its kick under the mutant), TRACK too, nothing is bugged. */
	mutant_set(MUTANT_NO_KICK);
	kvm_fx_snap(&vm);
	assert_int_equal(kvm_zap_gfn_range(vm.kvm, 0x40, 0x41, true, false), 0);
	assert_int_equal(kvm_fx_delta(&vm, TDH_MEM_TRACK, false), 1);
	assert_int_equal(vm.shared_flushes, 1);
	assert_int_equal(vm.kicks, 0);

	/* Without it, KVM's plain kick after TRACK is what goes. */
	vm.kvm->flush_shared_tlbs = NULL;
	kvm_fx_snap(&vm);
	assert_int_equal(kvm_zap_gfn_range(vm.kvm, 0x41, 0x42, true, false), 0);
	assert_int_equal(kvm_fx_delta(&vm, TDH_MEM_TRACK, false), 1);
	assert_int_equal(vm.kicks, 0);
	atomic_store(&mutant_mask, 0u);

	kvm_fx_snap(&vm);
	assert_int_equal(ept(&vm, 0x42000), RET_PF_FIXED);
	assert_int_equal(kvm_zap_gfn_range(vm.kvm, 0x42, 0x43, true, false), 0);
	assert_int_equal(vm.kicks, 1);
	assert_false(atomic_load(&vm.kvm->bugged));
	kvm_fx_destroy(&vm);
}

/* ---- the lock mutants and plain-spte-write, one thread ---- */

/* A private page converted to shared, faulted through the shared alias,
 * and converted back: every state as with the guard on. */
static void convert_round(struct kvm_fx *vm)
{
	gpa_t shared = kvm_fx_shared_gpa(vm, 0x40000);
	uint64_t p, s;

	assert_int_equal(ept(vm, 0x40000), RET_PF_FIXED);
	assert_int_equal(map_gpa(vm, shared, PAGE_SIZE), TDVMCALL_SUCCESS);
	assert_int_equal(ept(vm, shared), RET_PF_FIXED);
	spte_4k(vm, 0x40000, &p, &s);
	assert_false(is_shadow_present_pte(p));
	assert_true(is_shadow_present_pte(s));
	assert_int_equal(map_gpa(vm, 0x40000, PAGE_SIZE), TDVMCALL_SUCCESS);
	assert_int_equal(ept(vm, 0x40000), RET_PF_FIXED);
	spte_4k(vm, 0x40000, &p, &s);
	assert_true(is_shadow_present_pte(p));
	assert_false(is_shadow_present_pte(s));
	assert_false(atomic_load(&vm->kvm->bugged));
}

static void run_one_thread(enum mutant m, enum kvm_mmu_kind mmu)
{
	struct kvm_fx vm;

	kvm_fx_create_mmu(&vm, 7, 48, 1, one_slot, false, mmu);
	assert_int_equal(kvm_tdx_finalize_vm(vm.kvm), 0);
	mutant_set(m);
	convert_round(&vm);
	atomic_store(&mutant_mask, 0u);
	kvm_fx_destroy(&vm);
}

static void test_mapgpa_read_lock_one_thread(void **state)
{
	(void)state;
	run_one_thread(MUTANT_MAPGPA_READ_LOCK, KVM_MMU_TDP);
}

static void test_legacy_read_lock_one_thread(void **state)
{
	(void)state;
	run_one_thread(MUTANT_LEGACY_READ_LOCK, KVM_MMU_LEGACY);
}

static void test_plain_spte_write_one_thread(void **state)
{
	(void)state;
	run_one_thread(MUTANT_PLAIN_SPTE_WRITE, KVM_MMU_TDP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_no_track_bugs_the_vm, mutant_teardown),
		cmocka_unit_test_teardown(test_track_guard, mutant_teardown),
		cmocka_unit_test_teardown(test_no_kick, mutant_teardown),
		cmocka_unit_test_teardown(test_mapgpa_read_lock_one_thread, mutant_teardown),
		cmocka_unit_test_teardown(test_legacy_read_lock_one_thread, mutant_teardown),
		cmocka_unit_test_teardown(test_plain_spte_write_one_thread, mutant_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
