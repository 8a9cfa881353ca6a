/* SPDX-License-Identifier: MIT */
/*
 * The public API's edges that test_api does not reach: the named cost model
 * and memory statistics the benchmarks read, the trace event table, and the
 * operand checks of every guest and host action (misaligned, outside the
 * GPA width, across the two aliases, vCPU out of range). Each bad call must
 * answer its documented code with a message naming the operand, change
 * nothing, and leave a TD that still works and destroys without a leak.
 * Public header only, as a user would.
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

static void assert_error(int got, int want, const char *msg_part)
{
	if (got != want)
		fail_msg("got %d (%s), want %d (%s); last error: %s", got,
			 tdxmmu_strerror(got), want, tdxmmu_strerror(want),
			 tdxmmu_last_error());
	if (msg_part && !strstr(tdxmmu_last_error(), msg_part))
		fail_msg("message \"%s\" does not say \"%s\"", tdxmmu_last_error(),
			 msg_part);
}

/* ---- the cost model by name ---- */

struct cost_seen {
	unsigned n;
	uint64_t aug, accept, exit;
	const char *last;
	bool accept_before_exit;
};

static void cost_cb(const char *name, uint64_t ns, void *arg)
{
	struct cost_seen *s = arg;

	s->n++;
	if (!strcmp(name, "TDH.MEM.PAGE.AUG"))
		s->aug = ns;
	if (!strcmp(name, "TDG.MEM.PAGE.ACCEPT"))
		s->accept = ns;
	if (!strcmp(name, "TD.EXIT")) {
		s->exit = ns;
		s->accept_before_exit = s->accept != 0;
	}
	s->last = name;
}

static void test_cost_named(void **state)
{
	tdxmmu_td *td = api_fx_small_td(TDXMMU_MMU_TDP);
	struct cost_seen seen = { 0 };
	uint64_t ns = 0;

	(void)state;
	/* The two names that are not SEAMCALL leaves, and one that is. */
	assert_int_equal(tdxmmu_cost_set_named(td, "TDG.MEM.PAGE.ACCEPT", 1234), 0);
	assert_int_equal(tdxmmu_cost_set_named(td, "TD.EXIT", 567), 0);
	assert_int_equal(tdxmmu_cost_set_named(td, "TDH.MEM.PAGE.AUG", 89), 0);
	assert_int_equal(tdxmmu_cost_get_named(td, "TDG.MEM.PAGE.ACCEPT", &ns), 0);
	assert_int_equal(ns, 1234);
	assert_int_equal(tdxmmu_cost_get_named(td, "TD.EXIT", &ns), 0);
	assert_int_equal(ns, 567);
	assert_int_equal(tdxmmu_cost_get_named(td, "TDH.MEM.PAGE.AUG", &ns), 0);
	assert_int_equal(ns, 89);
	assert_int_equal(tdxmmu_cost_get(td, tdxmmu_leaf_from_name("TDH.MEM.PAGE.AUG")), 89);

	/* Unknown names and NULLs: refused, nothing changed. */
	assert_error(tdxmmu_cost_set_named(td, "TDH.MEM.PAGE.AUGX", 1), TDXMMU_ENOENT,
		     "TDH.MEM.PAGE.AUGX");
	assert_error(tdxmmu_cost_get_named(td, "TD.ENTER", &ns), TDXMMU_ENOENT, "TD.ENTER");
	assert_error(tdxmmu_cost_set_named(NULL, "TD.EXIT", 1), TDXMMU_EINVAL, "NULL");
	assert_error(tdxmmu_cost_set_named(td, NULL, 1), TDXMMU_EINVAL, "NULL");
	assert_error(tdxmmu_cost_get_named(td, "TD.EXIT", NULL), TDXMMU_EINVAL, "NULL");
	assert_error(tdxmmu_cost_get_named(NULL, "TD.EXIT", &ns), TDXMMU_EINVAL, "NULL");
	assert_int_equal(tdxmmu_cost_get_named(td, "TD.EXIT", &ns), 0);
	assert_int_equal(ns, 567);

	/* Every leaf, then the TDCALL, then the exit, with the values set. */
	tdxmmu_costs_foreach(td, cost_cb, &seen);
	assert_true(seen.n > 2);
	assert_int_equal(seen.aug, 89);
	assert_int_equal(seen.accept, 1234);
	assert_int_equal(seen.exit, 567);
	assert_true(seen.accept_before_exit);
	assert_string_equal(seen.last, "TD.EXIT");
	/* NULLs: no call. */
	memset(&seen, 0, sizeof(seen));
	tdxmmu_costs_foreach(NULL, cost_cb, &seen);
	tdxmmu_costs_foreach(td, NULL, &seen);
	assert_int_equal(seen.n, 0);
	api_fx_destroy_clean(td);
}

/* ---- memory statistics ---- */

static void test_mem_stats(void **state)
{
	tdxmmu_td *td = api_fx_small_td(TDXMMU_MMU_TDP);
	struct tdxmmu_mem_stats before, after;
	enum tdxmmu_sept_state st;
	enum tdxmmu_outcome o;

	(void)state;
	assert_error(tdxmmu_mem_stats(NULL, &before), TDXMMU_EINVAL, "NULL");
	assert_error(tdxmmu_mem_stats(td, NULL), TDXMMU_EINVAL, "NULL");
	assert_int_equal(tdxmmu_mem_stats(td, &before), 0);
	/* The roots only: KVM's two (counted), the S-EPT's (a TDCS page, not
	 * counted). */
	assert_int_equal(before.sept_pages, 0);
	assert_int_equal(before.mirror_ept_pages, 1);
	assert_int_equal(before.shared_ept_pages, 1);
	/* One private page: the mirror EPT and the S-EPT each grow the
	 * levels under their roots (4-level EPT: PDPT, PD, PT); the shared
	 * EPT does not. */
	assert_int_equal(tdxmmu_vcpu_write(td, 0, 0x1000, 7, &o), 0);
	assert_int_equal(o, TDXMMU_OUTCOME_OK);
	assert_int_equal(tdxmmu_mem_stats(td, &after), 0);
	assert_int_equal(after.sept_pages, 3);
	assert_int_equal(after.mirror_ept_pages, before.mirror_ept_pages + 3);
	assert_int_equal(after.shared_ept_pages, before.shared_ept_pages);
	assert_true(after.pamt_bytes >= before.pamt_bytes);
	assert_true(after.host_bytes > 0);
	/* A blocked table (the PT's entry NL_BLOCKED by a raw RANGE.BLOCK at
	 * 2M) still is an S-EPT page; unblocked, the same. */
	assert_int_equal(api_fx_raw(td, "TDH.MEM.RANGE.BLOCK", 0, 1, 0), 0);
	assert_int_equal(tdxmmu_sept_state(td, 0, 1, &st), 0);
	assert_int_equal(st, TDXMMU_SEPT_NL_BLOCKED);
	assert_int_equal(tdxmmu_mem_stats(td, &after), 0);
	assert_int_equal(after.sept_pages, 3);
	assert_int_equal(api_fx_raw(td, "TDH.MEM.TRACK", 0, 0, 0), 0);
	assert_int_equal(api_fx_raw(td, "TDH.MEM.RANGE.UNBLOCK", 0, 1, 0), 0);
	assert_int_equal(tdxmmu_sept_state(td, 0, 1, &st), 0);
	assert_int_equal(st, TDXMMU_SEPT_NL_MAPPED);
	assert_int_equal(tdxmmu_mem_stats(td, &after), 0);
	assert_int_equal(after.sept_pages, 3);
	api_fx_destroy_clean(td);
}

/* ---- the trace event table ---- */

static void test_trace_event_table(void **state)
{
	size_t n = tdxmmu_trace_event_count();

	(void)state;
	assert_true(n > 0);
	for (size_t i = 0; i < n; i++) {
		assert_non_null(tdxmmu_trace_event_name(i));
		assert_non_null(tdxmmu_trace_event_help(i));
		assert_true(strlen(tdxmmu_trace_event_help(i)) > 0);
		assert_non_null(tdxmmu_trace_event_probe_args(i));
	}
	assert_null(tdxmmu_trace_event_name(n));
	assert_null(tdxmmu_trace_event_help(n));
	assert_null(tdxmmu_trace_event_probe_args(n));
	assert_int_equal(tdxmmu_trace_filter_check(tdxmmu_trace_event_name(0)), 0);
	assert_int_not_equal(tdxmmu_trace_filter_check("no_such_event_at_all"), 0);
	/* The message lists the known names. */
	assert_non_null(strstr(tdxmmu_last_error(), tdxmmu_trace_event_name(n - 1)));
}

/* ---- operand checks of the guest and host actions ---- */

static void test_guest_operands(void **state)
{
	tdxmmu_td *td = api_fx_small_td(TDXMMU_MMU_TDP);
	uint64_t shared = tdxmmu_td_shared_bit(td);
	uint64_t beyond = shared << 1; /* first GPA outside the 48-bit width */
	uint64_t val = 0, mism = 0, status = 0;
	enum tdxmmu_outcome o = TDXMMU_OUTCOME_OK;
	enum tdxmmu_spte_state p, s;

	(void)state;
	assert_int_equal(tdxmmu_vcpu_write(td, 0, 0x2000, 0x1122334455667788ULL, &o), 0);

	/* vCPU out of range */
	assert_error(tdxmmu_vcpu_read(td, 1, 0x2000, &val, &o), TDXMMU_EINVAL, "has 1 vCPUs");
	assert_error(tdxmmu_vcpu_read(NULL, 0, 0x2000, &val, &o), TDXMMU_EINVAL, "td is NULL");
	/* read and write: 8-aligned, inside the width */
	assert_error(tdxmmu_vcpu_read(td, 0, 0x2004, &val, &o), TDXMMU_EINVAL, "not 8-aligned");
	assert_error(tdxmmu_vcpu_read(td, 0, beyond, &val, &o), TDXMMU_ERANGE, "outside the GPA width");
	assert_error(tdxmmu_vcpu_write(td, 0, 0x2001, 1, &o), TDXMMU_EINVAL, "not 8-aligned");
	assert_error(tdxmmu_vcpu_write(td, 0, beyond, 1, &o), TDXMMU_ERANGE, "outside the GPA width");
	/* touch: 4K-aligned, non-empty, inside the width, no wrap */
	assert_error(tdxmmu_vcpu_touch(td, 0, 0x2000, 0, false, &o), TDXMMU_EINVAL, "4K-aligned");
	assert_error(tdxmmu_vcpu_touch(td, 0, 0x2800, 0x1000, false, &o), TDXMMU_EINVAL, "4K-aligned");
	assert_error(tdxmmu_vcpu_touch(td, 0, beyond - 0x1000, 0x2000, false, &o),
		     TDXMMU_ERANGE, "outside the GPA width");
	assert_error(tdxmmu_vcpu_touch(td, 0, 0x1000, ~0xfffULL, false, &o),
		     TDXMMU_ERANGE, "outside the GPA width");
	/* fill and verify: one alias, inside the width, non-empty */
	assert_error(tdxmmu_vcpu_fill(td, 0, 0x2000, 0, 0xaa, &o), TDXMMU_ERANGE, "fill");
	assert_error(tdxmmu_vcpu_fill(td, 0, shared - 0x1000, 0x2000, 0xaa, &o),
		     TDXMMU_ERANGE, "one alias");
	assert_error(tdxmmu_vcpu_fill(td, 0, beyond - 8, 16, 0xaa, &o), TDXMMU_ERANGE, "fill");
	assert_error(tdxmmu_vcpu_verify(td, 0, shared - 8, 16, 0xaa, &mism, &o),
		     TDXMMU_ERANGE, "verify");
	assert_error(tdxmmu_vcpu_verify(td, 0, 0x2000, ~0ULL, 0xaa, &mism, &o),
		     TDXMMU_ERANGE, "verify");
	/* accept: 4K or 2M only */
	assert_error(tdxmmu_vcpu_accept_outcome(td, 0, 0x3000, 2, &status, &o),
		     TDXMMU_EINVAL, "4K or 2M");
	assert_error(tdxmmu_vcpu_accept(td, 0, 0x3000, 3, &status), TDXMMU_EINVAL, "4K or 2M");
	/* host zap and invalidate: one alias */
	assert_error(tdxmmu_host_invalidate(td, shared - 0x1000, 0x2000), TDXMMU_ERANGE, "invalidate");
	assert_error(tdxmmu_host_zap(td, shared - 0x1000, 0x2000, TDXMMU_ALIAS_BOTH),
		     TDXMMU_ERANGE, "zap");
	assert_error(tdxmmu_host_write(td, 0x2003, 1), TDXMMU_EINVAL, "not 8-aligned");
	/* spte state: inside the width */
	assert_error(tdxmmu_spte_state(td, beyond, &p, &s), TDXMMU_ERANGE, "outside");

	/* Nothing changed: the data is there, the entries as before, and
	 * the model holds. */
	assert_int_equal(tdxmmu_vcpu_read(td, 0, 0x2000, &val, &o), 0);
	assert_int_equal(o, TDXMMU_OUTCOME_OK);
	assert_int_equal(val, 0x1122334455667788ULL);
	assert_int_equal(tdxmmu_spte_state(td, 0x2000, &p, &s), 0);
	assert_int_equal(p, TDXMMU_SPTE_PRESENT);
	assert_int_equal(tdxmmu_check(td, NULL, 0), 0);
	api_fx_destroy_clean(td);
}

static void test_no_mirror_needs_tdp(void **state)
{
	struct tdxmmu_td_config cfg;
	tdxmmu_td *td = NULL;

	(void)state;
	tdxmmu_td_config_init(&cfg);
	cfg.mmu = TDXMMU_MMU_LEGACY;
	cfg.no_mirror = true;
	assert_error(tdxmmu_td_create(&cfg, &td), TDXMMU_EINVAL, "TDP MMU only");
	assert_null(td);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cost_named),
		cmocka_unit_test(test_mem_stats),
		cmocka_unit_test(test_trace_event_table),
		cmocka_unit_test(test_guest_operands),
		cmocka_unit_test(test_no_mirror_needs_tdp),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
