#!/bin/sh
# The tables of docs/exploration.md, measured on this machine: every
# canonical race (tests/races) explored with every guard on, then each
# mutant against each race: schedules until the first violation (or "-"
# when the race does not catch it within the bound), with schedules/s.
#   scripts/explore-table.sh [BUILD_DIR] [PREEMPTIONS]
set -eu
BUILD=${1:-build}
K=${2:-2}
T=$BUILD/tdxmmu
[ -x "$T" ] || { echo "no $T: build first" >&2; exit 2; }

field() { # field NAME < json
	sed -n "s/^  \"$1\": \\(.*\\),\$/\\1/p; s/^  \"$1\": \\(.*\\)\$/\\1/p" | head -1
}

races=$(ls tests/races/*.tds)
mutants=$($T explore --list-mutants | awk '{print $1}')

echo "Guards on, preemption bound $K:"
echo
echo "| race | schedules | complete | seconds | schedules/s | points/execution |"
echo "|---|---|---|---|---|---|"
for r in $races; do
	j=$($T explore --json --preemptions=$K "$r" || true)
	printf '| %s | %s | %s | %.1f | %.0f | %s |\n' "$(basename "$r" .tds)" \
		"$(echo "$j" | field schedules)" "$(echo "$j" | field complete)" \
		"$(echo "$j" | field seconds)" "$(echo "$j" | field schedules_per_s)" \
		"$(echo "$j" | field points_per_execution)"
done
echo
echo "Mutants: schedules until the first violation (schedules/s); '-' not caught within the bound:"
echo
printf '| race |'; for m in $mutants; do printf ' %s |' "$m"; done; echo
printf '|---|'; for m in $mutants; do printf -- '---|'; done; echo
for r in $races; do
	printf '| %s |' "$(basename "$r" .tds)"
	for m in $mutants; do
		j=$($T explore --json --preemptions=$K --mutant="$m" --max-schedules=20000 "$r" || true)
		if [ "$(echo "$j" | field violations)" = 1 ]; then
			printf ' %s (%.0f/s) |' "$(echo "$j" | field schedules)" "$(echo "$j" | field schedules_per_s)"
		else
			printf ' - |'
		fi
	done
	echo
done
