/* SPDX-License-Identifier: MIT */
/*
 * tdxmmu: the command-line front end. One file per subcommand (cmd_*.c), as
 * kvmtool does; each sees only the public API.
 */
#include <stdio.h>
#include <string.h>

#include "cmds.h"
#include "suggest.h"

static const struct tdxmmu_cmd *const commands[] = {
	&cmd_bench,
	&cmd_explore,
	&cmd_run,
	&cmd_show,
	&cmd_version,
};

static void usage(FILE *f)
{
	fprintf(f, "usage: tdxmmu COMMAND [ARGS]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-10s %s\n", commands[i]->name, commands[i]->summary);
	fprintf(f, "\n'tdxmmu COMMAND --help' describes a command.\n");
	fprintf(f, "'tdxmmu --version' (or -V) is 'tdxmmu version'.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V"))
		return cmd_version.fn(argc - 1, argv + 1);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i]->name))
			return commands[i]->fn(argc - 1, argv + 1);
	{
		const char *names[sizeof(commands) / sizeof(commands[0])];
		const char *near;

		for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
			names[i] = commands[i]->name;
		near = suggest_word(argv[1], strlen(argv[1]), names,
				    sizeof(names) / sizeof(names[0]));
		fprintf(stderr, "tdxmmu: unknown command '%s'", argv[1]);
		if (near)
			fprintf(stderr, "; did you mean '%s'?", near);
		fputc('\n', stderr);
	}
	usage(stderr);
	return 2;
}
