/* SPDX-License-Identifier: MIT */
/*
 * ENOMEM injection (contract 1.1 `inject enomem=P [site=...]`,
 * tdxmmu_inject_enomem()), through the public API: every allocation site of
 * KVM (page-table pages, S-EPT pages for the SEAMCALL cache, guest frames)
 * can fail, and KVM fails the operation cleanly, leaving nothing half-made:
 * after every failure tdxmmu_check() finds nothing, and destroy leaks
 * nothing.
 *  - At 100% at a site the action needs, a guest access reports
 *    TDXMMU_OUTCOME_ERROR (the VMM's retry of KVM_RUN can never succeed)
 *    and `add` answers TDXMMU_ENOMEM.
 *  - At 30-50% everything completes: the VMM (the API) re-runs the vCPU
 *    after -ENOMEM, and the failures really happened (KVM's trace shows
 *    them).
 * Seeds are fixed: the same allocations fail on every run.
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

#include <tdxmmu/tdxmmu.h>

#define MiB (1ULL << 20)
#define KiB (1ULL << 10)

struct vm {
	tdxmmu_td *td;
	FILE *trace_f;
	char *trace;
	size_t trace_len;
};

static void vm_create(struct vm *vm, enum tdxmmu_mmu_kind mmu, uint64_t seed)
{
	struct tdxmmu_td_config cfg;

	memset(vm, 0, sizeof(*vm));
	vm->trace_f = open_memstream(&vm->trace, &vm->trace_len);
	assert_non_null(vm->trace_f);
	tdxmmu_td_config_init(&cfg);
	cfg.mmu = mmu;
	cfg.seed = seed;
	cfg.host_memory = 128 * MiB;
	cfg.trace = vm->trace_f;
	assert_int_equal(tdxmmu_td_create(&cfg, &vm->td), TDXMMU_OK);
	assert_int_equal(tdxmmu_memslot_add(vm->td, 0, 0, 48 * MiB), TDXMMU_OK);
}

/* Injected failures so far (KVM traces each one). */
static unsigned injected(struct vm *vm)
{
	unsigned n = 0;

	fflush(vm->trace_f);
	for (const char *p = vm->trace; p && (p = strstr(p, "kvm_mmu_enomem:")); p++)
		n++;
	return n;
}

static void check_clean(tdxmmu_td *td)
{
	char report[2048] = "";
	int n = tdxmmu_check(td, report, sizeof(report));

	if (n != 0)
		fail_msg("check: %d violations:\n%s", n, report);
}

static void vm_destroy_clean(struct vm *vm)
{
	check_clean(vm->td);
	api_fx_destroy_clean(vm->td);
	fclose(vm->trace_f);
	free(vm->trace);
}

static const enum tdxmmu_alloc_site sites[] = {
	TDXMMU_SITE_PT, TDXMMU_SITE_SEPT, TDXMMU_SITE_FRAME, TDXMMU_SITE_ALL,
};

/* ---- 100%: a clean error ---- */

/* A private access needs all three sites (tables, their S-EPT twins, the
 * frame): at 100% it can never complete, and reports `error`. */
static void all_sites_100(enum tdxmmu_mmu_kind mmu)
{
	for (size_t i = 0; i < sizeof(sites) / sizeof(sites[0]); i++) {
		struct vm vm;
		enum tdxmmu_outcome o = TDXMMU_OUTCOME_OK;
		uint64_t val = 0;

		vm_create(&vm, mmu, 11);
		assert_int_equal(tdxmmu_td_finalize(vm.td), TDXMMU_OK);
		assert_int_equal(tdxmmu_vcpu_write(vm.td, 0, 32 * MiB + 0x9000, 4, &o), TDXMMU_OK);
		assert_int_equal(o, TDXMMU_OUTCOME_OK);
		assert_int_equal(tdxmmu_inject_enomem(vm.td, sites[i], 1000000), TDXMMU_OK);
		assert_int_equal(tdxmmu_vcpu_write(vm.td, 0, 0x1000, 5, &o), TDXMMU_OK);
		assert_int_equal(o, TDXMMU_OUTCOME_ERROR);
		assert_true(injected(&vm) > 0);
		assert_false(tdxmmu_vm_dead(vm.td));
		check_clean(vm.td);
		/* Zaps allocate nothing: they work with no memory at all. */
		assert_int_equal(tdxmmu_host_invalidate(vm.td, 0, 4 * MiB), TDXMMU_OK);
		assert_int_equal(tdxmmu_host_zap(vm.td, 0, 4 * MiB, TDXMMU_ALIAS_BOTH),
				 TDXMMU_OK);
		assert_false(tdxmmu_vm_dead(vm.td));
		check_clean(vm.td);
		/* Memory comes back: the same access completes, and the data
		 * is there (nothing half-made stood in its way). */
		assert_int_equal(tdxmmu_inject_off(vm.td), TDXMMU_OK);
		assert_int_equal(tdxmmu_vcpu_write(vm.td, 0, 0x1000, 5, &o), TDXMMU_OK);
		assert_int_equal(o, TDXMMU_OUTCOME_OK);
		assert_int_equal(tdxmmu_vcpu_read(vm.td, 0, 0x1000, &val, &o), TDXMMU_OK);
		assert_int_equal(o, TDXMMU_OUTCOME_OK);
		assert_int_equal(val, 5);
		vm_destroy_clean(&vm);
	}
}

static void test_all_sites_100(void **state)
{
	(void)state;
	all_sites_100(TDXMMU_MMU_TDP);
}

static void test_all_sites_100_legacy(void **state)
{
	(void)state;
	all_sites_100(TDXMMU_MMU_LEGACY);
}

/* Build time: `add` (KVM_TDX_INIT_MEM_REGION) answers TDXMMU_ENOMEM. */
static void test_add_100(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(sites) / sizeof(sites[0]); i++) {
		struct vm vm;

		vm_create(&vm, TDXMMU_MMU_TDP, 12);
		assert_int_equal(tdxmmu_inject_enomem(vm.td, sites[i], 1000000), TDXMMU_OK);
		assert_int_equal(tdxmmu_td_add_page(vm.td, 0x2000, 0x5a), TDXMMU_ENOMEM);
		check_clean(vm.td);
		assert_int_equal(tdxmmu_inject_off(vm.td), TDXMMU_OK);
		assert_int_equal(tdxmmu_td_add_page(vm.td, 0x2000, 0x5a), TDXMMU_OK);
		vm_destroy_clean(&vm);
	}
}

/* A shared access needs no S-EPT page, and no table either once MapGPA
 * linked the shared tables over the range (E4 pre-population): at 100% on
 * `sept` or `pt` it completes; on `frame` it reports `error`. */
static void test_shared_access_sites(void **state)
{
	static const struct {
		enum tdxmmu_alloc_site site;
		enum tdxmmu_outcome want;
	} cases[] = {
		{ TDXMMU_SITE_SEPT, TDXMMU_OUTCOME_OK },
		{ TDXMMU_SITE_PT, TDXMMU_OUTCOME_OK },
		{ TDXMMU_SITE_FRAME, TDXMMU_OUTCOME_ERROR },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct vm vm;
		enum tdxmmu_outcome o = TDXMMU_OUTCOME_BLOCKED;
		uint64_t shared;

		vm_create(&vm, TDXMMU_MMU_TDP, 13);
		shared = tdxmmu_td_shared_bit(vm.td);
		assert_int_equal(tdxmmu_td_finalize(vm.td), TDXMMU_OK);
		assert_int_equal(tdxmmu_vcpu_mapgpa(vm.td, 0, shared | 0x3000, 0x1000, &o),
				 TDXMMU_OK);
		assert_int_equal(o, TDXMMU_OUTCOME_OK);
		assert_int_equal(tdxmmu_inject_enomem(vm.td, cases[i].site, 1000000),
				 TDXMMU_OK);
		assert_int_equal(tdxmmu_vcpu_write(vm.td, 0, shared | 0x3000, 1, &o),
				 TDXMMU_OK);
		assert_int_equal(o, cases[i].want);
		check_clean(vm.td);
		assert_int_equal(tdxmmu_inject_off(vm.td), TDXMMU_OK);
		vm_destroy_clean(&vm);
	}
}

static void test_bad_arguments(void **state)
{
	struct vm vm;

	(void)state;
	vm_create(&vm, TDXMMU_MMU_TDP, 14);
	assert_int_equal(tdxmmu_inject_enomem(vm.td, TDXMMU_SITE_PT, 1000001), TDXMMU_ERANGE);
	assert_int_equal(tdxmmu_inject_enomem(vm.td, (enum tdxmmu_alloc_site)(TDXMMU_SITE_NOMIRROR + 1), 1),
			 TDXMMU_EINVAL);
	assert_int_equal(tdxmmu_inject_enomem(NULL, TDXMMU_SITE_PT, 1), TDXMMU_EINVAL);
	assert_int_equal(tdxmmu_inject_off(NULL), TDXMMU_EINVAL);
	vm_destroy_clean(&vm);
}

/* A real -ENOMEM (the host is out of frames, nothing injected) is not
 * retried: no retry would cure it, the access fails with TDXMMU_ENOMEM. */
static void test_real_enomem_not_retried(void **state)
{
	struct tdxmmu_td_config cfg;
	tdxmmu_td *td = NULL;
	enum tdxmmu_outcome o = TDXMMU_OUTCOME_OK;
	uint64_t hpa;
	struct tdxmmu_destroy_report rep;

	(void)state;
	tdxmmu_td_config_init(&cfg);
	cfg.host_memory = 8 * MiB;
	assert_int_equal(tdxmmu_td_create(&cfg, &td), TDXMMU_OK);
	assert_int_equal(tdxmmu_memslot_add(td, 0, 0, 4 * MiB), TDXMMU_OK);
	assert_int_equal(tdxmmu_td_finalize(td), TDXMMU_OK);
	while (tdxmmu_host_frame_new(td, &hpa) == TDXMMU_OK)
		;
	/* The first private fault needs S-EPT pages the host cannot give. */
	assert_int_equal(tdxmmu_vcpu_write(td, 0, 0x1000, 1, &o), TDXMMU_ENOMEM);
	check_clean(td);
	if (tdxmmu_td_destroy(td, &rep) != TDXMMU_OK)
		fail_msg("destroy: %s", rep.message);
}

/* `inject off` stops BUSY injection too (tdxmmu_inject_busy(td, 0)). */
static void test_off_stops_busy(void **state)
{
	struct vm vm;
	enum tdxmmu_outcome o = TDXMMU_OUTCOME_ERROR;

	(void)state;
	vm_create(&vm, TDXMMU_MMU_TDP, 15);
	assert_int_equal(tdxmmu_td_finalize(vm.td), TDXMMU_OK);
	assert_int_equal(tdxmmu_inject_busy(vm.td, 1000000), TDXMMU_OK);
	assert_int_equal(tdxmmu_inject_enomem(vm.td, TDXMMU_SITE_ALL, 1000000), TDXMMU_OK);
	assert_int_equal(tdxmmu_inject_off(vm.td), TDXMMU_OK);
	/* With BUSY still at 100% the vCPU could not even enter. */
	assert_int_equal(tdxmmu_vcpu_write(vm.td, 0, 0x7000, 3, &o), TDXMMU_OK);
	assert_int_equal(o, TDXMMU_OUTCOME_OK);
	assert_int_equal(injected(&vm), 0);
	vm_destroy_clean(&vm);
}

/* ---- 30-50%: everything completes ---- */

/*
 * MapGPA whose KVM side ran out of memory: KVM returns -ENOMEM cleanly (the
 * tables linked so far stay, nothing else changed). Branch cpu11 makes that
 * a RETRY the guest re-issues; until then the guest sees an error, so the
 * test re-issues. Either way the conversion completes and every attempt
 * leaves a consistent model.
 */
static void convert(tdxmmu_td *td, uint64_t gpa, uint64_t size)
{
	enum tdxmmu_outcome o = TDXMMU_OUTCOME_ERROR;

	for (int tries = 0; o != TDXMMU_OUTCOME_OK; tries++) {
		assert_true(tries < 1000);
		assert_int_equal(tdxmmu_vcpu_mapgpa(td, 0, gpa, size, &o), TDXMMU_OK);
		assert_true(o == TDXMMU_OUTCOME_OK || o == TDXMMU_OUTCOME_ERROR);
		check_clean(td);
	}
}

/* One page per 2M region (a 4K table of its own in each tree) plus a dense
 * run, so every site allocates many times. */
#define STRESS_SPAN (32 * MiB)
#define STRESS_DENSE 32
#define STRESS_ROUNDS 3

static uint64_t stress_gpa(unsigned i)
{
	if (i < STRESS_SPAN / (2 * MiB))
		return i * 2 * MiB + (i % 8) * 4 * KiB;
	return 8 * KiB + (i - STRESS_SPAN / (2 * MiB)) * 4 * KiB;
}
#define STRESS_NR (STRESS_SPAN / (2 * MiB) + STRESS_DENSE)

static void site_partial(enum tdxmmu_mmu_kind mmu, enum tdxmmu_alloc_site site,
			 uint32_t ppm, uint64_t seed)
{
	struct vm vm;
	uint64_t shared, range = STRESS_SPAN;

	vm_create(&vm, mmu, seed);
	shared = tdxmmu_td_shared_bit(vm.td);
	assert_int_equal(tdxmmu_inject_enomem(vm.td, site, ppm), TDXMMU_OK);
	/* Build time: the VMM (the API) issues KVM_TDX_INIT_MEM_REGION again
	 * after an injected -ENOMEM. */
	for (uint64_t gpa = 40 * MiB; gpa < 40 * MiB + 16 * 4 * KiB; gpa += 4 * KiB)
		assert_int_equal(tdxmmu_td_add_page(vm.td, gpa, 0x33), TDXMMU_OK);
	assert_int_equal(tdxmmu_td_finalize(vm.td), TDXMMU_OK);

	for (int round = 0; round < STRESS_ROUNDS; round++) {
		for (unsigned i = 0; i < STRESS_NR; i++) {
			enum tdxmmu_outcome o = TDXMMU_OUTCOME_ERROR;
			uint64_t gpa = stress_gpa(i);

			assert_int_equal(tdxmmu_vcpu_write(vm.td, 0, gpa, gpa + round, &o),
					 TDXMMU_OK);
			assert_int_equal(o, TDXMMU_OUTCOME_OK);
		}
		for (unsigned i = 0; i < STRESS_NR; i++) {
			enum tdxmmu_outcome o = TDXMMU_OUTCOME_ERROR;
			uint64_t gpa = stress_gpa(i), val = 0;

			assert_int_equal(tdxmmu_vcpu_read(vm.td, 0, gpa, &val, &o), TDXMMU_OK);
			assert_int_equal(o, TDXMMU_OUTCOME_OK);
			assert_int_equal(val, gpa + round);
		}
		check_clean(vm.td);
		convert(vm.td, shared | 0, range);
		for (unsigned i = 0; i < STRESS_NR; i++) {
			enum tdxmmu_outcome o = TDXMMU_OUTCOME_ERROR;
			uint64_t gpa = stress_gpa(i);

			assert_int_equal(tdxmmu_vcpu_write(vm.td, 0, shared | gpa, ~gpa, &o),
					 TDXMMU_OK);
			assert_int_equal(o, TDXMMU_OUTCOME_OK);
		}
		check_clean(vm.td);
		convert(vm.td, 0, range);
	}
	/* The build-time pages survived with their content. */
	for (uint64_t gpa = 40 * MiB; gpa < 40 * MiB + 16 * 4 * KiB; gpa += 4 * KiB) {
		enum tdxmmu_outcome o = TDXMMU_OUTCOME_ERROR;
		uint64_t val = 0;

		assert_int_equal(tdxmmu_vcpu_read(vm.td, 0, gpa, &val, &o), TDXMMU_OK);
		assert_int_equal(o, TDXMMU_OUTCOME_OK);
		assert_int_equal(val, 0x3333333333333333ULL);
	}
	/* The share was high enough to be felt. */
	if (injected(&vm) < 8)
		fail_msg("only %u allocations failed", injected(&vm));
	assert_false(tdxmmu_vm_dead(vm.td));
	assert_int_equal(tdxmmu_inject_off(vm.td), TDXMMU_OK);
	vm_destroy_clean(&vm);
}

static void test_partial_pt(void **state)
{
	(void)state;
	site_partial(TDXMMU_MMU_TDP, TDXMMU_SITE_PT, 500000, 21);
}

static void test_partial_sept(void **state)
{
	(void)state;
	site_partial(TDXMMU_MMU_TDP, TDXMMU_SITE_SEPT, 400000, 22);
}

static void test_partial_frame(void **state)
{
	(void)state;
	site_partial(TDXMMU_MMU_TDP, TDXMMU_SITE_FRAME, 300000, 23);
}

static void test_partial_all(void **state)
{
	(void)state;
	site_partial(TDXMMU_MMU_TDP, TDXMMU_SITE_ALL, 300000, 24);
}

static void test_partial_legacy(void **state)
{
	(void)state;
	site_partial(TDXMMU_MMU_LEGACY, TDXMMU_SITE_PT, 400000, 25);
	site_partial(TDXMMU_MMU_LEGACY, TDXMMU_SITE_SEPT, 400000, 26);
	site_partial(TDXMMU_MMU_LEGACY, TDXMMU_SITE_FRAME, 300000, 27);
}

/* ---- two vCPU threads, 30% at every site ---- */

/* Each vCPU owns 8 MiB: fill, verify, convert to shared and back, twice.
 * Allocations fail on both threads at once (the draw counter is shared);
 * each fault or conversion still completes and leaves nothing half-made. */
static int enomem_guest(tdxmmu_td *td, unsigned vcpu, void *arg)
{
	uint64_t base = 8 * MiB * (vcpu + 1), shared = tdxmmu_td_shared_bit(td);
	uint64_t mismatch = 0;
	enum tdxmmu_outcome o;

	(void)arg;
	for (int round = 0; round < 2; round++) {
		uint8_t byte = (uint8_t)(0x40 + 2 * vcpu + round);

		if (tdxmmu_vcpu_fill(td, vcpu, base, 2 * MiB, byte, &o) || o)
			return 1;
		if (tdxmmu_vcpu_verify(td, vcpu, base, 2 * MiB, byte, &mismatch, &o) || o)
			return 2;
		for (int tries = 0;; tries++) {
			if (tries == 1000 || tdxmmu_vcpu_mapgpa(td, vcpu, shared | base,
								2 * MiB, &o))
				return 3;
			if (o == TDXMMU_OUTCOME_OK)
				break;
		}
		if (tdxmmu_vcpu_fill(td, vcpu, shared | base, 64 * KiB, byte, &o) || o)
			return 4;
		for (int tries = 0;; tries++) {
			if (tries == 1000 || tdxmmu_vcpu_mapgpa(td, vcpu, base, 2 * MiB, &o))
				return 5;
			if (o == TDXMMU_OUTCOME_OK)
				break;
		}
	}
	return 0;
}

static void test_threads_partial(void **state)
{
	tdxmmu_guest_fn fns[2] = { enomem_guest, enomem_guest };
	int results[2] = { -1, -1 };
	struct tdxmmu_td_config cfg;
	tdxmmu_td *td = NULL;
	struct tdxmmu_destroy_report rep;

	(void)state;
	tdxmmu_td_config_init(&cfg);
	cfg.nr_vcpus = 2;
	cfg.seed = 31;
	cfg.host_memory = 128 * MiB;
	assert_int_equal(tdxmmu_td_create(&cfg, &td), TDXMMU_OK);
	assert_int_equal(tdxmmu_memslot_add(td, 0, 0, 32 * MiB), TDXMMU_OK);
	assert_int_equal(tdxmmu_td_finalize(td), TDXMMU_OK);
	assert_int_equal(tdxmmu_inject_enomem(td, TDXMMU_SITE_ALL, 300000), TDXMMU_OK);
	assert_int_equal(tdxmmu_run_vcpus(td, 2, fns, NULL, results), TDXMMU_OK);
	assert_int_equal(results[0], 0);
	assert_int_equal(results[1], 0);
	check_clean(td);
	assert_false(tdxmmu_vm_dead(td));
	assert_int_equal(tdxmmu_inject_off(td), TDXMMU_OK);
	if (tdxmmu_td_destroy(td, &rep) != TDXMMU_OK)
		fail_msg("destroy: %s", rep.message);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_sites_100),
		cmocka_unit_test(test_all_sites_100_legacy),
		cmocka_unit_test(test_add_100),
		cmocka_unit_test(test_shared_access_sites),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_off_stops_busy),
		cmocka_unit_test(test_real_enomem_not_retried),
		cmocka_unit_test(test_partial_pt),
		cmocka_unit_test(test_partial_sept),
		cmocka_unit_test(test_partial_frame),
		cmocka_unit_test(test_partial_all),
		cmocka_unit_test(test_partial_legacy),
		cmocka_unit_test(test_threads_partial),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
