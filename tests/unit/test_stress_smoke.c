/* SPDX-License-Identifier: MIT */
/*
 * The soak's configuration (`make soak`) for about a second, so that CI
 * (plain, valgrind, TSan, ASan) runs its code paths: 8 vCPUs, 2 host
 * threads, the legacy MMU, explicit accept, every operation kind, BUSY 10%
 * and ENOMEM 1%, with CI's fixed seed, in two rounds. test_stress.c describes the program
 * and its TDXMMU_STRESS_* variables, which override these defaults.
 */
#define STRESS_DEF_VCPUS 8
#define STRESS_DEF_HOSTS 2
#define STRESS_DEF_MMU "legacy"
#define STRESS_DEF_ACCEPT "explicit"
#define STRESS_DEF_OPS "all"
#define STRESS_DEF_BUSY_PPM 100000
#define STRESS_DEF_ENOMEM_PPM 10000
#define STRESS_DEF_MS 1000
/* Each quiesce point verifies every page of 8 vCPUs: under valgrind and
 * the sanitizers it costs more than a round. */
#define STRESS_DEF_MIN_ROUNDS 2
/* Under valgrind a round's threads may start after its deadline: each
 * still does this much, so the new paths run there too. */
#define STRESS_DEF_MIN_OPS 50
#include "test_stress.c"
