/* SPDX-License-Identifier: MIT */
/*
 * The scenario lexer: splits a script into lines and each line into tokens,
 * dropping comments. Tokens point into the script text; nothing is copied, so
 * lines and tokens may be of any length.
 */
#ifndef TDXMMU_SCENARIO_LEXER_H
#define TDXMMU_SCENARIO_LEXER_H

#include <stddef.h>

#include "scenario/scenario.h"

/* A token, or a part of one (the value of key=value, the X of private:X). */
struct scn_tok {
	const char *s;
	size_t len;
	size_t col; /* 1-based byte column of s[0] */
};

struct scn_lexer {
	const char *text;
	size_t len;
	size_t pos;          /* start of the next line */
	size_t line;         /* number of the line last returned */
	struct scn_tok *toks; /* that line's tokens */
	size_t nr, cap;
};

void scn_lexer_init(struct scn_lexer *lx, const char *text, size_t len);
void scn_lexer_release(struct scn_lexer *lx);
/*
 * scn_lex_line() - tokenize the next line (possibly empty)
 *
 * Returns 1 with lx->line, lx->toks and lx->nr describing the line, 0 at the
 * end of the text, -1 with @err filled (a NUL byte, a byte that cannot be
 * part of a token, or no memory).
 */
int scn_lex_line(struct scn_lexer *lx, struct scn_error *err);

/* The part of @t from byte @from on. */
struct scn_tok scn_tok_tail(struct scn_tok t, size_t from);
/* True if @t spells @word exactly. */
bool scn_tok_is(struct scn_tok t, const char *word);
/* @t quoted for a message ('text'), shortened with "..." if long. */
const char *scn_tok_quote(struct scn_tok t, char *buf, size_t size);
#define SCN_QUOTE_SIZE 72

#endif /* TDXMMU_SCENARIO_LEXER_H */
