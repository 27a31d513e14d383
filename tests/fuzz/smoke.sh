#!/usr/bin/env bash
# tests/fuzz/smoke.sh [SECONDS]: `make fuzz-smoke`. Build the libFuzzer
# harness (tests/fuzz/build.sh), replay the corpus and every reproducer,
# then fuzz for SECONDS (60) on a copy of the corpus (the repository's is
# left as it is). Exit 0 clean, 1 when an input aborted the harness (the
# input is kept under run/fuzz/), 2 when it could not run (no clang with
# libFuzzer: install clang-14 and libclang-rt-14-dev).
set -u
cd "$(dirname "$0")/../.."
secs=${1:-60}
case $secs in ''|*[!0-9]*) echo "fuzz-smoke: SECONDS must be a number" >&2; exit 2;; esac
command -v "${CC:-clang-14}" >/dev/null 2>&1 || { echo "fuzz-smoke: ${CC:-clang-14} not installed" >&2; exit 2; }
bash tests/fuzz/build.sh >/dev/null || { echo "fuzz-smoke: the harness did not build" >&2; exit 2; }
work=run/fuzz
rm -rf "$work"
mkdir -p "$work/corpus"
cp tests/fuzz/corpus/* "$work/corpus/"
if ! build/fuzz/fuzz_sip -runs=0 tests/fuzz/corpus tests/fuzz/crashes >"$work/replay.log" 2>&1; then
    echo "fuzz-smoke: the corpus or a reproducer aborts the harness:" >&2
    tail -n 30 "$work/replay.log" >&2
    exit 1
fi
(cd "$work" && timeout $((secs + 60)) ../../build/fuzz/fuzz_sip -max_total_time="$secs" -print_final_stats=1 \
    -dict=../../tests/fuzz/sip.dict corpus >fuzz.log 2>&1)
rc=$?
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/fuzz.log")
if [ $rc -ne 0 ]; then
    echo "fuzz-smoke: the harness aborted after ${runs:-?} runs (input kept in $work):" >&2
    grep -v '^#' "$work/fuzz.log" | tail -n 40 >&2
    exit 1
fi
echo "fuzz-smoke: ${runs:-?} runs in ${secs} s, corpus and $(ls tests/fuzz/crashes | wc -l) reproducers replayed: clean"
