/* SPDX-License-Identifier: MIT */
/* Test helper: a caller bug in the module must abort loudly. Kept apart from
 * tdx_fixture.h because it needs POSIX headers (<unistd.h> defines names such
 * as X_OK that other tests use for their own). */
#ifndef TDXMMU_TESTS_FX_ABORT_H
#define TDXMMU_TESTS_FX_ABORT_H

#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tdx_fixture.h"

/* Runs fn(f) in a child process and asserts that it aborts (SIGABRT) with
 * `msg` on stderr: the module's answer to a caller bug. */
static inline void fx_expect_abort(struct fx *f, void (*fn)(struct fx *f),
				   const char *msg)
{
	char buf[256] = { 0 };
	int pipefd[2], status;
	pid_t pid;

	assert_int_equal(pipe(pipefd), 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(pipefd[1], 2);
		fn(f);
		_exit(0);
	}
	close(pipefd[1]);
	assert_true(read(pipefd[0], buf, sizeof(buf) - 1) > 0);
	close(pipefd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGABRT);
	assert_non_null(strstr(buf, msg));
}

#endif /* TDXMMU_TESTS_FX_ABORT_H */
