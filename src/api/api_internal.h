/* SPDX-License-Identifier: MIT */
/* Internals shared by the files implementing the public API. */
#ifndef TDXMMU_API_INTERNAL_H
#define TDXMMU_API_INTERNAL_H

#include <stdarg.h>

#include "tdxmmu/tdxmmu.h"

#define TDXMMU_VERSION_STRING "0.1.0"

/* Records a message for tdxmmu_last_error() and returns err. */
int api_fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
