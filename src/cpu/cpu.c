/* SPDX-License-Identifier: MIT */
/*
 * vCPUs: creation, entry into the TD and TD exits, KVM's requests and kicks.
 *
 * Entry follows KVM's vcpu_enter_guest() + tdx_vcpu_run():
 *   1. handle pending requests (REQ_FLUSH_SHARED: INVEPT of the shared EPTP,
 *      i.e. drop the TLB's shared entries);
 *   2. publish mode = IN_GUEST_MODE, then re-check the requests
 *      (kvm_vcpu_exit_request()): a request that raced with step 1 cancels
 *      the entry and the loop starts over;
 *   3. TDH.VP.ENTER (RCX = TDVPR), retried while the module answers BUSY
 *      (for a time budget with back-off, kvm/tdx_ops.h).
 *      R8 = 1 in the answer means the module flushed the vCPU's private
 *      translations because the TD epoch moved (tdx-module-sept.md §6): drop
 *      the TLB's private entries.
 * A TD exit is tdx_td_exit() (the module's epoch refcount drops), then
 * mode = OUTSIDE_GUEST_MODE.
 *
 * The kick (kvm-tdx-mmu.md §4.2 item 4: upstream does TDH.MEM.TRACK, then
 * kicks every vCPU out with KVM_REQ_OUTSIDE_GUEST_MODE and waits): the kicker
 * sets REQ_KICK in every vCPU, then waits for each vCPU that is in guest mode
 * until it has been outside since the request. The guest loop (guest.c)
 * checks the request word before every page access and exits when it is
 * non-zero. Why it cannot miss, the Dekker pattern KVM relies on (both sides
 * seq_cst):
 *   kicker: requests |= REQ_KICK;     then reads mode
 *   vCPU:   mode = IN_GUEST_MODE;     then reads requests
 * Either the vCPU sees the request (and does not enter, or exits at its next
 * page), or the kicker sees IN_GUEST_MODE and waits.
 * The wait ends on any of: mode is OUTSIDE; exit_gen moved (the vCPU exited
 * since, even if it re-entered at once); REQ_KICK was consumed (a vCPU takes
 * its requests only while outside guest mode, so it was outside after the
 * request was set, and re-entered in the new epoch). A vCPU thread never
 * waits on itself: KVM code (a zap inside its exit handler) runs while its
 * vCPU is outside guest mode.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpu/cpu_internal.h"
#include "explore/mutant.h"
#include "explore/sched.h"
#include "kvm/tdp_mmu.h"
#include "kvm/tdx_ops.h"
#include "tdx/tdx_module.h"
#include "host/model_abort.h"

/* ---- errors ---- */

static _Thread_local char cpu_error[256];

const char *cpu_last_error(void)
{
	return cpu_error;
}

__attribute__((format(printf, 3, 0)))
static int cpu_vfail(int err, bool loud, const char *fmt, va_list ap)
{
	vsnprintf(cpu_error, sizeof(cpu_error), fmt, ap);
	if (loud)
		fprintf(stderr, "tdxmmu: cpu: %s\n", cpu_error);
	return err;
}

int cpu_fail(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err = cpu_vfail(err, false, fmt, ap);
	va_end(ap);
	return err;
}

int cpu_bug(const char *fmt, ...)
{
	va_list ap;
	int err;

	/* The CPU model could not make progress (a bound was reached) or
	 * found the platform inconsistent: say so where a user sees it even
	 * if the caller keeps only the error code. */
	va_start(ap, fmt);
	err = cpu_vfail(CPU_EBUG, true, fmt, ap);
	va_end(ap);
	return err;
}

/* ---- creation ---- */

int cpu_create(struct kvm *kvm, struct tdx_module *m, struct host_mem *hm,
	       enum tdxmmu_accept_mode accept, struct cpu **out)
{
	size_t bytes;
	struct cpu *cpu;

	*out = NULL;
	if (accept != TDXMMU_ACCEPT_AUTO && accept != TDXMMU_ACCEPT_EXPLICIT)
		return -EINVAL;
	if (kvm->nr_vcpus == 0 || kvm->nr_vcpus > KVM_MAX_VCPUS)
		return -EINVAL;
	/* One allocation: the header and every vCPU (cache-line aligned, so
	 * that one vCPU's request word does not share a line with another's). */
	bytes = sizeof(*cpu) + kvm->nr_vcpus * sizeof(cpu->vcpus[0]);
	bytes = (bytes + 63) & ~(size_t)63;
	cpu = aligned_alloc(64, bytes);
	if (!cpu)
		return -ENOMEM;
	memset(cpu, 0, bytes);
	cpu->kvm = kvm;
	cpu->m = m;
	cpu->hm = hm;
	cpu->accept = accept;
	cpu->nr_vcpus = kvm->nr_vcpus;
	cpu->shared_bit = kvm->gfn_shared_mask << PAGE_SHIFT;
	atomic_init(&cpu->paused, 0);
	pthread_mutex_init(&cpu->pause_lock, NULL);
	pthread_cond_init(&cpu->pause_cond, NULL);
	for (unsigned i = 0; i < cpu->nr_vcpus; i++) {
		struct cpu_vcpu *v = &cpu->vcpus[i];

		atomic_init(&v->mode, OUTSIDE_GUEST_MODE);
		atomic_init(&v->exit_gen, 0);
		atomic_init(&v->requests, 0);
		atomic_init(&v->claimed, false);
		atomic_init(&v->parked, false);
		atomic_init(&v->held, false);
		atomic_init(&v->in_td, false);
		atomic_init(&v->hold_failed, false);
		pthread_mutex_init(&v->hold_lock, NULL);
		pthread_cond_init(&v->hold_cond, NULL);
		atomic_init(&v->nr_entries, 0);
		atomic_init(&v->nr_kick_exits, 0);
		atomic_init(&v->nr_private_flushes, 0);
		v->cpu = cpu;
		v->index = i;
		v->kvm_vcpu = &kvm->vcpus[i];
		v->keyid = kvm->hkid;
		tlb_init(&v->tlb);
	}
	/* No vCPU runs yet, so plain stores: the thread that runs one later
	 * got the pointer through the platform's own synchronisation. */
	kvm->cpu = cpu;
	kvm->kick_all_vcpus = cpu_kick_all;
	kvm->flush_shared_tlbs = cpu_flush_shared_tlbs;
	*out = cpu;
	return 0;
}

void cpu_destroy(struct cpu *cpu)
{
	if (!cpu)
		return;
	/* A vCPU held in the TD (`vcpu N enter`) leaves it first: destroy
	 * works whatever the guest was doing. */
	cpu_hold_release_all(cpu);
	for (unsigned i = 0; i < cpu->nr_vcpus; i++) {
		if (atomic_load(&cpu->vcpus[i].claimed) ||
		    atomic_load(&cpu->vcpus[i].mode) != OUTSIDE_GUEST_MODE) {
			fprintf(stderr, "tdxmmu: cpu: BUG: vCPU %u still runs at destroy\n", i);
			model_abort();
		}
	}
	cpu->kvm->kick_all_vcpus = NULL;
	cpu->kvm->flush_shared_tlbs = NULL;
	cpu->kvm->cpu = NULL;
	for (unsigned i = 0; i < cpu->nr_vcpus; i++) {
		pthread_cond_destroy(&cpu->vcpus[i].hold_cond);
		pthread_mutex_destroy(&cpu->vcpus[i].hold_lock);
	}
	pthread_cond_destroy(&cpu->pause_cond);
	pthread_mutex_destroy(&cpu->pause_lock);
	free(cpu);
}

/* ---- one thread per vCPU ---- */

int cpu_vcpu_get(struct cpu *cpu, unsigned index, struct cpu_vcpu **out)
{
	struct cpu_vcpu *v;
	bool was = false;

	if (index >= cpu->nr_vcpus)
		return cpu_fail(-EINVAL, "vcpu %u: the TD has %u vCPUs", index,
				cpu->nr_vcpus);
	v = &cpu->vcpus[index];
	/* Acquire: the previous thread's changes to the vCPU (its TLB) are
	 * visible to this one. */
	if (!atomic_compare_exchange_strong_explicit(&v->claimed, &was, true,
						     memory_order_seq_cst,
						     memory_order_relaxed)) {
		if (atomic_load(&v->held))
			return cpu_fail(-EBUSY, "vcpu %u is held in the TD (vcpu enter): it runs nothing until it leaves",
					index);
		return cpu_fail(-EBUSY, "vcpu %u is running on another thread", index);
	}
	*out = v;
	return 0;
}

static bool cpu_vm_dead(struct cpu *cpu)
{
	return atomic_load_explicit(&cpu->kvm->bugged, memory_order_acquire);
}

int cpu_action_begin(struct cpu *cpu, unsigned index, struct cpu_vcpu **out,
		     enum tdxmmu_outcome *outcome)
{
	int ret = cpu_vcpu_get(cpu, index, out);

	if (ret)
		return ret;
	/* KVM refuses KVM_RUN on a dead VM (kvm_vm_dead): nothing runs. */
	if (cpu_vm_dead(cpu)) {
		cpu_vcpu_put(*out);
		*out = NULL;
		*outcome = TDXMMU_OUTCOME_DEAD;
		return 1;
	}
	/* Until cpu_action_end(), this thread's trace lines are the vCPU's. */
	trace_set_vcpu((int)index);
	return 0;
}

int cpu_action_end(struct cpu_vcpu *v, int ret, enum tdxmmu_outcome *outcome)
{
	/* The VM was alive at the start (cpu_action_begin): if it is dead now
	 * and the action stopped short, an exit handler of this action (or a
	 * host action racing with it) made KVM kill it. An action that
	 * completed before that keeps its outcome. */
	if (ret == CPU_ENOENTRY) {
		/* The vCPU could never enter (CPU_ENOENTRY says why). */
		*outcome = TDXMMU_OUTCOME_BLOCKED;
		ret = 0;
	}
	if ((ret || *outcome != TDXMMU_OUTCOME_OK) && cpu_vm_dead(v->cpu)) {
		*outcome = TDXMMU_OUTCOME_BUGGED;
		ret = 0;
	}
	cpu_vcpu_put(v);
	trace_set_vcpu(-1);
	return ret;
}

void cpu_vcpu_put(struct cpu_vcpu *v)
{
	/* The guest action is over; the guest idles (HLT, a TDVMCALL on TDX,
	 * not counted as one: it is the model's pause between actions). */
	if (cpu_vcpu_in_guest(v))
		cpu_vcpu_exit(v, "HLT");
	atomic_store_explicit(&v->claimed, false, memory_order_release);
}

/* ---- entry and exit ---- */

static void cpu_vcpu_handle_requests(struct cpu_vcpu *v)
{
	unsigned req;

	SCHED_POINT(SCHED_REQUEST, SCHED_W, &v->requests, "request word (consume)");
	req = atomic_exchange(&v->requests, 0);
	/* KVM_REQ_TLB_FLUSH -> tdx_flush_tlb(): INVEPT of the shared EPTP. The
	 * private translations are the TDX module's to flush (epoch, R8). */
	if (req & REQ_FLUSH_SHARED) {
		SCHED_POINT(SCHED_TLB_FLUSH, SCHED_W, &v->tlb, "INVEPT shared EPTP");
		tlb_flush_shared(&v->tlb);
		SCHED_NOTE("vcpu %u: shared TLB and paging-structure caches flushed", v->index);
	}
	/* REQ_KICK only asked the vCPU to leave guest mode: it has. */
}

/*
 * Quiesce points (tdxmmu_check, issue 11 item 2.14), as KVM's all-vCPU
 * requests that must find every vCPU outside the guest and outside KVM's
 * vCPU code (a request handled in vcpu_enter_guest before entry):
 *   pauser: paused += 1;  kick every vCPU (REQ_KICK, wait out of guest);
 *           wait until every vCPU is parked or idle (not claimed)
 *   vCPU:   claimed = true (cpu_vcpu_get);  ...;  at every entry, first:
 *           paused? -> parked = true, sleep until paused == 0
 * Why no vCPU slips through (all seq_cst): a vCPU claimed after the pauser
 * read `claimed` false sees `paused` at its first entry (Dekker on
 * claimed/paused) and parks before touching anything the checker reads (its
 * TLB, the module's per-vCPU fields); a vCPU in guest mode leaves it at the
 * kick and parks at its next entry; one in an exit handler parks when the
 * handler returns (cpu_vcpu_ept_violation re-enters); one ending its action
 * exits and releases the claim. Parked, it holds no lock of KVM's or the
 * module's, so the pauser may take them. The parked/claimed stores are
 * ordered after the vCPU's last TLB and exit writes, and the pauser's loads
 * before its reads: the checker races with no vCPU (TSan-visible).
 * Lock order: pause_lock is taken with no other lock held, by vCPU threads
 * (park) and pausers (resume).
 */
static bool cpu_vcpu_park(struct cpu_vcpu *v)
{
	struct cpu *cpu = v->cpu;

	SCHED_POINT(SCHED_VCPU, SCHED_R, &cpu->paused, "pause count");
	if (!atomic_load(&cpu->paused))
		return false;
	if (sched_enabled() && sched_self_active()) {
		/* No cond wait while exploring: the resumer cannot run while
		 * this thread holds the baton. */
		SCHED_POINT_EXPLORING(SCHED_VCPU, SCHED_W, &v->parked, "vCPU parked");
		atomic_store(&v->parked, true);
		for (;;) {
			SCHED_POINT_EXPLORING(SCHED_VCPU, SCHED_R, &cpu->paused, "pause count");
			if (!atomic_load(&cpu->paused))
				break;
			SCHED_WAIT_EXPLORING(&cpu->paused, "parked at a quiesce point");
		}
		SCHED_POINT_EXPLORING(SCHED_VCPU, SCHED_W, &v->parked, "vCPU parked");
		atomic_store(&v->parked, false);
		return true;
	}
	pthread_mutex_lock(&cpu->pause_lock);
	atomic_store(&v->parked, true);
	while (atomic_load(&cpu->paused))
		pthread_cond_wait(&cpu->pause_cond, &cpu->pause_lock);
	atomic_store(&v->parked, false);
	pthread_mutex_unlock(&cpu->pause_lock);
	return true;
}

static void cpu_relax(unsigned *spins);

void cpu_pause_all(struct cpu *cpu)
{
	SCHED_POINT(SCHED_VCPU, SCHED_W, &cpu->paused, "pause count");
	atomic_fetch_add(&cpu->paused, 1);
	cpu_kick_all(cpu->kvm);
	for (unsigned i = 0; i < cpu->nr_vcpus; i++) {
		struct cpu_vcpu *v = &cpu->vcpus[i];
		unsigned spins = 0;

		for (;;) {
			SCHED_POINT(SCHED_VCPU, SCHED_R, &v->parked, "vCPU claimed/parked");
			if (!atomic_load(&v->claimed) || atomic_load(&v->parked))
				break;
			if (SCHED_WAIT(&v->parked, "pauser: vCPU to park") == SCHED_WAIT_NONE)
				cpu_relax(&spins);
		}
	}
}

void cpu_resume_all(struct cpu *cpu)
{
	SCHED_POINT(SCHED_VCPU, SCHED_W, &cpu->paused, "pause count");
	pthread_mutex_lock(&cpu->pause_lock);
	atomic_fetch_sub(&cpu->paused, 1);
	pthread_cond_broadcast(&cpu->pause_cond);
	pthread_mutex_unlock(&cpu->pause_lock);
	/* A held vCPU is back in the TD when the check returns, so that what
	 * follows (a raw TRACK, say) meets it there whatever the timing. */
	for (unsigned i = 0; i < cpu->nr_vcpus; i++)
		cpu_wait_held_back(&cpu->vcpus[i]);
}

/*
 * A count of the vCPU's (nr_entries, ...): only the thread that has the
 * vCPU claimed writes it (the claim's compare-exchange and release order
 * the hand-over between threads), so a load and a store, not a locked
 * read-modify-write (issue 15: each is ~6 ns of a ~0.3 us fault here).
 */
static void vcpu_stat_inc(_Atomic uint64_t *c)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
			      memory_order_relaxed);
}

int cpu_vcpu_enter(struct cpu_vcpu *v)
{
	struct kvm *kvm = v->cpu->kvm;
	struct tdx_retry busy = TDX_RETRY_INIT;

	for (;;) {
		struct seamcall_regs r;
		uint64_t s;

		/* KVM_BUG_ON made the VM dead: every vCPU ioctl fails. */
		if (atomic_load_explicit(&kvm->bugged, memory_order_relaxed))
			return cpu_fail(-EIO, "vcpu %u: the VM is dead (KVM_BUG_ON)",
					v->index);
		/* A quiesce point is asked for: wait outside, before touching
		 * the TLB (the pauser reads it). */
		if (cpu_vcpu_park(v))
			continue;
		cpu_vcpu_handle_requests(v);
		SCHED_POINT(SCHED_KICK, SCHED_W, &v->mode, "vCPU mode");
		atomic_store(&v->mode, IN_GUEST_MODE);
		SCHED_POINT(SCHED_REQUEST, SCHED_R, &v->requests, "request word");
		if (atomic_load(&v->requests)) {
			/* A kick or flush raced with the steps above: cancel
			 * the entry (vcpu_enter_guest's cancel_injection). No
			 * bound: each round means someone asked again. */
			SCHED_POINT(SCHED_KICK, SCHED_W, &v->mode, "vCPU mode");
			atomic_store(&v->mode, OUTSIDE_GUEST_MODE);
			continue;
		}
		r = (struct seamcall_regs){ .rax = TDH_VP_ENTER,
					    .rcx = v->kvm_vcpu->tdvpr };
		s = kvm_seamcall(kvm, &r);
		if (!tdx_status_is_error(s)) {
			if (r.r8) {
				SCHED_POINT(SCHED_TLB_FLUSH, SCHED_W, &v->tlb,
					    "private TLB flush (VP.ENTER R8)");
				tlb_flush_private(&v->tlb);
				vcpu_stat_inc(&v->nr_private_flushes);
			}
			vcpu_stat_inc(&v->nr_entries);
			SCHED_POINT(SCHED_KICK, SCHED_W, &v->in_td, "vCPU in_td");
			/* Release: a kicker polls it (cpu_wait_held_back()),
			 * no Dekker pair needs it in the total order. */
			atomic_store_explicit(&v->in_td, true, memory_order_release);
			KVM_TRACE(kvm, kvm_entry, (v->index), "vcpu %u", v->index);
			return 0;
		}
		SCHED_POINT(SCHED_KICK, SCHED_W, &v->mode, "vCPU mode");
		atomic_store(&v->mode, OUTSIDE_GUEST_MODE);
		if (tdx_status_is(s, TDX_OPERAND_BUSY) ||
		    tdx_status_is(s, TDX_OPERAND_BUSY_HOST_PRIORITY)) {
			/* The epoch lock (a TRACK in flight) or the TDR lock
			 * (a host SEAMCALL holding it exclusive): KVM retries,
			 * for a time budget with back-off, not a try count:
			 * the holder may be a preempted thread (issue 11 item
			 * 2.13; kvm/tdx_ops.h). The module lets a waiting
			 * entry in ahead of further TRACKs. */
			/* An injected BUSY that every later entry meets too
			 * never clears: no retry or wait helps, and waiting
			 * out the budget would end as the model's own bug
			 * report (exit status 3) for what the model was
			 * asked to do (CPU_ENOENTRY). */
			if (tdx_last_busy_hopeless())
				return cpu_fail(CPU_ENOENTRY,
						"vcpu %u: every TDH.VP.ENTER answers an injected BUSY (%#llx): the vCPU can never enter",
						v->index, (unsigned long long)s);
			/* While exploring the scheduler decides who runs
			 * (the budget is wall-clock time); a stall is the
			 * scheduler's to report as a deadlock. */
			if (SCHED_WAIT(v, "TDH.VP.ENTER busy") != SCHED_WAIT_NONE)
				continue;
			if (!tdx_retry_backoff(&busy))
				return cpu_bug("vcpu %u: TDH.VP.ENTER busy for %llu s (%u tries, last %#llx)",
					       v->index,
					       (unsigned long long)(TDX_RETRY_BUDGET_NS / 1000000000ULL),
					       busy.tries, (unsigned long long)s);
			continue;
		}
		if (tdx_status_is(s, TDX_OP_STATE_INCORRECT))
			return cpu_fail(-EPERM, "vcpu %u: the TD is not runnable (not finalized?): TDH.VP.ENTER %#llx",
					v->index, (unsigned long long)s);
		/* Any other refusal: upstream tdx_handle_exit() hands it to
		 * the VMM (KVM_EXIT_INTERNAL_ERROR with the status in
		 * internal.data[0]) and leaves the VM alive; the entry changed
		 * nothing. Not the model's breakage (which this was before
		 * error injection could make the module refuse an entry). */
		return cpu_fail(-EREMOTEIO, "vcpu %u: TDH.VP.ENTER failed: %#llx (KVM_EXIT_INTERNAL_ERROR to the VMM)",
				v->index, (unsigned long long)s);
	}
}

void cpu_vcpu_exit(struct cpu_vcpu *v, const char *fmt, ...)
{
	struct kvm *kvm = v->cpu->kvm;

	SCHED_POINT(SCHED_KICK, SCHED_W, &v->in_td, "vCPU in_td");
	atomic_store_explicit(&v->in_td, false, memory_order_release);
	/* The module first: once a kicker sees the vCPU out, the epoch
	 * refcount has dropped and TDH.MEM.TRACK can move on (§6). */
	tdx_td_exit(v->cpu->m, v->kvm_vcpu->tdvpr);
	/*
	 * Release stores, no locked instruction (issue 15): exit_gen has one
	 * writer, this vCPU's thread, and a kicker only waits for either to
	 * change (cpu_wait_out_of_guest()), ordered after the exit above by
	 * release. The kick's Dekker pair is the entry's IN_GUEST store
	 * (seq_cst) against the kicker's request: a kicker that reads this
	 * OUTSIDE reads it before the next IN_GUEST store in the total order,
	 * so that entry's re-read of the requests sees its request.
	 */
	SCHED_POINT(SCHED_KICK, SCHED_W, &v->exit_gen, "vCPU exit_gen");
	atomic_store_explicit(&v->exit_gen,
			      atomic_load_explicit(&v->exit_gen, memory_order_relaxed) + 1,
			      memory_order_release);
	SCHED_POINT(SCHED_KICK, SCHED_W, &v->mode, "vCPU mode");
	atomic_store_explicit(&v->mode, OUTSIDE_GUEST_MODE, memory_order_release);
	/* The probe gets the reason's format (its first word names the
	 * reason): formatting it for a probe nobody watches would cost every
	 * exit a vsnprintf. */
	TRACE_PROBE(kvm_exit, (v->index, fmt));
	if (trace_on(kvm, kvm_exit)) {
		char reason[160];
		va_list ap;

		va_start(ap, fmt);
		vsnprintf(reason, sizeof(reason), fmt, ap);
		va_end(ap);
		kvm_trace_emit(kvm, TRACE_EV_kvm_exit, "vcpu %u reason %s", v->index,
			       reason);
	}
}

/* A request is pending (cpu_vcpu_service(), cpu_internal.h). */
int cpu_vcpu_service_requests(struct cpu_vcpu *v)
{
	/* The kick's IPI: an external-interrupt TD exit; the requests are
	 * handled on the way back in. */
	vcpu_stat_inc(&v->nr_kick_exits);
	cpu_vcpu_exit(v, "EXTERNAL_INTERRUPT");
	return cpu_vcpu_enter(v);
}

/* ---- EPT-violation exits ---- */

int cpu_vcpu_ept_violation(struct cpu_vcpu *v, uint64_t gpa, const char *why,
			   struct cpu_fault_state *st,
			   enum cpu_fault_answer *answer)
{
	struct kvm *kvm = v->cpu->kvm;
	uint64_t injected = kvm_enomem_injected(), gave_up = tdx_busy_gave_up_here();
	bool idle;
	int ret;

	st->retried = false;
	kvm_stat_inc_mine(&kvm_stats_mine(kvm)->exit_ept_violation);
	cpu_vcpu_exit(v, "EPT_VIOLATION gpa 0x%llx%s", (unsigned long long)gpa, why);
	/* tdx_handle_ept_violation: R8 = GPA with bits 11:0 cleared (§10.1).
	 * KVM's answer says whether anything changed (idle): the CPU model
	 * reads none of KVM's state (architecture.md, issue 11 item 2.6). */
	ret = kvm_tdx_ept_violation_exit(v->kvm_vcpu, gpa & PAGE_MASK, &idle);

	switch (ret) {
	case RET_PF_FIXED:
	case RET_PF_SPURIOUS:
		/* Installed, or already there (a race with another vCPU):
		 * re-enter and walk again. SPURIOUS is never `blocked` on its
		 * own, even twice in a row (the contract's `blocked` is a
		 * RETRY that changed nothing); only a long run of SPURIOUS
		 * answers that changed nothing ends the access as `blocked`
		 * (CPU_MAX_TRIES: the host broke the S-EPT behind KVM). */
		if (ret == RET_PF_SPURIOUS && idle)
			st->idle_spurious++;
		else
			st->idle_spurious = 0;
		break;
	case RET_PF_RETRY:
		/* §6.5: a fault on the wrong alias changes nothing and the
		 * vCPU would loop on EPT violations: `blocked`. */
		if (idle) {
			*answer = CPU_FAULT_BLOCKED;
			return 0;
		}
		/* KVM lost to an injected BUSY that every call meets (its
		 * retry gave up at once): every refault would meet it too,
		 * so the access can never complete in this state, `blocked`
		 * now rather than after CPU_MAX_TRIES refaults (each, in the
		 * legacy MMU, a table page made and thrown away; fuzz_ops). */
		if (tdx_busy_gave_up_here() != gave_up) {
			*answer = CPU_FAULT_BLOCKED;
			return 0;
		}
		st->retried = true;
		st->idle_spurious = 0;
		break;
	case RET_PF_EMULATE:
	case -EFAULT:
		/* No memslot: a shared GPA is MMIO for KVM (emulated, here:
		 * no device); a private one would exit to user space with
		 * KVM_EXIT_MEMORY_FAULT, which the model has not, so the
		 * guest sees the same `mmio`. */
		*answer = CPU_FAULT_MMIO;
		return 0;
	default:
		/*
		 * An injected -ENOMEM that a retry can get past (a share below
		 * 100 %): KVM_RUN fails, the VMM runs it again, and the guest
		 * executes the faulting access again: the vCPU re-enters here
		 * and the access walks again, its fault state kept, and the
		 * fault is not one of the access's CPU_MAX_TRIES (the share
		 * alone must not turn a completion into `blocked`). Returning
		 * it to the API, which re-issued the whole action, reset that
		 * state: an access to a page the host had BLOCKed behind KVM
		 * (idle SPURIOUS answers for ever) needed CPU_MAX_TRIES / 2
		 * such answers with no ENOMEM in between to end `blocked`,
		 * minutes at 1 % and never at 50 % (fuzz_ops,
		 * tests/fuzz/corpus/ops/found-spurious-enomem-*).
		 */
		if (ret == -ENOMEM && kvm_enomem_injected() != injected &&
		    !kvm_enomem_hopeless(kvm)) {
			st->enomem_rerun++;
			*answer = CPU_FAULT_RETRY_ACCESS;
			return cpu_vcpu_enter(v);
		}
		/* -ENOMEM at a site that fails every time, or not injected:
		 * KVM_RUN fails and returns to the VMM (the API layer, td.c,
		 * reports `error` or TDXMMU_ENOMEM); the CPU does not loop.
		 * -EIO: KVM killed the VM (cpu_action_end says `bugged`). */
		if (ret < 0)
			return cpu_fail(ret, "vcpu %u: KVM's EPT-violation handler at %#llx failed (%d)",
					v->index, (unsigned long long)gpa, ret);
		return cpu_bug("vcpu %u: unexpected answer %d from KVM's EPT-violation handler",
			       v->index, ret);
	}
	*answer = CPU_FAULT_RETRY_ACCESS;
	return cpu_vcpu_enter(v);
}

/* ---- KVM's callbacks ---- */

/*
 * Spin-wait step: yield first (the vCPU is usually one page access away from
 * its exit), then sleep a little, so that a waiter never starves the thread
 * it waits for when there are fewer CPUs than threads (or under valgrind,
 * which runs one thread at a time).
 */
static void cpu_relax(unsigned *spins)
{
	if (++*spins < 64) {
		sched_yield();
	} else {
		struct timespec ts = { .tv_nsec = 20000 };

		nanosleep(&ts, NULL);
	}
}

static void cpu_wait_out_of_guest(struct cpu_vcpu *v)
{
	uint64_t gen;
	unsigned spins = 0;

	SCHED_POINT(SCHED_KICK, SCHED_R, &v->exit_gen, "vCPU exit_gen");
	gen = atomic_load(&v->exit_gen);
	for (;;) {
		SCHED_POINT(SCHED_KICK, SCHED_R, &v->mode, "vCPU mode / exit_gen / request");
		if (atomic_load(&v->mode) != IN_GUEST_MODE ||
		    atomic_load(&v->exit_gen) != gen ||
		    !(atomic_load(&v->requests) & REQ_KICK))
			break;
		if (SCHED_WAIT(&v->mode, "kicker: vCPU out of guest mode") == SCHED_WAIT_NONE)
			cpu_relax(&spins);
	}
}

void cpu_wait_held_back(struct cpu_vcpu *v)
{
	unsigned spins = 0;

	for (;;) {
		SCHED_POINT(SCHED_KICK, SCHED_R, &v->in_td, "held vCPU in_td");
		if (!atomic_load(&v->held) || atomic_load(&v->in_td) ||
		    atomic_load(&v->hold_failed) || atomic_load(&v->cpu->paused))
			break;
		if (SCHED_WAIT(&v->in_td, "kicker: held vCPU back in the TD") ==
		    SCHED_WAIT_NONE)
			cpu_relax(&spins);
	}
}

static void cpu_request_all(struct cpu *cpu, unsigned req)
{
	for (unsigned i = 0; i < cpu->nr_vcpus; i++) {
		SCHED_POINT(SCHED_REQUEST, SCHED_W, &cpu->vcpus[i].requests, "request word");
		atomic_fetch_or(&cpu->vcpus[i].requests, req);
		cpu_wake_holder(&cpu->vcpus[i]);
	}
	for (unsigned i = 0; i < cpu->nr_vcpus; i++)
		cpu_wait_out_of_guest(&cpu->vcpus[i]);
	/*
	 * A held vCPU (`vcpu N enter`) exits at the kick and enters again at
	 * once, in the new epoch. Wait for that too, so that the kicker's
	 * caller (a zap, a scenario line after it) finds it back in the TD
	 * deterministically. It needs no lock the kicker may hold (mmu_lock,
	 * slots_lock): only TDH.VP.ENTER, whose module locks no kicker holds
	 * between its SEAMCALLs. A pause (the vCPU parks) or a failed
	 * re-entry (a dead VM) ends the wait.
	 */
	for (unsigned i = 0; i < cpu->nr_vcpus; i++)
		cpu_wait_held_back(&cpu->vcpus[i]);
}

void cpu_kick_all(struct kvm *kvm)
{
	struct cpu *cpu = kvm->cpu;

	if (cpu)
		cpu_request_all(cpu, REQ_KICK);
}

void cpu_flush_shared_tlbs(struct kvm *kvm)
{
	struct cpu *cpu = kvm->cpu;

	if (!cpu)
		return;
	/*
	 * MUTANT_NO_KICK (the guard: kvm/tdx_hooks.c, tdx_kick_vcpus()): the
	 * request stays, the kick goes. A running vCPU takes REQ_FLUSH_SHARED
	 * at its next page access; nobody waits for it to leave guest mode,
	 * and a held vCPU asleep in the TD is not woken.
	 */
	if (mutant_on(MUTANT_NO_KICK)) {
		for (unsigned i = 0; i < cpu->nr_vcpus; i++) {
			SCHED_POINT(SCHED_REQUEST, SCHED_W, &cpu->vcpus[i].requests,
				    "request word (no kick)");
			atomic_fetch_or(&cpu->vcpus[i].requests, REQ_FLUSH_SHARED);
		}
		return;
	}
	/* One RMW per vCPU for both bits: the flush is taken together with
	 * the kick, before the vCPU next runs guest code. */
	cpu_request_all(cpu, REQ_FLUSH_SHARED | REQ_KICK);
}

/* ---- observer ---- */

struct tlb_visit {
	unsigned vcpu;
	void (*fn)(unsigned vcpu, uint64_t gpa, pfn_t pfn, bool is_private,
		   bool writable, void *arg);
	void *arg;
};

static void tlb_visit_one(const struct tlb_entry *e, void *arg)
{
	struct tlb_visit *tv = arg;

	tv->fn(tv->vcpu, e->gpa, e->pfn, e->is_private, e->writable, tv->arg);
}

void cpu_tlb_foreach(struct cpu *cpu,
		     void (*fn)(unsigned vcpu, uint64_t gpa, pfn_t pfn,
				bool is_private, bool writable, void *arg),
		     void *arg)
{
	for (unsigned i = 0; i < cpu->nr_vcpus; i++) {
		struct tlb_visit tv = { .vcpu = i, .fn = fn, .arg = arg };

		tlb_foreach(&cpu->vcpus[i].tlb, tlb_visit_one, &tv);
	}
}

bool cpu_shared_flush_pending(struct cpu *cpu, unsigned v)
{
	return v < cpu->nr_vcpus &&
	       (atomic_load(&cpu->vcpus[v].requests) & REQ_FLUSH_SHARED);
}
