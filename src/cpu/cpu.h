/* SPDX-License-Identifier: MIT */
/*
 * The CPU and the guest: vCPUs whose memory accesses go through a per-vCPU
 * TLB and the hardware's walk of the shared EPT (KVM's table, read as the
 * page walker reads memory) or of the Secure EPT (the TDX module's read-only
 * hardware-walk interface, never a SEAMCALL). A vCPU enters the TD with
 * TDH.VP.ENTER, leaves it with a TD exit (EPT violation, TDG.VP.VMCALL, a
 * kick), gets #VE for a pending private page, and runs the guest's side:
 * TDG.MEM.PAGE.ACCEPT and the MapGPA hypercall with its RETRY loop.
 *
 * The CPU model never calls KVM's MMU directly: it exits, and KVM's exit
 * handlers (kvm_tdx_handle_ept_violation, kvm_tdx_map_gpa) run on the
 * exiting vCPU's thread, as on hardware.
 *
 * Threading: all state of a vCPU is touched only by the thread running it,
 * except its mode and request word, which KVM's kick and flush requests use
 * from other threads (see cpu_kick_all()).
 */
#ifndef TDXMMU_CPU_CPU_H
#define TDXMMU_CPU_CPU_H

#include <stdbool.h>
#include <stdint.h>

#include "host/host_mem.h"
#include "tdxmmu/tdxmmu.h"

struct kvm;
struct tdx_module;
struct cpu;

/* Creates the vCPUs of the VM (one per kvm->vcpus[]), installs KVM's kick
 * and flush callbacks. accept: AUTO lets the guest's #VE handler accept a
 * pending page and retry; EXPLICIT reports the #VE as the access outcome. */
int cpu_create(struct kvm *kvm, struct tdx_module *m, struct host_mem *hm,
	       enum tdxmmu_accept_mode accept, struct cpu **out);
/* Every vCPU must be outside guest mode. Uninstalls the callbacks. */
void cpu_destroy(struct cpu *cpu);

/*
 * Guest actions on vCPU v. Return 0 with *outcome set, or -errno for a
 * caller error (bad vCPU index, misaligned address; -EBUSY for a vCPU
 * another thread runs or `vcpu enter` holds), -ENOMEM when KVM's exit
 * handler could not get memory (KVM_RUN fails: the caller retries, as a VMM
 * does), CPU_EBUG (-ENOTRECOVERABLE) when the model itself cannot go on. An
 * access that can never complete in the current state (KVM's answer: RETRY,
 * nothing changed, no contention) reports TDXMMU_OUTCOME_BLOCKED. On a VM
 * KVM killed nothing runs: TDXMMU_OUTCOME_DEAD; an action during which KVM
 * killed it reports TDXMMU_OUTCOME_BUGGED.
 */
int cpu_guest_read(struct cpu *cpu, unsigned v, uint64_t gpa, uint64_t *val,
		   enum tdxmmu_outcome *outcome);
int cpu_guest_write(struct cpu *cpu, unsigned v, uint64_t gpa, uint64_t val,
		    enum tdxmmu_outcome *outcome);
int cpu_guest_fill(struct cpu *cpu, unsigned v, uint64_t gpa, uint64_t size,
		   uint8_t byte, enum tdxmmu_outcome *outcome);
int cpu_guest_verify(struct cpu *cpu, unsigned v, uint64_t gpa, uint64_t size,
		     uint8_t byte, uint64_t *mismatch_gpa,
		     enum tdxmmu_outcome *outcome);
/* TDG.MEM.PAGE.ACCEPT (level 0 = 4K, 1 = 2M); an EPT-violation exit is
 * handled by KVM and the TDCALL re-executed, as on hardware. *status is the
 * status of the TDCALL that completed (outcome OK). A TDCALL that can never
 * complete has no status (0) and an outcome: BLOCKED when KVM's fault
 * changes nothing (the GPA was converted to shared: the vCPU loops on EPT
 * violations, the seeds' design), MMIO when no memslot covers it; DEAD and
 * BUGGED as for every action. */
int cpu_guest_accept(struct cpu *cpu, unsigned v, uint64_t gpa, unsigned level,
		     uint64_t *status, enum tdxmmu_outcome *outcome);
/* MapGPA: TDG.VP.VMCALL, re-issued from the returned GPA on RETRY. */
/* One word per 4K page of [gpa, gpa + size) read or written, in one guest
 * action (benchmarks). gpa and size 4K-aligned. */
int cpu_guest_touch(struct cpu *cpu, unsigned v, uint64_t gpa, uint64_t size,
		    bool write, enum tdxmmu_outcome *outcome);
int cpu_guest_mapgpa(struct cpu *cpu, unsigned v, uint64_t gpa, uint64_t size,
		     enum tdxmmu_outcome *outcome);

/*
 * `vcpu N enter` / `vcpu N leave` (hold.c): the vCPU enters the TD and stays
 * in guest mode on a holder thread, serving KVM's kicks, until unhold.
 * cpu_vcpu_hold: 0, -EINVAL (index), -EPERM (already held, or the TD cannot
 * run: not finalized), -EBUSY (a guest action runs on it), -EIO (the VM is
 * dead). cpu_vcpu_unhold: 0 or -EINVAL, -EPERM (not held); the vCPU is let
 * go in any case, and a re-entry that failed while it was held is reported:
 * -EIO (the VM died) or CPU_EBUG.
 */
int cpu_vcpu_hold(struct cpu *cpu, unsigned v);
int cpu_vcpu_unhold(struct cpu *cpu, unsigned v);
/* True while vCPU v is held (a scenario's `vcpu N enter`). */
bool cpu_vcpu_held(struct cpu *cpu, unsigned v);

/* Quiesce points for the invariant checker: every vCPU out of the TD and
 * out of KVM's exit handlers, parked until cpu_resume_all() (cpu.c). */
void cpu_pause_all(struct cpu *cpu);
void cpu_resume_all(struct cpu *cpu);

/* What the last failing cpu_* call of this thread ran into (a -errno
 * return), for error messages; "" if nothing failed yet. */
const char *cpu_last_error(void);

/* KVM's callbacks (installed into struct kvm by cpu_create). */
void cpu_kick_all(struct kvm *kvm);
void cpu_flush_shared_tlbs(struct kvm *kvm);

/* Observer: every TLB entry of every vCPU (for the invariant checker). gpa is
 * the page's GPA with the shared bit as cached; pfn the frame it maps. */
void cpu_tlb_foreach(struct cpu *cpu,
		     void (*fn)(unsigned vcpu, uint64_t gpa, pfn_t pfn,
				bool is_private, bool writable, void *arg),
		     void *arg);

/* Observer: vCPU v will drop its shared-EPT translations before it next
 * runs guest code (KVM's flush request is pending). False for a bad index. */
bool cpu_shared_flush_pending(struct cpu *cpu, unsigned v);

#endif /* TDXMMU_CPU_CPU_H */
