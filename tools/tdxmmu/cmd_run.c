/* SPDX-License-Identifier: MIT */
/*
 * tdxmmu run [--trace[=EVENTS]] [--trace-file=FILE] [--quiet] [--json | --tap]
 * FILE...: runs scenario
 * files one after the other, each in a model of its own, and reports them
 * for a person (the runner's lines), as JSON Lines or as TAP.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tdxmmu/tdxmmu.h>

#include "cmds.h"

enum run_format { FORMAT_TEXT, FORMAT_JSON, FORMAT_TAP };

/* What one file's run gave, gathered through struct tdxmmu_run_report. */
struct file_result {
	const char *name;     /* as in its messages ("<stdin>" for -) */
	unsigned long passed, failed;
	json_t *checks;       /* every check, in the order they ran */
	json_t *error;        /* the error that stopped the run, or NULL */
	int status;
};

static void run_usage(FILE *f)
{
	fprintf(f,
		"usage: tdxmmu run [--trace[=EVENT,...]] [--trace-file=FILE] [--quiet]\n"
		"                  [--json | --tap] FILE...\n"
		"       tdxmmu run --trace-list\n"
		"  Runs scenarios (docs/scenario-language.md), one file after the\n"
		"  other, each in a model of its own: nothing carries over. FILE '-'\n"
		"  reads standard input (named <stdin> in messages).\n"
		"  Exit status, the worst over the files: 0 all checks passed, 1 a\n"
		"  check failed, 2 parse or usage error, 3 the model detected a\n"
		"  broken invariant inside itself. A file that stops with an error\n"
		"  does not stop the others.\n"
		"  --trace  trace every event (entry changes in the shared EPT, the\n"
		"           mirror EPT and the Secure EPT, SEAMCALLs, exits, faults,\n"
		"           zaps), one line each, as trace-cmd prints them:\n"
		"           LANE-TD [CPU] SECONDS: EVENT: FIELDS, SECONDS being the\n"
		"           TD's modeled time; to standard error with --json or --tap\n"
		"  --trace=EVENT,...  only these events; fnmatch globs over the names\n"
		"           as printed (--trace='kvm_*,*seamcall*'); a glob that\n"
		"           matches no event is a usage error\n"
		"  --trace-file=FILE  write the trace to FILE (implies --trace)\n"
		"  --trace-list  list the events and their USDT probes, then exit\n"		"  --quiet  print only failures and the closing line\n"
		"  --json   one JSON document per file on standard output, one a line\n"
		"           (JSON Lines): file, exit, passed, failed, checks (each\n"
		"           with line, text, result \"pass\" or \"fail\", and message\n"
		"           when it failed) and, when the run stopped on an error,\n"
		"           error (file, line, column, status, message)\n"
		"  --tap    TAP version 13: plan 1..N, one test point per file, a YAML\n"
		"           block listing a failing file's failed checks or error\n"
		"  With --json or --tap standard output holds only that report; the\n"
		"  per-line results are not printed, errors still go to standard\n"
		"  error. With several files and neither, each file's lines follow a\n"
		"  '==> FILE <==' header and a summary line ends the output.\n"
		"  Two runs of a scenario without `parallel` print the same trace.\n"
		"  Formats, levels and probes: docs/tracing.md.\n");
}

/* A JSON string of any bytes: JSON wants UTF-8, and a file name (or a
 * message quoting one) need not be; such bytes become '?'. */
static json_t *jstr(const char *s)
{
	json_t *j;
	char *copy;

	if (!s)
		s = "";
	j = json_string(s);
	if (j)
		return j;
	copy = strdup(s);
	if (!copy)
		return NULL;
	for (char *p = copy; *p; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	j = json_string(copy);
	free(copy);
	return j;
}

/* A member's string value; "" for a missing one. */
static const char *jget(const json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));

	return v ? v : "";
}

static void on_check(const struct tdxmmu_run_check *chk, void *arg)
{
	struct file_result *res = arg;
	json_t *o = json_object();

	if (chk->passed)
		res->passed++;
	else
		res->failed++;
	json_object_set_new(o, "line", json_integer((json_int_t)chk->line));
	json_object_set_new(o, "text", jstr(chk->text));
	json_object_set_new(o, "result", json_string(chk->passed ? "pass" : "fail"));
	if (!chk->passed)
		json_object_set_new(o, "message", jstr(chk->message));
	json_array_append_new(res->checks, o);
}

static void on_error(const struct tdxmmu_run_error *e, void *arg)
{
	struct file_result *res = arg;
	json_t *o;

	if (res->error) /* the first error is the one that stopped the run */
		return;
	o = json_object();
	json_object_set_new(o, "file", jstr(e->file));
	if (e->line)
		json_object_set_new(o, "line", json_integer((json_int_t)e->line));
	if (e->column)
		json_object_set_new(o, "column",
				    json_integer((json_int_t)e->column));
	json_object_set_new(o, "status", json_integer(e->status));
	json_object_set_new(o, "message", jstr(e->message));
	res->error = o;
}

static int run_one(const char *arg, const struct tdxmmu_run_options *opts,
		   struct file_result *res)
{
	struct tdxmmu_run_report report = {
		.check = on_check,
		.error = on_error,
		.arg = res,
	};

	memset(res, 0, sizeof(*res));
	res->checks = json_array();
	if (!strcmp(arg, "-")) {
		res->name = "<stdin>";
		res->status = tdxmmu_run_stream_report(res->name, stdin, opts,
						       &report);
	} else {
		res->name = arg;
		res->status = tdxmmu_run_file_report(arg, opts, &report);
	}
	/* A few stops (a lane thread that could not start) print nothing:
	 * the report still says why the file has no closing line. */
	if (res->status >= 2 && !res->error) {
		struct tdxmmu_run_error e = {
			.file = res->name,
			.status = res->status,
			.message = res->status == 3 ?
				"the model detected a broken invariant" :
				"the run stopped on an error",
		};

		on_error(&e, res);
	}
	return res->status;
}

static void file_result_free(struct file_result *res)
{
	json_decref(res->checks);
	json_decref(res->error);
}

/* One line: compact JSON, which JSON Lines readers and JSON readers take. */
static int print_json(const struct file_result *res)
{
	json_t *d = json_object();
	int rc;

	json_object_set_new(d, "file", jstr(res->name));
	json_object_set_new(d, "exit", json_integer(res->status));
	json_object_set_new(d, "passed", json_integer((json_int_t)res->passed));
	json_object_set_new(d, "failed", json_integer((json_int_t)res->failed));
	json_object_set(d, "checks", res->checks);
	if (res->error)
		json_object_set(d, "error", res->error);
	rc = json_dumpf(d, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(d);
	putchar('\n');
	fflush(stdout);
	return rc;
}

/* A YAML double-quoted scalar: any text, one line. */
static void yaml_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch == '\n')
			fputs("\\n", stdout);
		else if (ch == '\t')
			fputs("\\t", stdout);
		else if (ch < 0x20 || ch == 0x7f)
			printf("\\x%02x", ch);
		else
			putchar(ch);
	}
	putchar('"');
}

/* The description of a test point: '#' would start a TAP directive. */
static void tap_desc(const char *s)
{
	for (; *s; s++) {
		if (*s == '#' || *s == '\\')
			putchar('\\');
		putchar(*s == '\n' ? ' ' : *s);
	}
}

static void print_tap(unsigned n, const struct file_result *res)
{
	size_t i;
	json_t *chk;

	printf("%sok %u - ", res->status ? "not " : "", n);
	tap_desc(res->name);
	putchar('\n');
	if (!res->status) {
		fflush(stdout);
		return;
	}
	printf("  ---\n  exit: %d\n  passed: %lu\n  failed: %lu\n", res->status,
	       res->passed, res->failed);
	if (res->failed) {
		printf("  failures:\n");
		json_array_foreach(res->checks, i, chk) {
			if (!strcmp(jget(chk, "result"),
				    "pass"))
				continue;
			printf("    - line: %" JSON_INTEGER_FORMAT "\n      text: ",
			       json_integer_value(json_object_get(chk, "line")));
			yaml_str(jget(chk, "text"));
			printf("\n      message: ");
			yaml_str(jget(chk, "message"));
			putchar('\n');
		}
	}
	if (res->error) {
		json_t *line = json_object_get(res->error, "line");
		json_t *col = json_object_get(res->error, "column");

		printf("  error:\n");
		if (line)
			printf("    line: %" JSON_INTEGER_FORMAT "\n",
			       json_integer_value(line));
		if (col)
			printf("    column: %" JSON_INTEGER_FORMAT "\n",
			       json_integer_value(col));
		printf("    message: ");
		yaml_str(jget(res->error, "message"));
		putchar('\n');
	}
	printf("  ...\n");
	fflush(stdout);
}

/* "3 files: 1 passed, 1 failed, 1 stopped by an error" */
static void print_summary(unsigned nr, const unsigned by_status[4])
{
	printf("%u files: %u passed, %u failed", nr, by_status[0], by_status[1]);
	if (by_status[2])
		printf(", %u stopped by an error", by_status[2]);
	if (by_status[3])
		printf(", %u broke the model", by_status[3]);
	putchar('\n');
}

static int run_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "trace", optional_argument, NULL, 't' },
		{ "trace-file", required_argument, NULL, 'F' },
		{ "trace-list", no_argument, NULL, 'L' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "json", no_argument, NULL, 'j' },
		{ "tap", no_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct tdxmmu_run_options opts = { .out = stdout, .err = stderr };
	enum run_format format = FORMAT_TEXT;
	unsigned by_status[4] = { 0 };
	bool trace = false, stdin_seen = false;
	const char *trace_file = NULL;
	FILE *devnull = NULL, *tf = NULL;
	int c, worst = 0;
	unsigned nr;

	optind = 1;
	while ((c = getopt_long(argc, argv, "tqh", longopts, NULL)) != -1) {
		switch (c) {
		case 't':
			trace = true;
			opts.trace_events = optarg;
			break;
		case 'F':
			trace_file = optarg;
			break;
		case 'L':
			tdxmmu_trace_list(stdout);
			return 0;
		case 'q':
			opts.quiet = true;
			break;
		case 'j':
		case 'T':
			if (format != FORMAT_TEXT) {
				fprintf(stderr, "tdxmmu run: --json and --tap "
						"are one report each: give one\n");
				return 2;
			}
			format = c == 'j' ? FORMAT_JSON : FORMAT_TAP;
			break;
		case 'h':
			run_usage(stdout);
			return 0;
		default:
			run_usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		run_usage(stderr);
		return 2;
	}
	for (int i = optind; i < argc; i++) {
		if (strcmp(argv[i], "-"))
			continue;
		if (stdin_seen) {
			fprintf(stderr, "tdxmmu run: '-' (standard input) "
					"given more than once\n");
			return 2;
		}
		stdin_seen = true;
	}
	nr = (unsigned)(argc - optind);
	if (format != FORMAT_TEXT) {
		/* Standard output is the report's alone. */
		devnull = fopen("/dev/null", "w");
		if (!devnull) {
			perror("tdxmmu run: /dev/null");
			return 2;
		}
		opts.out = devnull;
	}
	if (trace_file) {
		tf = fopen(trace_file, "w");
		if (!tf) {
			fprintf(stderr, "tdxmmu run: %s: %s\n", trace_file, strerror(errno));
			if (devnull)
				fclose(devnull);
			return 2;
		}
		opts.trace = tf;
	} else if (trace) {
		opts.trace = format == FORMAT_TEXT ? stdout : stderr;
	}
	if (format == FORMAT_TAP)
		printf("TAP version 13\n1..%u\n", nr);

	for (unsigned i = 0; i < nr; i++) {
		const char *arg = argv[optind + (int)i];
		struct file_result res;

		if (format == FORMAT_TEXT && nr > 1) {
			printf("%s==> %s <==\n", i ? "\n" : "",
			       strcmp(arg, "-") ? arg : "<stdin>");
			/* before the run's own lines on stderr */
			fflush(stdout);
		}
		run_one(arg, &opts, &res);
		if (format == FORMAT_JSON)
			print_json(&res);
		else if (format == FORMAT_TAP)
			print_tap(i + 1, &res);
		fflush(stdout);
		if (res.status >= 0 && res.status <= 3)
			by_status[res.status]++;
		if (res.status > worst)
			worst = res.status;
		file_result_free(&res);
	}
	if (format == FORMAT_TEXT && nr > 1) {
		putchar('\n');
		print_summary(nr, by_status);
	}
	if (devnull)
		fclose(devnull);
	if (tf && fclose(tf) && worst == 0) {
		fprintf(stderr, "tdxmmu run: %s: %s\n", trace_file, strerror(errno));
		worst = 2;
	}
	return worst;
}

const struct tdxmmu_cmd cmd_run = {
	.name = "run",
	.summary = "run scenario files",
	.fn = run_main,
};
