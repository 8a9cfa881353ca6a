/* SPDX-License-Identifier: MIT */
/*
 * The module under contention (tdx-module-sept.md §11): several host threads
 * hammer AUG / BLOCK / TRACK / REMOVE / UNBLOCK / SEPT.RD on a small set of
 * overlapping GPAs of a running TD while a vCPU thread enters and leaves
 * guest mode, ACCEPTs and walks. Every lock in the module is a try-lock, so
 * contention must show up as BUSY statuses, never as a corrupted S-EPT, PAMT
 * or CHLDCNT. The test asserts that
 *  - BUSY was returned at least once;
 *  - every status is one the leaf may legally return here (valid operands,
 *    no migration, no BUSY injection);
 *  - at the end, the S-EPT, the PAMT and CHLDCNT agree, pages were neither
 *    lost nor duplicated (each thread keeps the pages it owns: AUG gives one
 *    to the TD, REMOVE's RCX hands one back to whoever removed it), and no
 *    lock is left held.
 * Bounded in time: each thread stops after RUN_MS or MAX_ITERS.
 */
#include <pthread.h>
#include <sched.h>
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

#include "tdx_fixture.h"
#include "tdx/tdx_internal.h" /* the counted shared holds */

#define NR_HOST 4
#define NR_GPAS 16
#define PAGES_PER_HOST 10
#define TOTAL_PAGES (NR_HOST * PAGES_PER_HOST)
#define RUN_MS 1500
#define MAX_ITERS 400000
/* Where ACCEPT and the walk check count in the per-leaf tables (free slots). */
#define ACCEPT_SLOT 60
#define WALK_SLOT 63

#define BUSY(op) (0x8000020000000000ULL + (op))
static const uint64_t BUSY_TREE = BUSY(TDX_OPERAND_ID_SEPT);
static const uint64_t BUSY_RCX = BUSY(TDX_OPERAND_ID_RCX);
static const uint64_t BUSY_EPOCH = BUSY(TDX_OPERAND_ID_TD_EPOCH);
static const uint64_t STATE_INCORRECT = 0xC0000B0D00000001ULL;
static const uint64_t ALREADY_BLOCKED = 0x00000B0700000001ULL;
static const uint64_t NOT_BLOCKED = 0xC0000B0600000001ULL;
static const uint64_t NOT_TRACKED_RCX = 0xC0000B0800000001ULL;
static const uint64_t NOT_TRACKED_TREE = 0xC0000B0800000092ULL;
static const uint64_t ALREADY_ACCEPTED = 0x00000B0A00000000ULL;

/* The shared holds the module counts per thread slot outside the lock
 * words (tdx_locks.h): all given back. */
static void assert_no_counted_holds(struct fx *f)
{
	struct tdx_td *td = tdx_td_of_tdr_pfn(f->m, hpa_to_pfn(f->tdr));
	uint64_t n1g = (f->m->pamt.nr + 512 * 512 - 1) / (512 * 512), sum = 0;

	assert_non_null(td);
	assert_int_equal(tdx_tdr_shared_holders(f->m, td->index), 0);
	assert_int_equal(tdx_td_holders(f->m, td->index, TD_HOLD_OP_STATE_SHIFT), 0);
	assert_int_equal(tdx_td_holders(f->m, td->index, TD_HOLD_SEPT_SHIFT), 0);
	assert_int_equal(tdx_td_holders(f->m, td->index, TD_HOLD_EPOCH_SHIFT), 0);
	assert_int_equal(tdx_epoch_refcount(td, 0) + tdx_epoch_refcount(td, 1), 0);
	for (uint64_t i = 0; i < n1g; i++)
		sum += pamt_1g_shared_holders(&f->m->pamt, i);
	assert_int_equal(sum, 0);
}

struct shared {
	struct fx *f;
	uint64_t gpas[NR_GPAS];
	hpa_t pages[TOTAL_PAGES];
	struct timespec start;
	_Atomic uint64_t busy;          /* BUSY statuses seen */
	_Atomic uint64_t illegal;       /* statuses outside the legal sets */
	_Atomic uint64_t illegal_status;
	_Atomic int illegal_leaf;
	_Atomic uint64_t ops;
	_Atomic uint64_t successes[64];
	_Atomic bool stop;
};

struct worker {
	struct shared *sh;
	unsigned id;
	uint64_t rng;
	hpa_t pool[TOTAL_PAGES];        /* pages this thread owns */
	unsigned npool;
};

static uint64_t next_rand(struct worker *w)
{
	/* xorshift64 */
	w->rng ^= w->rng << 13;
	w->rng ^= w->rng >> 7;
	w->rng ^= w->rng << 17;
	return w->rng;
}

static bool time_up(struct shared *sh)
{
	struct timespec now;
	long ms;

	if (atomic_load_explicit(&sh->stop, memory_order_relaxed))
		return true;
	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (now.tv_sec - sh->start.tv_sec) * 1000 +
	     (now.tv_nsec - sh->start.tv_nsec) / 1000000;
	return ms >= RUN_MS;
}

/* Records a status against the legal set of its leaf. */
static void check(struct shared *sh, int leaf, uint64_t st,
		  const uint64_t *legal, size_t n)
{
	if ((st & 0xFFFFFFFF00000000ULL) == 0x8000020000000000ULL)
		atomic_fetch_add_explicit(&sh->busy, 1, memory_order_relaxed);
	if (st == TDX_SUCCESS)
		atomic_fetch_add_explicit(&sh->successes[leaf], 1, memory_order_relaxed);
	for (size_t i = 0; i < n; i++)
		if (st == legal[i])
			return;
	if (atomic_fetch_add(&sh->illegal, 1) == 0) {
		atomic_store(&sh->illegal_status, st);
		atomic_store(&sh->illegal_leaf, leaf);
	}
}

#define CHECK(sh, leaf, st, ...)                                              \
	do {                                                                  \
		static const uint64_t legal_[] = { __VA_ARGS__ };             \
		check((sh), (leaf), (st), legal_, sizeof(legal_) / sizeof(legal_[0])); \
	} while (0)

static uint64_t call(struct fx *f, int leaf, uint64_t rcx, uint64_t r8,
		     struct seamcall_regs *out)
{
	return fx_call(f, leaf, rcx, leaf == TDH_MEM_TRACK ? 0 : f->tdr, r8, 0, out);
}

static void *host_thread(void *arg)
{
	struct worker *w = arg;
	struct shared *sh = w->sh;
	struct fx *f = sh->f;

	for (unsigned it = 0; it < MAX_ITERS; it++) {
		uint64_t r = next_rand(w), gpa = sh->gpas[(r >> 8) % NR_GPAS];
		uint64_t info = tdx_page_info(gpa, 0), st;
		struct seamcall_regs out;

		if ((it & 63) == 0 && time_up(sh))
			break;
		switch (r % 8) {
		case 0:
		case 1:
			if (!w->npool)
				goto rd;
			st = call(f, TDH_MEM_PAGE_AUG, info, w->pool[w->npool - 1], NULL);
			CHECK(sh, TDH_MEM_PAGE_AUG, st, TDX_SUCCESS, BUSY_TREE, BUSY_RCX,
			      STATE_INCORRECT);
			if (st == TDX_SUCCESS)
				w->npool--;
			break;
		case 2:
			st = call(f, TDH_MEM_RANGE_BLOCK, info, 0, NULL);
			CHECK(sh, TDH_MEM_RANGE_BLOCK, st, TDX_SUCCESS, BUSY_TREE, BUSY_RCX,
			      STATE_INCORRECT, ALREADY_BLOCKED);
			break;
		case 3:
			st = fx_call(f, TDH_MEM_TRACK, f->tdr, 0, 0, 0, NULL);
			CHECK(sh, TDH_MEM_TRACK, st, TDX_SUCCESS, BUSY_EPOCH,
			      TDX_PREVIOUS_TLB_EPOCH_BUSY);
			break;
		case 4:
		case 5:
			st = call(f, TDH_MEM_PAGE_REMOVE, info, 0, &out);
			CHECK(sh, TDH_MEM_PAGE_REMOVE, st, TDX_SUCCESS, BUSY_TREE, BUSY_RCX,
			      STATE_INCORRECT, NOT_BLOCKED, NOT_TRACKED_RCX);
			if (st == TDX_SUCCESS)
				w->pool[w->npool++] = out.rcx;
			break;
		case 6:
			st = call(f, TDH_MEM_RANGE_UNBLOCK, info, 0, NULL);
			CHECK(sh, TDH_MEM_RANGE_UNBLOCK, st, TDX_SUCCESS, BUSY_TREE, BUSY_RCX,
			      STATE_INCORRECT, NOT_TRACKED_TREE);
			break;
		default:
rd:
			st = call(f, TDH_MEM_SEPT_RD, info, 0, NULL);
			CHECK(sh, TDH_MEM_SEPT_RD, st, TDX_SUCCESS, BUSY_TREE, BUSY_RCX);
			break;
		}
		atomic_fetch_add_explicit(&sh->ops, 1, memory_order_relaxed);
	}
	return NULL;
}

/* Enters, ACCEPTs and walks a few GPAs, exits; again. */
static void *vcpu_thread(void *arg)
{
	struct worker *w = arg;
	struct shared *sh = w->sh;
	struct fx *f = sh->f;

	for (unsigned it = 0; it < MAX_ITERS; it++) {
		uint64_t st;

		if ((it & 15) == 0 && time_up(sh))
			break;
		st = fx_call(f, TDH_VP_ENTER, f->tdvpr[0], 0, 0, 0, NULL);
		CHECK(sh, TDH_VP_ENTER, st, TDX_SUCCESS, BUSY_EPOCH);
		if (st != TDX_SUCCESS)
			continue;
		for (unsigned k = 0; k < 8; k++) {
			uint64_t gpa = sh->gpas[next_rand(w) % NR_GPAS];
			struct tdx_hw_walk hw;

			if (tdg_mem_page_accept(f->m, f->tdvpr[0], tdx_page_info(gpa, 0), &st) ==
			    TDCALL_RETURNED)
				CHECK(sh, ACCEPT_SLOT, st, TDX_SUCCESS,
				      ALREADY_ACCEPTED, BUSY_RCX);
			tdx_hw_walk(f->m, f->tdvpr[0], gpa, &hw);
			/* The CPU sees a leaf at level 0 or nothing. */
			if (hw.kind != TDX_HW_VIOLATION && (hw.level != 0 || !hw.hpa ||
							     hw.keyid != f->hkid))
				CHECK(sh, WALK_SLOT, 1, 0);
		}
		tdx_td_exit(f->m, f->tdvpr[0]);
		atomic_fetch_add_explicit(&sh->ops, 1, memory_order_relaxed);
	}
	return NULL;
}

/* ---- the final consistency check ---------------------------------------- */

struct census {
	struct fx *f;
	uint64_t leaves_4k;     /* 4K equivalents of the leaves */
	unsigned nr_leaves, nr_sept_pages, bad;
	hpa_t leaf_hpa[TOTAL_PAGES];
};

static void visit(uint64_t gpa, unsigned level, enum tdx_sept_state s, hpa_t hpa,
		  void *arg)
{
	struct census *c = arg;
	enum tdx_page_type pt;
	hpa_t owner;
	unsigned size;

	(void)gpa;
	tdx_debug_pamt(c->f->m, hpa_to_pfn(hpa), &pt, &owner, &size);
	switch (s) {
	case SEPT_NL_MAPPED:
	case SEPT_NL_BLOCKED:
		c->nr_sept_pages++;
		if (pt != PT_EPT || owner != c->f->tdr || size != 0)
			c->bad++;
		break;
	case SEPT_MAPPED:
	case SEPT_PENDING:
	case SEPT_BLOCKED:
	case SEPT_PENDING_BLOCKED:
		if (pt != PT_REG || owner != c->f->tdr || size != level ||
		    c->nr_leaves == TOTAL_PAGES) {
			c->bad++;
			break;
		}
		c->leaf_hpa[c->nr_leaves++] = hpa;
		c->leaves_4k += 1ULL << (9 * level);
		break;
	default:
		c->bad++;
	}
}

static int cmp_hpa(const void *a, const void *b)
{
	hpa_t x = *(const hpa_t *)a, y = *(const hpa_t *)b;

	return x < y ? -1 : x > y;
}

static void test_hammer(void **state)
{
	struct fx f;
	struct shared *sh = calloc(1, sizeof(*sh));
	struct worker *w = calloc(NR_HOST + 1, sizeof(*w));
	pthread_t th[NR_HOST + 1];
	struct census cs = { .f = &f };
	hpa_t all[TOTAL_PAGES];
	unsigned nall = 0;
	uint64_t chld_control;

	(void)state;
	assert_non_null(sh);
	assert_non_null(w);
	fx_init(&f, 48, 1);
	fx_finalize(&f);
	chld_control = tdx_debug_chldcnt(f.m, f.tdr);
	sh->f = &f;
	/* Two PT pages' worth of overlapping GPAs, paths built beforehand. */
	for (unsigned i = 0; i < NR_GPAS; i++) {
		sh->gpas[i] = (i < NR_GPAS / 2 ? 0x200000ULL : 0x40000000ULL) +
			      (i % (NR_GPAS / 2)) * PAGE_SIZE;
		fx_sept_path(&f, sh->gpas[i], 0);
	}
	for (unsigned t = 0; t <= NR_HOST; t++) {
		w[t].sh = sh;
		w[t].id = t;
		w[t].rng = 0x9E3779B97F4A7C15ULL * (t + 1);
		for (unsigned k = 0; t < NR_HOST && k < PAGES_PER_HOST; k++) {
			w[t].pool[w[t].npool++] = fx_new_page(&f);
			sh->pages[t * PAGES_PER_HOST + k] = w[t].pool[k];
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &sh->start);
	for (unsigned t = 0; t < NR_HOST; t++)
		assert_int_equal(pthread_create(&th[t], NULL, host_thread, &w[t]), 0);
	assert_int_equal(pthread_create(&th[NR_HOST], NULL, vcpu_thread, &w[NR_HOST]), 0);
	for (unsigned t = 0; t <= NR_HOST; t++)
		pthread_join(th[t], NULL);

	print_message("%llu ops, %llu BUSY; successes: AUG %llu BLOCK %llu TRACK %llu "
		      "REMOVE %llu UNBLOCK %llu ENTER %llu ACCEPT %llu\n",
		      (unsigned long long)sh->ops, (unsigned long long)sh->busy,
		      (unsigned long long)sh->successes[TDH_MEM_PAGE_AUG],
		      (unsigned long long)sh->successes[TDH_MEM_RANGE_BLOCK],
		      (unsigned long long)sh->successes[TDH_MEM_TRACK],
		      (unsigned long long)sh->successes[TDH_MEM_PAGE_REMOVE],
		      (unsigned long long)sh->successes[TDH_MEM_RANGE_UNBLOCK],
		      (unsigned long long)sh->successes[TDH_VP_ENTER],
		      (unsigned long long)sh->successes[ACCEPT_SLOT]);
	if (sh->illegal)
		fail_msg("%llu illegal statuses, first %#llx from leaf %d",
			 (unsigned long long)sh->illegal,
			 (unsigned long long)sh->illegal_status, sh->illegal_leaf);
	/* Contention needs threads that really run at once; valgrind runs one
	 * at a time, so there only the checks below apply. */
	if (!RUNNING_ON_VALGRIND)
		assert_true(sh->busy > 0);
	/* The mix did real work, not only BUSY. */
	assert_true(sh->successes[TDH_MEM_PAGE_AUG] > 0);
	assert_true(sh->successes[TDH_MEM_PAGE_REMOVE] > 0);

	/* The S-EPT against the PAMT and CHLDCNT (§15 items 1 and 2). */
	tdx_debug_sept_foreach(f.m, f.tdr, visit, &cs);
	assert_int_equal(cs.bad, 0);
	assert_int_equal(cs.nr_sept_pages, 5); /* PDPT, 2 x PD, 2 x PT */
	assert_int_equal(tdx_debug_chldcnt(f.m, f.tdr),
			 chld_control + cs.nr_sept_pages + cs.leaves_4k);
	/* The PAMT's own count: everything CHLDCNT counts, plus the TDR. */
	assert_int_equal(tdx_debug_td_pages(f.m, f.tdr), tdx_debug_chldcnt(f.m, f.tdr) + 1);

	/* Pages: mapped ones and the threads' pools are the original set,
	 * each exactly once; pooled ones are free in the PAMT. */
	for (unsigned i = 0; i < cs.nr_leaves; i++)
		all[nall++] = cs.leaf_hpa[i];
	for (unsigned t = 0; t < NR_HOST; t++) {
		for (unsigned k = 0; k < w[t].npool; k++) {
			enum tdx_page_type pt;
			hpa_t owner;

			tdx_debug_pamt(f.m, hpa_to_pfn(w[t].pool[k]), &pt, &owner, NULL);
			assert_int_equal(pt, PT_NDA);
			assert_true(nall < TOTAL_PAGES);
			all[nall++] = w[t].pool[k];
		}
	}
	assert_int_equal(nall, TOTAL_PAGES);
	qsort(all, nall, sizeof(all[0]), cmp_hpa);
	qsort(sh->pages, TOTAL_PAGES, sizeof(sh->pages[0]), cmp_hpa);
	assert_memory_equal(all, sh->pages, sizeof(all));

	/* No lock left held: every entry lock (SEPT.RD takes it), the tree
	 * lock exclusively (BLOCK/UNBLOCK of the PD entry), the epoch lock and
	 * both refcounts (two TRACKs), the TDR exclusively (FINALIZE gets as
	 * far as its OP_STATE check). */
	for (unsigned i = 0; i < NR_GPAS; i++)
		FX_OK(fx_call(&f, TDH_MEM_SEPT_RD, tdx_page_info(sh->gpas[i], 0), f.tdr, 0, 0, NULL));
	/* TRACK yields to a VP.ENTER that found the epoch lock taken for
	 * TDX_ENTRY_WAIT_WINDOW_NS of wall time (tdh_mem_track.c): the vCPU
	 * thread's last entry may have done so just before it stopped, so wait
	 * the window out; a BUSY after that is a lock left held. */
	{
		struct timespec ts = { 0, (long)(2 * TDX_ENTRY_WAIT_WINDOW_NS) };

		while (nanosleep(&ts, &ts))
			;
	}
	FX_OK(fx_call(&f, TDH_MEM_TRACK, f.tdr, 0, 0, 0, NULL));
	FX_OK(fx_call(&f, TDH_MEM_TRACK, f.tdr, 0, 0, 0, NULL));
	FX_OK(fx_call(&f, TDH_MEM_RANGE_BLOCK, tdx_page_info(0x200000, 1), f.tdr, 0, 0, NULL));
	FX_OK(fx_call(&f, TDH_MEM_TRACK, f.tdr, 0, 0, 0, NULL));
	FX_OK(fx_call(&f, TDH_MEM_RANGE_UNBLOCK, tdx_page_info(0x200000, 1), f.tdr, 0, 0, NULL));
	FX_STATUS(fx_call(&f, TDH_MR_FINALIZE, f.tdr, 0, 0, 0, NULL), TDX_OP_STATE_INCORRECT);
	FX_OK(fx_call(&f, TDH_VP_ENTER, f.tdvpr[0], 0, 0, 0, NULL));
	tdx_td_exit(f.m, f.tdvpr[0]);
	assert_no_counted_holds(&f);

	fx_fini(&f);
	free(w);
	free(sh);
}

/* ---- a 2M page changing size while others look its frames up ------------- */

/*
 * One thread cycles a 2M range through AUG (2M) -> DEMOTE -> PROMOTE ->
 * REMOVE; another keeps trying to AUG single frames of the same range, and
 * the whole range, at GPAs of its own. The PAMT must never hand a frame to
 * both: the module's PAMT walk holds the large entry shared while it looks a
 * page up, and DEMOTE/PROMOTE change a page's size under that entry held
 * exclusively. Ownership is shadowed in per-frame tokens: whoever the module
 * gives a frame claims its token, and gives it up before asking the module
 * to take the frame back; a claim that finds the token taken is a frame
 * given twice.
 */
#define GA 0x400000ULL          /* the cycler's 2M GPA */
#define GI 0x40000000ULL        /* the interloper's 4K GPA */
#define GI2 0x600000ULL         /* the interloper's 2M GPA */

struct race {
	struct fx *f;
	hpa_t base;
	hpa_t sept_page;        /* the cycler's spare S-EPT page */
	struct timespec start;
	_Atomic unsigned token[512];
	_Atomic uint64_t double_owned, illegal, illegal_status, busy, cycles, steals;
	_Atomic int illegal_leaf;
	_Atomic bool stop;
};

/* The race runs for RUN_MS/2, and longer (up to RACE_CAP_MS) until the
 * cycler has made RACE_MIN_CYCLES full cycles: under a serialising scheduler
 * (valgrind) a time window alone can end before any progress. */
#define RACE_MIN_CYCLES 8
#define RACE_CAP_MS 60000

static bool race_time_up(struct race *rc)
{
	struct timespec now;
	long ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (now.tv_sec - rc->start.tv_sec) * 1000 +
	     (now.tv_nsec - rc->start.tv_nsec) / 1000000;
	if (ms >= RACE_CAP_MS)
		return true;
	return ms >= RUN_MS / 2 && atomic_load(&rc->cycles) >= RACE_MIN_CYCLES;
}

static void race_check(struct race *rc, int leaf, uint64_t st, const uint64_t *legal,
		       size_t n)
{
	if ((st & 0xFFFFFFFF00000000ULL) == 0x8000020000000000ULL) {
		atomic_fetch_add(&rc->busy, 1);
		/* Back off as KVM does between retries: the lock holder may be
		 * descheduled in the middle of its SEAMCALL. */
		sched_yield();
	}
	for (size_t i = 0; i < n; i++)
		if (st == legal[i])
			return;
	if (atomic_fetch_add(&rc->illegal, 1) == 0) {
		atomic_store(&rc->illegal_status, st);
		atomic_store(&rc->illegal_leaf, leaf);
	}
}

#define RCHECK(rc, leaf, st, ...)                                             \
	do {                                                                  \
		static const uint64_t legal_[] = { __VA_ARGS__ };             \
		race_check((rc), (leaf), (st), legal_, sizeof(legal_) / sizeof(legal_[0])); \
	} while (0)

static void claim(struct race *rc, unsigned first, unsigned n, unsigned who)
{
	for (unsigned i = first; i < first + n; i++) {
		unsigned none = 0;

		if (!atomic_compare_exchange_strong(&rc->token[i], &none, who))
			atomic_fetch_add(&rc->double_owned, 1);
	}
}

static void unclaim(struct race *rc, unsigned first, unsigned n)
{
	for (unsigned i = first; i < first + n; i++)
		atomic_store(&rc->token[i], 0);
}

static const uint64_t META_R8 = 0xC000030000000008ULL;
static const uint64_t BUSY_R8 = BUSY(TDX_OPERAND_ID_R8);

static void *cycler_thread(void *arg)
{
	struct race *rc = arg;
	struct fx *f = rc->f;
	enum { FREE, LEAF, SPLIT } s = FREE;
	struct seamcall_regs out;
	uint64_t st;

	for (unsigned it = 0;; it++) {
		if ((it & 15) == 0 && race_time_up(rc))
			break;
		switch (s) {
		case FREE:
			st = fx_call(f, TDH_MEM_PAGE_AUG, tdx_page_info(GA, 1), f->tdr, rc->base, 0, NULL);
			RCHECK(rc, TDH_MEM_PAGE_AUG, st, TDX_SUCCESS, META_R8, BUSY_R8);
			if (st == TDX_SUCCESS) {
				claim(rc, 0, 512, 1);
				s = LEAF;
			} else {
				sched_yield(); /* the interloper holds a frame */
			}
			break;
		case LEAF:
			if (it & 1) {
				st = fx_call(f, TDH_MEM_PAGE_DEMOTE, tdx_page_info(GA, 1), f->tdr,
					     rc->sept_page, 0, NULL);
				RCHECK(rc, TDH_MEM_PAGE_DEMOTE, st, TDX_SUCCESS, BUSY_RCX);
				if (st == TDX_SUCCESS)
					s = SPLIT;
				break;
			}
			unclaim(rc, 0, 512);
			st = fx_call(f, TDH_MEM_PAGE_REMOVE, tdx_page_info(GA, 1), f->tdr, 0, 0, &out);
			RCHECK(rc, TDH_MEM_PAGE_REMOVE, st, TDX_SUCCESS, BUSY_RCX);
			if (st == TDX_SUCCESS) {
				s = FREE;
				atomic_fetch_add(&rc->cycles, 1);
			} else {
				claim(rc, 0, 512, 1);
			}
			break;
		case SPLIT:
			st = fx_call(f, TDH_MEM_PAGE_PROMOTE, tdx_page_info(GA, 1), f->tdr, 0, 0, &out);
			RCHECK(rc, TDH_MEM_PAGE_PROMOTE, st, TDX_SUCCESS, BUSY_RCX);
			if (st == TDX_SUCCESS) {
				rc->sept_page = out.rcx;
				s = LEAF;
			}
			break;
		}
	}
	/* Leave the range free. */
	while (s != FREE) {
		if (s == SPLIT) {
			st = fx_call(f, TDH_MEM_PAGE_PROMOTE, tdx_page_info(GA, 1), f->tdr, 0, 0, &out);
			if (st == TDX_SUCCESS) {
				rc->sept_page = out.rcx;
				s = LEAF;
			}
			continue;
		}
		unclaim(rc, 0, 512);
		if (fx_call(f, TDH_MEM_PAGE_REMOVE, tdx_page_info(GA, 1), f->tdr, 0, 0, NULL) ==
		    TDX_SUCCESS)
			s = FREE;
		else
			claim(rc, 0, 512, 1);
	}
	atomic_store(&rc->stop, true);
	return NULL;
}

static void *interloper_thread(void *arg)
{
	struct race *rc = arg;
	struct fx *f = rc->f;
	uint64_t rng = 12345, st;

	while (!atomic_load(&rc->stop)) {
		bool whole;
		unsigned k;

		rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
		whole = (rng & 7) == 0;
		k = (unsigned)(rng >> 16) % 512;
		if (whole)
			st = fx_call(f, TDH_MEM_PAGE_AUG, tdx_page_info(GI2, 1), f->tdr, rc->base, 0, NULL);
		else
			st = fx_call(f, TDH_MEM_PAGE_AUG, tdx_page_info(GI, 0), f->tdr,
				     rc->base + k * PAGE_SIZE, 0, NULL);
		RCHECK(rc, TDH_MEM_PAGE_AUG, st, TDX_SUCCESS, META_R8, BUSY_R8);
		if (st != TDX_SUCCESS) {
			/* Let the cycler run: on a serialising scheduler a
			 * spinning interloper would starve it. */
			sched_yield();
			continue;
		}
		atomic_fetch_add(&rc->steals, 1);
		claim(rc, whole ? 0 : k, whole ? 512 : 1, 2);
		for (;;) {
			unclaim(rc, whole ? 0 : k, whole ? 512 : 1);
			st = fx_call(f, TDH_MEM_PAGE_REMOVE, tdx_page_info(whole ? GI2 : GI, whole),
				     f->tdr, 0, 0, NULL);
			RCHECK(rc, TDH_MEM_PAGE_REMOVE, st, TDX_SUCCESS, BUSY_RCX);
			if (st == TDX_SUCCESS)
				break;
			claim(rc, whole ? 0 : k, whole ? 512 : 1, 2);
		}
	}
	return NULL;
}

static void test_large_page_races(void **state)
{
	struct fx f;
	struct race *rc = calloc(1, sizeof(*rc));
	pthread_t a, b;
	uint64_t chld;

	(void)state;
	assert_non_null(rc);
	/* Before finalize: no blocking or tracking needed, so the two threads
	 * meet only in the PAMT. */
	fx_init(&f, 48, 1);
	fx_sept_path(&f, GA, 1);
	fx_sept_path(&f, GI2, 1);
	fx_sept_path(&f, GI, 0);
	chld = tdx_debug_chldcnt(f.m, f.tdr);
	rc->f = &f;
	rc->base = fx_new_2m(&f);
	rc->sept_page = fx_new_page(&f);
	clock_gettime(CLOCK_MONOTONIC, &rc->start);
	assert_int_equal(pthread_create(&a, NULL, cycler_thread, rc), 0);
	assert_int_equal(pthread_create(&b, NULL, interloper_thread, rc), 0);
	pthread_join(a, NULL);
	pthread_join(b, NULL);

	print_message("%llu cycles, %llu frames taken by the interloper, %llu BUSY\n",
		      (unsigned long long)rc->cycles, (unsigned long long)rc->steals,
		      (unsigned long long)rc->busy);
	if (rc->illegal)
		fail_msg("%llu illegal statuses, first %#llx from leaf %d",
			 (unsigned long long)rc->illegal,
			 (unsigned long long)rc->illegal_status, rc->illegal_leaf);
	assert_int_equal(rc->double_owned, 0);
	/* valgrind runs one thread at a time, so there is no race to make
	 * progress in; there it checks memory errors only. Under real threads
	 * (plain, ASan and TSan builds) the cycler must have gone round. */
	if (!RUNNING_ON_VALGRIND)
		assert_true(rc->cycles >= RACE_MIN_CYCLES);
	/* Everything given back: the range and the S-EPT page are free. */
	assert_int_equal(tdx_debug_chldcnt(f.m, f.tdr), chld);
	for (unsigned i = 0; i < 512; i++) {
		enum tdx_page_type pt;
		hpa_t owner;
		unsigned size;

		tdx_debug_pamt(f.m, hpa_to_pfn(rc->base) + i, &pt, &owner, &size);
		assert_int_equal(pt, PT_NDA);
		assert_int_equal(size, 0);
	}
	FX_OK(fx_call(&f, TDH_MEM_PAGE_AUG, tdx_page_info(GA, 1), f.tdr, rc->base, 0, NULL));
	FX_OK(fx_call(&f, TDH_MEM_PAGE_DEMOTE, tdx_page_info(GA, 1), f.tdr, rc->sept_page, 0, NULL));
	fx_fini(&f);
	free(rc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hammer),
		cmocka_unit_test(test_large_page_races),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
