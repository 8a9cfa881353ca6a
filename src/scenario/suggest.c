/* SPDX-License-Identifier: MIT */
#include <stdbool.h>
#include <string.h>

#include "suggest.h"

static char fold(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

unsigned suggest_distance(const char *a, size_t alen, const char *b,
			  size_t blen)
{
	/* Three rows of the dynamic-programming table are enough: a swap
	 * looks two rows back. */
	unsigned rows[3][SUGGEST_MAX_LEN + 2];
	unsigned *prev2 = rows[0], *prev = rows[1], *cur = rows[2];

	if (alen > SUGGEST_MAX_LEN || blen > SUGGEST_MAX_LEN)
		return SUGGEST_FAR;
	for (size_t j = 0; j <= blen; j++)
		prev[j] = (unsigned)j;
	for (size_t i = 1; i <= alen; i++) {
		cur[0] = (unsigned)i;
		for (size_t j = 1; j <= blen; j++) {
			unsigned cost = fold(a[i - 1]) != fold(b[j - 1]);
			unsigned d = prev[j] + 1;

			if (cur[j - 1] + 1 < d)
				d = cur[j - 1] + 1;
			if (prev[j - 1] + cost < d)
				d = prev[j - 1] + cost;
			if (i > 1 && j > 1 && fold(a[i - 1]) == fold(b[j - 2]) &&
			    fold(a[i - 2]) == fold(b[j - 1]) &&
			    prev2[j - 2] + 1 < d)
				d = prev2[j - 2] + 1;
			cur[j] = d;
		}
		unsigned *t = prev2;
		prev2 = prev;
		prev = cur;
		cur = t;
	}
	return prev[blen];
}

static bool affix_of(const char *word, size_t len, const char *cand)
{
	size_t clen = strlen(cand);

	if (len >= clen)
		return false;
	return suggest_distance(word, len, cand, len) == 0 ||
	       suggest_distance(word, len, cand + clen - len, len) == 0;
}

const char *suggest_word(const char *word, size_t len,
			 const char *const *cands, size_t n)
{
	const char *best = NULL, *affix = NULL;
	unsigned best_d = SUGGEST_FAR, nr_best = 0, nr_affix = 0;

	if (!word || len == 0)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		unsigned d;

		if (!cands[i])
			continue;
		d = suggest_distance(word, len, cands[i], strlen(cands[i]));
		if (!best || d < best_d) {
			best_d = d;
			best = cands[i];
			nr_best = 1;
		} else if (d == best_d && strcmp(best, cands[i]) != 0) {
			nr_best++;
		}
		if (len >= 3 && affix_of(word, len, cands[i])) {
			if (!affix || strcmp(affix, cands[i]) != 0)
				nr_affix++;
			affix = cands[i];
		}
	}
	/* One edit for words of up to four characters, two for longer ones:
	 * two edits turn `read` into `end`. */
	if (best && best_d <= (len <= 4 ? 1u : 2u))
		return nr_best == 1 ? best : NULL;
	return nr_affix == 1 ? affix : NULL;
}
