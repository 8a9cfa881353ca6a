/* SPDX-License-Identifier: MIT */
/*
 * The TDX module's locks (tdx-module-sept.md §11). None of them ever waits: a
 * try-lock that fails makes the SEAMCALL return TDX_OPERAND_BUSY naming the
 * operand, and the caller (KVM) decides whether to retry.
 *
 *  - sharex: an exclusive bit plus a reader count in one 16-bit word. Used for
 *    the S-EPT tree lock and the TD epoch lock.
 *  - sharex with host priority: the same plus a HOST_PRIORITY bit. A host
 *    attempt that fails sets HP; while HP is set, guest attempts fail (so the
 *    guest cannot starve the host); the host's next success clears HP. Used
 *    for PAMT entries (incl. the TDR's) and the OP_STATE lock. The PAMT's lock
 *    lives in the low 16 bits of the 64-bit PAMT entry word, so lock and
 *    fields share one atomic word (see pamt.c).
 *  - the S-EPT entry lock is bit 11 (TDEL) of the entry itself with bit 52 as
 *    its HP flag (sept.h).
 */
#ifndef TDXMMU_TDX_LOCKS_H
#define TDXMMU_TDX_LOCKS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

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
	uint64_t old = atomic_load_explicit(w, memory_order_relaxed);

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
		if (atomic_compare_exchange_weak_explicit(w, &old, new,
							  memory_order_acquire,
							  memory_order_relaxed))
			return LOCK_OK;
	}
}

static inline void lockword_release(_Atomic uint64_t *w, bool excl)
{
	if (excl)
		atomic_fetch_and_explicit(w, ~(uint64_t)SHAREX_EXCL,
					  memory_order_release);
	else
		atomic_fetch_sub_explicit(w, 1, memory_order_release);
}

/* A stand-alone sharex lock (tree lock, epoch lock, OP_STATE lock). */
struct sharex_lock {
	_Atomic uint64_t word;
};

static inline enum lock_result sharex_try(struct sharex_lock *l, bool excl,
					  bool hp, enum lock_side side)
{
	return lockword_try(&l->word, excl, hp, side);
}

static inline void sharex_release(struct sharex_lock *l, bool excl)
{
	lockword_release(&l->word, excl);
}

#endif /* TDXMMU_TDX_LOCKS_H */
