/* SPDX-License-Identifier: MIT */
/*
 * A main() for builds without libFuzzer (gcc, the plain and sanitizer
 * builds): feeds every file named on the command line, or found in a
 * directory named there, to LLVMFuzzerTestOneInput() once, in name order.
 * That is what `fuzzer -runs=0 DIR` does, so `make check` replays the
 * corpora, and `make test` under ASan/UBSan too. Fails when it finds no input, so a
 * corpus that went missing does not pass silently.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned long replayed;

static void replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t n = 0, cap = 0, got;

	if (!f) {
		perror(path);
		exit(2);
	}
	do {
		if (n == cap) {
			cap = cap ? cap * 2 : 4096;
			buf = realloc(buf, cap);
			if (!buf)
				abort();
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
	} while (got);
	if (ferror(f)) {
		perror(path);
		exit(2);
	}
	fclose(f);
	/* An exact-size copy, so ASan sees a read past the input's end. */
	{
		uint8_t *exact = malloc(n ? n : 1);

		if (!exact)
			abort();
		memcpy(exact, buf, n);
		free(buf);
		LLVMFuzzerTestOneInput(exact, n);
		free(exact);
	}
	replayed++;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static void replay_path(const char *path)
{
	struct stat st;
	struct dirent **ents;
	int nr;

	if (stat(path, &st)) {
		perror(path);
		exit(2);
	}
	if (!S_ISDIR(st.st_mode)) {
		replay_file(path);
		return;
	}
	nr = scandir(path, &ents, NULL, by_name);
	if (nr < 0) {
		perror(path);
		exit(2);
	}
	for (int i = 0; i < nr; i++) {
		if (ents[i]->d_name[0] != '.') {
			size_t len = strlen(path) + strlen(ents[i]->d_name) + 2;
			char *p = malloc(len);

			if (!p)
				abort();
			snprintf(p, len, "%s/%s", path, ents[i]->d_name);
			replay_path(p);
			free(p);
		}
		free(ents[i]);
	}
	free(ents);
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		replay_path(argv[i]);
	if (!replayed) {
		fprintf(stderr, "%s: no input found\n", argv[0]);
		return 2;
	}
	printf("%lu inputs replayed, no failure\n", replayed);
	return 0;
}
