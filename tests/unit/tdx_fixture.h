/* SPDX-License-Identifier: MIT */
/*
 * Test fixture for the emulated TDX module: a small host pool, a module, and
 * a TD built with raw SEAMCALLs exactly as KVM builds one (TDH.MNG.CREATE,
 * KEY.CONFIG, 6 x MNG.ADDCX, MNG.INIT, VP.CREATE + VP.INIT per vCPU). Tests
 * drive the module only through seamcall() and the CPU/observer interfaces.
 */
#ifndef TDXMMU_TESTS_TDX_FIXTURE_H
#define TDXMMU_TESTS_TDX_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "host/host_mem.h"
#include "tdx/seamcall.h"
#include "tdx/tdx_module.h"
#include "tdx/tdx_status.h"

struct fx {
	struct host_mem *hm;
	struct tdx_module *m;
	hpa_t tdr;
	hpa_t tdvpr[8];
	unsigned nr_vcpus;
	unsigned gpaw;
	unsigned pwl;       /* 3 or 4 */
	unsigned hkid;
};

/* A test that needs a bigger pool (a 1G page) defines it first. */
#ifndef FX_POOL_BYTES
#define FX_POOL_BYTES (64ULL << 20)
#endif

static inline hpa_t fx_new_page(struct fx *f)
{
	pfn_t pfn;

	assert_int_equal(host_mem_alloc_frame(f->hm, &pfn), 0);
	return pfn_to_hpa(pfn);
}

/* A 2M-aligned run of 512 free frames, for 2M AUG/PROMOTE tests. */
static inline hpa_t fx_new_2m(struct fx *f)
{
	pfn_t pfn;

	assert_int_equal(host_mem_alloc_range(f->hm, 512, 512, &pfn), 0);
	return pfn_to_hpa(pfn);
}

static inline uint64_t fx_call(struct fx *f, int leaf, uint64_t rcx,
			       uint64_t rdx, uint64_t r8, uint64_t r9,
			       struct seamcall_regs *out)
{
	struct seamcall_regs r = { .rax = (uint64_t)leaf, .rcx = rcx, .rdx = rdx,
				   .r8 = r8, .r9 = r9 };
	uint64_t s = seamcall(f->m, &r);

	if (out)
		*out = r;
	return s;
}

#define FX_OK(expr) assert_int_equal((expr), TDX_SUCCESS)
/* Compares full 64-bit status values, printing both in hex on failure. */
#define FX_STATUS(expr, want)                                                  \
	do {                                                                   \
		uint64_t got_ = (expr), want_ = (want);                        \
		if (got_ != want_)                                             \
			fail_msg("%s: got %#llx (%s), want %#llx (%s)", #expr, \
				 (unsigned long long)got_,                     \
				 tdx_status_name(got_) ? tdx_status_name(got_) : "?", \
				 (unsigned long long)want_,                    \
				 tdx_status_name(want_) ? tdx_status_name(want_) : "?"); \
	} while (0)

/* Builds the TD up to OP_STATE INITIALIZED (not finalized). */
static inline void fx_init(struct fx *f, unsigned gpaw, unsigned nr_vcpus)
{
	struct tdx_td_params params = { 0 };
	hpa_t params_page;

	memset(f, 0, sizeof(*f));
	f->gpaw = gpaw;
	f->pwl = gpaw == 52 ? 4 : 3;
	f->hkid = HOST_FIRST_PRIVATE_KEYID;
	f->hm = host_mem_create(FX_POOL_BYTES);
	assert_non_null(f->hm);
	f->m = tdx_module_create(f->hm, 1);
	assert_non_null(f->m);

	f->tdr = fx_new_page(f);
	FX_OK(fx_call(f, TDH_MNG_CREATE, f->tdr, f->hkid, 0, 0, NULL));
	FX_OK(fx_call(f, TDH_MNG_KEY_CONFIG, f->tdr, 0, 0, 0, NULL));
	for (unsigned i = 0; i < TDX_NUM_TDCS_PAGES; i++)
		FX_OK(fx_call(f, TDH_MNG_ADDCX, fx_new_page(f), f->tdr, 0, 0, NULL));

	params.attributes = 0;
	params.max_vcpus = 8;
	params.eptp_controls = 6 | ((uint64_t)(f->pwl) << 3);
	params.exec_controls = gpaw == 52 ? TDX_EXEC_CONTROL_MAX_GPAW : 0;
	params_page = fx_new_page(f);
	host_frame_write(f->hm, hpa_to_pfn(params_page), 0, &params,
			 sizeof(params), HOST_KEYID_SHARED);
	FX_OK(fx_call(f, TDH_MNG_INIT, f->tdr, params_page, 0, 0, NULL));
	host_mem_free_frame(f->hm, hpa_to_pfn(params_page));

	for (unsigned i = 0; i < nr_vcpus; i++) {
		f->tdvpr[i] = fx_new_page(f);
		FX_OK(fx_call(f, TDH_VP_CREATE, f->tdvpr[i], f->tdr, 0, 0, NULL));
		FX_OK(fx_call(f, TDH_VP_INIT, f->tdvpr[i], 0, 0, 0, NULL));
	}
	f->nr_vcpus = nr_vcpus;
}

static inline void fx_finalize(struct fx *f)
{
	FX_OK(fx_call(f, TDH_MR_FINALIZE, f->tdr, 0, 0, 0, NULL));
}

/* SEPT.ADD every missing level above `level` for gpa (top-down), with
 * ALLOW_EXISTING so existing levels are skipped. */
static inline void fx_sept_path(struct fx *f, uint64_t gpa, unsigned level)
{
	for (unsigned l = f->pwl; l > level; l--) {
		hpa_t page = fx_new_page(f);
		/* The page info of the entry at level l: its GPA is aligned to
		 * what the entry maps (§1.5). Version 1: R9..R11 are the L2
		 * VMs' pages, NULL_PA for none (the module refuses any other
		 * value for a TD without L2 VMs). */
		struct seamcall_regs out = {
			.rax = TDH_MEM_SEPT_ADD | (1 << 16),
			.rcx = tdx_page_info(gpa & ~((PAGE_SIZE << (9 * l)) - 1), l),
			.rdx = f->tdr | TDX_SEPT_ADD_ALLOW_EXISTING,
			.r8 = page, .r9 = TDX_NULL_PA, .r10 = TDX_NULL_PA,
			.r11 = TDX_NULL_PA,
		};
		uint64_t s = seamcall(f->m, &out);

		FX_OK(s);
		if (out.r8 != TDX_NULL_PA) /* not consumed: already existed */
			host_mem_free_frame(f->hm, hpa_to_pfn(page));
	}
}

static inline enum tdx_sept_state fx_state(struct fx *f, uint64_t gpa,
					   unsigned level)
{
	enum tdx_sept_state s = SEPT_NR_STATES;

	tdx_debug_sept_state(f->m, f->tdr, gpa, level, &s, NULL, NULL);
	return s;
}

/* Frees the module and pool without a TD teardown (tests that need the
 * teardown order test it explicitly). */
static inline void fx_fini(struct fx *f)
{
	tdx_module_destroy(f->m);
	host_mem_destroy(f->hm);
}

#endif /* TDXMMU_TESTS_TDX_FIXTURE_H */
