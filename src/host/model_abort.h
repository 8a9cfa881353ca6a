/* SPDX-License-Identifier: MIT */
/*
 * The model's last resort: a state it does not model (out of memory for
 * its own metadata, a caller breaking a documented precondition of the
 * emulated hardware, a thread key it cannot create). The caller has
 * printed why on stderr; this aborts.
 *
 * One function rather than abort() at each site so that a coverage build
 * (make coverage) writes its counters first: the tests that reach these
 * paths run them in a forked child (tests/unit/expect_abort.h,
 * test_malloc_fail), and an abort() loses every count the child made.
 */
#ifndef TDXMMU_HOST_MODEL_ABORT_H
#define TDXMMU_HOST_MODEL_ABORT_H

_Noreturn void model_abort(void);

#endif /* TDXMMU_HOST_MODEL_ABORT_H */
