/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>

#include "host/model_abort.h"

#if defined(TDXMMU_COVERAGE) && TDXMMU_COVERAGE
/* libgcov's interface (gcc's gcov-io.h documents it): writes the counters
 * of the whole program, as at a normal exit. */
extern void __gcov_dump(void);
#endif

_Noreturn void model_abort(void)
{
	fflush(stderr);
#if defined(TDXMMU_COVERAGE) && TDXMMU_COVERAGE
	__gcov_dump();
#endif
	abort();
}
