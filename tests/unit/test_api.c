/* SPDX-License-Identifier: MIT */
/*
 * The public C API with bad input: every call answers an error code (with a
 * message) or the TDX module's error status, never crashes, and leaves the
 * model consistent: after each bad call the TD still works and destroys
 * without a leak. Uses the public header only, as a user would.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <tdxmmu/tdxmmu.h>

#define MiB (1ULL << 20)
#define GiB (1ULL << 30)

static tdxmmu_td *make_td(unsigned gpaw)
{
	struct tdxmmu_td_config cfg;
	tdxmmu_td *td = NULL;

	tdxmmu_td_config_init(&cfg);
	cfg.gpaw = gpaw;
	cfg.host_memory = 64 * MiB;
	assert_int_equal(tdxmmu_td_create(&cfg, &td), TDXMMU_OK);
	assert_int_equal(tdxmmu_memslot_add(td, 0, 0, 4 * MiB), TDXMMU_OK);
	return td;
}

static void destroy_clean(tdxmmu_td *td)
{
	struct tdxmmu_destroy_report rep;
	int ret = tdxmmu_td_destroy(td, &rep);

	if (ret != TDXMMU_OK)
		fail_msg("destroy: %s", rep.message);
	assert_int_equal(rep.frames_leaked, 0);
	assert_int_equal(rep.frames_td_owned, 0);
	assert_int_equal(rep.kvm_pages_leaked, 0);
}

/* Issues a raw SEAMCALL and returns its status (the call itself succeeds). */
static uint64_t raw(tdxmmu_td *td, const char *leaf, uint64_t gpa, unsigned level,
		    uint64_t page)
{
	struct tdxmmu_seamcall_req req = {
		.leaf = tdxmmu_leaf_from_name(leaf), .gpa = gpa, .level = level,
		.page = page,
	};
	struct tdxmmu_seamcall_out out;

	assert_true(req.leaf >= 0);
	assert_int_equal(tdxmmu_seamcall(td, &req, &out), TDXMMU_OK);
	return out.rax;
}

static void assert_status(uint64_t got, const char *want)
{
	uint64_t w;

	assert_true(tdxmmu_status_from_name(want, &w));
	if (!tdxmmu_status_class_eq(got, w))
		fail_msg("status %#llx (%s), want %s", (unsigned long long)got,
			 tdxmmu_status_name(got), want);
}

static void test_create_bad_config(void **state)
{
	struct tdxmmu_td_config cfg;
	tdxmmu_td *td = (tdxmmu_td *)&cfg; /* must be reset to NULL */

	(void)state;
	tdxmmu_td_config_init(&cfg);
	cfg.gpaw = 50;
	assert_int_equal(tdxmmu_td_create(&cfg, &td), TDXMMU_EINVAL);
	assert_null(td);
	assert_non_null(strstr(tdxmmu_last_error(), "gpaw"));
	tdxmmu_td_config_init(&cfg);
	cfg.nr_vcpus = 0;
	assert_int_equal(tdxmmu_td_create(&cfg, &td), TDXMMU_EINVAL);
	cfg.nr_vcpus = TDXMMU_MAX_VCPUS + 1;
	assert_int_equal(tdxmmu_td_create(&cfg, &td), TDXMMU_EINVAL);
	tdxmmu_td_config_init(&cfg);
	cfg.mmu = (enum tdxmmu_mmu_kind)7;
	assert_int_equal(tdxmmu_td_create(&cfg, &td), TDXMMU_EINVAL);
	tdxmmu_td_config_init(&cfg);
	cfg.host_memory = 4096;
	assert_int_equal(tdxmmu_td_create(&cfg, &td), TDXMMU_ERANGE);
	assert_string_equal(tdxmmu_strerror(TDXMMU_ERANGE), "ERANGE");
	assert_string_equal(tdxmmu_strerror(12345), "?");
}

static void test_memslot_and_add_bad_input(void **state)
{
	tdxmmu_td *td = make_td(48);

	(void)state;
	assert_int_equal(tdxmmu_memslot_add(td, 1, 0x1001, 4096), TDXMMU_EINVAL);
	assert_int_equal(tdxmmu_memslot_add(td, 1, 8 * MiB, 0), TDXMMU_EINVAL);
	assert_int_equal(tdxmmu_memslot_add(td, 1, 1 * MiB, 4096), TDXMMU_EEXIST); /* overlap */
	assert_int_equal(tdxmmu_memslot_add(td, 0, 8 * MiB, 4096), TDXMMU_EEXIST); /* same id */
	assert_int_equal(tdxmmu_memslot_add(td, 1, (1ULL << 47) - 4096, 8192), TDXMMU_ERANGE);
	assert_int_equal(tdxmmu_memslot_add(td, 1, 8 * MiB, 1ULL << 62), TDXMMU_ERANGE);
	assert_int_equal(tdxmmu_memslot_add(td, 1, 8 * MiB, 1 * GiB), TDXMMU_ENOMEM);

	assert_int_equal(tdxmmu_td_add_page(td, 0x1008, 0), TDXMMU_EINVAL);      /* misaligned */
	assert_int_equal(tdxmmu_td_add_page(td, 1ULL << 47, 0), TDXMMU_EINVAL);  /* shared alias */
	assert_int_equal(tdxmmu_td_add_page(td, 1ULL << 50, 0), TDXMMU_EINVAL);  /* beyond GPAW */
	assert_int_equal(tdxmmu_td_add_page(td, 64 * MiB, 0), TDXMMU_ENOENT);    /* no memslot */
	assert_int_equal(tdxmmu_td_add_page(td, 0x2000, 0x11), TDXMMU_OK);
	assert_int_equal(tdxmmu_td_add_page(td, 0x2000, 0x11), TDXMMU_EEXIST);
	assert_int_equal(tdxmmu_td_finalize(td), TDXMMU_OK);
	assert_int_equal(tdxmmu_td_finalize(td), TDXMMU_ESTATE);
	assert_int_equal(tdxmmu_td_add_page(td, 0x3000, 0), TDXMMU_ESTATE);
	destroy_clean(td);
}

/* Raw SEAMCALLs with bad operands get the module's error, change nothing. */
static void test_seamcall_bad_operands(void **state)
{
	tdxmmu_td *td = make_td(48);
	struct tdxmmu_seamcall_req req = { .leaf = 999 };
	enum tdxmmu_sept_state s;
	uint64_t page, owned, v;

	(void)state;
	assert_int_equal(tdxmmu_seamcall(td, &req, NULL), TDXMMU_EINVAL);
	req.leaf = tdxmmu_leaf_from_name("TDH.MEM.PAGE.AUG");
	req.level = 8;
	assert_int_equal(tdxmmu_seamcall(td, &req, NULL), TDXMMU_EINVAL);
	assert_int_equal(tdxmmu_leaf_from_name("TDH.NOPE"), -1);

	assert_int_equal(tdxmmu_host_frame_new(td, &page), TDXMMU_OK);
	/* misaligned GPA for the level, wrong level, reserved bits */
	assert_status(raw(td, "TDH.MEM.SEPT.ADD", 0x1000, 2, page), "TDX_OPERAND_INVALID");
	assert_status(raw(td, "TDH.MEM.SEPT.ADD", 0, 0, page), "TDX_OPERAND_INVALID");
	assert_status(raw(td, "TDH.MEM.SEPT.ADD", 0, 5, page), "TDX_OPERAND_INVALID");
	assert_status(raw(td, "TDH.MEM.SEPT.ADD", 1ULL << 60, 3, page), "TDX_OPERAND_INVALID");
	assert_status(raw(td, "TDH.MEM.PAGE.AUG", 0, 2, page), "TDX_OPERAND_INVALID");
	/* an HPA outside every TDMR, an HPA carrying key-id bits, misaligned */
	assert_status(raw(td, "TDH.MEM.SEPT.ADD", 0, 3, 0x1000), "TDX_OPERAND_ADDR_RANGE_ERROR");
	assert_status(raw(td, "TDH.MEM.SEPT.ADD", 0, 3, page | (33ULL << 46)),
		      "TDX_OPERAND_INVALID");
	assert_status(raw(td, "TDH.MEM.SEPT.ADD", 0, 3, page + 8), "TDX_OPERAND_INVALID");
	/* a frame the TD does not own cannot be removed or reclaimed */
	assert_status(raw(td, "TDH.MEM.PAGE.REMOVE", 0, 0, 0), "TDX_EPT_WALK_FAILED");
	assert_status(raw(td, "TDH.PHYMEM.PAGE.RECLAIM", 0, 0, page), "TDX_PAGE_METADATA_INCORRECT");
	/* nothing changed */
	assert_int_equal(tdxmmu_sept_state(td, 0, 3, &s), TDXMMU_OK);
	assert_int_equal(s, TDXMMU_SEPT_FREE);
	assert_int_equal(tdxmmu_counter(td, "seamcall.TDH.MEM.SEPT.ADD", &v), TDXMMU_OK);
	assert_int_equal(v, 7);

	/* a frame owned by the TD cannot be given to it again */
	assert_status(raw(td, "TDH.MEM.SEPT.ADD", 0, 3, page), "TDX_SUCCESS");
	assert_int_equal(tdxmmu_host_frame_of(td, 0x5000, &owned), TDXMMU_OK);
	assert_status(raw(td, "TDH.MEM.SEPT.ADD", 1ULL << 39, 3, page), "TDX_PAGE_METADATA_INCORRECT");
	assert_int_equal(tdxmmu_host_frame_of(td, 64 * MiB, &owned), TDXMMU_ENOENT);
	/* leaves that cannot be issued raw */
	req = (struct tdxmmu_seamcall_req){ .leaf = tdxmmu_leaf_from_name("TDH.MNG.CREATE") };
	assert_int_equal(tdxmmu_seamcall(td, &req, NULL), TDXMMU_EINVAL);
	destroy_clean(td); /* the raw S-EPT page is reclaimed at destroy */
}

static void test_queries_bad_input(void **state)
{
	tdxmmu_td *td = make_td(52);
	enum tdxmmu_sept_state s;
	uint64_t v;

	(void)state;
	assert_int_equal(tdxmmu_td_shared_bit(td), 1ULL << 51);
	assert_int_equal(tdxmmu_sept_state(td, 1ULL << 52, 0, &s), TDXMMU_ERANGE);
	assert_int_equal(tdxmmu_counter(td, "seamcall.TDH.NOPE", &v), TDXMMU_ENOENT);
	assert_int_equal(tdxmmu_counter(td, "nope", &v), TDXMMU_ENOENT);
	assert_int_equal(tdxmmu_host_read(td, 0x1004, &v), TDXMMU_EINVAL);
	assert_int_equal(tdxmmu_host_read(td, 64 * MiB, &v), TDXMMU_ENOENT);
	assert_int_equal(tdxmmu_host_write(td, 64 * MiB, 1), TDXMMU_ENOENT);
	assert_int_equal(tdxmmu_inject_busy(td, 2000000), TDXMMU_ERANGE);
	assert_int_equal(tdxmmu_cost_set(td, 999, 1), TDXMMU_EINVAL);
	assert_int_equal(tdxmmu_cost_set(td, tdxmmu_leaf_from_name("TDH.MEM.PAGE.AUG"), 42), 0);
	assert_int_equal(tdxmmu_cost_get(td, tdxmmu_leaf_from_name("TDH.MEM.PAGE.AUG")), 42);
	/* the host's view: a shared frame it wrote reads back */
	assert_int_equal(tdxmmu_host_write(td, 0x3000, 0xabcdef), TDXMMU_OK);
	assert_int_equal(tdxmmu_host_read(td, (1ULL << 51) | 0x3000, &v), TDXMMU_OK);
	assert_int_equal(v, 0xabcdef);
	destroy_clean(td);
}

/* Build a TD twice with the same pages: the same MRTD; other content: not. */
static void test_mrtd_reproducible(void **state)
{
	uint8_t a[48], b[48], c[48];
	tdxmmu_td *td;

	(void)state;
	for (int i = 0; i < 3; i++) {
		td = make_td(48);
		assert_int_equal(tdxmmu_td_mrtd(td, a), TDXMMU_ESTATE);
		assert_int_equal(tdxmmu_td_add_page(td, 0, 0x11), TDXMMU_OK);
		assert_int_equal(tdxmmu_td_add_page(td, 0x1000, i == 2 ? 0x23 : 0x22), TDXMMU_OK);
		assert_int_equal(tdxmmu_td_finalize(td), TDXMMU_OK);
		assert_int_equal(tdxmmu_td_mrtd(td, i == 0 ? a : i == 1 ? b : c), TDXMMU_OK);
		destroy_clean(td);
	}
	assert_memory_equal(a, b, 48);
	assert_memory_not_equal(a, c, 48);
}

/* BUSY injection: KVM's build path retries SEPT-busy, so a build with a
 * share of injected BUSY still succeeds and measures the same. */
static void test_busy_injection(void **state)
{
	tdxmmu_td *td = make_td(48);
	uint64_t busy_seen = 0;

	(void)state;
	assert_int_equal(tdxmmu_inject_busy(td, 1000000), TDXMMU_OK); /* every call */
	for (int i = 0; i < 8; i++)
		busy_seen += tdxmmu_status_class_eq(raw(td, "TDH.MEM.RANGE.BLOCK", 0, 3, 0),
						    0x8000020000000000ULL);
	assert_int_equal(busy_seen, 8);
	assert_int_equal(tdxmmu_inject_busy(td, 0), TDXMMU_OK);
	assert_status(raw(td, "TDH.MEM.RANGE.BLOCK", 0, 3, 0), "TDX_EPT_ENTRY_STATE_INCORRECT");
	destroy_clean(td);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_bad_config),
		cmocka_unit_test(test_memslot_and_add_bad_input),
		cmocka_unit_test(test_seamcall_bad_operands),
		cmocka_unit_test(test_queries_bad_input),
		cmocka_unit_test(test_mrtd_reproducible),
		cmocka_unit_test(test_busy_injection),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
