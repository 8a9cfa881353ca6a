/* SPDX-License-Identifier: MIT */
/*
 * What the benchmarks read besides the counters: the cost model by name
 * (SEAMCALL leaves, the guest's ACCEPT TDCALL, TD exits) and the memory the
 * three page-table trees and the PAMT take. Observers: they change nothing
 * and count nothing.
 */
#include <string.h>

#include "api/api_internal.h"
#include "kvm/kvm.h"
#include "tdx/tdx_module.h"
#include "tdx/tdx_status.h"

#define COST_ACCEPT "TDG.MEM.PAGE.ACCEPT"
#define COST_EXIT "TD.EXIT"

TDXMMU_API int tdxmmu_cost_set_named(tdxmmu_td *td, const char *name,
				     uint64_t ns)
{
	int leaf;

	if (!td || !name)
		return api_fail(TDXMMU_EINVAL, "cost: NULL argument");
	if (!strcmp(name, COST_ACCEPT)) {
		tdx_module_set_tdcall_cost(td->tdx, ns);
		return TDXMMU_OK;
	}
	if (!strcmp(name, COST_EXIT)) {
		tdx_module_set_exit_cost(td->tdx, ns);
		return TDXMMU_OK;
	}
	leaf = tdx_leaf_parse(name);
	if (leaf < 0)
		return api_fail(TDXMMU_ENOENT, "cost: unknown name '%s' (a SEAMCALL mnemonic, %s or %s)",
				name, COST_ACCEPT, COST_EXIT);
	tdx_module_set_cost(td->tdx, leaf, ns);
	return TDXMMU_OK;
}

TDXMMU_API int tdxmmu_cost_get_named(tdxmmu_td *td, const char *name,
				     uint64_t *ns)
{
	int leaf;

	if (!td || !name || !ns)
		return api_fail(TDXMMU_EINVAL, "cost: NULL argument");
	if (!strcmp(name, COST_ACCEPT)) {
		*ns = tdx_module_tdcall_cost(td->tdx);
		return TDXMMU_OK;
	}
	if (!strcmp(name, COST_EXIT)) {
		*ns = tdx_module_exit_cost(td->tdx);
		return TDXMMU_OK;
	}
	leaf = tdx_leaf_parse(name);
	if (leaf < 0)
		return api_fail(TDXMMU_ENOENT, "cost: unknown name '%s'", name);
	*ns = tdx_module_cost(td->tdx, leaf);
	return TDXMMU_OK;
}

TDXMMU_API void tdxmmu_costs_foreach(tdxmmu_td *td,
				     void (*fn)(const char *name, uint64_t ns,
						void *arg),
				     void *arg)
{
	if (!td || !fn)
		return;
	for (int leaf = 0; leaf < TDX_NR_LEAVES; leaf++)
		if (tdx_leaf_name(leaf))
			fn(tdx_leaf_name(leaf), tdx_module_cost(td->tdx, leaf), arg);
	fn(COST_ACCEPT, tdx_module_tdcall_cost(td->tdx), arg);
	fn(COST_EXIT, tdx_module_exit_cost(td->tdx), arg);
}

static void count_sept_page(uint64_t gpa, unsigned level,
			    enum tdx_sept_state state, hpa_t hpa, void *arg)
{
	(void)gpa;
	(void)level;
	(void)hpa;
	/* A non-leaf entry points to one S-EPT page. */
	if (state == SEPT_NL_MAPPED || state == SEPT_NL_BLOCKED)
		++*(uint64_t *)arg;
}

TDXMMU_API int tdxmmu_mem_stats(tdxmmu_td *td, struct tdxmmu_mem_stats *out)
{
	if (!td || !out)
		return api_fail(TDXMMU_EINVAL, "mem stats: NULL argument");
	*out = (struct tdxmmu_mem_stats){ 0 };
	out->shared_ept_pages = kvm_stat_read(td->kvm, pages_shared_spt);
	out->mirror_ept_pages = kvm_stat_read(td->kvm, pages_private_spt);
	tdx_debug_sept_foreach(td->tdx, td->kvm->tdr, count_sept_page,
			       &out->sept_pages);
	out->pamt_bytes = tdx_module_pamt_resident_bytes(td->tdx);
	out->host_bytes = host_mem_resident_bytes(td->hm);
	return TDXMMU_OK;
}
