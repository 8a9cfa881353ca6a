/* SPDX-License-Identifier: MIT */
/*
 * Edges of the emulated TDX module that neither KVM nor the scenarios reach
 * (coverage round 5, issue 14), each asserted against the status the
 * developers' reference tdx-module-sept.md (TDX module 1.5.01) gives:
 *  - operand checks of raw SEAMCALLs: the reserved bits of SEPT.ADD's and
 *    DEMOTE's TD handle (§1.5);
 *  - the §3 step-3 "TD fatal" check, which no model operation reaches (the
 *    model never sets TDR.FATAL): set white-box, every leaf through the
 *    common prologue answers TDX_TD_FATAL before anything else;
 *  - the key-ownership-table and CACHE.WB locks held by another caller
 *    (§11: a try-lock that fails answers BUSY on its operand);
 *  - the host-priority protocol of the PAMT-style lock word (§11.1);
 *  - the fault-injection and cost knobs with out-of-range arguments, and the
 *    debug views asked about what is not a TD: clamped or refused, never a
 *    crash or an out-of-bounds access;
 *  - the check's lock audit (tdx_debug_locks_held) naming each lock left
 *    held, the defensive path that keeps the explorations honest;
 *  - the CPU's S-EPT walk asked for a shared GPA or from a stale table.
 */
#include "tdx_fixture.h"
#include "tdx/tdx_internal.h"

#define GPA 0x200000ULL

static struct tdx_td *fx_td(struct fx *f)
{
	struct tdx_td *td = tdx_td_of_tdr_pfn(f->m, hpa_to_pfn(f->tdr));

	assert_non_null(td);
	return td;
}

/* §1.5: RDX of SEPT.ADD and DEMOTE is a handle with flags; bits 11:1 and
 * 63:52 are reserved -> TDX_OPERAND_INVALID + RDX, before the TDR is even
 * looked at. Bit 0 (ALLOW_EXISTING / L2_SEPT_ADD_MODE) is not reserved. */
static void test_handle_reserved_bits(void **state)
{
	struct fx f;
	struct seamcall_regs out;
	uint64_t chld;
	hpa_t page;

	(void)state;
	fx_init(&f, 48, 1);
	page = fx_new_page(&f);
	for (unsigned bit = 1; bit < 12; bit++)
		FX_STATUS(fx_call(&f, TDH_MEM_SEPT_ADD, tdx_page_info(GPA & ~0x3FFFFFFFULL, 2),
				  f.tdr | (1ULL << bit), page, 0, &out),
			  0xC000010000000002ULL);
	FX_STATUS(fx_call(&f, TDH_MEM_SEPT_ADD, tdx_page_info(0, 2), f.tdr | (1ULL << 52), page, 0,
			  &out),
		  0xC000010000000002ULL);
	assert_int_equal(out.rcx, 0);
	assert_int_equal(out.rdx, 0);
	FX_STATUS(fx_call(&f, TDH_MEM_PAGE_DEMOTE, tdx_page_info(0, 1), f.tdr | 0x800, page, 0,
			  NULL),
		  0xC000010000000002ULL);
	FX_STATUS(fx_call(&f, TDH_MEM_PAGE_DEMOTE, tdx_page_info(0, 1), f.tdr | (1ULL << 63), page,
			  0, NULL),
		  0xC000010000000002ULL);
	/* Bit 0 set, the rest clean: the handle passes, the page is used. */
	chld = tdx_debug_chldcnt(f.m, f.tdr);
	FX_OK(fx_call(&f, TDH_MEM_SEPT_ADD, tdx_page_info(0, 3), f.tdr | TDX_SEPT_ADD_ALLOW_EXISTING,
		      page, 0, NULL));
	assert_int_equal(tdx_debug_chldcnt(f.m, f.tdr), chld + 1);
	fx_fini(&f);
}

/* §1.5: the PAGE.ADD source (R9) must be a shared HPA below MAX_PA; bits
 * above the key id field (6 bits: key ids 0..63) make it invalid
 * (OPERAND_INVALID + R9), checked before the target page, which stays free. */
_Static_assert(HOST_MAX_KEYID == 63, "six key id bits");
static void test_page_add_source_high_bits(void **state)
{
	struct fx f;
	hpa_t page, src;

	(void)state;
	fx_init(&f, 48, 1);
	fx_sept_path(&f, GPA, 0);
	page = fx_new_page(&f);
	src = fx_new_page(&f);
	FX_STATUS(fx_call(&f, TDH_MEM_PAGE_ADD, tdx_page_info(GPA, 0), f.tdr, page, src | (1ULL << 63),
			  NULL),
		  TDX_OPERAND_INVALID + TDX_OPERAND_ID_R9);
	FX_STATUS(fx_call(&f, TDH_MEM_PAGE_ADD, tdx_page_info(GPA, 0), f.tdr, page,
			  src | (1ULL << (HOST_KEYID_SHIFT + 6)), NULL),
		  TDX_OPERAND_INVALID + TDX_OPERAND_ID_R9);
	assert_int_equal(fx_state(&f, GPA, 0), SEPT_FREE);
	FX_OK(fx_call(&f, TDH_MEM_PAGE_ADD, tdx_page_info(GPA, 0), f.tdr, page, src, NULL));
	assert_int_equal(fx_state(&f, GPA, 0), SEPT_MAPPED);
	fx_fini(&f);
}

/* §3 step 3: a fatal TD answers TDX_TD_FATAL, checked right after the TDR
 * (before the lifecycle, OP_STATE and the operands). No model operation
 * sets TDR.FATAL (the real module does on an unrecoverable TD error), so
 * the check is reached white-box. */
static void test_td_fatal(void **state)
{
	struct fx f;
	struct tdx_td *td;
	uint64_t chld;

	(void)state;
	fx_init(&f, 48, 1);
	fx_finalize(&f);
	td = fx_td(&f);
	chld = tdx_debug_chldcnt(f.m, f.tdr);
	td->fatal = true;
	/* Bad page info too: fatal wins (step 3 before step 5). */
	FX_STATUS(fx_call(&f, TDH_MEM_SEPT_ADD, 0xFFF, f.tdr, fx_new_page(&f), 0, NULL),
		  TDX_TD_FATAL);
	FX_STATUS(fx_call(&f, TDH_MEM_PAGE_AUG, tdx_page_info(GPA, 0), f.tdr, fx_new_page(&f), 0,
			  NULL),
		  TDX_TD_FATAL);
	FX_STATUS(fx_call(&f, TDH_MEM_RANGE_BLOCK, tdx_page_info(GPA, 0), f.tdr, 0, 0, NULL),
		  TDX_TD_FATAL);
	FX_STATUS(fx_call(&f, TDH_MEM_TRACK, f.tdr, 0, 0, 0, NULL), TDX_TD_FATAL);
	FX_STATUS(fx_call(&f, TDH_VP_CREATE, fx_new_page(&f), f.tdr, 0, 0, NULL), TDX_TD_FATAL);
	FX_STATUS(fx_call(&f, TDH_VP_ENTER, f.tdvpr[0], 0, 0, 0, NULL), TDX_TD_FATAL);
	/* Nothing changed, nothing left held. */
	assert_int_equal(tdx_debug_chldcnt(f.m, f.tdr), chld);
	assert_false(atomic_load(&td->vcpus[0].in_guest));
	td->fatal = false;
	FX_OK(fx_call(&f, TDH_MEM_TRACK, f.tdr, 0, 0, 0, NULL));
	fx_fini(&f);
}

static void no_report(const char *what, uint64_t found, uint64_t want, void *arg)
{
	(void)arg;
	fail_msg("lock reported held: %s (found %#llx, want %#llx)", what,
		 (unsigned long long)found, (unsigned long long)want);
}

/* §11: the key-ownership table (KEY.FREEID and VPFLUSHDONE take it
 * exclusively, CACHE.WB shared) and the package's CACHE.WB state are
 * try-locks; held by another caller (this test, white-box, stands for a
 * concurrent SEAMCALL), each answers TDX_OPERAND_BUSY on its operand and
 * changes nothing; released, the same call goes through. */
static void test_kot_and_wbt_busy(void **state)
{
	struct fx f;
	struct tdx_td *td;

	(void)state;
	fx_init(&f, 48, 1);
	fx_finalize(&f);
	td = fx_td(&f);
	FX_OK(fx_call(&f, TDH_VP_FLUSH, f.tdvpr[0], 0, 0, 0, NULL));

	assert_int_equal(lockword_try(&f.m->kot_lock, true, false, LOCK_HOST), LOCK_OK);
	FX_STATUS(fx_call(&f, TDH_MNG_VPFLUSHDONE, f.tdr, 0, 0, 0, NULL),
		  TDX_OPERAND_BUSY + TDX_OPERAND_ID_KOT);
	assert_int_equal(atomic_load(&td->lifecycle), TD_KEYS_CONFIGURED);
	lockword_release(&f.m->kot_lock, true);
	FX_OK(fx_call(&f, TDH_MNG_VPFLUSHDONE, f.tdr, 0, 0, 0, NULL));
	assert_int_equal(atomic_load(&td->lifecycle), TD_BLOCKED);

	/* CACHE.WB: its own state lock first, then the KOT shared. */
	assert_int_equal(lockword_try(&f.m->wbt_lock, true, false, LOCK_HOST), LOCK_OK);
	FX_STATUS(fx_call(&f, TDH_PHYMEM_CACHE_WB, TDX_CACHE_WB_START, 0, 0, 0, NULL),
		  TDX_OPERAND_BUSY + TDX_OPERAND_ID_WBCACHE);
	lockword_release(&f.m->wbt_lock, true);
	assert_int_equal(lockword_try(&f.m->kot_lock, true, false, LOCK_HOST), LOCK_OK);
	FX_STATUS(fx_call(&f, TDH_PHYMEM_CACHE_WB, TDX_CACHE_WB_START, 0, 0, 0, NULL),
		  TDX_OPERAND_BUSY + TDX_OPERAND_ID_KOT);
	/* The refused CACHE.WB left its state lock free. */
	assert_int_equal(atomic_load(&f.m->wbt_lock) & (SHAREX_EXCL | SHAREX_READERS), 0);
	/* KEY.FREEID: BUSY on the KOT, before the write-back check. */
	FX_STATUS(fx_call(&f, TDH_MNG_KEY_FREEID, f.tdr, 0, 0, 0, NULL),
		  TDX_OPERAND_BUSY + TDX_OPERAND_ID_KOT);
	lockword_release(&f.m->kot_lock, true);
	assert_int_equal(atomic_load(&td->lifecycle), TD_BLOCKED);
	FX_OK(fx_call(&f, TDH_PHYMEM_CACHE_WB, TDX_CACHE_WB_START, 0, 0, 0, NULL));
	FX_OK(fx_call(&f, TDH_MNG_KEY_FREEID, f.tdr, 0, 0, 0, NULL));
	assert_int_equal(atomic_load(&td->lifecycle), TD_TEARDOWN);
	assert_int_equal(tdx_debug_locks_held(f.m, f.tdr, no_report, NULL), 0);
	fx_fini(&f);
}

/* VP.FLUSH of a vCPU in guest mode: the TDVPR hold of VP.ENTER makes it
 * BUSY first (test_tdx_lifecycle); with that guard gone (white-box: in_guest
 * set without the hold) the module's own state check still refuses it,
 * TDX_VCPU_STATE_INCORRECT, and keeps the vCPU associated. */
static void test_vp_flush_in_guest_state(void **state)
{
	struct fx f;
	struct tdx_td *td;

	(void)state;
	fx_init(&f, 48, 1);
	fx_finalize(&f);
	td = fx_td(&f);
	FX_OK(fx_call(&f, TDH_VP_ENTER, f.tdvpr[0], 0, 0, 0, NULL));
	tdx_td_exit(f.m, f.tdvpr[0]);
	assert_true(td->vcpus[0].associated);
	atomic_store(&td->vcpus[0].in_guest, true);
	FX_STATUS(fx_call(&f, TDH_VP_FLUSH, f.tdvpr[0], 0, 0, 0, NULL), TDX_VCPU_STATE_INCORRECT);
	assert_true(td->vcpus[0].associated);
	atomic_store(&td->vcpus[0].in_guest, false);
	FX_OK(fx_call(&f, TDH_VP_FLUSH, f.tdvpr[0], 0, 0, 0, NULL));
	assert_false(td->vcpus[0].associated);
	fx_fini(&f);
}

/* §11.1: a lock word with host priority. A host attempt that fails sets
 * HP; while HP is set a guest attempt that would succeed answers
 * BUSY_HOST_PRIORITY instead; the host's next success clears HP. Without
 * the protocol (hp false) neither side sets or heeds HP. */
static void test_lockword_host_priority(void **state)
{
	_Atomic uint64_t w = 0x1234000000000000ULL; /* fields beside the lock */

	(void)state;
	assert_int_equal(lockword_try(&w, true, true, LOCK_GUEST), LOCK_OK);
	assert_int_equal(lockword_try(&w, false, true, LOCK_HOST), LOCK_BUSY);
	assert_true(atomic_load(&w) & SHAREX_HP);
	/* A second failing host attempt keeps HP as it is. */
	assert_int_equal(lockword_try(&w, true, true, LOCK_HOST), LOCK_BUSY);
	lockword_release(&w, true);
	assert_int_equal(atomic_load(&w) & (SHAREX_EXCL | SHAREX_READERS), 0);
	assert_int_equal(lockword_try(&w, false, true, LOCK_GUEST), LOCK_BUSY_HOST_PRIORITY);
	assert_int_equal(lockword_try(&w, true, true, LOCK_GUEST), LOCK_BUSY_HOST_PRIORITY);
	/* Not a host-priority lock: the guest ignores the bit. */
	assert_int_equal(lockword_try(&w, false, false, LOCK_GUEST), LOCK_OK);
	lockword_release(&w, false);
	/* The host takes it shared and clears HP; the guest may share. */
	assert_int_equal(lockword_try(&w, false, true, LOCK_HOST), LOCK_OK);
	assert_false(atomic_load(&w) & SHAREX_HP);
	assert_int_equal(lockword_try(&w, false, true, LOCK_GUEST), LOCK_OK);
	assert_int_equal(atomic_load(&w) & SHAREX_READERS, 2);
	/* A failing host attempt without the protocol sets nothing. */
	assert_int_equal(lockword_try(&w, true, false, LOCK_HOST), LOCK_BUSY);
	assert_false(atomic_load(&w) & SHAREX_HP);
	lockword_release(&w, false);
	lockword_release(&w, false);
	assert_int_equal(atomic_load(&w), 0x1234000000000000ULL);
}

/* §1.6 public state numbers, and the import-only REMOVED state (code 0x0C,
 * TDBW+TDB), which the model never produces (no import) but the module's
 * tables allow for: white-box, a REMOVED 4K entry reads as public state 5
 * in SEPT.RD, is refused by PAGE.ADD (STATE_INCORRECT), keeps its S-EPT page
 * from being removed (§4.8: "REMOVED counts as not free" ->
 * EPT_PAGE_NOT_FREE), and takes an AUG (-> PENDING, state table §5). A code
 * of no modeled state decodes to SEPT_NR_STATES and reads 0xFF. */
static void test_removed_state(void **state)
{
	static const struct { enum tdx_sept_state s; unsigned pub; } pub[] = {
		{ SEPT_FREE, 0 },	{ SEPT_BLOCKED, 1 }, { SEPT_PENDING, 2 },
		{ SEPT_PENDING_BLOCKED, 3 }, { SEPT_MAPPED, 4 }, { SEPT_REMOVED, 5 },
		{ SEPT_NL_MAPPED, 0x84 }, { SEPT_NL_BLOCKED, 0x81 }, { SEPT_NR_STATES, 0xFF },
	};
	const uint64_t removed = SEPT_SVE | SEPT_TDBW | SEPT_TDB;
	struct fx f;
	struct seamcall_regs out;
	struct tdx_td *td;
	_Atomic uint64_t *pt;
	uint64_t entry[5], chld;
	hpa_t table[5], page;

	(void)state;
	for (unsigned i = 0; i < sizeof(pub) / sizeof(pub[0]); i++)
		assert_int_equal(sept_public_state(pub[i].s), pub[i].pub);
	assert_int_equal(sept_state(removed), SEPT_REMOVED);
	assert_int_equal(sept_state(SEPT_PS | SEPT_IPAT | SEPT_TDEX), SEPT_NR_STATES);

	fx_init(&f, 48, 1);
	td = fx_td(&f);
	fx_sept_path(&f, GPA, 0);
	assert_int_equal(tdx_debug_sept_path(f.m, f.tdr, GPA, entry, table), 0);
	pt = tdx_sept_page(f.m, td, hpa_to_pfn(table[0]));
	atomic_store(&pt[sept_index(GPA, 0)], removed);
	assert_int_equal(fx_state(&f, GPA, 0), SEPT_REMOVED);

	FX_OK(fx_call(&f, TDH_MEM_SEPT_RD, tdx_page_info(GPA, 0), f.tdr, 0, 0, &out));
	assert_int_equal(out.rdx, 0 | (5 << 8));
	assert_int_equal(out.rcx, 0); /* not a leaf, not present: no bits */
	page = fx_new_page(&f);
	FX_STATUS(fx_call(&f, TDH_MEM_PAGE_ADD, tdx_page_info(GPA, 0), f.tdr, page,
			  fx_new_page(&f), &out),
		  TDX_EPT_ENTRY_STATE_INCORRECT + TDX_OPERAND_ID_RCX);
	assert_int_equal(out.rdx, 0 | (5 << 8));
	FX_STATUS(fx_call(&f, TDH_MEM_SEPT_REMOVE, tdx_page_info(GPA, 1), f.tdr, 0, 0, &out),
		  TDX_EPT_PAGE_NOT_FREE + TDX_OPERAND_ID_RCX);
	assert_int_equal(fx_state(&f, GPA, 1), SEPT_NL_MAPPED);
	chld = tdx_debug_chldcnt(f.m, f.tdr);
	FX_OK(fx_call(&f, TDH_MEM_PAGE_AUG, tdx_page_info(GPA, 0), f.tdr, page, 0, NULL));
	assert_int_equal(fx_state(&f, GPA, 0), SEPT_PENDING);
	assert_int_equal(tdx_debug_chldcnt(f.m, f.tdr), chld + 1);
	fx_fini(&f);
}

/* A persistent countdown (`inject busy ... nth=N persistent`) is hopeless
 * only once it has fired; an injected status is hopeless for a retry loop
 * only if it is a BUSY one (either flavour) at 100%. */
static void test_busy_hopeless_kinds(void **state)
{
	struct fx f;
	uint64_t gave_up;

	(void)state;
	fx_init(&f, 48, 1);
	fx_finalize(&f);
	tdx_module_inject_busy_nth(f.m, TDH_MEM_TRACK, 3, true);
	for (int i = 0; i < 2; i++) {
		assert_false(tdx_module_busy_hopeless(f.m, TDH_MEM_TRACK));
		FX_OK(fx_call(&f, TDH_MEM_TRACK, f.tdr, 0, 0, 0, NULL));
	}
	for (int i = 0; i < 3; i++) {
		FX_STATUS(fx_call(&f, TDH_MEM_TRACK, f.tdr, 0, 0, 0, NULL),
			  TDX_OPERAND_BUSY + TDX_OPERAND_ID_RCX);
		assert_true(tdx_module_busy_hopeless(f.m, TDH_MEM_TRACK));
	}
	tdx_module_inject_busy_nth(f.m, TDH_MEM_TRACK, 0, false);
	assert_false(tdx_module_busy_hopeless(f.m, TDH_MEM_TRACK));

	gave_up = tdx_module_busy_gave_up(f.m);
	tdx_module_inject_status_leaf(f.m, TDH_MEM_TRACK, TDX_OPERAND_BUSY_HOST_PRIORITY, 1000000);
	FX_STATUS(fx_call(&f, TDH_MEM_TRACK, f.tdr, 0, 0, 0, NULL), TDX_OPERAND_BUSY_HOST_PRIORITY);
	assert_true(tdx_last_busy_hopeless());
	assert_false(tdx_last_busy_hopeless()); /* counted once per BUSY */
	tdx_module_inject_status_leaf(f.m, TDH_MEM_TRACK, TDX_TD_FATAL, 1000000);
	FX_STATUS(fx_call(&f, TDH_MEM_TRACK, f.tdr, 0, 0, 0, NULL), TDX_TD_FATAL);
	assert_false(tdx_last_busy_hopeless());
	assert_int_equal(tdx_module_busy_gave_up(f.m) - gave_up, 1);
	tdx_module_inject_status_leaf(f.m, TDH_MEM_TRACK, 0, 0);
	FX_OK(fx_call(&f, TDH_MEM_TRACK, f.tdr, 0, 0, 0, NULL));
	fx_fini(&f);
}

/* §11.1 on the TDR's lock word: a host attempt that fails sets HP, the
 * next failing one finds it set and leaves it; the next host success
 * clears it. White-box: the test holds the word exclusively, as PAGE.ADD
 * or MR.EXTEND would. */
static void test_tdr_host_priority(void **state)
{
	struct fx f;
	_Atomic uint64_t *e;

	(void)state;
	fx_init(&f, 48, 1);
	fx_finalize(&f);
	e = pamt_entry(&f.m->pamt, hpa_to_pfn(f.tdr), 0);
	assert_int_equal(lockword_try(e, true, true, LOCK_HOST), LOCK_OK);
	for (int i = 0; i < 2; i++) {
		FX_STATUS(fx_call(&f, TDH_MEM_TRACK, f.tdr, 0, 0, 0, NULL),
			  TDX_OPERAND_BUSY + TDX_OPERAND_ID_RCX);
		assert_true(atomic_load(e) & SHAREX_HP);
	}
	lockword_release(e, true);
	FX_OK(fx_call(&f, TDH_MEM_TRACK, f.tdr, 0, 0, 0, NULL));
	assert_false(atomic_load(e) & SHAREX_HP);
	fx_fini(&f);
}

/* §6: a vCPU entering counts itself in REFCOUNT[epoch & 1] and the exit
 * takes it back, in an even epoch as in an odd one. */
static void test_enter_even_epoch(void **state)
{
	struct fx f;
	struct tdx_td *td;

	(void)state;
	fx_init(&f, 48, 1);
	fx_finalize(&f);
	td = fx_td(&f);
	FX_OK(fx_call(&f, TDH_MEM_TRACK, f.tdr, 0, 0, 0, NULL));
	assert_int_equal(atomic_load(&td->td_epoch) & 1, 0);
	FX_OK(fx_call(&f, TDH_VP_ENTER, f.tdvpr[0], 0, 0, 0, NULL));
	assert_int_equal(tdx_epoch_refcount(td, 0), 1);
	assert_int_equal(tdx_epoch_refcount(td, 1), 0);
	tdx_td_exit(f.m, f.tdvpr[0]);
	assert_int_equal(tdx_epoch_refcount(td, 0), 0);
	assert_int_equal(tdx_debug_locks_held(f.m, f.tdr, no_report, NULL), 0);
	fx_fini(&f);
}

static uint64_t wbinvd(struct fx *f, hpa_t hpa, unsigned key)
{
	return fx_call(f, TDH_PHYMEM_PAGE_WBINVD, hpa | ((uint64_t)key << HOST_KEYID_SHIFT), 0, 0,
		       0, NULL);
}

/* The record of a freed 2M page's dirty lines (module.c; hugepages ref
 * §6.3) when a page KVM already wrote back in order is given to the TD at
 * 4K and freed again: the page gets its own 4K record (the 2M one, past it,
 * is not split), and its next WBINVD clears that record alone; the rest of
 * the range still goes by the 2M record. A second WBINVD of a clean page
 * changes nothing. */
static void test_wbinvd_before_cursor(void **state)
{
	const uint64_t g2m = 0x400000ULL, g4k = 0x800000ULL;
	struct fx f;
	pfn_t first;
	hpa_t base;
	unsigned key = 0;

	(void)state;
	fx_init(&f, 48, 1);
	assert_int_equal(host_mem_alloc_range(f.hm, 512, 512, &first), 0);
	base = pfn_to_hpa(first);
	fx_sept_path(&f, g2m, 1);
	fx_sept_path(&f, g4k, 0);
	FX_OK(fx_call(&f, TDH_MEM_PAGE_AUG, tdx_page_info(g2m, 1), f.tdr, base, 0, NULL));
	FX_OK(fx_call(&f, TDH_MEM_PAGE_REMOVE, tdx_page_info(g2m, 1), f.tdr, 0, 0, NULL));
	assert_int_equal(tdx_debug_dirty_frames(f.m), 512);
	for (unsigned j = 0; j < 10; j++)
		FX_OK(wbinvd(&f, base + j * PAGE_SIZE, f.hkid));
	assert_int_equal(tdx_debug_dirty_frames(f.m), 502);
	assert_false(pamt_4k_present(&f.m->pamt, first));

	/* Page 3 (written back) to the TD at 4K and freed again. */
	FX_OK(fx_call(&f, TDH_MEM_PAGE_AUG, tdx_page_info(g4k, 0), f.tdr, base + 3 * PAGE_SIZE, 0,
		      NULL));
	FX_OK(fx_call(&f, TDH_MEM_PAGE_REMOVE, tdx_page_info(g4k, 0), f.tdr, 0, 0, NULL));
	assert_int_equal(tdx_debug_dirty_frames(f.m), 503);
	assert_true(tdx_debug_frame_dirty(f.m, first + 3, &key));
	assert_int_equal(key, f.hkid);
	assert_false(tdx_debug_frame_dirty(f.m, first + 4, NULL));
	assert_true(tdx_debug_frame_dirty(f.m, first + 10, NULL));
	/* Another key's write-back leaves it; the TD's clears it alone. */
	FX_OK(wbinvd(&f, base + 3 * PAGE_SIZE, f.hkid + 1));
	assert_true(tdx_debug_frame_dirty(f.m, first + 3, NULL));
	FX_OK(wbinvd(&f, base + 3 * PAGE_SIZE, f.hkid));
	assert_false(tdx_debug_frame_dirty(f.m, first + 3, NULL));
	assert_int_equal(tdx_debug_dirty_frames(f.m), 502);
	FX_OK(wbinvd(&f, base + 4 * PAGE_SIZE, f.hkid));
	assert_int_equal(tdx_debug_dirty_frames(f.m), 502);
	/* The 2M record goes on from its cursor. */
	for (unsigned j = 10; j < 512; j++)
		FX_OK(wbinvd(&f, base + j * PAGE_SIZE, f.hkid));
	assert_int_equal(tdx_debug_dirty_frames(f.m), 0);
	fx_fini(&f);
}

/* The injection and cost knobs with arguments out of range: a share above
 * 100% is 100% (every call, so a retry is hopeless), a countdown on a leaf
 * number past the last is the any-leaf countdown, and a cost or counter of a
 * leaf that does not exist is ignored / zero. */
static void test_knobs_out_of_range(void **state)
{
	struct fx f;
	uint64_t here, hits;

	(void)state;
	fx_init(&f, 48, 1);
	fx_finalize(&f);

	here = tdx_busy_injected_here();
	tdx_module_inject_busy_leaf(f.m, TDH_MEM_TRACK, 5000000);
	assert_true(tdx_module_busy_hopeless(f.m, TDH_MEM_TRACK));
	for (int i = 0; i < 5; i++)
		FX_STATUS(fx_call(&f, TDH_MEM_TRACK, f.tdr, 0, 0, 0, NULL),
			  TDX_OPERAND_BUSY + TDX_OPERAND_ID_RCX);
	/* Counted on this thread too, each BUSY once. */
	assert_int_equal(tdx_busy_injected_here() - here, 5);
	assert_int_equal(tdx_module_busy_injected(f.m), 5);
	tdx_module_inject_busy_leaf(f.m, TDH_MEM_TRACK, 0);
	assert_false(tdx_module_busy_hopeless(f.m, TDH_MEM_TRACK));
	assert_false(tdx_module_busy_hopeless(f.m, -1));
	assert_false(tdx_module_busy_hopeless(f.m, TDX_NR_LEAVES));
	FX_OK(fx_call(&f, TDH_MEM_TRACK, f.tdr, 0, 0, 0, NULL));

	hits = tdx_module_status_hits(f.m);
	tdx_module_inject_status_leaf(f.m, TDH_MEM_TRACK, TDX_TD_FATAL, 1000001);
	for (int i = 0; i < 3; i++)
		FX_STATUS(fx_call(&f, TDH_MEM_TRACK, f.tdr, 0, 0, 0, NULL), TDX_TD_FATAL);
	assert_int_equal(tdx_module_status_hits(f.m) - hits, 3);
	tdx_module_inject_status_leaf(f.m, TDH_MEM_TRACK, TDX_TD_FATAL, 0);

	/* Leaf numbers past the last: the any-leaf countdown. */
	tdx_module_inject_busy_nth(f.m, TDX_NR_LEAVES + 7, 2, false);
	FX_OK(fx_call(&f, TDH_MEM_TRACK, f.tdr, 0, 0, 0, NULL));
	FX_STATUS(fx_call(&f, TDH_VP_FLUSH, f.tdvpr[0], 0, 0, 0, NULL),
		  TDX_OPERAND_BUSY + TDX_OPERAND_ID_RCX);
	FX_OK(fx_call(&f, TDH_MEM_TRACK, f.tdr, 0, 0, 0, NULL));
	tdx_module_inject_status_nth(f.m, TDX_NR_LEAVES + 7, TDX_TD_FATAL, 1, false);
	FX_STATUS(fx_call(&f, TDH_VP_FLUSH, f.tdvpr[0], 0, 0, 0, NULL), TDX_TD_FATAL);
	FX_OK(fx_call(&f, TDH_VP_FLUSH, f.tdvpr[0], 0, 0, 0, NULL));

	/* Costs: a leaf that does not exist is not set and costs nothing. */
	tdx_module_set_cost(f.m, TDH_MEM_TRACK, 123);
	tdx_module_set_cost(f.m, -1, 999);
	tdx_module_set_cost(f.m, TDX_NR_LEAVES, 999);
	assert_int_equal(tdx_module_cost(f.m, TDH_MEM_TRACK), 123);
	assert_int_equal(tdx_module_cost(f.m, -1), 0);
	assert_int_equal(tdx_module_cost(f.m, TDX_NR_LEAVES), 0);
	assert_int_equal(tdx_module_calls(f.m, -1), 0);
	assert_int_equal(tdx_module_calls(f.m, TDX_NR_LEAVES), 0);
	assert_true(tdx_module_calls(f.m, TDH_MEM_TRACK) >= 9);
	fx_fini(&f);
}

static void count_entry(uint64_t gpa, unsigned level, enum tdx_sept_state s, hpa_t hpa,
			void *arg)
{
	(void)gpa, (void)level, (void)s, (void)hpa;
	++*(unsigned *)arg;
}

/* The debug views (the checker's and `show`'s) asked about what is not a
 * TD's TDR, a shared GPA or a level above the root: a refusal, no walk. */
static void test_debug_views_refuse(void **state)
{
	struct fx f;
	enum tdx_sept_state s = SEPT_FREE;
	uint64_t entry[5];
	hpa_t table[5];
	uint8_t mrtd[48];
	unsigned n = 0;
	uint64_t pages;
	hpa_t not_tdr, tdr2;

	(void)state;
	fx_init(&f, 48, 1);
	not_tdr = f.tdvpr[0];
	assert_false(tdx_debug_sept_state(f.m, not_tdr, GPA, 0, &s, NULL, NULL));
	assert_false(tdx_debug_sept_state(f.m, f.tdr, 1ULL << 47, 0, &s, NULL, NULL));
	assert_false(tdx_debug_sept_state(f.m, f.tdr, GPA, f.pwl + 1, &s, NULL, NULL));
	assert_true(tdx_debug_sept_state(f.m, f.tdr, GPA, f.pwl, &s, NULL, NULL));
	assert_int_equal(tdx_debug_sept_path(f.m, not_tdr, GPA, entry, table), -1);
	assert_int_equal(tdx_debug_sept_path(f.m, f.tdr, 1ULL << 47, entry, table), -1);
	assert_int_equal(tdx_debug_td_pages(f.m, not_tdr), 0);
	assert_int_equal(tdx_debug_chldcnt(f.m, not_tdr), 0);
	assert_int_equal(tdx_debug_locks_held(f.m, not_tdr, no_report, NULL), 0);
	/* Not finalized: no measurement yet. */
	assert_false(tdx_debug_mrtd(f.m, f.tdr, mrtd));
	assert_false(tdx_debug_mrtd(f.m, not_tdr, mrtd));
	tdx_debug_sept_foreach(f.m, not_tdr, count_entry, &n);
	assert_int_equal(n, 0);
	fx_sept_path(&f, GPA, 0);
	tdx_debug_sept_foreach(f.m, f.tdr, count_entry, &n);
	assert_int_equal(n, f.pwl); /* the NL entries down to the PT page */

	/* A second TD, only created (no TDCS, so no S-EPT root yet): its
	 * views are empty, and its TDR page is its own, not the first TD's. */
	pages = tdx_debug_td_pages(f.m, f.tdr);
	tdr2 = fx_new_page(&f);
	FX_OK(fx_call(&f, TDH_MNG_CREATE, tdr2, f.hkid + 1, 0, 0, NULL));
	assert_int_equal(tdx_debug_td_pages(f.m, tdr2), 1);
	assert_int_equal(tdx_debug_td_pages(f.m, f.tdr), pages);
	assert_false(tdx_debug_sept_state(f.m, tdr2, GPA, 0, &s, NULL, NULL));
	assert_int_equal(tdx_debug_sept_path(f.m, tdr2, GPA, entry, table), -1);
	n = 0;
	tdx_debug_sept_foreach(f.m, tdr2, count_entry, &n);
	assert_int_equal(n, 0);
	fx_fini(&f);
}

struct reports {
	unsigned n;
	char what[8][128];
	uint64_t found[8], want[8];
};

static void record_report(const char *what, uint64_t found, uint64_t want, void *arg)
{
	struct reports *r = arg;

	if (r->n < 8) {
		snprintf(r->what[r->n], sizeof(r->what[0]), "%s", what);
		r->found[r->n] = found;
		r->want[r->n] = want;
	}
	r->n++;
}

/* The lock audit the checker runs after every step (and the explorations
 * after every schedule): each lock left held is reported by name with what
 * was found and what was wanted. White-box: the test holds them, as a
 * SEAMCALL that forgot a release would. */
static void test_locks_held_reports(void **state)
{
	struct fx f;
	struct reports r;
	struct tdx_td *td;
	_Atomic uint64_t *e;

	(void)state;
	fx_init(&f, 48, 1);
	fx_finalize(&f);
	td = fx_td(&f);
	assert_int_equal(tdx_debug_locks_held(f.m, f.tdr, no_report, NULL), 0);

	/* A TDVPR held while its vCPU is not in guest mode. */
	e = pamt_entry(&f.m->pamt, hpa_to_pfn(f.tdvpr[0]), 0);
	assert_int_equal(lockword_try(e, false, true, LOCK_HOST), LOCK_OK);
	memset(&r, 0, sizeof(r));
	assert_int_equal(tdx_debug_locks_held(f.m, f.tdr, record_report, &r), 1);
	assert_string_equal(r.what[0], "TDVPR PAMT lock (EXCL | readers)");
	assert_int_equal(r.found[0], 1);
	assert_int_equal(r.want[0], 0);
	lockword_release(e, false);

	/* The TDR's word held exclusively. */
	e = pamt_entry(&f.m->pamt, hpa_to_pfn(f.tdr), 0);
	assert_int_equal(lockword_try(e, true, true, LOCK_HOST), LOCK_OK);
	memset(&r, 0, sizeof(r));
	assert_int_equal(tdx_debug_locks_held(f.m, f.tdr, record_report, &r), 1);
	assert_string_equal(r.what[0], "TDR lock word (EXCL | readers)");
	assert_int_equal(r.found[0], SHAREX_EXCL);
	lockword_release(e, true);

	/* A TDCS page shared. */
	e = pamt_entry(&f.m->pamt, td->tdcx[2], 0);
	assert_int_equal(lockword_try(e, false, true, LOCK_HOST), LOCK_OK);
	memset(&r, 0, sizeof(r));
	assert_int_equal(tdx_debug_locks_held(f.m, f.tdr, record_report, &r), 1);
	assert_string_equal(r.what[0], "TDCS page PAMT lock (EXCL | readers)");
	lockword_release(e, false);

	/* An epoch refcount with no vCPU in guest mode. */
	tdx_td_slot_add(td, refcount[1], 1);
	memset(&r, 0, sizeof(r));
	assert_int_equal(tdx_debug_locks_held(f.m, f.tdr, record_report, &r), 1);
	assert_string_equal(r.what[0], "epoch REFCOUNT[0] + REFCOUNT[1]");
	assert_int_equal(r.found[0], 1);
	assert_int_equal(r.want[0], 0);
	tdx_td_slot_add(td, refcount[1], (uint32_t)-1);

	assert_int_equal(tdx_debug_locks_held(f.m, f.tdr, no_report, NULL), 0);
	fx_fini(&f);
}

/* §11.2: the OP_STATE lock, which the model's leaves only take shared
 * (export and import, which take it exclusively, are not modeled; the test
 * holds it exclusively in their place): every leaf that takes it shared
 * answers BUSY + OP_STATE (0x...AC, §1.4) before its later checks, leaves
 * nothing of its own held, and the lock audit names the holder. Released,
 * the same calls go through. */
static void test_op_state_lock_busy(void **state)
{
	struct fx f;
	struct tdx_td *td;
	struct sharex_counted l;
	struct reports r;
	hpa_t page, vp;

	(void)state;
	fx_init(&f, 48, 1);
	fx_finalize(&f);
	td = fx_td(&f);
	fx_sept_path(&f, GPA, 0);
	page = fx_new_page(&f);
	vp = fx_new_page(&f);
	l = tdx_td_lock(f.m, td, TD_HOLD_OP_STATE_SHIFT);
	assert_int_equal(sharex_counted_try_excl(&l), LOCK_OK);
	FX_STATUS(fx_call(&f, TDH_MEM_PAGE_AUG, tdx_page_info(GPA, 0), f.tdr, page, 0, NULL),
		  TDX_OPERAND_BUSY + TDX_OPERAND_ID_OP_STATE);
	FX_STATUS(fx_call(&f, TDH_MEM_SEPT_RD, tdx_page_info(GPA, 0), f.tdr, 0, 0, NULL),
		  TDX_OPERAND_BUSY + TDX_OPERAND_ID_OP_STATE);
	FX_STATUS(fx_call(&f, TDH_MEM_TRACK, f.tdr, 0, 0, 0, NULL),
		  TDX_OPERAND_BUSY + TDX_OPERAND_ID_OP_STATE);
	FX_STATUS(fx_call(&f, TDH_VP_CREATE, vp, f.tdr, 0, 0, NULL),
		  TDX_OPERAND_BUSY + TDX_OPERAND_ID_OP_STATE);
	FX_STATUS(fx_call(&f, TDH_VP_ENTER, f.tdvpr[0], 0, 0, 0, NULL),
		  TDX_OPERAND_BUSY + TDX_OPERAND_ID_OP_STATE);
	assert_false(atomic_load(&td->vcpus[0].in_guest));
	assert_int_equal(fx_state(&f, GPA, 0), SEPT_FREE);
	memset(&r, 0, sizeof(r));
	assert_int_equal(tdx_debug_locks_held(f.m, f.tdr, record_report, &r), 1);
	assert_string_equal(r.what[0], "OP_STATE lock");
	assert_int_equal(r.found[0], SHAREX_EXCL);
	sharex_counted_release_excl(&l);

	FX_OK(fx_call(&f, TDH_MEM_PAGE_AUG, tdx_page_info(GPA, 0), f.tdr, page, 0, NULL));
	FX_OK(fx_call(&f, TDH_VP_CREATE, vp, f.tdr, 0, 0, NULL));
	assert_int_equal(atomic_load(&td->nr_vcpus), 2);
	assert_false(atomic_load(l.word) & SHAREX_HP); /* cleared by the success */
	assert_int_equal(tdx_debug_locks_held(f.m, f.tdr, no_report, NULL), 0);
	fx_fini(&f);
}

/* The CPU's S-EPT walk: a GPA with the shared bit is not the S-EPT's (no
 * entry read, a violation); a walk from a cached table whose root is no
 * longer the TD's, or from a level the root does not have, is a stale
 * table (a missed flush), whether the walker's hint knew the table or not. */
static void test_hw_walk_edges(void **state)
{
	struct fx f;
	struct tdx_hw_walk w;
	struct tdx_hw_walk_hint hint;
	uint64_t entry[5];
	hpa_t table[5];
	pfn_t root, pt, pd;
	uint64_t shape;

	(void)state;
	fx_init(&f, 48, 2);
	fx_finalize(&f);
	fx_sept_path(&f, GPA, 0);
	FX_OK(fx_call(&f, TDH_MEM_PAGE_AUG, tdx_page_info(GPA, 0), f.tdr, fx_new_page(&f), 0,
		      NULL));
	assert_int_equal(tdx_debug_sept_path(f.m, f.tdr, GPA, entry, table), 0);
	root = hpa_to_pfn(table[f.pwl]);
	pd = hpa_to_pfn(table[1]);
	pt = hpa_to_pfn(table[0]);

	tdx_hw_walk(f.m, f.tdvpr[0], GPA | (1ULL << 47), &w);
	assert_int_equal(w.kind, TDX_HW_VIOLATION);
	assert_int_equal(w.reads, 0);
	tdx_hw_walk(f.m, f.tdvpr[0], GPA, &w);
	assert_int_equal(w.kind, TDX_HW_PENDING);
	assert_int_equal(w.reads, f.pwl + 1);

	/* From the PT page with a hint: the first walk fills it, then the
	 * hinted path answers. */
	memset(&hint, 0, sizeof(hint));
	tdx_hw_walk_from(f.m, f.tdvpr[0], GPA, root, 0, pt, &hint, &w);
	assert_int_equal(w.kind, TDX_HW_PENDING);
	assert_int_equal(hint.table, pt);
	tdx_hw_walk_from(f.m, f.tdvpr[0], GPA, root, 0, pt, &hint, &w);
	assert_int_equal(w.kind, TDX_HW_PENDING);
	assert_int_equal(w.reads, 1);
	tdx_hw_walk_from(f.m, f.tdvpr[0], GPA, root + 1, 0, pt, &hint, &w);
	assert_int_equal(w.kind, TDX_HW_STALE_TABLE);
	assert_int_equal(w.hpa, pfn_to_hpa(pt));
	tdx_hw_walk_from(f.m, f.tdvpr[0], GPA | (1ULL << 47), root, 0, pt, &hint, &w);
	assert_int_equal(w.kind, TDX_HW_VIOLATION);
	assert_int_equal(w.reads, 0);

	/* From the PD page (level 1), hinted: a wrong root or a level at or
	 * above the root's is stale. */
	memset(&hint, 0, sizeof(hint));
	tdx_hw_walk_from(f.m, f.tdvpr[0], GPA, root, 1, pd, &hint, &w);
	assert_int_equal(w.kind, TDX_HW_PENDING);
	assert_int_equal(hint.table, pd);
	tdx_hw_walk_from(f.m, f.tdvpr[0], GPA, root + 1, 1, pd, &hint, &w);
	assert_int_equal(w.kind, TDX_HW_STALE_TABLE);
	assert_int_equal(w.level, 1);
	assert_int_equal(w.hpa, pfn_to_hpa(pd));
	hint.table = root; /* a hint for the root's frame, at the root's level */
	tdx_hw_walk_from(f.m, f.tdvpr[0], GPA, root, f.pwl, root, &hint, &w);
	assert_int_equal(w.kind, TDX_HW_STALE_TABLE);
	/* Without a hint: the same two refusals. */
	tdx_hw_walk_from(f.m, f.tdvpr[0], GPA, root + 1, 1, pd, NULL, &w);
	assert_int_equal(w.kind, TDX_HW_STALE_TABLE);
	tdx_hw_walk_from(f.m, f.tdvpr[0], GPA, root, f.pwl, root, NULL, &w);
	assert_int_equal(w.kind, TDX_HW_STALE_TABLE);
	/* A frame that is not an S-EPT page (a TDVPR) as the cached table. */
	tdx_hw_walk_from(f.m, f.tdvpr[0], GPA, root, 0, hpa_to_pfn(f.tdvpr[1]), NULL, &w);
	assert_int_equal(w.kind, TDX_HW_STALE_TABLE);
	assert_int_equal(w.hpa, f.tdvpr[1]);

	/* A hint is one walker's: another vCPU's walk from the same table,
	 * or one after the S-EPT's shape changed, checks the table again and
	 * keeps the new answer. */
	memset(&hint, 0, sizeof(hint));
	tdx_hw_walk_from(f.m, f.tdvpr[0], GPA, root, 0, pt, &hint, &w);
	assert_int_equal(hint.tdvpr, f.tdvpr[0]);
	tdx_hw_walk_from(f.m, f.tdvpr[1], GPA, root, 0, pt, &hint, &w);
	assert_int_equal(w.kind, TDX_HW_PENDING);
	assert_int_equal(hint.tdvpr, f.tdvpr[1]);
	shape = hint.shape;
	fx_sept_path(&f, GPA + (1ULL << 30), 0); /* non-leaf commits: a new shape */
	tdx_hw_walk_from(f.m, f.tdvpr[1], GPA, root, 0, pt, &hint, &w);
	assert_int_equal(w.kind, TDX_HW_PENDING);
	assert_int_not_equal(hint.shape, shape);
	fx_fini(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_handle_reserved_bits),
		cmocka_unit_test(test_page_add_source_high_bits),
		cmocka_unit_test(test_td_fatal),
		cmocka_unit_test(test_kot_and_wbt_busy),
		cmocka_unit_test(test_vp_flush_in_guest_state),
		cmocka_unit_test(test_lockword_host_priority),
		cmocka_unit_test(test_knobs_out_of_range),
		cmocka_unit_test(test_debug_views_refuse),
		cmocka_unit_test(test_locks_held_reports),
		cmocka_unit_test(test_hw_walk_edges),
		cmocka_unit_test(test_removed_state),
		cmocka_unit_test(test_busy_hopeless_kinds),
		cmocka_unit_test(test_tdr_host_priority),
		cmocka_unit_test(test_enter_even_epoch),
		cmocka_unit_test(test_wbinvd_before_cursor),
		cmocka_unit_test(test_op_state_lock_busy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
