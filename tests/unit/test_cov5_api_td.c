/* SPDX-License-Identifier: MIT */
/*
 * The C API's refusals and retries in src/api/td.c that no other test asks
 * for (issue 14, coverage round 5): each refusal with its error code and the
 * exact tdxmmu_last_error() text, nothing done, the TD still `check` clean
 * and destroyed leak-free; each guest action retried after one injected
 * -ENOMEM as a VMM re-runs KVM_RUN (the access completes, one injection
 * hit); every counter that tdxmmu_counters_foreach() lists readable by
 * name with the same value; and the S-EPT state query meeting an entry no
 * module writes (white-box: an entry corrupted through tdx_internal.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "api_fixture.h"

#include <tdxmmu/tdxmmu.h>

#include "api/api_internal.h"
#include "kvm/kvm.h"
#include "tdx/tdx_internal.h"

static void check_clean(tdxmmu_td *td)
{
	char report[2048];
	int n = tdxmmu_check(td, report, sizeof(report));

	if (n)
		fail_msg("check: %d violations:\n%s", n, report);
}

static void want_error(int got, int want, const char *msg)
{
	assert_int_equal(got, want);
	assert_string_equal(tdxmmu_last_error(), msg);
}

/* Configuration and memslot operands out of range. */
static void test_create_and_memslot_ranges(void **state)
{
	struct tdxmmu_td_config cfg;
	tdxmmu_td *td = (tdxmmu_td *)&cfg;

	(void)state;
	tdxmmu_td_config_init(&cfg);
	/* More than the modeled platform's address space (2^47 less the 4G
	 * below the pool). */
	cfg.host_memory = 1ULL << 47;
	want_error(tdxmmu_td_create(&cfg, &td), TDXMMU_ERANGE, "host memory must be 4M..127T");
	assert_null(td);

	td = api_fx_small_td(TDXMMU_MMU_TDP);
	/* A range that wraps past 2^64 is not below the shared bit. */
	want_error(tdxmmu_memslot_add(td, 1, 0xfffffffffffff000ULL, 0x2000), TDXMMU_ERANGE,
		   "memslot [0xfffffffffffff000, 0x1000) is not below the shared bit 0x800000000000");
	check_clean(td);
	api_fx_destroy_clean(td);
}

/* Host-side operands: a GPA outside the GPA width has no memslot; a leaf
 * number no SEAMCALL has is unknown; the site-name parser takes no name
 * and may be asked only whether a name is known. */
static void test_host_operands(void **state)
{
	tdxmmu_td *td = api_fx_small_td(TDXMMU_MMU_TDP);
	struct tdxmmu_seamcall_req req = { .leaf = 9999 };
	struct tdxmmu_seamcall_out out = { .rax = 7 };
	enum tdxmmu_alloc_site site = TDXMMU_SITE_FRAME;
	uint64_t hpa = 1;

	(void)state;
	want_error(tdxmmu_host_frame_of(td, 1ULL << 48, &hpa), TDXMMU_ENOENT,
		   "no memslot covers 0x1000000000000");
	assert_int_equal(hpa, 1);
	want_error(tdxmmu_seamcall(td, &req, &out), TDXMMU_EINVAL, "unknown SEAMCALL leaf 9999");
	assert_int_equal(out.rax, 7);
	assert_false(tdxmmu_alloc_site_parse(NULL, &site));
	assert_int_equal(site, TDXMMU_SITE_FRAME);
	assert_true(tdxmmu_alloc_site_parse("pt", NULL));
	assert_true(tdxmmu_alloc_site_parse("pt", &site));
	assert_int_equal(site, TDXMMU_SITE_PT);
	check_clean(td);
	api_fx_destroy_clean(td);
}

struct counter_walk {
	tdxmmu_td *td;
	unsigned nr;
};

static void one_counter(const char *name, uint64_t val, void *arg)
{
	struct counter_walk *w = arg;
	uint64_t by_name = ~val;

	if (tdxmmu_counter(w->td, name, &by_name) != TDXMMU_OK)
		fail_msg("counter %s listed but not readable: %s", name, tdxmmu_last_error());
	if (by_name != val)
		fail_msg("counter %s: %llu listed, %llu by name", name,
			 (unsigned long long)val, (unsigned long long)by_name);
	w->nr++;
}

/* Every counter the list gives is one tdxmmu_counter() knows, with the
 * same value (after some work, so most are not zero); names it does not
 * know are ENOENT. */
static void test_counters_by_name(void **state)
{
	tdxmmu_td *td = api_fx_small_td(TDXMMU_MMU_TDP);
	struct counter_walk w = { .td = td };
	enum tdxmmu_outcome o;
	uint64_t v;

	(void)state;
	assert_int_equal(tdxmmu_vcpu_write(td, 0, 0x1000, 5, &o), TDXMMU_OK);
	assert_int_equal(tdxmmu_vcpu_mapgpa(td, 0, tdxmmu_td_shared_bit(td) | 0x1000, 4096, &o),
			 TDXMMU_OK);
	assert_int_equal(tdxmmu_vcpu_write(td, 0, tdxmmu_td_shared_bit(td) | 0x1000, 6, &o),
			 TDXMMU_OK);
	tdxmmu_counters_foreach(td, one_counter, &w);
	assert_true(w.nr > 40);
	assert_int_equal(tdxmmu_counter(td, "fault.private", &v), TDXMMU_OK);
	assert_true(v >= 1);
	want_error(tdxmmu_counter(td, "fault.nonsense", &v), TDXMMU_ENOENT,
		   "unknown counter fault.nonsense");
	want_error(tdxmmu_counter(td, "seamcall.TDH.NONSENSE", &v), TDXMMU_ENOENT,
		   "unknown counter seamcall.TDH.NONSENSE");
	api_fx_destroy_clean(td);
}

static tdxmmu_td *td_16m(enum tdxmmu_accept_mode accept)
{
	struct tdxmmu_td_config cfg;
	tdxmmu_td *td = NULL;

	tdxmmu_td_config_init(&cfg);
	cfg.accept = accept;
	assert_int_equal(tdxmmu_td_create(&cfg, &td), TDXMMU_OK);
	assert_int_equal(tdxmmu_memslot_add(td, 0, 0, 16 << 20), TDXMMU_OK);
	assert_int_equal(tdxmmu_td_finalize(td), TDXMMU_OK);
	return td;
}

/* Arms "the next allocation at any site fails, once" and wants `call` to
 * complete with outcome ok having hit it. */
#define ONCE(td, call)                                                          \
	do {                                                                    \
		struct tdxmmu_inject_counts n_;                                 \
		uint64_t before_;                                               \
                                                                                \
		assert_int_equal(tdxmmu_inject_counts(td, &n_), TDXMMU_OK);     \
		before_ = n_.enomem;                                            \
		assert_int_equal(tdxmmu_inject_enomem_nth(td, TDXMMU_SITE_ALL, 1, false), \
				 TDXMMU_OK);                                    \
		o = TDXMMU_OUTCOME_BUGGED;                                      \
		assert_int_equal(call, TDXMMU_OK);                              \
		assert_int_equal(o, TDXMMU_OUTCOME_OK);                         \
		assert_int_equal(tdxmmu_inject_counts(td, &n_), TDXMMU_OK);     \
		assert_int_equal(n_.enomem, before_ + 1);                       \
	} while (0)

/*
 * A VMM re-runs KVM_RUN after an -ENOMEM it can get past: with the next
 * allocation failing once, each guest action completes with outcome ok,
 * the injection was hit exactly once, and the result is what the guest
 * asked for; the same for a build-time add (KVM_TDX_INIT_MEM_REGION). The
 * re-run is the CPU model's (cpu.c, enomem_rerun) and KVM's own fault
 * retry: td.c's guest_enomem_retry() never sees such an -ENOMEM (measured:
 * its `return true` is not reached). Each action works on a 2M region of
 * its own, so that its fault has tables to allocate.
 */
static void test_guest_actions_retry_enomem(void **state)
{
	tdxmmu_td *td = td_16m(TDXMMU_ACCEPT_AUTO);
	enum tdxmmu_outcome o;
	uint64_t sh = tdxmmu_td_shared_bit(td), v = 1, status = 1, mismatch = 1;

	(void)state;
	ONCE(td, tdxmmu_vcpu_write(td, 0, 0x200000, 0x77, &o));
	ONCE(td, tdxmmu_vcpu_read(td, 0, 0x400000, &v, &o));
	assert_int_equal(v, 0);
	ONCE(td, tdxmmu_vcpu_touch(td, 0, 0x600000, 4096, true, &o));
	ONCE(td, tdxmmu_vcpu_fill(td, 0, 0x800000, 4096, 0x5a, &o));
	ONCE(td, tdxmmu_vcpu_verify(td, 0, 0xa00000, 4096, 0, &mismatch, &o));
	assert_int_equal(mismatch, UINT64_MAX);
	ONCE(td, tdxmmu_vcpu_mapgpa(td, 0, sh | 0xc00000, 4096, &o));
	/* What the guest wrote is there. */
	assert_int_equal(tdxmmu_vcpu_read(td, 0, 0x200000, &v, &o), TDXMMU_OK);
	assert_int_equal(v, 0x77);
	assert_int_equal(tdxmmu_vcpu_verify(td, 0, 0x800000, 4096, 0x5a, &mismatch, &o),
			 TDXMMU_OK);
	assert_int_equal(mismatch, UINT64_MAX);
	check_clean(td);
	api_fx_destroy_clean(td);

	/* The guest's accept (explicit mode): its AUG's fault. Before it,
	 * a build-time add whose first try gets no memory. */
	{
		struct tdxmmu_td_config cfg;
		struct tdxmmu_inject_counts n;

		tdxmmu_td_config_init(&cfg);
		cfg.accept = TDXMMU_ACCEPT_EXPLICIT;
		assert_int_equal(tdxmmu_td_create(&cfg, &td), TDXMMU_OK);
		assert_int_equal(tdxmmu_memslot_add(td, 0, 0, 16 << 20), TDXMMU_OK);
		assert_int_equal(tdxmmu_inject_enomem_nth(td, TDXMMU_SITE_ALL, 1, false),
				 TDXMMU_OK);
		assert_int_equal(tdxmmu_td_add_page(td, 0x400000, 0x42), TDXMMU_OK);
		assert_int_equal(tdxmmu_inject_counts(td, &n), TDXMMU_OK);
		assert_int_equal(n.enomem, 1);
		assert_int_equal(tdxmmu_td_finalize(td), TDXMMU_OK);
		assert_int_equal(tdxmmu_vcpu_read(td, 0, 0x400000, &v, &o), TDXMMU_OK);
		assert_int_equal(o, TDXMMU_OUTCOME_OK);
		assert_int_equal(v, 0x4242424242424242ULL);
	}
	ONCE(td, tdxmmu_vcpu_accept_outcome(td, 0, 0x200000, 0, &status, &o));
	assert_int_equal(status, 0);
	check_clean(td);
	api_fx_destroy_clean(td);
}
#undef ONCE

/* accept-memory stops at the first action whose outcome is not ok, at 2M
 * as at 4K: a range with no memslot is MMIO (nothing accepted). */
static void test_accept_memory_stops(void **state)
{
	struct tdxmmu_td_config cfg;
	struct tdxmmu_accept_memory_result res;
	tdxmmu_td *td = NULL;
	enum tdxmmu_outcome o = TDXMMU_OUTCOME_OK;

	(void)state;
	tdxmmu_td_config_init(&cfg);
	cfg.accept = TDXMMU_ACCEPT_EXPLICIT;
	assert_int_equal(tdxmmu_td_create(&cfg, &td), TDXMMU_OK);
	assert_int_equal(tdxmmu_memslot_add(td, 0, 0, 4 << 20), TDXMMU_OK);
	assert_int_equal(tdxmmu_td_finalize(td), TDXMMU_OK);
	/* 2M-aligned and 2M long: the first try is at 2M. */
	assert_int_equal(tdxmmu_vcpu_accept_memory(td, 0, 64 << 20, 2 << 20, &res, &o), TDXMMU_OK);
	assert_int_equal(o, TDXMMU_OUTCOME_MMIO);
	assert_int_equal(res.nr_2m + res.nr_4k + res.fallbacks, 0);
	/* Not 2M-aligned: the first try is at 4K. */
	assert_int_equal(tdxmmu_vcpu_accept_memory(td, 0, (64 << 20) + 0x1000, 0x1000, &res, &o),
			 TDXMMU_OK);
	assert_int_equal(o, TDXMMU_OUTCOME_MMIO);
	assert_int_equal(res.nr_2m + res.nr_4k + res.fallbacks, 0);
	check_clean(td);
	api_fx_destroy_clean(td);
}

/*
 * The S-EPT state query on entries no module writes (white-box): a 4K
 * entry with a state code outside the module's table is misconfigured
 * (EBUG, the model's own breakage); a 2M entry so corrupted ends the walk
 * above the asked level with no state to name (EINVAL). Put back, the
 * entries read FREE again.
 */
static void test_sept_state_misconfigured(void **state)
{
	tdxmmu_td *td = api_fx_small_td(TDXMMU_MMU_TDP);
	struct tdx_td *t = tdx_td_of_tdr_pfn(td->tdx, hpa_to_pfn(td->kvm->tdr));
	enum tdxmmu_outcome o;
	enum tdxmmu_sept_state s;
	uint64_t entry[5], old;
	hpa_t table[5];
	_Atomic uint64_t *e;
	struct tdxmmu_view *v = NULL;
	unsigned seen = 0;

	(void)state;
	assert_non_null(t);
	/* 0x1000 mapped: its 4K table exists; 0x5000 is FREE in it. */
	assert_int_equal(tdxmmu_vcpu_write(td, 0, 0x1000, 5, &o), TDXMMU_OK);
	assert_int_equal(tdx_debug_sept_path(td->tdx, td->kvm->tdr, 0x5000, entry, table), 0);
	e = tdx_sept_page(td->tdx, t, hpa_to_pfn(table[0])) + sept_index(0x5000, 0);
	old = atomic_load(e);
	assert_int_equal(sept_state(old), SEPT_FREE);
	atomic_store(e, old | SEPT_PS); /* code 0x4E: no state */
	want_error(tdxmmu_sept_state(td, 0x5000, 0, &s), TDXMMU_EBUG,
		   "misconfigured S-EPT entry for 0x5000");
	/* show draws it with its raw value and no frame: the state the
	 * view can name for it is none (FREE), the HPA field is no page. */
	assert_int_equal(tdxmmu_show_collect(td, 0x5000, 4096, &v), TDXMMU_OK);
	for (size_t i = 0; i < v->nr_entries; i++) {
		const struct tdxmmu_view_entry *en = &v->entries[i];

		if (v->tables[en->table].tree != TDXMMU_TREE_SEPT || en->level != 0)
			continue;
		assert_int_equal(en->raw, old | SEPT_PS);
		assert_int_equal(en->sept_state, TDXMMU_SEPT_FREE);
		assert_int_equal(en->pfn, 0);
		seen++;
	}
	assert_int_equal(seen, 1);
	tdxmmu_view_free(v);
	atomic_store(e, old);
	assert_int_equal(tdxmmu_sept_state(td, 0x5000, 0, &s), TDXMMU_OK);
	assert_int_equal(s, TDXMMU_SEPT_FREE);

	/* The 2M entry of 0x600000 (FREE: no table below). */
	assert_int_equal(tdx_debug_sept_path(td->tdx, td->kvm->tdr, 0x600000, entry, table), 1);
	e = tdx_sept_page(td->tdx, t, hpa_to_pfn(table[1])) + sept_index(0x600000, 1);
	old = atomic_load(e);
	assert_int_equal(sept_state(old), SEPT_FREE);
	atomic_store(e, old | SEPT_PS);
	want_error(tdxmmu_sept_state(td, 0x600000, 0, &s), TDXMMU_EINVAL,
		   "no S-EPT entry for 0x600000 at level 0");
	atomic_store(e, old);
	assert_int_equal(tdxmmu_sept_state(td, 0x600000, 0, &s), TDXMMU_OK);
	assert_int_equal(s, TDXMMU_SEPT_FREE);
	check_clean(td);
	api_fx_destroy_clean(td);
}

/* show's entry points, each missing pointer it needs: EINVAL, named, no
 * view made (test_api_refusals.c asks for the others). */
static void test_show_missing_pointers(void **state)
{
	tdxmmu_td *td = api_fx_small_td(TDXMMU_MMU_TDP);
	const uint64_t gpas[] = { 0x1000 };
	struct tdxmmu_view *v = (struct tdxmmu_view *)&td;
	enum tdxmmu_spte_state ps, ss;
	size_t total = 7;

	(void)state;
	want_error(tdxmmu_show_collect_pages(td, gpas, 1, NULL), TDXMMU_EINVAL, "show: NULL argument");
	want_error(tdxmmu_show_collect_pages(NULL, gpas, 1, &v), TDXMMU_EINVAL, "show: NULL argument");
	want_error(tdxmmu_show_collect(NULL, 0, 4096, &v), TDXMMU_EINVAL, "show: NULL argument");
	want_error(tdxmmu_spte_state_level(NULL, 0x1000, 0, &ps, &ss), TDXMMU_EINVAL,
		   "spte state: NULL argument");
	want_error(tdxmmu_mapped_pages(NULL, NULL, 0, &total), TDXMMU_EINVAL,
		   "mapped pages: NULL argument");
	assert_int_equal(total, 7);
	check_clean(td);
	api_fx_destroy_clean(td);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_and_memslot_ranges),
		cmocka_unit_test(test_host_operands),
		cmocka_unit_test(test_counters_by_name),
		cmocka_unit_test(test_guest_actions_retry_enomem),
		cmocka_unit_test(test_accept_memory_stops),
		cmocka_unit_test(test_sept_state_misconfigured),
		cmocka_unit_test(test_show_missing_pointers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
