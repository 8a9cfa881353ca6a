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
 * runner which lanes have finished, which are retrying a blocked access and
 * how many lines have completed: what the deterministic `blocked` rule
 * (struct scn_par, runner.c retry_blocked()) decides on. Each lane bumps
 * progress after every line it completes, before it starts the next one or
 * marks itself finished.
 *
 * The first lane that returns SCN_EXIT_USAGE or SCN_EXIT_BUG stops the block:
 * the other lanes finish their current line and run no further one, and that
 * status is returned once every thread has been joined.
 */
#include <pthread.h>
#include <semaphore.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "explore/sched_internal.h"
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

_Thread_local size_t scn_lane_self;

struct lane_thread {
	pthread_t tid;
	size_t idx;         /* this lane's index in block->lanes */
	struct scn_run *run;
	const struct scn_block *block;
	const struct scn_lane *lane;
	struct start_gate *start;
	atomic_int *stop;   /* the first fatal status, 0 while there is none */
	int status;
	int sched_token;    /* exploring: this lane's sched thread, else -1 */
};

/* run_parallel_block() puts the lanes' wait_gen words right after the
 * lane array, in the same allocation. */
_Static_assert(sizeof(struct lane_thread) % _Alignof(atomic_ulong) == 0,
	       "wait_gen words after the lane array are aligned");

static void *lane_main(void *arg)
{
	struct lane_thread *t = arg;
	struct scn_run *r = t->run;

	scn_lane_self = t->idx;
	/* Exploring, the scheduler starts the lane when it chooses to, and
	 * the gate (a blocking wait) must not be used. */
	if (t->sched_token >= 0)
		sched_thread_start(t->sched_token);
	else
		gate_wait(t->start);
	t->status = SCN_EXIT_OK;
	for (size_t i = 0; i < t->lane->nr; i++) {
		int expected = 0;

		if (atomic_load(t->stop))
			break;
		t->status = scn_run_cmd(r, &t->block->cmds[t->lane->idx[i]]);
		/* The line may have changed the TD: blocked lanes must try
		 * again before any of them may give up. */
		atomic_fetch_add(&r->par->progress, 1);
		if (t->status != SCN_EXIT_OK) {
			atomic_compare_exchange_strong(t->stop, &expected,
						       t->status);
			break;
		}
	}
	/* Finished (or stopped): lanes retrying a blocked access no longer
	 * wait for this one. */
	atomic_store(&r->par->finished[t->idx], true);
	if (t->sched_token >= 0)
		sched_thread_exit();
	return NULL;
}

static void lane_name(const struct scn_run *run, const struct scn_block *b, size_t i, char *buf,
		      size_t size)
{
	(void)run;
	if (b->lanes[i].vcpu == SCN_LANE_HOST)
		snprintf(buf, size, "host");
	else
		snprintf(buf, size, "vcpu%d", b->lanes[i].vcpu);
}

/*
 * Exploring: `check` after the block is part of the oracle (issue 12): a
 * state that breaks an invariant is a violation of this schedule even if
 * no line of the script looks at it. A check that could not run (out of
 * memory for its maps) stops the run like any API error: a schedule nobody
 * checked must not count as one that held.
 */
static int check_after_block(struct scn_run *run, const struct scn_cmd *cmd)
{
	char report[1024];
	int rc;

	if (!run->td || !run->api->check || sched_abandoned())
		return SCN_EXIT_OK;
	rc = run->api->check(run->td, report, sizeof(report));
	if (rc == 0)
		return SCN_EXIT_OK;
	if (rc > 0 || rc == TDXMMU_EBUG) {
		sched_violation("check after the parallel block at line %zu: %s", cmd->line,
				report[0] ? report : "an invariant does not hold");
		return SCN_EXIT_OK;
	}
	return scn_api_error(run, cmd, rc);
}

/*
 * Exploring, the same block runs thousands of times, and creating its
 * threads was a sixth of an execution. So lanes run on pooled threads:
 * a worker waits on its `go` semaphore for a lane, runs it, posts `done`.
 * The scheduler still sees one sched thread per lane (spawned per block);
 * only the pthread is reused. A worker whose lane was abandoned (deadlock,
 * livelock) stays parked inside it for good and leaves the pool. The pool
 * is used by one exploration at a time (the explorer is not reentrant) and
 * drained at its end (scn_lane_pool_drain()).
 */
struct pool_worker {
	pthread_t tid;
	sem_t go, done;
	struct lane_thread *lane; /* NULL: exit */
};

#define LANE_POOL_MAX 64
static struct pool_worker *lane_pool[LANE_POOL_MAX];
static unsigned lane_pool_nr;

static void *pool_worker_main(void *arg)
{
	struct pool_worker *w = arg;

	for (;;) {
		while (sem_wait(&w->go))
			;
		if (!w->lane)
			return NULL;
		lane_main(w->lane);
		sem_post(&w->done);
	}
}

/* Worker @i of the pool, made if needed; NULL if no thread could be. */
static struct pool_worker *pool_get(unsigned i)
{
	struct pool_worker *w;

	if (i < lane_pool_nr)
		return lane_pool[i];
	if (i != lane_pool_nr || i == LANE_POOL_MAX)
		return NULL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	sem_init(&w->go, 0, 0);
	sem_init(&w->done, 0, 0);
	if (pthread_create(&w->tid, NULL, pool_worker_main, w)) {
		sem_destroy(&w->go);
		sem_destroy(&w->done);
		free(w);
		return NULL;
	}
	lane_pool[lane_pool_nr++] = w;
	return w;
}

void scn_lane_pool_drain(void)
{
	for (unsigned i = 0; i < lane_pool_nr; i++) {
		struct pool_worker *w = lane_pool[i];

		w->lane = NULL;
		sem_post(&w->go);
		pthread_join(w->tid, NULL);
		sem_destroy(&w->go);
		sem_destroy(&w->done);
		free(w);
	}
	lane_pool_nr = 0;
}

int run_parallel_block(struct scn_run *run, const struct scn_cmd *cmd)
{
	const struct scn_block *b = cmd->block;
	struct scn_par par = { .nr_lanes = b->nr_lanes };
	atomic_bool *finished;
	atomic_ulong *wait_gen;
	struct start_gate start = {
		.lock = PTHREAD_MUTEX_INITIALIZER,
		.cond = PTHREAD_COND_INITIALIZER,
	};
	struct lane_thread *t;
	atomic_int stop = 0;
	size_t started;
	bool exploring;
	int status;

	if (b->nr_lanes == 0)
		return SCN_EXIT_OK;
	atomic_init(&par.progress, 0);
	/* One allocation for the lanes and their shared words: an abandoned
	 * exploration leaks it whole (below), and then it must stay
	 * reachable through the parked lanes (each pool worker's lane
	 * points into it), or a leak checker reports the words, which only
	 * this function's frame pointed to (found by test_explore_edges'
	 * livelock under ASan). */
	t = calloc(b->nr_lanes, sizeof(*t) + sizeof(*wait_gen) + sizeof(*finished));
	if (!t)
		return scn_api_error(run, cmd, TDXMMU_ENOMEM);
	wait_gen = (atomic_ulong *)(void *)((char *)t + b->nr_lanes * sizeof(*t));
	finished = (atomic_bool *)(void *)((char *)t +
					   b->nr_lanes * (sizeof(*t) + sizeof(*wait_gen)));
	for (size_t i = 0; i < b->nr_lanes; i++) {
		atomic_init(&finished[i], false);
		atomic_init(&wait_gen[i], 0);
	}
	par.finished = finished;
	par.wait_gen = wait_gen;
	run->par = &par;
	exploring = sched_self_active();
	if (exploring)
		sched_block_begin();
	for (started = 0; started < b->nr_lanes; started++) {
		char name[24];

		lane_name(run, b, started, name, sizeof(name));
		t[started] = (struct lane_thread){
			.idx = started,
			.run = run,
			.block = b,
			.lane = &b->lanes[started],
			.start = &start,
			.stop = &stop,
			.sched_token = exploring ? sched_thread_spawn(name) : -1,
		};
		if (exploring) {
			struct pool_worker *w = pool_get((unsigned)started);

			if (!w) {
				sched_thread_cancel(t[started].sched_token);
				break;
			}
			w->lane = &t[started];
			sem_post(&w->go);
			continue;
		}
		if (pthread_create(&t[started].tid, NULL, lane_main,
				   &t[started]))
			break;
	}
	/* A thread that could not be created: the started lanes run
	 * nothing, and the missing ones count as finished. */
	if (started < b->nr_lanes) {
		atomic_store(&stop, SCN_EXIT_USAGE);
		for (size_t i = started; i < b->nr_lanes; i++)
			atomic_store(&finished[i], true);
	}
	gate_open(&start);
	if (exploring) {
		int tokens[SCHED_MAX_THREADS];
		unsigned n = 0;

		for (size_t i = 0; i < started && n < SCHED_MAX_THREADS; i++)
			tokens[n++] = t[i].sched_token;
		sched_thread_join_all(tokens, n);
	}
	for (size_t i = 0; i < started; i++) {
		if (exploring) {
			/* An abandoned execution (deadlock, livelock) leaves
			 * its lanes parked for good: their workers leave the
			 * pool (the scheduler never posts them again). */
			if (!sched_abandoned())
				while (sem_wait(&lane_pool[i]->done))
					;
			continue;
		}
		pthread_join(t[i].tid, NULL);
	}
	if (exploring && sched_abandoned()) {
		for (size_t i = 0; i < started && i < lane_pool_nr; i++)
			pthread_detach(lane_pool[i]->tid);
		/* Keep the workers past @started; drop the parked ones. */
		for (size_t i = started; i < lane_pool_nr; i++)
			lane_pool[i - started] = lane_pool[i];
		lane_pool_nr = lane_pool_nr > started ? lane_pool_nr - (unsigned)started : 0;
	}
	run->par = NULL;
	status = atomic_load(&stop);
	if (exploring) {
		sched_block_end();
		if (status == SCN_EXIT_OK)
			status = check_after_block(run, cmd);
		if (sched_abandoned()) {
			/* The lanes may still reference the block's state: leak it. */
			return SCN_EXIT_BUG;
		}
	}
	pthread_cond_destroy(&start.cond);
	pthread_mutex_destroy(&start.lock);
	free(t);
	if (started < b->nr_lanes)
		return scn_api_error(run, cmd, TDXMMU_ENOMEM);
	return status;
}
