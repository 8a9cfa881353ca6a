/* SPDX-License-Identifier: MIT */
/*
 * The TDX back end of KVM's MMU (see tdx_hooks.h): the only place in KVM that
 * issues memory SEAMCALLs. What each hook does follows reference
 * kvm-tdx-mmu.md §4.2; the SEAMCALLs' rules are tdx-module-sept.md §4.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "kvm/kvm_sched.h"
#include "kvm/tdx_hooks.h"
#include "kvm/tdx_ops.h"

/* TDX_EXTENDMR_CHUNKSIZE (L23): TDH.MR.EXTEND measures 256 bytes a call. */
#define TDX_EXTENDMR_CHUNKSIZE 256

/*
 * Under the write lock no other KVM thread issues SEAMCALLs for this TD, so
 * BUSY there comes from a vCPU inside TDH.VP.ENTER (or from the module's
 * injected contention). Upstream kicks the vCPUs out and retries (E7
 * tdx_no_vcpus_enter_start); the model retries, kicking between tries, for
 * TDX_RETRY_BUDGET_NS of wall time with back-off (tdx_ops.h says why time
 * and not a try count) before calling it a KVM bug.
 */

void kvm_vm_bugged(struct kvm *kvm, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	atomic_store(&kvm->bugged, true);
	/* A schedule's explanation says why the VM died, not only that. */
	SCHED_NOTE("KVM kills the VM: %s", why);
	KVM_TRACE(kvm, kvm_vm_bugged, (why), "%s", why);
}

static bool tdx_status_is_busy(uint64_t s)
{
	return tdx_status_is(s, TDX_OPERAND_BUSY) ||
	       tdx_status_is(s, TDX_OPERAND_BUSY_HOST_PRIORITY);
}


/*
 * The kick (KVM_REQ_OUTSIDE_GUEST_MODE + IPI, and the wait for each vCPU in
 * guest mode to leave it). The guard: after TRACK, no vCPU may go on using
 * translations of the old epoch, and a held vCPU (`vcpu N enter`) only
 * leaves the TD when kicked. MUTANT_NO_KICK removes every kick KVM sends:
 * this one (TRACK's retry on a busy epoch, the plain kick after TRACK) and
 * the kick half of the shared-EPT flush (the CPU model's
 * cpu_flush_shared_tlbs() then only sets REQ_FLUSH_SHARED, which a running
 * vCPU takes at its next page access, and a sleeping held vCPU not at all).
 */
static void tdx_kick_vcpus(struct kvm *kvm)
{
	if (mutant_on(MUTANT_NO_KICK))
		return;
	if (kvm->kick_all_vcpus) {
		kvm->kick_all_vcpus(kvm);
		kvm_stat_inc(&kvm_stats_mine(kvm)->tlb_kick);
	}
}

/* Issues a write-lock SEAMCALL (through `call`) until it is not BUSY or
 * the time budget is spent (then the BUSY status stays, and the caller
 * calls it a bug). */
#define TDX_RETRY_BUSY(kvm, status, call)                                    \
	do {                                                                 \
		struct tdx_retry rt_ = TDX_RETRY_INIT;                       \
		for (;;) {                                                   \
			(status) = (call);                                   \
			if (!tdx_status_is_busy(status))                     \
				break;                                       \
			tdx_kick_vcpus(kvm);                                 \
			if (!TDX_RETRY_WAIT(&rt_, kvm, "SEAMCALL BUSY retry")) \
				break;                                       \
		}                                                            \
	} while (0)

void kvm_leak_page(struct kvm *kvm, hpa_t hpa, enum kvm_leak_kind kind,
		   const char *why)
{
	atomic_fetch_add(&kvm->frames_leaked, 1);
	KVM_TRACE(kvm, kvm_tdx_leak_page, (hpa_to_pfn(hpa)), "pfn 0x%llx (%s)",
		  (unsigned long long)hpa_to_pfn(hpa), why);
	pthread_mutex_lock(&kvm->leak_lock);
	if (kvm->nr_leaked == kvm->cap_leaked) {
		size_t cap = kvm->cap_leaked ? kvm->cap_leaked * 2 : 16;
		struct kvm_leaked_page *n = realloc(kvm->leaked, cap * sizeof(*n));

		/* No room to remember it: it stays leaked for good (and
		 * destroy's leak check says so). */
		if (!n) {
			pthread_mutex_unlock(&kvm->leak_lock);
			return;
		}
		kvm->leaked = n;
		kvm->cap_leaked = cap;
	}
	kvm->leaked[kvm->nr_leaked++] = (struct kvm_leaked_page){ hpa, kind };
	pthread_mutex_unlock(&kvm->leak_lock);
}

int tdx_reclaim_leaked_pages(struct kvm *kvm)
{
	size_t kept = 0;
	int ret = 0;

	pthread_mutex_lock(&kvm->leak_lock);
	for (size_t i = 0; i < kvm->nr_leaked; i++) {
		struct kvm_leaked_page lp = kvm->leaked[i];
		uint64_t s;

		/*
		 * With the HKID released the module hands back any page of
		 * the TD, whatever its S-EPT state (TDH.PHYMEM.PAGE.RECLAIM,
		 * TD_TEARDOWN). A page the PAMT no longer gives to any TD
		 * (TDX_PAGE_METADATA_INCORRECT: the SEAMCALL that failed never
		 * took it, or the host removed it behind KVM's back) is the
		 * host's already. Either way it leaves cleared with the host's
		 * key, as every page that was the TD's does.
		 */
		TDX_RETRY_BUSY(kvm, s, kvm_tdh_phymem_page_reclaim(kvm, lp.hpa, NULL));
		if (tdx_status_is_error(s) &&
		    !tdx_status_is(s, TDX_PAGE_METADATA_INCORRECT)) {
			KVM_TRACE(kvm, kvm_tdx_leak_page, (hpa_to_pfn(lp.hpa)),
				  "pfn 0x%llx not reclaimed: 0x%llx",
				  (unsigned long long)hpa_to_pfn(lp.hpa),
				  (unsigned long long)s);
			kvm->leaked[kept++] = lp;
			ret = -EIO;
			continue;
		}
		host_frame_clear(kvm->hm, hpa_to_pfn(lp.hpa), HOST_KEYID_SHARED);
		if (lp.kind == KVM_LEAK_KVM)
			host_mem_free_frame(kvm->hm, hpa_to_pfn(lp.hpa));
		atomic_fetch_sub(&kvm->frames_leaked, 1);
		KVM_TRACE(kvm, kvm_tdx_reclaim_leaked_page, (hpa_to_pfn(lp.hpa)),
			  "pfn 0x%llx", (unsigned long long)hpa_to_pfn(lp.hpa));
	}
	kvm->nr_leaked = kept;
	pthread_mutex_unlock(&kvm->leak_lock);
	return ret;
}

int tdx_sept_link_private_spt(struct kvm *kvm, gfn_t gfn, int level,
			      hpa_t private_spt)
{
	gpa_t gpa = (gpa_t)gfn << PAGE_SHIFT;
	uint64_t s;

	/* The root's twin is the module's; every other private table has one. */
	if (!private_spt || level <= PG_LEVEL_4K) {
		kvm_vm_bugged(kvm, "link_private_spt: gfn 0x%llx level %d without a page",
			      (unsigned long long)gfn, level);
		return -EIO;
	}
	s = kvm_tdh_mem_sept_add(kvm, gpa, pg_level_to_tdx_level((unsigned)level),
				 private_spt, NULL);
	if (!tdx_status_is_error(s))
		return 0;
	/* SEPT busy: the fault undoes its freeze and retries (E7 -EBUSY). */
	if (tdx_status_is_busy(s))
		return -EBUSY;
	kvm_vm_bugged(kvm, "TDH.MEM.SEPT.ADD gpa 0x%llx level %d: %#llx",
		      (unsigned long long)gpa, level, (unsigned long long)s);
	return -EIO;
}

/* Build time: PAGE.ADD copies source_pa in; MR.EXTEND measures the content. */
static int tdx_mem_page_add(struct kvm *kvm, gpa_t gpa, hpa_t hpa)
{
	uint64_t s;

	if (!kvm->source_pa) {
		/* A private fault before finalize that is not
		 * KVM_TDX_INIT_MEM_REGION: no vCPU can have run (X1 KVM_BUG_ON). */
		kvm_vm_bugged(kvm, "private fault at 0x%llx before finalize without a source",
			      (unsigned long long)gpa);
		return -EIO;
	}
	s = kvm_tdh_mem_page_add(kvm, gpa, hpa, kvm->source_pa, NULL);
	if (tdx_status_is_busy(s))
		return -EBUSY; /* source_pa kept: the retried fault adds it */
	if (tdx_status_is_error(s)) {
		kvm_vm_bugged(kvm, "TDH.MEM.PAGE.ADD gpa 0x%llx: %#llx",
			      (unsigned long long)gpa, (unsigned long long)s);
		return -EIO;
	}
	/* The page is in the TD now and cannot be taken back, so the
	 * measurement must complete: BUSY here is retried, not propagated.
	 * Any other error kills the VM (upstream's KVM_BUG_ON on MR.EXTEND),
	 * but the page stays added: the hook reports success so that the
	 * mirror keeps the entry the S-EPT has (returning the error made the
	 * fault restore a non-present mirror entry over a MAPPED S-EPT one,
	 * which `check` reported; found by injecting an error into
	 * MR.EXTEND). The ioctl answers -EIO as the VM is dead. */
	kvm->source_pa = 0;
	for (unsigned off = 0; off < PAGE_SIZE; off += TDX_EXTENDMR_CHUNKSIZE) {
		TDX_RETRY_BUSY(kvm, s, kvm_tdh_mr_extend(kvm, gpa + off, NULL));
		if (tdx_status_is_error(s)) {
			kvm_vm_bugged(kvm, "TDH.MR.EXTEND gpa 0x%llx: %#llx",
				      (unsigned long long)(gpa + off),
				      (unsigned long long)s);
			break;
		}
	}
	return 0;
}

int tdx_sept_set_private_spte(struct kvm *kvm, gfn_t gfn, int level, pfn_t pfn)
{
	gpa_t gpa = (gpa_t)gfn << PAGE_SHIFT;
	hpa_t hpa = pfn_to_hpa(pfn);
	uint64_t s;

	/* E4 maps 4K only; E8 (hugepages ref §1.3, §2.1.3) maps 2M too, but
	 * only once the TD is runnable: PAGE.ADD is 4K-only. Anything else
	 * is a bug (L7). */
	if (level != PG_LEVEL_4K && (level != PG_LEVEL_2M || !kvm->finalized)) {
		kvm_vm_bugged(kvm, "set_private_spte: level %d", level);
		return -EIO;
	}
	if (!kvm->finalized)
		return tdx_mem_page_add(kvm, gpa, hpa);

	s = kvm_tdh_mem_page_aug(kvm, gpa, pg_level_to_tdx_level((unsigned)level),
				 hpa, NULL);
	if (!tdx_status_is_error(s))
		return 0;
	if (tdx_status_is_busy(s))
		return -EBUSY;
	kvm_vm_bugged(kvm, "TDH.MEM.PAGE.AUG gpa 0x%llx: %#llx",
		      (unsigned long long)gpa, (unsigned long long)s);
	return -EIO;
}

int tdx_sept_zap_private_spte(struct kvm *kvm, gfn_t gfn, int level)
{
	gpa_t gpa = (gpa_t)gfn << PAGE_SHIFT;
	uint64_t s;

	TDX_RETRY_BUSY(kvm, s, kvm_tdh_mem_range_block(kvm, gpa,
				pg_level_to_tdx_level((unsigned)level), NULL));
	/* TDX_GPA_RANGE_ALREADY_BLOCKED is a warning (bit 63 clear): fine. */
	if (!tdx_status_is_error(s))
		return 0;
	kvm_vm_bugged(kvm, "TDH.MEM.RANGE.BLOCK gpa 0x%llx level %d: %#llx",
		      (unsigned long long)gpa, level, (unsigned long long)s);
	return -EIO;
}

/*
 * A private 2M leaf leaves the TD whole (hugepages ref §6, E8): with the HKID
 * assigned, PAGE.REMOVE at 2M (the caller blocked and tracked once
 * finalized, §6.2), then TDH.PHYMEM.PAGE.WBINVD of each of the 512 4K pages
 * under the TD's key, stopping at the first error (§6.3), and each frame
 * cleared with the host's key (the model's stand-in for the MOVDIR64B
 * zeroing of §6.4, which it always does so that no frame leaves holding TD
 * content). With the HKID released (teardown, E4 order): RECLAIM of the 2M
 * page (the module reclaims a large page by its aligned HPA at its PAMT
 * size), then the clears. Any failure bugs the VM and leaks the 512 frames
 * (§6.6).
 */
/* Frames @from..511 of the 2M page at @pfn stay with the TD: leaked. */
static void tdx_leak_2m_frames(struct kvm *kvm, pfn_t pfn, uint64_t from,
			       const char *why)
{
	for (uint64_t i = from; i < HOST_HUGE_FRAMES; i++)
		kvm_leak_page(kvm, pfn_to_hpa(pfn + i), KVM_LEAK_GUEST, why);
}

static int tdx_sept_remove_private_2m(struct kvm *kvm, gpa_t gpa, pfn_t pfn)
{
	hpa_t hpa = pfn_to_hpa(pfn);
	uint64_t s;

	if (pfn & (HOST_HUGE_FRAMES - 1)) {
		kvm_vm_bugged(kvm, "remove_private_spte: 2M leaf gpa 0x%llx at unaligned pfn 0x%llx",
			      (unsigned long long)gpa, (unsigned long long)pfn);
		return -EIO;
	}
	if (!kvm->hkid_assigned) {
		TDX_RETRY_BUSY(kvm, s, kvm_tdh_phymem_page_reclaim(kvm, hpa, NULL));
		if (tdx_status_is_error(s)) {
			kvm_vm_bugged(kvm, "TDH.PHYMEM.PAGE.RECLAIM 2M hpa 0x%llx: %#llx",
				      (unsigned long long)hpa, (unsigned long long)s);
			tdx_leak_2m_frames(kvm, pfn, 0, "2M reclaim failed");
			return -EIO;
		}
	} else {
		TDX_RETRY_BUSY(kvm, s, kvm_tdh_mem_page_remove(kvm, gpa, 1, NULL));
		if (tdx_status_is_error(s)) {
			kvm_vm_bugged(kvm, "TDH.MEM.PAGE.REMOVE 2M gpa 0x%llx: %#llx",
				      (unsigned long long)gpa, (unsigned long long)s);
			tdx_leak_2m_frames(kvm, pfn, 0, "2M remove failed");
			return -EIO;
		}
		for (uint64_t i = 0; i < HOST_HUGE_FRAMES; i++) {
			TDX_RETRY_BUSY(kvm, s, kvm_tdh_phymem_page_wbinvd(kvm, hpa + i * PAGE_SIZE));
			if (tdx_status_is_error(s)) {
				kvm_vm_bugged(kvm, "TDH.PHYMEM.PAGE.WBINVD hpa 0x%llx: %#llx",
					      (unsigned long long)(hpa + i * PAGE_SIZE),
					      (unsigned long long)s);
				tdx_leak_2m_frames(kvm, pfn, i, "wbinvd failed");
				host_frame_clear_range(kvm->hm, pfn, i, HOST_KEYID_SHARED);
				return -EIO;
			}
		}
	}
	host_frame_clear_range(kvm->hm, pfn, HOST_HUGE_FRAMES, HOST_KEYID_SHARED);
	return 0;
}

/*
 * MUTANT_SPLIT_READ_LOCK: the split as it would have to be done under the
 * read side of mmu_lock (hugepages ref §4.2.3, hazard §8.1). KVM cannot keep
 * the vCPUs out meanwhile, so nothing is retried with a kick: BLOCK, TRACK,
 * then one DEMOTE; a BUSY DEMOTE (a vCPU's TDCALL or VP.ENTER holds the
 * entry) must be undone with RANGE.UNBLOCK so that the leaf is usable again
 * and the fault can retry, and that UNBLOCK can be BUSY for the same reason:
 * then the leaf stays blocked behind KVM's back and KVM can only call it a
 * bug. Which is why the series splits under the write lock only.
 */
static int tdx_split_read_lock(struct kvm *kvm, gfn_t gfn, int level, hpa_t private_spt)
{
	gpa_t gpa = (gpa_t)gfn << PAGE_SHIFT;
	unsigned tdx_level = pg_level_to_tdx_level((unsigned)level);
	uint64_t s;
	int ret;

	s = kvm_tdh_mem_range_block(kvm, gpa, tdx_level, NULL);
	if (tdx_status_is_busy(s))
		return -EBUSY;
	if (tdx_status_is_error(s)) {
		kvm_vm_bugged(kvm, "TDH.MEM.RANGE.BLOCK gpa 0x%llx level %d: %#llx",
			      (unsigned long long)gpa, level, (unsigned long long)s);
		return -EIO;
	}
	ret = kvm_flush_remote_tlbs(kvm);
	if (ret)
		return ret;
	s = kvm_tdh_mem_page_demote(kvm, gpa, tdx_level, private_spt, NULL);
	if (!tdx_status_is_error(s)) {
		kvm_stat_inc(&kvm_stats_mine(kvm)->split_private);
		return 0;
	}
	if (!tdx_status_is_busy(s)) {
		kvm_vm_bugged(kvm, "TDH.MEM.PAGE.DEMOTE gpa 0x%llx level %d: %#llx",
			      (unsigned long long)gpa, level, (unsigned long long)s);
		return -EIO;
	}
	s = kvm_tdh_mem_range_unblock(kvm, gpa, tdx_level, NULL);
	if (!tdx_status_is_error(s))
		return -EBUSY;
	kvm_vm_bugged(kvm, "split under the read lock: DEMOTE gpa 0x%llx was BUSY, and the UNBLOCK that must undo its BLOCK answered %#llx: the 2M leaf stays blocked",
		      (unsigned long long)gpa, (unsigned long long)s);
	return -EIO;
}

int tdx_sept_split_private_spte(struct kvm *kvm, gfn_t gfn, int level,
				hpa_t private_spt)
{
	gpa_t gpa = (gpa_t)gfn << PAGE_SHIFT;
	unsigned tdx_level = pg_level_to_tdx_level((unsigned)level);
	uint64_t s;
	int ret;

	/* Only 2M leaves exist (§1.1), and only a running TD has them (§1.3):
	 * BLOCK + TRACK is what DEMOTE needs (tdx-module-sept.md §4.10). */
	if (level != PG_LEVEL_2M || !private_spt || !kvm->finalized ||
	    !kvm->hkid_assigned) {
		kvm_vm_bugged(kvm, "split_private_spte: gfn 0x%llx level %d",
			      (unsigned long long)gfn, level);
		return -EIO;
	}
	if (mutant_on(MUTANT_SPLIT_READ_LOCK))
		return tdx_split_read_lock(kvm, gfn, level, private_spt);
	ret = tdx_sept_zap_private_spte(kvm, gfn, level);
	if (ret)
		return ret;
	ret = kvm_flush_remote_tlbs(kvm);
	if (ret)
		return ret;
	TDX_RETRY_BUSY(kvm, s, kvm_tdh_mem_page_demote(kvm, gpa, tdx_level,
							 private_spt, NULL));
	if (!tdx_status_is_error(s)) {
		kvm_stat_inc(&kvm_stats_mine(kvm)->split_private);
		return 0;
	}
	kvm_vm_bugged(kvm, "TDH.MEM.PAGE.DEMOTE gpa 0x%llx level %d: %#llx",
		      (unsigned long long)gpa, level, (unsigned long long)s);
	return -EIO;
}

int tdx_sept_remove_private_spte(struct kvm *kvm, gfn_t gfn, int level,
				 pfn_t pfn)
{
	gpa_t gpa = (gpa_t)gfn << PAGE_SHIFT;
	hpa_t hpa = pfn_to_hpa(pfn);
	uint64_t s;

	/* 4K, or a 2M leaf removed whole (hugepages ref §6): REMOVE or
	 * RECLAIM at 2M, then each 4K frame written back and cleared. */
	if (level != PG_LEVEL_4K && level != PG_LEVEL_2M) {
		kvm_vm_bugged(kvm, "remove_private_spte: level %d", level);
		kvm_leak_page(kvm, hpa, KVM_LEAK_GUEST, "large private page");
		return -EIO;
	}
	if (level == PG_LEVEL_2M)
		return tdx_sept_remove_private_2m(kvm, gpa, pfn);

	if (!kvm->hkid_assigned) {
		/* E4 order (HKID released first, §8.2): the module no longer
		 * walks this TD's S-EPT; the page comes back with RECLAIM. */
		TDX_RETRY_BUSY(kvm, s, kvm_tdh_phymem_page_reclaim(kvm, hpa, NULL));
		if (tdx_status_is_error(s)) {
			kvm_vm_bugged(kvm, "TDH.PHYMEM.PAGE.RECLAIM hpa 0x%llx: %#llx",
				      (unsigned long long)hpa, (unsigned long long)s);
			kvm_leak_page(kvm, hpa, KVM_LEAK_GUEST, "reclaim failed");
			return -EIO;
		}
		host_frame_clear(kvm->hm, pfn, HOST_KEYID_SHARED);
		return 0;
	}

	/*
	 * "TDX requires TLB tracking before dropping private page" (X1, U1):
	 * the caller blocked the range and flushed (TRACK) once finalized.
	 * Before finalize the module removes a MAPPED page of an INITIALIZED
	 * TD directly (tdx-module-sept.md §4.7).
	 */
	TDX_RETRY_BUSY(kvm, s, kvm_tdh_mem_page_remove(kvm, gpa,
				pg_level_to_tdx_level((unsigned)level), NULL));
	if (tdx_status_is_error(s)) {
		kvm_vm_bugged(kvm, "TDH.MEM.PAGE.REMOVE gpa 0x%llx: %#llx",
			      (unsigned long long)gpa, (unsigned long long)s);
		kvm_leak_page(kvm, hpa, KVM_LEAK_GUEST, "remove failed");
		return -EIO;
	}
	/* The module does not clear the page: write back and invalidate its
	 * cache lines under the TD's key, then clear it with the host's key,
	 * so the frame leaves the TD holding no TD content. */
	TDX_RETRY_BUSY(kvm, s, kvm_tdh_phymem_page_wbinvd(kvm, hpa));
	if (tdx_status_is_error(s)) {
		kvm_vm_bugged(kvm, "TDH.PHYMEM.PAGE.WBINVD hpa 0x%llx: %#llx",
			      (unsigned long long)hpa, (unsigned long long)s);
		kvm_leak_page(kvm, hpa, KVM_LEAK_GUEST, "wbinvd failed");
		return -EIO;
	}
	host_frame_clear(kvm->hm, pfn, HOST_KEYID_SHARED);
	return 0;
}

int tdx_sept_unzap_private_spte(struct kvm *kvm, gfn_t gfn, int level)
{
	gpa_t gpa = (gpa_t)gfn << PAGE_SHIFT;
	uint64_t s;
	int ret;

	ret = kvm_flush_remote_tlbs(kvm);
	if (ret)
		return ret;
	s = kvm_tdh_mem_range_unblock(kvm, gpa, pg_level_to_tdx_level((unsigned)level), NULL);
	if (!tdx_status_is_error(s))
		return 0;
	if (tdx_status_is_busy(s))
		return -EBUSY;
	kvm_vm_bugged(kvm, "TDH.MEM.RANGE.UNBLOCK gpa 0x%llx level %d: %#llx",
		      (unsigned long long)gpa, level, (unsigned long long)s);
	return -EIO;
}

int tdx_sept_free_private_spt(struct kvm *kvm, gfn_t gfn, int level,
			      hpa_t private_spt)
{
	uint64_t s;

	/*
	 * v7 and upstream free S-EPT pages only once the HKID is released
	 * (the live BLOCK + TRACK + SEPT.REMOVE path is E6's, not modeled):
	 * KVM never tears a private table down while the TD runs.
	 */
	if (kvm->hkid_assigned) {
		kvm_vm_bugged(kvm, "free_private_spt gfn 0x%llx level %d with the HKID assigned",
			      (unsigned long long)gfn, level);
		kvm_leak_page(kvm, private_spt, KVM_LEAK_KVM, "S-EPT page, HKID assigned");
		return -EIO;
	}
	TDX_RETRY_BUSY(kvm, s, kvm_tdh_phymem_page_reclaim(kvm, private_spt, NULL));
	if (tdx_status_is_error(s)) {
		kvm_vm_bugged(kvm, "TDH.PHYMEM.PAGE.RECLAIM S-EPT page 0x%llx: %#llx",
			      (unsigned long long)private_spt, (unsigned long long)s);
		kvm_leak_page(kvm, private_spt, KVM_LEAK_KVM, "S-EPT reclaim failed");
		return -EIO;
	}
	host_frame_clear(kvm->hm, hpa_to_pfn(private_spt), HOST_KEYID_SHARED);
	host_mem_free_frame(kvm->hm, hpa_to_pfn(private_spt));
	return 0;
}

int kvm_flush_remote_tlbs(struct kvm *kvm)
{
	uint64_t s = TDX_SUCCESS;

	/* Before finalize no vCPU has entered; without the HKID none can. */
	if (!kvm->finalized || !kvm->hkid_assigned)
		return 0;

	/*
	 * Upstream order (U1): TDH.MEM.TRACK first, then kick. TRACK bumps the
	 * TD epoch; a vCPU that re-enters sees a stale epoch and the module
	 * flushes its private translations. TRACK refuses while a vCPU is
	 * still in the guest since the previous epoch
	 * (TDX_PREVIOUS_TLB_EPOCH_BUSY): kick them out and try again.
	 */
	for (struct tdx_retry rt = TDX_RETRY_INIT;;) {
		s = kvm_tdh_mem_track(kvm);
		if (!tdx_status_is_busy(s) &&
		    !tdx_status_is(s, TDX_PREVIOUS_TLB_EPOCH_BUSY))
			break;
		tdx_kick_vcpus(kvm);
		if (!TDX_RETRY_WAIT(&rt, kvm, "TRACK retry (busy epoch)"))
			break;
	}
	if (tdx_status_is_error(s)) {
		kvm_vm_bugged(kvm, "TDH.MEM.TRACK: %#llx", (unsigned long long)s);
		return -EIO;
	}
	kvm_stat_inc(&kvm_stats_mine(kvm)->tlb_flush);
	/*
	 * Every vCPU in the guest exits before the caller goes on, and
	 * flushes its shared-EPT translations (INVEPT) before it next runs
	 * guest code: E4's tdx_track makes KVM_REQ_TLB_FLUSH to all vCPUs,
	 * so one remote flush covers both EPTs (a zap of shared leaves relies
	 * on it). Without the CPU model's flush callback, a plain kick.
	 */
	if (kvm->flush_shared_tlbs)
		kvm_flush_shared_tlbs(kvm);
	else
		tdx_kick_vcpus(kvm);
	return 0;
}

void kvm_flush_shared_tlbs(struct kvm *kvm)
{
	/* NULL while no vCPU can run: then no vCPU holds a translation. */
	if (!kvm->flush_shared_tlbs)
		return;
	kvm->flush_shared_tlbs(kvm);
	kvm_stat_inc(&kvm_stats_mine(kvm)->tlb_kick);
}
