/* SPDX-License-Identifier: MIT */
/*
 * The scenario runner against a fake TD (a scn_backend whose answers each
 * test sets): what every command calls, how checks are counted, the exact
 * progress, FAIL and closing lines, the exit statuses, and that the TD is
 * always destroyed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "scenario/runner.h"
#include "scenario/scenario.h"
#include "tdxmmu/tdxmmu.h"

/* ---- the fake TD ------------------------------------------------------ */

static struct fake {
	int dummy;                     /* what the tdxmmu_td pointer points at */
	int creates, destroys;
	struct tdxmmu_td_config cfg;   /* as td_create saw it */
	int create_rc;
	int destroy_rc;
	const char *destroy_msg;
	int simple_rc;                 /* memslot/add/finalize/host_* */
	/* API calls after td_create; atomic: the lanes of a parallel block
	 * call the fake from their own threads. */
	_Atomic int calls;
	uint64_t read_val;
	enum tdxmmu_outcome outcome;
	int access_rc;
	uint64_t mismatch;
	uint64_t status;               /* accept status, seamcall rax */
	struct tdxmmu_seamcall_req req;
	uint64_t frame_of_gpa;
	enum tdxmmu_sept_state sept;
	unsigned sept_level;
	enum tdxmmu_spte_state spte_p, spte_s;
	int check_n;
	const char *check_report;
	const char *last_error;
	uint64_t zap_size;
	enum tdxmmu_alias zap_alias;
	/* contract 1.1 */
	unsigned memslot_id;
	bool dead;                     /* what vm_dead answers */
	bool kill_on_call;             /* the next f_simple() kills the VM */
	int inject_leaf;
	uint32_t inject_ppm;
	enum tdxmmu_alloc_site inject_site;
	int inject_offs;
	unsigned enters, leaves;
	unsigned spte_level;
	uint64_t show_gpa, show_size;
	int counter_rc;                /* an error for every counter asked */
} fk;

static tdxmmu_td *fake_td(void)
{
	return (tdxmmu_td *)(void *)&fk.dummy;
}

static void f_config_init(struct tdxmmu_td_config *cfg)
{
	cfg->host_memory = 12345;
}

static int f_create(const struct tdxmmu_td_config *cfg, tdxmmu_td **out)
{
	fk.cfg = *cfg;
	if (fk.create_rc)
		return fk.create_rc;
	fk.creates++;
	*out = fake_td();
	return 0;
}

static int f_destroy(tdxmmu_td *td, struct tdxmmu_destroy_report *rep)
{
	assert_ptr_equal(td, fake_td());
	fk.destroys++;
	if (fk.destroy_msg)
		snprintf(rep->message, sizeof(rep->message), "%s", fk.destroy_msg);
	rep->frames_leaked = 3;
	return fk.destroy_rc;
}

static int f_simple(tdxmmu_td *td)
{
	assert_ptr_equal(td, fake_td());
	fk.calls++;
	if (fk.kill_on_call) {
		fk.kill_on_call = false;
		fk.dead = true;
	}
	return fk.simple_rc;
}

static int f_memslot_add(tdxmmu_td *td, unsigned id, uint64_t base,
			 uint64_t size)
{
	(void)base, (void)size;
	fk.memslot_id = id;
	return f_simple(td);
}

static int f_add_page(tdxmmu_td *td, uint64_t gpa, uint8_t fill)
{
	(void)gpa, (void)fill;
	return f_simple(td);
}

static int f_finalize(tdxmmu_td *td)
{
	return f_simple(td);
}

static int f_read(tdxmmu_td *td, unsigned vcpu, uint64_t gpa, uint64_t *val,
		  enum tdxmmu_outcome *o)
{
	(void)vcpu, (void)gpa;
	f_simple(td);
	*val = fk.read_val;
	*o = fk.outcome;
	return fk.access_rc;
}

static int f_write(tdxmmu_td *td, unsigned vcpu, uint64_t gpa, uint64_t val,
		   enum tdxmmu_outcome *o)
{
	(void)vcpu, (void)gpa, (void)val;
	f_simple(td);
	*o = fk.outcome;
	return fk.access_rc;
}

static int f_fill(tdxmmu_td *td, unsigned vcpu, uint64_t gpa, uint64_t size,
		  uint8_t byte, enum tdxmmu_outcome *o)
{
	(void)vcpu, (void)gpa, (void)size, (void)byte;
	f_simple(td);
	*o = fk.outcome;
	return fk.access_rc;
}

static int f_verify(tdxmmu_td *td, unsigned vcpu, uint64_t gpa, uint64_t size,
		    uint8_t byte, uint64_t *mismatch, enum tdxmmu_outcome *o)
{
	(void)vcpu, (void)gpa, (void)size, (void)byte;
	f_simple(td);
	*mismatch = fk.mismatch;
	*o = fk.outcome;
	return fk.access_rc;
}

static int f_accept(tdxmmu_td *td, unsigned vcpu, uint64_t gpa,
		    unsigned level, uint64_t *status)
{
	(void)vcpu, (void)gpa, (void)level;
	f_simple(td);
	*status = fk.status;
	return fk.access_rc;
}

static int f_mapgpa(tdxmmu_td *td, unsigned vcpu, uint64_t gpa, uint64_t size,
		    enum tdxmmu_outcome *o)
{
	(void)vcpu, (void)gpa, (void)size;
	f_simple(td);
	*o = fk.outcome;
	return fk.access_rc;
}

static int f_host_read(tdxmmu_td *td, uint64_t gpa, uint64_t *val)
{
	(void)gpa;
	*val = fk.read_val;
	return f_simple(td);
}

static int f_host_write(tdxmmu_td *td, uint64_t gpa, uint64_t val)
{
	(void)gpa, (void)val;
	return f_simple(td);
}

static int f_invalidate(tdxmmu_td *td, uint64_t gpa, uint64_t size)
{
	(void)gpa, (void)size;
	return f_simple(td);
}

static int f_memslot_delete(tdxmmu_td *td, unsigned id)
{
	(void)id;
	return f_simple(td);
}

static int f_zap(tdxmmu_td *td, uint64_t gpa, uint64_t size,
		 enum tdxmmu_alias alias)
{
	(void)gpa;
	fk.zap_size = size;
	fk.zap_alias = alias;
	return f_simple(td);
}

static int f_frame_new(tdxmmu_td *td, uint64_t *hpa)
{
	*hpa = 0x7000;
	return f_simple(td);
}

static int f_frame_of(tdxmmu_td *td, uint64_t gpa, uint64_t *hpa)
{
	fk.frame_of_gpa = gpa;
	*hpa = 0x9000;
	return f_simple(td);
}

static int f_seamcall(tdxmmu_td *td, const struct tdxmmu_seamcall_req *req,
		      struct tdxmmu_seamcall_out *out)
{
	fk.req = *req;
	out->rax = fk.status;
	out->rcx = 0x11;
	out->rdx = 0x22;
	return f_simple(td);
}

static int f_sept_state(tdxmmu_td *td, uint64_t gpa, unsigned level,
			enum tdxmmu_sept_state *out)
{
	(void)gpa;
	fk.sept_level = level;
	*out = fk.sept;
	return f_simple(td);
}

static int f_spte_state(tdxmmu_td *td, uint64_t gpa,
			enum tdxmmu_spte_state *p, enum tdxmmu_spte_state *s)
{
	(void)gpa;
	*p = fk.spte_p;
	*s = fk.spte_s;
	return f_simple(td);
}

static int f_counter(tdxmmu_td *td, const char *name, uint64_t *val)
{
	assert_ptr_equal(td, fake_td());
	if (fk.counter_rc)
		return fk.counter_rc;
	if (strcmp(name, "fault.private") == 0)
		*val = 1;
	else if (strcmp(name, "seamcall.TDH.MEM.PAGE.AUG") == 0)
		*val = 2;
	else
		return TDXMMU_ENOENT;
	return 0;
}

static int f_check(tdxmmu_td *td, char *report, size_t size)
{
	int rc = f_simple(td);

	if (rc)
		return rc;
	snprintf(report, size, "%s", fk.check_report ? fk.check_report : "");
	return fk.check_n;
}

static const char *f_last_error(void)
{
	return fk.last_error ? fk.last_error : "";
}

static bool f_vm_dead(tdxmmu_td *td)
{
	assert_ptr_equal(td, fake_td());
	return fk.dead;
}

static int f_enter(tdxmmu_td *td, unsigned vcpu)
{
	(void)vcpu;
	fk.enters++;
	return f_simple(td);
}

static int f_leave(tdxmmu_td *td, unsigned vcpu)
{
	(void)vcpu;
	fk.leaves++;
	return f_simple(td);
}

static int f_inject_busy(tdxmmu_td *td, int leaf, uint32_t ppm)
{
	fk.inject_leaf = leaf;
	fk.inject_ppm = ppm;
	return f_simple(td);
}

static int f_inject_enomem(tdxmmu_td *td, enum tdxmmu_alloc_site site,
			   uint32_t ppm)
{
	fk.inject_site = site;
	fk.inject_ppm = ppm;
	return f_simple(td);
}

static int f_inject_off(tdxmmu_td *td)
{
	fk.inject_offs++;
	return f_simple(td);
}

static int f_spte_state_level(tdxmmu_td *td, uint64_t gpa, unsigned level,
			      enum tdxmmu_spte_state *p,
			      enum tdxmmu_spte_state *sh)
{
	(void)gpa;
	fk.spte_level = level;
	*p = fk.spte_p;
	*sh = fk.spte_s;
	return f_simple(td);
}

static int f_show(tdxmmu_td *td, uint64_t gpa, uint64_t size, FILE *out)
{
	fk.show_gpa = gpa;
	fk.show_size = size;
	fprintf(out, "(the trees)\n");
	return f_simple(td);
}

static const struct scn_backend fake = {
	.td_config_init = f_config_init,
	.td_create = f_create,
	.td_destroy = f_destroy,
	.memslot_add = f_memslot_add,
	.td_add_page = f_add_page,
	.td_finalize = f_finalize,
	.vcpu_read = f_read,
	.vcpu_write = f_write,
	.vcpu_fill = f_fill,
	.vcpu_verify = f_verify,
	.vcpu_accept = f_accept,
	.vcpu_mapgpa = f_mapgpa,
	.host_read = f_host_read,
	.host_write = f_host_write,
	.host_invalidate = f_invalidate,
	.memslot_delete = f_memslot_delete,
	.host_zap = f_zap,
	.host_frame_new = f_frame_new,
	.host_frame_of = f_frame_of,
	.seamcall = f_seamcall,
	.sept_state = f_sept_state,
	.spte_state = f_spte_state,
	.counter = f_counter,
	.check = f_check,
	.last_error = f_last_error,
	.vm_dead = f_vm_dead,
	.vcpu_enter = f_enter,
	.vcpu_leave = f_leave,
	.inject_busy_leaf = f_inject_busy,
	.inject_enomem = f_inject_enomem,
	.inject_off = f_inject_off,
	.spte_state_level = f_spte_state_level,
	.show = f_show,
};

static int setup(void **state)
{
	(void)state;
	memset(&fk, 0, sizeof(fk));
	fk.mismatch = UINT64_MAX;
	return 0;
}

/* ---- running a script ------------------------------------------------- */

struct result {
	char *out, *err;
	size_t out_len, err_len;
	int status;
};

static struct result res;

static int teardown(void **state)
{
	(void)state;
	free(res.out);
	free(res.err);
	memset(&res, 0, sizeof(res));
	/* Whatever happened, the TD created was destroyed exactly once. */
	assert_int_equal(fk.destroys, fk.creates);
	return 0;
}

static int run_opts(const char *text, bool quiet, FILE *trace)
{
	FILE *out, *err;
	struct tdxmmu_run_options o;

	free(res.out);
	free(res.err);
	out = open_memstream(&res.out, &res.out_len);
	err = open_memstream(&res.err, &res.err_len);
	o = (struct tdxmmu_run_options){ .out = out, .err = err,
					 .trace = trace, .quiet = quiet };
	res.status = scn_run_text("t.tds", text, strlen(text), &fake, &o);
	fclose(out);
	fclose(err);
	return res.status;
}

static int run(const char *text)
{
	return run_opts(text, false, NULL);
}

static int run_quiet(const char *text)
{
	return run_opts(text, true, NULL);
}

/* ---- tests ------------------------------------------------------------ */

static void test_td_config(void **state)
{
	FILE *trace = tmpfile();

	(void)state;
	assert_int_equal(run_opts("td mmu=legacy gpaw=52 vcpus=3 accept=explicit seed=9 memory=64M\n",
				  false, trace), 0);
	assert_int_equal(fk.cfg.mmu, TDXMMU_MMU_LEGACY);
	assert_int_equal(fk.cfg.gpaw, 52);
	assert_int_equal(fk.cfg.nr_vcpus, 3);
	assert_int_equal(fk.cfg.accept, TDXMMU_ACCEPT_EXPLICIT);
	assert_int_equal(fk.cfg.seed, 9);
	assert_int_equal(fk.cfg.host_memory, 64 << 20);
	assert_ptr_equal(fk.cfg.trace, trace);
	assert_string_equal(res.out,
			    "t.tds:1: td mmu=legacy gpaw=52 vcpus=3 accept=explicit seed=9 memory=64M -> created (mmu=legacy gpaw=52 vcpus=3 accept=explicit seed=9)\n"
			    "0 passed, 0 failed\n");
	assert_string_equal(res.err, "");
	fclose(trace);

	/* Defaults as the language gives them; host memory as the API's. */
	assert_int_equal(run("td\n"), 0);
	assert_int_equal(fk.cfg.mmu, TDXMMU_MMU_TDP);
	assert_int_equal(fk.cfg.gpaw, 48);
	assert_int_equal(fk.cfg.nr_vcpus, 1);
	assert_int_equal(fk.cfg.accept, TDXMMU_ACCEPT_AUTO);
	assert_int_equal(fk.cfg.seed, 1);
	assert_int_equal(fk.cfg.host_memory, 12345);
	assert_null(fk.cfg.trace);
	assert_int_equal(fk.destroys, 2);
}

static void test_checks_counted(void **state)
{
	(void)state;
	fk.sept = TDXMMU_SEPT_MAPPED;
	fk.read_val = 0x1111;
	assert_int_equal(run("td\n"
			     "memslot 0 0 16M\n"
			     "vcpu 0 read 0x1000\n"           /* implicit: 0 */
			     "vcpu 0 read 0x1000 expect=0x1111 outcome=ok\n" /* 2 */
			     "expect-sept 0 MAPPED\n"         /* 1 */
			     "seamcall TDH.MEM.TRACK\n"       /* implicit: 0 */
			     "check\n"                        /* 1 */
			     "destroy\n"),                    /* 1 */
			 0);
	assert_string_equal(res.out,
			    "t.tds:1: td -> created (mmu=tdp gpaw=48 vcpus=1 accept=auto seed=1)\n"
			    "t.tds:2: memslot 0 0 16M -> ok\n"
			    "t.tds:3: vcpu 0 read 0x1000 -> 0x1111 (ok)\n"
			    "t.tds:4: vcpu 0 read 0x1000 expect=0x1111 outcome=ok -> 0x1111 (ok)\n"
			    "t.tds:5: expect-sept 0 MAPPED -> MAPPED\n"
			    "t.tds:6: seamcall TDH.MEM.TRACK -> TDX_SUCCESS\n"
			    "t.tds:7: check -> no violation\n"
			    "t.tds:8: destroy -> nothing leaked\n"
			    "5 passed, 0 failed\n");
	assert_int_equal(fk.destroys, 1);
}

static void test_seamcall_status(void **state)
{
	(void)state;
	/* Without expect= the call must succeed. */
	fk.status = 0xC0000B0000000001ULL;
	assert_int_equal(run("td\n"
			     "seamcall TDH.MEM.PAGE.AUG gpa=0x1000 page=new\n"
			     "seamcall TDH.MEM.PAGE.AUG gpa=0x1000 page=new expect=TDX_EPT_WALK_FAILED\n"
			     "seamcall TDH.MEM.PAGE.AUG gpa=0x1000 page=new expect=TDX_OPERAND_BUSY\n"),
			 1);
	assert_string_equal(res.out,
			    "t.tds:1: td -> created (mmu=tdp gpaw=48 vcpus=1 accept=auto seed=1)\n"
			    "t.tds:2: seamcall TDH.MEM.PAGE.AUG gpa=0x1000 page=new -> TDX_EPT_WALK_FAILED 0xc0000b0000000001 (page 0x7000)\n"
			    "t.tds:2: FAIL: seamcall TDH.MEM.PAGE.AUG expect=TDX_SUCCESS (actual TDX_EPT_WALK_FAILED 0xc0000b0000000001)\n"
			    "t.tds:3: seamcall TDH.MEM.PAGE.AUG gpa=0x1000 page=new expect=TDX_EPT_WALK_FAILED -> TDX_EPT_WALK_FAILED 0xc0000b0000000001 (page 0x7000)\n"
			    "t.tds:4: seamcall TDH.MEM.PAGE.AUG gpa=0x1000 page=new expect=TDX_OPERAND_BUSY -> TDX_EPT_WALK_FAILED 0xc0000b0000000001 (page 0x7000)\n"
			    "t.tds:4: FAIL: seamcall TDH.MEM.PAGE.AUG expect=TDX_OPERAND_BUSY (actual TDX_EPT_WALK_FAILED 0xc0000b0000000001)\n"
			    "1 passed, 2 failed\n");
	assert_int_equal(fk.req.leaf, 6);
	assert_int_equal(fk.req.gpa, 0x1000);
	assert_int_equal(fk.req.page, 0x7000);

	/* A warning is a success; the operand id is ignored. */
	fk.status = 0x00000B0700000000ULL;
	assert_int_equal(run_quiet("td\n"
				   "seamcall TDH.MEM.RANGE.BLOCK gpa=0\n"
				   "seamcall TDH.MEM.RANGE.BLOCK gpa=0 expect=TDX_GPA_RANGE_ALREADY_BLOCKED\n"),
			 0);
	assert_string_equal(res.out, "1 passed, 0 failed\n");
	fk.status = 0x8000020000000092ULL;
	assert_int_equal(run_quiet("td\nseamcall TDH.MEM.SEPT.ADD gpa=0 level=512G page=of:shared:0x3000 expect=TDX_OPERAND_BUSY\n"),
			 0);
	assert_int_equal(fk.frame_of_gpa, (1ULL << 47) | 0x3000);
	assert_int_equal(fk.req.page, 0x9000);
	assert_int_equal(fk.req.level, 3);

	/* SEPT.RD shows its registers; PAGE.ADD passes fill=. */
	fk.status = 0;
	assert_int_equal(run("td\nseamcall TDH.MEM.SEPT.RD gpa=0 level=2M\n"), 0);
	assert_non_null(strstr(res.out,
			       "t.tds:2: seamcall TDH.MEM.SEPT.RD gpa=0 level=2M -> TDX_SUCCESS rcx=0x11 rdx=0x22\n"));
	assert_int_equal(run("td\nseamcall TDH.MEM.PAGE.ADD gpa=0 page=new fill=0xab\n"), 0);
	assert_int_equal(fk.req.fill, 0xab);
	assert_int_equal(fk.req.level, 0);
	assert_int_equal(run("td\nseamcall TDH.PHYMEM.PAGE.RECLAIM page=of:0x5000\n"), 0);
	assert_int_equal(fk.req.page, 0x9000);
	assert_int_equal(fk.req.gpa, 0);
}

static void test_accesses(void **state)
{
	(void)state;
	fk.outcome = TDXMMU_OUTCOME_BLOCKED;
	assert_int_equal(run_quiet("td vcpus=2\n"
				   "vcpu 1 read shared:0x1000\n"
				   "vcpu 1 read shared:0x1000 outcome=blocked\n"
				   "vcpu 1 read shared:0x1000 expect=5\n"
				   "vcpu 0 write 0 1 outcome=ok\n"
				   "vcpu 0 fill 0 4K 0x11\n"
				   "vcpu 0 fill 0 4K 0x11 outcome=blocked\n"
				   "vcpu 0 mapgpa shared:0 2M outcome=error\n"),
			 1);
	assert_string_equal(res.out,
			    "t.tds:2: FAIL: vcpu 1 read shared:0x1000 outcome=ok (actual blocked)\n"
			    "t.tds:4: FAIL: vcpu 1 read shared:0x1000 outcome=ok (actual blocked)\n"
			    "t.tds:5: FAIL: vcpu 0 write 0 1 outcome=ok (actual blocked)\n"
			    "t.tds:6: FAIL: vcpu 0 fill 0 4K 0x11 outcome=ok (actual blocked)\n"
			    "t.tds:8: FAIL: vcpu 0 mapgpa shared:0 2M outcome=error (actual blocked)\n"
			    "2 passed, 5 failed\n");

	fk.outcome = TDXMMU_OUTCOME_OK;
	fk.read_val = 0x2222;
	assert_int_equal(run("td\nvcpu 0 read 8 expect=0x1111\nvcpu 0 write 8 0x5\n"), 1);
	assert_string_equal(res.out,
			    "t.tds:1: td -> created (mmu=tdp gpaw=48 vcpus=1 accept=auto seed=1)\n"
			    "t.tds:2: vcpu 0 read 8 expect=0x1111 -> 0x2222 (ok)\n"
			    "t.tds:2: FAIL: vcpu 0 read 8 expect=0x1111 (actual 0x2222)\n"
			    "t.tds:3: vcpu 0 write 8 0x5 -> ok\n"
			    "0 passed, 1 failed\n");
}

static void test_verify(void **state)
{
	(void)state;
	fk.mismatch = 0x1008;
	assert_int_equal(run("td\nvcpu 0 verify private:0 16M 0x11\n"), 1);
	assert_string_equal(res.out,
			    "t.tds:1: td -> created (mmu=tdp gpaw=48 vcpus=1 accept=auto seed=1)\n"
			    "t.tds:2: vcpu 0 verify private:0 16M 0x11 -> byte at 0x1008 differs\n"
			    "t.tds:2: FAIL: vcpu 0 verify private:0 16M 0x11 (actual byte at 0x1008 differs)\n"
			    "0 passed, 1 failed\n");
	/* outcome= and content make one check. */
	assert_int_equal(run_quiet("td\nvcpu 0 verify 0 4K 0x11 outcome=ok\n"), 1);
	assert_string_equal(res.out,
			    "t.tds:2: FAIL: vcpu 0 verify 0 4K 0x11 (actual byte at 0x1008 differs)\n"
			    "0 passed, 1 failed\n");
	fk.mismatch = UINT64_MAX;
	assert_int_equal(run_quiet("td\nvcpu 0 verify 0 4K 0x11 outcome=ok\nvcpu 0 verify 0 4K 0x11\n"), 0);
	assert_string_equal(res.out, "1 passed, 0 failed\n");
	/* A mismatch address with an incomplete access means nothing. */
	fk.mismatch = 0x1008;
	fk.outcome = TDXMMU_OUTCOME_POISON;
	assert_int_equal(run_quiet("td\nvcpu 0 verify 0 4K 0x11 outcome=poison\n"), 0);
	assert_string_equal(res.out, "1 passed, 0 failed\n");
}

static void test_accept(void **state)
{
	(void)state;
	fk.status = 0x00000B0A00000000ULL; /* PAGE_ALREADY_ACCEPTED: a warning */
	assert_int_equal(run_quiet("td\nvcpu 0 accept 0 level=2M\n"
				   "vcpu 0 accept 0 expect=TDX_PAGE_ALREADY_ACCEPTED\n"), 0);
	assert_string_equal(res.out, "1 passed, 0 failed\n");
	fk.status = 0xC0000B0B00000000ULL;
	assert_int_equal(run("td\nvcpu 0 accept 0x200000 level=2M\n"), 1);
	assert_non_null(strstr(res.out,
			       "t.tds:2: vcpu 0 accept 0x200000 level=2M -> TDX_PAGE_SIZE_MISMATCH 0xc0000b0b00000000\n"
			       "t.tds:2: FAIL: vcpu 0 accept 0x200000 expect=TDX_SUCCESS (actual TDX_PAGE_SIZE_MISMATCH 0xc0000b0b00000000)\n"));
}

static void test_host(void **state)
{
	(void)state;
	fk.read_val = 0;
	assert_int_equal(run_quiet("td\n"
				   "host read 0 expect=0 expect-not=0x2222\n"
				   "host read 0 expect=1 expect-not=0\n"
				   "host write 0 5\nhost invalidate 0 4K\nhost delete-memslot 0\n"),
			 1);
	assert_string_equal(res.out,
			    "t.tds:3: FAIL: host read 0 expect=0x1 (actual 0x0)\n"
			    "t.tds:3: FAIL: host read 0 expect-not=0x0 (actual 0x0)\n"
			    "2 passed, 2 failed\n");
	assert_int_equal(run("td\nhost zap 0 2M alias=private\n"), 0);
	assert_int_equal(fk.zap_size, 2 << 20);
	assert_int_equal(fk.zap_alias, TDXMMU_ALIAS_PRIVATE);
	assert_non_null(strstr(res.out, "t.tds:2: host zap 0 2M alias=private -> ok\n"));
	assert_int_equal(run("td\nhost zap 0 2M\n"), 0);
	assert_int_equal(fk.zap_alias, TDXMMU_ALIAS_BOTH);
}

static void test_state_checks(void **state)
{
	(void)state;
	fk.sept = TDXMMU_SEPT_PENDING;
	fk.spte_p = TDXMMU_SPTE_PRESENT;
	fk.spte_s = TDXMMU_SPTE_NONPRESENT_SHARED;
	assert_int_equal(run_quiet("td gpaw=52\n"
				   "expect-sept 0x1000 MAPPED\n"
				   "expect-sept 0x1000 PENDING level=256T\n"
				   "expect-spte 0x1000 private=present\n"
				   "expect-spte 0x1000 shared=nonpresent|shared\n"
				   "expect-spte 0x1000 private=present shared=present|shared\n"
				   "expect-spte 0x1000\n"),
			 1);
	assert_int_equal(fk.sept_level, 4);
	assert_string_equal(res.out,
			    "t.tds:2: FAIL: expect-sept 0x1000 MAPPED (actual PENDING)\n"
			    "t.tds:6: FAIL: expect-spte 0x1000 private=present shared=present|shared (actual private=present shared=nonpresent|shared)\n"
			    "4 passed, 2 failed\n");
}

static void test_expect_count(void **state)
{
	(void)state;
	assert_int_equal(run("td\nexpect-count fault.private=1 seamcall.TDH.MEM.PAGE.AUG=2\n"), 0);
	assert_non_null(strstr(res.out,
			       "t.tds:2: expect-count fault.private=1 seamcall.TDH.MEM.PAGE.AUG=2 -> fault.private=1 seamcall.TDH.MEM.PAGE.AUG=2\n"
			       "1 passed, 0 failed\n"));
	assert_int_equal(run("td\nexpect-count fault.private=1 fault.bogus=0 seamcall.TDH.MEM.PAGE.AUG=3\n"), 1);
	assert_non_null(strstr(res.out,
			       "t.tds:2: expect-count fault.private=1 fault.bogus=0 seamcall.TDH.MEM.PAGE.AUG=3 -> fault.private=1 fault.bogus=? seamcall.TDH.MEM.PAGE.AUG=2\n"
			       "t.tds:2: FAIL: expect-count fault.bogus=0 seamcall.TDH.MEM.PAGE.AUG=3 (actual no counter named 'fault.bogus', seamcall.TDH.MEM.PAGE.AUG=2)\n"
			       "0 passed, 1 failed\n"));
}

static void test_check_report(void **state)
{
	(void)state;
	fk.check_n = 2;
	fk.check_report = "gpa 0x1000: mirror present, S-EPT FREE\n\ngpa 0x2000: on both aliases";
	assert_int_equal(run_quiet("td\ncheck\n"), 1);
	assert_string_equal(res.out,
			    "t.tds:2: FAIL: check (actual 2 violations)\n"
			    "    gpa 0x1000: mirror present, S-EPT FREE\n"
			    "    gpa 0x2000: on both aliases\n"
			    "0 passed, 1 failed\n");
}

static void test_destroy(void **state)
{
	(void)state;
	fk.destroy_rc = TDXMMU_EBUG;
	fk.destroy_msg = "1 S-EPT page not reclaimed";
	assert_int_equal(run("td\ndestroy\n"), 1);
	assert_string_equal(res.out,
			    "t.tds:1: td -> created (mmu=tdp gpaw=48 vcpus=1 accept=auto seed=1)\n"
			    "t.tds:2: destroy -> leaks\n"
			    "t.tds:2: FAIL: destroy leaves nothing behind (actual 1 S-EPT page not reclaimed)\n"
			    "0 passed, 1 failed\n");
	assert_int_equal(fk.destroys, 1);
	assert_string_equal(res.err, "");

	fk.destroy_msg = NULL;
	assert_int_equal(run_quiet("td\ndestroy\n"), 1);
	assert_string_equal(res.out,
			    "t.tds:2: FAIL: destroy leaves nothing behind (actual 3 host frames leaked, 0 still owned by the TD, 0 KVM page-table pages and 0 S-EPT pages not freed)\n"
			    "0 passed, 1 failed\n");

	/* Without destroy the TD is destroyed anyway, silently, not a check. */
	assert_int_equal(run_quiet("td\n"), 0);
	assert_string_equal(res.out, "0 passed, 0 failed\n");
	assert_int_equal(fk.destroys, 3);

	/* A failure other than the model's, without a report message: the
	 * API's error and message. */
	fk.destroy_rc = TDXMMU_ESEAMCALL;
	fk.last_error = "TDH.PHYMEM.PAGE.RECLAIM refused";
	assert_int_equal(run_quiet("td\ndestroy\n"), 1);
	assert_non_null(strstr(res.out, "FAIL: destroy leaves nothing behind (actual "));
	assert_non_null(strstr(res.out, ": TDH.PHYMEM.PAGE.RECLAIM refused)\n"));
	fk.last_error = NULL;
	/* A backend that cannot destroy: not implemented, exit 2. */
	fk.destroy_rc = TDXMMU_ENOTIMPL;
	assert_int_equal(run_quiet("td\ndestroy\n"), 2);
	assert_string_equal(res.err, "t.tds:2: error: 'destroy' is not implemented yet\n");
	assert_int_equal(fk.destroys, fk.creates);
}

static void test_api_errors(void **state)
{
	(void)state;
	/* Not implemented: stop, exit 2, no closing line, TD destroyed. */
	fk.simple_rc = TDXMMU_ENOTIMPL;
	assert_int_equal(run("td\ncheck\nhost zap 0 4K\ncheck\n"), 2);
	assert_string_equal(res.err, "t.tds:2: error: 'check' is not implemented yet\n");
	assert_string_equal(res.out,
			    "t.tds:1: td -> created (mmu=tdp gpaw=48 vcpus=1 accept=auto seed=1)\n");
	assert_int_equal(fk.destroys, 1);
	assert_int_equal(run("td\nhost zap 0 4K\n"), 2);
	assert_string_equal(res.err, "t.tds:2: error: 'host zap' is not implemented yet\n");

	/* A usage error: the API's message. */
	fk.simple_rc = TDXMMU_EEXIST;
	fk.last_error = "memslot 1 overlaps memslot 0";
	assert_int_equal(run("td\nmemslot 0 0 4K\nmemslot 1 0 4K\ncheck\n"), 2);
	assert_string_equal(res.err, "t.tds:2: error: EEXIST: memslot 1 overlaps memslot 0\n");
	fk.last_error = NULL;
	fk.simple_rc = TDXMMU_ESTATE;
	assert_int_equal(run("td\nadd 0\n"), 2);
	assert_string_equal(res.err, "t.tds:2: error: ESTATE\n");

	/* The model broke: exit 3 at once. */
	fk.simple_rc = TDXMMU_EBUG;
	fk.last_error = "S-EPT entry in an impossible state";
	assert_int_equal(run("td\nfinalize\ncheck\n"), 3);
	assert_string_equal(res.err, "t.tds:2: BUG: S-EPT entry in an impossible state\n");
	/* check, zap, memslot, add, finalize: nothing after the BUG. */
	assert_int_equal(fk.calls, 5);
	/* With no message from the API, the runner names the kind. */
	fk.last_error = NULL;
	assert_int_equal(run("td\nfinalize\n"), 3);
	assert_string_equal(res.err, "t.tds:2: BUG: the model detected a broken invariant\n");
	/* A dead VM with no message: the failed check says only that. */
	fk.simple_rc = TDXMMU_EIO;
	assert_int_equal(run_quiet("td\nhost write 0 1\n"), 1);
	assert_string_equal(res.out, "t.tds:2: FAIL: host write 0 1 (actual the VM is dead)\n"
				     "0 passed, 1 failed\n");
	assert_string_equal(res.err, "");

	/* An access reports errors by its return value. */
	fk.simple_rc = 0;
	fk.access_rc = TDXMMU_EINVAL;
	fk.last_error = "no such vCPU";
	assert_int_equal(run_quiet("td\nvcpu 0 read 0\n"), 2);
	assert_string_equal(res.err, "t.tds:2: error: EINVAL: no such vCPU\n");
	assert_string_equal(res.out, "");

	/* td itself. */
	fk.create_rc = TDXMMU_ENOTIMPL;
	assert_int_equal(run("td\ncheck\n"), 2);
	assert_string_equal(res.err, "t.tds:1: error: 'td' is not implemented yet\n");
	assert_string_equal(res.out, "");
	fk.create_rc = TDXMMU_ENOMEM;
	fk.last_error = "host memory too small";
	assert_int_equal(run("td memory=4K\n"), 2);
	assert_string_equal(res.err, "t.tds:1: error: ENOMEM: host memory too small\n");
}

/*
 * A backend without the optional entries (an older model behind the same
 * runner): each command that needs one stops the run as "not implemented",
 * exit 2, the TD destroyed, never a crash on a NULL entry. The fake has no
 * status or countdown injection, the copy below lacks the rest too.
 */
static void test_backend_without_optional_entries(void **state)
{
	static const char *const cmds[] = {
		"inject status=TDX_OPERAND_INVALID share=10",
		"inject status=TDX_OPERAND_INVALID at=2",
		"inject busy-at=1",
		"inject enomem-at=1",
		"inject busy=10",
		"inject enomem=10",
		"inject off",
		"show 0 4K",
		"counters",
		"vcpu 0 accept-memory 0 8K",
	};
	static const char *const names[] = {
		"inject status", "inject status", "inject busy-at", "inject enomem-at",
		"inject busy", "inject enomem", "inject off", "show", "counters",
		"vcpu accept-memory",
	};
	struct scn_backend api = fake;
	char text[128], want[128];

	(void)state;
	api.inject_busy_leaf = NULL;
	api.inject_enomem = NULL;
	api.inject_off = NULL;
	api.show = NULL;
	api.counters_foreach = NULL;
	api.vcpu_accept_memory = NULL;
	for (unsigned i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		FILE *out, *err;
		struct tdxmmu_run_options o;
		unsigned creates = fk.creates;

		free(res.out);
		free(res.err);
		out = open_memstream(&res.out, &res.out_len);
		err = open_memstream(&res.err, &res.err_len);
		o = (struct tdxmmu_run_options){ .out = out, .err = err, .quiet = true };
		snprintf(text, sizeof(text), "td\nmemslot 0 0 4M\n%s\ncheck\n", cmds[i]);
		res.status = scn_run_text("t.tds", text, strlen(text), &api, &o);
		fclose(out);
		fclose(err);
		snprintf(want, sizeof(want), "t.tds:3: error: '%s' is not implemented yet\n",
			 names[i]);
		if (res.status != 2 || strcmp(res.err, want))
			fail_msg("%s: exit %d, stderr \"%s\", want 2 and \"%s\"", cmds[i],
				 res.status, res.err, want);
		assert_int_equal(fk.creates, creates + 1);
		assert_int_equal(fk.destroys, fk.creates);
	}
}

/* A check the model cannot evaluate fails; the run goes on. */
/* A checker report longer than the runner's buffer (64 KiB): the FAIL
 * line lists what fits and says the report was cut. */
static void test_check_report_truncated(void **state)
{
	static char big[70000];
	size_t n = 0;

	(void)state;
	while (n + 40 < sizeof(big))
		n += (size_t)snprintf(big + n, sizeof(big) - n, "at %06zu: mirror differs\n", n);
	fk.check_n = 2000;
	fk.check_report = big;
	assert_int_equal(run_quiet("td\ncheck\n"), 1);
	assert_non_null(strstr(res.out, "t.tds:2: FAIL: check (actual 2000 violations)"));
	assert_non_null(strstr(res.out, "\n    at 000000: mirror differs\n"));
	assert_non_null(strstr(res.out, "\n    ... (report truncated)\n0 passed, 1 failed\n"));
	fk.check_report = NULL;
	fk.check_n = 0;
}

static void test_check_errors(void **state)
{
	(void)state;
	fk.simple_rc = TDXMMU_ERANGE;
	fk.last_error = "no memslot at 0x5000000";
	assert_int_equal(run("td\nexpect-sept 0x5000000 FREE\nexpect-spte 0 private=present\ncheck\n"),
			 1);
	assert_string_equal(res.out,
			    "t.tds:1: td -> created (mmu=tdp gpaw=48 vcpus=1 accept=auto seed=1)\n"
			    "t.tds:2: expect-sept 0x5000000 FREE -> error ERANGE\n"
			    "t.tds:2: FAIL: expect-sept 0x5000000 FREE (actual error ERANGE: no memslot at 0x5000000)\n"
			    "t.tds:3: expect-spte 0 private=present -> error ERANGE\n"
			    "t.tds:3: FAIL: expect-spte 0 private=present (actual error ERANGE: no memslot at 0x5000000)\n"
			    "t.tds:4: check -> error ERANGE\n"
			    "t.tds:4: FAIL: check (actual error ERANGE: no memslot at 0x5000000)\n"
			    "0 passed, 3 failed\n");
	assert_string_equal(res.err, "");
	/* A bug inside a check still stops the run. */
	fk.simple_rc = TDXMMU_EBUG;
	assert_int_equal(run_quiet("td\ncheck\ncheck\n"), 3);
	assert_string_equal(res.err, "t.tds:2: BUG: no memslot at 0x5000000\n");
	assert_string_equal(res.out, "");
	/* A counter the backend cannot read (not merely an unknown name):
	 * the check's error, as for the others. */
	fk.simple_rc = 0;
	fk.counter_rc = TDXMMU_EINVAL;
	fk.last_error = "counters unavailable";
	assert_int_equal(run_quiet("td\nexpect-count fault.private=1\n"), 1);
	assert_string_equal(res.out,
			    "t.tds:2: FAIL: expect-count fault.private=1 (actual error EINVAL: counters unavailable)\n"
			    "0 passed, 1 failed\n");
	fk.counter_rc = 0;
	/* A raw SEAMCALL whose frame or call the backend refuses: the API's
	 * error stops the run (exit 2), the TD destroyed. */
	fk.simple_rc = TDXMMU_ENOMEM;
	fk.last_error = "no free host frame";
	assert_int_equal(run_quiet("td\nseamcall TDH.MEM.SEPT.ADD gpa=0 level=512G page=new\n"), 2);
	assert_string_equal(res.err, "t.tds:2: error: ENOMEM: no free host frame\n");
	fk.simple_rc = TDXMMU_EINVAL;
	fk.last_error = "bad leaf";
	assert_int_equal(run_quiet("td\nseamcall TDH.MEM.TRACK\n"), 2);
	assert_string_equal(res.err, "t.tds:2: error: EINVAL: bad leaf\n");
	assert_int_equal(fk.destroys, fk.creates);
}

static void test_parallel_not_yet(void **state)
{
	(void)state;
	/* Implemented now (parallel.c): the block's line runs on its lane. */
	assert_int_equal(run_quiet("td vcpus=2\nparallel\n vcpu 1 read 0\nend\ncheck\n"), 0);
	assert_string_equal(res.err, "");
	assert_int_equal(fk.calls, 2);
}

/*
 * The blocked rule's give-up decision against a lane that finishes during
 * it (runner.c lane_gives_up()). Lane 0 gives up its blocked read, then its
 * MapGPA unblocks lane 1. The hook stops lane 1 right after it read
 * progress for an attempt that was blocked before the MapGPA, and the fake
 * MapGPA runs only then, so lane 0 converts, bumps progress and finishes
 * before lane 1 looks at the lanes. Lane 1 must not take its stale attempt
 * as settled (it used to: lane 0 looked finished, lane 1 alone and
 * "settled", so it gave up with `blocked`; the chain case of
 * test_blocked_tie_break under TSan, about 1 run in 250).
 */
static struct {
	atomic_bool converted;  /* lane 0's MapGPA has run */
	atomic_bool in_hook;    /* lane 1 waits in the hook */
	atomic_bool fired;
} pg;

/* Waits up to 10 s for *flag: the interleaving is forced, never hoped for. */
static bool pg_wait(const atomic_bool *flag)
{
	const struct timespec ms = { .tv_nsec = 1000 * 1000 };

	for (int i = 0; i < 10000 && !atomic_load(flag); i++)
		nanosleep(&ms, NULL);
	return atomic_load(flag);
}

static void pg_hook(const struct scn_par *par, size_t self, unsigned long now)
{
	/* Lane 1's attempt began after lane 0 gave up (progress 1) and was
	 * blocked: hold it here until lane 0 has finished. */
	if (self != 1 || now != 1 || atomic_load(&par->wait_gen[1]) != now + 1 ||
	    atomic_exchange(&pg.fired, true))
		return;
	atomic_store(&pg.in_hook, true);
	pg_wait(&par->finished[0]);
}

static int pg_read(tdxmmu_td *td, unsigned vcpu, uint64_t gpa, uint64_t *val,
		   enum tdxmmu_outcome *o)
{
	(void)td, (void)gpa;
	*val = 0;
	*o = vcpu == 1 && atomic_load(&pg.converted) ? TDXMMU_OUTCOME_OK
						      : TDXMMU_OUTCOME_BLOCKED;
	return 0;
}

static int pg_mapgpa(tdxmmu_td *td, unsigned vcpu, uint64_t gpa,
		     uint64_t size, enum tdxmmu_outcome *o)
{
	(void)td, (void)vcpu, (void)gpa, (void)size;
	pg_wait(&pg.in_hook);
	atomic_store(&pg.converted, true);
	*o = TDXMMU_OUTCOME_OK;
	return 0;
}

static void test_parallel_give_up_vs_finish(void **state)
{
	struct scn_backend api = fake;
	struct tdxmmu_run_options o;
	FILE *out, *err;

	(void)state;
	atomic_init(&pg.converted, false);
	atomic_init(&pg.in_hook, false);
	atomic_init(&pg.fired, false);
	api.vcpu_read = pg_read;
	api.vcpu_mapgpa = pg_mapgpa;
	out = open_memstream(&res.out, &res.out_len);
	err = open_memstream(&res.err, &res.err_len);
	o = (struct tdxmmu_run_options){ .out = out, .err = err, .quiet = true };
	scn_debug_gives_up_hook = pg_hook;
	res.status = scn_run_text("t.tds",
				  "td vcpus=2\n"
				  "parallel\n"
				  "  vcpu 0 read shared:0x1000 outcome=blocked\n"
				  "  vcpu 0 mapgpa shared:0x2000 4K outcome=ok\n"
				  "  vcpu 1 read shared:0x2000 outcome=ok\n"
				  "end\n",
				  strlen("td vcpus=2\n"
					 "parallel\n"
					 "  vcpu 0 read shared:0x1000 outcome=blocked\n"
					 "  vcpu 0 mapgpa shared:0x2000 4K outcome=ok\n"
					 "  vcpu 1 read shared:0x2000 outcome=ok\n"
					 "end\n"),
				  &api, &o);
	scn_debug_gives_up_hook = NULL;
	fclose(out);
	fclose(err);
	/* The forced interleaving happened... */
	assert_true(atomic_load(&pg.fired));
	assert_true(atomic_load(&pg.converted));
	/* ...and lane 1 retried after the MapGPA instead of giving up. */
	assert_string_equal(res.out, "3 passed, 0 failed\n");
	assert_int_equal(res.status, 0);
}

static void test_quiet(void **state)
{
	(void)state;
	fk.sept = TDXMMU_SEPT_FREE;
	assert_int_equal(run_quiet("td\nmemslot 0 0 4K\nexpect-sept 0 FREE\nexpect-sept 0 MAPPED\ndestroy\n"), 1);
	assert_string_equal(res.out,
			    "t.tds:4: FAIL: expect-sept 0 MAPPED (actual FREE)\n"
			    "2 passed, 1 failed\n");
}

/* The public entry with the real backend: parse errors come first; a
 * missing implementation is an error, not a crash. */
static void test_public_entry(void **state)
{
	struct tdxmmu_run_options o;
	FILE *out, *err;
	int status;

	(void)state;
	out = open_memstream(&res.out, &res.out_len);
	err = open_memstream(&res.err, &res.err_len);
	o = (struct tdxmmu_run_options){ .out = out, .err = err };
	status = tdxmmu_run_string(NULL, "td\nfrob\n", &o);
	fclose(out);
	fclose(err);
	assert_int_equal(status, 2);
	assert_string_equal(res.err, "<string>:2:1: error: unknown command 'frob'\n");
}

/* What cannot be read is a usage error (status 2) naming the reason: a
 * directory (fread fails: EISDIR), no stream at all (EINVAL), a file
 * that is not there; a NULL text is the empty scenario, whose error is
 * the parser's (no td). */
static void test_public_entry_read_errors(void **state)
{
	struct tdxmmu_run_options o;
	FILE *out, *err;
	int status;

	(void)state;
	out = open_memstream(&res.out, &res.out_len);
	err = open_memstream(&res.err, &res.err_len);
	o = (struct tdxmmu_run_options){ .out = out, .err = err };
	assert_int_equal(tdxmmu_run_file("/", &o), 2);
	assert_int_equal(tdxmmu_run_file("/nonexistent/t.tds", &o), 2);
	assert_int_equal(tdxmmu_run_stream_report(NULL, NULL, &o, NULL), 2);
	status = tdxmmu_run_string("empty", NULL, &o);
	fclose(out);
	fclose(err);
	assert_int_equal(status, 2);
	assert_string_equal(res.err,
			    "/: error: cannot read: Is a directory\n"
			    "/nonexistent/t.tds: error: cannot read: No such file or directory\n"
			    "<stdin>: error: cannot read: Invalid argument\n"
			    "empty:1:1: error: no 'td' command (a scenario starts with 'td')\n");
}

/* ---- contract 1.1 ----------------------------------------------------- */

#define CREATED "t.tds:1: td -> created (mmu=tdp gpaw=48 vcpus=1 accept=auto seed=1)\n"

static void test_v11_td_options(void **state)
{
	(void)state;
	assert_int_equal(run("td sept-ve-disable=on mapgpa=upstream\n"), 0);
	assert_true(fk.cfg.sept_ve_disable);
	assert_int_equal(fk.cfg.mapgpa, TDXMMU_MAPGPA_UPSTREAM);
	assert_int_equal(fk.cfg.host_memory, 12345); /* the API's default */
	assert_string_equal(res.out,
			    "t.tds:1: td sept-ve-disable=on mapgpa=upstream -> created (mmu=tdp gpaw=48 vcpus=1 accept=auto seed=1 sept-ve-disable=on mapgpa=upstream)\n"
			    "0 passed, 0 failed\n");
	assert_int_equal(run("td sept-ve-disable=off mapgpa=seed\n"), 0);
	assert_false(fk.cfg.sept_ve_disable);
	assert_int_equal(fk.cfg.mapgpa, TDXMMU_MAPGPA_SEED);
	assert_string_equal(res.out,
			    "t.tds:1: td sept-ve-disable=off mapgpa=seed -> created (mmu=tdp gpaw=48 vcpus=1 accept=auto seed=1)\n"
			    "0 passed, 0 failed\n");
}

static void test_v11_alternatives(void **state)
{
	(void)state;
	fk.outcome = TDXMMU_OUTCOME_BLOCKED;
	fk.read_val = 9;
	/* Either outcome passes; expect= is compared only when ok, and holds
	 * when the accepted outcome was another one. */
	assert_int_equal(run("td\n"
			     "vcpu 0 read 0 outcome=ok|blocked expect=5\n"
			     "vcpu 0 write 0 1 outcome=blocked|ok\n"
			     "vcpu 0 fill 0 4K 1 outcome=ve|poison|mmio\n"
			     "vcpu 0 read 0 outcome=ok|ve expect=5\n"),
			 1);
	assert_string_equal(res.out,
			    CREATED
			    "t.tds:2: vcpu 0 read 0 outcome=ok|blocked expect=5 -> blocked\n"
			    "t.tds:3: vcpu 0 write 0 1 outcome=blocked|ok -> blocked\n"
			    "t.tds:4: vcpu 0 fill 0 4K 1 outcome=ve|poison|mmio -> blocked\n"
			    "t.tds:4: FAIL: vcpu 0 fill 0 4K 1 outcome=ve|poison|mmio (actual blocked)\n"
			    "t.tds:5: vcpu 0 read 0 outcome=ok|ve expect=5 -> blocked\n"
			    "t.tds:5: FAIL: vcpu 0 read 0 outcome=ok|ve (actual blocked)\n"
			    "3 passed, 2 failed\n");
	/* ok: expect= is compared. */
	fk.outcome = TDXMMU_OUTCOME_OK;
	assert_int_equal(run_quiet("td\n"
				   "vcpu 0 read 0 outcome=ok|blocked expect=5\n"
				   "vcpu 0 read 0 outcome=blocked|ok expect=9\n"),
			 1);
	assert_string_equal(res.out,
			    "t.tds:2: FAIL: vcpu 0 read 0 expect=0x5 (actual 0x9)\n"
			    "3 passed, 1 failed\n");
	/* The same on verify: the content is compared only when ok. */
	fk.outcome = TDXMMU_OUTCOME_BLOCKED;
	fk.mismatch = 0x10;
	assert_int_equal(run_quiet("td\nvcpu 0 verify 0 4K 1 outcome=ok|blocked\n"), 0);
	fk.outcome = TDXMMU_OUTCOME_OK;
	assert_int_equal(run_quiet("td\nvcpu 0 verify 0 4K 1 outcome=ok|blocked\n"), 1);
	assert_string_equal(res.out,
			    "t.tds:2: FAIL: vcpu 0 verify 0 4K 1 (actual byte at 0x10 differs)\n"
			    "0 passed, 1 failed\n");
}

/* A VM that KVM kills is an outcome: bugged for the command that killed
 * it, dead afterwards; never exit 3, and the run goes on. */
static void test_v11_dead_vm(void **state)
{
	(void)state;
	fk.kill_on_call = true;
	fk.simple_rc = TDXMMU_EIO;
	assert_int_equal(run("td\n"
			     "memslot 0 0 4K outcome=bugged\n"
			     "finalize outcome=dead\n"
			     "add 0 outcome=bugged|dead\n"
			     "host invalidate 0 4K outcome=dead\n"
			     "host zap 0 4K alias=shared outcome=dead\n"
			     "host delete-memslot 0 outcome=ok\n"
			     "host zap 0 4K\n"
			     "host write 0 1\n"
			     "vcpu 0 enter outcome=dead\n"
			     "vcpu 0 leave\n"
			     "expect-vm dead\n"
			     "expect-vm alive\n"
			     "destroy\n"),
			 1);
	assert_string_equal(res.out,
			    CREATED
			    "t.tds:2: memslot 0 0 4K outcome=bugged -> bugged\n"
			    "t.tds:3: finalize outcome=dead -> dead\n"
			    "t.tds:4: add 0 outcome=bugged|dead -> dead\n"
			    "t.tds:5: host invalidate 0 4K outcome=dead -> dead\n"
			    "t.tds:6: host zap 0 4K alias=shared outcome=dead -> dead\n"
			    "t.tds:7: host delete-memslot 0 outcome=ok -> dead\n"
			    "t.tds:7: FAIL: host delete-memslot 0 outcome=ok (actual dead)\n"
			    "t.tds:8: host zap 0 4K -> dead\n"
			    "t.tds:8: FAIL: host zap 0 4K outcome=ok (actual dead)\n"
			    "t.tds:9: host write 0 1 -> dead\n"
			    "t.tds:9: FAIL: host write 0 1 (actual the VM is dead)\n"
			    "t.tds:10: vcpu 0 enter outcome=dead -> dead\n"
			    "t.tds:11: vcpu 0 leave -> dead\n"
			    "t.tds:11: FAIL: vcpu 0 leave outcome=ok (actual dead)\n"
			    "t.tds:12: expect-vm dead -> dead\n"
			    "t.tds:13: expect-vm alive -> dead\n"
			    "t.tds:13: FAIL: expect-vm alive (actual dead)\n"
			    "t.tds:14: destroy -> nothing leaked\n"
			    "8 passed, 5 failed\n");
	assert_string_equal(res.err, "");
	assert_int_equal(fk.enters, 1);
	assert_int_equal(fk.leaves, 1);

	/* The VM dies inside a call that still returns 0: bugged. */
	fk.dead = false;
	fk.simple_rc = 0;
	fk.kill_on_call = true;
	assert_int_equal(run_quiet("td\nexpect-vm alive\nfinalize\nexpect-vm dead\n"), 1);
	assert_string_equal(res.out,
			    "t.tds:3: FAIL: finalize outcome=ok (actual bugged)\n"
			    "2 passed, 1 failed\n");

	/* Guest actions get bugged/dead from the API; accept through EIO. */
	fk.dead = false;
	fk.outcome = TDXMMU_OUTCOME_BUGGED;
	assert_int_equal(run_quiet("td\nvcpu 0 read 0 outcome=bugged expect=1\n"
				   "vcpu 0 mapgpa shared:0 4K outcome=bugged\n"), 0);
	assert_string_equal(res.out, "3 passed, 0 failed\n");
	fk.outcome = TDXMMU_OUTCOME_DEAD;
	assert_int_equal(run_quiet("td\nvcpu 0 write 0 1\n"), 1);
	assert_string_equal(res.out,
			    "t.tds:2: FAIL: vcpu 0 write 0 1 outcome=ok (actual dead)\n"
			    "0 passed, 1 failed\n");
	fk.dead = true;
	fk.access_rc = TDXMMU_EIO;
	assert_int_equal(run_quiet("td\nvcpu 0 accept 0 outcome=dead expect=TDX_SUCCESS\n"
				   "vcpu 0 read 0 outcome=dead\n"
				   "vcpu 0 accept 0\n"), 1);
	assert_string_equal(res.out,
			    "t.tds:4: FAIL: vcpu 0 accept 0 outcome=ok (actual dead)\n"
			    "3 passed, 1 failed\n");

	/* EBUG alone is exit 3, dead VM or not. */
	fk.access_rc = 0;
	fk.simple_rc = TDXMMU_EBUG;
	fk.last_error = "an impossible S-EPT state";
	assert_int_equal(run_quiet("td\nhost zap 0 4K outcome=dead\ncheck\n"), 3);
	assert_string_equal(res.err, "t.tds:2: BUG: an impossible S-EPT state\n");
}

static void test_v11_inject(void **state)
{
	(void)state;
	assert_int_equal(run("td\n"
			     "inject busy=12.5 leaf=TDH.MEM.PAGE.AUG\n"),
			 0);
	assert_int_equal(fk.inject_leaf, tdxmmu_leaf_from_name("TDH.MEM.PAGE.AUG"));
	assert_int_equal(fk.inject_ppm, 125000);
	assert_string_equal(res.out,
			    CREATED
			    "t.tds:2: inject busy=12.5 leaf=TDH.MEM.PAGE.AUG -> 12.5000% (125000 ppm)\n"
			    "0 passed, 0 failed\n");
	assert_int_equal(run_quiet("td\ninject busy=0.0001\n"), 0);
	assert_int_equal(fk.inject_leaf, -1);
	assert_int_equal(fk.inject_ppm, 1);
	assert_int_equal(run_quiet("td\ninject enomem=100 site=frame\n"), 0);
	assert_int_equal(fk.inject_site, TDXMMU_SITE_FRAME);
	assert_int_equal(fk.inject_ppm, 1000000);
	assert_int_equal(run_quiet("td\ninject enomem=3\n"), 0);
	assert_int_equal(fk.inject_site, TDXMMU_SITE_ALL);
	assert_int_equal(fk.inject_ppm, 30000);
	assert_int_equal(run("td\ninject off\n"), 0);
	assert_int_equal(fk.inject_offs, 1);
	assert_string_equal(res.out, CREATED "t.tds:2: inject off -> off\n"
					     "0 passed, 0 failed\n");
	/* Refused by the model: a usage error with the API's message. */
	fk.simple_rc = TDXMMU_ENOTIMPL;
	assert_int_equal(run_quiet("td\ninject off\n"), 2);
	assert_string_equal(res.err, "t.tds:2: error: 'inject off' is not implemented yet\n");
}

static void test_v11_seamcall_gpa_bits(void **state)
{
	(void)state;
	/* Every bit written reaches the API: nothing rounded to the page. */
	fk.status = 0xC000010000000000ULL; /* TDX_OPERAND_INVALID */
	assert_int_equal(run_quiet("td\nseamcall TDH.MEM.PAGE.AUG gpa=private:0x2001 level=4K page=new expect=TDX_OPERAND_INVALID\n"),
			 0);
	assert_int_equal(fk.req.gpa, 0x2001);
	assert_int_equal(run_quiet("td\nseamcall TDH.MEM.PAGE.ADD gpa=private:0x3800 page=new expect=TDX_OPERAND_INVALID\n"),
			 0);
	assert_int_equal(fk.req.gpa, 0x3800);
	assert_int_equal(run_quiet("td\nseamcall TDH.MEM.SEPT.ADD gpa=shared:0x200fff level=2M page=new expect=TDX_OPERAND_INVALID\n"),
			 0);
	assert_int_equal(fk.req.gpa, (1ULL << 47) | 0x200fff);
	assert_int_equal(fk.req.level, 1);
}

static void test_v11_memslot_ids(void **state)
{
	(void)state;
	assert_int_equal(run_quiet("td\nmemslot 0xffffffff 0 4K\n"), 0);
	assert_int_equal(fk.memslot_id, 0xffffffffu);
	assert_int_equal(run_quiet("td\nmemslot 100 0 4K\n"), 0);
	assert_int_equal(fk.memslot_id, 100);
	/* Past the model's limit: a clear run-time error naming it. */
	fk.simple_rc = TDXMMU_ENOSPC;
	fk.last_error = "memslot 600: at most 512 memslots may exist at once";
	assert_int_equal(run("td\nmemslot 600 0 4K\ncheck\n"), 2);
	assert_string_equal(res.err,
			    "t.tds:2: error: ENOSPC: memslot 600: at most 512 memslots may exist at once\n");
	assert_string_equal(res.out, CREATED);
}

static void test_v11_show_and_levels(void **state)
{
	(void)state;
	/* show prints the trees even with --quiet, for every page the range
	 * touches; it is not a check. */
	assert_int_equal(run_quiet("td\nshow 0x1008 8K\n"), 0);
	assert_int_equal(fk.show_gpa, 0x1000);
	assert_int_equal(fk.show_size, 0x3000);
	assert_string_equal(res.out, "t.tds:2: show 0x1008 8K:\n(the trees)\n"
				     "0 passed, 0 failed\n");
	assert_int_equal(run_quiet("td\nshow shared:0x5000\n"), 0);
	assert_int_equal(fk.show_gpa, (1ULL << 47) | 0x5000);
	assert_int_equal(fk.show_size, 0x1000);

	fk.spte_p = TDXMMU_SPTE_PRESENT;
	fk.spte_s = TDXMMU_SPTE_NONPRESENT_SHARED;
	fk.spte_level = 99;
	assert_int_equal(run("td\nexpect-spte 0 private=present level=2M\n"
			     "expect-spte 0 shared=present level=1G\n"),
			 1);
	assert_int_equal(fk.spte_level, 2);
	assert_string_equal(res.out,
			    CREATED
			    "t.tds:2: expect-spte 0 private=present level=2M -> private=present shared=nonpresent|shared\n"
			    "t.tds:3: expect-spte 0 shared=present level=1G -> private=present shared=nonpresent|shared\n"
			    "t.tds:3: FAIL: expect-spte 0 shared=present level=1G (actual private=present shared=nonpresent|shared)\n"
			    "1 passed, 1 failed\n");
	/* Without level=, version 1's call. */
	fk.spte_level = 99;
	assert_int_equal(run_quiet("td\nexpect-spte 0 private=present\n"), 0);
	assert_int_equal(fk.spte_level, 99);
}

/* ---- struct tdxmmu_run_report: each check and error told ------------- */

#define MAX_TOLD 32

static struct told {
	size_t nr_checks, nr_errors;
	struct {
		size_t line;
		char *text, *message; /* message NULL: passed */
	} checks[MAX_TOLD];
	struct {
		size_t line, column;
		int status;
		char *file, *message;
	} errors[MAX_TOLD];
} told;

static void told_reset(void)
{
	for (size_t i = 0; i < told.nr_checks; i++) {
		free(told.checks[i].text);
		free(told.checks[i].message);
	}
	for (size_t i = 0; i < told.nr_errors; i++) {
		free(told.errors[i].file);
		free(told.errors[i].message);
	}
	memset(&told, 0, sizeof(told));
}

static void told_check(const struct tdxmmu_run_check *chk, void *arg)
{
	assert_ptr_equal(arg, &told);
	assert_string_equal(chk->file, "t.tds");
	assert_true(told.nr_checks < MAX_TOLD);
	assert_true(chk->passed == !chk->message);
	told.checks[told.nr_checks].line = chk->line;
	told.checks[told.nr_checks].text = strdup(chk->text);
	told.checks[told.nr_checks].message =
		chk->message ? strdup(chk->message) : NULL;
	told.nr_checks++;
}

static void told_error(const struct tdxmmu_run_error *e, void *arg)
{
	assert_ptr_equal(arg, &told);
	assert_true(told.nr_errors < MAX_TOLD);
	told.errors[told.nr_errors].file = strdup(e->file);
	told.errors[told.nr_errors].line = e->line;
	told.errors[told.nr_errors].column = e->column;
	told.errors[told.nr_errors].status = e->status;
	told.errors[told.nr_errors].message = strdup(e->message);
	told.nr_errors++;
}

/*
 * Runs @text with a report; the report must agree with the printed output:
 * as many passed and failed checks as the closing line says (when there is
 * one), and each failed check's message is its FAIL line's text.
 */
static int run_told(const char *text, bool quiet)
{
	const struct tdxmmu_run_report report = {
		.check = told_check,
		.error = told_error,
		.arg = &told,
	};
	struct tdxmmu_run_options o;
	FILE *out, *err;
	size_t passed = 0, failed = 0;
	unsigned long p, f;
	const char *closing;

	told_reset();
	free(res.out);
	free(res.err);
	out = open_memstream(&res.out, &res.out_len);
	err = open_memstream(&res.err, &res.err_len);
	o = (struct tdxmmu_run_options){ .out = out, .err = err, .quiet = quiet };
	res.status = scn_run_text_report("t.tds", text, strlen(text), &fake,
					 &o, &report);
	fclose(out);
	fclose(err);
	for (size_t i = 0; i < told.nr_checks; i++) {
		char line[512];

		if (!told.checks[i].message) {
			passed++;
			continue;
		}
		failed++;
		snprintf(line, sizeof(line), "t.tds:%zu: FAIL: %s\n",
			 told.checks[i].line, told.checks[i].message);
		if (!strstr(res.out, line))
			fail_msg("reported '%s' is not printed in:\n%s", line,
				 res.out);
	}
	closing = strrchr(res.out, '\n');
	while (closing && closing > res.out && closing[-1] != '\n')
		closing--;
	if (closing && sscanf(closing, "%lu passed, %lu failed", &p, &f) == 2) {
		assert_int_equal(p, passed);
		assert_int_equal(f, failed);
	}
	return res.status;
}

static void test_report_checks(void **state)
{
	(void)state;
	/* Every kind of FAIL line, single-line and built in pieces. */
	fk.read_val = 0x1111;
	fk.check_n = 2;
	fk.check_report = "gpa 0x1000: mirror present\ngpa 0x2000: on both aliases";
	fk.destroy_rc = TDXMMU_EBUG;
	fk.destroy_msg = "1 S-EPT page not reclaimed";
	assert_int_equal(run_told("td\n"
				  "vcpu 0 read 0x1000 expect=0x1111\n"
				  "vcpu 0 read 0x1000 expect=0x2222\n"
				  "expect-count fault.private=2\n"
				  "check\n"
				  "destroy\n", false), 1);
	assert_int_equal(told.nr_checks, 5);
	assert_int_equal(told.nr_errors, 0);
	assert_int_equal(told.checks[0].line, 2);
	assert_string_equal(told.checks[0].text, "vcpu 0 read 0x1000 expect=0x1111");
	assert_null(told.checks[0].message);
	/* The text is the command, the message as printed. */
	assert_int_equal(told.checks[1].line, 3);
	assert_string_equal(told.checks[1].text, "vcpu 0 read 0x1000 expect=0x2222");
	assert_string_equal(told.checks[1].message,
			    "vcpu 0 read 0x1000 expect=0x2222 (actual 0x1111)");
	assert_string_equal(told.checks[2].message,
			    "expect-count fault.private=2 (actual fault.private=1)");
	assert_string_equal(told.checks[3].message,
			    "check (actual 2 violations)\n"
			    "    gpa 0x1000: mirror present\n"
			    "    gpa 0x2000: on both aliases");
	assert_int_equal(told.checks[4].line, 6);
	assert_string_equal(told.checks[4].message,
			    "destroy leaves nothing behind (actual 1 S-EPT page not reclaimed)");

	/* A dead VM: the FAIL line of a command without outcome= too. */
	told_reset();
	setup(NULL);
	fk.kill_on_call = true;
	fk.simple_rc = TDXMMU_EIO;
	assert_int_equal(run_told("td\nmemslot 0 0 4K outcome=bugged\n"
				  "host write 0 1\nexpect-vm alive\n", true), 1);
	assert_int_equal(told.nr_checks, 3);
	assert_null(told.checks[0].message);
	assert_string_equal(told.checks[1].message,
			    "host write 0 1 (actual the VM is dead)");
	assert_string_equal(told.checks[2].message,
			    "expect-vm alive (actual dead)");

	/* The lanes of a parallel block: each check with its own line. */
	told_reset();
	setup(NULL);
	fk.read_val = 7;
	assert_int_equal(run_told("td vcpus=2\nparallel\n"
				  " vcpu 0 read 0 expect=7\n"
				  " vcpu 1 read 0 expect=8\n"
				  "end\n", false), 1);
	assert_int_equal(told.nr_checks, 2);
	for (size_t i = 0; i < 2; i++) {
		if (told.checks[i].line == 3) {
			assert_null(told.checks[i].message);
		} else {
			assert_int_equal(told.checks[i].line, 4);
			assert_string_equal(told.checks[i].message,
					    "vcpu 1 read 0 expect=0x8 (actual 0x7)");
		}
	}
	told_reset();
}

static void test_report_errors(void **state)
{
	(void)state;
	/* A parse error: line and column, nothing run. */
	assert_int_equal(run_told("td\nmemslot zero 0 4K\n", false), 2);
	assert_int_equal(told.nr_checks, 0);
	assert_int_equal(told.nr_errors, 1);
	assert_int_equal(told.errors[0].line, 2);
	assert_int_equal(told.errors[0].column, 9);
	assert_int_equal(told.errors[0].status, 2);
	assert_string_equal(told.errors[0].message, "malformed number 'zero'");
	assert_int_equal(fk.creates, 0);

	/* At run time: the line, no column; the checks before it told. */
	fk.simple_rc = TDXMMU_ENOTIMPL;
	assert_int_equal(run_told("td\nexpect-vm alive\nhost zap 0 4K\ncheck\n",
				  false), 2);
	assert_int_equal(told.nr_checks, 1);
	assert_int_equal(told.nr_errors, 1);
	assert_int_equal(told.errors[0].line, 3);
	assert_int_equal(told.errors[0].column, 0);
	assert_int_equal(told.errors[0].status, 2);
	assert_string_equal(told.errors[0].message, "'host zap' is not implemented yet");

	fk.simple_rc = TDXMMU_EEXIST;
	fk.last_error = "memslot 1 overlaps memslot 0";
	assert_int_equal(run_told("td\nmemslot 0 0 4K\n", false), 2);
	assert_int_equal(told.nr_errors, 1);
	assert_string_equal(told.errors[0].message,
			    "EEXIST: memslot 1 overlaps memslot 0");

	fk.simple_rc = TDXMMU_EBUG;
	fk.last_error = "S-EPT entry in an impossible state";
	assert_int_equal(run_told("td\nfinalize\ncheck\n", false), 3);
	assert_int_equal(told.nr_errors, 1);
	assert_int_equal(told.errors[0].line, 2);
	assert_int_equal(told.errors[0].status, 3);
	assert_string_equal(told.errors[0].message,
			    "BUG: S-EPT entry in an impossible state");
	told_reset();
}

/* The public entries with the real backend: a stream, an unreadable file. */
static void test_report_public(void **state)
{
	const struct tdxmmu_run_report report = {
		.check = told_check,
		.error = told_error,
		.arg = &told,
	};
	struct tdxmmu_run_options o;
	FILE *out, *err, *in = tmpfile();
	int status;

	(void)state;
	told_reset();
	assert_non_null(in);
	fputs("td\nexpect-vm alive\nexpect-vm dead\n", in);
	rewind(in);
	out = open_memstream(&res.out, &res.out_len);
	err = open_memstream(&res.err, &res.err_len);
	o = (struct tdxmmu_run_options){ .out = out, .err = err, .quiet = true };
	status = tdxmmu_run_stream_report("t.tds", in, &o, &report);
	fclose(in);
	fflush(out);
	assert_int_equal(status, 1);
	assert_int_equal(told.nr_checks, 2);
	assert_null(told.checks[0].message);
	assert_string_equal(told.checks[1].message, "expect-vm dead (actual alive)");

	told_reset();
	status = tdxmmu_run_file_report("t.tds/none", &o, &report);
	assert_int_equal(status, 2);
	fclose(out);
	fclose(err);
	assert_non_null(strstr(res.err, "t.tds/none: error: cannot read: "));
	assert_int_equal(told.nr_errors, 1);
	assert_string_equal(told.errors[0].file, "t.tds/none");
	assert_int_equal(told.errors[0].line, 0);
	assert_int_equal(told.errors[0].status, 2);
	assert_non_null(strstr(told.errors[0].message, "cannot read: "));
	told_reset();
}


/*
 * A report with only one of its two hooks: the other kind of event is not
 * told (and no NULL hook is called), while the run and its output are as
 * without a report: checks still counted and printed, errors printed.
 */
static void test_report_with_one_hook(void **state)
{
	const struct tdxmmu_run_report checks_only = { .check = told_check, .arg = &told };
	const struct tdxmmu_run_report errors_only = { .error = told_error, .arg = &told };
	const char *text = "td\nexpect-vm dead\nadd 0\n";
	struct tdxmmu_run_options o;
	FILE *out, *err;

	(void)state;
	fk.simple_rc = TDXMMU_ESTATE;
	fk.last_error = "TD finalized";
	for (int i = 0; i < 2; i++) {
		told_reset();
		free(res.out);
		free(res.err);
		out = open_memstream(&res.out, &res.out_len);
		err = open_memstream(&res.err, &res.err_len);
		o = (struct tdxmmu_run_options){ .out = out, .err = err, .quiet = true };
		res.status = scn_run_text_report("t.tds", text, strlen(text), &fake, &o,
						 i ? &errors_only : &checks_only);
		fclose(out);
		fclose(err);
		assert_int_equal(res.status, 2);
		assert_string_equal(res.out, "t.tds:2: FAIL: expect-vm dead (actual alive)\n");
		assert_string_equal(res.err, "t.tds:3: error: ESTATE: TD finalized\n");
		assert_int_equal(told.nr_checks, i ? 0 : 1);
		assert_int_equal(told.nr_errors, i ? 1 : 0);
	}
	assert_string_equal(told.errors[0].message, "ESTATE: TD finalized");
	told_reset();
}

/* ---- coverage round 6 (issue 14): the runner's remaining answers ---- */

/* Runs text (quiet) through `api` with `o`'s extras; out and err caught
 * in res unless the caller set them. */
static int run_api_opts(const struct scn_backend *api, const char *text,
			struct tdxmmu_run_options o)
{
	FILE *out = NULL, *err = NULL;

	free(res.out);
	free(res.err);
	res.out = res.err = NULL;
	if (!o.out) {
		out = open_memstream(&res.out, &res.out_len);
		err = open_memstream(&res.err, &res.err_len);
		o.out = out;
		o.err = err;
	}
	o.quiet = true;
	res.status = scn_run_text("t.tds", text, strlen(text), api, &o);
	if (out) {
		fclose(out);
		fclose(err);
	}
	return res.status;
}

static int run_api(const struct scn_backend *api, const char *text)
{
	return run_api_opts(api, text, (struct tdxmmu_run_options){ 0 });
}

/*
 * Regression: `memslot ... hugepages=on` through a backend without
 * memslot_add_flags used to add a 4K memslot silently, so that the
 * script's checks then ran against another memory than the one it asked
 * for. Now it is "not implemented" (exit 2), as every other optional entry
 * the backend lacks (vcpu enter/leave, expect-spte level=), and nothing was
 * added. The same backend without last_error and vm_dead: the runner's
 * messages then carry no API message, and a VM is never taken for dead.
 */
static void test_backend_without_contract_entries(void **state)
{
	static const struct {
		const char *text, *err;
	} cases[] = {
		{ "td\nmemslot 0 0 4M hugepages=on\ncheck\n",
		  "t.tds:2: error: 'memslot' is not implemented yet\n" },
		{ "td\nvcpu 0 enter\ncheck\n",
		  "t.tds:2: error: 'vcpu enter' is not implemented yet\n" },
		{ "td\nvcpu 0 leave\ncheck\n",
		  "t.tds:2: error: 'vcpu leave' is not implemented yet\n" },
		{ "td\nexpect-spte 0 level=2M private=nonpresent\ncheck\n",
		  "t.tds:2: error: 'expect-spte' is not implemented yet\n" },
	};
	struct scn_backend api = fake;

	(void)state;
	api.memslot_add_flags = NULL;
	api.vcpu_enter = NULL;
	api.vcpu_leave = NULL;
	api.spte_state_level = NULL;
	api.last_error = NULL;
	api.vm_dead = NULL;
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fk.calls = 0;
		assert_int_equal(run_api(&api, cases[i].text), 2);
		assert_string_equal(res.err, cases[i].err);
		assert_string_equal(res.out, "");
		assert_int_equal(fk.calls, 0); /* not memslot_add either */
		assert_int_equal(fk.destroys, fk.creates);
	}
	/* Without hugepages=on the plain entry adds the memslot. */
	assert_int_equal(run_api(&api, "td\nmemslot 3 0 4M\n"), 0);
	assert_int_equal(fk.memslot_id, 3);

	/* No last_error: errors name their kind only. */
	fk.access_rc = TDXMMU_EINVAL;
	assert_int_equal(run_api(&api, "td\nvcpu 0 accept 0\n"), 2);
	assert_string_equal(res.err, "t.tds:2: error: EINVAL\n");
	fk.access_rc = 0;
	/* No vm_dead: an EIO alone says the VM is dead; later lines are
	 * judged without asking. */
	fk.dead = true;
	fk.simple_rc = TDXMMU_EIO;
	assert_int_equal(run_api(&api, "td\nhost write 0 1\nvcpu 0 read 0 outcome=ok\n"), 1);
	assert_string_equal(res.out, "t.tds:2: FAIL: host write 0 1 (actual the VM is dead)\n"
				     "1 passed, 1 failed\n");
}

/*
 * The messages of a dead VM's failed check and of a check that could not
 * be evaluated, with and without the API's message; a zap whose ENOMEM
 * comes with the VM's death is `bugged` (the VM died in it), not the
 * clean `error` of a zap that only lacked memory (hugepages ref §4.5).
 */
static void test_dead_and_check_error_messages(void **state)
{
	(void)state;
	fk.simple_rc = TDXMMU_EIO;
	fk.last_error = "KVM killed the VM: TDH.MEM.TRACK failed";
	assert_int_equal(run_quiet("td\nhost write 0 1\n"), 1);
	assert_string_equal(res.out, "t.tds:2: FAIL: host write 0 1 (actual the VM is dead: "
				     "KVM killed the VM: TDH.MEM.TRACK failed)\n"
				     "0 passed, 1 failed\n");

	fk.simple_rc = TDXMMU_ERANGE;
	fk.last_error = NULL;
	assert_int_equal(run_quiet("td\nexpect-sept 0x5000000 FREE\n"), 1);
	assert_string_equal(res.out,
			    "t.tds:2: FAIL: expect-sept 0x5000000 FREE (actual error ERANGE)\n"
			    "0 passed, 1 failed\n");

	fk.simple_rc = TDXMMU_ENOMEM;
	assert_int_equal(run_quiet("td\nhost zap 0 4K outcome=error\n"), 0);
	fk.kill_on_call = true;
	assert_int_equal(run_quiet("td\nhost zap 0 4K outcome=bugged\n"
				   "host zap 0 4K outcome=dead\n"), 0);
	assert_string_equal(res.out, "2 passed, 0 failed\n");

	/* EIO from td itself: there is no VM to be dead yet, so it is the
	 * API's error (exit 2), not a failed check. */
	fk.kill_on_call = false;
	fk.create_rc = TDXMMU_EIO;
	fk.last_error = "TDH.MNG.CREATE failed";
	assert_int_equal(run_quiet("td\ncheck\n"), 2);
	assert_string_equal(res.err, "t.tds:1: error: EIO: TDH.MNG.CREATE failed\n");
	assert_string_equal(res.out, "");
}

/* accept-memory's `error` without a failing 4K ACCEPT's status (the
 * fallback itself could not run): the outcome alone is said. */
static int f_accept_memory_error(tdxmmu_td *td, unsigned vcpu, uint64_t gpa, uint64_t size,
				 struct tdxmmu_accept_memory_result *r,
				 enum tdxmmu_outcome *o)
{
	(void)vcpu, (void)gpa, (void)size;
	f_simple(td);
	memset(r, 0, sizeof(*r));
	*o = TDXMMU_OUTCOME_ERROR;
	return 0;
}

static void test_accept_memory_error_without_status(void **state)
{
	struct scn_backend api = fake;
	struct tdxmmu_run_options o = { 0 };
	FILE *out, *err;

	(void)state;
	api.vcpu_accept_memory = f_accept_memory_error;
	free(res.out);
	free(res.err);
	out = open_memstream(&res.out, &res.out_len);
	err = open_memstream(&res.err, &res.err_len);
	o.out = out;
	o.err = err;
	res.status = scn_run_text("t.tds", "td\nvcpu 0 accept-memory 0 8K outcome=error\n",
				  strlen("td\nvcpu 0 accept-memory 0 8K outcome=error\n"), &api, &o);
	fclose(out);
	fclose(err);
	assert_int_equal(res.status, 0);
	assert_non_null(strstr(res.out, "t.tds:2: vcpu 0 accept-memory 0 8K outcome=error -> error\n"));
	assert_non_null(strstr(res.out, "1 passed, 0 failed\n"));
}

struct stop_seen {
	int calls;
	size_t line;
};

static void stop_seen(tdxmmu_td *td, size_t line, void *arg)
{
	struct stop_seen *s = arg;

	assert_ptr_equal(td, fake_td());
	s->calls++;
	s->line = line;
}

/*
 * The stop hook (tdxmmu_run_options.at_stop, `tdxmmu show --line`) sees
 * the TD only of a run that got to the stop: not after a usage error.
 * A stop line past a parallel block is no stop inside it: the block runs
 * whole, then the run stops. Without out/err streams the runner writes to
 * stdout/stderr.
 */
static void test_stop_hook_and_default_streams(void **state)
{
	struct stop_seen seen = { 0 };
	struct tdxmmu_run_options o = { .at_stop = stop_seen, .at_stop_arg = &seen };

	(void)state;
	fk.simple_rc = TDXMMU_ESTATE;
	assert_int_equal(run_api_opts(&fake, "td\nadd 0\ncheck\n", o), 2);
	assert_int_equal(seen.calls, 0);
	fk.simple_rc = 0;

	o.stop_line = 5;
	fk.calls = 0;
	assert_int_equal(run_api_opts(&fake, "td vcpus=2\nparallel\n vcpu 1 read 0\nend\ncheck\n",
				      o), 0);
	assert_int_equal(seen.calls, 1);
	assert_int_equal(seen.line, 5);
	assert_int_equal(fk.calls, 1); /* the read; not the check */
	assert_string_equal(res.err, "");

	/* stdout and stderr: only the closing line is written (quiet). */
	fk.calls = 0;
	fflush(stdout);
	res.status = scn_run_text("t.tds", "td\ncheck\n", strlen("td\ncheck\n"), &fake,
				  &(struct tdxmmu_run_options){ .quiet = true });
	fflush(stdout);
	assert_int_equal(res.status, 0);
	assert_int_equal(fk.calls, 1);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_td_config),
		T(test_checks_counted),
		T(test_seamcall_status),
		T(test_accesses),
		T(test_verify),
		T(test_accept),
		T(test_host),
		T(test_state_checks),
		T(test_expect_count),
		T(test_check_report),
		T(test_destroy),
		T(test_api_errors),
		T(test_backend_without_optional_entries),
		T(test_check_report_truncated),
		T(test_check_errors),
		T(test_parallel_not_yet),
		T(test_parallel_give_up_vs_finish),
		T(test_quiet),
		T(test_public_entry),
		T(test_public_entry_read_errors),
		T(test_v11_td_options),
		T(test_v11_alternatives),
		T(test_v11_dead_vm),
		T(test_v11_inject),
		T(test_v11_seamcall_gpa_bits),
		T(test_v11_memslot_ids),
		T(test_v11_show_and_levels),
		T(test_report_checks),
		T(test_report_errors),
		T(test_report_public),
		T(test_report_with_one_hook),
		T(test_backend_without_contract_entries),
		T(test_dead_and_check_error_messages),
		T(test_accept_memory_error_without_status),
		T(test_stop_hook_and_default_streams),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
