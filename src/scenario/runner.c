/* SPDX-License-Identifier: MIT */
/*
 * The scenario runner: one function per command, each calling the public API
 * (through run->api) and turning what it returns into a progress line, check
 * results and FAIL lines.
 *
 * Counting rules: every expect... command, every expect=, expect-not= and
 * outcome= option, every check and every destroy counts one check. An access
 * without outcome= and a SEAMCALL (or accept) without expect= are expected to
 * succeed: that counts nothing when it holds and one failed check when it
 * does not, so that a script is not silently wrong about a step it took for
 * granted. A check line the API cannot evaluate is a failed check too.
 *
 * Output is written in whole lines under the stream lock, so that the lines
 * of a future threaded parallel block cannot interleave mid-line.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "explore/sched_internal.h"
#include "scenario/runner.h"

/* Room for tdxmmu_check()'s report: one line per violation. */
#define CHECK_REPORT_SIZE (64 * 1024)

static const char *last_error(const struct scn_run *r)
{
	const char *msg = r->api->last_error ? r->api->last_error() : NULL;

	return msg ? msg : "";
}

/* The progress line: "FILE:LINE: <command> -> <what happened>". */
static void say(struct scn_run *r, const struct scn_cmd *c, const char *fmt,
		...) __attribute__((format(printf, 3, 4)));

static void say(struct scn_run *r, const struct scn_cmd *c, const char *fmt,
		...)
{
	va_list ap;

	if (r->quiet)
		return;
	flockfile(r->out);
	fprintf(r->out, "%s:%zu: %s -> ", r->name, c->line, c->text);
	va_start(ap, fmt);
	vfprintf(r->out, fmt, ap);
	va_end(ap);
	fputc('\n', r->out);
	funlockfile(r->out);
}

/* Tells the caller's report of one check. Under report_lock, so that the
 * lanes of a parallel block never call it at once (tdxmmu.h). */
static void report_check(struct scn_run *r, const struct scn_cmd *c,
			 const char *message)
{
	struct tdxmmu_run_check chk = {
		.file = r->name,
		.line = c->line,
		.text = c->text,
		.passed = !message,
		.message = message,
	};

	if (!r->report || !r->report->check)
		return;
	pthread_mutex_lock(&r->report_lock);
	r->report->check(&chk, r->report->arg);
	pthread_mutex_unlock(&r->report_lock);
}

static void pass(struct scn_run *r, const struct scn_cmd *c)
{
	atomic_fetch_add(&r->passed, 1);
	report_check(r, c, NULL);
}

/*
 * A FAIL line is built in pieces between fail_begin() and fail_end(), into
 * the stream fail_begin() returns: r->out itself, or, when the caller wants
 * each check reported, a memory stream whose text then goes both to r->out
 * and to the report.
 */
struct fail_line {
	FILE *f;
	char *buf;
	size_t len;
};

static FILE *fail_begin(struct scn_run *r, const struct scn_cmd *c,
			struct fail_line *fl)
{
	flockfile(r->out);
	fprintf(r->out, "%s:%zu: FAIL: ", r->name, c->line);
	fl->buf = NULL;
	fl->len = 0;
	fl->f = NULL;
	if (r->report && r->report->check)
		fl->f = open_memstream(&fl->buf, &fl->len);
	if (!fl->f)
		fl->f = r->out;
	return fl->f;
}

static void fail_end(struct scn_run *r, const struct scn_cmd *c,
		     struct fail_line *fl)
{
	const char *msg = "(message lost: out of memory)";

	if (fl->f != r->out) {
		if (fclose(fl->f) == 0 && fl->buf)
			msg = fl->buf;
		fputs(msg, r->out);
	}
	fputc('\n', r->out);
	atomic_fetch_add(&r->failed, 1);
	report_check(r, c, msg);
	funlockfile(r->out);
	free(fl->buf);
}

/* "FILE:LINE: FAIL: <expected> (actual <got>)" in one call. */
static void fail(struct scn_run *r, const struct scn_cmd *c, const char *fmt,
		 ...) __attribute__((format(printf, 3, 4)));

static void fail(struct scn_run *r, const struct scn_cmd *c, const char *fmt,
		 ...)
{
	struct fail_line fl;
	FILE *f = fail_begin(r, c, &fl);
	va_list ap;

	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fail_end(r, c, &fl);
}

/* Tells the caller's report of an error that stops the run. */
void scn_report_error(const struct tdxmmu_run_report *report,
		      const char *file, size_t line, size_t column, int status,
		      const char *fmt, ...)
{
	struct tdxmmu_run_error e = {
		.file = file,
		.line = line,
		.column = column,
		.status = status,
	};
	char msg[512];
	va_list ap;

	if (!report || !report->error)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	e.message = msg;
	report->error(&e, report->arg);
}

int scn_api_error(struct scn_run *r, const struct scn_cmd *c, int rc)
{
	const char *msg;
	int status;

	/* Keep the progress lines before the error when both streams are the
	 * same terminal or pipe. */
	fflush(r->out);
	if (rc == TDXMMU_ENOTIMPL) {
		fprintf(r->err, "%s:%zu: error: '%s' is not implemented yet\n",
			r->name, c->line, c->name);
		pthread_mutex_lock(&r->report_lock);
		scn_report_error(r->report, r->name, c->line, 0,
				 SCN_EXIT_USAGE, "'%s' is not implemented yet",
				 c->name);
		pthread_mutex_unlock(&r->report_lock);
		return SCN_EXIT_USAGE;
	}
	msg = last_error(r);
	/* A VM that KVM killed is a modeled outcome, never a usage error or a
	 * model bug (contract 1.1): on a command that takes no outcome= it is
	 * a failed check, and the run goes on. */
	if (rc == TDXMMU_EIO && r->td) {
		struct fail_line fl;
		FILE *f;

		flockfile(r->out);
		if (!r->quiet)
			fprintf(r->out, "%s:%zu: %s -> dead\n", r->name, c->line,
				c->text);
		f = fail_begin(r, c, &fl);
		fprintf(f, "%s (actual the VM is dead%s%s)", c->text,
			*msg ? ": " : "", msg);
		fail_end(r, c, &fl);
		funlockfile(r->out);
		return SCN_EXIT_OK;
	}
	pthread_mutex_lock(&r->report_lock);
	if (rc == TDXMMU_EBUG) {
		if (!*msg)
			msg = "the model detected a broken invariant";
		fprintf(r->err, "%s:%zu: BUG: %s\n", r->name, c->line, msg);
		status = SCN_EXIT_BUG;
		scn_report_error(r->report, r->name, c->line, 0, status,
				 "BUG: %s", msg);
	} else {
		fprintf(r->err, "%s:%zu: error: %s%s%s\n", r->name, c->line,
			tdxmmu_strerror(rc), *msg ? ": " : "", msg);
		status = SCN_EXIT_USAGE;
		scn_report_error(r->report, r->name, c->line, 0, status,
				 "%s%s%s", tdxmmu_strerror(rc), *msg ? ": " : "",
				 msg);
	}
	pthread_mutex_unlock(&r->report_lock);
	return status;
}

/* The command up to its last positional argument, for "%.*s". */
#define HEAD(c) (int)(c)->head_len, (c)->text

static const char *status_str(uint64_t status, char *buf, size_t size)
{
	if (status == 0)
		snprintf(buf, size, "TDX_SUCCESS");
	else
		snprintf(buf, size, "%s 0x%" PRIx64, tdxmmu_status_name(status),
			 status);
	return buf;
}

/* outcome=A|B as written back in messages: the alternatives in the order
 * of enum tdxmmu_outcome. */
static const char *outcomes_str(unsigned mask, char *buf, size_t size)
{
	size_t pos = 0;

	buf[0] = '\0';
	for (unsigned o = 0; o < 32 && pos < size; o++) {
		if (!(mask & (1u << o)))
			continue;
		pos += (size_t)snprintf(buf + pos, size - pos, "%s%s",
					pos ? "|" : "",
					tdxmmu_outcome_name((enum tdxmmu_outcome)o));
	}
	return buf;
}

static bool outcome_accepted(const struct scn_cmd *c, enum tdxmmu_outcome o)
{
	return c->outcomes & SCN_OUTCOME_BIT(o);
}

/* Returns whether the outcome was one the line accepts. */
static bool check_outcome(struct scn_run *r, const struct scn_cmd *c,
			  enum tdxmmu_outcome got)
{
	char buf[128];

	if (outcome_accepted(c, got)) {
		if (c->has & SCN_HAS_OUTCOME)
			pass(r, c);
		return true;
	}
	fail(r, c, "%.*s outcome=%s (actual %s)", HEAD(c),
	     outcomes_str(c->outcomes, buf, sizeof(buf)),
	     tdxmmu_outcome_name(got));
	return false;
}

static bool vm_dead(const struct scn_run *r)
{
	return r->api->vm_dead && r->td && r->api->vm_dead(r->td);
}

/*
 * The outcome of a build step, host action or vCPU enter/leave (contract
 * 1.1): KVM answers TDXMMU_EIO for a VM it has killed. If the call failed so,
 * or the VM is dead after it, the outcome is `dead` when the VM was dead
 * before the command and `bugged` when this command killed it. Any other
 * error is returned for scn_api_error().
 */
static int vm_outcome(const struct scn_run *r, bool dead_before, int rc,
		      enum tdxmmu_outcome *o)
{
	if (rc == TDXMMU_EIO || vm_dead(r)) {
		*o = dead_before ? TDXMMU_OUTCOME_DEAD : TDXMMU_OUTCOME_BUGGED;
		return 0;
	}
	if (rc < 0)
		return rc;
	*o = TDXMMU_OUTCOME_OK;
	return 0;
}

/* A guest access: the API reports bugged/dead as outcomes itself; an EIO
 * (should KVM refuse the exit outright) follows the rule above. */
static int access_outcome(const struct scn_run *r, bool dead_before, int rc,
			  enum tdxmmu_outcome *o)
{
	if (rc == TDXMMU_EIO)
		return vm_outcome(r, dead_before, rc, o);
	return rc;
}

/* expect=STATUS compares classes; without it any success or warning will do. */
static void check_status(struct scn_run *r, const struct scn_cmd *c,
			 uint64_t got)
{
	char buf[96];

	if (c->has & SCN_HAS_EXPECT) {
		if (tdxmmu_status_class_eq(got, c->expect))
			pass(r, c);
		else
			fail(r, c, "%.*s expect=%s (actual %s)", HEAD(c),
			     tdxmmu_status_name(c->expect),
			     status_str(got, buf, sizeof(buf)));
	} else if (!tdxmmu_status_ok(got)) {
		fail(r, c, "%.*s expect=TDX_SUCCESS (actual %s)", HEAD(c),
		     status_str(got, buf, sizeof(buf)));
	}
}

/*
 * An error from the API inside a check command (expect-..., check) means the
 * check could not be evaluated: a failed check, and the run goes on. Only
 * "not implemented" and a model bug stop the run there.
 */
static int check_error(struct scn_run *r, const struct scn_cmd *c, int rc)
{
	const char *msg;

	if (rc == TDXMMU_ENOTIMPL || rc == TDXMMU_EBUG)
		return scn_api_error(r, c, rc);
	msg = last_error(r);
	say(r, c, "error %s", tdxmmu_strerror(rc));
	fail(r, c, "%s (actual error %s%s%s)", c->text, tdxmmu_strerror(rc),
	     *msg ? ": " : "", msg);
	return SCN_EXIT_OK;
}

static int run_td(struct scn_run *r, const struct scn_cmd *c)
{
	struct tdxmmu_td_config cfg;
	tdxmmu_td *td = NULL;
	int rc;

	memset(&cfg, 0, sizeof(cfg));
	r->api->td_config_init(&cfg);
	cfg.mmu = c->td.mmu;
	cfg.gpaw = c->td.gpaw;
	cfg.nr_vcpus = c->td.vcpus;
	cfg.accept = c->td.accept;
	cfg.seed = c->td.seed;
	if (c->has & SCN_HAS_MEMORY)
		cfg.host_memory = c->td.memory;
	cfg.sept_ve_disable = c->td.sept_ve_disable;
	cfg.mapgpa = c->td.mapgpa;
	cfg.trace = r->trace;
	cfg.trace_events = r->trace_events;
	rc = r->api->td_create(&cfg, &td);
	if (rc < 0)
		return scn_api_error(r, c, rc);
	r->td = td;
	/* The 1.1 options are shown only when not at their default, so that
	 * the line reads as before for version-1 scripts. */
	say(r, c, "created (mmu=%s gpaw=%u vcpus=%u accept=%s seed=%" PRIu64 "%s%s)",
	    cfg.mmu == TDXMMU_MMU_LEGACY ? "legacy" : "tdp", cfg.gpaw,
	    cfg.nr_vcpus,
	    cfg.accept == TDXMMU_ACCEPT_EXPLICIT ? "explicit" : "auto",
	    cfg.seed, cfg.sept_ve_disable ? " sept-ve-disable=on" : "",
	    cfg.mapgpa == TDXMMU_MAPGPA_UPSTREAM ? " mapgpa=upstream" : "");
	return SCN_EXIT_OK;
}

/* destroy is a check: nothing may be leaked or left owned by the TD. */
static int run_destroy(struct scn_run *r, const struct scn_cmd *c)
{
	struct tdxmmu_destroy_report rep;
	struct fail_line fl;
	FILE *f;
	int rc;

	memset(&rep, 0, sizeof(rep));
	rc = r->api->td_destroy(r->td, &rep);
	r->td = NULL; /* freed whatever the result */
	if (rc == TDXMMU_ENOTIMPL)
		return scn_api_error(r, c, rc);
	if (rc == 0) {
		say(r, c, "nothing leaked");
		pass(r, c);
		return SCN_EXIT_OK;
	}
	rep.message[sizeof(rep.message) - 1] = '\0';
	say(r, c, "leaks");
	f = fail_begin(r, c, &fl);
	fprintf(f, "destroy leaves nothing behind (actual ");
	if (rep.message[0])
		fprintf(f, "%s", rep.message);
	else if (rc == TDXMMU_EBUG)
		fprintf(f,
			"%" PRIu64 " host frames leaked, %" PRIu64
			" still owned by the TD, %" PRIu64
			" KVM page-table pages and %" PRIu64
			" S-EPT pages not freed",
			rep.frames_leaked, rep.frames_td_owned,
			rep.kvm_pages_leaked, rep.sept_pages_leaked);
	else
		fprintf(f, "%s: %s", tdxmmu_strerror(rc), last_error(r));
	fprintf(f, ")");
	fail_end(r, c, &fl);
	return SCN_EXIT_OK;
}

/*
 * The `blocked` rule of a parallel block (contract 1.1, deterministic): an
 * access whose outcome is blocked is issued again (every 100 us) while any
 * other unfinished lane may still change the TD. When every unfinished lane
 * is retrying a blocked access in a state no line has changed since its
 * attempt began (struct scn_par), exactly one gives up: the lowest-numbered
 * lane (vCPUs ascending, the host lane last). It reports `blocked` and goes
 * on with its next line; the others keep retrying, so a line it runs next
 * (say the mapgpa that unblocks them) is seen by their next attempt. Before
 * 1.1 every such lane gave up at once, and whether the others' lines still
 * ran in time depended on the threads' timing (issue 11, item 2.10).
 *
 * Outside a block, or for any other outcome (or an error), the first answer
 * is final.
 *
 * Races: the lanes' wait_gen and the block's progress are seq_cst atomics. A
 * lane publishes its wait_gen only after an attempt that began at that
 * progress value; a lane running any other line has wait_gen 0 until it has
 * bumped progress after that line, so a state change is always followed by
 * a progress bump before its lane can look settled (or finished), and an
 * attempt that began before the bump is never taken as settled: the deciding
 * lane reads progress before and after its scan of the lanes and decides
 * only if it did not move (a lane that finishes during the scan bumped it
 * first).
 */
struct retry {
	unsigned long gen; /* progress read before the current attempt */
};

static void retry_begin(const struct scn_run *r, struct retry *rt)
{
	if (r->par)
		rt->gen = atomic_load(&r->par->progress);
}

void (*scn_debug_gives_up_hook)(const struct scn_par *par, size_t self,
				unsigned long now);

/*
 * True when @self is the lane that gives up now (see above).
 *
 * progress is read again after the scan and must not have moved: a lane's
 * finished flag (and a wait_gen) may be read long after `now`, and a lane
 * that ran its last line meanwhile bumped progress before it set finished.
 * Skipping it as finished against the older `now` would take an attempt
 * that began before its change (say the MapGPA that unblocks us) as
 * settled. With the second read unchanged, no line completed between the
 * two reads, so every lane seen finished had bumped before `now` was read.
 */
static bool lane_gives_up(struct scn_par *par, size_t self)
{
	unsigned long now = atomic_load(&par->progress);
	size_t lowest = SIZE_MAX;

	if (scn_debug_gives_up_hook)
		scn_debug_gives_up_hook(par, self, now);
	for (size_t i = 0; i < par->nr_lanes; i++) {
		if (atomic_load(&par->finished[i]))
			continue;
		if (atomic_load(&par->wait_gen[i]) != now + 1)
			return false;
		if (lowest == SIZE_MAX)
			lowest = i;
	}
	return lowest == self && atomic_load(&par->progress) == now;
}

/* Returns true when the caller must issue the access again. */
static bool retry_blocked(const struct scn_run *r, int rc,
			  enum tdxmmu_outcome o, struct retry *rt)
{
	static const struct timespec pause = { .tv_nsec = 100 * 1000 };
	struct scn_par *par = r->par;
	size_t self = scn_lane_self;

	if (!par)
		return false;
	if (rc < 0 || o != TDXMMU_OUTCOME_BLOCKED) {
		atomic_store(&par->wait_gen[self], 0);
		return false;
	}
	atomic_store(&par->wait_gen[self], rt->gen + 1);
	if (lane_gives_up(par, self)) {
		atomic_store(&par->wait_gen[self], 0);
		return false;
	}
	/* Exploring, the others cannot run while this lane sleeps: it waits
	 * for one of them to change something instead. */
	if (SCHED_WAIT(par, "blocked access: retry") == SCHED_WAIT_NONE)
		nanosleep(&pause, NULL);
	return true;
}

static void say_outcome(struct scn_run *r, const struct scn_cmd *c,
			enum tdxmmu_outcome o)
{
	say(r, c, "%s", tdxmmu_outcome_name(o));
}

/*
 * expect= on a line with an outcome (contract 1.1) is compared only when the
 * outcome is ok. Otherwise it counts as held when the outcome was one the
 * line accepts (outcome=ok|blocked expect=V: the blocked interleaving is as
 * good as the ok one, and the totals do not depend on which ran), and counts
 * nothing when the outcome check has already failed for the line.
 */
static bool expect_compared(struct scn_run *r, const struct scn_cmd *c,
			    enum tdxmmu_outcome o, bool outcome_held)
{
	if (o == TDXMMU_OUTCOME_OK)
		return true;
	if (outcome_held)
		pass(r, c);
	return false;
}

static int run_vcpu_read(struct scn_run *r, const struct scn_cmd *c)
{
	enum tdxmmu_outcome o = TDXMMU_OUTCOME_OK;
	bool dead_before = vm_dead(r), held;
	struct retry rt = { 0 };
	uint64_t val = 0;
	int rc;

	do {
		retry_begin(r, &rt);
		rc = r->api->vcpu_read(r->td, c->vcpu, c->gpa, &val, &o);
	} while (retry_blocked(r, rc, o, &rt));
	rc = access_outcome(r, dead_before, rc, &o);
	if (rc < 0)
		return scn_api_error(r, c, rc);
	if (o == TDXMMU_OUTCOME_OK)
		say(r, c, "0x%" PRIx64 " (ok)", val);
	else
		say_outcome(r, c, o);
	held = check_outcome(r, c, o);
	if (!(c->has & SCN_HAS_EXPECT) || !expect_compared(r, c, o, held))
		return SCN_EXIT_OK;
	if (val != c->expect)
		fail(r, c, "%.*s expect=0x%" PRIx64 " (actual 0x%" PRIx64 ")",
		     HEAD(c), c->expect, val);
	else
		pass(r, c);
	return SCN_EXIT_OK;
}

static int run_vcpu_write(struct scn_run *r, const struct scn_cmd *c)
{
	enum tdxmmu_outcome o = TDXMMU_OUTCOME_OK;
	bool dead_before = vm_dead(r);
	struct retry rt = { 0 };
	int rc;

	do {
		retry_begin(r, &rt);
		rc = r->api->vcpu_write(r->td, c->vcpu, c->gpa, c->value, &o);
	} while (retry_blocked(r, rc, o, &rt));
	rc = access_outcome(r, dead_before, rc, &o);
	if (rc < 0)
		return scn_api_error(r, c, rc);
	say_outcome(r, c, o);
	check_outcome(r, c, o);
	return SCN_EXIT_OK;
}

static int run_vcpu_fill(struct scn_run *r, const struct scn_cmd *c)
{
	enum tdxmmu_outcome o = TDXMMU_OUTCOME_OK;
	bool dead_before = vm_dead(r);
	struct retry rt = { 0 };
	int rc;

	do {
		retry_begin(r, &rt);
		rc = r->api->vcpu_fill(r->td, c->vcpu, c->gpa, c->size, c->byte, &o);
	} while (retry_blocked(r, rc, o, &rt));
	rc = access_outcome(r, dead_before, rc, &o);
	if (rc < 0)
		return scn_api_error(r, c, rc);
	say_outcome(r, c, o);
	check_outcome(r, c, o);
	return SCN_EXIT_OK;
}

/* One check for the outcome and, when the access completed, the content. */
static int run_vcpu_verify(struct scn_run *r, const struct scn_cmd *c)
{
	enum tdxmmu_outcome o = TDXMMU_OUTCOME_OK;
	bool dead_before = vm_dead(r);
	uint64_t bad = UINT64_MAX;
	struct retry rt = { 0 };
	bool differs;
	int rc;

	do {
		retry_begin(r, &rt);
		rc = r->api->vcpu_verify(r->td, c->vcpu, c->gpa, c->size, c->byte,
					 &bad, &o);
	} while (retry_blocked(r, rc, o, &rt));
	rc = access_outcome(r, dead_before, rc, &o);
	if (rc < 0)
		return scn_api_error(r, c, rc);
	differs = o == TDXMMU_OUTCOME_OK && bad != UINT64_MAX;
	if (differs)
		say(r, c, "byte at 0x%" PRIx64 " differs", bad);
	else
		say_outcome(r, c, o);
	if (!outcome_accepted(c, o))
		check_outcome(r, c, o);
	else if (differs)
		fail(r, c, "%.*s (actual byte at 0x%" PRIx64 " differs)",
		     HEAD(c), bad);
	else if (c->has & SCN_HAS_OUTCOME)
		pass(r, c);
	return SCN_EXIT_OK;
}

/* expect=STATUS (this implementation's addition on accept) is compared only
 * when the outcome is ok, as expect= is on the other guest actions. */
static int run_vcpu_accept(struct scn_run *r, const struct scn_cmd *c)
{
	enum tdxmmu_outcome o = TDXMMU_OUTCOME_OK;
	bool dead_before = vm_dead(r), held;
	uint64_t status = 0;
	char buf[96];
	int rc;

	if (r->api->vcpu_accept_outcome) {
		/* An ACCEPT that loops on EPT violations is `blocked`, retried
		 * in a parallel block as any blocked access. */
		struct retry rt = { 0 };

		do {
			retry_begin(r, &rt);
			status = 0;
			rc = r->api->vcpu_accept_outcome(r->td, c->vcpu, c->gpa,
							 c->level, &status, &o);
		} while (retry_blocked(r, rc, o, &rt));
		rc = access_outcome(r, dead_before, rc, &o);
	} else {
		rc = r->api->vcpu_accept(r->td, c->vcpu, c->gpa, c->level, &status);
		rc = vm_outcome(r, dead_before, rc, &o);
	}
	if (rc < 0)
		return scn_api_error(r, c, rc);
	if (o == TDXMMU_OUTCOME_OK)
		say(r, c, "%s", status_str(status, buf, sizeof(buf)));
	else
		say_outcome(r, c, o);
	held = check_outcome(r, c, o);
	if (o == TDXMMU_OUTCOME_OK)
		check_status(r, c, status);
	else if (c->has & SCN_HAS_EXPECT)
		expect_compared(r, c, o, held);
	return SCN_EXIT_OK;
}

/* vcpu N accept-memory ADDR SIZE: tdxmmu_vcpu_accept_memory(). */
static int run_vcpu_accept_memory(struct scn_run *r, const struct scn_cmd *c)
{
	struct tdxmmu_accept_memory_result res = { 0 };
	enum tdxmmu_outcome o = TDXMMU_OUTCOME_OK;
	bool dead_before = vm_dead(r);
	char buf[96];
	int rc;

	if (!r->api->vcpu_accept_memory)
		return scn_api_error(r, c, TDXMMU_ENOTIMPL);
	rc = r->api->vcpu_accept_memory(r->td, c->vcpu, c->gpa, c->size, &res, &o);
	rc = access_outcome(r, dead_before, rc, &o);
	if (rc < 0)
		return scn_api_error(r, c, rc);
	if (o == TDXMMU_OUTCOME_OK)
		say(r, c, "ok (2M x %" PRIu64 ", 4K x %" PRIu64 ", 2M -> 4K fallbacks %" PRIu64 ")",
		    res.nr_2m, res.nr_4k, res.fallbacks);
	else if (o == TDXMMU_OUTCOME_ERROR && res.status)
		say(r, c, "error (4K ACCEPT of %#" PRIx64 ": %s)", res.failed_gpa,
		    status_str(res.status, buf, sizeof(buf)));
	else
		say_outcome(r, c, o);
	check_outcome(r, c, o);
	return SCN_EXIT_OK;
}

static int run_vcpu_mapgpa(struct scn_run *r, const struct scn_cmd *c)
{
	enum tdxmmu_outcome o = TDXMMU_OUTCOME_OK;
	bool dead_before = vm_dead(r);
	struct retry rt = { 0 };
	int rc;

	do {
		retry_begin(r, &rt);
		rc = r->api->vcpu_mapgpa(r->td, c->vcpu, c->gpa, c->size, &o);
	} while (retry_blocked(r, rc, o, &rt));
	rc = access_outcome(r, dead_before, rc, &o);
	if (rc < 0)
		return scn_api_error(r, c, rc);
	say_outcome(r, c, o);
	check_outcome(r, c, o);
	return SCN_EXIT_OK;
}

static int run_host_read(struct scn_run *r, const struct scn_cmd *c)
{
	uint64_t val = 0;
	int rc;

	rc = r->api->host_read(r->td, c->gpa, &val);
	if (rc < 0)
		return scn_api_error(r, c, rc);
	say(r, c, "0x%" PRIx64, val);
	if (c->has & SCN_HAS_EXPECT) {
		if (val == c->expect)
			pass(r, c);
		else
			fail(r, c, "%.*s expect=0x%" PRIx64 " (actual 0x%" PRIx64 ")",
			     HEAD(c), c->expect, val);
	}
	if (c->has & SCN_HAS_EXPECT_NOT) {
		if (val != c->expect_not)
			pass(r, c);
		else
			fail(r, c, "%.*s expect-not=0x%" PRIx64 " (actual 0x%" PRIx64 ")",
			     HEAD(c), c->expect_not, val);
	}
	return SCN_EXIT_OK;
}

/*
 * The host actions and build steps that only succeed or fail, and vCPU
 * enter/leave: their outcome is ok, or bugged/dead for a VM KVM killed
 * (vm_outcome()). host write takes no outcome= (the contract gives it none):
 * a dead VM there is a failed check, see scn_api_error().
 */
static int run_simple(struct scn_run *r, const struct scn_cmd *c)
{
	const struct scn_backend *api = r->api;
	enum tdxmmu_outcome o = TDXMMU_OUTCOME_OK;
	bool dead_before = vm_dead(r);
	int rc = 0;

	switch (c->op) {
	case SCN_OP_MEMSLOT:
		/* hugepages=on through a backend without the entry: not
		 * implemented, never a 4K memslot instead of the 2M one the
		 * script asked for (its checks would then fail, or pass, for
		 * another reason than the one they test). */
		if (c->hugepages)
			rc = api->memslot_add_flags
				     ? api->memslot_add_flags(r->td, c->id, c->gpa, c->size,
							      TDXMMU_MEMSLOT_HUGEPAGES)
				     : TDXMMU_ENOTIMPL;
		else
			rc = api->memslot_add(r->td, c->id, c->gpa, c->size);
		break;
	case SCN_OP_ADD:
		rc = api->td_add_page(r->td, c->gpa, c->byte);
		break;
	case SCN_OP_FINALIZE:
		rc = api->td_finalize(r->td);
		break;
	case SCN_OP_HOST_WRITE:
		rc = api->host_write(r->td, c->gpa, c->value);
		if (rc < 0)
			return scn_api_error(r, c, rc);
		say(r, c, "ok");
		return SCN_EXIT_OK;
	case SCN_OP_HOST_INVALIDATE:
		rc = api->host_invalidate(r->td, c->gpa, c->size);
		break;
	case SCN_OP_HOST_DELETE_MEMSLOT:
		rc = api->memslot_delete(r->td, c->id);
		break;
	case SCN_OP_HOST_ZAP:
		rc = api->host_zap(r->td, c->gpa, c->size, c->alias);
		break;
	case SCN_OP_VCPU_ENTER:
		rc = api->vcpu_enter ? api->vcpu_enter(r->td, c->vcpu)
				     : TDXMMU_ENOTIMPL;
		break;
	case SCN_OP_VCPU_LEAVE:
		rc = api->vcpu_leave ? api->vcpu_leave(r->td, c->vcpu)
				     : TDXMMU_ENOTIMPL;
		break;
	default:
		break;
	}
	if (rc == TDXMMU_ENOTIMPL || rc == TDXMMU_EBUG)
		return scn_api_error(r, c, rc);
	/* A zap that must split a private 2M leaf and gets no memory for
	 * its S-EPT page fails cleanly, nothing done (hugepages ref §4.5:
	 * userspace retries): the outcome `error`, as a guest access that
	 * can never get memory (this implementation's addition). */
	if (rc == TDXMMU_ENOMEM && c->op == SCN_OP_HOST_ZAP && !vm_dead(r)) {
		o = TDXMMU_OUTCOME_ERROR;
	} else {
		rc = vm_outcome(r, dead_before, rc, &o);
		if (rc < 0)
			return scn_api_error(r, c, rc);
	}
	say_outcome(r, c, o);
	check_outcome(r, c, o);
	return SCN_EXIT_OK;
}

/* expect-vm alive|dead: tdxmmu_vm_dead(). */
static int run_expect_vm(struct scn_run *r, const struct scn_cmd *c)
{
	bool dead = vm_dead(r);

	say(r, c, "%s", dead ? "dead" : "alive");
	if (dead == c->vm_dead)
		pass(r, c);
	else
		fail(r, c, "%s (actual %s)", c->text, dead ? "dead" : "alive");
	return SCN_EXIT_OK;
}

/* inject busy=/enomem=/off: module and KVM controls, not checks. */
static int run_inject(struct scn_run *r, const struct scn_cmd *c)
{
	const struct scn_backend *api = r->api;
	int rc = TDXMMU_ENOTIMPL;

	switch (c->op) {
	case SCN_OP_INJECT_BUSY:
		if (c->has & SCN_HAS_STATUS) {
			if (c->has & SCN_HAS_SHARE) {
				if (api->inject_status)
					rc = api->inject_status(r->td, c->leaf, c->status, c->ppm);
			} else if (api->inject_status_nth) {
				rc = api->inject_status_nth(r->td, c->leaf, c->status, c->nth,
							    c->persistent);
			}
		} else if (c->has & SCN_HAS_BUSY_AT) {
			if (api->inject_busy_nth)
				rc = api->inject_busy_nth(r->td, c->leaf, c->nth, c->persistent);
		} else if (api->inject_busy_leaf) {
			rc = api->inject_busy_leaf(r->td, c->leaf, c->ppm);
		}
		break;
	case SCN_OP_INJECT_ENOMEM:
		if (c->has & SCN_HAS_ENOMEM_AT) {
			if (api->inject_enomem_nth)
				rc = api->inject_enomem_nth(r->td, c->site, c->nth, c->persistent);
		} else if (api->inject_enomem) {
			rc = api->inject_enomem(r->td, c->site, c->ppm);
		}
		break;
	default:
		if (api->inject_off)
			rc = api->inject_off(r->td);
		break;
	}
	if (rc < 0)
		return scn_api_error(r, c, rc);
	if (c->op == SCN_OP_INJECT_OFF)
		say(r, c, "off");
	else if (c->has & (SCN_HAS_BUSY_AT | SCN_HAS_ENOMEM_AT) ||
		 (c->has & (SCN_HAS_STATUS | SCN_HAS_SHARE)) == SCN_HAS_STATUS)
		say(r, c, "event %" PRIu64 " from now%s", c->nth,
		    c->persistent ? " and every later one" : " only");
	else
		say(r, c, "%" PRIu32 ".%04" PRIu32 "%% (%" PRIu32 " ppm)",
		    c->ppm / 10000, c->ppm % 10000, c->ppm);
	return SCN_EXIT_OK;
}

/* show ADDR [SIZE]: every 4K page the range touches, printed even with
 * --quiet since the script asked for it. Not a check. */
static int run_show(struct scn_run *r, const struct scn_cmd *c)
{
	uint64_t first = c->gpa & ~0xfffULL;
	uint64_t last = (c->gpa + c->size - 1) & ~0xfffULL;
	int rc;

	if (!r->api->show)
		return scn_api_error(r, c, TDXMMU_ENOTIMPL);
	fflush(r->out);
	flockfile(r->out);
	fprintf(r->out, "%s:%zu: %s:\n", r->name, c->line, c->text);
	rc = r->api->show(r->td, first, last - first + 0x1000, r->out);
	funlockfile(r->out);
	fflush(r->out);
	if (rc < 0)
		return scn_api_error(r, c, rc);
	return SCN_EXIT_OK;
}

static int run_seamcall(struct scn_run *r, const struct scn_cmd *c)
{
	struct tdxmmu_seamcall_req req = {
		.leaf = c->leaf,
		.gpa = c->gpa,
		.level = c->level,
		.fill = c->byte,
	};
	struct tdxmmu_seamcall_out out;
	char buf[96], regs[96] = "", page[48] = "";
	int rc = 0;

	if (c->page == SCN_PAGE_NEW)
		rc = r->api->host_frame_new(r->td, &req.page);
	else if (c->page == SCN_PAGE_OF)
		rc = r->api->host_frame_of(r->td, c->page_gpa, &req.page);
	if (rc < 0)
		return scn_api_error(r, c, rc);
	memset(&out, 0, sizeof(out));
	rc = r->api->seamcall(r->td, &req, &out);
	if (rc < 0)
		return scn_api_error(r, c, rc);
	if (c->page != SCN_PAGE_NONE)
		snprintf(page, sizeof(page), " (page 0x%" PRIx64 ")", req.page);
	/* SEPT.RD answers in registers: show the entry and its level info. */
	if (c->leaf == tdxmmu_leaf_from_name("TDH.MEM.SEPT.RD"))
		snprintf(regs, sizeof(regs),
			 " rcx=0x%" PRIx64 " rdx=0x%" PRIx64, out.rcx, out.rdx);
	say(r, c, "%s%s%s", status_str(out.rax, buf, sizeof(buf)), regs, page);
	check_status(r, c, out.rax);
	return SCN_EXIT_OK;
}

static int run_expect_sept(struct scn_run *r, const struct scn_cmd *c)
{
	enum tdxmmu_sept_state st = TDXMMU_SEPT_FREE;
	int rc;

	rc = r->api->sept_state(r->td, c->gpa, c->level, &st);
	if (rc < 0)
		return check_error(r, c, rc);
	say(r, c, "%s", tdxmmu_sept_state_name(st));
	if (st == c->sept)
		pass(r, c);
	else
		fail(r, c, "%s (actual %s)", c->text, tdxmmu_sept_state_name(st));
	return SCN_EXIT_OK;
}

static int run_expect_spte(struct scn_run *r, const struct scn_cmd *c)
{
	enum tdxmmu_spte_state pv = TDXMMU_SPTE_NONPRESENT;
	enum tdxmmu_spte_state sh = TDXMMU_SPTE_NONPRESENT;
	bool ok = true;
	int rc;

	if (c->has & SCN_HAS_LEVEL)
		rc = r->api->spte_state_level
			     ? r->api->spte_state_level(r->td, c->gpa, c->level,
							&pv, &sh)
			     : TDXMMU_ENOTIMPL;
	else
		rc = r->api->spte_state(r->td, c->gpa, &pv, &sh);
	if (rc < 0)
		return check_error(r, c, rc);
	say(r, c, "private=%s shared=%s", tdxmmu_spte_state_name(pv),
	    tdxmmu_spte_state_name(sh));
	if ((c->has & SCN_HAS_PRIVATE) && pv != c->spte_private)
		ok = false;
	if ((c->has & SCN_HAS_SHARED) && sh != c->spte_shared)
		ok = false;
	if (ok)
		pass(r, c);
	else
		fail(r, c, "%s (actual private=%s shared=%s)", c->text,
		     tdxmmu_spte_state_name(pv), tdxmmu_spte_state_name(sh));
	return SCN_EXIT_OK;
}

/* One check for the whole line; the FAIL line names every counter that is
 * off, or unknown to the model. */
static int run_expect_count(struct scn_run *r, const struct scn_cmd *c)
{
	uint64_t *got = calloc(c->nr_counters, sizeof(*got));
	bool *unknown = calloc(c->nr_counters, sizeof(*unknown));
	size_t wrong = 0, n;
	int rc = SCN_EXIT_OK;
	struct fail_line fl;
	FILE *f;

	if (!got || !unknown) {
		rc = scn_api_error(r, c, TDXMMU_ENOMEM);
		goto out;
	}
	for (size_t i = 0; i < c->nr_counters; i++) {
		int e = r->api->counter(r->td, c->counters[i].name, &got[i]);

		if (e == TDXMMU_ENOENT) {
			unknown[i] = true;
		} else if (e < 0) {
			rc = check_error(r, c, e);
			goto out;
		}
		if (unknown[i] || got[i] != c->counters[i].value)
			wrong++;
	}
	if (!r->quiet) {
		flockfile(r->out);
		fprintf(r->out, "%s:%zu: %s ->", r->name, c->line, c->text);
		for (size_t i = 0; i < c->nr_counters; i++) {
			if (unknown[i])
				fprintf(r->out, " %s=?", c->counters[i].name);
			else
				fprintf(r->out, " %s=%" PRIu64,
					c->counters[i].name, got[i]);
		}
		fputc('\n', r->out);
		funlockfile(r->out);
	}
	if (!wrong) {
		pass(r, c);
		goto out;
	}
	f = fail_begin(r, c, &fl);
	fprintf(f, "expect-count");
	for (size_t i = 0; i < c->nr_counters; i++)
		if (unknown[i] || got[i] != c->counters[i].value)
			fprintf(f, " %s=%" PRIu64, c->counters[i].name,
				c->counters[i].value);
	fprintf(f, " (actual");
	n = 0;
	for (size_t i = 0; i < c->nr_counters; i++) {
		const char *sep = n++ ? ", " : " ";

		if (unknown[i])
			fprintf(f, "%sno counter named '%s'", sep,
				c->counters[i].name);
		else if (got[i] != c->counters[i].value)
			fprintf(f, "%s%s=%" PRIu64, sep,
				c->counters[i].name, got[i]);
		else
			n--;
	}
	fprintf(f, ")");
	fail_end(r, c, &fl);
out:
	free(got);
	free(unknown);
	return rc;
}

/* The FAIL line is followed by the checker's report, one violation a line. */
static int run_check(struct scn_run *r, const struct scn_cmd *c)
{
	char *report = malloc(CHECK_REPORT_SIZE);
	struct fail_line fl;
	const char *line;
	FILE *f;
	int n;

	if (!report)
		return scn_api_error(r, c, TDXMMU_ENOMEM);
	report[0] = '\0';
	n = r->api->check(r->td, report, CHECK_REPORT_SIZE);
	if (n < 0) {
		free(report);
		return check_error(r, c, n);
	}
	report[CHECK_REPORT_SIZE - 1] = '\0';
	if (n == 0) {
		say(r, c, "no violation");
		pass(r, c);
		free(report);
		return SCN_EXIT_OK;
	}
	say(r, c, "%d violation%s", n, n == 1 ? "" : "s");
	f = fail_begin(r, c, &fl);
	fprintf(f, "check (actual %d violation%s)", n, n == 1 ? "" : "s");
	for (line = report; *line; line += *line == '\n') {
		size_t len = strcspn(line, "\n");

		if (len)
			fprintf(f, "\n    %.*s", (int)len, line);
		line += len;
	}
	if (strlen(report) == CHECK_REPORT_SIZE - 1)
		fprintf(f, "\n    ... (report truncated)");
	fail_end(r, c, &fl);
	free(report);
	return SCN_EXIT_OK;
}

static void print_counter(const char *name, uint64_t val, void *arg)
{
	FILE *out = arg;

	if (val)
		fprintf(out, "    %-34s %llu\n", name, (unsigned long long)val);
}

/* counters: every non-zero event counter, printed even with --quiet since
 * the script asked for it. Not a check. */
static int run_counters(struct scn_run *r, const struct scn_cmd *c)
{
	if (!r->api->counters_foreach)
		return scn_api_error(r, c, TDXMMU_ENOTIMPL);
	flockfile(r->out);
	fprintf(r->out, "%s:%zu: counters (non-zero):\n", r->name, c->line);
	r->api->counters_foreach(r->td, print_counter, r->out);
	funlockfile(r->out);
	fflush(r->out);
	return SCN_EXIT_OK;
}

int scn_run_cmd(struct scn_run *r, const struct scn_cmd *c)
{
	switch (c->op) {
	case SCN_OP_TD:
		return run_td(r, c);
	case SCN_OP_DESTROY:
		return run_destroy(r, c);
	case SCN_OP_VCPU_READ:
		return run_vcpu_read(r, c);
	case SCN_OP_VCPU_WRITE:
		return run_vcpu_write(r, c);
	case SCN_OP_VCPU_FILL:
		return run_vcpu_fill(r, c);
	case SCN_OP_VCPU_VERIFY:
		return run_vcpu_verify(r, c);
	case SCN_OP_VCPU_ACCEPT:
		return run_vcpu_accept(r, c);
	case SCN_OP_VCPU_MAPGPA:
		return run_vcpu_mapgpa(r, c);
	case SCN_OP_VCPU_ACCEPT_MEMORY:
		return run_vcpu_accept_memory(r, c);
	case SCN_OP_HOST_READ:
		return run_host_read(r, c);
	case SCN_OP_MEMSLOT:
	case SCN_OP_ADD:
	case SCN_OP_FINALIZE:
	case SCN_OP_HOST_WRITE:
	case SCN_OP_HOST_INVALIDATE:
	case SCN_OP_HOST_DELETE_MEMSLOT:
	case SCN_OP_HOST_ZAP:
	case SCN_OP_VCPU_ENTER:
	case SCN_OP_VCPU_LEAVE:
		return run_simple(r, c);
	case SCN_OP_EXPECT_VM:
		return run_expect_vm(r, c);
	case SCN_OP_INJECT_BUSY:
	case SCN_OP_INJECT_ENOMEM:
	case SCN_OP_INJECT_OFF:
		return run_inject(r, c);
	case SCN_OP_SHOW:
		return run_show(r, c);
	case SCN_OP_SEAMCALL:
		return run_seamcall(r, c);
	case SCN_OP_EXPECT_SPTE:
		return run_expect_spte(r, c);
	case SCN_OP_EXPECT_SEPT:
		return run_expect_sept(r, c);
	case SCN_OP_EXPECT_COUNT:
		return run_expect_count(r, c);
	case SCN_OP_CHECK:
		return run_check(r, c);
	case SCN_OP_COUNTERS:
		return run_counters(r, c);
	case SCN_OP_PARALLEL:
		return run_parallel_block(r, c);
	case SCN_OP_END:
		break;
	}
	return SCN_EXIT_OK;
}

int scn_run_script(const struct scn_script *script, const char *name,
		   const struct scn_backend *api,
		   const struct tdxmmu_run_options *opts)
{
	return scn_run_script_report(script, name, api, opts, NULL);
}

int scn_run_script_report(const struct scn_script *script, const char *name,
			  const struct scn_backend *api,
			  const struct tdxmmu_run_options *opts,
			  const struct tdxmmu_run_report *report)
{
	struct scn_run r = {
		.api = api,
		.name = name,
		.out = opts->out ? opts->out : stdout,
		.err = opts->err ? opts->err : stderr,
		.trace = opts->trace,
		.trace_events = opts->trace_events,
		.quiet = opts->quiet,
		.report = report,
		.report_lock = PTHREAD_MUTEX_INITIALIZER,
	};
	int status = SCN_EXIT_OK;
	size_t i, stopped_at = 0;

	for (i = 0; i < script->nr; i++) {
		const struct scn_cmd *c = &script->cmds[i];

		if (c->op == SCN_OP_PARALLEL && opts->stop_line > c->line &&
		    opts->stop_line <= c->block->end_line) {
			fflush(r.out);
			fprintf(r.err, "%s:%zu: error: cannot stop inside the parallel block of lines %zu-%zu (it runs whole): stop at line %zu or %zu\n",
				name, opts->stop_line, c->line, c->block->end_line,
				c->line, c->block->end_line + 1);
			return SCN_EXIT_USAGE;
		}
	}
	for (i = 0; i < script->nr && status == SCN_EXIT_OK; i++) {
		const struct scn_cmd *c = &script->cmds[i];

		if ((opts->stop_line && c->line >= opts->stop_line) ||
		    (opts->stop_before_final_destroy && i + 1 == script->nr &&
		     c->op == SCN_OP_DESTROY)) {
			stopped_at = c->line;
			break;
		}
		status = scn_run_cmd(&r, &script->cmds[i]);
	}
	if (opts->at_stop && status == SCN_EXIT_OK)
		opts->at_stop(r.td, stopped_at, opts->at_stop_arg);

	/* A script need not end with destroy: free the TD anyway, without
	 * counting it as a check (and even after a bug, so that nothing
	 * leaks). Except when exploration abandoned a schedule: its parked
	 * threads may hold the TD's locks, so it is leaked on purpose. */
	if (r.td && !sched_abandoned()) {
		struct tdxmmu_destroy_report rep;

		memset(&rep, 0, sizeof(rep));
		api->td_destroy(r.td, &rep);
		r.td = NULL;
	}
	if (status != SCN_EXIT_OK)
		return status;
	fprintf(r.out, "%lu passed, %lu failed\n", atomic_load(&r.passed),
		atomic_load(&r.failed));
	fflush(r.out);
	return atomic_load(&r.failed) ? SCN_EXIT_FAIL : SCN_EXIT_OK;
}
