/* SPDX-License-Identifier: MIT */
/* Parse-error records: the position and text of the first error found. */
#include <stdarg.h>
#include <stdio.h>

#include "scenario/scenario.h"

void scn_error_set(struct scn_error *err, size_t col, const char *fmt, ...)
{
	va_list ap;

	err->col = col;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}
