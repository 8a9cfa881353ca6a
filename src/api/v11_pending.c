/* SPDX-License-Identifier: MIT */
/*
 * TEMPORARY: entry points of contract 1.1 whose implementation is being
 * written on other branches. Each section is owned by one branch, which
 * deletes it when it lands. This file must be gone before issue 11 closes.
 */
#include "api/api_internal.h"

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




/* ==== section: BUSY injection by leaf (branch tdx11) ==== */

TDXMMU_API int tdxmmu_inject_busy_leaf(tdxmmu_td *td, int leaf, uint32_t ppm)
{
	(void)td; (void)leaf; (void)ppm;
	return api_fail(TDXMMU_ENOTIMPL, "inject busy leaf");
}

/* ==== end section: BUSY injection by leaf ==== */
