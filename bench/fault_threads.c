/* SPDX-License-Identifier: MIT */
/*
 * Fault throughput on 1 and 2 vCPU threads: each vCPU touches every 4K page
 * of its own private range once (an EPT-violation exit, PAGE.AUG, #VE,
 * TDG.MEM.PAGE.ACCEPT and the write), in a finalized TD whose page tables
 * are built first, so the faults are leaf faults. Faults run under the read
 * side of mmu_lock, so disjoint ranges should scale with threads.
 *
 *   build/bench_fault_threads [MiB per vCPU, default 64] [rounds, default 3]
 *
 * Prints wall time, ns per fault and faults per second for 1 and 2 threads
 * (best of the rounds), and the ratio. A benchmark, not a test: it asserts
 * nothing about speed. Uses the public API only.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <tdxmmu/tdxmmu.h>

#define MiB (1ULL << 20)

struct lane {
	uint64_t base, size;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* One write per page: each one faults once. */
static int touch(tdxmmu_td *td, unsigned vcpu, void *arg)
{
	const struct lane *l = arg;
	enum tdxmmu_outcome o;

	for (uint64_t off = 0; off < l->size; off += 4096) {
		int ret = tdxmmu_vcpu_write(td, vcpu, l->base + off, off, &o);

		if (ret || o != TDXMMU_OUTCOME_OK)
			return ret ? ret : -1;
	}
	return 0;
}

/* Builds the page tables of [base, base+size) without mapping its pages:
 * fault one page per 2M region, then zap the leaves (tables stay). */
static int build_tables(tdxmmu_td *td, uint64_t base, uint64_t size)
{
	enum tdxmmu_outcome o;

	for (uint64_t off = 0; off < size; off += 2 * MiB)
		if (tdxmmu_vcpu_write(td, 0, base + off, 1, &o) || o != TDXMMU_OUTCOME_OK)
			return -1;
	return tdxmmu_host_zap(td, base, size, TDXMMU_ALIAS_PRIVATE);
}

static double run(unsigned threads, uint64_t per_vcpu)
{
	struct tdxmmu_td_config cfg;
	struct tdxmmu_destroy_report rep;
	struct lane lanes[2];
	tdxmmu_guest_fn fns[2] = { touch, touch };
	void *args[2] = { &lanes[0], &lanes[1] };
	int results[2] = { 0, 0 };
	tdxmmu_td *td;
	uint64_t t0, t1;

	tdxmmu_td_config_init(&cfg);
	cfg.nr_vcpus = 2;
	cfg.host_memory = 2 * per_vcpu + 64 * MiB;
	if (tdxmmu_td_create(&cfg, &td) ||
	    tdxmmu_memslot_add(td, 0, 0, 2 * per_vcpu) || tdxmmu_td_finalize(td) ||
	    build_tables(td, 0, 2 * per_vcpu)) {
		fprintf(stderr, "bench: setup failed: %s\n", tdxmmu_last_error());
		exit(1);
	}
	/* The same total work whatever the thread count: 2 x per_vcpu bytes. */
	if (threads == 1) {
		lanes[0] = (struct lane){ 0, 2 * per_vcpu };
	} else {
		lanes[0] = (struct lane){ 0, per_vcpu };
		lanes[1] = (struct lane){ per_vcpu, per_vcpu };
	}
	t0 = now_ns();
	if (tdxmmu_run_vcpus(td, threads, fns, args, results) || results[0] ||
	    results[1]) {
		fprintf(stderr, "bench: guest failed: %s\n", tdxmmu_last_error());
		exit(1);
	}
	t1 = now_ns();
	if (tdxmmu_td_destroy(td, &rep)) {
		fprintf(stderr, "bench: destroy: %s\n", rep.message);
		exit(1);
	}
	return (double)(t1 - t0);
}

int main(int argc, char **argv)
{
	uint64_t per_vcpu = (argc > 1 ? strtoull(argv[1], NULL, 0) : 64) * MiB;
	int rounds = argc > 2 ? atoi(argv[2]) : 3;
	uint64_t faults = 2 * per_vcpu / 4096;
	double best[3] = { 0, 1e300, 1e300 };

	if (per_vcpu == 0 || rounds < 1) {
		fprintf(stderr, "usage: %s [MiB per vCPU] [rounds]\n", argv[0]);
		return 2;
	}
	for (int r = 0; r < rounds; r++)
		for (unsigned t = 1; t <= 2; t++) {
			double ns = run(t, per_vcpu);

			if (ns < best[t])
				best[t] = ns;
		}
	printf("private 4K leaf faults, %" PRIu64 " faults per run, best of %d\n",
	       faults, rounds);
	printf("%-8s %12s %12s %14s\n", "threads", "wall ms", "ns/fault", "faults/s");
	for (unsigned t = 1; t <= 2; t++)
		printf("%-8u %12.1f %12.1f %14.0f\n", t, best[t] / 1e6,
		       best[t] / (double)faults, (double)faults * 1e9 / best[t]);
	printf("speed-up with 2 threads: %.2fx\n", best[1] / best[2]);
	return 0;
}
