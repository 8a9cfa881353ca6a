/* SPDX-License-Identifier: MIT */
/*
 * The TDX module's locks (tdx-module-sept.md §11). None of them ever waits: a
 * try-lock that fails makes the SEAMCALL return TDX_OPERAND_BUSY naming the
 * operand, and the caller (KVM) decides whether to retry.
 *
 *  - sharex: an exclusive bit plus a reader count in one 16-bit word (as a
 *    PAMT entry's lock); the per-TD S-EPT tree and epoch locks are sharex
 *    locks whose readers are counted per thread slot (below).
 *  - sharex with host priority: the same plus a HOST_PRIORITY bit. A host
 *    attempt that fails sets HP; while HP is set, guest attempts fail (so the
 *    guest cannot starve the host); the host's next success clears HP. Used
 *    for PAMT entries (incl. the TDR's) and the OP_STATE lock. The PAMT's lock
 *    lives in the low 16 bits of the 64-bit PAMT entry word, so lock and
 *    fields share one atomic word (see pamt.c).
 *  - the S-EPT entry lock is bit 11 (TDEL) of the entry itself with bit 52 as
 *    its HP flag (sept.h).
 *
 * Per-TD locks that every vCPU takes shared on every fault (the TDR lock, the
 * OP_STATE lock, the S-EPT tree lock, the epoch lock) are the model's one
 * departure in representation, not in behaviour: their shared holders are
 * counted per thread slot (host/thread_slot.h), each slot on its own cache
 * line, and only the exclusive bit and HP live in the lock word (struct
 * sharex_dist below; the TDR's readers in the module and those of the 1G
 * PAMT entries, which every AUG's PAMT walk takes, in struct pamt:
 * tdx_internal.h). On
 * hardware a shared acquisition is one atomic on a line the other LPs also
 * write, ~50 ns against a ~8 us fault; in the model the fault is ~0.5 us and
 * that line transfer costs 100-150 ns on the 2-core VMs it runs on, so with
 * one shared word two vCPUs fault slower than one (docs/performance.md). The
 * try-lock answers are the module's: a shared attempt fails while the lock is
 * held exclusively, an exclusive attempt fails while any shared holder
 * exists, nothing ever waits for a holder, and HP works as above.
 *
 * The race a single word settles by its CAS: a shared attempt that has
 * counted itself but not yet looked at the word while an exclusive attempt
 * sets EXCL. The shared attempt will see EXCL and take its count back within
 * a few instructions, so the exclusive side re-reads the counts for a short,
 * bounded while (sharex_settled()) before it decides that a real holder is
 * inside: the exclusive attempt wins, as if its CAS had come first. Without
 * that, both would fail and, retried in step (TRACK against VP.ENTER's epoch
 * lock), could keep failing: the long stress test met 1000 BUSY VP.ENTERs in
 * a row that way. A holder that stays counted past the bound is real: BUSY.
 */
#ifndef TDXMMU_TDX_LOCKS_H
#define TDXMMU_TDX_LOCKS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "explore/sched.h"
#include "host/thread_slot.h"

#define SHAREX_EXCL 0x8000u
#define SHAREX_HP 0x4000u
#define SHAREX_READERS 0x3FFFu

enum lock_side { LOCK_HOST, LOCK_GUEST };

enum lock_result {
	LOCK_OK,
	LOCK_BUSY,               /* TDX_OPERAND_BUSY */
	LOCK_BUSY_HOST_PRIORITY, /* guest only: TDX_OPERAND_BUSY_HOST_PRIORITY */
};

/*
 * Generic try-lock on the low 16 bits of a 64-bit atomic word; the upper bits
 * are left untouched, so PAMT entries can carry their fields beside the lock.
 * `hp` enables the host-priority protocol.
 */
static inline enum lock_result lockword_try(_Atomic uint64_t *w, bool excl,
					    bool hp, enum lock_side side)
{
	uint64_t old;

	/* One step for the whole attempt (read, decide, CAS): W even when it
	 * fails, since a failing host attempt may set HP. */
	SCHED_POINT(SCHED_TDX_LOCK, SCHED_W, w, "module lock");
	old = atomic_load_explicit(w, memory_order_relaxed);
	for (;;) {
		uint64_t lk = old & 0xFFFF, new;
		bool conflict = excl ? (lk & (SHAREX_EXCL | SHAREX_READERS)) != 0
				     : (lk & SHAREX_EXCL) != 0;

		if (!conflict && hp && side == LOCK_GUEST && (lk & SHAREX_HP))
			return LOCK_BUSY_HOST_PRIORITY;
		if (conflict) {
			if (hp && side == LOCK_HOST && !(lk & SHAREX_HP)) {
				/* Announce the host's claim; losing this race
				 * to another setter is harmless. */
				atomic_compare_exchange_weak_explicit(
					w, &old, old | SHAREX_HP,
					memory_order_relaxed, memory_order_relaxed);
			}
			return LOCK_BUSY;
		}
		new = old;
		if (excl)
			new |= SHAREX_EXCL;
		else
			new += 1;
		if (hp && side == LOCK_HOST)
			new &= ~(uint64_t)SHAREX_HP;
		/* seq_cst, not just acquire: for the locks that count their
		 * shared holders outside the word, the exclusive side reads
		 * those counts next, and that read must not move before this
		 * store (Dekker, below). */
		if (atomic_compare_exchange_weak_explicit(w, &old, new,
							  memory_order_seq_cst,
							  memory_order_relaxed))
			return LOCK_OK;
	}
}

static inline void lockword_release(_Atomic uint64_t *w, bool excl)
{
	SCHED_POINT(SCHED_TDX_UNLOCK, SCHED_W, w, "module lock");
	if (excl)
		atomic_fetch_and_explicit(w, ~(uint64_t)SHAREX_EXCL,
					  memory_order_release);
	else
		atomic_fetch_sub_explicit(w, 1, memory_order_release);
}

/*
 * The two sides of a lock whose shared holders are counted outside its word,
 * one count per thread slot (sharex_dist below; the TDR's and the 1G PAMT
 * entries' counts, tdx_internal.h). The word keeps EXCL and HP; the
 * exclusive side is lockword_try() on it, followed by a wait for the counts
 * to settle.
 */

/* How many times the exclusive side re-reads the counts (tdx_locks.h top). */
#define SHAREX_SETTLE_READS 64

/*
 * Whether a settle spin that found a holder should stop at once. While
 * exploring, a shared attempt counts itself, reads the word and backs out
 * inside one step (lockword_counted_try_shared has one schedule point,
 * before all of it), so a count seen here is a real holder, and spinning
 * would only wait for a parked thread that cannot run: decide now. Reached
 * only after a first read found a holder, so the fast path pays nothing.
 */
static inline bool sharex_settle_now(void)
{
	return sched_enabled() && sched_self_active();
}

static inline void sharex_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/* The shared side, host only (no guest flow takes these locks,
 * tdx-module-sept.md §11): count ourselves, then look at the word. Fails
 * while the word says EXCL, taking the count back and, with host priority,
 * announcing the claim. *seen is the word as read. */
static inline enum lock_result lockword_counted_try_shared(_Atomic uint32_t *count,
							   _Atomic uint64_t *w,
							   bool hp, uint64_t *seen)
{
	/* The object is the word, not the count: the exclusive side's attempt
	 * (on the word) is what this conflicts with. */
	SCHED_POINT(SCHED_TDX_LOCK, SCHED_W, w, "module lock (shared)");
	atomic_fetch_add_explicit(count, 1, memory_order_seq_cst);
	*seen = atomic_load_explicit(w, memory_order_seq_cst);
	if (*seen & SHAREX_EXCL) {
		atomic_fetch_sub_explicit(count, 1, memory_order_release);
		if (hp && !(*seen & SHAREX_HP))
			atomic_fetch_or_explicit(w, SHAREX_HP, memory_order_relaxed);
		return LOCK_BUSY;
	}
	return LOCK_OK;
}

/* After a shared success: the host's success clears HP, written only when
 * set, so that the word stays a line nobody writes while nobody contends. */
static inline void lockword_counted_succeeded(_Atomic uint64_t *w, uint64_t seen,
					      bool hp)
{
	if (hp && (seen & SHAREX_HP))
		atomic_fetch_and_explicit(w, ~(uint64_t)SHAREX_HP, memory_order_relaxed);
}

/* The exclusive side found a real holder: give EXCL back and, with host
 * priority, announce the claim. */
static inline void lockword_back_out_excl(_Atomic uint64_t *w, bool hp)
{
	atomic_fetch_and_explicit(w, ~(uint64_t)SHAREX_EXCL, memory_order_release);
	if (hp)
		atomic_fetch_or_explicit(w, SHAREX_HP, memory_order_relaxed);
}

/*
 * A sharex lock whose shared holders are counted per thread slot. The shared
 * side increments its own slot and then reads the word; the exclusive side
 * sets EXCL in the word and then reads every slot. Both steps are seq_cst,
 * so (Dekker) at least one of two racing parties sees the other: a reader
 * that saw no EXCL is seen by the writer's scan, or the reader sees EXCL.
 * Acquire/release pairs: a reader's load of the word acquires the previous
 * writer's release of EXCL; a writer's load of a slot acquires the release
 * that brought that slot's count back.
 *
 * The caller passes the slot it incremented back to the release (a hold can
 * outlive the call that took it: VP.ENTER's holds end at the TD exit).
 */
struct sharex_dist {
	_Atomic uint64_t word __attribute__((aligned(HOST_CACHELINE)));
	struct {
		_Atomic uint32_t n;
	} __attribute__((aligned(HOST_CACHELINE))) readers[HOST_THREAD_SLOTS];
};

static inline enum lock_result sharex_dist_try_shared(struct sharex_dist *l,
						      bool hp, unsigned slot)
{
	uint64_t seen;

	if (lockword_counted_try_shared(&l->readers[slot].n, &l->word, hp, &seen) !=
	    LOCK_OK)
		return LOCK_BUSY;
	lockword_counted_succeeded(&l->word, seen, hp);
	return LOCK_OK;
}

static inline void sharex_dist_release_shared(struct sharex_dist *l, unsigned slot)
{
	SCHED_POINT(SCHED_TDX_UNLOCK, SCHED_W, &l->word, "module lock (shared)");
	atomic_fetch_sub_explicit(&l->readers[slot].n, 1, memory_order_release);
}

/* Shared holders, summed (a snapshot; exact while EXCL is held). */
static inline uint64_t sharex_dist_readers(struct sharex_dist *l)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < HOST_THREAD_SLOTS; i++)
		n += atomic_load_explicit(&l->readers[i].n, memory_order_seq_cst);
	return n;
}

/* With EXCL set: the shared attempts in flight have backed out, and no
 * holder is left (tdx_locks.h top). */
static inline bool sharex_dist_settled(struct sharex_dist *l)
{
	for (unsigned i = 0; i < SHAREX_SETTLE_READS; i++) {
		if (sharex_dist_readers(l) == 0)
			return true;
		if (sharex_settle_now())
			return false;
		sharex_cpu_relax();
	}
	return false;
}

/* The word has no reader bits, so lockword_try()'s exclusive case is the
 * first step as it stands. */
static inline enum lock_result sharex_dist_try_excl(struct sharex_dist *l, bool hp)
{
	if (lockword_try(&l->word, true, hp, LOCK_HOST) != LOCK_OK)
		return LOCK_BUSY;
	if (!sharex_dist_settled(l)) {
		lockword_back_out_excl(&l->word, hp);
		return LOCK_BUSY;
	}
	return LOCK_OK;
}

static inline void sharex_dist_release_excl(struct sharex_dist *l)
{
	lockword_release(&l->word, true);
}

#endif /* TDXMMU_TDX_LOCKS_H */
