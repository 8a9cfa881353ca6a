/* SPDX-License-Identifier: MIT */
/*
 * The scenario language (docs/scenario-language.md): the parsed form of a
 * script and the two steps that handle it, scn_parse() and scn_run().
 *
 * A whole script is parsed before anything runs, so that a typo on the last
 * line is reported without having half-built a TD first. The parsed form is a
 * flat array of commands with typed arguments; a `parallel ... end` block is
 * one command that owns its body, already grouped into per-thread lanes.
 */
#ifndef TDXMMU_SCENARIO_H
#define TDXMMU_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tdxmmu/tdxmmu.h"

/* Exit statuses, as the language defines them. */
enum scn_exit {
	SCN_EXIT_OK = 0,    /* every check passed */
	SCN_EXIT_FAIL = 1,  /* a check failed */
	SCN_EXIT_USAGE = 2, /* parse or usage error */
	SCN_EXIT_BUG = 3,   /* the model broke */
};

/* A parse error: where and what. Lines and columns are 1-based; a column
 * counts bytes (a tab is one column). */
struct scn_error {
	size_t line;
	size_t col;
	char msg[512];
};

void scn_error_set(struct scn_error *err, size_t col, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

enum scn_op {
	SCN_OP_TD,
	SCN_OP_MEMSLOT,
	SCN_OP_ADD,
	SCN_OP_FINALIZE,
	SCN_OP_DESTROY,
	SCN_OP_VCPU_READ,
	SCN_OP_VCPU_WRITE,
	SCN_OP_VCPU_FILL,
	SCN_OP_VCPU_VERIFY,
	SCN_OP_VCPU_ACCEPT,
	SCN_OP_VCPU_MAPGPA,
	SCN_OP_VCPU_ACCEPT_MEMORY,
	SCN_OP_HOST_READ,
	SCN_OP_HOST_WRITE,
	SCN_OP_HOST_INVALIDATE,
	SCN_OP_HOST_DELETE_MEMSLOT,
	SCN_OP_HOST_ZAP,
	SCN_OP_SEAMCALL,
	SCN_OP_EXPECT_SPTE,
	SCN_OP_EXPECT_SEPT,
	SCN_OP_EXPECT_COUNT,
	SCN_OP_CHECK,
	SCN_OP_COUNTERS,  /* addition: print every non-zero counter */
	SCN_OP_VCPU_ENTER,   /* 1.1: vcpu N enter */
	SCN_OP_VCPU_LEAVE,   /* 1.1: vcpu N leave */
	SCN_OP_EXPECT_VM,    /* 1.1: expect-vm alive|dead */
	SCN_OP_INJECT_BUSY,  /* 1.1: inject busy=P [leaf=NAME] */
	SCN_OP_INJECT_ENOMEM, /* 1.1: inject enomem=P [site=...] */
	SCN_OP_INJECT_OFF,   /* 1.1: inject off */
	SCN_OP_SHOW,         /* 1.1: show ADDR [SIZE] */
	SCN_OP_PARALLEL,
	SCN_OP_END, /* closes a block while parsing; never in a script */
};

/* Which options a command line gave (scn_cmd.has). */
enum scn_has {
	SCN_HAS_OUTCOME = 1u << 0,
	SCN_HAS_EXPECT = 1u << 1,     /* expect=VALUE or expect=STATUS */
	SCN_HAS_EXPECT_NOT = 1u << 2,
	SCN_HAS_LEVEL = 1u << 3,
	SCN_HAS_GPA = 1u << 4,        /* seamcall gpa= */
	SCN_HAS_FILL = 1u << 5,
	SCN_HAS_PRIVATE = 1u << 6,    /* expect-spte private= */
	SCN_HAS_SHARED = 1u << 7,     /* expect-spte shared= */
	SCN_HAS_MEMORY = 1u << 8,     /* td memory= */
	SCN_HAS_LEAF = 1u << 9,       /* inject leaf= */
	SCN_HAS_SITE = 1u << 10,      /* inject site= */
	SCN_HAS_BUSY = 1u << 11,      /* inject busy= */
	SCN_HAS_ENOMEM = 1u << 12,    /* inject enomem= */
	SCN_HAS_BUSY_AT = 1u << 13,   /* inject busy-at= (addition) */
	SCN_HAS_ENOMEM_AT = 1u << 14, /* inject enomem-at= (addition) */
	SCN_HAS_MODE = 1u << 15,      /* inject mode= (addition) */
	SCN_HAS_STATUS = 1u << 16,    /* inject status= (addition) */
	SCN_HAS_AT = 1u << 17,        /* inject at= (addition) */
	SCN_HAS_SHARE = 1u << 18,     /* inject share= (addition) */
};

/* The set of outcomes an outcome=A|B option accepts: bit (1u << outcome). */
#define SCN_OUTCOME_BIT(o) (1u << (unsigned)(o))

/* seamcall page= */
enum scn_page {
	SCN_PAGE_NONE,
	SCN_PAGE_NEW, /* page=new: a free host frame */
	SCN_PAGE_OF,  /* page=of:ADDR: the frame behind ADDR (page_gpa) */
};

/* One NAME=N of expect-count. */
struct scn_counter {
	char *name;
	uint64_t value;
};

struct scn_cmd;

/* The lines of a parallel block that one thread runs, in order. */
#define SCN_LANE_HOST (-1)
struct scn_lane {
	int vcpu;    /* vCPU index, or SCN_LANE_HOST */
	size_t nr;
	size_t *idx; /* indices into scn_block.cmds */
};

struct scn_block {
	struct scn_cmd *cmds; /* the body, in source order */
	size_t nr, cap;
	struct scn_lane *lanes; /* vCPU lanes by ascending index, host last */
	size_t nr_lanes;
	size_t end_line;
};

struct scn_td_args {
	enum tdxmmu_mmu_kind mmu;
	unsigned gpaw;
	unsigned vcpus;
	enum tdxmmu_accept_mode accept;
	uint64_t seed;
	uint64_t memory; /* host_memory, when SCN_HAS_MEMORY */
	bool sept_ve_disable;           /* 1.1: sept-ve-disable=on|off */
	enum tdxmmu_mapgpa_mode mapgpa; /* addition: mapgpa=seed|upstream */
};

/*
 * One command. The argument fields are shared between commands: each command
 * uses the ones its syntax names (documented per field).
 */
struct scn_cmd {
	enum scn_op op;
	const char *name;  /* "vcpu read", "seamcall": for messages */
	size_t line;
	size_t col;        /* column of the command's first word */
	char *text;        /* the tokens joined by single spaces */
	size_t head_len;   /* text up to the last positional argument */
	unsigned has;      /* enum scn_has */

	unsigned vcpu;     /* vcpu N */
	unsigned id;       /* memslot ID, host delete-memslot ID */
	uint64_t gpa;      /* ADDR, memslot BASE, seamcall gpa= */
	uint64_t size;     /* SIZE */
	uint64_t value;    /* write/host write VALUE */
	uint8_t byte;      /* fill/verify BYTE, add/seamcall fill= */
	unsigned level;    /* level=, 0 (4K) by default */
	unsigned outcomes;             /* outcome=A|B as SCN_OUTCOME_BIT()s;
					  only ok by default */
	uint64_t expect;               /* expect=VALUE or expect=STATUS */
	uint64_t expect_not;           /* expect-not=VALUE */
	int leaf;                      /* seamcall NAME, inject leaf= (-1:
					  every leaf) */
	uint32_t ppm;                  /* inject busy=/enomem= P, in parts
					  per million */
	enum tdxmmu_alloc_site site;   /* inject site=, all by default */
	uint64_t nth;                  /* inject busy-at=/enomem-at=/at= N */
	uint64_t status;               /* inject status=NAME */
	bool persistent;               /* inject mode=persistent */
	bool vm_dead;                  /* expect-vm: dead (else alive) */
	bool hugepages;                /* memslot hugepages=on */
	enum scn_page page;
	uint64_t page_gpa;             /* page=of:ADDR */
	enum tdxmmu_alias alias;       /* host zap alias=, both by default */
	enum tdxmmu_sept_state sept;   /* expect-sept STATE */
	enum tdxmmu_spte_state spte_private, spte_shared; /* expect-spte */
	struct scn_td_args td;
	struct scn_counter *counters;  /* expect-count */
	size_t nr_counters;
	struct scn_block *block;       /* parallel */
};

struct scn_script {
	struct scn_cmd *cmds;
	size_t nr, cap;
	unsigned gpaw;   /* from the td line */
	unsigned vcpus;
};

/*
 * scn_parse() - parse a whole script
 * @text, @len: the script; it may hold any bytes (a NUL is a parse error)
 * @script: filled on success; release it with scn_script_free()
 * @err: filled on failure with the first error
 *
 * Returns 0 or -1.
 */
int scn_parse(const char *text, size_t len, struct scn_script *script,
	      struct scn_error *err);
void scn_script_free(struct scn_script *script);

/* The name of a level (0 -> "4K"), or "?" */
const char *scn_level_name(unsigned level);

#endif /* TDXMMU_SCENARIO_H */
