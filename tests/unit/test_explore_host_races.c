/* SPDX-License-Identifier: MIT */
/*
 * Two host threads issuing raw SEAMCALLs on one TD at once, explored
 * (tdxmmu_explore(): every schedule with at most two preemptions), so that
 * the module's try-locks meet each other for real, deterministically, and
 * not only where an injected BUSY strikes (an injection answers at the first
 * lock a call tries; contention can make any later one fail: the S-EPT
 * tree lock, an S-EPT entry's lock, a page's PAMT lock, the TD epoch lock).
 *
 * Every module lock is a try-lock (tdx-module-sept.md §11): a call that
 * meets a holder answers TDX_OPERAND_BUSY with the operand id of the lock
 * and changes nothing, and the caller (here the test, in the kernel KVM)
 * decides whether to retry. So for every schedule the test asserts that
 *  - each call's status is one the module may give in that race (the
 *    success, the BUSY of the contended lock, or the state error of the
 *    call that came second), nothing else;
 *  - the number of successes is what the race allows (one for two calls
 *    that want the same entry or the same page);
 *  - the S-EPT entry raced for ends in the state the winner left;
 *  - destroy takes everything back (the raw pages are reclaimed);
 * and over the whole search that each lock's BUSY was met at least once,
 * so that the race is really explored and not always run one call first.
 *
 * The two "host threads" are the threads tdxmmu_run_vcpus() makes: KVM
 * issues its SEAMCALLs on vCPU threads too, and to the module a thread is a
 * logical processor, whatever it runs. Only the public API is used.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "tdxmmu/tdxmmu.h"

#define MB (1ULL << 20)

/* Status values (tdx/tdx_status.h): class | operand id. */
#define SUCCESS 0x0ULL
#define BUSY 0x8000020000000000ULL
#define ENTRY_STATE_INCORRECT 0xC0000B0D00000000ULL
#define PAGE_METADATA_INCORRECT 0xC000030000000000ULL
#define OP_RCX 0x1ULL
#define OP_R8 0x8ULL
#define OP_SEPT 0x92ULL     /* the S-EPT tree lock */
#define OP_TD_EPOCH 0xA9ULL /* the TD epoch lock */

enum page {
	PAGE_NONE,
	PAGE_NEW,
	PAGE_SHARED, /* one new frame, both lanes */
	PAGE_OF,     /* the host frame behind guest page `of` */
};

struct lane {
	const char *leaf;
	uint64_t gpa;
	unsigned level; /* 0 = 4K, 1 = 2M */
	enum page page;
	uint64_t of;
};

#define MAX_LEGAL 4

struct race {
	const char *name;
	/* [0, 4M) backed by 2M pages, KVM's 0x1000 mapped by a 2M leaf, and
	 * a plain memslot [4M, 8M) with 0x401000 mapped at 4K. */
	bool hugepages;
	/* Raw SEAMCALLs made before the race, each must succeed. */
	struct lane setup[3];
	unsigned nr_setup;
	struct lane lane[2];
	uint64_t legal[2][MAX_LEGAL]; /* full statuses; SUCCESS first */
	unsigned nr_legal[2];
	unsigned min_ok, max_ok;      /* successes per schedule */
	/* The entry raced for and its state after any schedule (or no
	 * check: sept_gpa == UINT64_MAX). */
	uint64_t sept_gpa;
	unsigned sept_level;
	enum tdxmmu_sept_state sept_after;
	/* Must each be seen, in some schedule, on some lane. */
	uint64_t must_see[MAX_LEGAL];
	unsigned nr_must_see;
};

static const struct race *cur;
/* Over one search: which legal status each lane gave in some schedule. */
static unsigned seen[2][MAX_LEGAL];
static uint64_t executions;

struct lane_arg {
	const struct lane *l;
	uint64_t page;
	uint64_t status;
	int rc;
};

static int lane_fn(tdxmmu_td *td, unsigned vcpu, void *p)
{
	struct lane_arg *a = p;
	struct tdxmmu_seamcall_req req = {
		.leaf = tdxmmu_leaf_from_name(a->l->leaf),
		.gpa = a->l->gpa,
		.level = a->l->level,
		.page = a->page,
	};
	struct tdxmmu_seamcall_out out = { 0 };

	(void)vcpu;
	a->rc = tdxmmu_seamcall(td, &req, &out);
	a->status = out.rax;
	return a->rc;
}

/* One execution: set up, race the two calls, judge. */
static int one_race(void *arg, char *msg, size_t size)
{
	static const tdxmmu_guest_fn fns[2] = { lane_fn, lane_fn };
	const struct race *r = cur;
	struct lane_arg la[2] = { { .l = &r->lane[0] }, { .l = &r->lane[1] } };
	void *args[2] = { &la[0], &la[1] };
	struct tdxmmu_td_config cfg;
	struct tdxmmu_destroy_report rep;
	enum tdxmmu_outcome o;
	enum tdxmmu_sept_state s;
	unsigned ok = 0;
	uint64_t shared = 0;
	tdxmmu_td *td;
	int bad = 0;

	(void)arg;
	executions++;
	tdxmmu_td_config_init(&cfg);
	cfg.nr_vcpus = 2;
	if (tdxmmu_td_create(&cfg, &td) ||
	    tdxmmu_memslot_add_flags(td, 0, 0, 4 * MB,
				     r->hugepages ? TDXMMU_MEMSLOT_HUGEPAGES : 0) ||
	    (r->hugepages && tdxmmu_memslot_add(td, 1, 4 * MB, 4 * MB)) ||
	    tdxmmu_td_finalize(td)) {
		snprintf(msg, size, "set-up failed");
		return 1;
	}
	/* KVM maps 0x1000: the S-EPT tables down to the 4K one of [0, 2M)
	 * exist, so each race is about one entry, not the walk. */
	if (tdxmmu_vcpu_write(td, 0, 0x1000, 1, &o) || o != TDXMMU_OUTCOME_OK ||
	    (r->hugepages &&
	     (tdxmmu_vcpu_write(td, 0, 4 * MB + 0x1000, 1, &o) || o != TDXMMU_OUTCOME_OK))) {
		snprintf(msg, size, "prefault failed");
		bad = 1;
		goto out;
	}
	for (unsigned i = 0; i < r->nr_setup; i++) {
		struct lane_arg sa = { .l = &r->setup[i] };

		if (r->setup[i].page == PAGE_SHARED && !shared &&
		    tdxmmu_host_frame_new(td, &shared)) {
			snprintf(msg, size, "no host frame");
			bad = 1;
			goto out;
		}
		sa.page = r->setup[i].page == PAGE_SHARED ? shared : 0;
		if (lane_fn(td, 0, &sa) || sa.status != SUCCESS) {
			snprintf(msg, size, "set-up %s: %#" PRIx64, r->setup[i].leaf, sa.status);
			bad = 1;
			goto out;
		}
	}
	for (unsigned i = 0; i < 2; i++) {
		if (r->lane[i].page == PAGE_NONE)
			continue;
		if (r->lane[i].page == PAGE_OF) {
			if (tdxmmu_host_frame_of(td, r->lane[i].of, &la[i].page)) {
				snprintf(msg, size, "no frame behind %#" PRIx64, r->lane[i].of);
				bad = 1;
				goto out;
			}
			continue;
		}
		if (r->lane[i].page == PAGE_SHARED && shared) {
			la[i].page = shared;
			continue;
		}
		if (tdxmmu_host_frame_new(td, &la[i].page)) {
			snprintf(msg, size, "no host frame");
			bad = 1;
			goto out;
		}
		if (r->lane[i].page == PAGE_SHARED)
			shared = la[i].page;
	}
	if (tdxmmu_run_vcpus(td, 2, fns, args, NULL)) {
		snprintf(msg, size, "run_vcpus failed");
		bad = 1;
		goto out;
	}
	for (unsigned i = 0; i < 2 && !bad; i++) {
		unsigned k;

		if (la[i].rc) {
			snprintf(msg, size, "lane %u (%s): API error %d", i, r->lane[i].leaf,
				 la[i].rc);
			bad = 1;
			break;
		}
		for (k = 0; k < r->nr_legal[i] && r->legal[i][k] != la[i].status; k++)
			;
		if (k == r->nr_legal[i]) {
			snprintf(msg, size, "lane %u (%s): status %#" PRIx64 " (%s) cannot happen here",
				 i, r->lane[i].leaf, la[i].status, tdxmmu_status_name(la[i].status));
			bad = 1;
			break;
		}
		seen[i][k]++;
		ok += la[i].status == SUCCESS;
	}
	if (!bad && (ok < r->min_ok || ok > r->max_ok)) {
		snprintf(msg, size, "%u calls succeeded (%#" PRIx64 ", %#" PRIx64 "), want %u..%u",
			 ok, la[0].status, la[1].status, r->min_ok, r->max_ok);
		bad = 1;
	}
	if (!bad && r->sept_gpa != UINT64_MAX &&
	    (tdxmmu_sept_state(td, r->sept_gpa, r->sept_level, &s) || s != r->sept_after)) {
		snprintf(msg, size, "S-EPT entry %#" PRIx64 " is %s, want %s", r->sept_gpa,
			 tdxmmu_sept_state_name(s), tdxmmu_sept_state_name(r->sept_after));
		bad = 1;
	}
out:
	if (tdxmmu_td_destroy(td, &rep) && !bad) {
		snprintf(msg, size, "destroy: %s", rep.message);
		bad = 1;
	}
	return bad;
}

static void explore_race(const struct race *r)
{
	struct tdxmmu_explore_options o;
	static struct tdxmmu_explore_result res;

	cur = r;
	memset(seen, 0, sizeof(seen));
	executions = 0;
	tdxmmu_explore_options_init(&o);
	o.preemptions = 2;
	if (tdxmmu_explore(one_race, NULL, &o, &res) != 0)
		fail_msg("%s: %s\n  schedule %s", r->name, res.message, res.schedule);
	assert_true(res.complete);
	assert_int_equal(res.violations, 0);
	fprintf(stderr, "%s: %" PRIu64 " schedules;", r->name, res.schedules);
	for (unsigned i = 0; i < 2; i++)
		for (unsigned k = 0; k < r->nr_legal[i]; k++)
			fprintf(stderr, " lane%u %s+%#llx: %u", i,
				tdxmmu_status_name(r->legal[i][k] & ~0xFFFFFFFFULL),
				(unsigned long long)(r->legal[i][k] & 0xFFFFFFFFULL), seen[i][k]);
	fprintf(stderr, "\n");
	/* Each lock's BUSY (and each second-comer's state error) met. */
	for (unsigned m = 0; m < r->nr_must_see; m++) {
		unsigned n = 0;

		for (unsigned i = 0; i < 2; i++)
			for (unsigned k = 0; k < r->nr_legal[i]; k++)
				if (r->legal[i][k] == r->must_see[m])
					n += seen[i][k];
		if (!n)
			fail_msg("%s: status %#llx never met in %" PRIu64 " schedules", r->name,
				 (unsigned long long)r->must_see[m], res.schedules);
	}
}

/* Two AUGs of one GPA with two pages: the S-EPT entry's lock decides.
 * The loser either finds the entry locked (BUSY, RCX: the entry lock, the
 * last lock before the commit) or comes second and finds it PENDING. */
static void test_aug_vs_aug_same_gpa(void **state)
{
	static const struct race r = {
		.name = "aug/aug same gpa",
		.lane = { { "TDH.MEM.PAGE.AUG", 0x5000, 0, PAGE_NEW },
			  { "TDH.MEM.PAGE.AUG", 0x5000, 0, PAGE_NEW } },
		.legal = { { SUCCESS, BUSY | OP_RCX, ENTRY_STATE_INCORRECT | OP_RCX },
			   { SUCCESS, BUSY | OP_RCX, ENTRY_STATE_INCORRECT | OP_RCX } },
		.nr_legal = { 3, 3 },
		.min_ok = 1, .max_ok = 1,
		.sept_gpa = 0x5000, .sept_level = 0, .sept_after = TDXMMU_SEPT_PENDING,
		.must_see = { BUSY | OP_RCX, ENTRY_STATE_INCORRECT | OP_RCX },
		.nr_must_see = 2,
	};

	(void)state;
	explore_race(&r);
}

/* Two AUGs of one page at two GPAs: the page's PAMT entry, taken
 * exclusively after the S-EPT entry, decides. The loser meets it held
 * (BUSY, R8) or finds the page already the TD's (PT_REG, not PT_NDA). */
static void test_aug_vs_aug_same_page(void **state)
{
	static const struct race r = {
		.name = "aug/aug same page",
		.lane = { { "TDH.MEM.PAGE.AUG", 0x5000, 0, PAGE_SHARED },
			  { "TDH.MEM.PAGE.AUG", 0x6000, 0, PAGE_SHARED } },
		.legal = { { SUCCESS, BUSY | OP_R8, PAGE_METADATA_INCORRECT | OP_R8 },
			   { SUCCESS, BUSY | OP_R8, PAGE_METADATA_INCORRECT | OP_R8 } },
		.nr_legal = { 3, 3 },
		.min_ok = 1, .max_ok = 1,
		.sept_gpa = UINT64_MAX,
		.must_see = { BUSY | OP_R8, PAGE_METADATA_INCORRECT | OP_R8 },
		.nr_must_see = 2,
	};

	(void)state;
	explore_race(&r);
}

/* RANGE.BLOCK (the S-EPT tree lock exclusively) of the mapped page against
 * an AUG of another page (the tree lock shared): whichever holds it first
 * makes the other BUSY on the tree (SEPT), never both; or they pass one
 * after the other. The BLOCK of a page KVM mapped is behind KVM's back,
 * so only the S-EPT is looked at, and destroy (teardown after the HKID is
 * released reclaims whatever state the entry is in) must still be clean. */
static void test_block_vs_aug(void **state)
{
	static const struct race r = {
		.name = "block/aug",
		.lane = { { "TDH.MEM.RANGE.BLOCK", 0x1000, 0, PAGE_NONE },
			  { "TDH.MEM.PAGE.AUG", 0x5000, 0, PAGE_NEW } },
		.legal = { { SUCCESS, BUSY | OP_SEPT }, { SUCCESS, BUSY | OP_SEPT } },
		.nr_legal = { 2, 2 },
		.min_ok = 1, .max_ok = 2,
		.sept_gpa = UINT64_MAX,
		.must_see = { BUSY | OP_SEPT },
		.nr_must_see = 1,
	};

	(void)state;
	explore_race(&r);
	/* Both ways round: the BLOCK meeting the AUG's shared hold, and the
	 * AUG meeting the BLOCK's exclusive one. */
	assert_true(seen[0][1] > 0);
	assert_true(seen[1][1] > 0);
}

/* Two TDH.MEM.TRACKs: the TD epoch lock, exclusive. The second meets the
 * first's hold (BUSY, TD_EPOCH) or increments the epoch after it. */
static void test_track_vs_track(void **state)
{
	static const struct race r = {
		.name = "track/track",
		.lane = { { "TDH.MEM.TRACK", 0, 0, PAGE_NONE },
			  { "TDH.MEM.TRACK", 0, 0, PAGE_NONE } },
		.legal = { { SUCCESS, BUSY | OP_TD_EPOCH }, { SUCCESS, BUSY | OP_TD_EPOCH } },
		.nr_legal = { 2, 2 },
		.min_ok = 1, .max_ok = 2,
		.sept_gpa = UINT64_MAX,
		.must_see = { BUSY | OP_TD_EPOCH },
		.nr_must_see = 1,
	};

	(void)state;
	explore_race(&r);
	/* And some schedule ran them one after the other. */
	assert_true(seen[0][0] > 0 && seen[1][0] > 0);
}

/* Two SEPT.ADDs of the 2M-level entry of [2M, 4M) with two pages: the
 * entry's lock decides, as for AUG; the second finds it NL_MAPPED. */
static void test_sept_add_vs_sept_add(void **state)
{
	static const struct race r = {
		.name = "sept.add/sept.add",
		.lane = { { "TDH.MEM.SEPT.ADD", 0x200000, 1, PAGE_NEW },
			  { "TDH.MEM.SEPT.ADD", 0x200000, 1, PAGE_NEW } },
		.legal = { { SUCCESS, BUSY | OP_RCX, ENTRY_STATE_INCORRECT | OP_RCX },
			   { SUCCESS, BUSY | OP_RCX, ENTRY_STATE_INCORRECT | OP_RCX } },
		.nr_legal = { 3, 3 },
		.min_ok = 1, .max_ok = 1,
		.sept_gpa = 0x200000, .sept_level = 1, .sept_after = TDXMMU_SEPT_NL_MAPPED,
		.must_see = { BUSY | OP_RCX, ENTRY_STATE_INCORRECT | OP_RCX },
		.nr_must_see = 2,
	};

	(void)state;
	explore_race(&r);
}

/* Two 4K AUGs whose pages are two 4K frames of one 2M page the TD owns
 * (KVM mapped it with a 2M leaf). The module's PAMT walk takes the 2M entry
 * shared, finds it assigned (PT_REG), and, since AUG wants the page
 * exclusively, upgrades that shared hold to an exclusive one before it
 * answers TDX_PAGE_METADATA_INCORRECT (the page is not free). Two such
 * calls both hold the 2M entry shared for a moment; an upgrade attempted
 * then fails (another reader), and that call answers BUSY (R8) instead.
 * Neither can succeed. */
static void test_aug_vs_aug_inside_2m_page(void **state)
{
	static const struct race r = {
		.name = "aug/aug, pages inside one 2M page",
		.hugepages = true,
		.lane = { { "TDH.MEM.PAGE.AUG", 4 * MB + 0x5000, 0, PAGE_OF, 0x1000 },
			  { "TDH.MEM.PAGE.AUG", 4 * MB + 0x6000, 0, PAGE_OF, 0x2000 } },
		.legal = { { SUCCESS, BUSY | OP_R8, PAGE_METADATA_INCORRECT | OP_R8 },
			   { SUCCESS, BUSY | OP_R8, PAGE_METADATA_INCORRECT | OP_R8 } },
		.nr_legal = { 3, 3 },
		.min_ok = 0, .max_ok = 0,
		.sept_gpa = 4 * MB + 0x5000, .sept_level = 0, .sept_after = TDXMMU_SEPT_FREE,
		.must_see = { BUSY | OP_R8, PAGE_METADATA_INCORRECT | OP_R8 },
		.nr_must_see = 2,
	};

	(void)state;
	explore_race(&r);
}

/* SEPT.REMOVE of an empty 4K S-EPT page (blocked and tracked, as the
 * module wants in a finalized TD) against TDH.PHYMEM.PAGE.WBINVD of that
 * very page. WBINVD walks the page's PAMT entry shared before it finds the
 * page is not free (PT_EPT: TDX_PAGE_METADATA_INCORRECT); SEPT.REMOVE,
 * after its S-EPT entry, takes the child page's PAMT entry exclusively. So
 * REMOVE answers BUSY (RCX) when WBINVD holds that entry; WBINVD answers
 * BUSY when REMOVE holds it, and succeeds when it comes after the REMOVE
 * (the page is the host's again, PT_NDA). */
static void test_sept_remove_vs_wbinvd(void **state)
{
	static const struct race r = {
		.name = "sept.remove/wbinvd of the child page",
		.setup = { { "TDH.MEM.SEPT.ADD", 0x200000, 1, PAGE_SHARED },
			   { "TDH.MEM.RANGE.BLOCK", 0x200000, 1, PAGE_NONE },
			   { "TDH.MEM.TRACK", 0, 0, PAGE_NONE } },
		.nr_setup = 3,
		.lane = { { "TDH.MEM.SEPT.REMOVE", 0x200000, 1, PAGE_NONE },
			  { "TDH.PHYMEM.PAGE.WBINVD", 0, 0, PAGE_SHARED } },
		.legal = { { SUCCESS, BUSY | OP_RCX },
			   { SUCCESS, BUSY | OP_RCX, PAGE_METADATA_INCORRECT | OP_RCX } },
		.nr_legal = { 2, 3 },
		.min_ok = 0, .max_ok = 2,
		.sept_gpa = UINT64_MAX,
		.must_see = { BUSY | OP_RCX, PAGE_METADATA_INCORRECT | OP_RCX },
		.nr_must_see = 2,
	};

	(void)state;
	explore_race(&r);
	/* The REMOVE's BUSY on the child page's PAMT entry, and a REMOVE
	 * that went through. */
	assert_true(seen[0][1] > 0);
	assert_true(seen[0][0] > 0);
}

/* PAGE.REMOVE of a page (a raw AUG's, blocked and tracked) against a
 * WBINVD of its frame: as above, REMOVE takes the page's PAMT entry
 * exclusively after its S-EPT entry, WBINVD walks it shared and then finds
 * the page the TD's (PT_REG). After a REMOVE the frame is free again and a
 * WBINVD of it succeeds. */
static void test_page_remove_vs_wbinvd(void **state)
{
	static const struct race r = {
		.name = "page.remove/wbinvd of the page",
		.setup = { { "TDH.MEM.PAGE.AUG", 0x5000, 0, PAGE_SHARED },
			   { "TDH.MEM.RANGE.BLOCK", 0x5000, 0, PAGE_NONE },
			   { "TDH.MEM.TRACK", 0, 0, PAGE_NONE } },
		.nr_setup = 3,
		.lane = { { "TDH.MEM.PAGE.REMOVE", 0x5000, 0, PAGE_NONE },
			  { "TDH.PHYMEM.PAGE.WBINVD", 0, 0, PAGE_SHARED } },
		.legal = { { SUCCESS, BUSY | OP_RCX },
			   { SUCCESS, BUSY | OP_RCX, PAGE_METADATA_INCORRECT | OP_RCX } },
		.nr_legal = { 2, 3 },
		.min_ok = 0, .max_ok = 2,
		.sept_gpa = UINT64_MAX,
		.must_see = { BUSY | OP_RCX, PAGE_METADATA_INCORRECT | OP_RCX },
		.nr_must_see = 2,
	};

	(void)state;
	explore_race(&r);
	assert_true(seen[0][1] > 0); /* REMOVE met WBINVD's shared hold */
	assert_true(seen[1][1] > 0); /* WBINVD met REMOVE's exclusive one */
}

/* TDH.PHYMEM.PAGE.RECLAIM of a free frame against a WBINVD of it: RECLAIM
 * takes the frame's PAMT entry exclusively before it looks at the page
 * type (free: TDX_PAGE_METADATA_INCORRECT), WBINVD shared (free: success).
 * Whichever holds it makes the other BUSY; nothing changes either way. */
static void test_reclaim_vs_wbinvd_free_frame(void **state)
{
	static const struct race r = {
		.name = "reclaim/wbinvd of a free frame",
		.lane = { { "TDH.PHYMEM.PAGE.RECLAIM", 0, 0, PAGE_SHARED },
			  { "TDH.PHYMEM.PAGE.WBINVD", 0, 0, PAGE_SHARED } },
		.legal = { { PAGE_METADATA_INCORRECT | OP_RCX, BUSY | OP_RCX },
			   { SUCCESS, BUSY | OP_RCX } },
		.nr_legal = { 2, 2 },
		.min_ok = 0, .max_ok = 1,
		.sept_gpa = UINT64_MAX,
		.must_see = { BUSY | OP_RCX },
		.nr_must_see = 1,
	};

	(void)state;
	explore_race(&r);
	assert_true(seen[0][1] > 0 && seen[1][1] > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_aug_vs_aug_same_gpa),
		cmocka_unit_test(test_aug_vs_aug_same_page),
		cmocka_unit_test(test_block_vs_aug),
		cmocka_unit_test(test_track_vs_track),
		cmocka_unit_test(test_sept_add_vs_sept_add),
		cmocka_unit_test(test_aug_vs_aug_inside_2m_page),
		cmocka_unit_test(test_sept_remove_vs_wbinvd),
		cmocka_unit_test(test_page_remove_vs_wbinvd),
		cmocka_unit_test(test_reclaim_vs_wbinvd_free_frame),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
