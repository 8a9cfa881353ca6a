# One `make test` check of `tdxmmu explore` on a race of tests/races (issue
# 12 item 6), as a CMake script so that the tests need nothing CMake does
# not have (no Python, no jq): string(JSON) reads explore's --json.
#
#   cmake -DTDXMMU=BIN -DRACE=FILE [-DPREEMPTIONS=K] -P explore-check.cmake
#     Guards on: explore must exit 0 and its JSON say "complete": true and
#     "violations": 0 (the whole bounded space, no violation).
#   cmake -DTDXMMU=BIN -DRACE=FILE -DMUTANT=NAME [-DPREEMPTIONS=K] -P ...
#     One guard removed: explore must exit 1 (a violation), print in its
#     JSON the command that replays it; that replay, run as printed (its
#     --replay= schedule and its --mutant=), must exit 1 again with the same
#     message, so that the schedule a user is given really shows the race.
#   ... -DMUTANT=NAME -DSEARCH="--random=N;--seed=S;--preemptions=K"
#     The same, with a seeded random (PCT) search instead of the bounded
#     one: for a mutant no schedule within a small bound catches; the seed
#     makes it deterministic for a given model.
#   ... -DMUTANT=NAME -DEXPLAINS=REGEX
#     Also: the replay's step-by-step explanation must match REGEX (which
#     violation it is, e.g. the reason KVM gave when it killed the VM).
cmake_minimum_required(VERSION 3.19)

foreach(var TDXMMU RACE)
	if(NOT DEFINED ${var})
		message(FATAL_ERROR "explore-check: -D${var}= is required")
	endif()
endforeach()
if(NOT DEFINED PREEMPTIONS)
	set(PREEMPTIONS 2)
endif()

include(${CMAKE_CURRENT_LIST_DIR}/explore-common.cmake)

if(NOT DEFINED MUTANT)
	set(cmd explore --preemptions=${PREEMPTIONS} --json ${RACE})
	list(JOIN cmd " " shown)
	message("tdxmmu ${shown}")
	run_tdxmmu(out ${cmd})
	message("${out}")
	json_get(complete "${out}" complete)
	json_get(violations "${out}" violations)
	json_get(schedules "${out}" schedules)
	if(NOT out_rc EQUAL 0 OR NOT complete OR NOT violations EQUAL 0)
		message(FATAL_ERROR "explore-check: ${RACE}, guards on: exit ${out_rc}, "
			"complete ${complete}, ${violations} violation(s) in ${schedules} "
			"schedules (wanted exit 0, complete, 0 violations)")
	endif()
	message("explore-check: ${RACE}: ${schedules} schedules, complete, no violation")
	return()
endif()

if(NOT DEFINED SEARCH)
	set(SEARCH --preemptions=${PREEMPTIONS})
endif()
set(cmd explore ${SEARCH} --mutant=${MUTANT} --quiet --json ${RACE})
list(JOIN cmd " " shown)
message("tdxmmu ${shown}")
run_tdxmmu(out ${cmd})
message("${out}")
if(NOT out_rc EQUAL 1)
	message(FATAL_ERROR "explore-check: mutant ${MUTANT} on ${RACE}: exit ${out_rc} "
		"(wanted 1: the race must catch the mutant)")
endif()
json_get(schedules "${out}" schedules)
json_get(schedule "${out}" first_violation schedule)
json_get(message "${out}" first_violation message)
json_get(replay "${out}" first_violation replay)

# The printed command line is what a user copies: take the schedule and the
# mutant from it, not from the other members, and check they agree.
if(NOT replay MATCHES "--replay=([^ ]+)")
	message(FATAL_ERROR "explore-check: no --replay= in the printed command: ${replay}")
endif()
set(printed_schedule "${CMAKE_MATCH_1}")
if(NOT printed_schedule STREQUAL schedule)
	message(FATAL_ERROR "explore-check: printed --replay=${printed_schedule}, "
		"but the JSON's schedule is ${schedule}")
endif()
if(NOT replay MATCHES "--mutant=${MUTANT}( |$)")
	message(FATAL_ERROR "explore-check: the printed command lacks --mutant=${MUTANT}: ${replay}")
endif()
message("explore-check: ${MUTANT} caught on ${RACE} after ${schedules} schedule(s): ${replay}")

# The replay, explained (its step-by-step text is the log of this test).
run_tdxmmu(rout explore ${RACE} --replay=${printed_schedule} --mutant=${MUTANT})
message("${rout}")
if(NOT rout_rc EQUAL 1)
	message(FATAL_ERROR "explore-check: the replay of ${printed_schedule} exited ${rout_rc} "
		"(wanted 1: the same violation)")
endif()
run_tdxmmu(jout explore ${RACE} --replay=${printed_schedule} --mutant=${MUTANT} --quiet --json)
json_get(rviolations "${jout}" violations)
json_get(rmessage "${jout}" first_violation message)
if(NOT jout_rc EQUAL 1 OR NOT rviolations EQUAL 1 OR NOT rmessage STREQUAL message)
	message(FATAL_ERROR "explore-check: the replay did not give the same violation "
		"(exit ${jout_rc}, ${rviolations} violation(s)):\n${rmessage}\nwanted:\n${message}")
endif()
message("explore-check: the replay gives the same violation")
if(DEFINED EXPLAINS)
	if(NOT rout MATCHES "${EXPLAINS}")
		message(FATAL_ERROR "explore-check: the replay's explanation does not match "
			"'${EXPLAINS}': it is another violation than the one this test is for")
	endif()
	message("explore-check: the explanation matches '${EXPLAINS}'")
endif()
