/* SPDX-License-Identifier: MIT */
/*
 * fuzz_ops: bytes -> a sequence of public-API operations on a small TD
 * (tests/fuzz/README.md gives the byte format; make-ops-corpus.sh writes
 * inputs in it), for both MMUs, both accept modes and both MapGPA modes.
 *
 * The TD: 2 vCPUs; memslot 0 = [0, 4M) and memslot 1 = [4M, 6M), which the
 * input may delete and add again; [6M, 8M) has no memslot (MMIO). Pages are
 * chosen in [0, 8M).
 *
 * Oracle, each failure an abort() with a message:
 *  - no call answers TDXMMU_EBUG (the model broke: scenario exit 3);
 *  - tdxmmu_check() finds no violation after every operation, while the VM
 *    is alive and no raw SEAMCALL other than TDH.MEM.TRACK and
 *    TDH.MEM.SEPT.RD has succeeded (such a SEAMCALL changes the module
 *    behind KVM's back: check is right to report that);
 *  - the host never reads data the guest wrote through the private alias.
 *    Every word the guest writes privately has top nibble 0xA (a write's
 *    value, a fill's byte 0xA0..0xAF, a build-time page's fill), and no
 *    other writer (shared-alias writes and fills, host writes) ever makes
 *    one, so a host read with top nibble 0xA is private data leaked;
 *  - a guest read or verify through an alias finds what the guest last
 *    wrote there through that alias. The shadow of a page is forgotten by
 *    every operation that may legitimately lose or change its contents:
 *    MapGPA over it (any outcome), host write, invalidate and zap of any
 *    alias, memslot delete and add, a guest write or fill that did not
 *    complete, a touch that writes, and, for the whole TD, a successful raw
 *    SEAMCALL (which also ends this part of the oracle: KVM no longer knows
 *    the module's state). Accept is not among them: accepting a page that
 *    is already accepted must not change it;
 *  - tdxmmu_td_destroy() reports no leak.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tdxmmu/tdxmmu.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PAGE           4096ull
#define NR_PAGES       2048u     /* [0, 8M) */
#define SLOT0_PAGES    1024u     /* [0, 4M) */
#define SLOT1_FIRST    1024u     /* [4M, 6M) */
#define SLOT1_PAGES    512u
#define NR_WORDS       8u        /* shadowed words per page, 512 bytes apart */
#define MAX_OPS        256u
#define SECRET_NIBBLE  0xAull

enum op {
	OP_READ, OP_WRITE, OP_FILL, OP_VERIFY, OP_MAPGPA, OP_ACCEPT,
	OP_HOST_READ, OP_HOST_WRITE, OP_INVALIDATE, OP_ZAP, OP_MEMSLOT,
	OP_SEAMCALL, OP_INJECT_BUSY, OP_INJECT_ENOMEM, OP_INJECT_OFF,
	OP_ENTER_LEAVE, OP_TOUCH,
	NR_OPS
};

struct shadow {
	bool fill_known;
	uint8_t fill;
	uint8_t alias;       /* 0 private, 1 shared: the alias it was written by */
	uint8_t words_known; /* bit w: words[w] is known */
	uint64_t words[NR_WORDS];
};

struct fuzz {
	const uint8_t *data;
	size_t size, pos;
	tdxmmu_td *td;
	uint64_t shared_bit;
	bool tainted;        /* a raw SEAMCALL succeeded */
	bool slot_present[2];
	bool held[2];
	uint64_t nonce;
	unsigned op_nr;
	const char *op_name;
	struct shadow shadow[NR_PAGES];
};

static struct fuzz F;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "fuzz_ops: op %u (%s): ", F.op_nr, F.op_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

/* FUZZ_OPS_TRACE=1 in the environment: every call and its answer on
 * stderr, to read what a saved input does. */
static bool trace;

static int api(int rc, const char *what)
{
	if (trace && rc > 0)
		fprintf(stderr, "fuzz_ops: op %u (%s): %s -> %d\n", F.op_nr,
			F.op_name, what, rc);
	else if (trace)
		fprintf(stderr, "fuzz_ops: op %u (%s): %s -> %s%s%s\n", F.op_nr,
			F.op_name, what, tdxmmu_strerror(rc), rc ? ": " : "",
			rc ? tdxmmu_last_error() : "");
	if (rc == TDXMMU_EBUG)
		fail("%s answered EBUG: %s", what, tdxmmu_last_error());
	return rc;
}

static void trace_outcome(enum tdxmmu_outcome o, uint64_t v)
{
	if (trace)
		fprintf(stderr, "fuzz_ops:   outcome %s, value %#llx\n",
			tdxmmu_outcome_name(o), (unsigned long long)v);
}

static uint8_t get8(void)
{
	return F.pos < F.size ? F.data[F.pos++] : 0;
}

static uint16_t get16(void)
{
	uint16_t lo = get8();

	return (uint16_t)(lo | (uint16_t)get8() << 8);
}

static uint64_t get64(void)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v |= (uint64_t)get8() << (8 * i);
	return v;
}

static unsigned get_page(void)
{
	return get16() % NR_PAGES;
}

/* A range: 1 to 16 pages, or (count byte >= 0xc0) the aligned 2M around
 * the page; clipped at 8M. */
static void get_range(unsigned *page, unsigned *nr)
{
	unsigned p = get_page();
	uint8_t c = get8();
	unsigned n;

	if (c >= 0xc0) {
		p &= ~511u;
		n = 512;
	} else {
		n = 1 + c % 16;
	}
	if (p + n > NR_PAGES)
		n = NR_PAGES - p;
	*page = p;
	*nr = n;
}

static uint64_t gpa_of(unsigned page, unsigned alias)
{
	return page * PAGE | (alias ? F.shared_bit : 0);
}

static uint64_t rep8(uint8_t b)
{
	return 0x0101010101010101ull * b;
}

static void forget(unsigned page, unsigned nr)
{
	memset(&F.shadow[page], 0, nr * sizeof(F.shadow[0]));
}

static void forget_all(void)
{
	forget(0, NR_PAGES);
}

/* The value a page's word should read through @alias, if known. */
static bool expected(unsigned page, unsigned alias, unsigned w, uint64_t *v)
{
	const struct shadow *s = &F.shadow[page];

	if (F.tainted || s->alias != alias)
		return false;
	if (s->words_known & (1u << w)) {
		*v = s->words[w];
		return true;
	}
	if (s->fill_known) {
		*v = rep8(s->fill);
		return true;
	}
	return false;
}

static void note_write(unsigned page, unsigned alias, unsigned w, uint64_t v)
{
	struct shadow *s = &F.shadow[page];

	if (s->alias != alias)
		memset(s, 0, sizeof(*s));
	s->alias = (uint8_t)alias;
	s->words[w] = v;
	s->words_known |= (uint8_t)(1u << w);
}

static void note_fill(unsigned page, unsigned nr, unsigned alias, uint8_t b)
{
	for (unsigned p = page; p < page + nr; p++) {
		struct shadow *s = &F.shadow[p];

		memset(s, 0, sizeof(*s));
		s->alias = (uint8_t)alias;
		s->fill_known = true;
		s->fill = b;
	}
}

/* A value the guest writes through @alias: secret-marked when private,
 * never secret-marked when shared. */
static uint64_t guest_value(unsigned alias, uint64_t raw)
{
	if (alias)
		return raw & ~(0x8ull << 60);
	return (SECRET_NIBBLE << 60) | ((raw ^ ++F.nonce) & ((1ull << 60) - 1));
}

static uint8_t guest_byte(unsigned alias, uint8_t raw)
{
	return alias ? (uint8_t)(raw & 0x7f) : (uint8_t)(0xa0 | (raw & 0x0f));
}

static void op_read(void)
{
	uint8_t f = get8();
	unsigned vcpu = f & 1, alias = (f >> 1) & 1, w = (f >> 2) % NR_WORDS;
	unsigned page = get_page();
	enum tdxmmu_outcome o = TDXMMU_OUTCOME_OK;
	uint64_t v = 0, want;
	int rc;

	rc = api(tdxmmu_vcpu_read(F.td, vcpu, gpa_of(page, alias) + w * 512,
				  &v, &o), "vcpu read");
	trace_outcome(o, v);
	if (rc || o != TDXMMU_OUTCOME_OK)
		return;
	if (expected(page, alias, w, &want) && v != want)
		fail("guest read %#llx through the %s alias: %#llx, but the guest "
		     "wrote %#llx", (unsigned long long)(gpa_of(page, alias) + w * 512),
		     alias ? "shared" : "private", (unsigned long long)v,
		     (unsigned long long)want);
}

static void op_write(void)
{
	uint8_t f = get8();
	unsigned vcpu = f & 1, alias = (f >> 1) & 1, w = (f >> 2) % NR_WORDS;
	unsigned page = get_page();
	uint64_t v = guest_value(alias, get64());
	enum tdxmmu_outcome o = TDXMMU_OUTCOME_OK;
	int rc;

	rc = api(tdxmmu_vcpu_write(F.td, vcpu, gpa_of(page, alias) + w * 512,
				   v, &o), "vcpu write");
	trace_outcome(o, v);
	if (!rc && o == TDXMMU_OUTCOME_OK)
		note_write(page, alias, w, v);
	else
		forget(page, 1);
}

static void op_fill(void)
{
	uint8_t f = get8();
	unsigned vcpu = f & 1, alias = (f >> 1) & 1, page, nr;
	uint8_t b;
	enum tdxmmu_outcome o = TDXMMU_OUTCOME_OK;
	int rc;

	get_range(&page, &nr);
	b = guest_byte(alias, get8());
	rc = api(tdxmmu_vcpu_fill(F.td, vcpu, gpa_of(page, alias), nr * PAGE, b,
				  &o), "vcpu fill");
	trace_outcome(o, b);
	if (!rc && o == TDXMMU_OUTCOME_OK)
		note_fill(page, nr, alias, b);
	else
		forget(page, nr); /* it may have filled a part */
}

static void op_verify(void)
{
	uint8_t f = get8();
	unsigned vcpu = f & 1, alias = (f >> 1) & 1, page, nr;
	uint8_t b;
	enum tdxmmu_outcome o = TDXMMU_OUTCOME_OK;
	uint64_t mismatch = ~0ull;
	bool known = !F.tainted, match = true;
	int rc;

	get_range(&page, &nr);
	/* Half of the time the byte the shadow holds, so matches happen. */
	b = guest_byte(alias, get8());
	if ((f & 4) && F.shadow[page].fill_known)
		b = F.shadow[page].fill;
	for (unsigned p = page; known && p < page + nr; p++) {
		const struct shadow *s = &F.shadow[p];

		if (!s->fill_known || s->alias != alias) {
			known = false;
			break;
		}
		if (s->fill != b)
			match = false;
		for (unsigned w = 0; w < NR_WORDS; w++)
			if ((s->words_known & (1u << w)) && s->words[w] != rep8(b))
				match = false;
	}
	rc = api(tdxmmu_vcpu_verify(F.td, vcpu, gpa_of(page, alias), nr * PAGE,
				    b, &mismatch, &o), "vcpu verify");
	trace_outcome(o, mismatch);
	if (rc || o != TDXMMU_OUTCOME_OK || !known)
		return;
	if (match && mismatch != ~0ull)
		fail("verify %#llx +%#llx byte %#x through the %s alias: mismatch "
		     "at %#llx, but the guest filled it so",
		     (unsigned long long)gpa_of(page, alias),
		     (unsigned long long)(nr * PAGE), b,
		     alias ? "shared" : "private", (unsigned long long)mismatch);
	if (!match && mismatch == ~0ull)
		fail("verify %#llx +%#llx byte %#x through the %s alias: no "
		     "mismatch, but the guest wrote other bytes there",
		     (unsigned long long)gpa_of(page, alias),
		     (unsigned long long)(nr * PAGE), b,
		     alias ? "shared" : "private");
}

static void op_mapgpa(void)
{
	uint8_t f = get8();
	unsigned vcpu = f & 1, to_shared = (f >> 1) & 1, page, nr;
	enum tdxmmu_outcome o;

	get_range(&page, &nr);
	forget(page, nr);
	o = TDXMMU_OUTCOME_OK;
	api(tdxmmu_vcpu_mapgpa(F.td, vcpu, gpa_of(page, to_shared), nr * PAGE,
			       &o), "vcpu mapgpa");
	trace_outcome(o, 0);
}

static void op_accept(void)
{
	uint8_t f = get8();
	unsigned vcpu = f & 1, level = (f >> 1) & 1, alias = (f >> 2) & 1;
	unsigned page = get_page();
	enum tdxmmu_outcome o = TDXMMU_OUTCOME_OK;
	uint64_t status = 0;

	if (level)
		page &= ~511u;
	api(tdxmmu_vcpu_accept_outcome(F.td, vcpu, gpa_of(page, alias), level,
				       &status, &o), "vcpu accept");
	trace_outcome(o, status);
}

static void op_host_read(void)
{
	uint8_t f = get8();
	unsigned alias = f & 1, w = (f >> 1) % NR_WORDS, page = get_page();
	uint64_t v = 0;

	if (api(tdxmmu_host_read(F.td, gpa_of(page, alias) + w * 512, &v),
		"host read"))
		return;
	trace_outcome(TDXMMU_OUTCOME_OK, v);
	if (v >> 60 == SECRET_NIBBLE)
		fail("host read %#llx: %#llx, a word the guest wrote through the "
		     "private alias", (unsigned long long)(page * PAGE + w * 512),
		     (unsigned long long)v);
}

static void op_host_write(void)
{
	uint8_t f = get8();
	unsigned alias = f & 1, w = (f >> 1) % NR_WORDS, page = get_page();
	uint64_t v = get64() & ~(0x8ull << 60);

	forget(page, 1);
	api(tdxmmu_host_write(F.td, gpa_of(page, alias) + w * 512, v),
	    "host write");
}

static void op_invalidate(void)
{
	unsigned alias = get8() & 1, page, nr;

	get_range(&page, &nr);
	forget(page, nr);
	api(tdxmmu_host_invalidate(F.td, gpa_of(page, alias), nr * PAGE),
	    "host invalidate");
}

static void op_zap(void)
{
	uint8_t f = get8();
	unsigned alias = f & 1, page, nr;
	enum tdxmmu_alias which = (enum tdxmmu_alias)((f >> 1) % 3);

	get_range(&page, &nr);
	forget(page, nr);
	api(tdxmmu_host_zap(F.td, gpa_of(page, alias), nr * PAGE, which),
	    "host zap");
}

static void op_memslot(void)
{
	unsigned id = get8() & 1;
	unsigned first = id ? SLOT1_FIRST : 0;
	unsigned nr = id ? SLOT1_PAGES : SLOT0_PAGES;
	int rc;

	forget(first, nr);
	if (F.slot_present[id]) {
		rc = api(tdxmmu_memslot_delete(F.td, id), "memslot delete");
		if (!rc)
			F.slot_present[id] = false;
	} else {
		rc = api(tdxmmu_memslot_add(F.td, id, first * PAGE, nr * PAGE),
			 "memslot add");
		if (!rc)
			F.slot_present[id] = true;
	}
}

static void op_seamcall(void)
{
	uint8_t f = get8();
	struct tdxmmu_seamcall_req req = { 0 };
	struct tdxmmu_seamcall_out out = { 0 };
	unsigned page = get_page();
	int rc;

	req.leaf = get8() % 64;
	if (!strcmp(tdxmmu_leaf_name(req.leaf), "?"))
		return;
	req.gpa = gpa_of(page, (f >> 2) & 1);
	req.level = f & 3;
	if (req.level == 3)
		req.level = 0;
	req.fill = get8();
	switch ((f >> 3) % 3) {
	case 0:
		break;
	case 1:
		if (api(tdxmmu_host_frame_new(F.td, &req.page), "frame new"))
			req.page = 0;
		break;
	default:
		if (api(tdxmmu_host_frame_of(F.td, gpa_of(get_page(), 0),
					     &req.page), "frame of"))
			req.page = 0;
		break;
	}
	rc = api(tdxmmu_seamcall(F.td, &req, &out), "seamcall");
	if (trace)
		fprintf(stderr, "fuzz_ops:   %s gpa %#llx level %u page %#llx: %s\n",
			tdxmmu_leaf_name(req.leaf), (unsigned long long)req.gpa,
			req.level, (unsigned long long)req.page,
			tdxmmu_status_name(out.rax));
	/* TRACK and the reads change nothing KVM keeps a view of. */
	if (!rc && tdxmmu_status_ok(out.rax) &&
	    req.leaf != tdxmmu_leaf_from_name("TDH.MEM.TRACK") &&
	    req.leaf != tdxmmu_leaf_from_name("TDH.MEM.SEPT.RD")) {
		F.tainted = true;
		forget_all();
	}
}

static const uint32_t ppms[] = { 0, 10000, 100000, 500000, 1000000 };

/*
 * Any share up to 100 %, of any leaf or of all: a leaf that is BUSY every
 * time no longer costs KVM's 10 s retry budget (kvm/tdx_ops.h: a retry loop
 * that met a hopeless injection gives its verdict at once), and an entry
 * that is BUSY every time ends the guest action `blocked` at once
 * (src/cpu/cpu_internal.h, CPU_ENOENTRY).
 */
static void op_inject_busy(void)
{
	uint8_t f = get8();
	int leaf = (f & 0x80) ? (int)(get8() % 64) : -1;

	api(tdxmmu_inject_busy_leaf(F.td, leaf, ppms[f % 5]), "inject busy");
}

static void op_inject_enomem(void)
{
	uint8_t f = get8();

	api(tdxmmu_inject_enomem(F.td, (enum tdxmmu_alloc_site)((f >> 4) % 4),
				 ppms[f % 5]), "inject enomem");
}

static void op_enter_leave(void)
{
	unsigned vcpu = get8() & 1;
	int rc;

	if (F.held[vcpu]) {
		api(tdxmmu_vcpu_leave(F.td, vcpu), "vcpu leave");
		F.held[vcpu] = false; /* leave always lets it go */
	} else {
		rc = api(tdxmmu_vcpu_enter(F.td, vcpu), "vcpu enter");
		F.held[vcpu] = rc == 0;
	}
}

static void op_touch(void)
{
	uint8_t f = get8();
	unsigned vcpu = f & 1, alias = (f >> 1) & 1, write = (f >> 2) & 1;
	unsigned page, nr;
	enum tdxmmu_outcome o = TDXMMU_OUTCOME_OK;

	get_range(&page, &nr);
	if (write)
		forget(page, nr);
	api(tdxmmu_vcpu_touch(F.td, vcpu, gpa_of(page, alias), nr * PAGE,
			      write, &o), "vcpu touch");
	trace_outcome(o, 0);
}

static const struct {
	const char *name;
	void (*fn)(void);
} ops[NR_OPS] = {
	[OP_READ] = { "vcpu read", op_read },
	[OP_WRITE] = { "vcpu write", op_write },
	[OP_FILL] = { "vcpu fill", op_fill },
	[OP_VERIFY] = { "vcpu verify", op_verify },
	[OP_MAPGPA] = { "vcpu mapgpa", op_mapgpa },
	[OP_ACCEPT] = { "vcpu accept", op_accept },
	[OP_HOST_READ] = { "host read", op_host_read },
	[OP_HOST_WRITE] = { "host write", op_host_write },
	[OP_INVALIDATE] = { "host invalidate", op_invalidate },
	[OP_ZAP] = { "host zap", op_zap },
	[OP_MEMSLOT] = { "memslot delete/add", op_memslot },
	[OP_SEAMCALL] = { "seamcall", op_seamcall },
	[OP_INJECT_BUSY] = { "inject busy", op_inject_busy },
	[OP_INJECT_ENOMEM] = { "inject enomem", op_inject_enomem },
	[OP_INJECT_OFF] = { "inject off", NULL },
	[OP_ENTER_LEAVE] = { "vcpu enter/leave", op_enter_leave },
	[OP_TOUCH] = { "vcpu touch", op_touch },
};

/* What this process ran, printed at exit: the figures of a fuzzing run. */
static unsigned long long nr_inputs, nr_ops, nr_checks;

static void print_totals(void)
{
	fprintf(stderr, "fuzz_ops: %llu inputs, %llu operations, %llu checks\n",
		nr_inputs, nr_ops, nr_checks);
}

static void check_now(void)
{
	static char report[8192];
	int n;

	nr_checks++;
	n = api(tdxmmu_check(F.td, report, sizeof(report)), "check");
	if (n > 0 && !F.tainted && !tdxmmu_vm_dead(F.td))
		fail("check found %d violation(s):\n%s", n, report);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tdxmmu_td_config cfg;
	struct tdxmmu_destroy_report rep;
	uint8_t h;
	unsigned nr_add;
	int rc;

	if (!nr_inputs++)
		atexit(print_totals);
	memset(&F, 0, sizeof(F));
	trace = getenv("FUZZ_OPS_TRACE") != NULL;
	F.data = data;
	F.size = size;
	F.op_name = "set-up";
	h = get8();
	tdxmmu_td_config_init(&cfg);
	cfg.mmu = (h & 1) ? TDXMMU_MMU_LEGACY : TDXMMU_MMU_TDP;
	cfg.accept = (h & 2) ? TDXMMU_ACCEPT_EXPLICIT : TDXMMU_ACCEPT_AUTO;
	cfg.mapgpa = (h & 4) ? TDXMMU_MAPGPA_UPSTREAM : TDXMMU_MAPGPA_SEED;
	cfg.sept_ve_disable = (h & 8) != 0;
	cfg.gpaw = (h & 16) ? 52 : 48;
	cfg.nr_vcpus = 2;
	cfg.seed = get8();
	if (api(tdxmmu_td_create(&cfg, &F.td), "td create"))
		fail("td create: %s", tdxmmu_last_error());
	F.shared_bit = tdxmmu_td_shared_bit(F.td);
	if (api(tdxmmu_memslot_add(F.td, 0, 0, SLOT0_PAGES * PAGE), "memslot") ||
	    api(tdxmmu_memslot_add(F.td, 1, SLOT1_FIRST * PAGE,
				   SLOT1_PAGES * PAGE), "memslot"))
		fail("memslot add: %s", tdxmmu_last_error());
	F.slot_present[0] = F.slot_present[1] = true;
	/* Build-time pages: private, with a secret-marked fill. */
	nr_add = get8() % 4;
	for (unsigned i = 0; i < nr_add; i++) {
		unsigned page = get16() % (SLOT0_PAGES + SLOT1_PAGES);
		uint8_t b = guest_byte(0, get8());

		if (!api(tdxmmu_td_add_page(F.td, page * PAGE, b), "add page"))
			note_fill(page, 1, 0, b);
	}
	if (api(tdxmmu_td_finalize(F.td), "finalize"))
		fail("finalize: %s", tdxmmu_last_error());
	check_now();

	while (F.pos < F.size && F.op_nr < MAX_OPS) {
		unsigned op = get8() % NR_OPS;

		F.op_nr++;
		nr_ops++;
		F.op_name = ops[op].name;
		if (ops[op].fn)
			ops[op].fn();
		else
			api(tdxmmu_inject_off(F.td), "inject off");
		check_now();
	}

	F.op_name = "destroy";
	/* A leak is allowed only as KVM's answer to an injection it could
	 * not get past: a retry loop of KVM that gave up on a BUSY picking
	 * every call (these inputs inject no error status, so ESEAMCALL
	 * means exactly that: tdxmmu_td_destroy()). */
	rc = tdxmmu_td_destroy(F.td, &rep);
	F.td = NULL;
	if (rc && rc != TDXMMU_ESEAMCALL)
		fail("destroy: %s: %s", tdxmmu_strerror(rc), rep.message);
	return 0;
}
