/* SPDX-License-Identifier: MIT */
/*
 * convert: a private range (--size, populated and accepted first) is
 * converted to shared and back with MapGPA, --rounds times; between the
 * conversions vCPU 0 touches every page on the new alias (shared: a shared
 * EPT fault each; private: a fault, PAGE.AUG, #VE and ACCEPT each). Phases,
 * summed over the rounds, one op = one 4K page:
 *   to_shared      MapGPA private->shared (BLOCK + REMOVE per page, one
 *                  TRACK per batch: kvm-tdx-mmu.md)
 *   touch_shared   the guest's first touches of the shared pages
 *   to_private     MapGPA shared->private (zaps the shared EPT)
 *   touch_private  the guest's first touches (and accepts) of private pages
 */
#include "bench.h"

struct step {
	const char *name;
	struct bench_counters before, sum_after;
	uint64_t ns;
};

int bench_convert(const struct bench_opts *o, json_t *doc, FILE *err)
{
	json_t *phases = json_object_get(doc, "phases");
	uint64_t pages = o->size / 4096, shared, t0, ns;
	struct bench_counters start, b, a;
	struct step steps[4] = { { "to_shared" }, { "touch_shared" },
				 { "to_private" }, { "touch_private" } };
	uint64_t per_step[4][BENCH_MAX_COUNTERS] = { { 0 } };
	const char *why;
	tdxmmu_td *td;
	int ret;

	bench_progress_phase("setup", pages);
	ret = bench_td_create(o, o->size + o->size / 256 + 64 * BENCH_MiB, &td, &why, err);
	if (ret)
		return ret < 0 ? (json_object_set_new(doc, "reason", json_string(why)), -1) : ret;
	shared = tdxmmu_td_shared_bit(td);
	if (tdxmmu_memslot_add(td, 0, 0, o->size) || tdxmmu_td_finalize(td) ||
	    bench_touch_lanes(td, 1, 0, o->size, o->write, &ns, err)) {
		fprintf(err, "tdxmmu bench: convert: setup: %s\n", tdxmmu_last_error());
		goto fail;
	}
	bench_counters_take(td, &start);
	/* Progress counts the pages touched (both touch steps). */
	bench_progress_phase("convert", 2 * pages * o->rounds);
	for (unsigned r = 0; r < o->rounds; r++) {
		for (int s = 0; s < 4; s++) {
			bench_counters_take(td, &b);
			t0 = bench_now_ns();
			switch (s) {
			case 0: ret = bench_mapgpa(td, shared, o->size, err); break;
			case 1: ret = bench_touch_lanes(td, 1, shared, o->size, o->write, &ns, err); break;
			case 2: ret = bench_mapgpa(td, 0, o->size, err); break;
			default: ret = bench_touch_lanes(td, 1, 0, o->size, o->write, &ns, err); break;
			}
			steps[s].ns += bench_now_ns() - t0;
			if (ret)
				goto fail;
			bench_counters_take(td, &a);
			for (unsigned i = 0; i < a.n; i++)
				per_step[s][i] += bench_counter_delta(&b, &a, a.name[i]);
		}
	}
	/* Phases from the summed deltas: "before" all zero, "after" the sums. */
	for (int s = 0; s < 4; s++) {
		struct bench_counters zero = start, sum = start;

		for (unsigned i = 0; i < start.n; i++) {
			zero.val[i] = 0;
			sum.val[i] = per_step[s][i];
		}
		bench_phase_add(phases, steps[s].name, "page", pages * o->rounds,
				steps[s].ns, &zero, &sum);
	}
	/* The conversion figures the targets name. */
	{
		json_t *ph = json_array_get(phases, 0);
		double gib = (double)o->size / (double)BENCH_GiB;
		double ms = (double)steps[0].ns / 1e6 / o->rounds;

		json_object_set_new(doc, "to_shared_ms_per_gib", json_real(ms / gib));
		json_object_set_new(doc, "tracks_per_conversion",
				    json_real((double)json_integer_value(json_object_get(ph, "tracks")) /
					      o->rounds));
		json_object_set_new(doc, "conversion_batches",
				    json_real((double)json_integer_value(
						      json_object_get(json_object_get(ph, "counters"),
								      "exit.vmcall")) / o->rounds));
	}
	json_object_set_new(doc, "memory", bench_memory_json(td, o->size));
	return bench_td_destroy(td, err);
fail:
	bench_td_destroy(td, err);
	return 1;
}
