/* SPDX-License-Identifier: MIT */
/*
 * The scheduler's side that the explorer (explore.c) and the scenario
 * runner drive: one execution at a time, a strategy that makes every
 * decision, blocks whose decisions count, the record of what ran.
 */
#ifndef TDXMMU_EXPLORE_SCHED_INTERNAL_H
#define TDXMMU_EXPLORE_SCHED_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "explore/sched.h"

#define SCHED_MAX_THREADS 64

/*
 * Who decides. choose() is called at every decision point: a schedule
 * point (or a thread's wait, join or exit) inside a block where at least
 * two threads are enabled. @enabled has bit i for thread i; @cur is the
 * thread that reached the point, and @cur_enabled says whether it may go
 * on (if it may, choosing another thread is a preemption). Returns the
 * thread to run, one of @enabled.
 */
struct sched_strategy {
	unsigned (*choose)(void *arg, uint64_t enabled, unsigned cur, bool cur_enabled);
	/* A block ended: @independent when no two of its threads touched a
	 * common object with one of them writing, and none waited. */
	void (*block_end)(void *arg, unsigned block, bool independent);
	void *arg;
};

struct sched_exec_opts {
	const struct sched_strategy *strategy;
	bool trace;            /* record every step (for an explanation) */
	uint64_t step_budget;  /* per thread per block; 0: the default */
};

/* One recorded step (trace mode). */
struct sched_step {
	unsigned thread;
	unsigned block;        /* 0 outside blocks, else 1 + the block's index */
	bool decision;         /* a decision point was here */
	bool preempted;        /* ... and the strategy switched away from a
				* thread that could go on */
	const struct sched_site *site;
	const void *obj;
	size_t note;           /* offset in the note buffer, SIZE_MAX: none */
};

struct sched_exec_result {
	bool violation;
	char message[768];
	bool abandoned;        /* threads left parked for good (deadlock,
				* livelock): the TD must be leaked, not destroyed */
	uint64_t steps, decisions, preemptions;
	unsigned blocks;
};

#define SCHED_DEFAULT_STEP_BUDGET 2000000u

/* Starts an execution on the calling thread (thread 0, "main"). -1 when it
 * cannot: out of memory, or 1023 abandoned executions already parked their
 * threads in this process. */
int sched_begin(const struct sched_exec_opts *opts);
/* Ends it: flushes RCU callbacks, turns exploration off, fills @res. */
void sched_end(struct sched_exec_result *res);

/* A block whose interleavings are explored starts/ends (the runner's
 * `parallel`; the C entry point's body is one block). */
void sched_block_begin(void);
void sched_block_end(void);
/* 1 + the index of the block running (blocks count from 1), 0 outside. */
unsigned sched_current_block(void);

/* Records a violation found by an oracle (a check, `check`, exit 3); the
 * first one is kept. */
void sched_violation(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* True once the execution abandoned parked threads: stop and leak. */
bool sched_abandoned(void);

/* The trace of the execution just ended (trace mode). Valid until the next
 * sched_begin(). */
const struct sched_step *sched_trace(size_t *nr);
/* True when some step or note of that trace could not be recorded (out of
 * memory): the trace has gaps. */
bool sched_trace_lost(void);
const char *sched_trace_note(size_t off);
const char *sched_thread_name(unsigned thread);
const char *sched_op_name(unsigned op);

#endif /* TDXMMU_EXPLORE_SCHED_INTERNAL_H */
