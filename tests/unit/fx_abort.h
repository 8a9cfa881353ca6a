/* SPDX-License-Identifier: MIT */
/* Test helper: a caller bug in the module must abort loudly. Kept apart from
 * tdx_fixture.h because it needs POSIX headers (<unistd.h> defines names such
 * as X_OK that other tests use for their own). */
#ifndef TDXMMU_TESTS_FX_ABORT_H
#define TDXMMU_TESTS_FX_ABORT_H

#include "tdx_fixture.h"
/* after the fixture: it needs cmocka */
#include "expect_abort.h"

struct fx_abort_call {
	void (*fn)(struct fx *f);
	struct fx *f;
};

static inline void fx_abort_call_run(void *arg)
{
	struct fx_abort_call *c = arg;

	c->fn(c->f);
}

/* Runs fn(f) in a child process and asserts that it aborts (SIGABRT) with
 * `msg` on stderr: the module's answer to a caller bug. */
static inline void fx_expect_abort(struct fx *f, void (*fn)(struct fx *f),
				   const char *msg)
{
	struct fx_abort_call c = { fn, f };

	expect_abort(fx_abort_call_run, &c, msg);
}

#endif /* TDXMMU_TESTS_FX_ABORT_H */
