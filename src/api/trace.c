/* SPDX-License-Identifier: MIT */
/* The trace events of the public API (docs/tracing.md; host/trace.h). */
#include <stdio.h>

#include <tdxmmu/tdxmmu.h>

#include "api/api_internal.h"
#include "host/trace.h"

TDXMMU_API size_t tdxmmu_trace_event_count(void)
{
	return TRACE_EV_NR;
}

TDXMMU_API const char *tdxmmu_trace_event_name(size_t i)
{
	return i < TRACE_EV_NR ? trace_event_names[i] : NULL;
}

TDXMMU_API const char *tdxmmu_trace_event_help(size_t i)
{
	return i < TRACE_EV_NR ? trace_event_help[i] : NULL;
}

TDXMMU_API const char *tdxmmu_trace_event_probe_args(size_t i)
{
	return i < TRACE_EV_NR ? trace_event_args[i] : NULL;
}

TDXMMU_API int tdxmmu_trace_filter_check(const char *spec)
{
	char known[1024];
	size_t off = 0, bad_len;
	const char *bad;
	uint64_t mask;

	if (!trace_filter(spec, &mask, &bad, &bad_len))
		return 0;
	for (int ev = 0; ev < TRACE_EV_NR && off < sizeof(known); ev++) {
		int n = snprintf(known + off, sizeof(known) - off, "%s%s",
				 ev ? " " : "", trace_event_names[ev]);

		if (n < 0)
			break;
		off += (size_t)n;
	}
	return api_fail(TDXMMU_EINVAL, "no trace event matches '%.*s'; known events: %s",
			(int)bad_len, bad, known);
}

TDXMMU_API void tdxmmu_trace_list(FILE *f)
{
	for (int ev = 0; ev < TRACE_EV_NR; ev++)
		fprintf(f, "%-28s %s\n%-28s   probe tdxmmu:%s(%s)\n",
			trace_event_names[ev], trace_event_help[ev], "",
			trace_event_names[ev], trace_event_args[ev]);
}

TDXMMU_API void tdxmmu_trace_header(FILE *f)
{
	trace_header(f);
}
