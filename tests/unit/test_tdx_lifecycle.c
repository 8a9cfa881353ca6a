/* SPDX-License-Identifier: MIT */
/*
 * The TD lifecycle leaves of the emulated TDX module: MNG.CREATE, KEY.CONFIG,
 * MNG.ADDCX, MNG.INIT, VP.CREATE, VP.INIT, MR.FINALIZE, VP.FLUSH,
 * MNG.VPFLUSHDONE, PHYMEM.CACHE.WB, MNG.KEY.FREEID, PHYMEM.PAGE.RECLAIM,
 * PHYMEM.PAGE.WBINVD; the TD measurement; the full teardown order. Each leaf:
 * its success and each precondition violated alone, with the exact 64-bit
 * status (class and operand).
 */
#include <nettle/sha2.h>

#include "tdx_fixture.h"
#include "tdx/tdx_internal.h"

#define KEYID_BIT(k) ((uint64_t)(k) << HOST_KEYID_SHIFT)
/* The module's vCPU limit per TD (MAX_VCPUS_PER_TD, module-internal). */
#define MAX_VCPUS_PER_TD 64

/* A TD built step by step in a fixture's module, with every page recorded. */
struct ltd {
	hpa_t tdr;
	hpa_t tdcx[TDX_NUM_TDCS_PAGES];
	hpa_t tdvpr[8];
	unsigned nr_vcpus;
	unsigned hkid;
	unsigned pwl;
};

/* A pool and a module with no TD. */
static void lt_setup(struct fx *f)
{
	memset(f, 0, sizeof(*f));
	f->hm = host_mem_create(FX_POOL_BYTES);
	assert_non_null(f->hm);
	f->m = tdx_module_create(f->hm, 1);
	assert_non_null(f->m);
}

static hpa_t params_page(struct fx *f, uint64_t attributes, uint16_t max_vcpus,
			 uint64_t eptp, uint64_t exec)
{
	struct tdx_td_params p = { .attributes = attributes, .max_vcpus = max_vcpus,
				   .eptp_controls = eptp, .exec_controls = exec };
	hpa_t page = fx_new_page(f);

	host_frame_write(f->hm, hpa_to_pfn(page), 0, &p, sizeof(p), HOST_KEYID_SHARED);
	return page;
}

static uint64_t mng_init(struct fx *f, hpa_t tdr, uint64_t attributes,
			 uint16_t max_vcpus, uint64_t eptp, uint64_t exec)
{
	hpa_t p = params_page(f, attributes, max_vcpus, eptp, exec);
	uint64_t s = fx_call(f, TDH_MNG_INIT, tdr, p, 0, 0, NULL);

	host_mem_free_frame(f->hm, hpa_to_pfn(p));
	return s;
}

static void ltd_create(struct fx *f, struct ltd *t, unsigned hkid)
{
	memset(t, 0, sizeof(*t));
	t->hkid = hkid;
	t->tdr = fx_new_page(f);
	FX_OK(fx_call(f, TDH_MNG_CREATE, t->tdr, hkid, 0, 0, NULL));
}

static void ltd_addcx(struct fx *f, struct ltd *t)
{
	for (unsigned i = 0; i < TDX_NUM_TDCS_PAGES; i++) {
		t->tdcx[i] = fx_new_page(f);
		FX_OK(fx_call(f, TDH_MNG_ADDCX, t->tdcx[i], t->tdr, 0, 0, NULL));
	}
}

static void ltd_vcpus(struct fx *f, struct ltd *t, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		t->tdvpr[t->nr_vcpus] = fx_new_page(f);
		FX_OK(fx_call(f, TDH_VP_CREATE, t->tdvpr[t->nr_vcpus], t->tdr, 0, 0, NULL));
		FX_OK(fx_call(f, TDH_VP_INIT, t->tdvpr[t->nr_vcpus], 0, 0, 0, NULL));
		t->nr_vcpus++;
	}
}

/* CREATE, KEY.CONFIG, 6 x ADDCX, INIT (4-level S-EPT, GPAW 48), vCPUs. */
static void ltd_build(struct fx *f, struct ltd *t, unsigned hkid, unsigned nr_vcpus)
{
	ltd_create(f, t, hkid);
	FX_OK(fx_call(f, TDH_MNG_KEY_CONFIG, t->tdr, 0, 0, 0, NULL));
	ltd_addcx(f, t);
	FX_OK(mng_init(f, t->tdr, 0, 8, 6 | (3 << 3), 0));
	t->pwl = 3;
	ltd_vcpus(f, t, nr_vcpus);
}

/* Uses the fixture's SEAMCALL helpers against TD t. */
static void use_td(struct fx *f, const struct ltd *t)
{
	f->tdr = t->tdr;
	f->pwl = t->pwl;
	f->gpaw = 48;
	f->hkid = t->hkid;
}

static void pamt_is(struct fx *f, hpa_t hpa, enum tdx_page_type want_pt,
		    hpa_t want_owner, unsigned want_size)
{
	enum tdx_page_type pt;
	hpa_t owner;
	unsigned size;

	tdx_debug_pamt(f->m, hpa_to_pfn(hpa), &pt, &owner, &size);
	assert_int_equal(pt, want_pt);
	if (want_pt != PT_NDA)
		assert_int_equal(owner, want_owner);
	assert_int_equal(size, want_size);
}

static uint64_t reclaim(struct fx *f, hpa_t hpa, struct seamcall_regs *out)
{
	return fx_call(f, TDH_PHYMEM_PAGE_RECLAIM, hpa, 0, 0, 0, out);
}

/* VP.FLUSH every vCPU, VPFLUSHDONE, CACHE.WB, KEY.FREEID. */
static void ltd_release_hkid(struct fx *f, const struct ltd *t)
{
	for (unsigned i = 0; i < t->nr_vcpus; i++)
		FX_OK(fx_call(f, TDH_VP_FLUSH, t->tdvpr[i], 0, 0, 0, NULL));
	FX_OK(fx_call(f, TDH_MNG_VPFLUSHDONE, t->tdr, 0, 0, 0, NULL));
	FX_OK(fx_call(f, TDH_PHYMEM_CACHE_WB, 0, 0, 0, 0, NULL));
	FX_OK(fx_call(f, TDH_MNG_KEY_FREEID, t->tdr, 0, 0, 0, NULL));
}

/* Reclaims the control pages and the TDR of a TD with no other page left. */
static void ltd_reclaim_control(struct fx *f, const struct ltd *t)
{
	for (unsigned i = 0; i < t->nr_vcpus; i++)
		FX_OK(reclaim(f, t->tdvpr[i], NULL));
	for (unsigned i = 0; i < TDX_NUM_TDCS_PAGES; i++)
		if (t->tdcx[i])
			FX_OK(reclaim(f, t->tdcx[i], NULL));
	FX_OK(reclaim(f, t->tdr, NULL));
}

/* ---- TDH.MNG.CREATE ------------------------------------------------------ */

static void test_create(void **state)
{
	struct fx f;
	struct ltd a;
	hpa_t page;

	(void)state;
	lt_setup(&f);
	assert_int_equal(tdx_debug_nr_tds(f.m), 0);
	page = fx_new_page(&f);

	/* HKID outside the private range: checked before the TDR. */
	FX_STATUS(fx_call(&f, TDH_MNG_CREATE, page, HOST_FIRST_PRIVATE_KEYID - 1, 0, 0, NULL),
		  0xC000010000000002ULL);
	FX_STATUS(fx_call(&f, TDH_MNG_CREATE, page, HOST_MAX_KEYID + 1, 0, 0, NULL),
		  0xC000010000000002ULL);
	FX_STATUS(fx_call(&f, TDH_MNG_CREATE, page, 1ULL << 32 | 33, 0, 0, NULL),
		  0xC000010000000002ULL);
	FX_STATUS(fx_call(&f, TDH_MNG_CREATE, 0x1000, 0, 0, 0, NULL),
		  0xC000010000000002ULL);
	/* The TDR operand. */
	FX_STATUS(fx_call(&f, TDH_MNG_CREATE, page + 0x800, 33, 0, 0, NULL),
		  0xC000010000000001ULL);
	FX_STATUS(fx_call(&f, TDH_MNG_CREATE, page | KEYID_BIT(33), 33, 0, 0, NULL),
		  0xC000010000000001ULL);
	FX_STATUS(fx_call(&f, TDH_MNG_CREATE, 0x1000, 33, 0, 0, NULL),
		  0xC000010100000001ULL);
	assert_int_equal(tdx_debug_nr_tds(f.m), 0);

	/* Success: the page is the TD's TDR. */
	ltd_create(&f, &a, 33);
	assert_int_equal(tdx_debug_nr_tds(f.m), 1);
	pamt_is(&f, a.tdr, PT_TDR, a.tdr, 0);
	assert_int_equal(tdx_debug_chldcnt(f.m, a.tdr), 0);

	/* The TDR page is no longer free; the key id is taken. */
	FX_STATUS(fx_call(&f, TDH_MNG_CREATE, a.tdr, 34, 0, 0, NULL),
		  0xC000030000000001ULL);
	FX_STATUS(fx_call(&f, TDH_MNG_CREATE, page, 33, 0, 0, NULL), 0xC000082000000000ULL);
	/* Another key works on another page. */
	FX_OK(fx_call(&f, TDH_MNG_CREATE, page, HOST_MAX_KEYID, 0, 0, NULL));
	assert_int_equal(tdx_debug_nr_tds(f.m), 2);
	/* A page that belongs to a TD is not a TDR candidate either. */
	FX_OK(fx_call(&f, TDH_MNG_KEY_CONFIG, a.tdr, 0, 0, 0, NULL));
	ltd_addcx(&f, &a);
	FX_STATUS(fx_call(&f, TDH_MNG_CREATE, a.tdcx[0], 40, 0, 0, NULL),
		  0xC000030000000001ULL);
	fx_fini(&f);
}

/* ---- TDH.MNG.KEY.CONFIG --------------------------------------------------- */

static void test_key_config(void **state)
{
	struct fx f;
	struct ltd a;
	hpa_t page;

	(void)state;
	lt_setup(&f);
	ltd_create(&f, &a, 32);
	page = fx_new_page(&f);

	FX_STATUS(fx_call(&f, TDH_MNG_KEY_CONFIG, page, 0, 0, 0, NULL), 0xC000030000000001ULL);
	FX_STATUS(fx_call(&f, TDH_MNG_KEY_CONFIG, a.tdr + 8, 0, 0, 0, NULL),
		  0xC000010000000001ULL);
	FX_STATUS(fx_call(&f, TDH_MNG_KEY_CONFIG, 0x1000, 0, 0, 0, NULL),
		  0xC000010100000001ULL);
	/* Before KEY.CONFIG the TD cannot take TDCS pages. */
	FX_STATUS(fx_call(&f, TDH_MNG_ADDCX, page, a.tdr, 0, 0, NULL), 0x8000081000000000ULL);
	FX_OK(fx_call(&f, TDH_MNG_KEY_CONFIG, a.tdr, 0, 0, 0, NULL));
	FX_STATUS(fx_call(&f, TDH_MNG_KEY_CONFIG, a.tdr, 0, 0, 0, NULL), 0xC000060700000000ULL);
	FX_OK(fx_call(&f, TDH_MNG_ADDCX, page, a.tdr, 0, 0, NULL));
	fx_fini(&f);
}

/* ---- TDH.MNG.ADDCX -------------------------------------------------------- */

static void test_addcx(void **state)
{
	struct fx f;
	struct ltd a;
	struct seamcall_regs out;
	hpa_t page, other;

	(void)state;
	lt_setup(&f);
	ltd_create(&f, &a, 32);
	FX_OK(fx_call(&f, TDH_MNG_KEY_CONFIG, a.tdr, 0, 0, 0, NULL));
	page = fx_new_page(&f);
	other = fx_new_page(&f);

	/* The TDR operand (RDX), then the page (RCX). */
	FX_STATUS(fx_call(&f, TDH_MNG_ADDCX, page, other, 0, 0, NULL), 0xC000030000000002ULL);
	FX_STATUS(fx_call(&f, TDH_MNG_ADDCX, page, a.tdr | 1, 0, 0, NULL),
		  0xC000010000000002ULL);
	FX_STATUS(fx_call(&f, TDH_MNG_ADDCX, page, 0x1000, 0, 0, NULL), 0xC000010100000002ULL);
	FX_STATUS(fx_call(&f, TDH_MNG_ADDCX, page + 0x10, a.tdr, 0, 0, NULL),
		  0xC000010000000001ULL);
	FX_STATUS(fx_call(&f, TDH_MNG_ADDCX, page | KEYID_BIT(32), a.tdr, 0, 0, NULL),
		  0xC000010000000001ULL);
	FX_STATUS(fx_call(&f, TDH_MNG_ADDCX, 0x1000, a.tdr, 0, 0, NULL), 0xC000010100000001ULL);
	/* The TDR as the new page: this call holds it exclusively already. */
	FX_STATUS(fx_call(&f, TDH_MNG_ADDCX, a.tdr, a.tdr, 0, 0, NULL), 0x8000020000000001ULL);
	assert_int_equal(tdx_debug_chldcnt(f.m, a.tdr), 0);

	for (unsigned i = 0; i < TDX_NUM_TDCS_PAGES; i++) {
		a.tdcx[i] = fx_new_page(&f);
		FX_OK(fx_call(&f, TDH_MNG_ADDCX, a.tdcx[i], a.tdr, 0, 0, NULL));
		assert_int_equal(tdx_debug_chldcnt(f.m, a.tdr), i + 1);
		pamt_is(&f, a.tdcx[i], PT_TDCX, a.tdr, 0);
		/* A page already added is not free (while the count allows
		 * another page: the count is checked first). */
		FX_STATUS(fx_call(&f, TDH_MNG_ADDCX, a.tdcx[i], a.tdr, 0, 0, NULL),
			  i + 1 < TDX_NUM_TDCS_PAGES ? 0xC000030000000001ULL
						     : 0xC000061000000000ULL);
	}
	/* A seventh page: too many. */
	FX_STATUS(fx_call(&f, TDH_MNG_ADDCX, page, a.tdr, 0, 0, NULL), 0xC000061000000000ULL);
	FX_OK(mng_init(&f, a.tdr, 0, 1, 6 | (3 << 3), 0));
	/* After INIT, OP_STATE is what refuses it (checked before the count). */
	FX_STATUS(fx_call(&f, TDH_MNG_ADDCX, page, a.tdr, 0, 0, NULL), 0xC000060800000000ULL);
	assert_int_equal(tdx_debug_chldcnt(f.m, a.tdr), TDX_NUM_TDCS_PAGES);

	/* TDCS page 3 is the S-EPT root: 512 FREE entries. */
	FX_OK(fx_call(&f, TDH_MEM_SEPT_RD, tdx_page_info(0, 3), a.tdr, 0, 0, &out));
	assert_int_equal(out.rcx, 0x8000000000000000ULL);
	assert_int_equal(out.rdx, 3);
	FX_OK(fx_call(&f, TDH_MEM_SEPT_RD, tdx_page_info(255ULL << 39, 3), a.tdr, 0, 0, &out));
	assert_int_equal(out.rcx, 0x8000000000000000ULL);
	assert_int_equal(out.rdx, 3);
	/* The other TDCS pages are the TD's: the host reads zeros. */
	{
		uint64_t word = 1;

		host_frame_read(f.hm, hpa_to_pfn(a.tdcx[0]), 0, &word, sizeof(word),
				HOST_KEYID_SHARED, NULL);
		assert_int_equal(word, 0);
		assert_int_equal(host_frame_keyid(f.hm, hpa_to_pfn(a.tdcx[0])), 32);
	}
	fx_fini(&f);
}

/* ---- TDH.MNG.INIT ---------------------------------------------------------- */

static void test_mng_init(void **state)
{
	struct fx f;
	struct ltd a;
	struct seamcall_regs out;
	hpa_t p;
	const uint64_t ok_eptp = 6 | (3 << 3), ok5_eptp = 6 | (4 << 3);

	(void)state;
	lt_setup(&f);
	ltd_create(&f, &a, 32);
	/* Keys first, then the TDCS pages, then OP_STATE. */
	FX_STATUS(mng_init(&f, a.tdr, 0, 1, ok_eptp, 0), 0x8000081000000000ULL);
	FX_OK(fx_call(&f, TDH_MNG_KEY_CONFIG, a.tdr, 0, 0, 0, NULL));
	FX_STATUS(mng_init(&f, a.tdr, 0, 1, ok_eptp, 0), 0xC000060600000000ULL);
	ltd_addcx(&f, &a);

	/* The TDR (RCX) and the params page (RDX) operands. */
	p = params_page(&f, 0, 1, ok_eptp, 0);
	FX_STATUS(fx_call(&f, TDH_MNG_INIT, p, p, 0, 0, NULL), 0xC000030000000001ULL);
	FX_STATUS(fx_call(&f, TDH_MNG_INIT, a.tdr, p + 8, 0, 0, NULL), 0xC000010000000002ULL);
	FX_STATUS(fx_call(&f, TDH_MNG_INIT, a.tdr, p | KEYID_BIT(1), 0, 0, NULL),
		  0xC000010000000002ULL);
	FX_STATUS(fx_call(&f, TDH_MNG_INIT, a.tdr, 0x1000, 0, 0, NULL), 0xC000010100000002ULL);

	/* Each parameter wrong alone. */
	FX_STATUS(mng_init(&f, a.tdr, 0, 1, 5 | (3 << 3), 0), 0xC000010000000002ULL);
	FX_STATUS(mng_init(&f, a.tdr, 0, 1, 0 | (3 << 3), 0), 0xC000010000000002ULL);
	FX_STATUS(mng_init(&f, a.tdr, 0, 1, 6 | (2 << 3), 0), 0xC000010000000002ULL);
	FX_STATUS(mng_init(&f, a.tdr, 0, 1, 6 | (5 << 3), 0), 0xC000010000000002ULL);
	FX_STATUS(mng_init(&f, a.tdr, 0, 1, ok_eptp | (1 << 6), 0), 0xC000010000000002ULL);
	FX_STATUS(mng_init(&f, a.tdr, 0, 1, ok_eptp, TDX_EXEC_CONTROL_MAX_GPAW),
		  0xC000010000000002ULL);
	FX_STATUS(mng_init(&f, a.tdr, 0, 1, ok5_eptp, 2), 0xC000010000000002ULL);
	FX_STATUS(mng_init(&f, a.tdr, 0, 0, ok_eptp, 0), 0xC000010000000002ULL);
	FX_STATUS(mng_init(&f, a.tdr, 0, MAX_VCPUS_PER_TD + 1, ok_eptp, 0),
		  0xC000010000000002ULL);
	FX_STATUS(mng_init(&f, a.tdr, 1, 1, ok_eptp, 0), 0xC000010000000002ULL);
	/* A reserved field of the parameters that is not zero. */
	{
		struct tdx_td_params rp = { .max_vcpus = 1, .eptp_controls = ok_eptp };
		hpa_t page = fx_new_page(&f);

		rp.reserved0[2] = 1;
		host_frame_write(f.hm, hpa_to_pfn(page), 0, &rp, sizeof(rp), HOST_KEYID_SHARED);
		FX_STATUS(fx_call(&f, TDH_MNG_INIT, a.tdr, page, 0, 0, NULL), 0xC000010000000002ULL);
		host_mem_free_frame(f.hm, hpa_to_pfn(page));
	}
	/* Still UNINITIALIZED: memory leaves refuse. */
	FX_STATUS(fx_call(&f, TDH_MEM_SEPT_RD, tdx_page_info(0, 0), a.tdr, 0, 0, NULL),
		  0xC000060800000000ULL);

	/* 5-level S-EPT, 52-bit GPAs, SEPT_VE_DISABLE: success. */
	FX_OK(mng_init(&f, a.tdr, TDX_TD_ATTR_SEPT_VE_DISABLE, MAX_VCPUS_PER_TD,
		       ok5_eptp, TDX_EXEC_CONTROL_MAX_GPAW));
	FX_STATUS(mng_init(&f, a.tdr, 0, 1, ok_eptp, 0), 0xC000060800000000ULL);
	/* The root is at level 4; the shared bit is 51. */
	FX_OK(fx_call(&f, TDH_MEM_SEPT_RD, tdx_page_info(0, 4), a.tdr, 0, 0, &out));
	assert_int_equal(out.rdx, 4);
	FX_STATUS(fx_call(&f, TDH_MEM_SEPT_RD, tdx_page_info(1ULL << 47, 0), a.tdr, 0, 0, &out),
		  0xC0000B0000000001ULL); /* a valid GPA; the walk ends at the root */
	assert_int_equal(out.rcx, 0x8000000000000000ULL);
	assert_int_equal(out.rdx, 4);
	FX_STATUS(fx_call(&f, TDH_MEM_SEPT_RD, tdx_page_info(1ULL << 51, 0), a.tdr, 0, 0, NULL),
		  0xC000010000000001ULL);
	host_mem_free_frame(f.hm, hpa_to_pfn(p));
	fx_fini(&f);
}

static void test_mng_init_gpaw48(void **state)
{
	struct fx f;
	struct ltd a;

	(void)state;
	lt_setup(&f);
	ltd_build(&f, &a, 32, 0);
	FX_STATUS(fx_call(&f, TDH_MEM_SEPT_RD, tdx_page_info(0, 4), a.tdr, 0, 0, NULL),
		  0xC000010000000001ULL);
	FX_STATUS(fx_call(&f, TDH_MEM_SEPT_RD, tdx_page_info(1ULL << 47, 0), a.tdr, 0, 0, NULL),
		  0xC000010000000001ULL);
	FX_STATUS(fx_call(&f, TDH_MEM_SEPT_RD, tdx_page_info(1ULL << 48, 0), a.tdr, 0, 0, NULL),
		  0xC000010000000001ULL);
	FX_OK(fx_call(&f, TDH_MEM_SEPT_RD, tdx_page_info((1ULL << 47) - (1ULL << 39), 3),
		      a.tdr, 0, 0, NULL));
	fx_fini(&f);
}

/* ---- TDH.VP.CREATE, TDH.VP.INIT ------------------------------------------ */

static void test_vp_create_init(void **state)
{
	struct fx f;
	struct ltd a;
	hpa_t v[3], page;

	(void)state;
	lt_setup(&f);
	ltd_create(&f, &a, 32);
	FX_OK(fx_call(&f, TDH_MNG_KEY_CONFIG, a.tdr, 0, 0, 0, NULL));
	for (unsigned i = 0; i < 3; i++)
		v[i] = fx_new_page(&f);
	page = fx_new_page(&f);
	/* TDCS not allocated, then not initialized. */
	FX_STATUS(fx_call(&f, TDH_VP_CREATE, v[0], a.tdr, 0, 0, NULL), 0xC000060600000000ULL);
	ltd_addcx(&f, &a);
	FX_STATUS(fx_call(&f, TDH_VP_CREATE, v[0], a.tdr, 0, 0, NULL), 0xC000060800000000ULL);
	FX_OK(mng_init(&f, a.tdr, 0, 2, 6 | (3 << 3), 0));

	/* Operands. */
	FX_STATUS(fx_call(&f, TDH_VP_CREATE, v[0], page, 0, 0, NULL), 0xC000030000000002ULL);
	FX_STATUS(fx_call(&f, TDH_VP_CREATE, v[0], a.tdr + 1, 0, 0, NULL),
		  0xC000010000000002ULL);
	FX_STATUS(fx_call(&f, TDH_VP_CREATE, v[0] + 0x100, a.tdr, 0, 0, NULL),
		  0xC000010000000001ULL);
	FX_STATUS(fx_call(&f, TDH_VP_CREATE, 0x1000, a.tdr, 0, 0, NULL), 0xC000010100000001ULL);
	FX_STATUS(fx_call(&f, TDH_VP_CREATE, a.tdcx[2], a.tdr, 0, 0, NULL),
		  0xC000030000000001ULL);

	FX_OK(fx_call(&f, TDH_VP_CREATE, v[0], a.tdr, 0, 0, NULL));
	pamt_is(&f, v[0], PT_TDVPR, a.tdr, 0);
	assert_int_equal(tdx_debug_chldcnt(f.m, a.tdr), TDX_NUM_TDCS_PAGES + 1);
	FX_STATUS(fx_call(&f, TDH_VP_CREATE, v[0], a.tdr, 0, 0, NULL), 0xC000030000000001ULL);
	FX_OK(fx_call(&f, TDH_VP_CREATE, v[1], a.tdr, 0, 0, NULL));
	/* MAX_VCPUS = 2. */
	FX_STATUS(fx_call(&f, TDH_VP_CREATE, v[2], a.tdr, 0, 0, NULL), 0xC000010000000001ULL);
	pamt_is(&f, v[2], PT_NDA, 0, 0);
	assert_int_equal(tdx_debug_chldcnt(f.m, a.tdr), TDX_NUM_TDCS_PAGES + 2);

	/* VP.INIT: the TDVPR operand, once per vCPU. */
	FX_STATUS(fx_call(&f, TDH_VP_INIT, page, 0, 0, 0, NULL), 0xC000030000000001ULL);
	FX_STATUS(fx_call(&f, TDH_VP_INIT, a.tdr, 0, 0, 0, NULL), 0xC000030000000001ULL);
	FX_STATUS(fx_call(&f, TDH_VP_INIT, v[0] + 1, 0, 0, 0, NULL), 0xC000010000000001ULL);
	FX_STATUS(fx_call(&f, TDH_VP_INIT, 0x1000, 0, 0, 0, NULL), 0xC000010100000001ULL);
	FX_OK(fx_call(&f, TDH_VP_INIT, v[0], 0, 0, 0, NULL));
	FX_STATUS(fx_call(&f, TDH_VP_INIT, v[0], 0, 0, 0, NULL), 0xC000070000000000ULL);
	a.tdvpr[0] = v[0];
	a.tdvpr[1] = v[1];
	a.nr_vcpus = 2;

	/* A vCPU may be created after finalization (RUNNABLE) too. */
	FX_OK(fx_call(&f, TDH_MR_FINALIZE, a.tdr, 0, 0, 0, NULL));
	FX_OK(fx_call(&f, TDH_VP_INIT, v[1], 0, 0, 0, NULL));

	/* Once the TD is blocked for teardown: keys not configured. */
	FX_OK(fx_call(&f, TDH_VP_FLUSH, v[0], 0, 0, 0, NULL));
	FX_OK(fx_call(&f, TDH_VP_FLUSH, v[1], 0, 0, 0, NULL));
	FX_OK(fx_call(&f, TDH_MNG_VPFLUSHDONE, a.tdr, 0, 0, 0, NULL));
	FX_STATUS(fx_call(&f, TDH_VP_CREATE, v[2], a.tdr, 0, 0, NULL), 0x8000081000000000ULL);
	FX_STATUS(fx_call(&f, TDH_VP_INIT, v[1], 0, 0, 0, NULL), 0x8000081000000000ULL);
	fx_fini(&f);
}

static void test_vp_create_after_finalize(void **state)
{
	struct fx f;
	struct ltd a;
	hpa_t v;

	(void)state;
	lt_setup(&f);
	ltd_build(&f, &a, 32, 1);
	FX_OK(fx_call(&f, TDH_MR_FINALIZE, a.tdr, 0, 0, 0, NULL));
	v = fx_new_page(&f);
	FX_OK(fx_call(&f, TDH_VP_CREATE, v, a.tdr, 0, 0, NULL));
	FX_OK(fx_call(&f, TDH_VP_INIT, v, 0, 0, 0, NULL));
	assert_int_equal(tdx_debug_chldcnt(f.m, a.tdr), TDX_NUM_TDCS_PAGES + 2);
	fx_fini(&f);
}

/* ---- TDH.MR.FINALIZE ------------------------------------------------------- */

static void test_mr_finalize(void **state)
{
	struct fx f;
	struct ltd a;
	uint8_t mrtd[48];
	hpa_t page;

	(void)state;
	lt_setup(&f);
	ltd_build(&f, &a, 32, 0);
	page = fx_new_page(&f);
	FX_STATUS(fx_call(&f, TDH_MR_FINALIZE, a.tdr, 0, 0, 0, NULL), 0xC000060900000000ULL);
	FX_STATUS(fx_call(&f, TDH_MR_FINALIZE, page, 0, 0, 0, NULL), 0xC000030000000001ULL);
	FX_STATUS(fx_call(&f, TDH_MR_FINALIZE, a.tdr + 4, 0, 0, 0, NULL), 0xC000010000000001ULL);
	assert_false(tdx_debug_mrtd(f.m, a.tdr, mrtd));
	ltd_vcpus(&f, &a, 1);
	FX_OK(fx_call(&f, TDH_MR_FINALIZE, a.tdr, 0, 0, 0, NULL));
	assert_true(tdx_debug_mrtd(f.m, a.tdr, mrtd));
	/* RUNNABLE: build-time leaves refuse. */
	FX_STATUS(fx_call(&f, TDH_MR_FINALIZE, a.tdr, 0, 0, 0, NULL), 0xC000060800000000ULL);
	FX_STATUS(fx_call(&f, TDH_MR_EXTEND, 0, a.tdr, 0, 0, NULL), 0xC000060800000000ULL);
	fx_fini(&f);
}

static void test_mr_finalize_keys(void **state)
{
	struct fx f;
	struct ltd a;

	(void)state;
	lt_setup(&f);
	ltd_create(&f, &a, 32);
	FX_STATUS(fx_call(&f, TDH_MR_FINALIZE, a.tdr, 0, 0, 0, NULL), 0x8000081000000000ULL);
	FX_OK(fx_call(&f, TDH_MNG_KEY_CONFIG, a.tdr, 0, 0, 0, NULL));
	FX_STATUS(fx_call(&f, TDH_MR_FINALIZE, a.tdr, 0, 0, 0, NULL), 0xC000060600000000ULL);
	ltd_addcx(&f, &a);
	FX_STATUS(fx_call(&f, TDH_MR_FINALIZE, a.tdr, 0, 0, 0, NULL), 0xC000060800000000ULL);
	fx_fini(&f);
}

/* ---- TDH.VP.FLUSH, TDH.MNG.VPFLUSHDONE, CACHE.WB, KEY.FREEID --------------- */

static void test_vp_flush(void **state)
{
	struct fx f;
	struct ltd a;
	struct seamcall_regs out;
	hpa_t page;

	(void)state;
	lt_setup(&f);
	ltd_build(&f, &a, 32, 2);
	page = fx_new_page(&f);
	FX_STATUS(fx_call(&f, TDH_VP_FLUSH, page, 0, 0, 0, NULL), 0xC000030000000001ULL);
	FX_STATUS(fx_call(&f, TDH_VP_FLUSH, a.tdr, 0, 0, 0, NULL), 0xC000030000000001ULL);
	FX_STATUS(fx_call(&f, TDH_VP_FLUSH, a.tdvpr[0] + 0x40, 0, 0, 0, NULL),
		  0xC000010000000001ULL);
	FX_STATUS(fx_call(&f, TDH_VP_FLUSH, 0x1000, 0, 0, 0, NULL), 0xC000010100000001ULL);
	/* A vCPU that never ran flushes trivially. */
	FX_OK(fx_call(&f, TDH_VP_FLUSH, a.tdvpr[1], 0, 0, 0, NULL));

	/* A vCPU in guest mode holds its TDVPR and the TDR (§11.2): VP.FLUSH
	 * and VPFLUSHDONE are BUSY on their RCX operand. */
	FX_OK(fx_call(&f, TDH_MR_FINALIZE, a.tdr, 0, 0, 0, NULL));
	FX_OK(fx_call(&f, TDH_VP_ENTER, a.tdvpr[0], 0, 0, 0, &out));
	FX_STATUS(fx_call(&f, TDH_VP_FLUSH, a.tdvpr[0], 0, 0, 0, NULL), 0x8000020000000001ULL);
	FX_STATUS(fx_call(&f, TDH_MNG_VPFLUSHDONE, a.tdr, 0, 0, 0, NULL), 0x8000020000000001ULL);
	tdx_td_exit(f.m, a.tdvpr[0]);
	/* Out of the guest but still associated: not flushed yet. */
	FX_STATUS(fx_call(&f, TDH_MNG_VPFLUSHDONE, a.tdr, 0, 0, 0, NULL), 0x8000082400000000ULL);
	FX_OK(fx_call(&f, TDH_VP_FLUSH, a.tdvpr[0], 0, 0, 0, NULL));
	FX_OK(fx_call(&f, TDH_VP_FLUSH, a.tdvpr[0], 0, 0, 0, NULL));
	FX_OK(fx_call(&f, TDH_MNG_VPFLUSHDONE, a.tdr, 0, 0, 0, NULL));
	/* The key is on its way out: no flush can be done with it. */
	FX_STATUS(fx_call(&f, TDH_VP_FLUSH, a.tdvpr[0], 0, 0, 0, NULL), 0x8000081000000000ULL);
	fx_fini(&f);
}

static void test_vpflushdone(void **state)
{
	struct fx f;
	struct ltd a, b;
	hpa_t page;

	(void)state;
	lt_setup(&f);
	ltd_create(&f, &b, 33);
	/* 1.5.01 accepts a TD whose key was never configured (HKID_ASSIGNED),
	 * once. */
	FX_OK(fx_call(&f, TDH_MNG_VPFLUSHDONE, b.tdr, 0, 0, 0, NULL));
	FX_STATUS(fx_call(&f, TDH_MNG_VPFLUSHDONE, b.tdr, 0, 0, 0, NULL), 0xC000060700000000ULL);
	ltd_build(&f, &a, 32, 1);
	use_td(&f, &a);
	fx_sept_path(&f, 0, 0);
	page = fx_new_page(&f);
	FX_STATUS(fx_call(&f, TDH_MNG_VPFLUSHDONE, page, 0, 0, 0, NULL), 0xC000030000000001ULL);
	FX_STATUS(fx_call(&f, TDH_MNG_VPFLUSHDONE, a.tdr, a.tdr, 0, 0, NULL), TDX_SUCCESS);
	FX_STATUS(fx_call(&f, TDH_MNG_VPFLUSHDONE, a.tdr, 0, 0, 0, NULL), 0xC000060700000000ULL);
	/* TD_BLOCKED: every memory leaf answers keys-not-configured (§4.13). */
	FX_STATUS(fx_call(&f, TDH_MEM_PAGE_AUG, tdx_page_info(0, 0), a.tdr, page, 0, NULL),
		  0x8000081000000000ULL);
	FX_STATUS(fx_call(&f, TDH_MEM_SEPT_RD, tdx_page_info(0, 0), a.tdr, 0, 0, NULL),
		  0x8000081000000000ULL);
	FX_STATUS(fx_call(&f, TDH_MEM_TRACK, a.tdr, 0, 0, 0, NULL), 0x8000081000000000ULL);
	FX_STATUS(fx_call(&f, TDH_MR_FINALIZE, a.tdr, 0, 0, 0, NULL), 0x8000081000000000ULL);
	/* Pages cannot be reclaimed yet: the key is not free. */
	FX_STATUS(reclaim(&f, a.tdcx[0], NULL), 0xC000060700000000ULL);
	FX_OK(fx_call(&f, TDH_PHYMEM_CACHE_WB, 0, 0, 0, 0, NULL));
	/* Nothing was interrupted: there is nothing to resume. */
	FX_STATUS(fx_call(&f, TDH_PHYMEM_CACHE_WB, 1, 0, 0, 0, NULL), 0xC000082300000000ULL);
	fx_fini(&f);
}

static void test_key_freeid(void **state)
{
	struct fx f;
	struct ltd a, b;
	hpa_t page;

	(void)state;
	lt_setup(&f);
	ltd_build(&f, &a, 40, 1);
	page = fx_new_page(&f);
	FX_STATUS(fx_call(&f, TDH_MNG_KEY_FREEID, a.tdr, 0, 0, 0, NULL), 0xC000060700000000ULL);
	FX_STATUS(fx_call(&f, TDH_MNG_KEY_FREEID, page, 0, 0, 0, NULL), 0xC000030000000001ULL);
	FX_OK(fx_call(&f, TDH_VP_FLUSH, a.tdvpr[0], 0, 0, 0, NULL));
	FX_OK(fx_call(&f, TDH_MNG_VPFLUSHDONE, a.tdr, 0, 0, 0, NULL));
	/* The key is still the TD's. */
	FX_STATUS(fx_call(&f, TDH_MNG_CREATE, page, 40, 0, 0, NULL), 0xC000082000000000ULL);
	/* Its caches are not written back yet. */
	FX_STATUS(fx_call(&f, TDH_MNG_KEY_FREEID, a.tdr, 0, 0, 0, NULL), 0x8000081700000000ULL);
	FX_OK(fx_call(&f, TDH_PHYMEM_CACHE_WB, 0, 0, 0, 0, NULL));
	FX_OK(fx_call(&f, TDH_MNG_KEY_FREEID, a.tdr, 0, 0, 0, NULL));
	FX_STATUS(fx_call(&f, TDH_MNG_KEY_FREEID, a.tdr, 0, 0, 0, NULL), 0xC000060700000000ULL);
	FX_STATUS(fx_call(&f, TDH_MNG_VPFLUSHDONE, a.tdr, 0, 0, 0, NULL), 0xC000060700000000ULL);
	/* Free now: a new TD may take it while the old one is torn down. */
	ltd_build(&f, &b, 40, 1);
	assert_int_equal(tdx_debug_nr_tds(f.m), 2);
	ltd_reclaim_control(&f, &a);
	assert_int_equal(tdx_debug_nr_tds(f.m), 1);
	host_mem_free_frame(f.hm, hpa_to_pfn(page));
	fx_fini(&f);
}

/* ---- TDH.PHYMEM.PAGE.RECLAIM ---------------------------------------------- */

static void test_reclaim(void **state)
{
	struct fx f;
	struct ltd a;
	struct seamcall_regs out;
	hpa_t data, big, src, page;
	uint64_t cnt;

	(void)state;
	lt_setup(&f);
	ltd_build(&f, &a, 32, 1);
	use_td(&f, &a);
	fx_sept_path(&f, 0, 0);
	fx_sept_path(&f, 0x200000, 1);
	data = fx_new_page(&f);
	src = fx_new_page(&f);
	FX_OK(fx_call(&f, TDH_MEM_PAGE_ADD, tdx_page_info(0, 0), a.tdr, data, src, NULL));
	big = fx_new_2m(&f);
	FX_OK(fx_call(&f, TDH_MEM_PAGE_AUG, tdx_page_info(0x200000, 1), a.tdr, big, 0, NULL));
	page = fx_new_page(&f);
	cnt = tdx_debug_chldcnt(f.m, a.tdr);
	/* 6 TDCS + 1 TDVPR + 3 S-EPT pages + 1 + 512 data pages */
	assert_int_equal(cnt, 6 + 1 + 3 + 1 + 512);

	/* Operand checks. */
	FX_STATUS(reclaim(&f, data + 0x800, &out), 0xC000010000000001ULL);
	FX_STATUS(reclaim(&f, data | KEYID_BIT(32), &out), 0xC000010000000001ULL);
	FX_STATUS(reclaim(&f, 1ULL << 52, &out), 0xC000010000000001ULL);
	FX_STATUS(reclaim(&f, 0x1000, &out), 0xC000010100000001ULL);
	FX_STATUS(reclaim(&f, page, &out), 0xC000030000000001ULL);
	assert_int_equal(out.rcx, 0);
	assert_int_equal(out.rdx, 0);
	assert_int_equal(out.r8, 0);

	/* The TD is alive: every kind of page is refused, with its PAMT
	 * information already in the outputs. */
	FX_STATUS(reclaim(&f, data, &out), 0xC000060700000000ULL);
	assert_int_equal(out.rcx, PT_REG);
	assert_int_equal(out.rdx, a.tdr);
	assert_int_equal(out.r8, 0);
	FX_STATUS(reclaim(&f, a.tdcx[3], &out), 0xC000060700000000ULL);
	assert_int_equal(out.rcx, PT_TDCX);
	FX_STATUS(reclaim(&f, a.tdvpr[0], &out), 0xC000060700000000ULL);
	assert_int_equal(out.rcx, PT_TDVPR);
	FX_STATUS(reclaim(&f, a.tdr, &out), 0xC000060700000000ULL);
	assert_int_equal(out.rcx, PT_TDR);
	assert_int_equal(out.rdx, 0);
	FX_STATUS(reclaim(&f, big, &out), 0xC000060700000000ULL);
	assert_int_equal(out.rcx, PT_REG);
	assert_int_equal(out.r8, 1);
	assert_int_equal(tdx_debug_chldcnt(f.m, a.tdr), cnt);

	ltd_release_hkid(&f, &a);
	/* The TDR goes last. */
	FX_STATUS(reclaim(&f, a.tdr, &out), 0xC000040000000000ULL);
	/* A 4K address inside a 2M page: misaligned for its size. */
	FX_STATUS(reclaim(&f, big + 0x1000, &out), 0xC000010000000001ULL);
	assert_int_equal(out.rcx, PT_REG);
	assert_int_equal(out.rdx, a.tdr);
	assert_int_equal(out.r8, 1);
	FX_OK(reclaim(&f, big, &out));
	assert_int_equal(out.rcx, PT_REG);
	assert_int_equal(out.rdx, a.tdr);
	assert_int_equal(out.r8, 1);
	assert_int_equal(tdx_debug_chldcnt(f.m, a.tdr), cnt - 512);
	pamt_is(&f, big, PT_NDA, 0, 0);
	pamt_is(&f, big + 0x1FF000, PT_NDA, 0, 0);
	FX_STATUS(reclaim(&f, big, &out), 0xC000030000000001ULL);
	FX_OK(reclaim(&f, data, &out));
	assert_int_equal(out.rcx, PT_REG);
	assert_int_equal(out.r8, 0);
	assert_int_equal(tdx_debug_chldcnt(f.m, a.tdr), cnt - 513);
	/* The content is left to the host to clear. */
	assert_int_equal(host_frame_keyid(f.hm, hpa_to_pfn(data)), 32);
	fx_fini(&f);
}

/*
 * The vCPU a thread last found by its TDVPR is kept (module.c, vcpu_seen)
 * only until a TDVPR or TDR is reclaimed: after the TDVPR's reclaim the
 * lookup must answer NULL, not the vCPU it found before.
 */
static void test_vcpu_lookup_after_reclaim(void **state)
{
	struct fx f;
	struct ltd a;
	struct tdx_td *td = NULL, *td2 = NULL;
	struct tdx_vcpu *v;

	(void)state;
	lt_setup(&f);
	ltd_build(&f, &a, 32, 1);
	use_td(&f, &a);
	v = tdx_vcpu_of_tdvpr(f.m, hpa_to_pfn(a.tdvpr[0]), &td);
	assert_non_null(v);
	assert_non_null(td);
	assert_ptr_equal(tdx_vcpu_of_tdvpr(f.m, hpa_to_pfn(a.tdvpr[0]), &td2), v);
	assert_ptr_equal(td2, td);
	/* Pages that are no TDVPR, or no TDR, find nothing: a frame below
	 * the PAMT's range, the TD's TDR and a TDCS page, a free page. */
	assert_null(tdx_vcpu_of_tdvpr(f.m, 1, NULL));
	assert_null(tdx_vcpu_of_tdvpr(f.m, hpa_to_pfn(a.tdr), NULL));
	assert_null(tdx_td_of_tdr_pfn(f.m, 1));
	assert_null(tdx_td_of_tdr_pfn(f.m, hpa_to_pfn(a.tdcx[0])));
	assert_null(tdx_td_of_tdr_pfn(f.m, hpa_to_pfn(a.tdvpr[0])));
	assert_ptr_equal(tdx_td_of_tdr_pfn(f.m, hpa_to_pfn(a.tdr)), td);
	assert_false(tdx_debug_frame_dirty(f.m, 1, NULL));
	ltd_release_hkid(&f, &a);
	FX_OK(reclaim(&f, a.tdvpr[0], NULL));
	assert_null(tdx_vcpu_of_tdvpr(f.m, hpa_to_pfn(a.tdvpr[0]), NULL));
	fx_fini(&f);
}

/* ---- TDH.PHYMEM.PAGE.WBINVD ------------------------------------------------ */

static void test_wbinvd(void **state)
{
	struct fx f;
	struct ltd a;
	hpa_t page;

	(void)state;
	lt_setup(&f);
	ltd_build(&f, &a, 32, 0);
	page = fx_new_page(&f);
	FX_OK(fx_call(&f, TDH_PHYMEM_PAGE_WBINVD, page | KEYID_BIT(32), 0, 0, 0, NULL));
	FX_OK(fx_call(&f, TDH_PHYMEM_PAGE_WBINVD, page | KEYID_BIT(HOST_MAX_KEYID), 0, 0, 0,
		      NULL));
	FX_OK(fx_call(&f, TDH_PHYMEM_PAGE_WBINVD, page, 0, 0, 0, NULL));
	FX_STATUS(fx_call(&f, TDH_PHYMEM_PAGE_WBINVD, (page + 0x40) | KEYID_BIT(32), 0, 0, 0,
			  NULL), 0xC000010000000001ULL);
	/* A bit above the six key-id bits. */
	FX_STATUS(fx_call(&f, TDH_PHYMEM_PAGE_WBINVD, page | (1ULL << (HOST_KEYID_SHIFT + 6)),
			  0, 0, 0, NULL),
		  0xC000010000000001ULL);
	FX_STATUS(fx_call(&f, TDH_PHYMEM_PAGE_WBINVD, 0x1000 | KEYID_BIT(32), 0, 0, 0, NULL),
		  0xC000010100000001ULL);
	/* A page still assigned (here a TDCS page) cannot be written back. */
	FX_STATUS(fx_call(&f, TDH_PHYMEM_PAGE_WBINVD, a.tdcx[0] | KEYID_BIT(32), 0, 0, 0, NULL),
		  0xC000030000000001ULL);
	fx_fini(&f);
}

/* ---- the full teardown order ----------------------------------------------- */

static void test_full_teardown(void **state)
{
	struct fx f;
	struct ltd a;
	struct seamcall_regs out;
	hpa_t sept[3], data[2], aug4k, big, src;
	hpa_t touched[32];
	unsigned nr_touched = 0;
	uint64_t cnt;

	(void)state;
	lt_setup(&f);
	ltd_build(&f, &a, 32, 2);
	use_td(&f, &a);
	/* PDPT, PD, PT for GPA 0 (levels 3, 2, 1 of a 4-level S-EPT). */
	for (unsigned l = 3, i = 0; l >= 1; l--, i++) {
		sept[i] = fx_new_page(&f);
		FX_OK(fx_call(&f, TDH_MEM_SEPT_ADD, tdx_page_info(0, l), a.tdr, sept[i], 0, NULL));
	}
	src = fx_new_page(&f);
	host_frame_fill(f.hm, hpa_to_pfn(src), 0x5a, HOST_KEYID_SHARED);
	for (unsigned i = 0; i < 2; i++) {
		data[i] = fx_new_page(&f);
		FX_OK(fx_call(&f, TDH_MEM_PAGE_ADD, tdx_page_info(0x1000 * i, 0), a.tdr, data[i],
			      src, NULL));
		FX_OK(fx_call(&f, TDH_MR_EXTEND, 0x1000 * i, a.tdr, 0, 0, NULL));
	}
	aug4k = fx_new_page(&f);
	FX_OK(fx_call(&f, TDH_MEM_PAGE_AUG, tdx_page_info(0x2000, 0), a.tdr, aug4k, 0, NULL));
	big = fx_new_2m(&f);
	FX_OK(fx_call(&f, TDH_MEM_PAGE_AUG, tdx_page_info(0x200000, 1), a.tdr, big, 0, NULL));
	FX_OK(fx_call(&f, TDH_MR_FINALIZE, a.tdr, 0, 0, 0, NULL));
	cnt = 6 + 2 + 3 + 2 + 1 + 512;
	assert_int_equal(tdx_debug_chldcnt(f.m, a.tdr), cnt);
	assert_int_equal(tdx_debug_td_pages(f.m, a.tdr), cnt + 1);
	FX_OK(fx_call(&f, TDH_VP_ENTER, a.tdvpr[1], 0, 0, 0, NULL));
	tdx_td_exit(f.m, a.tdvpr[1]);

	/* While the TD lives: one page removed the KVM way (BLOCK, TRACK, no
	 * vCPU in guest, REMOVE), then written back and cleared by the host. */
	FX_OK(fx_call(&f, TDH_MEM_RANGE_BLOCK, tdx_page_info(0x1000, 0), a.tdr, 0, 0, NULL));
	FX_OK(fx_call(&f, TDH_MEM_TRACK, a.tdr, 0, 0, 0, NULL));
	FX_OK(fx_call(&f, TDH_MEM_PAGE_REMOVE, tdx_page_info(0x1000, 0), a.tdr, 0, 0, &out));
	assert_int_equal(out.rcx, data[1]);
	assert_int_equal(tdx_debug_chldcnt(f.m, a.tdr), --cnt);
	FX_OK(fx_call(&f, TDH_PHYMEM_PAGE_WBINVD, data[1] | KEYID_BIT(32), 0, 0, 0, NULL));
	host_frame_clear(f.hm, hpa_to_pfn(data[1]), HOST_KEYID_SHARED);
	touched[nr_touched++] = data[1];

	/* Reclaim before teardown is refused. */
	FX_STATUS(reclaim(&f, data[0], NULL), 0xC000060700000000ULL);
	FX_STATUS(reclaim(&f, sept[2], NULL), 0xC000060700000000ULL);

	/* Release the key: flush every vCPU, VPFLUSHDONE, WB, FREEID. */
	FX_STATUS(fx_call(&f, TDH_MNG_VPFLUSHDONE, a.tdr, 0, 0, 0, NULL), 0x8000082400000000ULL);
	ltd_release_hkid(&f, &a);
	FX_STATUS(fx_call(&f, TDH_MEM_PAGE_REMOVE, tdx_page_info(0, 0), a.tdr, 0, 0, NULL),
		  0x8000081000000000ULL);

	/* Reclaim every page directly, without REMOVE (§4.13): data pages, the
	 * S-EPT pages (still linked: the S-EPT is dead), vCPUs, TDCS, and the
	 * TDR last. */
	FX_STATUS(reclaim(&f, a.tdr, NULL), 0xC000040000000000ULL);
	FX_OK(reclaim(&f, data[0], &out));
	assert_int_equal(out.rcx, PT_REG);
	assert_int_equal(tdx_debug_chldcnt(f.m, a.tdr), --cnt);
	FX_OK(reclaim(&f, aug4k, NULL));
	assert_int_equal(tdx_debug_chldcnt(f.m, a.tdr), --cnt);
	FX_OK(reclaim(&f, big, &out));
	assert_int_equal(out.r8, 1);
	cnt -= 512;
	assert_int_equal(tdx_debug_chldcnt(f.m, a.tdr), cnt);
	for (unsigned i = 0; i < 3; i++) {
		FX_OK(reclaim(&f, sept[i], &out));
		assert_int_equal(out.rcx, PT_EPT);
		assert_int_equal(out.rdx, a.tdr);
		assert_int_equal(tdx_debug_chldcnt(f.m, a.tdr), --cnt);
	}
	for (unsigned i = 0; i < a.nr_vcpus; i++) {
		FX_OK(reclaim(&f, a.tdvpr[i], &out));
		assert_int_equal(out.rcx, PT_TDVPR);
		assert_int_equal(tdx_debug_chldcnt(f.m, a.tdr), --cnt);
	}
	for (unsigned i = 0; i < TDX_NUM_TDCS_PAGES; i++) {
		if (i < TDX_NUM_TDCS_PAGES - 1)
			FX_STATUS(reclaim(&f, a.tdr, NULL), 0xC000040000000000ULL);
		FX_OK(reclaim(&f, a.tdcx[i], &out));
		assert_int_equal(out.rcx, PT_TDCX);
		assert_int_equal(tdx_debug_chldcnt(f.m, a.tdr), --cnt);
	}
	assert_int_equal(cnt, 0);
	assert_int_equal(tdx_debug_td_pages(f.m, a.tdr), 1);
	FX_OK(reclaim(&f, a.tdr, &out));
	assert_int_equal(out.rcx, PT_TDR);
	assert_int_equal(out.rdx, 0);
	assert_int_equal(out.r8, 0);
	assert_int_equal(tdx_debug_nr_tds(f.m), 0);
	/* The TD is gone: its TDR names nothing. */
	FX_STATUS(reclaim(&f, a.tdr, NULL), 0xC000030000000001ULL);
	FX_STATUS(fx_call(&f, TDH_MNG_VPFLUSHDONE, a.tdr, 0, 0, 0, NULL), 0xC000030000000001ULL);

	touched[nr_touched++] = a.tdr;
	touched[nr_touched++] = data[0];
	touched[nr_touched++] = aug4k;
	touched[nr_touched++] = big;
	touched[nr_touched++] = big + 0x1FF000;
	for (unsigned i = 0; i < 3; i++)
		touched[nr_touched++] = sept[i];
	for (unsigned i = 0; i < a.nr_vcpus; i++)
		touched[nr_touched++] = a.tdvpr[i];
	for (unsigned i = 0; i < TDX_NUM_TDCS_PAGES; i++)
		touched[nr_touched++] = a.tdcx[i];
	for (unsigned i = 0; i < nr_touched; i++)
		pamt_is(&f, touched[i], PT_NDA, 0, 0);

	/* The key and the pages can be used again by a new TD. */
	{
		struct ltd b;

		ltd_build(&f, &b, 32, 1);
		use_td(&f, &b);
		fx_sept_path(&f, 0, 0);
		FX_OK(fx_call(&f, TDH_MEM_PAGE_ADD, tdx_page_info(0, 0), b.tdr, data[0], src,
			      NULL));
		assert_int_equal(tdx_debug_nr_tds(f.m), 1);
	}
	fx_fini(&f);
}

/* ---- the TD measurement ------------------------------------------------------ */

static void put_le64(uint8_t *p, uint64_t v)
{
	for (unsigned i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* The documented block layouts: a 16-byte zero-padded leaf name, the GPA
 * little-endian at byte 16, zeros to 128 bytes. */
static void header_block(uint8_t block[128], const char *name, uint64_t gpa)
{
	memset(block, 0, 128);
	memcpy(block, name, strlen(name));
	put_le64(&block[16], gpa);
}

static void source_content(uint8_t buf[4096], uint8_t seed)
{
	for (unsigned i = 0; i < 4096; i++)
		buf[i] = (uint8_t)(i * 7 + seed);
}

/*
 * Builds a TD with pages at GPA 0 and `gpa2`, each filled from
 * source_content(seed), the first one measured with MR.EXTEND (all 16 chunks)
 * when `extend`; finalizes; returns its MRTD.
 */
static void measured_td(struct fx *f, unsigned hkid, uint8_t seed, uint64_t gpa2,
			bool extend, uint8_t mrtd[48])
{
	struct ltd t;
	uint8_t buf[4096];
	hpa_t src = fx_new_page(f);

	source_content(buf, seed);
	host_frame_write(f->hm, hpa_to_pfn(src), 0, buf, sizeof(buf), HOST_KEYID_SHARED);
	ltd_build(f, &t, hkid, 1);
	use_td(f, &t);
	fx_sept_path(f, 0, 0);
	fx_sept_path(f, gpa2, 0);
	FX_OK(fx_call(f, TDH_MEM_PAGE_ADD, tdx_page_info(0, 0), t.tdr, fx_new_page(f), src,
		      NULL));
	if (extend)
		for (uint64_t off = 0; off < 4096; off += 256)
			FX_OK(fx_call(f, TDH_MR_EXTEND, off, t.tdr, 0, 0, NULL));
	FX_OK(fx_call(f, TDH_MEM_PAGE_ADD, tdx_page_info(gpa2, 0), t.tdr, fx_new_page(f), src,
		      NULL));
	assert_false(tdx_debug_mrtd(f->m, t.tdr, mrtd));
	FX_OK(fx_call(f, TDH_MR_FINALIZE, t.tdr, 0, 0, 0, NULL));
	assert_true(tdx_debug_mrtd(f->m, t.tdr, mrtd));
	host_mem_free_frame(f->hm, hpa_to_pfn(src));
}

static void test_mrtd(void **state)
{
	struct fx f;
	uint8_t a[48], b[48], c[48], d[48], e[48], want[48], block[128], buf[4096];
	struct sha512_ctx ctx;

	(void)state;
	lt_setup(&f);
	measured_td(&f, 32, 1, 0x1000, true, a);
	measured_td(&f, 33, 1, 0x1000, true, b);
	measured_td(&f, 34, 2, 0x1000, true, c);    /* other content */
	measured_td(&f, 35, 1, 0x2000, true, d);    /* other GPA */
	measured_td(&f, 36, 1, 0x1000, false, e);   /* content not measured */
	assert_memory_equal(a, b, 48);
	assert_memory_not_equal(a, c, 48);
	assert_memory_not_equal(a, d, 48);
	assert_memory_not_equal(a, e, 48);
	assert_memory_not_equal(c, e, 48);

	/* The exact value: SHA-384 over the documented blocks. */
	source_content(buf, 1);
	sha384_init(&ctx);
	header_block(block, "MEM.PAGE.ADD", 0);
	sha384_update(&ctx, 128, block);
	for (uint64_t off = 0; off < 4096; off += 256) {
		header_block(block, "MR.EXTEND", off);
		sha384_update(&ctx, 128, block);
		sha384_update(&ctx, 256, &buf[off]);
	}
	header_block(block, "MEM.PAGE.ADD", 0x1000);
	sha384_update(&ctx, 128, block);
	sha384_digest(&ctx, 48, want);
	assert_memory_equal(a, want, 48);
	/* Without MR.EXTEND, content does not count: same as with other content. */
	measured_td(&f, 37, 9, 0x1000, false, c);
	assert_memory_equal(c, e, 48);
	fx_fini(&f);
}

/* ---- the cache and key protocol (issue 11 item 2.5) ---------------------- */

#define ST_WB_NOT_COMPLETE 0x8000081700000000ULL
#define ST_NO_HKID_READY 0x0000082100000000ULL
#define ST_WB_RESUME_ERROR 0xC000082300000000ULL
#define ST_INTERRUPTED 0x8000000300000000ULL

static uint64_t cache_wb(struct fx *f, uint64_t cmd)
{
	return fx_call(f, TDH_PHYMEM_CACHE_WB, cmd, 0, 0, 0, NULL);
}

static void flush_vcpus_done(struct fx *f, const struct ltd *t)
{
	for (unsigned i = 0; i < t->nr_vcpus; i++)
		FX_OK(fx_call(f, TDH_VP_FLUSH, t->tdvpr[i], 0, 0, 0, NULL));
	FX_OK(fx_call(f, TDH_MNG_VPFLUSHDONE, t->tdr, 0, 0, 0, NULL));
}

/* A VMM that skips CACHE.WB, or runs it before VPFLUSHDONE, cannot free the
 * key: FREEID answers TDX_WBCACHE_NOT_COMPLETE until a CACHE.WB that started
 * after VPFLUSHDONE has completed. */
static void test_freeid_needs_cache_wb(void **state)
{
	struct fx f;
	struct ltd a, b;

	(void)state;
	lt_setup(&f);
	ltd_build(&f, &a, 40, 1);
	ltd_build(&f, &b, 41, 1);
	/* No key flushed yet: a warning, nothing written back. */
	FX_STATUS(cache_wb(&f, 0), ST_NO_HKID_READY);
	FX_STATUS(cache_wb(&f, 2), TDX_OPERAND_INVALID + TDX_OPERAND_ID_RCX);
	FX_STATUS(cache_wb(&f, ~0ULL), TDX_OPERAND_INVALID + TDX_OPERAND_ID_RCX);
	flush_vcpus_done(&f, &a);
	/* The skipped step. */
	FX_STATUS(fx_call(&f, TDH_MNG_KEY_FREEID, a.tdr, 0, 0, 0, NULL), ST_WB_NOT_COMPLETE);
	FX_OK(cache_wb(&f, 0));
	/* That CACHE.WB predates b's VPFLUSHDONE: it does not count for b. */
	flush_vcpus_done(&f, &b);
	FX_OK(fx_call(&f, TDH_MNG_KEY_FREEID, a.tdr, 0, 0, 0, NULL));
	FX_STATUS(fx_call(&f, TDH_MNG_KEY_FREEID, b.tdr, 0, 0, 0, NULL), ST_WB_NOT_COMPLETE);
	/* Lifecycle first: RECLAIM still refuses b's pages. */
	FX_STATUS(reclaim(&f, b.tdcx[0], NULL), 0xC000060700000000ULL);
	FX_OK(cache_wb(&f, 0));
	FX_OK(fx_call(&f, TDH_MNG_KEY_FREEID, b.tdr, 0, 0, 0, NULL));
	/* Both keys free: nothing left to write back. */
	FX_STATUS(cache_wb(&f, 0), ST_NO_HKID_READY);
	ltd_reclaim_control(&f, &a);
	ltd_reclaim_control(&f, &b);
	assert_int_equal(tdx_debug_nr_tds(f.m), 0);
	fx_fini(&f);
}

/* An interrupted CACHE.WB completes only when resumed; a resume with
 * nothing interrupted is an error; START forgets an interrupted one. Keys
 * flushed after the interrupted START are not covered by its resume. */
static void test_cache_wb_resume(void **state)
{
	struct fx f;
	struct ltd a, b;

	(void)state;
	lt_setup(&f);
	ltd_build(&f, &a, 40, 1);
	ltd_build(&f, &b, 41, 1);
	FX_STATUS(cache_wb(&f, 1), ST_WB_RESUME_ERROR);
	flush_vcpus_done(&f, &a);
	tdx_module_pend_host_interrupts(f.m, 2);
	FX_STATUS(cache_wb(&f, 0), ST_INTERRUPTED);
	FX_STATUS(fx_call(&f, TDH_MNG_KEY_FREEID, a.tdr, 0, 0, 0, NULL), ST_WB_NOT_COMPLETE);
	flush_vcpus_done(&f, &b);
	FX_STATUS(cache_wb(&f, 1), ST_INTERRUPTED);
	FX_OK(cache_wb(&f, 1));
	FX_STATUS(cache_wb(&f, 1), ST_WB_RESUME_ERROR);
	FX_OK(fx_call(&f, TDH_MNG_KEY_FREEID, a.tdr, 0, 0, 0, NULL));
	FX_STATUS(fx_call(&f, TDH_MNG_KEY_FREEID, b.tdr, 0, 0, 0, NULL), ST_WB_NOT_COMPLETE);
	/* START after an interruption starts over (and covers b now). */
	tdx_module_pend_host_interrupts(f.m, 1);
	FX_STATUS(cache_wb(&f, 0), ST_INTERRUPTED);
	FX_OK(cache_wb(&f, 0));
	FX_STATUS(cache_wb(&f, 1), ST_WB_RESUME_ERROR);
	FX_OK(fx_call(&f, TDH_MNG_KEY_FREEID, b.tdr, 0, 0, 0, NULL));
	fx_fini(&f);
}

struct sept_pages {
	hpa_t hpa[8];
	unsigned n;
};

static void collect_sept_page(uint64_t gpa, unsigned level, enum tdx_sept_state st,
			      hpa_t hpa, void *arg)
{
	struct sept_pages *p = arg;

	(void)gpa;
	(void)level;
	if (st == SEPT_NL_MAPPED && p->n < 8)
		p->hpa[p->n++] = hpa;
}

/* The TDR's cache lines are under the TDX global key: after its RECLAIM, a
 * WBINVD with the TD's (freed) HKID leaves them, one with the global key
 * writes them back. A page REMOVEd while the key is live needs a WBINVD
 * under that key, or a CACHE.WB for it. */
static void test_wbinvd_keys(void **state)
{
	struct fx f;
	struct ltd a;
	struct sept_pages sp = { .n = 0 };
	hpa_t data, data2, src;
	unsigned key;

	(void)state;
	lt_setup(&f);
	ltd_build(&f, &a, 40, 1);
	use_td(&f, &a);
	fx_sept_path(&f, 0, 0);
	tdx_debug_sept_foreach(f.m, a.tdr, collect_sept_page, &sp);
	assert_int_equal(sp.n, 3);
	src = fx_new_page(&f);
	data = fx_new_page(&f);
	data2 = fx_new_page(&f);
	FX_OK(fx_call(&f, TDH_MEM_PAGE_ADD, tdx_page_info(0, 0), a.tdr, data, src, NULL));
	FX_OK(fx_call(&f, TDH_MEM_PAGE_ADD, tdx_page_info(0x1000, 0), a.tdr, data2, src, NULL));
	assert_int_equal(tdx_debug_dirty_frames(f.m), 0);
	/* Before finalize REMOVE needs no BLOCK/TRACK. */
	FX_OK(fx_call(&f, TDH_MEM_PAGE_REMOVE, tdx_page_info(0, 0), a.tdr, 0, 0, NULL));
	FX_OK(fx_call(&f, TDH_MEM_PAGE_REMOVE, tdx_page_info(0x1000, 0), a.tdr, 0, 0, NULL));
	assert_true(tdx_debug_frame_dirty(f.m, hpa_to_pfn(data), &key));
	assert_int_equal(key, 40);
	/* Another key writes back nothing of it. */
	FX_OK(fx_call(&f, TDH_PHYMEM_PAGE_WBINVD, data | KEYID_BIT(41), 0, 0, 0, NULL));
	assert_true(tdx_debug_frame_dirty(f.m, hpa_to_pfn(data), NULL));
	FX_OK(fx_call(&f, TDH_PHYMEM_PAGE_WBINVD, data | KEYID_BIT(40), 0, 0, 0, NULL));
	assert_false(tdx_debug_frame_dirty(f.m, hpa_to_pfn(data), NULL));
	/* data2 is left to the key's CACHE.WB. */
	assert_true(tdx_debug_frame_dirty(f.m, hpa_to_pfn(data2), NULL));
	ltd_release_hkid(&f, &a);
	assert_false(tdx_debug_frame_dirty(f.m, hpa_to_pfn(data2), NULL));
	/* Pages reclaimed after the key's write-back hold nothing dirty. */
	for (unsigned i = 0; i < sp.n; i++)
		FX_OK(reclaim(&f, sp.hpa[i], NULL));
	ltd_reclaim_control(&f, &a);
	assert_int_equal(tdx_debug_dirty_frames(f.m), 1);
	assert_true(tdx_debug_frame_dirty(f.m, hpa_to_pfn(a.tdr), &key));
	assert_int_equal(key, TDX_GLOBAL_KEYID);
	/* The bug issue 11 found in KVM: the freed HKID misses the TDR's
	 * lines. */
	FX_OK(fx_call(&f, TDH_PHYMEM_PAGE_WBINVD, a.tdr | KEYID_BIT(40), 0, 0, 0, NULL));
	assert_true(tdx_debug_frame_dirty(f.m, hpa_to_pfn(a.tdr), NULL));
	FX_OK(fx_call(&f, TDH_PHYMEM_PAGE_WBINVD, a.tdr | KEYID_BIT(TDX_GLOBAL_KEYID), 0, 0,
		      0, NULL));
	assert_int_equal(tdx_debug_dirty_frames(f.m), 0);
	fx_fini(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create),
		cmocka_unit_test(test_key_config),
		cmocka_unit_test(test_addcx),
		cmocka_unit_test(test_mng_init),
		cmocka_unit_test(test_mng_init_gpaw48),
		cmocka_unit_test(test_vp_create_init),
		cmocka_unit_test(test_vp_create_after_finalize),
		cmocka_unit_test(test_mr_finalize),
		cmocka_unit_test(test_mr_finalize_keys),
		cmocka_unit_test(test_vp_flush),
		cmocka_unit_test(test_vpflushdone),
		cmocka_unit_test(test_key_freeid),
		cmocka_unit_test(test_reclaim),
		cmocka_unit_test(test_vcpu_lookup_after_reclaim),
		cmocka_unit_test(test_wbinvd),
		cmocka_unit_test(test_full_teardown),
		cmocka_unit_test(test_mrtd),
		cmocka_unit_test(test_freeid_needs_cache_wb),
		cmocka_unit_test(test_cache_wb_resume),
		cmocka_unit_test(test_wbinvd_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
