/* SPDX-License-Identifier: MIT */
/*
 * `parallel ... end`: the lines of a block run at the same time, each vCPU's
 * lines in order on that vCPU's thread and the host's lines on one host
 * thread (the parser has grouped them into cmd->block->lanes).
 *
 * The threaded executor is not written yet; running a block reports it as
 * not implemented. This is the one place to add it. What it needs:
 *  - one thread per lane, each calling scn_run_cmd() on its lane's commands
 *    in order (output is already written in whole lines under the stream
 *    lock; run->passed and run->failed must become atomic or be summed per
 *    lane afterwards);
 *  - an access whose outcome is `blocked` keeps retrying until every other
 *    lane has finished, then reports `blocked` if it still cannot complete;
 *  - the first lane that returns SCN_EXIT_USAGE or SCN_EXIT_BUG stops the
 *    block (the others finish their current line), and that status is
 *    returned.
 */
#include "scenario/runner.h"

int run_parallel_block(struct scn_run *run, const struct scn_cmd *cmd)
{
	return scn_api_error(run, cmd, TDXMMU_ENOTIMPL);
}
