/* SPDX-License-Identifier: MIT */
/*
 * The model's trace events (docs/tracing.md): one table of names, a filter
 * (a bit per event, from EVENT[,EVENT] globs), a trace-cmd-like prefix and a
 * USDT probe per event.
 *
 * Every event is emitted with KVM_TRACE(kvm, name, (probe args), fmt, ...):
 * the probe (sys/sdt.h) fires whether or not --trace is on, since perf or
 * bpftrace attach to a running model without asking it; it is a nop
 * instruction plus an ELF note, and its arguments are computed only as far
 * as the compiler needs them in registers. The text line is written only
 * when the VM traces to a stream and the filter keeps the event: one load
 * and a test when tracing is off, which keeps `tdxmmu bench` unchanged.
 *
 * Determinism: nothing printed may depend on where malloc put things. SPTE
 * values go through kvm_trace_spte(), which replaces the address in a
 * non-leaf entry (a table of KVM's, in the model's own memory) with the
 * table's number in its VM's arena.
 */
#ifndef TDXMMU_KVM_TRACE_H
#define TDXMMU_KVM_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct kvm;

/* X(name, probe arguments, what it says): the name as printed. */
#define KVM_TRACE_EVENTS(X)                                                     \
	X(kvm_entry, "vcpu", "a vCPU entered the TD (TDH.VP.ENTER succeeded)")  \
	X(kvm_exit, "vcpu, reason format (a string)",                              \
	  "a TD exit: the vCPU and the reason")               \
	X(kvm_page_fault, "vcpu, address, private, ret",                        \
	  "KVM handled an EPT-violation exit: the GPA and KVM's answer")       \
	X(kvm_mmu_spte_requested, "gfn, pfn, level",                            \
	  "the TDP MMU is about to map a leaf for a fault")                     \
	X(kvm_tdp_mmu_spte_changed, "gfn, level, old_spte, new_spte, tree",     \
	  "an entry of the shared EPT or the mirror EPT changed (TDP MMU)")     \
	X(kvm_mmu_set_spte, "gfn, level, old_spte, new_spte, tree",             \
	  "an entry of the legacy MMU's shared or private EPT changed")         \
	X(kvm_mmu_prepare_zap_page, "gfn, level, tree, pt",                     \
	  "KVM unlinked one of its page-table pages (freed after RCU)")         \
	X(kvm_tdx_seamcall, "leaf, rcx, rdx, r8, status",                       \
	  "KVM issued a SEAMCALL: operands and status")                         \
	X(kvm_tdx_map_gpa, "gpa, size, to_shared, status",                      \
	  "KVM answered a MapGPA TDVMCALL")                                     \
	X(kvm_unmap_gfn_range, "start, end, zapped",                            \
	  "the host punched a hole in guest memory (shared aliases zapped)")    \
	X(kvm_zap_gfn_range, "start, end, zapped",                              \
	  "KVM zapped a GFN range (conversion, host request)")                  \
	X(kvm_delete_memslot, "id, start, end, zapped",                         \
	  "a memslot went away")                                                \
	X(kvm_mmu_enomem, "site", "an injected allocation failure in KVM")      \
	X(kvm_vm_bugged, "why (a string)",                                     \
	  "KVM_BUG_ON: KVM declared the VM dead")            \
	X(kvm_tdx_leak_page, "pfn", "KVM gave up a host frame (leaked)")        \
	X(kvm_tdx_reclaim_leaked_page, "pfn",                                   \
	  "a leaked frame was reclaimed at teardown")                           \
	X(tdx_ve, "vcpu, gpa", "the TDX module delivered a #VE to the guest")

enum kvm_trace_event {
#define KVM_TRACE_ENUM_(name_, args_, help_) KVM_TEV_##name_,
	KVM_TRACE_EVENTS(KVM_TRACE_ENUM_)
#undef KVM_TRACE_ENUM_
	KVM_TEV_NR
};

/* Which tree an entry is in (the `tree` field; the probes' number). The
 * legacy MMU's private EPT mirrors the S-EPT as the TDP MMU's mirror does. */
enum kvm_trace_tree { KVM_TRACE_SHARED, KVM_TRACE_MIRROR, KVM_TRACE_SEPT };
#define KVM_TRACE_TREE_NAME(t_) \
	((t_) == KVM_TRACE_SHARED ? "shared" : (t_) == KVM_TRACE_MIRROR ? "mirror" : "sept")

/* Every event on: a NULL filter. */
#define KVM_TRACE_ALL ((UINT64_C(1) << KVM_TEV_NR) - 1)

extern const char *const kvm_trace_event_names[KVM_TEV_NR];
extern const char *const kvm_trace_event_args[KVM_TEV_NR];
extern const char *const kvm_trace_event_help[KVM_TEV_NR];

/*
 * The mask for a filter: EVENT[,EVENT...], each an fnmatch() glob over the
 * names as printed; NULL or "" (bare --trace) is every event. -1 when one
 * glob matches no event (*bad points at it, its length in *bad_len).
 */
int kvm_trace_filter(const char *spec, uint64_t *mask, const char **bad,
		     size_t *bad_len);

/* The vCPU this thread works for (the prefix's lane), -1 for the host.
 * Set by the CPU model while a vCPU runs an action; returns the previous. */
int kvm_trace_set_vcpu(int vcpu);

/* The header comment lines (what the columns and levels mean). */
void kvm_trace_header(FILE *f);

/* Whether a line for this event is to be written (the cheap test). */
#define kvm_trace_on(kvm_, ev_) \
	((kvm_)->trace && ((kvm_)->trace_mask >> KVM_TEV_##ev_ & 1))

void kvm_trace_emit(struct kvm *kvm, enum kvm_trace_event ev,
		    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* An SPTE as the trace prints it: a non-leaf entry's table address (the
 * model process's memory) replaced by KVM_TRACE_PT_PFN_BASE + the table's
 * number in the VM's arena, so that two runs print the same. */
#define KVM_TRACE_PT_PFN_BASE 0xf0000000ULL
uint64_t kvm_trace_spte(uint64_t spte, int level);

/* ---- USDT probes ---- */
#if defined(TDXMMU_HAVE_SDT) && TDXMMU_HAVE_SDT
#include <sys/sdt.h>
#define KVM_PROBE_NARG_(_1, _2, _3, _4, _5, _6, n_, ...) n_
#define KVM_PROBE_CAT_(a_, b_) a_##b_
#define KVM_PROBE_SEL_(n_) KVM_PROBE_CAT_(STAP_PROBE, n_)
#define KVM_PROBE_(name_, ...)                                                 \
	KVM_PROBE_SEL_(KVM_PROBE_NARG_(__VA_ARGS__, 6, 5, 4, 3, 2, 1, 0))     \
	(tdxmmu, name_, __VA_ARGS__)
#define KVM_PROBE_UNPACK_(...) __VA_ARGS__
/* args_: a parenthesised list of 1 to 6 integer expressions. */
#define KVM_PROBE(name_, args_) KVM_PROBE_(name_, KVM_PROBE_UNPACK_ args_)
#else
#define KVM_PROBE(name_, args_) ((void)0)
#endif

/* One event: its probe, then its line if traced. */
#define KVM_TRACE(kvm_, name_, probe_args_, ...)                               \
	do {                                                                   \
		KVM_PROBE(name_, probe_args_);                                 \
		if (kvm_trace_on((kvm_), name_))                               \
			kvm_trace_emit((kvm_), KVM_TEV_##name_, __VA_ARGS__); \
	} while (0)

#endif /* TDXMMU_KVM_TRACE_H */
