/* SPDX-License-Identifier: MIT */
/*
 * populate: a large TD (--size, default 64G) built (memslot, 16 measured
 * build-time pages with TDH.MEM.PAGE.ADD + TDH.MR.EXTEND), finalized, then
 * fully populated at 4K by --vcpus vCPUs touching every page (fault, AUG,
 * #VE, ACCEPT). Reports the time of each phase and the memory of the
 * populated TD: the three trees, the PAMT, and the process's peak RSS per
 * GiB of guest memory.
 *
 * --hugepages: the memslot is hugepages=on and the guest touches one page of
 * each 2M page after the first (whose build-time pages keep it 4K): each
 * touch faults a 2M leaf (TDH.MEM.PAGE.AUG at 2M) and the #VE handler
 * accepts it at 2M, so the TD is fully populated with 2M pages
 * (docs/large-pages.md), as a guest that accepts its memory in 2M units.
 */
#include "bench.h"

#define BUILD_PAGES 16

int bench_populate(const struct bench_opts *o, json_t *doc, FILE *err)
{
	json_t *phases = json_object_get(doc, "phases");
	uint64_t ns, t0, built = BUILD_PAGES * 4096;
	struct bench_counters b, a;
	const char *why;
	tdxmmu_td *td;
	int ret;

	bench_progress_phase("build", 0);
	t0 = bench_now_ns();
	ret = bench_td_create(o, o->size + o->size / 256 + 64 * BENCH_MiB, &td, &why, err);
	if (ret)
		return ret < 0 ? (json_object_set_new(doc, "reason", json_string(why)), -1) : ret;
	bench_counters_take(td, &b);
	if (tdxmmu_memslot_add_flags(td, 0, 0, o->size,
				     o->hugepages ? TDXMMU_MEMSLOT_HUGEPAGES : 0))
		goto setup_fail;
	for (uint64_t gpa = 0; gpa < built; gpa += 4096)
		if (tdxmmu_td_add_page(td, gpa, (uint8_t)(gpa >> 12)))
			goto setup_fail;
	if (tdxmmu_td_finalize(td))
		goto setup_fail;
	ns = bench_now_ns() - t0;
	bench_counters_take(td, &a);
	bench_phase_add(phases, "build", "page", BUILD_PAGES, ns, &b, &a);

	/* The build-time pages are mapped already: vCPU 0 touches the rest of
	 * the first 2M region, then the vCPUs split the remaining regions. */
	{
		uint64_t stride = o->hugepages ? 2 * BENCH_MiB : 4096;
		uint64_t lane = ((o->size - 2 * BENCH_MiB) / o->vcpus) & ~(stride - 1);
		uint64_t ns2 = 0, faults = (2 * BENCH_MiB - built) / 4096 +
					   lane / stride * o->vcpus;

		bench_progress_phase("populate", faults);
		bench_counters_take(td, &b);
		if (bench_touch_lanes(td, 1, built, 2 * BENCH_MiB - built, o->write, &ns, err) ||
		    (lane && bench_touch_lanes_stride(td, o->vcpus, 2 * BENCH_MiB, lane, stride,
						      o->write, &ns2, err)))
			goto fail;
		bench_counters_take(td, &a);
		bench_phase_add(phases, "populate", "fault", faults, ns + ns2, &b, &a);
	}
	json_object_set_new(doc, "memory", bench_memory_json(td, o->size));
	return bench_td_destroy(td, err);
setup_fail:
	fprintf(err, "tdxmmu bench: populate: setup: %s\n", tdxmmu_last_error());
fail:
	bench_td_destroy(td, err);
	return 1;
}
