/* SPDX-License-Identifier: MIT */
/*
 * zap: a range (--size) populated half private (first half) and half shared
 * (second half) by --vcpus vCPUs, then
 *   invalidate      an MMU-notifier invalidation of the whole range: zaps the
 *                   shared alias only (private frames are pinned), one op =
 *                   one mapped shared page
 *   memslot_delete  the memslot deleted: the private pages are removed
 *                   (BLOCK, TRACK per batch, REMOVE) and the tables freed,
 *                   one op = one mapped private page
 */
#include "bench.h"

int bench_zap(const struct bench_opts *o, json_t *doc, FILE *err)
{
	json_t *phases = json_object_get(doc, "phases");
	uint64_t half = o->size / 2, ns, t0;
	struct bench_counters b, a;
	const char *why;
	tdxmmu_td *td;
	int ret;

	bench_progress_phase("setup", o->size / 4096);
	ret = bench_td_create(o, o->size + o->size / 256 + 64 * BENCH_MiB, &td, &why, err);
	if (ret)
		return ret < 0 ? (json_object_set_new(doc, "reason", json_string(why)), -1) : ret;
	if (tdxmmu_memslot_add(td, 0, 0, o->size) || tdxmmu_td_finalize(td) ||
	    bench_mapgpa(td, tdxmmu_td_shared_bit(td) + half, half, err) ||
	    bench_touch_lanes(td, o->vcpus, 0, half / o->vcpus, o->write, &ns, err) ||
	    bench_touch_lanes(td, o->vcpus, tdxmmu_td_shared_bit(td) + half,
			      half / o->vcpus, o->write, &ns, err)) {
		fprintf(err, "tdxmmu bench: zap: setup: %s\n", tdxmmu_last_error());
		goto fail;
	}
	json_object_set_new(doc, "memory", bench_memory_json(td, o->size));

	bench_progress_phase("invalidate", 0);
	bench_counters_take(td, &b);
	t0 = bench_now_ns();
	if (tdxmmu_host_invalidate(td, 0, o->size)) {
		fprintf(err, "tdxmmu bench: zap: invalidate: %s\n", tdxmmu_last_error());
		goto fail;
	}
	ns = bench_now_ns() - t0;
	bench_counters_take(td, &a);
	bench_phase_add(phases, "invalidate", "page", half / 4096, ns, &b, &a);

	bench_progress_phase("memslot_delete", 0);
	bench_counters_take(td, &b);
	t0 = bench_now_ns();
	if (tdxmmu_memslot_delete(td, 0)) {
		fprintf(err, "tdxmmu bench: zap: memslot delete: %s\n", tdxmmu_last_error());
		goto fail;
	}
	ns = bench_now_ns() - t0;
	bench_counters_take(td, &a);
	bench_phase_add(phases, "memslot_delete", "page", half / 4096, ns, &b, &a);
	return bench_td_destroy(td, err);
fail:
	bench_td_destroy(td, err);
	return 1;
}
