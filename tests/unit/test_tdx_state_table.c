/* SPDX-License-Identifier: MIT */
/*
 * The S-EPT state machine of tdx-module-sept.md §5 as data, and every cell of
 * it run against the emulated module.
 *
 * A cell is (operation column, state row, context variant). For each cell a
 * fresh TD is built with real SEAMCALLs (tdx_fixture.h), the target entry is
 * driven into the row's state, the operation is issued once, and the result
 * is compared with the table below:
 *  - on success: the full status, the new state of the entry, its HPA, the
 *    documented outputs (REMOVE/SEPT.REMOVE/PROMOTE/RELOCATE RCX = the freed
 *    or old HPA; SEPT.RD RCX/RDX = the entry), CHLDCNT and the PAMT type of
 *    the pages handed in or freed;
 *  - on failure (and on the two warnings, which change nothing either): the
 *    full 64-bit status (class + operand id), RCX/RDX (the §1.6 details of
 *    the entry, or zero for the errors that report none), and that nothing
 *    changed: the whole S-EPT tree, CHLDCNT and the TD's PAMT pages.
 *
 * Rows (§5): FREE, NL_MAPPED, NL_BLOCKED, MAPPED, BLOCKED, PENDING,
 * PENDING_BLOCKED. The NL rows come twice, with an empty table below and with
 * 512 children, because SEPT.REMOVE ("all-512-FREE ?") and PROMOTE ("child
 * check") branch on the children. REMOVED is not a row: it exists only while
 * an import is in progress, and the model implements no import.
 *
 * Which entry a cell targets: NL rows are the PD entry (level 1) of a 2M
 * region with a 4K table below. Leaf rows are a 4K leaf (level 0), except in
 * the columns whose operation only works at level >= 1 (SEPT.ADD, SEPT.REMOVE,
 * PROMOTE, DEMOTE), where they are a 2M leaf, so that the row's state really
 * is the state at the target level. FREE is at the column's level likewise.
 * PAGE.ADD and RELOCATE take level 0 only and an NL entry exists only at
 * level >= 1, so §5's NL cells of those columns cannot be reached: targeting
 * the NL entry gives TDX_OPERAND_INVALID + RCX (§3 step 5), which is what
 * those cells assert (see the comments at the table).
 *
 * Variants: "!T" = OP_STATE INITIALIZED (before TDH.MR.FINALIZE); "T, not
 * tracked" = RUNNABLE, with the row built and then nothing else (a BLOCK
 * with no TRACK after it); "T, tracked" = the same followed by TDH.MEM.TRACK
 * with no vCPU in guest mode (a blocked entry is then tracked, §6). The
 * tracked variant is run for every row, not only the "trk?" ones, to show
 * that tracking changes nothing elsewhere. Guest ACCEPT has no !T cells:
 * TDH.VP.ENTER needs RUNNABLE.
 *
 * How rows are built: MAPPED is PAGE.ADD in !T and AUG + guest ACCEPT in T (a
 * 2M MAPPED leaf: 512 PAGE.ADD + PROMOTE in !T, a 2M AUG + 2M ACCEPT in T);
 * PENDING is AUG (4K, or 2M with fx_new_2m); the blocked rows add RANGE.BLOCK.
 * The 512 children of the NL rows are AUGs of one 2M-aligned run of frames:
 * left PENDING in !T and accepted (MAPPED) in T, so PROMOTE is seen merging
 * both kinds of children (§4.9: "512 identical MAPPED (or PENDING)").
 *
 * The second part checks the §3 check order: when several preconditions fail
 * at once, the earlier step wins. A few combinations per lock pattern (§11.2):
 * TDR exclusive (PAGE.ADD, MR.EXTEND), tree shared (AUG, SEPT.ADD, DEMOTE,
 * RELOCATE, REMOVE, SEPT.RD), tree exclusive (BLOCK, UNBLOCK, SEPT.REMOVE),
 * and TRACK and the guest's ACCEPT.
 */
#include <stdio.h>

#include "tdx_fixture.h"
#include "tdx/tdx_internal.h"

/* A 2M-aligned region; 4K leaf rows use a page inside it that is not the
 * first, so an index mix-up shows. */
#define G 0x40000000ULL
#define G4K (G + 0x3000ULL)
#define G2 (G + 0x200000ULL)
#define G3 (G + 0x400000ULL)
#define G4 (G + 0x600000ULL)
/* Another PML4 slot (512 GiB): nothing is mapped there, the walk stops at
 * the root's FREE entry (level 3). */
#define GFAR 0x8000000000ULL
/* GPAW 48: bit 47 is the SHARED bit. */
#define SHARED_BIT (1ULL << 47)

/*
 * Full status values, from §1.4 (class + operand id). Written out as numbers
 * so the table says exactly what the module must return.
 */
#define ST_OK 0x0000000000000000ULL
#define ST_SI 0xC0000B0D00000001ULL       /* EPT_ENTRY_STATE_INCORRECT + RCX */
#define ST_NB 0xC0000B0600000001ULL       /* GPA_RANGE_NOT_BLOCKED + RCX */
#define ST_TND 0xC0000B0800000001ULL      /* TLB_TRACKING_NOT_DONE + RCX */
#define ST_TND_TREE 0xC0000B0800000092ULL /* ... + SEPT_TREE (RANGE.UNBLOCK) */
#define ST_AB 0x00000B0700000001ULL       /* GPA_RANGE_ALREADY_BLOCKED + RCX, warning */
#define ST_PNF 0xC0000B0E00000001ULL      /* EPT_PAGE_NOT_FREE + RCX */
#define ST_IPC 0xC0000B0900000001ULL      /* EPT_INVALID_PROMOTE_CONDITIONS + RCX */
#define ST_NP 0xC0000B0300000001ULL       /* EPT_ENTRY_NOT_PRESENT + RCX (MR.EXTEND) */
#define ST_WALK 0xC0000B0000000001ULL     /* EPT_WALK_FAILED + RCX */
#define ST_OI_RAX 0xC000010000000000ULL   /* OPERAND_INVALID + RAX */
#define ST_OI_RCX 0xC000010000000001ULL   /* OPERAND_INVALID + RCX */
#define ST_OI_RDX 0xC000010000000002ULL   /* OPERAND_INVALID + RDX */
#define ST_OI_R8 0xC000010000000008ULL    /* OPERAND_INVALID + R8 */
#define ST_OI_R9 0xC000010000000009ULL    /* OPERAND_INVALID + R9 */
#define ST_META_RCX 0xC000030000000001ULL /* PAGE_METADATA_INCORRECT + RCX */
#define ST_META_RDX 0xC000030000000002ULL /* PAGE_METADATA_INCORRECT + RDX */
#define ST_OPS 0xC000060800000000ULL      /* OP_STATE_INCORRECT, no operand */
#define ST_KEYS 0x8000081000000000ULL     /* TD_KEYS_NOT_CONFIGURED */
#define ST_AA(level) (0x00000B0A00000000ULL + (level)) /* PAGE_ALREADY_ACCEPTED, warning */
#define ST_PSM(level) (0xC0000B0B00000000ULL + (level)) /* PAGE_SIZE_MISMATCH */

/* §1.6: RCX of a FREE entry, the low byte of a 4K/2M leaf (RWX, MT=WB,
 * IPAT, PS) plus SVE, and the public state numbers reported in RDX. */
#define RCX_FREE 0x8000000000000000ULL
#define RCX_LEAF_MAPPED 0x80000000000000F7ULL
#define RCX_LEAF_NOT_PRESENT 0x80000000000000F0ULL
#define RCX_NL_MAPPED 0x7ULL
#define RCX_NL_BLOCKED 0x0ULL

enum row {
	R_FREE,
	R_NLM,       /* NL_MAPPED, empty table below */
	R_NLM_512,   /* NL_MAPPED, 512 children */
	R_NLB,       /* NL_BLOCKED, empty table below */
	R_NLB_512,   /* NL_BLOCKED, 512 children */
	R_MAPPED,
	R_BLOCKED,
	R_PENDING,
	R_PBLOCKED,  /* PENDING_BLOCKED */
	NR_ROWS,
};

enum variant { V_NT, V_T, V_TRK, NR_VARIANTS };

enum col {
	C_SEPT_ADD,
	C_SEPT_ADD_EXIST, /* SEPT.ADD with ALLOW_EXISTING (§5's parenthesis) */
	C_PAGE_ADD,
	C_AUG,
	C_BLOCK,
	C_UNBLOCK,
	C_REMOVE,
	C_SEPT_REMOVE,
	C_PROMOTE,
	C_DEMOTE,
	C_RELOCATE,
	C_ACCEPT,
	C_SEPT_RD,
	C_MR_EXTEND,
	NR_COLS,
};

static const char *const row_name[NR_ROWS] = {
	[R_FREE] = "FREE",
	[R_NLM] = "NL_MAPPED (empty table)",
	[R_NLM_512] = "NL_MAPPED (512 children)",
	[R_NLB] = "NL_BLOCKED (empty table)",
	[R_NLB_512] = "NL_BLOCKED (512 children)",
	[R_MAPPED] = "MAPPED",
	[R_BLOCKED] = "BLOCKED",
	[R_PENDING] = "PENDING",
	[R_PBLOCKED] = "PENDING_BLOCKED",
};

static const enum tdx_sept_state row_state[NR_ROWS] = {
	[R_FREE] = SEPT_FREE,
	[R_NLM] = SEPT_NL_MAPPED,
	[R_NLM_512] = SEPT_NL_MAPPED,
	[R_NLB] = SEPT_NL_BLOCKED,
	[R_NLB_512] = SEPT_NL_BLOCKED,
	[R_MAPPED] = SEPT_MAPPED,
	[R_BLOCKED] = SEPT_BLOCKED,
	[R_PENDING] = SEPT_PENDING,
	[R_PBLOCKED] = SEPT_PENDING_BLOCKED,
};

static const char *const variant_name[NR_VARIANTS] = {
	[V_NT] = "!T (INITIALIZED)",
	[V_T] = "T (RUNNABLE), not tracked",
	[V_TRK] = "T (RUNNABLE), tracked",
};

struct column {
	const char *name;
	int leaf;
	/* Level of the FREE and leaf rows' entry: 0 (4K) or 1 (2M). */
	unsigned leaf_level;
};

static const struct column columns[NR_COLS] = {
	[C_SEPT_ADD] = { "TDH.MEM.SEPT.ADD", TDH_MEM_SEPT_ADD, 1 },
	[C_SEPT_ADD_EXIST] = { "TDH.MEM.SEPT.ADD(ALLOW_EXISTING)", TDH_MEM_SEPT_ADD, 1 },
	[C_PAGE_ADD] = { "TDH.MEM.PAGE.ADD", TDH_MEM_PAGE_ADD, 0 },
	[C_AUG] = { "TDH.MEM.PAGE.AUG", TDH_MEM_PAGE_AUG, 0 },
	[C_BLOCK] = { "TDH.MEM.RANGE.BLOCK", TDH_MEM_RANGE_BLOCK, 0 },
	[C_UNBLOCK] = { "TDH.MEM.RANGE.UNBLOCK", TDH_MEM_RANGE_UNBLOCK, 0 },
	[C_REMOVE] = { "TDH.MEM.PAGE.REMOVE", TDH_MEM_PAGE_REMOVE, 0 },
	[C_SEPT_REMOVE] = { "TDH.MEM.SEPT.REMOVE", TDH_MEM_SEPT_REMOVE, 1 },
	[C_PROMOTE] = { "TDH.MEM.PAGE.PROMOTE", TDH_MEM_PAGE_PROMOTE, 1 },
	[C_DEMOTE] = { "TDH.MEM.PAGE.DEMOTE", TDH_MEM_PAGE_DEMOTE, 1 },
	[C_RELOCATE] = { "TDH.MEM.PAGE.RELOCATE", TDH_MEM_PAGE_RELOCATE, 0 },
	[C_ACCEPT] = { "TDG.MEM.PAGE.ACCEPT", -1, 0 },
	[C_SEPT_RD] = { "TDH.MEM.SEPT.RD", TDH_MEM_SEPT_RD, 0 },
	[C_MR_EXTEND] = { "TDH.MR.EXTEND", TDH_MR_EXTEND, 0 },
};

/* ---- the expected results ------------------------------------------------ */

enum kind {
	X_HOLE, /* a cell the table forgot: fails, so none is skipped silently */
	X_NA,   /* cannot be run (guest ACCEPT before finalize) */
	X_OK,   /* success: the entry is now in .state */
	X_FAIL, /* error or warning: .status, nothing changed */
	X_EXIT, /* guest ACCEPT: EPT-violation TD exit, nothing changed */
};

/* What RCX/RDX must hold (§1.6). */
enum details {
	D_ZERO,  /* both zero */
	D_ENTRY, /* the target entry: architectural entry, level | state << 8 */
	D_BELOW, /* the level-0 entry under the target (MR.EXTEND's walk to leaf
		    goes through an NL_MAPPED entry) */
};

struct expect {
	uint64_t status;
	uint8_t kind;
	uint8_t state; /* X_OK: new state; SEPT_NR_STATES = unchanged */
	uint8_t child; /* DEMOTE: state of the 512 new small leaves */
	uint8_t det;
};

#define KEEP SEPT_NR_STATES
#define OK(s) { ST_OK, X_OK, SEPT_##s, KEEP, D_ZERO }
#define SPLIT(s, c) { ST_OK, X_OK, SEPT_##s, SEPT_##c, D_ZERO }
#define UNCHANGED(d) { ST_OK, X_OK, KEEP, KEEP, d }
#define ERR(st) { st, X_FAIL, KEEP, KEEP, D_ENTRY }
#define ERR0(st) { st, X_FAIL, KEEP, KEEP, D_ZERO }
#define ERR_BELOW(st) { st, X_FAIL, KEEP, KEEP, D_BELOW }
#define EXIT { ST_OK, X_EXIT, KEEP, KEEP, D_ZERO }
#define NA { ST_OK, X_NA, KEEP, KEEP, D_ZERO }

/* Per row: { !T, T not tracked, T tracked }. */
#define ALL(x) { x, x, x }
#define NT_T(nt, t) { nt, t, t }
/* "(T: trk?) x": x in !T and in T once tracked, else `untracked`. */
#define TRK(x, untracked) { x, untracked, x }
#define T_ONLY(x) { NA, x, x }

/*
 * tdx-module-sept.md §5, column by column. Every row of every column is
 * given: a missing one is a hole and fails.
 */
static const struct expect expected[NR_COLS][NR_ROWS][NR_VARIANTS] = {
	/* SEPT.ADD v0 at level 1. §3.2 allows FREE and NL_MAPPED, but without
	 * ALLOW_EXISTING an NL_MAPPED entry is STATE_INCORRECT (§4.1). Leaf
	 * rows are 2M leaves. */
	[C_SEPT_ADD] = {
		[R_FREE] = ALL(OK(NL_MAPPED)),
		[R_NLM] = ALL(ERR(ST_SI)),
		[R_NLM_512] = ALL(ERR(ST_SI)),
		[R_NLB] = ALL(ERR(ST_SI)),
		[R_NLB_512] = ALL(ERR(ST_SI)),
		[R_MAPPED] = ALL(ERR(ST_SI)),
		[R_BLOCKED] = ALL(ERR(ST_SI)),
		[R_PENDING] = ALL(ERR(ST_SI)),
		[R_PBLOCKED] = ALL(ERR(ST_SI)),
	},
	/* "(ALLOW_EXISTING: no-op success)": NL_MAPPED stays, R8 is not
	 * consumed; NL_BLOCKED is not in the allowed set. */
	[C_SEPT_ADD_EXIST] = {
		[R_FREE] = ALL(OK(NL_MAPPED)),
		[R_NLM] = ALL(OK(NL_MAPPED)),
		[R_NLM_512] = ALL(OK(NL_MAPPED)),
		[R_NLB] = ALL(ERR(ST_SI)),
		[R_NLB_512] = ALL(ERR(ST_SI)),
		[R_MAPPED] = ALL(ERR(ST_SI)),
		[R_BLOCKED] = ALL(ERR(ST_SI)),
		[R_PENDING] = ALL(ERR(ST_SI)),
		[R_PBLOCKED] = ALL(ERR(ST_SI)),
	},
	/* PAGE.ADD: INITIALIZED only (the OP_STATE check, §3 step 4, comes
	 * before everything about the entry). §5's "(unreachable at L0)" NL
	 * cells: PAGE.ADD takes level 0 only, so the level-1 NL entry is
	 * OPERAND_INVALID + RCX (page info, §3 step 5), with no details. */
	[C_PAGE_ADD] = {
		[R_FREE] = NT_T(OK(MAPPED), ERR0(ST_OPS)),
		[R_NLM] = NT_T(ERR0(ST_OI_RCX), ERR0(ST_OPS)),
		[R_NLM_512] = NT_T(ERR0(ST_OI_RCX), ERR0(ST_OPS)),
		[R_NLB] = NT_T(ERR0(ST_OI_RCX), ERR0(ST_OPS)),
		[R_NLB_512] = NT_T(ERR0(ST_OI_RCX), ERR0(ST_OPS)),
		[R_MAPPED] = NT_T(ERR(ST_SI), ERR0(ST_OPS)),
		[R_BLOCKED] = NT_T(ERR(ST_SI), ERR0(ST_OPS)),
		[R_PENDING] = NT_T(ERR(ST_SI), ERR0(ST_OPS)),
		[R_PBLOCKED] = NT_T(ERR(ST_SI), ERR0(ST_OPS)),
	},
	/* AUG: FREE (or REMOVED) only; allowed before finalize too (§3.1). */
	[C_AUG] = {
		[R_FREE] = ALL(OK(PENDING)),
		[R_NLM] = ALL(ERR(ST_SI)),
		[R_NLM_512] = ALL(ERR(ST_SI)),
		[R_NLB] = ALL(ERR(ST_SI)),
		[R_NLB_512] = ALL(ERR(ST_SI)),
		[R_MAPPED] = ALL(ERR(ST_SI)),
		[R_BLOCKED] = ALL(ERR(ST_SI)),
		[R_PENDING] = ALL(ERR(ST_SI)),
		[R_PBLOCKED] = ALL(ERR(ST_SI)),
	},
	/* RANGE.BLOCK: a *BLOCKED entry is the ALREADY_BLOCKED warning, with
	 * details (§4.4). */
	[C_BLOCK] = {
		[R_FREE] = ALL(ERR(ST_SI)),
		[R_NLM] = ALL(OK(NL_BLOCKED)),
		[R_NLM_512] = ALL(OK(NL_BLOCKED)),
		[R_NLB] = ALL(ERR(ST_AB)),
		[R_NLB_512] = ALL(ERR(ST_AB)),
		[R_MAPPED] = ALL(OK(BLOCKED)),
		[R_BLOCKED] = ALL(ERR(ST_AB)),
		[R_PENDING] = ALL(OK(PENDING_BLOCKED)),
		[R_PBLOCKED] = ALL(ERR(ST_AB)),
	},
	/* RANGE.UNBLOCK: not tracked in T is TRACKING_NOT_DONE + SEPT_TREE,
	 * without details (§4.6). */
	[C_UNBLOCK] = {
		[R_FREE] = ALL(ERR(ST_SI)),
		[R_NLM] = ALL(ERR(ST_SI)),
		[R_NLM_512] = ALL(ERR(ST_SI)),
		[R_NLB] = TRK(OK(NL_MAPPED), ERR0(ST_TND_TREE)),
		[R_NLB_512] = TRK(OK(NL_MAPPED), ERR0(ST_TND_TREE)),
		[R_MAPPED] = ALL(ERR(ST_SI)),
		[R_BLOCKED] = TRK(OK(MAPPED), ERR0(ST_TND_TREE)),
		[R_PENDING] = ALL(ERR(ST_SI)),
		[R_PBLOCKED] = TRK(OK(PENDING), ERR0(ST_TND_TREE)),
	},
	/* PAGE.REMOVE at level 0 (NL rows at level 1: "not leaf"). In T an
	 * unblocked leaf is NOT_BLOCKED whether tracked or not; a blocked one
	 * needs tracking (TRACKING_NOT_DONE + RCX, no details). */
	[C_REMOVE] = {
		[R_FREE] = ALL(ERR(ST_SI)),
		[R_NLM] = ALL(ERR(ST_SI)),
		[R_NLM_512] = ALL(ERR(ST_SI)),
		[R_NLB] = ALL(ERR(ST_SI)),
		[R_NLB_512] = ALL(ERR(ST_SI)),
		[R_MAPPED] = NT_T(OK(FREE), ERR(ST_NB)),
		[R_BLOCKED] = TRK(OK(FREE), ERR0(ST_TND)),
		[R_PENDING] = NT_T(OK(FREE), ERR(ST_NB)),
		[R_PBLOCKED] = TRK(OK(FREE), ERR0(ST_TND)),
	},
	/* SEPT.REMOVE at level 1 (leaf rows: 2M leaves). The NL_BLOCKED cells
	 * read "trk ? ... : TRACKING_NOT_DONE" without "T:"; §4.8 and §3.1
	 * (and the legend's "(T: trk?)") make the tracking check apply only in
	 * T, so in !T they go straight to the child scan. The children scan
	 * comes after the blocked/tracked checks (§4.8). */
	[C_SEPT_REMOVE] = {
		[R_FREE] = ALL(ERR(ST_SI)),
		[R_NLM] = NT_T(OK(FREE), ERR(ST_NB)),
		[R_NLM_512] = NT_T(ERR(ST_PNF), ERR(ST_NB)),
		[R_NLB] = TRK(OK(FREE), ERR0(ST_TND)),
		[R_NLB_512] = TRK(ERR(ST_PNF), ERR0(ST_TND)),
		[R_MAPPED] = ALL(ERR(ST_SI)),
		[R_BLOCKED] = ALL(ERR(ST_SI)),
		[R_PENDING] = ALL(ERR(ST_SI)),
		[R_PBLOCKED] = ALL(ERR(ST_SI)),
	},
	/* PROMOTE on the parent (level 1). An empty table fails the child
	 * check; 512 children merge into a 2M leaf copied from child 0 (PENDING
	 * children in !T, accepted MAPPED ones in T), unblocked. NL_BLOCKED in
	 * !T: no tracking check, as for SEPT.REMOVE (§4.9). */
	[C_PROMOTE] = {
		[R_FREE] = ALL(ERR(ST_SI)),
		[R_NLM] = NT_T(ERR(ST_IPC), ERR(ST_NB)),
		[R_NLM_512] = NT_T(OK(PENDING), ERR(ST_NB)),
		[R_NLB] = TRK(ERR(ST_IPC), ERR0(ST_TND)),
		[R_NLB_512] = { OK(PENDING), ERR0(ST_TND), OK(MAPPED) },
		[R_MAPPED] = ALL(ERR(ST_SI)),
		[R_BLOCKED] = ALL(ERR(ST_SI)),
		[R_PENDING] = ALL(ERR(ST_SI)),
		[R_PBLOCKED] = ALL(ERR(ST_SI)),
	},
	/* DEMOTE of a 2M leaf: NL_MAPPED + 512 unblocked small leaves. */
	[C_DEMOTE] = {
		[R_FREE] = ALL(ERR(ST_SI)),
		[R_NLM] = ALL(ERR(ST_SI)),
		[R_NLM_512] = ALL(ERR(ST_SI)),
		[R_NLB] = ALL(ERR(ST_SI)),
		[R_NLB_512] = ALL(ERR(ST_SI)),
		[R_MAPPED] = NT_T(SPLIT(NL_MAPPED, MAPPED), ERR(ST_NB)),
		[R_BLOCKED] = TRK(SPLIT(NL_MAPPED, MAPPED), ERR0(ST_TND)),
		[R_PENDING] = NT_T(SPLIT(NL_MAPPED, PENDING), ERR(ST_NB)),
		[R_PBLOCKED] = TRK(SPLIT(NL_MAPPED, PENDING), ERR0(ST_TND)),
	},
	/* RELOCATE of a 4K leaf to a new page, unblocked. §5 lists
	 * STATE_INCORRECT for the NL rows, but RELOCATE takes level 0 only and
	 * NL entries live at level >= 1: targeting one is OPERAND_INVALID +
	 * RCX (§4.11 "level 0 only", §3 step 5), no details. */
	[C_RELOCATE] = {
		[R_FREE] = ALL(ERR(ST_SI)),
		[R_NLM] = ALL(ERR0(ST_OI_RCX)),
		[R_NLM_512] = ALL(ERR0(ST_OI_RCX)),
		[R_NLB] = ALL(ERR0(ST_OI_RCX)),
		[R_NLB_512] = ALL(ERR0(ST_OI_RCX)),
		[R_MAPPED] = NT_T(OK(MAPPED), ERR(ST_NB)),
		[R_BLOCKED] = TRK(OK(MAPPED), ERR0(ST_TND)),
		[R_PENDING] = NT_T(OK(PENDING), ERR(ST_NB)),
		[R_PBLOCKED] = TRK(OK(PENDING), ERR0(ST_TND)),
	},
	/* Guest ACCEPT at the entry's level (4K leaves at 0, NL entries at 1:
	 * a non-FREE non-leaf there is PAGE_SIZE_MISMATCH + level). The TDCALL
	 * reports no RCX/RDX details. */
	[C_ACCEPT] = {
		[R_FREE] = T_ONLY(EXIT),
		[R_NLM] = T_ONLY(ERR0(ST_PSM(1))),
		[R_NLM_512] = T_ONLY(ERR0(ST_PSM(1))),
		[R_NLB] = T_ONLY(ERR0(ST_PSM(1))),
		[R_NLB_512] = T_ONLY(ERR0(ST_PSM(1))),
		[R_MAPPED] = T_ONLY(ERR0(ST_AA(0))),
		[R_BLOCKED] = T_ONLY(EXIT),
		[R_PENDING] = T_ONLY(OK(MAPPED)),
		[R_PBLOCKED] = T_ONLY(EXIT),
	},
	/* SEPT.RD "always succeeds" on a reached entry and reports it. */
	[C_SEPT_RD] = {
		[R_FREE] = ALL(UNCHANGED(D_ENTRY)),
		[R_NLM] = ALL(UNCHANGED(D_ENTRY)),
		[R_NLM_512] = ALL(UNCHANGED(D_ENTRY)),
		[R_NLB] = ALL(UNCHANGED(D_ENTRY)),
		[R_NLB_512] = ALL(UNCHANGED(D_ENTRY)),
		[R_MAPPED] = ALL(UNCHANGED(D_ENTRY)),
		[R_BLOCKED] = ALL(UNCHANGED(D_ENTRY)),
		[R_PENDING] = ALL(UNCHANGED(D_ENTRY)),
		[R_PBLOCKED] = ALL(UNCHANGED(D_ENTRY)),
	},
	/*
	 * MR.EXTEND "succeeds only on MAPPED" (INITIALIZED only). The walk is
	 * to a leaf, not to a level: it goes through NL_MAPPED to the level-0
	 * entry below (FREE, or a PENDING child in !T) and stops at
	 * NL_BLOCKED. §4.2 splits the failures into "walk fail" (NOT_PRESENT +
	 * RCX + details) and "leaf not MAPPED" (NOT_PRESENT, no operand); the
	 * module's walk-to-leaf also fails at a leaf without RWX (BLOCKED,
	 * PENDING, PENDING_BLOCKED), as the 1.5 module's
	 * check_and_walk_private_gpa_to_leaf does, so those rows are + RCX
	 * with details and the no-operand form is left to live-migration
	 * states, which the model does not have.
	 */
	[C_MR_EXTEND] = {
		[R_FREE] = NT_T(ERR(ST_NP), ERR0(ST_OPS)),
		[R_NLM] = NT_T(ERR_BELOW(ST_NP), ERR0(ST_OPS)),
		[R_NLM_512] = NT_T(ERR_BELOW(ST_NP), ERR0(ST_OPS)),
		[R_NLB] = NT_T(ERR(ST_NP), ERR0(ST_OPS)),
		[R_NLB_512] = NT_T(ERR(ST_NP), ERR0(ST_OPS)),
		[R_MAPPED] = NT_T(UNCHANGED(D_ZERO), ERR0(ST_OPS)),
		[R_BLOCKED] = NT_T(ERR(ST_NP), ERR0(ST_OPS)),
		[R_PENDING] = NT_T(ERR(ST_NP), ERR0(ST_OPS)),
		[R_PBLOCKED] = NT_T(ERR(ST_NP), ERR0(ST_OPS)),
	},
};

/* ---- reporting ------------------------------------------------------------ */

/* The cell (or check-order case) being run, for every failure message. */
static char cell_name[192];
static unsigned total_cells;

static void want_eq(uint64_t got, uint64_t want, const char *what)
{
	if (got != want)
		fail_msg("[%s] %s: got %#llx, want %#llx", cell_name, what,
			 (unsigned long long)got, (unsigned long long)want);
}

static void want_status(uint64_t got, uint64_t want, const char *what)
{
	if (got != want)
		fail_msg("[%s] %s: got %#llx (%s), want %#llx (%s)", cell_name, what,
			 (unsigned long long)got,
			 tdx_status_name(got) ? tdx_status_name(got) : "?",
			 (unsigned long long)want,
			 tdx_status_name(want) ? tdx_status_name(want) : "?");
}

static void want_state(enum tdx_sept_state got, enum tdx_sept_state want,
		       const char *what)
{
	if (got != want)
		fail_msg("[%s] %s: got %s, want %s", cell_name, what,
			 tdx_sept_state_name(got), tdx_sept_state_name(want));
}

/* ---- §1.6 details ---------------------------------------------------------- */

static uint64_t arch_rcx(enum tdx_sept_state s, hpa_t hpa)
{
	switch (s) {
	case SEPT_FREE: return RCX_FREE;
	case SEPT_NL_MAPPED: return RCX_NL_MAPPED;
	case SEPT_NL_BLOCKED: return RCX_NL_BLOCKED;
	case SEPT_MAPPED: return hpa | RCX_LEAF_MAPPED;
	default: return hpa | RCX_LEAF_NOT_PRESENT;
	}
}

static uint64_t arch_rdx(enum tdx_sept_state s, unsigned level)
{
	static const uint64_t pub[SEPT_NR_STATES] = {
		[SEPT_FREE] = 0, [SEPT_BLOCKED] = 1, [SEPT_PENDING] = 2,
		[SEPT_PENDING_BLOCKED] = 3, [SEPT_MAPPED] = 4, [SEPT_REMOVED] = 5,
		[SEPT_NL_MAPPED] = 0x84, [SEPT_NL_BLOCKED] = 0x81,
	};

	return level | pub[s] << 8;
}

/* ---- observing the TD ------------------------------------------------------ */

#define SNAP_MAX 2048

struct snap_entry {
	uint64_t gpa;
	hpa_t hpa;
	unsigned level;
	enum tdx_sept_state state;
};

struct snap {
	unsigned n;
	bool overflow;
	uint64_t chldcnt, pages;
	struct snap_entry e[SNAP_MAX];
};

static void snap_one(uint64_t gpa, unsigned level, enum tdx_sept_state state,
		     hpa_t hpa, void *arg)
{
	struct snap *s = arg;

	if (s->n == SNAP_MAX) {
		s->overflow = true;
		return;
	}
	s->e[s->n++] = (struct snap_entry){ gpa, hpa, level, state };
}

static void snap_take(struct fx *f, struct snap *s)
{
	memset(s, 0, sizeof(*s));
	tdx_debug_sept_foreach(f->m, f->tdr, snap_one, s);
	s->chldcnt = tdx_debug_chldcnt(f->m, f->tdr);
	s->pages = tdx_debug_td_pages(f->m, f->tdr);
	if (s->overflow)
		fail_msg("[%s] snapshot overflow", cell_name);
}

/* Nothing in the TD changed: every S-EPT entry, CHLDCNT, the PAMT pages. */
static void snap_same(struct fx *f, const struct snap *before)
{
	static struct snap after;

	snap_take(f, &after);
	want_eq(after.chldcnt, before->chldcnt, "CHLDCNT changed");
	want_eq(after.pages, before->pages, "the TD's PAMT pages changed");
	want_eq(after.n, before->n, "number of non-FREE S-EPT entries changed");
	for (unsigned i = 0; i < after.n; i++) {
		const struct snap_entry *a = &after.e[i], *b = &before->e[i];

		if (a->gpa != b->gpa || a->level != b->level || a->state != b->state ||
		    a->hpa != b->hpa)
			fail_msg("[%s] S-EPT changed: gpa %#llx L%u %s hpa %#llx, was "
				 "gpa %#llx L%u %s hpa %#llx", cell_name,
				 (unsigned long long)a->gpa, a->level,
				 tdx_sept_state_name(a->state), (unsigned long long)a->hpa,
				 (unsigned long long)b->gpa, b->level,
				 tdx_sept_state_name(b->state), (unsigned long long)b->hpa);
	}
}

static hpa_t entry_hpa(struct fx *f, uint64_t gpa, unsigned level)
{
	enum tdx_sept_state s;
	hpa_t hpa = 0;

	if (!tdx_debug_sept_state(f->m, f->tdr, gpa, level, &s, &hpa, NULL))
		fail_msg("[%s] gpa %#llx L%u not reachable", cell_name,
			 (unsigned long long)gpa, level);
	return hpa;
}

static enum tdx_page_type pamt_type(struct fx *f, hpa_t hpa, hpa_t *owner,
				    unsigned *size)
{
	enum tdx_page_type pt;
	hpa_t o;
	unsigned sz;

	tdx_debug_pamt(f->m, hpa_to_pfn(hpa), &pt, &o, &sz);
	if (owner)
		*owner = o;
	if (size)
		*size = sz;
	return pt;
}

/* ---- building a row --------------------------------------------------------- */

struct cell {
	struct fx f;
	enum col col;
	enum row row;
	enum variant var;
	uint64_t gpa;    /* GPA of the target entry */
	unsigned level;  /* and its level */
	hpa_t hpa;       /* what the entry points at: the leaf page (4K or
			    2M), the S-EPT page below an NL entry; 0 if FREE */
	hpa_t children;  /* *_512 rows: the first of the 512 children */
};

static uint64_t call(struct cell *c, int leaf, uint64_t rcx, uint64_t rdx,
		     uint64_t r8, uint64_t r9, struct seamcall_regs *out)
{
	return fx_call(&c->f, leaf, rcx, rdx, r8, r9, out);
}

static void call_ok(struct cell *c, int leaf, uint64_t rcx, uint64_t r8,
		    uint64_t r9, const char *what)
{
	want_status(call(c, leaf, rcx, c->f.tdr, r8, r9, NULL), TDX_SUCCESS, what);
}

static void enter(struct cell *c)
{
	want_status(call(c, TDH_VP_ENTER, c->f.tdvpr[0], 0, 0, 0, NULL), TDX_SUCCESS,
		    "setup: TDH.VP.ENTER");
}

static void leave(struct cell *c)
{
	tdx_td_exit(c->f.m, c->f.tdvpr[0]);
}

static void accept_ok(struct cell *c, uint64_t gpa, unsigned level)
{
	uint64_t st = ~0ULL;

	want_eq(tdg_mem_page_accept(c->f.m, c->f.tdvpr[0], tdx_page_info(gpa, level), &st),
		TDCALL_RETURNED, "setup: ACCEPT result");
	want_status(st, TDX_SUCCESS, "setup: ACCEPT");
}

/* SEPT.ADD the missing S-EPT pages above `level` for gpa, top-down. */
static void path(struct cell *c, uint64_t gpa, unsigned level)
{
	for (unsigned l = c->f.pwl; l > level; l--) {
		uint64_t g = gpa & ~((PAGE_SIZE << (9 * l)) - 1);

		if (fx_state(&c->f, g, l) == SEPT_NL_MAPPED)
			continue;
		call_ok(c, TDH_MEM_SEPT_ADD, tdx_page_info(g, l), fx_new_page(&c->f), 0,
			"setup: SEPT.ADD");
	}
}

/* A MAPPED or PENDING leaf at c->gpa, c->level (see the header). */
static void make_leaf(struct cell *c, bool mapped)
{
	struct fx *f = &c->f;
	bool runnable = c->var != V_NT;

	if (c->level == 0) {
		c->hpa = fx_new_page(f);
		path(c, c->gpa, 0);
		if (mapped && !runnable) {
			call_ok(c, TDH_MEM_PAGE_ADD, tdx_page_info(c->gpa, 0), c->hpa,
				fx_new_page(f), "setup: PAGE.ADD");
			return;
		}
		call_ok(c, TDH_MEM_PAGE_AUG, tdx_page_info(c->gpa, 0), c->hpa, 0,
			"setup: AUG 4K");
	} else {
		c->hpa = fx_new_2m(f);
		if (mapped && !runnable) {
			hpa_t src = fx_new_page(f);

			path(c, c->gpa, 0);
			for (unsigned i = 0; i < 512; i++)
				call_ok(c, TDH_MEM_PAGE_ADD,
					tdx_page_info(c->gpa + i * PAGE_SIZE, 0),
					c->hpa + i * PAGE_SIZE, src, "setup: PAGE.ADD x512");
			call_ok(c, TDH_MEM_PAGE_PROMOTE, tdx_page_info(c->gpa, 1), 0, 0,
				"setup: PROMOTE");
			return;
		}
		path(c, c->gpa, 1);
		call_ok(c, TDH_MEM_PAGE_AUG, tdx_page_info(c->gpa, 1), c->hpa, 0,
			"setup: AUG 2M");
	}
	if (mapped) {
		enter(c);
		accept_ok(c, c->gpa, c->level);
		leave(c);
	}
}

/* 512 children under the level-1 entry at G: AUG of one 2M-aligned run,
 * accepted in T. */
static void make_children(struct cell *c)
{
	c->children = fx_new_2m(&c->f);
	for (unsigned i = 0; i < 512; i++)
		call_ok(c, TDH_MEM_PAGE_AUG, tdx_page_info(G + i * PAGE_SIZE, 0),
			c->children + i * PAGE_SIZE, 0, "setup: AUG x512");
	if (c->var == V_NT)
		return;
	enter(c);
	for (unsigned i = 0; i < 512; i++)
		accept_ok(c, G + i * PAGE_SIZE, 0);
	leave(c);
}

static bool row_is_nl(enum row r)
{
	return r == R_NLM || r == R_NLM_512 || r == R_NLB || r == R_NLB_512;
}

static void build(struct cell *c)
{
	struct fx *f = &c->f;

	fx_init(f, 48, 1);
	if (c->var != V_NT)
		fx_finalize(f);
	c->level = row_is_nl(c->row) ? 1 : columns[c->col].leaf_level;
	c->gpa = c->level == 0 ? G4K : G;

	switch (c->row) {
	case R_FREE:
		path(c, c->gpa, c->level);
		break;
	case R_NLM:
	case R_NLM_512:
	case R_NLB:
	case R_NLB_512:
		path(c, G, 0);
		c->hpa = entry_hpa(f, G, 1);
		if (c->row == R_NLM_512 || c->row == R_NLB_512)
			make_children(c);
		if (c->row == R_NLB || c->row == R_NLB_512)
			call_ok(c, TDH_MEM_RANGE_BLOCK, tdx_page_info(G, 1), 0, 0,
				"setup: BLOCK L1");
		break;
	case R_MAPPED:
	case R_BLOCKED:
		make_leaf(c, true);
		break;
	case R_PENDING:
	case R_PBLOCKED:
		make_leaf(c, false);
		break;
	case NR_ROWS:
		break;
	}
	if (c->row == R_BLOCKED || c->row == R_PBLOCKED)
		call_ok(c, TDH_MEM_RANGE_BLOCK, tdx_page_info(c->gpa, c->level), 0, 0,
			"setup: BLOCK");
	if (c->var == V_TRK)
		want_status(call(c, TDH_MEM_TRACK, f->tdr, 0, 0, 0, NULL), TDX_SUCCESS,
			    "setup: TRACK");
	want_state(fx_state(f, c->gpa, c->level), row_state[c->row], "setup: row state");
}

/* ---- running a cell ------------------------------------------------------------- */

struct result {
	uint64_t status;
	struct seamcall_regs out;
	enum tdcall_result tdcall;
	hpa_t r8; /* the page handed in R8, 0 if none */
};

static void run_op(struct cell *c, struct result *r)
{
	struct fx *f = &c->f;
	uint64_t pi = tdx_page_info(c->gpa, c->level);
	int leaf = columns[c->col].leaf;

	memset(r, 0, sizeof(*r));
	switch (c->col) {
	case C_SEPT_ADD:
	case C_DEMOTE:
		r->r8 = fx_new_page(f);
		r->status = call(c, leaf, pi, f->tdr, r->r8, 0, &r->out);
		break;
	case C_SEPT_ADD_EXIST:
		r->r8 = fx_new_page(f);
		r->status = call(c, leaf, pi, f->tdr | TDX_SEPT_ADD_ALLOW_EXISTING, r->r8, 0,
				 &r->out);
		break;
	case C_PAGE_ADD:
		r->r8 = fx_new_page(f);
		r->status = call(c, leaf, pi, f->tdr, r->r8, fx_new_page(f), &r->out);
		break;
	case C_AUG:
		/* A page of the entry's size, so that only the state can be
		 * wrong. */
		r->r8 = c->level ? fx_new_2m(f) : fx_new_page(f);
		r->status = call(c, leaf, pi, f->tdr, r->r8, 0, &r->out);
		break;
	case C_RELOCATE:
		r->r8 = fx_new_page(f);
		r->status = call(c, leaf, pi, f->tdr, r->r8, 0, &r->out);
		break;
	case C_BLOCK:
	case C_UNBLOCK:
	case C_REMOVE:
	case C_SEPT_REMOVE:
	case C_PROMOTE:
	case C_SEPT_RD:
		r->status = call(c, leaf, pi, f->tdr, 0, 0, &r->out);
		break;
	case C_ACCEPT:
		enter(c);
		r->tdcall = tdg_mem_page_accept(f->m, f->tdvpr[0], pi, &r->status);
		leave(c);
		break;
	case C_MR_EXTEND:
		/* A 256-byte chunk inside the page (NL rows: inside child 0). */
		r->status = call(c, leaf, c->gpa + 0x100, f->tdr, 0, 0, &r->out);
		break;
	case NR_COLS:
		break;
	}
}

/* CHLDCNT change of a successful call (§15 invariant 2). */
static int64_t chld_delta(const struct cell *c)
{
	int64_t pages = (int64_t)1 << (9 * c->level);

	switch (c->col) {
	case C_SEPT_ADD:
	case C_SEPT_ADD_EXIST:
		return c->row == R_FREE ? 1 : 0;
	case C_PAGE_ADD: return 1;
	case C_AUG: return pages;
	case C_REMOVE: return -pages;
	case C_SEPT_REMOVE:
	case C_PROMOTE: return -1;
	case C_DEMOTE: return 1;
	default: return 0;
	}
}

static void check_success(struct cell *c, const struct expect *x,
			  const struct result *r, const struct snap *before)
{
	struct fx *f = &c->f;
	enum tdx_sept_state want = x->state == KEEP ? row_state[c->row] : x->state;
	hpa_t want_hpa = c->hpa, owner;
	uint64_t rcx = 0, rdx = 0;
	unsigned size;

	/* The documented outputs. */
	switch (c->col) {
	case C_REMOVE:      /* the removed page */
	case C_RELOCATE:    /* the old page */
	case C_SEPT_REMOVE: /* the removed S-EPT page */
	case C_PROMOTE:     /* the freed S-EPT page */
		rcx = c->hpa;
		break;
	default:
		if (x->det == D_ENTRY) {
			rcx = arch_rcx(row_state[c->row], c->hpa);
			rdx = arch_rdx(row_state[c->row], c->level);
		}
		break;
	}
	if (c->col != C_ACCEPT) {
		want_eq(r->out.rcx, rcx, "RCX");
		want_eq(r->out.rdx, rdx, "RDX");
	}

	want_state(fx_state(f, c->gpa, c->level), want, "new state");

	/* Where the entry points now. */
	switch (c->col) {
	case C_SEPT_ADD:
	case C_SEPT_ADD_EXIST:
		if (c->row == R_FREE)
			want_hpa = r->r8;
		break;
	case C_PAGE_ADD:
	case C_AUG:
	case C_RELOCATE:
	case C_DEMOTE:
		want_hpa = r->r8;
		break;
	case C_PROMOTE:
		want_hpa = c->children;
		break;
	case C_REMOVE:
	case C_SEPT_REMOVE:
		want_hpa = 0;
		break;
	default:
		break;
	}
	want_eq(entry_hpa(f, c->gpa, c->level), want_hpa, "HPA in the entry");
	want_eq(tdx_debug_chldcnt(f->m, f->tdr) - before->chldcnt, (uint64_t)chld_delta(c),
		"CHLDCNT delta");

	/* The pages handed in or given up (PAMT, §2.2). */
	if (r->r8) {
		enum tdx_page_type pt = pamt_type(f, r->r8, &owner, &size);
		enum tdx_page_type want_pt = PT_REG;

		if (c->col == C_SEPT_ADD || c->col == C_SEPT_ADD_EXIST || c->col == C_DEMOTE)
			want_pt = chld_delta(c) ? PT_EPT : PT_NDA;
		want_eq(pt, want_pt, "PAMT type of the R8 page");
		if (want_pt != PT_NDA) {
			want_eq(owner, f->tdr, "PAMT owner of the R8 page");
			want_eq(size, want_pt == PT_REG ? c->level : 0, "PAMT size of the R8 page");
		}
	}
	if (c->col == C_REMOVE || c->col == C_RELOCATE || c->col == C_SEPT_REMOVE ||
	    c->col == C_PROMOTE)
		want_eq(pamt_type(f, c->hpa, NULL, NULL), PT_NDA, "PAMT type of the freed page");

	/* PROMOTE: one 2M PT_REG page now (§4.9). */
	if (c->col == C_PROMOTE) {
		want_eq(pamt_type(f, c->children, &owner, &size), PT_REG, "PAMT of the 2M page");
		want_eq(owner, f->tdr, "PAMT owner of the 2M page");
		want_eq(size, 1, "PAMT size of the 2M page");
	}
	/* DEMOTE: 512 small leaves, each a 4K PT_REG page (§4.10). */
	if (c->col == C_DEMOTE) {
		for (unsigned i = 0; i < 512; i++) {
			uint64_t g = c->gpa + i * PAGE_SIZE;
			hpa_t hpa = c->hpa + i * PAGE_SIZE;

			want_state(fx_state(f, g, 0), x->child, "DEMOTE child state");
			want_eq(entry_hpa(f, g, 0), hpa, "DEMOTE child HPA");
			want_eq(pamt_type(f, hpa, &owner, &size), PT_REG, "DEMOTE child PAMT");
			want_eq(size, 0, "DEMOTE child PAMT size");
		}
	}
}

static void check_failure(struct cell *c, const struct expect *x,
			  const struct result *r, const struct snap *before)
{
	uint64_t rcx = 0, rdx = 0;

	if (c->col != C_ACCEPT) {
		if (x->det == D_ENTRY) {
			rcx = arch_rcx(row_state[c->row], c->hpa);
			rdx = arch_rdx(row_state[c->row], c->level);
		} else if (x->det == D_BELOW) {
			/* Child 0 of the table: FREE, or the first of the 512
			 * children (PENDING in !T, MAPPED in T). */
			bool full = c->row == R_NLM_512 || c->row == R_NLB_512;
			enum tdx_sept_state s = !full ? SEPT_FREE
					      : c->var == V_NT ? SEPT_PENDING : SEPT_MAPPED;

			rcx = arch_rcx(s, full ? c->children : 0);
			rdx = arch_rdx(s, 0);
		}
		want_eq(r->out.rcx, rcx, "RCX");
		want_eq(r->out.rdx, rdx, "RDX");
	}
	if (r->r8)
		want_eq(pamt_type(&c->f, r->r8, NULL, NULL), PT_NDA,
			"PAMT type of the R8 page after a failure");
	want_state(fx_state(&c->f, c->gpa, c->level), row_state[c->row],
		   "state after a failure");
	snap_same(&c->f, before);
}

static void run_cell(enum col col, enum row row, enum variant var)
{
	const struct expect *x = &expected[col][row][var];
	static struct snap before;
	struct result r;
	struct cell *c;

	snprintf(cell_name, sizeof(cell_name), "%s x %s, %s", columns[col].name,
		 row_name[row], variant_name[var]);
	if (x->kind == X_HOLE)
		fail_msg("[%s] no expected result in the table", cell_name);
	if (x->kind == X_NA)
		return;

	c = calloc(1, sizeof(*c));
	assert_non_null(c);
	c->col = col;
	c->row = row;
	c->var = var;
	build(c);
	snap_take(&c->f, &before);
	run_op(c, &r);

	if (col == C_ACCEPT)
		want_eq(r.tdcall, x->kind == X_EXIT ? TDCALL_EXIT_EPT_VIOLATION : TDCALL_RETURNED,
			"TDCALL result (1 = EPT-violation TD exit)");
	if (x->kind != X_EXIT)
		want_status(r.status, x->status, "status");
	if (x->kind == X_OK)
		check_success(c, x, &r, &before);
	else
		check_failure(c, x, &r, &before);

	fx_fini(&c->f);
	free(c);
	total_cells++;
}

static void run_column(enum col col)
{
	unsigned n = total_cells;

	for (unsigned row = 0; row < NR_ROWS; row++)
		for (unsigned var = 0; var < NR_VARIANTS; var++)
			run_cell(col, (enum row)row, (enum variant)var);
	print_message("    %s: %u cells\n", columns[col].name, total_cells - n);
}

#define COLUMN_TEST(fn, col)                 \
	static void fn(void **state)         \
	{                                    \
		(void)state;                 \
		run_column(col);             \
	}

COLUMN_TEST(test_sept_add, C_SEPT_ADD)
COLUMN_TEST(test_sept_add_allow_existing, C_SEPT_ADD_EXIST)
COLUMN_TEST(test_page_add, C_PAGE_ADD)
COLUMN_TEST(test_page_aug, C_AUG)
COLUMN_TEST(test_range_block, C_BLOCK)
COLUMN_TEST(test_range_unblock, C_UNBLOCK)
COLUMN_TEST(test_page_remove, C_REMOVE)
COLUMN_TEST(test_sept_remove, C_SEPT_REMOVE)
COLUMN_TEST(test_page_promote, C_PROMOTE)
COLUMN_TEST(test_page_demote, C_DEMOTE)
COLUMN_TEST(test_page_relocate, C_RELOCATE)
COLUMN_TEST(test_guest_accept, C_ACCEPT)
COLUMN_TEST(test_sept_rd, C_SEPT_RD)
COLUMN_TEST(test_mr_extend, C_MR_EXTEND)

/* ---- §3 check order ----------------------------------------------------------- */

/*
 * One case: a call in which several preconditions fail, the status the
 * earliest §3 step gives, and RCX/RDX.
 */
static void order(const char *what, uint64_t status, const struct seamcall_regs *out,
		  uint64_t want, uint64_t rcx, uint64_t rdx)
{
	snprintf(cell_name, sizeof(cell_name), "check order: %s", what);
	want_status(status, want, "status");
	if (out) {
		want_eq(out->rcx, rcx, "RCX");
		want_eq(out->rdx, rdx, "RDX");
	}
	total_cells++;
}

/*
 * The TD the order cases use (T unless `initialized`):
 *   G4K  a MAPPED 4K leaf (PAGE.ADD in !T, AUG + ACCEPT in T), *a;
 *   G2   NL_BLOCKED at level 1 over a PENDING 4K child at G2;
 *   G3   (T only) a MAPPED 2M leaf, *big.
 */
static void order_td(struct cell *c, bool initialized, hpa_t *a, hpa_t *big)
{
	memset(c, 0, sizeof(*c));
	c->var = initialized ? V_NT : V_T;
	snprintf(cell_name, sizeof(cell_name), "check order: setup");
	fx_init(&c->f, 48, 1);
	if (!initialized)
		fx_finalize(&c->f);
	c->gpa = G4K;
	c->level = 0;
	make_leaf(c, true);
	*a = c->hpa;

	path(c, G2, 0);
	call_ok(c, TDH_MEM_PAGE_AUG, tdx_page_info(G2, 0), fx_new_page(&c->f), 0,
		"setup: AUG");
	call_ok(c, TDH_MEM_RANGE_BLOCK, tdx_page_info(G2, 1), 0, 0, "setup: BLOCK");

	if (!initialized) {
		c->gpa = G3;
		c->level = 1;
		make_leaf(c, true);
		*big = c->hpa;
	}
}

/* PAGE.ADD and MR.EXTEND: TDR exclusive, OP_STATE checked without its lock,
 * no tree lock (§3 last paragraph, §4.2). */
static void test_order_tdr_exclusive(void **state)
{
	struct cell *c = calloc(1, sizeof(*c));
	struct fx *f = &c->f;
	struct seamcall_regs out;
	hpa_t a, big, src, not_tdr, bad_src;

	(void)state;
	order_td(c, true, &a, &big);
	src = fx_new_page(f);
	not_tdr = fx_new_page(f);
	/* A source HPA carrying a private key id (§1.5: must be shared). */
	bad_src = src | ((uint64_t)HOST_FIRST_PRIVATE_KEYID << HOST_KEYID_SHIFT);

	order("PAGE.ADD: RDX not a TDR (step 2) + level 1 (step 5)",
	      fx_call(f, TDH_MEM_PAGE_ADD, tdx_page_info(GFAR, 1), not_tdr, fx_new_page(f), src,
		      &out), &out, ST_META_RDX, 0, 0);
	order("PAGE.ADD: RDX misaligned (step 2) + level 1 (step 5)",
	      fx_call(f, TDH_MEM_PAGE_ADD, tdx_page_info(GFAR, 1), f->tdr + 0x800,
		      fx_new_page(f), src, &out), &out, ST_OI_RDX, 0, 0);
	order("PAGE.ADD: level 1 (step 5) + walk would fail (step 6)",
	      fx_call(f, TDH_MEM_PAGE_ADD, tdx_page_info(GFAR, 1), f->tdr, fx_new_page(f), src,
		      &out), &out, ST_OI_RCX, 0, 0);
	order("PAGE.ADD: shared GPA (step 6 GPA check) + walk would fail",
	      fx_call(f, TDH_MEM_PAGE_ADD, tdx_page_info(GFAR | SHARED_BIT, 0), f->tdr,
		      fx_new_page(f), src, &out), &out, ST_OI_RCX, 0, 0);
	/* The walk stops at the root's FREE entry (level 3). */
	order("PAGE.ADD: walk fails (step 6) + bad R9 + bad R8",
	      fx_call(f, TDH_MEM_PAGE_ADD, tdx_page_info(GFAR, 0), f->tdr, 0x123, bad_src, &out),
	      &out, ST_WALK, RCX_FREE, 3);
	order("PAGE.ADD: entry MAPPED (step 8) + bad R9 + bad R8",
	      fx_call(f, TDH_MEM_PAGE_ADD, tdx_page_info(G4K, 0), f->tdr, 0x123, bad_src, &out),
	      &out, ST_SI, a | RCX_LEAF_MAPPED, 0x400);
	order("PAGE.ADD: bad source R9 before bad target R8 (§4.2 order)",
	      fx_call(f, TDH_MEM_PAGE_ADD, tdx_page_info(G4K + PAGE_SIZE, 0), f->tdr, 0x123,
		      bad_src, &out), &out, ST_OI_R9, 0, 0);
	order("MR.EXTEND: GPA not 256-byte aligned + walk would fail",
	      fx_call(f, TDH_MR_EXTEND, GFAR + 0x80, f->tdr, 0, 0, &out), &out, ST_OI_RCX, 0, 0);
	order("MR.EXTEND: shared GPA + walk would fail",
	      fx_call(f, TDH_MR_EXTEND, GFAR | SHARED_BIT, f->tdr, 0, 0, &out), &out,
	      ST_OI_RCX, 0, 0);
	order("MR.EXTEND: RDX not a TDR + GPA not aligned",
	      fx_call(f, TDH_MR_EXTEND, G4K + 0x80, not_tdr, 0, 0, &out), &out, ST_META_RDX, 0, 0);

	fx_finalize(f);
	order("PAGE.ADD (T): OP_STATE (step 4) + level 1 (step 5) + bad R8",
	      fx_call(f, TDH_MEM_PAGE_ADD, tdx_page_info(GFAR, 1), f->tdr, 0x123, src, &out),
	      &out, ST_OPS, 0, 0);
	order("PAGE.ADD (T): RDX not a TDR (step 2) + OP_STATE (step 4)",
	      fx_call(f, TDH_MEM_PAGE_ADD, tdx_page_info(G4K + PAGE_SIZE, 0), not_tdr,
		      fx_new_page(f), src, &out), &out, ST_META_RDX, 0, 0);
	order("MR.EXTEND (T): OP_STATE + GPA not aligned",
	      fx_call(f, TDH_MR_EXTEND, G4K + 0x80, f->tdr, 0, 0, &out), &out, ST_OPS, 0, 0);
	fx_fini(f);
	free(c);
}

/* AUG, SEPT.ADD, DEMOTE, RELOCATE, REMOVE, SEPT.RD: TDR shared, OP_STATE
 * lock, tree shared, entry lock. */
static void test_order_tree_shared(void **state)
{
	struct cell *c = calloc(1, sizeof(*c));
	struct fx *f = &c->f;
	struct seamcall_regs out;
	hpa_t a, big, not_tdr;

	(void)state;
	order_td(c, false, &a, &big);
	not_tdr = fx_new_page(f);

	/* AUG */
	order("AUG: RDX not a TDR (step 2) + level 2 (step 5)",
	      fx_call(f, TDH_MEM_PAGE_AUG, tdx_page_info(0, 2), not_tdr, fx_new_page(f), 0, &out),
	      &out, ST_META_RDX, 0, 0);
	order("AUG: level 2 (step 5) + walk would fail (step 6)",
	      fx_call(f, TDH_MEM_PAGE_AUG, tdx_page_info(0, 2), f->tdr, fx_new_page(f), 0, &out),
	      &out, ST_OI_RCX, 0, 0);
	order("AUG: GPA not 2M aligned at level 1 (step 5) + entry NL_MAPPED (step 8)",
	      fx_call(f, TDH_MEM_PAGE_AUG, tdx_page_info(G4K, 1), f->tdr, fx_new_2m(f), 0, &out),
	      &out, ST_OI_RCX, 0, 0);
	order("AUG: RCX reserved bit 3 (step 5) + walk would fail",
	      fx_call(f, TDH_MEM_PAGE_AUG, tdx_page_info(GFAR, 0) | 8, f->tdr, fx_new_page(f), 0,
		      &out), &out, ST_OI_RCX, 0, 0);
	order("AUG: shared GPA (step 6) + walk would fail",
	      fx_call(f, TDH_MEM_PAGE_AUG, tdx_page_info(GFAR | SHARED_BIT, 0), f->tdr,
		      fx_new_page(f), 0, &out), &out, ST_OI_RCX, 0, 0);
	/* The level-0 entry under the NL_BLOCKED PDE is PENDING (step 8 would
	 * fail too), but the walk stops at the PDE. */
	order("AUG: walk stops at NL_BLOCKED (step 6) + entry below not FREE (step 8)",
	      fx_call(f, TDH_MEM_PAGE_AUG, tdx_page_info(G2, 0), f->tdr, fx_new_page(f), 0, &out),
	      &out, ST_WALK, RCX_NL_BLOCKED, 0x8101);
	order("AUG: walk stops at a 2M leaf (step 6) + bad R8",
	      fx_call(f, TDH_MEM_PAGE_AUG, tdx_page_info(G3 + PAGE_SIZE, 0), f->tdr, 0x123, 0,
		      &out), &out, ST_WALK, big | RCX_LEAF_MAPPED, 0x401);
	order("AUG: entry MAPPED (step 8) + bad R8 (step 9)",
	      fx_call(f, TDH_MEM_PAGE_AUG, tdx_page_info(G4K, 0), f->tdr, 0x123, 0, &out),
	      &out, ST_SI, a | RCX_LEAF_MAPPED, 0x400);
	order("AUG: entry FREE, bad R8 (step 9 reached)",
	      fx_call(f, TDH_MEM_PAGE_AUG, tdx_page_info(G4K + PAGE_SIZE, 0), f->tdr, 0x123, 0,
		      &out), &out, ST_OI_R8, 0, 0);

	/* SEPT.ADD: version and the RDX handle come first (step 1). */
	/* The dispatcher lets version 2 through for SEPT.ADD; the leaf
	 * refuses it after zeroing RCX/RDX (1.5.01). */
	order("SEPT.ADD: version 2 (step 1) + RDX reserved bit + level 0",
	      fx_call(f, TDH_MEM_SEPT_ADD | (2 << 16), tdx_page_info(G, 0), f->tdr | 2,
		      fx_new_page(f), 0, &out), &out, ST_OI_RAX, 0, 0);
	order("SEPT.ADD: RDX reserved bit (step 1) + RDX not a TDR (step 2) + level 0",
	      fx_call(f, TDH_MEM_SEPT_ADD, tdx_page_info(G, 0), not_tdr | 2, fx_new_page(f), 0,
		      &out), &out, ST_OI_RDX, 0, 0);
	order("SEPT.ADD: level 0 (step 5) + R8 NULL_PA",
	      fx_call(f, TDH_MEM_SEPT_ADD, tdx_page_info(G, 0), f->tdr, TDX_NULL_PA, 0, &out),
	      &out, ST_OI_RCX, 0, 0);
	/* 1.5.01's process_l1_page: a version-0 NULL_PA is refused as R8
	 * once the entry's state has passed, whatever that state (the model
	 * used to answer STATE_INCORRECT for an NL_MAPPED entry). */
	order("SEPT.ADD: entry NL_MAPPED (step 8 passes) + R8 NULL_PA (v0)",
	      fx_call(f, TDH_MEM_SEPT_ADD, tdx_page_info(G, 1), f->tdr, TDX_NULL_PA, 0, &out),
	      &out, ST_OI_R8, 0, 0);
	order("SEPT.ADD: entry NL_MAPPED + ALLOW_EXISTING + R8 NULL_PA (v0)",
	      fx_call(f, TDH_MEM_SEPT_ADD, tdx_page_info(G, 1), f->tdr | 1, TDX_NULL_PA, 0,
		      &out), &out, ST_OI_R8, 0, 0);

	/* DEMOTE: blocked, then tracked, then R8 (§4.10). */
	order("DEMOTE (T): 2M leaf not blocked + bad R8",
	      fx_call(f, TDH_MEM_PAGE_DEMOTE, tdx_page_info(G3, 1), f->tdr, 0x123, 0, &out),
	      &out, ST_NB, big | RCX_LEAF_MAPPED, 0x401);
	order("DEMOTE: level 0 (step 5) + 2M leaf above (walk)",
	      fx_call(f, TDH_MEM_PAGE_DEMOTE, tdx_page_info(G3, 0), f->tdr, fx_new_page(f), 0,
		      &out), &out, ST_OI_RCX, 0, 0);
	want_status(fx_call(f, TDH_MEM_RANGE_BLOCK, tdx_page_info(G3, 1), f->tdr, 0, 0, NULL),
		    TDX_SUCCESS, "BLOCK G3");
	order("DEMOTE (T): blocked, not tracked + bad R8",
	      fx_call(f, TDH_MEM_PAGE_DEMOTE, tdx_page_info(G3, 1), f->tdr, 0x123, 0, &out),
	      &out, ST_TND, 0, 0);
	want_status(fx_call(f, TDH_MEM_TRACK, f->tdr, 0, 0, 0, NULL), TDX_SUCCESS, "TRACK");
	order("DEMOTE (T): blocked and tracked, bad R8 (reached)",
	      fx_call(f, TDH_MEM_PAGE_DEMOTE, tdx_page_info(G3, 1), f->tdr, 0x123, 0, &out),
	      &out, ST_OI_R8, 0, 0);

	/* RELOCATE: old == new comes before the blocked check (§4.11). */
	order("RELOCATE (T): R8 == mapped HPA + not blocked",
	      fx_call(f, TDH_MEM_PAGE_RELOCATE, tdx_page_info(G4K, 0), f->tdr, a, 0, &out),
	      &out, ST_OI_R8, 0, 0);
	order("RELOCATE (T): not blocked + bad R8",
	      fx_call(f, TDH_MEM_PAGE_RELOCATE, tdx_page_info(G4K, 0), f->tdr, 0x123, 0, &out),
	      &out, ST_NB, a | RCX_LEAF_MAPPED, 0x400);
	order("RELOCATE: level 1 (step 5) + entry NL_MAPPED",
	      fx_call(f, TDH_MEM_PAGE_RELOCATE, tdx_page_info(G, 1), f->tdr, fx_new_page(f), 0,
		      &out), &out, ST_OI_RCX, 0, 0);

	/* REMOVE */
	order("REMOVE: level 3 (step 5) + walk would fail",
	      fx_call(f, TDH_MEM_PAGE_REMOVE, tdx_page_info(0, 3), f->tdr, 0, 0, &out), &out,
	      ST_OI_RCX, 0, 0);
	order("REMOVE (T): walk stops at NL_BLOCKED + child below not blocked",
	      fx_call(f, TDH_MEM_PAGE_REMOVE, tdx_page_info(G2, 0), f->tdr, 0, 0, &out), &out,
	      ST_WALK, RCX_NL_BLOCKED, 0x8101);
	order("REMOVE (T): entry FREE (step 8) + not blocked",
	      fx_call(f, TDH_MEM_PAGE_REMOVE, tdx_page_info(G4K + PAGE_SIZE, 0), f->tdr, 0, 0,
		      &out), &out, ST_SI, RCX_FREE, 0);

	/* SEPT.RD succeeds on any reached entry, but not through a walk
	 * failure. */
	order("SEPT.RD: walk stops at NL_BLOCKED",
	      fx_call(f, TDH_MEM_SEPT_RD, tdx_page_info(G2, 0), f->tdr, 0, 0, &out), &out,
	      ST_WALK, RCX_NL_BLOCKED, 0x8101);
	order("SEPT.RD: level 4 > pwl (step 5)",
	      fx_call(f, TDH_MEM_SEPT_RD, tdx_page_info(0, 4), f->tdr, 0, 0, &out), &out,
	      ST_OI_RCX, 0, 0);

	/* Step 3 (TD state) before step 5: once the HKID is on its way out,
	 * every S-EPT call is TD_KEYS_NOT_CONFIGURED, but a bad TDR still wins. */
	want_status(fx_call(f, TDH_VP_FLUSH, f->tdvpr[0], 0, 0, 0, NULL), TDX_SUCCESS, "VP.FLUSH");
	want_status(fx_call(f, TDH_MNG_VPFLUSHDONE, f->tdr, 0, 0, 0, NULL), TDX_SUCCESS,
		    "MNG.VPFLUSHDONE");
	order("AUG: keys not configured (step 3) + level 2 (step 5) + bad R8",
	      fx_call(f, TDH_MEM_PAGE_AUG, tdx_page_info(0, 2), f->tdr, 0x123, 0, &out), &out,
	      ST_KEYS, 0, 0);
	order("AUG: RDX not a TDR (step 2) + keys not configured (step 3)",
	      fx_call(f, TDH_MEM_PAGE_AUG, tdx_page_info(0, 2), not_tdr, 0x123, 0, &out), &out,
	      ST_META_RDX, 0, 0);
	order("SEPT.RD: keys not configured + walk would fail",
	      fx_call(f, TDH_MEM_SEPT_RD, tdx_page_info(G2, 0), f->tdr, 0, 0, &out), &out,
	      ST_KEYS, 0, 0);
	fx_fini(f);
	free(c);
}

/* RANGE.BLOCK, RANGE.UNBLOCK, SEPT.REMOVE: tree exclusive. */
static void test_order_tree_exclusive(void **state)
{
	struct cell *c = calloc(1, sizeof(*c));
	struct fx *f = &c->f;
	struct seamcall_regs out;
	hpa_t a, big, not_tdr;

	(void)state;
	order_td(c, false, &a, &big);
	not_tdr = fx_new_page(f);

	order("BLOCK: RDX not a TDR (step 2) + level 4 > pwl (step 5)",
	      fx_call(f, TDH_MEM_RANGE_BLOCK, tdx_page_info(0, 4), not_tdr, 0, 0, &out), &out,
	      ST_META_RDX, 0, 0);
	order("BLOCK: level 4 > pwl (step 5) + walk would fail",
	      fx_call(f, TDH_MEM_RANGE_BLOCK, tdx_page_info(0, 4), f->tdr, 0, 0, &out), &out,
	      ST_OI_RCX, 0, 0);
	/* Below the NL_BLOCKED PDE is a PENDING child BLOCK would accept. */
	order("BLOCK: walk stops at NL_BLOCKED (step 6) + child below blockable",
	      fx_call(f, TDH_MEM_RANGE_BLOCK, tdx_page_info(G2, 0), f->tdr, 0, 0, &out), &out,
	      ST_WALK, RCX_NL_BLOCKED, 0x8101);
	order("BLOCK: walk stops at a 2M leaf + level 0",
	      fx_call(f, TDH_MEM_RANGE_BLOCK, tdx_page_info(G3, 0), f->tdr, 0, 0, &out), &out,
	      ST_WALK, big | RCX_LEAF_MAPPED, 0x401);

	order("UNBLOCK: walk stops at NL_BLOCKED (step 6)",
	      fx_call(f, TDH_MEM_RANGE_UNBLOCK, tdx_page_info(G2, 0), f->tdr, 0, 0, &out), &out,
	      ST_WALK, RCX_NL_BLOCKED, 0x8101);
	order("UNBLOCK (T): entry MAPPED (step 8) + nothing tracked",
	      fx_call(f, TDH_MEM_RANGE_UNBLOCK, tdx_page_info(G4K, 0), f->tdr, 0, 0, &out), &out,
	      ST_SI, a | RCX_LEAF_MAPPED, 0x400);

	order("SEPT.REMOVE: level 0 (step 5)",
	      fx_call(f, TDH_MEM_SEPT_REMOVE, tdx_page_info(G4K, 0), f->tdr, 0, 0, &out), &out,
	      ST_OI_RCX, 0, 0);
	order("SEPT.REMOVE: version 2 (step 1) + level 0",
	      fx_call(f, TDH_MEM_SEPT_REMOVE | (2 << 16), tdx_page_info(G4K, 0), f->tdr, 0, 0,
		      &out), NULL, ST_OI_RAX, 0, 0);
	/* The table below G holds the MAPPED page: the child scan would fail
	 * too, but the blocked check comes first. */
	order("SEPT.REMOVE (T): NL_MAPPED not blocked + children not FREE",
	      fx_call(f, TDH_MEM_SEPT_REMOVE, tdx_page_info(G, 1), f->tdr, 0, 0, &out), &out,
	      ST_NB, RCX_NL_MAPPED, 0x8401);
	order("SEPT.REMOVE (T): NL_BLOCKED not tracked + children not FREE",
	      fx_call(f, TDH_MEM_SEPT_REMOVE, tdx_page_info(G2, 1), f->tdr, 0, 0, &out), &out,
	      ST_TND, 0, 0);
	want_status(fx_call(f, TDH_MEM_TRACK, f->tdr, 0, 0, 0, NULL), TDX_SUCCESS, "TRACK");
	order("SEPT.REMOVE (T): tracked, children not FREE (scan reached)",
	      fx_call(f, TDH_MEM_SEPT_REMOVE, tdx_page_info(G2, 1), f->tdr, 0, 0, &out), &out,
	      ST_PNF, RCX_NL_BLOCKED, 0x8101);
	fx_fini(f);
	free(c);
}

/* A guest ACCEPT case: RCX as given (GPA | level | reserved bits); `want` a
 * status, or ORDER_EXIT for an EPT-violation TD exit. */
#define ORDER_EXIT (~0ULL)

static void order_accept(struct fx *f, const char *what, uint64_t rcx, uint64_t want)
{
	enum tdcall_result res;
	uint64_t st = ~0ULL;

	res = tdg_mem_page_accept(f->m, f->tdvpr[0], rcx, &st);
	snprintf(cell_name, sizeof(cell_name), "check order: %s", what);
	want_eq(res, want == ORDER_EXIT ? TDCALL_EXIT_EPT_VIOLATION : TDCALL_RETURNED,
		"TDCALL result (1 = EPT-violation TD exit)");
	if (want != ORDER_EXIT)
		order(what, st, NULL, want, 0, 0);
	else
		total_cells++;
}

/* TDH.MEM.TRACK (TDR in RCX) and the guest's ACCEPT (no host locks; walk
 * without the tree lock, guest-flavour entry lock). */
static void test_order_track_and_accept(void **state)
{
	struct cell *c = calloc(1, sizeof(*c));
	struct fx *f = &c->f;
	struct seamcall_regs out;
	static struct snap before;
	hpa_t a, big, pending2m;

	(void)state;
	order_td(c, false, &a, &big);
	/* G4: a PENDING 2M leaf. */
	pending2m = fx_new_2m(f);
	path(c, G4, 1);
	call_ok(c, TDH_MEM_PAGE_AUG, tdx_page_info(G4, 1), pending2m, 0, "setup: AUG 2M");

	order("TRACK: RCX not a TDR",
	      fx_call(f, TDH_MEM_TRACK, fx_new_page(f), 0, 0, 0, &out), NULL, ST_META_RCX, 0, 0);
	order("TRACK: RCX misaligned",
	      fx_call(f, TDH_MEM_TRACK, f->tdr + 0x10, 0, 0, 0, &out), NULL, ST_OI_RCX, 0, 0);

	want_status(fx_call(f, TDH_VP_ENTER, f->tdvpr[0], 0, 0, 0, NULL), TDX_SUCCESS,
		    "VP.ENTER");
	order_accept(f, "ACCEPT: level 2 + entry FREE", (G4K + PAGE_SIZE) | 2, ST_OI_RCX);
	order_accept(f, "ACCEPT: RCX reserved bit 3 + entry FREE", (G4K + PAGE_SIZE) | 8,
		     ST_OI_RCX);
	order_accept(f, "ACCEPT: shared GPA + walk would stop at NL_BLOCKED",
		     G2 | SHARED_BIT, ST_OI_RCX);
	order_accept(f, "ACCEPT: GPA not 2M aligned at level 1 + PENDING 2M leaf",
		     (G4 + PAGE_SIZE) | 1, ST_OI_RCX);
	/* Stopped above the requested level at a MAPPED leaf: the warning
	 * names the level where it was found. */
	order_accept(f, "ACCEPT: level 0 under a MAPPED 2M leaf", G3 + PAGE_SIZE,
		     ST_AA(1));
	/* Stopped above at a non-MAPPED leaf / a blocked non-leaf: TD exit,
	 * even though the page or the child below is acceptable, and nothing
	 * is accepted. */
	snap_take(f, &before);
	order_accept(f, "ACCEPT: level 0 under a PENDING 2M leaf", G4 + PAGE_SIZE,
		     ORDER_EXIT);
	order_accept(f, "ACCEPT: level 0 under NL_BLOCKED, child PENDING", G2, ORDER_EXIT);
	snap_same(f, &before);
	tdx_td_exit(f->m, f->tdvpr[0]);
	fx_fini(f);
	free(c);
}

/* The tables' edges: a leaf outside the table (no SEAMCALL of the ABI has
 * that number) and a state the module never produces (a misconfigured
 * entry decodes as SEPT_NR_STATES) are allowed for nothing, so such an
 * entry answers TDX_EPT_ENTRY_STATE_INCORRECT to every leaf rather than
 * index past the table. */
static void test_table_edges(void **state)
{
	(void)state;
	assert_false(tdx_op_state_allowed(-1, OP_RUNNABLE));
	assert_false(tdx_op_state_allowed(TDX_NR_LEAVES, OP_RUNNABLE));
	assert_false(tdx_op_state_allowed(TDH_MEM_TRACK, OP_NR_STATES));
	assert_true(tdx_op_state_allowed(TDH_MEM_TRACK, OP_RUNNABLE));
	assert_false(tdx_sept_state_allowed(-1, SEPT_FREE));
	assert_false(tdx_sept_state_allowed(TDX_NR_LEAVES, SEPT_FREE));
	assert_false(tdx_sept_state_allowed(TDH_MEM_SEPT_RD, SEPT_NR_STATES));
	assert_true(tdx_sept_state_allowed(TDH_MEM_SEPT_RD, SEPT_FREE));
	assert_true(tdx_op_state_tracking_required(OP_LIVE_EXPORT));
	assert_true(tdx_op_state_tracking_required(OP_LIVE_IMPORT));
	assert_false(tdx_op_state_tracking_required(OP_INITIALIZED));
}

static void test_summary(void **state)
{
	(void)state;
	print_message("    %u cells and check-order cases run\n", total_cells);
	/* 14 columns x 9 rows x 3 variants, less the 9 ACCEPT cells before
	 * finalize; plus the check-order cases. */
	assert_true(total_cells >= 14 * 9 * 3 - 9);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_edges),
		cmocka_unit_test(test_sept_add),
		cmocka_unit_test(test_sept_add_allow_existing),
		cmocka_unit_test(test_page_add),
		cmocka_unit_test(test_page_aug),
		cmocka_unit_test(test_range_block),
		cmocka_unit_test(test_range_unblock),
		cmocka_unit_test(test_page_remove),
		cmocka_unit_test(test_sept_remove),
		cmocka_unit_test(test_page_promote),
		cmocka_unit_test(test_page_demote),
		cmocka_unit_test(test_page_relocate),
		cmocka_unit_test(test_guest_accept),
		cmocka_unit_test(test_sept_rd),
		cmocka_unit_test(test_mr_extend),
		cmocka_unit_test(test_order_tdr_exclusive),
		cmocka_unit_test(test_order_tree_shared),
		cmocka_unit_test(test_order_tree_exclusive),
		cmocka_unit_test(test_order_track_and_accept),
		cmocka_unit_test(test_summary),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
