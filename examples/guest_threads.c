/* SPDX-License-Identifier: MIT */
/*
 * Guest programs on vCPU threads, with the host acting at the same time.
 *
 * Two vCPUs each run a guest program on their own thread (tdxmmu_run_vcpus):
 * fill and read back their own private range, then convert one page to
 * shared with MapGPA and use it through the shared alias. Meanwhile the main
 * thread plays the host: it keeps invalidating the shared range (what an
 * MMU notifier does when the host reclaims or migrates those pages). At the
 * end the invariant checker runs and the TD is torn down.
 *
 * Only the public header is used: copy this file and build it against an
 * installed tdxmmu with
 *   cc -std=c17 guest_threads.c $(pkg-config --cflags --libs tdxmmu) -pthread
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include <tdxmmu/tdxmmu.h>

#define MiB (UINT64_C(1) << 20)
#define NR_VCPUS 2
#define PRIVATE_SIZE (2 * MiB)        /* vCPU i owns [i*2M, (i+1)*2M) */
#define SHARED_BASE (8 * MiB)         /* vCPU i converts SHARED_BASE + i*4K */
#define SHARED_SIZE (2 * MiB)         /* what the host invalidates */

struct guest {
	uint8_t byte;           /* what this vCPU fills its range with */
	uint64_t shared_value;  /* what it writes to its shared page */
};

static int fail(unsigned vcpu, const char *what, int rc,
		enum tdxmmu_outcome o)
{
	printf("vcpu %u: %s failed: %s %s (%s)\n", vcpu, what,
	       rc < 0 ? tdxmmu_strerror(rc) : "outcome",
	       rc < 0 ? "" : tdxmmu_outcome_name(o), tdxmmu_last_error());
	return -1;
}

/* The guest program: it runs on vCPU `vcpu`'s thread. */
static int guest_main(tdxmmu_td *td, unsigned vcpu, void *arg)
{
	const struct guest *g = arg;
	uint64_t base = vcpu * PRIVATE_SIZE, bad = 0, val = 0;
	uint64_t page = SHARED_BASE + vcpu * 4096;
	uint64_t shared = page | tdxmmu_td_shared_bit(td);
	enum tdxmmu_outcome o = TDXMMU_OUTCOME_OK;
	int rc;

	/* Private memory: fill it, overwrite one word, read both back. */
	rc = tdxmmu_vcpu_fill(td, vcpu, base, PRIVATE_SIZE, g->byte, &o);
	if (rc < 0 || o != TDXMMU_OUTCOME_OK)
		return fail(vcpu, "fill", rc, o);
	rc = tdxmmu_vcpu_write(td, vcpu, base + 8, 0x1000 + vcpu, &o);
	if (rc < 0 || o != TDXMMU_OUTCOME_OK)
		return fail(vcpu, "write", rc, o);
	rc = tdxmmu_vcpu_read(td, vcpu, base + 8, &val, &o);
	if (rc < 0 || o != TDXMMU_OUTCOME_OK)
		return fail(vcpu, "read", rc, o);
	rc = tdxmmu_vcpu_verify(td, vcpu, base + 4096, PRIVATE_SIZE - 4096,
				g->byte, &bad, &o);
	if (rc < 0 || o != TDXMMU_OUTCOME_OK || bad != UINT64_MAX)
		return fail(vcpu, "verify", rc, o);
	printf("vcpu %u: private [%#llx, %#llx) filled with %#x, word %#llx\n",
	       vcpu, (unsigned long long)base,
	       (unsigned long long)(base + PRIVATE_SIZE), g->byte,
	       (unsigned long long)val);

	/* Convert one page to shared and use it through the shared alias
	 * (the host may zap it at any time: the access just faults it in
	 * again). */
	rc = tdxmmu_vcpu_mapgpa(td, vcpu, shared, 4096, &o);
	if (rc < 0 || o != TDXMMU_OUTCOME_OK)
		return fail(vcpu, "mapgpa", rc, o);
	rc = tdxmmu_vcpu_write(td, vcpu, shared, g->shared_value, &o);
	if (rc < 0 || o != TDXMMU_OUTCOME_OK)
		return fail(vcpu, "shared write", rc, o);
	rc = tdxmmu_vcpu_read(td, vcpu, shared, &val, &o);
	if (rc < 0 || o != TDXMMU_OUTCOME_OK || val != g->shared_value)
		return fail(vcpu, "shared read", rc, o);
	/* Its private alias is now off limits: the access would loop. */
	rc = tdxmmu_vcpu_read(td, vcpu, page, &val, &o);
	if (rc < 0 || o != TDXMMU_OUTCOME_BLOCKED)
		return fail(vcpu, "private read of the shared page", rc, o);
	printf("vcpu %u: page %#llx converted to shared, reads %#llx; "
	       "its private alias is %s\n", vcpu, (unsigned long long)page,
	       (unsigned long long)g->shared_value, tdxmmu_outcome_name(o));
	return 0;
}

struct vcpus_run {
	tdxmmu_td *td;
	int rc;
	int results[NR_VCPUS];
	atomic_bool done;
};

/* Runs the guest programs, so that the main thread is free to be the host. */
static void *vcpus_thread(void *p)
{
	static const tdxmmu_guest_fn fns[NR_VCPUS] = { guest_main, guest_main };
	static struct guest guests[NR_VCPUS] = {
		{ .byte = 0xa0, .shared_value = 0x5a5a0000 },
		{ .byte = 0xb1, .shared_value = 0x5a5a0001 },
	};
	void *const args[NR_VCPUS] = { &guests[0], &guests[1] };
	struct vcpus_run *run = p;

	run->rc = tdxmmu_run_vcpus(run->td, NR_VCPUS, fns, args, run->results);
	atomic_store(&run->done, true);
	return NULL;
}

int main(void)
{
	struct tdxmmu_td_config cfg;
	struct tdxmmu_destroy_report rep;
	struct vcpus_run run = { 0 };
	unsigned long invalidations = 0;
	static char report[16384];
	pthread_t tid;
	int status = 0, n;

	tdxmmu_td_config_init(&cfg);
	cfg.nr_vcpus = NR_VCPUS;
	if (tdxmmu_td_create(&cfg, &run.td) ||
	    tdxmmu_memslot_add(run.td, 0, 0, 16 * MiB) ||
	    tdxmmu_td_finalize(run.td)) {
		printf("error: %s\n", tdxmmu_last_error());
		return 1;
	}
	atomic_init(&run.done, false);
	if (pthread_create(&tid, NULL, vcpus_thread, &run)) {
		printf("error: cannot create a thread\n");
		return 1;
	}
	/* The host: invalidate the shared range until the guests are done. */
	do {
		if (tdxmmu_host_invalidate(run.td, SHARED_BASE, SHARED_SIZE)) {
			printf("host: invalidate failed: %s\n",
			       tdxmmu_last_error());
			status = 1;
			break;
		}
		invalidations++;
	} while (!atomic_load(&run.done));
	pthread_join(tid, NULL);
	printf("host: invalidated [%#llx, %#llx) %lu times meanwhile\n",
	       (unsigned long long)SHARED_BASE,
	       (unsigned long long)(SHARED_BASE + SHARED_SIZE), invalidations);

	if (run.rc) {
		printf("tdxmmu_run_vcpus: %s\n", tdxmmu_strerror(run.rc));
		status = 1;
	}
	for (unsigned i = 0; i < NR_VCPUS; i++)
		if (run.results[i]) {
			printf("vcpu %u: guest program returned %d\n", i,
			       run.results[i]);
			status = 1;
		}
	n = tdxmmu_check(run.td, report, sizeof(report));
	if (n != 0) {
		printf("check: %d violation(s)\n%s", n, report);
		status = 1;
	} else {
		printf("check: no violation\n");
	}
	if (tdxmmu_td_destroy(run.td, &rep)) {
		printf("destroy: %s\n", rep.message);
		status = 1;
	} else {
		printf("destroy: nothing leaked\n");
	}
	printf("%s\n", status ? "FAILED" : "OK");
	return status;
}
