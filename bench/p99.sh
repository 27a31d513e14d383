#!/usr/bin/env bash
# p99.sh -- `make bench-p99`: the latency at a comfortable load.
#
# Starts a private redis-server and the proxy on loopback (deploy/stack.sh),
# seeds 200 sites x 40 staff (fd-bench seed), finds the highest good
# open-loop rate (`fd-bench run --find-max --truth`, then REFINE bisection
# probes), then runs SECONDS at 70% of it and prints the p99 (target: under
# 1 ms), with p50, p99.9 and the CPU of the proxy, Redis and fd-bench. The
# latency histogram of that run is kept as build/bench/p99/hist.dat and,
# when gnuplot is installed, drawn as build/bench/p99/hist.svg
# (bench/plot.sh).
#
# Environment: FD_P99_SECONDS (10), FD_P99_STEP (2), FD_P99_REFINE (2),
# FD_P99_SHARE (70, percent of the max good rate), FD_BENCH_PROXY_FLAGS
# (more frontdesk flags, e.g. "--redis-timeout 50").
#
# It also prints the calls Redis answered too late for (the proxy's
# redis_timeouts counter, /metrics) and the fallbacks while the seed had
# staff free (fd-bench's missed): how the default --redis-timeout was
# chosen (docs/operations.md).
#
# Exit status: 0 p99 under 1 ms with no wrong answer and loss <= 0.1%,
# 1 otherwise, 2 when the bench could not run.
NAME=p99
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

SECONDS_=${FD_P99_SECONDS:-10}
STEP=${FD_P99_STEP:-2}
REFINE=${FD_P99_REFINE:-2}
SHARE=${FD_P99_SHARE:-70}
for v in SECONDS_ STEP REFINE SHARE; do
    case ${!v} in ''|*[!0-9]*) say "FD_P99_${v%_} must be a number"; exit 2;; esac
done
[ "$SECONDS_" -ge 1 ] && [ "$SECONDS_" -le 300 ] || { say "FD_P99_SECONDS: 1 to 300"; exit 2; }
[ "$STEP" -ge 1 ] && [ "$STEP" -le 10 ] || { say "FD_P99_STEP: 1 to 10"; exit 2; }
[ "$REFINE" -le 4 ] || { say "FD_P99_REFINE: 0 to 4"; exit 2; }
[ "$SHARE" -ge 1 ] && [ "$SHARE" -le 100 ] || { say "FD_P99_SHARE: 1 to 100"; exit 2; }

bench_redis
bench_seed 200 40 net
bench_proxy "$FD_RUN/net.yaml"
say "proxy on $TARGET (pid $FD_PROXY_PID), redis pid $FD_REDIS_PID"
find_max net "$FD_RUN/net.truth" "$STEP" "$REFINE"
[ "$FM_RATE" -gt 0 ] || { say "no good rate found (see $OUT/net-findmax.json)"; exit 1; }
rate=$((FM_RATE * SHARE / 100))
[ "$rate" -ge 1 ] || rate=1
say "max good rate $FM_RATE calls/s; $SECONDS_ s at $rate calls/s ($SHARE%)"

json=$OUT/at-$SHARE.json
late0=$(stack_http "$FD_ADMIN_PORT" /metrics 2>/dev/null | awk '$1 == "frontdesk_redis_timeouts_total" { print $2 }')
fdb run --target "$TARGET" --truth "$FD_RUN/net.truth" --rate "$rate" --count $((rate * SECONDS_)) \
    --duration $((SECONDS_ + 3)) --proxy-pid "$FD_PROXY_PID" --redis-pid "$FD_REDIS_PID" \
    --hist-out "$OUT/hist.dat" --json >"$json" 2>"$OUT/at-$SHARE.err"
rc=$?
[ -s "$json" ] || { say "fd-bench failed: $(tail -n 3 "$OUT/at-$SHARE.err")"; exit 2; }
p99=$(json_num "$json" p99_us)
late1=$(stack_http "$FD_ADMIN_PORT" /metrics 2>/dev/null | awk '$1 == "frontdesk_redis_timeouts_total" { print $2 }')
late=$(( ${late1:-0} - ${late0:-0} ))
plot=""
if command -v gnuplot >/dev/null 2>&1 &&
   bash "$ROOT/bench/plot.sh" "$OUT/hist.dat" "$OUT/hist.svg" "fd-bench: 200 x 40 at $rate calls/s" >/dev/null; then
    plot=", histogram ${OUT#"$ROOT"/}/hist.svg"
fi
met="NOT met"; [ "$p99" -lt 1000 ] && met=met
{
    printf 'p99: %s us at %s calls/s (%s%% of max good rate %s): target < 1000 us: %s\n' "$p99" "$rate" "$SHARE" "$FM_RATE" "$met"
    printf '     p50 %s us, p99.9 %s us, max %s us; answered %s, lost %s, wrong %s; cpu proxy %s%% redis %s%% fd-bench %s%%%s\n' \
        "$(json_num "$json" p50_us)" "$(json_num "$json" p99_9_us)" "$(json_num "$json" max_us)" \
        "$(json_num "$json" answered)" "$(json_num "$json" lost)" "$(json_num "$json" wrong)" \
        "$(json_num "$json" proxy_cpu_pct)" "$(json_num "$json" redis_cpu_pct)" "$(json_num "$json" cpu_pct)" "$plot"
    printf '     Redis late (past --redis-timeout): %s calls, %s%%; fallbacks while staff were free (missed): %s\n' \
        "$late" "$(awk -v l="$late" -v n="$(json_num "$json" sent)" 'BEGIN { printf "%.3f", n ? 100 * l / n : 0 }')" \
        "$(json_num "$json" missed)"
} | tee "$OUT/p99.txt"
[ $rc -eq 0 ] && [ "$FM_WRONG" -eq 0 ] && [ "$met" = met ]
