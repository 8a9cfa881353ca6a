/* SPDX-License-Identifier: MIT */
/*
 * tdxmmu show [--at=LINE] [--range=ADDR[,SIZE]] [--format=...] FILE: runs a
 * scenario up to a line and shows KVM's shared EPT, KVM's mirror EPT and the
 * module's Secure EPT for a range, as text (the scenario command `show`),
 * JSON, Graphviz DOT or SVG (the DOT laid out by Graphviz's library).
 *
 * Everything is read from one tdxmmu_show_collect() view taken while the
 * runner holds the TD (tdxmmu_run_options.at_stop) and printed only once
 * complete, so an error prints no half document. The output holds no
 * process address: two runs give the same bytes.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <graphviz/gvc.h>
#include <jansson.h>
#include <tdxmmu/tdxmmu.h>

#include "cmds.h"

enum format { FMT_TEXT, FMT_JSON, FMT_DOT, FMT_SVG };

static const char *const level_names[TDXMMU_VIEW_LEVELS] = {
	"4K", "2M", "1G", "512G", "256T"
};

struct show_job {
	const char *file;
	enum format format;
	bool has_range;
	uint64_t gpa, size;
	size_t max_pages;
	size_t at;
	/* Filled by the at_stop callback. */
	bool stopped;
	int status;        /* 0, or the exit status of a failure */
	char *doc;         /* the document to print */
	size_t doc_len;
	char msg[512];     /* why it failed (status != 0) */
	char note[512];    /* said on stderr besides the document */
};

static void show_usage(FILE *f)
{
	fprintf(f,
		"usage: tdxmmu show [--at=LINE] [--range=ADDR[,SIZE]] [--format=FORMAT]\n"
		"                   [--max-pages=N] FILE\n"
		"\n"
		"Runs the scenario FILE up to LINE and shows, for each 4K page of the range,\n"
		"KVM's shared EPT, KVM's private (mirror) EPT and the TDX module's Secure\n"
		"EPT at every level down to the page, decoded, with each mirror table page\n"
		"linked to its S-EPT twin.\n"
		"\n"
		"  --at=LINE         stop before the command on LINE (or the next command\n"
		"                    after it); default: the end of the file, before a\n"
		"                    final `destroy`\n"
		"  --range=ADDR[,SIZE]  the pages to show (SIZE: bytes, or with K, M or G;\n"
		"                    default 4K); either alias of ADDR names the same\n"
		"                    pages. Default: every page that the TD has mapped in\n"
		"                    either KVM tree or the S-EPT\n"
		"  --max-pages=N     show at most N pages, the first ones (default 64)\n"
		"  --format=FORMAT   text (as the scenario command `show` prints it), json,\n"
		"                    dot (Graphviz) or svg (the DOT laid out by Graphviz)\n"
		"\n"
		"The run's own output is not printed (only when it fails). Exit status: 0\n"
		"shown (a check that failed before LINE is noted on stderr), 2 usage or\n"
		"parse error, 3 the model detected a broken invariant inside itself.\n");
}

static bool parse_u64(const char *s, uint64_t *v, bool size)
{
	char *end;
	uint64_t mult = 1;

	errno = 0;
	if (!*s || *s == '-' || *s == '+')
		return false;
	*v = strtoull(s, &end, 0);
	if (end == s || errno)
		return false;
	if (size && *end) {
		switch (*end++) {
		case 'K': mult = 1ULL << 10; break;
		case 'M': mult = 1ULL << 20; break;
		case 'G': mult = 1ULL << 30; break;
		default: return false;
		}
	}
	if (*end || (*v && mult > UINT64_MAX / *v))
		return false;
	*v *= mult;
	return true;
}

/* ---- JSON ---------------------------------------------------------------- */

static json_t *hex(uint64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%#" PRIx64, v);
	return json_string(buf);
}

static json_t *index_or_null(int i)
{
	return i >= 0 ? json_integer(i) : json_null();
}

static json_t *pamt_json(unsigned type, uint64_t owner)
{
	json_t *p = json_object();

	json_object_set_new(p, "type", json_string(tdxmmu_pamt_type_name(type)));
	json_object_set_new(p, "owner", owner ? hex(owner) : json_null());
	return p;
}

static json_t *entry_json(const struct tdxmmu_view *v,
			  const struct tdxmmu_view_entry *e)
{
	const struct tdxmmu_view_table *t = &v->tables[e->table];
	json_t *j = json_object();

	json_object_set_new(j, "index", json_integer(e->index));
	json_object_set_new(j, "gpa", hex(e->gpa));
	json_object_set_new(j, "raw", hex(e->raw));
	json_object_set_new(j, "present", json_boolean(e->present));
	json_object_set_new(j, "leaf", json_boolean(e->leaf));
	json_object_set_new(j, "r", json_boolean(e->readable));
	json_object_set_new(j, "w", json_boolean(e->writable));
	json_object_set_new(j, "x", json_boolean(e->executable));
	json_object_set_new(j, "suppress_ve", json_boolean(e->suppress_ve));
	if (t->tree == TDXMMU_TREE_SEPT) {
		json_object_set_new(j, "state",
				    json_string(tdxmmu_sept_state_name(e->sept_state)));
	} else {
		json_object_set_new(j, "shared_mask", json_boolean(e->shared_mask));
		json_object_set_new(j, "frozen", json_boolean(e->frozen));
		json_object_set_new(j, "private_zapped", json_boolean(e->private_zapped));
		json_object_set_new(j, "initial", json_boolean(e->initial));
	}
	json_object_set_new(j, "pfn", e->pfn ? hex(e->pfn) : json_null());
	json_object_set_new(j, "child", index_or_null(e->child));
	if (e->has_pamt)
		json_object_set_new(j, "pamt", pamt_json(e->pamt_type, e->pamt_owner));
	return j;
}

static const char *tree_key(enum tdxmmu_tree t)
{
	return t == TDXMMU_TREE_SHARED ? "shared" : t == TDXMMU_TREE_MIRROR ? "mirror" : "sept";
}

static char *view_json(const struct show_job *job, const struct tdxmmu_view *v,
		       size_t stopped_line, size_t total, size_t *len)
{
	json_t *root = json_object(), *pages = json_array(), *tables = json_array();
	char *s;

	json_object_set_new(root, "file", json_string(job->file));
	json_object_set_new(root, "stopped_before_line",
			    stopped_line ? json_integer((json_int_t)stopped_line) : json_null());
	json_object_set_new(root, "mmu", json_string(v->mmu == TDXMMU_MMU_LEGACY ? "legacy" : "tdp"));
	json_object_set_new(root, "levels", json_integer(v->levels));
	json_object_set_new(root, "shared_bit", hex(v->shared_bit));
	json_object_set_new(root, "pages_in_range", json_integer((json_int_t)total));
	for (size_t i = 0; i < v->nr_pages; i++) {
		const struct tdxmmu_view_page *p = &v->pages[i];
		json_t *pj = json_object();

		json_object_set_new(pj, "gpa", hex(p->gpa));
		json_object_set_new(pj, "shared_gpa", hex(p->shared_gpa));
		for (unsigned t = 0; t < TDXMMU_NR_TREES; t++) {
			/* Top level first, as the text shows them. */
			json_t *path = json_array();

			for (unsigned l = v->levels; l-- > 0;) {
				int e = p->entry[t][l];
				json_t *ej;

				if (e < 0) {
					json_array_append_new(path, json_null());
					continue;
				}
				ej = json_object();
				json_object_set_new(ej, "level", json_string(level_names[l]));
				json_object_set_new(ej, "table", json_integer(v->entries[e].table));
				json_object_set_new(ej, "index", json_integer(v->entries[e].index));
				json_array_append_new(path, ej);
			}
			json_object_set_new(pj, tree_key(t), path);
		}
		json_array_append_new(pages, pj);
	}
	for (size_t i = 0; i < v->nr_tables; i++) {
		const struct tdxmmu_view_table *t = &v->tables[i];
		json_t *tj = json_object(), *ents = json_array();

		json_object_set_new(tj, "id", json_integer((json_int_t)i));
		json_object_set_new(tj, "tree", json_string(tree_key(t->tree)));
		json_object_set_new(tj, "level", json_string(level_names[t->level]));
		json_object_set_new(tj, "gpa", hex(t->gpa));
		json_object_set_new(tj, "parent", index_or_null(t->parent));
		json_object_set_new(tj, "parent_index",
				    t->parent >= 0 ? json_integer(t->parent_index) : json_null());
		if (t->tree != TDXMMU_TREE_SHARED)
			json_object_set_new(tj, "hpa", t->hpa ? hex(t->hpa) : json_null());
		if (t->tree != TDXMMU_TREE_SHARED)
			json_object_set_new(tj, "twin", index_or_null(t->twin));
		if (t->tree == TDXMMU_TREE_SEPT)
			json_object_set_new(tj, "pamt", pamt_json(t->pamt_type, t->pamt_owner));
		for (size_t k = 0; k < t->nr_entries; k++)
			json_array_append_new(ents, entry_json(v, &v->entries[t->first_entry + k]));
		json_object_set_new(tj, "entries", ents);
		json_array_append_new(tables, tj);
	}
	json_object_set_new(root, "pages", pages);
	json_object_set_new(root, "tables", tables);
	s = json_dumps(root, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
	json_decref(root);
	*len = s ? strlen(s) : 0;
	return s;
}

/* ---- DOT ----------------------------------------------------------------- */

/* Fill colours: what an entry means for the guest. */
#define COL_TABLE "#eeeeee"
#define COL_NONE "#ffffff"
#define COL_PRIVATE "#c8e6c9"  /* a private page mapped */
#define COL_SHARED "#bbdefb"   /* shared: SPTE_SHARED_MASK or a shared leaf */
#define COL_FROZEN "#ffcc80"   /* REMOVED_SPTE */
#define COL_ZAPPED "#e1bee7"   /* PRIVATE_ZAPPED */
#define COL_PENDING "#fff59d"  /* S-EPT PENDING: not yet accepted */
#define COL_BLOCKED "#ef9a9a"  /* S-EPT BLOCKED, PENDING_BLOCKED, NL_BLOCKED */

static const char *entry_colour(const struct tdxmmu_view *v,
				const struct tdxmmu_view_entry *e)
{
	enum tdxmmu_tree tree = v->tables[e->table].tree;

	if (tree == TDXMMU_TREE_SEPT) {
		switch (e->sept_state) {
		case TDXMMU_SEPT_MAPPED: return COL_PRIVATE;
		case TDXMMU_SEPT_PENDING: return COL_PENDING;
		case TDXMMU_SEPT_BLOCKED:
		case TDXMMU_SEPT_PENDING_BLOCKED:
		case TDXMMU_SEPT_NL_BLOCKED: return COL_BLOCKED;
		case TDXMMU_SEPT_NL_MAPPED: return COL_TABLE;
		default: return COL_NONE;
		}
	}
	if (e->frozen)
		return COL_FROZEN;
	if (e->private_zapped)
		return COL_ZAPPED;
	if (e->present && !e->leaf)
		return COL_TABLE;
	if (e->shared_mask || (e->present && tree == TDXMMU_TREE_SHARED))
		return COL_SHARED;
	if (e->present)
		return COL_PRIVATE;
	return COL_NONE;
}

static void entry_words(FILE *f, const struct tdxmmu_view *v,
			const struct tdxmmu_view_entry *e)
{
	enum tdxmmu_tree tree = v->tables[e->table].tree;

	fprintf(f, "[%u] %#" PRIx64 " ", e->index, e->gpa);
	if (tree == TDXMMU_TREE_SEPT) {
		fprintf(f, "%s", tdxmmu_sept_state_name(e->sept_state));
		if (e->pfn)
			fprintf(f, " hpa=%#" PRIx64, e->pfn << 12);
	} else if (e->initial) {
		fprintf(f, "nonpresent");
	} else if (e->frozen) {
		fprintf(f, "frozen%s", e->shared_mask ? " shared" : "");
	} else if (e->present && !e->leaf) {
		fprintf(f, "table%s", e->shared_mask ? " shared" : "");
	} else {
		fprintf(f, "%s%s%s", e->present ? "leaf" : "nonpresent",
			e->shared_mask ? " shared" : "",
			e->private_zapped ? " PRIVATE_ZAPPED" : "");
		if (e->pfn)
			fprintf(f, " pfn=%#" PRIx64, e->pfn);
	}
	if (e->has_pamt && e->pamt_type)
		fprintf(f, " %s", tdxmmu_pamt_type_name(e->pamt_type));
}

static const char *const tree_titles[TDXMMU_NR_TREES] = {
	"KVM shared EPT (the CPU walks it)",
	"KVM mirror EPT (KVM only)",
	"Secure EPT (TDX module; the CPU walks it)",
};

static char *view_dot(const struct show_job *job, const struct tdxmmu_view *v,
		      size_t stopped_line, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	if (!f)
		return NULL;
	fprintf(f, "digraph tdxmmu {\n"
		   "  graph [fontname=\"monospace\" fontsize=10 nodesep=0.3 ranksep=0.5 newrank=true];\n"
		   "  node [shape=plaintext fontname=\"monospace\" fontsize=9];\n"
		   "  edge [arrowsize=0.6];\n");
	fprintf(f, "  label=\"");
	/* The file name is the user's: quote what DOT would read. */
	for (const char *c = job->file; *c; c++)
		fprintf(f, "%s%c", *c == '"' || *c == '\\' ? "\\" : "", *c);
	if (stopped_line)
		fprintf(f, ", before line %zu", stopped_line);
	fprintf(f, " (mmu=%s)\";\n  labelloc=t;\n",
		v->mmu == TDXMMU_MMU_LEGACY ? "legacy" : "tdp");
	for (unsigned tree = 0; tree < TDXMMU_NR_TREES; tree++) {
		fprintf(f, "  subgraph cluster_%s {\n    label=\"%s\";\n    style=rounded;\n",
			tree_key(tree), tree_titles[tree]);
		/* An anchor per cluster keeps the three side by side even when
		 * a tree is empty. */
		fprintf(f, "    anchor_%s [label=\"\" shape=point style=invis];\n",
			tree_key(tree));
		for (size_t i = 0; i < v->nr_tables; i++) {
			const struct tdxmmu_view_table *t = &v->tables[i];

			if (t->tree != tree)
				continue;
			fprintf(f, "    t%zu [label=<<TABLE BORDER=\"0\" CELLBORDER=\"1\" CELLSPACING=\"0\" CELLPADDING=\"2\">\n"
				   "      <TR><TD BGCOLOR=\"#dddddd\"><B>%s %s table</B> gpa %#" PRIx64,
				i, tree_key(tree), level_names[t->level], t->gpa);
			if (tree == TDXMMU_TREE_SEPT)
				fprintf(f, "<BR/>hpa=%#" PRIx64 " %s", t->hpa,
					tdxmmu_pamt_type_name(t->pamt_type));
			else if (tree == TDXMMU_TREE_MIRROR && t->hpa)
				fprintf(f, "<BR/>twin hpa=%#" PRIx64, t->hpa);
			else if (tree == TDXMMU_TREE_MIRROR && t->parent < 0)
				fprintf(f, "<BR/>root: no twin (the S-EPT root is a TDCS page)");
			fprintf(f, "</TD></TR>\n");
			for (size_t k = 0; k < t->nr_entries; k++) {
				const struct tdxmmu_view_entry *e = &v->entries[t->first_entry + k];

				fprintf(f, "      <TR><TD PORT=\"e%u\" ALIGN=\"LEFT\" BGCOLOR=\"%s\">",
					e->index, entry_colour(v, e));
				entry_words(f, v, e);
				fprintf(f, "</TD></TR>\n");
			}
			fprintf(f, "    </TABLE>>];\n");
			if (t->parent < 0)
				fprintf(f, "    anchor_%s -> t%zu [style=invis];\n",
					tree_key(tree), i);
		}
		fprintf(f, "  }\n");
	}
	/* Left to right: shared | mirror | S-EPT. */
	fprintf(f, "  { rank=same; anchor_shared; anchor_mirror; anchor_sept; }\n"
		   "  anchor_shared -> anchor_mirror -> anchor_sept [style=invis];\n");
	for (size_t i = 0; i < v->nr_entries; i++) {
		const struct tdxmmu_view_entry *e = &v->entries[i];

		if (e->child >= 0)
			fprintf(f, "  t%d:e%u -> t%d;\n", e->table, e->index, e->child);
	}
	for (size_t i = 0; i < v->nr_tables; i++) {
		const struct tdxmmu_view_table *t = &v->tables[i];

		if (t->tree == TDXMMU_TREE_MIRROR && t->twin >= 0)
			fprintf(f, "  t%zu -> t%d [style=dashed color=\"#7b1fa2\" constraint=false label=\"%s\" fontsize=8];\n",
				i, t->twin,
				t->hpa && t->hpa == v->tables[t->twin].hpa ? "twin" :
				t->hpa ? "twin (HPA differs!)" : "root");
	}
	fprintf(f, "  legend [label=<<TABLE BORDER=\"0\" CELLBORDER=\"1\" CELLSPACING=\"0\" CELLPADDING=\"2\">"
		   "<TR><TD BGCOLOR=\"" COL_PRIVATE "\">private mapped</TD>"
		   "<TD BGCOLOR=\"" COL_SHARED "\">shared</TD>"
		   "<TD BGCOLOR=\"" COL_PENDING "\">pending</TD>"
		   "<TD BGCOLOR=\"" COL_BLOCKED "\">blocked</TD>"
		   "<TD BGCOLOR=\"" COL_ZAPPED "\">PRIVATE_ZAPPED</TD>"
		   "<TD BGCOLOR=\"" COL_FROZEN "\">frozen</TD>"
		   "<TD BGCOLOR=\"" COL_TABLE "\">table</TD></TR></TABLE>>];\n");
	fprintf(f, "}\n");
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* The DOT laid out and drawn by Graphviz's library (libgvc). */
static char *dot_to_svg(const char *dot, size_t *len, char *msg, size_t msg_size)
{
	GVC_t *gvc = gvContext();
	Agraph_t *g;
	char *data = NULL, *copy = NULL;
	unsigned int n = 0;

	if (!gvc) {
		snprintf(msg, msg_size, "Graphviz: cannot create a context");
		return NULL;
	}
	g = agmemread(dot);
	if (!g) {
		snprintf(msg, msg_size, "Graphviz: cannot read the DOT (a bug of tdxmmu show)");
		gvFreeContext(gvc);
		return NULL;
	}
	if (gvLayout(gvc, g, "dot") != 0 ||
	    gvRenderData(gvc, g, "svg", &data, &n) != 0) {
		snprintf(msg, msg_size, "Graphviz: cannot lay out or render the graph (is libgvc's dot plugin installed? `dot -c` registers it)");
	} else if ((copy = malloc(n + 1))) {
		memcpy(copy, data, n);
		copy[n] = '\0';
		*len = n;
	} else {
		snprintf(msg, msg_size, "out of memory");
	}
	if (data)
		gvFreeRenderData(data);
	gvFreeLayout(gvc, g);
	agclose(g);
	gvFreeContext(gvc);
	return copy;
}

/* ---- the run ------------------------------------------------------------- */

static void at_stop(tdxmmu_td *td, size_t line, void *arg)
{
	struct show_job *job = arg;
	struct tdxmmu_view *v = NULL;
	uint64_t *gpas = NULL;
	size_t total = 0, n;
	int rc;

	job->stopped = true;
	if (!td) {
		snprintf(job->msg, sizeof(job->msg),
			 "%s: no TD %s (the script has not made one, or has destroyed it)",
			 job->file, line ? "at that line" : "at the end");
		job->status = 2;
		return;
	}
	if (job->has_range) {
		/* Only the pages shown are collected: a large range costs no
		 * more than they do. */
		uint64_t shown = job->size / 4096 < job->max_pages ? job->size :
				 job->max_pages * 4096ULL;

		total = (size_t)(job->size / 4096);
		rc = tdxmmu_show_collect(td, job->gpa, shown, &v);
		/* The pages not shown must still be pages of one alias. */
		if (rc == 0 && (job->gpa & ~v->shared_bit) + job->size > v->shared_bit) {
			snprintf(job->msg, sizeof(job->msg),
				 "%s: --range=%#" PRIx64 ",%#" PRIx64 " crosses the shared bit (%#" PRIx64 ")",
				 job->file, job->gpa, job->size, v->shared_bit);
			job->status = 2;
			tdxmmu_view_free(v);
			return;
		}
	} else {
		rc = tdxmmu_mapped_pages(td, NULL, 0, &total);
		n = total < job->max_pages ? total : job->max_pages;
		if (rc == 0 && !(gpas = calloc(n ? n : 1, sizeof(*gpas))))
			rc = TDXMMU_ENOMEM;
		if (rc == 0)
			rc = tdxmmu_mapped_pages(td, gpas, n, &total);
		if (rc == 0)
			rc = tdxmmu_show_collect_pages(td, gpas, n, &v);
		free(gpas);
		if (rc == 0 && total == 0)
			snprintf(job->note, sizeof(job->note),
				 "the TD maps no page %s: nothing to show (--range= shows a range)",
				 line ? "before that line" : "at the end");
	}
	if (rc != 0) {
		snprintf(job->msg, sizeof(job->msg), "%s: %s", job->file, tdxmmu_last_error());
		/* A range the TD cannot have is the user's mistake. */
		job->status = rc == TDXMMU_EINVAL || rc == TDXMMU_ERANGE ? 2 : 3;
		return;
	}
	if (total > job->max_pages)
		snprintf(job->note, sizeof(job->note),
			 "%zu pages in the range; showing the first %zu (--max-pages=N shows more, --range= another range)",
			 total, job->max_pages);

	switch (job->format) {
	case FMT_TEXT: {
		FILE *f = open_memstream(&job->doc, &job->doc_len);

		if (f) {
			tdxmmu_view_print(v, f);
			if (fclose(f)) {
				free(job->doc);
				job->doc = NULL;
			}
		}
		break;
	}
	case FMT_JSON:
		job->doc = view_json(job, v, line, total, &job->doc_len);
		if (job->doc) {
			/* One document per line-terminated output. */
			char *d = realloc(job->doc, job->doc_len + 2);

			if (d) {
				job->doc = d;
				job->doc[job->doc_len++] = '\n';
				job->doc[job->doc_len] = '\0';
			}
		}
		break;
	case FMT_DOT:
		job->doc = view_dot(job, v, line, &job->doc_len);
		break;
	case FMT_SVG: {
		size_t dlen = 0;
		char *dot = view_dot(job, v, line, &dlen);

		if (dot) {
			job->doc = dot_to_svg(dot, &job->doc_len, job->msg, sizeof(job->msg));
			free(dot);
			if (!job->doc && job->msg[0]) {
				job->status = 3;
				tdxmmu_view_free(v);
				return;
			}
		}
		break;
	}
	}
	if (!job->doc) {
		snprintf(job->msg, sizeof(job->msg), "out of memory");
		job->status = 3;
	}
	tdxmmu_view_free(v);
}

/* The number of lines of the file (a last line without a newline counts),
 * or -1 with errno set. The run reads the file itself. */
static long count_lines(const char *path)
{
	FILE *f = fopen(path, "rb");
	long lines = 0;
	int ch, last = '\n';

	if (!f)
		return -1;
	while ((ch = getc(f)) != EOF) {
		if (ch == '\n')
			lines++;
		last = ch;
	}
	if (ferror(f)) {
		fclose(f);
		errno = EIO;
		return -1;
	}
	fclose(f);
	return lines + (last != '\n');
}

static int show_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "at", required_argument, NULL, 'a' },
		{ "range", required_argument, NULL, 'r' },
		{ "format", required_argument, NULL, 'f' },
		{ "max-pages", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct show_job job = { .format = FMT_TEXT, .max_pages = 64 };
	struct tdxmmu_run_options opts = { .err = stderr };
	char *run_out = NULL;
	size_t run_len = 0;
	long lines;
	uint64_t v;
	int c, status;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'a':
			if (!parse_u64(optarg, &v, false) || v == 0 || v > SIZE_MAX) {
				fprintf(stderr, "tdxmmu show: --at=%s: not a line number (1, 2, ...)\n", optarg);
				return 2;
			}
			job.at = (size_t)v;
			break;
		case 'r': {
			char *comma = strchr(optarg, ',');

			if (comma)
				*comma = '\0';
			job.size = 4096;
			if (!parse_u64(optarg, &job.gpa, false) ||
			    (comma && !parse_u64(comma + 1, &job.size, true))) {
				if (comma)
					*comma = ',';
				fprintf(stderr, "tdxmmu show: --range=%s: expected ADDR[,SIZE] (0x200000,8K)\n", optarg);
				return 2;
			}
			if (job.size == 0) {
				fprintf(stderr, "tdxmmu show: --range: SIZE must not be 0\n");
				return 2;
			}
			/* As the scenario's show: every page the range touches. */
			if (job.gpa + job.size < job.gpa) {
				fprintf(stderr, "tdxmmu show: --range: the range wraps around\n");
				return 2;
			}
			job.size = ((job.gpa + job.size + 4095) & ~4095ULL) - (job.gpa & ~4095ULL);
			job.gpa &= ~4095ULL;
			job.has_range = true;
			break;
		}
		case 'f':
			if (!strcmp(optarg, "text"))
				job.format = FMT_TEXT;
			else if (!strcmp(optarg, "json"))
				job.format = FMT_JSON;
			else if (!strcmp(optarg, "dot"))
				job.format = FMT_DOT;
			else if (!strcmp(optarg, "svg"))
				job.format = FMT_SVG;
			else {
				fprintf(stderr, "tdxmmu show: --format=%s: expected text, json, dot or svg\n", optarg);
				return 2;
			}
			break;
		case 'm':
			if (!parse_u64(optarg, &v, false) || v == 0 || v > 1u << 20) {
				fprintf(stderr, "tdxmmu show: --max-pages=%s: expected 1 to 1048576\n", optarg);
				return 2;
			}
			job.max_pages = (size_t)v;
			break;
		case 'h':
			show_usage(stdout);
			return 0;
		default:
			fprintf(stderr, "tdxmmu show: unknown option, or an option without its value: '%s'\n",
				argv[optind - 1]);
			show_usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "tdxmmu show: expected one FILE\n");
		show_usage(stderr);
		return 2;
	}
	job.file = argv[optind];
	errno = 0;
	lines = count_lines(job.file);
	if (lines < 0) {
		fprintf(stderr, "%s: error: cannot read: %s\n", job.file, strerror(errno));
		return 2;
	}
	if (job.at > (size_t)lines) {
		fprintf(stderr, "tdxmmu show: --at=%zu: %s has %ld lines\n", job.at, job.file, lines);
		return 2;
	}

	opts.out = open_memstream(&run_out, &run_len);
	if (!opts.out) {
		fprintf(stderr, "tdxmmu show: out of memory\n");
		return 3;
	}
	opts.stop_line = job.at;
	opts.stop_before_final_destroy = job.at == 0;
	opts.at_stop = at_stop;
	opts.at_stop_arg = &job;
	status = tdxmmu_run_file(job.file, &opts);
	fclose(opts.out);

	if (!job.stopped || (status != 0 && status != 1)) {
		/* The run ended on an error before it could be looked at:
		 * what it printed says why. */
		fputs(run_out ? run_out : "", stderr);
		free(run_out);
		free(job.doc);
		return status ? status : 3;
	}
	if (job.status) {
		fprintf(stderr, "tdxmmu show: %s\n", job.msg);
		free(run_out);
		free(job.doc);
		return job.status;
	}
	if (status == 1)
		fprintf(stderr, "tdxmmu show: note: a check failed before the stop; the run printed:\n%s",
			run_out ? run_out : "");
	free(run_out);
	if (job.note[0])
		fprintf(stderr, "tdxmmu show: note: %s\n", job.note);
	fwrite(job.doc, 1, job.doc_len, stdout);
	free(job.doc);
	return fflush(stdout) ? 2 : 0;
}

const struct tdxmmu_cmd cmd_show = {
	.name = "show",
	.summary = "run a scenario up to a line and show the three page tables",
	.fn = show_main,
};
