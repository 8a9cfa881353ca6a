/* SPDX-License-Identifier: MIT */
/* KVM's trace lines and their deterministic SPTE values (kvm/trace.h). */
#include <stdarg.h>

#include "kvm/kvm.h"
#include "kvm/mmu_page.h"
#include "kvm/spte.h"
#include "kvm/trace.h"

uint64_t kvm_trace_spte(uint64_t spte, int level)
{
	const struct kvm_mmu_page *sp;

	if (!is_shadow_present_pte(spte) || is_last_spte(spte, level))
		return spte;
	sp = sptep_to_sp((const _Atomic uint64_t *)(uintptr_t)(spte & SPTE_BASE_ADDR_MASK));
	return (spte & ~SPTE_BASE_ADDR_MASK) |
	       ((KVM_TRACE_PT_PFN_BASE + sp->number) << PAGE_SHIFT);
}

void kvm_trace_emit(struct kvm *kvm, enum trace_event ev, const char *fmt, ...)
{
	/* The TD's modeled time (a sum over thread slots, read only when a
	 * line is written): the platform's clock, KVM does not read the
	 * module's state itself. */
	uint64_t ns = kvm->trace_clock ? kvm->trace_clock(kvm->tdx) : 0;
	va_list ap;

	va_start(ap, fmt);
	trace_vline(kvm->trace, kvm->hkid, ns, ev, fmt, ap);
	va_end(ap);
}
