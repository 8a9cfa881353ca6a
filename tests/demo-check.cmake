# Runs scripts/demo.sh (from the source tree, as `make demo` does) and checks
# that every part of the story was told.
#   cmake -DDEMO=scripts/demo.sh -DBUILD=DIR_OF_TDXMMU -DSRC=SOURCE_DIR -P demo-check.cmake
execute_process(COMMAND sh ${DEMO} ${BUILD} WORKING_DIRECTORY ${SRC}
	OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
	message(FATAL_ERROR "demo.sh exits ${rc}:\n${out}\n${err}")
endif()
foreach(want
		"1. A TD with two vCPUs"
		"7. The model checks itself"
		"16 passed, 0 failed"
		"bounded space complete"
		"VIOLATION (1 preemptions)"
		"replay: tdxmmu explore tests/races/freeze_race.tds --replay="
		" * vcpu"
		"then: check after the parallel block")
	string(FIND "${out}" "${want}" at)
	if(at EQUAL -1)
		message(FATAL_ERROR "demo.sh did not print '${want}':\n${out}")
	endif()
endforeach()
