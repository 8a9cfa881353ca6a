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




/* ==== section: BUSY injection by leaf (branch tdx11) ==== */

TDXMMU_API int tdxmmu_inject_busy_leaf(tdxmmu_td *td, int leaf, uint32_t ppm)
{
	(void)td; (void)leaf; (void)ppm;
	return api_fail(TDXMMU_ENOTIMPL, "inject busy leaf");
}

/* ==== end section: BUSY injection by leaf ==== */
