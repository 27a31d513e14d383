#!/usr/bin/env bash
# soak.sh -- `make bench-soak`: a steady load for minutes; does the proxy's
# memory stay put?
#
#   bash bench/soak.sh [--minutes N] [--rate R] [--churn C]
#
# Starts a private redis-server and the proxy on loopback (deploy/stack.sh),
# seeds 200 sites x 40 staff (fd-bench seed), then runs an open loop of R
# calls/s (default 1000) for N minutes (default 5, at most 120), in chunks
# of one minute, each chunk one `fd-bench run --truth` (every 302 checked
# against the seed) with C presence updates per second (default 20) from
# `--churn`, as reception dashboards make them. Prints the proxy's resident
# memory (VmRSS of /proc/PID/status) before the load and after every
# minute, with each minute's answers, losses, wrong answers, p99 and CPU.
#
# RSS grows a little while the first calls warm the allocator up, so the
# growth judged is from the end of the first minute to the end (with
# --minutes 1: from before the load, after the warm-up calls); it may be at
# most FD_SOAK_MAX_GROWTH_KB (default 4096). Results: build/bench/soak/.
#
# Exit status: 0 RSS grew at most that much, no wrong answer and at most
# 0.1% lost in every minute; 1 otherwise; 2 when the bench could not run.
NAME=soak
minutes=5 rate=1000 churn=20
while [ $# -gt 0 ]; do
    case $1 in
        --minutes) minutes=${2:-}; shift 2 || break;;
        --rate) rate=${2:-}; shift 2 || break;;
        --churn) churn=${2:-}; shift 2 || break;;
        -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0;;
        *) echo "soak: unknown flag '$1' (--minutes N, --rate R, --churn C)" >&2; exit 2;;
    esac
done
for v in minutes rate churn; do
    case ${!v} in ''|*[!0-9]*) echo "soak: --$v wants a whole number" >&2; exit 2;; esac
done
[ "$minutes" -ge 1 ] && [ "$minutes" -le 120 ] || { echo "soak: --minutes: 1 to 120" >&2; exit 2; }
[ "$rate" -ge 1 ] && [ "$rate" -le 100000 ] || { echo "soak: --rate: 1 to 100000" >&2; exit 2; }
MAX_GROWTH=${FD_SOAK_MAX_GROWTH_KB:-4096}
case $MAX_GROWTH in ''|*[!0-9]*) echo "soak: FD_SOAK_MAX_GROWTH_KB must be a number" >&2; exit 2;; esac
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

bench_redis
bench_seed 200 40 net
bench_proxy "$FD_RUN/net.yaml"
say "proxy on $TARGET (pid $FD_PROXY_PID), redis pid $FD_REDIS_PID; $minutes minute(s) at $rate calls/s, churn $churn/s"
bench_warm "$FD_RUN/net.truth"

rss0=$(rss_kb "$FD_PROXY_PID")
printf 'minute %3d: proxy RSS %7s kB (before the load)\n' 0 "$rss0" | tee "$OUT/soak.txt"
status=0 base=$rss0
for m in $(seq 1 "$minutes"); do
    json=$OUT/minute-$m.json
    # 58 s of sending, then the answers of the last calls (timeout 1 s)
    fdb run --target "$TARGET" --truth "$FD_RUN/net.truth" --rate "$rate" --count $((rate * 58)) \
        --duration 60 --churn "$churn" --redis "127.0.0.1:$FD_REDIS_PORT" \
        --proxy-pid "$FD_PROXY_PID" --redis-pid "$FD_REDIS_PID" --json >"$json" 2>"$OUT/minute-$m.err"
    rc=$?
    [ -s "$json" ] || { say "fd-bench failed: $(tail -n 3 "$OUT/minute-$m.err")"; exit 2; }
    [ $rc -eq 0 ] || status=1
    rss=$(rss_kb "$FD_PROXY_PID")
    [ -n "$rss" ] || { say "the proxy died (see ${FD_PROXY_LOG#"$ROOT"/})"; exit 1; }
    printf 'minute %3d: proxy RSS %7s kB  answered %s lost %s wrong %s  p99 %s us  cpu proxy %s%% redis %s%% fd-bench %s%%  churn %s\n' \
        "$m" "$rss" "$(json_num "$json" answered)" "$(json_num "$json" lost)" "$(json_num "$json" wrong)" \
        "$(json_num "$json" p99_us)" "$(json_num "$json" proxy_cpu_pct)" "$(json_num "$json" redis_cpu_pct)" \
        "$(json_num "$json" cpu_pct)" "$(json_num "$json" churn_sent)" | tee -a "$OUT/soak.txt"
    [ "$m" = 1 ] && [ "$minutes" -gt 1 ] && base=$rss
done
growth=$((rss - base))
verdict=ok
[ "$growth" -le "$MAX_GROWTH" ] || { verdict="grew too much"; status=1; }
echo "soak: proxy RSS start $rss0 kB, end $rss kB; growth judged $growth kB (from $base kB, limit $MAX_GROWTH kB): $verdict; runs $( [ $status = 0 ] && echo passed || echo FAILED)" | tee -a "$OUT/soak.txt"
exit $status
