/* SPDX-License-Identifier: MIT */
/*
 * A vCPU held in the TD (contract 1.1, `vcpu N enter` / `vcpu N leave`): it
 * enters with TDH.VP.ENTER and stays in guest mode touching nothing, so it
 * keeps a reference on its TLB epoch (tdx-module-sept.md §6): a TRACK stays
 * "not done" for it, so a raw TDH.MEM.PAGE.REMOVE after a raw TRACK answers
 * TDX_TLB_TRACKING_NOT_DONE and a second raw TRACK
 * TDX_PREVIOUS_TLB_EPOCH_BUSY. A running vCPU would still take KVM's kicks,
 * so a held one does too: KVM's kick (after its own TRACK) makes it exit and
 * enter again at once, in the new epoch, and KVM's zaps complete. Raw
 * SEAMCALLs never kick (they bypass KVM), so nothing makes it leave then.
 *
 * Threads: the vCPU gets a holder thread that owns its claim (the same claim
 * a guest action takes, so a guest action on a held vCPU answers -EBUSY) and
 * sleeps in guest mode until a request arrives or `leave` stops it. The
 * caller of cpu_vcpu_hold() claims the vCPU and does the first entry itself,
 * so that it gets the entry's result; pthread_create() then hands the vCPU
 * (its TLB, its mode) to the holder, and pthread_join() hands it back.
 *
 * Races, and why each is benign:
 *  - A kicker sets REQ_KICK, then (cpu_wake_holder) takes hold_lock and
 *    signals; the holder reads the requests under hold_lock before it
 *    sleeps. So a request set before the holder's check is seen, and one set
 *    after it is signalled while the holder waits: no lost wake-up. The
 *    kicker's own wait (cpu_wait_out_of_guest) ends when the holder has
 *    exited (exit_gen moves) or has consumed the request on re-entry.
 *  - Between the first entry and the holder thread's start, a kicker sees
 *    IN_GUEST_MODE and waits: the holder services the request once it runs.
 *  - Lock order: a kicker may hold mmu_lock (a zap) when it takes
 *    hold_lock; the holder never takes any other lock while holding
 *    hold_lock (it exits and re-enters with hold_lock dropped).
 *  - A quiesce point (cpu_pause_all) kicks the holder out; its re-entry
 *    parks until the pause ends, then it enters again.
 *  - If re-entry fails (KVM killed the VM, or the module refuses), the vCPU
 *    stays outside, marked parked (it touches nothing, so a quiesce point
 *    need not wait for it), and the holder waits only for `leave`.
 *
 * While exploring (explore/sched.h) the holder is a sched thread
 * ("holderN"), and its sleep is a SCHED_WAIT loop instead of the cond wait:
 * the kicker cannot signal while the holder holds the baton. hold_lock is
 * taken only around the reads and never across a schedule point.
 */
#include <errno.h>
#include <stdio.h>

#include "cpu/cpu_internal.h"
#include "explore/sched_internal.h"
#include "explore/sched.h"

void cpu_wake_holder(struct cpu_vcpu *v)
{
	SCHED_POINT(SCHED_KICK, SCHED_R, &v->held, "vCPU held");
	if (!atomic_load(&v->held))
		return;
	pthread_mutex_lock(&v->hold_lock);
	pthread_cond_signal(&v->hold_cond);
	pthread_mutex_unlock(&v->hold_lock);
}

/* The holder's sleep while exploring: the cond wait's condition, polled
 * between SCHED_WAITs. Returns hold_stop. */
static bool cpu_holder_wait_explored(struct cpu_vcpu *v, bool inside)
{
	for (;;) {
		bool stop, kicked;

		SCHED_POINT_EXPLORING(SCHED_REQUEST, SCHED_R, &v->requests,
				      "holder: stop / request word");
		pthread_mutex_lock(&v->hold_lock);
		stop = v->hold_stop;
		kicked = inside && atomic_load(&v->requests);
		pthread_mutex_unlock(&v->hold_lock);
		if (stop || kicked)
			return stop;
		SCHED_WAIT_EXPLORING(&v->requests, "holder: waiting for a kick or leave");
	}
}

static void *cpu_holder_main(void *arg)
{
	struct cpu_vcpu *v = arg;
	bool inside = true;

	sched_thread_start(v->hold_token);
	trace_set_vcpu((int)v->index);
	for (;;) {
		bool stop;

		if (sched_enabled() && sched_self_active()) {
			stop = cpu_holder_wait_explored(v, inside);
		} else {
			pthread_mutex_lock(&v->hold_lock);
			while (!v->hold_stop && !(inside && atomic_load(&v->requests)))
				pthread_cond_wait(&v->hold_cond, &v->hold_lock);
			stop = v->hold_stop;
			pthread_mutex_unlock(&v->hold_lock);
		}
		if (stop)
			break;
		/* The kick's IPI: exit, take the requests, enter again. */
		if ((v->hold_err = cpu_vcpu_service(v))) {
			inside = false;
			atomic_store(&v->parked, true);
			SCHED_POINT(SCHED_KICK, SCHED_W, &v->hold_failed, "holder: re-entry failed");
			atomic_store(&v->hold_failed, true);
		}
	}
	sched_thread_exit();
	return NULL;
}

int cpu_vcpu_hold(struct cpu *cpu, unsigned index)
{
	struct cpu_vcpu *v;
	int ret, prev;

	if (index >= cpu->nr_vcpus)
		return cpu_fail(-EINVAL, "vcpu %u: the TD has %u vCPUs", index,
				cpu->nr_vcpus);
	if (atomic_load(&cpu->vcpus[index].held))
		return cpu_fail(-EPERM, "vcpu %u is already in the TD (vcpu enter)", index);
	if ((ret = cpu_vcpu_get(cpu, index, &v)))
		return ret;
	prev = trace_set_vcpu((int)index);
	ret = cpu_vcpu_enter(v);
	if (ret)
		cpu_vcpu_put(v);
	/* Every entry answers an injected BUSY: the vCPU cannot be held in
	 * the TD now (-EBUSY: "try later", once the injection is off). */
	if (ret == CPU_ENOENTRY)
		ret = -EBUSY;
	trace_set_vcpu(prev);
	if (ret)
		return ret;
	pthread_mutex_lock(&v->hold_lock);
	v->hold_stop = false;
	pthread_mutex_unlock(&v->hold_lock);
	atomic_store(&v->hold_failed, false);
	v->hold_err = 0;
	SCHED_POINT(SCHED_KICK, SCHED_W, &v->held, "vCPU held");
	atomic_store(&v->held, true);
	{
		char name[24];

		snprintf(name, sizeof(name), "holder%u", index);
		v->hold_token = sched_thread_spawn(name);
	}
	if (pthread_create(&v->hold_tid, NULL, cpu_holder_main, v)) {
		/* The spawned sched thread never starts: forget it. */
		sched_thread_cancel(v->hold_token);
		atomic_store(&v->held, false);
		cpu_vcpu_put(v);
		return cpu_fail(-ENOMEM, "vcpu %u: no thread to hold it in the TD", index);
	}
	return 0;
}

/* One leaver wins (two racing `leave`s: the other gets -EPERM). A kick
 * after this no longer wakes the holder; `hold_stop` does. */
static bool cpu_holder_take(struct cpu_vcpu *v)
{
	bool was = true;

	SCHED_POINT(SCHED_KICK, SCHED_W, &v->held, "vCPU held");
	return atomic_compare_exchange_strong(&v->held, &was, false);
}

/* The caller turned `held` from true to false: it alone stops the holder. */
static void cpu_holder_stop(struct cpu_vcpu *v)
{
	/* Before hold_lock, never under it (a schedule point). */
	SCHED_POINT(SCHED_VCPU, SCHED_W, &v->requests, "holder stop");
	pthread_mutex_lock(&v->hold_lock);
	v->hold_stop = true;
	pthread_cond_signal(&v->hold_cond);
	pthread_mutex_unlock(&v->hold_lock);
	sched_thread_join(v->hold_token);
	/* An abandoned exploration leaves its threads parked for good. */
	if (sched_abandoned())
		pthread_detach(v->hold_tid);
	else
		pthread_join(v->hold_tid, NULL);
	/* The vCPU is this thread's again: exit (a TD exit, HLT) and release
	 * it, as at the end of a guest action. */
	atomic_store(&v->parked, false);
	cpu_vcpu_put(v);
}

int cpu_vcpu_unhold(struct cpu *cpu, unsigned index)
{
	if (index >= cpu->nr_vcpus)
		return cpu_fail(-EINVAL, "vcpu %u: the TD has %u vCPUs", index,
				cpu->nr_vcpus);
	if (!cpu_holder_take(&cpu->vcpus[index]))
		return cpu_fail(-EPERM, "vcpu %u is not in the TD (no vcpu enter)", index);
	cpu_holder_stop(&cpu->vcpus[index]);
	/* A re-entry that failed while held: -EIO (the VM died) or the
	 * model's own CPU_EBUG, reported now that the vCPU is let go. A
	 * re-entry that could never happen (CPU_ENOENTRY: every entry met an
	 * injected BUSY) left the vCPU outside, where leave puts it anyway. */
	if (cpu->vcpus[index].hold_err == CPU_ENOENTRY)
		return 0;
	return cpu->vcpus[index].hold_err;
}

void cpu_hold_release_all(struct cpu *cpu)
{
	for (unsigned i = 0; i < cpu->nr_vcpus; i++)
		if (cpu_holder_take(&cpu->vcpus[i]))
			cpu_holder_stop(&cpu->vcpus[i]);
}

bool cpu_vcpu_held(struct cpu *cpu, unsigned index)
{
	return index < cpu->nr_vcpus && atomic_load(&cpu->vcpus[index].held);
}
