#!/usr/bin/env bash
# flood.sh -- `make bench-flood`: does the trusted trunk keep its calls
# while a stranger, or another trusted source gone wild, floods the proxy?
#
# Seeds the clinic network (200 sites x 40 staff; FD_FLOOD_SITES,
# FD_FLOOD_STAFF) with rules that trust 127.0.0.1 (the trunk) and
# 127.0.0.3 (another PBX) only, starts the proxy with --source-rate
# SOURCE_RATE (3 x RATE: the trunk's INVITEs and ACKs with room to spare),
# then, RUNS (3) times interleaved:
#   alone    the trunk from 127.0.0.1 at RATE (2000) calls/s, open loop,
#            SECONDS (10) s, every 302 checked against the seed;
#   stranger the same trunk run while a stranger on 127.0.0.2 sends INVITEs
#            to the seeded numbers at FACTOR (10) times that rate (it never
#            gets an answer: strangers are dropped unread);
#   trusted  the same while the other PBX, 127.0.0.3, trusted, does so (its
#            requests past SOURCE_RATE are dropped: it cannot starve the
#            trunk).
# The figure: the share of the trunk's calls answered right (a 302 that
# matches the seed, fallbacks while staff were free counted as lost) in
# each run, with frontdesk_untrusted_source_total and _source_limited_total
# over it. Target: the flooded trunk keeps >= 90% of its calls answered
# right in every run.
#
# Results: build/bench/flood/ (JSON of every run, flood.txt). Bounded:
# every fd-bench run has a call count and a duration.
#
# Exit status: 0 target met in every flooded run, 1 not, 2 when the bench
# could not run.
NAME=flood
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

RATE=${FD_FLOOD_RATE:-2000}
FACTOR=${FD_FLOOD_FACTOR:-10}
SECONDS_RUN=${FD_FLOOD_SECONDS:-10}
SOURCE_RATE=${FD_FLOOD_SOURCE_RATE:-$((3 * RATE))}
RUNS=${FD_FLOOD_RUNS:-3}
SITES=${FD_FLOOD_SITES:-200}
STAFF=${FD_FLOOD_STAFF:-40}
for v in RATE FACTOR SECONDS_RUN RUNS SITES STAFF SOURCE_RATE; do
    case ${!v} in ''|*[!0-9]*) say "$v must be a number"; exit 2;; esac
done
[ "$RUNS" -ge 1 ] && [ "$RUNS" -le 9 ] || { say "FD_FLOOD_RUNS: 1 to 9"; exit 2; }

bench_redis
bench_seed "$SITES" "$STAFF" net
# the seeded rules trust loopback; here only the trunk's and another PBX's
sed -i 's|^trusted: .*|trusted: ["127.0.0.1", "127.0.0.3"]|' "$FD_RUN/net.yaml"
grep -q '^trusted: \["127.0.0.1", "127.0.0.3"\]$' "$FD_RUN/net.yaml" || { say "the seeded rules name no trusted sources"; exit 2; }
FD_BENCH_PROXY_FLAGS="${FD_BENCH_PROXY_FLAGS:-} --source-rate $SOURCE_RATE" bench_proxy "$FD_RUN/net.yaml"
bench_warm "$FD_RUN/net.truth"
say "proxy on $TARGET (pid $FD_PROXY_PID, --source-rate $SOURCE_RATE), trunk 127.0.0.1 at $RATE/s, floods from 127.0.0.2 (stranger) and 127.0.0.3 (trusted) at $((RATE * FACTOR))/s, ${SECONDS_RUN}s runs"

metric() { stack_http "$FD_ADMIN_PORT" /metrics | awk -v m="frontdesk_$1_total" '$1 == m { print $2 }'; }
# right_pct JSON: right answers (302s matching the seed) per call sent, %
right_pct() {
    local sent right
    sent=$(json_num "$1" sent); right=$(json_num "$1" right)
    [ -z "$right" ] && right=$(( $(json_num "$1" answered) - $(json_num "$1" wrong) - $(json_num "$1" missed) ))
    awk -v r="${right:-0}" -v s="${sent:-0}" 'BEGIN { printf "%.2f", s ? 100 * r / s : 0 }'
}

count=$((RATE * SECONDS_RUN))
fail=0
: >"$OUT/flood.txt"
for run in $(seq 1 "$RUNS"); do
    for mode in alone stranger trusted; do
        json=$OUT/$mode-$run.json
        spid=""
        u0=$(metric untrusted_source) l0=$(metric source_limited)
        if [ $mode != alone ]; then
            if [ $mode = stranger ]; then from=127.0.0.2; else from=127.0.0.3; fi
            "$BENCH" run --target "$TARGET" --from "$from" --truth "$FD_RUN/net.truth" --sources 8 \
                --rate $((RATE * FACTOR)) --count $((count * FACTOR)) --duration $((SECONDS_RUN + 2)) \
                --timeout-ms 200 --json >"$OUT/$mode-flood-$run.json" 2>/dev/null &
            spid=$!
            FD_PIDS="$FD_PIDS $spid"
            sleep 0.5 # the flood running before the trunk's first call
        fi
        fdb run --target "$TARGET" --single-source --truth "$FD_RUN/net.truth" --rate "$RATE" \
            --count "$count" --duration $((SECONDS_RUN + 3)) --json >"$json" 2>/dev/null
        if [ -n "$spid" ]; then
            wait "$spid" 2>/dev/null
            FD_PIDS=${FD_PIDS/ $spid/}
        fi
        u1=$(metric untrusted_source) l1=$(metric source_limited)
        pct=$(right_pct "$json")
        line=$(printf '%-8s run %s: trunk sent %s, answered right %s%%, p99 %s us; flood sent %s, refused as strangers %s, over the source rate %s' \
            "$mode" "$run" "$(json_num "$json" sent)" "$pct" "$(json_num "$json" p99_us)" \
            "$( [ -n "$spid" ] && json_num "$OUT/$mode-flood-$run.json" sent || echo 0)" "$((u1 - u0))" "$((l1 - l0))")
        echo "$line" | tee -a "$OUT/flood.txt"
        if [ $mode != alone ] && ! awk -v p="$pct" 'BEGIN { exit !(p >= 90) }'; then fail=1; fi
    done
done
med() { grep "^$1" "$OUT/flood.txt" | sed -n 's/.*answered right \([0-9.]*\)%.*/\1/p' | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
echo "flood: trunk answered right, median: alone $(med alone)% stranger-flood $(med stranger)% trusted-flood $(med trusted)% (floods at ${FACTOR}x; target >= 90%: $([ $fail = 0 ] && echo met || echo NOT met))" | tee -a "$OUT/flood.txt"
exit $fail
