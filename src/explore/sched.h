/* SPDX-License-Identifier: MIT */
/*
 * Schedule points: the one seam between the model and the deterministic
 * scheduler of `tdxmmu explore` (docs/exploration.md).
 *
 * In exploration mode every model thread (the scenario's main thread, the
 * lanes of a parallel block, tdxmmu_run_vcpus()'s vCPU threads, the holder
 * of a `vcpu N enter`) is a *sched thread*, and exactly one of them runs at a
 * time: it holds the baton. A schedule point is where the running thread
 * hands the choice of who goes next to the scheduler, just BEFORE an access
 * to state that another thread can observe. The scheduler may let it go on,
 * or park it and give the baton to another thread (a preemption); which one
 * is what the explorer enumerates.
 *
 * Outside exploration a schedule point is one relaxed load of a global and a
 * branch not taken (sched_enabled()), nothing else: the model stays one code.
 *
 * What every party must do, and why:
 *  - SCHED_POINT before each shared access, with the object's address (its
 *    identity within one execution: two points conflict when they name the
 *    same object and one of them writes). Mark reads SCHED_R and everything
 *    that may change the object SCHED_W (a cmpxchg is W even if it fails;
 *    a lock acquire or release is W on the lock).
 *  - No blocking wait while exploring: the thread that would be woken
 *    cannot run while the waiter holds the baton. Every wait loop (a lock's
 *    sleep, a spin on another thread's progress, a retry on BUSY) calls
 *    SCHED_WAIT() each time round; see enum sched_wait_result.
 *  - A model thread is created with sched_thread_spawn() / _start() /
 *    _exit() / sched_thread_join() around pthread_create/pthread_join, so
 *    that it is scheduled from its first instruction to its last.
 *  - No schedule point while holding a plain pthread mutex that another
 *    sched thread may take (the arena's, the leak list's): the holder could
 *    be parked with it held. Locks that are held across schedule points
 *    (mmu_lock, slots_lock, the module's try-locks) are the scheduler's:
 *    their acquire is a schedule point plus try-and-SCHED_WAIT.
 */
#ifndef TDXMMU_EXPLORE_SCHED_H
#define TDXMMU_EXPLORE_SCHED_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* What a schedule point touches (the explanation prints these names). */
enum sched_op {
	SCHED_SPTE_READ,     /* a KVM SPTE (mirror, shared EPT, legacy) read */
	SCHED_SPTE_CMPXCHG,  /* its atomic update (TDP MMU) */
	SCHED_SPTE_FREEZE,   /* cmpxchg to FROZEN_SPTE before a SEAMCALL */
	SCHED_SPTE_WRITE,    /* a plain store (write-locked paths, unfreeze) */
	SCHED_MMU_LOCK,      /* kvm->mmu_lock acquire (read or write side) */
	SCHED_MMU_UNLOCK,
	SCHED_MUTEX_LOCK,    /* slots_lock and the like */
	SCHED_MUTEX_UNLOCK,
	SCHED_TDX_LOCK,      /* a module try-lock attempt (sharex, PAMT, S-EPT entry) */
	SCHED_TDX_UNLOCK,
	SCHED_SEPT_READ,     /* a Secure-EPT entry */
	SCHED_SEPT_WRITE,
	SCHED_PAMT_READ,     /* a PAMT entry (page owner, type) */
	SCHED_PAMT_WRITE,
	SCHED_EPOCH,         /* the TD's TLB epoch, a vCPU's epoch */
	SCHED_REFCOUNT,      /* epoch refcounts, child counts, map counts */
	SCHED_TLB_FILL,      /* a vCPU's TLB (and paging-structure cache) */
	SCHED_TLB_FLUSH,
	SCHED_KICK,          /* a kick: mode / exit_gen / in_td handshake */
	SCHED_REQUEST,       /* a vCPU's request word */
	SCHED_RCU_LOCK,      /* RCU read-side section entry and exit */
	SCHED_RCU_UNLOCK,
	SCHED_RCU_FREE,      /* call_rcu / a grace period / an immediate free */
	SCHED_FRAME_KEY,     /* a host frame's key id / owner */
	SCHED_FRAME_DATA,    /* a host frame's content */
	SCHED_VCPU,          /* other vCPU state another thread reads */
	SCHED_MISC,
	SCHED_NR_OPS
};

enum sched_access { SCHED_R, SCHED_W };

/* One schedule point in the source: a static const per call site. */
struct sched_site {
	unsigned short op;     /* enum sched_op */
	unsigned char access;  /* enum sched_access */
	const char *file;
	int line;
	const char *func;
	const char *what;      /* a short human name: "mirror SPTE", ... */
};

/* Set only while no model thread runs (between executions). */
extern _Atomic bool sched_on;

static inline bool sched_enabled(void)
{
	return __builtin_expect(atomic_load_explicit(&sched_on, memory_order_relaxed), 0);
}

void sched_point(const struct sched_site *site, const void *obj);

/*
 * Inside an explored block (set and cleared by the baton holder, so read
 * without a race by the next holder). Outside blocks nothing is decided:
 * a point only counts its write, inline, for the waiters (a vCPU holder
 * waiting for a kick); a TD's creation and teardown pass some 20,000
 * points per execution, which must cost next to nothing.
 */
extern _Atomic bool sched_block_on;
extern uint64_t sched_outside_writes;

/*
 * What a point does once exploring: decide inside a block, count a write
 * outside one. A function rather than the macro's body so that each call
 * site carries only the sched_enabled() test (inlined where it is used,
 * @site being a constant there, so the outside-block count stays a load, a
 * branch and an increment); it also lets coverage see these two tests once
 * instead of at each of the model's 300-odd points.
 */
static inline void sched_point_here(const struct sched_site *site, const void *obj)
{
	if (atomic_load_explicit(&sched_block_on, memory_order_relaxed))
		sched_point(site, obj);
	else if (site->access == SCHED_W)
		sched_outside_writes++;
}

#define SCHED_POINT(op_, access_, obj_, what_)                                 \
	do {                                                                   \
		if (sched_enabled())                                           \
			SCHED_POINT_EXPLORING(op_, access_, obj_, what_);      \
	} while (0)

/* A point in code that runs only while exploring (under a sched_enabled()
 * test of its own, or in a function only exploration calls): sched_on does
 * not change while a model thread runs, so the test is not made twice. */
#define SCHED_POINT_EXPLORING(op_, access_, obj_, what_)                       \
	do {                                                                   \
		static const struct sched_site sched_site_ = {                 \
			(op_), (access_), __FILE__, __LINE__, __func__,        \
			(what_) };                                             \
		sched_point_here(&sched_site_, (obj_));                        \
	} while (0)

/*
 * Notes for the explanation of a violation: what the step just taken changed
 * ("mirror SPTE gpa 0x1000 L1: 0x0 -> FROZEN"). Appended to the calling
 * thread's latest step; costs nothing unless a schedule is being explained.
 */
extern _Atomic bool sched_tracing_on;

static inline bool sched_tracing(void)
{
	return __builtin_expect(atomic_load_explicit(&sched_tracing_on, memory_order_relaxed), 0);
}

void sched_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define SCHED_NOTE(...)                                                        \
	do {                                                                   \
		if (sched_tracing())                                           \
			sched_note(__VA_ARGS__);                               \
	} while (0)

/*
 * A wait loop's body while exploring. The caller re-checks its condition
 * after every return:
 *  - SCHED_WAIT_NONE: not exploring (or not a sched thread): wait your usual
 *    way (sleep, cond wait, spin);
 *  - SCHED_WAIT_PROGRESS: another thread wrote shared state since the wait
 *    began: re-check;
 *  - SCHED_WAIT_STALL: every sched thread was waiting and none wrote since:
 *    nothing another thread does will change the caller's condition unless
 *    some waiter gives up. A caller that can give up (the CPU's idle
 *    SPURIOUS loop: `blocked`; the runner's blocked rule) should; one that
 *    cannot (a lock) just waits again: a second stall with no write in
 *    between is reported as a deadlock by the scheduler.
 */
enum sched_wait_result {
	SCHED_WAIT_NONE,
	SCHED_WAIT_PROGRESS,
	SCHED_WAIT_STALL,
};

enum sched_wait_result sched_wait(const struct sched_site *site, const void *obj);

#define SCHED_WAIT(obj_, what_)                                                \
	(sched_enabled() ? SCHED_WAIT_EXPLORING(obj_, what_) : SCHED_WAIT_NONE)

/* The same where only exploration runs (see SCHED_POINT_EXPLORING). */
#define SCHED_WAIT_EXPLORING(obj_, what_)                                      \
	({                                                                     \
		static const struct sched_site sched_site_ = {                 \
			SCHED_MISC, SCHED_R, __FILE__, __LINE__, __func__,     \
			(what_) };                                             \
		sched_wait(&sched_site_, (obj_));                              \
	})

/* True when the calling thread is a sched thread of a running exploration
 * (so its waits must go through SCHED_WAIT). */
bool sched_self_active(void);

/*
 * Model threads. The creator calls sched_thread_spawn() just before
 * pthread_create() and passes the token to the new thread, which calls
 * sched_thread_start(token) first and sched_thread_exit() last; the joiner
 * calls sched_thread_join(token) before pthread_join(). All four are no-ops
 * (token -1) outside exploration. @name is copied ("vcpu0", "host").
 */
int sched_thread_spawn(const char *name);
void sched_thread_start(int token);
void sched_thread_exit(void);
void sched_thread_join(int token);
/* Waits until every thread of @tokens (-1 entries skipped) has exited: one
 * wait, so that the joiner is not a candidate at each of their exits (it
 * does nothing between its joins, and each candidate doubles the schedules
 * explored for nothing). */
void sched_thread_join_all(const int *tokens, unsigned nr);
/* pthread_create() failed after sched_thread_spawn(): forget the thread. */
void sched_thread_cancel(int token);

/*
 * RCU while exploring (host_rcu.c calls these first): grace periods follow
 * the scheduled threads' read-side sections, deterministically, instead of
 * liburcu's thread. Each returns false when not exploring (use liburcu).
 * A callback runs once every thread that was inside a section at call_rcu
 * time has left it; callbacks run at the outermost unlock of the last such
 * reader, or at sched_rcu_barrier().
 */
bool sched_rcu_read_lock(void);
bool sched_rcu_read_unlock(void);
bool sched_call_rcu(void *head, void (*fn)(void *head));
/* Runs every queued callback; the caller is in no read-side section.
 * Returns false when not exploring. */
bool sched_rcu_barrier(void);

#endif /* TDXMMU_EXPLORE_SCHED_H */
