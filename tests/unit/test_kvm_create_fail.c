/* SPDX-License-Identifier: MIT */
/*
 * VM creation failing part-way (issue 14 item 5): each SEAMCALL of the TD's
 * build (TDH.MNG.CREATE, KEY.CONFIG, each ADDCX, MNG.INIT, each vCPU's
 * VP.CREATE and VP.INIT) refused in turn by the module (error injection,
 * armed on the module before KVM exists). Each time kvm_create_vm() fails
 * cleanly (-EIO, no VM returned) and takes apart what it built, as
 * upstream's KVM_TDX_INIT_VM error path does: the module knows no TD any
 * more, every frame is the host's again, and a VM created afterwards on the
 * same module gets the same key and works. Before, KVM left the half-built
 * TD with the module and leaked its struct kvm. Also here, on the same rig:
 * KVM's own refusals of its build ioctls, the module dispatcher's
 * refusals, which come before any injected error, and KVM's lockdep
 * asserts aborting on a locking bug.
 */
#include <errno.h>

#include "kvm_fixture.h"
#include "expect_abort.h"

#include "kvm/mmu.h"
#include "tdx/seamcall.h"
#include "tdx/tdx_status.h"

#define MiB (1ULL << 20)

struct rig {
	struct host_mem *hm;
	struct tdx_module *m;
	struct host_memslots *slots;
	uint64_t frames_before;
};

static void rig_init(struct rig *r, uint64_t bytes)
{
	r->hm = host_mem_create(bytes);
	assert_non_null(r->hm);
	r->m = tdx_module_create(r->hm, 1);
	assert_non_null(r->m);
	r->slots = host_memslots_create(r->hm);
	assert_non_null(r->slots);
	assert_int_equal(host_memslot_add(r->slots, 0, 0, (4 * MiB) >> PAGE_SHIFT), 0);
	r->frames_before = host_mem_frames_in_use(r->hm);
}

static void rig_fini(struct rig *r)
{
	host_memslots_destroy(r->slots);
	tdx_module_destroy(r->m);
	host_mem_destroy(r->hm);
}

/* A VM on the rig that works: creation, finalize and a clean destroy show
 * that the key and every control page were free again. */
static void create_and_destroy(struct rig *r, enum kvm_mmu_kind mmu, unsigned vcpus)
{
	struct kvm_config cfg = { .gpaw = 48, .nr_vcpus = vcpus, .mmu = mmu };
	struct kvm *kvm = NULL;
	uint64_t leaked = 1;

	assert_int_equal(kvm_create_vm(r->hm, r->slots, r->m, &cfg, &kvm), 0);
	assert_int_equal(tdx_debug_nr_tds(r->m), 1);
	assert_int_equal(kvm_tdx_finalize_vm(kvm), 0);
	assert_int_equal(kvm_destroy_vm(kvm, &leaked), 0);
	assert_int_equal(leaked, 0);
	assert_int_equal(tdx_debug_nr_tds(r->m), 0);
	assert_int_equal(host_mem_frames_in_use(r->hm), r->frames_before);
}

struct build_call {
	int leaf;
	unsigned n; /* the n-th call of the leaf */
};

static void test_each_build_seamcall_refused(void **state)
{
	const unsigned vcpus = 2;
	struct build_call calls[16];
	unsigned nr = 0;

	(void)state;
	calls[nr++] = (struct build_call){ TDH_MNG_CREATE, 1 };
	calls[nr++] = (struct build_call){ TDH_MNG_KEY_CONFIG, 1 };
	for (unsigned i = 1; i <= 6; i++)
		calls[nr++] = (struct build_call){ TDH_MNG_ADDCX, i };
	calls[nr++] = (struct build_call){ TDH_MNG_INIT, 1 };
	for (unsigned i = 1; i <= vcpus; i++) {
		calls[nr++] = (struct build_call){ TDH_VP_CREATE, i };
		calls[nr++] = (struct build_call){ TDH_VP_INIT, i };
	}
	for (int mmu = KVM_MMU_TDP; mmu <= KVM_MMU_LEGACY; mmu++) {
		for (unsigned k = 0; k < nr; k++) {
			struct kvm_config cfg = { .gpaw = 48, .nr_vcpus = vcpus,
						  .mmu = (enum kvm_mmu_kind)mmu };
			struct kvm *kvm = (struct kvm *)&cfg; /* must be reset */
			struct rig r;

			rig_init(&r, KVM_FX_POOL_BYTES);
			tdx_module_inject_status_nth(r.m, calls[k].leaf, TDX_OPERAND_INVALID,
						     calls[k].n, false);
			assert_int_equal(kvm_create_vm(r.hm, r.slots, r.m, &cfg, &kvm), -EIO);
			assert_null(kvm);
			/* The refusal happened (the build reached that call). */
			assert_int_equal(tdx_module_status_hits(r.m), 1);
			if (tdx_debug_nr_tds(r.m) != 0 ||
			    host_mem_frames_in_use(r.hm) != r.frames_before)
				fail_msg("%s call %u of %s refused: %u TDs left, %llu frames in use (%llu before)",
					 mmu == KVM_MMU_TDP ? "tdp" : "legacy", calls[k].n,
					 tdx_leaf_name(calls[k].leaf), tdx_debug_nr_tds(r.m),
					 (unsigned long long)host_mem_frames_in_use(r.hm),
					 (unsigned long long)r.frames_before);
			tdx_module_inject_status_nth(r.m, calls[k].leaf, 0, 0, false);
			create_and_destroy(&r, (enum kvm_mmu_kind)mmu, vcpus);
			rig_fini(&r);
		}
	}
}

/*
 * The build fails and the module also refuses what taking it apart needs:
 * the key's release (VPFLUSHDONE) or every RECLAIM. KVM cannot take the
 * TD's pages back and leaks them, as upstream does ("HKID is leaked"):
 * creation still fails cleanly (-EIO, no VM), the module still knows the
 * TD, the frames it owns stay out of the pool; everything else (the frames
 * the TD never took, struct kvm) is freed. Once the module answers again
 * nothing more can be done from KVM's side: the rig's teardown frees all.
 */
static void test_build_and_abort_refused(void **state)
{
	static const int abort_leaves[] = { TDH_MNG_VPFLUSHDONE, TDH_PHYMEM_PAGE_RECLAIM };

	(void)state;
	for (unsigned k = 0; k < 2; k++) {
		struct kvm_config cfg = { .gpaw = 48, .nr_vcpus = 2, .mmu = KVM_MMU_TDP };
		struct kvm *kvm = NULL;
		struct rig r;

		rig_init(&r, KVM_FX_POOL_BYTES);
		/* The 2nd vCPU's VP.INIT refused: the TD has its key, six
		 * TDCX pages and two TDVPRs. */
		tdx_module_inject_status_nth(r.m, TDH_VP_INIT, TDX_OPERAND_INVALID, 2, false);
		tdx_module_inject_status_nth(r.m, abort_leaves[k], TDX_OPERAND_INVALID, 1, true);
		assert_int_equal(kvm_create_vm(r.hm, r.slots, r.m, &cfg, &kvm), -EIO);
		assert_null(kvm);
		assert_true(tdx_module_status_hits(r.m) >= 2);
		assert_int_equal(tdx_debug_nr_tds(r.m), 1);
		/* The TDR, six TDCX pages and two TDVPRs stay the TD's. */
		assert_int_equal(host_mem_frames_in_use(r.hm), r.frames_before + 9);
		rig_fini(&r);
	}
}

/* KVM's own checks of its build-time ioctls (KVM_TDX_INIT_MEM_REGION,
 * KVM_TDX_FINALIZE_VM), which the API's checks come before: each refusal,
 * and no SEAMCALL issued for it. */
static void test_build_ioctls_refused(void **state)
{
	struct kvm_config cfg = { .gpaw = 48, .nr_vcpus = 1, .mmu = KVM_MMU_TDP };
	uint64_t shared = 1ULL << 47;
	struct kvm *kvm = NULL;
	uint64_t leaked = 1;
	pfn_t source;
	struct rig r;

	(void)state;
	rig_init(&r, KVM_FX_POOL_BYTES);
	assert_int_equal(kvm_create_vm(r.hm, r.slots, r.m, &cfg, &kvm), 0);
	assert_int_equal(host_mem_alloc_frame(r.hm, &source), 0);
	assert_int_equal(kvm_tdx_init_mem_page(kvm, 0x1800, source), -EINVAL);
	assert_int_equal(kvm_tdx_init_mem_page(kvm, shared | 0x1000, source), -EINVAL);
	assert_int_equal(kvm_tdx_init_mem_page(kvm, 64 * MiB, source), -ENOENT);
	assert_int_equal(tdx_module_calls(r.m, TDH_MEM_PAGE_ADD), 0);
	assert_int_equal(kvm_tdx_init_mem_page(kvm, 0x1000, source), 0);
	assert_int_equal(kvm_tdx_init_mem_page(kvm, 0x1000, source), -EEXIST);
	assert_int_equal(tdx_module_calls(r.m, TDH_MEM_PAGE_ADD), 1);
	assert_int_equal(kvm_tdx_finalize_vm(kvm), 0);
	assert_int_equal(kvm_tdx_finalize_vm(kvm), -EPERM);
	assert_int_equal(kvm_tdx_init_mem_page(kvm, 0x2000, source), -EPERM);
	assert_int_equal(tdx_module_calls(r.m, TDH_MR_FINALIZE), 1);
	host_mem_free_frame(r.hm, source);
	assert_int_equal(kvm_destroy_vm(kvm, &leaked), 0);
	assert_int_equal(leaked, 0);
	assert_int_equal(host_mem_frames_in_use(r.hm), r.frames_before);
	rig_fini(&r);
}

/* The module's dispatcher refuses a call it has no handler for (RAX bits
 * above the version, a leaf number past the table, a leaf number the module
 * does not implement, a version of a leaf that has none) with
 * TDX_OPERAND_INVALID + RAX before anything else, injected errors
 * included: an injection armed for every leaf is not consumed by them. */
static void test_dispatcher_refusals(void **state)
{
	static const uint64_t bad_rax[] = {
		1ULL << 24 | TDH_MEM_TRACK,   /* reserved RAX bits */
		TDX_NR_LEAVES + 1,            /* past the table */
		11,                           /* no such leaf in the model */
		1ULL << 16 | TDH_MEM_TRACK,   /* a version TRACK does not have */
	};
	struct rig r;

	(void)state;
	rig_init(&r, KVM_FX_POOL_BYTES);
	tdx_module_inject_status_nth(r.m, -1, TDX_EPT_WALK_FAILED, 1, true);
	for (size_t i = 0; i < sizeof(bad_rax) / sizeof(bad_rax[0]); i++) {
		struct seamcall_regs regs = { .rax = bad_rax[i], .rcx = 0x1234 };

		assert_int_equal(seamcall(r.m, &regs), TDX_OPERAND_INVALID + TDX_OPERAND_ID_RAX);
		assert_int_equal(regs.rax, TDX_OPERAND_INVALID + TDX_OPERAND_ID_RAX);
		assert_int_equal(regs.rcx, 0x1234);
	}
	assert_int_equal(tdx_module_status_hits(r.m), 0);
	/* A call the module does handle meets the injection. */
	{
		struct seamcall_regs regs = { .rax = TDH_MEM_TRACK };

		assert_int_equal(seamcall(r.m, &regs), TDX_EPT_WALK_FAILED);
		assert_int_equal(tdx_module_status_hits(r.m), 1);
	}
	rig_fini(&r);
}

/* ---- lockdep: the model reports its own locking bug ---- */

static struct kvm *lockdep_kvm;

static void held_nothing_want_write(void *unused)
{
	(void)unused;
	__kvm_lockdep_assert_held(lockdep_kvm, true, "t");
}

static void held_nothing_want_read(void *unused)
{
	(void)unused;
	__kvm_lockdep_assert_held(lockdep_kvm, false, "t");
}

static void held_read_want_write(void *unused)
{
	(void)unused;
	kvm_mmu_read_lock(lockdep_kvm);
	__kvm_lockdep_assert_held(lockdep_kvm, true, "t");
}

static void held_write_want_read(void *unused)
{
	(void)unused;
	kvm_mmu_write_lock(lockdep_kvm);
	__kvm_lockdep_assert_held(lockdep_kvm, false, "t");
}

/* KVM's lockdep asserts (debug builds): a function that needs mmu_lock in
 * one mode, called without it or in the other mode, aborts naming the
 * function and what was wrong; held right, it returns. */
static void test_lockdep(void **state)
{
	struct kvm_config cfg = { .gpaw = 48, .nr_vcpus = 1, .mmu = KVM_MMU_TDP };
	uint64_t leaked = 1;
	struct rig r;

	(void)state;
#ifdef NDEBUG
	skip();
#endif
	rig_init(&r, KVM_FX_POOL_BYTES);
	assert_int_equal(kvm_create_vm(r.hm, r.slots, r.m, &cfg, &lockdep_kvm), 0);
	expect_abort(held_nothing_want_write, NULL, "tdxmmu: t: mmu_lock not held for write");
	expect_abort(held_nothing_want_read, NULL, "tdxmmu: t: mmu_lock not held");
	expect_abort(held_read_want_write, NULL,
		     "tdxmmu: t: mmu_lock not held for write (held for read)");
	expect_abort(held_write_want_read, NULL,
		     "tdxmmu: t: mmu_lock not held for read (held for write)");
	kvm_mmu_write_lock(lockdep_kvm);
	__kvm_lockdep_assert_held(lockdep_kvm, true, "t");
	kvm_mmu_write_unlock(lockdep_kvm);
	kvm_mmu_read_lock(lockdep_kvm);
	__kvm_lockdep_assert_held(lockdep_kvm, false, "t");
	kvm_mmu_read_unlock(lockdep_kvm);
	assert_int_equal(kvm_destroy_vm(lockdep_kvm, &leaked), 0);
	assert_int_equal(leaked, 0);
	rig_fini(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_each_build_seamcall_refused),
		cmocka_unit_test(test_build_and_abort_refused),
		cmocka_unit_test(test_build_ioctls_refused),
		cmocka_unit_test(test_dispatcher_refusals),
		cmocka_unit_test(test_lockdep),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
