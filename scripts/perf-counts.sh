#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Instructions and locked instructions per operation of the model, counted
# with callgrind (docs/performance.md, "Round 2"): unlike wall time these do
# not move with the host's load, so a change is judged by them first.
#
#   scripts/perf-counts.sh [BUILD_DIR]        (default: build)
#
# Prints, for the private and shared 4K leaf fault (one round of 4096 leaf
# faults: the difference of --rounds=2 and --rounds=1 over 16M), the
# conversion to shared (the first MapGPA of `bench convert`, per 4K page)
# and populate (`bench populate --size=64M`, per fault):
#   Ir/op      instructions executed (every object)
#   locked/op  of those, locked read-modify-writes and XCHGs with memory
#              (each ~6 ns on the development VM, more when another core
#              wrote the line last) in libtdxmmu, from the per-instruction
#              counts (--dump-instr) of the addresses objdump shows with a
#              lock prefix or as an xchg with a memory operand.
# Needs valgrind and objdump (binutils). About a minute.
set -eu
B=${1:-build}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
LIB=$(readlink -f "$B/libtdxmmu.so")
objdump -d --no-show-raw-insn "$LIB" |
	awk '/^ *[0-9a-f]+:\t/ { a = $1; sub(":", "", a);
		if ($2 == "lock" || ($2 ~ /^xchg/ && $0 ~ /\(/)) print a }' > "$T/locked"
[ -s "$T/locked" ] || { echo "perf-counts: no locked instruction found in $LIB" >&2; exit 1; }

# run NAME ARGS...: callgrind over the model, per-instruction counts.
run() {
	n=$1; shift
	LD_LIBRARY_PATH="$B" valgrind --tool=callgrind --dump-instr=yes --compress-pos=no \
		--compress-strings=no --callgrind-out-file="$T/$n" "$@" >/dev/null 2>&1
}
# counts FILE: "Ir locked" in a callgrind output: instructions of every
# object (the C library's and liburcu's too), locked ones of libtdxmmu's
# code (the cost line after a calls= line is the callee's, inclusive:
# skipped).
counts() {
	awk -v locked="$T/locked" '
		BEGIN { while ((getline a < locked) > 0) lk["0x" a] = 1 }
		/^ob=/ { inlib = index($0, "libtdxmmu") > 0; next }
		/^calls=/ { skip = 1; next }
		/^0x/ { if (skip) { skip = 0; next }
			ir += $3
			if (!inlib) next
			a = $1; sub(/^0x0*/, "0x", a)
			if (a in lk) n += $3; next }
		/^[a-z]+=/ { next }
		END { printf "%d %d\n", ir, n }' "$1"
}
tdx="$B/tdxmmu"
run p1 --toggle-collect=bench_touch_lanes "$tdx" bench fault --size=16M --rounds=1
run p2 --toggle-collect=bench_touch_lanes "$tdx" bench fault --size=16M --rounds=2
run s1 --toggle-collect=bench_touch_lanes "$tdx" bench fault --size=16M --rounds=1 --alias=shared
run s2 --toggle-collect=bench_touch_lanes "$tdx" bench fault --size=16M --rounds=2 --alias=shared
run c --toggle-collect=bench_mapgpa --dump-after=bench_mapgpa "$tdx" bench convert --size=16M --rounds=1
# populate touches all but its first 2M through bench_touch_lanes_stride
# (one page per 2M page with --hugepages): collect there, which covers both.
run pop --toggle-collect=bench_touch_lanes_stride "$tdx" bench populate --size=64M
# The callgrind object's addresses must be objdump's (a shared object is
# dumped at its link-time addresses): check one function.
want=$(nm "$LIB" | awk '$3 == "tdh_mem_page_aug" { print "0x" $1 }' | sed 's/^0x0*/0x/')
got=$(awk '/^fn=tdh_mem_page_aug$/ { f = 1; next } f && /^0x/ { print $1; exit }' "$T/p1")
[ "$want" = "$got" ] || { echo "perf-counts: addresses do not match ($want, $got)" >&2; exit 1; }

set -- $(counts "$T/p1") $(counts "$T/p2"); pi=$(( ($3 - $1) / 4096 )); pl=$(( ($4 - $2) * 100 / 4096 ))
set -- $(counts "$T/s1") $(counts "$T/s2"); si=$(( ($3 - $1) / 4096 )); sl=$(( ($4 - $2) * 100 / 4096 ))
set -- $(counts "$T/c.1"); ci=$(( $1 / 4096 )); cl=$(( $2 * 100 / 4096 ))
faults=$(( (64 * 1024 * 1024 - 16 * 4096) / 4096 ))
set -- $(counts "$T/pop"); oi=$(( $1 / faults )); ol=$(( $2 * 100 / faults ))
pr() { printf '%-34s %8s %7d.%02d\n' "$1" "$2" $(($3 / 100)) $(($3 % 100)); }
printf '%-34s %8s %10s\n' "operation" "Ir/op" "locked/op"
pr "private 4K leaf fault" "$pi" "$pl"
pr "shared 4K leaf fault" "$si" "$sl"
pr "conversion to shared, per 4K page" "$ci" "$cl"
pr "populate, per fault" "$oi" "$ol"
