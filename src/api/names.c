/* SPDX-License-Identifier: MIT */
/* Names and parsers of the public API's enums and error codes. */
#include <string.h>

#include "api/api_internal.h"
#include "tdx/tdx_status.h"

static _Thread_local char last_error[512];

TDXMMU_API const char *tdxmmu_strerror(int err)
{
	switch (err) {
#define TDXMMU_ERR_CASE(name, val, msg) \
	case (val):                     \
		return #name;
		TDXMMU_ERRORS(TDXMMU_ERR_CASE)
#undef TDXMMU_ERR_CASE
	}
	return "?";
}

TDXMMU_API const char *tdxmmu_last_error(void)
{
	return last_error;
}

int api_fail(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	return err;
}

TDXMMU_API const char *tdxmmu_version(void)
{
	return TDXMMU_VERSION_STRING;
}

static const char *const outcome_names[] = {
	[TDXMMU_OUTCOME_OK] = "ok",         [TDXMMU_OUTCOME_BLOCKED] = "blocked",
	[TDXMMU_OUTCOME_VE] = "ve",         [TDXMMU_OUTCOME_POISON] = "poison",
	[TDXMMU_OUTCOME_MMIO] = "mmio",     [TDXMMU_OUTCOME_ERROR] = "error",
	[TDXMMU_OUTCOME_BUGGED] = "bugged", [TDXMMU_OUTCOME_DEAD] = "dead",
};

TDXMMU_API const char *tdxmmu_outcome_name(enum tdxmmu_outcome o)
{
	if ((unsigned)o >= sizeof(outcome_names) / sizeof(outcome_names[0]))
		return "?";
	return outcome_names[o];
}

TDXMMU_API bool tdxmmu_outcome_parse(const char *s, enum tdxmmu_outcome *o)
{
	/* The parsers answer "unknown" for a NULL string or result (issue 11,
	 * item 2.11), as for any other name they do not know. */
	if (!s || !o)
		return false;
	for (unsigned i = 0; i < sizeof(outcome_names) / sizeof(outcome_names[0]); i++) {
		if (strcmp(outcome_names[i], s) == 0) {
			*o = (enum tdxmmu_outcome)i;
			return true;
		}
	}
	return false;
}

static const char *const sept_state_names[] = {
	[TDXMMU_SEPT_FREE] = "FREE",
	[TDXMMU_SEPT_MAPPED] = "MAPPED",
	[TDXMMU_SEPT_PENDING] = "PENDING",
	[TDXMMU_SEPT_BLOCKED] = "BLOCKED",
	[TDXMMU_SEPT_PENDING_BLOCKED] = "PENDING_BLOCKED",
	[TDXMMU_SEPT_NL_MAPPED] = "NL_MAPPED",
	[TDXMMU_SEPT_NL_BLOCKED] = "NL_BLOCKED",
	[TDXMMU_SEPT_REMOVED] = "REMOVED",
};

TDXMMU_API const char *tdxmmu_sept_state_name(enum tdxmmu_sept_state s)
{
	if ((unsigned)s >= sizeof(sept_state_names) / sizeof(sept_state_names[0]))
		return "?";
	return sept_state_names[s];
}

TDXMMU_API bool tdxmmu_sept_state_parse(const char *s, enum tdxmmu_sept_state *out)
{
	if (!s || !out)
		return false;
	for (unsigned i = 0; i < sizeof(sept_state_names) / sizeof(sept_state_names[0]); i++) {
		if (strcmp(sept_state_names[i], s) == 0) {
			*out = (enum tdxmmu_sept_state)i;
			return true;
		}
	}
	return false;
}

static const char *const spte_state_names[] = {
	[TDXMMU_SPTE_NONPRESENT] = "nonpresent",
	[TDXMMU_SPTE_PRESENT] = "present",
	[TDXMMU_SPTE_NONPRESENT_SHARED] = "nonpresent|shared",
	[TDXMMU_SPTE_PRESENT_SHARED] = "present|shared",
	[TDXMMU_SPTE_ZAPPED] = "zapped",
	[TDXMMU_SPTE_FROZEN] = "frozen",
};

TDXMMU_API const char *tdxmmu_spte_state_name(enum tdxmmu_spte_state s)
{
	if ((unsigned)s >= sizeof(spte_state_names) / sizeof(spte_state_names[0]))
		return "?";
	return spte_state_names[s];
}

TDXMMU_API bool tdxmmu_spte_state_parse(const char *s, enum tdxmmu_spte_state *out)
{
	if (!s || !out)
		return false;
	for (unsigned i = 0; i < sizeof(spte_state_names) / sizeof(spte_state_names[0]); i++) {
		if (strcmp(spte_state_names[i], s) == 0) {
			*out = (enum tdxmmu_spte_state)i;
			return true;
		}
	}
	return false;
}

TDXMMU_API int tdxmmu_leaf_from_name(const char *name)
{
	if (!name)
		return -1;
	return tdx_leaf_parse(name);
}

TDXMMU_API const char *tdxmmu_leaf_name(int leaf)
{
	const char *n = tdx_leaf_name(leaf);

	return n ? n : "?";
}

TDXMMU_API bool tdxmmu_status_from_name(const char *name, uint64_t *status)
{
	if (!name || !status)
		return false;
	return tdx_status_parse(name, status);
}

TDXMMU_API const char *tdxmmu_status_name(uint64_t status)
{
	const char *n = tdx_status_name(status);

	return n ? n : "TDX_UNKNOWN_STATUS";
}

TDXMMU_API const char *tdxmmu_leaf_name_at(size_t i)
{
	return tdx_leaf_name_at(i);
}

TDXMMU_API const char *tdxmmu_status_name_at(size_t i)
{
	return tdx_status_name_at(i);
}

TDXMMU_API bool tdxmmu_status_ok(uint64_t status)
{
	return !tdx_status_is_error(status);
}

TDXMMU_API bool tdxmmu_status_class_eq(uint64_t a, uint64_t b)
{
	return tdx_status_class(a) == tdx_status_class(b);
}
