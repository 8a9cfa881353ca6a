/* SPDX-License-Identifier: MIT */
/*
 * The CPU model's answers through the public API (issue 11): accept of a GPA
 * converted to shared is `blocked` (2.4); MapGPA re-issues until done, the
 * seeds' whole-range answer by default and upstream's 2 MiB chunks on
 * request, RETRY on -ENOMEM, a livelock reported as the model's own bug
 * (2.7); a guest action's exit handler failing with -ENOMEM stops the action
 * (TDXMMU_ENOMEM); a VM KVM killed: `bugged` for the action that killed it,
 * `dead` after; tdxmmu_check while guest programs run on vCPU threads
 * (2.14): no false violation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "api_fixture.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "host/host_mem.h"
#include "kvm/kvm.h"
#include "kvm/tdx_hooks.h"
#include "tdxmmu/tdxmmu.h"

#define MB (1ULL << 20)

static tdxmmu_td *make_td_cfg(struct tdxmmu_td_config *cfg, uint64_t slot_size)
{
	tdxmmu_td *td;

	assert_int_equal(tdxmmu_td_create(cfg, &td), TDXMMU_OK);
	assert_int_equal(tdxmmu_memslot_add(td, 0, 0, slot_size), TDXMMU_OK);
	assert_int_equal(tdxmmu_td_finalize(td), TDXMMU_OK);
	return td;
}

static tdxmmu_td *make_td(unsigned vcpus, uint64_t slot_size)
{
	struct tdxmmu_td_config cfg;

	tdxmmu_td_config_init(&cfg);
	cfg.nr_vcpus = vcpus;
	return make_td_cfg(&cfg, slot_size);
}

static uint64_t counter(tdxmmu_td *td, const char *name)
{
	uint64_t v = ~0ULL;

	assert_int_equal(tdxmmu_counter(td, name, &v), TDXMMU_OK);
	return v;
}

static uint64_t sh(tdxmmu_td *td, uint64_t gpa)
{
	return tdxmmu_td_shared_bit(td) | gpa;
}

static void write_ok(tdxmmu_td *td, unsigned v, uint64_t gpa, uint64_t val)
{
	enum tdxmmu_outcome o = TDXMMU_OUTCOME_ERROR;

	assert_int_equal(tdxmmu_vcpu_write(td, v, gpa, val, &o), TDXMMU_OK);
	assert_int_equal(o, TDXMMU_OUTCOME_OK);
}

static void mapgpa_ok(tdxmmu_td *td, unsigned v, uint64_t gpa, uint64_t size)
{
	enum tdxmmu_outcome o = TDXMMU_OUTCOME_ERROR;

	assert_int_equal(tdxmmu_vcpu_mapgpa(td, v, gpa, size, &o), TDXMMU_OK);
	assert_int_equal(o, TDXMMU_OUTCOME_OK);
}

/* 2.4: ACCEPT of a GPA converted to shared loops on EPT violations in the
 * seeds' design: outcome `blocked`, not a usage error (it was -EAGAIN from
 * the CPU, TDXMMU_EIO from the API, exit 2 in a scenario). */
static void test_accept_converted_is_blocked(void **state)
{
	tdxmmu_td *td = make_td(1, 2 * MB);
	enum tdxmmu_outcome o = TDXMMU_OUTCOME_OK;
	uint64_t status = ~0ULL;

	(void)state;
	write_ok(td, 0, 0x6000, 1);
	mapgpa_ok(td, 0, sh(td, 0x6000), 4096);
	assert_int_equal(tdxmmu_vcpu_accept_outcome(td, 0, 0x6000, 0, &status, &o),
			 TDXMMU_OK);
	assert_int_equal(o, TDXMMU_OUTCOME_BLOCKED);
	assert_int_equal(status, 0);
	/* The version-1 call has no outcome: a clear error, not EIO. */
	assert_int_equal(tdxmmu_vcpu_accept(td, 0, 0x6000, 0, &status), TDXMMU_EBUSY);
	assert_non_null(strstr(tdxmmu_last_error(), "blocked"));
	/* No memslot: `mmio`. */
	assert_int_equal(tdxmmu_vcpu_accept_outcome(td, 0, 4 * MB, 0, &status, &o),
			 TDXMMU_OK);
	assert_int_equal(o, TDXMMU_OUTCOME_MMIO);
	/* Converted back: the ACCEPT completes (KVM AUGs, the TDCALL
	 * re-executes). */
	mapgpa_ok(td, 0, 0x6000, 4096);
	assert_int_equal(tdxmmu_vcpu_accept_outcome(td, 0, 0x6000, 0, &status, &o),
			 TDXMMU_OK);
	assert_int_equal(o, TDXMMU_OUTCOME_OK);
	assert_true(tdxmmu_status_class_eq(status, 0));
	assert_int_equal(tdxmmu_check(td, NULL, 0), 0);
	api_fx_destroy_clean(td);
}

/* 2.7: the seeds' era (default) answers a MapGPA of 8 MiB in one exit;
 * upstream's chunking answers RETRY every 2 MiB and the guest re-issues. */
static void test_mapgpa_seed_and_upstream(void **state)
{
	struct tdxmmu_td_config cfg;
	tdxmmu_td *td;

	(void)state;
	tdxmmu_td_config_init(&cfg);
	assert_int_equal(cfg.mapgpa, TDXMMU_MAPGPA_SEED);
	td = make_td_cfg(&cfg, 8 * MB);
	mapgpa_ok(td, 0, sh(td, 0), 8 * MB);
	assert_int_equal(counter(td, "exit.vmcall"), 1);
	assert_int_equal(counter(td, "mapgpa.retry"), 0);
	assert_int_equal(tdxmmu_check(td, NULL, 0), 0);
	api_fx_destroy_clean(td);

	cfg.mapgpa = TDXMMU_MAPGPA_UPSTREAM;
	td = make_td_cfg(&cfg, 8 * MB);
	mapgpa_ok(td, 0, sh(td, 0), 8 * MB);
	assert_int_equal(counter(td, "exit.vmcall"), 4);
	assert_int_equal(counter(td, "mapgpa.retry"), 3);
	assert_int_equal(tdxmmu_check(td, NULL, 0), 0);
	api_fx_destroy_clean(td);

	cfg.mapgpa = (enum tdxmmu_mapgpa_mode)7;
	assert_int_equal(tdxmmu_td_create(&cfg, &td), TDXMMU_EINVAL);
}

/* Every free host frame, taken (KVM's allocations then fail). */
struct hog {
	pfn_t *pfns;
	size_t nr;
};

static void hog_all(tdxmmu_td *td, struct hog *h)
{
	size_t cap = 1024;
	pfn_t pfn;

	h->nr = 0;
	h->pfns = malloc(cap * sizeof(*h->pfns));
	assert_non_null(h->pfns);
	while (!host_mem_alloc_frame(td->hm, &pfn)) {
		if (h->nr == cap) {
			cap *= 2;
			h->pfns = realloc(h->pfns, cap * sizeof(*h->pfns));
			assert_non_null(h->pfns);
		}
		h->pfns[h->nr++] = pfn;
	}
	assert_true(h->nr > 0);
}

static void hog_free(tdxmmu_td *td, struct hog *h)
{
	while (h->nr)
		host_mem_free_frame(td->hm, h->pfns[--h->nr]);
	free(h->pfns);
	h->pfns = NULL;
}

static tdxmmu_td *make_small_td(void)
{
	struct tdxmmu_td_config cfg;

	tdxmmu_td_config_init(&cfg);
	cfg.host_memory = 8 * MB;
	return make_td_cfg(&cfg, 2 * MB);
}

/* A guest fault whose exit handler cannot get memory stops the action with
 * -ENOMEM (KVM_RUN fails; the VMM, not the CPU, retries it). */
static void test_fault_enomem_stops_action(void **state)
{
	tdxmmu_td *td = make_small_td();
	enum tdxmmu_outcome o;
	struct hog h;

	(void)state;
	hog_all(td, &h);
	assert_int_equal(tdxmmu_vcpu_write(td, 0, 0x1000, 1, &o), TDXMMU_ENOMEM);
	assert_false(tdxmmu_vm_dead(td) || kvm_is_bugged(td->kvm));
	hog_free(td, &h);
	write_ok(td, 0, 0x1000, 1);
	assert_int_equal(tdxmmu_check(td, NULL, 0), 0);
	api_fx_destroy_clean(td);
}

struct freer {
	tdxmmu_td *td;
	struct hog *h;
	_Atomic bool guest_done;
	uint64_t retries_seen;
};

static void *freer_main(void *p)
{
	struct freer *f = p;

	/* Give the memory back only once the guest has re-issued more than
	 * Linux's three RETRYs without progress (or finished). */
	while (!atomic_load(&f->guest_done) &&
	       kvm_stat_read(f->td->kvm, mapgpa_retry) < 5)
		sched_yield();
	f->retries_seen = kvm_stat_read(f->td->kvm, mapgpa_retry);
	hog_free(f->td, f->h);
	return NULL;
}

/* 2.7: a MapGPA whose KVM side meets -ENOMEM is answered RETRY, and the
 * guest re-issues it until it completes, however many RETRYs without
 * progress that takes (it used to give up with `error` after three). */
static void test_mapgpa_enomem_reissued_until_done(void **state)
{
	tdxmmu_td *td = make_small_td();
	enum tdxmmu_outcome o = TDXMMU_OUTCOME_ERROR;
	struct freer f = { .td = td };
	struct hog h;
	pthread_t t;

	(void)state;
	hog_all(td, &h);
	f.h = &h;
	assert_int_equal(pthread_create(&t, NULL, freer_main, &f), 0);
	assert_int_equal(tdxmmu_vcpu_mapgpa(td, 0, sh(td, 0x200000 - 0x1000), 0x1000, &o),
			 TDXMMU_OK);
	atomic_store(&f.guest_done, true);
	pthread_join(t, NULL);
	assert_int_equal(o, TDXMMU_OUTCOME_OK);
	assert_true(f.retries_seen >= 5);
	assert_int_equal(tdxmmu_check(td, NULL, 0), 0);
	api_fx_destroy_clean(td);
}

/* 2.7: a host that never makes progress is a KVM livelock: after a generous
 * bound the model reports its own bug (TDXMMU_EBUG), not a guest `error`. */
static void test_mapgpa_livelock_is_model_bug(void **state)
{
	tdxmmu_td *td = make_small_td();
	enum tdxmmu_outcome o = TDXMMU_OUTCOME_OK;
	struct hog h;

	(void)state;
	hog_all(td, &h);
	assert_int_equal(tdxmmu_vcpu_mapgpa(td, 0, sh(td, 0x1000), 0x1000, &o), TDXMMU_EBUG);
	assert_non_null(strstr(tdxmmu_last_error(), "livelock"));
	hog_free(td, &h);
	mapgpa_ok(td, 0, sh(td, 0x1000), 0x1000);
	api_fx_destroy_clean(td);
}

/* A guest action during which KVM kills the VM reports `bugged`; the next
 * ones run nothing and report `dead`. Never TDXMMU_EBUG. */
static void test_bugged_then_dead(void **state)
{
	tdxmmu_td *td = make_td(2, 2 * MB);
	struct tdxmmu_seamcall_req req = {
		.leaf = tdxmmu_leaf_from_name("TDH.MEM.RANGE.BLOCK"), .gpa = 0x4000,
	};
	struct tdxmmu_seamcall_out out;
	enum tdxmmu_outcome o = TDXMMU_OUTCOME_OK;
	uint64_t val, status, exits;

	(void)state;
	write_ok(td, 0, 0x4000, 4);
	/* The host removes the page behind KVM's back (BLOCK, TRACK,
	 * REMOVE): KVM's own BLOCK in the conversion fails and KVM kills the
	 * VM (KVM_BUG_ON). */
	assert_int_equal(tdxmmu_seamcall(td, &req, &out), TDXMMU_OK);
	assert_true(tdxmmu_status_class_eq(out.rax, 0));
	req.leaf = tdxmmu_leaf_from_name("TDH.MEM.TRACK");
	assert_int_equal(tdxmmu_seamcall(td, &req, &out), TDXMMU_OK);
	assert_true(tdxmmu_status_class_eq(out.rax, 0));
	req.leaf = tdxmmu_leaf_from_name("TDH.MEM.PAGE.REMOVE");
	assert_int_equal(tdxmmu_seamcall(td, &req, &out), TDXMMU_OK);
	assert_true(tdxmmu_status_class_eq(out.rax, 0));
	assert_int_equal(tdxmmu_vcpu_mapgpa(td, 1, sh(td, 0x4000), 0x1000, &o), TDXMMU_OK);
	assert_int_equal(o, TDXMMU_OUTCOME_BUGGED);
	assert_true(kvm_is_bugged(td->kvm));
	exits = counter(td, "exit.td");
	assert_int_equal(tdxmmu_vcpu_read(td, 0, 0x4000, &val, &o), TDXMMU_OK);
	assert_int_equal(o, TDXMMU_OUTCOME_DEAD);
	assert_int_equal(tdxmmu_vcpu_write(td, 1, 0x5000, 1, &o), TDXMMU_OK);
	assert_int_equal(o, TDXMMU_OUTCOME_DEAD);
	assert_int_equal(tdxmmu_vcpu_mapgpa(td, 1, sh(td, 0x5000), 0x1000, &o), TDXMMU_OK);
	assert_int_equal(o, TDXMMU_OUTCOME_DEAD);
	assert_int_equal(tdxmmu_vcpu_accept_outcome(td, 0, 0x5000, 0, &status, &o), TDXMMU_OK);
	assert_int_equal(o, TDXMMU_OUTCOME_DEAD);
	assert_int_equal(tdxmmu_vcpu_touch(td, 0, 0x5000, 0x1000, false, &o), TDXMMU_OK);
	assert_int_equal(o, TDXMMU_OUTCOME_DEAD);
	/* Nothing ran: no TD entry, so no exit. */
	assert_int_equal(counter(td, "exit.td"), exits);
	assert_int_equal(tdxmmu_vcpu_enter(td, 0), TDXMMU_EIO);
	/* A dead VM is still torn down completely. */
	api_fx_destroy_clean(td);
}

/* ---- 2.14: tdxmmu_check while guest programs run on vCPU threads ---- */

#define Q_ROUNDS 60
#define Q_REGION (256 * 1024) /* per vCPU */

struct q_shared {
	_Atomic unsigned running;
};

struct q_arg {
	struct q_shared *s;
	int failures;
};

/* Faults (private and shared) and conversions both ways over the vCPU's own
 * region, round after round. */
static int q_guest(tdxmmu_td *td, unsigned vcpu, void *p)
{
	struct q_arg *a = p;
	uint64_t base = (uint64_t)vcpu * Q_REGION;
	uint64_t shared_bit = tdxmmu_td_shared_bit(td);
	enum tdxmmu_outcome o;
	uint64_t mismatch;

	for (unsigned r = 0; r < Q_ROUNDS; r++) {
		uint8_t byte = (uint8_t)(r + vcpu);

		if (tdxmmu_vcpu_fill(td, vcpu, base, Q_REGION / 2, byte, &o) || o)
			a->failures++;
		if (tdxmmu_vcpu_verify(td, vcpu, base, Q_REGION / 2, byte, &mismatch, &o) ||
		    o || mismatch != UINT64_MAX)
			a->failures++;
		if (tdxmmu_vcpu_mapgpa(td, vcpu, shared_bit | base, Q_REGION / 4, &o) || o)
			a->failures++;
		if (tdxmmu_vcpu_fill(td, vcpu, shared_bit | base, Q_REGION / 4, byte, &o) || o)
			a->failures++;
		if (tdxmmu_vcpu_mapgpa(td, vcpu, base, Q_REGION / 4, &o) || o)
			a->failures++;
	}
	atomic_fetch_sub(&a->s->running, 1);
	return 0;
}

struct q_checker {
	tdxmmu_td *td;
	struct q_shared *s;
	unsigned checks, violations;
	char first[1100];
};

static void *q_checker_main(void *p)
{
	struct q_checker *c = p;
	char report[1024];

	do {
		int n = tdxmmu_check(c->td, report, sizeof(report));

		c->checks++;
		if (n != 0) {
			if (!c->violations)
				snprintf(c->first, sizeof(c->first), "%d: %s", n, report);
			c->violations++;
		}
	} while (atomic_load(&c->s->running));
	return NULL;
}

static void test_check_while_guests_run(void **state)
{
	tdxmmu_td *td = make_td(2, 2 * MB);
	struct q_shared s = { .running = 2 };
	struct q_arg args[2] = { { .s = &s }, { .s = &s } };
	struct q_checker c = { .td = td, .s = &s };
	tdxmmu_guest_fn fns[2] = { q_guest, q_guest };
	void *argp[2] = { &args[0], &args[1] };
	int results[2];
	pthread_t t;

	(void)state;
	assert_int_equal(pthread_create(&t, NULL, q_checker_main, &c), 0);
	assert_int_equal(tdxmmu_run_vcpus(td, 2, fns, argp, results), TDXMMU_OK);
	pthread_join(t, NULL);
	assert_int_equal(results[0], 0);
	assert_int_equal(results[1], 0);
	assert_int_equal(args[0].failures, 0);
	assert_int_equal(args[1].failures, 0);
	if (c.violations)
		fprintf(stderr, "check: %u of %u checks reported violations, first: %s\n",
			c.violations, c.checks, c.first);
	assert_int_equal(c.violations, 0);
	assert_true(c.checks >= 1);
	assert_int_equal(tdxmmu_check(td, NULL, 0), 0);
	api_fx_destroy_clean(td);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accept_converted_is_blocked),
		cmocka_unit_test(test_mapgpa_seed_and_upstream),
		cmocka_unit_test(test_fault_enomem_stops_action),
		cmocka_unit_test(test_mapgpa_enomem_reissued_until_done),
		cmocka_unit_test(test_mapgpa_livelock_is_model_bug),
		cmocka_unit_test(test_bugged_then_dead),
		cmocka_unit_test(test_check_while_guests_run),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
