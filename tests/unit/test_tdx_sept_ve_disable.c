/* SPDX-License-Identifier: MIT */
/*
 * ATTRIBUTES.SEPT_VE_DISABLE (issue 11 item 2.3). TDH.MNG.INIT stored it and
 * the hardware walk ignored it, so a guest access to a PENDING page always
 * raised #VE. With the attribute the access is an EPT violation whose
 * extended exit qualification is PENDING_EPT_VIOLATION, and KVM kills the VM
 * (upstream: "guest access before accepting"); without it the guest's #VE
 * handler accepts the page, as before.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdatomic.h>
#include <string.h>

#include "api/api_internal.h"
#include "kvm/kvm.h"
#include "tdx/tdx_module.h"
#include "tdxmmu/tdxmmu.h"

#define GPA 0x3000ULL

static tdxmmu_td *td_new(bool ve_disable)
{
	struct tdxmmu_td_config cfg;
	tdxmmu_td *td = NULL;

	tdxmmu_td_config_init(&cfg);
	cfg.sept_ve_disable = ve_disable;
	assert_int_equal(tdxmmu_td_create(&cfg, &td), TDXMMU_OK);
	assert_int_equal(tdxmmu_memslot_add(td, 0, 0, 2ULL << 20), TDXMMU_OK);
	assert_int_equal(tdxmmu_td_finalize(td), TDXMMU_OK);
	return td;
}

static uint64_t raw(tdxmmu_td *td, const char *leaf, uint64_t gpa, unsigned level,
		    uint64_t *page)
{
	struct tdxmmu_seamcall_req req = { .leaf = tdxmmu_leaf_from_name(leaf), .gpa = gpa,
					   .level = level };
	struct tdxmmu_seamcall_out out;

	assert_int_equal(tdxmmu_host_frame_new(td, &req.page), TDXMMU_OK);
	assert_int_equal(tdxmmu_seamcall(td, &req, &out), TDXMMU_OK);
	if (page)
		*page = req.page;
	return out.rax;
}

/* The hardware walk itself: PENDING is #VE, or an EPT violation with the
 * pending qualification when the attribute is set. The page is made
 * PENDING with raw SEAMCALLs, so no guest access is involved. */
static void walk_pending(bool ve_disable)
{
	tdxmmu_td *td = td_new(ve_disable);
	struct tdx_hw_walk w;
	enum tdxmmu_sept_state st;
	uint64_t hpa;

	for (unsigned level = 3; level >= 1; level--)
		assert_int_equal(raw(td, "TDH.MEM.SEPT.ADD", 0, level, NULL), 0);
	assert_int_equal(raw(td, "TDH.MEM.PAGE.AUG", GPA, 0, &hpa), 0);
	assert_int_equal(tdxmmu_sept_state(td, GPA, 0, &st), TDXMMU_OK);
	assert_int_equal(st, TDXMMU_SEPT_PENDING);

	tdx_hw_walk(td->tdx, td->kvm->vcpus[0].tdvpr, GPA, &w);
	if (ve_disable) {
		assert_int_equal(w.kind, TDX_HW_VIOLATION);
		assert_int_equal(w.ext_exit_qual & TDX_EXT_EXIT_QUAL_TYPE_MASK,
				 TDX_EXT_EXIT_QUAL_TYPE_PENDING_EPT_VIOLATION);
	} else {
		assert_int_equal(w.kind, TDX_HW_PENDING);
		assert_int_equal(w.ext_exit_qual, 0);
	}
	assert_int_equal(w.level, 0);
	assert_int_equal(w.hpa, hpa);
	/* A FREE entry is an ordinary violation, without the qualification. */
	tdx_hw_walk(td->tdx, td->kvm->vcpus[0].tdvpr, GPA + 0x1000, &w);
	assert_int_equal(w.kind, TDX_HW_VIOLATION);
	assert_int_equal(w.ext_exit_qual, 0);
	assert_int_equal(tdxmmu_td_destroy(td, NULL), TDXMMU_OK);
}

static void test_walk_pending_ve(void **state)
{
	(void)state;
	walk_pending(false);
}

static void test_walk_pending_ve_disabled(void **state)
{
	(void)state;
	walk_pending(true);
}

/* Through the guest: the first access faults, KVM AUGs the page PENDING,
 * the retried access meets it. */
static void test_guest_access_before_accept(void **state)
{
	tdxmmu_td *td;
	enum tdxmmu_outcome o = TDXMMU_OUTCOME_OK;
	uint64_t v = 0;
	int rc;

	(void)state;
	/* Without the attribute: #VE, the handler accepts, the read works. */
	td = td_new(false);
	assert_int_equal(tdxmmu_vcpu_read(td, 0, GPA, &v, &o), TDXMMU_OK);
	assert_int_equal(o, TDXMMU_OUTCOME_OK);
	assert_false(atomic_load(&td->kvm->bugged));
	assert_int_equal(tdxmmu_td_destroy(td, NULL), TDXMMU_OK);

	/* With it: KVM kills the VM on the pending EPT violation. The guest
	 * action does not complete (the outcome the API reports for a VM
	 * killed during an exit is the CPU model's to give). */
	td = td_new(true);
	o = TDXMMU_OUTCOME_OK;
	rc = tdxmmu_vcpu_read(td, 0, GPA, &v, &o);
	assert_true(rc != TDXMMU_OK || o != TDXMMU_OUTCOME_OK);
	assert_true(atomic_load(&td->kvm->bugged));
	/* The page stayed PENDING: KVM did not "fix" it. */
	{
		enum tdxmmu_sept_state st;

		assert_int_equal(tdxmmu_sept_state(td, GPA, 0, &st), TDXMMU_OK);
		assert_int_equal(st, TDXMMU_SEPT_PENDING);
	}
	tdxmmu_td_destroy(td, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_walk_pending_ve),
		cmocka_unit_test(test_walk_pending_ve_disabled),
		cmocka_unit_test(test_guest_access_before_accept),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
