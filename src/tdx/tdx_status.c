/* SPDX-License-Identifier: MIT */
/* Names of TDX status classes and SEAMCALL leaves (tdx-module-sept.md §1). */
#include <string.h>

#include "tdx/tdx_status.h"

static const struct {
	const char *name;
	uint64_t value;
} status_names[] = {
#define TDX_STATUS_NAME(name, val) { #name, (val) },
	TDX_STATUS_LIST(TDX_STATUS_NAME)
#undef TDX_STATUS_NAME
};

const char *tdx_status_name(uint64_t status)
{
	uint64_t cls = tdx_status_class(status);

	for (size_t i = 0; i < sizeof(status_names) / sizeof(status_names[0]); i++)
		if (status_names[i].value == cls)
			return status_names[i].name;
	return NULL;
}

bool tdx_status_parse(const char *name, uint64_t *status)
{
	for (size_t i = 0; i < sizeof(status_names) / sizeof(status_names[0]); i++) {
		if (strcmp(status_names[i].name, name) == 0) {
			*status = status_names[i].value;
			return true;
		}
	}
	return false;
}

const char *tdx_status_name_at(size_t i)
{
	return i < sizeof(status_names) / sizeof(status_names[0])
		       ? status_names[i].name
		       : NULL;
}

static const char *const leaf_names[TDX_NR_LEAVES] = {
#define TDX_LEAF_NAME(name, num, str) [num] = str,
	TDX_LEAF_LIST(TDX_LEAF_NAME)
#undef TDX_LEAF_NAME
};

const char *tdx_leaf_name(int leaf)
{
	if (leaf < 0 || leaf >= TDX_NR_LEAVES)
		return NULL;
	return leaf_names[leaf];
}

const char *tdx_leaf_name_at(size_t i)
{
	for (int leaf = 0; leaf < TDX_NR_LEAVES; leaf++)
		if (leaf_names[leaf] && i-- == 0)
			return leaf_names[leaf];
	return NULL;
}

int tdx_leaf_parse(const char *name)
{
	for (int i = 0; i < TDX_NR_LEAVES; i++)
		if (leaf_names[i] && strcmp(leaf_names[i], name) == 0)
			return i;
	return -1;
}
