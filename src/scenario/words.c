/* SPDX-License-Identifier: MIT */
/* Numbers, addresses and levels of the scenario language. */
#include <string.h>

#include "scenario/words.h"

static int digit_value(char c, unsigned base)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (base == 16 && c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (base == 16 && c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Binary suffixes, as shifts. Upper case only: the language spells them so,
 * and a lower-case 'm' is more likely a typo than a size. */
static unsigned suffix_shift(char c)
{
	switch (c) {
	case 'K':
		return 10;
	case 'M':
		return 20;
	case 'G':
		return 30;
	case 'T':
		return 40;
	}
	return 0;
}

int scn_parse_number(struct scn_tok t, bool suffix_ok, uint64_t *out,
		     struct scn_error *err)
{
	char q[SCN_QUOTE_SIZE];
	unsigned base = 10, shift;
	size_t i = 0, digits;
	uint64_t v = 0;

	if (t.len >= 2 && t.s[0] == '0' && (t.s[1] == 'x' || t.s[1] == 'X')) {
		base = 16;
		i = 2;
	}
	digits = i;
	for (; i < t.len; i++) {
		int d = digit_value(t.s[i], base);

		if (d < 0)
			break;
		if (v > (UINT64_MAX - (unsigned)d) / base)
			goto overflow;
		v = v * base + (unsigned)d;
	}
	if (i == digits)
		goto malformed;
	if (i < t.len) {
		shift = suffix_shift(t.s[i]);
		if (!shift || i + 1 != t.len)
			goto malformed;
		if (!suffix_ok) {
			scn_error_set(err, t.col,
				      "malformed number %s: a size suffix is not allowed here",
				      scn_tok_quote(t, q, sizeof(q)));
			return -1;
		}
		if (v > UINT64_MAX >> shift)
			goto overflow;
		v <<= shift;
	}
	*out = v;
	return 0;

malformed:
	scn_error_set(err, t.col, "malformed number %s",
		      scn_tok_quote(t, q, sizeof(q)));
	return -1;
overflow:
	scn_error_set(err, t.col, "number %s out of range (more than 64 bits)",
		      scn_tok_quote(t, q, sizeof(q)));
	return -1;
}

int scn_parse_addr(struct scn_tok t, unsigned gpaw, uint64_t *out,
		   struct scn_error *err)
{
	const char *colon = memchr(t.s, ':', t.len);
	uint64_t shared = scn_shared_bit(gpaw), v;
	char q[SCN_QUOTE_SIZE];
	struct scn_tok x;
	bool to_shared;

	if (!colon) {
		if (scn_parse_number(t, true, &v, err))
			return -1;
		if (v >> gpaw) {
			scn_error_set(err, t.col,
				      "address %s is outside the TD's %u-bit GPA width",
				      scn_tok_quote(t, q, sizeof(q)), gpaw);
			return -1;
		}
		*out = v;
		return 0;
	}

	x = scn_tok_tail(t, (size_t)(colon - t.s) + 1);
	if (colon - t.s == 7 && memcmp(t.s, "private", 7) == 0) {
		to_shared = false;
	} else if (colon - t.s == 6 && memcmp(t.s, "shared", 6) == 0) {
		to_shared = true;
	} else {
		struct scn_tok prefix = { t.s, (size_t)(colon - t.s) + 1, t.col };

		static const char *const prefixes[] = { "private:", "shared:" };

		scn_error_set(err, t.col,
			      "unknown address prefix %s (private: or shared:)",
			      scn_tok_quote(prefix, q, sizeof(q)));
		return scn_error_suggest(err, prefix, prefixes, 2);
	}
	if (scn_parse_number(x, true, &v, err))
		return -1;
	if (v >= shared) {
		scn_error_set(err, x.col,
			      "address %s is not below the shared bit (bit %u)",
			      scn_tok_quote(x, q, sizeof(q)), gpaw - 1);
		return -1;
	}
	*out = to_shared ? v | shared : v;
	return 0;
}

static const char *const level_names[SCN_NR_LEVELS] = {
	"4K", "2M", "1G", "512G", "256T",
};

const char *scn_level_name(unsigned level)
{
	return level < SCN_NR_LEVELS ? level_names[level] : "?";
}

int scn_parse_level(struct scn_tok t, unsigned *level, struct scn_error *err)
{
	char q[SCN_QUOTE_SIZE];

	for (unsigned i = 0; i < SCN_NR_LEVELS; i++) {
		if (scn_tok_is(t, level_names[i])) {
			*level = i;
			return 0;
		}
	}
	scn_error_set(err, t.col,
		      "unknown level %s (4K, 2M, 1G, 512G or 256T)",
		      scn_tok_quote(t, q, sizeof(q)));
	return scn_error_suggest(err, t, level_names, SCN_NR_LEVELS);
}
