/* SPDX-License-Identifier: MIT */
/* The TDP iterator (see tdp_iter.h). */
#include "kvm/kvm_sched.h"
#include "kvm/tdp_iter.h"

/* Every snapshot the iterator takes is a read another thread's cmpxchg,
 * freeze or zap can race with: a schedule point just before it. */
#define ITER_READ_POINT(iter)                                                  \
	KVM_SPTE_POINT(SCHED_SPTE_READ, SCHED_R, (iter)->is_private, (iter)->sptep)

/* Recomputes sptep from the table at the current level and gfn, and
 * snapshots the entry. Inline: four calls per fault's walk. */
static inline __attribute__((always_inline)) void tdp_iter_refresh_sptep(struct tdp_iter *iter)
{
	iter->sptep = iter->pt_path[iter->level - 1] +
		      SPTE_INDEX(iter->gfn, iter->level);
	ITER_READ_POINT(iter);
	iter->old_spte = kvm_tdp_mmu_read_spte(iter->sptep);
}

void tdp_iter_restart(struct tdp_iter *iter)
{
	iter->level = iter->root_level;
	iter->gfn = gfn_round_for_level(iter->next_last_level_gfn, iter->level);
	iter->pt_path[iter->level - 1] = iter->root->spt;
	tdp_iter_refresh_sptep(iter);
	iter->valid = true;
}

void tdp_iter_start(struct tdp_iter *iter, struct kvm_mmu_page *root,
		    int min_level, gfn_t next_last_level_gfn)
{
	iter->valid = false;
	iter->skip_end = 0;
	if (!root || root->role.level < PG_LEVEL_4K ||
	    root->role.level > PT64_ROOT_MAX_LEVEL || min_level < PG_LEVEL_4K ||
	    min_level > (int)root->role.level)
		return;
	iter->root = root;
	iter->root_level = (int)root->role.level;
	iter->min_level = min_level;
	iter->is_private = is_private_sp(root);
	iter->next_last_level_gfn = next_last_level_gfn;
	/* A start beyond what the root maps would wrap the root index. */
	if (next_last_level_gfn >= tdp_root_gfn_end(iter->root_level))
		return;
	tdp_iter_restart(iter);
}

void tdp_iter_start_nonempty(struct tdp_iter *iter, struct kvm_mmu_page *root,
			     int min_level, gfn_t next_last_level_gfn, gfn_t end)
{
	tdp_iter_start(iter, root, min_level, next_last_level_gfn);
	iter->skip_end = end;
}

/*
 * From the entry just stepped to, passes over plain empty entries of the
 * same table (for_each_tdp_pte_nonempty): stops on the first other entry,
 * the table's last entry, or at skip_end. The caller then snapshots the
 * entry it stopped on as usual.
 */
static void tdp_iter_skip_empty(struct tdp_iter *iter)
{
	const uint64_t np = SHADOW_NONPRESENT_VALUE;
	unsigned idx = SPTE_INDEX(iter->gfn, iter->level);
	gfn_t step = KVM_PAGES_PER_HPAGE(iter->level);
	_Atomic uint64_t *p = iter->sptep;
	unsigned n;

	/* A dense table (a populated range) costs one load per step. */
	if (iter->gfn >= iter->skip_end ||
	    atomic_load_explicit(p, memory_order_relaxed) != np)
		return;
	/* How many entries may be passed: not the table's last one, none at
	 * or beyond skip_end. */
	n = SPTE_ENT_PER_PAGE - 1 - idx;
	if ((iter->skip_end - iter->gfn + step - 1) / step < n)
		n = (unsigned)((iter->skip_end - iter->gfn + step - 1) / step);
	/* Eight at a time: a table of a small TD is almost all empty. */
	while (n >= 8) {
		uint64_t diff = 0;

		for (unsigned i = 0; i < 8; i++)
			diff |= atomic_load_explicit(&p[i], memory_order_relaxed) ^ np;
		if (diff)
			break;
		p += 8;
		n -= 8;
	}
	while (n && atomic_load_explicit(p, memory_order_relaxed) == np) {
		p++;
		n--;
	}
	iter->gfn += (gfn_t)(p - iter->sptep) * step;
	iter->sptep = p;
	iter->next_last_level_gfn = iter->gfn;
}

/*
 * Steps into the table the current entry points to. The entry is re-read
 * first: the snapshot may be stale, and descending through a stale snapshot
 * would walk a table that is no longer linked (and, once frees are deferred,
 * may be on its way back to the allocator).
 */
static bool try_step_down(struct tdp_iter *iter)
{
	_Atomic uint64_t *child;

	if (iter->level == iter->min_level)
		return false;
	ITER_READ_POINT(iter);
	iter->old_spte = kvm_tdp_mmu_read_spte(iter->sptep);
	child = spte_to_child_pt(iter->old_spte, iter->level);
	if (!child)
		return false;
	iter->level--;
	iter->pt_path[iter->level - 1] = child;
	iter->gfn = gfn_round_for_level(iter->next_last_level_gfn, iter->level);
	tdp_iter_refresh_sptep(iter);
	return true;
}

/* Steps to the next entry of the same table, if any. */
static bool try_step_side(struct tdp_iter *iter)
{
	if (SPTE_INDEX(iter->gfn, iter->level) == SPTE_ENT_PER_PAGE - 1)
		return false;
	iter->gfn += KVM_PAGES_PER_HPAGE(iter->level);
	iter->next_last_level_gfn = iter->gfn;
	iter->sptep++;
	if (iter->skip_end && !kvm_read_points_decide())
		tdp_iter_skip_empty(iter);
	ITER_READ_POINT(iter);
	iter->old_spte = kvm_tdp_mmu_read_spte(iter->sptep);
	return true;
}

/* Steps back to the entry that points to the current table. */
static bool try_step_up(struct tdp_iter *iter)
{
	if (iter->level == iter->root_level)
		return false;
	iter->level++;
	iter->gfn = gfn_round_for_level(iter->gfn, iter->level);
	tdp_iter_refresh_sptep(iter);
	return true;
}

void tdp_iter_next(struct tdp_iter *iter)
{
	if (try_step_down(iter))
		return;
	do {
		if (try_step_side(iter))
			return;
	} while (try_step_up(iter));
	iter->valid = false;
}
