/* SPDX-License-Identifier: MIT */
/*
 * The common prologue's metadata checks that no consistent module state
 * reaches (coverage round 7, issue 14), set up white-box and asserted
 * against tdx-module-sept.md (TDX module 1.5.01) §3: a TDR or TDVPR operand
 * whose PAMT entry has the right type but whose TD's own record disagrees
 * is TDX_PAGE_METADATA_INCORRECT on that operand. Each refusal takes no
 * lock for good (tdx_debug_locks_held() finds none) and changes nothing:
 * the record restored, the same call goes through.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tdx_fixture.h"
#include "tdx/tdx_internal.h"

static struct tdx_td *fx_td(struct fx *f)
{
	struct tdx_td *td = tdx_td_of_tdr_pfn(f->m, hpa_to_pfn(f->tdr));

	assert_non_null(td);
	return td;
}

static void no_report(const char *what, uint64_t found, uint64_t want, void *arg)
{
	(void)arg;
	fail_msg("lock reported held: %s (found %#llx, want %#llx)", what,
		 (unsigned long long)found, (unsigned long long)want);
}

/* The TDR's PAMT entry names the TD's index, but the TD at that index
 * records another TDR page (as if the index had been reused): TRACK on the
 * TDR (RCX) is refused, METADATA_INCORRECT + RCX, and the epoch is
 * unchanged. */
static void test_tdr_owner_disagrees(void **state)
{
	struct fx f;
	struct tdx_td *td;
	pfn_t saved;
	uint64_t epoch;

	(void)state;
	fx_init(&f, 48, 1);
	fx_finalize(&f);
	td = fx_td(&f);
	epoch = atomic_load(&td->td_epoch);
	saved = td->tdr;
	td->tdr = saved + 1;
	FX_STATUS(fx_call(&f, TDH_MEM_TRACK, f.tdr, 0, 0, 0, NULL),
		  TDX_PAGE_METADATA_INCORRECT + TDX_OPERAND_ID_RCX);
	td->tdr = saved;
	assert_int_equal(atomic_load(&td->td_epoch), epoch);
	assert_int_equal(tdx_debug_locks_held(f.m, f.tdr, no_report, NULL), 0);
	FX_OK(fx_call(&f, TDH_MEM_TRACK, f.tdr, 0, 0, 0, NULL));
	assert_int_equal(atomic_load(&td->td_epoch), epoch + 1);
	fx_fini(&f);
}

/* A TDVPR page typed and owned as the TD's, but not among the TD's vCPUs:
 * VP.FLUSH on it (tdx_lock_tdvpr(), the TDVPR lock of VP.FLUSH and VP.INIT)
 * is refused, METADATA_INCORRECT + RCX, and the vCPU stays associated. */
static void test_tdvpr_not_the_tds(void **state)
{
	struct fx f;
	struct tdx_td *td;
	pfn_t saved;

	(void)state;
	fx_init(&f, 48, 1);
	fx_finalize(&f);
	td = fx_td(&f);
	FX_OK(fx_call(&f, TDH_VP_ENTER, f.tdvpr[0], 0, 0, 0, NULL));
	tdx_td_exit(f.m, f.tdvpr[0]);
	assert_true(td->vcpus[0].associated);
	saved = td->vcpu_tdvpr[0];
	td->vcpu_tdvpr[0] = saved + 1;
	FX_STATUS(fx_call(&f, TDH_VP_FLUSH, f.tdvpr[0], 0, 0, 0, NULL),
		  TDX_PAGE_METADATA_INCORRECT + TDX_OPERAND_ID_RCX);
	td->vcpu_tdvpr[0] = saved;
	assert_true(td->vcpus[0].associated);
	assert_int_equal(tdx_debug_locks_held(f.m, f.tdr, no_report, NULL), 0);
	FX_OK(fx_call(&f, TDH_VP_FLUSH, f.tdvpr[0], 0, 0, 0, NULL));
	assert_false(td->vcpus[0].associated);
	fx_fini(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tdr_owner_disagrees),
		cmocka_unit_test(test_tdvpr_not_the_tds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
