/* SPDX-License-Identifier: MIT */
/*
 * The scenario runner: executes a parsed script against a TD, through the
 * public API only. The API is reached through a table (struct scn_backend)
 * so that the runner's own logic (check counting, messages, exit statuses)
 * can be tested against a fake TD; scn_backend_tdxmmu is the real one.
 */
#ifndef TDXMMU_SCENARIO_RUNNER_H
#define TDXMMU_SCENARIO_RUNNER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>

#include "scenario/scenario.h"
#include "tdxmmu/tdxmmu.h"

/* The public API functions the runner calls, with their exact types. */
struct scn_backend {
	void (*td_config_init)(struct tdxmmu_td_config *cfg);
	int (*td_create)(const struct tdxmmu_td_config *cfg, tdxmmu_td **out);
	int (*td_destroy)(tdxmmu_td *td, struct tdxmmu_destroy_report *report);
	int (*memslot_add)(tdxmmu_td *td, unsigned id, uint64_t base,
			   uint64_t size);
	int (*td_add_page)(tdxmmu_td *td, uint64_t gpa, uint8_t fill);
	int (*td_finalize)(tdxmmu_td *td);
	int (*vcpu_read)(tdxmmu_td *td, unsigned vcpu, uint64_t gpa,
			 uint64_t *val, enum tdxmmu_outcome *outcome);
	int (*vcpu_write)(tdxmmu_td *td, unsigned vcpu, uint64_t gpa,
			  uint64_t val, enum tdxmmu_outcome *outcome);
	int (*vcpu_fill)(tdxmmu_td *td, unsigned vcpu, uint64_t gpa,
			 uint64_t size, uint8_t byte,
			 enum tdxmmu_outcome *outcome);
	int (*vcpu_verify)(tdxmmu_td *td, unsigned vcpu, uint64_t gpa,
			   uint64_t size, uint8_t byte, uint64_t *mismatch_gpa,
			   enum tdxmmu_outcome *outcome);
	int (*vcpu_accept)(tdxmmu_td *td, unsigned vcpu, uint64_t gpa,
			   unsigned level, uint64_t *status);
	int (*vcpu_mapgpa)(tdxmmu_td *td, unsigned vcpu, uint64_t gpa,
			   uint64_t size, enum tdxmmu_outcome *outcome);
	int (*host_read)(tdxmmu_td *td, uint64_t gpa, uint64_t *val);
	int (*host_write)(tdxmmu_td *td, uint64_t gpa, uint64_t val);
	int (*host_invalidate)(tdxmmu_td *td, uint64_t gpa, uint64_t size);
	int (*memslot_delete)(tdxmmu_td *td, unsigned id);
	int (*host_zap)(tdxmmu_td *td, uint64_t gpa, uint64_t size,
			enum tdxmmu_alias alias);
	int (*host_frame_new)(tdxmmu_td *td, uint64_t *hpa);
	int (*host_frame_of)(tdxmmu_td *td, uint64_t gpa, uint64_t *hpa);
	int (*seamcall)(tdxmmu_td *td, const struct tdxmmu_seamcall_req *req,
			struct tdxmmu_seamcall_out *out);
	int (*sept_state)(tdxmmu_td *td, uint64_t gpa, unsigned level,
			  enum tdxmmu_sept_state *out);
	int (*spte_state)(tdxmmu_td *td, uint64_t gpa,
			  enum tdxmmu_spte_state *private_ept,
			  enum tdxmmu_spte_state *shared_ept);
	int (*counter)(tdxmmu_td *td, const char *name, uint64_t *val);
	int (*check)(tdxmmu_td *td, char *report, size_t report_size);
	void (*counters_foreach)(tdxmmu_td *td,
				 void (*fn)(const char *name, uint64_t val,
					    void *arg),
				 void *arg);
	const char *(*last_error)(void);
};

extern const struct scn_backend scn_backend_tdxmmu;

/* The parallel block being run (parallel.c): what the `blocked` rule needs. */
struct scn_par {
	atomic_size_t finished; /* lanes that have run their last line */
	atomic_size_t waiting;  /* lanes retrying a blocked access */
	size_t nr_lanes;
};

/* One run of one script. The lanes of a parallel block share it: passed and
 * failed are atomic, the rest is only read while the block runs. */
struct scn_run {
	const struct scn_backend *api;
	const char *name;  /* the script's name in messages */
	FILE *out, *err, *trace;
	bool quiet;
	tdxmmu_td *td;
	atomic_ulong passed, failed;
	struct scn_par *par; /* non-NULL while a parallel block runs */
};

/*
 * scn_run_cmd() - execute one command
 *
 * Returns SCN_EXIT_OK to go on with the next command, or SCN_EXIT_USAGE /
 * SCN_EXIT_BUG to stop the run with that status (the message is printed).
 * Check results are added to run->passed / run->failed.
 */
int scn_run_cmd(struct scn_run *run, const struct scn_cmd *cmd);

/* Runs a `parallel` block (parallel.c). Same return values. */
int run_parallel_block(struct scn_run *run, const struct scn_cmd *cmd);

/* Reports an error an API call returned for @cmd and gives the exit status:
 * not implemented (2), a model bug (3) or a usage error (2). */
int scn_api_error(struct scn_run *run, const struct scn_cmd *cmd, int rc);

/*
 * scn_run_script() - run a parsed script to its end
 *
 * Prints the closing "N passed, N failed" line when the run completes, and
 * always leaves no TD behind. Returns the exit status.
 */
int scn_run_script(const struct scn_script *script, const char *name,
		   const struct scn_backend *api,
		   const struct tdxmmu_run_options *opts);

/*
 * scn_run_text() - parse then run (what tdxmmu_run_string() does), with the
 * given backend.
 */
int scn_run_text(const char *name, const char *text, size_t len,
		 const struct scn_backend *api,
		 const struct tdxmmu_run_options *opts);

#endif /* TDXMMU_SCENARIO_RUNNER_H */
