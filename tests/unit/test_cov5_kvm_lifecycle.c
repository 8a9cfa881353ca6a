/* SPDX-License-Identifier: MIT */
/*
 * Two KVM paths at their edges (coverage round 5, issue 14):
 *  - kvm_create_vm() when the host runs out of frames part-way through the
 *    TD's build (a TDCS page, the TD_PARAMS page, a vCPU's TDVPR): -ENOMEM,
 *    no VM, the half-built TD taken apart (the module forgets it, every
 *    frame is the host's again), and a VM created afterwards works;
 *  - the EPT-violation handlers' local retry bound (tdx_exit.c and the
 *    legacy MMU's legacy_fault.c): a fault that keeps losing to a BUSY
 *    SEAMCALL that is not hopeless (an injected share below 100%) is
 *    retried in KVM 1 + 8 times, then answered RETRY with mmu_change_seq
 *    bumped (the vCPU re-enters and refaults; this RETRY must not read as
 *    "nothing can change"); once the contention is gone the fault maps.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>

#include "host/host_mem.h"
#include "kvm/kvm.h"
#include "kvm/mmu.h"
#include "kvm/mmu_legacy.h"
#include "tdx/seamcall.h"
#include "tdx/tdx_module.h"

#include "kvm_fixture.h"

#define MB (1ULL << 20)
#define POOL_FRAMES 512 /* a 2 MiB pool */

/* ---- creation out of frames ---- */

struct hoard {
	pfn_t pfns[POOL_FRAMES];
	unsigned nr;
};

/* Takes every free frame of the pool. */
static void hoard_all(struct host_mem *hm, struct hoard *h)
{
	pfn_t pfn;

	h->nr = 0;
	while (!host_mem_alloc_frame(hm, &pfn)) {
		assert_true(h->nr < POOL_FRAMES);
		h->pfns[h->nr++] = pfn;
	}
}

/* Gives `n` frames back, none of them 8-aligned when `unaligned` (a
 * TDVPR takes a frame at the start of an 8-frame group). */
static void hoard_release(struct host_mem *hm, struct hoard *h, unsigned n, bool unaligned)
{
	for (unsigned i = h->nr; n && i-- > 0;) {
		if (unaligned && !(h->pfns[i] & 7))
			continue;
		host_mem_free_frame(hm, h->pfns[i]);
		h->pfns[i] = h->pfns[--h->nr];
		n--;
	}
	assert_int_equal(n, 0);
}

static void hoard_free(struct host_mem *hm, struct hoard *h)
{
	while (h->nr)
		host_mem_free_frame(hm, h->pfns[--h->nr]);
}

static void test_create_out_of_frames(void **state)
{
	static const struct {
		unsigned frames; /* left to KVM */
		bool unaligned;
		const char *what;
	} cases[] = {
		{ 0, false, "the TDR" },
		{ 1 + 2, false, "the third TDCS page" },
		{ 1 + TDX_NUM_TDCS_PAGES, false, "the TD_PARAMS page" },
		/* TD_PARAMS is freed after TDH.MNG.INIT: one frame, unaligned. */
		{ 1 + TDX_NUM_TDCS_PAGES + 1, true, "the first vCPU's TDVPR" },
	};
	struct host_mem *hm = host_mem_create(POOL_FRAMES * PAGE_SIZE);
	struct tdx_module *m;
	struct host_memslots *slots;
	struct kvm_config cfg = { .gpaw = 48, .nr_vcpus = 1 };
	static struct hoard h;
	struct kvm *kvm;
	uint64_t leaked = 1;

	(void)state;
	assert_non_null(hm);
	m = tdx_module_create(hm, 1);
	assert_non_null(m);
	slots = host_memslots_create(hm);
	assert_non_null(slots);
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t in_use;

		hoard_all(hm, &h);
		hoard_release(hm, &h, cases[i].frames, cases[i].unaligned);
		in_use = host_mem_frames_in_use(hm);
		kvm = (struct kvm *)&h; /* must be overwritten */
		if (kvm_create_vm(hm, slots, m, &cfg, &kvm) != -ENOMEM)
			fail_msg("no -ENOMEM with %s missing", cases[i].what);
		assert_null(kvm);
		assert_int_equal(tdx_debug_nr_tds(m), 0);
		assert_int_equal(host_mem_frames_in_use(hm), in_use);
		hoard_free(hm, &h);
	}
	/* The key and every page are free again: a VM works. */
	assert_int_equal(kvm_create_vm(hm, slots, m, &cfg, &kvm), 0);
	assert_int_equal(kvm_tdx_finalize_vm(kvm), 0);
	assert_int_equal(kvm_destroy_vm(kvm, &leaked), 0);
	assert_int_equal(leaked, 0);
	assert_int_equal(tdx_debug_nr_tds(m), 0);
	host_memslots_destroy(slots);
	tdx_module_destroy(m);
	host_mem_destroy(hm);
}

/* ---- the local retry bound ---- */

/* Almost every PAGE.AUG meets BUSY (one in a million does not): real
 * contention as far as KVM can tell, never "hopeless". */
#define BUSY_PPM 999999

static void local_retry_bound(enum kvm_mmu_kind mmu)
{
	static const uint64_t slot[] = { 0, 2 * MB, 0, 0 };
	struct kvm_fx vm;
	struct kvm_vcpu *v;
	uint64_t retries;

	kvm_fx_create_mmu(&vm, 3, 48, 1, slot, false, mmu);
	assert_int_equal(kvm_tdx_finalize_vm(vm.kvm), 0);
	v = &vm.kvm->vcpus[0];
	/* The tables first, so that the fault below issues AUGs only. */
	assert_int_equal(kvm_tdx_handle_ept_violation(v, 0x1000), RET_PF_FIXED);
	tdx_module_inject_busy_leaf(vm.m, TDH_MEM_PAGE_AUG, BUSY_PPM);
	retries = kvm_stat_read(vm.kvm, fault_retry);
	kvm_fx_snap(&vm);
	assert_int_equal(kvm_tdx_handle_ept_violation(v, 0x2000), RET_PF_RETRY);
	assert_int_equal(kvm_fx_delta(&vm, TDH_MEM_PAGE_AUG, false), 1 + 8);
	assert_int_equal(kvm_stat_read(vm.kvm, fault_retry), retries + 1 + 8);
	/* Every AUG was rolled back. The TDP MMU counts its freeze and its
	 * rollback of each try (2 x 9); the legacy MMU changed no SPTE (the
	 * AUG comes before its store). Then the bump. */
	assert_int_equal(kvm_fx_seq_delta(&vm), (mmu == KVM_MMU_TDP ? 2 * (1 + 8) : 0) + 1);
	assert_false(atomic_load(&vm.kvm->bugged));
	tdx_module_inject_busy_leaf(vm.m, TDH_MEM_PAGE_AUG, 0);
	assert_int_equal(kvm_tdx_handle_ept_violation(v, 0x2000), RET_PF_FIXED);
	assert_int_equal(kvm_fx_sept_state(&vm, 0x2000, 0), SEPT_PENDING);
	kvm_fx_destroy(&vm);
}

static void test_local_retry_bound_tdp(void **state)
{
	(void)state;
	local_retry_bound(KVM_MMU_TDP);
}

static void test_local_retry_bound_legacy(void **state)
{
	(void)state;
	local_retry_bound(KVM_MMU_LEGACY);
}

/* ---- BUSY at finalize and at the TDR's write-back ---- */

/*
 * TDH.MR.FINALIZE and the TDR's TDH.PHYMEM.PAGE.WBINVD at destroy meet
 * BUSY once (injected: the module's lock as a vCPU thread leaving the TD
 * would hold it): KVM retries within its time budget, and both complete.
 */
static void test_finalize_and_tdr_wbinvd_retry_busy(void **state)
{
	static const uint64_t slot[] = { 0, 2 * MB, 0, 0 };
	struct kvm_fx vm;
	uint64_t leaked = 1, busy;

	(void)state;
	kvm_fx_create(&vm, 4, 48, 1, slot, false);
	tdx_module_inject_busy_nth(vm.m, TDH_MR_FINALIZE, 1, false);
	kvm_fx_snap(&vm);
	assert_int_equal(kvm_tdx_finalize_vm(vm.kvm), 0);
	assert_true(vm.kvm->finalized);
	assert_int_equal(kvm_fx_delta(&vm, TDH_MR_FINALIZE, false), 2);
	assert_int_equal(tdx_module_busy_injected(vm.m), 1);

	kvm_fx_teardown(&vm);
	busy = tdx_module_busy_injected(vm.m);
	/* No page left, so the first WBINVD from here on is the TDR's. */
	tdx_module_inject_busy_nth(vm.m, TDH_PHYMEM_PAGE_WBINVD, 1, false);
	kvm_fx_snap(&vm);
	assert_int_equal(kvm_destroy_vm(vm.kvm, &leaked), 0);
	assert_int_equal(leaked, 0);
	assert_int_equal(tdx_module_busy_injected(vm.m), busy + 1);
	assert_int_equal(kvm_fx_delta(&vm, TDH_PHYMEM_PAGE_WBINVD, false), 2);
	assert_int_equal(tdx_debug_nr_tds(vm.m), 0);
	assert_int_equal(tdx_debug_dirty_frames(vm.m), 0);
	host_memslots_destroy(vm.slots);
	vm.slots = NULL;
	assert_int_equal(host_mem_frames_in_use(vm.hm), vm.frames_before);
	kvm_fx_free(&vm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_out_of_frames),
		cmocka_unit_test(test_local_retry_bound_tdp),
		cmocka_unit_test(test_local_retry_bound_legacy),
		cmocka_unit_test(test_finalize_and_tdr_wbinvd_retry_busy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
