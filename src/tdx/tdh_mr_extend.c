/* SPDX-License-Identifier: MIT */
/*
 * TDH.MR.EXTEND (leaf 16), tdx-module-sept.md §4.2: measure 256 bytes of a
 * page added with TDH.MEM.PAGE.ADD into the TD measurement (MRTD). RCX = GPA
 * aligned to 256 bytes (a plain GPA, not page info), RDX = TDR HPA, locked
 * exclusively: no OP_STATE, tree or entry lock is taken (§3, §11.2).
 *
 * Order: TDR (RDX) -> the common state step (§3 step 3) -> OP_STATE
 * INITIALIZED (§3.1) -> GPA 256-byte aligned, then a valid private GPA
 * (TDX_OPERAND_INVALID + RCX) -> walk to the first leaf -> if the walk does
 * not end at a present leaf: TDX_EPT_ENTRY_NOT_PRESENT + RCX with the
 * stopping entry in RCX/RDX (§1.6) -> a present leaf that is not MAPPED:
 * TDX_EPT_ENTRY_NOT_PRESENT, no operand, no details (only live-migration
 * states could give this; the model has none).
 *
 * "Walk to a leaf" follows the module's walk-to-leaf, which wants a leaf with
 * R/W/X: a PENDING or BLOCKED leaf therefore fails the walk and is reported
 * with its details and operand RCX (§4.2 says only "walk fail"; the module's
 * helper is explicit that the final entry must be a present leaf).
 *
 * Measurement: three SHA-384 blocks of 128 bytes. The first is a header:
 * bytes 0..15 the ASCII string "MR.EXTEND" zero-padded, bytes 16..23 the GPA
 * (RCX, 256-byte aligned) little-endian, bytes 24..127 zero. Then the 256 data
 * bytes, read from the TD page with the TD's private key.
 */
#include <string.h>

#include "tdx/tdx_internal.h"

#define MR_BLOCK 128
#define MR_CHUNK 256

static void put_le64(uint8_t *p, uint64_t v)
{
	for (unsigned i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

uint64_t tdh_mr_extend(struct tdx_module *m, struct seamcall_regs *r)
{
	struct sept_ctx c;
	uint64_t gpa = r->rcx, rdx = r->rdx, status, leaf_size, page_hpa;
	uint8_t header[MR_BLOCK] = "MR.EXTEND";
	uint8_t data[MR_CHUNK];
	struct tdx_td *td;

	r->rcx = r->rdx = 0;
	sept_ctx_init(&c, m, r, TDH_MR_EXTEND);
	if ((status = tdx_lock_tdr(&c, rdx, TDX_OPERAND_ID_RDX, true)) ||
	    (status = tdx_check_td_keys(&c)) ||
	    (status = tdx_check_op_state(&c, false)))
		goto out;
	td = c.td;
	if (gpa & (MR_CHUNK - 1)) {
		status = TDX_OPERAND_INVALID + TDX_OPERAND_ID_RCX;
		goto out;
	}
	c.gpa = gpa;
	c.level = 0;
	if ((status = tdx_check_private_gpa(&c)))
		goto out;
	status = tdx_walk_to_leaf(&c);
	if (status != TDX_SUCCESS) {
		/* RCX/RDX already describe the stopping entry. */
		status = TDX_EPT_ENTRY_NOT_PRESENT + TDX_OPERAND_ID_RCX;
		goto out;
	}
	if (!tdx_sept_state_allowed(TDH_MR_EXTEND, sept_state(c.walk_value))) {
		status = TDX_EPT_ENTRY_NOT_PRESENT;
		goto out;
	}

	/* Commit point. The chunk lies in the 4K frame at its offset inside
	 * the leaf (a large leaf maps contiguous frames). */
	leaf_size = PAGE_SIZE << (9 * c.walk_level);
	page_hpa = sept_hpa(c.walk_value) + (gpa & (leaf_size - 1) & PAGE_MASK);
	host_frame_read(m->hm, hpa_to_pfn(page_hpa), gpa & (PAGE_SIZE - 1), data,
			sizeof(data), td->hkid, NULL);
	put_le64(&header[16], gpa);
	sha384_update(&td->mrtd_ctx, sizeof(header), header);
	sha384_update(&td->mrtd_ctx, sizeof(data), data);
out:
	sept_ctx_release(&c);
	return status;
}
