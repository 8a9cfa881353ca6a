/* SPDX-License-Identifier: MIT */
/*
 * TDG.VP.VMCALL<MapGPA> (GHCI sub-function 0x10001), the E4 in-kernel design
 * (reference kvm-tdx-mmu.md §6, [L9]): the guest asks that [gpa, gpa + size)
 * be usable through the shared alias (shared bit set in gpa) or the private
 * one (clear). KVM records the choice as SPTE_SHARED_MASK in the 4K entries
 * of both EPTs (§6.5) and enforces it: converting to shared removes the
 * private pages (their content is lost), converting to private zaps the
 * shared mappings. Nothing is mapped; the guest's next access faults the
 * page in through the allowed alias.
 *
 * Layers, as in v7:
 *  - kvm_tdx_map_gpa() (tdx.c's tdx_map_gpa, §6.2): operand checks, the
 *    chunking and the TDVMCALL status;
 *  - kvm_mmu_map_gpa() (mmu.c, §6.3): slots_lock, then for the memslots
 *    intersecting the range, pre-population of the tables in both trees
 *    under mmu_lock held for write (dropping it to refill the S-EPT page
 *    cache when it runs dry), then the flip, then the TLB flush;
 *  - kvm_tdp_mmu_populate_nonleaf() / kvm_tdp_mmu_map_gpa() (tdp_mmu.c,
 *    §6.4): the walks.
 *
 * Lock order: kvm->slots_lock (mutex), then kvm->mmu_lock for write (the
 * order of docs/locking.md). slots_lock is held across the whole call, so
 * the set of memslots cannot change between pre-population and the flip
 * (kvm_delete_memslot() takes it too); mmu_lock is dropped only during
 * pre-population, never between pre-population and the flip of one chunk:
 * nothing can unlink a table in between (tables are only freed at
 * teardown), and the flip then never allocates.
 *
 * Model decisions (documented deviations or choices):
 *  - Memslots only (E4 §6.3 step 5): gfns of the range that no memslot
 *    covers are skipped: no tables are created and no S bit is recorded for
 *    them, in either tree. A range with no memslot at all is SUCCESS with
 *    nothing done (the scenario contract). The X1-only forwarding of
 *    UPM-capable slots to user space and its straddle check are not modeled:
 *    a range across a memslot boundary is converted slot by slot.
 *  - Chunking: the seeds' era (E4, the default of the public API,
 *    TDXMMU_MAPGPA_SEED) converts the whole range in one call
 *    (kvm->mapgpa_chunk = KVM_MAPGPA_WHOLE) and answers RETRY only when
 *    kvm_mmu_map_gpa() met -EAGAIN (here: SEPT.ADD kept BUSY, -EBUSY) or
 *    -ENOMEM (a failed cache top-up, nothing of the chunk changed but
 *    tables). Upstream's chunking (TDX_MAP_GPA_MAX_LEN, §6.5 "E5+ ...
 *    upstream MapGPA", TDXMMU_MAPGPA_UPSTREAM): at most kvm->mapgpa_chunk
 *    bytes are converted per call,
 *    counted from the first memslot-covered gfn of the range; if memslot-
 *    covered gfns remain after the chunk, the answer is TDVMCALL_RETRY with
 *    the next unprocessed GPA (shared bit as in the request), which the
 *    guest re-issues (E4 §6.2 step 5; tdx-module-sept.md §10.2). This is
 *    the one place where MapGPA "drops the lock in the middle": between
 *    chunks, with every gfn before the resume GPA fully converted in both
 *    trees.
 *  - One TRACK per chunk for the private pages removed (E2 batching over
 *    all the chunk's memslots), not one per page as v7 did.
 *  - -EAGAIN, -EBUSY (SEPT.ADD staying BUSY through many pre-population
 *    passes) and -ENOMEM answer TDVMCALL_RETRY at the chunk's start
 *    (nothing of the chunk changed but tables; §6.2 step 5): the guest
 *    re-issues. Other errors (a KVM bug: the VM is dead) answer
 *    TDVMCALL_INVALID_OPERAND with the resume GPA at the chunk (§6.2 step
 *    6).
 */
#include <errno.h>
#include <sched.h>

#include "kvm/kvm.h"
#include "kvm/kvm_sched.h"
#include "kvm/mmu_legacy.h"
#include "kvm/tdp_mmu.h"
#include "kvm/tdx_hooks.h"
#include "tdx/tdx_module.h"

/* Pre-population passes (each after refilling the cache or after a BUSY
 * SEPT.ADD) before the call gives up and lets the guest retry. Every pass
 * links at least one table unless SEPT.ADD answers BUSY, so this bounds
 * only a module that stays busy. */
#define KVM_MAP_GPA_MAX_PASSES 10000

/* The memslot-covered parts of [start, end), ascending (memslots do not
 * overlap and host_memslots_foreach() visits them by gfn). */
struct map_gpa_slots {
	gfn_t start, end;
	unsigned nr;
	struct kvm_gfn_range ranges[HOST_MAX_MEMSLOTS];
};

static void map_gpa_collect_slot(const struct host_memslot *s, void *arg)
{
	struct map_gpa_slots *m = arg;
	gfn_t start = s->base_gfn, end = s->base_gfn + s->npages;

	if (start < m->start)
		start = m->start;
	if (end > m->end)
		end = m->end;
	if (start >= end || m->nr == HOST_MAX_MEMSLOTS)
		return;
	m->ranges[m->nr++] = (struct kvm_gfn_range){ start, end };
}

/*
 * Between pre-population passes (mmu_lock dropped). -EAGAIN: the cache ran
 * dry, the next pass refills it, nobody to wait for. -EBUSY: SEPT.ADD met
 * another thread's module lock: let it finish (a yield; while exploring a
 * SCHED_WAIT, since the holder cannot run while this thread keeps the
 * baton). True when waiting is hopeless (every thread waits, none wrote):
 * give the guest its RETRY.
 */
bool kvm_map_gpa_pass_wait(struct kvm *kvm, int ret, bool *stalled)
{
	enum sched_wait_result w;

	if (ret != -EBUSY) {
		if (!sched_enabled())
			sched_yield();
		return false;
	}
	/* The BUSY was injected and the injection picks every SEPT.ADD: no
	 * pass can get past it (10,000 yields, then a RETRY the guest would
	 * re-issue until its livelock bound). */
	if (tdx_last_busy_hopeless())
		return true;
	w = SCHED_WAIT(kvm, "MapGPA: SEPT.ADD busy");
	if (w == SCHED_WAIT_NONE)
		sched_yield();
	if (w != SCHED_WAIT_STALL) {
		*stalled = false;
		return false;
	}
	/* One more pass: the holder may have let go before this wait. */
	if (*stalled)
		return true;
	*stalled = true;
	return false;
}

/*
 * The guard: MapGPA holds mmu_lock for write, so no fault (read side) runs
 * between a gfn's S-bit check in the fault and the flip here (a leaf
 * installed on the alias MapGPA just forbade), none links a table that
 * pre-population links too, and no fault's frozen entry is met (which the
 * write-locked setters treat as a KVM bug). MUTANT_MAPGPA_READ_LOCK removes
 * it: pre-population and the flip run under the read side, concurrently
 * with faults; the lock-mode assertions let it through (mmu.c), and the
 * wrong state that follows is for `check` and the scenario to see. Every
 * SPTE write of MapGPA is atomic, so with real threads too this is a
 * logic race, not a C data race.
 */
static void map_gpa_lock(struct kvm *kvm)
{
	if (mutant_on(MUTANT_MAPGPA_READ_LOCK))
		kvm_mmu_read_lock(kvm);
	else
		kvm_mmu_write_lock(kvm);
}

static void map_gpa_unlock(struct kvm *kvm)
{
	if (mutant_on(MUTANT_MAPGPA_READ_LOCK))
		kvm_mmu_read_unlock(kvm);
	else
		kvm_mmu_write_unlock(kvm);
}

/* E4 §6.3 step 2, for every range and both trees. */
static int kvm_mmu_populate_ranges(struct kvm *kvm, const struct kvm_gfn_range *ranges,
				   unsigned nr, struct kvm_mmu_memory_cache *sept_cache)
{
	for (unsigned i = 0; i < nr; i++) {
		int ret = kvm_tdp_mmu_populate_nonleaf(kvm, true, ranges[i].start,
						       ranges[i].end, sept_cache);

		if (!ret)
			ret = kvm_tdp_mmu_populate_nonleaf(kvm, false, ranges[i].start,
							   ranges[i].end, NULL);
		if (ret)
			return ret;
	}
	return 0;
}

/**
 * kvm_mmu_map_gpa() - E4 §6.3 for one chunk
 * @vcpu: the vCPU that issued MapGPA (its S-EPT page cache feeds SEPT.ADD).
 * @ranges: memslot-covered gfn ranges without the shared bit, ascending.
 * @nr: number of ranges (at least one).
 * @to_shared: the direction.
 *
 * Context: kvm->slots_lock held; takes mmu_lock for write.
 *
 * Return: 0; -EBUSY (pre-population kept meeting a BUSY SEPT.ADD: the flip
 * did not run, nothing of the chunk changed but tables); -ENOMEM; -EIO.
 */
static int kvm_mmu_map_gpa(struct kvm_vcpu *vcpu, const struct kvm_gfn_range *ranges,
			   unsigned nr, bool to_shared)
{
	struct kvm *kvm = vcpu->kvm;
	struct kvm_map_gpa_result res;
	bool stalled = false;
	int ret, r;

	/* mmu.c's kvm_mmu_map_gpa is where the two MMUs part (seed 000). */
	if (kvm_is_legacy_mmu(kvm))
		return kvm_legacy_mmu_map_gpa(vcpu, ranges, nr, to_shared);
	for (unsigned pass = 0;; pass++) {
		/* Topped up with mmu_lock dropped: nothing is allocated while
		 * it is held (pre-population takes from the cache). */
		ret = kvm_mmu_topup_sept_cache(kvm, &vcpu->sept_cache);
		if (ret)
			return ret;
		map_gpa_lock(kvm);
		ret = kvm_mmu_populate_ranges(kvm, ranges, nr, &vcpu->sept_cache);
		if (!ret)
			break; /* the lock stays held for the flip */
		map_gpa_unlock(kvm);
		/* -EAGAIN: the cache ran dry; the tables linked so far stay,
		 * the next pass goes on from there (E4 §6.3 step 2).
		 * -EBUSY: SEPT.ADD contended (a vCPU's VP.ENTER); let it
		 * finish. */
		if (ret != -EAGAIN && ret != -EBUSY)
			return ret;
		if (pass == KVM_MAP_GPA_MAX_PASSES)
			return -EBUSY;
		if (kvm_map_gpa_pass_wait(kvm, ret, &stalled))
			return -EBUSY;
	}

	ret = kvm_tdp_mmu_map_gpa(kvm, ranges, nr, to_shared, &res);

	/*
	 * Flush before dropping the lock (E4 §6.4 step 4): a vCPU must not
	 * use a zapped shared translation once a private fault could map the
	 * same frame into the TD (both aliases share the memslot's frame). A
	 * present shared leaf zapped: the remote flush (TRACK, and every vCPU
	 * flushes its shared-EPT translations). Only S bits of shared entries
	 * changed: the shared flush alone, no SEAMCALL, unless private pages
	 * were removed: their batch's remote flush (after the shared tree's
	 * flip) already asked every vCPU to flush its shared translations.
	 */
	if (res.shared_zapped) {
		r = kvm_flush_remote_tlbs(kvm);
		if (r && !ret)
			ret = r;
	} else if (res.shared_changed && !res.private_removed) {
		kvm_flush_shared_tlbs(kvm);
	}
	map_gpa_unlock(kvm);
	return ret;
}

/* E4 §6.2 step 2: the operands the TDVMCALL refuses. */
static bool tdx_map_gpa_operands_ok(const struct kvm *kvm, gpa_t gpa, uint64_t size)
{
	uint64_t shared_bit = kvm->gfn_shared_mask << PAGE_SHIFT;
	gpa_t end;

	if ((gpa | size) & ~PAGE_MASK)
		return false; /* not 4K-aligned (upstream: ALIGN_ERROR) */
	if (!size)
		return false;
	end = gpa + size;
	if (end < gpa)
		return false; /* wraps */
	if (end > shared_bit << 1)
		return false; /* beyond the GPA width */
	/* Both ends on the same alias. */
	return !((gpa ^ (end - 1)) & shared_bit);
}

static const char *tdvmcall_status_name(uint64_t status)
{
	switch (status) {
	case TDVMCALL_SUCCESS:
		return "SUCCESS";
	case TDVMCALL_RETRY:
		return "RETRY";
	case TDVMCALL_INVALID_OPERAND:
		return "INVALID_OPERAND";
	default:
		return "?";
	}
}

uint64_t kvm_tdx_map_gpa(struct kvm_vcpu *vcpu, gpa_t gpa, uint64_t size,
			 uint64_t *resume_gpa)
{
	struct kvm *kvm = vcpu->kvm;
	uint64_t shared_bit = kvm->gfn_shared_mask << PAGE_SHIFT;
	uint64_t chunk = kvm->mapgpa_chunk ? kvm->mapgpa_chunk : TDX_MAP_GPA_MAX_LEN;
	bool to_shared = gpa & shared_bit;
	struct map_gpa_slots slots = { 0 };
	uint64_t status = TDVMCALL_SUCCESS;
	gfn_t chunk_start, chunk_end;
	unsigned nr;
	bool more;
	int ret;

	kvm_stat_inc(&kvm_stats_mine(kvm)->mapgpa);
	*resume_gpa = gpa;
	if (!tdx_map_gpa_operands_ok(kvm, gpa, size) || kvm_is_bugged(kvm)) {
		status = TDVMCALL_INVALID_OPERAND;
		goto out;
	}

	chunk &= PAGE_MASK;
	if (!chunk)
		chunk = PAGE_SIZE;
	slots.start = (gpa & ~shared_bit) >> PAGE_SHIFT;
	slots.end = slots.start + (size >> PAGE_SHIFT);

	/* Lock order: slots_lock, then mmu_lock (in kvm_mmu_map_gpa()). */
	kvm_slots_lock(kvm);
	host_memslots_foreach(kvm->slots, map_gpa_collect_slot, &slots);
	if (!slots.nr) {
		/* No memslot in the range: nothing to record (see above). */
		kvm_slots_unlock(kvm);
		goto out;
	}

	/* This call's chunk: from the first covered gfn, at most `chunk`
	 * bytes; the ranges clipped to it. */
	chunk_start = slots.ranges[0].start;
	chunk_end = slots.end - chunk_start > chunk >> PAGE_SHIFT ?
		    chunk_start + (chunk >> PAGE_SHIFT) : slots.end;
	for (nr = 0; nr < slots.nr && slots.ranges[nr].start < chunk_end; nr++)
		;
	more = nr < slots.nr || slots.ranges[nr - 1].end > chunk_end;
	if (slots.ranges[nr - 1].end > chunk_end)
		slots.ranges[nr - 1].end = chunk_end;

	ret = kvm_mmu_map_gpa(vcpu, slots.ranges, nr, to_shared);
	kvm_slots_unlock(kvm);

	if (ret == -EBUSY || ret == -EAGAIN || ret == -ENOMEM) {
		status = TDVMCALL_RETRY;
		*resume_gpa = (chunk_start << PAGE_SHIFT) | (gpa & shared_bit);
	} else if (ret) {
		status = TDVMCALL_INVALID_OPERAND;
		*resume_gpa = (chunk_start << PAGE_SHIFT) | (gpa & shared_bit);
	} else if (more) {
		status = TDVMCALL_RETRY;
		*resume_gpa = (chunk_end << PAGE_SHIFT) | (gpa & shared_bit);
	}
	if (status == TDVMCALL_RETRY)
		kvm_stat_inc(&kvm_stats_mine(kvm)->mapgpa_retry);
out:
	KVM_TRACE(kvm, kvm_tdx_map_gpa, (gpa, size, to_shared, status),
		  "gpa 0x%llx size 0x%llx to %s -> %s", (unsigned long long)gpa,
		  (unsigned long long)size, to_shared ? "shared" : "private",
		  tdvmcall_status_name(status));
	return status;
}
