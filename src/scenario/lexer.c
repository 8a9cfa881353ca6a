/* SPDX-License-Identifier: MIT */
/* The scenario lexer: lines, tokens, comments (docs/scenario-language.md). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scenario/lexer.h"

void scn_lexer_init(struct scn_lexer *lx, const char *text, size_t len)
{
	memset(lx, 0, sizeof(*lx));
	lx->text = text;
	lx->len = len;
}

void scn_lexer_release(struct scn_lexer *lx)
{
	free(lx->toks);
	lx->toks = NULL;
	lx->nr = lx->cap = 0;
}

/* Printable ASCII other than the comment sign: the bytes a token is made of.
 * Anything else outside a comment is rejected rather than guessed at, so that
 * a stray control character or a non-ASCII look-alike of a space cannot turn
 * into a silently different command. */
static bool is_token_byte(unsigned char c)
{
	return c > ' ' && c < 0x7f && c != '#';
}

/* A carriage return counts as a separator so that CRLF files work. */
static bool is_space_byte(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

static int push_token(struct scn_lexer *lx, const char *s, size_t len,
		      size_t col)
{
	if (lx->nr == lx->cap) {
		size_t cap = lx->cap ? lx->cap * 2 : 16;
		struct scn_tok *t = realloc(lx->toks, cap * sizeof(*t));

		if (!t)
			return -1;
		lx->toks = t;
		lx->cap = cap;
	}
	lx->toks[lx->nr++] = (struct scn_tok){ .s = s, .len = len, .col = col };
	return 0;
}

int scn_lex_line(struct scn_lexer *lx, struct scn_error *err)
{
	const char *text = lx->text;
	size_t i = lx->pos, start = lx->pos;
	bool comment = false;

	if (i >= lx->len)
		return 0;
	lx->line++;
	lx->nr = 0;
	while (i < lx->len && text[i] != '\n') {
		unsigned char c = (unsigned char)text[i];
		size_t tok;

		if (c == '\0') {
			/* Even in a comment: a NUL means the file is not text. */
			err->line = lx->line;
			scn_error_set(err, i - start + 1, "NUL byte in the script");
			return -1;
		}
		if (comment || is_space_byte(c)) {
			i++;
			continue;
		}
		if (c == '#') {
			comment = true;
			i++;
			continue;
		}
		if (!is_token_byte(c)) {
			err->line = lx->line;
			scn_error_set(err, i - start + 1,
				      "invalid byte 0x%02x (tokens are printable ASCII)",
				      c);
			return -1;
		}
		tok = i;
		while (i < lx->len && is_token_byte((unsigned char)text[i]))
			i++;
		if (push_token(lx, text + tok, i - tok, tok - start + 1)) {
			err->line = lx->line;
			scn_error_set(err, tok - start + 1, "out of memory");
			return -1;
		}
	}
	lx->pos = i < lx->len ? i + 1 : i;
	return 1;
}

struct scn_tok scn_tok_tail(struct scn_tok t, size_t from)
{
	if (from > t.len)
		from = t.len;
	return (struct scn_tok){ .s = t.s + from, .len = t.len - from,
				 .col = t.col + from };
}

bool scn_tok_is(struct scn_tok t, const char *word)
{
	size_t n = strlen(word);

	return t.len == n && memcmp(t.s, word, n) == 0;
}

const char *scn_tok_quote(struct scn_tok t, char *buf, size_t size)
{
	/* Leave room for the quotes, "..." and the NUL. */
	size_t max = size > 6 ? size - 6 : 0;

	if (t.len <= max)
		snprintf(buf, size, "'%.*s'", (int)t.len, t.s);
	else
		snprintf(buf, size, "'%.*s...'", (int)max, t.s);
	return buf;
}
