/* SPDX-License-Identifier: MIT */
/* TEMPORARY link scaffold: replaced by the platform implementation. */
#include "api/api_internal.h"

TDXMMU_API void tdxmmu_td_config_init(struct tdxmmu_td_config *cfg)
{
	(void)cfg;
}

TDXMMU_API int tdxmmu_td_create(const struct tdxmmu_td_config *cfg, tdxmmu_td **out)
{
	(void)cfg;
	(void)out;
	return TDXMMU_ENOTIMPL;
}

TDXMMU_API uint64_t tdxmmu_td_shared_bit(const tdxmmu_td *td)
{
	(void)td;
	return 0;
}

TDXMMU_API unsigned tdxmmu_td_nr_vcpus(const tdxmmu_td *td)
{
	(void)td;
	return 0;
}

TDXMMU_API int tdxmmu_memslot_add(tdxmmu_td *td, unsigned id, uint64_t base, uint64_t size)
{
	(void)td;
	(void)id;
	(void)base;
	(void)size;
	return TDXMMU_ENOTIMPL;
}

TDXMMU_API int tdxmmu_td_add_page(tdxmmu_td *td, uint64_t gpa, uint8_t fill)
{
	(void)td;
	(void)gpa;
	(void)fill;
	return TDXMMU_ENOTIMPL;
}

TDXMMU_API int tdxmmu_td_finalize(tdxmmu_td *td)
{
	(void)td;
	return TDXMMU_ENOTIMPL;
}

TDXMMU_API int tdxmmu_td_mrtd(tdxmmu_td *td, uint8_t out[48])
{
	(void)td;
	(void)out;
	return TDXMMU_ENOTIMPL;
}

TDXMMU_API int tdxmmu_td_destroy(tdxmmu_td *td, struct tdxmmu_destroy_report *report)
{
	(void)td;
	(void)report;
	return TDXMMU_ENOTIMPL;
}

TDXMMU_API int tdxmmu_vcpu_read(tdxmmu_td *td, unsigned vcpu, uint64_t gpa, uint64_t *val, enum tdxmmu_outcome *outcome)
{
	(void)td;
	(void)vcpu;
	(void)gpa;
	(void)val;
	(void)outcome;
	return TDXMMU_ENOTIMPL;
}

TDXMMU_API int tdxmmu_vcpu_write(tdxmmu_td *td, unsigned vcpu, uint64_t gpa, uint64_t val, enum tdxmmu_outcome *outcome)
{
	(void)td;
	(void)vcpu;
	(void)gpa;
	(void)val;
	(void)outcome;
	return TDXMMU_ENOTIMPL;
}

TDXMMU_API int tdxmmu_vcpu_fill(tdxmmu_td *td, unsigned vcpu, uint64_t gpa, uint64_t size, uint8_t byte, enum tdxmmu_outcome *outcome)
{
	(void)td;
	(void)vcpu;
	(void)gpa;
	(void)size;
	(void)byte;
	(void)outcome;
	return TDXMMU_ENOTIMPL;
}

TDXMMU_API int tdxmmu_vcpu_verify(tdxmmu_td *td, unsigned vcpu, uint64_t gpa, uint64_t size, uint8_t byte, uint64_t *mismatch_gpa, enum tdxmmu_outcome *outcome)
{
	(void)td;
	(void)vcpu;
	(void)gpa;
	(void)size;
	(void)byte;
	(void)mismatch_gpa;
	(void)outcome;
	return TDXMMU_ENOTIMPL;
}

TDXMMU_API int tdxmmu_vcpu_accept(tdxmmu_td *td, unsigned vcpu, uint64_t gpa, unsigned level, uint64_t *status)
{
	(void)td;
	(void)vcpu;
	(void)gpa;
	(void)level;
	(void)status;
	return TDXMMU_ENOTIMPL;
}

TDXMMU_API int tdxmmu_vcpu_mapgpa(tdxmmu_td *td, unsigned vcpu, uint64_t gpa, uint64_t size, enum tdxmmu_outcome *outcome)
{
	(void)td;
	(void)vcpu;
	(void)gpa;
	(void)size;
	(void)outcome;
	return TDXMMU_ENOTIMPL;
}

TDXMMU_API int tdxmmu_host_read(tdxmmu_td *td, uint64_t gpa, uint64_t *val)
{
	(void)td;
	(void)gpa;
	(void)val;
	return TDXMMU_ENOTIMPL;
}

TDXMMU_API int tdxmmu_host_write(tdxmmu_td *td, uint64_t gpa, uint64_t val)
{
	(void)td;
	(void)gpa;
	(void)val;
	return TDXMMU_ENOTIMPL;
}

TDXMMU_API int tdxmmu_host_invalidate(tdxmmu_td *td, uint64_t gpa, uint64_t size)
{
	(void)td;
	(void)gpa;
	(void)size;
	return TDXMMU_ENOTIMPL;
}

TDXMMU_API int tdxmmu_memslot_delete(tdxmmu_td *td, unsigned id)
{
	(void)td;
	(void)id;
	return TDXMMU_ENOTIMPL;
}

TDXMMU_API int tdxmmu_host_zap(tdxmmu_td *td, uint64_t gpa, uint64_t size, enum tdxmmu_alias alias)
{
	(void)td;
	(void)gpa;
	(void)size;
	(void)alias;
	return TDXMMU_ENOTIMPL;
}

TDXMMU_API int tdxmmu_host_frame_new(tdxmmu_td *td, uint64_t *hpa)
{
	(void)td;
	(void)hpa;
	return TDXMMU_ENOTIMPL;
}

TDXMMU_API int tdxmmu_host_frame_of(tdxmmu_td *td, uint64_t gpa, uint64_t *hpa)
{
	(void)td;
	(void)gpa;
	(void)hpa;
	return TDXMMU_ENOTIMPL;
}

TDXMMU_API int tdxmmu_seamcall(tdxmmu_td *td, const struct tdxmmu_seamcall_req *req, struct tdxmmu_seamcall_out *out)
{
	(void)td;
	(void)req;
	(void)out;
	return TDXMMU_ENOTIMPL;
}

TDXMMU_API int tdxmmu_inject_busy(tdxmmu_td *td, uint32_t ppm)
{
	(void)td;
	(void)ppm;
	return TDXMMU_ENOTIMPL;
}

TDXMMU_API int tdxmmu_cost_set(tdxmmu_td *td, int leaf, uint64_t ns)
{
	(void)td;
	(void)leaf;
	(void)ns;
	return TDXMMU_ENOTIMPL;
}

TDXMMU_API uint64_t tdxmmu_cost_get(tdxmmu_td *td, int leaf)
{
	(void)td;
	(void)leaf;
	return 0;
}

TDXMMU_API int tdxmmu_counter(tdxmmu_td *td, const char *name, uint64_t *val)
{
	(void)td;
	(void)name;
	(void)val;
	return TDXMMU_ENOTIMPL;
}

TDXMMU_API void tdxmmu_counters_foreach(tdxmmu_td *td, void (*fn)(const char *name, uint64_t val, void *arg), void *arg)
{
	(void)td;
	(void)fn;
	(void)arg;
}

TDXMMU_API uint64_t tdxmmu_modeled_ns(tdxmmu_td *td)
{
	(void)td;
	return 0;
}

TDXMMU_API int tdxmmu_check(tdxmmu_td *td, char *report, size_t report_size)
{
	(void)td;
	(void)report;
	(void)report_size;
	return TDXMMU_ENOTIMPL;
}

TDXMMU_API int tdxmmu_sept_state(tdxmmu_td *td, uint64_t gpa, unsigned level, enum tdxmmu_sept_state *out)
{
	(void)td;
	(void)gpa;
	(void)level;
	(void)out;
	return TDXMMU_ENOTIMPL;
}

TDXMMU_API int tdxmmu_spte_state(tdxmmu_td *td, uint64_t gpa, enum tdxmmu_spte_state *private_ept, enum tdxmmu_spte_state *shared_ept)
{
	(void)td;
	(void)gpa;
	(void)private_ept;
	(void)shared_ept;
	return TDXMMU_ENOTIMPL;
}
