/* SPDX-License-Identifier: MIT */
/*
 * TLB tracking (tdx-module-sept.md §6): TDH.VP.ENTER / TD exit keep the epoch
 * refcounts, TDH.MEM.TRACK advances the epoch, and the removal leaves ask
 * is_tlb_tracked() of the bepoch RANGE.BLOCK recorded. Also VP.ENTER's own
 * checks and the locks it holds while the vCPU is in guest mode (§11.2).
 */
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fx_abort.h"
#include "tdx/tdx_internal.h" /* lock words, for the BUSY tests */

#define GPA 0x200000ULL

static const uint64_t BUSY_TDR = 0x8000020000000000ULL + TDX_OPERAND_ID_RDX;
static const uint64_t NOT_TRACKED = 0xC0000B0800000001ULL;

static int setup_runnable(void **state)
{
	struct fx *f = malloc(sizeof(*f));

	fx_init(f, 48, 2);
	fx_finalize(f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	fx_fini(f);
	free(f);
	return 0;
}

/* AUG a 4K page at gpa (building the S-EPT path); returns its HPA. */
static hpa_t aug4k(struct fx *f, uint64_t gpa)
{
	hpa_t page = fx_new_page(f);

	fx_sept_path(f, gpa, 0);
	FX_OK(fx_call(f, TDH_MEM_PAGE_AUG, tdx_page_info(gpa, 0), f->tdr, page, 0, NULL));
	return page;
}

/* VP.ENTER vCPU i, must succeed; returns R8 (the flush flag). */
static uint64_t enter(struct fx *f, unsigned i)
{
	struct seamcall_regs out;

	FX_OK(fx_call(f, TDH_VP_ENTER, f->tdvpr[i], 0, 0, 0, &out));
	assert_int_equal(out.rcx, 0);
	assert_int_equal(out.rdx, 0);
	return out.r8;
}

static uint64_t track(struct fx *f)
{
	return fx_call(f, TDH_MEM_TRACK, f->tdr, 0, 0, 0, NULL);
}

static uint64_t block(struct fx *f, uint64_t gpa, unsigned level)
{
	return fx_call(f, TDH_MEM_RANGE_BLOCK, tdx_page_info(gpa, level), f->tdr, 0, 0, NULL);
}

static uint64_t remove_page(struct fx *f, uint64_t gpa, struct seamcall_regs *out)
{
	return fx_call(f, TDH_MEM_PAGE_REMOVE, tdx_page_info(gpa, 0), f->tdr, 0, 0, out);
}

/* REMOVE after BLOCK without TRACK: the bepoch is the current epoch. */
static void test_remove_without_track(void **state)
{
	struct fx *f = *state;
	struct seamcall_regs out;
	hpa_t page = aug4k(f, GPA);

	FX_OK(block(f, GPA, 0));
	FX_STATUS(remove_page(f, GPA, &out), NOT_TRACKED);
	assert_int_equal(out.rcx, 0); /* no details for TLB_TRACKING_NOT_DONE */
	assert_int_equal(out.rdx, 0);
	assert_int_equal(fx_state(f, GPA, 0), SEPT_PENDING_BLOCKED);

	FX_OK(track(f));
	FX_OK(remove_page(f, GPA, &out));
	assert_int_equal(out.rcx, page);
	assert_int_equal(fx_state(f, GPA, 0), SEPT_FREE);
}

/* TRACK needs the previous epoch drained: a vCPU that entered in N blocks
 * the TRACK that would leave N + 1, until it exits. */
static void test_track_previous_epoch_busy(void **state)
{
	struct fx *f = *state;

	assert_int_equal(enter(f, 0), 0);       /* epoch N */
	FX_OK(track(f));                        /* N -> N + 1 */
	FX_STATUS(track(f), TDX_PREVIOUS_TLB_EPOCH_BUSY);
	FX_STATUS(track(f), TDX_PREVIOUS_TLB_EPOCH_BUSY);
	tdx_td_exit(f->m, f->tdvpr[0]);
	FX_OK(track(f));                        /* N + 1 -> N + 2 */
	/* A vCPU in the current epoch does not hold back the next TRACK. */
	assert_int_equal(enter(f, 1), 0);       /* in N + 2 */
	FX_OK(track(f));                        /* -> N + 3 */
	FX_STATUS(track(f), TDX_PREVIOUS_TLB_EPOCH_BUSY);
	tdx_td_exit(f->m, f->tdvpr[1]);
	FX_OK(track(f));
}

/* The Linux order: BLOCK, TRACK, kick (the vCPU exits), REMOVE. */
static void test_block_track_exit_remove(void **state)
{
	struct fx *f = *state;
	struct seamcall_regs out;
	hpa_t page = aug4k(f, GPA);

	enter(f, 0);
	FX_OK(block(f, GPA, 0));
	FX_OK(track(f));
	tdx_td_exit(f->m, f->tdvpr[0]);
	FX_OK(remove_page(f, GPA, &out));
	assert_int_equal(out.rcx, page);
}

/* A vCPU that entered in N and is still inside may hold a translation of a
 * page blocked in N: REMOVE fails even after TRACK, and passes once it
 * exits. */
static void test_vcpu_inside_holds_removal(void **state)
{
	struct fx *f = *state;
	struct seamcall_regs out;
	hpa_t page = aug4k(f, GPA);

	enter(f, 0);                            /* epoch N */
	FX_OK(block(f, GPA, 0));                /* bepoch N */
	FX_OK(track(f));                        /* N + 1 */
	FX_STATUS(remove_page(f, GPA, &out), NOT_TRACKED);
	/* A vCPU entering now, in N + 1, flushes first: it does not matter. */
	enter(f, 1);
	FX_STATUS(remove_page(f, GPA, &out), NOT_TRACKED);
	tdx_td_exit(f->m, f->tdvpr[0]);
	FX_OK(remove_page(f, GPA, &out));
	assert_int_equal(out.rcx, page);
	tdx_td_exit(f->m, f->tdvpr[1]);
}

/* Two TRACKs since the block: bepoch < epoch - 1 is tracked whatever the
 * refcounts say (the second TRACK could only pass once N had drained). */
static void test_second_track_tracks_unconditionally(void **state)
{
	struct fx *f = *state;
	struct seamcall_regs out;
	hpa_t page = aug4k(f, GPA);

	enter(f, 0);                            /* N */
	FX_OK(block(f, GPA, 0));                /* bepoch N */
	FX_OK(track(f));                        /* N + 1 */
	tdx_td_exit(f->m, f->tdvpr[0]);
	assert_int_equal(enter(f, 0), 1);       /* re-enters in N + 1: flush */
	FX_OK(track(f));                        /* N + 2 */
	/* vCPU 1 now runs in N + 2, the same refcount parity as N. */
	assert_int_equal(enter(f, 1), 0);
	FX_OK(remove_page(f, GPA, &out));
	assert_int_equal(out.rcx, page);
	tdx_td_exit(f->m, f->tdvpr[0]);
	tdx_td_exit(f->m, f->tdvpr[1]);
}

/* R8 = 1 exactly when the vCPU ran before and the epoch moved since. */
static void test_enter_flush_flag(void **state)
{
	struct fx *f = *state;

	assert_int_equal(enter(f, 0), 0);       /* first entry: not associated */
	tdx_td_exit(f->m, f->tdvpr[0]);
	assert_int_equal(enter(f, 0), 0);       /* same epoch */
	tdx_td_exit(f->m, f->tdvpr[0]);
	FX_OK(track(f));
	assert_int_equal(enter(f, 0), 1);       /* epoch moved */
	tdx_td_exit(f->m, f->tdvpr[0]);
	assert_int_equal(enter(f, 0), 0);       /* flushed already */
	tdx_td_exit(f->m, f->tdvpr[0]);
	FX_OK(track(f));
	FX_OK(track(f));
	assert_int_equal(enter(f, 0), 1);
	/* vCPU 1 never ran: no flush even though the epoch is not 1. */
	assert_int_equal(enter(f, 1), 0);
	tdx_td_exit(f->m, f->tdvpr[0]);
	tdx_td_exit(f->m, f->tdvpr[1]);
}

/* VP.ENTER holds the TDR shared while in guest: the TDR-exclusive leaves
 * answer BUSY on the TDR (PAGE.ADD takes it before any other check). */
static void test_tdr_held_in_guest(void **state)
{
	struct fx *f = *state;
	hpa_t src = fx_new_page(f), dst = fx_new_page(f);

	fx_sept_path(f, GPA, 0);
	enter(f, 0);
	FX_STATUS(fx_call(f, TDH_MEM_PAGE_ADD, tdx_page_info(GPA, 0), f->tdr, dst, src, NULL),
		  BUSY_TDR);
	FX_STATUS(fx_call(f, TDH_MR_EXTEND, GPA, f->tdr, 0, 0, NULL), BUSY_TDR);
	/* Shared users of the TDR are not affected. */
	FX_OK(track(f));
	tdx_td_exit(f->m, f->tdvpr[0]);
	/* After the exit PAGE.ADD gets as far as its OP_STATE check. */
	FX_STATUS(fx_call(f, TDH_MEM_PAGE_ADD, tdx_page_info(GPA, 0), f->tdr, dst, src, NULL),
		  TDX_OP_STATE_INCORRECT);
}

/* VP.ENTER's own checks. */
static void test_enter_errors(void **state)
{
	struct fx *f = *state;
	hpa_t free_page = fx_new_page(f), extra = fx_new_page(f);

	/* RCX operand checks. */
	FX_STATUS(fx_call(f, TDH_VP_ENTER, f->tdvpr[0] + 8, 0, 0, 0, NULL),
		  TDX_OPERAND_INVALID + TDX_OPERAND_ID_RCX);
	FX_STATUS(fx_call(f, TDH_VP_ENTER, 0x1000, 0, 0, 0, NULL),
		  TDX_OPERAND_ADDR_RANGE_ERROR + TDX_OPERAND_ID_RCX);
	FX_STATUS(fx_call(f, TDH_VP_ENTER, free_page, 0, 0, 0, NULL),
		  TDX_PAGE_METADATA_INCORRECT + TDX_OPERAND_ID_RCX);
	FX_STATUS(fx_call(f, TDH_VP_ENTER, f->tdr, 0, 0, 0, NULL),
		  TDX_PAGE_METADATA_INCORRECT + TDX_OPERAND_ID_RCX);

	/* A vCPU created but not initialized. */
	FX_OK(fx_call(f, TDH_VP_CREATE, extra, f->tdr, 0, 0, NULL));
	FX_STATUS(fx_call(f, TDH_VP_ENTER, extra, 0, 0, 0, NULL), TDX_VCPU_STATE_INCORRECT);
	FX_OK(fx_call(f, TDH_VP_INIT, extra, 0, 0, 0, NULL));
	assert_int_equal(fx_call(f, TDH_VP_ENTER, extra, 0, 0, 0, NULL), TDX_SUCCESS);

	/* Already in guest mode. */
	FX_STATUS(fx_call(f, TDH_VP_ENTER, extra, 0, 0, 0, NULL), TDX_VCPU_STATE_INCORRECT);
	/* A failed entry left nothing held: one exit suffices for TRACK. */
	FX_OK(track(f));
	FX_STATUS(track(f), TDX_PREVIOUS_TLB_EPOCH_BUSY);
	tdx_td_exit(f->m, extra);
	FX_OK(track(f));
	/* ...and the TDR is free again. */
	FX_STATUS(fx_call(f, TDH_MR_FINALIZE, f->tdr, 0, 0, 0, NULL), TDX_OP_STATE_INCORRECT);
}

/* Contention on each lock VP.ENTER takes, simulated by holding it; a failed
 * entry leaves nothing held and the vCPU outside. */
static void test_enter_busy(void **state)
{
	struct fx *f = *state;
	struct tdx_td *td = tdx_td_of_tdr_pfn(f->m, hpa_to_pfn(f->tdr));
	_Atomic uint64_t *tdvpr_lk = pamt_entry(&f->m->pamt, hpa_to_pfn(f->tdvpr[0]), 0);
	_Atomic uint64_t *tdr_lk = pamt_entry(&f->m->pamt, hpa_to_pfn(f->tdr), 0);
	struct sharex_counted epoch_lock, op_state_lock;

	assert_non_null(td);
	epoch_lock = tdx_td_lock(f->m, td, TD_HOLD_EPOCH_SHIFT);
	op_state_lock = tdx_td_lock(f->m, td, TD_HOLD_OP_STATE_SHIFT);
	/* The TDVPR held exclusively (as VP.INIT/VP.FLUSH would). */
	assert_int_equal(lockword_try(tdvpr_lk, true, true, LOCK_HOST), LOCK_OK);
	FX_STATUS(fx_call(f, TDH_VP_ENTER, f->tdvpr[0], 0, 0, 0, NULL),
		  TDX_OPERAND_BUSY + TDX_OPERAND_ID_RCX);
	lockword_release(tdvpr_lk, true);
	/* The TDR held exclusively (as PAGE.ADD would): the implicit operand. */
	assert_int_equal(tdx_pamt_try_lock(f->m, tdr_lk, true), LOCK_OK);
	FX_STATUS(fx_call(f, TDH_VP_ENTER, f->tdvpr[0], 0, 0, 0, NULL),
		  TDX_OPERAND_BUSY + TDX_OPERAND_ID_TDR);
	lockword_release(tdr_lk, true);
	/* The epoch lock held by a TRACK. */
	assert_int_equal(sharex_counted_try_excl(&epoch_lock), LOCK_OK);
	FX_STATUS(fx_call(f, TDH_VP_ENTER, f->tdvpr[0], 0, 0, 0, NULL),
		  TDX_OPERAND_BUSY + TDX_OPERAND_ID_TD_EPOCH);
	sharex_counted_release_excl(&epoch_lock);
	/* Nothing held after the failures (the HP flag aside), and the vCPU
	 * is not in guest mode: it enters, once. */
	assert_int_equal(atomic_load(tdvpr_lk) & (SHAREX_EXCL | SHAREX_READERS), 0);
	assert_int_equal(atomic_load(tdr_lk) & (SHAREX_EXCL | SHAREX_READERS), 0);
	assert_int_equal(tdx_tdr_shared_holders(f->m, td->index), 0);
	assert_int_equal(sharex_counted_readers(&epoch_lock), 0);
	assert_int_equal(sharex_counted_readers(&op_state_lock), 0);
	assert_int_equal(tdx_epoch_refcount(td, 0) + tdx_epoch_refcount(td, 1), 0);
	enter(f, 0);
	/* While in guest: one shared hold on the TDVPR and on the TDR (the
	 * TDR's counted per thread slot, not in its PAMT word), one epoch
	 * reference, and the OP_STATE and epoch locks given back. */
	assert_int_equal(atomic_load(tdvpr_lk) & (SHAREX_EXCL | SHAREX_READERS), 1);
	assert_int_equal(atomic_load(tdr_lk) & (SHAREX_EXCL | SHAREX_READERS), 0);
	assert_int_equal(tdx_tdr_shared_holders(f->m, td->index), 1);
	assert_int_equal(tdx_epoch_refcount(td, 0) + tdx_epoch_refcount(td, 1), 1);
	assert_int_equal(sharex_counted_readers(&epoch_lock), 0);
	assert_int_equal(sharex_counted_readers(&op_state_lock), 0);
	/* The shared hold excludes an exclusive one, and the failed attempt
	 * leaves the word unlocked with HP announced. */
	assert_int_equal(tdx_pamt_try_lock(f->m, tdr_lk, true), LOCK_BUSY);
	assert_int_equal(atomic_load(tdr_lk) & (SHAREX_EXCL | SHAREX_READERS), 0);
	assert_true(atomic_load(tdr_lk) & SHAREX_HP);
	tdx_td_exit(f->m, f->tdvpr[0]);
	assert_int_equal(atomic_load(tdvpr_lk) & (SHAREX_EXCL | SHAREX_READERS), 0);
	assert_int_equal(atomic_load(tdr_lk) & (SHAREX_EXCL | SHAREX_READERS), 0);
	assert_int_equal(tdx_tdr_shared_holders(f->m, td->index), 0);
	assert_int_equal(tdx_epoch_refcount(td, 0) + tdx_epoch_refcount(td, 1), 0);
	/* And now an exclusive attempt succeeds (clearing HP). */
	assert_int_equal(tdx_pamt_try_lock(f->m, tdr_lk, true), LOCK_OK);
	assert_false(atomic_load(tdr_lk) & SHAREX_HP);
	lockword_release(tdr_lk, true);
}

/* VP.ENTER is allowed in RUNNABLE (and live migration states) only. */
static void test_enter_before_finalize(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f, 48, 1);
	FX_STATUS(fx_call(&f, TDH_VP_ENTER, f.tdvpr[0], 0, 0, 0, NULL),
		  TDX_OP_STATE_INCORRECT);
	/* Nothing stayed held: the TDR-exclusive FINALIZE goes through. */
	fx_finalize(&f);
	assert_int_equal(enter(&f, 0), 0);
	tdx_td_exit(f.m, f.tdvpr[0]);
	fx_fini(&f);
}

/* tdx_td_exit() of a vCPU not in guest mode is a caller bug: abort. */
static void exit_outside_guest(struct fx *f)
{
	tdx_td_exit(f->m, f->tdvpr[0]);
}

static void test_exit_not_in_guest_aborts(void **state)
{
	fx_expect_abort(*state, exit_outside_guest,
			"tdx: BUG: TD exit of a vCPU not in guest mode");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_remove_without_track, setup_runnable, teardown),
		cmocka_unit_test_setup_teardown(test_track_previous_epoch_busy, setup_runnable, teardown),
		cmocka_unit_test_setup_teardown(test_block_track_exit_remove, setup_runnable, teardown),
		cmocka_unit_test_setup_teardown(test_vcpu_inside_holds_removal, setup_runnable, teardown),
		cmocka_unit_test_setup_teardown(test_second_track_tracks_unconditionally, setup_runnable, teardown),
		cmocka_unit_test_setup_teardown(test_enter_flush_flag, setup_runnable, teardown),
		cmocka_unit_test_setup_teardown(test_tdr_held_in_guest, setup_runnable, teardown),
		cmocka_unit_test_setup_teardown(test_enter_errors, setup_runnable, teardown),
		cmocka_unit_test_setup_teardown(test_enter_busy, setup_runnable, teardown),
		cmocka_unit_test(test_enter_before_finalize),
		cmocka_unit_test_setup_teardown(test_exit_not_in_guest_aborts, setup_runnable, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
