/* SPDX-License-Identifier: MIT */
/* tdxmmu run [--trace[=EVENTS]] [--trace-file=FILE] [--quiet] FILE: runs a
 * scenario file. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <tdxmmu/tdxmmu.h>

#include "cmds.h"

static void run_usage(FILE *f)
{
	fprintf(f, "usage: tdxmmu run [--trace[=EVENT,...]] [--trace-file=FILE] [--quiet] FILE\n"
		   "       tdxmmu run --trace-list\n"
		   "  Runs a scenario (docs/scenario-language.md). Exit status: 0 all\n"
		   "  checks passed, 1 a check failed, 2 parse or usage error, 3 the\n"
		   "  model detected a broken invariant inside itself.\n"
		   "  --trace            trace every event (entry changes in the shared\n"
		   "                     EPT, the mirror EPT and the Secure EPT, SEAMCALLs,\n"
		   "                     exits, faults, zaps), one line each, as trace-cmd\n"
		   "                     prints them: LANE-TD [CPU] SECONDS: EVENT: FIELDS,\n"
		   "                     SECONDS being the TD's modeled time\n"
		   "  --trace=EVENT,...  only these events; fnmatch globs over the names\n"
		   "                     as printed (--trace='kvm_*,*seamcall*'); a glob\n"
		   "                     that matches no event is a usage error\n"
		   "  --trace-file=FILE  write the trace to FILE instead of standard output\n"
		   "                     (implies --trace)\n"
		   "  --trace-list       list the events and their USDT probes, then exit\n"
		   "  --quiet            print only failures and the closing line\n"
		   "  Two runs of a scenario without `parallel` print the same trace.\n"
		   "  Formats, levels and probes: docs/tracing.md.\n");
}

static int run_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "trace", optional_argument, NULL, 't' },
		{ "trace-file", required_argument, NULL, 'T' },
		{ "trace-list", no_argument, NULL, 'L' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct tdxmmu_run_options opts = { .out = stdout, .err = stderr };
	const char *trace_file = NULL;
	bool trace = false;
	FILE *tf = NULL;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "tqh", longopts, NULL)) != -1) {
		switch (c) {
		case 't':
			trace = true;
			opts.trace_events = optarg;
			break;
		case 'T':
			trace_file = optarg;
			break;
		case 'L':
			tdxmmu_trace_list(stdout);
			return 0;
		case 'q':
			opts.quiet = true;
			break;
		case 'h':
			run_usage(stdout);
			return 0;
		default:
			run_usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		run_usage(stderr);
		return 2;
	}
	if (trace_file) {
		tf = fopen(trace_file, "w");
		if (!tf) {
			fprintf(stderr, "tdxmmu run: %s: %s\n", trace_file, strerror(errno));
			return 2;
		}
		opts.trace = tf;
	} else if (trace) {
		opts.trace = stdout;
	}
	rc = tdxmmu_run_file(argv[optind], &opts);
	if (tf && fclose(tf) && rc == 0) {
		fprintf(stderr, "tdxmmu run: %s: %s\n", trace_file, strerror(errno));
		rc = 2;
	}
	return rc;
}

const struct tdxmmu_cmd cmd_run = {
	.name = "run",
	.summary = "run a scenario file",
	.fn = run_main,
};
