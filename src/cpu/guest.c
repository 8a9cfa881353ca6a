/* SPDX-License-Identifier: MIT */
/*
 * The guest's side: its memory accesses (read, write, fill, verify), its #VE
 * handler, TDG.MEM.PAGE.ACCEPT and the MapGPA hypercall with the Linux
 * guest's RETRY loop.
 *
 * A guest action runs on its vCPU from start to end: the vCPU enters, does
 * every page of the access (exiting to KVM and re-entering as the access
 * needs), and leaves guest mode at the end (cpu_vcpu_put). Between two
 * actions no vCPU is in guest mode.
 *
 * One page of an access, as the CPU does it (tdx-module-sept.md §10.1):
 *   requests pending? -> exit (kick), handle, re-enter        (cpu.c)
 *   TLB hit (and W for a write)? -> the cached frame
 *   private GPA: the TDX module's hardware walk of the Secure EPT
 *     MAPPED  -> fill the TLB, access with the TD's key
 *     PENDING -> #VE: accept=explicit ends the access with `ve`; accept=auto
 *                runs the guest's #VE handler (ACCEPT, then retry)
 *     else    -> EPT-violation TD exit to KVM
 *   shared GPA: the walk of KVM's shared EPT (ept_walk.c)
 *     present leaf -> fill the TLB, access with the host's key 0
 *     else         -> EPT-violation TD exit to KVM
 *   KVM's answer (cpu_vcpu_ept_violation): fixed or spurious -> walk
 *   again; RETRY with nothing changed and no contention (KVM's answer says
 *   so: the CPU reads none of KVM's state) -> `blocked`; no memslot ->
 *   `mmio`; -ENOMEM -> the action stops with it (the VMM retries KVM_RUN).
 * A guest action on a VM that KVM killed runs nothing (`dead`); one during
 * which KVM killed it reports `bugged` (cpu_action_begin/end, cpu.c).
 * Data goes through host memory with the key the translation implies; a
 * private read whose frame lost its integrity (a host write) is `poison`.
 */
#include <errno.h>
#include <sched.h>
#include <string.h>

#include "cpu/cpu_internal.h"
#include "explore/sched.h"
#include "kvm/mmu.h"
#include "kvm/tdx_hooks.h"
#include "tdx/tdx_module.h"

/* Where one page of an access goes. */
struct xlate {
	pfn_t pfn;
	unsigned keyid;
};

static bool gpa_in_width(const struct cpu *cpu, uint64_t gpa)
{
	return (gpa >> cpu->kvm->gpaw) == 0;
}

/*
 * The TD exit of an ACCEPT that could not complete: an EPT violation whose
 * extended exit qualification says ACCEPT and the level asked for (the TDX
 * module's TDG.MEM.PAGE.ACCEPT exit, hugepages ref §2.2.1), so that KVM can
 * map (or split down to) that level.
 */
static int guest_accept_exit(struct cpu_vcpu *v, uint64_t gpa, unsigned level,
			     struct cpu_fault_state *st, enum cpu_fault_answer *ans)
{
	int ret;

	v->kvm_vcpu->ext_exit_qual = TDX_EXT_EXIT_QUAL_TYPE_ACCEPT |
				     ((uint64_t)level << TDX_EXT_EXIT_QUAL_ACCEPT_LEVEL_SHIFT);
	ret = cpu_vcpu_ept_violation(v, gpa & PAGE_MASK, " (accept)", st, ans);
	v->kvm_vcpu->ext_exit_qual = 0;
	return ret;
}

/*
 * The guest's #VE handler for an EPT violation on a pending private page
 * (§10.1 step 2, §9). Linux would read the #VE info (TDG.VP.VEINFO.GET); the
 * scenario language's accept=auto asks the handler to accept the page and
 * return, so that the faulting access is retried. The ACCEPT is issued at the
 * level of the pending leaf (4K, or 2M for a pending 2M page: a 4K ACCEPT
 * inside it would only exit to the VMM). 0 with *outcome OK (retry the
 * access) or the outcome that ends it; -errno.
 */
static int guest_ve(struct cpu_vcpu *v, uint64_t gpa, const struct tdx_hw_walk *w,
		    struct cpu_fault_state *st, enum tdxmmu_outcome *outcome)
{
	struct cpu *cpu = v->cpu;
	struct kvm *kvm = cpu->kvm;
	unsigned level = w->level <= 1 ? w->level : 0;
	uint64_t agpa = gpa & ~((PAGE_SIZE << (9 * level)) - 1);
	enum cpu_fault_answer ans;
	uint64_t status;
	int ret;

	kvm_stat_inc_mine(&kvm_stats_mine(kvm)->exit_ve);
	KVM_TRACE(kvm, tdx_ve, (v->index, gpa), "vcpu %u gpa 0x%llx", v->index,
		  (unsigned long long)gpa);
	if (cpu->accept == TDXMMU_ACCEPT_EXPLICIT) {
		*outcome = TDXMMU_OUTCOME_VE;
		return 0;
	}

	*outcome = TDXMMU_OUTCOME_OK;
	if (tdg_mem_page_accept(cpu->m, v->kvm_vcpu->tdvpr, agpa | level, &status) ==
	    TDCALL_EXIT_EPT_VIOLATION) {
		/* The page went away between the walk and the ACCEPT (a zap):
		 * the TDCALL exits to KVM, which maps it again. */
		ret = guest_accept_exit(v, agpa, level, st, &ans);
		if (ret)
			return ret;
		if (ans == CPU_FAULT_BLOCKED)
			*outcome = TDXMMU_OUTCOME_BLOCKED;
		else if (ans == CPU_FAULT_MMIO)
			*outcome = TDXMMU_OUTCOME_MMIO;
		return 0;
	}
	/*
	 * Linux's fallback (hugepages ref §3.1-3.2, try_accept_one): any
	 * status but success at 2M (PAGE_SIZE_MISMATCH: KVM split the leaf
	 * meanwhile; ALREADY_ACCEPTED, BUSY) moves on to 4K, here for the
	 * faulting page; the access then retries.
	 */
	if (level == 1 && status != TDX_SUCCESS) {
		level = 0;
		agpa = gpa & PAGE_MASK;
		if (tdg_mem_page_accept(cpu->m, v->kvm_vcpu->tdvpr, agpa, &status) ==
		    TDCALL_EXIT_EPT_VIOLATION) {
			ret = guest_accept_exit(v, agpa, 0, st, &ans);
			if (ret)
				return ret;
			if (ans == CPU_FAULT_BLOCKED)
				*outcome = TDXMMU_OUTCOME_BLOCKED;
			else if (ans == CPU_FAULT_MMIO)
				*outcome = TDXMMU_OUTCOME_MMIO;
			return 0;
		}
	}
	/* Success, or another vCPU accepted it first (ALREADY_ACCEPTED), or it
	 * is accepting it now (BUSY): the access is retried either way and
	 * walks again. Anything else is a guest that cannot go on (Linux
	 * panics: "failed to accept memory"). */
	if (status == TDX_SUCCESS || tdx_status_is(status, TDX_PAGE_ALREADY_ACCEPTED))
		return 0;
	if (tdx_status_is(status, TDX_OPERAND_BUSY)) {
		/* The entry lock is held (host priority, or another vCPU's
		 * ACCEPT): let its holder run before the access retries. */
		if (SCHED_WAIT(v, "ACCEPT busy (S-EPT entry lock)") == SCHED_WAIT_NONE)
			sched_yield();
		return 0;
	}
	return cpu_bug("vcpu %u: #VE handler: TDG.MEM.PAGE.ACCEPT %#llx level %u failed: %#llx",
			v->index, (unsigned long long)agpa, level,
			(unsigned long long)status);
}

/*
 * The walk read a freed table, or started in one through a cached non-leaf
 * entry (ept_walk.c, tlb.h): the table was freed before every CPU that
 * could hold a path into it had flushed (the INVEPT after the unlink was
 * missed, or the free did not wait for it: RCU). Reported as tdp_mmu.c reports
 * its own lockless walk reading poison: the model is broken (exit status
 * 3, the API's guest_result), the VM dead, and the message on stderr.
 */
static int guest_walked_freed_table(struct cpu_vcpu *v, uint64_t gpa, const char *what)
{
	struct kvm *kvm = v->cpu->kvm;

	if (!atomic_load(&kvm->model_broken)) {
		atomic_store(&kvm->model_broken, true);
		kvm_vm_bugged(kvm, "vcpu %u: the CPU's walk of %#llx went through a freed %s",
			      v->index, (unsigned long long)gpa, what);
	}
	return cpu_bug("vcpu %u: the walk of %#llx went through a freed %s (a cached non-leaf entry outlived its table: it was freed before the INVEPT that follows its unlink, or that INVEPT was missed)",
		       v->index, (unsigned long long)gpa, what);
}

/*
 * The hardware walk of the Secure EPT (the module's tdx_hw_walk) from the
 * paging-structure caches: the deepest cached non-leaf entry for the page,
 * if any, and every non-leaf entry the walk passed cached for the next one.
 * The EPTP tag is the S-EPT root the vCPU's first walk found (the module
 * programs it; the CPU learns it like a VMCS field).
 */
static void guest_sept_walk(struct cpu_vcpu *v, uint64_t page, struct tdx_hw_walk *w)
{
	struct tlb *tlb = &v->tlb;
	uint64_t cached;
	int table_level = 0;

	if (v->sept_top)
		table_level = tlb_psc_lookup(tlb, page, true, v->sept_root,
					     (int)v->sept_top + 1, &cached);
	/* tlb.h counts KVM levels (1 = the 4K-leaf table), the module S-EPT
	 * levels (0 = the 4K leaf). */
	if (table_level)
		tdx_hw_walk_from(v->cpu->m, v->kvm_vcpu->tdvpr, page, v->sept_root,
				 (unsigned)table_level - 1, (pfn_t)cached, &v->sept_hint, w);
	else
		tdx_hw_walk(v->cpu->m, v->kvm_vcpu->tdvpr, page, w);
	tlb->walk_reads += w->reads;
	if (w->kind == TDX_HW_STALE_TABLE || !w->top_level)
		return;
	v->sept_root = w->root;
	v->sept_top = w->top_level;
	/* A walk from the 4K-leaf table (most of them) passed no non-leaf
	 * entry: nothing to cache. */
	if (!w->nl_mask)
		return;
	for (unsigned l = 1; l <= w->top_level && l < TDX_HW_WALK_MAX_LEVELS; l++)
		if (w->nl_mask & (1u << l))
			tlb_psc_fill(tlb, page, true, w->root, (int)l + 1, w->nl_table[l]);
}

/*
 * Translates the page containing gpa for a read or a write. 0 with *outcome
 * OK and *x set (the vCPU in guest mode), or with the outcome that ends the
 * access; -errno.
 */
static int guest_translate(struct cpu_vcpu *v, uint64_t gpa, bool write,
			   struct xlate *x, enum tdxmmu_outcome *outcome)
{
	struct cpu *cpu = v->cpu;
	uint64_t page = gpa & PAGE_MASK;
	bool is_private = !(gpa & cpu->shared_bit);
	struct cpu_fault_state st = { 0 };

	for (unsigned tries = 0;; tries++) {
		const struct tlb_entry *e;
		enum cpu_fault_answer ans;
		struct tdx_hw_walk w;
		bool writable;
		pfn_t pfn;
		int ret;

		if (tries - st.enomem_rerun == CPU_MAX_TRIES) {
			/* KVM kept answering RETRY while the tables kept
			 * changing (other threads), or SPURIOUS while the
			 * host's raw SEAMCALLs keep the walk out: the access
			 * has not completed and would keep faulting. */
			if (st.retried || st.idle_spurious >= CPU_MAX_TRIES / 2) {
				*outcome = TDXMMU_OUTCOME_BLOCKED;
				return 0;
			}
			return cpu_bug("vcpu %u: %#llx: no translation after %u faults KVM answered as fixed or spurious (a livelock: the tables KVM sees map it, the walk does not)",
					v->index, (unsigned long long)gpa, tries);
		}
		/* A fault that changed nothing (idle SPURIOUS) or met
		 * contention (RETRY): while exploring, let the other threads
		 * run; if none can change anything, the bound's decision is
		 * reached now (CPU_MAX_TRIES below), deterministically. */
		if (tries > 0 && (st.retried || st.idle_spurious) &&
		    SCHED_WAIT(v, "access faulting (RETRY/SPURIOUS)") == SCHED_WAIT_STALL) {
			*outcome = TDXMMU_OUTCOME_BLOCKED;
			return 0;
		}
		ret = cpu_vcpu_service(v);
		if (ret)
			return ret;

		SCHED_POINT(SCHED_TLB_FILL, SCHED_R, &v->tlb, "TLB lookup");
		e = tlb_lookup(&v->tlb, page);
		if (e && (!write || e->writable)) {
			/* A translation KVM failed to flush still works here,
			 * as on hardware; but a frame the host has freed is
			 * gone for good (the checker names the stale entry). */
			if (!host_mem_frame_allocated(cpu->hm, e->pfn))
				return cpu_bug("vcpu %u: TLB entry %#llx -> pfn %#llx: the frame was freed under a live translation",
						v->index, (unsigned long long)page,
						(unsigned long long)e->pfn);
			x->pfn = e->pfn;
			x->keyid = e->is_private ? v->keyid : HOST_KEYID_SHARED;
			*outcome = TDXMMU_OUTCOME_OK;
			return 0;
		}
		/* A permission miss: hardware re-walks (and would fault). */
		if (e) {
			SCHED_POINT(SCHED_TLB_FLUSH, SCHED_W, &v->tlb, "TLB entry (permission miss)");
			tlb_invalidate(&v->tlb, page);
		}

		if (is_private) {
			guest_sept_walk(v, page, &w);
			if (w.kind == TDX_HW_STALE_TABLE)
				return guest_walked_freed_table(v, page, "Secure-EPT page");
			if (w.kind == TDX_HW_MAPPED) {
				v->keyid = w.keyid;
				SCHED_POINT(SCHED_TLB_FILL, SCHED_W, &v->tlb, "TLB fill");
				tlb_fill(&v->tlb, page, hpa_to_pfn(w.hpa), true, true);
				continue; /* the access hits the new entry */
			}
			if (w.kind == TDX_HW_PENDING) {
				ret = guest_ve(v, page, &w, &st, outcome);
				if (ret || *outcome != TDXMMU_OUTCOME_OK)
					return ret;
				continue;
			}
		} else {
			enum cpu_walk_result r = cpu_walk_shared_ept(v, page, write, &pfn,
								     &writable);

			if (r == CPU_WALK_FREED_TABLE)
				return guest_walked_freed_table(v, page, "shared-EPT table");
			if (r == CPU_WALK_OK) {
				SCHED_POINT(SCHED_TLB_FILL, SCHED_W, &v->tlb, "TLB fill");
				tlb_fill(&v->tlb, page, pfn, false, writable);
				continue;
			}
		}

		/* The exit carries the walk's extended exit qualification
		 * (a PENDING page with SEPT_VE_DISABLE). */
		v->kvm_vcpu->ext_exit_qual = is_private ? w.ext_exit_qual : 0;
		ret = cpu_vcpu_ept_violation(v, page, "", &st, &ans);
		v->kvm_vcpu->ext_exit_qual = 0;
		if (ret)
			return ret;
		if (ans == CPU_FAULT_BLOCKED) {
			*outcome = TDXMMU_OUTCOME_BLOCKED;
			return 0;
		}
		if (ans == CPU_FAULT_MMIO) {
			*outcome = TDXMMU_OUTCOME_MMIO;
			return 0;
		}
	}
}

/* Reads or writes [gpa, gpa + len) inside one page through the TLB. */
static int guest_access(struct cpu_vcpu *v, uint64_t gpa, void *buf, size_t len,
			bool write, enum tdxmmu_outcome *outcome)
{
	struct host_mem *hm = v->cpu->hm;
	size_t off = gpa & ~PAGE_MASK;
	bool poisoned = false;
	struct xlate x;
	int ret;

	ret = guest_translate(v, gpa, write, &x, outcome);
	if (ret || *outcome != TDXMMU_OUTCOME_OK)
		return ret;
	if (write) {
		host_frame_write(hm, x.pfn, off, buf, len, x.keyid);
		return 0;
	}
	host_frame_read(hm, x.pfn, off, buf, len, x.keyid, &poisoned);
	/* Integrity check failed on a TD-private line (a host write broke
	 * it): on hardware a machine check in the guest. */
	if (poisoned)
		*outcome = TDXMMU_OUTCOME_POISON;
	return 0;
}

/* ---- the guest actions ---- */

/* The checks the public API makes too, so that internal callers get the
 * same answers. */
static int guest_check_range(struct cpu *cpu, const char *what, uint64_t gpa,
			     uint64_t size)
{
	if (size == 0 || gpa + size < gpa || !gpa_in_width(cpu, gpa + size - 1))
		return cpu_fail(-ERANGE, "%s: [%#llx, +%#llx) is outside the GPA width",
				what, (unsigned long long)gpa, (unsigned long long)size);
	if ((gpa ^ (gpa + size - 1)) & cpu->shared_bit)
		return cpu_fail(-ERANGE, "%s: [%#llx, +%#llx) spans both aliases",
				what, (unsigned long long)gpa, (unsigned long long)size);
	return 0;
}

static int guest_word(struct cpu *cpu, unsigned index, uint64_t gpa,
		      uint64_t *val, bool write, enum tdxmmu_outcome *outcome)
{
	struct cpu_vcpu *v;
	uint8_t b[8];
	int ret;

	*outcome = TDXMMU_OUTCOME_OK;
	if (gpa & 7)
		return cpu_fail(-EINVAL, "%#llx is not 8-aligned", (unsigned long long)gpa);
	if ((ret = guest_check_range(cpu, write ? "write" : "read", gpa, 8)) ||
	    (ret = cpu_action_begin(cpu, index, &v, outcome)) < 0)
		return ret;
	if (ret == 0) {
		/* Little-endian, whatever the host. */
		for (int i = 0; i < 8; i++)
			b[i] = (uint8_t)(*val >> (8 * i));
		ret = guest_access(v, gpa, b, sizeof(b), write, outcome);
		ret = cpu_action_end(v, ret, outcome);
	} else {
		ret = 0;
	}
	if (ret || write)
		return ret;
	if (*outcome == TDXMMU_OUTCOME_OK) {
		*val = 0;
		for (int i = 0; i < 8; i++)
			*val |= (uint64_t)b[i] << (8 * i);
	} else {
		/* MMIO without a device reads all ones; the other outcomes
		 * give no value. */
		*val = ~0ULL;
	}
	return 0;
}

int cpu_guest_read(struct cpu *cpu, unsigned v, uint64_t gpa, uint64_t *val,
		   enum tdxmmu_outcome *outcome)
{
	*val = 0;
	return guest_word(cpu, v, gpa, val, false, outcome);
}

int cpu_guest_write(struct cpu *cpu, unsigned v, uint64_t gpa, uint64_t val,
		    enum tdxmmu_outcome *outcome)
{
	return guest_word(cpu, v, gpa, &val, true, outcome);
}

int cpu_guest_fill(struct cpu *cpu, unsigned index, uint64_t gpa, uint64_t size,
		   uint8_t byte, enum tdxmmu_outcome *outcome)
{
	uint8_t buf[PAGE_SIZE];
	uint64_t cur = gpa, end = gpa + size;
	struct cpu_vcpu *v;
	int ret;

	*outcome = TDXMMU_OUTCOME_OK;
	if ((ret = guest_check_range(cpu, "fill", gpa, size)) ||
	    (ret = cpu_action_begin(cpu, index, &v, outcome)))
		return ret < 0 ? ret : 0;
	memset(buf, byte, sizeof(buf));
	while (cur < end) {
		uint64_t next = (cur & PAGE_MASK) + PAGE_SIZE;
		uint64_t len = (next < end ? next : end) - cur;
		struct xlate x;

		ret = guest_translate(v, cur, true, &x, outcome);
		if (ret || *outcome != TDXMMU_OUTCOME_OK)
			break;
		/* A whole page in one go: O(1) in host memory. */
		if (len == PAGE_SIZE)
			host_frame_fill(cpu->hm, x.pfn, byte, x.keyid);
		else
			host_frame_write(cpu->hm, x.pfn, cur & ~PAGE_MASK, buf,
					 len, x.keyid);
		cur += len;
	}
	return cpu_action_end(v, ret, outcome);
}

int cpu_guest_verify(struct cpu *cpu, unsigned index, uint64_t gpa,
		     uint64_t size, uint8_t byte, uint64_t *mismatch_gpa,
		     enum tdxmmu_outcome *outcome)
{
	uint8_t buf[PAGE_SIZE];
	uint64_t cur = gpa, end = gpa + size;
	struct cpu_vcpu *v;
	int ret;

	*outcome = TDXMMU_OUTCOME_OK;
	*mismatch_gpa = UINT64_MAX;
	if ((ret = guest_check_range(cpu, "verify", gpa, size)) ||
	    (ret = cpu_action_begin(cpu, index, &v, outcome)))
		return ret < 0 ? ret : 0;
	while (cur < end) {
		uint64_t next = (cur & PAGE_MASK) + PAGE_SIZE;
		size_t len = (size_t)((next < end ? next : end) - cur);

		ret = guest_access(v, cur, buf, len, false, outcome);
		if (ret || *outcome != TDXMMU_OUTCOME_OK)
			break;
		for (size_t i = 0; i < len; i++) {
			if (buf[i] != byte) {
				*mismatch_gpa = cur + i;
				goto out;
			}
		}
		cur += len;
	}
out:
	return cpu_action_end(v, ret, outcome);
}

/*
 * A guest loop touching one word per page (benchmarks): one guest action, so
 * the vCPU enters once and exits only where the pages make it (EPT
 * violations), as a guest walking over its memory does. A read loads the
 * first word of each page; a write stores the page's GPA there. Stops at the
 * first outcome other than OK.
 */
int cpu_guest_touch(struct cpu *cpu, unsigned index, uint64_t gpa,
		    uint64_t size, bool write, enum tdxmmu_outcome *outcome_out)
{
	/* Per page on this thread's stack, stored once at the end: callers
	 * running several vCPUs often keep their outcomes side by side. */
	enum tdxmmu_outcome outcome = TDXMMU_OUTCOME_OK;
	struct cpu_vcpu *v;
	int ret;

	*outcome_out = TDXMMU_OUTCOME_OK;
	if ((gpa | size) & ~PAGE_MASK)
		return cpu_fail(-EINVAL, "touch: [%#llx, +%#llx) is not 4K-aligned",
				(unsigned long long)gpa, (unsigned long long)size);
	if ((ret = guest_check_range(cpu, "touch", gpa, size)) ||
	    (ret = cpu_action_begin(cpu, index, &v, outcome_out)))
		return ret < 0 ? ret : 0;
	for (uint64_t cur = gpa; cur < gpa + size; cur += PAGE_SIZE) {
		uint64_t word = cur;

		ret = guest_access(v, cur, &word, sizeof(word), write, &outcome);
		if (ret || outcome != TDXMMU_OUTCOME_OK)
			break;
	}
	ret = cpu_action_end(v, ret, &outcome);
	*outcome_out = outcome;
	return ret;
}

/*
 * TDG.MEM.PAGE.ACCEPT issued by the guest (§9). An EPT-violation TD exit
 * (the entry is FREE, BLOCKED, missing a table...) is KVM's to resolve; the
 * TDCALL is then re-executed, as the module resumes the guest without
 * advancing RIP. The status returned is that of the TDCALL that completed.
 * A GPA converted to shared: KVM's fault on the private alias changes
 * nothing, the vCPU would loop on EPT violations (the seeds' design, §6.5):
 * `blocked`, not an error (issue 11, 2.4).
 */
int cpu_guest_accept(struct cpu *cpu, unsigned index, uint64_t gpa,
		     unsigned level, uint64_t *status, enum tdxmmu_outcome *outcome)
{
	struct cpu_fault_state st = { 0 };
	struct cpu_vcpu *v;
	int ret;

	*status = 0;
	*outcome = TDXMMU_OUTCOME_OK;
	if (level > 1)
		return cpu_fail(-EINVAL, "accept: level %u (4K or 2M only)", level);
	if ((ret = cpu_action_begin(cpu, index, &v, outcome)))
		return ret < 0 ? ret : 0;
	for (unsigned tries = 0;; tries++) {
		enum cpu_fault_answer ans;

		if (tries - st.enomem_rerun == CPU_MAX_TRIES) {
			/* As for an access: a RETRY that kept meeting other
			 * threads' changes, or a run of idle SPURIOUS answers,
			 * has not completed: `blocked`. */
			if (st.retried || st.idle_spurious >= CPU_MAX_TRIES / 2) {
				*outcome = TDXMMU_OUTCOME_BLOCKED;
				break;
			}
			ret = cpu_bug("vcpu %u: accept %#llx: still exiting after %u faults",
				       v->index, (unsigned long long)gpa, tries);
			break;
		}
		if (tries > 0 && (st.retried || st.idle_spurious) &&
		    SCHED_WAIT(v, "accept faulting (RETRY/SPURIOUS)") == SCHED_WAIT_STALL) {
			*outcome = TDXMMU_OUTCOME_BLOCKED;
			break;
		}
		if ((ret = cpu_vcpu_service(v)))
			break;
		/* RCX = GPA | level, as the guest loads it: the module judges
		 * alignment and reserved bits. */
		if (tdg_mem_page_accept(cpu->m, v->kvm_vcpu->tdvpr, gpa | level, status) ==
		    TDCALL_RETURNED)
			break;
		*status = 0;
		ret = guest_accept_exit(v, gpa, level, &st, &ans);
		if (ret)
			break;
		if (ans == CPU_FAULT_BLOCKED) {
			*outcome = TDXMMU_OUTCOME_BLOCKED;
			break;
		}
		if (ans == CPU_FAULT_MMIO) {
			*outcome = TDXMMU_OUTCOME_MMIO;
			break;
		}
	}
	return cpu_action_end(v, ret, outcome);
}

/*
 * MapGPA (GHCI TDG.VP.VMCALL<MapGPA>, §10.2): R12 = start (the shared bit
 * gives the direction), R13 = size. The guest re-issues on RETRY from R11 if
 * start <= R11 < end, until the call completes (the contract: "re-issued ...
 * until it completes"). Linux's tdx_map_gpa() gives up after 3 RETRYs
 * without progress; the model does not, because a host that never makes
 * progress is a KVM livelock to report, not a guest error (issue 11, 2.7):
 * the bound below is generous and running out is the model's own bug
 * report (CPU_EBUG). KVM answers RETRY for -EAGAIN and -ENOMEM (E4, and
 * upstream's 2 MiB chunks with td mapgpa=upstream): both let the guest go
 * on. The guest accepts nothing here: pages converted to private are
 * accepted when it touches them.
 */
#define MAPGPA_MAX_IDLE_RETRIES 100000

int cpu_guest_mapgpa(struct cpu *cpu, unsigned index, uint64_t gpa,
		     uint64_t size, enum tdxmmu_outcome *outcome)
{
	struct kvm *kvm = cpu->kvm;
	uint64_t start = gpa, end = gpa + size;
	unsigned idle = 0;
	struct cpu_vcpu *v;
	int ret;

	*outcome = TDXMMU_OUTCOME_ERROR;
	if ((ret = cpu_action_begin(cpu, index, &v, outcome)))
		return ret < 0 ? ret : 0;
	/* Each round is one hypercall. A RETRY either moves start forward
	 * (at most size / 4K of those) or not (bounded by idle). */
	for (;;) {
		uint64_t status, resume = start, injected, gave_up;

		if ((ret = cpu_vcpu_service(v)))
			break;
		kvm_stat_inc(&kvm_stats_mine(kvm)->exit_vmcall);
		cpu_vcpu_exit(v, "TDVMCALL MapGPA gpa 0x%llx size 0x%llx",
			      (unsigned long long)start, (unsigned long long)(end - start));
		injected = kvm_enomem_injected();
		gave_up = tdx_busy_gave_up_here();
		status = kvm_tdx_map_gpa(v->kvm_vcpu, start, end - start, &resume);
		if (status == TDVMCALL_SUCCESS) {
			*outcome = TDXMMU_OUTCOME_OK;
			break;
		}
		/* INVALID_OPERAND, ALIGN_ERROR, ...: refused. */
		if (status != TDVMCALL_RETRY)
			break;
		/* A resume GPA outside the range: the guest cannot go on
		 * (Linux's tdx_map_gpa() returns an error). */
		if (resume < start || resume >= end)
			break;
		if (resume > start) {
			start = resume;
			idle = 0;
			continue;
		}
		/* KVM met an injected -ENOMEM at a site that fails every
		 * allocation (inject enomem at 100 %): no re-issue can
		 * succeed, and the RETRYs would end as a livelock report.
		 * The action fails with -ENOMEM, which the API turns into
		 * outcome `error` as for the other guest actions. */
		if (kvm_enomem_injected() != injected && kvm_enomem_hopeless(kvm)) {
			ret = -ENOMEM;
			break;
		}
		/* KVM's RETRY came from a SEAMCALL BUSY by an injection that
		 * picks every call (its retry loop gave up at once): every
		 * re-issue would meet it again, as every entry does when
		 * TDH.VP.ENTER is always BUSY; the action ends `blocked`
		 * (CPU_ENOENTRY) rather than as a livelock report. */
		if (tdx_busy_gave_up_here() != gave_up) {
			ret = cpu_fail(CPU_ENOENTRY,
				       "vcpu %u: MapGPA %#llx+%#llx: KVM answers RETRY at %#llx on an injected BUSY that every call meets",
				       v->index, (unsigned long long)gpa,
				       (unsigned long long)size, (unsigned long long)start);
			break;
		}
		/* No progress (contention, no memory): let the other
		 * threads run before the guest re-issues. */
		if (SCHED_WAIT(v, "MapGPA RETRY without progress") == SCHED_WAIT_NONE)
			sched_yield();
		if (++idle == MAPGPA_MAX_IDLE_RETRIES) {
			ret = cpu_bug("vcpu %u: MapGPA %#llx+%#llx: KVM answered RETRY at %#llx %u times without progress (a livelock in KVM)",
				      v->index, (unsigned long long)gpa,
				      (unsigned long long)size,
				      (unsigned long long)start, idle);
			break;
		}
	}
	return cpu_action_end(v, ret, outcome);
}
