/* SPDX-License-Identifier: MIT */
/* SPTE encoding (src/kvm/spte.h): layout, predicates, constructors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "kvm/spte.h"

#define PFN 0x123456789ULL

static void test_layout(void **state)
{
	(void)state;
	assert_int_equal(PT64_EPT_READABLE_MASK, 1ULL << 0);
	assert_int_equal(PT_WRITABLE_MASK, 1ULL << 1);
	assert_int_equal(PT64_EPT_EXECUTABLE_MASK, 1ULL << 2);
	assert_int_equal(VMX_EPT_MT_MASK, 7ULL << 3);
	assert_int_equal(VMX_EPT_IPAT_BIT, 1ULL << 6);
	assert_int_equal(PT_PAGE_SIZE_MASK, 1ULL << 7);
	assert_int_equal(VMX_EPT_ACCESS_BIT, 1ULL << 8);
	assert_int_equal(VMX_EPT_DIRTY_BIT, 1ULL << 9);
	assert_int_equal(SPTE_MMU_PRESENT_MASK, 1ULL << 11);
	assert_int_equal(SPTE_BASE_ADDR_MASK, 0x000FFFFFFFFFF000ULL);
	assert_int_equal(EPT_SPTE_HOST_WRITABLE, 1ULL << 57);
	assert_int_equal(EPT_SPTE_MMU_WRITABLE, 1ULL << 58);
	assert_int_equal(SPTE_PRIVATE_ZAPPED, 1ULL << 61);
	assert_int_equal(SPTE_SHARED_MASK, 1ULL << 62);
	assert_int_equal(VMX_EPT_SUPPRESS_VE_BIT, 1ULL << 63);
	assert_int_equal(SHADOW_NONPRESENT_VALUE, 1ULL << 63);
	assert_int_equal(REMOVED_SPTE, 0x80000000000005a0ULL);
}

static void test_nonpresent_values(void **state)
{
	(void)state;
	assert_false(is_shadow_present_pte(SHADOW_NONPRESENT_VALUE));
	assert_false(is_removed_spte(SHADOW_NONPRESENT_VALUE));
	assert_false(is_shared_spte(SHADOW_NONPRESENT_VALUE));

	/* Frozen, with and without the shared bit (L8: the compare masks S). */
	assert_false(is_shadow_present_pte(REMOVED_SPTE));
	assert_true(is_removed_spte(REMOVED_SPTE));
	assert_true(is_removed_spte(REMOVED_SPTE | SPTE_SHARED_MASK));
	assert_false(is_shadow_present_pte(REMOVED_SPTE | SPTE_SHARED_MASK));
	assert_false(is_removed_spte(REMOVED_SPTE | SPTE_PRIVATE_ZAPPED));
	assert_false(is_removed_spte(0x5a0));
	assert_false(is_removed_spte(SHADOW_NONPRESENT_VALUE | SPTE_SHARED_MASK));

	/* Zaps keep S and nothing else. */
	assert_int_equal(shadow_nonpresent_spte(SHADOW_NONPRESENT_VALUE),
			 SHADOW_NONPRESENT_VALUE);
	assert_int_equal(shadow_nonpresent_spte(SHADOW_NONPRESENT_VALUE | SPTE_SHARED_MASK),
			 SHADOW_NONPRESENT_VALUE | SPTE_SHARED_MASK);
	assert_int_equal(shadow_nonpresent_spte(make_spte(PFN, PG_LEVEL_4K, false,
							  SPTE_SHARED_MASK)),
			 SHADOW_NONPRESENT_VALUE | SPTE_SHARED_MASK);
	assert_int_equal(shadow_nonpresent_spte(make_spte(PFN, PG_LEVEL_4K, true,
							  SHADOW_NONPRESENT_VALUE)),
			 SHADOW_NONPRESENT_VALUE);
	assert_int_equal(shadow_nonpresent_spte(REMOVED_SPTE | SPTE_SHARED_MASK),
			 SHADOW_NONPRESENT_VALUE | SPTE_SHARED_MASK);

	/* PRIVATE_ZAPPED is non-present with the bit. */
	assert_true(is_private_zapped_spte(SHADOW_NONPRESENT_VALUE | SPTE_PRIVATE_ZAPPED |
					   (PFN << PAGE_SHIFT)));
	assert_false(is_private_zapped_spte(SHADOW_NONPRESENT_VALUE));
}

static void test_make_spte_private(void **state)
{
	uint64_t spte = make_spte(PFN, PG_LEVEL_4K, true, SHADOW_NONPRESENT_VALUE);

	(void)state;
	assert_true(is_shadow_present_pte(spte));
	assert_true(is_last_spte(spte, PG_LEVEL_4K));
	assert_false(is_large_pte(spte));
	assert_false(is_removed_spte(spte));
	assert_false(is_shared_spte(spte));
	assert_int_equal(spte_to_pfn(spte), PFN);
	/* Private leaves are always RWX (§1.1). */
	assert_int_equal(spte & VMX_EPT_RWX_MASK, VMX_EPT_RWX_MASK);
	assert_int_equal((spte & VMX_EPT_MT_MASK) >> VMX_EPT_MT_EPTE_SHIFT,
			 MTRR_TYPE_WRBACK);
	assert_true(spte & VMX_EPT_IPAT_BIT);
	assert_true(spte & VMX_EPT_SUPPRESS_VE_BIT);
	/* Writable invariants: W => MMU-writable => host-writable. */
	assert_true(spte & EPT_SPTE_MMU_WRITABLE);
	assert_true(spte & EPT_SPTE_HOST_WRITABLE);
	assert_false(spte & SPTE_PRIVATE_ZAPPED);
	/* A frozen old value does not leak its bits into the new SPTE. */
	assert_int_equal(make_spte(PFN, PG_LEVEL_4K, true, REMOVED_SPTE), spte);
}

static void test_make_spte_shared(void **state)
{
	uint64_t np_s = SHADOW_NONPRESENT_VALUE | SPTE_SHARED_MASK;
	uint64_t spte = make_spte(PFN, PG_LEVEL_4K, false, np_s);
	uint64_t priv = make_spte(PFN, PG_LEVEL_4K, true, SHADOW_NONPRESENT_VALUE);

	(void)state;
	assert_true(is_shadow_present_pte(spte));
	assert_int_equal(spte_to_pfn(spte), PFN);
	/* Shared leaves of a TD drop X (L6); S is inherited from NP|S. */
	assert_true(spte & PT64_EPT_READABLE_MASK);
	assert_true(spte & PT_WRITABLE_MASK);
	assert_false(spte & PT64_EPT_EXECUTABLE_MASK);
	assert_true(is_shared_spte(spte));
	assert_int_equal(spte, (priv & ~PT64_EPT_EXECUTABLE_MASK) | SPTE_SHARED_MASK);
	/* Without S in the old value the new one has none. */
	assert_false(is_shared_spte(make_spte(PFN, PG_LEVEL_4K, false,
					      SHADOW_NONPRESENT_VALUE)));
	/* Frozen with S -> keeps S. */
	assert_true(is_shared_spte(make_spte(PFN, PG_LEVEL_4K, false,
					     REMOVED_SPTE | SPTE_SHARED_MASK)));
}

static void test_large_and_levels(void **state)
{
	uint64_t big = make_spte(PFN & ~511ULL, PG_LEVEL_2M, true, SHADOW_NONPRESENT_VALUE);
	uint64_t table = make_nonleaf_spte(0x7f1234567000ULL);

	(void)state;
	assert_true(is_large_pte(big));
	assert_true(is_last_spte(big, PG_LEVEL_2M));
	assert_false(is_large_pte(table));
	assert_false(is_last_spte(table, PG_LEVEL_2M));
	assert_true(is_last_spte(table, PG_LEVEL_4K)); /* level 4K is always last */
	assert_true(is_shadow_present_pte(table));
	assert_int_equal(table & VMX_EPT_RWX_MASK, VMX_EPT_RWX_MASK);
	assert_int_equal(spte_to_pfn(table), 0x7f1234567ULL);
	assert_false(is_shared_spte(table));
	/* Bits outside the PFN field are dropped by the constructors. */
	assert_int_equal(spte_to_pfn(make_nonleaf_spte(0x7f1234567fffULL)),
			 0x7f1234567ULL);
	assert_int_equal(spte_to_pfn(make_spte(~0ULL, PG_LEVEL_4K, true, 0)),
			 SPTE_BASE_ADDR_MASK >> PAGE_SHIFT);
	assert_false(make_spte(~0ULL, PG_LEVEL_4K, true, 0) & SPTE_SHARED_MASK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout),
		cmocka_unit_test(test_nonpresent_values),
		cmocka_unit_test(test_make_spte_private),
		cmocka_unit_test(test_make_spte_shared),
		cmocka_unit_test(test_large_and_levels),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
