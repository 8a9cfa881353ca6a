/* SPDX-License-Identifier: MIT */
/*
 * The model's trace events (docs/tracing.md): one table of names, a filter
 * (a bit per event, from EVENT[,EVENT] globs), a trace-cmd-like line with a
 * prefix, and a USDT probe per event. KVM (kvm/trace.h) and the TDX module
 * emit them, each with its own stream and mask (fields `trace` and
 * `trace_mask`, tested by trace_on()).
 *
 * The probe (sys/sdt.h) fires whether or not --trace is on, since perf or
 * bpftrace attach to a running model without asking it; it is a nop
 * instruction plus an ELF note, its arguments only what the compiler has in
 * registers or memory anyway (or one move). The text line is written only
 * when the stream is set and the filter keeps the event: one load and a
 * test when tracing is off, which keeps `tdxmmu bench` unchanged.
 */
#ifndef TDXMMU_HOST_TRACE_H
#define TDXMMU_HOST_TRACE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* X(name, probe arguments, what it says): the name as printed. */
#define TRACE_EVENTS(X)                                                        \
	X(kvm_entry, "vcpu", "a vCPU entered the TD (TDH.VP.ENTER succeeded)")  \
	X(kvm_exit, "vcpu, reason format (a string)",                          \
	  "a TD exit: the vCPU and the reason")                                 \
	X(kvm_page_fault, "vcpu, address, private, ret",                        \
	  "KVM handled an EPT-violation exit: the GPA and KVM's answer")       \
	X(kvm_mmu_spte_requested, "gfn, pfn, level",                            \
	  "the TDP MMU is about to map a leaf for a fault")                     \
	X(kvm_tdp_mmu_spte_changed, "gfn, level, old_spte, new_spte, tree",     \
	  "an entry of the shared EPT or the mirror EPT changed (TDP MMU)")     \
	X(kvm_mmu_set_spte, "gfn, level, old_spte, new_spte, tree",             \
	  "an entry of the legacy MMU's shared or private EPT changed")         \
	X(kvm_mmu_prepare_zap_page, "gfn, level, tree, table number",           \
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
	X(kvm_vm_bugged, "why (a string)",                                      \
	  "KVM_BUG_ON: KVM declared the VM dead")                               \
	X(kvm_tdx_leak_page, "pfn", "KVM gave up a host frame (leaked)")        \
	X(kvm_tdx_reclaim_leaked_page, "pfn",                                   \
	  "a leaked frame was reclaimed at teardown")                           \
	X(tdx_sept_entry_changed, "gpa, level, old, new",                       \
	  "an entry of the TDX module's Secure EPT changed (tree sept)")        \
	X(tdx_ve, "vcpu, gpa", "the TDX module delivered a #VE to the guest")

enum trace_event {
#define TRACE_ENUM_(name_, args_, help_) TRACE_EV_##name_,
	TRACE_EVENTS(TRACE_ENUM_)
#undef TRACE_ENUM_
	TRACE_EV_NR
};

/* Which tree an entry is in (the `tree` field; the probes' number). The
 * legacy MMU's private EPT mirrors the S-EPT as the TDP MMU's mirror does. */
enum trace_tree { TRACE_TREE_SHARED, TRACE_TREE_MIRROR, TRACE_TREE_SEPT };
#define TRACE_TREE_NAME(t_)                                                    \
	((t_) == TRACE_TREE_SHARED ? "shared" :                                \
	 (t_) == TRACE_TREE_MIRROR ? "mirror" : "sept")

/* Every event on: a NULL filter. */
#define TRACE_ALL ((UINT64_C(1) << TRACE_EV_NR) - 1)

extern const char *const trace_event_names[TRACE_EV_NR];
extern const char *const trace_event_args[TRACE_EV_NR];
extern const char *const trace_event_help[TRACE_EV_NR];

/*
 * The mask for a filter: EVENT[,EVENT...], each an fnmatch() glob over the
 * names as printed; NULL or "" (bare --trace) is every event. -1 when one
 * glob matches no event (*bad points at it, its length in *bad_len).
 */
int trace_filter(const char *spec, uint64_t *mask, const char **bad,
		 size_t *bad_len);

/* The vCPU this thread works for (the prefix's lane), -1 for the host.
 * Set by the CPU model while a vCPU runs an action; returns the previous. */
int trace_set_vcpu(int vcpu);

/* The header comment lines (what the columns and levels mean). */
void trace_header(FILE *f);

/* Whether a line for this event is to be written (the cheap test). */
#define trace_on(obj_, ev_) \
	((obj_)->trace && ((obj_)->trace_mask >> TRACE_EV_##ev_ & 1))

/* One line: the prefix (this thread's lane, the TD's HKID, the modeled
 * time ns) then the event's fields. */
void trace_vline(FILE *f, unsigned td, uint64_t ns, enum trace_event ev,
		 const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));

/* ---- USDT probes ---- */
#if defined(TDXMMU_HAVE_SDT) && TDXMMU_HAVE_SDT
#include <sys/sdt.h>
#define TRACE_PROBE_NARG_(_1, _2, _3, _4, _5, _6, n_, ...) n_
#define TRACE_PROBE_CAT_(a_, b_) a_##b_
#define TRACE_PROBE_SEL_(n_) TRACE_PROBE_CAT_(STAP_PROBE, n_)
#define TRACE_PROBE_(name_, ...)                                               \
	TRACE_PROBE_SEL_(TRACE_PROBE_NARG_(__VA_ARGS__, 6, 5, 4, 3, 2, 1, 0))   \
	(tdxmmu, name_, __VA_ARGS__)
#define TRACE_PROBE_UNPACK_(...) __VA_ARGS__
/* args_: a parenthesised list of 1 to 6 integer (or pointer) expressions. */
#define TRACE_PROBE(name_, args_) TRACE_PROBE_(name_, TRACE_PROBE_UNPACK_ args_)
#else
#define TRACE_PROBE(name_, args_) ((void)0)
#endif

#endif /* TDXMMU_HOST_TRACE_H */
