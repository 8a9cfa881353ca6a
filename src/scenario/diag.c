/* SPDX-License-Identifier: MIT */
/* Parse-error records: the position and text of the first error found. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "scenario/scenario.h"
#include "scenario/suggest.h"
#include "scenario/words.h"

void scn_error_set(struct scn_error *err, size_t col, const char *fmt, ...)
{
	va_list ap;

	err->col = col;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}

int scn_error_suggest(struct scn_error *err, struct scn_tok t,
		      const char *const *cands, size_t n)
{
	const char *s = suggest_word(t.s, t.len, cands, n);
	size_t used = strlen(err->msg);

	if (s && used < sizeof(err->msg))
		snprintf(err->msg + used, sizeof(err->msg) - used,
			 "; did you mean '%s'?", s);
	return -1;
}

int scn_error_suggest_from(struct scn_error *err, struct scn_tok t,
			   const char *(*name_at)(size_t i))
{
	const char *cands[SCN_MAX_CANDIDATES];
	size_t n = 0;

	while (n < SCN_MAX_CANDIDATES && (cands[n] = name_at(n)))
		n++;
	return scn_error_suggest(err, t, cands, n);
}
