/* SPDX-License-Identifier: MIT */
/*
 * Secure EPT entries as the TDX module 1.5 stores them (tdx-module-sept.md
 * §2.3). The state of an entry is not a field: it is encoded in software bits
 * (TDEX, TDBW, TDB, TDP, D) together with IPAT and PS, exactly as the module
 * does, so the same 64-bit value means the same thing here as there.
 *
 * S-EPT pages live in host frames (512 atomic entries per 4K page), written
 * with the TD's private key: the host reading such a frame sees zeros.
 */
#ifndef TDXMMU_TDX_SEPT_H
#define TDXMMU_TDX_SEPT_H

#include <assert.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "tdx/tdx_module.h"

#define SEPT_R (1ULL << 0)
#define SEPT_W (1ULL << 1)
#define SEPT_X (1ULL << 2)
#define SEPT_RWX (SEPT_R | SEPT_W | SEPT_X)
#define SEPT_MT_SHIFT 3
#define SEPT_MT_MASK (7ULL << SEPT_MT_SHIFT)
#define SEPT_MT_WB (6ULL << SEPT_MT_SHIFT)
#define SEPT_IPAT (1ULL << 6)
#define SEPT_PS (1ULL << 7) /* leaf; set for 4K leaves too */
#define SEPT_TDGL (1ULL << 8)
#define SEPT_D (1ULL << 9)
#define SEPT_TDEL (1ULL << 11) /* entry lock */
#define SEPT_HPA_MASK 0x000FFFFFFFFFF000ULL
#define SEPT_HP (1ULL << 52)   /* entry lock's host-priority flag */
#define SEPT_TDEX (1ULL << 53)
#define SEPT_TDBW (1ULL << 54)
#define SEPT_TDB (1ULL << 55)
#define SEPT_TDP (1ULL << 56)
#define SEPT_SVE (1ULL << 63)
/* Bits that belong to the lock protocol, not to the entry's value. */
#define SEPT_LOCK_BITS (SEPT_TDEL | SEPT_HP)
/* Bits of the 2M PENDING accept counter (§8), unused while not accepting. */
#define SEPT_ACCEPT_CNT_MASK 0x00000000001FF000ULL

static_assert((SEPT_HPA_MASK & (SEPT_TDEL | SEPT_HP | SEPT_TDB | SEPT_TDP | SEPT_SVE)) == 0,
	      "S-EPT software bits overlap the HPA field");
static_assert((SEPT_RWX | SEPT_MT_MASK | SEPT_IPAT | SEPT_PS) == 0xFF,
	      "S-EPT architectural low byte");

/* Entry values (lock bits clear). SVE is set in every leaf and FREE entry so
 * that hardware never turns an S-EPT violation into a #VE by itself. */
#define SEPT_FREE_VALUE (SEPT_SVE | SEPT_TDEX | SEPT_TDBW | SEPT_TDB)

static inline uint64_t sept_make_nl_mapped(uint64_t hpa)
{
	return (hpa & SEPT_HPA_MASK) | SEPT_RWX;
}
static inline uint64_t sept_make_leaf(uint64_t hpa, bool pending)
{
	return (hpa & SEPT_HPA_MASK) | SEPT_MT_WB | SEPT_IPAT | SEPT_PS |
	       SEPT_SVE | (pending ? SEPT_TDP : SEPT_RWX);
}

/* The 7-bit state code, built as the module builds it: D -> bit 0,
 * TDEX..TDP -> bits 1..4, IPAT, PS -> bits 5..6. */
static inline unsigned sept_state_code(uint64_t e)
{
	return (unsigned)(((e >> 9) & 1) | (((e >> 53) & 0xF) << 1) |
			  (((e >> 6) & 3) << 5));
}

#define SEPT_CODE_FREE 0x0E
#define SEPT_CODE_REMOVED 0x0C
#define SEPT_CODE_NL_MAPPED 0x00
#define SEPT_CODE_NL_BLOCKED 0x08
#define SEPT_CODE_MAPPED 0x60
#define SEPT_CODE_BLOCKED 0x68
#define SEPT_CODE_PENDING 0x70
#define SEPT_CODE_PENDING_BLOCKED 0x78

/* Decodes an entry; SEPT_NR_STATES for a code the model never produces (the
 * live-migration states), which the module treats as misconfigured. */
static inline enum tdx_sept_state sept_state(uint64_t e)
{
	switch (sept_state_code(e)) {
	case SEPT_CODE_FREE: return SEPT_FREE;
	case SEPT_CODE_REMOVED: return SEPT_REMOVED;
	case SEPT_CODE_NL_MAPPED: return SEPT_NL_MAPPED;
	case SEPT_CODE_NL_BLOCKED: return SEPT_NL_BLOCKED;
	case SEPT_CODE_MAPPED: return SEPT_MAPPED;
	case SEPT_CODE_BLOCKED: return SEPT_BLOCKED;
	case SEPT_CODE_PENDING: return SEPT_PENDING;
	case SEPT_CODE_PENDING_BLOCKED: return SEPT_PENDING_BLOCKED;
	default: return SEPT_NR_STATES;
	}
}

/* Present for the page walker = any of R/W/X. */
static inline bool sept_is_present(uint64_t e) { return (e & SEPT_RWX) != 0; }
static inline bool sept_is_leaf(uint64_t e) { return (e & SEPT_PS) != 0; }
static inline uint64_t sept_hpa(uint64_t e) { return e & SEPT_HPA_MASK; }

/* Public state numbers reported in RDX (§1.6). */
unsigned sept_public_state(enum tdx_sept_state s);
/* The "architectural" entry reported in RCX on failures (§1.6). */
uint64_t sept_arch_entry(uint64_t e);

/* Transitions keep the HPA and the memory type, as the module's setters do.
 * Blocking a large PENDING leaf also drops its partial-ACCEPT counter (bits
 * 20:12, which are zero in a 2M-aligned HPA, so only level > 0 has one). */
static inline uint64_t sept_block(uint64_t e, unsigned level)
{
	if (level > 0 && sept_state(e) == SEPT_PENDING)
		e &= ~SEPT_ACCEPT_CNT_MASK;
	e &= ~(SEPT_RWX | SEPT_LOCK_BITS);
	return e | SEPT_TDB;
}
static inline uint64_t sept_unblock(uint64_t e)
{
	enum tdx_sept_state s = sept_state(e);

	e &= ~(SEPT_TDB | SEPT_LOCK_BITS);
	if (s == SEPT_NL_BLOCKED || s == SEPT_BLOCKED)
		e |= SEPT_RWX;
	return e;
}

/* Size in 4K pages of what one entry at `level` maps. */
static inline uint64_t sept_level_pages(unsigned level)
{
	return 1ULL << (9 * level);
}
static inline unsigned sept_index(uint64_t gpa, unsigned level)
{
	return (unsigned)((gpa >> (12 + 9 * level)) & 511);
}

#endif /* TDXMMU_TDX_SEPT_H */
