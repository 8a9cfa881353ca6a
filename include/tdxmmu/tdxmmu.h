/* SPDX-License-Identifier: MIT */
/*
 * tdxmmu public API: an executable model of the KVM x86 MMU design for Intel
 * TDX (the SPTE_SHARED_MASK design), with an emulated TDX module and a CPU
 * model. One tdxmmu_td is one platform: host memory, the emulated TDX module,
 * KVM's VM with its two EPTs, and the TD's vCPUs.
 *
 * Functions return 0 or a negative TDXMMU_E* code; tdxmmu_strerror() names it
 * and tdxmmu_last_error() gives a message about the most recent failure on the
 * calling thread. Bad input never crashes the model and leaves it consistent.
 */
#ifndef TDXMMU_TDXMMU_H
#define TDXMMU_TDXMMU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(TDXMMU_BUILDING_DSO)
#define TDXMMU_API __attribute__((visibility("default")))
#else
#define TDXMMU_API
#endif

/* ---- errors ---------------------------------------------------------- */

/*
 * Error codes are negative errno values (TDXMMU_EINVAL == -EINVAL), so that
 * `rc == -EINVAL` works; tdxmmu_strerror() names them. TDXMMU_EIO is what KVM
 * answers for a VM it has killed (KVM_BUG_ON / kvm_vm_dead): tdxmmu_vm_dead()
 * tells it from other failures.
 */
#define TDXMMU_ERRORS(X)                                                      \
	X(OK, 0, "success")                                                   \
	X(EINVAL, -22, "invalid argument")                                    \
	X(ENOMEM, -12, "out of memory")                                       \
	X(ENOENT, -2, "no such object")                                       \
	X(EEXIST, -17, "object already exists")                               \
	X(ESTATE, -1, "operation not allowed in the TD's current state")     \
	X(ERANGE, -34, "address or value out of range")                       \
	X(ESEAMCALL, -121, "a SEAMCALL failed")                               \
	X(ENOTIMPL, -38, "not implemented")                                   \
	X(EBUSY, -16, "resource busy")                                        \
	X(EIO, -5, "the VM is dead (KVM killed it)")                          \
	X(ENOSPC, -28, "a limit of the model was reached")                    \
	X(EBUG, -131, "the model detected a broken invariant inside itself")

enum tdxmmu_error {
#define TDXMMU_ERR_ENUM(name, val, msg) TDXMMU_##name = (val),
	TDXMMU_ERRORS(TDXMMU_ERR_ENUM)
#undef TDXMMU_ERR_ENUM
};

/* Name of an error code ("EINVAL"), or "?" for an unknown one. */
TDXMMU_API const char *tdxmmu_strerror(int err);
/* Message about the last failure on this thread ("" if none). */
TDXMMU_API const char *tdxmmu_last_error(void);
TDXMMU_API const char *tdxmmu_version(void);

/* ---- TD creation and lifecycle --------------------------------------- */

typedef struct tdxmmu_td tdxmmu_td;

enum tdxmmu_mmu_kind { TDXMMU_MMU_TDP, TDXMMU_MMU_LEGACY };
enum tdxmmu_accept_mode { TDXMMU_ACCEPT_AUTO, TDXMMU_ACCEPT_EXPLICIT };

/* How KVM answers MapGPA. SEED: the seeds' era (E4), the whole range in
 * one exit, RETRY only when KVM met -EAGAIN. UPSTREAM: upstream KVM's 2 MiB
 * chunks, RETRY after each chunk (the guest re-issues from the GPA given). */
enum tdxmmu_mapgpa_mode { TDXMMU_MAPGPA_SEED, TDXMMU_MAPGPA_UPSTREAM };

struct tdxmmu_td_config {
	enum tdxmmu_mmu_kind mmu;        /* default TDP */
	unsigned gpaw;                   /* 48 (shared bit 47) or 52 (bit 51) */
	unsigned nr_vcpus;               /* 1..TDXMMU_MAX_VCPUS */
	enum tdxmmu_accept_mode accept;  /* default AUTO */
	uint64_t seed;                   /* seeds every random choice */
	uint64_t host_memory;            /* bytes of host frames (virtual,
					    paid for only when used); 0 =
					    enough for every memslot */
	FILE *trace;                     /* NULL or a stream for --trace lines */
	bool sept_ve_disable;            /* TD attribute SEPT_VE_DISABLE: an
					    access to a PENDING page is an EPT
					    violation, not a #VE, and KVM kills
					    the VM (upstream) */
	enum tdxmmu_mapgpa_mode mapgpa;  /* default TDXMMU_MAPGPA_SEED */
	bool no_mirror;                  /* private faults keep no mirror EPT and
					    read the S-EPT with TDH.MEM.SEPT.RD
					    instead (seed 004's rejected
					    alternative; benchmarks only, see
					    docs/performance.md) */
	const char *trace_events;        /* which events `trace` gets:
					    EVENT[,EVENT...], fnmatch globs
					    over the names as printed; NULL or
					    "" for every event
					    (docs/tracing.md) */
};

#define TDXMMU_MAX_VCPUS 64

TDXMMU_API void tdxmmu_td_config_init(struct tdxmmu_td_config *cfg);
/* Creates the TD (TDH.MNG.CREATE ... TDH.MNG.INIT, VP.CREATE per vCPU). */
TDXMMU_API int tdxmmu_td_create(const struct tdxmmu_td_config *cfg,
				tdxmmu_td **out);
/* The GPA shared bit of this TD (1 << 47 or 1 << 51). */
TDXMMU_API uint64_t tdxmmu_td_shared_bit(const tdxmmu_td *td);
TDXMMU_API unsigned tdxmmu_td_nr_vcpus(const tdxmmu_td *td);

/* Guest memory [base, base+size), both aliases, backed by host frames. */
TDXMMU_API int tdxmmu_memslot_add(tdxmmu_td *td, unsigned id, uint64_t base,
				  uint64_t size);
/*
 * The same with flags. TDXMMU_MEMSLOT_HUGEPAGES (contract 1.1 `memslot ...
 * hugepages=on`): backed by 2M host pages, so that KVM's TDP MMU may map
 * the slot with 2M leaves where the design allows (docs/large-pages.md);
 * base and size must then be 2M-aligned (TDXMMU_EINVAL otherwise). The
 * legacy MMU maps such a slot at 4K. Unknown flags: TDXMMU_EINVAL.
 */
#define TDXMMU_MEMSLOT_HUGEPAGES (1u << 0)
TDXMMU_API int tdxmmu_memslot_add_flags(tdxmmu_td *td, unsigned id, uint64_t base,
					uint64_t size, unsigned flags);
/* Build-time private page: TDH.MEM.PAGE.ADD with every byte = fill, then
 * TDH.MR.EXTEND over it. Only before finalize. */
TDXMMU_API int tdxmmu_td_add_page(tdxmmu_td *td, uint64_t gpa, uint8_t fill);
TDXMMU_API int tdxmmu_td_finalize(tdxmmu_td *td);
/* The TD measurement (48 bytes of SHA-384); valid after finalize. */
TDXMMU_API int tdxmmu_td_mrtd(tdxmmu_td *td, uint8_t out[48]);

struct tdxmmu_destroy_report {
	uint64_t frames_leaked;     /* host frames not back in the pool */
	uint64_t frames_td_owned;   /* frames the module still assigns to the TD */
	uint64_t kvm_pages_leaked;  /* KVM page-table pages not freed */
	uint64_t sept_pages_leaked; /* S-EPT pages not reclaimed */
	char message[512];          /* what leaked, human-readable */
};
/* Tears the TD down in KVM's order (leaf pages, then the key, then S-EPT and
 * control pages) and frees it. Returns 0 when nothing leaked; otherwise
 * TDXMMU_EBUG with the report filled, or TDXMMU_ESEAMCALL when injected
 * error statuses (tdxmmu_inject_status_nth()) fired in this TD, or a retry
 * loop of KVM gave up on an injected BUSY that picked every call (counter
 * "inject.busy_gave_up"): a SEAMCALL the module refuses makes KVM leak what
 * it cannot reclaim (the key, the TD's pages), as upstream KVM does. td is
 * freed in every case. */
TDXMMU_API int tdxmmu_td_destroy(tdxmmu_td *td,
				 struct tdxmmu_destroy_report *report);

/* ---- guest actions (run on vCPU `vcpu`, through its TLB) ------------- */

enum tdxmmu_outcome {
	TDXMMU_OUTCOME_OK,
	TDXMMU_OUTCOME_BLOCKED, /* wrong alias: loops on EPT violations; or
				   every TDH.VP.ENTER answers an injected
				   BUSY (inject busy at 100%) */
	TDXMMU_OUTCOME_VE,      /* #VE for a pending page (accept=explicit) */
	TDXMMU_OUTCOME_POISON,  /* integrity broken by a host write */
	TDXMMU_OUTCOME_MMIO,    /* no memslot */
	TDXMMU_OUTCOME_ERROR,   /* hypercall refused; or KVM could not get
				   memory for the fault, ever (inject enomem
				   at 100%) */
	TDXMMU_OUTCOME_BUGGED,  /* this action made KVM kill the VM */
	TDXMMU_OUTCOME_DEAD,    /* the VM was already dead: nothing ran */
};
TDXMMU_API const char *tdxmmu_outcome_name(enum tdxmmu_outcome o);
/* Parses "ok", "blocked", ...; returns false if unknown. */
TDXMMU_API bool tdxmmu_outcome_parse(const char *s, enum tdxmmu_outcome *o);

TDXMMU_API int tdxmmu_vcpu_read(tdxmmu_td *td, unsigned vcpu, uint64_t gpa,
				uint64_t *val, enum tdxmmu_outcome *outcome);
TDXMMU_API int tdxmmu_vcpu_write(tdxmmu_td *td, unsigned vcpu, uint64_t gpa,
				 uint64_t val, enum tdxmmu_outcome *outcome);
TDXMMU_API int tdxmmu_vcpu_fill(tdxmmu_td *td, unsigned vcpu, uint64_t gpa,
				uint64_t size, uint8_t byte,
				enum tdxmmu_outcome *outcome);
/* On a mismatch *mismatch_gpa is the first differing address, else ~0. */
TDXMMU_API int tdxmmu_vcpu_verify(tdxmmu_td *td, unsigned vcpu, uint64_t gpa,
				  uint64_t size, uint8_t byte,
				  uint64_t *mismatch_gpa,
				  enum tdxmmu_outcome *outcome);
/*
 * TDG.MEM.PAGE.ACCEPT; level 0 = 4K, 1 = 2M. *status is the TDX status of
 * the TDCALL that completed (outcome ok). A TDCALL that never completes has
 * status 0 and an outcome: `blocked` for a GPA converted to shared (the vCPU
 * loops on EPT violations, the seeds' design), `mmio` with no memslot,
 * `dead`/`bugged` for a VM KVM killed. tdxmmu_vcpu_accept() is the version-1
 * call without the outcome: it answers TDXMMU_EBUSY (blocked), TDXMMU_ENOENT
 * (mmio) or TDXMMU_EIO (dead, bugged) instead.
 */
TDXMMU_API int tdxmmu_vcpu_accept_outcome(tdxmmu_td *td, unsigned vcpu,
					  uint64_t gpa, unsigned level,
					  uint64_t *status,
					  enum tdxmmu_outcome *outcome);
TDXMMU_API int tdxmmu_vcpu_accept(tdxmmu_td *td, unsigned vcpu, uint64_t gpa,
				  unsigned level, uint64_t *status);
/*
 * Linux's tdx_accept_memory() over [gpa, gpa + size) (4K-aligned, one
 * alias): at each position a 2M ACCEPT if the position is 2M-aligned and
 * 2M remain, else (or when the 2M ACCEPT answers anything but success:
 * PAGE_SIZE_MISMATCH where KVM mapped 4K, ALREADY_ACCEPTED, BUSY) a 4K
 * ACCEPT (hugepages ref §3). A 4K ACCEPT that does not succeed ends the
 * call with outcome `error` (the guest would panic, "failed to accept
 * memory"), failed_gpa and status saying which and why. Each ACCEPT is a
 * guest action as in tdxmmu_vcpu_accept_outcome().
 */
struct tdxmmu_accept_memory_result {
	uint64_t nr_2m;      /* 2M ACCEPTs that succeeded */
	uint64_t nr_4k;      /* 4K ACCEPTs that succeeded */
	uint64_t fallbacks;  /* 2M ACCEPTs that did not, and went to 4K */
	uint64_t failed_gpa; /* outcome error: the 4K ACCEPT that failed */
	uint64_t status;     /* ... and its status */
};
TDXMMU_API int tdxmmu_vcpu_accept_memory(tdxmmu_td *td, unsigned vcpu, uint64_t gpa,
					 uint64_t size,
					 struct tdxmmu_accept_memory_result *res,
					 enum tdxmmu_outcome *outcome);
/* One guest action touching the first 8-byte word of every 4K page of
 * [gpa, gpa + size) (a read, or a write of the page's GPA): the vCPU enters
 * once and exits only where a page faults, as a guest loop over its memory
 * does. gpa and size 4K-aligned (TDXMMU_EINVAL), inside the GPA width and one
 * alias (TDXMMU_ERANGE). Stops at the first outcome other than OK. */
TDXMMU_API int tdxmmu_vcpu_touch(tdxmmu_td *td, unsigned vcpu, uint64_t gpa,
				 uint64_t size, bool write,
				 enum tdxmmu_outcome *outcome);
TDXMMU_API int tdxmmu_vcpu_mapgpa(tdxmmu_td *td, unsigned vcpu, uint64_t gpa,
				  uint64_t size, enum tdxmmu_outcome *outcome);

/*
 * Holds vCPU @vcpu in the TD: TDH.VP.ENTER, then guest mode touching nothing
 * until tdxmmu_vcpu_leave(). While inside it holds its TLB epoch, so a TRACK
 * stays "not done" for it; a kick from KVM makes it exit and enter again at
 * once, as a running vCPU would (raw SEAMCALLs never kick). A held vCPU runs
 * no guest action: TDXMMU_EBUSY until it leaves. TDXMMU_ESTATE before
 * finalize or when already held (enter) / not held (leave); TDXMMU_EIO when
 * the VM is dead; TDXMMU_EBUSY from enter while another thread runs a guest
 * action on that vCPU, or while every TDH.VP.ENTER answers an injected BUSY
 * (a held vCPU a kick sent out then stays out until leave). leave always lets a held vCPU go (so a dead VM can be
 * destroyed; destroy also lets held vCPUs go), then answers TDXMMU_EIO if the
 * VM is dead. tdxmmu_check() kicks held vCPUs out for the check; they are
 * back in the TD when it returns (in the current epoch).
 */
TDXMMU_API int tdxmmu_vcpu_enter(tdxmmu_td *td, unsigned vcpu);
TDXMMU_API int tdxmmu_vcpu_leave(tdxmmu_td *td, unsigned vcpu);

/* ---- a VM that KVM killed ------------------------------------------- */

/*
 * True once KVM has killed the VM (KVM_BUG_ON, kvm_vm_dead): from then on
 * guest actions report TDXMMU_OUTCOME_DEAD, and KVM's ioctls (add, finalize,
 * memslots, host zaps) answer TDXMMU_EIO. tdxmmu_td_destroy() still tears a
 * dead VM down completely. False for NULL.
 */
TDXMMU_API bool tdxmmu_vm_dead(tdxmmu_td *td);

/* ---- guest programs on vCPU threads ---------------------------------- */

/*
 * A guest program: a function that runs on vCPU @vcpu's own thread and uses
 * the guest actions above (tdxmmu_vcpu_read/write/fill/verify/accept/mapgpa)
 * on that vCPU only. Its return value is handed back in results[].
 */
typedef int (*tdxmmu_guest_fn)(tdxmmu_td *td, unsigned vcpu, void *arg);

/*
 * tdxmmu_run_vcpus() - run a guest program on each of vCPUs 0..nr-1
 * @fns: fns[i] runs on a new thread as fns[i](td, i, args[i])
 * @args: per-vCPU arguments, or NULL for all NULL
 * @results: NULL, or nr ints that receive each program's return value
 *
 * The threads start together and are all joined before it returns. While
 * they run, other threads may call the host actions (invalidate, zap,
 * memslot changes) on the same TD; no other thread may drive vCPUs 0..nr-1.
 * Returns 0, TDXMMU_EINVAL (nr is 0 or above the TD's vCPUs, a NULL
 * program) or TDXMMU_ENOMEM (a thread could not be created: then no program
 * runs and results[] holds TDXMMU_EBUSY or TDXMMU_ENOMEM).
 */
TDXMMU_API int tdxmmu_run_vcpus(tdxmmu_td *td, unsigned nr,
				const tdxmmu_guest_fn *fns, void *const *args,
				int *results);

/* ---- host actions ---------------------------------------------------- */

TDXMMU_API int tdxmmu_host_read(tdxmmu_td *td, uint64_t gpa, uint64_t *val);
TDXMMU_API int tdxmmu_host_write(tdxmmu_td *td, uint64_t gpa, uint64_t val);
TDXMMU_API int tdxmmu_host_invalidate(tdxmmu_td *td, uint64_t gpa,
				      uint64_t size);
TDXMMU_API int tdxmmu_memslot_delete(tdxmmu_td *td, unsigned id);
enum tdxmmu_alias { TDXMMU_ALIAS_BOTH, TDXMMU_ALIAS_PRIVATE, TDXMMU_ALIAS_SHARED };
TDXMMU_API int tdxmmu_host_zap(tdxmmu_td *td, uint64_t gpa, uint64_t size,
			       enum tdxmmu_alias alias);

/* ---- raw SEAMCALLs (the host calling the module directly) ------------ */

/* TDX mnemonic ("TDH.MEM.PAGE.AUG") <-> leaf number; -1 if unknown. */
TDXMMU_API int tdxmmu_leaf_from_name(const char *name);
TDXMMU_API const char *tdxmmu_leaf_name(int leaf);
/* Status name ("TDX_OPERAND_BUSY") <-> value with operand id 0. */
TDXMMU_API bool tdxmmu_status_from_name(const char *name, uint64_t *status);
/* Name of the status class of a full 64-bit status (operand id ignored). */
TDXMMU_API const char *tdxmmu_status_name(uint64_t status);
/* The @i-th known leaf mnemonic / status name (i from 0), NULL past the
 * last: the words tdxmmu_leaf_from_name() and tdxmmu_status_from_name()
 * accept, for listings and "did you mean" suggestions. */
TDXMMU_API const char *tdxmmu_leaf_name_at(size_t i);
TDXMMU_API const char *tdxmmu_status_name_at(size_t i);
/* True for TDX_SUCCESS and for warnings (bit 63 clear). */
TDXMMU_API bool tdxmmu_status_ok(uint64_t status);
/* Compares the status classes, ignoring the operand id (low 32 bits). */
TDXMMU_API bool tdxmmu_status_class_eq(uint64_t a, uint64_t b);

/* Host frames for page=new and page=of:ADDR. A page=new frame stays the
 * host's until destroy, which reclaims it from the TD if needed. */
TDXMMU_API int tdxmmu_host_frame_new(tdxmmu_td *td, uint64_t *hpa);
TDXMMU_API int tdxmmu_host_frame_of(tdxmmu_td *td, uint64_t gpa, uint64_t *hpa);

struct tdxmmu_seamcall_req {
	int leaf;          /* tdxmmu_leaf_from_name() */
	uint64_t gpa;      /* private alias is used as given */
	unsigned level;    /* S-EPT level, 0 = 4K */
	uint64_t page;     /* HPA for R8 (or RCX for RECLAIM); 0 = none */
	uint8_t fill;      /* PAGE.ADD: content of the source page */
};
struct tdxmmu_seamcall_out {
	uint64_t rax, rcx, rdx, r8;
};
/* Issues one SEAMCALL with operands laid out as the TDX ABI wants them. The
 * return value is 0 whenever the call was issued (whatever its status). */
TDXMMU_API int tdxmmu_seamcall(tdxmmu_td *td,
			       const struct tdxmmu_seamcall_req *req,
			       struct tdxmmu_seamcall_out *out);

/* Module controls: make a share (parts per million) of SEAMCALLs return
 * TDX_OPERAND_BUSY, seeded by the TD's seed. 0 disables. */
TDXMMU_API int tdxmmu_inject_busy(tdxmmu_td *td, uint32_t ppm);
/* The same for one leaf only (leaf = tdxmmu_leaf_from_name()), or every
 * leaf with leaf = -1. The BUSY is answered where the real module would
 * answer it: at the SEAMCALL's first try-lock, after the operand checks that
 * come before that lock; a leaf that takes no lock never answers it. KVM
 * retries a BUSY; one that every TDH.VP.ENTER meets (ppm = 10^6 on that
 * leaf or every leaf, or a persistent countdown that fired) can never
 * clear, and a guest action then reports TDXMMU_OUTCOME_BLOCKED at once. */
TDXMMU_API int tdxmmu_inject_busy_leaf(tdxmmu_td *td, int leaf, uint32_t ppm);

/* KVM's allocation sites, for tdxmmu_inject_enomem(). */
enum tdxmmu_alloc_site {
	TDXMMU_SITE_ALL,   /* every site below */
	TDXMMU_SITE_PT,    /* KVM page-table pages (shared and mirror EPT) */
	TDXMMU_SITE_SEPT,  /* S-EPT pages for KVM's SEAMCALL cache */
	TDXMMU_SITE_FRAME, /* guest frames */
	TDXMMU_SITE_RMAP,  /* legacy MMU: rmap directories, chunks, descriptors */
	TDXMMU_SITE_SHADOW, /* legacy MMU: the shadow-page side table's chunks */
	TDXMMU_SITE_ARENA, /* a new chunk of KVM's page-table arena */
	TDXMMU_SITE_NOMIRROR, /* no-mirror mode's bookkeeping arrays */
};
/* "all", "pt", "sept", "frame", "rmap", "shadow", "arena", "nomirror" (the
 * scenario words of `inject enomem=P site=...`); NULL / false if unknown. */
TDXMMU_API const char *tdxmmu_alloc_site_name(enum tdxmmu_alloc_site site);
TDXMMU_API bool tdxmmu_alloc_site_parse(const char *name,
					enum tdxmmu_alloc_site *site);
/* From now on each allocation at @site fails with probability ppm/10^6,
 * drawn from the TD's seed. KVM fails the operation cleanly; a guest access
 * is retried (as a VMM retries KVM_RUN after -ENOMEM) and reports
 * TDXMMU_OUTCOME_ERROR only when it can never succeed (ppm = 10^6). */
TDXMMU_API int tdxmmu_inject_enomem(tdxmmu_td *td, enum tdxmmu_alloc_site site,
				    uint32_t ppm);
/*
 * The countdown mode, deterministic (SQLite's "fail the N-th allocation"):
 * the n-th allocation at @site from now (TDXMMU_SITE_ALL: the n-th at any
 * site) fails; with @persistent that one and every later one fails (SQLite's
 * persistent fault), else only that one (its transient fault). n = 0
 * switches the countdown off. Independent of the share above; each site
 * has its own countdown, and TDXMMU_SITE_ALL one more.
 */
TDXMMU_API int tdxmmu_inject_enomem_nth(tdxmmu_td *td,
					enum tdxmmu_alloc_site site,
					uint64_t n, bool persistent);
/* The same for SEAMCALLs: the n-th call of @leaf (-1: of any leaf) from
 * now meets TDX_OPERAND_BUSY where the module can answer it (see
 * tdxmmu_inject_busy_leaf()). */
TDXMMU_API int tdxmmu_inject_busy_nth(tdxmmu_td *td, int leaf, uint64_t n,
				      bool persistent);
/*
 * Error injection: the emulated module answers @status (a full 64-bit TDX
 * status, class and operand id, e.g. from tdxmmu_status_from_name(); it
 * must be an error, bit 63 set, else TDXMMU_EINVAL) for the n-th SEAMCALL
 * of @leaf from now (-1: of any leaf; with @persistent, that one and every
 * later one; n = 0 switches the countdown off). The picked call does
 * nothing else, as a real module refusing it would: no state changes and
 * only RAX is written. It is picked before any check of the leaf, so it
 * also stands for errors the module answers only in states KVM never
 * creates: this is how KVM's handling of "impossible" statuses (KVM_BUG_ON,
 * the VM killed) is exercised. Each leaf has its own countdown, and
 * leaf = -1 one more; the leaf's own status wins when both pick a call.
 */
TDXMMU_API int tdxmmu_inject_status_nth(tdxmmu_td *td, int leaf, uint64_t status,
					uint64_t n, bool persistent);
/* The same with a share: each call of @leaf (-1: every leaf) answers
 * @status with probability ppm/10^6, drawn from the TD's seed; 0 stops. */
TDXMMU_API int tdxmmu_inject_status(tdxmmu_td *td, int leaf, uint64_t status,
				    uint32_t ppm);
/* Injected faults that fired in this TD so far, by share or countdown:
 * allocations failed, SEAMCALLs picked to meet BUSY (a picked leaf whose
 * handler takes no lock answers as it would), and SEAMCALLs that answered
 * an injected error status. */
struct tdxmmu_inject_counts {
	uint64_t enomem;
	uint64_t busy;
	uint64_t status;
};
TDXMMU_API int tdxmmu_inject_counts(tdxmmu_td *td,
				    struct tdxmmu_inject_counts *out);
/* Stops every injection (BUSY, error statuses and ENOMEM, shares and
 * countdowns). */
TDXMMU_API int tdxmmu_inject_off(tdxmmu_td *td);
/* Modeled latency of one leaf, in nanoseconds (the cost model). */
TDXMMU_API int tdxmmu_cost_set(tdxmmu_td *td, int leaf, uint64_t ns);
TDXMMU_API uint64_t tdxmmu_cost_get(tdxmmu_td *td, int leaf);

/* ---- state and statistics -------------------------------------------- */

enum tdxmmu_sept_state {
	TDXMMU_SEPT_FREE,
	TDXMMU_SEPT_MAPPED,
	TDXMMU_SEPT_PENDING,
	TDXMMU_SEPT_BLOCKED,
	TDXMMU_SEPT_PENDING_BLOCKED,
	TDXMMU_SEPT_NL_MAPPED,
	TDXMMU_SEPT_NL_BLOCKED,
	TDXMMU_SEPT_REMOVED,
};
TDXMMU_API const char *tdxmmu_sept_state_name(enum tdxmmu_sept_state s);
TDXMMU_API bool tdxmmu_sept_state_parse(const char *s,
					enum tdxmmu_sept_state *out);
/* State of the S-EPT entry for gpa's private alias at `level`; FREE when the
 * walk ends above the level at a FREE entry. An observer's view, not a
 * SEAMCALL: counts nothing. */
TDXMMU_API int tdxmmu_sept_state(tdxmmu_td *td, uint64_t gpa, unsigned level,
				 enum tdxmmu_sept_state *out);

/* KVM's 4K entries for a page, as expect-spte names them. */
enum tdxmmu_spte_state {
	TDXMMU_SPTE_NONPRESENT,
	TDXMMU_SPTE_PRESENT,
	TDXMMU_SPTE_NONPRESENT_SHARED,
	TDXMMU_SPTE_PRESENT_SHARED,
	TDXMMU_SPTE_ZAPPED,
	TDXMMU_SPTE_FROZEN,
};
TDXMMU_API const char *tdxmmu_spte_state_name(enum tdxmmu_spte_state s);
TDXMMU_API bool tdxmmu_spte_state_parse(const char *s,
					enum tdxmmu_spte_state *out);
TDXMMU_API int tdxmmu_spte_state(tdxmmu_td *td, uint64_t gpa,
				 enum tdxmmu_spte_state *private_ept,
				 enum tdxmmu_spte_state *shared_ept);
/* The same at S-EPT level @level (0 = 4K, 1 = 2M, ...): the entries at that
 * level; a page mapped by a larger leaf reads NONPRESENT at smaller levels.
 * TDXMMU_ERANGE for a level above the TD's walk. */
TDXMMU_API int tdxmmu_spte_state_level(tdxmmu_td *td, uint64_t gpa,
				       unsigned level,
				       enum tdxmmu_spte_state *private_ept,
				       enum tdxmmu_spte_state *shared_ept);

/*
 * Prints to @out, for each 4K page of [gpa, gpa + size), the entries of KVM's
 * shared EPT, KVM's mirror EPT and the module's Secure EPT at every level
 * down to the page, decoded (docs/scenario-language.md shows the format). An
 * observer: changes nothing, counts nothing. gpa and size 4K-aligned
 * (TDXMMU_EINVAL), inside the GPA width (TDXMMU_ERANGE).
 */
TDXMMU_API int tdxmmu_show(tdxmmu_td *td, uint64_t gpa, uint64_t size,
			   FILE *out);

/*
 * The same view as data (`tdxmmu show --format=json|dot` and the text of
 * tdxmmu_show() are printed from it): for each 4K page asked for and each
 * level of the TD's walk down to the page, the entry of KVM's shared EPT, of
 * KVM's private (mirror) EPT (with TDXMMU_MMU_LEGACY, its private EPT) and
 * of the module's Secure EPT, raw and decoded, and the table pages holding
 * them, each once however many pages go through it, with the link from
 * each mirror table page to its S-EPT twin.
 *
 * Nothing in it depends on where the process's memory lies: host memory is
 * named by the model's frame numbers and HPAs (the same from run to run),
 * and a KVM non-leaf entry, which in this model holds the process address
 * of the table below, has that address field cleared in `raw` (the `child`
 * index says which table it points to).
 *
 * Read as tdxmmu_show() reads (KVM's trees under mmu_lock held for read,
 * the S-EPT through the module's read-only walk): an observer that changes
 * nothing and counts nothing.
 */
#define TDXMMU_VIEW_LEVELS 5 /* 4K, 2M, 1G, 512G, 256T */

enum tdxmmu_tree {
	TDXMMU_TREE_SHARED, /* KVM's shared EPT (the CPU walks it) */
	TDXMMU_TREE_MIRROR, /* KVM's private mirror EPT (only KVM reads it) */
	TDXMMU_TREE_SEPT,   /* the TDX module's Secure EPT (the CPU walks it) */
	TDXMMU_NR_TREES,
};
/* "shared", "mirror", "S-EPT"; "?" past the last. */
TDXMMU_API const char *tdxmmu_tree_name(enum tdxmmu_tree t);
/* A PAMT page type by its ABI number: "PT_NDA", "PT_REG", "PT_EPT", ...;
 * "PT_?" for another number. */
TDXMMU_API const char *tdxmmu_pamt_type_name(unsigned pt);

/* One entry of one table page. */
struct tdxmmu_view_entry {
	int table;           /* index in view->tables of the page holding it */
	unsigned index;      /* its index in that page, 0..511 */
	unsigned level;      /* 0 = 4K, 1 = 2M, ... (that of its table) */
	uint64_t gpa;        /* first GPA it maps (the shared EPT's: with the
				shared bit) */
	uint64_t raw;        /* the 64-bit entry (S-EPT: without its lock
				bits; KVM non-leaf: address field cleared) */
	bool present;        /* KVM: shadow-present; S-EPT: any of R/W/X */
	bool leaf;           /* KVM: a present entry that maps memory (not a
				table); S-EPT: PS set (MAPPED, PENDING,
				BLOCKED, PENDING_BLOCKED) */
	bool readable, writable, executable;
	bool shared_mask;    /* KVM: SPTE_SHARED_MASK (bit 62) */
	bool suppress_ve;    /* bit 63 */
	bool frozen;         /* KVM: REMOVED_SPTE, another thread changing it */
	bool private_zapped; /* KVM (legacy MMU): PRIVATE_ZAPPED, frame kept */
	bool initial;        /* KVM: the initial non-present value, never set
				(the text form prints such an entry "none") */
	uint64_t pfn;        /* the frame a present leaf or a PRIVATE_ZAPPED
				entry maps; S-EPT: the page or S-EPT page its
				HPA names (unless FREE or REMOVED); else 0 */
	int child;           /* the table page a present non-leaf entry points
				to (index in view->tables), else -1 */
	enum tdxmmu_sept_state sept_state; /* S-EPT entries only */
	/* For an entry that maps a frame (a KVM or S-EPT leaf, a
	 * PRIVATE_ZAPPED entry), the PAMT's view of that frame: its page type
	 * (ABI number, tdxmmu_pamt_type_name()) and the HPA of the TDR owning
	 * it (0: none). An S-EPT page's own is in its table. */
	bool has_pamt;
	unsigned pamt_type;
	uint64_t pamt_owner;
};

/* One table page of one tree. */
struct tdxmmu_view_table {
	enum tdxmmu_tree tree;
	unsigned level;      /* level of its entries (0 = 4K) */
	uint64_t gpa;        /* first GPA its entry 0 maps */
	int parent;          /* the table holding the entry that points here
				(index in view->tables), -1 for a root */
	unsigned parent_index; /* that entry's index in the parent */
	/* S-EPT: the page's HPA. Mirror: its S-EPT twin's HPA as KVM recorded
	 * it (struct kvm_mmu_page private_spt), 0 for the root (the module
	 * keeps the S-EPT root in a TDCS page KVM has no twin for) or a twin
	 * leaked on purpose. Shared: 0. */
	uint64_t hpa;
	/* Mirror and S-EPT: the table at the same place (level and GPA) in the
	 * other of the two trees, -1 if that tree has none there. A healthy
	 * TD has mirror.hpa == tables[mirror.twin].hpa for every non-root. */
	int twin;
	/* S-EPT: the PAMT's view of the page (PT_EPT, or PT_TDCX for the root)
	 * and its owner TDR's HPA; 0 for KVM's pages. */
	unsigned pamt_type;
	uint64_t pamt_owner;
	/* Its entries in the view (those on the paths of the pages asked for):
	 * view->entries[first_entry .. first_entry + nr_entries), by index. */
	size_t first_entry, nr_entries;
};

struct tdxmmu_view_page {
	uint64_t gpa;        /* the private alias */
	uint64_t shared_gpa; /* the shared alias */
	/* Index in view->entries of the entry covering the page at each level
	 * (0 = 4K), -1 where there is none (no table, or a leaf above maps
	 * the page; levels >= view->levels are always -1). */
	int entry[TDXMMU_NR_TREES][TDXMMU_VIEW_LEVELS];
};

struct tdxmmu_view {
	enum tdxmmu_mmu_kind mmu;
	unsigned levels;     /* of the walk: 4 (gpaw=48) or 5 (gpaw=52) */
	uint64_t shared_bit; /* the GPA's shared bit */
	size_t nr_pages, nr_tables, nr_entries;
	struct tdxmmu_view_page *pages;   /* ascending GPA */
	struct tdxmmu_view_table *tables; /* by tree, level from the top, GPA */
	struct tdxmmu_view_entry *entries; /* by table, then index */
};

/* The view of [gpa, gpa + size): same arguments and errors as tdxmmu_show()
 * (and TDXMMU_ENOMEM). *out is to be freed with tdxmmu_view_free(). */
TDXMMU_API int tdxmmu_show_collect(tdxmmu_td *td, uint64_t gpa, uint64_t size,
				   struct tdxmmu_view **out);
/* The same for a list of 4K-aligned GPAs (either alias; each page shown
 * once, in ascending order). nr may be 0 (an empty view). */
TDXMMU_API int tdxmmu_show_collect_pages(tdxmmu_td *td, const uint64_t *gpas,
					 size_t nr, struct tdxmmu_view **out);
TDXMMU_API void tdxmmu_view_free(struct tdxmmu_view *view);
/* Prints a view as tdxmmu_show() does. TDXMMU_EINVAL for a NULL argument. */
TDXMMU_API int tdxmmu_view_print(const struct tdxmmu_view *view, FILE *out);
/*
 * The pages the TD has something mapped for: every 4K page (private alias)
 * that a leaf entry of either KVM tree (present, SPTE_SHARED_MASK or
 * PRIVATE_ZAPPED: anything but the initial value) or a non-FREE S-EPT leaf
 * covers, in ascending order. The first min(max, total) go to gpas (which
 * may be NULL when max is 0) and *total says how many there are.
 */
TDXMMU_API int tdxmmu_mapped_pages(tdxmmu_td *td, uint64_t *gpas, size_t max,
				   size_t *total);

/* The cost model by name: a SEAMCALL mnemonic ("TDH.MEM.PAGE.AUG"), the
 * guest's "TDG.MEM.PAGE.ACCEPT" (TDCALL round trip) or "TD.EXIT" (one TD exit,
 * any reason). Modeled time is accounted, never spent. TDXMMU_ENOENT for an
 * unknown name. docs/cost-model.md gives the defaults and their sources. */
TDXMMU_API int tdxmmu_cost_set_named(tdxmmu_td *td, const char *name,
				     uint64_t ns);
TDXMMU_API int tdxmmu_cost_get_named(tdxmmu_td *td, const char *name,
				     uint64_t *ns);
/* Calls fn for every named cost, in a stable order. */
TDXMMU_API void tdxmmu_costs_foreach(tdxmmu_td *td,
				     void (*fn)(const char *name, uint64_t ns,
						void *arg),
				     void *arg);

/* Memory the three page-table trees and the PAMT take now (benchmarks). */
struct tdxmmu_mem_stats {
	uint64_t shared_ept_pages;  /* KVM's shared EPT (4K pages, root too) */
	uint64_t mirror_ept_pages;  /* KVM's private mirror EPT */
	uint64_t sept_pages;        /* the module's Secure EPT (the root is a
				       TDCS page: not counted) */
	uint64_t pamt_bytes;        /* the PAMT's resident bytes */
	uint64_t host_bytes;        /* resident frame backing + metadata */
};
/* 0, or TDXMMU_EINVAL for a NULL argument. */
TDXMMU_API int tdxmmu_mem_stats(tdxmmu_td *td, struct tdxmmu_mem_stats *out);

/* Event counters by name ("seamcall.TDH.MEM.PAGE.AUG", "fault.private";
 * "inject.busy": SEAMCALLs that answered an injected TDX_OPERAND_BUSY,
 * "inject.enomem": allocations an injected -ENOMEM failed,
 * "inject.status": SEAMCALLs that answered an injected error status,
 * "inject.busy_gave_up": retry loops of KVM that gave up at once on an
 * injected BUSY that picks every call of its leaf).
 * TDXMMU_ENOENT for an unknown name. */
TDXMMU_API int tdxmmu_counter(tdxmmu_td *td, const char *name, uint64_t *val);
/* Calls fn for every counter, in a stable order. */
TDXMMU_API void tdxmmu_counters_foreach(tdxmmu_td *td,
					void (*fn)(const char *name,
						   uint64_t val, void *arg),
					void *arg);
/* Modeled TDX hardware time spent in SEAMCALLs so far (cost model), ns. */
TDXMMU_API uint64_t tdxmmu_modeled_ns(tdxmmu_td *td);

/* Whole-model invariant check. Returns the number of violations (0 = all
 * hold); each is appended, one per line, to `report` (may be NULL). It may be
 * called at any time, also while guest programs run on vCPU threads: it
 * brings the TD to a quiesce point first (kicks every vCPU out and holds it
 * outside the TD, as KVM's all-vCPU requests do), checks, then releases
 * them. Negative TDXMMU_E* for a NULL td. */
TDXMMU_API int tdxmmu_check(tdxmmu_td *td, char *report, size_t report_size);

/* ---- scenario runner --------------------------------------------------- */

struct tdxmmu_run_options {
	FILE *out;          /* results, FAIL lines, closing line (stdout) */
	FILE *err;          /* parse errors (stderr) */
	FILE *trace;        /* NULL, or where --trace lines go */
	bool quiet;         /* only FAIL lines and the closing line */
	/* Stop before the first command on line stop_line or later (0: no
	 * such stop). A line inside a `parallel` block is a usage error (2):
	 * a block runs whole. `tdxmmu show --at=LINE`. */
	size_t stop_line;
	/* Stop before a `destroy` that is the script's last command. */
	bool stop_before_final_destroy;
	/* When set, called where the run stopped or ended (unless a usage error
	 * or a model bug ended it first) with the TD, still alive (NULL if the
	 * script had not made one or had destroyed it), and the line of the
	 * command it stopped before (0 at the end); the runner destroys the TD
	 * after the call. */
	void (*at_stop)(tdxmmu_td *td, size_t line, void *arg);
	void *at_stop_arg;
	const char *trace_events; /* NULL/"": every event; else EVENT[,EVENT]
				     globs (tdxmmu_trace_filter_check()) */
};
/*
 * Trace events (docs/tracing.md): the names as printed, what each says and
 * the arguments of its USDT probe (provider tdxmmu). NULL past the end.
 */
TDXMMU_API size_t tdxmmu_trace_event_count(void);
TDXMMU_API const char *tdxmmu_trace_event_name(size_t i);
TDXMMU_API const char *tdxmmu_trace_event_help(size_t i);
TDXMMU_API const char *tdxmmu_trace_event_probe_args(size_t i);
/* 0 when every glob of spec (EVENT[,EVENT...]) matches an event; else
 * TDXMMU_EINVAL, tdxmmu_last_error() naming the glob and the known events. */
TDXMMU_API int tdxmmu_trace_filter_check(const char *spec);
/* Every event, one per line with its probe (`tdxmmu run --trace-list`). */
TDXMMU_API void tdxmmu_trace_list(FILE *f);
/* The trace's header comment lines: the columns, levels, number format. */
TDXMMU_API void tdxmmu_trace_header(FILE *f);

/* Exit status as the scenario language defines it: 0 all checks passed,
 * 1 a check failed, 2 parse or usage error, 3 the model broke. */
TDXMMU_API int tdxmmu_run_file(const char *path,
			       const struct tdxmmu_run_options *opts);
TDXMMU_API int tdxmmu_run_string(const char *name, const char *text,
				 const struct tdxmmu_run_options *opts);

/*
 * Each check and each error of a run, as it happens, for a caller that
 * builds its own report (`tdxmmu run --json`, `--tap`). A separate struct,
 * not new members of tdxmmu_run_options, so that programs built against
 * the older options keep working. The pointers are valid only during the
 * call. Calls never overlap, also from the lanes of a parallel block, but
 * may come from any thread.
 */
struct tdxmmu_run_check {
	const char *file;    /* the scenario's name, as in its messages */
	size_t line;         /* the command's line (1-based) */
	const char *text;    /* the command as written */
	bool passed;
	const char *message; /* failed: the FAIL line after "FAIL: " (may
			      * span lines); passed: NULL */
};
struct tdxmmu_run_error {
	const char *file;
	size_t line, column; /* 0 when not known (column: runtime errors) */
	int status;          /* the run's exit status: 2 or 3 */
	const char *message; /* without the "FILE:LINE:COL: error: " prefix */
};
struct tdxmmu_run_report {
	void (*check)(const struct tdxmmu_run_check *chk, void *arg);
	void (*error)(const struct tdxmmu_run_error *err, void *arg);
	void *arg;
};
/* As tdxmmu_run_file(), also telling @report (may be NULL) of each check
 * and error. */
TDXMMU_API int tdxmmu_run_file_report(const char *path,
				      const struct tdxmmu_run_options *opts,
				      const struct tdxmmu_run_report *report);
/* Runs the scenario read from @in to its end (standard input: "-" on the
 * command line), named @name in messages ("<stdin>" when NULL). */
TDXMMU_API int tdxmmu_run_stream_report(const char *name, FILE *in,
					const struct tdxmmu_run_options *opts,
					const struct tdxmmu_run_report *report);


/*
 * Systematic exploration (docs/exploration.md, `tdxmmu explore`). The
 * threads of each explored block (a scenario's `parallel` block; the whole
 * body of tdxmmu_explore()) run one at a time, and a deterministic scheduler
 * picks, at every schedule point of the model, which goes next. The search
 * enumerates those choices: every schedule with at most `preemptions`
 * preemptions (iterative context bounding), or `random` PCT-style random
 * schedules, or exactly one (`replay`). Every check of the program is the
 * oracle for every schedule, plus `check` after each parallel block,
 * exit 3, deadlock and livelock (a thread over `step_budget` steps in one
 * block).
 *
 * Returns 0 when no schedule broke anything, 1 when one did (result's
 * schedule and message describe the first), 2 on a usage or parse error
 * (message says which), 3 when the model is not deterministic under the
 * scheduler (a bug of the model). Not reentrant: one exploration per
 * process at a time. A schedule that deadlocks or livelocks leaves its
 * threads parked for good and its TD leaked (they hold its locks).
 */
struct tdxmmu_explore_options {
	unsigned preemptions;    /* the bound (default 2) */
	uint64_t random;         /* > 0: that many random schedules instead */
	uint64_t seed;           /* for random */
	uint64_t max_schedules;  /* 0: no budget */
	const char *replay;      /* run exactly this schedule ("-": default) */
	const char *mutant;      /* NULL, or a guard to remove (list below) */
	unsigned shard, nr_shards; /* explore shard `shard` of `nr_shards` */
	uint64_t step_budget;    /* per thread per block; 0: 2,000,000 */
	FILE *out;               /* where explain goes; NULL: nowhere */
	bool explain;            /* print the first violation step by step */
	/* The CPU the search runs on. Only one of its threads runs at a time,
	 * and a hand-over between two threads of one CPU costs a fraction of
	 * one that wakes another CPU, so the caller and every thread the search
	 * makes are pinned to one CPU for the search (the caller's affinity is
	 * restored at the end). TDXMMU_EXPLORE_CPU_AUTO (0, the default): shard
	 * I runs on the I-th CPU the caller may use (modulo their number), an
	 * unsharded search on the CPU the caller is on; TDXMMU_EXPLORE_CPU(n):
	 * CPU n; TDXMMU_EXPLORE_CPU_ANY: no pinning. */
	int cpu;
};
#define TDXMMU_EXPLORE_CPU_AUTO 0
#define TDXMMU_EXPLORE_CPU_ANY  (-1)
#define TDXMMU_EXPLORE_CPU(n)   ((int)(n) + 1)

struct tdxmmu_explore_result {
	uint64_t schedules;      /* distinct schedules explored (this shard) */
	uint64_t executions;     /* runs, including the re-runs of ICB levels */
	bool complete;           /* the bounded space (this shard's) was done */
	unsigned preemption_bound, levels_done;
	unsigned shard, nr_shards;
	uint64_t violations;     /* 0 or 1: the search stops at the first */
	double seconds, schedules_per_s; /* executions per second */
	uint64_t last_decisions;
	uint64_t steps;          /* schedule points passed, over all executions */
	/* The first violation: its schedule (for replay) and what broke. */
	char schedule[8192];
	bool schedule_truncated;
	unsigned violation_preemptions;
	char message[1024];
};

/* One execution of a C program (creates its TD, runs its vCPUs, checks):
 * returns 0 if it held, non-zero (with @msg filled) if it did not. */
typedef int (*tdxmmu_explore_fn)(void *arg, char *msg, size_t msg_size);

TDXMMU_API void tdxmmu_explore_options_init(struct tdxmmu_explore_options *opts);
TDXMMU_API int tdxmmu_explore(tdxmmu_explore_fn fn, void *arg,
			      const struct tdxmmu_explore_options *opts,
			      struct tdxmmu_explore_result *result);
TDXMMU_API int tdxmmu_explore_string(const char *name, const char *text,
				     const struct tdxmmu_explore_options *opts,
				     struct tdxmmu_explore_result *result);
TDXMMU_API int tdxmmu_explore_file(const char *path,
				   const struct tdxmmu_explore_options *opts,
				   struct tdxmmu_explore_result *result);
/* The mutants, by index from 0: name and what guard it removes; NULL past
 * the last. */
TDXMMU_API const char *tdxmmu_mutant_name(unsigned i);
TDXMMU_API const char *tdxmmu_mutant_help(unsigned i);

#ifdef __cplusplus
}
#endif
#endif /* TDXMMU_TDXMMU_H */
