#!/usr/bin/env bash
# forward.sh -- `make bench-forward`: what forward mode costs per call
# compared with redirect mode, measured side by side in one run.
#
# One Redis, one downstream UAS (build/tests/uas, answering every INVITE
# 100, 180 and 302 at once), and two Frontdesks with two workers each on the same
# rules but for `mode:`: one answers 302 itself (redirect), the other
# relays the INVITE to the picked staff member's phone (the UAS) and its
# answers back (forward). Both make the same Redis pick per call (20 staff
# whose contacts are the UAS; --offer-window 1 so picks keep finding free
# staff). Each run sends the same paced load (RATE calls/s for SECONDS,
# one source address and port, ACK after each final answer) to each proxy
# in turn, RUNS times interleaved; a run's cost is the proxy's
# CPU time (all threads, /proc/PID/task/*/schedstat) divided by the calls
# answered. The last line is the ratio of the medians:
#
#   forward: cpu_us_per_call redirect=A forward=B ratio=B/A
#
# Per run, the Redis CPU over the run divided by the calls answered is
# printed too (the one Redis serves one configuration at a time), and,
# just before the last line, each proxy's cost plus its Redis's (what a
# call costs the routing service), Kamailio's first:
#
#   forward: [kamailio ]with redis cpu_us_per_call redirect=A forward=B ratio=B/A
#
# A forward call handles 10 datagrams at the proxy (INVITE, 100, 180, 302
# and ACK, each in and out) where a redirect call handles 3 (INVITE in,
# 302 out, ACK in); the Redis pick is the same.
#
# The reference: two Kamailios from Debian (bench/peers/kamailio-forward.cfg,
# stateless, two workers each, -x fm) on the same Redis and UAS, one
# redirecting, one forwarding (-A FORWARD), each making one HGET of
# staff member s1's contact per INVITE (the forwarding one also per ACK,
# as Frontdesk looks its decision up in Redis for the ACK). They get the same load
# in the same runs (fd redirect, fd forward, kamailio redirect, kamailio
# forward, RUNS times), and their cost is the CPU time of all their
# processes (the main one and the children it had once ready, every
# task) divided by the calls answered; the line before the last:
#
#   forward: kamailio cpu_us_per_call redirect=A forward=B ratio=B/A
#
# Kamailio is installed when missing, as for bench/compare.sh
# (bench/kamailio.sh); when it cannot be, Frontdesk alone is measured.
#
# Environment: FD_FWD_RUNS=3 (1-9), FD_FWD_RATE=2000 (calls/s, 100-20000),
# FD_FWD_SECONDS=5 (1-30); FD_FWD_PEER=0 skips Kamailio (1, the default,
# measures it); FD_FWD_BASE=PATH: two more Frontdesks, one in each mode,
# run from the binary PATH (another build, e.g. of the commit before a
# change; one that knows --ports-file and port 0, as deploy/stack.sh starts
# it), get the same load in the same runs, and two lines before the
# last compare each mode's cost with the baseline's:
#
#   forward: baseline redirect cpu_us_per_call base=A new=B ratio=B/A
#   forward: baseline forward cpu_us_per_call base=A new=B ratio=B/A
#
# (the before/after of a change to the proxy; both builds must carry the
# same proxy/redis/frontdesk.lua, as each proxy loads its own into Redis
# when it connects); FD_FWD_PROFILE=1: perf (cpu-clock) on each proxy during
# the first run, top symbols in build/bench/forward/*.profile.txt
# (FD_FWD_FREQ=4000 samples/s; FD_FWD_CALLGRAPH="--call-graph dwarf,16384"
# for callers through the libraries, which have no frame pointers). Starts
# its processes under run/bench-forward/ and stops them by PID on exit,
# Ctrl-C included. Results in build/bench/forward/. Exit 0 when every run
# answered every call right (no wrong answer, no loss), 1 otherwise, 2 when
# it could not run.
set -u
cd "$(dirname "$0")/.." || exit 2
FD_ROOT=$PWD
FD_RUN=$FD_ROOT/run/bench-forward
OUT=$FD_ROOT/build/bench/forward
RUNS=${FD_FWD_RUNS:-3} RATE=${FD_FWD_RATE:-2000} SECONDS_=${FD_FWD_SECONDS:-5}
PEER=${FD_FWD_PEER:-1}
say() { echo "forward: $*" >&2; }
for v in RUNS RATE SECONDS_; do
    case ${!v} in ''|*[!0-9]*) say "FD_FWD_${v%_} must be a number"; exit 2;; esac
done
case $PEER in 0|1) ;; *) say "FD_FWD_PEER: 0 or 1"; exit 2;; esac
BASE=${FD_FWD_BASE:-}
[ -z "$BASE" ] || [ -x "$BASE" ] || { say "FD_FWD_BASE: $BASE is not an executable"; exit 2; }
{ [ "$RUNS" -ge 1 ] && [ "$RUNS" -le 9 ]; } || { say "FD_FWD_RUNS: 1 to 9"; exit 2; }
{ [ "$RATE" -ge 100 ] && [ "$RATE" -le 20000 ]; } || { say "FD_FWD_RATE: 100 to 20000"; exit 2; }
{ [ "$SECONDS_" -ge 1 ] && [ "$SECONDS_" -le 30 ]; } || { say "FD_FWD_SECONDS: 1 to 30"; exit 2; }
for b in build/fd-bench build/frontdesk build/frontdeskctl build/tests/uas; do
    [ -x "$b" ] || { say "$b is missing: run make first"; exit 2; }
done
rm -rf "$FD_RUN" "$OUT"; mkdir -p "$FD_RUN" "$OUT"
. "$FD_ROOT/deploy/stack.sh"
# shellcheck source=bench/kamailio.sh
. "$FD_ROOT/bench/kamailio.sh"
KAM_RUN=$FD_RUN
if [ "$PEER" = 1 ] && ! kam_install; then
    say "no kamailio: measuring Frontdesk alone"
    PEER=0
fi

# fd-bench and perf run in the background so that a signal reaches the
# script at once (bash runs traps only between foreground commands); the
# EXIT trap stops them, then the Kamailios and the stack, by PID.
BENCH_PID="" PROF_PID=""
# shellcheck disable=SC2317 # called from the trap
cleanup() {
    [ -n "$BENCH_PID" ] && kill -TERM "$BENCH_PID" 2>/dev/null && wait "$BENCH_PID" 2>/dev/null
    [ -n "$PROF_PID" ] && kill -INT "$PROF_PID" 2>/dev/null && wait "$PROF_PID" 2>/dev/null
    BENCH_PID="" PROF_PID=""
    kam_stop
    stack_stop
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

stack_start_redis && stack_load_functions || { say "redis did not start"; exit 2; }
build/tests/uas --listen 127.0.0.1:0 --name phone --invite 302 --max-seconds $((RUNS * (SECONDS_ + 4) * 4 + 120)) \
    >"$FD_RUN/uas.out" 2>&1 &
UAS_PID=$!
FD_PIDS="$FD_PIDS $UAS_PID"
for i in $(seq 1 50); do
    UAS=$(sed -n 's/^listening 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$FD_RUN/uas.out"); [ -n "$UAS" ] && break
    sleep 0.05
done
[ -n "$UAS" ] || { say "the UAS did not start"; exit 2; }

rules() { # MODE
    cat <<EOF
version: 1
mode: $1
groups:
  - name: Bench
    sites:
      - {id: bench, timezone: UTC, dids: ["15125550100"], default_skill: scheduling,
         max_contacts: 1, fallback: "sip:vm@127.0.0.1:$UAS"}
EOF
}
rules redirect >"$FD_RUN/redirect.yaml"
rules forward >"$FD_RUN/forward.yaml"
for i in $(seq 1 20); do
    build/frontdeskctl --redis "127.0.0.1:$FD_REDIS_PORT" staff add bench "s$i" "sip:s$i@127.0.0.1:$UAS" \
        scheduling:3 available 10 >/dev/null || { say "seeding failed"; exit 2; }
done
# PORT and PIDS (the processes whose CPU is the proxy's) per configuration
declare -A PORT PIDS
CONFIGS="redirect forward"
for m in redirect forward; do
    FD_CONFIG=$FD_RUN/$m.yaml stack_start_proxy "" --offer-window 1 --site-picks 0 --source-rate 0 --log-level warn || { say "$m proxy"; exit 2; }
    PORT[$m]=$FD_SIP_PORT PIDS[$m]=$FD_PROXY_PID
done
if [ -n "$BASE" ]; then
    for m in redirect forward; do
        FD_BIN=$BASE FD_CONFIG=$FD_RUN/$m.yaml stack_start_proxy "" --offer-window 1 --site-picks 0 --source-rate 0 \
            --log-level warn ||
            { say "baseline $m proxy ($BASE)"; exit 2; }
        PORT[base-$m]=$FD_SIP_PORT PIDS[base-$m]=$FD_PROXY_PID
    done
    CONFIGS="$CONFIGS base-redirect base-forward"
fi
if [ "$PEER" = 1 ]; then
    for m in redirect forward; do
        # shellcheck disable=SC2046 # no -A FORWARD in redirect mode
        kam_start "$m" "$FD_ROOT/bench/peers/kamailio-forward.cfg" \
            -A "REDIS_SERVER=\"name=fd;addr=127.0.0.1;port=$FD_REDIS_PORT\"" \
            -A 'STAFF_KEY="fd:{bench}:staff:s1"' $([ "$m" = forward ] && echo -A FORWARD) || exit 2
        PORT[kam-$m]=$KAM_PORT PIDS[kam-$m]="$KAM_PID $KAM_CHILDREN"
    done
    CONFIGS="$CONFIGS kam-redirect kam-forward"
fi

# ns on CPU of PID..., all their threads (schedstat: finer than the 10 ms
# ticks of stat)
cpu_ns() {
    local p
    for p in "$@"; do cat /proc/"$p"/task/*/schedstat; done | awk '{ s += $1 } END { printf "%.0f", s }'
}
# tot FILE KEY: the run's KEY in fd-bench's JSON (in its "total" object
# when it has one, else the first, top-level one)
tot() {
    { sed -n 's/.*"total":{\([^}]*\).*/\1/p' "$1"; cat "$1"; } | grep -o "\"$2\":[0-9]*" | head -n 1 | cut -d: -f2
}
rc=0
declare -A COST SYS
for r in $(seq 1 "$RUNS"); do
    for m in $CONFIGS; do
        # shellcheck disable=SC2086 # one PID per word
        t0=$(cpu_ns ${PIDS[$m]}) r0=$(cpu_ns "$FD_REDIS_PID")
        if [ -n "${FD_FWD_PROFILE:-}" ] && [ "$r" = 1 ] && command -v perf >/dev/null; then
            # shellcheck disable=SC2086 # one PID per word
            pids=$(printf '%s,' ${PIDS[$m]})
            perf record -q -e cpu-clock -F "${FD_FWD_FREQ:-4000}" ${FD_FWD_CALLGRAPH:--g} -p "${pids%,}" -o "$OUT/$m.perf" >/dev/null 2>&1 &
            PROF_PID=$!
        fi
        build/fd-bench run --target "127.0.0.1:${PORT[$m]}" --single-source --rate "$RATE" \
            --count $((RATE * SECONDS_)) --duration $((SECONDS_ + 2)) --to 15125550100 --json \
            >"$OUT/$m-$r.json" 2>"$OUT/$m-$r.err" &
        BENCH_PID=$!
        wait "$BENCH_PID" || rc=1
        BENCH_PID=""
        # shellcheck disable=SC2086 # one PID per word
        t1=$(cpu_ns ${PIDS[$m]}) r1=$(cpu_ns "$FD_REDIS_PID")
        if [ -n "$PROF_PID" ]; then
            kill -INT "$PROF_PID"; wait "$PROF_PID" 2>/dev/null
            PROF_PID=""
            perf report -i "$OUT/$m.perf" --no-children --sort sym --stdio 2>/dev/null | grep -v '^#' | grep '%' | head -40 >"$OUT/$m.profile.txt"
        fi
        ans=$(tot "$OUT/$m-$r.json" answered) wrong=$(tot "$OUT/$m-$r.json" wrong) lost=$(tot "$OUT/$m-$r.json" lost)
        [ "${wrong:-1}" = 0 ] && [ "${lost:-1}" = 0 ] || rc=1
        cost=$(awk -v t=$((t1 - t0)) -v n="${ans:-0}" 'BEGIN { printf "%.1f", n ? t / 1e3 / n : 0 }')
        rcost=$(awk -v t=$((r1 - r0)) -v n="${ans:-0}" 'BEGIN { printf "%.1f", n ? t / 1e3 / n : 0 }')
        COST[$m]="${COST[$m]:-} $cost"
        SYS[$m]="${SYS[$m]:-} $(awk -v a="$cost" -v b="$rcost" 'BEGIN { printf "%.1f", a + b }')"
        printf '%-12s run %d: %s calls answered (%s wrong, %s lost), proxy cpu %s us/call, redis %s\n' "$m" "$r" \
            "${ans:-0}" "${wrong:-?}" "${lost:-?}" "$cost" "$rcost" | tee -a "$OUT/forward.txt"
    done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
# ratio_line PREFIX A B [NAME_A NAME_B]: the medians and their ratio B/A
ratio_line() {
    local a b ratio
    a=$(printf '%s' "${COST[$2]}" | median)
    b=$(printf '%s' "${COST[$3]}" | median)
    ratio=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", (a > 0) ? b / a : 0 }')
    echo "forward: ${1}cpu_us_per_call ${4:-redirect}=$a ${5:-forward}=$b ratio=$ratio" | tee -a "$OUT/forward.txt"
}
[ "$PEER" = 1 ] && ratio_line "kamailio " kam-redirect kam-forward
# the proxy and its Redis together: what a call costs the routing service
# (the shared Redis's CPU during a run is that run's)
sys_line() {
    local a b
    a=$(printf '%s' "${SYS[$1]}" | median)
    b=$(printf '%s' "${SYS[$2]}" | median)
    echo "forward: ${3}with redis cpu_us_per_call redirect=$a forward=$b ratio=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", (a > 0) ? b / a : 0 }')" |
        tee -a "$OUT/forward.txt"
}
[ "$PEER" = 1 ] && sys_line kam-redirect kam-forward "kamailio "
sys_line redirect forward ""
if [ -n "$BASE" ]; then
    ratio_line "baseline redirect " base-redirect redirect base new
    ratio_line "baseline forward " base-forward forward base new
fi
ratio_line "" redirect forward
exit $rc
