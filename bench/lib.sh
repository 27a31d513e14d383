# bench/lib.sh -- shared by bench/scale.sh, bench/soak.sh and bench/p99.sh
# (sourced, bash): a private stack on loopback through deploy/stack.sh, a
# seeded clinic network, fd-bench runs that a signal can stop at once.
#
# Set before sourcing: NAME (the script's short name). Gives: ROOT, BENCH,
# FD_RUN (run/bench-NAME/, logs and Redis files), OUT (build/bench/NAME/,
# results), and the functions below. Every process started is stopped by
# PID on exit, Ctrl-C included (stack_stop); nothing else is signalled.

set -u
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2
ROOT=$PWD
BENCH=$ROOT/build/fd-bench
export FD_RUN=$ROOT/run/bench-$NAME
OUT=$ROOT/build/bench/$NAME

say() { echo "$NAME: $*" >&2; }

for f in "$BENCH" "$ROOT/build/frontdesk"; do
    [ -x "$f" ] || { say "${f#"$ROOT"/} is missing: run make first"; exit 2; }
done
rm -rf "$FD_RUN" "$OUT"
mkdir -p "$FD_RUN" "$OUT"
# shellcheck source=/dev/null
. "$ROOT/deploy/stack.sh"

# fd-bench runs in the background so that a signal reaches the script at
# once (bash runs traps only between foreground commands): the trap asks
# fd-bench to stop, waits for it, and the EXIT trap stops the stack.
bench_pid=
on_signal() {
    if [ -n "$bench_pid" ]; then
        kill -TERM "$bench_pid" 2>/dev/null
        wait "$bench_pid" 2>/dev/null
        bench_pid=
    fi
    exit "$1"
}
trap 'stack_stop' EXIT
trap 'on_signal 130' INT
trap 'on_signal 143' TERM
trap 'on_signal 129' HUP

# fdb ARGS...: fd-bench, in the background, waited for; its exit status.
fdb() {
    local rc
    "$BENCH" "$@" &
    bench_pid=$!
    wait "$bench_pid"
    rc=$?
    bench_pid=
    return $rc
}

# json_num FILE KEY: the first (top-level) numeric value of KEY.
json_num() {
    grep -o "\"$2\":[-0-9.]*" "$1" 2>/dev/null | head -n 1 | cut -d: -f2
}

bench_redis() {
    stack_start_redis || { say "could not start redis-server"; exit 2; }
}

# bench_seed SITES STAFF LABEL: seed the network; rules and truth in
# $FD_RUN/LABEL.yaml and $FD_RUN/LABEL.truth.
bench_seed() {
    fdb seed --redis "127.0.0.1:$FD_REDIS_PORT" --sites "$1" --staff-per-site "$2" \
        --rules-out "$FD_RUN/$3.yaml" --truth-out "$FD_RUN/$3.truth" >&2 ||
        { say "fd-bench seed failed"; exit 2; }
}

# bench_proxy RULES: (re)start the proxy on those rules, 2 workers, offers
# reserved for 1 ms (so that picks keep finding free staff, as in
# bench/compare.sh), warnings only in its log, plus FD_BENCH_PROXY_FLAGS.
bench_proxy() {
    if [ -n "${FD_PROXY_PID:-}" ]; then
        kill "$FD_PROXY_PID" 2>/dev/null
        wait "$FD_PROXY_PID" 2>/dev/null
        FD_PIDS=${FD_PIDS/ $FD_PROXY_PID/}
        FD_PROXY_PID=
    fi
    # shellcheck disable=SC2086 # FD_BENCH_PROXY_FLAGS: several flags
    FD_CONFIG=$1 stack_start_proxy "" --offer-window 1 --log-level warn --site-picks 0 --source-rate 0 ${FD_BENCH_PROXY_FLAGS:-} ||
        { say "could not start the proxy"; exit 2; }
    TARGET=127.0.0.1:$FD_SIP_PORT
}

# bench_warm TRUTH: two calls to every seeded number and option, not
# measured: a site's first picks build its availability sets for the
# strategies its menu uses (O(staff) each, docs/redis.md), a one-time cost
# that would otherwise land in the first find-max step. Only wrong answers
# count; they are added to WARM_WRONG.
WARM_WRONG=0
bench_warm() {
    local n w json=$OUT/warm-$RANDOM.json
    n=$(grep -c '^site ' "$1"); n=$((n * $(grep -c '^menu ' "$1") * 2))
    [ "$n" -ge 1000 ] || n=1000
    fdb run --target "$TARGET" --truth "$1" --rate 500 --count "$n" --duration $((n / 500 + 5)) \
        --json >"$json" 2>/dev/null
    w=$(json_num "$json" wrong); WARM_WRONG=$((WARM_WRONG + ${w:-0}))
}

# good_run JSON COUNT: was that open-loop run good, as a find-max step is
# (no wrong answer, loss <= 0.1%, p99 <= 50 ms, >= 95% of the calls sent)?
good_run() {
    local wrong loss p99 sent
    wrong=$(json_num "$1" wrong); loss=$(json_num "$1" loss_pct)
    p99=$(json_num "$1" p99_us); sent=$(json_num "$1" sent)
    [ -n "$wrong" ] && [ -n "$loss" ] && [ -n "$p99" ] && [ -n "$sent" ] || return 1
    awk -v w="$wrong" -v l="$loss" -v p="$p99" -v s="$sent" -v c="$2" \
        'BEGIN { exit !(w == 0 && l <= 0.1 && p <= 50000 && s >= 0.95 * c) }'
}

# find_max LABEL TRUTH STEP REFINE: fd-bench --find-max against the proxy
# (with FD_BENCH_RUN_FLAGS added to every run)
# from START_RATE calls/s (default 500: on a shared 2-core box a Redis
# stall of a few ms already costs the first step at 2000/s; x1.5 a step), then REFINE open-loop probes of STEP seconds bisecting
# between the last good and the first bad rate. Sets FM_RATE (the highest
# good rate, 0 when none), FM_WRONG (wrong answers seen), FM_JSON (the
# find-max JSON). Tables and probes are kept under $OUT/LABEL*.
find_max() {
    local label=$1 truth=$2 step=$3 refine=$4 good bad mid k json w
    FM_JSON=$OUT/$label-findmax.json
    bench_warm "$truth"
    # shellcheck disable=SC2086 # FD_BENCH_RUN_FLAGS: several flags
    fdb run --target "$TARGET" --truth "$truth" --find-max --rate "${START_RATE:-500}" \
        --step "$step" --count 1000000 ${FD_BENCH_RUN_FLAGS:-} \
        --duration 90 --proxy-pid "$FD_PROXY_PID" --redis-pid "$FD_REDIS_PID" \
        --json >"$FM_JSON" 2>"$OUT/$label-findmax.err"
    [ -s "$FM_JSON" ] || { say "fd-bench --find-max failed: $(tail -n 3 "$OUT/$label-findmax.err")"; exit 2; }
    good=$(json_num "$FM_JSON" max_good_rate); good=${good%.*}; good=${good:-0}
    FM_WRONG=$(grep -o '"wrong":[0-9]*' "$FM_JSON" | tail -n +2 | cut -d: -f2 | awk '{ n += $1 } END { print n + 0 }')
    bad=$(awk -v g="$good" 'BEGIN { printf "%d", g * 1.5 }')
    for k in $(seq 1 "$refine"); do
        [ "$good" -gt 0 ] || break
        mid=$(awk -v g="$good" -v b="$bad" 'BEGIN { printf "%d", sqrt(g * b) }')
        [ "$mid" -gt "$good" ] && [ "$mid" -lt "$bad" ] || break
        json=$OUT/$label-probe$k.json
        # shellcheck disable=SC2086 # FD_BENCH_RUN_FLAGS: several flags
        fdb run --target "$TARGET" --truth "$truth" --rate "$mid" --count $((mid * step)) \
            --duration $((step + 3)) ${FD_BENCH_RUN_FLAGS:-} --json >"$json" 2>/dev/null
        w=$(json_num "$json" wrong); FM_WRONG=$((FM_WRONG + ${w:-0}))
        if good_run "$json" $((mid * step)); then good=$mid; else bad=$mid; fi
        say "$label: probe $mid calls/s: $( [ "$good" = "$mid" ] && echo good || echo not good)"
    done
    FM_RATE=$good
    FM_WRONG=$((FM_WRONG + WARM_WRONG))
    WARM_WRONG=0
}

# rss_kb PID: resident memory of a process, kB (VmRSS).
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }
