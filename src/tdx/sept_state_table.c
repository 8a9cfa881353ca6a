/* SPDX-License-Identifier: MIT */
/*
 * The module's lookup tables as data: OP_STATEs allowed per leaf (§3.1, from
 * the module's op_state_lookup) and S-EPT entry states allowed per leaf (§3.2,
 * from sept_state_lookup). The live-migration states are not modeled: no leaf
 * here produces them.
 */
#include "tdx/tdx_internal.h"

#define OPB(s) (1u << (s))

static const uint16_t op_state_allowed[TDX_NR_LEAVES] = {
	[TDH_MEM_PAGE_ADD] = OPB(OP_INITIALIZED),
	[TDH_MR_EXTEND] = OPB(OP_INITIALIZED),
	[TDH_MR_FINALIZE] = OPB(OP_INITIALIZED),
	[TDH_MEM_PAGE_AUG] = OPB(OP_INITIALIZED) | OPB(OP_RUNNABLE) |
			     OPB(OP_LIVE_EXPORT) | OPB(OP_LIVE_IMPORT),
	[TDH_MEM_SEPT_ADD] = OPB(OP_INITIALIZED) | OPB(OP_RUNNABLE) |
			     OPB(OP_LIVE_EXPORT) | OPB(OP_MEMORY_IMPORT) |
			     OPB(OP_STATE_IMPORT) | OPB(OP_POST_IMPORT) |
			     OPB(OP_LIVE_IMPORT),
#define BLOCKLIKE OPB(OP_INITIALIZED) | OPB(OP_RUNNABLE) | OPB(OP_LIVE_EXPORT) | \
		  OPB(OP_PAUSED_EXPORT) | OPB(OP_POST_EXPORT) | OPB(OP_POST_IMPORT) | \
		  OPB(OP_LIVE_IMPORT)
	[TDH_MEM_RANGE_BLOCK] = BLOCKLIKE,
	[TDH_MEM_RANGE_UNBLOCK] = BLOCKLIKE,
	[TDH_MEM_PAGE_DEMOTE] = BLOCKLIKE,
	[TDH_MEM_PAGE_PROMOTE] = BLOCKLIKE,
	[TDH_MEM_PAGE_RELOCATE] = BLOCKLIKE,
	[TDH_MEM_PAGE_REMOVE] = BLOCKLIKE | OPB(OP_FAILED_IMPORT),
#undef BLOCKLIKE
	[TDH_MEM_SEPT_REMOVE] = 0x7FF & ~OPB(OP_UNINITIALIZED),
	[TDH_MEM_SEPT_RD] = 0x7FF & ~OPB(OP_UNINITIALIZED),
	[TDH_MEM_TRACK] = 0x7FF & ~OPB(OP_UNINITIALIZED) & ~OPB(OP_FAILED_IMPORT),
	[TDH_VP_ENTER] = OPB(OP_RUNNABLE) | OPB(OP_LIVE_EXPORT) | OPB(OP_LIVE_IMPORT),
};

bool tdx_op_state_allowed(int leaf, enum td_op_state s)
{
	if (leaf < 0 || leaf >= TDX_NR_LEAVES || (unsigned)s >= OP_NR_STATES)
		return false;
	return op_state_allowed[leaf] & OPB(s);
}

bool tdx_op_state_tracking_required(enum td_op_state s)
{
	return s == OP_RUNNABLE || s == OP_LIVE_EXPORT || s == OP_LIVE_IMPORT;
}

#define SB(s) (1u << (s))

static const uint16_t sept_state_allowed[TDX_NR_LEAVES] = {
	[TDH_MEM_PAGE_ADD] = SB(SEPT_FREE),
	[TDH_MEM_SEPT_ADD] = SB(SEPT_FREE) | SB(SEPT_NL_MAPPED),
	[TDH_MEM_PAGE_AUG] = SB(SEPT_FREE) | SB(SEPT_REMOVED),
	[TDH_MEM_RANGE_BLOCK] = SB(SEPT_NL_MAPPED) | SB(SEPT_MAPPED) | SB(SEPT_PENDING),
	[TDH_MEM_RANGE_UNBLOCK] = SB(SEPT_NL_BLOCKED) | SB(SEPT_BLOCKED) |
				  SB(SEPT_PENDING_BLOCKED),
	[TDH_MEM_PAGE_REMOVE] = SB(SEPT_MAPPED) | SB(SEPT_BLOCKED) | SB(SEPT_PENDING) |
				SB(SEPT_PENDING_BLOCKED),
	[TDH_MEM_SEPT_REMOVE] = SB(SEPT_NL_MAPPED) | SB(SEPT_NL_BLOCKED),
	[TDH_MEM_PAGE_PROMOTE] = SB(SEPT_NL_MAPPED) | SB(SEPT_NL_BLOCKED),
	[TDH_MEM_PAGE_DEMOTE] = SB(SEPT_MAPPED) | SB(SEPT_BLOCKED) | SB(SEPT_PENDING) |
				SB(SEPT_PENDING_BLOCKED),
	[TDH_MEM_PAGE_RELOCATE] = SB(SEPT_MAPPED) | SB(SEPT_BLOCKED) | SB(SEPT_PENDING) |
				  SB(SEPT_PENDING_BLOCKED),
	[TDH_MR_EXTEND] = SB(SEPT_MAPPED),
	[TDH_MEM_SEPT_RD] = 0xFFFF,
};

bool tdx_sept_state_allowed(int leaf, enum tdx_sept_state s)
{
	if (leaf < 0 || leaf >= TDX_NR_LEAVES || (unsigned)s >= SEPT_NR_STATES)
		return false;
	return sept_state_allowed[leaf] & SB(s);
}

bool tdx_sept_state_tlb_tracking_required(enum tdx_sept_state s)
{
	return s == SEPT_NL_MAPPED || s == SEPT_NL_BLOCKED || s == SEPT_MAPPED ||
	       s == SEPT_BLOCKED || s == SEPT_PENDING || s == SEPT_PENDING_BLOCKED;
}

bool tdx_sept_state_any_blocked(enum tdx_sept_state s)
{
	return s == SEPT_NL_BLOCKED || s == SEPT_BLOCKED || s == SEPT_PENDING_BLOCKED;
}
