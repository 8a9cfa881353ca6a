/* SPDX-License-Identifier: MIT */
/*
 * Failure of the process's own allocations (malloc and friends), SQLite's
 * out-of-memory test: fail the N-th allocation the library makes, N = 1, 2,
 * ..., until a run makes fewer than N. The `inject enomem` words cover what
 * KVM allocates for the guest (page-table pages, S-EPT pages, frames, rmap,
 * the arena: test_inject_sites); this covers everything else, the model's
 * own bookkeeping: the scenario parser's token and command arrays, the
 * runner's reports, `show`'s view, `check`'s maps, the TD's structures.
 *
 * The library's calls to malloc, calloc, realloc, aligned_alloc,
 * posix_memalign and strndup are linked to the __wrap_ functions below
 * (-Wl,--wrap in tests/CMakeLists.txt); libc's own and cmocka's are not.
 *
 * Each run must either give exactly what it gives without the failure (the
 * failed allocation's caller had a fallback) or stop with "out of memory":
 * exit status 2 for a scenario, TDXMMU_ENOMEM from the API, with no crash,
 * no exit 3 (an allocation failure is never the model breaking), and what
 * was printed before the error is a prefix of the run without it. Leaks are
 * the valgrind and ASan passes' to see (make test runs this program under
 * both). TD creation is included: a failure there ends in ENOMEM and
 * kvm_create_vm() takes apart the half-built TD (it used to be left out:
 * KVM left that TD with the module, and the module's own allocation in
 * TDH.MNG.CREATE answered TDX_SYS_BUSY, which the API reported as the
 * model's bug). Workloads have no parallel block, so the N-th allocation is the
 * same one in every run (deterministic).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "api_fixture.h"

#include <tdxmmu/tdxmmu.h>

/* ---- the failing allocator ---- */

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
void *__real_aligned_alloc(size_t align, size_t size);
int __real_posix_memalign(void **p, size_t align, size_t size);
char *__real_strndup(const char *s, size_t n);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t size);
void *__wrap_aligned_alloc(size_t align, size_t size);
int __wrap_posix_memalign(void **p, size_t align, size_t size);
char *__wrap_strndup(const char *s, size_t n);

/* In memory shared with the parent: each run happens in a child process
 * (below), and the parent learns whether the armed allocation was reached. */
struct fail_state {
	atomic_bool armed, failed;
	atomic_ulong calls, fail_at;
};
static struct fail_state *fs;

static bool fail_this(void)
{
	unsigned long n;

	if (!fs || !atomic_load(&fs->armed))
		return false;
	n = atomic_fetch_add(&fs->calls, 1) + 1;
	if (n != atomic_load(&fs->fail_at))
		return false;
	atomic_store(&fs->failed, true);
	return true;
}

void *__wrap_malloc(size_t size)
{
	if (fail_this()) {
		errno = ENOMEM;
		return NULL;
	}
	return __real_malloc(size);
}

void *__wrap_calloc(size_t n, size_t size)
{
	if (fail_this()) {
		errno = ENOMEM;
		return NULL;
	}
	return __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t size)
{
	if (fail_this()) {
		errno = ENOMEM;
		return NULL;
	}
	return __real_realloc(p, size);
}

void *__wrap_aligned_alloc(size_t align, size_t size)
{
	if (fail_this()) {
		errno = ENOMEM;
		return NULL;
	}
	return __real_aligned_alloc(align, size);
}

int __wrap_posix_memalign(void **p, size_t align, size_t size)
{
	if (fail_this())
		return ENOMEM;
	return __real_posix_memalign(p, align, size);
}

char *__wrap_strndup(const char *s, size_t n)
{
	if (fail_this()) {
		errno = ENOMEM;
		return NULL;
	}
	return __real_strndup(s, n);
}

/* ---- scenarios ---- */

/*
 * Each run is a child process: the parent never starts the library, so each
 * child starts from the same state (liburcu's call_rcu thread, the first
 * allocations of the thread slots, are made in the child), and a child that
 * aborts is seen, not fatal. The metadata of the emulated hardware (host
 * memory's frame radix and free ranges, the PAMT's tables) is allocated on
 * first use and aborts when out of memory, by design (src/host/host_mem.c,
 * src/tdx/pamt.c: the model does not model running out of memory for its
 * own emulation of the machine); such a child ends in SIGABRT with that
 * message and counts as "not modeled", nothing more.
 */
struct captured {
	int rc;          /* exit status, or -signal */
	bool hit;        /* the armed allocation was reached */
	char *out, *err, *diag;
};

/* The captured output lives in memory mapped for it, not on the heap: a
 * child inherits the parent's heap, and its leak check (ASan's) would
 * count the parent's buffers, which it never frees, as its leaks. */
static char *slurp(FILE *f)
{
	long n;
	char *buf;

	fflush(f);
	n = ftell(f);
	assert_true(n >= 0);
	buf = mmap(NULL, (size_t)n + 1, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(buf != MAP_FAILED);
	rewind(f);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void run_captured(const char *name, const char *text, unsigned long fail_at,
			 struct captured *c)
{
	FILE *out = tmpfile(), *err = tmpfile(), *diag = tmpfile();
	int status;
	pid_t pid;

	assert_non_null(out);
	assert_non_null(err);
	assert_non_null(diag);
	atomic_store(&fs->calls, 0);
	atomic_store(&fs->fail_at, fail_at);
	atomic_store(&fs->failed, false);
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct tdxmmu_run_options opts = { .out = out, .err = err };
		int rc;

		dup2(fileno(diag), 2);
		atomic_store(&fs->armed, fail_at != 0);
		rc = tdxmmu_run_string(name, text, &opts);
		atomic_store(&fs->armed, false);
		fflush(out);
		fflush(err);
		exit(rc); /* exit, not _exit: coverage and leak checks run */
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	c->rc = WIFEXITED(status) ? WEXITSTATUS(status)
		: WIFSIGNALED(status) ? -WTERMSIG(status) : -1000;
	c->hit = atomic_load(&fs->failed);
	c->out = slurp(out);
	c->err = slurp(err);
	c->diag = slurp(diag);
}

static void captured_free(struct captured *c)
{
	munmap(c->out, strlen(c->out) + 1);
	munmap(c->err, strlen(c->err) + 1);
	munmap(c->diag, strlen(c->diag) + 1);
}

/* The complete lines of @part are the first lines of @whole. */
static bool lines_prefix(const char *part, const char *whole)
{
	const char *nl = strrchr(part, '\n');
	size_t n = nl ? (size_t)(nl - part) + 1 : 0;

	return strncmp(part, whole, n) == 0;
}

/* The emulated machine's metadata, which aborts by design (above). */
static bool machine_metadata_abort(const struct captured *c)
{
	return c->rc == -SIGABRT &&
	       (strstr(c->diag, "host_mem: BUG: out of memory for") ||
		strstr(c->diag, "tdx: out of memory for the PAMT"));
}

struct every_n {
	unsigned runs, same, oom, machine;
};

/* Runs the scenario with the N-th allocation failing for every N. */
static struct every_n scenario_every_n(const char *name, const char *text, int want_rc)
{
	struct captured base = { 0 };
	struct every_n r = { 0 };

	run_captured(name, text, 0, &base);
	if (base.rc != want_rc)
		fail_msg("%s: exit %d without a failure, want %d\n%s%s%s", name,
			 base.rc, want_rc, base.out, base.err, base.diag);
	for (unsigned long n = 1;; n++) {
		struct captured c = { 0 };

		run_captured(name, text, n, &c);
		r.runs++;
		if (!c.hit) {
			/* Fewer than n allocations: the run is the plain one. */
			assert_int_equal(c.rc, base.rc);
			assert_string_equal(c.out, base.out);
			captured_free(&c);
			break;
		}
		if (c.rc == base.rc && !strcmp(c.out, base.out) &&
		    !strcmp(c.err, base.err)) {
			r.same++; /* a fallback absorbed it */
		} else if (machine_metadata_abort(&c)) {
			r.machine++;
		} else if (c.rc == 2 && (strstr(c.err, "out of memory") ||
					 strstr(c.err, "ENOMEM"))) {
			/* The run stopped at the command that could not
			 * allocate: what it printed is the plain run's start. */
			r.oom++;
			if (!lines_prefix(c.out, base.out))
				fail_msg("%s, allocation %lu failed: printed what the run without the failure does not:\n%s",
					 name, n, c.out);
		} else if (c.rc == 1 && strstr(c.out, "(actual error ENOMEM")) {
			/* A check command (check, expect-spte, show's view)
			 * that could not allocate is a failed check, and the
			 * run goes on (contract: an API error on a check). */
			r.oom++;
		} else {
			/* cmocka cuts long messages: the whole run first. */
			fprintf(stderr, "%s\n%s\n%s\n", c.out, c.err, c.diag);
			fail_msg("%s, allocation %lu failed: exit %d (want %d and the same output as without the failure, 2 with \"out of memory\" or ENOMEM, or 1 with a check failed by ENOMEM)",
				 name, n, c.rc, base.rc);
		}
		captured_free(&c);
	}
	captured_free(&base);
	print_message("%s: %u runs: %u as without the failure, %u out of memory, %u machine metadata\n",
		      name, r.runs, r.same, r.oom, r.machine);
	return r;
}

/* Parse-time arrays: many commands and tokens, counters with names, an
 * expect-count, a parallel block's lanes; the last line is a parse error, so
 * nothing runs (parallel blocks run on threads: not deterministic). */
static const char parse_only[] =
	"td vcpus=2 memory=16M\n"
	"memslot 0 0 4M\n"
	"memslot 1 0x400000 4M\n"
	"add private:0x0 fill=0x11\n"
	"add private:0x1000 fill=0x22\n"
	"finalize\n"
	"vcpu 0 read private:0x0 expect=0x1111111111111111\n"
	"vcpu 1 read private:0x1000 expect=0x2222222222222222\n"
	"vcpu 0 write private:0x2000 0x55\n"
	"expect-count seamcall.TDH.MEM.PAGE.ADD=2 seamcall.TDH.MEM.PAGE.AUG=1 fault.private=1\n"
	"parallel\n"
	"vcpu 0 write private:0x3000 1\n"
	"vcpu 1 write private:0x4000 2\n"
	"host zap private:0x3000 4K\n"
	"end\n"
	"parallel\n"
	"vcpu 0 write private:0x5000 1\n"
	"end\n"
	"destroy\n"
	"no-such-command\n";

/* A run with a failed check (exit 1) and counters. */
static const char run_checks[] =
	"td vcpus=2 memory=16M\n"
	"memslot 0 0 4M\n"
	"add private:0x0 fill=0x11\n"
	"finalize\n"
	"vcpu 1 read private:0x0 expect=0x1111111111111111\n"
	"vcpu 0 write private:0x2000 0x55\n"
	"expect-count seamcall.TDH.MEM.PAGE.ADD=1 seamcall.TDH.MEM.PAGE.AUG=1 fault.private=1\n"
	"vcpu 0 read private:0x2000 expect=0x56\n"
	"destroy\n";

/* The runner's views: show (both MMUs), expect-spte and expect-sept at
 * several levels, counters, check, destroy. */
static const char views_tdp[] =
	"td memory=16M\n"
	"memslot 0 0 4M\n"
	"finalize\n"
	"vcpu 0 write private:0x1000 7\n"
	"vcpu 0 mapgpa shared:0x2000 4K\n"
	"vcpu 0 write shared:0x2000 9\n"
	"show 0x1000 8K\n"
	"expect-spte 0x1000 private=present shared=nonpresent\n"
	"expect-spte 0x1000 private=present level=2M\n"
	"expect-sept 0x1000 MAPPED\n"
	"host zap private:0x1000 4K\n"
	"expect-spte 0x1000 private=nonpresent\n"
	"counters\n"
	"check\n"
	"destroy\n";

static const char views_legacy[] =
	"td mmu=legacy memory=16M\n"
	"memslot 0 0 4M\n"
	"finalize\n"
	"vcpu 0 write private:0x1000 7\n"
	"vcpu 0 mapgpa shared:0x2000 4K\n"
	"vcpu 0 write shared:0x2000 9\n"
	"show 0x1000 8K\n"
	"expect-spte 0x1000 private=present shared=nonpresent\n"
	"host invalidate 0x1000 4K\n"
	"vcpu 0 read private:0x1000 outcome=ok\n"
	"check\n"
	"destroy\n";

static void test_scenario_parse(void **state)
{
	(void)state;
	assert_true(scenario_every_n("parse_only.tds", parse_only, 2).oom > 0);
}

static void test_scenario_run_checks(void **state)
{
	(void)state;
	/* The read expecting 0x56 fails: exit 1 without injection. */
	assert_true(scenario_every_n("run_checks.tds", run_checks, 1).oom > 0);
}

static void test_scenario_views_tdp(void **state)
{
	(void)state;
	assert_true(scenario_every_n("views_tdp.tds", views_tdp, 0).oom > 0);
}

static void test_scenario_views_legacy(void **state)
{
	(void)state;
	assert_true(scenario_every_n("views_legacy.tds", views_legacy, 0).oom > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scenario_parse),
		cmocka_unit_test(test_scenario_run_checks),
		cmocka_unit_test(test_scenario_views_tdp),
		cmocka_unit_test(test_scenario_views_legacy),
	};

	fs = mmap(NULL, sizeof(*fs), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (fs == MAP_FAILED)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
