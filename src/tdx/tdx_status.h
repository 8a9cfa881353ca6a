/* SPDX-License-Identifier: MIT */
/*
 * TDX module status codes and SEAMCALL leaf numbers, as the TDX module 1.5.01
 * ABI defines them (tdx-module-sept.md §1; values from the module's
 * auto-generated error-code table, cross-checked with Linux's tdx_errno.h).
 *
 * A status is 64 bits: bits 31:0 operand id / details, 39:32 details L1,
 * 47:40 class, bit 63 error. Bit 63 clear with a non-zero class is a success
 * with a warning.
 */
#ifndef TDXMMU_TDX_STATUS_H
#define TDXMMU_TDX_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* X(name, value) */
#define TDX_STATUS_LIST(X)                                          \
	X(TDX_SUCCESS, 0x0000000000000000ULL)                       \
	X(TDX_INTERRUPTED_RESUMABLE, 0x8000000300000000ULL)         \
	X(TDX_INTERRUPTED_RESTARTABLE, 0x8000000400000000ULL)       \
	X(TDX_OPERAND_INVALID, 0xC000010000000000ULL)               \
	X(TDX_OPERAND_ADDR_RANGE_ERROR, 0xC000010100000000ULL)      \
	X(TDX_OPERAND_BUSY, 0x8000020000000000ULL)                  \
	X(TDX_PREVIOUS_TLB_EPOCH_BUSY, 0x8000020100000000ULL)       \
	X(TDX_SYS_BUSY, 0x8000020200000000ULL)                      \
	X(TDX_OPERAND_BUSY_HOST_PRIORITY, 0x8000020400000000ULL)    \
	X(TDX_HOST_PRIORITY_BUSY_TIMEOUT, 0x9000020500000000ULL)    \
	X(TDX_PAGE_METADATA_INCORRECT, 0xC000030000000000ULL)       \
	X(TDX_PAGE_ALREADY_FREE, 0x0000030100000000ULL)             \
	X(TDX_TD_ASSOCIATED_PAGES_EXIST, 0xC000040000000000ULL)     \
	X(TDX_SYS_NOT_READY, 0xC000050500000000ULL)                 \
	X(TDX_SYS_SHUTDOWN, 0xC000050600000000ULL)                  \
	X(TDX_TD_FATAL, 0xE000060400000000ULL)                      \
	X(TDX_TD_NON_DEBUG, 0xC000060500000000ULL)                  \
	X(TDX_TDCS_NOT_ALLOCATED, 0xC000060600000000ULL)            \
	X(TDX_LIFECYCLE_STATE_INCORRECT, 0xC000060700000000ULL)     \
	X(TDX_OP_STATE_INCORRECT, 0xC000060800000000ULL)            \
	X(TDX_NO_VCPUS, 0xC000060900000000ULL)                      \
	X(TDX_TDCX_NUM_INCORRECT, 0xC000061000000000ULL)            \
	X(TDX_VCPU_STATE_INCORRECT, 0xC000070000000000ULL)          \
	X(TDX_VCPU_ASSOCIATED, 0x8000070100000000ULL)               \
	X(TDX_VCPU_NOT_ASSOCIATED, 0x8000070200000000ULL)           \
	X(TDX_KEY_GENERATION_FAILED, 0x8000080000000000ULL)         \
	X(TDX_TD_KEYS_NOT_CONFIGURED, 0x8000081000000000ULL)        \
	X(TDX_KEY_STATE_INCORRECT, 0xC000081100000000ULL)           \
	X(TDX_KEY_CONFIGURED, 0x0000081500000000ULL)                \
	X(TDX_WBCACHE_NOT_COMPLETE, 0x8000081700000000ULL)          \
	X(TDX_HKID_NOT_FREE, 0xC000082000000000ULL)                 \
	X(TDX_NO_HKID_READY_TO_WBCACHE, 0x0000082100000000ULL)      \
	X(TDX_WBCACHE_RESUME_ERROR, 0xC000082300000000ULL)          \
	X(TDX_FLUSHVP_NOT_DONE, 0x8000082400000000ULL)              \
	X(TDX_EPT_WALK_FAILED, 0xC0000B0000000000ULL)               \
	X(TDX_EPT_ENTRY_FREE, 0xC0000B0100000000ULL)                \
	X(TDX_EPT_ENTRY_NOT_FREE, 0xC0000B0200000000ULL)            \
	X(TDX_EPT_ENTRY_NOT_PRESENT, 0xC0000B0300000000ULL)         \
	X(TDX_EPT_ENTRY_NOT_LEAF, 0xC0000B0400000000ULL)            \
	X(TDX_EPT_ENTRY_LEAF, 0xC0000B0500000000ULL)                \
	X(TDX_GPA_RANGE_NOT_BLOCKED, 0xC0000B0600000000ULL)         \
	X(TDX_GPA_RANGE_ALREADY_BLOCKED, 0x00000B0700000000ULL)     \
	X(TDX_TLB_TRACKING_NOT_DONE, 0xC0000B0800000000ULL)         \
	X(TDX_EPT_INVALID_PROMOTE_CONDITIONS, 0xC0000B0900000000ULL) \
	X(TDX_PAGE_ALREADY_ACCEPTED, 0x00000B0A00000000ULL)         \
	X(TDX_PAGE_SIZE_MISMATCH, 0xC0000B0B00000000ULL)            \
	X(TDX_GPA_RANGE_BLOCKED, 0xC0000B0C00000000ULL)             \
	X(TDX_EPT_ENTRY_STATE_INCORRECT, 0xC0000B0D00000000ULL)     \
	X(TDX_EPT_PAGE_NOT_FREE, 0xC0000B0E00000000ULL)             \
	X(TDX_L2_SEPT_WALK_FAILED, 0xC0000B0F00000000ULL)           \
	X(TDX_L2_SEPT_ENTRY_NOT_FREE, 0xC0000B1000000000ULL)        \
	X(TDX_L2_SEPT_PAGE_NOT_PROVIDED, 0xC0000B1200000000ULL)

#define TDX_STATUS_DEFINE(name, val) static const uint64_t name = (val);
TDX_STATUS_LIST(TDX_STATUS_DEFINE)
#undef TDX_STATUS_DEFINE

#define TDX_STATUS_MASK 0xFFFFFFFF00000000ULL
#define TDX_STATUS_ERROR_BIT (1ULL << 63)

/* Operand ids added into the low 32 bits of a status. */
enum tdx_operand_id {
	TDX_OPERAND_ID_RAX = 0,
	TDX_OPERAND_ID_RCX = 1,
	TDX_OPERAND_ID_RDX = 2,
	TDX_OPERAND_ID_R8 = 8,
	TDX_OPERAND_ID_R9 = 9,
	TDX_OPERAND_ID_R10 = 10,
	TDX_OPERAND_ID_R11 = 11,
	TDX_OPERAND_ID_TDR = 0x80,
	TDX_OPERAND_ID_SEPT = 0x92, /* the S-EPT tree lock */
	TDX_OPERAND_ID_SEPT_ENTRY = 0x93,
	TDX_OPERAND_ID_TD_EPOCH = 0xA9,
	TDX_OPERAND_ID_OP_STATE = 0xAC,
	TDX_OPERAND_ID_KOT = 0xBA,     /* the key ownership table */
	TDX_OPERAND_ID_WBCACHE = 0xBC, /* the package's CACHE.WB state */
};

static inline bool tdx_status_is_error(uint64_t s) { return s & TDX_STATUS_ERROR_BIT; }
static inline uint64_t tdx_status_class(uint64_t s) { return s & TDX_STATUS_MASK; }
static inline bool tdx_status_is(uint64_t s, uint64_t cls)
{
	return tdx_status_class(s) == tdx_status_class(cls);
}

/* Name of a status class ("TDX_OPERAND_BUSY"), or NULL if unknown. */
const char *tdx_status_name(uint64_t status);
/* The @i-th name of TDX_STATUS_LIST, NULL past the last. */
const char *tdx_status_name_at(size_t i);
/* Parses a name from TDX_STATUS_LIST. */
bool tdx_status_parse(const char *name, uint64_t *status);

/* SEAMCALL leaf numbers (RAX bits 15:0), tdx-module-sept.md §1.2. */
#define TDX_LEAF_LIST(X)                              \
	X(TDH_VP_ENTER, 0, "TDH.VP.ENTER")             \
	X(TDH_MNG_ADDCX, 1, "TDH.MNG.ADDCX")           \
	X(TDH_MEM_PAGE_ADD, 2, "TDH.MEM.PAGE.ADD")     \
	X(TDH_MEM_SEPT_ADD, 3, "TDH.MEM.SEPT.ADD")     \
	X(TDH_VP_ADDCX, 4, "TDH.VP.ADDCX")             \
	X(TDH_MEM_PAGE_RELOCATE, 5, "TDH.MEM.PAGE.RELOCATE") \
	X(TDH_MEM_PAGE_AUG, 6, "TDH.MEM.PAGE.AUG")     \
	X(TDH_MEM_RANGE_BLOCK, 7, "TDH.MEM.RANGE.BLOCK") \
	X(TDH_MNG_KEY_CONFIG, 8, "TDH.MNG.KEY.CONFIG") \
	X(TDH_MNG_CREATE, 9, "TDH.MNG.CREATE")         \
	X(TDH_VP_CREATE, 10, "TDH.VP.CREATE")          \
	X(TDH_MEM_PAGE_DEMOTE, 15, "TDH.MEM.PAGE.DEMOTE") \
	X(TDH_MR_EXTEND, 16, "TDH.MR.EXTEND")          \
	X(TDH_MR_FINALIZE, 17, "TDH.MR.FINALIZE")      \
	X(TDH_VP_FLUSH, 18, "TDH.VP.FLUSH")            \
	X(TDH_MNG_VPFLUSHDONE, 19, "TDH.MNG.VPFLUSHDONE") \
	X(TDH_MNG_KEY_FREEID, 20, "TDH.MNG.KEY.FREEID") \
	X(TDH_MNG_INIT, 21, "TDH.MNG.INIT")            \
	X(TDH_VP_INIT, 22, "TDH.VP.INIT")              \
	X(TDH_MEM_PAGE_PROMOTE, 23, "TDH.MEM.PAGE.PROMOTE") \
	X(TDH_MEM_SEPT_RD, 25, "TDH.MEM.SEPT.RD")      \
	X(TDH_PHYMEM_PAGE_RECLAIM, 28, "TDH.PHYMEM.PAGE.RECLAIM") \
	X(TDH_MEM_PAGE_REMOVE, 29, "TDH.MEM.PAGE.REMOVE") \
	X(TDH_MEM_SEPT_REMOVE, 30, "TDH.MEM.SEPT.REMOVE") \
	X(TDH_MEM_TRACK, 38, "TDH.MEM.TRACK")          \
	X(TDH_MEM_RANGE_UNBLOCK, 39, "TDH.MEM.RANGE.UNBLOCK") \
	X(TDH_PHYMEM_CACHE_WB, 40, "TDH.PHYMEM.CACHE.WB") \
	X(TDH_PHYMEM_PAGE_WBINVD, 41, "TDH.PHYMEM.PAGE.WBINVD")

enum tdx_leaf {
#define TDX_LEAF_ENUM(name, num, str) name = (num),
	TDX_LEAF_LIST(TDX_LEAF_ENUM)
#undef TDX_LEAF_ENUM
};
#define TDX_NR_LEAVES 64 /* leaf numbers are below this */

/* Guest-side TDCALL leaves modeled (counted separately). */
#define TDG_VP_VMCALL 0
#define TDG_MEM_PAGE_ACCEPT 6

/* Mnemonic of a leaf, NULL if not modeled. */
const char *tdx_leaf_name(int leaf);
/* The @i-th modeled leaf's mnemonic (by leaf number), NULL past the last. */
const char *tdx_leaf_name_at(size_t i);
/* Leaf number of a mnemonic, -1 if unknown. */
int tdx_leaf_parse(const char *name);

#endif /* TDXMMU_TDX_STATUS_H */
