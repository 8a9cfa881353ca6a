/* SPDX-License-Identifier: MIT */
/*
 * Stress test: several vCPUs touch private and shared memory and convert it
 * (MapGPA) while host threads invalidate ranges, zap, delete and re-add a
 * memslot and the TDX module injects TDX_OPERAND_BUSY (and, when asked,
 * KVM's allocations fail with -ENOMEM). Uses the public header only.
 *
 * Each round runs the guest programs on their own threads
 * (tdxmmu_run_vcpus) while the host threads (the main thread is host 0)
 * act, for a bounded time slice and a bounded number of operations; then
 * everything is joined (a quiesce point), injection is turned off,
 * tdxmmu_check() must find no violation, and every page whose content is
 * defined is verified. At the end tdxmmu_td_destroy() must report nothing
 * leaked.
 *
 * Memory layout, per vCPU i at i * STRIDE (STRIDE = 1M; 4M with ops=all):
 *  - modeled region [+0, +512K): the vCPU keeps a model of each page
 *    (private or shared, every byte = B). Host actions there are only the
 *    data-preserving ones (invalidate, shared zap), so every access has a
 *    defined outcome and content and both are asserted.
 *  - scratch region [+512K, +1M): the host also zaps the private alias
 *    there, which destroys private data; the alias rules stay defined
 *    (outcome asserted), the content is 0 or the last value written.
 *  - ops=all only, big region [+2M, +4M): converted and accepted as one
 *    2M block (the guest tries a 2M ACCEPT, then 4K ones, as Linux does).
 *  - slot 1 (at 8M or above slot 0), vCPU i's part: the host deletes and
 *    re-adds the slot; an access is ok or mmio, a read gives 0 or the last
 *    value this vCPU wrote there. Slot 1 stays private, but the vCPUs also
 *    read its shared alias (blocked, or mmio while the slot is gone): that
 *    links a shared table with nothing in it, which the next deletion
 *    frees with RCU while the other vCPUs' hardware walks may be going
 *    through it.
 * Slot 0 covers every vCPU's regions (at least 4M), so the layout scales
 * with the vCPU count.
 *
 * Configuration (environment; the defaults are the CI run, `make test`):
 *   TDXMMU_STRESS_SEED   seed (default 1; "random" draws one from the clock)
 *   TDXMMU_STRESS_MS     total duration (default 1500 ms: six rounds; a
 *                        longer run gets one round per 250 ms)
 *   TDXMMU_STRESS_ROUNDS the fewest rounds per TD (default 6): a short
 *                        run's rounds are shorter
 *   TDXMMU_STRESS_MIN_OPS operations each thread does per round even when
 *                        the round's time is up (default 0; valgrind may
 *                        start a round's threads after its deadline)
 *   TDXMMU_STRESS_ROUND_MS  length of a round of a longer run (default
 *                        250); a run ends when its time is up even if a
 *                        sanitizer made its quiesce points slow
 *   TDXMMU_STRESS_VCPUS  vCPUs, 1..64 (default 2)
 *   TDXMMU_STRESS_HOSTS  host threads, 1..16 (default 1). Host 0 (the main
 *                        thread) alone deletes and re-adds slot 1; every
 *                        host invalidates and zaps anywhere, and with
 *                        ops=all reads and writes any vCPU's pages, issues
 *                        raw SEAMCALLs and runs tdxmmu_check().
 *   TDXMMU_STRESS_MMU    tdp | legacy | both (default tdp)
 *   TDXMMU_STRESS_ACCEPT auto | explicit | both (default auto). explicit:
 *                        the guest programs accept pages themselves: after
 *                        a MapGPA to private (4K, or 2M then 4K for the big
 *                        region), and on every TDXMMU_OUTCOME_VE (accept,
 *                        retry the access).
 *                        "both" (either variable) runs one TD per
 *                        combination, in turn, each for an equal share of
 *                        the time.
 *   TDXMMU_STRESS_OPS    basic | all (default basic). all adds host reads
 *                        (a private page must read 0, a shared one what the
 *                        guest or host last wrote; private data is tagged
 *                        with bit 63 and no host read may see it), host
 *                        writes (shared scratch pages: the guest must read
 *                        them; private scratch pages: the guest's next read
 *                        is poison, or 0 if a zap dropped the page), raw
 *                        SEAMCALLs (TDH.MEM.SEPT.RD, TDH.MEM.TRACK: only
 *                        legal statuses), tdxmmu_check() while the vCPUs
 *                        run and the other hosts act (the API allows it:
 *                        it quiesces the vCPUs and takes KVM's locks; raw
 *                        SEAMCALLs it does not exclude, so the test keeps
 *                        them apart from it), and the big regions. The host's reads
 *                        and writes of a vCPU's pages are ordered with that
 *                        vCPU's operations by a per-vCPU test lock, so
 *                        their expected values are exact.
 *   TDXMMU_STRESS_BUSY_PPM   injected TDX_OPERAND_BUSY (default 20000 = 2%)
 *   TDXMMU_STRESS_ENOMEM_PPM injected -ENOMEM in KVM (default 0)
 *   TDXMMU_STRESS_PROGRESS   seconds between progress lines (default 0:
 *                            none); each gives operations by kind, checks,
 *                            injected faults hit, rounds, time, RSS
 *   TDXMMU_STRESS_RSS_SLACK_MB  memory must stay flat: the run FAILS if the
 *                            RSS at the end exceeds the RSS after the first
 *                            10% of the run by more than 10% plus this many
 *                            MiB (default 16). Checked for runs of 60 s and
 *                            more (a shorter one measures start-up).
 * The soak (`make soak`, not in CI) runs this program under TSan and ASan
 * with larger values; test_stress_smoke is the same program with the soak's
 * configuration as its defaults, for about a second.
 *
 * Reproducing: the seed is printed first ("stress seed N"), and again with
 * the summary; the run takes its random choices (operations, addresses,
 * values, injection) from it. It is DEFAULT_SEED unless TDXMMU_STRESS_SEED
 * says otherwise, so CI runs are the same run (issue 11, section 3). Thread
 * interleavings are not reproducible, but a failure's sequence of
 * operations is:
 *   TDXMMU_STRESS_SEED=N build/tests/test_stress
 * The long variant is the same program run on demand with a larger value:
 *   TDXMMU_STRESS_MS=600000 build/tests/test_stress
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include <tdxmmu/tdxmmu.h>

#define KiB (UINT64_C(1) << 10)
#define MiB (UINT64_C(1) << 20)
#define PAGE (4 * KiB)
#define BIG (2 * MiB)

#define ROUND_MS 250 /* default: longer runs get more rounds, not longer ones */
#define DEFAULT_SEED 1
#define MAX_OPS_PER_ROUND 200000 /* per thread */
#define MAX_HOSTS 16

/* The defaults are CI's run; test_stress_smoke.c sets its own. */
#ifndef STRESS_DEF_VCPUS
#define STRESS_DEF_VCPUS 2
#define STRESS_DEF_HOSTS 1
#define STRESS_DEF_MMU "tdp"
#define STRESS_DEF_ACCEPT "auto"
#define STRESS_DEF_OPS "basic"
#define STRESS_DEF_BUSY_PPM 20000
#define STRESS_DEF_ENOMEM_PPM 0
#define STRESS_DEF_MS 1500
#define STRESS_DEF_MIN_ROUNDS 6
#define STRESS_DEF_MIN_OPS 0
#endif

#define MODEL_SIZE (512 * KiB)
#define MODEL_PAGES (MODEL_SIZE / PAGE)
#define SCRATCH_SIZE (512 * KiB)
#define SCRATCH_PAGES (SCRATCH_SIZE / PAGE)
#define BIG_OFF (2 * MiB)
#define SLOT1_WORDS 64 /* words per vCPU we use in slot 1, one per page */
#define SLOT1_MIN_SIZE (2 * MiB) /* one whole 4K-level table per tree */
#define PRIV_TAG (UINT64_C(1) << 63) /* private data: no host read sees it */

static uint64_t g_seed;

static struct {
	unsigned nr_vcpus, nr_hosts, min_rounds;
	uint64_t min_ops; /* per thread and round, whatever the clock says */
	uint64_t round_ms;
	bool mmu[2];    /* tdp, legacy */
	bool accept[2]; /* auto, explicit */
	bool all_ops;
	uint32_t busy_ppm, enomem_ppm;
	uint64_t total_ms, progress_ms, rss_slack_mb;
	/* layout */
	uint64_t stride, slot0_size, slot1_base, slot1_size, slot1_part;
} C;

/* Set per TD, before any of its threads start. */
static bool g_explicit;

/* ---- operation counts ---- */

#define OP_KINDS(X)                                                           \
	X(VREAD, "vcpu.read") X(VWRITE, "vcpu.write") X(VFILL, "vcpu.fill")   \
	X(VVERIFY, "vcpu.verify") X(VBLOCKED, "vcpu.blocked")                 \
	X(MAPGPA, "vcpu.mapgpa") X(ACCEPT4K, "vcpu.accept4k")                 \
	X(ACCEPT2M, "vcpu.accept2m") X(VE, "vcpu.ve") X(POISON, "vcpu.poison") \
	X(MMIO, "vcpu.mmio") X(UNDEF, "vcpu.undefined")                       \
	X(HINVAL, "host.invalidate") X(HZAPS, "host.zap_shared")              \
	X(HZAPP, "host.zap_private") X(SLOTDEL, "host.slot_delete")           \
	X(SLOTADD, "host.slot_add") X(HREAD, "host.read")                     \
	X(HWRITE_SH, "host.write_shared") X(HWRITE_PRIV, "host.write_private") \
	X(SEPTRD, "host.seamcall.SEPT.RD") X(TRACK, "host.seamcall.TRACK")   \
	X(HENOMEM, "host.enomem") X(CHECK_LIVE, "check.running")              \
	X(CHECK_QUIESCE, "check.quiesce")
#define OPK_ENUM(e, n) OPK_##e,
enum op_kind { OP_KINDS(OPK_ENUM) OPK_NR };
#define OPK_NAME(e, n) n,
static const char *const opk_name[OPK_NR] = { OP_KINDS(OPK_NAME) };

/* One per thread (single writer, relaxed): the progress line sums them
 * while the threads run. */
struct counters {
	_Atomic uint64_t n[OPK_NR];
};
static struct counters g_vcnt[TDXMMU_MAX_VCPUS], g_hcnt[MAX_HOSTS], g_mcnt;

static void cnt(struct counters *c, enum op_kind k)
{
	atomic_fetch_add_explicit(&c->n[k], 1, memory_order_relaxed);
}

static uint64_t splitmix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static uint64_t rnd(uint64_t *s)
{
	/* xorshift64* */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dULL;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct page_model {
	bool shared;
	uint8_t byte; /* every byte of the page */
};

struct vcpu_state {
	unsigned id;
	uint64_t rng;
	uint64_t deadline;
	uint64_t sbit;
	struct counters *cnt;
	/* ops=all: held by the vCPU for each operation and by a host thread
	 * for its reads and writes of this vCPU's pages. */
	pthread_mutex_t lock;
	/* Host threads waiting for the lock: the vCPU lets them have it
	 * (a mutex is not fair, and the vCPU takes it again at once). */
	atomic_uint host_waiting;
	struct page_model model[MODEL_PAGES];
	bool scratch_shared[SCRATCH_PAGES];
	uint64_t scratch_val[SCRATCH_PAGES]; /* last word written at offset 0 */
	/* A page converted to private and never touched there does not enter
	 * the TD: converted back, its frame still holds the shared data. */
	uint64_t scratch_prev_shared[SCRATCH_PAGES];
	bool scratch_touched[SCRATCH_PAGES];
	/* ops=all: a host write to the private page since the vCPU last saw
	 * it whole: its next read is poison (or 0 after a zap). A shared
	 * page may then hold either scratch_val or scratch_alt. */
	bool scratch_poison[SCRATCH_PAGES];
	uint64_t scratch_hostw[SCRATCH_PAGES];
	bool scratch_alt_valid[SCRATCH_PAGES];
	uint64_t scratch_alt[SCRATCH_PAGES];
	struct page_model big; /* ops=all: the 2M block */
	uint64_t slot1_val[SLOT1_WORDS];
	/* statistics */
	uint64_t ops, conversions, blocked_checks, undefined, mmio;
	char err[512];
};

/* The first failure's message is kept: an ACCEPT that failed inside an
 * access explains the access's failure. */
#define VFAIL(v, ...)                                                         \
	do {                                                                  \
		if (!(v)->err[0])                                             \
			snprintf((v)->err, sizeof((v)->err), __VA_ARGS__);    \
		return -1;                                                    \
	} while (0)

static const char *rcname(int rc, enum tdxmmu_outcome o)
{
	return rc < 0 ? tdxmmu_strerror(rc) : tdxmmu_outcome_name(o);
}

static uint64_t model_base(unsigned vcpu)
{
	return vcpu * C.stride;
}

static uint64_t scratch_base(unsigned vcpu)
{
	return vcpu * C.stride + MODEL_SIZE;
}

static uint64_t big_base(unsigned vcpu)
{
	return vcpu * C.stride + BIG_OFF;
}

static uint64_t slot1_word(unsigned vcpu, unsigned i)
{
	return C.slot1_base + vcpu * C.slot1_part + i * PAGE + 8 * i;
}

static uint64_t word_of(uint8_t b)
{
	return 0x0101010101010101ULL * b;
}

/* ops=all: private data carries the tag (bit 7 of a fill byte, bit 63 of a
 * word), shared data never does. */
static uint8_t tag_byte(uint8_t b, bool shared)
{
	if (!C.all_ops)
		return b;
	return shared ? (uint8_t)(b & 0x7f) : (uint8_t)(b | 0x80);
}

static uint64_t tag_word(uint64_t w, bool shared)
{
	if (!C.all_ops)
		return w;
	return shared ? w & ~PRIV_TAG : w | PRIV_TAG;
}

/* Alias the vCPU must use for a page: the GPA with the shared bit if the
 * page is shared. */
static uint64_t alias(const struct vcpu_state *v, uint64_t gpa, bool shared)
{
	return shared ? (gpa | v->sbit) : gpa;
}

static bool status_is(uint64_t st, const char *name)
{
	uint64_t s;

	return tdxmmu_status_from_name(name, &s) && tdxmmu_status_class_eq(st, s);
}

/* ---- the guest's side ---- */

#define ACCEPT_TRIES 1000

/*
 * TDG.MEM.PAGE.ACCEPT of one 4K page until it completes: SUCCESS or
 * ALREADY_ACCEPTED, or an outcome that ends it (mmio: slot 1 is gone).
 * BUSY (the entry lock: another ACCEPT, a host SEAMCALL) and `blocked` (KVM
 * kept answering RETRY, e.g. to injected BUSYs) are tried again.
 */
static int accept_4k(tdxmmu_td *td, struct vcpu_state *v, uint64_t gpa,
		     enum tdxmmu_outcome *o)
{
	for (unsigned tries = 0; tries < ACCEPT_TRIES; tries++) {
		uint64_t st = 0;
		int rc = tdxmmu_vcpu_accept_outcome(td, v->id, gpa, 0, &st, o);

		if (rc < 0)
			VFAIL(v, "accept %#" PRIx64 ": %s (%s)", gpa,
			      tdxmmu_strerror(rc), tdxmmu_last_error());
		cnt(v->cnt, OPK_ACCEPT4K);
		if (*o == TDXMMU_OUTCOME_MMIO)
			return 0;
		if (*o == TDXMMU_OUTCOME_BLOCKED)
			continue;
		if (*o != TDXMMU_OUTCOME_OK)
			VFAIL(v, "accept %#" PRIx64 ": %s", gpa,
			      tdxmmu_outcome_name(*o));
		if (status_is(st, "TDX_SUCCESS") ||
		    status_is(st, "TDX_PAGE_ALREADY_ACCEPTED"))
			return 0;
		if (!status_is(st, "TDX_OPERAND_BUSY"))
			VFAIL(v, "accept %#" PRIx64 ": status %#" PRIx64 " (%s)",
			      gpa, st, tdxmmu_status_name(st));
	}
	VFAIL(v, "accept %#" PRIx64 ": not done after %u tries", gpa,
	      ACCEPT_TRIES);
}

/* Accepts [gpa, gpa + size): a whole 2M block first with one 2M ACCEPT,
 * which the model's KVM (4K mappings only, E4) answers with
 * TDX_PAGE_SIZE_MISMATCH once it has mapped a 4K page there; then 4K. */
static int accept_range(tdxmmu_td *td, struct vcpu_state *v, uint64_t gpa,
			uint64_t size, enum tdxmmu_outcome *o)
{
	if (size == BIG && !(gpa & (BIG - 1))) {
		uint64_t st = 0;
		int rc = tdxmmu_vcpu_accept_outcome(td, v->id, gpa, 1, &st, o);

		if (rc < 0)
			VFAIL(v, "accept 2M %#" PRIx64 ": %s (%s)", gpa,
			      tdxmmu_strerror(rc), tdxmmu_last_error());
		cnt(v->cnt, OPK_ACCEPT2M);
		if (*o == TDXMMU_OUTCOME_OK &&
		    (status_is(st, "TDX_SUCCESS") ||
		     status_is(st, "TDX_PAGE_ALREADY_ACCEPTED")))
			return 0;
		if (*o != TDXMMU_OUTCOME_BLOCKED &&
		    !(*o == TDXMMU_OUTCOME_OK &&
		      (status_is(st, "TDX_PAGE_SIZE_MISMATCH") ||
		       status_is(st, "TDX_OPERAND_BUSY"))))
			VFAIL(v, "accept 2M %#" PRIx64 ": %s, status %#" PRIx64
			      " (%s)", gpa, tdxmmu_outcome_name(*o), st,
			      tdxmmu_status_name(st));
	}
	for (uint64_t off = 0; off < size; off += PAGE) {
		if (accept_4k(td, v, gpa + off, o))
			return -1;
		if (*o != TDXMMU_OUTCOME_OK)
			return 0;
	}
	return 0;
}

enum gact { G_READ, G_WRITE, G_FILL, G_VERIFY };

/*
 * One guest access. With accept=explicit the guest's #VE handler runs
 * here: TDXMMU_OUTCOME_VE (a pending page) -> accept what the access
 * covers, then the access runs again. Returns the API's code (or -1 after
 * a failed ACCEPT, v->err set); *o is the final outcome.
 */
static int gdo(tdxmmu_td *td, struct vcpu_state *v, enum gact k, uint64_t gpa,
	       uint64_t size, uint64_t arg, uint64_t *out,
	       enum tdxmmu_outcome *o)
{
	for (unsigned tries = 0;; tries++) {
		int rc = TDXMMU_EINVAL;

		*o = TDXMMU_OUTCOME_ERROR;
		switch (k) {
		case G_READ:
			rc = tdxmmu_vcpu_read(td, v->id, gpa, out, o);
			cnt(v->cnt, OPK_VREAD);
			break;
		case G_WRITE:
			rc = tdxmmu_vcpu_write(td, v->id, gpa, arg, o);
			cnt(v->cnt, OPK_VWRITE);
			break;
		case G_FILL:
			rc = tdxmmu_vcpu_fill(td, v->id, gpa, size, (uint8_t)arg, o);
			cnt(v->cnt, OPK_VFILL);
			break;
		case G_VERIFY:
			rc = tdxmmu_vcpu_verify(td, v->id, gpa, size, (uint8_t)arg,
						out, o);
			cnt(v->cnt, OPK_VVERIFY);
			break;
		}
		if (rc < 0 || *o != TDXMMU_OUTCOME_VE || !g_explicit ||
		    tries == 100)
			return rc;
		cnt(v->cnt, OPK_VE);
		if (accept_range(td, v, (gpa & ~v->sbit) & ~(PAGE - 1),
				 size > PAGE ? size : PAGE, o))
			return -1;
		if (*o != TDXMMU_OUTCOME_OK)
			return 0;
	}
}

static int verify_page(tdxmmu_td *td, struct vcpu_state *v, uint64_t gpa,
		       uint64_t size, uint8_t byte, const char *what)
{
	enum tdxmmu_outcome o = TDXMMU_OUTCOME_ERROR;
	uint64_t bad = 0;
	int rc = gdo(td, v, G_VERIFY, gpa, size, byte, &bad, &o);

	if (rc < 0 || o != TDXMMU_OUTCOME_OK)
		VFAIL(v, "%s: verify %#" PRIx64 " byte %#x: %s (%s)", what, gpa,
		      byte, rcname(rc, o), tdxmmu_last_error());
	if (bad != UINT64_MAX)
		VFAIL(v, "%s: verify %#" PRIx64 " byte %#x: mismatch at %#" PRIx64,
		      what, gpa, byte, bad);
	return 0;
}

/* accept=explicit: after a MapGPA to private the guest accepts the range
 * before it uses it (Linux's tdx_enc_status_changed). */
static int accept_converted(tdxmmu_td *td, struct vcpu_state *v, uint64_t gpa,
			    uint64_t size)
{
	enum tdxmmu_outcome o = TDXMMU_OUTCOME_ERROR;

	if (!g_explicit)
		return 0;
	if (accept_range(td, v, gpa, size, &o))
		return -1;
	if (o != TDXMMU_OUTCOME_OK)
		VFAIL(v, "accept after mapgpa %#" PRIx64 "+%#" PRIx64 ": %s",
		      gpa, size, tdxmmu_outcome_name(o));
	return 0;
}

/* One operation on the modeled region: everything is defined. */
static int op_model(tdxmmu_td *td, struct vcpu_state *v)
{
	unsigned p = (unsigned)(rnd(&v->rng) % MODEL_PAGES);
	uint64_t gpa = model_base(v->id) + p * PAGE;
	struct page_model *m = &v->model[p];
	enum tdxmmu_outcome o = TDXMMU_OUTCOME_ERROR;
	uint64_t val = 0, r = rnd(&v->rng) % 100;
	int rc;

	if (r < 30) { /* write a word of the page's byte, read it back */
		uint8_t b = tag_byte((uint8_t)rnd(&v->rng), m->shared);
		uint64_t off = (rnd(&v->rng) % (PAGE / 8)) * 8;
		uint64_t a = alias(v, gpa, m->shared) + off;

		/* The page stays uniform only if we fill it: fill, then
		 * write/read one word of the same byte. */
		rc = gdo(td, v, G_FILL, alias(v, gpa, m->shared), PAGE, b, NULL,
			 &o);
		if (rc < 0 || o != TDXMMU_OUTCOME_OK)
			VFAIL(v, "fill %#" PRIx64 " (%s): %s (%s)",
			      alias(v, gpa, m->shared),
			      m->shared ? "shared" : "private", rcname(rc, o),
			      tdxmmu_last_error());
		m->byte = b;
		rc = gdo(td, v, G_WRITE, a, 8, word_of(b), NULL, &o);
		if (rc < 0 || o != TDXMMU_OUTCOME_OK)
			VFAIL(v, "write %#" PRIx64 ": %s (%s)", a, rcname(rc, o),
			      tdxmmu_last_error());
		rc = gdo(td, v, G_READ, a, 8, 0, &val, &o);
		if (rc < 0 || o != TDXMMU_OUTCOME_OK)
			VFAIL(v, "read %#" PRIx64 ": %s (%s)", a, rcname(rc, o),
			      tdxmmu_last_error());
		if (val != word_of(b))
			VFAIL(v, "read %#" PRIx64 " (%s): %#" PRIx64
			      ", expected %#" PRIx64, a,
			      m->shared ? "shared" : "private", val, word_of(b));
	} else if (r < 60) { /* read a word */
		uint64_t off = (rnd(&v->rng) % (PAGE / 8)) * 8;
		uint64_t a = alias(v, gpa, m->shared) + off;

		rc = gdo(td, v, G_READ, a, 8, 0, &val, &o);
		if (rc < 0 || o != TDXMMU_OUTCOME_OK)
			VFAIL(v, "read %#" PRIx64 ": %s (%s)", a, rcname(rc, o),
			      tdxmmu_last_error());
		if (val != word_of(m->byte))
			VFAIL(v, "read %#" PRIx64 " (%s): %#" PRIx64
			      ", expected %#" PRIx64, a,
			      m->shared ? "shared" : "private", val,
			      word_of(m->byte));
	} else if (r < 70) { /* verify the whole page */
		return verify_page(td, v, alias(v, gpa, m->shared), PAGE,
				   m->byte, "model");
	} else if (r < 80) { /* the wrong alias is blocked */
		uint64_t a = alias(v, gpa, !m->shared);

		rc = gdo(td, v, G_READ, a, 8, 0, &val, &o);
		if (rc < 0 || o != TDXMMU_OUTCOME_BLOCKED)
			VFAIL(v, "read of the wrong alias %#" PRIx64
			      " (page is %s): %s (%s)", a,
			      m->shared ? "shared" : "private", rcname(rc, o),
			      tdxmmu_last_error());
		v->blocked_checks++;
		cnt(v->cnt, OPK_VBLOCKED);
	} else { /* convert 1..8 pages of the same kind to the other kind */
		unsigned n = 1 + (unsigned)(rnd(&v->rng) % 8), k;
		bool to_shared = !m->shared;

		for (k = 1; k < n && p + k < MODEL_PAGES; k++)
			if (v->model[p + k].shared != m->shared)
				break;
		n = k;
		rc = tdxmmu_vcpu_mapgpa(td, v->id, alias(v, gpa, to_shared),
					n * PAGE, &o);
		if (rc < 0 || o != TDXMMU_OUTCOME_OK)
			VFAIL(v, "mapgpa %#" PRIx64 " %u pages to %s: %s (%s)",
			      alias(v, gpa, to_shared), n,
			      to_shared ? "shared" : "private", rcname(rc, o),
			      tdxmmu_last_error());
		cnt(v->cnt, OPK_MAPGPA);
		for (k = 0; k < n; k++) {
			v->model[p + k].shared = to_shared;
			v->model[p + k].byte = 0;
		}
		v->conversions++;
		if (!to_shared && accept_converted(td, v, gpa, n * PAGE))
			return -1;
		/* The converted content reads as zero. */
		for (k = 0; k < n; k++)
			if (verify_page(td, v, alias(v, gpa + k * PAGE,
						     to_shared), PAGE, 0,
					"after mapgpa"))
				return -1;
	}
	return 0;
}

/* A read of a shared scratch page: the last value written, or (after a
 * host write to the page while it was private) that value; the first read
 * settles which. */
static int scratch_shared_ok(struct vcpu_state *v, unsigned p, uint64_t val)
{
	if (val == v->scratch_val[p]) {
		v->scratch_alt_valid[p] = false;
		return 1;
	}
	if (v->scratch_alt_valid[p] && val == v->scratch_alt[p]) {
		v->scratch_val[p] = val;
		v->scratch_alt_valid[p] = false;
		return 1;
	}
	return 0;
}

/* One operation on the scratch region (the host zaps its private alias). */
static int op_scratch(tdxmmu_td *td, struct vcpu_state *v)
{
	unsigned p = (unsigned)(rnd(&v->rng) % SCRATCH_PAGES);
	uint64_t gpa = scratch_base(v->id) + p * PAGE;
	bool sh = v->scratch_shared[p];
	enum tdxmmu_outcome o = TDXMMU_OUTCOME_ERROR;
	uint64_t val = 0, r = rnd(&v->rng) % 100;
	int rc;

	if (r < 40) {
		uint64_t w = tag_word(rnd(&v->rng) | 1, sh);

		rc = gdo(td, v, G_WRITE, alias(v, gpa, sh), 8, w, NULL, &o);
		if (rc < 0 || o != TDXMMU_OUTCOME_OK)
			VFAIL(v, "scratch write %#" PRIx64 ": %s (%s)",
			      alias(v, gpa, sh), rcname(rc, o),
			      tdxmmu_last_error());
		v->scratch_val[p] = w;
		v->scratch_alt_valid[p] = false;
		if (!sh)
			v->scratch_touched[p] = true;
	} else if (r < 80) {
		rc = gdo(td, v, G_READ, alias(v, gpa, sh), 8, 0, &val, &o);
		if (rc >= 0 && o == TDXMMU_OUTCOME_POISON && !sh &&
		    v->scratch_poison[p]) {
			/* The host wrote the private page: its integrity is
			 * gone until the guest rewrites it whole. */
			cnt(v->cnt, OPK_POISON);
			rc = gdo(td, v, G_FILL, gpa, PAGE, 0, NULL, &o);
			if (rc < 0 || o != TDXMMU_OUTCOME_OK)
				VFAIL(v, "scratch refill after poison %#" PRIx64
				      ": %s (%s)", gpa, rcname(rc, o),
				      tdxmmu_last_error());
			v->scratch_poison[p] = false;
			v->scratch_val[p] = 0;
			v->scratch_touched[p] = true;
			return 0;
		}
		if (rc < 0 || o != TDXMMU_OUTCOME_OK)
			VFAIL(v, "scratch read %#" PRIx64 "%s: %s (%s)",
			      alias(v, gpa, sh),
			      o == TDXMMU_OUTCOME_POISON
				      ? " (poison, no host write)" : "",
			      rcname(rc, o), tdxmmu_last_error());
		if (!sh) {
			v->scratch_touched[p] = true;
			v->scratch_poison[p] = false;
		}
		if (sh) {
			/* Shared frames are never destroyed by the host. */
			if (!scratch_shared_ok(v, p, val))
				VFAIL(v, "scratch shared read %#" PRIx64
				      ": %#" PRIx64 ", expected %#" PRIx64,
				      alias(v, gpa, sh), val, v->scratch_val[p]);
		} else if (val != v->scratch_val[p]) {
			/* The host's private zap may have dropped it. */
			if (val != 0)
				VFAIL(v, "scratch private read %#" PRIx64
				      ": %#" PRIx64 ", expected %#" PRIx64
				      " or 0", gpa, val, v->scratch_val[p]);
			v->undefined++;
			cnt(v->cnt, OPK_UNDEF);
			v->scratch_val[p] = 0;
		}
	} else if (r < 90) {
		rc = gdo(td, v, G_READ, alias(v, gpa, !sh), 8, 0, &val, &o);
		if (rc < 0 || o != TDXMMU_OUTCOME_BLOCKED)
			VFAIL(v, "scratch read of the wrong alias %#" PRIx64
			      ": %s (%s)", alias(v, gpa, !sh), rcname(rc, o),
			      tdxmmu_last_error());
		v->blocked_checks++;
		cnt(v->cnt, OPK_VBLOCKED);
	} else {
		if (sh && v->scratch_alt_valid[p]) {
			/* Settle the content first: it becomes the frame's
			 * data while the page is private and untouched. */
			rc = gdo(td, v, G_READ, alias(v, gpa, sh), 8, 0, &val,
				 &o);
			if (rc < 0 || o != TDXMMU_OUTCOME_OK ||
			    !scratch_shared_ok(v, p, val))
				VFAIL(v, "scratch settle read %#" PRIx64
				      ": %s, %#" PRIx64, alias(v, gpa, sh),
				      rcname(rc, o), val);
		}
		rc = tdxmmu_vcpu_mapgpa(td, v->id, alias(v, gpa, !sh), PAGE, &o);
		if (rc < 0 || o != TDXMMU_OUTCOME_OK)
			VFAIL(v, "scratch mapgpa %#" PRIx64 ": %s (%s)",
			      alias(v, gpa, !sh), rcname(rc, o),
			      tdxmmu_last_error());
		cnt(v->cnt, OPK_MAPGPA);
		v->scratch_shared[p] = !sh;
		if (sh) { /* to private: a fresh page when first touched */
			v->scratch_prev_shared[p] = v->scratch_val[p];
			v->scratch_touched[p] = false;
			v->scratch_val[p] = 0;
			v->scratch_poison[p] = false;
			/* An explicit ACCEPT touches it: AUG, zeroed. */
			if (g_explicit) {
				if (accept_converted(td, v, gpa, PAGE))
					return -1;
				v->scratch_touched[p] = true;
			}
		} else { /* to shared: the frame left the TD cleared */
			v->scratch_val[p] = v->scratch_touched[p]
						    ? 0
						    : v->scratch_prev_shared[p];
			/* ...unless a zap had taken the page out of the TD
			 * before the host wrote it. */
			v->scratch_alt_valid[p] = v->scratch_poison[p];
			v->scratch_alt[p] = v->scratch_hostw[p];
			v->scratch_poison[p] = false;
		}
		v->conversions++;
	}
	return 0;
}

/* One operation on slot 1 (the host deletes and re-adds it). */
static int op_slot1(tdxmmu_td *td, struct vcpu_state *v)
{
	unsigned i = (unsigned)(rnd(&v->rng) % SLOT1_WORDS);
	uint64_t gpa = slot1_word(v->id, i);
	enum tdxmmu_outcome o = TDXMMU_OUTCOME_ERROR;
	uint64_t val = 0, r = rnd(&v->rng) % 4;
	int rc;

	if (r == 0) {
		/* The wrong alias of a private page: loops, or no slot. */
		rc = gdo(td, v, G_READ, gpa | v->sbit, 8, 0, &val, &o);
		if (rc < 0 || (o != TDXMMU_OUTCOME_BLOCKED &&
			       o != TDXMMU_OUTCOME_MMIO))
			VFAIL(v, "slot1 shared-alias read %#" PRIx64 ": %s (%s)",
			      gpa, rcname(rc, o), tdxmmu_last_error());
		if (o == TDXMMU_OUTCOME_MMIO) {
			v->mmio++;
			cnt(v->cnt, OPK_MMIO);
			v->slot1_val[i] = 0;
		}
	} else if (r == 1) {
		uint64_t w = tag_word(rnd(&v->rng) | 1, false);

		rc = gdo(td, v, G_WRITE, gpa, 8, w, NULL, &o);
		if (rc < 0 || (o != TDXMMU_OUTCOME_OK &&
			       o != TDXMMU_OUTCOME_MMIO))
			VFAIL(v, "slot1 write %#" PRIx64 ": %s (%s)", gpa,
			      rcname(rc, o), tdxmmu_last_error());
		/* mmio: the slot was gone, its content with it. */
		v->slot1_val[i] = o == TDXMMU_OUTCOME_OK ? w : 0;
	} else {
		rc = gdo(td, v, G_READ, gpa, 8, 0, &val, &o);
		if (rc < 0 || (o != TDXMMU_OUTCOME_OK &&
			       o != TDXMMU_OUTCOME_MMIO))
			VFAIL(v, "slot1 read %#" PRIx64 ": %s (%s)", gpa,
			      rcname(rc, o), tdxmmu_last_error());
		if (o == TDXMMU_OUTCOME_MMIO) {
			v->mmio++;
			cnt(v->cnt, OPK_MMIO);
			v->slot1_val[i] = 0;
		} else if (val != v->slot1_val[i]) {
			if (val != 0)
				VFAIL(v, "slot1 read %#" PRIx64 ": %#" PRIx64
				      ", expected %#" PRIx64 " or 0", gpa, val,
				      v->slot1_val[i]);
			v->undefined++;
			cnt(v->cnt, OPK_UNDEF);
			v->slot1_val[i] = 0;
		}
	}
	return 0;
}

/* ops=all: the 2M block, converted and filled whole. Only data-preserving
 * host actions reach it, so everything is defined. */
static int op_big(tdxmmu_td *td, struct vcpu_state *v)
{
	struct page_model *m = &v->big;
	uint64_t gpa = big_base(v->id), r = rnd(&v->rng) % 100, val = 0;
	enum tdxmmu_outcome o = TDXMMU_OUTCOME_ERROR;
	int rc;

	if (r < 20) {
		uint8_t b = tag_byte((uint8_t)rnd(&v->rng), m->shared);

		rc = gdo(td, v, G_FILL, alias(v, gpa, m->shared), BIG, b, NULL,
			 &o);
		if (rc < 0 || o != TDXMMU_OUTCOME_OK)
			VFAIL(v, "big fill %#" PRIx64 ": %s (%s)",
			      alias(v, gpa, m->shared), rcname(rc, o),
			      tdxmmu_last_error());
		m->byte = b;
	} else if (r < 40) {
		return verify_page(td, v, alias(v, gpa, m->shared), BIG,
				   m->byte, "big");
	} else if (r < 85) {
		uint64_t a = alias(v, gpa, m->shared) +
			     (rnd(&v->rng) % (BIG / 8)) * 8;

		rc = gdo(td, v, G_READ, a, 8, 0, &val, &o);
		if (rc < 0 || o != TDXMMU_OUTCOME_OK || val != word_of(m->byte))
			VFAIL(v, "big read %#" PRIx64 ": %s, %#" PRIx64
			      ", expected %#" PRIx64, a, rcname(rc, o), val,
			      word_of(m->byte));
	} else {
		bool to_shared = !m->shared;

		rc = tdxmmu_vcpu_mapgpa(td, v->id, alias(v, gpa, to_shared), BIG,
					&o);
		if (rc < 0 || o != TDXMMU_OUTCOME_OK)
			VFAIL(v, "big mapgpa %#" PRIx64 " to %s: %s (%s)",
			      alias(v, gpa, to_shared),
			      to_shared ? "shared" : "private", rcname(rc, o),
			      tdxmmu_last_error());
		cnt(v->cnt, OPK_MAPGPA);
		m->shared = to_shared;
		m->byte = 0;
		v->conversions++;
		if (!to_shared && accept_converted(td, v, gpa, BIG))
			return -1;
		return verify_page(td, v, alias(v, gpa, to_shared), BIG, 0,
				   "big after mapgpa");
	}
	return 0;
}

static int guest_main(tdxmmu_td *td, unsigned vcpu, void *arg)
{
	struct vcpu_state *v = arg;
	uint64_t n;

	(void)vcpu;
	for (n = 0; n < MAX_OPS_PER_ROUND; n++) {
		uint64_t r;
		int rc;

		if ((n & 7) == 0 && n >= C.min_ops && now_ms() >= v->deadline)
			break;
		r = rnd(&v->rng) % 100;
		if (C.all_ops)
			pthread_mutex_lock(&v->lock);
		if (r < 70)
			rc = C.all_ops && r < 4 ? op_big(td, v) : op_model(td, v);
		else if (r < 90)
			rc = op_scratch(td, v);
		else
			rc = op_slot1(td, v);
		if (C.all_ops) {
			pthread_mutex_unlock(&v->lock);
			while (atomic_load(&v->host_waiting))
				sched_yield();
		}
		if (rc)
			return rc;
		v->ops++;
	}
	return 0;
}

struct vcpus_run {
	tdxmmu_td *td;
	struct vcpu_state *vs;
	int rc;
	int results[TDXMMU_MAX_VCPUS];
	atomic_bool done;
};

static void *vcpus_thread(void *p)
{
	struct vcpus_run *run = p;
	tdxmmu_guest_fn fns[TDXMMU_MAX_VCPUS];
	void *args[TDXMMU_MAX_VCPUS];

	for (unsigned i = 0; i < C.nr_vcpus; i++) {
		fns[i] = guest_main;
		args[i] = &run->vs[i];
	}
	run->rc = tdxmmu_run_vcpus(run->td, C.nr_vcpus, fns, args,
				   run->results);
	atomic_store(&run->done, true);
	return NULL;
}

/* ---- the host's side ---- */

struct host_state {
	unsigned id;
	tdxmmu_td *td;
	struct vcpu_state *vs;
	struct counters *cnt;
	uint64_t rng;
	bool slot1_present; /* host 0's: it alone changes slot 1 */
	uint64_t deadline;
	atomic_bool *done;
	char report[16384];
	char err[512];
};

/* Host failures are recorded, the vCPU threads joined, then reported. */
#define HFAIL(h, ...)                                                         \
	do {                                                                  \
		if (!(h)->err[0])                                             \
			snprintf((h)->err, sizeof((h)->err), __VA_ARGS__);    \
		return -1;                                                    \
	} while (0)

/* An injected -ENOMEM fails a host action cleanly: it is tried no
 * further (1: skip the bookkeeping). */
static int host_enomem(struct host_state *h, int rc)
{
	if (rc == TDXMMU_ENOMEM && C.enomem_ppm) {
		cnt(h->cnt, OPK_HENOMEM);
		return 1;
	}
	return 0;
}

static int h_invalidate(tdxmmu_td *td, struct host_state *h)
{
	uint64_t base = (rnd(&h->rng) % 2) ? 0 : C.slot1_base;
	uint64_t lim = base ? C.slot1_size : C.slot0_size;
	uint64_t start = (rnd(&h->rng) % (lim / PAGE)) * PAGE;
	uint64_t size = (1 + rnd(&h->rng) % 64) * PAGE;
	int rc;

	if (start + size > lim)
		size = lim - start;
	rc = tdxmmu_host_invalidate(td, base + start, size);
	if (host_enomem(h, rc))
		return 0;
	if (rc)
		HFAIL(h, "host %u: invalidate %#" PRIx64 "+%#" PRIx64 ": %s (%s)",
		      h->id, base + start, size, tdxmmu_strerror(rc),
		      tdxmmu_last_error());
	cnt(h->cnt, OPK_HINVAL);
	return 0;
}

static int h_zap_shared(tdxmmu_td *td, struct host_state *h)
{
	uint64_t start = (rnd(&h->rng) % (C.slot0_size / PAGE)) * PAGE;
	uint64_t size = (1 + rnd(&h->rng) % 64) * PAGE;
	int rc;

	if (start + size > C.slot0_size)
		size = C.slot0_size - start;
	rc = tdxmmu_host_zap(td, start, size, TDXMMU_ALIAS_SHARED);
	if (host_enomem(h, rc))
		return 0;
	if (rc)
		HFAIL(h, "host %u: zap shared %#" PRIx64 "+%#" PRIx64 ": %s (%s)",
		      h->id, start, size, tdxmmu_strerror(rc),
		      tdxmmu_last_error());
	cnt(h->cnt, OPK_HZAPS);
	return 0;
}

static int h_zap_private(tdxmmu_td *td, struct host_state *h)
{
	unsigned vcpu = (unsigned)(rnd(&h->rng) % C.nr_vcpus);
	uint64_t start = (rnd(&h->rng) % SCRATCH_PAGES) * PAGE;
	uint64_t size = (1 + rnd(&h->rng) % 16) * PAGE;
	enum tdxmmu_alias a = (rnd(&h->rng) & 1) ? TDXMMU_ALIAS_PRIVATE
						 : TDXMMU_ALIAS_BOTH;
	int rc;

	if (start + size > SCRATCH_SIZE)
		size = SCRATCH_SIZE - start;
	rc = tdxmmu_host_zap(td, scratch_base(vcpu) + start, size, a);
	if (host_enomem(h, rc))
		return 0;
	if (rc)
		HFAIL(h, "host %u: zap %s %#" PRIx64 "+%#" PRIx64 ": %s (%s)",
		      h->id, a == TDXMMU_ALIAS_BOTH ? "both" : "private",
		      scratch_base(vcpu) + start, size, tdxmmu_strerror(rc),
		      tdxmmu_last_error());
	cnt(h->cnt, OPK_HZAPP);
	return 0;
}

static int h_slot1(tdxmmu_td *td, struct host_state *h)
{
	int rc;

	if (h->slot1_present) {
		rc = tdxmmu_memslot_delete(td, 1);
		if (host_enomem(h, rc))
			return 0;
		if (rc)
			HFAIL(h, "host %u: memslot delete 1: %s (%s)", h->id,
			      tdxmmu_strerror(rc), tdxmmu_last_error());
		cnt(h->cnt, OPK_SLOTDEL);
	} else {
		rc = tdxmmu_memslot_add(td, 1, C.slot1_base, C.slot1_size);
		if (host_enomem(h, rc))
			return 0;
		if (rc)
			HFAIL(h, "host %u: memslot add 1: %s (%s)", h->id,
			      tdxmmu_strerror(rc), tdxmmu_last_error());
		cnt(h->cnt, OPK_SLOTADD);
	}
	h->slot1_present = !h->slot1_present;
	return 0;
}

static void host_lock(struct vcpu_state *v)
{
	atomic_fetch_add(&v->host_waiting, 1);
	pthread_mutex_lock(&v->lock);
	atomic_fetch_sub(&v->host_waiting, 1);
}

/* ops=all: a host read of one of a vCPU's pages, under that vCPU's test
 * lock: the host never sees private data (it reads 0), and sees exactly
 * the shared data. */
static int h_read(tdxmmu_td *td, struct host_state *h)
{
	unsigned i = (unsigned)(rnd(&h->rng) % C.nr_vcpus);
	struct vcpu_state *v = &h->vs[i];
	uint64_t kind = rnd(&h->rng) % 4, x = rnd(&h->rng);
	uint64_t off = (x % (PAGE / 8)) * 8, gpa = 0, val = 0, exp = 0;
	bool exact = true;
	int rc;

	host_lock(v);
	switch (kind) {
	case 0: {
		unsigned p = (unsigned)((x >> 20) % MODEL_PAGES);

		gpa = model_base(i) + p * PAGE + off;
		exp = v->model[p].shared ? word_of(v->model[p].byte) : 0;
		break;
	}
	case 1:
		gpa = big_base(i) + (x % (BIG / 8)) * 8;
		exp = v->big.shared ? word_of(v->big.byte) : 0;
		break;
	case 2:
		gpa = scratch_base(i) + ((x >> 20) % SCRATCH_PAGES) * PAGE;
		exact = false;
		break;
	default:
		gpa = slot1_word(i, (unsigned)((x >> 20) % SLOT1_WORDS));
		exact = false;
		break;
	}
	rc = tdxmmu_host_read(td, gpa | (x & 1 ? v->sbit : 0), &val);
	cnt(h->cnt, OPK_HREAD);
	if (rc == TDXMMU_ENOENT && kind == 3) {
		/* slot 1 is gone */
	} else if (rc) {
		pthread_mutex_unlock(&v->lock);
		HFAIL(h, "host %u: read %#" PRIx64 ": %s (%s)", h->id, gpa,
		      tdxmmu_strerror(rc), tdxmmu_last_error());
	} else if (kind == 2) {
		unsigned p = (unsigned)((gpa - scratch_base(i)) / PAGE);

		if (v->scratch_shared[p] ? !scratch_shared_ok(v, p, val)
					 : (val & PRIV_TAG) != 0) {
			pthread_mutex_unlock(&v->lock);
			HFAIL(h, "host %u: read of vcpu %u's %s scratch page %#"
				 PRIx64 ": %#" PRIx64 " (expected %#" PRIx64 "%s)",
			      h->id, i, v->scratch_shared[p] ? "shared" : "private",
			      gpa, val, v->scratch_shared[p] ? v->scratch_val[p] : 0,
			      v->scratch_shared[p] ? "" : ": private data seen by the host");
		}
	} else if (exact ? val != exp : (val & PRIV_TAG) != 0) {
		pthread_mutex_unlock(&v->lock);
		HFAIL(h, "host %u: read %#" PRIx64 " (vcpu %u): %#" PRIx64
			 ", expected %#" PRIx64 "%s", h->id, gpa, i, val, exp,
		      exp == 0 ? " (a private page: the host must see 0)" : "");
	}
	pthread_mutex_unlock(&v->lock);
	return 0;
}

/* ops=all: a host write to a scratch page, under the vCPU's test lock. A
 * shared page takes the value (the guest must read it); a private page
 * the guest has in the TD loses its integrity (the guest's next read is
 * poison, or 0 if a private zap replaces the page first). */
static int h_write(tdxmmu_td *td, struct host_state *h)
{
	unsigned i = (unsigned)(rnd(&h->rng) % C.nr_vcpus);
	struct vcpu_state *v = &h->vs[i];
	unsigned p = (unsigned)(rnd(&h->rng) % SCRATCH_PAGES);
	uint64_t w = (rnd(&h->rng) & ~PRIV_TAG) | 1;
	uint64_t gpa = scratch_base(i) + p * PAGE;
	int rc = 0;

	host_lock(v);
	if (v->scratch_shared[p]) {
		rc = tdxmmu_host_write(td, gpa | v->sbit, w);
		if (!rc) {
			v->scratch_val[p] = w;
			v->scratch_alt_valid[p] = false;
			cnt(h->cnt, OPK_HWRITE_SH);
		}
	} else if (v->scratch_touched[p]) {
		rc = tdxmmu_host_write(td, gpa, w);
		if (!rc) {
			v->scratch_poison[p] = true;
			v->scratch_hostw[p] = w;
			cnt(h->cnt, OPK_HWRITE_PRIV);
		}
	}
	pthread_mutex_unlock(&v->lock);
	if (rc)
		HFAIL(h, "host %u: write %#" PRIx64 ": %s (%s)", h->id, gpa,
		      tdxmmu_strerror(rc), tdxmmu_last_error());
	return 0;
}

/* tdxmmu_check() excludes vCPUs (its quiesce point) and host actions
 * (KVM's locks), not raw SEAMCALLs: one in flight holds module locks the
 * check reports as leaked (src/api/check.c says so). The stress test keeps
 * the two apart itself. */
static pthread_rwlock_t g_raw_lock = PTHREAD_RWLOCK_INITIALIZER;

/* ops=all: raw SEAMCALLs that change no mapping. SEPT.RD reads an entry
 * anywhere; TRACK advances the TLB epoch (KVM's own TRACK then retries on
 * TDX_PREVIOUS_TLB_EPOCH_BUSY). Only these statuses are legal. */
static int h_seamcall(tdxmmu_td *td, struct host_state *h)
{
	static const char *const rd_ok[] = { "TDX_SUCCESS", "TDX_EPT_WALK_FAILED",
					     "TDX_OPERAND_BUSY",
					     "TDX_OPERAND_BUSY_HOST_PRIORITY" };
	static const char *const track_ok[] = { "TDX_SUCCESS", "TDX_OPERAND_BUSY",
						"TDX_PREVIOUS_TLB_EPOCH_BUSY" };
	struct tdxmmu_seamcall_req req = { 0 };
	struct tdxmmu_seamcall_out out = { 0 };
	bool track = rnd(&h->rng) & 1;
	const char *const *ok = track ? track_ok : rd_ok;
	size_t nok = track ? 3 : 4;
	int rc;

	if (track) {
		req.leaf = tdxmmu_leaf_from_name("TDH.MEM.TRACK");
	} else {
		uint64_t in1 = rnd(&h->rng) & 1;
		uint64_t lim = in1 ? C.slot1_size : C.slot0_size;

		req.leaf = tdxmmu_leaf_from_name("TDH.MEM.SEPT.RD");
		req.level = (unsigned)(rnd(&h->rng) % 2);
		req.gpa = (in1 ? C.slot1_base : 0) +
			  (rnd(&h->rng) % (lim / PAGE)) * PAGE;
		if (req.level)
			req.gpa &= ~(BIG - 1);
	}
	pthread_rwlock_rdlock(&g_raw_lock);
	rc = tdxmmu_seamcall(td, &req, &out);
	pthread_rwlock_unlock(&g_raw_lock);
	if (rc)
		HFAIL(h, "host %u: seamcall %s: %s (%s)", h->id,
		      tdxmmu_leaf_name(req.leaf), tdxmmu_strerror(rc),
		      tdxmmu_last_error());
	cnt(h->cnt, track ? OPK_TRACK : OPK_SEPTRD);
	for (size_t k = 0; k < nok; k++)
		if (status_is(out.rax, ok[k]))
			return 0;
	HFAIL(h, "host %u: seamcall %s gpa %#" PRIx64 " level %u: status %#"
		 PRIx64 " (%s)", h->id, tdxmmu_leaf_name(req.leaf), req.gpa,
	      req.level, out.rax, tdxmmu_status_name(out.rax));
}

/* ops=all: the whole-model check while the vCPUs run (tdxmmu_check()
 * quiesces the TD itself). */
static int h_check(tdxmmu_td *td, struct host_state *h)
{
	int n;

	h->report[0] = '\0';
	pthread_rwlock_wrlock(&g_raw_lock);
	n = tdxmmu_check(td, h->report, sizeof(h->report));
	pthread_rwlock_unlock(&g_raw_lock);
	cnt(h->cnt, OPK_CHECK_LIVE);
	if (n != 0)
		HFAIL(h, "host %u: check while running: %d violation(s): %.400s",
		      h->id, n, h->report);
	return 0;
}

static int host_op(tdxmmu_td *td, struct host_state *h)
{
	uint64_t r = rnd(&h->rng) % 100;

	if (!C.all_ops) {
		/* CI's distribution (its draws are the seed's run). */
		if (r < 40)
			return h_invalidate(td, h);
		if (r < 70)
			return h_zap_shared(td, h);
		if (r < 95)
			return h_zap_private(td, h);
		return h->id == 0 ? h_slot1(td, h) : h_invalidate(td, h);
	}
	if (r < 20)
		return h_invalidate(td, h);
	if (r < 32)
		return h_zap_shared(td, h);
	if (r < 50)
		return h_zap_private(td, h);
	if (r < 55)
		return h->id == 0 ? h_slot1(td, h) : h_invalidate(td, h);
	if (r < 70)
		return h_read(td, h);
	if (r < 80)
		return h_write(td, h);
	if (r < 90)
		return h_seamcall(td, h);
	/* A check quiesces every vCPU: one host operation in a thousand. */
	if (rnd(&h->rng) % 100 == 0)
		return h_check(td, h);
	return h_read(td, h);
}

/* A host thread's round: act until the guests are done (time- and
 * op-bounded: under valgrind the threads run one at a time). */
static void host_round(struct host_state *h, void (*tick)(void))
{
	uint64_t n = 0;

	while (!atomic_load(h->done)) {
		if (!h->err[0] && n < MAX_OPS_PER_ROUND &&
		    (n < C.min_ops || now_ms() < h->deadline)) {
			if (host_op(h->td, h))
				continue;
			n++;
		} else {
			struct timespec ts = { 0, 1000000 };

			nanosleep(&ts, NULL);
		}
		if (tick)
			tick();
	}
}

static void *host_thread(void *p)
{
	host_round(p, NULL);
	return NULL;
}

/* ---- quiesce points, progress, the run ---- */

/* At a quiesce point: every modeled page (on the main thread, the vCPU
 * threads being joined) holds what the model says, both aliases behave;
 * with ops=all the host reads each one too. */
static void verify_all(tdxmmu_td *td, struct vcpu_state *vs, unsigned round)
{
	for (unsigned i = 0; i < C.nr_vcpus; i++) {
		struct vcpu_state *v = &vs[i];

		for (unsigned p = 0; p < MODEL_PAGES; p++) {
			uint64_t gpa = model_base(i) + p * PAGE;
			enum tdxmmu_outcome o = TDXMMU_OUTCOME_ERROR;
			uint64_t val = 0;
			int rc;

			if (verify_page(td, v, alias(v, gpa, v->model[p].shared),
					PAGE, v->model[p].byte, "quiesce"))
				fail_msg("seed %" PRIu64 " round %u vcpu %u: %s",
					 g_seed, round, i, v->err);
			rc = gdo(td, v, G_READ,
				 alias(v, gpa, !v->model[p].shared), 8, 0, &val,
				 &o);
			if (rc < 0 || o != TDXMMU_OUTCOME_BLOCKED)
				fail_msg("seed %" PRIu64 " round %u vcpu %u: "
					 "quiesce: wrong alias of %#" PRIx64
					 ": %s", g_seed, round, i, gpa,
					 rcname(rc, o));
			if (!C.all_ops)
				continue;
			rc = tdxmmu_host_read(td, gpa + 8 * p, &val);
			if (rc || val != (v->model[p].shared
						  ? word_of(v->model[p].byte)
						  : 0))
				fail_msg("seed %" PRIu64 " round %u vcpu %u: "
					 "quiesce: host read of %s %#" PRIx64
					 ": %s, %#" PRIx64, g_seed, round, i,
					 v->model[p].shared ? "shared" : "private",
					 gpa, tdxmmu_strerror(rc), val);
		}
		if (C.all_ops &&
		    verify_page(td, v, alias(v, big_base(i), v->big.shared), BIG,
				v->big.byte, "quiesce big"))
			fail_msg("seed %" PRIu64 " round %u vcpu %u: %s", g_seed,
				 round, i, v->err);
	}
}

static void run_check(tdxmmu_td *td, unsigned round)
{
	static char report[65536];
	int n;

	report[0] = '\0';
	n = tdxmmu_check(td, report, sizeof(report));
	cnt(&g_mcnt, OPK_CHECK_QUIESCE);
	if (n != 0) {
		print_message("seed %" PRIu64 " round %u: check: %d violation(s)"
			      "\n%s", g_seed, round, n, report);
		fail_msg("seed %" PRIu64 " round %u: check failed", g_seed,
			 round);
	}
}

/* VmRSS and VmHWM of this process, in KiB (0 if unreadable). */
static void read_rss(uint64_t *rss, uint64_t *hwm)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "r");

	*rss = *hwm = 0;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long kb;

		if (sscanf(line, "VmRSS: %llu kB", &kb) == 1)
			*rss = kb;
		else if (sscanf(line, "VmHWM: %llu kB", &kb) == 1)
			*hwm = kb;
	}
	fclose(f);
}

/* The run's figures, over every TD so far. */
static struct {
	uint64_t start_ms, next_progress_ms;
	unsigned rounds;
	/* injected faults met by TDs already destroyed */
	uint64_t busy_hit, enomem_hit, retry_busy;
	tdxmmu_td *td; /* the current one, for the progress line */
	const char *combo;
	uint64_t rss_base_kb, rss_last_kb;
} R;

static void print_figures(const char *what)
{
	uint64_t tot[OPK_NR] = { 0 }, busy = R.busy_hit, enomem = R.enomem_hit;
	uint64_t retry = R.retry_busy, rss, hwm, v;
	char line[4096];
	size_t len = 0;

	for (int k = 0; k < OPK_NR; k++) {
		for (unsigned i = 0; i < TDXMMU_MAX_VCPUS; i++)
			tot[k] += atomic_load_explicit(&g_vcnt[i].n[k],
						       memory_order_relaxed);
		for (unsigned i = 0; i < MAX_HOSTS; i++)
			tot[k] += atomic_load_explicit(&g_hcnt[i].n[k],
						       memory_order_relaxed);
		tot[k] += atomic_load_explicit(&g_mcnt.n[k], memory_order_relaxed);
	}
	if (R.td) {
		if (!tdxmmu_counter(R.td, "inject.busy", &v))
			busy += v;
		if (!tdxmmu_counter(R.td, "inject.enomem", &v))
			enomem += v;
		if (!tdxmmu_counter(R.td, "retry.busy", &v))
			retry += v;
	}
	read_rss(&rss, &hwm);
	line[0] = '\0';
	for (int k = 0; k < OPK_NR && len < sizeof(line) - 64; k++)
		len += (size_t)snprintf(line + len, sizeof(line) - len, " %s=%" PRIu64,
					opk_name[k], tot[k]);
	print_message("stress %s: %.1f s, %u rounds, td %s; ops:%s; injected "
		      "faults hit: BUSY %" PRIu64 " (KVM retries %" PRIu64
		      "), ENOMEM %" PRIu64 "; rss %" PRIu64 " KiB, peak %" PRIu64
		      " KiB; seed %" PRIu64 "\n",
		      what, (double)(now_ms() - R.start_ms) / 1000.0, R.rounds,
		      R.combo ? R.combo : "-", line, busy, retry, enomem, rss, hwm,
		      g_seed);
}

static void progress_tick(void)
{
	if (!C.progress_ms || now_ms() < R.next_progress_ms)
		return;
	R.next_progress_ms = now_ms() + C.progress_ms;
	print_figures("progress");
}

/* One TD of the run: `ms` of rounds with this MMU and accept mode. */
static void run_td(enum tdxmmu_mmu_kind mmu, enum tdxmmu_accept_mode acc,
		   uint64_t ms, unsigned td_index)
{
	struct tdxmmu_td_config cfg;
	struct tdxmmu_destroy_report rep;
	static struct host_state hs[MAX_HOSTS];
	struct vcpu_state *vs;
	tdxmmu_td *td = NULL;
	unsigned nr_rounds = ms / C.round_ms > C.min_rounds
				     ? (unsigned)(ms / C.round_ms)
				     : C.min_rounds;
	uint64_t slice = ms / nr_rounds, td_end = now_ms() + ms;
	uint64_t vops = 0, conv = 0, blocked = 0, undef = 0, mmio = 0;
	uint64_t aug_injected = 0; /* AUGs issued while BUSY was injected */
	static char combo[64];

	if (slice == 0)
		slice = 1;
	vs = calloc(C.nr_vcpus, sizeof(*vs));
	assert_non_null(vs);
	snprintf(combo, sizeof(combo), "%u %s/%s", td_index,
		 mmu == TDXMMU_MMU_TDP ? "tdp" : "legacy",
		 acc == TDXMMU_ACCEPT_AUTO ? "auto" : "explicit");
	R.combo = combo;
	g_explicit = acc == TDXMMU_ACCEPT_EXPLICIT;
	tdxmmu_td_config_init(&cfg);
	cfg.nr_vcpus = C.nr_vcpus;
	cfg.seed = g_seed + td_index;
	cfg.mmu = mmu;
	cfg.accept = acc;
	assert_int_equal(tdxmmu_td_create(&cfg, &td), 0);
	assert_int_equal(tdxmmu_memslot_add(td, 0, 0, C.slot0_size), 0);
	assert_int_equal(tdxmmu_memslot_add(td, 1, C.slot1_base, C.slot1_size), 0);
	assert_int_equal(tdxmmu_td_finalize(td), 0);
	R.td = td;
	memset(hs, 0, sizeof(hs));
	for (unsigned k = 0; k < C.nr_hosts; k++) {
		hs[k].id = k;
		hs[k].td = td;
		hs[k].vs = vs;
		hs[k].cnt = &g_hcnt[k];
		hs[k].slot1_present = true;
		hs[k].rng = k == 0 ? splitmix((g_seed + td_index) ^ 0x4857)
				   : splitmix((g_seed + td_index) ^ (0x4857 + k)) | 1;
	}
	for (unsigned i = 0; i < C.nr_vcpus; i++) {
		vs[i].id = i;
		vs[i].rng = splitmix(g_seed + td_index + 1 + i) | 1;
		vs[i].sbit = tdxmmu_td_shared_bit(td);
		vs[i].cnt = &g_vcnt[i];
		assert_int_equal(pthread_mutex_init(&vs[i].lock, NULL), 0);
		/* After finalize, every page is private and reads zero. */
	}

	/* A long run is bounded by the clock too: quiesce points cost more
	 * under a sanitizer, and the run must end when asked. */
	for (unsigned round = 0;
	     round < nr_rounds && (round < C.min_rounds || now_ms() < td_end);
	     round++) {
		struct vcpus_run run = { .td = td, .vs = vs };
		uint64_t deadline = now_ms() + slice, rss, hwm, aug0 = 0, aug1 = 0;
		pthread_t tid, htid[MAX_HOSTS];

		for (unsigned i = 0; i < C.nr_vcpus; i++) {
			vs[i].deadline = deadline;
			vs[i].err[0] = '\0';
		}
		atomic_init(&run.done, false);
		assert_int_equal(tdxmmu_counter(td, "seamcall.TDH.MEM.PAGE.AUG", &aug0), 0);
		assert_int_equal(tdxmmu_inject_busy(td, C.busy_ppm), 0);
		if (C.enomem_ppm)
			assert_int_equal(tdxmmu_inject_enomem(td, TDXMMU_SITE_ALL,
							      C.enomem_ppm), 0);
		for (unsigned k = 0; k < C.nr_hosts; k++) {
			hs[k].deadline = deadline;
			hs[k].done = &run.done;
		}
		assert_int_equal(pthread_create(&tid, NULL, vcpus_thread, &run),
				 0);
		for (unsigned k = 1; k < C.nr_hosts; k++)
			assert_int_equal(pthread_create(&htid[k], NULL,
							host_thread, &hs[k]), 0);
		host_round(&hs[0], progress_tick);
		pthread_join(tid, NULL);
		for (unsigned k = 1; k < C.nr_hosts; k++)
			pthread_join(htid[k], NULL);
		/* Quiesce point. */
		assert_int_equal(tdxmmu_inject_off(td), 0);
		assert_int_equal(tdxmmu_counter(td, "seamcall.TDH.MEM.PAGE.AUG", &aug1), 0);
		aug_injected += aug1 - aug0;
		for (unsigned k = 0; k < C.nr_hosts; k++)
			if (hs[k].err[0])
				fail_msg("seed %" PRIu64 " td %s round %u: %s",
					 g_seed, combo, round, hs[k].err);
		if (run.rc)
			fail_msg("seed %" PRIu64 " round %u: tdxmmu_run_vcpus: "
				 "%s", g_seed, round, tdxmmu_strerror(run.rc));
		for (unsigned i = 0; i < C.nr_vcpus; i++)
			if (run.results[i])
				fail_msg("seed %" PRIu64 " td %s round %u vcpu %u "
					 "(after %" PRIu64 " ops): %s", g_seed,
					 combo, round, i, vs[i].ops, vs[i].err);
		run_check(td, round);
		verify_all(td, vs, round);
		run_check(td, round);
		R.rounds++;
		read_rss(&rss, &hwm);
		R.rss_last_kb = rss;
		if (!R.rss_base_kb && (now_ms() - R.start_ms) * 10 >= C.total_ms)
			R.rss_base_kb = rss;
		progress_tick();
	}

	for (unsigned i = 0; i < C.nr_vcpus; i++) {
		vops += vs[i].ops;
		conv += vs[i].conversions;
		blocked += vs[i].blocked_checks;
		undef += vs[i].undefined;
		mmio += vs[i].mmio;
		pthread_mutex_destroy(&vs[i].lock);
	}
	print_message("stress: td %s: %u rounds planned, vcpu ops %" PRIu64
		      " (conversions %" PRIu64 ", blocked checks %" PRIu64
		      ", undefined data %" PRIu64 ", mmio %" PRIu64 ")\n",
		      combo, nr_rounds, vops, conv, blocked, undef, mmio);
	/* The test must have exercised what it is for: BUSY answered and
	 * retried. The injection draws per SEAMCALL, and every injected BUSY
	 * on a fault's AUG is rolled back and counted in retry.busy; how many
	 * AUGs a run issues depends on the threads' interleaving (under
	 * valgrind most operations may hit the TLB), so the assertion is
	 * gated on the AUGs actually issued while BUSY was injected (not at
	 * the quiesce points), not on the operations: with
	 * 2000 of them at the default 2%, no BUSY at all has probability
	 * 0.98^2000, below 1e-17. Whether a shared table is freed through RCU
	 * while the vCPUs run depends on a vCPU linking one between two
	 * deletions, an interleaving valgrind's one-thread-at-a-time
	 * scheduling may never produce within the time budget: printed only
	 * here, and asserted by test_rcu_free_deterministic, which builds
	 * that sequence on one thread (issue 11, section 3). */
	{
		uint64_t busy = 0, rcu_freed = 0, aug = 0, hit = 0, enomem = 0;

		assert_int_equal(tdxmmu_counter(td, "retry.busy", &busy), 0);
		assert_int_equal(tdxmmu_counter(td, "mmu.pages.rcu_freed", &rcu_freed), 0);
		assert_int_equal(tdxmmu_counter(td, "seamcall.TDH.MEM.PAGE.AUG", &aug), 0);
		assert_int_equal(tdxmmu_counter(td, "inject.busy", &hit), 0);
		assert_int_equal(tdxmmu_counter(td, "inject.enomem", &enomem), 0);
		print_message("stress: td %s: seamcall.TDH.MEM.PAGE.AUG %" PRIu64
			      ", retry.busy %" PRIu64 ", mmu.pages.rcu_freed %"
			      PRIu64 ", inject.busy %" PRIu64 ", inject.enomem %"
			      PRIu64 "\n", combo, aug, busy, rcu_freed, hit, enomem);
		if (aug_injected >= 2000 && C.busy_ppm >= 20000)
			assert_true(busy > 0);
		R.busy_hit += hit;
		R.enomem_hit += enomem;
		R.retry_busy += busy;
	}
	R.td = NULL;
	memset(&rep, 0, sizeof(rep));
	if (tdxmmu_td_destroy(td, &rep))
		fail_msg("seed %" PRIu64 " td %s: destroy leaked: %s", g_seed,
			 combo, rep.message);
	free(vs);
}

static void test_stress(void **state)
{
	unsigned nr = 0, k = 0;

	(void)state;
	for (int m = 0; m < 2; m++)
		for (int a = 0; a < 2; a++)
			nr += C.mmu[m] && C.accept[a];
	R.start_ms = now_ms();
	R.next_progress_ms = R.start_ms + C.progress_ms;
	for (int m = 0; m < 2; m++)
		for (int a = 0; a < 2; a++)
			if (C.mmu[m] && C.accept[a])
				run_td(m ? TDXMMU_MMU_LEGACY : TDXMMU_MMU_TDP,
				       a ? TDXMMU_ACCEPT_EXPLICIT : TDXMMU_ACCEPT_AUTO,
				       C.total_ms / nr, k++);
	print_figures("summary");
	/* Memory stays flat: measured from the first tenth of the run on. */
	if (C.total_ms >= 60000 && R.rss_base_kb) {
		uint64_t bound = R.rss_base_kb + R.rss_base_kb / 10 +
				 C.rss_slack_mb * 1024;

		print_message("stress: rss after the first 10%%: %" PRIu64
			      " KiB, at the end: %" PRIu64 " KiB, bound %" PRIu64
			      " KiB\n", R.rss_base_kb, R.rss_last_kb, bound);
		if (R.rss_last_kb > bound)
			fail_msg("seed %" PRIu64 ": memory grew: rss %" PRIu64
				 " KiB after the first 10%% of the run, %" PRIu64
				 " KiB at the end (bound %" PRIu64 " KiB)",
				 g_seed, R.rss_base_kb, R.rss_last_kb, bound);
	}
}

/*
 * The stress test's RCU path, in order on one thread: a vCPU's read of slot
 * 1's shared alias links a shared table that holds nothing (the read is
 * blocked: the page is private), and deleting the slot frees that table
 * through call_rcu (mmu.pages.rcu_freed counts when it is queued). Then
 * the slot comes back and the same happens again, as in the stress test's
 * churn; destroy waits for the callbacks and checks nothing leaked.
 */
static void test_rcu_free_deterministic(void **state)
{
	struct tdxmmu_td_config cfg;
	struct tdxmmu_destroy_report rep;
	enum tdxmmu_outcome o;
	tdxmmu_td *td = NULL;
	uint64_t v, freed = 0;

	(void)state;
	tdxmmu_td_config_init(&cfg);
	cfg.seed = g_seed;
	assert_int_equal(tdxmmu_td_create(&cfg, &td), 0);
	assert_int_equal(tdxmmu_memslot_add(td, 0, 0, 4 * MiB), 0);
	assert_int_equal(tdxmmu_td_finalize(td), 0);
	for (uint64_t round = 1; round <= 3; round++) {
		assert_int_equal(tdxmmu_memslot_add(td, 1, 8 * MiB, SLOT1_MIN_SIZE), 0);
		assert_int_equal(tdxmmu_vcpu_read(td, 0, tdxmmu_td_shared_bit(td) | (8 * MiB),
						  &v, &o), 0);
		assert_int_equal(o, TDXMMU_OUTCOME_BLOCKED);
		assert_int_equal(tdxmmu_memslot_delete(td, 1), 0);
		assert_int_equal(tdxmmu_counter(td, "mmu.pages.rcu_freed", &freed), 0);
		assert_true(freed >= round);
	}
	memset(&rep, 0, sizeof(rep));
	if (tdxmmu_td_destroy(td, &rep))
		fail_msg("destroy leaked: %s", rep.message);
}

/* ---- configuration ---- */

static const char *env_or(const char *name, const char *def)
{
	const char *s = getenv(name);

	return s && *s ? s : def;
}

static uint64_t env_num(const char *name, uint64_t def, uint64_t min,
			uint64_t max)
{
	const char *s = getenv(name);
	char *end;
	unsigned long long v;

	if (!s || !*s)
		return def;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end || v < min || v > max) {
		fprintf(stderr, "test_stress: %s=%s: expected a number in [%llu, "
			"%llu]\n", name, s, (unsigned long long)min,
			(unsigned long long)max);
		exit(2);
	}
	return v;
}

/* "a", "b" or "both" -> which of the two. */
static void env_pair(const char *name, const char *def, const char *a,
		     const char *b, bool out[2])
{
	const char *s = env_or(name, def);

	out[0] = !strcmp(s, a) || !strcmp(s, "both");
	out[1] = !strcmp(s, b) || !strcmp(s, "both");
	if (!out[0] && !out[1]) {
		fprintf(stderr, "test_stress: %s=%s: expected %s, %s or both\n",
			name, s, a, b);
		exit(2);
	}
}

static uint64_t round_up(uint64_t x, uint64_t a)
{
	return (x + a - 1) / a * a;
}

static void configure(void)
{
	const char *s = getenv("TDXMMU_STRESS_SEED");
	const char *ops = env_or("TDXMMU_STRESS_OPS", STRESS_DEF_OPS);

	if (s && !strcmp(s, "random"))
		g_seed = splitmix((uint64_t)time(NULL) ^
				  ((uint64_t)clock() << 32));
	else
		g_seed = env_num("TDXMMU_STRESS_SEED", DEFAULT_SEED, 0, UINT64_MAX);
	C.total_ms = env_num("TDXMMU_STRESS_MS", STRESS_DEF_MS, 1, UINT64_MAX / 2);
	C.min_ops = env_num("TDXMMU_STRESS_MIN_OPS", STRESS_DEF_MIN_OPS, 0,
			    MAX_OPS_PER_ROUND);
	C.round_ms = env_num("TDXMMU_STRESS_ROUND_MS", ROUND_MS, 1, 3600000);
	C.min_rounds = (unsigned)env_num("TDXMMU_STRESS_ROUNDS",
					 STRESS_DEF_MIN_ROUNDS, 1, 1000000);
	C.nr_vcpus = (unsigned)env_num("TDXMMU_STRESS_VCPUS", STRESS_DEF_VCPUS, 1,
				       TDXMMU_MAX_VCPUS);
	C.nr_hosts = (unsigned)env_num("TDXMMU_STRESS_HOSTS", STRESS_DEF_HOSTS, 1,
				       MAX_HOSTS);
	env_pair("TDXMMU_STRESS_MMU", STRESS_DEF_MMU, "tdp", "legacy", C.mmu);
	env_pair("TDXMMU_STRESS_ACCEPT", STRESS_DEF_ACCEPT, "auto", "explicit",
		 C.accept);
	if (strcmp(ops, "basic") && strcmp(ops, "all")) {
		fprintf(stderr, "test_stress: TDXMMU_STRESS_OPS=%s: expected "
			"basic or all\n", ops);
		exit(2);
	}
	C.all_ops = !strcmp(ops, "all");
	C.busy_ppm = (uint32_t)env_num("TDXMMU_STRESS_BUSY_PPM",
				       STRESS_DEF_BUSY_PPM, 0, 1000000);
	/* 100% would fail every fault forever (outcome error): not a run. */
	C.enomem_ppm = (uint32_t)env_num("TDXMMU_STRESS_ENOMEM_PPM",
					 STRESS_DEF_ENOMEM_PPM, 0, 999999);
	C.progress_ms = 1000 * env_num("TDXMMU_STRESS_PROGRESS", 0, 0, 86400);
	C.rss_slack_mb = env_num("TDXMMU_STRESS_RSS_SLACK_MB", 16, 0, 1 << 20);
	/* Layout: every vCPU's regions in slot 0 (at least 4M, whole 2M
	 * blocks); slot 1 above it (at 8M or more), with a part of at least
	 * SLOT1_WORDS pages per vCPU. */
	C.stride = C.all_ops ? 4 * MiB : 1 * MiB;
	C.slot0_size = round_up(C.nr_vcpus * C.stride, BIG);
	if (C.slot0_size < 4 * MiB)
		C.slot0_size = 4 * MiB;
	C.slot1_base = C.slot0_size * 2 > 8 * MiB ? C.slot0_size * 2 : 8 * MiB;
	C.slot1_size = round_up(C.nr_vcpus * SLOT1_WORDS * PAGE, BIG);
	if (C.slot1_size < SLOT1_MIN_SIZE)
		C.slot1_size = SLOT1_MIN_SIZE;
	C.slot1_part = C.slot1_size / C.nr_vcpus;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rcu_free_deterministic),
		cmocka_unit_test(test_stress),
	};

	configure();
	print_message("stress seed %llu\n", (unsigned long long)g_seed);
	print_message("stress: %llu ms (TDXMMU_STRESS_MS), %u vCPUs, %u host "
		      "thread(s), mmu %s, accept %s, ops %s, BUSY %u ppm, ENOMEM "
		      "%u ppm; reproduce with TDXMMU_STRESS_SEED=%llu\n",
		      (unsigned long long)C.total_ms, C.nr_vcpus, C.nr_hosts,
		      C.mmu[0] && C.mmu[1] ? "both" : C.mmu[0] ? "tdp" : "legacy",
		      C.accept[0] && C.accept[1] ? "both"
		      : C.accept[0]              ? "auto" : "explicit",
		      C.all_ops ? "all" : "basic", C.busy_ppm, C.enomem_ppm,
		      (unsigned long long)g_seed);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
