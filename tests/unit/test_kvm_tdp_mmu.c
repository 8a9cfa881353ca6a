/* SPDX-License-Identifier: MIT */
/*
 * KVM's TDP MMU end to end (src/kvm/tdp_mmu.c, tdx_hooks.c) on a real TD:
 * kvm_create_vm() against the emulated TDX module, then the fault path
 * before finalize (PAGE.ADD + MR.EXTEND) and after (PAGE.AUG), the §6.5
 * wrong-alias rules, zap batching, teardown, concurrent faults. SEAMCALLs are
 * counted with tdx_module_calls().
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/host_mem.h"
#include "kvm/kvm.h"
#include "kvm/spte.h"
#include "kvm/tdp_iter.h"
#include "kvm/tdp_mmu.h"
#include "tdx/tdx_module.h"

#include "kvm_fixture.h"

#define SLOT_PAGES 512 /* gfn 0..511: one 4K table's worth */

static void vm_create(struct kvm_fx *vm, unsigned gpaw, unsigned nr_vcpus, bool trace)
{
	static const uint64_t slot[] = { 0, (uint64_t)SLOT_PAGES << PAGE_SHIFT, 0, 0 };

	kvm_fx_create(vm, 1, gpaw, nr_vcpus, slot, trace);
}

/* kvm_fx_destroy(), and the teardown left no S-EPT or shared-EPT page. */
static void vm_destroy(struct kvm_fx *vm)
{
	kvm_fx_teardown(vm);
	assert_int_equal(kvm_stat_read(vm->kvm, pages_private_spt), 0);
	assert_int_equal(kvm_stat_read(vm->kvm, pages_shared_spt), 0);
	kvm_fx_destroy(vm);
}

/* SEAMCALLs of `leaf` since kvm_fx_snap(); -1: all leaves. */
static uint64_t delta(struct kvm_fx *vm, int leaf)
{
	return kvm_fx_delta(vm, leaf, false);
}

static int fault(struct kvm_fx *vm, gpa_t gpa)
{
	struct kvm_mmu_memory_cache *mc = &vm->kvm->vcpus[0].sept_cache;
	int ret;

	assert_int_equal(kvm_mmu_topup_sept_cache(vm->kvm, mc), 0);
	kvm_mmu_read_lock(vm->kvm);
	ret = kvm_tdp_mmu_map(vm->kvm, mc, gpa);
	kvm_mmu_read_unlock(vm->kvm);
	return ret;
}

static pfn_t new_source(struct kvm_fx *vm, uint8_t byte)
{
	pfn_t pfn;

	assert_int_equal(host_mem_alloc_frame(vm->hm, &pfn), 0);
	host_frame_fill(vm->hm, pfn, byte, HOST_KEYID_SHARED);
	return pfn;
}

/* The 4K entry of raw_gfn in a root (NULL if a table is missing); lets a
 * test play MapGPA's raw S-bit writes. */
static _Atomic uint64_t *sptep_4k(struct kvm_mmu_page *root, gfn_t raw_gfn)
{
	struct tdp_iter iter;

	for_each_tdp_pte(iter, root, raw_gfn, raw_gfn + 1)
		if (iter.level == PG_LEVEL_4K)
			return iter.sptep;
	return NULL;
}

/* The levels of the TDH.MEM.SEPT.ADD lines in the trace, in order. */
static int sept_add_levels(struct kvm_fx *vm, int *levels, int max)
{
	const char *p;
	int n = 0;

	fflush(vm->trace_f);
	for (p = vm->trace; p && (p = strstr(p, "TDH.MEM.SEPT.ADD rcx ")); p++) {
		unsigned long long rcx = strtoull(p + strlen("TDH.MEM.SEPT.ADD rcx "),
						  NULL, 16);

		assert_true(n < max);
		levels[n++] = (int)(rcx & 7);
	}
	return n;
}

/* ---- build time: PAGE.ADD through the fault path ---- */

static void test_build_time_page_add(void **state)
{
	struct kvm_fx vm;
	uint64_t priv, shared;
	pfn_t src;
	int levels[8];

	(void)state;
	vm_create(&vm, 48, 1, true);
	assert_int_equal(kvm_mmu_pages_live(vm.kvm), 2); /* the roots */
	src = new_source(&vm, 0xA5);

	/* An empty TD: SEPT.ADD for the three missing levels, top-down, then
	 * PAGE.ADD and 16 x MR.EXTEND; nothing else. */
	kvm_fx_snap(&vm);
	assert_int_equal(kvm_tdx_init_mem_page(vm.kvm, 0x5000, src), 0);
	assert_int_equal(delta(&vm, TDH_MEM_SEPT_ADD), 3);
	assert_int_equal(delta(&vm, TDH_MEM_PAGE_ADD), 1);
	assert_int_equal(delta(&vm, TDH_MR_EXTEND), 16);
	assert_int_equal(delta(&vm, -1), 3 + 1 + 16);
	assert_int_equal(sept_add_levels(&vm, levels, 8), 3);
	assert_int_equal(levels[0], 3);
	assert_int_equal(levels[1], 2);
	assert_int_equal(levels[2], 1);
	assert_int_equal(vm.kvm->source_pa, 0);
	assert_int_equal(kvm_fx_sept_state(&vm, 0x5000, 0), SEPT_MAPPED);
	assert_int_equal(kvm_stat_read(vm.kvm, pages_private_spt), 4);
	/* Build-time population is no EPT-violation exit. */
	assert_int_equal(kvm_stat_read(vm.kvm, fault_private), 0);

	kvm_tdp_mmu_read_4k(vm.kvm, 5, &priv, &shared);
	assert_true(is_shadow_present_pte(priv));
	assert_int_equal(spte_to_pfn(priv), kvm_fx_slot_pfn(&vm, 0x5000));
	assert_int_equal(priv & VMX_EPT_RWX_MASK, VMX_EPT_RWX_MASK);
	assert_int_equal(shared, SHADOW_NONPRESENT_VALUE);
	fflush(vm.trace_f);
	assert_non_null(strstr(vm.trace, "kvm_tdp_mmu_spte_changed: as id 0 gfn 0x5 level 1 "
				   "old_spte 0x8000000000000000 new_spte 0x"));

	/* A second page in the same table: no SEPT.ADD. */
	kvm_fx_snap(&vm);
	assert_int_equal(kvm_tdx_init_mem_page(vm.kvm, 0x6000, src), 0);
	assert_int_equal(delta(&vm, TDH_MEM_SEPT_ADD), 0);
	assert_int_equal(delta(&vm, TDH_MEM_PAGE_ADD), 1);

	/* The same page again: the mapping exists, nothing is added. */
	kvm_fx_snap(&vm);
	assert_int_equal(kvm_tdx_init_mem_page(vm.kvm, 0x5000, src), -EEXIST);
	assert_int_equal(delta(&vm, -1), 0);
	assert_int_equal(kvm_stat_read(vm.kvm, fault_spurious), 1);

	/* No memslot: -EFAULT from the private fault path, nothing issued. */
	kvm_fx_snap(&vm);
	kvm_mmu_read_lock(vm.kvm);
	assert_int_equal(kvm_tdp_mmu_map(vm.kvm, &vm.kvm->vcpus[0].sept_cache,
					 (gpa_t)SLOT_PAGES << PAGE_SHIFT), -EFAULT);
	kvm_mmu_read_unlock(vm.kvm);
	assert_int_equal(delta(&vm, -1), 0);

	host_mem_free_frame(vm.hm, src);
	vm_destroy(&vm);
}

/* ---- run time: PAGE.AUG ---- */

static void test_aug_after_finalize(void **state)
{
	struct kvm_fx vm;
	uint64_t priv;
	int levels[8];

	(void)state;
	vm_create(&vm, 48, 1, true);
	assert_int_equal(kvm_tdx_finalize_vm(vm.kvm), 0);

	/* An empty TD: SEPT.ADD x3 top-down, then one AUG. */
	kvm_fx_snap(&vm);
	assert_int_equal(fault(&vm, 0x10000), RET_PF_FIXED);
	assert_int_equal(delta(&vm, TDH_MEM_SEPT_ADD), 3);
	assert_int_equal(delta(&vm, TDH_MEM_PAGE_AUG), 1);
	assert_int_equal(delta(&vm, -1), 4);
	assert_int_equal(sept_add_levels(&vm, levels, 8), 3);
	assert_int_equal(levels[0], 3);
	assert_int_equal(levels[2], 1);
	assert_int_equal(kvm_fx_sept_state(&vm, 0x10000, 0), SEPT_PENDING);

	/* Tables present: exactly one SEAMCALL, PAGE.AUG. */
	kvm_fx_snap(&vm);
	assert_int_equal(fault(&vm, 0x11000), RET_PF_FIXED);
	assert_int_equal(delta(&vm, TDH_MEM_PAGE_AUG), 1);
	assert_int_equal(delta(&vm, -1), 1);
	kvm_tdp_mmu_read_4k(vm.kvm, 0x11, &priv, NULL);
	assert_int_equal(spte_to_pfn(priv), kvm_fx_slot_pfn(&vm, 0x11000));

	/* Refault: spurious, no SEAMCALL. */
	kvm_fx_snap(&vm);
	assert_int_equal(fault(&vm, 0x11000), RET_PF_SPURIOUS);
	assert_int_equal(delta(&vm, -1), 0);

	/* A shared fault never looks at the private tree; without S it
	 * loops (RET_PF_RETRY) with no SEAMCALL. */
	kvm_fx_snap(&vm);
	assert_int_equal(fault(&vm, kvm_fx_shared_gpa(&vm, 0x11000)), RET_PF_RETRY);
	assert_int_equal(delta(&vm, -1), 0);
	/* Shared GPA without a memslot: MMIO, nothing installed. */
	assert_int_equal(fault(&vm, kvm_fx_shared_gpa(&vm, (gpa_t)SLOT_PAGES << PAGE_SHIFT)),
			 RET_PF_EMULATE);
	/* Beyond the GPAW. */
	assert_int_equal(fault(&vm, 1ULL << 48), -EFAULT);

	vm_destroy(&vm);
}

/* ---- §6.5: the SPTE_SHARED_MASK state machine at 4K ---- */

/*
 * Fault walk hints (tdp_mmu.c): a fault may start at the 4K entry of the
 * table its thread's last walk of the same 2M range went through, while no
 * entry above 4K has been written since. Deleting the memslot unlinks the
 * shared tables its faults linked (empty: the shared alias of a private
 * page maps nothing) and frees them (at once here); the next fault there
 * must walk from the root and link new ones, as without a hint, not go
 * through the freed table the hint named.
 */
static void test_walk_hint_sees_table_unlink(void **state)
{
	struct kvm_fx vm;
	struct kvm *kvm;
	gfn_t sgfn;
	uint64_t tables;

	(void)state;
	vm_create(&vm, 48, 1, false);
	kvm = vm.kvm;
	sgfn = 0x20 | kvm->gfn_shared_mask;
	assert_int_equal(kvm_tdx_finalize_vm(kvm), 0);
	/* The first fault links the shared tables, the second walks them from
	 * the root and keeps them, the third starts at the 4K entry: each
	 * retries (the page is private), and links nothing more. */
	assert_int_equal(fault(&vm, sgfn << PAGE_SHIFT), RET_PF_RETRY);
	tables = kvm_stat_read(kvm, pages_shared_spt);
	assert_true(tables > 0);
	assert_int_equal(fault(&vm, sgfn << PAGE_SHIFT), RET_PF_RETRY);
	assert_int_equal(fault(&vm, (sgfn + 1) << PAGE_SHIFT), RET_PF_RETRY);
	assert_int_equal(kvm_stat_read(kvm, pages_shared_spt), tables);
	assert_non_null(sptep_4k(kvm->shared_root, sgfn));

	kvm->debug_free_immediately = true;
	assert_int_equal(kvm_delete_memslot(kvm, 0), 0);
	kvm->debug_free_immediately = false;
	/* The 4K table went (the slot covers its 2M), the ones above stay. */
	assert_int_equal(kvm_stat_read(kvm, pages_shared_spt), tables - 1);
	assert_null(sptep_4k(kvm->shared_root, sgfn));
	assert_int_equal(host_memslot_add(vm.slots, 0, 0, SLOT_PAGES), 0);

	assert_int_equal(fault(&vm, (sgfn + 2) << PAGE_SHIFT), RET_PF_RETRY);
	assert_int_equal(kvm_stat_read(kvm, pages_shared_spt), tables);
	assert_non_null(sptep_4k(kvm->shared_root, sgfn));
	assert_false(atomic_load(&kvm->model_broken));
	assert_false(atomic_load(&kvm->bugged));
	vm_destroy(&vm);
}

static void test_shared_bit_rules(void **state)
{
	struct kvm_fx vm;
	struct kvm *kvm;
	gfn_t gfn = 0x20, sgfn;
	_Atomic uint64_t *psptep, *ssptep;
	uint64_t priv, shared, before_p, before_s;

	(void)state;
	vm_create(&vm, 48, 1, false);
	kvm = vm.kvm;
	sgfn = gfn | kvm->gfn_shared_mask;
	assert_int_equal(kvm_tdx_finalize_vm(kvm), 0);

	/* (NP, NP): a shared fault retries; the 4K entries do not change. */
	kvm_fx_snap(&vm);
	assert_int_equal(fault(&vm, sgfn << PAGE_SHIFT), RET_PF_RETRY);
	kvm_tdp_mmu_read_4k(kvm, gfn, &priv, &shared);
	assert_int_equal(priv, SHADOW_NONPRESENT_VALUE);
	assert_int_equal(shared, SHADOW_NONPRESENT_VALUE);
	assert_int_equal(delta(&vm, -1), 0);
	assert_int_equal(kvm_stat_read(kvm, fault_retry), 1);

	/* (P, NP): private mapped. */
	assert_int_equal(fault(&vm, gfn << PAGE_SHIFT), RET_PF_FIXED);

	/* Play MapGPA(shared): zap the private leaf (S kept), then raw-write S
	 * into both 4K entries -> (NP|S, NP|S). */
	kvm_mmu_write_lock(kvm);
	assert_int_equal(kvm_tdp_mmu_zap_leafs(kvm, true, gfn, gfn + 1, true), 1);
	psptep = sptep_4k(kvm->private_root, gfn);
	ssptep = sptep_4k(kvm->shared_root, sgfn);
	assert_non_null(psptep);
	assert_non_null(ssptep);
	atomic_fetch_or(psptep, SPTE_SHARED_MASK);
	atomic_fetch_or(ssptep, SPTE_SHARED_MASK);
	kvm_mmu_write_unlock(kvm);
	assert_int_equal(kvm_fx_sept_state(&vm, gfn << PAGE_SHIFT, 0), SEPT_FREE);

	/* A private fault on NP|S: retry, nothing changed, no SEAMCALL. */
	kvm_tdp_mmu_read_4k(kvm, gfn, &before_p, &before_s);
	assert_int_equal(before_p, SHADOW_NONPRESENT_VALUE | SPTE_SHARED_MASK);
	kvm_fx_snap(&vm);
	assert_int_equal(fault(&vm, gfn << PAGE_SHIFT), RET_PF_RETRY);
	assert_int_equal(delta(&vm, -1), 0);
	kvm_tdp_mmu_read_4k(kvm, gfn, &priv, &shared);
	assert_int_equal(priv, before_p);
	assert_int_equal(shared, before_s);

	/* A shared fault on NP|S -> P|S: S kept, X dropped, the memslot's
	 * frame (both aliases share it), no SEAMCALL. */
	kvm_fx_snap(&vm);
	assert_int_equal(fault(&vm, sgfn << PAGE_SHIFT), RET_PF_FIXED);
	assert_int_equal(delta(&vm, -1), 0);
	kvm_tdp_mmu_read_4k(kvm, gfn, &priv, &shared);
	assert_int_equal(priv, before_p);
	assert_true(is_shadow_present_pte(shared));
	assert_true(is_shared_spte(shared));
	assert_false(shared & PT64_EPT_EXECUTABLE_MASK);
	assert_int_equal(spte_to_pfn(shared), kvm_fx_slot_pfn(&vm, gfn << PAGE_SHIFT));
	assert_int_equal(fault(&vm, sgfn << PAGE_SHIFT), RET_PF_SPURIOUS);

	/* zap(shared): P|S -> NP|S, one flush (TRACK), no per-leaf call. */
	kvm_fx_snap(&vm);
	kvm_mmu_write_lock(kvm);
	assert_int_equal(kvm_tdp_mmu_zap_leafs(kvm, false, 0, SLOT_PAGES, true), 1);
	kvm_mmu_write_unlock(kvm);
	assert_int_equal(delta(&vm, TDH_MEM_TRACK), 1);
	assert_int_equal(delta(&vm, -1), 1);
	kvm_tdp_mmu_read_4k(kvm, gfn, &priv, &shared);
	assert_int_equal(shared, SHADOW_NONPRESENT_VALUE | SPTE_SHARED_MASK);
	/* ... and without keep_shared_bit a present shared leaf goes to NP. */
	assert_int_equal(fault(&vm, sgfn << PAGE_SHIFT), RET_PF_FIXED);
	kvm_mmu_write_lock(kvm);
	assert_int_equal(kvm_tdp_mmu_zap_leafs(kvm, false, gfn, gfn + 1, false), 1);
	/* Nothing present left: zaps are no-ops. */
	assert_int_equal(kvm_tdp_mmu_zap_leafs(kvm, false, 0, SLOT_PAGES, true), 0);
	assert_int_equal(kvm_tdp_mmu_zap_leafs(kvm, true, 0, SLOT_PAGES, true), 0);
	kvm_mmu_write_unlock(kvm);
	kvm_tdp_mmu_read_4k(kvm, gfn, &priv, &shared);
	assert_int_equal(shared, SHADOW_NONPRESENT_VALUE);

	vm_destroy(&vm);
}

/* ---- zap batching ---- */

struct leaf_count {
	int n;
	gfn_t last;
};

static void count_leaf(struct kvm *kvm, gfn_t gfn, uint64_t spte, pfn_t pfn,
		       void *arg)
{
	struct leaf_count *c = arg;

	(void)kvm;
	assert_true(is_shadow_present_pte(spte));
	assert_int_equal(spte_to_pfn(spte), pfn);
	assert_true(c->n == 0 || gfn > c->last);
	c->last = gfn;
	c->n++;
}

static void test_zap_batching(void **state)
{
	enum { N = 8 };
	struct kvm_fx vm;
	struct leaf_count c = { 0 };
	uint64_t flushes;

	(void)state;
	vm_create(&vm, 48, 1, false);
	assert_int_equal(kvm_tdx_finalize_vm(vm.kvm), 0);
	for (gfn_t g = 0; g < N; g++)
		assert_int_equal(fault(&vm, (0x40 + g * 3) << PAGE_SHIFT), RET_PF_FIXED);
	kvm_tdp_mmu_foreach_private_leaf(vm.kvm, count_leaf, &c);
	assert_int_equal(c.n, N);

	/* N leaves -> N BLOCK, 1 TRACK, N REMOVE (+ N WBINVD), nothing else. */
	kvm_fx_snap(&vm);
	flushes = kvm_stat_read(vm.kvm, tlb_flush);
	kvm_mmu_write_lock(vm.kvm);
	assert_int_equal(kvm_tdp_mmu_zap_leafs(vm.kvm, true, 0, SLOT_PAGES, true), N);
	kvm_mmu_write_unlock(vm.kvm);
	assert_int_equal(delta(&vm, TDH_MEM_RANGE_BLOCK), N);
	assert_int_equal(delta(&vm, TDH_MEM_TRACK), 1);
	assert_int_equal(delta(&vm, TDH_MEM_PAGE_REMOVE), N);
	assert_int_equal(delta(&vm, TDH_PHYMEM_PAGE_WBINVD), N);
	assert_int_equal(delta(&vm, -1), 3 * N + 1);
	assert_int_equal(kvm_stat_read(vm.kvm, tlb_flush), flushes + 1);
	for (gfn_t g = 0; g < N; g++) {
		gfn_t gfn = 0x40 + g * 3;
		uint64_t priv;

		kvm_tdp_mmu_read_4k(vm.kvm, gfn, &priv, NULL);
		assert_int_equal(priv, SHADOW_NONPRESENT_VALUE);
		assert_int_equal(kvm_fx_sept_state(&vm, gfn << PAGE_SHIFT, 0), SEPT_FREE);
		/* The frame left the TD cleared. */
		assert_int_equal(host_frame_keyid(vm.hm, kvm_fx_slot_pfn(&vm, gfn << PAGE_SHIFT)),
				 HOST_KEYID_SHARED);
		assert_true(host_frame_is_zero(vm.hm, kvm_fx_slot_pfn(&vm, gfn << PAGE_SHIFT)));
	}
	/* Refault: a new AUG. */
	kvm_fx_snap(&vm);
	assert_int_equal(fault(&vm, 0x40 << PAGE_SHIFT), RET_PF_FIXED);
	assert_int_equal(delta(&vm, TDH_MEM_PAGE_AUG), 1);
	vm_destroy(&vm);
}

static void test_zap_before_finalize(void **state)
{
	struct kvm_fx vm;
	pfn_t src;

	(void)state;
	vm_create(&vm, 48, 1, false);
	src = new_source(&vm, 0x5A);
	for (gfn_t g = 0; g < 4; g++)
		assert_int_equal(kvm_tdx_init_mem_page(vm.kvm, (0x80 + g) << PAGE_SHIFT, src), 0);
	/* Before finalize: REMOVE directly, no BLOCK, no TRACK. */
	kvm_fx_snap(&vm);
	kvm_mmu_write_lock(vm.kvm);
	assert_int_equal(kvm_tdp_mmu_zap_leafs(vm.kvm, true, 0x81, 0x83, true), 2);
	kvm_mmu_write_unlock(vm.kvm);
	assert_int_equal(delta(&vm, TDH_MEM_PAGE_REMOVE), 2);
	assert_int_equal(delta(&vm, TDH_PHYMEM_PAGE_WBINVD), 2);
	assert_int_equal(delta(&vm, -1), 4);
	assert_int_equal(kvm_fx_sept_state(&vm, 0x80 << PAGE_SHIFT, 0), SEPT_MAPPED);
	assert_int_equal(kvm_fx_sept_state(&vm, 0x81 << PAGE_SHIFT, 0), SEPT_FREE);
	assert_int_equal(kvm_fx_sept_state(&vm, 0x83 << PAGE_SHIFT, 0), SEPT_MAPPED);
	host_mem_free_frame(vm.hm, src);
	vm_destroy(&vm); /* the remaining two go with the teardown */
}

/* ---- teardown ---- */

static void test_teardown_order(void **state)
{
	struct kvm_fx vm;
	pfn_t src;
	uint64_t pages;

	(void)state;
	vm_create(&vm, 52, 2, false);
	assert_int_equal(vm.kvm->root_level, PG_LEVEL_256T);
	src = new_source(&vm, 1);
	assert_int_equal(kvm_tdx_init_mem_page(vm.kvm, 0x1000, src), 0);
	assert_int_equal(kvm_tdx_finalize_vm(vm.kvm), 0);
	for (gfn_t g = 0x100; g < 0x110; g++)
		assert_int_equal(fault(&vm, g << PAGE_SHIFT), RET_PF_FIXED);
	/* Make the shared tree non-empty too. */
	assert_int_equal(fault(&vm, kvm_fx_shared_gpa(&vm, 0x1000)), RET_PF_RETRY);
	pages = kvm_stat_read(vm.kvm, pages_private_spt);
	assert_int_equal(pages, 5); /* root + 4 levels below a 5-level root */

	/* Step 1: leaves removed with the HKID assigned (E7). */
	kvm_fx_snap(&vm);
	kvm_mmu_write_lock(vm.kvm);
	assert_int_equal(kvm_tdp_mmu_zap_all_private_leaves(vm.kvm), 17);
	kvm_mmu_write_unlock(vm.kvm);
	assert_int_equal(delta(&vm, TDH_MEM_RANGE_BLOCK), 17);
	assert_int_equal(delta(&vm, TDH_MEM_TRACK), 1);
	assert_int_equal(delta(&vm, TDH_MEM_PAGE_REMOVE), 17);
	assert_int_equal(delta(&vm, TDH_PHYMEM_PAGE_RECLAIM), 0);

	/* Freeing a private table with the HKID still assigned is a KVM bug
	 * (v7/upstream): not exercised here, it would leak on purpose. Step
	 * 2 and 3 (release, then RECLAIM of the 4 S-EPT pages) run in
	 * vm_destroy(). */
	kvm_fx_snap(&vm);
	assert_int_equal(kvm_tdx_teardown_memory(vm.kvm), 0);
	assert_int_equal(delta(&vm, TDH_PHYMEM_PAGE_RECLAIM), 4);
	assert_int_equal(delta(&vm, TDH_MEM_PAGE_REMOVE), 0);
	assert_null(vm.kvm->private_root);
	assert_null(vm.kvm->shared_root);
	host_mem_free_frame(vm.hm, src);
	vm_destroy(&vm);
}

/* ---- concurrent faults on one GPA: one AUG, the others retry ---- */

struct racer {
	struct kvm_fx *vm;
	unsigned vcpu;
	gpa_t gpa;
	pthread_barrier_t *go;
	int fixed, spurious, retry;
};

static void *racer_fn(void *arg)
{
	struct racer *r = arg;
	struct kvm *kvm = r->vm->kvm;
	struct kvm_mmu_memory_cache *mc = &kvm->vcpus[r->vcpu].sept_cache;

	pthread_barrier_wait(r->go);
	for (int i = 0; i < 64; i++) {
		gpa_t gpa = r->gpa + ((gpa_t)(i % 16) << PAGE_SHIFT);
		int ret;

		if (kvm_mmu_topup_sept_cache(kvm, mc))
			abort();
		kvm_mmu_read_lock(kvm);
		ret = kvm_tdp_mmu_map(kvm, mc, gpa);
		kvm_mmu_read_unlock(kvm);
		if (ret == RET_PF_FIXED)
			r->fixed++;
		else if (ret == RET_PF_SPURIOUS)
			r->spurious++;
		else if (ret == RET_PF_RETRY)
			r->retry++;
		else
			abort();
	}
	return NULL;
}

static void test_concurrent_faults(void **state)
{
	enum { T = 4 };
	struct kvm_fx vm;
	struct racer r[T];
	pthread_t th[T];
	pthread_barrier_t go;
	int fixed = 0;
	struct leaf_count c = { 0 };

	(void)state;
	vm_create(&vm, 48, T, false);
	assert_int_equal(kvm_tdx_finalize_vm(vm.kvm), 0);
	pthread_barrier_init(&go, NULL, T);
	for (unsigned i = 0; i < T; i++) {
		r[i] = (struct racer){ .vm = &vm, .vcpu = i, .gpa = 0x100000, .go = &go };
		assert_int_equal(pthread_create(&th[i], NULL, racer_fn, &r[i]), 0);
	}
	for (unsigned i = 0; i < T; i++) {
		pthread_join(th[i], NULL);
		fixed += r[i].fixed;
	}
	pthread_barrier_destroy(&go);
	/* Each of the 16 GPAs was AUGed exactly once, whoever won. */
	assert_int_equal(fixed, 16);
	/* (BUSY answers, retried, count as calls too.) */
	assert_true(tdx_module_calls(vm.m, TDH_MEM_PAGE_AUG) >= 16);
	assert_true(tdx_module_calls(vm.m, TDH_MEM_SEPT_ADD) >= 3);
	kvm_tdp_mmu_foreach_private_leaf(vm.kvm, count_leaf, &c);
	assert_int_equal(c.n, 16);
	assert_false(atomic_load(&vm.kvm->bugged));
	vm_destroy(&vm);
}

/* ---- BUSY from the module: rollback and retry ---- */

static void test_busy_rollback(void **state)
{
	enum { N = 32 };
	struct kvm_fx vm;

	(void)state;
	vm_create(&vm, 48, 1, false);
	assert_int_equal(kvm_tdx_finalize_vm(vm.kvm), 0);
	/* 40% of the SEAMCALLs that can contend answer BUSY. */
	tdx_module_inject_busy(vm.m, 400000);
	for (gfn_t g = 0; g < N; g++) {
		gpa_t gpa = (0x100 + g * 7) << PAGE_SHIFT; /* several tables */
		int ret = RET_PF_RETRY;

		if (g == 1)
			gpa = 0x60000000; /* outside the memslot */
		for (int tries = 0; ret == RET_PF_RETRY && tries < 1000; tries++)
			ret = fault(&vm, gpa);
		if (g == 1) {
			assert_int_equal(ret, -EFAULT);
			continue;
		}
		assert_int_equal(ret, RET_PF_FIXED);
	}
	assert_true(kvm_stat_read(vm.kvm, retry_busy) > 0);
	assert_false(atomic_load(&vm.kvm->bugged));
	/* The mirror and the S-EPT agree: every mapped gfn PENDING, its
	 * neighbours FREE (a rolled-back AUG left nothing behind). */
	for (gfn_t g = 0; g < N; g++) {
		gfn_t gfn = 0x100 + g * 7;
		uint64_t priv;

		if (g == 1)
			continue;
		kvm_tdp_mmu_read_4k(vm.kvm, gfn, &priv, NULL);
		assert_true(is_shadow_present_pte(priv));
		assert_int_equal(kvm_fx_sept_state(&vm, gfn << PAGE_SHIFT, 0), SEPT_PENDING);
		kvm_tdp_mmu_read_4k(vm.kvm, gfn + 1, &priv, NULL);
		assert_false(is_shadow_present_pte(priv));
		assert_int_equal(kvm_fx_sept_state(&vm, (gfn + 1) << PAGE_SHIFT, 0), SEPT_FREE);
	}
	/* Zaps under the write lock retry BUSY themselves. */
	kvm_mmu_write_lock(vm.kvm);
	assert_int_equal(kvm_tdp_mmu_zap_leafs(vm.kvm, true, 0, SLOT_PAGES, true), N - 1);
	kvm_mmu_write_unlock(vm.kvm);
	assert_false(atomic_load(&vm.kvm->bugged));
	tdx_module_inject_busy(vm.m, 0);
	vm_destroy(&vm);
}

/* ---- KVM_BUG: freeing a private table with the HKID assigned ---- */

static void test_free_with_hkid_is_a_bug(void **state)
{
	struct kvm_fx vm;

	(void)state;
	vm_create(&vm, 48, 1, false);
	assert_int_equal(kvm_tdx_finalize_vm(vm.kvm), 0);
	assert_int_equal(fault(&vm, 0x3000), RET_PF_FIXED);
	kvm_mmu_write_lock(vm.kvm);
	assert_int_equal(kvm_tdp_mmu_zap_all_private_leaves(vm.kvm), 1);
	kvm_tdp_mmu_free_all(vm.kvm);
	kvm_mmu_write_unlock(vm.kvm);
	kvm_mmu_pages_quiesce(vm.kvm); /* KVM's pages go after a grace period */
	/* v7/upstream: a KVM bug; the three S-EPT pages are leaked on
	 * purpose, KVM's own pages are freed. */
	assert_true(atomic_load(&vm.kvm->bugged));
	assert_int_equal(atomic_load(&vm.kvm->frames_leaked), 3);
	assert_int_equal(kvm_mmu_pages_live(vm.kvm), 0);
	assert_int_equal(tdx_module_calls(vm.m, TDH_PHYMEM_PAGE_RECLAIM), 0);
	/* The bugged VM refuses faults. */
	assert_int_equal(fault(&vm, 0x4000), -EIO);
	/* The TD still owns the leaked pages, but once the HKID is released
	 * the module lets KVM RECLAIM them whatever their state: the dead
	 * VM's destroy is complete (it used to leak them and the TDR). */
	kvm_fx_destroy_dead(&vm);
}

/*
 * The key's release at teardown: TDH.PHYMEM.CACHE.WB writes the caches
 * back in sub-blocks and stops between two of them when a host interrupt
 * is pending, answering TDX_INTERRUPTED_RESUMABLE (tdx-module ABI; the
 * model's tdx_module_pend_host_interrupts()). KVM must call it again with
 * the resume flag until it completes (upstream KVM retries it with
 * resume set while it answers TDX_INTERRUPTED_RESUMABLE, in
 * smp_func_do_phymem_cache_wb()); taking the status as final would leave
 * the write-back undone, so the key could not be freed.
 * Two interrupts pending: three calls, then a clean teardown.
 */
static void test_cache_wb_interrupted_is_resumed(void **state)
{
	struct kvm_fx vm;

	(void)state;
	vm_create(&vm, 48, 1, false);
	assert_int_equal(kvm_tdx_finalize_vm(vm.kvm), 0);
	assert_int_equal(fault(&vm, 0x1000), RET_PF_FIXED);
	kvm_fx_snap(&vm);
	tdx_module_pend_host_interrupts(vm.m, 2);
	/* The memory teardown releases the HKID: the write-back is there. */
	kvm_fx_teardown(&vm);
	assert_false(vm.kvm->hkid_assigned);
	assert_int_equal(delta(&vm, TDH_PHYMEM_CACHE_WB), 3);
	vm_destroy(&vm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_build_time_page_add),
		cmocka_unit_test(test_aug_after_finalize),
		cmocka_unit_test(test_shared_bit_rules),
		cmocka_unit_test(test_walk_hint_sees_table_unlink),
		cmocka_unit_test(test_zap_batching),
		cmocka_unit_test(test_zap_before_finalize),
		cmocka_unit_test(test_teardown_order),
		cmocka_unit_test(test_concurrent_faults),
		cmocka_unit_test(test_busy_rollback),
		cmocka_unit_test(test_free_with_hkid_is_a_bug),
		cmocka_unit_test(test_cache_wb_interrupted_is_resumed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
