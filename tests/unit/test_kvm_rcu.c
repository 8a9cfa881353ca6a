/* SPDX-License-Identifier: MIT */
/*
 * Page-table pages freed with RCU (issue 4, item 4): memslot deletion frees
 * the shared-EPT tables it left empty, after a grace period, with a TLB
 * flush first; a lockless walker (kvm_tdp_mmu_read_4k, a read-side section)
 * that holds a pointer to such a table keeps it intact until it leaves its
 * section. The mutant MUTANT_NO_RCU (explore/mutant.h) drops the grace period,
 * and the same walker then reads the freed table's poison: the test can
 * fail.
 */
#include <pthread.h>
#include <semaphore.h>
#include <time.h>

#include "explore/mutant.h"
#include "kvm_fixture.h"
#include "kvm/spte.h"

#define MB (1ULL << 20)

/* slot 0 = [0, 2M), slot 1 = [2M, 4M), slot 2 = [4M, 6M): each covers
 * exactly one 4K-level table of each tree. */
static const uint64_t three_slots[] = { 0, 2 * MB, 2 * MB, 2 * MB, 4 * MB, 2 * MB, 0, 0 };

static int ept(struct kvm_fx *vm, gpa_t gpa)
{
	return kvm_tdx_handle_ept_violation(&vm->kvm->vcpus[0], gpa);
}

static void map_gpa(struct kvm_fx *vm, gpa_t gpa, uint64_t size)
{
	uint64_t resume;

	assert_int_equal(kvm_tdx_map_gpa(&vm->kvm->vcpus[0], gpa, size, &resume),
			 TDVMCALL_SUCCESS);
}

static uint64_t shared_spte(struct kvm_fx *vm, gpa_t gpa)
{
	uint64_t s;

	kvm_tdp_mmu_read_4k(vm->kvm, gpa >> PAGE_SHIFT, NULL, &s);
	return s;
}

static uint64_t stat_shared_pages(struct kvm_fx *vm)
{
	return kvm_stat_read(vm->kvm, pages_shared_spt);
}

/*
 * A TD with three slots: in slot 1 a page was shared, mapped, then converted
 * back to private, so its shared table is left with nothing (the shared
 * entry is plain SHADOW_NONPRESENT_VALUE); in slot 2 a page is shared and
 * stays so (its shared table carries SPTE_SHARED_MASK).
 */
static void vm_with_tables(struct kvm_fx *vm)
{
	kvm_fx_create(vm, 11, 48, 1, three_slots, true);
	kvm_fx_count_callbacks(vm);
	assert_int_equal(kvm_tdx_finalize_vm(vm->kvm), 0);

	map_gpa(vm, kvm_fx_shared_gpa(vm, 2 * MB), PAGE_SIZE);
	assert_int_equal(ept(vm, kvm_fx_shared_gpa(vm, 2 * MB)), RET_PF_FIXED);
	map_gpa(vm, 2 * MB, PAGE_SIZE);
	assert_int_equal(shared_spte(vm, 2 * MB), SHADOW_NONPRESENT_VALUE);

	map_gpa(vm, kvm_fx_shared_gpa(vm, 4 * MB), PAGE_SIZE);
	assert_int_equal(ept(vm, kvm_fx_shared_gpa(vm, 4 * MB)), RET_PF_FIXED);
}

static void test_delete_frees_only_empty_shared_tables(void **state)
{
	struct kvm_fx vm;
	uint64_t shared_pages, private_pages, live;

	(void)state;
	vm_with_tables(&vm);
	shared_pages = stat_shared_pages(&vm);
	private_pages = kvm_stat_read(vm.kvm, pages_private_spt);
	live = kvm_mmu_pages_live(vm.kvm);

	kvm_fx_snap(&vm);
	assert_int_equal(kvm_delete_memslot(vm.kvm, 1), 0);
	/* Slot 1's shared 4K table went; no leaf was zapped, so the one
	 * flush (TRACK + shared-EPT flush request) is the tables'. */
	assert_int_equal(stat_shared_pages(&vm), shared_pages - 1);
	assert_int_equal(kvm_stat_read(vm.kvm, pages_private_spt), private_pages);
	assert_int_equal(kvm_stat_read(vm.kvm, pages_rcu_freed), 1);
	assert_int_equal(kvm_fx_delta(&vm, TDH_MEM_TRACK, false), 1);
	assert_int_equal(vm.shared_flushes, 1);
	fflush(vm.trace_f);
	assert_non_null(strstr(vm.trace, "kvm_delete_memslot: id 1 gfn [0x200, 0x400) "
				      "zapped 0 shared tables freed 1 -> 0"));
	kvm_mmu_pages_quiesce(vm.kvm);
	assert_int_equal(kvm_mmu_pages_live(vm.kvm), live - 1);

	/* Slot 2's shared table holds an S bit (and a leaf): the leaf is
	 * zapped, the S bit and so the table stay. */
	assert_int_equal(kvm_delete_memslot(vm.kvm, 2), 0);
	assert_int_equal(stat_shared_pages(&vm), shared_pages - 1);
	assert_int_equal(shared_spte(&vm, 4 * MB), SHADOW_NONPRESENT_VALUE | SPTE_SHARED_MASK);

	/* The range comes back: the alias rules read as before, the shared
	 * fault links a new table. */
	assert_int_equal(host_memslot_add(vm.slots, 1, (2 * MB) >> PAGE_SHIFT,
					  (2 * MB) >> PAGE_SHIFT), 0);
	assert_int_equal(ept(&vm, kvm_fx_shared_gpa(&vm, 2 * MB)), RET_PF_RETRY);
	assert_int_equal(stat_shared_pages(&vm), shared_pages);
	map_gpa(&vm, kvm_fx_shared_gpa(&vm, 2 * MB), PAGE_SIZE);
	assert_int_equal(ept(&vm, kvm_fx_shared_gpa(&vm, 2 * MB)), RET_PF_FIXED);
	kvm_fx_destroy(&vm);
}

/* ---- a lockless walker parked inside its read-side section ---- */

struct parked_walker {
	struct kvm_fx *vm;
	gpa_t gpa;
	sem_t in_table; /* the walker holds a pointer to the 4K table */
	sem_t go;
	uint64_t spte;  /* what it read there */
	bool parked;
};

static struct parked_walker *g_walker;

static void park_before_4k_table(struct kvm *kvm, int level)
{
	(void)kvm;
	if (level != PG_LEVEL_4K || g_walker->parked)
		return;
	g_walker->parked = true;
	sem_post(&g_walker->in_table);
	sem_wait(&g_walker->go);
}

static void *walker_thread(void *arg)
{
	struct parked_walker *w = arg;

	w->spte = shared_spte(w->vm, w->gpa);
	return NULL;
}

/*
 * Deletes slot 1 while a lockless walker is between reading the pointer to
 * slot 1's shared table and reading the table. Returns what the walker read.
 */
static uint64_t delete_under_parked_walker(struct kvm_fx *vm, bool free_immediately,
					   uint64_t *live_while_parked)
{
	struct parked_walker w = { .vm = vm, .gpa = kvm_fx_shared_gpa(vm, 2 * MB) };
	struct timespec pause = { 0, 50 * 1000 * 1000 };
	pthread_t tid;

	sem_init(&w.in_table, 0, 0);
	sem_init(&w.go, 0, 0);
	g_walker = &w;
	/* Process-wide: this test program runs one test at a time. */
	atomic_store(&mutant_mask, free_immediately ? 1u << MUTANT_NO_RCU : 0u);
	vm->kvm->debug_lockless_walk_hook = park_before_4k_table;
	assert_int_equal(pthread_create(&tid, NULL, walker_thread, &w), 0);
	sem_wait(&w.in_table);

	assert_int_equal(kvm_delete_memslot(vm->kvm, 1), 0);
	/* Unlinked and queued; the callback cannot run while the walker
	 * is in its section, however long we wait. */
	nanosleep(&pause, NULL);
	*live_while_parked = kvm_mmu_pages_live(vm->kvm);

	sem_post(&w.go);
	pthread_join(tid, NULL);
	vm->kvm->debug_lockless_walk_hook = NULL;
	atomic_store(&mutant_mask, 0u);
	g_walker = NULL;
	sem_destroy(&w.in_table);
	sem_destroy(&w.go);
	return w.spte;
}

static void test_walker_holds_back_the_free(void **state)
{
	struct kvm_fx vm;
	uint64_t live, live_parked, spte;

	(void)state;
	vm_with_tables(&vm);
	live = kvm_mmu_pages_live(vm.kvm);
	spte = delete_under_parked_walker(&vm, false, &live_parked);
	/* The table was still a table for the walker: its old entry. */
	assert_int_equal(spte, SHADOW_NONPRESENT_VALUE);
	assert_int_equal(live_parked, live);
	assert_false(atomic_load(&vm.kvm->bugged));
	kvm_mmu_pages_quiesce(vm.kvm);
	assert_int_equal(kvm_mmu_pages_live(vm.kvm), live - 1);
	kvm_fx_destroy(&vm);
}

/* The same with the grace period switched off: the walker reads freed
 * memory, and the model says so (its own broken rule, not a modeled
 * KVM_BUG_ON: model_broken, TDXMMU_EBUG, exit status 3). */
static void test_walker_without_grace_period_reads_freed_table(void **state)
{
	struct kvm_fx vm;
	uint64_t live, live_parked, spte;

	(void)state;
	vm_with_tables(&vm);
	live = kvm_mmu_pages_live(vm.kvm);
	spte = delete_under_parked_walker(&vm, true, &live_parked);
	assert_int_equal(live_parked, live - 1);
	assert_int_equal(spte, SHADOW_NONPRESENT_VALUE);
	assert_true(atomic_load(&vm.kvm->bugged));
	assert_true(atomic_load(&vm.kvm->model_broken));
	/* A broken model: destroy without the leak checks. */
	kvm_destroy_vm(vm.kvm, NULL);
	kvm_fx_free(&vm);
}

/* Teardown frees both trees through RCU and waits for them. */
static void test_teardown_waits_for_callbacks(void **state)
{
	struct kvm_fx vm;
	uint64_t queued;

	(void)state;
	vm_with_tables(&vm);
	queued = kvm_stat_read(vm.kvm, pages_rcu_freed);
	assert_int_equal(queued, 0);
	assert_int_equal(kvm_tdx_teardown_memory(vm.kvm), 0);
	assert_int_equal(kvm_mmu_pages_live(vm.kvm), 0);
	assert_true(kvm_stat_read(vm.kvm, pages_rcu_freed) > 0);
	kvm_fx_destroy(&vm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_delete_frees_only_empty_shared_tables),
		cmocka_unit_test(test_walker_holds_back_the_free),
		cmocka_unit_test(test_walker_without_grace_period_reads_freed_table),
		cmocka_unit_test(test_teardown_waits_for_callbacks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
