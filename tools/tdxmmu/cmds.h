/* SPDX-License-Identifier: MIT */
#ifndef TDXMMU_TOOLS_CMDS_H
#define TDXMMU_TOOLS_CMDS_H

struct tdxmmu_cmd {
	const char *name;
	const char *summary;
	int (*fn)(int argc, char **argv); /* argv[0] is the command's name */
};

extern const struct tdxmmu_cmd cmd_bench;
extern const struct tdxmmu_cmd cmd_explore;
extern const struct tdxmmu_cmd cmd_run;
extern const struct tdxmmu_cmd cmd_show;
extern const struct tdxmmu_cmd cmd_version;

#endif
