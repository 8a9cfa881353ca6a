/* SPDX-License-Identifier: MIT */
/* Internals shared by the files implementing the public API. */
#ifndef TDXMMU_API_INTERNAL_H
#define TDXMMU_API_INTERNAL_H

#include <stdarg.h>

#include <pthread.h>

#include "host/host_mem.h"
#include "tdxmmu/tdxmmu.h"

struct kvm;
struct tdx_module;
struct cpu;

#define TDXMMU_VERSION_STRING "0.1.0"

/* Records a message for tdxmmu_last_error() and returns err. */
int api_fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The state word of one KVM SPTE, as expect-spte names it (td.c). */
enum tdxmmu_spte_state api_spte_state_of(uint64_t spte);
/* The public name of the module's S-EPT state s (enum tdx_sept_state;
 * FREE for a value that is none); td.c. */
enum tdxmmu_sept_state api_sept_state_of(unsigned s);

/* One platform: host memory, memslots, the TDX module, KVM's VM, vCPUs. */
struct tdxmmu_td {
	struct tdxmmu_td_config cfg;
	struct host_mem *hm;
	struct host_memslots *slots;
	struct tdx_module *tdx;
	struct kvm *kvm;
	struct cpu *cpu;

	/* Frames the host handed to raw SEAMCALLs (page=new and page=of:ADDR):
	 * the TD may own them without KVM knowing, so destroy reclaims them
	 * from the module before the TDR can go. `owned` marks page=new frames,
	 * which the host frees afterwards. */
	pthread_mutex_t raw_lock;
	struct raw_page {
		pfn_t pfn;
		bool owned;
	} *raw;
	size_t nr_raw, cap_raw;
};

#endif
