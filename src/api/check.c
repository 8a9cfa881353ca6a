/* SPDX-License-Identifier: MIT */
/*
 * The whole-model invariant checker behind the scenario language's `check`
 * (tdxmmu_check()). It spans the three parties, so it lives with the
 * platform: it reads KVM's two EPTs (kvm_tdp_mmu_walk), the TDX module's
 * S-EPT and PAMT through the module's observer interface (tdx_debug_*), the
 * vCPUs' TLBs (cpu_tlb_foreach) and the memslots, and changes nothing.
 *
 * What is checked (each broken rule is one report line naming the GFN/GPA,
 * the level and the values involved):
 *
 *  I1  The mirror EPT equals the S-EPT, both ways (kvm-tdx-mmu.md §3, §4;
 *      tdx-module-sept.md §2.3): a present private non-leaf SPTE <-> NL_MAPPED
 *      or NL_BLOCKED at the same GPA and level whose HPA is the child page's
 *      private_spt; a present private leaf <-> MAPPED or PENDING with the
 *      SPTE's frame; a PRIVATE_ZAPPED leaf (legacy MMU, §5.6) <-> BLOCKED or
 *      PENDING_BLOCKED with its frame; any other KVM entry <-> FREE (or a
 *      walk that ends above it at FREE).
 *  I2  The E4 per-GFN table at 4K (§6.5, §11.2 item 8), TDP MMU: no
 *      (P|S, .), no (., P without S), and SPTE_SHARED_MASK is the same in
 *      both trees for every GFN that either tree covers with a 4K table; a
 *      tree with no 4K table there reads as nonpresent, without S (issue
 *      11, item 2.2: comparing only where both had a table let a private
 *      NP|S with no shared table pass). Large pages (hugepages ref §7.4):
 *      a 2M-level entry with no table below stands for its 512 GFNs (its
 *      S bit, or a 2M leaf), so where a tree has no 4K table the other
 *      tree's 4K entries pair with that entry (check_chunk()). Legacy MMU: seed
 *      000's table instead (check_pair_legacy()): S only in the private
 *      EPT, a shared leaf only where the private entry is NP|S, no present
 *      or PRIVATE_ZAPPED private entry with S; plus the legacy MMU's own
 *      audit (kvm_legacy_mmu_audit(): rmap <-> SPTEs both ways, the
 *      (gfn, role) hash and page lists). Skipped once KVM killed the VM
 *      (the table's pairs, not the audit): see check_table()'s caller.
 *  I3  No page present on both aliases (§11.2 item 9), at any level.
 *  I4  Every frame has one owner: a present private leaf's frame is PT_REG
 *      owned by this TD, a private table's S-EPT page is PT_EPT owned by it,
 *      no frame is mapped twice in the private tree; a present shared leaf's
 *      frame is PT_NDA and mapped by no private leaf; every leaf maps the
 *      frame the memslot gives its GFN. Control pages (TDR, TDCS, TDVPR) are
 *      the TD's with their own page types.
 *  I5  TLBs: a private translation maps a frame the TD owns (PT_REG) and
 *      that the S-EPT maps MAPPED at that GPA (a BLOCKED entry may stay
 *      cached until TRACK and the vCPU's next entry, tdx-module-sept.md §6,
 *      so one whose TRACK has not happened is KVM's fault at a quiesce
 *      point); a shared translation maps the frame of a
 *      present shared SPTE for that GPA. Translations the vCPU drops before
 *      it next runs guest code (a pending shared flush request, a private
 *      flush due at TDH.VP.ENTER) are not judged: see vcpu_flush_pending().
 *      Nor is any, with a note, once no vCPU can run guest code again: a
 *      dead VM, or a TD whose HKID the teardown released.
 *  I6  Structure: no frozen entry (check runs at quiesce points, §1.2); every
 *      private table below the root has an S-EPT page of its own, the root
 *      has none (§3.2, §3.3); tables sit in the tree of their role; neither
 *      tree maps the other tree's half of the GFN space.
 *  I7  Module bookkeeping (tdx-module-sept.md §15 items 1 and 2): every S-EPT
 *      leaf's HPA is PT_REG owned by the TD at exactly the leaf's size, every
 *      NL entry's HPA PT_EPT owned by the TD, and
 *        CHLDCNT = sum over S-EPT leaves of 512^level (TDX level, 0 = 4K)
 *                + number of NL entries (one non-root S-EPT page each; the
 *                  root is TDCS page 3, counted below)
 *                + TDCX pages (TDH.MNG.ADDCX, 6) + TDVPR pages (one per
 *                  TDH.VP.CREATE; the model has no TDVPX pages).
 *  I8  No module lock left held (tdx-module-sept.md §11; check runs at
 *      quiesce points, when no SEAMCALL is in flight): the TD's TDR,
 *      OP_STATE, S-EPT tree and epoch locks, its TDCS pages' and TDVPRs'
 *      PAMT locks and the 1G PAMT entries' locks are free, apart from what
 *      each vCPU in guest mode holds (its TDVPR, the TDR shared, one epoch
 *      reference). The shared holds the module counts per thread slot
 *      (tdx_locks.h) are included, so a leaked count shows here.
 *
 * One fault, one line: where two rules see the same fault, one reports it.
 * The PAMT entry of a private frame is judged on the S-EPT side (I7) when
 * KVM's entry agrees with the S-EPT, on KVM's side (I4) when it does not; a
 * 4K page present on both aliases is an I3 line, not also an I2 pair; a
 * private table without a twin is an I6 line, not also an I1 mismatch; a
 * bad TLB entry is one line (stale, else a frame the TD does not own).
 *
 * Not checked: the frames in KVM's S-EPT page caches (vCPU-thread state);
 * SPTE permission and attribute bits; that the 4K PAMT entries inside a
 * large PT_REG page are PT_NDA (§15 item 1: no observer reads the PAMT at a
 * chosen size); frames the TD owns that no S-EPT entry or control page
 * names are not looked for one by one (that needs a scan of the whole PAMT)
 * but show as a CHLDCNT mismatch.
 *
 * Cost: linear in what is mapped. Both trees are walked once (each table
 * costs its 512 entries), the S-EPT once, the TLBs once; everything is
 * matched through hash maps. No memslot is scanned GFN by GFN.
 *
 * Locking and the quiesce point (issue 11, 2.14): tdxmmu_check() may be
 * called at any time, also while guest programs run on vCPU threads. It
 * first brings the vCPUs to a quiesce point, as KVM's all-vCPU requests do
 * (cpu_pause_all(), cpu.c: every vCPU is kicked out of the TD and parks at
 * its next entry, outside every exit handler, holding no lock), and lets
 * them go after the check (cpu_resume_all(); a vCPU held by `vcpu N enter`
 * re-enters then). Pausing comes before any lock is taken: a vCPU still in
 * an exit handler may need mmu_lock or slots_lock to reach its park. With
 * every vCPU parked or idle, no fault is in flight, no vCPU SEAMCALL holds a
 * module lock, and the TLBs and the module's per-vCPU epoch fields are not
 * written (the park and the claim release order the vCPU's writes before
 * the checker's reads). The TLBs are then read outside KVM's locks, the rest
 * under slots_lock and mmu_lock held for read, so no host or KVM writer
 * moves the trees meanwhile; the module's observers take no lock. Host
 * actions on other threads (zaps, memslot changes) are excluded by those
 * locks; raw SEAMCALLs racing with the check are not, and can make it report
 * a transient state.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "cpu/cpu.h"
#include "host/host_mem.h"
#include "kvm/kvm.h"
#include "kvm/mmu_legacy.h"
#include "kvm/mmu_page.h"
#include "kvm/spte.h"
#include "kvm/tdp_iter.h"
#include "kvm/tdp_mmu.h"
#include "kvm/tdx_hooks.h"
#include "tdx/tdx_module.h"

/* ---- a small u64 -> u32 hash map (open addressing, key 0 = empty) ---- */

struct u64map {
	uint64_t *keys;
	uint32_t *vals;
	size_t cap; /* a power of two, or 0 */
	size_t nr;
};

static uint64_t mix64(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	k *= 0xc4ceb9fe1a85ec53ULL;
	k ^= k >> 33;
	return k;
}

static void u64map_free(struct u64map *m)
{
	free(m->keys);
	free(m->vals);
	*m = (struct u64map){ 0 };
}

static uint32_t *u64map_find(const struct u64map *m, uint64_t key)
{
	if (!m->cap)
		return NULL;
	for (size_t i = mix64(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		if (m->keys[i] == key)
			return &m->vals[i];
		if (m->keys[i] == 0)
			return NULL;
	}
}

static int u64map_grow(struct u64map *m)
{
	size_t cap = m->cap ? m->cap * 2 : 256;
	uint64_t *keys = calloc(cap, sizeof(*keys));
	uint32_t *vals = calloc(cap, sizeof(*vals));

	if (!keys || !vals) {
		free(keys);
		free(vals);
		return -ENOMEM;
	}
	for (size_t j = 0; j < m->cap; j++) {
		size_t i;

		if (!m->keys[j])
			continue;
		for (i = mix64(m->keys[j]) & (cap - 1); keys[i]; i = (i + 1) & (cap - 1))
			;
		keys[i] = m->keys[j];
		vals[i] = m->vals[j];
	}
	free(m->keys);
	free(m->vals);
	m->keys = keys;
	m->vals = vals;
	m->cap = cap;
	return 0;
}

/*
 * Inserts key -> val. Returns 0 when inserted, 1 when the key was already
 * there (*old = its value, nothing changed), -ENOMEM.
 */
static int u64map_put(struct u64map *m, uint64_t key, uint32_t val, uint32_t *old)
{
	size_t i;

	if ((m->nr + 1) * 2 > m->cap && u64map_grow(m))
		return -ENOMEM;
	for (i = mix64(key) & (m->cap - 1); m->keys[i]; i = (i + 1) & (m->cap - 1)) {
		if (m->keys[i] == key) {
			if (old)
				*old = m->vals[i];
			return 1;
		}
	}
	m->keys[i] = key;
	m->vals[i] = val;
	m->nr++;
	return 0;
}

/* ---- what the walks collect ---- */

/* One entry of KVM's trees that is not plain SHADOW_NONPRESENT_VALUE. */
struct kvm_rec {
	gfn_t gfn;                  /* first gfn mapped, shared bit stripped */
	uint64_t spte;
	struct kvm_mmu_page *child; /* present non-leaf: the table it points to */
	uint8_t level;              /* KVM level, 1 = 4K */
	bool matched;               /* I1: the S-EPT entry at this place is known */
	bool frame_differs;         /* I1: the S-EPT maps another frame here */
};

struct rec_vec {
	struct kvm_rec *v;
	size_t nr, cap;
};

/* Map keys. A gfn needs at most 40 bits (GPAW 52), a pfn HOST_MAX_PA_BITS. */
static inline uint64_t rec_key(gfn_t gfn, int level)
{
	return (gfn << 3) | (uint64_t)level; /* level >= 1: never 0 */
}
static inline uint64_t frame_key(pfn_t pfn)
{
	return (pfn << 1) | 1;
}

/* The frame map's value: the private record that claims the frame, and
 * whether as a leaf or as the S-EPT page of a table. */
#define FRAME_SEPT_PAGE 0x80000000u

struct tlb_rec {
	unsigned vcpu;
	uint64_t gpa;
	pfn_t pfn;
	bool is_private;
};

struct checker {
	tdxmmu_td *td;
	struct kvm *kvm;
	hpa_t tdr;
	bool tdp; /* the E4 table applies (TDP MMU); else seed 000's (legacy) */

	char *report;
	size_t size, len;
	int nr;         /* violations found */
	int nr_dropped; /* violations that did not fit in the report */
	int err;        /* -ENOMEM: the check could not complete */

	struct rec_vec priv, shr;
	struct u64map priv_map, shr_map;     /* rec_key -> index */
	struct u64map frames;                /* frame_key -> index | FRAME_SEPT_PAGE */

	struct tlb_rec *tlb;
	size_t nr_tlb, cap_tlb;

	/* I7: what the S-EPT says CHLDCNT should hold */
	uint64_t sept_pages_4k;

	/* I5: the vCPU drops its shared / private translations before it
	 * next runs guest code (vcpu_flush_pending()). */
	bool shared_flush_pending[KVM_MAX_VCPUS];
	bool private_flush_pending[KVM_MAX_VCPUS];
};

/* ---- the report ---- */

/*
 * Appends one line. Lines are kept whole: a line that does not fit is
 * dropped (counted in nr_dropped) and so is every later one, so the report
 * never ends in half a line; tdxmmu_check() then makes room for a closing
 * "... N more" line if it can.
 */
static void __attribute__((format(printf, 2, 3)))
report_line(struct checker *ck, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	line[n] = '\0';
	if (!ck->report || ck->nr_dropped || ck->len + (size_t)n + 1 > ck->size) {
		ck->nr_dropped++;
		return;
	}
	memcpy(ck->report + ck->len, line, (size_t)n + 1);
	ck->len += (size_t)n;
}

#define violation(ck, ...)                       \
	do {                                     \
		(ck)->nr++;                      \
		report_line((ck), __VA_ARGS__);  \
	} while (0)

static void report_finish(struct checker *ck)
{
	char tail[64];
	int n;

	if (!ck->report || !ck->size || !ck->nr_dropped)
		return;
	/* Drop whole lines from the end until the closing line fits. */
	for (;;) {
		n = snprintf(tail, sizeof(tail), "... %d more violation%s not shown\n",
			     ck->nr_dropped, ck->nr_dropped == 1 ? "" : "s");
		if (ck->len + (size_t)n + 1 <= ck->size)
			break;
		if (ck->len == 0)
			return; /* the buffer cannot hold even the closing line */
		ck->report[ck->len - 1] = '\0';
		{
			char *nl = strrchr(ck->report, '\n');
			size_t keep = nl ? (size_t)(nl - ck->report) + 1 : 0;

			ck->len = keep;
			ck->report[keep] = '\0';
		}
		ck->nr_dropped++;
	}
	memcpy(ck->report + ck->len, tail, (size_t)n + 1);
	ck->len += (size_t)n;
}

/* ---- names ---- */

static const char *level_name(int level)
{
	static const char *const names[] = { "?", "4K", "2M", "1G", "512G", "256T" };

	return level >= 1 && level <= 5 ? names[level] : "?";
}

/* A KVM entry as expect-spte names it (api/names.c). */
static const char *spte_name(uint64_t spte)
{
	bool s = spte & SPTE_SHARED_MASK;

	if (is_removed_spte(spte))
		return tdxmmu_spte_state_name(TDXMMU_SPTE_FROZEN);
	if (is_private_zapped_spte(spte))
		return tdxmmu_spte_state_name(TDXMMU_SPTE_ZAPPED);
	if (is_shadow_present_pte(spte))
		return tdxmmu_spte_state_name(s ? TDXMMU_SPTE_PRESENT_SHARED :
						  TDXMMU_SPTE_PRESENT);
	return tdxmmu_spte_state_name(s ? TDXMMU_SPTE_NONPRESENT_SHARED :
					  TDXMMU_SPTE_NONPRESENT);
}

typedef unsigned long long ull;

static inline gpa_t gfn_to_gpa(gfn_t gfn)
{
	return gfn << PAGE_SHIFT;
}

/* ---- collecting KVM's trees ---- */

static struct kvm_rec *rec_add(struct checker *ck, struct rec_vec *vec,
			       struct u64map *map, gfn_t gfn, int level,
			       uint64_t spte)
{
	struct kvm_rec *r;

	if (vec->nr == vec->cap) {
		size_t cap = vec->cap ? vec->cap * 2 : 256;
		struct kvm_rec *v = realloc(vec->v, cap * sizeof(*v));

		if (!v) {
			ck->err = -ENOMEM;
			return NULL;
		}
		vec->v = v;
		vec->cap = cap;
	}
	/* A tree visits each (gfn, level) once: the key is new. */
	if (u64map_put(map, rec_key(gfn, level), (uint32_t)vec->nr, NULL) < 0) {
		ck->err = -ENOMEM;
		return NULL;
	}
	r = &vec->v[vec->nr++];
	*r = (struct kvm_rec){ .gfn = gfn, .spte = spte, .level = (uint8_t)level };
	return r;
}

/*
 * I6 for a present non-leaf entry: the table it points to must be a page of
 * this tree, one level down, mapping the same gfns; a private one carries its
 * S-EPT twin (§3.2: only the root has none), a shared one none.
 */
static struct kvm_mmu_page *check_child(struct checker *ck, bool is_private,
					gfn_t raw_gfn, gfn_t gfn, int level,
					uint64_t spte)
{
	struct kvm_mmu_page *child = sptep_to_sp(spte_to_child_pt(spte, level));
	const char *tree = is_private ? "private" : "shared";

	if ((bool)child->role.is_private != is_private)
		violation(ck, "gfn %#llx level %s: the %s EPT links a %s table",
			  (ull)gfn, level_name(level), tree,
			  child->role.is_private ? "private" : "shared");
	if ((int)child->role.level != level - 1 || child->gfn != raw_gfn)
		violation(ck, "gfn %#llx level %s: the %s EPT links a table of level %s at gfn %#llx",
			  (ull)gfn, level_name(level), tree,
			  level_name((int)child->role.level), (ull)child->gfn);
	if (is_private && !child->private_spt)
		violation(ck, "gfn %#llx level %s: private table below the root has no S-EPT page (private_spt = 0)",
			  (ull)gfn, level_name(level));
	if (!is_private && child->private_spt)
		violation(ck, "gfn %#llx level %s: shared table has an S-EPT page (private_spt = %#llx)",
			  (ull)gfn, level_name(level), (ull)child->private_spt);
	return child;
}

static void walk_one(struct kvm *kvm, bool is_private, gfn_t raw_gfn, int level,
		     uint64_t spte, struct kvm_mmu_page *sp, void *arg)
{
	struct checker *ck = arg;
	const char *tree = is_private ? "private" : "shared";
	bool shared_half = raw_gfn & kvm->gfn_shared_mask;
	gfn_t gfn = kvm_gfn_private(kvm, raw_gfn);
	struct kvm_rec *r;

	(void)sp;
	if (ck->err)
		return;
	/*
	 * I6: each tree maps only its own half of the GFN space (§2.3: the
	 * shared tree's gfns carry the shared bit, the private tree's never).
	 * The shared bit lies in the root's index, so a stray entry shows at
	 * the root level first; reporting it there and skipping everything
	 * below keeps one line per stray subtree.
	 */
	if (shared_half == is_private) {
		if (level == (int)kvm->root_level)
			violation(ck, "gfn %#llx level %s: the %s EPT has %s in the %s half of the GFN space",
				  (ull)raw_gfn, level_name(level), tree, spte_name(spte),
				  shared_half ? "shared" : "private");
		return;
	}
	if (is_removed_spte(spte)) {
		violation(ck, "gfn %#llx level %s: %s EPT entry frozen (REMOVED_SPTE) at a quiesce point",
			  (ull)gfn, level_name(level), tree);
	}
	r = rec_add(ck, is_private ? &ck->priv : &ck->shr,
		    is_private ? &ck->priv_map : &ck->shr_map, gfn, level, spte);
	if (!r)
		return;
	if (is_shadow_present_pte(spte) && !is_last_spte(spte, level))
		r->child = check_child(ck, is_private, raw_gfn, gfn, level, spte);
}

static const struct kvm_rec *rec_find(const struct rec_vec *vec,
				      const struct u64map *map, gfn_t gfn,
				      int level)
{
	uint32_t *i = u64map_find(map, rec_key(gfn, level));

	return i ? &vec->v[*i] : NULL;
}

static bool rec_present_leaf(const struct kvm_rec *r)
{
	return r && is_shadow_present_pte(r->spte) && is_last_spte(r->spte, r->level);
}

/* The present leaf of a tree that maps gfn, at `level` or above. */
static const struct kvm_rec *leaf_covering(const struct rec_vec *vec,
					   const struct u64map *map, gfn_t gfn,
					   int level)
{
	for (int l = level; l <= PT64_ROOT_MAX_LEVEL; l++) {
		const struct kvm_rec *r = rec_find(vec, map, gfn_round_for_level(gfn, l), l);

		if (rec_present_leaf(r))
			return r;
	}
	return NULL;
}

/* ---- I4: frames and memslots ---- */

/* The leaf's frames are the memslot's frames for its gfns. */
static void check_memslot(struct checker *ck, const char *tree,
			  const struct kvm_rec *r)
{
	uint64_t pages = KVM_PAGES_PER_HPAGE(r->level);
	struct host_memslot slot;
	const struct host_memslot *s = host_memslot_find(ck->td->slots, r->gfn, &slot) ?
				       &slot : NULL;
	pfn_t pfn = spte_to_pfn(r->spte);

	if (!s || r->gfn + pages - s->base_gfn > s->npages) {
		violation(ck, "gfn %#llx level %s: %s leaf maps pfn %#llx but no memslot covers the %s page",
			  (ull)r->gfn, level_name(r->level), tree, (ull)pfn,
			  level_name(r->level));
		return;
	}
	if (pfn != host_memslot_gfn_to_pfn(s, r->gfn))
		violation(ck, "gfn %#llx level %s: %s leaf maps pfn %#llx but memslot %u backs the gfn with pfn %#llx",
			  (ull)r->gfn, level_name(r->level), tree, (ull)pfn, s->id,
			  (ull)host_memslot_gfn_to_pfn(s, r->gfn));
}

static void describe_claim(const struct checker *ck, uint32_t v, char *buf, size_t n)
{
	const struct kvm_rec *o = &ck->priv.v[v & ~FRAME_SEPT_PAGE];

	snprintf(buf, n, "%s at gfn %#llx level %s",
		 v & FRAME_SEPT_PAGE ? "the S-EPT page of the private table" :
				       "the private leaf",
		 (ull)o->gfn, level_name(o->level));
}

/* Records that private record idx claims pfn; reports a second claim. */
static void claim_frame(struct checker *ck, pfn_t pfn, uint32_t idx, bool sept_page)
{
	uint32_t v = idx | (sept_page ? FRAME_SEPT_PAGE : 0), old;
	int ret = u64map_put(&ck->frames, frame_key(pfn), v, &old);
	char a[96], b[96];

	if (ret < 0) {
		ck->err = -ENOMEM;
	} else if (ret == 1) {
		describe_claim(ck, old, a, sizeof(a));
		describe_claim(ck, v, b, sizeof(b));
		violation(ck, "pfn %#llx is used twice in the private tree: by %s and by %s",
			  (ull)pfn, a, b);
	}
}

/* The PAMT must give pfn to this TD with type `want` (PT_REG, PT_EPT, ...). */
static bool pamt_owned(struct checker *ck, pfn_t pfn, enum tdx_page_type want,
		       enum tdx_page_type *pt, hpa_t *owner, unsigned *size)
{
	tdx_debug_pamt(ck->td->tdx, pfn, pt, owner, size);
	return *pt == want && *owner == ck->tdr;
}

/* I4 for a private entry whose frame the S-EPT does not vouch for. */
static void check_private_frame_owner(struct checker *ck, const struct kvm_rec *r)
{
	bool leaf = !r->child;
	pfn_t pfn = leaf ? spte_to_pfn(r->spte) : hpa_to_pfn(r->child->private_spt);
	enum tdx_page_type want = leaf ? PT_REG : PT_EPT, pt;
	hpa_t owner;
	unsigned size;

	if (!pamt_owned(ck, pfn, want, &pt, &owner, &size))
		violation(ck, "gfn %#llx level %s: %s pfn %#llx is not the TD's %s in the PAMT (%s, owner TDR %#llx)",
			  (ull)r->gfn, level_name(r->level),
			  leaf ? "private leaf's" : "private table's S-EPT page", (ull)pfn,
			  tdx_page_type_name(want), tdx_page_type_name(pt), (ull)owner);
}

/* ---- I1 and I7: the S-EPT side ---- */

static bool sept_is_leaf_state(enum tdx_sept_state s)
{
	return s == SEPT_MAPPED || s == SEPT_PENDING || s == SEPT_BLOCKED ||
	       s == SEPT_PENDING_BLOCKED;
}

static bool sept_is_nl_state(enum tdx_sept_state s)
{
	return s == SEPT_NL_MAPPED || s == SEPT_NL_BLOCKED;
}

/* What the S-EPT state must be for a KVM entry, as text for the report. */
static const char *mirror_wants(const struct kvm_rec *r)
{
	if (r->child)
		return "NL_MAPPED or NL_BLOCKED";
	if (is_shadow_present_pte(r->spte))
		return "MAPPED or PENDING";
	if (is_private_zapped_spte(r->spte))
		return "BLOCKED or PENDING_BLOCKED";
	return "FREE";
}

static bool mirror_state_ok(const struct kvm_rec *r, enum tdx_sept_state s)
{
	if (r->child)
		return sept_is_nl_state(s);
	if (is_shadow_present_pte(r->spte))
		return s == SEPT_MAPPED || s == SEPT_PENDING;
	if (is_private_zapped_spte(r->spte))
		return s == SEPT_BLOCKED || s == SEPT_PENDING_BLOCKED;
	return s == SEPT_FREE;
}

static hpa_t mirror_hpa(const struct kvm_rec *r)
{
	return r->child ? r->child->private_spt : pfn_to_hpa(spte_to_pfn(r->spte));
}

/* Whether KVM gave the page at @hpa up (kvm_leak_page(): a REMOVE or
 * WBINVD that failed under a KVM_BUG_ON). */
static bool kvm_gave_up(struct kvm *kvm, hpa_t hpa)
{
	bool found = false;

	pthread_mutex_lock(&kvm->leak_lock);
	for (size_t i = 0; i < kvm->nr_leaked && !found; i++)
		found = kvm->leaked[i].hpa == hpa;
	pthread_mutex_unlock(&kvm->leak_lock);
	return found;
}

static void sept_one(uint64_t gpa, unsigned tdx_level, enum tdx_sept_state state,
		     hpa_t hpa, void *arg)
{
	struct checker *ck = arg;
	int level = (int)tdx_level + 1;
	gfn_t gfn = gpa >> PAGE_SHIFT;
	uint32_t *idx;
	struct kvm_rec *r;
	enum tdx_page_type pt;
	hpa_t owner;
	unsigned size;

	if (ck->err)
		return;

	/* I7: the module's own bookkeeping, whatever KVM thinks. */
	if (sept_is_leaf_state(state)) {
		ck->sept_pages_4k += KVM_PAGES_PER_HPAGE(level);
		if (!pamt_owned(ck, hpa_to_pfn(hpa), PT_REG, &pt, &owner, &size) ||
		    size != tdx_level)
			violation(ck, "gpa %#llx level %s: S-EPT %s leaf's hpa %#llx is not the TD's PT_REG page of that size in the PAMT (%s, owner TDR %#llx, size %s)",
				  (ull)gpa, level_name(level), tdx_sept_state_name(state),
				  (ull)hpa, tdx_page_type_name(pt), (ull)owner, level_name((int)size + 1));
	} else if (sept_is_nl_state(state)) {
		ck->sept_pages_4k++;
		if (!pamt_owned(ck, hpa_to_pfn(hpa), PT_EPT, &pt, &owner, &size))
			violation(ck, "gpa %#llx level %s: S-EPT %s entry's page %#llx is not the TD's PT_EPT in the PAMT (%s, owner TDR %#llx)",
				  (ull)gpa, level_name(level), tdx_sept_state_name(state),
				  (ull)hpa, tdx_page_type_name(pt), (ull)owner);
	}

	/* I1, S-EPT -> KVM. A page KVM gave up on (its REMOVE failed: the
	 * VM is dead) stays in the S-EPT until the teardown reclaims it,
	 * while KVM's mirror entry is gone, as upstream's is after that
	 * KVM_BUG_ON: not a mismatch (found by error injection into
	 * TDH.MEM.PAGE.REMOVE). */
	if (sept_is_leaf_state(state) && kvm_gave_up(ck->kvm, hpa)) {
		idx = u64map_find(&ck->priv_map, rec_key(gfn, level));
		if (idx)
			ck->priv.v[*idx].matched = true;
		return;
	}
	idx = u64map_find(&ck->priv_map, rec_key(gfn, level));
	if (!idx) {
		violation(ck, "gpa %#llx level %s: S-EPT entry is %s (hpa %#llx) but KVM's private EPT has no entry there: mirror EPT differs from the S-EPT",
			  (ull)gpa, level_name(level), tdx_sept_state_name(state), (ull)hpa);
		return;
	}
	r = &ck->priv.v[*idx];
	r->matched = true;
	if (is_removed_spte(r->spte))
		return; /* reported (I6); a SEAMCALL would be in flight */
	/* A zap that KVM_BUG_ON stopped between BLOCK and REMOVE (its TRACK
	 * failed, found by error injection): the mirror leaf is still
	 * present over a BLOCKED entry. Only a dead VM may show it. */
	if (!mirror_state_ok(r, state) &&
	    !(kvm_is_bugged(ck->kvm) && !r->child && is_shadow_present_pte(r->spte) &&
	      (state == SEPT_BLOCKED || state == SEPT_PENDING_BLOCKED))) {
		violation(ck, "gpa %#llx level %s: S-EPT entry is %s (hpa %#llx) but KVM's private EPT has %s%s (wants %s): mirror EPT differs from the S-EPT",
			  (ull)gpa, level_name(level), tdx_sept_state_name(state), (ull)hpa,
			  spte_name(r->spte), r->child ? " (non-leaf)" : "",
			  mirror_wants(r));
		r->frame_differs = true;
		return;
	}
	/* A table without a twin is reported once, by check_child(). */
	if (mirror_hpa(r) != hpa && !(r->child && !r->child->private_spt)) {
		violation(ck, "gpa %#llx level %s: KVM's private EPT %s %#llx but the S-EPT %s entry has hpa %#llx: mirror EPT differs from the S-EPT",
			  (ull)gpa, level_name(level),
			  r->child ? "links the S-EPT page" : "maps hpa",
			  (ull)mirror_hpa(r), tdx_sept_state_name(state), (ull)hpa);
		r->frame_differs = true;
	}
}

/* I1, KVM -> S-EPT: entries the S-EPT walk never reached. */
static void check_unmatched_private(struct checker *ck)
{
	for (size_t i = 0; i < ck->priv.nr; i++) {
		struct kvm_rec *r = &ck->priv.v[i];
		bool present = is_shadow_present_pte(r->spte);
		enum tdx_sept_state s = SEPT_FREE;
		unsigned stopped = 0;
		hpa_t hpa = 0;
		char where[96];

		if (r->matched || is_removed_spte(r->spte) ||
		    (!present && !is_private_zapped_spte(r->spte)))
			continue;
		/* The other way round from sept_one(): the module took the
		 * page back (REMOVE) but what came after failed and KVM gave
		 * the frame up while its entry stayed (the legacy MMU keeps a
		 * PRIVATE_ZAPPED entry whose WBINVD failed). */
		if (!r->child && kvm_gave_up(ck->kvm, mirror_hpa(r)))
			continue;
		if (tdx_debug_sept_state(ck->td->tdx, ck->tdr, gfn_to_gpa(r->gfn),
					 (unsigned)r->level - 1, &s, &hpa, &stopped))
			snprintf(where, sizeof(where), "the S-EPT entry is %s",
				 tdx_sept_state_name(s));
		else
			snprintf(where, sizeof(where), "the S-EPT walk stops above it at level %s (%s)",
				 level_name((int)stopped + 1), tdx_sept_state_name(s));
		violation(ck, "gpa %#llx level %s: KVM's private EPT has %s%s (%s %#llx) but %s: mirror EPT differs from the S-EPT",
			  (ull)gfn_to_gpa(r->gfn), level_name(r->level), spte_name(r->spte),
			  r->child ? " (non-leaf)" : "",
			  r->child ? "S-EPT page" : "hpa", (ull)mirror_hpa(r), where);
		r->frame_differs = true;
	}
}

/* ---- passes over the private and shared records ---- */

/* I4 on the private tree: memslots, double use of frames. */
static void check_private_frames(struct checker *ck)
{
	for (size_t i = 0; i < ck->priv.nr && !ck->err; i++) {
		const struct kvm_rec *r = &ck->priv.v[i];

		/* A PRIVATE_ZAPPED leaf (legacy) still holds its frame. */
		if (!is_shadow_present_pte(r->spte) && !is_private_zapped_spte(r->spte))
			continue;
		if (r->child) {
			if (r->child->private_spt)
				claim_frame(ck, hpa_to_pfn(r->child->private_spt),
					    (uint32_t)i, true);
			continue;
		}
		check_memslot(ck, "private", r);
		for (uint64_t j = 0; j < KVM_PAGES_PER_HPAGE(r->level) && !ck->err; j++)
			claim_frame(ck, spte_to_pfn(r->spte) + j, (uint32_t)i, false);
	}
}

/* I4 for the frames KVM's view of the S-EPT could not vouch for. */
static void check_private_owners(struct checker *ck)
{
	for (size_t i = 0; i < ck->priv.nr; i++) {
		const struct kvm_rec *r = &ck->priv.v[i];

		if (r->frame_differs && is_shadow_present_pte(r->spte) &&
		    (!r->child || r->child->private_spt))
			check_private_frame_owner(ck, r);
	}
}

/* I3 and I4 on the shared tree. */
static void check_shared_leaves(struct checker *ck)
{
	for (size_t i = 0; i < ck->shr.nr; i++) {
		const struct kvm_rec *r = &ck->shr.v[i];
		const struct kvm_rec *p;
		pfn_t pfn = spte_to_pfn(r->spte);
		enum tdx_page_type pt;
		hpa_t owner;
		unsigned size;
		uint32_t *claim;
		char who[128] = "";

		if (!rec_present_leaf(r))
			continue;

		/* I3: a private leaf at this level or above covers the gfn;
		 * the symmetric case (a shared leaf above a private one) is
		 * found from the private side in check_both_aliases(). */
		p = leaf_covering(&ck->priv, &ck->priv_map, r->gfn, r->level);
		if (p)
			violation(ck, "gfn %#llx: present on both aliases (private %s level %s, shared %s level %s)",
				  (ull)r->gfn, spte_name(p->spte), level_name(p->level),
				  spte_name(r->spte), level_name(r->level));

		check_memslot(ck, "shared", r);

		/* I4: a shared frame belongs to the host, never to a TD; for
		 * a 2M leaf, each of its 512 frames (the first bad one is
		 * reported). */
		for (uint64_t j = 0; j < KVM_PAGES_PER_HPAGE(r->level); j++) {
			tdx_debug_pamt(ck->td->tdx, pfn + j, &pt, &owner, &size);
			claim = u64map_find(&ck->frames, frame_key(pfn + j));
			if (claim) {
				char c[96];

				describe_claim(ck, *claim, c, sizeof(c));
				snprintf(who, sizeof(who), "; %s uses it", c);
			}
			if (pt != PT_NDA || claim) {
				violation(ck, "gfn %#llx level %s: shared leaf maps pfn %#llx, which is not the host's (PAMT %s, owner TDR %#llx%s)",
					  (ull)(r->gfn + j), level_name(r->level), (ull)(pfn + j),
					  tdx_page_type_name(pt), (ull)owner, who);
				break;
			}
		}
	}
}

/* I3 from the private side: a larger shared leaf over a private leaf. */
static void check_both_aliases(struct checker *ck)
{
	for (size_t i = 0; i < ck->priv.nr; i++) {
		const struct kvm_rec *r = &ck->priv.v[i];
		const struct kvm_rec *s;

		if (!rec_present_leaf(r) || r->level >= PT64_ROOT_MAX_LEVEL)
			continue;
		s = leaf_covering(&ck->shr, &ck->shr_map, r->gfn, r->level + 1);
		if (s)
			violation(ck, "gfn %#llx: present on both aliases (private %s level %s, shared %s level %s)",
				  (ull)r->gfn, spte_name(r->spte), level_name(r->level),
				  spte_name(s->spte), level_name(s->level));
	}
}

/*
 * I2: the E4 table (§6.5) for one gfn. p and s are the 4K entries (NULL: no
 * entry recorded, i.e. SHADOW_NONPRESENT_VALUE, or no 4K table at all; both
 * read as nonpresent without S, as the seeds' table reads a missing table:
 * the SPTE_SHARED_MASK of a GFN lives in both trees at 4K or in neither).
 */
static void check_pair(struct checker *ck, gfn_t gfn, const struct kvm_rec *p,
		       const struct kvm_rec *s)
{
	uint64_t ps = p ? p->spte : SHADOW_NONPRESENT_VALUE;
	uint64_t ss = s ? s->spte : SHADOW_NONPRESENT_VALUE;
	bool p_present = is_shadow_present_pte(ps), s_present = is_shadow_present_pte(ss);

	if (is_removed_spte(ps) || is_removed_spte(ss))
		return; /* reported (I6) */
	if (p_present && s_present)
		return; /* reported as present on both aliases (I3) */
	if ((p_present && is_shared_spte(ps)) || (s_present && !is_shared_spte(ss)) ||
	    is_shared_spte(ps) != is_shared_spte(ss))
		violation(ck, "gfn %#llx: (%s, %s) is not a state of the TDP-MMU table",
			  (ull)gfn, spte_name(ps), spte_name(ss));
}

/*
 * I2 for the legacy MMU: seed 000's table for one gfn. Allowed: (NP, NP),
 * (P, NP), (NP|S, NP), (NP|S, P), and (ZAP, NP) for PRIVATE_ZAPPED. The
 * shared EPT never carries S (that is audited, with the rmap, by
 * kvm_legacy_mmu_audit()).
 */
static void check_pair_legacy(struct checker *ck, gfn_t gfn, const struct kvm_rec *p,
			      const struct kvm_rec *s)
{
	uint64_t ps = p ? p->spte : SHADOW_NONPRESENT_VALUE;
	uint64_t ss = s ? s->spte : SHADOW_NONPRESENT_VALUE;
	bool p_mapped = is_shadow_present_pte(ps) || is_private_zapped_spte(ps);
	bool s_present = is_shadow_present_pte(ss);

	if (is_removed_spte(ps) || is_removed_spte(ss))
		return; /* reported (I6) */
	if (is_shadow_present_pte(ps) && s_present)
		return; /* reported as present on both aliases (I3) */
	if ((p_mapped && is_shared_spte(ps)) || (s_present && !is_shared_spte(ps)))
		violation(ck, "gfn %#llx: (%s, %s) is not a state of the legacy MMU's per-GFN table (docs/background.md)",
			  (ull)gfn, spte_name(ps), spte_name(ss));
}

static void legacy_audit_line(void *arg, const char *line)
{
	struct checker *ck = arg;

	ck->nr++;
	report_line(ck, "%s", line);
}

static bool rec_is_table(const struct kvm_rec *r)
{
	return r && r->child;
}

/*
 * I2 for one 2M chunk of the TDP MMU where at most one tree has a 4K table
 * (hugepages ref §7.4, docs/large-pages.md): a 2M-level entry with no table
 * below holds the alias state of its whole range (S bit) or a 2M leaf.
 * Neither has a table: the two 2M-level entries must form a state of the
 * table, as a 4K pair would. One has: each of the 512 4K entries of that
 * side pairs with the other side's 2M-level entry.
 */
static void check_chunk(struct checker *ck, gfn_t gfn, const struct kvm_rec *p2,
			const struct kvm_rec *s2)
{
	bool pt = rec_is_table(p2), st = rec_is_table(s2);

	if (!pt && !st) {
		check_pair(ck, gfn, p2, s2);
		return;
	}
	if (pt && st)
		return; /* the 4K pairs, check_table() */
	for (gfn_t g = gfn; g < gfn + KVM_PAGES_PER_HPAGE(PG_LEVEL_2M); g++) {
		if (pt)
			check_pair(ck, g, rec_find(&ck->priv, &ck->priv_map, g, PG_LEVEL_4K), s2);
		else
			check_pair(ck, g, p2, rec_find(&ck->shr, &ck->shr_map, g, PG_LEVEL_4K));
	}
}

static void check_table(struct checker *ck)
{
	void (*pair)(struct checker *, gfn_t, const struct kvm_rec *,
		     const struct kvm_rec *) = ck->tdp ? check_pair : check_pair_legacy;

	if (ck->tdp) {
		/* The 2M chunks first; the 4K pairs below only where both
		 * trees have a 4K table. */
		for (size_t i = 0; i < ck->priv.nr; i++) {
			const struct kvm_rec *r = &ck->priv.v[i];

			if (r->level == PG_LEVEL_2M)
				check_chunk(ck, r->gfn, r, rec_find(&ck->shr, &ck->shr_map,
								    r->gfn, PG_LEVEL_2M));
		}
		for (size_t i = 0; i < ck->shr.nr; i++) {
			const struct kvm_rec *r = &ck->shr.v[i];

			if (r->level == PG_LEVEL_2M &&
			    !rec_find(&ck->priv, &ck->priv_map, r->gfn, PG_LEVEL_2M))
				check_chunk(ck, r->gfn, NULL, r);
		}
		for (size_t i = 0; i < ck->priv.nr; i++) {
			const struct kvm_rec *r = &ck->priv.v[i];

			if (r->level == PG_LEVEL_4K &&
			    rec_is_table(rec_find(&ck->shr, &ck->shr_map,
						  gfn_round_for_level(r->gfn, PG_LEVEL_2M),
						  PG_LEVEL_2M)))
				check_pair(ck, r->gfn, r, rec_find(&ck->shr, &ck->shr_map,
								   r->gfn, PG_LEVEL_4K));
		}
		for (size_t i = 0; i < ck->shr.nr; i++) {
			const struct kvm_rec *r = &ck->shr.v[i];

			if (r->level == PG_LEVEL_4K &&
			    !rec_find(&ck->priv, &ck->priv_map, r->gfn, PG_LEVEL_4K) &&
			    rec_is_table(rec_find(&ck->priv, &ck->priv_map,
						  gfn_round_for_level(r->gfn, PG_LEVEL_2M),
						  PG_LEVEL_2M)))
				check_pair(ck, r->gfn, NULL, r);
		}
		return;
	}
	for (size_t i = 0; i < ck->priv.nr; i++) {
		const struct kvm_rec *r = &ck->priv.v[i];

		if (r->level == PG_LEVEL_4K)
			pair(ck, r->gfn, r, rec_find(&ck->shr, &ck->shr_map,
							   r->gfn, PG_LEVEL_4K));
	}
	for (size_t i = 0; i < ck->shr.nr; i++) {
		const struct kvm_rec *r = &ck->shr.v[i];

		if (r->level == PG_LEVEL_4K &&
		    !rec_find(&ck->priv, &ck->priv_map, r->gfn, PG_LEVEL_4K))
			pair(ck, r->gfn, NULL, r);
	}
}

/* ---- I5: TLBs ---- */

/*
 * A TLB keeps its entries across TD exits (cpu/tlb.h), and both flushes
 * happen on the way back into the guest: KVM's shared flush is a request
 * the vCPU handles before its next entry (KVM_REQ_TLB_FLUSH, kvm-tdx-mmu.md
 * §4.2), the private flush is TDH.VP.ENTER's when the TD epoch moved since
 * the vCPU last entered (tdx-module-sept.md §6). A translation that will be
 * dropped before the guest can use it again is not one the guest holds, so
 * I5 judges only the others. Between a zap (BLOCK, TRACK, REMOVE; or a
 * shared zap and its flush request) and the vCPU's next entry, that is
 * exactly the translations the zap made stale.
 *
 * The two facts come from the CPU model's and the module's observers.
 * Quiesce points only: no vCPU runs meanwhile.
 */
static void vcpu_flush_pending(struct checker *ck, unsigned i)
{
	if (i >= ck->kvm->nr_vcpus)
		return;
	ck->shared_flush_pending[i] = cpu_shared_flush_pending(ck->td->cpu, i);
	ck->private_flush_pending[i] =
		tdx_debug_vcpu_flush_pending(ck->td->tdx, ck->kvm->vcpus[i].tdvpr);
}

static void tlb_one(unsigned vcpu, uint64_t gpa, pfn_t pfn, bool is_private,
		    bool writable, void *arg)
{
	struct checker *ck = arg;

	(void)writable;
	if (ck->err || vcpu >= KVM_MAX_VCPUS)
		return;
	if (is_private ? ck->private_flush_pending[vcpu] : ck->shared_flush_pending[vcpu])
		return; /* dropped before the guest runs again */
	if (ck->nr_tlb == ck->cap_tlb) {
		size_t cap = ck->cap_tlb ? ck->cap_tlb * 2 : 64;
		struct tlb_rec *t = realloc(ck->tlb, cap * sizeof(*t));

		if (!t) {
			ck->err = -ENOMEM;
			return;
		}
		ck->tlb = t;
		ck->cap_tlb = cap;
	}
	ck->tlb[ck->nr_tlb++] = (struct tlb_rec){
		.vcpu = vcpu, .gpa = gpa, .pfn = pfn, .is_private = is_private,
	};
}

/* One line per bad translation: stale (the S-EPT no longer maps the frame
 * there), else a frame the PAMT does not give to the TD. */
static void check_tlb_private(struct checker *ck, const struct tlb_rec *t)
{
	uint64_t gpa = t->gpa & PAGE_MASK;
	enum tdx_sept_state s = SEPT_FREE;
	enum tdx_page_type pt;
	unsigned stopped = 0, size;
	hpa_t hpa = 0, owner, want = 0;
	bool ok, owned;

	/* The S-EPT leaf that maps gpa, at whatever level it is. */
	ok = tdx_debug_sept_state(ck->td->tdx, ck->tdr, gpa, 0, &s, &hpa, &stopped);
	if (!ok && sept_is_leaf_state(s))
		ok = tdx_debug_sept_state(ck->td->tdx, ck->tdr, gpa, stopped, &s, &hpa, NULL);
	else if (ok)
		stopped = 0;
	if (ok && sept_is_leaf_state(s)) {
		uint64_t span = PAGE_SIZE << (9 * stopped);

		want = (hpa & ~(span - 1)) + (gpa & (span - 1));
	}
	owned = pamt_owned(ck, t->pfn, PT_REG, &pt, &owner, &size);

	if (ok && s == SEPT_BLOCKED && hpa_to_pfn(want) == t->pfn) {
		/*
		 * The guest can still use this translation: tlb_one() let it
		 * through, so the TD epoch has not moved since the vCPU last
		 * entered, i.e. no TDH.MEM.TRACK followed the BLOCK. Every zap
		 * of KVM tracks and kicks before it drops mmu_lock (the TDP
		 * MMU before REMOVE, kvm-tdx-mmu.md §4.3; the legacy MMU's
		 * PRIVATE_ZAPPED zap too, §5.6), so at a quiesce point a
		 * blocked page is never reachable through a TLB the vCPU will
		 * keep. The legacy zap has no REMOVE whose
		 * TDX_TLB_TRACKING_NOT_DONE would give a missing TRACK away,
		 * so this is where it shows.
		 */
		violation(ck, "vcpu %u: TLB still maps private gpa %#llx to pfn %#llx, whose S-EPT entry is BLOCKED, and no TDH.MEM.TRACK has moved the TD epoch since the vCPU entered: the guest can go on using a page KVM zapped",
			  t->vcpu, (ull)gpa, (ull)t->pfn);
		return;
	}
	if (ok && s == SEPT_MAPPED && hpa_to_pfn(want) == t->pfn) {
		if (!owned)
			violation(ck, "vcpu %u: TLB maps private gpa %#llx to pfn %#llx, which the TD does not own (PAMT %s, owner TDR %#llx)",
				  t->vcpu, (ull)gpa, (ull)t->pfn, tdx_page_type_name(pt), (ull)owner);
		return;
	}
	if (want)
		violation(ck, "vcpu %u: stale TLB entry: private gpa %#llx -> pfn %#llx, but the S-EPT entry is %s for hpa %#llx (frame: PAMT %s, owner TDR %#llx)",
			  t->vcpu, (ull)gpa, (ull)t->pfn, tdx_sept_state_name(s), (ull)want,
			  tdx_page_type_name(pt), (ull)owner);
	else
		violation(ck, "vcpu %u: stale TLB entry: private gpa %#llx -> pfn %#llx, but the S-EPT entry is %s (frame: PAMT %s, owner TDR %#llx)",
			  t->vcpu, (ull)gpa, (ull)t->pfn, tdx_sept_state_name(s),
			  tdx_page_type_name(pt), (ull)owner);
}

static void check_tlb_shared(struct checker *ck, const struct tlb_rec *t)
{
	gfn_t gfn = kvm_gfn_private(ck->kvm, t->gpa >> PAGE_SHIFT);
	const struct kvm_rec *r = leaf_covering(&ck->shr, &ck->shr_map, gfn, PG_LEVEL_4K);

	if (r && spte_to_pfn(r->spte) + (gfn - r->gfn) == t->pfn)
		return;
	if (r)
		violation(ck, "vcpu %u: stale TLB entry: shared gpa %#llx -> pfn %#llx, but the shared EPT maps pfn %#llx",
			  t->vcpu, (ull)(t->gpa & PAGE_MASK), (ull)t->pfn,
			  (ull)(spte_to_pfn(r->spte) + (gfn - r->gfn)));
	else
		violation(ck, "vcpu %u: stale TLB entry: shared gpa %#llx -> pfn %#llx, but the shared EPT has no present leaf there",
			  t->vcpu, (ull)(t->gpa & PAGE_MASK), (ull)t->pfn);
}

static void check_tlbs(struct checker *ck)
{
	for (size_t i = 0; i < ck->nr_tlb; i++) {
		const struct tlb_rec *t = &ck->tlb[i];
		bool shared_gpa = !kvm_is_private_gpa(ck->kvm, t->gpa);

		if (shared_gpa == t->is_private) {
			violation(ck, "vcpu %u: TLB entry for gpa %#llx is marked %s",
				  t->vcpu, (ull)(t->gpa & PAGE_MASK),
				  t->is_private ? "private" : "shared");
			continue;
		}
		if (t->is_private)
			check_tlb_private(ck, t);
		else
			check_tlb_shared(ck, t);
	}
}

/* ---- I4 and I7: control pages and CHLDCNT ---- */

static void check_control_page(struct checker *ck, hpa_t hpa, enum tdx_page_type want,
			       const char *what, unsigned index)
{
	enum tdx_page_type pt;
	hpa_t owner;
	unsigned size;

	if (!pamt_owned(ck, hpa_to_pfn(hpa), want, &pt, &owner, &size))
		violation(ck, "%s %u at hpa %#llx is not the TD's %s in the PAMT (%s, owner TDR %#llx)",
			  what, index, (ull)hpa, tdx_page_type_name(want), tdx_page_type_name(pt), (ull)owner);
}

static void check_module(struct checker *ck)
{
	struct kvm *kvm = ck->kvm;
	uint64_t control = 0, chldcnt;

	check_control_page(ck, ck->tdr, PT_TDR, "TDR", 0);
	for (unsigned i = 0; i < sizeof(kvm->tdcx) / sizeof(kvm->tdcx[0]); i++) {
		if (!kvm->tdcx[i])
			continue;
		control++;
		check_control_page(ck, kvm->tdcx[i], PT_TDCX, "TDCS page", i);
	}
	for (unsigned i = 0; i < kvm->nr_vcpus; i++) {
		if (!kvm->vcpus[i].tdvpr)
			continue;
		control++;
		check_control_page(ck, kvm->vcpus[i].tdvpr, PT_TDVPR, "TDVPR of vcpu", i);
	}
	chldcnt = tdx_debug_chldcnt(ck->td->tdx, ck->tdr);
	if (chldcnt != ck->sept_pages_4k + control)
		violation(ck, "TDR %#llx: CHLDCNT is %llu but the S-EPT and control pages account for %llu (S-EPT leaves and pages %llu + control pages %llu)",
			  (ull)ck->tdr, (ull)chldcnt, (ull)(ck->sept_pages_4k + control),
			  (ull)ck->sept_pages_4k, (ull)control);
}

/* ---- I8: no module lock left held ---- */

static void report_lock_held(const char *what, uint64_t found, uint64_t want, void *arg)
{
	struct checker *ck = arg;

	violation(ck, "TDR %#llx: %s is %#llx at a quiesce point (want %#llx: what the vCPUs in guest mode hold)",
		  (ull)ck->tdr, what, (ull)found, (ull)want);
}

static void check_module_locks(struct checker *ck)
{
	tdx_debug_locks_held(ck->td->tdx, ck->tdr, report_lock_held, ck);
}

/* ---- the roots ---- */

static void check_roots(struct checker *ck)
{
	struct kvm_mmu_page *pr = ck->kvm->private_root, *sr = ck->kvm->shared_root;

	/* §3.3: the S-EPT root is a TDCS page; KVM's private root has no twin. */
	if (pr && (!pr->role.is_private || pr->private_spt))
		violation(ck, "private root: role.is_private %u, private_spt %#llx (want 1 and 0: the S-EPT root is the module's TDCS page)",
			  (unsigned)pr->role.is_private, (ull)pr->private_spt);
	if (sr && (sr->role.is_private || sr->private_spt))
		violation(ck, "shared root: role.is_private %u, private_spt %#llx (want 0 and 0)",
			  (unsigned)sr->role.is_private, (ull)sr->private_spt);
}

/* ---- the entry point ---- */

static void checker_free(struct checker *ck)
{
	free(ck->priv.v);
	free(ck->shr.v);
	free(ck->tlb);
	u64map_free(&ck->priv_map);
	u64map_free(&ck->shr_map);
	u64map_free(&ck->frames);
}

static int check_quiesced(tdxmmu_td *td, char *report, size_t report_size)
{
	struct checker ck = {
		.td = td, .report = report_size ? report : NULL, .size = report_size,
	};
	struct kvm *kvm;
	int ret;

	/* tdxmmu_check(), the only caller, emptied the report and refused a
	 * missing TD. */
	kvm = ck.kvm = td->kvm;
	ck.tdr = kvm->tdr;
	ck.tdp = kvm->mmu_kind == KVM_MMU_TDP;

	/* The TLBs first, outside KVM's locks (see the top of the file). */
	if (td->cpu) {
		for (unsigned i = 0; i < KVM_MAX_VCPUS; i++)
			vcpu_flush_pending(&ck, i);
		cpu_tlb_foreach(td->cpu, tlb_one, &ck);
	}

	kvm_slots_lock(kvm);
	kvm_mmu_read_lock(kvm);

	check_roots(&ck);
	if (ck.tdp) {
		kvm_tdp_mmu_walk(kvm, true, walk_one, &ck);
		kvm_tdp_mmu_walk(kvm, false, walk_one, &ck);
	} else {
		kvm_legacy_mmu_walk(kvm, true, walk_one, &ck);
		kvm_legacy_mmu_walk(kvm, false, walk_one, &ck);
	}

	if (!ck.err && kvm->hkid_assigned) {
		tdx_debug_sept_foreach(td->tdx, ck.tdr, sept_one, &ck);
		check_unmatched_private(&ck);
	} else if (!ck.err) {
		/* Teardown only: the S-EPT no longer mirrors anything live. */
		report_line(&ck, "note: the HKID is released: mirror, PAMT and CHLDCNT checks skipped");
	}
	if (!ck.err)
		check_private_frames(&ck);
	if (!ck.err && kvm->hkid_assigned) {
		check_private_owners(&ck);
		check_module(&ck);
	}
	if (!ck.err)
		check_module_locks(&ck);
	if (!ck.err) {
		check_shared_leaves(&ck);
		check_both_aliases(&ck);
		/* A VM KVM killed stopped where it met the bug: a MapGPA may
		 * have changed SPTE_SHARED_MASK in one tree and not yet in the
		 * other (found by error injection into its zap). Its guest
		 * never runs again (every access is `dead`), so the per-GFN
		 * table, which says which alias the guest may use, constrains
		 * nothing any more; what the host and the module see (I1,
		 * I3-I8) still must hold. */
		if (kvm_is_bugged(kvm))
			report_line(&ck, "note: the VM is dead: the per-GFN table check (I2) skipped");
		else
			check_table(&ck);
		if (!ck.tdp)
			kvm_legacy_mmu_audit(kvm, legacy_audit_line, &ck);
		/* I5 asks whether the guest can go on using a translation;
		 * a dead VM's vCPUs never run guest code again (KVM_REQ_VM_DEAD:
		 * every guest action reports `dead`), and a zap KVM_BUG_ON
		 * stopped before its TRACK leaves BLOCKED pages cached. */
		if (kvm_is_bugged(kvm))
			report_line(&ck, "note: the VM is dead: the TLB check (I5) skipped");
		/* Nor does a TD whose HKID is released (the teardown's
		 * tdx_mmu_release_hkid()): TDH.VP.ENTER answers
		 * TDX_TD_KEYS_NOT_CONFIGURED from then on, and the S-EPT's
		 * tables below the root are reclaimed, so judging a private
		 * translation walked reclaimed frames as S-EPT pages (a
		 * cached translation showed as stale against "NL_MAPPED"). */
		else if (!kvm->hkid_assigned)
			report_line(&ck, "note: the HKID is released: the TLB check (I5) skipped");
		else
			check_tlbs(&ck);
	}

	kvm_mmu_read_unlock(kvm);
	kvm_slots_unlock(kvm);

	if (ck.err) {
		checker_free(&ck);
		return api_fail(TDXMMU_ENOMEM, "check: out of memory");
	}
	report_finish(&ck);
	ret = ck.nr;
	checker_free(&ck);
	return ret;
}

TDXMMU_API int tdxmmu_check(tdxmmu_td *td, char *report, size_t report_size)
{
	int ret;

	if (report && report_size)
		report[0] = '\0';
	if (!td || !td->kvm || !td->tdx)
		return api_fail(TDXMMU_EINVAL, "check: no TD");
	/* The quiesce point (see the top of the file): every vCPU out of the
	 * TD and out of KVM's exit handlers, parked until the check is done;
	 * a vCPU held by `vcpu N enter` re-enters after. */
	if (td->cpu)
		cpu_pause_all(td->cpu);
	ret = check_quiesced(td, report, report_size);
	if (td->cpu)
		cpu_resume_all(td->cpu);
	return ret;
}
