/* SPDX-License-Identifier: MIT */
/*
 * The scenario parser: each line's tokens become one command with typed
 * arguments, checked against the TD's shape (GPA width, number of vCPUs) and
 * against the order the language imposes (td first, nothing after destroy,
 * parallel blocks). The first error stops the parse.
 *
 * Commands are described by tables: positional argument kinds, then the
 * option keys a command accepts with the kind of each value. Tokens are
 * handled strictly left to right, so the error reported is the leftmost one,
 * except a missing argument, which is found at the end of the line.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scenario/lexer.h"
#include "scenario/scenario.h"
#include "scenario/words.h"

enum arg_kind {
	ARG_NONE,
	ARG_ID,         /* memslot id */
	ARG_ADDR,       /* any ADDR */
	ARG_ADDR8,      /* an 8-byte aligned ADDR: the word accesses */
	ARG_SLOT_BASE,  /* memslot BASE: 4K-aligned, without the shared bit */
	ARG_SLOT_SIZE,  /* memslot SIZE: 4K-aligned, below the shared bit */
	ARG_SIZE,       /* SIZE of a range starting at the ADDR before it */
	ARG_BYTE,
	ARG_VALUE,
	ARG_LEAF,       /* a SEAMCALL mnemonic */
	ARG_SEPT_STATE,
	ARG_VM_STATE,   /* expect-vm alive|dead */
};

enum opt_kind {
	OPT_MMU,
	OPT_GPAW,
	OPT_VCPUS,
	OPT_ACCEPT_MODE,
	OPT_SEED,
	OPT_MEMORY,
	OPT_FILL,
	OPT_EXPECT_VALUE,
	OPT_EXPECT_NOT,
	OPT_EXPECT_STATUS,
	OPT_OUTCOME,
	OPT_LEVEL,        /* any level */
	OPT_ACCEPT_LEVEL, /* 4K or 2M */
	OPT_GPA,
	OPT_PAGE,
	OPT_ALIAS,
	OPT_SPTE_PRIVATE,
	OPT_SPTE_SHARED,
	OPT_SPTE_LEVEL,   /* expect-spte level=: within the TD's walk */
	OPT_SEPT_VE_DISABLE,
	OPT_MAPGPA,
	OPT_HUGEPAGES,
	OPT_BUSY,         /* inject busy=P */
	OPT_ENOMEM,       /* inject enomem=P */
	OPT_INJECT_LEAF,  /* inject leaf=NAME */
	OPT_SITE,         /* inject site=pt|sept|frame|... */
	OPT_BUSY_AT,      /* inject busy-at=N (addition) */
	OPT_ENOMEM_AT,    /* inject enomem-at=N (addition) */
	OPT_INJECT_MODE,  /* inject mode=once|persistent (addition) */
	OPT_INJECT_STATUS, /* inject status=NAME (addition) */
	OPT_INJECT_AT,    /* inject status=NAME at=N (addition) */
	OPT_INJECT_SHARE, /* inject status=NAME share=P (addition) */
};

#define MAX_ARGS 3
#define MAX_OPTS 10

struct opt_desc {
	const char *key;
	enum opt_kind kind;
};

struct cmd_desc {
	const char *word;                 /* as written in the script */
	const char *name;                 /* for messages */
	enum scn_op op;
	enum arg_kind args[MAX_ARGS + 1]; /* ends at ARG_NONE */
	const char *arg_names[MAX_ARGS];
	struct opt_desc opts[MAX_OPTS + 1]; /* ends at a NULL key */
	bool last_optional;               /* the last positional may be left out */
};

static const struct cmd_desc top_cmds[] = {
	{ "td", "td", SCN_OP_TD, { ARG_NONE }, { NULL },
	  { { "mmu", OPT_MMU }, { "gpaw", OPT_GPAW }, { "vcpus", OPT_VCPUS },
	    { "accept", OPT_ACCEPT_MODE }, { "seed", OPT_SEED },
	    { "memory", OPT_MEMORY },
	    { "sept-ve-disable", OPT_SEPT_VE_DISABLE },
	    /* mapgpa= is this implementation's addition. */
	    { "mapgpa", OPT_MAPGPA } } },
	{ "memslot", "memslot", SCN_OP_MEMSLOT,
	  { ARG_ID, ARG_SLOT_BASE, ARG_SLOT_SIZE }, { "ID", "BASE", "SIZE" },
	  { { "outcome", OPT_OUTCOME }, { "hugepages", OPT_HUGEPAGES } } },
	{ "add", "add", SCN_OP_ADD, { ARG_ADDR }, { "ADDR" },
	  { { "fill", OPT_FILL }, { "outcome", OPT_OUTCOME } } },
	{ "finalize", "finalize", SCN_OP_FINALIZE, { ARG_NONE }, { NULL },
	  { { "outcome", OPT_OUTCOME } } },
	{ "destroy", "destroy", SCN_OP_DESTROY },
	{ "seamcall", "seamcall", SCN_OP_SEAMCALL, { ARG_LEAF }, { "NAME" },
	  { { "gpa", OPT_GPA }, { "level", OPT_LEVEL }, { "page", OPT_PAGE },
	    { "fill", OPT_FILL }, { "expect", OPT_EXPECT_STATUS } } },
	{ "expect-spte", "expect-spte", SCN_OP_EXPECT_SPTE, { ARG_ADDR },
	  { "ADDR" },
	  { { "private", OPT_SPTE_PRIVATE }, { "shared", OPT_SPTE_SHARED },
	    { "level", OPT_SPTE_LEVEL } } },
	{ "expect-vm", "expect-vm", SCN_OP_EXPECT_VM, { ARG_VM_STATE },
	  { "alive|dead" } },
	/* inject's words are options (busy=, enomem=, leaf=, site=; and this
	 * implementation's busy-at=, enomem-at=, mode=, status=, at=, share=)
	 * or the single word `off`: parse_inject() checks how they combine. */
	{ "inject", "inject", SCN_OP_INJECT_BUSY, { ARG_NONE }, { NULL },
	  { { "busy", OPT_BUSY }, { "enomem", OPT_ENOMEM },
	    { "leaf", OPT_INJECT_LEAF }, { "site", OPT_SITE },
	    { "busy-at", OPT_BUSY_AT }, { "enomem-at", OPT_ENOMEM_AT },
	    { "mode", OPT_INJECT_MODE }, { "status", OPT_INJECT_STATUS },
	    { "at", OPT_INJECT_AT }, { "share", OPT_INJECT_SHARE } } },
	{ "show", "show", SCN_OP_SHOW, { ARG_ADDR, ARG_SIZE }, { "ADDR", "SIZE" },
	  { { NULL, 0 } }, true },
	{ "expect-sept", "expect-sept", SCN_OP_EXPECT_SEPT,
	  { ARG_ADDR, ARG_SEPT_STATE }, { "ADDR", "STATE" },
	  { { "level", OPT_LEVEL } } },
	{ "expect-count", "expect-count", SCN_OP_EXPECT_COUNT },
	{ "check", "check", SCN_OP_CHECK },
	/* This implementation's addition: not a check. */
	{ "counters", "counters", SCN_OP_COUNTERS },
	{ "parallel", "parallel", SCN_OP_PARALLEL },
	{ "end", "end", SCN_OP_END },
};

static const struct cmd_desc vcpu_cmds[] = {
	{ "read", "vcpu read", SCN_OP_VCPU_READ, { ARG_ADDR8 }, { "ADDR" },
	  { { "expect", OPT_EXPECT_VALUE }, { "outcome", OPT_OUTCOME } } },
	{ "write", "vcpu write", SCN_OP_VCPU_WRITE, { ARG_ADDR8, ARG_VALUE },
	  { "ADDR", "VALUE" }, { { "outcome", OPT_OUTCOME } } },
	{ "fill", "vcpu fill", SCN_OP_VCPU_FILL, { ARG_ADDR, ARG_SIZE, ARG_BYTE },
	  { "ADDR", "SIZE", "BYTE" }, { { "outcome", OPT_OUTCOME } } },
	{ "verify", "vcpu verify", SCN_OP_VCPU_VERIFY,
	  { ARG_ADDR, ARG_SIZE, ARG_BYTE }, { "ADDR", "SIZE", "BYTE" },
	  { { "outcome", OPT_OUTCOME } } },
	/* expect= on accept is this implementation's addition. */
	{ "accept", "vcpu accept", SCN_OP_VCPU_ACCEPT, { ARG_ADDR }, { "ADDR" },
	  { { "level", OPT_ACCEPT_LEVEL }, { "expect", OPT_EXPECT_STATUS },
	    { "outcome", OPT_OUTCOME } } },
	{ "mapgpa", "vcpu mapgpa", SCN_OP_VCPU_MAPGPA, { ARG_ADDR, ARG_SIZE },
	  { "ADDR", "SIZE" }, { { "outcome", OPT_OUTCOME } } },
	/* This implementation's addition: Linux's accept of a range, 2M
	 * where it fits, 4K on any failure (docs/large-pages.md). */
	{ "accept-memory", "vcpu accept-memory", SCN_OP_VCPU_ACCEPT_MEMORY,
	  { ARG_ADDR, ARG_SIZE }, { "ADDR", "SIZE" }, { { "outcome", OPT_OUTCOME } } },
	/* outcome= on enter and leave (dead, bugged) is this implementation's
	 * addition. */
	{ "enter", "vcpu enter", SCN_OP_VCPU_ENTER, { ARG_NONE }, { NULL },
	  { { "outcome", OPT_OUTCOME } } },
	{ "leave", "vcpu leave", SCN_OP_VCPU_LEAVE, { ARG_NONE }, { NULL },
	  { { "outcome", OPT_OUTCOME } } },
};

static const struct cmd_desc host_cmds[] = {
	{ "read", "host read", SCN_OP_HOST_READ, { ARG_ADDR }, { "ADDR" },
	  { { "expect", OPT_EXPECT_VALUE }, { "expect-not", OPT_EXPECT_NOT } } },
	{ "write", "host write", SCN_OP_HOST_WRITE, { ARG_ADDR, ARG_VALUE },
	  { "ADDR", "VALUE" } },
	{ "invalidate", "host invalidate", SCN_OP_HOST_INVALIDATE,
	  { ARG_ADDR, ARG_SIZE }, { "ADDR", "SIZE" },
	  { { "outcome", OPT_OUTCOME } } },
	{ "delete-memslot", "host delete-memslot", SCN_OP_HOST_DELETE_MEMSLOT,
	  { ARG_ID }, { "ID" }, { { "outcome", OPT_OUTCOME } } },
	{ "zap", "host zap", SCN_OP_HOST_ZAP, { ARG_ADDR, ARG_SIZE },
	  { "ADDR", "SIZE" },
	  { { "alias", OPT_ALIAS }, { "outcome", OPT_OUTCOME } } },
};

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

struct parser {
	struct scn_script *script;
	struct scn_error *err;
	size_t line;
	const struct scn_tok *toks; /* the current line */
	size_t nr;
	bool have_td, destroyed;
	size_t td_line, destroy_line;
	unsigned gpaw, vcpus;       /* from the td line */
	bool in_block;
	struct scn_cmd block_cmd;   /* the open `parallel`, not yet placed */
};

static int perr(struct parser *p, size_t col, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int perr(struct parser *p, size_t col, const char *fmt, ...)
{
	va_list ap;

	p->err->line = p->line;
	p->err->col = col;
	va_start(ap, fmt);
	vsnprintf(p->err->msg, sizeof(p->err->msg), fmt, ap);
	va_end(ap);
	return -1;
}

/* Words like errors point at, with "=" and ":" split off, via p->err. */
static int word_err(struct parser *p)
{
	p->err->line = p->line;
	return -1;
}

/* A missing argument is reported just past the line's last token. */
static int missing(struct parser *p, const char *what, const char *cmd)
{
	const struct scn_tok *last = &p->toks[p->nr - 1];

	return perr(p, last->col + last->len, "missing argument %s for '%s'",
		    what, cmd);
}

static const char *quote(struct scn_tok t, char *buf)
{
	return scn_tok_quote(t, buf, SCN_QUOTE_SIZE);
}

/* Copies a token for the API's parsers, which take C strings; a token too
 * long to be any known name fails. */
static bool tok_cstr(struct scn_tok t, char *buf, size_t size)
{
	if (t.len >= size)
		return false;
	memcpy(buf, t.s, t.len);
	buf[t.len] = '\0';
	return true;
}

/* "did you mean": the error just reported gets the closest known word. */
static int suggest(struct parser *p, struct scn_tok t,
		   const char *const *cands, size_t n)
{
	return scn_error_suggest(p->err, t, cands, n);
}

/* perr() at @t's column, then suggest() from @cands. */
static int perr_suggest(struct parser *p, struct scn_tok t,
			const char *const *cands, size_t n, const char *fmt,
			...) __attribute__((format(printf, 5, 6)));

static int perr_suggest(struct parser *p, struct scn_tok t,
			const char *const *cands, size_t n, const char *fmt, ...)
{
	va_list ap;

	p->err->line = p->line;
	p->err->col = t.col;
	va_start(ap, fmt);
	vsnprintf(p->err->msg, sizeof(p->err->msg), fmt, ap);
	va_end(ap);
	return suggest(p, t, cands, n);
}

#define WORDS(a) (a), ARRAY_SIZE(a)

/* The words of the options whose values are a fixed choice. */
static const char *const mmu_kinds[] = { "tdp", "legacy" };
static const char *const vm_states[] = { "alive", "dead" };
static const char *const accept_modes[] = { "auto", "explicit" };
static const char *const on_off[] = { "on", "off" };
static const char *const mapgpa_modes[] = { "seed", "upstream" };
static const char *const alloc_sites[] = { "pt", "sept", "frame", "rmap", "shadow", "arena",
						  "nomirror" };
static const char *const aliases[] = { "private", "shared", "both" };

static const char *name_or_null(const char *name)
{
	return strcmp(name, "?") ? name : NULL;
}

static const char *sept_state_at(size_t i)
{
	return name_or_null(tdxmmu_sept_state_name((enum tdxmmu_sept_state)i));
}

static const char *spte_state_at(size_t i)
{
	return name_or_null(tdxmmu_spte_state_name((enum tdxmmu_spte_state)i));
}

static const char *outcome_at(size_t i)
{
	return name_or_null(tdxmmu_outcome_name((enum tdxmmu_outcome)i));
}

/* The words of a command table, plus `vcpu` and `host` for the top level
 * (they lead to tables of their own). */
static int suggest_cmd(struct parser *p, struct scn_tok t,
		       const struct cmd_desc *tab, size_t n, bool top)
{
	const char *cands[32];
	size_t nr = 0;

	for (size_t i = 0; i < n && nr < ARRAY_SIZE(cands) - 2; i++)
		cands[nr++] = tab[i].word;
	if (top) {
		cands[nr++] = "vcpu";
		cands[nr++] = "host";
	}
	return suggest(p, t, cands, nr);
}

/* The option keys command @d accepts. */
static int suggest_opt(struct parser *p, struct scn_tok key,
		       const struct cmd_desc *d)
{
	const char *cands[MAX_OPTS];
	size_t nr = 0;

	while (nr < MAX_OPTS && d->opts[nr].key) {
		cands[nr] = d->opts[nr].key;
		nr++;
	}
	return suggest(p, key, cands, nr);
}

static const struct cmd_desc *lookup(const struct cmd_desc *tab, size_t n,
				     struct scn_tok word)
{
	for (size_t i = 0; i < n; i++)
		if (scn_tok_is(word, tab[i].word))
			return &tab[i];
	return NULL;
}

static int parse_value(struct parser *p, struct scn_tok t, uint64_t *v)
{
	if (scn_parse_number(t, false, v, p->err))
		return word_err(p);
	return 0;
}

static int parse_size(struct parser *p, struct scn_tok t, uint64_t *v)
{
	if (scn_parse_number(t, true, v, p->err))
		return word_err(p);
	return 0;
}

static int parse_addr(struct parser *p, struct scn_tok t, uint64_t *v)
{
	if (scn_parse_addr(t, p->gpaw, v, p->err))
		return word_err(p);
	return 0;
}

static int parse_byte(struct parser *p, struct scn_tok t, uint8_t *b)
{
	char q[SCN_QUOTE_SIZE];
	uint64_t v;

	if (parse_value(p, t, &v))
		return -1;
	if (v > 0xff)
		return perr(p, t.col, "byte %s out of range (0 to 255)",
			    quote(t, q));
	*b = (uint8_t)v;
	return 0;
}

/* A memslot [gpa, gpa + size) must end at or below the shared bit: both
 * aliases use it, so it is given without the bit. */
static int check_range(struct parser *p, struct scn_tok size_tok,
		       uint64_t gpa, uint64_t size)
{
	uint64_t shared = scn_shared_bit(p->gpaw);
	uint64_t limit = (gpa & shared) ? shared << 1 : shared;
	char q[SCN_QUOTE_SIZE];

	if (size <= limit - gpa)
		return 0;
	if (gpa & shared)
		return perr(p, size_tok.col,
			    "range of size %s at 0x%llx goes beyond the TD's %u-bit GPA width",
			    quote(size_tok, q), (unsigned long long)gpa, p->gpaw);
	return perr(p, size_tok.col,
		    "range of size %s at 0x%llx crosses the shared bit (bit %u)",
		    quote(size_tok, q), (unsigned long long)gpa, p->gpaw - 1);
}

static int parse_arg(struct parser *p, enum arg_kind kind, struct scn_cmd *c,
		     struct scn_tok t)
{
	char q[SCN_QUOTE_SIZE], name[64];
	uint64_t v;

	switch (kind) {
	case ARG_NONE:
		break;
	case ARG_ID:
		if (parse_value(p, t, &v))
			return -1;
		/* 1.1: any number that fits in 32 bits; how many memslots
		 * may exist at once is the model's limit, found when run. */
		if (v > UINT32_MAX)
			return perr(p, t.col,
				    "memslot id %s out of range (more than 32 bits)",
				    quote(t, q));
		c->id = (unsigned)v;
		return 0;
	case ARG_ADDR:
		return parse_addr(p, t, &c->gpa);
	case ARG_ADDR8:
		if (parse_addr(p, t, &c->gpa))
			return -1;
		if (c->gpa & 7)
			return perr(p, t.col,
				    "address %s is not 8-byte aligned",
				    quote(t, q));
		return 0;
	case ARG_SLOT_BASE:
		if (parse_addr(p, t, &c->gpa))
			return -1;
		if (c->gpa & scn_shared_bit(p->gpaw))
			return perr(p, t.col,
				    "memslot base %s has the shared bit set (a memslot is given without it)",
				    quote(t, q));
		if (c->gpa & 0xfff)
			return perr(p, t.col,
				    "memslot base %s is not 4K-aligned",
				    quote(t, q));
		return 0;
	case ARG_SLOT_SIZE:
		if (parse_size(p, t, &c->size))
			return -1;
		if (c->size == 0)
			return perr(p, t.col, "memslot size %s out of range (empty)",
				    quote(t, q));
		if (c->size & 0xfff)
			return perr(p, t.col,
				    "memslot size %s is not 4K-aligned",
				    quote(t, q));
		return check_range(p, t, c->gpa, c->size);
	case ARG_SIZE:
		/* A guest or host range that crosses the shared bit, runs past
		 * the GPA width or wraps is for the model to refuse: MapGPA
		 * answers such operands with `error` (TDG.VP.VMCALL
		 * INVALID_OPERAND), which a scenario must be able to test.
		 * An empty range is a parse error (contract 1.1). */
		if (parse_size(p, t, &c->size))
			return -1;
		if (c->size == 0)
			return perr(p, t.col, "size %s out of range (an empty range)",
				    quote(t, q));
		return 0;
	case ARG_BYTE:
		return parse_byte(p, t, &c->byte);
	case ARG_VALUE:
		return parse_value(p, t, &c->value);
	case ARG_LEAF:
		if (tok_cstr(t, name, sizeof(name)))
			c->leaf = tdxmmu_leaf_from_name(name);
		if (c->leaf < 0) {
			perr(p, t.col, "unknown SEAMCALL %s", quote(t, q));
			return scn_error_suggest_from(p->err, t, tdxmmu_leaf_name_at);
		}
		return 0;
	case ARG_SEPT_STATE:
		if (tok_cstr(t, name, sizeof(name)) &&
		    tdxmmu_sept_state_parse(name, &c->sept))
			return 0;
		perr(p, t.col,
		     "unknown S-EPT state %s (FREE, MAPPED, PENDING, BLOCKED, PENDING_BLOCKED, NL_MAPPED or NL_BLOCKED)",
		     quote(t, q));
		return scn_error_suggest_from(p->err, t, sept_state_at);
	case ARG_VM_STATE:
		if (scn_tok_is(t, "alive") || scn_tok_is(t, "dead")) {
			c->vm_dead = scn_tok_is(t, "dead");
			return 0;
		}
		return perr_suggest(p, t, WORDS(vm_states),
				    "unknown VM state %s (alive or dead)",
				    quote(t, q));
	}
	return 0;
}

/* TDH.PHYMEM.PAGE.RECLAIM takes page= only; fill= is PAGE.ADD's source. */
static int check_seamcall_opt(struct parser *p, const struct scn_cmd *c,
			      enum opt_kind kind, struct scn_tok key)
{
	char q[SCN_QUOTE_SIZE];
	int reclaim = tdxmmu_leaf_from_name("TDH.PHYMEM.PAGE.RECLAIM");
	int page_add = tdxmmu_leaf_from_name("TDH.MEM.PAGE.ADD");

	if (c->op != SCN_OP_SEAMCALL || c->leaf < 0)
		return 0;
	if (c->leaf == reclaim &&
	    (kind == OPT_GPA || kind == OPT_LEVEL || kind == OPT_FILL))
		return perr(p, key.col,
			    "option %s does not apply to TDH.PHYMEM.PAGE.RECLAIM (it takes page= only)",
			    quote(key, q));
	if (kind == OPT_FILL && c->leaf != page_add)
		return perr(p, key.col,
			    "option %s applies only to TDH.MEM.PAGE.ADD",
			    quote(key, q));
	return 0;
}

/* Levels a TD's S-EPT walk has: 4 with gpaw=48, 5 with gpaw=52. */
static unsigned walk_levels(unsigned gpaw)
{
	return gpaw == 52 ? 5 : 4;
}

#define OUTCOME_WORDS "ok, blocked, ve, poison, mmio, error, bugged or dead"

/* outcome=A|B|...: any number of alternatives (contract 1.1), each a known
 * outcome named once; the column of an error is the alternative's. */
static int parse_outcomes(struct parser *p, struct scn_cmd *c,
			  struct scn_tok v)
{
	char q[SCN_QUOTE_SIZE], name[32];
	size_t start = 0;

	c->outcomes = 0;
	for (;;) {
		const char *bar = memchr(v.s + start, '|', v.len - start);
		size_t end = bar ? (size_t)(bar - v.s) : v.len;
		struct scn_tok alt = { v.s + start, end - start, v.col + start };
		enum tdxmmu_outcome o;

		if (alt.len == 0)
			return perr(p, alt.col,
				    "empty alternative in outcome %s (A|B)",
				    quote(v, q));
		if (!tok_cstr(alt, name, sizeof(name)) ||
		    !tdxmmu_outcome_parse(name, &o)) {
			perr(p, alt.col, "unknown outcome %s (" OUTCOME_WORDS ")",
			     quote(alt, q));
			return scn_error_suggest_from(p->err, alt, outcome_at);
		}
		if (c->outcomes & SCN_OUTCOME_BIT(o))
			return perr(p, alt.col, "outcome %s named twice",
				    quote(alt, q));
		c->outcomes |= SCN_OUTCOME_BIT(o);
		if (!bar)
			return 0;
		start = end + 1;
	}
}

/*
 * A percentage 0..100 with decimals, converted exactly to parts per million
 * (the API's unit): at most 4 decimals carry meaning (0.0001 % = 1 ppm);
 * further digits must be zeros, since anything else cannot be represented
 * and would be rounded silently.
 */
static int parse_percent(struct parser *p, struct scn_tok v, uint32_t *ppm)
{
	char q[SCN_QUOTE_SIZE];
	uint64_t whole = 0, frac = 0;
	size_t i = 0, ndec = 0;
	bool dot = false, digits = false;

	for (; i < v.len; i++) {
		char ch = v.s[i];

		if (ch == '.' && !dot) {
			dot = true;
			continue;
		}
		if (ch < '0' || ch > '9')
			return perr(p, v.col,
				    "malformed percentage %s (0 to 100, decimals allowed)",
				    quote(v, q));
		digits = true;
		if (!dot) {
			if (whole > 100)
				continue; /* out of range anyway; no overflow */
			whole = whole * 10 + (uint64_t)(ch - '0');
		} else if (ndec < 4) {
			frac = frac * 10 + (uint64_t)(ch - '0');
			ndec++;
		} else if (ch != '0') {
			return perr(p, v.col,
				    "percentage %s is more precise than 0.0001 (1 part per million)",
				    quote(v, q));
		}
	}
	if (!digits || (dot && v.s[v.len - 1] == '.') || v.s[0] == '.')
		return perr(p, v.col,
			    "malformed percentage %s (0 to 100, decimals allowed)",
			    quote(v, q));
	while (ndec < 4) {
		frac *= 10;
		ndec++;
	}
	if (whole > 100 || (whole == 100 && frac))
		return perr(p, v.col, "percentage %s out of range (0 to 100)",
			    quote(v, q));
	*ppm = (uint32_t)(whole * 10000 + frac);
	return 0;
}

static int parse_opt(struct parser *p, enum opt_kind kind, struct scn_cmd *c,
		     struct scn_tok v)
{
	char q[SCN_QUOTE_SIZE], name[64];
	uint64_t n;

	switch (kind) {
	case OPT_MMU:
		if (scn_tok_is(v, "tdp"))
			c->td.mmu = TDXMMU_MMU_TDP;
		else if (scn_tok_is(v, "legacy"))
			c->td.mmu = TDXMMU_MMU_LEGACY;
		else
			return perr_suggest(p, v, WORDS(mmu_kinds),
					    "unknown mmu kind %s (tdp or legacy)",
					    quote(v, q));
		return 0;
	case OPT_GPAW:
		if (parse_value(p, v, &n))
			return -1;
		if (n != 48 && n != 52)
			return perr(p, v.col, "gpaw %s out of range (48 or 52)",
				    quote(v, q));
		c->td.gpaw = (unsigned)n;
		return 0;
	case OPT_VCPUS:
		if (parse_value(p, v, &n))
			return -1;
		if (n < 1 || n > TDXMMU_MAX_VCPUS)
			return perr(p, v.col, "vcpus %s out of range (1 to %d)",
				    quote(v, q), TDXMMU_MAX_VCPUS);
		c->td.vcpus = (unsigned)n;
		return 0;
	case OPT_ACCEPT_MODE:
		if (scn_tok_is(v, "auto"))
			c->td.accept = TDXMMU_ACCEPT_AUTO;
		else if (scn_tok_is(v, "explicit"))
			c->td.accept = TDXMMU_ACCEPT_EXPLICIT;
		else
			return perr_suggest(p, v, WORDS(accept_modes),
					    "unknown accept mode %s (auto or explicit)",
					    quote(v, q));
		return 0;
	case OPT_SEED:
		return parse_value(p, v, &c->td.seed);
	case OPT_MEMORY:
		c->has |= SCN_HAS_MEMORY;
		return parse_size(p, v, &c->td.memory);
	case OPT_FILL:
		c->has |= SCN_HAS_FILL;
		return parse_byte(p, v, &c->byte);
	case OPT_EXPECT_VALUE:
		c->has |= SCN_HAS_EXPECT;
		return parse_value(p, v, &c->expect);
	case OPT_EXPECT_NOT:
		c->has |= SCN_HAS_EXPECT_NOT;
		return parse_value(p, v, &c->expect_not);
	case OPT_EXPECT_STATUS:
		c->has |= SCN_HAS_EXPECT;
		if (tok_cstr(v, name, sizeof(name)) &&
		    tdxmmu_status_from_name(name, &c->expect))
			return 0;
		perr(p, v.col, "unknown status %s", quote(v, q));
		return scn_error_suggest_from(p->err, v, tdxmmu_status_name_at);
	case OPT_OUTCOME:
		c->has |= SCN_HAS_OUTCOME;
		return parse_outcomes(p, c, v);
	case OPT_SPTE_LEVEL:
		c->has |= SCN_HAS_LEVEL;
		if (scn_parse_level(v, &c->level, p->err))
			return word_err(p);
		/* gpaw=48 walks 4 levels (4K..512G), gpaw=52 five. */
		if (c->level >= walk_levels(p->gpaw))
			return perr(p, v.col,
				    "level %s out of range (the TD's %u-bit GPA walk has levels 4K to %s)",
				    quote(v, q), p->gpaw,
				    scn_level_name(walk_levels(p->gpaw) - 1));
		return 0;
	case OPT_SEPT_VE_DISABLE:
		if (scn_tok_is(v, "on"))
			c->td.sept_ve_disable = true;
		else if (scn_tok_is(v, "off"))
			c->td.sept_ve_disable = false;
		else
			return perr_suggest(p, v, WORDS(on_off),
					    "unknown sept-ve-disable value %s (on or off)",
					    quote(v, q));
		return 0;
	case OPT_HUGEPAGES:
		if (scn_tok_is(v, "on"))
			c->hugepages = true;
		else if (scn_tok_is(v, "off"))
			c->hugepages = false;
		else
			return perr_suggest(p, v, WORDS(on_off),
					    "unknown hugepages value %s (on or off)",
					    quote(v, q));
		return 0;
	case OPT_MAPGPA:
		if (scn_tok_is(v, "seed"))
			c->td.mapgpa = TDXMMU_MAPGPA_SEED;
		else if (scn_tok_is(v, "upstream"))
			c->td.mapgpa = TDXMMU_MAPGPA_UPSTREAM;
		else
			return perr_suggest(p, v, WORDS(mapgpa_modes),
					    "unknown mapgpa mode %s (seed or upstream)",
					    quote(v, q));
		return 0;
	case OPT_BUSY:
	case OPT_ENOMEM:
		c->has |= kind == OPT_BUSY ? SCN_HAS_BUSY : SCN_HAS_ENOMEM;
		return parse_percent(p, v, &c->ppm);
	case OPT_INJECT_LEAF:
		c->has |= SCN_HAS_LEAF;
		if (tok_cstr(v, name, sizeof(name)))
			c->leaf = tdxmmu_leaf_from_name(name);
		if (c->leaf < 0) {
			perr(p, v.col, "unknown SEAMCALL %s", quote(v, q));
			return scn_error_suggest_from(p->err, v, tdxmmu_leaf_name_at);
		}
		return 0;
	case OPT_SITE:
		c->has |= SCN_HAS_SITE;
		/* Every site but `all`, which is what leaving site= out means. */
		if (!tok_cstr(v, name, sizeof(name)) ||
		    !tdxmmu_alloc_site_parse(name, &c->site) || c->site == TDXMMU_SITE_ALL)
			return perr_suggest(p, v, WORDS(alloc_sites),
					    "unknown allocation site %s (pt, sept, frame, rmap, shadow, arena or nomirror)",
					    quote(v, q));
		return 0;
	case OPT_BUSY_AT:
	case OPT_ENOMEM_AT:
		c->has |= kind == OPT_BUSY_AT ? SCN_HAS_BUSY_AT : SCN_HAS_ENOMEM_AT;
		if (parse_value(p, v, &c->nth))
			return -1;
		if (c->nth == 0)
			return perr(p, v.col, "the countdown starts at 1 (the next event), not 0");
		return 0;
	case OPT_INJECT_STATUS:
		/* Only error statuses: a module refusing a call never answers
		 * success or a warning. */
		c->has |= SCN_HAS_STATUS;
		if (!tok_cstr(v, name, sizeof(name)) ||
		    !tdxmmu_status_from_name(name, &c->status)) {
			perr(p, v.col, "unknown status %s", quote(v, q));
			return scn_error_suggest_from(p->err, v, tdxmmu_status_name_at);
		}
		if (tdxmmu_status_ok(c->status))
			return perr(p, v.col,
				    "status %s is not an error (a module refusing a call answers an error)",
				    quote(v, q));
		return 0;
	case OPT_INJECT_AT:
		c->has |= SCN_HAS_AT;
		if (parse_value(p, v, &c->nth))
			return -1;
		if (c->nth == 0)
			return perr(p, v.col, "the countdown starts at 1 (the next event), not 0");
		return 0;
	case OPT_INJECT_SHARE:
		c->has |= SCN_HAS_SHARE;
		return parse_percent(p, v, &c->ppm);
	case OPT_INJECT_MODE:
		c->has |= SCN_HAS_MODE;
		if (scn_tok_is(v, "once"))
			c->persistent = false;
		else if (scn_tok_is(v, "persistent"))
			c->persistent = true;
		else
			return perr(p, v.col, "unknown mode %s (once or persistent)", quote(v, q));
		return 0;
	case OPT_LEVEL:
		c->has |= SCN_HAS_LEVEL;
		if (scn_parse_level(v, &c->level, p->err))
			return word_err(p);
		return 0;
	case OPT_ACCEPT_LEVEL:
		c->has |= SCN_HAS_LEVEL;
		if (scn_parse_level(v, &c->level, p->err))
			return word_err(p);
		if (c->level > 1)
			return perr(p, v.col,
				    "level %s not allowed for 'vcpu accept' (4K or 2M)",
				    quote(v, q));
		return 0;
	case OPT_GPA:
		c->has |= SCN_HAS_GPA;
		return parse_addr(p, v, &c->gpa);
	case OPT_PAGE:
		if (scn_tok_is(v, "new")) {
			c->page = SCN_PAGE_NEW;
			return 0;
		}
		if (v.len >= 3 && memcmp(v.s, "of:", 3) == 0) {
			c->page = SCN_PAGE_OF;
			return parse_addr(p, scn_tok_tail(v, 3), &c->page_gpa);
		}
		return perr(p, v.col, "bad page %s (new or of:ADDR)",
			    quote(v, q));
	case OPT_ALIAS:
		if (scn_tok_is(v, "both"))
			c->alias = TDXMMU_ALIAS_BOTH;
		else if (scn_tok_is(v, "private"))
			c->alias = TDXMMU_ALIAS_PRIVATE;
		else if (scn_tok_is(v, "shared"))
			c->alias = TDXMMU_ALIAS_SHARED;
		else
			return perr_suggest(p, v, WORDS(aliases),
					    "unknown alias %s (private, shared or both)",
					    quote(v, q));
		return 0;
	case OPT_SPTE_PRIVATE:
	case OPT_SPTE_SHARED:
		c->has |= kind == OPT_SPTE_PRIVATE ? SCN_HAS_PRIVATE
						   : SCN_HAS_SHARED;
		if (tok_cstr(v, name, sizeof(name)) &&
		    tdxmmu_spte_state_parse(name, kind == OPT_SPTE_PRIVATE
							  ? &c->spte_private
							  : &c->spte_shared))
			return 0;
		perr(p, v.col,
		     "unknown SPTE state %s (nonpresent, present, nonpresent|shared, present|shared, zapped or frozen)",
		     quote(v, q));
		return scn_error_suggest_from(p->err, v, spte_state_at);
	}
	return 0;
}

static size_t nr_args(const struct cmd_desc *d)
{
	size_t n = 0;

	while (n < MAX_ARGS && d->args[n] != ARG_NONE)
		n++;
	return n;
}

/*
 * parse_args() - the positional arguments and options of a line
 * @first: index of the first token after the command words
 * @head_end: set to the index just past the last positional argument
 */
static int parse_args(struct parser *p, const struct cmd_desc *d,
		      struct scn_cmd *c, size_t first, size_t *head_end)
{
	size_t want = nr_args(d), got = 0;
	char q[SCN_QUOTE_SIZE];
	bool in_opts = false;
	unsigned seen = 0;

	*head_end = first;
	for (size_t i = first; i < p->nr; i++) {
		struct scn_tok t = p->toks[i], key, val;
		const char *eq = memchr(t.s, '=', t.len);
		unsigned k;

		if (!eq) {
			if (in_opts)
				return perr(p, t.col,
					    "malformed option %s (options are key=value)",
					    quote(t, q));
			if (got == want)
				return perr(p, t.col,
					    "too many arguments for '%s' (unexpected %s)",
					    d->name, quote(t, q));
			if (parse_arg(p, d->args[got], c, t))
				return -1;
			got++;
			*head_end = i + 1;
			continue;
		}

		in_opts = true;
		key = (struct scn_tok){ t.s, (size_t)(eq - t.s), t.col };
		val = scn_tok_tail(t, key.len + 1);
		if (key.len == 0)
			return perr(p, t.col,
				    "malformed option %s (no key before '=')",
				    quote(t, q));
		for (k = 0; d->opts[k].key; k++)
			if (scn_tok_is(key, d->opts[k].key))
				break;
		if (!d->opts[k].key) {
			perr(p, t.col, "unknown option %s for '%s'",
			     quote(key, q), d->name);
			return suggest_opt(p, key, d);
		}
		if (seen & (1u << k))
			return perr(p, t.col, "duplicate option %s",
				    quote(key, q));
		seen |= 1u << k;
		if (check_seamcall_opt(p, c, d->opts[k].kind, key))
			return -1;
		if (val.len == 0)
			return perr(p, val.col, "missing value for option %s",
				    quote(key, q));
		if (parse_opt(p, d->opts[k].kind, c, val))
			return -1;
	}
	if (got < want && !(d->last_optional && got == want - 1))
		return missing(p, d->arg_names[got], d->name);
	return 0;
}

/* The column of the option token with key @key on the current line. */
static size_t opt_col(const struct parser *p, size_t first, const char *key)
{
	size_t klen = strlen(key);

	for (size_t i = first; i < p->nr; i++) {
		struct scn_tok t = p->toks[i];

		if (t.len > klen && memcmp(t.s, key, klen) == 0 &&
		    t.s[klen] == '=')
			return t.col;
	}
	return p->toks[first].col;
}

/*
 * inject busy=P [leaf=NAME] | inject enomem=P [site=S] | inject off, and
 * the additions busy-at=, enomem-at=, status=NAME [at=N|share=P].
 * The options go through parse_args(); what may combine with what is
 * checked after, and reported at the later of the two tokens.
 */
static int parse_inject(struct parser *p, const struct cmd_desc *d,
			struct scn_cmd *c, size_t first, size_t *head_end)
{
	char q[SCN_QUOTE_SIZE];
	struct scn_tok t;

	if (first == p->nr)
		return missing(p, "busy=P, enomem=P, status=NAME or off", "inject");
	t = p->toks[first];
	if (scn_tok_is(t, "off")) {
		if (first + 1 < p->nr)
			return perr(p, p->toks[first + 1].col,
				    "too many arguments for 'inject off' (unexpected %s)",
				    quote(p->toks[first + 1], q));
		c->op = SCN_OP_INJECT_OFF;
		c->name = "inject off";
		*head_end = first + 1;
		return 0;
	}
	if (!memchr(t.s, '=', t.len)) {
		static const char *const off[] = { "off" };

		return perr_suggest(p, t, WORDS(off),
				    "unknown word %s for 'inject' (busy=P, enomem=P, status=NAME or off)",
				    quote(t, q));
	}
	if (parse_args(p, d, c, first, head_end))
		return -1;
	/* One kind per line: the first two of busy=, enomem=, busy-at=,
	 * enomem-at= given are reported, at the later one. */
	{
		static const struct { unsigned bit; const char *key; } kinds[] = {
			{ SCN_HAS_BUSY, "busy" }, { SCN_HAS_ENOMEM, "enomem" },
			{ SCN_HAS_BUSY_AT, "busy-at" }, { SCN_HAS_ENOMEM_AT, "enomem-at" },
			{ SCN_HAS_STATUS, "status" },
		};
		const char *a = NULL;

		for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
			if (!(c->has & kinds[i].bit))
				continue;
			if (!a) {
				a = kinds[i].key;
				continue;
			}
			return perr(p, opt_col(p, first, a) > opt_col(p, first, kinds[i].key)
					       ? opt_col(p, first, a)
					       : opt_col(p, first, kinds[i].key),
				    "'%s=' and '%s=' cannot be combined (one 'inject' line each)",
				    a, kinds[i].key);
		}
		if (!a)
			return missing(p, "busy=P or enomem=P", "inject");
	}
	if ((c->has & SCN_HAS_LEAF) &&
	    !(c->has & (SCN_HAS_BUSY | SCN_HAS_BUSY_AT | SCN_HAS_STATUS)))
		return perr(p, opt_col(p, first, "leaf"),
			    "option 'leaf' applies only to 'inject busy=', 'inject busy-at=' and 'inject status='");
	if ((c->has & (SCN_HAS_AT | SCN_HAS_SHARE)) && !(c->has & SCN_HAS_STATUS))
		return perr(p, opt_col(p, first, c->has & SCN_HAS_AT ? "at" : "share"),
			    "option '%s' applies only to 'inject status='",
			    c->has & SCN_HAS_AT ? "at" : "share");
	if ((c->has & SCN_HAS_AT) && (c->has & SCN_HAS_SHARE))
		return perr(p, opt_col(p, first, "at") > opt_col(p, first, "share")
				       ? opt_col(p, first, "at")
				       : opt_col(p, first, "share"),
			    "'at=' and 'share=' cannot be combined (a countdown or a share)");
	if ((c->has & SCN_HAS_MODE) && (c->has & SCN_HAS_SHARE))
		return perr(p, opt_col(p, first, "mode"),
			    "option 'mode' applies only to a countdown, not to 'share='");
	if ((c->has & SCN_HAS_SITE) && !(c->has & (SCN_HAS_ENOMEM | SCN_HAS_ENOMEM_AT)))
		return perr(p, opt_col(p, first, "site"),
			    "option 'site' applies only to 'inject enomem=' and 'inject enomem-at='");
	if ((c->has & SCN_HAS_MODE) &&
	    !(c->has & (SCN_HAS_BUSY_AT | SCN_HAS_ENOMEM_AT | SCN_HAS_STATUS)))
		return perr(p, opt_col(p, first, "mode"),
			    "option 'mode' applies only to 'inject busy-at=', 'inject enomem-at=' and 'inject status='");
	/* status= without share= is a countdown, from the next call by
	 * default. */
	if ((c->has & SCN_HAS_STATUS) && !(c->has & (SCN_HAS_AT | SCN_HAS_SHARE)))
		c->nth = 1;
	if (c->has & (SCN_HAS_ENOMEM | SCN_HAS_ENOMEM_AT)) {
		c->op = SCN_OP_INJECT_ENOMEM;
		c->name = c->has & SCN_HAS_ENOMEM ? "inject enomem" : "inject enomem-at";
	} else if (c->has & SCN_HAS_STATUS) {
		c->name = "inject status";
	} else {
		c->name = c->has & SCN_HAS_BUSY ? "inject busy" : "inject busy-at";
	}
	return 0;
}

/* show ADDR [SIZE]: one 4K page by default. Both aliases of each page are
 * shown whatever ADDR's shared bit, so the range must not cross that bit
 * or run past the GPA width (check_range()). */
static int check_show(struct parser *p, struct scn_cmd *c)
{
	if (c->size == 0) {
		c->size = 4096;
		return 0;
	}
	return check_range(p, p->toks[2], c->gpa, c->size);
}

static void release_counters(struct scn_cmd *c)
{
	for (size_t i = 0; i < c->nr_counters; i++)
		free(c->counters[i].name);
	free(c->counters);
	c->counters = NULL;
	c->nr_counters = 0;
}

/* expect-count NAME=N ...: every token is a counter. Names other than
 * seamcall.LEAF are the model's to know, so they are checked when run. */
static int parse_counters(struct parser *p, struct scn_cmd *c, size_t first)
{
	static const char prefix[] = "seamcall.";
	const size_t plen = sizeof(prefix) - 1;
	char q[SCN_QUOTE_SIZE], name[64];

	if (first == p->nr)
		return missing(p, "NAME=N", c->name);
	c->counters = calloc(p->nr - first, sizeof(*c->counters));
	if (!c->counters)
		return perr(p, p->toks[first].col, "out of memory");
	for (size_t i = first; i < p->nr; i++) {
		struct scn_tok t = p->toks[i], key, val;
		const char *eq = memchr(t.s, '=', t.len);
		struct scn_counter *ctr;

		if (!eq || eq == t.s || eq == t.s + t.len - 1)
			return perr(p, t.col,
				    "malformed counter %s (NAME=N)",
				    quote(t, q));
		key = (struct scn_tok){ t.s, (size_t)(eq - t.s), t.col };
		val = scn_tok_tail(t, key.len + 1);
		if (key.len > plen && memcmp(key.s, prefix, plen) == 0) {
			struct scn_tok leaf = scn_tok_tail(key, plen);

			if (!tok_cstr(leaf, name, sizeof(name)) ||
			    tdxmmu_leaf_from_name(name) < 0) {
				perr(p, leaf.col,
				     "unknown SEAMCALL %s in counter name",
				     quote(leaf, q));
				return scn_error_suggest_from(p->err, leaf,
							      tdxmmu_leaf_name_at);
			}
		}
		for (size_t j = 0; j < c->nr_counters; j++) {
			const char *other = c->counters[j].name;

			if (strlen(other) == key.len &&
			    memcmp(other, key.s, key.len) == 0)
				return perr(p, t.col, "duplicate counter %s",
					    quote(key, q));
		}
		ctr = &c->counters[c->nr_counters];
		if (parse_value(p, val, &ctr->value))
			return -1;
		ctr->name = strndup(key.s, key.len);
		if (!ctr->name)
			return perr(p, t.col, "out of memory");
		c->nr_counters++;
	}
	return 0;
}

/*
 * memslot ... hugepages=on: 2M host pages need a 2M-aligned BASE and SIZE
 * (contract 1.1, "Large pages"); reported at the token that is not.
 */
static int check_hugepages(struct parser *p, const struct scn_cmd *c, size_t first)
{
	const uint64_t huge = 2ULL << 20;
	char q[SCN_QUOTE_SIZE];

	/* first: ID, first + 1: BASE, first + 2: SIZE (parse_args checked
	 * they are there). */
	if (c->gpa & (huge - 1))
		return perr(p, p->toks[first + 1].col,
			    "memslot base %s is not 2M-aligned (hugepages=on backs the slot with 2M pages)",
			    quote(p->toks[first + 1], q));
	if (c->size & (huge - 1))
		return perr(p, p->toks[first + 2].col,
			    "memslot size %s is not a multiple of 2M (hugepages=on backs the slot with 2M pages)",
			    quote(p->toks[first + 2], q));
	return 0;
}

/* The command as the runner echoes it: its tokens, one space apart. */
static int make_text(struct parser *p, struct scn_cmd *c, size_t head_end)
{
	size_t n = 0, pos = 0;

	for (size_t i = 0; i < p->nr; i++)
		n += p->toks[i].len + 1;
	c->text = malloc(n);
	if (!c->text)
		return perr(p, p->toks[0].col, "out of memory");
	for (size_t i = 0; i < p->nr; i++) {
		if (i)
			c->text[pos++] = ' ';
		memcpy(c->text + pos, p->toks[i].s, p->toks[i].len);
		pos += p->toks[i].len;
		if (i + 1 == head_end)
			c->head_len = pos;
	}
	c->text[pos] = '\0';
	return 0;
}

static void release_cmd(struct scn_cmd *c);

static void release_block(struct scn_block *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->nr; i++)
		release_cmd(&b->cmds[i]);
	free(b->cmds);
	for (size_t i = 0; i < b->nr_lanes; i++)
		free(b->lanes[i].idx);
	free(b->lanes);
	free(b);
}

static void release_cmd(struct scn_cmd *c)
{
	free(c->text);
	c->text = NULL;
	release_counters(c);
	release_block(c->block);
	c->block = NULL;
}

void scn_script_free(struct scn_script *script)
{
	for (size_t i = 0; i < script->nr; i++)
		release_cmd(&script->cmds[i]);
	free(script->cmds);
	memset(script, 0, sizeof(*script));
}

static int push_cmd(struct parser *p, struct scn_cmd **arr, size_t *nr,
		    size_t *cap, struct scn_cmd *c)
{
	if (*nr == *cap) {
		size_t ncap = *cap ? *cap * 2 : 32;
		struct scn_cmd *n = realloc(*arr, ncap * sizeof(*n));

		if (!n)
			return perr(p, c->col, "out of memory");
		*arr = n;
		*cap = ncap;
	}
	(*arr)[(*nr)++] = *c;
	return 0;
}

/* Lines of a parallel block that run on the host lane: host actions and,
 * since contract 1.1, raw SEAMCALLs. */
static bool is_host_op(enum scn_op op)
{
	return (op >= SCN_OP_HOST_READ && op <= SCN_OP_HOST_ZAP) ||
	       op == SCN_OP_SEAMCALL;
}

/* Groups a finished block's lines into lanes: one per vCPU that has lines,
 * in vCPU order, then the host's. Each lane keeps source order. */
static int make_lanes(struct parser *p, struct scn_block *b)
{
	size_t *count = calloc(p->vcpus + 1, sizeof(*count));
	size_t lane = 0, nr_lanes = 0;

	if (!count)
		return perr(p, 1, "out of memory");
	for (size_t i = 0; i < b->nr; i++)
		count[is_host_op(b->cmds[i].op) ? p->vcpus : b->cmds[i].vcpu]++;
	for (unsigned v = 0; v <= p->vcpus; v++)
		nr_lanes += count[v] != 0;
	/* nr_lanes is set with the array only: release_block() frees each
	 * lane's index array, and must find none when the array could not be
	 * allocated (it read lanes[] through NULL before). */
	if (nr_lanes) {
		b->lanes = calloc(nr_lanes, sizeof(*b->lanes));
		if (!b->lanes)
			goto oom;
		b->nr_lanes = nr_lanes;
	}
	for (unsigned v = 0; v <= p->vcpus; v++) {
		struct scn_lane *l;

		if (!count[v])
			continue;
		l = &b->lanes[lane++];
		l->vcpu = v == p->vcpus ? SCN_LANE_HOST : (int)v;
		l->idx = malloc(count[v] * sizeof(*l->idx));
		if (!l->idx)
			goto oom;
		for (size_t i = 0; i < b->nr; i++) {
			const struct scn_cmd *c = &b->cmds[i];
			unsigned slot = is_host_op(c->op) ? p->vcpus : c->vcpu;

			if (slot == v)
				l->idx[l->nr++] = i;
		}
	}
	free(count);
	return 0;
oom:
	free(count);
	return perr(p, 1, "out of memory");
}

/* Puts a parsed command where it belongs; takes ownership of it. */
static int place(struct parser *p, struct scn_cmd *c)
{
	struct scn_script *s = p->script;
	struct scn_block *b;

	switch (c->op) {
	case SCN_OP_PARALLEL:
		c->block = calloc(1, sizeof(*c->block));
		if (!c->block) {
			/* place() owns c: its text goes too (it leaked). */
			release_cmd(c);
			return perr(p, c->col, "out of memory");
		}
		p->block_cmd = *c;
		p->in_block = true;
		return 0;
	case SCN_OP_END:
		release_cmd(c);
		b = p->block_cmd.block;
		b->end_line = p->line;
		if (make_lanes(p, b))
			return -1;
		if (push_cmd(p, &s->cmds, &s->nr, &s->cap, &p->block_cmd))
			return -1;
		p->in_block = false;
		return 0;
	case SCN_OP_TD:
		p->have_td = true;
		p->td_line = c->line;
		p->gpaw = s->gpaw = c->td.gpaw;
		p->vcpus = s->vcpus = c->td.vcpus;
		break;
	case SCN_OP_DESTROY:
		p->destroyed = true;
		p->destroy_line = c->line;
		break;
	default:
		break;
	}
	if (p->in_block) {
		b = p->block_cmd.block;
		if (push_cmd(p, &b->cmds, &b->nr, &b->cap, c))
			goto fail;
		return 0;
	}
	if (push_cmd(p, &s->cmds, &s->nr, &s->cap, c))
		goto fail;
	return 0;
fail:
	release_cmd(c);
	return -1;
}

enum word_class { W_TD, W_VCPU, W_HOST, W_SEAMCALL, W_PARALLEL, W_END, W_OTHER };

/* The order rules, decided on the first word of a line. */
static int check_order(struct parser *p, struct scn_tok w, enum word_class wc)
{
	char q[SCN_QUOTE_SIZE];

	quote(w, q);
	if (p->destroyed)
		return perr(p, w.col,
			    "%s after 'destroy' (line %zu): the TD no longer exists",
			    q, p->destroy_line);
	if (!p->have_td && wc != W_TD)
		return perr(p, w.col,
			    "%s before 'td' (the first command must be 'td')", q);
	if (p->in_block) {
		if (wc == W_PARALLEL)
			return perr(p, w.col,
				    "nested 'parallel' (the block opened on line %zu has no 'end' yet)",
				    p->block_cmd.line);
		if (wc != W_VCPU && wc != W_HOST && wc != W_SEAMCALL &&
		    wc != W_END)
			return perr(p, w.col,
				    "%s is not allowed inside 'parallel' (only 'vcpu', 'host' and 'seamcall' lines)",
				    q);
	} else if (wc == W_END) {
		return perr(p, w.col, "'end' without 'parallel'");
	}
	if (p->have_td && wc == W_TD)
		return perr(p, w.col,
			    "a second 'td' (the TD was created on line %zu)",
			    p->td_line);
	return 0;
}

static int parse_line(struct parser *p)
{
	const struct scn_tok *t = p->toks;
	const struct cmd_desc *d = NULL;
	enum word_class wc = W_OTHER;
	char q[SCN_QUOTE_SIZE];
	size_t first = 1, head_end;
	struct scn_cmd c;
	uint64_t v;
	int rc;

	if (scn_tok_is(t[0], "vcpu")) {
		wc = W_VCPU;
	} else if (scn_tok_is(t[0], "host")) {
		wc = W_HOST;
	} else {
		d = lookup(top_cmds, ARRAY_SIZE(top_cmds), t[0]);
		if (!d) {
			perr(p, t[0].col, "unknown command %s", quote(t[0], q));
			return suggest_cmd(p, t[0], top_cmds,
					   ARRAY_SIZE(top_cmds), true);
		}
		wc = d->op == SCN_OP_TD		? W_TD
		     : d->op == SCN_OP_PARALLEL ? W_PARALLEL
		     : d->op == SCN_OP_END	? W_END
		     : d->op == SCN_OP_SEAMCALL ? W_SEAMCALL
						: W_OTHER;
	}
	if (check_order(p, t[0], wc))
		return -1;

	memset(&c, 0, sizeof(c));
	c.line = p->line;
	c.col = t[0].col;
	c.outcomes = SCN_OUTCOME_BIT(TDXMMU_OUTCOME_OK);
	c.alias = TDXMMU_ALIAS_BOTH;
	c.leaf = -1;
	c.site = TDXMMU_SITE_ALL;
	c.td = (struct scn_td_args){ .mmu = TDXMMU_MMU_TDP, .gpaw = 48,
				     .vcpus = 1, .accept = TDXMMU_ACCEPT_AUTO,
				     .seed = 1, .mapgpa = TDXMMU_MAPGPA_SEED };

	if (wc == W_VCPU) {
		if (p->nr < 2)
			return missing(p, "N", "vcpu");
		if (parse_value(p, t[1], &v))
			return -1;
		if (v >= p->vcpus)
			return perr(p, t[1].col,
				    "vcpu %s out of range (the TD has %u vcpu%s)",
				    quote(t[1], q), p->vcpus,
				    p->vcpus == 1 ? "" : "s");
		c.vcpu = (unsigned)v;
		if (p->nr < 3)
			return missing(p, "ACTION", "vcpu");
		d = lookup(vcpu_cmds, ARRAY_SIZE(vcpu_cmds), t[2]);
		if (!d) {
			perr(p, t[2].col,
			     "unknown command 'vcpu %.*s' (read, write, fill, verify, accept, mapgpa, enter or leave)",
			     (int)(t[2].len > 40 ? 40 : t[2].len), t[2].s);
			return suggest_cmd(p, t[2], vcpu_cmds,
					   ARRAY_SIZE(vcpu_cmds), false);
		}
		first = 3;
	} else if (wc == W_HOST) {
		if (p->nr < 2)
			return missing(p, "ACTION", "host");
		d = lookup(host_cmds, ARRAY_SIZE(host_cmds), t[1]);
		if (!d) {
			perr(p, t[1].col,
			     "unknown command 'host %.*s' (read, write, invalidate, delete-memslot or zap)",
			     (int)(t[1].len > 40 ? 40 : t[1].len), t[1].s);
			return suggest_cmd(p, t[1], host_cmds,
					   ARRAY_SIZE(host_cmds), false);
		}
		first = 2;
	}
	c.op = d->op;
	c.name = d->name;

	if (c.op == SCN_OP_EXPECT_COUNT) {
		rc = parse_counters(p, &c, first);
		head_end = p->nr;
	} else if (c.op == SCN_OP_INJECT_BUSY) {
		rc = parse_inject(p, d, &c, first, &head_end);
	} else {
		rc = parse_args(p, d, &c, first, &head_end);
		if (!rc && c.op == SCN_OP_SHOW)
			rc = check_show(p, &c);
		if (!rc && c.op == SCN_OP_MEMSLOT && c.hugepages)
			rc = check_hugepages(p, &c, first);
	}
	if (!rc)
		rc = make_text(p, &c, head_end);
	if (rc) {
		release_cmd(&c);
		return -1;
	}
	return place(p, &c);
}

int scn_parse(const char *text, size_t len, struct scn_script *script,
	      struct scn_error *err)
{
	struct parser p = { .script = script, .err = err, .gpaw = 48,
			    .vcpus = 1 };
	struct scn_lexer lx;
	int rc;

	memset(script, 0, sizeof(*script));
	memset(err, 0, sizeof(*err));
	scn_lexer_init(&lx, text, len);
	while ((rc = scn_lex_line(&lx, err)) > 0) {
		if (!lx.nr)
			continue;
		p.line = lx.line;
		p.toks = lx.toks;
		p.nr = lx.nr;
		if (parse_line(&p)) {
			rc = -1;
			break;
		}
	}
	if (!rc && p.in_block) {
		p.line = p.block_cmd.line;
		rc = perr(&p, p.block_cmd.col, "'parallel' without 'end'");
	}
	if (!rc && !p.have_td) {
		p.line = 1;
		rc = perr(&p, 1, "no 'td' command (a scenario starts with 'td')");
	}
	if (p.in_block)
		release_cmd(&p.block_cmd);
	scn_lexer_release(&lx);
	if (rc) {
		scn_script_free(script);
		return -1;
	}
	return 0;
}
