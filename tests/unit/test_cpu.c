/* SPDX-License-Identifier: MIT */
/*
 * The CPU model (src/cpu/) on a real VM: KVM's VM against the emulated TDX
 * module, vCPUs from cpu_create(). Covers the access path (TLB, the S-EPT
 * walk, the shared-EPT walk, #VE + ACCEPT, EPT-violation exits to KVM), the
 * outcomes (ok, ve, blocked, poison, mmio, error), the TLB's flushes (the
 * module's R8 at VP.ENTER, KVM's shared flush) and the kick protocol with
 * concurrent threads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpu/cpu.h"
#include "cpu/cpu_internal.h"
#include "host/host_mem.h"
#include "kvm/kvm.h"
#include "kvm/spte.h"
#include "kvm/tdp_mmu.h"
#include "kvm/tdx_ops.h"
#include "tdx/tdx_module.h"

#include "kvm_fixture.h"

#define SLOT_PAGES 512 /* gfn 0..511: 2M of guest memory */
#define SLOT_END ((uint64_t)SLOT_PAGES << PAGE_SHIFT)

struct vm {
	struct kvm_fx fx;
	struct cpu *cpu;
};

static void vm_create_mode(struct vm *vm, unsigned nr_vcpus, bool trace,
			   enum tdxmmu_accept_mode accept, bool finalize)
{
	static const uint64_t slot[] = { 0, SLOT_END, 0, 0 };

	kvm_fx_create(&vm->fx, 1, 48, nr_vcpus, slot, trace);
	assert_int_equal(cpu_create(vm->fx.kvm, vm->fx.m, vm->fx.hm, accept, &vm->cpu), 0);
	assert_ptr_equal(vm->fx.kvm->cpu, vm->cpu);
	assert_non_null(vm->fx.kvm->kick_all_vcpus);
	assert_non_null(vm->fx.kvm->flush_shared_tlbs);
	if (finalize)
		assert_int_equal(kvm_tdx_finalize_vm(vm->fx.kvm), 0);
}

static void vm_create(struct vm *vm, unsigned nr_vcpus, bool trace)
{
	vm_create_mode(vm, nr_vcpus, trace, TDXMMU_ACCEPT_AUTO, true);
}

/* The CPU model goes first, taking its callbacks; then kvm_fx_destroy(),
 * whose teardown must run (the HKID is assigned: no test tears down). */
static void vm_destroy(struct vm *vm)
{
	cpu_destroy(vm->cpu);
	assert_null(vm->fx.kvm->kick_all_vcpus);
	assert_null(vm->fx.kvm->flush_shared_tlbs);
	assert_true(vm->fx.kvm->hkid_assigned);
	kvm_fx_destroy(&vm->fx);
}

/* SEAMCALLs of `leaf` since kvm_fx_snap(); -1: all leaves but TDH.VP.ENTER. */
static uint64_t delta(struct vm *vm, int leaf)
{
	return kvm_fx_delta(&vm->fx, leaf, true);
}

static uint64_t shared(struct vm *vm, uint64_t gpa)
{
	return kvm_fx_shared_gpa(&vm->fx, gpa);
}

static uint64_t host_read(struct vm *vm, uint64_t gpa)
{
	uint64_t v = 0;
	bool poisoned = true;

	host_frame_read(vm->fx.hm, kvm_fx_slot_pfn(&vm->fx, gpa), gpa & ~PAGE_MASK, &v, 8,
			HOST_KEYID_SHARED, &poisoned);
	assert_false(poisoned);
	return v;
}

/* Guest helpers: the call succeeds, the outcome is returned. */
static enum tdxmmu_outcome rd(struct vm *vm, unsigned v, uint64_t gpa, uint64_t *val)
{
	enum tdxmmu_outcome o = TDXMMU_OUTCOME_ERROR;
	uint64_t dummy;

	assert_int_equal(cpu_guest_read(vm->cpu, v, gpa, val ? val : &dummy, &o), 0);
	return o;
}

static enum tdxmmu_outcome wr(struct vm *vm, unsigned v, uint64_t gpa, uint64_t val)
{
	enum tdxmmu_outcome o = TDXMMU_OUTCOME_ERROR;

	assert_int_equal(cpu_guest_write(vm->cpu, v, gpa, val, &o), 0);
	return o;
}

static enum tdxmmu_outcome mapgpa(struct vm *vm, unsigned v, uint64_t gpa, uint64_t size)
{
	enum tdxmmu_outcome o = TDXMMU_OUTCOME_OK;

	assert_int_equal(cpu_guest_mapgpa(vm->cpu, v, gpa, size, &o), 0);
	return o;
}

struct tlb_count {
	unsigned vcpu;
	unsigned nr_private, nr_shared;
	uint64_t gpa;  /* an entry to look for */
	pfn_t pfn;
	bool found;
};

static void tlb_count_fn(unsigned vcpu, uint64_t gpa, pfn_t pfn, bool is_private,
			 bool writable, void *arg)
{
	struct tlb_count *c = arg;

	(void)writable;
	if (vcpu != c->vcpu)
		return;
	if (is_private)
		c->nr_private++;
	else
		c->nr_shared++;
	if (gpa == c->gpa) {
		c->found = true;
		c->pfn = pfn;
	}
}

static struct tlb_count tlb_count(struct vm *vm, unsigned vcpu, uint64_t gpa)
{
	struct tlb_count c = { .vcpu = vcpu, .gpa = gpa };

	cpu_tlb_foreach(vm->cpu, tlb_count_fn, &c);
	return c;
}

/* ---- private memory: AUG, #VE, ACCEPT ---- */

static void test_private_write_read_auto(void **state)
{
	struct tlb_count c;
	struct vm vm;
	uint64_t val = 0, accepts;

	(void)state;
	vm_create(&vm, 1, true);
	accepts = tdx_module_accepts(vm.fx.m);
	kvm_fx_snap(&vm.fx);

	/* First touch: EPT violation (FREE) -> KVM: SEPT.ADD x3 + AUG ->
	 * re-enter, PENDING -> #VE -> the handler's ACCEPT -> MAPPED. */
	assert_int_equal(wr(&vm, 0, 0x5000, 0x1122334455667788ULL), TDXMMU_OUTCOME_OK);
	assert_int_equal(delta(&vm, TDH_MEM_PAGE_AUG), 1);
	assert_int_equal(delta(&vm, TDH_MEM_SEPT_ADD), 3);
	assert_int_equal(tdx_module_accepts(vm.fx.m) - accepts, 1);
	assert_int_equal(kvm_fx_sept_state(&vm.fx, 0x5000, 0), SEPT_MAPPED);
	assert_int_equal(kvm_stat_read(vm.fx.kvm, exit_ept_violation), 1);
	assert_int_equal(kvm_stat_read(vm.fx.kvm, exit_ve), 1);
	assert_int_equal(kvm_stat_read(vm.fx.kvm, fault_private), 1);
	assert_int_equal(kvm_stat_read(vm.fx.kvm, exit_vmcall), 0);
	assert_true(kvm_fx_trace_has(&vm.fx, "kvm_exit: vcpu 0 reason EPT_VIOLATION gpa 0x5000"));
	assert_true(kvm_fx_trace_has(&vm.fx, "tdx_ve: vcpu 0 gpa 0x5000"));
	/* Every action ends with the vCPU outside guest mode. */
	assert_int_equal(atomic_load(&vm.cpu->vcpus[0].mode), OUTSIDE_GUEST_MODE);

	/* The translation is cached: the read neither exits nor walks. */
	c = tlb_count(&vm, 0, 0x5000);
	assert_true(c.found);
	assert_int_equal(c.pfn, kvm_fx_slot_pfn(&vm.fx, 0x5000));
	assert_int_equal(c.nr_private, 1);
	kvm_fx_snap(&vm.fx);
	assert_int_equal(rd(&vm, 0, 0x5000, &val), TDXMMU_OUTCOME_OK);
	assert_int_equal(val, 0x1122334455667788ULL);
	assert_int_equal(delta(&vm, -1), 0);
	assert_int_equal(kvm_stat_read(vm.fx.kvm, exit_ept_violation), 1);
	/* The rest of the accepted page reads zero. */
	assert_int_equal(rd(&vm, 0, 0x5ff8, &val), TDXMMU_OUTCOME_OK);
	assert_int_equal(val, 0);

	/* The host never sees the TD's data. */
	assert_int_equal(host_read(&vm, 0x5000), 0);

	/* fill / verify over several pages, unaligned ends. */
	{
		enum tdxmmu_outcome o;
		uint64_t bad;

		assert_int_equal(cpu_guest_fill(vm.cpu, 0, 0x10800, 0x3000, 0xab, &o), 0);
		assert_int_equal(o, TDXMMU_OUTCOME_OK);
		assert_int_equal(cpu_guest_verify(vm.cpu, 0, 0x10800, 0x3000, 0xab, &bad, &o), 0);
		assert_int_equal(o, TDXMMU_OUTCOME_OK);
		assert_int_equal(bad, UINT64_MAX);
		/* One byte beyond on each side is not 0xab. */
		assert_int_equal(cpu_guest_verify(vm.cpu, 0, 0x107ff, 0x3002, 0xab, &bad, &o), 0);
		assert_int_equal(o, TDXMMU_OUTCOME_OK);
		assert_int_equal(bad, 0x107ff);
		assert_int_equal(cpu_guest_verify(vm.cpu, 0, 0x10800, 0x3001, 0xab, &bad, &o), 0);
		assert_int_equal(bad, 0x13800);
		/* 4 pages touched: 4 AUGs. */
		assert_int_equal(tdx_module_calls(vm.fx.m, TDH_MEM_PAGE_AUG), 5);
		assert_int_equal(host_read(&vm, 0x11000), 0);
	}
	vm_destroy(&vm);
}

static void test_explicit_accept(void **state)
{
	enum tdxmmu_outcome ao = TDXMMU_OUTCOME_OK;
	uint64_t status = ~0ULL, val = 1;
	struct vm vm;

	(void)state;
	vm_create_mode(&vm, 1, true, TDXMMU_ACCEPT_EXPLICIT, true);

	/* The fault AUGs the page; the retried access gets #VE. */
	assert_int_equal(rd(&vm, 0, 0x5000, &val), TDXMMU_OUTCOME_VE);
	assert_int_equal(kvm_fx_sept_state(&vm.fx, 0x5000, 0), SEPT_PENDING);
	assert_int_equal(kvm_stat_read(vm.fx.kvm, exit_ve), 1);
	assert_int_equal(tdx_module_accepts(vm.fx.m), 0);
	/* Again: still pending, #VE again, no new exit to KVM. */
	assert_int_equal(wr(&vm, 0, 0x5000, 7), TDXMMU_OUTCOME_VE);
	assert_int_equal(kvm_stat_read(vm.fx.kvm, exit_ve), 2);
	assert_int_equal(kvm_stat_read(vm.fx.kvm, exit_ept_violation), 1);

	assert_int_equal(cpu_guest_accept(vm.cpu, 0, 0x5000, 0, &status, &ao), 0);
	assert_int_equal(status, TDX_SUCCESS);
	assert_int_equal(kvm_fx_sept_state(&vm.fx, 0x5000, 0), SEPT_MAPPED);
	assert_int_equal(rd(&vm, 0, 0x5000, &val), TDXMMU_OUTCOME_OK);
	assert_int_equal(val, 0);
	assert_int_equal(cpu_guest_accept(vm.cpu, 0, 0x5000, 0, &status, &ao), 0);
	assert_true(tdx_status_is(status, TDX_PAGE_ALREADY_ACCEPTED));

	/* ACCEPT of a page KVM never mapped: the TDCALL exits (EPT violation),
	 * KVM AUGs, the TDCALL is re-executed and succeeds. */
	kvm_fx_snap(&vm.fx);
	assert_int_equal(cpu_guest_accept(vm.cpu, 0, 0x7000, 0, &status, &ao), 0);
	assert_int_equal(status, TDX_SUCCESS);
	assert_int_equal(delta(&vm, TDH_MEM_PAGE_AUG), 1);
	assert_int_equal(kvm_stat_read(vm.fx.kvm, exit_ept_violation), 2);
	assert_int_equal(kvm_fx_sept_state(&vm.fx, 0x7000, 0), SEPT_MAPPED);
	assert_true(kvm_fx_trace_has(&vm.fx, "kvm_exit: vcpu 0 reason EPT_VIOLATION gpa 0x7000 (accept)"));

	/* Operand errors are the module's answer. */
	assert_int_equal(cpu_guest_accept(vm.cpu, 0, shared(&vm, 0x7000), 0, &status, &ao), 0);
	assert_true(tdx_status_is(status, TDX_OPERAND_INVALID));
	assert_int_equal(ao, TDXMMU_OUTCOME_OK);
	/* No memslot: the TDCALL can never complete. */
	assert_int_equal(cpu_guest_accept(vm.cpu, 0, SLOT_END, 0, &status, &ao), 0);
	assert_int_equal(ao, TDXMMU_OUTCOME_MMIO);
	assert_int_equal(status, 0);
	vm_destroy(&vm);
}

/* ---- the wrong alias, MapGPA ---- */

static void test_wrong_alias_blocked(void **state)
{
	uint64_t priv0, shr0, priv1, shr1, val;
	struct vm vm;

	(void)state;
	vm_create(&vm, 1, false);
	assert_int_equal(wr(&vm, 0, 0x5000, 0x55), TDXMMU_OUTCOME_OK);

	/* The shared alias of a private page: KVM answers RETRY and changes
	 * nothing; the vCPU would loop. Nothing changed anywhere. */
	kvm_tdp_mmu_read_4k(vm.fx.kvm, 5, &priv0, &shr0);
	kvm_fx_snap(&vm.fx);
	/* The first shared fault here links the shared EPT's tables on the way
	 * down (a change), so the vCPU faults once more; that second fault
	 * changes nothing: blocked. */
	assert_int_equal(kvm_stat_read(vm.fx.kvm, pages_shared_spt), 1); /* the root */
	assert_int_equal(rd(&vm, 0, shared(&vm, 0x5000), &val), TDXMMU_OUTCOME_BLOCKED);
	assert_int_equal(kvm_stat_read(vm.fx.kvm, pages_shared_spt), 1 + 3);
	assert_int_equal(kvm_stat_read(vm.fx.kvm, fault_shared), 2);
	/* Tables in place: one fault, blocked. */
	assert_int_equal(wr(&vm, 0, shared(&vm, 0x5008), 1), TDXMMU_OUTCOME_BLOCKED);
	assert_int_equal(kvm_stat_read(vm.fx.kvm, fault_shared), 3);
	assert_int_equal(kvm_stat_read(vm.fx.kvm, exit_ept_violation), 1 + 3);
	assert_int_equal(delta(&vm, -1), 0);
	kvm_tdp_mmu_read_4k(vm.fx.kvm, 5, &priv1, &shr1);
	assert_int_equal(priv0, priv1);
	assert_int_equal(shr0, shr1);
	assert_int_equal(kvm_fx_sept_state(&vm.fx, 0x5000, 0), SEPT_MAPPED);
	assert_int_equal(rd(&vm, 0, 0x5000, &val), TDXMMU_OUTCOME_OK);
	assert_int_equal(val, 0x55);
	assert_int_equal(tlb_count(&vm, 0, shared(&vm, 0x5000)).found, false);
	vm_destroy(&vm);
}

/*
 * Issue 11, 2.6: KVM's answer to the exit carries what the CPU needs (idle:
 * nothing changed, no contention), and SPURIOUS is never `blocked`, even
 * twice in a row with nothing changing: the contract's `blocked` is a RETRY
 * that changed nothing. The host blocks a mapped private page behind KVM's
 * back, so the hardware walk fails while KVM's mirror says present: every
 * fault is SPURIOUS and idle. (Before the fix the second one answered
 * CPU_FAULT_BLOCKED.)
 */
static void test_spurious_twice_not_blocked(void **state)
{
	struct cpu_fault_state st = { 0 };
	enum cpu_fault_answer ans;
	struct cpu_vcpu *v;
	struct seamcall_regs r;
	bool idle = false;
	struct vm vm;

	(void)state;
	vm_create(&vm, 1, false);
	/* The exit's answer: a first fault installs (not idle), the wrong
	 * alias with its tables in place changes nothing (idle). */
	assert_int_equal(kvm_tdx_ept_violation_exit(&vm.fx.kvm->vcpus[0], 0x9000, &idle),
			 RET_PF_FIXED);
	assert_false(idle);
	assert_int_equal(kvm_tdx_ept_violation_exit(&vm.fx.kvm->vcpus[0], 0x9000, &idle),
			 RET_PF_SPURIOUS);
	assert_true(idle);
	assert_int_equal(kvm_tdx_ept_violation_exit(&vm.fx.kvm->vcpus[0],
						    shared(&vm, 0x9000), &idle),
			 RET_PF_RETRY);
	assert_false(idle); /* the shared tables were linked on the way */
	assert_int_equal(kvm_tdx_ept_violation_exit(&vm.fx.kvm->vcpus[0],
						    shared(&vm, 0x9000), &idle),
			 RET_PF_RETRY);
	assert_true(idle);

	assert_int_equal(wr(&vm, 0, 0x5000, 0x55), TDXMMU_OUTCOME_OK);
	r = (struct seamcall_regs){ .rax = TDH_MEM_RANGE_BLOCK,
				    .rcx = 0x5000, .rdx = vm.fx.kvm->tdr };
	assert_int_equal(kvm_seamcall(vm.fx.kvm, &r), TDX_SUCCESS);
	assert_int_equal(cpu_vcpu_get(vm.cpu, 0, &v), 0);
	assert_int_equal(cpu_vcpu_enter(v), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(cpu_vcpu_ept_violation(v, 0x5000, "", &st, &ans), 0);
		assert_int_equal(ans, CPU_FAULT_RETRY_ACCESS);
		assert_true(cpu_vcpu_in_guest(v));
	}
	cpu_vcpu_put(v);
	/* The wrong alias: one idle RETRY is `blocked`. */
	assert_int_equal(cpu_vcpu_get(vm.cpu, 0, &v), 0);
	assert_int_equal(cpu_vcpu_enter(v), 0);
	assert_int_equal(cpu_vcpu_ept_violation(v, shared(&vm, 0x5000), "", &st, &ans), 0);
	assert_int_equal(ans, CPU_FAULT_BLOCKED);
	cpu_vcpu_put(v);
	/* A guest access there (its cached translation gone: TRACK, then the
	 * entry's R8 flush) loops on SPURIOUS faults that change nothing: the
	 * host broke the S-EPT behind KVM, so the access ends `blocked` after
	 * the CPU's bound (not exit 3: the model did not break), and only
	 * after a long run of them, never after three. */
	r = (struct seamcall_regs){ .rax = TDH_MEM_TRACK, .rcx = vm.fx.kvm->tdr };
	assert_int_equal(kvm_seamcall(vm.fx.kvm, &r), TDX_SUCCESS);
	{
		enum tdxmmu_outcome o = TDXMMU_OUTCOME_OK;
		uint64_t val, before, after;

		before = kvm_stat_read(vm.fx.kvm, exit_ept_violation);
		assert_int_equal(cpu_guest_read(vm.cpu, 0, 0x5000, &val, &o), 0);
		assert_int_equal(o, TDXMMU_OUTCOME_BLOCKED);
		after = kvm_stat_read(vm.fx.kvm, exit_ept_violation);
		assert_true(after - before >= CPU_MAX_TRIES / 2);
	}
	/* Unblocked (the TRACK is done: no vCPU in the TD), it reads again. */
	r = (struct seamcall_regs){ .rax = TDH_MEM_RANGE_UNBLOCK,
				    .rcx = 0x5000, .rdx = vm.fx.kvm->tdr };
	assert_int_equal(kvm_seamcall(vm.fx.kvm, &r), TDX_SUCCESS);
	{
		uint64_t val = 0;

		assert_int_equal(rd(&vm, 0, 0x5000, &val), TDXMMU_OUTCOME_OK);
		assert_int_equal(val, 0x55);
	}
	vm_destroy(&vm);
}

static void test_mapgpa_shared_and_back(void **state)
{
	enum tdxmmu_outcome ao = TDXMMU_OUTCOME_OK;
	enum tdxmmu_outcome o;
	uint64_t val = 0, status;
	struct vm vm;

	(void)state;
	vm_create(&vm, 2, true);
	assert_int_equal(wr(&vm, 0, 0x6000, 0x6666), TDXMMU_OUTCOME_OK);
	/* vCPU 1 caches the private translation too. */
	assert_int_equal(rd(&vm, 1, 0x6000, &val), TDXMMU_OUTCOME_OK);
	assert_int_equal(val, 0x6666);
	assert_true(tlb_count(&vm, 1, 0x6000).found);

	/* To shared: the private page is removed (BLOCK, TRACK, REMOVE). */
	kvm_fx_snap(&vm.fx);
	assert_int_equal(mapgpa(&vm, 0, shared(&vm, 0x6000), PAGE_SIZE), TDXMMU_OUTCOME_OK);
	assert_int_equal(kvm_stat_read(vm.fx.kvm, exit_vmcall), 1);
	assert_int_equal(kvm_stat_read(vm.fx.kvm, mapgpa), 1);
	assert_int_equal(delta(&vm, TDH_MEM_PAGE_REMOVE), 1);
	assert_true(kvm_fx_trace_has(&vm.fx, "kvm_exit: vcpu 0 reason TDVMCALL MapGPA "
				     "gpa 0x800000006000 size 0x1000"));
	assert_int_equal(kvm_fx_sept_state(&vm.fx, 0x6000, 0), SEPT_FREE);

	/* vCPU 1 still has the old translation in its TLB; its next entry
	 * is in a new TD epoch, the module flushes (R8 = 1), so the private
	 * alias faults and is blocked: never the old frame through the TLB. */
	assert_int_equal(rd(&vm, 1, 0x6000, &val), TDXMMU_OUTCOME_BLOCKED);
	assert_true(vm.cpu->vcpus[1].nr_private_flushes >= 1);
	assert_int_equal(rd(&vm, 0, 0x6000, &val), TDXMMU_OUTCOME_BLOCKED);

	/* The shared alias works; the host sees the data; the page came back
	 * cleared. */
	assert_int_equal(rd(&vm, 1, shared(&vm, 0x6000), &val), TDXMMU_OUTCOME_OK);
	assert_int_equal(val, 0);
	assert_int_equal(wr(&vm, 1, shared(&vm, 0x6008), 0xfeed), TDXMMU_OUTCOME_OK);
	assert_int_equal(host_read(&vm, 0x6008), 0xfeed);
	assert_int_equal(rd(&vm, 0, shared(&vm, 0x6008), &val), TDXMMU_OUTCOME_OK);
	assert_int_equal(val, 0xfeed);
	assert_true(tlb_count(&vm, 0, shared(&vm, 0x6000)).found);
	/* ACCEPT of the private alias can never complete now: the vCPU
	 * loops on EPT violations, `blocked` (issue 11, 2.4), not an error. */
	assert_int_equal(cpu_guest_accept(vm.cpu, 0, 0x6000, 0, &status, &ao), 0);
	assert_int_equal(ao, TDXMMU_OUTCOME_BLOCKED);
	assert_int_equal(status, 0);

	/* Back to private: the shared mapping is zapped and every vCPU's
	 * shared translation flushed (KVM's flush request), so the shared
	 * alias is blocked even for the vCPUs that cached it. */
	assert_int_equal(mapgpa(&vm, 1, 0x6000, PAGE_SIZE), TDXMMU_OUTCOME_OK);
	assert_int_equal(rd(&vm, 0, shared(&vm, 0x6000), &val), TDXMMU_OUTCOME_BLOCKED);
	assert_int_equal(rd(&vm, 1, shared(&vm, 0x6000), &val), TDXMMU_OUTCOME_BLOCKED);
	/* A fresh private page. */
	assert_int_equal(rd(&vm, 0, 0x6008, &val), TDXMMU_OUTCOME_OK);
	assert_int_equal(val, 0);
	assert_int_equal(host_read(&vm, 0x6008), 0);

	/* Refused operands: `error`. */
	assert_int_equal(mapgpa(&vm, 0, 0x6800, PAGE_SIZE), TDXMMU_OUTCOME_ERROR);
	assert_int_equal(mapgpa(&vm, 0, shared(&vm, 0x6000), 0x1000ULL << 40),
			 TDXMMU_OUTCOME_ERROR);
	o = TDXMMU_OUTCOME_OK;
	assert_int_equal(cpu_guest_mapgpa(vm.cpu, 5, 0x6000, PAGE_SIZE, &o), -EINVAL);
	vm_destroy(&vm);
}

/* ---- integrity, MMIO ---- */

static void test_host_write_poisons(void **state)
{
	uint64_t val = 0, evil = 0xbad;
	enum tdxmmu_outcome o;
	struct vm vm;

	(void)state;
	vm_create(&vm, 2, false);
	assert_int_equal(wr(&vm, 0, 0x5000, 0x7777), TDXMMU_OUTCOME_OK);
	assert_int_equal(host_read(&vm, 0x5000), 0);
	host_frame_write(vm.fx.hm, kvm_fx_slot_pfn(&vm.fx, 0x5000), 0, &evil, 8, HOST_KEYID_SHARED);
	assert_int_equal(rd(&vm, 0, 0x5000, &val), TDXMMU_OUTCOME_POISON);
	assert_int_equal(rd(&vm, 1, 0x5008, &val), TDXMMU_OUTCOME_POISON);
	assert_int_equal(cpu_guest_verify(vm.cpu, 0, 0x4000, 0x2000, 0, &val, &o), 0);
	assert_int_equal(o, TDXMMU_OUTCOME_POISON);
	/* Other pages are fine. */
	assert_int_equal(rd(&vm, 0, 0x4000, &val), TDXMMU_OUTCOME_OK);
	vm_destroy(&vm);
}

static void test_mmio(void **state)
{
	enum tdxmmu_outcome o;
	uint64_t val = 0, bad;
	struct vm vm;

	(void)state;
	vm_create(&vm, 1, false);
	kvm_fx_snap(&vm.fx);
	assert_int_equal(rd(&vm, 0, shared(&vm, SLOT_END), &val), TDXMMU_OUTCOME_MMIO);
	assert_int_equal(val, ~0ULL);
	assert_int_equal(rd(&vm, 0, SLOT_END + 0x1000, &val), TDXMMU_OUTCOME_MMIO);
	assert_int_equal(wr(&vm, 0, SLOT_END, 1), TDXMMU_OUTCOME_MMIO);
	assert_int_equal(delta(&vm, -1), 0);
	assert_int_equal(kvm_stat_read(vm.fx.kvm, fault_shared), 1);
	assert_int_equal(kvm_stat_read(vm.fx.kvm, fault_private), 2);
	/* A fill running off the end of the memslot stops there. */
	assert_int_equal(cpu_guest_fill(vm.cpu, 0, SLOT_END - 0x1000, 0x2000, 0x5a, &o), 0);
	assert_int_equal(o, TDXMMU_OUTCOME_MMIO);
	assert_int_equal(cpu_guest_verify(vm.cpu, 0, SLOT_END - 0x1000, 0x1000, 0x5a, &bad, &o), 0);
	assert_int_equal(o, TDXMMU_OUTCOME_OK);
	assert_int_equal(bad, UINT64_MAX);
	vm_destroy(&vm);
}

static void test_caller_errors(void **state)
{
	enum tdxmmu_outcome ao = TDXMMU_OUTCOME_OK;
	enum tdxmmu_outcome o;
	uint64_t val, status;
	struct vm vm;

	(void)state;
	vm_create_mode(&vm, 1, false, TDXMMU_ACCEPT_AUTO, false);
	/* Before finalize no vCPU can run. */
	assert_int_equal(cpu_guest_read(vm.cpu, 0, 0x5000, &val, &o), -EPERM);
	assert_non_null(strstr(cpu_last_error(), "not runnable"));
	assert_int_equal(kvm_tdx_finalize_vm(vm.fx.kvm), 0);
	assert_int_equal(cpu_guest_read(vm.cpu, 1, 0x5000, &val, &o), -EINVAL);
	assert_int_equal(cpu_guest_read(vm.cpu, 0, 0x5004, &val, &o), -EINVAL);
	assert_int_equal(cpu_guest_write(vm.cpu, 0, 1ULL << 48, 0, &o), -ERANGE);
	assert_int_equal(cpu_guest_fill(vm.cpu, 0, 0x1000, 0, 0, &o), -ERANGE);
	assert_int_equal(cpu_guest_fill(vm.cpu, 0, shared(&vm, 0) - 0x1000, 0x2000, 0, &o),
			 -ERANGE);
	assert_int_equal(cpu_guest_accept(vm.cpu, 0, 0x5000, 2, &status, &ao), -EINVAL);
	assert_int_equal(cpu_guest_read(vm.cpu, 0, 0x5000, &val, &o), 0);
	assert_int_equal(o, TDXMMU_OUTCOME_OK);
	{
		struct cpu_vcpu *v;

		/* One thread per vCPU. */
		assert_int_equal(cpu_vcpu_get(vm.cpu, 0, &v), 0);
		assert_int_equal(cpu_guest_read(vm.cpu, 0, 0x5000, &val, &o), -EBUSY);
		cpu_vcpu_put(v);
	}
	/* A dead VM runs no vCPU: KVM refuses KVM_RUN, outcome `dead`, and
	 * nothing ran (no TD entry). */
	atomic_store(&vm.fx.kvm->bugged, true);
	{
		uint64_t entries = atomic_load(&vm.cpu->vcpus[0].nr_entries);

		assert_int_equal(cpu_guest_read(vm.cpu, 0, 0x5000, &val, &o), 0);
		assert_int_equal(o, TDXMMU_OUTCOME_DEAD);
		assert_int_equal(cpu_guest_accept(vm.cpu, 0, 0x5000, 0, &status, &ao), 0);
		assert_int_equal(ao, TDXMMU_OUTCOME_DEAD);
		assert_int_equal(cpu_guest_mapgpa(vm.cpu, 0, shared(&vm, 0x5000), PAGE_SIZE, &o), 0);
		assert_int_equal(o, TDXMMU_OUTCOME_DEAD);
		assert_int_equal(atomic_load(&vm.cpu->vcpus[0].nr_entries), entries);
	}
	atomic_store(&vm.fx.kvm->bugged, false);
	vm_destroy(&vm);
}

/* ---- the TLB and its flushes ---- */

static void test_zap_refaults(void **state)
{
	struct tlb_count c;
	uint64_t val = 1;
	struct vm vm;

	(void)state;
	vm_create(&vm, 2, false);
	assert_int_equal(wr(&vm, 0, 0x5000, 0x1234), TDXMMU_OUTCOME_OK);
	assert_int_equal(rd(&vm, 1, 0x5000, &val), TDXMMU_OUTCOME_OK);
	assert_int_equal(val, 0x1234);
	assert_true(tlb_count(&vm, 0, 0x5000).found);
	assert_true(tlb_count(&vm, 1, 0x5000).found);

	/* KVM zaps the private page: BLOCK, TRACK (+ kick), REMOVE. */
	kvm_fx_snap(&vm.fx);
	assert_int_equal(kvm_zap_gfn_range(vm.fx.kvm, 5, 6, true, false), 0);
	assert_int_equal(delta(&vm, TDH_MEM_PAGE_REMOVE), 1);
	assert_int_equal(kvm_fx_sept_state(&vm.fx, 0x5000, 0), SEPT_FREE);

	/* The next access of each vCPU re-faults: a fresh page (AUG, #VE,
	 * ACCEPT: zero), never the old data through the TLB. */
	kvm_fx_snap(&vm.fx);
	assert_int_equal(rd(&vm, 1, 0x5000, &val), TDXMMU_OUTCOME_OK);
	assert_int_equal(val, 0);
	assert_int_equal(delta(&vm, TDH_MEM_PAGE_AUG), 1);
	assert_int_equal(kvm_stat_read(vm.fx.kvm, fault_private), 2);
	assert_int_equal(rd(&vm, 0, 0x5000, &val), TDXMMU_OUTCOME_OK);
	assert_int_equal(val, 0);
	assert_int_equal(delta(&vm, TDH_MEM_PAGE_AUG), 1);
	c = tlb_count(&vm, 0, 0x5000);
	assert_true(c.found);
	assert_int_equal(c.pfn, kvm_fx_slot_pfn(&vm.fx, 0x5000));
	vm_destroy(&vm);
}

static void test_vp_enter_flush(void **state)
{
	struct cpu_vcpu *v;
	struct tlb_count c;
	uint64_t flushes;
	struct vm vm;

	(void)state;
	vm_create(&vm, 1, false);
	v = &vm.cpu->vcpus[0];
	/* MapGPA first: whatever flush it does is behind us. */
	assert_int_equal(mapgpa(&vm, 0, shared(&vm, 0x8000), PAGE_SIZE), TDXMMU_OUTCOME_OK);
	assert_int_equal(wr(&vm, 0, shared(&vm, 0x8000), 8), TDXMMU_OUTCOME_OK);
	assert_int_equal(wr(&vm, 0, 0x1000, 1), TDXMMU_OUTCOME_OK);
	assert_int_equal(wr(&vm, 0, 0x2000, 2), TDXMMU_OUTCOME_OK);
	flushes = v->nr_private_flushes;

	/* Same epoch: entries accumulate. */
	assert_int_equal(rd(&vm, 0, 0x3000, NULL), TDXMMU_OUTCOME_OK);
	c = tlb_count(&vm, 0, 0x1000);
	assert_true(c.found);
	assert_int_equal(c.nr_private, 3);
	assert_int_equal(c.nr_shared, 1);
	assert_int_equal(v->nr_private_flushes, flushes);

	/* A TDH.MEM.TRACK moves the TD epoch: at the next TDH.VP.ENTER the
	 * module flushes the vCPU's private translations (R8 = 1). Shared
	 * translations are KVM's to flush, and stay. */
	assert_int_equal(kvm_tdh_mem_track(vm.fx.kvm), TDX_SUCCESS);
	assert_int_equal(rd(&vm, 0, 0x3000, NULL), TDXMMU_OUTCOME_OK);
	assert_int_equal(v->nr_private_flushes, flushes + 1);
	c = tlb_count(&vm, 0, 0x3000);
	assert_true(c.found);
	assert_int_equal(c.nr_private, 1);
	assert_int_equal(c.nr_shared, 1);

	/* KVM's shared flush request drops the shared ones at the next entry. */
	assert_false(cpu_shared_flush_pending(vm.cpu, 0));
	cpu_flush_shared_tlbs(vm.fx.kvm);
	assert_int_equal(atomic_load(&v->requests), REQ_FLUSH_SHARED | REQ_KICK);
	assert_true(cpu_shared_flush_pending(vm.cpu, 0));
	assert_false(cpu_shared_flush_pending(vm.cpu, 1));
	assert_int_equal(rd(&vm, 0, 0x3000, NULL), TDXMMU_OUTCOME_OK);
	assert_int_equal(atomic_load(&v->requests), 0);
	assert_false(cpu_shared_flush_pending(vm.cpu, 0));
	c = tlb_count(&vm, 0, 0x3000);
	assert_int_equal(c.nr_private, 1);
	assert_int_equal(c.nr_shared, 0);
	vm_destroy(&vm);
}

static void test_tlb_unit(void **state)
{
	const struct tlb_entry *e;
	struct tlb t;

	(void)state;
	tlb_init(&t);
	assert_null(tlb_lookup(&t, 0x1000));
	tlb_fill(&t, 0x1234, 42, true, true);
	e = tlb_lookup(&t, 0x1ff8);
	assert_non_null(e);
	assert_int_equal(e->pfn, 42);
	assert_int_equal(e->gpa, 0x1000);
	/* The two aliases are two entries. */
	assert_null(tlb_lookup(&t, 0x1000 | (1ULL << 47)));
	tlb_fill(&t, 0x1000 | (1ULL << 47), 43, false, false);
	assert_int_equal(tlb_nr_valid(&t), 2);
	/* Refill replaces. */
	tlb_fill(&t, 0x1000, 44, true, true);
	assert_int_equal(tlb_nr_valid(&t), 2);
	assert_int_equal(tlb_lookup(&t, 0x1000)->pfn, 44);
	/* A full set evicts round robin; the TLB never grows. */
	for (uint64_t i = 0; i < 3 * TLB_ENTRIES; i++)
		tlb_fill(&t, (i * TLB_SETS) << PAGE_SHIFT, i, i & 1, true);
	assert_true(tlb_nr_valid(&t) <= TLB_ENTRIES);
	assert_int_equal(tlb_lookup(&t, ((3 * TLB_ENTRIES - 1) * TLB_SETS) << PAGE_SHIFT)->pfn,
			 3 * TLB_ENTRIES - 1);
	tlb_flush_private(&t);
	for (unsigned s = 0; s < TLB_SETS; s++)
		for (unsigned w = 0; w < TLB_WAYS; w++)
			assert_false(t.set[s][w].valid && t.set[s][w].is_private);
	assert_true(tlb_nr_valid(&t) > 0);
	tlb_flush_shared(&t);
	assert_int_equal(tlb_nr_valid(&t), 0);
	tlb_fill(&t, 0x5000, 5, false, true);
	tlb_invalidate(&t, 0x5000);
	assert_null(tlb_lookup(&t, 0x5000));
	tlb_fill(&t, 0x5000, 5, true, true);
	tlb_flush_all(&t);
	assert_int_equal(tlb_nr_valid(&t), 0);
}

/* ---- the kick protocol, with threads ---- */

/* Lets the other threads run, also where there are fewer CPUs than threads
 * or one thread at a time (valgrind): sched_yield() alone can starve them. */
static void pause_briefly(void)
{
	struct timespec ts = { .tv_nsec = 50000 };

	nanosleep(&ts, NULL);
}

struct runner {
	struct vm *vm;
	unsigned vcpu;
	uint64_t base;
	_Atomic bool stop;
	_Atomic unsigned rounds;
	int failures;
};

/* A vCPU filling and verifying 256K of private memory, round after round. */
static void *fill_loop(void *arg)
{
	struct runner *r = arg;

	for (unsigned i = 0; !atomic_load(&r->stop); i++) {
		enum tdxmmu_outcome o = TDXMMU_OUTCOME_ERROR;
		uint64_t bad = 0;
		uint8_t byte = (uint8_t)(0x10 + i);

		if (cpu_guest_fill(r->vm->cpu, r->vcpu, r->base, 64 * PAGE_SIZE, byte, &o) ||
		    o != TDXMMU_OUTCOME_OK)
			r->failures++;
		if (cpu_guest_verify(r->vm->cpu, r->vcpu, r->base, 64 * PAGE_SIZE, byte,
				     &bad, &o) || o != TDXMMU_OUTCOME_OK || bad != UINT64_MAX)
			r->failures++;
		/* Now and then: the kicker must get to run (valgrind). */
		if (atomic_fetch_add(&r->rounds, 1) % 8 == 7)
			pause_briefly();
	}
	return NULL;
}

static uint64_t track(struct kvm *kvm)
{
	uint64_t s;

	/* VP.ENTER holds the epoch lock shared for an instant: BUSY. */
	do {
		s = kvm_tdh_mem_track(kvm);
	} while (tdx_status_is(s, TDX_OPERAND_BUSY));
	return s;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/*
 * While two vCPUs run, another thread does what KVM's remote flush does:
 * TDH.MEM.TRACK, then kick. TRACK needs every vCPU that entered before the
 * previous TRACK to have left guest mode (tdx-module-sept.md §6): after a
 * kick, the next TRACK must never answer TDX_PREVIOUS_TLB_EPOCH_BUSY. A kick
 * that returned before the vCPUs left would let it.
 */
static void test_kick_protocol(void **state)
{
	struct runner r[2];
	pthread_t t[2];
	unsigned kicks = 0, epoch_busy = 0;
	uint64_t kick_exits = 0;
	double deadline = now_s() + 60;
	struct vm vm;

	(void)state;
	vm_create(&vm, 2, false);
	for (unsigned i = 0; i < 2; i++) {
		r[i] = (struct runner){ .vm = &vm, .vcpu = i, .base = i * 0x40000 };
		atomic_init(&r[i].stop, false);
		atomic_init(&r[i].rounds, 0);
		assert_int_equal(pthread_create(&t[i], NULL, fill_loop, &r[i]), 0);
	}
	/* Until the kicks have sent the vCPUs out of the guest many times
	 * and both vCPUs made progress despite them. */
	while (kicks < 200 || kick_exits < 10 || atomic_load(&r[0].rounds) < 2 ||
	       atomic_load(&r[1].rounds) < 2) {
		uint64_t s = track(vm.fx.kvm);

		if (tdx_status_is(s, TDX_PREVIOUS_TLB_EPOCH_BUSY))
			epoch_busy++;
		else
			assert_int_equal(s, TDX_SUCCESS);
		cpu_kick_all(vm.fx.kvm);
		kicks++;
		kick_exits = atomic_load(&vm.cpu->vcpus[0].nr_kick_exits) +
			     atomic_load(&vm.cpu->vcpus[1].nr_kick_exits);
		if (now_s() > deadline)
			break;
		/* Mostly back to back (a TRACK right after a kick is what
		 * catches a kick that returned early), now and then a pause
		 * so that the vCPU threads run even one at a time. */
		if (kicks % 8 == 0)
			pause_briefly();
		else
			sched_yield();
	}
	for (unsigned i = 0; i < 2; i++) {
		atomic_store(&r[i].stop, true);
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(r[i].failures, 0);
		assert_true(atomic_load(&r[i].rounds) >= 2);
	}
	/* The first TRACK ever has no previous epoch to wait for; every later
	 * one follows a kick. */
	assert_int_equal(epoch_busy, 0);
	/* The vCPUs did leave for kicks and did get their private TLB flushed
	 * on the way back in. */
	assert_true(kick_exits >= 10);
	assert_true(atomic_load(&vm.cpu->vcpus[0].nr_private_flushes) +
		    atomic_load(&vm.cpu->vcpus[1].nr_private_flushes) > 0);
	for (unsigned i = 0; i < 2; i++)
		assert_int_equal(atomic_load(&vm.cpu->vcpus[i].mode), OUTSIDE_GUEST_MODE);
	vm_destroy(&vm);
}

/* A vCPU writing and reading one page while KVM zaps it from the host. */
struct zap_runner {
	struct vm *vm;
	_Atomic bool stop;
	_Atomic unsigned iterations;
	int failures;
};

static void *write_read_loop(void *arg)
{
	struct zap_runner *z = arg;

	while (!atomic_load(&z->stop)) {
		enum tdxmmu_outcome o = TDXMMU_OUTCOME_ERROR;
		uint64_t want = 0x1000 + atomic_load(&z->iterations), got = 0;

		if (cpu_guest_write(z->vm->cpu, 0, 0x5000, want, &o) || o != TDXMMU_OUTCOME_OK)
			z->failures++;
		/* Zapped in between: a fresh page reads 0; never anything
		 * else (an old value through a stale translation). */
		if (cpu_guest_read(z->vm->cpu, 0, 0x5000, &got, &o) ||
		    o != TDXMMU_OUTCOME_OK || (got != want && got != 0))
			z->failures++;
		if (atomic_fetch_add(&z->iterations, 1) % 16 == 15)
			pause_briefly();
	}
	return NULL;
}

static void test_zap_while_running(void **state)
{
	struct zap_runner z = { 0 };
	double deadline = now_s() + 60;
	struct vm vm;
	pthread_t t;
	uint64_t removes;

	(void)state;
	vm_create(&vm, 1, false);
	z.vm = &vm;
	atomic_init(&z.stop, false);
	atomic_init(&z.iterations, 0);
	assert_int_equal(pthread_create(&t, NULL, write_read_loop, &z), 0);
	/* Zap while the vCPU runs: at least 50 zaps and 50 guest rounds. */
	for (int i = 0; i < 50 || atomic_load(&z.iterations) < 50; i++) {
		/* The zap's TRACK waits for the kick to get the vCPU out. */
		assert_int_equal(kvm_zap_gfn_range(vm.fx.kvm, 5, 6, true, false), 0);
		if (now_s() > deadline)
			break;
		pause_briefly();
	}
	atomic_store(&z.stop, true);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(z.failures, 0);
	assert_true(atomic_load(&z.iterations) >= 50);
	assert_false(atomic_load(&vm.fx.kvm->bugged));
	removes = tdx_module_calls(vm.fx.m, TDH_MEM_PAGE_REMOVE);
	assert_true(removes > 0);
	/* Every AUG but the live page's was removed. */
	assert_int_equal(tdx_module_calls(vm.fx.m, TDH_MEM_PAGE_AUG) - removes,
			 kvm_fx_sept_state(&vm.fx, 0x5000, 0) == SEPT_FREE ? 0 : 1);
	vm_destroy(&vm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tlb_unit),
		cmocka_unit_test(test_private_write_read_auto),
		cmocka_unit_test(test_explicit_accept),
		cmocka_unit_test(test_wrong_alias_blocked),
		cmocka_unit_test(test_spurious_twice_not_blocked),
		cmocka_unit_test(test_mapgpa_shared_and_back),
		cmocka_unit_test(test_host_write_poisons),
		cmocka_unit_test(test_mmio),
		cmocka_unit_test(test_caller_errors),
		cmocka_unit_test(test_zap_refaults),
		cmocka_unit_test(test_vp_enter_flush),
		cmocka_unit_test(test_kick_protocol),
		cmocka_unit_test(test_zap_while_running),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
