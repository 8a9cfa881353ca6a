/* SPDX-License-Identifier: MIT */
/*
 * KVM's side of the trace (host/trace.h has the events): every KVM event is
 * emitted with KVM_TRACE(kvm, name, (probe args), fmt, ...), its line
 * prefixed with the TD's HKID and modeled time.
 *
 * Determinism: nothing printed may depend on where malloc put things. SPTE
 * values go through kvm_trace_spte(), which replaces the address in a
 * non-leaf entry (a table of KVM's, in the model's own memory) with the
 * table's number in its VM's arena.
 */
#ifndef TDXMMU_KVM_TRACE_H
#define TDXMMU_KVM_TRACE_H

#include "host/trace.h"

struct kvm;

void kvm_trace_emit(struct kvm *kvm, enum trace_event ev,
		    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* An SPTE as the trace prints it: a non-leaf entry's table address (the
 * model process's memory) replaced by KVM_TRACE_PT_PFN_BASE + the table's
 * number in the VM's arena, so that two runs print the same. */
#define KVM_TRACE_PT_PFN_BASE 0xf0000000ULL
uint64_t kvm_trace_spte(uint64_t spte, int level);

/* One event: its probe, then its line if traced. */
#define KVM_TRACE(kvm_, name_, probe_args_, ...)                               \
	do {                                                                   \
		TRACE_PROBE(name_, probe_args_);                               \
		if (trace_on((kvm_), name_))                                   \
			kvm_trace_emit((kvm_), TRACE_EV_##name_, __VA_ARGS__); \
	} while (0)

#endif /* TDXMMU_KVM_TRACE_H */
