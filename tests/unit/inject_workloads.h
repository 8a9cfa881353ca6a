/* SPDX-License-Identifier: MIT */
/*
 * The workloads of the injection tests, shared by the two tests that drive
 * them: test_inject_sites (ENOMEM at every allocation site, BUSY at every
 * SEAMCALL) and test_inject_status (an error status for every SEAMCALL).
 * Both run the same small TD (seed 14, two vCPUs, KVM's trace kept in
 * memory), set it up with the same guest and host steps, and put the same
 * operations under injection; each test keeps its own workload table, its
 * own memslots and its own judgement of a run.
 *
 * Here: the TD's context and its trace (struct ctx, ctx_config() and
 * ctx_start() around each test's memslots, trace_mark(), trace_count(),
 * ctx_free()), the guest steps folded to one status (g_write(), g_read(),
 * g_mapgpa()), the probe addresses, the setups and operations both tests
 * run, destroy, and check_clean() (skipped for the no-mirror workloads).
 * Header-only: each test program includes it after <cmocka.h> and
 * "api_fixture.h".
 */
#ifndef TDXMMU_TESTS_INJECT_WORKLOADS_H
#define TDXMMU_TESTS_INJECT_WORKLOADS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tdxmmu/tdxmmu.h>

#define MiB (1ULL << 20)
#define GiB (1ULL << 30)

#define SLOT1_BASE (3 * GiB)

struct ctx {
	tdxmmu_td *td;
	uint64_t sh; /* the shared bit */
	FILE *trace_f;
	char *trace;
	size_t trace_len;
};

/* ---- the TD and its trace ---- */

/* Opens the trace and fills cfg with what both tests' TDs share; the test
 * sets what is its own, then calls ctx_start(). */
static inline void ctx_config(struct ctx *c, struct tdxmmu_td_config *cfg,
			      enum tdxmmu_mmu_kind mmu, bool no_mirror, bool accept_explicit)
{
	memset(c, 0, sizeof(*c));
	c->trace_f = open_memstream(&c->trace, &c->trace_len);
	assert_non_null(c->trace_f);
	tdxmmu_td_config_init(cfg);
	cfg->mmu = mmu;
	cfg->no_mirror = no_mirror;
	cfg->seed = 14;
	cfg->nr_vcpus = 2;
	cfg->accept = accept_explicit ? TDXMMU_ACCEPT_EXPLICIT : TDXMMU_ACCEPT_AUTO;
	cfg->trace = c->trace_f;
}

/* Creates the TD; the memslots and the finalize are the test's. */
static inline void ctx_start(struct ctx *c, const struct tdxmmu_td_config *cfg)
{
	assert_int_equal(tdxmmu_td_create(cfg, &c->td), TDXMMU_OK);
	c->sh = tdxmmu_td_shared_bit(c->td);
}

static inline void ctx_free(struct ctx *c)
{
	fclose(c->trace_f);
	free(c->trace);
}

static inline size_t trace_mark(struct ctx *c)
{
	fflush(c->trace_f);
	return c->trace_len;
}

static inline unsigned trace_count(struct ctx *c, size_t from, const char *what)
{
	unsigned n = 0;

	fflush(c->trace_f);
	for (const char *p = c->trace + from; (p = strstr(p, what)); p++)
		n++;
	return n;
}

/* ---- guest and host steps: one status (API return and outcome folded) ---- */

#define ST(rc, o) ((rc) < 0 ? (rc) : (int)(o))

static inline int g_write(struct ctx *c, uint64_t gpa, uint64_t val)
{
	enum tdxmmu_outcome o = TDXMMU_OUTCOME_OK;
	int rc = tdxmmu_vcpu_write(c->td, 0, gpa, val, &o);

	return ST(rc, o);
}

static inline int g_read(struct ctx *c, uint64_t gpa, uint64_t *val)
{
	enum tdxmmu_outcome o = TDXMMU_OUTCOME_OK;
	int rc = tdxmmu_vcpu_read(c->td, 0, gpa, val, &o);

	return ST(rc, o);
}

static inline int g_mapgpa(struct ctx *c, uint64_t gpa, uint64_t size)
{
	enum tdxmmu_outcome o = TDXMMU_OUTCOME_OK;
	int rc = tdxmmu_vcpu_mapgpa(c->td, 0, gpa, size, &o);

	return ST(rc, o);
}

static inline void must(int status, const char *what)
{
	if (status != 0)
		fail_msg("setup step %s: status %d", what, status);
}

/* Private pages P1, P2 (two 2M regions), shared pages S1, S2. */
#define P1 0x1000ULL
#define P2 0x201000ULL
#define S1 0x400000ULL
#define S2 0x401000ULL
#define F1 (GiB + 0x5000)  /* a fresh 1G region: tables at every level */
#define M1 (SLOT1_BASE + 0x1000)
#define A1 0x600000ULL     /* added at build time (TDH.MEM.PAGE.ADD) */

/* ---- setups ---- */

static inline void setup_none(struct ctx *c)
{
	(void)c;
}

static inline void setup_base(struct ctx *c)
{
	must(g_write(c, P1, 0x1111), "write P1");
	must(g_write(c, P2, 0x2222), "write P2");
	must(g_mapgpa(c, c->sh | S1, 8192), "mapgpa S1");
	must(g_write(c, c->sh | S1, 0x3333), "write S1");
	must(g_write(c, c->sh | S2, 0x4444), "write S2");
}

static inline void setup_shared(struct ctx *c)
{
	setup_base(c);
	must(g_mapgpa(c, c->sh | F1, 4096), "mapgpa F1");
}

/* The private pages zapped first: the op's fault maps them again (the
 * legacy MMU's PRIVATE_ZAPPED entries are unzapped in place). */
static inline void setup_zapped(struct ctx *c)
{
	setup_base(c);
	must(tdxmmu_host_zap(c->td, 0, 4 * MiB, TDXMMU_ALIAS_PRIVATE), "zap");
}

/* vCPU 1 held in the TD: the op's TRACKs must kick it out, and it enters
 * again (TDH.VP.ENTER) at once. The test lets go of it. */
static inline void setup_held(struct ctx *c)
{
	setup_base(c);
	must(tdxmmu_vcpu_enter(c->td, 1), "enter");
}

/* ---- operations under injection: a status the reference run's must match ---- */

static inline int op_private_fault(struct ctx *c)
{
	return g_write(c, F1, 0x7777);
}

static inline int op_shared_fault(struct ctx *c)
{
	return g_write(c, c->sh | F1, 0x8888);
}

static inline int op_refault(struct ctx *c)
{
	int st = g_write(c, P1, 0x9999);

	return st ? st : g_write(c, P2, 0xaaaa);
}

static inline int op_to_shared(struct ctx *c)
{
	return g_mapgpa(c, c->sh, 4 * MiB);
}

static inline int op_to_private(struct ctx *c)
{
	return g_mapgpa(c, S1, 8192);
}

static inline int op_invalidate(struct ctx *c)
{
	return tdxmmu_host_invalidate(c->td, 0, 8 * MiB);
}

static inline int op_zap_private(struct ctx *c)
{
	return tdxmmu_host_zap(c->td, 0, 8 * MiB, TDXMMU_ALIAS_PRIVATE);
}

/* Both aliases; after setup_held, with a vCPU in the TD. */
static inline int op_zap_both(struct ctx *c)
{
	return tdxmmu_host_zap(c->td, 0, 8 * MiB, TDXMMU_ALIAS_BOTH);
}

static inline int op_delete_slot(struct ctx *c)
{
	return tdxmmu_memslot_delete(c->td, 1);
}

/* KVM_TDX_INIT_MEM_REGION: a private fault of its own (tables, S-EPT
 * pages), then PAGE.ADD and MR.EXTEND. */
static inline int op_add_page(struct ctx *c)
{
	return tdxmmu_td_add_page(c->td, A1, 0xab);
}

/* The destroy's report, for the test to judge. */
static struct tdxmmu_destroy_report destroy_rep;

static inline int op_destroy(struct ctx *c)
{
	int rc = tdxmmu_td_destroy(c->td, &destroy_rep);

	c->td = NULL;
	return rc;
}

/* ---- the checker ---- */

/* The workload being run keeps no mirror EPT: check's comparison of the
 * mirror with the S-EPT does not apply (docs/performance.md's no-mirror
 * mode is for benchmarks); such runs are judged by what the guest and the
 * host read and by destroy. */
static bool no_mirror_run;

static inline void check_clean(tdxmmu_td *td, const char *what)
{
	char report[4096] = "";
	int n;

	if (no_mirror_run)
		return;
	n = tdxmmu_check(td, report, sizeof(report));

	if (n != 0)
		fail_msg("%s: check: %d violations:\n%s", what, n, report);
}

#endif
