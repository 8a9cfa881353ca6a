/* SPDX-License-Identifier: MIT */
/*
 * Contract 1.1's `vcpu N enter` / `vcpu N leave` through the public API
 * (tdxmmu_vcpu_enter/leave, src/cpu/hold.c): a vCPU held in the TD keeps its
 * TLB epoch, so raw SEAMCALLs (which never kick) meet
 * TDX_TLB_TRACKING_NOT_DONE and TDX_PREVIOUS_TLB_EPOCH_BUSY; KVM's own zaps
 * kick it out and back in and complete; guest actions on it are refused with
 * TDXMMU_EBUSY; tdxmmu_check kicks it out for the check and it is back in
 * the TD when the check returns; destroy works with a vCPU still held.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "api_fixture.h"

#include <string.h>

#include "api/api_internal.h"
#include "cpu/cpu.h"
#include "cpu/cpu_internal.h"
#include "kvm/kvm.h"
#include "kvm/tdx_hooks.h"
#include "tdx/tdx_module.h"
#include "tdxmmu/tdxmmu.h"

static tdxmmu_td *make_td(unsigned vcpus)
{
	struct tdxmmu_td_config cfg;
	tdxmmu_td *td;

	tdxmmu_td_config_init(&cfg);
	cfg.nr_vcpus = vcpus;
	assert_int_equal(tdxmmu_td_create(&cfg, &td), TDXMMU_OK);
	assert_int_equal(tdxmmu_memslot_add(td, 0, 0, 2 << 20), TDXMMU_OK);
	return td;
}

static bool status_is(uint64_t s, uint64_t want)
{
	return tdxmmu_status_class_eq(s, want);
}

static void write_ok(tdxmmu_td *td, unsigned v, uint64_t gpa, uint64_t val)
{
	enum tdxmmu_outcome o;

	assert_int_equal(tdxmmu_vcpu_write(td, v, gpa, val, &o), TDXMMU_OK);
	assert_int_equal(o, TDXMMU_OUTCOME_OK);
}

static bool in_td(tdxmmu_td *td, unsigned v)
{
	return atomic_load(&td->cpu->vcpus[v].in_td);
}

/* The caller errors: before finalize, twice, not held, bad index. */
static void test_enter_leave_errors(void **state)
{
	tdxmmu_td *td = make_td(2);

	(void)state;
	assert_int_equal(tdxmmu_vcpu_enter(td, 0), TDXMMU_ESTATE);
	assert_int_equal(tdxmmu_td_finalize(td), TDXMMU_OK);
	assert_int_equal(tdxmmu_vcpu_enter(td, 2), TDXMMU_EINVAL);
	assert_int_equal(tdxmmu_vcpu_leave(td, 0), TDXMMU_ESTATE);
	assert_int_equal(tdxmmu_vcpu_enter(td, 0), TDXMMU_OK);
	assert_true(in_td(td, 0));
	assert_int_equal(tdxmmu_vcpu_enter(td, 0), TDXMMU_ESTATE);
	assert_int_equal(tdxmmu_vcpu_leave(td, 0), TDXMMU_OK);
	assert_false(in_td(td, 0));
	assert_int_equal(tdxmmu_vcpu_leave(td, 0), TDXMMU_ESTATE);
	/* Enter again after leave. */
	assert_int_equal(tdxmmu_vcpu_enter(td, 0), TDXMMU_OK);
	assert_int_equal(tdxmmu_vcpu_leave(td, 0), TDXMMU_OK);
	assert_int_equal(tdxmmu_vcpu_enter(NULL, 0), TDXMMU_EINVAL);
	assert_int_equal(tdxmmu_vcpu_leave(NULL, 0), TDXMMU_EINVAL);
	api_fx_destroy_clean(td);
}

/* A held vCPU runs no guest action; the other vCPU does. */
static void test_guest_action_on_held_vcpu(void **state)
{
	tdxmmu_td *td = make_td(2);
	enum tdxmmu_outcome o = TDXMMU_OUTCOME_OK;
	uint64_t val = 0, status = 0;

	(void)state;
	assert_int_equal(tdxmmu_td_finalize(td), TDXMMU_OK);
	assert_int_equal(tdxmmu_vcpu_enter(td, 1), TDXMMU_OK);
	assert_int_equal(tdxmmu_vcpu_read(td, 1, 0x1000, &val, &o), TDXMMU_EBUSY);
	assert_non_null(strstr(tdxmmu_last_error(), "held in the TD"));
	assert_int_equal(tdxmmu_vcpu_write(td, 1, 0x1000, 1, &o), TDXMMU_EBUSY);
	assert_int_equal(tdxmmu_vcpu_accept(td, 1, 0x1000, 0, &status), TDXMMU_EBUSY);
	assert_int_equal(tdxmmu_vcpu_mapgpa(td, 1, 0x1000, 4096, &o), TDXMMU_EBUSY);
	write_ok(td, 0, 0x1000, 7);
	assert_int_equal(tdxmmu_vcpu_leave(td, 1), TDXMMU_OK);
	assert_int_equal(tdxmmu_vcpu_read(td, 1, 0x1000, &val, &o), TDXMMU_OK);
	assert_int_equal(o, TDXMMU_OUTCOME_OK);
	assert_int_equal(val, 7);
	api_fx_destroy_clean(td);
}

/*
 * Raw SEAMCALLs never kick: with vCPU 0 held in the TD, a raw TRACK leaves
 * it on the old epoch, so a raw REMOVE of a blocked page answers
 * TDX_TLB_TRACKING_NOT_DONE and a second TRACK TDX_PREVIOUS_TLB_EPOCH_BUSY.
 * Once it leaves (a TD exit), the epoch moves on and both succeed.
 */
static void test_held_vcpu_keeps_epoch(void **state)
{
	tdxmmu_td *td = make_td(1);

	(void)state;
	assert_int_equal(tdxmmu_td_finalize(td), TDXMMU_OK);
	write_ok(td, 0, 0x3000, 0x33);
	assert_int_equal(tdxmmu_vcpu_enter(td, 0), TDXMMU_OK);
	assert_true(status_is(api_fx_raw(td, "TDH.MEM.RANGE.BLOCK", 0x3000, 0, 0), TDX_SUCCESS));
	assert_true(status_is(api_fx_raw(td, "TDH.MEM.TRACK", 0, 0, 0), TDX_SUCCESS));
	assert_true(status_is(api_fx_raw(td, "TDH.MEM.PAGE.REMOVE", 0x3000, 0, 0),
			      TDX_TLB_TRACKING_NOT_DONE));
	assert_true(status_is(api_fx_raw(td, "TDH.MEM.TRACK", 0, 0, 0), TDX_PREVIOUS_TLB_EPOCH_BUSY));
	assert_true(in_td(td, 0));
	assert_int_equal(tdxmmu_vcpu_leave(td, 0), TDXMMU_OK);
	assert_true(status_is(api_fx_raw(td, "TDH.MEM.PAGE.REMOVE", 0x3000, 0, 0), TDX_SUCCESS));
	/* KVM's tables still map the page the host took: destroy's teardown
	 * copes (the frame came back to the host by the raw REMOVE). */
	api_fx_destroy_clean(td);
}

/*
 * KVM's own zap of a private page does TRACK and kicks: the held vCPU exits
 * and enters again in the new epoch, so KVM's REMOVE succeeds and the VM
 * stays alive. After the zap returns the vCPU is back in the TD.
 */
static void test_kvm_zap_kicks_held_vcpu(void **state)
{
	tdxmmu_td *td = make_td(2);
	uint64_t entries, kicks;
	enum tdxmmu_outcome o;
	uint64_t val = 1;

	(void)state;
	assert_int_equal(tdxmmu_td_finalize(td), TDXMMU_OK);
	write_ok(td, 1, 0x5000, 0x55);
	assert_int_equal(tdxmmu_vcpu_enter(td, 0), TDXMMU_OK);
	entries = atomic_load(&td->cpu->vcpus[0].nr_entries);
	kicks = atomic_load(&td->cpu->vcpus[0].nr_kick_exits);
	assert_int_equal(tdxmmu_host_zap(td, 0x5000, 4096, TDXMMU_ALIAS_PRIVATE), TDXMMU_OK);
	assert_false(kvm_is_bugged(td->kvm));
	assert_true(in_td(td, 0));
	assert_true(atomic_load(&td->cpu->vcpus[0].nr_kick_exits) > kicks);
	assert_true(atomic_load(&td->cpu->vcpus[0].nr_entries) > entries);
	/* A MapGPA from the other vCPU (its remote flush kicks too). */
	write_ok(td, 1, 0x6000, 0x66);
	assert_int_equal(tdxmmu_vcpu_mapgpa(td, 1, tdxmmu_td_shared_bit(td) | 0x6000,
					    4096, &o), TDXMMU_OK);
	assert_int_equal(o, TDXMMU_OUTCOME_OK);
	assert_true(in_td(td, 0));
	assert_int_equal(tdxmmu_vcpu_read(td, 1, 0x5000, &val, &o), TDXMMU_OK);
	assert_int_equal(o, TDXMMU_OUTCOME_OK);
	assert_int_equal(val, 0); /* a fresh page */
	assert_int_equal(tdxmmu_check(td, NULL, 0), 0);
	assert_int_equal(tdxmmu_vcpu_leave(td, 0), TDXMMU_OK);
	api_fx_destroy_clean(td);
}

/* tdxmmu_check kicks the held vCPU out and it is back when check returns. */
static void test_check_with_held_vcpu(void **state)
{
	tdxmmu_td *td = make_td(2);
	char report[512];

	(void)state;
	assert_int_equal(tdxmmu_td_finalize(td), TDXMMU_OK);
	write_ok(td, 0, 0x1000, 1);
	assert_int_equal(tdxmmu_vcpu_enter(td, 0), TDXMMU_OK);
	assert_int_equal(tdxmmu_vcpu_enter(td, 1), TDXMMU_OK);
	for (int i = 0; i < 20; i++) {
		assert_int_equal(tdxmmu_check(td, report, sizeof(report)), 0);
		assert_true(in_td(td, 0));
		assert_true(in_td(td, 1));
	}
	/* Still holding the epoch after the check: raw TRACK, then REMOVE
	 * of a blocked page is refused. */
	assert_true(status_is(api_fx_raw(td, "TDH.MEM.RANGE.BLOCK", 0x1000, 0, 0), TDX_SUCCESS));
	assert_true(status_is(api_fx_raw(td, "TDH.MEM.TRACK", 0, 0, 0), TDX_SUCCESS));
	assert_true(status_is(api_fx_raw(td, "TDH.MEM.PAGE.REMOVE", 0x1000, 0, 0),
			      TDX_TLB_TRACKING_NOT_DONE));
	assert_int_equal(tdxmmu_vcpu_leave(td, 0), TDXMMU_OK);
	assert_int_equal(tdxmmu_vcpu_leave(td, 1), TDXMMU_OK);
	assert_true(status_is(api_fx_raw(td, "TDH.MEM.RANGE.UNBLOCK", 0x1000, 0, 0), TDX_SUCCESS));
	assert_int_equal(tdxmmu_check(td, NULL, 0), 0);
	api_fx_destroy_clean(td);
}

/* Destroy with vCPUs still held: they leave first, nothing leaks. */
static void test_destroy_with_held_vcpu(void **state)
{
	tdxmmu_td *td = make_td(3);

	(void)state;
	assert_int_equal(tdxmmu_td_finalize(td), TDXMMU_OK);
	write_ok(td, 2, 0x2000, 2);
	assert_int_equal(tdxmmu_vcpu_enter(td, 0), TDXMMU_OK);
	assert_int_equal(tdxmmu_vcpu_enter(td, 2), TDXMMU_OK);
	api_fx_destroy_clean(td);
}

/* A dead VM: enter is refused (KVM refuses KVM_RUN); a held vCPU stays
 * outside once the VM died, leave still lets it go, destroy works. */
static void test_hold_dead_vm(void **state)
{
	tdxmmu_td *td = make_td(2);
	enum tdxmmu_outcome o = TDXMMU_OUTCOME_OK;
	uint64_t val;

	(void)state;
	assert_int_equal(tdxmmu_td_finalize(td), TDXMMU_OK);
	assert_int_equal(tdxmmu_vcpu_enter(td, 0), TDXMMU_OK);
	atomic_store(&td->kvm->bugged, true);
	assert_int_equal(tdxmmu_vcpu_enter(td, 1), TDXMMU_EIO);
	/* A kick makes the held vCPU exit; it cannot come back. */
	td->kvm->kick_all_vcpus(td->kvm);
	assert_false(in_td(td, 0));
	assert_int_equal(tdxmmu_check(td, NULL, 0) >= 0, true);
	assert_int_equal(tdxmmu_vcpu_read(td, 1, 0x1000, &val, &o), TDXMMU_OK);
	assert_int_equal(o, TDXMMU_OUTCOME_DEAD);
	assert_int_equal(tdxmmu_vcpu_leave(td, 0), TDXMMU_EIO);
	assert_int_equal(tdxmmu_vcpu_leave(td, 0), TDXMMU_ESTATE);
	atomic_store(&td->kvm->bugged, false);
	api_fx_destroy_clean(td);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_enter_leave_errors),
		cmocka_unit_test(test_guest_action_on_held_vcpu),
		cmocka_unit_test(test_held_vcpu_keeps_epoch),
		cmocka_unit_test(test_kvm_zap_kicks_held_vcpu),
		cmocka_unit_test(test_check_with_held_vcpu),
		cmocka_unit_test(test_destroy_with_held_vcpu),
		cmocka_unit_test(test_hold_dead_vm),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
