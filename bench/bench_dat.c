/* SPDX-License-Identifier: MIT */
/*
 * bench_dat DIR: reads the JSON documents `make bench` wrote in DIR (names as
 * scripts/bench.sh gives them) and writes the gnuplot data files next to
 * them: ns_per_op.dat, scaling.dat, mirror.dat. A missing or unavailable run
 * (mmu=legacy before it lands, --no-mirror before it exists) becomes NaN, so
 * the plots show a gap rather than a made-up number. Each wall-time figure
 * comes with its low and high over the --repeat runs (ns_per_op_stats min
 * and max; a result of one run has none: both are the figure), for the
 * plots' error bars.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

static const char *dir;

static json_t *load(const char *name)
{
	char path[1024];
	json_t *doc;

	snprintf(path, sizeof(path), "%s/%s.json", dir, name);
	doc = json_load_file(path, 0, NULL);
	if (doc && !json_is_true(json_object_get(doc, "available"))) {
		json_decref(doc);
		return NULL;
	}
	return doc;
}

/* A number of one phase of one run, or NaN. */
static double val(const char *run, const char *phase, const char *key)
{
	json_t *doc = load(run), *ph;
	double v = NAN;
	size_t i;

	if (!doc)
		return NAN;
	json_array_foreach(json_object_get(doc, "phases"), i, ph)
		if (!strcmp(json_string_value(json_object_get(ph, "name")), phase))
			v = json_number_value(json_object_get(ph, key));
	json_decref(doc);
	return v;
}

/* A wall-time figure of one phase of one run with its range over the runs:
 * key ns_per_op, ops_per_s (1e9 / ns) or hardware_ns_per_op (modeled +
 * ns). NaN when the run is not there. */
struct range {
	double v, lo, hi;
};

static struct range wall(const char *run, const char *phase, const char *key)
{
	struct range r = { val(run, phase, key), NAN, NAN };
	double ns = val(run, phase, "ns_per_op");
	double lo = NAN, hi = NAN;
	json_t *doc = load(run), *ph;
	size_t i;

	if (!doc)
		return r;
	json_array_foreach(json_object_get(doc, "phases"), i, ph) {
		json_t *st = json_object_get(ph, "ns_per_op_stats");

		if (strcmp(json_string_value(json_object_get(ph, "name")), phase))
			continue;
		lo = st ? json_number_value(json_object_get(st, "min")) : ns;
		hi = st ? json_number_value(json_object_get(st, "max")) : ns;
	}
	json_decref(doc);
	if (!strcmp(key, "ops_per_s")) {
		r.lo = hi > 0 ? 1e9 / hi : NAN;
		r.hi = lo > 0 ? 1e9 / lo : NAN;
	} else if (!strcmp(key, "hardware_ns_per_op")) {
		double modeled = val(run, phase, "modeled_ns_per_op");

		r.lo = modeled + lo;
		r.hi = modeled + hi;
	} else {
		r.lo = lo;
		r.hi = hi;
	}
	return r;
}

static FILE *out(const char *name)
{
	char path[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f)
		perror(path);
	return f;
}

int main(int argc, char **argv)
{
	/* run name = workload-MMU suffix */
	static const struct { const char *label, *workload, *suffix, *phase; } rows[] = {
		{ "fault\\nprivate\\nfirst", "fault", "-private-1", "first_touch" },
		{ "fault\\nprivate\\nleaf", "fault", "-private-1", "leaf" },
		{ "fault\\nshared\\nfirst", "fault", "-shared-1", "first_touch" },
		{ "fault\\nshared\\nleaf", "fault", "-shared-1", "leaf" },
		{ "convert\\np->s", "convert", "", "to_shared" },
		{ "convert\\ntouch p", "convert", "", "touch_private" },
		{ "zap\\nnotifier", "zap", "", "invalidate" },
		{ "zap\\nmemslot", "zap", "", "memslot_delete" },
		{ "populate\\n64G", "populate", "", "populate" },
	};
	static const char *const mmus[] = { "tdp", "legacy" };
	char run[256];
	FILE *f;

	if (argc != 2) {
		fprintf(stderr, "usage: bench_dat RESULTS-DIR\n");
		return 2;
	}
	dir = argv[1];

	if (!(f = out("ns_per_op.dat")))
		return 1;
	fprintf(f, "# workload/phase  tdp_ns_per_op tdp_min tdp_max  legacy_ns_per_op legacy_min legacy_max\n");
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		fprintf(f, "\"%s\"", rows[i].label);
		for (size_t m = 0; m < 2; m++) {
			snprintf(run, sizeof(run), "%s-%s%s", rows[i].workload,
				 mmus[m], rows[i].suffix);
			struct range r = wall(run, rows[i].phase, "ns_per_op");

			fprintf(f, " %.1f %.1f %.1f", r.v, r.lo, r.hi);
		}
		fputc('\n', f);
	}
	fclose(f);

	/* Leaf faults per second with 1 and 2 vCPUs, and the speed-up. */
	if (!(f = out("scaling.dat")))
		return 1;
	fprintf(f, "# vcpus  tdp_private tdp_shared legacy_private legacy_shared (faults/s),\n"
		   "# each followed by its low and high over the runs\n");
	for (int v = 1; v <= 2; v++) {
		fprintf(f, "%d", v);
		for (size_t m = 0; m < 2; m++)
			for (int a = 0; a < 2; a++) {
				snprintf(run, sizeof(run), "fault-%s-%s-%d", mmus[m],
					 a ? "shared" : "private", v);
				struct range r = wall(run, "leaf", "ops_per_s");

				fprintf(f, " %.0f %.0f %.0f", r.v, r.lo, r.hi);
			}
		fputc('\n', f);
	}
	fclose(f);

	/* Mirror against no-mirror: modeled and hardware ns, SEAMCALLs per
	 * private fault, first touch and leaf. */
	if (!(f = out("mirror.dat")))
		return 1;
	/* The modeled time is the same in every run; the hardware estimate
	 * adds the wall time, with its range. */
	fprintf(f, "# phase  mirror_modeled nomirror_modeled mirror_hw lo hi nomirror_hw lo hi mirror_seamcalls nomirror_seamcalls\n");
	for (int p = 0; p < 2; p++) {
		const char *ph = p ? "leaf" : "first_touch";
		struct range hw = wall("fault-tdp-private-1", ph, "hardware_ns_per_op");
		struct range hwn = wall("fault-tdp-private-1-nomirror", ph, "hardware_ns_per_op");

		fprintf(f, "\"%s\" %.1f %.1f %.1f %.1f %.1f %.1f %.1f %.1f %.3f %.3f\n",
			p ? "leaf fault" : "first-touch fault",
			val("fault-tdp-private-1", ph, "modeled_ns_per_op"),
			val("fault-tdp-private-1-nomirror", ph, "modeled_ns_per_op"),
			hw.v, hw.lo, hw.hi, hwn.v, hwn.lo, hwn.hi,
			val("fault-tdp-private-1", ph, "seamcalls_per_op"),
			val("fault-tdp-private-1-nomirror", ph, "seamcalls_per_op"));
	}
	fclose(f);
	return 0;
}
