/* SPDX-License-Identifier: MIT */
/*
 * The host pool's range free and range clear at the edges the earlier tests
 * left (coverage round 7, issue 14):
 *  - host_mem_free_range() checks the whole range before changing anything
 *    and names the FIRST frame already free, whichever record says so: a
 *    frame freed to the per-frame stack (its chunk's word says free), or a
 *    range starting inside a free range (test_host_mem.c's
 *    free_never_allocated covers a free range starting after the first
 *    frame). A double free is the caller's bug: host_bug(), abort;
 *  - host_frame_clear_range() across a chunk boundary (CHUNK_FRAMES = 512
 *    frames): every frame of both chunks gets the key and reads zero.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "host/host_mem.h"

#include "expect_abort.h"

#define POOL (8ULL << 20)
#define CHUNK 512 /* host_mem.c's CHUNK_FRAMES */
#define TD_KEY 40

static char want[128];

/* [p, p + 4) allocated as a range; p + 2 freed alone (to the stack: its
 * chunk's word now says free, no free range holds it); then the range is
 * freed whole. The check must name p + 2. */
static void free_range_over_stack_frame(void *arg)
{
	struct host_mem *hm = arg;
	pfn_t p = 0;

	assert_int_equal(host_mem_alloc_range(hm, 4, 1, &p), 0);
	snprintf(want, sizeof(want), "double free of pfn %#llx", (unsigned long long)(p + 2));
	host_frame_fill(hm, p + 2, 0x5a, TD_KEY); /* the frame has a word */
	host_mem_free_frame(hm, p + 2);
	fprintf(stderr, "expect: %s\n", want);
	host_mem_free_range(hm, p, 4);
}

/* A free range [p, p + 8) and then a free of [p + 3, p + 5): the first frame
 * is inside the free range (no chunk word for these frames: the range was
 * never touched). The check must name p + 3. */
static void free_range_inside_free_range(void *arg)
{
	struct host_mem *hm = arg;
	pfn_t p = 0;

	assert_int_equal(host_mem_alloc_range(hm, 8, 1, &p), 0);
	host_mem_free_range(hm, p, 8);
	snprintf(want, sizeof(want), "double free of pfn %#llx", (unsigned long long)(p + 3));
	fprintf(stderr, "expect: %s\n", want);
	host_mem_free_range(hm, p + 3, 2);
}

/* The child writes what it expects first, then aborts with host_bug()'s
 * message; the parent cannot know the pfn beforehand, so it checks both
 * lines name the same frame. */
static void expect_double_free(void (*fn)(void *), const char *what)
{
	struct host_mem *hm = host_mem_create(POOL);
	char buf[512] = { 0 };
	int fds[2], status;
	const char *exp, *got;
	char pfn[64];
	pid_t pid;
	ssize_t n;
	size_t len = 0;

	assert_non_null(hm);
	assert_int_equal(pipe(fds), 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(fds[1], 2);
		fn(hm);
		_exit(0);
	}
	close(fds[1]);
	while (len < sizeof(buf) - 1 && (n = read(fds[0], buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT)
		fail_msg("%s: no abort; stderr \"%s\"", what, buf);
	exp = strstr(buf, "expect: double free of pfn ");
	assert_non_null(exp);
	assert_int_equal(sscanf(exp, "expect: double free of pfn %63s", pfn), 1);
	got = strstr(buf, "host_mem: BUG: double free of pfn ");
	if (!got || strncmp(got + strlen("host_mem: BUG: double free of pfn "), pfn,
			    strlen(pfn)))
		fail_msg("%s: stderr \"%s\" does not name pfn %s", what, buf, pfn);
	/* The parent's pool was never touched by the child's calls. */
	assert_int_equal(host_mem_frames_in_use(hm), 0);
	host_mem_destroy(hm);
}

static void test_free_range_double_free_named(void **state)
{
	(void)state;
	expect_double_free(free_range_over_stack_frame, "stack frame");
	expect_double_free(free_range_inside_free_range, "inside a free range");
}

/* A range of 2 chunks + 2 frames, chunk-aligned start, filled with data under
 * the shared key, then cleared under TD_KEY from the middle of the first
 * chunk across the boundary into the second: every cleared frame has the key
 * and reads zero, the frames before and after are untouched. */
static void test_clear_range_across_chunks(void **state)
{
	struct host_mem *hm = host_mem_create(POOL);
	uint64_t n = 2 * CHUNK + 2, lo = CHUNK - 3, cnt = CHUNK + 5;
	uint8_t b = 0;
	bool poisoned = true;
	pfn_t p = 0;

	(void)state;
	assert_non_null(hm);
	assert_int_equal(host_mem_alloc_range(hm, n, CHUNK, &p), 0);
	for (uint64_t i = 0; i < n; i++)
		host_frame_fill(hm, p + i, 0x77, HOST_KEYID_SHARED);
	host_frame_clear_range(hm, p + lo, cnt, TD_KEY);
	for (uint64_t i = 0; i < n; i++) {
		bool in = i >= lo && i < lo + cnt;

		assert_int_equal(host_frame_keyid(hm, p + i), in ? TD_KEY : HOST_KEYID_SHARED);
		assert_int_equal(host_frame_is_zero(hm, p + i), in);
		host_frame_read(hm, p + i, PAGE_SIZE - 1, &b, 1,
				in ? TD_KEY : HOST_KEYID_SHARED, &poisoned);
		assert_false(poisoned);
		assert_int_equal(b, in ? 0 : 0x77);
	}
	host_mem_free_range(hm, p, n);
	assert_int_equal(host_mem_frames_in_use(hm), 0);
	host_mem_destroy(hm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_free_range_double_free_named),
		cmocka_unit_test(test_clear_range_across_chunks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
