/* SPDX-License-Identifier: MIT */
/*
 * The whole-model invariant checker (tdxmmu_check(), src/api/check.c): a TD
 * built, finalized and used by its guest through the public API holds every
 * invariant; divergence created behind KVM's back (raw SEAMCALLs) or written
 * straight into KVM's trees (internal headers) is reported, each time with
 * exactly the violations it causes, one line each, naming the place. The
 * report is NULL-safe and truncation-safe. A few tests also show KVM's own
 * KVM_BUG_ON guards meeting such corruption (the VM killed, not mapped).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "api_fixture.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <tdxmmu/tdxmmu.h>

#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

#include "api/api_internal.h"
#include "cpu/cpu_internal.h"
#include "cpu/tlb.h"
#include "kvm/kvm.h"
#include "kvm/mmu_page.h"
#include "kvm/spte.h"
#include "kvm/legacy_internal.h"
#include "kvm/tdp_iter.h"
#include "tdx/tdx_internal.h"

#define MiB (1ULL << 20)
#define GiB (1ULL << 30)
#define SHARED_BIT (1ULL << 47) /* GPAW 48 */
#define REPORT_SIZE 8192

static tdxmmu_td *make_td(unsigned nr_vcpus)
{
	struct tdxmmu_td_config cfg;
	tdxmmu_td *td = NULL;

	tdxmmu_td_config_init(&cfg);
	cfg.gpaw = 48;
	cfg.nr_vcpus = nr_vcpus;
	cfg.host_memory = 64 * MiB;
	assert_int_equal(tdxmmu_td_create(&cfg, &td), TDXMMU_OK);
	assert_int_equal(tdxmmu_td_shared_bit(td), SHARED_BIT);
	assert_int_equal(tdxmmu_memslot_add(td, 0, 0, 4 * MiB), TDXMMU_OK);
	return td;
}

/* Build-time pages at 0, 4K and 2M: three 4K tables' worth of structure. */
static tdxmmu_td *make_built_td(unsigned nr_vcpus, bool finalize)
{
	tdxmmu_td *td = make_td(nr_vcpus);

	assert_int_equal(tdxmmu_td_add_page(td, 0x0, 0x11), TDXMMU_OK);
	assert_int_equal(tdxmmu_td_add_page(td, 0x1000, 0x22), TDXMMU_OK);
	assert_int_equal(tdxmmu_td_add_page(td, 0x200000, 0x33), TDXMMU_OK);
	if (finalize)
		assert_int_equal(tdxmmu_td_finalize(td), TDXMMU_OK);
	return td;
}

static unsigned count_lines(const char *s)
{
	unsigned n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/*
 * Runs the checker and wants exactly `n` violations, one report line each,
 * and every NULL-terminated substring somewhere in the report.
 * TEST_CHECK_VERBOSE=1 in the environment prints every report.
 */
static void want_check(tdxmmu_td *td, int n, ...)
{
	static char report[REPORT_SIZE];
	const char *want;
	va_list ap;
	int got;

	memset(report, 'x', sizeof(report));
	got = tdxmmu_check(td, report, sizeof(report));
	if (getenv("TEST_CHECK_VERBOSE"))
		fprintf(stderr, "--- %d:\n%s", got, report);
	if (got != n)
		fail_msg("check: %d violations, want %d; report:\n%s", got, n, report);
	if (count_lines(report) != (unsigned)n)
		fail_msg("check: %u report lines for %d violations:\n%s",
			 count_lines(report), n, report);
	va_start(ap, n);
	while ((want = va_arg(ap, const char *)))
		if (!strstr(report, want))
			fail_msg("check: no \"%s\" in the report:\n%s", want, report);
	va_end(ap);
}

/* printf into one of a few rotating buffers: report lines to look for. */
static const char *__attribute__((format(printf, 1, 2))) fmt(const char *f, ...)
{
	static char bufs[4][256];
	static unsigned next;
	char *b = bufs[next++ % 4];
	va_list ap;

	va_start(ap, f);
	vsnprintf(b, sizeof(bufs[0]), f, ap);
	va_end(ap);
	return b;
}

static void raw_ok(tdxmmu_td *td, const char *leaf, uint64_t gpa, unsigned level,
		   uint64_t page)
{
	uint64_t st = api_fx_raw(td, leaf, gpa, level, page);

	if (!tdxmmu_status_ok(st))
		fail_msg("%s %#llx: %s", leaf, (unsigned long long)gpa,
			 tdxmmu_status_name(st));
}

static uint64_t new_frame(tdxmmu_td *td)
{
	uint64_t hpa;

	assert_int_equal(tdxmmu_host_frame_new(td, &hpa), TDXMMU_OK);
	return hpa;
}

static pfn_t pfn(const struct host_memslot *slot, gfn_t gfn)
{
	return host_memslot_gfn_to_pfn(slot, gfn);
}

/* KVM's 4K entry for a gpa in one tree (the tables must exist). */
static _Atomic uint64_t *sptep_4k(tdxmmu_td *td, uint64_t gpa, bool private_tree)
{
	struct kvm *kvm = td->kvm;
	struct kvm_mmu_page *root = private_tree ? kvm->private_root : kvm->shared_root;
	gfn_t gfn = (gpa & ~SHARED_BIT) >> PAGE_SHIFT;
	_Atomic uint64_t *pt = root->spt;

	if (!private_tree)
		gfn |= kvm->gfn_shared_mask;
	for (int level = (int)root->role.level;; level--) {
		_Atomic uint64_t *sptep = pt + SPTE_INDEX(gfn, level);

		if (level == PG_LEVEL_4K)
			return sptep;
		pt = spte_to_child_pt(atomic_load(sptep), level);
		assert_non_null(pt);
	}
}

static void guest_write(tdxmmu_td *td, unsigned vcpu, uint64_t gpa, uint64_t val)
{
	enum tdxmmu_outcome o;

	assert_int_equal(tdxmmu_vcpu_write(td, vcpu, gpa, val, &o), TDXMMU_OK);
	assert_int_equal(o, TDXMMU_OUTCOME_OK);
}

static void guest_read(tdxmmu_td *td, unsigned vcpu, uint64_t gpa, uint64_t want)
{
	enum tdxmmu_outcome o;
	uint64_t v = ~want;

	assert_int_equal(tdxmmu_vcpu_read(td, vcpu, gpa, &v, &o), TDXMMU_OK);
	assert_int_equal(o, TDXMMU_OUTCOME_OK);
	assert_int_equal(v, want);
}

static void guest_mapgpa(tdxmmu_td *td, unsigned vcpu, uint64_t gpa, uint64_t size)
{
	enum tdxmmu_outcome o;

	assert_int_equal(tdxmmu_vcpu_mapgpa(td, vcpu, gpa, size, &o), TDXMMU_OK);
	assert_int_equal(o, TDXMMU_OUTCOME_OK);
}

/* ---- a clean TD ---- */

static void test_clean_build_and_finalize(void **state)
{
	tdxmmu_td *td = make_td(2);
	char report[64] = "junk";

	(void)state;
	assert_int_equal(tdxmmu_check(td, report, sizeof(report)), 0);
	assert_string_equal(report, "");
	assert_int_equal(tdxmmu_td_add_page(td, 0x0, 0x11), TDXMMU_OK);
	assert_int_equal(tdxmmu_td_add_page(td, 0x1000, 0x22), TDXMMU_OK);
	assert_int_equal(tdxmmu_td_add_page(td, 0x3ff000, 0x33), TDXMMU_OK);
	want_check(td, 0, NULL);
	assert_int_equal(tdxmmu_td_finalize(td), TDXMMU_OK);
	want_check(td, 0, NULL);
	assert_string_equal(report, "");
	api_fx_destroy_clean(td);
}

/* Guest accesses on both aliases, conversions both ways and KVM's zaps: the
 * TLBs are full of translations KVM has since flushed or zapped. */
static void test_clean_after_guest_accesses(void **state)
{
	tdxmmu_td *td = make_built_td(2, true);

	(void)state;
	guest_write(td, 0, 0x3000, 0x3333);
	guest_write(td, 1, 0x201000, 0x4444);
	guest_read(td, 1, 0x3000, 0x3333);
	guest_read(td, 0, 0x1000, 0x2222222222222222ULL);
	want_check(td, 0, NULL);

	/* (P, NP) -> (NP|S, NP|S) -> (NP|S, P|S) */
	guest_mapgpa(td, 0, SHARED_BIT | 0x3000, 0x2000);
	want_check(td, 0, NULL);
	guest_write(td, 0, SHARED_BIT | 0x3000, 0x5555);
	guest_write(td, 1, SHARED_BIT | 0x4000, 0x6666);
	guest_read(td, 1, SHARED_BIT | 0x3000, 0x5555);
	want_check(td, 0, NULL);

	/* The host's zaps: translations are flushed or doomed to be. */
	assert_int_equal(tdxmmu_host_zap(td, 0x4000, 0x1000, TDXMMU_ALIAS_SHARED), TDXMMU_OK);
	want_check(td, 0, NULL);
	assert_int_equal(tdxmmu_host_zap(td, 0x201000, 0x1000, TDXMMU_ALIAS_PRIVATE), TDXMMU_OK);
	want_check(td, 0, NULL);
	assert_int_equal(tdxmmu_host_invalidate(td, 0x3000, 0x1000), TDXMMU_OK);
	want_check(td, 0, NULL);

	/* Back to private: (NP|S, P|S) -> (NP, NP) -> (P, NP) */
	guest_mapgpa(td, 1, 0x3000, 0x2000);
	want_check(td, 0, NULL);
	guest_write(td, 1, 0x3000, 0x7777);
	guest_write(td, 0, 0x201000, 0x8888);
	guest_read(td, 0, 0x3000, 0x7777);
	want_check(td, 0, NULL);
	api_fx_destroy_clean(td);
}

/* ---- divergence behind KVM's back ---- */

/* The module's S-EPT gets a page table and a page KVM never asked for. */
static void test_raw_sept_add_and_aug(void **state)
{
	tdxmmu_td *td = make_built_td(1, true);

	(void)state;
	raw_ok(td, "TDH.MEM.SEPT.ADD", 0x600000, 1, new_frame(td));
	want_check(td, 1, "gpa 0x600000 level 2M: S-EPT entry is NL_MAPPED",
		     "KVM's private EPT has no entry there", "mirror EPT differs", NULL);
	raw_ok(td, "TDH.MEM.PAGE.AUG", 0x601000, 0, new_frame(td));
	want_check(td, 2, "gpa 0x600000 level 2M: S-EPT entry is NL_MAPPED",
		     "gpa 0x601000 level 4K: S-EPT entry is PENDING", NULL);
	api_fx_destroy_clean(td);
}

/* A page KVM still maps is blocked, then removed, by the host directly. */
static void test_raw_remove_of_mapped_page(void **state)
{
	tdxmmu_td *td = make_built_td(1, true);
	_Atomic uint64_t *sptep;

	(void)state;
	raw_ok(td, "TDH.MEM.RANGE.BLOCK", 0x1000, 0, 0);
	want_check(td, 1, "gpa 0x1000 level 4K: S-EPT entry is BLOCKED",
		     "KVM's private EPT has present (wants MAPPED or PENDING)", NULL);
	raw_ok(td, "TDH.MEM.TRACK", 0, 0, 0);
	raw_ok(td, "TDH.MEM.PAGE.REMOVE", 0x1000, 0, 0);
	/* The mirror differs, and KVM maps a frame the TD no longer owns. */
	want_check(td, 2, "gpa 0x1000 level 4K: KVM's private EPT has present",
		     "the S-EPT entry is FREE",
		     "gfn 0x1 level 4K: private leaf's pfn",
		     "is not the TD's PT_REG in the PAMT (PT_NDA", NULL);

	/* Make KVM forget the page too: consistent again. */
	sptep = sptep_4k(td, 0x1000, true);
	atomic_store(sptep, SHADOW_NONPRESENT_VALUE);
	want_check(td, 0, NULL);
	api_fx_destroy_clean(td);
}

/* ---- KVM's trees corrupted directly ---- */

static void test_corrupt_shared_bit_on_private_leaf(void **state)
{
	tdxmmu_td *td = make_built_td(1, true);
	_Atomic uint64_t *sptep = sptep_4k(td, 0x1000, true);
	uint64_t old = atomic_load(sptep);

	(void)state;
	assert_true(is_shadow_present_pte(old));
	atomic_store(sptep, old | SPTE_SHARED_MASK);
	want_check(td, 1, "gfn 0x1: (present|shared, nonpresent) is not a state of the TDP-MMU table",
		     NULL);
	atomic_store(sptep, old);
	want_check(td, 0, NULL);
	api_fx_destroy_clean(td);
}

/*
 * Non-present entries (issue 11, item 2.2): SPTE_SHARED_MASK must agree for
 * every GFN either tree covers, a missing 4K table reading as nonpresent.
 * Planted: a private NP|S where the shared tree has no 4K table at all
 * (check compared only where both trees had one, and passed this).
 */
static void test_corrupt_nonpresent_shared_no_shared_table(void **state)
{
	tdxmmu_td *td = make_built_td(1, true);
	_Atomic uint64_t *sptep = sptep_4k(td, 0x5000, true);
	uint64_t old = atomic_load(sptep);
	enum tdxmmu_spte_state p, sh;

	(void)state;
	assert_false(is_shadow_present_pte(old));
	assert_false(is_shared_spte(old));
	atomic_store(sptep, SHADOW_NONPRESENT_VALUE | SPTE_SHARED_MASK);
	assert_int_equal(tdxmmu_spte_state(td, 0x5000, &p, &sh), TDXMMU_OK);
	assert_int_equal(p, TDXMMU_SPTE_NONPRESENT_SHARED);
	assert_int_equal(sh, TDXMMU_SPTE_NONPRESENT);
	want_check(td, 1, "gfn 0x5: (nonpresent|shared, nonpresent) is not a state of the TDP-MMU table",
		   NULL);
	atomic_store(sptep, old);
	want_check(td, 0, NULL);
	api_fx_destroy_clean(td);
}

/*
 * The mirror case: a shared NP|S where the private tree has no 4K table
 * for the GFN. A blocked shared read in a 2M region with no private page
 * links shared tables only.
 */
static void test_corrupt_nonpresent_shared_no_private_table(void **state)
{
	tdxmmu_td *td = make_td(1);
	enum tdxmmu_outcome o;
	_Atomic uint64_t *sptep;
	uint64_t v, old;

	(void)state;
	assert_int_equal(tdxmmu_td_add_page(td, 0x0, 0x11), TDXMMU_OK);
	assert_int_equal(tdxmmu_td_finalize(td), TDXMMU_OK);
	assert_int_equal(tdxmmu_vcpu_read(td, 0, SHARED_BIT | 0x200000, &v, &o), TDXMMU_OK);
	assert_int_equal(o, TDXMMU_OUTCOME_BLOCKED);
	want_check(td, 0, NULL);
	sptep = sptep_4k(td, 0x203000, false);
	old = atomic_load(sptep);
	assert_false(is_shadow_present_pte(old));
	atomic_store(sptep, SHADOW_NONPRESENT_VALUE | SPTE_SHARED_MASK);
	want_check(td, 1, "gfn 0x203: (nonpresent, nonpresent|shared) is not a state of the TDP-MMU table",
		   NULL);
	atomic_store(sptep, old);
	want_check(td, 0, NULL);
	api_fx_destroy_clean(td);
}

/* Where both tables exist, the S bits of non-present entries must agree
 * too; after a conversion to shared and back both agree again. */
static void test_nonpresent_entries_agree(void **state)
{
	tdxmmu_td *td = make_built_td(1, true);
	_Atomic uint64_t *priv, *shr;
	uint64_t old;

	(void)state;
	guest_mapgpa(td, 0, SHARED_BIT | 0x100000, 0x2000);
	guest_write(td, 0, SHARED_BIT | 0x100000, 0x77);
	want_check(td, 0, NULL);
	/* 0x101000 is NP|S in both trees: drop S from the shared one. */
	priv = sptep_4k(td, 0x101000, true);
	shr = sptep_4k(td, 0x101000, false);
	assert_true(is_shared_spte(atomic_load(priv)));
	old = atomic_load(shr);
	assert_true(is_shared_spte(old));
	atomic_store(shr, old & ~SPTE_SHARED_MASK);
	want_check(td, 1, "gfn 0x101: (nonpresent|shared, nonpresent) is not a state of the TDP-MMU table",
		   NULL);
	atomic_store(shr, old);
	want_check(td, 0, NULL);
	guest_mapgpa(td, 0, 0x100000, 0x2000);
	want_check(td, 0, NULL);
	api_fx_destroy_clean(td);
}

static void test_corrupt_frozen_entry(void **state)
{
	tdxmmu_td *td = make_built_td(1, true);
	_Atomic uint64_t *sptep = sptep_4k(td, 0x5000, true);
	uint64_t old = atomic_load(sptep);

	enum tdxmmu_spte_state p, sh;

	(void)state;
	atomic_store(sptep, REMOVED_SPTE);
	want_check(td, 1, "gfn 0x5 level 4K: private EPT entry frozen", NULL);
	/* The API's SPTE state names it too. */
	assert_int_equal(tdxmmu_spte_state(td, 0x5000, &p, &sh), TDXMMU_OK);
	assert_int_equal(p, TDXMMU_SPTE_FROZEN);
	assert_int_equal(sh, TDXMMU_SPTE_NONPRESENT);
	atomic_store(sptep, old);
	want_check(td, 0, NULL);
	api_fx_destroy_clean(td);
}

/* The mirror leaf of a page the S-EPT maps, changed to each state it must
 * not have there: the mirror rule names the S-EPT state, KVM's entry as
 * expect-spte names it and what it should be; a frozen entry is the
 * structure rule's (I6) alone (a SEAMCALL would be in flight), not also a
 * mirror difference. Put back, the TD is clean. */
static void test_corrupt_mapped_leaf_states(void **state)
{
	tdxmmu_td *td = make_built_td(1, true);
	_Atomic uint64_t *sptep = sptep_4k(td, 0x1000, true);
	uint64_t old = atomic_load(sptep);

	(void)state;
	want_check(td, 0, NULL);
	atomic_store(sptep, REMOVED_SPTE);
	want_check(td, 1, "gfn 0x1 level 4K: private EPT entry frozen", NULL);
	atomic_store(sptep, make_private_zapped_spte(old));
	want_check(td, 1, "gpa 0x1000 level 4K: S-EPT entry is MAPPED", "zapped",
		   "(wants BLOCKED or PENDING_BLOCKED)", NULL);
	atomic_store(sptep, old);
	want_check(td, 0, NULL);
	api_fx_destroy_clean(td);
}

/* A private table whose S-EPT twin is forgotten (§3.2: only the root has
 * none): the structure rule and the mirror rule each name it once. */
static void test_corrupt_private_spt(void **state)
{
	tdxmmu_td *td = make_built_td(1, true);
	struct kvm_mmu_page *sp = sptep_to_sp(sptep_4k(td, 0x200000, true));
	hpa_t twin = sp->private_spt;

	(void)state;
	assert_int_not_equal(twin, 0);
	sp->private_spt = 0;
	want_check(td, 1, "gfn 0x200 level 2M: private table below the root has no S-EPT page",
		     NULL);
	sp->private_spt = new_frame(td);
	want_check(td, 2, "gpa 0x200000 level 2M: KVM's private EPT links the S-EPT page",
		     "is not the TD's PT_EPT", NULL);
	sp->private_spt = twin;
	want_check(td, 0, NULL);
	api_fx_destroy_clean(td);
}

/* Memslot 0's copy (memslots are looked up by copy, host_mem.h). */
static const struct host_memslot *memslot_at_0(tdxmmu_td *td, struct host_memslot *buf)
{
	if (!host_memslot_find(td->slots, 0, buf))
		fail_msg("no memslot at gfn 0");
	return buf;
}

/* A private leaf pointing to another private page's frame. */
static void test_corrupt_private_frame_twice(void **state)
{
	tdxmmu_td *td = make_built_td(1, true);
	struct host_memslot slot_copy;
	const struct host_memslot *slot = memslot_at_0(td, &slot_copy);
	_Atomic uint64_t *sptep = sptep_4k(td, 0x1000, true);
	uint64_t old = atomic_load(sptep);

	(void)state;
	atomic_store(sptep, (old & ~SPTE_BASE_ADDR_MASK) | pfn_to_hpa(pfn(slot, 0)));
	/* The frame is the TD's (gfn 0's), so the PAMT has nothing to say;
	 * the mirror, the memslot and the double use do. */
	want_check(td, 3,
		   fmt("gpa 0x1000 level 4K: KVM's private EPT maps hpa %#llx but the S-EPT MAPPED entry has hpa %#llx",
		       (unsigned long long)pfn_to_hpa(pfn(slot, 0)),
		       (unsigned long long)pfn_to_hpa(pfn(slot, 1))),
		   fmt("gfn 0x1 level 4K: private leaf maps pfn %#llx but memslot 0 backs the gfn with pfn %#llx",
		       (unsigned long long)pfn(slot, 0), (unsigned long long)pfn(slot, 1)),
		   fmt("pfn %#llx is used twice in the private tree: by the private leaf at gfn 0 level 4K and by the private leaf at gfn 0x1 level 4K",
		       (unsigned long long)pfn(slot, 0)),
		   NULL);
	atomic_store(sptep, old);
	want_check(td, 0, NULL);
	api_fx_destroy_clean(td);
}

/* The module's own bookkeeping: CHLDCNT off by one. */
static void test_corrupt_chldcnt(void **state)
{
	tdxmmu_td *td = make_built_td(2, true);
	struct tdx_td *t = tdx_td_of_tdr_pfn(td->tdx, hpa_to_pfn(td->kvm->tdr));

	(void)state;
	assert_non_null(t);
	/* 3 pages + 4 S-EPT pages (1G, 2M tables; two 4K tables) + 6 TDCX +
	 * 2 TDVPR. */
	assert_int_equal(tdx_debug_chldcnt(td->tdx, td->kvm->tdr), 3 + 4 + 6 + 2);
	tdx_chldcnt_add(t, 1);
	want_check(td, 1, "CHLDCNT is 16 but the S-EPT and control pages account for 15 (S-EPT leaves and pages 7 + control pages 8)",
		   NULL);
	tdx_chldcnt_add(t, -1);
	want_check(td, 0, NULL);
	api_fx_destroy_clean(td);
}

/* I8: module locks left held at a quiesce point, in the word and in the
 * per-thread-slot counts, are reported; released, the check is clean. */
static void test_module_lock_left_held(void **state)
{
	tdxmmu_td *td = make_built_td(2, true);
	struct tdx_td *t = tdx_td_of_tdr_pfn(td->tdx, hpa_to_pfn(td->kvm->tdr));
	_Atomic uint64_t *tdr_word = pamt_entry(&td->tdx->pamt, hpa_to_pfn(td->kvm->tdr), 0);
	unsigned reader;
	struct sharex_counted tree, epoch;

	(void)state;
	assert_non_null(t);
	tree = tdx_td_lock(td->tdx, t, TD_HOLD_SEPT_SHIFT);
	epoch = tdx_td_lock(td->tdx, t, TD_HOLD_EPOCH_SHIFT);
	want_check(td, 0, NULL);
	/* A vCPU in guest mode holds its TDVPR, the TDR shared and an epoch
	 * reference: the check's quiesce point kicks it out (issue 11, 2.14)
	 * and it enters again after, holding them again. */
	assert_int_equal(tdxmmu_vcpu_enter(td, 1), TDXMMU_OK);
	assert_int_equal(tdx_tdr_shared_holders(td->tdx, t->index), 1);
	want_check(td, 0, NULL);
	assert_int_equal(tdx_tdr_shared_holders(td->tdx, t->index), 1);
	assert_int_equal(tdxmmu_vcpu_leave(td, 1), TDXMMU_OK);
	assert_int_equal(tdx_tdr_shared_holders(td->tdx, t->index), 0);
	/* A shared hold of the S-EPT tree lock and one of the TDR, counted
	 * in this thread's hold word of the TD. */
	assert_int_equal(sharex_counted_try_shared(&tree), LOCK_OK);
	assert_int_equal(tdx_tdr_try_shared(td->tdx, tdr_word, 0, &reader), LOCK_OK);
	assert_int_equal(reader, t->index);
	want_check(td, 2, "S-EPT tree lock is 0x1 at a quiesce point (want 0",
		   "TDR lock, counted shared holds is 0x1 at a quiesce point (want 0",
		   NULL);
	tdx_tdr_release_shared(td->tdx, reader);
	sharex_counted_release_shared(&tree);
	/* The epoch lock held exclusive, as by a TRACK in flight. */
	assert_int_equal(sharex_counted_try_excl(&epoch), LOCK_OK);
	want_check(td, 1, "epoch lock is 0x8000 at a quiesce point", NULL);
	sharex_counted_release_excl(&epoch);
	want_check(td, 0, NULL);
	api_fx_destroy_clean(td);
}

/*
 * I8 over the whole TDMR: a 1G PAMT entry's lock left held is reported
 * however far from the TD's own memory it is, in the word (exclusive) or
 * in the per-slot counts (shared), though check walks only the 1G ranges
 * the PAMT has handed out (issue 12: a small run must not pay for the
 * default pool's 2^17 1G entries). Default pool: 128 TiB.
 */
static void test_module_far_1g_lock_left_held(void **state)
{
	struct tdxmmu_td_config cfg;
	tdxmmu_td *td = NULL;
	struct pamt *p;
	pfn_t last, mid;
	_Atomic uint64_t *e_last, *e_mid;
	uint64_t i_mid;
	unsigned slot;

	(void)state;
	tdxmmu_td_config_init(&cfg);
	assert_int_equal(cfg.host_memory, 0);
	assert_int_equal(tdxmmu_td_create(&cfg, &td), TDXMMU_OK);
	assert_int_equal(tdxmmu_memslot_add(td, 0, 0, 4 * MiB), TDXMMU_OK);
	assert_int_equal(tdxmmu_td_add_page(td, 0x0, 0x11), TDXMMU_OK);
	assert_int_equal(tdxmmu_td_finalize(td), TDXMMU_OK);
	want_check(td, 0, NULL);
	p = &td->tdx->pamt;
	/* Two frames far from everything the TD used (its memory comes
	 * from the top of the pool, the memslot's from the bottom): a
	 * quarter and half-way up. Their 1G ranges were never touched. */
	last = p->base + p->nr / 4;
	mid = p->base + p->nr / 2;
	assert_true(pfn_to_hpa(last) >= (30ULL << 40));
	assert_null(atomic_load(&p->dir[(last - p->base) >> 18]));
	assert_null(atomic_load(&p->dir[(mid - p->base) >> 18]));
	/* Exclusive, as a PROMOTE/DEMOTE of a 1G page in flight. */
	e_last = pamt_entry(p, last, 2);
	assert_int_equal(tdx_pamt_try_lock(td->tdx, e_last, true), LOCK_OK);
	/* Shared, counted on the highest slot a thread has been given (a
	 * slot never given holds nothing, and sums stop below it:
	 * thread_slot.h), as an AUG's PAMT walk holds it (the prologue
	 * counts on the index of the entry pamt_entry gave). */
	slot = host_thread_slots_used() - 1;
	e_mid = pamt_entry(p, mid, 2);
	i_mid = (uint64_t)pamt_1g_index(p, e_mid);
	atomic_fetch_add(pamt_1g_readers(p, i_mid, slot), 1);
	want_check(td, 2,
		   fmt("1G PAMT entry of hpa %#llx lock (EXCL | readers | counted | 4K without leaf) is 0x1 at",
		       (unsigned long long)pfn_to_hpa(p->base + (i_mid << 18))),
		   fmt("1G PAMT entry of hpa %#llx lock (EXCL | readers | counted | 4K without leaf) is 0x8000 at",
		       (unsigned long long)pfn_to_hpa(p->base + ((last - p->base) >> 18 << 18))),
		   NULL);
	atomic_fetch_sub(pamt_1g_readers(p, i_mid, slot), 1);
	lockword_release(e_last, true);
	want_check(td, 0, NULL);
	api_fx_destroy_clean(td);
}

/* A shared leaf pointing to a frame the TD owns (a private page's). */
static void test_corrupt_shared_leaf_to_td_frame(void **state)
{
	tdxmmu_td *td = make_built_td(1, true);
	struct host_memslot slot_copy;
	const struct host_memslot *slot = memslot_at_0(td, &slot_copy);
	_Atomic uint64_t *sptep;
	uint64_t old, bad;

	(void)state;
	guest_mapgpa(td, 0, SHARED_BIT | 0x100000, 0x1000);
	guest_write(td, 0, SHARED_BIT | 0x100000, 0xabcd);
	want_check(td, 0, NULL);

	sptep = sptep_4k(td, 0x100000, false);
	old = atomic_load(sptep);
	bad = (old & ~SPTE_BASE_ADDR_MASK) |
	      (pfn_to_hpa(host_memslot_gfn_to_pfn(slot, 1)) & SPTE_BASE_ADDR_MASK);
	atomic_store(sptep, bad);
	/* Ownership, the memslot, and the vCPU's now stale translation. */
	want_check(td, 3,
		     "gfn 0x100 level 4K: shared leaf maps pfn", "PAMT PT_REG",
		     "the private leaf at gfn 0x1 level 4K uses it",
		     "memslot 0 backs the gfn with pfn",
		     "vcpu 0: stale TLB entry: shared gpa 0x800000100000", NULL);
	atomic_store(sptep, old);
	want_check(td, 0, NULL);
	api_fx_destroy_clean(td);
}

/* KVM's 2M-level entry for a gpa in one tree (the tables above must exist). */
static _Atomic uint64_t *sptep_2m(tdxmmu_td *td, uint64_t gpa, bool private_tree)
{
	struct kvm *kvm = td->kvm;
	struct kvm_mmu_page *root = private_tree ? kvm->private_root : kvm->shared_root;
	gfn_t gfn = (gpa & ~SHARED_BIT) >> PAGE_SHIFT;
	_Atomic uint64_t *pt = root->spt;

	if (!private_tree)
		gfn |= kvm->gfn_shared_mask;
	for (int level = (int)root->role.level;; level--) {
		_Atomic uint64_t *sptep = pt + SPTE_INDEX(gfn, level);

		if (level == PG_LEVEL_2M)
			return sptep;
		pt = spte_to_child_pt(atomic_load(sptep), level);
		assert_non_null(pt);
	}
}

/*
 * Large pages (hugepages ref §7.4): a whole 2M chunk converted to shared
 * keeps its alias state in the two 2M-level entries; the checker pairs
 * them, and pairs each 4K entry of a tree that has a table with the other
 * tree's 2M-level entry. A 2M shared leaf whose private 2M entry lost its
 * S bit, or a 4K table whose entries disagree with the other side's 2M
 * entry, are reported.
 */
static void test_2m_alias_state(void **state)
{
	tdxmmu_td *td = make_td(1);
	_Atomic uint64_t *p2, *s2, *p4;
	uint64_t old;

	(void)state;
	assert_int_equal(tdxmmu_memslot_add_flags(td, 1, 8 * MiB, 8 * MiB,
						  TDXMMU_MEMSLOT_HUGEPAGES), TDXMMU_OK);
	assert_int_equal(tdxmmu_memslot_add_flags(td, 2, 16 * MiB, 2 * MiB, 7),
			 TDXMMU_EINVAL);
	assert_int_equal(tdxmmu_memslot_add_flags(td, 2, 17 * MiB, 2 * MiB,
						  TDXMMU_MEMSLOT_HUGEPAGES), TDXMMU_EINVAL);
	assert_int_equal(tdxmmu_td_finalize(td), TDXMMU_OK);
	guest_write(td, 0, 0x800000, 0x11);
	guest_mapgpa(td, 0, SHARED_BIT | 0xa00000, 2 * MiB);
	guest_write(td, 0, SHARED_BIT | 0xa00000, 0x22);
	want_check(td, 0, NULL);

	p2 = sptep_2m(td, 0xa00000, true);
	s2 = sptep_2m(td, 0xa00000, false);
	assert_true(is_shadow_present_pte(atomic_load(s2)) && is_large_pte(atomic_load(s2)));
	assert_int_equal(atomic_load(p2), SHADOW_NONPRESENT_VALUE | SPTE_SHARED_MASK);
	old = atomic_load(p2);
	atomic_store(p2, SHADOW_NONPRESENT_VALUE);
	want_check(td, 1, "gfn 0xa00: (nonpresent, present|shared) is not a state of the TDP-MMU table",
		   NULL);
	atomic_store(p2, old);
	want_check(td, 0, NULL);

	/* One page of the private 2M leaf converted: both sides 4K there;
	 * one 4K private entry losing its S bit is one violation. */
	guest_mapgpa(td, 0, SHARED_BIT | 0x801000, 4096);
	want_check(td, 0, NULL);
	p4 = sptep_4k(td, 0x801000, true);
	old = atomic_load(p4);
	atomic_store(p4, SHADOW_NONPRESENT_VALUE);
	want_check(td, 1, "gfn 0x801: (nonpresent, nonpresent|shared)", NULL);
	atomic_store(p4, old);

	/* A table on one side only, under a 2M-level S on the other. */
	guest_mapgpa(td, 0, 0xa00000, 2 * MiB);
	guest_mapgpa(td, 0, SHARED_BIT | 0xc00000, 2 * MiB);
	assert_int_equal(tdxmmu_vcpu_accept(td, 0, 0xe00000, 0, &old), TDXMMU_OK);
	want_check(td, 0, NULL);
	p2 = sptep_2m(td, 0xc00000, true);
	assert_int_equal(atomic_load(p2), SHADOW_NONPRESENT_VALUE | SPTE_SHARED_MASK);
	/* The private 4K table at 0xe00000 (the 4K ACCEPT made it) pairs
	 * with the shared 2M-level entry, which has no table: one private
	 * entry with S against it is one violation. */
	assert_false(is_shadow_present_pte(atomic_load(sptep_2m(td, 0xe00000, false))));
	p4 = sptep_4k(td, 0xe05000, true);
	old = atomic_load(p4);
	atomic_store(p4, SHADOW_NONPRESENT_VALUE | SPTE_SHARED_MASK);
	want_check(td, 1, "gfn 0xe05: (nonpresent|shared, nonpresent)", NULL);
	atomic_store(p4, old);
	want_check(td, 0, NULL);
	api_fx_destroy_clean(td);
}

/* A shared page present on both aliases. */
static void test_corrupt_both_aliases(void **state)
{
	tdxmmu_td *td = make_built_td(1, true);
	_Atomic uint64_t *sptep;
	uint64_t old;

	(void)state;
	guest_mapgpa(td, 0, SHARED_BIT | 0x100000, 0x1000);
	guest_write(td, 0, SHARED_BIT | 0x100000, 0xabcd);
	/* The private 4K entry of gfn 0x100 claims the page as present. */
	sptep = sptep_4k(td, 0x100000, true);
	old = atomic_load(sptep);
	atomic_store(sptep, make_spte(0x12345, PG_LEVEL_4K, true, old));
	/* Beside the alias rule, the made-up private leaf has no S-EPT entry,
	 * its frame is not the TD's and not the memslot's. */
	want_check(td, 4,
		     "gfn 0x100: present on both aliases (private present|shared level 4K, shared present|shared level 4K)",
		     "gpa 0x100000 level 4K: KVM's private EPT has present|shared",
		     "the S-EPT entry is FREE",
		     "gfn 0x100 level 4K: private leaf's pfn 0x12345 is not the TD's PT_REG",
		     "gfn 0x100 level 4K: private leaf maps pfn 0x12345 but memslot 0 backs the gfn",
		     NULL);
	atomic_store(sptep, old);
	want_check(td, 0, NULL);
	api_fx_destroy_clean(td);
}

/* KVM's table structure written wrong (I6): a shared table given an
 * S-EPT page, one marked private, one linked at the wrong gfn. Each is
 * named once, and the TD is clean again once the field is put back. */
static void test_corrupt_table_roles(void **state)
{
	tdxmmu_td *td = make_built_td(1, true);
	struct kvm_mmu_page *sp;
	gfn_t gfn;

	(void)state;
	guest_mapgpa(td, 0, SHARED_BIT | 0x100000, 0x1000);
	guest_write(td, 0, SHARED_BIT | 0x100000, 0xabcd);
	want_check(td, 0, NULL);
	sp = sptep_to_sp(sptep_4k(td, 0x100000, false));

	sp->private_spt = new_frame(td);
	want_check(td, 1, "level 2M: shared table has an S-EPT page", NULL);
	sp->private_spt = 0;
	want_check(td, 0, NULL);

	sp->role.is_private = 1;
	want_check(td, 1, "level 2M: the shared EPT links a private table", NULL);
	sp->role.is_private = 0;
	want_check(td, 0, NULL);

	gfn = sp->gfn;
	sp->gfn = gfn + 512;
	want_check(td, 1, "level 2M: the shared EPT links a table of level 4K at gfn", NULL);
	sp->gfn = gfn;
	want_check(td, 0, NULL);
	api_fx_destroy_clean(td);
}

/* The legacy MMU's own audit (rmap <-> SPTEs, the SPTE bits it allows in
 * each tree, its page lists) reports through check: a shared leaf cleared
 * behind the rmap's back, SPTE_SHARED_MASK on a shared entry, a page-list
 * count off by one; each named, and gone once undone. */
static void test_corrupt_legacy_rmap(void **state)
{
	tdxmmu_td *td = NULL;
	_Atomic uint64_t *sptep;
	uint64_t old;

	(void)state;
	td = api_fx_small_td(TDXMMU_MMU_LEGACY);
	guest_mapgpa(td, 0, SHARED_BIT | 0x100000, 0x1000);
	guest_write(td, 0, SHARED_BIT | 0x100000, 0xabcd);
	want_check(td, 0, NULL);
	sptep = sptep_4k(td, 0x100000, false);
	old = atomic_load(sptep);
	atomic_store(sptep, SHADOW_NONPRESENT_VALUE);
	/* The audit's line, and the vCPU's translation that no leaf backs
	 * any more (the corruption skipped the flush a zap would make). */
	want_check(td, 2, "legacy: rmap of gfn 0x100 holds a shared entry that maps nothing",
		   "vcpu 0: stale TLB entry: shared gpa 0x800000100000", NULL);
	atomic_store(sptep, old);
	want_check(td, 0, NULL);
	/* SPTE_SHARED_MASK where the legacy MMU never puts it: on a shared
	 * entry. */
	atomic_store(sptep, old | SPTE_SHARED_MASK);
	want_check(td, 1, "legacy: shared EPT entry gfn 0x100 level 1 = ", "carries a private-EPT-only bit", NULL);
	atomic_store(sptep, old);
	want_check(td, 0, NULL);
	/* The page lists' count off by one. */
	to_legacy(td->kvm)->nr_shared_pages++;
	want_check(td, 1, "legacy: the page lists hold 4 private and 5 shared tables, the trees link 4 and 4", NULL);
	to_legacy(td->kvm)->nr_shared_pages--;
	want_check(td, 0, NULL);
	api_fx_destroy_clean(td);
}

/* KVM's own guard on the same kind of corruption, legacy MMU: a private
 * fault that finds its PRIVATE_ZAPPED entry keeping another frame than the
 * memslot gives is a state KVM must never see: KVM_BUG_ON, the access
 * reports `bugged`, the VM is dead. With the entry put back, check holds
 * and destroy takes everything back. */
static void test_legacy_zapped_pfn_kills_vm(void **state)
{
	tdxmmu_td *td = NULL;
	enum tdxmmu_outcome o = TDXMMU_OUTCOME_OK;
	_Atomic uint64_t *sptep;
	uint64_t old, v = 0;

	(void)state;
	td = api_fx_small_td(TDXMMU_MMU_LEGACY);
	guest_write(td, 0, 0x2000, 7);
	assert_int_equal(tdxmmu_host_zap(td, 0x2000, 0x1000, TDXMMU_ALIAS_PRIVATE), TDXMMU_OK);
	sptep = sptep_4k(td, 0x2000, true);
	old = atomic_load(sptep);
	assert_true(is_private_zapped_spte(old));
	atomic_store(sptep, old ^ (1ULL << PAGE_SHIFT)); /* the next frame */
	assert_int_equal(tdxmmu_vcpu_read(td, 0, 0x2000, &v, &o), TDXMMU_OK);
	assert_int_equal(o, TDXMMU_OUTCOME_BUGGED);
	assert_true(tdxmmu_vm_dead(td));
	atomic_store(sptep, old);
	/* No violation; the report says which checks a dead VM skips. */
	{
		char report[1024];

		assert_int_equal(tdxmmu_check(td, report, sizeof(report)), 0);
		assert_non_null(strstr(report, "note: the VM is dead: the per-GFN table check (I2) skipped"));
		assert_non_null(strstr(report, "note: the VM is dead: the TLB check (I5) skipped"));
	}
	api_fx_destroy_clean(td);
}

/* The same guard for a page mapped shared whose private entry lost
 * SPTE_SHARED_MASK (seed 000's table has no such state): a private access
 * to it kills the VM instead of mapping the page on both aliases. */
static void test_legacy_shared_without_mask_kills_vm(void **state)
{
	tdxmmu_td *td = NULL;
	enum tdxmmu_outcome o = TDXMMU_OUTCOME_OK;
	_Atomic uint64_t *sptep;
	uint64_t old, v = 0;

	(void)state;
	td = api_fx_small_td(TDXMMU_MMU_LEGACY);
	guest_mapgpa(td, 0, SHARED_BIT | 0x100000, 0x1000);
	guest_write(td, 0, SHARED_BIT | 0x100000, 0xabcd);
	sptep = sptep_4k(td, 0x100000, true);
	old = atomic_load(sptep);
	assert_true(old & SPTE_SHARED_MASK);
	atomic_store(sptep, old & ~SPTE_SHARED_MASK);
	assert_int_equal(tdxmmu_vcpu_read(td, 0, 0x100000, &v, &o), TDXMMU_OK);
	assert_int_equal(o, TDXMMU_OUTCOME_BUGGED);
	assert_true(tdxmmu_vm_dead(td));
	/* Nothing was mapped privately: the page is the host's, its data
	 * intact. */
	assert_int_equal(tdxmmu_host_read(td, 0x100000, &v), TDXMMU_OK);
	assert_int_equal(v, 0xabcd);
	atomic_store(sptep, old);
	assert_int_equal(tdxmmu_check(td, NULL, 0), 0);
	api_fx_destroy_clean(td);
}

/* A translation KVM forgot to flush (the shared leaf zapped without the
 * flush request): the TLB still maps the page. */
static void test_stale_shared_tlb_entry(void **state)
{
	tdxmmu_td *td = make_built_td(1, true);
	_Atomic uint64_t *sptep;
	uint64_t old;

	(void)state;
	guest_mapgpa(td, 0, SHARED_BIT | 0x100000, 0x1000);
	guest_write(td, 0, SHARED_BIT | 0x100000, 0xabcd);
	sptep = sptep_4k(td, 0x100000, false);
	old = atomic_load(sptep);
	atomic_store(sptep, shadow_nonpresent_spte(old));
	want_check(td, 1,
		     "vcpu 0: stale TLB entry: shared gpa 0x800000100000",
		     "the shared EPT has no present leaf there", NULL);
	atomic_store(sptep, old);
	want_check(td, 0, NULL);
	api_fx_destroy_clean(td);
}

/*
 * Translations put straight into a vCPU's TLB (the CPU model's own fill),
 * as a CPU that missed a flush would hold them. Once the TD epoch moves, the
 * vCPU's next TDH.VP.ENTER drops every private translation, so they no
 * longer count; the entry does drop them.
 */
static void test_stale_private_tlb_entries(void **state)
{
	tdxmmu_td *td = make_built_td(1, true);
	struct host_memslot slot_copy;
	const struct host_memslot *slot = memslot_at_0(td, &slot_copy);
	struct tlb *tlb = &td->cpu->vcpus[0].tlb;

	(void)state;
	guest_write(td, 0, 0x3000, 0x3333); /* vCPU 0 ran in this epoch */
	want_check(td, 0, NULL);

	/* A page the S-EPT never had, and a page with another frame. */
	tlb_fill(tlb, 0x5000, pfn(slot, 5), true, true);
	want_check(td, 1, fmt("vcpu 0: stale TLB entry: private gpa 0x5000 -> pfn %#llx, but the S-EPT entry is FREE (frame: PAMT PT_NDA",
			      (unsigned long long)pfn(slot, 5)),
		   NULL);
	tlb_fill(tlb, 0x1000, pfn(slot, 0), true, true);
	want_check(td, 2, "vcpu 0: stale TLB entry: private gpa 0x5000",
		   fmt("vcpu 0: stale TLB entry: private gpa 0x1000 -> pfn %#llx, but the S-EPT entry is MAPPED for hpa %#llx (frame: PAMT PT_REG",
		       (unsigned long long)pfn(slot, 0),
		       (unsigned long long)pfn_to_hpa(pfn(slot, 1))),
		   NULL);

	/* TRACK moves the epoch: vCPU 0 flushes at its next entry. */
	raw_ok(td, "TDH.MEM.TRACK", 0, 0, 0);
	want_check(td, 0, NULL);
	guest_read(td, 0, 0x3000, 0x3333);
	assert_null(tlb_lookup(tlb, 0x5000));
	assert_null(tlb_lookup(tlb, 0x1000));
	want_check(td, 0, NULL);

	/* A shared translation to a page that was never shared. */
	tlb_fill(tlb, SHARED_BIT | 0x6000, pfn(slot, 6), false, true);
	want_check(td, 1, fmt("vcpu 0: stale TLB entry: shared gpa 0x800000006000 -> pfn %#llx, but the shared EPT has no present leaf there",
			      (unsigned long long)pfn(slot, 6)),
		   NULL);
	tlb_invalidate(tlb, SHARED_BIT | 0x6000);
	want_check(td, 0, NULL);
	api_fx_destroy_clean(td);
}

/*
 * KVM's roots and control pages as the checker sees them (I4, §3.3), each
 * corrupted alone and named: a root with an S-EPT twin (the S-EPT root is
 * the module's TDCS page; the shared tree has none), a private root that
 * lost its role, a TDCS page and a TDVPR that KVM records at a frame the
 * PAMT does not give the TD as one, and a TDCS slot KVM forgot (then
 * CHLDCNT disagrees: the module still counts the page).
 */
static void test_corrupt_roots_and_control_pages(void **state)
{
	tdxmmu_td *td = make_built_td(1, true);
	struct kvm *kvm = td->kvm;
	hpa_t keep, frame = new_frame(td);

	(void)state;
	want_check(td, 0, NULL);
	kvm->private_root->private_spt = frame;
	want_check(td, 1, fmt("private root: role.is_private 1, private_spt %#llx (want 1 and 0: the S-EPT root is the module's TDCS page)",
			      (unsigned long long)frame),
		   NULL);
	kvm->private_root->private_spt = 0;
	kvm->shared_root->private_spt = frame;
	want_check(td, 1, fmt("shared root: role.is_private 0, private_spt %#llx (want 0 and 0)",
			      (unsigned long long)frame),
		   NULL);
	kvm->shared_root->private_spt = 0;
	/* A private root without its role is walked as the shared tree's:
	 * besides the root, its first entry is in the wrong half and every
	 * S-EPT entry has no mirror entry (the 3 pages and their 4 tables
	 * of make_built_td()). */
	kvm->private_root->role.is_private = 0;
	want_check(td, 9, "private root: role.is_private 0, private_spt 0 (want 1 and 0",
		   "gfn 0 level 512G: the shared EPT has present in the private half of the GFN space",
		   "gpa 0x200000 level 4K: S-EPT entry is MAPPED", NULL);
	kvm->private_root->role.is_private = 1;
	want_check(td, 0, NULL);

	keep = kvm->tdcx[2];
	kvm->tdcx[2] = frame;
	want_check(td, 1, fmt("TDCS page 2 at hpa %#llx is not the TD's PT_TDCX in the PAMT (PT_NDA, owner TDR 0)",
			      (unsigned long long)frame),
		   NULL);
	kvm->tdcx[2] = 0;
	want_check(td, 1, "CHLDCNT is 14 but the S-EPT and control pages account for 13 (S-EPT leaves and pages 7 + control pages 6)",
		   NULL);
	kvm->tdcx[2] = keep;
	keep = kvm->vcpus[0].tdvpr;
	kvm->vcpus[0].tdvpr = kvm->tdr;
	want_check(td, 1, fmt("TDVPR of vcpu 0 at hpa %#llx is not the TD's PT_TDVPR in the PAMT (PT_TDR, owner TDR %#llx)",
			      (unsigned long long)kvm->tdr, (unsigned long long)kvm->tdr),
		   NULL);
	kvm->vcpus[0].tdvpr = keep;
	want_check(td, 0, NULL);
	api_fx_destroy_clean(td);
}

/* A TLB entry whose alias bit disagrees with its GPA's shared bit (a CPU
 * model that tagged a translation wrongly): named, not checked further. */
static void test_tlb_entry_wrong_alias(void **state)
{
	tdxmmu_td *td = make_built_td(1, true);
	struct host_memslot slot_copy;
	const struct host_memslot *slot = memslot_at_0(td, &slot_copy);
	struct tlb *tlb = &td->cpu->vcpus[0].tlb;

	(void)state;
	guest_write(td, 0, 0x3000, 0x3333);
	tlb_fill(tlb, SHARED_BIT | 0x6000, pfn(slot, 6), true, true);
	want_check(td, 1, "vcpu 0: TLB entry for gpa 0x800000006000 is marked private", NULL);
	tlb_invalidate(tlb, SHARED_BIT | 0x6000);
	tlb_fill(tlb, 0x6000, pfn(slot, 6), false, true);
	want_check(td, 1, "vcpu 0: TLB entry for gpa 0x6000 is marked shared", NULL);
	tlb_invalidate(tlb, 0x6000);
	want_check(td, 0, NULL);
	api_fx_destroy_clean(td);
}

/*
 * I6: each tree maps only its own half of the GFN space, so a stray entry
 * shows at the root (4-level EPT: index 256 and up is the shared half).
 * The private root's first entry copied into the shared half, and the
 * shared root's first shared entry copied into the private half: one line
 * each, the subtree under it not walked again.
 */
static void test_stray_root_entries(void **state)
{
	tdxmmu_td *td = make_built_td(1, true);
	struct kvm *kvm = td->kvm;
	_Atomic uint64_t *pr = kvm->private_root->spt, *sr = kvm->shared_root->spt;
	uint64_t e;

	(void)state;
	guest_mapgpa(td, 0, SHARED_BIT | 0x100000, 0x1000);
	guest_write(td, 0, SHARED_BIT | 0x100000, 0xabcd);
	want_check(td, 0, NULL);
	e = atomic_load(&pr[0]);
	assert_true(is_shadow_present_pte(e));
	assert_false(is_shadow_present_pte(atomic_load(&pr[256])));
	atomic_store(&pr[256], e);
	want_check(td, 1, "gfn 0x800000000 level 512G: the private EPT has present in the shared half of the GFN space",
		   NULL);
	atomic_store(&pr[256], SHADOW_NONPRESENT_VALUE);
	want_check(td, 0, NULL);
	e = atomic_load(&sr[256]);
	assert_true(is_shadow_present_pte(e));
	assert_false(is_shadow_present_pte(atomic_load(&sr[0])));
	atomic_store(&sr[0], e);
	want_check(td, 1, "gfn 0 level 512G: the shared EPT has present in the private half of the GFN space",
		   NULL);
	atomic_store(&sr[0], SHADOW_NONPRESENT_VALUE);
	want_check(td, 0, NULL);
	api_fx_destroy_clean(td);
}

/* I4: a leaf's frames are its memslot's. A shared 2M leaf planted in the
 * 2M table for 4M-6M, past the only memslot (0-4M): named with the pfn it
 * maps; and (I3) the private alias of those GFNs was never made shared. */
static void test_leaf_outside_memslots(void **state)
{
	tdxmmu_td *td = make_built_td(1, true);
	_Atomic uint64_t *leaf4k, *pd;
	uint64_t e;

	(void)state;
	guest_mapgpa(td, 0, SHARED_BIT | 0x100000, 0x1000);
	guest_write(td, 0, SHARED_BIT | 0x100000, 0xabcd);
	want_check(td, 0, NULL);
	leaf4k = sptep_4k(td, 0x100000, false);
	/* The 4K table's parent is the 2M-level table (PD). */
	pd = sptep_to_sp(leaf4k)->parent->spt;
	assert_int_equal(sptep_to_sp(leaf4k)->parent->role.level, PG_LEVEL_2M);
	assert_false(is_shadow_present_pte(atomic_load(&pd[2])));
	e = (atomic_load(leaf4k) & ~SPTE_BASE_ADDR_MASK) | PT_PAGE_SIZE_MASK |
	    pfn_to_hpa(0x100800);
	atomic_store(&pd[2], e);
	want_check(td, 2, "gfn 0x400 level 2M: shared leaf maps pfn 0x100800 but no memslot covers the 2M page",
		   "gfn 0x400: (nonpresent, present|shared) is not a state of the TDP-MMU table", NULL);
	atomic_store(&pd[2], SHADOW_NONPRESENT_VALUE);
	want_check(td, 0, NULL);
	api_fx_destroy_clean(td);
}

/* More of the legacy MMU's audit: an rmap entry filed under another gfn
 * (the rmap then holds two SPTEs of one tree for a gfn, one of them of
 * another gfn), and SPTE_SHARED_MASK on a present private leaf (the audit
 * and the per-GFN table rule each name it). Gone once undone. */
static void test_corrupt_legacy_rmap_more(void **state)
{
	tdxmmu_td *td = api_fx_small_td(TDXMMU_MMU_LEGACY);
	_Atomic uint64_t *a, *b, *p;
	uint64_t old;

	(void)state;
	guest_mapgpa(td, 0, SHARED_BIT | 0x100000, 0x2000);
	guest_write(td, 0, SHARED_BIT | 0x100000, 0xabcd);
	guest_write(td, 0, SHARED_BIT | 0x101000, 0xef01);
	guest_write(td, 0, 0x3000, 0x3333);
	want_check(td, 0, NULL);
	a = sptep_4k(td, 0x100000, false);
	b = sptep_4k(td, 0x101000, false);
	assert_true(legacy_rmap_contains(td->kvm, 0x100, a));
	assert_int_equal(legacy_rmap_add(td->kvm, 0x100, b), 0);
	want_check(td, 2, "legacy: rmap of gfn 0x100 holds more than one shared SPTE",
		   "legacy: rmap of gfn 0x100 holds the entry of gfn 0x101 level 1", NULL);
	assert_int_equal(legacy_rmap_remove(td->kvm, 0x100, b), 0);
	want_check(td, 0, NULL);
	p = sptep_4k(td, 0x3000, true);
	old = atomic_load(p);
	assert_true(is_shadow_present_pte(old));
	atomic_store(p, old | SPTE_SHARED_MASK);
	want_check(td, 2, "legacy: private EPT entry gfn 0x3 level 1 = ",
		   "is mapped with SPTE_SHARED_MASK",
		   "gfn 0x3: (present|shared, nonpresent) is not a state of the legacy MMU's per-GFN table",
		   NULL);
	atomic_store(p, old);
	want_check(td, 0, NULL);
	api_fx_destroy_clean(td);
}

/* ---- the report ---- */

static void test_report_null_and_truncation(void **state)
{
	tdxmmu_td *td = make_built_td(1, true);
	char full[REPORT_SIZE], buf[512];

	(void)state;
	assert_int_equal(tdxmmu_check(NULL, full, sizeof(full)), TDXMMU_EINVAL);
	raw_ok(td, "TDH.MEM.SEPT.ADD", 0x600000, 1, new_frame(td));
	raw_ok(td, "TDH.MEM.PAGE.AUG", 0x601000, 0, new_frame(td));

	assert_int_equal(tdxmmu_check(td, NULL, 0), 2);
	assert_int_equal(tdxmmu_check(td, NULL, 100), 2);
	buf[0] = 'x';
	assert_int_equal(tdxmmu_check(td, buf, 0), 2);
	assert_int_equal(buf[0], 'x');
	assert_int_equal(tdxmmu_check(td, full, sizeof(full)), 2);
	assert_int_equal(count_lines(full), 2);

	for (size_t size = 1; size <= sizeof(buf); size++) {
		size_t len;

		memset(buf, 'x', sizeof(buf));
		assert_int_equal(tdxmmu_check(td, buf, size), 2);
		len = strnlen(buf, size);
		assert_true(len < size);               /* NUL-terminated */
		for (size_t i = size; i < sizeof(buf); i++)
			assert_int_equal(buf[i], 'x'); /* nothing beyond */
		if (len == 0)
			continue;
		assert_int_equal(buf[len - 1], '\n');  /* whole lines */
		if (strcmp(buf, full) == 0)
			continue;
		/* Truncated: a prefix of the full report, then the tally. */
		{
			const char *tail = strstr(buf, "... ");

			assert_non_null(tail);
			assert_memory_equal(buf, full, (size_t)(tail - buf));
			assert_non_null(strstr(tail, "not shown\n"));
		}
	}
	/* Enough room for exactly the first line and the tally. */
	{
		size_t first = strcspn(full, "\n") + 1;
		size_t size = first + strlen("... 1 more violation not shown\n") + 1;

		assert_int_equal(tdxmmu_check(td, buf, size), 2);
		assert_memory_equal(buf, full, first);
		assert_string_equal(buf + first, "... 1 more violation not shown\n");
	}
	api_fx_destroy_clean(td);
}

/* ---- each rule broken alone (issue 14, coverage round 5) ---- */

/* The module's S-EPT entry for gpa at TDX level `level` (0 = 4K): the walk
 * must reach that level (tdx_debug_sept_path() gives the table). */
static _Atomic uint64_t *sept_entry(tdxmmu_td *td, uint64_t gpa, unsigned level)
{
	struct tdx_td *t = tdx_td_of_tdr_pfn(td->tdx, hpa_to_pfn(td->kvm->tdr));
	uint64_t entry[5];
	hpa_t table[5];

	assert_non_null(t);
	assert_true(tdx_debug_sept_path(td->tdx, td->kvm->tdr, gpa, entry, table) <= (int)level);
	return tdx_sept_page(td->tdx, t, hpa_to_pfn(table[level])) + sept_index(gpa, level);
}

/* The PAMT's 4K entry of the frame at hpa. */
static _Atomic uint64_t *pamt_4k(tdxmmu_td *td, hpa_t hpa)
{
	return pamt_entry(&td->tdx->pamt, hpa_to_pfn(hpa), 0);
}

/*
 * A report too small for the tally after two kept lines: report_finish()
 * drops whole lines from the end (here the second of three) until the
 * closing line fits, and the tally counts the dropped line too.
 */
static void test_report_tally_drops_kept_line(void **state)
{
	tdxmmu_td *td = make_built_td(1, true);
	char full[REPORT_SIZE], buf[REPORT_SIZE], want[REPORT_SIZE];
	size_t l1, l2;

	(void)state;
	raw_ok(td, "TDH.MEM.SEPT.ADD", 0x600000, 1, new_frame(td));
	raw_ok(td, "TDH.MEM.PAGE.AUG", 0x601000, 0, new_frame(td));
	raw_ok(td, "TDH.MEM.PAGE.AUG", 0x602000, 0, new_frame(td));
	assert_int_equal(tdxmmu_check(td, full, sizeof(full)), 3);
	assert_int_equal(count_lines(full), 3);
	l1 = strcspn(full, "\n") + 1;
	l2 = strcspn(full + l1, "\n") + 1;
	/* Lines 1 and 2 fit exactly; line 3 and the tally do not. */
	assert_true(l2 > strlen("... 2 more violations not shown\n"));
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(tdxmmu_check(td, buf, l1 + l2 + 1), 3);
	snprintf(want, sizeof(want), "%.*s... 2 more violations not shown\n", (int)l1, full);
	assert_string_equal(buf, want);
	api_fx_destroy_clean(td);
}

/* A frozen entry in the other tree's half of the GFN space is named as
 * expect-spte names it (frozen), once, at the root. */
static void test_stray_frozen_root_entry(void **state)
{
	tdxmmu_td *td = make_built_td(1, true);
	_Atomic uint64_t *pr = td->kvm->private_root->spt;

	(void)state;
	assert_int_equal(atomic_load(&pr[256]), SHADOW_NONPRESENT_VALUE);
	atomic_store(&pr[256], REMOVED_SPTE);
	want_check(td, 1, "gfn 0x800000000 level 512G: the private EPT has frozen in the shared half of the GFN space",
		   NULL);
	atomic_store(&pr[256], SHADOW_NONPRESENT_VALUE);
	want_check(td, 0, NULL);
	api_fx_destroy_clean(td);
}

/* I6 in the private tree: a 4K table whose role says shared, then one
 * linked at another gfn; each named once (the table keeps its S-EPT twin,
 * which only a private-tree table may have, so nothing else fires). */
static void test_corrupt_private_table_roles(void **state)
{
	tdxmmu_td *td = make_built_td(1, true);
	struct kvm_mmu_page *sp = sptep_to_sp(sptep_4k(td, 0x200000, true));
	gfn_t gfn = sp->gfn;

	(void)state;
	sp->role.is_private = 0;
	want_check(td, 1, "gfn 0x200 level 2M: the private EPT links a shared table", NULL);
	sp->role.is_private = 1;
	sp->gfn = gfn + 512;
	want_check(td, 1, "gfn 0x200 level 2M: the private EPT links a table of level 4K at gfn 0x400",
		   NULL);
	sp->gfn = gfn;
	want_check(td, 0, NULL);
	api_fx_destroy_clean(td);
}

/*
 * I1 accepts NL_BLOCKED under KVM's present table (a table zap between its
 * BLOCK and its REMOVE, tdx-module-sept.md §2.3): the host blocks the 2M
 * entry above the 4K table of 0x200000 behind KVM's back, and nothing in
 * the mirror, PAMT or CHLDCNT rules objects; unblocked after TRACK, it is
 * NL_MAPPED again.
 */
static void test_nl_blocked_table_is_a_mirror(void **state)
{
	tdxmmu_td *td = make_built_td(1, true);
	enum tdxmmu_sept_state s;
	size_t before = 0, total = 0;

	(void)state;
	assert_int_equal(tdxmmu_mapped_pages(td, NULL, 0, &before), TDXMMU_OK);
	raw_ok(td, "TDH.MEM.RANGE.BLOCK", 0x200000, 1, 0);
	assert_int_equal(tdxmmu_sept_state(td, 0x200000, 1, &s), TDXMMU_OK);
	assert_int_equal(s, TDXMMU_SEPT_NL_BLOCKED);
	want_check(td, 0, NULL);
	/* The blocked table maps no page itself: the pages below it are
	 * the mapped ones, as before. */
	assert_int_equal(tdxmmu_mapped_pages(td, NULL, 0, &total), TDXMMU_OK);
	assert_int_equal(total, before);
	assert_int_equal(total, 3);
	raw_ok(td, "TDH.MEM.TRACK", 0, 0, 0);
	raw_ok(td, "TDH.MEM.RANGE.UNBLOCK", 0x200000, 1, 0);
	assert_int_equal(tdxmmu_sept_state(td, 0x200000, 1, &s), TDXMMU_OK);
	assert_int_equal(s, TDXMMU_SEPT_NL_MAPPED);
	want_check(td, 0, NULL);
	api_fx_destroy_clean(td);
}

/* I1 where KVM has a non-present entry: a page the host AUGs behind KVM's
 * back at a GFN the guest made shared (KVM's private entry NP|S) must be
 * FREE in the S-EPT. */
static void test_raw_aug_under_shared_gfn(void **state)
{
	tdxmmu_td *td = make_built_td(1, true);
	hpa_t page = new_frame(td);

	(void)state;
	guest_mapgpa(td, 0, SHARED_BIT | 0x100000, 0x1000);
	want_check(td, 0, NULL);
	raw_ok(td, "TDH.MEM.PAGE.AUG", 0x100000, 0, page);
	want_check(td, 1, fmt("gpa 0x100000 level 4K: S-EPT entry is PENDING (hpa %#llx) but KVM's private EPT has nonpresent|shared (wants FREE)",
			      (unsigned long long)page),
		   NULL);
	/* The host takes it back the way it came: consistent again. */
	raw_ok(td, "TDH.MEM.RANGE.BLOCK", 0x100000, 0, 0);
	raw_ok(td, "TDH.MEM.TRACK", 0, 0, 0);
	raw_ok(td, "TDH.MEM.PAGE.REMOVE", 0x100000, 0, 0);
	want_check(td, 0, NULL);
	api_fx_destroy_clean(td);
}

/*
 * The S-EPT itself corrupted: the 2M entry above the 4K table of 0x200000
 * turned into a 2M MAPPED leaf of the table's own page. One fault, each
 * rule that sees it says it once: I7 (a leaf's page must be PT_REG of the
 * leaf's size; CHLDCNT now counts 512 pages for it), I1 from the S-EPT
 * side (KVM's entry there is a table) and from KVM's (its 4K leaf is below
 * an S-EPT leaf, where the module's walk stops).
 */
static void test_corrupt_sept_nl_entry_to_leaf(void **state)
{
	tdxmmu_td *td = make_built_td(1, true);
	_Atomic uint64_t *e = sept_entry(td, 0x200000, 1);
	uint64_t old = atomic_load(e);
	hpa_t tbl = sept_hpa(old);
	struct host_memslot slot_copy;
	const struct host_memslot *slot = memslot_at_0(td, &slot_copy);

	(void)state;
	assert_int_equal(sept_state(old), SEPT_NL_MAPPED);
	atomic_store(e, sept_make_leaf(tbl, false));
	want_check(td, 4,
		   fmt("gpa 0x200000 level 2M: S-EPT MAPPED leaf's hpa %#llx is not the TD's PT_REG page of that size in the PAMT (PT_EPT, owner TDR %#llx, size 4K)",
		       (unsigned long long)tbl, (unsigned long long)td->kvm->tdr),
		   fmt("gpa 0x200000 level 2M: S-EPT entry is MAPPED (hpa %#llx) but KVM's private EPT has present (non-leaf) (wants NL_MAPPED or NL_BLOCKED)",
		       (unsigned long long)tbl),
		   fmt("gpa 0x200000 level 4K: KVM's private EPT has present (hpa %#llx) but the S-EPT walk stops above it at level 2M (MAPPED)",
		       (unsigned long long)pfn_to_hpa(pfn(slot, 0x200))),
		   "CHLDCNT is 14 but the S-EPT and control pages account for 524 (S-EPT leaves and pages 517 + control pages 7)",
		   NULL);
	atomic_store(e, old);
	want_check(td, 0, NULL);
	api_fx_destroy_clean(td);
}

/*
 * The PAMT corrupted under the S-EPT (I7) and under a vCPU's translation
 * (I5): a private page's frame given back to the host (PT_NDA), then given
 * to no TD the module knows (PT_REG, owner index 0); the S-EPT page of a
 * table typed PT_REG. Each named with what the PAMT says.
 */
static void test_corrupt_pamt_types(void **state)
{
	tdxmmu_td *td = make_built_td(1, true);
	struct host_memslot slot_copy;
	const struct host_memslot *slot = memslot_at_0(td, &slot_copy);
	hpa_t page = pfn_to_hpa(pfn(slot, 3)), tbl;
	_Atomic uint64_t *pe;
	uint64_t old;

	(void)state;
	guest_write(td, 0, 0x3000, 0x3333); /* the TLB maps 0x3000 */
	want_check(td, 0, NULL);
	pe = pamt_4k(td, page);
	old = atomic_load(pe);
	assert_int_equal(pamt_pt(old), PT_REG);
	pamt_set(pe, PT_NDA, 0, 0);
	want_check(td, 2,
		   fmt("gpa 0x3000 level 4K: S-EPT MAPPED leaf's hpa %#llx is not the TD's PT_REG page of that size in the PAMT (PT_NDA, owner TDR 0, size 4K)",
		       (unsigned long long)page),
		   fmt("vcpu 0: TLB maps private gpa 0x3000 to pfn %#llx, which the TD does not own (PAMT PT_NDA, owner TDR 0)",
		       (unsigned long long)hpa_to_pfn(page)),
		   NULL);
	pamt_set(pe, PT_REG, 0, 0);
	want_check(td, 2, "(PT_REG, owner TDR 0, size 4K)", "which the TD does not own (PAMT PT_REG, owner TDR 0)",
		   NULL);
	atomic_store(pe, old);
	want_check(td, 0, NULL);

	tbl = sptep_to_sp(sptep_4k(td, 0x200000, true))->private_spt;
	pe = pamt_4k(td, tbl);
	old = atomic_load(pe);
	assert_int_equal(pamt_pt(old), PT_EPT);
	pamt_set(pe, PT_REG, pamt_owner(old), pamt_bepoch(old));
	want_check(td, 1, fmt("gpa 0x200000 level 2M: S-EPT NL_MAPPED entry's page %#llx is not the TD's PT_EPT in the PAMT (PT_REG, owner TDR %#llx)",
			      (unsigned long long)tbl, (unsigned long long)td->kvm->tdr),
		   NULL);
	atomic_store(pe, old);
	want_check(td, 0, NULL);
	api_fx_destroy_clean(td);
}

/* A private table's S-EPT twin pointed at a private page's frame: the
 * mirror rule, the double use (naming the table's S-EPT page), and the
 * PAMT type the twin should have. */
static void test_corrupt_private_spt_to_leaf_frame(void **state)
{
	tdxmmu_td *td = make_built_td(1, true);
	struct host_memslot slot_copy;
	const struct host_memslot *slot = memslot_at_0(td, &slot_copy);
	struct kvm_mmu_page *sp = sptep_to_sp(sptep_4k(td, 0x200000, true));
	hpa_t twin = sp->private_spt, leaf = pfn_to_hpa(pfn(slot, 0));

	(void)state;
	sp->private_spt = leaf;
	want_check(td, 3,
		   fmt("gpa 0x200000 level 2M: KVM's private EPT links the S-EPT page %#llx but the S-EPT NL_MAPPED entry has hpa %#llx",
		       (unsigned long long)leaf, (unsigned long long)twin),
		   fmt("pfn %#llx is used twice in the private tree: by the private leaf at gfn 0 level 4K and by the S-EPT page of the private table at gfn 0x200 level 2M",
		       (unsigned long long)hpa_to_pfn(leaf)),
		   fmt("gfn 0x200 level 2M: private table's S-EPT page pfn %#llx is not the TD's PT_EPT in the PAMT (PT_REG",
		       (unsigned long long)hpa_to_pfn(leaf)),
		   NULL);
	sp->private_spt = twin;
	want_check(td, 0, NULL);
	api_fx_destroy_clean(td);
}

/* A shared leaf mapping a frame the PAMT gives the host (PT_NDA) that a
 * private leaf still maps (the host removed the private page behind KVM's
 * back): the frame is the host's, but in use on the private side. */
static void test_shared_leaf_on_removed_private_frame(void **state)
{
	tdxmmu_td *td = make_built_td(1, true);
	struct host_memslot slot_copy;
	const struct host_memslot *slot = memslot_at_0(td, &slot_copy);
	_Atomic uint64_t *sptep;
	uint64_t old;

	(void)state;
	guest_mapgpa(td, 0, SHARED_BIT | 0x100000, 0x1000);
	guest_write(td, 0, SHARED_BIT | 0x100000, 0xabcd);
	raw_ok(td, "TDH.MEM.RANGE.BLOCK", 0x1000, 0, 0);
	raw_ok(td, "TDH.MEM.TRACK", 0, 0, 0);
	raw_ok(td, "TDH.MEM.PAGE.REMOVE", 0x1000, 0, 0);
	want_check(td, 2, "gpa 0x1000 level 4K: KVM's private EPT has present",
		   "gfn 0x1 level 4K: private leaf's pfn", NULL);
	sptep = sptep_4k(td, 0x100000, false);
	old = atomic_load(sptep);
	atomic_store(sptep, (old & ~SPTE_BASE_ADDR_MASK) | pfn_to_hpa(pfn(slot, 1)));
	want_check(td, 5,
		   fmt("gfn 0x100 level 4K: shared leaf maps pfn %#llx, which is not the host's (PAMT PT_NDA, owner TDR 0; the private leaf at gfn 0x1 level 4K uses it)",
		       (unsigned long long)pfn(slot, 1)),
		   fmt("gfn 0x100 level 4K: shared leaf maps pfn %#llx but memslot 0 backs the gfn with pfn %#llx",
		       (unsigned long long)pfn(slot, 1), (unsigned long long)pfn(slot, 0x100)),
		   "vcpu 0: stale TLB entry: shared gpa 0x800000100000", NULL);
	atomic_store(sptep, old);
	atomic_store(sptep_4k(td, 0x1000, true), SHADOW_NONPRESENT_VALUE);
	want_check(td, 0, NULL);
	api_fx_destroy_clean(td);
}

/* I6 in the shared tree: a frozen 4K entry where both trees have a table
 * (the per-GFN pair is not judged again). */
static void test_corrupt_frozen_shared_entry(void **state)
{
	tdxmmu_td *td = make_built_td(1, true);
	_Atomic uint64_t *sptep;
	uint64_t old;

	(void)state;
	guest_mapgpa(td, 0, SHARED_BIT | 0x100000, 0x2000);
	guest_write(td, 0, SHARED_BIT | 0x100000, 0xabcd);
	sptep = sptep_4k(td, 0x101000, false);
	old = atomic_load(sptep);
	assert_int_equal(old, SHADOW_NONPRESENT_VALUE | SPTE_SHARED_MASK);
	atomic_store(sptep, REMOVED_SPTE);
	want_check(td, 1, "gfn 0x101 level 4K: shared EPT entry frozen", NULL);
	atomic_store(sptep, old);
	want_check(td, 0, NULL);
	api_fx_destroy_clean(td);
}

/* A vCPU whose TDVPR KVM forgot: the module still counts the page in
 * CHLDCNT (I7), so the control pages no longer add up. */
static void test_forgotten_tdvpr(void **state)
{
	tdxmmu_td *td = make_built_td(2, true);
	hpa_t keep = td->kvm->vcpus[1].tdvpr;

	(void)state;
	td->kvm->vcpus[1].tdvpr = 0;
	want_check(td, 1, "CHLDCNT is 15 but the S-EPT and control pages account for 14 (S-EPT leaves and pages 7 + control pages 7)",
		   NULL);
	td->kvm->vcpus[1].tdvpr = keep;
	want_check(td, 0, NULL);
	api_fx_destroy_clean(td);
}

/* Legacy MMU, seed 000's table (check_pair_legacy()): a frozen private
 * entry is the structure rule's alone; a shared leaf whose private entry
 * lost its NP|S (no private entry recorded at all) is not a state of the
 * table. */
static void test_legacy_pairs(void **state)
{
	tdxmmu_td *td = api_fx_small_td(TDXMMU_MMU_LEGACY);
	_Atomic uint64_t *p;
	uint64_t old;

	(void)state;
	guest_mapgpa(td, 0, SHARED_BIT | 0x100000, 0x2000);
	guest_write(td, 0, SHARED_BIT | 0x100000, 0xabcd);
	guest_write(td, 0, 0x3000, 0x3333);
	want_check(td, 0, NULL);
	p = sptep_4k(td, 0x101000, true);
	old = atomic_load(p);
	atomic_store(p, REMOVED_SPTE);
	want_check(td, 1, "gfn 0x101 level 4K: private EPT entry frozen", NULL);
	atomic_store(p, old);
	p = sptep_4k(td, 0x100000, true);
	old = atomic_load(p);
	assert_int_equal(old, SHADOW_NONPRESENT_VALUE | SPTE_SHARED_MASK);
	atomic_store(p, SHADOW_NONPRESENT_VALUE);
	want_check(td, 1, "gfn 0x100: (nonpresent, present) is not a state of the legacy MMU's per-GFN table",
		   NULL);
	atomic_store(p, old);
	want_check(td, 0, NULL);
	api_fx_destroy_clean(td);
}

/* Between the teardown's release of the HKID and the end of destroy, the
 * S-EPT mirrors nothing live and no vCPU can enter again: check says which
 * rules it skips and finds nothing else wrong (the trees are empty, no lock
 * is held). Before, the vCPU's cached translation of 0x3000 was judged
 * against S-EPT tables already reclaimed and reported stale. */
static void test_check_after_hkid_release(void **state)
{
	tdxmmu_td *td = make_built_td(1, true);
	char report[REPORT_SIZE];

	(void)state;
	guest_write(td, 0, 0x3000, 0x3333);
	assert_int_equal(kvm_tdx_teardown_memory(td->kvm), 0);
	assert_false(td->kvm->hkid_assigned);
	if (tdxmmu_check(td, report, sizeof(report)) != 0)
		fail_msg("check after the HKID release:\n%s", report);
	assert_string_equal(report, "note: the HKID is released: mirror, PAMT and CHLDCNT checks skipped\n"
				    "note: the HKID is released: the TLB check (I5) skipped\n");
	api_fx_destroy_clean(td);
}

/* The shared root given the private role (I4/I6, §3.3): named once. */
static void test_corrupt_shared_root_role(void **state)
{
	tdxmmu_td *td = make_built_td(1, true);
	struct kvm *kvm = td->kvm;

	(void)state;
	kvm->shared_root->role.is_private = 1;
	want_check(td, 1, "shared root: role.is_private 1, private_spt 0 (want 0 and 0)", NULL);
	kvm->shared_root->role.is_private = 0;
	want_check(td, 0, NULL);
	api_fx_destroy_clean(td);
}

/* A private 4K table whose role says 2M (I6): the link names the level. */
static void test_corrupt_private_table_level(void **state)
{
	tdxmmu_td *td = make_built_td(1, true);
	struct kvm_mmu_page *sp = sptep_to_sp(sptep_4k(td, 0x200000, true));

	(void)state;
	sp->role.level = PG_LEVEL_2M;
	want_check(td, 1, "gfn 0x200 level 2M: the private EPT links a table of level 2M at gfn 0x200",
		   NULL);
	sp->role.level = PG_LEVEL_4K;
	want_check(td, 0, NULL);
	api_fx_destroy_clean(td);
}

/* I4: a 2M leaf whose memslot covers only part of it (a 3 MiB slot, the
 * leaf at 2M-4M) is not backed by the memslot, as one wholly outside. */
static void test_leaf_partly_outside_memslot(void **state)
{
	struct tdxmmu_td_config cfg;
	tdxmmu_td *td = NULL;
	_Atomic uint64_t *leaf4k, *pd;

	(void)state;
	tdxmmu_td_config_init(&cfg);
	cfg.host_memory = 64 * MiB;
	assert_int_equal(tdxmmu_td_create(&cfg, &td), TDXMMU_OK);
	assert_int_equal(tdxmmu_memslot_add(td, 0, 0, 3 * MiB), TDXMMU_OK);
	assert_int_equal(tdxmmu_td_finalize(td), TDXMMU_OK);
	guest_mapgpa(td, 0, SHARED_BIT | 0x100000, 0x1000);
	guest_write(td, 0, SHARED_BIT | 0x100000, 0xabcd);
	want_check(td, 0, NULL);
	leaf4k = sptep_4k(td, 0x100000, false);
	pd = sptep_to_sp(leaf4k)->parent->spt;
	assert_false(is_shadow_present_pte(atomic_load(&pd[1])));
	atomic_store(&pd[1], (atomic_load(leaf4k) & ~SPTE_BASE_ADDR_MASK) | PT_PAGE_SIZE_MASK |
			     pfn_to_hpa(0x100800));
	want_check(td, 2, "gfn 0x200 level 2M: shared leaf maps pfn 0x100800 but no memslot covers the 2M page",
		   "gfn 0x200: (nonpresent, present|shared) is not a state of the TDP-MMU table", NULL);
	atomic_store(&pd[1], SHADOW_NONPRESENT_VALUE);
	want_check(td, 0, NULL);
	api_fx_destroy_clean(td);
}

/* I7 at the size the PAMT gives: the 2M PAMT entry over the frames of
 * gfns 0-0x1ff made a PT_REG page of the TD, so the 4K leaves of gfn 0 and
 * 1 (make_built_td()'s pages there) are part of a 2M page in the PAMT,
 * not 4K pages: one line each. */
static void test_corrupt_pamt_page_size(void **state)
{
	tdxmmu_td *td = make_built_td(1, true);
	struct host_memslot slot_copy;
	const struct host_memslot *slot = memslot_at_0(td, &slot_copy);
	_Atomic uint64_t *e2m = pamt_entry(&td->tdx->pamt, pfn(slot, 0), 1);
	uint64_t old = atomic_load(e2m);
	unsigned owner = pamt_owner(atomic_load(pamt_4k(td, pfn_to_hpa(pfn(slot, 0)))));

	(void)state;
	assert_int_equal(pfn(slot, 0) & 511, 0);
	assert_int_equal(pamt_pt(old), PT_NDA);
	pamt_set(e2m, PT_REG, owner, 0);
	want_check(td, 2,
		   fmt("gpa 0 level 4K: S-EPT MAPPED leaf's hpa %#llx is not the TD's PT_REG page of that size in the PAMT (PT_REG, owner TDR %#llx, size 2M)",
		       (unsigned long long)pfn_to_hpa(pfn(slot, 0)), (unsigned long long)td->kvm->tdr),
		   "gpa 0x1000 level 4K: S-EPT MAPPED leaf's hpa", NULL);
	atomic_store(e2m, old);
	want_check(td, 0, NULL);
	api_fx_destroy_clean(td);
}

/* An S-EPT entry with a state code the module never writes (a live
 * migration state the model lacks) where KVM has nothing: the S-EPT walk
 * reports it as an entry KVM's mirror lacks, MISCONFIGURED. */
static void test_corrupt_sept_misconfigured_entry(void **state)
{
	tdxmmu_td *td = make_built_td(1, true);
	_Atomic uint64_t *e = sept_entry(td, 0x5000, 0);
	uint64_t old = atomic_load(e);

	(void)state;
	assert_int_equal(sept_state(old), SEPT_FREE);
	atomic_store(e, old | SEPT_PS);
	want_check(td, 1, "gpa 0x5000 level 4K: S-EPT entry is MISCONFIGURED (hpa 0) but KVM's private EPT has no entry there",
		   NULL);
	atomic_store(e, old);
	want_check(td, 0, NULL);
	api_fx_destroy_clean(td);
}

/*
 * A zap that KVM_BUG_ON stopped between BLOCK and REMOVE (its TDH.MEM.TRACK
 * refused): the mirror leaf stays present over a BLOCKED S-EPT entry, and
 * over PENDING_BLOCKED for a page the guest never accepted. Only a dead
 * VM may show that, and check lets it (the notes say what it skipped);
 * destroy still takes everything back.
 */
static void test_dead_vm_blocked_under_present_leaf(void **state)
{
	struct tdxmmu_td_config cfg;
	tdxmmu_td *td = NULL;
	enum tdxmmu_outcome o;
	enum tdxmmu_sept_state s;
	uint64_t invalid, v;
	char report[REPORT_SIZE];

	(void)state;
	tdxmmu_td_config_init(&cfg);
	cfg.accept = TDXMMU_ACCEPT_EXPLICIT;
	cfg.host_memory = 64 * MiB;
	assert_int_equal(tdxmmu_td_create(&cfg, &td), TDXMMU_OK);
	assert_int_equal(tdxmmu_memslot_add(td, 0, 0, 4 * MiB), TDXMMU_OK);
	assert_int_equal(tdxmmu_td_finalize(td), TDXMMU_OK);
	assert_int_equal(tdxmmu_vcpu_accept(td, 0, 0x1000, 0, &v), TDXMMU_OK);
	/* A read of a page never accepted: AUGed, PENDING, the guest #VE. */
	assert_int_equal(tdxmmu_vcpu_read(td, 0, 0x2000, &v, &o), TDXMMU_OK);
	assert_int_equal(tdxmmu_sept_state(td, 0x2000, 0, &s), TDXMMU_OK);
	assert_int_equal(s, TDXMMU_SEPT_PENDING);
	want_check(td, 0, NULL);
	assert_true(tdxmmu_status_from_name("TDX_OPERAND_INVALID", &invalid));
	assert_int_equal(tdxmmu_inject_status_nth(td, tdxmmu_leaf_from_name("TDH.MEM.TRACK"),
						  invalid, 1, true), TDXMMU_OK);
	assert_int_equal(tdxmmu_host_zap(td, 0x1000, 0x2000, TDXMMU_ALIAS_PRIVATE), TDXMMU_EIO);
	assert_true(tdxmmu_vm_dead(td));
	assert_int_equal(tdxmmu_sept_state(td, 0x1000, 0, &s), TDXMMU_OK);
	assert_int_equal(s, TDXMMU_SEPT_BLOCKED);
	assert_int_equal(tdxmmu_sept_state(td, 0x2000, 0, &s), TDXMMU_OK);
	assert_int_equal(s, TDXMMU_SEPT_PENDING_BLOCKED);
	if (tdxmmu_check(td, report, sizeof(report)) != 0)
		fail_msg("check of the dead VM:\n%s", report);
	assert_string_equal(report, "note: the VM is dead: the per-GFN table check (I2) skipped\n"
				    "note: the VM is dead: the TLB check (I5) skipped\n");
	assert_int_equal(tdxmmu_inject_off(td), TDXMMU_OK);
	api_fx_destroy_clean(td);
}

/* Legacy MMU: a private leaf planted where the GFN is mapped shared (a
 * copy of gfn 3's leaf at gfn 0x100): the page is on both aliases (I3,
 * and seed 000's pair is not judged again), the mirror and frame rules
 * each name what they see, and the legacy audit finds the SPTE that no
 * rmap holds. */
static void test_legacy_both_aliases(void **state)
{
	tdxmmu_td *td = api_fx_small_td(TDXMMU_MMU_LEGACY);
	_Atomic uint64_t *p;
	uint64_t old;

	(void)state;
	guest_mapgpa(td, 0, SHARED_BIT | 0x100000, 0x1000);
	guest_write(td, 0, SHARED_BIT | 0x100000, 0xabcd);
	guest_write(td, 0, 0x3000, 0x3333);
	want_check(td, 0, NULL);
	p = sptep_4k(td, 0x100000, true);
	old = atomic_load(p);
	atomic_store(p, atomic_load(sptep_4k(td, 0x3000, true)));
	want_check(td, 5, "gfn 0x100: present on both aliases (private present level 4K, shared present level 4K)",
		   "gpa 0x100000 level 4K: KVM's private EPT has present", "but the S-EPT entry is FREE",
		   "gfn 0x100 level 4K: private leaf maps pfn",
		   "is used twice in the private tree: by the private leaf at gfn 0x3 level 4K and by the private leaf at gfn 0x100 level 4K",
		   "legacy: private present leaf gfn 0x100", "is not in the rmap of its gfn", NULL);
	atomic_store(p, old);
	want_check(td, 0, NULL);
	api_fx_destroy_clean(td);
}

/* I5 under a blocked table: the vCPU read 0x200000, then the host blocks
 * the table above it (NL_BLOCKED) and does not TRACK. The module's walk
 * for the translation ends at the blocked table, and the guest can still
 * use what it cached: stale. Once TRACK moved the epoch, the vCPU drops
 * it at its next entry and nothing is judged. */
static void test_tlb_under_nl_blocked_table(void **state)
{
	tdxmmu_td *td = make_built_td(1, true);
	struct host_memslot slot_copy;
	const struct host_memslot *slot = memslot_at_0(td, &slot_copy);

	(void)state;
	guest_read(td, 0, 0x200000, 0x3333333333333333ULL);
	raw_ok(td, "TDH.MEM.RANGE.BLOCK", 0x200000, 1, 0);
	want_check(td, 1, fmt("vcpu 0: stale TLB entry: private gpa 0x200000 -> pfn %#llx, but the S-EPT entry is NL_BLOCKED (frame: PAMT PT_REG, owner TDR %#llx)",
			      (unsigned long long)pfn(slot, 0x200), (unsigned long long)td->kvm->tdr),
		   NULL);
	raw_ok(td, "TDH.MEM.TRACK", 0, 0, 0);
	want_check(td, 0, NULL);
	raw_ok(td, "TDH.MEM.RANGE.UNBLOCK", 0x200000, 1, 0);
	guest_read(td, 0, 0x200000, 0x3333333333333333ULL);
	want_check(td, 0, NULL);
	api_fx_destroy_clean(td);
}

/* ---- cost ---- */

/*
 * A 64 GiB TD sparsely used checks in well under a second: the checker walks
 * what is mapped, not the memslots. Valgrind gives its client less than 64
 * GiB of address space (see test_host_mem.c), and runs too slowly to time:
 * 16 GiB there, untimed.
 */
static void test_large_sparse_td_is_fast(void **state)
{
	uint64_t size = RUNNING_ON_VALGRIND ? 16 * GiB : 64 * GiB;
	struct tdxmmu_td_config cfg;
	tdxmmu_td *td = NULL;
	struct timespec a, b;
	double s;

	(void)state;
	tdxmmu_td_config_init(&cfg);
	cfg.host_memory = size + 8 * GiB;
	assert_int_equal(tdxmmu_td_create(&cfg, &td), TDXMMU_OK);
	assert_int_equal(tdxmmu_memslot_add(td, 0, 0, size / 2), TDXMMU_OK);
	assert_int_equal(tdxmmu_memslot_add(td, 1, size / 2, size / 2), TDXMMU_OK);
	assert_int_equal(tdxmmu_td_add_page(td, 0x0, 1), TDXMMU_OK);
	assert_int_equal(tdxmmu_td_add_page(td, size / 2 - 0x1000, 2), TDXMMU_OK);
	assert_int_equal(tdxmmu_td_add_page(td, size - 0x2000, 3), TDXMMU_OK);
	assert_int_equal(tdxmmu_td_finalize(td), TDXMMU_OK);
	guest_mapgpa(td, 0, SHARED_BIT | (size - 0x1000), 0x1000);
	guest_write(td, 0, SHARED_BIT | (size - 0x1000), 0x4444);
	guest_write(td, 0, size / 2, 0x5555);
	clock_gettime(CLOCK_MONOTONIC, &a);
	want_check(td, 0, NULL);
	clock_gettime(CLOCK_MONOTONIC, &b);
	s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	if (!RUNNING_ON_VALGRIND && s > 0.5)
		fail_msg("check of a sparse 64 GiB TD took %.3f s", s);
	api_fx_destroy_clean(td);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clean_build_and_finalize),
		cmocka_unit_test(test_clean_after_guest_accesses),
		cmocka_unit_test(test_raw_sept_add_and_aug),
		cmocka_unit_test(test_raw_remove_of_mapped_page),
		cmocka_unit_test(test_corrupt_shared_bit_on_private_leaf),
		cmocka_unit_test(test_corrupt_nonpresent_shared_no_shared_table),
		cmocka_unit_test(test_corrupt_nonpresent_shared_no_private_table),
		cmocka_unit_test(test_nonpresent_entries_agree),
		cmocka_unit_test(test_corrupt_frozen_entry),
		cmocka_unit_test(test_corrupt_mapped_leaf_states),
		cmocka_unit_test(test_corrupt_private_spt),
		cmocka_unit_test(test_corrupt_private_frame_twice),
		cmocka_unit_test(test_corrupt_chldcnt),
		cmocka_unit_test(test_corrupt_shared_leaf_to_td_frame),
		cmocka_unit_test(test_corrupt_both_aliases),
		cmocka_unit_test(test_corrupt_table_roles),
		cmocka_unit_test(test_corrupt_legacy_rmap),
		cmocka_unit_test(test_corrupt_legacy_rmap_more),
		cmocka_unit_test(test_legacy_zapped_pfn_kills_vm),
		cmocka_unit_test(test_legacy_shared_without_mask_kills_vm),
		cmocka_unit_test(test_2m_alias_state),
		cmocka_unit_test(test_stale_shared_tlb_entry),
		cmocka_unit_test(test_stale_private_tlb_entries),
		cmocka_unit_test(test_corrupt_roots_and_control_pages),
		cmocka_unit_test(test_tlb_entry_wrong_alias),
		cmocka_unit_test(test_stray_root_entries),
		cmocka_unit_test(test_leaf_outside_memslots),
		cmocka_unit_test(test_report_null_and_truncation),
		cmocka_unit_test(test_module_lock_left_held),
		cmocka_unit_test(test_module_far_1g_lock_left_held),
		cmocka_unit_test(test_report_tally_drops_kept_line),
		cmocka_unit_test(test_stray_frozen_root_entry),
		cmocka_unit_test(test_corrupt_private_table_roles),
		cmocka_unit_test(test_nl_blocked_table_is_a_mirror),
		cmocka_unit_test(test_raw_aug_under_shared_gfn),
		cmocka_unit_test(test_corrupt_sept_nl_entry_to_leaf),
		cmocka_unit_test(test_corrupt_pamt_types),
		cmocka_unit_test(test_corrupt_private_spt_to_leaf_frame),
		cmocka_unit_test(test_shared_leaf_on_removed_private_frame),
		cmocka_unit_test(test_corrupt_frozen_shared_entry),
		cmocka_unit_test(test_forgotten_tdvpr),
		cmocka_unit_test(test_legacy_pairs),
		cmocka_unit_test(test_check_after_hkid_release),
		cmocka_unit_test(test_corrupt_shared_root_role),
		cmocka_unit_test(test_corrupt_private_table_level),
		cmocka_unit_test(test_leaf_partly_outside_memslot),
		cmocka_unit_test(test_corrupt_pamt_page_size),
		cmocka_unit_test(test_corrupt_sept_misconfigured_entry),
		cmocka_unit_test(test_dead_vm_blocked_under_present_leaf),
		cmocka_unit_test(test_legacy_both_aliases),
		cmocka_unit_test(test_tlb_under_nl_blocked_table),
		cmocka_unit_test(test_large_sparse_td_is_fast),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
