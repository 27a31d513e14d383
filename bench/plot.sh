#!/usr/bin/env bash
# plot.sh -- draw a latency histogram written by `fd-bench run --hist-out`.
#
#   bash bench/plot.sh FILE.dat OUT.svg [TITLE]
#
# The data file has one line per non-empty histogram bucket: upper bound
# (ms), count, cumulative fraction. The plot shows the cumulative
# distribution (left axis, 0 to 1) and the count per bucket (right axis,
# impulses) against latency on a log scale, with the p50, p99 and p99.9
# marked. Needs gnuplot (Debian: gnuplot-nox, in deploy/deps.sh).
#
# Exit status: 0 drawn, 1 gnuplot failed, 2 bad arguments, missing input
# or no gnuplot.
set -u

if [ $# -lt 2 ] || [ $# -gt 3 ]; then
    echo "usage: bash bench/plot.sh FILE.dat OUT.svg [TITLE]" >&2
    exit 2
fi
dat=$1 out=$2 title=${3:-"fd-bench latency (${1##*/})"}
if ! command -v gnuplot >/dev/null 2>&1; then
    echo "plot: gnuplot is not installed: install gnuplot-nox (sh deploy/deps.sh does)" >&2
    exit 2
fi
if [ ! -r "$dat" ]; then
    echo "plot: cannot read $dat" >&2
    exit 2
fi
if ! grep -q '^[0-9]' "$dat"; then
    echo "plot: $dat holds no histogram bucket (a run with no answer?)" >&2
    exit 2
fi

# the first bucket whose cumulative fraction reaches P: "<ms>"
pct() { awk -v p="$1" '/^[0-9]/ && $3 >= p { print $1; exit }' "$dat"; }
p50=$(pct 0.5) p99=$(pct 0.99) p999=$(pct 0.999)
# gnuplot strings are in single quotes: keep the title's out
title=${title//\'/}

gnuplot <<GP
set terminal svg size 900,540 dynamic enhanced font 'sans,11'
set output '$out'
set title '$title'
set logscale x 10
set format x '%g'
set xlabel 'latency (ms, log scale)'
set ylabel 'fraction of answers at or below'
set yrange [0:1.02]
set y2label 'answers in the bucket'
set y2tics
set ytics nomirror
set grid xtics ytics mxtics
set key right bottom
set arrow from $p50, graph 0 to $p50, graph 1 nohead dt 2 lc rgb '#888888'
set arrow from $p99, graph 0 to $p99, graph 1 nohead dt 2 lc rgb '#cc4444'
set arrow from $p999, graph 0 to $p999, graph 1 nohead dt 3 lc rgb '#cc4444'
plot '$dat' using 1:2 axes x1y2 with impulses lc rgb '#9ab8d8' title 'count', \
     '$dat' using 1:3 with steps lw 2 lc rgb '#1f4e8c' title sprintf('CDF (p50 %s ms, p99 %s ms, p99.9 %s ms)', '$p50', '$p99', '$p999')
GP
rc=$?
if [ $rc -ne 0 ]; then
    echo "plot: gnuplot failed (exit $rc)" >&2
    exit 1
fi
echo "plot: $out (p50 $p50 ms, p99 $p99 ms, p99.9 $p999 ms)"
