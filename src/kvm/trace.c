/* SPDX-License-Identifier: MIT */
/* The trace sink: filter, prefix, deterministic SPTE values (trace.h). */
#include <fnmatch.h>
#include <stdarg.h>
#include <string.h>

#include "kvm/kvm.h"
#include "kvm/mmu_page.h"
#include "kvm/spte.h"
#include "kvm/trace.h"
#include "tdx/tdx_module.h"

_Static_assert(KVM_TEV_NR <= 64, "one bit per event in a uint64_t mask");

#define KVM_TRACE_NAME_(name_, args_, help_) [KVM_TEV_##name_] = #name_,
const char *const kvm_trace_event_names[KVM_TEV_NR] = {
	KVM_TRACE_EVENTS(KVM_TRACE_NAME_)
};
#undef KVM_TRACE_NAME_
#define KVM_TRACE_ARGS_(name_, args_, help_) [KVM_TEV_##name_] = args_,
const char *const kvm_trace_event_args[KVM_TEV_NR] = {
	KVM_TRACE_EVENTS(KVM_TRACE_ARGS_)
};
#undef KVM_TRACE_ARGS_
#define KVM_TRACE_HELP_(name_, args_, help_) [KVM_TEV_##name_] = help_,
const char *const kvm_trace_event_help[KVM_TEV_NR] = {
	KVM_TRACE_EVENTS(KVM_TRACE_HELP_)
};
#undef KVM_TRACE_HELP_

int kvm_trace_filter(const char *spec, uint64_t *mask, const char **bad,
		     size_t *bad_len)
{
	uint64_t m = 0;
	const char *p = spec;

	if (!spec || !*spec) {
		*mask = KVM_TRACE_ALL;
		return 0;
	}
	for (;;) {
		size_t len = strcspn(p, ",");
		char glob[128];
		uint64_t hit = 0;

		if (len && len < sizeof(glob)) {
			memcpy(glob, p, len);
			glob[len] = '\0';
			for (int ev = 0; ev < KVM_TEV_NR; ev++)
				if (!fnmatch(glob, kvm_trace_event_names[ev], 0))
					hit |= UINT64_C(1) << ev;
		}
		/* An empty item or a glob that names nothing is a typo, not
		 * "trace nothing": say so rather than print a silent trace. */
		if (!hit) {
			*bad = p;
			*bad_len = len;
			return -1;
		}
		m |= hit;
		if (!p[len])
			break;
		p += len + 1;
	}
	*mask = m;
	return 0;
}

static _Thread_local int trace_vcpu = -1;

int kvm_trace_set_vcpu(int vcpu)
{
	int old = trace_vcpu;

	trace_vcpu = vcpu;
	return old;
}

void kvm_trace_header(FILE *f)
{
	fputs("# tdxmmu trace (docs/tracing.md)\n"
	      "#   LANE-TD [CPU] SECONDS: EVENT: FIELDS\n"
	      "# LANE: vcpuN while vCPU N runs a guest action (its exits, KVM's"
	      " fault handling), host otherwise\n"
	      "# TD: the TD's HKID; CPU: the vCPU, --- for the host\n"
	      "# SECONDS: the TD's modeled time (docs/cost-model.md), not wall"
	      " time\n"
	      "# levels: KVM's (SPTE events): 1 = 4K, 2 = 2M, 3 = 1G, 4 = 512G,"
	      " 5 = 256T;\n"
	      "#   the TDX module's (SEAMCALL operands): 0 = 4K, 1 = 2M, 2 = 1G\n"
	      "# numbers: 0x... hex for addresses, frame numbers, SPTEs and"
	      " statuses; decimal for counts, levels and vCPUs\n"
	      "# tree: shared (shared EPT), mirror (KVM's mirror of the S-EPT),"
	      " sept (the TDX module's Secure EPT)\n"
	      "# a non-leaf SPTE's address is 0xf0000000 + KVM's table number,"
	      " in frames\n", f);
}

uint64_t kvm_trace_spte(uint64_t spte, int level)
{
	const struct kvm_mmu_page *sp;

	if (!is_shadow_present_pte(spte) || is_last_spte(spte, level))
		return spte;
	sp = sptep_to_sp((const _Atomic uint64_t *)(uintptr_t)(spte & SPTE_BASE_ADDR_MASK));
	return (spte & ~SPTE_BASE_ADDR_MASK) |
	       ((KVM_TRACE_PT_PFN_BASE + sp->number) << PAGE_SHIFT);
}

void kvm_trace_emit(struct kvm *kvm, enum kvm_trace_event ev, const char *fmt, ...)
{
	/* The TD's modeled time: a sum over thread slots (tdx_module.h),
	 * read only when a line is written. */
	uint64_t ns = kvm->tdx ? tdx_module_modeled_ns(kvm->tdx) : 0;
	char lane[32], cpu[16];
	int v = trace_vcpu;
	va_list ap;

	if (v >= 0) {
		snprintf(lane, sizeof(lane), "vcpu%d-%u", v, kvm->hkid);
		snprintf(cpu, sizeof(cpu), "%03d", v);
	} else {
		snprintf(lane, sizeof(lane), "host-%u", kvm->hkid);
		strcpy(cpu, "---");
	}
	va_start(ap, fmt);
	flockfile(kvm->trace);
	fprintf(kvm->trace, "%16s [%s] %llu.%06llu: %s: ", lane, cpu,
		(unsigned long long)(ns / 1000000000ULL),
		(unsigned long long)(ns % 1000000000ULL / 1000ULL),
		kvm_trace_event_names[ev]);
	vfprintf(kvm->trace, fmt, ap);
	fputc('\n', kvm->trace);
	funlockfile(kvm->trace);
	va_end(ap);
}
