/* SPDX-License-Identifier: MIT */
/*
 * tdxmmu bench compare A.json B.json [--json]: two results of one workload
 * and configuration side by side, per phase: the medians, B/A, each one's
 * spread, and whether the difference is within noise: the runs' [min, max]
 * ranges overlap, or B/A is within the larger spread. Results written
 * before --repeat existed (no ns_per_op_stats) count as one run.
 * Exit status: 0 compared; 2 a bad file, different configurations or a
 * usage error.
 */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

/* What must be equal for the ns/op of two results to mean the same thing. */
static const char *const config_keys[] = {
	"workload", "mmu", "alias", "mirror", "access", "vcpus", "size_bytes",
	"rounds", "seed", "cost_overrides",
};

struct side {
	const char *path;
	json_t *doc;
};

struct fig {
	double median, min, max, spread_pct;
	long long runs;
};

__attribute__((format(printf, 2, 3)))
static int fail(FILE *err, const char *fmt, ...)
{
	va_list ap;

	fputs("tdxmmu bench compare: ", err);
	va_start(ap, fmt);
	vfprintf(err, fmt, ap);
	va_end(ap);
	fputc('\n', err);
	return 2;
}

static bool is_number(const json_t *j)
{
	return json_is_integer(j) || json_is_real(j);
}

/* Loads and checks one result file. 0, or 2 after a message. */
static int load(struct side *s, FILE *err)
{
	json_error_t je;
	json_t *phases, *ph;
	size_t i;

	s->doc = json_load_file(s->path, JSON_REJECT_DUPLICATES, &je);
	if (!s->doc) {
		if (je.line < 0)
			return fail(err, "%s: %s", s->path, je.text);
		return fail(err, "%s:%d:%d: %s", s->path, je.line, je.column, je.text);
	}
	if (!json_is_object(s->doc) || !json_is_integer(json_object_get(s->doc, "tdxmmu_bench")))
		return fail(err, "%s: not a tdxmmu bench result (no \"tdxmmu_bench\" member; "
			    "write one with tdxmmu bench ... --json)", s->path);
	if (!json_is_true(json_object_get(s->doc, "available"))) {
		const char *why = json_string_value(json_object_get(s->doc, "reason"));

		return fail(err, "%s: the run was not available%s%s: nothing to compare",
			    s->path, why ? ": " : "", why ? why : "");
	}
	phases = json_object_get(s->doc, "phases");
	if (!json_is_array(phases) || !json_array_size(phases))
		return fail(err, "%s: no \"phases\"", s->path);
	json_array_foreach(phases, i, ph) {
		const json_t *st = json_object_get(ph, "ns_per_op_stats");

		if (!json_is_string(json_object_get(ph, "name")))
			return fail(err, "%s: phase %zu has no \"name\"", s->path, i);
		if (!is_number(json_object_get(ph, "ns_per_op")))
			return fail(err, "%s: phase %s has no number \"ns_per_op\"", s->path,
				    json_string_value(json_object_get(ph, "name")));
		if (st && (!is_number(json_object_get(st, "min")) ||
			   !is_number(json_object_get(st, "max")) ||
			   !is_number(json_object_get(st, "spread_pct"))))
			return fail(err, "%s: phase %s: \"ns_per_op_stats\" needs numbers min, max and spread_pct",
				    s->path, json_string_value(json_object_get(ph, "name")));
	}
	return 0;
}

static char *dump(const json_t *j)
{
	return j ? json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT | JSON_SORT_KEYS) : NULL;
}

/* 0 when A and B are runs of one configuration with the same phases, or 2
 * after naming the first member that differs. */
static int same_config(const struct side *a, const struct side *b, FILE *err)
{
	json_t *pa = json_object_get(a->doc, "phases"), *pb = json_object_get(b->doc, "phases");

	for (size_t i = 0; i < sizeof(config_keys) / sizeof(config_keys[0]); i++) {
		json_t *va = json_object_get(a->doc, config_keys[i]);
		json_t *vb = json_object_get(b->doc, config_keys[i]);
		char *da, *db;
		int ret;

		if (va == vb || (va && vb && json_equal(va, vb)))
			continue;
		da = dump(va);
		db = dump(vb);
		ret = fail(err, "%s and %s differ in \"%s\" (%s against %s): compare results of one workload and configuration",
			   a->path, b->path, config_keys[i], da ? da : "missing", db ? db : "missing");
		free(da);
		free(db);
		return ret;
	}
	for (size_t i = 0; i < json_array_size(pa) || i < json_array_size(pb); i++) {
		const char *na = json_string_value(json_object_get(json_array_get(pa, i), "name"));
		const char *nb = json_string_value(json_object_get(json_array_get(pb, i), "name"));

		if (!na || !nb || strcmp(na, nb))
			return fail(err, "%s and %s differ in \"phases\" (phase %zu: %s against %s)",
				    a->path, b->path, i, na ? na : "none", nb ? nb : "none");
	}
	return 0;
}

static struct fig figure(const json_t *ph)
{
	const json_t *st = json_object_get(ph, "ns_per_op_stats");
	struct fig f = { .median = json_number_value(json_object_get(ph, "ns_per_op")), .runs = 1 };

	f.min = f.max = f.median;
	if (st) {
		f.min = json_number_value(json_object_get(st, "min"));
		f.max = json_number_value(json_object_get(st, "max"));
		f.spread_pct = json_number_value(json_object_get(st, "spread_pct"));
		f.runs = json_integer_value(json_object_get(st, "runs"));
	}
	return f;
}

/* "within_noise", "faster" (B takes less time per op), "slower", or "n/a"
 * when A's median is 0. */
static const char *verdict(const struct fig *a, const struct fig *b, double *ratio)
{
	double noise = fmax(a->spread_pct, b->spread_pct);

	if (!(a->median > 0)) {
		*ratio = NAN;
		return "n/a";
	}
	*ratio = b->median / a->median;
	if ((a->min <= b->max && b->min <= a->max) || fabs(*ratio - 1.0) * 100.0 <= noise)
		return "within_noise";
	return *ratio < 1.0 ? "faster" : "slower";
}

static long long min_runs(const json_t *doc)
{
	json_t *ph;
	size_t i;
	long long m = -1;

	json_array_foreach(json_object_get(doc, "phases"), i, ph) {
		struct fig f = figure(ph);

		if (m < 0 || f.runs < m)
			m = f.runs;
	}
	return m;
}

static json_t *side_json(const struct side *s)
{
	json_t *c = json_object_get(s->doc, "context");
	json_t *j = json_pack("{s:s,s:I}", "file", s->path, "runs", (json_int_t)min_runs(s->doc));

	if (c)
		json_object_set(j, "context", c);
	return j;
}

static json_t *fig_json(const struct fig *f)
{
	return json_pack("{s:f,s:f,s:f,s:f,s:I}", "ns_per_op", f->median, "min", f->min,
			 "max", f->max, "spread_pct", f->spread_pct, "runs", (json_int_t)f->runs);
}

static void print_side(const char *label, const struct side *s, FILE *out)
{
	const json_t *c = json_object_get(s->doc, "context");
	const char *commit = json_string_value(json_object_get(c, "commit"));
	const char *date = json_string_value(json_object_get(c, "date_utc"));
	long long runs = min_runs(s->doc);

	fprintf(out, "%s: %s (%lld run%s", label, s->path, runs, runs == 1 ? "" : "s");
	if (commit)
		fprintf(out, ", commit %s", commit);
	if (date)
		fprintf(out, ", %s", date);
	if (is_number(json_object_get(c, "loadavg_1m")))
		fprintf(out, ", load %.2f", json_number_value(json_object_get(c, "loadavg_1m")));
	fputs(")\n", out);
}

static int compare(const struct side *a, const struct side *b, bool as_json, FILE *out)
{
	json_t *pa = json_object_get(a->doc, "phases"), *pb = json_object_get(b->doc, "phases");
	json_t *rows = json_array(), *doc, *row;
	size_t i;

	for (i = 0; i < json_array_size(pa); i++) {
		struct fig fa = figure(json_array_get(pa, i)), fb = figure(json_array_get(pb, i));
		double ratio;
		const char *v = verdict(&fa, &fb, &ratio);

		json_array_append_new(rows, json_pack("{s:s,s:o,s:o,s:o,s:s}",
			"name", json_string_value(json_object_get(json_array_get(pa, i), "name")),
			"a", fig_json(&fa), "b", fig_json(&fb),
			"ratio", isnan(ratio) ? json_null() : json_real(ratio), "verdict", v));
	}
	doc = json_pack("{s:i,s:O,s:o,s:o,s:o}", "tdxmmu_bench_compare", 1,
			"workload", json_object_get(a->doc, "workload"),
			"a", side_json(a), "b", side_json(b), "phases", rows);
	if (as_json) {
		json_dumpf(doc, out, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
		fputc('\n', out);
		json_decref(doc);
		return 0;
	}
	fprintf(out, "tdxmmu bench compare: %s mmu=%s alias=%s %s vcpus=%lld size=%.0fM rounds=%lld access=%s\n",
		json_string_value(json_object_get(a->doc, "workload")),
		json_string_value(json_object_get(a->doc, "mmu")),
		json_string_value(json_object_get(a->doc, "alias")),
		json_is_false(json_object_get(a->doc, "mirror")) ? "no-mirror" : "mirror",
		json_integer_value(json_object_get(a->doc, "vcpus")),
		json_number_value(json_object_get(a->doc, "size_bytes")) / (1 << 20),
		json_integer_value(json_object_get(a->doc, "rounds")),
		json_string_value(json_object_get(a->doc, "access")));
	print_side("A", a, out);
	print_side("B", b, out);
	fprintf(out, "%-15s %12s %9s %12s %9s %8s  %s\n", "phase", "A ns/op", "A spread",
		"B ns/op", "B spread", "B/A", "verdict");
	json_array_foreach(rows, i, row) {
		const json_t *ja = json_object_get(row, "a"), *jb = json_object_get(row, "b");
		const char *v = json_string_value(json_object_get(row, "verdict"));
		const json_t *r = json_object_get(row, "ratio");

		fprintf(out, "%-15s %12.1f %8.1f%% %12.1f %8.1f%% ",
			json_string_value(json_object_get(row, "name")),
			json_number_value(json_object_get(ja, "ns_per_op")),
			json_number_value(json_object_get(ja, "spread_pct")),
			json_number_value(json_object_get(jb, "ns_per_op")),
			json_number_value(json_object_get(jb, "spread_pct")));
		if (json_is_null(r))
			fprintf(out, "%8s", "-");
		else
			fprintf(out, "%8.3f", json_real_value(r));
		fprintf(out, "  %s\n", !strcmp(v, "within_noise") ? "within noise" : v);
	}
	if (min_runs(a->doc) < 2 || min_runs(b->doc) < 2)
		fputs("note: a result of one run has no spread of its own to judge noise by; "
		      "measure with --repeat=N (N >= 3)\n", out);
	json_decref(doc);
	return 0;
}

int bench_compare_main(int argc, char **argv, FILE *out, FILE *err)
{
	struct side s[2] = { { 0 } };
	bool as_json = false;
	int n = 0, ret;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			as_json = true;
		else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs("usage: tdxmmu bench compare A.json B.json [--json]\n"
			      "Two results of one workload and configuration (tdxmmu bench ... --json)\n"
			      "side by side: per phase the median ns/op of each, B/A, each one's spread,\n"
			      "and whether the difference is within noise (the [min, max] ranges\n"
			      "overlap, or B/A is within the larger spread).\n", out);
			return 0;
		} else if (argv[i][0] == '-' && argv[i][1])
			return fail(err, "unknown option '%s' (usage: tdxmmu bench compare A.json B.json [--json])",
				    argv[i]);
		else if (n == 2)
			return fail(err, "unexpected argument '%s': compare takes two result files", argv[i]);
		else
			s[n++].path = argv[i];
	}
	if (n != 2)
		return fail(err, "usage: tdxmmu bench compare A.json B.json [--json]");
	ret = load(&s[0], err);
	if (!ret)
		ret = load(&s[1], err);
	if (!ret)
		ret = same_config(&s[0], &s[1], err);
	if (!ret)
		ret = compare(&s[0], &s[1], as_json, out);
	json_decref(s[0].doc);
	json_decref(s[1].doc);
	return ret;
}
