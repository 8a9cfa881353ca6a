/* SPDX-License-Identifier: MIT */
/*
 * `tdxmmu bench`: what makes figures comparable (bench.h): order statistics
 * over --repeat runs, the context a result was taken in, and progress on a
 * terminal during long runs.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#if __has_include("tdxmmu_build_info.h")
#include "tdxmmu_build_info.h"
#endif
#ifndef TDXMMU_GIT_DESCRIBE
#define TDXMMU_GIT_DESCRIBE "unknown"
#endif
#ifndef TDXMMU_BUILD_TYPE
#define TDXMMU_BUILD_TYPE "unknown"
#endif

/* ---- statistics ---- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The p-quantile of sorted v[0..n-1], interpolating between neighbours. */
static double quantile(const double *v, unsigned n, double p)
{
	double h = (double)(n - 1) * p;
	unsigned lo = (unsigned)h;

	if (lo + 1 >= n)
		return v[n - 1];
	return v[lo] + (h - (double)lo) * (v[lo + 1] - v[lo]);
}

void bench_stats_compute(const double *v, unsigned n, struct bench_stats *s)
{
	double *sorted;

	*s = (struct bench_stats){ .n = n };
	if (!n || !(sorted = malloc(n * sizeof(*sorted))))
		return;
	memcpy(sorted, v, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), cmp_double);
	s->min = sorted[0];
	s->max = sorted[n - 1];
	s->median = quantile(sorted, n, 0.5);
	s->q1 = quantile(sorted, n, 0.25);
	s->q3 = quantile(sorted, n, 0.75);
	s->spread_pct = s->median > 0 ? (s->max - s->min) / s->median * 100.0 : 0.0;
	free(sorted);
}

/* ---- context ---- */

/* The value of the first "KEY<spaces>: value" line of /proc/cpuinfo. */
static json_t *cpu_model(void)
{
	char line[512];
	FILE *f = fopen("/proc/cpuinfo", "r");
	json_t *j = NULL;

	while (f && !j && fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');
		size_t n;

		if (strncmp(line, "model name", 10) || !colon)
			continue;
		colon++;
		while (*colon == ' ' || *colon == '\t')
			colon++;
		n = strcspn(colon, "\n");
		colon[n] = 0;
		j = json_string(colon);
	}
	if (f)
		fclose(f);
	/* Some architectures' cpuinfo has no model name. */
	return j ? j : json_string("unknown");
}

static json_t *loadavg_1m(void)
{
	FILE *f = fopen("/proc/loadavg", "r");
	double l;
	int ok = f && fscanf(f, "%lf", &l) == 1;

	if (f)
		fclose(f);
	return ok ? json_real(l) : json_null();
}

static json_t *date_utc(void)
{
	char buf[32];
	time_t t = time(NULL);
	struct tm tm;

	if (!gmtime_r(&t, &tm) || !strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm))
		return json_null();
	return json_string(buf);
}

json_t *bench_context_json(void)
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);

	return json_pack("{s:o,s:I,s:s,s:s,s:o,s:o,s:s}",
			 "cpu_model", cpu_model(),
			 "cores_online", (json_int_t)(cores > 0 ? cores : 0),
			 "build_type", TDXMMU_BUILD_TYPE,
			 "commit", TDXMMU_GIT_DESCRIBE,
			 "date_utc", date_utc(),
			 "loadavg_1m", loadavg_1m(),
			 "tdxmmu_version", tdxmmu_version());
}

/* ---- progress ---- */

/* One command at a time per process: the state is global. The thread that
 * calls bench_progress_tick is the main thread or vCPU 0's, one at a time
 * (the main thread waits for the vCPU threads). */
static struct {
	FILE *f;
	bool on, shown;
	uint64_t t0, last, after_ns;
	unsigned run, runs;
	char phase[64];
	uint64_t total;
	atomic_uint_fast64_t done;
} prog;

#define PROGRESS_EVERY_NS 250000000ULL

void bench_progress_start(FILE *err, unsigned runs)
{
	const char *ms = getenv("TDXMMU_BENCH_PROGRESS_MS");
	char *end;
	unsigned long long v;

	prog.f = err;
	/* A memstream or a pipe has no terminal: tests and JSON captured by a
	 * script see nothing. */
	prog.on = err && isatty(fileno(err));
	prog.shown = false;
	prog.after_ns = 2000000000ULL;
	if (ms && *ms) {
		v = strtoull(ms, &end, 10);
		if (!*end)
			prog.after_ns = v * 1000000ULL;
	}
	prog.t0 = bench_now_ns();
	prog.runs = runs;
	prog.run = 1;
	prog.phase[0] = 0;
	prog.total = 0;
	atomic_store(&prog.done, 0);
}

void bench_progress_run(unsigned run)
{
	prog.run = run;
}

void bench_progress_phase(const char *name, uint64_t total_ops)
{
	snprintf(prog.phase, sizeof(prog.phase), "%s", name);
	prog.total = total_ops;
	atomic_store(&prog.done, 0);
	bench_progress_tick();
}

void bench_progress_add(uint64_t ops)
{
	atomic_fetch_add_explicit(&prog.done, ops, memory_order_relaxed);
}

void bench_progress_tick(void)
{
	uint64_t now;

	if (!prog.on)
		return;
	now = bench_now_ns();
	if (now - prog.t0 < prog.after_ns ||
	    (prog.shown && now - prog.last < PROGRESS_EVERY_NS))
		return;
	fputs("\rtdxmmu bench: ", prog.f);
	if (prog.runs > 1)
		fprintf(prog.f, "run %u/%u, ", prog.run, prog.runs);
	fputs(prog.phase[0] ? prog.phase : "setup", prog.f);
	if (prog.total) {
		uint64_t done = atomic_load_explicit(&prog.done, memory_order_relaxed);

		fprintf(prog.f, " %3.0f%%", 100.0 * (double)(done < prog.total ? done : prog.total) /
						    (double)prog.total);
	}
	/* Clear what a longer previous line left. */
	fputs("\033[K", prog.f);
	fflush(prog.f);
	prog.shown = true;
	prog.last = now;
}

void bench_progress_end(void)
{
	if (prog.on && prog.shown) {
		fputs("\r\033[K", prog.f);
		fflush(prog.f);
	}
	prog.on = false;
}
