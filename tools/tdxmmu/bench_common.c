/* SPDX-License-Identifier: MIT */
/* `tdxmmu bench`: options, the TD, counters, phases and output (bench.h). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "bench.h"

static const char *const workloads[] = { "fault", "convert", "zap", "populate" };

void bench_usage(FILE *f)
{
	fprintf(f,
		"usage: tdxmmu bench WORKLOAD [options]\n"
		"       tdxmmu bench compare A.json B.json [--json]\n"
		"\n"
		"workloads:\n"
		"  fault     vCPU threads touch every 4K page of disjoint ranges: first in an\n"
		"            empty TD (tables built on the way), then after a zap that keeps\n"
		"            the tables (leaf faults only)\n"
		"  convert   MapGPA of a range private->shared->private, --rounds times, the\n"
		"            guest touching the pages in between\n"
		"  zap       MMU-notifier invalidation and memslot deletion of a populated range\n"
		"  populate  build, finalize and fully populate a large TD (default 64G)\n"
		"\n"
		"compare: two results of one workload and configuration (--json output of\n"
		"the same options) side by side: per phase both medians, B/A and whether the\n"
		"difference is within the runs' spread\n"
		"\n"
		"options:\n"
		"  --mmu=tdp|legacy      KVM's MMU (default tdp)\n"
		"  --vcpus=T             vCPU threads (default 1)\n"
		"  --size=N[K|M|G]       guest memory the workload uses\n"
		"                        (fault/zap 256M, convert 64M, populate 64G)\n"
		"  --rounds=K            repetitions (fault: leaf rounds, best kept; convert:\n"
		"                        conversion rounds; default 3), within each run\n"
		"  --repeat=N            run the whole workload N times, each in a fresh TD:\n"
		"                        per phase the median, min, max and spread of ns/op\n"
		"                        over the runs (default 1)\n"
		"  --seed=S              the TD's seed (default 1)\n"
		"  --alias=private|shared  the alias the fault workload touches (default private)\n"
		"  --write               touch with writes (default reads; a write gives the\n"
		"                        frame real backing on the model's host)\n"
		"  --hugepages           the memslot is hugepages=on: KVM maps 2M leaves\n"
		"                        (populate: the guest touches one page per 2M page,\n"
		"                        which maps and accepts it whole; fault: every page;\n"
		"                        TDP MMU)\n"
		"  --no-mirror           KVM keeps no mirror EPT: each private fault reads the\n"
		"                        Secure EPT with TDH.MEM.SEPT.RD at every level before\n"
		"                        the AUG (the alternative the design rejected; TDP MMU)\n"
		"  --cost NAME=NS        override one modeled latency (a SEAMCALL mnemonic,\n"
		"                        TDG.MEM.PAGE.ACCEPT or TD.EXIT); repeatable\n"
		"  --cost-file FILE      overrides, one 'NAME NS' or 'NAME=NS' a line, # comments\n"
		"  --json                one JSON document instead of the table\n");
}

__attribute__((format(printf, 2, 3)))
static int usage_error(FILE *err, const char *fmt, ...)
{
	va_list ap;

	fputs("tdxmmu bench: ", err);
	va_start(ap, fmt);
	vfprintf(err, fmt, ap);
	va_end(ap);
	fputs("\n(tdxmmu bench --help lists the options)\n", err);
	return 2;
}

static bool parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || *s == '-')
		return false;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end)
		return false;
	*out = v;
	return true;
}

static bool parse_size(const char *s, uint64_t *out)
{
	char buf[64], *end;
	uint64_t v, mul = 1;
	size_t n;

	if (!s || !(n = strlen(s)) || n >= sizeof(buf))
		return false;
	memcpy(buf, s, n + 1);
	switch (buf[n - 1]) {
	case 'K': case 'k': mul = 1ULL << 10; break;
	case 'M': case 'm': mul = 1ULL << 20; break;
	case 'G': case 'g': mul = 1ULL << 30; break;
	case 'T': case 't': mul = 1ULL << 40; break;
	default: break;
	}
	if (mul != 1)
		buf[n - 1] = 0;
	if (!parse_u64(buf, &v) || v == 0 || v > UINT64_MAX / mul)
		return false;
	(void)end;
	*out = v * mul;
	return true;
}

static bool cost_name_ok(const char *name)
{
	return tdxmmu_leaf_from_name(name) >= 0 ||
	       !strcmp(name, "TDG.MEM.PAGE.ACCEPT") || !strcmp(name, "TD.EXIT");
}

/* "NAME=NS" or "NAME NS" (file lines). */
static int add_cost(struct bench_opts *o, const char *spec, FILE *err)
{
	char name[48];
	const char *sep = strpbrk(spec, "= \t");
	uint64_t ns;
	size_t n;

	if (!sep || (n = (size_t)(sep - spec)) == 0 || n >= sizeof(name))
		return usage_error(err, "--cost '%s': expected NAME=NS", spec);
	memcpy(name, spec, n);
	name[n] = 0;
	while (*sep == '=' || *sep == ' ' || *sep == '\t')
		sep++;
	if (!cost_name_ok(name))
		return usage_error(err, "--cost: unknown name '%s' (a SEAMCALL mnemonic such as TDH.MEM.PAGE.AUG, TDG.MEM.PAGE.ACCEPT or TD.EXIT)", name);
	if (!parse_u64(sep, &ns))
		return usage_error(err, "--cost '%s': NS must be a non-negative integer", spec);
	if (o->nr_costs == BENCH_MAX_COSTS)
		return usage_error(err, "%s: too many --cost overrides", spec);
	snprintf(o->costs[o->nr_costs].name, sizeof(o->costs[0].name), "%s", name);
	o->costs[o->nr_costs++].ns = ns;
	return 0;
}

static int read_cost_file(struct bench_opts *o, const char *path, FILE *err)
{
	char line[256];
	unsigned lineno = 0;
	FILE *f = fopen(path, "r");
	int ret = 0;

	if (!f) {
		fprintf(err, "tdxmmu bench: --cost-file %s: %s\n", path, strerror(errno));
		return 2;
	}
	while (!ret && fgets(line, sizeof(line), f)) {
		char *p = line, *hash = strchr(line, '#');
		size_t n;

		lineno++;
		if (hash)
			*hash = 0;
		while (*p == ' ' || *p == '\t')
			p++;
		n = strlen(p);
		while (n && (p[n - 1] == '\n' || p[n - 1] == '\r' || p[n - 1] == ' ' ||
			     p[n - 1] == '\t'))
			p[--n] = 0;
		if (!n)
			continue;
		ret = add_cost(o, p, err);
		if (ret)
			fprintf(err, "tdxmmu bench: in %s:%u\n", path, lineno);
	}
	/* fopen() opens a directory for reading and the first read fails
	 * (EISDIR): fgets() returning NULL is not end of file then, and a
	 * cost file that could not be read must not pass for an empty one. */
	if (!ret && ferror(f)) {
		fprintf(err, "tdxmmu bench: --cost-file %s: %s\n", path,
			strerror(errno ? errno : EIO));
		ret = 2;
	}
	fclose(f);
	return ret;
}

int bench_parse(int argc, char **argv, struct bench_opts *o, bool *help,
		FILE *err)
{
	enum { O_MMU = 256, O_VCPUS, O_SIZE, O_ROUNDS, O_SEED, O_ALIAS,
	       O_NO_MIRROR, O_WRITE, O_JSON, O_COST, O_COST_FILE, O_HELP, O_REPEAT,
	       O_HUGEPAGES };
	static const struct option longopts[] = {
		{ "mmu", required_argument, NULL, O_MMU },
		{ "vcpus", required_argument, NULL, O_VCPUS },
		{ "size", required_argument, NULL, O_SIZE },
		{ "rounds", required_argument, NULL, O_ROUNDS },
		{ "repeat", required_argument, NULL, O_REPEAT },
		{ "seed", required_argument, NULL, O_SEED },
		{ "alias", required_argument, NULL, O_ALIAS },
		{ "no-mirror", no_argument, NULL, O_NO_MIRROR },
		{ "write", no_argument, NULL, O_WRITE },
		{ "hugepages", no_argument, NULL, O_HUGEPAGES },
		{ "json", no_argument, NULL, O_JSON },
		{ "cost", required_argument, NULL, O_COST },
		{ "cost-file", required_argument, NULL, O_COST_FILE },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 },
	};
	bool size_given = false;
	const char *size_arg = "";
	uint64_t v;
	int c, ret;

	*o = (struct bench_opts){ .mmu = TDXMMU_MMU_TDP, .vcpus = 1, .rounds = 3,
				  .repeat = 1, .seed = 1, .alias = TDXMMU_ALIAS_PRIVATE };
	*help = false;
	/* 0 re-initialises getopt fully (glibc): bench_parse may run more than
	 * once in a process (the tests). */
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1 ||
	       optind < argc) {
		if (c == -1) {
			/* A positional argument: the workload, once. */
			if (o->workload)
				return usage_error(err, "unexpected argument '%s'", argv[optind]);
			o->workload = argv[optind++];
			continue;
		}
		switch (c) {
		case O_MMU:
			if (!strcmp(optarg, "tdp"))
				o->mmu = TDXMMU_MMU_TDP;
			else if (!strcmp(optarg, "legacy"))
				o->mmu = TDXMMU_MMU_LEGACY;
			else
				return usage_error(err, "--mmu=%s: expected tdp or legacy", optarg);
			break;
		case O_VCPUS:
			if (!parse_u64(optarg, &v) || v < 1 || v > TDXMMU_MAX_VCPUS)
				return usage_error(err, "--vcpus=%s: expected 1..64", optarg);
			o->vcpus = (unsigned)v;
			break;
		case O_SIZE:
			size_arg = optarg;
			if (!parse_size(optarg, &o->size))
				return usage_error(err, "--size=%s: expected a positive size such as 256M or 64G", optarg);
			size_given = true;
			break;
		case O_ROUNDS:
			if (!parse_u64(optarg, &v) || v < 1 || v > 1000000)
				return usage_error(err, "--rounds=%s: expected 1..1000000", optarg);
			o->rounds = (unsigned)v;
			break;
		case O_REPEAT:
			if (!parse_u64(optarg, &v) || v < 1 || v > 1000)
				return usage_error(err, "--repeat=%s: expected 1..1000", optarg);
			o->repeat = (unsigned)v;
			break;
		case O_SEED:
			if (!parse_u64(optarg, &o->seed))
				return usage_error(err, "--seed=%s: expected a non-negative integer", optarg);
			break;
		case O_ALIAS:
			if (!strcmp(optarg, "private"))
				o->alias = TDXMMU_ALIAS_PRIVATE;
			else if (!strcmp(optarg, "shared"))
				o->alias = TDXMMU_ALIAS_SHARED;
			else
				return usage_error(err, "--alias=%s: expected private or shared", optarg);
			break;
		case O_NO_MIRROR:
			o->no_mirror = true;
			break;
		case O_WRITE:
			o->write = true;
			break;
		case O_HUGEPAGES:
			o->hugepages = true;
			break;
		case O_JSON:
			o->json = true;
			break;
		case O_COST:
			if ((ret = add_cost(o, optarg, err)))
				return ret;
			break;
		case O_COST_FILE:
			if ((ret = read_cost_file(o, optarg, err)))
				return ret;
			break;
		case 'h':
		case O_HELP:
			*help = true;
			return 0;
		case ':':
			return usage_error(err, "%s needs a value", argv[optind - 1]);
		default:
			return usage_error(err, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (!o->workload)
		return usage_error(err, "%s", "which workload? (fault, convert, zap or populate)");
	for (size_t i = 0; i < sizeof(workloads) / sizeof(workloads[0]); i++)
		if (!strcmp(o->workload, workloads[i]))
			goto known;
	return usage_error(err, "unknown workload '%s' (fault, convert, zap or populate)",
			   o->workload);
known:
	if (!size_given)
		o->size = !strcmp(o->workload, "populate") ? 64 * BENCH_GiB :
			  !strcmp(o->workload, "convert")  ? 64 * BENCH_MiB :
							     256 * BENCH_MiB;
	/* Each vCPU gets a whole number of 2M regions (memslots and the
	 * conversion chunks are 2M-grained). */
	if (o->size % (2 * BENCH_MiB * o->vcpus))
		return usage_error(err, "--size must be a multiple of 2M times --vcpus (%s)",
				   o->vcpus > 1 ? "each vCPU gets an equal share" : "2M");
	if (o->size > 4096 * BENCH_GiB)
		return usage_error(err, "--size=%s: at most 4T", size_arg);
	if (o->no_mirror && strcmp(o->workload, "fault"))
		return usage_error(err, "--no-mirror is implemented for the fault workload only (%s)",
				   "no MapGPA or build-time pages without a mirror");
	if (o->hugepages && strcmp(o->workload, "populate") && strcmp(o->workload, "fault"))
		return usage_error(err, "--hugepages is implemented for the populate and fault workloads (%s)",
				   o->workload);
	if (o->hugepages && o->no_mirror)
		return usage_error(err, "%s", "--hugepages needs the mirror EPT (not with --no-mirror)");
	if (o->no_mirror && o->alias != TDXMMU_ALIAS_PRIVATE)
		return usage_error(err, "%s--no-mirror changes the private fault path only: use it with --alias=private", "");
	return 0;
}

/* ---- the TD ---- */

int bench_td_create(const struct bench_opts *o, uint64_t host_bytes,
		    tdxmmu_td **td, const char **why, FILE *err)
{
	static _Thread_local char reason[256];
	struct tdxmmu_td_config cfg;
	int ret;

	tdxmmu_td_config_init(&cfg);
	cfg.mmu = o->mmu;
	cfg.nr_vcpus = o->vcpus;
	cfg.seed = o->seed;
	cfg.host_memory = host_bytes;
	cfg.no_mirror = o->no_mirror;
	ret = tdxmmu_td_create(&cfg, td);
	if (ret == TDXMMU_ENOTIMPL) {
		snprintf(reason, sizeof(reason), "%s", tdxmmu_last_error());
		*why = reason;
		return -1;
	}
	if (ret) {
		fprintf(err, "tdxmmu bench: creating the TD: %s: %s\n",
			tdxmmu_strerror(ret), tdxmmu_last_error());
		return 1;
	}
	for (unsigned i = 0; i < o->nr_costs; i++) {
		ret = tdxmmu_cost_set_named(*td, o->costs[i].name, o->costs[i].ns);
		if (ret) {
			fprintf(err, "tdxmmu bench: --cost %s: %s\n", o->costs[i].name,
				tdxmmu_last_error());
			bench_td_destroy(*td, err);
			return 1;
		}
	}
	return 0;
}

int bench_td_destroy(tdxmmu_td *td, FILE *err)
{
	struct tdxmmu_destroy_report rep;

	if (tdxmmu_td_destroy(td, &rep)) {
		fprintf(err, "tdxmmu bench: destroy: %s\n", rep.message);
		return 1;
	}
	return 0;
}

/* ---- counters and clocks ---- */

static void take_one(const char *name, uint64_t val, void *arg)
{
	struct bench_counters *c = arg;

	if (c->n == BENCH_MAX_COUNTERS)
		return;
	snprintf(c->name[c->n], sizeof(c->name[0]), "%s", name);
	c->val[c->n++] = val;
}

void bench_counters_take(tdxmmu_td *td, struct bench_counters *c)
{
	c->n = 0;
	tdxmmu_counters_foreach(td, take_one, c);
}

static bool counter_find(const struct bench_counters *c, const char *name,
			 uint64_t *val)
{
	for (unsigned i = 0; i < c->n; i++)
		if (!strcmp(c->name[i], name)) {
			*val = c->val[i];
			return true;
		}
	return false;
}

uint64_t bench_counter_delta(const struct bench_counters *before,
			     const struct bench_counters *after, const char *name)
{
	uint64_t a, b;

	if (!counter_find(after, name, &a) || !counter_find(before, name, &b))
		return 0;
	return a - b;
}

uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

json_t *bench_json_u64(uint64_t v)
{
	return json_integer(v > (uint64_t)INT64_MAX ? INT64_MAX : (json_int_t)v);
}

uint64_t bench_peak_rss_bytes(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru))
		return 0;
	return (uint64_t)ru.ru_maxrss * 1024; /* Linux: kilobytes */
}

/* ---- phases ---- */

static double per(uint64_t n, uint64_t ops)
{
	return ops ? (double)n / (double)ops : 0.0;
}

void bench_phase_add(json_t *phases, const char *name, const char *unit,
		     uint64_t ops, uint64_t wall_ns,
		     const struct bench_counters *before,
		     const struct bench_counters *after)
{
	json_t *ph = json_object(), *sc = json_object(), *cnt = json_object();
	uint64_t modeled = bench_counter_delta(before, after, "cost.modeled_ns");
	uint64_t seamcalls = 0;

	for (unsigned i = 0; i < after->n; i++) {
		uint64_t d = bench_counter_delta(before, after, after->name[i]);

		if (!d)
			continue;
		json_object_set_new(cnt, after->name[i], bench_json_u64((uint64_t)d));
		if (!strncmp(after->name[i], "seamcall.", 9)) {
			seamcalls += d;
			json_object_set_new(sc, after->name[i] + 9, json_real(per(d, ops)));
		}
	}
	json_object_set_new(ph, "name", json_string(name));
	json_object_set_new(ph, "unit", json_string(unit));
	json_object_set_new(ph, "ops", bench_json_u64((uint64_t)ops));
	json_object_set_new(ph, "wall_ns", bench_json_u64((uint64_t)wall_ns));
	json_object_set_new(ph, "ns_per_op", json_real(per(wall_ns, ops)));
	json_object_set_new(ph, "ops_per_s",
			    json_real(wall_ns ? (double)ops * 1e9 / (double)wall_ns : 0.0));
	json_object_set_new(ph, "seamcalls_per_op", json_real(per(seamcalls, ops)));
	json_object_set_new(ph, "seamcalls_per_op_by_leaf", sc);
	json_object_set_new(ph, "tdcalls_per_op",
			    json_real(per(bench_counter_delta(before, after,
							      "tdcall.TDG.MEM.PAGE.ACCEPT"), ops)));
	json_object_set_new(ph, "td_exits_per_op",
			    json_real(per(bench_counter_delta(before, after, "exit.td"), ops)));
	json_object_set_new(ph, "tracks",
			    bench_json_u64((uint64_t)bench_counter_delta(before, after,
									 "seamcall.TDH.MEM.TRACK")));
	json_object_set_new(ph, "retries",
			    json_pack("{s:I,s:I,s:I}",
				      "cmpxchg", (json_int_t)bench_counter_delta(before, after, "retry.cmpxchg"),
				      "frozen", (json_int_t)bench_counter_delta(before, after, "retry.frozen"),
				      "busy", (json_int_t)bench_counter_delta(before, after, "retry.busy")));
	/* The cost model: SEAMCALL, TDCALL and exit latencies accounted (never
	 * spent), and the hardware estimate = the model's own time (standing
	 * for KVM's and the guest's software) + those latencies. */
	json_object_set_new(ph, "modeled_ns_per_op", json_real(per(modeled, ops)));
	/* In doubles: a saturated modeled time must not wrap when the wall
	 * time is added to it. */
	json_object_set_new(ph, "hardware_ns_per_op",
			    json_real(ops ? ((double)modeled + (double)wall_ns) / (double)ops : 0.0));
	json_object_set_new(ph, "counters", cnt);
	json_array_append_new(phases, ph);
}

static json_t *tree_json(uint64_t pages)
{
	return json_pack("{s:I,s:I}", "pages", (json_int_t)pages, "bytes",
			 (json_int_t)(pages * 4096));
}

json_t *bench_memory_json(tdxmmu_td *td, uint64_t guest_bytes)
{
	struct tdxmmu_mem_stats ms;
	uint64_t rss = bench_peak_rss_bytes();
	double gib = (double)guest_bytes / (double)BENCH_GiB;

	if (tdxmmu_mem_stats(td, &ms))
		return json_object();
	return json_pack("{s:o,s:o,s:o,s:{s:I},s:I,s:I,s:f}",
			 "shared_ept", tree_json(ms.shared_ept_pages),
			 "mirror_ept", tree_json(ms.mirror_ept_pages),
			 "secure_ept", tree_json(ms.sept_pages),
			 "pamt", "bytes", (json_int_t)ms.pamt_bytes,
			 "host_resident_bytes", (json_int_t)ms.host_bytes,
			 "peak_rss_bytes", (json_int_t)rss,
			 "peak_rss_mib_per_guest_gib",
			 gib > 0 ? (double)rss / (double)BENCH_MiB / gib : 0.0);
}

/* ---- vCPU lanes ---- */

/* One line each: the vCPU threads write their outcome, and lanes side by
 * side in one line made the two threads of a 2-vCPU run trade it on every
 * page (measured: no speed-up at all until they were split). */
struct lane {
	uint64_t base, len;
	bool write;
	enum tdxmmu_outcome outcome;
	uint64_t stride; /* bytes between the pages touched (4K: every page) */
} __attribute__((aligned(64)));

/* A lane is touched in guest actions of at most this much, so that a long
 * populate can report progress between them. Large enough that the
 * standard fault runs (256M) stay one action, and the action's own TD entry
 * and exit stay invisible in the per-fault figures (1 in 65536 faults). */
#define LANE_CHUNK (256 * BENCH_MiB)

static int touch_lane(tdxmmu_td *td, unsigned vcpu, void *arg)
{
	struct lane *l = arg;
	int ret = 0;

	/* One page per stride: each its own guest action (a 2M page is
	 * mapped and accepted whole by touching one of its pages). */
	if (l->stride > 4096) {
		for (uint64_t off = 0; off < l->len && !ret; off += l->stride) {
			uint64_t word = 0;

			ret = l->write ? tdxmmu_vcpu_write(td, vcpu, l->base + off, l->base + off,
							   &l->outcome)
				       : tdxmmu_vcpu_read(td, vcpu, l->base + off, &word,
							  &l->outcome);
			if (l->outcome != TDXMMU_OUTCOME_OK)
				break;
			if ((off / l->stride) % 512 == 511) {
				bench_progress_add(512 * l->stride / 4096);
				if (vcpu == 0)
					bench_progress_tick();
			}
		}
		return ret;
	}

	for (uint64_t off = 0; off < l->len && !ret; off += LANE_CHUNK) {
		uint64_t n = l->len - off < LANE_CHUNK ? l->len - off : LANE_CHUNK;

		ret = tdxmmu_vcpu_touch(td, vcpu, l->base + off, n, l->write, &l->outcome);
		if (l->outcome != TDXMMU_OUTCOME_OK)
			break;
		bench_progress_add(n / 4096);
		if (vcpu == 0)
			bench_progress_tick();
	}
	return ret;
}

int bench_touch_lanes(tdxmmu_td *td, unsigned n, uint64_t base, uint64_t len,
		      bool write, uint64_t *ns, FILE *err)
{
	return bench_touch_lanes_stride(td, n, base, len, 4096, write, ns, err);
}

int bench_touch_lanes_stride(tdxmmu_td *td, unsigned n, uint64_t base, uint64_t len,
			     uint64_t stride, bool write, uint64_t *ns, FILE *err)
{
	struct lane lanes[TDXMMU_MAX_VCPUS];
	tdxmmu_guest_fn fns[TDXMMU_MAX_VCPUS];
	void *args[TDXMMU_MAX_VCPUS];
	int results[TDXMMU_MAX_VCPUS];
	uint64_t t0;
	int ret;

	for (unsigned i = 0; i < n; i++) {
		lanes[i] = (struct lane){ base + i * len, len, write, TDXMMU_OUTCOME_OK, stride };
		fns[i] = touch_lane;
		args[i] = &lanes[i];
		results[i] = 0;
	}
	t0 = bench_now_ns();
	if (n == 1)
		/* One vCPU runs on the calling thread: no thread start-up in
		 * the figure. */
		results[0] = touch_lane(td, 0, &lanes[0]);
	else if ((ret = tdxmmu_run_vcpus(td, n, fns, args, results))) {
		fprintf(err, "tdxmmu bench: running vCPUs: %s\n", tdxmmu_last_error());
		return 1;
	}
	*ns = bench_now_ns() - t0;
	for (unsigned i = 0; i < n; i++) {
		if (results[i] || lanes[i].outcome != TDXMMU_OUTCOME_OK) {
			fprintf(err, "tdxmmu bench: vCPU %u touching [%#" PRIx64 ", +%#" PRIx64 "): %s %s\n",
				i, lanes[i].base, lanes[i].len,
				results[i] ? tdxmmu_strerror(results[i]) : "outcome",
				results[i] ? tdxmmu_last_error() : tdxmmu_outcome_name(lanes[i].outcome));
			return 1;
		}
	}
	return 0;
}

int bench_mapgpa(tdxmmu_td *td, uint64_t gpa, uint64_t size, FILE *err)
{
	enum tdxmmu_outcome out = TDXMMU_OUTCOME_OK;

	if (tdxmmu_vcpu_mapgpa(td, 0, gpa, size, &out) || out != TDXMMU_OUTCOME_OK) {
		fprintf(err, "tdxmmu bench: MapGPA [%#llx, +%#llx): %s\n",
			(unsigned long long)gpa, (unsigned long long)size,
			out != TDXMMU_OUTCOME_OK ? tdxmmu_outcome_name(out) :
						   tdxmmu_last_error());
		return 1;
	}
	return 0;
}
