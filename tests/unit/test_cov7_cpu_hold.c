/* SPDX-License-Identifier: MIT */
/*
 * `vcpu N enter` (cpu_vcpu_hold(), hold.c) on a vCPU that a guest action is
 * running on another thread (coverage round 7, issue 14). cpu.h's contract:
 * -EBUSY, and the vCPU is not held. The other thread's action is stood for
 * white-box by the vCPU's claim (cpu_vcpu_get(): the flag an action takes
 * for its whole length), so the refusal is deterministic. Once the action
 * ends (the claim dropped), the same enter holds the vCPU in the TD and
 * leave lets it go; the VM tears down leak-free.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "cpu/cpu.h"
#include "cpu/cpu_internal.h"
#include "kvm/kvm.h"

#include "kvm_fixture.h"

static void test_hold_while_an_action_runs(void **state)
{
	static const uint64_t slot[] = { 0, 2ULL << 20, 0, 0 };
	struct kvm_fx fx;
	struct cpu *cpu;
	enum tdxmmu_outcome o;
	uint64_t val;

	(void)state;
	kvm_fx_create(&fx, 1, 48, 2, slot, false);
	assert_int_equal(cpu_create(fx.kvm, fx.m, fx.hm, TDXMMU_ACCEPT_AUTO, &cpu), 0);
	assert_int_equal(kvm_tdx_finalize_vm(fx.kvm), 0);

	atomic_store(&cpu->vcpus[1].claimed, true);
	assert_int_equal(cpu_vcpu_hold(cpu, 1), -EBUSY);
	assert_non_null(strstr(cpu_last_error(), "vcpu 1 is running on another thread"));
	assert_false(cpu_vcpu_held(cpu, 1));
	/* The refusal took nothing: the claim is still the other thread's,
	 * and the other vCPU is unaffected. */
	assert_true(atomic_load(&cpu->vcpus[1].claimed));
	assert_int_equal(cpu_guest_write(cpu, 0, 0x1000, 3, &o), 0);
	assert_int_equal(o, TDXMMU_OUTCOME_OK);
	atomic_store(&cpu->vcpus[1].claimed, false);

	assert_int_equal(cpu_vcpu_hold(cpu, 1), 0);
	assert_true(cpu_vcpu_held(cpu, 1));
	assert_int_equal(cpu_vcpu_unhold(cpu, 1), 0);
	assert_false(cpu_vcpu_held(cpu, 1));
	assert_int_equal(cpu_guest_read(cpu, 1, 0x1000, &val, &o), 0);
	assert_int_equal(o, TDXMMU_OUTCOME_OK);
	assert_int_equal(val, 3);
	cpu_destroy(cpu);
	kvm_fx_destroy(&fx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hold_while_an_action_runs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
