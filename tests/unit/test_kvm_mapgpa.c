/* SPDX-License-Identifier: MIT */
/*
 * MapGPA (src/kvm/mapgpa.c, the E4 design of kvm-tdx-mmu.md §6) and the
 * EPT-violation exit handler (src/kvm/tdx_exit.c) on a real TD: every
 * transition of the §6.5 table in both directions from each of the four
 * reachable (private, shared) states, with both 4K entries, the S-EPT state
 * and the SEAMCALL counts; operand errors; RETRY chunking; pre-population
 * refilling the S-EPT page cache; faults after conversion; BUSY injection.
 * The CPU model's callbacks are replaced by counters (kvm->cpu points to the
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
#include "kvm/tdp_iter.h"
#include "kvm/tdp_mmu.h"
#include "kvm/tdx_hooks.h"
#include "tdx/tdx_module.h"

#include "kvm_fixture.h"

#define MB (1ULL << 20)

/* A TD with memslots given as (base, size) byte pairs, ended by size 0. */
static void vm_create_slots(struct kvm_fx *vm, unsigned gpaw, bool finalize,
			    const uint64_t *slots)
{
	kvm_fx_create(vm, 1, gpaw, 2, slots, true);
	kvm_fx_count_callbacks(vm);
	if (finalize)
		assert_int_equal(kvm_tdx_finalize_vm(vm->kvm), 0);
}

static void vm_create(struct kvm_fx *vm, unsigned gpaw)
{
	static const uint64_t one_slot[] = { 0, 8 * MB, 0, 0 };

	vm_create_slots(vm, gpaw, true, one_slot);
}

/* SEAMCALLs of `leaf` since kvm_fx_snap(); -1: all leaves. */
static uint64_t delta(struct kvm_fx *vm, int leaf)
{
	return kvm_fx_delta(vm, leaf, false);
}

/* The shared bit. */
static uint64_t sbit(struct kvm_fx *vm)
{
	return kvm_fx_shared_gpa(vm, 0);
}

static uint64_t mapgpa(struct kvm_fx *vm, gpa_t gpa, uint64_t size, uint64_t *resume)
{
	uint64_t r = ~0ULL;
	uint64_t status = kvm_tdx_map_gpa(&vm->kvm->vcpus[1], gpa, size, &r);

	if (resume)
		*resume = r;
	return status;
}

/* The guest's loop (tdx-module-sept.md §10.2): re-issue from the resume
 * GPA on RETRY, checking it lies inside the range and moves forward. */
static uint64_t mapgpa_all(struct kvm_fx *vm, gpa_t gpa, uint64_t size, int *calls)
{
	gpa_t end = gpa + size;
	uint64_t status, resume;
	int n = 0;

	for (;;) {
		status = mapgpa(vm, gpa, end - gpa, &resume);
		n++;
		if (status != TDVMCALL_RETRY)
			break;
		assert_true(resume > gpa && resume < end);
		gpa = resume;
	}
	if (calls)
		*calls = n;
	return status;
}

static int ept(struct kvm_fx *vm, gpa_t gpa)
{
	return kvm_tdx_handle_ept_violation(&vm->kvm->vcpus[0], gpa);
}

static void read4k(struct kvm_fx *vm, gpa_t gpa, uint64_t *priv, uint64_t *shared)
{
	kvm_tdp_mmu_read_4k(vm->kvm, gpa >> PAGE_SHIFT, priv, shared);
}

/* The four reachable states of §6.5, as (private, shared) 4K entries. */
enum st { NP_NP, P_NP, NPS_NPS, NPS_PS };

static void expect_state(struct kvm_fx *vm, gpa_t gpa, enum st st)
{
	uint64_t priv, shared;

	read4k(vm, gpa, &priv, &shared);
	switch (st) {
	case NP_NP:
		assert_int_equal(priv, SHADOW_NONPRESENT_VALUE);
		assert_int_equal(shared, SHADOW_NONPRESENT_VALUE);
		assert_int_equal(kvm_fx_sept_state(vm, gpa, 0), SEPT_FREE);
		break;
	case P_NP:
		assert_true(is_shadow_present_pte(priv));
		assert_false(is_shared_spte(priv));
		assert_int_equal(spte_to_pfn(priv), kvm_fx_slot_pfn(vm, gpa));
		assert_int_equal(shared, SHADOW_NONPRESENT_VALUE);
		assert_int_equal(kvm_fx_sept_state(vm, gpa, 0), SEPT_PENDING);
		break;
	case NPS_NPS:
		assert_int_equal(priv, SHADOW_NONPRESENT_VALUE | SPTE_SHARED_MASK);
		assert_int_equal(shared, SHADOW_NONPRESENT_VALUE | SPTE_SHARED_MASK);
		assert_int_equal(kvm_fx_sept_state(vm, gpa, 0), SEPT_FREE);
		break;
	case NPS_PS:
		assert_int_equal(priv, SHADOW_NONPRESENT_VALUE | SPTE_SHARED_MASK);
		assert_true(is_shadow_present_pte(shared));
		assert_true(is_shared_spte(shared));
		assert_false(shared & PT64_EPT_EXECUTABLE_MASK);
		assert_int_equal(spte_to_pfn(shared), kvm_fx_slot_pfn(vm, gpa));
		assert_int_equal(kvm_fx_sept_state(vm, gpa, 0), SEPT_FREE);
		break;
	}
}

/* §11.2 invariants 8 and 9 over [start, end): S equal in both trees, never
 * (P|S, .), never (., P without S), never present in both. */
static void check_invariants(struct kvm_fx *vm, gpa_t start, gpa_t end)
{
	for (gpa_t gpa = start; gpa < end; gpa += PAGE_SIZE) {
		uint64_t priv, shared;

		read4k(vm, gpa, &priv, &shared);
		assert_int_equal(priv & SPTE_SHARED_MASK, shared & SPTE_SHARED_MASK);
		assert_false(is_shadow_present_pte(priv) && is_shared_spte(priv));
		assert_false(is_shadow_present_pte(shared) && !is_shared_spte(shared));
		assert_false(is_shadow_present_pte(priv) && is_shadow_present_pte(shared));
	}
}

/* Puts the page at gpa into `st` from (NP, NP). */
static void make_state(struct kvm_fx *vm, gpa_t gpa, enum st st)
{
	expect_state(vm, gpa, NP_NP);
	switch (st) {
	case NP_NP:
		break;
	case P_NP:
		assert_int_equal(ept(vm, gpa), RET_PF_FIXED);
		break;
	case NPS_NPS:
		assert_int_equal(mapgpa(vm, kvm_fx_shared_gpa(vm, gpa), PAGE_SIZE, NULL), TDVMCALL_SUCCESS);
		break;
	case NPS_PS:
		assert_int_equal(mapgpa(vm, kvm_fx_shared_gpa(vm, gpa), PAGE_SIZE, NULL), TDVMCALL_SUCCESS);
		assert_int_equal(ept(vm, kvm_fx_shared_gpa(vm, gpa)), RET_PF_FIXED);
		break;
	}
	expect_state(vm, gpa, st);
}

/* ---- operand checks: INVALID_OPERAND, resume = gpa, nothing changes ---- */

static void check_bad_operands(unsigned gpaw)
{
	struct bad_op {
		gpa_t gpa;
		uint64_t size;
	};
	struct kvm_fx vm;
	uint64_t sb, p1, s1, p2, s2, resume, calls;
	struct bad_op bad[] = {
		{ 0x1800, PAGE_SIZE },                /* misaligned start */
		{ 0x1000, 0x800 },                    /* misaligned size */
		{ 0x1000, 0 },                        /* size 0 */
		{ 0x1000, 0xfffffffffffff000ULL },    /* wraps */
		{ 0, 0 },                             /* shared:X + 2^64-4K, below */
		{ 0, 2 * PAGE_SIZE },                 /* mixed aliases, below */
		{ 0, 2 * PAGE_SIZE },                 /* beyond the GPAW, below */
		{ 0, PAGE_SIZE },                     /* entirely beyond, below */
		{ 0, 0 },                             /* end one page past, below */
	};
	unsigned n = sizeof(bad) / sizeof(bad[0]);

	vm_create(&vm, gpaw);
	sb = sbit(&vm);
	bad[4] = (struct bad_op){ sb | 0x1000, 0xfffffffffffff000ULL };
	bad[5] = (struct bad_op){ sb - PAGE_SIZE, 2 * PAGE_SIZE };
	bad[6] = (struct bad_op){ (sb << 1) - PAGE_SIZE, 2 * PAGE_SIZE };
	bad[7] = (struct bad_op){ sb << 1, PAGE_SIZE };
	bad[8] = (struct bad_op){ sb, sb + PAGE_SIZE };
	make_state(&vm, 0x1000, P_NP);
	make_state(&vm, 0x2000, NPS_PS);
	read4k(&vm, 0x1000, &p1, &s1);
	read4k(&vm, 0x2000, &p2, &s2);

	kvm_fx_snap(&vm);
	calls = kvm_stat_read(vm.kvm, mapgpa);
	for (unsigned i = 0; i < n; i++) {
		assert_int_equal(mapgpa(&vm, bad[i].gpa, bad[i].size, &resume),
				 TDVMCALL_INVALID_OPERAND);
		assert_int_equal(resume, bad[i].gpa);
		/* the shared-bit variant of the first two cases too */
		assert_int_equal(mapgpa(&vm, bad[i].gpa | (i < 2 ? sb : 0), bad[i].size,
					&resume), TDVMCALL_INVALID_OPERAND);
	}
	assert_int_equal(kvm_fx_seq_delta(&vm), 0);
	assert_int_equal(delta(&vm, -1), 0);
	assert_int_equal(vm.shared_flushes + vm.kicks, 0);
	assert_int_equal(kvm_stat_read(vm.kvm, mapgpa), calls + 2 * n);
	assert_int_equal(kvm_stat_read(vm.kvm, mapgpa_retry), 0);
	{
		uint64_t p, s;

		read4k(&vm, 0x1000, &p, &s);
		assert_int_equal(p, p1);
		assert_int_equal(s, s1);
		read4k(&vm, 0x2000, &p, &s);
		assert_int_equal(p, p2);
		assert_int_equal(s, s2);
	}
	assert_true(kvm_fx_trace_has(&vm, "kvm_tdx_map_gpa: gpa 0x1800 size 0x1000 to private -> INVALID_OPERAND"));
	/* The boundary cases that are fine: the last page of each alias. */
	assert_int_equal(mapgpa(&vm, (sb << 1) - PAGE_SIZE, PAGE_SIZE, NULL), TDVMCALL_SUCCESS);
	assert_int_equal(mapgpa(&vm, sb - PAGE_SIZE, PAGE_SIZE, NULL), TDVMCALL_SUCCESS);
	check_invariants(&vm, 0, 8 * MB);
	kvm_fx_destroy(&vm);
}

static void test_bad_operands_gpaw48(void **state)
{
	(void)state;
	check_bad_operands(48);
}

static void test_bad_operands_gpaw52(void **state)
{
	(void)state;
	check_bad_operands(52);
}

/* ---- MapGPA(shared) from each state ---- */

static void test_to_shared(void **state)
{
	enum { N = 8 };
	struct kvm_fx vm;
	uint64_t flushes;

	(void)state;
	vm_create(&vm, 48);
	/* gfns 0x10..0x17: (P, NP) with guest data; 0x18..0x1f: (NP, NP). */
	for (gpa_t g = 0x10; g < 0x10 + N; g++) {
		make_state(&vm, g << PAGE_SHIFT, P_NP);
		host_frame_fill(vm.hm, kvm_fx_slot_pfn(&vm, g << PAGE_SHIFT), 0x77, vm.kvm->hkid);
	}

	/* (P, NP) -> (NP|S, NP|S): N BLOCK, 1 TRACK, N REMOVE (+ N WBINVD),
	 * nothing else: the private tables exist, the shared ones need no
	 * SEAMCALL. (NP, NP) -> (NP|S, NP|S) by raw writes. */
	kvm_fx_snap(&vm);
	flushes = kvm_stat_read(vm.kvm, tlb_flush);
	assert_int_equal(mapgpa(&vm, kvm_fx_shared_gpa(&vm, 0x10000), 2 * N * PAGE_SIZE, NULL),
			 TDVMCALL_SUCCESS);
	assert_int_equal(delta(&vm, TDH_MEM_RANGE_BLOCK), N);
	assert_int_equal(delta(&vm, TDH_MEM_TRACK), 1);
	assert_int_equal(delta(&vm, TDH_MEM_PAGE_REMOVE), N);
	assert_int_equal(delta(&vm, TDH_PHYMEM_PAGE_WBINVD), N);
	assert_int_equal(delta(&vm, -1), 3 * N + 1);
	assert_int_equal(kvm_stat_read(vm.kvm, tlb_flush), flushes + 1);
	/* The TRACK's flush asks for the shared flush too: one in all. */
	assert_int_equal(vm.shared_flushes, 1);
	assert_int_equal(kvm_stat_read(vm.kvm, mapgpa), 1);
	for (gpa_t g = 0x10; g < 0x10 + 2 * N; g++) {
		pfn_t pfn = kvm_fx_slot_pfn(&vm, g << PAGE_SHIFT);

		expect_state(&vm, g << PAGE_SHIFT, NPS_NPS);
		/* The private content is lost: the frame left the TD cleared. */
		assert_int_equal(host_frame_keyid(vm.hm, pfn), HOST_KEYID_SHARED);
		assert_true(host_frame_is_zero(vm.hm, pfn));
	}
	/* The neighbours are untouched. */
	expect_state(&vm, 0xf000, NP_NP);
	expect_state(&vm, 0x20000, NP_NP);

	/* (NP|S, NP|S) -> itself: nothing at all. */
	kvm_fx_snap(&vm);
	assert_int_equal(mapgpa(&vm, kvm_fx_shared_gpa(&vm, 0x10000), 2 * N * PAGE_SIZE, NULL),
			 TDVMCALL_SUCCESS);
	assert_int_equal(delta(&vm, -1), 0);
	assert_int_equal(kvm_fx_seq_delta(&vm), 0);
	assert_int_equal(vm.shared_flushes + vm.kicks, 0);

	/* (NP|S, P|S) -> itself: the shared leaf stays mapped. */
	assert_int_equal(ept(&vm, kvm_fx_shared_gpa(&vm, 0x10000)), RET_PF_FIXED);
	kvm_fx_snap(&vm);
	assert_int_equal(mapgpa(&vm, kvm_fx_shared_gpa(&vm, 0x10000), PAGE_SIZE, NULL), TDVMCALL_SUCCESS);
	expect_state(&vm, 0x10000, NPS_PS);
	assert_int_equal(delta(&vm, -1), 0);
	assert_int_equal(kvm_fx_seq_delta(&vm), 0);

	/* Raw S flips in populated tables: no SEAMCALL, one change per entry
	 * per tree, one shared flush, no TRACK. */
	kvm_fx_snap(&vm);
	assert_int_equal(mapgpa(&vm, kvm_fx_shared_gpa(&vm, 0x30000), 16 * PAGE_SIZE, NULL),
			 TDVMCALL_SUCCESS);
	assert_int_equal(delta(&vm, -1), 0);
	assert_int_equal(kvm_fx_seq_delta(&vm), 2 * 16);
	assert_int_equal(vm.shared_flushes, 1);
	for (gpa_t g = 0x30; g < 0x40; g++)
		expect_state(&vm, g << PAGE_SHIFT, NPS_NPS);
	check_invariants(&vm, 0, 8 * MB);
	kvm_fx_destroy(&vm);
}

/* ---- MapGPA(private) from each state ---- */

static void test_to_private(void **state)
{
	struct kvm_fx vm;

	(void)state;
	vm_create(&vm, 48);
	make_state(&vm, 0x1000, P_NP);
	make_state(&vm, 0x2000, NPS_PS);
	make_state(&vm, 0x3000, NPS_NPS);
	host_frame_fill(vm.hm, kvm_fx_slot_pfn(&vm, 0x2000), 0x5a, HOST_KEYID_SHARED);

	/* (P, NP) and (NP, NP) -> unchanged: no SEAMCALL, no SPTE change,
	 * no flush (the tables of 0x4000 are there already). */
	kvm_fx_snap(&vm);
	assert_int_equal(mapgpa(&vm, 0x1000, PAGE_SIZE, NULL), TDVMCALL_SUCCESS);
	assert_int_equal(mapgpa(&vm, 0x4000, PAGE_SIZE, NULL), TDVMCALL_SUCCESS);
	assert_int_equal(delta(&vm, -1), 0);
	assert_int_equal(kvm_fx_seq_delta(&vm), 0);
	assert_int_equal(vm.shared_flushes + vm.kicks, 0);
	expect_state(&vm, 0x1000, P_NP);
	expect_state(&vm, 0x4000, NP_NP);

	/* (NP|S, P|S) -> (NP, NP): the shared leaf is zapped, S cleared in
	 * both trees; the remote flush (TRACK, shared flush) before the lock
	 * is dropped; the shared data stays in the host frame. */
	kvm_fx_snap(&vm);
	assert_int_equal(mapgpa(&vm, 0x2000, PAGE_SIZE, NULL), TDVMCALL_SUCCESS);
	assert_int_equal(delta(&vm, TDH_MEM_TRACK), 1);
	assert_int_equal(delta(&vm, -1), 1);
	assert_int_equal(vm.shared_flushes, 1);
	assert_int_equal(kvm_fx_seq_delta(&vm), 2);
	expect_state(&vm, 0x2000, NP_NP);
	assert_int_equal(host_frame_keyid(vm.hm, kvm_fx_slot_pfn(&vm, 0x2000)), HOST_KEYID_SHARED);
	assert_false(host_frame_is_zero(vm.hm, kvm_fx_slot_pfn(&vm, 0x2000)));

	/* (NP|S, NP|S) -> (NP, NP): S cleared in both, no SEAMCALL, the
	 * shared flush only. */
	kvm_fx_snap(&vm);
	assert_int_equal(mapgpa(&vm, 0x3000, PAGE_SIZE, NULL), TDVMCALL_SUCCESS);
	assert_int_equal(delta(&vm, -1), 0);
	assert_int_equal(vm.shared_flushes, 1);
	assert_int_equal(kvm_fx_seq_delta(&vm), 2);
	expect_state(&vm, 0x3000, NP_NP);

	/* All four states in one call. */
	make_state(&vm, 0x6000, NPS_PS);
	make_state(&vm, 0x7000, NPS_NPS);
	kvm_fx_snap(&vm);
	assert_int_equal(mapgpa(&vm, 0x1000, 8 * PAGE_SIZE, NULL), TDVMCALL_SUCCESS);
	assert_int_equal(delta(&vm, -1), 1); /* the TRACK of the shared zap */
	expect_state(&vm, 0x1000, P_NP);
	for (gpa_t g = 2; g < 9; g++)
		expect_state(&vm, g << PAGE_SHIFT, NP_NP);
	check_invariants(&vm, 0, 8 * MB);
	kvm_fx_destroy(&vm);
}

/* ---- faults after conversion (§6.5 fault rows) ---- */

static void test_faults_after_conversion(void **state)
{
	struct kvm_fx vm;
	uint64_t priv, shared;

	(void)state;
	vm_create(&vm, 48);
	make_state(&vm, 0x5000, NPS_NPS);

	/* fault(private) on NP|S: RETRY, nothing changed, no SEAMCALL. */
	kvm_fx_snap(&vm);
	assert_int_equal(ept(&vm, 0x5000), RET_PF_RETRY);
	assert_int_equal(kvm_fx_seq_delta(&vm), 0);
	assert_int_equal(delta(&vm, -1), 0);
	expect_state(&vm, 0x5000, NPS_NPS);
	assert_true(kvm_fx_trace_has(&vm, "kvm_page_fault: vcpu 0 address 0x5000 private 1 -> RETRY"));

	/* fault(shared) on NP without S (tables present): RETRY, unchanged. */
	assert_int_equal(mapgpa(&vm, 0x5000, PAGE_SIZE, NULL), TDVMCALL_SUCCESS);
	kvm_fx_snap(&vm);
	assert_int_equal(ept(&vm, kvm_fx_shared_gpa(&vm, 0x5000)), RET_PF_RETRY);
	assert_int_equal(kvm_fx_seq_delta(&vm), 0);
	assert_int_equal(delta(&vm, -1), 0);
	expect_state(&vm, 0x5000, NP_NP);

	/* fault(shared) on NP|S -> P|S, no SEAMCALL; the low 12 bits of the
	 * exit GPA do not matter. */
	assert_int_equal(mapgpa(&vm, kvm_fx_shared_gpa(&vm, 0x5000), PAGE_SIZE, NULL), TDVMCALL_SUCCESS);
	kvm_fx_snap(&vm);
	assert_int_equal(ept(&vm, kvm_fx_shared_gpa(&vm, 0x5000) | 0x123), RET_PF_FIXED);
	assert_int_equal(delta(&vm, -1), 0);
	assert_int_not_equal(kvm_fx_seq_delta(&vm), 0);
	expect_state(&vm, 0x5000, NPS_PS);
	assert_int_equal(ept(&vm, kvm_fx_shared_gpa(&vm, 0x5000)), RET_PF_SPURIOUS);
	/* fault(private) on (NP|S, P|S): RETRY. */
	kvm_fx_snap(&vm);
	assert_int_equal(ept(&vm, 0x5000), RET_PF_RETRY);
	assert_int_equal(kvm_fx_seq_delta(&vm), 0);

	/* private -> shared -> private: the S-EPT entry goes FREE, then the
	 * next private fault AUGs a fresh page, PENDING, zero. */
	make_state(&vm, 0x9000, P_NP);
	host_frame_fill(vm.hm, kvm_fx_slot_pfn(&vm, 0x9000), 0x99, vm.kvm->hkid);
	assert_int_equal(mapgpa(&vm, kvm_fx_shared_gpa(&vm, 0x9000), PAGE_SIZE, NULL), TDVMCALL_SUCCESS);
	expect_state(&vm, 0x9000, NPS_NPS);
	assert_int_equal(mapgpa(&vm, 0x9000, PAGE_SIZE, NULL), TDVMCALL_SUCCESS);
	expect_state(&vm, 0x9000, NP_NP);
	assert_true(host_frame_is_zero(vm.hm, kvm_fx_slot_pfn(&vm, 0x9000)));
	kvm_fx_snap(&vm);
	assert_int_equal(ept(&vm, 0x9000), RET_PF_FIXED);
	assert_int_equal(delta(&vm, TDH_MEM_PAGE_AUG), 1);
	assert_int_equal(delta(&vm, -1), 1);
	expect_state(&vm, 0x9000, P_NP);
	assert_int_equal(kvm_fx_sept_state(&vm, 0x9000, 0), SEPT_PENDING);

	/* No memslot: MMIO for a shared GPA, -EFAULT for a private one; no
	 * SEAMCALL, nothing installed. */
	kvm_fx_snap(&vm);
	assert_int_equal(ept(&vm, kvm_fx_shared_gpa(&vm, 64 * MB)), RET_PF_EMULATE);
	assert_int_equal(ept(&vm, 64 * MB), -EFAULT);
	assert_int_equal(delta(&vm, -1), 0);
	read4k(&vm, 64 * MB, &priv, &shared);
	assert_int_equal(priv, SHADOW_NONPRESENT_VALUE);
	assert_int_equal(shared, SHADOW_NONPRESENT_VALUE);
	assert_true(kvm_fx_trace_has(&vm, "private 1 -> -EFAULT"));
	assert_true(kvm_fx_trace_has(&vm, "private 0 -> EMULATE"));

	/* Exits counted by alias. */
	assert_int_equal(kvm_stat_read(vm.kvm, fault_private), 5);
	assert_int_equal(kvm_stat_read(vm.kvm, fault_shared), 4);
	check_invariants(&vm, 0, 8 * MB);
	kvm_fx_destroy(&vm);
}

/* ---- RETRY: chunks of kvm->mapgpa_chunk bytes ---- */

static void test_retry_chunks(void **state)
{
	static const uint64_t two_slots[] = { 0, 4 * MB, 4 * MB, 4 * MB, 0, 0 };
	struct kvm_fx vm;
	uint64_t resume;
	int calls;

	(void)state;
	vm_create_slots(&vm, 48, true, two_slots);
	assert_int_equal(vm.kvm->mapgpa_chunk, 0); /* default: 2 MiB */

	/* 2M + 4K from an odd page: the first call converts 2M, answers RETRY
	 * with the next GPA (shared bit kept). */
	assert_int_equal(mapgpa(&vm, kvm_fx_shared_gpa(&vm, 0x1ff000), 0x201000, &resume), TDVMCALL_RETRY);
	assert_int_equal(resume, kvm_fx_shared_gpa(&vm, 0x3ff000));
	assert_int_equal(kvm_stat_read(vm.kvm, mapgpa_retry), 1);
	expect_state(&vm, 0x1ff000, NPS_NPS);
	expect_state(&vm, 0x3fe000, NPS_NPS);
	expect_state(&vm, 0x3ff000, NP_NP);
	expect_state(&vm, 0x1fe000, NP_NP);
	check_invariants(&vm, 0x1f0000, 0x410000);
	assert_int_equal(mapgpa(&vm, resume, 0x1000, &resume), TDVMCALL_SUCCESS);
	expect_state(&vm, 0x3ff000, NPS_NPS);
	expect_state(&vm, 0x400000, NP_NP);
	assert_true(kvm_fx_trace_has(&vm, "kvm_tdx_map_gpa: gpa 0x8000001ff000 size 0x201000 to shared -> RETRY"));

	/* Across the memslot boundary, within one chunk: one call. */
	assert_int_equal(mapgpa_all(&vm, kvm_fx_shared_gpa(&vm, 0x3fd000), 0x6000, &calls),
			 TDVMCALL_SUCCESS);
	assert_int_equal(calls, 1);
	for (gpa_t g = 0x3fd000; g < 0x403000; g += PAGE_SIZE)
		expect_state(&vm, g, NPS_NPS);

	/* Small chunks: 64K in 16K chunks = 4 calls, 3 RETRY. */
	vm.kvm->mapgpa_chunk = 16 * 1024;
	assert_int_equal(mapgpa_all(&vm, kvm_fx_shared_gpa(&vm, 0x600000), 0x10000, &calls),
			 TDVMCALL_SUCCESS);
	assert_int_equal(calls, 4);
	assert_int_equal(kvm_stat_read(vm.kvm, mapgpa_retry), 1 + 3);
	/* Back, with an unaligned chunk size (rounded down to 4K: 4 pages). */
	vm.kvm->mapgpa_chunk = 5 * 4096 - 1;
	assert_int_equal(mapgpa_all(&vm, 0x600000, 0x10000, &calls), TDVMCALL_SUCCESS);
	assert_int_equal(calls, 4);
	for (gpa_t g = 0x600000; g < 0x610000; g += PAGE_SIZE)
		expect_state(&vm, g, NP_NP);

	/* No memslot at all: SUCCESS at once, nothing changed. */
	vm.kvm->mapgpa_chunk = 0;
	kvm_fx_snap(&vm);
	assert_int_equal(mapgpa(&vm, kvm_fx_shared_gpa(&vm, 16 * MB), 64 * MB, NULL), TDVMCALL_SUCCESS);
	assert_int_equal(kvm_fx_seq_delta(&vm), 0);
	assert_int_equal(delta(&vm, -1), 0);
	assert_int_equal(vm.shared_flushes + vm.kicks, 0);
	check_invariants(&vm, 0, 8 * MB);
	kvm_fx_destroy(&vm);
}

/* A hole between memslots is skipped: its gfns get no tables, no S; chunks
 * count from the first covered gfn. */
static void test_retry_skips_holes(void **state)
{
	static const uint64_t holey[] = { 0, 1 * MB, 3 * MB, 1 * MB, 0, 0 };
	struct kvm_fx vm;
	uint64_t resume, priv, shared;

	(void)state;
	vm_create_slots(&vm, 48, true, holey);
	/* [0, 4M): chunk [0, 2M) holds slot 0's 1M; RETRY at 2M. */
	assert_int_equal(mapgpa(&vm, kvm_fx_shared_gpa(&vm, 0), 4 * MB, &resume), TDVMCALL_RETRY);
	assert_int_equal(resume, kvm_fx_shared_gpa(&vm, 2 * MB));
	/* [2M, 4M): the chunk starts at slot 2's 3M and takes it all. */
	assert_int_equal(mapgpa(&vm, resume, 2 * MB, &resume), TDVMCALL_SUCCESS);
	expect_state(&vm, 0, NPS_NPS);
	expect_state(&vm, 1 * MB - PAGE_SIZE, NPS_NPS);
	expect_state(&vm, 3 * MB, NPS_NPS);
	expect_state(&vm, 4 * MB - PAGE_SIZE, NPS_NPS);
	for (gpa_t g = 1 * MB; g < 3 * MB; g += 64 * PAGE_SIZE) {
		read4k(&vm, g, &priv, &shared);
		assert_int_equal(priv, SHADOW_NONPRESENT_VALUE);
		assert_int_equal(shared, SHADOW_NONPRESENT_VALUE);
	}
	/* Chunks count range bytes from the first covered gfn, holes
	 * included: [512K, 4M) is [512K, 2.5M) (slot 0's half) then
	 * [3M, 4M) (the next call skips the rest of the hole). */
	assert_int_equal(mapgpa(&vm, 512 * 1024, 4 * MB - 512 * 1024, &resume),
			 TDVMCALL_RETRY);
	assert_int_equal(resume, 2 * MB + 512 * 1024);
	assert_int_equal(mapgpa(&vm, resume, 4 * MB - resume, &resume), TDVMCALL_SUCCESS);
	expect_state(&vm, 512 * 1024 - PAGE_SIZE, NPS_NPS);
	expect_state(&vm, 512 * 1024, NP_NP);
	expect_state(&vm, 3 * MB, NP_NP);
	expect_state(&vm, 4 * MB - PAGE_SIZE, NP_NP);
	check_invariants(&vm, 0, 4 * MB);
	kvm_fx_destroy(&vm);
}

/* ---- pre-population: tables for both trees, cache refilled ---- */

static void check_populate(unsigned gpaw, uint64_t nr_tables, uint32_t busy_ppm)
{
	static const uint64_t slot[] = { 0, 8 * MB, 0, 0 };
	struct kvm_fx vm;
	uint64_t pages;

	vm_create_slots(&vm, gpaw, true, slot);
	vm.kvm->mapgpa_chunk = 8 * MB;
	pages = kvm_stat_read(vm.kvm, pages_private_spt);
	if (busy_ppm) {
		/* SEPT.ADD answering BUSY under the write lock: that table is
		 * not linked, the locks are dropped, the pass starts over;
		 * every table ends up linked exactly once. */
		tdx_module_inject_busy(vm.m, busy_ppm);
		kvm_fx_snap(&vm);
		assert_int_equal(mapgpa(&vm, 0, 8 * MB, NULL), TDVMCALL_SUCCESS);
		tdx_module_inject_busy(vm.m, 0);
		assert_true(delta(&vm, TDH_MEM_SEPT_ADD) > nr_tables);
		assert_int_equal(kvm_stat_read(vm.kvm, pages_private_spt), pages + nr_tables);
		for (gpa_t g = 0; g < 8 * MB; g += 2 * MB)
			assert_int_equal(kvm_fx_sept_state(&vm, g, 1), SEPT_NL_MAPPED);
		assert_false(atomic_load(&vm.kvm->bugged));
		kvm_fx_destroy(&vm);
		return;
	}

	/* MapGPA(private) of untouched memory changes no leaf but links every
	 * table over the range in both trees: the private ones with SEPT.ADD,
	 * top-down. 8M needs 4 4K tables plus one per level above: more than
	 * the KVM_MMU_CACHE_MIN frames of one top-up, so the lock is dropped
	 * and the cache refilled midway. */
	kvm_fx_snap(&vm);
	assert_int_equal(mapgpa(&vm, 0, 8 * MB, NULL), TDVMCALL_SUCCESS);
	assert_true(nr_tables > KVM_MMU_CACHE_MIN);
	assert_int_equal(delta(&vm, TDH_MEM_SEPT_ADD), nr_tables);
	assert_int_equal(delta(&vm, -1), nr_tables);
	assert_int_equal(kvm_stat_read(vm.kvm, pages_private_spt), pages + nr_tables);
	assert_int_equal(kvm_stat_read(vm.kvm, pages_shared_spt), 1 + nr_tables);
	assert_int_equal(kvm_fx_seq_delta(&vm), 2 * nr_tables);
	for (gpa_t g = 0; g < 8 * MB; g += 2 * MB)
		assert_int_equal(kvm_fx_sept_state(&vm, g, 1), SEPT_NL_MAPPED);
	for (gpa_t g = 0; g < 8 * MB; g += 61 * PAGE_SIZE)
		expect_state(&vm, g, NP_NP);

	/* Every private fault in the range now needs exactly one SEAMCALL. */
	kvm_fx_snap(&vm);
	for (gpa_t g = 0; g < 8 * MB; g += 2 * MB - PAGE_SIZE)
		assert_int_equal(ept(&vm, g), RET_PF_FIXED);
	assert_int_equal(delta(&vm, TDH_MEM_SEPT_ADD), 0);
	assert_int_equal(delta(&vm, TDH_MEM_PAGE_AUG), 5);
	kvm_fx_destroy(&vm);
}

static void test_populate_refills_cache(void **state)
{
	(void)state;
	check_populate(48, 1 + 1 + 4, 0);
	check_populate(52, 1 + 1 + 1 + 4, 0);
	check_populate(52, 1 + 1 + 1 + 4, 500000);
}

/* ---- BUSY from the module: local retry, and MapGPA completes ---- */

static void test_busy_injection(void **state)
{
	enum { N = 48 };
	struct kvm_fx vm;
	int calls;

	(void)state;
	vm_create(&vm, 48);
	tdx_module_inject_busy(vm.m, 300000);
	for (int round = 0; round < 3; round++) {
		gpa_t base = (gpa_t)round * 2 * MB + 0x3000;

		/* Private faults: a RETRY answer always moved mmu_change_seq
		 * (a BUSY rollback is a change): the vCPU is never reported
		 * `blocked` on the right alias. */
		for (int i = 0; i < N; i++) {
			gpa_t gpa = base + (gpa_t)i * 5 * PAGE_SIZE;
			int ret;

			do {
				uint64_t seq = kvm_mmu_change_seq(vm.kvm);

				ret = ept(&vm, gpa);
				if (ret == RET_PF_RETRY)
					assert_int_not_equal(kvm_mmu_change_seq(vm.kvm), seq);
			} while (ret == RET_PF_RETRY);
			assert_int_equal(ret, RET_PF_FIXED);
		}
		/* To shared and back, across the pages. */
		assert_int_equal(mapgpa_all(&vm, kvm_fx_shared_gpa(&vm, base), N * 5 * PAGE_SIZE, &calls),
				 TDVMCALL_SUCCESS);
		for (int i = 0; i < N * 5; i++)
			expect_state(&vm, base + (gpa_t)i * PAGE_SIZE, NPS_NPS);
		for (int i = 0; i < N; i += 3)
			assert_int_equal(ept(&vm, kvm_fx_shared_gpa(&vm, base + (gpa_t)i * PAGE_SIZE)),
					 RET_PF_FIXED);
		assert_int_equal(mapgpa_all(&vm, base, N * 5 * PAGE_SIZE, &calls),
				 TDVMCALL_SUCCESS);
		for (int i = 0; i < N * 5; i++)
			expect_state(&vm, base + (gpa_t)i * PAGE_SIZE, NP_NP);
	}
	assert_true(kvm_stat_read(vm.kvm, retry_busy) > 0);
	assert_false(atomic_load(&vm.kvm->bugged));
	tdx_module_inject_busy(vm.m, 0);
	check_invariants(&vm, 0, 8 * MB);
	kvm_fx_destroy(&vm);
}

/*
 * The local retry (§4.3, E7): an exit whose attempt lost to BUSY is retried
 * in the handler, 1 + 8 attempts, before the vCPU re-enters; the answer
 * RETRY then comes with mmu_change_seq moved (each rollback is a change), so
 * it never reads as `blocked`. A wrong-alias RETRY is not retried. The BUSY
 * share is 999,999 ppm, not 100 %: an injection that picks every call is
 * hopeless, and the handler stops at once (checked at the end).
 */
static void test_local_retry(void **state)
{
	struct kvm_fx vm;
	uint64_t retries;

	(void)state;
	vm_create(&vm, 48);
	make_state(&vm, 0x1000, P_NP);     /* the tables are there */
	make_state(&vm, 0x3000, NPS_NPS);
	tdx_module_inject_busy(vm.m, 999999); /* the seed's draws: 9 BUSYs */
	kvm_fx_snap(&vm);
	retries = kvm_stat_read(vm.kvm, fault_retry);
	assert_int_equal(ept(&vm, 0x2000), RET_PF_RETRY);
	assert_int_equal(delta(&vm, TDH_MEM_PAGE_AUG), 1 + 8);
	assert_int_equal(delta(&vm, -1), 1 + 8);
	assert_int_equal(kvm_stat_read(vm.kvm, fault_retry), retries + 1 + 8);
	assert_int_equal(kvm_stat_read(vm.kvm, fault_private), 2);
	assert_int_not_equal(kvm_fx_seq_delta(&vm), 0);
	expect_state(&vm, 0x2000, NP_NP);
	/* The wrong alias: one attempt, nothing changed. */
	kvm_fx_snap(&vm);
	assert_int_equal(ept(&vm, 0x3000), RET_PF_RETRY);
	assert_int_equal(kvm_stat_read(vm.kvm, fault_retry), retries + 1 + 8 + 1);
	assert_int_equal(kvm_fx_seq_delta(&vm), 0);
	assert_int_equal(delta(&vm, -1), 0);
	/* Every call BUSY: one attempt, the handler gives up at once (its
	 * give-up counted for the vCPU, which ends the access `blocked`). */
	tdx_module_inject_busy(vm.m, 1000000);
	kvm_fx_snap(&vm);
	assert_int_equal(ept(&vm, 0x2000), RET_PF_RETRY);
	assert_int_equal(delta(&vm, TDH_MEM_PAGE_AUG), 1);
	assert_int_equal(tdx_module_busy_gave_up(vm.m), 1);
	tdx_module_inject_busy(vm.m, 0);
	assert_int_equal(ept(&vm, 0x2000), RET_PF_FIXED);
	kvm_fx_destroy(&vm);
}

/* ---- before finalize: REMOVE without BLOCK/TRACK ---- */

static void test_before_finalize(void **state)
{
	static const uint64_t slot[] = { 0, 2 * MB, 0, 0 };
	struct kvm_fx vm;
	pfn_t src;

	(void)state;
	vm_create_slots(&vm, 48, false, slot);
	assert_int_equal(host_mem_alloc_frame(vm.hm, &src), 0);
	host_frame_fill(vm.hm, src, 0x42, HOST_KEYID_SHARED);
	assert_int_equal(kvm_tdx_init_mem_page(vm.kvm, 0x8000, src), 0);
	assert_int_equal(kvm_fx_sept_state(&vm, 0x8000, 0), SEPT_MAPPED);
	kvm_fx_snap(&vm);
	assert_int_equal(mapgpa(&vm, kvm_fx_shared_gpa(&vm, 0x8000), PAGE_SIZE, NULL), TDVMCALL_SUCCESS);
	assert_int_equal(delta(&vm, TDH_MEM_PAGE_REMOVE), 1);
	assert_int_equal(delta(&vm, TDH_PHYMEM_PAGE_WBINVD), 1);
	assert_int_equal(delta(&vm, -1), 2);
	expect_state(&vm, 0x8000, NPS_NPS);
	host_mem_free_frame(vm.hm, src);
	kvm_fx_destroy(&vm);
}

/* The seeds' era (E4 §6.2, KVM_MAPGPA_WHOLE, the API's default): the whole
 * range in one call, no chunking. */
static void test_seed_whole_range(void **state)
{
	struct kvm_fx vm;
	int calls = 0;

	(void)state;
	vm_create(&vm, 48);
	vm.kvm->mapgpa_chunk = KVM_MAPGPA_WHOLE;
	assert_int_equal(mapgpa_all(&vm, sbit(&vm), 8 * MB, &calls), TDVMCALL_SUCCESS);
	assert_int_equal(calls, 1);
	assert_int_equal(kvm_stat_read(vm.kvm, mapgpa_retry), 0);
	assert_int_equal(mapgpa_all(&vm, 0x1000, 8 * MB - 0x2000, &calls), TDVMCALL_SUCCESS);
	assert_int_equal(calls, 1);
	check_invariants(&vm, 0, 8 * MB);
	kvm_fx_destroy(&vm);
}

/* -ENOMEM (the S-EPT cache cannot be topped up) is answered RETRY at the
 * chunk's start, nothing of it converted, so the guest re-issues (it was
 * INVALID_OPERAND: the guest's MapGPA failed for the host's lack of memory). */
static void test_enomem_is_retry(void **state)
{
	pfn_t *hog = malloc(sizeof(*hog) * (KVM_FX_POOL_BYTES >> PAGE_SHIFT));
	uint64_t resume = 0, priv, shr;
	struct kvm_fx vm;
	size_t nr = 0;
	pfn_t pfn;

	(void)state;
	assert_non_null(hog);
	vm_create(&vm, 48);
	vm.kvm->mapgpa_chunk = KVM_MAPGPA_WHOLE;
	while (!host_mem_alloc_frame(vm.hm, &pfn))
		hog[nr++] = pfn;
	assert_int_equal(mapgpa(&vm, sbit(&vm) | 0x3000, 0x1000, &resume), TDVMCALL_RETRY);
	assert_int_equal(resume, sbit(&vm) | 0x3000);
	assert_int_equal(kvm_stat_read(vm.kvm, mapgpa_retry), 1);
	read4k(&vm, 0x3000, &priv, &shr);
	assert_false(priv & SPTE_SHARED_MASK);
	while (nr)
		host_mem_free_frame(vm.hm, hog[--nr]);
	free(hog);
	assert_int_equal(mapgpa(&vm, sbit(&vm) | 0x3000, 0x1000, &resume), TDVMCALL_SUCCESS);
	read4k(&vm, 0x3000, &priv, &shr);
	assert_true(priv & SPTE_SHARED_MASK);
	check_invariants(&vm, 0, 8 * MB);
	kvm_fx_destroy(&vm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_operands_gpaw48),
		cmocka_unit_test(test_bad_operands_gpaw52),
		cmocka_unit_test(test_to_shared),
		cmocka_unit_test(test_to_private),
		cmocka_unit_test(test_faults_after_conversion),
		cmocka_unit_test(test_retry_chunks),
		cmocka_unit_test(test_retry_skips_holes),
		cmocka_unit_test(test_populate_refills_cache),
		cmocka_unit_test(test_busy_injection),
		cmocka_unit_test(test_local_retry),
		cmocka_unit_test(test_before_finalize),
		cmocka_unit_test(test_seed_whole_range),
		cmocka_unit_test(test_enomem_is_retry),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
