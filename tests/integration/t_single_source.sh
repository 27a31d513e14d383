#!/usr/bin/env bash
# One PBX trunk (one source address and port) is still spread over all
# workers: a burst of INVITEs from one socket is read by both.
. "$(dirname "$0")/lib.sh"
stack_start_redis && stack_seed_demo && stack_start_proxy "" --workers 2 --source-rate 0 || exit 1 # a burst of 600 from one source: no rate limit
# 600 copies of one INVITE from one source port: each is answered (from the
# recorded decision after the first). They arrive while the proxy is
# stopped (SIGSTOP), so they wait queued, as a busy trunk's do, whatever
# the speed of this machine: the first worker's first read is a full
# batch, and it wakes the second.
kill -STOP "$FD_PROXY_PID"
sip invite.sip trunk-1 --repeat 600 --expect 600 --timeout-ms 4000 >"$FD_RUN/burst.out" &
burst=$!
sleep 0.5
kill -CONT "$FD_PROXY_PID"
wait "$burst"
out=$(cat "$FD_RUN/burst.out")
n=$(printf '%s\n' "$out" | grep -c '^SIP/2.0 302')
check "all 600 answered ($n)" [ "$n" = 600 ]
stack_stop
share=$(sed -n 's/.*rx_per_worker=\([0-9,]*\).*/\1/p' "$FD_PROXY_LOG")
a=${share%,*}; b=${share#*,}
check "both workers read from the single source ($share)" eval '[ "${a:-0}" -gt 0 ] && [ "${b:-0}" -gt 0 ]'
finish
