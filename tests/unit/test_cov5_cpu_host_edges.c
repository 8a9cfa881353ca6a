/* SPDX-License-Identifier: MIT */
/*
 * Edges of the CPU model and the host memory that the public API screens
 * off before they are reached (coverage round 5, issue 14). The CPU model
 * repeats the API's checks "so that internal callers get the same answers"
 * (guest.c): each is asserted here from an internal caller, with its error
 * code and message, and the state is checked unchanged afterwards. The host
 * pool's degenerate calls (empty ranges, a pfn outside the pool, a frame
 * copied onto itself) answer without touching anything.
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
#include "tdx/tdx_module.h"
#include "tdx/tdx_status.h"

#include "kvm_fixture.h"

#define SLOT_END (2ULL << 20)
#define POOL_FRAMES ((8ULL << 20) >> PAGE_SHIFT)

struct vm {
	struct kvm_fx fx;
	struct cpu *cpu;
};

static void vm_create(struct vm *vm)
{
	static const uint64_t slot[] = { 0, SLOT_END, 0, 0 };

	kvm_fx_create(&vm->fx, 1, 48, 2, slot, false);
	assert_int_equal(cpu_create(vm->fx.kvm, vm->fx.m, vm->fx.hm, TDXMMU_ACCEPT_AUTO,
				    &vm->cpu), 0);
	assert_int_equal(kvm_tdx_finalize_vm(vm->fx.kvm), 0);
}

static void vm_destroy(struct vm *vm)
{
	cpu_destroy(vm->cpu);
	kvm_fx_destroy(&vm->fx);
}

/* cpu_create() refuses an accept mode it does not know and a VM whose vCPU
 * count is 0 or above KVM_MAX_VCPUS (kvm_create_vm() refuses those too, so
 * only an internal caller with a hand-made VM can ask): -EINVAL, nothing
 * made, the VM's callbacks untouched. */
static void test_cpu_create_refuses(void **state)
{
	static const uint64_t slot[] = { 0, SLOT_END, 0, 0 };
	struct kvm_fx fx;
	struct cpu *cpu = (struct cpu *)&fx;
	unsigned saved;

	(void)state;
	kvm_fx_create(&fx, 1, 48, 1, slot, false);
	assert_int_equal(cpu_create(fx.kvm, fx.m, fx.hm, (enum tdxmmu_accept_mode)7, &cpu),
			 -EINVAL);
	assert_null(cpu);
	saved = fx.kvm->nr_vcpus;
	fx.kvm->nr_vcpus = 0;
	assert_int_equal(cpu_create(fx.kvm, fx.m, fx.hm, TDXMMU_ACCEPT_AUTO, &cpu), -EINVAL);
	fx.kvm->nr_vcpus = KVM_MAX_VCPUS + 1;
	assert_int_equal(cpu_create(fx.kvm, fx.m, fx.hm, TDXMMU_ACCEPT_EXPLICIT, &cpu), -EINVAL);
	assert_null(cpu);
	fx.kvm->nr_vcpus = saved;
	assert_null(fx.kvm->cpu);
	assert_null(fx.kvm->kick_all_vcpus);
	/* cpu_destroy(NULL) is a no-op, as free(NULL). */
	cpu_destroy(NULL);
	kvm_fx_destroy(&fx);
}

/* The range checks of the guest actions, from an internal caller: a touch
 * that is not 4K-aligned is -EINVAL; an empty range, one that wraps or
 * leaves the GPA width, and one that spans both aliases are -ERANGE; each
 * says which action and range in cpu_last_error(), and no SEAMCALL ran. */
static void test_guest_range_checks(void **state)
{
	struct vm vm;
	enum tdxmmu_outcome o;
	uint64_t calls, bad = 0;
	uint64_t shared = 1ULL << 47;

	(void)state;
	vm_create(&vm);
	calls = tdx_module_calls(vm.fx.m, TDH_VP_ENTER);

	assert_int_equal(cpu_guest_touch(vm.cpu, 0, 0x1008, 0x1000, false, &o), -EINVAL);
	assert_string_equal(cpu_last_error(), "touch: [0x1008, +0x1000) is not 4K-aligned");
	assert_int_equal(o, TDXMMU_OUTCOME_OK);
	assert_int_equal(cpu_guest_touch(vm.cpu, 0, 0x1000, 0x800, true, &o), -EINVAL);

	assert_int_equal(cpu_guest_touch(vm.cpu, 0, 0x1000, 0, false, &o), -ERANGE);
	assert_string_equal(cpu_last_error(), "touch: [0x1000, +0) is outside the GPA width");
	assert_int_equal(cpu_guest_touch(vm.cpu, 0, shared - 0x1000, 0x2000, false, &o),
			 -ERANGE);
	assert_string_equal(cpu_last_error(),
			    "touch: [0x7ffffffff000, +0x2000) spans both aliases");
	assert_int_equal(cpu_guest_verify(vm.cpu, 1, ~0xFFFULL, 0x2000, 0, &bad, &o), -ERANGE);
	assert_string_equal(cpu_last_error(),
			    "verify: [0xfffffffffffff000, +0x2000) is outside the GPA width");
	assert_int_equal(bad, UINT64_MAX); /* no mismatch to report */
	assert_int_equal(cpu_guest_verify(vm.cpu, 1, 1ULL << 48, 0x1000, 0, &bad, &o), -ERANGE);
	assert_int_equal(cpu_guest_fill(vm.cpu, 0, 0x1000, 0, 0xAA, &o), -ERANGE);
	assert_string_equal(cpu_last_error(), "fill: [0x1000, +0) is outside the GPA width");

	/* None of them entered the TD. */
	assert_int_equal(tdx_module_calls(vm.fx.m, TDH_VP_ENTER), calls);
	/* A good touch still works after them. */
	assert_int_equal(cpu_guest_touch(vm.cpu, 0, 0x1000, 0x2000, true, &o), 0);
	assert_int_equal(o, TDXMMU_OUTCOME_OK);
	vm_destroy(&vm);
}

/* `vcpu N enter` / `leave` from an internal caller: a vCPU the TD does not
 * have is -EINVAL with the count in the message; cpu_vcpu_held() follows
 * hold and unhold and is false for a vCPU that does not exist. */
static void test_hold_index_checks(void **state)
{
	struct vm vm;

	(void)state;
	vm_create(&vm);
	assert_int_equal(cpu_vcpu_hold(vm.cpu, 2), -EINVAL);
	assert_string_equal(cpu_last_error(), "vcpu 2: the TD has 2 vCPUs");
	assert_int_equal(cpu_vcpu_unhold(vm.cpu, 5), -EINVAL);
	assert_string_equal(cpu_last_error(), "vcpu 5: the TD has 2 vCPUs");
	assert_false(cpu_vcpu_held(vm.cpu, 2));
	assert_false(cpu_vcpu_held(vm.cpu, 1));
	assert_int_equal(cpu_vcpu_hold(vm.cpu, 1), 0);
	assert_true(cpu_vcpu_held(vm.cpu, 1));
	assert_false(cpu_vcpu_held(vm.cpu, 0));
	assert_int_equal(cpu_vcpu_unhold(vm.cpu, 1), 0);
	assert_false(cpu_vcpu_held(vm.cpu, 1));
	vm_destroy(&vm);
}

/* The CPU's private walk from a cached non-leaf entry that names a frame
 * which is not one of the TD's S-EPT pages (white-box: the entry is
 * overwritten, as a missed INVEPT after an S-EPT page's removal would leave
 * it): the access ends BUGGED, the model is marked broken and KVM's VM
 * dead, with the message naming the Secure-EPT page; the VM still tears
 * down, leaking nothing but what a broken model keeps on purpose. The
 * shared side's twin is test_cpu_psc's. */
static void test_sept_walk_stale_psc(void **state)
{
	struct vm vm;
	struct cpu_vcpu *v;
	enum tdxmmu_outcome o;
	uint64_t val, table = 0, cached = 0, leaked = ~0ULL;
	pfn_t bogus;

	(void)state;
	vm_create(&vm);
	assert_int_equal(cpu_guest_write(vm.cpu, 0, 0x5000, 7, &o), 0);
	assert_int_equal(o, TDXMMU_OUTCOME_OK);
	v = &vm.cpu->vcpus[0];
	assert_true(tlb_psc_lookup(&v->tlb, 0x6000, true, v->sept_root, (int)v->sept_top + 1,
				   &table) > 0);
	assert_int_equal(host_mem_alloc_frame(vm.fx.hm, &bogus), 0);
	tlb_psc_fill(&v->tlb, 0x6000, true, v->sept_root, 2, bogus);
	assert_int_equal(tlb_psc_lookup(&v->tlb, 0x6000, true, v->sept_root,
					(int)v->sept_top + 1, &table), 1);
	assert_int_equal(table, bogus);

	assert_int_equal(cpu_guest_read(vm.cpu, 0, 0x6000, &val, &o), 0);
	assert_int_equal(o, TDXMMU_OUTCOME_BUGGED);
	assert_true(atomic_load(&vm.fx.kvm->model_broken));
	assert_true(atomic_load(&vm.fx.kvm->bugged));
	assert_non_null(strstr(cpu_last_error(), "went through a freed Secure-EPT page"));
	host_mem_free_frame(vm.fx.hm, bogus);
	cpu_destroy(vm.cpu);

	/* The dead VM tears down whole (kvm_fx_destroy_dead()'s checks), but
	 * for one thing by design: with the model marked broken, the frames
	 * still in the vCPUs' S-EPT page caches are left to the pool's
	 * teardown (kvm_mmu_cache_free(): a broken model may have handed one
	 * out twice). Exactly those stay in use. */
	for (unsigned i = 0; i < vm.fx.kvm->nr_vcpus; i++)
		cached += vm.fx.kvm->vcpus[i].sept_cache.nr;
	assert_true(cached > 0);
	assert_int_equal(kvm_tdx_teardown_memory(vm.fx.kvm), 0);
	assert_int_equal(atomic_load(&vm.fx.kvm->frames_leaked), 0);
	assert_int_equal(kvm_mmu_pages_live(vm.fx.kvm), 0);
	assert_int_equal(kvm_destroy_vm(vm.fx.kvm, &leaked), 0);
	assert_int_equal(leaked, 0);
	assert_int_equal(tdx_debug_nr_tds(vm.fx.m), 0);
	assert_int_equal(tdx_debug_dirty_frames(vm.fx.m), 0);
	host_memslots_destroy(vm.fx.slots);
	vm.fx.slots = NULL;
	assert_int_equal(host_mem_frames_in_use(vm.fx.hm), vm.fx.frames_before + cached);
	kvm_fx_free(&vm.fx);
}

/* The CPU's TLB (white-box entries): a translation that does not allow a
 * write is dropped and the page walked again on a write (a permission
 * miss), which then completes; a translation to a frame the host has freed
 * is the model's inconsistency, reported as such (CPU_EBUG, which the API
 * turns into exit status 3; the message names the frame) and never used. */
static void test_tlb_permission_miss_and_freed_frame(void **state)
{
	struct vm vm;
	struct cpu_vcpu *v;
	enum tdxmmu_outcome o;
	uint64_t val = 0;
	const struct tlb_entry *e;
	pfn_t pfn, freed;
	char want[128];

	(void)state;
	vm_create(&vm);
	v = &vm.cpu->vcpus[0];
	assert_int_equal(cpu_guest_write(vm.cpu, 0, 0x5000, 1, &o), 0);
	assert_int_equal(o, TDXMMU_OUTCOME_OK);
	e = tlb_lookup(&v->tlb, 0x5000);
	assert_non_null(e);
	pfn = e->pfn;
	tlb_fill(&v->tlb, 0x5000, pfn, true, false);
	assert_false(tlb_lookup(&v->tlb, 0x5000)->writable);
	assert_int_equal(cpu_guest_write(vm.cpu, 0, 0x5000, 2, &o), 0);
	assert_int_equal(o, TDXMMU_OUTCOME_OK);
	assert_true(tlb_lookup(&v->tlb, 0x5000)->writable);
	assert_int_equal(cpu_guest_read(vm.cpu, 1, 0x5000, &val, &o), 0);
	assert_int_equal(val, 2);

	assert_int_equal(host_mem_alloc_frame(vm.fx.hm, &freed), 0);
	host_mem_free_frame(vm.fx.hm, freed);
	tlb_fill(&v->tlb, 0x5000, freed, true, true);
	assert_int_equal(cpu_guest_read(vm.cpu, 0, 0x5000, &val, &o), CPU_EBUG);
	snprintf(want, sizeof(want), "TLB entry 0x5000 -> pfn %#llx: the frame was freed",
		 (unsigned long long)freed);
	assert_non_null(strstr(cpu_last_error(), want));
	/* The right translation back: the vCPU goes on. */
	tlb_fill(&v->tlb, 0x5000, pfn, true, true);
	assert_int_equal(cpu_guest_read(vm.cpu, 0, 0x5000, &val, &o), 0);
	assert_int_equal(o, TDXMMU_OUTCOME_OK);
	assert_int_equal(val, 2);
	vm_destroy(&vm);
}

/* TDH.VP.ENTER answering BUSY_HOST_PRIORITY (the guest side of a host
 * priority claim, §11.1; here injected once): the CPU retries the entry as
 * for a plain BUSY, and the access completes. */
static void test_enter_busy_host_priority(void **state)
{
	struct vm vm;
	enum tdxmmu_outcome o;
	uint64_t calls, hits, val = 0;

	(void)state;
	vm_create(&vm);
	calls = tdx_module_calls(vm.fx.m, TDH_VP_ENTER);
	hits = tdx_module_status_hits(vm.fx.m);
	tdx_module_inject_status_nth(vm.fx.m, TDH_VP_ENTER, TDX_OPERAND_BUSY_HOST_PRIORITY, 1,
				     false);
	assert_int_equal(cpu_guest_write(vm.cpu, 1, 0x3000, 0x77, &o), 0);
	assert_int_equal(o, TDXMMU_OUTCOME_OK);
	assert_int_equal(tdx_module_status_hits(vm.fx.m) - hits, 1);
	assert_true(tdx_module_calls(vm.fx.m, TDH_VP_ENTER) - calls >= 2);
	assert_int_equal(cpu_guest_read(vm.cpu, 1, 0x3000, &val, &o), 0);
	assert_int_equal(val, 0x77);
	vm_destroy(&vm);
}

/* The paging-structure caches (tlb.h): a fill at a level they do not have
 * is ignored; a fill for a tag already cached replaces that entry (one per
 * tag, so the lookup's "last found" shortcut stays right); a lookup sees
 * only the levels below top_level, and only entries of the same EPTP and
 * privateness. */
static void test_psc_levels_and_tags(void **state)
{
	static struct tlb tlb;
	const uint64_t a = 0x40201000ULL, b = 0x80000000ULL, eptp = 0x1234;
	uint64_t table = 0;

	(void)state;
	tlb_init(&tlb);
	tlb_psc_fill(&tlb, a, true, eptp, 1, 0x111);
	tlb_psc_fill(&tlb, a, true, eptp, PSC_LEVELS + 2, 0x111);
	assert_int_equal(tlb_psc_nr_valid(&tlb), 0);

	tlb_psc_fill(&tlb, a, true, eptp, 2, 0x111);
	tlb_psc_fill(&tlb, a + 0x1000, true, eptp, 2, 0x222); /* same 2M: same tag */
	assert_int_equal(tlb_psc_nr_valid(&tlb), 1);
	assert_int_equal(tlb_psc_lookup(&tlb, a, true, eptp, 5, &table), 1);
	assert_int_equal(table, 0x222);
	assert_int_equal(tlb_psc_lookup(&tlb, a, true, eptp, 1, &table), 0);
	assert_int_equal(tlb_psc_lookup(&tlb, a, false, eptp, 5, &table), 0);
	assert_int_equal(tlb_psc_lookup(&tlb, a, true, eptp + 1, 5, &table), 0);

	/* A level-3 entry (a PDPTE: 1G) is found only if the walk's top is
	 * above it, and reports the table level below it. */
	tlb_psc_fill(&tlb, b, true, eptp, 3, 0x333);
	assert_int_equal(tlb_psc_lookup(&tlb, b + 0x3000, true, eptp, 5, &table), 2);
	assert_int_equal(table, 0x333);
	assert_int_equal(tlb_psc_lookup(&tlb, b + 0x3000, true, eptp, 2, &table), 0);
	assert_int_equal(tlb_psc_nr_valid(&tlb), 2);
	tlb_flush_all(&tlb);
	assert_int_equal(tlb_psc_nr_valid(&tlb), 0);
}

/* The pool's degenerate calls: an empty range frees nothing, a pfn outside
 * the pool is not allocated, zero-length reads and writes copy nothing (not
 * even a key change: the frame keeps its content), a one-frame clear_range
 * is a clear, and a frame copied onto itself keeps its content and takes
 * the destination key. */
static void test_host_mem_degenerate(void **state)
{
	struct host_mem *hm = host_mem_create(8ULL << 20);
	uint64_t in_use, v = 0x1122334455667788ULL, r = 0;
	pfn_t pfn, first;
	bool poisoned = true;

	(void)state;
	assert_non_null(hm);
	assert_null(host_mem_create(0));
	assert_int_equal(host_mem_alloc_frame(hm, &pfn), 0);
	in_use = host_mem_frames_in_use(hm);

	host_mem_free_range(hm, pfn, 0);
	assert_int_equal(host_mem_frames_in_use(hm), in_use);
	assert_true(host_mem_frame_allocated(hm, pfn));
	assert_false(host_mem_frame_allocated(hm, host_mem_first_pfn(hm) - 1));
	assert_false(host_mem_frame_allocated(hm, host_mem_first_pfn(hm) +
							 POOL_FRAMES));

	host_frame_write(hm, pfn, 8, &v, sizeof(v), HOST_KEYID_SHARED);
	host_frame_write(hm, pfn, 0, &v, 0, HOST_FIRST_PRIVATE_KEYID);
	assert_int_equal(host_frame_keyid(hm, pfn), HOST_KEYID_SHARED);
	r = 0xFF;
	host_frame_read(hm, pfn, 8, &r, 0, HOST_KEYID_SHARED, &poisoned);
	assert_int_equal(r, 0xFF);
	assert_false(poisoned);
	host_frame_read(hm, pfn, 8, &r, sizeof(r), HOST_KEYID_SHARED, NULL);
	assert_int_equal(r, v);

	host_frame_copy(hm, pfn, HOST_FIRST_PRIVATE_KEYID, pfn, HOST_KEYID_SHARED);
	assert_int_equal(host_frame_keyid(hm, pfn), HOST_FIRST_PRIVATE_KEYID);
	host_frame_read(hm, pfn, 8, &r, sizeof(r), HOST_FIRST_PRIVATE_KEYID, NULL);
	assert_int_equal(r, v);

	host_frame_clear_range(hm, pfn, 1, HOST_KEYID_SHARED);
	host_frame_read(hm, pfn, 8, &r, sizeof(r), HOST_KEYID_SHARED, NULL);
	assert_int_equal(r, 0);
	host_frame_clear_range(hm, pfn, 0, HOST_FIRST_PRIVATE_KEYID);
	assert_int_equal(host_frame_keyid(hm, pfn), HOST_KEYID_SHARED);

	/* A range round trip, and a request bigger than the pool. */
	assert_int_equal(host_mem_alloc_range(hm, 4, 4, &first), 0);
	assert_int_equal(host_mem_frames_in_use(hm), in_use + 4);
	host_mem_free_range(hm, first, 4);
	assert_int_equal(host_mem_alloc_range(hm, POOL_FRAMES + 1, 1, &first),
			 -ENOMEM);
	assert_int_equal(host_mem_alloc_range(hm, 4, 3, &first), -EINVAL);
	assert_int_equal(host_mem_frames_in_use(hm), in_use);
	host_mem_free_frame(hm, pfn);
	host_mem_destroy(hm);
}

/* A hugepages memslot needs a 2M-aligned base and size (contract 1.1):
 * either one misaligned is -EINVAL and no slot is made. */
static void test_memslot_huge_alignment(void **state)
{
	struct host_mem *hm = host_mem_create(16ULL << 20);
	struct host_memslots *ms;
	uint64_t in_use;

	(void)state;
	assert_non_null(hm);
	ms = host_memslots_create(hm);
	assert_non_null(ms);
	in_use = host_mem_frames_in_use(hm);
	assert_int_equal(host_memslot_add_huge(ms, 0, 1, HOST_HUGE_FRAMES, true), -EINVAL);
	assert_int_equal(host_memslot_add_huge(ms, 0, 0, HOST_HUGE_FRAMES + 1, true), -EINVAL);
	assert_int_equal(host_mem_frames_in_use(hm), in_use);
	assert_false(host_memslot_find(ms, 0, NULL));
	/* Without hugepages the same range is fine; aligned, it is too. */
	assert_int_equal(host_memslot_add_huge(ms, 0, 1, HOST_HUGE_FRAMES + 1, false), 0);
	assert_int_equal(host_memslot_add_huge(ms, 1, 4 * HOST_HUGE_FRAMES, HOST_HUGE_FRAMES,
					       true), 0);
	assert_int_equal(host_memslot_delete(ms, 0), 0);
	assert_int_equal(host_memslot_delete(ms, 1), 0);
	host_memslots_destroy(ms);
	host_mem_destroy(hm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cpu_create_refuses),
		cmocka_unit_test(test_guest_range_checks),
		cmocka_unit_test(test_hold_index_checks),
		cmocka_unit_test(test_sept_walk_stale_psc),
		cmocka_unit_test(test_enter_busy_host_priority),
		cmocka_unit_test(test_tlb_permission_miss_and_freed_frame),
		cmocka_unit_test(test_psc_levels_and_tags),
		cmocka_unit_test(test_host_mem_degenerate),
		cmocka_unit_test(test_memslot_huge_alignment),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
