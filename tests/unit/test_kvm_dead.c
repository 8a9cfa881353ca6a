/* SPDX-License-Identifier: MIT */
/*
 * A VM that KVM kills (KVM_BUG_ON / kvm_vm_dead, issue 11 item 2.9, contract
 * 1.1 "A VM that KVM kills"), through the public API: each way of killing it
 * is a modeled outcome, never TDXMMU_EBUG. The call that kills it answers
 * TDXMMU_EIO and tdxmmu_vm_dead() turns true; from then on KVM's ioctls
 * (add, finalize, memslot add/delete, host zap/invalidate) answer TDXMMU_EIO
 * and change nothing; destroy still tears the VM down completely, and its
 * report shows no leak (pages KVM had to give up on are RECLAIMed once the
 * HKID is released).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "api_fixture.h"

#include <tdxmmu/tdxmmu.h>

#define MiB (1ULL << 20)

static tdxmmu_td *make_td(enum tdxmmu_mmu_kind mmu)
{
	struct tdxmmu_td_config cfg;
	tdxmmu_td *td = NULL;

	tdxmmu_td_config_init(&cfg);
	cfg.mmu = mmu;
	cfg.host_memory = 64 * MiB;
	assert_int_equal(tdxmmu_td_create(&cfg, &td), TDXMMU_OK);
	assert_int_equal(tdxmmu_memslot_add(td, 0, 0, 4 * MiB), TDXMMU_OK);
	assert_false(tdxmmu_vm_dead(td));
	return td;
}

static void assert_ok_status(uint64_t s)
{
	if (s >> 63)
		fail_msg("SEAMCALL failed: %#llx (%s)", (unsigned long long)s,
			 tdxmmu_status_name(s));
}

/* A guest write that must report the VM killed by this very access. Branch
 * cpu11 turns the CPU's -EIO into the outcome `bugged`; before it, the API
 * answers TDXMMU_EIO. Either is a modeled outcome; TDXMMU_EBUG is not. */
static void guest_write_kills(tdxmmu_td *td, uint64_t gpa)
{
	enum tdxmmu_outcome o = TDXMMU_OUTCOME_OK;
	int rc = tdxmmu_vcpu_write(td, 0, gpa, 0x1234, &o);

	if (rc == TDXMMU_OK)
		assert_int_equal(o, TDXMMU_OUTCOME_BUGGED);
	else
		assert_int_equal(rc, TDXMMU_EIO);
	assert_true(tdxmmu_vm_dead(td));
}

/* Every KVM ioctl of a dead VM answers TDXMMU_EIO; guest actions do not run
 * (TDXMMU_EIO here, the outcome `dead` once branch cpu11 maps it). */
static void assert_dead_refuses(tdxmmu_td *td)
{
	enum tdxmmu_outcome o = TDXMMU_OUTCOME_OK;
	uint64_t val = 0;
	int rc;

	assert_true(tdxmmu_vm_dead(td));
	assert_int_equal(tdxmmu_td_add_page(td, 0x10000, 1), TDXMMU_EIO);
	assert_int_equal(tdxmmu_td_finalize(td), TDXMMU_EIO);
	assert_int_equal(tdxmmu_memslot_add(td, 1, 8 * MiB, 2 * MiB), TDXMMU_EIO);
	assert_int_equal(tdxmmu_memslot_delete(td, 0), TDXMMU_EIO);
	assert_int_equal(tdxmmu_host_zap(td, 0, 4 * MiB, TDXMMU_ALIAS_BOTH), TDXMMU_EIO);
	assert_int_equal(tdxmmu_host_invalidate(td, 0, 4 * MiB), TDXMMU_EIO);
	rc = tdxmmu_vcpu_read(td, 0, 0x20000, &val, &o);
	if (rc == TDXMMU_OK)
		assert_int_equal(o, TDXMMU_OUTCOME_DEAD);
	else
		assert_int_equal(rc, TDXMMU_EIO);
	/* The checker still runs on a dead VM (what the host's tampering
	 * broke it may report: that is the S-EPT's state, not the model's). */
	assert_true(tdxmmu_vm_dead(td));
	assert_true(tdxmmu_check(td, NULL, 0) >= 0);
}

/* Raw TDH.MR.FINALIZE, then `add`: KVM's PAGE.ADD fails on a finalized TD
 * (KVM_BUG_ON in tdx_mem_page_add): the add answers TDXMMU_EIO. */
static void test_raw_finalize_then_add(void **state)
{
	tdxmmu_td *td = make_td(TDXMMU_MMU_TDP);

	(void)state;
	assert_ok_status(api_fx_raw(td, "TDH.MR.FINALIZE", 0, 0, 0));
	assert_int_equal(tdxmmu_td_add_page(td, 0x1000, 0xaa), TDXMMU_EIO);
	assert_dead_refuses(td);
	api_fx_destroy_clean(td);
}

/* The same with the legacy MMU. */
static void test_raw_finalize_then_add_legacy(void **state)
{
	tdxmmu_td *td = make_td(TDXMMU_MMU_LEGACY);

	(void)state;
	assert_ok_status(api_fx_raw(td, "TDH.MR.FINALIZE", 0, 0, 0));
	assert_int_equal(tdxmmu_td_add_page(td, 0x1000, 0xaa), TDXMMU_EIO);
	assert_dead_refuses(td);
	api_fx_destroy_clean(td);
}

/* Raw FINALIZE, then KVM's own finalize: TDH.MR.FINALIZE fails for KVM
 * (upstream KVM_BUG_ON in tdx_td_finalize). */
static void test_raw_finalize_then_finalize(void **state)
{
	tdxmmu_td *td = make_td(TDXMMU_MMU_TDP);

	(void)state;
	assert_int_equal(tdxmmu_td_add_page(td, 0x1000, 0xaa), TDXMMU_OK);
	assert_ok_status(api_fx_raw(td, "TDH.MR.FINALIZE", 0, 0, 0));
	assert_int_equal(tdxmmu_td_finalize(td), TDXMMU_EIO);
	assert_dead_refuses(td);
	api_fx_destroy_clean(td);
}

/* The host removes a page KVM mapped (raw BLOCK, TRACK, REMOVE); KVM's own
 * zap of it then fails at BLOCK: `host zap` kills the VM. The page stays in
 * KVM's mirror; teardown takes it back after the HKID is released. */
static void host_removed_then_zap(enum tdxmmu_mmu_kind mmu)
{
	tdxmmu_td *td = make_td(mmu);
	enum tdxmmu_outcome o = TDXMMU_OUTCOME_BLOCKED;

	assert_int_equal(tdxmmu_td_finalize(td), TDXMMU_OK);
	assert_int_equal(tdxmmu_vcpu_write(td, 0, 0x2000, 7, &o), TDXMMU_OK);
	assert_int_equal(o, TDXMMU_OUTCOME_OK);
	assert_int_equal(tdxmmu_vcpu_write(td, 0, 0x3000, 8, &o), TDXMMU_OK);
	assert_ok_status(api_fx_raw(td, "TDH.MEM.RANGE.BLOCK", 0x2000, 0, 0));
	assert_ok_status(api_fx_raw(td, "TDH.MEM.TRACK", 0, 0, 0));
	assert_ok_status(api_fx_raw(td, "TDH.MEM.PAGE.REMOVE", 0x2000, 0, 0));
	assert_int_equal(tdxmmu_host_zap(td, 0x2000, 0x2000, TDXMMU_ALIAS_PRIVATE),
			 TDXMMU_EIO);
	assert_dead_refuses(td);
	api_fx_destroy_clean(td);
}

static void test_host_removed_then_zap(void **state)
{
	(void)state;
	host_removed_then_zap(TDXMMU_MMU_TDP);
}

static void test_host_removed_then_zap_legacy(void **state)
{
	(void)state;
	host_removed_then_zap(TDXMMU_MMU_LEGACY);
}

/* The host links the S-EPT tables behind KVM's back (raw SEPT.ADD): KVM's
 * SEPT.ADD for its first private fault fails, the access kills the VM, and
 * KVM gives up on the S-EPT page it handed to the failed SEAMCALL. The
 * teardown gives that page back too (it leaked before). */
static void host_tables_then_fault(enum tdxmmu_mmu_kind mmu)
{
	tdxmmu_td *td = make_td(mmu);
	uint64_t hpa;

	assert_int_equal(tdxmmu_td_finalize(td), TDXMMU_OK);
	for (unsigned level = 3; level >= 1; level--) {
		assert_int_equal(tdxmmu_host_frame_new(td, &hpa), TDXMMU_OK);
		assert_ok_status(api_fx_raw(td, "TDH.MEM.SEPT.ADD", 0, level, hpa));
	}
	guest_write_kills(td, 0x5000);
	assert_dead_refuses(td);
	api_fx_destroy_clean(td);
}

static void test_host_tables_then_fault(void **state)
{
	(void)state;
	host_tables_then_fault(TDXMMU_MMU_TDP);
}

static void test_host_tables_then_fault_legacy(void **state)
{
	(void)state;
	host_tables_then_fault(TDXMMU_MMU_LEGACY);
}

/* Legacy MMU: `host zap` leaves a private page PRIVATE_ZAPPED (blocked,
 * tracked); the host UNBLOCKs it behind KVM's back; deleting the memslot
 * then issues PAGE.REMOVE on a MAPPED page, which fails: the memslot
 * deletion kills the VM while the page is still the TD's. Before the
 * teardown reclaimed it, the TD kept the page and its TDR forever. */
static void test_legacy_unblocked_then_delete(void **state)
{
	tdxmmu_td *td = make_td(TDXMMU_MMU_LEGACY);
	enum tdxmmu_outcome o = TDXMMU_OUTCOME_BLOCKED;

	(void)state;
	assert_int_equal(tdxmmu_td_finalize(td), TDXMMU_OK);
	assert_int_equal(tdxmmu_vcpu_write(td, 0, 0x4000, 9, &o), TDXMMU_OK);
	assert_int_equal(o, TDXMMU_OUTCOME_OK);
	assert_int_equal(tdxmmu_host_zap(td, 0x4000, 0x1000, TDXMMU_ALIAS_PRIVATE),
			 TDXMMU_OK);
	assert_ok_status(api_fx_raw(td, "TDH.MEM.RANGE.UNBLOCK", 0x4000, 0, 0));
	assert_int_equal(tdxmmu_memslot_delete(td, 0), TDXMMU_EIO);
	assert_dead_refuses(td);
	api_fx_destroy_clean(td);
}

/* BUSY without end (injected at 100%): KVM's write-lock SEAMCALLs give up
 * after their retries, and KVM kills the VM. Once the injection is off the
 * teardown completes. */
static void test_busy_forever_kills(void **state)
{
	tdxmmu_td *td = make_td(TDXMMU_MMU_TDP);
	enum tdxmmu_outcome o = TDXMMU_OUTCOME_BLOCKED;

	(void)state;
	assert_int_equal(tdxmmu_td_finalize(td), TDXMMU_OK);
	assert_int_equal(tdxmmu_vcpu_write(td, 0, 0x6000, 1, &o), TDXMMU_OK);
	assert_int_equal(tdxmmu_inject_busy(td, 1000000), TDXMMU_OK);
	assert_int_equal(tdxmmu_host_zap(td, 0x6000, 0x1000, TDXMMU_ALIAS_PRIVATE),
			 TDXMMU_EIO);
	assert_int_equal(tdxmmu_inject_busy(td, 0), TDXMMU_OK);
	assert_dead_refuses(td);
	api_fx_destroy_clean(td);
}

static void test_vm_dead_null(void **state)
{
	(void)state;
	assert_false(tdxmmu_vm_dead(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_raw_finalize_then_add),
		cmocka_unit_test(test_raw_finalize_then_add_legacy),
		cmocka_unit_test(test_raw_finalize_then_finalize),
		cmocka_unit_test(test_host_removed_then_zap),
		cmocka_unit_test(test_host_removed_then_zap_legacy),
		cmocka_unit_test(test_host_tables_then_fault),
		cmocka_unit_test(test_host_tables_then_fault_legacy),
		cmocka_unit_test(test_legacy_unblocked_then_delete),
		cmocka_unit_test(test_busy_forever_kills),
		cmocka_unit_test(test_vm_dead_null),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
