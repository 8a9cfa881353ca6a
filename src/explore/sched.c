/* SPDX-License-Identifier: MIT */
/*
 * The deterministic scheduler behind schedule points (sched.h has the
 * contract the model follows; docs/exploration.md the whole design).
 *
 * The baton. Every sched thread has a semaphore; exactly one thread runs
 * model code at a time, the one whose semaphore was posted last. A thread
 * that hands over posts the next one's semaphore and waits on its own. So
 * all of `S` below is touched only by the baton holder, and each hand-over
 * (sem_post, then the other's sem_wait returning) orders everything the old
 * holder did before everything the new one does: no lock is needed, and
 * ThreadSanitizer sees the same happens-before through the semaphores.
 *
 * Enabled threads. A thread is enabled when it is runnable (it reached a
 * schedule point, or was spawned and has not started), or waiting
 * (SCHED_WAIT) and some other thread has made a W step since its wait
 * began, or joining a thread that has exited. When nothing is enabled but
 * some thread waits, that is a stall: every waiter is woken with
 * SCHED_WAIT_STALL, once; a second stall with no W step in between is a
 * deadlock. A thread that takes more than the step budget within one block
 * is a livelock. Both abandon the execution: the threads stay parked on
 * their semaphores for good, the main thread is woken out of its join, and
 * the TD is leaked rather than destroyed (its locks may be held by a
 * parked thread).
 *
 * Decisions are made only inside blocks (sched_block_begin/end); outside,
 * the running thread goes on while it can, then the lowest-numbered
 * enabled thread runs.
 */
#include <semaphore.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "explore/sched_internal.h"

_Atomic bool sched_on;
_Atomic bool sched_tracing_on;
_Atomic bool sched_block_on;
uint64_t sched_outside_writes;

enum st_state {
	ST_NEW,     /* spawned, not yet started: enabled */
	ST_RUN,     /* runnable */
	ST_WAIT,    /* in SCHED_WAIT */
	ST_JOIN,    /* in sched_thread_join */
	ST_DONE,
};

struct sthread {
	sem_t go;
	char name[24];
	enum st_state state;
	uint64_t join_mask;    /* ST_JOIN: every one of these must be done */
	uint64_t wait_writes;  /* S.writes at the waiter's last step */
	uint64_t last_writes;  /* S.writes just after this thread's last step */
	uint64_t yielded_to;   /* fairness: threads that must step before this
				* one, having waited, may run again */
	bool stalled;          /* woken by a stall */
	uint64_t block_steps;
	int rcu_nest;
	uint64_t rcu_enter_seq;
};

/* Conflict tracking within a block: object -> which threads read, wrote. */
#define CONFLICT_SLOTS 8192u

struct conflict_slot {
	const void *obj;
	uint64_t readers, writers;
};

struct rcu_cb {
	void *head;
	void (*fn)(void *head);
	uint64_t seq;
};

static struct {
	struct sthread *t;     /* SCHED_MAX_THREADS, per execution */
	unsigned nr;
	unsigned cur;
	const struct sched_strategy *strategy;
	uint64_t step_budget;
	bool in_block;
	unsigned block;        /* blocks begun so far */
	uint64_t writes;       /* W steps so far */
	bool stall_armed;      /* a stall happened and no W step since */
	uint64_t stall_outside; /* sched_outside_writes at that stall */
	bool abandoned;
	bool waited;           /* a thread of the block waited */
	bool conflict;         /* two threads of the block conflicted */
	uint64_t steps, decisions, preemptions;
	struct sched_exec_result *res_pending;
	bool violation;
	char message[768];
	/* conflicts */
	struct conflict_slot *slots;
	unsigned *used;
	unsigned nr_used;
	bool overflow;
	/* RCU */
	struct rcu_cb *cbs;
	size_t nr_cbs, cap_cbs, cb_head;
	uint64_t rcu_seq;
	/* trace */
	bool trace;
	struct sched_step *steps_buf;
	size_t nr_steps, cap_steps;
	bool trace_lost;       /* a step or note could not be recorded */
	char *notes;
	size_t notes_len, notes_cap;
} S;

/*
 * Thread tables, one per generation: a new generation starts after an
 * abandoned execution, whose parked threads (some perhaps not even started
 * yet) keep using theirs for good. A token names generation and slot, and
 * each entry is written once, before any thread of its generation exists,
 * so a late starter reads its own table without a race.
 */
#define SCHED_MAX_GENERATIONS 1024
static struct sthread *tables[SCHED_MAX_GENERATIONS];
static unsigned generation;

/* initial-exec: one %fs-relative load, not a __tls_get_addr call per
 * schedule point (the library is linked, not dlopen'ed, by its users). */
static _Thread_local struct sthread *self __attribute__((tls_model("initial-exec")));
static _Thread_local unsigned self_idx __attribute__((tls_model("initial-exec")));

static const char *const op_names[SCHED_NR_OPS] = {
	[SCHED_SPTE_READ] = "spte-read",       [SCHED_SPTE_CMPXCHG] = "spte-cmpxchg",
	[SCHED_SPTE_FREEZE] = "spte-freeze",   [SCHED_SPTE_WRITE] = "spte-write",
	[SCHED_MMU_LOCK] = "mmu_lock",         [SCHED_MMU_UNLOCK] = "mmu_unlock",
	[SCHED_MUTEX_LOCK] = "lock",           [SCHED_MUTEX_UNLOCK] = "unlock",
	[SCHED_TDX_LOCK] = "tdx-trylock",      [SCHED_TDX_UNLOCK] = "tdx-unlock",
	[SCHED_SEPT_READ] = "sept-read",       [SCHED_SEPT_WRITE] = "sept-write",
	[SCHED_PAMT_READ] = "pamt-read",       [SCHED_PAMT_WRITE] = "pamt-write",
	[SCHED_EPOCH] = "epoch",               [SCHED_REFCOUNT] = "refcount",
	[SCHED_TLB_FILL] = "tlb-fill",         [SCHED_TLB_FLUSH] = "tlb-flush",
	[SCHED_KICK] = "kick",                 [SCHED_REQUEST] = "request",
	[SCHED_RCU_LOCK] = "rcu-lock",         [SCHED_RCU_UNLOCK] = "rcu-unlock",
	[SCHED_RCU_FREE] = "rcu-free",         [SCHED_FRAME_KEY] = "frame-key",
	[SCHED_FRAME_DATA] = "frame-data",     [SCHED_VCPU] = "vcpu-state",
	[SCHED_MISC] = "other",
};

const char *sched_op_name(unsigned op)
{
	return op < SCHED_NR_OPS && op_names[op] ? op_names[op] : "?";
}

static const struct sched_site wait_site = { SCHED_MISC, SCHED_R, __FILE__, __LINE__,
					     "sched", "wait" };
static const struct sched_site join_site = { SCHED_MISC, SCHED_R, __FILE__, __LINE__,
					     "sched", "join" };
static const struct sched_site exit_site = { SCHED_MISC, SCHED_W, __FILE__, __LINE__,
					     "sched", "thread exit" };
static const struct sched_site start_site = { SCHED_MISC, SCHED_W, __FILE__, __LINE__,
					      "sched", "thread start" };
static const struct sched_site rcu_site = { SCHED_RCU_FREE, SCHED_W, __FILE__, __LINE__,
					    "sched", "RCU callback" };
/* The object every RCU read-side section reads and every grace period
 * writes: readers of disjoint tables never conflict, a free and any reader
 * do (the grace period depends on the reader). */
static const char rcu_object;

/* ---- violations ---- */

static void violation_v(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
static void violation_v(const char *fmt, va_list ap)
{
	if (S.violation)
		return;
	S.violation = true;
	vsnprintf(S.message, sizeof(S.message), fmt, ap);
}

void sched_violation(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	violation_v(fmt, ap);
	va_end(ap);
}

static void violation(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void violation(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	violation_v(fmt, ap);
	va_end(ap);
}

bool sched_abandoned(void)
{
	return sched_enabled() && S.abandoned;
}

/* ---- trace ---- */

static void trace_step(unsigned thread, const struct sched_site *site, const void *obj)
{
	if (S.nr_steps == S.cap_steps) {
		size_t cap = S.cap_steps ? 2 * S.cap_steps : 1024;
		struct sched_step *n = realloc(S.steps_buf, cap * sizeof(*n));

		if (!n) {
			S.trace_lost = true;
			return;
		}
		S.steps_buf = n;
		S.cap_steps = cap;
	}
	S.steps_buf[S.nr_steps++] = (struct sched_step){
		.thread = thread,
		.block = S.in_block ? S.block : 0,
		.site = site,
		.obj = obj,
		.note = SIZE_MAX,
	};
}

void sched_note(const char *fmt, ...)
{
	va_list ap;
	int n;

	/* Only inside blocks, where steps are recorded: outside, a note
	 * would land on the thread's last step inside one (main's join). */
	if (!self || !S.trace || !S.nr_steps || !S.in_block)
		return;
	/* The latest step of the calling thread. */
	for (size_t i = S.nr_steps; i-- > 0;) {
		struct sched_step *st = &S.steps_buf[i];

		if (st->thread != self_idx)
			continue;
		va_start(ap, fmt);
		n = vsnprintf(NULL, 0, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		/* Several notes on one step: joined with "; ". */
		if (S.notes_len + (size_t)n + 3 > S.notes_cap) {
			size_t cap = (S.notes_cap + (size_t)n + 3) * 2;
			char *b = realloc(S.notes, cap);

			if (!b) {
				S.trace_lost = true;
				return;
			}
			S.notes = b;
			S.notes_cap = cap;
		}
		if (st->note != SIZE_MAX && st->note + strlen(S.notes + st->note) + 1 == S.notes_len) {
			S.notes_len--; /* extend the step's note in place */
			memcpy(S.notes + S.notes_len, "; ", 2);
			S.notes_len += 2;
		} else {
			st->note = S.notes_len;
		}
		va_start(ap, fmt);
		vsnprintf(S.notes + S.notes_len, (size_t)n + 1, fmt, ap);
		va_end(ap);
		S.notes_len += (size_t)n + 1;
		return;
	}
}

const struct sched_step *sched_trace(size_t *nr)
{
	*nr = S.nr_steps;
	return S.steps_buf;
}

bool sched_trace_lost(void)
{
	return S.trace_lost;
}

const char *sched_trace_note(size_t off)
{
	return off < S.notes_len ? S.notes + off : "";
}

const char *sched_thread_name(unsigned thread)
{
	return S.t && thread < S.nr ? S.t[thread].name : "?";
}

/* ---- conflicts ---- */

static void conflict_reset(void)
{
	for (unsigned i = 0; i < S.nr_used; i++)
		S.slots[S.used[i]] = (struct conflict_slot){ 0 };
	S.nr_used = 0;
	S.overflow = false;
	S.conflict = false;
	S.waited = false;
}

static void conflict_record(unsigned thread, const void *obj, bool write)
{
	uint64_t me = 1ull << thread;
	unsigned h, i;

	if (S.conflict || !obj)
		return;
	h = (unsigned)(((uintptr_t)obj >> 3) * 0x9E3779B97F4A7C15ull >> 51);
	for (i = 0; i < 64; i++) {
		struct conflict_slot *s = &S.slots[(h + i) & (CONFLICT_SLOTS - 1)];

		if (s->obj == obj) {
			if ((write && ((s->readers | s->writers) & ~me)) ||
			    (!write && (s->writers & ~me)))
				S.conflict = true;
			if (write)
				s->writers |= me;
			else
				s->readers |= me;
			return;
		}
		if (!s->obj) {
			s->obj = obj;
			if (write)
				s->writers = me;
			else
				s->readers = me;
			S.used[S.nr_used++] = (h + i) & (CONFLICT_SLOTS - 1);
			return;
		}
	}
	/* Table crowded: assume the worst (no reduction for this block). */
	S.conflict = true;
}

/* ---- choosing ---- */

static bool enabled(unsigned i)
{
	const struct sthread *t = &S.t[i];

	switch (t->state) {
	case ST_NEW:
	case ST_RUN:
		return true;
	case ST_WAIT:
		return S.writes + sched_outside_writes > t->wait_writes;
	case ST_JOIN:
		for (uint64_t m = t->join_mask; m; m &= m - 1)
			if (S.t[__builtin_ctzll(m)].state != ST_DONE)
				return false;
		return true;
	default:
		return false;
	}
}

static uint64_t enabled_mask(void)
{
	uint64_t m = 0;

	for (unsigned i = 0; i < S.nr; i++)
		if (enabled(i))
			m |= 1ull << i;
	return m;
}

static void abandon(const char *why)
{
	violation("%s", why);
	S.abandoned = true;
}

/*
 * The thread to run next, from the point where the current one (@me) stops
 * or may go on. Returns SCHED_MAX_THREADS when nothing can run (abandoned).
 */
static unsigned pick(unsigned me)
{
	uint64_t m = enabled_mask();
	bool me_on;
	unsigned next;

	if (!m) {
		bool any_wait = false;

		for (unsigned i = 0; i < S.nr; i++)
			any_wait |= S.t[i].state == ST_WAIT;
		if (S.stall_armed && S.stall_outside != sched_outside_writes)
			S.stall_armed = false; /* a write outside blocks since */
		if (!any_wait || S.stall_armed) {
			char why[512];
			size_t off = 0;

			off += (size_t)snprintf(why + off, sizeof(why) - off,
						"deadlock: no thread can run (");
			for (unsigned i = 0; i < S.nr && off < sizeof(why); i++)
				if (S.t[i].state == ST_WAIT || S.t[i].state == ST_JOIN)
					off += (size_t)snprintf(why + off, sizeof(why) - off,
								"%s%s %s", i ? ", " : "",
								S.t[i].name,
								S.t[i].state == ST_WAIT ? "waits" : "joins");
			if (off < sizeof(why))
				snprintf(why + off, sizeof(why) - off, ")");
			abandon(why);
			return SCHED_MAX_THREADS;
		}
		/* A stall: every waiter re-checks once, told nobody else
		 * will change anything. */
		S.stall_armed = true;
		S.stall_outside = sched_outside_writes;
		for (unsigned i = 0; i < S.nr; i++)
			if (S.t[i].state == ST_WAIT) {
				S.t[i].state = ST_RUN;
				S.t[i].stalled = true;
			}
		m = enabled_mask();
	}
	/*
	 * Fairness (CHESS's fair scheduling, Musuvathi & Qadeer, PLDI 2008):
	 * a thread that waited yields to every thread enabled when it began
	 * to wait, until each of them has taken a step (or is no longer
	 * enabled). Without it, two threads that wake each other with their
	 * failed attempts could be scheduled against each other for ever
	 * while the thread they wait for never runs: an unfair schedule no
	 * real scheduler produces, which the search would report as a
	 * livelock. If the yields form a cycle, everyone enabled may run.
	 */
	{
		uint64_t fair = 0;

		for (uint64_t r = m; r; r &= r - 1) {
			unsigned i = (unsigned)__builtin_ctzll(r);

			if (!(S.t[i].yielded_to & m))
				fair |= 1ull << i;
		}
		if (fair)
			m = fair;
	}
	me_on = (m >> me) & 1;
	if (!(m & (m - 1)))
		return (unsigned)__builtin_ctzll(m);
	if (!S.in_block || !S.strategy)
		return me_on ? me : (unsigned)__builtin_ctzll(m);
	next = S.strategy->choose(S.strategy->arg, m, me, me_on);
	if (next >= S.nr || !((m >> next) & 1))
		next = me_on ? me : (unsigned)__builtin_ctzll(m);
	S.decisions++;
	if (me_on && next != me)
		S.preemptions++;
	if (S.trace && S.nr_steps) {
		S.steps_buf[S.nr_steps - 1].decision = true;
		S.steps_buf[S.nr_steps - 1].preempted = me_on && next != me;
	}
	return next;
}

/* Hands the baton to @next (if not the caller) and waits for it back.
 * @park_forever: the caller never runs again (abandoned). */
static void hand_over(unsigned me, unsigned next)
{
	struct sthread *my = &S.t[me];

	if (next == me)
		return;
	if (next == SCHED_MAX_THREADS) {
		/* Abandoned: main (thread 0) takes the baton back, out of its
		 * join; everyone else stays parked. */
		if (me == 0)
			return;
		S.cur = 0;
		sem_post(&S.t[0].go);
		for (;;)
			sem_wait(&my->go);
	}
	S.cur = next;
	sem_post(&S.t[next].go);
	while (sem_wait(&my->go))
		;
	if (S.abandoned && me != 0)
		for (;;)
			sem_wait(&my->go);
}

static bool live(void)
{
	return self && !S.abandoned;
}

static void step(const struct sched_site *site, const void *obj)
{
	unsigned me = self_idx;

	S.steps++;
	for (unsigned i = 0; i < S.nr; i++)
		S.t[i].yielded_to &= ~(1ull << me);
	if (site->access == SCHED_W) {
		S.writes++;
		S.stall_armed = false;
	}
	if (S.in_block) {
		conflict_record(me, obj, site->access == SCHED_W);
		if (me != 0 && ++self->block_steps > S.step_budget) {
			char why[256];

			snprintf(why, sizeof(why),
				 "livelock: %s took %llu steps in one block without finishing (budget %llu; last at %s:%d %s)",
				 self->name, (unsigned long long)self->block_steps - 1,
				 (unsigned long long)S.step_budget, site->file, site->line,
				 site->what ? site->what : "");
			abandon(why);
			hand_over(me, SCHED_MAX_THREADS);
			return;
		}
	}
	if (S.trace)
		trace_step(me, site, obj);
	self->last_writes = S.writes + sched_outside_writes;
}

void sched_point(const struct sched_site *site, const void *obj)
{
	unsigned me;

	if (!live())
		return;
	me = self_idx;
	step(site, obj);
	/* Outside blocks the running thread goes on while it can, and at a
	 * schedule point it can: nothing to decide. */
	if (S.abandoned || !S.in_block)
		return;
	hand_over(me, pick(me));
}

bool sched_self_active(void)
{
	return sched_enabled() && live();
}

enum sched_wait_result sched_wait(const struct sched_site *site, const void *obj)
{
	unsigned me;

	if (!live())
		return SCHED_WAIT_NONE;
	me = self_idx;
	if (S.in_block)
		S.waited = true;
	if (S.trace)
		trace_step(me, site ? site : &wait_site, obj);
	self->state = ST_WAIT;
	self->stalled = false;
	/*
	 * Woken by a write made after the waiter's last step, not after the
	 * wait began: the waiter decided to wait on what it saw at that step
	 * (a failed try-lock, a BUSY answer), and a write by another thread
	 * between that step and this call (the waiter may have passed other
	 * points on its way here) must not be lost.
	 */
	self->wait_writes = self->last_writes;
	self->yielded_to = enabled_mask() & ~(1ull << me);
	hand_over(me, pick(me));
	if (S.abandoned)
		return me == 0 ? SCHED_WAIT_STALL : SCHED_WAIT_NONE;
	self->state = ST_RUN;
	/* What the caller re-checks now includes every write so far. */
	self->last_writes = S.writes + sched_outside_writes;
	return self->stalled ? SCHED_WAIT_STALL : SCHED_WAIT_PROGRESS;
}

/* ---- threads ---- */

int sched_thread_spawn(const char *name)
{
	struct sthread *t;

	if (!sched_enabled() || !live())
		return -1;
	if (S.nr == SCHED_MAX_THREADS) {
		abandon("more model threads than the scheduler handles (64)");
		return -1;
	}
	t = &S.t[S.nr];
	memset(t, 0, sizeof(*t));
	sem_init(&t->go, 0, 0);
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->state = ST_NEW;
	return (int)(generation * SCHED_MAX_THREADS + S.nr++);
}

void sched_thread_start(int token)
{
	if (token < 0)
		return;
	self = &tables[token / SCHED_MAX_THREADS][token % SCHED_MAX_THREADS];
	self_idx = (unsigned)token % SCHED_MAX_THREADS;
	while (sem_wait(&self->go))
		;
	if (S.abandoned)
		for (;;)
			sem_wait(&self->go);
	self->state = ST_RUN;
	if (S.trace)
		trace_step(self_idx, &start_site, NULL);
}

void sched_thread_exit(void)
{
	unsigned me, next;

	if (!self)
		return;
	if (S.abandoned) {
		self = NULL;
		return;
	}
	me = self_idx;
	S.writes++; /* a joiner waits for this */
	S.stall_armed = false;
	if (S.trace)
		trace_step(me, &exit_site, NULL);
	self->state = ST_DONE;
	self = NULL;
	next = pick(me);
	if (next == SCHED_MAX_THREADS) {
		S.cur = 0;
		sem_post(&S.t[0].go);
		return;
	}
	S.cur = next;
	sem_post(&S.t[next].go);
}

void sched_thread_join_all(const int *tokens, unsigned nr)
{
	uint64_t mask = 0;
	unsigned me;

	if (!live())
		return;
	for (unsigned i = 0; i < nr; i++) {
		unsigned t = (unsigned)tokens[i] % SCHED_MAX_THREADS;

		if (tokens[i] >= 0 && t < S.nr && S.t[t].state != ST_DONE)
			mask |= 1ull << t;
	}
	if (!mask)
		return;
	me = self_idx;
	if (S.trace)
		trace_step(me, &join_site, NULL);
	self->state = ST_JOIN;
	self->join_mask = mask;
	hand_over(me, pick(me));
	self->state = ST_RUN;
}

void sched_thread_join(int token)
{
	sched_thread_join_all(&token, 1);
}

void sched_thread_cancel(int token)
{
	if (token < 0 || !self || (unsigned)token % SCHED_MAX_THREADS >= S.nr)
		return;
	S.t[token % SCHED_MAX_THREADS].state = ST_DONE;
}

/* ---- RCU ---- */

static void rcu_run_ready(void)
{
	while (S.cb_head < S.nr_cbs) {
		struct rcu_cb cb = S.cbs[S.cb_head];

		for (unsigned i = 0; i < S.nr; i++)
			if (S.t[i].state != ST_DONE && S.t[i].rcu_nest &&
			    S.t[i].rcu_enter_seq < cb.seq)
				return;
		S.cb_head++;
		if (self && !S.abandoned) {
			step(&rcu_site, &rcu_object);
			if (S.abandoned)
				return;
		}
		cb.fn(cb.head);
	}
	S.cb_head = S.nr_cbs = 0;
}

bool sched_rcu_read_lock(void)
{
	if (!sched_enabled() || !self)
		return false;
	if (S.abandoned)
		return true;
	if (self->rcu_nest++ == 0) {
		self->rcu_enter_seq = S.rcu_seq;
		if (S.in_block)
			conflict_record(self_idx, &rcu_object, false);
	}
	return true;
}

bool sched_rcu_read_unlock(void)
{
	if (!sched_enabled() || !self)
		return false;
	if (S.abandoned)
		return true;
	if (--self->rcu_nest == 0)
		rcu_run_ready();
	return true;
}

bool sched_call_rcu(void *head, void (*fn)(void *head))
{
	if (!sched_enabled() || !self)
		return false;
	if (S.abandoned)
		return true; /* leaked with the TD */
	if (S.nr_cbs == S.cap_cbs) {
		size_t cap = S.cap_cbs ? 2 * S.cap_cbs : 256;
		struct rcu_cb *n = realloc(S.cbs, cap * sizeof(*n));

		if (!n) {
			abandon("out of memory queueing an RCU callback");
			return true;
		}
		S.cbs = n;
		S.cap_cbs = cap;
	}
	S.cbs[S.nr_cbs++] = (struct rcu_cb){ head, fn, ++S.rcu_seq };
	if (S.in_block)
		conflict_record(self_idx, &rcu_object, true);
	/* Runs at once if no reader is inside; else at the last one's exit. */
	if (!self->rcu_nest)
		rcu_run_ready();
	return true;
}

bool sched_rcu_barrier(void)
{
	if (!sched_enabled() || !self)
		return false;
	if (S.abandoned)
		return true;
	rcu_run_ready();
	return true;
}

/* ---- executions and blocks ---- */

int sched_begin(const struct sched_exec_opts *opts)
{
	/* Each on its own: when one of the two could not be had, the next
	 * execution tries again for that one (and does not make the other
	 * anew, leaking it: found by test_explore_fail). */
	if (!S.slots)
		S.slots = calloc(CONFLICT_SLOTS, sizeof(*S.slots));
	if (!S.used)
		S.used = calloc(CONFLICT_SLOTS, sizeof(*S.used));
	/* A fresh thread table: an abandoned execution's parked threads
	 * still wait on the old one's semaphores. */
	if (!S.t || S.abandoned) {
		struct sthread *t;

		/* Out of generations: the parked threads of the last one
		 * could be confused with new ones; refuse. */
		if (S.t && generation + 1 == SCHED_MAX_GENERATIONS)
			return -1;
		t = calloc(SCHED_MAX_THREADS, sizeof(*t));
		if (!t || !S.slots || !S.used) {
			free(t);
			return -1;
		}
		if (S.t)
			generation++;
		tables[generation] = t;
		S.t = t;
		S.abandoned = false;
	}
	S.nr = 1;
	memset(&S.t[0], 0, sizeof(S.t[0]));
	sem_init(&S.t[0].go, 0, 0);
	snprintf(S.t[0].name, sizeof(S.t[0].name), "main");
	S.t[0].state = ST_RUN;
	S.cur = 0;
	S.strategy = opts->strategy;
	S.step_budget = opts->step_budget ? opts->step_budget : SCHED_DEFAULT_STEP_BUDGET;
	S.in_block = false;
	S.block = 0;
	S.writes = 0;
	sched_outside_writes = 0;
	atomic_store(&sched_block_on, false);
	S.stall_armed = false;
	S.abandoned = false;
	S.steps = S.decisions = S.preemptions = 0;
	S.violation = false;
	S.message[0] = '\0';
	S.nr_cbs = S.cb_head = 0;
	S.rcu_seq = 0;
	S.trace = opts->trace;
	S.nr_steps = 0;
	S.notes_len = 0;
	S.trace_lost = false;
	conflict_reset();
	self = &S.t[0];
	self_idx = 0;
	atomic_store(&sched_tracing_on, opts->trace);
	atomic_store(&sched_on, true);
	return 0;
}

void sched_end(struct sched_exec_result *res)
{
	if (!S.abandoned) {
		self->rcu_nest = 0;
		rcu_run_ready();
		for (unsigned i = 0; i < S.nr; i++)
			sem_destroy(&S.t[i].go);
	}
	atomic_store(&sched_on, false);
	atomic_store(&sched_block_on, false);
	atomic_store(&sched_tracing_on, false);
	self = NULL;
	*res = (struct sched_exec_result){
		.violation = S.violation,
		.abandoned = S.abandoned,
		.steps = S.steps,
		.decisions = S.decisions,
		.preemptions = S.preemptions,
		.blocks = S.block,
	};
	memcpy(res->message, S.message, sizeof(res->message));
}

void sched_block_begin(void)
{
	if (!sched_enabled() || !live())
		return;
	S.block++;
	S.in_block = true;
	atomic_store_explicit(&sched_block_on, true, memory_order_relaxed);
	conflict_reset();
	for (unsigned i = 0; i < S.nr; i++)
		S.t[i].block_steps = 0;
}

void sched_block_end(void)
{
	if (!sched_enabled() || !self)
		return;
	S.in_block = false;
	atomic_store_explicit(&sched_block_on, false, memory_order_relaxed);
	if (S.strategy && S.strategy->block_end)
		S.strategy->block_end(S.strategy->arg, S.block,
				      !S.conflict && !S.waited && !S.overflow);
}

unsigned sched_current_block(void)
{
	return S.in_block ? S.block : 0;
}
