/* SPDX-License-Identifier: MIT */
/*
 * Memory leaves of the emulated TDX module (tdx-module-sept.md §3-§7, §9):
 * TDH.MEM.PAGE.ADD, TDH.MR.EXTEND, TDH.MEM.PAGE.REMOVE, TDH.MEM.SEPT.REMOVE,
 * TDH.MEM.SEPT.RD, TDH.MEM.RANGE.UNBLOCK, with RANGE.BLOCK / TRACK as the
 * tracking protocol around them. Every precondition violated alone, with the
 * exact status and, where §1.6 says so, the exact RCX/RDX details; CHLDCNT
 * after every change. The tests that need a vCPU in guest mode are with
 * TDH.VP.ENTER's.
 */
#include "tdx_fixture.h"
#include "tdx/tdx_internal.h"

#define KEYID_BIT(k) ((uint64_t)(k) << HOST_KEYID_SHIFT)
/* Architectural entries as SEPT.RD and the failure details report them. */
#define ARCH_FREE 0x8000000000000000ULL
#define ARCH_MAPPED(hpa) ((hpa) | 0x80000000000000F7ULL)
#define ARCH_NOT_PRESENT_LEAF(hpa) ((hpa) | 0x80000000000000F0ULL)
#define ARCH_NL_MAPPED 0x7ULL
#define ARCH_NL_BLOCKED 0x0ULL
/* RDX info: level | public state << 8 */
#define INFO(level, state) ((uint64_t)(level) | ((uint64_t)(state) << 8))
#define ST_FREE 0
#define ST_BLOCKED 1
#define ST_PENDING 2
#define ST_PENDING_BLOCKED 3
#define ST_MAPPED 4
#define ST_NL_BLOCKED 0x81
#define ST_NL_MAPPED 0x84

static hpa_t src_page(struct fx *f, uint8_t fill)
{
	hpa_t p = fx_new_page(f);

	host_frame_fill(f->hm, hpa_to_pfn(p), fill, HOST_KEYID_SHARED);
	return p;
}

/* A leaf taking RCX = page info, RDX = TDR. */
static uint64_t mem(struct fx *f, int leaf, uint64_t gpa, unsigned level,
		    struct seamcall_regs *out)
{
	return fx_call(f, leaf, tdx_page_info(gpa, level), f->tdr, 0, 0, out);
}

static uint64_t page_add(struct fx *f, uint64_t gpa, hpa_t page, hpa_t src,
			 struct seamcall_regs *out)
{
	return fx_call(f, TDH_MEM_PAGE_ADD, tdx_page_info(gpa, 0), f->tdr, page, src, out);
}

static uint64_t aug(struct fx *f, uint64_t gpa, unsigned level, hpa_t page)
{
	return fx_call(f, TDH_MEM_PAGE_AUG, tdx_page_info(gpa, level), f->tdr, page, 0, NULL);
}

static uint64_t track(struct fx *f)
{
	return fx_call(f, TDH_MEM_TRACK, f->tdr, 0, 0, 0, NULL);
}

static uint64_t chldcnt(struct fx *f)
{
	return tdx_debug_chldcnt(f->m, f->tdr);
}

/* The HPA an entry at `level` holds (an S-EPT page for a non-leaf). */
static hpa_t entry_hpa(struct fx *f, uint64_t gpa, unsigned level)
{
	enum tdx_sept_state s;
	hpa_t hpa = 0;

	assert_true(tdx_debug_sept_state(f->m, f->tdr, gpa, level, &s, &hpa, NULL));
	return hpa;
}

static void details_are(const struct seamcall_regs *out, uint64_t rcx, uint64_t rdx)
{
	assert_int_equal(out->rcx, rcx);
	assert_int_equal(out->rdx, rdx);
}

/* SEPT.RD of (gpa, level) succeeds and reports exactly rcx, rdx. */
static void sept_rd_is(struct fx *f, uint64_t gpa, unsigned level, uint64_t rcx,
		       uint64_t rdx)
{
	struct seamcall_regs out;

	FX_OK(mem(f, TDH_MEM_SEPT_RD, gpa, level, &out));
	details_are(&out, rcx, rdx);
}

static void pamt_is(struct fx *f, hpa_t hpa, enum tdx_page_type want_pt,
		    unsigned want_size)
{
	enum tdx_page_type pt;
	hpa_t owner;
	unsigned size;

	tdx_debug_pamt(f->m, hpa_to_pfn(hpa), &pt, &owner, &size);
	assert_int_equal(pt, want_pt);
	if (want_pt != PT_NDA)
		assert_int_equal(owner, f->tdr);
	assert_int_equal(size, want_size);
}

/* A fixture with tables down to the PT for GPA 0 (4-level, GPAW 48). */
static void setup_path(struct fx *f)
{
	fx_init(f, 48, 1);
	fx_sept_path(f, 0, 0);
	/* 6 TDCS pages, 1 TDVPR, PDPT + PD + PT */
	assert_int_equal(chldcnt(f), 10);
}

/* ---- TDH.MEM.PAGE.ADD ------------------------------------------------------- */

static void test_page_add(void **state)
{
	struct fx f;
	struct seamcall_regs out;
	hpa_t src, page, other, pt, big;
	uint64_t word = 0, cnt;

	(void)state;
	setup_path(&f);
	src = src_page(&f, 0xab);
	page = fx_new_page(&f);
	other = fx_new_page(&f);
	pt = entry_hpa(&f, 0, 1);
	cnt = chldcnt(&f);

	/* Page info and GPA (RCX). */
	FX_STATUS(fx_call(&f, TDH_MEM_PAGE_ADD, tdx_page_info(0, 1), f.tdr, page, src, &out),
		  0xC000010000000001ULL);
	details_are(&out, 0, 0);
	FX_STATUS(fx_call(&f, TDH_MEM_PAGE_ADD, 0x1000 | 0x8, f.tdr, page, src, NULL),
		  0xC000010000000001ULL);
	FX_STATUS(fx_call(&f, TDH_MEM_PAGE_ADD, 0x1000 | (1ULL << 52), f.tdr, page, src, NULL),
		  0xC000010000000001ULL);
	FX_STATUS(page_add(&f, 1ULL << 47, page, src, NULL), 0xC000010000000001ULL);
	FX_STATUS(page_add(&f, 1ULL << 48, page, src, NULL), 0xC000010000000001ULL);
	/* The TDR (RDX) comes first. */
	FX_STATUS(fx_call(&f, TDH_MEM_PAGE_ADD, tdx_page_info(0, 1), other, page, src, NULL),
		  0xC000030000000002ULL);
	FX_STATUS(fx_call(&f, TDH_MEM_PAGE_ADD, 0, f.tdr + 0x10, page, src, NULL),
		  0xC000010000000002ULL);
	FX_STATUS(fx_call(&f, TDH_MEM_PAGE_ADD, 0, 0x1000, page, src, NULL),
		  0xC000010100000002ULL);
	/* Walk failures, with the entry where the walk stopped. */
	FX_STATUS(page_add(&f, 0x200000, page, src, &out), 0xC0000B0000000001ULL);
	details_are(&out, ARCH_FREE, INFO(1, ST_FREE));
	FX_STATUS(page_add(&f, 1ULL << 30, page, src, &out), 0xC0000B0000000001ULL);
	details_are(&out, ARCH_FREE, INFO(2, ST_FREE));
	FX_STATUS(page_add(&f, 1ULL << 39, page, src, &out), 0xC0000B0000000001ULL);
	details_are(&out, ARCH_FREE, INFO(3, ST_FREE));
	/* The source (R9): a shared, aligned HPA of existing memory. */
	FX_STATUS(page_add(&f, 0, page, src + 0x10, NULL), 0xC000010000000009ULL);
	FX_STATUS(page_add(&f, 0, page, src | KEYID_BIT(HOST_FIRST_PRIVATE_KEYID), NULL),
		  0xC000010000000009ULL);
	FX_STATUS(page_add(&f, 0, page, src | (1ULL << 52), NULL), 0xC000010000000009ULL);
	FX_STATUS(page_add(&f, 0, page, 0x1000, NULL), 0xC000010000000009ULL);
	/* The source is checked before the target. */
	FX_STATUS(page_add(&f, 0, 0x1000, 0x1000, NULL), 0xC000010000000009ULL);
	/* The target (R8): a free 4K page of the TDMR. */
	FX_STATUS(page_add(&f, 0, page + 0x100, src, NULL), 0xC000010000000008ULL);
	FX_STATUS(page_add(&f, 0, page | KEYID_BIT(f.hkid), src, NULL), 0xC000010000000008ULL);
	FX_STATUS(page_add(&f, 0, 0x1000, src, NULL), 0xC000010100000008ULL);
	FX_STATUS(page_add(&f, 0, pt, src, &out), 0xC000030000000008ULL);
	details_are(&out, 0, 0);
	/* The TDR as the target: this call holds it exclusively. */
	FX_STATUS(page_add(&f, 0, f.tdr, src, NULL), 0x8000020000000008ULL);
	/* A 4K frame inside a TD's 2M page is not free, though its 4K PAMT
	 * entry says PT_NDA. */
	fx_sept_path(&f, 0x200000, 1);
	big = fx_new_2m(&f);
	FX_OK(aug(&f, 0x200000, 1, big));
	cnt += 512;
	FX_STATUS(page_add(&f, 0, big + 0x3000, src, NULL), 0xC000030000000008ULL);
	assert_int_equal(chldcnt(&f), cnt);
	pamt_is(&f, page, PT_NDA, 0);

	/* Success: MAPPED leaf, PAMT PT_REG, CHLDCNT + 1, content copied under
	 * the TD's key (the host sees zeros). */
	out.rcx = out.rdx = 0xdead;
	FX_OK(page_add(&f, 0, page, src, &out));
	details_are(&out, 0, 0);
	assert_int_equal(fx_state(&f, 0, 0), SEPT_MAPPED);
	assert_int_equal(entry_hpa(&f, 0, 0), page);
	pamt_is(&f, page, PT_REG, 0);
	assert_int_equal(chldcnt(&f), ++cnt);
	host_frame_read(f.hm, hpa_to_pfn(page), 8, &word, sizeof(word), f.hkid, NULL);
	assert_int_equal(word, 0xababababababababULL);
	host_frame_read(f.hm, hpa_to_pfn(page), 8, &word, sizeof(word), HOST_KEYID_SHARED, NULL);
	assert_int_equal(word, 0);
	sept_rd_is(&f, 0, 0, ARCH_MAPPED(page), INFO(0, ST_MAPPED));

	/* The entry is no longer FREE: state error (checked before R9/R8). */
	FX_STATUS(page_add(&f, 0, other, src, &out), 0xC0000B0D00000001ULL);
	details_are(&out, ARCH_MAPPED(page), INFO(0, ST_MAPPED));
	FX_STATUS(page_add(&f, 0, other, 0x1000, &out), 0xC0000B0D00000001ULL);
	/* A page already owned by the TD. */
	FX_STATUS(page_add(&f, 0x1000, page, src, &out), 0xC000030000000008ULL);
	/* A PENDING entry (AUG is allowed before finalization). */
	FX_OK(aug(&f, 0x2000, 0, other));
	cnt++;
	FX_STATUS(page_add(&f, 0x2000, fx_new_page(&f), src, &out), 0xC0000B0D00000001ULL);
	details_are(&out, ARCH_NOT_PRESENT_LEAF(other), INFO(0, ST_PENDING));
	/* A 4K GPA under the 2M leaf: the walk stops at it. */
	FX_STATUS(page_add(&f, 0x201000, fx_new_page(&f), src, &out), 0xC0000B0000000001ULL);
	details_are(&out, ARCH_NOT_PRESENT_LEAF(big), INFO(1, ST_PENDING));
	assert_int_equal(chldcnt(&f), cnt);

	/* Build time only. */
	fx_finalize(&f);
	FX_STATUS(page_add(&f, 0x1000, fx_new_page(&f), src, NULL), 0xC000060800000000ULL);
	assert_int_equal(chldcnt(&f), cnt);
	fx_fini(&f);
}

static void test_page_add_gpaw52(void **state)
{
	struct fx f;
	struct seamcall_regs out;
	hpa_t src, page;

	(void)state;
	fx_init(&f, 52, 1);
	src = src_page(&f, 1);
	page = fx_new_page(&f);
	FX_STATUS(page_add(&f, 1ULL << 51, page, src, NULL), 0xC000010000000001ULL);
	/* Bit 47 is an ordinary GPA bit with 52-bit GPAs: the walk (5 levels)
	 * stops at the root. */
	FX_STATUS(page_add(&f, 1ULL << 47, page, src, &out), 0xC0000B0000000001ULL);
	details_are(&out, ARCH_FREE, INFO(4, ST_FREE));
	fx_sept_path(&f, 1ULL << 47, 0);
	FX_OK(page_add(&f, 1ULL << 47, page, src, NULL));
	assert_int_equal(fx_state(&f, 1ULL << 47, 0), SEPT_MAPPED);
	/* 6 TDCS + 1 TDVPR + 4 S-EPT pages + 1 page */
	assert_int_equal(chldcnt(&f), 12);
	fx_fini(&f);
}

/* ---- TDH.MR.EXTEND ------------------------------------------------------------ */

static void test_mr_extend(void **state)
{
	struct fx f;
	struct seamcall_regs out;
	hpa_t src, p0, p1, p3, big;
	uint64_t cnt;

	(void)state;
	setup_path(&f);
	src = src_page(&f, 0x33);
	p0 = fx_new_page(&f);
	p1 = fx_new_page(&f);
	p3 = fx_new_page(&f);
	FX_OK(page_add(&f, 0, p0, src, NULL));
	FX_OK(page_add(&f, 0x1000, p1, src, NULL));
	cnt = chldcnt(&f);

	out.rcx = out.rdx = 0xdead;
	FX_OK(fx_call(&f, TDH_MR_EXTEND, 0, f.tdr, 0, 0, &out));
	details_are(&out, 0, 0);
	FX_OK(fx_call(&f, TDH_MR_EXTEND, 0x100, f.tdr, 0, 0, NULL));
	FX_OK(fx_call(&f, TDH_MR_EXTEND, 0x1F00, f.tdr, 0, 0, NULL));

	/* Operands. */
	FX_STATUS(fx_call(&f, TDH_MR_EXTEND, 0x80, f.tdr, 0, 0, NULL), 0xC000010000000001ULL);
	FX_STATUS(fx_call(&f, TDH_MR_EXTEND, 0x1001, f.tdr, 0, 0, NULL), 0xC000010000000001ULL);
	FX_STATUS(fx_call(&f, TDH_MR_EXTEND, 1ULL << 47, f.tdr, 0, 0, NULL),
		  0xC000010000000001ULL);
	FX_STATUS(fx_call(&f, TDH_MR_EXTEND, 1ULL << 48, f.tdr, 0, 0, NULL),
		  0xC000010000000001ULL);
	FX_STATUS(fx_call(&f, TDH_MR_EXTEND, 0, p0, 0, 0, NULL), 0xC000030000000002ULL);
	FX_STATUS(fx_call(&f, TDH_MR_EXTEND, 0x80, f.tdr + 1, 0, 0, NULL),
		  0xC000010000000002ULL);

	/* No present leaf: EPT_ENTRY_NOT_PRESENT + RCX with the entry where
	 * the walk stopped. */
	FX_STATUS(fx_call(&f, TDH_MR_EXTEND, 0x2000, f.tdr, 0, 0, &out), 0xC0000B0300000001ULL);
	details_are(&out, ARCH_FREE, INFO(0, ST_FREE));
	FX_STATUS(fx_call(&f, TDH_MR_EXTEND, 0x200000, f.tdr, 0, 0, &out),
		  0xC0000B0300000001ULL);
	details_are(&out, ARCH_FREE, INFO(1, ST_FREE));
	FX_OK(aug(&f, 0x3000, 0, p3));
	FX_STATUS(fx_call(&f, TDH_MR_EXTEND, 0x3000, f.tdr, 0, 0, &out), 0xC0000B0300000001ULL);
	details_are(&out, ARCH_NOT_PRESENT_LEAF(p3), INFO(0, ST_PENDING));
	FX_OK(mem(&f, TDH_MEM_RANGE_BLOCK, 0x1000, 0, NULL));
	FX_STATUS(fx_call(&f, TDH_MR_EXTEND, 0x1100, f.tdr, 0, 0, &out), 0xC0000B0300000001ULL);
	details_are(&out, ARCH_NOT_PRESENT_LEAF(p1), INFO(0, ST_BLOCKED));
	FX_OK(mem(&f, TDH_MEM_RANGE_UNBLOCK, 0x1000, 0, NULL));
	FX_OK(fx_call(&f, TDH_MR_EXTEND, 0x1100, f.tdr, 0, 0, NULL));
	/* An NL_BLOCKED PDE hides the PT. */
	FX_OK(mem(&f, TDH_MEM_RANGE_BLOCK, 0, 1, NULL));
	FX_STATUS(fx_call(&f, TDH_MR_EXTEND, 0, f.tdr, 0, 0, &out), 0xC0000B0300000001ULL);
	details_are(&out, ARCH_NL_BLOCKED, INFO(1, ST_NL_BLOCKED));
	FX_OK(mem(&f, TDH_MEM_RANGE_UNBLOCK, 0, 1, NULL));
	/* A large PENDING leaf. */
	fx_sept_path(&f, 0x200000, 1);
	big = fx_new_2m(&f);
	FX_OK(aug(&f, 0x200000, 1, big));
	FX_STATUS(fx_call(&f, TDH_MR_EXTEND, 0x3ff100, f.tdr, 0, 0, &out),
		  0xC0000B0300000001ULL);
	details_are(&out, ARCH_NOT_PRESENT_LEAF(big), INFO(1, ST_PENDING));
	assert_int_equal(chldcnt(&f), cnt + 1 + 512);

	/* Build time only. */
	fx_finalize(&f);
	FX_STATUS(fx_call(&f, TDH_MR_EXTEND, 0, f.tdr, 0, 0, NULL), 0xC000060800000000ULL);
	fx_fini(&f);
}

/* ---- TDH.MEM.PAGE.REMOVE --------------------------------------------------------- */

static void test_remove_before_finalize(void **state)
{
	struct fx f;
	struct seamcall_regs out;
	hpa_t src, p0, p1, p2, big;
	uint64_t cnt;

	(void)state;
	setup_path(&f);
	src = src_page(&f, 1);
	p0 = fx_new_page(&f);
	p1 = fx_new_page(&f);
	p2 = fx_new_page(&f);
	FX_OK(page_add(&f, 0, p0, src, NULL));
	FX_OK(aug(&f, 0x1000, 0, p1));
	FX_OK(page_add(&f, 0x2000, p2, src, NULL));
	fx_sept_path(&f, 0x200000, 1);
	big = fx_new_2m(&f);
	FX_OK(aug(&f, 0x200000, 1, big));
	cnt = chldcnt(&f);
	assert_int_equal(cnt, 10 + 3 + 512);

	/* Operands and states. */
	FX_STATUS(mem(&f, TDH_MEM_PAGE_REMOVE, 0, 3, &out), 0xC000010000000001ULL);
	details_are(&out, 0, 0);
	FX_STATUS(mem(&f, TDH_MEM_PAGE_REMOVE, 0x1000, 1, NULL), 0xC000010000000001ULL);
	FX_STATUS(fx_call(&f, TDH_MEM_PAGE_REMOVE, 0x10, f.tdr, 0, 0, NULL),
		  0xC000010000000001ULL);
	FX_STATUS(mem(&f, TDH_MEM_PAGE_REMOVE, 1ULL << 47, 0, NULL), 0xC000010000000001ULL);
	FX_STATUS(fx_call(&f, TDH_MEM_PAGE_REMOVE, 0, p0, 0, 0, NULL), 0xC000030000000002ULL);
	FX_STATUS(mem(&f, TDH_MEM_PAGE_REMOVE, 0x3000, 0, &out), 0xC0000B0D00000001ULL);
	details_are(&out, ARCH_FREE, INFO(0, ST_FREE));
	/* A non-leaf at the level: not a page. */
	FX_STATUS(mem(&f, TDH_MEM_PAGE_REMOVE, 0, 1, &out), 0xC0000B0D00000001ULL);
	details_are(&out, ARCH_NL_MAPPED, INFO(1, ST_NL_MAPPED));
	FX_STATUS(mem(&f, TDH_MEM_PAGE_REMOVE, 0, 2, &out), 0xC0000B0D00000001ULL);
	details_are(&out, ARCH_NL_MAPPED, INFO(2, ST_NL_MAPPED));
	/* 4K under the 2M leaf: the walk stops at the leaf. */
	FX_STATUS(mem(&f, TDH_MEM_PAGE_REMOVE, 0x201000, 0, &out), 0xC0000B0000000001ULL);
	details_are(&out, ARCH_NOT_PRESENT_LEAF(big), INFO(1, ST_PENDING));
	FX_STATUS(mem(&f, TDH_MEM_PAGE_REMOVE, 0x400000, 0, &out), 0xC0000B0000000001ULL);
	details_are(&out, ARCH_FREE, INFO(1, ST_FREE));
	assert_int_equal(chldcnt(&f), cnt);

	/* Before finalization MAPPED and PENDING pages go directly. */
	FX_OK(mem(&f, TDH_MEM_PAGE_REMOVE, 0, 0, &out));
	details_are(&out, p0, 0);
	assert_int_equal(fx_state(&f, 0, 0), SEPT_FREE);
	pamt_is(&f, p0, PT_NDA, 0);
	assert_int_equal(chldcnt(&f), --cnt);
	sept_rd_is(&f, 0, 0, ARCH_FREE, INFO(0, ST_FREE));
	FX_OK(mem(&f, TDH_MEM_PAGE_REMOVE, 0x1000, 0, &out));
	details_are(&out, p1, 0);
	assert_int_equal(chldcnt(&f), --cnt);
	/* BLOCKED too, with no TRACK needed. */
	FX_OK(mem(&f, TDH_MEM_RANGE_BLOCK, 0x2000, 0, NULL));
	FX_OK(mem(&f, TDH_MEM_PAGE_REMOVE, 0x2000, 0, &out));
	details_are(&out, p2, 0);
	assert_int_equal(chldcnt(&f), --cnt);
	/* A 2M page: CHLDCNT drops by 512. */
	FX_OK(mem(&f, TDH_MEM_PAGE_REMOVE, 0x200000, 1, &out));
	details_are(&out, big, 0);
	cnt -= 512;
	assert_int_equal(chldcnt(&f), cnt);
	pamt_is(&f, big, PT_NDA, 0);
	assert_int_equal(fx_state(&f, 0x200000, 1), SEPT_FREE);
	FX_STATUS(mem(&f, TDH_MEM_PAGE_REMOVE, 0x200000, 1, &out), 0xC0000B0D00000001ULL);
	details_are(&out, ARCH_FREE, INFO(1, ST_FREE));
	/* The content stays: the host must clear it. */
	assert_int_equal(host_frame_keyid(f.hm, hpa_to_pfn(p0)), f.hkid);
	/* The freed page can be used again. */
	FX_OK(aug(&f, 0x5000, 0, p0));
	fx_fini(&f);
}

static void test_remove_after_finalize(void **state)
{
	struct fx f;
	struct seamcall_regs out;
	hpa_t src, p0, p1, p3;
	uint64_t cnt;

	(void)state;
	setup_path(&f);
	src = src_page(&f, 1);
	p0 = fx_new_page(&f);
	p1 = fx_new_page(&f);
	p3 = fx_new_page(&f);
	FX_OK(page_add(&f, 0, p0, src, NULL));
	FX_OK(page_add(&f, 0x1000, p1, src, NULL));
	FX_OK(aug(&f, 0x3000, 0, p3));
	fx_finalize(&f);
	cnt = chldcnt(&f);

	/* RUNNABLE: a mapped page must be blocked first. */
	FX_STATUS(mem(&f, TDH_MEM_PAGE_REMOVE, 0, 0, &out), 0xC0000B0600000001ULL);
	details_are(&out, ARCH_MAPPED(p0), INFO(0, ST_MAPPED));
	FX_STATUS(mem(&f, TDH_MEM_PAGE_REMOVE, 0x3000, 0, &out), 0xC0000B0600000001ULL);
	details_are(&out, ARCH_NOT_PRESENT_LEAF(p3), INFO(0, ST_PENDING));
	/* Blocked but not tracked: no details. */
	FX_OK(mem(&f, TDH_MEM_RANGE_BLOCK, 0, 0, NULL));
	FX_STATUS(mem(&f, TDH_MEM_PAGE_REMOVE, 0, 0, &out), 0xC0000B0800000001ULL);
	details_are(&out, 0, 0);
	assert_int_equal(fx_state(&f, 0, 0), SEPT_BLOCKED);
	assert_int_equal(chldcnt(&f), cnt);
	/* TRACK with no vCPU in guest: tracked. */
	FX_OK(track(&f));
	FX_OK(mem(&f, TDH_MEM_PAGE_REMOVE, 0, 0, &out));
	details_are(&out, p0, 0);
	assert_int_equal(chldcnt(&f), --cnt);
	pamt_is(&f, p0, PT_NDA, 0);
	/* A block after the TRACK is a new epoch: TRACK again. */
	FX_OK(mem(&f, TDH_MEM_RANGE_BLOCK, 0x3000, 0, NULL));
	assert_int_equal(fx_state(&f, 0x3000, 0), SEPT_PENDING_BLOCKED);
	FX_STATUS(mem(&f, TDH_MEM_PAGE_REMOVE, 0x3000, 0, NULL), 0xC0000B0800000001ULL);
	FX_OK(track(&f));
	FX_OK(mem(&f, TDH_MEM_PAGE_REMOVE, 0x3000, 0, &out));
	details_are(&out, p3, 0);
	assert_int_equal(chldcnt(&f), --cnt);
	/* Two TRACKs since the block: tracked as well. */
	FX_OK(mem(&f, TDH_MEM_RANGE_BLOCK, 0x1000, 0, NULL));
	FX_OK(track(&f));
	FX_OK(track(&f));
	FX_OK(mem(&f, TDH_MEM_PAGE_REMOVE, 0x1000, 0, NULL));
	assert_int_equal(chldcnt(&f), --cnt);
	assert_int_equal(cnt, 10);
	fx_fini(&f);
}

/* ---- TDH.MEM.SEPT.REMOVE ------------------------------------------------------- */

static void test_sept_remove_before_finalize(void **state)
{
	struct fx f;
	struct seamcall_regs out;
	hpa_t src, p0, pdpt, pd, pt, big;
	uint64_t cnt;

	(void)state;
	setup_path(&f);
	src = src_page(&f, 1);
	p0 = fx_new_page(&f);
	FX_OK(page_add(&f, 0, p0, src, NULL));
	pdpt = entry_hpa(&f, 0, 3);
	pd = entry_hpa(&f, 0, 2);
	pt = entry_hpa(&f, 0, 1);
	big = fx_new_2m(&f);
	FX_OK(aug(&f, 0x200000, 1, big));
	cnt = chldcnt(&f);

	/* Levels 1..pwl only. */
	FX_STATUS(mem(&f, TDH_MEM_SEPT_REMOVE, 0, 0, &out), 0xC000010000000001ULL);
	details_are(&out, 0, 0);
	FX_STATUS(mem(&f, TDH_MEM_SEPT_REMOVE, 0, 4, NULL), 0xC000010000000001ULL);
	FX_STATUS(mem(&f, TDH_MEM_SEPT_REMOVE, 0x1000, 1, NULL), 0xC000010000000001ULL);
	FX_STATUS(mem(&f, TDH_MEM_SEPT_REMOVE, 1ULL << 47, 1, NULL), 0xC000010000000001ULL);
	FX_STATUS(fx_call(&f, TDH_MEM_SEPT_REMOVE, tdx_page_info(0, 1), p0, 0, 0, NULL),
		  0xC000030000000002ULL);
	/* Not a table entry. */
	FX_STATUS(mem(&f, TDH_MEM_SEPT_REMOVE, 0x400000, 1, &out), 0xC0000B0D00000001ULL);
	details_are(&out, ARCH_FREE, INFO(1, ST_FREE));
	FX_STATUS(mem(&f, TDH_MEM_SEPT_REMOVE, 0x200000, 1, &out), 0xC0000B0D00000001ULL);
	details_are(&out, ARCH_NOT_PRESENT_LEAF(big), INFO(1, ST_PENDING));
	FX_STATUS(mem(&f, TDH_MEM_SEPT_REMOVE, 1ULL << 30, 1, &out), 0xC0000B0000000001ULL);
	details_are(&out, ARCH_FREE, INFO(2, ST_FREE));
	/* Tables that still hold something: the parent's details. */
	FX_STATUS(mem(&f, TDH_MEM_SEPT_REMOVE, 0, 1, &out), 0xC0000B0E00000001ULL);
	details_are(&out, ARCH_NL_MAPPED, INFO(1, ST_NL_MAPPED));
	FX_STATUS(mem(&f, TDH_MEM_SEPT_REMOVE, 0, 2, &out), 0xC0000B0E00000001ULL);
	details_are(&out, ARCH_NL_MAPPED, INFO(2, ST_NL_MAPPED));
	FX_STATUS(mem(&f, TDH_MEM_SEPT_REMOVE, 0, 3, &out), 0xC0000B0E00000001ULL);
	details_are(&out, ARCH_NL_MAPPED, INFO(3, ST_NL_MAPPED));
	assert_int_equal(chldcnt(&f), cnt);

	/* Bottom-up: the pages, then the PT (only the last one of its 512
	 * entries held a page), the PD, the PDPT. */
	FX_OK(mem(&f, TDH_MEM_PAGE_REMOVE, 0, 0, NULL));
	cnt--;
	FX_OK(mem(&f, TDH_MEM_SEPT_REMOVE, 0, 1, &out));
	details_are(&out, pt, 0);
	assert_int_equal(chldcnt(&f), --cnt);
	pamt_is(&f, pt, PT_NDA, 0);
	assert_int_equal(fx_state(&f, 0, 1), SEPT_FREE);
	sept_rd_is(&f, 0, 1, ARCH_FREE, INFO(1, ST_FREE));
	FX_STATUS(mem(&f, TDH_MEM_SEPT_REMOVE, 0, 2, NULL), 0xC0000B0E00000001ULL);
	FX_OK(mem(&f, TDH_MEM_PAGE_REMOVE, 0x200000, 1, NULL));
	cnt -= 512;
	FX_OK(mem(&f, TDH_MEM_SEPT_REMOVE, 0, 2, &out));
	details_are(&out, pd, 0);
	assert_int_equal(chldcnt(&f), --cnt);
	/* Version 1 reports no L2 pages. */
	out = (struct seamcall_regs){ 0 };
	FX_OK(fx_call(&f, TDH_MEM_SEPT_REMOVE | (1 << 16), tdx_page_info(0, 3), f.tdr, 0, 0,
		      &out));
	assert_int_equal(out.rcx, pdpt);
	assert_int_equal(out.r9, TDX_NULL_PA);
	assert_int_equal(out.r10, TDX_NULL_PA);
	assert_int_equal(out.r11, TDX_NULL_PA);
	assert_int_equal(chldcnt(&f), --cnt);
	assert_int_equal(cnt, 7);
	pamt_is(&f, pd, PT_NDA, 0);
	pamt_is(&f, pdpt, PT_NDA, 0);
	sept_rd_is(&f, 0, 3, ARCH_FREE, INFO(3, ST_FREE));
	FX_STATUS(mem(&f, TDH_MEM_SEPT_REMOVE, 0, 3, &out), 0xC0000B0D00000001ULL);
	details_are(&out, ARCH_FREE, INFO(3, ST_FREE));
	fx_fini(&f);
}

static void test_sept_remove_after_finalize(void **state)
{
	struct fx f;
	struct seamcall_regs out;
	hpa_t src, pt2, p1;
	uint64_t cnt;

	(void)state;
	setup_path(&f);
	fx_sept_path(&f, 0x200000, 0);
	src = src_page(&f, 1);
	FX_OK(page_add(&f, 0, fx_new_page(&f), src, NULL));
	pt2 = entry_hpa(&f, 0x200000, 1);
	fx_finalize(&f);
	cnt = chldcnt(&f);
	assert_int_equal(cnt, 10 + 1 + 1);

	/* An empty PT still needs BLOCK and TRACK once the TD runs. */
	FX_STATUS(mem(&f, TDH_MEM_SEPT_REMOVE, 0x200000, 1, &out), 0xC0000B0600000001ULL);
	details_are(&out, ARCH_NL_MAPPED, INFO(1, ST_NL_MAPPED));
	FX_OK(mem(&f, TDH_MEM_RANGE_BLOCK, 0x200000, 1, NULL));
	sept_rd_is(&f, 0x200000, 1, ARCH_NL_BLOCKED, INFO(1, ST_NL_BLOCKED));
	FX_STATUS(mem(&f, TDH_MEM_SEPT_REMOVE, 0x200000, 1, &out), 0xC0000B0800000001ULL);
	details_are(&out, 0, 0);
	/* Everything below a blocked table is out of the walk's reach. */
	p1 = fx_new_page(&f);
	FX_STATUS(aug(&f, 0x201000, 0, p1), 0xC0000B0000000001ULL);
	FX_STATUS(mem(&f, TDH_MEM_SEPT_RD, 0x201000, 0, &out), 0xC0000B0000000001ULL);
	details_are(&out, ARCH_NL_BLOCKED, INFO(1, ST_NL_BLOCKED));
	FX_OK(track(&f));
	FX_OK(mem(&f, TDH_MEM_SEPT_REMOVE, 0x200000, 1, &out));
	details_are(&out, pt2, 0);
	assert_int_equal(chldcnt(&f), --cnt);
	pamt_is(&f, pt2, PT_NDA, 0);
	assert_int_equal(fx_state(&f, 0x200000, 1), SEPT_FREE);

	/* Blocked and tracked, but the PT still maps a page. */
	FX_OK(mem(&f, TDH_MEM_RANGE_BLOCK, 0, 1, NULL));
	FX_OK(track(&f));
	FX_STATUS(mem(&f, TDH_MEM_SEPT_REMOVE, 0, 1, &out), 0xC0000B0E00000001ULL);
	details_are(&out, ARCH_NL_BLOCKED, INFO(1, ST_NL_BLOCKED));
	assert_int_equal(chldcnt(&f), cnt);
	fx_fini(&f);
}

/*
 * Walk hints (sept.c): a walk to a 4K entry may start in the 4K-leaf table
 * the thread's last such walk went through, but only while no entry above
 * 4K has changed since. Blocking the table's own entry is such a change:
 * the next AUG in the range must stop at the blocked entry as a walk from
 * the root does, not reach the table through the hint; unblocked (a change
 * again), AUGs there succeed again.
 */
static void test_walk_hint_follows_shape(void **state)
{
	struct fx f;
	struct seamcall_regs out;

	(void)state;
	setup_path(&f);
	fx_sept_path(&f, 0x200000, 0);
	fx_finalize(&f);
	/* The first AUG walks from the root and keeps the table; the next
	 * ones in the range start there, with the same answers. */
	FX_OK(aug(&f, 0x200000, 0, fx_new_page(&f)));
	FX_OK(aug(&f, 0x201000, 0, fx_new_page(&f)));
	FX_STATUS(aug(&f, 0x201000, 0, fx_new_page(&f)), 0xC0000B0D00000001ULL);
	assert_int_equal(fx_state(&f, 0x201000, 0), SEPT_PENDING);
	FX_OK(mem(&f, TDH_MEM_RANGE_BLOCK, 0x200000, 1, NULL));
	FX_STATUS(fx_call(&f, TDH_MEM_PAGE_AUG, tdx_page_info(0x202000, 0), f.tdr,
			  fx_new_page(&f), 0, &out),
		  0xC0000B0000000001ULL);
	details_are(&out, ARCH_NL_BLOCKED, INFO(1, ST_NL_BLOCKED));
	FX_OK(track(&f));
	FX_OK(mem(&f, TDH_MEM_RANGE_UNBLOCK, 0x200000, 1, NULL));
	FX_OK(aug(&f, 0x202000, 0, fx_new_page(&f)));
	FX_OK(aug(&f, 0x203000, 0, fx_new_page(&f)));
	assert_int_equal(fx_state(&f, 0x203000, 0), SEPT_PENDING);
	fx_fini(&f);
}

/*
 * The CPU's walk hint (module.c, hw_walk): a walk from a cached table keeps
 * the answers of its lookups (the vCPU, the table's PAMT check, its frame)
 * for the next walk from that table, and reads the entry itself each time.
 * It must not outlive the table as an S-EPT page: reclaimed at teardown,
 * which changes no S-EPT entry, the table is still found stale by the next
 * walk from it (the missed-flush check), as it is without a hint.
 */
static void test_hw_walk_hint_sees_reclaim(void **state)
{
	struct tdx_hw_walk_hint hint = { 0 };
	struct tdx_hw_walk w;
	struct fx f;
	pfn_t table, root;

	(void)state;
	setup_path(&f);
	fx_finalize(&f);
	tdx_hw_walk(f.m, f.tdvpr[0], 0x1000, &w);
	assert_int_equal(w.kind, TDX_HW_VIOLATION);
	assert_int_equal(w.level, 0);
	assert_true(w.nl_mask & (1u << 1));
	table = w.nl_table[1];
	root = w.root;

	tdx_hw_walk_from(f.m, f.tdvpr[0], 0x1000, root, 0, table, &hint, &w);
	assert_int_equal(w.kind, TDX_HW_VIOLATION);
	assert_int_equal(hint.table, table); /* kept */
	/* The kept walk reads the entry as it is now. */
	FX_OK(aug(&f, 0x1000, 0, fx_new_page(&f)));
	tdx_hw_walk_from(f.m, f.tdvpr[0], 0x1000, root, 0, table, &hint, &w);
	assert_int_equal(w.kind, TDX_HW_PENDING);
	assert_int_equal(w.level, 0);

	/* Teardown: the TD's key released, then the table reclaimed. */
	FX_OK(fx_call(&f, TDH_VP_FLUSH, f.tdvpr[0], 0, 0, 0, NULL));
	FX_OK(fx_call(&f, TDH_MNG_VPFLUSHDONE, f.tdr, 0, 0, 0, NULL));
	FX_OK(fx_call(&f, TDH_PHYMEM_CACHE_WB, 0, 0, 0, 0, NULL));
	FX_OK(fx_call(&f, TDH_MNG_KEY_FREEID, f.tdr, 0, 0, 0, NULL));
	FX_OK(fx_call(&f, TDH_PHYMEM_PAGE_RECLAIM, pfn_to_hpa(table), 0, 0, 0, NULL));
	pamt_is(&f, pfn_to_hpa(table), PT_NDA, 0);
	tdx_hw_walk_from(f.m, f.tdvpr[0], 0x1000, root, 0, table, &hint, &w);
	assert_int_equal(w.kind, TDX_HW_STALE_TABLE);
	assert_int_equal(w.hpa, pfn_to_hpa(table));
	fx_fini(&f);
}

/* No shared hold of the TD's locks left counted: by field, and the words'
 * sum whole (a hold published ahead and not withdrawn would show in it). */
static void no_td_holds(struct fx *f, struct tdx_td *td)
{
	assert_int_equal(tdx_td_holders(f->m, td->index, TD_HOLD_TDR_SHIFT), 0);
	assert_int_equal(tdx_td_holders(f->m, td->index, TD_HOLD_OP_STATE_SHIFT), 0);
	assert_int_equal(tdx_td_holders(f->m, td->index, TD_HOLD_SEPT_SHIFT), 0);
	assert_int_equal(tdx_td_holders(f->m, td->index, TD_HOLD_EPOCH_SHIFT), 0);
	assert_int_equal(holds_sum(&f->m->td_holds[0].w[td->index], sizeof(f->m->td_holds[0])),
			 0);
}

/*
 * The memory leaves' prologue publishes its OP_STATE and tree holds with
 * the TDR's, ahead (tdx_locks.h). A call that ends before it reaches them
 * (an operand error after the TDR step) or fails at one of them (BUSY) must
 * leave nothing counted, answer as it did with one try-lock per lock, and
 * keep the host-priority protocol on the OP_STATE word.
 */
static void test_prologue_holds_ahead(void **state)
{
	struct fx f;
	struct tdx_td *td;
	struct sharex_counted tree, op;

	(void)state;
	setup_path(&f);
	fx_sept_path(&f, 0x200000, 0);
	fx_finalize(&f);
	td = tdx_td_of_tdr_pfn(f.m, hpa_to_pfn(f.tdr));
	assert_non_null(td);
	tree = tdx_td_lock(f.m, td, TD_HOLD_SEPT_SHIFT);
	op = tdx_td_lock(f.m, td, TD_HOLD_OP_STATE_SHIFT);
	no_td_holds(&f, td);
	/* Reserved bits in RCX: refused after the TDR and OP_STATE steps,
	 * before the tree lock. */
	FX_STATUS(fx_call(&f, TDH_MEM_PAGE_AUG, tdx_page_info(0x200000, 0) | 0x8, f.tdr,
			  fx_new_page(&f), 0, NULL),
		  TDX_OPERAND_INVALID + TDX_OPERAND_ID_RCX);
	no_td_holds(&f, td);
	/* The tree held exclusive: BUSY naming it, nothing left. */
	assert_int_equal(sharex_counted_try_excl(&tree), LOCK_OK);
	FX_STATUS(aug(&f, 0x200000, 0, fx_new_page(&f)), TDX_OPERAND_BUSY + TDX_OPERAND_ID_SEPT);
	assert_int_equal(sharex_counted_readers(&tree), 0);
	sharex_counted_release_excl(&tree);
	no_td_holds(&f, td);
	/* OP_STATE held exclusive: BUSY naming it, HP announced, the tree
	 * hold published ahead withdrawn with the rest. */
	assert_int_equal(sharex_counted_try_excl(&op), LOCK_OK);
	FX_STATUS(aug(&f, 0x200000, 0, fx_new_page(&f)),
		  TDX_OPERAND_BUSY + TDX_OPERAND_ID_OP_STATE);
	assert_true(atomic_load(op.word) & SHAREX_HP);
	sharex_counted_release_excl(&op);
	no_td_holds(&f, td);
	/* Free again: the AUG succeeds, clears HP, and gives everything back. */
	FX_OK(aug(&f, 0x200000, 0, fx_new_page(&f)));
	assert_false(atomic_load(op.word) & SHAREX_HP);
	no_td_holds(&f, td);
	fx_fini(&f);
}

/* ---- TDH.MEM.SEPT.RD ------------------------------------------------------------ */

static void test_sept_rd(void **state)
{
	struct fx f;
	struct seamcall_regs out;
	hpa_t src, p0, p1, big, page;
	uint64_t cnt;

	(void)state;
	setup_path(&f);
	src = src_page(&f, 1);
	p0 = fx_new_page(&f);
	p1 = fx_new_page(&f);
	page = fx_new_page(&f);

	/* Every state, at its level. */
	sept_rd_is(&f, 0, 3, ARCH_NL_MAPPED, INFO(3, ST_NL_MAPPED));
	sept_rd_is(&f, 0, 2, ARCH_NL_MAPPED, INFO(2, ST_NL_MAPPED));
	sept_rd_is(&f, 0, 1, ARCH_NL_MAPPED, INFO(1, ST_NL_MAPPED));
	sept_rd_is(&f, 0, 0, ARCH_FREE, INFO(0, ST_FREE));
	sept_rd_is(&f, 0x200000, 1, ARCH_FREE, INFO(1, ST_FREE));
	FX_OK(page_add(&f, 0, p0, src, NULL));
	sept_rd_is(&f, 0, 0, ARCH_MAPPED(p0), INFO(0, ST_MAPPED));
	FX_OK(aug(&f, 0x1000, 0, p1));
	sept_rd_is(&f, 0x1000, 0, ARCH_NOT_PRESENT_LEAF(p1), INFO(0, ST_PENDING));
	FX_OK(mem(&f, TDH_MEM_RANGE_BLOCK, 0, 0, NULL));
	sept_rd_is(&f, 0, 0, ARCH_NOT_PRESENT_LEAF(p0), INFO(0, ST_BLOCKED));
	FX_OK(mem(&f, TDH_MEM_RANGE_BLOCK, 0x1000, 0, NULL));
	sept_rd_is(&f, 0x1000, 0, ARCH_NOT_PRESENT_LEAF(p1), INFO(0, ST_PENDING_BLOCKED));
	FX_OK(mem(&f, TDH_MEM_RANGE_BLOCK, 0, 1, NULL));
	sept_rd_is(&f, 0, 1, ARCH_NL_BLOCKED, INFO(1, ST_NL_BLOCKED));
	big = fx_new_2m(&f);
	FX_OK(aug(&f, 0x200000, 1, big));
	sept_rd_is(&f, 0x200000, 1, ARCH_NOT_PRESENT_LEAF(big), INFO(1, ST_PENDING));
	FX_OK(mem(&f, TDH_MEM_RANGE_BLOCK, 0x200000, 1, NULL));
	sept_rd_is(&f, 0x200000, 1, ARCH_NOT_PRESENT_LEAF(big), INFO(1, ST_PENDING_BLOCKED));

	/* Walk failures report the stopping entry (§1.6 examples). */
	FX_STATUS(mem(&f, TDH_MEM_SEPT_RD, 0x1000, 0, &out), 0xC0000B0000000001ULL);
	details_are(&out, ARCH_NL_BLOCKED, INFO(1, ST_NL_BLOCKED));
	FX_STATUS(mem(&f, TDH_MEM_SEPT_RD, 0x201000, 0, &out), 0xC0000B0000000001ULL);
	details_are(&out, ARCH_NOT_PRESENT_LEAF(big), INFO(1, ST_PENDING_BLOCKED));
	FX_STATUS(mem(&f, TDH_MEM_SEPT_RD, 0x40000000, 1, &out), 0xC0000B0000000001ULL);
	details_are(&out, ARCH_FREE, INFO(2, ST_FREE));
	/* AUG under a FREE PDE, and under an NL_BLOCKED one. */
	FX_STATUS(aug(&f, 0x401000, 0, page), 0xC0000B0000000001ULL);
	FX_STATUS(fx_call(&f, TDH_MEM_PAGE_AUG, tdx_page_info(0x401000, 0), f.tdr, page, 0,
			  &out), 0xC0000B0000000001ULL);
	details_are(&out, ARCH_FREE, INFO(1, ST_FREE));
	FX_STATUS(fx_call(&f, TDH_MEM_PAGE_AUG, tdx_page_info(0x2000, 0), f.tdr, page, 0, &out),
		  0xC0000B0000000001ULL);
	details_are(&out, ARCH_NL_BLOCKED, INFO(1, ST_NL_BLOCKED));

	/* Operands: the TDR first, then the L2 flag, then the page info. */
	FX_STATUS(fx_call(&f, TDH_MEM_SEPT_RD, tdx_page_info(0, 0), f.tdr | 1, 0, 0, &out),
		  0xC000010000000002ULL);
	details_are(&out, 0, 0);
	FX_STATUS(fx_call(&f, TDH_MEM_SEPT_RD, tdx_page_info(0, 7), f.tdr | 1, 0, 0, NULL),
		  0xC000010000000002ULL);
	FX_STATUS(fx_call(&f, TDH_MEM_SEPT_RD, tdx_page_info(0, 0), p0 | 1, 0, 0, NULL),
		  0xC000030000000002ULL);
	FX_STATUS(fx_call(&f, TDH_MEM_SEPT_RD, tdx_page_info(0, 0), f.tdr | 2, 0, 0, NULL),
		  0xC000010000000002ULL);
	FX_STATUS(mem(&f, TDH_MEM_SEPT_RD, 0, 4, NULL), 0xC000010000000001ULL);
	FX_STATUS(mem(&f, TDH_MEM_SEPT_RD, 0x1000, 1, NULL), 0xC000010000000001ULL);
	FX_STATUS(fx_call(&f, TDH_MEM_SEPT_RD, 0x1000 | 0x10, f.tdr, 0, 0, NULL),
		  0xC000010000000001ULL);
	FX_STATUS(mem(&f, TDH_MEM_SEPT_RD, 1ULL << 47, 3, NULL), 0xC000010000000001ULL);

	/* Reading changes nothing, and works once the TD runs. */
	cnt = chldcnt(&f);
	fx_finalize(&f);
	sept_rd_is(&f, 0, 1, ARCH_NL_BLOCKED, INFO(1, ST_NL_BLOCKED));
	sept_rd_is(&f, 0, 3, ARCH_NL_MAPPED, INFO(3, ST_NL_MAPPED));
	assert_int_equal(chldcnt(&f), cnt);
	fx_fini(&f);
}

/* ---- TDH.MEM.RANGE.UNBLOCK -------------------------------------------------------- */

static void test_unblock(void **state)
{
	struct fx f;
	struct seamcall_regs out;
	hpa_t src, p0, p1;
	uint64_t cnt;

	(void)state;
	setup_path(&f);
	src = src_page(&f, 1);
	p0 = fx_new_page(&f);
	p1 = fx_new_page(&f);
	FX_OK(page_add(&f, 0, p0, src, NULL));
	FX_OK(aug(&f, 0x1000, 0, p1));
	cnt = chldcnt(&f);

	/* Only blocked entries. */
	FX_STATUS(mem(&f, TDH_MEM_RANGE_UNBLOCK, 0, 0, &out), 0xC0000B0D00000001ULL);
	details_are(&out, ARCH_MAPPED(p0), INFO(0, ST_MAPPED));
	FX_STATUS(mem(&f, TDH_MEM_RANGE_UNBLOCK, 0x1000, 0, &out), 0xC0000B0D00000001ULL);
	details_are(&out, ARCH_NOT_PRESENT_LEAF(p1), INFO(0, ST_PENDING));
	FX_STATUS(mem(&f, TDH_MEM_RANGE_UNBLOCK, 0x2000, 0, &out), 0xC0000B0D00000001ULL);
	details_are(&out, ARCH_FREE, INFO(0, ST_FREE));
	FX_STATUS(mem(&f, TDH_MEM_RANGE_UNBLOCK, 0, 1, &out), 0xC0000B0D00000001ULL);
	details_are(&out, ARCH_NL_MAPPED, INFO(1, ST_NL_MAPPED));
	FX_STATUS(mem(&f, TDH_MEM_RANGE_UNBLOCK, 0, 4, NULL), 0xC000010000000001ULL);
	FX_STATUS(mem(&f, TDH_MEM_RANGE_UNBLOCK, 0x1000, 1, NULL), 0xC000010000000001ULL);
	FX_STATUS(mem(&f, TDH_MEM_RANGE_UNBLOCK, 1ULL << 47, 0, NULL), 0xC000010000000001ULL);
	FX_STATUS(fx_call(&f, TDH_MEM_RANGE_UNBLOCK, tdx_page_info(0, 0), p0, 0, 0, NULL),
		  0xC000030000000002ULL);

	/* Before finalization: no TRACK needed. */
	FX_OK(mem(&f, TDH_MEM_RANGE_BLOCK, 0, 0, NULL));
	FX_OK(mem(&f, TDH_MEM_RANGE_UNBLOCK, 0, 0, &out));
	details_are(&out, 0, 0);
	sept_rd_is(&f, 0, 0, ARCH_MAPPED(p0), INFO(0, ST_MAPPED));
	FX_OK(mem(&f, TDH_MEM_RANGE_BLOCK, 0x1000, 0, NULL));
	FX_OK(mem(&f, TDH_MEM_RANGE_UNBLOCK, 0x1000, 0, NULL));
	sept_rd_is(&f, 0x1000, 0, ARCH_NOT_PRESENT_LEAF(p1), INFO(0, ST_PENDING));
	FX_OK(mem(&f, TDH_MEM_RANGE_BLOCK, 0, 1, NULL));
	FX_OK(mem(&f, TDH_MEM_RANGE_UNBLOCK, 0, 1, NULL));
	sept_rd_is(&f, 0, 1, ARCH_NL_MAPPED, INFO(1, ST_NL_MAPPED));
	sept_rd_is(&f, 0, 0, ARCH_MAPPED(p0), INFO(0, ST_MAPPED));

	/* Once the TD runs: the blocked object's bepoch must be tracked; the
	 * error names the S-EPT tree and has no details. */
	fx_finalize(&f);
	FX_OK(mem(&f, TDH_MEM_RANGE_BLOCK, 0, 0, NULL));
	FX_STATUS(mem(&f, TDH_MEM_RANGE_UNBLOCK, 0, 0, &out), 0xC0000B0800000092ULL);
	details_are(&out, 0, 0);
	FX_OK(track(&f));
	FX_OK(mem(&f, TDH_MEM_RANGE_UNBLOCK, 0, 0, NULL));
	sept_rd_is(&f, 0, 0, ARCH_MAPPED(p0), INFO(0, ST_MAPPED));
	/* Blocked again: the new block's epoch needs its own TRACK. */
	FX_OK(mem(&f, TDH_MEM_RANGE_BLOCK, 0, 0, NULL));
	FX_STATUS(mem(&f, TDH_MEM_RANGE_UNBLOCK, 0, 0, NULL), 0xC0000B0800000092ULL);
	FX_OK(track(&f));
	FX_OK(mem(&f, TDH_MEM_RANGE_UNBLOCK, 0, 0, NULL));
	/* PENDING_BLOCKED -> PENDING. */
	FX_OK(mem(&f, TDH_MEM_RANGE_BLOCK, 0x1000, 0, NULL));
	FX_STATUS(mem(&f, TDH_MEM_RANGE_UNBLOCK, 0x1000, 0, NULL), 0xC0000B0800000092ULL);
	FX_OK(track(&f));
	FX_OK(mem(&f, TDH_MEM_RANGE_UNBLOCK, 0x1000, 0, NULL));
	sept_rd_is(&f, 0x1000, 0, ARCH_NOT_PRESENT_LEAF(p1), INFO(0, ST_PENDING));
	/* A table: its bepoch lives on the child S-EPT page. */
	FX_OK(mem(&f, TDH_MEM_RANGE_BLOCK, 0, 1, NULL));
	FX_STATUS(mem(&f, TDH_MEM_RANGE_UNBLOCK, 0, 1, NULL), 0xC0000B0800000092ULL);
	FX_OK(track(&f));
	FX_OK(mem(&f, TDH_MEM_RANGE_UNBLOCK, 0, 1, NULL));
	sept_rd_is(&f, 0, 1, ARCH_NL_MAPPED, INFO(1, ST_NL_MAPPED));
	sept_rd_is(&f, 0, 0, ARCH_MAPPED(p0), INFO(0, ST_MAPPED));
	assert_int_equal(chldcnt(&f), cnt);
	fx_fini(&f);
}

/* ---- the TD's state ------------------------------------------------------------------ */

/* Once VPFLUSHDONE has blocked the TD, every memory leaf answers
 * keys-not-configured (§3 step 3, §4.13), after its TDR check. */
static void test_td_blocked(void **state)
{
	struct fx f;
	hpa_t src, p0, other;

	(void)state;
	setup_path(&f);
	src = src_page(&f, 1);
	p0 = fx_new_page(&f);
	other = fx_new_page(&f);
	FX_OK(page_add(&f, 0, p0, src, NULL));
	FX_OK(fx_call(&f, TDH_VP_FLUSH, f.tdvpr[0], 0, 0, 0, NULL));
	FX_OK(fx_call(&f, TDH_MNG_VPFLUSHDONE, f.tdr, 0, 0, 0, NULL));
	FX_STATUS(page_add(&f, 0x1000, other, src, NULL), 0x8000081000000000ULL);
	FX_STATUS(fx_call(&f, TDH_MR_EXTEND, 0, f.tdr, 0, 0, NULL), 0x8000081000000000ULL);
	FX_STATUS(mem(&f, TDH_MEM_PAGE_REMOVE, 0, 0, NULL), 0x8000081000000000ULL);
	FX_STATUS(mem(&f, TDH_MEM_SEPT_REMOVE, 0, 1, NULL), 0x8000081000000000ULL);
	FX_STATUS(mem(&f, TDH_MEM_SEPT_RD, 0, 0, NULL), 0x8000081000000000ULL);
	FX_STATUS(mem(&f, TDH_MEM_RANGE_UNBLOCK, 0, 0, NULL), 0x8000081000000000ULL);
	FX_STATUS(fx_call(&f, TDH_MEM_PAGE_REMOVE, tdx_page_info(0, 0), other, 0, 0, NULL),
		  0xC000030000000002ULL);
	fx_fini(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_page_add),
		cmocka_unit_test(test_page_add_gpaw52),
		cmocka_unit_test(test_mr_extend),
		cmocka_unit_test(test_remove_before_finalize),
		cmocka_unit_test(test_remove_after_finalize),
		cmocka_unit_test(test_sept_remove_before_finalize),
		cmocka_unit_test(test_sept_remove_after_finalize),
		cmocka_unit_test(test_walk_hint_follows_shape),
		cmocka_unit_test(test_hw_walk_hint_sees_reclaim),
		cmocka_unit_test(test_prologue_holds_ahead),
		cmocka_unit_test(test_sept_rd),
		cmocka_unit_test(test_unblock),
		cmocka_unit_test(test_td_blocked),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
