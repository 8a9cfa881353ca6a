/* SPDX-License-Identifier: MIT */
/* The backend the runner drives in real runs: the public API itself. */
#include "scenario/runner.h"

const struct scn_backend scn_backend_tdxmmu = {
	.td_config_init = tdxmmu_td_config_init,
	.td_create = tdxmmu_td_create,
	.td_destroy = tdxmmu_td_destroy,
	.memslot_add = tdxmmu_memslot_add,
	.td_add_page = tdxmmu_td_add_page,
	.td_finalize = tdxmmu_td_finalize,
	.vcpu_read = tdxmmu_vcpu_read,
	.vcpu_write = tdxmmu_vcpu_write,
	.vcpu_fill = tdxmmu_vcpu_fill,
	.vcpu_verify = tdxmmu_vcpu_verify,
	.vcpu_accept = tdxmmu_vcpu_accept,
	.vcpu_mapgpa = tdxmmu_vcpu_mapgpa,
	.host_read = tdxmmu_host_read,
	.host_write = tdxmmu_host_write,
	.host_invalidate = tdxmmu_host_invalidate,
	.memslot_delete = tdxmmu_memslot_delete,
	.host_zap = tdxmmu_host_zap,
	.host_frame_new = tdxmmu_host_frame_new,
	.host_frame_of = tdxmmu_host_frame_of,
	.seamcall = tdxmmu_seamcall,
	.sept_state = tdxmmu_sept_state,
	.spte_state = tdxmmu_spte_state,
	.counter = tdxmmu_counter,
	.check = tdxmmu_check,
	.counters_foreach = tdxmmu_counters_foreach,
	.last_error = tdxmmu_last_error,
};
