/* SPDX-License-Identifier: MIT */
/*
 * Test helper: a caller bug must abort loudly (the module's answer to a
 * misuse, KVM's lockdep asserts). Runs fn(arg) in a child process and
 * asserts that it dies of SIGABRT with `msg` on its stderr. Include after
 * <cmocka.h>; kept apart from the fixtures because it needs POSIX headers
 * (<unistd.h> defines names such as X_OK that some tests use themselves).
 */
#ifndef TDXMMU_TESTS_EXPECT_ABORT_H
#define TDXMMU_TESTS_EXPECT_ABORT_H

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static inline void expect_abort(void (*fn)(void *arg), void *arg, const char *msg)
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
		fn(arg);
		_exit(0);
	}
	close(pipefd[1]);
	assert_true(read(pipefd[0], buf, sizeof(buf) - 1) > 0);
	close(pipefd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGABRT);
	if (!strstr(buf, msg))
		fail_msg("stderr \"%s\" lacks \"%s\"", buf, msg);
}

#endif
