/* SPDX-License-Identifier: MIT */
/*
 * The trace (docs/tracing.md, src/host/trace.h): the filter's globs, the
 * SPTE values printed without process addresses, and two TDs of one
 * process, whose KVM tables lie at different addresses, tracing the same
 * work identically.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api_fixture.h"
#include "kvm/mmu_page.h"
#include "kvm/spte.h"
#include "host/trace.h"

#define BIT(ev_) (UINT64_C(1) << TRACE_EV_##ev_)

static void test_filter_globs(void **state)
{
	const char *bad = NULL;
	size_t bad_len = 0;
	uint64_t m;

	(void)state;
	assert_int_equal(trace_filter(NULL, &m, &bad, &bad_len), 0);
	assert_int_equal(m, TRACE_ALL);
	assert_int_equal(trace_filter("", &m, &bad, &bad_len), 0);
	assert_int_equal(m, TRACE_ALL);

	assert_int_equal(trace_filter("kvm_exit", &m, &bad, &bad_len), 0);
	assert_int_equal(m, BIT(kvm_exit));
	assert_int_equal(trace_filter("tdx_ve,kvm_entry", &m, &bad, &bad_len), 0);
	assert_int_equal(m, BIT(tdx_ve) | BIT(kvm_entry));
	assert_int_equal(trace_filter("*seamcall*", &m, &bad, &bad_len), 0);
	assert_int_equal(m, BIT(kvm_tdx_seamcall));
	/* kvm_* is every event but the module's tdx_*. */
	assert_int_equal(trace_filter("kvm_*", &m, &bad, &bad_len), 0);
	assert_int_equal(m, TRACE_ALL & ~(BIT(tdx_ve) | BIT(tdx_sept_entry_changed)));
	/* A whole name only: a prefix is not a match. */
	assert_int_equal(trace_filter("kvm_exi", &m, &bad, &bad_len), -1);
	assert_int_equal(bad_len, 7);
	assert_memory_equal(bad, "kvm_exi", 7);

	/* The first glob that names nothing is reported, even after good ones. */
	assert_int_equal(trace_filter("kvm_exit,nope*,tdx_ve", &m, &bad, &bad_len), -1);
	assert_int_equal(bad_len, 5);
	assert_memory_equal(bad, "nope*", 5);
	/* An empty item is a typo too. */
	assert_int_equal(trace_filter("kvm_exit,", &m, &bad, &bad_len), -1);
	assert_int_equal(bad_len, 0);
}

static void test_filter_check_api(void **state)
{
	struct tdxmmu_td_config cfg;
	tdxmmu_td *td = NULL;

	(void)state;
	assert_int_equal(tdxmmu_trace_filter_check("kvm_*,tdx_ve"), TDXMMU_OK);
	assert_int_equal(tdxmmu_trace_filter_check("kvm_exit,bogus"), TDXMMU_EINVAL);
	assert_non_null(strstr(tdxmmu_last_error(), "'bogus'"));
	assert_non_null(strstr(tdxmmu_last_error(), "kvm_tdp_mmu_spte_changed"));

	/* The API refuses a TD whose filter names nothing. */
	tdxmmu_td_config_init(&cfg);
	cfg.trace = stderr;
	cfg.trace_events = "kvm_exti";
	assert_int_equal(tdxmmu_td_create(&cfg, &td), TDXMMU_EINVAL);
	assert_null(td);

	assert_int_equal(tdxmmu_trace_event_count(), TRACE_EV_NR);
	assert_string_equal(tdxmmu_trace_event_name(TRACE_EV_kvm_exit), "kvm_exit");
	assert_null(tdxmmu_trace_event_name(TRACE_EV_NR));
}

static void test_spte_values(void **state)
{
	uint64_t leaf = (uint64_t)0x100200000ULL | SPTE_MMU_PRESENT_MASK | 0x7;

	(void)state;
	/* Leaves and non-present entries print as they are. */
	assert_int_equal(kvm_trace_spte(leaf, PG_LEVEL_4K), leaf);
	assert_int_equal(kvm_trace_spte(SHADOW_NONPRESENT_VALUE, PG_LEVEL_2M),
			 SHADOW_NONPRESENT_VALUE);
	assert_int_equal(kvm_trace_spte(leaf | PT_PAGE_SIZE_MASK, PG_LEVEL_2M),
			 leaf | PT_PAGE_SIZE_MASK);
	/* A table's entry needs a real table of an arena: test_two_tds. */
}

struct traced {
	tdxmmu_td *td;
	FILE *f;
	char *buf;
	size_t len;
};

/* Runs the same work on a fresh TD, tracing into a memory buffer (open
 * until the TD is destroyed: teardown traces too). */
static void traced_td(struct traced *t)
{
	struct tdxmmu_td_config cfg;
	enum tdxmmu_outcome oc;
	tdxmmu_td *td;
	uint64_t shared;

	t->f = open_memstream(&t->buf, &t->len);
	assert_non_null(t->f);
	tdxmmu_td_config_init(&cfg);
	cfg.nr_vcpus = 2;
	cfg.trace = t->f;
	assert_int_equal(tdxmmu_td_create(&cfg, &td), TDXMMU_OK);
	shared = tdxmmu_td_shared_bit(td);
	assert_int_equal(tdxmmu_memslot_add(td, 0, 0, 8 << 20), TDXMMU_OK);
	assert_int_equal(tdxmmu_td_finalize(td), TDXMMU_OK);
	/* Private memory over several 2M tables, a conversion to shared and
	 * back: every table level of both trees is linked and some freed. */
	assert_int_equal(tdxmmu_vcpu_fill(td, 0, 0, 4 << 20, 0xaa, &oc), TDXMMU_OK);
	assert_int_equal(oc, TDXMMU_OUTCOME_OK);
	assert_int_equal(tdxmmu_vcpu_mapgpa(td, 1, shared | 0x200000, 0x200000, &oc),
			 TDXMMU_OK);
	assert_int_equal(tdxmmu_vcpu_fill(td, 1, shared | 0x200000, 0x200000, 0x5b, &oc),
			 TDXMMU_OK);
	assert_int_equal(tdxmmu_vcpu_mapgpa(td, 0, 0x200000, 0x200000, &oc), TDXMMU_OK);
	assert_int_equal(tdxmmu_vcpu_fill(td, 0, 0x200000, 0x200000, 0x11, &oc), TDXMMU_OK);
	t->td = td;
}

static void traced_end(struct traced *t)
{
	api_fx_destroy_clean(t->td);
	fclose(t->f);
	free(t->buf);
}

static void test_two_tds(void **state)
{
	struct traced a, b;

	(void)state;
	/* Both alive at once: B's tables cannot reuse A's memory. */
	traced_td(&a);
	traced_td(&b);
	fflush(a.f);
	fflush(b.f);
	assert_true(a.len > 10000);
	assert_non_null(strstr(a.buf, "tree mirror"));
	assert_non_null(strstr(a.buf, "tree shared"));
	assert_non_null(strstr(a.buf, "new_spte 0x80000f000000")); /* a table */
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.buf, b.buf, a.len);
	traced_end(&a);
	traced_end(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_filter_globs),
		cmocka_unit_test(test_filter_check_api),
		cmocka_unit_test(test_spte_values),
		cmocka_unit_test(test_two_tds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
