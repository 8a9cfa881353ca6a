/* SPDX-License-Identifier: MIT */
/* A program outside the tree, built only from the installed header and
 * pkg-config: it builds a TD, adds a page, finalizes and destroys it. */
#include <stdio.h>
#include <tdxmmu/tdxmmu.h>
int main(void)
{
	struct tdxmmu_td_config cfg;
	struct tdxmmu_destroy_report rep;
	tdxmmu_td *td;
	uint64_t n = 0;

	tdxmmu_td_config_init(&cfg);
	if (tdxmmu_td_create(&cfg, &td) || tdxmmu_memslot_add(td, 0, 0, 2 << 20) ||
	    tdxmmu_td_add_page(td, 0, 0x5a) || tdxmmu_td_finalize(td))
		return printf("error: %s\n", tdxmmu_last_error()), 1;
	tdxmmu_counter(td, "seamcall.TDH.MEM.PAGE.ADD", &n);
	printf("PAGE.ADD=%llu\n", (unsigned long long)n);
	return tdxmmu_td_destroy(td, &rep) ? (printf("%s\n", rep.message), 1) : 0;
}
