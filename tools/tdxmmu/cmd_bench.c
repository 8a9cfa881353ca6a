/* SPDX-License-Identifier: MIT */
/*
 * tdxmmu bench WORKLOAD [options]: the benchmarks (bench.h, bench_*.c).
 * Exit status: 0 (ran, or the configuration is not available yet: the
 * output says so), 1 (the model failed), 2 (usage error).
 */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "cmds.h"

static const char *mmu_name(enum tdxmmu_mmu_kind k)
{
	return k == TDXMMU_MMU_LEGACY ? "legacy" : "tdp";
}

static double num(const json_t *o, const char *key)
{
	return json_number_value(json_object_get(o, key));
}

/* One run of the workload in a fresh TD: its document, as bench_run. */
static int run_once(const struct bench_opts *o, json_t **doc, FILE *err)
{
	json_t *d = json_object(), *costs = json_object();
	int ret;

	json_object_set_new(d, "tdxmmu_bench", json_integer(1));
	json_object_set_new(d, "version", json_string(tdxmmu_version()));
	json_object_set_new(d, "workload", json_string(o->workload));
	json_object_set_new(d, "mmu", json_string(mmu_name(o->mmu)));
	json_object_set_new(d, "alias", json_string(o->alias == TDXMMU_ALIAS_SHARED ?
						    "shared" : "private"));
	json_object_set_new(d, "mirror", json_boolean(!o->no_mirror));
	json_object_set_new(d, "hugepages", json_boolean(o->hugepages));
	json_object_set_new(d, "access", json_string(o->write ? "write" : "read"));
	json_object_set_new(d, "vcpus", json_integer(o->vcpus));
	json_object_set_new(d, "size_bytes", bench_json_u64((uint64_t)o->size));
	json_object_set_new(d, "rounds", json_integer(o->rounds));
	json_object_set_new(d, "repeat", json_integer(o->repeat));
	json_object_set_new(d, "seed", json_integer((json_int_t)o->seed));
	for (unsigned i = 0; i < o->nr_costs; i++)
		json_object_set_new(costs, o->costs[i].name,
				    bench_json_u64((uint64_t)o->costs[i].ns));
	json_object_set_new(d, "cost_overrides", costs);
	json_object_set_new(d, "phases", json_array());

	if (!strcmp(o->workload, "fault"))
		ret = bench_fault(o, d, err);
	else if (!strcmp(o->workload, "convert"))
		ret = bench_convert(o, d, err);
	else if (!strcmp(o->workload, "zap"))
		ret = bench_zap(o, d, err);
	else
		ret = bench_populate(o, d, err);
	json_object_set_new(d, "available", json_boolean(ret >= 0));
	if (ret > 0) {
		json_decref(d);
		*doc = NULL;
		return 1;
	}
	*doc = d;
	return 0;
}

/* The documented figures of phase i of the merged document: ns_per_op and
 * what follows from it are the median over the runs; the counters and the
 * other per-op figures are those of the run nearest the median
 * ("counters_from_run"; they barely move from run to run). */
static void merge_phase(json_t *phases, size_t i, json_t *const *runs, unsigned n)
{
	double *v = malloc(n * sizeof(*v));
	json_t *samples = json_array(), *ph, *st;
	struct bench_stats s;
	unsigned best = 0;
	double ops;

	if (!v)
		return;
	for (unsigned r = 0; r < n; r++) {
		v[r] = json_number_value(json_object_get(
			json_array_get(json_object_get(runs[r], "phases"), i), "ns_per_op"));
		json_array_append_new(samples, json_real(v[r]));
	}
	bench_stats_compute(v, n, &s);
	for (unsigned r = 1; r < n; r++)
		if (fabs(v[r] - s.median) < fabs(v[best] - s.median))
			best = r;
	free(v);
	ph = json_deep_copy(json_array_get(json_object_get(runs[best], "phases"), i));
	ops = json_number_value(json_object_get(ph, "ops"));
	json_object_set_new(ph, "ns_per_op", json_real(s.median));
	json_object_set_new(ph, "ops_per_s", json_real(s.median > 0 ? 1e9 / s.median : 0.0));
	json_object_set_new(ph, "wall_ns", bench_json_u64((uint64_t)llround(s.median * ops)));
	json_object_set_new(ph, "hardware_ns_per_op",
			    json_real(json_number_value(json_object_get(ph, "modeled_ns_per_op")) +
				      s.median));
	json_object_set_new(ph, "counters_from_run", json_integer(best + 1));
	st = json_pack("{s:I,s:f,s:f,s:f,s:f,s:o}", "runs", (json_int_t)n,
		       "median", s.median, "min", s.min, "max", s.max,
		       "spread_pct", s.spread_pct, "samples", samples);
	if (n >= 4) {
		json_object_set_new(st, "q1", json_real(s.q1));
		json_object_set_new(st, "q3", json_real(s.q3));
		json_object_set_new(st, "iqr", json_real(s.q3 - s.q1));
		json_object_set_new(st, "iqr_pct", json_real(s.median > 0 ?
							     (s.q3 - s.q1) / s.median * 100.0 : 0.0));
	}
	json_object_set_new(ph, "ns_per_op_stats", st);
	json_array_set_new(phases, i, ph);
}

int bench_run(const struct bench_opts *o, json_t **doc, FILE *err)
{
	unsigned n = o->repeat ? o->repeat : 1, done = 0;
	json_t **runs = calloc(n, sizeof(*runs)), *d, *phases, *context;
	int ret = 0;

	*doc = NULL;
	if (!runs) {
		fprintf(err, "tdxmmu bench: out of memory\n");
		return 1;
	}
	/* Taken before the first run: the load the runs started under. */
	context = bench_context_json();
	bench_progress_start(err, n);
	for (; done < n; done++) {
		bench_progress_run(done + 1);
		if ((ret = run_once(o, &runs[done], err)))
			break;
		/* Not available: nothing to repeat. */
		if (!json_is_true(json_object_get(runs[done], "available"))) {
			done++;
			break;
		}
	}
	bench_progress_end();
	if (ret) {
		for (unsigned r = 0; r < done; r++)
			json_decref(runs[r]);
		free(runs);
		json_decref(context);
		return 1;
	}
	/* The last run's document holds the rest (memory: the peak RSS is the
	 * process's, over every run). */
	d = runs[done - 1];
	json_object_set_new(d, "context", context);
	phases = json_object_get(d, "phases");
	if (json_is_true(json_object_get(d, "available")))
		for (size_t i = 0; i < json_array_size(phases); i++)
			merge_phase(phases, i, runs, done);
	/* convert's headline figure follows its phase's median. */
	if (json_object_get(d, "to_shared_ms_per_gib"))
		json_object_set_new(d, "to_shared_ms_per_gib",
				    json_real(num(json_array_get(phases, 0), "ns_per_op") *
					      (double)(BENCH_GiB / 4096) / 1e6));
	for (unsigned r = 0; r + 1 < done; r++)
		json_decref(runs[r]);
	free(runs);
	*doc = d;
	return 0;
}

static void print_leaves(const json_t *ph, FILE *out)
{
	const char *leaf;
	json_t *v;
	bool any = false;

	fprintf(out, "    SEAMCALLs/op:");
	json_object_foreach((json_t *)json_object_get(ph, "seamcalls_per_op_by_leaf"), leaf, v) {
		fprintf(out, " %s=%.3g", leaf, json_number_value(v));
		any = true;
	}
	fprintf(out, "%s\n", any ? "" : " none");
}

static const char *str(const json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));

	return v ? v : "?";
}

static void print_context(const json_t *c, FILE *out)
{
	if (!c)
		return;
	fprintf(out, "on %s, %lld cores online, load %.2f; %s build of %s; %s\n",
		str(c, "cpu_model"), json_integer_value(json_object_get(c, "cores_online")),
		num(c, "loadavg_1m"), str(c, "build_type"), str(c, "commit"),
		str(c, "date_utc"));
}

/* The spread line of a phase measured more than once. */
static void print_spread(const json_t *ph, FILE *out)
{
	const json_t *st = json_object_get(ph, "ns_per_op_stats");

	if (json_integer_value(json_object_get(st, "runs")) < 2)
		return;
	fprintf(out, "    ns/op over %lld runs: median %.1f, min %.1f, max %.1f, spread %.1f%%",
		json_integer_value(json_object_get(st, "runs")), num(st, "median"),
		num(st, "min"), num(st, "max"), num(st, "spread_pct"));
	if (json_object_get(st, "iqr"))
		fprintf(out, ", IQR %.1f (%.1f%%)", num(st, "iqr"), num(st, "iqr_pct"));
	fputc('\n', out);
}

void bench_print_table(const json_t *doc, FILE *out)
{
	const json_t *phases = json_object_get(doc, "phases");
	const json_t *mem = json_object_get(doc, "memory");
	const json_t *ph;
	size_t i;

	fprintf(out, "tdxmmu bench %s: mmu=%s alias=%s %s%s vcpus=%lld size=%.0fM rounds=%lld repeat=%lld access=%s\n",
		json_string_value(json_object_get(doc, "workload")),
		json_string_value(json_object_get(doc, "mmu")),
		json_string_value(json_object_get(doc, "alias")),
		json_is_true(json_object_get(doc, "mirror")) ? "mirror" : "no-mirror",
		json_is_true(json_object_get(doc, "hugepages")) ? " hugepages" : "",
		json_integer_value(json_object_get(doc, "vcpus")),
		num(doc, "size_bytes") / (1 << 20),
		json_integer_value(json_object_get(doc, "rounds")),
		json_integer_value(json_object_get(doc, "repeat")),
		json_string_value(json_object_get(doc, "access")));
	print_context(json_object_get(doc, "context"), out);
	if (!json_is_true(json_object_get(doc, "available"))) {
		fprintf(out, "not available: %s\n",
			json_string_value(json_object_get(doc, "reason")));
		return;
	}
	fprintf(out, "%-15s %6s %10s %10s %12s %11s %11s %9s %8s\n", "phase", "unit",
		"ops", "wall ms", "ns/op", "ops/s", "modeled ns", "hw ns/op", "retries");
	json_array_foreach(phases, i, ph) {
		const json_t *r = json_object_get(ph, "retries");

		fprintf(out, "%-15s %6s %10lld %10.2f %12.1f %11.0f %11.0f %9.0f %8lld\n",
			json_string_value(json_object_get(ph, "name")),
			json_string_value(json_object_get(ph, "unit")),
			json_integer_value(json_object_get(ph, "ops")),
			num(ph, "wall_ns") / 1e6, num(ph, "ns_per_op"), num(ph, "ops_per_s"),
			num(ph, "modeled_ns_per_op"), num(ph, "hardware_ns_per_op"),
			json_integer_value(json_object_get(r, "cmpxchg")) +
			json_integer_value(json_object_get(r, "frozen")) +
			json_integer_value(json_object_get(r, "busy")));
		print_spread(ph, out);
		print_leaves(ph, out);
		fprintf(out, "    TDCALLs/op %.3g, TD exits/op %.3g, TRACKs %lld\n",
			num(ph, "tdcalls_per_op"), num(ph, "td_exits_per_op"),
			json_integer_value(json_object_get(ph, "tracks")));
	}
	if (json_object_get(doc, "to_shared_ms_per_gib"))
		fprintf(out, "private->shared: %.1f ms per GiB, %.3g TRACKs per conversion (%g MapGPA calls)\n",
			num(doc, "to_shared_ms_per_gib"), num(doc, "tracks_per_conversion"),
			num(doc, "conversion_batches"));
	if (mem) {
		fprintf(out, "memory: shared EPT %lld pages, mirror EPT %lld pages, Secure EPT %lld pages, PAMT %.1f MiB, host %.1f MiB\n",
			json_integer_value(json_object_get(json_object_get(mem, "shared_ept"), "pages")),
			json_integer_value(json_object_get(json_object_get(mem, "mirror_ept"), "pages")),
			json_integer_value(json_object_get(json_object_get(mem, "secure_ept"), "pages")),
			num(json_object_get(mem, "pamt"), "bytes") / (1 << 20),
			num(mem, "host_resident_bytes") / (1 << 20));
		fprintf(out, "peak RSS %.1f MiB (%.2f MiB per GiB of guest memory)\n",
			num(mem, "peak_rss_bytes") / (1 << 20), num(mem, "peak_rss_mib_per_guest_gib"));
	}
}

int bench_main(int argc, char **argv, FILE *out, FILE *err)
{
	struct bench_opts o;
	json_t *doc;
	bool help;
	int ret;

	if (argc >= 2 && !strcmp(argv[1], "compare"))
		return bench_compare_main(argc - 1, argv + 1, out, err);
	ret = bench_parse(argc, argv, &o, &help, err);
	if (ret)
		return ret;
	if (help) {
		bench_usage(out);
		return 0;
	}
	if (bench_run(&o, &doc, err))
		return 1;
	if (o.json) {
		json_dumpf(doc, out, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
		fputc('\n', out);
	} else {
		bench_print_table(doc, out);
	}
	json_decref(doc);
	return 0;
}

static int cmd_bench_fn(int argc, char **argv)
{
	return bench_main(argc, argv, stdout, stderr);
}

const struct tdxmmu_cmd cmd_bench = {
	.name = "bench",
	.summary = "benchmarks: fault, convert, zap, populate (tdxmmu bench --help)",
	.fn = cmd_bench_fn,
};
