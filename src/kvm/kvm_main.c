/* SPDX-License-Identifier: MIT */
/*
 * KVM's VM lifecycle for a TD: creation (what KVM_TDX_INIT_VM and vCPU
 * creation do with SEAMCALLs), build-time population (KVM_TDX_INIT_MEM_REGION),
 * finalization (KVM_TDX_FINALIZE_VM) and teardown in the order upstream KVM
 * uses (reference kvm-tdx-mmu.md §8.2, E7): private leaves removed while the
 * HKID is still assigned, then the HKID released, then the page tables freed
 * (Secure-EPT pages reclaimed), then the control pages and the TDR.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kvm/kvm.h"
#include "kvm/mmu.h"
#include "kvm/mmu_legacy.h"
#include "kvm/mmu_page.h"
#include "kvm/tdp_mmu.h"
#include "kvm/tdp_mmu_nomirror.h"
#include "kvm/tdx_hooks.h"
#include "kvm/tdx_ops.h"

uint64_t kvm_stat_sum(const struct kvm *kvm, size_t offset)
{
	return host_thread_slots_sum((const char *)&kvm->stats_shards[0] + offset,
				     sizeof(kvm->stats_shards[0]));
}

/* TD_PARAMS.eptp_controls: memory type WB (6) and page-walk length - 1. */
#define TDX_EPTP_MT_WB 6

static uint64_t simple_call(struct kvm *kvm, int leaf, uint64_t rcx, uint64_t rdx)
{
	struct seamcall_regs r = { .rax = (uint64_t)leaf, .rcx = rcx, .rdx = rdx };

	return kvm_seamcall(kvm, &r);
}

static int tdx_release_hkid(struct kvm *kvm);
static int reclaim_page(struct kvm *kvm, hpa_t hpa);
static int reclaim_tdr(struct kvm *kvm);

/* Builds the TD as KVM_TDX_INIT_VM and vCPU creation do. */
static int tdx_td_init(struct kvm *kvm, const struct kvm_config *cfg)
{
	struct tdx_td_params params = { 0 };
	hpa_t params_page;
	pfn_t pfn;
	uint64_t s;

	if (kvm_page_new(kvm, &kvm->tdr))
		return -ENOMEM;
	/* One TD per modeled platform: the first private key id is free. */
	kvm->hkid = HOST_FIRST_PRIVATE_KEYID;
	s = simple_call(kvm, TDH_MNG_CREATE, kvm->tdr, kvm->hkid);
	if (tdx_status_is_error(s))
		return -EIO;
	kvm->td_created = true;
	kvm->hkid_assigned = true;
	if (tdx_status_is_error(simple_call(kvm, TDH_MNG_KEY_CONFIG, kvm->tdr, 0)))
		return -EIO;
	for (unsigned i = 0; i < TDX_NUM_TDCS_PAGES; i++) {
		if (kvm_page_new(kvm, &kvm->tdcx[i]))
			return -ENOMEM;
		if (tdx_status_is_error(simple_call(kvm, TDH_MNG_ADDCX, kvm->tdcx[i],
						    kvm->tdr))) {
			/* Not the TD's: the host's again at once. */
			host_mem_free_frame(kvm->hm, hpa_to_pfn(kvm->tdcx[i]));
			kvm->tdcx[i] = 0;
			return -EIO;
		}
	}

	params.attributes = cfg->sept_ve_disable ? TDX_TD_ATTR_SEPT_VE_DISABLE : 0;
	params.max_vcpus = (uint16_t)cfg->nr_vcpus;
	params.eptp_controls = TDX_EPTP_MT_WB |
			       ((uint64_t)(kvm->root_level - 1) << 3);
	params.exec_controls = cfg->gpaw == 52 ? TDX_EXEC_CONTROL_MAX_GPAW : 0;
	if (kvm_page_new(kvm, &params_page))
		return -ENOMEM;
	host_frame_write(kvm->hm, hpa_to_pfn(params_page), 0, &params,
			 sizeof(params), HOST_KEYID_SHARED);
	s = simple_call(kvm, TDH_MNG_INIT, kvm->tdr, params_page);
	host_mem_free_frame(kvm->hm, hpa_to_pfn(params_page));
	if (tdx_status_is_error(s))
		return -EIO;

	for (unsigned i = 0; i < cfg->nr_vcpus; i++) {
		struct kvm_vcpu *v = &kvm->vcpus[i];

		v->kvm = kvm;
		v->index = i;
		/*
		 * Each TDVPR on a frame of its own 8-frame group: the module's
		 * PAMT packs 8 entries into a cache line, and VP.ENTER and the
		 * TD exit write the TDVPR's entry (its lock) on every entry, so
		 * two vCPUs' TDVPRs side by side would make their threads
		 * trade that line on every fault. Real KVM takes any page; the
		 * placement is the model's, the frames between stay free.
		 */
		if (host_mem_alloc_range(kvm->hm, 1, 8, &pfn))
			return -ENOMEM;
		v->tdvpr = pfn_to_hpa(pfn);
		if (tdx_status_is_error(simple_call(kvm, TDH_VP_CREATE, v->tdvpr, kvm->tdr))) {
			host_mem_free_frame(kvm->hm, pfn);
			v->tdvpr = 0;
			return -EIO;
		}
		/* The TDVPR is the TD's from here on: counted, so that a
		 * failure below reclaims it. */
		kvm->nr_vcpus++;
		if (tdx_status_is_error(simple_call(kvm, TDH_VP_INIT, v->tdvpr, 0)))
			return -EIO;
	}
	return 0;
}

/*
 * A TD whose build failed part-way (a SEAMCALL refused, a page KVM could
 * not get), taken apart as upstream's __tdx_td_init() does on its error
 * path: the key released if it was bound (VP.FLUSH of the vCPUs made,
 * VPFLUSHDONE, CACHE.WB, FREEID), then the control pages the TD owns
 * RECLAIMed, the TDR last, and the frames the TD never took freed. A page
 * the module will not give back is leaked (never reused), as KVM leaks
 * what it cannot reclaim. The MMU is not built yet, or was taken down by
 * the caller.
 */
static void tdx_td_abort(struct kvm *kvm)
{
	bool released = !kvm->hkid_assigned || !tdx_release_hkid(kvm);

	for (unsigned i = 0; i < kvm->nr_vcpus; i++) {
		kvm_mmu_cache_free(kvm, &kvm->vcpus[i].sept_cache);
		if (!released || reclaim_page(kvm, kvm->vcpus[i].tdvpr))
			atomic_fetch_add(&kvm->frames_leaked, 1);
	}
	for (unsigned i = 0; i < TDX_NUM_TDCS_PAGES; i++)
		if (kvm->tdcx[i] && (!released || reclaim_page(kvm, kvm->tdcx[i])))
			atomic_fetch_add(&kvm->frames_leaked, 1);
	if (!kvm->tdr)
		return;
	if (!kvm->td_created) {
		host_mem_free_frame(kvm->hm, hpa_to_pfn(kvm->tdr));
		return;
	}
	if (!released)
		atomic_fetch_add(&kvm->frames_leaked, 1);
	else
		(void)reclaim_tdr(kvm); /* counts a TDR it must leak */
}

int kvm_create_vm(struct host_mem *hm, struct host_memslots *slots,
		  struct tdx_module *tdx, const struct kvm_config *cfg,
		  struct kvm **out)
{
	struct kvm *kvm;
	uint64_t trace_mask;
	const char *bad;
	size_t bad_len;
	int ret;

	if ((cfg->gpaw != 48 && cfg->gpaw != 52) || cfg->nr_vcpus == 0 ||
	    cfg->nr_vcpus > KVM_MAX_VCPUS ||
	    trace_filter(cfg->trace_events, &trace_mask, &bad, &bad_len))
		return -EINVAL;
	/* Cache-line aligned: the counter shards and contention_seq each
	 * own their lines. */
	kvm = aligned_alloc(64, (sizeof(*kvm) + 63) & ~(size_t)63);
	if (kvm)
		memset(kvm, 0, sizeof(*kvm));
	if (!kvm)
		return -ENOMEM;
	kvm->hm = hm;
	kvm->slots = slots;
	kvm->tdx = tdx;
	kvm->mmu_kind = cfg->mmu;
	kvm->trace = cfg->trace;
	kvm->trace_mask = trace_mask;
	kvm->trace_clock = cfg->trace_clock;
	kvm->gpaw = cfg->gpaw;
	/* reference §2.1: the shared bit is GPA bit 47 (GPAW 48, 4-level EPT)
	 * or bit 51 (GPAW 52, 5-level EPT). */
	kvm->gfn_shared_mask = 1ULL << (cfg->gpaw - 1 - PAGE_SHIFT);
	kvm->root_level = cfg->gpaw == 52 ? PG_LEVEL_256T : PG_LEVEL_512G;
	pthread_mutex_init(&kvm->slots_lock, NULL);
	pthread_mutex_init(&kvm->leak_lock, NULL);
	kvm->enomem_seed = cfg->seed;
	mmu_rwlock_init(&kvm->mmu_lock);

	ret = tdx_td_init(kvm, cfg);
	if (!ret)
		ret = kvm_mmu_init(kvm);
	if (!ret && kvm_is_legacy_mmu(kvm))
		ret = kvm_legacy_mmu_init(kvm);
	if (!ret && cfg->no_mirror) {
		kvm->no_mirror = true;
		ret = kvm_nomirror_init(kvm);
	}
	if (ret) {
		/* Taken apart, as upstream's KVM_TDX_INIT_VM error path does
		 * (it used to stay with the module, with its struct kvm:
		 * nothing could be injected into creation to see it). The MMU
		 * first: nothing is mapped yet, so only its roots and arena. */
		kvm_nomirror_destroy(kvm);
		kvm_legacy_mmu_uninit(kvm);
		kvm_mmu_uninit(kvm);
		tdx_td_abort(kvm);
		mmu_rwlock_destroy(&kvm->mmu_lock);
		pthread_mutex_destroy(&kvm->slots_lock);
		pthread_mutex_destroy(&kvm->leak_lock);
		free(kvm->leaked);
		free(kvm);
		*out = NULL;
		return ret;
	}
	*out = kvm;
	return 0;
}

int kvm_tdx_init_mem_page(struct kvm *kvm, gpa_t gpa, pfn_t source)
{
	struct kvm_vcpu *vcpu0 = &kvm->vcpus[0];
	int ret = RET_PF_RETRY;

	/* kvm_vm_dead: every ioctl of a dead VM answers -EIO. */
	if (kvm_is_bugged(kvm))
		return -EIO;
	if (kvm->finalized)
		return -EPERM;
	if (!kvm_is_private_gpa(kvm, gpa) || (gpa & ~PAGE_MASK))
		return -EINVAL;
	if (!host_memslot_find(kvm->slots, gpa >> PAGE_SHIFT, NULL))
		return -ENOENT;

	/*
	 * The E1-E6 flow: a private fault on vCPU 0 with source_pa set, so the
	 * set_private_spte hook issues TDH.MEM.PAGE.ADD + TDH.MR.EXTEND. Build
	 * time is serialised (the vCPU mutex in KVM; here the caller), which is
	 * what makes one per-VM source_pa slot safe.
	 */
	kvm->source_pa = pfn_to_hpa(source);
	for (int tries = 0; ret == RET_PF_RETRY && tries < 16; tries++) {
		if (kvm_mmu_topup_sept_cache(kvm, &vcpu0->sept_cache)) {
			ret = -ENOMEM;
			break;
		}
		if (kvm_is_legacy_mmu(kvm)) {
			ret = kvm_legacy_mmu_map_init_page(kvm, &vcpu0->sept_cache, gpa);
			continue;
		}
		kvm_mmu_read_lock(kvm);
		ret = kvm_tdp_mmu_map(kvm, &vcpu0->sept_cache, gpa);
		kvm_mmu_read_unlock(kvm);
	}
	/* Still RETRY after every try (a SEAMCALL BUSY each time): nothing was
	 * added, and the page is not mapped either: -EBUSY, asked before the
	 * source_pa test, which RETRY (>= 0, source_pa not consumed) meets
	 * too and which used to call it "already mapped". */
	if (ret == RET_PF_RETRY)
		ret = -EBUSY;
	else if (ret == RET_PF_SPURIOUS || (ret >= 0 && kvm->source_pa))
		ret = -EEXIST; /* already mapped: nothing was added */
	else if (ret > 0)
		ret = 0;
	/* Killed on the way (a failed MR.EXTEND after the page went in):
	 * the ioctl fails as every ioctl of a dead VM does. */
	if (!ret && kvm_is_bugged(kvm))
		ret = -EIO;
	kvm->source_pa = 0;
	return ret;
}

static uint64_t call_retry_busy(struct kvm *kvm, int leaf, uint64_t rcx);

int kvm_tdx_finalize_vm(struct kvm *kvm)
{
	uint64_t s;

	if (kvm_is_bugged(kvm))
		return -EIO;
	if (kvm->finalized)
		return -EPERM;
	/* Upstream tdx_td_finalize(): a failed TDH.MR.FINALIZE (other than
	 * BUSY, retried within the time budget of tdx_ops.h and -EBUSY past
	 * it) is a KVM_BUG_ON: KVM's view of the TD no longer matches the
	 * module's (the host finalized it behind KVM's back, say). */
	s = call_retry_busy(kvm, TDH_MR_FINALIZE, kvm->tdr);
	if (tdx_status_is(s, TDX_OPERAND_BUSY))
		return -EBUSY;
	if (tdx_status_is_error(s)) {
		kvm_vm_bugged(kvm, "TDH.MR.FINALIZE: %#llx", (unsigned long long)s);
		return -EIO;
	}
	kvm->finalized = true;
	/* X1: finalize, then one TRACK so the epoch machinery starts clean. */
	s = call_retry_busy(kvm, TDH_MEM_TRACK, kvm->tdr);
	if (tdx_status_is_error(s)) {
		kvm_vm_bugged(kvm, "TDH.MEM.TRACK after finalize: %#llx",
			      (unsigned long long)s);
		return -EIO;
	}
	return 0;
}

/* A finalize or teardown SEAMCALL, retried while BUSY (a vCPU thread still
 * leaving the TD, injected contention) within the time budget of
 * tdx_ops.h. */
static uint64_t call_retry_busy(struct kvm *kvm, int leaf, uint64_t rcx)
{
	struct tdx_retry rt = TDX_RETRY_INIT;
	uint64_t s;

	for (;;) {
		s = leaf == TDH_PHYMEM_CACHE_WB ? kvm_tdh_phymem_cache_wb(kvm)
						: simple_call(kvm, leaf, rcx, 0);
		if ((!tdx_status_is(s, TDX_OPERAND_BUSY) &&
		     !tdx_status_is(s, TDX_OPERAND_BUSY_HOST_PRIORITY)) ||
		    !TDX_RETRY_WAIT(&rt, kvm, "finalize/teardown SEAMCALL BUSY"))
			return s;
	}
}

/*
 * Release the HKID (tdx_mmu_release_hkid), in the order the module enforces
 * (issue 11 item 2.5): flush every vCPU, VPFLUSHDONE (the key's write-back
 * becomes pending), CACHE.WB started after it (resumed until done), then
 * FREEID, which the module refuses with TDX_WBCACHE_NOT_COMPLETE otherwise.
 * CACHE.WB's warning TDX_NO_HKID_READY_TO_WBCACHE is not an error. After
 * this every S-EPT SEAMCALL answers TDX_TD_KEYS_NOT_CONFIGURED and pages
 * come back with RECLAIM.
 */
static int tdx_release_hkid(struct kvm *kvm)
{
	for (unsigned i = 0; i < kvm->nr_vcpus; i++)
		if (tdx_status_is_error(call_retry_busy(kvm, TDH_VP_FLUSH, kvm->vcpus[i].tdvpr)))
			return -EIO;
	if (tdx_status_is_error(call_retry_busy(kvm, TDH_MNG_VPFLUSHDONE, kvm->tdr)) ||
	    tdx_status_is_error(call_retry_busy(kvm, TDH_PHYMEM_CACHE_WB, 0)) ||
	    tdx_status_is_error(call_retry_busy(kvm, TDH_MNG_KEY_FREEID, kvm->tdr)))
		return -EIO;
	kvm->hkid_assigned = false;
	return 0;
}

/* RECLAIM a control page and give it back to the host cleared; a page that
 * cannot be reclaimed is leaked, never reused. */
static int reclaim_page(struct kvm *kvm, hpa_t hpa)
{
	if (tdx_status_is_error(call_retry_busy(kvm, TDH_PHYMEM_PAGE_RECLAIM, hpa)))
		return -EIO;
	host_frame_clear(kvm->hm, hpa_to_pfn(hpa), HOST_KEYID_SHARED);
	host_mem_free_frame(kvm->hm, hpa_to_pfn(hpa));
	return 0;
}

/* RECLAIM the TDR (the module refuses it while the TD owns any page),
 * write back its lines and give it back cleared. -EIO if the module
 * refused; a TDR whose WBINVD failed is counted leaked, never reused. */
static int reclaim_tdr(struct kvm *kvm)
{
	struct tdx_retry rt = TDX_RETRY_INIT;
	uint64_t s;

	if (tdx_status_is_error(call_retry_busy(kvm, TDH_PHYMEM_PAGE_RECLAIM, kvm->tdr)))
		return -EIO;
	/* Under the global key: the module wrote the TDR with it, and the
	 * TD's HKID was freed before (issue 11 item 2.5). */
	while (tdx_status_is(s = kvm_tdh_phymem_page_wbinvd_tdr(kvm), TDX_OPERAND_BUSY) &&
	       TDX_RETRY_WAIT(&rt, kvm, "TDR WBINVD BUSY"))
		;
	if (tdx_status_is_error(s)) {
		/* Dirty lines may remain: never reuse the frame. */
		atomic_fetch_add(&kvm->frames_leaked, 1);
		return -EIO;
	}
	host_frame_clear(kvm->hm, hpa_to_pfn(kvm->tdr), HOST_KEYID_SHARED);
	host_mem_free_frame(kvm->hm, hpa_to_pfn(kvm->tdr));
	return 0;
}

int kvm_tdx_teardown_memory(struct kvm *kvm)
{
	int ret = 0;

	/*
	 * Step 1 may fail page by page (on a VM that KVM killed because the
	 * host tampered with the S-EPT, it will): what it could not remove
	 * stays in the mirror or on the leaked list, and goes back after the
	 * HKID is released, below. So its failures are not the teardown's:
	 * only what is still leaked at the end is.
	 */
	kvm_mmu_write_lock(kvm);
	if (kvm_is_legacy_mmu(kvm))
		(void)kvm_legacy_mmu_zap_all_private(kvm);
	else
		(void)kvm_tdp_mmu_zap_all_private_leaves(kvm);
	/* The no-mirror path's leaves, which no tree of KVM's records. */
	if (kvm->no_mirror)
		(void)kvm_nomirror_zap(kvm, 0, ~0ULL);
	kvm_mmu_write_unlock(kvm);
	if (tdx_release_hkid(kvm))
		return -EIO;
	kvm_mmu_write_lock(kvm);
	if (kvm_is_legacy_mmu(kvm))
		kvm_legacy_mmu_free_all(kvm);
	else
		kvm_tdp_mmu_free_all(kvm);
	/* No-mirror: what step 1 could not remove (a dead VM's leaves, e.g.
	 * below a table the host blocked, whose BLOCK failed) comes back with
	 * RECLAIM now, as the trees' leaves do in kvm_tdp_mmu_free_all().
	 * They used to stay on the list: the TD kept them, the TDR could not
	 * be reclaimed and every frame of the VM leaked. */
	if (kvm->no_mirror && kvm_nomirror_zap(kvm, 0, ~0ULL))
		ret = -EIO;
	if (kvm->no_mirror && kvm_nomirror_free_spts(kvm))
		ret = -EIO;
	kvm_mmu_write_unlock(kvm);
	/*
	 * What KVM gave up on while the TD lived (a dead VM's pages above
	 * all): with the HKID released the module lets every page of the TD
	 * go, so nothing needs to stay leaked. This is what makes the destroy
	 * of a VM that KVM killed complete.
	 */
	if (tdx_reclaim_leaked_pages(kvm) || atomic_load(&kvm->frames_leaked))
		ret = -EIO;
	/* Both trees went through call_rcu: wait for them, so that "freed"
	 * means back in the arena when this returns. */
	kvm_mmu_pages_quiesce(kvm);
	return ret;
}

int kvm_destroy_vm(struct kvm *kvm, uint64_t *pages_leaked)
{
	int ret = 0;

	if (kvm->hkid_assigned && kvm_tdx_teardown_memory(kvm))
		ret = -EIO;
	for (unsigned i = 0; i < kvm->nr_vcpus; i++) {
		if (reclaim_page(kvm, kvm->vcpus[i].tdvpr))
			ret = -EIO;
		kvm_mmu_cache_free(kvm, &kvm->vcpus[i].sept_cache);
	}
	for (unsigned i = 0; i < TDX_NUM_TDCS_PAGES; i++)
		if (kvm->tdcx[i] && reclaim_page(kvm, kvm->tdcx[i]))
			ret = -EIO;
	/* The TDR last: the module refuses it while the TD owns any page. */
	if (reclaim_tdr(kvm))
		ret = -EIO;
	/* Pages freed with RCU count as live until their callback ran. */
	kvm_mmu_pages_quiesce(kvm);
	if (pages_leaked)
		*pages_leaked = kvm_mmu_pages_live(kvm);
	kvm_legacy_mmu_uninit(kvm);
	kvm_mmu_uninit(kvm);
	kvm_nomirror_destroy(kvm);
	mmu_rwlock_destroy(&kvm->mmu_lock);
	pthread_mutex_destroy(&kvm->slots_lock);
	pthread_mutex_destroy(&kvm->leak_lock);
	free(kvm->leaked);
	free(kvm);
	return ret;
}
