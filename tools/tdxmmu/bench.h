/* SPDX-License-Identifier: MIT */
/*
 * `tdxmmu bench`: the benchmark workloads (one file each, bench_*.c), their
 * options and the figures they report. Public API only. Every workload
 * builds one JSON document (jansson); the readable table is printed from it,
 * so the two never disagree. docs/performance.md explains the figures.
 */
#ifndef TDXMMU_TOOLS_BENCH_H
#define TDXMMU_TOOLS_BENCH_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>
#include <tdxmmu/tdxmmu.h>

#define BENCH_MAX_COSTS 64

struct bench_cost {
	char name[48];
	uint64_t ns;
};

struct bench_opts {
	const char *workload;         /* fault, convert, zap, populate */
	enum tdxmmu_mmu_kind mmu;
	unsigned vcpus;
	uint64_t size;                /* bytes of guest memory the workload uses */
	unsigned rounds;
	unsigned repeat;              /* whole runs, each in a fresh TD */
	uint64_t seed;
	enum tdxmmu_alias alias;      /* PRIVATE or SHARED */
	bool no_mirror;
	bool write;                   /* touch with writes instead of reads */
	bool hugepages;               /* hugepages=on memslots (populate, fault) */
	bool json;
	unsigned nr_costs;
	struct bench_cost costs[BENCH_MAX_COSTS];
};

/* Parses `bench WORKLOAD [options]` (argv[0] is "bench"). 0, or 2 with a
 * message on err for a usage error; *help set for --help. */
int bench_parse(int argc, char **argv, struct bench_opts *o, bool *help,
		FILE *err);
void bench_usage(FILE *f);

/* Runs the workload. 0 with *doc the JSON document; 1 (with a message on
 * err) if the model failed. A TD configuration the model does not provide
 * yet (mmu=legacy before it lands) is not a failure: the document says
 * "available": false and why. */
int bench_run(const struct bench_opts *o, json_t **doc, FILE *err);
/* The readable table of a document bench_run made. */
void bench_print_table(const json_t *doc, FILE *out);
/* `tdxmmu bench ...` whole: parse, run, print. Returns the exit status. */
int bench_main(int argc, char **argv, FILE *out, FILE *err);

/* ---- shared by the workloads (bench_common.c) ---- */

/* Creates the TD the options describe, with the cost overrides applied.
 * 0; 1 after a message on err; -1 when the configuration is not available
 * (reason in *why). */
int bench_td_create(const struct bench_opts *o, uint64_t host_bytes,
		    tdxmmu_td **td, const char **why, FILE *err);
int bench_td_destroy(tdxmmu_td *td, FILE *err);

/* A snapshot of every counter (tdxmmu_counters_foreach). */
#define BENCH_MAX_COUNTERS 96
struct bench_counters {
	unsigned n;
	char name[BENCH_MAX_COUNTERS][48];
	uint64_t val[BENCH_MAX_COUNTERS];
};
void bench_counters_take(tdxmmu_td *td, struct bench_counters *c);
/* after - before of one counter (0 if unknown). */
uint64_t bench_counter_delta(const struct bench_counters *before,
			     const struct bench_counters *after,
			     const char *name);

uint64_t bench_now_ns(void);
uint64_t bench_peak_rss_bytes(void);
/* A JSON integer for an unsigned quantity: JSON readers (and jansson) hold
 * signed 64-bit integers, so a value above INT64_MAX (a saturated modeled
 * time, a cost override of UINT64_MAX) is written as INT64_MAX, never as a
 * negative number. */
json_t *bench_json_u64(uint64_t v);

/* One timed phase: `ops` operations of kind `unit` in wall_ns, with the
 * counters around it. Appends its JSON object to phases. */
void bench_phase_add(json_t *phases, const char *name, const char *unit,
		     uint64_t ops, uint64_t wall_ns,
		     const struct bench_counters *before,
		     const struct bench_counters *after);
/* The TD's memory figures now, as a JSON object. */
json_t *bench_memory_json(tdxmmu_td *td, uint64_t guest_bytes);

/* Runs fn on vCPUs 0..n-1 with per-vCPU lanes [base + i*len, +len) and
 * returns the wall time in *ns. 0, or 1 after a message. */
int bench_touch_lanes(tdxmmu_td *td, unsigned n, uint64_t base, uint64_t len,
		      bool write, uint64_t *ns, FILE *err);
/* The same, touching one page every `stride` bytes (a multiple of 4K). */
int bench_touch_lanes_stride(tdxmmu_td *td, unsigned n, uint64_t base, uint64_t len,
			     uint64_t stride, bool write, uint64_t *ns, FILE *err);

/* MapGPA of [gpa, +size) on vCPU 0 (the shared bit in gpa gives the
 * direction). 0, or 1 after a message. */
int bench_mapgpa(tdxmmu_td *td, uint64_t gpa, uint64_t size, FILE *err);

/* The workloads: fill *doc's "phases", "memory" and anything else. */
int bench_fault(const struct bench_opts *o, json_t *doc, FILE *err);
int bench_convert(const struct bench_opts *o, json_t *doc, FILE *err);
int bench_zap(const struct bench_opts *o, json_t *doc, FILE *err);
int bench_populate(const struct bench_opts *o, json_t *doc, FILE *err);

/* Order statistics of one figure over --repeat runs. Quartiles by linear
 * interpolation between the sorted values (the median of an even count is
 * the mean of the middle two). */
struct bench_stats {
	unsigned n;
	double median, min, max, q1, q3;
	double spread_pct;            /* (max - min) / median * 100 */
};
void bench_stats_compute(const double *v, unsigned n, struct bench_stats *s);

/* Where and how the figures were taken: CPU, cores, build, commit, date,
 * load (docs/performance.md, "Context"). */
json_t *bench_context_json(void);

/* Progress on standard error while a long run goes (only when err is a
 * terminal, and only once the command has run for 2 s, or
 * $TDXMMU_BENCH_PROGRESS_MS). Safe to call from vCPU threads: only the
 * thread that calls bench_progress_tick prints. */
void bench_progress_start(FILE *err, unsigned runs);
void bench_progress_run(unsigned run);
void bench_progress_phase(const char *name, uint64_t total_ops);
void bench_progress_add(uint64_t ops);
void bench_progress_tick(void);
void bench_progress_end(void);

/* `tdxmmu bench compare A.json B.json [--json]` (bench_compare.c). */
int bench_compare_main(int argc, char **argv, FILE *out, FILE *err);

#define BENCH_MiB (1ULL << 20)
#define BENCH_GiB (1ULL << 30)

#endif
