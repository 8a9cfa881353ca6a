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
 *  - requests, set by other threads (kick, flush) and consumed by the vCPU.
 * Those are the fields of KVM's kvm_vcpu that kvm_make_all_cpus_request()
 * and kvm_vcpu_kick() touch from other CPUs, with the same protocol
 * (kvm_vcpu_exit_request() re-checked after the mode is published).
 */
#ifndef TDXMMU_CPU_CPU_INTERNAL_H
#define TDXMMU_CPU_CPU_INTERNAL_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "cpu/cpu.h"
#include "cpu/tlb.h"
#include "host/host_mem.h"
#include "kvm/kvm.h"

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
 * contention). Reaching it is a bug of the model, reported as -EIO; except
 * for an access whose faults KVM kept answering RETRY while other threads
 * kept changing the tables: that access is `blocked` (it would go on
 * faulting), which a parallel block's runner retries.
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

	/* The vCPU thread's own state. */
	_Alignas(64) struct cpu *cpu;
	unsigned index;
	struct kvm_vcpu *kvm_vcpu; /* tdvpr, sept_cache */
	unsigned keyid;            /* the TD's private key (hardware walk) */
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
	struct cpu_vcpu vcpus[];
};

/* ---- cpu.c: the vCPU's life around the guest ---- */

/* Records a message for cpu_last_error() and returns err. */
int cpu_fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same for -EIO when the CPU model itself cannot go on (a bound reached,
 * an inconsistent platform); the message also goes to stderr. */
int cpu_bug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Claims vCPU `index` for the calling thread (-EINVAL bad index, -EBUSY
 * another thread runs it). */
int cpu_vcpu_get(struct cpu *cpu, unsigned index, struct cpu_vcpu **out);
/* Ends a guest action: leaves guest mode if still in it, releases it. */
void cpu_vcpu_put(struct cpu_vcpu *v);

/* KVM's vcpu_enter_guest + TDH.VP.ENTER. 0, -EPERM (the TD cannot run: not
 * finalized), -EIO (KVM bugged, or the module refuses). */
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
int cpu_vcpu_service(struct cpu_vcpu *v);

/* What KVM's answer to an EPT-violation exit means for the access. */
enum cpu_fault_answer {
	CPU_FAULT_RETRY_ACCESS, /* re-entered: walk again */
	CPU_FAULT_BLOCKED,      /* the access can never complete */
	CPU_FAULT_MMIO,         /* no memslot: the model has no device */
};
/* What the previous faults of one access left behind (zero-initialise). */
struct cpu_fault_state {
	bool spurious_idle; /* last answer SPURIOUS, nothing changed */
	bool retried;       /* last answer RETRY (something changed) */
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

/* Walks KVM's shared EPT for gpa (shared bit set). True with *pfn (the 4K
 * frame) and *writable when a present leaf allows the access (a write
 * needs W); false: EPT violation. */
bool cpu_walk_shared_ept(struct kvm *kvm, uint64_t gpa, bool write, pfn_t *pfn,
			 bool *writable);

#endif /* TDXMMU_CPU_CPU_INTERNAL_H */
