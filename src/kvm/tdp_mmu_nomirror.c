/* SPDX-License-Identifier: MIT */
/* The no-mirror private fault path (see tdp_mmu_nomirror.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kvm/mmu.h"
#include "kvm/tdp_mmu_nomirror.h"
#include "kvm/tdx_hooks.h"
#include "kvm/tdx_ops.h"
#include "tdx/tdx_status.h"

/* SEPT.RD's RDX: level | public state << 8 (tdx-module-sept.md §1.6). */
#define SEPT_PUBLIC_FREE 0x00
#define SEPT_PUBLIC_NL_MAPPED 0x84

struct nm_leaf {
	gfn_t gfn;
	pfn_t pfn;
};
struct nm_spt {
	gfn_t gfn;
	int level;
	hpa_t spt;
};
struct kvm_nomirror {
	struct nm_leaf *leaves;
	size_t nr_leaves, cap_leaves;
	struct nm_spt *spts;
	size_t nr_spts, cap_spts;
};

int kvm_nomirror_init(struct kvm *kvm)
{
	kvm->nomirror = calloc(1, sizeof(struct kvm_nomirror));
	return kvm->nomirror ? 0 : -ENOMEM;
}

void kvm_nomirror_destroy(struct kvm *kvm)
{
	struct kvm_nomirror *nm = kvm->nomirror;

	if (!nm)
		return;
	free(nm->leaves);
	free(nm->spts);
	free(nm);
	kvm->nomirror = NULL;
}

/* Doubling arrays: amortised O(1), no allocation on most faults. */
static bool grow(struct kvm *kvm, void **arr, size_t *cap, size_t nr, size_t elem)
{
	size_t ncap;
	void *p;

	if (nr < *cap)
		return true;
	if (kvm_alloc_fails(kvm, KVM_ALLOC_NOMIRROR))
		return false;
	ncap = *cap ? 2 * *cap : 1024;
	p = realloc(*arr, ncap * elem);
	if (!p)
		return false;
	*arr = p;
	*cap = ncap;
	return true;
}

/* SEPT.RD of the entry covering gfn at KVM level `level`: its public
 * state, or -EBUSY / -EIO. */
static int sept_rd_state(struct kvm *kvm, gfn_t gfn, int level)
{
	struct seamcall_regs out;
	gpa_t gpa = (gfn << PAGE_SHIFT) & ~((PAGE_SIZE << (9 * (level - 1))) - 1);
	uint64_t s = kvm_tdh_mem_sept_rd(kvm, gpa, pg_level_to_tdx_level((unsigned)level), &out);

	if (tdx_status_is(s, TDX_OPERAND_BUSY))
		return -EBUSY;
	if (tdx_status_is_error(s)) {
		kvm_vm_bugged(kvm, "no-mirror: TDH.MEM.SEPT.RD %#llx level %d: %#llx",
			      (unsigned long long)gpa, level, (unsigned long long)s);
		return -EIO;
	}
	return (int)((out.rdx >> 8) & 0xFF);
}

static int nomirror_map_locked(struct kvm_vcpu *vcpu, gfn_t gfn, pfn_t pfn)
{
	struct kvm *kvm = vcpu->kvm;
	struct kvm_nomirror *nm = kvm->nomirror;
	int level, state, ret;

	/* The walk KVM's mirror saves: one SEPT.RD per level, top down,
	 * linking a new S-EPT page wherever the entry is FREE. */
	for (level = (int)kvm->root_level; level > PG_LEVEL_4K; level--) {
		gfn_t base = gfn & ~((1ULL << (9 * (level - 1))) - 1);
		hpa_t spt;

		state = sept_rd_state(kvm, gfn, level);
		if (state < 0)
			return state == -EBUSY ? RET_PF_RETRY : state;
		if (state == SEPT_PUBLIC_NL_MAPPED)
			continue;
		if (state != SEPT_PUBLIC_FREE) {
			kvm_vm_bugged(kvm, "no-mirror: entry for gfn 0x%llx level %d in public state %#x",
				      (unsigned long long)gfn, level, state);
			return -EIO;
		}
		if (!grow(kvm, (void **)&nm->spts, &nm->cap_spts, nm->nr_spts, sizeof(*nm->spts)))
			return -ENOMEM;
		spt = pfn_to_hpa(kvm_mmu_cache_take(&vcpu->sept_cache));
		ret = tdx_sept_link_private_spt(kvm, base, level, spt);
		if (ret) {
			/* Not handed over: a SEAMCALL that fails takes no
			 * page, so the frame is still the host's, BUSY or
			 * KVM_BUG alike. Back to the cache (as the mirror path
			 * does), or to the host. (It used to be kept on the
			 * KVM_BUG path, and leaked: found by error injection
			 * into SEPT.ADD.) */
			if (vcpu->sept_cache.nr < KVM_MMU_CACHE_CAP)
				vcpu->sept_cache.frames[vcpu->sept_cache.nr++] = hpa_to_pfn(spt);
			else
				host_mem_free_frame(kvm->hm, hpa_to_pfn(spt));
			return ret == -EBUSY ? RET_PF_RETRY : ret;
		}
		nm->spts[nm->nr_spts++] = (struct nm_spt){ base, level, spt };
	}
	state = sept_rd_state(kvm, gfn, PG_LEVEL_4K);
	if (state < 0)
		return state == -EBUSY ? RET_PF_RETRY : state;
	if (state != SEPT_PUBLIC_FREE)
		return RET_PF_SPURIOUS;
	if (!grow(kvm, (void **)&nm->leaves, &nm->cap_leaves, nm->nr_leaves, sizeof(*nm->leaves)))
		return -ENOMEM;
	ret = tdx_sept_set_private_spte(kvm, gfn, PG_LEVEL_4K, pfn);
	if (ret)
		return ret == -EBUSY ? RET_PF_RETRY : ret;
	nm->leaves[nm->nr_leaves++] = (struct nm_leaf){ gfn, pfn };
	kvm_mmu_change_seq_bump(kvm);
	return RET_PF_FIXED;
}

int kvm_nomirror_map(struct kvm_vcpu *vcpu, gpa_t gpa)
{
	struct kvm *kvm = vcpu->kvm;
	gfn_t gfn = kvm_gfn_private(kvm, gpa >> PAGE_SHIFT);
	struct host_memslot slot;
	pfn_t pfn;
	int ret;

	if (!host_memslot_find(kvm->slots, gfn, &slot))
		return -EFAULT;
	kvm_mmu_write_lock(kvm);
	ret = kvm_faultin_pfn(kvm, &slot, gfn, &pfn);
	if (!ret)
		ret = nomirror_map_locked(vcpu, gfn, pfn);
	kvm_mmu_write_unlock(kvm);
	if (ret == RET_PF_RETRY)
		kvm_stat_contention(kvm, &kvm_stats_mine(kvm)->retry_busy);
	return ret;
}

int kvm_nomirror_zap(struct kvm *kvm, gfn_t start, gfn_t end)
{
	struct kvm_nomirror *nm = kvm->nomirror;
	size_t i, nr = 0, done = 0;
	int ret = 0;

	if (!nm)
		return 0;
	/* Gather the range's leaves at the front (order does not matter). */
	for (i = 0; i < nm->nr_leaves; i++) {
		if (nm->leaves[i].gfn >= start && nm->leaves[i].gfn < end) {
			struct nm_leaf t = nm->leaves[nr];

			nm->leaves[nr++] = nm->leaves[i];
			nm->leaves[i] = t;
		}
	}
	if (!nr)
		return 0;
	if (kvm->hkid_assigned) {
		for (i = 0; i < nr; i++)
			if (tdx_sept_zap_private_spte(kvm, nm->leaves[i].gfn, PG_LEVEL_4K))
				ret = -EIO;
		if (!ret && kvm_flush_remote_tlbs(kvm))
			ret = -EIO;
	}
	/* `done` counts the leaves whose REMOVE was tried: each is gone from
	 * the S-EPT, or was given up (kvm_leak_page(), reclaimed once the
	 * HKID is released). Only those leave the list; the rest stay for
	 * the teardown's zap. Dropping none on a failure (as before) made the
	 * teardown zap a removed page again, fail, and leave the others in
	 * the module for good (found by error injection into WBINVD). */
	for (i = 0; !ret && i < nr; i++, done++)
		if (tdx_sept_remove_private_spte(kvm, nm->leaves[i].gfn, PG_LEVEL_4K,
						 nm->leaves[i].pfn))
			ret = -EIO;
	memmove(nm->leaves, nm->leaves + done, (nm->nr_leaves - done) * sizeof(*nm->leaves));
	nm->nr_leaves -= done;
	if (done)
		kvm_mmu_change_seq_bump(kvm);
	return ret; /* -EIO: the VM is bugged */
}

int kvm_nomirror_free_spts(struct kvm *kvm)
{
	struct kvm_nomirror *nm = kvm->nomirror;
	int ret = 0;

	if (!nm)
		return 0;
	/* Children were added after their parents: free the deepest first. */
	while (nm->nr_spts) {
		struct nm_spt *s = &nm->spts[--nm->nr_spts];

		if (tdx_sept_free_private_spt(kvm, s->gfn, s->level, s->spt))
			ret = -EIO;
	}
	return ret;
}
