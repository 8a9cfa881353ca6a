/* SPDX-License-Identifier: MIT */
/*
 * liburcu (memb flavour) behind the interface of host_rcu.h: lazy per-thread
 * registration, and the happens-before edges ThreadSanitizer cannot infer
 * from an uninstrumented library.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "explore/sched.h"
#include "host/host_rcu.h"

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
		abort();
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

void host_rcu_read_lock(void)
{
	SCHED_POINT(SCHED_RCU_LOCK, SCHED_R, &rcu_grace_period, "RCU read lock");
	if (sched_rcu_read_lock())
		return;
	rcu_register_self();
	urcu_memb_read_lock();
}

void host_rcu_read_unlock(void)
{
	SCHED_POINT(SCHED_RCU_UNLOCK, SCHED_W, &rcu_grace_period, "RCU read unlock");
	tsan_release(&rcu_tsan_readers_done);
	if (sched_rcu_read_unlock())
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

static void host_rcu_callback(struct rcu_head *head)
{
	struct host_rcu_head *h = (struct host_rcu_head *)head;

	tsan_acquire(h);
	tsan_acquire(&rcu_tsan_readers_done);
	h->func(h);
}

void host_call_rcu(struct host_rcu_head *h, void (*func)(struct host_rcu_head *h))
{
	SCHED_POINT(SCHED_RCU_FREE, SCHED_W, &rcu_grace_period, "call_rcu");
	h->func = func;
	tsan_release(h);
	if (sched_call_rcu(h, host_rcu_sched_callback))
		return;
	/* liburcu's call_rcu enters a read-side section of its own, which
	 * needs a registered thread. */
	rcu_register_self();
	urcu_memb_call_rcu(&h->head, host_rcu_callback);
}
