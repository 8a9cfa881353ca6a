/* SPDX-License-Identifier: MIT */
/*
 * Inside the CPU model: the vCPU structure shared by cpu.c (entry, exit,
 * requests, kick), ept_walk.c (the page walker of the shared EPT) and
 * guest.c (the guest's actions, its #VE handler, ACCEPT and MapGPA).
 *
 * A vCPU runs on one thread at a time (the caller of a cpu_guest_*()
 * function; `claimed` refuses a second one). Everything in struct cpu_vcpu is
 * that thread's, except:
 *  - mode and exit_gen, written by the vCPU thread and read by kickers;
 *  - requests, set by other threads (kick, flush) and consumed by the vCPU;
 *  - claimed, parked, held, in_td, hold_failed: atomics read by pausers
 *    (cpu_pause_all) and kickers of a held vCPU (hold.c), and the hold_*
 *    fields under hold_lock.
 * Those are the fields of KVM's kvm_vcpu that kvm_make_all_cpus_request()
 * and kvm_vcpu_kick() touch from other CPUs, with the same protocol
 * (kvm_vcpu_exit_request() re-checked after the mode is published).
 */
#ifndef TDXMMU_CPU_CPU_INTERNAL_H
#define TDXMMU_CPU_CPU_INTERNAL_H

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "cpu/cpu.h"
#include "cpu/tlb.h"
#include "explore/sched.h"
#include "host/host_mem.h"
#include "kvm/kvm.h"
#include "tdx/tdx_module.h"

/* vcpu->mode, as KVM's (OUTSIDE_GUEST_MODE / IN_GUEST_MODE). */
enum cpu_vcpu_mode {
	OUTSIDE_GUEST_MODE,
	IN_GUEST_MODE,
};

/* vcpu->requests bits. */
#define REQ_FLUSH_SHARED (1u << 0) /* KVM_REQ_TLB_FLUSH: INVEPT shared EPTP */
#define REQ_KICK (1u << 1)         /* KVM_REQ_OUTSIDE_GUEST_MODE: just exit */

/*
 * Bound of every loop in which the vCPU waits for someone else's progress
 * (faults answered FIXED that do not stick, BUSY from the module, ACCEPT
 * contention). Reaching it is a bug of the model, reported as CPU_EBUG;
 * except for an access that would go on faulting for a reason outside the
 * model, which is `blocked` (a parallel block's runner retries it):
 *  - KVM kept answering RETRY while other threads kept changing the tables;
 *  - KVM kept answering SPURIOUS with nothing changed: its mirror maps the
 *    page but the Secure EPT does not let the walk through, because the host
 *    changed the S-EPT behind KVM's back with raw SEAMCALLs (a BLOCK, say).
 *    Real KVM loops on EPT violations there too; `check` names the mirror
 *    and S-EPT disagreement. Exit status 3 is only for the model's own
 *    breakage (contract 1.1), and this is the host's doing.
 */
#define CPU_MAX_TRIES 1000

struct cpu_vcpu {
	/* Kicker-visible state, on its own cache line. */
	_Alignas(64) _Atomic int mode;
	/* Bumped at every exit from guest mode: a kicker that saw IN_GUEST
	 * waits for mode to change, OR this to move (so that an exit
	 * followed by a quick re-entry is not missed), OR its REQ_KICK to be
	 * consumed (cpu.c, cpu_wait_out_of_guest()). */
	_Atomic uint64_t exit_gen;
	_Atomic unsigned requests;
	/* The thread running the vCPU (one at a time). */
	_Atomic bool claimed;
	/* Parked at a quiesce point (cpu_vcpu_park()): outside guest mode and
	 * outside every exit handler, touching nothing until the pause ends.
	 * Written by the vCPU thread, read by the pauser (cpu_pause_all()). */
	_Atomic bool parked;
	/* Held in the TD by `vcpu N enter` (hold.c): a holder thread owns the
	 * claim, sits in guest mode and services kicks. hold_lock guards
	 * hold_stop and orders the holder's sleep against a kicker's wake-up
	 * (cpu_wake_holder()); `held` is read by kickers without it. */
	_Atomic bool held;
	/* Between a successful TDH.VP.ENTER and the next TD exit: what a
	 * kicker of a held vCPU waits for (cpu_wait_held_back()). */
	_Atomic bool in_td;
	/* The holder's re-entry failed (a dead VM): it stays outside. */
	_Atomic bool hold_failed;
	pthread_mutex_t hold_lock;
	pthread_cond_t hold_cond;
	bool hold_stop;
	pthread_t hold_tid;
	int hold_err; /* the holder's failed re-entry; read after the join */
	int hold_token; /* the holder's sched thread (explore/sched.h) */

	/* The vCPU thread's own state. */
	_Alignas(64) struct cpu *cpu;
	unsigned index;
	struct kvm_vcpu *kvm_vcpu; /* tdvpr, sept_cache */
	unsigned keyid;            /* the TD's private key (hardware walk) */
	/* The S-EPT root and its level, the EPTP tag of the private
	 * paging-structure cache entries (guest.c; 0 before the first walk). */
	pfn_t sept_root;
	unsigned sept_top;
	/* What the module's walk from a cached table keeps for the next one
	 * (tdx_hw_walk_from(); zeroed with the vCPU). */
	struct tdx_hw_walk_hint sept_hint;
	struct tlb tlb;
	/* Counters for tests and benchmarks: written by the vCPU thread
	 * (relaxed), readable from any thread. */
	_Atomic uint64_t nr_entries;
	_Atomic uint64_t nr_kick_exits;
	_Atomic uint64_t nr_private_flushes; /* VP.ENTER answered R8 = 1 */
};

struct cpu {
	struct kvm *kvm;
	struct tdx_module *m;
	struct host_mem *hm;
	enum tdxmmu_accept_mode accept;
	unsigned nr_vcpus;
	uint64_t shared_bit; /* the GPA's shared bit (1 << (GPAW - 1)) */
	/* Quiesce points (cpu_pause_all): while `paused` is non-zero a vCPU
	 * that would enter the TD parks instead (cpu_vcpu_enter). A count, so
	 * that pausers may overlap; pause_lock/pause_cond put parked vCPUs to
	 * sleep. */
	_Atomic unsigned paused;
	pthread_mutex_t pause_lock;
	pthread_cond_t pause_cond;
	struct cpu_vcpu vcpus[];
};

/* ---- cpu.c: the vCPU's life around the guest ---- */

/* The error of the CPU model's own broken invariants and reached bounds
 * (TDXMMU_EBUG == -ENOTRECOVERABLE): never -EIO, which means "the VM is
 * dead" once it crosses the API. */
#define CPU_EBUG (-ENOTRECOVERABLE)

/*
 * The vCPU can never enter the TD: every TDH.VP.ENTER answers an injected
 * TDX_OPERAND_BUSY (`inject busy=100` on the leaf or on every leaf, or a
 * persistent countdown that fired; cpu_vcpu_enter()). KVM re-enters after
 * a BUSY entry without end (__tdx_handle_exit returns 1: upstream's fast
 * path), so KVM_RUN would spin in the kernel until a signal; the model
 * ends the guest action at once instead, with the outcome of an access
 * that can never complete in the current state, `blocked`
 * (cpu_action_end()). Only the injection can say the BUSY never clears:
 * real contention always does, and is retried for KVM's time budget.
 * A MapGPA that KVM answers RETRY for such a BUSY (of SEPT.ADD, say) ends
 * the same way (cpu_guest_mapgpa()).
 */
#define CPU_ENOENTRY (-EAGAIN)

/* Records a message for cpu_last_error() and returns err. */
int cpu_fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same for CPU_EBUG when the CPU model itself cannot go on (a bound
 * reached, an inconsistent platform); the message also goes to stderr. */
int cpu_bug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Claims vCPU `index` for the calling thread (-EINVAL bad index, -EBUSY
 * another thread runs it). */
int cpu_vcpu_get(struct cpu *cpu, unsigned index, struct cpu_vcpu **out);
/* Ends a guest action: leaves guest mode if still in it, releases it. */
void cpu_vcpu_put(struct cpu_vcpu *v);

/*
 * A guest action's start and end, around cpu_vcpu_get/put, for the VM that
 * KVM killed. cpu_action_begin(): claims the vCPU; 1 with *outcome DEAD if
 * the VM is already dead (nothing runs: KVM refuses KVM_RUN; the vCPU is
 * not claimed), 0 to run, or -errno. cpu_action_end(): releases the vCPU
 * and returns what the action returns: if KVM killed the VM during the
 * action and the action did not complete (an error, or an outcome other
 * than ok), the outcome is BUGGED and the result 0.
 */
int cpu_action_begin(struct cpu *cpu, unsigned index, struct cpu_vcpu **out,
		     enum tdxmmu_outcome *outcome);
int cpu_action_end(struct cpu_vcpu *v, int ret, enum tdxmmu_outcome *outcome);

/* KVM's vcpu_enter_guest + TDH.VP.ENTER. 0, -EPERM (the TD cannot run: not
 * finalized), -EIO (the VM is dead), CPU_ENOENTRY (every entry answers an
 * injected BUSY), CPU_EBUG (the module refuses). Parks
 * first while a quiesce point is asked for (cpu_pause_all). */
int cpu_vcpu_enter(struct cpu_vcpu *v);
/* A TD exit (tdx_td_exit) with a trace line for the reason. */
void cpu_vcpu_exit(struct cpu_vcpu *v, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static inline bool cpu_vcpu_in_guest(struct cpu_vcpu *v)
{
	return atomic_load_explicit(&v->mode, memory_order_relaxed) == IN_GUEST_MODE;
}
/* The guest loop's check before every page access: a request pending
 * (kick, flush) makes the vCPU exit, handle it and re-enter. Enters if the
 * vCPU is outside. 0 or what cpu_vcpu_enter() returns. */
int cpu_vcpu_service_requests(struct cpu_vcpu *v);
static inline int cpu_vcpu_service(struct cpu_vcpu *v)
{
	if (!cpu_vcpu_in_guest(v))
		return cpu_vcpu_enter(v);
	SCHED_POINT(SCHED_REQUEST, SCHED_R, &v->requests, "request word");
	if (!atomic_load_explicit(&v->requests, memory_order_acquire))
		return 0;
	return cpu_vcpu_service_requests(v);
}

/* hold.c: stops the holder thread of every held vCPU (destroy). */
void cpu_hold_release_all(struct cpu *cpu);
/* Wakes v's holder thread if it is held (a request was just set). */
void cpu_wake_holder(struct cpu_vcpu *v);
/* After a kick (or the end of a pause): waits until a held vCPU is back in
 * the TD, unless a pause holds it outside or its re-entry failed. */
void cpu_wait_held_back(struct cpu_vcpu *v);

/* What KVM's answer to an EPT-violation exit means for the access. */
enum cpu_fault_answer {
	CPU_FAULT_RETRY_ACCESS, /* re-entered: walk again */
	CPU_FAULT_BLOCKED,      /* the access can never complete */
	CPU_FAULT_MMIO,         /* no memslot: the model has no device */
};
/* What the previous faults of one access left behind (zero-initialise). */
struct cpu_fault_state {
	bool retried;       /* last answer RETRY (something changed) */
	unsigned idle_spurious; /* SPURIOUS answers in a row that changed
				   nothing (KVM's tables map the page, the
				   hardware walk does not) */
	unsigned enomem_rerun;  /* faults that met an injected -ENOMEM a
				   retry can get past, run again as a VMM
				   re-runs KVM_RUN: not tries of the access
				   (CPU_MAX_TRIES counts the others) */
};
/*
 * EPT-violation TD exit at gpa (shared bit included) and KVM's handler
 * (`why` is appended to the trace line). On CPU_FAULT_RETRY_ACCESS the vCPU
 * is back in guest mode; on the others it stays outside. 0 or -errno.
 */
int cpu_vcpu_ept_violation(struct cpu_vcpu *v, uint64_t gpa, const char *why,
			   struct cpu_fault_state *st,
			   enum cpu_fault_answer *answer);

/* ---- ept_walk.c: the hardware walk of the shared EPT ---- */

enum cpu_walk_result {
	CPU_WALK_OK,          /* *pfn, *writable set */
	CPU_WALK_VIOLATION,   /* EPT violation: exit to KVM */
	CPU_WALK_FREED_TABLE, /* walked into a freed table: reported (kvm->
				 model_broken, the VM dead); the access stops */
};
/* Walks KVM's shared EPT for gpa (shared bit set) from v's paging-structure
 * caches, filling them. OK with *pfn (the 4K frame) and *writable when a
 * present leaf allows the access (a write needs W). */
enum cpu_walk_result cpu_walk_shared_ept(struct cpu_vcpu *v, uint64_t gpa, bool write,
					 pfn_t *pfn, bool *writable);

#endif /* TDXMMU_CPU_CPU_INTERNAL_H */
