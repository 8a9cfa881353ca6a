/* SPDX-License-Identifier: MIT */
/*
 * The exploration when the process runs out of something (issue 14's
 * failure paths of the explorer): memory for the explorer's own records
 * (the decision stack, the schedule's deviations, the scheduler's thread
 * tables and conflict maps, the explanation's replay and trace),
 * a thread for the parallel block's lane pool, a CPU affinity that cannot
 * be read or set; the lane pool after an execution abandoned (livelock).
 *
 * The library's calls to malloc, calloc, realloc, pthread_create,
 * open_memstream, pthread_getaffinity_np, pthread_setaffinity_np and
 * sched_getcpu are
 * linked to the __wrap_ functions below (-Wl,--wrap in tests/CMakeLists.txt);
 * libc's own, liburcu's and cmocka's are not.
 *
 * Memory is failed SQLite's way: the N-th allocation of a kind fails, for
 * N = 1, 2, ... until a search makes fewer than N. Every search of the loop
 * runs in this process, one after the other (the explorer is not
 * reentrant, and one search at a time is its contract): an exploration
 * serialises its threads, so the N-th allocation is the same one each time
 * the same search runs. Each answer must be the one without the failure (a
 * fallback absorbed it) or status 2 with a message that says what ran out
 * ("out of memory", ENOMEM); never a crash, never status 3 (running out is
 * not the model breaking), never a violation that is not one. Leaks are
 * the valgrind and ASan passes' to see (make test runs this program under
 * both). The searches are tiny (a two-lane race, two schedules), so the
 * loops end after some hundreds of runs.
 */
#include <elf.h>
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
#include <cmocka.h>

#include <tdxmmu/tdxmmu.h>

/* ---- the failing libc ---- */

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
int __real_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *),
			  void *arg);
int __real_pthread_getaffinity_np(pthread_t t, size_t size, cpu_set_t *set);
int __real_pthread_setaffinity_np(pthread_t t, size_t size, const cpu_set_t *set);
int __real_sched_getcpu(void);
FILE *__real_open_memstream(char **buf, size_t *len);
FILE *__wrap_open_memstream(char **buf, size_t *len);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t size);
int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *),
			  void *arg);
int __wrap_pthread_getaffinity_np(pthread_t t, size_t size, cpu_set_t *set);
int __wrap_pthread_setaffinity_np(pthread_t t, size_t size, const cpu_set_t *set);
int __wrap_sched_getcpu(void);

/* malloc, calloc and realloc count as one kind: the N-th allocation. */
enum kind { K_ALLOC, K_THREAD, K_STREAM, K_CHECK, K_NR };
static const char *const kind_names[K_NR] = { "allocation", "pthread_create",
					      "open_memstream", "check's allocation" };

/* The lane pool's workers and the explorer run one at a time (the
 * scheduler's baton), but the pool's workers are other threads: atomics. */
static atomic_bool armed;
static atomic_ulong calls[K_NR];
static atomic_ulong fail_at[K_NR]; /* 0: none */
static atomic_bool failed;

/*
 * Only the explorer's own calls count: those made by the code of
 * src/explore/explore.c, src/explore/sched.c and src/scenario/parallel.c.
 * The model's allocations under OOM are test_malloc_fail's (and the
 * emulated machine's metadata aborts by design when out of memory,
 * src/host/host_mem.c, src/tdx/pamt.c: failing those would end this
 * process). The caller is found by its return address in this program's
 * own symbol table (.symtab of /proc/self/exe): the functions listed under
 * those files' FILE symbols, and the library-wide ones they define
 * (sched_*, tdxmmu_explore*, run_parallel_block, scn_lane_pool_drain).
 */
struct range {
	uintptr_t lo, hi;
	bool check; /* src/api/check.c's, not the explorer's */
};
static struct range ranges[512];
static unsigned nr_ranges;

/* `check` after each explored block is the explorer's oracle: its
 * allocations (src/api/check.c) are failed as a kind of their own. */
static bool check_file(const char *name)
{
	return !strcmp(name, "check.c");
}

static bool explorer_file(const char *name)
{
	return !strcmp(name, "explore.c") || !strcmp(name, "sched.c") ||
	       !strcmp(name, "parallel.c");
}

static bool explorer_global(const char *name)
{
	return !strncmp(name, "sched_", 6) || !strncmp(name, "tdxmmu_explore", 14) ||
	       !strcmp(name, "run_parallel_block") || !strcmp(name, "scn_lane_pool_drain");
}

static void load_ranges(void)
{
	FILE *f = fopen("/proc/self/exe", "rb");
	const Elf64_Ehdr *eh;
	const Elf64_Shdr *sh;
	const Elf64_Sym *sym = NULL;
	const char *str = NULL;
	size_t nsym = 0, first_global = 0;
	uintptr_t bias = 0;
	bool have_bias = false, in_file = false, in_check = false;
	unsigned char *img;
	long len;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	len = ftell(f);
	assert_true(len > 0);
	rewind(f);
	img = malloc((size_t)len);
	assert_non_null(img);
	assert_int_equal(fread(img, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	eh = (const Elf64_Ehdr *)(const void *)img;
	assert_memory_equal(eh->e_ident, ELFMAG, SELFMAG);
	sh = (const Elf64_Shdr *)(const void *)(img + eh->e_shoff);
	for (unsigned i = 0; i < eh->e_shnum; i++)
		if (sh[i].sh_type == SHT_SYMTAB) {
			sym = (const Elf64_Sym *)(const void *)(img + sh[i].sh_offset);
			nsym = sh[i].sh_size / sizeof(*sym);
			first_global = sh[i].sh_info;
			str = (const char *)img + sh[sh[i].sh_link].sh_offset;
		}
	assert_non_null(sym); /* the test is built with its symbols */
	for (size_t i = 0; i < nsym; i++)
		if (!strcmp(str + sym[i].st_name, "tdxmmu_explore_string") &&
		    ELF64_ST_TYPE(sym[i].st_info) == STT_FUNC && sym[i].st_shndx != SHN_UNDEF) {
			bias = (uintptr_t)&tdxmmu_explore_string - sym[i].st_value;
			have_bias = true;
		}
	assert_true(have_bias);
	for (size_t i = 0; i < nsym; i++) {
		const char *name = str + sym[i].st_name;
		bool mine, check;

		if (ELF64_ST_TYPE(sym[i].st_info) == STT_FILE) {
			in_file = explorer_file(name);
			in_check = check_file(name);
			continue;
		}
		if (ELF64_ST_TYPE(sym[i].st_info) != STT_FUNC || !sym[i].st_size ||
		    sym[i].st_shndx == SHN_UNDEF)
			continue;
		/* The library's hidden globals are local in this program,
		 * listed after every file's own (under an unnamed FILE). */
		mine = (i < first_global && in_file) || explorer_global(name);
		check = (i < first_global && in_check) || !strcmp(name, "tdxmmu_check");
		if (!mine && !check)
			continue;
		assert_true(nr_ranges < sizeof(ranges) / sizeof(ranges[0]));
		ranges[nr_ranges++] = (struct range){ bias + sym[i].st_value,
						      bias + sym[i].st_value + sym[i].st_size,
						      !mine };
	}
	free(img);
	/* At least the entry points and the scheduler's start. */
	assert_true(nr_ranges >= 10);
}

/* 0: neither, 1: the explorer, 2: check.c. */
static int caller_of(const void *ra)
{
	uintptr_t a = (uintptr_t)ra;

	for (unsigned i = 0; i < nr_ranges; i++)
		if (a > ranges[i].lo && a <= ranges[i].hi)
			return ranges[i].check ? 2 : 1;
	return 0;
}

static bool fail_this(enum kind k, const void *ra)
{
	unsigned long n;
	int who;

	if (!atomic_load(&armed))
		return false;
	who = caller_of(ra);
	if (k == K_ALLOC && who == 2)
		k = K_CHECK;
	else if (who != 1)
		return false;
	n = atomic_fetch_add(&calls[k], 1) + 1;
	if (n != atomic_load(&fail_at[k]))
		return false;
	atomic_store(&failed, true);
	return true;
}

void *__wrap_malloc(size_t size)
{
	if (fail_this(K_ALLOC, __builtin_return_address(0))) {
		errno = ENOMEM;
		return NULL;
	}
	return __real_malloc(size);
}

void *__wrap_calloc(size_t n, size_t size)
{
	if (fail_this(K_ALLOC, __builtin_return_address(0))) {
		errno = ENOMEM;
		return NULL;
	}
	return __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t size)
{
	if (fail_this(K_ALLOC, __builtin_return_address(0))) {
		errno = ENOMEM;
		return NULL;
	}
	return __real_realloc(p, size);
}

int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *),
			  void *arg)
{
	if (fail_this(K_THREAD, __builtin_return_address(0)))
		return EAGAIN; /* the system's answer at its thread limit */
	return __real_pthread_create(t, a, fn, arg);
}

/* The explorer captures a scenario's output in memory streams. */
FILE *__wrap_open_memstream(char **buf, size_t *len)
{
	if (fail_this(K_STREAM, __builtin_return_address(0))) {
		errno = ENOMEM;
		return NULL;
	}
	return __real_open_memstream(buf, len);
}

/* CPU affinity: what the calls answer while a test says so. */
static int getaffinity_err;   /* != 0: pthread_getaffinity_np fails so */
static bool getaffinity_empty; /* it answers an empty set */
static int setaffinity_err;   /* != 0: pthread_setaffinity_np fails so */
static int getcpu_answer = -2; /* >= -1: sched_getcpu answers it */
static unsigned setaffinity_calls;
static cpu_set_t first_set; /* the first set asked for since reset */

int __wrap_pthread_getaffinity_np(pthread_t t, size_t size, cpu_set_t *set)
{
	if (getaffinity_err)
		return getaffinity_err;
	if (getaffinity_empty) {
		CPU_ZERO_S(size, set);
		return 0;
	}
	return __real_pthread_getaffinity_np(t, size, set);
}

int __wrap_pthread_setaffinity_np(pthread_t t, size_t size, const cpu_set_t *set)
{
	if (setaffinity_calls++ == 0)
		memcpy(&first_set, set, size < sizeof(first_set) ? size : sizeof(first_set));
	if (setaffinity_err)
		return setaffinity_err;
	return __real_pthread_setaffinity_np(t, size, set);
}

int __wrap_sched_getcpu(void)
{
	if (getcpu_answer >= -1)
		return getcpu_answer;
	return __real_sched_getcpu();
}

/* ---- the programs explored ---- */

/* Two vCPUs fault in their own private pages at once: many schedules, no
 * violation; the run after the block reads what the other lane wrote. */
static const char race[] =
	"td vcpus=2\n"
	"memslot 0 0 4M\n"
	"finalize\n"
	"parallel\n"
	"vcpu 0 write private:0x1000 1\n"
	"vcpu 1 write private:0x200000 2\n"
	"end\n"
	"vcpu 0 read private:0x200000 expect=2\n"
	"destroy\n";

/* The same race with a read after it that fails on every schedule: the
 * first schedule is a violation, found, its schedule written out and
 * explained step by step. */
static const char race_fails[] =
	"td vcpus=2\n"
	"memslot 0 0 4M\n"
	"finalize\n"
	"parallel\n"
	"vcpu 0 write private:0x1000 1\n"
	"vcpu 1 write private:0x200000 2\n"
	"end\n"
	"vcpu 0 read private:0x200000 expect=3\n"
	"destroy\n";

struct answer {
	int rc;
	uint64_t schedules, violations;
	char schedule[8192];
	char message[1024];
	char *explained;
};

static void explore(const char *text, const struct tdxmmu_explore_options *o, struct answer *a)
{
	static struct tdxmmu_explore_result r; /* 9 KiB: not on the stack */
	struct tdxmmu_explore_options opts = *o;
	size_t len = 0;
	FILE *f = NULL;

	a->explained = NULL;
	if (opts.explain) {
		f = open_memstream(&a->explained, &len);
		assert_non_null(f);
		opts.out = f;
	}
	memset(&r, 0, sizeof(r));
	a->rc = tdxmmu_explore_string("fail.tds", text, &opts, &r);
	if (f)
		fclose(f);
	a->schedules = r.schedules;
	a->violations = r.violations;
	snprintf(a->schedule, sizeof(a->schedule), "%s", r.schedule);
	snprintf(a->message, sizeof(a->message), "%s", r.message);
}

static void answer_free(struct answer *a)
{
	free(a->explained);
	a->explained = NULL;
}

static void arm(enum kind k, unsigned long n)
{
	for (int i = 0; i < K_NR; i++) {
		atomic_store(&calls[i], 0);
		atomic_store(&fail_at[i], 0);
	}
	atomic_store(&fail_at[k], n);
	atomic_store(&failed, false);
	atomic_store(&armed, true);
}

struct tally {
	unsigned same;      /* as without the failure: a fallback absorbed it */
	unsigned oom;       /* status 2, saying it ran out */
	unsigned explained; /* the same answer, the explanation saying what it lacks */
	unsigned trace_gap; /* ... of which: steps missing from the trace */
};

#define MAX_RUNS 64
static struct answer runs[MAX_RUNS];

/*
 * The search of @text under @o with the N-th explorer call of @k failing,
 * N = 1, 2, ... until a search makes fewer than N; without a failure it
 * answers @want_rc. @base_after: the plain
 * search runs after the loop, not before: the scheduler keeps some records
 * for the whole process (its thread table, conflict map, trace buffers),
 * made by the first search that needs them, so only a loop that runs
 * first sees those made (and failing).
 */
static struct tally every_n(const char *what, const char *text,
			    const struct tdxmmu_explore_options *o, enum kind k, bool base_after,
			    int want_rc)
{
	struct answer base;
	struct tally t = { 0 };
	unsigned nr = 0;
	bool plain_seen = false;

	if (!base_after)
		explore(text, o, &base);
	for (unsigned long n = 1; !plain_seen; n++) {
		assert_true(nr < MAX_RUNS);
		arm(k, n);
		explore(text, o, &runs[nr]);
		atomic_store(&armed, false);
		/* Fewer than n calls: the search is the plain one (checked
		 * below like the others: it must be "the same"). */
		plain_seen = !atomic_load(&failed);
		nr++;
	}
	if (base_after)
		explore(text, o, &base);
	if (base.rc != want_rc)
		fail_msg("%s: status %d without a failure, want %d: %s", what, base.rc, want_rc,
			 base.message);
	for (unsigned i = 0; i < nr; i++) {
		struct answer *a = &runs[i];
		bool same = a->rc == base.rc && !strcmp(a->message, base.message) &&
			    !strcmp(a->schedule, base.schedule) && a->schedules == base.schedules;

		if (same && (!a->explained || !strcmp(a->explained, base.explained))) {
			t.same++;
		} else if (same && a->explained &&
			   (strstr(a->explained, "then: the replay stopped:") ||
			    strstr(a->explained, "no explanation: out of memory") ||
			    strstr(a->explained, "steps are missing above: out of memory")) &&
			   (strstr(a->explained, "out of memory") || strstr(a->explained, "ENOMEM"))) {
			/* The violation stands; its explanation says it is
			 * not whole, and why. */
			t.explained++;
			if (strstr(a->explained, "steps are missing above"))
				t.trace_gap++;
		} else if (a->rc == 2 && (strstr(a->message, "out of memory") ||
					  strstr(a->message, "ENOMEM"))) {
			assert_int_equal(a->violations, 0);
			t.oom++;
		} else {
			if (a->explained)
				fprintf(stderr, "%s\n", a->explained);
			fail_msg("%s, %s %u failed: status %d, %" PRIu64 " schedules, schedule %s: %s (without the failure: status %d, %" PRIu64 " schedules, schedule %s: %s)",
				 what, kind_names[k], i + 1, a->rc, a->schedules, a->schedule,
				 a->message, base.rc, base.schedules, base.schedule, base.message);
		}
		answer_free(a);
	}
	/* The last one failed nothing: the plain answer. */
	assert_true(t.same > 0);
	answer_free(&base);
	print_message("%s, %s: %u runs: %u as without the failure, %u out of memory, %u explained as incomplete\n",
		      what, kind_names[k], nr, t.same, t.oom, t.explained);
	return t;
}

static void opts_small(struct tdxmmu_explore_options *o)
{
	tdxmmu_explore_options_init(o);
	o->cpu = TDXMMU_EXPLORE_CPU_ANY;
	o->preemptions = 1;
	o->max_schedules = 2;
}

/*
 * First in the program (cmocka runs the tests in order): the first search
 * of the process, which makes the scheduler's records. A violation found
 * on the first schedule and explained, so the trace buffers are made too.
 * Every allocation of the explorer fails in turn: the scheduler's thread
 * table and conflict map (the search cannot start: status 2), the lanes'
 * records and the pool's workers (ENOMEM from the block: status 2), the
 * decision stack (status 2), the explanation's lanes (the violation stands,
 * the explanation says its replay stopped) and its trace (the explanation
 * says steps are missing). Before the fix in sched_begin(), a conflict map
 * that could not be made leaked its twin on the next try.
 */
static int body_runs;

static int body(void *arg, char *msg, size_t size)
{
	(void)arg;
	(void)msg;
	(void)size;
	body_runs++;
	return 0;
}

static void test_first_search(void **state)
{
	static struct tdxmmu_explore_result r;
	struct tdxmmu_explore_options o;
	struct tally t;

	(void)state;
	opts_small(&o);
	/* A C program's search cannot start either: its body never runs. */
	arm(K_ALLOC, 1);
	assert_int_equal(tdxmmu_explore(body, NULL, &o, &r), 2);
	atomic_store(&armed, false);
	assert_true(atomic_load(&failed));
	assert_non_null(strstr(r.message, "cannot start an execution: out of memory"));
	assert_int_equal(body_runs, 0);
	o.explain = true;
	t = every_n("first search, explained", race_fails, &o, K_ALLOC, true, 1);
	assert_true(t.oom >= 4);
	assert_true(t.trace_gap >= 1);
	assert_true(t.explained >= 1);
	/* And the C program's search now runs. */
	assert_int_equal(tdxmmu_explore(body, NULL, &o, &r), 0);
	assert_int_equal(r.schedules, 1);
	assert_true(r.executions >= 1); /* once per preemption level */
	assert_int_equal(body_runs, r.executions);
}

/* A bounded search (DFS, two schedules: the second deviates from the
 * default) that finds nothing: its decision stack, its schedule's
 * deviations, the lanes' records and workers each fail in turn. */
static void test_bounded_search(void **state)
{
	struct tdxmmu_explore_options o;

	(void)state;
	opts_small(&o);
	assert_true(every_n("bounded", race, &o, K_ALLOC, false, 0).oom >= 4);
}

/*
 * Random schedules: a schedule whose deviations could not all be recorded
 * must not be reported (before the fix, the search went on, and a violation
 * found then got a schedule that lacked deviations: a replay of it ran
 * another schedule). Now out of memory, status 2.
 */
static void test_random_search(void **state)
{
	struct tdxmmu_explore_options o;

	(void)state;
	opts_small(&o);
	o.random = 2;
	o.seed = 1;
	assert_true(every_n("random", race, &o, K_ALLOC, false, 0).oom >= 4);
	o.seed = 3;
	assert_true(every_n("random, violation", race_fails, &o, K_ALLOC, false, 1).oom >= 3);
}

/* A replay, explained: the replay's own records and then the
 * explanation's. */
static void test_replay(void **state)
{
	struct tdxmmu_explore_options o;
	struct tally t;

	(void)state;
	opts_small(&o);
	o.replay = "1:2";
	o.explain = true;
	t = every_n("replay", race_fails, &o, K_ALLOC, false, 1);
	assert_true(t.oom >= 2);
	/* The replay's schedule could not be read again for the explanation
	 * (it says there is none), its lanes or its deviations could not be
	 * had (it says where the replay stopped). */
	assert_true(t.explained >= 3);
}

/*
 * The lane pool's threads: the block's first or second worker cannot be
 * made (EAGAIN, the system's thread limit): the block stops with ENOMEM
 * and the search with status 2, naming it; the workers made are joined
 * (the pool is drained at the search's end: no thread left behind, which
 * valgrind and ASan would see as leaked stacks).
 */
/* The streams that capture the scenario's output: the first or the second
 * cannot be made: status 2, out of memory, the other one closed. */
static void test_capture_streams(void **state)
{
	struct tdxmmu_explore_options o;

	(void)state;
	opts_small(&o);
	assert_int_equal(every_n("capture", race, &o, K_STREAM, false, 0).oom, 2);
}

/*
 * `check` after an explored block (parallel.c check_after_block()) that
 * cannot allocate its maps: the schedule was not checked, so the search
 * cannot say it held; status 2 with check's ENOMEM. Before, the answer
 * was ignored (only a violation count or EBUG counted): the search went on
 * and answered "no violation" for schedules nobody checked.
 */
static void test_check_after_block(void **state)
{
	struct tdxmmu_explore_options o;

	(void)state;
	opts_small(&o);
	assert_true(every_n("check after the block", race, &o, K_CHECK, false, 0).oom >= 1);
}

static void test_pool_threads(void **state)
{
	struct tdxmmu_explore_options o;

	(void)state;
	opts_small(&o);
	assert_int_equal(every_n("pool threads", race, &o, K_THREAD, false, 0).oom, 2);
	o.explain = true;
	assert_int_equal(every_n("pool threads, violation", race_fails, &o, K_THREAD, false, 1).oom, 2);
}

/*
 * The lane pool after an abandoned execution (parallel.c): the first block
 * runs two lanes (two pooled workers); the second runs one lane that goes
 * over the step budget (a livelock, told by its name: vcpu1 is not in the
 * first block), whose worker stays parked for good and leaves the pool,
 * while the other worker stays in it, moved to the front. The search ends
 * (its end joins the pool's workers: a parked one kept there would never
 * be joined) and the next search works with a pool made afresh; the kept
 * worker is joined and freed (valgrind and ASan would see it otherwise).
 */
static const char pool_livelock[] =
	"td vcpus=2\n"
	"memslot 0 0 4M\n"
	"finalize\n"
	"vcpu 0 write private:0x1000 1\n"
	"parallel\n"
	"vcpu 0 read private:0x1000 expect=1\n"
	"host zap shared:0x300000 4K\n"
	"end\n"
	"parallel\n"
	"vcpu 1 write private:0x5000 1\n"
	"end\n"
	"destroy\n";

static void test_pool_after_abandoned(void **state)
{
	struct tdxmmu_explore_options o;
	struct answer a;

	(void)state;
	opts_small(&o);
	/* The first block's lanes take fewer than 40 steps each, the second
	 * block's fault more than 80 (measured); 60 is between. */
	o.step_budget = 60;
	explore(pool_livelock, &o, &a);
	assert_int_equal(a.rc, 1);
	assert_int_equal(a.violations, 1);
	assert_non_null(strstr(a.message, "livelock: vcpu1 took 60 steps in one block"));
	o.step_budget = 0;
	explore(race, &o, &a);
	assert_int_equal(a.rc, 0);
	assert_int_equal(a.schedules, 2);
}

/*
 * CPU affinity (explore.c pin_search()): pinning is an optimisation, so
 * with TDXMMU_EXPLORE_CPU_AUTO a set that cannot be read, or a pin that
 * cannot be made, leaves the search unpinned and its answer the same; a
 * CPU asked for by number is a promise, so the same failures are status 2
 * saying which. A CPU the caller is on but may not use (a stale
 * sched_getcpu() answer) or none at all (-1): not pinned. A shard pins to
 * the shard-th allowed CPU. An empty set (no kernel gives one) is treated
 * as unreadable: before, a sharded search divided by its count of CPUs.
 */
static void reset_affinity(void)
{
	getaffinity_err = 0;
	getaffinity_empty = false;
	setaffinity_err = 0;
	getcpu_answer = -2;
	setaffinity_calls = 0;
	CPU_ZERO(&first_set);
}

static void test_affinity(void **state)
{
	struct tdxmmu_explore_options o;
	struct answer a;
	cpu_set_t allowed;
	int cpu0 = -1, other = -1;

	(void)state;
	assert_int_equal(pthread_getaffinity_np(pthread_self(), sizeof(allowed), &allowed), 0);
	for (int c = 0; c < CPU_SETSIZE; c++) {
		if (CPU_ISSET(c, &allowed) && cpu0 < 0)
			cpu0 = c;
		if (!CPU_ISSET(c, &allowed) && other < 0)
			other = c;
	}
	assert_true(cpu0 >= 0 && other >= 0);
	opts_small(&o);
	o.cpu = TDXMMU_EXPLORE_CPU_AUTO;

	/* The set cannot be read. */
	reset_affinity();
	getaffinity_err = EINVAL;
	explore(race, &o, &a);
	assert_int_equal(a.rc, 0);
	assert_int_equal(a.schedules, 2);
	assert_int_equal(setaffinity_calls, 0);
	o.cpu = TDXMMU_EXPLORE_CPU(cpu0);
	explore(race, &o, &a);
	assert_int_equal(a.rc, 2);
	assert_int_equal(a.schedules, 0);
	assert_non_null(strstr(a.message, "cannot read this thread's CPU affinity"));

	/* An empty set: the same, sharded or not. */
	reset_affinity();
	getaffinity_empty = true;
	explore(race, &o, &a);
	assert_int_equal(a.rc, 2);
	assert_non_null(strstr(a.message, "cannot read this thread's CPU affinity"));
	o.cpu = TDXMMU_EXPLORE_CPU_AUTO;
	o.nr_shards = 2;
	o.shard = 1;
	explore(race, &o, &a);
	assert_int_equal(a.rc, 0);
	assert_int_equal(setaffinity_calls, 0);
	o.nr_shards = 1;
	o.shard = 0;

	/* The pin cannot be made. */
	reset_affinity();
	setaffinity_err = EPERM;
	explore(race, &o, &a);
	assert_int_equal(a.rc, 0);
	assert_int_equal(a.schedules, 2);
	assert_int_equal(setaffinity_calls, 1); /* tried once, never undone */
	o.cpu = TDXMMU_EXPLORE_CPU(cpu0);
	explore(race, &o, &a);
	assert_int_equal(a.rc, 2);
	assert_int_equal(a.schedules, 0);
	{
		char want[64];

		snprintf(want, sizeof(want), "cpu %d: cannot pin to it", cpu0);
		assert_string_equal(a.message, want);
	}
	o.cpu = TDXMMU_EXPLORE_CPU_AUTO;

	/* The CPU the caller is on: none, or one it may not use. */
	reset_affinity();
	getcpu_answer = -1;
	explore(race, &o, &a);
	assert_int_equal(a.rc, 0);
	assert_int_equal(setaffinity_calls, 0);
	getcpu_answer = other;
	explore(race, &o, &a);
	assert_int_equal(a.rc, 0);
	assert_int_equal(setaffinity_calls, 0);
	/* One it may use: pinned to it alone, and unpinned at the end. */
	getcpu_answer = cpu0;
	explore(race, &o, &a);
	assert_int_equal(a.rc, 0);
	assert_int_equal(setaffinity_calls, 2);
	assert_int_equal(CPU_COUNT(&first_set), 1);
	assert_true(CPU_ISSET(cpu0, &first_set));
	reset_affinity();
}

static int setup(void **state)
{
	(void)state;
	load_ranges();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_search),
		cmocka_unit_test(test_bounded_search),
		cmocka_unit_test(test_random_search),
		cmocka_unit_test(test_replay),
		cmocka_unit_test(test_pool_threads),
		cmocka_unit_test(test_capture_streams),
		cmocka_unit_test(test_check_after_block),
		cmocka_unit_test(test_pool_after_abandoned),
		cmocka_unit_test(test_affinity),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
