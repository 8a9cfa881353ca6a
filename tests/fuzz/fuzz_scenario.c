/* SPDX-License-Identifier: MIT */
/*
 * fuzz_scenario: bytes -> scenario text -> parse, and when the script stays
 * inside small bounds, run it with its output discarded (docs: tests/fuzz/
 * README.md).
 *
 * Oracle: no crash and no sanitizer report (the build's job); no exit
 * status 3 (the model broke); no leak at destroy, explicit or the runner's
 * final one; and no `check` violation in a script that sends no raw
 * SEAMCALL and whose VM is alive (a raw SEAMCALL may change the module
 * behind KVM's back, which `check` is right to report, and a VM that KVM
 * killed is past caring). Each failure abort()s, so libFuzzer keeps the
 * input.
 *
 * The bounds keep one input to milliseconds and a few MiB: the parser
 * accepts a 64 TiB `vcpu fill`, which is legal but would run for minutes.
 * They are the harness's, applied to the parsed script (scn_parse() is the
 * library's own internal entry), so the library needs no fuzz-only option.
 * `parallel` blocks are parsed but a script holding one is not run: their
 * lanes are threads, whose interleaving would make a crash unreproducible
 * (the explorations cover them, deterministically).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scenario/runner.h"
#include "scenario/scenario.h"
#include "tdxmmu/tdxmmu.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_TEXT    (64u * 1024)
#define FUZZ_MAX_CMDS    256
#define FUZZ_MAX_VCPUS   4
#define FUZZ_MAX_RANGE   (8ull << 20) /* any SIZE, a memslot's too */
#define FUZZ_MAX_MEMORY  (64ull << 20) /* td memory= */
#define FUZZ_MAX_SLOTS   8            /* memslot commands */

/* Whether the script being run may legitimately fail `check`. */
static bool check_may_fail;

static bool within_bounds(const struct scn_script *s)
{
	unsigned slots = 0;

	if (s->nr > FUZZ_MAX_CMDS)
		return false;
	for (size_t i = 0; i < s->nr; i++) {
		const struct scn_cmd *c = &s->cmds[i];

		switch (c->op) {
		case SCN_OP_PARALLEL:
			return false;
		case SCN_OP_TD:
			if (c->td.vcpus > FUZZ_MAX_VCPUS)
				return false;
			if ((c->has & SCN_HAS_MEMORY) &&
			    c->td.memory > FUZZ_MAX_MEMORY)
				return false;
			break;
		case SCN_OP_MEMSLOT:
			if (++slots > FUZZ_MAX_SLOTS)
				return false;
			break;
		default:
			break;
		}
		/* Every command that takes a SIZE keeps it here (0 when none). */
		if (c->size > FUZZ_MAX_RANGE)
			return false;
	}
	return true;
}

static bool script_sends_seamcalls(const struct scn_script *s)
{
	for (size_t i = 0; i < s->nr; i++)
		if (s->cmds[i].op == SCN_OP_SEAMCALL)
			return true;
	return false;
}

static int checked_check(tdxmmu_td *td, char *report, size_t report_size)
{
	int rc = tdxmmu_check(td, report, report_size);

	if (rc > 0 && !check_may_fail && !tdxmmu_vm_dead(td)) {
		fprintf(stderr, "fuzz_scenario: check found %d violation(s) "
			"without a raw SEAMCALL:\n%s\n", rc,
			report ? report : "");
		abort();
	}
	return rc;
}

static int checked_destroy(tdxmmu_td *td, struct tdxmmu_destroy_report *rep)
{
	int rc = tdxmmu_td_destroy(td, rep);

	/* A leak after SEAMCALLs the module was made to refuse (inject
	 * status=) is KVM's answer to that refusal, reported as such. */
	if (rc && rc != TDXMMU_ESEAMCALL) {
		fprintf(stderr, "fuzz_scenario: destroy leaked (%s): %s\n",
			tdxmmu_strerror(rc), rep->message);
		abort();
	}
	return rc;
}

/* What this process ran, printed at exit: the figures of a fuzzing run. */
static unsigned long long nr_inputs, nr_parsed, nr_run;

static void print_totals(void)
{
	fprintf(stderr, "fuzz_scenario: %llu inputs, %llu parsed, %llu run\n",
		nr_inputs, nr_parsed, nr_run);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *devnull;
	struct scn_backend api = scn_backend_tdxmmu;
	struct tdxmmu_run_options o = { 0 };
	struct scn_script script;
	struct scn_error err;
	int status;

	if (!nr_inputs++)
		atexit(print_totals);
	if (size > FUZZ_MAX_TEXT)
		return 0;
	if (scn_parse((const char *)data, size, &script, &err))
		return 0;
	nr_parsed++;
	if (!within_bounds(&script)) {
		scn_script_free(&script);
		return 0;
	}
	nr_run++;
	if (!devnull) {
		devnull = fopen("/dev/null", "w");
		if (!devnull)
			abort();
	}
	o.out = devnull;
	o.err = devnull;
	o.quiet = true;
	api.check = checked_check;
	api.td_destroy = checked_destroy;
	check_may_fail = script_sends_seamcalls(&script);
	status = scn_run_script(&script, "fuzz", &api, &o);
	scn_script_free(&script);
	if (status == SCN_EXIT_BUG) {
		fprintf(stderr, "fuzz_scenario: exit status 3 (the model broke); "
			"rerun the input with `tdxmmu run` for the message\n");
		abort();
	}
	return 0;
}
