/* SPDX-License-Identifier: MIT */
/*
 * The TDX module's locks (tdx-module-sept.md §11). None of them ever waits: a
 * try-lock that fails makes the SEAMCALL return TDX_OPERAND_BUSY naming the
 * operand, and the caller (KVM) decides whether to retry.
 *
 *  - sharex: an exclusive bit plus a reader count in one 16-bit word (as a
 *    PAMT entry's lock); the per-TD locks and the 1G PAMT entries are sharex
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
 * sharex_counted below; the per-TD locks' holders in the module's td_holds,
 * one word per slot per TD for all four, and those of the 1G PAMT entries,
 * which every AUG's PAMT walk takes, in struct pamt: tdx_internal.h). On
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
 * bounded while (sharex_counted_settled()) before it decides that a real holder is
 * inside: the exclusive attempt wins, as if its CAS had come first. Without
 * that, both would fail and, retried in step (TRACK against VP.ENTER's epoch
 * lock), could keep failing: the long stress test met 1000 BUSY VP.ENTERs in
 * a row that way. A holder that stays counted past the bound is real: BUSY.
 */
#ifndef TDXMMU_TDX_LOCKS_H
#define TDXMMU_TDX_LOCKS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
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
 * per thread slot (sharex_counted below). The word keeps EXCL and HP; the
 * exclusive side is lockword_try() on it, followed by a wait for the counts
 * to settle.
 */

/* How many times the exclusive side re-reads the counts (tdx_locks.h top). */
#define SHAREX_SETTLE_READS 64

/*
 * Whether a settle spin that found a holder should stop at once. While
 * exploring, a shared attempt counts itself, reads the word and backs out
 * inside one step (sharex_counted_try_shared() has one schedule point,
 * before all of it, and nothing is published ahead), so a count seen here
 * is a real holder, and spinning
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

/* The exclusive side found a real holder: give EXCL back and, with host
 * priority, announce the claim. */
static inline void lockword_back_out_excl(_Atomic uint64_t *w, bool hp)
{
	atomic_fetch_and_explicit(w, ~(uint64_t)SHAREX_EXCL, memory_order_release);
	if (hp)
		atomic_fetch_or_explicit(w, SHAREX_HP, memory_order_relaxed);
}

/*
 * Shared holds published in per-slot hold words (issue 15): the protocol
 * the per-TD locks (TDR, OP_STATE, S-EPT tree, epoch) and the 1G PAMT
 * entries use for their shared side.
 *
 * A hold word is one 64-bit word per thread slot, each slot's on a cache
 * line of its own. It can count the shared holders of several locks at
 * once, one 16-bit field each (a lock is named by its field's shift): the
 * module keeps one word per slot per TD (tdx_internal.h, td_holds) with the
 * TDR, OP_STATE, S-EPT tree and epoch fields, so that the holds one SEAMCALL
 * takes on its TD are published with one write.
 *
 * Who writes a slot's word. A thread that owns its slot (host/thread_slot.h:
 * only it uses that slot until it exits) is the word's only writer: it adds
 * and removes its holds with a plain load and store, no read-modify-write.
 * Threads beyond the owned slots share HOST_THREAD_SLOT_SHARED, whose words
 * take locked read-modify-writes. A hold is always removed from the word of
 * the thread that removes it, which need not be the word it was added to:
 * VP.ENTER's TDR hold ends at the TD exit, maybe on another thread. So one
 * word may count -1 in a field, and only the sum over all slots means
 * anything. The fields do not interfere in that sum: the sum of the words,
 * mod 2^64, is the sum over fields of (holders of the lock) << shift, and
 * each lock's true holder count is in [0, 2^16), so the field read out of
 * the sum is exact whatever the borrows between fields of single words.
 *
 * Why an exclusive taker still sees every shared holder (Dekker, with the
 * C11 total order S of seq_cst operations):
 *   shared:    P: store my slot's word + my holds   (seq_cst store; an RMW
 *                                                    on the shared slot)
 *              L: load the lock word                (seq_cst)
 *   exclusive: X: set EXCL in the lock word         (seq_cst CAS)
 *              Y: load every slot's word, sum       (seq_cst loads)
 * Suppose both miss: L reads the word before X (L precedes X in S) and some
 * Y load reads the slot before P (it precedes P in S). With P before L and
 * X before Y in program order, S would hold P < L < X < Y < P: impossible.
 * So either the shared side sees EXCL (and backs its hold out again) or the
 * exclusive side counts the hold (and backs out, BUSY). On x86 the seq_cst
 * store is one locked XCHG (or MOV + MFENCE): the one fence, however many
 * holds the store publishes.
 *
 * Why a non-atomic sum of 16 loads is enough: once EXCL is set, no hold is
 * added for good (a shared attempt that saw EXCL adds and removes its own
 * within a few instructions); holds only go away. So each slot's value read
 * is at least what it holds when the scan ends, bar those transients, and
 * the sum read is at least the number of holders left: zero means none.
 * The transients are what the settle loop (sharex_counted_settled(), top
 * of this file) waits through.
 *
 * Happens-before: a release is a release store (or RMW) of the releaser's
 * word, and the exclusive side's loads of the words acquire it; a shared
 * attempt's load of the lock word acquires the last exclusive release.
 *
 * Publishing ahead (tdx_mem_prologue(), VP.ENTER): a call that will take
 * several of its TD's locks shared may publish all of them with its TDR
 * hold, before it reaches the others; each later step then only loads its
 * lock word (sharex_counted_take_published()). An exclusive taker racing
 * with it may see a hold a few steps early: a transient again, waited
 * through by the settle loop, or BUSY after it, which the module may answer
 * to any overlapping call. A call that ends before it reaches a lock (an
 * error) withdraws the hold with the rest. While exploring, every step
 * publishes its own hold at its own schedule point instead, so that each
 * schedule's BUSY answers are those of one try-lock per lock, as before.
 */

/* A 16-bit field of a hold word. */
#define HOLDS_FIELD_MASK 0xFFFFull
static inline uint64_t holds_unit(unsigned shift)
{
	return 1ull << shift;
}

/* Adds `add` to this thread's slot word `mine` (the word of slot
 * host_thread_slot(), which the caller has called): a seq_cst store by
 * the slot's owner, the publication of the protocol above. */
static inline void holds_publish(_Atomic uint64_t *mine, uint64_t add)
{
	if (host_thread_slot_owned)
		atomic_store_explicit(mine,
				      atomic_load_explicit(mine, memory_order_relaxed) + add,
				      memory_order_seq_cst);
	else
		atomic_fetch_add_explicit(mine, add, memory_order_seq_cst);
}

/* Removes `sub` from this thread's slot word: a release store by the
 * owner (no fence: nothing must be seen after it in order). */
static inline void holds_withdraw(_Atomic uint64_t *mine, uint64_t sub)
{
	if (host_thread_slot_owned)
		atomic_store_explicit(mine,
				      atomic_load_explicit(mine, memory_order_relaxed) - sub,
				      memory_order_release);
	else
		atomic_fetch_sub_explicit(mine, sub, memory_order_release);
}

/* Slot i's word of an array whose slot 0 word is at slot0. */
static inline _Atomic uint64_t *holds_at(_Atomic uint64_t *slot0, size_t stride, unsigned i)
{
	return (_Atomic uint64_t *)(uintptr_t)((uintptr_t)slot0 + i * stride);
}

/* The sum of the slots' words (slot i's at (char *)slot0 + i * stride),
 * mod 2^64, with seq_cst loads: the exclusive side's Y above. */
static inline uint64_t holds_sum(_Atomic uint64_t *slot0, size_t stride)
{
	uint64_t sum = 0;

	for (unsigned i = 0, n = host_thread_slots_used(); i < n; i++)
		sum += atomic_load_explicit(holds_at(slot0, stride, i), memory_order_seq_cst);
	return sum;
}

/*
 * A lock whose shared holders are counted in a field of per-slot hold
 * words: the lock word (EXCL and HP), where the slots' words are, and the
 * field. A descriptor only, made where the lock is used.
 */
struct sharex_counted {
	_Atomic uint64_t *word;
	_Atomic uint64_t *holds0;  /* slot 0's hold word */
	size_t stride;             /* bytes from one slot's word to the next */
	unsigned shift;            /* the lock's field */
	bool hp;                   /* host priority */
};

static inline _Atomic uint64_t *sharex_counted_mine(const struct sharex_counted *l)
{
	return holds_at(l->holds0, l->stride, host_thread_slot());
}

/* Shared holders, summed (a snapshot; exact while EXCL is held). */
static inline uint64_t sharex_counted_readers(const struct sharex_counted *l)
{
	return (holds_sum(l->holds0, l->stride) >> l->shift) & HOLDS_FIELD_MASK;
}

/* The shared side's check, our hold being published: look at the word
 * (L above). On EXCL take the hold back and, with host priority, announce
 * the claim; on success clear HP, written only when set, so that the word
 * stays a line nobody writes while nobody contends. */
static inline enum lock_result sharex_counted_seen(const struct sharex_counted *l,
						   _Atomic uint64_t *mine)
{
	uint64_t seen = atomic_load_explicit(l->word, memory_order_seq_cst);

	if (seen & SHAREX_EXCL) {
		holds_withdraw(mine, holds_unit(l->shift));
		if (l->hp && !(seen & SHAREX_HP))
			atomic_fetch_or_explicit(l->word, SHAREX_HP, memory_order_relaxed);
		return LOCK_BUSY;
	}
	if (l->hp && (seen & SHAREX_HP))
		atomic_fetch_and_explicit(l->word, ~(uint64_t)SHAREX_HP, memory_order_relaxed);
	return LOCK_OK;
}

/* A shared attempt, host only (no guest flow takes these locks,
 * tdx-module-sept.md §11): publish, then look. One schedule point before
 * all of it: the object is the word, which the exclusive side's attempt
 * conflicts on. */
static inline enum lock_result sharex_counted_try_shared(const struct sharex_counted *l)
{
	_Atomic uint64_t *mine = sharex_counted_mine(l);

	SCHED_POINT(SCHED_TDX_LOCK, SCHED_W, l->word, "module lock (shared)");
	holds_publish(mine, holds_unit(l->shift));
	return sharex_counted_seen(l, mine);
}

/* The shared attempt of a hold published ahead (with an earlier lock of the
 * same call, the protocol above): only the look. A failure takes the hold
 * back, as a failed attempt does. */
static inline enum lock_result sharex_counted_take_published(const struct sharex_counted *l)
{
	SCHED_POINT(SCHED_TDX_LOCK, SCHED_W, l->word, "module lock (shared)");
	return sharex_counted_seen(l, sharex_counted_mine(l));
}

static inline void sharex_counted_release_shared(const struct sharex_counted *l)
{
	SCHED_POINT(SCHED_TDX_UNLOCK, SCHED_W, l->word, "module lock (shared)");
	holds_withdraw(sharex_counted_mine(l), holds_unit(l->shift));
}

/* With EXCL set: the shared attempts in flight have backed out, and `want`
 * holders are left (ours, for an upgrade; tdx_locks.h top says why the
 * exclusive side waits a short, bounded while). */
static inline bool sharex_counted_settled(const struct sharex_counted *l, uint64_t want)
{
	for (unsigned i = 0; i < SHAREX_SETTLE_READS; i++) {
		if (sharex_counted_readers(l) == want)
			return true;
		if (sharex_settle_now())
			return false;
		sharex_cpu_relax();
	}
	return false;
}

/* The word has no reader bits, so lockword_try()'s exclusive case is the
 * first step as it stands (X above). */
static inline enum lock_result sharex_counted_try_excl(const struct sharex_counted *l)
{
	if (lockword_try(l->word, true, l->hp, LOCK_HOST) != LOCK_OK)
		return LOCK_BUSY;
	if (!sharex_counted_settled(l, 0)) {
		lockword_back_out_excl(l->word, l->hp);
		return LOCK_BUSY;
	}
	return LOCK_OK;
}

static inline void sharex_counted_release_excl(const struct sharex_counted *l)
{
	lockword_release(l->word, true);
}

#endif /* TDXMMU_TDX_LOCKS_H */
