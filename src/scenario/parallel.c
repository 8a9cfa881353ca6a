/* SPDX-License-Identifier: MIT */
/*
 * `parallel ... end`: the lines of a block run at the same time, each vCPU's
 * lines in order on that vCPU's thread and the host's lines on one host
 * thread (the parser has grouped them into cmd->block->lanes).
 *
 * One thread per lane; all of them wait at a start gate so that they start
 * together, then run their lines in order with scn_run_cmd(). The lanes share
 * the struct scn_run: output lines are written whole under the stream lock
 * and the check counts are atomic. While the block runs, run->par tells the
 * runner how many lanes have finished, which is what the `blocked` rule
 * (runner.c, retry_blocked()) waits on: a blocked access is re-issued until
 * every other lane has finished, then once more, and that outcome is
 * reported (a lane that is itself retrying a blocked access counts as
 * done, see there).
 *
 * The first lane that returns SCN_EXIT_USAGE or SCN_EXIT_BUG stops the block:
 * the other lanes finish their current line and run no further one, and that
 * status is returned once every thread has been joined.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "scenario/runner.h"

/* Where the lanes wait until every thread exists, then all go at once. */
struct start_gate {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool open;
};

static void gate_wait(struct start_gate *g)
{
	pthread_mutex_lock(&g->lock);
	while (!g->open)
		pthread_cond_wait(&g->cond, &g->lock);
	pthread_mutex_unlock(&g->lock);
}

static void gate_open(struct start_gate *g)
{
	pthread_mutex_lock(&g->lock);
	g->open = true;
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
}

struct lane_thread {
	pthread_t tid;
	struct scn_run *run;
	const struct scn_block *block;
	const struct scn_lane *lane;
	struct start_gate *start;
	atomic_int *stop;   /* the first fatal status, 0 while there is none */
	int status;
};

static void *lane_main(void *arg)
{
	struct lane_thread *t = arg;
	struct scn_run *r = t->run;

	gate_wait(t->start);
	t->status = SCN_EXIT_OK;
	for (size_t i = 0; i < t->lane->nr; i++) {
		int expected = 0;

		if (atomic_load(t->stop))
			break;
		t->status = scn_run_cmd(r, &t->block->cmds[t->lane->idx[i]]);
		if (t->status != SCN_EXIT_OK) {
			atomic_compare_exchange_strong(t->stop, &expected,
						       t->status);
			break;
		}
	}
	/* Finished (or stopped): a blocked access on another lane may now
	 * make its last attempt. */
	atomic_fetch_add(&r->par->finished, 1);
	return NULL;
}

int run_parallel_block(struct scn_run *run, const struct scn_cmd *cmd)
{
	const struct scn_block *b = cmd->block;
	struct scn_par par = { .nr_lanes = b->nr_lanes };
	struct start_gate start = {
		.lock = PTHREAD_MUTEX_INITIALIZER,
		.cond = PTHREAD_COND_INITIALIZER,
	};
	struct lane_thread *t;
	atomic_int stop = 0;
	size_t started;
	int status;

	if (b->nr_lanes == 0)
		return SCN_EXIT_OK;
	atomic_init(&par.finished, 0);
	atomic_init(&par.waiting, 0);
	t = calloc(b->nr_lanes, sizeof(*t));
	if (!t)
		return scn_api_error(run, cmd, TDXMMU_ENOMEM);
	run->par = &par;
	for (started = 0; started < b->nr_lanes; started++) {
		t[started] = (struct lane_thread){
			.run = run,
			.block = b,
			.lane = &b->lanes[started],
			.start = &start,
			.stop = &stop,
		};
		if (pthread_create(&t[started].tid, NULL, lane_main,
				   &t[started]))
			break;
	}
	/* A thread that could not be created: the started lanes run
	 * nothing. */
	if (started < b->nr_lanes)
		atomic_store(&stop, SCN_EXIT_USAGE);
	gate_open(&start);
	for (size_t i = 0; i < started; i++)
		pthread_join(t[i].tid, NULL);
	run->par = NULL;
	status = atomic_load(&stop);
	pthread_cond_destroy(&start.cond);
	pthread_mutex_destroy(&start.lock);
	free(t);
	if (started < b->nr_lanes)
		return scn_api_error(run, cmd, TDXMMU_ENOMEM);
	return status;
}
