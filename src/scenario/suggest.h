/* SPDX-License-Identifier: MIT */
/*
 * "Did you mean": the closest word of a known list to a misspelt one. Used
 * by the scenario parser (commands, SEAMCALL leaves, status names, levels,
 * option keys, state words) and by the tdxmmu program (subcommands), which
 * compiles this file in beside the library (it sees only the public API).
 * Self-contained: no other header of the model.
 */
#ifndef TDXMMU_SCENARIO_SUGGEST_H
#define TDXMMU_SCENARIO_SUGGEST_H

#include <stddef.h>

/*
 * suggest_distance() - the Damerau-Levenshtein distance (optimal string
 * alignment: insertions, deletions, substitutions and swaps of two adjacent
 * characters, each costing 1) between @a and the first @blen bytes of @b,
 * ignoring ASCII case. Words longer than SUGGEST_MAX_LEN count as far
 * (SUGGEST_FAR).
 */
#define SUGGEST_MAX_LEN 63
#define SUGGEST_FAR 1000
unsigned suggest_distance(const char *a, size_t alen, const char *b,
			  size_t blen);

/*
 * suggest_word() - the one candidate @word most likely stands for, or NULL
 * @word, @len: the word as written (not NUL-terminated)
 * @cands: @n candidate words; NULL entries are skipped
 *
 * The candidate at the smallest distance, if that distance is at most 1 for
 * a word of up to four characters and at most 2 for a longer one (so a
 * short word is not "corrected" into an unrelated one); failing that, the candidate the word is a prefix
 * or a suffix of (`PAGE.AUG` for TDH.MEM.PAGE.AUG), for a word of three
 * characters or more. A tie between candidates gives NULL: a guess between
 * two words would mislead.
 */
const char *suggest_word(const char *word, size_t len,
			 const char *const *cands, size_t n);

#endif /* TDXMMU_SCENARIO_SUGGEST_H */
