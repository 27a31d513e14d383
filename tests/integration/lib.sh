#!/usr/bin/env bash
# Shared by the integration scenarios: a private stack (deploy/stack.sh)
# under run/tests/<scenario>/, SIP helpers and assertions. Each scenario
# sources this, starts what it needs and calls `finish` at the end; the
# EXIT trap stops every process it started, by PID.
set -u
FD_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
T_NAME=$(basename "$0" .sh)
FD_RUN=$FD_ROOT/run/tests/$T_NAME.d
rm -rf "$FD_RUN"; mkdir -p "$FD_RUN"
. "$FD_ROOT/deploy/stack.sh"
SIPSEND=$FD_ROOT/build/tests/sipsend
CTL=$FD_ROOT/build/frontdeskctl
# The rules' clock, fixed so that scenarios do not depend on the hour they
# run at: Tuesday 2026-12-01 10:00 in Austin, 09:00 in Denver (every demo
# site open). A scenario may export another before starting the proxy.
export FRONTDESK_FAKE_TIME=${FRONTDESK_FAKE_TIME:-2026-12-01T16:00:00Z}
export FRONTDESK_CALLER_KEY=${FRONTDESK_CALLER_KEY:-$FD_DEMO_CALLER_KEY}
# Scenarios that are not about the deadline give Redis a generous one, so a
# loaded machine does not turn a pick into a fallback (t_redis_down sets its
# own 50 ms with --redis-timeout)
FD_REDIS_TIMEOUT=${FD_REDIS_TIMEOUT:-1000}
SIPDIR=$FD_ROOT/tests/integration/sip
T_PASS=0 T_FAIL=0
trap 'stack_stop' EXIT

ok()   { T_PASS=$((T_PASS + 1)); echo "  ok: $*"; }
bad()  { T_FAIL=$((T_FAIL + 1)); echo "  NOT OK: $*"; }
check() { # description command...
    local d=$1; shift
    if "$@"; then ok "$d"; else bad "$d"; fi
}
has()   { printf '%s\n' "$1" | grep -qE -- "$2"; }
# proxy_reload: SIGHUP the proxy and wait (up to 5 s) until it logs that
# the rules were reloaded, or that they were not (a broken file); 1 if
# neither came
proxy_reload() {
    local n i
    n=$(grep -cE 'msg="rules (not )?reloaded"' "$FD_PROXY_LOG")
    kill -HUP "$FD_PROXY_PID"
    for i in $(seq 1 100); do
        [ "$(grep -cE 'msg="rules (not )?reloaded"' "$FD_PROXY_LOG")" -gt "$n" ] && return 0
        sleep 0.05
    done
    return 1
}
# log_has FILE PATTERN: FILE has a line matching PATTERN (grep -E), polled
# up to 5 s: what another process logs comes when it comes
log_has() {
    local i
    for i in $(seq 1 100); do
        grep -qE -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}
# call_hash CALLID: what the logs and Redis key names write for that
# Call-ID (frontdeskctl call-hash, keyed as the proxy's)
call_hash() { "$CTL" call-hash "$1"; }
# route_line CALLID: the proxy's log line for that call, polled up to 5 s
# (log lines of a quiet proxy leave at once; under load within 50 ms)
route_line() {
    local i l h
    h=$(call_hash "$1")
    for i in $(seq 1 100); do
        l=$(grep -F "msg=\"route\" call=\"$h\"" "$FD_PROXY_LOG" | head -n 1)
        [ -n "$l" ] && { printf '%s\n' "$l"; return 0; }
        sleep 0.05
    done
    return 1
}
hasnt() { ! printf '%s\n' "$1" | grep -qE -- "$2"; }
finish() {
    echo "$T_NAME: $T_PASS passed, $T_FAIL failed"
    [ "$T_FAIL" -eq 0 ] && [ "$T_PASS" -gt 0 ]
}

# sip TEMPLATE CALLID [sipsend flags...]: send tests/integration/sip/TEMPLATE
# with CALLID substituted, and CALLER (the last digits of the caller's number: a
# different caller each call unless $CALLER is set); prints the answers (LF
# line ends, "--" after each).
sip() {
    local tpl=$1 cid=$2 caller=${CALLER:-$((100000 + (RANDOM * 32768 + RANDOM) % 900000))}; shift 2
    sed -e "s/CALLID/$cid/g" -e "s/CALLER/$caller/g" "$SIPDIR/$tpl" |
        "$SIPSEND" --to "127.0.0.1:$FD_SIP_PORT" "$@" -
}
# sip_raw TEXT [sipsend flags]: send TEXT as the request
sip_raw() { # (command substitution strips the final empty line: put it back)
    local text=$1; shift
    printf '%s\n\n' "$text" | "$SIPSEND" --to "127.0.0.1:$FD_SIP_PORT" "$@" -
}
status_of() { printf '%s\n' "$1" | head -n 1 | cut -d' ' -f2; }
contacts_of() { printf '%s\n' "$1" | sed -n 's/^Contact: <\([^>]*\)>.*/\1/p'; }
first_contact() { contacts_of "$1" | head -n 1; }
now_ms() { date +%s%3N; }

# proxy_at TIME [flags...]: (re)start the proxy with the rules' clock at TIME
proxy_at() {
    local t=$1; shift
    if [ -n "${FD_PROXY_PID:-}" ]; then
        kill "$FD_PROXY_PID" 2>/dev/null; wait "$FD_PROXY_PID" 2>/dev/null
        FD_PIDS=${FD_PIDS/ $FD_PROXY_PID/}
    fi
    FRONTDESK_FAKE_TIME=$t stack_start_proxy "" "$@"
}
# call NUMBER [CALLID]: an INVITE to sip:NUMBER@127.0.0.1, the answer
call() {
    sed -e "s/15125550100\*2/$1/" -e "s/15125550100@/${1%%\**}@/" "$SIPDIR/invite.sip" |
        sed -e "s/CALLID/${2:-c$RANDOM$RANDOM}/g" -e "s/CALLER/${CALLER:-$((100000 + (RANDOM * 32768 + RANDOM) % 900000))}/g" |
        "$SIPSEND" --to "127.0.0.1:$FD_SIP_PORT" -
}
# wait_ready [SECONDS]: until the proxy's /readyz says ready (every worker's
# Redis connection ready), at most SECONDS (default 5)
wait_ready() {
    local i
    for i in $(seq 1 $((${1:-5} * 10))); do
        stack_http "$FD_ADMIN_PORT" /readyz 2>/dev/null | grep -q '^ready$' && return 0
        sleep 0.1
    done
    return 1
}

# The test UAS (build/tests/uas), the downstream target of forward mode.
UAS=$FD_ROOT/build/tests/uas
# uas_start NAME [flags...]: on a free port (--listen 127.0.0.1:0 unless
# flags give one, e.g. --listen [::1]:0); sets UAS_PORT, UAS_PID and
# UAS_LOG, records the PID
uas_start() {
    local name=$1 out i listen=127.0.0.1:0; shift
    case " $* " in *" --listen "*) listen="" ;; esac
    out=$FD_RUN/uas-$name.out UAS_LOG=$FD_RUN/uas-$name.log UAS_PORT=""
    : >"$out" # read below before the background job may have opened it
    "$UAS" ${listen:+--listen "$listen"} --name "$name" --log "$UAS_LOG" \
        --pidfile "$FD_RUN/uas-$name.pid" --max-seconds 60 "$@" >"$out" 2>&1 &
    UAS_PID=$!
    FD_PIDS="$FD_PIDS $UAS_PID"
    for i in $(seq 1 50); do
        UAS_PORT=$(sed -n 's/^listening \(127\.[0-9.]*\|\[::1\]\):\([0-9]*\)$/\2/p' "$out")
        [ -n "$UAS_PORT" ] && return 0
        kill -0 "$UAS_PID" 2>/dev/null || break
        sleep 0.05
    done
    cat "$out" >&2
    return 1
}
# uas_stop [PID]: SIGTERM to that UAS (default: the last one started); its
# exit status
uas_stop() {
    local rc pid=${1:-$UAS_PID}
    kill "$pid" 2>/dev/null
    wait "$pid"; rc=$?
    FD_PIDS=${FD_PIDS/ $pid/}
    return $rc
}
# statuses TEXT: the status codes of the answers sipsend printed, in order
statuses() { printf '%s\n' "$1" | sed -n 's/^SIP\/2\.0 \([0-9]*\) .*/\1/p' | tr '\n' ' '; }
# status_set TEXT: the same, sorted: a stateless proxy with several workers
# may relay a call's answers in another order than they were sent (UDP)
status_set() { statuses "$1" | tr ' ' '\n' | grep . | sort -n | tr '\n' ' '; }

# The test name server (build/tests/dnsd): A and SRV records for destinations given
# by name; also a client (dnsd --query NAME[:TYPE] --server ADDR:PORT).
DNSD=$FD_ROOT/build/tests/dnsd
# dnsd_start NAME [flags...]: on a free port; sets DNSD_PORT, DNSD_PID and
# DNSD_LOG, records the PID
dnsd_start() {
    local name=$1 out; shift
    out=$FD_RUN/dnsd-$name.out DNSD_LOG=$FD_RUN/dnsd-$name.log DNSD_PORT=""
    : >"$out" # read below before the background job may have opened it
    "$DNSD" --listen 127.0.0.1:0 --log "$DNSD_LOG" --pidfile "$FD_RUN/dnsd-$name.pid" \
        --max-seconds 60 "$@" >"$out" 2>"$FD_RUN/dnsd-$name.err" &
    DNSD_PID=$!
    FD_PIDS="$FD_PIDS $DNSD_PID"
    for _ in $(seq 1 50); do
        DNSD_PORT=$(sed -n 's/^listening 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$out")
        [ -n "$DNSD_PORT" ] && return 0
        kill -0 "$DNSD_PID" 2>/dev/null || break
        sleep 0.05
    done
    cat "$out" "$FD_RUN/dnsd-$name.err" >&2
    return 1
}
# dnsd_stop [PID]: SIGTERM to that name server (default: the last one
# started); its exit status
dnsd_stop() {
    local rc pid=${1:-$DNSD_PID}
    kill "$pid" 2>/dev/null
    wait "$pid"; rc=$?
    FD_PIDS=${FD_PIDS/ $pid/}
    return $rc
}
# dnsq NAME[:TYPE] [flags...]: ask the last name server started; prints the
# answer ("IP ttl=N", NXDOMAIN, NODATA) and the exit status, e.g.
# "192.0.2.7 ttl=60 rc=0"
dnsq() {
    local q=$1 out rc; shift
    out=$("$DNSD" --query "$q" --server "127.0.0.1:$DNSD_PORT" "$@" 2>&1); rc=$?
    echo "$out rc=$rc"
}
