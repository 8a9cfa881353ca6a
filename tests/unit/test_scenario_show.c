/* SPDX-License-Identifier: MIT */
/*
 * tdxmmu_show() and tdxmmu_spte_state_level(), the API behind the scenario
 * words `show` and `expect-spte ... level=` (contract 1.1), on the real
 * model: what they print and answer for the TDP and the legacy MMU, that
 * they refuse bad arguments, and that they are observers: every counter
 * and the modeled time are the same after them as before.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tdxmmu/tdxmmu.h"

#include "api_fixture.h"

/* ---- every counter, to compare before and after ---------------------- */

struct snapshot {
	char text[64 * 1024];
	size_t len;
	uint64_t ns;
};

static void add_counter(const char *name, uint64_t val, void *arg)
{
	struct snapshot *s = arg;

	s->len += (size_t)snprintf(s->text + s->len, sizeof(s->text) - s->len,
				   "%s=%llu\n", name, (unsigned long long)val);
	assert_true(s->len < sizeof(s->text));
}

static void snap(tdxmmu_td *td, struct snapshot *s)
{
	memset(s, 0, sizeof(*s));
	tdxmmu_counters_foreach(td, add_counter, s);
	s->ns = tdxmmu_modeled_ns(td);
	/* The snapshot is not empty: it would prove nothing. */
	assert_non_null(strstr(s->text, "seamcall.TDH.MEM.PAGE.AUG="));
}

static void assert_same(const struct snapshot *a, const struct snapshot *b)
{
	assert_string_equal(a->text, b->text);
	assert_int_equal(a->ns, b->ns);
}

/* tdxmmu_show() into a string (caller frees). */
static char *show(tdxmmu_td *td, uint64_t gpa, uint64_t size)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(tdxmmu_show(td, gpa, size, f), 0);
	fclose(f);
	return buf;
}

/* Host addresses depend on the frame allocator, not on what is checked
 * here: "hpa=0x...", "pfn=0x..." and "spte=0x..." become "hpa=X" etc. */
static void normalize(char *text)
{
	static const char *const keys[] = { "hpa=0x", "pfn=0x", "spte=0x" };
	char *w = text;

	for (const char *r = text; *r;) {
		size_t k;

		for (k = 0; k < 3; k++)
			if (strncmp(r, keys[k], strlen(keys[k])) == 0)
				break;
		if (k == 3) {
			*w++ = *r++;
			continue;
		}
		memcpy(w, keys[k], strlen(keys[k]) - 2);
		w += strlen(keys[k]) - 2;
		*w++ = 'X';
		r += strlen(keys[k]);
		while ((*r >= '0' && *r <= '9') || (*r >= 'a' && *r <= 'f'))
			r++;
	}
	*w = '\0';
}


#define SHARED (1ULL << 47)

static void test_show_tdp(void **state)
{
	enum tdxmmu_outcome o;
	struct snapshot before, after;
	tdxmmu_td *td = api_fx_small_td(TDXMMU_MMU_TDP);
	char *text, *again;

	(void)state;
	assert_int_equal(tdxmmu_vcpu_write(td, 0, 0x1000, 7, &o), 0);
	assert_int_equal(o, TDXMMU_OUTCOME_OK);
	assert_int_equal(tdxmmu_vcpu_mapgpa(td, 0, SHARED | 0x2000, 0x1000, &o), 0);
	assert_int_equal(o, TDXMMU_OUTCOME_OK);
	assert_int_equal(tdxmmu_vcpu_write(td, 0, SHARED | 0x2000, 8, &o), 0);
	assert_int_equal(o, TDXMMU_OUTCOME_OK);

	snap(td, &before);
	/* The shared alias names the same pages: both aliases are shown. */
	text = show(td, SHARED | 0x1000, 0x3000);
	snap(td, &after);
	assert_same(&before, &after);

	/* Stable: the same state prints the same text. */
	again = show(td, 0x1000, 0x3000);
	assert_string_equal(text, again);
	free(again);
	normalize(text);
	/* One block per page, 4 levels per tree (gpaw=48), top down. Page
	 * 0x1000 is private and mapped; 0x2000 was converted to shared (the
	 * seeds' table, E4: the mirror entry keeps SPTE_SHARED_MASK, the
	 * shared leaf carries it; the S-EPT entry went back to FREE); 0x3000
	 * was never touched. */
	assert_string_equal(text,
		"page 0x1000 (private 0x1000, shared 0x800000001000)\n"
		"  shared  512G  present table\n"
		"  shared  1G    present table\n"
		"  shared  2M    present table\n"
		"  shared  4K    none\n"
		"  mirror  512G  present table\n"
		"  mirror  1G    present table\n"
		"  mirror  2M    present table\n"
		"  mirror  4K    present leaf pfn=X spte=X\n"
		"  S-EPT   512G  NL_MAPPED hpa=X\n"
		"  S-EPT   1G    NL_MAPPED hpa=X\n"
		"  S-EPT   2M    NL_MAPPED hpa=X\n"
		"  S-EPT   4K    MAPPED hpa=X\n"
		"page 0x2000 (private 0x2000, shared 0x800000002000)\n"
		"  shared  512G  present table\n"
		"  shared  1G    present table\n"
		"  shared  2M    present table\n"
		"  shared  4K    present leaf shared pfn=X spte=X\n"
		"  mirror  512G  present table\n"
		"  mirror  1G    present table\n"
		"  mirror  2M    present table\n"
		"  mirror  4K    nonpresent shared spte=X\n"
		"  S-EPT   512G  NL_MAPPED hpa=X\n"
		"  S-EPT   1G    NL_MAPPED hpa=X\n"
		"  S-EPT   2M    NL_MAPPED hpa=X\n"
		"  S-EPT   4K    FREE\n"
		"page 0x3000 (private 0x3000, shared 0x800000003000)\n"
		"  shared  512G  present table\n"
		"  shared  1G    present table\n"
		"  shared  2M    present table\n"
		"  shared  4K    none\n"
		"  mirror  512G  present table\n"
		"  mirror  1G    present table\n"
		"  mirror  2M    present table\n"
		"  mirror  4K    none\n"
		"  S-EPT   512G  NL_MAPPED hpa=X\n"
		"  S-EPT   1G    NL_MAPPED hpa=X\n"
		"  S-EPT   2M    NL_MAPPED hpa=X\n"
		"  S-EPT   4K    FREE\n");
	free(text);

	/* Pages of a memslot never touched: KVM has no tables there. */
	text = show(td, 0x300000, 0x1000);
	normalize(text);
	assert_string_equal(text,
		"page 0x300000 (private 0x300000, shared 0x800000300000)\n"
		"  shared  512G  present table\n"
		"  shared  1G    present table\n"
		"  shared  2M    none\n"
		"  shared  4K    none\n"
		"  mirror  512G  present table\n"
		"  mirror  1G    present table\n"
		"  mirror  2M    none\n"
		"  mirror  4K    none\n"
		"  S-EPT   512G  NL_MAPPED hpa=X\n"
		"  S-EPT   1G    NL_MAPPED hpa=X\n"
		"  S-EPT   2M    FREE\n"
		"  S-EPT   4K    none\n");
	free(text);
	api_fx_destroy_clean(td);
}

static void test_show_legacy_private_zapped(void **state)
{
	enum tdxmmu_outcome o;
	struct snapshot before, after;
	tdxmmu_td *td = api_fx_small_td(TDXMMU_MMU_LEGACY);
	char *text;

	(void)state;
	assert_int_equal(tdxmmu_vcpu_fill(td, 0, 0, 0x2000, 0x5a, &o), 0);
	assert_int_equal(o, TDXMMU_OUTCOME_OK);
	assert_int_equal(tdxmmu_host_zap(td, 0, 0x1000, TDXMMU_ALIAS_PRIVATE), 0);
	snap(td, &before);
	text = show(td, 0, 0x2000);
	snap(td, &after);
	assert_same(&before, &after);
	/* The zapped page keeps its frame: PRIVATE_ZAPPED with the pfn, and
	 * the S-EPT entry BLOCKED; its neighbour is still mapped. */
	assert_non_null(strstr(text,
		"page 0 (private 0, shared 0x800000000000)\n"));
	assert_non_null(strstr(text, "  mirror  4K    nonpresent PRIVATE_ZAPPED pfn=0x"));
	assert_non_null(strstr(text, "  S-EPT   4K    BLOCKED hpa=0x"));
	assert_non_null(strstr(text,
		"page 0x1000 (private 0x1000, shared 0x800000001000)\n"));
	assert_non_null(strstr(text, "  mirror  4K    present leaf pfn=0x"));
	assert_non_null(strstr(text, "  S-EPT   4K    MAPPED hpa=0x"));
	free(text);
	api_fx_destroy_clean(td);
}

static void test_show_errors(void **state)
{
	tdxmmu_td *td = api_fx_small_td(TDXMMU_MMU_TDP);

	(void)state;
	assert_int_equal(tdxmmu_show(NULL, 0, 0x1000, stdout), TDXMMU_EINVAL);
	assert_int_equal(tdxmmu_show(td, 0, 0x1000, NULL), TDXMMU_EINVAL);
	assert_int_equal(tdxmmu_show(td, 0x10, 0x1000, stdout), TDXMMU_EINVAL);
	assert_int_equal(tdxmmu_show(td, 0, 0x1001, stdout), TDXMMU_EINVAL);
	assert_int_equal(tdxmmu_show(td, 0, 0, stdout), TDXMMU_EINVAL);
	assert_int_equal(tdxmmu_show(td, 1ULL << 48, 0x1000, stdout), TDXMMU_ERANGE);
	/* Crossing the shared bit, from either alias. */
	assert_int_equal(tdxmmu_show(td, SHARED - 0x1000, 0x2000, stdout),
			 TDXMMU_ERANGE);
	assert_int_equal(tdxmmu_show(td, (SHARED << 1) - 0x1000, 0x2000, stdout),
			 TDXMMU_ERANGE);
	api_fx_destroy_clean(td);
}

static void test_spte_state_level(void **state)
{
	enum tdxmmu_spte_state p = 99, s = 99, p4 = 99, s4 = 99;
	struct snapshot before, after;
	enum tdxmmu_outcome o;
	tdxmmu_td *td = api_fx_small_td(TDXMMU_MMU_TDP);

	(void)state;
	assert_int_equal(tdxmmu_vcpu_write(td, 0, 0x1000, 7, &o), 0);
	assert_int_equal(tdxmmu_vcpu_mapgpa(td, 0, SHARED | 0x2000, 0x1000, &o), 0);
	assert_int_equal(o, TDXMMU_OUTCOME_OK);
	snap(td, &before);

	/* 4K: version 1's answer. */
	assert_int_equal(tdxmmu_spte_state_level(td, 0x2000, 0, &p, &s), 0);
	assert_int_equal(tdxmmu_spte_state(td, 0x2000, &p4, &s4), 0);
	assert_int_equal(p, p4);
	assert_int_equal(s, s4);
	assert_int_equal(p, TDXMMU_SPTE_NONPRESENT_SHARED);
	/* 2M and 1G: the entries pointing to the tables below. */
	assert_int_equal(tdxmmu_spte_state_level(td, 0x1000, 1, &p, &s), 0);
	assert_int_equal(p, TDXMMU_SPTE_PRESENT);
	assert_int_equal(s, TDXMMU_SPTE_PRESENT);
	assert_int_equal(tdxmmu_spte_state_level(td, SHARED | 0x1fffff, 2, &p, &s), 0);
	assert_int_equal(p, TDXMMU_SPTE_PRESENT);
	assert_int_equal(tdxmmu_spte_state_level(td, 0x1000, 3, &p, &s), 0);
	assert_int_equal(p, TDXMMU_SPTE_PRESENT);
	/* A 2M range with no table reads nonpresent at 2M. */
	assert_int_equal(tdxmmu_spte_state_level(td, 0x200000, 1, &p, &s), 0);
	assert_int_equal(p, TDXMMU_SPTE_NONPRESENT);
	assert_int_equal(s, TDXMMU_SPTE_NONPRESENT);

	snap(td, &after);
	assert_same(&before, &after);

	/* 256T is above a 4-level walk; bad pointers and addresses. */
	assert_int_equal(tdxmmu_spte_state_level(td, 0, 4, &p, &s), TDXMMU_ERANGE);
	assert_int_equal(tdxmmu_spte_state_level(td, 0, 77, &p, &s), TDXMMU_ERANGE);
	assert_int_equal(tdxmmu_spte_state_level(td, 1ULL << 48, 1, &p, &s),
			 TDXMMU_ERANGE);
	assert_int_equal(tdxmmu_spte_state_level(td, 0, 1, NULL, &s), TDXMMU_EINVAL);
	assert_int_equal(tdxmmu_spte_state_level(td, 0, 1, &p, NULL), TDXMMU_EINVAL);
	assert_int_equal(tdxmmu_spte_state_level(NULL, 0, 1, &p, &s), TDXMMU_EINVAL);
	api_fx_destroy_clean(td);
}

static void test_spte_state_level_gpaw52(void **state)
{
	struct tdxmmu_td_config cfg;
	enum tdxmmu_spte_state p = 99, s = 99;
	enum tdxmmu_outcome o;
	tdxmmu_td *td = NULL;

	(void)state;
	tdxmmu_td_config_init(&cfg);
	cfg.gpaw = 52;
	assert_int_equal(tdxmmu_td_create(&cfg, &td), 0);
	assert_int_equal(tdxmmu_memslot_add(td, 0, 0, 2 << 20), 0);
	assert_int_equal(tdxmmu_td_finalize(td), 0);
	assert_int_equal(tdxmmu_vcpu_write(td, 0, 0, 1, &o), 0);
	/* A 5-level walk has a 256T level. */
	assert_int_equal(tdxmmu_spte_state_level(td, 0, 4, &p, &s), 0);
	assert_int_equal(p, TDXMMU_SPTE_PRESENT);
	assert_int_equal(tdxmmu_spte_state_level(td, 0, 5, &p, &s), TDXMMU_ERANGE);
	api_fx_destroy_clean(td);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_show_tdp),
		cmocka_unit_test(test_show_legacy_private_zapped),
		cmocka_unit_test(test_show_errors),
		cmocka_unit_test(test_spte_state_level),
		cmocka_unit_test(test_spte_state_level_gpaw52),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
