#!/usr/bin/env bash
# Runs one scenario file and checks the run against the expectations written in
# its header: "# expect-exit: N" (default 0) and any number of
# "# expect-output: TEXT" lines, each of which must appear in stdout+stderr.
set -u
bin=$1 scn=$2
want_exit=$(sed -n 's/^# expect-exit: *\([0-9]*\).*/\1/p' "$scn" | head -n1)
want_exit=${want_exit:-0}
out=$("$bin" run "$scn" 2>&1)
got_exit=$?
printf '%s\n' "$out"
fail=0
if [ "$got_exit" != "$want_exit" ]; then
	echo "run-scenario: $scn: exit status $got_exit, expected $want_exit" >&2
	fail=1
fi
while IFS= read -r want; do
	[ -z "$want" ] && continue
	if ! grep -qF -- "$want" <<<"$out"; then
		echo "run-scenario: $scn: output lacks: $want" >&2
		fail=1
	fi
done < <(sed -n 's/^# expect-output: \(.*\)$/\1/p' "$scn")
exit $fail
