/* SPDX-License-Identifier: MIT */
/*
 * The guest's #VE handler when its TDG.MEM.PAGE.ACCEPT exits to KVM
 * (coverage round 7, issue 14): the CPU's walk saw a PENDING leaf, but the
 * module's own walk for the ACCEPT finds nothing there, as when a zap lands
 * between the walk and the ACCEPT (guest.c, guest_ve). The two walks are made
 * to disagree deterministically, white-box: the vCPU's paging-structure cache
 * gets an entry for the faulting range that names a live S-EPT page of the
 * same TD but of another range, one that holds a PENDING leaf at the same
 * index (a cached non-leaf entry the module accepts: it is the TD's S-EPT
 * page; only the range differs). The CPU's walk then sees PENDING, the
 * ACCEPT walks from the root and exits (tdg_mem_page_accept.c, steps 2 and
 * 4), and KVM's EPT-violation handler answers for the faulting GPA itself.
 *
 * Asserted for the 4K ACCEPT and for Linux's 2M-then-4K fallback (hugepages
 * ref §3.1-3.2, try_accept_one: the 2M ACCEPT meets a 4K-leaf table there,
 * TDX_PAGE_SIZE_MISMATCH, and the 4K one exits):
 *  - no memslot at the GPA: KVM answers as for MMIO and the access ends
 *    `mmio` (cpu.c: a private GPA without a memslot would exit to user space
 *    with KVM_EXIT_MEMORY_FAULT, which the model has not);
 *  - KVM's fault fails (an injected -ENOMEM at a site that fails every
 *    time): KVM_RUN fails, the error goes back to the caller (-ENOMEM, the
 *    message names the handler), and the CPU does not loop;
 * and in every case nothing was accepted or mapped at the GPA and the page
 * the stale cache named is still PENDING (the guest accepted nothing it did
 * not mean to), and the VM tears down leak-free.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cpu/cpu.h"
#include "cpu/cpu_internal.h"
#include "cpu/tlb.h"
#include "host/host_mem.h"
#include "kvm/kvm.h"
#include "kvm/mmu.h"
#include "tdx/tdx_module.h"
#include "tdx/tdx_status.h"

#include "kvm_fixture.h"

#define GB (1ULL << 30)
#define MB2 (2ULL << 20)

/* Region A: [0, 2M) backed by a 2M page, mapped PENDING at 2M.
 * Region B: [1G, 1G + 0x5000) 4K pages, 0x4000 mapped PENDING at 4K.
 * Region C: [1G + 4M, 1G + 4M + 0x6000) 4K pages, never mapped. */
#define A_GPA 0ULL
#define B_BASE GB
#define B_PENDING (GB + 0x4000)
#define C_BASE (GB + 4 * MB2)

struct vm {
	struct kvm_fx fx;
	struct cpu *cpu;
	struct cpu_vcpu *v;
	/* The cached tables: A's 2M-leaf table (KVM level 2 in the cache:
	 * the walk starts at S-EPT level 1) and B's 4K-leaf table (level 1). */
	pfn_t table_a, table_b;
};

static pfn_t cached_table(struct vm *vm, uint64_t gpa, int *level);

static void vm_create(struct vm *vm)
{
	static const uint64_t slots[] = { B_BASE, 0x5000, C_BASE, 0x6000, 0, 0 };
	enum tdxmmu_outcome o;
	uint64_t val;
	int level;

	kvm_fx_create(&vm->fx, 1, 48, 1, slots, false);
	assert_int_equal(host_memslot_add_huge(vm->fx.slots, 2, A_GPA >> PAGE_SHIFT,
					       MB2 >> PAGE_SHIFT, true), 0);
	/* ACCEPT_EXPLICIT while the pages are set up: a touch ends `ve` and
	 * leaves the page PENDING; the handler is switched to auto below. */
	assert_int_equal(cpu_create(vm->fx.kvm, vm->fx.m, vm->fx.hm, TDXMMU_ACCEPT_EXPLICIT,
				    &vm->cpu), 0);
	assert_int_equal(kvm_tdx_finalize_vm(vm->fx.kvm), 0);
	vm->v = &vm->cpu->vcpus[0];
	assert_int_equal(kvm_fx_fault_level(&vm->fx, A_GPA, PG_LEVEL_2M), RET_PF_FIXED);
	assert_int_equal(kvm_fx_fault_level(&vm->fx, B_PENDING, PG_LEVEL_4K), RET_PF_FIXED);
	/* The guest's touches walk both (filling the paging-structure cache
	 * and the vCPU's S-EPT root) and end `ve`: both stay PENDING. */
	assert_int_equal(cpu_guest_read(vm->cpu, 0, A_GPA, &val, &o), 0);
	assert_int_equal(o, TDXMMU_OUTCOME_VE);
	assert_int_equal(cpu_guest_read(vm->cpu, 0, B_PENDING, &val, &o), 0);
	assert_int_equal(o, TDXMMU_OUTCOME_VE);
	vm->table_a = cached_table(vm, A_GPA, &level);
	assert_int_equal(level, 2);
	vm->table_b = cached_table(vm, B_PENDING, &level);
	assert_int_equal(level, 1);
	vm->cpu->accept = TDXMMU_ACCEPT_AUTO;
}

static void vm_destroy(struct vm *vm)
{
	cpu_destroy(vm->cpu);
	kvm_fx_destroy(&vm->fx);
}

static enum tdx_sept_state sept_state_at(struct vm *vm, uint64_t gpa, unsigned level)
{
	enum tdx_sept_state s = SEPT_NR_STATES;

	tdx_debug_sept_state(vm->fx.m, vm->fx.kvm->tdr, gpa, level, &s, NULL, NULL);
	return s;
}

/* The S-EPT table the vCPU's cache holds for `gpa`, and its KVM level. */
static pfn_t cached_table(struct vm *vm, uint64_t gpa, int *level)
{
	uint64_t table = 0;

	*level = tlb_psc_lookup(&vm->v->tlb, gpa, true, vm->v->sept_root,
				(int)vm->v->sept_top + 1, &table);
	assert_true(*level > 0);
	return (pfn_t)table;
}

/* Points the cache for `gpa` at table `t` (cached at `level`): the CPU's
 * walk of `gpa` then reads the PENDING leaf `t` holds at gpa's index. The
 * rest of the cache is dropped first: a deeper entry for `gpa` would be used
 * instead. */
static void stale_cache(struct vm *vm, uint64_t gpa, pfn_t t, int level)
{
	int got;

	tlb_flush_all(&vm->v->tlb);
	tlb_psc_fill(&vm->v->tlb, gpa, true, vm->v->sept_root, level + 1, t);
	assert_true(cached_table(vm, gpa, &got) == t);
	assert_int_equal(got, level);
}

/* The access and what must hold after it, whatever its answer: nothing
 * accepted at `gpa` (still FREE at 4K; its range's 2M entry untouched) and
 * the page the cache named still PENDING. */
static int access_with_stale_cache(struct vm *vm, uint64_t gpa, enum tdxmmu_outcome *o)
{
	uint64_t val = 1;
	int ret = cpu_guest_read(vm->cpu, 0, gpa, &val, o);

	/* An MMIO read without a device reads all-ones; a failed one, 0. */
	assert_int_equal(val, *o == TDXMMU_OUTCOME_MMIO ? ~0ULL : 0);
	assert_int_equal(sept_state_at(vm, A_GPA, 1), SEPT_PENDING);
	assert_int_equal(sept_state_at(vm, B_PENDING, 0), SEPT_PENDING);
	assert_int_equal(sept_state_at(vm, gpa, 0), SEPT_FREE);
	tlb_flush_all(&vm->v->tlb);
	return ret;
}

/* The 4K ACCEPT exits: the GPA's 2M range has no table in the S-EPT. */
static void test_accept_4k_exits(void **state)
{
	uint64_t mmio = B_PENDING + MB2, in_slot = C_BASE + 0x4000, hits;
	enum tdxmmu_outcome o;
	struct vm vm;

	(void)state;
	vm_create(&vm);
	/* No memslot at the GPA: `mmio`. */
	stale_cache(&vm, mmio, vm.table_b, 1);
	assert_int_equal(access_with_stale_cache(&vm, mmio, &o), 0);
	assert_int_equal(o, TDXMMU_OUTCOME_MMIO);

	/* In a memslot, KVM's fault cannot get the frame: -ENOMEM back. */
	kvm_inject_enomem(vm.fx.kvm, KVM_ALLOC_FRAME, 1000000);
	hits = kvm_enomem_hits(vm.fx.kvm);
	stale_cache(&vm, in_slot, vm.table_b, 1);
	assert_int_equal(access_with_stale_cache(&vm, in_slot, &o), -ENOMEM);
	assert_true(kvm_enomem_hits(vm.fx.kvm) > hits);
	assert_non_null(strstr(cpu_last_error(), "KVM's EPT-violation handler"));
	kvm_inject_enomem(vm.fx.kvm, KVM_ALLOC_FRAME, 0);

	/* The same GPA with a sound cache: the handler maps and the guest
	 * accepts it (the failures above left nothing half-made). */
	assert_int_equal(cpu_guest_write(vm.cpu, 0, in_slot, 5, &o), 0);
	assert_int_equal(o, TDXMMU_OUTCOME_OK);
	assert_int_equal(sept_state_at(&vm, in_slot, 0), SEPT_MAPPED);
	vm_destroy(&vm);
}

/* The CPU's walk sees a PENDING 2M leaf; the 2M ACCEPT meets a 4K-leaf
 * table (PAGE_SIZE_MISMATCH) and the 4K ACCEPT exits. */
static void test_accept_2m_fallback_exits(void **state)
{
	uint64_t mmio = B_BASE + 0x5000, in_slot = B_BASE + 0x3000, hits;
	enum tdxmmu_outcome o;
	struct vm vm;

	(void)state;
	vm_create(&vm);
	stale_cache(&vm, mmio, vm.table_a, 2);
	assert_int_equal(access_with_stale_cache(&vm, mmio, &o), 0);
	assert_int_equal(o, TDXMMU_OUTCOME_MMIO);
	/* The 2M range's entry is still the 4K-leaf table. */
	assert_int_equal(sept_state_at(&vm, B_BASE, 1), SEPT_NL_MAPPED);

	kvm_inject_enomem(vm.fx.kvm, KVM_ALLOC_FRAME, 1000000);
	hits = kvm_enomem_hits(vm.fx.kvm);
	stale_cache(&vm, in_slot, vm.table_a, 2);
	assert_int_equal(access_with_stale_cache(&vm, in_slot, &o), -ENOMEM);
	assert_true(kvm_enomem_hits(vm.fx.kvm) > hits);
	assert_non_null(strstr(cpu_last_error(), "KVM's EPT-violation handler"));
	kvm_inject_enomem(vm.fx.kvm, KVM_ALLOC_FRAME, 0);

	assert_int_equal(cpu_guest_write(vm.cpu, 0, in_slot, 5, &o), 0);
	assert_int_equal(o, TDXMMU_OUTCOME_OK);
	assert_int_equal(sept_state_at(&vm, in_slot, 0), SEPT_MAPPED);
	vm_destroy(&vm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accept_4k_exits),
		cmocka_unit_test(test_accept_2m_fallback_exits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
