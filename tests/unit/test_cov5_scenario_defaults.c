/* SPDX-License-Identifier: MIT */
/*
 * tdxmmu_run_string() with options that leave a stream out (NULL out or
 * err), or with no options: the run writes to the process's stdout and stderr, as documented
 * in tdxmmu.h, and not nowhere (issue 14, coverage round 5). The file
 * descriptors 1 and 2 are pointed at temporary files for the call and
 * read back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tdxmmu/tdxmmu.h>

struct captured {
	char out[4096], err[4096];
};

static void read_back(FILE *f, char *buf, size_t size)
{
	size_t n;

	rewind(f);
	n = fread(buf, 1, size - 1, f);
	buf[n] = '\0';
	fclose(f);
}

/* Runs text with opts, fds 1 and 2 captured; returns the run's status. */
static int run_captured(const char *text, const struct tdxmmu_run_options *opts,
			struct captured *c)
{
	FILE *fo = tmpfile(), *fe = tmpfile();
	int saved_out, saved_err, status;

	assert_non_null(fo);
	assert_non_null(fe);
	fflush(stdout);
	fflush(stderr);
	saved_out = dup(1);
	saved_err = dup(2);
	assert_true(saved_out >= 0 && saved_err >= 0);
	assert_true(dup2(fileno(fo), 1) >= 0);
	assert_true(dup2(fileno(fe), 2) >= 0);
	status = tdxmmu_run_string("t.tds", text, opts);
	fflush(stdout);
	fflush(stderr);
	assert_true(dup2(saved_out, 1) >= 0);
	assert_true(dup2(saved_err, 2) >= 0);
	close(saved_out);
	close(saved_err);
	read_back(fo, c->out, sizeof(c->out));
	read_back(fe, c->err, sizeof(c->err));
	return status;
}

static void test_null_streams_are_stdout_and_stderr(void **state)
{
	struct tdxmmu_run_options o = { .quiet = true };
	struct captured c;

	(void)state;
	/* A failed expectation: the run's lines go to stdout. */
	assert_int_equal(run_captured("td\nmemslot 0 0 4M\nexpect-sept 0 MAPPED\ndestroy\n", &o, &c), 1);
	assert_string_equal(c.out, "t.tds:3: FAIL: expect-sept 0 MAPPED (actual FREE)\n"
				   "1 passed, 1 failed\n");
	assert_string_equal(c.err, "");
	/* A parse error: to stderr. */
	assert_int_equal(run_captured("td\nfrob\n", &o, &c), 2);
	assert_string_equal(c.out, "");
	assert_string_equal(c.err, "t.tds:2:1: error: unknown command 'frob'\n");
	/* No options at all: the same streams, not quiet. */
	assert_int_equal(run_captured("td\nexpect-sept 0 FREE\n", NULL, &c), 0);
	assert_string_equal(c.out, "t.tds:1: td -> created (mmu=tdp gpaw=48 vcpus=1 accept=auto seed=1)\n"
				   "t.tds:2: expect-sept 0 FREE -> FREE\n"
				   "1 passed, 0 failed\n");
	assert_string_equal(c.err, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_null_streams_are_stdout_and_stderr),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
