/* SPDX-License-Identifier: MIT */
/*
 * The platform behind the public API: one TD = host memory + memslots + the
 * emulated TDX module + KVM's VM. The host's own actions (raw SEAMCALLs,
 * host reads and writes of frames) live here too; they bypass KVM exactly as
 * a host program poking the module or /dev/mem would.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "host/host_mem.h"
#include "kvm/kvm.h"
#include "kvm/mmu_legacy.h"
#include "kvm/tdp_mmu.h"
#include "kvm/tdx_hooks.h"
#include "kvm/tdx_ops.h"
#include "kvm/spte.h"
#include "cpu/cpu.h"
#include "tdx/seamcall.h"
#include "tdx/tdx_module.h"

/* Host frames a TD may use: by default all the modeled platform's physical
 * address space holds (128 TiB - 4 GiB), which is enough for every memslot
 * the GPA space can hold below the shared bit of GPAW 48. Virtual: frames
 * cost memory and time only when used (host_mem.h; contract 1.1 "memory
 * cost is lazy", issue 11 item 2.8). Before, the default was 16 GiB. */
#define MAX_HOST_MEMORY ((1ULL << HOST_MAX_PA_BITS) - HOST_MEM_BASE_HPA)
#define DEFAULT_HOST_MEMORY MAX_HOST_MEMORY


/*
 * Every entry point refuses a NULL pointer it would dereference with
 * TDXMMU_EINVAL and a message naming the argument (issue 11, item 2.11:
 * nineteen of them crashed). Optional arguments are documented as such in
 * tdxmmu.h and are the only ones allowed to be NULL.
 */
static int null_arg(const char *fn, const char *arg)
{
	return api_fail(TDXMMU_EINVAL, "%s: %s is NULL", fn, arg);
}

/*
 * KVM's and the CPU model's -errno as the API's code. -EIO from KVM means
 * what it means for KVM's ioctls: the VM is dead (KVM_BUG_ON, kvm_vm_dead);
 * callers that can also get -EIO from the model's own breakage (the CPU
 * model's cpu_bug()) tell the two apart with the VM's state (guest_result).
 * An errno nobody should answer is the model's own bug.
 */
static int errno_to_api(int err)
{
	switch (err) {
	case 0: return TDXMMU_OK;
	case -EINVAL: return TDXMMU_EINVAL;
	case -ENOMEM: return TDXMMU_ENOMEM;
	case -ENOENT: return TDXMMU_ENOENT;
	case -EEXIST: return TDXMMU_EEXIST;
	case -EPERM: return TDXMMU_ESTATE;
	case -ERANGE: return TDXMMU_ERANGE;
	case -EBUSY: return TDXMMU_EBUSY;
	case -EAGAIN: return TDXMMU_EBUSY;
	case -ENOSPC: return TDXMMU_ENOSPC;
	case -EIO: return TDXMMU_EIO;
	/* A SEAMCALL refused with a status KVM hands to the VMM (a vCPU
	 * entry: KVM_EXIT_INTERNAL_ERROR). */
	case -EREMOTEIO: return TDXMMU_ESEAMCALL;
	default: return TDXMMU_EBUG;
	}
}

/* The message of a KVM ioctl refused because the VM is dead. */
static int vm_dead_fail(const char *what)
{
	return api_fail(TDXMMU_EIO, "%s: the VM is dead (KVM killed it)", what);
}

TDXMMU_API void tdxmmu_td_config_init(struct tdxmmu_td_config *cfg)
{
	if (!cfg)
		return;
	*cfg = (struct tdxmmu_td_config){
		.mmu = TDXMMU_MMU_TDP,
		.gpaw = 48,
		.nr_vcpus = 1,
		.accept = TDXMMU_ACCEPT_AUTO,
		.seed = 1,
	};
}

static void td_free_parts(struct tdxmmu_td *td)
{
	tdx_module_destroy(td->tdx);
	host_memslots_destroy(td->slots);
	host_mem_destroy(td->hm);
	pthread_mutex_destroy(&td->raw_lock);
	free(td->raw);
	free(td);
}

TDXMMU_API int tdxmmu_td_create(const struct tdxmmu_td_config *cfg,
				tdxmmu_td **out)
{
	struct kvm_config kc;
	struct tdxmmu_td *td;
	uint64_t bytes;
	int ret;

	if (!out)
		return null_arg("td_create", "out");
	*out = NULL;
	if (!cfg)
		return null_arg("td_create", "cfg");
	if (cfg->gpaw != 48 && cfg->gpaw != 52)
		return api_fail(TDXMMU_EINVAL, "gpaw must be 48 or 52, not %u", cfg->gpaw);
	if (cfg->nr_vcpus < 1 || cfg->nr_vcpus > TDXMMU_MAX_VCPUS)
		return api_fail(TDXMMU_EINVAL, "vcpus must be 1..%d", TDXMMU_MAX_VCPUS);
	if (cfg->mmu != TDXMMU_MMU_TDP && cfg->mmu != TDXMMU_MMU_LEGACY)
		return api_fail(TDXMMU_EINVAL, "unknown MMU kind %d", (int)cfg->mmu);
	if (cfg->mapgpa != TDXMMU_MAPGPA_SEED && cfg->mapgpa != TDXMMU_MAPGPA_UPSTREAM)
		return api_fail(TDXMMU_EINVAL, "unknown MapGPA mode %d", (int)cfg->mapgpa);
	/* The no-mirror variant replaces the TDP MMU's private fault path
	 * (tdp_mmu_nomirror.c); the legacy MMU has no such variant. */
	if (cfg->no_mirror && cfg->mmu == TDXMMU_MMU_LEGACY)
		return api_fail(TDXMMU_EINVAL, "no_mirror applies to the TDP MMU only");
	if ((ret = tdxmmu_trace_filter_check(cfg->trace_events)))
		return ret;
	bytes = cfg->host_memory ? cfg->host_memory : DEFAULT_HOST_MEMORY;
	if (bytes < (4ULL << 20) || bytes > MAX_HOST_MEMORY)
		return api_fail(TDXMMU_ERANGE, "host memory must be 4M..%lluT",
				(unsigned long long)(MAX_HOST_MEMORY >> 40));

	td = calloc(1, sizeof(*td));
	if (!td)
		return api_fail(TDXMMU_ENOMEM, "out of memory");
	td->cfg = *cfg;
	pthread_mutex_init(&td->raw_lock, NULL);
	td->hm = host_mem_create(bytes);
	td->slots = td->hm ? host_memslots_create(td->hm) : NULL;
	td->tdx = td->slots ? tdx_module_create(td->hm, cfg->seed) : NULL;
	if (!td->tdx) {
		td_free_parts(td);
		return api_fail(TDXMMU_ENOMEM, "cannot map %llu bytes of host memory",
				(unsigned long long)bytes);
	}
	kc = (struct kvm_config){
		.gpaw = cfg->gpaw,
		.nr_vcpus = cfg->nr_vcpus,
		.mmu = cfg->mmu == TDXMMU_MMU_LEGACY ? KVM_MMU_LEGACY : KVM_MMU_TDP,
		.no_mirror = cfg->no_mirror,
		.sept_ve_disable = cfg->sept_ve_disable, /* TDH.MNG.INIT's
							  * attributes */
		.trace = cfg->trace,
		.trace_events = cfg->trace_events,
		.trace_clock = tdx_module_modeled_ns,
		.seed = cfg->seed,
	};
	ret = kvm_create_vm(td->hm, td->slots, td->tdx, &kc, &td->kvm);
	if (ret) {
		td_free_parts(td);
		return api_fail(ret == -EIO ? TDXMMU_EBUG : errno_to_api(ret),
				"creating the TD failed (%s)", strerror(-ret));
	}
	/* The module traces its S-EPT changes to KVM's stream, same filter. */
	tdx_module_set_trace(td->tdx, cfg->trace, td->kvm->trace_mask);
	/* MapGPA: the seeds' era answers for the whole range in one exit;
	 * upstream's 2 MiB chunks on request (mapgpa.c). */
	td->kvm->mapgpa_chunk = cfg->mapgpa == TDXMMU_MAPGPA_UPSTREAM ?
				TDX_MAP_GPA_MAX_LEN : KVM_MAPGPA_WHOLE;
	ret = cpu_create(td->kvm, td->tdx, td->hm, cfg->accept, &td->cpu);
	if (ret) {
		kvm_destroy_vm(td->kvm, NULL);
		td_free_parts(td);
		return api_fail(errno_to_api(ret), "creating the vCPUs failed");
	}
	*out = td;
	return TDXMMU_OK;
}

TDXMMU_API uint64_t tdxmmu_td_shared_bit(const tdxmmu_td *td)
{
	if (!td)
		return 0;
	return 1ULL << (td->cfg.gpaw - 1);
}

TDXMMU_API unsigned tdxmmu_td_nr_vcpus(const tdxmmu_td *td)
{
	if (!td)
		return 0;
	return td->cfg.nr_vcpus;
}

static bool gpa_in_width(const tdxmmu_td *td, uint64_t gpa)
{
	return (gpa >> td->cfg.gpaw) == 0;
}

TDXMMU_API int tdxmmu_memslot_add(tdxmmu_td *td, unsigned id, uint64_t base,
				  uint64_t size)
{
	return tdxmmu_memslot_add_flags(td, id, base, size, 0);
}

TDXMMU_API int tdxmmu_memslot_add_flags(tdxmmu_td *td, unsigned id, uint64_t base,
					uint64_t size, unsigned flags)
{
	bool huge = flags & TDXMMU_MEMSLOT_HUGEPAGES;
	uint64_t shared;
	int ret;

	if (!td)
		return null_arg("memslot_add", "td");
	if (flags & ~TDXMMU_MEMSLOT_HUGEPAGES)
		return api_fail(TDXMMU_EINVAL, "memslot flags %#x: unknown", flags);
	shared = tdxmmu_td_shared_bit(td);
	if ((base | size) & (PAGE_SIZE - 1) || size == 0)
		return api_fail(TDXMMU_EINVAL, "memslot base and size must be 4K-aligned and size non-zero");
	if (huge && ((base | size) & ((PAGE_SIZE << 9) - 1)))
		return api_fail(TDXMMU_EINVAL, "memslot %u: hugepages=on needs a 2M-aligned base and size ([%#llx, +%#llx))",
				id, (unsigned long long)base, (unsigned long long)size);
	if (base + size < base || base + size > shared)
		return api_fail(TDXMMU_ERANGE, "memslot [%#llx, %#llx) is not below the shared bit %#llx",
				(unsigned long long)base, (unsigned long long)(base + size),
				(unsigned long long)shared);
	/* KVM_SET_USER_MEMORY_REGION on a dead VM. */
	if (kvm_is_bugged(td->kvm))
		return vm_dead_fail("memslot");
	kvm_slots_lock(td->kvm);
	ret = host_memslot_add_huge(td->slots, id, base >> PAGE_SHIFT, size >> PAGE_SHIFT,
				    huge);
	kvm_slots_unlock(td->kvm);
	if (ret == -EEXIST)
		return api_fail(TDXMMU_EEXIST, "memslot %u: id in use or range overlaps another slot", id);
	if (ret == -ENOSPC)
		return api_fail(TDXMMU_ENOSPC, "memslot %u: the model allows at most %d memslots at once",
				id, HOST_MAX_MEMSLOTS);
	/* The pool is the TD's memory (td memory=, or by default all the
	 * platform's address space): say which cannot hold the slot, not
	 * that the host machine lacks memory (issue 11, item 2.16). */
	if (ret == -ENOMEM && td->cfg.host_memory)
		return api_fail(TDXMMU_ENOMEM, "memslot %u: the TD's memory (memory=%lluK) cannot hold %llu more bytes (its control and page-table pages use some of it)",
				id, (unsigned long long)(td->cfg.host_memory >> 10),
				(unsigned long long)size);
	if (ret == -ENOMEM)
		return api_fail(TDXMMU_ENOMEM, "memslot %u: the model's physical address space (%lluT) cannot hold %llu more bytes",
				id, (unsigned long long)(MAX_HOST_MEMORY >> 40),
				(unsigned long long)size);
	if (ret)
		return api_fail(errno_to_api(ret), "memslot %u: invalid", id);
	return TDXMMU_OK;
}

/*
 * The VMM's side of -ENOMEM (KVM_RUN answered -ENOMEM because KVM could not
 * get memory for the fault): KVM left nothing half-made, so the VMM simply
 * runs the vCPU again, and the guest access is retried. Each attempt moves
 * the fault forward (tables linked before the failure stay) or draws new
 * luck, so with a share below 100% it completes. When the allocation that
 * failed is at a site that fails every time (inject enomem=100), no retry
 * can help: the access reports TDXMMU_OUTCOME_ERROR. KVM_TDX_INIT_MEM_REGION
 * (add) is retried the same way, with no outcome: it keeps -ENOMEM.
 */
static bool guest_enomem_retry(tdxmmu_td *td, int *ret,
			       enum tdxmmu_outcome *outcome, uint64_t *injected)
{
	uint64_t now = kvm_enomem_injected();

	if (*ret != -ENOMEM)
		return false;
	/* No injected failure since the last try: the host really is out of
	 * frames, which no retry cures (TDXMMU_ENOMEM). */
	if (now == *injected)
		return false;
	*injected = now;
	if (!kvm_enomem_hopeless(td->kvm))
		return true;
	/* An action with no outcome (accept) keeps -ENOMEM: TDXMMU_ENOMEM. */
	if (outcome) {
		*outcome = TDXMMU_OUTCOME_ERROR;
		*ret = 0;
	}
	return false;
}

TDXMMU_API int tdxmmu_td_add_page(tdxmmu_td *td, uint64_t gpa, uint8_t fill)
{
	pfn_t source;
	uint64_t injected;
	int ret;

	if (!td)
		return null_arg("add_page", "td");
	if (gpa & (PAGE_SIZE - 1))
		return api_fail(TDXMMU_EINVAL, "add: %#llx is not 4K-aligned", (unsigned long long)gpa);
	if (!gpa_in_width(td, gpa) || (gpa & tdxmmu_td_shared_bit(td)))
		return api_fail(TDXMMU_EINVAL, "add: %#llx is not a private GPA", (unsigned long long)gpa);
	if (kvm_is_bugged(td->kvm))
		return vm_dead_fail("add");
	if (td->kvm->finalized)
		return api_fail(TDXMMU_ESTATE, "add: the TD is finalized (TDH.MEM.PAGE.ADD is build-time only)");
	/* The source is an ordinary (shared) host page, as KVM_TDX_INIT_MEM_REGION
	 * takes one from user space. */
	if (host_mem_alloc_frame(td->hm, &source))
		return api_fail(TDXMMU_ENOMEM, "add: no host frame for the source page");
	host_frame_fill(td->hm, source, fill, HOST_KEYID_SHARED);
	/* As for a guest access: the VMM issues the ioctl again after an
	 * injected -ENOMEM, unless the site that failed fails every time;
	 * then the add answers TDXMMU_ENOMEM. */
	injected = kvm_enomem_injected();
	do
		ret = kvm_tdx_init_mem_page(td->kvm, gpa, source);
	while (guest_enomem_retry(td, &ret, NULL, &injected));
	host_mem_free_frame(td->hm, source);
	if (ret == -ENOENT)
		return api_fail(TDXMMU_ENOENT, "add: no memslot covers %#llx", (unsigned long long)gpa);
	if (ret == -EEXIST)
		return api_fail(TDXMMU_EEXIST, "add: %#llx is already mapped", (unsigned long long)gpa);
	if (ret == -EIO)
		return api_fail(TDXMMU_EIO, "add: %#llx: KVM killed the VM (KVM_BUG_ON)",
				(unsigned long long)gpa);
	if (ret)
		return api_fail(errno_to_api(ret), "add: %#llx failed (%s)",
				(unsigned long long)gpa, strerror(-ret));
	return TDXMMU_OK;
}

TDXMMU_API int tdxmmu_td_finalize(tdxmmu_td *td)
{
	bool was_dead;
	int ret;

	if (!td)
		return null_arg("finalize", "td");
	was_dead = kvm_is_bugged(td->kvm);
	ret = kvm_tdx_finalize_vm(td->kvm);

	if (ret == -EPERM)
		return api_fail(TDXMMU_ESTATE, "finalize: the TD is already finalized");
	if (ret == -EIO && was_dead)
		return vm_dead_fail("finalize");
	if (ret == -EIO)
		return api_fail(TDXMMU_EIO, "finalize: TDH.MR.FINALIZE failed: KVM killed the VM (KVM_BUG_ON)");
	if (ret)
		return api_fail(errno_to_api(ret), "finalize: %s", strerror(-ret));
	return TDXMMU_OK;
}

TDXMMU_API int tdxmmu_td_mrtd(tdxmmu_td *td, uint8_t out[48])
{
	if (!td || !out)
		return null_arg("mrtd", td ? "out" : "td");
	if (!tdx_debug_mrtd(td->tdx, td->kvm->tdr, out))
		return api_fail(TDXMMU_ESTATE, "the TD is not finalized");
	return TDXMMU_OK;
}

/* ---- raw SEAMCALLs ------------------------------------------------------ */

static int raw_record(struct tdxmmu_td *td, pfn_t pfn, bool owned)
{
	int ret = 0;

	pthread_mutex_lock(&td->raw_lock);
	for (size_t i = 0; i < td->nr_raw; i++) {
		if (td->raw[i].pfn == pfn)
			goto out;
	}
	if (td->nr_raw == td->cap_raw) {
		size_t cap = td->cap_raw ? td->cap_raw * 2 : 16;
		struct raw_page *n = realloc(td->raw, cap * sizeof(*n));

		if (!n) {
			ret = -ENOMEM;
			goto out;
		}
		td->raw = n;
		td->cap_raw = cap;
	}
	td->raw[td->nr_raw++] = (struct raw_page){ .pfn = pfn, .owned = owned };
out:
	pthread_mutex_unlock(&td->raw_lock);
	return ret;
}

TDXMMU_API int tdxmmu_host_frame_new(tdxmmu_td *td, uint64_t *hpa)
{
	pfn_t pfn;

	if (!td || !hpa)
		return null_arg("host_frame_new", td ? "hpa" : "td");
	if (host_mem_alloc_frame(td->hm, &pfn))
		return api_fail(TDXMMU_ENOMEM, "no free host frame");
	if (raw_record(td, pfn, true)) {
		host_mem_free_frame(td->hm, pfn);
		return api_fail(TDXMMU_ENOMEM, "out of memory");
	}
	*hpa = pfn_to_hpa(pfn);
	return TDXMMU_OK;
}

/* The memslot covering gpa, copied to *buf (memslots are looked up by
 * copy: host_mem.h); NULL if none. */
static const struct host_memslot *slot_of(tdxmmu_td *td, uint64_t gpa,
					  struct host_memslot *buf)
{
	uint64_t gfn = (gpa & ~tdxmmu_td_shared_bit(td)) >> PAGE_SHIFT;

	return gpa_in_width(td, gpa) && host_memslot_find(td->slots, gfn, buf) ?
	       buf : NULL;
}

TDXMMU_API int tdxmmu_host_frame_of(tdxmmu_td *td, uint64_t gpa, uint64_t *hpa)
{
	struct host_memslot slot;
	const struct host_memslot *s;
	pfn_t pfn;

	if (!td || !hpa)
		return null_arg("host_frame_of", td ? "hpa" : "td");
	s = slot_of(td, gpa, &slot);
	if (!s)
		return api_fail(TDXMMU_ENOENT, "no memslot covers %#llx", (unsigned long long)gpa);
	pfn = host_memslot_gfn_to_pfn(s, (gpa & ~tdxmmu_td_shared_bit(td)) >> PAGE_SHIFT);
	if (raw_record(td, pfn, false))
		return api_fail(TDXMMU_ENOMEM, "out of memory");
	*hpa = pfn_to_hpa(pfn);
	return TDXMMU_OK;
}

TDXMMU_API int tdxmmu_seamcall(tdxmmu_td *td, const struct tdxmmu_seamcall_req *req,
			       struct tdxmmu_seamcall_out *out)
{
	struct seamcall_regs r;
	uint64_t info;
	pfn_t source = 0;
	uint64_t status;

	if (!td || !req)
		return null_arg("seamcall", td ? "req" : "td");
	r = (struct seamcall_regs){ .rax = (uint64_t)req->leaf };
	/* RCX as the ABI builds it: the caller's GPA with every bit it gave,
	 * OR the level field (bits 2:0). Low bits are not rounded away: the
	 * module answers TDX_OPERAND_INVALID for reserved bits 11:3 or a
	 * level field the GPA's own low bits changed, as the real one does
	 * (issue 11 item 2.1: gpa=0x2001 used to map 0x2000). */
	info = req->gpa | req->level;
	if (req->leaf < 0 || !tdx_leaf_name(req->leaf))
		return api_fail(TDXMMU_EINVAL, "unknown SEAMCALL leaf %d", req->leaf);
	if (req->level > 7)
		return api_fail(TDXMMU_EINVAL, "level %u does not fit the page-info field", req->level);

	/* Operands laid out as the TDX ABI wants them (tdx-module-sept.md §4). */
	switch (req->leaf) {
	case TDH_MEM_SEPT_ADD:
	case TDH_MEM_PAGE_AUG:
	case TDH_MEM_PAGE_DEMOTE:
	case TDH_MEM_PAGE_RELOCATE:
		r.rcx = info;
		r.rdx = td->kvm->tdr;
		r.r8 = req->page;
		break;
	case TDH_MEM_PAGE_ADD:
		/* The source is a shared host page holding `fill`. */
		if (host_mem_alloc_frame(td->hm, &source))
			return api_fail(TDXMMU_ENOMEM, "no host frame for the source page");
		host_frame_fill(td->hm, source, req->fill, HOST_KEYID_SHARED);
		r.rcx = info;
		r.rdx = td->kvm->tdr;
		r.r8 = req->page;
		r.r9 = pfn_to_hpa(source);
		break;
	case TDH_MEM_SEPT_RD:
	case TDH_MEM_SEPT_REMOVE:
	case TDH_MEM_PAGE_REMOVE:
	case TDH_MEM_PAGE_PROMOTE:
	case TDH_MEM_RANGE_BLOCK:
	case TDH_MEM_RANGE_UNBLOCK:
		r.rcx = info;
		r.rdx = td->kvm->tdr;
		break;
	case TDH_MR_EXTEND:
		r.rcx = req->gpa;
		r.rdx = td->kvm->tdr;
		break;
	case TDH_MEM_TRACK:
	case TDH_MR_FINALIZE:
		r.rcx = td->kvm->tdr;
		break;
	case TDH_PHYMEM_PAGE_RECLAIM:
	case TDH_PHYMEM_PAGE_WBINVD:
		r.rcx = req->page;
		break;
	default:
		return api_fail(TDXMMU_EINVAL, "%s cannot be issued as a raw SEAMCALL",
				tdxmmu_leaf_name(req->leaf));
	}
	status = kvm_seamcall(td->kvm, &r);
	if (source)
		host_mem_free_frame(td->hm, source);
	if (out)
		*out = (struct tdxmmu_seamcall_out){ .rax = status, .rcx = r.rcx,
						     .rdx = r.rdx, .r8 = r.r8 };
	return TDXMMU_OK;
}

TDXMMU_API int tdxmmu_inject_busy(tdxmmu_td *td, uint32_t ppm)
{
	return tdxmmu_inject_busy_leaf(td, -1, ppm);
}

TDXMMU_API int tdxmmu_inject_busy_leaf(tdxmmu_td *td, int leaf, uint32_t ppm)
{
	if (!td)
		return null_arg("inject_busy_leaf", "td");
	if (leaf != -1 && (leaf < 0 || !tdx_leaf_name(leaf)))
		return api_fail(TDXMMU_EINVAL, "unknown SEAMCALL leaf %d", leaf);
	if (ppm > 1000000)
		return api_fail(TDXMMU_ERANGE, "busy share %u ppm is above 1000000", ppm);
	tdx_module_inject_busy_leaf(td->tdx, leaf, ppm);
	return TDXMMU_OK;
}

static const char *const alloc_site_names[] = {
	[TDXMMU_SITE_ALL] = "all",       [TDXMMU_SITE_PT] = "pt",
	[TDXMMU_SITE_SEPT] = "sept",     [TDXMMU_SITE_FRAME] = "frame",
	[TDXMMU_SITE_RMAP] = "rmap",     [TDXMMU_SITE_SHADOW] = "shadow",
	[TDXMMU_SITE_ARENA] = "arena",   [TDXMMU_SITE_NOMIRROR] = "nomirror",
};
#define NR_ALLOC_SITE_NAMES (sizeof(alloc_site_names) / sizeof(alloc_site_names[0]))

/* The public site's KVM site; -1 for every site, -2 when unknown. The two
 * enums differ by TDXMMU_SITE_ALL only, checked here at build time. */
static_assert(TDXMMU_SITE_NOMIRROR == KVM_ALLOC_NOMIRROR + 1 &&
		      KVM_ALLOC_NR_SITES == KVM_ALLOC_NOMIRROR + 1,
	      "tdxmmu_alloc_site is kvm_alloc_site shifted by one (ALL)");
static int kvm_site(enum tdxmmu_alloc_site site)
{
	if (site == TDXMMU_SITE_ALL)
		return -1;
	if ((unsigned)site > TDXMMU_SITE_NOMIRROR)
		return -2;
	return (int)site - 1;
}

TDXMMU_API const char *tdxmmu_alloc_site_name(enum tdxmmu_alloc_site site)
{
	return (unsigned)site < NR_ALLOC_SITE_NAMES ? alloc_site_names[site] : NULL;
}

TDXMMU_API bool tdxmmu_alloc_site_parse(const char *name, enum tdxmmu_alloc_site *site)
{
	for (unsigned i = 0; name && i < NR_ALLOC_SITE_NAMES; i++)
		if (!strcmp(name, alloc_site_names[i])) {
			if (site)
				*site = (enum tdxmmu_alloc_site)i;
			return true;
		}
	return false;
}

TDXMMU_API int tdxmmu_inject_enomem(tdxmmu_td *td, enum tdxmmu_alloc_site site,
				    uint32_t ppm)
{
	int s = kvm_site(site);

	if (!td)
		return api_fail(TDXMMU_EINVAL, "inject enomem: no TD");
	if (ppm > 1000000)
		return api_fail(TDXMMU_ERANGE, "enomem share %u ppm is above 1000000", ppm);
	if (s == -2)
		return api_fail(TDXMMU_EINVAL, "inject enomem: unknown site %d", (int)site);
	for (int i = 0; i < KVM_ALLOC_NR_SITES; i++)
		if (s == -1 || i == s)
			kvm_inject_enomem(td->kvm, (enum kvm_alloc_site)i, ppm);
	return TDXMMU_OK;
}

TDXMMU_API int tdxmmu_inject_enomem_nth(tdxmmu_td *td, enum tdxmmu_alloc_site site,
					uint64_t n, bool persistent)
{
	int s = kvm_site(site);

	if (!td)
		return null_arg("inject_enomem_nth", "td");
	if (s == -2)
		return api_fail(TDXMMU_EINVAL, "inject enomem-at: unknown site %d", (int)site);
	kvm_inject_enomem_nth(td->kvm, s, n, persistent);
	return TDXMMU_OK;
}

TDXMMU_API int tdxmmu_inject_busy_nth(tdxmmu_td *td, int leaf, uint64_t n, bool persistent)
{
	if (!td)
		return null_arg("inject_busy_nth", "td");
	if (leaf != -1 && (leaf < 0 || !tdx_leaf_name(leaf)))
		return api_fail(TDXMMU_EINVAL, "unknown SEAMCALL leaf %d", leaf);
	tdx_module_inject_busy_nth(td->tdx, leaf, n, persistent);
	return TDXMMU_OK;
}

/* An injected status must be one a module refusing the call answers: an
 * error (bit 63). A success or a warning would tell KVM that something
 * was done that was not, which no real module does. */
static int check_injected_status(uint64_t status)
{
	if (!tdx_status_is_error(status))
		return api_fail(TDXMMU_EINVAL,
				"inject status: %#llx is not an error status (bit 63 clear)",
				(unsigned long long)status);
	return TDXMMU_OK;
}

TDXMMU_API int tdxmmu_inject_status_nth(tdxmmu_td *td, int leaf, uint64_t status,
					uint64_t n, bool persistent)
{
	if (!td)
		return null_arg("inject_status_nth", "td");
	if (leaf != -1 && (leaf < 0 || !tdx_leaf_name(leaf)))
		return api_fail(TDXMMU_EINVAL, "unknown SEAMCALL leaf %d", leaf);
	if (n && check_injected_status(status))
		return TDXMMU_EINVAL;
	tdx_module_inject_status_nth(td->tdx, leaf, status, n, persistent);
	return TDXMMU_OK;
}

TDXMMU_API int tdxmmu_inject_status(tdxmmu_td *td, int leaf, uint64_t status,
				    uint32_t ppm)
{
	if (!td)
		return null_arg("inject_status", "td");
	if (leaf != -1 && (leaf < 0 || !tdx_leaf_name(leaf)))
		return api_fail(TDXMMU_EINVAL, "unknown SEAMCALL leaf %d", leaf);
	if (ppm > 1000000)
		return api_fail(TDXMMU_ERANGE, "status share %u ppm is above 1000000", ppm);
	if (ppm && check_injected_status(status))
		return TDXMMU_EINVAL;
	tdx_module_inject_status_leaf(td->tdx, leaf, status, ppm);
	return TDXMMU_OK;
}

TDXMMU_API int tdxmmu_inject_counts(tdxmmu_td *td, struct tdxmmu_inject_counts *out)
{
	if (!td || !out)
		return null_arg("inject_counts", td ? "out" : "td");
	*out = (struct tdxmmu_inject_counts){
		.enomem = kvm_enomem_hits(td->kvm),
		.busy = tdx_module_busy_hits(td->tdx),
		.status = tdx_module_status_hits(td->tdx),
	};
	return TDXMMU_OK;
}

TDXMMU_API int tdxmmu_inject_off(tdxmmu_td *td)
{
	if (!td)
		return api_fail(TDXMMU_EINVAL, "inject off: no TD");
	tdx_module_inject_clear(td->tdx);
	kvm_inject_enomem_nth(td->kvm, -1, 0, false);
	for (int i = 0; i < KVM_ALLOC_NR_SITES; i++)
		kvm_inject_enomem_nth(td->kvm, i, 0, false);
	return tdxmmu_inject_enomem(td, TDXMMU_SITE_ALL, 0);
}

TDXMMU_API bool tdxmmu_vm_dead(tdxmmu_td *td)
{
	return td && kvm_is_bugged(td->kvm);
}

TDXMMU_API int tdxmmu_cost_set(tdxmmu_td *td, int leaf, uint64_t ns)
{
	if (!td)
		return null_arg("cost_set", "td");
	if (!tdx_leaf_name(leaf))
		return api_fail(TDXMMU_EINVAL, "unknown SEAMCALL leaf %d", leaf);
	tdx_module_set_cost(td->tdx, leaf, ns);
	return TDXMMU_OK;
}

TDXMMU_API uint64_t tdxmmu_cost_get(tdxmmu_td *td, int leaf)
{
	if (!td)
		return 0;
	return tdx_module_cost(td->tdx, leaf);
}

TDXMMU_API uint64_t tdxmmu_modeled_ns(tdxmmu_td *td)
{
	if (!td)
		return 0;
	return tdx_module_modeled_ns(td->tdx);
}

/* ---- state ---------------------------------------------------------------- */

enum tdxmmu_sept_state api_sept_state_of(unsigned s)
{
	static const enum tdxmmu_sept_state map[] = {
		[SEPT_FREE] = TDXMMU_SEPT_FREE,
		[SEPT_NL_MAPPED] = TDXMMU_SEPT_NL_MAPPED,
		[SEPT_NL_BLOCKED] = TDXMMU_SEPT_NL_BLOCKED,
		[SEPT_MAPPED] = TDXMMU_SEPT_MAPPED,
		[SEPT_BLOCKED] = TDXMMU_SEPT_BLOCKED,
		[SEPT_PENDING] = TDXMMU_SEPT_PENDING,
		[SEPT_PENDING_BLOCKED] = TDXMMU_SEPT_PENDING_BLOCKED,
		[SEPT_REMOVED] = TDXMMU_SEPT_REMOVED,
	};

	return s < SEPT_NR_STATES ? map[s] : TDXMMU_SEPT_FREE;
}

TDXMMU_API int tdxmmu_sept_state(tdxmmu_td *td, uint64_t gpa, unsigned level,
				 enum tdxmmu_sept_state *out)
{
	/* Both are written by the walk only when it reaches an entry: start
	 * them as "no entry" so that no path reads them unset. */
	enum tdx_sept_state s = SEPT_NR_STATES;
	unsigned stopped = 0;
	/* The S-EPT walk has 4 levels for GPAW 48 and 5 for GPAW 52
	 * (levels 0..3 and 0..4): a level above it names no entry, and a
	 * level of 6 or more would shift PAGE_SIZE past 64 bits below. */
	unsigned top;

	if (!td || !out)
		return null_arg("sept_state", td ? "out" : "td");
	top = td->cfg.gpaw == 52 ? 4 : 3;
	if (level > top)
		return api_fail(TDXMMU_ERANGE, "sept state: level %u is above the TD's S-EPT walk (top level %u)",
				level, top);
	if (!gpa_in_width(td, gpa))
		return api_fail(TDXMMU_ERANGE, "%#llx is outside the TD's GPA width",
				(unsigned long long)gpa);
	if (!tdx_debug_sept_state(td->tdx, td->kvm->tdr,
				  (gpa & ~tdxmmu_td_shared_bit(td)) & PAGE_MASK & ~((PAGE_SIZE << (9 * level)) - 1),
				  level, &s, NULL, &stopped)) {
		if ((unsigned)s < SEPT_NR_STATES)
			return api_fail(TDXMMU_ENOENT,
					"the S-EPT walk for %#llx ends at level %u in state %s",
					(unsigned long long)gpa, stopped, tdx_sept_state_name(s));
		return api_fail(TDXMMU_EINVAL, "no S-EPT entry for %#llx at level %u",
				(unsigned long long)gpa, level);
	}
	if ((unsigned)s >= SEPT_NR_STATES)
		return api_fail(TDXMMU_EBUG, "misconfigured S-EPT entry for %#llx",
				(unsigned long long)gpa);
	*out = api_sept_state_of(s);
	return TDXMMU_OK;
}

TDXMMU_API int tdxmmu_counter(tdxmmu_td *td, const char *name, uint64_t *val)
{
	if (!td || !name || !val)
		return null_arg("counter", !td ? "td" : !name ? "name" : "val");
	if (!strncmp(name, "seamcall.", 9)) {
		int leaf = tdx_leaf_parse(name + 9);

		if (leaf < 0)
			return api_fail(TDXMMU_ENOENT, "unknown counter %s", name);
		*val = tdx_module_calls(td->tdx, leaf);
		return TDXMMU_OK;
	}
	if (!strcmp(name, "tdcall.TDG.MEM.PAGE.ACCEPT")) {
		*val = tdx_module_accepts(td->tdx);
		return TDXMMU_OK;
	}
	if (!strcmp(name, "cost.modeled_ns")) {
		*val = tdx_module_modeled_ns(td->tdx);
		return TDXMMU_OK;
	}
	if (!strcmp(name, "exit.td")) {
		*val = tdx_module_exits(td->tdx);
		return TDXMMU_OK;
	}
	if (!strcmp(name, "inject.busy")) {
		*val = tdx_module_busy_injected(td->tdx);
		return TDXMMU_OK;
	}
	if (!strcmp(name, "inject.status")) {
		*val = tdx_module_status_hits(td->tdx);
		return TDXMMU_OK;
	}
	if (!strcmp(name, "inject.busy_gave_up")) {
		*val = tdx_module_busy_gave_up(td->tdx);
		return TDXMMU_OK;
	}
#define KVM_STAT_MATCH(f, n)                                   \
	if (!strcmp(name, n)) {                                \
		*val = kvm_stat_read(td->kvm, f);         \
		return TDXMMU_OK;                              \
	}
	KVM_STATS_LIST(KVM_STAT_MATCH)
#undef KVM_STAT_MATCH
	return api_fail(TDXMMU_ENOENT, "unknown counter %s", name);
}

TDXMMU_API void tdxmmu_counters_foreach(tdxmmu_td *td,
					void (*fn)(const char *name, uint64_t val,
						   void *arg),
					void *arg)
{
	char name[64];

	if (!td || !fn)
		return;
	for (int leaf = 0; leaf < TDX_NR_LEAVES; leaf++) {
		if (!tdx_leaf_name(leaf))
			continue;
		snprintf(name, sizeof(name), "seamcall.%s", tdx_leaf_name(leaf));
		fn(name, tdx_module_calls(td->tdx, leaf), arg);
	}
	fn("tdcall.TDG.MEM.PAGE.ACCEPT", tdx_module_accepts(td->tdx), arg);
	fn("cost.modeled_ns", tdx_module_modeled_ns(td->tdx), arg);
	fn("exit.td", tdx_module_exits(td->tdx), arg);
	fn("inject.busy", tdx_module_busy_injected(td->tdx), arg);
	fn("inject.status", tdx_module_status_hits(td->tdx), arg);
	fn("inject.busy_gave_up", tdx_module_busy_gave_up(td->tdx), arg);
#define KVM_STAT_EMIT(f, n) fn(n, kvm_stat_read(td->kvm, f), arg);
	KVM_STATS_LIST(KVM_STAT_EMIT)
#undef KVM_STAT_EMIT
}

/* ---- host view of memory -------------------------------------------------- */

TDXMMU_API int tdxmmu_host_read(tdxmmu_td *td, uint64_t gpa, uint64_t *val)
{
	struct host_memslot slot;
	const struct host_memslot *s;
	pfn_t pfn;

	if (!td || !val)
		return null_arg("host_read", td ? "val" : "td");
	s = slot_of(td, gpa, &slot);
	if (gpa & 7)
		return api_fail(TDXMMU_EINVAL, "host read: %#llx is not 8-aligned", (unsigned long long)gpa);
	if (!s)
		return api_fail(TDXMMU_ENOENT, "host read: no memslot covers %#llx", (unsigned long long)gpa);
	pfn = host_memslot_gfn_to_pfn(s, (gpa & ~tdxmmu_td_shared_bit(td)) >> PAGE_SHIFT);
	/* The host reads with its own key: a TD-private frame reads as zeros. */
	host_frame_read(td->hm, pfn, gpa & (PAGE_SIZE - 1), val, sizeof(*val),
			HOST_KEYID_SHARED, NULL);
	return TDXMMU_OK;
}

TDXMMU_API int tdxmmu_host_write(tdxmmu_td *td, uint64_t gpa, uint64_t val)
{
	struct host_memslot slot;
	const struct host_memslot *s;
	pfn_t pfn;

	if (!td)
		return null_arg("host_write", "td");
	s = slot_of(td, gpa, &slot);
	if (gpa & 7)
		return api_fail(TDXMMU_EINVAL, "host write: %#llx is not 8-aligned", (unsigned long long)gpa);
	if (!s)
		return api_fail(TDXMMU_ENOENT, "host write: no memslot covers %#llx", (unsigned long long)gpa);
	pfn = host_memslot_gfn_to_pfn(s, (gpa & ~tdxmmu_td_shared_bit(td)) >> PAGE_SHIFT);
	/* Writing a TD-private frame with the host key breaks its integrity. */
	host_frame_write(td->hm, pfn, gpa & (PAGE_SIZE - 1), &val, sizeof(val),
			 HOST_KEYID_SHARED);
	return TDXMMU_OK;
}

/* ---- destroy --------------------------------------------------------------- */

static void report_add(struct tdxmmu_destroy_report *rep, const char *what)
{
	size_t len = strlen(rep->message);

	snprintf(rep->message + len, sizeof(rep->message) - len, "%s%s",
		 len ? "; " : "", what);
}

TDXMMU_API int tdxmmu_td_destroy(tdxmmu_td *td, struct tdxmmu_destroy_report *report)
{
	struct tdxmmu_destroy_report local;
	struct tdxmmu_destroy_report *rep = report ? report : &local;
	uint64_t kvm_leaked = 0, refused;
	char buf[160];
	hpa_t tdr;
	int ret;

	memset(rep, 0, sizeof(*rep));
	if (!td)
		return TDXMMU_OK;
	tdr = td->kvm->tdr;

	/* 0. No vCPU runs any more. */
	cpu_destroy(td->cpu);
	td->cpu = NULL;

	/* 1. KVM: private leaves (HKID assigned), the key, the page tables.
	 * If this fails (a SEAMCALL the module refused), kvm_destroy_vm()
	 * tries the teardown once more; only its failure is reported, so a
	 * teardown that completed the second time is not called a leak. */
	(void)kvm_tdx_teardown_memory(td->kvm);

	/* 2. The host: pages it handed to raw SEAMCALLs that the TD may still
	 * own. The TD is in teardown now, so RECLAIM works for any of them. */
	for (size_t i = 0; i < td->nr_raw; i++) {
		enum tdx_page_type pt;
		hpa_t owner;
		unsigned size;
		hpa_t base;
		struct tdx_retry rt = TDX_RETRY_INIT;
		uint64_t s;

		tdx_debug_pamt(td->tdx, td->raw[i].pfn, &pt, &owner, &size);
		if (pt == PT_NDA || owner != tdr)
			continue;
		base = pfn_to_hpa(td->raw[i].pfn) & ~((PAGE_SIZE << (9 * size)) - 1);
		/* Retried while BUSY, as KVM retries its own teardown
		 * SEAMCALLs (kvm_main.c call_retry_busy): injected contention
		 * (`inject busy` still on at destroy) made this RECLAIM fail
		 * once and the destroy report a leak (found by fuzz_ops:
		 * tests/fuzz/corpus/ops/found-destroy-reclaim-busy). */
		for (;;) {
			struct seamcall_regs r = { .rax = TDH_PHYMEM_PAGE_RECLAIM, .rcx = base };

			s = kvm_seamcall(td->kvm, &r);
			if ((!tdx_status_is(s, TDX_OPERAND_BUSY) &&
			     !tdx_status_is(s, TDX_OPERAND_BUSY_HOST_PRIORITY)) ||
			    !tdx_retry_backoff(&rt))
				break;
		}
		if (tdx_status_is_error(s)) {
			snprintf(buf, sizeof(buf), "host frame %#llx could not be reclaimed",
				 (unsigned long long)pfn_to_hpa(td->raw[i].pfn));
			report_add(rep, buf);
			continue;
		}
		/* A frame leaves the TD only cleared. */
		host_frame_clear_range(td->hm, hpa_to_pfn(base), 1ULL << (9 * size),
				       HOST_KEYID_SHARED);
	}

	/* 3. KVM: control pages and the TDR; then the VM. */
	ret = kvm_destroy_vm(td->kvm, &kvm_leaked);
	refused = tdx_module_status_hits(td->tdx) + tdx_module_busy_gave_up(td->tdx);
	if (ret)
		report_add(rep, "KVM's teardown failed (private memory, the key or the control pages)");
	rep->kvm_pages_leaked = kvm_leaked;
	if (kvm_leaked) {
		snprintf(buf, sizeof(buf), "%llu KVM page-table pages not freed",
			 (unsigned long long)kvm_leaked);
		report_add(rep, buf);
	}
	if (tdx_debug_nr_tds(td->tdx) != 0) {
		rep->frames_td_owned = tdx_debug_chldcnt(td->tdx, tdr) + 1;
		snprintf(buf, sizeof(buf), "the module still knows the TD (%llu pages owned)",
			 (unsigned long long)rep->frames_td_owned);
		report_add(rep, buf);
	}

	/* 4. The host gives back what it holds and counts what is left. */
	for (size_t i = 0; i < td->nr_raw; i++) {
		enum tdx_page_type pt;
		hpa_t owner;

		tdx_debug_pamt(td->tdx, td->raw[i].pfn, &pt, &owner, NULL);
		if (td->raw[i].owned && pt == PT_NDA)
			host_mem_free_frame(td->hm, td->raw[i].pfn);
	}
	/* The memslots go all at once, with no allocation: deleting them one
	 * by one allocated each time the array without the deleted one, and
	 * when that failed the memslot's frames were counted as leaked
	 * (test_malloc_fail). KVM is gone: nothing reads the array. */
	host_memslots_destroy(td->slots);
	td->slots = NULL;
	rep->frames_leaked = host_mem_frames_in_use(td->hm);
	if (rep->frames_leaked) {
		snprintf(buf, sizeof(buf), "%llu host frames leaked",
			 (unsigned long long)rep->frames_leaked);
		report_add(rep, buf);
	}
	td_free_parts(td);
	/* A leak is the model's breakage, unless the module was made to
	 * refuse SEAMCALLs (inject status=, or an injected BUSY on every call
	 * that a retry loop gave up on): then it is what KVM leaks when the
	 * module refuses its teardown (upstream leaks the HKID and the TD's
	 * pages), reported as such. */
	if (!rep->message[0])
		return TDXMMU_OK;
	return refused ? api_fail(TDXMMU_ESEAMCALL, "destroy: %s", rep->message)
		       : TDXMMU_EBUG;
}

/* ---- guest actions: the CPU model ------------------------------------------ */

static int vcpu_ok(tdxmmu_td *td, unsigned vcpu)
{
	if (!td)
		return null_arg("vcpu action", "td");
	if (vcpu >= td->cfg.nr_vcpus)
		return api_fail(TDXMMU_EINVAL, "vcpu %u: the TD has %u vCPUs", vcpu,
				td->cfg.nr_vcpus);
	return TDXMMU_OK;
}

static int guest_result(tdxmmu_td *td, int ret, const char *what)
{
	if (atomic_load(&td->kvm->model_broken))
		return api_fail(TDXMMU_EBUG, "%s: the model broke its own rules (a walker read a freed page-table page)",
				what);
	if (ret == 0)
		return TDXMMU_OK;
	/* The CPU model's own bound or invariant (cpu.h, CPU_EBUG): exit
	 * status 3. A VM that KVM killed during a guest action is an outcome
	 * (BUGGED/DEAD, cpu_action_end), never this. */
	if (ret == -ENOTRECOVERABLE)
		return api_fail(TDXMMU_EBUG, "%s: the model cannot go on: %s", what,
				cpu_last_error());
	/* -EIO: KVM killed the VM (a modeled outcome), or, with the VM
	 * alive, the model could not go on (its own breakage). */
	if (ret == -EIO && kvm_is_bugged(td->kvm))
		return api_fail(TDXMMU_EIO, "%s: the VM is dead (KVM_BUG_ON)", what);
	if (ret == -EIO)
		return api_fail(TDXMMU_EBUG, "%s failed%s%s", what,
				cpu_last_error()[0] ? ": " : "", cpu_last_error());
	return api_fail(errno_to_api(ret), "%s failed (%s)%s%s", what, strerror(-ret),
			cpu_last_error()[0] ? ": " : "", cpu_last_error());
}

TDXMMU_API int tdxmmu_vcpu_read(tdxmmu_td *td, unsigned vcpu, uint64_t gpa,
				uint64_t *val, enum tdxmmu_outcome *outcome)
{
	int ret = vcpu_ok(td, vcpu);
	uint64_t injected;

	if (ret)
		return ret;
	if (!val || !outcome)
		return null_arg("vcpu_read", val ? "outcome" : "val");
	if (gpa & 7)
		return api_fail(TDXMMU_EINVAL, "read: %#llx is not 8-aligned", (unsigned long long)gpa);
	if (!gpa_in_width(td, gpa))
		return api_fail(TDXMMU_ERANGE, "read: %#llx is outside the GPA width", (unsigned long long)gpa);
	injected = kvm_enomem_injected();
	do
		ret = cpu_guest_read(td->cpu, vcpu, gpa, val, outcome);
	while (guest_enomem_retry(td, &ret, outcome, &injected));
	return guest_result(td, ret, "read");
}

TDXMMU_API int tdxmmu_vcpu_touch(tdxmmu_td *td, unsigned vcpu, uint64_t gpa,
				 uint64_t size, bool write,
				 enum tdxmmu_outcome *outcome)
{
	int ret = vcpu_ok(td, vcpu);
	uint64_t injected;

	if (ret)
		return ret;
	if (!outcome)
		return null_arg("vcpu_touch", "outcome");
	if ((gpa | size) & (PAGE_SIZE - 1) || size == 0)
		return api_fail(TDXMMU_EINVAL, "touch: [%#llx, +%#llx) is not a 4K-aligned, non-empty range",
				(unsigned long long)gpa, (unsigned long long)size);
	if (gpa + size < gpa || !gpa_in_width(td, gpa + size - 1))
		return api_fail(TDXMMU_ERANGE, "touch: [%#llx, +%#llx) is outside the GPA width",
				(unsigned long long)gpa, (unsigned long long)size);
	injected = kvm_enomem_injected();
	do
		ret = cpu_guest_touch(td->cpu, vcpu, gpa, size, write, outcome);
	while (guest_enomem_retry(td, &ret, outcome, &injected));
	return guest_result(td, ret, "touch");
}

TDXMMU_API int tdxmmu_vcpu_write(tdxmmu_td *td, unsigned vcpu, uint64_t gpa,
				 uint64_t val, enum tdxmmu_outcome *outcome)
{
	int ret = vcpu_ok(td, vcpu);
	uint64_t injected;

	if (ret)
		return ret;
	if (!outcome)
		return null_arg("vcpu_write", "outcome");
	if (gpa & 7)
		return api_fail(TDXMMU_EINVAL, "write: %#llx is not 8-aligned", (unsigned long long)gpa);
	if (!gpa_in_width(td, gpa))
		return api_fail(TDXMMU_ERANGE, "write: %#llx is outside the GPA width", (unsigned long long)gpa);
	injected = kvm_enomem_injected();
	do
		ret = cpu_guest_write(td->cpu, vcpu, gpa, val, outcome);
	while (guest_enomem_retry(td, &ret, outcome, &injected));
	return guest_result(td, ret, "write");
}

/* A guest range must lie in one alias, inside the GPA width, and not wrap. */
static int guest_range_ok(tdxmmu_td *td, const char *what, uint64_t gpa, uint64_t size)
{
	uint64_t shared = tdxmmu_td_shared_bit(td);

	if (size == 0 || gpa + size < gpa || !gpa_in_width(td, gpa + size - 1) ||
	    ((gpa ^ (gpa + size - 1)) & shared))
		return api_fail(TDXMMU_ERANGE, "%s: [%#llx, +%#llx) is not inside one alias of the GPA space",
				what, (unsigned long long)gpa, (unsigned long long)size);
	return TDXMMU_OK;
}

TDXMMU_API int tdxmmu_vcpu_fill(tdxmmu_td *td, unsigned vcpu, uint64_t gpa,
				uint64_t size, uint8_t byte, enum tdxmmu_outcome *outcome)
{
	int ret = vcpu_ok(td, vcpu);
	uint64_t injected;

	if (ret)
		return ret;
	if (!outcome)
		return null_arg("vcpu_fill", "outcome");
	if ((ret = guest_range_ok(td, "fill", gpa, size)))
		return ret;
	injected = kvm_enomem_injected();
	do
		ret = cpu_guest_fill(td->cpu, vcpu, gpa, size, byte, outcome);
	while (guest_enomem_retry(td, &ret, outcome, &injected));
	return guest_result(td, ret, "fill");
}

TDXMMU_API int tdxmmu_vcpu_verify(tdxmmu_td *td, unsigned vcpu, uint64_t gpa,
				  uint64_t size, uint8_t byte, uint64_t *mismatch_gpa,
				  enum tdxmmu_outcome *outcome)
{
	int ret = vcpu_ok(td, vcpu);
	uint64_t injected;

	if (ret)
		return ret;
	if (!mismatch_gpa || !outcome)
		return null_arg("vcpu_verify", outcome ? "mismatch_gpa" : "outcome");
	if ((ret = guest_range_ok(td, "verify", gpa, size)))
		return ret;
	injected = kvm_enomem_injected();
	do
		ret = cpu_guest_verify(td->cpu, vcpu, gpa, size, byte, mismatch_gpa,
				       outcome);
	while (guest_enomem_retry(td, &ret, outcome, &injected));
	return guest_result(td, ret, "verify");
}

TDXMMU_API int tdxmmu_vcpu_accept_outcome(tdxmmu_td *td, unsigned vcpu, uint64_t gpa,
					  unsigned level, uint64_t *status,
					  enum tdxmmu_outcome *outcome)
{
	int ret = vcpu_ok(td, vcpu);
	uint64_t injected;

	if (ret)
		return ret;
	if (!status)
		return null_arg("vcpu_accept", "status");
	if (level > 1)
		return api_fail(TDXMMU_EINVAL, "accept: level must be 4K or 2M");
	/* An injected -ENOMEM is retried as for the other actions; when it
	 * can never succeed the outcome is `error`. */
	injected = kvm_enomem_injected();
	do
		ret = cpu_guest_accept(td->cpu, vcpu, gpa, level, status, outcome);
	while (guest_enomem_retry(td, &ret, outcome, &injected));
	return guest_result(td, ret, "accept");
}

TDXMMU_API int tdxmmu_vcpu_accept_memory(tdxmmu_td *td, unsigned vcpu, uint64_t gpa,
					 uint64_t size,
					 struct tdxmmu_accept_memory_result *res,
					 enum tdxmmu_outcome *outcome)
{
	const uint64_t huge = PAGE_SIZE << 9;
	uint64_t end = gpa + size;
	int ret = vcpu_ok(td, vcpu);

	if (ret)
		return ret;
	if (!res || !outcome)
		return null_arg("vcpu_accept_memory", !res ? "res" : "outcome");
	*res = (struct tdxmmu_accept_memory_result){ 0 };
	*outcome = TDXMMU_OUTCOME_OK;
	if ((gpa | size) & (PAGE_SIZE - 1) || size == 0)
		return api_fail(TDXMMU_EINVAL, "accept-memory: [%#llx, +%#llx) is not a 4K-aligned, non-empty range",
				(unsigned long long)gpa, (unsigned long long)size);
	if ((ret = guest_range_ok(td, "accept-memory", gpa, size)))
		return ret;
	/* Linux's tdx_accept_memory() and try_accept_one() (hugepages ref
	 * §3.1-3.3): the largest size that fits, any non-zero status moves on
	 * to the next smaller one, a 4K failure is fatal. */
	while (gpa < end) {
		uint64_t status = 0;

		if (!(gpa & (huge - 1)) && end - gpa >= huge) {
			ret = tdxmmu_vcpu_accept_outcome(td, vcpu, gpa, 1, &status, outcome);
			if (ret || *outcome != TDXMMU_OUTCOME_OK)
				return ret;
			if (status == 0) {
				res->nr_2m++;
				gpa += huge;
				continue;
			}
			res->fallbacks++;
		}
		ret = tdxmmu_vcpu_accept_outcome(td, vcpu, gpa, 0, &status, outcome);
		if (ret || *outcome != TDXMMU_OUTCOME_OK)
			return ret;
		if (status != 0) {
			res->failed_gpa = gpa;
			res->status = status;
			*outcome = TDXMMU_OUTCOME_ERROR;
			return TDXMMU_OK;
		}
		res->nr_4k++;
		gpa += PAGE_SIZE;
	}
	return TDXMMU_OK;
}

TDXMMU_API int tdxmmu_vcpu_accept(tdxmmu_td *td, unsigned vcpu, uint64_t gpa,
				  unsigned level, uint64_t *status)
{
	enum tdxmmu_outcome o = TDXMMU_OUTCOME_OK;
	int ret = tdxmmu_vcpu_accept_outcome(td, vcpu, gpa, level, status, &o);

	if (ret || o == TDXMMU_OUTCOME_OK)
		return ret;
	/* The version-1 call has no outcome: say what stopped the TDCALL. */
	return api_fail(o == TDXMMU_OUTCOME_MMIO ? TDXMMU_ENOENT :
			o == TDXMMU_OUTCOME_BLOCKED ? TDXMMU_EBUSY :
			o == TDXMMU_OUTCOME_ERROR ? TDXMMU_ENOMEM : TDXMMU_EIO,
			"accept %#llx: outcome %s (tdxmmu_vcpu_accept_outcome() reports it)",
			(unsigned long long)gpa, tdxmmu_outcome_name(o));
}

TDXMMU_API int tdxmmu_vcpu_mapgpa(tdxmmu_td *td, unsigned vcpu, uint64_t gpa,
				  uint64_t size, enum tdxmmu_outcome *outcome)
{
	int ret = vcpu_ok(td, vcpu);
	uint64_t injected;

	/* Operands are the host's to judge (MapGPA answers `error`). */
	if (ret)
		return ret;
	if (!outcome)
		return null_arg("vcpu_mapgpa", "outcome");
	injected = kvm_enomem_injected();
	do
		ret = cpu_guest_mapgpa(td->cpu, vcpu, gpa, size, outcome);
	while (guest_enomem_retry(td, &ret, outcome, &injected));
	return guest_result(td, ret, "mapgpa");
}

/* ---- host actions: KVM's zaps by cause ---------------------------------------- */

TDXMMU_API int tdxmmu_host_invalidate(tdxmmu_td *td, uint64_t gpa, uint64_t size)
{
	uint64_t shared;
	int ret;

	if (!td)
		return null_arg("host_invalidate", "td");
	shared = tdxmmu_td_shared_bit(td);
	if ((ret = guest_range_ok(td, "invalidate", gpa, size)))
		return ret;
	/* The notifier speaks of the host range behind the GFNs: no alias. */
	gpa &= ~shared;
	ret = kvm_mmu_notifier_invalidate(td->kvm, gpa >> PAGE_SHIFT,
					  (gpa + size + PAGE_SIZE - 1) >> PAGE_SHIFT);
	return guest_result(td, ret, "invalidate");
}

TDXMMU_API int tdxmmu_memslot_delete(tdxmmu_td *td, unsigned id)
{
	int ret;

	if (!td)
		return null_arg("memslot_delete", "td");
	ret = kvm_delete_memslot(td->kvm, id);

	if (ret == -ENOENT)
		return api_fail(TDXMMU_ENOENT, "no memslot %u", id);
	return guest_result(td, ret, "delete-memslot");
}

TDXMMU_API int tdxmmu_host_zap(tdxmmu_td *td, uint64_t gpa, uint64_t size,
			       enum tdxmmu_alias alias)
{
	uint64_t shared;
	int ret;

	if (!td)
		return null_arg("host_zap", "td");
	/* An alias outside the enum names neither tree: refused, not read as
	 * "both" (issue 11, item 2.16). */
	if (alias != TDXMMU_ALIAS_BOTH && alias != TDXMMU_ALIAS_PRIVATE &&
	    alias != TDXMMU_ALIAS_SHARED)
		return api_fail(TDXMMU_EINVAL, "zap: alias %d is not both, private or shared",
				(int)alias);
	shared = tdxmmu_td_shared_bit(td);
	if ((ret = guest_range_ok(td, "zap", gpa, size)))
		return ret;
	gpa &= ~shared;
	ret = kvm_zap_gfn_range(td->kvm, gpa >> PAGE_SHIFT,
				(gpa + size + PAGE_SIZE - 1) >> PAGE_SHIFT,
				alias != TDXMMU_ALIAS_SHARED, alias != TDXMMU_ALIAS_PRIVATE);
	return guest_result(td, ret, "zap");
}

/* ---- KVM's entries, as expect-spte names them ------------------------------------ */

/* Also used by show.c. */
enum tdxmmu_spte_state api_spte_state_of(uint64_t spte)
{
	bool s = spte & SPTE_SHARED_MASK;

	if (is_removed_spte(spte))
		return TDXMMU_SPTE_FROZEN;
	if (is_private_zapped_spte(spte))
		return TDXMMU_SPTE_ZAPPED;
	if (is_shadow_present_pte(spte))
		return s ? TDXMMU_SPTE_PRESENT_SHARED : TDXMMU_SPTE_PRESENT;
	return s ? TDXMMU_SPTE_NONPRESENT_SHARED : TDXMMU_SPTE_NONPRESENT;
}

TDXMMU_API int tdxmmu_spte_state(tdxmmu_td *td, uint64_t gpa,
				 enum tdxmmu_spte_state *private_ept,
				 enum tdxmmu_spte_state *shared_ept)
{
	uint64_t priv, shr;

	if (!td || !private_ept || !shared_ept)
		return null_arg("spte_state", !td ? "td" : !private_ept ? "private_ept" : "shared_ept");
	if (!gpa_in_width(td, gpa))
		return api_fail(TDXMMU_ERANGE, "%#llx is outside the TD's GPA width",
				(unsigned long long)gpa);
	if (kvm_is_legacy_mmu(td->kvm))
		kvm_legacy_mmu_read_4k(td->kvm, (gpa & ~tdxmmu_td_shared_bit(td)) >> PAGE_SHIFT,
				       &priv, &shr);
	else
		kvm_tdp_mmu_read_4k(td->kvm, (gpa & ~tdxmmu_td_shared_bit(td)) >> PAGE_SHIFT,
				    &priv, &shr);
	if (atomic_load(&td->kvm->model_broken))
		return api_fail(TDXMMU_EBUG, "spte state: a lockless walk read a freed page-table page");
	*private_ept = api_spte_state_of(priv);
	*shared_ept = api_spte_state_of(shr);
	return TDXMMU_OK;
}
