/* SPDX-License-Identifier: MIT */
/*
 * The benchmark code (tools/tdxmmu/bench_*.c) on small sizes: the counts it
 * reports match the model's counters, the JSON document parses and has the
 * documented fields, cost overrides reach the modeled time, and bad options
 * give a clear message and exit status 2. Nothing here times anything.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "bench.h"

/* argv strings: getopt never writes them. */
#define MUT(s) ((char *)(uintptr_t)(s))

/* Runs `bench ARGS...` through bench_main; returns its exit status and
 * hands back what it printed. */
static int run_main(char **out, char **err, ...)
{
	char *argv[32];
	int argc = 0, ret;
	size_t olen, elen;
	FILE *fo, *fe;
	va_list ap;

	argv[argc++] = MUT("bench");
	va_start(ap, err);
	for (const char *a; (a = va_arg(ap, const char *));)
		argv[argc++] = MUT(a);
	va_end(ap);
	argv[argc] = NULL;
	fo = open_memstream(out, &olen);
	fe = open_memstream(err, &elen);
	assert_non_null(fo);
	assert_non_null(fe);
	ret = bench_main(argc, argv, fo, fe);
	fclose(fo);
	fclose(fe);
	return ret;
}

/* Parses the options and runs the workload: the JSON document. */
static json_t *run_doc(const char *first, ...)
{
	char *argv[32], *errbuf = NULL;
	struct bench_opts o;
	size_t elen;
	json_t *doc = NULL;
	va_list ap;
	bool help;
	int argc = 0;
	FILE *fe = open_memstream(&errbuf, &elen);

	argv[argc++] = MUT("bench");
	argv[argc++] = MUT(first);
	va_start(ap, first);
	for (const char *a; (a = va_arg(ap, const char *));)
		argv[argc++] = MUT(a);
	va_end(ap);
	argv[argc] = NULL;
	assert_int_equal(bench_parse(argc, argv, &o, &help, fe), 0);
	assert_int_equal(bench_run(&o, &doc, fe), 0);
	fclose(fe);
	if (errbuf[0])
		print_message("bench said: %s\n", errbuf);
	free(errbuf);
	assert_non_null(doc);
	return doc;
}

static json_t *phase(json_t *doc, const char *name)
{
	size_t i;
	json_t *ph;

	json_array_foreach(json_object_get(doc, "phases"), i, ph)
		if (!strcmp(json_string_value(json_object_get(ph, "name")), name))
			return ph;
	fail_msg("no phase %s", name);
	return NULL;
}

static uint64_t counter(json_t *ph, const char *name)
{
	return (uint64_t)json_integer_value(json_object_get(json_object_get(ph, "counters"), name));
}

static double per_leaf(json_t *ph, const char *leaf)
{
	return json_number_value(json_object_get(json_object_get(ph, "seamcalls_per_op_by_leaf"), leaf));
}

/* Every documented field of a phase is there, with the right type. */
static void check_phase_fields(json_t *ph)
{
	static const char *const reals[] = { "ns_per_op", "ops_per_s", "seamcalls_per_op",
		"tdcalls_per_op", "td_exits_per_op", "modeled_ns_per_op", "hardware_ns_per_op" };

	assert_true(json_is_string(json_object_get(ph, "name")));
	assert_true(json_is_string(json_object_get(ph, "unit")));
	assert_true(json_is_integer(json_object_get(ph, "ops")));
	assert_true(json_is_integer(json_object_get(ph, "wall_ns")));
	assert_true(json_is_integer(json_object_get(ph, "tracks")));
	for (size_t i = 0; i < sizeof(reals) / sizeof(reals[0]); i++)
		assert_true(json_is_real(json_object_get(ph, reals[i])));
	assert_true(json_is_object(json_object_get(ph, "seamcalls_per_op_by_leaf")));
	assert_true(json_is_object(json_object_get(ph, "counters")));
	assert_true(json_is_integer(json_object_get(json_object_get(ph, "retries"), "cmpxchg")));
	assert_true(json_is_integer(json_object_get(json_object_get(ph, "retries"), "frozen")));
	assert_true(json_is_integer(json_object_get(json_object_get(ph, "retries"), "busy")));
}

static void check_memory_fields(json_t *doc)
{
	json_t *mem = json_object_get(doc, "memory");

	assert_true(json_is_object(mem));
	assert_true(json_integer_value(json_object_get(json_object_get(mem, "mirror_ept"), "pages")) > 0); /* the root at least */
	assert_true(json_integer_value(json_object_get(json_object_get(mem, "secure_ept"), "pages")) > 0);
	assert_true(json_is_integer(json_object_get(json_object_get(mem, "shared_ept"), "bytes")));
	assert_true(json_is_integer(json_object_get(json_object_get(mem, "pamt"), "bytes")));
	assert_true(json_integer_value(json_object_get(mem, "peak_rss_bytes")) > 0);
}

/* 4M = 1024 private pages: every one faults once per phase, with one
 * PAGE.AUG, one ACCEPT and one EPT-violation exit. */
static void test_fault_private_counts(void **state)
{
	json_t *doc = run_doc("fault", "--size=4M", "--rounds=2", NULL);
	json_t *first = phase(doc, "first_touch"), *leaf = phase(doc, "leaf");

	(void)state;
	assert_true(json_is_true(json_object_get(doc, "available")));
	assert_string_equal(json_string_value(json_object_get(doc, "workload")), "fault");
	check_phase_fields(first);
	check_phase_fields(leaf);
	check_memory_fields(doc);
	for (json_t *ph = first;; ph = leaf) {
		assert_int_equal(json_integer_value(json_object_get(ph, "ops")), 1024);
		assert_int_equal(counter(ph, "fault.private"), 1024);
		assert_int_equal(counter(ph, "exit.ept_violation"), 1024);
		assert_int_equal(counter(ph, "seamcall.TDH.MEM.PAGE.AUG"), 1024);
		assert_int_equal(counter(ph, "tdcall.TDG.MEM.PAGE.ACCEPT"), 1024);
		assert_true(per_leaf(ph, "TDH.MEM.PAGE.AUG") == 1.0);
		assert_true(json_number_value(json_object_get(ph, "tdcalls_per_op")) == 1.0);
		if (ph == leaf)
			break;
	}
	/* First touch builds the S-EPT pages under the root (a TDCS page) for
	 * 4M: one each at the 512G and 1G levels, two 4K tables; the leaf
	 * round builds none. */
	assert_int_equal(counter(first, "seamcall.TDH.MEM.SEPT.ADD"), 4);
	assert_int_equal(counter(leaf, "seamcall.TDH.MEM.SEPT.ADD"), 0);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(json_object_get(doc, "memory"),
									    "secure_ept"), "pages")), 4);
	json_decref(doc);
}

static void test_fault_shared_two_vcpus(void **state)
{
	json_t *doc = run_doc("fault", "--size=4M", "--rounds=1", "--alias=shared",
			      "--vcpus=2", "--write", NULL);
	json_t *leaf = phase(doc, "leaf");

	(void)state;
	assert_int_equal(json_integer_value(json_object_get(doc, "vcpus")), 2);
	assert_int_equal(counter(leaf, "fault.shared"), 1024);
	assert_int_equal(counter(leaf, "fault.private"), 0);
	assert_int_equal(counter(leaf, "seamcall.TDH.MEM.PAGE.AUG"), 0);
	assert_true(json_number_value(json_object_get(leaf, "tdcalls_per_op")) == 0.0);
	json_decref(doc);
}

/* The modeled time is exactly the sum of the overridden latencies: a leaf
 * private fault is one TD exit, PAGE.AUG, TDH.VP.ENTER and the ACCEPT. */
static void test_cost_overrides(void **state)
{
	char path[] = "/tmp/tdxmmu-bench-costs-XXXXXX";
	int fd = mkstemp(path);
	FILE *f;
	json_t *doc, *leaf;

	(void)state;
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fputs("# test costs\nTDH.VP.ENTER 20\n  TDG.MEM.PAGE.ACCEPT=300 # trailing\n\n", f);
	fclose(f);
	doc = run_doc("fault", "--size=2M", "--rounds=1", "--cost", "TD.EXIT=1",
		      "--cost=TDH.MEM.PAGE.AUG=4000", "--cost-file", path, NULL);
	leaf = phase(doc, "leaf");
	/* 512 faults, plus the action's own entry and closing exit. */
	assert_int_equal(counter(leaf, "cost.modeled_ns"), 512 * 4321 + 20 + 1);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(doc, "cost_overrides"),
							    "TD.EXIT")), 1);
	unlink(path);
	json_decref(doc);
}

/* private->shared: one BLOCK and one REMOVE per page, TRACK per batch. */
static void test_convert_counts(void **state)
{
	json_t *doc = run_doc("convert", "--size=4M", "--rounds=2", NULL);
	json_t *to_shared = phase(doc, "to_shared"), *touch = phase(doc, "touch_private");

	(void)state;
	check_phase_fields(to_shared);
	assert_int_equal(json_integer_value(json_object_get(to_shared, "ops")), 2048);
	assert_int_equal(counter(to_shared, "seamcall.TDH.MEM.RANGE.BLOCK"), 2048);
	assert_int_equal(counter(to_shared, "seamcall.TDH.MEM.PAGE.REMOVE"), 2048);
	assert_true(counter(to_shared, "seamcall.TDH.MEM.TRACK") >= 2);
	assert_true(json_number_value(json_object_get(doc, "tracks_per_conversion")) ==
		    (double)counter(to_shared, "seamcall.TDH.MEM.TRACK") / 2);
	assert_true(json_number_value(json_object_get(doc, "to_shared_ms_per_gib")) > 0);
	assert_int_equal(counter(touch, "seamcall.TDH.MEM.PAGE.AUG"), 2048);
	assert_int_equal(counter(phase(doc, "touch_shared"), "fault.shared"), 2048);
	json_decref(doc);
}

static void test_zap_and_populate(void **state)
{
	json_t *doc = run_doc("zap", "--size=4M", NULL);

	(void)state;
	assert_int_equal(json_integer_value(json_object_get(phase(doc, "invalidate"), "ops")), 512);
	/* The notifier zaps only the shared alias: no private page removed. */
	assert_int_equal(counter(phase(doc, "invalidate"), "seamcall.TDH.MEM.PAGE.REMOVE"), 0);
	assert_int_equal(counter(phase(doc, "memslot_delete"), "seamcall.TDH.MEM.PAGE.REMOVE"), 512);
	json_decref(doc);

	doc = run_doc("populate", "--size=6M", NULL);
	assert_int_equal(counter(phase(doc, "build"), "seamcall.TDH.MEM.PAGE.ADD"), 16);
	assert_int_equal(json_integer_value(json_object_get(phase(doc, "populate"), "ops")),
			 6 * 256 - 16);
	assert_int_equal(counter(phase(doc, "populate"), "seamcall.TDH.MEM.PAGE.AUG"),
			 6 * 256 - 16);
	check_memory_fields(doc);
	json_decref(doc);
}

/* Seed 004's rejected alternative: no mirror, SEPT.RD at every level (4
 * levels of a 4-level S-EPT) before each AUG; teardown stays leak-free
 * (bench_run fails if destroy reports a leak). */
static void test_no_mirror(void **state)
{
	json_t *doc = run_doc("fault", "--no-mirror", "--size=4M", "--rounds=2",
			      "--vcpus=2", NULL);
	json_t *first = phase(doc, "first_touch"), *leaf = phase(doc, "leaf");

	(void)state;
	assert_false(json_is_true(json_object_get(doc, "mirror")));
	assert_int_equal(counter(leaf, "seamcall.TDH.MEM.SEPT.RD"), 4 * 1024);
	assert_int_equal(counter(leaf, "seamcall.TDH.MEM.PAGE.AUG"), 1024);
	assert_int_equal(counter(first, "seamcall.TDH.MEM.SEPT.ADD"), 4);
	/* KVM keeps only its (empty) private root. */
	assert_int_equal(json_integer_value(json_object_get(json_object_get(json_object_get(doc, "memory"),
									    "mirror_ept"), "pages")), 1);
	json_decref(doc);
}

/* --json prints one document that parses; the table mentions each phase. */
static void test_main_output(void **state)
{
	char *out, *err;
	json_error_t jerr;
	json_t *doc;

	(void)state;
	assert_int_equal(run_main(&out, &err, "fault", "--size=2M", "--rounds=1", "--json", NULL), 0);
	doc = json_loads(out, 0, &jerr);
	assert_non_null(doc);
	assert_int_equal(json_integer_value(json_object_get(doc, "tdxmmu_bench")), 1);
	assert_true(json_is_array(json_object_get(doc, "phases")));
	json_decref(doc);
	free(out);
	free(err);

	assert_int_equal(run_main(&out, &err, "fault", "--size=2M", "--rounds=1", NULL), 0);
	assert_non_null(strstr(out, "first_touch"));
	assert_non_null(strstr(out, "leaf"));
	assert_non_null(strstr(out, "peak RSS"));
	free(out);
	free(err);
}

/* A configuration the model does not provide yet is reported, not failed;
 * once it lands the same command simply runs. */
static void test_legacy(void **state)
{
	json_t *doc = run_doc("fault", "--mmu=legacy", "--size=2M", "--rounds=1", NULL);

	(void)state;
	assert_string_equal(json_string_value(json_object_get(doc, "mmu")), "legacy");
	if (json_is_true(json_object_get(doc, "available")))
		assert_int_equal(counter(phase(doc, "leaf"), "fault.private"), 512);
	else
		assert_true(strlen(json_string_value(json_object_get(doc, "reason"))) > 0);
	json_decref(doc);
}

static void expect_usage_error(const char *needle, ...)
{
	char *argv[16], *out, *err;
	size_t olen, elen;
	int argc = 0;
	va_list ap;
	FILE *fo = open_memstream(&out, &olen), *fe = open_memstream(&err, &elen);

	argv[argc++] = MUT("bench");
	va_start(ap, needle);
	for (const char *a; (a = va_arg(ap, const char *));)
		argv[argc++] = MUT(a);
	va_end(ap);
	argv[argc] = NULL;
	assert_int_equal(bench_main(argc, argv, fo, fe), 2);
	fclose(fo);
	fclose(fe);
	if (!strstr(err, needle))
		fail_msg("expected '%s' in: %s", needle, err);
	assert_string_equal(out, "");
	free(out);
	free(err);
}

static void test_bad_options(void **state)
{
	(void)state;
	expect_usage_error("which workload", NULL);
	expect_usage_error("unknown workload 'faults'", "faults", NULL);
	expect_usage_error("unexpected argument 'zap'", "fault", "zap", NULL);
	expect_usage_error("--vcpus=0", "fault", "--vcpus=0", NULL);
	expect_usage_error("--vcpus=65", "fault", "--vcpus=65", NULL);
	expect_usage_error("--vcpus=x", "fault", "--vcpus=x", NULL);
	expect_usage_error("--size=12Q", "fault", "--size=12Q", NULL);
	expect_usage_error("--size=-1", "fault", "--size=-1", NULL);
	expect_usage_error("multiple of 2M", "fault", "--size=3M", NULL);
	expect_usage_error("multiple of 2M", "fault", "--size=2M", "--vcpus=2", NULL);
	expect_usage_error("--rounds=0", "fault", "--rounds=0", NULL);
	expect_usage_error("--mmu=shadow", "fault", "--mmu=shadow", NULL);
	expect_usage_error("--alias=both", "fault", "--alias=both", NULL);
	expect_usage_error("unknown name 'TDH.NOPE'", "fault", "--cost", "TDH.NOPE=1", NULL);
	expect_usage_error("NS must be", "fault", "--cost", "TD.EXIT=fast", NULL);
	expect_usage_error("expected NAME=NS", "fault", "--cost", "TD.EXIT", NULL);
	expect_usage_error("--cost-file /nonexistent", "fault", "--cost-file", "/nonexistent", NULL);
	expect_usage_error("unknown option '--frobnicate'", "fault", "--frobnicate", NULL);
	expect_usage_error("needs a value", "fault", "--size", NULL);
	expect_usage_error("--no-mirror", "fault", "--no-mirror", "--alias=shared", NULL);
	expect_usage_error("fault workload only", "convert", "--no-mirror", NULL);
}

/* Issue 11, item 2.16/2.11: a directory as --cost-file was silently an empty
 * file; --size above the limit printed "bench: : --size". */
static void test_bad_options_v11(void **state)
{
	char *out, *err;

	(void)state;
	expect_usage_error("--cost-file /tmp: Is a directory", "fault", "--cost-file", "/tmp", NULL);
	expect_usage_error("--size=64T: at most 4T", "fault", "--size=64T", NULL);
	assert_int_equal(run_main(&out, &err, "fault", "--size=64T", NULL), 2);
	assert_null(strstr(err, ": :"));
	free(out);
	free(err);
}

static bool no_negative_number(json_t *j)
{
	const char *key;
	json_t *v;
	size_t i;

	if (json_is_integer(j))
		return json_integer_value(j) >= 0;
	if (json_is_real(j))
		return json_real_value(j) >= 0;
	if (json_is_object(j)) {
		json_object_foreach(j, key, v)
			if (!no_negative_number(v)) {
				print_message("negative: %s\n", key);
				return false;
			}
	}
	if (json_is_array(j))
		json_array_foreach(j, i, v)
			if (!no_negative_number(v))
				return false;
	return true;
}

/* A cost of UINT64_MAX saturates the modeled time: the JSON holds INT64_MAX
 * (the largest integer JSON readers take), never a wrapped or negative
 * number (issue 11, item 2.11). */
static void test_cost_saturates(void **state)
{
	json_t *doc, *leaf, *ov;

	(void)state;
	doc = run_doc("fault", "--size=2M", "--rounds=1",
		      "--cost=TDH.MEM.PAGE.AUG=18446744073709551615", NULL);
	leaf = phase(doc, "leaf");
	assert_true(no_negative_number(doc));
	assert_true(json_real_value(json_object_get(leaf, "modeled_ns_per_op")) >= 0);
	assert_true(json_real_value(json_object_get(leaf, "hardware_ns_per_op")) >= 0);
	ov = json_object_get(doc, "cost_overrides");
	assert_int_equal(json_integer_value(json_object_get(ov, "TDH.MEM.PAGE.AUG")), INT64_MAX);
	json_decref(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fault_private_counts),
		cmocka_unit_test(test_fault_shared_two_vcpus),
		cmocka_unit_test(test_cost_overrides),
		cmocka_unit_test(test_convert_counts),
		cmocka_unit_test(test_zap_and_populate),
		cmocka_unit_test(test_no_mirror),
		cmocka_unit_test(test_main_output),
		cmocka_unit_test(test_legacy),
		cmocka_unit_test(test_bad_options),
		cmocka_unit_test(test_bad_options_v11),
		cmocka_unit_test(test_cost_saturates),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
