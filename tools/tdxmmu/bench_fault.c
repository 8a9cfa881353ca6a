/* SPDX-License-Identifier: MIT */
/*
 * fault: T vCPUs touch every 4K page of disjoint ranges (one range each,
 * --size / T bytes), on the private or the shared alias:
 *   first_touch  in an empty, finalized TD: each fault also builds the
 *                tables it needs (for a private page, TDH.MEM.SEPT.ADDs)
 *   leaf         after a zap of the alias that keeps the tables: leaf faults
 *                only (best of --rounds; --repeat repeats all of it)
 * The unit is the whole guest access that faults: the EPT-violation exit,
 * KVM's fault, the SEAMCALLs, the re-entry and, for a private page, the #VE
 * and TDG.MEM.PAGE.ACCEPT, then the access itself.
 */
#include "bench.h"

int bench_fault(const struct bench_opts *o, json_t *doc, FILE *err)
{
	json_t *phases = json_object_get(doc, "phases");
	uint64_t lane = o->size / o->vcpus, pages = o->size / 4096;
	struct bench_counters before, after, best_b, best_a;
	uint64_t base, ns, best = UINT64_MAX;
	const char *why;
	tdxmmu_td *td;
	int ret;

	/* Frames: the guest's, plus S-EPT and control pages (1 per 2M). */
	ret = bench_td_create(o, o->size + o->size / 256 + 64 * BENCH_MiB, &td, &why, err);
	if (ret)
		return ret < 0 ? (json_object_set_new(doc, "reason", json_string(why)), -1) : ret;
	base = o->alias == TDXMMU_ALIAS_SHARED ? tdxmmu_td_shared_bit(td) : 0;
	if (tdxmmu_memslot_add_flags(td, 0, 0, o->size,
				     o->hugepages ? TDXMMU_MEMSLOT_HUGEPAGES : 0) ||
	    tdxmmu_td_finalize(td)) {
		fprintf(err, "tdxmmu bench: fault: setup: %s\n", tdxmmu_last_error());
		goto fail;
	}
	/* Pages start private: the guest converts the range first (untimed)
	 * so that its shared touches map instead of looping on the wrong
	 * alias. */
	if (o->alias == TDXMMU_ALIAS_SHARED && bench_mapgpa(td, base, o->size, err))
		goto fail;

	bench_progress_phase("first_touch", pages);
	bench_counters_take(td, &before);
	if (bench_touch_lanes(td, o->vcpus, base, lane, o->write, &ns, err))
		goto fail;
	bench_counters_take(td, &after);
	bench_phase_add(phases, "first_touch", "fault", pages, ns, &before, &after);
	/* Memory with every page mapped, before the zaps take the leaves. */
	json_object_set_new(doc, "memory", bench_memory_json(td, o->size));

	bench_progress_phase("leaf", pages * o->rounds);
	for (unsigned r = 0; r < o->rounds; r++) {
		if (tdxmmu_host_zap(td, base, o->size, o->alias)) {
			fprintf(err, "tdxmmu bench: fault: zap: %s\n", tdxmmu_last_error());
			goto fail;
		}
		bench_counters_take(td, &before);
		if (bench_touch_lanes(td, o->vcpus, base, lane, o->write, &ns, err))
			goto fail;
		bench_counters_take(td, &after);
		if (ns < best) {
			best = ns;
			best_b = before;
			best_a = after;
		}
	}
	bench_phase_add(phases, "leaf", "fault", pages, best, &best_b, &best_a);
	return bench_td_destroy(td, err);
fail:
	bench_td_destroy(td, err);
	return 1;
}
