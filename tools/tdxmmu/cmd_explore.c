/* SPDX-License-Identifier: MIT */
/*
 * tdxmmu explore FILE: every interleaving of a scenario's parallel blocks,
 * explored systematically (docs/exploration.md). And --merge, which adds
 * up the JSON of shards run elsewhere (GNU parallel, a Slurm array job, a
 * Kubernetes indexed job: the job engine distributes, this only combines).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <tdxmmu/tdxmmu.h>

#include "cmds.h"

static void explore_usage(FILE *f)
{
	fprintf(f,
		"usage: tdxmmu explore [OPTIONS] FILE\n"
		"       tdxmmu explore --merge [--json] A.json B.json ...\n"
		"       tdxmmu explore --list-mutants\n"
		"\n"
		"Runs the scenario FILE under a deterministic scheduler: the lanes of each\n"
		"`parallel` block run one at a time and, at every schedule point of the model\n"
		"(SPTE reads and updates, mmu_lock, the TDX module's try-locks, S-EPT and PAMT\n"
		"entries, TLB epochs, TLB fills and flushes, kicks, RCU), the scheduler picks\n"
		"which lane goes next. Every check of the file, `check` after each block, no\n"
		"exit 3, no deadlock and no livelock are the oracle for every schedule.\n"
		"\n"
		"  --preemptions=K     every schedule with at most K preemptions (iterative\n"
		"                      context bounding, 0 first; default 2)\n"
		"  --random=N          N random schedules instead (PCT-style priorities, with\n"
		"                      --preemptions priority change points)\n"
		"  --seed=S            seed of --random (default 0; printed)\n"
		"  --max-schedules=N   stop after N schedules (the space is then incomplete)\n"
		"  --replay=SCHEDULE   run exactly that schedule (as a violation prints it;\n"
		"                      '-' is the default schedule) and explain it\n"
		"  --mutant=NAME       remove one guard of the design (--list-mutants)\n"
		"  --list-mutants      the guards that can be removed, one per line\n"
		"  --shard=I/N         explore the deterministic I-th of N parts of the space\n"
		"                      (0 <= I < N), for a job engine to fan out\n"
		"  --merge             combine the --json results of shards given as files\n"
		"  --step-budget=N     a lane taking more than N steps in one block is a\n"
		"                      livelock (default 2000000)\n"
		"  --cpu=N|auto|any    the CPU the search runs on: its threads run one at a\n"
		"                      time, and hand-overs within one CPU are several times\n"
		"                      cheaper; auto (default): shard I on the I-th usable\n"
		"                      CPU, else the current one; any: no pinning\n"
		"  --json              one JSON document: schedules, executions, complete,\n"
		"                      violations, schedules_per_s, seconds, and for the\n"
		"                      first violation its schedule, message and replay\n"
		"  --quiet             no step-by-step explanation of a violation\n"
		"\n"
		"A schedule is written DECISION:LANE,... : at the DECISION-th point where\n"
		"more than one thread could run, thread LANE ran instead of the default (the\n"
		"running thread goes on while it can, then the lowest-numbered). Threads are\n"
		"numbered in creation order: 0 the scenario's main thread, then the lanes of\n"
		"the block (vCPU lanes by index, the host lane last).\n"
		"\n"
		"Exit status: 0 no violation, 1 a violation (printed with the command line\n"
		"that replays it), 2 usage or parse error, 3 the model is not deterministic\n"
		"under the scheduler.\n");
}

static int list_mutants(void)
{
	for (unsigned i = 0; tdxmmu_mutant_name(i); i++)
		printf("%-18s %s\n", tdxmmu_mutant_name(i), tdxmmu_mutant_help(i));
	return 0;
}

static bool parse_u64(const char *s, uint64_t *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 0);
	return end != s && !*end && !errno && s[0] != '-';
}

/* The command line that replays the violation, as the user can paste it. */
static void replay_line(FILE *f, const char *file, const struct tdxmmu_explore_options *o,
			const char *schedule)
{
	fprintf(f, "tdxmmu explore %s --replay=%s", file, schedule);
	if (o->mutant)
		fprintf(f, " --mutant=%s", o->mutant);
	if (o->step_budget)
		fprintf(f, " --step-budget=%" PRIu64, o->step_budget);
}

static json_t *result_json(const char *file, const struct tdxmmu_explore_options *o,
			   const struct tdxmmu_explore_result *r)
{
	json_t *j = json_object();

	json_object_set_new(j, "file", json_string(file));
	json_object_set_new(j, "mode", json_string(o->replay ? "replay" : o->random ? "random" : "exhaustive"));
	json_object_set_new(j, "preemptions", json_integer(o->preemptions));
	if (o->random) {
		json_object_set_new(j, "random", json_integer((json_int_t)o->random));
		json_object_set_new(j, "seed", json_integer((json_int_t)o->seed));
	}
	json_object_set_new(j, "mutant", o->mutant ? json_string(o->mutant) : json_null());
	json_object_set_new(j, "shard", json_pack("{s:i, s:i}", "index", (int)r->shard,
						  "count", (int)r->nr_shards));
	json_object_set_new(j, "schedules", json_integer((json_int_t)r->schedules));
	json_object_set_new(j, "executions", json_integer((json_int_t)r->executions));
	json_object_set_new(j, "complete", json_boolean(r->complete));
	json_object_set_new(j, "levels_done", json_integer(r->levels_done));
	json_object_set_new(j, "violations", json_integer((json_int_t)r->violations));
	json_object_set_new(j, "seconds", json_real(r->seconds));
	json_object_set_new(j, "schedules_per_s", json_real(r->schedules_per_s));
	json_object_set_new(j, "points_per_execution",
			    json_integer(r->executions ? (json_int_t)(r->steps / r->executions) : 0));
	if (r->violations) {
		char *line = NULL;
		size_t len = 0;
		FILE *m = open_memstream(&line, &len);

		if (m) {
			replay_line(m, file, o, r->schedule);
			fclose(m);
		}
		json_object_set_new(j, "schedule", json_string(r->schedule));
		json_object_set_new(j, "message", json_string(r->message));
		json_object_set_new(j, "first_violation",
				    json_pack("{s:s, s:s, s:i, s:s}", "schedule", r->schedule,
					      "message", r->message, "preemptions",
					      (int)r->violation_preemptions, "replay",
					      line ? line : ""));
		free(line);
	}
	return j;
}

static void print_text(const char *file, const struct tdxmmu_explore_options *o,
		       const struct tdxmmu_explore_result *r)
{
	if (o->replay)
		printf("replay of %s: %s\n", o->replay, r->violations ? "VIOLATION" : "no violation");
	else
		printf("%s: %" PRIu64 " schedules (%" PRIu64 " executions) in %.2f s, %.0f schedules/s; %s\n",
		       file, r->schedules, r->executions, r->seconds, r->schedules_per_s,
		       o->random ? "random search" :
		       r->complete ? "bounded space complete" : "bounded space NOT complete");
	if (!o->replay && !o->random)
		printf("  preemption bound %u, levels 0..%d done, %" PRIu64 " schedule points per execution%s%s\n",
		       o->preemptions, (int)r->levels_done - 1,
		       r->executions ? r->steps / r->executions : 0, o->mutant ? ", mutant " : "",
		       o->mutant ? o->mutant : "");
	if (o->random)
		printf("  seed %" PRIu64 "%s%s\n", o->seed, o->mutant ? ", mutant " : "",
		       o->mutant ? o->mutant : "");
	if (r->nr_shards > 1)
		printf("  shard %u/%u\n", r->shard, r->nr_shards);
	if (!r->violations) {
		printf("no violation\n");
		return;
	}
	printf("VIOLATION (%u preemptions): %s\n", r->violation_preemptions, r->message);
	printf("schedule: %s%s\n", r->schedule, r->schedule_truncated ? " (TRUNCATED)" : "");
	printf("replay: ");
	replay_line(stdout, file, o, r->schedule);
	printf("\n");
}

/* ---- --merge ---- */

static int merge(int n, char **files, bool as_json)
{
	json_int_t schedules = 0, executions = 0, violations = 0, count = -1;
	double seconds = 0;
	bool complete = true;
	json_t *first = NULL, *first_doc = NULL, *out;
	unsigned char *seen = NULL;
	int first_shard = -1, rc = 0;

	for (int i = 0; i < n; i++) {
		json_error_t err;
		json_t *j = json_load_file(files[i], 0, &err);
		json_int_t idx, cnt;

		if (!j || json_unpack(j, "{s:{s:I, s:I}}", "shard", "index", &idx, "count", &cnt)) {
			fprintf(stderr, "tdxmmu explore --merge: %s:%d:%d: %s\n", files[i], err.line,
				err.column, j ? "not an explore --json result (no shard)" : err.text);
			json_decref(j);
			rc = 2;
			goto out;
		}
		if (count < 0) {
			count = cnt;
			seen = calloc((size_t)cnt + 1, 1);
			if (!seen) {
				json_decref(j);
				rc = 2;
				goto out;
			}
		}
		if (cnt != count || idx < 0 || idx >= cnt || seen[idx]) {
			fprintf(stderr,
				"tdxmmu explore --merge: %s: shard %" JSON_INTEGER_FORMAT "/%" JSON_INTEGER_FORMAT
				" does not fit (%s)\n",
				files[i], idx, cnt, cnt != count ? "another shard count" : "duplicate or out of range");
			json_decref(j);
			rc = 2;
			goto out;
		}
		/* Shards of one search only: same file, mode, bound, mutant. */
		{
			static const char *const same[] = { "file", "mode", "preemptions", "mutant",
							     "seed", "random" };

			if (!first_doc)
				first_doc = json_incref(j);
			for (size_t k = 0; k < sizeof(same) / sizeof(same[0]); k++)
				if (!json_equal(json_object_get(j, same[k]),
						json_object_get(first_doc, same[k])) &&
				    (json_object_get(j, same[k]) || json_object_get(first_doc, same[k]))) {
					fprintf(stderr,
						"tdxmmu explore --merge: %s: not a shard of the same search as %s (\"%s\" differs)\n",
						files[i], files[0], same[k]);
					json_decref(j);
					rc = 2;
					goto out;
				}
		}
		seen[idx] = 1;
		schedules += json_integer_value(json_object_get(j, "schedules"));
		executions += json_integer_value(json_object_get(j, "executions"));
		violations += json_integer_value(json_object_get(j, "violations"));
		complete &= json_is_true(json_object_get(j, "complete"));
		if (json_real_value(json_object_get(j, "seconds")) > seconds)
			seconds = json_real_value(json_object_get(j, "seconds"));
		if (json_object_get(j, "first_violation") && (first_shard < 0 || idx < first_shard)) {
			json_decref(first);
			first = json_incref(json_object_get(j, "first_violation"));
			first_shard = (int)idx;
		}
		json_decref(j);
	}
	for (json_int_t i = 0; i < count; i++)
		if (!seen[i])
			complete = false; /* a missing shard */
	out = json_object();
	json_object_set_new(out, "shards", json_integer(count));
	json_object_set_new(out, "merged", json_integer(n));
	json_object_set_new(out, "schedules", json_integer(schedules));
	json_object_set_new(out, "executions", json_integer(executions));
	json_object_set_new(out, "complete", json_boolean(complete));
	json_object_set_new(out, "violations", json_integer(violations));
	json_object_set_new(out, "seconds", json_real(seconds));
	json_object_set_new(out, "schedules_per_s",
			    json_real(seconds > 0 ? (double)executions / seconds : 0));
	if (first) {
		json_object_set(out, "first_violation", first);
		json_object_set(out, "schedule", json_object_get(first, "schedule"));
		json_object_set(out, "message", json_object_get(first, "message"));
	}
	if (as_json) {
		json_dumpf(out, stdout, JSON_INDENT(2));
		printf("\n");
	} else {
		printf("%d shard results of %" JSON_INTEGER_FORMAT ": %" JSON_INTEGER_FORMAT
		       " schedules, %s, %" JSON_INTEGER_FORMAT " violations\n",
		       n, count, schedules, complete ? "space complete" : "space NOT complete", violations);
		if (first)
			printf("first violation (shard %d): %s\nreplay: %s\n", first_shard,
			       json_string_value(json_object_get(first, "message")),
			       json_string_value(json_object_get(first, "replay")));
	}
	json_decref(out);
	rc = violations ? 1 : 0;
out:
	json_decref(first);
	json_decref(first_doc);
	free(seen);
	return rc;
}

static int explore_main(int argc, char **argv)
{
	enum { O_PRE = 1, O_RANDOM, O_SEED, O_MAX, O_REPLAY, O_MUTANT, O_LIST, O_SHARD, O_MERGE,
	       O_BUDGET, O_CPU, O_JSON, O_QUIET, O_HELP };
	static const struct option longopts[] = {
		{ "preemptions", required_argument, NULL, O_PRE },
		{ "random", required_argument, NULL, O_RANDOM },
		{ "seed", required_argument, NULL, O_SEED },
		{ "max-schedules", required_argument, NULL, O_MAX },
		{ "replay", required_argument, NULL, O_REPLAY },
		{ "mutant", required_argument, NULL, O_MUTANT },
		{ "list-mutants", no_argument, NULL, O_LIST },
		{ "shard", required_argument, NULL, O_SHARD },
		{ "merge", no_argument, NULL, O_MERGE },
		{ "step-budget", required_argument, NULL, O_BUDGET },
		{ "cpu", required_argument, NULL, O_CPU },
		{ "json", no_argument, NULL, O_JSON },
		{ "quiet", no_argument, NULL, O_QUIET },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 },
	};
	struct tdxmmu_explore_options o;
	struct tdxmmu_explore_result *r;
	bool json = false, quiet = false, do_merge = false;
	uint64_t v;
	int c, rc;

	tdxmmu_explore_options_init(&o);
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case O_PRE:
			if (!parse_u64(optarg, &v) || v > 64)
				goto bad_value;
			o.preemptions = (unsigned)v;
			break;
		case O_RANDOM:
			if (!parse_u64(optarg, &v) || !v)
				goto bad_value;
			o.random = v;
			break;
		case O_SEED:
			if (!parse_u64(optarg, &o.seed))
				goto bad_value;
			break;
		case O_MAX:
			if (!parse_u64(optarg, &o.max_schedules) || !o.max_schedules)
				goto bad_value;
			break;
		case O_REPLAY:
			o.replay = optarg;
			break;
		case O_MUTANT:
			o.mutant = optarg;
			break;
		case O_LIST:
			return list_mutants();
		case O_SHARD: {
			unsigned i, n;
			int used = 0;

			if (sscanf(optarg, "%u/%u%n", &i, &n, &used) != 2 || optarg[used] || !n ||
			    i >= n || n > 1000000)
				goto bad_value;
			o.shard = i;
			o.nr_shards = n;
			break;
		}
		case O_MERGE:
			do_merge = true;
			break;
		case O_BUDGET:
			if (!parse_u64(optarg, &o.step_budget) || !o.step_budget)
				goto bad_value;
			break;
		case O_CPU:
			if (!strcmp(optarg, "auto"))
				o.cpu = TDXMMU_EXPLORE_CPU_AUTO;
			else if (!strcmp(optarg, "any"))
				o.cpu = TDXMMU_EXPLORE_CPU_ANY;
			else if (parse_u64(optarg, &v) && v < 1u << 20)
				o.cpu = TDXMMU_EXPLORE_CPU(v);
			else
				goto bad_value;
			break;
		case O_JSON:
			json = true;
			break;
		case O_QUIET:
			quiet = true;
			break;
		case O_HELP:
		case 'h':
			explore_usage(stdout);
			return 0;
		default:
			explore_usage(stderr);
			return 2;
		}
	}
	if (do_merge) {
		if (optind >= argc) {
			fprintf(stderr, "tdxmmu explore --merge: no result files\n");
			return 2;
		}
		return merge(argc - optind, argv + optind, json);
	}
	if (optind != argc - 1) {
		explore_usage(stderr);
		return 2;
	}
	if (o.replay && (o.random || o.nr_shards > 1)) {
		fprintf(stderr, "tdxmmu explore: --replay runs one schedule: no --random or --shard\n");
		return 2;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return 2;
	/* A replay explains itself; a search that finds a violation prints
	 * its summary first, then replays it to explain it (below). */
	o.explain = o.replay && !quiet && !json;
	o.out = stdout;
	if (!json && !quiet && o.random)
		printf("seed %" PRIu64 "\n", o.seed);
	rc = tdxmmu_explore_file(argv[optind], &o, r);
	if (rc == 2 || rc == 3) {
		fprintf(stderr, "tdxmmu explore: %s\n", r->message);
		free(r);
		return rc;
	}
	if (json) {
		json_t *j = result_json(argv[optind], &o, r);

		json_dumpf(j, stdout, JSON_INDENT(2));
		printf("\n");
		json_decref(j);
	} else {
		print_text(argv[optind], &o, r);
		if (rc == 1 && !quiet && !o.replay && !r->schedule_truncated) {
			struct tdxmmu_explore_options e = o;
			struct tdxmmu_explore_result *er = calloc(1, sizeof(*er));

			e.random = 0;
			e.nr_shards = 1;
			e.shard = 0;
			e.max_schedules = 0;
			e.replay = r->schedule;
			e.explain = true;
			if (er)
				tdxmmu_explore_file(argv[optind], &e, er);
			free(er);
		}
	}
	free(r);
	return rc;
bad_value:
	fprintf(stderr, "tdxmmu explore: bad value '%s' for --%s\n", optarg,
		longopts[c - 1].name);
	return 2;
}

const struct tdxmmu_cmd cmd_explore = {
	.name = "explore",
	.summary = "explore every interleaving of a scenario's parallel blocks",
	.fn = explore_main,
};
