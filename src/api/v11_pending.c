/* SPDX-License-Identifier: MIT */
/*
 * TEMPORARY: entry points of contract 1.1 whose implementation is being
 * written on other branches. Each section is owned by one branch, which
 * deletes it when it lands. This file must be gone before issue 11 closes.
 */
#include "api/api_internal.h"





