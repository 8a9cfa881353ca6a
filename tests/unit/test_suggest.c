/* SPDX-License-Identifier: MIT */
/*
 * "Did you mean": the distance, the thresholds that keep short words from
 * being "corrected" into unrelated ones, ties, the prefix/suffix rule, and
 * the parser's messages that use it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "scenario/scenario.h"
#include "scenario/suggest.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const char *const cmds[] = {
	"td", "memslot", "add", "finalize", "destroy", "seamcall",
	"expect-spte", "expect-sept", "check", "end", "vcpu", "host",
};

static unsigned dist(const char *a, const char *b)
{
	return suggest_distance(a, strlen(a), b, strlen(b));
}

static const char *near(const char *w, const char *const *c, size_t n)
{
	return suggest_word(w, strlen(w), c, n);
}

static void test_distance(void **state)
{
	(void)state;
	assert_int_equal(dist("", ""), 0);
	assert_int_equal(dist("abc", ""), 3);
	assert_int_equal(dist("", "abc"), 3);
	assert_int_equal(dist("destroy", "destroy"), 0);
	/* One edit of each kind. */
	assert_int_equal(dist("destry", "destroy"), 1);   /* deletion */
	assert_int_equal(dist("destroyy", "destroy"), 1); /* insertion */
	assert_int_equal(dist("destrix", "destroy"), 2);  /* two substitutions */
	assert_int_equal(dist("destory", "destroy"), 1);  /* adjacent swap */
	/* Plain Levenshtein would say 2 for a swap: this is Damerau. */
	assert_int_equal(dist("ab", "ba"), 1);
	/* Case is ignored. */
	assert_int_equal(dist("4k", "4K"), 0);
	assert_int_equal(dist("tdx_operand_busy", "TDX_OPERAND_BUSY"), 0);
	assert_int_equal(dist("kitten", "sitting"), 3);
	/* Only the first blen bytes of b count. */
	assert_int_equal(suggest_distance("add", 3, "address", 3), 0);
}

static void test_distance_too_long(void **state)
{
	char big[SUGGEST_MAX_LEN + 2];

	(void)state;
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(dist(big, "a"), SUGGEST_FAR);
	assert_int_equal(dist("a", big), SUGGEST_FAR);
	/* A word too long for any distance is no candidate's neighbour,
	 * even when every candidate is as far. */
	assert_null(near(big, cmds, N(cmds)));
	assert_null(near(big, (const char *const[]){ big }, 1));
	big[SUGGEST_MAX_LEN] = '\0';
	assert_int_equal(dist(big, big), 0);
}


static void test_word_close(void **state)
{
	(void)state;
	assert_string_equal(near("destory", cmds, N(cmds)), "destroy");
	assert_string_equal(near("finalise", cmds, N(cmds)), "finalize");
	assert_string_equal(near("memslt", cmds, N(cmds)), "memslot");
	assert_string_equal(near("chekc", cmds, N(cmds)), "check");
	assert_string_equal(near("CHECK", cmds, N(cmds)), "check");
	assert_string_equal(near("tf", cmds, N(cmds)), "td");
}

static void test_word_far(void **state)
{
	(void)state;
	/* Three edits away: nothing. */
	assert_null(near("destruct", cmds, N(cmds)));
	assert_null(near("jump", cmds, N(cmds)));
	/* Two letters may be off by one at most: "xy" is two from "td". */
	assert_null(near("xy", cmds, N(cmds)));
	/* Up to four letters, one edit at most: "chk" is two from "check",
	 * "read" two from "end". */
	assert_null(near("chk", cmds, N(cmds)));
	assert_null(near("read", cmds, N(cmds)));
	assert_string_equal(near("raed", (const char *const[]){ "read" }, 1),
			    "read");
	assert_null(near("", cmds, N(cmds)));
	assert_null(near("destory", cmds, 0));
}

static void test_word_tie(void **state)
{
	static const char *const levels[] = { "4K", "2M", "1G", "512G", "256T" };

	(void)state;
	/* "2G" is one edit from 2M and from 1G: no guess. */
	assert_null(near("2G", levels, N(levels)));
	/* expect-spxe is one from expect-spte only; expect-spt is one from
	 * both expect-spte and expect-sept. */
	assert_string_equal(near("expect-spxe", cmds, N(cmds)), "expect-spte");
	assert_null(near("expect-spt", cmds, N(cmds)));
	assert_string_equal(near("4k", levels, N(levels)), "4K");
}

static void test_word_affix(void **state)
{
	static const char *const leaves[] = {
		"TDH.MEM.PAGE.ADD", "TDH.MEM.SEPT.ADD", "TDH.MEM.PAGE.AUG",
		"TDH.MEM.PAGE.REMOVE", "TDH.MEM.SEPT.REMOVE", "TDH.MEM.TRACK",
	};
	static const char *const status[] = {
		"TDX_OPERAND_BUSY", "TDX_OPERAND_BUSY_HOST_PRIORITY", "TDX_SYS_BUSY",
	};

	(void)state;
	/* A suffix naming one candidate. */
	assert_string_equal(near("PAGE.AUG", leaves, N(leaves)), "TDH.MEM.PAGE.AUG");
	assert_string_equal(near("track", leaves, N(leaves)), "TDH.MEM.TRACK");
	assert_string_equal(near("OPERAND_BUSY", status, N(status)),
			    "TDX_OPERAND_BUSY");
	/* A prefix naming one candidate. */
	assert_string_equal(near("TDH.MEM.TR", leaves, N(leaves)), "TDH.MEM.TRACK");
	/* An affix of several: no guess. */
	assert_null(near("REMOVE", leaves, N(leaves)));
	assert_null(near("BUSY", status, N(status)));
	assert_null(near("TDH.MEM.PAGE", leaves, N(leaves)));
	/* Too short to stand for anything. */
	assert_null(near("AD", leaves, N(leaves)));
}

static void test_word_null_entries(void **state)
{
	static const char *const c[] = { NULL, "legacy", NULL, "tdp" };

	(void)state;
	assert_string_equal(near("legasy", c, N(c)), "legacy");
	assert_null(near("xyz", c, N(c)));
	assert_null(suggest_word(NULL, 3, c, N(c)));
}

/* The parser's messages: the error as before, then the suggestion. */
static void parse_msg(const char *text, const char *want, size_t line,
		      size_t col)
{
	struct scn_script s;
	struct scn_error err;

	assert_int_equal(scn_parse(text, strlen(text), &s, &err), -1);
	assert_string_equal(err.msg, want);
	assert_int_equal(err.line, line);
	assert_int_equal(err.col, col);
}

static void test_parser_messages(void **state)
{
	(void)state;
	parse_msg("td\ndestory\n",
		  "unknown command 'destory'; did you mean 'destroy'?", 2, 1);
	parse_msg("td\nxyzzy\n", "unknown command 'xyzzy'", 2, 1);
	parse_msg("td\nseamcall TDH.MEM.PAGE.AUGG gpa=0\n",
		  "unknown SEAMCALL 'TDH.MEM.PAGE.AUGG'; did you mean 'TDH.MEM.PAGE.AUG'?",
		  2, 10);
	parse_msg("td\nseamcall TDH.MEM.TRACK expect=TDX_OPERAND_BUZY\n",
		  "unknown status 'TDX_OPERAND_BUZY'; did you mean 'TDX_OPERAND_BUSY'?",
		  2, 31);
	parse_msg("td\nexpect-sept 0 FREE level=2m\n",
		  "unknown level '2m' (4K, 2M, 1G, 512G or 256T); did you mean '2M'?",
		  2, 26);
	parse_msg("td mmu=legasy\n",
		  "unknown mmu kind 'legasy' (tdp or legacy); did you mean 'legacy'?",
		  1, 8);
	parse_msg("td\nhost zpa 0 4K\n",
		  "unknown command 'host zpa' (read, write, invalidate, delete-memslot or zap); did you mean 'zap'?",
		  2, 6);
	parse_msg("td\nseamcall TDH.MEM.TRACK leve=4K\n",
		  "unknown option 'leve' for 'seamcall'; did you mean 'level'?", 2, 24);
	parse_msg("td\nexpect-spte 0 private=presnt\n",
		  "unknown SPTE state 'presnt' (nonpresent, present, nonpresent|shared, present|shared, zapped or frozen); did you mean 'present'?",
		  2, 23);
	parse_msg("td\nexpect-sept 0 PENDNG\n",
		  "unknown S-EPT state 'PENDNG' (FREE, MAPPED, PENDING, BLOCKED, PENDING_BLOCKED, NL_MAPPED or NL_BLOCKED); did you mean 'PENDING'?",
		  2, 15);
	parse_msg("td\nadd 0 outcome=ok|blokced\n",
		  "unknown outcome 'blokced' (ok, blocked, ve, poison, mmio, error, bugged or dead); did you mean 'blocked'?",
		  2, 18);
	parse_msg("td\nread shraed:0\n",
		  "unknown command 'read'", 2, 1);
	parse_msg("td\nexpect-spte shraed:0\n",
		  "unknown address prefix 'shraed:' (private: or shared:); did you mean 'shared:'?",
		  2, 13);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_distance),
		cmocka_unit_test(test_distance_too_long),
		cmocka_unit_test(test_word_close),
		cmocka_unit_test(test_word_far),
		cmocka_unit_test(test_word_tie),
		cmocka_unit_test(test_word_affix),
		cmocka_unit_test(test_word_null_entries),
		cmocka_unit_test(test_parser_messages),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
