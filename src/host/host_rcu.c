/* SPDX-License-Identifier: MIT */
/*
 * liburcu (memb flavour) behind the interface of host_rcu.h: lazy per-thread
 * registration, the happens-before edges ThreadSanitizer cannot infer
 * from an uninstrumented library, and a reclaimer thread that runs the
 * call_rcu callbacks without liburcu's batching delay.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "explore/sched.h"
#include "host/host_rcu.h"
#include "host/model_abort.h"

/*
 * Every read-side unlock releases into this one sync object; every callback
 * acquires it before running. A grace period ends only after each reader
 * that could still reach the object has unlocked, so each such release
 * precedes the callback's acquire in real time: the edge TSan gets is one
 * RCU guarantees. A reader's accesses after its unlock are not covered
 * (they follow the release), so a use outside a read-side section is still
 * reported.
 */
static char rcu_tsan_readers_done;

#if defined(__SANITIZE_THREAD__)
#include <sanitizer/tsan_interface.h>
#define tsan_release(addr) __tsan_release(addr)
#define tsan_acquire(addr) __tsan_acquire(addr)
#else
#define tsan_release(addr) ((void)(addr))
#define tsan_acquire(addr) ((void)(addr))
#endif

static pthread_once_t rcu_key_once = PTHREAD_ONCE_INIT;
static pthread_key_t rcu_key;
static _Thread_local bool rcu_registered;

/* Runs when a registered thread exits: liburcu's registry must not keep a
 * reader whose thread-local state is about to go. */
static void rcu_thread_exit(void *unused)
{
	(void)unused;
	urcu_memb_unregister_thread();
	rcu_registered = false;
}

static void rcu_key_create(void)
{
	if (pthread_key_create(&rcu_key, rcu_thread_exit)) {
		fprintf(stderr, "tdxmmu: cannot create the RCU thread key\n");
		model_abort();
	}
}

static void rcu_register_self(void)
{
	if (rcu_registered)
		return;
	pthread_once(&rcu_key_once, rcu_key_create);
	urcu_memb_register_thread();
	/* Any non-NULL value arms the destructor. */
	pthread_setspecific(rcu_key, &rcu_registered);
	rcu_registered = true;
}

/*
 * While `tdxmmu explore` runs, grace periods are the scheduler's
 * (explore/sched.h): it follows the scheduled threads' sections and runs
 * each callback deterministically, at the outermost unlock of the last
 * reader that could reach the object or at sched_rcu_barrier(), instead of
 * liburcu's thread, whose timing no schedule could replay. The sched_rcu_*
 * calls answer false when not exploring, and liburcu does the work. The
 * schedule points name one object, the grace period: entering a section
 * reads it, leaving one (which may end a grace period and run callbacks)
 * and call_rcu write it.
 */
static char rcu_grace_period;

/*
 * How deep this thread is in liburcu's read-side sections (issue 15, round
 * 3). A nested section is one that liburcu counts and nothing else: the
 * grace period waits for the outermost one. So only the outermost lock and
 * unlock go to liburcu; the nested ones (KVM's fault walk holds a section
 * around the memslot lookup's) are this counter, not two calls through the
 * library with its __tls_get_addr (Debian's liburcu inlines them only for
 * LGPL code). Sections taken while exploring are the scheduler's and do not
 * count here; their schedule points are the same as before.
 */
static _Thread_local unsigned rcu_depth;

void host_rcu_read_lock(void)
{
	SCHED_POINT(SCHED_RCU_LOCK, SCHED_R, &rcu_grace_period, "RCU read lock");
	/* sched_rcu_read_lock() answers false when not exploring: asked only
	 * then (the same test, without the call). */
	if (sched_enabled() && sched_rcu_read_lock())
		return;
	if (rcu_depth++)
		return;
	rcu_register_self();
	urcu_memb_read_lock();
}

void host_rcu_read_unlock(void)
{
	SCHED_POINT(SCHED_RCU_UNLOCK, SCHED_W, &rcu_grace_period, "RCU read unlock");
	tsan_release(&rcu_tsan_readers_done);
	if (sched_enabled() && sched_rcu_read_unlock())
		return;
	if (--rcu_depth)
		return;
	urcu_memb_read_unlock();
}

/* The scheduler's callbacks take a void *: the head is ours. */
static void host_rcu_sched_callback(void *head)
{
	struct host_rcu_head *h = head;

	tsan_acquire(h);
	tsan_acquire(&rcu_tsan_readers_done);
	h->func(h);
}

/*
 * The reclaimer: the model's own call_rcu thread, instead of liburcu's.
 *
 * Why (issue 14, measured with strace): liburcu 0.13's call_rcu thread,
 * once woken by a call_rcu, first sleeps poll(NULL, 0, 10) so that more
 * callbacks pile up, and only then takes its queue and ends a grace period.
 * Every TD destroy waits for its callbacks (kvm_mmu_pages_quiesce(),
 * host_memslots_quiesce(): "freed" must mean back in the arena before the
 * leak check and before the arena goes), so every destroy paid one or two
 * such 10 ms sleeps: 26 s of the 29 s of tests/unit/test_inject_sites,
 * and the fuzzers, which make and destroy a TD per input, ran at 20-35
 * inputs/s while the model's own work took about 1 ms an input.
 *
 * This thread takes the whole queue as soon as it is woken, ends one grace
 * period (urcu_memb_synchronize_rcu(): with sys_membarrier, some tens of
 * microseconds when no reader is inside a section) and runs the callbacks.
 * What RCU guarantees is unchanged: the queue is taken before the grace
 * period starts, so every callback it holds was queued before it, and the
 * grace period waits for every reader that was inside a section then, so
 * for every reader that could still reach the object. Batching still
 * happens where it pays, under load: whatever is queued while a grace
 * period runs waits for the next round, all together.
 *
 * The thread is started on the first call_rcu and lives as long as the
 * process (as liburcu's did), idle on a condition variable when the queue
 * is empty; it is never inside a read-side section, so its grace periods
 * can always end. Callbacks run outside the queue's mutex (they take
 * other locks and may call host_call_rcu() themselves).
 */
static pthread_once_t reclaimer_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t reclaim_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t reclaim_cond = PTHREAD_COND_INITIALIZER;
static struct host_rcu_head *reclaim_head;     /* oldest first */
static struct host_rcu_head **reclaim_tail = &reclaim_head;
static bool reclaimer_idle;                    /* waiting: signal it */

static void *reclaimer_main(void *unused)
{
	(void)unused;
	for (;;) {
		struct host_rcu_head *batch;

		pthread_mutex_lock(&reclaim_lock);
		while (!reclaim_head) {
			reclaimer_idle = true;
			pthread_cond_wait(&reclaim_cond, &reclaim_lock);
		}
		reclaimer_idle = false;
		batch = reclaim_head;
		reclaim_head = NULL;
		reclaim_tail = &reclaim_head;
		pthread_mutex_unlock(&reclaim_lock);

		urcu_memb_synchronize_rcu();
		while (batch) {
			struct host_rcu_head *h = batch;

			/* Read before the callback frees h. */
			batch = h->next;
			tsan_acquire(h);
			tsan_acquire(&rcu_tsan_readers_done);
			h->func(h);
		}
	}
	return NULL;
}

static void reclaimer_start(void)
{
	pthread_t tid;

	if (pthread_create(&tid, NULL, reclaimer_main, NULL) || pthread_detach(tid)) {
		fprintf(stderr, "tdxmmu: cannot start the RCU reclaimer thread\n");
		model_abort();
	}
}

void host_call_rcu(struct host_rcu_head *h, void (*func)(struct host_rcu_head *h))
{
	bool wake;

	SCHED_POINT(SCHED_RCU_FREE, SCHED_W, &rcu_grace_period, "call_rcu");
	h->func = func;
	tsan_release(h);
	if (sched_call_rcu(h, host_rcu_sched_callback))
		return;
	pthread_once(&reclaimer_once, reclaimer_start);
	h->next = NULL;
	pthread_mutex_lock(&reclaim_lock);
	*reclaim_tail = h;
	reclaim_tail = &h->next;
	wake = reclaimer_idle;
	reclaimer_idle = false;
	pthread_mutex_unlock(&reclaim_lock);
	if (wake)
		pthread_cond_signal(&reclaim_cond);
}
