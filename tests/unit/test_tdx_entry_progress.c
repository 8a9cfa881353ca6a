/* SPDX-License-Identifier: MIT */
/*
 * TDH.VP.ENTER keeps making progress against a stream of TDH.MEM.TRACKs whose
 * threads are preempted while they hold the TD's epoch lock (issue 11 item
 * 2.13). Two noise threads issue TRACK back to back; a module hook makes
 * each TRACK sleep 2 ms holding the epoch lock, as an OS preemption of its
 * thread would. The vCPU enters and leaves the TD again and again through
 * the CPU model (cpu_vcpu_enter, KVM's VP.ENTER loop).
 *
 * Before: the entry loop gave up after 1000 BUSY answers with only
 * sched_yield() between them (a few ms), and nothing stopped the next
 * TRACK from taking the lock before the entry looked again: "TDH.VP.ENTER
 * busy 1000 times". Now the loop is bounded by time with back-off, and
 * TRACK yields to an entry that found the lock taken. Nothing here depends
 * on a race being won in time: every entry must succeed, however the
 * threads interleave, within a budget of seconds per entry.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/cpu.h"
#include "cpu/cpu_internal.h"
#include "kvm/kvm.h"
#include "kvm/tdx_ops.h"
#include "tdx/tdx_module.h"

#include "kvm_fixture.h"

#define NOISE_THREADS 2
#define ENTRIES 40
#define TRACK_HOLD_NS (2ULL * 1000 * 1000)

struct noise {
	struct tdx_module *m;
	hpa_t tdr;
	atomic_bool *stop;
	atomic_uint calls;
	atomic_uint tracked;
};

static void *noise_thread(void *arg)
{
	struct noise *n = arg;

	while (!atomic_load(n->stop)) {
		struct seamcall_regs r = { .rax = TDH_MEM_TRACK, .rcx = n->tdr };
		uint64_t s = seamcall(n->m, &r);

		atomic_fetch_add(&n->calls, 1);
		if (s == TDX_SUCCESS)
			atomic_fetch_add(&n->tracked, 1);
	}
	return NULL;
}

static void test_entry_against_preempted_tracks(void **state)
{
	static const uint64_t slot[] = { 0, 2ULL << 20, 0, 0 };
	struct noise noise[NOISE_THREADS];
	pthread_t th[NOISE_THREADS];
	atomic_bool stop = false;
	struct kvm_fx fx;
	struct cpu *cpu;
	struct cpu_vcpu *v;
	int enter_rc = 0;

	(void)state;
	kvm_fx_create(&fx, 1, 48, 1, slot, false);
	assert_int_equal(cpu_create(fx.kvm, fx.m, fx.hm, TDXMMU_ACCEPT_AUTO, &cpu), 0);
	assert_int_equal(kvm_tdx_finalize_vm(fx.kvm), 0);
	tdx_module_set_track_hold_ns(fx.m, TRACK_HOLD_NS);

	for (unsigned i = 0; i < NOISE_THREADS; i++) {
		noise[i] = (struct noise){ .m = fx.m, .tdr = fx.kvm->tdr, .stop = &stop };
		atomic_init(&noise[i].calls, 0);
		atomic_init(&noise[i].tracked, 0);
		assert_int_equal(pthread_create(&th[i], NULL, noise_thread, &noise[i]), 0);
	}
	/* The stream is on before the first entry. */
	for (unsigned i = 0; i < NOISE_THREADS; i++)
		while (atomic_load(&noise[i].calls) == 0)
			sched_yield();

	/* The noise threads are stopped and joined before any assertion on
	 * the entries: a failed assertion leaves this frame, and threads still
	 * reading `stop` and `noise` from it would then crash the program. */
	assert_int_equal(cpu_vcpu_get(cpu, 0, &v), 0);
	for (unsigned i = 0; i < ENTRIES && enter_rc == 0; i++) {
		enter_rc = cpu_vcpu_enter(v);
		if (enter_rc == 0)
			cpu_vcpu_exit(v, "test");
	}
	cpu_vcpu_put(v);

	atomic_store(&stop, true);
	for (unsigned i = 0; i < NOISE_THREADS; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	assert_int_equal(enter_rc, 0);
	/* A TRACK with no vCPU inside always succeeds once it has the lock:
	 * the noise made progress too, nothing was starved for good. */
	{
		struct seamcall_regs r;
		uint64_t s;

		tdx_module_set_track_hold_ns(fx.m, 0);
		/* The last entry's wait window may still be open: TRACK is
		 * BUSY for at most that long. */
		do {
			r = (struct seamcall_regs){ .rax = TDH_MEM_TRACK, .rcx = fx.kvm->tdr };
			s = seamcall(fx.m, &r);
			sched_yield();
		} while (tdx_status_is(s, TDX_OPERAND_BUSY));
		assert_int_equal(s, TDX_SUCCESS);
	}
	assert_false(atomic_load(&fx.kvm->bugged));
	cpu_destroy(cpu);
	kvm_fx_destroy(&fx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_entry_against_preempted_tracks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
