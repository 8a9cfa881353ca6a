/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "explore/mutant.h"

_Atomic unsigned mutant_mask;

static const struct {
	const char *name, *help;
} mutants[MUTANT_NR] = {
	[MUTANT_NO_FREEZE] = { "no-freeze",
			       "private SPTEs written without freezing them while the SEAMCALL runs" },
	[MUTANT_PLAIN_SPTE_WRITE] = { "plain-spte-write",
				      "the TDP MMU's cmpxchg of an SPTE replaced by read-then-store" },
	[MUTANT_NO_TRACK] = { "no-track", "TDH.MEM.PAGE.REMOVE after BLOCK without TDH.MEM.TRACK" },
	[MUTANT_NO_KICK] = { "no-kick", "TDH.MEM.TRACK and TLB flushes without kicking the vCPUs" },
	[MUTANT_NO_RCU] = { "no-rcu", "page-table pages freed at once, without an RCU grace period" },
	[MUTANT_MAPGPA_READ_LOCK] = { "mapgpa-read-lock",
				      "MapGPA under the read side of mmu_lock instead of the write side" },
	[MUTANT_LEGACY_READ_LOCK] = { "legacy-read-lock",
				      "the legacy MMU's faults under the read side of mmu_lock (the legacy design takes it for write only)" },
	[MUTANT_SPLIT_READ_LOCK] = { "split-read-lock",
				     "the ACCEPT-level split of a private 2M leaf under the read side of mmu_lock: no kick, a BUSY DEMOTE undone with UNBLOCK" },
};

const char *mutant_name(enum mutant m)
{
	return (unsigned)m < MUTANT_NR ? mutants[m].name : NULL;
}

const char *mutant_help(enum mutant m)
{
	return (unsigned)m < MUTANT_NR ? mutants[m].help : NULL;
}

int mutant_by_name(const char *name)
{
	for (int i = 0; i < MUTANT_NR; i++)
		if (!strcmp(mutants[i].name, name))
			return i;
	return -1;
}
