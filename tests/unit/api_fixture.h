/* SPDX-License-Identifier: MIT */
/*
 * Helpers for the unit tests that drive the model through the public API
 * only (test_api, test_check, test_kvm_dead, test_kvm_enomem, the CPU API
 * tests, the show tests): a small TD, a raw SEAMCALL issued as a host program
 * would, and a destroy that must leave nothing behind. Header-only: each test program includes it
 * after <cmocka.h>.
 */
#ifndef TDXMMU_TESTS_API_FIXTURE_H
#define TDXMMU_TESTS_API_FIXTURE_H

#include <stdint.h>

#include "tdxmmu/tdxmmu.h"

/* Issues a raw SEAMCALL by mnemonic and returns its status (the call itself
 * must be issued: tdxmmu_seamcall() returns 0 whatever the status). */
static inline uint64_t api_fx_raw(tdxmmu_td *td, const char *leaf, uint64_t gpa,
				  unsigned level, uint64_t page)
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

/* A finalized TD of @mmu with one 4 MiB memslot at GPA 0, the rest of its
 * configuration the defaults. */
static inline tdxmmu_td *api_fx_small_td(enum tdxmmu_mmu_kind mmu)
{
	struct tdxmmu_td_config cfg;
	tdxmmu_td *td = NULL;

	tdxmmu_td_config_init(&cfg);
	cfg.mmu = mmu;
	assert_int_equal(tdxmmu_td_create(&cfg, &td), 0);
	assert_int_equal(tdxmmu_memslot_add(td, 0, 0, 4 << 20), 0);
	assert_int_equal(tdxmmu_td_finalize(td), 0);
	return td;
}

/* Destroys td and asserts that nothing leaked: no host frame, no frame the
 * TD still owns, no KVM page-table page, no S-EPT page. */
static inline void api_fx_destroy_clean(tdxmmu_td *td)
{
	struct tdxmmu_destroy_report rep;

	if (tdxmmu_td_destroy(td, &rep) != TDXMMU_OK)
		fail_msg("destroy: %s", rep.message);
	assert_int_equal(rep.frames_leaked, 0);
	assert_int_equal(rep.frames_td_owned, 0);
	assert_int_equal(rep.kvm_pages_leaked, 0);
	assert_int_equal(rep.sept_pages_leaked, 0);
	assert_string_equal(rep.message, "");
}

#endif
