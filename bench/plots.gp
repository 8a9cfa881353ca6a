# gnuplot script for `make bench`: call with dir='bench/results' and
# term='png' or 'svg'. Reads the .dat files bench_dat wrote. The error bars
# span the lowest and highest of the --repeat runs (the bars: the median).
if (!exists("dir")) dir = 'bench/results'
if (!exists("term")) term = 'png'
if (term eq 'png') { set terminal pngcairo size 960,540 noenhanced font ",10" } else { set terminal svg size 960,540 noenhanced font "sans,10" }
set datafile missing "nan"
set grid ytics
set bmargin 5
set key top left

set output dir.'/ns_per_op.'.term
set title "Model (wall) ns per operation, by workload and MMU (1 vCPU; lower is better; bars: median, whiskers: min-max of the runs)"
set style data histograms
set style histogram errorbars gap 1 lw 1
set style fill solid 0.8 border -1
set ylabel "ns per op (fault or 4K page)"
set logscale y
plot dir.'/ns_per_op.dat' using 2:3:4:xtic(1) title "mmu=tdp", '' using 5:6:7 title "mmu=legacy"
unset logscale y
set yrange [0:*]

set output dir.'/scaling.'.term
set title "Leaf faults per second with 1 and 2 vCPU threads (disjoint ranges; whiskers: min-max of the runs)"
set ylabel "faults/s"
set xlabel "vCPU threads"
plot dir.'/scaling.dat' using 2:3:4:xtic(1) title "tdp private", '' using 5:6:7 title "tdp shared", \
     '' using 8:9:10 title "legacy private", '' using 11:12:13 title "legacy shared"
unset xlabel

set output dir.'/mirror.'.term
set title "Private 4K fault: modeled hardware time, mirror EPT vs SEPT.RD walks (no mirror)"
set ylabel "ns per fault"
plot dir.'/mirror.dat' using 2:2:2:xtic(1) title "mirror: modeled (SEAMCALL+exit)", \
     '' using 3:3:3 title "no mirror: modeled", \
     '' using 4:5:6 title "mirror: hardware estimate", '' using 7:8:9 title "no mirror: hardware estimate"
