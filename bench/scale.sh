#!/usr/bin/env bash
# scale.sh -- `make bench-scale`: does the proxy keep its rate when the
# clinic network grows from one site to two hundred?
#
# Starts a private redis-server and the proxy on loopback (deploy/stack.sh),
# then twice: seed a network with `fd-bench seed` (1 site x 20 staff, then
# 200 sites x 40 staff), restart the proxy on its rules, and find the
# highest good open-loop rate (`fd-bench run --find-max --truth`: every 302
# checked against the seed, no wrong answer, loss <= 0.1%, p99 <= 50 ms;
# fallbacks while staff were free not counted: see below),
# refined by REFINE bisection probes. Prints both rates and their ratio
# (large / small; the target is within 10%, ratio >= 0.90).
#
# Environment: FD_SCALE_STEP (2, seconds per step and probe),
# FD_SCALE_REFINE (2 probes), FD_SCALE_SITES / FD_SCALE_STAFF (200 / 40:
# the large network). Results: build/bench/scale/. Takes about 1-2 minutes;
# every fd-bench run is bounded in calls and seconds.
#
# Exit status: 0 ratio >= 0.90 and no wrong answer, 1 otherwise, 2 when the
# bench could not run.
NAME=scale
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

STEP=${FD_SCALE_STEP:-2}
REFINE=${FD_SCALE_REFINE:-2}
SITES=${FD_SCALE_SITES:-200}
STAFF=${FD_SCALE_STAFF:-40}
for v in STEP REFINE SITES STAFF; do
    case ${!v} in ''|*[!0-9]*) say "FD_SCALE_$v must be a number"; exit 2;; esac
done
[ "$STEP" -ge 1 ] && [ "$STEP" -le 10 ] || { say "FD_SCALE_STEP: 1 to 10"; exit 2; }
[ "$REFINE" -le 4 ] || { say "FD_SCALE_REFINE: 0 to 4"; exit 2; }

# One site called thousands of times a second has all of a skill's free
# people on an offer now and then (1 ms, --offer-window of bench_proxy):
# that fallback is the site's size, not the network's, so here it is not
# counted as lost (fd-bench --free-fallback-ok); both networks alike.
FD_BENCH_RUN_FLAGS="${FD_BENCH_RUN_FLAGS:-} --free-fallback-ok"
bench_redis
wrong=0
declare -A RATE CPU
for cfg in small large; do
    if [ $cfg = small ]; then sites=1 staff=20; else sites=$SITES staff=$STAFF; fi
    bench_seed "$sites" "$staff" "$cfg"
    bench_proxy "$FD_RUN/$cfg.yaml"
    say "$cfg: $sites site(s) x $staff staff, proxy on $TARGET (pid $FD_PROXY_PID), redis pid $FD_REDIS_PID"
    find_max "$cfg" "$FD_RUN/$cfg.truth" "$STEP" "$REFINE"
    RATE[$cfg]=$FM_RATE
    CPU[$cfg]="proxy $(json_num "$FM_JSON" proxy_cpu_pct)% redis $(json_num "$FM_JSON" redis_cpu_pct)% fd-bench $(json_num "$FM_JSON" cpu_pct)%"
    wrong=$((wrong + FM_WRONG))
    printf '%-5s %4s site(s) x %3s staff: max good rate %6s calls/s (find-max %s, stopped: %s); p50 %s us, p99 %s us; cpu at best step: %s\n' \
        "$cfg" "$sites" "$staff" "$FM_RATE" "$(json_num "$FM_JSON" max_good_rate)" \
        "$(grep -o '"stop_reason":"[^"]*"' "$FM_JSON" | head -n 1 | cut -d'"' -f4)" \
        "$(json_num "$FM_JSON" p50_us)" "$(json_num "$FM_JSON" p99_us)" "${CPU[$cfg]}" | tee -a "$OUT/scale.txt"
done

ratio=$(awk -v a="${RATE[large]}" -v b="${RATE[small]}" 'BEGIN { if (a > 0 && b > 0) printf "%.2f", a / b; else print "n/a" }')
met=$(awk -v r="$ratio" 'BEGIN { print (r != "n/a" && r >= 0.90) ? "met" : "NOT met" }')
echo "scale: small=${RATE[small]} large=${RATE[large]} calls/s, ratio large/small=$ratio (target >= 0.90: $met), wrong answers: $wrong" | tee -a "$OUT/scale.txt"
[ "$wrong" -eq 0 ] && [ "$met" = met ]
