/* SPDX-License-Identifier: MIT */
/* The public entry points: tdxmmu_run_file() and tdxmmu_run_string(). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scenario/runner.h"
#include "scenario/scenario.h"

static struct tdxmmu_run_options default_options(
	const struct tdxmmu_run_options *opts)
{
	struct tdxmmu_run_options o = { .out = stdout, .err = stderr };

	if (opts) {
		o = *opts;
		if (!o.out)
			o.out = stdout;
		if (!o.err)
			o.err = stderr;
	}
	return o;
}

int scn_run_text(const char *name, const char *text, size_t len,
		 const struct scn_backend *api,
		 const struct tdxmmu_run_options *opts)
{
	return scn_run_text_report(name, text, len, api, opts, NULL);
}

int scn_run_text_report(const char *name, const char *text, size_t len,
			const struct scn_backend *api,
			const struct tdxmmu_run_options *opts,
			const struct tdxmmu_run_report *report)
{
	struct tdxmmu_run_options o = default_options(opts);
	struct scn_script script;
	struct scn_error err;
	int status;

	/* A filter that names nothing is a usage error, before any work. */
	if (o.trace && tdxmmu_trace_filter_check(o.trace_events)) {
		fflush(o.out);
		fprintf(o.err, "tdxmmu: --trace: %s\n", tdxmmu_last_error());
		return SCN_EXIT_USAGE;
	}
	if (scn_parse(text, len, &script, &err)) {
		fflush(o.out);
		fprintf(o.err, "%s:%zu:%zu: error: %s\n", name, err.line,
			err.col, err.msg);
		scn_report_error(report, name, err.line, err.col,
				 SCN_EXIT_USAGE, "%s", err.msg);
		return SCN_EXIT_USAGE;
	}
	if (o.trace)
		tdxmmu_trace_header(o.trace);
	status = scn_run_script_report(&script, name, api, &o, report);
	scn_script_free(&script);
	return status;
}

TDXMMU_API int tdxmmu_run_string(const char *name, const char *text,
				 const struct tdxmmu_run_options *opts)
{
	if (!name)
		name = "<string>";
	if (!text)
		text = "";
	return scn_run_text(name, text, strlen(text), &scn_backend_tdxmmu,
			    opts);
}

/* Reads a whole stream; any bytes, any size. Returns NULL with errno set. */
char *scn_read_stream(FILE *f, size_t *len)
{
	size_t cap = 0, n = 0;
	char *buf = NULL;

	for (;;) {
		size_t got;

		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 4096;
			char *nbuf = realloc(buf, ncap);

			if (!nbuf) {
				free(buf);
				errno = ENOMEM;
				return NULL;
			}
			buf = nbuf;
			cap = ncap;
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0) {
			if (ferror(f)) {
				/* fread keeps errno from the failed read. */
				if (!errno)
					errno = EIO;
				free(buf);
				return NULL;
			}
			break;
		}
	}
	*len = n;
	return buf;
}

/* Reads a whole file; any bytes, any size. Returns NULL with errno set. */
char *scn_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	int saved;

	if (!f)
		return NULL;
	buf = scn_read_stream(f, len);
	saved = errno;
	fclose(f);
	errno = saved;
	return buf;
}

/* The text read (NULL: the read failed, errno says why) run as @name. */
static int run_read(const char *name, char *text, size_t len,
		    const struct tdxmmu_run_options *opts,
		    const struct tdxmmu_run_report *report)
{
	struct tdxmmu_run_options o = default_options(opts);
	int status;

	if (!text) {
		const char *why = strerror(errno);

		fprintf(o.err, "%s: error: cannot read: %s\n", name, why);
		scn_report_error(report, name, 0, 0, SCN_EXIT_USAGE,
				 "cannot read: %s", why);
		return SCN_EXIT_USAGE;
	}
	status = scn_run_text_report(name, text, len, &scn_backend_tdxmmu, &o,
				     report);
	free(text);
	return status;
}

TDXMMU_API int tdxmmu_run_file_report(const char *path,
				      const struct tdxmmu_run_options *opts,
				      const struct tdxmmu_run_report *report)
{
	size_t len = 0;
	char *text;

	errno = 0;
	text = scn_read_file(path, &len);
	return run_read(path, text, len, opts, report);
}

TDXMMU_API int tdxmmu_run_file(const char *path,
			       const struct tdxmmu_run_options *opts)
{
	return tdxmmu_run_file_report(path, opts, NULL);
}

TDXMMU_API int tdxmmu_run_stream_report(const char *name, FILE *in,
					const struct tdxmmu_run_options *opts,
					const struct tdxmmu_run_report *report)
{
	size_t len = 0;
	char *text = NULL;

	if (!name)
		name = "<stdin>";
	errno = EINVAL;
	if (in) {
		errno = 0;
		text = scn_read_stream(in, &len);
	}
	return run_read(name, text, len, opts, report);
}
