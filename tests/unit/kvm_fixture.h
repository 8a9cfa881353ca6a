/* SPDX-License-Identifier: MIT */
/*
 * Test fixture for KVM on the emulated TDX module: a small host pool, a
 * module, memslots and a VM from kvm_create_vm() (TDP MMU), optionally with
 * KVM's trace kept in memory. SEAMCALLs are counted since kvm_fx_snap() with
 * tdx_module_calls(); kvm_fx_destroy() tears the VM down and checks that
 * nothing leaked. Tests that need more (a CPU model, extra checks) wrap these
 * functions, embedding struct kvm_fx in their own struct if needed.
 */
#ifndef TDXMMU_TESTS_KVM_FIXTURE_H
#define TDXMMU_TESTS_KVM_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "host/host_mem.h"
#include "kvm/kvm.h"
#include "kvm/mmu_page.h"
#include "kvm/tdp_iter.h"
#include "kvm/tdp_mmu.h"
#include "tdx/tdx_module.h"

#define KVM_FX_POOL_BYTES (64ULL << 20)

struct kvm_fx {
	struct host_mem *hm;
	struct tdx_module *m;
	struct host_memslots *slots;
	struct kvm *kvm;
	uint64_t frames_before;         /* in use before the memslots */
	uint64_t calls[TDX_NR_LEAVES];  /* at kvm_fx_snap() */
	uint64_t seq;                   /* kvm_mmu_change_seq() at kvm_fx_snap() */
	/* Calls of the counting callbacks (kvm_fx_count_callbacks()) since
	 * kvm_fx_snap(). */
	int shared_flushes, kicks;
	char *trace;                    /* KVM's trace if asked for */
	size_t trace_len;
	FILE *trace_f;
};

/*
 * A VM of `nr_vcpus` vCPUs, the given GPAW and MMU kind on a module seeded
 * with `seed`.
 * Memslot i is the (base, size) byte pair slots[2i], slots[2i + 1]; the list
 * ends with size 0. With `trace`, KVM traces into fx->trace (fflush
 * fx->trace_f before reading it). Not finalized.
 */
static inline void kvm_fx_create_mmu(struct kvm_fx *fx, uint64_t seed, unsigned gpaw,
				     unsigned nr_vcpus, const uint64_t *slots, bool trace,
				     enum kvm_mmu_kind mmu)
{
	struct kvm_config cfg = { .gpaw = gpaw, .nr_vcpus = nr_vcpus, .mmu = mmu };

	memset(fx, 0, sizeof(*fx));
	fx->hm = host_mem_create(KVM_FX_POOL_BYTES);
	assert_non_null(fx->hm);
	fx->m = tdx_module_create(fx->hm, seed);
	assert_non_null(fx->m);
	fx->slots = host_memslots_create(fx->hm);
	assert_non_null(fx->slots);
	fx->frames_before = host_mem_frames_in_use(fx->hm);
	for (unsigned i = 0; slots[2 * i + 1]; i++)
		assert_int_equal(host_memslot_add(fx->slots, i, slots[2 * i] >> PAGE_SHIFT,
						  slots[2 * i + 1] >> PAGE_SHIFT), 0);
	if (trace) {
		fx->trace_f = open_memstream(&fx->trace, &fx->trace_len);
		assert_non_null(fx->trace_f);
		cfg.trace = fx->trace_f;
	}
	assert_int_equal(kvm_create_vm(fx->hm, fx->slots, fx->m, &cfg, &fx->kvm), 0);
	assert_non_null(fx->kvm);
}

/* The TDP MMU's VM (see kvm_fx_create_mmu() for the legacy MMU's). */
static inline void kvm_fx_create(struct kvm_fx *fx, uint64_t seed, unsigned gpaw,
				 unsigned nr_vcpus, const uint64_t *slots, bool trace)
{
	kvm_fx_create_mmu(fx, seed, gpaw, nr_vcpus, slots, trace, KVM_MMU_TDP);
}

static inline void kvm_fx_flush_shared_tlbs(struct kvm *kvm)
{
	((struct kvm_fx *)kvm->cpu)->shared_flushes++;
}

static inline void kvm_fx_kick_all_vcpus(struct kvm *kvm)
{
	((struct kvm_fx *)kvm->cpu)->kicks++;
}

/* Replaces the CPU model's callbacks by counters (kvm->cpu points to fx). */
static inline void kvm_fx_count_callbacks(struct kvm_fx *fx)
{
	fx->kvm->cpu = fx;
	fx->kvm->flush_shared_tlbs = kvm_fx_flush_shared_tlbs;
	fx->kvm->kick_all_vcpus = kvm_fx_kick_all_vcpus;
}

/* Tears the TD's memory down (if the HKID is still assigned) and checks that
 * nothing leaked and the VM is not bugged. Idempotent: a test may call it
 * before kvm_fx_destroy() to check KVM's state in between. */
static inline void kvm_fx_teardown(struct kvm_fx *fx)
{
	assert_false(atomic_load(&fx->kvm->bugged));
	if (fx->kvm->hkid_assigned)
		assert_int_equal(kvm_tdx_teardown_memory(fx->kvm), 0);
	assert_int_equal(atomic_load(&fx->kvm->frames_leaked), 0);
	assert_false(atomic_load(&fx->kvm->bugged));
	assert_int_equal(kvm_mmu_pages_live(fx->kvm), 0);
}

/* Frees the trace, the memslots, the module and the pool without any check
 * (for a test that ends with a dead VM). */
static inline void kvm_fx_free(struct kvm_fx *fx)
{
	if (fx->trace_f)
		fclose(fx->trace_f);
	free(fx->trace);
	if (fx->slots)
		host_memslots_destroy(fx->slots);
	tdx_module_destroy(fx->m);
	host_mem_destroy(fx->hm);
}

static inline void kvm_fx_count_slot_frames(const struct host_memslot *s, void *arg)
{
	*(uint64_t *)arg += s->npages;
}

/* Tears the VM down and checks that nothing leaked: no page left in KVM or
 * the module, every frame but the memslots' back in the pool, and all of
 * them once the memslots are gone. */
static inline void kvm_fx_destroy_after_teardown(struct kvm_fx *fx)
{
	uint64_t leaked = ~0ULL, slot_frames = 0;

	assert_int_equal(kvm_destroy_vm(fx->kvm, &leaked), 0);
	assert_int_equal(leaked, 0);
	assert_int_equal(tdx_debug_nr_tds(fx->m), 0);
	/* KVM wrote back every freed page's lines under the right key (the
	 * TDR's under the global one): nothing the module recorded dirty. */
	assert_int_equal(tdx_debug_dirty_frames(fx->m), 0);
	host_memslots_foreach(fx->slots, kvm_fx_count_slot_frames, &slot_frames);
	assert_int_equal(host_mem_frames_in_use(fx->hm), fx->frames_before + slot_frames);
	host_memslots_destroy(fx->slots);
	fx->slots = NULL;
	assert_int_equal(host_mem_frames_in_use(fx->hm), fx->frames_before);
	kvm_fx_free(fx);
}

static inline void kvm_fx_destroy(struct kvm_fx *fx)
{
	kvm_fx_teardown(fx);
	kvm_fx_destroy_after_teardown(fx);
}

/*
 * The same for a VM that KVM killed (kvm->bugged): its teardown must still
 * be complete. Whatever KVM had to give up on while the TD lived is
 * RECLAIMed once the HKID is released, so nothing stays leaked: no frame,
 * no page-table page, no S-EPT page, and the module forgets the TD.
 */
static inline void kvm_fx_destroy_dead(struct kvm_fx *fx)
{
	assert_true(atomic_load(&fx->kvm->bugged));
	if (fx->kvm->hkid_assigned)
		assert_int_equal(kvm_tdx_teardown_memory(fx->kvm), 0);
	assert_int_equal(atomic_load(&fx->kvm->frames_leaked), 0);
	assert_int_equal(kvm_mmu_pages_live(fx->kvm), 0);
	kvm_fx_destroy_after_teardown(fx);
}

static inline void kvm_fx_snap(struct kvm_fx *fx)
{
	for (int i = 0; i < TDX_NR_LEAVES; i++)
		fx->calls[i] = tdx_module_calls(fx->m, i);
	fx->seq = kvm_mmu_change_seq(fx->kvm);
	fx->shared_flushes = 0;
	fx->kicks = 0;
}

/* SEAMCALLs of `leaf` since kvm_fx_snap(); -1: all leaves (but TDH.VP.ENTER
 * with skip_vp_enter). */
static inline uint64_t kvm_fx_delta(struct kvm_fx *fx, int leaf, bool skip_vp_enter)
{
	uint64_t n = 0;

	for (int i = 0; i < TDX_NR_LEAVES; i++)
		if (leaf == i || (leaf < 0 && !(skip_vp_enter && i == TDH_VP_ENTER)))
			n += tdx_module_calls(fx->m, i) - fx->calls[i];
	return n;
}

/* MMU changes (kvm_mmu_change_seq()) since kvm_fx_snap(). */
static inline uint64_t kvm_fx_seq_delta(struct kvm_fx *fx)
{
	return kvm_mmu_change_seq(fx->kvm) - fx->seq;
}

/* gpa with the shared bit set. */
static inline gpa_t kvm_fx_shared_gpa(struct kvm_fx *fx, gpa_t gpa)
{
	return gpa | (fx->kvm->gfn_shared_mask << PAGE_SHIFT);
}

static inline enum tdx_sept_state kvm_fx_sept_state(struct kvm_fx *fx, gpa_t gpa,
						    unsigned level)
{
	enum tdx_sept_state s = SEPT_NR_STATES;

	tdx_debug_sept_state(fx->m, fx->kvm->tdr, gpa, level, &s, NULL, NULL);
	return s;
}

/* The frame backing gpa (without the shared bit) in its memslot. */
static inline pfn_t kvm_fx_slot_pfn(struct kvm_fx *fx, gpa_t gpa)
{
	struct host_memslot s;

	assert_true(host_memslot_find(fx->slots, gpa >> PAGE_SHIFT, &s));
	return host_memslot_gfn_to_pfn(&s, gpa >> PAGE_SHIFT);
}

static inline bool kvm_fx_trace_has(struct kvm_fx *fx, const char *line)
{
	fflush(fx->trace_f);
	return fx->trace && strstr(fx->trace, line);
}

/* The VM was killed, and its trace says why (cmocka's message buffer is
 * short: a failure shows the trace's end). */
static inline void kvm_fx_assert_bugged(struct kvm_fx *fx, const char *why)
{
	assert_true(atomic_load(&fx->kvm->bugged));
	if (!kvm_fx_trace_has(fx, why)) {
		const char *t = fx->trace ? fx->trace : "";
		size_t n = strlen(t);

		fail_msg("no \"%s\" in the trace, which ends:\n%s", why,
			 n > 400 ? t + n - 400 : t);
	}
}

/* A finalized TD whose only memslot is 4 MiB (gfn 0..1023) backed by 2M
 * pages. */
static inline void kvm_fx_create_huge(struct kvm_fx *fx)
{
	static const uint64_t none[] = { 0, 0 };

	kvm_fx_create(fx, 1, 48, 1, none, true);
	assert_int_equal(host_memslot_add_huge(fx->slots, 0, 0, (4ULL << 20) >> PAGE_SHIFT,
					       true), 0);
	assert_int_equal(kvm_tdx_finalize_vm(fx->kvm), 0);
}

/* A TDP MMU fault on vCPU 0's S-EPT cache, topped up first, under the read
 * side of mmu_lock, mapping at most max_level. */
static inline int kvm_fx_fault_level(struct kvm_fx *fx, gpa_t gpa, int max_level)
{
	struct kvm_mmu_memory_cache *mc = &fx->kvm->vcpus[0].sept_cache;
	int ret;

	assert_int_equal(kvm_mmu_topup_sept_cache(fx->kvm, mc), 0);
	kvm_mmu_read_lock(fx->kvm);
	ret = kvm_tdp_mmu_map_level(fx->kvm, mc, gpa, max_level);
	kvm_mmu_read_unlock(fx->kvm);
	return ret;
}

/* The entry of raw_gfn at `level` in a root (NULL if a table above is
 * missing): lets a test put a tree in a state by hand. */
static inline _Atomic uint64_t *kvm_fx_sptep_at(struct kvm_mmu_page *root, gfn_t raw_gfn,
						int level)
{
	struct tdp_iter iter;

	for_each_tdp_pte_min_level(iter, root, level, raw_gfn, raw_gfn + 1)
		if (iter.level == level)
			return iter.sptep;
	return NULL;
}

#endif /* TDXMMU_TESTS_KVM_FIXTURE_H */
