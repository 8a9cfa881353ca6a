/* SPDX-License-Identifier: MIT */
/*
 * TEMPORARY: entry points of contract 1.1 whose implementation is being
 * written on other branches. Each section is owned by one branch, which
 * deletes it when it lands. This file must be gone before issue 11 closes.
 */
#include "api/api_internal.h"

/* ==== section: vcpu enter/leave (branch cpu11) ==== */

TDXMMU_API int tdxmmu_vcpu_enter(tdxmmu_td *td, unsigned vcpu)
{
	(void)td; (void)vcpu;
	return api_fail(TDXMMU_ENOTIMPL, "vcpu enter");
}

TDXMMU_API int tdxmmu_vcpu_leave(tdxmmu_td *td, unsigned vcpu)
{
	(void)td; (void)vcpu;
	return api_fail(TDXMMU_ENOTIMPL, "vcpu leave");
}

/* ==== end section: vcpu enter/leave ==== */




/* ==== section: dead VM and ENOMEM injection (branch kvm11) ==== */

TDXMMU_API bool tdxmmu_vm_dead(tdxmmu_td *td)
{
	(void)td;
	return false;
}

TDXMMU_API int tdxmmu_inject_enomem(tdxmmu_td *td, enum tdxmmu_alloc_site site,
				    uint32_t ppm)
{
	(void)td; (void)site; (void)ppm;
	return api_fail(TDXMMU_ENOTIMPL, "inject enomem");
}

TDXMMU_API int tdxmmu_inject_off(tdxmmu_td *td)
{
	(void)td;
	return api_fail(TDXMMU_ENOTIMPL, "inject off");
}

/* ==== end section: dead VM and ENOMEM injection ==== */




