/* SPDX-License-Identifier: MIT */
/*
 * The scenario parser: every class of parse error gives the exact message at
 * the right line and column (through the public tdxmmu_run_string() and
 * tdxmmu_run_file()), and numbers, suffixes, addresses, levels and options
 * come out as the language defines them (through scn_parse()).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "scenario/scenario.h"
#include "tdxmmu/tdxmmu.h"

struct capture {
	char *out, *err;
	size_t out_len, err_len;
	int status;
};

static void capture_free(struct capture *c)
{
	free(c->out);
	free(c->err);
}

static void run_string(const char *text, struct capture *c)
{
	FILE *out = open_memstream(&c->out, &c->out_len);
	FILE *err = open_memstream(&c->err, &c->err_len);
	struct tdxmmu_run_options o = { .out = out, .err = err };

	assert_non_null(out);
	assert_non_null(err);
	c->status = tdxmmu_run_string("t.tds", text, &o);
	fclose(out);
	fclose(err);
}

struct error_case {
	const char *text;
	const char *msg; /* what stderr must hold, exactly */
};

static void check_errors(const struct error_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct capture c;

		run_string(cases[i].text, &c);
		if (strcmp(c.err, cases[i].msg) != 0)
			print_error("case %zu: script:\n%s\n", i, cases[i].text);
		assert_string_equal(c.err, cases[i].msg);
		assert_int_equal(c.status, 2);
		/* Nothing ran: not even a closing line. */
		assert_string_equal(c.out, "");
		capture_free(&c);
	}
}

#define CHECK_ERRORS(cases) check_errors(cases, sizeof(cases) / sizeof(cases[0]))

static void test_unknown_command(void **state)
{
	static const struct error_case cases[] = {
		{ "td\nfrob 1\n", "t.tds:2:1: error: unknown command 'frob'\n" },
		{ "td\nTD\n", "t.tds:2:1: error: unknown command 'TD'; did you mean 'td'?\n" },
		{ "td\nvcpu 0 jump 0\n",
		  "t.tds:2:8: error: unknown command 'vcpu jump' (read, write, fill, verify, accept, mapgpa, enter or leave)\n" },
		{ "td\nhost poke 0\n",
		  "t.tds:2:6: error: unknown command 'host poke' (read, write, invalidate, delete-memslot or zap)\n" },
		{ "td\n\texpect-pte 0\n",
		  "t.tds:2:2: error: unknown command 'expect-pte'; did you mean 'expect-spte'?\n" },
	};

	(void)state;
	CHECK_ERRORS(cases);
}

static void test_malformed_number(void **state)
{
	static const struct error_case cases[] = {
		{ "td\nmemslot x 0 4K\n",
		  "t.tds:2:9: error: malformed number 'x'\n" },
		{ "td\nmemslot 0 0x 4K\n",
		  "t.tds:2:11: error: malformed number '0x'\n" },
		{ "td\nmemslot 0 0 4KB\n",
		  "t.tds:2:13: error: malformed number '4KB'\n" },
		/* Suffixes are upper case, as the language spells them. */
		{ "td\nmemslot 0 0 4k\n",
		  "t.tds:2:13: error: malformed number '4k'\n" },
		{ "td\nvcpu 0 write 0 -1\n",
		  "t.tds:2:16: error: malformed number '-1'\n" },
		{ "td\nvcpu 0 write 0 0x12g4\n",
		  "t.tds:2:16: error: malformed number '0x12g4'\n" },
		{ "td\nvcpu 0 write 0 1K\n",
		  "t.tds:2:16: error: malformed number '1K': a size suffix is not allowed here\n" },
		{ "td seed=2M\n",
		  "t.tds:1:9: error: malformed number '2M': a size suffix is not allowed here\n" },
		{ "td\nvcpu 0 fill 0 4K 1K\n",
		  "t.tds:2:18: error: malformed number '1K': a size suffix is not allowed here\n" },
		{ "td\nvcpu 0 read 0 expect=0x10M\n",
		  "t.tds:2:22: error: malformed number '0x10M': a size suffix is not allowed here\n" },
	};

	(void)state;
	CHECK_ERRORS(cases);
}

static void test_number_out_of_range(void **state)
{
	static const struct error_case cases[] = {
		{ "td\nvcpu 0 write 0 18446744073709551616\n",
		  "t.tds:2:16: error: number '18446744073709551616' out of range (more than 64 bits)\n" },
		{ "td\nvcpu 0 write 0 0x10000000000000000\n",
		  "t.tds:2:16: error: number '0x10000000000000000' out of range (more than 64 bits)\n" },
		{ "td\nmemslot 0 0 0x40000000000000K\n",
		  "t.tds:2:13: error: number '0x40000000000000K' out of range (more than 64 bits)\n" },
		{ "td\nmemslot 0 0 16777216T\n",
		  "t.tds:2:13: error: number '16777216T' out of range (more than 64 bits)\n" },
		{ "td\nmemslot 0 0 2M\nvcpu 0 fill 0 4K 256\n",
		  "t.tds:3:18: error: byte '256' out of range (0 to 255)\n" },
		{ "td\nadd 0 fill=0x100\n",
		  "t.tds:2:12: error: byte '0x100' out of range (0 to 255)\n" },
		{ "td vcpus=2\nvcpu 2 read 0\n",
		  "t.tds:2:6: error: vcpu '2' out of range (the TD has 2 vcpus)\n" },
		{ "td\nvcpu 1 read 0\n",
		  "t.tds:2:6: error: vcpu '1' out of range (the TD has 1 vcpu)\n" },
		{ "td gpaw=50\n",
		  "t.tds:1:9: error: gpaw '50' out of range (48 or 52)\n" },
		{ "td vcpus=0\n",
		  "t.tds:1:10: error: vcpus '0' out of range (1 to 64)\n" },
		{ "td vcpus=65\n",
		  "t.tds:1:10: error: vcpus '65' out of range (1 to 64)\n" },
		{ "td\nhost delete-memslot 0x100000000\n",
		  "t.tds:2:21: error: memslot id '0x100000000' out of range (more than 32 bits)\n" },
		{ "td\nmemslot 0 0 0\n",
		  "t.tds:2:13: error: memslot size '0' out of range (empty)\n" },
	};

	(void)state;
	CHECK_ERRORS(cases);
}

static void test_levels(void **state)
{
	static const struct error_case cases[] = {
		{ "td\nexpect-sept 0 FREE level=3M\n",
		  "t.tds:2:26: error: unknown level '3M' (4K, 2M, 1G, 512G or 256T); did you mean '2M'?\n" },
		{ "td\nexpect-sept 0 FREE level=4k\n",
		  "t.tds:2:26: error: unknown level '4k' (4K, 2M, 1G, 512G or 256T); did you mean '4K'?\n" },
		{ "td\nseamcall TDH.MEM.SEPT.ADD level=0\n",
		  "t.tds:2:33: error: unknown level '0' (4K, 2M, 1G, 512G or 256T)\n" },
		{ "td\nvcpu 0 accept 0 level=1G\n",
		  "t.tds:2:23: error: level '1G' not allowed for 'vcpu accept' (4K or 2M)\n" },
		{ "td\nvcpu 0 accept 0 level=256T\n",
		  "t.tds:2:23: error: level '256T' not allowed for 'vcpu accept' (4K or 2M)\n" },
	};

	(void)state;
	CHECK_ERRORS(cases);
}

static void test_arguments(void **state)
{
	static const struct error_case cases[] = {
		/* A missing argument points just past the last token. */
		{ "td\nmemslot 0 0\n",
		  "t.tds:2:12: error: missing argument SIZE for 'memslot'\n" },
		{ "td\nmemslot 0 0   # base only\n",
		  "t.tds:2:12: error: missing argument SIZE for 'memslot'\n" },
		{ "td\nvcpu\n", "t.tds:2:5: error: missing argument N for 'vcpu'\n" },
		{ "td\nvcpu 0\n",
		  "t.tds:2:7: error: missing argument ACTION for 'vcpu'\n" },
		{ "td\nhost\n",
		  "t.tds:2:5: error: missing argument ACTION for 'host'\n" },
		{ "td\nseamcall\n",
		  "t.tds:2:9: error: missing argument NAME for 'seamcall'\n" },
		{ "td\nexpect-count\n",
		  "t.tds:2:13: error: missing argument NAME=N for 'expect-count'\n" },
		{ "td\nvcpu 0 read outcome=ok\n",
		  "t.tds:2:23: error: missing argument ADDR for 'vcpu read'\n" },
		{ "td\nexpect-sept 0\n",
		  "t.tds:2:14: error: missing argument STATE for 'expect-sept'\n" },
		/* Too many positional arguments. */
		{ "td\nfinalize now\n",
		  "t.tds:2:10: error: too many arguments for 'finalize' (unexpected 'now')\n" },
		{ "td\nmemslot 0 0 4K 8K\n",
		  "t.tds:2:16: error: too many arguments for 'memslot' (unexpected '8K')\n" },
		{ "td 52\n",
		  "t.tds:1:4: error: too many arguments for 'td' (unexpected '52')\n" },
		{ "td\nvcpu 0 read 0 blocked\n",
		  "t.tds:2:15: error: too many arguments for 'vcpu read' (unexpected 'blocked')\n" },
		{ "td\nparallel now\nend\n",
		  "t.tds:2:10: error: too many arguments for 'parallel' (unexpected 'now')\n" },
	};

	(void)state;
	CHECK_ERRORS(cases);
}

static void test_options(void **state)
{
	static const struct error_case cases[] = {
		{ "td\nvcpu 0 read 0 color=red\n",
		  "t.tds:2:15: error: unknown option 'color' for 'vcpu read'\n" },
		{ "td foo=1\n", "t.tds:1:4: error: unknown option 'foo' for 'td'\n" },
		{ "td\nvcpu 0 write 0 1 expect=1\n",
		  "t.tds:2:18: error: unknown option 'expect' for 'vcpu write'\n" },
		{ "td\nmemslot 0 0 4K fill=1\n",
		  "t.tds:2:16: error: unknown option 'fill' for 'memslot'\n" },
		{ "td\nvcpu 0 read 0 outcome=ok outcome=blocked\n",
		  "t.tds:2:26: error: duplicate option 'outcome'\n" },
		{ "td gpaw=48 gpaw=52\n",
		  "t.tds:1:12: error: duplicate option 'gpaw'\n" },
		{ "td\nvcpu 0 read 0 outcome=ok blocked\n",
		  "t.tds:2:26: error: malformed option 'blocked' (options are key=value)\n" },
		{ "td\nvcpu 0 read 0 =5\n",
		  "t.tds:2:15: error: malformed option '=5' (no key before '=')\n" },
		{ "td\nvcpu 0 read 0 outcome=\n",
		  "t.tds:2:23: error: missing value for option 'outcome'\n" },
	};

	(void)state;
	CHECK_ERRORS(cases);
}

static void test_option_values(void **state)
{
	static const struct error_case cases[] = {
		{ "td\nvcpu 0 read 0 outcome=crash\n",
		  "t.tds:2:23: error: unknown outcome 'crash' (ok, blocked, ve, poison, mmio, error, bugged or dead)\n" },
		{ "td\nvcpu 0 read 0 outcome=OK\n",
		  "t.tds:2:23: error: unknown outcome 'OK' (ok, blocked, ve, poison, mmio, error, bugged or dead); did you mean 'ok'?\n" },
		{ "td\nseamcall TDH.MEM.TRACK expect=TDX_NOPE\n",
		  "t.tds:2:31: error: unknown status 'TDX_NOPE'\n" },
		{ "td\nvcpu 0 accept 0 expect=SUCCESS\n",
		  "t.tds:2:24: error: unknown status 'SUCCESS'; did you mean 'TDX_SUCCESS'?\n" },
		{ "td\nexpect-spte 0 private=mapped\n",
		  "t.tds:2:23: error: unknown SPTE state 'mapped' (nonpresent, present, nonpresent|shared, present|shared, zapped or frozen); did you mean 'zapped'?\n" },
		{ "td\nexpect-spte 0 private=present shared=shared\n",
		  "t.tds:2:38: error: unknown SPTE state 'shared' (nonpresent, present, nonpresent|shared, present|shared, zapped or frozen)\n" },
		{ "td\nexpect-sept 0 ACCEPTED\n",
		  "t.tds:2:15: error: unknown S-EPT state 'ACCEPTED' (FREE, MAPPED, PENDING, BLOCKED, PENDING_BLOCKED, NL_MAPPED or NL_BLOCKED)\n" },
		{ "td\nexpect-sept 0 mapped\n",
		  "t.tds:2:15: error: unknown S-EPT state 'mapped' (FREE, MAPPED, PENDING, BLOCKED, PENDING_BLOCKED, NL_MAPPED or NL_BLOCKED); did you mean 'MAPPED'?\n" },
		{ "td mmu=shadow\n",
		  "t.tds:1:8: error: unknown mmu kind 'shadow' (tdp or legacy)\n" },
		{ "td accept=lazy\n",
		  "t.tds:1:11: error: unknown accept mode 'lazy' (auto or explicit)\n" },
		{ "td\nhost zap 0 4K alias=all\n",
		  "t.tds:2:21: error: unknown alias 'all' (private, shared or both)\n" },
		{ "td\nseamcall TDH.MEM.PAGE.AUG page=old\n",
		  "t.tds:2:32: error: bad page 'old' (new or of:ADDR)\n" },
		{ "td\nseamcall TDH.MEM.PAGE.AUG page=of:\n",
		  "t.tds:2:35: error: malformed number ''\n" },
		{ "td\nseamcall TDH.MEM.PAGE.AUG page=of:bad\n",
		  "t.tds:2:35: error: malformed number 'bad'\n" },
		{ "td\nseamcall TDH.MEM.PAGE.AUG page=of:private:0x800000000000\n",
		  "t.tds:2:43: error: address '0x800000000000' is not below the shared bit (bit 47)\n" },
		{ "td\nseamcall TDH.MEM.SEPT.SMASH\n",
		  "t.tds:2:10: error: unknown SEAMCALL 'TDH.MEM.SEPT.SMASH'\n" },
		{ "td\nseamcall tdh.mem.track\n",
		  "t.tds:2:10: error: unknown SEAMCALL 'tdh.mem.track'; did you mean 'TDH.MEM.TRACK'?\n" },
		{ "td\nseamcall TDH.PHYMEM.PAGE.RECLAIM gpa=0 page=new\n",
		  "t.tds:2:34: error: option 'gpa' does not apply to TDH.PHYMEM.PAGE.RECLAIM (it takes page= only)\n" },
		{ "td\nseamcall TDH.PHYMEM.PAGE.RECLAIM level=4K\n",
		  "t.tds:2:34: error: option 'level' does not apply to TDH.PHYMEM.PAGE.RECLAIM (it takes page= only)\n" },
		{ "td\nseamcall TDH.PHYMEM.PAGE.RECLAIM fill=7\n",
		  "t.tds:2:34: error: option 'fill' does not apply to TDH.PHYMEM.PAGE.RECLAIM (it takes page= only)\n" },
		{ "td\nseamcall TDH.MEM.PAGE.AUG fill=1\n",
		  "t.tds:2:27: error: option 'fill' applies only to TDH.MEM.PAGE.ADD\n" },
	};

	(void)state;
	CHECK_ERRORS(cases);
}

static void test_counters(void **state)
{
	static const struct error_case cases[] = {
		{ "td\nexpect-count fault.private\n",
		  "t.tds:2:14: error: malformed counter 'fault.private' (NAME=N)\n" },
		{ "td\nexpect-count =1\n",
		  "t.tds:2:14: error: malformed counter '=1' (NAME=N)\n" },
		{ "td\nexpect-count a=\n",
		  "t.tds:2:14: error: malformed counter 'a=' (NAME=N)\n" },
		{ "td\nexpect-count seamcall.TDH.MEM.PAGE.SMASH=1\n",
		  "t.tds:2:23: error: unknown SEAMCALL 'TDH.MEM.PAGE.SMASH' in counter name\n" },
		{ "td\nexpect-count fault.private=1 fault.private=2\n",
		  "t.tds:2:30: error: duplicate counter 'fault.private'\n" },
		{ "td\nexpect-count a=1K\n",
		  "t.tds:2:16: error: malformed number '1K': a size suffix is not allowed here\n" },
		{ "td\nexpect-count a=x\n",
		  "t.tds:2:16: error: malformed number 'x'\n" },
	};

	(void)state;
	CHECK_ERRORS(cases);
}

static void test_addresses(void **state)
{
	static const struct error_case cases[] = {
		{ "td\nhost read 0x1000000000000\n",
		  "t.tds:2:11: error: address '0x1000000000000' is outside the TD's 48-bit GPA width\n" },
		{ "td\nhost read 256T\n",
		  "t.tds:2:11: error: address '256T' is outside the TD's 48-bit GPA width\n" },
		{ "td gpaw=52\nhost read 0x10000000000000\n",
		  "t.tds:2:11: error: address '0x10000000000000' is outside the TD's 52-bit GPA width\n" },
		{ "td\nhost read private:0x800000000000\n",
		  "t.tds:2:19: error: address '0x800000000000' is not below the shared bit (bit 47)\n" },
		{ "td\nhost read shared:128T\n",
		  "t.tds:2:18: error: address '128T' is not below the shared bit (bit 47)\n" },
		{ "td gpaw=52\nhost read shared:2048T\n",
		  "t.tds:2:18: error: address '2048T' is not below the shared bit (bit 51)\n" },
		{ "td\nhost read public:0\n",
		  "t.tds:2:11: error: unknown address prefix 'public:' (private: or shared:)\n" },
		{ "td\nhost read private:\n",
		  "t.tds:2:19: error: malformed number ''\n" },
		{ "td\nseamcall TDH.MEM.TRACK gpa=0x1000000000000\n",
		  "t.tds:2:28: error: address '0x1000000000000' is outside the TD's 48-bit GPA width\n" },
		/* Alignment where the language asks for it. */
		{ "td\nmemslot 0 0x800 4K\n",
		  "t.tds:2:11: error: memslot base '0x800' is not 4K-aligned\n" },
		{ "td\nmemslot 0 0 0x1800\n",
		  "t.tds:2:13: error: memslot size '0x1800' is not 4K-aligned\n" },
		{ "td\nmemslot 0 shared:0 4K\n",
		  "t.tds:2:11: error: memslot base 'shared:0' has the shared bit set (a memslot is given without it)\n" },
		{ "td\nvcpu 0 read 0x1004\n",
		  "t.tds:2:13: error: address '0x1004' is not 8-byte aligned\n" },
		{ "td\nvcpu 0 write shared:0x1001 0\n",
		  "t.tds:2:14: error: address 'shared:0x1001' is not 8-byte aligned\n" },
		/* A memslot stays below the shared bit (guest and host ranges
		 * are checked by the model, which answers `error`). */
		{ "td\nmemslot 0 0x7fffffe00000 4M\n",
		  "t.tds:2:26: error: range of size '4M' at 0x7fffffe00000 crosses the shared bit (bit 47)\n" },
	};

	(void)state;
	CHECK_ERRORS(cases);
}

static void test_structure(void **state)
{
	static const struct error_case cases[] = {
		{ "memslot 0 0 4K\ntd\n",
		  "t.tds:1:1: error: 'memslot' before 'td' (the first command must be 'td')\n" },
		{ "# comment\n\n  vcpu 0 read 0\n",
		  "t.tds:3:3: error: 'vcpu' before 'td' (the first command must be 'td')\n" },
		{ "# hi\n\n  td\ntd\n",
		  "t.tds:4:1: error: a second 'td' (the TD was created on line 3)\n" },
		{ "td\ndestroy\ncheck\n",
		  "t.tds:3:1: error: 'check' after 'destroy' (line 2): the TD no longer exists\n" },
		{ "td\ndestroy\ntd\n",
		  "t.tds:3:1: error: 'td' after 'destroy' (line 2): the TD no longer exists\n" },
		{ "td\ndestroy\ndestroy\n",
		  "t.tds:3:1: error: 'destroy' after 'destroy' (line 2): the TD no longer exists\n" },
		{ "td\nparallel\nvcpu 0 read 0\n",
		  "t.tds:2:1: error: 'parallel' without 'end'\n" },
		{ "td\nend\n", "t.tds:2:1: error: 'end' without 'parallel'\n" },
		{ "td\nparallel\nend\nend\n",
		  "t.tds:4:1: error: 'end' without 'parallel'\n" },
		{ "td\nparallel\nparallel\nend\n",
		  "t.tds:3:1: error: nested 'parallel' (the block opened on line 2 has no 'end' yet)\n" },
		{ "td\nparallel\nend now\n",
		  "t.tds:3:5: error: too many arguments for 'end' (unexpected 'now')\n" },
		{ "", "t.tds:1:1: error: no 'td' command (a scenario starts with 'td')\n" },
		{ "# only a comment\n\n",
		  "t.tds:1:1: error: no 'td' command (a scenario starts with 'td')\n" },
	};
	/* Only vcpu, host and (1.1) seamcall lines may be inside a parallel
	 * block. */
	static const char *const forbidden[] = {
		"td", "destroy", "finalize", "memslot 0 0 4K", "add 0",
		"expect-sept 0 FREE", "expect-spte 0",
		"expect-count a=1", "check", "expect-vm alive", "inject off",
		"inject busy=1", "show 0", "counters",
	};

	(void)state;
	CHECK_ERRORS(cases);
	for (size_t i = 0; i < sizeof(forbidden) / sizeof(forbidden[0]); i++) {
		char text[128], msg[256], word[32];
		struct error_case c = { text, msg };

		sscanf(forbidden[i], "%31s", word);
		snprintf(text, sizeof(text), "td vcpus=2\nparallel\n  vcpu 1 read 0\n  %s\nend\n",
			 forbidden[i]);
		snprintf(msg, sizeof(msg),
			 "t.tds:4:3: error: '%s' is not allowed inside 'parallel' (only 'vcpu', 'host' and 'seamcall' lines)\n",
			 word);
		check_errors(&c, 1);
	}
}

static void test_bytes(void **state)
{
	static const struct error_case cases[] = {
		{ "td\ncheck\x01\n",
		  "t.tds:2:6: error: invalid byte 0x01 (tokens are printable ASCII)\n" },
		{ "td\nch\xc3\xa9" "ck\n",
		  "t.tds:2:3: error: invalid byte 0xc3 (tokens are printable ASCII)\n" },
		{ "td\n\x0b" "check\n",
		  "t.tds:2:1: error: invalid byte 0x0b (tokens are printable ASCII)\n" },
		{ "td\ncheck\x7f\n",
		  "t.tds:2:6: error: invalid byte 0x7f (tokens are printable ASCII)\n" },
	};

	(void)state;
	CHECK_ERRORS(cases);
}

/* Lines and tokens of any length; long tokens are shortened in messages. */
static void test_long_lines(void **state)
{
	size_t n = 100000;
	char *text = malloc(n + 16);
	char want[256];
	struct capture c;

	(void)state;
	memcpy(text, "td\n", 3);
	memset(text + 3, ' ', n);
	strcpy(text + 3 + n, "frob\n");
	run_string(text, &c);
	snprintf(want, sizeof(want), "t.tds:2:%zu: error: unknown command 'frob'\n",
		 n + 1);
	assert_string_equal(c.err, want);
	capture_free(&c);

	memset(text + 3, 'x', n);
	strcpy(text + 3 + n, "\n");
	run_string(text, &c);
	assert_int_equal(c.status, 2);
	assert_true(strncmp(c.err, "t.tds:2:1: error: unknown command 'xxxx", 39) == 0);
	assert_non_null(strstr(c.err, "x...'\n"));
	assert_true(strlen(c.err) < 120);
	capture_free(&c);
	free(text);
}

static void write_file(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
}

static int run_path(const char *path, struct capture *c)
{
	FILE *out = open_memstream(&c->out, &c->out_len);
	FILE *err = open_memstream(&c->err, &c->err_len);
	struct tdxmmu_run_options o = { .out = out, .err = err };

	c->status = tdxmmu_run_file(path, &o);
	fclose(out);
	fclose(err);
	return c->status;
}

static void test_run_file(void **state)
{
	static const char nul[] = "td\nche\0ck\n";
	char path[] = "/tmp/test_scenario_parse_XXXXXX";
	char want[256];
	struct capture c;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);

	/* A NUL byte is an error, not the end of the script. */
	write_file(path, nul, sizeof(nul) - 1);
	assert_int_equal(run_path(path, &c), 2);
	snprintf(want, sizeof(want), "%s:2:4: error: NUL byte in the script\n", path);
	assert_string_equal(c.err, want);
	capture_free(&c);

	/* Even in a comment. */
	write_file(path, "td # a\0b\n", 9);
	assert_int_equal(run_path(path, &c), 2);
	snprintf(want, sizeof(want), "%s:1:7: error: NUL byte in the script\n", path);
	assert_string_equal(c.err, want);
	capture_free(&c);

	/* The last line needs no newline. */
	write_file(path, "td\nfinalize x", 13);
	assert_int_equal(run_path(path, &c), 2);
	snprintf(want, sizeof(want),
		 "%s:2:10: error: too many arguments for 'finalize' (unexpected 'x')\n",
		 path);
	assert_string_equal(c.err, want);
	capture_free(&c);

	unlink(path);
	assert_int_equal(run_path(path, &c), 2);
	snprintf(want, sizeof(want),
		 "%s: error: cannot read: No such file or directory\n", path);
	assert_string_equal(c.err, want);
	capture_free(&c);

	assert_int_equal(run_path("/", &c), 2);
	assert_string_equal(c.err, "/: error: cannot read: Is a directory\n");
	capture_free(&c);
}

/* ---- the parsed form ------------------------------------------------- */

static void parse_ok(const char *text, struct scn_script *s)
{
	struct scn_error err;
	int rc = scn_parse(text, strlen(text), s, &err);

	if (rc)
		print_error("%zu:%zu: %s\n", err.line, err.col, err.msg);
	assert_int_equal(rc, 0);
}

static void test_td_options(void **state)
{
	struct scn_script s;
	const struct scn_cmd *c;

	(void)state;
	parse_ok("td\n", &s);
	c = &s.cmds[0];
	assert_int_equal(c->op, SCN_OP_TD);
	assert_int_equal(c->td.mmu, TDXMMU_MMU_TDP);
	assert_int_equal(c->td.gpaw, 48);
	assert_int_equal(c->td.vcpus, 1);
	assert_int_equal(c->td.accept, TDXMMU_ACCEPT_AUTO);
	assert_int_equal(c->td.seed, 1);
	assert_false(c->has & SCN_HAS_MEMORY);
	scn_script_free(&s);

	parse_ok("td mmu=legacy gpaw=52 vcpus=64 accept=explicit seed=0x2a memory=1G\n",
		 &s);
	c = &s.cmds[0];
	assert_int_equal(c->td.mmu, TDXMMU_MMU_LEGACY);
	assert_int_equal(c->td.gpaw, 52);
	assert_int_equal(c->td.vcpus, 64);
	assert_int_equal(c->td.accept, TDXMMU_ACCEPT_EXPLICIT);
	assert_int_equal(c->td.seed, 42);
	assert_true(c->has & SCN_HAS_MEMORY);
	assert_int_equal(c->td.memory, 1ULL << 30);
	assert_int_equal(s.gpaw, 52);
	assert_int_equal(s.vcpus, 64);
	scn_script_free(&s);
}

static void test_numbers(void **state)
{
	struct scn_script s;

	(void)state;
	parse_ok("td\n"
		 "memslot 7 2M 0x10K\n"
		 "memslot 0X10 0x0 4096\n"
		 "vcpu 0 write 0 18446744073709551615\n"
		 "vcpu 0 write 8 0xFFFFFFFFFFFFFFFF\n"
		 "vcpu 0 fill 0 1T 0xff\n"
		 "vcpu 0 read 0 expect=010\n"
		 "host zap shared:0 0x1fffffffffK\n",
		 &s);
	assert_int_equal(s.nr, 8);
	assert_int_equal(s.cmds[1].id, 7);
	assert_int_equal(s.cmds[1].gpa, 0x200000);
	assert_int_equal(s.cmds[1].size, 0x4000);
	assert_int_equal(s.cmds[2].id, 16);
	assert_int_equal(s.cmds[2].size, 4096);
	assert_int_equal(s.cmds[3].value, UINT64_MAX);
	assert_int_equal(s.cmds[4].value, UINT64_MAX);
	assert_int_equal(s.cmds[5].size, 1ULL << 40);
	assert_int_equal(s.cmds[5].byte, 0xff);
	/* A leading zero is still decimal. */
	assert_int_equal(s.cmds[6].expect, 10);
	assert_int_equal(s.cmds[7].size, 0x1fffffffffULL << 10);
	scn_script_free(&s);
}

static void test_address_forms(void **state)
{
	struct scn_script s;

	(void)state;
	parse_ok("td\n"
		 "host read private:0x1000\n"
		 "host read shared:0x1000\n"
		 "host read shared:2M\n"
		 "host read 0x800000001000\n"
		 "host read 0xffffffffffff\n"
		 "host read private:0x7fffffffffff\n"
		 "host read shared:0\n",
		 &s);
	assert_int_equal(s.cmds[1].gpa, 0x1000);
	assert_int_equal(s.cmds[2].gpa, 0x800000001000ULL);
	assert_int_equal(s.cmds[3].gpa, (1ULL << 47) | 0x200000);
	assert_int_equal(s.cmds[4].gpa, 0x800000001000ULL);
	assert_int_equal(s.cmds[5].gpa, 0xffffffffffffULL);
	assert_int_equal(s.cmds[6].gpa, 0x7fffffffffffULL);
	assert_int_equal(s.cmds[7].gpa, 1ULL << 47);
	scn_script_free(&s);

	parse_ok("td gpaw=52\n"
		 "host read private:0x1000\n"
		 "host read shared:0x1000\n"
		 "host read 0x800000000000\n"
		 "host read private:0x800000000000\n"
		 "host read shared:2M\n"
		 "host read 0xffffffffffff8\n",
		 &s);
	assert_int_equal(s.cmds[1].gpa, 0x1000);
	assert_int_equal(s.cmds[2].gpa, 0x8000000001000ULL);
	assert_int_equal(s.cmds[3].gpa, 0x800000000000ULL);
	assert_int_equal(s.cmds[4].gpa, 0x800000000000ULL);
	assert_int_equal(s.cmds[5].gpa, (1ULL << 51) | 0x200000);
	assert_int_equal(s.cmds[6].gpa, 0xffffffffffff8ULL);
	scn_script_free(&s);
}

static void test_levels_and_states(void **state)
{
	static const char *const names[] = { "4K", "2M", "1G", "512G", "256T" };
	struct scn_script s;
	char text[128];

	(void)state;
	for (unsigned i = 0; i < 5; i++) {
		snprintf(text, sizeof(text), "td gpaw=52\nexpect-sept 0 NL_MAPPED level=%s\n",
			 names[i]);
		parse_ok(text, &s);
		assert_int_equal(s.cmds[1].level, i);
		assert_true(s.cmds[1].has & SCN_HAS_LEVEL);
		assert_int_equal(s.cmds[1].sept, TDXMMU_SEPT_NL_MAPPED);
		assert_string_equal(scn_level_name(i), names[i]);
		scn_script_free(&s);
	}
	parse_ok("td\n"
		 "expect-sept private:0 PENDING_BLOCKED\n"
		 "vcpu 0 accept 0 level=2M\n"
		 "vcpu 0 accept 0 expect=TDX_PAGE_ALREADY_ACCEPTED\n"
		 "expect-spte 0x1000 private=nonpresent|shared shared=present|shared\n"
		 "expect-spte 0x1000 shared=zapped\n"
		 "host zap 0 2M alias=shared\n"
		 "host zap 0 2M\n"
		 "vcpu 0 mapgpa shared:0 2M outcome=error\n",
		 &s);
	assert_int_equal(s.cmds[1].sept, TDXMMU_SEPT_PENDING_BLOCKED);
	assert_int_equal(s.cmds[1].level, 0);
	assert_false(s.cmds[1].has & SCN_HAS_LEVEL);
	assert_int_equal(s.cmds[2].level, 1);
	assert_true(s.cmds[3].has & SCN_HAS_EXPECT);
	assert_int_equal(s.cmds[3].expect, 0x00000B0A00000000ULL);
	assert_int_equal(s.cmds[4].spte_private, TDXMMU_SPTE_NONPRESENT_SHARED);
	assert_int_equal(s.cmds[4].spte_shared, TDXMMU_SPTE_PRESENT_SHARED);
	assert_int_equal(s.cmds[4].has & (SCN_HAS_PRIVATE | SCN_HAS_SHARED),
			 SCN_HAS_PRIVATE | SCN_HAS_SHARED);
	assert_int_equal(s.cmds[5].has & (SCN_HAS_PRIVATE | SCN_HAS_SHARED),
			 SCN_HAS_SHARED);
	assert_int_equal(s.cmds[5].spte_shared, TDXMMU_SPTE_ZAPPED);
	assert_int_equal(s.cmds[6].alias, TDXMMU_ALIAS_SHARED);
	assert_int_equal(s.cmds[7].alias, TDXMMU_ALIAS_BOTH);
	assert_int_equal(s.cmds[8].outcomes, SCN_OUTCOME_BIT(TDXMMU_OUTCOME_ERROR));
	assert_true(s.cmds[8].has & SCN_HAS_OUTCOME);
	assert_int_equal(s.cmds[8].gpa, 1ULL << 47);
	assert_int_equal(s.cmds[8].size, 2 << 20);
	scn_script_free(&s);
}

static void test_seamcall(void **state)
{
	struct scn_script s;
	const struct scn_cmd *c;

	(void)state;
	parse_ok("td\n"
		 "seamcall   TDH.MEM.SEPT.ADD\tgpa=1G level=1G page=new   # c\n"
		 "seamcall TDH.MEM.PAGE.ADD gpa=private:0x2000 page=of:shared:4K fill=0x5a expect=TDX_OPERAND_BUSY\n"
		 "seamcall TDH.PHYMEM.PAGE.RECLAIM page=of:0x1000\n"
		 "seamcall TDH.MEM.TRACK\n",
		 &s);
	c = &s.cmds[1];
	assert_int_equal(c->op, SCN_OP_SEAMCALL);
	assert_int_equal(c->leaf, tdxmmu_leaf_from_name("TDH.MEM.SEPT.ADD"));
	assert_int_equal(c->gpa, 1ULL << 30);
	assert_int_equal(c->level, 2);
	assert_int_equal(c->page, SCN_PAGE_NEW);
	assert_false(c->has & SCN_HAS_EXPECT);
	/* The echoed text: tokens one space apart, no comment; the head ends
	 * at the last positional argument. */
	assert_string_equal(c->text, "seamcall TDH.MEM.SEPT.ADD gpa=1G level=1G page=new");
	assert_int_equal(c->head_len, strlen("seamcall TDH.MEM.SEPT.ADD"));
	assert_string_equal(c->name, "seamcall");
	assert_int_equal(c->line, 2);
	assert_int_equal(c->col, 1);

	c = &s.cmds[2];
	assert_int_equal(c->leaf, 2);
	assert_int_equal(c->gpa, 0x2000);
	assert_int_equal(c->page, SCN_PAGE_OF);
	assert_int_equal(c->page_gpa, (1ULL << 47) | 0x1000);
	assert_int_equal(c->byte, 0x5a);
	assert_true(c->has & SCN_HAS_EXPECT);
	assert_int_equal(c->expect, 0x8000020000000000ULL);

	c = &s.cmds[3];
	assert_int_equal(c->leaf, 28);
	assert_int_equal(c->page_gpa, 0x1000);
	c = &s.cmds[4];
	assert_int_equal(c->page, SCN_PAGE_NONE);
	assert_false(c->has & SCN_HAS_GPA);
	scn_script_free(&s);
}

static void test_commands(void **state)
{
	struct scn_script s;
	const struct scn_cmd *c;

	(void)state;
	/* CRLF line ends, tabs, comments anywhere, a last line without \n,
	 * and a comment may hold any non-NUL byte. */
	parse_ok("td vcpus=3 # caf\xc3\xa9\r\n"
		 "\tmemslot 1 0 16M#no space needed\r\n"
		 "add private:0x1000 fill=0x22\n"
		 "finalize\n"
		 "vcpu 2 verify shared:0 4K 0x11 outcome=blocked\n"
		 "host read 0 expect=0 expect-not=0x2222\n"
		 "host write 8 0x77\n"
		 "host invalidate 12M 4M\n"
		 "host delete-memslot 1\n"
		 "expect-count seamcall.TDH.MEM.PAGE.AUG=1 fault.private=0x10\n"
		 "check\n"
		 "destroy",
		 &s);
	assert_int_equal(s.nr, 12);
	assert_int_equal(s.cmds[1].op, SCN_OP_MEMSLOT);
	assert_int_equal(s.cmds[1].col, 2);
	assert_int_equal(s.cmds[1].size, 16 << 20);
	assert_string_equal(s.cmds[1].text, "memslot 1 0 16M");
	c = &s.cmds[2];
	assert_int_equal(c->op, SCN_OP_ADD);
	assert_int_equal(c->byte, 0x22);
	assert_true(c->has & SCN_HAS_FILL);
	c = &s.cmds[4];
	assert_int_equal(c->op, SCN_OP_VCPU_VERIFY);
	assert_int_equal(c->vcpu, 2);
	assert_int_equal(c->byte, 0x11);
	assert_int_equal(c->outcomes, SCN_OUTCOME_BIT(TDXMMU_OUTCOME_BLOCKED));
	assert_string_equal(c->name, "vcpu verify");
	assert_int_equal(c->head_len, strlen("vcpu 2 verify shared:0 4K 0x11"));
	c = &s.cmds[5];
	assert_int_equal(c->expect, 0);
	assert_int_equal(c->expect_not, 0x2222);
	assert_int_equal(c->has & (SCN_HAS_EXPECT | SCN_HAS_EXPECT_NOT),
			 SCN_HAS_EXPECT | SCN_HAS_EXPECT_NOT);
	assert_int_equal(s.cmds[6].value, 0x77);
	assert_int_equal(s.cmds[8].op, SCN_OP_HOST_DELETE_MEMSLOT);
	assert_int_equal(s.cmds[8].id, 1);
	c = &s.cmds[9];
	assert_int_equal(c->nr_counters, 2);
	assert_string_equal(c->counters[0].name, "seamcall.TDH.MEM.PAGE.AUG");
	assert_int_equal(c->counters[0].value, 1);
	assert_string_equal(c->counters[1].name, "fault.private");
	assert_int_equal(c->counters[1].value, 16);
	assert_int_equal(s.cmds[10].op, SCN_OP_CHECK);
	assert_int_equal(s.cmds[11].op, SCN_OP_DESTROY);
	assert_int_equal(s.cmds[11].line, 12);
	scn_script_free(&s);
}

static void test_parallel_lanes(void **state)
{
	struct scn_script s;
	const struct scn_block *b;

	(void)state;
	parse_ok("td vcpus=4\n"
		 "memslot 0 0 16M\n"
		 "parallel\n"
		 "  vcpu 2 fill private:0 4M 0x11\n"
		 "  host invalidate 12M 4M\n"
		 "  vcpu 0 mapgpa shared:8M 4M\n"
		 "  vcpu 2 verify private:0 4M 0x11\n"
		 "  host zap 0 2M alias=private\n"
		 "end\n"
		 "parallel\n"
		 "end\n"
		 "check\n",
		 &s);
	assert_int_equal(s.nr, 5);
	assert_int_equal(s.cmds[2].op, SCN_OP_PARALLEL);
	assert_int_equal(s.cmds[2].line, 3);
	b = s.cmds[2].block;
	assert_non_null(b);
	assert_int_equal(b->nr, 5);
	assert_int_equal(b->end_line, 9);
	assert_int_equal(b->cmds[0].op, SCN_OP_VCPU_FILL);
	assert_int_equal(b->cmds[0].line, 4);
	/* vCPU lanes by index, then the host's; each in source order. */
	assert_int_equal(b->nr_lanes, 3);
	assert_int_equal(b->lanes[0].vcpu, 0);
	assert_int_equal(b->lanes[0].nr, 1);
	assert_int_equal(b->lanes[0].idx[0], 2);
	assert_int_equal(b->lanes[1].vcpu, 2);
	assert_int_equal(b->lanes[1].nr, 2);
	assert_int_equal(b->lanes[1].idx[0], 0);
	assert_int_equal(b->lanes[1].idx[1], 3);
	assert_int_equal(b->lanes[2].vcpu, SCN_LANE_HOST);
	assert_int_equal(b->lanes[2].nr, 2);
	assert_int_equal(b->lanes[2].idx[0], 1);
	assert_int_equal(b->lanes[2].idx[1], 4);
	/* An empty block is allowed. */
	assert_int_equal(s.cmds[3].op, SCN_OP_PARALLEL);
	assert_int_equal(s.cmds[3].block->nr, 0);
	assert_int_equal(s.cmds[3].block->nr_lanes, 0);
	assert_int_equal(s.cmds[4].op, SCN_OP_CHECK);
	scn_script_free(&s);
}

/* A failed parse leaves nothing allocated (checked under ASan/valgrind)
 * and the error where the public API would report it. */
static void test_parse_failure_frees(void **state)
{
	static const char text[] = "td vcpus=2\nparallel\n vcpu 1 read 0\n host read 0\n";
	struct scn_script s;
	struct scn_error err;

	(void)state;
	assert_int_equal(scn_parse(text, strlen(text), &s, &err), -1);
	assert_int_equal(err.line, 2);
	assert_int_equal(err.col, 1);
	assert_string_equal(err.msg, "'parallel' without 'end'");
	assert_null(s.cmds);
	assert_int_equal(s.nr, 0);

	assert_int_equal(scn_parse("td\nexpect-count a=1 b=2 a=3\n", 26, &s, &err), -1);
	assert_int_equal(err.col, 22);
}

/* ---- contract 1.1 ----------------------------------------------------- */

static void test_v11_errors(void **state)
{
	static const struct error_case cases[] = {
		/* Memslot IDs: 32 bits, no more. */
		{ "td\nmemslot 0x100000000 0 4K\n",
		  "t.tds:2:9: error: memslot id '0x100000000' out of range (more than 32 bits)\n" },
		/* Zero sizes, at the size. */
		{ "td\nvcpu 0 fill 0 0 1\n",
		  "t.tds:2:15: error: size '0' out of range (an empty range)\n" },
		{ "td\nvcpu 0 verify 0 0x0 1\n",
		  "t.tds:2:17: error: size '0x0' out of range (an empty range)\n" },
		{ "td\nvcpu 0 mapgpa shared:0 0K\n",
		  "t.tds:2:24: error: size '0K' out of range (an empty range)\n" },
		{ "td\nhost invalidate 0 0\n",
		  "t.tds:2:19: error: size '0' out of range (an empty range)\n" },
		{ "td\nhost zap 0 0 alias=shared\n",
		  "t.tds:2:12: error: size '0' out of range (an empty range)\n" },
		{ "td\nshow 0 0\n",
		  "t.tds:2:8: error: size '0' out of range (an empty range)\n" },
		/* outcome=A|B */
		{ "td\nvcpu 0 read 0 outcome=ok|crash\n",
		  "t.tds:2:26: error: unknown outcome 'crash' (ok, blocked, ve, poison, mmio, error, bugged or dead)\n" },
		{ "td\nvcpu 0 read 0 outcome=ok|\n",
		  "t.tds:2:26: error: empty alternative in outcome 'ok|' (A|B)\n" },
		{ "td\nvcpu 0 read 0 outcome=|ok\n",
		  "t.tds:2:23: error: empty alternative in outcome '|ok' (A|B)\n" },
		{ "td\nvcpu 0 read 0 outcome=ok|blocked|ok\n",
		  "t.tds:2:34: error: outcome 'ok' named twice\n" },
		{ "td\nfinalize outcome=alive\n",
		  "t.tds:2:18: error: unknown outcome 'alive' (ok, blocked, ve, poison, mmio, error, bugged or dead)\n" },
		/* outcome= is not on every command. */
		{ "td\nhost write 0 1 outcome=ok\n",
		  "t.tds:2:16: error: unknown option 'outcome' for 'host write'\n" },
		{ "td\ndestroy outcome=ok\n",
		  "t.tds:2:9: error: unknown option 'outcome' for 'destroy'\n" },
		/* expect-vm */
		{ "td\nexpect-vm\n",
		  "t.tds:2:10: error: missing argument alive|dead for 'expect-vm'\n" },
		{ "td\nexpect-vm bugged\n",
		  "t.tds:2:11: error: unknown VM state 'bugged' (alive or dead)\n" },
		{ "td\nexpect-vm dead alive\n",
		  "t.tds:2:16: error: too many arguments for 'expect-vm' (unexpected 'alive')\n" },
		/* td options */
		{ "td sept-ve-disable=yes\n",
		  "t.tds:1:20: error: unknown sept-ve-disable value 'yes' (on or off)\n" },
		{ "td mapgpa=kvm\n",
		  "t.tds:1:11: error: unknown mapgpa mode 'kvm' (seed or upstream)\n" },
		{ "td memory=0x\n",
		  "t.tds:1:11: error: malformed number '0x'\n" },
		/* inject */
		{ "td\ninject\n",
		  "t.tds:2:7: error: missing argument busy=P, enomem=P, status=NAME or off for 'inject'\n" },
		{ "td\ninject on\n",
		  "t.tds:2:8: error: unknown word 'on' for 'inject' (busy=P, enomem=P, status=NAME or off)\n" },
		{ "td\ninject off busy=1\n",
		  "t.tds:2:12: error: too many arguments for 'inject off' (unexpected 'busy=1')\n" },
		{ "td\ninject leaf=TDH.MEM.TRACK\n",
		  "t.tds:2:26: error: missing argument busy=P or enomem=P for 'inject'\n" },
		{ "td\ninject busy=1 enomem=2\n",
		  "t.tds:2:15: error: 'busy=' and 'enomem=' cannot be combined (one 'inject' line each)\n" },
		{ "td\ninject enomem=2 busy=1\n",
		  "t.tds:2:17: error: 'busy=' and 'enomem=' cannot be combined (one 'inject' line each)\n" },
		{ "td\ninject enomem=2 leaf=TDH.MEM.TRACK\n",
		  "t.tds:2:17: error: option 'leaf' applies only to 'inject busy=', 'inject busy-at=' and 'inject status='\n" },
		{ "td\ninject site=pt busy=1\n",
		  "t.tds:2:8: error: option 'site' applies only to 'inject enomem=' and 'inject enomem-at='\n" },
		{ "td\ninject busy=1 leaf=TDH.MEM.JUMP\n",
		  "t.tds:2:20: error: unknown SEAMCALL 'TDH.MEM.JUMP'\n" },
		{ "td\ninject enomem=1 site=heap\n",
		  "t.tds:2:22: error: unknown allocation site 'heap' (pt, sept, frame, rmap, shadow, arena or nomirror)\n" },
		/* The countdown words (this implementation's additions). */
		{ "td\ninject enomem-at=0\n",
		  "t.tds:2:18: error: the countdown starts at 1 (the next event), not 0\n" },
		{ "td\ninject busy-at=x\n",
		  "t.tds:2:16: error: malformed number 'x'\n" },
		{ "td\ninject busy-at=2 enomem-at=1\n",
		  "t.tds:2:18: error: 'busy-at=' and 'enomem-at=' cannot be combined (one 'inject' line each)\n" },
		{ "td\ninject enomem=5 mode=once\n",
		  "t.tds:2:17: error: option 'mode' applies only to 'inject busy-at=', 'inject enomem-at=' and 'inject status='\n" },
		{ "td\ninject busy-at=1 mode=forever\n",
		  "t.tds:2:23: error: unknown mode 'forever' (once or persistent)\n" },
		{ "td\ninject busy-at=1 site=rmap\n",
		  "t.tds:2:18: error: option 'site' applies only to 'inject enomem=' and 'inject enomem-at='\n" },
		{ "td\ninject enomem-at=1 site=all\n",
		  "t.tds:2:25: error: unknown allocation site 'all' (pt, sept, frame, rmap, shadow, arena or nomirror)\n" },
		/* inject status= (this implementation's addition). */
		{ "td\ninject status=TDX_SUCCESS\n",
		  "t.tds:2:15: error: status 'TDX_SUCCESS' is not an error (a module refusing a call answers an error)\n" },
		{ "td\ninject status=TDX_PAGE_ALREADY_ACCEPTED\n",
		  "t.tds:2:15: error: status 'TDX_PAGE_ALREADY_ACCEPTED' is not an error (a module refusing a call answers an error)\n" },
		{ "td\ninject status=TDX_OPERAND_INVALD\n",
		  "t.tds:2:15: error: unknown status 'TDX_OPERAND_INVALD'; did you mean 'TDX_OPERAND_INVALID'?\n" },
		{ "td\ninject status=TDX_OPERAND_INVALID at=0\n",
		  "t.tds:2:38: error: the countdown starts at 1 (the next event), not 0\n" },
		{ "td\ninject status=TDX_OPERAND_INVALID at=1 share=5\n",
		  "t.tds:2:40: error: 'at=' and 'share=' cannot be combined (a countdown or a share)\n" },
		{ "td\ninject status=TDX_OPERAND_INVALID share=5 mode=once\n",
		  "t.tds:2:43: error: option 'mode' applies only to a countdown, not to 'share='\n" },
		{ "td\ninject busy=5 at=2\n",
		  "t.tds:2:15: error: option 'at' applies only to 'inject status='\n" },
		{ "td\ninject enomem=5 share=2\n",
		  "t.tds:2:17: error: option 'share' applies only to 'inject status='\n" },
		{ "td\ninject status=TDX_OPERAND_INVALID busy-at=1\n",
		  "t.tds:2:35: error: 'busy-at=' and 'status=' cannot be combined (one 'inject' line each)\n" },
		{ "td\ninject status=TDX_OPERAND_INVALID site=pt\n",
		  "t.tds:2:35: error: option 'site' applies only to 'inject enomem=' and 'inject enomem-at='\n" },
		{ "td\ninject status=TDX_OPERAND_INVALID share=101\n",
		  "t.tds:2:41: error: percentage '101' out of range (0 to 100)\n" },
		{ "td\ninject busy=1 busy=2\n",
		  "t.tds:2:15: error: duplicate option 'busy'\n" },
		{ "td\ninject busy=\n",
		  "t.tds:2:13: error: missing value for option 'busy'\n" },
		/* P: 0..100, at most 1 ppm of precision, decimal only. */
		{ "td\ninject busy=100.0001\n",
		  "t.tds:2:13: error: percentage '100.0001' out of range (0 to 100)\n" },
		{ "td\ninject busy=101\n",
		  "t.tds:2:13: error: percentage '101' out of range (0 to 100)\n" },
		{ "td\ninject busy=99999999999999999999999\n",
		  "t.tds:2:13: error: percentage '99999999999999999999999' out of range (0 to 100)\n" },
		{ "td\ninject busy=0.00001\n",
		  "t.tds:2:13: error: percentage '0.00001' is more precise than 0.0001 (1 part per million)\n" },
		{ "td\ninject enomem=12.34567\n",
		  "t.tds:2:15: error: percentage '12.34567' is more precise than 0.0001 (1 part per million)\n" },
		{ "td\ninject busy=-1\n",
		  "t.tds:2:13: error: malformed percentage '-1' (0 to 100, decimals allowed)\n" },
		{ "td\ninject busy=0x10\n",
		  "t.tds:2:13: error: malformed percentage '0x10' (0 to 100, decimals allowed)\n" },
		{ "td\ninject busy=5%\n",
		  "t.tds:2:13: error: malformed percentage '5%' (0 to 100, decimals allowed)\n" },
		{ "td\ninject busy=1.\n",
		  "t.tds:2:13: error: malformed percentage '1.' (0 to 100, decimals allowed)\n" },
		{ "td\ninject busy=.5\n",
		  "t.tds:2:13: error: malformed percentage '.5' (0 to 100, decimals allowed)\n" },
		{ "td\ninject busy=1.2.3\n",
		  "t.tds:2:13: error: malformed percentage '1.2.3' (0 to 100, decimals allowed)\n" },
		{ "td\ninject busy=.\n",
		  "t.tds:2:13: error: malformed percentage '.' (0 to 100, decimals allowed)\n" },
		/* enter / leave */
		{ "td\nvcpu 0 enter 0\n",
		  "t.tds:2:14: error: too many arguments for 'vcpu enter' (unexpected '0')\n" },
		{ "td vcpus=2\nvcpu 2 leave\n",
		  "t.tds:2:6: error: vcpu '2' out of range (the TD has 2 vcpus)\n" },
		/* show */
		{ "td\nshow\n",
		  "t.tds:2:5: error: missing argument ADDR for 'show'\n" },
		{ "td\nshow 0 4K 4K\n",
		  "t.tds:2:11: error: too many arguments for 'show' (unexpected '4K')\n" },
		{ "td\nshow 0x7ffffffff000 8K\n",
		  "t.tds:2:21: error: range of size '8K' at 0x7ffffffff000 crosses the shared bit (bit 47)\n" },
		{ "td\nshow shared:0x7ffffffff000 8K\n",
		  "t.tds:2:28: error: range of size '8K' at 0xfffffffff000 goes beyond the TD's 48-bit GPA width\n" },
		{ "td\nshow 0 4K level=2M\n",
		  "t.tds:2:11: error: unknown option 'level' for 'show'\n" },
		/* expect-spte level=: within the TD's walk */
		{ "td\nexpect-spte 0 level=256T\n",
		  "t.tds:2:21: error: level '256T' out of range (the TD's 48-bit GPA walk has levels 4K to 512G)\n" },
		{ "td\nexpect-spte 0 level=8K\n",
		  "t.tds:2:21: error: unknown level '8K' (4K, 2M, 1G, 512G or 256T); did you mean '4K'?\n" },
		/* Inside parallel: seamcall is allowed, inject and show not. */
		{ "td\nparallel\n  inject off\nend\n",
		  "t.tds:3:3: error: 'inject' is not allowed inside 'parallel' (only 'vcpu', 'host' and 'seamcall' lines)\n" },
	};

	(void)state;
	CHECK_ERRORS(cases);
}

/* This implementation's countdown words (docs/scenario-language.md, own
 * words): inject busy-at=N [leaf=] [mode=], inject enomem-at=N [site=]
 * [mode=], and the sites beyond the contract's three. */
static void test_inject_countdown_words(void **state)
{
	struct scn_script s;
	const struct scn_cmd *c;

	(void)state;
	parse_ok("td\n"
		 "inject busy-at=3 leaf=TDH.MEM.PAGE.REMOVE\n"
		 "inject busy-at=0x10 mode=persistent\n"
		 "inject enomem-at=7 site=rmap mode=once\n"
		 "inject enomem-at=1 site=arena mode=persistent\n"
		 "inject enomem=50 site=shadow\n"
		 "inject enomem=1 site=nomirror\n",
		 &s);
	assert_int_equal(s.nr, 7);
	c = &s.cmds[1];
	assert_int_equal(c->op, SCN_OP_INJECT_BUSY);
	assert_string_equal(c->name, "inject busy-at");
	assert_true(c->has & SCN_HAS_BUSY_AT);
	assert_int_equal(c->nth, 3);
	assert_false(c->persistent);
	assert_int_equal(c->leaf, tdxmmu_leaf_from_name("TDH.MEM.PAGE.REMOVE"));
	c = &s.cmds[2];
	assert_int_equal(c->nth, 16);
	assert_true(c->persistent);
	assert_int_equal(c->leaf, -1);
	c = &s.cmds[3];
	assert_int_equal(c->op, SCN_OP_INJECT_ENOMEM);
	assert_string_equal(c->name, "inject enomem-at");
	assert_true(c->has & SCN_HAS_ENOMEM_AT);
	assert_int_equal(c->nth, 7);
	assert_false(c->persistent);
	assert_int_equal(c->site, TDXMMU_SITE_RMAP);
	assert_true(s.cmds[4].persistent);
	assert_int_equal(s.cmds[4].site, TDXMMU_SITE_ARENA);
	assert_int_equal(s.cmds[5].site, TDXMMU_SITE_SHADOW);
	assert_int_equal(s.cmds[5].ppm, 500000);
	assert_false(s.cmds[5].has & SCN_HAS_ENOMEM_AT);
	assert_int_equal(s.cmds[6].site, TDXMMU_SITE_NOMIRROR);
	scn_script_free(&s);
}

/* inject status=NAME [leaf=] [at=N [mode=] | share=P] (this
 * implementation's addition): a countdown from the next call by default. */
static void test_inject_status_words(void **state)
{
	struct scn_script s;
	const struct scn_cmd *c;
	uint64_t inval, ept;

	(void)state;
	assert_true(tdxmmu_status_from_name("TDX_OPERAND_INVALID", &inval));
	assert_true(tdxmmu_status_from_name("TDX_EPT_WALK_FAILED", &ept));
	parse_ok("td\n"
		 "inject status=TDX_OPERAND_INVALID leaf=TDH.MEM.PAGE.AUG\n"
		 "inject status=TDX_EPT_WALK_FAILED at=3 mode=persistent\n"
		 "inject status=TDX_OPERAND_INVALID leaf=TDH.MEM.TRACK share=12.5\n",
		 &s);
	assert_int_equal(s.nr, 4);
	c = &s.cmds[1];
	assert_int_equal(c->op, SCN_OP_INJECT_BUSY);
	assert_string_equal(c->name, "inject status");
	assert_true(c->has & SCN_HAS_STATUS);
	assert_int_equal(c->status, inval);
	assert_int_equal(c->nth, 1);
	assert_false(c->persistent);
	assert_int_equal(c->leaf, tdxmmu_leaf_from_name("TDH.MEM.PAGE.AUG"));
	c = &s.cmds[2];
	assert_int_equal(c->status, ept);
	assert_int_equal(c->nth, 3);
	assert_true(c->persistent);
	assert_int_equal(c->leaf, -1);
	c = &s.cmds[3];
	assert_true(c->has & SCN_HAS_SHARE);
	assert_int_equal(c->ppm, 125000);
	assert_int_equal(c->leaf, tdxmmu_leaf_from_name("TDH.MEM.TRACK"));
	scn_script_free(&s);
}

static void test_v11_words(void **state)
{
	struct scn_script s;
	const struct scn_cmd *c;
	const struct scn_block *b;

	(void)state;
	parse_ok("td gpaw=52 vcpus=2 sept-ve-disable=on memory=64T mapgpa=upstream\n"
		 "memslot 0xffffffff 0 4K outcome=ok|bugged\n"
		 "memslot 100 4K 4K outcome=dead\n"
		 "add private:0 outcome=ok fill=1\n"
		 "finalize outcome=bugged|dead|ok\n"
		 "vcpu 1 read 0 outcome=ok|blocked expect=5\n"
		 "vcpu 0 accept 0 outcome=dead\n"
		 "host invalidate 0 4K outcome=bugged\n"
		 "host zap 0 4K outcome=dead alias=private\n"
		 "host delete-memslot 4294967295 outcome=ok\n"
		 "expect-vm dead\n"
		 "expect-vm alive\n"
		 "inject busy=0.5 leaf=TDH.MEM.PAGE.AUG\n"
		 "inject busy=100\n"
		 "inject enomem=12.3456 site=sept\n"
		 "inject enomem=0.0001000\n"
		 "inject off\n"
		 "vcpu 1 enter\n"
		 "vcpu 1 leave outcome=dead\n"
		 "show shared:0x1000\n"
		 "show 0x1008 8K\n"
		 "expect-spte 0 private=present level=256T\n"
		 "expect-spte 0 shared=nonpresent\n"
		 "parallel\n"
		 "  seamcall TDH.MEM.TRACK\n"
		 "  vcpu 1 enter\n"
		 "  host zap 0 4K\n"
		 "  seamcall TDH.MEM.SEPT.RD gpa=0 level=4K\n"
		 "end\n",
		 &s);
	assert_int_equal(s.nr, 24);
	c = &s.cmds[0];
	assert_true(c->td.sept_ve_disable);
	assert_int_equal(c->td.mapgpa, TDXMMU_MAPGPA_UPSTREAM);
	assert_int_equal(c->td.memory, 64ULL << 40);
	c = &s.cmds[1];
	assert_int_equal(c->id, 0xffffffffu);
	assert_int_equal(c->outcomes, SCN_OUTCOME_BIT(TDXMMU_OUTCOME_OK) |
				      SCN_OUTCOME_BIT(TDXMMU_OUTCOME_BUGGED));
	assert_true(c->has & SCN_HAS_OUTCOME);
	assert_int_equal(s.cmds[2].id, 100);
	assert_int_equal(s.cmds[2].outcomes, SCN_OUTCOME_BIT(TDXMMU_OUTCOME_DEAD));
	assert_int_equal(s.cmds[3].byte, 1);
	assert_int_equal(s.cmds[3].outcomes, SCN_OUTCOME_BIT(TDXMMU_OUTCOME_OK));
	assert_int_equal(s.cmds[4].outcomes,
			 SCN_OUTCOME_BIT(TDXMMU_OUTCOME_OK) |
				 SCN_OUTCOME_BIT(TDXMMU_OUTCOME_BUGGED) |
				 SCN_OUTCOME_BIT(TDXMMU_OUTCOME_DEAD));
	c = &s.cmds[5];
	assert_int_equal(c->outcomes, SCN_OUTCOME_BIT(TDXMMU_OUTCOME_OK) |
				      SCN_OUTCOME_BIT(TDXMMU_OUTCOME_BLOCKED));
	assert_int_equal(c->expect, 5);
	assert_string_equal(c->text, "vcpu 1 read 0 outcome=ok|blocked expect=5");
	assert_int_equal(c->head_len, strlen("vcpu 1 read 0"));
	assert_int_equal(s.cmds[6].op, SCN_OP_VCPU_ACCEPT);
	assert_int_equal(s.cmds[6].outcomes, SCN_OUTCOME_BIT(TDXMMU_OUTCOME_DEAD));
	assert_int_equal(s.cmds[7].outcomes, SCN_OUTCOME_BIT(TDXMMU_OUTCOME_BUGGED));
	assert_int_equal(s.cmds[8].alias, TDXMMU_ALIAS_PRIVATE);
	assert_int_equal(s.cmds[8].outcomes, SCN_OUTCOME_BIT(TDXMMU_OUTCOME_DEAD));
	assert_int_equal(s.cmds[9].id, 0xffffffffu);
	/* Without outcome=, only ok. */
	assert_int_equal(s.cmds[9].outcomes, SCN_OUTCOME_BIT(TDXMMU_OUTCOME_OK));
	assert_int_equal(s.cmds[10].op, SCN_OP_EXPECT_VM);
	assert_true(s.cmds[10].vm_dead);
	assert_false(s.cmds[11].vm_dead);
	c = &s.cmds[12];
	assert_int_equal(c->op, SCN_OP_INJECT_BUSY);
	assert_string_equal(c->name, "inject busy");
	assert_int_equal(c->ppm, 5000);
	assert_int_equal(c->leaf, tdxmmu_leaf_from_name("TDH.MEM.PAGE.AUG"));
	c = &s.cmds[13];
	assert_int_equal(c->op, SCN_OP_INJECT_BUSY);
	assert_int_equal(c->ppm, 1000000);
	assert_int_equal(c->leaf, -1); /* every leaf */
	c = &s.cmds[14];
	assert_int_equal(c->op, SCN_OP_INJECT_ENOMEM);
	assert_string_equal(c->name, "inject enomem");
	assert_int_equal(c->ppm, 123456);
	assert_int_equal(c->site, TDXMMU_SITE_SEPT);
	c = &s.cmds[15];
	assert_int_equal(c->ppm, 1); /* trailing zeros are exact */
	assert_int_equal(c->site, TDXMMU_SITE_ALL);
	assert_int_equal(s.cmds[16].op, SCN_OP_INJECT_OFF);
	assert_string_equal(s.cmds[16].name, "inject off");
	assert_int_equal(s.cmds[17].op, SCN_OP_VCPU_ENTER);
	assert_int_equal(s.cmds[17].vcpu, 1);
	assert_int_equal(s.cmds[18].op, SCN_OP_VCPU_LEAVE);
	assert_int_equal(s.cmds[18].outcomes, SCN_OUTCOME_BIT(TDXMMU_OUTCOME_DEAD));
	c = &s.cmds[19];
	assert_int_equal(c->op, SCN_OP_SHOW);
	assert_int_equal(c->gpa, (1ULL << 51) | 0x1000);
	assert_int_equal(c->size, 4096); /* one page by default */
	assert_int_equal(s.cmds[20].gpa, 0x1008);
	assert_int_equal(s.cmds[20].size, 8192);
	c = &s.cmds[21];
	assert_true(c->has & SCN_HAS_LEVEL);
	assert_int_equal(c->level, 4); /* 256T exists with gpaw=52 */
	assert_false(s.cmds[22].has & SCN_HAS_LEVEL);
	assert_int_equal(s.cmds[22].level, 0);
	/* seamcall lines run on the host lane, in source order with the host
	 * actions. */
	b = s.cmds[23].block;
	assert_int_equal(b->nr_lanes, 2);
	assert_int_equal(b->lanes[0].vcpu, 1);
	assert_int_equal(b->lanes[0].nr, 1);
	assert_int_equal(b->lanes[1].vcpu, SCN_LANE_HOST);
	assert_int_equal(b->lanes[1].nr, 3);
	assert_int_equal(b->lanes[1].idx[0], 0);
	assert_int_equal(b->lanes[1].idx[1], 2);
	assert_int_equal(b->lanes[1].idx[2], 3);
	assert_int_equal(b->cmds[3].op, SCN_OP_SEAMCALL);
	scn_script_free(&s);

	/* Every percentage P converts exactly: P * 10^4 ppm. */
	{
		static const struct {
			const char *p;
			uint32_t ppm;
		} pc[] = {
			{ "0", 0 },	       { "0.0", 0 },	   { "100", 1000000 },
			{ "100.0000", 1000000 }, { "1", 10000 },   { "0.0001", 1 },
			{ "33.3333", 333333 },   { "007.5", 75000 }, { "99.9999", 999999 },
		};
		for (size_t i = 0; i < sizeof(pc) / sizeof(pc[0]); i++) {
			char text[64];

			snprintf(text, sizeof(text), "td\ninject busy=%s\n", pc[i].p);
			parse_ok(text, &s);
			assert_int_equal(s.cmds[1].ppm, pc[i].ppm);
			scn_script_free(&s);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unknown_command),
		cmocka_unit_test(test_malformed_number),
		cmocka_unit_test(test_number_out_of_range),
		cmocka_unit_test(test_levels),
		cmocka_unit_test(test_arguments),
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_option_values),
		cmocka_unit_test(test_counters),
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_structure),
		cmocka_unit_test(test_bytes),
		cmocka_unit_test(test_long_lines),
		cmocka_unit_test(test_run_file),
		cmocka_unit_test(test_td_options),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_address_forms),
		cmocka_unit_test(test_levels_and_states),
		cmocka_unit_test(test_seamcall),
		cmocka_unit_test(test_commands),
		cmocka_unit_test(test_parallel_lanes),
		cmocka_unit_test(test_parse_failure_frees),
		cmocka_unit_test(test_v11_errors),
		cmocka_unit_test(test_v11_words),
		cmocka_unit_test(test_inject_countdown_words),
		cmocka_unit_test(test_inject_status_words),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
