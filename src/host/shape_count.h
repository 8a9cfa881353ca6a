/* SPDX-License-Identifier: MIT */
/*
 * A count of a tree's shape changes, for walk hints (a seqcount): a walk
 * reads it before and after, and keeps its answer only if both reads are
 * the same with no change in progress; a later walk takes the kept answer
 * while the count still reads that value. Bits 15:0 count the changes in
 * progress, bits 63:16 those done: a change adds 1 before its stores
 * (seq_cst) and SHAPE_COUNT_DONE after (release), which moves the 1 up.
 * Users: the module's S-EPT walk hints (tdx/sept.c) and the CPU's
 * (tdx/module.c) on td->sept_shape; KVM's fault walk hints
 * (kvm/tdp_mmu.c) on kvm->tdp_shape.
 */
#ifndef TDXMMU_HOST_SHAPE_COUNT_H
#define TDXMMU_HOST_SHAPE_COUNT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define SHAPE_COUNT_BUSY 0xFFFFull
#define SHAPE_COUNT_DONE ((1ull << 16) - 1)

static inline void shape_count_begin(_Atomic uint64_t *count)
{
	atomic_fetch_add_explicit(count, 1, memory_order_seq_cst);
}

static inline void shape_count_end(_Atomic uint64_t *count)
{
	atomic_fetch_add_explicit(count, SHAPE_COUNT_DONE, memory_order_release);
}

/* A value read before a walk that a hint may be kept for. */
static inline bool shape_count_settled(uint64_t value)
{
	return !(value & SHAPE_COUNT_BUSY);
}

#endif /* TDXMMU_HOST_SHAPE_COUNT_H */
