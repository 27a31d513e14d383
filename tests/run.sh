#!/usr/bin/env bash
# Run the unit tests (every build/tests/test_*, cmocka), then the integration
# scenarios (tests/integration/t_*.sh: the real daemon, a real redis-server,
# SIP over UDP on loopback), each with a time limit. Prints a line per suite
# and closes with "N passed, N failed" counting individual tests (cmocka
# tests and scenario checks); exits 1 when anything failed.
# Built with SAN=1 (build/flavour says so), every process of ours reports
# what AddressSanitizer, LeakSanitizer or UBSan find into run/tests/san/;
# any report fails the run, printed at the end.
# Usage: tests/run.sh [unit|integration|all]
set -u
cd "$(dirname "$0")/.."
what=${1:-all}
passed=0 failed=0 failures=""
san_dir=""
if [ "$(cat build/flavour 2>/dev/null)" = "san=1" ]; then
    san_dir=$PWD/run/tests/san
    rm -rf "$san_dir"
    mkdir -p "$san_dir"
    export ASAN_OPTIONS="log_path=$san_dir/asan:detect_leaks=1"
    export UBSAN_OPTIONS="print_stacktrace=1:log_path=$san_dir/ubsan"
    echo "sanitizers: ASan, LSan, UBSan (reports in ${san_dir#"$PWD"/})"
fi

# count_results LOG: the suite's own counts into $p_cnt $f_cnt
count_results() {
    local log=$1 p f
    p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test(s)\./\1/p; s/^t_[a-z0-9_]*: \([0-9]*\) passed, [0-9]* failed$/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
    f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test(s), listed below:/\1/p; s/^t_[a-z0-9_]*: [0-9]* passed, \([0-9]*\) failed$/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
    p_cnt=$p f_cnt=$f
}

run_suite() { # name limit cmd...
    local name=$1 limit=$2 log="run/tests/$1.log" rc
    shift 2
    mkdir -p "$(dirname "$log")"
    timeout -k 5 "$limit" "$@" >"$log" 2>&1
    rc=$?
    count_results "$log"
    passed=$((passed + p_cnt)); failed=$((failed + f_cnt))
    if [ $rc -eq 0 ]; then
        echo "ok    $name ($p_cnt passed)"
    else
        failures="$failures $name"
        # a suite that died or timed out without reporting a failure still fails
        [ "$f_cnt" -eq 0 ] && failed=$((failed + 1))
        echo "FAIL  $name (exit $rc; last lines of $log:)"
        tail -n 60 "$log" | sed 's/^/    /'
    fi
}

if [ "$what" = unit ] || [ "$what" = all ]; then
    for t in build/tests/test_*; do
        [ -x "$t" ] || continue
        run_suite "unit/$(basename "$t")" 120 "$t"
    done
fi
if [ "$what" = integration ] || [ "$what" = all ]; then
    for t in tests/integration/t_*.sh; do
        run_suite "integration/$(basename "$t" .sh)" 180 bash "$t"
    done
fi

if [ -n "$san_dir" ] && [ -n "$(ls -A "$san_dir")" ]; then
    failures="$failures sanitizers"
    failed=$((failed + 1))
    echo "FAIL  sanitizers: $(ls "$san_dir" | wc -l) report(s):"
    for f in "$san_dir"/*; do head -n 40 "$f" | sed 's/^/    /'; done
fi

echo
[ -n "$failures" ] && echo "failed suites:$failures"
echo "$passed passed, $failed failed"
[ -z "$failures" ]
