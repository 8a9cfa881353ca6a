/* SPDX-License-Identifier: MIT */
/*
 * The explorer: runs one program (a scenario, or a C body) over and over,
 * each time under a different schedule chosen by a strategy, with the
 * program's own checks as the oracle (docs/exploration.md).
 *
 * Stateless search, as CHESS does it: an execution is fully determined by
 * the choice made at each decision point, so the search keeps the stack of
 * the last execution's decisions (what was enabled, what ran, what has been
 * tried) and derives the next execution by backtracking: replay the prefix,
 * take an untried alternative at the deepest decision that has one, go on
 * with the default policy (the running thread goes on while it can, then
 * the lowest-numbered enabled thread).
 *
 * Iterative context bounding (Musuvathi & Qadeer, PLDI 2007): switching
 * away from a thread that could go on is a preemption; switching when it
 * waits, joins or exits is free. Level k explores every schedule with at
 * most k preemptions; the levels run in turn from 0, so the first violation
 * found has as few preemptions as any (and its explanation is as short).
 * A schedule is counted at the level of its own preemption count.
 *
 * Pruning (sound): a block whose threads touched no common object with one
 * of them writing, and in which no thread waited, ends in the same state
 * with each thread having done the same whatever the interleaving (every
 * interleaving is a linearisation of the same partial order), so its
 * decisions are not backtracked. Schedule points are the only places
 * where a switch is considered: between two points a thread touches only
 * its own state (data-race freedom, which the TSan runs check).
 *
 * Shards: an execution is named by its deviations from the default policy
 * (decision index, thread). Those with two or more deviations are split by
 * a hash of their first two: every execution below that pair belongs to
 * the shard the hash names, so a shard prunes the others' pairs the moment
 * it would create them. The few executions with fewer deviations (about
 * one per decision) are run by every shard, since the pairs grow from
 * them, and counted by the shard their own hash names. Hashing the pairs,
 * rather than dealing out whole subtrees below first deviations, keeps the
 * shards even: those subtrees differ in size by orders of magnitude (an
 * early free switch leaves the whole preemption budget for below it).
 * Random schedules are split by their index.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "explore/explore.h"
#include "explore/mutant.h"
#include "explore/sched_internal.h"
#include "scenario/runner.h"

/* ---- the decision stack and the strategies ---- */

struct dec {
	uint64_t enabled, tried;
	unsigned char cur, chosen, deflt;
	bool cur_on;
	bool indep;            /* its block was independent */
	unsigned short pre;    /* preemptions before this decision */
	unsigned dev_before;   /* deviations from the default before it */
	uint64_t hash_before;  /* hash of those deviations (sharding) */
	unsigned block;
};

struct deviation {
	uint64_t at;
	unsigned thread;
};

enum mode { MODE_DFS, MODE_RANDOM, MODE_REPLAY };

struct search {
	enum mode mode;
	/* DFS */
	struct dec *d;
	size_t nr, cap, pos;
	/* this execution */
	unsigned pre, devs;
	bool nondet;
	char nondet_msg[256];
	struct deviation *dev;  /* the execution's deviations (its schedule) */
	size_t nr_dev, cap_dev;
	/* replay */
	const struct deviation *want;
	size_t nr_want, next_want;
	/* random (PCT) */
	uint64_t rng;
	uint64_t prio[SCHED_MAX_THREADS];
	bool has_prio[SCHED_MAX_THREADS];
	uint64_t change_at[8];
	unsigned nr_change;
	uint64_t decisions; /* made so far in this execution */
	/* sharding */
	unsigned shard, nr_shards;
	uint64_t dev_hash;     /* hash of this execution's deviations so far */
	bool oom;
};

static unsigned default_choice(uint64_t enabled, unsigned cur, bool cur_on)
{
	return cur_on ? cur : (unsigned)__builtin_ctzll(enabled);
}

static void note_deviation(struct search *s, uint64_t at, unsigned t)
{
	if (s->nr_dev == s->cap_dev) {
		size_t cap = s->cap_dev ? 2 * s->cap_dev : 64;
		struct deviation *n = realloc(s->dev, cap * sizeof(*n));

		if (!n) {
			s->oom = true;
			return;
		}
		s->dev = n;
		s->cap_dev = cap;
	}
	s->dev[s->nr_dev++] = (struct deviation){ at, t };
}

static uint64_t rng_next(uint64_t *x)
{
	/* splitmix64 */
	uint64_t z = (*x += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

#define SHARD_SPLIT 2 /* deviations that name a shard's subtree */

static uint64_t dev_hash_step(uint64_t h, uint64_t at, unsigned thread)
{
	uint64_t x = h ^ (at * 0x9E3779B97F4A7C15ull) ^ ((uint64_t)thread << 56);

	return rng_next(&x);
}

static bool shard_owns(const struct search *s, uint64_t hash)
{
	return s->nr_shards <= 1 || hash % s->nr_shards == s->shard;
}

static unsigned choose_dfs(struct search *s, uint64_t enabled, unsigned cur, bool cur_on,
			   unsigned deflt)
{
	struct dec *d;

	if (s->pos < s->nr) {
		d = &s->d[s->pos++];
		if (d->enabled != enabled || d->cur != cur || !((enabled >> d->chosen) & 1)) {
			if (!s->nondet)
				snprintf(s->nondet_msg, sizeof(s->nondet_msg),
					 "decision %zu: enabled threads %#" PRIx64 " (thread %u running), the recorded execution had %#" PRIx64 " (thread %u)",
					 s->pos - 1, enabled, cur, d->enabled, d->cur);
			s->nondet = true;
			return deflt;
		}
		return d->chosen;
	}
	if (s->nr == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 256;
		struct dec *n = realloc(s->d, cap * sizeof(*n));

		if (!n) {
			s->oom = true;
			return deflt;
		}
		s->d = n;
		s->cap = cap;
	}
	d = &s->d[s->nr++];
	*d = (struct dec){
		.enabled = enabled,
		.tried = 1ull << deflt,
		.cur = (unsigned char)cur,
		.chosen = (unsigned char)deflt,
		.deflt = (unsigned char)deflt,
		.cur_on = cur_on,
		.pre = (unsigned short)s->pre,
		.dev_before = s->devs,
		.hash_before = s->dev_hash,
		.block = sched_current_block(),
	};
	s->pos++;
	return deflt;
}

static unsigned choose_random(struct search *s, uint64_t enabled, unsigned cur, uint64_t at)
{
	unsigned best = SCHED_MAX_THREADS;

	for (unsigned j = 0; j < s->nr_change; j++)
		if (s->change_at[j] == at && s->has_prio[cur])
			s->prio[cur] = j; /* below every initial priority */
	for (unsigned i = 0; i < SCHED_MAX_THREADS; i++) {
		if (!((enabled >> i) & 1))
			continue;
		if (!s->has_prio[i]) {
			s->prio[i] = 16 + (rng_next(&s->rng) >> 8);
			s->has_prio[i] = true;
		}
		if (best == SCHED_MAX_THREADS || s->prio[i] > s->prio[best])
			best = i;
	}
	return best;
}

static unsigned choose_replay(struct search *s, uint64_t enabled, uint64_t at, unsigned deflt)
{
	if (s->next_want < s->nr_want && s->want[s->next_want].at == at) {
		unsigned t = s->want[s->next_want++].thread;

		if (t < SCHED_MAX_THREADS && ((enabled >> t) & 1))
			return t;
		if (!s->nondet)
			snprintf(s->nondet_msg, sizeof(s->nondet_msg),
				 "decision %" PRIu64 ": the schedule runs thread %u, which is not enabled there (enabled %#" PRIx64 ")",
				 at, t, enabled);
		s->nondet = true;
	}
	return deflt;
}

static unsigned strategy_choose(void *arg, uint64_t enabled, unsigned cur, bool cur_on)
{
	struct search *s = arg;
	unsigned deflt = default_choice(enabled, cur, cur_on);
	uint64_t at = s->decisions; /* this decision's index in the execution */
	unsigned c;

	switch (s->mode) {
	case MODE_DFS:
		c = choose_dfs(s, enabled, cur, cur_on, deflt);
		break;
	case MODE_RANDOM:
		c = choose_random(s, enabled, cur, at);
		break;
	default:
		c = choose_replay(s, enabled, at, deflt);
		break;
	}
	if (c != deflt) {
		note_deviation(s, at, c);
		s->devs++;
		s->dev_hash = dev_hash_step(s->dev_hash, at, c);
	}
	if (cur_on && c != cur)
		s->pre++;
	s->decisions++;
	return c;
}

static void strategy_block_end(void *arg, unsigned block, bool independent)
{
	struct search *s = arg;

	if (s->mode != MODE_DFS)
		return;
	if (independent)
		for (size_t i = 0; i < s->nr; i++)
			if (s->d[i].block == block)
				s->d[i].indep = true;
}

/*
 * Next execution of the DFS at preemption bound @bound: false when the
 * bounded space is exhausted.
 */
static bool backtrack(struct search *s, unsigned bound)
{
	while (s->nr > 0) {
		struct dec *d = &s->d[s->nr - 1];
		uint64_t cand = d->indep ? 0 : d->enabled & ~d->tried;

		while (cand) {
			unsigned a = (unsigned)__builtin_ctzll(cand);
			unsigned cost = d->cur_on && a != d->cur;

			cand &= cand - 1;
			d->tried |= 1ull << a;
			if (d->pre + cost > bound)
				continue;
			/* The second deviation names the subtree's shard. */
			if (d->dev_before + 1 == SHARD_SPLIT &&
			    !shard_owns(s, dev_hash_step(d->hash_before, (uint64_t)(d - s->d), a)))
				continue;
			d->chosen = (unsigned char)a;
			return true;
		}
		s->nr--;
	}
	return false;
}

/* ---- schedules as text ---- */

/*
 * "-" for the default schedule, else "AT:THREAD,AT:THREAD,...", written
 * into @buf (the result's fixed field: no allocation, so a violation found
 * is never lost for want of memory to write its schedule). Returns false
 * when it did not fit: @buf then holds as much as fits.
 */
static bool schedule_string(const struct deviation *dev, size_t nr, char *buf, size_t size)
{
	size_t off = 0;

	if (!nr) {
		snprintf(buf, size, "-");
		return true;
	}
	buf[0] = '\0';
	for (size_t i = 0; i < nr; i++) {
		int n = snprintf(buf + off, size - off, "%s%" PRIu64 ":%u", i ? "," : "",
				 dev[i].at, dev[i].thread);

		if (n < 0 || (size_t)n >= size - off)
			return false;
		off += (size_t)n;
	}
	return true;
}

static int schedule_parse(const char *text, struct deviation **out, size_t *nr, char *err,
			  size_t err_size)
{
	struct deviation *d = NULL;
	size_t n = 0, cap = 0;
	const char *p = text;
	uint64_t last = 0;

	*out = NULL;
	*nr = 0;
	if (!strcmp(text, "-"))
		return 0;
	while (*p) {
		char *end;
		unsigned long long at, t;

		errno = 0;
		at = strtoull(p, &end, 10);
		if (end == p || *end != ':' || errno)
			goto bad;
		p = end + 1;
		t = strtoull(p, &end, 10);
		if (end == p || errno || t >= SCHED_MAX_THREADS || (n && at <= last))
			goto bad;
		p = end;
		if (*p == ',')
			p++;
		else if (*p)
			goto bad;
		if (n == cap) {
			struct deviation *g;

			cap = cap ? 2 * cap : 16;
			g = realloc(d, cap * sizeof(*g));
			if (!g) {
				free(d);
				snprintf(err, err_size, "out of memory");
				return -1;
			}
			d = g;
		}
		d[n++] = (struct deviation){ at, (unsigned)t };
		last = at;
	}
	*out = d;
	*nr = n;
	return 0;
bad:
	free(d);
	snprintf(err, err_size,
		 "bad schedule at column %zu: expected DECISION:THREAD[,DECISION:THREAD...] with increasing decisions, or '-'",
		 (size_t)(p - text) + 1);
	return -1;
}

/* ---- one execution of a program ---- */

struct program {
	/* a scenario */
	const struct scn_script *script;
	const char *name;
	FILE *cap_out, *cap_err;
	char *out_buf, *err_buf;
	size_t out_len, err_len;
	/* or a C body */
	tdxmmu_explore_fn fn;
	void *arg;
};

struct exec_outcome {
	uint64_t steps, decisions;
	bool violation;
	bool usage;            /* exit 2 from the scenario: stop, exit 2 */
	char message[1024];
	unsigned preemptions;
};

static void first_line_with(const char *buf, size_t len, const char *needle, char *out,
			    size_t size)
{
	const char *p = buf, *end = buf + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);

		if (memmem(p, l, needle, strlen(needle))) {
			snprintf(out, size, "%.*s", (int)l, p);
			return;
		}
		p += l + 1;
	}
	snprintf(out, size, "%.*s", (int)(len > 300 ? 300 : len), buf);
}

static void run_program(struct program *pg, struct search *s, bool trace, uint64_t budget,
			struct exec_outcome *o)
{
	struct sched_strategy st = {
		.choose = strategy_choose,
		.block_end = strategy_block_end,
		.arg = s,
	};
	struct sched_exec_opts eo = { .strategy = &st, .trace = trace, .step_budget = budget };
	struct sched_exec_result res;
	int status = 0;
	char body_msg[512] = "";

	s->pos = 0;
	s->pre = 0;
	s->devs = 0;
	s->dev_hash = 0;
	s->nr_dev = 0;
	s->next_want = 0;
	s->nondet = false;
	s->decisions = 0;
	memset(o, 0, sizeof(*o));
	if (pg->script) {
		struct tdxmmu_run_options ro = { .quiet = true };

		rewind(pg->cap_out);
		rewind(pg->cap_err);
		ro.out = pg->cap_out;
		ro.err = pg->cap_err;
		if (sched_begin(&eo)) {
			o->usage = true;
			snprintf(o->message, sizeof(o->message),
				 "cannot start an execution: out of memory, or too many abandoned (deadlocked) executions in this process");
			return;
		}
		status = scn_run_script(pg->script, pg->name, &scn_backend_tdxmmu, &ro);
		sched_end(&res);
		fflush(pg->cap_out);
		fflush(pg->cap_err);
	} else {
		if (sched_begin(&eo)) {
			o->usage = true;
			snprintf(o->message, sizeof(o->message),
				 "cannot start an execution: out of memory, or too many abandoned (deadlocked) executions in this process");
			return;
		}
		sched_block_begin();
		status = pg->fn(pg->arg, body_msg, sizeof(body_msg)) ? 1 : 0;
		sched_block_end();
		sched_end(&res);
	}
	o->preemptions = s->pre;
	o->steps = res.steps;
	o->decisions = res.decisions;
	if (res.violation) {
		o->violation = true;
		snprintf(o->message, sizeof(o->message), "%s", res.message);
	} else if (status == SCN_EXIT_FAIL || status == SCN_EXIT_BUG) {
		o->violation = true;
		if (!pg->script)
			snprintf(o->message, sizeof(o->message), "%s",
				 body_msg[0] ? body_msg : "the program reported a failure");
		else if (status == SCN_EXIT_FAIL)
			first_line_with(pg->out_buf, ftell(pg->cap_out) > 0 ? (size_t)ftell(pg->cap_out) : 0,
					"FAIL", o->message, sizeof(o->message));
		else {
			char line[900];

			first_line_with(pg->err_buf, ftell(pg->cap_err) > 0 ? (size_t)ftell(pg->cap_err) : 0,
					"", line, sizeof(line));
			snprintf(o->message, sizeof(o->message), "exit 3 (the model broke): %s", line);
		}
	} else if (status == SCN_EXIT_USAGE) {
		o->usage = true;
		first_line_with(pg->err_buf, ftell(pg->cap_err) > 0 ? (size_t)ftell(pg->cap_err) : 0, "",
				o->message, sizeof(o->message));
	}
}

/* ---- the explanation ---- */

static void explain(struct program *pg, struct search *s, FILE *f, uint64_t budget)
{
	struct exec_outcome o;
	const struct sched_step *st;
	size_t nr;
	unsigned last_thread = UINT32_MAX;
	uint64_t shown = 0;

	s->mode = MODE_REPLAY;
	run_program(pg, s, true, budget, &o);
	st = sched_trace(&nr);
	fprintf(f, "interleaving (every step inside the explored blocks; '>' marks a switch, '*' a preemption):\n");
	for (size_t i = 0; i < nr; i++) {
		const struct sched_step *p = &st[i];
		bool sw;

		if (!p->block)
			continue;
		sw = last_thread != UINT32_MAX && p->thread != last_thread;
		fprintf(f, "%6" PRIu64 " %c %-8s %-12s %-22s %s:%d %s\n", ++shown,
			sw ? (i && st[i - 1].preempted ? '*' : '>') : ' ',
			sched_thread_name(p->thread), sched_op_name(p->site->op),
			p->site->what ? p->site->what : "", p->site->file, p->site->line,
			p->site->func ? p->site->func : "");
		if (p->note != SIZE_MAX)
			fprintf(f, "%33s%s\n", "", sched_trace_note(p->note));
		last_thread = p->thread;
	}
	/* Say so when the replay is not the whole story: it could not run
	 * to its end, or some of its steps could not be recorded. */
	if (sched_trace_lost())
		fprintf(f, "(steps are missing above: out of memory recording them)\n");
	if (o.usage)
		fprintf(f, "then: the replay stopped: %s\n", o.message);
	else if (s->oom)
		fprintf(f, "then: the replay stopped: out of memory\n");
	else if (o.violation)
		fprintf(f, "then: %s\n", o.message);
	else
		fprintf(f, "then: no violation\n");
}

/* ---- the search ---- */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

TDXMMU_API void tdxmmu_explore_options_init(struct tdxmmu_explore_options *o)
{
	memset(o, 0, sizeof(*o));
	o->preemptions = 2;
	o->nr_shards = 1;
}

static int set_mutant(const struct tdxmmu_explore_options *o, char *err, size_t err_size)
{
	int m;

	atomic_store(&mutant_mask, 0);
	if (!o->mutant || !o->mutant[0])
		return 0;
	m = mutant_by_name(o->mutant);
	if (m < 0) {
		snprintf(err, err_size, "unknown mutant '%s' (tdxmmu explore --list-mutants)", o->mutant);
		return -1;
	}
	atomic_store(&mutant_mask, 1u << m);
	return 0;
}

static void found(struct tdxmmu_explore_result *r, struct search *s, const struct exec_outcome *o)
{
	r->violations++;
	if (r->violations > 1)
		return;
	if (!schedule_string(s->dev, s->nr_dev, r->schedule, sizeof(r->schedule)))
		r->schedule_truncated = true;
	snprintf(r->message, sizeof(r->message), "%s", o->message);
	r->violation_preemptions = o->preemptions;
}

/*
 * Pinning. Only one thread of a search runs at a time, so spreading them
 * over CPUs buys nothing, and every hand-over of the baton that wakes a
 * thread on another CPU pays for an inter-processor wake-up and often an
 * idle CPU's exit from its sleep state: measured on the 2-CPU CI machine,
 * the freeze race's preemption-2 space ran at ~4,700 schedules/s unpinned
 * and ~11,500/s with every thread on one CPU. Threads inherit the affinity
 * of the thread that creates them, so pinning the caller before the first
 * execution pins the lanes' pool, tdxmmu_run_vcpus()'s vCPU threads and the
 * holders of `vcpu N enter` too.
 */
struct pin {
	bool pinned;
	cpu_set_t saved;
};

static int pin_search(const struct tdxmmu_explore_options *opt, unsigned shard, unsigned nr_shards,
		      struct pin *p, char *err, size_t err_size)
{
	cpu_set_t allowed, one;
	int cpu = -1;

	p->pinned = false;
	if (opt->cpu == TDXMMU_EXPLORE_CPU_ANY)
		return 0;
	if (opt->cpu < TDXMMU_EXPLORE_CPU_ANY) {
		snprintf(err, err_size, "cpu %d: not a CPU", opt->cpu - 1);
		return -1;
	}
	/* An empty set is no answer either (the kernel never gives one; a
	 * shard's CPU below would divide by its count). */
	if (pthread_getaffinity_np(pthread_self(), sizeof(allowed), &allowed) ||
	    !CPU_COUNT(&allowed)) {
		if (opt->cpu == TDXMMU_EXPLORE_CPU_AUTO)
			return 0; /* pinning is only an optimisation */
		snprintf(err, err_size, "cpu %d: cannot read this thread's CPU affinity", opt->cpu - 1);
		return -1;
	}
	if (opt->cpu > 0) {
		cpu = opt->cpu - 1;
		if (cpu >= CPU_SETSIZE || !CPU_ISSET(cpu, &allowed)) {
			snprintf(err, err_size, "cpu %d: not a CPU this process may run on", cpu);
			return -1;
		}
	} else if (nr_shards > 1) {
		/* Shards started together (GNU parallel, several per host) land
		 * on different CPUs without talking to each other. */
		unsigned nth = shard % (unsigned)CPU_COUNT(&allowed);

		for (int c = 0; c < CPU_SETSIZE; c++)
			if (CPU_ISSET(c, &allowed) && nth-- == 0) {
				cpu = c;
				break;
			}
	} else {
		cpu = sched_getcpu();
		if (cpu < 0 || cpu >= CPU_SETSIZE || !CPU_ISSET(cpu, &allowed))
			return 0;
	}
	if (cpu < 0)
		return 0;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	if (pthread_setaffinity_np(pthread_self(), sizeof(one), &one)) {
		if (opt->cpu == TDXMMU_EXPLORE_CPU_AUTO)
			return 0;
		snprintf(err, err_size, "cpu %d: cannot pin to it", cpu);
		return -1;
	}
	p->saved = allowed;
	p->pinned = true;
	return 0;
}

static void unpin_search(struct pin *p)
{
	if (p->pinned)
		pthread_setaffinity_np(pthread_self(), sizeof(p->saved), &p->saved);
}

static int explore_program(struct program *pg, const struct tdxmmu_explore_options *opt,
			   struct tdxmmu_explore_result *r)
{
	struct search s = { 0 };
	struct exec_outcome o;
	struct deviation *want = NULL;
	struct pin pin;
	double t0 = now_s();
	uint64_t budget = opt->max_schedules;
	unsigned shard = opt->nr_shards > 1 ? opt->shard : 0;
	unsigned nr_shards = opt->nr_shards ? opt->nr_shards : 1;
	int rc = 0;

	memset(r, 0, sizeof(*r));
	r->preemption_bound = opt->preemptions;
	r->shard = shard;
	r->nr_shards = nr_shards;
	if (nr_shards > 1 && shard >= nr_shards) {
		snprintf(r->message, sizeof(r->message), "shard %u of %u does not exist", shard, nr_shards);
		return 2;
	}
	if (set_mutant(opt, r->message, sizeof(r->message)))
		return 2;
	s.shard = shard;
	s.nr_shards = nr_shards;
	if (pin_search(opt, shard, nr_shards, &pin, r->message, sizeof(r->message)))
		return 2;

	if (opt->replay) {
		size_t n;

		if (schedule_parse(opt->replay, &want, &n, r->message, sizeof(r->message))) {
			rc = 2;
			goto out;
		}
		s.mode = MODE_REPLAY;
		s.want = want;
		s.nr_want = n;
		run_program(pg, &s, false, opt->step_budget, &o);
		r->executions = r->schedules = 1;
		if (s.oom) {
			snprintf(r->message, sizeof(r->message), "out of memory");
			rc = 2;
			goto out;
		}
		if (s.nondet) {
			snprintf(r->message, sizeof(r->message),
				 "the schedule does not fit this program: %s", s.nondet_msg);
			rc = 2;
			goto out;
		}
		if (o.usage) {
			snprintf(r->message, sizeof(r->message), "%s", o.message);
			rc = 2;
			goto out;
		}
		r->complete = true;
		if (o.violation) {
			found(r, &s, &o);
			snprintf(r->schedule, sizeof(r->schedule), "%s", opt->replay);
		}
	} else if (opt->random) {
		s.mode = MODE_RANDOM;
		for (uint64_t i = 0; i < opt->random; i++) {
			if (i % nr_shards != shard)
				continue;
			if (budget && r->schedules >= budget)
				break;
			s.rng = opt->seed ^ (i * 0xD1B54A32D192ED03ull) ^ 0x5DEECE66Dull;
			memset(s.has_prio, 0, sizeof(s.has_prio));
			s.nr_change = opt->preemptions < 8 ? opt->preemptions : 8;
			for (unsigned j = 0; j < s.nr_change; j++)
				s.change_at[j] = rng_next(&s.rng) % (r->last_decisions ? r->last_decisions : 64);
			run_program(pg, &s, false, opt->step_budget, &o);
			r->last_decisions = s.decisions;
			r->executions++;
			r->steps += o.steps;
			r->schedules++;
			/* The schedule's deviations could not all be recorded:
			 * a violation's schedule would be wrong. */
			if (s.oom) {
				snprintf(r->message, sizeof(r->message), "out of memory");
				rc = 2;
				goto out;
			}
			if (o.usage) {
				snprintf(r->message, sizeof(r->message), "%s", o.message);
				rc = 2;
				goto out;
			}
			if (o.violation) {
				found(r, &s, &o);
				break;
			}
		}
		r->complete = false;
	} else {
		bool stop = false;

		s.mode = MODE_DFS;
		r->complete = true;
		for (unsigned k = 0; k <= opt->preemptions && !stop; k++) {
			s.nr = 0;
			for (;;) {
				bool mine;
				bool counted;

				if (budget && r->schedules >= budget) {
					r->complete = false;
					stop = true;
					break;
				}
				run_program(pg, &s, false, opt->step_budget, &o);
				r->executions++;
				r->steps += o.steps;
				if (s.oom) {
					snprintf(r->message, sizeof(r->message), "out of memory");
					rc = 2;
					goto out;
				}
				if (s.nondet) {
					snprintf(r->message, sizeof(r->message),
						 "the model is not deterministic under the scheduler: %s",
						 s.nondet_msg);
					rc = 3;
					goto out;
				}
				if (o.usage) {
					snprintf(r->message, sizeof(r->message), "%s", o.message);
					rc = 2;
					goto out;
				}
				/* Below SHARD_SPLIT deviations every shard runs
				 * it; it is the hash's shard's to count. */
				mine = s.devs >= SHARD_SPLIT || shard_owns(&s, s.dev_hash);
				counted = mine && s.pre == k;
				if (counted)
					r->schedules++;
				if (o.violation && mine) {
					found(r, &s, &o);
					r->complete = false;
					stop = true;
					break;
				}
				if (!backtrack(&s, k))
					break;
			}
			if (!stop)
				r->levels_done = k + 1;
		}
	}
	/* A violation found by a search, or any replay, is explained. */
	if ((r->violations || opt->replay) && opt->explain && opt->out && !rc) {
		size_t n;

		free(want);
		want = NULL;
		char why[256];

		if (!schedule_parse(opt->replay ? opt->replay : r->schedule, &want, &n, why,
				    sizeof(why))) {
			struct search e = { .mode = MODE_REPLAY, .want = want, .nr_want = n };

			explain(pg, &e, opt->out, opt->step_budget);
			free(e.dev);
		} else {
			/* Not silently: the caller asked for one. */
			fprintf(opt->out, "no explanation: %s\n", why);
		}
	}
out:
	scn_lane_pool_drain();
	unpin_search(&pin);
	r->seconds = now_s() - t0;
	r->schedules_per_s = r->seconds > 0 ? (double)r->executions / r->seconds : 0;
	atomic_store(&mutant_mask, 0);
	free(want);
	free(s.d);
	free(s.dev);
	if (rc)
		return rc;
	return r->violations ? 1 : 0;
}

/* ---- entry points ---- */

TDXMMU_API int tdxmmu_explore(tdxmmu_explore_fn fn, void *arg, const struct tdxmmu_explore_options *opts,
		   struct tdxmmu_explore_result *result)
{
	struct program pg = { .fn = fn, .arg = arg };

	if (!fn || !opts || !result)
		return 2;
	return explore_program(&pg, opts, result);
}

int tdxmmu_explore_text(const char *name, const char *text, size_t len,
			const struct tdxmmu_explore_options *opts,
			struct tdxmmu_explore_result *result)
{
	struct scn_script script;
	struct scn_error err;
	struct program pg = { .name = name };
	int rc;

	memset(result, 0, sizeof(*result));
	if (scn_parse(text, len, &script, &err)) {
		snprintf(result->message, sizeof(result->message), "%s:%zu:%zu: error: %s", name,
			 err.line, err.col, err.msg);
		return 2;
	}
	pg.script = &script;
	pg.cap_out = open_memstream(&pg.out_buf, &pg.out_len);
	pg.cap_err = open_memstream(&pg.err_buf, &pg.err_len);
	if (!pg.cap_out || !pg.cap_err) {
		snprintf(result->message, sizeof(result->message), "out of memory");
		rc = 2;
	} else {
		rc = explore_program(&pg, opts, result);
	}
	if (pg.cap_out)
		fclose(pg.cap_out);
	if (pg.cap_err)
		fclose(pg.cap_err);
	free(pg.out_buf);
	free(pg.err_buf);
	scn_script_free(&script);
	return rc;
}

TDXMMU_API int tdxmmu_explore_string(const char *name, const char *text,
				     const struct tdxmmu_explore_options *opts,
				     struct tdxmmu_explore_result *result)
{
	if (!name || !text || !opts || !result)
		return 2;
	return tdxmmu_explore_text(name, text, strlen(text), opts, result);
}

TDXMMU_API int tdxmmu_explore_file(const char *path, const struct tdxmmu_explore_options *opts,
				   struct tdxmmu_explore_result *result)
{
	size_t len;
	char *text;
	int rc;

	if (!path || !opts || !result)
		return 2;
	text = scn_read_file(path, &len);
	if (!text) {
		memset(result, 0, sizeof(*result));
		snprintf(result->message, sizeof(result->message), "%s: %s", path, strerror(errno));
		return 2;
	}
	rc = tdxmmu_explore_text(path, text, len, opts, result);
	free(text);
	return rc;
}

TDXMMU_API const char *tdxmmu_mutant_name(unsigned i)
{
	return mutant_name((enum mutant)i);
}

TDXMMU_API const char *tdxmmu_mutant_help(unsigned i)
{
	return mutant_help((enum mutant)i);
}
