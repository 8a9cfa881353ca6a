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




