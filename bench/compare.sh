#!/usr/bin/env bash
# compare.sh -- `make bench-compare`: the same load, in the same run, against
# Frontdesk and against Kamailio from Debian, and the ratios.
#
# Four configurations, all on loopback, each loaded from ONE source address
# and port (fd-bench --single-source: one PBX trunk), each proxy with two
# workers:
#
#   fd_redis    Frontdesk on the seeded clinic network (fd-bench seed, 200
#               sites x 40 staff, one Redis with the demo group too): every
#               call picks staff in Redis (one FCALL), calls rotate over
#               every site's number and menu option, and every answer is
#               judged against the seed (--truth): a 302 to the fallback
#               alone while the seed had somebody free counts as LOST.
#               --offer-window 1 so picks keep finding free staff
#   kam_redis   Kamailio, bench/peers/kamailio-redis.cfg: one HGET through
#               ndb_redis per call, its answer as the Contact
#   fd_static   Frontdesk on the demo rules, calls to the closed Annex
#               (15125550400): answered from the rules alone, no Redis
#   kam_static  Kamailio, bench/peers/kamailio-static.cfg: a fixed Contact
#   ref_302     the floor: build/min302 (bench/peers/min302.c), a minimal
#               hand-written 302 server; the proxy's own CPU per call on the
#               static route is judged against its (target: at most 1.5x)
#
# Two more, only when asked for in FD_COMPARE_ONLY: fd_redis_log and
# fd_static_log, the same calls to Frontdesks that log every call
# (--log-level info) to their log files under run/bench-compare/ (only the
# last 1000 lines are kept on exit).
#
# Every configuration gets RUNS (3) runs, interleaved (A B C D, A B C D,
# A B C D) so that whatever else the machine does hits all four alike. A run
# measures, one after the other:
#
#   paced   THE FIGURE. `fd-bench run --find-max --single-source --step 2`:
#           the highest open-loop rate with no wrong answer, loss <= 0.1%
#           (unanswered calls, plus fallbacks while staff were free),
#           p99 <= 50 ms and the generator keeping up. find-max multiplies
#           the rate by 1.5 a step, too coarse for a ratio, so the run then
#           bisects between its last good and its first bad rate (REFINE
#           probes in log space, each an open-loop run of STEP seconds
#           judged the same way). p50/p99 are those of the highest good
#           step. A clinic's calls arrive one at a time: this is the rate a
#           proxy sustains.
#   closed  shown beside: CLOSED (5) seconds of closed loop, 64 calls in
#           flight (`--rate max --inflight 64`): the calls/s answered. It
#           lets requests queue and batch, so it flatters whoever batches.
#   cpu     one open-loop run of CPU_SECONDS (3) at CPU_RATE (4000) calls/s,
#           the same rate for every configuration: the proxy's CPU time
#           (all its threads or processes, /proc/PID/task/*/schedstat) and
#           Redis's over the run, divided by the calls answered.
#
# A configuration's figure is the median over its runs. The last line is
#
#   compare: frontdesk_redis/kamailio_redis=R1 frontdesk_static/kamailio_static=R2 cpu_redis=C1 cpu_static=C2
#
# R1, R2: ratios of the paced (open-loop sustained) medians. C1, C2:
# Kamailio's CPU per call divided by Frontdesk's (higher is better):
# proxy + Redis for the Redis path, the proxy alone for the static one.
# The line above gives the closed-loop ratios (not the figure).
#
# Environment (all optional):
#   FD_COMPARE_RUNS=3       runs per configuration (median taken), 1 to 9
#   FD_COMPARE_CLOSED=5     seconds of closed loop per run (0: none)
#   FD_COMPARE_STEP=2       seconds per find-max step and per probe
#   FD_COMPARE_REFINE=2     bisection probes after each find-max (0: none)
#   FD_COMPARE_CPU_RATE=4000  calls/s of the CPU run (0: no CPU run)
#   FD_COMPARE_CPU_SECONDS=3
#   FD_COMPARE_SITES=200 FD_COMPARE_STAFF=40   the seeded network of fd_redis
#   FD_COMPARE_ONLY="fd_static kam_static"   the configurations to run, in
#                           this order (default: the four above)
#   FD_COMPARE_FD_FLAGS=""  more flags for the Frontdesk proxies (e.g.
#                           "--history-days 0": what the call history costs)
#   FD_COMPARE_KAM_MEM=fm   Kamailio's memory manager (kamailio -x): fm,
#                           tlsf, or qm, Kamailio's default, a debugging
#                           allocator that costs it about two thirds of its
#                           rate
#
# Starts: a private redis-server with the demo clinic group and the seeded
# network, two Frontdesks (network, demo) and two Kamailios
# (deploy/stack.sh, run/bench-compare/); stops all of them by PID on exit,
# Ctrl-C included. Installs the Debian packages kamailio and
# kamailio-redis-modules first when they are missing (only this target
# needs them). Results: build/bench/compare/ (one JSON per fd-bench run,
# the table in compare.txt). Bounded: every fd-bench run has a call count
# and a duration; the whole thing takes about 8 minutes on 2 cores.
#
# Exit status: 0 when no answer was wrong and every configuration has a
# median above 0, 1 otherwise, 2 when the bench could not run.

set -u
cd "$(dirname "$0")/.." || exit 2
ROOT=$PWD
BENCH=$ROOT/build/fd-bench
FRONTDESK=$ROOT/build/frontdesk
PEERS=$ROOT/bench/peers
RUN=$ROOT/run/bench-compare
OUT=$ROOT/build/bench/compare

RUNS=${FD_COMPARE_RUNS:-3}
STEP=${FD_COMPARE_STEP:-2}
REFINE=${FD_COMPARE_REFINE:-2}
CLOSED=${FD_COMPARE_CLOSED:-5}
CPU_RATE=${FD_COMPARE_CPU_RATE:-4000}
CPU_SECONDS=${FD_COMPARE_CPU_SECONDS:-3}
SITES=${FD_COMPARE_SITES:-200}
STAFF=${FD_COMPARE_STAFF:-40}
CONFIGS=${FD_COMPARE_ONLY:-fd_redis kam_redis fd_static kam_static ref_302}
KAM_MEM=${FD_COMPARE_KAM_MEM:-fm}
WORKERS=2
T0=$(date +%s)

say() { echo "compare: $*" >&2; }

for v in RUNS STEP REFINE CLOSED CPU_RATE CPU_SECONDS SITES STAFF; do
    case ${!v} in ''|*[!0-9]*) say "FD_COMPARE_$v must be a number"; exit 2;; esac
done
if [ "$RUNS" -lt 1 ] || [ "$RUNS" -gt 9 ]; then say "FD_COMPARE_RUNS: 1 to 9"; exit 2; fi
if [ "$STEP" -lt 1 ] || [ "$STEP" -gt 10 ]; then say "FD_COMPARE_STEP: 1 to 10"; exit 2; fi
[ "$REFINE" -le 4 ] || { say "FD_COMPARE_REFINE: 0 to 4"; exit 2; }
[ "$CLOSED" -le 10 ] || { say "FD_COMPARE_CLOSED: 0 to 10"; exit 2; }
[ "$CPU_RATE" -le 50000 ] || { say "FD_COMPARE_CPU_RATE: 0 to 50000"; exit 2; }
[ "$CPU_SECONDS" -ge 1 ] && [ "$CPU_SECONDS" -le 10 ] || { say "FD_COMPARE_CPU_SECONDS: 1 to 10"; exit 2; }
[ "$SITES" -ge 2 ] && [ "$SITES" -le 1000 ] || { say "FD_COMPARE_SITES: 2 to 1000"; exit 2; }
[ "$STAFF" -ge 1 ] && [ "$STAFF" -le 200 ] || { say "FD_COMPARE_STAFF: 1 to 200"; exit 2; }
case $KAM_MEM in fm|tlsf|qm) ;; *) say "FD_COMPARE_KAM_MEM: fm, tlsf or qm"; exit 2;; esac
for c in $CONFIGS; do
    case $c in fd_redis|kam_redis|fd_static|kam_static|ref_302|fd_redis_log|fd_static_log) ;;
        *) say "unknown configuration '$c' in FD_COMPARE_ONLY"; exit 2;; esac
done

for b in "$BENCH" "$FRONTDESK" "$ROOT/build/min302"; do
    [ -x "$b" ] || { say "$b is missing: run make first"; exit 2; }
done

# Kamailio from Debian, installed when missing (bench/kamailio.sh: only the
# benches against Kamailio need it, so deploy/deps.sh does not install it)
# shellcheck source=bench/kamailio.sh
. "$ROOT/bench/kamailio.sh" || { say "bench/kamailio.sh failed to load"; exit 2; }
KAM_RUN=$RUN KAM_WORKERS=$WORKERS
kam_install || exit 2

# ---------------------------------------------------------------------------
# The stack: Redis + demo data + Frontdesk (deploy/stack.sh), two Kamailios
# ---------------------------------------------------------------------------

rm -rf "$RUN"
mkdir -p "$RUN" "$OUT" || exit 2
rm -f "$OUT"/*.json "$OUT"/compare.txt
# read by deploy/stack.sh
# shellcheck disable=SC2034
FD_RUN=$RUN FD_BIN=$FRONTDESK
# shellcheck source=/dev/null
. "$ROOT/deploy/stack.sh" || { say "deploy/stack.sh failed to load"; exit 2; }

FDL_LOG="" FRL_LOG=""
SAMPLER_PID=""
BENCH_PID=""

# shellcheck disable=SC2317 # called from the traps
cleanup() {
    [ -n "$BENCH_PID" ] && kill -TERM "$BENCH_PID" 2>/dev/null && wait "$BENCH_PID" 2>/dev/null
    [ -n "$SAMPLER_PID" ] && kill "$SAMPLER_PID" 2>/dev/null && wait "$SAMPLER_PID" 2>/dev/null
    BENCH_PID="" SAMPLER_PID=""
    kam_stop
    stack_stop
    # the logging Frontdesks write ~200 bytes a call: keep only the tails
    for l in "${FDL_LOG:-}" "${FRL_LOG:-}"; do
        if [ -n "$l" ] && [ -f "$l" ]; then tail -n 1000 "$l" >"$l.tail" && rm -f "$l"; fi
    done
}
# shellcheck disable=SC2317 # called from the traps
on_signal() { say "interrupted"; exit "$1"; }
trap cleanup EXIT
trap 'on_signal 130' INT
trap 'on_signal 143' TERM
trap 'on_signal 129' HUP

say "starting redis, the demo clinic group, the seeded network, two frontdesks and two kamailios under ${RUN#"$ROOT"/}"
if ! stack_start_redis || ! stack_seed_demo >/dev/null; then
    say "could not start Redis with the demo data"; exit 2
fi
NET_RULES=$RUN/net.yaml NET_TRUTH=$RUN/net.truth
if ! "$BENCH" seed --redis "127.0.0.1:$FD_REDIS_PORT" --sites "$SITES" --staff-per-site "$STAFF" \
        --rules-out "$NET_RULES" --truth-out "$NET_TRUTH" >"$RUN/seed.txt" 2>&1; then
    say "fd-bench seed failed: $(tail -n 3 "$RUN/seed.txt")"; exit 2
fi
# the same key as the demo's proxies: the seeded rules are not caller-aware
# shellcheck disable=SC2086
if ! FD_CONFIG=$NET_RULES stack_start_proxy "" --workers "$WORKERS" --offer-window 1 --site-picks 0 --source-rate 0 --log-level warn ${FD_COMPARE_FD_FLAGS:-}; then
    say "could not start frontdesk on the seeded network"; exit 2
fi
FR_PORT=$FD_SIP_PORT FR_PID=$FD_PROXY_PID
if ! stack_start_proxy "" --workers "$WORKERS" --offer-window 1 --site-picks 0 --source-rate 0 --log-level warn; then
    say "could not start frontdesk"; exit 2
fi
FD_PORT=$FD_SIP_PORT FD_PID=$FD_PROXY_PID
FDL_PORT="" FDL_PID="" FRL_PORT="" FRL_PID=""
case " $CONFIGS " in *_log\ *)
    if ! stack_start_proxy "" --workers "$WORKERS" --offer-window 1 --site-picks 0 --source-rate 0 --log-level info; then
        say "could not start the logging frontdesk"; exit 2
    fi
    FDL_PORT=$FD_SIP_PORT FDL_PID=$FD_PROXY_PID FDL_LOG=$FD_PROXY_LOG
    if ! FD_CONFIG=$NET_RULES stack_start_proxy "" --workers "$WORKERS" --offer-window 1 --site-picks 0 --source-rate 0 --log-level info; then
        say "could not start the logging frontdesk"; exit 2
    fi
    FRL_PORT=$FD_SIP_PORT FRL_PID=$FD_PROXY_PID FRL_LOG=$FD_PROXY_LOG
    ;;
esac
kam_start static "$PEERS/kamailio-static.cfg" || exit 2
KS_PORT=$KAM_PORT KS_PID=$KAM_PID
kam_start redis "$PEERS/kamailio-redis.cfg" \
    -A "REDIS_SERVER=\"name=fd;addr=127.0.0.1;port=$FD_REDIS_PORT\"" || exit 2
KR_PORT=$KAM_PORT KR_PID=$KAM_PID
REF_PORT=$(stack_free_port) || exit 2
"$ROOT/build/min302" --listen "127.0.0.1:$REF_PORT" --contact sip:frontdesk@pbx.downtown.hillcountry.example \
    --seconds 3600 >"$RUN/min302.log" 2>&1 &
REF_PID=$!
FD_PIDS="$FD_PIDS $REF_PID"

# ---------------------------------------------------------------------------
# One configuration
# ---------------------------------------------------------------------------

cfg_target() {
    case $1 in
        fd_redis_log) echo "127.0.0.1:$FRL_PORT";;
        fd_static_log) echo "127.0.0.1:$FDL_PORT";;
        fd_redis) echo "127.0.0.1:$FR_PORT";;
        fd_static) echo "127.0.0.1:$FD_PORT";;
        kam_static) echo "127.0.0.1:$KS_PORT";;
        kam_redis) echo "127.0.0.1:$KR_PORT";;
        ref_302) echo "127.0.0.1:$REF_PORT";;
    esac
}
# what fd-bench calls and how it judges the answers, for a configuration
cfg_calls() {
    case $1 in
        fd_redis|fd_redis_log) echo "--truth $NET_TRUTH";;
        fd_static|fd_static_log) echo "--to 15125550400 --expect-contacts $FD_EXPECT_CONTACTS";;
        kam_*|ref_302) echo "--to 15125550100 --expect-contacts $FD_EXPECT_CONTACTS";;
    esac
}
# the processes whose CPU counts as "proxy" for a configuration
cfg_proxy_pids() {
    case $1 in
        fd_redis_log) echo "$FRL_PID";;
        fd_static_log) echo "$FDL_PID";;
        fd_redis) echo "$FR_PID";;
        fd_static) echo "$FD_PID";;
        kam_static) echo "$KS_PID $(children_of "$KS_PID")";;
        kam_redis) echo "$KR_PID $(children_of "$KR_PID")";;
        ref_302) echo "$REF_PID";;
    esac
}
cfg_label() {
    case $1 in
        fd_redis) echo "frontdesk, Redis pick (FCALL)";;
        fd_redis_log) echo "fd_redis, info log to a file";;
        kam_redis) echo "kamailio, ndb_redis HGET";;
        fd_static) echo "frontdesk, static (closed site)";;
        fd_static_log) echo "fd_static, info log to a file";;
        kam_static) echo "kamailio, static Contact";;
        ref_302) echo "minimal hand-written 302 server";;
    esac
}

# json_num FILE KEY: the first (top-level) numeric value of KEY
json_num() {
    grep -o "\"$2\":[-0-9.]*" "$1" 2>/dev/null | head -n 1 | cut -d: -f2
}

# CPU sampler: every 0.5 s, the CPU used by each group of processes over
# the last second; keeps each group's highest value (100 = one core).
# Groups: "proxy" (given PIDs), "redis", "gen" (fd-bench, once it runs).
ticks_of() { # PID... -> utime+stime summed, in clock ticks
    local p s f t=0
    for p in "$@"; do
        read -r s 2>/dev/null <"/proc/$p/stat" || continue
        s=${s##*) }
        read -r -a f <<<"$s"
        t=$((t + f[11] + f[12]))
    done
    echo "$t"
}
HZ=$(getconf CLK_TCK 2>/dev/null || echo 100)
sampler() { # outfile genpidfile proxy-pids...
    local out=$1 genfile=$2 gen pp rp gp
    shift 2
    local -a hp hr hg hgp
    local i=0 max_p=0 max_r=0 max_g=0 d
    while :; do
        gen=""; [ -s "$genfile" ] && read -r gen <"$genfile"
        pp=$(ticks_of "$@"); rp=$(ticks_of "$FD_REDIS_PID")
        gp=0; [ -n "$gen" ] && gp=$(ticks_of "$gen")
        hp[i]=$pp hr[i]=$rp hg[i]=$gp hgp[i]=${gen:-0}
        if [ "$i" -ge 2 ]; then
            d=$(( (pp - hp[i-2]) * 100 / HZ )); [ "$d" -gt "$max_p" ] && max_p=$d
            d=$(( (rp - hr[i-2]) * 100 / HZ )); [ "$d" -gt "$max_r" ] && max_r=$d
            # fd-bench: only across two samples of the same, living process
            if [ -n "$gen" ] && [ "${hgp[i-2]}" = "$gen" ] && [ "$gp" -ge "${hg[i-2]}" ] && [ "${hg[i-2]}" -gt 0 ]; then
                d=$(( (gp - hg[i-2]) * 100 / HZ )); [ "$d" -gt "$max_g" ] && max_g=$d
            fi
            echo "$max_p $max_r $max_g" >"$out.tmp" && mv "$out.tmp" "$out"
        fi
        i=$((i + 1))
        sleep 0.5
    done
}

# probe TARGET CFG RATE JSON: one open-loop run of STEP seconds at RATE,
# judged like a find-max step; 0 good, 1 not good
probe() {
    local target=$1 cfg=$2 rate=$3 json=$4 count wrong loss p99 sent
    count=$((rate * STEP))
    # shellcheck disable=SC2046 # cfg_calls gives several flags
    "$BENCH" run --target "$target" --single-source $(cfg_calls "$cfg") \
        --rate "$rate" --count "$count" --duration $((STEP + 3)) --json >"$json" 2>/dev/null &
    BENCH_PID=$!
    wait "$BENCH_PID"
    BENCH_PID=""
    wrong=$(json_num "$json" wrong); loss=$(json_num "$json" loss_pct)
    p99=$(json_num "$json" p99_us); sent=$(json_num "$json" sent)
    [ -n "$wrong" ] && [ -n "$loss" ] && [ -n "$p99" ] && [ -n "$sent" ] || return 1
    awk -v w="$wrong" -v l="$loss" -v p="$p99" -v s="$sent" -v c="$count" \
        'BEGIN { exit !(w == 0 && l <= 0.1 && p <= 50000 && s >= 0.95 * c) }'
}

# ns on CPU of PID..., all their threads (schedstat: finer than the 10 ms
# ticks of stat)
cpu_ns() {
    local p
    for p in "$@"; do cat /proc/"$p"/task/*/schedstat 2>/dev/null; done | awk '{ s += $1 } END { printf "%.0f", s }'
}

# run_config CFG ROUND: the closed loop, find-max and its probes, the CPU
# run; appends one line to $OUT/results:
#   cfg round closed paced findmax p50 p99 cpu_proxy cpu_redis cpu_gen wrong stop us_proxy us_redis
# returns 2 when fd-bench could not run
run_config() {
    local cfg=$1 round=$2 target json good bad mid k rc=0 calls
    local closed=0 paced=0 fm=0 p50="" p99="" stop="-" cpu genfile wrong=0 f
    local usp=0 usr=0 t0 t1 r0 r1 ans
    target=$(cfg_target "$cfg"); calls=$(cfg_calls "$cfg")
    genfile=$RUN/gen.pid; : >"$genfile"
    # shellcheck disable=SC2046 # one PID per word
    sampler "$RUN/cpu" "$genfile" $(cfg_proxy_pids "$cfg") &
    SAMPLER_PID=$!

    if [ "$CLOSED" -gt 0 ]; then
        json=$OUT/$cfg-$round-closed.json
        # shellcheck disable=SC2086 # cfg_calls gives several flags
        "$BENCH" run --target "$target" --single-source $calls \
            --rate max --inflight 64 --count 1000000 --duration $((CLOSED + 1)) --json \
            >"$json" 2>"$RUN/$cfg-$round-closed.err" &
        BENCH_PID=$!
        echo "$BENCH_PID" >"$genfile"
        wait "$BENCH_PID"
        [ $? -eq 2 ] && rc=2
        BENCH_PID=""
        closed=$(json_num "$json" cps); closed=${closed%.*}; closed=${closed:-0}
        sleep 0.5
    fi

    if [ "$rc" -ne 2 ]; then
        json=$OUT/$cfg-$round.json
        # shellcheck disable=SC2086 # cfg_calls gives several flags
        "$BENCH" run --target "$target" --find-max --single-source --step "$STEP" $calls \
            --count 200000 --duration 60 --json >"$json" 2>"$RUN/$cfg-$round.err" &
        BENCH_PID=$!
        echo "$BENCH_PID" >"$genfile"
        wait "$BENCH_PID"
        [ $? -eq 2 ] && rc=2
        BENCH_PID=""
        fm=$(json_num "$json" max_good_rate); fm=${fm%.*}; fm=${fm:-0}
        p50=$(json_num "$json" p50_us); p99=$(json_num "$json" p99_us)
        stop=$(grep -o '"stop_reason":"[^"]*"' "$json" | head -n 1 | cut -d'"' -f4)
        paced=$fm
        # bisect between the last good rate and the first bad one (x1.5)
        if [ "$fm" -gt 0 ] && [ "$REFINE" -gt 0 ] && [ "$rc" -ne 2 ]; then
            good=$fm
            bad=$(awk -v g="$fm" 'BEGIN { printf "%d", g * 1.5 }')
            for k in $(seq 1 "$REFINE"); do
                mid=$(awk -v g="$good" -v b="$bad" 'BEGIN { printf "%d", sqrt(g * b) }')
                if probe "$target" "$cfg" "$mid" "$OUT/$cfg-$round-probe$k.json"; then
                    good=$mid
                    p50=$(json_num "$OUT/$cfg-$round-probe$k.json" p50_us)
                    p99=$(json_num "$OUT/$cfg-$round-probe$k.json" p99_us)
                else
                    bad=$mid
                fi
            done
            paced=$good
        fi
    fi

    if [ "$CPU_RATE" -gt 0 ] && [ "$rc" -ne 2 ]; then
        json=$OUT/$cfg-$round-cpu.json
        sleep 0.5
        # shellcheck disable=SC2046 # one PID per word
        t0=$(cpu_ns $(cfg_proxy_pids "$cfg")) r0=$(cpu_ns "$FD_REDIS_PID")
        # shellcheck disable=SC2086 # cfg_calls gives several flags
        "$BENCH" run --target "$target" --single-source $calls --rate "$CPU_RATE" \
            --count $((CPU_RATE * CPU_SECONDS)) --duration $((CPU_SECONDS + 2)) --json \
            >"$json" 2>"$RUN/$cfg-$round-cpu.err" &
        BENCH_PID=$!
        echo "$BENCH_PID" >"$genfile"
        wait "$BENCH_PID"
        BENCH_PID=""
        # shellcheck disable=SC2046 # one PID per word
        t1=$(cpu_ns $(cfg_proxy_pids "$cfg")) r1=$(cpu_ns "$FD_REDIS_PID")
        ans=$(json_num "$json" answered)
        usp=$(awk -v t=$((t1 - t0)) -v n="${ans:-0}" 'BEGIN { printf "%.1f", n ? t / 1e3 / n : 0 }')
        usr=$(awk -v t=$((r1 - r0)) -v n="${ans:-0}" 'BEGIN { printf "%.1f", n ? t / 1e3 / n : 0 }')
    fi

    sleep 0.6 # one more CPU sample
    kill "$SAMPLER_PID" 2>/dev/null; wait "$SAMPLER_PID" 2>/dev/null
    SAMPLER_PID=""
    cpu=$(cat "$RUN/cpu" 2>/dev/null); cpu=${cpu:-"- - -"}
    rm -f "$RUN/cpu"
    # wrong answers anywhere in this run (every step of every fd-bench run)
    for f in "$OUT/$cfg-$round"*.json; do
        [ -f "$f" ] || continue
        k=$(grep -o '"wrong":[0-9]*' "$f" | cut -d: -f2 | awk '{ n += $1 } END { print n + 0 }')
        wrong=$((wrong + k))
    done
    stop=${stop:--}
    # shellcheck disable=SC2086 # three numbers
    echo "$cfg $round $closed $paced $fm ${p50:--} ${p99:--} $cpu $wrong ${stop// /_} $usp $usr" >>"$OUT/results"
    # shellcheck disable=SC2086 # three numbers
    printf '  %-13s run %d  paced %6d/s (find-max %d/s, stopped on: %s)  p50 %s us  p99 %s us  closed %6d/s  cpu at %d/s: proxy %s redis %s us/call  wrong %d  peak cpu: proxy %s%% redis %s%% fd-bench %s%%\n' \
        "$cfg" "$round" "$paced" "$fm" "$stop" "${p50:--}" "${p99:--}" "$closed" "$CPU_RATE" "$usp" "$usr" "$wrong" $cpu
    return "$rc"
}

# ---------------------------------------------------------------------------
# The runs, interleaved
# ---------------------------------------------------------------------------

[ -n "$FDL_PID" ] && echo "== logging frontdesk on 127.0.0.1:$FDL_PORT (pid $FDL_PID), logs to ${FDL_LOG#"$ROOT"/}"
echo "== frontdesk on the seeded network ($SITES x $STAFF) on 127.0.0.1:$FR_PORT (pid $FR_PID), on the demo on 127.0.0.1:$FD_PORT (pid $FD_PID), kamailio static on 127.0.0.1:$KS_PORT (pid $KS_PID), kamailio redis on 127.0.0.1:$KR_PORT (pid $KR_PID), redis on 127.0.0.1:$FD_REDIS_PORT"
echo "== $RUNS rounds of: $CONFIGS; each: ${CLOSED} s closed loop, find-max --single-source --step $STEP and $REFINE bisection probes, ${CPU_SECONDS} s at $CPU_RATE calls/s for the CPU; kamailio -x $KAM_MEM"
# two calls to every seeded number and option, not measured: the first
# pick of a queue at a site builds it (docs/redis.md)
n=$(( $(grep -c '^site ' "$NET_TRUTH") * $(grep -c '^menu ' "$NET_TRUTH") * 2 ))
"$BENCH" run --target "127.0.0.1:$FR_PORT" --truth "$NET_TRUTH" --rate 1000 --count "$n" \
    --duration $((n / 1000 + 5)) --json >"$OUT/warm.json" 2>"$RUN/warm.err"
if [ -n "$FRL_PORT" ]; then
    "$BENCH" run --target "127.0.0.1:$FRL_PORT" --truth "$NET_TRUTH" --rate 1000 --count "$n" \
        --duration $((n / 1000 + 5)) --json >"$OUT/warm-log.json" 2>>"$RUN/warm.err"
fi
: >"$OUT/results"
for round in $(seq 1 "$RUNS"); do
    for cfg in $CONFIGS; do
        if ! run_config "$cfg" "$round"; then
            say "fd-bench could not run ($cfg); see ${RUN#"$ROOT"/}/$cfg-$round*.err"
            exit 2
        fi
        sleep 1
    done
done

# ---------------------------------------------------------------------------
# The table and the ratios
# ---------------------------------------------------------------------------

# median of the numbers on stdin (the lower middle one for an even count)
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print 0 }'; }
fmedian() { sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print 0 }'; }
# col CFG N: column N of CFG's lines in the results
col() { awk -v c="$1" -v n="$2" '$1 == c { print $n }' "$OUT/results"; }

status=0
declare -A CMED PMED UPMED URMED
for cfg in $CONFIGS; do
    CMED[$cfg]=$(col "$cfg" 3 | median)
    PMED[$cfg]=$(col "$cfg" 4 | median)
    UPMED[$cfg]=$(col "$cfg" 13 | fmedian)
    URMED[$cfg]=$(col "$cfg" 14 | fmedian)
    [ "${PMED[$cfg]}" -gt 0 ] || status=1
    [ "$(col "$cfg" 11 | awk '{ n += $1 } END { print n + 0 }')" -eq 0 ] || status=1
done
# ratio A B closed|paced
ratio() {
    local a b
    if [ "$3" = closed ]; then a=${CMED[$1]:-0} b=${CMED[$2]:-0}; else a=${PMED[$1]:-0} b=${PMED[$2]:-0}; fi
    awk -v a="$a" -v b="$b" 'BEGIN { if (a > 0 && b > 0) printf "%.2f", a / b; else printf "n/a" }'
}
# cpu_ratio KAM FD WITH_REDIS: Kamailio's CPU per call / Frontdesk's
cpu_ratio() {
    local k=${UPMED[$1]:-0} f=${UPMED[$2]:-0}
    if [ "$3" = 1 ]; then
        k=$(awk -v a="$k" -v b="${URMED[$1]:-0}" 'BEGIN { print a + b }')
        f=$(awk -v a="$f" -v b="${URMED[$2]:-0}" 'BEGIN { print a + b }')
    fi
    awk -v a="$k" -v b="$f" 'BEGIN { if (a > 0 && b > 0) printf "%.2f", a / b; else printf "n/a" }'
}

{
    echo
    echo "== bench-compare $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)), fd-bench, proxies and Redis on one box"
    echo "   one source port; 2 workers each (kamailio: children=2 on one UDP socket, -x $KAM_MEM); medians of $RUNS run(s)"
    echo "   paced:  THE FIGURE: highest open-loop rate with loss <= 0.1% (fd_redis: a fallback while the seed had"
    echo "           staff free counts as lost), p99 <= 50 ms (find-max x1.5, then $REFINE bisection probes);"
    echo "           p50/p99 at that rate, in the run with the median paced rate"
    echo "   closed: calls/s answered in ${CLOSED} s of closed loop, 64 calls in flight"
    echo "   us/call: CPU per call answered in ${CPU_SECONDS} s at $CPU_RATE calls/s, the proxy's and Redis's"
    echo "   cpu:    highest 1 s CPU of the proxy, Redis and fd-bench during the run with the median closed"
    echo "           figure (100 = one core)"
    echo
    printf '%-13s %-31s %-19s %6s %7s %7s  %-19s %6s %7s %7s %6s %6s %6s\n' config what "paced (calls/s)" median p50_us p99_us "closed (calls/s)" median proxy_us redis_us proxy% redis% bench%
    for cfg in $CONFIGS; do
        cruns=$(col "$cfg" 3 | tr '\n' ' '); pruns=$(col "$cfg" 4 | tr '\n' ' ')
        # the median runs' own lines (the first one with that figure)
        pline=$(awk -v c="$cfg" -v m="${PMED[$cfg]}" '$1 == c && $4 == m { print; exit }' "$OUT/results")
        cline=$(awk -v c="$cfg" -v m="${CMED[$cfg]}" '$1 == c && $3 == m { print; exit }' "$OUT/results")
        read -r _ _ _ _ _ p50 p99 _ <<<"$pline"
        read -r _ _ _ _ _ _ _ cp cr cg _ <<<"$cline"
        printf '%-13s %-31s %-19s %6s %7s %7s  %-19s %6s %7s %7s %6s %6s %6s\n' "$cfg" "$(cfg_label "$cfg")" \
            "$pruns" "${PMED[$cfg]}" "${p50:--}" "${p99:--}" "$cruns" "${CMED[$cfg]}" "${UPMED[$cfg]}" "${URMED[$cfg]}" \
            "${cp:--}" "${cr:--}" "${cg:--}"
    done
    echo
    elapsed=$(( $(date +%s) - T0 ))
    echo "total time: $((elapsed / 60)) min $((elapsed % 60)) s; every fd-bench run's JSON in ${OUT#"$ROOT"/}/"
    if [ "$CLOSED" -gt 0 ]; then
        echo "closed (not the figure): frontdesk_redis/kamailio_redis=$(ratio fd_redis kam_redis closed) frontdesk_static/kamailio_static=$(ratio fd_static kam_static closed)"
    fi
    case " $CONFIGS " in *" ref_302 "*" fd_static "*|*" fd_static "*" ref_302 "*)
        echo "reference: frontdesk_static/min302 cpu_us_per_call=$(awk -v a="${UPMED[fd_static]:-0}" -v b="${UPMED[ref_302]:-0}" 'BEGIN { if (a > 0 && b > 0) printf "%.2f", a / b; else printf "n/a" }') (the proxy's own cost against the floor; target <= 1.5)";;
    esac
    echo "paced, open loop (the figure, medians of $RUNS); cpu: kamailio's CPU per call / frontdesk's (redis: with Redis's):"
    echo "compare: frontdesk_redis/kamailio_redis=$(ratio fd_redis kam_redis paced) frontdesk_static/kamailio_static=$(ratio fd_static kam_static paced) cpu_redis=$(cpu_ratio kam_redis fd_redis 1) cpu_static=$(cpu_ratio kam_static fd_static 0)"
} | tee "$OUT/compare.txt"

exit "$status"
