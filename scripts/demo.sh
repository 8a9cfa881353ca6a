#!/bin/sh
# make demo: the design's story. Runs examples/demo.tds, printing its `##`
# narration as the run reaches each step, then explores the freeze race of
# the TDP MMU twice: with the design's guard (every interleaving holds) and
# without it (the breaking schedule, and how to replay it).
#   scripts/demo.sh [BUILD_DIR]
set -eu
BUILD=${1:-build}
T=$BUILD/tdxmmu
DEMO=examples/demo.tds
RACE=tests/races/freeze_race.tds
# Bold narration on a terminal only.
if [ -t 1 ]; then B=$(printf '\033[1m'); N=$(printf '\033[0m'); else B=; N=; fi
[ -x "$T" ] || { echo "demo: no $T: run 'make demo' (it builds first)" >&2; exit 2; }

# The run prints FILE:LINE: for each command; before the first output of a
# line, print the `##` narration that precedes it in the file.
"$T" run "$DEMO" | awk -v file="$DEMO" -v B="$B" -v N="$N" '
	BEGIN {
		n = 0
		while ((getline l < file) > 0) {
			n++
			if (l ~ /^##/) { sub(/^## ?/, "", l); story[n] = l }
		}
		next_line = 1
	}
	{
		if (index($0, file ":") == 1) {
			split(substr($0, length(file) + 2), parts, ":")
			for (; next_line <= parts[1] + 0; next_line++)
				if (next_line in story) {
					if (!(next_line - 1 in story)) print ""
					print B story[next_line] N
				}
		}
		print
	}'

echo
printf '%s%s%s\n' "$B" "8. Every interleaving of two vCPUs faulting one untouched 2M region" "$N"
printf '%s%s%s\n' "$B" "   ($RACE), with at most two preemptions: the freeze guard holds." "$N"
"$T" explore "$RACE" | tail -n 3
echo
printf '%s%s%s\n' "$B" "9. The same race without freezing the entry while TDH.MEM.SEPT.ADD runs" "$N"
printf '%s%s%s\n' "$B" "   (--mutant=no-freeze): the schedule that breaks it; then, replayed, its" "$N"
printf '%s%s%s\n' "$B" "   switches ('*' the preemption) and the table changes each lane made." "$N"
"$T" explore --quiet --mutant=no-freeze "$RACE" || true
replay=$("$T" explore --quiet --json --mutant=no-freeze "$RACE" |
	sed -n 's/^ *"schedule": "\(.*\)",*$/\1/p' | head -n 1)
[ -n "$replay" ] || { echo "demo: no breaking schedule found" >&2; exit 1; }
echo
"$T" explore "$RACE" --mutant=no-freeze --replay="$replay" |
	grep -E '^interleaving|^ +[0-9]+ [*>]|^ {20,}[A-Za-z]|^then' | grep -v REFCOUNT
