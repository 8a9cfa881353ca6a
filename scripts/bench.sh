#!/usr/bin/env bash
# `make bench`: the standard benchmark set (each MMU, each alias, 1 and 2
# vCPUs, mirror and no-mirror; convert, zap, populate), one JSON document per
# run in bench/results/, then the plots (gnuplot, PNG and SVG). A run whose
# configuration the model does not provide yet is recorded as unavailable.
set -euo pipefail
BUILD=${BUILD:-build}
OUT=${OUT:-bench/results}
T=$BUILD/tdxmmu
mkdir -p "$OUT"

run() { # NAME ARGS...
	local name=$1; shift
	echo "bench: $name: tdxmmu bench $*" >&2
	"$T" bench "$@" --json > "$OUT/$name.json"
}

for mmu in tdp legacy; do
	for alias in private shared; do
		for v in 1 2; do
			run "fault-$mmu-$alias-$v" fault --mmu=$mmu --alias=$alias --vcpus=$v --size=256M --rounds=5
		done
	done
	run "fault-$mmu-private-1-nomirror" fault --mmu=$mmu --no-mirror --size=256M --rounds=5
	run "convert-$mmu" convert --mmu=$mmu --size=256M --rounds=3
	run "zap-$mmu" zap --mmu=$mmu --size=512M
	run "populate-$mmu" populate --mmu=$mmu --size=64G
done

"$BUILD/bench_dat" "$OUT"
for term in png svg; do
	gnuplot -e "dir='$OUT'; term='$term'" bench/plots.gp
done
echo "bench: results and plots in $OUT/" >&2
