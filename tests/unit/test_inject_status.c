/* SPDX-License-Identifier: MIT */
/*
 * SEAMCALL error injection through every SEAMCALL a workload issues (issue
 * 14 items 2 and 5): the emulated module answers an error status, one KVM
 * never expects, for the N-th call of a leaf (tdxmmu_inject_status_nth()),
 * as a real module refusing the call would (nothing done, only RAX
 * written). For each workload, each leaf it issues and N = 1 .. the number
 * of calls of that leaf in the run without injection (capped, first and
 * last always included):
 *  - exactly one injected status fired (tdxmmu_inject_counts()),
 *  - KVM killed the VM (KVM_BUG_ON: every SEAMCALL error of the MMU hooks
 *    is one in real KVM and here) and the operation said so: TDXMMU_EIO
 *    from a host ioctl, the outcome `bugged` from a guest access; or, for
 *    the few calls whose errors KVM tolerates by design (listed in
 *    tolerated() with the reason), the VM is alive and the operation gave
 *    what it gives without injection;
 *  - a dead VM stays dead: the next guest access reports `dead`, and KVM's
 *    ioctls answer TDXMMU_EIO;
 *  - tdxmmu_check() finds no violation (KVM leaves its mirror in step with
 *    the S-EPT when a hook fails: the frozen entry is restored, a page it
 *    could not remove is kept as leaked),
 *  - the host still reads the shared pages' data (a dead VM's shared
 *    memory is the host's),
 *  - destroy leaks nothing (pages KVM gave up on are reclaimed once the
 *    HKID is released).
 * The destroy workloads inject into the teardown itself: it completes with
 * nothing leaked (a page KVM gave up on is reclaimed once the HKID is
 * released; a refused key release is tried once more), or, where the
 * module refuses what cannot be retried (the key's CACHE.WB or FREEID, the
 * TDR's RECLAIM), reports the leak as the module's refusal (ESEAMCALL),
 * never as the model's breakage.
 *
 * TDXMMU_INJECT_ONLY=TEXT in the environment runs only the workloads whose
 * name contains TEXT; TDXMMU_INJECT_VERBOSE=1 prints every run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "api_fixture.h"
#include "inject_workloads.h"

#include <tdxmmu/tdxmmu.h>

#define H2M (4 * GiB)      /* the hugepages memslot */
/* N per leaf: 1..MAX_PER_LEAF and the last call (a zap issues hundreds of
 * BLOCKs, all through the same site). */
#define MAX_PER_LEAF 3

struct workload {
	const char *name;
	enum tdxmmu_mmu_kind mmu;
	void (*setup)(struct ctx *c);
	int (*op)(struct ctx *c);
	bool before_finalize;
	bool accept_explicit;
	bool is_destroy;
	bool guest_op; /* the op is a guest access: `bugged` is its outcome */
	bool no_mirror; /* docs/performance.md's no-mirror mode: no check */
};

static void ctx_create(struct ctx *c, const struct workload *w)
{
	struct tdxmmu_td_config cfg;

	ctx_config(c, &cfg, w->mmu, w->no_mirror, w->accept_explicit);
	ctx_start(c, &cfg);
	assert_int_equal(tdxmmu_memslot_add(c->td, 0, 0, 2 * GiB), TDXMMU_OK);
	assert_int_equal(tdxmmu_memslot_add(c->td, 1, SLOT1_BASE, 4 * MiB), TDXMMU_OK);
	/* 2M-backed: the TDP MMU maps it with 2M leaves (E8). */
	assert_int_equal(tdxmmu_memslot_add_flags(c->td, 2, H2M, 4 * MiB,
						  TDXMMU_MEMSLOT_HUGEPAGES),
			 TDXMMU_OK);
	if (!w->before_finalize)
		assert_int_equal(tdxmmu_td_finalize(c->td), TDXMMU_OK);
}

/* Private pages only (the no-mirror mode has no MapGPA). */
static void setup_private(struct ctx *c)
{
	must(g_write(c, P1, 0x1111), "write P1");
	must(g_write(c, P2, 0x2222), "write P2");
}

static void setup_slot1(struct ctx *c)
{
	setup_base(c);
	must(g_write(c, M1, 0x5555), "write M1");
}

/* A 2M page mapped whole (private AUG at 2M). */
static void setup_2m(struct ctx *c)
{
	setup_base(c);
	must(g_write(c, H2M + 0x1000, 0x2222), "write 2M");
}

static int op_2m_fault(struct ctx *c)
{
	return g_write(c, H2M + 0x200000 + 0x3000, 0x5151);
}

/* A zap of one 4K page inside a 2M leaf: the split (BLOCK, TRACK,
 * DEMOTE), then the 4K page's removal. */
static int op_2m_partial_zap(struct ctx *c)
{
	return tdxmmu_host_zap(c->td, H2M + 0x5000, 0x1000, TDXMMU_ALIAS_PRIVATE);
}

static int op_finalize(struct ctx *c)
{
	return tdxmmu_td_finalize(c->td);
}

static int op_accept(struct ctx *c)
{
	enum tdxmmu_outcome o = TDXMMU_OUTCOME_OK;
	uint64_t status = 0;
	int rc = tdxmmu_vcpu_accept_outcome(c->td, 0, F1, 0, &status, &o);

	if (rc < 0 || o != TDXMMU_OUTCOME_OK)
		return ST(rc, o);
	/* A re-issue after the write failed finds the page accepted
	 * already: a warning, success. */
	return !tdxmmu_status_ok(status) ? 100 : g_write(c, F1, 0x7777);
}

static const struct workload workloads[] = {
	{ "tdp add page", TDXMMU_MMU_TDP, setup_none, op_add_page, .before_finalize = true },
	{ "tdp finalize", TDXMMU_MMU_TDP, setup_none, op_finalize, .before_finalize = true },
	{ "tdp private fault", TDXMMU_MMU_TDP, setup_base, op_private_fault, .guest_op = true },
	{ "tdp shared fault", TDXMMU_MMU_TDP, setup_shared, op_shared_fault, .guest_op = true },
	{ "tdp refault after zap", TDXMMU_MMU_TDP, setup_zapped, op_refault, .guest_op = true },
	{ "tdp accept (explicit)", TDXMMU_MMU_TDP, setup_none, op_accept, .guest_op = true,
	  .accept_explicit = true },
	{ "tdp mapgpa to shared", TDXMMU_MMU_TDP, setup_base, op_to_shared, .guest_op = true },
	{ "tdp mapgpa to private", TDXMMU_MMU_TDP, setup_base, op_to_private, .guest_op = true },
	{ "tdp invalidate", TDXMMU_MMU_TDP, setup_base, op_invalidate },
	{ "tdp zap private", TDXMMU_MMU_TDP, setup_base, op_zap_private },
	{ "tdp zap, vCPU in the TD", TDXMMU_MMU_TDP, setup_held, op_zap_both },
	{ "tdp delete memslot", TDXMMU_MMU_TDP, setup_slot1, op_delete_slot },
	{ "tdp destroy", TDXMMU_MMU_TDP, setup_slot1, op_destroy, .is_destroy = true },
	{ "tdp 2M private fault", TDXMMU_MMU_TDP, setup_base, op_2m_fault, .guest_op = true },
	{ "tdp 2M partial zap", TDXMMU_MMU_TDP, setup_2m, op_2m_partial_zap },
	{ "tdp 2M destroy", TDXMMU_MMU_TDP, setup_2m, op_destroy, .is_destroy = true },
	{ "no-mirror private fault", TDXMMU_MMU_TDP, setup_private, op_private_fault,
	  .guest_op = true, .no_mirror = true },
	{ "no-mirror zap private", TDXMMU_MMU_TDP, setup_private, op_zap_private,
	  .no_mirror = true },
	{ "no-mirror destroy", TDXMMU_MMU_TDP, setup_private, op_destroy, .is_destroy = true,
	  .no_mirror = true },
	{ "legacy add page", TDXMMU_MMU_LEGACY, setup_none, op_add_page, .before_finalize = true },
	{ "legacy private fault", TDXMMU_MMU_LEGACY, setup_base, op_private_fault, .guest_op = true },
	{ "legacy shared fault", TDXMMU_MMU_LEGACY, setup_shared, op_shared_fault,
	  .guest_op = true },
	{ "legacy refault after zap", TDXMMU_MMU_LEGACY, setup_zapped, op_refault,
	  .guest_op = true },
	{ "legacy mapgpa to shared", TDXMMU_MMU_LEGACY, setup_base, op_to_shared,
	  .guest_op = true },
	{ "legacy mapgpa to private", TDXMMU_MMU_LEGACY, setup_base, op_to_private,
	  .guest_op = true },
	{ "legacy invalidate", TDXMMU_MMU_LEGACY, setup_base, op_invalidate },
	{ "legacy zap private", TDXMMU_MMU_LEGACY, setup_base, op_zap_private },
	{ "legacy zap, vCPU in the TD", TDXMMU_MMU_LEGACY, setup_held, op_zap_both },
	{ "legacy delete memslot", TDXMMU_MMU_LEGACY, setup_slot1, op_delete_slot },
	{ "legacy destroy", TDXMMU_MMU_LEGACY, setup_slot1, op_destroy, .is_destroy = true },
};

struct reference {
	int status;
	unsigned calls[64]; /* calls of each leaf the op issued */
};

/* The status injected: an operand the module rejects, which KVM, issuing
 * only calls it built itself, never expects. */
static uint64_t injected;

static bool verbose;
static unsigned runs, killed, tolerated_runs, teardown_leaks;

/*
 * Leaves whose error KVM tolerates by design (the VM stays alive), with
 * why. TDH.VP.ENTER: a vCPU that cannot enter exits to the VMM with the
 * error (KVM_EXIT_INTERNAL_ERROR in real KVM); the model's vCPU reports
 * the access failed, and KVM's state is untouched.
 */
static bool tolerated(int leaf)
{
	const char *n = tdxmmu_leaf_name(leaf);

	return n && !strcmp(n, "TDH.VP.ENTER");
}

static void run_one(const struct workload *w, int leaf, unsigned n, struct reference *ref)
{
	struct ctx c;
	struct tdxmmu_inject_counts k;
	char what[160];
	size_t mark;
	uint64_t v = 0;
	int st;
	bool dead;

	snprintf(what, sizeof(what), "%s, %s N=%u", w->name,
		 leaf < 0 ? "none" : tdxmmu_leaf_name(leaf), n);
	ctx_create(&c, w);
	w->setup(&c);
	check_clean(c.td, what);
	mark = trace_mark(&c);
	if (leaf >= 0)
		assert_int_equal(tdxmmu_inject_status_nth(c.td, leaf, injected, n, false),
				 TDXMMU_OK);
	if (w->is_destroy && leaf >= 0) {
		/* The teardown under injection: whatever KVM had to give up on
		 * it reclaims once the HKID is released, or reports. */
		st = op_destroy(&c);
		if (verbose)
			printf("  %s: destroy %d leaked %llu td-owned %llu (%s)\n", what, st,
			       (unsigned long long)destroy_rep.frames_leaked,
			       (unsigned long long)destroy_rep.frames_td_owned,
			       destroy_rep.message);
		if (verbose)
			printf("  %s: destroy %d (%s)\n", what, st, destroy_rep.message);
		if (st == TDXMMU_OK) {
			/* Recovered: the page KVM gave up on reclaimed once
			 * the HKID was released, or the teardown's second
			 * try completed. */
			if (destroy_rep.frames_leaked || destroy_rep.frames_td_owned ||
			    destroy_rep.kvm_pages_leaked || destroy_rep.sept_pages_leaked ||
			    destroy_rep.message[0])
				fail_msg("%s: destroy: OK with a leak: %s", what,
					 destroy_rep.message);
		} else {
			/* What KVM must leak when the module refuses the
			 * key's release or the TD's last pages: said so, as
			 * the module's refusal, never as the model's breakage. */
			if (st != TDXMMU_ESEAMCALL || !destroy_rep.message[0] ||
			    !(destroy_rep.frames_leaked || destroy_rep.frames_td_owned))
				fail_msg("%s: destroy: %d, %s", what, st, destroy_rep.message);
			teardown_leaks++;
		}
		ctx_free(&c);
		runs++;
		return;
	}
	st = w->op(&c);
	if (leaf < 0) {
		ref->status = st;
		for (int l = 0; l < 64; l++) {
			char key[80];

			if (!tdxmmu_leaf_name(l))
				continue;
			snprintf(key, sizeof(key), "kvm_tdx_seamcall: %s ", tdxmmu_leaf_name(l));
			ref->calls[l] = trace_count(&c, mark, key);
		}
		if (w->is_destroy) {
			assert_int_equal(st, TDXMMU_OK);
			ctx_free(&c);
			return;
		}
	}
	assert_int_equal(tdxmmu_inject_counts(c.td, &k), TDXMMU_OK);
	assert_int_equal(k.status, leaf < 0 ? 0 : 1);
	dead = tdxmmu_vm_dead(c.td);
	if (verbose)
		printf("  %s: status %d, %s\n", what, st, dead ? "dead" : "alive");
	if (leaf < 0 || tolerated(leaf)) {
		if (dead)
			fail_msg("%s: the VM died (status %d)", what, st);
		if (leaf >= 0) {
			tolerated_runs++;
			assert_int_equal(tdxmmu_inject_off(c.td), TDXMMU_OK);
			if (st != ref->status)
				st = w->op(&c); /* the VMM's re-issue */
			assert_int_equal(st, ref->status);
		}
	} else {
		if (!dead)
			fail_msg("%s: KVM let the VM live (status %d)", what, st);
		killed++;
		if (w->guest_op)
			assert_int_equal(st, (int)TDXMMU_OUTCOME_BUGGED);
		else
			assert_int_equal(st, TDXMMU_EIO);
		/* Dead from now on: nothing runs. */
		assert_int_equal(g_read(&c, P1, &v), (int)TDXMMU_OUTCOME_DEAD);
		assert_int_equal(tdxmmu_host_zap(c.td, 0, 4096, TDXMMU_ALIAS_BOTH), TDXMMU_EIO);
	}
	check_clean(c.td, what);
	/* The shared pages' data is the host's, dead VM or not. */
	if (w->setup != setup_none && w->setup != setup_private) {
		assert_int_equal(tdxmmu_host_read(c.td, S2, &v), TDXMMU_OK);
		assert_int_equal(v, 0x4444);
	}
	if (w->setup == setup_held && !dead) {
		/* A held vCPU whose re-entry the module refused (after a
		 * kick) was handed to the VMM: its leave says so. */
		int rc = tdxmmu_vcpu_leave(c.td, 1);

		if (rc != TDXMMU_OK && !(leaf >= 0 && tolerated(leaf) && rc == TDXMMU_ESEAMCALL))
			fail_msg("%s: leave: %d", what, rc);
	}
	api_fx_destroy_clean(c.td);
	ctx_free(&c);
	runs++;
}

static void run_workload(const struct workload *w)
{
	struct reference ref;

	memset(&ref, 0, sizeof(ref));
	no_mirror_run = w->no_mirror;
	run_one(w, -1, 0, &ref);
	printf("%-28s", w->name);
	for (int l = 0; l < 64; l++) {
		unsigned last = ref.calls[l];

		if (!last)
			continue;
		printf(" %s=%u", tdxmmu_leaf_name(l), last);
		for (unsigned n = 1; n <= last; n++) {
			if (n > MAX_PER_LEAF && n != last)
				continue;
			run_one(w, l, n, &ref);
		}
	}
	printf("\n");
}

static void test_every_leaf_every_workload(void **state)
{
	const char *only = getenv("TDXMMU_INJECT_ONLY");

	(void)state;
	verbose = getenv("TDXMMU_INJECT_VERBOSE") != NULL;
	assert_true(tdxmmu_status_from_name("TDX_OPERAND_INVALID", &injected));
	printf("SEAMCALLs of each workload (each made to fail at N = 1..%d and the last):\n",
	       MAX_PER_LEAF);
	for (size_t i = 0; i < sizeof(workloads) / sizeof(workloads[0]); i++) {
		if (only && *only && !strstr(workloads[i].name, only))
			continue;
		run_workload(&workloads[i]);
	}
	printf("%u runs: %u killed the VM, %u tolerated, %u teardowns that leak\n", runs,
	       killed, tolerated_runs, teardown_leaks);
	if (!only || !*only) {
		assert_true(killed > 0);
		assert_true(teardown_leaks > 0);
	}
}

/* The injection's own rules: arguments, countdowns of one leaf and of
 * every leaf, persistence, shares, `inject off`, the counter. */
static void test_status_rules(void **state)
{
	static const struct workload w = { "rules", TDXMMU_MMU_TDP, setup_none, NULL };
	struct tdxmmu_inject_counts k;
	uint64_t ok_status = 0, warn, walk, v = 0;
	int aug = tdxmmu_leaf_from_name("TDH.MEM.PAGE.AUG");
	int sept_add = tdxmmu_leaf_from_name("TDH.MEM.SEPT.ADD");
	struct ctx c;

	(void)state;
	assert_true(tdxmmu_status_from_name("TDX_OPERAND_INVALID", &injected));
	assert_true(tdxmmu_status_from_name("TDX_PAGE_ALREADY_ACCEPTED", &warn));
	assert_true(tdxmmu_status_from_name("TDX_EPT_WALK_FAILED", &walk));
	ctx_create(&c, &w);
	/* Bad arguments: clear errors, nothing armed. */
	assert_int_equal(tdxmmu_inject_status_nth(NULL, -1, injected, 1, false), TDXMMU_EINVAL);
	assert_int_equal(tdxmmu_inject_status_nth(c.td, 4000, injected, 1, false), TDXMMU_EINVAL);
	assert_int_equal(tdxmmu_inject_status_nth(c.td, -2, injected, 1, false), TDXMMU_EINVAL);
	assert_int_equal(tdxmmu_inject_status_nth(c.td, aug, ok_status, 1, false), TDXMMU_EINVAL);
	assert_int_equal(tdxmmu_inject_status_nth(c.td, aug, warn, 1, false), TDXMMU_EINVAL);
	assert_int_equal(tdxmmu_inject_status(NULL, aug, injected, 1), TDXMMU_EINVAL);
	assert_int_equal(tdxmmu_inject_status(c.td, 4000, injected, 1), TDXMMU_EINVAL);
	assert_int_equal(tdxmmu_inject_status(c.td, aug, injected, 1000001), TDXMMU_ERANGE);
	assert_int_equal(tdxmmu_inject_status(c.td, aug, warn, 1000), TDXMMU_EINVAL);
	/* Off needs no status. */
	assert_int_equal(tdxmmu_inject_status_nth(c.td, aug, 0, 0, false), TDXMMU_OK);
	assert_int_equal(tdxmmu_inject_status(c.td, -1, 0, 0), TDXMMU_OK);
	assert_int_equal(g_write(&c, P1, 1), 0);

	/* A share of 100 % on SEPT.ADD: a fault in a populated 2M region
	 * issues none and completes; inject off stops it. */
	assert_int_equal(tdxmmu_inject_status(c.td, sept_add, walk, 1000000), TDXMMU_OK);
	assert_int_equal(g_write(&c, P1 + 0x1000, 2), 0);
	assert_int_equal(tdxmmu_inject_off(c.td), TDXMMU_OK);
	assert_int_equal(g_write(&c, P2, 3), 0);
	assert_int_equal(tdxmmu_inject_counts(c.td, &k), TDXMMU_OK);
	assert_int_equal(k.status, 0);

	/* The leaf's own countdown wins over every leaf's when both pick the
	 * same call: the 2nd AUG from now meets the leaf's status. Here the
	 * any-leaf countdown is far away. */
	assert_int_equal(tdxmmu_inject_status_nth(c.td, -1, walk, 1000, false), TDXMMU_OK);
	assert_int_equal(tdxmmu_inject_status_nth(c.td, aug, injected, 2, false), TDXMMU_OK);
	assert_int_equal(g_write(&c, P1 + 0x2000, 4), 0); /* AUG 1 */
	assert_false(tdxmmu_vm_dead(c.td));
	assert_int_equal(g_write(&c, P1 + 0x3000, 5), (int)TDXMMU_OUTCOME_BUGGED); /* AUG 2 */
	assert_true(tdxmmu_vm_dead(c.td));
	assert_int_equal(tdxmmu_inject_counts(c.td, &k), TDXMMU_OK);
	assert_int_equal(k.status, 1);
	assert_int_equal(tdxmmu_counter(c.td, "inject.status", &v), TDXMMU_OK);
	assert_int_equal(v, 1);
	check_clean(c.td, "rules");
	api_fx_destroy_clean(c.td);
	ctx_free(&c);

	/* Every leaf's countdown, persistent: from the 2nd SEAMCALL on (the
	 * fault's VP.ENTER, then its SEPT.ADD) everything is refused: the
	 * fault kills the VM, and a raw SEAMCALL after it is refused too. */
	ctx_create(&c, &w);
	assert_int_equal(tdxmmu_inject_status_nth(c.td, -1, walk, 2, true), TDXMMU_OK);
	assert_int_equal(g_write(&c, F1, 6), (int)TDXMMU_OUTCOME_BUGGED);
	assert_int_equal(api_fx_raw(c.td, "TDH.MEM.TRACK", 0, 0, 0), walk);
	assert_int_equal(api_fx_raw(c.td, "TDH.MEM.SEPT.RD", 0, 0, 0), walk);
	assert_int_equal(tdxmmu_inject_counts(c.td, &k), TDXMMU_OK);
	assert_int_equal(k.status, 3);
	assert_int_equal(tdxmmu_inject_off(c.td), TDXMMU_OK);
	/* Off: the module answers for itself again (no vCPU is in the TD:
	 * TRACK succeeds, dead VM or not; the module does not know KVM's
	 * verdict). */
	assert_int_equal(api_fx_raw(c.td, "TDH.MEM.TRACK", 0, 0, 0), 0);
	check_clean(c.td, "rules, persistent");
	api_fx_destroy_clean(c.td);
	ctx_free(&c);
}

static int guest_write_p1(tdxmmu_td *td, unsigned vcpu, void *arg)
{
	enum tdxmmu_outcome o = TDXMMU_OUTCOME_OK;
	int rc = tdxmmu_vcpu_write(td, vcpu, P1 + vcpu * 0x1000, 0x77, &o);

	(void)arg;
	return rc ? rc : (int)o;
}

/* Holding a vCPU in the TD (vcpu enter) whose TDH.VP.ENTER the module
 * refuses: the VMM's KVM_EXIT_INTERNAL_ERROR (ESEAMCALL), the vCPU not
 * held, the VM alive; and the API's refusals around holding and running
 * vCPUs on threads, each with its error and nothing run. */
static void test_hold_and_threads(void **state)
{
	static const struct workload w = { "hold", TDXMMU_MMU_TDP, setup_none, NULL };
	int enter = tdxmmu_leaf_from_name("TDH.VP.ENTER");
	tdxmmu_guest_fn fns[2] = { guest_write_p1, NULL };
	int results[2] = { -1, -1 };
	uint64_t v = 0;
	struct ctx c;

	(void)state;
	assert_true(tdxmmu_status_from_name("TDX_OPERAND_INVALID", &injected));
	ctx_create(&c, &w);
	assert_int_equal(tdxmmu_inject_status_nth(c.td, enter, injected, 1, false), TDXMMU_OK);
	assert_int_equal(tdxmmu_vcpu_enter(c.td, 1), TDXMMU_ESEAMCALL);
	assert_false(tdxmmu_vm_dead(c.td));
	assert_int_equal(tdxmmu_vcpu_leave(c.td, 1), TDXMMU_ESTATE); /* not held */
	assert_int_equal(tdxmmu_vcpu_enter(c.td, 1), TDXMMU_OK);
	assert_int_equal(tdxmmu_vcpu_enter(c.td, 1), TDXMMU_ESTATE); /* twice */
	assert_int_equal(tdxmmu_vcpu_enter(c.td, 7), TDXMMU_EINVAL);
	assert_int_equal(tdxmmu_vcpu_leave(c.td, 7), TDXMMU_EINVAL);
	assert_int_equal(tdxmmu_vcpu_leave(c.td, 1), TDXMMU_OK);
	/* run_vcpus: no program, too many vCPUs, none, no TD. */
	assert_int_equal(tdxmmu_run_vcpus(c.td, 2, fns, NULL, results), TDXMMU_EINVAL);
	assert_int_equal(tdxmmu_run_vcpus(c.td, 3, fns, NULL, results), TDXMMU_EINVAL);
	assert_int_equal(tdxmmu_run_vcpus(c.td, 0, fns, NULL, results), TDXMMU_EINVAL);
	assert_int_equal(tdxmmu_run_vcpus(NULL, 1, fns, NULL, results), TDXMMU_EINVAL);
	assert_int_equal(tdxmmu_run_vcpus(c.td, 1, NULL, NULL, results), TDXMMU_EINVAL);
	assert_int_equal(results[0], -1); /* nothing ran */
	assert_int_equal(tdxmmu_run_vcpus(c.td, 1, fns, NULL, results), TDXMMU_OK);
	assert_int_equal(results[0], 0);
	assert_int_equal(g_read(&c, P1, &v), 0);
	assert_int_equal(v, 0x77);
	check_clean(c.td, "hold");
	api_fx_destroy_clean(c.td);
	ctx_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status_rules),
		cmocka_unit_test(test_hold_and_threads),
		cmocka_unit_test(test_every_leaf_every_workload),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
