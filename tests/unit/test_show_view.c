/* SPDX-License-Identifier: MIT */
/*
 * tdxmmu_show_collect() and friends (issue 13 item 1): the three trees as
 * data, on the TDP and the legacy MMU. What each entry decodes to for a
 * private page, a page converted to shared, a PRIVATE_ZAPPED page and a
 * frozen entry; that a table page appears once whatever the number of
 * pages through it; that parent/child links and each mirror page's S-EPT
 * twin agree with what the S-EPT itself says; that no process address leaks
 * into the data; tdxmmu_mapped_pages(); and the runner's stop at a line,
 * which `tdxmmu show --at=` uses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "api/api_internal.h"
#include "kvm/kvm.h"
#include "kvm/mmu_page.h"
#include "kvm/spte.h"
#include "kvm/tdp_iter.h"
#include "tdxmmu/tdxmmu.h"

#include "api_fixture.h"

#define SHARED (1ULL << 47)
#define PT_NDA 0
#define PT_REG 3
#define PT_TDCX 5
#define PT_EPT 8


/* A guest access that must succeed (the outcome is read after the call). */
#define op_ok(call, o)                                   \
	do {                                             \
		assert_int_equal((call), 0);             \
		assert_int_equal((o), TDXMMU_OUTCOME_OK); \
	} while (0)

/* 0x1000 private and written; 0x2000 written, converted to shared and
 * written through its shared alias. */
static void private_and_shared(tdxmmu_td *td)
{
	enum tdxmmu_outcome o;

	op_ok(tdxmmu_vcpu_write(td, 0, 0x1000, 7, &o), o);
	op_ok(tdxmmu_vcpu_write(td, 0, 0x2000, 9, &o), o);
	op_ok(tdxmmu_vcpu_mapgpa(td, 0, SHARED | 0x2000, 0x1000, &o), o);
	op_ok(tdxmmu_vcpu_write(td, 0, SHARED | 0x2000, 8, &o), o);
}

static const struct tdxmmu_view_entry *ent(const struct tdxmmu_view *v, size_t page,
					   enum tdxmmu_tree t, unsigned level)
{
	int e;

	assert_true(page < v->nr_pages);
	e = v->pages[page].entry[t][level];
	assert_true(e >= 0 && (size_t)e < v->nr_entries);
	return &v->entries[e];
}

/*
 * What must hold of any view: entries sorted by table and index and each
 * table's slice right; parent/child links both ways; one table per (tree,
 * level, gpa); every mirror table's twin is the S-EPT page that the S-EPT's
 * own entry above points to, at the same place; no KVM table entry shows
 * an address. Returns the number of tables per tree.
 */
static void assert_well_formed(const struct tdxmmu_view *v, size_t per_tree[3])
{
	per_tree[0] = per_tree[1] = per_tree[2] = 0;
	for (size_t i = 0; i < v->nr_entries; i++) {
		const struct tdxmmu_view_entry *e = &v->entries[i];
		const struct tdxmmu_view_table *t;

		assert_true(e->table >= 0 && (size_t)e->table < v->nr_tables);
		t = &v->tables[e->table];
		assert_true(i >= t->first_entry && i < t->first_entry + t->nr_entries);
		assert_int_equal(e->level, t->level);
		if (i > 0) {
			const struct tdxmmu_view_entry *p = &v->entries[i - 1];

			assert_true(p->table < e->table ||
				    (p->table == e->table && p->index < e->index));
		}
		if (e->child >= 0) {
			const struct tdxmmu_view_table *c = &v->tables[e->child];

			assert_int_equal(c->parent, e->table);
			assert_int_equal(c->parent_index, e->index);
			assert_int_equal(c->level + 1, e->level);
			assert_int_equal(c->gpa, e->gpa);
			assert_int_equal(c->tree, t->tree);
			if (t->tree == TDXMMU_TREE_SEPT)
				assert_int_equal(e->pfn << 12, c->hpa);
		}
		if (t->tree != TDXMMU_TREE_SEPT && e->present && !e->leaf)
			assert_int_equal(e->raw & SPTE_BASE_ADDR_MASK, 0);
	}
	for (size_t i = 0; i < v->nr_tables; i++) {
		const struct tdxmmu_view_table *t = &v->tables[i];

		per_tree[t->tree]++;
		for (size_t j = 0; j < i; j++)
			assert_false(v->tables[j].tree == t->tree &&
				     v->tables[j].level == t->level &&
				     v->tables[j].gpa == t->gpa);
		if (i > 0)
			assert_true(v->tables[i - 1].tree <= t->tree);
		if (t->parent < 0)
			assert_int_equal(t->level, v->levels - 1);
		if (t->tree == TDXMMU_TREE_MIRROR) {
			const struct tdxmmu_view_table *s;

			assert_true(t->twin >= 0);
			s = &v->tables[t->twin];
			assert_int_equal(s->tree, TDXMMU_TREE_SEPT);
			assert_int_equal(s->twin, (int)i);
			assert_int_equal(s->level, t->level);
			assert_int_equal(s->gpa, t->gpa);
			if (t->parent < 0) {
				/* KVM has no twin for the root: the module's is
				 * a TDCS page. */
				assert_int_equal(t->hpa, 0);
				assert_int_equal(s->pamt_type, PT_TDCX);
			} else {
				/* KVM's private_spt is what the S-EPT says. */
				assert_int_not_equal(t->hpa, 0);
				assert_int_equal(t->hpa, s->hpa);
				assert_int_equal(s->pamt_type, PT_EPT);
				assert_int_not_equal(s->pamt_owner, 0);
			}
		}
	}
}

static void check_private_and_shared(tdxmmu_td *td, bool legacy)
{
	struct tdxmmu_view *v = NULL;
	const struct tdxmmu_view_entry *e, *s;
	size_t per_tree[3];
	uint64_t before_aug, after_aug;

	assert_int_equal(tdxmmu_counter(td, "seamcall.TDH.MEM.PAGE.AUG", &before_aug), 0);
	/* Either alias names the same pages. */
	assert_int_equal(tdxmmu_show_collect(td, SHARED | 0x1000, 0x3000, &v), 0);
	assert_int_equal(tdxmmu_counter(td, "seamcall.TDH.MEM.PAGE.AUG", &after_aug), 0);
	assert_int_equal(before_aug, after_aug);
	assert_int_equal(v->mmu, legacy ? TDXMMU_MMU_LEGACY : TDXMMU_MMU_TDP);
	assert_int_equal(v->levels, 4);
	assert_int_equal(v->shared_bit, SHARED);
	assert_int_equal(v->nr_pages, 3);
	assert_int_equal(v->pages[0].gpa, 0x1000);
	assert_int_equal(v->pages[0].shared_gpa, SHARED | 0x1000);
	assert_int_equal(v->pages[2].gpa, 0x3000);
	assert_well_formed(v, per_tree);
	/* Three pages in one 4K table of each tree: each table page once. */
	assert_int_equal(per_tree[TDXMMU_TREE_SHARED], 4);
	assert_int_equal(per_tree[TDXMMU_TREE_MIRROR], 4);
	assert_int_equal(per_tree[TDXMMU_TREE_SEPT], 4);
	for (unsigned l = 1; l < 4; l++)
		for (unsigned t = 0; t < TDXMMU_NR_TREES; t++) {
			assert_int_equal(v->pages[0].entry[t][l], v->pages[1].entry[t][l]);
			assert_int_equal(v->pages[0].entry[t][l], v->pages[2].entry[t][l]);
		}

	/* The private page: a present RWX leaf in the mirror EPT, MAPPED in
	 * the S-EPT at the same frame, which the PAMT gives the TD. */
	e = ent(v, 0, TDXMMU_TREE_MIRROR, 0);
	assert_true(e->present && e->leaf && e->readable && e->writable && e->executable);
	assert_false(e->shared_mask || e->frozen || e->private_zapped || e->initial);
	assert_true(e->suppress_ve);
	assert_int_equal(e->index, 1);
	assert_int_equal(e->gpa, 0x1000);
	assert_int_equal(e->child, -1);
	assert_int_not_equal(e->pfn, 0);
	assert_int_equal(e->raw & SPTE_BASE_ADDR_MASK, e->pfn << 12);
	assert_true(e->has_pamt);
	assert_int_equal(e->pamt_type, PT_REG);
	s = ent(v, 0, TDXMMU_TREE_SEPT, 0);
	assert_int_equal(s->sept_state, TDXMMU_SEPT_MAPPED);
	assert_true(s->present && s->leaf);
	assert_int_equal(s->pfn, e->pfn);
	assert_true(s->has_pamt);
	assert_int_equal(s->pamt_type, PT_REG);
	assert_int_equal(s->pamt_owner, e->pamt_owner);
	/* Its shared alias was never mapped: the table exists (0x2000 is
	 * shared), the entry holds its initial value. */
	e = ent(v, 0, TDXMMU_TREE_SHARED, 0);
	assert_true(e->initial);
	assert_false(e->present);
	assert_int_equal(e->raw, SHADOW_NONPRESENT_VALUE);
	assert_int_equal(e->gpa, SHARED | 0x1000);

	/* The converted page: a shared leaf (no X for a TD's shared page) in
	 * the shared EPT, on a frame the PAMT does not give the TD; FREE in
	 * the S-EPT. In the mirror EPT, SPTE_SHARED_MASK (both MMUs); in the
	 * shared EPT only with the TDP MMU (seed 000 keeps it private). */
	e = ent(v, 1, TDXMMU_TREE_SHARED, 0);
	assert_true(e->present && e->leaf && e->readable && e->writable);
	assert_false(e->executable);
	assert_int_equal(e->shared_mask, !legacy);
	assert_int_not_equal(e->pfn, 0);
	assert_true(e->has_pamt);
	assert_int_equal(e->pamt_type, PT_NDA);
	assert_int_equal(e->pamt_owner, 0);
	e = ent(v, 1, TDXMMU_TREE_MIRROR, 0);
	assert_false(e->present);
	assert_true(e->shared_mask);
	assert_int_equal(e->pfn, 0);
	s = ent(v, 1, TDXMMU_TREE_SEPT, 0);
	assert_int_equal(s->sept_state, TDXMMU_SEPT_FREE);
	assert_false(s->present);
	assert_int_equal(s->pfn, 0);
	assert_false(s->has_pamt);

	/* Upper levels: KVM's table entries and the S-EPT's NL_MAPPED ones. */
	e = ent(v, 0, TDXMMU_TREE_MIRROR, 1);
	assert_true(e->present && !e->leaf);
	assert_true(e->child >= 0);
	s = ent(v, 0, TDXMMU_TREE_SEPT, 1);
	assert_int_equal(s->sept_state, TDXMMU_SEPT_NL_MAPPED);
	assert_false(s->leaf);
	/* The mirror 4K table's twin, as KVM recorded it, is the page that
	 * the S-EPT's 2M entry points to. */
	assert_int_equal(v->tables[e->child].hpa, s->pfn << 12);
	assert_int_equal(v->tables[e->child].twin, s->child);

	/* The shared tree's root entry for the shared half. */
	e = ent(v, 0, TDXMMU_TREE_SHARED, 3);
	assert_int_equal(e->index, 256);
	assert_int_equal(e->gpa, SHARED);
	tdxmmu_view_free(v);
}

static void test_collect_tdp(void **state)
{
	tdxmmu_td *td = api_fx_small_td(TDXMMU_MMU_TDP);

	(void)state;
	private_and_shared(td);
	check_private_and_shared(td, false);
	api_fx_destroy_clean(td);
}

static void test_collect_legacy(void **state)
{
	tdxmmu_td *td = api_fx_small_td(TDXMMU_MMU_LEGACY);
	struct tdxmmu_view *v = NULL;
	const struct tdxmmu_view_entry *e, *s;
	enum tdxmmu_outcome o;
	size_t per_tree[3];

	(void)state;
	private_and_shared(td);
	check_private_and_shared(td, true);

	/* A private page zapped by the host (seed 000): PRIVATE_ZAPPED with
	 * its frame kept, BLOCKED in the S-EPT on that frame. */
	op_ok(tdxmmu_vcpu_write(td, 0, 0x3000, 5, &o), o);
	assert_int_equal(tdxmmu_host_zap(td, 0x3000, 0x1000, TDXMMU_ALIAS_PRIVATE), 0);
	assert_int_equal(tdxmmu_show_collect(td, 0x3000, 0x1000, &v), 0);
	assert_well_formed(v, per_tree);
	e = ent(v, 0, TDXMMU_TREE_MIRROR, 0);
	assert_true(e->private_zapped);
	assert_false(e->present);
	assert_int_not_equal(e->pfn, 0);
	assert_true(e->has_pamt);
	assert_int_equal(e->pamt_type, PT_REG);
	s = ent(v, 0, TDXMMU_TREE_SEPT, 0);
	assert_int_equal(s->sept_state, TDXMMU_SEPT_BLOCKED);
	assert_false(s->present);
	assert_int_equal(s->pfn, e->pfn);
	tdxmmu_view_free(v);
	api_fx_destroy_clean(td);
}

/* A frozen entry is a moment inside a fault or a teardown; it is planted
 * here (and taken back) to see how the view reads one. */
static void test_collect_frozen(void **state)
{
	tdxmmu_td *td = api_fx_small_td(TDXMMU_MMU_TDP);
	struct tdxmmu_view *v = NULL;
	const struct tdxmmu_view_entry *e;
	_Atomic uint64_t *pt;
	enum tdxmmu_outcome o;
	size_t per_tree[3];
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	op_ok(tdxmmu_vcpu_write(td, 0, 0x1000, 7, &o), o);
	/* The mirror 4K table holding 0x1000; 0x5000 is in it, never set. */
	pt = td->kvm->private_root->spt;
	for (int level = (int)td->kvm->root_level; level > PG_LEVEL_4K; level--)
		pt = spte_to_child_pt(atomic_load(&pt[0]), level);
	assert_non_null(pt);
	assert_int_equal(atomic_load(&pt[5]), SHADOW_NONPRESENT_VALUE);
	atomic_store(&pt[5], REMOVED_SPTE);
	assert_int_equal(tdxmmu_show_collect(td, 0x5000, 0x1000, &v), 0);
	f = open_memstream(&text, &len);
	assert_non_null(f);
	assert_int_equal(tdxmmu_view_print(v, f), 0);
	fclose(f);
	atomic_store(&pt[5], SHADOW_NONPRESENT_VALUE);
	assert_well_formed(v, per_tree);
	e = ent(v, 0, TDXMMU_TREE_MIRROR, 0);
	assert_true(e->frozen);
	assert_false(e->present || e->initial || e->private_zapped);
	assert_int_equal(e->raw, REMOVED_SPTE);
	assert_non_null(strstr(text, "  mirror  4K    frozen\n"));
	free(text);
	tdxmmu_view_free(v);
	/* Frozen with SPTE_SHARED_MASK (a GFN converted to shared keeps its
	 * S bit while frozen: is_removed_spte() ignores it): said so. */
	atomic_store(&pt[5], REMOVED_SPTE | SPTE_SHARED_MASK);
	assert_int_equal(tdxmmu_show_collect(td, 0x5000, 0x1000, &v), 0);
	text = NULL;
	f = open_memstream(&text, &len);
	assert_non_null(f);
	assert_int_equal(tdxmmu_view_print(v, f), 0);
	fclose(f);
	atomic_store(&pt[5], SHADOW_NONPRESENT_VALUE);
	e = ent(v, 0, TDXMMU_TREE_MIRROR, 0);
	assert_true(e->frozen && e->shared_mask);
	assert_non_null(strstr(text, "  mirror  4K    frozen shared\n"));
	free(text);
	tdxmmu_view_free(v);
	api_fx_destroy_clean(td);
}

static void test_collect_pages_and_mapped(void **state)
{
	tdxmmu_td *td = api_fx_small_td(TDXMMU_MMU_TDP);
	struct tdxmmu_view *v = NULL;
	uint64_t gpas[4] = { 0 };
	const uint64_t ask[] = { SHARED | 0x2000, 0x1000, 0x2000 };
	size_t total = 99, per_tree[3];

	(void)state;
	assert_int_equal(tdxmmu_mapped_pages(td, NULL, 0, &total), 0);
	assert_int_equal(total, 0);
	private_and_shared(td);
	/* 0x1000 (private) and 0x2000 (shared, and SPTE_SHARED_MASK in the
	 * mirror EPT): each once. */
	assert_int_equal(tdxmmu_mapped_pages(td, gpas, 4, &total), 0);
	assert_int_equal(total, 2);
	assert_int_equal(gpas[0], 0x1000);
	assert_int_equal(gpas[1], 0x2000);
	memset(gpas, 0, sizeof(gpas));
	assert_int_equal(tdxmmu_mapped_pages(td, gpas, 1, &total), 0);
	assert_int_equal(total, 2);
	assert_int_equal(gpas[0], 0x1000);
	assert_int_equal(gpas[1], 0);

	/* A list: both aliases of one page are one page; sorted. */
	assert_int_equal(tdxmmu_show_collect_pages(td, ask, 3, &v), 0);
	assert_int_equal(v->nr_pages, 2);
	assert_int_equal(v->pages[0].gpa, 0x1000);
	assert_int_equal(v->pages[1].gpa, 0x2000);
	assert_well_formed(v, per_tree);
	tdxmmu_view_free(v);
	/* Empty: a view with nothing in it. */
	assert_int_equal(tdxmmu_show_collect_pages(td, NULL, 0, &v), 0);
	assert_int_equal(v->nr_pages, 0);
	assert_int_equal(v->nr_tables, 0);
	tdxmmu_view_free(v);
	tdxmmu_view_free(NULL);

	/* Errors, with a message. */
	v = (struct tdxmmu_view *)1;
	assert_int_equal(tdxmmu_show_collect(NULL, 0, 0x1000, &v), TDXMMU_EINVAL);
	assert_int_equal(tdxmmu_show_collect(td, 0, 0x1000, NULL), TDXMMU_EINVAL);
	assert_int_equal(tdxmmu_show_collect(td, 0x10, 0x1000, &v), TDXMMU_EINVAL);
	assert_non_null(strstr(tdxmmu_last_error(), "4K-aligned"));
	assert_int_equal(tdxmmu_show_collect(td, 1ULL << 48, 0x1000, &v), TDXMMU_ERANGE);
	assert_int_equal(tdxmmu_show_collect(td, SHARED - 0x1000, 0x2000, &v), TDXMMU_ERANGE);
	assert_non_null(strstr(tdxmmu_last_error(), "crosses the shared bit"));
	assert_int_equal(tdxmmu_show_collect_pages(td, NULL, 1, &v), TDXMMU_EINVAL);
	gpas[0] = 0x1001;
	assert_int_equal(tdxmmu_show_collect_pages(td, gpas, 1, &v), TDXMMU_EINVAL);
	assert_int_equal(tdxmmu_mapped_pages(td, NULL, 1, &total), TDXMMU_EINVAL);
	assert_int_equal(tdxmmu_mapped_pages(td, gpas, 1, NULL), TDXMMU_EINVAL);
	assert_int_equal(tdxmmu_view_print(NULL, stdout), TDXMMU_EINVAL);
	assert_string_equal(tdxmmu_tree_name(TDXMMU_TREE_SEPT), "S-EPT");
	assert_string_equal(tdxmmu_tree_name(TDXMMU_NR_TREES), "?");
	assert_string_equal(tdxmmu_pamt_type_name(PT_EPT), "PT_EPT");
	api_fx_destroy_clean(td);
}

static void test_collect_gpaw52(void **state)
{
	struct tdxmmu_td_config cfg;
	struct tdxmmu_view *v = NULL;
	enum tdxmmu_outcome o;
	tdxmmu_td *td = NULL;
	size_t per_tree[3];

	(void)state;
	tdxmmu_td_config_init(&cfg);
	cfg.gpaw = 52;
	assert_int_equal(tdxmmu_td_create(&cfg, &td), 0);
	assert_int_equal(tdxmmu_memslot_add(td, 0, 0, 2 << 20), 0);
	assert_int_equal(tdxmmu_td_finalize(td), 0);
	op_ok(tdxmmu_vcpu_write(td, 0, 0, 1, &o), o);
	assert_int_equal(tdxmmu_show_collect(td, 0, 0x1000, &v), 0);
	assert_int_equal(v->levels, 5);
	assert_well_formed(v, per_tree);
	assert_int_equal(per_tree[TDXMMU_TREE_MIRROR], 5);
	assert_int_equal(ent(v, 0, TDXMMU_TREE_SEPT, 0)->sept_state, TDXMMU_SEPT_MAPPED);
	tdxmmu_view_free(v);
	api_fx_destroy_clean(td);
}

/* ---- the runner's stop ---------------------------------------------------- */

struct stop_seen {
	int calls;
	size_t line;
	bool had_td;
	enum tdxmmu_sept_state sept;
};

static void seen(tdxmmu_td *td, size_t line, void *arg)
{
	struct stop_seen *s = arg;
	struct tdxmmu_view *v = NULL;

	s->calls++;
	s->line = line;
	s->had_td = td != NULL;
	if (td && tdxmmu_show_collect(td, 0x2000, 0x1000, &v) == 0) {
		s->sept = ent(v, 0, TDXMMU_TREE_SEPT, 0)->sept_state;
		tdxmmu_view_free(v);
	}
}

static const char conversion[] =
	"td\n"                              /* 1 */
	"memslot 0 0 4M\n"                  /* 2 */
	"finalize\n"                        /* 3 */
	"vcpu 0 write private:0x2000 9\n"   /* 4 */
	"# the conversion\n"                /* 5 */
	"vcpu 0 mapgpa shared:0x2000 4K\n"  /* 6 */
	"parallel\n"                        /* 7 */
	"  vcpu 0 read shared:0x2000\n"     /* 8 */
	"end\n"                             /* 9 */
	"destroy\n";                        /* 10 */

static int run_to(size_t line, bool final_destroy, struct stop_seen *s,
		  char **out)
{
	size_t len = 0;
	struct tdxmmu_run_options o = {
		.stop_line = line, .stop_before_final_destroy = final_destroy,
		.at_stop = seen, .at_stop_arg = s,
	};
	int rc;

	memset(s, 0, sizeof(*s));
	s->sept = 99;
	o.out = open_memstream(out, &len);
	o.err = o.out;
	assert_non_null(o.out);
	rc = tdxmmu_run_string("conv.tds", conversion, &o);
	fclose(o.out);
	return rc;
}

static void test_run_stop_line(void **state)
{
	struct stop_seen s;
	char *out = NULL;

	(void)state;
	/* Before the MapGPA (line 5 is a comment: the stop is before the next
	 * command) the page is private, after it FREE in the S-EPT. */
	assert_int_equal(run_to(5, false, &s, &out), 0);
	assert_int_equal(s.calls, 1);
	assert_int_equal(s.line, 6);
	assert_int_equal(s.sept, TDXMMU_SEPT_MAPPED);
	free(out);
	assert_int_equal(run_to(7, false, &s, &out), 0);
	assert_int_equal(s.line, 7);
	assert_int_equal(s.sept, TDXMMU_SEPT_FREE);
	free(out);
	/* Before a final destroy: the TD is there. Without the stop, the
	 * script destroyed it. */
	assert_int_equal(run_to(0, true, &s, &out), 0);
	assert_int_equal(s.line, 10);
	assert_true(s.had_td);
	free(out);
	assert_int_equal(run_to(0, false, &s, &out), 0);
	assert_int_equal(s.calls, 1);
	assert_int_equal(s.line, 0);
	assert_false(s.had_td);
	free(out);
	/* Inside a parallel block: a usage error, no stop. */
	assert_int_equal(run_to(8, false, &s, &out), 2);
	assert_int_equal(s.calls, 0);
	assert_non_null(strstr(out, "conv.tds:8: error: cannot stop inside the parallel block of lines 7-9"));
	free(out);
}

/* Two pages in two 2M regions: each tree has two 4K tables, which the view
 * lists by GPA within the tree and level, each mirror table twinned with
 * the S-EPT table at its place (and the S-EPT page KVM recorded). */
static void test_collect_two_tables_per_level(void **state)
{
	tdxmmu_td *td = api_fx_small_td(TDXMMU_MMU_TDP);
	const uint64_t ask[] = { 0x201000, 0x1000 };
	struct tdxmmu_view *v = NULL;
	enum tdxmmu_outcome o = TDXMMU_OUTCOME_OK;
	size_t per_tree[3];
	int mirror4k[2], n = 0;

	(void)state;
	assert_int_equal(tdxmmu_vcpu_write(td, 0, 0x201000, 2, &o), 0);
	assert_int_equal(tdxmmu_vcpu_write(td, 0, 0x1000, 1, &o), 0);
	assert_int_equal(tdxmmu_show_collect_pages(td, ask, 2, &v), 0);
	assert_int_equal(v->nr_pages, 2);
	assert_well_formed(v, per_tree);
	for (size_t i = 0; i < v->nr_tables; i++)
		if (v->tables[i].tree == TDXMMU_TREE_MIRROR && v->tables[i].level == 0) {
			assert_true(n < 2);
			mirror4k[n++] = (int)i;
		}
	assert_int_equal(n, 2);
	assert_int_equal(mirror4k[1], mirror4k[0] + 1);
	assert_int_equal(v->tables[mirror4k[0]].gpa, 0);
	assert_int_equal(v->tables[mirror4k[1]].gpa, 0x200000);
	for (int k = 0; k < 2; k++) {
		const struct tdxmmu_view_table *mt = &v->tables[mirror4k[k]];

		assert_true(mt->twin >= 0);
		assert_int_equal(v->tables[mt->twin].tree, TDXMMU_TREE_SEPT);
		assert_int_equal(v->tables[mt->twin].gpa, mt->gpa);
		assert_int_equal(v->tables[mt->twin].level, 0);
		assert_int_equal(v->tables[mt->twin].hpa, mt->hpa);
	}
	tdxmmu_view_free(v);
	api_fx_destroy_clean(td);
}

/*
 * A whole 2M chunk of a hugepages memslot converted to shared at once
 * (hugepages ref §7.4): the conversion lives in the 2M-level entries of
 * both trees (NP|S, no 4K table below), and tdxmmu_mapped_pages() counts
 * all 512 pages it covers, each once although both trees carry it, as it
 * counts a 4K page converted alone (coverage round 6, issue 14).
 */
static void test_mapped_pages_2m_chunk_converted(void **state)
{
	struct tdxmmu_td_config cfg;
	tdxmmu_td *td = NULL;
	enum tdxmmu_outcome o = TDXMMU_OUTCOME_ERROR;
	enum tdxmmu_spte_state pv, sh;
	uint64_t gpas[3] = { 0 };
	size_t total = 0;

	(void)state;
	tdxmmu_td_config_init(&cfg);
	assert_int_equal(tdxmmu_td_create(&cfg, &td), 0);
	assert_int_equal(tdxmmu_memslot_add_flags(td, 0, 0, 4 << 20, TDXMMU_MEMSLOT_HUGEPAGES), 0);
	assert_int_equal(tdxmmu_td_finalize(td), 0);
	op_ok(tdxmmu_vcpu_mapgpa(td, 0, SHARED | 0x200000, 0x200000, &o), o);
	/* At 2M: no 4K table in either tree. */
	assert_int_equal(tdxmmu_spte_state_level(td, 0x200000, 1, &pv, &sh), 0);
	assert_int_equal(pv, TDXMMU_SPTE_NONPRESENT_SHARED);
	assert_int_equal(sh, TDXMMU_SPTE_NONPRESENT_SHARED);
	assert_int_equal(tdxmmu_mapped_pages(td, gpas, 3, &total), 0);
	assert_int_equal(total, 512);
	assert_int_equal(gpas[0], 0x200000);
	assert_int_equal(gpas[1], 0x201000);
	assert_int_equal(gpas[2], 0x202000);
	api_fx_destroy_clean(td);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_collect_tdp),
		cmocka_unit_test(test_collect_legacy),
		cmocka_unit_test(test_collect_frozen),
		cmocka_unit_test(test_collect_pages_and_mapped),
		cmocka_unit_test(test_collect_gpaw52),
		cmocka_unit_test(test_collect_two_tables_per_level),
		cmocka_unit_test(test_mapped_pages_2m_chunk_converted),
		cmocka_unit_test(test_run_stop_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
