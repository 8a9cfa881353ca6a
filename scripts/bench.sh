#!/usr/bin/env bash
# `make bench`: the standard benchmark set (each MMU, each alias, 1 and 2
# vCPUs, mirror and no-mirror; convert, zap, populate), one JSON document per
# run in bench/results/, then the plots (gnuplot, PNG and SVG) with the
# runs' spread as error bars. A run whose
# configuration the model does not provide yet is recorded as unavailable.
#
# BENCH_QUICK=1 runs the same set on small sizes and BENCH_PLOTS=0 skips
# gnuplot: what the bench/make-bench-quick test does, so that every
# configuration the set names is known to run.
set -euo pipefail
BUILD=${BUILD:-build}
OUT=${OUT:-bench/results}
T=$BUILD/tdxmmu
mkdir -p "$OUT"
# Each figure is the median of --repeat runs in fresh TDs, with its range
# (the plots' error bars); fault keeps the best of its leaf rounds within a
# run (docs/performance.md, "Repeated runs"). The 64 GiB populate takes ~10 s
# a run: 3 runs.
if [ "${BENCH_QUICK:-0}" = 1 ]; then
	FAULT=(--size=16M --rounds=1 --repeat=2) CONVERT=(--size=16M --rounds=1 --repeat=2)
	ZAP=(--size=16M --repeat=2) POPULATE=(--size=256M --repeat=2)
else
	FAULT=(--size=256M --rounds=3 --repeat=5) CONVERT=(--size=256M --rounds=3 --repeat=5)
	ZAP=(--size=512M --repeat=5) POPULATE=(--size=64G --repeat=3)
fi

run() { # NAME ARGS...
	local name=$1; shift
	echo "bench: $name: tdxmmu bench $*" >&2
	"$T" bench "$@" --json > "$OUT/$name.json"
}

for mmu in tdp legacy; do
	for alias in private shared; do
		for v in 1 2; do
			run "fault-$mmu-$alias-$v" fault --mmu=$mmu --alias=$alias --vcpus=$v "${FAULT[@]}"
		done
	done
	# Seed 004's alternative is one of the TDP MMU's mirror: the legacy MMU
	# has no --no-mirror variant (tdxmmu bench refuses it).
	if [ "$mmu" = tdp ]; then
		run "fault-$mmu-private-1-nomirror" fault --mmu=$mmu --no-mirror "${FAULT[@]}"
	fi
	run "convert-$mmu" convert --mmu=$mmu "${CONVERT[@]}"
	run "zap-$mmu" zap --mmu=$mmu "${ZAP[@]}"
	run "populate-$mmu" populate --mmu=$mmu "${POPULATE[@]}"
done

"$BUILD/bench_dat" "$OUT"
[ "${BENCH_PLOTS:-1}" = 1 ] || exit 0
for term in png svg; do
	gnuplot -e "dir='$OUT'; term='$term'" bench/plots.gp
done
echo "bench: results and plots in $OUT/" >&2
