/* SPDX-License-Identifier: MIT */
/*
 * The words of the scenario language that carry values: numbers with their
 * size suffixes, guest addresses and their alias prefixes, levels. Each
 * parser takes one token (or part of one) and, on failure, fills the error's
 * column and message; the caller knows the line.
 */
#ifndef TDXMMU_SCENARIO_WORDS_H
#define TDXMMU_SCENARIO_WORDS_H

#include <stdbool.h>
#include <stdint.h>

#include "scenario/lexer.h"
#include "scenario/scenario.h"

/*
 * scn_parse_number() - a decimal or 0x-hex number
 * @suffix_ok: sizes and addresses may end in K, M, G or T (binary); values
 *             may not
 *
 * Returns 0, or -1 for a malformed number, a suffix where none is allowed,
 * or a number that does not fit in 64 bits.
 */
int scn_parse_number(struct scn_tok t, bool suffix_ok, uint64_t *out,
		     struct scn_error *err);

/*
 * scn_parse_addr() - a guest physical address: N, private:N or shared:N
 * @gpaw: the TD's GPA width (48 or 52); the shared bit is bit gpaw-1
 *
 * A bare N is used as given and must be below 1 << gpaw; the X of
 * private:X and shared:X must be below the shared bit.
 */
int scn_parse_addr(struct scn_tok t, unsigned gpaw, uint64_t *out,
		   struct scn_error *err);

/* A level name: 4K -> 0, 2M -> 1, 1G -> 2, 512G -> 3, 256T -> 4. */
int scn_parse_level(struct scn_tok t, unsigned *level, struct scn_error *err);

#define SCN_NR_LEVELS 5

static inline uint64_t scn_shared_bit(unsigned gpaw)
{
	return 1ULL << (gpaw - 1);
}

#endif /* TDXMMU_SCENARIO_WORDS_H */
