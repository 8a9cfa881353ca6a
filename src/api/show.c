/* SPDX-License-Identifier: MIT */
/*
 * Looking inside (scenario contract 1.1, issue 13): tdxmmu_show_collect()
 * gathers, page by page, what KVM's shared EPT, KVM's private (mirror) EPT
 * and the TDX module's Secure EPT hold at every level down to the page, as
 * data (struct tdxmmu_view); tdxmmu_view_print() prints it in the text form
 * of the scenario command `show`, and tdxmmu_show() is the two together, so
 * that the text, the CLI's JSON and its Graphviz drawing come from one
 * reading. tdxmmu_spte_state_level() (expect-spte at a level other than 4K)
 * reads the same data.
 *
 * All are observers: they change nothing and count nothing. KVM's trees are
 * read under mmu_lock held for read (what `check`'s walks require) and in an
 * RCU read-side section (a TDP MMU fault, also under the read side, may
 * unlink a table; its page stays readable until the section ends); the
 * S-EPT only through the module's read-only walk (tdx_debug_sept_path()),
 * which takes no module lock and counts no SEAMCALL. Everything is copied
 * before anything is printed, so a slow output stream never holds KVM up.
 *
 * KVM's tables are descended directly from the roots, entry by entry, as
 * the CPU's walk does (both MMUs use spte.h's format and struct
 * kvm_mmu_page), rather than through a whole-tree walk: the cost is that of
 * the pages asked for, whatever the TD's size.
 *
 * Nothing printed or returned depends on where the process's memory lies
 * (a KVM non-leaf entry holds the process address of KVM's table in this
 * model: its address field is cleared in the data, and the text prints
 * only "table"), so the output is the same from run to run.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "host/host_rcu.h"
#include "kvm/kvm.h"
#include "kvm/mmu.h"
#include "kvm/mmu_legacy.h"
#include "kvm/mmu_page.h"
#include "kvm/spte.h"
#include "kvm/tdp_iter.h"
#include "kvm/tdp_mmu.h"
#include "tdx/sept.h"
#include "tdx/tdx_module.h"

/* Levels as the scenario language names them (0 = 4K ... 4 = 256T). */
static const char *const level_names[TDXMMU_VIEW_LEVELS] = {
	"4K", "2M", "1G", "512G", "256T"
};

TDXMMU_API const char *tdxmmu_tree_name(enum tdxmmu_tree t)
{
	static const char *const names[] = { "shared", "mirror", "S-EPT" };

	return (unsigned)t < TDXMMU_NR_TREES ? names[t] : "?";
}

TDXMMU_API const char *tdxmmu_pamt_type_name(unsigned pt)
{
	return tdx_page_type_name(pt);
}

static uint64_t level_pages(unsigned level)
{
	return 1ULL << (9 * level);
}

/* Levels of the TD's walk: the root table's entries map 512G (4-level
 * EPT, gpaw=48) or 256T (5-level, gpaw=52). */
static unsigned walk_levels(const tdxmmu_td *td)
{
	return td->kvm->root_level - PG_LEVEL_4K + 1;
}

static bool gpa_ok(const tdxmmu_td *td, uint64_t gpa)
{
	return (gpa >> td->cfg.gpaw) == 0;
}

/* ---- building a view ---------------------------------------------------- */

/* The view being built. Pages are visited in ascending order, so along each
 * tree the path of table pages and entries only moves forward: a table page
 * or entry that the walk has left is never met again, and "the same as the
 * last one at this level" is all the deduplication needs. Tables and entries
 * are made in visiting order and sorted at the end. */
struct builder {
	struct tdxmmu_view *v;
	size_t cap_tables, cap_entries;
	bool oom;
	/* Per tree and level: the last table (its identity: KVM's page, or
	 * the S-EPT page's HPA) and the last entry made. */
	struct {
		const void *sp;
		uint64_t hpa;
		int table;
		int entry;
		unsigned index;
		/* KVM: the table that entry pointed to when it was read (each
		 * entry is read once, so the view cannot disagree with itself
		 * while vCPU threads run). */
		struct kvm_mmu_page *child;
	} last[TDXMMU_NR_TREES][TDXMMU_VIEW_LEVELS];
};

/* @arr (of @nr elements, capacity *@cap) with room for one more, the
 * capacity doubled from @first when full; NULL, the builder marked out of
 * memory, when it cannot grow (@arr stays valid). */
static void *grow(struct builder *b, void *arr, size_t *cap, size_t nr,
		  size_t elem, size_t first)
{
	size_t ncap;
	void *n;

	if (nr < *cap)
		return arr;
	ncap = *cap ? *cap * 2 : first;
	n = realloc(arr, ncap * elem);
	if (!n) {
		b->oom = true;
		return NULL;
	}
	*cap = ncap;
	return n;
}

static int new_table(struct builder *b, enum tdxmmu_tree tree, unsigned level,
		     uint64_t gpa, int parent, unsigned parent_index)
{
	struct tdxmmu_view *v = b->v;
	struct tdxmmu_view_table *tables =
		grow(b, v->tables, &b->cap_tables, v->nr_tables, sizeof(*tables), 16);

	if (!tables)
		return -1;
	v->tables = tables;
	v->tables[v->nr_tables] = (struct tdxmmu_view_table){
		.tree = tree, .level = level, .gpa = gpa, .parent = parent,
		.parent_index = parent_index, .twin = -1,
	};
	return (int)v->nr_tables++;
}

static int new_entry(struct builder *b, int table, unsigned index)
{
	struct tdxmmu_view *v = b->v;
	const struct tdxmmu_view_table *t = &v->tables[table];
	struct tdxmmu_view_entry *entries =
		grow(b, v->entries, &b->cap_entries, v->nr_entries, sizeof(*entries), 64);

	if (!entries)
		return -1;
	v->entries = entries;
	v->entries[v->nr_entries] = (struct tdxmmu_view_entry){
		.table = table, .index = index, .level = t->level,
		.gpa = t->gpa + (uint64_t)index * level_pages(t->level) * PAGE_SIZE,
		.child = -1,
	};
	return (int)v->nr_entries++;
}

static void set_pamt(tdxmmu_td *td, struct tdxmmu_view_entry *e)
{
	enum tdx_page_type pt;
	hpa_t owner;

	tdx_debug_pamt(td->tdx, e->pfn, &pt, &owner, NULL);
	e->has_pamt = true;
	e->pamt_type = pt;
	e->pamt_owner = owner;
}

/* A KVM entry, decoded. */
static void decode_spte(tdxmmu_td *td, struct tdxmmu_view_entry *e,
			uint64_t spte)
{
	int level = (int)e->level + PG_LEVEL_4K;

	e->present = is_shadow_present_pte(spte);
	e->leaf = e->present && is_last_spte(spte, level);
	e->raw = spte;
	/* The address field of a table entry is a process address here. */
	if (e->present && !e->leaf)
		e->raw &= ~SPTE_BASE_ADDR_MASK;
	e->readable = spte & PT64_EPT_READABLE_MASK;
	e->writable = spte & PT_WRITABLE_MASK;
	e->executable = spte & PT64_EPT_EXECUTABLE_MASK;
	e->shared_mask = is_shared_spte(spte);
	e->suppress_ve = spte & VMX_EPT_SUPPRESS_VE_BIT;
	e->frozen = is_removed_spte(spte);
	e->private_zapped = is_private_zapped_spte(spte);
	e->initial = spte == SHADOW_NONPRESENT_VALUE;
	if (e->leaf || e->private_zapped) {
		e->pfn = spte_to_pfn(spte);
		set_pamt(td, e);
	}
}

/* One page's path down one KVM tree. Context: mmu_lock held for read, in an
 * RCU read-side section. */
static void walk_kvm(struct builder *b, tdxmmu_td *td, enum tdxmmu_tree tree,
		     struct kvm_mmu_page *root, gfn_t gfn, size_t page)
{
	struct tdxmmu_view *v = b->v;
	struct kvm_mmu_page *sp = root;
	int parent = -1, parent_entry = -1;
	unsigned parent_index = 0;
	uint64_t table_gpa = 0;

	for (unsigned l = v->levels; l-- > 0 && sp && !b->oom;) {
		int level = (int)l + PG_LEVEL_4K;
		unsigned index = SPTE_INDEX(gfn, level);
		int t, e;

		if (b->last[tree][l].sp == sp) {
			t = b->last[tree][l].table;
		} else {
			t = new_table(b, tree, l, table_gpa, parent, parent_index);
			if (t < 0)
				return;
			if (tree == TDXMMU_TREE_MIRROR)
				v->tables[t].hpa = sp->private_spt;
			b->last[tree][l].sp = sp;
			b->last[tree][l].table = t;
			b->last[tree][l].entry = -1;
		}
		if (parent_entry >= 0)
			v->entries[parent_entry].child = t;
		if (b->last[tree][l].entry >= 0 && b->last[tree][l].index == index) {
			e = b->last[tree][l].entry;
		} else {
			uint64_t spte;
			_Atomic uint64_t *child;

			e = new_entry(b, t, index);
			if (e < 0)
				return;
			spte = kvm_tdp_mmu_read_spte(&sp->spt[index]);
			decode_spte(td, &v->entries[e], spte);
			child = spte_to_child_pt(spte, level);
			b->last[tree][l].entry = e;
			b->last[tree][l].index = index;
			b->last[tree][l].child = child ? sptep_to_sp(child) : NULL;
		}
		v->pages[page].entry[tree][l] = e;
		parent = t;
		parent_entry = e;
		parent_index = index;
		table_gpa = v->entries[e].gpa;
		sp = b->last[tree][l].child;
	}
}

/* One page's path down the S-EPT. */
static void walk_sept(struct builder *b, tdxmmu_td *td, uint64_t gpa,
		      size_t page)
{
	struct tdxmmu_view *v = b->v;
	uint64_t entry[5];
	hpa_t table[5];
	int stop = tdx_debug_sept_path(td->tdx, td->kvm->tdr, gpa, entry, table);
	int parent = -1, parent_entry = -1;
	unsigned parent_index = 0;
	uint64_t table_gpa = 0;

	if (stop < 0)
		return;
	for (unsigned l = v->levels; l-- > (unsigned)stop && !b->oom;) {
		const enum tdxmmu_tree tree = TDXMMU_TREE_SEPT;
		unsigned index = sept_index(gpa, l);
		struct tdxmmu_view_entry *en;
		enum tdx_sept_state st;
		int t, e;

		if (b->last[tree][l].table >= 0 && b->last[tree][l].hpa == table[l]) {
			t = b->last[tree][l].table;
		} else {
			enum tdx_page_type pt;
			hpa_t owner;

			t = new_table(b, tree, l, table_gpa, parent, parent_index);
			if (t < 0)
				return;
			v->tables[t].hpa = table[l];
			tdx_debug_pamt(td->tdx, hpa_to_pfn(table[l]), &pt, &owner, NULL);
			v->tables[t].pamt_type = pt;
			v->tables[t].pamt_owner = owner;
			b->last[tree][l].hpa = table[l];
			b->last[tree][l].table = t;
			b->last[tree][l].entry = -1;
		}
		if (parent_entry >= 0)
			v->entries[parent_entry].child = t;
		if (b->last[tree][l].entry >= 0 && b->last[tree][l].index == index) {
			e = b->last[tree][l].entry;
		} else {
			e = new_entry(b, t, index);
			if (e < 0)
				return;
			en = &v->entries[e];
			st = sept_state(entry[l]);
			en->raw = entry[l];
			en->present = sept_is_present(entry[l]);
			en->leaf = sept_is_leaf(entry[l]);
			en->readable = entry[l] & SEPT_R;
			en->writable = entry[l] & SEPT_W;
			en->executable = entry[l] & SEPT_X;
			en->suppress_ve = entry[l] & SEPT_SVE;
			en->sept_state = api_sept_state_of(st);
			if (st != SEPT_FREE && st != SEPT_REMOVED && st != SEPT_NR_STATES) {
				en->pfn = hpa_to_pfn(sept_hpa(entry[l]));
				if (en->leaf)
					set_pamt(td, en);
			}
			b->last[tree][l].entry = e;
			b->last[tree][l].index = index;
		}
		v->pages[page].entry[tree][l] = e;
		parent = t;
		parent_entry = e;
		parent_index = index;
		table_gpa = v->entries[e].gpa;
	}
}

/* ---- ordering: tables by tree, level from the top, GPA; entries by table
 * and index (the visiting order interleaves levels) ---------------------- */

struct table_key {
	enum tdxmmu_tree tree;
	unsigned level;
	uint64_t gpa;
	int old;
};

static int table_cmp(const void *a, const void *b)
{
	const struct table_key *x = a, *y = b;

	if (x->tree != y->tree)
		return x->tree < y->tree ? -1 : 1;
	if (x->level != y->level)
		return x->level > y->level ? -1 : 1;
	return x->gpa < y->gpa ? -1 : x->gpa > y->gpa;
}

struct entry_key {
	struct tdxmmu_view_entry e;
	int old;
};

static int entry_cmp(const void *a, const void *b)
{
	const struct entry_key *x = a, *y = b;

	if (x->e.table != y->e.table)
		return x->e.table < y->e.table ? -1 : 1;
	return x->e.index < y->e.index ? -1 : x->e.index > y->e.index;
}

static int sort_view(struct tdxmmu_view *v)
{
	size_t nt = v->nr_tables, ne = v->nr_entries;
	struct table_key *tk = malloc((nt ? nt : 1) * sizeof(*tk));
	struct entry_key *ek = malloc((ne ? ne : 1) * sizeof(*ek));
	struct tdxmmu_view_table *tables = malloc((nt ? nt : 1) * sizeof(*tables));
	int *tmap = malloc((nt ? nt : 1) * sizeof(int));
	int *emap = malloc((ne ? ne : 1) * sizeof(int));
	int ret = TDXMMU_ENOMEM;

	if (!tk || !ek || !tables || !tmap || !emap)
		goto out;
	for (size_t i = 0; i < nt; i++)
		tk[i] = (struct table_key){ v->tables[i].tree, v->tables[i].level,
					    v->tables[i].gpa, (int)i };
	/* qsort's array may not be NULL, even when empty. */
	if (nt)
		qsort(tk, nt, sizeof(*tk), table_cmp);
	for (size_t i = 0; i < nt; i++) {
		tmap[tk[i].old] = (int)i;
		tables[i] = v->tables[tk[i].old];
	}
	for (size_t i = 0; i < nt; i++) {
		v->tables[i] = tables[i];
		if (v->tables[i].parent >= 0)
			v->tables[i].parent = tmap[v->tables[i].parent];
	}
	for (size_t i = 0; i < ne; i++) {
		ek[i].e = v->entries[i];
		ek[i].e.table = tmap[ek[i].e.table];
		if (ek[i].e.child >= 0)
			ek[i].e.child = tmap[ek[i].e.child];
		ek[i].old = (int)i;
	}
	if (ne)
		qsort(ek, ne, sizeof(*ek), entry_cmp);
	for (size_t i = 0; i < ne; i++) {
		v->entries[i] = ek[i].e;
		emap[ek[i].old] = (int)i;
	}
	for (size_t p = 0; p < v->nr_pages; p++)
		for (unsigned t = 0; t < TDXMMU_NR_TREES; t++)
			for (unsigned l = 0; l < TDXMMU_VIEW_LEVELS; l++)
				if (v->pages[p].entry[t][l] >= 0)
					v->pages[p].entry[t][l] = emap[v->pages[p].entry[t][l]];
	for (size_t i = ne; i-- > 0;) {
		struct tdxmmu_view_table *t = &v->tables[v->entries[i].table];

		t->first_entry = i;
		t->nr_entries++;
	}
	ret = TDXMMU_OK;
out:
	free(tk);
	free(ek);
	free(tables);
	free(tmap);
	free(emap);
	return ret;
}

/* Pairs each mirror table page with the S-EPT page at the same place: the
 * mirror page's S-EPT twin as the module's walk finds it. */
static void link_twins(struct tdxmmu_view *v)
{
	size_t s = 0;

	while (s < v->nr_tables && v->tables[s].tree != TDXMMU_TREE_SEPT)
		s++;
	for (size_t m = 0; m < v->nr_tables; m++) {
		struct tdxmmu_view_table *mt = &v->tables[m];

		if (mt->tree != TDXMMU_TREE_MIRROR)
			continue;
		for (size_t i = s; i < v->nr_tables; i++) {
			struct tdxmmu_view_table *st = &v->tables[i];

			if (st->level == mt->level && st->gpa == mt->gpa) {
				mt->twin = (int)i;
				st->twin = (int)m;
				break;
			}
		}
	}
}

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

TDXMMU_API void tdxmmu_view_free(struct tdxmmu_view *view)
{
	if (!view)
		return;
	free(view->pages);
	free(view->tables);
	free(view->entries);
	free(view);
}

TDXMMU_API int tdxmmu_show_collect_pages(tdxmmu_td *td, const uint64_t *gpas,
					 size_t nr, struct tdxmmu_view **out)
{
	struct builder b = { 0 };
	struct tdxmmu_view *v;
	uint64_t shared, *sorted;
	struct kvm *kvm;
	size_t n = 0;
	int ret;

	if (!td || !td->kvm || !out || (nr && !gpas))
		return api_fail(TDXMMU_EINVAL, "show: NULL argument");
	*out = NULL;
	shared = tdxmmu_td_shared_bit(td);
	for (size_t i = 0; i < nr; i++) {
		if (gpas[i] & (PAGE_SIZE - 1))
			return api_fail(TDXMMU_EINVAL, "show: %#llx is not 4K-aligned",
					(unsigned long long)gpas[i]);
		if (!gpa_ok(td, gpas[i]))
			return api_fail(TDXMMU_ERANGE, "show: %#llx is outside the TD's GPA width",
					(unsigned long long)gpas[i]);
	}
	sorted = malloc((nr ? nr : 1) * sizeof(*sorted));
	v = calloc(1, sizeof(*v));
	if (!sorted || !v) {
		free(sorted);
		free(v);
		return api_fail(TDXMMU_ENOMEM, "show: out of memory");
	}
	for (size_t i = 0; i < nr; i++)
		sorted[i] = gpas[i] & ~shared;
	if (nr)
		qsort(sorted, nr, sizeof(*sorted), u64_cmp);
	for (size_t i = 0; i < nr; i++)
		if (n == 0 || sorted[n - 1] != sorted[i])
			sorted[n++] = sorted[i];

	kvm = td->kvm;
	v->mmu = td->cfg.mmu;
	v->levels = walk_levels(td);
	v->shared_bit = shared;
	v->pages = calloc(n ? n : 1, sizeof(*v->pages));
	if (!v->pages) {
		free(sorted);
		tdxmmu_view_free(v);
		return api_fail(TDXMMU_ENOMEM, "show: out of memory");
	}
	v->nr_pages = n;
	b.v = v;
	for (unsigned t = 0; t < TDXMMU_NR_TREES; t++)
		for (unsigned l = 0; l < TDXMMU_VIEW_LEVELS; l++)
			b.last[t][l].table = b.last[t][l].entry = -1;
	for (size_t p = 0; p < n; p++) {
		v->pages[p].gpa = sorted[p];
		v->pages[p].shared_gpa = sorted[p] | shared;
		for (unsigned t = 0; t < TDXMMU_NR_TREES; t++)
			for (unsigned l = 0; l < TDXMMU_VIEW_LEVELS; l++)
				v->pages[p].entry[t][l] = -1;
	}

	/* The KVM trees first, under the lock, then the S-EPT: the three
	 * views are of one instant only when nothing runs meanwhile (the
	 * scenario's case; docs/scenario-language.md says so). */
	kvm_mmu_read_lock(kvm);
	host_rcu_read_lock();
	for (size_t p = 0; p < n && !b.oom; p++)
		walk_kvm(&b, td, TDXMMU_TREE_SHARED, kvm->shared_root,
			 (sorted[p] | shared) >> PAGE_SHIFT, p);
	for (size_t p = 0; p < n && !b.oom; p++)
		walk_kvm(&b, td, TDXMMU_TREE_MIRROR, kvm->private_root,
			 sorted[p] >> PAGE_SHIFT, p);
	host_rcu_read_unlock();
	kvm_mmu_read_unlock(kvm);
	for (size_t p = 0; p < n && !b.oom; p++)
		walk_sept(&b, td, sorted[p], p);
	free(sorted);

	ret = b.oom ? TDXMMU_ENOMEM : sort_view(v);
	if (ret != TDXMMU_OK) {
		tdxmmu_view_free(v);
		return api_fail(TDXMMU_ENOMEM, "show: out of memory");
	}
	link_twins(v);
	*out = v;
	return TDXMMU_OK;
}

/* Checks a range as tdxmmu_show() takes it and gives its first page (private
 * alias) and number of pages. */
static int check_range(tdxmmu_td *td, uint64_t gpa, uint64_t size,
		       uint64_t *start, uint64_t *pages)
{
	uint64_t shared;

	if ((gpa | size) & (PAGE_SIZE - 1) || size == 0)
		return api_fail(TDXMMU_EINVAL,
				"show: address and size must be 4K-aligned and the size non-zero");
	shared = tdxmmu_td_shared_bit(td);
	if (!gpa_ok(td, gpa))
		return api_fail(TDXMMU_ERANGE, "show: %#llx is outside the TD's GPA width",
				(unsigned long long)gpa);
	/* Both aliases of each page are shown: the range is taken without
	 * the shared bit, and must not cross it. */
	*start = gpa & ~shared;
	if (size > shared - *start)
		return api_fail(TDXMMU_ERANGE,
				"show: [%#llx, +%#llx) crosses the shared bit",
				(unsigned long long)gpa, (unsigned long long)size);
	*pages = size / PAGE_SIZE;
	return TDXMMU_OK;
}

TDXMMU_API int tdxmmu_show_collect(tdxmmu_td *td, uint64_t gpa, uint64_t size,
				   struct tdxmmu_view **out)
{
	uint64_t start = 0, pages = 0, *gpas;
	int ret;

	if (!td || !td->kvm || !out)
		return api_fail(TDXMMU_EINVAL, "show: NULL argument");
	ret = check_range(td, gpa, size, &start, &pages);
	if (ret != TDXMMU_OK)
		return ret;
	if (pages > SIZE_MAX / sizeof(uint64_t) ||
	    !(gpas = malloc((size_t)pages * sizeof(uint64_t))))
		return api_fail(TDXMMU_ENOMEM, "show: out of memory");
	for (uint64_t i = 0; i < pages; i++)
		gpas[i] = start + i * PAGE_SIZE;
	ret = tdxmmu_show_collect_pages(td, gpas, (size_t)pages, out);
	free(gpas);
	return ret;
}

/* ---- the text form (docs/scenario-language.md, "show") ------------------ */

static void print_kvm(FILE *out, enum tdxmmu_tree tree, unsigned l,
		      const struct tdxmmu_view_entry *e)
{
	fprintf(out, "  %-7s %-4s  ", tdxmmu_tree_name(tree), level_names[l]);
	/* An entry never set reads as no entry, as it always has. */
	if (!e || e->initial) {
		fprintf(out, "none\n");
		return;
	}
	if (e->frozen) {
		fprintf(out, "frozen%s\n", e->shared_mask ? " shared" : "");
		return;
	}
	if (e->present && !e->leaf) {
		/* The value holds the table's address in this process: not
		 * printed, so that the output is the same from run to run. */
		fprintf(out, "present table%s\n", e->shared_mask ? " shared" : "");
		return;
	}
	fprintf(out, "%s", e->present ? "present leaf" : "nonpresent");
	if (e->shared_mask)
		fprintf(out, " shared");
	if (e->private_zapped)
		fprintf(out, " PRIVATE_ZAPPED");
	if (e->present || e->private_zapped)
		fprintf(out, " pfn=%#" PRIx64, e->pfn);
	fprintf(out, " spte=%#018" PRIx64 "\n", e->raw);
}

static void print_sept(FILE *out, unsigned l, const struct tdxmmu_view_entry *e)
{
	fprintf(out, "  %-7s %-4s  ", "S-EPT", level_names[l]);
	if (!e) {
		fprintf(out, "none\n");
		return;
	}
	fprintf(out, "%s", tdxmmu_sept_state_name(e->sept_state));
	if (e->sept_state != TDXMMU_SEPT_FREE && e->sept_state != TDXMMU_SEPT_REMOVED)
		fprintf(out, " hpa=%#" PRIx64, e->pfn << PAGE_SHIFT);
	fprintf(out, "\n");
}

static const struct tdxmmu_view_entry *entry_of(const struct tdxmmu_view *v,
						const struct tdxmmu_view_page *p,
						enum tdxmmu_tree t, unsigned l)
{
	return p->entry[t][l] >= 0 ? &v->entries[p->entry[t][l]] : NULL;
}

TDXMMU_API int tdxmmu_view_print(const struct tdxmmu_view *v, FILE *out)
{
	if (!v || !out)
		return api_fail(TDXMMU_EINVAL, "show: NULL argument");
	for (size_t i = 0; i < v->nr_pages; i++) {
		const struct tdxmmu_view_page *p = &v->pages[i];

		fprintf(out, "page %#" PRIx64 " (private %#" PRIx64
			", shared %#" PRIx64 ")\n", p->gpa, p->gpa, p->shared_gpa);
		for (unsigned l = v->levels; l-- > 0;)
			print_kvm(out, TDXMMU_TREE_SHARED, l,
				  entry_of(v, p, TDXMMU_TREE_SHARED, l));
		for (unsigned l = v->levels; l-- > 0;)
			print_kvm(out, TDXMMU_TREE_MIRROR, l,
				  entry_of(v, p, TDXMMU_TREE_MIRROR, l));
		for (unsigned l = v->levels; l-- > 0;)
			print_sept(out, l, entry_of(v, p, TDXMMU_TREE_SEPT, l));
	}
	return TDXMMU_OK;
}

TDXMMU_API int tdxmmu_show(tdxmmu_td *td, uint64_t gpa, uint64_t size,
			   FILE *out)
{
	struct tdxmmu_view *v;
	int ret;

	if (!td || !td->kvm || !out)
		return api_fail(TDXMMU_EINVAL, "show: NULL argument");
	ret = tdxmmu_show_collect(td, gpa, size, &v);
	if (ret != TDXMMU_OK)
		return ret;
	ret = tdxmmu_view_print(v, out);
	tdxmmu_view_free(v);
	return ret;
}

TDXMMU_API int tdxmmu_spte_state_level(tdxmmu_td *td, uint64_t gpa,
				       unsigned level,
				       enum tdxmmu_spte_state *private_ept,
				       enum tdxmmu_spte_state *shared_ept)
{
	struct tdxmmu_view *v;
	uint64_t page;
	int ret;

	if (!td || !td->kvm || !private_ept || !shared_ept)
		return api_fail(TDXMMU_EINVAL, "spte state: NULL argument");
	if (!gpa_ok(td, gpa))
		return api_fail(TDXMMU_ERANGE, "%#llx is outside the TD's GPA width",
				(unsigned long long)gpa);
	if (level >= walk_levels(td))
		return api_fail(TDXMMU_ERANGE,
				"level %u is above the TD's %u-level walk",
				level, walk_levels(td));
	/* 4K is version 1's expect-spte: the lockless 4K read. */
	if (level == 0)
		return tdxmmu_spte_state(td, gpa, private_ept, shared_ept);

	page = gpa & ~tdxmmu_td_shared_bit(td) & ~(level_pages(level) * PAGE_SIZE - 1);
	ret = tdxmmu_show_collect_pages(td, &page, 1, &v);
	if (ret != TDXMMU_OK)
		return ret;
	/* No entry at that level (a missing table, or a larger leaf above)
	 * reads non-present. */
	for (unsigned t = TDXMMU_TREE_SHARED; t <= TDXMMU_TREE_MIRROR; t++) {
		int e = v->pages[0].entry[t][level];

		*(t == TDXMMU_TREE_SHARED ? shared_ept : private_ept) =
			api_spte_state_of(e >= 0 ? v->entries[e].raw
					  : SHADOW_NONPRESENT_VALUE);
	}
	tdxmmu_view_free(v);
	return TDXMMU_OK;
}

/* ---- the pages the TD maps ------------------------------------------------ */

struct span {
	uint64_t gfn, pages;
};

struct spans {
	struct span *s;
	size_t nr, cap;
	uint64_t shared_mask;
	bool oom;
};

static void add_span(struct spans *sp, uint64_t gfn, uint64_t pages)
{
	if (sp->oom)
		return;
	/* Each walk goes up the GPAs: a run of pages is one span. */
	if (sp->nr && sp->s[sp->nr - 1].gfn + sp->s[sp->nr - 1].pages == gfn) {
		sp->s[sp->nr - 1].pages += pages;
		return;
	}
	if (sp->nr == sp->cap) {
		size_t ncap = sp->cap ? sp->cap * 2 : 64;
		struct span *n = realloc(sp->s, ncap * sizeof(*n));

		if (!n) {
			sp->oom = true;
			return;
		}
		sp->s = n;
		sp->cap = ncap;
	}
	sp->s[sp->nr++] = (struct span){ .gfn = gfn, .pages = pages };
}

/* kvm_mmu_walk_fn: a leaf-level entry that is not the initial value. */
static void kvm_leaf(struct kvm *kvm, bool is_private, gfn_t gfn, int level,
		     uint64_t spte, struct kvm_mmu_page *sp, void *arg)
{
	struct spans *s = arg;

	(void)kvm, (void)is_private, (void)sp;
	if (spte == SHADOW_NONPRESENT_VALUE)
		return;
	if (level > PG_LEVEL_4K && is_shadow_present_pte(spte) && !is_large_pte(spte))
		return; /* a table: its leaves come on their own */
	add_span(s, gfn & ~s->shared_mask, KVM_PAGES_PER_HPAGE(level));
}

static void sept_leaf(uint64_t gpa, unsigned level, enum tdx_sept_state state,
		      hpa_t hpa, void *arg)
{
	(void)hpa;
	if (state == SEPT_NL_MAPPED || state == SEPT_NL_BLOCKED)
		return;
	add_span(arg, gpa >> PAGE_SHIFT, level_pages(level));
}

static int span_cmp(const void *a, const void *b)
{
	const struct span *x = a, *y = b;

	return x->gfn < y->gfn ? -1 : x->gfn > y->gfn;
}

TDXMMU_API int tdxmmu_mapped_pages(tdxmmu_td *td, uint64_t *gpas, size_t max,
				   size_t *total)
{
	struct spans s = { 0 };
	struct kvm *kvm;
	uint64_t next = 0, count = 0;

	if (!td || !td->kvm || !total || (max && !gpas))
		return api_fail(TDXMMU_EINVAL, "mapped pages: NULL argument");
	kvm = td->kvm;
	s.shared_mask = kvm->gfn_shared_mask;
	kvm_mmu_read_lock(kvm);
	for (int priv = 0; priv < 2; priv++) {
		if (kvm_is_legacy_mmu(kvm))
			kvm_legacy_mmu_walk(kvm, priv, kvm_leaf, &s);
		else
			kvm_tdp_mmu_walk(kvm, priv, kvm_leaf, &s);
	}
	kvm_mmu_read_unlock(kvm);
	tdx_debug_sept_foreach(td->tdx, kvm->tdr, sept_leaf, &s);
	if (s.oom) {
		free(s.s);
		return api_fail(TDXMMU_ENOMEM, "mapped pages: out of memory");
	}
	if (s.nr)
		qsort(s.s, s.nr, sizeof(*s.s), span_cmp);
	/* Overlapping spans (the same page in two trees) count once. */
	for (size_t i = 0; i < s.nr; i++) {
		uint64_t g = s.s[i].gfn > next ? s.s[i].gfn : next;
		uint64_t end = s.s[i].gfn + s.s[i].pages;

		if (end <= g)
			continue;
		for (; g < end && count < max; g++)
			gpas[count++] = g << PAGE_SHIFT;
		count += end - g;
		next = end;
	}
	free(s.s);
	*total = (size_t)count;
	return TDXMMU_OK;
}
