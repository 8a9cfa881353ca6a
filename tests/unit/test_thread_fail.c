/* SPDX-License-Identifier: MIT */
/*
 * Threads that cannot be created (issue 14 item 5): the library's calls to
 * pthread_create() are linked to __wrap_pthread_create (-Wl,--wrap in
 * tests/CMakeLists.txt), which fails the N-th with EAGAIN, as the system
 * does at its thread limit. Each place the library makes a thread must say
 * so (ENOMEM, exit 2 for a scenario) and leave the TD as it was: no guest
 * program half run, no vCPU left held, `check` clean, `destroy` leak-free,
 * and the same call working once threads can be made again. liburcu's own
 * threads are made inside liburcu and are not affected.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "api_fixture.h"

#include <tdxmmu/tdxmmu.h>

int __real_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *),
			  void *arg);
int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *),
			  void *arg);

/* 0: off; else the countdown to the call that fails. */
static unsigned fail_in;
static unsigned created;

int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *),
			  void *arg)
{
	if (fail_in && --fail_in == 0)
		return EAGAIN;
	created++;
	return __real_pthread_create(t, a, fn, arg);
}

static tdxmmu_td *make_td(void)
{
	struct tdxmmu_td_config cfg;
	tdxmmu_td *td = NULL;

	tdxmmu_td_config_init(&cfg);
	cfg.nr_vcpus = 2;
	assert_int_equal(tdxmmu_td_create(&cfg, &td), TDXMMU_OK);
	assert_int_equal(tdxmmu_memslot_add(td, 0, 0, 4 << 20), TDXMMU_OK);
	assert_int_equal(tdxmmu_td_finalize(td), TDXMMU_OK);
	return td;
}

static void check_clean(tdxmmu_td *td)
{
	char report[2048];
	int n = tdxmmu_check(td, report, sizeof(report));

	if (n)
		fail_msg("check: %d violations:\n%s", n, report);
}

static int ran[2];

static int guest(tdxmmu_td *td, unsigned vcpu, void *arg)
{
	enum tdxmmu_outcome o = TDXMMU_OUTCOME_OK;

	(void)arg;
	ran[vcpu]++;
	return tdxmmu_vcpu_write(td, vcpu, 0x1000 * (vcpu + 1), 0x10 + vcpu, &o);
}

/* tdxmmu_run_vcpus(): the 1st or the 2nd thread cannot be made. */
static void test_run_vcpus(void **state)
{
	const tdxmmu_guest_fn fns[2] = { guest, guest };
	tdxmmu_td *td = make_td();
	uint64_t v = 1;

	(void)state;
	for (unsigned n = 1; n <= 2; n++) {
		int results[2] = { 1, 1 };

		memset(ran, 0, sizeof(ran));
		fail_in = n;
		assert_int_equal(tdxmmu_run_vcpus(td, 2, fns, NULL, results), TDXMMU_ENOMEM);
		fail_in = 0;
		/* A started thread runs nothing (its result says it was
		 * cancelled); the missing one is ENOMEM. */
		assert_int_equal(ran[0] + ran[1], 0);
		assert_int_equal(results[n - 1], TDXMMU_ENOMEM);
		if (n == 2)
			assert_int_equal(results[0], TDXMMU_EBUSY);
		assert_int_equal(tdxmmu_host_read(td, 0x1000, &v), TDXMMU_OK);
		assert_int_equal(v, 0);
		check_clean(td);
	}
	/* Threads again: both programs run. */
	{
		int results[2] = { 1, 1 };

		assert_int_equal(tdxmmu_run_vcpus(td, 2, fns, NULL, results), TDXMMU_OK);
		assert_int_equal(results[0], 0);
		assert_int_equal(results[1], 0);
		assert_int_equal(ran[0], 1);
		assert_int_equal(ran[1], 1);
	}
	check_clean(td);
	api_fx_destroy_clean(td);
}

/* vcpu enter: the thread that holds the vCPU in the TD cannot be made. */
static void test_hold(void **state)
{
	tdxmmu_td *td = make_td();

	(void)state;
	fail_in = 1;
	assert_int_equal(tdxmmu_vcpu_enter(td, 1), TDXMMU_ENOMEM);
	fail_in = 0;
	/* Not held: leave says so, and the vCPU runs guest code. */
	assert_int_equal(tdxmmu_vcpu_leave(td, 1), TDXMMU_ESTATE);
	{
		enum tdxmmu_outcome o = TDXMMU_OUTCOME_BLOCKED;

		assert_int_equal(tdxmmu_vcpu_write(td, 1, 0x3000, 3, &o), TDXMMU_OK);
		assert_int_equal(o, TDXMMU_OUTCOME_OK);
	}
	check_clean(td);
	assert_int_equal(tdxmmu_vcpu_enter(td, 1), TDXMMU_OK);
	assert_int_equal(tdxmmu_vcpu_leave(td, 1), TDXMMU_OK);
	api_fx_destroy_clean(td);
}

/* A parallel block whose second lane's thread cannot be made: the run
 * stops with ENOMEM (exit 2) at the block, the first lane having run
 * nothing; the same script runs whole once threads can be made. */
static void test_parallel_block(void **state)
{
	static const char text[] =
		"td vcpus=2\n"
		"memslot 0 0 4M\n"
		"finalize\n"
		"parallel\n"
		"  vcpu 0 write 0x1000 1\n"
		"  vcpu 1 write 0x2000 2\n"
		"end\n"
		"vcpu 0 read 0x1000 expect=1\n"
		"check\n"
		"destroy\n";
	char *out = NULL, *err = NULL;
	size_t out_len = 0, err_len = 0;
	struct tdxmmu_run_options o = { 0 };
	int rc;

	(void)state;
	o.out = open_memstream(&out, &out_len);
	o.err = open_memstream(&err, &err_len);
	assert_non_null(o.out);
	assert_non_null(o.err);
	fail_in = 2;
	rc = tdxmmu_run_string("t.tds", text, &o);
	fail_in = 0;
	fclose(o.out);
	fclose(o.err);
	assert_int_equal(rc, 2);
	assert_non_null(strstr(err, "ENOMEM"));
	assert_null(strstr(out, "vcpu 0 write 0x1000 1 -> ok"));
	free(out);
	free(err);
	out = err = NULL;
	o.out = open_memstream(&out, &out_len);
	o.err = open_memstream(&err, &err_len);
	rc = tdxmmu_run_string("t.tds", text, &o);
	fclose(o.out);
	fclose(o.err);
	if (rc != 0)
		fail_msg("exit %d:\n%s%s", rc, out, err);
	free(out);
	free(err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_run_vcpus),
		cmocka_unit_test(test_hold),
		cmocka_unit_test(test_parallel_block),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
