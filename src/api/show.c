/* SPDX-License-Identifier: MIT */
/*
 * Looking inside (scenario contract 1.1): tdxmmu_show() prints, page by
 * page, what KVM's shared EPT, KVM's private (mirror) EPT and the TDX
 * module's Secure EPT hold at every level down to the page;
 * tdxmmu_spte_state_level() answers expect-spte at a level other than 4K.
 *
 * Both are observers: they change nothing and count nothing. KVM's trees
 * are read only through KVM's observer walks (kvm_tdp_mmu_walk(),
 * kvm_legacy_mmu_walk()), under mmu_lock held for read, which is what those
 * walks require and what `check` does; the S-EPT only through the module's
 * read-only walk (tdx_debug_sept_state()), which takes no module lock and
 * counts no SEAMCALL. The KVM entries are copied out under mmu_lock and
 * printed after it is dropped, so a slow output stream never holds KVM up.
 *
 * The output format is documented in docs/scenario-language.md ("show").
 * It is meant to be stable: it prints no value that depends on where the
 * process's memory lies (a KVM non-leaf entry holds the address of KVM's
 * table in this model, so only "table" is printed for it).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "kvm/kvm.h"
#include "kvm/mmu_legacy.h"
#include "kvm/spte.h"
#include "kvm/tdp_mmu.h"
#include "tdx/tdx_module.h"

/* Levels as the scenario language names them (0 = 4K ... 4 = 256T). */
static const char *const level_names[] = { "4K", "2M", "1G", "512G", "256T" };
#define NR_LEVELS 5

/* One KVM entry that covers part of the range being looked at. */
struct entry {
	uint64_t gfn;  /* first gfn it maps, without the shared bit */
	uint64_t spte;
};

/* The entries of one tree that cover [start, end), per level (0-based),
 * each list in ascending gfn once sorted. */
struct tree_copy {
	struct entry *e[NR_LEVELS];
	size_t nr[NR_LEVELS], cap[NR_LEVELS];
};

struct collect {
	uint64_t start, end;  /* gfns, without the shared bit */
	uint64_t shared_mask; /* the gfn's shared bit */
	struct tree_copy *tree;
	bool oom;
};

static uint64_t level_pages(unsigned level)
{
	return 1ULL << (9 * level);
}

/* kvm_tdp_mmu_walk_fn: keep the entries that overlap the range. The walk
 * calls it under mmu_lock; it only copies. */
static void collect_one(struct kvm *kvm, bool is_private, gfn_t gfn, int level,
			uint64_t spte, struct kvm_mmu_page *sp, void *arg)
{
	struct collect *c = arg;
	unsigned l = (unsigned)level - PG_LEVEL_4K;
	struct tree_copy *t = c->tree;
	uint64_t first;

	(void)kvm, (void)is_private, (void)sp;
	if (l >= NR_LEVELS || c->oom)
		return;
	first = gfn & ~c->shared_mask;
	if (first >= c->end || first + level_pages(l) <= c->start)
		return;
	if (t->nr[l] == t->cap[l]) {
		size_t ncap = t->cap[l] ? t->cap[l] * 2 : 16;
		struct entry *n = realloc(t->e[l], ncap * sizeof(*n));

		if (!n) {
			c->oom = true;
			return;
		}
		t->e[l] = n;
		t->cap[l] = ncap;
	}
	t->e[l][t->nr[l]++] = (struct entry){ .gfn = first, .spte = spte };
}

static int entry_cmp(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	return x->gfn < y->gfn ? -1 : x->gfn > y->gfn;
}

static void tree_free(struct tree_copy *t)
{
	for (unsigned l = 0; l < NR_LEVELS; l++)
		free(t->e[l]);
}

/*
 * Copies the entries of both trees that overlap gfns [start, end).
 * Context: takes mmu_lock for read (the walks' requirement); no other lock of
 * KVM's may be held by the caller.
 */
static int copy_trees(tdxmmu_td *td, uint64_t start, uint64_t end,
		      struct tree_copy *priv, struct tree_copy *shr)
{
	struct kvm *kvm = td->kvm;
	struct collect c = {
		.start = start, .end = end, .shared_mask = kvm->gfn_shared_mask,
	};
	bool legacy = kvm_is_legacy_mmu(kvm);

	kvm_mmu_read_lock(kvm);
	c.tree = priv;
	if (legacy)
		kvm_legacy_mmu_walk(kvm, true, collect_one, &c);
	else
		kvm_tdp_mmu_walk(kvm, true, collect_one, &c);
	c.tree = shr;
	if (legacy)
		kvm_legacy_mmu_walk(kvm, false, collect_one, &c);
	else
		kvm_tdp_mmu_walk(kvm, false, collect_one, &c);
	kvm_mmu_read_unlock(kvm);
	if (c.oom)
		return api_fail(TDXMMU_ENOMEM, "show: out of memory");
	/* The walks need not visit a level in gfn order (the legacy MMU's
	 * tables come from a hash): sort, so that each page's entry can be
	 * found by advancing a cursor. */
	for (unsigned l = 0; l < NR_LEVELS; l++) {
		/* qsort's array may not be NULL, even when empty. */
		if (priv->nr[l])
			qsort(priv->e[l], priv->nr[l], sizeof(struct entry), entry_cmp);
		if (shr->nr[l])
			qsort(shr->e[l], shr->nr[l], sizeof(struct entry), entry_cmp);
	}
	return TDXMMU_OK;
}

/* The entry at level l that covers gfn, advancing *cur (gfns ascend). */
static const struct entry *find_entry(const struct tree_copy *t, unsigned l,
				      uint64_t gfn, size_t *cur)
{
	while (*cur < t->nr[l] && t->e[l][*cur].gfn + level_pages(l) <= gfn)
		(*cur)++;
	if (*cur < t->nr[l] && t->e[l][*cur].gfn <= gfn)
		return &t->e[l][*cur];
	return NULL;
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

TDXMMU_API int tdxmmu_spte_state_level(tdxmmu_td *td, uint64_t gpa,
				       unsigned level,
				       enum tdxmmu_spte_state *private_ept,
				       enum tdxmmu_spte_state *shared_ept)
{
	struct tree_copy priv = { 0 }, shr = { 0 };
	uint64_t gfn;
	size_t cur;
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

	gfn = (gpa & ~tdxmmu_td_shared_bit(td)) >> PAGE_SHIFT;
	gfn &= ~(level_pages(level) - 1);
	ret = copy_trees(td, gfn, gfn + 1, &priv, &shr);
	if (ret == TDXMMU_OK) {
		const struct entry *e;

		/* No entry at that level (a missing table, or a larger leaf
		 * above) reads non-present. */
		cur = 0;
		e = find_entry(&priv, level, gfn, &cur);
		*private_ept = api_spte_state_of(e ? e->spte : SHADOW_NONPRESENT_VALUE);
		cur = 0;
		e = find_entry(&shr, level, gfn, &cur);
		*shared_ept = api_spte_state_of(e ? e->spte : SHADOW_NONPRESENT_VALUE);
	}
	tree_free(&priv);
	tree_free(&shr);
	return ret;
}

/* One KVM entry, decoded: see the format in docs/scenario-language.md. */
static void print_spte(FILE *out, const char *tree, unsigned l,
		       const struct entry *e)
{
	uint64_t s;

	fprintf(out, "  %-7s %-4s  ", tree, level_names[l]);
	if (!e) {
		fprintf(out, "none\n");
		return;
	}
	s = e->spte;
	if (is_removed_spte(s)) {
		fprintf(out, "frozen%s\n", is_shared_spte(s) ? " shared" : "");
		return;
	}
	if (is_shadow_present_pte(s) && !is_last_spte(s, (int)l + PG_LEVEL_4K)) {
		/* The value holds the table's address in this process: not
		 * printed, so that the output is the same from run to run. */
		fprintf(out, "present table%s\n", is_shared_spte(s) ? " shared" : "");
		return;
	}
	fprintf(out, "%s", is_shadow_present_pte(s) ? "present leaf" : "nonpresent");
	if (is_shared_spte(s))
		fprintf(out, " shared");
	if (is_private_zapped_spte(s))
		fprintf(out, " PRIVATE_ZAPPED");
	if (is_shadow_present_pte(s) || is_private_zapped_spte(s))
		fprintf(out, " pfn=%#" PRIx64, (uint64_t)spte_to_pfn(s));
	fprintf(out, " spte=%#018" PRIx64 "\n", s);
}

/* The S-EPT entry for private gpa at level l, through the module's
 * read-only walk. Below a leaf or a non-present entry there is none. */
static void print_sept(FILE *out, tdxmmu_td *td, uint64_t gpa, unsigned l)
{
	enum tdx_sept_state st = SEPT_FREE;
	unsigned stopped = 0;
	hpa_t hpa = 0;

	fprintf(out, "  %-7s %-4s  ", "S-EPT", level_names[l]);
	if (!tdx_debug_sept_state(td->tdx, td->kvm->tdr,
				  gpa & ~(level_pages(l) * PAGE_SIZE - 1), l,
				  &st, &hpa, &stopped) ||
	    stopped != l) {
		fprintf(out, "none\n");
		return;
	}
	fprintf(out, "%s", tdx_sept_state_name(st));
	if (st != SEPT_FREE && st != SEPT_REMOVED)
		fprintf(out, " hpa=%#" PRIx64, (uint64_t)hpa);
	fprintf(out, "\n");
}

TDXMMU_API int tdxmmu_show(tdxmmu_td *td, uint64_t gpa, uint64_t size,
			   FILE *out)
{
	struct tree_copy priv = { 0 }, shr = { 0 };
	size_t pcur[NR_LEVELS] = { 0 }, scur[NR_LEVELS] = { 0 };
	uint64_t shared, start, end, levels;
	int ret;

	if (!td || !td->kvm || !out)
		return api_fail(TDXMMU_EINVAL, "show: NULL argument");
	if ((gpa | size) & (PAGE_SIZE - 1) || size == 0)
		return api_fail(TDXMMU_EINVAL,
				"show: address and size must be 4K-aligned and the size non-zero");
	shared = tdxmmu_td_shared_bit(td);
	if (!gpa_ok(td, gpa))
		return api_fail(TDXMMU_ERANGE, "show: %#llx is outside the TD's GPA width",
				(unsigned long long)gpa);
	/* Both aliases of each page are shown: the range is taken without
	 * the shared bit, and must not cross it. */
	start = gpa & ~shared;
	if (size > shared - start)
		return api_fail(TDXMMU_ERANGE,
				"show: [%#llx, +%#llx) crosses the shared bit",
				(unsigned long long)gpa, (unsigned long long)size);
	end = start + size;
	ret = copy_trees(td, start >> PAGE_SHIFT, end >> PAGE_SHIFT, &priv, &shr);
	if (ret != TDXMMU_OK)
		goto out;
	levels = walk_levels(td);
	for (uint64_t pa = start; pa < end; pa += PAGE_SIZE) {
		uint64_t gfn = pa >> PAGE_SHIFT;

		fprintf(out, "page %#" PRIx64 " (private %#" PRIx64
			", shared %#" PRIx64 ")\n",
			pa, pa, pa | shared);
		for (unsigned l = (unsigned)levels; l-- > 0;)
			print_spte(out, "shared", l, find_entry(&shr, l, gfn, &scur[l]));
		for (unsigned l = (unsigned)levels; l-- > 0;)
			print_spte(out, "mirror", l, find_entry(&priv, l, gfn, &pcur[l]));
		for (unsigned l = (unsigned)levels; l-- > 0;)
			print_sept(out, td, pa, l);
	}
out:
	tree_free(&priv);
	tree_free(&shr);
	return ret;
}
