/* SPDX-License-Identifier: MIT */
/*
 * The SEAMCALL interface: the only way KVM (and the host) reaches the emulated
 * TDX module. Operands are registers holding numbers (HPAs, GPA+level page
 * info, the TDR's HPA), never pointers into the module, and the answer is a
 * 64-bit TDX status plus output registers, as on hardware. KVM never reads the
 * Secure EPT or the PAMT; what it knows about private memory it keeps in its
 * own private (mirror) EPT (seed 004).
 *
 * Register layouts follow the TDX module 1.5 ABI (tdx-module-sept.md §1.5, §4):
 *   RAX in: leaf (bits 15:0) | version (bits 23:16); out: status
 *   RCX: page info = GPA | level (bits 2:0), or an HPA, per leaf
 *   RDX: TDR HPA (SEPT.ADD/DEMOTE: bit 0 is a flag)
 *   R8, R9: page HPAs; outputs per leaf
 *
 * Model-specific: TDH.VP.ENTER (RCX = TDVPR HPA) does not run the guest; on
 * success the vCPU is in guest mode until tdx_td_exit() (tdx_module.h), and
 * R8 = 1 if the module flushed the vCPU's private (S-EPT) translations at
 * this entry (its epoch moved since its last entry, §6), else 0. The CPU
 * model drops its cached private translations when R8 is 1.
 */
#ifndef TDXMMU_TDX_SEAMCALL_H
#define TDXMMU_TDX_SEAMCALL_H

#include <stdint.h>

#include "host/host_mem.h"
#include "tdx/tdx_status.h"

struct tdx_module;

struct seamcall_regs {
	uint64_t rax, rcx, rdx, r8, r9, r10, r11;
};

/* Issues one SEAMCALL; returns the status (also left in regs->rax). Safe to
 * call from any number of threads: contention answers TDX_OPERAND_BUSY. */
uint64_t seamcall(struct tdx_module *m, struct seamcall_regs *regs);

static inline uint64_t tdx_page_info(uint64_t gpa, unsigned level)
{
	return (gpa & ~0xFFFULL) | (level & 7);
}

/* TDH.MEM.SEPT.ADD / PAGE.DEMOTE: RDX bit 0 flags. */
#define TDX_SEPT_ADD_ALLOW_EXISTING 1ULL
/* SEPT.ADD version 1: R8 may be this to mean "no new L1 page". */
#define TDX_NULL_PA (~0ULL)

/*
 * TD_PARAMS, as the host lays it out in a shared page whose HPA is passed to
 * TDH.MNG.INIT in RDX (a subset of the architectural structure: the fields the
 * memory model uses). Little-endian, at offset 0 of the page.
 */
struct tdx_td_params {
	uint64_t attributes;     /* bit 28: SEPT_VE_DISABLE */
	uint16_t max_vcpus;
	uint16_t reserved0[3];
	uint64_t eptp_controls;  /* bits 2:0 memory type (6 = WB), 5:3 PWL-1 */
	uint64_t exec_controls;  /* bit 0: GPAW (0 = 48 bits, 1 = 52 bits) */
};
#define TDX_TD_ATTR_SEPT_VE_DISABLE (1ULL << 28)
#define TDX_EXEC_CONTROL_MAX_GPAW (1ULL << 0)

/* The extended exit qualification's type (bits 3:0) the module reports with
 * an EPT-violation TD exit (in VP.ENTER's output on hardware; the model's
 * CPU passes it to KVM with the exit); PENDING_EPT_VIOLATION: the guest touched a
 * PENDING page of a TD with SEPT_VE_DISABLE (the TDX module spec's
 * TDX_EXT_EXIT_QUAL_TYPE_PENDING_EPT_VIOLATION). */
#define TDX_EXT_EXIT_QUAL_TYPE_MASK 0xFULL
#define TDX_EXT_EXIT_QUAL_TYPE_NONE 0ULL
/* A guest ACCEPT that could not complete (hugepages ref §2.2.1): bits 34:32
 * hold the TDX level it asked for (0 4K, 1 2M, 2 1G). */
#define TDX_EXT_EXIT_QUAL_TYPE_ACCEPT 1ULL
#define TDX_EXT_EXIT_QUAL_ACCEPT_LEVEL_SHIFT 32
#define TDX_EXT_EXIT_QUAL_ACCEPT_LEVEL_MASK (7ULL << TDX_EXT_EXIT_QUAL_ACCEPT_LEVEL_SHIFT)
#define TDX_EXT_EXIT_QUAL_TYPE_PENDING_EPT_VIOLATION 6ULL

/* TDH.PHYMEM.CACHE.WB: RCX 0 starts a write-back, 1 resumes one the module
 * interrupted (TDX_INTERRUPTED_RESUMABLE); anything else is refused. */
#define TDX_CACHE_WB_START 0
#define TDX_CACHE_WB_RESUME 1

/*
 * The TDX global private key id: the key the module itself uses for the TDR
 * (KVM reads it from TDH.SYS.INFO as tdx_global_keyid). After the TDR's
 * RECLAIM the TD's HKID is long free, so the TDR's cache lines are written
 * back with TDH.PHYMEM.PAGE.WBINVD under this key (upstream
 * tdh_phymem_page_wbinvd_tdr). In the model it lies just below the TDs'
 * key ids, so no TD can be given it; host memory treats it as a key without
 * integrity, and nothing but the module's record of dirty lines looks at it.
 */
#define TDX_GLOBAL_KEYID (HOST_FIRST_PRIVATE_KEYID - 1)

/* Minimum number of TDCS pages (TDH.MNG.ADDCX calls) before TDH.MNG.INIT. */
#define TDX_NUM_TDCS_PAGES 6
/* TDCS page index that holds the Secure EPT root. */
#define TDX_TDCS_SEPT_ROOT_INDEX 3

#endif /* TDXMMU_TDX_SEAMCALL_H */
