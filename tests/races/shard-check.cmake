# `tdxmmu explore --shard=I/N` and `--merge` (issue 12 item 7): N shards of
# a race, run one after the other here (a job engine would run them at
# once), must each complete, add up to exactly the schedules of the
# unsharded search, and merge into one complete result with no violation.
# Then a missing shard must make the merge incomplete, and a duplicate one
# an error.
#
#   cmake -DTDXMMU=BIN -DRACE=FILE -DDIR=SCRATCH [-DSHARDS=N] [-DPREEMPTIONS=K]
#         -P shard-check.cmake
cmake_minimum_required(VERSION 3.19)

foreach(var TDXMMU RACE DIR)
	if(NOT DEFINED ${var})
		message(FATAL_ERROR "shard-check: -D${var}= is required")
	endif()
endforeach()
if(NOT DEFINED SHARDS)
	set(SHARDS 3)
endif()
if(NOT DEFINED PREEMPTIONS)
	set(PREEMPTIONS 2)
endif()
file(MAKE_DIRECTORY ${DIR})

include(${CMAKE_CURRENT_LIST_DIR}/explore-common.cmake)

run_tdxmmu(whole explore --preemptions=${PREEMPTIONS} --json ${RACE})
json_get(whole_schedules "${whole}" schedules)
if(NOT whole_rc EQUAL 0)
	message(FATAL_ERROR "shard-check: the unsharded search exits ${whole_rc}")
endif()

set(files)
set(sum 0)
math(EXPR last "${SHARDS} - 1")
foreach(i RANGE ${last})
	run_tdxmmu(part explore --preemptions=${PREEMPTIONS} --shard=${i}/${SHARDS} --json ${RACE})
	json_get(n "${part}" schedules)
	json_get(complete "${part}" complete)
	if(NOT part_rc EQUAL 0 OR NOT complete)
		message(FATAL_ERROR "shard-check: shard ${i}/${SHARDS}: exit ${part_rc}, complete ${complete}")
	endif()
	if(n EQUAL 0)
		message(FATAL_ERROR "shard-check: shard ${i}/${SHARDS} explored nothing")
	endif()
	math(EXPR sum "${sum} + ${n}")
	file(WRITE ${DIR}/shard${i}.json "${part}")
	list(APPEND files ${DIR}/shard${i}.json)
	message("shard ${i}/${SHARDS}: ${n} schedules")
endforeach()
if(NOT sum EQUAL whole_schedules)
	message(FATAL_ERROR "shard-check: the shards explored ${sum} schedules, the whole search ${whole_schedules}")
endif()

run_tdxmmu(merged explore --merge --json ${files})
json_get(m_schedules "${merged}" schedules)
json_get(m_complete "${merged}" complete)
json_get(m_violations "${merged}" violations)
if(NOT merged_rc EQUAL 0 OR NOT m_complete OR NOT m_violations EQUAL 0
   OR NOT m_schedules EQUAL whole_schedules)
	message(FATAL_ERROR "shard-check: merge: exit ${merged_rc}, complete ${m_complete}, "
		"${m_violations} violations, ${m_schedules} schedules (whole: ${whole_schedules})")
endif()

# One shard missing: not complete. The same shard twice: refused.
list(REMOVE_AT files 0)
run_tdxmmu(partial explore --merge --json ${files})
json_get(p_complete "${partial}" complete)
if(p_complete)
	message(FATAL_ERROR "shard-check: a merge without shard 0 claims to be complete")
endif()
list(GET files 0 again)
run_tdxmmu(dup explore --merge --json ${files} ${again})
if(NOT dup_rc EQUAL 2)
	message(FATAL_ERROR "shard-check: a merge with a shard twice exits ${dup_rc}, not 2")
endif()
message("shard-check: ${SHARDS} shards = ${whole_schedules} schedules, merged complete")
