#!/usr/bin/env bash
# Run the unit tests (every build/tests/test_*, cmocka), then the integration
# scenarios (tests/integration/t_*.sh: the real daemon, a real redis-server,
# SIP over UDP on loopback), each with a time limit. Prints a line per suite
# and closes with "N passed, N failed" counting individual tests (cmocka
# tests and scenario checks); exits 1 when anything failed.
# Usage: tests/run.sh [unit|integration|all]
set -u
cd "$(dirname "$0")/.."
what=${1:-all}
passed=0 failed=0 failures=""

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

echo
[ -n "$failures" ] && echo "failed suites:$failures"
echo "$passed passed, $failed failed"
[ -z "$failures" ]
