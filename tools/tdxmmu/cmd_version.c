/* SPDX-License-Identifier: MIT */
#include <stdio.h>

#include <tdxmmu/tdxmmu.h>

#include "cmds.h"

static int version_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("tdxmmu %s\n", tdxmmu_version());
	return 0;
}

const struct tdxmmu_cmd cmd_version = {
	.name = "version",
	.summary = "print the version",
	.fn = version_main,
};
