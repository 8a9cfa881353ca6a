/* SPDX-License-Identifier: MIT */
/*
 * The emulated TDX module: creation, the SEAMCALL dispatcher (leaf/version
 * checks, counters, the cost model, BUSY injection), TD lookups, and the
 * read-only views for the CPU and for observers.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <time.h>

#include "tdx/tdx_internal.h"

/*
 * Default modeled latencies, ns. The only public per-SEAMCALL figure known to
 * this project is "each SEAMCALL takes ~7us in average" (early Linux
 * Documentation/x86/tdx.rst, measured for TDH.SYS.TDMR.INIT; see
 * tdx-module-sept.md §13). Every other value is an ASSUMPTION scaled from it
 * by the work the leaf does (entries and pages touched); docs/cost-model.md
 * explains each and how to override them (tdxmmu_cost_set, bench options).
 */
static const uint64_t default_cost_ns[TDX_NR_LEAVES] = {
	[TDH_VP_ENTER] = 1500,          /* entry half of a VM round trip */
	[TDH_MNG_ADDCX] = 7000,         /* published average */
	[TDH_MEM_PAGE_ADD] = 7000,      /* 4K copy + encrypt */
	[TDH_MEM_SEPT_ADD] = 3000,      /* walk + 4K page init */
	[TDH_VP_ADDCX] = 7000,
	[TDH_MEM_PAGE_RELOCATE] = 7000, /* 4K copy */
	[TDH_MEM_PAGE_AUG] = 3000,      /* walk + PAMT update, no copy */
	[TDH_MEM_RANGE_BLOCK] = 2500,
	[TDH_MNG_KEY_CONFIG] = 7000,
	[TDH_MNG_CREATE] = 7000,
	[TDH_VP_CREATE] = 7000,
	[TDH_MEM_PAGE_DEMOTE] = 20000,  /* 512 entries + 512 PAMT entries */
	[TDH_MR_EXTEND] = 2000,         /* 256 bytes of SHA-384 */
	[TDH_MR_FINALIZE] = 7000,
	[TDH_VP_FLUSH] = 7000,
	[TDH_MNG_VPFLUSHDONE] = 7000,
	[TDH_MNG_KEY_FREEID] = 7000,
	[TDH_MNG_INIT] = 7000,
	[TDH_VP_INIT] = 7000,
	[TDH_MEM_PAGE_PROMOTE] = 20000, /* 512-entry scan + PAMT merge */
	[TDH_MEM_SEPT_RD] = 1500,       /* walk only */
	[TDH_PHYMEM_PAGE_RECLAIM] = 1500,
	[TDH_MEM_PAGE_REMOVE] = 2500,
	[TDH_MEM_SEPT_REMOVE] = 3000,   /* 512-entry scan */
	[TDH_MEM_TRACK] = 1000,         /* epoch increment */
	[TDH_MEM_RANGE_UNBLOCK] = 2500,
	[TDH_PHYMEM_CACHE_WB] = 7000,
	[TDH_PHYMEM_PAGE_WBINVD] = 1000,
};
#define DEFAULT_TDCALL_ACCEPT_NS 2000 /* TDCALL round trip + 4K zeroing */
/* A TD exit: the VM exit and the module's exit path (state save, the
 * epoch refcount drop). Calibration, docs/cost-model.md: with it a private
 * 4K fault models to 7.5 us of SEAMCALL/TDCALL/exit time, ~8 us with the
 * model's own (KVM software) time. An ASSUMPTION. */
#define DEFAULT_TD_EXIT_NS 1000

static seamcall_fn *const handlers[TDX_NR_LEAVES] = {
	[TDH_VP_ENTER] = tdh_vp_enter,
	[TDH_MNG_ADDCX] = tdh_mng_addcx,
	[TDH_MEM_PAGE_ADD] = tdh_mem_page_add,
	[TDH_MEM_SEPT_ADD] = tdh_mem_sept_add,
	[TDH_MEM_PAGE_RELOCATE] = tdh_mem_page_relocate,
	[TDH_MEM_PAGE_AUG] = tdh_mem_page_aug,
	[TDH_MEM_RANGE_BLOCK] = tdh_mem_range_block,
	[TDH_MNG_KEY_CONFIG] = tdh_mng_key_config,
	[TDH_MNG_CREATE] = tdh_mng_create,
	[TDH_VP_CREATE] = tdh_vp_create,
	[TDH_MEM_PAGE_DEMOTE] = tdh_mem_page_demote,
	[TDH_MR_EXTEND] = tdh_mr_extend,
	[TDH_MR_FINALIZE] = tdh_mr_finalize,
	[TDH_VP_FLUSH] = tdh_vp_flush,
	[TDH_MNG_VPFLUSHDONE] = tdh_mng_vpflushdone,
	[TDH_MNG_KEY_FREEID] = tdh_mng_key_freeid,
	[TDH_MNG_INIT] = tdh_mng_init,
	[TDH_VP_INIT] = tdh_vp_init,
	[TDH_MEM_PAGE_PROMOTE] = tdh_mem_page_promote,
	[TDH_MEM_SEPT_RD] = tdh_mem_sept_rd,
	[TDH_PHYMEM_PAGE_RECLAIM] = tdh_phymem_page_reclaim,
	[TDH_MEM_PAGE_REMOVE] = tdh_mem_page_remove,
	[TDH_MEM_SEPT_REMOVE] = tdh_mem_sept_remove,
	[TDH_MEM_TRACK] = tdh_mem_track,
	[TDH_MEM_RANGE_UNBLOCK] = tdh_mem_range_unblock,
	[TDH_PHYMEM_CACHE_WB] = tdh_phymem_cache_wb,
	[TDH_PHYMEM_PAGE_WBINVD] = tdh_phymem_page_wbinvd,
};

/*
 * One destroyed module is kept, all zero, for the next: the struct is 300
 * KiB, nearly all of it the TDR reader counts (16 slots x 4096 TDs), and
 * `tdxmmu explore` makes a module per schedule, thousands a second, where
 * clearing it whole was 5% of a run. tdx_module_destroy() clears what the
 * module may have made non-zero: the counts and TD slots of the indexes
 * ever used (tds_end), and the small fields with a memset.
 */
static_assert(offsetof(struct tdx_module, td_holds) +
		      sizeof(((struct tdx_module *)0)->td_holds) ==
	      sizeof(struct tdx_module),
	      "td_holds is the module's last field (module_park)");
static pthread_mutex_t spare_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tdx_module *spare_module;

static struct tdx_module *module_alloc(void)
{
	struct tdx_module *m;

	pthread_mutex_lock(&spare_lock);
	m = spare_module;
	spare_module = NULL;
	pthread_mutex_unlock(&spare_lock);
	if (m)
		return m;
	/* Over-aligned (per-slot lines): aligned_alloc, then cleared. */
	m = aligned_alloc(HOST_CACHELINE, sizeof(*m));
	if (m)
		memset(m, 0, sizeof(*m));
	return m;
}

/* Zeroes the words of a[0, n) that are not (a page only read is not
 * faulted in). */
static void clear_u64s(_Atomic uint64_t *a, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (atomic_load_explicit(&a[i], memory_order_relaxed))
			atomic_store_explicit(&a[i], 0, memory_order_relaxed);
}

/* Clears a module whose TDs are freed and parks it as the spare, or frees
 * it when there is one. @end: its tds_end. */
static void module_park(struct tdx_module *m, unsigned end)
{
	for (unsigned i = 0; i < end; i++)
		atomic_store_explicit(&m->tds[i], NULL, memory_order_relaxed);
	for (unsigned s = 0; s < HOST_THREAD_SLOTS; s++)
		clear_u64s(m->td_holds[s].w, end);
	memset(m, 0, offsetof(struct tdx_module, tds));
	memset((char *)m + offsetof(struct tdx_module, tds_end), 0,
	       offsetof(struct tdx_module, td_holds) -
		       offsetof(struct tdx_module, tds_end));
	pthread_mutex_lock(&spare_lock);
	if (!spare_module) {
		spare_module = m;
		m = NULL;
	}
	pthread_mutex_unlock(&spare_lock);
	free(m);
}

/* At exit, so that leak checkers see the spare returned. */
__attribute__((destructor)) static void free_spare_module(void)
{
	free(spare_module);
	spare_module = NULL;
}

struct tdx_module *tdx_module_create(struct host_mem *hm, uint64_t seed)
{
	struct tdx_module *m = module_alloc();

	if (!m)
		return NULL;
	m->hm = hm;
	m->seed = seed;
	if (pamt_init(&m->pamt, host_mem_first_pfn(hm),
		      host_mem_end_pfn(hm) - host_mem_first_pfn(hm))) {
		free(m);
		return NULL;
	}
	/* Over-aligned (per-slot lock lines): aligned_alloc, then cleared. */
	m->spare_td = aligned_alloc(HOST_CACHELINE, sizeof(*m->spare_td));
	if (!m->spare_td) {
		pamt_fini(&m->pamt);
		free(m);
		return NULL;
	}
	memset(m->spare_td, 0, sizeof(*m->spare_td));
	pthread_mutex_init(&m->td_table_lock, NULL);
	memcpy(m->cost_ns, default_cost_ns, sizeof(m->cost_ns));
	m->tdcall_cost_ns = DEFAULT_TDCALL_ACCEPT_NS;
	m->exit_cost_ns = DEFAULT_TD_EXIT_NS;
	return m;
}

void tdx_module_destroy(struct tdx_module *m)
{
	unsigned end;

	if (!m)
		return;
	/* The vCPUs kept by tdx_vcpu_of_tdvpr() go with it. */
	atomic_fetch_add_explicit(&tdx_vcpu_map_gen, 1, memory_order_seq_cst);
	/* TDs never reclaimed (a host that did not tear down) die with the
	 * module. Only the indexes ever used: 4095 calls of free(NULL) were
	 * ~12 us of every TD's teardown. */
	end = atomic_load_explicit(&m->tds_end, memory_order_acquire);
	for (unsigned i = 1; i < end; i++) {
		struct tdx_td *td = atomic_load_explicit(&m->tds[i], memory_order_relaxed);

		if (td)
			free(td);
	}
	free(m->spare_td);
	pamt_fini(&m->pamt);
	pthread_mutex_destroy(&m->td_table_lock);
	module_park(m, end);
}

void tdx_module_inject_busy(struct tdx_module *m, uint32_t ppm)
{
	tdx_module_inject_busy_leaf(m, -1, ppm);
}

/* Recomputes the per-leaf fast-path flags after a control call. */
static void busy_rearm(struct tdx_module *m)
{
	bool any = atomic_load_explicit(&m->busy_nth_mode[TDX_NR_LEAVES],
					memory_order_relaxed) != 0 ||
		   atomic_load_explicit(&m->err_nth_mode[TDX_NR_LEAVES],
					memory_order_relaxed) != 0;

	for (int i = 0; i < TDX_NR_LEAVES; i++)
		atomic_store_explicit(&m->busy_armed[i],
				      any || atomic_load_explicit(&m->busy_ppm[i], memory_order_relaxed) ||
					      atomic_load_explicit(&m->busy_nth_mode[i],
								   memory_order_relaxed) ||
					      atomic_load_explicit(&m->err_ppm[i], memory_order_relaxed) ||
					      atomic_load_explicit(&m->err_nth_mode[i],
								   memory_order_relaxed),
				      memory_order_relaxed);
}

void tdx_module_inject_busy_leaf(struct tdx_module *m, int leaf, uint32_t ppm)
{
	if (ppm > 1000000)
		ppm = 1000000;
	for (int i = 0; i < TDX_NR_LEAVES; i++)
		if (leaf < 0 || i == leaf)
			atomic_store(&m->busy_ppm[i], ppm);
	busy_rearm(m);
}

void tdx_module_inject_busy_nth(struct tdx_module *m, int leaf, uint64_t n, bool persistent)
{
	unsigned i = leaf < 0 || leaf >= TDX_NR_LEAVES ? TDX_NR_LEAVES : (unsigned)leaf;

	/* Mode off first: no call may count down a stale target. */
	atomic_store_explicit(&m->busy_nth_mode[i], 0, memory_order_relaxed);
	atomic_store_explicit(&m->busy_countdown[i], n > INT64_MAX ? INT64_MAX : (int64_t)n,
			      memory_order_relaxed);
	if (n)
		atomic_store_explicit(&m->busy_nth_mode[i], persistent ? 2 : 1,
				      memory_order_relaxed);
	busy_rearm(m);
}

void tdx_module_inject_status_nth(struct tdx_module *m, int leaf, uint64_t status,
				  uint64_t n, bool persistent)
{
	unsigned i = leaf < 0 || leaf >= TDX_NR_LEAVES ? TDX_NR_LEAVES : (unsigned)leaf;

	atomic_store_explicit(&m->err_nth_mode[i], 0, memory_order_relaxed);
	atomic_store_explicit(&m->err_status[i], status, memory_order_relaxed);
	atomic_store_explicit(&m->err_countdown[i], n > INT64_MAX ? INT64_MAX : (int64_t)n,
			      memory_order_relaxed);
	if (n)
		atomic_store_explicit(&m->err_nth_mode[i], persistent ? 2 : 1,
				      memory_order_relaxed);
	busy_rearm(m);
}

void tdx_module_inject_status_leaf(struct tdx_module *m, int leaf, uint64_t status,
				   uint32_t ppm)
{
	if (ppm > 1000000)
		ppm = 1000000;
	for (int i = 0; i < TDX_NR_LEAVES; i++)
		if (leaf < 0 || i == leaf) {
			atomic_store(&m->err_ppm_status[i], status);
			atomic_store(&m->err_ppm[i], ppm);
		}
	busy_rearm(m);
}

void tdx_module_inject_clear(struct tdx_module *m)
{
	/* Modes off first, as the setters do: no call may count down a
	 * stale target. */
	for (int i = 0; i <= TDX_NR_LEAVES; i++) {
		atomic_store_explicit(&m->busy_nth_mode[i], 0, memory_order_relaxed);
		atomic_store_explicit(&m->err_nth_mode[i], 0, memory_order_relaxed);
		atomic_store_explicit(&m->busy_countdown[i], 0, memory_order_relaxed);
		atomic_store_explicit(&m->err_countdown[i], 0, memory_order_relaxed);
		atomic_store_explicit(&m->err_status[i], 0, memory_order_relaxed);
	}
	for (int i = 0; i < TDX_NR_LEAVES; i++) {
		atomic_store(&m->busy_ppm[i], 0);
		atomic_store(&m->err_ppm[i], 0);
		atomic_store(&m->err_ppm_status[i], 0);
	}
	busy_rearm(m);
}

uint64_t tdx_module_status_hits(const struct tdx_module *m)
{
	return atomic_load_explicit(&m->err_hits, memory_order_relaxed);
}

uint64_t tdx_module_busy_gave_up(const struct tdx_module *m)
{
	return atomic_load_explicit(&m->busy_gave_up, memory_order_relaxed);
}

uint64_t tdx_module_busy_hits(const struct tdx_module *m)
{
	return atomic_load_explicit(&m->busy_hits, memory_order_relaxed);
}

void tdx_module_set_cost(struct tdx_module *m, int leaf, uint64_t ns)
{
	if (leaf >= 0 && leaf < TDX_NR_LEAVES)
		m->cost_ns[leaf] = ns;
}

uint64_t tdx_module_cost(const struct tdx_module *m, int leaf)
{
	return leaf >= 0 && leaf < TDX_NR_LEAVES ? m->cost_ns[leaf] : 0;
}

void tdx_module_set_tdcall_cost(struct tdx_module *m, uint64_t ns)
{
	m->tdcall_cost_ns = ns;
}

uint64_t tdx_module_tdcall_cost(const struct tdx_module *m)
{
	return m->tdcall_cost_ns;
}

void tdx_module_set_exit_cost(struct tdx_module *m, uint64_t ns)
{
	m->exit_cost_ns = ns;
}

uint64_t tdx_module_exit_cost(const struct tdx_module *m)
{
	return m->exit_cost_ns;
}

/* A counter summed over the thread slots; offset within the per-slot
 * struct. */
static uint64_t counter_sum(const struct tdx_module *m, size_t offset)
{
	return host_thread_slots_sum((const char *)&m->counters[0] + offset,
				     sizeof(m->counters[0]));
}
#define COUNTER_SUM(m, field) \
	counter_sum((m), offsetof(struct tdx_module_counters, field))

uint64_t tdx_module_exits(const struct tdx_module *m)
{
	return COUNTER_SUM(m, exits);
}

uint64_t tdx_module_pamt_resident_bytes(const struct tdx_module *m)
{
	return pamt_resident_bytes(&m->pamt);
}

uint64_t tdx_module_calls(const struct tdx_module *m, int leaf)
{
	return leaf >= 0 && leaf < TDX_NR_LEAVES ? counter_sum(m, offsetof(struct tdx_module_counters, calls) +
						       (size_t)leaf * sizeof(uint64_t)) : 0;
}

/* This thread's SEAMCALLs that answered an injected BUSY (tdx_module.h). */
static _Thread_local uint64_t busy_injected_here;

uint64_t tdx_module_busy_injected(const struct tdx_module *m)
{
	return COUNTER_SUM(m, busy_injected);
}

uint64_t tdx_busy_injected_here(void)
{
	return busy_injected_here;
}

/* A persistent countdown has fired once its count went below 1
 * (busy_nth_step() counts down before it compares). */
static bool busy_nth_fired_persistent(struct tdx_module *m, unsigned i)
{
	return atomic_load_explicit(&m->busy_nth_mode[i], memory_order_relaxed) == 2 &&
	       atomic_load_explicit(&m->busy_countdown[i], memory_order_relaxed) < 1;
}

/* This thread's last SEAMCALL, if it answered an injected BUSY: its module
 * and leaf, and whether the BUSY was an injected status (`inject status=`)
 * rather than injected contention. Read by tdx_last_busy_hopeless(). */
static _Thread_local struct tdx_module *busy_last_m;
static _Thread_local int busy_last_leaf;
static _Thread_local bool busy_last_status;
/* How many times tdx_last_busy_hopeless() said so on this thread. */
static _Thread_local uint64_t busy_gave_up_here;

uint64_t tdx_busy_gave_up_here(void)
{
	return busy_gave_up_here;
}

bool tdx_last_busy_hopeless(void)
{
	struct tdx_module *m = busy_last_m;
	int leaf = busy_last_leaf;
	uint64_t s;

	bool hopeless;

	if (!m)
		return false;
	if (!busy_last_status) {
		hopeless = tdx_module_busy_hopeless(m, leaf);
	} else {
		s = atomic_load_explicit(&m->err_ppm_status[leaf], memory_order_relaxed);
		hopeless = atomic_load_explicit(&m->err_ppm[leaf], memory_order_relaxed) >= 1000000 &&
			   (tdx_status_is(s, TDX_OPERAND_BUSY) ||
			    tdx_status_is(s, TDX_OPERAND_BUSY_HOST_PRIORITY));
	}
	if (hopeless) {
		atomic_fetch_add_explicit(&m->busy_gave_up, 1, memory_order_relaxed);
		busy_gave_up_here++;
		busy_last_m = NULL; /* counted once per BUSY */
	}
	return hopeless;
}

bool tdx_module_busy_hopeless(struct tdx_module *m, int leaf)
{
	if (leaf < 0 || leaf >= TDX_NR_LEAVES)
		return false;
	return atomic_load_explicit(&m->busy_ppm[leaf], memory_order_relaxed) >= 1000000 ||
	       busy_nth_fired_persistent(m, (unsigned)leaf) ||
	       busy_nth_fired_persistent(m, TDX_NR_LEAVES);
}

uint64_t tdx_module_accepts(const struct tdx_module *m)
{
	return COUNTER_SUM(m, accepts);
}

void tdx_module_set_trace(struct tdx_module *m, FILE *f, uint64_t mask)
{
	m->trace = f;
	m->trace_mask = mask;
}

static void module_trace(struct tdx_module *m, unsigned hkid, enum trace_event ev,
			 const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void module_trace(struct tdx_module *m, unsigned hkid, enum trace_event ev,
			 const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	trace_vline(m->trace, hkid, tdx_module_modeled_ns(m), ev, fmt, ap);
	va_end(ap);
}

void tdx_trace_sept(struct tdx_module *m, const struct tdx_td *td, uint64_t gpa,
		    unsigned level, uint64_t old, uint64_t new_value)
{
	module_trace(m, td->hkid, TRACE_EV_tdx_sept_entry_changed,
		     "gpa 0x%llx level %u old 0x%llx new 0x%llx %s -> %s tree sept",
		     (unsigned long long)gpa, level + 1, (unsigned long long)old,
		     (unsigned long long)new_value,
		     tdx_sept_state_name(sept_state(old)),
		     tdx_sept_state_name(sept_state(new_value)));
}

uint64_t tdx_module_modeled_ns(const struct tdx_module *m)
{
	/* Saturating, as each slot's count is (host_counter_add_sat()). */
	return host_thread_slots_sum_sat((const char *)&m->counters[0] +
					 offsetof(struct tdx_module_counters, modeled_ns),
					 sizeof(m->counters[0]));
}

static uint64_t splitmix64(uint64_t x)
{
	x += 0x9E3779B97F4A7C15ULL;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
	return x ^ (x >> 31);
}

_Thread_local bool tdx_busy_armed;

/* One draw per SEAMCALL of a leaf whose share is not zero: deterministic on
 * one thread (the draw counter orders the calls). */
/* One step of countdown i: true for the n-th call (and, persistent, every
 * later one). */
static bool busy_nth_step(struct tdx_module *m, unsigned i)
{
	int mode = atomic_load_explicit(&m->busy_nth_mode[i], memory_order_relaxed);
	int64_t left;

	if (!mode)
		return false;
	left = atomic_fetch_sub_explicit(&m->busy_countdown[i], 1, memory_order_relaxed);
	return left == 1 || (left < 1 && mode == 2);
}

/* Kept out of line: seamcall() pays only the load and branch below while
 * nothing is injected. */
__attribute__((noinline, cold)) static bool inject_busy_draw(struct tdx_module *m, int leaf)
{
	uint32_t ppm;
	bool hit;

	/* Both countdowns step on every call of the leaf. */
	hit = busy_nth_step(m, (unsigned)leaf) | busy_nth_step(m, TDX_NR_LEAVES);
	ppm = atomic_load_explicit(&m->busy_ppm[leaf], memory_order_relaxed);
	if (!hit && ppm)
		hit = splitmix64(m->seed ^ atomic_fetch_add_explicit(&m->busy_draws, 1,
								     memory_order_relaxed)) %
			      1000000 < ppm;
	if (hit)
		atomic_fetch_add_explicit(&m->busy_hits, 1, memory_order_relaxed);
	return hit;
}

/* One step of error countdown i: its status for the n-th call (and,
 * persistent, every later one), else 0. */
static uint64_t err_nth_step(struct tdx_module *m, unsigned i)
{
	int mode = atomic_load_explicit(&m->err_nth_mode[i], memory_order_relaxed);
	int64_t left;

	if (!mode)
		return 0;
	left = atomic_fetch_sub_explicit(&m->err_countdown[i], 1, memory_order_relaxed);
	if (left == 1 || (left < 1 && mode == 2))
		return atomic_load_explicit(&m->err_status[i], memory_order_relaxed);
	return 0;
}

/* The error status this call of @leaf is to answer, or 0. Both countdowns
 * step on every call of the leaf (the leaf's own wins if both pick it);
 * the share draws only when no countdown picked the call. */
__attribute__((noinline, cold)) static uint64_t inject_status_draw(struct tdx_module *m,
								   int leaf)
{
	uint64_t own = err_nth_step(m, (unsigned)leaf);
	uint64_t any = err_nth_step(m, TDX_NR_LEAVES);
	uint64_t status = own ? own : any;
	uint32_t ppm = atomic_load_explicit(&m->err_ppm[leaf], memory_order_relaxed);

	if (!status && ppm &&
	    splitmix64(~m->seed ^ atomic_fetch_add_explicit(&m->err_draws, 1,
							    memory_order_relaxed)) %
			    1000000 < ppm)
		status = atomic_load_explicit(&m->err_ppm_status[leaf], memory_order_relaxed);
	if (status)
		atomic_fetch_add_explicit(&m->err_hits, 1, memory_order_relaxed);
	return status;
}

static inline bool inject_busy_now(struct tdx_module *m, int leaf)
{
	if (!atomic_load_explicit(&m->busy_armed[leaf], memory_order_relaxed))
		return false;
	return inject_busy_draw(m, leaf);
}

/* Leaves whose handler takes version > 0 (the module's dispatcher lets
 * these through and each refuses a version above 1 itself, writing its
 * output registers as it does so). */
static bool leaf_has_versions(int leaf)
{
	return leaf == TDH_MEM_SEPT_ADD || leaf == TDH_MEM_SEPT_REMOVE ||
	       leaf == TDH_MEM_PAGE_PROMOTE;
}

uint64_t seamcall(struct tdx_module *m, struct seamcall_regs *regs)
{
	uint64_t rax = regs->rax;
	int leaf = (int)(rax & 0xFFFF);
	unsigned version = (unsigned)((rax >> 16) & 0xFF);
	uint64_t status;
	bool armed;

	if (leaf < TDX_NR_LEAVES) {
		struct tdx_module_counters *k = tdx_counters_mine(m);

		host_slot_counter_add(&k->calls[leaf], 1);
		/* Saturating: a cost override may be UINT64_MAX. */
		host_slot_counter_add_sat(&k->modeled_ns, m->cost_ns[leaf]);
	}
	if ((rax >> 24) || leaf >= TDX_NR_LEAVES || !handlers[leaf])
		return regs->rax = TDX_OPERAND_INVALID + TDX_OPERAND_ID_RAX;
	if (version > 0 && !leaf_has_versions(leaf))
		return regs->rax = TDX_OPERAND_INVALID + TDX_OPERAND_ID_RAX;
	armed = false;
	busy_last_m = NULL;
	if (atomic_load_explicit(&m->busy_armed[leaf], memory_order_relaxed)) {
		/* An injected error: the module refuses the call before
		 * doing anything, as it refuses one whose operands it
		 * rejects; the other registers are left as they came. */
		status = inject_status_draw(m, leaf);
		if (status) {
			busy_last_m = m;
			busy_last_leaf = leaf;
			busy_last_status = true;
			return regs->rax = status;
		}
		armed = inject_busy_now(m, leaf);
	}
	tdx_busy_armed = armed;
	status = handlers[leaf](m, regs);
	/* Consumed: the handler reached a try-lock and answered the BUSY
	 * (a leaf that fails a check before its first lock never does). */
	if (armed && !tdx_busy_armed) {
		atomic_fetch_add_explicit(&tdx_counters_mine(m)->busy_injected, 1,
					  memory_order_relaxed);
		busy_injected_here++;
		busy_last_m = m;
		busy_last_leaf = leaf;
		busy_last_status = false;
	}
	tdx_busy_armed = false;
	return regs->rax = status;
}

/*
 * Spreads the 2M record w over the 4K records of its range, from the page it
 * still stands for up (making the leaf), and drops it: a 4K page of the
 * range is freed or written back out of KVM's order. Under the range's
 * pamt_wb_lock(); the 4K records are stored before the 2M one goes (release),
 * so a reader that finds no 2M record finds them.
 */
static void wb2m_split(struct tdx_module *m, pfn_t first, _Atomic uint64_t *w2m,
		       uint64_t w)
{
	for (unsigned j = pamt_wb2m_next(w); j < 512; j++)
		atomic_store_explicit(pamt_wb(&m->pamt, first + j), (uint32_t)w,
				      memory_order_relaxed);
	atomic_store_explicit(w2m, 0, memory_order_release);
}

/*
 * Why no lock is needed on the fast paths below (a 4K page's record while
 * its range has no 2M record): a 2M record appears only when a 2M page is
 * freed, and that SEAMCALL holds the range's 2M PAMT entry exclusive, which
 * every call on a 4K page of the range holds shared (the PAMT walk). It goes
 * away under the lock, after the 4K records it leaves (wb2m_split()).
 */
void tdx_page_freed(struct tdx_module *m, struct tdx_td *td, pfn_t pfn,
		    unsigned size_level, bool is_tdr)
{
	unsigned key = is_tdr ? TDX_GLOBAL_KEYID : td->hkid;
	uint64_t n = sept_level_pages(size_level);
	uint32_t rec = 0;

	/* Once the TD's key is free its CACHE.WB has completed (KEY.FREEID
	 * refuses otherwise): the TD's own lines are gone. */
	if (is_tdr || atomic_load(&td->lifecycle) != TD_TEARDOWN)
		rec = key | (atomic_load(&m->kot_wb_gen[key]) << 8);
	if (size_level == 0) {
		pfn_t first = pfn & ~(pfn_t)511;
		_Atomic uint64_t *w2m;
		uint64_t w;

		if (!pamt_wb2m_if_present(&m->pamt, pfn)) {
			atomic_store_explicit(pamt_wb(&m->pamt, pfn), rec,
					      memory_order_relaxed);
			return;
		}
		/* A page of a freed 2M page, given to a TD at 4K before
		 * being written back, and freed again. */
		w2m = pamt_wb2m(&m->pamt, pfn);
		pthread_mutex_lock(pamt_wb_lock(&m->pamt, pfn));
		w = atomic_load_explicit(w2m, memory_order_relaxed);
		if (w && pfn - first >= pamt_wb2m_next(w))
			wb2m_split(m, first, w2m, w);
		atomic_store_explicit(pamt_wb(&m->pamt, pfn), rec, memory_order_relaxed);
		pthread_mutex_unlock(pamt_wb_lock(&m->pamt, pfn));
		return;
	}
	/* 2M and 1G pages: one record per 2M range, no leaf made (a 1 TiB TD
	 * at 2M would otherwise make 3 GiB of them at teardown). The leaf's
	 * 4K records, if it exists, are older: they go. */
	for (uint64_t i = 0; i < n; i += 512) {
		/* The range's 4K records, one array in its leaf, if any. */
		_Atomic uint32_t *wb4k = pamt_wb_if_present(&m->pamt, pfn + i);

		pthread_mutex_lock(pamt_wb_lock(&m->pamt, pfn + i));
		for (unsigned j = 0; wb4k && j < 512; j++)
			atomic_store_explicit(&wb4k[j], 0, memory_order_relaxed);
		atomic_store_explicit(pamt_wb2m(&m->pamt, pfn + i), rec, memory_order_release);
		pthread_mutex_unlock(pamt_wb_lock(&m->pamt, pfn + i));
	}
}

void tdx_page_written_back(struct tdx_module *m, pfn_t pfn, unsigned key)
{
	pfn_t first = pfn & ~(pfn_t)511;
	unsigned j = (unsigned)(pfn - first);
	_Atomic uint32_t *wb4k;
	_Atomic uint64_t *w2m;
	uint64_t w;

	if (!pamt_wb2m_if_present(&m->pamt, pfn)) {
		/* No record was ever made for a page without a leaf. */
		wb4k = pamt_wb_if_present(&m->pamt, pfn);
		if (wb4k && (atomic_load_explicit(wb4k, memory_order_relaxed) & 0xFF) == key)
			atomic_store_explicit(wb4k, 0, memory_order_relaxed);
		return;
	}
	w2m = pamt_wb2m(&m->pamt, pfn);
	pthread_mutex_lock(pamt_wb_lock(&m->pamt, pfn));
	w = atomic_load_explicit(w2m, memory_order_relaxed);
	if (w && j >= pamt_wb2m_next(w)) {
		if ((w & 0xFF) != key) {
			/* Another key's write-back leaves the lines. */
		} else if (j == pamt_wb2m_next(w)) {
			/* KVM's order (§6.3): the record moves on, and goes
			 * with the last page. */
			atomic_store_explicit(w2m, j == 511 ? 0 : w + (1ULL << PAMT_WB2M_NEXT_SHIFT),
					      memory_order_release);
		} else {
			wb2m_split(m, first, w2m, w);
			atomic_store_explicit(pamt_wb(&m->pamt, pfn), 0, memory_order_relaxed);
		}
	} else if ((wb4k = pamt_wb_if_present(&m->pamt, pfn)) &&
		   (atomic_load_explicit(wb4k, memory_order_relaxed) & 0xFF) == key) {
		atomic_store_explicit(wb4k, 0, memory_order_relaxed);
	}
	pthread_mutex_unlock(pamt_wb_lock(&m->pamt, pfn));
}

uint64_t tdx_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void tdx_module_set_track_hold_ns(struct tdx_module *m, uint64_t ns)
{
	atomic_store(&m->track_hold_ns, ns);
}

void tdx_module_pend_host_interrupts(struct tdx_module *m, unsigned n)
{
	atomic_store(&m->wbt_pending_interrupts, n);
}

/* Whether a dirty-line record still stands: its key's write-back count has
 * not moved since the page was freed. */
static bool wb_record_dirty(struct tdx_module *m, uint32_t rec, unsigned *keyid)
{
	unsigned key = rec & 0xFF;

	if (!key || (rec >> 8) != (atomic_load(&m->kot_wb_gen[key]) & 0xFFFFFF))
		return false;
	if (keyid)
		*keyid = key;
	return true;
}

bool tdx_debug_frame_dirty(struct tdx_module *m, pfn_t pfn, unsigned *keyid)
{
	if (!pamt_covers(&m->pamt, pfn))
		return false;
	return wb_record_dirty(m, pamt_wb_effective(pamt_wb2m_if_present(&m->pamt, pfn),
						    pamt_wb_if_present(&m->pamt, pfn),
						    (unsigned)(pfn & 511)),
			       keyid);
}

static uint64_t count_dirty(pfn_t pfn, uint32_t rec, void *arg)
{
	(void)pfn;
	return wb_record_dirty(arg, rec, NULL);
}

/* Only the 2M ranges whose PAMT leaf exists can hold a freed page. */
uint64_t tdx_debug_dirty_frames(struct tdx_module *m)
{
	return pamt_wb_foreach(&m->pamt, count_dirty, m);
}


struct tdx_td *tdx_td_of_tdr_pfn(struct tdx_module *m, pfn_t tdr)
{
	uint64_t e;
	struct tdx_td *td;

	if (!pamt_covers(&m->pamt, tdr))
		return NULL;
	e = atomic_load_explicit(pamt_entry(&m->pamt, tdr, 0), memory_order_acquire);
	if (pamt_pt(e) != PT_TDR)
		return NULL;
	td = tdx_td_by_index(m, pamt_owner(e));
	return td && td->tdr == tdr ? td : NULL;
}

/*
 * The last vCPU this thread found by its TDVPR (issue 15): a private fault
 * looks its vCPU up six times (VP.ENTER, three CPU walks, ACCEPT, the exit),
 * each a PAMT lookup, the TD table and a scan of the TD's TDVPRs. A TDVPR
 * page names the same vCPU until it is reclaimed (a page becomes a TDVPR
 * only through VP.CREATE on a free page, which a reclaim made free), and a
 * TD's memory goes only with the TDR's reclaim or the module: each of those
 * moves tdx_vcpu_map_gen first, so an answer kept under the same generation
 * is the one the lookup gives now. It is as safe to use as the lookup's
 * own: every caller holds the TDVPR (shared while the vCPU is in guest
 * mode, from VP.ENTER to the exit), so no reclaim runs under it.
 */
_Atomic uint64_t tdx_vcpu_map_gen;
_Thread_local struct tdx_vcpu_seen tdx_vcpu_seen;

/* The lookup itself; the kept answer is tried first, inline
 * (tdx_vcpu_of_tdvpr(), tdx_internal.h). */
struct tdx_vcpu *tdx_vcpu_of_tdvpr_slow(struct tdx_module *m, pfn_t tdvpr,
					struct tdx_td **tdp)
{
	uint64_t e, gen = atomic_load_explicit(&tdx_vcpu_map_gen, memory_order_acquire);
	struct tdx_td *td;

	if (!pamt_covers(&m->pamt, tdvpr))
		return NULL;
	e = atomic_load_explicit(pamt_entry(&m->pamt, tdvpr, 0), memory_order_acquire);
	if (pamt_pt(e) != PT_TDVPR)
		return NULL;
	td = tdx_td_by_index(m, pamt_owner(e));
	if (!td)
		return NULL;
	for (unsigned i = 0, n = atomic_load_explicit(&td->nr_vcpus, memory_order_acquire);
	     i < n; i++) {
		if (td->vcpu_tdvpr[i] == tdvpr) {
			if (tdp)
				*tdp = td;
			tdx_vcpu_seen.m = m;
			tdx_vcpu_seen.tdvpr = tdvpr;
			tdx_vcpu_seen.gen = gen;
			tdx_vcpu_seen.td = td;
			tdx_vcpu_seen.v = &td->vcpus[i];
			return &td->vcpus[i];
		}
	}
	return NULL;
}

/*
 * The CPU's walk hint (issue 15, round 3). Each of a private fault's three
 * CPU walks starts in the same 4K-leaf table (the paging-structure cache's
 * entry), and each paid for the vCPU lookup, the table's PAMT entry (the
 * missed-flush check below) and its frame lookup before reading one entry.
 * A walk that did all three keeps their answers for the next walk from the
 * same table (struct tdx_hw_walk_hint), which takes them as they are while
 *  - tdx_vcpu_map_gen reads the same: the TDVPR still names the vCPU and
 *    its TD is still there (the argument of vcpu_seen above);
 *  - td->sept_shape reads the same, nothing in progress: every change of a
 *    page's PAMT entry away from PT_EPT of its TD (SEPT.REMOVE, PROMOTE,
 *    the reclaim of an S-EPT page; tdx_sept_page_pamt_set()) counts itself
 *    in progress there before its store and done after, and the hint was
 *    kept only if the shape read the same, none in progress, before the
 *    PAMT check and after it. So the check would pass now, as it did
 *    (the argument of the module's walk hints, sept.c);
 *  - the frame's metadata still says materialised under the TD's key
 *    (host_frame_raw_kept()): the frame lookup would give the same pointer.
 * The root and level checks are made every time (the root changes at a
 * teardown without any of the above). Not while exploring: the PAMT check
 * has a schedule point of its own.
 */
static bool hw_walk_hinted(struct tdx_module *m, hpa_t tdvpr, pfn_t table,
			   const struct tdx_hw_walk_hint *hint)
{
	return hint && !sched_enabled() && hint->table == table && hint->m == m &&
	       hint->tdvpr == tdvpr &&
	       hint->gen == atomic_load_explicit(&tdx_vcpu_map_gen, memory_order_acquire) &&
	       hint->shape == atomic_load_explicit(&hint->td->sept_shape,
						   memory_order_acquire) &&
	       host_frame_raw_kept(hint->meta, hint->td->hkid);
}

/* cached: start in start_table (at start_level) instead of the root. */
/* The walk's leaf at level: what the CPU does with it. */
static inline void hw_walk_leaf(const struct tdx_td *td, uint64_t e, unsigned level,
				uint64_t gpa, struct tdx_hw_walk *out)
{
	enum tdx_sept_state s = sept_state(e);
	uint64_t off = gpa & ((PAGE_SIZE << (9 * level)) - 1) & PAGE_MASK;

	if (s == SEPT_MAPPED || s == SEPT_PENDING) {
		out->kind = s == SEPT_MAPPED ? TDX_HW_MAPPED : TDX_HW_PENDING;
		out->hpa = (sept_hpa(e) & ~((PAGE_SIZE << (9 * level)) - 1)) + off;
	}
	/* ATTRIBUTES.SEPT_VE_DISABLE (TDH.MNG.INIT): a PENDING page is not
	 * the guest's #VE but a TD exit, an EPT violation whose extended
	 * qualification says so (issue 11 item 2.3; the attribute used to be
	 * stored and ignored). */
	if (s == SEPT_PENDING && td->pending_ve_disable) {
		out->kind = TDX_HW_VIOLATION;
		out->ext_exit_qual = TDX_EXT_EXIT_QUAL_TYPE_PENDING_EPT_VIOLATION;
	}
}

/* Field by field: nl_table[] is read only where nl_mask says it was
 * written, and clearing the whole struct was a `rep stos`, a third of
 * hw_walk's samples (three CPU walks per private fault). */
static inline void hw_walk_out_init(struct tdx_hw_walk *out)
{
	out->kind = TDX_HW_VIOLATION;
	out->hpa = 0;
	out->level = 0;
	out->keyid = 0;
	out->ext_exit_qual = 0;
	out->root = 0;
	out->top_level = 0;
	out->nl_mask = 0;
	out->reads = 0;
}

/*
 * A walk from a 4K-leaf table whose checks the hint keeps (most CPU walks):
 * the same steps as hw_walk() from such a table, without the lookups, in a
 * function small enough to cost what it does.
 */
static void hw_walk_hinted_leaf(const struct tdx_hw_walk_hint *hint, uint64_t gpa,
				pfn_t root, pfn_t start_table, struct tdx_hw_walk *out)
{
	const struct tdx_td *td = hint->td;
	_Atomic uint64_t *ep;
	uint64_t e;

	hw_walk_out_init(out);
	if (gpa >> td->gpaw_bit)
		return;
	out->keyid = td->hkid;
	out->root = td->sept_root;
	out->top_level = td->pwl;
	if (root != td->sept_root || td->pwl == 0) {
		out->kind = TDX_HW_STALE_TABLE;
		out->hpa = pfn_to_hpa(start_table);
		return;
	}
	ep = &hint->entries[sept_index(gpa, 0)];
	SCHED_POINT(SCHED_SEPT_READ, SCHED_R, ep, "S-EPT entry (CPU walk)");
	e = atomic_load_explicit(ep, memory_order_acquire) & ~SEPT_LOCK_BITS;
	out->reads = 1;
	if (sept_is_leaf(e))
		hw_walk_leaf(td, e, 0, gpa, out);
}

/* hinted: hw_walk_hinted() said the hint holds (only for a cached walk). */
static void hw_walk(struct tdx_module *m, hpa_t tdvpr, uint64_t gpa,
		    bool cached, pfn_t root, unsigned start_level, pfn_t start_table,
		    struct tdx_hw_walk_hint *hint, bool hinted, struct tdx_hw_walk *out)
{
	struct tdx_td *td = NULL;
	struct tdx_vcpu *v = NULL;
	_Atomic uint64_t *table;
	unsigned level;
	uint64_t gen = 0;

	hw_walk_out_init(out);
	if (hinted) {
		td = hint->td;
	} else {
		/* Read before the lookup: the generation its answer is for. */
		gen = atomic_load_explicit(&tdx_vcpu_map_gen, memory_order_acquire);
		v = tdx_vcpu_of_tdvpr(m, hpa_to_pfn(tdvpr), &td);
	}
	if ((!hinted && !v) || (gpa >> td->gpaw_bit))
		return;
	out->keyid = td->hkid;
	out->root = td->sept_root;
	out->top_level = td->pwl;
	level = td->pwl;
	if (hinted) {
		if (root != td->sept_root || start_level >= td->pwl) {
			out->kind = TDX_HW_STALE_TABLE;
			out->level = start_level;
			out->hpa = pfn_to_hpa(start_table);
			return;
		}
		level = start_level;
		table = hint->entries;
	} else if (cached) {
		/* A cached entry: hardware would walk on from whatever the
		 * frame holds now; the model checks that it is still one of
		 * the TD's S-EPT pages, so that a missed flush is seen. The
		 * root's table is not mapped: a walk from the TLB's
		 * paging-structure cache (most of them) never reads it. */
		_Atomic uint64_t *pp = pamt_entry(&m->pamt, start_table, 0);
		uint64_t pe, shape = 0;

		if (hint)
			shape = atomic_load_explicit(&td->sept_shape, memory_order_acquire);
		SCHED_POINT(SCHED_PAMT_READ, SCHED_R, pp,
			    "cached S-EPT table's PAMT entry");
		pe = atomic_load_explicit(pp, memory_order_acquire);
		if (root != td->sept_root || start_level >= td->pwl ||
		    pamt_pt(pe) != PT_EPT || pamt_owner(pe) != td->index) {
			out->kind = TDX_HW_STALE_TABLE;
			out->level = start_level;
			out->hpa = pfn_to_hpa(start_table);
			return;
		}
		level = start_level;
		if (hint && shape_count_settled(shape) && !sched_enabled()) {
			const _Atomic uint32_t *meta;

			table = host_frame_raw_keep(m->hm, start_table, td->hkid, &meta);
			/* The second read of the seqlock: no fence needed, the
			 * PAMT load above was an acquire (sept.c says why). */
			if (atomic_load_explicit(&td->sept_shape, memory_order_acquire) == shape) {
				hint->m = m;
				hint->tdvpr = tdvpr;
				hint->table = start_table;
				hint->gen = gen;
				hint->shape = shape;
				hint->td = td;
				hint->entries = table;
				hint->meta = meta;
			}
		} else {
			table = tdx_sept_page(m, td, start_table);
		}
	} else {
		table = tdx_sept_page(m, td, td->sept_root);
	}
	for (;; level--) {
		_Atomic uint64_t *ep = &table[sept_index(gpa, level)];
		uint64_t e;

		SCHED_POINT(SCHED_SEPT_READ, SCHED_R, ep, "S-EPT entry (CPU walk)");
		e = atomic_load_explicit(ep, memory_order_acquire) & ~SEPT_LOCK_BITS;
		out->reads++;

		out->level = level;
		if (sept_is_leaf(e)) {
			hw_walk_leaf(td, e, level, gpa, out);
			return;
		}
		if (!sept_is_present(e) || level == 0)
			return;
		out->nl_mask |= 1u << level;
		out->nl_table[level] = hpa_to_pfn(sept_hpa(e));
		table = tdx_sept_page(m, td, hpa_to_pfn(sept_hpa(e)));
	}
}

void tdx_hw_walk(struct tdx_module *m, hpa_t tdvpr, uint64_t gpa,
		 struct tdx_hw_walk *out)
{
	hw_walk(m, tdvpr, gpa, false, 0, 0, 0, NULL, false, out);
}

void tdx_hw_walk_from(struct tdx_module *m, hpa_t tdvpr, uint64_t gpa,
		      pfn_t root, unsigned level, pfn_t table,
		      struct tdx_hw_walk_hint *hint, struct tdx_hw_walk *out)
{
	bool hinted = hw_walk_hinted(m, tdvpr, table, hint);

	if (hinted && level == 0) {
		hw_walk_hinted_leaf(hint, gpa, root, table, out);
		return;
	}
	hw_walk(m, tdvpr, gpa, true, root, level, table, hint, hinted, out);
}

bool tdx_debug_sept_state(struct tdx_module *m, hpa_t tdr, uint64_t gpa,
			  unsigned level, enum tdx_sept_state *state,
			  hpa_t *hpa, unsigned *stopped_level)
{
	struct tdx_td *td = tdx_td_of_tdr_pfn(m, hpa_to_pfn(tdr));
	_Atomic uint64_t *table;

	if (!td || td->sept_root == 0 || (gpa >> td->gpaw_bit) || level > td->pwl)
		return false;
	table = tdx_sept_page(m, td, td->sept_root);
	for (unsigned l = td->pwl;; l--) {
		uint64_t e = atomic_load_explicit(&table[sept_index(gpa, l)],
						  memory_order_acquire) & ~SEPT_LOCK_BITS;

		if (stopped_level)
			*stopped_level = l;
		*state = sept_state(e);
		if (hpa)
			*hpa = sept_hpa(e);
		if (l == level)
			return true;
		if (!sept_is_present(e) || sept_is_leaf(e))
			return *state == SEPT_FREE;
		table = tdx_sept_page(m, td, hpa_to_pfn(sept_hpa(e)));
	}
}

int tdx_debug_sept_path(struct tdx_module *m, hpa_t tdr, uint64_t gpa,
			uint64_t entry[5], hpa_t table[5])
{
	struct tdx_td *td = tdx_td_of_tdr_pfn(m, hpa_to_pfn(tdr));
	pfn_t page;

	if (!td || td->sept_root == 0 || (gpa >> td->gpaw_bit) || td->pwl > 4)
		return -1;
	page = td->sept_root;
	for (unsigned l = td->pwl;; l--) {
		_Atomic uint64_t *t = tdx_sept_page(m, td, page);
		uint64_t e = atomic_load_explicit(&t[sept_index(gpa, l)],
						  memory_order_acquire) & ~SEPT_LOCK_BITS;

		entry[l] = e;
		table[l] = pfn_to_hpa(page);
		if (l == 0 || !sept_is_present(e) || sept_is_leaf(e))
			return (int)l;
		page = hpa_to_pfn(sept_hpa(e));
	}
}

void tdx_debug_pamt(struct tdx_module *m, pfn_t pfn, enum tdx_page_type *pt,
		    hpa_t *owner_tdr, unsigned *size_level)
{
	unsigned size = 0;
	uint64_t e;
	struct tdx_td *td;

	*pt = PT_NDA;
	*owner_tdr = 0;
	if (size_level)
		*size_level = 0;
	if (!pamt_covers(&m->pamt, pfn))
		return;
	e = atomic_load(pamt_walk(&m->pamt, pfn, &size));
	*pt = pamt_pt(e);
	if (size_level)
		*size_level = size;
	td = *pt == PT_NDA ? NULL : tdx_td_by_index(m, pamt_owner(e));
	*owner_tdr = td ? pfn_to_hpa(td->tdr) : 0;
}

struct td_pages {
	struct tdx_module *m;
	unsigned index;
	uint64_t n;
};

/* One 1G range of tdx_debug_td_pages(). */
static void td_pages_1g(uint64_t index, void *arg)
{
	struct td_pages *a = arg;
	struct pamt *p = &a->m->pamt;
	uint64_t first = index << 18, end = first + (1ULL << 18);

	if (end > p->nr)
		end = p->nr;
	for (uint64_t i = first; i < end; i++) {
		pfn_t pfn = p->base + i;
		unsigned size;
		uint64_t e;

		/* A 2M range whose 4K leaf was never made, with no large
		 * entry above it, holds nothing: skipped whole without
		 * making the leaf. */
		if (!(i & 511) && !pamt_4k_present(p, pfn) &&
		    pamt_pt(atomic_load(pamt_entry(p, pfn, 1))) == PT_NDA &&
		    pamt_pt(atomic_load(pamt_entry(p, pfn, 2))) == PT_NDA) {
			i += 511;
			continue;
		}
		e = atomic_load(pamt_walk(p, pfn, &size));
		if (pamt_pt(e) != PT_NDA && pamt_owner(e) == a->index)
			a->n++;
	}
}

/* A debug path: every entry of every 1G range the PAMT has handed out is
 * walked (no other can be assigned: struct pamt's `tables`). */
uint64_t tdx_debug_td_pages(struct tdx_module *m, hpa_t tdr)
{
	struct tdx_td *td = tdx_td_of_tdr_pfn(m, hpa_to_pfn(tdr));
	struct td_pages a = { .m = m };

	if (!td)
		return 0;
	a.index = td->index;
	pamt_foreach_1g(&m->pamt, td_pages_1g, &a);
	return a.n;
}

uint64_t tdx_debug_chldcnt(struct tdx_module *m, hpa_t tdr)
{
	struct tdx_td *td = tdx_td_of_tdr_pfn(m, hpa_to_pfn(tdr));

	return td ? tdx_chldcnt(td) : 0;
}

/* The 1G entries found held, reported in index order whatever order the
 * ranges were touched in. */
struct locks_1g {
	struct tdx_module *m;
	struct { uint64_t index, found; } *held;
	size_t nr, cap;
	bool enomem;
};

/* One 1G entry of tdx_debug_locks_held(): no lock bit in the word, no
 * counted shared hold. */
static void locks_held_1g(uint64_t index, void *arg)
{
	struct locks_1g *a = arg;
	uint64_t found = (atomic_load(&a->m->pamt.e1g[index]) &
			  (SHAREX_EXCL | SHAREX_READERS)) +
			 pamt_1g_shared_holders(&a->m->pamt, index) +
			 pamt_1g_absent_readers(&a->m->pamt, index);

	if (!found)
		return;
	if (a->nr == a->cap) {
		size_t cap = a->cap ? 2 * a->cap : 8;
		void *n = realloc(a->held, cap * sizeof(*a->held));

		if (!n) {
			a->enomem = true;
			return;
		}
		a->held = n;
		a->cap = cap;
	}
	a->held[a->nr].index = index;
	a->held[a->nr++].found = found;
}

static int cmp_1g_index(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

	return (a > b) - (a < b);
}

unsigned tdx_debug_locks_held(struct tdx_module *m, hpa_t tdr,
			      void (*fn)(const char *what, uint64_t found,
					 uint64_t want, void *arg),
			      void *arg)
{
	struct tdx_td *td = tdx_td_of_tdr_pfn(m, hpa_to_pfn(tdr));
	uint64_t in_guest = 0;
	unsigned held = 0;

#define HELD(what_, found_, want_)                                  \
	do {                                                        \
		uint64_t f_ = (found_), w_ = (want_);               \
		if (f_ != w_) {                                     \
			fn((what_), f_, w_, arg);                   \
			held++;                                     \
		}                                                   \
	} while (0)

	if (!td)
		return 0;
	for (unsigned i = 0, n = atomic_load(&td->nr_vcpus); i < n; i++) {
		bool in = atomic_load(&td->vcpus[i].in_guest);
		uint64_t w = atomic_load(pamt_entry(&m->pamt, td->vcpu_tdvpr[i], 0));

		in_guest += in;
		HELD("TDVPR PAMT lock (EXCL | readers)", w & (SHAREX_EXCL | SHAREX_READERS),
		     in ? 1 : 0);
	}
	HELD("TDR lock word (EXCL | readers)",
	     atomic_load(pamt_entry(&m->pamt, td->tdr, 0)) & (SHAREX_EXCL | SHAREX_READERS), 0);
	HELD("TDR lock, counted shared holds", tdx_tdr_shared_holders(m, td->index),
	     in_guest);
	for (unsigned i = 0; i < td->num_tdcx; i++)
		HELD("TDCS page PAMT lock (EXCL | readers)",
		     atomic_load(pamt_entry(&m->pamt, td->tdcx[i], 0)) &
			     (SHAREX_EXCL | SHAREX_READERS), 0);
	{
		const struct {
			const char *what;
			unsigned shift;
		} dist[] = { { "OP_STATE lock", TD_HOLD_OP_STATE_SHIFT },
			     { "S-EPT tree lock", TD_HOLD_SEPT_SHIFT },
			     { "epoch lock", TD_HOLD_EPOCH_SHIFT } };

		for (unsigned i = 0; i < sizeof(dist) / sizeof(dist[0]); i++) {
			struct sharex_counted l = tdx_td_lock(m, td, dist[i].shift);

			HELD(dist[i].what, (atomic_load(l.word) & SHAREX_EXCL) |
					   sharex_counted_readers(&l), 0);
		}
	}
	HELD("epoch REFCOUNT[0] + REFCOUNT[1]",
	     tdx_epoch_refcount(td, 0) + tdx_epoch_refcount(td, 1), in_guest);
	/* Only the 1G ranges the PAMT has handed out an entry in can hold a
	 * lock (struct pamt's `tables`): a scan of all 2^17 entries of the
	 * default TDMR and of their counts cost ~10 ms a check. */
	{
		struct locks_1g a = { .m = m };

		pamt_foreach_1g(&m->pamt, locks_held_1g, &a);
		if (a.nr)
			qsort(a.held, a.nr, sizeof(*a.held), cmp_1g_index);
		for (size_t i = 0; i < a.nr; i++) {
			/* Which 1G page: a schedule's explanation must
			 * say where the lock was left. */
			char what[96];

			snprintf(what, sizeof(what),
				 "1G PAMT entry of hpa %#llx lock (EXCL | readers | counted | 4K without leaf)",
				 (unsigned long long)pfn_to_hpa(m->pamt.base +
								(a.held[i].index << 18)));
			HELD(what, a.held[i].found, 0);
		}
		/* Never silently clean: without memory for the list, one
		 * report stands for the entries it could not keep. */
		if (a.enomem)
			HELD("1G PAMT entry lock (not all listed: out of memory)", 1, 0);
		free(a.held);
	}
#undef HELD
	return held;
}

unsigned tdx_debug_nr_tds(struct tdx_module *m)
{
	unsigned n = 0, end = atomic_load_explicit(&m->tds_end, memory_order_acquire);

	for (unsigned i = 1; i < end; i++)
		n += atomic_load(&m->tds[i]) != NULL;
	return n;
}

bool tdx_debug_vcpu_flush_pending(struct tdx_module *m, hpa_t tdvpr)
{
	struct tdx_td *td = NULL;
	struct tdx_vcpu *v = tdx_vcpu_of_tdvpr(m, hpa_to_pfn(tdvpr), &td);

	return v && v->associated &&
	       v->vcpu_epoch != atomic_load_explicit(&td->td_epoch, memory_order_acquire);
}

bool tdx_debug_mrtd(struct tdx_module *m, hpa_t tdr, uint8_t mrtd[48])
{
	struct tdx_td *td = tdx_td_of_tdr_pfn(m, hpa_to_pfn(tdr));

	if (!td || !td->mrtd_final)
		return false;
	memcpy(mrtd, td->mrtd, 48);
	return true;
}

static void sept_foreach_table(struct tdx_module *m, struct tdx_td *td,
			       pfn_t table_pfn, unsigned level, uint64_t base,
			       void (*fn)(uint64_t, unsigned, enum tdx_sept_state,
					  hpa_t, void *),
			       void *arg)
{
	_Atomic uint64_t *table = tdx_sept_page(m, td, table_pfn);

	for (unsigned i = 0; i < 512; i++) {
		uint64_t e, gpa;
		enum tdx_sept_state s;

		/* A small TD's tables are almost all FREE (check walks them
		 * after every block): pass eight plain FREE entries at once. */
		if ((i & 7) == 0) {
			uint64_t diff = 0;

			for (unsigned k = 0; k < 8; k++)
				diff |= (atomic_load_explicit(&table[i + k],
							      memory_order_relaxed) &
					 ~SEPT_LOCK_BITS) ^ SEPT_FREE_VALUE;
			if (!diff) {
				i += 7;
				continue;
			}
		}
		e = atomic_load(&table[i]) & ~SEPT_LOCK_BITS;
		gpa = base + ((uint64_t)i << (12 + 9 * level));
		s = sept_state(e);
		if (s == SEPT_FREE)
			continue;
		fn(gpa, level, s, sept_hpa(e), arg);
		if ((s == SEPT_NL_MAPPED || s == SEPT_NL_BLOCKED) && level > 0)
			sept_foreach_table(m, td, hpa_to_pfn(sept_hpa(e)), level - 1,
					   gpa, fn, arg);
	}
}

void tdx_debug_sept_foreach(struct tdx_module *m, hpa_t tdr,
			    void (*fn)(uint64_t gpa, unsigned level,
				       enum tdx_sept_state state, hpa_t hpa,
				       void *arg),
			    void *arg)
{
	struct tdx_td *td = tdx_td_of_tdr_pfn(m, hpa_to_pfn(tdr));

	if (td && td->sept_root)
		sept_foreach_table(m, td, td->sept_root, td->pwl, 0, fn, arg);
}
