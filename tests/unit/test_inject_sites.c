/* SPDX-License-Identifier: MIT */
/*
 * Fault injection through every allocation site of KVM and every SEAMCALL a
 * workload issues, SQLite's way (issue 14, item 2): for each workload, each
 * site (tdxmmu_inject_enomem_nth()) and each SEAMCALL leaf the workload
 * issues (tdxmmu_inject_busy_nth()), for N = 1, 2, ... until a run ends
 * without reaching the N-th event: run the workload with the N-th event
 * failing, re-issue what failed as a VMM would (with the injection off),
 * then
 *  - tdxmmu_check() finds no violation and the VM is alive,
 *  - every probe page reads (guest, and host for shared pages) what it reads
 *    after the same workload run without injection (the model's own answer
 *    of where data survives: a private page a zap removed reads zeros in
 *    both runs),
 *  - destroy leaks nothing (for the destroy workload, the destroy under
 *    injection itself).
 * ENOMEM runs once transient (only the N-th allocation fails; the API's and
 * the guest's own retries re-issue) and, for guest accesses, persistent
 * (every allocation from the N-th on fails: the access reports `error`, and
 * the test re-issues it with memory back). BUSY runs transient: KVM retries
 * contention itself; per leaf, and then the N-th SEAMCALL of any leaf.
 *
 * Whether the N-th event was reached is read from KVM's trace (an injected
 * ENOMEM and every SEAMCALL KVM issues are traced), which outlives the TD
 * (the destroy workload), and cross-checked against tdxmmu_inject_counts().
 *
 * The time used to be mostly the teardown's wait for liburcu's call_rcu
 * thread, which sleeps 10 ms before each batch (some 25 s in the plain
 * build); host_rcu.c now runs the callbacks on a thread of its own, and the
 * plain build takes 2.5 s (2 s of CPU, issue 14). TDXMMU_INJECT_ONLY=TEXT in
 * the environment runs only the
 * workloads whose name contains TEXT (to reproduce one line).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "api_fixture.h"
#include "inject_workloads.h"

#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

#include <tdxmmu/tdxmmu.h>

#define GROWTH_REGIONS 80 /* 2M regions touched: > 64 tables (one arena chunk) */

struct workload {
	const char *name;
	enum tdxmmu_mmu_kind mmu;
	bool no_mirror;
	void (*setup)(struct ctx *c);
	/* The operation under injection: returns a status (API return and
	 * outcome folded) that the reference run's must equal, after the
	 * re-issue if needed. */
	int (*op)(struct ctx *c);
	bool guest_access; /* persistent ENOMEM makes sense (no livelock) */
	bool is_destroy;
	bool growth;       /* the table-growth op: probe its pages too */
	/* Table growth: only the sites that one table more than a chunk
	 * reaches (the arena's and the legacy shadow-page table's chunks);
	 * the rest, and every SEAMCALL, the private fault covers, at a tenth
	 * of the runs. */
	bool chunk_sites_only;
	bool before_finalize; /* the op is a build-time one: finalize after */
	bool accept_explicit; /* the guest accepts pages itself */
	bool mapgpa_upstream; /* MapGPA in upstream KVM's 2M chunks */
	bool hugepages;       /* both memslots hugepages=on: 2M leaves */
};

/* ---- the TD and its trace ---- */

static void ctx_create(struct ctx *c, const struct workload *w)
{
	struct tdxmmu_td_config cfg;

	ctx_config(c, &cfg, w->mmu, w->no_mirror, w->accept_explicit);
	cfg.mapgpa = w->mapgpa_upstream ? TDXMMU_MAPGPA_UPSTREAM : TDXMMU_MAPGPA_SEED;
	ctx_start(c, &cfg);
	assert_int_equal(tdxmmu_memslot_add_flags(c->td, 0, 0, 2 * GiB,
						  w->hugepages ? TDXMMU_MEMSLOT_HUGEPAGES : 0),
			 TDXMMU_OK);
	assert_int_equal(tdxmmu_memslot_add_flags(c->td, 1, SLOT1_BASE, 4 * MiB,
						  w->hugepages ? TDXMMU_MEMSLOT_HUGEPAGES : 0),
			 TDXMMU_OK);
	if (!w->before_finalize)
		assert_int_equal(tdxmmu_td_finalize(c->td), TDXMMU_OK);
}

#define M2 (SLOT1_BASE + 0x2000)

static void setup_slot1(struct ctx *c)
{
	setup_base(c);
	must(g_write(c, M1, 0x5555), "write M1");
	must(g_mapgpa(c, c->sh | M2, 4096), "mapgpa M2");
	must(g_write(c, c->sh | M2, 0x6666), "write M2");
}

/* Large pages (hugepages=on workloads): F1's 2M range mapped by a 2M leaf
 * the guest never accepted (accept=explicit: the read reports `ve`). */
static void setup_pending_2m(struct ctx *c)
{
	enum tdxmmu_outcome o = TDXMMU_OUTCOME_OK;
	uint64_t v;

	assert_int_equal(tdxmmu_vcpu_read(c->td, 0, F1 + 0x10000, &v, &o), TDXMMU_OK);
	if (o != TDXMMU_OUTCOME_VE)
		fail_msg("setup: read of a fresh 2M range: outcome %d, want ve", (int)o);
}

/* A split for each cause (hugepages ref §4.1): a zap of one page of P1's 2M
 * leaf, a conversion of a neighbour of P2, and (op_accept after
 * setup_pending_2m) a 4K ACCEPT inside a pending 2M leaf. */
static int op_zap_4k(struct ctx *c)
{
	return tdxmmu_host_zap(c->td, P1 + 0x1000, 4096, TDXMMU_ALIAS_PRIVATE);
}

static int op_to_shared_4k(struct ctx *c)
{
	return g_mapgpa(c, c->sh | (P2 + 0x1000), 4096);
}

/* A whole 2M chunk to shared: P2's 2M leaf removed whole at 2M. */
static int op_to_shared_2m(struct ctx *c)
{
	return g_mapgpa(c, c->sh | 0x200000, 2 * MiB);
}

/* The guest accepts a page it never touched: TDG.MEM.PAGE.ACCEPT's EPT
 * violation is KVM's fault; then writes it. */
static int op_accept(struct ctx *c)
{
	enum tdxmmu_outcome o = TDXMMU_OUTCOME_OK;
	uint64_t status = 0;
	int rc = tdxmmu_vcpu_accept_outcome(c->td, 0, F1, 0, &status, &o);

	if (rc < 0 || o != TDXMMU_OUTCOME_OK)
		return ST(rc, o);
	if (status != 0)
		return 100; /* the TDCALL failed: compared with the reference */
	return g_write(c, F1, 0x7777);
}

static int op_zap_shared(struct ctx *c)
{
	return tdxmmu_host_zap(c->td, 0, 8 * MiB, TDXMMU_ALIAS_SHARED);
}

/* A page in each of GROWTH_REGIONS 2M regions: more tables than one arena
 * chunk (and, in the legacy MMU, one shadow-page chunk) holds. */
static int op_growth(struct ctx *c)
{
	for (unsigned i = 0; i < GROWTH_REGIONS; i++) {
		int st = g_write(c, 64 * MiB + i * 2 * MiB, i + 1);

		if (st)
			return st;
	}
	return 0;
}

/* ---- probes: what the guest and the host read afterwards ---- */

struct probe_result {
	int status;
	uint64_t val;
};

#define NR_PROBES 16

struct probes {
	struct probe_result r[NR_PROBES];
	unsigned n;
};

static void probe_read(struct ctx *c, struct probes *p, uint64_t gpa)
{
	enum tdxmmu_outcome o = TDXMMU_OUTCOME_OK;
	uint64_t v = 0;
	int rc = tdxmmu_vcpu_read(c->td, 0, gpa, &v, &o);

	assert_true(p->n < NR_PROBES);
	p->r[p->n++] = (struct probe_result){ ST(rc, o), v };
}

static void probe_host(struct ctx *c, struct probes *p, uint64_t gpa)
{
	uint64_t v = 0;
	int rc = tdxmmu_host_read(c->td, gpa, &v);

	assert_true(p->n < NR_PROBES);
	p->r[p->n++] = (struct probe_result){ rc, v };
}

static void take_probes(struct ctx *c, struct probes *p, bool growth)
{
	memset(p, 0, sizeof(*p));
	/* Host reads first: a guest read may fault a page back in. */
	probe_host(c, p, S1);
	probe_host(c, p, S2);
	probe_host(c, p, M2);
	probe_read(c, p, P1);
	probe_read(c, p, P2);
	probe_read(c, p, c->sh | S1);
	probe_read(c, p, c->sh | S2);
	probe_read(c, p, F1);
	probe_read(c, p, c->sh | F1);
	probe_read(c, p, M1);
	probe_read(c, p, c->sh | M2);
	probe_read(c, p, A1);
	if (growth) {
		probe_read(c, p, 64 * MiB);
		probe_read(c, p, 64 * MiB + (GROWTH_REGIONS - 1) * 2 * MiB);
	}
}

/* ---- one run ---- */

enum inj_kind { INJ_NONE, INJ_ENOMEM, INJ_ENOMEM_PERSIST, INJ_BUSY };

struct inj {
	enum inj_kind kind;
	enum tdxmmu_alloc_site site;
	int leaf;
	unsigned n;
};

struct reference {
	int status;
	struct probes probes;
	bool leaves[64]; /* leaves the op issued */
};

/* Runs w once with inj armed just before the op; returns whether the N-th
 * event was reached. With inj.kind == INJ_NONE fills ref instead of
 * comparing with it. */
static bool run_one(const struct workload *w, struct inj inj, struct reference *ref)
{
	struct ctx c;
	struct tdxmmu_inject_counts before = { 0 }, after = { 0 };
	char what[160];
	size_t mark;
	unsigned hits = 0;
	bool hit = false;
	int st;

	snprintf(what, sizeof(what), "%s, %s %s N=%u", w->name,
		 inj.kind == INJ_BUSY ? "busy" : inj.kind == INJ_NONE ? "none" :
		 inj.kind == INJ_ENOMEM ? "enomem" : "enomem-persistent",
		 inj.kind == INJ_BUSY ? (inj.leaf < 0 ? "any leaf" : tdxmmu_leaf_name(inj.leaf)) :
		 inj.kind == INJ_NONE ? "-" : tdxmmu_alloc_site_name(inj.site), inj.n);
	ctx_create(&c, w);
	w->setup(&c);
	check_clean(c.td, what);
	assert_int_equal(tdxmmu_inject_counts(c.td, &before), TDXMMU_OK);
	mark = trace_mark(&c);
	switch (inj.kind) {
	case INJ_NONE:
		break;
	case INJ_ENOMEM:
	case INJ_ENOMEM_PERSIST:
		assert_int_equal(tdxmmu_inject_enomem_nth(c.td, inj.site, inj.n,
							  inj.kind == INJ_ENOMEM_PERSIST),
				 TDXMMU_OK);
		break;
	case INJ_BUSY:
		assert_int_equal(tdxmmu_inject_busy_nth(c.td, inj.leaf, inj.n, false),
				 TDXMMU_OK);
		break;
	}
	st = w->op(&c);
	if (inj.kind == INJ_BUSY) {
		char key[80];

		if (inj.leaf < 0)
			snprintf(key, sizeof(key), "kvm_tdx_seamcall: ");
		else
			snprintf(key, sizeof(key), "kvm_tdx_seamcall: %s ",
				 tdxmmu_leaf_name(inj.leaf));
		hit = trace_count(&c, mark, key) >= inj.n;
	} else {
		hits = trace_count(&c, mark, "kvm_mmu_enomem:");
		hit = hits > 0;
	}
	if (inj.kind == INJ_NONE) {
		assert_false(hit);
		ref->status = st;
		for (int l = 0; l < 64; l++) {
			char key[80];

			if (!tdxmmu_leaf_name(l))
				continue;
			snprintf(key, sizeof(key), "kvm_tdx_seamcall: %s ", tdxmmu_leaf_name(l));
			ref->leaves[l] = trace_count(&c, mark, key) > 0;
		}
	}
	if (w->is_destroy) {
		if (st != TDXMMU_OK)
			fail_msg("%s: destroy: %s", what, destroy_rep.message);
		assert_int_equal(destroy_rep.frames_leaked, 0);
		assert_int_equal(destroy_rep.frames_td_owned, 0);
		assert_int_equal(destroy_rep.kvm_pages_leaked, 0);
		assert_int_equal(destroy_rep.sept_pages_leaked, 0);
		ctx_free(&c);
		return hit;
	}
	/* The library's count of fired injections agrees with the trace. */
	assert_int_equal(tdxmmu_inject_counts(c.td, &after), TDXMMU_OK);
	if (inj.kind == INJ_BUSY)
		assert_int_equal(after.busy - before.busy, hit ? 1 : 0);
	else
		assert_int_equal(after.enomem - before.enomem, hits);
	assert_int_equal(tdxmmu_inject_off(c.td), TDXMMU_OK);
	if (tdxmmu_vm_dead(c.td))
		fail_msg("%s: the VM died (status %d)", what, st);
	check_clean(c.td, what);
	/* The VMM's re-issue: what failed is issued again with memory back. */
	if (inj.kind != INJ_NONE && st != ref->status) {
		st = w->op(&c);
		if (st != ref->status)
			fail_msg("%s: re-issued, status %d, without injection %d", what, st,
				 ref->status);
		check_clean(c.td, what);
	}
	if (w->before_finalize)
		assert_int_equal(tdxmmu_td_finalize(c.td), TDXMMU_OK);
	if (w->setup == setup_held)
		assert_int_equal(tdxmmu_vcpu_leave(c.td, 1), TDXMMU_OK);
	if (inj.kind == INJ_NONE) {
		take_probes(&c, &ref->probes, w->growth);
	} else {
		struct probes p;

		take_probes(&c, &p, w->growth);
		for (unsigned i = 0; i < p.n; i++)
			if (p.r[i].status != ref->probes.r[i].status ||
			    p.r[i].val != ref->probes.r[i].val)
				fail_msg("%s: probe %u: status %d value %#llx, without injection %d %#llx",
					 what, i, p.r[i].status, (unsigned long long)p.r[i].val,
					 ref->probes.r[i].status,
					 (unsigned long long)ref->probes.r[i].val);
	}
	check_clean(c.td, what);
	api_fx_destroy_clean(c.td);
	ctx_free(&c);
	return hit;
}

/* ---- the matrix ---- */

static const struct workload workloads[] = {
	{ "tdp add page", TDXMMU_MMU_TDP, false, setup_none, op_add_page, true,
	  .before_finalize = true },
	{ "tdp private fault", TDXMMU_MMU_TDP, false, setup_base, op_private_fault, true },
	{ "tdp shared fault", TDXMMU_MMU_TDP, false, setup_shared, op_shared_fault, true },
	{ "tdp mapgpa to shared", TDXMMU_MMU_TDP, false, setup_base, op_to_shared },
	{ "tdp mapgpa to shared, 2M chunks", TDXMMU_MMU_TDP, false, setup_base, op_to_shared,
	  .mapgpa_upstream = true },
	{ "tdp mapgpa to private", TDXMMU_MMU_TDP, false, setup_base, op_to_private },
	{ "tdp invalidate", TDXMMU_MMU_TDP, false, setup_base, op_invalidate },
	{ "tdp zap private", TDXMMU_MMU_TDP, false, setup_base, op_zap_private },
	{ "tdp zap shared", TDXMMU_MMU_TDP, false, setup_base, op_zap_shared },
	{ "tdp zap both", TDXMMU_MMU_TDP, false, setup_base, op_zap_both },
	{ "tdp delete memslot", TDXMMU_MMU_TDP, false, setup_slot1, op_delete_slot },
	{ "tdp refault after zap", TDXMMU_MMU_TDP, false, setup_zapped, op_refault, true },
	{ "tdp accept (explicit)", TDXMMU_MMU_TDP, false, setup_none, op_accept, true,
	  .accept_explicit = true },
	{ "tdp zap, vCPU in the TD", TDXMMU_MMU_TDP, false, setup_held, op_zap_both },
	{ "tdp table growth", TDXMMU_MMU_TDP, false, setup_none, op_growth, true,
	  .growth = true, .chunk_sites_only = true },
	{ "tdp destroy", TDXMMU_MMU_TDP, false, setup_slot1, op_destroy,
	  .is_destroy = true },
	{ "no-mirror private fault", TDXMMU_MMU_TDP, true, setup_none, op_private_fault, true },
	{ "tdp 2M private fault", TDXMMU_MMU_TDP, false, setup_base, op_private_fault, true,
	  .hugepages = true },
	{ "tdp 2M shared fault", TDXMMU_MMU_TDP, false, setup_shared, op_shared_fault, true,
	  .hugepages = true },
	{ "tdp 2M split by zap", TDXMMU_MMU_TDP, false, setup_base, op_zap_4k,
	  .hugepages = true },
	{ "tdp 2M split by mapgpa", TDXMMU_MMU_TDP, false, setup_base, op_to_shared_4k,
	  .hugepages = true },
	{ "tdp 2M split by accept", TDXMMU_MMU_TDP, false, setup_pending_2m, op_accept, true,
	  .accept_explicit = true, .hugepages = true },
	{ "tdp 2M mapgpa whole chunk", TDXMMU_MMU_TDP, false, setup_base, op_to_shared_2m,
	  .hugepages = true },
	{ "tdp 2M zap, vCPU in the TD", TDXMMU_MMU_TDP, false, setup_held, op_zap_both,
	  .hugepages = true },
	{ "tdp 2M delete memslot", TDXMMU_MMU_TDP, false, setup_slot1, op_delete_slot,
	  .hugepages = true },
	{ "tdp 2M destroy", TDXMMU_MMU_TDP, false, setup_slot1, op_destroy,
	  .is_destroy = true, .hugepages = true },
	{ "legacy add page", TDXMMU_MMU_LEGACY, false, setup_none, op_add_page, true,
	  .before_finalize = true },
	{ "legacy private fault", TDXMMU_MMU_LEGACY, false, setup_base, op_private_fault, true },
	{ "legacy shared fault", TDXMMU_MMU_LEGACY, false, setup_shared, op_shared_fault, true },
	{ "legacy mapgpa to shared", TDXMMU_MMU_LEGACY, false, setup_base, op_to_shared },
	{ "legacy mapgpa to shared, 2M chunks", TDXMMU_MMU_LEGACY, false, setup_base,
	  op_to_shared, .mapgpa_upstream = true },
	{ "legacy mapgpa to private", TDXMMU_MMU_LEGACY, false, setup_base, op_to_private },
	{ "legacy invalidate", TDXMMU_MMU_LEGACY, false, setup_base, op_invalidate },
	{ "legacy zap private", TDXMMU_MMU_LEGACY, false, setup_base, op_zap_private },
	{ "legacy zap shared", TDXMMU_MMU_LEGACY, false, setup_base, op_zap_shared },
	{ "legacy zap both", TDXMMU_MMU_LEGACY, false, setup_base, op_zap_both },
	{ "legacy delete memslot", TDXMMU_MMU_LEGACY, false, setup_slot1, op_delete_slot },
	{ "legacy refault after zap", TDXMMU_MMU_LEGACY, false, setup_zapped, op_refault, true },
	{ "legacy accept (explicit)", TDXMMU_MMU_LEGACY, false, setup_none, op_accept, true,
	  .accept_explicit = true },
	{ "legacy zap, vCPU in the TD", TDXMMU_MMU_LEGACY, false, setup_held, op_zap_both },
	{ "legacy table growth", TDXMMU_MMU_LEGACY, false, setup_none, op_growth, true,
	  .growth = true, .chunk_sites_only = true },
	{ "legacy destroy", TDXMMU_MMU_LEGACY, false, setup_slot1, op_destroy,
	  .is_destroy = true },
};

static const enum tdxmmu_alloc_site sites[] = {
	TDXMMU_SITE_PT, TDXMMU_SITE_SEPT, TDXMMU_SITE_FRAME, TDXMMU_SITE_RMAP,
	TDXMMU_SITE_SHADOW, TDXMMU_SITE_ARENA, TDXMMU_SITE_NOMIRROR,
};

#define MAX_N 4000 /* a bound no workload comes near: a run that never ends
		      is a bug in the countdown */

/* Injections reached, summed over the matrix: each kind must reach some
 * (a countdown that never fires would pass every run). */
static unsigned total_enomem_hits, total_busy_hits;

/*
 * Large-page workloads issue a SEAMCALL per 4K page of a 2M page at times
 * (512 TDH.PHYMEM.PAGE.WBINVD after a 2M REMOVE, hugepages ref §6.3): after
 * the first HUGE_DENSE events they sample every HUGE_STRIDE-th (a prime,
 * so that the positions inside a run of 512 vary), up to the first N that
 * is not reached. Returns the number of events that fired.
 */
#define HUGE_DENSE 16
#define HUGE_STRIDE 61
/* Under valgrind (make test's memcheck pass), where one run of a 2M
 * workload takes about a second: fewer, farther samples (measured: the
 * 2M workloads took 4.5 min there with the plain build's sampling). */
#define HUGE_DENSE_VALGRIND 4
#define HUGE_STRIDE_VALGRIND 251

static unsigned sweep(const struct workload *w, struct inj inj, struct reference *ref)
{
	unsigned dense = RUNNING_ON_VALGRIND ? HUGE_DENSE_VALGRIND : HUGE_DENSE;
	unsigned stride = RUNNING_ON_VALGRIND ? HUGE_STRIDE_VALGRIND : HUGE_STRIDE;
	unsigned n, hits = 0;

	for (n = 1; n <= MAX_N; n += w->hugepages && n >= dense ? stride : 1) {
		inj.n = n;
		if (!run_one(w, inj, ref))
			break;
		hits++;
	}
	assert_true(n <= MAX_N);
	return hits;
}

static void run_workload(const struct workload *w)
{
	struct reference ref;
	char line[2048];
	size_t len;

	memset(&ref, 0, sizeof(ref));
	no_mirror_run = w->no_mirror;
	run_one(w, (struct inj){ INJ_NONE, TDXMMU_SITE_ALL, -1, 0 }, &ref);
	struct timespec t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	len = (size_t)snprintf(line, sizeof(line), "%-34s enomem", w->name);
	for (size_t s = 0; s < sizeof(sites) / sizeof(sites[0]); s++) {
		unsigned once, pers = 0;

		if (w->chunk_sites_only && sites[s] != TDXMMU_SITE_ARENA &&
		    sites[s] != TDXMMU_SITE_SHADOW)
			continue;
		once = sweep(w, (struct inj){ INJ_ENOMEM, sites[s], -1, 0 }, &ref);

		if (w->guest_access)
			pers = sweep(w, (struct inj){ INJ_ENOMEM_PERSIST, sites[s], -1, 0 }, &ref);
		total_enomem_hits += once + pers;
		len += (size_t)snprintf(line + len, sizeof(line) - len, " %s=%u",
					tdxmmu_alloc_site_name(sites[s]), once);
		if (w->guest_access)
			len += (size_t)snprintf(line + len, sizeof(line) - len, "/%u", pers);
	}
	len += (size_t)snprintf(line + len, sizeof(line) - len, "; busy");
	for (int l = 0; l < 64; l++) {
		unsigned n;

		if (!ref.leaves[l] || w->chunk_sites_only)
			continue;
		n = sweep(w, (struct inj){ INJ_BUSY, TDXMMU_SITE_ALL, l, 0 }, &ref);
		total_busy_hits += n;
		len += (size_t)snprintf(line + len, sizeof(line) - len, " %s=%u",
					tdxmmu_leaf_name(l), n);
	}
	/* And the N-th SEAMCALL of any leaf: every call of the op in turn. */
	if (!w->chunk_sites_only) {
		unsigned n = sweep(w, (struct inj){ INJ_BUSY, TDXMMU_SITE_ALL, -1, 0 }, &ref);

		total_busy_hits += n;
		len += (size_t)snprintf(line + len, sizeof(line) - len, " any=%u", n);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("%s (%.2f s)\n", line,
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
}

static void test_every_site_every_workload(void **state)
{
	(void)state;
	/* K per site or leaf: N = 1..K each reached its event, N = K + 1 ran
	 * through without reaching it (so K + 1 runs). */
	printf("injections reached per site (transient/persistent) and per SEAMCALL leaf (BUSY; any = the N-th call of any leaf):\n");
	for (size_t i = 0; i < sizeof(workloads) / sizeof(workloads[0]); i++) {
		const char *only = getenv("TDXMMU_INJECT_ONLY");

		if (only && *only && !strstr(workloads[i].name, only))
			continue;
		run_workload(&workloads[i]);
	}
	if (!getenv("TDXMMU_INJECT_ONLY")) {
		assert_true(total_enomem_hits > 0);
		assert_true(total_busy_hits > 0);
	}
}

/* The countdown's own rules, on a private fault in an empty TD (a table at
 * each level, an S-EPT page for each, the frame). */
static void test_countdown_rules(void **state)
{
	static const struct workload w = { "rules", TDXMMU_MMU_TDP };
	struct tdxmmu_inject_counts k;
	struct ctx c;

	(void)state;
	ctx_create(&c, &w);
	/* Bad arguments: clear errors. */
	assert_int_equal(tdxmmu_inject_enomem_nth(NULL, TDXMMU_SITE_PT, 1, false), TDXMMU_EINVAL);
	assert_int_equal(tdxmmu_inject_enomem_nth(c.td, (enum tdxmmu_alloc_site)99, 1, false),
			 TDXMMU_EINVAL);
	assert_int_equal(tdxmmu_inject_busy_nth(NULL, -1, 1, false), TDXMMU_EINVAL);
	assert_int_equal(tdxmmu_inject_busy_nth(c.td, 4000, 1, false), TDXMMU_EINVAL);
	assert_int_equal(tdxmmu_inject_busy_nth(c.td, -2, 1, false), TDXMMU_EINVAL);
	assert_int_equal(tdxmmu_inject_counts(c.td, NULL), TDXMMU_EINVAL);
	assert_int_equal(tdxmmu_inject_counts(NULL, &k), TDXMMU_EINVAL);
	assert_null(tdxmmu_alloc_site_name((enum tdxmmu_alloc_site)99));
	assert_false(tdxmmu_alloc_site_parse("heap", NULL));
	for (int i = TDXMMU_SITE_ALL; i <= TDXMMU_SITE_NOMIRROR; i++) {
		enum tdxmmu_alloc_site back;

		assert_true(tdxmmu_alloc_site_parse(tdxmmu_alloc_site_name((enum tdxmmu_alloc_site)i),
						    &back));
		assert_int_equal(back, i);
	}

	/* n = 0 switches a countdown off; inject off stops one. */
	assert_int_equal(tdxmmu_inject_enomem_nth(c.td, TDXMMU_SITE_PT, 1, true), TDXMMU_OK);
	assert_int_equal(tdxmmu_inject_enomem_nth(c.td, TDXMMU_SITE_PT, 0, true), TDXMMU_OK);
	assert_int_equal(tdxmmu_inject_enomem_nth(c.td, TDXMMU_SITE_FRAME, 1, true), TDXMMU_OK);
	assert_int_equal(tdxmmu_inject_busy_nth(c.td, -1, 1, true), TDXMMU_OK);
	assert_int_equal(tdxmmu_inject_off(c.td), TDXMMU_OK);
	assert_int_equal(g_write(&c, P1, 1), 0);
	assert_int_equal(tdxmmu_inject_counts(c.td, &k), TDXMMU_OK);
	assert_int_equal(k.enomem, 0);
	assert_int_equal(k.busy, 0);

	/* Every site's countdown: the 4th allocation at any site of the next
	 * fault (a fresh 1G region: PT, SEPT, ...) fails, once; the VMM's
	 * retry completes the access. */
	assert_int_equal(tdxmmu_inject_enomem_nth(c.td, TDXMMU_SITE_ALL, 4, false), TDXMMU_OK);
	assert_int_equal(g_write(&c, F1, 2), 0);
	assert_int_equal(tdxmmu_inject_counts(c.td, &k), TDXMMU_OK);
	assert_int_equal(k.enomem, 1);
	/* Persistent: the access is hopeless (`error`) while it lasts. */
	assert_int_equal(tdxmmu_inject_enomem_nth(c.td, TDXMMU_SITE_FRAME, 1, true), TDXMMU_OK);
	assert_int_equal(g_write(&c, P2, 3), (int)TDXMMU_OUTCOME_ERROR);
	assert_int_equal(g_write(&c, P2, 3), (int)TDXMMU_OUTCOME_ERROR);
	assert_int_equal(tdxmmu_inject_counts(c.td, &k), TDXMMU_OK);
	assert_true(k.enomem >= 3);
	assert_int_equal(tdxmmu_inject_enomem_nth(c.td, TDXMMU_SITE_FRAME, 0, false), TDXMMU_OK);
	assert_int_equal(g_write(&c, P2, 3), 0);
	/* Every leaf's BUSY countdown: the 2nd SEAMCALL of the next fault
	 * (VP.ENTER, then SEPT.ADD or AUG) is picked, once. */
	assert_int_equal(tdxmmu_inject_busy_nth(c.td, -1, 2, false), TDXMMU_OK);
	assert_int_equal(g_write(&c, 0x800000, 4), 0);
	assert_int_equal(tdxmmu_inject_counts(c.td, &k), TDXMMU_OK);
	assert_int_equal(k.busy, 1);
	check_clean(c.td, "rules");
	api_fx_destroy_clean(c.td);
	ctx_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_countdown_rules),
		cmocka_unit_test(test_every_site_every_workload),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
