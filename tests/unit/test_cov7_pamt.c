/* SPDX-License-Identifier: MIT */
/*
 * The PAMT's spare mapping (pamt.c: one mapping is kept for the next PAMT of
 * the same size, parked all zero) and its record lookups that make nothing
 * (coverage round 7, issue 14):
 *  - the records of a pfn whose 1G table was never made read as absent
 *    (pamt_wb_if_present() NULL, pamt_wb2m_if_present() 0) and stay so;
 *  - pamt_fini() clears what its tables say may be non-zero, including a 1G
 *    range's per-slot reader counts left non-zero by a shared hold taken on
 *    one thread and given back on another (tdx_internal.h: each slot off by
 *    one, the sum right), so the next PAMT that gets the spare starts all
 *    zero; a second pamt_fini() of the same PAMT does nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tdx/tdx_internal.h"

#define BASE 0x100000ULL        /* a 1G-aligned pfn */
#define NR (3ULL << 18)         /* three 1G ranges */
#define IN_1G(i, k) (BASE + ((uint64_t)(i) << 18) + (k))

static void test_spare_parked_all_zero(void **state)
{
	struct pamt p, q;
	void *map;

	(void)state;
	assert_int_equal(pamt_init(&p, BASE, NR), 0);
	map = p.map;
	/* Nothing made yet: the lookups find nothing and make nothing. */
	assert_null(pamt_wb_if_present(&p, IN_1G(1, 5)));
	assert_int_equal(pamt_wb2m_if_present(&p, IN_1G(1, 5)), 0);
	assert_int_equal(atomic_load(&p.nr_tables), 0);

	/* The run writes records in the second 1G range, and a shared hold of
	 * its 1G entry was counted on slot 2 and given back on slot 5. */
	atomic_store(pamt_wb(&p, IN_1G(1, 5)), 0x33);
	atomic_store(pamt_wb2m(&p, IN_1G(1, 512)), 0x44);
	atomic_store(pamt_1g_readers(&p, 1, 2), 1);
	atomic_store(pamt_1g_readers(&p, 1, 5), (uint64_t)-1);
	assert_int_equal(pamt_1g_shared_holders(&p, 1), 0);
	assert_int_equal(atomic_load(pamt_wb_if_present(&p, IN_1G(1, 5))), 0x33);
	assert_int_equal(pamt_wb2m_if_present(&p, IN_1G(1, 512)), 0x44);
	/* The third range's table was never made: still absent. */
	assert_null(pamt_wb_if_present(&p, IN_1G(2, 5)));
	assert_int_equal(pamt_wb2m_if_present(&p, IN_1G(2, 512)), 0);

	pamt_fini(&p);
	assert_null(p.map);
	pamt_fini(&p); /* already torn down: nothing to do */
	assert_null(p.map);

	/* The next PAMT of the same size gets the spare, all zero. */
	assert_int_equal(pamt_init(&q, BASE, NR), 0);
	assert_ptr_equal(q.map, map);
	for (unsigned s = 0; s < HOST_THREAD_SLOTS; s++)
		assert_int_equal(atomic_load(pamt_1g_readers(&q, 1, s)), 0);
	assert_null(pamt_wb_if_present(&q, IN_1G(1, 5)));
	assert_int_equal(pamt_wb2m_if_present(&q, IN_1G(1, 512)), 0);
	assert_int_equal(atomic_load(&q.nr_tables), 0);
	pamt_fini(&q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spare_parked_all_zero),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
