/* SPDX-License-Identifier: MIT */
/* The explorer's entry points inside the library (the public ones are in
 * tdxmmu.h). */
#ifndef TDXMMU_EXPLORE_EXPLORE_H
#define TDXMMU_EXPLORE_EXPLORE_H

#include <stddef.h>

#include "tdxmmu/tdxmmu.h"

/* Explores a scenario given as text (@name in messages). */
int tdxmmu_explore_text(const char *name, const char *text, size_t len,
			const struct tdxmmu_explore_options *opts,
			struct tdxmmu_explore_result *result);

#endif /* TDXMMU_EXPLORE_EXPLORE_H */
