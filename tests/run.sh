#!/usr/bin/env bash
# Run the unit tests (every build/tests/test_*), then the integration
# scenarios (tests/integration/t_*.sh), each with a time limit. Prints one
# line per test and a closing "N passed, N failed" line; exits 1 when any
# failed. Usage: tests/run.sh [unit|integration|all]
set -u
cd "$(dirname "$0")/.."
what=${1:-all}
passed=0 failed=0 failures=""
mkdir -p run/tests

run_one() { # name limit cmd...
    local name=$1 limit=$2 log="run/tests/$1.log"
    shift 2
    if timeout -k 5 "$limit" "$@" >"$log" 2>&1; then
        passed=$((passed + 1)); echo "ok    $name"
    else
        failed=$((failed + 1)); failures="$failures $name"
        echo "FAIL  $name (exit $?; log follows)"; sed 's/^/    /' "$log" | tail -n 60
    fi
}

if [ "$what" = unit ] || [ "$what" = all ]; then
    for t in build/tests/test_*; do
        [ -x "$t" ] || continue
        run_one "unit/$(basename "$t")" 60 "$t"
        grep -E '^\[  (PASSED|FAILED)  \]' "run/tests/unit/$(basename "$t").log" 2>/dev/null | sed 's/^/      /'
    done
fi
if [ "$what" = integration ] || [ "$what" = all ]; then
    for t in tests/integration/t_*.sh; do
        run_one "integration/$(basename "$t" .sh)" 180 bash "$t"
    done
fi

echo
[ -n "$failures" ] && echo "failed:$failures"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
