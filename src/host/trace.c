/* SPDX-License-Identifier: MIT */
/* The trace events: names, filter, header, the line and its prefix (trace.h). */
#include <fnmatch.h>
#include <stdarg.h>
#include <string.h>

#include "host/trace.h"

_Static_assert(TRACE_EV_NR <= 64, "one bit per event in a uint64_t mask");

#define TRACE_NAME_(name_, args_, help_) [TRACE_EV_##name_] = #name_,
const char *const trace_event_names[TRACE_EV_NR] = {
	TRACE_EVENTS(TRACE_NAME_)
};
#undef TRACE_NAME_
#define TRACE_ARGS_(name_, args_, help_) [TRACE_EV_##name_] = args_,
const char *const trace_event_args[TRACE_EV_NR] = {
	TRACE_EVENTS(TRACE_ARGS_)
};
#undef TRACE_ARGS_
#define TRACE_HELP_(name_, args_, help_) [TRACE_EV_##name_] = help_,
const char *const trace_event_help[TRACE_EV_NR] = {
	TRACE_EVENTS(TRACE_HELP_)
};
#undef TRACE_HELP_

int trace_filter(const char *spec, uint64_t *mask, const char **bad,
		     size_t *bad_len)
{
	uint64_t m = 0;
	const char *p = spec;

	if (!spec || !*spec) {
		*mask = TRACE_ALL;
		return 0;
	}
	for (;;) {
		size_t len = strcspn(p, ",");
		char glob[128];
		uint64_t hit = 0;

		if (len && len < sizeof(glob)) {
			memcpy(glob, p, len);
			glob[len] = '\0';
			for (int ev = 0; ev < TRACE_EV_NR; ev++)
				if (!fnmatch(glob, trace_event_names[ev], 0))
					hit |= UINT64_C(1) << ev;
		}
		/* An empty item or a glob that names nothing is a typo, not
		 * "trace nothing": say so rather than print a silent trace. */
		if (!hit) {
			*bad = p;
			*bad_len = len;
			return -1;
		}
		m |= hit;
		if (!p[len])
			break;
		p += len + 1;
	}
	*mask = m;
	return 0;
}

static _Thread_local int trace_vcpu = -1;

int trace_set_vcpu(int vcpu)
{
	int old = trace_vcpu;

	trace_vcpu = vcpu;
	return old;
}

void trace_header(FILE *f)
{
	fputs("# tdxmmu trace (docs/tracing.md)\n"
	      "#   LANE-TD [CPU] SECONDS: EVENT: FIELDS\n"
	      "# LANE: vcpuN while vCPU N runs a guest action (its exits, KVM's"
	      " fault handling), host otherwise\n"
	      "# TD: the TD's HKID; CPU: the vCPU, --- for the host\n"
	      "# SECONDS: the TD's modeled time (docs/cost-model.md), not wall"
	      " time\n"
	      "# levels: every `level N` field is KVM's (the S-EPT's too): 1 = 4K,"
	      " 2 = 2M, 3 = 1G, 4 = 512G, 5 = 256T;\n"
	      "#   SEAMCALL operands carry the TDX module's: 0 = 4K, 1 = 2M, 2 = 1G\n"
	      "# numbers: 0x... hex for addresses, frame numbers, SPTEs and"
	      " statuses; decimal for counts, levels and vCPUs\n"
	      "# tree: shared (shared EPT), mirror (KVM's mirror of the S-EPT),"
	      " sept (the TDX module's Secure EPT)\n"
	      "# a non-leaf SPTE's address is 0xf0000000 + KVM's table number,"
	      " in frames\n", f);
}

void trace_vline(FILE *f, unsigned td, uint64_t ns, enum trace_event ev,
		 const char *fmt, va_list ap)
{
	char lane[32], cpu[16];
	int v = trace_vcpu;

	if (v >= 0) {
		snprintf(lane, sizeof(lane), "vcpu%d-%u", v, td);
		snprintf(cpu, sizeof(cpu), "%03d", v);
	} else {
		snprintf(lane, sizeof(lane), "host-%u", td);
		strcpy(cpu, "---");
	}
	flockfile(f);
	fprintf(f, "%16s [%s] %llu.%06llu: %s: ", lane, cpu,
		(unsigned long long)(ns / 1000000000ULL),
		(unsigned long long)(ns % 1000000000ULL / 1000ULL),
		trace_event_names[ev]);
	vfprintf(f, fmt, ap);
	fputc('\n', f);
	funlockfile(f);
}
