/* SPDX-License-Identifier: MIT */
/*
 * The scenario runner: executes a parsed script against a TD, through the
 * public API only. The API is reached through a table (struct scn_backend)
 * so that the runner's own logic (check counting, messages, exit statuses)
 * can be tested against a fake TD; scn_backend_tdxmmu is the real one.
 */
#ifndef TDXMMU_SCENARIO_RUNNER_H
#define TDXMMU_SCENARIO_RUNNER_H

#include <pthread.h>
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
	/* `memslot ... hugepages=on` (contract 1.1); used for that line only. */
	int (*memslot_add_flags)(tdxmmu_td *td, unsigned id, uint64_t base,
				 uint64_t size, unsigned flags);
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
	/* With the outcome (`blocked` for a GPA converted to shared, issue
	 * 11 item 2.4); used instead of vcpu_accept when set. */
	int (*vcpu_accept_outcome)(tdxmmu_td *td, unsigned vcpu, uint64_t gpa,
				   unsigned level, uint64_t *status,
				   enum tdxmmu_outcome *outcome);
	int (*vcpu_mapgpa)(tdxmmu_td *td, unsigned vcpu, uint64_t gpa,
			   uint64_t size, enum tdxmmu_outcome *outcome);
	/* vcpu N accept-memory (this implementation's addition). */
	int (*vcpu_accept_memory)(tdxmmu_td *td, unsigned vcpu, uint64_t gpa,
				  uint64_t size, struct tdxmmu_accept_memory_result *res,
				  enum tdxmmu_outcome *outcome);
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
	/* Contract 1.1. A NULL entry answers TDXMMU_ENOTIMPL (vm_dead: false),
	 * so that a test backend need provide only what it exercises. */
	bool (*vm_dead)(tdxmmu_td *td);
	int (*vcpu_enter)(tdxmmu_td *td, unsigned vcpu);
	int (*vcpu_leave)(tdxmmu_td *td, unsigned vcpu);
	int (*inject_busy_leaf)(tdxmmu_td *td, int leaf, uint32_t ppm);
	int (*inject_busy_nth)(tdxmmu_td *td, int leaf, uint64_t n, bool persistent);
	int (*inject_enomem_nth)(tdxmmu_td *td, enum tdxmmu_alloc_site site,
				 uint64_t n, bool persistent);
	int (*inject_enomem)(tdxmmu_td *td, enum tdxmmu_alloc_site site,
			     uint32_t ppm);
	int (*inject_off)(tdxmmu_td *td);
	int (*inject_status_nth)(tdxmmu_td *td, int leaf, uint64_t status, uint64_t n,
				 bool persistent);
	int (*inject_status)(tdxmmu_td *td, int leaf, uint64_t status, uint32_t ppm);
	int (*spte_state_level)(tdxmmu_td *td, uint64_t gpa, unsigned level,
				enum tdxmmu_spte_state *private_ept,
				enum tdxmmu_spte_state *shared_ept);
	int (*show)(tdxmmu_td *td, uint64_t gpa, uint64_t size, FILE *out);
};

extern const struct scn_backend scn_backend_tdxmmu;

/*
 * The parallel block being run (parallel.c): what the `blocked` rule needs.
 *
 * progress counts the lines the block's lanes have completed: it moves after
 * every line that may have changed the TD. A lane retrying a blocked access
 * notes, in its wait_gen, the value of progress read just before its latest
 * attempt began, plus one (0: not retrying). When every unfinished lane
 * has wait_gen == progress + 1, each of them has seen its access blocked
 * in a state that no line has changed since: nothing can unblock anything,
 * and the lowest-numbered such lane (vCPU lanes ascend, the host lane is
 * last) gives up. Its siblings keep retrying, so that the line it runs next
 * can still unblock them (contract 1.1, issue 11 item 2.10).
 */
struct scn_par {
	atomic_ulong progress;
	size_t nr_lanes;
	atomic_bool *finished;  /* per lane: has run its last line */
	atomic_ulong *wait_gen; /* per lane, as above */
};

/* TEST ONLY: when set, called by the blocked rule's give-up test
 * (runner.c lane_gives_up()) on a retrying lane's thread, after it read
 * progress (@now) and before it looks at the lanes, so that a test can
 * let another lane finish in between. */
extern void (*scn_debug_gives_up_hook)(const struct scn_par *par, size_t self,
				       unsigned long now);

/* The index of the lane the calling thread runs (parallel.c sets it). */
extern _Thread_local size_t scn_lane_self;

/* One run of one script. The lanes of a parallel block share it: passed and
 * failed are atomic, the rest is only read while the block runs. */
struct scn_run {
	const struct scn_backend *api;
	const char *name;  /* the script's name in messages */
	FILE *out, *err, *trace;
	const char *trace_events;
	bool quiet;
	const struct tdxmmu_run_report *report; /* NULL, or told of each check */
	/* Serializes the report's calls from the lanes (flockfile() would
	 * too, but ThreadSanitizer does not see it as a lock). Taken after
	 * the output stream's lock when both are held. */
	pthread_mutex_t report_lock;
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

/* Calls @report's error hook, if any, with the message printf makes. */
void scn_report_error(const struct tdxmmu_run_report *report,
		      const char *file, size_t line, size_t column, int status,
		      const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/*
 * scn_run_script() - run a parsed script to its end
 *
 * Prints the closing "N passed, N failed" line when the run completes, and
 * always leaves no TD behind. Returns the exit status.
 */
int scn_run_script(const struct scn_script *script, const char *name,
		   const struct scn_backend *api,
		   const struct tdxmmu_run_options *opts);
/* The same, telling @report (may be NULL) of each check and error. */
int scn_run_script_report(const struct scn_script *script, const char *name,
			  const struct scn_backend *api,
			  const struct tdxmmu_run_options *opts,
			  const struct tdxmmu_run_report *report);

/*
 * scn_run_text() - parse then run (what tdxmmu_run_string() does), with the
 * given backend.
 */
int scn_run_text(const char *name, const char *text, size_t len,
		 const struct scn_backend *api,
		 const struct tdxmmu_run_options *opts);
int scn_run_text_report(const char *name, const char *text, size_t len,
			const struct scn_backend *api,
			const struct tdxmmu_run_options *opts,
			const struct tdxmmu_run_report *report);

/* Ends the exploring lanes' thread pool (parallel.c). */
void scn_lane_pool_drain(void);

/* The whole file, malloc'd (NULL with errno set). */
char *scn_read_file(const char *path, size_t *len);
/* The whole stream to its end, malloc'd (NULL with errno set). */
char *scn_read_stream(FILE *f, size_t *len);

#endif /* TDXMMU_SCENARIO_RUNNER_H */
