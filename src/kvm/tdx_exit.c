/* SPDX-License-Identifier: MIT */
/*
 * KVM's handler of a TD's EPT-violation exit (tdx_handle_ept_violation,
 * reference kvm-tdx-mmu.md §2.4), called by the CPU model on the exiting
 * vCPU's thread.
 *
 * Classification (§2.4): the shared bit of the GPA picks the tree. A private
 * GPA is always handled as a write (the S-EPT maps private pages RWX, and a
 * write fault avoids CoW pages that would make PAGE.AUG fail): the model's
 * fault path has no access type, so this is implicit. The extended exit
 * qualification's ACCEPT level is honoured as the E8 series does
 * (tdx_handle_accept_level(), hugepages ref §2.2: it matters only in
 * hugepages memslots, the seeds' E4 maps 4K whatever the level); an
 * instruction fetch on a shared GPA is not modeled.
 *
 * Local retry (§4.3, E7): the fault path answers RET_PF_RETRY both when the
 * GPA is on the wrong alias (§6.5: the vCPU must loop until some vCPU's
 * MapGPA converts it) and when it lost a race: a cmpxchg lost to another
 * vCPU, an entry frozen by another vCPU's SEAMCALL, a SEAMCALL that answered
 * TDX_OPERAND_BUSY and was rolled back. Re-entering the guest for the second
 * kind costs an exit and, on real hardware, feeds the TDX module's zero-step
 * mitigation (more than 6 EPT violations without progress and VP.ENTER takes
 * the S-EPT lock exclusively, tdx-module-sept.md §10.1), so upstream retries
 * a private fault locally. The model retries either kind of fault locally,
 * a bounded number of times, while the attempt met such a race.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>

#include "kvm/kvm.h"
#include "kvm/kvm_sched.h"
#include "kvm/mmu_legacy.h"
#include "kvm/tdp_mmu.h"
#include "kvm/tdp_mmu_nomirror.h"
#include "kvm/tdx_hooks.h"
#include "tdx/seamcall.h"
#include "tdx/tdx_module.h"

/* Attempts beyond the first while the fault keeps losing races. Upstream
 * loops until it stops being BUSY or an event is pending; the model has no
 * pending events, so it bounds the loop and lets the vCPU re-enter. */
#define TDX_EPT_VIOLATION_LOCAL_RETRIES 8

/* The global retry causes; other vCPUs move them too, which only makes us
 * retry more often (still bounded). */
static uint64_t tdx_fault_races(struct kvm *kvm)
{
	return kvm_contention(kvm);
}

static const char *ret_pf_name(int ret, char *buf, size_t len)
{
	switch (ret) {
	case RET_PF_FIXED:
		return "FIXED";
	case RET_PF_SPURIOUS:
		return "SPURIOUS";
	case RET_PF_RETRY:
		return "RETRY";
	case RET_PF_EMULATE:
		return "EMULATE";
	case -EFAULT:
		return "-EFAULT";
	case -EIO:
		return "-EIO";
	case -ENOMEM:
		return "-ENOMEM";
	default:
		snprintf(buf, len, "%d", ret);
		return buf;
	}
}

/*
 * An EPT violation of a guest ACCEPT (extended exit qualification type
 * ACCEPT, hugepages ref §2.2.3; E8 "Honor the guest's accept level"):
 *  1. ignored unless the GFN is in a memslot (the fault says what then);
 *  2. a 1G accept is ignored (KVM never maps 1G; the fault maps at most 2M
 *     and the re-executed 1G ACCEPT gets PAGE_SIZE_MISMATCH, §3.6);
 *  3. a 2M accept needs nothing here (the guest-inhibit flag at 1G is
 *     moot: no 1G leaves), and the fault maps 2M where allowed;
 *  4. a 4K accept: if the 2M range already has its 4K table (the model's
 *     guest-inhibit, read without mmu_lock), straight to the fault;
 *     otherwise, under mmu_lock for write, split any private 2M leaf there
 *     and make the table (kvm_tdp_mmu_accept_split()); the fault is then
 *     at most 4K. No extra flush: the split's BLOCK + TRACK + kick did it
 *     (§2.2.3 step 5). A failure (memory) goes back to userspace (step 6).
 * Only in a hugepages memslot: elsewhere nothing is ever mapped at 2M.
 */
static int tdx_handle_accept_level(struct kvm_vcpu *vcpu, gpa_t gpa, int *max_level)
{
	struct kvm *kvm = vcpu->kvm;
	unsigned level = (unsigned)((vcpu->ext_exit_qual & TDX_EXT_EXIT_QUAL_ACCEPT_LEVEL_MASK) >>
				    TDX_EXT_EXIT_QUAL_ACCEPT_LEVEL_SHIFT);
	gfn_t gfn = kvm_gfn_private(kvm, gpa >> PAGE_SHIFT);
	struct host_memslot slot;
	bool stalled = false;
	int ret;

	if (level != 0 || !host_memslot_find(kvm->slots, gfn, &slot) || !slot.hugepages)
		return 0;
	*max_level = PG_LEVEL_4K;
	if (kvm_tdp_mmu_accept_inhibited(kvm, gfn))
		return 0;
	for (unsigned pass = 0;; pass++) {
		if (kvm_mmu_topup_sept_cache(kvm, &vcpu->sept_cache))
			return -ENOMEM;
		/* MUTANT_SPLIT_READ_LOCK: the split under the read side,
		 * which the E8 series refuses (hugepages ref §4.2). */
		if (mutant_on(MUTANT_SPLIT_READ_LOCK))
			kvm_mmu_read_lock(kvm);
		else
			kvm_mmu_write_lock(kvm);
		ret = kvm_tdp_mmu_accept_split(kvm, gfn, &vcpu->sept_cache);
		if (mutant_on(MUTANT_SPLIT_READ_LOCK))
			kvm_mmu_read_unlock(kvm);
		else
			kvm_mmu_write_unlock(kvm);
		/* -EAGAIN: the cache ran dry (refilled above); -EBUSY:
		 * SEPT.ADD contended with a vCPU's VP.ENTER. As MapGPA's
		 * pre-population passes (mapgpa.c). */
		if (ret != -EAGAIN && ret != -EBUSY)
			return ret;
		if (pass == TDX_EPT_VIOLATION_LOCAL_RETRIES ||
		    kvm_map_gpa_pass_wait(kvm, ret, &stalled))
			return RET_PF_RETRY;
	}
}

int kvm_tdx_handle_ept_violation(struct kvm_vcpu *vcpu, gpa_t gpa)
{
	struct kvm *kvm = vcpu->kvm;
	bool is_private = kvm_is_private_gpa(kvm, gpa);
	char buf[16];
	int ret;

	/*
	 * SEPT_VE_DISABLE: the guest touched a private page it never accepted
	 * and the module exited instead of raising #VE. Upstream KVM kills
	 * the VM ("Guest access before accepting"): a guest that runs with
	 * #VE disabled must accept before use, nothing KVM maps can help.
	 */
	if (is_private && (vcpu->ext_exit_qual & TDX_EXT_EXIT_QUAL_TYPE_MASK) ==
			  TDX_EXT_EXIT_QUAL_TYPE_PENDING_EPT_VIOLATION) {
		kvm_vm_bugged(kvm, "guest access before accepting gpa 0x%llx on vCPU %u",
			      (unsigned long long)(gpa & PAGE_MASK), vcpu->index);
		return -EIO;
	}
	if (kvm_is_legacy_mmu(kvm))
		return kvm_legacy_handle_ept_violation(vcpu, gpa);
	/* The exit's GPA has bits 11:0 cleared (tdx-module-sept.md §10.1). */
	gpa &= PAGE_MASK;
	kvm_stat_inc_mine(is_private ? &kvm_stats_mine(kvm)->fault_private : &kvm_stats_mine(kvm)->fault_shared);

	/* The guest's ACCEPT level (hugepages ref §2.2.3), before the fault. */
	int max_level = PG_LEVEL_2M;

	if (__builtin_expect((vcpu->ext_exit_qual & TDX_EXT_EXIT_QUAL_TYPE_MASK) ==
			     TDX_EXT_EXIT_QUAL_TYPE_ACCEPT, 0) &&
	    is_private && !kvm->no_mirror) {
		ret = tdx_handle_accept_level(vcpu, gpa, &max_level);
		if (ret)
			goto out;
	}

	bool stalled = false;

	for (int tries = 0;; tries++) {
		uint64_t races;

		/*
		 * mmu_topup_memory_caches: S-EPT pages for the tables a private
		 * fault may link, allocated before mmu_lock (nothing is
		 * allocated with it held). A shared fault needs none.
		 */
		if (is_private && kvm_mmu_topup_sept_cache(kvm, &vcpu->sept_cache)) {
			ret = -ENOMEM;
			break;
		}
		races = tdx_fault_races(kvm);
		if (is_private && kvm->no_mirror) {
			/* Benchmarks: SEPT.RD walks instead of a mirror. */
			ret = kvm_nomirror_map(vcpu, gpa);
		} else {
			kvm_mmu_read_lock(kvm);
			ret = kvm_tdp_mmu_map_level(kvm, is_private ? &vcpu->sept_cache : NULL,
						    gpa, max_level);
			kvm_mmu_read_unlock(kvm);
		}
		if (ret != RET_PF_RETRY)
			break;
		/* The wrong alias (§6.5): no race, retrying cannot help. */
		if (tdx_fault_races(kvm) == races)
			break;
		/* Lost to an injected BUSY that every call meets (the AUG or
		 * SEPT.ADD just made): no retry can get past it, nor can the
		 * vCPU's refaults (cpu_vcpu_ept_violation() ends the access
		 * `blocked`, seeing this give-up). */
		if (tdx_last_busy_hopeless())
			break;
		if (tries == TDX_EPT_VIOLATION_LOCAL_RETRIES) {
			/*
			 * Still losing races: let the vCPU re-enter and fault
			 * again. The change that beat us may not have bumped
			 * mmu_change_seq yet when the CPU model reads it (an
			 * entry frozen by another vCPU is unfrozen, and counted,
			 * only when that vCPU's SEAMCALL returns), so count it
			 * on its behalf: this RETRY must not read as "nothing
			 * can change" (the scenario's `blocked`).
			 */
			kvm_mmu_change_seq_bump(kvm);
			break;
		}
		/*
		 * The race was lost to another thread (its frozen entry, its
		 * module lock): let it finish. Exploring, it cannot while this
		 * thread keeps the baton, so SCHED_WAIT, which also keeps the
		 * bound above from being spun through while it is parked.
		 * Every thread waiting and none writing: one more try (the
		 * winner may have finished before this wait began), and after
		 * a second STALL in a row nothing will change: answer RETRY
		 * (no bump: this one is not transient).
		 */
		enum sched_wait_result w = SCHED_WAIT(kvm, "fault: lost a race, retry");

		if (w == SCHED_WAIT_STALL && stalled)
			break;
		stalled = w == SCHED_WAIT_STALL;
		if (w == SCHED_WAIT_NONE)
			sched_yield();
	}

out:
	TRACE_PROBE(kvm_page_fault, (vcpu->index, gpa, is_private, ret));
	if (trace_on(kvm, kvm_page_fault))
		kvm_trace_emit(kvm, TRACE_EV_kvm_page_fault,
			       "vcpu %u address 0x%llx private %d -> %s", vcpu->index,
			       (unsigned long long)gpa, is_private,
			       ret_pf_name(ret, buf, sizeof(buf)));
	return ret;
}

/*
 * The exit as the vCPU takes it. KVM's own counters decide "nothing changed"
 * (kvm_mmu_change_seq() includes this thread's own fault-local changes, so
 * it is read on the exiting vCPU's thread, before and after): the answer
 * carries the verdict, the CPU model reads no KVM state (issue 11, 2.6).
 * Contention counts as a change: a RETRY after a lost race is transient.
 */
int kvm_tdx_ept_violation_exit(struct kvm_vcpu *vcpu, gpa_t gpa, bool *idle)
{
	struct kvm *kvm = vcpu->kvm;
	uint64_t seq = kvm_mmu_change_seq(kvm);
	uint64_t contention = kvm_contention(kvm);
	int ret = kvm_tdx_handle_ept_violation(vcpu, gpa);

	*idle = seq == kvm_mmu_change_seq(kvm) &&
		contention == kvm_contention(kvm);
	return ret;
}
