# What the CMake-script checks of the CLI share (included by
# tests/bench/bench-check.cmake and tests/reports/reports-check.cmake):
# running a command and failing with what it printed.

# Runs the command ARGS... [INPUT FILE] (FILE as its standard input); sets
# out, err and rc in the caller.
function(run_cmd)
	cmake_parse_arguments(PARSE_ARGV 0 arg "" "INPUT" "")
	set(input)
	if(arg_INPUT)
		set(input INPUT_FILE ${arg_INPUT})
	endif()
	execute_process(COMMAND ${arg_UNPARSED_ARGUMENTS} ${input}
		OUTPUT_VARIABLE o ERROR_VARIABLE e RESULT_VARIABLE r)
	set(out "${o}" PARENT_SCOPE)
	set(err "${e}" PARENT_SCOPE)
	set(rc "${r}" PARENT_SCOPE)
endfunction()

# Stops the check with WHAT and the last command's output.
function(fail what)
	message(FATAL_ERROR "${what}\n--- stdout:\n${out}\n--- stderr:\n${err}")
endfunction()

function(expect_rc want)
	if(NOT rc STREQUAL "${want}")
		fail("exit status ${rc}, expected ${want}")
	endif()
endfunction()
