/* SPDX-License-Identifier: MIT */
/*
 * The paging-structure caches of the CPU model's TLB (cpu/tlb.h): a cached
 * non-leaf entry shortens the next walk (counted in entries read), INVEPT
 * drops it with the translations, and a table KVM frees without a flush is
 * walked into through the cached entry and reported (the model is broken,
 * as tdp_mmu.c reports its own lockless walk reading a freed table).
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
#include <time.h>

#include "cpu/cpu.h"
#include "cpu/cpu_internal.h"
#include "host/host_mem.h"
#include "kvm/kvm.h"
#include "kvm/mmu_page.h"
#include "kvm/spte.h"
#include "kvm/tdp_mmu.h"
#include "tdx/tdx_module.h"

#include "kvm_fixture.h"

#define SLOT_PAGES 512 /* gfn 0..511: 2M of guest memory */
#define SLOT_END ((uint64_t)SLOT_PAGES << PAGE_SHIFT)

struct vm {
	struct kvm_fx fx;
	struct cpu *cpu;
};

static void vm_create(struct vm *vm)
{
	static const uint64_t slot[] = { 0, SLOT_END, 0, 0 };

	kvm_fx_create(&vm->fx, 1, 48, 1, slot, false);
	assert_int_equal(cpu_create(vm->fx.kvm, vm->fx.m, vm->fx.hm, TDXMMU_ACCEPT_AUTO,
				    &vm->cpu), 0);
	assert_int_equal(kvm_tdx_finalize_vm(vm->fx.kvm), 0);
}

static void vm_destroy(struct vm *vm)
{
	cpu_destroy(vm->cpu);
	kvm_fx_destroy(&vm->fx);
}

static uint64_t shared(struct vm *vm, uint64_t gpa)
{
	return kvm_fx_shared_gpa(&vm->fx, gpa);
}

static enum tdxmmu_outcome rd(struct vm *vm, uint64_t gpa)
{
	enum tdxmmu_outcome o = TDXMMU_OUTCOME_ERROR;
	uint64_t val;

	assert_int_equal(cpu_guest_read(vm->cpu, 0, gpa, &val, &o), 0);
	return o;
}

static enum tdxmmu_outcome mapgpa(struct vm *vm, uint64_t gpa, uint64_t size)
{
	enum tdxmmu_outcome o = TDXMMU_OUTCOME_ERROR;

	assert_int_equal(cpu_guest_mapgpa(vm->cpu, 0, gpa, size, &o), 0);
	return o;
}

static struct tlb *tlb0(struct vm *vm)
{
	return &vm->cpu->vcpus[0].tlb;
}

/* Entries a read of gpa reads in walks, its translation dropped first (the
 * vCPU does not run: this thread owns its TLB between actions). */
static uint64_t walk_reads_of(struct vm *vm, uint64_t gpa)
{
	uint64_t before;

	tlb_invalidate(tlb0(vm), gpa);
	before = tlb0(vm)->walk_reads;
	assert_int_equal(rd(vm, gpa), TDXMMU_OUTCOME_OK);
	return tlb0(vm)->walk_reads - before;
}

/* The structures themselves: lookups find the deepest level, fills replace
 * round robin, flushes go by privateness. */
static void test_psc_unit(void **state)
{
	struct tlb t;
	uint64_t table = 0;

	(void)state;
	tlb_init(&t);
	assert_int_equal(tlb_psc_lookup(&t, 0x5000, false, 1, 4, &table), 0);
	tlb_psc_fill(&t, 0x5000, false, 1, 4, 0x400);
	tlb_psc_fill(&t, 0x5000, false, 1, 3, 0x300);
	assert_int_equal(tlb_psc_lookup(&t, 0x6000, false, 1, 4, &table), 2);
	assert_int_equal(table, 0x300);
	tlb_psc_fill(&t, 0x5000, false, 1, 2, 0x200);
	assert_int_equal(tlb_psc_lookup(&t, 0x6000, false, 1, 4, &table), 1);
	assert_int_equal(table, 0x200);
	/* Another 2M range: only the PDPTE covers it. */
	assert_int_equal(tlb_psc_lookup(&t, 0x200000, false, 1, 4, &table), 2);
	/* Another EPTP, the other privateness: nothing. */
	assert_int_equal(tlb_psc_lookup(&t, 0x6000, false, 2, 4, &table), 0);
	assert_int_equal(tlb_psc_lookup(&t, 0x6000, true, 1, 4, &table), 0);
	/* top_level bounds the search (a 3-level root has no PML4Es). */
	assert_int_equal(tlb_psc_lookup(&t, 0x400000000000ULL, false, 1, 4, &table), 0);
	tlb_psc_fill(&t, 0x5000, true, 9, 2, 0x900);
	assert_int_equal(tlb_psc_nr_valid(&t), 4);
	tlb_flush_private(&t);
	assert_int_equal(tlb_psc_nr_valid(&t), 3);
	tlb_flush_shared(&t);
	assert_int_equal(tlb_psc_nr_valid(&t), 0);
	/* A full set replaces round robin, never overflows. */
	for (uint64_t i = 0; i < 2 * PSC_WAYS; i++)
		tlb_psc_fill(&t, i << 21, false, 1, 2, i);
	assert_int_equal(tlb_psc_nr_valid(&t), PSC_WAYS);
	/* The entry the last lookup found is tried first (tlb.c): it must
	 * answer only for its own range, root and privateness, and not once
	 * replaced or flushed. */
	assert_int_equal(tlb_psc_lookup(&t, (2 * PSC_WAYS - 1) << 21, false, 1, 2, &table), 1);
	assert_int_equal(table, 2 * PSC_WAYS - 1);
	assert_int_equal(tlb_psc_lookup(&t, (2 * PSC_WAYS - 2) << 21, false, 1, 2, &table), 1);
	assert_int_equal(table, 2 * PSC_WAYS - 2);
	assert_int_equal(tlb_psc_lookup(&t, (2 * PSC_WAYS - 2) << 21, false, 2, 2, &table), 0);
	assert_int_equal(tlb_psc_lookup(&t, (2 * PSC_WAYS - 2) << 21, true, 1, 2, &table), 0);
	tlb_psc_fill(&t, 0x7000ULL << 21, false, 1, 2, 0x77);
	tlb_psc_fill(&t, 0x7001ULL << 21, false, 1, 2, 0x78);
	tlb_psc_fill(&t, 0x7002ULL << 21, false, 1, 2, 0x79);
	tlb_psc_fill(&t, 0x7003ULL << 21, false, 1, 2, 0x7a);
	assert_int_equal(tlb_psc_lookup(&t, (2 * PSC_WAYS - 2) << 21, false, 1, 2, &table), 0);
	assert_int_equal(tlb_psc_lookup(&t, 0x7001ULL << 21, false, 1, 2, &table), 1);
	assert_int_equal(table, 0x78);
	tlb_flush_all(&t);
	assert_int_equal(tlb_psc_nr_valid(&t), 0);
	assert_int_equal(tlb_psc_lookup(&t, 0x7001ULL << 21, false, 1, 2, &table), 0);
}

/* Shared EPT: after one walk of a 2M range, a walk of another page in it
 * reads one entry (the leaf, from the cached PDE); after INVEPT it reads
 * every level from the root. */
static void test_psc_shared_walk(void **state)
{
	struct vm vm;
	int levels;

	(void)state;
	vm_create(&vm);
	assert_int_equal(mapgpa(&vm, shared(&vm, 0), 0x10000), TDXMMU_OUTCOME_OK);
	assert_int_equal(rd(&vm, shared(&vm, 0x5000)), TDXMMU_OUTCOME_OK);
	assert_int_equal(rd(&vm, shared(&vm, 0x6000)), TDXMMU_OUTCOME_OK);
	levels = (int)vm.fx.kvm->shared_root->role.level;
	assert_true(tlb_psc_nr_valid(tlb0(&vm)) >= (unsigned)levels - 1);

	assert_int_equal(walk_reads_of(&vm, shared(&vm, 0x6000)), 1);
	tlb_flush_shared(tlb0(&vm));
	assert_int_equal(tlb_psc_nr_valid(tlb0(&vm)), 0);
	assert_int_equal(walk_reads_of(&vm, shared(&vm, 0x6000)), levels);
	/* Filled again on the way. */
	assert_int_equal(walk_reads_of(&vm, shared(&vm, 0x5000)), 1);
	vm_destroy(&vm);
}

/* The same for the Secure EPT walk; its INVEPT is the private flush. */
static void test_psc_private_walk(void **state)
{
	struct vm vm;
	unsigned levels;

	(void)state;
	vm_create(&vm);
	assert_int_equal(rd(&vm, 0x5000), TDXMMU_OUTCOME_OK);
	assert_int_equal(rd(&vm, 0x6000), TDXMMU_OUTCOME_OK);
	levels = vm.cpu->vcpus[0].sept_top + 1;
	assert_int_equal(levels, 4);

	assert_int_equal(walk_reads_of(&vm, 0x6000), 1);
	tlb_flush_private(tlb0(&vm));
	assert_int_equal(walk_reads_of(&vm, 0x6000), levels);
	assert_int_equal(walk_reads_of(&vm, 0x5000), 1);
	/* A shared flush leaves the private side alone. */
	tlb_flush_shared(tlb0(&vm));
	assert_int_equal(walk_reads_of(&vm, 0x5000), 1);
	vm_destroy(&vm);
}

/*
 * Memslot deletion frees the shared tables it leaves empty (tdp_mmu.h).
 * With KVM's flush, the vCPU's next walk starts from the root and finds no
 * translation (no memslot: MMIO). Without it (the CPU model's flush
 * callback detached for the zap), the cached PDE still names the freed
 * table: the walk reads its poison and the model reports it.
 */
static void run_free_without_flush(bool flush)
{
	struct vm vm;
	void (*cb)(struct kvm *kvm);
	uint64_t live;

	vm_create(&vm);
	/* The shared alias of a private page: KVM links the shared tables on
	 * the way down and maps nothing (`blocked`); the walks that found the
	 * leaf missing cached the entries above it. Tables with nothing in
	 * them are what memslot deletion frees. */
	assert_int_equal(rd(&vm, shared(&vm, 0x5000)), TDXMMU_OUTCOME_BLOCKED);
	assert_true(tlb_psc_nr_valid(tlb0(&vm)) > 0);

	live = kvm_mmu_pages_live(vm.fx.kvm);
	cb = vm.fx.kvm->flush_shared_tlbs;
	if (!flush)
		vm.fx.kvm->flush_shared_tlbs = NULL;
	assert_int_equal(kvm_delete_memslot(vm.fx.kvm, 0), 0);
	vm.fx.kvm->flush_shared_tlbs = cb;
	assert_true(kvm_stat_read(vm.fx.kvm, pages_rcu_freed) > 0);
	/* The tables go back to the arena (poisoned) after a grace period,
	 * on the RCU reclaimer thread: wait for it (no reader is left). */
	for (int i = 0; i < 5000 && kvm_mmu_pages_live(vm.fx.kvm) == live; i++) {
		struct timespec ts = { .tv_nsec = 1000000 };

		nanosleep(&ts, NULL);
	}
	assert_true(kvm_mmu_pages_live(vm.fx.kvm) < live);

	if (flush) {
		assert_int_equal(rd(&vm, shared(&vm, 0x6000)), TDXMMU_OUTCOME_MMIO);
		assert_false(atomic_load(&vm.fx.kvm->model_broken));
		vm_destroy(&vm);
		return;
	}
	/* The page's neighbour: not in the TLB, so the walk runs, from the
	 * cached PDE into the freed table. */
	assert_int_equal(rd(&vm, shared(&vm, 0x6000)), TDXMMU_OUTCOME_BUGGED);
	assert_true(atomic_load(&vm.fx.kvm->model_broken));
	assert_true(atomic_load(&vm.fx.kvm->bugged));
	assert_non_null(strstr(cpu_last_error(), "freed shared-EPT table"));
	cpu_destroy(vm.cpu);
	/* A dead VM still tears down whole. */
	kvm_fx_destroy_dead(&vm.fx);
}

static void test_psc_free_with_flush(void **state)
{
	(void)state;
	run_free_without_flush(true);
}

static void test_psc_free_without_flush_detected(void **state)
{
	(void)state;
	run_free_without_flush(false);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_psc_unit),
		cmocka_unit_test(test_psc_shared_walk),
		cmocka_unit_test(test_psc_private_walk),
		cmocka_unit_test(test_psc_free_with_flush),
		cmocka_unit_test(test_psc_free_without_flush_detected),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
