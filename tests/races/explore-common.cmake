# What the explore check scripts share (included by explore-check.cmake and
# shard-check.cmake): running the tdxmmu binary and reading its JSON.

# Runs ${TDXMMU} with the arguments after OUT_VAR; sets OUT_VAR (stdout) and
# OUT_VAR_rc (exit status). stderr is shown: it is what a failure explains.
function(run_tdxmmu out_var)
	execute_process(COMMAND ${TDXMMU} ${ARGN}
		OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
	if(err)
		message("${err}")
	endif()
	set(${out_var} "${out}" PARENT_SCOPE)
	set(${out_var}_rc "${rc}" PARENT_SCOPE)
endfunction()

# Reads one member of explore's JSON; a missing member is a test failure.
function(json_get out_var json)
	string(JSON value ERROR_VARIABLE jerr GET "${json}" ${ARGN})
	if(jerr)
		message(FATAL_ERROR "no '${ARGN}' in explore's JSON (${jerr}):\n${json}")
	endif()
	set(${out_var} "${value}" PARENT_SCOPE)
endfunction()
