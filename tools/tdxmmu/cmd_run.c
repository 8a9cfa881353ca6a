/* SPDX-License-Identifier: MIT */
/* tdxmmu run [--trace] [--quiet] FILE: runs a scenario file. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <tdxmmu/tdxmmu.h>

#include "cmds.h"

static void run_usage(FILE *f)
{
	fprintf(f, "usage: tdxmmu run [--trace] [--quiet] FILE\n"
		   "  Runs a scenario (docs/scenario-language.md). Exit status: 0 all\n"
		   "  checks passed, 1 a check failed, 2 parse or usage error, 3 the\n"
		   "  model detected a broken invariant inside itself.\n"
		   "  --trace  print one line per SPTE change, SEAMCALL and exit\n"
		   "  --quiet  print only failures and the closing line\n");
}

static int run_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "trace", no_argument, NULL, 't' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct tdxmmu_run_options opts = { .out = stdout, .err = stderr };
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "tqh", longopts, NULL)) != -1) {
		switch (c) {
		case 't':
			opts.trace = stdout;
			break;
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
	return tdxmmu_run_file(argv[optind], &opts);
}

const struct tdxmmu_cmd cmd_run = {
	.name = "run",
	.summary = "run a scenario file",
	.fn = run_main,
};
