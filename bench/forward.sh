#!/usr/bin/env bash
# forward.sh -- `make bench-forward`: what forward mode costs per call
# compared with redirect mode, measured side by side in one run.
#
# One Redis, one downstream UAS (build/tests/uas, answering every INVITE
# 100 + 302 at once), and two Frontdesks with two workers each on the same
# rules but for `mode:`: one answers 302 itself (redirect), the other
# relays the INVITE to the picked staff member's phone (the UAS) and its
# answers back (forward). Both make the same Redis pick per call (20 staff
# whose contacts are the UAS; --offer-window 1 so picks keep finding free
# staff). Each run sends the same paced load (RATE calls/s for SECONDS,
# one source address and port, ACK after each final answer) to one proxy
# and then the other, RUNS times interleaved; a run's cost is the proxy's
# CPU time (all threads, /proc/PID/task/*/schedstat) divided by the calls
# answered. The last line is the ratio of the medians:
#
#   forward: cpu_us_per_call redirect=A forward=B ratio=B/A
#
# A forward call handles 8 datagrams at the proxy (INVITE in and out, 100
# and 302 in and out, ACK in and out) where a redirect call handles 3
# (INVITE in, 302 out, ACK in); the Redis pick is the same.
#
# Environment: FD_FWD_RUNS=3 (1-9), FD_FWD_RATE=2000 (calls/s, 100-20000),
# FD_FWD_SECONDS=5 (1-30); FD_FWD_PROFILE=1: perf (cpu-clock) on each
# proxy during the first run, top symbols in build/bench/forward/*.profile.txt. Starts its processes under run/bench-forward/
# and stops them by PID on exit, Ctrl-C included. Results in
# build/bench/forward/. Exit 0 when every run answered every call right, 1
# otherwise, 2 when it could not run.
set -u
cd "$(dirname "$0")/.." || exit 2
FD_ROOT=$PWD
FD_RUN=$FD_ROOT/run/bench-forward
OUT=$FD_ROOT/build/bench/forward
RUNS=${FD_FWD_RUNS:-3} RATE=${FD_FWD_RATE:-2000} SECONDS_=${FD_FWD_SECONDS:-5}
say() { echo "forward: $*" >&2; }
for v in RUNS RATE SECONDS_; do
    case ${!v} in ''|*[!0-9]*) say "FD_FWD_${v%_} must be a number"; exit 2;; esac
done
{ [ "$RUNS" -ge 1 ] && [ "$RUNS" -le 9 ]; } || { say "FD_FWD_RUNS: 1 to 9"; exit 2; }
{ [ "$RATE" -ge 100 ] && [ "$RATE" -le 20000 ]; } || { say "FD_FWD_RATE: 100 to 20000"; exit 2; }
{ [ "$SECONDS_" -ge 1 ] && [ "$SECONDS_" -le 30 ]; } || { say "FD_FWD_SECONDS: 1 to 30"; exit 2; }
for b in build/fd-bench build/frontdesk build/frontdeskctl build/tests/uas; do
    [ -x "$b" ] || { say "$b is missing: run make first"; exit 2; }
done
rm -rf "$FD_RUN" "$OUT"; mkdir -p "$FD_RUN" "$OUT"
. "$FD_ROOT/deploy/stack.sh"
trap 'stack_stop' EXIT
trap 'exit 130' INT TERM

stack_start_redis && stack_load_functions || { say "redis did not start"; exit 2; }
build/tests/uas --listen 127.0.0.1:0 --name phone --invite 302 --max-seconds $((RUNS * SECONDS_ * 4 + 120)) \
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
declare -A PORT PID
for m in redirect forward; do
    FD_CONFIG=$FD_RUN/$m.yaml stack_start_proxy "" --offer-window 1 --log-level warn || { say "$m proxy"; exit 2; }
    PORT[$m]=$FD_SIP_PORT PID[$m]=$FD_PROXY_PID
done

# ns on CPU, all threads (schedstat: finer than the 10 ms ticks of stat)
cpu_ns() { cat /proc/"$1"/task/*/schedstat | awk '{ s += $1 } END { printf "%.0f", s }'; }
rc=0
declare -A COST
for r in $(seq 1 "$RUNS"); do
    for m in redirect forward; do
        t0=$(cpu_ns "${PID[$m]}")
        prof=""
        if [ -n "${FD_FWD_PROFILE:-}" ] && [ "$r" = 1 ] && command -v perf >/dev/null; then
            perf record -q -e cpu-clock -F 4000 -g -p "${PID[$m]}" -o "$OUT/$m.perf" >/dev/null 2>&1 &
            prof=$!
        fi
        build/fd-bench run --target "127.0.0.1:${PORT[$m]}" --single-source --rate "$RATE" \
            --count $((RATE * SECONDS_)) --duration $((SECONDS_ + 2)) --to 15125550100 --json \
            >"$OUT/$m-$r.json" 2>"$OUT/$m-$r.err" || rc=1
        t1=$(cpu_ns "${PID[$m]}")
        if [ -n "$prof" ]; then
            kill -INT "$prof"; wait "$prof" 2>/dev/null
            perf report -i "$OUT/$m.perf" --no-children --sort sym --stdio 2>/dev/null | grep -v '^#' | grep '%' | head -40 >"$OUT/$m.profile.txt"
        fi
        ans=$(sed -n 's/.*"total":{[^}]*"answered":\([0-9]*\).*/\1/p' "$OUT/$m-$r.json")
        [ -n "$ans" ] || ans=$(grep -o '"answered":[0-9]*' "$OUT/$m-$r.json" | head -1 | cut -d: -f2)
        wrong=$(grep -o '"wrong":[0-9]*' "$OUT/$m-$r.json" | head -1 | cut -d: -f2)
        cost=$(awk -v t=$((t1 - t0)) -v n="${ans:-0}" 'BEGIN { printf "%.1f", n ? t / 1e3 / n : 0 }')
        COST[$m]="${COST[$m]:-} $cost"
        printf '%-8s run %d: %s calls answered (%s wrong), proxy cpu %s us/call\n' "$m" "$r" "${ans:-0}" "${wrong:-?}" "$cost" |
            tee -a "$OUT/forward.txt"
    done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
a=$(printf '%s' "${COST[redirect]}" | median)
b=$(printf '%s' "${COST[forward]}" | median)
ratio=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", (a > 0) ? b / a : 0 }')
echo "forward: cpu_us_per_call redirect=$a forward=$b ratio=$ratio" | tee -a "$OUT/forward.txt"
exit $rc
