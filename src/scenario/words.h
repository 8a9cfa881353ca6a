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

/*
 * scn_error_suggest() - appends "; did you mean 'X'?" to @err's message when
 * the unknown word @t is close to one of the @n words of @cands (see
 * suggest_word()); the message is left as it is otherwise. Returns -1, so
 * that a parser can end with `return scn_error_suggest(...)`.
 */
int scn_error_suggest(struct scn_error *err, struct scn_tok t,
		      const char *const *cands, size_t n);
/* The same with the candidates name_at(0), name_at(1), ... up to the first
 * NULL (at most SCN_MAX_CANDIDATES). */
#define SCN_MAX_CANDIDATES 128
int scn_error_suggest_from(struct scn_error *err, struct scn_tok t,
			   const char *(*name_at)(size_t i));

static inline uint64_t scn_shared_bit(unsigned gpaw)
{
	return 1ULL << (gpaw - 1);
}

#endif /* TDXMMU_SCENARIO_WORDS_H */
