/* SPDX-License-Identifier: MIT */
/*
 * TEMPORARY: entry points of contract 1.1 whose implementation is being
 * written on other branches. Each section is owned by one branch, which
 * deletes it when it lands. This file must be gone before issue 11 closes.
 */
#include "api/api_internal.h"





/* ==== section: BUSY injection by leaf (branch tdx11) ==== */

TDXMMU_API int tdxmmu_inject_busy_leaf(tdxmmu_td *td, int leaf, uint32_t ppm)
{
	(void)td; (void)leaf; (void)ppm;
	return api_fail(TDXMMU_ENOTIMPL, "inject busy leaf");
}

/* ==== end section: BUSY injection by leaf ==== */
